/*
 * shell/sctp.c: two real usrsctp associations in one process, wired back to
 * back through poll_transmit/handle_packet (a is the DTLS client, b the
 * server), with usrsctp's timers driven by weir_sctp_global_tick on a
 * virtual clock. Nothing is mocked: the packets are the ones usrsctp made.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shell/sctp.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define MAX_EVENTS 20000

typedef struct rec {
    weir_sctp_event_type type;
    uint16_t stream;
    bool binary;
    uint8_t *data;
    size_t len;
    char label[WEIR_SCTP_LABEL_MAX + 1];
    char protocol[WEIR_SCTP_LABEL_MAX + 1];
    char reason[120];
    uint64_t sent_total;
} rec;

typedef struct side {
    weir_sctp *s;
    rec *ev;
    size_t n_ev;
    int wakes;
    bool hold; /* keep this side's outgoing packets (a stalled path) */
    uint8_t **held;
    size_t *held_len;
    size_t n_held;
} side;

static side A, B;
static int64_t now_us = 1000000;
static unsigned drop_every; /* drop every Nth packet in either direction; 0 = none */
static unsigned pkt_counter;

static void on_wake(void *user)
{
    ((side *)user)->wakes++;
}

static weir_sctp *make(side *sd, bool client, uint32_t max_msg, uint32_t remote_max,
                       uint32_t max_buffered)
{
    weir_sctp_config cfg = {
        .local_port = WEIR_SCTP_PORT,
        .remote_port = WEIR_SCTP_PORT,
        .max_message_size = max_msg,
        .remote_max_message_size = remote_max,
        .max_buffered_per_channel = max_buffered,
        .dtls_client = client,
        .wake = on_wake,
        .wake_user = sd,
        .log_id = client ? "a" : "b",
    };
    return weir_sctp_create(&cfg);
}

static void setup_pair(uint32_t max_a, uint32_t max_b, uint32_t buffered)
{
    memset(&A, 0, sizeof A);
    memset(&B, 0, sizeof B);
    A.ev = calloc(MAX_EVENTS, sizeof(rec));
    B.ev = calloc(MAX_EVENTS, sizeof(rec));
    cr_assert_eq(weir_sctp_global_init(), 0);
    A.s = make(&A, true, max_a, max_b, buffered);
    B.s = make(&B, false, max_b, max_a, buffered);
    cr_assert_not_null(A.s);
    cr_assert_not_null(B.s);
}

static void clear_events(side *sd)
{
    for (size_t i = 0; i < sd->n_ev; i++)
        free(sd->ev[i].data);
    sd->n_ev = 0;
}

static void teardown_pair(void)
{
    weir_sctp_destroy(A.s);
    weir_sctp_destroy(B.s);
    clear_events(&A);
    clear_events(&B);
    for (size_t i = 0; i < A.n_held; i++)
        free(A.held[i]);
    free(A.held);
    free(A.held_len);
    free(A.ev);
    free(B.ev);
}

static void collect(side *sd)
{
    weir_sctp_event e;
    while (weir_sctp_poll_event(sd->s, &e) == 1) {
        cr_assert_lt(sd->n_ev, MAX_EVENTS);
        rec *r = &sd->ev[sd->n_ev++];
        memset(r, 0, sizeof *r);
        r->type = e.type;
        r->stream = e.stream;
        r->binary = e.binary;
        r->len = e.len;
        r->sent_total = e.sent_total;
        memcpy(r->label, e.label, sizeof r->label);
        memcpy(r->protocol, e.protocol, sizeof r->protocol);
        memcpy(r->reason, e.reason, sizeof r->reason);
        if (e.type == WEIR_SCTP_EVENT_MESSAGE) {
            r->data = malloc(e.len + 1);
            memcpy(r->data, e.data, e.len);
        }
    }
}

/* Moves packets one way; returns how many moved. */
static int move(side *from, side *to)
{
    uint8_t buf[1500];
    size_t len;
    int n = 0;
    while (weir_sctp_poll_transmit(from->s, buf, sizeof buf, &len) == 1) {
        cr_assert_leq(len, WEIR_SCTP_MTU, "packet of %zu bytes, first chunk %u", len, buf[12]);
        n++;
        if (from->hold) {
            from->held = realloc(from->held, (from->n_held + 1) * sizeof *from->held);
            from->held_len = realloc(from->held_len, (from->n_held + 1) * sizeof(size_t));
            from->held[from->n_held] = malloc(len);
            memcpy(from->held[from->n_held], buf, len);
            from->held_len[from->n_held++] = len;
            continue;
        }
        if (drop_every && ++pkt_counter % drop_every == 0)
            continue;
        weir_sctp_handle_packet(to->s, buf, len);
    }
    return n;
}

