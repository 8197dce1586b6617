/*
 * weir_receive_stats against hand-computed RFC 3550 values: loss and
 * fraction lost per interval (A.3), extended sequence numbers across the
 * wrap, duplicates making loss negative, the A.1 jump/restart rule,
 * interarrival jitter (A.8) in 8 kHz and 90 kHz clocks with RTX left out,
 * and LSR/DLSR from the §6.4.1 example.
 */
#include <criterion/criterion.h>

#include "rtc/receive_stats.h"
#include "weir/errors.h"

#define SSRC 0xcafe0001u
#define MS 1000

static weir_receive_stats rs;
static weir_rtcp_report_block b;

static void feed(uint16_t seq, int64_t arrival_us)
{
    weir_receive_stats_handle_packet(&rs, seq, (uint32_t)seq * 3000, arrival_us, false);
}

static void report(int64_t now_us)
{
    cr_assert_eq(weir_receive_stats_write_block(&rs, now_us, &b), 0);
    cr_assert_eq(b.ssrc, SSRC);
}

Test(receive_stats, loss_and_fraction_lost_per_interval)
{
    cr_assert_eq(weir_receive_stats_init(&rs, SSRC, 90000), 0);
    cr_assert_eq(weir_receive_stats_write_block(&rs, 0, &b), -WEIR_EAGAIN);
    for (uint16_t s = 0; s < 10; s++)
        if (s != 3 && s != 5)
            feed(s, s * 10 * MS);
    report(100 * MS);
    cr_assert_eq(b.highest_seq, 9);
    cr_assert_eq(b.cumulative_lost, 2);
    cr_assert_eq(b.fraction_lost, 51); /* 2/10 * 256 = 51.2 */

    /* Next interval: all 10 plus a duplicate: nothing lost in it, one less overall. */
    for (uint16_t s = 10; s < 20; s++)
        feed(s, s * 10 * MS);
    feed(12, 200 * MS);
    report(200 * MS);
    cr_assert_eq(b.highest_seq, 19);
    cr_assert_eq(b.cumulative_lost, 1);
    cr_assert_eq(b.fraction_lost, 0);

    /* An interval with nothing received: nothing expected, fraction 0. */
    report(300 * MS);
    cr_assert_eq(b.fraction_lost, 0);
    weir_receive_stats_info info = weir_receive_stats_get_info(&rs);
    cr_assert_eq(info.received, 19);
    cr_assert_eq(info.expected, 20);
}

Test(receive_stats, extended_sequence_across_the_wrap)
{
    weir_receive_stats_init(&rs, SSRC, 90000);
    for (int i = 0; i < 10; i++) {
        uint16_t s = (uint16_t)(65530 + i);
        if (s != 65534)
            feed(s, i * 10 * MS);
    }
    feed(65533, 100 * MS); /* a late duplicate before the wrap */
    report(100 * MS);
    cr_assert_eq(b.highest_seq, 0x10003);
    cr_assert_eq(b.cumulative_lost, 0);
    cr_assert_eq(b.fraction_lost, 0);

    weir_receive_stats_init(&rs, SSRC, 90000);
    for (int i = 0; i < 10; i++) {
        uint16_t s = (uint16_t)(65530 + i);
        if (s != 65534)
            feed(s, i * 10 * MS);
    }
    report(100 * MS);
    cr_assert_eq(b.highest_seq, 0x10003);
    cr_assert_eq(b.cumulative_lost, 1);
    cr_assert_eq(b.fraction_lost, 25); /* 1/10 * 256 = 25.6 */
}

Test(receive_stats, reordering_keeps_the_highest_and_loses_nothing)
{
    weir_receive_stats_init(&rs, SSRC, 90000);
    feed(10, 0);
    feed(12, 1 * MS);
    feed(11, 2 * MS);
    report(10 * MS);
    cr_assert_eq(b.highest_seq, 12);
    cr_assert_eq(b.cumulative_lost, 0);
}

