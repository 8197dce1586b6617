#define WEIR_LOG_MODULE "control.dc"
/*
 * One room's data channels (contract in datachannel_room.h). The room log
 * is the history and the seq counter; this file decides who gets what and
 * when. Channels sit in one flat array: a room has at most a few hundred,
 * and every stamped message visits all of them anyway.
 */
#include "control/datachannel_room.h"

#include <inttypes.h>
#include <string.h>

#include "control/datachannel_frame.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#define KIND_OTHER (-1)

/* A rendered frame shared by the queues of several channels. */
typedef struct frame {
    uint32_t refs;
    uint32_t len;
    bool binary; /* relayed binary (other labels); stamped frames are text */
    uint8_t data[];
} frame;

typedef struct qnode {
    struct qnode *next;
    frame *f;
    bool history; /* copied from the history before a clear/eviction: not backlog */
} qnode;

/*
 * The queue of a channel holds, in CH_REPLAY, what waits behind the replay
 * cursor; in CH_LIVE, the live messages a full command ring held back
 * (normally empty). Either way backlog_bytes is what the channel is owed
 * on the control side, and max_backlog caps it.
 */

typedef enum {
    CH_REPLAY,  /* history and queued messages still to send, under the window */
    CH_LIVE,    /* stamped messages go straight out */
    CH_CLOSING, /* we asked the worker to close it; waiting for DATA_CLOSED */
} ch_state;

typedef struct channel {
    weir_dc_peer peer;
    uint16_t stream;
    int kind; /* weir_room_log_kind, or KIND_OTHER */
    ch_state state;
    char *label; /* owned */
    /* replay: history seqs [replay_next, replay_end), then the queue */
    uint64_t replay_next, replay_end;
    qnode *q_head, *q_tail;
    uint64_t backlog_bytes; /* live frames in the queue */
    /* window: bytes we queued on it vs bytes the worker says left its queue */
    uint64_t sent_bytes, acked_bytes;
    uint64_t *fifo; /* sent_bytes after each windowed message, oldest first */
    size_t fifo_head, fifo_count, fifo_cap;
    /* closing: */
    bool close_pending; /* the close command still has to be queued */
    const char *close_why;
} channel;

struct weir_dc_room {
    char id[WEIR_ROOM_LOG_FROM_MAX + 1];
    /* owned: */
    weir_room_log *log;
    channel **ch;
    size_t n, cap;
    /* borrowed: */
    weir_dc_stats *stats;
    /* state: */
    weir_dc_limits lim;
    weir_dc_io io;
    /* scratch for fan-outs (capacity scap, at least n): */
    channel **batch;
    weir_dc_target *targets;
    size_t scap;
};

static const char *const refuse_names[WEIR_DC_REFUSE_COUNT] = {"role", "binary", "too_big",
                                                               "not_utf8", "storage"};
static const char *const close_names[WEIR_DC_CLOSE_COUNT] = {"remote", "backlog",  "queue_full",
                                                             "left",   "replaced", "room_closed"};
static const char *const kind_labels[WEIR_ROOM_LOG_KINDS] = {"whiteboard", "chat"};

const char *weir_dc_refuse_name(weir_dc_refuse r)
{
    return (unsigned)r < WEIR_DC_REFUSE_COUNT ? refuse_names[r] : "?";
}

const char *weir_dc_close_name(weir_dc_close c)
{
    return (unsigned)c < WEIR_DC_CLOSE_COUNT ? close_names[c] : "?";
}

void weir_dc_limits_defaults(weir_dc_limits *l)
{
    *l = (weir_dc_limits){
        .max_message_size = 262144,
        .max_backlog = 1024 * 1024,
        .replay_window_bytes = 256 * 1024,
        .replay_window_msgs = 256,
        /* a quarter of the worker's 4096-slot command ring: live messages always find room */
        .replay_worker_msgs = 1024,
        .history_cap = {[WEIR_ROOM_LOG_WHITEBOARD] = 0, [WEIR_ROOM_LOG_CHAT] = 200},
    };
}

