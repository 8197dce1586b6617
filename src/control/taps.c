/*
 * RTP taps, control side (taps.h): validation, ids, the allowlist check,
 * SRTP keys, the SDP, the TAP_START/TAP_STOP commands to the producer's
 * worker, the end of a tap with its tracks, and what the admin API and
 * /metrics show.
 */
#define WEIR_LOG_MODULE "control.taps"
#include "control/taps.h"

#include <arpa/inet.h>
#include <glib.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/control.h"
#include "control/media.h"
#include "control/tap_allow.h"
#include "control/tap_sdp.h"
#include "weir/alloc.h"
#include "weir/log.h"

enum { E_FORBIDDEN = 403, E_NOT_FOUND = 404, E_UNAVAILABLE = 503, E_PARAMS = -32602 };

#define TAP_ID_LEN 12

_Static_assert(sizeof(((weir_worker_tap *)0)->srtp_key) == WEIR_TAP_SRTP_KEY_LEN,
               "the worker's SRTP key is the SDP's key || salt");

typedef struct tap_stream {
    uint32_t handle;
    char track_id[WEIR_TRACK_ID_LEN + 1];
    int worker;
    bool audio;
    uint16_t port, rtcp_port;
    uint32_t ssrc;
    uint64_t packets, bytes, rtcp_received; /* last reported */
} tap_stream;

typedef struct ctl_tap {
    char id[TAP_ID_LEN + 1];
    uint64_t num; /* the workers' name for it */
    char room_id[WEIR_ROOM_ID_MAX + 1];
    char host[INET6_ADDRSTRLEN];
    char started_by[WEIR_PARTICIPANT_ID_LEN + 1];
    bool srtp;
    int64_t started_ms;
    tap_stream streams[WEIR_TAP_SDP_MAX_MEDIA];
    size_t n_streams;
} ctl_tap;

typedef struct taps {
    GPtrArray *list; /* ctl_tap*, owned */
    weir_tap_allow allow;
    uint64_t next_num;
    weir_taps_stats stats; /* .active is computed */
} taps;

static taps *state(weir_control *ctl)
{
    if (!ctl->taps) {
        taps *ts = WEIR_NEW(taps);
        ts->list = g_ptr_array_new_with_free_func(weir_free);
        /* The config was validated at start: a list that fails here allows nothing. */
        if (weir_tap_allow_parse(ctl->cfg->taps_allow, &ts->allow, NULL, 0) < 0)
            WEIR_LOG_ERROR("taps_allow_invalid: no host is allowed");
        ctl->taps = ts;
    }
    return ctl->taps;
}

static ctl_tap *find_tap(taps *ts, const char *room_id, const char *id)
{
    for (guint i = 0; i < ts->list->len; i++) {
        ctl_tap *t = g_ptr_array_index(ts->list, i);
        if (strcmp(t->id, id) == 0 && (!room_id || strcmp(t->room_id, room_id) == 0))
            return t;
    }
    return NULL;
}

/* ---- which tracks ---- */

/* A participant's tap: its first video track (camera before screen) and its first audio. */
static size_t participant_tracks(const weir_participant *owner, weir_track **out)
{
    weir_track *video = NULL, *audio = NULL;
    for (size_t k = 0; owner->media && k < owner->media->n_tracks; k++) {
        weir_track *t = owner->media->tracks[k];
        if (t->kind == WEIR_SDP_AUDIO && !audio)
            audio = t;
        else if (t->kind == WEIR_SDP_VIDEO && (!video || (video->source == WEIR_SOURCE_SCREEN &&
                                                          t->source != WEIR_SOURCE_SCREEN)))
            video = t;
    }
    size_t n = 0;
    if (video)
        out[n++] = video;
    if (audio)
        out[n++] = audio;
    return n;
}

