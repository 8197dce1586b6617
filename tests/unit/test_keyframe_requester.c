/*
 * weir_keyframe_requester on a simulated clock: aggregation of many
 * subscribers' requests into one PLI, the per-layer interval, the hold after
 * a keyframe, keyframes clearing requests, FIR sequence numbers (new request
 * +1, retry the same), retries and their limit, independent layers.
 */
#include <criterion/criterion.h>

#include "rtc/keyframe_requester.h"
#include "weir/errors.h"

#define T0 2000000
#define MS 1000

static weir_keyframe_requester r;

static void init_with(uint8_t n_layers, bool use_fir)
{
    weir_keyframe_requester_config cfg = {.n_layers = n_layers, .use_fir = use_fir};
    cr_assert_eq(weir_keyframe_requester_init(&r, &cfg), 0);
}

/* Expects one request due at now_us for layer; returns its FIR seq. */
static uint8_t expect_poll(int64_t now_us, uint8_t want_layer)
{
    uint8_t layer = 0xff, fir_seq = 0;
    bool use_fir = false;
    cr_assert_eq(weir_keyframe_requester_poll(&r, now_us, &layer, &use_fir, &fir_seq), 1,
                 "a request due at %lld", (long long)now_us);
    cr_assert_eq(layer, want_layer);
    cr_assert_eq(use_fir, r.cfg.use_fir);
    return fir_seq;
}

static void expect_none(int64_t now_us)
{
    uint8_t layer = 0xff, fir_seq = 0xee;
    bool use_fir = false;
    cr_assert_eq(weir_keyframe_requester_poll(&r, now_us, &layer, &use_fir, &fir_seq), 0,
                 "nothing due at %lld", (long long)now_us);
    cr_assert_eq(layer, 0xff, "outputs untouched");
    cr_assert_eq(fir_seq, 0xee);
}

Test(keyframe_requester, ten_requests_in_100_ms_give_one_pli)
{
    init_with(3, false);
    cr_assert_eq(weir_keyframe_requester_next_timeout(&r), WEIR_KEYFRAME_REQUESTER_NO_TIMEOUT);
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(weir_keyframe_requester_request(&r, 2, T0 + i * 10 * MS), 0);
        if (i == 0) {
            cr_assert_eq(weir_keyframe_requester_next_timeout(&r), T0);
            expect_poll(T0, 2);
        }
        expect_none(T0 + i * 10 * MS);
    }
    weir_keyframe_requester_keyframe_seen(&r, 2, T0 + 120 * MS);
    expect_none(T0 + 2000 * MS);
    weir_keyframe_requester_stats st = weir_keyframe_requester_get_stats(&r);
    cr_assert_eq(st.requested, 10);
    cr_assert_eq(st.sent, 1);
    cr_assert_eq(st.suppressed, 9);
    cr_assert_eq(st.retries, 0);
}

Test(keyframe_requester, interval_and_hold_delay_the_next_request)
{
    init_with(1, false);
    weir_keyframe_requester_request(&r, 0, T0);
    expect_poll(T0, 0);
    weir_keyframe_requester_keyframe_seen(&r, 0, T0 + 50 * MS);
    /* New request 10 ms after the keyframe: held until the interval ends. */
    weir_keyframe_requester_request(&r, 0, T0 + 60 * MS);
    cr_assert_eq(weir_keyframe_requester_next_timeout(&r), T0 + 300 * MS);
    expect_none(T0 + 299 * MS);
    expect_poll(T0 + 300 * MS, 0);
    /* A keyframe long after the last send: the hold alone applies. */
    weir_keyframe_requester_keyframe_seen(&r, 0, T0 + 1000 * MS);
    weir_keyframe_requester_request(&r, 0, T0 + 1010 * MS);
    cr_assert_eq(weir_keyframe_requester_next_timeout(&r), T0 + 1100 * MS);
    expect_none(T0 + 1099 * MS);
    expect_poll(T0 + 1100 * MS, 0);
}

Test(keyframe_requester, keyframe_clears_a_waiting_request)
{
    init_with(1, false);
    weir_keyframe_requester_request(&r, 0, T0);
    expect_poll(T0, 0);
    weir_keyframe_requester_keyframe_seen(&r, 0, T0 + 40 * MS);
    weir_keyframe_requester_request(&r, 0, T0 + 200 * MS); /* waits for the interval */
    weir_keyframe_requester_keyframe_seen(&r, 0, T0 + 250 * MS);
    cr_assert_eq(weir_keyframe_requester_next_timeout(&r), WEIR_KEYFRAME_REQUESTER_NO_TIMEOUT);
    expect_none(T0 + 5000 * MS);
}