static void release_held(side *from, side *to)
{
    from->hold = false;
    for (size_t i = 0; i < from->n_held; i++) {
        weir_sctp_handle_packet(to->s, from->held[i], from->held_len[i]);
        free(from->held[i]);
    }
    from->n_held = 0;
}

/* Runs until nothing moves for `quiet` rounds of 10 virtual ms (timers included). */
static void pump_quiet(int quiet)
{
    int idle = 0;
    for (int round = 0; round < 200000 && idle < quiet; round++) {
        int moved = move(&A, &B) + move(&B, &A);
        collect(&A);
        collect(&B);
        moved += move(&A, &B) + move(&B, &A);
        if (moved) {
            idle = 0;
        } else {
            idle++;
            now_us += 10000;
            weir_sctp_global_tick(now_us);
        }
    }
}

static void pump(void)
{
    pump_quiet(5);
}

static size_t count(const side *sd, weir_sctp_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < sd->n_ev; i++)
        n += sd->ev[i].type == t;
    return n;
}

static const rec *find_event(const side *sd, weir_sctp_event_type t, size_t nth)
{
    for (size_t i = 0; i < sd->n_ev; i++)
        if (sd->ev[i].type == t && nth-- == 0)
            return &sd->ev[i];
    return NULL;
}

static void connect_pair(void)
{
    pump();
    cr_assert(weir_sctp_connected(A.s));
    cr_assert(weir_sctp_connected(B.s));
    cr_assert_eq(count(&A, WEIR_SCTP_EVENT_CONNECTED), 1);
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_CONNECTED), 1);
    clear_events(&A);
    clear_events(&B);
}

/* Opens a channel from `from`; returns its stream after the other side saw it open. */
static uint16_t open_from(side *from, side *to, const char *label)
{
    uint16_t stream = 0xffff;
    cr_assert_eq(weir_sctp_open_channel(from->s, label, "proto-x", &stream), 0);
    pump();
    const rec *o = NULL;
    for (size_t i = 0; i < to->n_ev; i++)
        if (to->ev[i].type == WEIR_SCTP_EVENT_CHANNEL_OPEN && to->ev[i].stream == stream)
            o = &to->ev[i];
    cr_assert_not_null(o, "no CHANNEL_OPEN for %s", label);
    cr_assert_str_eq(o->label, label);
    cr_assert_str_eq(o->protocol, "proto-x");
    return stream;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 8));
}

static void fini(void)
{
    teardown_pair();
}

static void init_default(void)
{
    setup_pair(WEIR_SCTP_DEFAULT_MAX_MESSAGE, WEIR_SCTP_DEFAULT_MAX_MESSAGE, 0);
}

TestSuite(sctp, .init = init_default, .fini = fini, .timeout = 60);

Test(sctp, connects_and_opens_channels_with_parity_by_dtls_role)
{
    cr_assert_eq(weir_sctp_open_channel(A.s, "early", "", &(uint16_t){0}), -WEIR_EAGAIN);
    connect_pair();
    uint16_t s1 = open_from(&A, &B, "whiteboard");
    uint16_t s2 = open_from(&B, &A, "chat");
    uint16_t s3 = open_from(&A, &B, "cursor");
    cr_assert_eq(s1 % 2, 0, "the DTLS client opens even streams");
    cr_assert_eq(s3 % 2, 0);
    cr_assert_neq(s1, s3);
    cr_assert_eq(s2 % 2, 1, "the DTLS server opens odd streams");
    /* The opener learns nothing new (its own channel): no CHANNEL_OPEN echo. */
    cr_assert_eq(count(&A, WEIR_SCTP_EVENT_CHANNEL_OPEN), 1);
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_CHANNEL_OPEN), 2);
    char big[WEIR_SCTP_LABEL_MAX + 2];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    cr_assert_eq(weir_sctp_open_channel(A.s, big, "", &(uint16_t){0}), -WEIR_ETOOBIG);
}

