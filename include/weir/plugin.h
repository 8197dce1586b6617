/**
 * The plugin interface: what a plugin (a shared object in plugins/, loaded
 * with dlopen by the control thread's plugin host, control/plugin_host.c)
 * exports, and what the server gives it in return.
 *
 * Versioning: a plugin exports one symbol, `weir_plugin_entry`, returning a
 * weir_plugin whose abi_version must equal WEIR_PLUGIN_ABI_VERSION; the host
 * refuses any other (a clear error naming both numbers) instead of calling
 * into a table whose layout it does not know. Additions that keep the old
 * layout valid (new members at the end, guarded by struct_size) do not bump
 * the version; anything else does.
 *
 * Capabilities: a plugin fills the capability tables it offers (today only
 * `recorder`) and leaves the others NULL.
 *
 * Threads (each function says which):
 *   - control: the single control thread (signalling, rooms);
 *   - worker: a media worker thread, with a packet in hand. A worker call
 *     must never block, allocate without bound or do I/O: it copies into a
 *     bounded queue and returns. Each recorder track is fed by one worker
 *     at a time (single producer).
 * Everything else a plugin does (files, encoding, network) happens on
 * threads the plugin owns.
 *
 * No jansson, GLib or other library type crosses this boundary: JSON goes
 * as text, so a plugin is free in what it links.
 */
#ifndef WEIR_PLUGIN_H
#define WEIR_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weir/log.h"

#define WEIR_PLUGIN_ABI_VERSION 1u
#define WEIR_PLUGIN_ENTRY_SYMBOL "weir_plugin_entry"

