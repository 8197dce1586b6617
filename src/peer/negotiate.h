/**
 * Offer/answer for the publisher peer connection (PROTOCOL.md: the client
 * always offers, Weir answers). Pure: no I/O, no clock, no randomness; ICE
 * credentials, the certificate fingerprint and the session id come in
 * through weir_local_params.
 *
 * weir_negotiate_publisher_answer() checks the client's offer, builds the
 * answer (RFC 8829 JSEP §5.3.1 shaped like Chromium's own answers) and fills
 * a weir_publish_desc, the self-contained summary the media path needs
 * (payload types, header extension ids, simulcast rids, SSRCs, remote ICE
 * and DTLS parameters). The desc holds no pointers: it may be copied and
 * sent to another thread as it is.
 *
 * What Weir answers:
 *   - the same m-lines in the same order with the same mids; audio/video
 *     recvonly (inactive when the offer does not send), one application
 *     m-line for data channels (RFC 8841);
 *   - per RTP m-line exactly one codec, the first the offer lists that the
 *     policy supports, with its RTX and, for opus, RED: answering a single
 *     codec makes the one the client will send certain, so the desc's
 *     payload types are the ones that arrive;
 *   - payload types, header extension ids and rids are the offerer's.
 *
 * When an offer is refused and when only an m-line is:
 *   - broken transport (no DTLS fingerprint, no ICE credentials, a=setup
 *     holdconn, no BUNDLE of every m-line, an RTP m-line without rtcp-mux)
 *     refuses the whole offer: WebRTC requires all of them (RFC 8829 §5.1.1,
 *     §5.1.3, RFC 8843), so such an offer comes from a client Weir cannot
 *     serve at all;
 *   - an m-line Weir cannot use (no common codec, unknown kind or protocol,
 *     a second data m-line) is answered with port 0 and reported in the desc
 *     (rejected, reject_reason) as long as another m-line is usable: a
 *     camera in an unsupported codec should not stop the microphone;
 *   - when no m-line is usable the offer is refused with the first line's
 *     reason ("no common video codec in m-line mid=1 (offered: H265)"),
 *     rather than answering a session that carries nothing.
 */
#ifndef WEIR_PEER_NEGOTIATE_H
#define WEIR_PEER_NEGOTIATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/dtls.h"
#include "proto/sdp.h"

#define WEIR_NEGOTIATE_MAX_MEDIA 16 /* m-lines in one publisher offer */
#define WEIR_NEGOTIATE_MAX_RIDS 3   /* simulcast streams kept (RFC 8853) */
#define WEIR_NEGOTIATE_MID_MAX 32   /* longer mids refuse the offer */
#define WEIR_NEGOTIATE_RID_MAX 32   /* longer rids are dropped from simulcast */
#define WEIR_NEGOTIATE_MSID_MAX 64  /* RFC 8830 §2: ids are 1..64 characters */
#define WEIR_NEGOTIATE_FMTP_MAX 256 /* codecs with longer a=fmtp are not chosen */
#define WEIR_NEGOTIATE_ICE_MAX 256  /* RFC 8839 §5.4 ufrag/pwd upper bound */
#define WEIR_NEGOTIATE_FP_MAX 192   /* "AB:CD:.." of a sha-512 digest, 64 * 3 */
#define WEIR_NEGOTIATE_REASON_MAX 128
#define WEIR_NEGOTIATE_DEFAULT_MAX_MESSAGE_SIZE 262144
#define WEIR_NEGOTIATE_DEFAULT_SCTP_PORT 5000

/* Codecs Weir can forward. */
typedef enum {
    WEIR_CODEC_OPUS, /* opus/48000/2 */
    WEIR_CODEC_VP8,
    WEIR_CODEC_VP9,  /* profile-id 0 */
    WEIR_CODEC_H264, /* packetization-mode=1, profile-level-id 42e01f/42001f/4d001f */
    WEIR_CODEC_AV1,  /* profile 0 */
} weir_codec;

/* One row of the codec policy. */
typedef struct weir_codec_policy {
    weir_codec codec;
    bool rtx; /* accept its RTX (RFC 4588) */
    bool red; /* opus only: accept RED over it (RFC 2198) */
} weir_codec_policy;

