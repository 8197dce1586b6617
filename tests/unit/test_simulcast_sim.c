/*
 * Ten seconds of fake time through the whole per-subscriber rewrite path:
 * a publisher with three VP8 simulcast layers (each its own sequence,
 * timestamp, PictureID and TL0PICIDX origin, L1T3 temporal pattern, real
 * descriptor bytes), the selector, the seqmap, the tsmap and the VP8
 * rewriter, through preference changes, an estimator cap, a layer stopping
 * and coming back, a publisher restart, temporal filtering and a pause.
 *
 * Asserted on what the subscriber receives: sequence numbers with no gap
 * and no duplicate, timestamps that never go back (and advance by the
 * elapsed time at a switch), PictureIDs +1 per frame, TL0PICIDX +1 per base
 * frame, and the forwarded layer at each checkpoint.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/vp8.h"
#include "rtc/seqmap.h"
#include "rtc/simulcast_selector.h"
#include "rtc/tsmap.h"
#include "rtc/vp8_rewriter.h"

#define FRAME_US 33333
#define KEYFRAME_DELAY_US 40000
#define MAX_OUT 8192

enum act { CHECK = 1, PREFS, CAP, STOP, START, RESTART, PAUSE, RESUME };

typedef struct action {
    int64_t ms;
    enum act act;
    int a, b;
} action;

/* The script; CHECK(a, b) asserts the forwarded layer just before that time's frame. */
/* clang-format off */
static const action TIMELINE[] = {
    {900, CHECK, 2, 3},    {1000, CAP, 1, 1},     {1400, CHECK, 1, 1},   {1500, CAP, -1, -1},
    {1900, CHECK, 2, 3},   {2000, PREFS, 0, 3},   {2900, CHECK, 0, 3},   {3000, PREFS, 1, 3},
    {3900, CHECK, 1, 3},   {4000, PREFS, 2, 3},   {4900, CHECK, 2, 3},   {5000, STOP, 2, 0},
    {6400, CHECK, 2, 3} /* silent, not yet reported inactive */,      {6900, CHECK, 1, 3},
    {7000, RESTART, 1, 0}, {7400, CHECK, 1, 3},   {7500, START, 2, 0},   {7900, CHECK, 2, 3},
    {8000, PREFS, 2, 0},   {8400, CHECK, 2, 0},   {8500, PREFS, 2, 2},   {8900, CHECK, 2, 2},
    {9000, PAUSE, 0, 0},   {9400, CHECK, -1, -1}, {9500, RESUME, 0, 0},  {9900, CHECK, 2, 2},
};
/* clang-format on */

typedef struct layer_src {
    bool sending;
    bool kf_pending;
    int64_t kf_due_us;
    int64_t last_pkt_us;
    bool reported_active;
    uint16_t seq;
    uint32_t ts_base;
    uint16_t pid;
    uint8_t tl0;
    uint32_t pattern_pos; /* position in the L1T3 pattern: TID 0 2 1 2 */
} layer_src;

typedef struct sim {
    uint32_t rng;
    int reorder_permille;
    weir_simulcast_selector sel;
    weir_seqmap seq;
    weir_tsmap ts;
    weir_vp8_rewriter vp8;
    layer_src layers[3];
    /* what the subscriber received */
    size_t n_out;
    int64_t out_seq[MAX_OUT]; /* unwrapped */
    bool have_out;
    uint32_t last_ts;
    int64_t last_out_us;
    uint16_t last_pid;
    uint8_t last_tl0;
    int resyncs, keyframe_requests, events, in_stream_drops;
    int8_t last_ev_s, last_ev_t;
    weir_simulcast_event event_log[32];
} sim;

