/*
 * weir-load's pacer (benchmarks/weir-load/pacing.c): the schedule a
 * publisher follows with --pacing FACTOR [--pacing-burst MS].
 *
 * The expected times are worked out here from the definition (a packet
 * leaves once the payload before it has drained at FACTOR x bitrate, less
 * the burst allowance), in integer arithmetic, independently of pacing.c's
 * floating point.
 */
#include <criterion/criterion.h>
#include <stdint.h>

#include "pacing.h"

#define PAYLOAD 1116 /* WL_MAX_PAYLOAD + the 16-byte trailer: a full packet */

/* Microseconds for bytes at factor_x10 / 10 x kbps, truncated like pacing.c. */
static int64_t drain_us(uint64_t bytes, int factor_x10, int kbps)
{
    return (int64_t)(bytes * 8 * 1000000 * 10 / ((uint64_t)factor_x10 * (uint64_t)kbps * 1000));
}

Test(load_pacing, off_sends_the_whole_frame_at_once)
{
    wl_pacing cfg = wl_pacing_make(0, 1500, 40000);
    size_t sizes[8];
    int64_t off[8];
    for (int i = 0; i < 8; i++)
        sizes[i] = PAYLOAD;
    for (int i = 0; i < 8; i++)
        off[i] = -1;
    wl_pacing_schedule(&cfg, sizes, 8, off);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(off[i], 0, "packet %d at %lld us", i, (long long)off[i]);
    wl_pacer p = {0};
    cr_assert_eq(wl_pacer_next_us(&p, &cfg), INT64_MIN);
    cr_assert_eq(wl_pacing_drain_us(&cfg, 1000000), 0);
}

Test(load_pacing, factor_spreads_packets_at_the_pacing_rate)
{
    /* 2.5 x 1.5 Mbps: a 1116-byte payload every ~2.38 ms */
    wl_pacing cfg = wl_pacing_make(2.5, 1500, 0);
    enum { N = 7 };
    size_t sizes[N];
    int64_t off[N];
    uint64_t before = 0;
    for (int i = 0; i < N; i++)
        sizes[i] = i == N - 1 ? 400 : PAYLOAD; /* the last packet of a frame is short */
    wl_pacing_schedule(&cfg, sizes, N, off);
    cr_assert_eq(off[0], 0, "the first packet leaves at the capture");
    for (int i = 0; i < N; i++) {
        int64_t want = drain_us(before, 25, 1500);
        cr_assert(off[i] >= want - 1 && off[i] <= want + 1, "packet %d at %lld us, want %lld", i,
                  (long long)off[i], (long long)want);
        if (i > 0) {
            int64_t gap = off[i] - off[i - 1];
            cr_assert(gap >= 2380 && gap <= 2382, "gap %d: %lld us", i, (long long)gap);
        }
        before += sizes[i];
    }
}

Test(load_pacing, a_frame_of_nominal_size_takes_one_over_factor_of_the_interval)
{
    /* 1.5 Mbps at 30 fps: 6250 bytes a frame; at 2.5x it drains in 13.33 ms of 33.3 */
    for (int fx10 = 10; fx10 <= 50; fx10 += 15) {
        wl_pacing cfg = wl_pacing_make(fx10 / 10.0, 1500, 0);
        size_t sizes[6] = {1250, 1250, 1250, 1250, 1250, 1250}; /* 7500 bytes */
        int64_t off[6];
        wl_pacing_schedule(&cfg, sizes, 6, off);
        int64_t done = off[5] + wl_pacing_drain_us(&cfg, sizes[5]);
        int64_t want = 7500LL * 8 * 1000000 * 10 / (fx10 * 1500000LL);
        cr_assert(done >= want - 2 && done <= want + 2, "factor %.1f: done at %lld us, want %lld",
                  fx10 / 10.0, (long long)done, (long long)want);
        for (int i = 1; i < 6; i++)
            cr_assert_gt(off[i], off[i - 1]);
    }
}

Test(load_pacing, each_layer_is_paced_at_its_own_bitrate)
{
    size_t sizes[2] = {PAYLOAD, PAYLOAD};
    int64_t top[2], low[2];
    wl_pacing cfg_top = wl_pacing_make(2.5, 1600, 0);
    wl_pacing cfg_low = wl_pacing_make(2.5, 1600 / 8, 0);
    wl_pacing_schedule(&cfg_top, sizes, 2, top);
    wl_pacing_schedule(&cfg_low, sizes, 2, low);
    /* an eighth of the bitrate: eight times the gap (within truncation) */
    cr_assert(low[1] >= 8 * top[1] - 8 && low[1] <= 8 * top[1] + 8, "%lld vs %lld",
              (long long)low[1], (long long)top[1]);
}

Test(load_pacing, a_burst_allowance_lets_an_ordinary_frame_out_at_once)
{
    /* 40 ms at 3.75 Mbps = 18750 bytes may run ahead of the bucket */
    wl_pacing cfg = wl_pacing_make(2.5, 1500, 40000);
    enum { N = 30 }; /* a keyframe-sized frame: 33480 bytes */
    size_t sizes[N];
    int64_t off[N];
    for (int i = 0; i < N; i++)
        sizes[i] = PAYLOAD;
    wl_pacing_schedule(&cfg, sizes, N, off);
    uint64_t before = 0;
    int at_once = 0;
    for (int i = 0; i < N; i++) {
        int64_t want = drain_us(before, 25, 1500) - 40000;
        if (want < 0)
            want = 0;
        cr_assert(off[i] >= want - 1 && off[i] <= want + 1, "packet %d at %lld us, want %lld", i,
                  (long long)off[i], (long long)want);
        at_once += off[i] == 0;
        before += sizes[i];
    }
    /* the packets whose preceding bytes fit in the allowance: ceil(18750 / 1116) = 17 */
    cr_assert_eq(at_once, 17);
    cr_assert_gt(off[N - 1], 0, "beyond the allowance the rate applies again");
}

Test(load_pacing, a_late_sender_earns_no_credit)
{
    wl_pacing cfg = wl_pacing_make(2.5, 1500, 0);
    wl_pacer p = {0};
    int64_t gap = wl_pacing_drain_us(&cfg, PAYLOAD);
    wl_pacer_sent(&p, &cfg, 1000000, PAYLOAD);
    cr_assert_eq(wl_pacer_next_us(&p, &cfg), 1000000 + gap);
    /* on time: the next one follows the bucket */
    wl_pacer_sent(&p, &cfg, 1000000 + gap, PAYLOAD);
    cr_assert(wl_pacer_next_us(&p, &cfg) >= 1000000 + 2 * gap - 1);
    /* 100 ms late: the bucket emptied long ago; the next packet still waits one gap */
    int64_t late = 1100000;
    wl_pacer_sent(&p, &cfg, late, PAYLOAD);
    cr_assert_eq(wl_pacer_next_us(&p, &cfg), late + gap);
}

Test(load_pacing, make_ignores_a_negative_burst_and_a_zero_bitrate)
{
    wl_pacing a = wl_pacing_make(2.5, 1500, -5);
    cr_assert_eq(a.burst_us, 0);
    cr_assert_gt(a.rate_bps, 0);
    wl_pacing b = wl_pacing_make(2.5, 0, 0);
    cr_assert_eq(b.rate_bps, 0, "no bitrate: not paced rather than an infinite gap");
}
