/*
 * One room's data channels (control/datachannel_room.c) driven without
 * sockets: a recording weir_dc_io stands in for the workers' command
 * rings (and can play a full ring, for every worker or for one; a fan-out
 * is recorded as one command and one frame per target, as the worker
 * would send them), the room log is memory-only or a file
 * in a mkdtemp directory. Every check reads the frames back as a client
 * would: parsed JSON, in the order they were queued per channel.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/datachannel_room.h"
#include "weir/alloc.h"
#include "weir/errors.h"

/* ---- a recording io ---- */

typedef struct sent {
    uint64_t peer;
    uint16_t stream;
    bool binary;
    char *data;
    size_t len;
} sent;

static struct {
    sent *items;
    size_t n, cap;
    bool ring_full;        /* every send/fanout/close fails with -WEIR_EAGAIN */
    uint32_t full_workers; /* likewise for the workers whose bit is set */
    size_t fail_from;      /* sends and fan-outs fail once n reaches this (0: never) */
    size_t n_cmds;         /* commands queued: sends and fan-outs */
    size_t n_fanouts;
    size_t max_targets;
    uint64_t closes[64];
    uint16_t close_streams[64];
    size_t n_closes;
    size_t close_attempts;
} rec;

static bool ring_refuses(int worker)
{
    return rec.ring_full || (rec.full_workers & (1u << worker)) ||
           (rec.fail_from && rec.n >= rec.fail_from);
}

static void record(uint64_t peer_id, uint16_t stream, bool binary, const uint8_t *data, size_t len)
{
    if (rec.n == rec.cap) {
        rec.cap = rec.cap ? rec.cap * 2 : 1024;
        rec.items = realloc(rec.items, rec.cap * sizeof *rec.items);
    }
    sent *s = &rec.items[rec.n++];
    s->peer = peer_id;
    s->stream = stream;
    s->binary = binary;
    s->data = malloc(len + 1);
    memcpy(s->data, data, len);
    s->data[len] = '\0';
    s->len = len;
}

static int rec_send(void *user, const weir_dc_peer *peer, uint16_t stream, bool binary,
                    const uint8_t *data, size_t len)
{
    (void)user;
    if (ring_refuses(peer->worker))
        return -WEIR_EAGAIN;
    rec.n_cmds++;
    record(peer->peer_id, stream, binary, data, len);
    return 0;
}

/* Peers live on worker id % 2 (see peer()): a fan-out must only name peers of its worker. */
static int rec_fanout(void *user, int worker, const weir_dc_target *targets, size_t n, bool binary,
                      const uint8_t *data, size_t len)
{
    (void)user;
    cr_assert_gt(n, 0, "empty fan-out");
    if (ring_refuses(worker))
        return -WEIR_EAGAIN;
    rec.n_cmds++;
    rec.n_fanouts++;
    if (n > rec.max_targets)
        rec.max_targets = n;
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq((int)(targets[i].peer_id % 2), worker, "peer %llu in worker %d's fan-out",
                     (unsigned long long)targets[i].peer_id, worker);
        record(targets[i].peer_id, targets[i].stream, binary, data, len);
    }
    return 0;
}

static int rec_close(void *user, const weir_dc_peer *peer, uint16_t stream, const char *reason)
{
    (void)user;
    (void)reason;
    rec.close_attempts++;
    if (rec.ring_full || (rec.full_workers & (1u << peer->worker)))
        return -WEIR_EAGAIN;
    rec.closes[rec.n_closes] = peer->peer_id;
    rec.close_streams[rec.n_closes++] = stream;
    return 0;
}

/* Forgets everything recorded (and frees it). */
static void rec_reset(void)
{
    for (size_t i = 0; i < rec.n; i++)
        free(rec.items[i].data);
    free(rec.items);
    memset(&rec, 0, sizeof rec);
}

static weir_dc_stats stats;
static char dir[64];

static void setup(void)
{
    memset(&rec, 0, sizeof rec);
    memset(&stats, 0, sizeof stats);
    strcpy(dir, "/tmp/weir-dc-room.XXXXXX");
    cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
    rec_reset();
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (e->d_name[0] != '.')
                unlinkat(dirfd(d), e->d_name, 0);
        closedir(d);
        rmdir(dir);
    }
}

TestSuite(datachannel_room, .init = setup, .fini = teardown);

static weir_room_log *memory_log(void)
{
    weir_room_log_config cfg;
    weir_room_log_config_defaults(&cfg);
    weir_room_log *log = weir_room_log_create(&cfg, "room1", 0, NULL, NULL);
    cr_assert(log);
    return log;
}

