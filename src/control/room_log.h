/**
 * Room log: the persisted history of a room's stamped data-channel messages
 * (the whiteboard and the chat), one append-only file per room.
 *
 * The control thread stamps each message (seq, from, ts) and appends it
 * here; the log stores, keeps the live history in memory for late joiners
 * and replays it after a restart. Control thread only: no locks inside.
 *
 * File format (all integers big-endian, like every wire format in Weir):
 *
 *   file    = header record*
 *   header  = "WEIRLOG" version(u8 = 1)                       8 bytes
 *   record  = length(u32) crc32c(u32) payload[length]
 *   payload = type(u8) kind(u8) from_len(u16) seq(u64) ts_ms(i64)
 *             from[from_len] data[...]                         20 + n bytes
 *
 * CRC-32C (Castagnoli) covers the payload: a torn append (length or payload
 * cut short) and bit rot both fail the check. Record types:
 *   MSG  (1): one stored message of `kind`; data is what the caller stored
 *             (for the whiteboard, the participant's JSON `data`).
 *   BASE (2): the history of `kind` is empty from here on and its next seq
 *             is `seq`; from and data are empty. A clear writes one, and a
 *             snapshot starts with one per kind so seqs survive compaction.
 *
 * Replay accepts the longest valid prefix and stops at the first record
 * that is torn (shorter than its length says) or corrupt (CRC mismatch,
 * impossible field, seq going backwards). Everything after it is dropped,
 * even records that would check out: the framing has no sync marker, a
 * record found by scanning could be a forgery of chance inside user data,
 * and a history with a hole in its middle is worse for clients than a
 * history that ends early (a total order they can trust). The drop is
 * logged with its offset and byte count and reported to the caller. The
 * open then truncates the file there so appends continue cleanly.
 *
 * Durability: each append is one write(2), so a SIGKILL loses nothing the
 * call returned for (the page cache survives the process); fdatasync bounds
 * what a power loss can take to fsync_interval_ms (the caller drives it with
 * weir_room_log_tick). A clear is synced at once: losing a clear would bring
 * back drawings users saw wiped.
 *
 * Compaction: when the file exceeds compact_ratio × the live size (after
 * clears, or a chat past its cap), tick writes a snapshot of only the live
 * history to "<name>.tmp", fsyncs it, renames it over the log and fsyncs the
 * directory. A crash at any point leaves either the old or the new file,
 * both complete. Replay time stays proportional to the live history.
 */
#ifndef WEIR_CONTROL_ROOM_LOG_H
#define WEIR_CONTROL_ROOM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum weir_room_log_kind {
    WEIR_ROOM_LOG_WHITEBOARD = 0,
    WEIR_ROOM_LOG_CHAT = 1,
} weir_room_log_kind;
#define WEIR_ROOM_LOG_KINDS 2

/* Sender ids are participant ids (12 characters); 64 leaves room for others. */
#define WEIR_ROOM_LOG_FROM_MAX 64
/* Data channel messages are capped well below this by a=max-message-size. */
#define WEIR_ROOM_LOG_DATA_MAX (256 * 1024)
/* The first seq a fresh log hands out for each kind. */
#define WEIR_ROOM_LOG_FIRST_SEQ 1

/** One stored message. In the log's own entries from and data are NUL-terminated. */
typedef struct weir_room_log_entry {
    uint64_t seq;
    int64_t ts_ms; /* the stamp's wall-clock time, stored as given */
    const char *from;
    const uint8_t *data;
    uint32_t data_len;
    uint16_t from_len;
} weir_room_log_entry;

typedef enum weir_room_log_stop {
    WEIR_ROOM_LOG_STOP_END = 0, /* the whole file was valid */
    WEIR_ROOM_LOG_STOP_TORN,    /* the last record was cut short (crash mid-append) */
    WEIR_ROOM_LOG_STOP_CORRUPT, /* a record failed its CRC or its fields were impossible */
} weir_room_log_stop;

/** What a replay found. */
typedef struct weir_room_log_replay {
    uint64_t records;        /* valid records read (MSG and BASE) */
    uint64_t accepted_bytes; /* the valid prefix, header included */
    uint64_t dropped_bytes;  /* what followed it */
    weir_room_log_stop stop;
} weir_room_log_replay;