weir_dc_room *weir_dc_room_create(const char *room_id, weir_room_log *log,
                                  const weir_dc_limits *limits, const weir_dc_io *io,
                                  weir_dc_stats *stats)
{
    weir_dc_room *r = WEIR_NEW(weir_dc_room);
    snprintf(r->id, sizeof r->id, "%s", room_id);
    r->log = log;
    r->lim = *limits;
    r->io = *io;
    r->stats = stats;
    return r;
}

/* ---- frames and queues ---- */

static frame *frame_new(bool binary, const uint8_t *data, size_t len)
{
    frame *f = weir_malloc(sizeof *f + len);
    f->refs = 1;
    f->len = (uint32_t)len;
    f->binary = binary;
    memcpy(f->data, data, len);
    return f;
}

static void frame_unref(frame *f)
{
    if (f && --f->refs == 0)
        weir_free(f);
}

static void queue_push(channel *c, frame *f, bool history)
{
    qnode *n = WEIR_NEW(qnode);
    n->f = f;
    f->refs++;
    n->history = history;
    if (c->q_tail)
        c->q_tail->next = n;
    else
        c->q_head = n;
    c->q_tail = n;
    if (!history)
        c->backlog_bytes += f->len;
}

static void queue_pop(channel *c)
{
    qnode *n = c->q_head;
    c->q_head = n->next;
    if (!c->q_head)
        c->q_tail = NULL;
    if (!n->history)
        c->backlog_bytes -= n->f->len;
    frame_unref(n->f);
    weir_free(n);
}

static void queue_clear(channel *c)
{
    while (c->q_head)
        queue_pop(c);
}

/* ---- the window ---- */

static void fifo_push(weir_dc_room *r, channel *c)
{
    if (c->fifo_count == c->fifo_cap) {
        size_t cap = c->fifo_cap ? c->fifo_cap * 2 : 64;
        uint64_t *n = weir_malloc(cap * sizeof *n);
        for (size_t i = 0; i < c->fifo_count; i++)
            n[i] = c->fifo[(c->fifo_head + i) % c->fifo_cap];
        weir_free(c->fifo);
        c->fifo = n;
        c->fifo_cap = cap;
        c->fifo_head = 0;
    }
    c->fifo[(c->fifo_head + c->fifo_count) % c->fifo_cap] = c->sent_bytes;
    c->fifo_count++;
    r->stats->replay_inflight[c->peer.worker]++;
}

/* Messages whose last byte the worker has handed on are no longer in flight. */
static void fifo_ack(weir_dc_room *r, channel *c, uint64_t sent_total)
{
    while (c->fifo_count && c->fifo[c->fifo_head] <= sent_total) {
        c->fifo_head = (c->fifo_head + 1) % c->fifo_cap;
        c->fifo_count--;
        r->stats->replay_inflight[c->peer.worker]--;
    }
}

static void fifo_release(weir_dc_room *r, channel *c)
{
    r->stats->replay_inflight[c->peer.worker] -= (uint32_t)c->fifo_count;
    c->fifo_count = 0;
}

static bool window_open(const weir_dc_room *r, const channel *c)
{
    return c->sent_bytes - c->acked_bytes < r->lim.replay_window_bytes &&
           c->fifo_count < r->lim.replay_window_msgs &&
           r->stats->replay_inflight[c->peer.worker] < r->lim.replay_worker_msgs;
}

/* Every byte queued on the channel counts, as it does in the worker's sent_total. */
static int send_on(weir_dc_room *r, channel *c, bool binary, const uint8_t *data, size_t len,
                   bool windowed)
{
    int rc = r->io.send(r->io.user, &c->peer, c->stream, binary, data, len);
    if (rc < 0) {
        r->stats->send_failed++;
        return rc;
    }
    c->sent_bytes += len;
    if (windowed)
        fifo_push(r, c);
    return 0;
}

/* ---- channels ---- */

static channel *find(const weir_dc_room *r, uint64_t peer_id, uint16_t stream, size_t *at)
{
    for (size_t i = 0; i < r->n; i++) {
        if (r->ch[i]->peer.peer_id == peer_id && r->ch[i]->stream == stream) {
            if (at)
                *at = i;
            return r->ch[i];
        }
    }
    return NULL;
}