/* RTCP feedback Weir understands (RFC 4585, 5104, draft-holmer, REMB). */
enum {
    WEIR_NEGOTIATE_FB_NACK = 1 << 0, /* nack */
    WEIR_NEGOTIATE_FB_PLI = 1 << 1,  /* nack pli */
    WEIR_NEGOTIATE_FB_FIR = 1 << 2,  /* ccm fir */
    WEIR_NEGOTIATE_FB_TWCC = 1 << 3, /* transport-cc */
    WEIR_NEGOTIATE_FB_REMB = 1 << 4, /* goog-remb */
    WEIR_NEGOTIATE_FB_ALL = (1 << 5) - 1,
};

/**
 * The server's side of the negotiation. Everything is borrowed for the
 * call. Start from weir_local_params_init() and fill in the credentials.
 */
typedef struct weir_local_params {
    const char *ice_ufrag;   /* RFC 8839: 4..256 ice-chars */
    const char *ice_pwd;     /* 22..256 ice-chars */
    const char *fingerprint; /* "sha-256 AB:CD:..." (RFC 8122) */
    uint64_t session_id;     /* o= line */
    uint64_t session_version;
    bool ice_lite; /* a=ice-lite at session level */
    /* Candidates as trickled: "candidate:1 1 udp ..." (a leading "a=" is
     * accepted). Empty with trickle ICE. */
    const char *const *candidates;
    size_t n_candidates;
    bool candidates_complete; /* gathering done: add a=end-of-candidates (RFC 8840) */
    /* Codec policy; NULL = weir_negotiate_default_codecs. Its order is the
     * server's preference: of the codecs an offer lists, the one that comes
     * first here is chosen (the offer's order only breaks ties between payload
     * types of one codec). */
    const weir_codec_policy *codecs;
    size_t n_codecs;
    /* Header extension URIs; NULL = the six WEIR_SDP_EXT_* the media path
     * uses (mid, rid, repaired-rid, abs-send-time, transport-cc, audio-level). */
    const char *const *extensions;
    size_t n_extensions;
    unsigned rtcp_fb;          /* WEIR_NEGOTIATE_FB_* mask */
    uint16_t sctp_port;        /* our a=sctp-port */
    uint64_t max_message_size; /* our a=max-message-size */
} weir_local_params;

/** Defaults: every codec of the policy table, six extensions, all feedback,
 * SCTP port 5000, max-message-size 262144, no credentials, no candidates. */
void weir_local_params_init(weir_local_params *lp);

/** The default codec policy (opus with RED, VP8, VP9, H264, AV1, all with RTX). */
extern const weir_codec_policy weir_negotiate_default_codecs[];
extern const size_t weir_negotiate_n_default_codecs;

/* Rows of a policy: opus and the four video codecs. */
#define WEIR_NEGOTIATE_MAX_CODECS 5

/**
 * Builds a codec policy from a preference list such as "vp8, h264" (names
 * vp8, vp9, h264, av1, case-insensitive, separated by commas and/or
 * spaces, each at most once): opus (with RED) first, then those video
 * codecs in that order, all with RTX. Video codecs left out are refused in
 * offers. Returns 0 with out[0..*n) filled (cap >= WEIR_NEGOTIATE_MAX_CODECS),
 * or -WEIR_EINVAL with the reason in err (unknown or repeated name, empty list).
 */
int weir_negotiate_parse_video_codecs(const char *list, weir_codec_policy *out, size_t cap,
                                      size_t *n, char *err, size_t errlen);

typedef enum {
    WEIR_SOURCE_NONE, /* application m-line */
    WEIR_SOURCE_CAMERA,
    WEIR_SOURCE_MICROPHONE,
    WEIR_SOURCE_SCREEN, /* screen video or the screen share's audio */
} weir_track_source;

/** "camera", "microphone", "screen" ("" for NONE). */
const char *weir_track_source_name(weir_track_source s);

/* One simulcast stream as the answer accepted it (RFC 8853). */
typedef struct weir_publish_rid {
    char id[WEIR_NEGOTIATE_RID_MAX + 1];
    bool paused; /* "~" in a=simulcast */
} weir_publish_rid;

/* An SSRC the offer announced (a=ssrc, RFC 5576) and its RTX (ssrc-group:FID). */
typedef struct weir_publish_ssrc {
    uint32_t media;
    uint32_t rtx; /* 0 when none */
} weir_publish_ssrc;

/* Negotiated RFC 8285 ids, the offerer's; 0 when not negotiated. */
typedef struct weir_publish_extids {
    uint8_t mid;
    uint8_t rid;
    uint8_t repaired_rid;
    uint8_t abs_send_time;
    uint8_t twcc;
    uint8_t audio_level;
} weir_publish_extids;