static uint32_t next_rand(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A new source: every origin random, as after a publisher restart (RFC 3550 §5.1). */
static void start_source(sim *sm, int l)
{
    layer_src *L = &sm->layers[l];
    L->sending = true;
    L->kf_pending = true;
    L->kf_due_us = 0;
    L->seq = (uint16_t)next_rand(&sm->rng);
    L->ts_base = next_rand(&sm->rng);
    L->pid = (uint16_t)(next_rand(&sm->rng) & 0x7fff);
    L->tl0 = (uint8_t)next_rand(&sm->rng);
    L->pattern_pos = 0;
}

static size_t build_payload(uint8_t *buf, const layer_src *L, uint8_t tid, bool y, bool key,
                            bool first)
{
    static const uint8_t KEY_HDR[] = {0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01};
    static const uint8_t DELTA_HDR[] = {0x11, 0x00, 0x00};
    size_t n = 0;
    buf[n++] = (uint8_t)(0x80 | (first ? 0x10 : 0)); /* X, S, PID 0 */
    buf[n++] = 0xe0;                                 /* I L T */
    buf[n++] = (uint8_t)(0x80 | (L->pid >> 8));
    buf[n++] = (uint8_t)L->pid;
    buf[n++] = L->tl0;
    buf[n++] = (uint8_t)(tid << 6 | (y ? 0x20 : 0));
    if (first && key) {
        memcpy(buf + n, KEY_HDR, sizeof KEY_HDR);
        n += sizeof KEY_HDR;
    } else if (first) {
        memcpy(buf + n, DELTA_HDR, sizeof DELTA_HDR);
        n += sizeof DELTA_HDR;
    }
    memset(buf + n, 0xab, 20);
    return n + 20;
}

static void drain_events(sim *sm)
{
    weir_simulcast_event ev;
    while (weir_simulcast_selector_poll_event(&sm->sel, &ev) == 1) {
        cr_assert(ev.spatial != sm->last_ev_s || ev.temporal != sm->last_ev_t,
                  "event repeats (%d, %d)", ev.spatial, ev.temporal);
        sm->last_ev_s = ev.spatial;
        sm->last_ev_t = ev.temporal;
        if (sm->events < 32)
            sm->event_log[sm->events] = ev;
        sm->events++;
    }
    cr_assert_eq(sm->last_ev_s, weir_simulcast_selector_current_spatial(&sm->sel));
    cr_assert_eq(sm->last_ev_t, weir_simulcast_selector_current_temporal(&sm->sel));
}

/* The subscriber side of one forwarded packet. */
static void receive(sim *sm, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len,
                    bool resync, int64_t now_us)
{
    weir_vp8_desc d;
    cr_assert_eq(weir_vp8_parse(&d, payload, len), 0);
    cr_assert_lt(sm->n_out, MAX_OUT);
    int64_t ext = seq;
    if (sm->n_out > 0) {
        int64_t prev = sm->out_seq[sm->n_out - 1];
        ext = prev + (int16_t)(uint16_t)(seq - (uint16_t)prev);
    }
    sm->out_seq[sm->n_out++] = ext;
    if (sm->have_out) {
        int32_t dts = (int32_t)(ts - sm->last_ts);
        cr_assert_geq(dts, 0, "timestamp went back by %d", -dts);
        if (resync) {
            int64_t budget = (now_us - sm->last_out_us) * 90000 / 1000000;
            cr_assert(dts >= 1 && dts <= budget + 1, "switch advanced %d, elapsed %lld ticks", dts,
                      (long long)budget);
        }
        uint16_t want_pid =
            d.is_frame_start ? (uint16_t)((sm->last_pid + 1) & 0x7fff) : sm->last_pid;
        cr_assert_eq(d.picture_id, want_pid, "PictureID %u after %u", d.picture_id, sm->last_pid);
        uint8_t want_tl0 =
            d.is_frame_start && d.tid == 0 ? (uint8_t)(sm->last_tl0 + 1) : sm->last_tl0;
        cr_assert_eq(d.tl0picidx, want_tl0, "TL0PICIDX %u after %u", d.tl0picidx, sm->last_tl0);
    }
    if (resync)
        cr_assert(d.is_keyframe, "a new layer starts at a keyframe");
    sm->have_out = true;
    sm->last_ts = ts;
    sm->last_out_us = now_us;
    sm->last_pid = d.picture_id;
    sm->last_tl0 = d.tl0picidx;
}

/* The consumer: selector decision, then the maps, exactly as the pipeline will do it. */
static void forward_packet(sim *sm, int l, uint16_t seq, uint32_t ts, uint8_t *payload, size_t len,
                           int64_t now_us)
{
    weir_vp8_desc d;
    cr_assert_eq(weir_vp8_parse(&d, payload, len), 0);
    weir_simulcast_pkt p = {
        .now_us = now_us,
        .spatial = (uint8_t)l,
        .temporal = d.tid,
        .layer_sync = d.layer_sync,
        .is_keyframe = d.is_keyframe,
        .is_first_packet_of_frame = d.is_frame_start,
    };
    weir_simulcast_decision dec;
    cr_assert_eq(weir_simulcast_selector_handle_packet(&sm->sel, &p, &dec), 0);
    drain_events(sm);
    if (dec.keyframe_request >= 0) {
        layer_src *K = &sm->layers[dec.keyframe_request];
        sm->keyframe_requests++;
        if (K->sending && !K->kf_pending) {
            K->kf_pending = true;
            K->kf_due_us = now_us + KEYFRAME_DELAY_US;
        }
    }
    if (!dec.forward) {
        if (dec.in_stream) {
            sm->in_stream_drops++;
            weir_seqmap_drop(&sm->seq, seq);
            weir_vp8_rewriter_drop(&sm->vp8, &d);
        }
        return;
    }
    if (dec.resync) {
        sm->resyncs++;
        weir_seqmap_sync(&sm->seq);
        weir_tsmap_sync(&sm->ts);
        weir_vp8_rewriter_sync(&sm->vp8);
    }
    uint32_t out_seq;
    weir_vp8_ids ids;
    cr_assert_eq(weir_seqmap_forward(&sm->seq, seq, &out_seq), WEIR_SEQMAP_OK);
    uint32_t out_ts = weir_tsmap_map(&sm->ts, ts, now_us);
    cr_assert_eq(weir_vp8_rewriter_map(&sm->vp8, &d, &ids), WEIR_SEQMAP_OK);
    cr_assert_eq(weir_vp8_write_ids(payload, len, &d, &ids), 0);
    receive(sm, (uint16_t)out_seq, out_ts, payload, len, dec.resync, now_us);
}

/* One frame of layer l: 1 + l packets (x3 for a keyframe), maybe two swapped in transit. */
static void send_frame(sim *sm, int l, int64_t frame_no, int64_t now_us)
{
    static const uint8_t TIDS[4] = {0, 2, 1, 2};
    layer_src *L = &sm->layers[l];
    bool key = L->kf_pending && now_us >= L->kf_due_us;
    if (key) {
        L->kf_pending = false;
        L->pattern_pos = 0;
    }
    uint32_t pos = L->pattern_pos++ % 4;
    uint8_t tid = TIDS[pos];
    bool y = pos == 1 || pos == 2; /* the first TL2 and TL1 frames after a base frame */
    if (tid == 0)
        L->tl0++;
    L->pid = (uint16_t)((L->pid + 1) & 0x7fff);
    uint32_t ts = L->ts_base + (uint32_t)frame_no * 3000;
    int n = (1 + l) * (key ? 3 : 1);
    uint8_t bufs[12][64];
    size_t lens[12];
    uint16_t seqs[12];
    for (int i = 0; i < n; i++) {
        lens[i] = build_payload(bufs[i], L, tid, y, key, i == 0);
        seqs[i] = L->seq++;
    }
    int order[12];
    for (int i = 0; i < n; i++)
        order[i] = i;
    /* Swap two later packets of the frame: the first one stays first, as a jitter-free path
     * would mostly deliver it. */
    for (int i = 1; i + 1 < n; i++) {
        if ((int)(next_rand(&sm->rng) % 1000) < sm->reorder_permille) {
            int t = order[i];
            order[i] = order[i + 1];
            order[i + 1] = t;
        }
    }
    for (int i = 0; i < n; i++)
        forward_packet(sm, l, seqs[order[i]], ts, bufs[order[i]], lens[order[i]], now_us);
    L->last_pkt_us = now_us;
    L->reported_active = true;
}

static void apply(sim *sm, const action *a)
{
    weir_simulcast_selector *sel = &sm->sel;
    switch (a->act) {
    case CHECK:
        cr_assert(weir_simulcast_selector_current_spatial(sel) == a->a &&
                      weir_simulcast_selector_current_temporal(sel) == a->b,
                  "at %lld ms: forwarding (%d, %d), want (%d, %d)", (long long)a->ms,
                  weir_simulcast_selector_current_spatial(sel),
                  weir_simulcast_selector_current_temporal(sel), a->a, a->b);
        break;
    case PREFS:
        weir_simulcast_selector_set_preferences(sel, a->a, a->b);
        break;
    case CAP:
        weir_simulcast_selector_set_cap_layer(sel, a->a, a->b);
        break;
    case STOP:
        sm->layers[a->a].sending = false;
        break;
    case START:
        start_source(sm, a->a);
        break;
    case RESTART:
        start_source(sm, a->a);
        weir_simulcast_selector_restart_layer(sel, a->a);
        break;
    case PAUSE:
    case RESUME:
        weir_simulcast_selector_set_paused(sel, a->act == PAUSE);
        break;
    }
    drain_events(sm);
}

/* The producer's activity rule: no packet for 1.5 s means inactive. */
static void report_activity(sim *sm, int64_t now_us)
{
    for (int l = 0; l < 3; l++) {
        layer_src *L = &sm->layers[l];
        if (L->reported_active && now_us - L->last_pkt_us >= WEIR_SIMULCAST_INACTIVE_US) {
            L->reported_active = false;
            weir_simulcast_selector_set_layer_active(&sm->sel, l, false);
        }
    }
}

static void run(sim *sm, uint32_t seed, int reorder_permille)
{
    memset(sm, 0, sizeof *sm);
    sm->rng = seed;
    sm->reorder_permille = reorder_permille;
    sm->last_ev_s = sm->last_ev_t = WEIR_SIMULCAST_NO_LAYER;
    weir_simulcast_selector_init(&sm->sel);
    weir_seqmap_init(&sm->seq, WEIR_SEQMAP_RTP_BITS);
    weir_tsmap_init(&sm->ts, 90000);
    weir_vp8_rewriter_init(&sm->vp8);
    for (int l = 0; l < 3; l++) {
        start_source(sm, l);
        weir_simulcast_selector_set_layer_active(&sm->sel, l, true);
    }
    size_t next = 0;
    for (int64_t f = 0; f < 300; f++) {
        int64_t now_us = f * FRAME_US;
        while (next < sizeof TIMELINE / sizeof TIMELINE[0] && TIMELINE[next].ms * 1000 <= now_us)
            apply(sm, &TIMELINE[next++]);
        report_activity(sm, now_us);
        for (int l = 0; l < 3; l++) {
            if (sm->layers[l].sending)
                send_frame(sm, l, f, now_us + l * 1000);
        }
    }
    cr_assert_eq(next, sizeof TIMELINE / sizeof TIMELINE[0], "every checkpoint ran");
}

/* Outputs, sorted, must be consecutive: no gap and no duplicate. */
static void assert_contiguous(sim *sm)
{
    int64_t *sorted = malloc(sm->n_out * sizeof *sorted);
    memcpy(sorted, sm->out_seq, sm->n_out * sizeof *sorted);
    for (size_t i = 1; i < sm->n_out; i++) { /* insertion sort: nearly sorted input */
        int64_t v = sorted[i];
        size_t j = i;
        for (; j > 0 && sorted[j - 1] > v; j--)
            sorted[j] = sorted[j - 1];
        sorted[j] = v;
    }
    for (size_t i = 1; i < sm->n_out; i++)
        cr_assert_eq(sorted[i], sorted[i - 1] + 1, "output %zu: %lld after %lld", i,
                     (long long)sorted[i], (long long)sorted[i - 1]);
    free(sorted);
}

/*
 * The layer history: cap (1,1) thins layer 2 to TID 1 before layer 1's
 * keyframe; after the cap goes, layer 1 climbs one TID at a Y frame before
 * layer 2's keyframe arrives; after max_temporal 0 -> 2 the climb is one TID
 * per Y frame, as the L1T3 pattern offers Y before the next base frame.
 */
static const int8_t WANT_EVENTS[][2] = {
    {2, 3}, {2, 1}, {1, 1}, {1, 2}, {2, 3}, {0, 3},   {1, 3}, {2, 3},
    {1, 3}, {2, 3}, {2, 0}, {2, 1}, {2, 2}, {-1, -1}, {2, 2},
};

static void assert_events(const sim *sm)
{
    int n = (int)(sizeof WANT_EVENTS / sizeof WANT_EVENTS[0]);
    cr_assert_eq(sm->events, n, "%d layer changes", sm->events);
    for (int i = 0; i < n; i++)
        cr_assert(sm->event_log[i].spatial == WANT_EVENTS[i][0] &&
                      sm->event_log[i].temporal == WANT_EVENTS[i][1],
                  "event %d: (%d, %d)", i, sm->event_log[i].spatial, sm->event_log[i].temporal);
}

static sim SIM;

Test(simulcast_sim, ten_seconds_of_switches_in_order)
{
    run(&SIM, 0x2545f491, 0);
    for (size_t i = 1; i < SIM.n_out; i++)
        cr_assert_eq(SIM.out_seq[i], SIM.out_seq[i - 1] + 1, "output %zu", i);
    assert_contiguous(&SIM);
    cr_assert_gt(SIM.n_out, 400);
    /* start, cap down, cap up, down to 0, up to 1, up to 2, fallback to 1, restart, back to 2,
     * resume: 10 layer starts. */
    cr_assert_eq(SIM.resyncs, 10);
    cr_assert_gt(SIM.in_stream_drops, 0, "temporal filtering ran");
    cr_assert_gt(SIM.keyframe_requests, 0);
    assert_events(&SIM);
}

Test(simulcast_sim, ten_seconds_of_switches_with_reordering)
{
    run(&SIM, 0x1b873593, 150);
    int swapped = 0;
    for (size_t i = 1; i < SIM.n_out; i++)
        swapped += SIM.out_seq[i] < SIM.out_seq[i - 1];
    cr_assert_gt(swapped, 10, "the path did reorder");
    assert_contiguous(&SIM);
    cr_assert_eq(SIM.resyncs, 10);
    assert_events(&SIM);
}
