/*
 * Built-in recording, control side (recordings.h).
 */
#define WEIR_LOG_MODULE "control.recordings"
#include "control/recordings.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/control.h"
#include "control/media.h"
#include "control/plugin_host.h"
#include "control/session.h"
#include "weir/alloc.h"
#include "weir/log.h"
#include "weir/plugin.h"

enum { E_FORBIDDEN = 403, E_NOT_FOUND = 404, E_UNAVAILABLE = 503, E_PARAMS = -32602 };

#define RECORDING_ID_LEN 12
#define MAX_LISTED_TRACKS 256

typedef struct rec_track {
    uint32_t handle;
    char track_id[WEIR_TRACK_ID_LEN + 1];
    char participant[WEIR_PARTICIPANT_ID_LEN + 1];
    char kind[8];
    int worker;
    uint64_t sink_id;
    weir_recording_track *t; /* the plugin's; valid until recording_close */
    bool stop_sent;          /* RECORD_STOP queued */
    bool stopped;            /* the worker answered; track_close called */
} rec_track;

typedef struct ctl_recording {
    char id[RECORDING_ID_LEN + 1];
    char room_id[WEIR_ROOM_ID_MAX + 1];
    char started_by[WEIR_PARTICIPANT_ID_LEN + 1];
    char dir[1024];
    weir_recording *rec;
    bool all_tracks; /* no `tracks` param: every track of the room, now and later */
    char (*listed)[WEIR_TRACK_ID_LEN + 1];
    size_t n_listed;
    GPtrArray *tracks; /* rec_track*, owned */
    int64_t started_ms, started_us;
    bool stopping;
    int64_t stop_us;
    const char *stop_reason;
} ctl_recording;

typedef struct recordings {
    weir_plugin_handle *plugin;
    const weir_recorder_ops *ops;
    char plugin_error[512];
    char base_dir[1024];
    GPtrArray *list; /* ctl_recording*, owned */
    uint64_t next_sink;
    bool workers_stopped;
    weir_recordings_stats totals; /* of finished recordings, plus the counters */
} recordings;

static recordings *state(weir_control *ctl)
{
    if (!ctl->recordings) {
        recordings *rs = WEIR_NEW(recordings);
        rs->list = g_ptr_array_new();
        ctl->recordings = rs;
    }
    return ctl->recordings;
}

static json_t *plugin_config(const weir_config *cfg)
{
    char buf[5][16];
    snprintf(buf[0], 16, "%d", cfg->recorder_queue_packets);
    snprintf(buf[1], 16, "%d", cfg->recorder_max_wait_ms);
    snprintf(buf[2], 16, "%d", cfg->recorder_sync_wait_ms);
    snprintf(buf[3], 16, "%d", cfg->recorder_fsync_interval_ms);
    return json_pack("{s:s, s:s, s:s, s:s}", "queue_packets", buf[0], "max_wait_ms", buf[1],
                     "sync_wait_ms", buf[2], "fsync_interval_ms", buf[3]);
}

void weir_recordings_init(weir_control *ctl)
{
    recordings *rs = state(ctl);
    const weir_config *cfg = ctl->cfg;
    if (cfg->recorder_dir[0])
        snprintf(rs->base_dir, sizeof rs->base_dir, "%s", cfg->recorder_dir);
    else
        snprintf(rs->base_dir, sizeof rs->base_dir, "%s/recordings", cfg->data_dir);
    if (!cfg->recorder_enabled) {
        snprintf(rs->plugin_error, sizeof rs->plugin_error,
                 "recording is off on this server ([recorder] enabled = false)");
        return;
    }
    json_t *pc = plugin_config(cfg);
    char *text = json_dumps(pc, JSON_COMPACT);
    json_decref(pc);
    char err[512];
    rs->plugin = weir_plugin_load_recorder(cfg->recorder_plugin, text, err, sizeof err);
    free(text);
    if (!rs->plugin) {
        snprintf(rs->plugin_error, sizeof rs->plugin_error, "%s", err);
        WEIR_LOG_WARN("recorder_unavailable: %s (record_start will answer 503)", err);
        return;
    }
    rs->ops = weir_plugin_recorder_ops(rs->plugin);
    rs->totals.plugin_loaded = true;
    WEIR_LOG_INFO("recorder_ready dir=%s", rs->base_dir);
}

