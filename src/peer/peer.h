/**
 * The peer façade, ingress side: a publisher's peer connection as the SFU
 * sees it, from the first byte after ICE to decrypted, routed RTP packets.
 * Pure and sans-IO (ARCHITECTURE.md "Sans-IO cores"): no socket, no clock,
 * no lock, no thread, no allocation per packet.
 *
 * The shell feeds it datagrams and the time (weir_peer_handle_datagram), its
 * timer (weir_peer_handle_timeout), then drains weir_peer_poll_transmit,
 * weir_peer_poll_event and weir_peer_poll_packet until each returns 0 and
 * arms one timer at weir_peer_next_timeout.
 *
 * Inside (RFC 7983 demux by the first byte):
 *   0..3     STUN: libnice consumed it before us; counted and dropped.
 *   20..63   DTLS (peer/dtls.h); its CONNECTED event keys the SRTP session.
 *   128..191 RTP, or RTCP when the second byte is 192..223 (RFC 5761 §4):
 *            dropped (WEIR_PEER_DROP_NO_KEYS) until SRTP keys exist, then
 *            unprotected in place exactly once and parsed.
 *   anything else: WEIR_PEER_DROP_NOT_RTP.
 *
 * RTP routing: SSRC → stream. A stream is known from the config's a=ssrc
 * lines, or learned from the first packet of an unknown SSRC carrying the
 * mid and rid (or repaired-rid, for RTX) header extensions: Chromium sends
 * simulcast with rids and no a=ssrc (RFC 8843 §9.2, RFC 8852 §3). A media
 * without rids needs only the mid; its RTX is told apart by payload type.
 * A stream knows its media index, layer (the rid's index: spatial layer),
 * whether it is RTX, payload type and clock rate. RTX packets (RFC 4588) are
 * unwrapped to their original SSRC, payload type and sequence number before
 * they are handed on; padding-only packets (bandwidth probes) are counted in
 * their stream's statistics and dropped (WEIR_PEER_DROP_PADDING).
 *
 * RTCP in: SR records the NTP/RTP timestamp mapping of its SSRC (lip-sync);
 * PLI, FIR, NACK, REMB and transport-cc feedback become RTCP_FEEDBACK events.
 *
 * RTCP out by itself: when the transport-cc extension is negotiated, every
 * authenticated RTP packet's transport-wide sequence number is recorded
 * (rtc/twcc_feedback.h; probes and RTX too) and feedback is queued for
 * poll_transmit when due, which next_timeout includes. This is what lets a
 * browser's send-side estimate climb so it sends its upper simulcast layers.
 *
 * Every drop is counted under one weir_peer_drop reason; none is logged.
 *
 * Thread safety: a weir_peer belongs to the worker that owns it.
 */
#ifndef WEIR_PEER_PEER_H
#define WEIR_PEER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/dtls.h"
#include "proto/rtp.h"

#define WEIR_PEER_MAX_MEDIA 16
#define WEIR_PEER_MAX_RIDS 3     /* simulcast layers per media (RFC 8853) */
#define WEIR_PEER_MAX_SSRCS 3    /* a=ssrc media/RTX pairs per media (one per layer) */
#define WEIR_PEER_MAX_STREAMS 32 /* SSRCs routed at once; beyond: WEIR_PEER_DROP_STREAM_LIMIT */
#define WEIR_PEER_MID_MAX 32
#define WEIR_PEER_RID_MAX 32
/* Received RTP packets held for poll_packet, each up to WEIR_PEER_PACKET_MAX bytes. */
#define WEIR_PEER_PACKET_SLOTS 64
#define WEIR_PEER_PACKET_MAX 1500
/* RTCP packets queued by weir_peer_send_rtcp, each up to WEIR_PEER_PACKET_MAX bytes. */
#define WEIR_PEER_RTCP_SLOTS 8
#define WEIR_PEER_EVENT_SLOTS 64
/* Sequence numbers carried by one NACK event; nack_total says how many there were. */
#define WEIR_PEER_EVENT_MAX_NACK 64
#define WEIR_PEER_NO_TIMEOUT INT64_MAX

