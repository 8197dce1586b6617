/**
 * Offer/answer for the subscriber peer connection (PROTOCOL.md: Weir always
 * offers, the client answers; Weir re-offers whenever the set of tracks the
 * participant receives changes). Pure: no I/O, no clock, no randomness;
 * mids, SSRCs, msids and credentials come from the caller.
 *
 * weir_negotiate_subscriber_offer() builds the offer from the list of
 * tracks; weir_negotiate_subscriber_answer() checks the client's answer
 * against that offer and fills a pointer-free weir_subscriber_answer_desc
 * for the media path.
 *
 * Numbering is fixed, not negotiated per publisher: every subscriber offer
 * uses the payload types of weir_subscriber_codec_pts() (the forwarder
 * rewrites the publisher's PT to them) and the header extension ids
 * WEIR_SUB_EXT_*, the same id on every m-line, so BUNDLE demux and the
 * rewriting never depend on which publisher a packet came from.
 *
 * The m-line list only grows (RFC 8829 §5.2.2: an offer keeps every m-line
 * of the previous one, in order). A removed track keeps its m-line and its
 * mid (Weir never reuses a mid in a session):
 *   - the first m-line is the BUNDLE tag, whose transport (ICE, DTLS) the
 *     whole connection runs on (RFC 8843 §7.2). Rejecting it would move the
 *     tag and, once every track is gone, leave no transport at all; so when
 *     its track is removed it stays bundled, port 9, a=inactive, its codec
 *     kept, no SSRCs or msid (mediasoup does the same). A subscriber with
 *     every track removed is offered exactly that: the first m-line inactive
 *     in the BUNDLE group, every other one rejected;
 *   - any other removed track's m-line is rejected: port 0, a=inactive, out
 *     of the BUNDLE group, no SSRCs or msid. Browsers end the receiver's
 *     track (Chromium stops the transceiver).
 * Chromium 156 accepts these offers, first or re-offered; aiortc 1.4 too,
 * except m-lines of codecs it lacks (VP9, AV1), on which its
 * setRemoteDescription throws: such tracks must not be offered to it
 * (tests/data/sdp/subscriber/README.md, tools/capture-subscriber-answer.mjs).
 *
 * Roles: the offerer is ICE-controlling (RFC 8445 §6.1.1) and offers
 * a=setup:actpass; the answer's a=setup picks the DTLS role (Chromium
 * answers active, making Weir the DTLS server).
 */
#ifndef WEIR_PEER_NEGOTIATE_SUBSCRIBER_H
#define WEIR_PEER_NEGOTIATE_SUBSCRIBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/dtls.h"
#include "peer/negotiate.h"
#include "proto/sdp.h"

/* m-lines in one subscriber offer: a class of 30 students is 60 (audio +
 * video each) plus removed tracks; weir_sdp's own limit. */
#define WEIR_SUBSCRIBER_MAX_MEDIA WEIR_SDP_MAX_MEDIA
#define WEIR_SUBSCRIBER_MAX_CANDIDATES 32 /* = WEIR_WORKER_MAX_OFFER_CANDIDATES */
#define WEIR_SUBSCRIBER_CANDIDATE_MAX 256 /* = WEIR_WORKER_CANDIDATE_MAX, with the NUL */
#define WEIR_SUBSCRIBER_CNAME_MAX 31      /* RFC 7022 short-term cnames are 16 base64 chars */

/* Audio RED (RFC 2198, "red/48000/2" with fmtp "111/111") over opus. */
#define WEIR_SUBSCRIBER_RED_PT 63

/* Header extension ids of every subscriber offer, the same on every m-line
 * (audio-level on audio m-lines only). One-byte form (RFC 8285 §4.2). */
enum {
    WEIR_SUB_EXT_MID = 1,
    WEIR_SUB_EXT_ABS_SEND_TIME = 2,
    WEIR_SUB_EXT_TWCC = 3,
    WEIR_SUB_EXT_AUDIO_LEVEL = 4,
};

/**
 * The payload types Weir sends codec with toward subscribers: opus 111
 * (no RTX), VP8 96/97, VP9 98/99, H264 102/103, AV1 45/46 (Chromium's own
 * numbers, so a browser's answer reads like its usual ones). Sets *pt and
 * *rtx_pt (-1 when the codec has no RTX); either may be NULL. Returns 0, or
 * -WEIR_EINVAL for an unknown codec (outputs unchanged).
 */
