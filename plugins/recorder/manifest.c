/*
 * manifest.json: the recording's summary (docs/recording.md has the format),
 * rebuilt from the recording's state and replaced atomically (written to a
 * temporary file, synced, renamed), so a reader, or a server killed at any
 * moment, sees either the previous manifest or the new one, never half.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "recorder_internal.h"

static json_t *ms_or_null(int64_t ms)
{
    return ms >= 0 ? json_integer(ms) : json_null();
}

static void iso_time(int64_t wall_ms, char *out, size_t cap)
{
    time_t sec = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%03dZ", (int)(wall_ms % 1000));
}

static json_t *track_json(weir_recording_track *t)
{
    weir_recording_track_stats st;
    wrec_track_stats(t, &st);
    json_t *mutes = json_array(), *layers = json_array();
    pthread_mutex_lock(&t->stats_lock);
    int64_t start = t->start_ms, end = t->end_ms;
    for (size_t i = 0; i < t->n_mutes; i++)
        json_array_append_new(mutes,
                              json_pack("{s:I, s:o}", "from_ms", (json_int_t)t->mutes[i].from_ms,
                                        "to_ms", ms_or_null(t->mutes[i].to_ms)));
    for (size_t i = 0; i < t->n_layers; i++)
        json_array_append_new(
            layers, json_pack("{s:I, s:i, s:i}", "t_ms", (json_int_t)t->layers[i].t_ms, "width",
                              (int)t->layers[i].width, "height", (int)t->layers[i].height));
    pthread_mutex_unlock(&t->stats_lock);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:I}", "id",
        t->track, "participant", t->participant, "display", t->display, "role", t->role, "kind",
        t->kind, "source", t->source, "codec", t->codec_name, "file", t->file, "start_ms",
        ms_or_null(start), "end_ms", ms_or_null(end), "frames", (json_int_t)st.frames_written,
        "bytes", (json_int_t)st.bytes_written, "frames_dropped", (json_int_t)st.frames_dropped,
        "queue_drops", (json_int_t)st.queue_drops, "packets", (json_int_t)st.packets);
    if (t->video && t->width) {
        json_object_set_new(j, "width", json_integer(t->width));
        json_object_set_new(j, "height", json_integer(t->height));
    }
    json_object_set_new(j, "error", st.error[0] ? json_string(st.error) : json_null());
    json_object_set_new(j, "mutes", mutes);
    json_object_set_new(j, "layers", layers);
    return j;
}

static json_t *build(weir_recording *rec, const char *state)
{
    char started_at[40];
    iso_time(rec->started_wall_ms, started_at, sizeof started_at);
    json_t *participants = json_array();
    for (size_t i = 0; i < rec->n_participants; i++) {
        const wrec_participant *p = &rec->participants[i];
        json_array_append_new(participants, json_pack("{s:s, s:s, s:s, s:I, s:o}", "id", p->id,
                                                      "display", p->display, "role", p->role,
                                                      "joined_ms", (json_int_t)p->joined_ms,
                                                      "left_ms", ms_or_null(p->left_ms)));
    }
    json_t *tracks = json_array();
    for (weir_recording_track *t = rec->tracks; t; t = t->next)
        json_array_append_new(tracks, track_json(t));
    json_t *m =
        json_pack("{s:s, s:i, s:s, s:s, s:s, s:s, s:I, s:s}", "format", "weir-recording", "version",
                  1, "id", rec->id, "room", rec->room, "state", state, "started_at", started_at,
                  "started_wall_ms", (json_int_t)rec->started_wall_ms, "started_by", rec->by);
    if (rec->duration_ms >= 0)
        json_object_set_new(m, "duration_ms", json_integer(rec->duration_ms));
    json_object_set_new(m, "participants", participants);
    json_object_set_new(m, "tracks", tracks);
    json_object_set_new(m, "timeline", json_string("timeline.jsonl"));
    return m;
}

int wrec_manifest_write(weir_recording *rec, const char *state, char *err, size_t err_len)
{
    json_t *m = build(rec, state);
    char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(m);
    if (!text) {
        snprintf(err, err_len, "manifest: out of memory");
        return -1;
    }
    char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
    snprintf(tmp, sizeof tmp, "%s/.manifest.json.tmp", rec->dir);
    snprintf(path, sizeof path, "%s/manifest.json", rec->dir);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t len = strlen(text), off = 0;
        while (off < len) {
            ssize_t n = write(fd, text + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        if (off == len && write(fd, "\n", 1) == 1 && fdatasync(fd) == 0)
            rc = 0;
        int saved = errno;
        close(fd);
        errno = saved;
    }
    if (rc == 0 && rename(tmp, path) < 0)
        rc = -1;
    if (rc < 0) {
        snprintf(err, err_len, "manifest %s: %s", path, strerror(errno));
        unlink(tmp);
    }
    free(text);
    return rc;
}