typedef struct weir_room_log_config {
    /* borrowed for the create call; must exist. NULL: memory-only (no file, nothing survives
     * destroy; for servers whose data_dir is unusable, and tests) */
    const char *dir;
    uint32_t fsync_interval_ms; /* 0: fdatasync in every append */
    /* per kind, the most entries kept (older ones are dropped); 0 = all since the last clear */
    uint32_t max_entries[WEIR_ROOM_LOG_KINDS];
    uint32_t compact_ratio;     /* compact when file > ratio × live; 0 = never automatically */
    uint64_t compact_min_bytes; /* and the file is over this (small files are cheap to replay) */
} weir_room_log_config;

/**
 * Defaults: fsync every 50 ms (a whiteboard stroke is ~20 messages a second
 * per drawer; syncing each would cost a disk flush per message), whiteboard
 * unlimited, chat 200, compact at 2× live once over 64 KiB. dir is NULL.
 */
void weir_room_log_config_defaults(weir_room_log_config *cfg);

typedef struct weir_room_log weir_room_log;

/**
 * Opens (creating if needed) the log of room_id in cfg->dir: file
 * "<escaped room_id>.wlog", where every byte outside [A-Za-z0-9_-] is
 * written %XX so any room id is one safe file name. Replays it into memory
 * (applying max_entries), truncates a torn or corrupt tail, removes a
 * leftover "<name>.tmp" of an interrupted compaction and compacts when the
 * file is already over the threshold. The file is locked (flock) for the
 * life of the log.
 *
 * replay (may be NULL) receives what the replay found. On failure returns
 * NULL, *err (may be NULL) gets -WEIR_EINVAL (a file that is not a room log:
 * left untouched), -WEIR_EUNSUPPORTED (a newer format version: untouched),
 * -WEIR_EEXIST (locked by another log or process), -WEIR_ETOOBIG (room id
 * over 64 bytes) or -errno; the reason is logged, nothing stays open.
 */
weir_room_log *weir_room_log_create(const weir_room_log_config *cfg, const char *room_id,
                                    int64_t now_us, weir_room_log_replay *replay, int *err);

/** fdatasyncs what is pending, closes the file, frees everything. NULL is a no-op. */
void weir_room_log_destroy(weir_room_log *log);

/**
 * Appends a stamped message to `kind`: written at once, synced per the
 * fsync policy, then added to the history (the oldest entry is dropped when
 * over max_entries). The entry's strings are copied. Errors, after which
 * neither the file nor the history has changed: -WEIR_EINVAL (unknown kind,
 * seq below next_seq or UINT64_MAX, NUL in from), -WEIR_ETOOBIG (from or
 * data over its max), -WEIR_EIO (an earlier failure left the file in an
 * unknown state: the log is read-only from then on), -errno from write(2).
 */
int weir_room_log_append(weir_room_log *log, weir_room_log_kind kind,
                         const weir_room_log_entry *entry, int64_t now_us);

/**
 * Clears `kind` with the clear message stamped seq: writes a BASE record
 * (next seq = seq + 1), fdatasyncs, then empties the history. Errors as for
 * append; when the fdatasync fails the log becomes read-only (-WEIR_EIO
 * later) and the history is left as it was.
 */
int weir_room_log_clear(weir_room_log *log, weir_room_log_kind kind, uint64_t seq, int64_t now_us);

/**
 * Periodic work: fdatasync when appends are pending for fsync_interval_ms,
 * then compact when over the threshold. Returns 0 or the first error (a
 * failed fdatasync makes the log read-only; a failed compaction leaves the
 * old file in use and is retried on a later tick).
 */
int weir_room_log_tick(weir_room_log *log, int64_t now_us);

/** When tick next has work: the pending fdatasync's deadline, or INT64_MAX. */
int64_t weir_room_log_next_timeout(const weir_room_log *log);

/**
 * Writes the snapshot now, whatever the threshold. On error the old file
 * stays in use, unchanged.
 */
int weir_room_log_compact(weir_room_log *log);

/** True while the log writes a file (false: memory-only, or detached). */
bool weir_room_log_on_disk(const weir_room_log *log);