typedef enum {
    WEIR_PEER_KIND_AUDIO,
    WEIR_PEER_KIND_VIDEO,
} weir_peer_kind;

/** An a=ssrc line (RFC 5576) and its RTX from a=ssrc-group:FID; rtx 0 when none. */
typedef struct weir_peer_ssrc {
    uint32_t media;
    uint32_t rtx;
} weir_peer_ssrc;

/** One expected RTP m-line. */
typedef struct weir_peer_media {
    char mid[WEIR_PEER_MID_MAX + 1];
    weir_peer_kind kind;
    uint32_t clock_rate_hz;
    int pt;     /* media payload type */
    int rtx_pt; /* -1 when none */
    int red_pt; /* audio RED (RFC 2198), forwarded like pt; -1 when none */
    /* Simulcast rids in a=simulcast order: index = layer (0 lowest, as Chromium lists q/h/f). */
    char rids[WEIR_PEER_MAX_RIDS][WEIR_PEER_RID_MAX + 1];
    size_t n_rids;
    /* Announced SSRCs: index = layer. Usually none with rids. */
    weir_peer_ssrc ssrcs[WEIR_PEER_MAX_SSRCS];
    size_t n_ssrcs;
} weir_peer_media;

/** Negotiated RFC 8285 header extension ids (one set: BUNDLE shares them); 0 = not negotiated. */
typedef struct weir_peer_extids {
    uint8_t mid;
    uint8_t rid;
    uint8_t repaired_rid;
    uint8_t abs_send_time;
    uint8_t twcc;
    uint8_t audio_level;
} weir_peer_extids;

typedef struct weir_peer_config {
    weir_dtls_ctx *dtls_ctx; /* borrowed: one per worker, outlives the peer */
    weir_dtls_role role;     /* ours, from the negotiation */
    /* "sha-256 AB:CD:..." from the remote SDP; NULL to give it later. */
    const char *remote_fingerprint;
    weir_peer_extids ext;
    const weir_peer_media *media; /* copied; at most WEIR_PEER_MAX_MEDIA */
    size_t n_media;
    const char *log_id; /* for log lines (copied, truncated); may be NULL */
} weir_peer_config;

/** Why a datagram was dropped. */
typedef enum {
    WEIR_PEER_DROP_STUN,         /* STUN reached us (libnice should have taken it) */
    WEIR_PEER_DROP_NOT_RTP,      /* first byte in no RFC 7983 range we handle, or empty */
    WEIR_PEER_DROP_DTLS,         /* DTLS refused the datagram (too big) */
    WEIR_PEER_DROP_NO_KEYS,      /* SRTP/SRTCP before the handshake completed */
    WEIR_PEER_DROP_CLOSED,       /* after FAILED / CLOSED */
    WEIR_PEER_DROP_SRTP_AUTH,    /* authentication failed: forged, corrupt or wrong key */
    WEIR_PEER_DROP_SRTP_REPLAY,  /* index already seen or too old */
    WEIR_PEER_DROP_SRTP_OTHER,   /* any other SRTP failure */
    WEIR_PEER_DROP_MALFORMED,    /* bad RTP/RTCP header, truncated packet */
    WEIR_PEER_DROP_TOO_BIG,      /* RTP over WEIR_PEER_PACKET_MAX after unprotect */
    WEIR_PEER_DROP_UNKNOWN_SSRC, /* unknown SSRC without a usable mid */
    WEIR_PEER_DROP_UNKNOWN_MID,  /* mid names no expected media */
    WEIR_PEER_DROP_UNKNOWN_RID,  /* simulcast media, but no rid or an unknown one */
    WEIR_PEER_DROP_BAD_PT,       /* payload type not negotiated for the stream's media */
    WEIR_PEER_DROP_RTX_ORPHAN,   /* RTX whose original stream is not known yet */
    WEIR_PEER_DROP_PADDING,      /* padding-only packet (probe): counted, not forwarded */
    WEIR_PEER_DROP_STREAM_LIMIT, /* WEIR_PEER_MAX_STREAMS SSRCs already routed */
    WEIR_PEER_DROP_QUEUE_FULL,   /* poll_packet not drained: WEIR_PEER_PACKET_SLOTS full */
    WEIR_PEER_DROP_COUNT,
} weir_peer_drop;

