/**
 * What the recorder plugin's files share. Threads:
 *   - control: create/destroy, recording_open/_event/_close, track_open/_close;
 *   - worker:  track_packet, track_take_keyframe_request (lock-free);
 *   - the recorder's own thread (recorder.c: one for all recordings):
 *     everything that touches a file.
 * The control thread hands things to the recorder's thread under
 * weir_recorder.lock (new tracks, events, close requests); packets go
 * through each track's packet_queue without a lock.
 *
 *   recorder.c    plugin entry, config, the thread's loop
 *   recording.c   a recording: directory, timeline, participants, closing
 *   manifest.c    manifest.json (atomic rewrite) from the recording's state
 *   track.c       a track: queue → frame assembler → timing → WebM file
 */
#ifndef WREC_RECORDER_INTERNAL_H
#define WREC_RECORDER_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "frame_assembler.h"
#include "packet_queue.h"
#include "webm_writer.h"
#include "weir/plugin.h"

#define WREC_ID_MAX 64
#define WREC_NAME_MAX 128
#define WREC_MAX_PARTICIPANTS 256
#define WREC_MAX_MUTES 64
#define WREC_MAX_LAYER_CHANGES 64

typedef struct wrec_config {
    size_t queue_packets;      /* per track */
    int64_t max_wait_us;       /* a packet gap is waited for this long */
    int64_t pending_max_us;    /* frames held while no sender report came */
    int64_t fsync_interval_us; /* 0: never fdatasync */
    int64_t manifest_interval_us;
} wrec_config;

typedef struct wrec_participant {
    char id[WREC_ID_MAX];
    char display[WREC_NAME_MAX];
    char role[16];
    int64_t joined_ms, left_ms; /* left_ms -1: still there */
    bool has_offset;
    int64_t offset_us; /* host monotonic time − sender's NTP time, µs */
} wrec_participant;

/* A frame held until the track's timing anchor is known. */
typedef struct wrec_pending {
    struct wrec_pending *next;
    uint64_t ext_ts;
    bool keyframe;
    int64_t arrival_us;
    uint16_t width, height;
    size_t len;
    uint8_t data[];
} wrec_pending;

typedef struct wrec_span {
    int64_t from_ms, to_ms; /* to_ms -1: still muted */
} wrec_span;

typedef struct wrec_layer_change {
    int64_t t_ms;
    uint16_t width, height;
} wrec_layer_change;

struct weir_recording_track {
    struct weir_recording *rec;
    struct weir_recording_track *next; /* in rec->tracks (recorder thread) */
    /* info (copied at open): */
    char track[WREC_ID_MAX], participant[WREC_ID_MAX], display[WREC_NAME_MAX], role[16];
    char kind[8], source[16], codec_name[8];
    wrec_codec codec;
    bool video;
    uint32_t clock_rate_hz, channels;
    char file[256];
    /* worker → recorder: */
    wrec_packet_queue *queue;
    atomic_bool keyframe_wanted;
    atomic_uint_fast64_t packets, queue_drops;
    atomic_bool closing; /* track_close: finish once the queue is empty */
    atomic_bool failed;  /* the file stopped (write error): packets are refused */
    int64_t close_us;
    /* recorder thread only: */
    wrec_assembler *assembler;
    wrec_webm *webm;
    int fd;
    bool done;
    bool saw_keyframe;
    bool has_anchor;
    uint64_t anchor_ext_ts;
    int64_t anchor_t_us; /* recording timeline */
    wrec_pending *pending, **pending_tail;
    size_t pending_bytes;
    int64_t first_pending_arrival_us;
    bool timing_from_arrival;
    int64_t last_fsync_us;
    int64_t last_drop_log_us;
    uint64_t drops_logged;
    uint64_t local_drops; /* frames dropped here (before the first keyframe, pending overflow) */
    uint16_t width, height;
    /* shared with track_stats (stats_lock): */
    pthread_mutex_t stats_lock;
    weir_recording_track_stats stats;
    int64_t start_ms, end_ms; /* -1 until the first frame */
    wrec_span mutes[WREC_MAX_MUTES];
    size_t n_mutes;
    wrec_layer_change layers[WREC_MAX_LAYER_CHANGES];
    size_t n_layers;
};