static void channel_free(weir_dc_room *r, channel *c)
{
    fifo_release(r, c);
    queue_clear(c);
    weir_free(c->fifo);
    weir_free(c->label);
    weir_free(c);
}

/* Drops the channel from the room; counted under `why` unless it was closed by us already. */
static void forget(weir_dc_room *r, size_t at, weir_dc_close why)
{
    channel *c = r->ch[at];
    if (c->state != CH_CLOSING)
        r->stats->closed[why]++;
    WEIR_LOG_INFO("channel_gone room=%s participant=%s stream=%u label=\"%.64s\" reason=%s", r->id,
                  c->peer.participant, c->stream, c->label,
                  c->state == CH_CLOSING ? c->close_why : weir_dc_close_name(why));
    channel_free(r, c);
    r->ch[at] = r->ch[--r->n];
}

static void try_close(weir_dc_room *r, channel *c)
{
    c->close_pending = r->io.close(r->io.user, &c->peer, c->stream, c->close_why) < 0;
    if (c->close_pending)
        r->stats->send_failed++;
}

/* Stops sending to the channel and asks its worker to close it (stream reset). */
static void request_close(weir_dc_room *r, channel *c, weir_dc_close why)
{
    if (c->state == CH_CLOSING)
        return;
    WEIR_LOG_WARN("channel_closing room=%s participant=%s label=\"%.64s\" stream=%u reason=%s "
                  "queued_bytes=%" PRIu64 " unconfirmed_bytes=%" PRIu64,
                  r->id, c->peer.participant, c->label, c->stream, weir_dc_close_name(why),
                  c->backlog_bytes, c->sent_bytes - c->acked_bytes);
    r->stats->closed[why]++;
    c->state = CH_CLOSING;
    c->close_why = weir_dc_close_name(why);
    queue_clear(c);
    fifo_release(r, c);
    try_close(r, c);
}

/* ---- replay ---- */