static int pick_tracks(weir_control *ctl, weir_participant *p, const json_t *params,
                       weir_track **out, size_t *n, char *err, size_t errlen)
{
    const char *track_id = json_string_value(json_object_get(params, "track"));
    if (track_id) {
        weir_track *t = weir_media_find_track(ctl, p->room, track_id);
        if (!t) {
            snprintf(err, errlen, "tap_start: no such track in this room");
            return E_NOT_FOUND;
        }
        out[0] = t;
        *n = 1;
        return 0;
    }
    const char *pid = json_string_value(json_object_get(params, "participant"));
    weir_participant *owner = weir_room_find(p->room, pid);
    if (!owner) {
        snprintf(err, errlen, "tap_start: no such participant in this room");
        return E_NOT_FOUND;
    }
    *n = participant_tracks(owner, out);
    if (!*n) {
        snprintf(err, errlen, "tap_start: that participant publishes no track");
        return E_NOT_FOUND;
    }
    return 0;
}

/* ---- checks ---- */

static int check_host(taps *ts, const char *host, weir_tap_addr *addr, char *err, size_t errlen)
{
    if (weir_tap_addr_parse(host, addr) < 0) {
        snprintf(err, errlen, "host: expected an IPv4 or IPv6 address, got \"%.64s\"", host);
        return E_PARAMS;
    }
    if (!weir_tap_allow_match(&ts->allow, addr)) {
        ts->stats.refused_host++;
        snprintf(err, errlen, "tap_start: host %.64s is not allowed by the server ([taps] allow)",
                 host);
        return E_FORBIDDEN;
    }
    return 0;
}

/* Stream i's RTP and RTCP ports: the first on port (RTCP rtcp_port or port+1), the next +2. */
static int assign_ports(const json_t *params, size_t n, uint16_t *rtp, uint16_t *rtcp, char *err,
                        size_t errlen)
{
    json_int_t port = json_integer_value(json_object_get(params, "port"));
    const json_t *jr = json_object_get(params, "rtcp_port");
    /* The highest port the tap uses: the last stream's RTCP (port+1 for a lone stream unless
     * rtcp_port moves it). */
    json_int_t last = port + 2 * (json_int_t)(n - 1) + (n == 1 && jr ? 0 : 1);
    if (last > 65535) {
        snprintf(err, errlen, "port: %lld leaves no room for %s (needs up to %lld)",
                 (long long)port, n > 1 ? "the second stream and RTCP" : "RTCP on port+1",
                 (long long)last);
        return E_PARAMS;
    }
    for (size_t i = 0; i < n; i++) {
        rtp[i] = (uint16_t)(port + 2 * (json_int_t)i);
        rtcp[i] = (uint16_t)(rtp[i] + 1);
    }
    if (jr)
        rtcp[0] = (uint16_t)json_integer_value(jr);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++)
            if (rtcp[i] == rtp[k] || (i != k && (rtp[i] == rtp[k] || rtcp[i] == rtcp[k]))) {
                snprintf(err, errlen, "rtcp_port: %u collides with an RTP or RTCP port of the tap",
                         (unsigned)rtcp[i]);
                return E_PARAMS;
            }
    return 0;
}

/* The optional `layer` param (unknown to the method table's schema, so checked here). */
static int read_layer(const json_t *params, int *layer, char *err, size_t errlen)
{
    const json_t *v = json_object_get(params, "layer");
    *layer = -1;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 2) {
        snprintf(err, errlen, "layer: expected an integer 0..2");
        return E_PARAMS;
    }
    *layer = (int)json_integer_value(v);
    return 0;
}

/* ---- start ---- */