static weir_room_log *file_log(void)
{
    weir_room_log_config cfg;
    weir_room_log_config_defaults(&cfg);
    cfg.dir = dir;
    int err = 0;
    weir_room_log *log = weir_room_log_create(&cfg, "room1", 0, NULL, &err);
    cr_assert(log, "file log: %s", weir_strerror(err));
    return log;
}

static weir_dc_room *room_with(weir_room_log *log, const weir_dc_limits *lim)
{
    weir_dc_limits def;
    weir_dc_limits_defaults(&def);
    weir_dc_io io = {.send = rec_send, .fanout = rec_fanout, .close = rec_close};
    return weir_dc_room_create("room1", log, lim ? lim : &def, &io, &stats);
}

static weir_dc_peer peer(uint64_t id, weir_role role)
{
    weir_dc_peer p = {.peer_id = id, .worker = (int)(id % 2), .role = role};
    snprintf(p.participant, sizeof p.participant, "p%llu", (unsigned long long)id);
    return p;
}

static void open_ch(weir_dc_room *r, uint64_t id, weir_role role, uint16_t stream,
                    const char *label)
{
    weir_dc_peer p = peer(id, role);
    weir_dc_room_open(r, &p, stream, label);
}

static int say(weir_dc_room *r, uint64_t id, weir_role role, uint16_t stream, const char *text)
{
    return weir_dc_room_message(r, id, role, stream, false, (const uint8_t *)text, strlen(text),
                                1000 + (int64_t)rec.n, 0);
}

static int op(weir_dc_room *r, uint64_t id, uint16_t stream, int n)
{
    char text[64];
    snprintf(text, sizeof text, "{\"op\":\"line\",\"n\":%d}", n);
    return say(r, id, WEIR_ROLE_STUDENT, stream, text);
}

/* Bytes queued on (peer, stream) so far: the worker's sent_total once it drained. */
static uint64_t bytes_to(uint64_t id, uint16_t stream)
{
    uint64_t n = 0;
    for (size_t i = 0; i < rec.n; i++)
        if (rec.items[i].peer == id && rec.items[i].stream == stream)
            n += rec.items[i].len;
    return n;
}

static void drain(weir_dc_room *r, uint64_t id, uint16_t stream)
{
    weir_dc_room_drained(r, id, stream, bytes_to(id, stream));
}

/* The stamped frames received on (peer, stream), in order. */
typedef struct got {
    uint64_t seq[20000];
    int n_data[20000]; /* data.n, or -1 */
    char from[20000][16];
    size_t n;
    size_t errors;
    int last_error;
} got;

static got *received(uint64_t id, uint16_t stream)
{
    got *g = calloc(1, sizeof *g);
    for (size_t i = 0; i < rec.n; i++) {
        sent *s = &rec.items[i];
        if (s->peer != id || s->stream != stream)
            continue;
        cr_assert(!s->binary, "binary frame on a stamped channel");
        json_t *v = json_loads(s->data, 0, NULL);
        cr_assert(v, "not JSON: %s", s->data);
        json_t *err = json_object_get(v, "error");
        if (err) {
            g->errors++;
            g->last_error = (int)json_integer_value(json_object_get(err, "code"));
        } else {
            cr_assert(g->n < 20000);
            g->seq[g->n] = (uint64_t)json_integer_value(json_object_get(v, "seq"));
            json_t *n = json_object_get(json_object_get(v, "data"), "n");
            g->n_data[g->n] = n ? (int)json_integer_value(n) : -1;
            snprintf(g->from[g->n], sizeof g->from[g->n], "%s",
                     json_string_value(json_object_get(v, "from")));
            g->n++;
        }
        json_decref(v);
    }
    return g;
}

/* seq first..last, each once, in order. */
static void assert_seqs(const got *g, uint64_t first, uint64_t last, const char *who)
{
    cr_assert_eq(g->n, last >= first ? last - first + 1 : 0, "%s: %zu frames, want %llu..%llu", who,
                 g->n, (unsigned long long)first, (unsigned long long)last);
    for (size_t i = 0; i < g->n; i++)
        cr_assert_eq(g->seq[i], first + i, "%s: frame %zu has seq %llu, want %llu", who, i,
                     (unsigned long long)g->seq[i], (unsigned long long)(first + i));
}

#define T WEIR_ROLE_TEACHER
#define S WEIR_ROLE_STUDENT
#define WB "whiteboard"

/* ---- stamping ---- */