/* Index of the first entry of kind with seq >= seq (count when none). Seqs increase. */
static size_t lower_bound(const weir_room_log *log, int kind, uint64_t seq)
{
    size_t lo = 0, hi = weir_room_log_count(log, (weir_room_log_kind)kind);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (weir_room_log_at(log, (weir_room_log_kind)kind, mid)->seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Sends one history entry; 1 sent, 0 nothing left in the range, < 0 could not queue. */
static int replay_one(weir_dc_room *r, channel *c)
{
    size_t i = lower_bound(r->log, c->kind, c->replay_next);
    const weir_room_log_entry *e = weir_room_log_at(r->log, (weir_room_log_kind)c->kind, i);
    if (!e || e->seq >= c->replay_end) {
        c->replay_next = c->replay_end;
        return 0;
    }
    uint8_t *buf;
    size_t len = weir_dc_frame_stamped(e, &buf);
    int rc = send_on(r, c, false, buf, len, true);
    weir_free(buf);
    if (rc < 0)
        return rc;
    c->replay_next = e->seq + 1;
    r->stats->replayed++;
    r->stats->delivered++;
    return 1;
}

/* Sends what the window allows: history first, then the queue; live when both are done. */
static void pump(weir_dc_room *r, channel *c)
{
    while (c->state == CH_REPLAY) {
        if (c->replay_next < c->replay_end) {
            if (!window_open(r, c))
                return;
            int rc = replay_one(r, c);
            if (rc < 0)
                return;
            continue;
        }
        if (!c->q_head) {
            c->state = CH_LIVE;
            WEIR_LOG_DEBUG("channel_live room=%s participant=%s stream=%u sent_bytes=%" PRIu64,
                           r->id, c->peer.participant, c->stream, c->sent_bytes);
            return;
        }
        if (!window_open(r, c))
            return;
        frame *f = c->q_head->f;
        if (send_on(r, c, f->binary, f->data, f->len, true) < 0)
            return;
        r->stats->delivered++;
        queue_pop(c);
    }
}

static void pump_all(weir_dc_room *r)
{
    for (size_t i = 0; i < r->n; i++)
        pump(r, r->ch[i]);
}

/*
 * The history of kind is about to lose entries (a clear, or the cap evicting
 * the oldest): channels still replaying get their remaining range copied
 * into their queue, ahead of the live messages already waiting there.
 */
static void materialize(weir_dc_room *r, int kind)
{
    for (size_t i = 0; i < r->n; i++) {
        channel *c = r->ch[i];
        if (c->kind != kind || c->state != CH_REPLAY || c->replay_next >= c->replay_end)
            continue;
        qnode *old_head = c->q_head, *old_tail = c->q_tail;
        c->q_head = c->q_tail = NULL;
        size_t n = weir_room_log_count(r->log, (weir_room_log_kind)kind);
        for (size_t k = lower_bound(r->log, kind, c->replay_next); k < n; k++) {
            const weir_room_log_entry *e = weir_room_log_at(r->log, (weir_room_log_kind)kind, k);
            if (e->seq >= c->replay_end)
                break;
            uint8_t *buf;
            size_t len = weir_dc_frame_stamped(e, &buf);
            frame *f = frame_new(false, buf, len);
            weir_free(buf);
            queue_push(c, f, true);
            frame_unref(f);
        }
        if (c->q_tail) {
            c->q_tail->next = old_head;
            if (old_tail)
                c->q_tail = old_tail;
        } else {
            c->q_head = old_head;
            c->q_tail = old_tail;
        }
        c->replay_next = c->replay_end;
    }
}

/* ---- events ---- */

static int label_kind(const char *label)
{
    for (int k = 0; k < WEIR_ROOM_LOG_KINDS; k++)
        if (strcmp(label, kind_labels[k]) == 0)
            return k;
    return KIND_OTHER;
}

void weir_dc_room_open(weir_dc_room *r, const weir_dc_peer *peer, uint16_t stream,
                       const char *label)
{
    size_t at;
    if (find(r, peer->peer_id, stream, &at))
        forget(r, at, WEIR_DC_CLOSE_REPLACED);
    channel *c = WEIR_NEW(channel);
    c->peer = *peer;
    if (c->peer.worker < 0 || c->peer.worker >= WEIR_DC_MAX_WORKERS)
        c->peer.worker = 0;
    c->stream = stream;
    c->label = weir_strdup(label);
    c->kind = label_kind(label);
    c->state = CH_LIVE;
    size_t history = 0;
    if (c->kind != KIND_OTHER) {
        c->state = CH_REPLAY;
        c->replay_end = weir_room_log_next_seq(r->log, (weir_room_log_kind)c->kind);
        history = weir_room_log_count(r->log, (weir_room_log_kind)c->kind);
    }
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 8;
        r->ch = weir_realloc(r->ch, r->cap * sizeof *r->ch);
    }
    r->ch[r->n++] = c;
    r->stats->opened++;
    WEIR_LOG_INFO("channel_open room=%s participant=%s stream=%u label=\"%.64s\" history=%zu",
                  r->id, peer->participant, stream, label, history);
    pump(r, c);
}

void weir_dc_room_closed(weir_dc_room *r, uint64_t peer_id, uint16_t stream)
{
    size_t at;
    if (find(r, peer_id, stream, &at))
        forget(r, at, WEIR_DC_CLOSE_REMOTE);
}

void weir_dc_room_peer_gone(weir_dc_room *r, uint64_t peer_id)
{
    for (size_t i = r->n; i-- > 0;)
        if (r->ch[i]->peer.peer_id == peer_id)
            forget(r, i, WEIR_DC_CLOSE_LEFT);
}

static int refuse(weir_dc_room *r, channel *c, weir_dc_refuse why, int code, const char *message)
{
    r->stats->refused[why]++;
    uint8_t *buf;
    size_t len = weir_dc_frame_error(code, message, &buf);
    /* the error is not part of the stamped order: it may overtake a replay */
    (void)send_on(r, c, false, buf, len, false);
    weir_free(buf);
    WEIR_LOG_DEBUG("refused room=%s participant=%s label=%s code=%d reason=%s", r->id,
                   c->peer.participant, c->label, code, weir_dc_refuse_name(why));
    return code;
}

/* ---- live fan-out ---- */

static void ensure_scratch(weir_dc_room *r)
{
    if (r->scap >= r->n)
        return;
    r->scap = r->cap;
    r->batch = weir_realloc(r->batch, r->scap * sizeof *r->batch);
    r->targets = weir_realloc(r->targets, r->scap * sizeof *r->targets);
}

/* One command for the n channels of batch (all on one worker): 0 queued, < 0 nothing was. */
static int fan_out(weir_dc_room *r, channel **batch, size_t n, bool binary, const uint8_t *data,
                   size_t len)
{
    for (size_t i = 0; i < n; i++)
        r->targets[i] =
            (weir_dc_target){.peer_id = batch[i]->peer.peer_id, .stream = batch[i]->stream};
    int rc = r->io.fanout(r->io.user, batch[0]->peer.worker, r->targets, n, binary, data, len);
    if (rc < 0) {
        r->stats->send_failed++;
        return rc;
    }
    r->stats->fanouts++;
    for (size_t i = 0; i < n; i++) {
        batch[i]->sent_bytes += len;
        r->stats->delivered++;
    }
    return 0;
}

/* A live message the ring refused: it waits in the channel's queue, up to max_backlog owed. */
static void defer(weir_dc_room *r, channel *c, frame *f)
{
    r->stats->deferred++;
    queue_push(c, f, false);
    if (c->backlog_bytes > r->lim.max_backlog)
        request_close(r, c, WEIR_DC_CLOSE_QUEUE_FULL);
}

/*
 * Retries what full rings held back: per worker, the channels whose oldest
 * waiting frame is the same go out in one fan-out (they were deferred
 * together, so they usually are). A worker whose ring is still full is
 * left alone until the next call; every channel keeps its own order.
 */
static void flush_deferred(weir_dc_room *r)
{
    uint64_t blocked = 0; /* bit per worker (WEIR_DC_MAX_WORKERS = 64) */
    ensure_scratch(r);
    for (;;) {
        channel *first = NULL;
        for (size_t i = 0; i < r->n && !first; i++) {
            channel *c = r->ch[i];
            if (c->state == CH_LIVE && c->q_head && !(blocked & (1ull << c->peer.worker)))
                first = c;
        }
        if (!first)
            return;
        frame *f = first->q_head->f;
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++) {
            channel *c = r->ch[i];
            if (c->state == CH_LIVE && c->q_head && c->q_head->f == f &&
                c->peer.worker == first->peer.worker)
                r->batch[n++] = c;
        }
        if (fan_out(r, r->batch, n, f->binary, f->data, f->len) < 0) {
            blocked |= 1ull << first->peer.worker;
            continue;
        }
        for (size_t i = 0; i < n; i++)
            queue_pop(r->batch[i]);
    }
}