/** "stun", "not_rtp", ... for metrics labels. */
const char *weir_peer_drop_name(weir_peer_drop d);

typedef enum {
    WEIR_PEER_EVENT_CONNECTED = 1, /* detail: the SRTP profile name */
    WEIR_PEER_EVENT_FAILED,        /* detail: the reason */
    WEIR_PEER_EVENT_CLOSED,        /* detail: the reason */
    WEIR_PEER_EVENT_STREAM_LEARNED,
    WEIR_PEER_EVENT_RTCP_FEEDBACK,
} weir_peer_event_type;

typedef enum {
    WEIR_PEER_FB_PLI = 1,
    WEIR_PEER_FB_FIR,
    WEIR_PEER_FB_NACK,
    WEIR_PEER_FB_REMB,
    WEIR_PEER_FB_TWCC,
} weir_peer_fb_type;

typedef struct weir_peer_event {
    weir_peer_event_type type;
    char detail[120];
    /* STREAM_LEARNED (on the first packet of any stream, announced or learned): */
    uint32_t ssrc;
    uint8_t media_index;
    uint8_t layer;
    bool is_rtx;
    char mid[WEIR_PEER_MID_MAX + 1];
    char rid[WEIR_PEER_RID_MAX + 1]; /* "" without simulcast */
    /* RTCP_FEEDBACK: */
    weir_peer_fb_type fb;
    uint32_t sender_ssrc;
    uint32_t media_ssrc;  /* PLI, NACK, TWCC; FIR: the entry's SSRC (one event per entry) */
    uint8_t fir_seq;      /* FIR */
    uint64_t bitrate_bps; /* REMB */
    uint16_t nack_seqs[WEIR_PEER_EVENT_MAX_NACK];
    uint16_t nack_count; /* entries in nack_seqs */
    uint32_t nack_total; /* lost packets the NACK named (> nack_count: truncated) */
} weir_peer_event;

/** A received RTP packet, decrypted, routed and (if RTX) unwrapped. */
typedef struct weir_peer_packet {
    /* owned by the peer: valid until the next handle_*, poll_packet or destroy call */
    uint8_t *data;
    size_t len;
    weir_rtp rtp; /* parsed header of data */
    int64_t arrival_us;
    uint8_t media_index;
    uint8_t layer;
    bool was_rtx; /* arrived as RTX, restored to the original SSRC/pt/seq */
    bool has_twcc_seq;
    uint16_t twcc_seq;
    bool has_audio_level;
    bool voice;
    uint8_t audio_level; /* -dBov */
    bool has_abs_send_time;
    uint32_t abs_send_time;
} weir_peer_packet;

/** A datagram to send; data is valid until the next call on the peer. */
typedef struct weir_transmit {
    const uint8_t *data;
    size_t len;
} weir_transmit;

typedef struct weir_peer_stats {
    uint64_t drops[WEIR_PEER_DROP_COUNT];
    uint64_t dtls_datagrams;
    uint64_t rtp_packets; /* handed to poll_packet */
    uint64_t rtp_bytes;
    uint64_t rtcp_packets; /* compounds unprotected */
    uint64_t rtcp_sr;
    uint64_t rtcp_sr_unknown_ssrc;
    uint64_t rtcp_rr;
    uint64_t rtcp_pli;
    uint64_t rtcp_fir;
    uint64_t rtcp_nack;
    uint64_t rtcp_remb;
    uint64_t rtcp_twcc;
    uint64_t rtcp_other;
    uint64_t rtcp_sent;
    uint64_t twcc_feedback_sent; /* transport-cc feedback packets queued */
    uint64_t rtp_sent;           /* packets protected by weir_peer_protect_rtp */
    uint64_t rtp_sent_bytes;
    uint64_t dtls_data_bytes;      /* application data (SCTP) received */
    uint64_t dtls_data_sent_bytes; /* application data written by weir_peer_send_data */
    uint64_t events_dropped;       /* poll_event not drained */
} weir_peer_stats;