/* A timeline event waiting for the recorder's thread. */
typedef struct wrec_event {
    struct wrec_event *next;
    int64_t at_us;
    char json[];
} wrec_event;

struct weir_recording {
    struct weir_recorder *r;
    struct weir_recording *next; /* in r->recordings */
    char id[WREC_ID_MAX], room[WREC_NAME_MAX], by[WREC_ID_MAX];
    char dir[PATH_MAX];
    int64_t started_us, started_wall_ms;
    int timeline_fd;
    int64_t timeline_last_ms; /* t_ms of the last line written */
    /* control → recorder (under r->lock): */
    wrec_event *events, **events_tail;
    weir_recording_track *new_tracks; /* opened, not yet adopted by the thread */
    bool close_requested;
    int64_t close_us;
    bool finished;  /* set by the thread once everything is on disk */
    bool abandoned; /* recording_close timed out: the thread frees it when finished */
    char close_error[160];
    /* recorder thread: */
    weir_recording_track *tracks;
    wrec_participant participants[WREC_MAX_PARTICIPANTS];
    size_t n_participants;
    bool manifest_dirty;
    int64_t last_manifest_us;
    int64_t duration_ms; /* once closed */
};

struct weir_recorder {
    const weir_plugin_host *host;
    wrec_config cfg;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* the thread sleeps on it (10 ms at most) */
    pthread_cond_t changed; /* recording_close waits on it */
    bool stop;
    struct weir_recording *recordings; /* under lock */
};

#define WREC_LOG(r, level, ...) (r)->host->log(level, "recorder", __VA_ARGS__)

/* recording.c (recorder thread) */
/** Adopts new tracks and events; finishes a closed recording. true when rec is finished. */
bool wrec_recording_service(struct weir_recording *rec, int64_t now_us);
void wrec_recording_free(struct weir_recording *rec);
wrec_participant *wrec_recording_participant(struct weir_recording *rec, const char *id);
/** Appends a timeline line {"t_ms":…,"type":…,…} (fields: a JSON object's text, without braces). */
void wrec_timeline_write(struct weir_recording *rec, int64_t t_ms, const char *type,
                         const char *fields_json);
int64_t wrec_timeline_ms(const struct weir_recording *rec, int64_t at_us);

/* manifest.c (recorder thread) */
int wrec_manifest_write(struct weir_recording *rec, const char *state, char *err, size_t err_len);

/* track.c */
weir_recording_track *wrec_track_create(struct weir_recording *rec,
                                        const weir_recording_track_info *info, char *err,
                                        size_t err_len);
/** Recorder thread: drains the queue, writes frames; true once the track is done. */
bool wrec_track_service(weir_recording_track *t, int64_t now_us);
void wrec_track_free(weir_recording_track *t);
void wrec_track_set_muted(weir_recording_track *t, bool muted, int64_t t_ms);

/* the plugin's ops (recorder.c, recording.c, track.c) */
weir_recording *wrec_recording_open(weir_recorder *r, const weir_recording_info *info, char *err,
                                    size_t err_len);
void wrec_recording_event(weir_recording *rec, int64_t at_us, const char *json_object);
int wrec_recording_close(weir_recording *rec, int64_t at_us, int timeout_ms,
                         weir_recording_track_stats *totals, char *err, size_t err_len);
weir_recording_track *wrec_track_open(weir_recording *rec, const weir_recording_track_info *info,
                                      char *err, size_t err_len);
int wrec_track_packet(weir_recording_track *t, const weir_recording_packet *p);
bool wrec_track_take_keyframe_request(weir_recording_track *t);
void wrec_track_stats(weir_recording_track *t, weir_recording_track_stats *out);
void wrec_track_close(weir_recording_track *t, int64_t at_us);

#endif