Test(sctp, many_messages_arrive_in_order_text_binary_and_empty)
{
    connect_pair();
    uint16_t st = open_from(&A, &B, "chat");
    clear_events(&B);
    enum { N = 3000 };
    for (int i = 0; i < N; i++) {
        char text[64];
        int n = snprintf(text, sizeof text, "{\"n\":%d}", i);
        int kind = i % 3;
        size_t len = kind == 2 ? 0 : (size_t)n;
        int r = weir_sctp_send(A.s, st, kind == 1, (const uint8_t *)text, len);
        cr_assert_eq(r, 0, "send %d: %d", i, r);
        if (i % 100 == 99)
            pump_quiet(1);
    }
    pump();
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_MESSAGE), N);
    for (int i = 0; i < N; i++) {
        const rec *m = find_event(&B, WEIR_SCTP_EVENT_MESSAGE, (size_t)i);
        char text[64];
        int n = snprintf(text, sizeof text, "{\"n\":%d}", i);
        int kind = i % 3;
        cr_assert_eq(m->stream, st);
        cr_assert_eq(m->binary, kind == 1, "message %d", i);
        if (kind == 2) {
            cr_assert_eq(m->len, 0, "empty message %d", i);
        } else {
            cr_assert_eq(m->len, (size_t)n);
            cr_assert_arr_eq(m->data, text, (size_t)n, "message %d out of order", i);
        }
    }
    weir_sctp_stats st_a, st_b;
    weir_sctp_get_stats(A.s, &st_a);
    weir_sctp_get_stats(B.s, &st_b);
    cr_assert_eq(st_a.messages_out, N);
    cr_assert_eq(st_b.messages_in, N);
    cr_assert_eq(st_a.bytes_out, st_b.bytes_in);
    cr_assert_gt(count(&A, WEIR_SCTP_EVENT_DRAINED), 0);
}

Test(sctp, sizes_from_one_byte_to_max_both_ways)
{
    connect_pair();
    uint16_t st = open_from(&B, &A, "blob");
    clear_events(&A);
    clear_events(&B);
    static const size_t sizes[] = {1,     2,     1000,   1188,   1200,  4096,
                                   65535, 65536, 100000, 262143, 262144};
    const size_t n = sizeof sizes / sizeof sizes[0];
    uint8_t *buf = malloc(262144);
    for (size_t i = 0; i < n; i++) {
        fill(buf, sizes[i], (unsigned)i);
        cr_assert_eq(weir_sctp_send(A.s, st, true, buf, sizes[i]), 0, "a sends %zu", sizes[i]);
        cr_assert_eq(weir_sctp_send(B.s, st, true, buf, sizes[i]), 0, "b sends %zu", sizes[i]);
        pump_quiet(1);
    }
    pump();
    for (size_t i = 0; i < n; i++) {
        fill(buf, sizes[i], (unsigned)i);
        const rec *ma = find_event(&A, WEIR_SCTP_EVENT_MESSAGE, i);
        const rec *mb = find_event(&B, WEIR_SCTP_EVENT_MESSAGE, i);
        cr_assert_not_null(ma);
        cr_assert_not_null(mb);
        cr_assert_eq(ma->len, sizes[i]);
        cr_assert_eq(mb->len, sizes[i]);
        cr_assert_arr_eq(ma->data, buf, sizes[i]);
        cr_assert_arr_eq(mb->data, buf, sizes[i]);
    }
    cr_assert_eq(weir_sctp_send(A.s, st, true, buf, 262145), -WEIR_ETOOBIG);
    free(buf);
}

/* b accepts 1000 bytes but a was told 262144: b closes the channel, others go on. */
/* Criterion runs the suite's init first: replace its pair. */
static void init_small_b(void)
{
    teardown_pair();
    setup_pair(0, 1000, 0);
}

