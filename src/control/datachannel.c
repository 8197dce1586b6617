#define WEIR_LOG_MODULE "control.dc"
/*
 * Data channels: worker events in, worker commands out, one
 * weir_dc_room per room that has channels, its log on disk (contract in
 * datachannel.h). The fsync schedule of the logs has its own lws timer:
 * the control tick (200 ms) is slower than the 50 ms a power loss may
 * cost, which is the promise in docs/config.md.
 */
#include "control/datachannel.h"

#include <errno.h>
#include <glib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "control/control.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

struct weir_datachannels {
    lws_sorted_usec_list_t flush_sul; /* first: the timer callback casts back */
    /* borrowed: */
    weir_control *ctl;
    /* owned: */
    GHashTable *rooms; /* room id → weir_dc_room */
    char *dir;         /* "<data_dir>/rooms"; NULL: history in memory only */
    /* state: */
    weir_dc_stats stats;
    weir_dc_limits limits;
    weir_room_log_config log_cfg;
    bool flush_scheduled;
};

void weir_datachannels_media_limits(const weir_config *cfg, weir_worker_media *media)
{
    media->dc_max_message_size = (uint32_t)cfg->data_max_message_size;
    media->dc_max_buffered = (uint32_t)cfg->data_max_buffered_per_channel;
    media->dc_flood_messages_per_s = (uint32_t)cfg->data_flood_messages_per_s;
    media->dc_flood_bytes_per_s = (uint32_t)cfg->data_flood_bytes_per_s;
}

/* ---- worker commands ---- */

static int queue_cmd(weir_control *ctl, const weir_dc_peer *peer, weir_worker_cmd_type type,
                     uint16_t stream, bool binary, const uint8_t *data, size_t len)
{
    if (peer->worker < 0 || peer->worker >= ctl->n_workers)
        return -WEIR_EINVAL;
    weir_worker_data *d = weir_malloc(sizeof *d + len);
    d->stream = stream;
    d->binary = binary;
    d->len = (uint32_t)len;
    if (len)
        memcpy(d->data, data, len);
    weir_worker_cmd cmd = {.type = type, .peer_id = peer->peer_id, .payload = d};
    snprintf(cmd.participant_id, sizeof cmd.participant_id, "%s", peer->participant);
    int rc = weir_worker_send(ctl->workers[peer->worker], &cmd);
    if (rc < 0)
        weir_free(d);
    return rc;
}

static int io_send(void *user, const weir_dc_peer *peer, uint16_t stream, bool binary,
                   const uint8_t *data, size_t len)
{
    weir_datachannels *dcs = user;
    return queue_cmd(dcs->ctl, peer, WEIR_WORKER_CMD_DATA_SEND, stream, binary, data, len);
}

/* One command for every target on the worker: the message bytes once, then who gets them. */
static int io_fanout(void *user, int worker, const weir_dc_target *targets, size_t n, bool binary,
                     const uint8_t *data, size_t len)
{
    weir_datachannels *dcs = user;
    weir_control *ctl = dcs->ctl;
    if (worker < 0 || worker >= ctl->n_workers || n == 0 || n > UINT32_MAX)
        return -WEIR_EINVAL;
    weir_worker_fanout *f = weir_malloc(sizeof *f + n * sizeof f->targets[0] + len);
    f->binary = binary;
    f->len = (uint32_t)len;
    f->n_targets = (uint32_t)n;
    for (size_t i = 0; i < n; i++)
        f->targets[i] =
            (weir_worker_fanout_target){.peer_id = targets[i].peer_id, .stream = targets[i].stream};
    if (len)
        memcpy(weir_worker_fanout_data(f), data, len);
    weir_worker_cmd cmd = {.type = WEIR_WORKER_CMD_DATA_FANOUT, .payload = f};
    int rc = weir_worker_send(ctl->workers[worker], &cmd);
    if (rc < 0)
        weir_free(f);
    return rc;
}

static int io_close(void *user, const weir_dc_peer *peer, uint16_t stream, const char *reason)
{
    weir_datachannels *dcs = user;
    return queue_cmd(dcs->ctl, peer, WEIR_WORKER_CMD_DATA_CLOSE, stream, false,
                     (const uint8_t *)reason, strlen(reason));
}

/* ---- the history directory ---- */

/* mkdir -p: every missing component, 0700 (room logs are private to the server). */
static int make_dirs(const char *path)
{
    char *p = weir_strdup(path);
    int rc = 0;
    for (char *s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            rc = -errno;
        *s = c;
        if (c == '\0')
            break;
    }
    weir_free(p);
    return rc;
}