Test(keyframe_requester, fir_sequence_increments_per_new_request_not_per_retry)
{
    init_with(2, true);
    weir_keyframe_requester_request(&r, 1, T0);
    cr_assert_eq(expect_poll(T0, 1), 0);
    weir_keyframe_requester_keyframe_seen(&r, 1, T0 + 100 * MS);
    weir_keyframe_requester_request(&r, 1, T0 + 500 * MS);
    cr_assert_eq(expect_poll(T0 + 500 * MS, 1), 1);
    /* No keyframe this time: retried after 1 s with the same number. */
    cr_assert_eq(weir_keyframe_requester_next_timeout(&r), T0 + 1500 * MS);
    expect_none(T0 + 1499 * MS);
    cr_assert_eq(expect_poll(T0 + 1500 * MS, 1), 1);
    weir_keyframe_requester_keyframe_seen(&r, 1, T0 + 1600 * MS);
    weir_keyframe_requester_request(&r, 1, T0 + 2000 * MS);
    cr_assert_eq(expect_poll(T0 + 2000 * MS, 1), 2);
    /* Layer 0 counts on its own. */
    weir_keyframe_requester_request(&r, 0, T0 + 2000 * MS);
    cr_assert_eq(expect_poll(T0 + 2000 * MS, 0), 0);
    cr_assert_eq(weir_keyframe_requester_get_stats(&r).retries, 1);
}

Test(keyframe_requester, retries_stop_at_the_limit_then_a_new_request_goes_out)
{
    init_with(1, true);
    weir_keyframe_requester_request(&r, 0, T0);
    cr_assert_eq(expect_poll(T0, 0), 0);
    cr_assert_eq(expect_poll(T0 + 1000 * MS, 0), 0);
    cr_assert_eq(expect_poll(T0 + 2000 * MS, 0), 0);
    cr_assert_eq(weir_keyframe_requester_next_timeout(&r), WEIR_KEYFRAME_REQUESTER_NO_TIMEOUT);
    expect_none(T0 + 2400 * MS);
    /* Still in flight (merged) until the last retry has had its time. */
    weir_keyframe_requester_request(&r, 0, T0 + 2500 * MS);
    expect_none(T0 + 2500 * MS);
    weir_keyframe_requester_request(&r, 0, T0 + 3000 * MS);
    cr_assert_eq(expect_poll(T0 + 3000 * MS, 0), 1);
    weir_keyframe_requester_stats st = weir_keyframe_requester_get_stats(&r);
    cr_assert_eq(st.sent, 4);
    cr_assert_eq(st.retries, 2);
    cr_assert_eq(st.suppressed, 1);
}

Test(keyframe_requester, layers_are_independent_and_checked)
{
    init_with(3, false);
    weir_keyframe_requester_request(&r, 0, T0);
    weir_keyframe_requester_request(&r, 2, T0);
    cr_assert_eq(weir_keyframe_requester_request(&r, 3, T0), -WEIR_EINVAL);
    expect_poll(T0, 0);
    expect_poll(T0, 2);
    expect_none(T0);
    weir_keyframe_requester_keyframe_seen(&r, 0, T0 + 10 * MS);
    /* Layer 2 still in flight: its retry is the next timeout. */
    cr_assert_eq(weir_keyframe_requester_next_timeout(&r), T0 + 1000 * MS);
    cr_assert_eq(weir_keyframe_requester_get_stats(&r).requested, 2);
}

Test(keyframe_requester, init_refuses_bad_layer_counts)
{
    weir_keyframe_requester_config cfg = {.n_layers = 0};
    cr_assert_eq(weir_keyframe_requester_init(&r, &cfg), -WEIR_EINVAL);
    cfg.n_layers = WEIR_KEYFRAME_REQUESTER_MAX_LAYERS + 1;
    cr_assert_eq(weir_keyframe_requester_init(&r, &cfg), -WEIR_EINVAL);
    cr_assert_eq(weir_keyframe_requester_init(&r, NULL), -WEIR_EINVAL);
}