Test(sctp, message_over_receiver_max_closes_that_channel, .init = init_small_b)
{
    /* a believes b accepts 1000 (its remote max): lift that to provoke b. */
    weir_sctp_destroy(A.s);
    weir_sctp_destroy(B.s);
    A.s = make(&A, true, 0, 262144, 0);
    B.s = make(&B, false, 1000, 0, 0);
    connect_pair();
    uint16_t bad = open_from(&A, &B, "bad");
    uint16_t good = open_from(&A, &B, "good");
    clear_events(&A);
    clear_events(&B);
    uint8_t buf[5000];
    fill(buf, sizeof buf, 1);
    cr_assert_eq(weir_sctp_send(A.s, bad, false, buf, 1000), 0);
    cr_assert_eq(weir_sctp_send(A.s, bad, false, buf, 5000), 0);
    cr_assert_eq(weir_sctp_send(A.s, good, false, buf, 10), 0);
    pump();
    const rec *m = find_event(&B, WEIR_SCTP_EVENT_MESSAGE, 0);
    cr_assert_not_null(m);
    cr_assert_eq(m->len, 1000, "a message of exactly max passes");
    const rec *c = find_event(&B, WEIR_SCTP_EVENT_CHANNEL_CLOSED, 0);
    cr_assert_not_null(c);
    cr_assert_eq(c->stream, bad);
    cr_assert(strstr(c->reason, "over 1000") != NULL, "reason: %s", c->reason);
    const rec *ca = find_event(&A, WEIR_SCTP_EVENT_CHANNEL_CLOSED, 0);
    cr_assert_not_null(ca, "the sender sees its channel closed by the stream reset");
    cr_assert_eq(ca->stream, bad);
    weir_sctp_stats sb;
    weir_sctp_get_stats(B.s, &sb);
    cr_assert_eq(sb.oversize_in, 1);
    /* The other channel still carries messages. */
    cr_assert_eq(weir_sctp_send(A.s, good, false, (const uint8_t *)"after", 5), 0);
    pump();
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_MESSAGE), 3);
    const rec *last = find_event(&B, WEIR_SCTP_EVENT_MESSAGE, 2);
    cr_assert_eq(last->stream, good);
    cr_assert_arr_eq(last->data, "after", 5);
    cr_assert_eq(weir_sctp_send(A.s, bad, false, buf, 1), -WEIR_ENOTFOUND);
}

Test(sctp, several_channels_interleaved_keep_per_channel_order)
{
    connect_pair();
    enum { CH = 12, PER = 200 };
    uint16_t st[CH];
    for (int i = 0; i < CH; i++) {
        char label[16];
        snprintf(label, sizeof label, "ch%d", i);
        st[i] = open_from(i % 2 ? &B : &A, i % 2 ? &A : &B, label);
    }
    clear_events(&B);
    for (int k = 0; k < PER; k++)
        for (int i = 0; i < CH; i++) {
            uint8_t msg[3] = {(uint8_t)i, (uint8_t)(k >> 8), (uint8_t)k};
            cr_assert_eq(weir_sctp_send(A.s, st[i], true, msg, sizeof msg), 0);
        }
    pump();
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_MESSAGE), CH * PER);
    int next[CH] = {0};
    for (size_t e = 0; e < B.n_ev; e++) {
        const rec *m = &B.ev[e];
        if (m->type != WEIR_SCTP_EVENT_MESSAGE)
            continue;
        int i = m->data[0];
        cr_assert_lt(i, CH);
        cr_assert_eq(m->stream, st[i]);
        cr_assert_eq((m->data[1] << 8) | m->data[2], next[i], "channel %d out of order", i);
        next[i]++;
    }
}

Test(sctp, close_by_either_side_and_stream_reuse)
{
    connect_pair();
    uint16_t s1 = open_from(&A, &B, "one");
    uint16_t s2 = open_from(&A, &B, "two");
    clear_events(&A);
    clear_events(&B);
    cr_assert_eq(weir_sctp_close_channel(A.s, s1, "done here"), 0);
    cr_assert_eq(weir_sctp_close_channel(A.s, s1, "again"), -WEIR_ENOTFOUND);
    pump();
    const rec *ca = find_event(&A, WEIR_SCTP_EVENT_CHANNEL_CLOSED, 0);
    const rec *cb = find_event(&B, WEIR_SCTP_EVENT_CHANNEL_CLOSED, 0);
    cr_assert_not_null(ca);
    cr_assert_not_null(cb);
    cr_assert_eq(ca->stream, s1);
    cr_assert_str_eq(ca->reason, "done here");
    cr_assert_eq(cb->stream, s1);
    cr_assert_str_eq(cb->reason, "closed by peer");
    cr_assert_eq(weir_sctp_send(B.s, s1, false, (const uint8_t *)"x", 1), -WEIR_ENOTFOUND);
    /* b closes the other one. */
    cr_assert_eq(weir_sctp_close_channel(B.s, s2, NULL), 0);
    pump();
    cr_assert_eq(count(&A, WEIR_SCTP_EVENT_CHANNEL_CLOSED), 2);
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_CHANNEL_CLOSED), 2);
    /* Both directions reset: the lowest even stream is free again. */
    uint16_t again = open_from(&A, &B, "again");
    cr_assert_eq(again, s1 < s2 ? s1 : s2);
    cr_assert_eq(weir_sctp_send(A.s, again, false, (const uint8_t *)"hi", 2), 0);
    pump();
    const rec *m = find_event(&B, WEIR_SCTP_EVENT_MESSAGE, 0);
    cr_assert_not_null(m);
    cr_assert_eq(m->stream, again);
    cr_assert_arr_eq(m->data, "hi", 2);
}