Test(datachannel_room, everyone_gets_the_same_order_sender_included)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, T, 0, WB);
    open_ch(r, 2, S, 2, WB);
    open_ch(r, 3, S, 4, WB);
    for (int i = 0; i < 30; i++)
        cr_assert_eq(op(r, (uint64_t)(1 + i % 3), (uint16_t)(2 * (i % 3)), i), 0);
    got *g[3];
    for (int k = 0; k < 3; k++) {
        g[k] = received((uint64_t)k + 1, (uint16_t)(2 * k));
        assert_seqs(g[k], 1, 30, "member");
    }
    for (size_t i = 0; i < 30; i++) {
        cr_assert_eq(g[0]->n_data[i], (int)i, "data travels with its seq");
        char want[16];
        snprintf(want, sizeof want, "p%zu", 1 + i % 3);
        cr_assert_str_eq(g[0]->from[i], want);
        cr_assert_eq(g[1]->n_data[i], g[0]->n_data[i]);
        cr_assert_eq(g[2]->n_data[i], g[0]->n_data[i]);
    }
    cr_assert_eq(stats.stamped[WEIR_ROOM_LOG_WHITEBOARD], 30);
    cr_assert_eq(weir_room_log_count(weir_dc_room_log(r), WEIR_ROOM_LOG_WHITEBOARD), 30);
    for (int k = 0; k < 3; k++)
        free(g[k]);
    weir_dc_room_destroy(r);
}

Test(datachannel_room, whiteboard_and_chat_count_separately)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, S, 0, WB);
    open_ch(r, 1, S, 2, "chat");
    op(r, 1, 0, 1);
    say(r, 1, S, 2, "hello");
    op(r, 1, 0, 2);
    say(r, 1, S, 2, "again");
    got *wb = received(1, 0), *chat = received(1, 2);
    assert_seqs(wb, 1, 2, "whiteboard");
    assert_seqs(chat, 1, 2, "chat");
    free(wb);
    free(chat);
    weir_dc_room_destroy(r);
}

/* ---- refusals ---- */

typedef struct refusal_row {
    weir_role role;
    const char *label;
    bool binary;
    const char *text;
    int code;
} refusal_row;

static const refusal_row refusals[] = {
    {WEIR_ROLE_OBSERVER, WB, false, "{\"op\":\"line\"}", 403},
    {WEIR_ROLE_RECORDER, WB, false, "{\"op\":\"line\"}", 403},
    {WEIR_ROLE_OBSERVER, "chat", false, "hi", 403},
    {WEIR_ROLE_STUDENT, WB, false, "{\"op\":\"clear\"}", 403},
    {WEIR_ROLE_STUDENT, WB, true, "\x01\x02", 415},
    {WEIR_ROLE_TEACHER, "chat", true, "\x01\x02", 415},
    {WEIR_ROLE_STUDENT, "chat", false, "\xc3\x28", 400},
};

Test(datachannel_room, refusals_answer_on_the_channel_and_stamp_nothing)
{
    for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
        const refusal_row *row = &refusals[i];
        rec_reset();
        weir_dc_room *r = room_with(memory_log(), NULL);
        open_ch(r, 1, row->role, 0, row->label);
        open_ch(r, 2, WEIR_ROLE_TEACHER, 0, row->label);
        int rc = weir_dc_room_message(r, 1, row->role, 0, row->binary, (const uint8_t *)row->text,
                                      strlen(row->text), 1, 0);
        cr_assert_eq(rc, row->code, "row %zu: %d", i, rc);
        got *mine = received(1, 0), *other = received(2, 0);
        cr_assert_eq(mine->errors, 1, "row %zu", i);
        cr_assert_eq(mine->last_error, row->code, "row %zu", i);
        cr_assert_eq(mine->n + other->n + other->errors, 0, "row %zu: something was delivered", i);
        cr_assert_eq(weir_room_log_next_seq(weir_dc_room_log(r), WEIR_ROOM_LOG_WHITEBOARD), 1);
        cr_assert_eq(weir_room_log_next_seq(weir_dc_room_log(r), WEIR_ROOM_LOG_CHAT), 1);
        free(mine);
        free(other);
        weir_dc_room_destroy(r);
    }
}