static weir_worker_tap *stream_command(weir_control *ctl, const ctl_tap *tap, const weir_track *t,
                                       const tap_stream *s, const weir_tap_addr *addr, int layer,
                                       const uint8_t *key)
{
    weir_worker_tap *w = WEIR_NEW(weir_worker_tap);
    w->tap_id = tap->num;
    w->handle = t->handle;
    w->audio = t->kind == WEIR_SDP_AUDIO;
    w->codec = t->codec;
    w->clock_rate_hz = t->clock_rate_hz;
    w->n_layers = (uint8_t)(t->n_rids ? t->n_rids : 1);
    w->layer = w->audio ? -1 : layer;
    w->in_pt = t->pt;
    w->pt = (uint8_t)t->pt;
    w->ssrc = s->ssrc;
    w->family = addr->family == 4 ? AF_INET : AF_INET6;
    memcpy(w->addr, addr->bytes, sizeof w->addr);
    w->rtp_port = s->port;
    w->rtcp_port = s->rtcp_port;
    w->keyframe_interval_ms = (uint32_t)ctl->cfg->taps_keyframe_interval_ms;
    w->srtp = key != NULL;
    if (key)
        memcpy(w->srtp_key, key, WEIR_TAP_SRTP_KEY_LEN);
    return w;
}

static void send_stop(weir_control *ctl, const ctl_tap *tap, const tap_stream *s)
{
    if (s->worker < 0 || s->worker >= ctl->n_workers)
        return;
    weir_worker_tap_stop *stop = WEIR_NEW(weir_worker_tap_stop);
    stop->tap_id = tap->num;
    stop->handle = s->handle;
    weir_worker_cmd cmd = {.type = WEIR_WORKER_CMD_TAP_STOP, .payload = stop};
    if (weir_worker_send(ctl->workers[s->worker], &cmd) < 0) {
        WEIR_LOG_ERROR("worker_queue_full worker=%d tap=%s", s->worker, tap->id);
        weir_free(stop);
    }
}

static json_t *tap_json(const ctl_tap *t)
{
    json_t *streams = json_array();
    for (size_t i = 0; i < t->n_streams; i++) {
        const tap_stream *s = &t->streams[i];
        json_array_append_new(
            streams, json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:I, s:I}", "track", s->track_id,
                               "kind", s->audio ? "audio" : "video", "port", (int)s->port,
                               "rtcp_port", (int)s->rtcp_port, "ssrc", (json_int_t)s->ssrc,
                               "packets", (json_int_t)s->packets, "bytes", (json_int_t)s->bytes,
                               "rtcp_received", (json_int_t)s->rtcp_received));
    }
    return json_pack("{s:s, s:s, s:s, s:b, s:s, s:I, s:o}", "id", t->id, "room", t->room_id, "host",
                     t->host, "srtp", t->srtp, "started_by", t->started_by, "started_ms",
                     (json_int_t)t->started_ms, "streams", streams);
}

/* Fills the SDP description of stream i; key is its SRTP key or NULL. */
static void sdp_media(weir_tap_sdp_media *m, const weir_track *t, const tap_stream *s,
                      const uint8_t *key)
{
    *m = (weir_tap_sdp_media){
        .audio = s->audio,
        .codec = t->codec,
        .pt = (uint8_t)t->pt,
        .clock_rate_hz = t->clock_rate_hz,
        .channels = t->channels,
        .fmtp = t->fmtp,
        .port = s->port,
        .rtcp_port = s->rtcp_port,
        .ssrc = s->ssrc,
        .srtp_key = key,
    };
}

/* Sends one TAP_START per stream; on a full queue stops what was started. 0 or -1. */
static int start_streams(weir_control *ctl, ctl_tap *tap, weir_track **tracks,
                         const weir_tap_addr *addr, int layer,
                         uint8_t keys[][WEIR_TAP_SRTP_KEY_LEN])
{
    for (size_t i = 0; i < tap->n_streams; i++) {
        weir_worker_tap *cmd = stream_command(ctl, tap, tracks[i], &tap->streams[i], addr, layer,
                                              tap->srtp ? keys[i] : NULL);
        if (weir_control_send_to_peer(ctl, tracks[i]->owner, WEIR_WORKER_CMD_TAP_START, cmd) < 0) {
            for (size_t k = 0; k < i; k++)
                send_stop(ctl, tap, &tap->streams[k]);
            return -1;
        }
    }
    return 0;
}