Test(receive_stats, big_jump_is_ignored_unless_confirmed_as_a_restart)
{
    weir_receive_stats_init(&rs, SSRC, 90000);
    for (uint16_t s = 100; s < 105; s++)
        feed(s, s * MS);
    feed(20000, 200 * MS); /* more than MAX_DROPOUT ahead: ignored */
    feed(105, 201 * MS);
    report(210 * MS);
    cr_assert_eq(b.highest_seq, 105);
    cr_assert_eq(b.cumulative_lost, 0);

    feed(30000, 300 * MS);
    feed(30001, 301 * MS); /* follows it: the source restarted */
    feed(30002, 302 * MS);
    weir_receive_stats_info info = weir_receive_stats_get_info(&rs);
    cr_assert_eq(info.restarts, 1);
    cr_assert_eq(info.ignored, 2);
    cr_assert_eq(info.received, 2);
    report(310 * MS);
    cr_assert_eq(b.highest_seq, 30002);
    cr_assert_eq(b.cumulative_lost, 0);
}

Test(receive_stats, cumulative_loss_is_clamped_to_24_bits)
{
    weir_receive_stats_init(&rs, SSRC, 90000);
    uint16_t s = 0;
    for (int i = 0; i < 3000; i++, s = (uint16_t)(s + 2999))
        feed(s, i * MS);
    report(3000 * MS);
    cr_assert_eq(b.cumulative_lost, 0x7fffff);
    cr_assert_eq(b.fraction_lost, 255);
}

/*
 * 8 kHz, 20 ms packets (160 ticks), every other one 20 ms late: |D| = 160
 * each time. A.8's integer form gives J = 10, 19, 28 (the real-valued
 * recursion: 10, 19.375, 28.16).
 */
Test(receive_stats, jitter_a8_hand_computed)
{
    weir_receive_stats_init(&rs, SSRC, 8000);
    static const uint32_t want[] = {0, 10, 19, 28};
    for (int i = 0; i < 4; i++) {
        int64_t arrival = 1000000 + i * 20 * MS + (i % 2 ? 20 * MS : 0);
        weir_receive_stats_handle_packet(&rs, (uint16_t)i, (uint32_t)(i * 160), arrival, false);
        report(arrival);
        cr_assert_eq(b.jitter, want[i], "after packet %d: %u, want %u", i, b.jitter, want[i]);
    }
    /* A retransmission arriving 500 ms late does not move it. */
    weir_receive_stats_handle_packet(&rs, 2, 320, 1560 * MS, true);
    report(1560 * MS);
    cr_assert_eq(b.jitter, 28);
}

/* 90 kHz, 25 fps: on time gives 0; one frame 10 ms late gives 900/16 = 56, then 109. */
Test(receive_stats, jitter_in_a_90_khz_clock_with_timestamp_wrap)
{
    weir_receive_stats_init(&rs, SSRC, 90000);
    uint32_t ts = 0xffffffffu - 2 * 3600 + 1; /* wraps during the test */
    int64_t t = 7 * 1000000;
    for (int i = 0; i < 5; i++, ts += 3600, t += 40 * MS)
        weir_receive_stats_handle_packet(&rs, (uint16_t)i, ts, t, false);
    report(t);
    cr_assert_eq(b.jitter, 0);
    weir_receive_stats_handle_packet(&rs, 5, ts, t + 10 * MS, false);
    report(t);
    cr_assert_eq(b.jitter, 56);
    weir_receive_stats_handle_packet(&rs, 6, ts + 3600, t + 40 * MS, false);
    report(t);
    cr_assert_eq(b.jitter, 109);
}

/* RFC 3550 §6.4.1's example: LSR 0xb705:2000, DLSR 5.25 s = 0x0005:4000. */
Test(receive_stats, lsr_and_dlsr_from_the_last_sr)
{
    weir_receive_stats_init(&rs, SSRC, 90000);
    feed(1, 0);
    report(10 * MS);
    cr_assert_eq(b.lsr, 0);
    cr_assert_eq(b.dlsr, 0);
    weir_receive_stats_handle_sr(&rs, 0x0000b70520000000ull, 2000 * MS);
    report(2000 * MS + 5250 * MS);
    cr_assert_eq(b.lsr, 0xb7052000u);
    cr_assert_eq(b.dlsr, 0x00054000u);
    cr_assert_eq(weir_receive_stats_init(&rs, SSRC, 0), -WEIR_EINVAL);
}
