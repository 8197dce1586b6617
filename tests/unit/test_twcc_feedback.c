/*
 * weir_twcc_feedback: every feedback is parsed back with proto/twcc.h and
 * the (seq, arrival) pairs compared with what was recorded, within the
 * 125 µs of quantisation: in-order, loss, reordering inside and across
 * feedbacks, wrap 65535 → 0, time gaps of 1 s and 9 s, a sequence jump,
 * the size limit, scheduling, and a seeded loss/reorder model over several
 * wraps.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/rtcp.h"
#include "proto/twcc.h"
#include "rtc/twcc_feedback.h"
#include "weir/errors.h"

#define T0 1000000
#define MS 1000
#define SENDER 0x11111111u
#define MEDIA 0x22222222u

static weir_twcc_feedback fb;

typedef struct parsed {
    weir_twcc hdr;
    int n;
    weir_twcc_entry e[WEIR_TWCC_FB_HISTORY];
    int64_t arrival_us[WEIR_TWCC_FB_HISTORY]; /* reconstructed, for received entries */
} parsed;

static parsed got;

static void setup(void)
{
    weir_twcc_feedback_init(&fb, NULL);
}

/* Parses out as one RTCP sub-packet of TWCC feedback into got. */
static void parse_into(const uint8_t *out, size_t len, parsed *p)
{
    cr_assert_eq(len % 4, 0);
    weir_rtcp_iter it;
    weir_rtcp_pkt pkt;
    weir_rtcp_iter_init(&it, out, len);
    cr_assert_eq(weir_rtcp_iter_next(&it, &pkt), 1);
    cr_assert_eq(pkt.len, len, "exactly one sub-packet");
    p->n = weir_twcc_parse(&pkt, &p->hdr, p->e, WEIR_TWCC_FB_HISTORY);
    cr_assert_gt(p->n, 0, "parse: %d", p->n);
    cr_assert_eq(p->hdr.sender_ssrc, SENDER);
    cr_assert_eq(p->hdr.media_ssrc, MEDIA);
    int64_t t = (int64_t)p->hdr.reference_time * WEIR_TWCC_REFERENCE_TICK_US;
    for (int i = 0; i < p->n; i++) {
        if (p->e[i].received)
            t += p->e[i].delta_us;
        p->arrival_us[i] = p->e[i].received ? t : -1;
    }
}

/* Polls at now_us, expecting a feedback; parses it into got. */
static void poll_expect(int64_t now_us, size_t cap)
{
    uint8_t out[1500];
    size_t len = 0;
    cr_assert_leq(cap, sizeof out);
    int rc = weir_twcc_feedback_poll_feedback(&fb, now_us, SENDER, MEDIA, out, cap, &len);
    cr_assert_eq(rc, 1, "poll at %lld: %d", (long long)now_us, rc);
    cr_assert_leq(len, cap);
    parse_into(out, len, &got);
}

static void poll_none(int64_t now_us)
{
    uint8_t out[1500];
    size_t len = 0;
    cr_assert_eq(
        weir_twcc_feedback_poll_feedback(&fb, now_us, SENDER, MEDIA, out, sizeof out, &len), 0,
        "no feedback expected at %lld", (long long)now_us);
}

static void assert_entry(int i, uint16_t seq, int64_t arrival_us)
{
    cr_assert_lt(i, got.n);
    cr_assert_eq(got.e[i].seq, seq, "entry %d: seq %u, want %u", i, got.e[i].seq, seq);
    if (arrival_us < 0) {
        cr_assert(!got.e[i].received, "seq %u should be not received", seq);
        return;
    }
    cr_assert(got.e[i].received, "seq %u should be received", seq);
    int64_t err = got.arrival_us[i] - arrival_us;
    cr_assert(err >= -125 && err <= 125, "seq %u: arrival off by %lld us", seq, (long long)err);
}

TestSuite(twcc_feedback, .init = setup);