/*
 * Sends one message to the live channels in batch[0..n) (reordered in
 * place): one fan-out per worker. Channels still owed older messages, or
 * whose worker's ring is full, get it queued behind those instead.
 */
static void deliver_live(weir_dc_room *r, size_t n, bool binary, const uint8_t *data, size_t len)
{
    frame *f = NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) { /* owed older messages: keep the order */
        channel *c = r->batch[i];
        if (c->q_head) {
            if (!f)
                f = frame_new(binary, data, len);
            defer(r, c, f);
        } else {
            r->batch[k++] = c;
        }
    }
    while (k) {
        /* move the channels of batch[0]'s worker to the front */
        int worker = r->batch[0]->peer.worker;
        size_t m = 0;
        for (size_t i = 0; i < k; i++) {
            if (r->batch[i]->peer.worker == worker) {
                channel *t = r->batch[m];
                r->batch[m++] = r->batch[i];
                r->batch[i] = t;
            }
        }
        if (fan_out(r, r->batch, m, binary, data, len) < 0) {
            if (!f)
                f = frame_new(binary, data, len);
            for (size_t i = 0; i < m; i++)
                defer(r, r->batch[i], f);
        }
        memmove(r->batch, r->batch + m, (k - m) * sizeof *r->batch);
        k -= m;
    }
    frame_unref(f);
}