Test(datachannel_room, too_big_is_413)
{
    weir_dc_limits lim;
    weir_dc_limits_defaults(&lim);
    lim.max_message_size = 1024;
    weir_dc_room *r = room_with(memory_log(), &lim);
    open_ch(r, 1, S, 0, WB);
    char text[1100];
    memset(text, 'a', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    cr_assert_eq(say(r, 1, S, 0, text), 413, "over the limit");
    /* 1000 bytes fit the limit but not once stamped */
    text[1000] = '\0';
    cr_assert_eq(say(r, 1, S, 0, text), 413, "stamp over the limit");
    text[900] = '\0';
    cr_assert_eq(say(r, 1, S, 0, text), 0);
    got *g = received(1, 0);
    cr_assert_eq(g->errors, 2);
    assert_seqs(g, 1, 1, "after refusals");
    cr_assert_eq(stats.refused[WEIR_DC_REFUSE_TOO_BIG], 2);
    free(g);
    weir_dc_room_destroy(r);
}

/* ---- clear ---- */

Test(datachannel_room, teacher_clear_is_delivered_then_history_is_empty)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, T, 0, WB);
    open_ch(r, 2, S, 0, WB);
    for (int i = 0; i < 5; i++)
        op(r, 2, 0, i);
    cr_assert_eq(say(r, 1, T, 0, "{\"op\":\"clear\"}"), 0);
    op(r, 2, 0, 99);
    got *g = received(2, 0);
    assert_seqs(g, 1, 7, "member");
    cr_assert_eq(g->n_data[5], -1, "the clear itself, seq 6");
    free(g);
    /* a later joiner: only what came after the clear */
    open_ch(r, 3, S, 0, WB);
    g = received(3, 0);
    assert_seqs(g, 7, 7, "late joiner");
    cr_assert_eq(g->n_data[0], 99);
    free(g);
    weir_dc_room_destroy(r);
}

/* ---- late joiners: history, pacing, no gap, no duplicate ---- */

Test(datachannel_room, late_joiner_gets_history_then_live_paced_by_drained)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, S, 0, WB);
    for (int i = 1; i <= 3000; i++)
        op(r, 1, 0, i);
    drain(r, 1, 0);
    open_ch(r, 2, S, 6, WB);
    cr_assert(weir_dc_room_replaying(r, 2, 6));
    got *g = received(2, 6);
    cr_assert_eq(g->n, 256, "the message window holds the rest back: %zu", g->n);
    free(g);
    /* live messages while it replays: queued behind the history */
    for (int i = 3001; i <= 3100; i++) {
        op(r, 1, 0, i);
        if (i % 10 == 0)
            drain(r, 2, 6);
    }
    for (int round = 0; round < 100 && weir_dc_room_replaying(r, 2, 6); round++)
        drain(r, 2, 6);
    cr_assert(!weir_dc_room_replaying(r, 2, 6), "replay finished");
    op(r, 1, 0, 3101);
    g = received(2, 6);
    assert_seqs(g, 1, 3101, "late joiner");
    for (size_t i = 0; i < g->n; i++)
        cr_assert_eq(g->n_data[i], (int)i + 1);
    free(g);
    cr_assert_eq(stats.replayed, 3000);
    drain(r, 2, 6);
    cr_assert_eq(stats.replay_inflight[0], 0, "all confirmed: %u", stats.replay_inflight[0]);
    weir_dc_room_destroy(r);
}

Test(datachannel_room, replay_window_counts_bytes)
{
    weir_dc_limits lim;
    weir_dc_limits_defaults(&lim);
    lim.replay_window_bytes = 4096;
    weir_dc_room *r = room_with(memory_log(), &lim);
    open_ch(r, 1, S, 0, WB);
    char text[600];
    memset(text, 'x', sizeof text - 1);
    text[sizeof text - 1] = '\0';
    for (int i = 0; i < 20; i++)
        say(r, 1, S, 0, text);
    open_ch(r, 2, S, 0, WB);
    uint64_t b = bytes_to(2, 0);
    cr_assert(b >= 4096 && b < 4096 + 700, "outstanding bytes %llu", (unsigned long long)b);
    /* a DRAINED for part of it opens the window only that far */
    weir_dc_room_drained(r, 2, 0, 1300);
    cr_assert(bytes_to(2, 0) - 1300 < 4096 + 700);
    for (int i = 0; i < 20 && weir_dc_room_replaying(r, 2, 0); i++)
        drain(r, 2, 0);
    got *g = received(2, 0);
    assert_seqs(g, 1, 20, "byte-paced");
    free(g);
    weir_dc_room_destroy(r);
}

