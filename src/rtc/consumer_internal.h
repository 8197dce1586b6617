/*
 * The consumer's body, shared by consumer.c (packet path), consumer_history.c
 * (send history, NACK, retransmission) and consumer_report.c (SR, RTT).
 * Private to those files and their tests.
 */
#ifndef WEIR_RTC_CONSUMER_INTERNAL_H
#define WEIR_RTC_CONSUMER_INTERNAL_H

#include "proto/vp8.h"
#include "rtc/consumer.h"
#include "rtc/seqmap.h"
#include "rtc/simulcast_selector.h"
#include "rtc/tsmap.h"
#include "rtc/vp8_rewriter.h"

/* First size of the send history ring (it doubles up to the configured size). */
#define WEIR_CONSUMER_HISTORY_FIRST 64

/* One transmitted packet: what rebuilds it exactly as first sent. */
typedef struct weir_consumer_sent {
    weir_pkt *pkt;        /* in the history: an owned reference; NULL when the slot is empty */
    int64_t sent_us;      /* first transmission */
    int64_t last_sent_us; /* newest transmission */
    uint32_t out_ts;
    uint16_t out_seq;
    uint8_t out_pt;
    bool queued; /* in the retransmission queue */
    bool has_ids;
    weir_vp8_ids ids;
} weir_consumer_sent;

/* What the consumer tracks about one publisher layer (audio: layer 0). */
typedef struct weir_consumer_layer {
    bool seen;
    bool active;
    uint32_t ssrc;
    uint16_t max_seq;
    int64_t last_us;
} weir_consumer_layer;

struct weir_consumer {
    /* config: */
    weir_consumer_config cfg;
    size_t mid_len;
    /* owned: */
    weir_consumer_sent *hist; /* hist_mask + 1 slots, indexed by out_seq & hist_mask */
    uint16_t *rtx_queue;      /* rtx_cap out seqs to retransmit, FIFO */
    size_t rtx_cap;
    /* state: */
    weir_simulcast_selector sel;
    weir_seqmap seq;
    weir_tsmap ts;
    weir_vp8_rewriter vp8;
    bool paused;
    bool started;
    int64_t last_now_us;
    weir_consumer_layer layers[WEIR_SIMULCAST_MAX_SPATIAL];
    uint8_t kf_mask; /* layers to ask the publisher a keyframe for */
    /* history window: live slots hold out seqs in [hist_tail, hist_head] */
    uint16_t hist_mask;
    uint16_t
        hist_max_mask; /* the config's size - 1; the ring starts smaller (consumer_history.c) */
    bool hist_any;
    uint16_t hist_tail;
    uint16_t hist_head;
    size_t rtx_head;
    size_t rtx_count;
    uint16_t rtx_seq;
    int64_t rtt_us; /* 0: unknown */
    /* sender reports: */
    bool has_src_sr; /* the publisher's SR of the forwarded source */
    uint64_t src_sr_ntp;
    uint32_t src_sr_rtp;
    bool has_ref; /* newest forwarded timestamp (ours) and when it was forwarded */
    uint32_t ref_out_ts;
    int64_t ref_us;
    uint32_t sr_packets;
    uint32_t sr_octets;
    bool sr_sent;
    uint32_t sr_mid32;
    int64_t sr_sent_us;
    weir_consumer_stats st;
    uint8_t scratch[WEIR_CONSUMER_OUT_MAX]; /* the original, before RTX wrapping */
};

/**
 * Writes s's packet as sent on the wire (C1, C2) into out. d: s->pkt's VP8
 * descriptor when the caller has it, NULL to parse it again (when
 * s->has_ids). Returns the length or a negative -WEIR_E*.
 */
int weir_consumer_build(weir_consumer *c, const weir_consumer_sent *s, const weir_vp8_desc *d,
                        int64_t now_us, uint16_t *twcc_seq, uint8_t *out, size_t cap);
/** Keeps s (taking a pkt reference) as first sent at now_us. */
void weir_consumer_history_store(weir_consumer *c, const weir_consumer_sent *s, int64_t now_us);
/** Releases the slots older than WEIR_CONSUMER_HISTORY_MAX_AGE_US. */
void weir_consumer_history_expire(weir_consumer *c, int64_t now_us);

#endif