int weir_subscriber_codec_pts(weir_codec codec, int *pt, int *rtx_pt);

/** One m-line of the offer: a track the participant receives, or received. */
typedef struct weir_subscriber_track {
    /* The caller's, unique, stable over re-offers, never reused; an RFC 5888 token. */
    char mid[WEIR_NEGOTIATE_MID_MAX + 1];
    weir_sdp_kind kind; /* WEIR_SDP_AUDIO or WEIR_SDP_VIDEO */
    /* false: the track was removed; the m-line stays (see the file comment).
     * The fields below are then only used for the codec (kept in the
     * m-line); ssrcs, msid and cname are ignored. */
    bool active;
    weir_codec codec;                   /* opus for audio; VP8/VP9/H264/AV1 for video */
    char fmtp[WEIR_NEGOTIATE_FMTP_MAX]; /* the publisher's a=fmtp of the codec, "" for none */
    uint32_t clock_rate_hz;             /* 0 or the codec's: 48000 opus, 90000 video */
    uint16_t channels;                  /* 0 or the codec's: 2 opus, 0 video */
    bool red;                           /* opus only: offer RED (63) too */
    uint32_t ssrc;                      /* ours, non-zero, unique among active tracks */
    uint32_t rtx_ssrc;                  /* ours; 0 = no RTX (always 0 for audio) */
    /* a=msid:<stream_id> <track_id> (RFC 8830 ids, 1..64 characters, no
     * spaces): stream id = the publisher's participant id, so a browser puts
     * one person's audio and video in one MediaStream. */
    char stream_id[WEIR_NEGOTIATE_MSID_MAX + 1];
    char track_id[WEIR_NEGOTIATE_MSID_MAX + 1];
    /* a=ssrc:<ssrc> cname:<cname>; the same for all of one publisher's
     * tracks, which is what lip-sync groups by (RFC 7022). */
    char cname[WEIR_SUBSCRIBER_CNAME_MAX + 1];
} weir_subscriber_track;

/**
 * Builds the subscriber offer for tracks[0..n) (m-lines in that order).
 *
 * Session level: a=group:BUNDLE (the first m-line, then every other active
 * one), a=msid-semantic: WMS, a=ice-options:trickle, a=ice-lite when
 * lp->ice_lite. Each m-line: UDP/TLS/RTP/SAVPF, ICE ufrag/pwd, fingerprint,
 * a=setup:actpass, mid, extmaps (WEIR_SUB_EXT_*), sendonly (inactive when
 * removed), rtcp-mux, rtcp-rsize, the codec's rtpmap/fmtp/rtcp-fb (video:
 * goog-remb, transport-cc, ccm fir, nack, nack pli; audio: transport-cc;
 * limited to lp->rtcp_fb), RTX (apt) for video, RED for opus when asked,
 * a=msid, a=ssrc-group:FID and a=ssrc cname/msid lines when active. The
 * candidates of lp (with a=end-of-candidates when lp->candidates_complete)
 * go on the first m-line, whose m=/c= then carry the first UDP host-or-
 * better address as the default (JSEP §5.2.1). lp->session_id and
 * lp->session_version make the o= line: keep the id and bump the version
 * on each re-offer (RFC 3264 §8). lp's codec and extension lists are not
 * used. The ICE credentials and the fingerprint must stay those of the
 * first offer unless an ICE restart is wanted.
 *
 * lp and tracks are borrowed for the call. Returns 0 and a new SDP in
 * *offer (free with weir_sdp_free; write it with weir_sdp_write), or
 * -WEIR_EINVAL (bad lp or track: no tracks, bad or duplicate mid, kind and
 * codec that do not match, a zero or duplicate SSRC, a string with
 * characters SDP cannot carry, ...) or -WEIR_ETOOBIG (more than
 * WEIR_SUBSCRIBER_MAX_MEDIA tracks) with a one-line reason in err (when
 * errlen > 0); *offer is then unchanged.
 */
int weir_negotiate_subscriber_offer(const weir_local_params *lp,
                                    const weir_subscriber_track *tracks, size_t n, weir_sdp **offer,
                                    char *err, size_t errlen);

/* Header extension ids an answer kept (RFC 8285 §7); 0 = dropped. */
typedef struct weir_subscriber_extids {
    uint8_t mid;
    uint8_t abs_send_time;
    uint8_t twcc;
    uint8_t audio_level;
} weir_subscriber_extids;