static ctl_recording *find(recordings *rs, const char *room_id, const char *id)
{
    for (guint i = 0; i < rs->list->len; i++) {
        ctl_recording *r = g_ptr_array_index(rs->list, i);
        if (strcmp(r->id, id) == 0 && (!room_id || strcmp(r->room_id, room_id) == 0))
            return r;
    }
    return NULL;
}

/* ---- timeline: the room's notifications ---- */

static void send_event(recordings *rs, ctl_recording *r, json_t *ev)
{
    char *text = json_dumps(ev, JSON_COMPACT);
    if (text)
        rs->ops->recording_event(r->rec, weir_clock_now_us(), text);
    free(text);
}

/* Every notification to the room (room.h observer) → the timeline of its recordings. */
static void observe(void *ctx, weir_room *room, const char *method, const json_t *params)
{
    weir_control *ctl = ctx;
    recordings *rs = ctl->recordings;
    if (!rs || strcmp(method, "active_speaker") == 0) /* several a second, not lesson content */
        return;
    json_t *ev;
    if (strcmp(method, "data_message") == 0) {
        /* {label, message {seq, from, ts, data}} → {"type": label, seq, from, data} */
        const char *label = json_string_value(json_object_get(params, "label"));
        ev = json_pack("{s:s}", "type", label ? label : "data");
        json_object_update(ev, json_object_get(params, "message"));
    } else {
        ev = json_pack("{s:s}", "type", method);
        json_object_update(ev, (json_t *)params);
    }
    for (guint i = 0; i < rs->list->len; i++) {
        ctl_recording *r = g_ptr_array_index(rs->list, i);
        if (!r->stopping && strcmp(r->room_id, weir_room_id(room)) == 0)
            send_event(rs, r, ev);
    }
    json_decref(ev);
}

static bool room_has_recording(recordings *rs, const char *room_id, const ctl_recording *except)
{
    for (guint i = 0; i < rs->list->len; i++) {
        ctl_recording *r = g_ptr_array_index(rs->list, i);
        if (r != except && !r->stopping && strcmp(r->room_id, room_id) == 0)
            return true;
    }
    return false;
}

/* ---- tracks ---- */

static const char *codec_name(weir_codec c)
{
    switch (c) {
    case WEIR_CODEC_OPUS:
        return "opus";
    case WEIR_CODEC_VP8:
        return "vp8";
    case WEIR_CODEC_VP9:
        return "vp9";
    case WEIR_CODEC_H264:
        return "h264";
    case WEIR_CODEC_AV1:
        return "av1";
    default:
        return "unknown";
    }
}

static bool wanted(const ctl_recording *r, const weir_track *t)
{
    if (r->all_tracks)
        return true;
    for (size_t i = 0; i < r->n_listed; i++)
        if (strcmp(r->listed[i], t->id) == 0)
            return true;
    return false;
}

static rec_track *find_track(const ctl_recording *r, uint32_t handle)
{
    for (guint i = 0; i < r->tracks->len; i++) {
        rec_track *rt = g_ptr_array_index(r->tracks, i);
        if (rt->handle == handle)
            return rt;
    }
    return NULL;
}

static void skipped(recordings *rs, ctl_recording *r, const weir_track *t, const char *why)
{
    WEIR_LOG_WARN("recording_track_skipped recording=%s track=%s reason=\"%s\"", r->id, t->id, why);
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "type", "track_not_recorded", "track", t->id,
                           "participant", t->owner->id, "reason", why);
    send_event(rs, r, ev);
    json_decref(ev);
}