/* Criterion runs the suite's init first: replace its pair. */
static void init_small_queue(void)
{
    teardown_pair();
    setup_pair(0, 0, 100000);
}

Test(sctp, full_queue_says_eagain_then_drains, .init = init_small_queue)
{
    connect_pair();
    uint16_t st = open_from(&A, &B, "flood");
    clear_events(&A);
    clear_events(&B);
    B.hold = true; /* b's SACKs never reach a: its send buffer fills */
    uint8_t buf[10000];
    size_t sent = 0;
    int r = 0, n = 0;
    for (n = 0; n < 10000; n++) {
        fill(buf, sizeof buf, (unsigned)n);
        r = weir_sctp_send(A.s, st, true, buf, sizeof buf);
        if (r != 0)
            break;
        sent += sizeof buf;
        pump_quiet(1);
    }
    cr_assert_eq(r, -WEIR_EAGAIN, "send ends with EAGAIN, got %d after %d", r, n);
    cr_assert_gt(weir_sctp_buffered(A.s, st), 90000, "queued: %zu", weir_sctp_buffered(A.s, st));
    cr_assert_leq(weir_sctp_buffered(A.s, st), 100000);
    /* Nothing was queued by the failed send. */
    size_t before = weir_sctp_buffered(A.s, st);
    cr_assert_eq(weir_sctp_send(A.s, st, true, buf, sizeof buf), -WEIR_EAGAIN);
    cr_assert_eq(weir_sctp_buffered(A.s, st), before);
    clear_events(&A);
    release_held(&B, &A);
    pump_quiet(400); /* retransmission timers run on the virtual clock */
    cr_assert_eq(weir_sctp_buffered(A.s, st), 0);
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_MESSAGE), (size_t)n);
    const rec *d = NULL;
    for (size_t i = 0; i < A.n_ev; i++)
        if (A.ev[i].type == WEIR_SCTP_EVENT_DRAINED)
            d = &A.ev[i];
    cr_assert_not_null(d, "a DRAINED event once the queue emptied");
    cr_assert_eq(d->stream, st);
    cr_assert_eq(d->sent_total, sent);
    for (int i = 0; i < n; i++) {
        fill(buf, sizeof buf, (unsigned)i);
        const rec *m = find_event(&B, WEIR_SCTP_EVENT_MESSAGE, (size_t)i);
        cr_assert_arr_eq(m->data, buf, sizeof buf, "message %d", i);
    }
}

Test(sctp, lost_packets_are_retransmitted_on_timer_ticks)
{
    connect_pair();
    uint16_t st = open_from(&A, &B, "lossy");
    clear_events(&B);
    int wakes_before = A.wakes + B.wakes;
    drop_every = 4;
    enum { N = 300 };
    for (int i = 0; i < N; i++) {
        uint8_t m[600];
        fill(m, sizeof m, (unsigned)i);
        cr_assert_eq(weir_sctp_send(A.s, st, true, m, sizeof m), 0);
    }
    pump_quiet(500);
    drop_every = 0;
    pump_quiet(10000);
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_MESSAGE), N, "%zu of %d",
                 count(&B, WEIR_SCTP_EVENT_MESSAGE), N);
    for (int i = 0; i < N; i++) {
        uint8_t m[600];
        fill(m, sizeof m, (unsigned)i);
        cr_assert_arr_eq(find_event(&B, WEIR_SCTP_EVENT_MESSAGE, (size_t)i)->data, m, sizeof m);
    }
    cr_assert_gt(A.wakes + B.wakes, wakes_before, "timer-made packets wake the owner");
}

