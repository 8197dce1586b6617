#include "rtc/receive_stats.h"

#include <string.h>

#include "weir/errors.h"

/* RFC 3550 A.1 */
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define SEQ_MOD 0x10000
#define NO_BAD_SEQ (SEQ_MOD + 1)
/* 24-bit signed cumulative loss (§6.4.1) */
#define LOST_MAX 0x7fffff
#define LOST_MIN (-0x800000)

int weir_receive_stats_init(weir_receive_stats *rs, uint32_t ssrc, uint32_t clock_rate_hz)
{
    if (clock_rate_hz == 0)
        return -WEIR_EINVAL;
    memset(rs, 0, sizeof *rs);
    rs->ssrc = ssrc;
    rs->clock_rate_hz = clock_rate_hz;
    rs->bad_seq = NO_BAD_SEQ;
    return 0;
}

/* A.1 init_seq: a new stream, or a restart (the SR mapping stays). */
static void init_seq(weir_receive_stats *rs, uint16_t seq)
{
    rs->started = true;
    rs->base_seq = seq;
    rs->max_seq = seq;
    rs->bad_seq = NO_BAD_SEQ;
    rs->received = 0;
    rs->expected_prior = 0;
    rs->received_prior = 0;
    rs->has_transit = false;
    rs->jitter_q4 = 0;
}

/* A.1 update_seq without probation: false when the packet is to be ignored. */
static bool update_seq(weir_receive_stats *rs, uint16_t seq)
{
    uint16_t udelta = (uint16_t)(seq - (uint16_t)rs->max_seq);
    if (udelta < MAX_DROPOUT) {
        rs->max_seq += udelta; /* wraps count as a cycle by themselves */
    } else if (udelta <= SEQ_MOD - MAX_MISORDER) {
        if (seq != rs->bad_seq) {
            rs->bad_seq = (uint32_t)((seq + 1) & (SEQ_MOD - 1));
            rs->ignored++;
            return false;
        }
        /* Two packets in sequence after a big jump: the source restarted. */
        init_seq(rs, seq);
        rs->restarts++;
    }
    /* else: a duplicate or a reordered packet, counted but max unchanged */
    return true;
}

/*
 * A.8: transit = arrival - timestamp, both in the RTP clock; only
 * differences of transit matter, so the clock's origin does not, and the
 * 32-bit wrap of timestamps cancels in the unsigned subtraction.
 */
static void update_jitter(weir_receive_stats *rs, uint32_t rtp_ts, int64_t arrival_us)
{
    int64_t arrival_rtp = arrival_us * (int64_t)rs->clock_rate_hz / 1000000;
    uint32_t transit = (uint32_t)arrival_rtp - rtp_ts;
    if (rs->has_transit) {
        int32_t d = (int32_t)(transit - rs->transit);
        uint32_t abs_d = d < 0 ? (uint32_t) - (int64_t)d : (uint32_t)d;
        rs->jitter_q4 += abs_d - ((rs->jitter_q4 + 8) >> 4);
    }
    rs->transit = transit;
    rs->has_transit = true;
}

void weir_receive_stats_handle_packet(weir_receive_stats *rs, uint16_t seq, uint32_t rtp_ts,
                                      int64_t arrival_us, bool was_rtx)
{
    if (!rs->started)
        init_seq(rs, seq);
    else if (!update_seq(rs, seq))
        return;
    rs->received++;
    if (!was_rtx)
        update_jitter(rs, rtp_ts, arrival_us);
}

void weir_receive_stats_handle_sr(weir_receive_stats *rs, uint64_t ntp, int64_t arrival_us)
{
    rs->has_sr = true;
    rs->lsr = weir_rtcp_ntp_mid32(ntp);
    rs->sr_arrival_us = arrival_us;
}

/* A.3: loss in the interval since the previous block, as a fraction of 256. */
static uint8_t fraction_lost(weir_receive_stats *rs, int64_t expected)
{
    int64_t expected_interval = expected - rs->expected_prior;
    int64_t received_interval = (int64_t)(rs->received - rs->received_prior);
    int64_t lost_interval = expected_interval - received_interval;
    rs->expected_prior = expected;
    rs->received_prior = rs->received;
    if (expected_interval <= 0 || lost_interval <= 0)
        return 0;
    return (uint8_t)((lost_interval << 8) / expected_interval);
}

int weir_receive_stats_write_block(weir_receive_stats *rs, int64_t now_us,
                                   weir_rtcp_report_block *out)
{
    if (!rs->started)
        return -WEIR_EAGAIN;
    int64_t expected = rs->max_seq - rs->base_seq + 1;
    int64_t lost = expected - (int64_t)rs->received;
    weir_rtcp_report_block b = {
        .ssrc = rs->ssrc,
        .fraction_lost = fraction_lost(rs, expected),
        .cumulative_lost = (int32_t)(lost > LOST_MAX   ? LOST_MAX
                                     : lost < LOST_MIN ? LOST_MIN
                                                       : lost),
        .highest_seq = (uint32_t)rs->max_seq,
        .jitter = rs->jitter_q4 >> 4,
    };
    if (rs->has_sr) {
        int64_t delay_us = now_us > rs->sr_arrival_us ? now_us - rs->sr_arrival_us : 0;
        b.lsr = rs->lsr;
        b.dlsr = (uint32_t)(delay_us * 65536 / 1000000); /* 1/65536 s */
    }
    *out = b;
    return 0;
}

weir_receive_stats_info weir_receive_stats_get_info(const weir_receive_stats *rs)
{
    weir_receive_stats_info info = {
        .restarts = rs->restarts,
        .ignored = rs->ignored,
    };
    if (!rs->started)
        return info;
    info.received = rs->received;
    info.expected = rs->max_seq - rs->base_seq + 1;
    info.lost = info.expected - (int64_t)rs->received;
    info.highest_seq = (uint32_t)rs->max_seq;
    info.jitter = rs->jitter_q4 >> 4;
    return info;
}
