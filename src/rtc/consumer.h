/**
 * The consumer: one subscriber's forwarding state for one track. For every
 * published weir_pkt of the track (every simulcast layer) the media worker
 * calls weir_consumer_handle_packet(), which decides forward or drop and
 * writes the packet as this subscriber must receive it; the worker then
 * SRTP-protects those bytes and sends them. Pure (sans-IO): time is passed
 * in, nothing is read, locked or allocated per packet.
 *
 * What the subscriber sees:
 *  C1 One stream: our SSRC and payload type (config), sequence numbers with
 *     no gap of our making (seqmap), timestamps that continue across layer
 *     switches and publisher restarts (tsmap), and for VP8 continuous
 *     PictureID / TL0PICIDX / KEYIDX (vp8_rewriter), rewritten in our copy;
 *     the weir_pkt is never written.
 *  C2 Only our header extensions, each written when its id is non-zero:
 *     mid, abs-send-time (from now_us), transport-wide sequence number
 *     (from the subscriber transport's shared counter *twcc_seq, incremented
 *     each time one is written) and audio level (copied from the pkt when it
 *     has one). CSRCs are copied; padding is not (a padding-only packet is
 *     dropped: WEIR_CONSUMER_DROP_PADDING).
 *  C3 Video goes through a weir_simulcast_selector (also with one layer,
 *     so pause and keyframe waits behave the same): the default target is
 *     the highest layer the publisher sends; switches happen at a keyframe
 *     of the target; temporal layers (VP8 TID from the pkt) are filtered
 *     without gaps. Audio has no selector.
 *  C4 Publisher restart (a layer's SSRC changes, or its sequence jumps by
 *     more than WEIR_CONSUMER_SEQ_JUMP either way): video tells the selector,
 *     which waits for a keyframe and resyncs the maps; audio resyncs the
 *     maps at once. Pause/resume of audio also resyncs, so resuming is
 *     seamless (timestamps advance by the paused wall time).
 *
 * Layer activity is computed here from packet arrivals: at the first packet
 * of the track, layers 0..n_layers-1 are taken as active (so the first
 * target is the top layer, not whichever layer's packet came first); a layer
 * with no packet for WEIR_SIMULCAST_INACTIVE_US is marked inactive (checked
 * at every packet of the track); a packet marks its layer active again.
 *
 * Retransmission cache: the send history holds a reference to every
 * forwarded weir_pkt plus what is needed to rebuild it exactly as first
 * sent (out seq, ts, PT, VP8 ids). A slot is released when it is older than
 * WEIR_CONSUMER_HISTORY_MAX_AGE_US (checked at each packet and at
 * handle_timeout) or when a newer sequence number needs it. NACKs name OUTPUT
 * sequence numbers; they are answered with RTX (RFC 4588: our RTX SSRC and
 * PT, its own sequence counter) or, without RTX, a plain resend of the same
 * packet. Rate limit: a sequence number is not sent again while its last
 * transmission is younger than max(WEIR_CONSUMER_RTX_MIN_INTERVAL_US, RTT)
 * (libwebrtc's RtpPacketHistory rule: a NACK repeated within one RTT is
 * the receiver's retry for a resend already in flight).
 *
 * Sender Reports (lip-sync): the NTP/RTP pair is on the publisher's own
 * mapping (its SR for the forwarded source, carried by the pkts), moved into
 * our timestamp space by the tsmap offset and extrapolated from the newest
 * forwarded packet to now. The NTP timebase is therefore the publisher's:
 * audio and video of one publisher stay consistent with each other, which is
 * all a receiver's A/V sync compares. Without a publisher SR for the current
 * source, no SR is written.
 *
 * Lifetime: weir_consumer_create() allocates everything (history included);
 * weir_consumer_destroy() drops every pkt reference it holds. A consumer is
 * used by one thread (its subscriber's worker).
 */
#ifndef WEIR_RTC_CONSUMER_H
#define WEIR_RTC_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/negotiate.h"
#include "proto/rtcp.h"
#include "rtc/pkt.h"

#define WEIR_CONSUMER_MID_MAX 32
#define WEIR_CONSUMER_VIDEO_HISTORY 512
#define WEIR_CONSUMER_AUDIO_HISTORY 64
#define WEIR_CONSUMER_MAX_HISTORY 8192
#define WEIR_CONSUMER_HISTORY_MAX_AGE_US 1000000
#define WEIR_CONSUMER_RTX_MIN_INTERVAL_US 10000
#define WEIR_CONSUMER_SEQ_JUMP 1000
/* Room for the packets the consumer writes: a weir_pkt plus our header extensions and RTX OSN. */
#define WEIR_CONSUMER_OUT_MAX (WEIR_PKT_MAX + 64)