/* Feeds b a packet, then checks that the association still carries a message. */
static void still_works(uint16_t st, int tag)
{
    char msg[32];
    int n = snprintf(msg, sizeof msg, "alive %d", tag);
    size_t before = count(&B, WEIR_SCTP_EVENT_MESSAGE);
    cr_assert_eq(weir_sctp_send(A.s, st, false, (const uint8_t *)msg, (size_t)n), 0);
    pump();
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_MESSAGE), before + 1, "after garbage %d", tag);
    const rec *m = find_event(&B, WEIR_SCTP_EVENT_MESSAGE, before);
    cr_assert_arr_eq(m->data, msg, (size_t)n);
}

/* One real DATA packet from a to b (already delivered), to build bad ones from. */
static size_t capture_packet(uint16_t st, uint8_t *out)
{
    cr_assert_eq(weir_sctp_send(A.s, st, false, (const uint8_t *)"template", 8), 0);
    size_t len = 0;
    cr_assert_eq(weir_sctp_poll_transmit(A.s, out, 1500, &len), 1);
    cr_assert_eq(out[12], 0, "a DATA chunk");
    weir_sctp_handle_packet(B.s, out, len);
    pump();
    return len;
}

Test(sctp, garbage_packets_never_break_the_association)
{
    connect_pair();
    uint16_t st = open_from(&A, &B, "robust");
    uint8_t real[1500];
    size_t real_len = capture_packet(st, real);
    srand(7);
    uint8_t pktb[1500];
    for (int round = 0; round < 300; round++) {
        size_t len = (size_t)(rand() % 1300);
        for (size_t i = 0; i < len; i++)
            pktb[i] = (uint8_t)rand();
        weir_sctp_handle_packet(B.s, pktb, len);                       /* random bytes */
        weir_sctp_handle_packet(B.s, real, (size_t)rand() % real_len); /* truncated */
        memcpy(pktb, real, real_len);
        pktb[4] ^= (uint8_t)(1 + rand() % 255); /* wrong verification tag */
        weir_sctp_handle_packet(B.s, pktb, real_len);
        memcpy(pktb, real, real_len);
        pktb[2] ^= 0x11; /* wrong destination port */
        weir_sctp_handle_packet(B.s, pktb, real_len);
        /* Right header, then a chunk whose length runs past the packet. */
        static const uint8_t overlong[] = {0x00, 0x03, 0xff, 0xf0, 0, 0, 0, 1};
        memcpy(pktb + 12, overlong, sizeof overlong);
        weir_sctp_handle_packet(B.s, pktb, 12 + sizeof overlong);
        memcpy(pktb, real, 12);
        /* Right header, an unknown chunk type to skip silently. */
        static const uint8_t unknown[] = {0xbf, 0x00, 0x00, 0x08, 1, 2, 3, 4};
        memcpy(pktb + 12, unknown, sizeof unknown);
        weir_sctp_handle_packet(B.s, pktb, 12 + sizeof unknown);
        weir_sctp_handle_packet(B.s, real, real_len); /* a replay: a duplicate TSN */
        weir_sctp_handle_packet(B.s, real, 11);       /* shorter than the common header */
        pump_quiet(1);
        if (round % 50 == 0)
            still_works(st, round);
    }
    cr_assert(weir_sctp_connected(B.s));
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_CHANNEL_CLOSED), 0);
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_CLOSED), 0);
    still_works(st, 1000);
}

/*
 * Bytes flipped anywhere in real packets. Without DTLS authentication in
 * front, a flip in a TSN or stream id can be a valid but wrong message and
 * SCTP may close a channel or abort: that is allowed. Not allowed: crashes,
 * leaks (ASan), or an association that neither works nor says it closed.
 */
Test(sctp, flipped_bytes_never_crash_and_end_cleanly)
{
    connect_pair();
    uint16_t st = open_from(&A, &B, "flips");
    uint8_t real[1500];
    size_t real_len = capture_packet(st, real);
    srand(11);
    uint8_t pktb[1500];
    for (int round = 0; round < 2000; round++) {
        memcpy(pktb, real, real_len);
        int flips = 1 + rand() % 4;
        for (int f = 0; f < flips; f++)
            pktb[12 + (size_t)rand() % (real_len - 12)] ^= (uint8_t)(1 + rand() % 255);
        weir_sctp_handle_packet(B.s, pktb, real_len);
        if (round == 1000) {
            /* A DATA chunk shorter than its header, with the right tag: SCTP answers
             * with ABORT (protocol violation, RFC 9260 §6.10). Unreachable through DTLS. */
            static const uint8_t tiny[] = {0x00, 0x03, 0x00, 0x02};
            memcpy(pktb, real, 12);
            memcpy(pktb + 12, tiny, sizeof tiny);
            weir_sctp_handle_packet(B.s, pktb, 12 + sizeof tiny);
        }
        if (round % 100 == 0)
            pump_quiet(1);
    }
    pump();
    if (weir_sctp_connected(B.s) && count(&B, WEIR_SCTP_EVENT_CHANNEL_CLOSED) == 0) {
        still_works(st, 1);
    } else {
        /* Whatever ended was reported. */
        cr_assert(count(&B, WEIR_SCTP_EVENT_CHANNEL_CLOSED) > 0 ||
                  count(&B, WEIR_SCTP_EVENT_CLOSED) > 0);
    }
}

