/*
 * One recorded track: packets from its queue go through the frame assembler
 * (frame_assembler.h: reorder, wait for retransmissions, whole frames,
 * keyframe-aligned after loss), get a time on the recording's timeline and
 * are written to the track's WebM/Matroska file (webm_writer.h).
 *
 * Timing, the part that keeps audio and video in sync:
 *   A frame's capture time is on its sender's clock (the NTP time its RTP
 *   timestamp maps to through the sender's reports; weir_recording_packet).
 *   Audio and video of one participant share that clock. The recorder maps
 *   a participant's clock onto the server's once (offset = arrival − capture
 *   of the first frame that has a capture time), and each track once (its
 *   anchor: the first frame with a capture time); after that a frame's time
 *   follows from its RTP timestamp alone:
 *       t = anchor_t + (ts − anchor_ts) / clock_rate
 *   so jitter in arrival never moves a frame, and both tracks of a
 *   participant carry the sender's own A/V alignment into the file.
 *   Frames that arrive before the first sender report are held (up to
 *   [recorder] sync_wait_ms), then timed from their arrival if none came.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "recorder_internal.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define MAX_FRAME_BYTES (4u << 20)
#define ASSEMBLER_PACKETS 512 /* > 1 s of 2.5 Mbit/s video: max_wait_ms is 300 */
#define PENDING_MAX_BYTES (16u << 20)
#define DROP_LOG_INTERVAL_US 10000000
#define DEFAULT_WIDTH 640 /* a VP9/H.264 keyframe whose size we could not read */
#define DEFAULT_HEIGHT 480

static int64_t ntp_to_us(uint64_t ntp)
{
    return (int64_t)(ntp >> 32) * 1000000 + (int64_t)(((ntp & 0xffffffffu) * 1000000) >> 32);
}

static bool codec_from_name(const char *name, wrec_codec *out, const char **ext)
{
    static const struct {
        const char *name;
        wrec_codec codec;
        const char *ext;
    } table[] = {{"opus", WREC_CODEC_OPUS, "webm"},
                 {"vp8", WREC_CODEC_VP8, "webm"},
                 {"vp9", WREC_CODEC_VP9, "webm"},
                 {"h264", WREC_CODEC_H264, "mkv"}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (name && strcmp(name, table[i].name) == 0) {
            *out = table[i].codec;
            *ext = table[i].ext;
            return true;
        }
    return false;
}

/* Ids become file names: keep [A-Za-z0-9_-], replace the rest. */
static void safe_name(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; src && *src && n + 1 < cap; src++)
        dst[n++] = ((*src >= 'a' && *src <= 'z') || (*src >= 'A' && *src <= 'Z') ||
                    (*src >= '0' && *src <= '9') || *src == '-' || *src == '_')
                       ? *src
                       : '_';
    dst[n] = 0;
}

weir_recording_track *wrec_track_create(weir_recording *rec, const weir_recording_track_info *info,
                                        char *err, size_t err_len)
{
    wrec_codec codec;
    const char *ext;
    if (!codec_from_name(info->codec, &codec, &ext)) {
        snprintf(err, err_len, "codec %s cannot be recorded (opus, vp8, vp9, h264 can)",
                 info->codec ? info->codec : "(none)");
        return NULL;
    }
    wrec_assembler_config ac = {.codec = codec,
                                .max_wait_us = rec->r->cfg.max_wait_us,
                                .max_packets = ASSEMBLER_PACKETS,
                                .max_frame_bytes = MAX_FRAME_BYTES};
    wrec_assembler *a = wrec_assembler_create(&ac);
    if (!a) {
        snprintf(err, err_len, "frame assembler refused codec %s", info->codec);
        return NULL;
    }
    weir_recording_track *t = WEIR_NEW(weir_recording_track);
    t->rec = rec;
    t->assembler = a;
    t->codec = codec;
    t->video = strcmp(info->kind, "video") == 0;
    snprintf(t->track, sizeof t->track, "%s", info->track);
    snprintf(t->participant, sizeof t->participant, "%s", info->participant);
    snprintf(t->display, sizeof t->display, "%s", info->display ? info->display : "");
    snprintf(t->role, sizeof t->role, "%s", info->role ? info->role : "");
    snprintf(t->kind, sizeof t->kind, "%s", t->video ? "video" : "audio");
    snprintf(t->source, sizeof t->source, "%s", info->source ? info->source : "");
    snprintf(t->codec_name, sizeof t->codec_name, "%s", info->codec);
    t->clock_rate_hz = info->clock_rate_hz ? info->clock_rate_hz : (t->video ? 90000 : 48000);
    t->channels = info->channels ? info->channels : 2;
    char p[WREC_ID_MAX], tr[WREC_ID_MAX];
    safe_name(p, sizeof p, info->participant);
    safe_name(tr, sizeof tr, info->track);
    snprintf(t->file, sizeof t->file, "%s-%s-%s.%s", p, t->kind, tr, ext);
    t->queue = wrec_packet_queue_create(rec->r->cfg.queue_packets);
    atomic_init(&t->keyframe_wanted, t->video);
    atomic_init(&t->packets, 0);
    atomic_init(&t->queue_drops, 0);
    atomic_init(&t->closing, false);
    atomic_init(&t->failed, false);
    t->fd = -1;
    t->pending_tail = &t->pending;
    t->start_ms = t->end_ms = -1;
    pthread_mutex_init(&t->stats_lock, NULL);
    snprintf(t->stats.file, sizeof t->stats.file, "%s", t->file);
    return t;
}