typedef struct weir_consumer weir_consumer;

typedef struct weir_consumer_config {
    weir_codec codec; /* VP8: PictureID/TL0PICIDX rewrite; others: pkt flags only */
    bool is_audio;
    uint32_t clock_rate_hz; /* > 0 */
    uint8_t n_layers;       /* video: simulcast layers the publisher sends, 1..3 */
    /* ours toward the subscriber: */
    uint32_t ssrc;
    uint32_t rtx_ssrc; /* 0: no RTX, NACKs answered by plain resend */
    uint8_t pt;
    uint8_t rtx_pt;
    uint16_t rtx_seq_start; /* first RTX sequence number (pick it with weir_rand) */
    /* the publisher's payload types, mapped to ours; others are dropped (UNKNOWN_PT): */
    int in_pt;     /* -> pt */
    int in_red_pt; /* -> red_pt; -1: no RED */
    uint8_t red_pt;
    /* header extension ids we write, 0 = off (C2): */
    uint8_t ext_mid;
    char mid[WEIR_CONSUMER_MID_MAX + 1];
    uint8_t ext_abs_send_time;
    uint8_t ext_twcc;
    uint8_t ext_audio_level;
    /* 0: WEIR_CONSUMER_VIDEO_HISTORY / _AUDIO_HISTORY; rounded up to a power of two,
     * at most WEIR_CONSUMER_MAX_HISTORY */
    size_t history_slots;
} weir_consumer_config;

/** Why a packet was not forwarded (stats.dropped index). */
typedef enum weir_consumer_drop_reason {
    WEIR_CONSUMER_DROP_PAUSED = 0,    /* paused, or no layer to forward */
    WEIR_CONSUMER_DROP_OTHER_LAYER,   /* not the forwarded simulcast layer */
    WEIR_CONSUMER_DROP_WAIT_KEYFRAME, /* waiting for a keyframe of the target layer */
    WEIR_CONSUMER_DROP_TEMPORAL,      /* temporal layer filtered out */
    WEIR_CONSUMER_DROP_UNKNOWN_PT,    /* payload type not negotiated for this track */
    WEIR_CONSUMER_DROP_PADDING,       /* no payload (padding-only probe) */
    WEIR_CONSUMER_DROP_OLD,           /* older than the maps can renumber (seqmap G5) */
    WEIR_CONSUMER_DROP_BAD,           /* invalid layer/TID in the pkt */
    WEIR_CONSUMER_DROP_REASONS
} weir_consumer_drop_reason;

typedef enum weir_consumer_event_type {
    WEIR_CONSUMER_EVENT_LAYER_CHANGED = 1, /* spatial, temporal (-1, -1: nothing forwarded) */
    WEIR_CONSUMER_EVENT_KEYFRAME_REQUEST,  /* ask the publisher (PLI/FIR) for layer `spatial` */
} weir_consumer_event_type;

typedef struct weir_consumer_event {
    weir_consumer_event_type type;
    int8_t spatial;
    int8_t temporal;
} weir_consumer_event;

typedef struct weir_consumer_stats {
    uint64_t packets_sent; /* first transmissions */
    uint64_t bytes_sent;   /* bytes written by handle_packet (headers included) */
    uint64_t dropped[WEIR_CONSUMER_DROP_REASONS];
    uint64_t nack_seqs;         /* sequence numbers NACKed */
    uint64_t nack_unanswerable; /* not (or no longer) in the history */
    uint64_t nack_rate_limited; /* sent again too recently */
    uint64_t retransmitted;     /* packets written by poll_retransmit */
    uint64_t retransmitted_bytes;
    uint64_t vp8_unparsed; /* VP8 payloads forwarded without descriptor rewrite */
    uint64_t restarts;     /* publisher restarts detected (C4) */
    int8_t spatial;        /* forwarded layer; -1 none (audio: 0 while forwarding) */
    int8_t temporal;
} weir_consumer_stats;

/** Fills defaults: no extensions, no RTX, in_red_pt -1, n_layers 1, default history. */
void weir_consumer_config_init(weir_consumer_config *cfg);

/**
 * A consumer for cfg (copied). NULL on an invalid config: clock_rate_hz 0,
 * video n_layers outside 1..3, in_pt outside 0..127, a mid empty or longer
 * than WEIR_CONSUMER_MID_MAX while ext_mid is set.
 */
weir_consumer *weir_consumer_create(const weir_consumer_config *cfg);
/** Drops every pkt reference held and frees c. NULL is a no-op. */
void weir_consumer_destroy(weir_consumer *c);