Test(datachannel_room, replays_share_a_budget_per_worker)
{
    weir_dc_limits lim;
    weir_dc_limits_defaults(&lim);
    lim.replay_worker_msgs = 300;
    weir_dc_room *r = room_with(memory_log(), &lim);
    open_ch(r, 1, S, 0, WB);
    for (int i = 0; i < 1000; i++)
        op(r, 1, 0, i);
    open_ch(r, 2, S, 0, WB); /* worker 0 */
    open_ch(r, 4, S, 0, WB); /* worker 0 too */
    open_ch(r, 3, S, 0, WB); /* worker 1 */
    cr_assert_eq(stats.replay_inflight[0], 300);
    cr_assert_eq(stats.replay_inflight[1], 256, "worker 1 is only held by the channel window");
    got *a = received(2, 0), *b = received(4, 0);
    cr_assert_eq(a->n + b->n, 300);
    free(a);
    free(b);
    /* the first one's confirmation lets the second one move on */
    drain(r, 2, 0);
    b = received(4, 0);
    cr_assert_gt(b->n, 44);
    free(b);
    /* a replaying participant leaving gives its share back */
    weir_dc_room_peer_gone(r, 4);
    weir_dc_room_peer_gone(r, 2);
    cr_assert_eq(stats.replay_inflight[0], 0);
    weir_dc_room_destroy(r);
    cr_assert_eq(stats.replay_inflight[1], 0, "destroy releases too");
}

Test(datachannel_room, clear_during_replay_keeps_the_replay_exact)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, T, 0, WB);
    for (int i = 1; i <= 1000; i++)
        op(r, 1, 0, i);
    open_ch(r, 2, S, 2, WB);
    op(r, 1, 0, 1001);
    cr_assert_eq(say(r, 1, T, 0, "{\"op\":\"clear\"}"), 0);
    op(r, 1, 0, 1003);
    cr_assert_eq(weir_room_log_count(weir_dc_room_log(r), WEIR_ROOM_LOG_WHITEBOARD), 1);
    for (int i = 0; i < 100 && weir_dc_room_replaying(r, 2, 2); i++)
        drain(r, 2, 2);
    got *g = received(2, 2);
    assert_seqs(g, 1, 1003, "replay cut by a clear");
    cr_assert_eq(g->n_data[1001], -1, "the clear");
    cr_assert_eq(g->n_data[1002], 1003);
    free(g);
    weir_dc_room_destroy(r);
}

Test(datachannel_room, chat_keeps_its_cap_and_eviction_during_replay_is_exact)
{
    weir_dc_limits lim;
    weir_dc_limits_defaults(&lim);
    lim.history_cap[WEIR_ROOM_LOG_CHAT] = 200;
    lim.replay_window_msgs = 16;
    weir_room_log_config cfg;
    weir_room_log_config_defaults(&cfg); /* chat 200 */
    weir_dc_room *r = room_with(weir_room_log_create(&cfg, "room1", 0, NULL, NULL), &lim);
    open_ch(r, 1, S, 0, "chat");
    for (int i = 1; i <= 250; i++)
        op(r, 1, 0, i);
    open_ch(r, 2, S, 0, "chat");
    got *g = received(2, 0);
    cr_assert_eq(g->n, 16);
    cr_assert_eq(g->seq[0], 51, "the oldest kept of 250 with a cap of 200");
    free(g);
    /* 100 more evict entries the replay has not sent yet */
    for (int i = 251; i <= 350; i++)
        op(r, 1, 0, i);
    for (int i = 0; i < 100 && weir_dc_room_replaying(r, 2, 0); i++)
        drain(r, 2, 0);
    g = received(2, 0);
    assert_seqs(g, 51, 350, "chat late joiner");
    free(g);
    cr_assert_eq(weir_room_log_count(weir_dc_room_log(r), WEIR_ROOM_LOG_CHAT), 200);
    weir_dc_room_destroy(r);
}

/* ---- other labels ---- */

Test(datachannel_room, other_labels_are_relayed_raw_to_others_only)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, WEIR_ROLE_OBSERVER, 0, "cursor");
    open_ch(r, 2, S, 4, "cursor");
    open_ch(r, 3, S, 0, "other");
    open_ch(r, 4, S, 0, WB);
    const uint8_t bin[] = {0, 1, 2, 255};
    cr_assert_eq(weir_dc_room_message(r, 1, WEIR_ROLE_OBSERVER, 0, true, bin, sizeof bin, 1, 0), 0);
    cr_assert_eq(weir_dc_room_message(r, 1, WEIR_ROLE_OBSERVER, 0, false,
                                      (const uint8_t *)"not json {", 10, 1, 0),
                 0);
    cr_assert_eq(rec.n, 2, "only peer 2 has a `cursor` channel besides the sender");
    cr_assert_eq(rec.items[0].peer, 2);
    cr_assert_eq(rec.items[0].stream, 4);
    cr_assert(rec.items[0].binary);
    cr_assert_eq(rec.items[0].len, sizeof bin);
    cr_assert_eq(memcmp(rec.items[0].data, bin, sizeof bin), 0);
    cr_assert(!rec.items[1].binary);
    cr_assert_str_eq(rec.items[1].data, "not json {");
    cr_assert_eq(stats.relayed, 2);
    cr_assert_eq(weir_room_log_next_seq(weir_dc_room_log(r), WEIR_ROOM_LOG_WHITEBOARD), 1);
    weir_dc_room_destroy(r);
}