Test(twcc_feedback, in_order_packets_give_one_feedback_after_the_interval)
{
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), WEIR_TWCC_FB_NO_TIMEOUT);
    for (int i = 0; i < 10; i++)
        weir_twcc_feedback_handle_packet(&fb, (uint16_t)(100 + i), T0 + i * 1370);
    int64_t due = T0 + WEIR_TWCC_FB_DEFAULT_INTERVAL_US;
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), due);
    poll_none(due - 1);
    poll_expect(due, 1500);
    cr_assert_eq(got.n, 10);
    cr_assert_eq(got.hdr.base_seq, 100);
    cr_assert_eq(got.hdr.fb_count, 0);
    for (int i = 0; i < 10; i++)
        assert_entry(i, (uint16_t)(100 + i), T0 + i * 1370);
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), WEIR_TWCC_FB_NO_TIMEOUT);
    poll_none(due + 1000000);

    /* The next one is due an interval after the last, and counts on. */
    weir_twcc_feedback_handle_packet(&fb, 110, due + 5000);
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), due + WEIR_TWCC_FB_DEFAULT_INTERVAL_US);
    poll_expect(due + WEIR_TWCC_FB_DEFAULT_INTERVAL_US, 1500);
    cr_assert_eq(got.n, 1);
    cr_assert_eq(got.hdr.fb_count, 1);
    assert_entry(0, 110, due + 5000);
    weir_twcc_feedback_stats st = weir_twcc_feedback_get_stats(&fb);
    cr_assert_eq(st.packets, 11);
    cr_assert_eq(st.feedbacks, 2);
}

Test(twcc_feedback, reordering_and_loss_inside_one_feedback)
{
    /* seq: 1 2 4 3 6 8 7, 5 never arrives */
    static const struct {
        uint16_t seq;
        int64_t at;
    } rx[] = {{1, 0}, {2, 3000}, {4, 5100}, {3, 5200}, {6, 9000}, {8, 9100}, {7, 30000}};
    for (size_t i = 0; i < sizeof rx / sizeof rx[0]; i++)
        weir_twcc_feedback_handle_packet(&fb, rx[i].seq, T0 + rx[i].at);
    poll_expect(T0 + 200 * MS, 1500);
    cr_assert_eq(got.n, 8);
    assert_entry(0, 1, T0);
    assert_entry(1, 2, T0 + 3000);
    assert_entry(2, 3, T0 + 5200);
    assert_entry(3, 4, T0 + 5100); /* earlier than 3: a negative delta */
    assert_entry(4, 5, -1);
    assert_entry(5, 6, T0 + 9000);
    assert_entry(6, 7, T0 + 30000);
    assert_entry(7, 8, T0 + 9100);
}

Test(twcc_feedback, late_packet_is_reported_in_the_next_feedback_with_what_followed)
{
    weir_twcc_feedback_handle_packet(&fb, 10, T0);
    weir_twcc_feedback_handle_packet(&fb, 12, T0 + 2 * MS);
    weir_twcc_feedback_handle_packet(&fb, 13, T0 + 3 * MS);
    poll_expect(T0 + 100 * MS, 1500);
    cr_assert_eq(got.n, 4);
    assert_entry(1, 11, -1);

    weir_twcc_feedback_handle_packet(&fb, 11, T0 + 120 * MS);
    weir_twcc_feedback_handle_packet(&fb, 14, T0 + 121 * MS);
    poll_expect(T0 + 200 * MS, 1500);
    cr_assert_eq(got.hdr.base_seq, 11);
    cr_assert_eq(got.n, 4);
    assert_entry(0, 11, T0 + 120 * MS);
    assert_entry(1, 12, T0 + 2 * MS);
    assert_entry(2, 13, T0 + 3 * MS);
    assert_entry(3, 14, T0 + 121 * MS);
}

Test(twcc_feedback, sequence_wraps_from_65535_to_0)
{
    for (int i = 0; i < 12; i++)
        if (i != 7) /* seq 1 lost */
            weir_twcc_feedback_handle_packet(&fb, (uint16_t)(65530 + i), T0 + i * 2 * MS);
    poll_expect(T0 + 100 * MS, 1500);
    cr_assert_eq(got.hdr.base_seq, 65530);
    cr_assert_eq(got.n, 12);
    for (int i = 0; i < 12; i++)
        assert_entry(i, (uint16_t)(65530 + i), i == 7 ? -1 : T0 + i * 2 * MS);

    /* A late 1 after the wrap is still placed right. */
    weir_twcc_feedback_handle_packet(&fb, 1, T0 + 101 * MS);
    poll_expect(T0 + 200 * MS, 1500);
    cr_assert_eq(got.hdr.base_seq, 1);
    cr_assert_eq(got.n, 5);
    assert_entry(0, 1, T0 + 101 * MS);
    assert_entry(4, 5, T0 + 22 * MS);
}