/** Subscriber preferences (video): max_spatial 0..2, max_temporal 0..3; -WEIR_EINVAL. */
int weir_consumer_set_preferences(weir_consumer *c, int max_spatial, int max_temporal);
/** Pause drops everything at once; resume waits for a keyframe (video) or resyncs (audio). */
void weir_consumer_set_paused(weir_consumer *c, bool paused);
/** Estimator hooks (video; see weir_simulcast_selector_set_cap_*). No-ops for audio. */
int weir_consumer_set_cap_layer(weir_consumer *c, int spatial, int temporal);
void weir_consumer_set_cap_bitrate(weir_consumer *c, uint32_t max_bitrate_bps);
/** Round-trip time to the subscriber, for the retransmission rate limit; 0 = unknown. */
void weir_consumer_set_rtt(weir_consumer *c, int64_t rtt_us);

/**
 * One packet of the track (any layer). p is borrowed for the call; a
 * forwarded p gets a reference kept in the history. On 1 the packet to send
 * is in out[0..*out_len); 0 = dropped (counted by reason, out untouched);
 * -WEIR_ETOOBIG when cap is too small (then the packet is counted nowhere
 * and the maps have advanced: treat it as lost; WEIR_CONSUMER_OUT_MAX is
 * always enough). *twcc_seq is used and incremented only when ext_twcc is
 * set and a packet is written. Keyframe requests and layer changes are
 * queued for weir_consumer_poll_event().
 */
int weir_consumer_handle_packet(weir_consumer *c, weir_pkt *p, int64_t now_us, uint16_t *twcc_seq,
                                uint8_t *out, size_t cap, size_t *out_len);

/**
 * Generic NACK from the subscriber (output sequence numbers, e.g. from
 * weir_rtcp_nack expansion). Answerable ones are queued (once each) for
 * poll_retransmit; the rest are counted. Returns how many were queued.
 */
int weir_consumer_handle_nack(weir_consumer *c, const uint16_t *seqs, size_t n, int64_t now_us);

/**
 * Next queued retransmission: 1 with the RTX packet (or plain resend) in
 * out, 0 when none is left, -WEIR_ETOOBIG (that retransmission is skipped).
 * The media bytes are those of the first transmission; abs-send-time and the
 * transport-wide sequence number are fresh (they describe this send).
 */
int weir_consumer_poll_retransmit(weir_consumer *c, int64_t now_us, uint16_t *twcc_seq,
                                  uint8_t *out, size_t cap, size_t *out_len);

/** Releases history entries older than WEIR_CONSUMER_HISTORY_MAX_AGE_US (call it now and then). */
void weir_consumer_handle_timeout(weir_consumer *c, int64_t now_us);

/**
 * The subscriber asked for a keyframe (PLI/FIR): the layer to ask the
 * publisher for (the forwarded one), or -1 when nothing is forwarded (the
 * selector already asks for the layer it waits for) and for audio.
 */
int weir_consumer_handle_keyframe_request(weir_consumer *c);

/** 1 with the oldest pending event (layer changes in order, then keyframe requests), 0 none. */
int weir_consumer_poll_event(weir_consumer *c, weir_consumer_event *out);

/**
 * RTCP SR for our stream (see the header comment for the NTP/RTP pair;
 * packet and octet counts are ours: first transmissions and plain resends,
 * payload octets). 1 with the SR in out, 0 when no publisher SR is known for
 * the forwarded source or nothing was sent yet (send none), -WEIR_ETOOBIG.
 * The SR's middle NTP bits and now_us are remembered for
 * weir_consumer_handle_report_block().
 */
int weir_consumer_write_sr(weir_consumer *c, int64_t now_us, uint8_t *out, size_t cap,
                           size_t *out_len);
/**
 * The publisher's NTP time (its sender-report line for the source now
 * forwarded) of an output timestamp just forwarded: what a recorder needs to
 * put audio and video of one sender on one clock. 1 and *ntp, or 0 before
 * the source's first sender report (also right after a layer switch).
 */
int weir_consumer_ntp_of(const weir_consumer *c, uint32_t out_ts, uint64_t *ntp);

/**
 * A report block about our SSRC from the subscriber's RR/SR: when it echoes
 * our newest SR (LSR), the RTT is computed and used as by set_rtt. Returns
 * the RTT in us, or -1 when it could not be computed (other SSRC, unknown LSR).
 */
int64_t weir_consumer_handle_report_block(weir_consumer *c, const weir_rtcp_report_block *b,
                                          int64_t now_us);

void weir_consumer_get_stats(const weir_consumer *c, weir_consumer_stats *out);

#endif