/* ---- backpressure ---- */

Test(datachannel_room, a_replay_that_never_drains_is_closed_alone)
{
    weir_dc_limits lim;
    weir_dc_limits_defaults(&lim);
    lim.max_backlog = 2000;
    lim.replay_window_msgs = 4;
    weir_dc_room *r = room_with(memory_log(), &lim);
    open_ch(r, 1, S, 0, WB);
    open_ch(r, 3, S, 0, WB);
    for (int i = 0; i < 10; i++)
        op(r, 1, 0, i);
    open_ch(r, 2, S, 0, WB); /* replays 4, then never drains */
    for (int i = 0; i < 100; i++)
        op(r, 1, 0, i);
    cr_assert_eq(rec.n_closes, 1);
    cr_assert_eq(rec.closes[0], 2);
    cr_assert_eq(stats.closed[WEIR_DC_CLOSE_BACKLOG], 1);
    got *g = received(3, 0);
    assert_seqs(g, 1, 110, "a bystander");
    free(g);
    /* its messages are ignored from now on; DATA_CLOSED forgets it without counting twice */
    cr_assert_eq(op(r, 2, 0, 0), 0);
    weir_dc_room_closed(r, 2, 0);
    cr_assert_eq(weir_dc_room_channels(r), 2);
    cr_assert_eq(stats.closed[WEIR_DC_CLOSE_REMOTE], 0);
    weir_dc_room_destroy(r);
}

/* ---- fan-out and a full command ring ---- */

Test(datachannel_room, a_live_message_is_one_command_per_worker)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    for (uint64_t id = 1; id <= 52; id++) /* 2 senders + 50 receivers, on workers 0 and 1 */
        open_ch(r, id, S, 0, WB);
    size_t before = rec.n_cmds;
    for (int i = 0; i < 300; i++)
        cr_assert_eq(op(r, 1 + (uint64_t)(i % 2), 0, i), 0);
    cr_assert_eq(rec.n_cmds - before, 300 * 2, "%zu commands for 300 messages on 2 workers",
                 rec.n_cmds - before);
    cr_assert_eq(rec.n_fanouts, 600);
    cr_assert_eq(rec.max_targets, 26);
    cr_assert_eq(stats.fanouts, 600);
    cr_assert_eq(stats.delivered, 300 * 52);
    for (uint64_t id = 1; id <= 52; id++) {
        got *g = received(id, 0);
        assert_seqs(g, 1, 300, "every channel, the senders' included");
        for (size_t i = 0; i < g->n; i++)
            cr_assert_eq(g->n_data[i], (int)i, "channel %llu frame %zu", (unsigned long long)id, i);
        free(g);
    }
    weir_dc_room_destroy(r);
}

Test(datachannel_room, a_full_ring_defers_live_messages_and_retries_them_in_order)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    for (uint64_t id = 1; id <= 6; id++)
        open_ch(r, id, S, 0, WB);
    op(r, 1, 0, 0);
    rec.ring_full = true;
    for (int i = 1; i <= 20; i++)
        cr_assert_eq(op(r, 1, 0, i), 0, "stamped although the ring is full");
    cr_assert_eq(stats.closed[WEIR_DC_CLOSE_QUEUE_FULL], 0, "nobody closed for a full ring");
    cr_assert_eq(rec.close_attempts, 0);
    cr_assert_eq(stats.stamped[WEIR_ROOM_LOG_WHITEBOARD], 21);
    cr_assert_gt(weir_dc_room_deferred_bytes(r, 4, 0), 0);
    got *g = received(4, 0);
    assert_seqs(g, 1, 1, "before the ring came back");
    free(g);
    /* the tick retries: per worker one fan-out per held message, in order */
    rec.ring_full = false;
    size_t before = rec.n_cmds;
    (void)weir_dc_room_tick(r, 0);
    cr_assert_eq(rec.n_cmds - before, 20 * 2, "%zu commands", rec.n_cmds - before);
    cr_assert_eq(weir_dc_room_deferred_bytes(r, 4, 0), 0);
    op(r, 2, 0, 21); /* straight through again */
    for (uint64_t id = 1; id <= 6; id++) {
        g = received(id, 0);
        assert_seqs(g, 1, 22, "after the retry");
        free(g);
    }
    weir_dc_room_destroy(r);
}

