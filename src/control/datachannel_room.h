/**
 * The data channels of one room, as the control thread sees them: who has
 * which channel open, the stamping of `whiteboard` and `chat` messages
 * (one total order per room and label), each channel's history replay and
 * the relay of other labels. docs/protocol.md ("Data channels") is the
 * user-facing contract this implements.
 *
 * Pure state: no sockets, no clock (times are passed in), no threads. The
 * room log it owns may write a file, or may be memory-only (unit tests,
 * a server whose data_dir is unusable). What it sends goes out through
 * the weir_dc_io callbacks, which the glue (datachannel.c) maps to worker
 * commands and the tests record.
 *
 * Delivery without gap or duplicate: a whiteboard/chat channel starts in
 * replay. Its cursor walks the history from the oldest entry up to
 * replay_end (the next seq when the channel opened); messages stamped
 * meanwhile wait in the channel's own queue behind the cursor. Both drain
 * under a window (bytes and messages not yet confirmed by DATA_DRAINED),
 * so a 100,000-op history never fills the worker's per-channel buffer nor
 * its command ring. Once both are drained the channel is live: stamped
 * messages go straight to it, and the worker's bounded queue is its limit.
 *
 * Live messages leave as one fan-out per (message, worker), not one send
 * per channel: a room of 50 receivers costs one command ring slot per
 * message per worker. When a worker's ring is full anyway (a stuck
 * worker), the message waits in each of that worker's live channels' own
 * queue (frames are shared, not copied) and is fanned out again on the
 * next message, DATA_DRAINED or tick, in order and ahead of anything newer.
 * Only a channel whose waiting bytes pass max_backlog is closed
 * (QUEUE_FULL); the others keep their place.
 * When the history is about to lose entries that a replay still needs (a
 * clear, or chat's cap evicting the oldest), those entries are first
 * copied into the channel's queue, so the replay stays exact.
 */
#ifndef WEIR_CONTROL_DATACHANNEL_ROOM_H
#define WEIR_CONTROL_DATACHANNEL_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/methods.h"
#include "control/room_log.h"

#define WEIR_DC_MAX_WORKERS 64     /* >= WEIR_MESH_MAX_WORKERS */
#define WEIR_DC_PARTICIPANT_MAX 47 /* like weir_worker_cmd.participant_id */

/** Why a message was refused (an error frame went back on its channel). */
typedef enum {
    WEIR_DC_REFUSE_ROLE = 0, /* 403: observer/recorder on whiteboard/chat, a student's clear */
    WEIR_DC_REFUSE_BINARY,   /* 415: binary on whiteboard/chat */
    WEIR_DC_REFUSE_TOO_BIG,  /* 413: over max_message_size (or its stamp would be) */
    WEIR_DC_REFUSE_NOT_UTF8, /* 400: a text message that is not UTF-8 */
    WEIR_DC_REFUSE_STORAGE,  /* 500: the history could not take it */
    WEIR_DC_REFUSE_COUNT,
} weir_dc_refuse;

/** Why a channel was closed or forgotten. */
typedef enum {
    WEIR_DC_CLOSE_REMOTE = 0, /* DATA_CLOSED we did not ask for (client, worker buffer full) */
    WEIR_DC_CLOSE_BACKLOG,    /* stamped messages waiting behind its replay passed the cap */
    WEIR_DC_CLOSE_QUEUE_FULL, /* the command ring stayed full until max_backlog was owed */
    WEIR_DC_CLOSE_LEFT,       /* its participant left */
    WEIR_DC_CLOSE_REPLACED,   /* the stream was opened again */
    WEIR_DC_CLOSE_ROOM,       /* the room closed */
    WEIR_DC_CLOSE_COUNT,
} weir_dc_close;

const char *weir_dc_refuse_name(weir_dc_refuse r);
const char *weir_dc_close_name(weir_dc_close c);

/** Counters over every room; the caller owns one and hands it to each room. */
typedef struct weir_dc_stats {
    uint64_t stamped[WEIR_ROOM_LOG_KINDS];
    uint64_t delivered; /* messages queued to channels: stamped live, replayed, relayed */
    uint64_t replayed;  /* of which history */
    uint64_t relayed;   /* of which other labels */
    uint64_t refused[WEIR_DC_REFUSE_COUNT];
    uint64_t closed[WEIR_DC_CLOSE_COUNT];
    uint64_t opened;
    uint64_t send_failed; /* a command could not be queued (ring full) */
    uint64_t fanouts;     /* fan-out commands queued (one per message and worker) */
    uint64_t deferred;    /* live deliveries held back by a full ring, to retry */
    /* replay messages sent and not yet confirmed, per worker (kept under the ring's size) */
    uint32_t replay_inflight[WEIR_DC_MAX_WORKERS];
} weir_dc_stats;

/** The owner of a channel: one participant's publisher PC. */
typedef struct weir_dc_peer {
    uint64_t peer_id; /* the key: unique for the process' life */
    int worker;       /* 0..WEIR_DC_MAX_WORKERS-1 */
    char participant[WEIR_DC_PARTICIPANT_MAX + 1];
    weir_role role;
} weir_dc_peer;