Test(sctp, destroy_with_queued_data_and_unread_events_frees_everything)
{
    connect_pair();
    uint16_t st = open_from(&A, &B, "bye");
    uint8_t buf[60000];
    fill(buf, sizeof buf, 3);
    B.hold = true;
    for (int i = 0; i < 20; i++)
        (void)weir_sctp_send(A.s, st, true, buf, sizeof buf);
    move(&A, &B); /* b has unread messages, a has a queue: destroy must free both */
    cr_assert_gt(weir_sctp_buffered(A.s, st), 0);
    weir_sctp_destroy(B.s);
    B.s = NULL;
    /* Ticks after destroy must not reach the freed association. */
    for (int i = 0; i < 500; i++) {
        now_us += 10000;
        weir_sctp_global_tick(now_us);
    }
    B.s = make(&B, false, 0, 0, 0); /* teardown destroys a fresh one */
}

/* A misbehaving peer (raw messages from a): b refuses and counts, and keeps going. */
Test(sctp, bad_dcep_unknown_streams_and_ppids_are_refused)
{
    connect_pair();
    uint16_t st = open_from(&A, &B, "good");
    clear_events(&B);
    /* Data on a stream no OPEN created. */
    cr_assert_eq(weir_sctp_send_raw(A.s, 40, 51, (const uint8_t *)"stray", 5), 0);
    /* An OPEN on b's own parity (odd): RFC 8832 says a should not, aiortc does; accepted. */
    static const uint8_t open_odd[] = {0x03, 0x00, 0x01, 0x00, 0,   0,   0,  0,
                                       0x00, 0x03, 0x00, 0x00, 'o', 'd', 'd'};
    cr_assert_eq(weir_sctp_send_raw(A.s, 41, 50, open_odd, sizeof open_odd), 0);
    /* A truncated OPEN on a fresh even stream. */
    cr_assert_eq(weir_sctp_send_raw(A.s, 42, 50, open_odd, 9), 0);
    /* A second OPEN on the live channel closes it. */
    static const uint8_t open_again[] = {0x03, 0x00, 0x01, 0x00, 0,    0,  0,
                                         0,    0x00, 0x01, 0x00, 0x00, 'x'};
    pump();
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_CHANNEL_OPEN), 1);
    cr_assert_eq(find_event(&B, WEIR_SCTP_EVENT_CHANNEL_OPEN, 0)->stream, 41);
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_MESSAGE), 0);
    weir_sctp_stats sb;
    weir_sctp_get_stats(B.s, &sb);
    cr_assert_eq(sb.unknown_stream_in, 1);
    cr_assert_eq(sb.dcep_malformed, 1);
    /* The good channel still works... */
    cr_assert_eq(weir_sctp_send(A.s, st, false, (const uint8_t *)"ok", 2), 0);
    pump();
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_MESSAGE), 1);
    /* ...until a deprecated partial PPID, which closes it. */
    cr_assert_eq(weir_sctp_send_raw(A.s, st, 54, (const uint8_t *)"part", 4), 0);
    pump();
    const rec *c = find_event(&B, WEIR_SCTP_EVENT_CHANNEL_CLOSED, 0);
    cr_assert_not_null(c);
    cr_assert_eq(c->stream, st);
    cr_assert_str_eq(c->reason, "unsupported payload protocol");
    uint16_t st2 = open_from(&A, &B, "second");
    cr_assert_eq(weir_sctp_send_raw(A.s, st2, 50, open_again, sizeof open_again), 0);
    pump();
    cr_assert_eq(count(&B, WEIR_SCTP_EVENT_CHANNEL_CLOSED), 2);
    cr_assert(weir_sctp_connected(B.s));
    /* b's own opens skip the odd stream the peer took. */
    uint16_t mine = 0;
    cr_assert_eq(weir_sctp_open_channel(B.s, "mine", "", &mine), 0);
    cr_assert_eq(mine % 2, 1);
    cr_assert_neq(mine, 41);
}

