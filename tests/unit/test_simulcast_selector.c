/*
 * weir_simulcast_selector: table-driven scenarios on a fake clock. Each row
 * is a script of inputs (packets, preferences, activity, caps) with the
 * expected decision per packet and the expected layer_changed events.
 * The 10-second end-to-end run with the maps is in test_simulcast_sim.c.
 */
#include <criterion/criterion.h>

#include "rtc/simulcast_selector.h"
#include "weir/errors.h"

enum op {
    OP_END = 0,
    OP_PKT,
    OP_ACTIVE,
    OP_PREFS,
    OP_CAP,
    OP_CAPBPS,
    OP_RATE,
    OP_PAUSE,
    OP_RESTART,
    OP_EVENT,   /* the next event is (a, b) */
    OP_NOEVENT, /* no event pending */
    OP_TARGET,  /* target layer is (a, b) */
};

/* packet flags */
#define FIRST 1        /* first packet of a frame */
#define KF (FIRST | 2) /* first packet of a keyframe */
#define Y (FIRST | 4)  /* first packet of a frame with the layer sync bit */
#define MID 0          /* any other packet */

typedef struct step {
    enum op op;
    int a, b;
    int64_t now_ms;
    uint8_t s, tid, flags;
    /* F forward, R forward + resync, T temporal drop (in stream), O other layer,
     * W waiting for a keyframe, P paused */
    char want;
    int kf; /* keyframe request layer, -1 none */
} step;

typedef struct script {
    const char *name;
    step steps[40];
} script;

/* clang-format off */
#define PKT(ms, sp, t, fl, w, k)                                                                   \
    {.op = OP_PKT, .now_ms = ms, .s = sp, .tid = t, .flags = fl, .want = w, .kf = k}
#define ACT(l, on) {.op = OP_ACTIVE, .a = l, .b = on}
#define ALL_ACTIVE ACT(0, 1), ACT(1, 1), ACT(2, 1)
#define PREFS(sp, t) {.op = OP_PREFS, .a = sp, .b = t}
#define CAP(sp, t) {.op = OP_CAP, .a = sp, .b = t}
#define CAPBPS(bps) {.op = OP_CAPBPS, .a = bps}
#define RATE(l, bps) {.op = OP_RATE, .a = l, .b = bps}
#define PAUSE {.op = OP_PAUSE, .a = 1}
#define RESUME {.op = OP_PAUSE, .a = 0}
#define RESTART(l) {.op = OP_RESTART, .a = l}
#define EV(sp, t) {.op = OP_EVENT, .a = sp, .b = t}
#define NOEV {.op = OP_NOEVENT}
#define TARGET(sp, t) {.op = OP_TARGET, .a = sp, .b = t}
/* clang-format on */

