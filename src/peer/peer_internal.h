/*
 * Shared between peer.c (façade: DTLS, events, transmit, stats) and
 * peer_rtp.c (SRTP in, RTP routing, RTCP in). Not a public header.
 */
#ifndef WEIR_PEER_PEER_INTERNAL_H
#define WEIR_PEER_PEER_INTERNAL_H

#include "peer/peer.h"
#include "rtc/twcc_feedback.h"
#include "peer/srtp.h"
#include "weir/log.h"

typedef enum {
    PEER_NEW,
    PEER_CONNECTING,
    PEER_CONNECTED,
    PEER_FAILED,
    PEER_CLOSED,
} peer_state;

typedef struct peer_stream {
    uint32_t ssrc;
    uint8_t media_index;
    uint8_t layer;
    bool is_rtx;
    bool announced;
    bool seen; /* STREAM_LEARNED sent */
    uint8_t payload_type;
    uint64_t packets;
    uint64_t bytes;
    uint64_t cycles; /* RFC 3550 A.1: multiples of 2^16 */
    uint64_t base_seq;
    uint16_t max_seq;
    bool has_sr;
    uint64_t sr_ntp;
    uint32_t sr_rtp_ts;
    int64_t sr_arrival_us;
} peer_stream;

struct weir_peer {
    /* owned: */
    weir_dtls *dtls;
    weir_srtp *srtp; /* NULL until CONNECTED */
    /* WEIR_PEER_MAX_MEDIA entries, allocated with streams once the peer has
     * media (peer.c ensure_tables): a subscriber PC receives RTCP only and
     * never needs either table (~6 KiB). NULL until then. */
    weir_peer_media *media;
    size_t n_media;
    weir_peer_extids ext;
    char log_id[64];

    /* state: */
    peer_state state;
    int64_t last_now_us;
    weir_lograte lograte;
    bool keep_data; /* application data kept for weir_peer_poll_data (weir_peer_enable_data) */
    peer_stream *streams; /* WEIR_PEER_MAX_STREAMS entries, NULL with media */
    size_t n_streams;
    weir_peer_stats stats;
    /* transport-cc feedback toward the sender (ext.twcc negotiated): every RTP
     * packet with a transport-wide sequence number is recorded, probes and RTX
     * included, since the sender's estimator counts them all. */
    bool twcc_on;
    uint32_t twcc_media_ssrc; /* any media SSRC of the transport (libwebrtc does the same) */
    weir_twcc_feedback *twcc; /* allocated when twcc_on */

    /* received packets for poll_packet: a FIFO ring of copies. Both arrays
     * are allocated only for a peer that expects RTP (n_media > 0): a
     * subscriber PC receives RTCP only and would otherwise carry ~100 KiB
     * for nothing. */
    weir_peer_packet *pkts; /* WEIR_PEER_PACKET_SLOTS */
    uint8_t (*pkt_buf)[WEIR_PEER_PACKET_MAX];
    uint32_t pkt_head;
    uint32_t pkt_count;
    /*
     * The event and outgoing-RTCP queues are rings that start small and
     * double when full, up to WEIR_PEER_EVENT_SLOTS / WEIR_PEER_RTCP_SLOTS:
     * both are drained every loop iteration, so a peer rarely holds more
     * than a few entries, and full-size rings were ~35 KiB per peer (an
     * event is 360 bytes). Growing is off the packet path (at most log2
     * steps in a peer's life).
     */
    weir_peer_event *events;
    uint32_t ev_cap;
    uint32_t ev_head;
    uint32_t ev_count;
    /* protected RTCP for poll_transmit */
    uint8_t (*tx_buf)[WEIR_PEER_PACKET_MAX];
    size_t tx_len[WEIR_PEER_RTCP_SLOTS];
    uint32_t tx_cap;
    uint32_t tx_head;
    uint32_t tx_count;
};

/** Counts a drop; returns 1 (weir_peer_handle_datagram's "dropped"). */
static inline int peer_drop(weir_peer *p, weir_peer_drop why)
{
    p->stats.drops[why]++;
    return 1;
}

/** A zeroed event slot of the given type, or NULL when the queue is full (counted). */
weir_peer_event *peer_event_push(weir_peer *p, weir_peer_event_type type);

/* peer_rtp.c */
/** Queues the transport-cc feedback due at now_us (peer_rtp.c). */
void peer_pump_twcc(weir_peer *p, int64_t now_us);
/** Adds the a=ssrc streams of the config; returns 0 or -WEIR_ETOOBIG. */
int peer_streams_init(weir_peer *p);
/** buf[0..len) is SRTP (p->srtp set). Returns 0 or 1 (dropped). */
int peer_handle_srtp(weir_peer *p, int64_t now_us, uint8_t *buf, size_t len);
/** buf[0..len) is SRTCP (p->srtp set). Returns 0 or 1 (dropped). */
int peer_handle_srtcp(weir_peer *p, int64_t now_us, uint8_t *buf, size_t len);
/** Fills *out from a stream. */
void peer_stream_info(const weir_peer *p, const peer_stream *s, weir_peer_stream_info *out);

#endif
