/*
 * weir_nack_generator on a simulated clock: a gap is NACKed after the
 * reorder delay, retried every RTT up to the limit, then given up with a
 * keyframe signal; arrivals (RTX or late originals) cancel; wrap 65535 → 0;
 * RTT updates; the size and age limits; the cap of one poll.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "rtc/nack_generator.h"

#define T0 5000000
#define MS 1000

static weir_nack_generator g;
static uint16_t seqs[WEIR_NACK_GEN_CAPACITY];

static void setup(void)
{
    weir_nack_generator_init(&g, NULL);
}

TestSuite(nack_generator, .init = setup);

static void feed_range(uint16_t first, int count, int64_t now_us)
{
    for (int i = 0; i < count; i++)
        weir_nack_generator_handle_packet(&g, (uint16_t)(first + i), now_us, false);
}

/* Polls at now_us and expects exactly want[0..n). */
static void expect_nack(int64_t now_us, const uint16_t *want, size_t n)
{
    size_t got = weir_nack_generator_poll_nack(&g, now_us, seqs, WEIR_NACK_GEN_CAPACITY);
    cr_assert_eq(got, n, "at %lld: %zu seqs, want %zu", (long long)now_us, got, n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(seqs[i], want[i], "seq[%zu] = %u, want %u", i, seqs[i], want[i]);
}

static void expect_no_nack(int64_t now_us)
{
    expect_nack(now_us, NULL, 0);
}

Test(nack_generator, five_packet_gap_nacked_after_delay_retried_then_given_up)
{
    weir_nack_generator_config cfg = {.max_retries = 3};
    weir_nack_generator_init(&g, &cfg);
    static const uint16_t gap[] = {11, 12, 13, 14, 15};
    feed_range(1, 10, T0);
    cr_assert_eq(weir_nack_generator_next_timeout(&g), WEIR_NACK_GEN_NO_TIMEOUT);
    weir_nack_generator_handle_packet(&g, 16, T0, false);
    cr_assert_eq(weir_nack_generator_missing_count(&g), 5);

    int64_t first = T0 + WEIR_NACK_GEN_DEFAULT_REORDER_DELAY_US;
    cr_assert_eq(weir_nack_generator_next_timeout(&g), first);
    expect_no_nack(first - 1);
    expect_nack(first, gap, 5);
    expect_no_nack(first + 99 * MS);
    cr_assert_eq(weir_nack_generator_next_timeout(&g), first + 100 * MS);
    expect_nack(first + 100 * MS, gap, 5);
    expect_nack(first + 200 * MS, gap, 5);
    cr_assert(!weir_nack_generator_poll_keyframe(&g));

    /* Three tries used: no more NACKs; one RTT later they are given up. */
    cr_assert_eq(weir_nack_generator_next_timeout(&g), first + 300 * MS);
    expect_no_nack(first + 300 * MS - 1);
    expect_no_nack(first + 300 * MS);
    cr_assert_eq(weir_nack_generator_missing_count(&g), 0);
    cr_assert(weir_nack_generator_poll_keyframe(&g));
    cr_assert(!weir_nack_generator_poll_keyframe(&g), "the signal is cleared once read");
    weir_nack_generator_stats st = weir_nack_generator_get_stats(&g);
    cr_assert_eq(st.missing, 5);
    cr_assert_eq(st.gave_up, 5);
    cr_assert_eq(st.nacked, 15);
    cr_assert_eq(st.recovered, 0);
    cr_assert_eq(weir_nack_generator_next_timeout(&g), WEIR_NACK_GEN_NO_TIMEOUT);
}

Test(nack_generator, arrivals_cancel_their_nacks)
{
    feed_range(100, 3, T0);
    weir_nack_generator_handle_packet(&g, 108, T0 + 1 * MS, false); /* 103..107 missing */
    int64_t first = T0 + 21 * MS;
    static const uint16_t all[] = {103, 104, 105, 106, 107};
    expect_nack(first, all, 5);

    weir_nack_generator_handle_packet(&g, 104, first + 60 * MS, true);
    weir_nack_generator_handle_packet(&g, 106, first + 61 * MS, true);
    weir_nack_generator_handle_packet(&g, 106, first + 62 * MS, true); /* duplicate RTX */
    static const uint16_t rest[] = {103, 105, 107};
    expect_nack(first + 100 * MS, rest, 3);

    weir_nack_generator_handle_packet(&g, 103, first + 150 * MS, true);
    weir_nack_generator_handle_packet(&g, 105, first + 150 * MS, true);
    weir_nack_generator_handle_packet(&g, 107, first + 150 * MS, true);
    cr_assert_eq(weir_nack_generator_next_timeout(&g), WEIR_NACK_GEN_NO_TIMEOUT);
    weir_nack_generator_stats st = weir_nack_generator_get_stats(&g);
    cr_assert_eq(st.recovered, 5);
    cr_assert_eq(st.gave_up, 0);
    cr_assert(!weir_nack_generator_poll_keyframe(&g));
}

Test(nack_generator, reordered_packet_within_the_delay_is_never_nacked)
{
    feed_range(1, 2, T0);
    weir_nack_generator_handle_packet(&g, 4, T0 + 1 * MS, false);
    weir_nack_generator_handle_packet(&g, 3, T0 + 5 * MS, false);
    cr_assert_eq(weir_nack_generator_next_timeout(&g), WEIR_NACK_GEN_NO_TIMEOUT);
    expect_no_nack(T0 + 100 * MS);
    weir_nack_generator_stats st = weir_nack_generator_get_stats(&g);
    cr_assert_eq(st.missing, 1);
    cr_assert_eq(st.reordered, 1);
    cr_assert_eq(st.nacked, 0);
}

Test(nack_generator, gap_across_the_wrap)
{
    feed_range(65533, 2, T0);                            /* 65533, 65534 */
    weir_nack_generator_handle_packet(&g, 2, T0, false); /* 65535, 0, 1 missing */
    weir_nack_generator_handle_packet(&g, 3, T0, false);
    weir_nack_generator_handle_packet(&g, 65534, T0, false); /* old duplicate: nothing */
    static const uint16_t want[] = {65535, 0, 1};
    expect_nack(T0 + 20 * MS, want, 3);
    weir_nack_generator_handle_packet(&g, 0, T0 + 30 * MS, true);
    static const uint16_t rest[] = {65535, 1};
    expect_nack(T0 + 120 * MS, rest, 2);
}

Test(nack_generator, retries_follow_the_updated_rtt)
{
    feed_range(10, 1, T0);
    weir_nack_generator_handle_packet(&g, 12, T0, false);
    static const uint16_t want[] = {11};
    expect_nack(T0 + 20 * MS, want, 1);
    weir_nack_generator_set_rtt(&g, 40 * MS);
    weir_nack_generator_set_rtt(&g, 0); /* ignored */
    /* The retry already scheduled keeps its time; later ones use 40 ms. */
    expect_nack(T0 + 120 * MS, want, 1);
    cr_assert_eq(weir_nack_generator_next_timeout(&g), T0 + 160 * MS);
    expect_nack(T0 + 160 * MS, want, 1);
}

Test(nack_generator, gap_larger_than_max_missing_asks_for_a_keyframe)
{
    feed_range(1000, 1, T0);
    weir_nack_generator_handle_packet(&g, 1000 + WEIR_NACK_GEN_CAPACITY + 2, T0, false);
    cr_assert_eq(weir_nack_generator_missing_count(&g), 0);
    cr_assert(weir_nack_generator_poll_keyframe(&g));
    cr_assert_eq(weir_nack_generator_get_stats(&g).not_tracked, WEIR_NACK_GEN_CAPACITY + 1);
    expect_no_nack(T0 + 100 * MS);
}

Test(nack_generator, overflow_gives_up_the_oldest)
{
    weir_nack_generator_config cfg = {.max_missing = 10};
    weir_nack_generator_init(&g, &cfg);
    feed_range(0, 1, T0);
    weir_nack_generator_handle_packet(&g, 7, T0, false); /* 1..6 */
    cr_assert(!weir_nack_generator_poll_keyframe(&g));
    weir_nack_generator_handle_packet(&g, 14, T0 + 1 * MS, false); /* 8..13: 12 in all */
    cr_assert_eq(weir_nack_generator_missing_count(&g), 10);
    cr_assert(weir_nack_generator_poll_keyframe(&g));
    static const uint16_t want[] = {3, 4, 5, 6, 8, 9, 10, 11, 12, 13};
    expect_nack(T0 + 21 * MS, want, 10);
    cr_assert_eq(weir_nack_generator_get_stats(&g).gave_up, 2);
}

Test(nack_generator, numbers_older_than_max_age_are_given_up)
{
    weir_nack_generator_config cfg = {.max_retries = 20, .rtt_us = 300 * MS};
    weir_nack_generator_init(&g, &cfg);
    feed_range(1, 1, T0);
    weir_nack_generator_handle_packet(&g, 3, T0, false);
    static const uint16_t want[] = {2};
    expect_nack(T0 + 20 * MS, want, 1);
    expect_nack(T0 + 320 * MS, want, 1);
    expect_nack(T0 + 620 * MS, want, 1);
    expect_nack(T0 + 920 * MS, want, 1);
    cr_assert_eq(weir_nack_generator_next_timeout(&g), T0 + 1000 * MS);
    expect_no_nack(T0 + 1000 * MS);
    cr_assert_eq(weir_nack_generator_missing_count(&g), 0);
    cr_assert(weir_nack_generator_poll_keyframe(&g));
    /* An RTX arriving after that counts for nothing. */
    weir_nack_generator_handle_packet(&g, 2, T0 + 1001 * MS, true);
    cr_assert_eq(weir_nack_generator_get_stats(&g).recovered, 0);
}

Test(nack_generator, poll_cap_leaves_the_rest_due)
{
    feed_range(1, 1, T0);
    weir_nack_generator_handle_packet(&g, 6, T0, false); /* 2..5 */
    size_t n = weir_nack_generator_poll_nack(&g, T0 + 20 * MS, seqs, 3);
    cr_assert_eq(n, 3);
    cr_assert_eq(seqs[0], 2);
    cr_assert_eq(weir_nack_generator_next_timeout(&g), T0 + 20 * MS);
    static const uint16_t rest[] = {5};
    expect_nack(T0 + 20 * MS, rest, 1);
}

Test(nack_generator, time_going_backwards_is_taken_as_the_latest)
{
    feed_range(1, 1, T0);
    weir_nack_generator_handle_packet(&g, 3, T0 + 50 * MS, false);
    weir_nack_generator_handle_packet(&g, 5, T0, false); /* earlier clock: read as T0 + 50 ms */
    static const uint16_t want[] = {2, 4};
    expect_no_nack(T0 + 69 * MS);
    expect_nack(T0 + 70 * MS, want, 2);
}