static void add_track(weir_control *ctl, recordings *rs, ctl_recording *r, weir_track *t)
{
    if (find_track(r, t->handle) || !t->owner)
        return;
    const weir_participant *o = t->owner;
    bool audio = t->kind == WEIR_SDP_AUDIO;
    weir_recording_track_info info = {.track = t->id,
                                      .participant = o->id,
                                      .display = o->display,
                                      .role = weir_role_name(o->role),
                                      .kind = audio ? "audio" : "video",
                                      .source = weir_track_source_name(t->source),
                                      .codec = codec_name(t->codec),
                                      .clock_rate_hz = t->clock_rate_hz,
                                      .channels = t->channels};
    char err[256];
    weir_recording_track *pt = rs->ops->track_open(r->rec, &info, err, sizeof err);
    if (!pt) {
        skipped(rs, r, t, err);
        return;
    }
    rec_track *rt = WEIR_NEW(rec_track);
    rt->handle = t->handle;
    snprintf(rt->track_id, sizeof rt->track_id, "%s", t->id);
    snprintf(rt->participant, sizeof rt->participant, "%s", o->id);
    snprintf(rt->kind, sizeof rt->kind, "%s", info.kind);
    rt->worker = o->worker_index;
    rt->sink_id = ++rs->next_sink;
    rt->t = pt;
    g_ptr_array_add(r->tracks, rt);
    weir_worker_record *cmd = WEIR_NEW(weir_worker_record);
    *cmd = (weir_worker_record){.sink_id = rt->sink_id,
                                .handle = t->handle,
                                .audio = audio,
                                .codec = t->codec,
                                .clock_rate_hz = t->clock_rate_hz,
                                .n_layers = (uint8_t)(t->n_rids ? t->n_rids : 1),
                                .in_pt = t->pt,
                                .ssrc = (uint32_t)weir_rand_u64(&ctl->rand) | 1u,
                                .ops = rs->ops,
                                .track = pt};
    if (rs->workers_stopped ||
        weir_control_send_to_peer(ctl, o, WEIR_WORKER_CMD_RECORD_START, cmd) < 0) {
        /* The worker never saw it: nothing to wait for. */
        rt->stop_sent = rt->stopped = true;
        rs->ops->track_close(pt, weir_clock_now_us());
    }
}

static void send_stop(weir_control *ctl, recordings *rs, rec_track *rt)
{
    if (rt->stop_sent)
        return;
    if (rs->workers_stopped || rt->worker < 0 || rt->worker >= ctl->n_workers) {
        rt->stop_sent = rt->stopped = true;
        rs->ops->track_close(rt->t, weir_clock_now_us());
        return;
    }
    weir_worker_record_stop *stop = WEIR_NEW(weir_worker_record_stop);
    stop->sink_id = rt->sink_id;
    stop->handle = rt->handle;
    weir_worker_cmd cmd = {.type = WEIR_WORKER_CMD_RECORD_STOP, .payload = stop};
    if (weir_worker_send(ctl->workers[rt->worker], &cmd) < 0) {
        WEIR_LOG_ERROR("worker_queue_full worker=%d sink=%llu (retried)", rt->worker,
                       (unsigned long long)rt->sink_id);
        weir_free(stop);
        return;
    }
    rt->stop_sent = true;
}

/* ---- finishing ---- */

static void add_track_stats(recordings *rs, const weir_recording_track_stats *st)
{
    rs->totals.packets_total += st->packets;
    rs->totals.queue_drops_total += st->queue_drops;
    rs->totals.frames_total += st->frames_written;
    rs->totals.frames_dropped_total += st->frames_dropped;
    rs->totals.bytes_total += st->bytes_written;
    rs->totals.write_errors_total += st->write_errors;
}

static void recording_free(ctl_recording *r)
{
    g_ptr_array_free(r->tracks, TRUE);
    weir_free(r->listed);
    weir_free(r);
}

/* The participant who started it learns when the files are complete (or could not be). */
static void notify_finished(weir_control *ctl, const ctl_recording *r, const char *error,
                            const weir_recording_track_stats *totals)
{
    weir_room *room = ctl->rooms ? weir_rooms_find(ctl->rooms, r->room_id) : NULL;
    weir_participant *p = room ? weir_room_find(room, r->started_by) : NULL;
    if (!p || !p->session)
        return;
    json_t *rec = json_pack(
        "{s:s, s:s, s:s, s:I, s:I, s:I}", "id", r->id, "state", error ? "incomplete" : "complete",
        "reason", r->stop_reason, "duration_ms", (json_int_t)((r->stop_us - r->started_us) / 1000),
        "frames", (json_int_t)totals->frames_written, "bytes", (json_int_t)totals->bytes_written);
    if (error)
        json_object_set_new(rec, "error", json_string(error));
    else if (totals->failed)
        json_object_set_new(rec, "error", json_string(totals->error));
    weir_session_notify(p->session, "recording_finished", json_pack("{s:o}", "recording", rec));
}

/* Every worker let go: the plugin finishes the files and the manifest. */
static void finish_if_released(weir_control *ctl, recordings *rs, ctl_recording *r)
{
    if (!r->stopping)
        return;
    for (guint i = 0; i < r->tracks->len; i++)
        if (!((rec_track *)g_ptr_array_index(r->tracks, i))->stopped)
            return;
    char err[256];
    weir_recording_track_stats totals;
    int rc = rs->ops->recording_close(r->rec, r->stop_us, ctl->cfg->recorder_stop_timeout_ms,
                                      &totals, err, sizeof err);
    add_track_stats(rs, &totals);
    if (rc < 0) {
        rs->totals.failed_total++;
        WEIR_LOG_ERROR("recording_incomplete recording=%s room=%s error=\"%s\"", r->id, r->room_id,
                       err);
    } else {
        rs->totals.completed_total++;
    }
    WEIR_LOG_INFO("recording_finished recording=%s room=%s reason=%s tracks=%u dir=%s", r->id,
                  r->room_id, r->stop_reason, r->tracks->len, r->dir);
    notify_finished(ctl, r, rc == 0 ? NULL : err, &totals);
    g_ptr_array_remove(rs->list, r);
    recording_free(r);
}