/** One stream (SSRC) and its receive statistics. */
typedef struct weir_peer_stream_info {
    uint32_t ssrc;
    uint8_t media_index;
    uint8_t layer;
    bool is_rtx;
    bool announced; /* from a=ssrc rather than learned */
    uint8_t payload_type;
    uint32_t clock_rate_hz;
    uint64_t packets;
    uint64_t bytes;        /* payload bytes */
    uint32_t highest_seq;  /* extended: cycles << 16 | seq; valid once packets > 0 */
    int64_t lost;          /* expected (highest - first + 1) - packets; may go negative */
    bool has_sr;           /* an SR was received for this SSRC */
    uint64_t sr_ntp;       /* its NTP time, 32.32 */
    uint32_t sr_rtp_ts;    /* its RTP timestamp */
    int64_t sr_arrival_us; /* when it arrived */
} weir_peer_stream_info;

typedef struct weir_peer weir_peer;

/**
 * Creates a peer and its DTLS session (not started). cfg and its strings
 * are copied; dtls_ctx is borrowed. NULL on a bad config (no media over the
 * limits, a mid or rid too long, a malformed fingerprint) or a DTLS failure;
 * logged.
 */
weir_peer *weir_peer_create(const weir_peer_config *cfg);
/** Frees the peer (no goodbye: weir_peer_close first). NULL is a no-op. */
void weir_peer_destroy(weir_peer *p);

/**
 * Starts DTLS once ICE is connected: as client, queues the ClientHello.
 * A server also starts implicitly on its first DTLS datagram. Returns 0 or
 * -WEIR_EPERM when already started.
 */
int weir_peer_start(weir_peer *p, int64_t now_us);

/**
 * Renegotiation (a new publish offer on the same connection): replaces the
 * expected media and extension ids, keeping DTLS, SRTP and every known
 * stream whose media (by mid) is still there, with its media index moved to
 * the new position. Streams of media that are gone are forgotten; SSRCs the
 * new media announce are added. Learned streams must survive: Chromium
 * stops sending the mid/rid extensions once it has had feedback, so a
 * simulcast stream could not be learned again. Returns 0, or -WEIR_EINVAL
 * (invalid media list, as for create) / -WEIR_ETOOBIG (announced SSRCs over
 * WEIR_PEER_MAX_STREAMS) with the peer unchanged.
 */
int weir_peer_update_media(weir_peer *p, const weir_peer_media *media, size_t n_media,
                           const weir_peer_extids *ext);

/** Sets the remote fingerprint ("sha-256 AB:..") when the config had none. 0 or -WEIR_E*. */
int weir_peer_set_remote_fingerprint(weir_peer *p, const char *fingerprint);

/**
 * Feeds one datagram. buf is borrowed for the call and modified: SRTP and
 * SRTCP are unprotected in place (its bytes are unspecified afterwards).
 * Returns 0 when the datagram was used, or 1 when it was dropped (counted
 * under a weir_peer_drop; the peer is unaffected either way).
 */
int weir_peer_handle_datagram(weir_peer *p, int64_t now_us, uint8_t *buf, size_t len);

/** DTLS retransmissions. Returns 0. */
int weir_peer_handle_timeout(weir_peer *p, int64_t now_us);

/** Absolute deadline on the caller's clock, or WEIR_PEER_NO_TIMEOUT. */
int64_t weir_peer_next_timeout(const weir_peer *p);

