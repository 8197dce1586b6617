/**
 * Receive side of transport-wide congestion control
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01): records the
 * transport-wide sequence number and arrival time of every RTP packet of one
 * transport (all SSRCs of a publisher's connection) and turns them into
 * feedback packets (proto/twcc.h) that let the sender's bandwidth estimator
 * climb. Chromium only sends its upper simulcast layers once that estimate
 * allows them, so without this feedback a publisher sends its lowest layer.
 *
 * Behaviour (the shape of libwebrtc's RemoteEstimatorProxy):
 *  - A feedback covers [base, newest received] where base is the first
 *    sequence number not yet reported; packets missing in between are
 *    reported as not received.
 *  - Feedback is due interval_us after the previous one, or at once when
 *    max_pending received packets wait, or when the unreported span reaches
 *    half the history.
 *  - A late packet (older than base, still within the history) moves base
 *    back to it: the next feedback reports it and re-reports the packets
 *    after it from the history (a sender ignores what it already knows).
 *  - One feedback ends early when the next packet does not fit cap, or its
 *    receive delta does not fit 16 bits of 250 µs ticks (a pause of more
 *    than 8.19 s): the rest goes in the next feedback, which is due at once.
 *  - A packet more than WEIR_TWCC_FB_HISTORY ahead of base (a sender restart
 *    or a huge loss burst) starts the next feedback at the oldest received
 *    packet still in the history; unreported packets older than that are
 *    dropped and counted (evicted).
 *  - Arrival times are quantised with the remainder carried, so every
 *    reported arrival is within 125 µs of the real one.
 *  - Duplicates keep their first arrival; packets older than the history
 *    are ignored (too_old).
 *
 * Pure, sans-IO, no allocation: embed it (init, no deinit). The struct is
 * public only so it can be embedded: treat its fields as private.
 */
#ifndef WEIR_RTC_TWCC_FEEDBACK_H
#define WEIR_RTC_TWCC_FEEDBACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/twcc.h"

/* Packets remembered, a power of two; also the most entries one feedback holds. */
#define WEIR_TWCC_FB_HISTORY 1024
#define WEIR_TWCC_FB_DEFAULT_INTERVAL_US 100000
#define WEIR_TWCC_FB_DEFAULT_MAX_PENDING 200
#define WEIR_TWCC_FB_NO_TIMEOUT INT64_MAX

typedef struct weir_twcc_feedback_config {
    int64_t interval_us;  /* between feedbacks; 0: WEIR_TWCC_FB_DEFAULT_INTERVAL_US */
    uint32_t max_pending; /* unreported packets that make feedback due at once; 0: default */
} weir_twcc_feedback_config;

typedef struct weir_twcc_feedback_stats {
    uint64_t packets;    /* recorded (duplicates and too-old ones excluded) */
    uint64_t duplicates; /* a sequence number already recorded */
    uint64_t too_old;    /* older than the history */
    uint64_t evicted;    /* recorded but dropped before it was reported */
    uint64_t feedbacks;  /* feedback packets written */
} weir_twcc_feedback_stats;

typedef struct weir_twcc_feedback_slot {
    int64_t seq; /* unwrapped; INT64_MIN when empty */
    int64_t arrival_us;
} weir_twcc_feedback_slot;

typedef struct weir_twcc_feedback {
    /* config: */
    int64_t interval_us;
    uint32_t max_pending;
    /* state (private): */
    bool started;
    uint8_t fb_count;
    uint32_t pending;        /* received packets in [base, max_seq] */
    int64_t max_seq;         /* newest unwrapped sequence number received */
    int64_t base;            /* first unwrapped sequence number of the next feedback */
    int64_t due_us;          /* when the next feedback is due, if pending > 0 */
    int64_t last_sent_us;    /* INT64_MIN before the first feedback */
    int64_t last_now_us;     /* latest time seen (times never go backwards) */
    int64_t last_arrival_us; /* latest arrival recorded */
    weir_twcc_feedback_stats stats;
    weir_twcc_feedback_slot slots[WEIR_TWCC_FB_HISTORY];
    weir_twcc_entry entries[WEIR_TWCC_FB_HISTORY]; /* scratch for poll_feedback */
} weir_twcc_feedback;

/** Resets fb with cfg (NULL: defaults). Cannot fail. */
void weir_twcc_feedback_init(weir_twcc_feedback *fb, const weir_twcc_feedback_config *cfg);

/**
 * Records one received RTP packet carrying the transport-wide sequence number
 * twcc_seq (RTX and padding packets included: the sender counts them too).
 * An arrival earlier than the previous one is taken as the previous one.
 */
void weir_twcc_feedback_handle_packet(weir_twcc_feedback *fb, uint16_t twcc_seq,
                                      int64_t arrival_us);

/** When poll_feedback has something to send; WEIR_TWCC_FB_NO_TIMEOUT when nothing waits. */
int64_t weir_twcc_feedback_next_timeout(const weir_twcc_feedback *fb);

/**
 * Writes one feedback packet (a single RTCP sub-packet, padded with the P
 * bit: put it last in a compound) into out[0..cap) when one is due at
 * now_us. sender_ssrc is ours; media_ssrc, as libwebrtc does, any media SSRC
 * of the transport. Returns 1 with *len set, 0 when nothing is due, or
 * -WEIR_ETOOBIG when cap cannot hold even one packet's feedback (then
 * nothing changed). Call again until it returns 0: a feedback cut short by
 * cap leaves the rest due at once.
 */
int weir_twcc_feedback_poll_feedback(weir_twcc_feedback *fb, int64_t now_us, uint32_t sender_ssrc,
                                     uint32_t media_ssrc, uint8_t *out, size_t cap, size_t *len);

/** Counters since init. */
weir_twcc_feedback_stats weir_twcc_feedback_get_stats(const weir_twcc_feedback *fb);

#endif