void wrec_track_free(weir_recording_track *t)
{
    if (!t)
        return;
    while (t->pending) {
        wrec_pending *p = t->pending;
        t->pending = p->next;
        weir_free(p);
    }
    if (t->fd >= 0)
        close(t->fd);
    wrec_webm_destroy(t->webm);
    wrec_assembler_destroy(t->assembler);
    wrec_packet_queue_destroy(t->queue);
    pthread_mutex_destroy(&t->stats_lock);
    weir_free(t);
}

/* ---- control / worker side ---- */

weir_recording_track *wrec_track_open(weir_recording *rec, const weir_recording_track_info *info,
                                      char *err, size_t err_len)
{
    weir_recorder *r = rec->r;
    pthread_mutex_lock(&r->lock);
    bool closing = rec->close_requested;
    pthread_mutex_unlock(&r->lock);
    if (closing) {
        snprintf(err, err_len, "recording %s is closing", rec->id);
        return NULL;
    }
    weir_recording_track *t = wrec_track_create(rec, info, err, err_len);
    if (!t)
        return NULL;
    pthread_mutex_lock(&r->lock);
    t->next = rec->new_tracks;
    rec->new_tracks = t;
    pthread_mutex_unlock(&r->lock);
    WREC_LOG(r, WEIR_LOG_INFO, "recording_track_opened recording=%s track=%s codec=%s file=%s",
             rec->id, t->track, t->codec_name, t->file);
    return t;
}

int wrec_track_packet(weir_recording_track *t, const weir_recording_packet *p)
{
    if (atomic_load_explicit(&t->closing, memory_order_relaxed) ||
        atomic_load_explicit(&t->failed, memory_order_relaxed))
        return -1;
    if (!wrec_packet_queue_push(t->queue, p->rtp, p->len, p->arrival_us, p->capture_ntp)) {
        atomic_fetch_add_explicit(&t->queue_drops, 1, memory_order_relaxed);
        if (t->video) /* the gap will cost frames until a keyframe: ask now */
            atomic_store_explicit(&t->keyframe_wanted, true, memory_order_relaxed);
        return -1;
    }
    atomic_fetch_add_explicit(&t->packets, 1, memory_order_relaxed);
    return 0;
}

bool wrec_track_take_keyframe_request(weir_recording_track *t)
{
    if (!atomic_load_explicit(&t->keyframe_wanted, memory_order_relaxed))
        return false;
    return atomic_exchange(&t->keyframe_wanted, false);
}

void wrec_track_stats(weir_recording_track *t, weir_recording_track_stats *out)
{
    pthread_mutex_lock(&t->stats_lock);
    *out = t->stats;
    out->duration_ms = t->start_ms >= 0 ? t->end_ms - t->start_ms : 0;
    pthread_mutex_unlock(&t->stats_lock);
    out->packets = atomic_load(&t->packets);
    out->queue_drops = atomic_load(&t->queue_drops);
}

void wrec_track_close(weir_recording_track *t, int64_t at_us)
{
    t->close_us = at_us;
    atomic_store(&t->closing, true);
}

void wrec_track_set_muted(weir_recording_track *t, bool muted, int64_t t_ms)
{
    pthread_mutex_lock(&t->stats_lock);
    wrec_span *last = t->n_mutes ? &t->mutes[t->n_mutes - 1] : NULL;
    if (muted && (!last || last->to_ms >= 0) && t->n_mutes < WREC_MAX_MUTES)
        t->mutes[t->n_mutes++] = (wrec_span){.from_ms = t_ms, .to_ms = -1};
    else if (!muted && last && last->to_ms < 0)
        last->to_ms = t_ms;
    pthread_mutex_unlock(&t->stats_lock);
}