static void begin_stop(weir_control *ctl, recordings *rs, ctl_recording *r, const char *reason)
{
    if (r->stopping)
        return;
    r->stopping = true;
    r->stop_us = weir_clock_now_us();
    r->stop_reason = reason;
    weir_room *room = weir_rooms_find(ctl->rooms, r->room_id);
    if (room && !room_has_recording(rs, r->room_id, NULL))
        weir_room_set_observer(room, NULL, NULL);
    for (guint i = 0; i < r->tracks->len; i++)
        send_stop(ctl, rs, g_ptr_array_index(r->tracks, i));
    finish_if_released(ctl, rs, r);
}

/* ---- record_start / record_stop ---- */

static int read_tracks(const json_t *params, ctl_recording *r, weir_control *ctl,
                       const weir_participant *p, char *err, size_t errlen)
{
    const json_t *list = json_object_get(params, "tracks");
    if (!list || json_is_null(list)) {
        r->all_tracks = true;
        return 0;
    }
    size_t n = json_array_size(list);
    if (!json_is_array(list) || n == 0 || n > MAX_LISTED_TRACKS) {
        snprintf(err, errlen, "tracks: expected 1..%d track ids", MAX_LISTED_TRACKS);
        return E_PARAMS;
    }
    r->listed = weir_calloc(n, sizeof *r->listed);
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_array_get(list, i));
        if (!id || !weir_media_find_track(ctl, p->room, id)) {
            snprintf(err, errlen, "record_start: no such track in this room: %.32s",
                     id ? id : "(not a string)");
            return E_NOT_FOUND;
        }
        snprintf(r->listed[r->n_listed++], WEIR_TRACK_ID_LEN + 1, "%s", id);
    }
    return 0;
}

static json_t *files_json(const recordings *rs, const ctl_recording *r)
{
    json_t *files = json_array();
    for (guint i = 0; i < r->tracks->len; i++) {
        rec_track *rt = g_ptr_array_index(r->tracks, i);
        weir_recording_track_stats st;
        rs->ops->track_stats(rt->t, &st);
        json_array_append_new(files, json_pack("{s:s, s:s, s:s, s:s}", "track", rt->track_id,
                                               "participant", rt->participant, "kind", rt->kind,
                                               "file", st.file));
    }
    return files;
}

static void start_timeline(weir_control *ctl, recordings *rs, ctl_recording *r, weir_room *room)
{
    for (size_t i = 0; i < weir_room_count(room); i++) {
        const weir_participant *m = weir_room_at(room, i);
        json_t *ev =
            json_pack("{s:s, s:{s:s, s:s, s:s}}", "type", "participant_joined", "participant", "id",
                      m->id, "display", m->display, "role", weir_role_name(m->role));
        send_event(rs, r, ev);
        json_decref(ev);
    }
    weir_room_set_observer(room, observe, ctl);
}