Test(datachannel_room, the_next_message_or_drained_retries_before_anything_newer)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, S, 0, WB);
    open_ch(r, 2, S, 0, WB);
    open_ch(r, 3, S, 0, "chat");
    rec.ring_full = true;
    op(r, 1, 0, 1);
    op(r, 1, 0, 2);
    rec.ring_full = false;
    op(r, 1, 0, 3); /* the two held ones go first */
    got *g = received(2, 0);
    assert_seqs(g, 1, 3, "retried by the next message");
    for (size_t i = 0; i < 3; i++)
        cr_assert_eq(g->n_data[i], (int)i + 1);
    free(g);
    rec.ring_full = true;
    op(r, 1, 0, 4);
    rec.ring_full = false;
    drain(r, 3, 0); /* any DATA_DRAINED of the room: a worker is taking commands */
    g = received(1, 0);
    assert_seqs(g, 1, 4, "retried on DATA_DRAINED");
    free(g);
    weir_dc_room_destroy(r);
}

Test(datachannel_room, a_stuck_worker_delays_only_its_channels_until_they_owe_the_limit)
{
    weir_dc_limits lim;
    weir_dc_limits_defaults(&lim);
    lim.max_backlog = 2000;
    weir_dc_room *r = room_with(memory_log(), &lim);
    for (uint64_t id = 1; id <= 4; id++) /* 2 and 4 on worker 0, 1 and 3 on worker 1 */
        open_ch(r, id, S, 0, WB);
    rec.full_workers = 1u << 1;
    int sent_ops = 0;
    while (!stats.closed[WEIR_DC_CLOSE_QUEUE_FULL]) {
        cr_assert_eq(op(r, 2, 0, sent_ops), 0);
        sent_ops++;
        cr_assert_lt(sent_ops, 1000);
        if (!stats.closed[WEIR_DC_CLOSE_QUEUE_FULL])
            cr_assert_leq(weir_dc_room_deferred_bytes(r, 1, 0), lim.max_backlog);
    }
    cr_assert_gt(sent_ops, 10, "closed after %d messages: the limit is in bytes owed", sent_ops);
    cr_assert_eq(stats.closed[WEIR_DC_CLOSE_QUEUE_FULL], 2, "both channels of worker 1");
    cr_assert_eq(rec.n_closes, 0, "their close waits for the ring too");
    for (uint64_t id = 2; id <= 4; id += 2) {
        got *g = received(id, 0);
        assert_seqs(g, 1, (uint64_t)sent_ops, "worker 0 is not delayed");
        free(g);
    }
    cr_assert_eq(bytes_to(1, 0), 0);
    rec.full_workers = 0;
    (void)weir_dc_room_tick(r, 0);
    cr_assert_eq(rec.n_closes, 2, "closes retried on tick");
    cr_assert_eq(bytes_to(1, 0), 0, "a closed channel gets nothing it was owed");
    op(r, 2, 0, 0);
    got *g = received(4, 0);
    assert_seqs(g, 1, (uint64_t)sent_ops + 1, "the others go on");
    free(g);
    weir_dc_room_destroy(r);
}

Test(datachannel_room, relayed_messages_wait_for_a_full_ring_too)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, S, 0, "cursor");
    open_ch(r, 2, S, 0, "cursor");
    open_ch(r, 4, S, 0, "cursor");
    const uint8_t bin[] = {9, 0, 7};
    rec.ring_full = true;
    cr_assert_eq(weir_dc_room_message(r, 1, S, 0, true, bin, sizeof bin, 1, 0), 0);
    cr_assert_eq(weir_dc_room_message(r, 1, S, 0, false, (const uint8_t *)"t", 1, 1, 0), 0);
    cr_assert_eq(rec.n, 0);
    rec.ring_full = false;
    (void)weir_dc_room_tick(r, 0);
    cr_assert_eq(rec.n_cmds, 2, "one fan-out per message: 2 and 4 are both on worker 0");
    cr_assert_eq(rec.n, 4);
    for (size_t i = 0; i < 2; i++) {
        cr_assert(rec.items[i].binary, "binary kept");
        cr_assert_eq(memcmp(rec.items[i].data, bin, sizeof bin), 0);
        cr_assert(!rec.items[2 + i].binary);
        cr_assert_str_eq(rec.items[2 + i].data, "t");
    }
    cr_assert_eq(bytes_to(1, 0), 0, "not back to the sender");
    weir_dc_room_destroy(r);
}