/**
 * Stops using the file (after an append failed, -WEIR_EIO or -errno): closes
 * it without writing more and keeps the history, seqs included, in memory.
 * Later appends and clears work again, memory-only; nothing after this
 * survives a restart. Logged at warn. No-op on a memory-only log.
 */
void weir_room_log_detach(weir_room_log *log);

/** Entries of kind, oldest first. */
size_t weir_room_log_count(const weir_room_log *log, weir_room_log_kind kind);
/**
 * The i-th entry (NULL when i >= count). Owned by the log; valid until the
 * next append, clear or destroy on the log.
 */
const weir_room_log_entry *weir_room_log_at(const weir_room_log *log, weir_room_log_kind kind,
                                            size_t i);
/** One above the highest seq stored or cleared for kind (WEIR_ROOM_LOG_FIRST_SEQ when none). */
uint64_t weir_room_log_next_seq(const weir_room_log *log, weir_room_log_kind kind);
/** Current file size and the size a snapshot of the live history would have. */
uint64_t weir_room_log_file_bytes(const weir_room_log *log);
uint64_t weir_room_log_live_bytes(const weir_room_log *log);

/* ---- In-memory history and the record format (room_log_history.c) ----
 *
 * Pure: no I/O, no clock. The file side above is built on it; it is also
 * what the fuzzer drives, with a byte buffer standing in for the file.
 */

typedef struct weir_room_log_history weir_room_log_history;

/** max_entries as in the config (copied). Never NULL. */
weir_room_log_history *weir_room_log_history_create(const uint32_t max_entries[]);
void weir_room_log_history_destroy(weir_room_log_history *h);

/**
 * Replays a whole file image into a fresh history; fills *out (see the
 * format above). An empty buffer, or one holding only a prefix of the
 * header, is a log with nothing in it (accepted_bytes 0: the caller writes
 * the header). Returns 0, -WEIR_EINVAL when buf is not a room log, or
 * -WEIR_EUNSUPPORTED for a newer version; *out is filled only on success.
 */
int weir_room_log_history_replay(weir_room_log_history *h, const uint8_t *buf, size_t len,
                                 weir_room_log_replay *out);

/** 0 when entry may be appended to kind now; the errors of weir_room_log_append. */
int weir_room_log_history_check(const weir_room_log_history *h, weir_room_log_kind kind,
                                const weir_room_log_entry *entry);
/** Copies a checked entry in. Returns the result of the check; on error nothing changed. */
int weir_room_log_history_push(weir_room_log_history *h, weir_room_log_kind kind,
                               const weir_room_log_entry *entry);
/** Empties kind and sets its next seq (must be >= the current one, else -WEIR_EINVAL). */
int weir_room_log_history_reset(weir_room_log_history *h, weir_room_log_kind kind,
                                uint64_t next_seq);

size_t weir_room_log_history_count(const weir_room_log_history *h, weir_room_log_kind kind);
const weir_room_log_entry *weir_room_log_history_at(const weir_room_log_history *h,
                                                    weir_room_log_kind kind, size_t i);
uint64_t weir_room_log_history_next_seq(const weir_room_log_history *h, weir_room_log_kind kind);

/**
 * Serializes the live history as a complete file: header, then per kind a
 * BASE record with the seq of its first live entry (its next seq when
 * empty) and its entries. Writes only when cap is large enough; returns the
 * size either way (like snprintf), which is also the live size.
 */
size_t weir_room_log_history_serialize(const weir_room_log_history *h, uint8_t *out, size_t cap);

/* The header and the two framed records, for the file side and the tests. */
#define WEIR_ROOM_LOG_HEADER_LEN 8
#define WEIR_ROOM_LOG_BASE_LEN 28 /* length + crc + a 20-byte payload */
size_t weir_room_log_header_write(uint8_t *out);
size_t weir_room_log_msg_size(const weir_room_log_entry *entry);
/** Writes a MSG record (out has room for weir_room_log_msg_size bytes); returns its size. */
size_t weir_room_log_msg_write(uint8_t *out, weir_room_log_kind kind,
                               const weir_room_log_entry *entry);
/** Writes a BASE record (WEIR_ROOM_LOG_BASE_LEN bytes); returns its size. */
size_t weir_room_log_base_write(uint8_t *out, weir_room_log_kind kind, uint64_t next_seq,
                                int64_t ts_ms);

#endif