static const script SCRIPTS[] = {
    {"starts on the highest layer at its first keyframe, requesting one",
     {ALL_ACTIVE, TARGET(2, 3), PKT(0, 0, 0, FIRST, 'O', 2), PKT(0, 1, 0, FIRST, 'O', -1),
      PKT(0, 2, 0, FIRST, 'W', -1), PKT(0, 2, 0, MID, 'W', -1), PKT(10, 0, 0, KF, 'O', -1),
      PKT(10, 1, 0, KF, 'O', -1), NOEV, PKT(20, 2, 0, MID, 'W', -1), PKT(30, 2, 0, KF, 'R', -1),
      PKT(30, 2, 0, MID, 'F', -1), PKT(40, 1, 0, FIRST, 'O', -1), PKT(40, 2, 2, FIRST, 'F', -1),
      EV(2, 3), NOEV}},
    {"a packet is proof of life: layers become active as they show up",
     {TARGET(-1, -1), PKT(0, 0, 0, FIRST, 'W', 0), TARGET(0, 3), PKT(1, 1, 0, FIRST, 'W', 1),
      PKT(2, 2, 0, FIRST, 'W', 2), TARGET(2, 3), PKT(3, 2, 0, KF, 'R', -1), EV(2, 3)}},
    {"lowering max_spatial switches down at the lower layer's keyframe, not before",
     {ALL_ACTIVE, PKT(0, 2, 0, KF, 'R', -1), EV(2, 3), PREFS(0, 3), TARGET(0, 3),
      PKT(10, 2, 0, FIRST, 'F', 0), PKT(10, 0, 0, FIRST, 'W', -1), PKT(20, 1, 0, KF, 'O', -1),
      PKT(20, 2, 0, FIRST, 'F', -1), PKT(20, 2, 0, MID, 'F', -1), NOEV, PKT(30, 0, 0, KF, 'R', -1),
      PKT(30, 2, 0, FIRST, 'O', -1), PKT(40, 0, 0, FIRST, 'F', -1), EV(0, 3), NOEV}},
    {"raising max_spatial switches up at the target's keyframe, skipping the middle",
     {ALL_ACTIVE, PREFS(0, 3), PKT(0, 0, 0, KF, 'R', -1), EV(0, 3), PREFS(2, 3),
      PKT(10, 0, 0, FIRST, 'F', 2), PKT(20, 1, 0, KF, 'O', -1), PKT(30, 0, 0, FIRST, 'F', -1),
      PKT(40, 2, 0, KF, 'R', -1), PKT(40, 0, 0, FIRST, 'O', -1), EV(2, 3), NOEV}},
    {"the top layer going inactive falls back at the next keyframe, and comes back",
     {ALL_ACTIVE, PKT(0, 2, 0, KF, 'R', -1), EV(2, 3), ACT(2, 0), TARGET(1, 3),
      PKT(1500, 1, 0, FIRST, 'W', 1), PKT(1600, 1, 0, FIRST, 'W', -1), PKT(1700, 1, 0, KF, 'R', -1),
      EV(1, 3), PKT(1800, 1, 0, FIRST, 'F', -1), PKT(3000, 2, 0, FIRST, 'W', 2), TARGET(2, 3),
      PKT(3010, 1, 0, FIRST, 'F', -1), PKT(3020, 2, 0, KF, 'R', -1), EV(2, 3), NOEV}},
    {"keyframe requests: at most one per 500 ms per layer",
     {ALL_ACTIVE, PKT(0, 0, 0, FIRST, 'O', 2), PKT(100, 0, 0, FIRST, 'O', -1),
      PKT(499, 1, 0, FIRST, 'O', -1), PKT(500, 0, 0, FIRST, 'O', 2), PKT(900, 2, 0, FIRST, 'W', -1),
      PKT(1000, 0, 0, FIRST, 'O', 2), PREFS(1, 3), PKT(1100, 0, 0, FIRST, 'O', 1),
      PKT(1200, 0, 0, FIRST, 'O', -1), PREFS(2, 3), PKT(1300, 0, 0, FIRST, 'O', -1),
      PKT(1499, 0, 0, FIRST, 'O', -1), PKT(1500, 0, 0, FIRST, 'O', 2),
      PKT(1200, 0, 0, FIRST, 'O', -1) /* clock going back counts as 1500 */,
      PKT(2000, 2, 0, KF, 'R', -1), PKT(2600, 0, 0, FIRST, 'O', -1), EV(2, 3), NOEV}},
    {"paused drops everything; resuming starts again at a keyframe",
     {ALL_ACTIVE, PKT(0, 2, 0, KF, 'R', -1), PAUSE, TARGET(-1, -1), PKT(10, 2, 0, KF, 'P', -1),
      PKT(10, 2, 0, MID, 'P', -1), PKT(10, 1, 0, KF, 'P', -1), PKT(10, 0, 0, FIRST, 'P', -1),
      EV(2, 3), EV(-1, -1), NOEV, RESUME, PKT(600, 2, 0, FIRST, 'W', 2),
      PKT(610, 2, 0, KF, 'R', -1), EV(2, 3), NOEV}},
    {"max_temporal 0 forwards only TID 0 and records the rest in the stream",
     {ALL_ACTIVE, PREFS(2, 0), PKT(0, 2, 0, KF, 'R', -1), PKT(0, 2, 0, MID, 'F', -1),
      PKT(33, 2, 2, FIRST, 'T', -1), PKT(33, 2, 2, MID, 'T', -1), PKT(66, 2, 1, Y, 'T', -1),
      PKT(100, 2, 2, FIRST, 'T', -1), PKT(133, 2, 0, FIRST, 'F', -1),
      PKT(133, 1, 0, FIRST, 'O', -1), EV(2, 0), NOEV}},
    {"temporal up one layer at a Y frame, or to the target at a keyframe; down at the next frame",
     {ALL_ACTIVE,
      PREFS(2, 0),
      PKT(0, 2, 0, KF, 'R', -1),
      EV(2, 0),
      PREFS(2, 2),
      PKT(33, 2, 2, FIRST, 'T', -1),
      PKT(66, 2, 2, Y, 'T', -1) /* Y, but two layers up */,
      PKT(100, 2, 0, FIRST, 'F', -1) /* a TID 0 frame is no switching-up point */,
      NOEV,
      PKT(133, 2, 1, FIRST, 'T', -1),
      PKT(166, 2, 1, Y, 'F', -1),
      EV(2, 1),
      PKT(166, 2, 1, MID, 'F', -1),
      PKT(200, 2, 2, FIRST, 'T', -1),
      PKT(233, 2, 2, Y, 'F', -1),
      EV(2, 2),
      PREFS(2, 0),
      PKT(233, 2, 2, MID, 'F', -1) /* the frame is not cut */,
      NOEV,
      PKT(266, 2, 1, FIRST, 'T', -1),
      EV(2, 0),
      PKT(300, 2, 0, FIRST, 'F', -1),
      PREFS(2, 3),
      PKT(333, 2, 0, FIRST, 'F', -1),
      NOEV,
      PKT(366, 2, 0, KF, 'F', -1),
      EV(2, 3),
      PKT(400, 2, 2, FIRST, 'F', -1),
      PKT(433, 2, 1, FIRST, 'F', -1),
      NOEV}},
    {"layer_changed once per change: repeated inputs say nothing",
     {ALL_ACTIVE, PKT(0, 2, 0, KF, 'R', -1), PREFS(2, 3), PREFS(2, 3), ACT(2, 1),
      PKT(10, 2, 0, KF, 'F', -1), PKT(20, 2, 0, FIRST, 'F', -1), EV(2, 3), NOEV}},
    {"a restart of the forwarded layer waits for its keyframe and resyncs silently",
     {ALL_ACTIVE, PKT(0, 2, 0, KF, 'R', -1), EV(2, 3), PKT(100, 2, 0, FIRST, 'F', -1), RESTART(2),
      PKT(200, 2, 0, FIRST, 'W', 2), PKT(250, 2, 2, FIRST, 'W', -1), PKT(300, 2, 0, KF, 'R', -1),
      PKT(333, 2, 2, FIRST, 'F', -1), NOEV, RESTART(1), PKT(400, 2, 0, FIRST, 'F', -1)}},
    {"the estimator's cap layer drives the target",
     {ALL_ACTIVE, PKT(0, 2, 0, KF, 'R', -1), EV(2, 3), CAP(1, 0), TARGET(1, 0),
      PKT(10, 2, 0, FIRST, 'F', 1) /* the temporal cap already thins layer 2 */, EV(2, 0),
      PKT(15, 2, 1, FIRST, 'T', -1), PKT(20, 1, 0, KF, 'R', -1), EV(1, 0),
      PKT(30, 1, 1, FIRST, 'T', -1), CAP(0, -1), TARGET(0, 3), CAP(-1, 0), TARGET(2, 3),
      PKT(40, 1, 1, Y, 'F', 2), EV(1, 1), NOEV}},
    {"a temporal cap applies to its spatial layer, not the cheaper ones below",
     {ALL_ACTIVE, PREFS(0, 3), CAP(1, 0), TARGET(0, 3), ACT(0, 0), TARGET(1, 0)}},
    {"bitrate cap with known layer bitrates; the lowest layer when none fits",
     {ALL_ACTIVE, RATE(0, 150000), RATE(1, 500000), RATE(2, 1500000), CAPBPS(600000), TARGET(1, 3),
      CAPBPS(100000), TARGET(0, 3), CAPBPS(0), TARGET(2, 3), RATE(2, 0), CAPBPS(200000),
      TARGET(2, 3) /* unknown bitrate fits */}},
    {"no allowed layer active: the lowest active one above",
     {PREFS(0, 3), ACT(1, 1), ACT(2, 1), TARGET(1, 3), PKT(0, 1, 0, KF, 'R', -1), EV(1, 3),
      PKT(5, 0, 0, FIRST, 'W', 0), TARGET(0, 3)}},
};