Test(twcc_feedback, one_second_pause_fits_one_feedback)
{
    weir_twcc_feedback_handle_packet(&fb, 500, T0);
    weir_twcc_feedback_handle_packet(&fb, 501, T0 + 1000 * MS + 130);
    weir_twcc_feedback_handle_packet(&fb, 502, T0 + 1001 * MS);
    poll_expect(T0 + 1100 * MS, 1500);
    cr_assert_eq(got.n, 3);
    cr_assert_eq(got.e[1].delta_us % WEIR_TWCC_DELTA_TICK_US, 0);
    assert_entry(0, 500, T0);
    assert_entry(1, 501, T0 + 1000 * MS + 130);
    assert_entry(2, 502, T0 + 1001 * MS);
}

Test(twcc_feedback, pause_longer_than_a_delta_splits_the_feedback)
{
    /* 9 s does not fit a 16-bit count of 250 µs ticks (8.19 s). */
    weir_twcc_feedback_handle_packet(&fb, 7, T0);
    weir_twcc_feedback_handle_packet(&fb, 8, T0 + 1 * MS);
    weir_twcc_feedback_handle_packet(&fb, 9, T0 + 9001 * MS);
    int64_t now = T0 + 9100 * MS;
    poll_expect(now, 1500);
    cr_assert_eq(got.n, 2);
    assert_entry(1, 8, T0 + 1 * MS);
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), now, "the rest is due at once");
    poll_expect(now, 1500);
    cr_assert_eq(got.n, 1);
    cr_assert_eq(got.hdr.fb_count, 1);
    assert_entry(0, 9, T0 + 9001 * MS);
    poll_none(now);
}

Test(twcc_feedback, lost_run_of_500_is_reported_as_not_received)
{
    weir_twcc_feedback_handle_packet(&fb, 1000, T0);
    weir_twcc_feedback_handle_packet(&fb, 1501, T0 + 50 * MS);
    poll_expect(T0 + 100 * MS, 1500);
    cr_assert_eq(got.n, 502);
    assert_entry(0, 1000, T0);
    for (int i = 1; i <= 500; i++)
        cr_assert(!got.e[i].received);
    assert_entry(501, 1501, T0 + 50 * MS);
}

Test(twcc_feedback, jump_past_the_history_starts_a_new_feedback)
{
    weir_twcc_feedback_handle_packet(&fb, 100, T0);
    weir_twcc_feedback_handle_packet(&fb, 101, T0 + 1 * MS);
    weir_twcc_feedback_handle_packet(&fb, 30000, T0 + 2 * MS);
    weir_twcc_feedback_handle_packet(&fb, 30001, T0 + 3 * MS);
    poll_expect(T0 + 200 * MS, 1500);
    cr_assert_eq(got.hdr.base_seq, 30000);
    cr_assert_eq(got.n, 2);
    assert_entry(0, 30000, T0 + 2 * MS);
    assert_entry(1, 30001, T0 + 3 * MS);
    weir_twcc_feedback_stats st = weir_twcc_feedback_get_stats(&fb);
    cr_assert_eq(st.evicted, 2);

    /* The old numbers are now older than the history. */
    weir_twcc_feedback_handle_packet(&fb, 102, T0 + 4 * MS);
    cr_assert_eq(weir_twcc_feedback_get_stats(&fb).too_old, 1);
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), WEIR_TWCC_FB_NO_TIMEOUT);
}

Test(twcc_feedback, duplicates_keep_the_first_arrival)
{
    weir_twcc_feedback_handle_packet(&fb, 5, T0);
    weir_twcc_feedback_handle_packet(&fb, 5, T0 + 40 * MS);
    cr_assert_eq(weir_twcc_feedback_get_stats(&fb).duplicates, 1);
    poll_expect(T0 + 100 * MS, 1500);
    cr_assert_eq(got.n, 1);
    assert_entry(0, 5, T0);
}

Test(twcc_feedback, enough_pending_packets_make_feedback_due_at_once)
{
    weir_twcc_feedback_config cfg = {.interval_us = 50 * MS, .max_pending = 10};
    weir_twcc_feedback_init(&fb, &cfg);
    for (int i = 0; i < 9; i++)
        weir_twcc_feedback_handle_packet(&fb, (uint16_t)i, T0 + i * 100);
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), T0 + 50 * MS);
    weir_twcc_feedback_handle_packet(&fb, 9, T0 + 900);
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), T0 + 900);
    poll_expect(T0 + 900, 1500);
    cr_assert_eq(got.n, 10);
}

