/**
 * SDP (RFC 8866) as WebRTC uses it (RFC 8829 JSEP): a pure parser, a
 * serializer and a small builder. No I/O, no clock.
 *
 * The model is a plain, read-only tree of structs owned by one weir_sdp:
 * every string and array lives in the weir_sdp's arena and is freed by
 * weir_sdp_free(). What WebRTC needs is typed (ICE, DTLS, BUNDLE, codecs,
 * header extensions, simulcast, SCTP); every other line or attribute is kept
 * raw, so parse -> write -> parse gives an equal model (weir_sdp_equal).
 *
 * The writer emits lines in one canonical order (close to Chromium's), not
 * the input's order; the relative order of entries of one kind (candidates,
 * rtpmaps, ssrc lines, raw attributes, ...) is kept.
 *
 * Building: weir_sdp_create(), weir_sdp_add_media(), then attributes as
 * text through weir_sdp_add_attribute()/weir_sdp_add_attributef(), which
 * run the parser's own attribute code, so a built model is always one the
 * parser could have produced. Numeric, enum and bool members (direction,
 * rtcp_mux, port, ...) may also be assigned directly; strings and arrays
 * only through these functions.
 */
#ifndef WEIR_PROTO_SDP_H
#define WEIR_PROTO_SDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Limits against abuse; exceeding one is -WEIR_ETOOBIG. The text limits
 * (input, lines) bind the parser; the builder is bound by the memory cap and
 * the per-attribute ones.
 */
#define WEIR_SDP_MAX_INPUT (128 * 1024) /* bytes of SDP text */
#define WEIR_SDP_MAX_MEDIA 64           /* m-lines */
#define WEIR_SDP_MAX_LINES 1024         /* lines per section (session or one m-line) */
#define WEIR_SDP_MAX_FORMATS 128        /* formats on one m-line (there are 128 RTP PTs) */
#define WEIR_SDP_MAX_LIST 64            /* mids in a group, ssrcs in a ssrc-group */
#define WEIR_SDP_MAX_RIDS 32            /* rid ids in one a=simulcast */
#define WEIR_SDP_MAX_MEMORY (8u << 20)  /* bytes one weir_sdp may hold */

/* Header extension URIs WebRTC negotiates (RFC 8285 a=extmap). */
#define WEIR_SDP_EXT_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define WEIR_SDP_EXT_RID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define WEIR_SDP_EXT_REPAIRED_RID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
#define WEIR_SDP_EXT_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define WEIR_SDP_EXT_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define WEIR_SDP_EXT_TWCC                                                                          \
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define WEIR_SDP_EXT_VIDEO_ORIENTATION "urn:3gpp:video-orientation"
#define WEIR_SDP_EXT_DEPENDENCY_DESCRIPTOR                                                         \
    "https://aomediacodec.github.io/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"

typedef enum {
    WEIR_SDP_AUDIO,
    WEIR_SDP_VIDEO,
    WEIR_SDP_APPLICATION,
    WEIR_SDP_OTHER_KIND, /* text, message, ...: see weir_sdp_media.media */
} weir_sdp_kind;

/* NONE: no direction attribute; RFC 8866 §6.7 makes that sendrecv. */
typedef enum {
    WEIR_SDP_DIR_NONE,
    WEIR_SDP_SENDRECV,
    WEIR_SDP_SENDONLY,
    WEIR_SDP_RECVONLY,
    WEIR_SDP_INACTIVE,
} weir_sdp_direction;

/* RFC 4145 / RFC 8842 a=setup. */
typedef enum {
    WEIR_SDP_SETUP_NONE,
    WEIR_SDP_SETUP_ACTPASS,
    WEIR_SDP_SETUP_ACTIVE,
    WEIR_SDP_SETUP_PASSIVE,
    WEIR_SDP_SETUP_HOLDCONN,
} weir_sdp_setup;

/* RFC 8851 rid direction. */
typedef enum { WEIR_SDP_RID_SEND, WEIR_SDP_RID_RECV } weir_sdp_rid_dir;

/* A line the model does not type, e.g. b=AS:2000 is {'b', "AS:2000"}. */
typedef struct weir_sdp_line {
    char type;
    const char *value;
} weir_sdp_line;

/* An attribute the model does not type; value NULL for a flag (a=ice-lite). */
typedef struct weir_sdp_attr {
    const char *name;
    const char *value;
} weir_sdp_attr;

typedef struct weir_sdp_origin {
    const char *username;
    uint64_t sess_id;
    uint64_t sess_version;
    const char *nettype;
    const char *addrtype;
    const char *address;
} weir_sdp_origin;