/* An unordered, partially reliable channel opened by the peer is answered in kind. */
Test(sctp, peer_opened_unordered_channel_carries_messages_both_ways)
{
    connect_pair();
    static const uint8_t open_cursor[] = {0x03, 0x81, 0x02, 0x00, 0,   0,   0,   3,   0x00, 0x06,
                                          0x00, 0x02, 'c',  'u',  'r', 's', 'o', 'r', 'v',  '1'};
    cr_assert_eq(weir_sctp_send_raw(A.s, 6, 50, open_cursor, sizeof open_cursor), 0);
    pump();
    const rec *o = find_event(&B, WEIR_SCTP_EVENT_CHANNEL_OPEN, 0);
    cr_assert_not_null(o);
    cr_assert_eq(o->stream, 6);
    cr_assert_str_eq(o->label, "cursor");
    cr_assert_str_eq(o->protocol, "v1");
    /* b answers on it; a has no channel there (raw open), so it counts the message. */
    cr_assert_eq(weir_sctp_send(B.s, 6, true, (const uint8_t *)"xy", 2), 0);
    cr_assert_eq(weir_sctp_send_raw(A.s, 6, 51, (const uint8_t *)"pos", 3), 0);
    pump();
    const rec *m = find_event(&B, WEIR_SCTP_EVENT_MESSAGE, 0);
    cr_assert_not_null(m);
    cr_assert_arr_eq(m->data, "pos", 3);
    weir_sctp_stats sa;
    weir_sctp_get_stats(A.s, &sa);
    cr_assert_eq(sa.unknown_stream_in, 1, "b's message reached a on stream 6");
}

/*
 * destroy vs usrsctp's timers on another thread: a ticker thread runs the
 * timers nonstop while associations with unacknowledged data (so their
 * retransmission timers fire and call conn_output and wake) are destroyed.
 * The wake target is freed right after destroy: under ASan any callback
 * that reached it later would be a use-after-free.
 */
typedef struct wake_box {
    int wakes;
} wake_box;

static void on_box_wake(void *user)
{
    __atomic_add_fetch(&((wake_box *)user)->wakes, 1, __ATOMIC_RELAXED);
}

static volatile bool ticker_stop;

static void *ticker(void *arg)
{
    (void)arg;
    int64_t t = 50000000;
    while (!ticker_stop) {
        t += 200000; /* 200 ms a call: retransmission timers fire quickly */
        weir_sctp_global_tick(t);
    }
    return NULL;
}

Test(sctp, destroy_races_timers_on_another_thread)
{
    pthread_t th;
    ticker_stop = false;
    cr_assert_eq(pthread_create(&th, NULL, ticker, NULL), 0);
    int total_wakes = 0, created = 0;
    for (int round = 0; round < 30; round++) {
        wake_box *box = calloc(1, sizeof *box);
        weir_sctp_config cfg = {.local_port = 5000,
                                .remote_port = 5000,
                                .dtls_client = true,
                                .wake = on_box_wake,
                                .wake_user = box};
        weir_sctp *s = weir_sctp_create(&cfg);
        if (!s) {
            /* The ticker's clock runs so fast (200 ms a call) that the INIT can run out of
             * retransmissions inside usrsctp_connect: create fails cleanly then. */
            free(box);
            continue;
        }
        created++;
        /* Nobody answers its INIT: the init timer retransmits from the ticker thread. */
        uint8_t buf[1500];
        size_t len;
        for (int i = 0; i < 20; i++) {
            while (weir_sctp_poll_transmit(s, buf, sizeof buf, &len) == 1)
                ;
            usleep(500);
        }
        weir_sctp_destroy(s);
        total_wakes += __atomic_load_n(&box->wakes, __ATOMIC_RELAXED);
        free(box);
        usleep(1000); /* the ticker keeps going over the freed association */
    }
    ticker_stop = true;
    pthread_join(th, NULL);
    cr_assert_gt(created, 10);
    cr_assert_gt(total_wakes, 0, "the timer thread did wake owners");
}
