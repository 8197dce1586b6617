/**
 * The SDP a tap returns (PROTOCOL.md tap_start: `tap {id, sdp}`): a plain
 * receive-side description of the RTP the tap sends, written so that
 * `ffmpeg -protocol_whitelist file,udp,rtp -i tap.sdp` and GStreamer's
 * sdpdemux open it as is:
 *
 *   c=      the tap's destination host (the receiver binds it), IN IP4/IP6
 *   m=      one per stream, at its RTP port, profile RTP/AVP, or RTP/SAVP
 *           with an RFC 4568 a=crypto line (AES_CM_128_HMAC_SHA1_80,
 *           inline key||salt in base64) when the tap is SRTP
 *   a=rtpmap/a=fmtp  the payload type the tap writes and the codec's
 *           parameters (opus/48000/2; H.264's packetization-mode and
 *           profile-level-id come from the publisher's fmtp)
 *   a=rtcp  only when RTCP is not on port+1 (RFC 3605; ffmpeg 5.1 ignores it
 *           and listens on port+1, so it then decodes without our SRs)
 *   a=ssrc  the tap's SSRC with a cname, so a receiver can tie the SRs to it
 *
 * No a=sendonly/recvonly: both tools read a session without one as
 * sendrecv, which for a receiver is what it is.
 *
 * Pure: string building only.
 */
#ifndef WEIR_CONTROL_TAP_SDP_H
#define WEIR_CONTROL_TAP_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/negotiate.h"

#define WEIR_TAP_SDP_MAX_MEDIA 2
/* SRTP master key (16) and salt (14) of AES_CM_128_HMAC_SHA1_80. */
#define WEIR_TAP_SRTP_KEY_LEN 30

typedef struct weir_tap_sdp_media {
    bool audio;
    weir_codec codec;
    uint8_t pt;
    uint32_t clock_rate_hz;
    uint16_t channels;  /* audio; 0 = 2 for opus */
    const char *fmtp;   /* the codec's parameters without "a=fmtp:PT "; NULL or "" = none */
    uint16_t port;      /* RTP */
    uint16_t rtcp_port; /* RTCP (sender reports) */
    uint32_t ssrc;
    const uint8_t *srtp_key; /* WEIR_TAP_SRTP_KEY_LEN bytes, or NULL for plain RTP */
} weir_tap_sdp_media;

typedef struct weir_tap_sdp {
    const char *tap_id;  /* s= and the cname */
    const char *host;    /* an IP literal (the caller checked it) */
    bool ipv6;           /* host is IPv6 */
    uint64_t session_id; /* o= */
    weir_tap_sdp_media media[WEIR_TAP_SDP_MAX_MEDIA];
    size_t n_media;
} weir_tap_sdp;

/** "VP8", "opus", ...: the encoding name of a codec in a=rtpmap. */
const char *weir_tap_sdp_codec_name(weir_codec codec);

/**
 * Writes the SDP (CRLF line ends). Returns a heap string (weir_free), or
 * NULL when the description is unusable: no media, more than
 * WEIR_TAP_SDP_MAX_MEDIA, a port 0, a host or fmtp with a line break or
 * too long, no tap id.
 */
char *weir_tap_sdp_write(const weir_tap_sdp *sdp);

#endif