/* c= line; address NULL when absent. The address keeps any /ttl verbatim. */
typedef struct weir_sdp_connection {
    const char *nettype;
    const char *addrtype;
    const char *address;
} weir_sdp_connection;

/* RFC 8122 a=fingerprint, e.g. hash "sha-256", value "D3:D6:...". */
typedef struct weir_sdp_fingerprint {
    const char *hash;
    const char *value;
} weir_sdp_fingerprint;

/*
 * ICE (RFC 8839) and DTLS (RFC 8842) parameters; present at session level,
 * media level or both, media overriding session (see weir_sdp_media_transport).
 */
typedef struct weir_sdp_transport {
    const char *ice_ufrag;   /* NULL when absent */
    const char *ice_pwd;     /* NULL when absent */
    const char *ice_options; /* verbatim, e.g. "trickle"; NULL when absent */
    bool ice_trickle;        /* "trickle" is among ice_options */
    weir_sdp_fingerprint *fingerprints;
    size_t n_fingerprints;
    weir_sdp_setup setup;
} weir_sdp_transport;

/* a=group (RFC 5888), e.g. BUNDLE (RFC 8843) with its mids in order. */
typedef struct weir_sdp_group {
    const char *semantics;
    const char **mids;
    size_t n_mids;
} weir_sdp_group;

/* a=candidate (RFC 8839 §5.1, tcptype from RFC 6544). */
typedef struct weir_sdp_candidate {
    const char *foundation;
    uint32_t component;
    const char *transport; /* "udp", "tcp", as written */
    uint32_t priority;
    const char *address; /* IP address or FQDN (mDNS) */
    uint16_t port;
    const char *type;       /* "host", "srflx", "prflx", "relay" */
    const char *raddr;      /* NULL when absent */
    int32_t rport;          /* -1 when absent */
    const char *tcptype;    /* "active", "passive", "so"; NULL when absent */
    const char *extensions; /* other name/value pairs verbatim; NULL when none */
} weir_sdp_candidate;

/* a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]; channels 0 when absent. */
typedef struct weir_sdp_rtpmap {
    uint8_t pt;
    const char *encoding; /* as written: "opus", "VP8", "rtx" */
    uint32_t clock_rate_hz;
    uint16_t channels;
} weir_sdp_rtpmap;

/* a=fmtp:<pt> <params>; params verbatim, read with weir_sdp_fmtp_param(). */
typedef struct weir_sdp_fmtp {
    uint8_t pt;
    const char *params;
} weir_sdp_fmtp;

/* a=rtcp-fb (RFC 4585): "96 nack pli" is {96, "nack", "pli"}. */
typedef struct weir_sdp_rtcp_fb {
    int pt;              /* -1 for '*' */
    const char *type;    /* "nack", "ccm", "goog-remb", "transport-cc" */
    const char *subtype; /* rest verbatim ("pli", "fir"); NULL when absent */
} weir_sdp_rtcp_fb;

/* a=extmap (RFC 8285). */
typedef struct weir_sdp_extmap {
    uint16_t id;
    weir_sdp_direction direction; /* NONE when not written */
    const char *uri;
    const char *attributes; /* extension attributes verbatim; NULL when none */
} weir_sdp_extmap;

/* a=msid (RFC 8830); track_id NULL when absent. */
typedef struct weir_sdp_msid {
    const char *stream_id;
    const char *track_id;
} weir_sdp_msid;

/* a=ssrc (RFC 5576): "1 cname:x" is {1, "cname", "x"}; value NULL when absent. */
typedef struct weir_sdp_ssrc {
    uint32_t ssrc;
    const char *attribute;
    const char *value;
} weir_sdp_ssrc;

/* a=ssrc-group (RFC 5576): FID (RTX, RFC 4588), SIM, FEC-FR, ... */
typedef struct weir_sdp_ssrc_group {
    const char *semantics;
    uint32_t *ssrcs;
    size_t n_ssrcs;
} weir_sdp_ssrc_group;

/* a=rid (RFC 8851); restrictions verbatim ("pt=96;max-width=640"), NULL when none. */
typedef struct weir_sdp_rid {
    const char *id;
    weir_sdp_rid_dir direction;
    const char *restrictions;
} weir_sdp_rid;

/*
 * a=simulcast (RFC 8853): "send q;h;~f,g" is three streams, the last with two
 * alternatives of which "f" is paused.
 */
typedef struct weir_sdp_sc_alt {
    const char *rid;
    bool paused;
} weir_sdp_sc_alt;

typedef struct weir_sdp_sc_stream {
    weir_sdp_sc_alt *alts;
    size_t n_alts;
} weir_sdp_sc_stream;