/** One channel a fan-out goes to (all of one fan-out are on the same worker). */
typedef struct weir_dc_target {
    uint64_t peer_id;
    uint16_t stream;
} weir_dc_target;

/** Where messages go (datachannel.c: worker commands). */
typedef struct weir_dc_io {
    /* Queues one message on (peer, stream); data is borrowed. 0, or -WEIR_EAGAIN when it
     * cannot be queued now (nothing was). */
    int (*send)(void *user, const weir_dc_peer *peer, uint16_t stream, bool binary,
                const uint8_t *data, size_t len);
    /* Queues one message for n channels of `worker` (one command); targets and data are
     * borrowed. 0, or -WEIR_EAGAIN when it cannot be queued now (nothing was). */
    int (*fanout)(void *user, int worker, const weir_dc_target *targets, size_t n, bool binary,
                  const uint8_t *data, size_t len);
    /* Closes (peer, stream); reason for the worker's log. 0 or -WEIR_EAGAIN (retried later). */
    int (*close)(void *user, const weir_dc_peer *peer, uint16_t stream, const char *reason);
    /* Optional (NULL: none): every message stamped into the history, as the stamped frame
     * (text, borrowed), after it was stored; a recording's timeline listens here. */
    void (*stamped)(void *user, const char *room_id, const char *label, const uint8_t *frame,
                    size_t len);
    void *user;
} weir_dc_io;

typedef struct weir_dc_limits {
    uint32_t max_message_size; /* received text and stamped frames; 413 above */
    uint32_t max_backlog;      /* bytes owed on the control side (behind a replay, or held by a full
                           * ring); the channel is closed above */
    uint32_t replay_window_bytes;              /* per channel, sent and not confirmed (256 KiB) */
    uint32_t replay_window_msgs;               /* per channel, likewise */
    uint32_t replay_worker_msgs;               /* per worker, over all replaying channels */
    uint32_t history_cap[WEIR_ROOM_LOG_KINDS]; /* the log's max_entries (0 = unlimited) */
} weir_dc_limits;

/** The defaults above: 256 KiB, 1 MiB backlog, 256 messages, 1024 per worker, chat 200. */
void weir_dc_limits_defaults(weir_dc_limits *l);

typedef struct weir_dc_room weir_dc_room;

/**
 * A room's channel state. room_id is copied (for logs); log (owned from
 * now on, destroyed with the room), limits and io are copied; stats is
 * borrowed and must outlive the room. Never NULL.
 */
weir_dc_room *weir_dc_room_create(const char *room_id, weir_room_log *log,
                                  const weir_dc_limits *limits, const weir_dc_io *io,
                                  weir_dc_stats *stats);
/** Forgets every channel (counted as ROOM closes, no commands sent), destroys the log. */
void weir_dc_room_destroy(weir_dc_room *r);

/**
 * DATA_OPEN: peer opened channel `stream` with `label`. A whiteboard/chat
 * channel starts its replay at once. An open channel on the same (peer,
 * stream) is forgotten first (REPLACED).
 */
void weir_dc_room_open(weir_dc_room *r, const weir_dc_peer *peer, uint16_t stream,
                       const char *label);

/** DATA_CLOSED: forgets the channel (REMOTE unless we had asked). */
void weir_dc_room_closed(weir_dc_room *r, uint64_t peer_id, uint16_t stream);

/**
 * DATA_MESSAGE on (peer_id, stream); data borrowed. role is the sender's
 * current role. now_ms is the wall clock of the stamp, now_us the
 * monotonic time for the log's fsync schedule. Unknown channels are
 * ignored. Returns 0, or the error code sent back (403, 413, 415, 400, 500).
 */
int weir_dc_room_message(weir_dc_room *r, uint64_t peer_id, weir_role role, uint16_t stream,
                         bool binary, const uint8_t *data, size_t len, int64_t now_ms,
                         int64_t now_us);

/** DATA_DRAINED: the channel's worker queue is empty after sent_total bytes. */
void weir_dc_room_drained(weir_dc_room *r, uint64_t peer_id, uint16_t stream, uint64_t sent_total);

/** The participant left: forgets its channels (LEFT); the worker drops them with the peer. */
void weir_dc_room_peer_gone(weir_dc_room *r, uint64_t peer_id);

/**
 * Periodic: retries closes, replays and live fan-outs that a full command
 * ring held back, and drives the log's fsync/compaction. Returns the log's error,
 * if any (the caller decides to detach it).
 */
int weir_dc_room_tick(weir_dc_room *r, int64_t now_us);

/** Channels known (any state). */
size_t weir_dc_room_channels(const weir_dc_room *r);
/** Bytes of live messages a full ring held back for this channel (for tests and logs). */
uint64_t weir_dc_room_deferred_bytes(const weir_dc_room *r, uint64_t peer_id, uint16_t stream);
/** Channels of this peer still replaying history (for tests and logs). */
bool weir_dc_room_replaying(const weir_dc_room *r, uint64_t peer_id, uint16_t stream);
weir_room_log *weir_dc_room_log(weir_dc_room *r);

#endif
