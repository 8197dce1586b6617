/**
 * The SDP weir-client writes and reads, for both peer connections:
 *   - the publisher offer (we offer, Weir answers): audio m-line mid 0
 *     (opus 111), video m-line mid 1 (VP8 96 + RTX 97), BUNDLE, rtcp-mux,
 *     trickle, a=setup:actpass; without simulcast a=ssrc + ssrc-group:FID;
 *     with simulcast a=rid q/h/f send + a=simulcast:send q;h;f and no a=ssrc,
 *     as Chromium does (the SFU learns SSRCs from the mid/rid extensions);
 *     with data channels an application m-line mid 2 (RFC 8841:
 *     UDP/DTLS/SCTP webrtc-datachannel, a=sctp-port, a=max-message-size),
 *     alone when neither audio nor video is sent;
 *   - reading the publisher answer (ICE, fingerprint, setup, SCTP port and
 *     max-message-size of its application m-line);
 *   - the subscriber answer (Weir offers, we answer): per offered m-line
 *     opus or VP8 (+ its RTX) recvonly, anything else rejected with port 0,
 *     a=setup:active (we are the DTLS client).
 * Header extension ids are the same for one URI on every m-line:
 * 1 audio-level, 2 abs-send-time, 3 transport-wide-cc, 4 mid, 10 rid,
 * 11 repaired-rid (Chromium's numbering).
 *
 * Pure: no I/O, no clock. Returned strings are freed with weir_free.
 */
#ifndef WC_SDP_BUILD_H
#define WC_SDP_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/sdp.h"

#define WC_PT_OPUS 111
#define WC_PT_VP8 96
#define WC_PT_VP8_RTX 97
#define WC_EXT_AUDIO_LEVEL 1
#define WC_EXT_ABS_SEND_TIME 2
#define WC_EXT_TWCC 3
#define WC_EXT_MID 4
#define WC_EXT_RID 10
#define WC_EXT_RRID 11
#define WC_MID_AUDIO "0"
#define WC_MID_VIDEO "1"
#define WC_MID_DATA "2"
#define WC_MAX_LAYERS 3
#define WC_SDP_MAX_MEDIA 16
#define WC_SDP_MAX_CANDIDATES 16
#define WC_SDP_MAX_SSRCS 8

typedef struct wc_offer_layer {
    const char *rid; /* NULL without simulcast */
    uint32_t ssrc;   /* written only without simulcast */
    uint32_t rtx_ssrc;
} wc_offer_layer;

/** Everything borrowed for the call. */
typedef struct wc_offer_params {
    const char *ice_ufrag;
    const char *ice_pwd;
    const char *fingerprint; /* "sha-256 AB:CD:..." */
    uint64_t session_id;
    const char *cname;
    const char *stream_id; /* a=msid stream id */
    bool audio;
    uint32_t audio_ssrc;
    bool video;
    bool simulcast;
    wc_offer_layer layers[WC_MAX_LAYERS]; /* 1 without simulcast, 3 with (q, h, f) */
    size_t n_layers;
    bool data;                 /* an application m-line for data channels */
    uint16_t sctp_port;        /* ours (5000) */
    uint32_t max_message_size; /* what we accept: a=max-message-size */
} wc_offer_params;

/** The publisher offer as text. Never fails. */
char *wc_sdp_publish_offer(const wc_offer_params *p);

/** The remote transport of a description, as a peer connection needs it. */
typedef struct wc_remote_transport {
    char ice_ufrag[257];
    char ice_pwd[257];
    char fingerprint_hash[8]; /* "sha-256" */
    char fingerprint[200];    /* "AB:CD:..." */
    weir_sdp_setup setup;
    bool ice_lite; /* a=ice-lite: the other side never checks, we must control */
    char candidates[WC_SDP_MAX_CANDIDATES][256]; /* "candidate:..." */
    size_t n_candidates;
    bool end_of_candidates;
    /* The first accepted application m-line (port != 0): */
    bool data;
    int32_t sctp_port;        /* -1 when absent (RFC 8841 §5: then 5000) */
    int64_t max_message_size; /* -1 when absent; 0 = no limit (RFC 8841 §6) */
} wc_remote_transport;

/**
 * Reads the transport (of the first m-line, BUNDLE) from a parsed SDP, and
 * the SCTP parameters of its first accepted application m-line.
 * Returns 0, or -WEIR_EINVAL with a reason in err when ICE credentials or
 * the fingerprint are missing.
 */
int wc_sdp_read_transport(const weir_sdp *sdp, wc_remote_transport *out, char *err, size_t err_len);

/** One m-line of a subscriber offer as we answered it. */
typedef struct wc_sub_media {
    char mid[33];
    weir_sdp_kind kind;
    bool accepted; /* port != 0 in our answer */
    int pt;        /* opus or VP8 payload type; -1 when rejected */
    int rtx_pt;    /* -1 when none */
    char stream_id[65];
    char track_id[65];                    /* a=msid track id; "" when absent */
    uint32_t ssrcs[WC_SDP_MAX_SSRCS];     /* media SSRCs announced (a=ssrc) */
    uint32_t rtx_ssrcs[WC_SDP_MAX_SSRCS]; /* FID partner of ssrcs[i]; 0 when none */
    size_t n_ssrcs;
} wc_sub_media;

typedef struct wc_sub_desc {
    wc_sub_media media[WC_SDP_MAX_MEDIA];
    size_t n_media;
    wc_remote_transport transport;
    uint8_t ext_mid; /* the offer's id for the mid extension; 0 when absent */
    uint8_t ext_abs_send_time;
} wc_sub_desc;

typedef struct wc_answer_params {
    const char *ice_ufrag;
    const char *ice_pwd;
    const char *fingerprint; /* "sha-256 AB:CD:..." */
    uint64_t session_id;
    uint64_t session_version;
} wc_answer_params;

/**
 * Answers a subscriber offer (text, borrowed). On success returns 0, stores
 * the answer text in *answer (weir_free) and fills *desc; on error returns
 * -WEIR_EINVAL with a reason in err and changes neither.
 */
int wc_sdp_subscribe_answer(const char *offer_text, const wc_answer_params *p, char **answer,
                            wc_sub_desc *desc, char *err, size_t err_len);

#endif
