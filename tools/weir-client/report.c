#include "report.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static json_int_t get_int(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

static bool add(json_t *list, const char *name, bool ok, const char *detail)
{
    json_array_append_new(list,
                          json_pack("{s:s, s:b, s:s}", "name", name, "ok", ok, "detail", detail));
    return ok;
}

/* Every subscribed track of kind has key >= min (or <= max when at_most). */
static bool check_tracks(json_t *list, const char *name, const json_t *subscribed, const char *kind,
                         const char *key, long limit, bool at_most)
{
    char detail[512] = "";
    size_t n = 0, bad = 0, i;
    json_t *t;
    json_array_foreach(subscribed, i, t) {
        if (strcmp(json_string_value(json_object_get(t, "kind")) ?: "", kind) != 0)
            continue;
        n++;
        json_int_t v = get_int(t, key);
        if (at_most ? v > limit : v < limit) {
            bad++;
            size_t used = strlen(detail);
            snprintf(detail + used, sizeof detail - used, "%strack %s: %s %lld", used ? "; " : "",
                     json_string_value(json_object_get(t, "track")) ?: "?", key, (long long)v);
        }
    }
    if (n == 0) {
        snprintf(detail, sizeof detail, "no %s track was received", kind);
        return add(list, name, false, detail);
    }
    if (bad == 0)
        snprintf(detail, sizeof detail, "%zu %s track(s), every one with %s %s %ld", n, kind, key,
                 at_most ? "<=" : ">=", limit);
    return add(list, name, bad == 0, detail);
}

static bool check_published(json_t *list, const char *name, const json_t *published,
                            const char *key, long min)
{
    char detail[200];
    if (!json_is_object(published)) {
        snprintf(detail, sizeof detail, "nothing was published");
        return add(list, name, false, detail);
    }
    json_int_t v = get_int(published, key);
    snprintf(detail, sizeof detail, "published %s %lld (want >= %ld)", key, (long long)v, min);
    return add(list, name, v >= min, detail);
}

/* Sum of an integer member over the data channels. */
static json_int_t sum_channels(const json_t *dc, const char *key)
{
    json_int_t n = 0;
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(dc, "channels"), i, c) {
        n += get_int(c, key);
    }
    return n;
}

/*
 * --dc-expect-messages N: enough stamped messages, each channel's seqs
 * strictly increasing without a gap, history before anything live, and
 * every op we sent came back (in order, once).
 */
static bool check_dc_messages(json_t *list, const json_t *dc, long want)
{
    char detail[300];
    if (!json_is_object(dc))
        return add(list, "dc_messages", false, "no data channels");
    json_int_t got = sum_channels(dc, "stamped");
    snprintf(detail, sizeof detail, "%lld stamped messages received (want >= %ld)", (long long)got,
             want);
    bool ok = add(list, "dc_messages", got >= want, detail);
    json_int_t gaps = sum_channels(dc, "gaps"), order = sum_channels(dc, "order_errors");
    snprintf(detail, sizeof detail, "seq gaps %lld, out of order %lld", (long long)gaps,
             (long long)order);
    ok &= add(list, "dc_seq_order", gaps == 0 && order == 0, detail);
    json_int_t late = sum_channels(dc, "history_late");
    snprintf(detail, sizeof detail, "%lld history message(s) after a live one", (long long)late);
    ok &= add(list, "dc_history_first", late == 0, detail);
    const json_t *own = json_object_get(dc, "own");
    json_int_t sent = get_int(own, "sent"), missing = get_int(own, "missing"),
               dup = get_int(own, "duplicates"), ooo = get_int(own, "out_of_order");
    snprintf(detail, sizeof detail,
             "own ops sent %lld, not echoed %lld, echoed twice %lld, out of order %lld",
             (long long)sent, (long long)missing, (long long)dup, (long long)ooo);
    ok &= add(list, "dc_own_echoed", missing == 0 && dup == 0 && ooo == 0, detail);
    return ok;
}

static bool check_dc_history(json_t *list, const json_t *dc, long want)
{
    char detail[200];
    json_int_t got = json_is_object(dc) ? sum_channels(dc, "history") : 0;
    json_int_t late = json_is_object(dc) ? sum_channels(dc, "history_late") : 0;
    snprintf(detail, sizeof detail, "%lld history message(s), %lld after a live one (want >= %ld)",
             (long long)got, (long long)late, want);
    return add(list, "dc_history", got >= want && late == 0, detail);
}

bool wc_report_check(json_t *report, const wc_options *o)
{
    json_t *list = json_array();
    const json_t *sub = json_object_get(report, "subscribed");
    const json_t *pub = json_object_get(report, "published");
    bool ok = true;
    if (o->expect_video_frames >= 0)
        ok &= o->subscribe ? check_tracks(list, "video_frames", sub, "video", "frames_decoded",
                                          o->expect_video_frames, false)
                           : check_published(list, "video_frames", pub, "video_frames",
                                             o->expect_video_frames);
    if (o->expect_audio_frames >= 0)
        ok &= o->subscribe ? check_tracks(list, "audio_frames", sub, "audio", "frames_decoded",
                                          o->expect_audio_frames, false)
                           : check_published(list, "audio_frames", pub, "audio_frames",
                                             o->expect_audio_frames);
    if (o->expect_tracks >= 0) {
        size_t n = 0, i;
        json_t *t;
        json_array_foreach(sub, i, t) {
            n += get_int(t, "frames_decoded") > 0;
        }
        char detail[160];
        snprintf(detail, sizeof detail, "%zu track(s) decoded at least one frame (want >= %ld)", n,
                 o->expect_tracks);
        ok &= add(list, "tracks", (long)n >= o->expect_tracks, detail);
    }
    if (o->expect_max_freeze_ms >= 0)
        ok &= check_tracks(list, "max_freeze_ms", sub, "video", "max_gap_ms",
                           o->expect_max_freeze_ms, true);
    const json_t *dc = json_object_get(report, "datachannel");
    if (o->dc_expect_messages >= 0)
        ok &= check_dc_messages(list, dc, o->dc_expect_messages);
    if (o->dc_expect_history >= 0)
        ok &= check_dc_history(list, dc, o->dc_expect_history);
    json_object_set_new(report, "expectations", list);
    json_object_set_new(report, "ok", json_boolean(ok));
    return ok;
}

int wc_report_write(const json_t *report, const char *path, char *err, size_t err_len)
{
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!text) {
        snprintf(err, err_len, "report: cannot serialize");
        return -EINVAL;
    }
    int rc = 0;
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) {
        rc = -errno;
        snprintf(err, err_len, "report: cannot open %s: %s", path, strerror(errno));
    } else {
        if (fprintf(f, "%s\n", text) < 0 || fflush(f) != 0) {
            rc = -EIO;
            snprintf(err, err_len, "report: cannot write %s", path);
        }
        if (!to_stdout && fclose(f) != 0 && rc == 0) {
            rc = -EIO;
            snprintf(err, err_len, "report: cannot write %s", path);
        }
    }
    free(text);
    return rc;
}