Test(datachannel_room, replaced_stream_and_peer_gone)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, S, 0, WB);
    open_ch(r, 1, S, 0, "chat"); /* same stream again */
    cr_assert_eq(weir_dc_room_channels(r), 1);
    cr_assert_eq(stats.closed[WEIR_DC_CLOSE_REPLACED], 1);
    say(r, 1, S, 0, "hi");
    cr_assert_eq(weir_room_log_next_seq(weir_dc_room_log(r), WEIR_ROOM_LOG_CHAT), 2);
    open_ch(r, 1, S, 2, "x");
    weir_dc_room_peer_gone(r, 1);
    cr_assert_eq(weir_dc_room_channels(r), 0);
    cr_assert_eq(stats.closed[WEIR_DC_CLOSE_LEFT], 2);
    cr_assert_eq(say(r, 1, S, 0, "after"), 0, "unknown channel: ignored");
    weir_dc_room_destroy(r);
}

/* ---- persistence ---- */

Test(datachannel_room, history_and_seqs_survive_a_reopen)
{
    weir_dc_room *r = room_with(file_log(), NULL);
    open_ch(r, 1, T, 0, WB);
    for (int i = 1; i <= 20; i++)
        op(r, 1, 0, i);
    say(r, 1, T, 0, "{\"op\":\"clear\"}");
    for (int i = 22; i <= 30; i++)
        op(r, 1, 0, i);
    got *before = received(1, 0);
    weir_dc_room_destroy(r); /* the room closed, or the server stopped */

    size_t mark = rec.n;
    r = room_with(file_log(), NULL);
    open_ch(r, 7, S, 0, WB);
    op(r, 7, 0, 31);
    got *after = received(7, 0);
    assert_seqs(after, 22, 31, "after reopen");
    /* the same bytes as the live frames of those seqs */
    size_t k = 0;
    for (size_t i = 0; i < mark; i++) {
        if (rec.items[i].peer != 1)
            continue;
        json_t *v = json_loads(rec.items[i].data, 0, NULL);
        uint64_t seq = (uint64_t)json_integer_value(json_object_get(v, "seq"));
        json_decref(v);
        if (seq < 22)
            continue;
        for (; k < rec.n && (rec.items[k].peer != 7); k++)
            ;
        cr_assert_str_eq(rec.items[k].data, rec.items[i].data, "replayed frame differs");
        k++;
    }
    free(before);
    free(after);
    weir_dc_room_destroy(r);
}

Test(datachannel_room, a_failing_disk_falls_back_to_memory_without_reusing_seqs)
{
    weir_room_log *log = file_log();
    weir_dc_room *r = room_with(log, NULL);
    open_ch(r, 1, S, 0, WB);
    for (int i = 1; i <= 5; i++)
        op(r, 1, 0, i);
    weir_room_log_detach(log); /* what store() does after a write error */
    cr_assert(!weir_room_log_on_disk(log));
    for (int i = 6; i <= 8; i++)
        cr_assert_eq(op(r, 1, 0, i), 0);
    got *g = received(1, 0);
    assert_seqs(g, 1, 8, "across the fallback");
    free(g);
    weir_dc_room_destroy(r);
}

Test(datachannel_room, a_hundred_thousand_op_history_streams_inside_the_window)
{
    weir_dc_room *r = room_with(memory_log(), NULL);
    open_ch(r, 1, S, 0, WB);
    for (int i = 1; i <= 100000; i++)
        op(r, 1, 0, i);
    size_t mark = rec.n;
    open_ch(r, 2, S, 0, WB);
    uint64_t acked = 0, max_outstanding = 0;
    int rounds = 0;
    while (weir_dc_room_replaying(r, 2, 0)) {
        uint64_t sent = bytes_to(2, 0);
        if (sent - acked > max_outstanding)
            max_outstanding = sent - acked;
        acked = sent;
        weir_dc_room_drained(r, 2, 0, sent);
        cr_assert_lt(++rounds, 2000, "replay does not finish");
    }
    cr_assert_leq(max_outstanding, 256 * 1024, "outstanding %llu",
                  (unsigned long long)max_outstanding);
    uint64_t want = 1;
    for (size_t i = mark; i < rec.n; i++) {
        if (rec.items[i].peer != 2)
            continue;
        unsigned long long seq = 0;
        cr_assert_eq(sscanf(rec.items[i].data, "{\"seq\":%llu,", &seq), 1);
        cr_assert_eq(seq, want, "frame %zu: seq %llu, want %llu", i, seq, (unsigned long long)want);
        want++;
    }
    cr_assert_eq(want, 100001);
    weir_dc_room_destroy(r);
}