int weir_recordings_start(weir_control *ctl, weir_participant *p, const json_t *params,
                          json_t **result, char *err, size_t errlen)
{
    recordings *rs = state(ctl);
    if (!rs->plugin) {
        snprintf(err, errlen, "record_start: %s", rs->plugin_error);
        return E_UNAVAILABLE;
    }
    guint active = 0;
    for (guint i = 0; i < rs->list->len; i++)
        active += !((ctl_recording *)g_ptr_array_index(rs->list, i))->stopping;
    if (active >= (guint)ctl->cfg->recorder_max_active) {
        WEIR_LOG_WARN("recording_refused reason=limit max=%d participant=%s",
                      ctl->cfg->recorder_max_active, p->id);
        snprintf(err, errlen, "record_start: the server has its maximum of %d recordings running",
                 ctl->cfg->recorder_max_active);
        return E_UNAVAILABLE;
    }
    ctl_recording *r = WEIR_NEW(ctl_recording);
    r->tracks = g_ptr_array_new_with_free_func(weir_free);
    int code = read_tracks(params, r, ctl, p, err, errlen);
    if (code) {
        recording_free(r);
        return code;
    }
    r->id[0] = 'r';
    weir_rand_id(&ctl->rand, r->id + 1, RECORDING_ID_LEN - 1);
    snprintf(r->room_id, sizeof r->room_id, "%s", weir_room_id(p->room));
    snprintf(r->started_by, sizeof r->started_by, "%s", p->id);
    snprintf(r->dir, sizeof r->dir, "%.1000s/%s", rs->base_dir, r->id);
    r->started_ms = weir_clock_wall_ms();
    r->started_us = weir_clock_now_us();
    weir_recording_info info = {.id = r->id,
                                .room = r->room_id,
                                .dir = r->dir,
                                .by = p->id,
                                .started_wall_ms = r->started_ms,
                                .started_us = r->started_us};
    char why[400];
    r->rec = rs->ops->recording_open(weir_plugin_recorder(rs->plugin), &info, why, sizeof why);
    if (!r->rec) {
        WEIR_LOG_ERROR("recording_open_failed room=%s error=\"%s\"", r->room_id, why);
        snprintf(err, errlen, "record_start: %s", why);
        recording_free(r);
        return E_UNAVAILABLE;
    }
    g_ptr_array_add(rs->list, r);
    rs->totals.started_total++;
    start_timeline(ctl, rs, r, p->room);
    for (size_t i = 0; i < weir_room_count(p->room); i++) {
        weir_participant *m = weir_room_at(p->room, i);
        for (size_t k = 0; m->media && k < m->media->n_tracks; k++) {
            weir_track *t = m->media->tracks[k];
            if (t->announced && wanted(r, t))
                add_track(ctl, rs, r, t);
        }
    }
    *result = json_pack("{s:{s:s, s:o, s:s}}", "recording", "id", r->id, "files", files_json(rs, r),
                        "manifest", "manifest.json");
    WEIR_LOG_INFO("recording_started recording=%s room=%s by=%s tracks=%u all_tracks=%d dir=%s",
                  r->id, r->room_id, p->id, r->tracks->len, (int)r->all_tracks, r->dir);
    return 0;
}

int weir_recordings_stop(weir_control *ctl, weir_participant *p, const char *id, json_t **result,
                         char *err, size_t errlen)
{
    recordings *rs = state(ctl);
    ctl_recording *r = id ? find(rs, weir_room_id(p->room), id) : NULL;
    if (!r || r->stopping) {
        snprintf(err, errlen, "record_stop: no such recording running in this room");
        return E_NOT_FOUND;
    }
    int64_t duration_ms = (weir_clock_now_us() - r->started_us) / 1000;
    *result =
        json_pack("{s:{s:s, s:o, s:s, s:I}}", "recording", "id", r->id, "files", files_json(rs, r),
                  "manifest", "manifest.json", "duration_ms", (json_int_t)duration_ms);
    WEIR_LOG_INFO("recording_stop recording=%s room=%s by=%s duration_ms=%lld", r->id, r->room_id,
                  p->id, (long long)duration_ms);
    begin_stop(ctl, rs, r, "stopped");
    return 0;
}

/* ---- hooks ---- */

void weir_recordings_on_track_published(weir_control *ctl, weir_track *t)
{
    recordings *rs = ctl->recordings;
    if (!rs || !t->owner || !t->owner->room)
        return;
    for (guint i = 0; i < rs->list->len; i++) {
        ctl_recording *r = g_ptr_array_index(rs->list, i);
        if (!r->stopping && strcmp(r->room_id, weir_room_id(t->owner->room)) == 0 && wanted(r, t))
            add_track(ctl, rs, r, t);
    }
}

void weir_recordings_on_track_gone(weir_control *ctl, const weir_track *t)
{
    recordings *rs = ctl->recordings;
    if (!rs)
        return;
    for (guint i = 0; i < rs->list->len; i++) {
        ctl_recording *r = g_ptr_array_index(rs->list, i);
        rec_track *rt = find_track(r, t->handle);
        if (rt)
            send_stop(ctl, rs, rt);
    }
}

void weir_recordings_on_room_closed(weir_control *ctl, weir_room *room)
{
    recordings *rs = ctl->recordings;
    if (!rs)
        return;
    weir_room_set_observer(room, NULL, NULL);
    for (guint i = rs->list->len; i-- > 0;) {
        ctl_recording *r = g_ptr_array_index(rs->list, i);
        if (strcmp(r->room_id, weir_room_id(room)) == 0)
            begin_stop(ctl, rs, r, "room_closed");
    }
}

