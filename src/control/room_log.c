#define WEIR_LOG_MODULE "control.room_log"
/*
 * The room log's file side (contract and format in room_log.h; what the
 * bytes mean is in room_log_history.c). Control thread only.
 *
 * Why the file is read whole at open: replay must see every record anyway,
 * and compaction keeps the file within compact_ratio of the live history,
 * which the log holds in memory regardless.
 */
#include "control/room_log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#define ROOM_ID_MAX 64
#define NAME_MAX_LEN (ROOM_ID_MAX * 3 + sizeof ".wlog.tmp")

struct weir_room_log {
    /* owned: */
    weir_room_log_history *h;
    uint8_t *scratch; /* one record being appended */
    size_t scratch_cap;
    int dir_fd;
    int fd; /* O_APPEND, flock'ed */
    /* state: */
    char room[ROOM_ID_MAX + 1];
    char name[NAME_MAX_LEN];
    char tmp_name[NAME_MAX_LEN];
    weir_room_log_config cfg; /* dir cleared: borrowed only during create */
    uint64_t file_bytes;
    int64_t last_now_us;
    int64_t dirty_since_us; /* first append not yet fdatasync'ed */
    bool dirty;
    bool broken; /* a write could not be undone or a sync failed: read-only */
    /* fd < 0 with broken false: memory-only (no dir given, or detached after a failure) */
};

void weir_room_log_config_defaults(weir_room_log_config *cfg)
{
    *cfg = (weir_room_log_config){
        .fsync_interval_ms = 50,
        .max_entries = {[WEIR_ROOM_LOG_WHITEBOARD] = 0, [WEIR_ROOM_LOG_CHAT] = 200},
        .compact_ratio = 2,
        .compact_min_bytes = 64 * 1024,
    };
}

/* "<room id, bytes outside [A-Za-z0-9_-] as %XX>.wlog": no '/', no "..", no leading '.'. */
static int file_names(weir_room_log *log, const char *room_id)
{
    size_t n = strlen(room_id);
    if (n == 0)
        return -WEIR_EINVAL;
    if (n > ROOM_ID_MAX)
        return -WEIR_ETOOBIG;
    memcpy(log->room, room_id, n + 1);
    char *p = log->name;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)room_id[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-')
            *p++ = (char)c;
        else
            p += sprintf(p, "%%%02X", c);
    }
    strcpy(p, ".wlog");
    size_t len = (size_t)(p - log->name) + strlen(".wlog");
    memcpy(log->tmp_name, log->name, len);
    strcpy(log->tmp_name + len, ".tmp");
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, uint8_t **out, size_t *out_len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    size_t len = (size_t)st.st_size, got = 0;
    uint8_t *buf = weir_malloc(len ? len : 1);
    while (got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int err = r < 0 ? -errno : -WEIR_EIO;
            weir_free(buf);
            return err;
        }
        got += (size_t)r;
    }
    *out = buf;
    *out_len = len;
    return 0;
}

/* A failed fdatasync may have dropped the dirty pages (Linux marks them clean): stop writing. */
static int sync_now(weir_room_log *log)
{
    if (log->fd < 0) {
        log->dirty = false;
        return 0;
    }
    if (fdatasync(log->fd) < 0) {
        int err = -errno;
        log->broken = true;
        WEIR_LOG_ERROR("fsync_failed room=%s error=\"%s\" log=read-only", log->room,
                       weir_strerror(err));
        return err;
    }
    log->dirty = false;
    return 0;
}

/* Appends n bytes; on failure cuts the file back so no partial record stays behind. */
static int append_bytes(weir_room_log *log, const uint8_t *p, size_t n)
{
    if (log->broken)
        return -WEIR_EIO;
    if (log->fd < 0)
        return 0;
    int rc = write_all(log->fd, p, n);
    if (rc < 0) {
        if (ftruncate(log->fd, (off_t)log->file_bytes) < 0)
            log->broken = true;
        WEIR_LOG_ERROR("append_failed room=%s error=\"%s\"%s", log->room, weir_strerror(rc),
                       log->broken ? " log=read-only" : "");
        return rc;
    }
    log->file_bytes += n;
    return 0;
}