typedef struct weir_sdp_simulcast {
    bool present;
    weir_sdp_sc_stream *send;
    size_t n_send;
    weir_sdp_sc_stream *recv;
    size_t n_recv;
} weir_sdp_simulcast;

/* One m= section. */
typedef struct weir_sdp_media {
    weir_sdp_kind kind;
    const char *media; /* as written: "audio", "video", "application", ... */
    uint16_t port;
    uint16_t num_ports;   /* the "/<n>" of the m= port; 0 when absent */
    const char *proto;    /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP", ... */
    bool is_rtp;          /* proto carries RTP, so formats are payload types */
    const char **formats; /* as written, in order */
    size_t n_formats;
    uint8_t *pts; /* formats as numbers when is_rtp (n_pts == n_formats) */
    size_t n_pts;
    weir_sdp_connection connection;
    int32_t rtcp_port;                /* RFC 3605 a=rtcp; -1 when absent */
    weir_sdp_connection rtcp_address; /* its optional address; address NULL when absent */

    const char *mid; /* RFC 5888; NULL when absent */
    weir_sdp_direction direction;
    bool rtcp_mux;           /* RFC 5761 */
    bool rtcp_rsize;         /* RFC 5506 */
    bool extmap_allow_mixed; /* RFC 8285 §6 */
    bool end_of_candidates;  /* RFC 8840 */
    weir_sdp_transport transport;

    weir_sdp_candidate *candidates;
    size_t n_candidates;
    weir_sdp_rtpmap *rtpmaps;
    size_t n_rtpmaps;
    weir_sdp_fmtp *fmtps;
    size_t n_fmtps;
    weir_sdp_rtcp_fb *rtcp_fbs;
    size_t n_rtcp_fbs;
    weir_sdp_extmap *extmaps;
    size_t n_extmaps;
    weir_sdp_msid *msids;
    size_t n_msids;
    weir_sdp_ssrc *ssrcs;
    size_t n_ssrcs;
    weir_sdp_ssrc_group *ssrc_groups;
    size_t n_ssrc_groups;
    weir_sdp_rid *rids;
    size_t n_rids;
    weir_sdp_simulcast simulcast;
    int32_t sctp_port;        /* RFC 8841; -1 when absent */
    int64_t max_message_size; /* RFC 8841 (0 = no limit); -1 when absent */

    weir_sdp_attr *attrs; /* every other a= line, in order */
    size_t n_attrs;
    weir_sdp_line *lines; /* i=, b=, k= lines, in order */
    size_t n_lines;
} weir_sdp_media;

struct weir_sdp_arena;

/* A whole session description. */
typedef struct weir_sdp {
    weir_sdp_origin origin;
    const char *session_name;
    uint64_t start_time; /* first t= line (0 0 when absent) */
    uint64_t stop_time;
    weir_sdp_connection connection;

    weir_sdp_transport transport;
    weir_sdp_direction direction;
    weir_sdp_group *groups;
    size_t n_groups;
    const char *msid_semantic;     /* "WMS" (RFC 8830); NULL when absent */
    const char *msid_semantic_ids; /* the rest of that line verbatim; NULL when none */
    bool extmap_allow_mixed;       /* RFC 8285 §6 */
    weir_sdp_attr *attrs;          /* every other session a= line, in order */
    size_t n_attrs;
    weir_sdp_line *lines; /* i= u= e= p= b= k=, later t=, r= z=, in order */
    size_t n_lines;

    weir_sdp_media **media; /* pointers stay valid while the weir_sdp lives */
    size_t n_media;

    /* owned: */
    struct weir_sdp_arena *arena;
} weir_sdp;

/**
 * Parses SDP text (lines end in CRLF or LF; need not be NUL-terminated).
 * On success stores a new weir_sdp in *out (free with weir_sdp_free) and
 * returns 0. On error returns -WEIR_EINVAL (malformed) or -WEIR_ETOOBIG (a
 * WEIR_SDP_MAX_* limit), writes a one-line reason such as
 * "line 14: a=rtpmap: bad payload type" to err (if err_len > 0), and leaves
 * *out untouched. text is borrowed for the call.
 */
int weir_sdp_parse(const char *text, size_t len, weir_sdp **out, char *err, size_t err_len);

/** Frees an SDP and everything it holds; NULL is ignored. */
void weir_sdp_free(weir_sdp *sdp);

/**
 * Serializes to SDP text with CRLF line ends. Returns a NUL-terminated
 * string the caller frees with weir_free, and its length in *len if len is
 * not NULL. Never fails.
 */
char *weir_sdp_write(const weir_sdp *sdp, size_t *len);

/** True when two models are equal in every field, arrays in order. */
bool weir_sdp_equal(const weir_sdp *a, const weir_sdp *b);