/* One m-line of the offer, in offer order. */
typedef struct weir_publish_media {
    char mid[WEIR_NEGOTIATE_MID_MAX + 1];
    weir_sdp_kind kind;
    bool rejected; /* answered with port 0 */
    char reject_reason[WEIR_NEGOTIATE_REASON_MAX];
    bool receiving; /* the offer sends (sendonly/sendrecv): the answer says recvonly */
    /* From the `tracks` param, else from a=msid: a stream or track id that
     * contains "screen" (any case) is a screen share; else camera (video) or
     * microphone (audio). source_explicit: the param or the msid said so. */
    weir_track_source source;
    bool source_explicit;

    /* RTP (audio/video), valid when !rejected: */
    weir_codec codec;
    char codec_name[16];                /* as the offer spelled it: "VP8", "opus" */
    char fmtp[WEIR_NEGOTIATE_FMTP_MAX]; /* the offer's a=fmtp of the codec; "" when none */
    uint32_t clock_rate_hz;
    uint16_t channels; /* 0 when the rtpmap has none */
    int pt;            /* media payload type */
    int rtx_pt;        /* -1 when none */
    int red_pt;        /* audio RED; -1 when none */
    unsigned rtcp_fb;  /* WEIR_NEGOTIATE_FB_* answered for pt */
    weir_publish_extids ext;
    weir_publish_rid rids[WEIR_NEGOTIATE_MAX_RIDS]; /* in a=simulcast order */
    size_t n_rids;
    weir_publish_ssrc ssrcs[WEIR_NEGOTIATE_MAX_RIDS]; /* announced SSRCs, none with rids */
    size_t n_ssrcs;
    char stream_id[WEIR_NEGOTIATE_MSID_MAX + 1]; /* a=msid; "" when absent */
    char track_id[WEIR_NEGOTIATE_MSID_MAX + 1];

    /* application, valid when !rejected: */
    uint16_t remote_sctp_port;        /* the offer's, default 5000 (RFC 8841 §5) */
    uint64_t remote_max_message_size; /* the offer's, default 65536 (RFC 8841 §6) */
} weir_publish_media;

/* What the media path needs from one publisher negotiation. */
typedef struct weir_publish_desc {
    weir_publish_media media[WEIR_NEGOTIATE_MAX_MEDIA];
    size_t n_media;
    char bundle_mid[WEIR_NEGOTIATE_MID_MAX + 1]; /* the m-line carrying the transport */
    char ice_ufrag[WEIR_NEGOTIATE_ICE_MAX + 1];  /* remote */
    char ice_pwd[WEIR_NEGOTIATE_ICE_MAX + 1];
    bool ice_trickle;                        /* the client trickles (a=ice-options:trickle) */
    char fingerprint_hash[8];                /* "sha-256", "sha-384", "sha-512" */
    char fingerprint[WEIR_NEGOTIATE_FP_MAX]; /* "AB:CD:..." */
    weir_sdp_setup remote_setup;
    weir_dtls_role dtls_role; /* ours: SERVER when we answer passive, CLIENT when active */
} weir_publish_desc;

/**
 * Answers the client's publisher offer.
 *
 * offer and lp are borrowed for the call. On success returns 0, stores a new
 * answer in *answer (free with weir_sdp_free; write it with weir_sdp_write)
 * and fills *desc. On error returns -WEIR_EINVAL (an offer Weir cannot
 * serve, or unusable lp) or -WEIR_ETOOBIG (more than WEIR_NEGOTIATE_MAX_MEDIA
 * m-lines), writes a one-line reason fit for a JSON-RPC error message to err
 * (when errlen > 0), and changes neither *answer nor *desc.
 */
int weir_negotiate_publisher_answer(const weir_sdp *offer, const weir_local_params *lp,
                                    weir_sdp **answer, weir_publish_desc *desc, char *err,
                                    size_t errlen);

/**
 * Applies the `tracks` param of `publish` ([{mid, source}], PROTOCOL.md):
 * sources[i] ("camera", "microphone", "screen") for the m-line mids[i].
 * Returns 0, or -WEIR_EINVAL with a reason in err (unknown mid, rejected or
 * application m-line, unknown source, microphone on video, camera on audio)
 * and desc unchanged. The arrays are borrowed.
 */
int weir_negotiate_apply_sources(weir_publish_desc *desc, const char *const *mids,
                                 const char *const *sources, size_t n, char *err, size_t errlen);

#endif