static int open_log_file(weir_room_log *log)
{
    log->fd = openat(log->dir_fd, log->name, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log->fd < 0)
        return -errno;
    if (flock(log->fd, LOCK_EX | LOCK_NB) < 0)
        return errno == EWOULDBLOCK ? -WEIR_EEXIST : -errno;
    /* a snapshot that never got renamed: the log file is complete without it */
    if (unlinkat(log->dir_fd, log->tmp_name, 0) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

static const char *stop_name(weir_room_log_stop s)
{
    return s == WEIR_ROOM_LOG_STOP_TORN      ? "torn"
           : s == WEIR_ROOM_LOG_STOP_CORRUPT ? "corrupt"
                                             : "end";
}

/* Replays, then cuts off a bad tail and writes the header of a new file. */
static int replay_and_repair(weir_room_log *log, weir_room_log_replay *r)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_all(log->fd, &buf, &len);
    if (rc < 0)
        return rc;
    rc = weir_room_log_history_replay(log->h, buf, len, r);
    weir_free(buf);
    if (rc < 0)
        return rc;
    log->file_bytes = r->accepted_bytes;
    if (r->dropped_bytes) {
        WEIR_LOG_WARN("replay_dropped room=%s reason=%s offset=%" PRIu64 " bytes=%" PRIu64,
                      log->room, stop_name(r->stop), r->accepted_bytes, r->dropped_bytes);
        if (ftruncate(log->fd, (off_t)r->accepted_bytes) < 0)
            return -errno;
    }
    if (r->accepted_bytes == 0) {
        uint8_t header[WEIR_ROOM_LOG_HEADER_LEN];
        rc = append_bytes(log, header, weir_room_log_header_write(header));
        if (rc < 0)
            return rc;
        /* a new file: its directory entry must be durable too */
        if (fsync(log->dir_fd) < 0)
            return -errno;
    }
    if (r->dropped_bytes || r->accepted_bytes == 0)
        return sync_now(log);
    return 0;
}

static bool should_compact(const weir_room_log *log)
{
    uint64_t live = weir_room_log_live_bytes(log);
    return log->cfg.compact_ratio && log->file_bytes > log->cfg.compact_min_bytes &&
           log->file_bytes / log->cfg.compact_ratio > live;
}

weir_room_log *weir_room_log_create(const weir_room_log_config *cfg, const char *room_id,
                                    int64_t now_us, weir_room_log_replay *replay, int *err)
{
    weir_room_log *log = WEIR_NEW(weir_room_log);
    weir_room_log_replay r = {0};
    log->dir_fd = log->fd = -1;
    log->cfg = *cfg;
    log->cfg.dir = NULL;
    log->last_now_us = now_us;
    int rc = file_names(log, room_id);
    if (rc < 0)
        goto fail;
    log->h = weir_room_log_history_create(cfg->max_entries);
    if (!cfg->dir) {
        WEIR_LOG_DEBUG("opened room=%s memory-only", log->room);
        if (replay)
            *replay = r;
        return log;
    }
    log->dir_fd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (log->dir_fd < 0) {
        rc = -errno;
        goto fail;
    }
    if ((rc = open_log_file(log)) < 0 || (rc = replay_and_repair(log, &r)) < 0)
        goto fail;
    WEIR_LOG_INFO(
        "opened room=%s file=%s records=%" PRIu64 " whiteboard=%zu chat=%zu bytes=%" PRIu64,
        log->room, log->name, r.records, weir_room_log_count(log, WEIR_ROOM_LOG_WHITEBOARD),
        weir_room_log_count(log, WEIR_ROOM_LOG_CHAT), log->file_bytes);
    if (should_compact(log))
        (void)weir_room_log_compact(log); /* logged; the log works without it */
    if (replay)
        *replay = r;
    return log;

fail:
    WEIR_LOG_ERROR("open_failed room=%s dir=%s error=\"%s\"", room_id, cfg->dir ? cfg->dir : "",
                   weir_strerror(rc));
    if (err)
        *err = rc;
    weir_room_log_destroy(log);
    return NULL;
}

void weir_room_log_destroy(weir_room_log *log)
{
    if (!log)
        return;
    if (log->dirty && !log->broken)
        (void)sync_now(log);
    if (log->fd >= 0)
        close(log->fd);
    if (log->dir_fd >= 0)
        close(log->dir_fd);
    weir_room_log_history_destroy(log->h);
    weir_free(log->scratch);
    weir_free(log);
}

static uint8_t *scratch(weir_room_log *log, size_t n)
{
    if (n > log->scratch_cap) {
        log->scratch = weir_realloc(log->scratch, n);
        log->scratch_cap = n;
    }
    return log->scratch;
}

static int64_t clamp_now(weir_room_log *log, int64_t now_us)
{
    if (now_us > log->last_now_us)
        log->last_now_us = now_us;
    return log->last_now_us;
}

int weir_room_log_append(weir_room_log *log, weir_room_log_kind kind,
                         const weir_room_log_entry *entry, int64_t now_us)
{
    now_us = clamp_now(log, now_us);
    int rc = weir_room_log_history_check(log->h, kind, entry);
    if (rc < 0)
        return rc;
    size_t n = weir_room_log_msg_size(entry);
    uint8_t *rec = scratch(log, n);
    weir_room_log_msg_write(rec, kind, entry);
    if ((rc = append_bytes(log, rec, n)) < 0)
        return rc;
    (void)weir_room_log_history_push(log->h, kind, entry); /* checked above */
    if (log->fd < 0)
        return 0;
    if (!log->dirty) {
        log->dirty = true;
        log->dirty_since_us = now_us;
    }
    if (log->cfg.fsync_interval_ms == 0)
        return sync_now(log);
    return 0;
}

int weir_room_log_clear(weir_room_log *log, weir_room_log_kind kind, uint64_t seq, int64_t now_us)
{
    (void)clamp_now(log, now_us);
    weir_room_log_entry probe = {.seq = seq};
    int rc = weir_room_log_history_check(log->h, kind, &probe);
    if (rc < 0)
        return rc;
    uint8_t rec[WEIR_ROOM_LOG_BASE_LEN];
    size_t n = weir_room_log_base_write(rec, kind, seq + 1, 0);
    if ((rc = append_bytes(log, rec, n)) < 0 || (rc = sync_now(log)) < 0)
        return rc;
    (void)weir_room_log_history_reset(log->h, kind, seq + 1);
    return 0;
}

int weir_room_log_tick(weir_room_log *log, int64_t now_us)
{
    now_us = clamp_now(log, now_us);
    int rc = 0;
    if (log->dirty && !log->broken &&
        now_us - log->dirty_since_us >= (int64_t)log->cfg.fsync_interval_ms * 1000)
        rc = sync_now(log);
    if (rc == 0 && !log->broken && should_compact(log))
        rc = weir_room_log_compact(log);
    return rc;
}

int64_t weir_room_log_next_timeout(const weir_room_log *log)
{
    if (!log->dirty || log->broken)
        return INT64_MAX;
    return log->dirty_since_us + (int64_t)log->cfg.fsync_interval_ms * 1000;
}

/* Writes the live history to the tmp file, synced; returns its fd (locked) or -errno. */
static int write_snapshot(weir_room_log *log, uint64_t *size)
{
    size_t n = weir_room_log_history_serialize(log->h, NULL, 0);
    uint8_t *buf = weir_malloc(n);
    weir_room_log_history_serialize(log->h, buf, n);
    int fd =
        openat(log->dir_fd, log->tmp_name, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -errno : 0;
    if (rc == 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
        rc = -errno;
    if (rc == 0)
        rc = write_all(fd, buf, n);
    if (rc == 0 && fdatasync(fd) < 0)
        rc = -errno;
    weir_free(buf);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        unlinkat(log->dir_fd, log->tmp_name, 0);
        return rc;
    }
    *size = n;
    return fd;
}

int weir_room_log_compact(weir_room_log *log)
{
    if (log->broken)
        return -WEIR_EIO;
    if (log->fd < 0)
        return 0;
    uint64_t before = log->file_bytes, size = 0;
    int fd = write_snapshot(log, &size);
    if (fd >= 0 && renameat(log->dir_fd, log->tmp_name, log->dir_fd, log->name) < 0) {
        int rc = -errno;
        close(fd);
        unlinkat(log->dir_fd, log->tmp_name, 0);
        fd = rc;
    }
    if (fd < 0) {
        WEIR_LOG_ERROR("compact_failed room=%s error=\"%s\"", log->room, weir_strerror(fd));
        return fd;
    }
    /* the new file is the log now; the old inode (and its lock) goes with the old fd */
    close(log->fd);
    log->fd = fd;
    log->file_bytes = size;
    log->dirty = false;
    int rc = 0;
    if (fsync(log->dir_fd) < 0) {
        /* the rename may not survive a power loss; the old file would still be complete */
        rc = -errno;
        WEIR_LOG_WARN("compact_dir_fsync_failed room=%s error=\"%s\"", log->room,
                      weir_strerror(rc));
    }
    WEIR_LOG_INFO("compacted room=%s bytes_before=%" PRIu64 " bytes_after=%" PRIu64, log->room,
                  before, size);
    return rc;
}

size_t weir_room_log_count(const weir_room_log *log, weir_room_log_kind kind)
{
    return weir_room_log_history_count(log->h, kind);
}

const weir_room_log_entry *weir_room_log_at(const weir_room_log *log, weir_room_log_kind kind,
                                            size_t i)
{
    return weir_room_log_history_at(log->h, kind, i);
}

uint64_t weir_room_log_next_seq(const weir_room_log *log, weir_room_log_kind kind)
{
    return weir_room_log_history_next_seq(log->h, kind);
}

bool weir_room_log_on_disk(const weir_room_log *log)
{
    return log->fd >= 0;
}

void weir_room_log_detach(weir_room_log *log)
{
    if (log->fd < 0 && !log->broken)
        return;
    if (log->fd >= 0)
        close(log->fd);
    if (log->dir_fd >= 0)
        close(log->dir_fd);
    log->fd = log->dir_fd = -1;
    log->broken = false;
    log->dirty = false;
    log->file_bytes = 0;
    WEIR_LOG_WARN("detached room=%s history=memory-only", log->room);
}

uint64_t weir_room_log_file_bytes(const weir_room_log *log)
{
    return log->file_bytes;
}

uint64_t weir_room_log_live_bytes(const weir_room_log *log)
{
    return weir_room_log_history_serialize(log->h, NULL, 0);
}