/** What the server lends a plugin; valid until the plugin's destroy returns. */
typedef struct weir_plugin_host {
    uint32_t struct_size;
    /** Log a line under the module name the plugin chooses (any thread). */
    void (*log)(weir_log_level level, const char *module, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /** Monotonic clock, microseconds: the clock of every *_us value below (any thread). */
    int64_t (*now_us)(void);
    /** Wall clock, milliseconds since the Unix epoch (any thread). */
    int64_t (*wall_ms)(void);
} weir_plugin_host;

/* ---- recorder capability ------------------------------------------------ */

typedef struct weir_recorder weir_recorder;               /* the plugin's state */
typedef struct weir_recording weir_recording;             /* one record_start */
typedef struct weir_recording_track weir_recording_track; /* one track in it */

/** What record_start knows (control thread; strings borrowed for the call). */
typedef struct weir_recording_info {
    const char *id;   /* recording id, unique on this server */
    const char *room; /* room id */
    const char *dir;  /* directory for this recording's files; the plugin creates it */
    const char *by;   /* participant id that asked */
    int64_t started_wall_ms;
    int64_t started_us; /* host monotonic clock: time 0 of the recording's timeline */
} weir_recording_info;

/** One track to write (control thread; strings borrowed for the call). */
typedef struct weir_recording_track_info {
    const char *track; /* track id */
    const char
        *participant;    /* publisher's participant id (tracks of one participant share a clock) */
    const char *display; /* publisher's display name */
    const char *role;    /* publisher's role */
    const char *kind;    /* "audio" or "video" */
    const char *source;  /* "camera", "microphone", "screen" */
    const char *codec;   /* "opus", "vp8", "vp9", "h264", "av1" (lower case) */
    uint32_t clock_rate_hz;
    uint32_t channels; /* audio: as negotiated (2 for opus) */
} weir_recording_track_info;

/**
 * One RTP packet for a recording track (worker thread; borrowed for the call).
 * The header is already rewritten by the server: one SSRC, seq and timestamp
 * continuous across simulcast layer switches and publisher restarts, VP8
 * PictureID/TL0PICIDX continuous, and the first video packet starts a
 * keyframe. Retransmissions arrive as the original seq (late, possibly).
 */
typedef struct weir_recording_packet {
    const uint8_t *rtp;
    size_t len;
    int64_t arrival_us; /* host monotonic clock */
    /**
     * The sender's capture time of this packet's RTP timestamp, NTP 32.32
     * on the sender's own clock (its newest sender report extrapolated);
     * 0 before the first sender report. Audio and video of one participant
     * share that clock, which is what keeps them in sync.
     */
    uint64_t capture_ntp;
} weir_recording_packet;

/** Per-track counters, for the host's admin API and metrics (any thread; a snapshot). */
typedef struct weir_recording_track_stats {
    uint64_t packets;     /* accepted into the queue */
    uint64_t queue_drops; /* dropped because the queue was full (slow disk) */
    uint64_t frames_written;
    uint64_t frames_dropped; /* incomplete (loss) or waiting for a keyframe */
    uint64_t bytes_written;
    uint64_t write_errors; /* write(2) failures (disk full, I/O error) */
    int64_t duration_ms;   /* last written frame's time minus the first's */
    bool failed;           /* the file stopped: see error */
    char error[128];
    char file[256]; /* file name, relative to the recording's dir */
} weir_recording_track_stats;

typedef struct weir_recorder_ops {
    uint32_t struct_size;
    /**
     * Starts the plugin's recorder (control, once). config_json: the
     * [recorder] section as a JSON object of strings. NULL and err on failure.
     */
    weir_recorder *(*create)(const weir_plugin_host *host, const char *config_json, char *err,
                             size_t err_len);
    /** Stops the plugin's threads after closing what is open (control, once). */
    void (*destroy)(weir_recorder *r);

    /** A new recording: creates its directory and manifest (control). NULL and err on failure. */
    weir_recording *(*recording_open)(weir_recorder *r, const weir_recording_info *info, char *err,
                                      size_t err_len);
    /**
     * A timeline event (control): a JSON object as text, e.g.
     * {"type":"participant_joined","participant":{...}}; the plugin adds the
     * time ("t_ms", ms on the recording's timeline, from at_us) and keeps it
     * in the manifest's timeline. Never blocks on disk.
     */
    void (*recording_event)(weir_recording *rec, int64_t at_us, const char *json_object);
    /** Adds a track (control). NULL and err when it cannot (unsupported codec, no file). */
    weir_recording_track *(*track_open)(weir_recording *rec, const weir_recording_track_info *info,
                                        char *err, size_t err_len);
    /** Queues one packet (worker; never blocks). 0, or -1 when dropped (queue full, track failed). */
    int (*track_packet)(weir_recording_track *t, const weir_recording_packet *p);
    /**
     * True once when the track needs a keyframe (start, loss it could not
     * repair, queue overflow): the worker then asks the publisher (worker; never blocks).
     */
    bool (*track_take_keyframe_request)(weir_recording_track *t);
    /** Counters (any thread). */
    void (*track_stats)(weir_recording_track *t, weir_recording_track_stats *out);
    /**
     * No more packets will come (control, after the worker let go of t):
     * the plugin finishes the file in the background. t stays valid, for
     * track_stats, until recording_close.
     */
    void (*track_close)(weir_recording_track *t, int64_t at_us);
    /**
     * Ends the recording (control): closes its remaining tracks, waits for
     * their files to be complete on disk (bounded: timeout_ms), writes the
     * final manifest, frees rec and its tracks. totals (optional) receives
     * the sum of its tracks' final counters (file, error: the first failed
     * track's). 0, or -1 with err when something could not be written in
     * time (the files that were are still listed in the manifest).
     */
    int (*recording_close)(weir_recording *rec, int64_t at_us, int timeout_ms,
                           weir_recording_track_stats *totals, char *err, size_t err_len);
} weir_recorder_ops;

typedef struct weir_plugin {
    uint32_t abi_version; /* WEIR_PLUGIN_ABI_VERSION */
    const char *name;     /* e.g. "recorder" */
    const char *version;  /* the plugin's own version */
    const char *description;
    const weir_recorder_ops *recorder; /* NULL when the plugin does not record */
} weir_plugin;

typedef const weir_plugin *(*weir_plugin_entry_fn)(void);

#endif