/* ---- recorder thread ---- */

static void fail(weir_recording_track *t, const char *what, int err)
{
    weir_recording *rec = t->rec;
    pthread_mutex_lock(&t->stats_lock);
    t->stats.failed = true;
    t->stats.write_errors++;
    snprintf(t->stats.error, sizeof t->stats.error, "%s: %s", what, strerror(err));
    pthread_mutex_unlock(&t->stats_lock);
    atomic_store(&t->failed, true);
    WREC_LOG(rec->r, WEIR_LOG_ERROR,
             "recording_track_failed recording=%s track=%s file=%s error=\"%s: %s\"", rec->id,
             t->track, t->file, what, strerror(err));
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
    rec->manifest_dirty = true;
}

static int write_fd(void *user, const void *buf, size_t len)
{
    int fd = *(int *)user;
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int open_file(weir_recording_track *t, uint16_t width, uint16_t height)
{
    weir_recording *rec = t->rec;
    const uint8_t *priv = NULL;
    size_t priv_len = 0;
    if (t->codec == WREC_CODEC_H264 && wrec_assembler_h264_avcc(t->assembler, &priv, &priv_len) < 0)
        return -EAGAIN; /* no SPS/PPS yet: wait for a keyframe that has them */
    static const char *const ids[] = {[WREC_CODEC_OPUS] = "A_OPUS",
                                      [WREC_CODEC_VP8] = "V_VP8",
                                      [WREC_CODEC_VP9] = "V_VP9",
                                      [WREC_CODEC_H264] = "V_MPEG4/ISO/AVC"};
    char name[WREC_NAME_MAX + WREC_ID_MAX + 8];
    snprintf(name, sizeof name, "%s %s", t->display, t->source);
    wrec_webm_track wt = {.video = t->video,
                          .codec_id = ids[t->codec],
                          .codec_private = priv,
                          .codec_private_len = priv_len,
                          .width = width ? width : DEFAULT_WIDTH,
                          .height = height ? height : DEFAULT_HEIGHT,
                          .sample_rate = t->clock_rate_hz,
                          .channels = (uint8_t)t->channels,
                          .seek_preroll_ns = t->video ? 0 : 80000000,
                          .name = name};
    char title[3 * WREC_NAME_MAX + 64];
    snprintf(title, sizeof title, "%s (room %s, recording %s)", t->display, rec->room, rec->id);
    wrec_webm_info info = {
        .title = title, .date_utc_ms = rec->started_wall_ms, .app = "weir-recorder " WEIR_VERSION};
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", rec->dir, t->file);
    t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (t->fd < 0)
        return -errno;
    t->webm = wrec_webm_create(&wt, &info, write_fd, &t->fd);
    if (!t->webm)
        return -EINVAL;
    return 0;
}

static void note_size(weir_recording_track *t, uint16_t width, uint16_t height, int64_t t_ms)
{
    if (!width || (width == t->width && height == t->height))
        return;
    bool change = t->width != 0;
    t->width = width;
    t->height = height;
    pthread_mutex_lock(&t->stats_lock);
    if (t->n_layers < WREC_MAX_LAYER_CHANGES)
        t->layers[t->n_layers++] =
            (wrec_layer_change){.t_ms = t_ms, .width = width, .height = height};
    pthread_mutex_unlock(&t->stats_lock);
    if (change) {
        char fields[160];
        snprintf(fields, sizeof fields, "\"track\":\"%s\",\"width\":%u,\"height\":%u", t->track,
                 (unsigned)width, (unsigned)height);
        wrec_timeline_write(t->rec, t_ms, "layer_changed", fields);
    }
    t->rec->manifest_dirty = true;
}

static int64_t frame_time_us(const weir_recording_track *t, uint64_t ext_ts)
{
    int64_t ticks = (int64_t)(ext_ts - t->anchor_ext_ts);
    return t->anchor_t_us + ticks * 1000000 / (int64_t)t->clock_rate_hz;
}

/* Writes one frame whose time is known. */
static void write_frame(weir_recording_track *t, uint64_t ext_ts, bool keyframe,
                        const uint8_t *data, size_t len, uint16_t width, uint16_t height)
{
    if (atomic_load(&t->failed))
        return;
    int64_t t_us = frame_time_us(t, ext_ts);
    int64_t t_ms = t_us > 0 ? t_us / 1000 : 0;
    if (!t->webm) {
        int rc = open_file(t, width, height);
        if (rc == -EAGAIN) {
            t->local_drops++;
            return;
        }
        if (rc < 0) {
            fail(t, "cannot create the file", -rc);
            return;
        }
        t->last_fsync_us = t->rec->r->host->now_us();
    }
    if (t->video && keyframe)
        note_size(t, width, height, t_ms);
    int rc = wrec_webm_write_frame(t->webm, t_ms, keyframe, data, len);
    if (rc < 0) {
        fail(t, "write", -rc);
        return;
    }
    /* A frame lasts until the next one; for the duration, count audio's 20 ms and video's
     * nominal frame at the end. */
    int64_t end = t_ms + (t->video ? 0 : 20);
    pthread_mutex_lock(&t->stats_lock);
    if (t->start_ms < 0) {
        t->start_ms = t_ms;
        t->rec->manifest_dirty = true;
    }
    if (end > t->end_ms)
        t->end_ms = end;
    t->stats.frames_written++;
    t->stats.bytes_written = wrec_webm_bytes(t->webm);
    pthread_mutex_unlock(&t->stats_lock);
}

static void write_pending(weir_recording_track *t)
{
    while (t->pending) {
        wrec_pending *p = t->pending;
        t->pending = p->next;
        write_frame(t, p->ext_ts, p->keyframe, p->data, p->len, p->width, p->height);
        weir_free(p);
    }
    t->pending_tail = &t->pending;
    t->pending_bytes = 0;
}

static void set_anchor(weir_recording_track *t, uint64_t ext_ts, int64_t t_us, bool from_arrival)
{
    t->has_anchor = true;
    t->anchor_ext_ts = ext_ts;
    t->anchor_t_us = t_us;
    t->timing_from_arrival = from_arrival;
    if (from_arrival)
        WREC_LOG(t->rec->r, WEIR_LOG_WARN,
                 "recording_no_sender_report recording=%s track=%s: timed from arrival (A/V "
                 "sync of this participant is approximate)",
                 t->rec->id, t->track);
}

static void try_anchor(weir_recording_track *t, const wrec_frame *f)
{
    if (!f->capture_ntp)
        return;
    weir_recording *rec = t->rec;
    wrec_participant *p = wrec_recording_participant(rec, t->participant);
    int64_t capture_us = ntp_to_us(f->capture_ntp);
    int64_t offset;
    if (p && p->has_offset) {
        offset = p->offset_us;
    } else {
        offset = f->arrival_us - capture_us;
        if (p) {
            p->has_offset = true;
            p->offset_us = offset;
        }
    }
    set_anchor(t, f->ext_ts, capture_us + offset - rec->started_us, false);
}

static void hold(weir_recording_track *t, const wrec_frame *f)
{
    if (!t->pending)
        t->first_pending_arrival_us = f->arrival_us;
    if (t->pending_bytes + f->len > PENDING_MAX_BYTES) {
        t->local_drops++;
        return;
    }
    wrec_pending *p = weir_malloc(sizeof *p + f->len);
    p->next = NULL;
    p->ext_ts = f->ext_ts;
    p->keyframe = f->keyframe;
    p->arrival_us = f->arrival_us;
    p->width = f->width;
    p->height = f->height;
    p->len = f->len;
    memcpy(p->data, f->data, f->len);
    *t->pending_tail = p;
    t->pending_tail = &p->next;
    t->pending_bytes += f->len;
}

/* No sender report within sync_wait_ms (or the track ends first): time from arrival. */
static void anchor_from_arrival(weir_recording_track *t)
{
    if (t->has_anchor || !t->pending)
        return;
    set_anchor(t, t->pending->ext_ts, t->pending->arrival_us - t->rec->started_us, true);
    write_pending(t);
}

static void handle_frame(weir_recording_track *t, const wrec_frame *f, int64_t now_us)
{
    if (t->video && !t->saw_keyframe && !f->keyframe) {
        t->local_drops++;
        return;
    }
    t->saw_keyframe = true;
    if (!t->has_anchor)
        try_anchor(t, f);
    if (!t->has_anchor) {
        hold(t, f);
        if (now_us - t->first_pending_arrival_us >= t->rec->r->cfg.pending_max_us)
            anchor_from_arrival(t);
        return;
    }
    write_pending(t);
    write_frame(t, f->ext_ts, f->keyframe, f->data, f->len, f->width, f->height);
}

static void log_queue_drops(weir_recording_track *t, int64_t now_us)
{
    uint64_t drops = atomic_load(&t->queue_drops);
    if (drops == t->drops_logged || now_us - t->last_drop_log_us < DROP_LOG_INTERVAL_US)
        return;
    WREC_LOG(t->rec->r, WEIR_LOG_WARN,
             "recording_queue_full recording=%s track=%s dropped=%llu total=%llu: the recorder "
             "falls behind (slow disk?)",
             t->rec->id, t->track, (unsigned long long)(drops - t->drops_logged),
             (unsigned long long)drops);
    t->drops_logged = drops;
    t->last_drop_log_us = now_us;
}

/* A clean end: the file gets its Duration (the place was reserved in its header). */
static void write_duration(weir_recording_track *t)
{
    uint8_t patch[11];
    uint64_t at;
    pthread_mutex_lock(&t->stats_lock);
    int64_t end_ms = t->end_ms;
    pthread_mutex_unlock(&t->stats_lock);
    if (end_ms < 0 || wrec_webm_duration_patch(t->webm, end_ms, patch, &at) < 0)
        return;
    if (pwrite(t->fd, patch, sizeof patch, (off_t)at) != (ssize_t)sizeof patch)
        WREC_LOG(t->rec->r, WEIR_LOG_WARN,
                 "recording_duration_not_written recording=%s track=%s error=\"%s\"", t->rec->id,
                 t->track, strerror(errno));
}

static void finish(weir_recording_track *t)
{
    anchor_from_arrival(t);
    if (t->fd >= 0 && t->webm)
        write_duration(t);
    if (t->fd >= 0) {
        fdatasync(t->fd);
        close(t->fd);
        t->fd = -1;
    }
    t->done = true;
    weir_recording_track_stats st;
    wrec_track_stats(t, &st);
    wrec_assembler_stats as;
    wrec_assembler_stats_get(t->assembler, &as);
    char fields[400];
    snprintf(fields, sizeof fields, "\"track\":\"%s\",\"frames\":%llu,\"frames_dropped\":%llu",
             t->track, (unsigned long long)st.frames_written,
             (unsigned long long)st.frames_dropped);
    int64_t at = t->close_us ? t->close_us : t->rec->r->host->now_us();
    wrec_timeline_write(t->rec, wrec_timeline_ms(t->rec, at), "track_ended", fields);
    WREC_LOG(t->rec->r, WEIR_LOG_INFO,
             "recording_track_closed recording=%s track=%s frames=%llu dropped=%llu "
             "queue_drops=%llu bytes=%llu duration_ms=%lld%s",
             t->rec->id, t->track, (unsigned long long)st.frames_written,
             (unsigned long long)st.frames_dropped, (unsigned long long)st.queue_drops,
             (unsigned long long)st.bytes_written, (long long)st.duration_ms,
             t->timing_from_arrival ? " timing=arrival" : "");
}

bool wrec_track_service(weir_recording_track *t, int64_t now_us)
{
    if (t->done)
        return true;
    /* Read before draining: once closing is seen, the worker has let go and the queue is final. */
    bool closing = atomic_load(&t->closing);
    wrec_slot *s;
    while ((s = wrec_packet_queue_pop(t->queue))) {
        if (!atomic_load_explicit(&t->failed, memory_order_relaxed))
            wrec_assembler_push(t->assembler, s->data, s->len, s->arrival_us, s->capture_ntp,
                                now_us);
        wrec_packet_queue_release(t->queue, s);
    }
    if (closing)
        wrec_assembler_flush(t->assembler);
    wrec_frame f;
    while (wrec_assembler_poll(t->assembler, now_us, &f) == 1)
        handle_frame(t, &f, now_us);
    if (!t->has_anchor && t->pending &&
        now_us - t->first_pending_arrival_us >= t->rec->r->cfg.pending_max_us)
        anchor_from_arrival(t);
    if (wrec_assembler_take_keyframe_request(t->assembler) && t->video)
        atomic_store(&t->keyframe_wanted, true);
    wrec_assembler_stats as;
    wrec_assembler_stats_get(t->assembler, &as);
    pthread_mutex_lock(&t->stats_lock);
    t->stats.frames_dropped = as.frames_dropped + t->local_drops;
    pthread_mutex_unlock(&t->stats_lock);
    log_queue_drops(t, now_us);
    int64_t fsync_every = t->rec->r->cfg.fsync_interval_us;
    if (t->fd >= 0 && fsync_every > 0 && now_us - t->last_fsync_us >= fsync_every) {
        fdatasync(t->fd);
        t->last_fsync_us = now_us;
    }
    if (closing)
        finish(t);
    return t->done;
}