/* What the answer did with one m-line of the offer, in offer order. */
typedef struct weir_subscriber_answer_media {
    char mid[WEIR_NEGOTIATE_MID_MAX + 1];
    weir_sdp_kind kind;
    /* Weir may send on it: port != 0 and recvonly or sendrecv (a sendrecv
     * answer to our sendonly is read as recvonly, RFC 3264 §6.1 leniency).
     * false for a line the offer or the answer rejected or made inactive. */
    bool accepted;
    /* In the BUNDLE transport: port != 0 in offer and answer (may be
     * inactive). A line the offer rejected is never bundled, whatever port
     * the answer gives it (aiortc 1.4 answers one). */
    bool bundled;
    unsigned rtcp_fb;           /* WEIR_NEGOTIATE_FB_* the answer kept for our pt */
    bool rtx;                   /* the answer kept our RTX pt */
    bool red;                   /* the answer kept RED (63) */
    weir_subscriber_extids ext; /* kept on this m-line */
} weir_subscriber_answer_media;

/* What the media path needs from one subscriber answer. No pointers: it may
 * be copied and sent to another thread as it is. */
typedef struct weir_subscriber_answer_desc {
    weir_subscriber_answer_media media[WEIR_SUBSCRIBER_MAX_MEDIA];
    size_t n_media;
    char bundle_mid[WEIR_NEGOTIATE_MID_MAX + 1]; /* the answer's BUNDLE tag: the transport */
    char ice_ufrag[WEIR_NEGOTIATE_ICE_MAX + 1];  /* remote */
    char ice_pwd[WEIR_NEGOTIATE_ICE_MAX + 1];
    bool ice_trickle;                        /* a=ice-options:trickle */
    char fingerprint_hash[8];                /* "sha-256", "sha-384", "sha-512" (lower case) */
    char fingerprint[WEIR_NEGOTIATE_FP_MAX]; /* "AB:CD:..." */
    weir_sdp_setup remote_setup;             /* ACTIVE or PASSIVE */
    weir_dtls_role dtls_role; /* ours: SERVER when the answer is active, CLIENT when passive */
    /* The ids kept on any m-line (each equals WEIR_SUB_EXT_*), 0 when no
     * m-line kept it. */
    weir_subscriber_extids ext;
    /* The tag m-line's a=candidate values, "candidate:..." as trickled (raddr,
     * rport, tcptype and extensions kept), in order; ones longer than
     * WEIR_SUBSCRIBER_CANDIDATE_MAX - 1 or past the count are skipped. */
    char candidates[WEIR_SUBSCRIBER_MAX_CANDIDATES][WEIR_SUBSCRIBER_CANDIDATE_MAX];
    size_t n_candidates;
    bool end_of_candidates; /* a=end-of-candidates on the tag m-line */
} weir_subscriber_answer_desc;

/**
 * Checks the client's answer against the offer Weir sent (the weir_sdp
 * weir_negotiate_subscriber_offer() made, or that offer's text parsed
 * again) and fills *desc.
 *
 * Refused (-WEIR_EINVAL, one-line reason in err fit for a JSON-RPC error,
 * e.g. "answer m-line 2 has mid x, offer has 3"):
 *   - a different number of m-lines, or another mid at the same position
 *     (a rejected answer line may omit its mid);
 *   - an accepted line (port != 0) without the offer's payload type;
 *   - no BUNDLE group naming every accepted line (RFC 8843), or one naming
 *     a line the answer rejected or that does not exist (a line the offer
 *     rejected is ignored there);
 *   - no rtcp-mux on an accepted line (RFC 8829 §5.1.3);
 *   - no or a malformed ICE ufrag/pwd, no sha-256/384/512 fingerprint, or
 *     a=setup other than active/passive (RFC 8842 §5.2) on an accepted line;
 *   - a header extension we offered mapped to another id (RFC 8285 §7:
 *     the answerer may drop an extension, not renumber it);
 *   - every m-line rejected (no transport left).
 * Nothing in an answer refuses it for what it leaves out: dropped feedback,
 * RTX, RED or extensions are reported in desc.
 *
 * offer and answer are borrowed for the call. Returns 0, or -WEIR_EINVAL
 * with err (when errlen > 0); on error *desc is unchanged.
 */
int weir_negotiate_subscriber_answer(const weir_sdp *offer, const weir_sdp *answer,
                                     weir_subscriber_answer_desc *desc, char *err, size_t errlen);

#endif