static void check_packet(weir_simulcast_selector *sel, const step *st, const char *name, size_t i)
{
    weir_simulcast_pkt p = {
        .now_us = st->now_ms * 1000,
        .spatial = st->s,
        .temporal = st->tid,
        .is_first_packet_of_frame = (st->flags & FIRST) != 0,
        .is_keyframe = (st->flags & 2) != 0,
        .layer_sync = (st->flags & 4) != 0,
    };
    weir_simulcast_decision d;
    cr_assert_eq(weir_simulcast_selector_handle_packet(sel, &p, &d), 0);
    static const struct {
        char want;
        bool forward, resync, in_stream;
        weir_simulcast_drop_reason reason;
    } KINDS[] = {
        {'F', true, false, false, WEIR_SIMULCAST_DROP_NONE},
        {'R', true, true, false, WEIR_SIMULCAST_DROP_NONE},
        {'T', false, false, true, WEIR_SIMULCAST_DROP_TEMPORAL},
        {'O', false, false, false, WEIR_SIMULCAST_DROP_OTHER_LAYER},
        {'W', false, false, false, WEIR_SIMULCAST_DROP_WAIT_KEYFRAME},
        {'P', false, false, false, WEIR_SIMULCAST_DROP_PAUSED},
    };
    size_t k = 0;
    while (KINDS[k].want != st->want)
        k++;
    cr_assert_eq(d.forward, KINDS[k].forward, "%s: step %zu: forward %d", name, i, d.forward);
    cr_assert_eq(d.resync, KINDS[k].resync, "%s: step %zu: resync %d", name, i, d.resync);
    cr_assert_eq(d.in_stream, KINDS[k].in_stream, "%s: step %zu: in_stream", name, i);
    cr_assert_eq(d.reason, KINDS[k].reason, "%s: step %zu: reason %d", name, i, d.reason);
    cr_assert_eq(d.keyframe_request, st->kf, "%s: step %zu: keyframe request %d", name, i,
                 d.keyframe_request);
}