static char *prepare_dir(const weir_config *cfg)
{
    if (!cfg->data_history_on_disk) {
        WEIR_LOG_INFO("history memory-only ([data] history_on_disk = false)");
        return NULL;
    }
    size_t n = strlen(cfg->data_dir) + sizeof "/rooms";
    char *dir = weir_malloc(n);
    snprintf(dir, n, "%s/rooms", cfg->data_dir[0] ? cfg->data_dir : ".");
    int rc = make_dirs(dir);
    if (rc == 0 && access(dir, W_OK | X_OK) < 0)
        rc = -errno;
    if (rc < 0) {
        /* Once, here: every room falls back to memory without logging it again. */
        WEIR_LOG_ERROR("history_dir_unusable dir=%s error=\"%s\": whiteboard and chat history "
                       "kept in memory only (lost on restart)",
                       dir, weir_strerror(rc));
        weir_free(dir);
        return NULL;
    }
    WEIR_LOG_INFO("history dir=%s", dir);
    return dir;
}

weir_datachannels *weir_datachannels_create(weir_control *ctl)
{
    const weir_config *cfg = ctl->cfg;
    weir_datachannels *dcs = WEIR_NEW(weir_datachannels);
    dcs->ctl = ctl;
    dcs->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, weir_free,
                                       (GDestroyNotify)weir_dc_room_destroy);
    dcs->dir = prepare_dir(cfg);
    weir_dc_limits_defaults(&dcs->limits);
    dcs->limits.max_message_size = (uint32_t)cfg->data_max_message_size;
    dcs->limits.max_backlog = (uint32_t)cfg->data_max_buffered_per_channel;
    dcs->limits.history_cap[WEIR_ROOM_LOG_CHAT] = (uint32_t)cfg->data_chat_history;
    weir_room_log_config_defaults(&dcs->log_cfg);
    dcs->log_cfg.fsync_interval_ms = (uint32_t)cfg->data_fsync_interval_ms;
    dcs->log_cfg.max_entries[WEIR_ROOM_LOG_CHAT] = (uint32_t)cfg->data_chat_history;
    dcs->log_cfg.compact_ratio = (uint32_t)cfg->data_compact_ratio;
    return dcs;
}

void weir_datachannels_destroy(weir_datachannels *dcs)
{
    if (!dcs)
        return;
    if (dcs->flush_scheduled && dcs->ctl->lws)
        lws_sul_cancel(&dcs->flush_sul);
    g_hash_table_destroy(dcs->rooms);
    weir_free(dcs->dir);
    weir_free(dcs);
}

/* ---- rooms ---- */

static weir_room_log *open_log(weir_datachannels *dcs, const char *room_id, int64_t now_us)
{
    weir_room_log_config cfg = dcs->log_cfg;
    cfg.dir = dcs->dir;
    weir_room_log *log = NULL;
    int err = 0;
    if (cfg.dir) {
        log = weir_room_log_create(&cfg, room_id, now_us, NULL, &err);
        if (!log) /* room_log said why; seqs restart for this room while it stays in memory */
            WEIR_LOG_ERROR("history_memory_only room=%s error=\"%s\"", room_id, weir_strerror(err));
    }
    if (!log) {
        cfg.dir = NULL;
        log = weir_room_log_create(&cfg, room_id, now_us, NULL, NULL);
    }
    return log;
}

static weir_dc_room *find_room(weir_datachannels *dcs, const weir_room *room)
{
    return room ? g_hash_table_lookup(dcs->rooms, weir_room_id(room)) : NULL;
}

/* A stamped whiteboard or chat message: the room's observer (a recording's timeline) sees it. */
static void io_stamped(void *user, const char *room_id, const char *label, const uint8_t *frame,
                       size_t len)
{
    weir_datachannels *dcs = user;
    weir_room *room = weir_rooms_find(dcs->ctl->rooms, room_id);
    if (!room)
        return;
    json_t *msg = json_loadb((const char *)frame, len, 0, NULL);
    if (!msg)
        return;
    json_t *params = json_pack("{s:s, s:o}", "label", label, "message", msg);
    weir_room_observe(room, "data_message", params);
    json_decref(params);
}

static weir_dc_room *get_room(weir_datachannels *dcs, const weir_room *room, int64_t now_us)
{
    weir_dc_room *r = find_room(dcs, room);
    if (r)
        return r;
    weir_room_log *log = open_log(dcs, weir_room_id(room), now_us);
    if (!log)
        return NULL;
    weir_dc_io io = {.send = io_send,
                     .fanout = io_fanout,
                     .close = io_close,
                     .stamped = io_stamped,
                     .user = dcs};
    r = weir_dc_room_create(weir_room_id(room), log, &dcs->limits, &io, &dcs->stats);
    g_hash_table_insert(dcs->rooms, weir_strdup(weir_room_id(room)), r);
    return r;
}