int weir_taps_start(weir_control *ctl, weir_participant *p, const json_t *params, json_t **result,
                    char *err, size_t errlen)
{
    taps *ts = state(ctl);
    const char *host = json_string_value(json_object_get(params, "host"));
    weir_tap_addr addr;
    weir_track *tracks[WEIR_TAP_SDP_MAX_MEDIA];
    ctl_tap tap = {.srtp = json_is_true(json_object_get(params, "srtp"))};
    int layer;
    int code = check_host(ts, host, &addr, err, errlen);
    if (!code)
        code = read_layer(params, &layer, err, errlen);
    if (!code)
        code = pick_tracks(ctl, p, params, tracks, &tap.n_streams, err, errlen);
    uint16_t rtp[WEIR_TAP_SDP_MAX_MEDIA], rtcp[WEIR_TAP_SDP_MAX_MEDIA];
    if (!code)
        code = assign_ports(params, tap.n_streams, rtp, rtcp, err, errlen);
    if (!code && ts->list->len >= (guint)ctl->cfg->taps_max) {
        ts->stats.refused_limit++;
        WEIR_LOG_WARN("tap_refused reason=limit max=%d participant=%s", ctl->cfg->taps_max, p->id);
        snprintf(err, errlen, "tap_start: the server has its maximum of %d taps open",
                 ctl->cfg->taps_max);
        code = E_UNAVAILABLE;
    }
    if (code)
        return code;

    tap.id[0] = 'k';
    weir_rand_id(&ctl->rand, tap.id + 1, TAP_ID_LEN - 1);
    tap.num = ++ts->next_num;
    snprintf(tap.room_id, sizeof tap.room_id, "%s", weir_room_id(p->room));
    weir_tap_addr_format(&addr, tap.host, sizeof tap.host);
    snprintf(tap.started_by, sizeof tap.started_by, "%s", p->id);
    tap.started_ms = weir_clock_wall_ms();
    uint8_t keys[WEIR_TAP_SDP_MAX_MEDIA][WEIR_TAP_SRTP_KEY_LEN];
    weir_tap_sdp sdp = {.tap_id = tap.id,
                        .host = tap.host,
                        .ipv6 = addr.family == 6,
                        .session_id = weir_rand_u64(&ctl->rand) >> 2,
                        .n_media = tap.n_streams};
    for (size_t i = 0; i < tap.n_streams; i++) {
        tap_stream *s = &tap.streams[i];
        s->handle = tracks[i]->handle;
        snprintf(s->track_id, sizeof s->track_id, "%s", tracks[i]->id);
        s->worker = tracks[i]->owner->worker_index;
        s->audio = tracks[i]->kind == WEIR_SDP_AUDIO;
        s->port = rtp[i];
        s->rtcp_port = rtcp[i];
        s->ssrc = (uint32_t)weir_rand_u64(&ctl->rand) | 1u;
        /* SRTP keys are secrets: OpenSSL's CSPRNG, not the seedable weir_rand. */
        if (tap.srtp && RAND_bytes(keys[i], WEIR_TAP_SRTP_KEY_LEN) != 1) {
            snprintf(err, errlen, "tap_start: no randomness for SRTP keys");
            return E_UNAVAILABLE;
        }
        sdp_media(&sdp.media[i], tracks[i], s, tap.srtp ? keys[i] : NULL);
    }
    char *text = weir_tap_sdp_write(&sdp);
    if (!text || start_streams(ctl, &tap, tracks, &addr, layer, keys) < 0) {
        OPENSSL_cleanse(keys, sizeof keys);
        weir_free(text);
        snprintf(err, errlen, "tap_start: %s",
                 text ? "media worker unavailable" : "cannot describe that track in an SDP");
        return E_UNAVAILABLE;
    }
    OPENSSL_cleanse(keys, sizeof keys);
    ctl_tap *kept = weir_malloc(sizeof *kept);
    *kept = tap;
    g_ptr_array_add(ts->list, kept);
    ts->stats.started_total++;
    json_t *j = tap_json(kept);
    json_object_set_new(j, "sdp", json_string(text));
    *result = json_pack("{s:o}", "tap", j);
    weir_free(text);
    WEIR_LOG_INFO("tap_started tap=%s room=%s by=%s host=%s port=%u streams=%zu srtp=%d", kept->id,
                  kept->room_id, p->id, kept->host, (unsigned)kept->streams[0].port,
                  kept->n_streams, (int)kept->srtp);
    return 0;
}