/** Next datagram to send (DTLS flights first, then RTCP): 1 with *out set, or 0. */
int weir_peer_poll_transmit(weir_peer *p, weir_transmit *out);

/** Next event: 1 with *out filled, or 0. */
int weir_peer_poll_event(weir_peer *p, weir_peer_event *out);

/** Next received RTP packet in arrival order: 1 with *out filled (see its lifetime), or 0. */
int weir_peer_poll_packet(weir_peer *p, weir_peer_packet *out);

/**
 * Protects a compound RTCP packet (borrowed for the call: copied, then
 * protected in the peer's queue) and queues it for poll_transmit.
 * Returns 0, -WEIR_EPERM before keys exist or after close, -WEIR_EINVAL
 * when buf is not a valid compound packet, -WEIR_ETOOBIG over
 * WEIR_PEER_PACKET_MAX - WEIR_SRTP_MAX_RTCP_OVERHEAD, -WEIR_EAGAIN when the
 * queue is full, or the SRTP error. On error nothing is queued.
 */
int weir_peer_send_rtcp(weir_peer *p, const uint8_t *buf, size_t len);

/**
 * Egress (the subscriber PC): protects the RTP packet buf[0..*len) in place
 * in the caller's buffer, which the caller then sends itself (no queueing:
 * the forwarding path batches its own sends). cap must be >= *len +
 * WEIR_SRTP_MAX_RTP_OVERHEAD. Returns 0 with *len grown by the tag,
 * -WEIR_EPERM before keys exist or after close, or the SRTP error; on error
 * buf is unspecified and nothing was counted.
 */
int weir_peer_protect_rtp(weir_peer *p, uint8_t *buf, size_t *len, size_t cap);
/** As weir_peer_protect_rtp for a compound RTCP packet (cap >= *len + WEIR_SRTP_MAX_RTCP_OVERHEAD). */
int weir_peer_protect_rtcp(weir_peer *p, uint8_t *buf, size_t *len, size_t cap);

/*
 * DTLS application data: the SCTP packets of data channels (RFC 8261).
 * Until weir_peer_enable_data, received records are counted and dropped
 * (a PC without an application m-line has nothing to give them to).
 */
/** Keeps received application data for weir_peer_poll_data (on) or drops it (off, the default). */
void weir_peer_enable_data(weir_peer *p, bool on);
/** Next received application-data record, in order: 1 with *data and *len (valid until the next
 * call on p), or 0. */
int weir_peer_poll_data(weir_peer *p, const uint8_t **data, size_t *len);
/** Encrypts buf[0..len) (borrowed) as one record for poll_transmit. 0, -WEIR_EPERM before
 * CONNECTED, -WEIR_ETOOBIG over WEIR_DTLS_MAX_WRITE, -WEIR_EINVAL for len 0. */
int weir_peer_send_data(weir_peer *p, int64_t now_us, const uint8_t *buf, size_t len);

/** Says goodbye (DTLS close_notify queued for transmit); a CLOSED event follows. Returns 0. */
int weir_peer_close(weir_peer *p, int64_t now_us);

/** Copies the counters. */
void weir_peer_get_stats(const weir_peer *p, weir_peer_stats *out);
/** Number of streams (announced or learned). */
size_t weir_peer_stream_count(const weir_peer *p);
/** The i-th stream: 0, or -WEIR_ENOTFOUND when i >= stream_count. */
int weir_peer_get_stream(const weir_peer *p, size_t i, weir_peer_stream_info *out);
/** The stream of an SSRC: 0, or -WEIR_ENOTFOUND. */
int weir_peer_find_stream(const weir_peer *p, uint32_t ssrc, weir_peer_stream_info *out);
/** The media list as configured (index = media_index); NULL when i is out of range. */
const weir_peer_media *weir_peer_get_media(const weir_peer *p, size_t i);
/** True once SRTP keys exist and until FAILED/CLOSED. */
bool weir_peer_is_connected(const weir_peer *p);

#endif
