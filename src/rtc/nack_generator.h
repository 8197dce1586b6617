/**
 * NACK generation for one received RTP stream (one SSRC of a publisher):
 * finds sequence number gaps and says which numbers to NACK (RFC 4585
 * §6.2.1) and when, and when a loss became unrecoverable so a keyframe is
 * needed instead.
 *
 * Behaviour:
 *  - Sequence numbers are extended (wrap 65535 → 0 is continuous); a number
 *    newer than the newest makes everything in between missing.
 *  - A missing number is first NACKed reorder_delay_us after the gap was
 *    seen (a reordered packet usually arrives within it and is never
 *    NACKed), then again every rtt_us, at most max_retries times in all.
 *  - A missing number is forgotten when it arrives (as itself or as RTX:
 *    recovered), one RTT after its last NACK went unanswered, or
 *    max_age_us after it went missing (gave up). Giving up raises the
 *    keyframe signal: the decoder downstream cannot repair that loss.
 *  - A gap larger than max_missing (a burst, or a sender restart) is not
 *    NACKed at all; and when new gaps would overflow max_missing the oldest
 *    missing numbers are given up. Both raise the keyframe signal.
 *  - Times earlier than the latest one seen are taken as the latest.
 *
 * Pure, sans-IO, no allocation: embed it (init, no deinit). The struct is
 * public only so it can be embedded: treat its fields as private.
 */
#ifndef WEIR_RTC_NACK_GENERATOR_H
#define WEIR_RTC_NACK_GENERATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEIR_NACK_GEN_CAPACITY 256 /* missing numbers tracked at once */
#define WEIR_NACK_GEN_DEFAULT_REORDER_DELAY_US 20000
#define WEIR_NACK_GEN_DEFAULT_RTT_US 100000
#define WEIR_NACK_GEN_DEFAULT_MAX_AGE_US 1000000
#define WEIR_NACK_GEN_DEFAULT_MAX_RETRIES 5
#define WEIR_NACK_GEN_NO_TIMEOUT INT64_MAX

typedef struct weir_nack_generator_config {
    int64_t reorder_delay_us; /* before the first NACK; 0: default (20 ms) */
    int64_t rtt_us;           /* initial RTT, between retries; 0: default (100 ms) */
    int64_t max_age_us;       /* a missing number is given up after this; 0: default (1 s) */
    uint32_t max_retries;     /* NACKs per number, 1..255; 0: default (5) */
    uint32_t max_missing;     /* 0 or above WEIR_NACK_GEN_CAPACITY: the capacity */
} weir_nack_generator_config;

typedef struct weir_nack_generator_stats {
    uint64_t missing;     /* numbers that went missing (tracked ones) */
    uint64_t recovered;   /* missing numbers that arrived as RTX */
    uint64_t reordered;   /* missing numbers that arrived late as themselves */
    uint64_t gave_up;     /* missing numbers given up (retries, age, overflow) */
    uint64_t not_tracked; /* numbers of gaps larger than max_missing, never NACKed */
    uint64_t nacked;      /* sequence numbers handed out by poll_nack, retries included */
    uint64_t keyframes;   /* times the keyframe signal was raised */
} weir_nack_generator_stats;

typedef struct weir_nack_generator_entry {
    int64_t seq;        /* extended */
    int64_t next_us;    /* next NACK, when tries < max_retries */
    int64_t give_up_us; /* forgotten (given up) at this time */
    uint8_t tries;      /* NACKs sent so far */
} weir_nack_generator_entry;

typedef struct weir_nack_generator {
    /* config: */
    int64_t reorder_delay_us;
    int64_t rtt_us;
    int64_t max_age_us;
    uint32_t max_retries;
    uint32_t max_missing;
    /* state (private): */
    bool started;
    bool keyframe_needed;
    int64_t max_seq; /* newest extended number received */
    int64_t last_now_us;
    uint32_t n; /* entries in use, sorted by seq */
    weir_nack_generator_entry entries[WEIR_NACK_GEN_CAPACITY];
    weir_nack_generator_stats stats;
} weir_nack_generator;

/** Resets g with cfg (NULL: defaults; out-of-range values: defaults). Cannot fail. */
void weir_nack_generator_init(weir_nack_generator *g, const weir_nack_generator_config *cfg);

/** New RTT estimate (e.g. from an RR's DLSR); non-positive values are ignored. */
void weir_nack_generator_set_rtt(weir_nack_generator *g, int64_t rtt_us);

/**
 * Records a received packet of the stream: seq is its (original, unwrapped
 * from RTX) sequence number, was_rtx whether it came as RTX (RFC 4588).
 * Duplicates and numbers older than what is tracked change nothing.
 */
void weir_nack_generator_handle_packet(weir_nack_generator *g, uint16_t seq, int64_t now_us,
                                       bool was_rtx);

/**
 * The earliest time poll_nack has work (a NACK due or a number to give up);
 * WEIR_NACK_GEN_NO_TIMEOUT when nothing is missing.
 */
int64_t weir_nack_generator_next_timeout(const weir_nack_generator *g);

/**
 * Gives up what is overdue, then writes the sequence numbers to NACK at
 * now_us into seqs[0..cap), oldest first, and returns how many (0: none).
 * Numbers due that did not fit stay due: call again. The caller sends them
 * with weir_rtcp_fb_nack_write.
 */
size_t weir_nack_generator_poll_nack(weir_nack_generator *g, int64_t now_us, uint16_t *seqs,
                                     size_t cap);

/**
 * True once after a loss became unrecoverable (the signal is then cleared):
 * ask the publisher for a keyframe (keyframe_requester). Check it after
 * every handle_packet and poll_nack.
 */
bool weir_nack_generator_poll_keyframe(weir_nack_generator *g);

/** Numbers currently missing (tracked). */
size_t weir_nack_generator_missing_count(const weir_nack_generator *g);

/** Counters since init. */
weir_nack_generator_stats weir_nack_generator_get_stats(const weir_nack_generator *g);

#endif