static void check_event(weir_simulcast_selector *sel, const step *st, const char *name, size_t i)
{
    weir_simulcast_event ev;
    if (st->op == OP_NOEVENT) {
        cr_assert_eq(weir_simulcast_selector_poll_event(sel, &ev), 0,
                     "%s: step %zu: unexpected event (%d, %d)", name, i, ev.spatial, ev.temporal);
        return;
    }
    cr_assert_eq(weir_simulcast_selector_poll_event(sel, &ev), 1, "%s: step %zu: no event", name,
                 i);
    cr_assert_eq(ev.type, WEIR_SIMULCAST_EVENT_LAYER_CHANGED);
    cr_assert(ev.spatial == st->a && ev.temporal == st->b, "%s: step %zu: event (%d, %d)", name, i,
              ev.spatial, ev.temporal);
}

static void run_step(weir_simulcast_selector *sel, const step *st, const char *name, size_t i)
{
    switch (st->op) {
    case OP_PKT:
        check_packet(sel, st, name, i);
        break;
    case OP_ACTIVE:
        cr_assert_eq(weir_simulcast_selector_set_layer_active(sel, st->a, st->b != 0), 0);
        break;
    case OP_PREFS:
        cr_assert_eq(weir_simulcast_selector_set_preferences(sel, st->a, st->b), 0);
        break;
    case OP_CAP:
        cr_assert_eq(weir_simulcast_selector_set_cap_layer(sel, st->a, st->b), 0);
        break;
    case OP_CAPBPS:
        weir_simulcast_selector_set_cap_bitrate(sel, (uint32_t)st->a);
        break;
    case OP_RATE:
        cr_assert_eq(weir_simulcast_selector_set_layer_bitrate(sel, st->a, (uint32_t)st->b), 0);
        break;
    case OP_PAUSE:
        weir_simulcast_selector_set_paused(sel, st->a != 0);
        break;
    case OP_RESTART:
        cr_assert_eq(weir_simulcast_selector_restart_layer(sel, st->a), 0);
        break;
    case OP_EVENT:
    case OP_NOEVENT:
        check_event(sel, st, name, i);
        break;
    case OP_TARGET:
        cr_assert(weir_simulcast_selector_target_spatial(sel) == st->a &&
                      weir_simulcast_selector_target_temporal(sel) == st->b,
                  "%s: step %zu: target (%d, %d)", name, i,
                  weir_simulcast_selector_target_spatial(sel),
                  weir_simulcast_selector_target_temporal(sel));
        break;
    case OP_END:
        break;
    }
}