void weir_recordings_on_event(weir_control *ctl, const weir_worker_event *ev)
{
    recordings *rs = ctl->recordings;
    if (!rs)
        return;
    for (guint i = 0; i < rs->list->len; i++) {
        ctl_recording *r = g_ptr_array_index(rs->list, i);
        for (guint k = 0; k < r->tracks->len; k++) {
            rec_track *rt = g_ptr_array_index(r->tracks, k);
            if (rt->sink_id != ev->sink_id || rt->stopped)
                continue;
            rt->stopped = true;
            rs->ops->track_close(rt->t, weir_clock_now_us());
            finish_if_released(ctl, rs, r); /* may free r */
            return;
        }
    }
}

/* ---- admin API, metrics, shutdown ---- */

static json_t *recording_json(const recordings *rs, const ctl_recording *r)
{
    json_t *tracks = json_array();
    for (guint i = 0; i < r->tracks->len; i++) {
        rec_track *rt = g_ptr_array_index(r->tracks, i);
        weir_recording_track_stats st;
        rs->ops->track_stats(rt->t, &st);
        json_t *j = json_pack(
            "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b}", "track", rt->track_id,
            "participant", rt->participant, "kind", rt->kind, "file", st.file, "packets",
            (json_int_t)st.packets, "queue_drops", (json_int_t)st.queue_drops, "frames",
            (json_int_t)st.frames_written, "frames_dropped", (json_int_t)st.frames_dropped, "bytes",
            (json_int_t)st.bytes_written, "write_errors", (json_int_t)st.write_errors,
            "duration_ms", (json_int_t)st.duration_ms, "failed", st.failed);
        json_object_set_new(j, "error", st.error[0] ? json_string(st.error) : json_null());
        json_array_append_new(tracks, j);
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:s, s:b, s:o}", "id", r->id, "room", r->room_id,
                     "started_by", r->started_by, "dir", r->dir, "started_ms",
                     (json_int_t)r->started_ms, "state", r->stopping ? "stopping" : "recording",
                     "all_tracks", r->all_tracks, "tracks", tracks);
}

json_t *weir_recordings_json(const weir_control *ctl, const char *room_id)
{
    json_t *list = json_array();
    const recordings *rs = ctl->recordings;
    for (guint i = 0; rs && i < rs->list->len; i++) {
        const ctl_recording *r = g_ptr_array_index(rs->list, i);
        if (!room_id || strcmp(r->room_id, room_id) == 0)
            json_array_append_new(list, recording_json(rs, r));
    }
    return list;
}

void weir_recordings_get_stats(const weir_control *ctl, weir_recordings_stats *out)
{
    const recordings *rs = ctl->recordings;
    *out = rs ? rs->totals : (weir_recordings_stats){0};
    for (guint i = 0; rs && i < rs->list->len; i++) {
        const ctl_recording *r = g_ptr_array_index(rs->list, i);
        out->active++;
        for (guint k = 0; k < r->tracks->len; k++) {
            rec_track *rt = g_ptr_array_index(r->tracks, k);
            weir_recording_track_stats st;
            rs->ops->track_stats(rt->t, &st);
            out->tracks_active += !rt->stopped;
            out->packets_total += st.packets;
            out->queue_drops_total += st.queue_drops;
            out->frames_total += st.frames_written;
            out->frames_dropped_total += st.frames_dropped;
            out->bytes_total += st.bytes_written;
            out->write_errors_total += st.write_errors;
        }
    }
}

void weir_recordings_destroy(weir_control *ctl)
{
    recordings *rs = ctl->recordings;
    if (!rs)
        return;
    rs->workers_stopped = true; /* no worker touches a track any more */
    while (rs->list->len) {
        ctl_recording *r = g_ptr_array_index(rs->list, 0);
        for (guint k = 0; k < r->tracks->len; k++) {
            rec_track *rt = g_ptr_array_index(r->tracks, k);
            if (!rt->stopped) {
                rt->stopped = rt->stop_sent = true;
                rs->ops->track_close(rt->t, weir_clock_now_us());
            }
        }
        r->stopping = false; /* let begin_stop run */
        begin_stop(ctl, rs, r, "shutdown");
    }
    g_ptr_array_free(rs->list, TRUE);
    weir_plugin_unload(rs->plugin);
    weir_free(rs);
    ctl->recordings = NULL;
}