Test(twcc_feedback, cap_splits_feedback_without_losing_a_packet)
{
    for (int i = 0; i < 150; i++)
        weir_twcc_feedback_handle_packet(&fb, (uint16_t)(65500 + i), T0 + i * 3 * MS);
    int64_t now = T0 + 500 * MS;
    int next = 0, feedbacks = 0;
    while (weir_twcc_feedback_next_timeout(&fb) <= now) {
        poll_expect(now, 80);
        cr_assert_eq(got.hdr.base_seq, (uint16_t)(65500 + next));
        cr_assert_eq(got.hdr.fb_count, feedbacks);
        for (int i = 0; i < got.n; i++)
            assert_entry(i, (uint16_t)(65500 + next + i), T0 + (next + i) * 3 * MS);
        next += got.n;
        feedbacks++;
    }
    cr_assert_eq(next, 150);
    cr_assert_gt(feedbacks, 2);

    uint8_t out[64];
    size_t len = 0;
    weir_twcc_feedback_handle_packet(&fb, 200, now);
    cr_assert_eq(
        weir_twcc_feedback_poll_feedback(&fb, now + 100 * MS, SENDER, MEDIA, out, 24, &len),
        -WEIR_ETOOBIG);
    cr_assert_eq(weir_twcc_feedback_next_timeout(&fb), now + 100 * MS, "nothing changed");
}

/* Checks one parsed feedback against the model: k is the newest index sent. */
static void check_model(const int64_t *arrival, bool *reported, int k, uint16_t first_seq)
{
    for (int e = 0; e < got.n; e++) {
        int idx = k + (int16_t)(uint16_t)(got.e[e].seq - (uint16_t)(first_seq + k));
        cr_assert(idx >= 0 && idx <= k, "entry outside what was sent: %d", idx);
        if (!got.e[e].received)
            continue;
        cr_assert_geq(arrival[idx], 0, "idx %d reported received but was lost", idx);
        int64_t err = got.arrival_us[e] - arrival[idx];
        cr_assert(err >= -125 && err <= 125, "idx %d off by %lld", idx, (long long)err);
        reported[idx] = true;
    }
}

/*
 * A seeded model: 100000 packets (1.5 wraps), one every 0.5-1.5 ms, 3% lost,
 * 5% swapped with one up to 30 later; feedback polled every 10 ms and
 * whenever due, as the shell would. Every received packet must be reported
 * with its arrival, and no lost or unsent packet reported received.
 */
Test(twcc_feedback, seeded_loss_and_reordering_over_wraps)
{
    enum { N = 100000 };
    static int64_t arrival[N]; /* -2 not sent yet, -1 lost */
    static bool reported[N];
    static int order[N];
    uint32_t rng = 12345;
#define RAND() (rng = rng * 1103515245u + 12345u, (rng >> 16) & 0x7fff)
    for (int i = 0; i < N; i++) {
        order[i] = i;
        arrival[i] = -2;
    }
    for (int i = 0; i + 30 < N; i++) {
        if (RAND() % 100 < 5) {
            int j = i + 1 + (int)(RAND() % 30);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    }
    const uint16_t first_seq = 60000;
    int64_t now = T0, next_poll = T0;
    int newest = 0;
    uint8_t out[1200];
    size_t len;
    for (int k = 0; k < N; k++) {
        now += 500 + RAND() % 1000;
        int i = order[k];
        newest = i > newest ? i : newest;
        arrival[i] = RAND() % 100 < 3 ? -1 : now;
        if (arrival[i] >= 0)
            weir_twcc_feedback_handle_packet(&fb, (uint16_t)(first_seq + i), now);
        while (now >= next_poll || weir_twcc_feedback_next_timeout(&fb) <= now) {
            int rc =
                weir_twcc_feedback_poll_feedback(&fb, now, SENDER, MEDIA, out, sizeof out, &len);
            cr_assert_geq(rc, 0);
            if (rc == 1) {
                parse_into(out, len, &got);
                check_model(arrival, reported, newest, first_seq);
            }
            if (now >= next_poll)
                next_poll += 10 * MS;
        }
    }
    now += 200 * MS;
    while (weir_twcc_feedback_poll_feedback(&fb, now, SENDER, MEDIA, out, sizeof out, &len) == 1) {
        parse_into(out, len, &got);
        check_model(arrival, reported, newest, first_seq);
    }
    int missing = 0;
    for (int i = 0; i < N; i++)
        missing += arrival[i] >= 0 && !reported[i];
    cr_assert_eq(missing, 0, "%d received packets never reported", missing);
    weir_twcc_feedback_stats st = weir_twcc_feedback_get_stats(&fb);
    cr_assert_eq(st.evicted, 0);
    cr_assert_eq(st.too_old, 0);
    cr_assert_gt(st.feedbacks, 900); /* ~100 s at one per 100 ms */
#undef RAND
}