Test(simulcast_selector, scripts)
{
    for (size_t n = 0; n < sizeof SCRIPTS / sizeof SCRIPTS[0]; n++) {
        weir_simulcast_selector sel;
        weir_simulcast_selector_init(&sel);
        for (size_t i = 0; i < 40 && SCRIPTS[n].steps[i].op != OP_END; i++)
            run_step(&sel, &SCRIPTS[n].steps[i], SCRIPTS[n].name, i);
    }
}

Test(simulcast_selector, rejects_bad_indices_without_changing_anything)
{
    weir_simulcast_selector sel;
    weir_simulcast_selector_init(&sel);
    weir_simulcast_decision d = {.reason = 77};
    weir_simulcast_pkt bad_s = {
        .spatial = 3, .is_keyframe = true, .is_first_packet_of_frame = true};
    weir_simulcast_pkt bad_t = {.spatial = 0, .temporal = 4};
    cr_assert_eq(weir_simulcast_selector_handle_packet(&sel, &bad_s, &d), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_handle_packet(&sel, &bad_t, &d), -WEIR_EINVAL);
    cr_assert_eq(d.reason, 77, "out untouched");
    cr_assert_eq(weir_simulcast_selector_set_preferences(&sel, 3, 0), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_set_preferences(&sel, 0, 4), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_set_preferences(&sel, -1, 0), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_set_cap_layer(&sel, 3, 0), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_set_cap_layer(&sel, 0, 4), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_set_layer_active(&sel, 3, true), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_set_layer_bitrate(&sel, -1, 1), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_restart_layer(&sel, 5), -WEIR_EINVAL);
    cr_assert_eq(weir_simulcast_selector_target_spatial(&sel), WEIR_SIMULCAST_NO_LAYER);
    cr_assert_eq(weir_simulcast_selector_current_spatial(&sel), WEIR_SIMULCAST_NO_LAYER);
    cr_assert_eq(weir_simulcast_selector_current_temporal(&sel), WEIR_SIMULCAST_NO_LAYER);
    weir_simulcast_event ev;
    cr_assert_eq(weir_simulcast_selector_poll_event(&sel, &ev), 0);
}

/* R6: an unpolled queue keeps order and its last event names the current layer. */
Test(simulcast_selector, unpolled_events_coalesce_into_the_newest)
{
    weir_simulcast_selector sel;
    weir_simulcast_selector_init(&sel);
    weir_simulcast_selector_set_layer_active(&sel, 0, true);
    weir_simulcast_decision d;
    weir_simulcast_pkt kf = {.spatial = 0, .is_keyframe = true, .is_first_packet_of_frame = true};
    /* A TID 1 frame with Y: lowers to TID 0 or climbs to TID 1, whichever is wanted. */
    weir_simulcast_pkt frame = {
        .spatial = 0, .temporal = 1, .layer_sync = true, .is_first_packet_of_frame = true};
    weir_simulcast_selector_handle_packet(&sel, &kf, &d);
    for (int i = 0; i < 2 * WEIR_SIMULCAST_MAX_EVENTS; i++) {
        weir_simulcast_selector_set_preferences(&sel, 0, i % 2);
        frame.now_us += 33000;
        weir_simulcast_selector_handle_packet(&sel, &frame, &d);
    }
    weir_simulcast_event ev;
    int n = 0;
    int last_t = -2;
    while (weir_simulcast_selector_poll_event(&sel, &ev) == 1) {
        cr_assert_neq(ev.temporal, last_t, "no two identical events in a row");
        last_t = ev.temporal;
        n++;
    }
    cr_assert(n >= WEIR_SIMULCAST_MAX_EVENTS - 1 && n <= WEIR_SIMULCAST_MAX_EVENTS, "n = %d", n);
    cr_assert_eq(last_t, weir_simulcast_selector_current_temporal(&sel));
}