/* ---- building ---- */

/**
 * A new session: v=0, o=- <sess_id> <sess_version> IN IP4 127.0.0.1, s=-,
 * t=0 0, nothing else. Free with weir_sdp_free. Never fails.
 */
weir_sdp *weir_sdp_create(uint64_t sess_id, uint64_t sess_version);

/**
 * Appends an m= section with no formats yet, e.g. ("audio", 9,
 * "UDP/TLS/RTP/SAVPF"); add formats with weir_sdp_media_add_format() or
 * weir_sdp_media_add_codec(). Returns the section (owned by sdp), or NULL
 * when a token is malformed or a limit is reached.
 */
weir_sdp_media *weir_sdp_add_media(weir_sdp *sdp, const char *media, uint16_t port,
                                   const char *proto);

/** Appends a format ("111", "webrtc-datachannel") to the m= line. 0 or -WEIR_E*. */
int weir_sdp_media_add_format(weir_sdp *sdp, weir_sdp_media *m, const char *format);

/**
 * Appends payload type pt to the m= line with its a=rtpmap
 * (channels 0 = none) and, when fmtp is not NULL, its a=fmtp.
 * 0 or -WEIR_E*; on error the format may have been added.
 */
int weir_sdp_media_add_codec(weir_sdp *sdp, weir_sdp_media *m, unsigned pt, const char *encoding,
                             uint32_t clock_rate_hz, unsigned channels, const char *fmtp);

/**
 * Adds one attribute, given as the text after "a=" ("mid:0",
 * "rtcp-fb:96 nack pli", "candidate:1 1 udp ..." as trickled, "ice-lite"),
 * to the session (m NULL) or to section m, exactly as the parser would.
 * Returns 0, or -WEIR_EINVAL / -WEIR_ETOOBIG with a reason in err (if
 * err_len > 0); on error nothing is changed.
 */
int weir_sdp_add_attribute(weir_sdp *sdp, weir_sdp_media *m, const char *attr, char *err,
                           size_t err_len);

/** weir_sdp_add_attribute with printf formatting and no reason text. */
int weir_sdp_add_attributef(weir_sdp *sdp, weir_sdp_media *m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- lookups (results borrowed from the model) ---- */

/** The first a=group with these semantics ("BUNDLE"), or NULL. */
const weir_sdp_group *weir_sdp_find_group(const weir_sdp *sdp, const char *semantics);

/** The section with this mid, or NULL. */
weir_sdp_media *weir_sdp_find_media(const weir_sdp *sdp, const char *mid);

/** The effective direction: the media's, else the session's, else sendrecv. */
weir_sdp_direction weir_sdp_media_direction(const weir_sdp *sdp, const weir_sdp_media *m);

/**
 * The effective ICE/DTLS parameters of m: each media-level value, else the
 * session-level one (RFC 8839 §5.4, RFC 8122 §5). out borrows from the model.
 */
void weir_sdp_media_transport(const weir_sdp *sdp, const weir_sdp_media *m,
                              weir_sdp_transport *out);

/** The a=rtpmap of payload type pt, or NULL. */
const weir_sdp_rtpmap *weir_sdp_media_find_rtpmap(const weir_sdp_media *m, unsigned pt);

/** The a=fmtp parameters of payload type pt, or NULL. */
const char *weir_sdp_media_find_fmtp(const weir_sdp_media *m, unsigned pt);

/**
 * Finds key (case-insensitive, RFC 4855) in "k1=v1;k2=v2" fmtp parameters.
 * Returns 1 and the value's start and length (not NUL-terminated), or 0.
 */
int weir_sdp_fmtp_param(const char *params, const char *key, const char **value, size_t *len);

/** weir_sdp_fmtp_param for a decimal value below 2^32: 1 and *out, or 0. */
int weir_sdp_fmtp_param_uint(const char *params, const char *key, uint32_t *out);

/** The RTX payload type (rtpmap "rtx", fmtp apt=pt, RFC 4588) for pt, or -1. */
int weir_sdp_media_rtx_pt(const weir_sdp_media *m, unsigned pt);

/** The a=extmap id of uri, or 0 when not negotiated. */
int weir_sdp_media_extmap_id(const weir_sdp_media *m, const char *uri);

/** True when a=rtcp-fb for pt (or '*') has this type and subtype (NULL = none). */
bool weir_sdp_media_has_rtcp_fb(const weir_sdp_media *m, unsigned pt, const char *type,
                                const char *subtype);

/** Names as they appear in SDP ("sendonly", "actpass", "video"); "" for NONE. */
const char *weir_sdp_direction_name(weir_sdp_direction d);
const char *weir_sdp_setup_name(weir_sdp_setup s);

#endif