/* Hands one stamped frame to every channel of the kind: live ones now, replaying ones queued. */
static void deliver(weir_dc_room *r, int kind, const uint8_t *data, size_t len)
{
    flush_deferred(r); /* older messages first, if the rings have room again */
    ensure_scratch(r);
    frame *f = NULL;
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        channel *c = r->ch[i];
        if (c->kind != kind || c->state == CH_CLOSING)
            continue;
        if (c->state == CH_LIVE) {
            r->batch[n++] = c;
            continue;
        }
        if (!f)
            f = frame_new(false, data, len);
        queue_push(c, f, false);
        if (c->backlog_bytes > r->lim.max_backlog)
            request_close(r, c, WEIR_DC_CLOSE_BACKLOG);
        else
            pump(r, c);
    }
    frame_unref(f);
    if (n)
        deliver_live(r, n, false, data, len);
}

/* Storage errors (not the caller's): fall back to memory so the room keeps working. */
static int store(weir_dc_room *r, int kind, const weir_room_log_entry *e, bool clear,
                 int64_t now_us)
{
    weir_room_log_kind k = (weir_room_log_kind)kind;
    int rc = clear ? weir_room_log_clear(r->log, k, e->seq, now_us)
                   : weir_room_log_append(r->log, k, e, now_us);
    if (rc < 0 && rc != -WEIR_EINVAL && rc != -WEIR_ETOOBIG && weir_room_log_on_disk(r->log)) {
        WEIR_LOG_ERROR("history_write_failed room=%s label=%s error=\"%s\" history=memory-only",
                       r->id, kind_labels[kind], weir_strerror(rc));
        weir_room_log_detach(r->log);
        rc = clear ? weir_room_log_clear(r->log, k, e->seq, now_us)
                   : weir_room_log_append(r->log, k, e, now_us);
    }
    return rc;
}

static int stamp(weir_dc_room *r, channel *c, weir_role role, const uint8_t *text, size_t len,
                 int64_t now_ms, int64_t now_us)
{
    int kind = c->kind;
    if (role == WEIR_ROLE_OBSERVER || role == WEIR_ROLE_RECORDER)
        return refuse(r, c, WEIR_DC_REFUSE_ROLE, 403, "observers and recorders may not send here");
    weir_dc_data d;
    if (weir_dc_data_from_text(text, len, &d) < 0)
        return refuse(r, c, WEIR_DC_REFUSE_NOT_UTF8, 400, "text is not valid UTF-8");
    bool clear = kind == WEIR_ROOM_LOG_WHITEBOARD && d.is_clear;
    if (clear && role != WEIR_ROLE_TEACHER) {
        weir_dc_data_free(&d);
        return refuse(r, c, WEIR_DC_REFUSE_ROLE, 403, "only a teacher may clear the whiteboard");
    }
    weir_room_log_entry e = {
        .seq = weir_room_log_next_seq(r->log, (weir_room_log_kind)kind),
        .ts_ms = now_ms,
        .from = c->peer.participant,
        .from_len = (uint16_t)strlen(c->peer.participant),
        .data = (const uint8_t *)d.json,
        .data_len = (uint32_t)d.len,
    };
    if (d.len > WEIR_ROOM_LOG_DATA_MAX || weir_dc_frame_stamped_len(&e) > r->lim.max_message_size) {
        weir_dc_data_free(&d);
        return refuse(r, c, WEIR_DC_REFUSE_TOO_BIG, 413, "stamped message over max_message_size");
    }
    uint32_t cap = r->lim.history_cap[kind];
    if (clear || (cap && weir_room_log_count(r->log, (weir_room_log_kind)kind) >= cap))
        materialize(r, kind);
    uint8_t *buf;
    size_t flen = weir_dc_frame_stamped(&e, &buf);
    int rc = store(r, kind, &e, clear, now_us);
    weir_dc_data_free(&d);
    if (rc < 0) {
        weir_free(buf);
        return refuse(r, c, WEIR_DC_REFUSE_STORAGE, 500, "history unavailable");
    }
    r->stats->stamped[kind]++;
    if (clear)
        WEIR_LOG_INFO("cleared room=%s label=%s seq=%" PRIu64 " by=%s", r->id, kind_labels[kind],
                      e.seq, c->peer.participant);
    deliver(r, kind, buf, flen);
    if (r->io.stamped)
        r->io.stamped(r->io.user, r->id, kind_labels[kind], buf, flen);
    weir_free(buf);
    return 0;
}