/* ---- stop and end ---- */

static void remove_tap(taps *ts, ctl_tap *t, const char *reason)
{
    WEIR_LOG_INFO("tap_ended tap=%s room=%s reason=%s", t->id, t->room_id, reason);
    g_ptr_array_remove(ts->list, t);
}

int weir_taps_stop(weir_control *ctl, weir_participant *p, const char *tap_id, char *err,
                   size_t errlen)
{
    taps *ts = state(ctl);
    ctl_tap *t = find_tap(ts, weir_room_id(p->room), tap_id);
    if (!t) {
        snprintf(err, errlen, "tap_stop: no such tap in this room");
        return E_NOT_FOUND;
    }
    for (size_t i = 0; i < t->n_streams; i++)
        send_stop(ctl, t, &t->streams[i]);
    remove_tap(ts, t, "stopped");
    return 0;
}

void weir_taps_on_track_gone(weir_control *ctl, const struct weir_track *track)
{
    if (!ctl->taps)
        return;
    taps *ts = ctl->taps;
    for (guint i = ts->list->len; i-- > 0;) {
        ctl_tap *t = g_ptr_array_index(ts->list, i);
        size_t kept = 0;
        for (size_t k = 0; k < t->n_streams; k++) {
            if (t->streams[k].handle == track->handle)
                send_stop(ctl, t, &t->streams[k]);
            else
                t->streams[kept++] = t->streams[k];
        }
        t->n_streams = kept;
        if (!kept) {
            ts->stats.ended_track++;
            remove_tap(ts, t, "track_ended");
        }
    }
}

void weir_taps_on_stats(weir_control *ctl, const weir_worker_event *ev)
{
    taps *ts = state(ctl);
    for (guint i = 0; i < ts->list->len; i++) {
        ctl_tap *t = g_ptr_array_index(ts->list, i);
        if (t->num != ev->tap_id)
            continue;
        for (size_t k = 0; k < t->n_streams; k++) {
            tap_stream *s = &t->streams[k];
            if (s->handle != ev->handle)
                continue;
            if (ev->packets > s->packets)
                ts->stats.packets_total += ev->packets - s->packets;
            if (ev->bytes > s->bytes)
                ts->stats.bytes_total += ev->bytes - s->bytes;
            if (ev->rtcp_received > s->rtcp_received)
                ts->stats.rtcp_received += ev->rtcp_received - s->rtcp_received;
            s->packets = ev->packets;
            s->bytes = ev->bytes;
            s->rtcp_received = ev->rtcp_received;
        }
        return;
    }
}

json_t *weir_taps_json(const weir_control *ctl, const char *room_id)
{
    json_t *list = json_array();
    const taps *ts = ctl->taps;
    for (guint i = 0; ts && i < ts->list->len; i++) {
        const ctl_tap *t = g_ptr_array_index(ts->list, i);
        if (!room_id || strcmp(t->room_id, room_id) == 0)
            json_array_append_new(list, tap_json(t));
    }
    return list;
}

void weir_taps_get_stats(const weir_control *ctl, weir_taps_stats *out)
{
    const taps *ts = ctl->taps;
    *out = ts ? ts->stats : (weir_taps_stats){0};
    out->active = ts ? ts->list->len : 0;
}

void weir_taps_destroy(weir_control *ctl)
{
    taps *ts = ctl->taps;
    if (!ts)
        return;
    g_ptr_array_free(ts->list, TRUE);
    weir_free(ts);
    ctl->taps = NULL;
}
