/**
 * RFC 3550 receiver statistics for one received RTP stream (one SSRC of a
 * publisher), and the report block (§6.4.1) an RR or SR sends back about it:
 * extended highest sequence number, cumulative packets lost, fraction lost
 * since the previous block, interarrival jitter, LSR and DLSR.
 *
 * Behaviour:
 *  - Sequence numbers follow RFC 3550 A.1 (without probation): a jump of up
 *    to MAX_DROPOUT (3000) ahead is accepted; a packet further ahead, but
 *    not within MAX_MISORDER (100) behind, is ignored unless the next packet
 *    follows it, which is taken as a source restart (statistics start over).
 *  - Every accepted packet counts as received, RTX-recovered ones and
 *    duplicates included (§6.4.1: duplicates can make loss negative).
 *  - Jitter follows A.8 with the arrival time converted to the stream's RTP
 *    clock; retransmissions (was_rtx) are left out of it: their arrival
 *    says nothing about the network's jitter.
 *  - LSR/DLSR come from the last SR received for this SSRC.
 *
 * Pure, sans-IO, no allocation: embed it (init, no deinit). The struct is
 * public only so it can be embedded: treat its fields as private.
 */
#ifndef WEIR_RTC_RECEIVE_STATS_H
#define WEIR_RTC_RECEIVE_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/rtcp.h"

/** Totals since the start (or the last restart) of the stream. */
typedef struct weir_receive_stats_info {
    uint64_t received;    /* packets counted as received */
    int64_t expected;     /* extended highest - first + 1 */
    int64_t lost;         /* expected - received; negative with duplicates */
    uint32_t highest_seq; /* extended: cycles << 16 | seq */
    uint32_t jitter;      /* RTP timestamp units */
    uint64_t restarts;    /* sequence restarts detected */
    uint64_t ignored;     /* packets ignored as a big jump */
} weir_receive_stats_info;

typedef struct weir_receive_stats {
    /* config: */
    uint32_t ssrc;
    uint32_t clock_rate_hz;
    /* state (private): */
    bool started;
    bool has_transit;
    bool has_sr;
    uint32_t bad_seq; /* A.1: a restart is confirmed by this next number; > 0xffff: none */
    int64_t base_seq; /* extended */
    int64_t max_seq;  /* extended */
    uint64_t received;
    int64_t expected_prior;
    uint64_t received_prior;
    uint32_t transit;   /* of the previous packet, RTP units */
    uint32_t jitter_q4; /* jitter * 16, as in A.8 */
    uint32_t lsr;       /* middle 32 bits of the last SR's NTP time */
    int64_t sr_arrival_us;
    uint64_t restarts;
    uint64_t ignored;
} weir_receive_stats;

/** ssrc is the stream's; clock_rate_hz > 0. 0, or -WEIR_EINVAL (then *rs is unchanged). */
int weir_receive_stats_init(weir_receive_stats *rs, uint32_t ssrc, uint32_t clock_rate_hz);

/** One received packet of the stream (RTX already unwrapped to its original seq and ts). */
void weir_receive_stats_handle_packet(weir_receive_stats *rs, uint16_t seq, uint32_t rtp_ts,
                                      int64_t arrival_us, bool was_rtx);

/** An SR from the stream's sender: ntp is its 32.32 NTP time, arrival_us when it came. */
void weir_receive_stats_handle_sr(weir_receive_stats *rs, uint64_t ntp, int64_t arrival_us);

/**
 * Fills *out with the report block as of now_us and starts a new interval
 * for fraction lost. cumulative_lost is clamped to 24 bits signed. Returns
 * 0, or -WEIR_EAGAIN before any packet (nothing to report; *out untouched).
 */
int weir_receive_stats_write_block(weir_receive_stats *rs, int64_t now_us,
                                   weir_rtcp_report_block *out);

/** Totals, without touching the report interval. */
weir_receive_stats_info weir_receive_stats_get_info(const weir_receive_stats *rs);

#endif