static void relay(weir_dc_room *r, const channel *from, bool binary, const uint8_t *data,
                  size_t len)
{
    flush_deferred(r);
    ensure_scratch(r);
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        channel *c = r->ch[i];
        if (c->state != CH_LIVE || c->peer.peer_id == from->peer.peer_id ||
            strcmp(c->label, from->label) != 0)
            continue;
        r->batch[n++] = c;
    }
    r->stats->relayed += n; /* now, or after a retry */
    if (n)
        deliver_live(r, n, binary, data, len);
}

int weir_dc_room_message(weir_dc_room *r, uint64_t peer_id, weir_role role, uint16_t stream,
                         bool binary, const uint8_t *data, size_t len, int64_t now_ms,
                         int64_t now_us)
{
    channel *c = find(r, peer_id, stream, NULL);
    if (!c || c->state == CH_CLOSING)
        return 0;
    /* the SCTP layer closes channels over what we announce; this guards the rest */
    if (len > r->lim.max_message_size)
        return refuse(r, c, WEIR_DC_REFUSE_TOO_BIG, 413, "message over max_message_size");
    if (c->kind == KIND_OTHER) {
        relay(r, c, binary, data, len);
        return 0;
    }
    if (binary)
        return refuse(r, c, WEIR_DC_REFUSE_BINARY, 415, "binary messages are not accepted here");
    return stamp(r, c, role, data, len, now_ms, now_us);
}

void weir_dc_room_drained(weir_dc_room *r, uint64_t peer_id, uint16_t stream, uint64_t sent_total)
{
    channel *c = find(r, peer_id, stream, NULL);
    if (!c)
        return;
    if (sent_total > c->acked_bytes)
        c->acked_bytes = sent_total < c->sent_bytes ? sent_total : c->sent_bytes;
    fifo_ack(r, c, sent_total);
    /* The worker's budget is shared: the others waiting on it go first, so one fast reader
     * cannot keep the whole budget to itself. */
    for (size_t i = 0; i < r->n; i++)
        if (r->ch[i] != c)
            pump(r, r->ch[i]);
    pump(r, c);
    flush_deferred(r); /* a worker that drains is taking commands again */
}

int weir_dc_room_tick(weir_dc_room *r, int64_t now_us)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->ch[i]->state == CH_CLOSING && r->ch[i]->close_pending)
            try_close(r, r->ch[i]);
    pump_all(r);
    flush_deferred(r);
    return weir_room_log_tick(r->log, now_us);
}

void weir_dc_room_destroy(weir_dc_room *r)
{
    if (!r)
        return;
    while (r->n)
        forget(r, r->n - 1, WEIR_DC_CLOSE_ROOM);
    weir_free(r->ch);
    weir_free(r->batch);
    weir_free(r->targets);
    weir_room_log_destroy(r->log);
    weir_free(r);
}

size_t weir_dc_room_channels(const weir_dc_room *r)
{
    return r->n;
}

uint64_t weir_dc_room_deferred_bytes(const weir_dc_room *r, uint64_t peer_id, uint16_t stream)
{
    channel *c = find(r, peer_id, stream, NULL);
    return c && c->state == CH_LIVE ? c->backlog_bytes : 0;
}

bool weir_dc_room_replaying(const weir_dc_room *r, uint64_t peer_id, uint16_t stream)
{
    channel *c = find(r, peer_id, stream, NULL);
    return c && c->state == CH_REPLAY;
}

weir_room_log *weir_dc_room_log(weir_dc_room *r)
{
    return r->log;
}