/* ---- the fsync timer ---- */

static void schedule_flush(weir_datachannels *dcs, int64_t now_us);

static void on_flush(lws_sorted_usec_list_t *sul)
{
    weir_datachannels *dcs = (weir_datachannels *)sul;
    dcs->flush_scheduled = false;
    int64_t now_us = weir_clock_now_us();
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, dcs->rooms);
    while (g_hash_table_iter_next(&it, &key, &value))
        (void)weir_room_log_tick(weir_dc_room_log(value), now_us); /* failures are logged */
    schedule_flush(dcs, now_us);
}

/* Arms the timer at the earliest pending fdatasync, if any and not armed yet. */
static void schedule_flush(weir_datachannels *dcs, int64_t now_us)
{
    if (dcs->flush_scheduled || !dcs->ctl->lws)
        return;
    int64_t due = INT64_MAX;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, dcs->rooms);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        int64_t t = weir_room_log_next_timeout(weir_dc_room_log(value));
        if (t < due)
            due = t;
    }
    if (due == INT64_MAX)
        return;
    int64_t in_us = due > now_us ? due - now_us : 0;
    dcs->flush_scheduled = true;
    lws_sul_schedule(dcs->ctl->lws, 0, &dcs->flush_sul, on_flush, in_us + 1000);
}

/* ---- events ---- */

static void peer_of(const weir_participant *p, weir_dc_peer *out)
{
    *out = (weir_dc_peer){.peer_id = p->peer_id, .worker = p->worker_index, .role = p->role};
    snprintf(out->participant, sizeof out->participant, "%s", p->id);
}

void weir_datachannels_on_event(weir_control *ctl, const weir_worker_event *ev)
{
    weir_datachannels *dcs = ctl->datachannels;
    weir_participant *p = weir_control_find_peer(ctl, ev->peer_id);
    int64_t now_us = weir_clock_now_us();
    weir_dc_room *r = NULL;
    if (dcs && p && p->room)
        r = ev->type == WEIR_WORKER_EVENT_DATA_OPEN ? get_room(dcs, p->room, now_us)
                                                    : find_room(dcs, p->room);
    if (r) {
        switch (ev->type) {
        case WEIR_WORKER_EVENT_DATA_OPEN: {
            weir_dc_peer peer;
            peer_of(p, &peer);
            weir_dc_room_open(r, &peer, ev->stream, ev->text);
            break;
        }
        case WEIR_WORKER_EVENT_DATA_MESSAGE:
            (void)weir_dc_room_message(r, p->peer_id, p->role, ev->stream, ev->binary, ev->data,
                                       ev->data_len, weir_clock_wall_ms(), now_us);
            schedule_flush(dcs, now_us);
            break;
        case WEIR_WORKER_EVENT_DATA_CLOSED:
            weir_dc_room_closed(r, p->peer_id, ev->stream);
            break;
        case WEIR_WORKER_EVENT_DATA_DRAINED:
            weir_dc_room_drained(r, p->peer_id, ev->stream, ev->sent_total);
            break;
        default:
            break;
        }
    }
    if (ev->type == WEIR_WORKER_EVENT_DATA_MESSAGE)
        weir_free(ev->data);
}

void weir_datachannels_participant_gone(weir_control *ctl, const weir_participant *p)
{
    weir_dc_room *r = ctl->datachannels ? find_room(ctl->datachannels, p->room) : NULL;
    if (r)
        weir_dc_room_peer_gone(r, p->peer_id);
}

void weir_datachannels_room_closed(weir_control *ctl, const weir_room *room)
{
    if (ctl->datachannels)
        g_hash_table_remove(ctl->datachannels->rooms, weir_room_id(room));
}

void weir_datachannels_tick(weir_control *ctl, int64_t now_us)
{
    weir_datachannels *dcs = ctl->datachannels;
    if (!dcs)
        return;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, dcs->rooms);
    while (g_hash_table_iter_next(&it, &key, &value))
        (void)weir_dc_room_tick(value, now_us);
    schedule_flush(dcs, now_us);
}

const weir_dc_stats *weir_datachannels_stats(const weir_datachannels *dcs)
{
    return &dcs->stats;
}

size_t weir_datachannels_open_channels(const weir_datachannels *dcs)
{
    size_t n = 0;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, dcs->rooms);
    while (g_hash_table_iter_next(&it, &key, &value))
        n += weir_dc_room_channels(value);
    return n;
}

size_t weir_datachannels_history_entries(const weir_datachannels *dcs, weir_room_log_kind kind)
{
    size_t n = 0;
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, dcs->rooms);
    while (g_hash_table_iter_next(&it, &key, &value))
        n += weir_room_log_count(weir_dc_room_log(value), kind);
    return n;
}
