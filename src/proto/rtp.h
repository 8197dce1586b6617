/**
 * RTP wire format: the fixed header (RFC 3550 §5.1), header extensions
 * (RFC 8285 one-byte and two-byte forms), the values of the extensions an
 * SFU reads (abs-send-time, transport-wide sequence number, audio level,
 * mid / rid), and RTX (RFC 4588).
 *
 * Pure and zero-copy: parsing fills a small weir_rtp of values and offsets
 * into the caller's buffer and never allocates. A weir_rtp does not hold the
 * buffer: every function that reads or rewrites bytes takes the buffer the
 * header was parsed from (or a byte-identical copy of it, such as a cloned
 * packet buffer). Passing any other buffer is a caller bug.
 *
 * Writers take (out, cap) and return the number of bytes written (> 0), or a
 * negative -WEIR_E* with nothing promised about out.
 */
#ifndef WEIR_PROTO_RTP_H
#define WEIR_PROTO_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEIR_RTP_HEADER_LEN 12
#define WEIR_RTP_MAX_CSRC 15
/* Larger than any UDP payload; lets offsets fit in 16 bits. */
#define WEIR_RTP_MAX_LEN 65535

/* RFC 8285 §4.2 / §4.3 extension block profiles. */
#define WEIR_RTP_EXT_PROFILE_ONE_BYTE 0xBEDE
#define WEIR_RTP_EXT_PROFILE_TWO_BYTE 0x1000 /* low 4 bits: "appbits" */

/* Extension URIs as they appear in a=extmap (the SDP module maps them to ids). */
#define WEIR_RTP_EXT_URI_MID "urn:ietf:params:rtp-hdrext:sdes:mid"
#define WEIR_RTP_EXT_URI_RID "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define WEIR_RTP_EXT_URI_RRID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"
#define WEIR_RTP_EXT_URI_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define WEIR_RTP_EXT_URI_TWCC                                                                      \
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define WEIR_RTP_EXT_URI_AUDIO_LEVEL "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

/** A parsed RTP header. Offsets are from the start of the packet buffer. */
typedef struct weir_rtp {
    uint32_t ssrc;
    uint32_t timestamp;
    uint16_t seq;
    uint8_t payload_type;
    bool marker;
    uint8_t csrc_count;   /* CSRCs start at offset 12 */
    uint8_t padding_len;  /* 0 when the P bit is clear; else 1..255 */
    bool has_ext;         /* X bit */
    uint16_t ext_profile; /* "defined by profile" word; 0 when !has_ext */
    uint16_t ext_off;     /* first byte after the 4-byte extension header */
    uint16_t ext_len;     /* bytes of extension data (a multiple of 4) */
    uint16_t payload_off; /* == header length */
    uint16_t payload_len; /* padding removed */
} weir_rtp;

/**
 * Parses the RTP header of buf[0..len). Rejects (-WEIR_EINVAL) a version
 * other than 2, a packet shorter than its CSRC list or extension block, and
 * padding that is zero or longer than what follows the header; -WEIR_ETOOBIG
 * when len > WEIR_RTP_MAX_LEN. Extension elements are not looked at here
 * (see weir_rtp_ext_*). On error *out is unchanged.
 */
int weir_rtp_parse(weir_rtp *out, const uint8_t *buf, size_t len);

static inline const uint8_t *weir_rtp_payload(const weir_rtp *h, const uint8_t *buf)
{
    return buf + h->payload_off;
}

/** The i-th CSRC; -WEIR_EINVAL when i >= csrc_count. */
int weir_rtp_csrc(const weir_rtp *h, const uint8_t *buf, size_t i, uint32_t *out);

/* In-place rewrites of fixed header fields; each updates both buf and h. */
void weir_rtp_set_seq(weir_rtp *h, uint8_t *buf, uint16_t seq);
void weir_rtp_set_timestamp(weir_rtp *h, uint8_t *buf, uint32_t timestamp);
void weir_rtp_set_ssrc(weir_rtp *h, uint8_t *buf, uint32_t ssrc);
void weir_rtp_set_payload_type(weir_rtp *h, uint8_t *buf, uint8_t pt); /* pt & 0x7f */
void weir_rtp_set_marker(weir_rtp *h, uint8_t *buf, bool marker);

/* ---- header extensions (RFC 8285) ---- */

/**
 * One extension element. When iterated, data points into the packet buffer
 * and off is data's offset in it; when passed to a writer only id, len and
 * data are read.
 */
typedef struct weir_rtp_ext {
    const uint8_t *data;
    uint16_t off;
    uint8_t id;  /* 1..14 one-byte form, 1..255 two-byte form */
    uint8_t len; /* 1..16 one-byte form, 0..255 two-byte form */
} weir_rtp_ext;

typedef struct weir_rtp_ext_iter {
    /* borrowed: */
    const uint8_t *buf;
    /* state: */
    uint16_t pos;
    uint16_t end;
    uint8_t hdr_len; /* 1 (one-byte form), 2 (two-byte form), 0 (none or unknown profile) */
} weir_rtp_ext_iter;

/** Starts iterating h's extension block; a block of an unknown profile yields nothing. */
void weir_rtp_ext_iter_init(weir_rtp_ext_iter *it, const weir_rtp *h, const uint8_t *buf);
/**
 * Next element, skipping padding bytes: 1 with *out filled, 0 at the end
 * (including at a one-byte ID 15, which RFC 8285 §4.2 says ends processing,
 * and at a one-byte ID 0 with a non-zero length, where libwebrtc stops too),
 * -WEIR_EINVAL when an element overruns the block. Elements returned before
 * an error are valid; after 0 or an error the iterator stays finished.
 */
int weir_rtp_ext_iter_next(weir_rtp_ext_iter *it, weir_rtp_ext *out);
/** First element with this id: 0, -WEIR_ENOTFOUND, or -WEIR_EINVAL (malformed block). */
int weir_rtp_ext_find(const weir_rtp *h, const uint8_t *buf, uint8_t id, weir_rtp_ext *out);
/**
 * Replaces the value of element id in place. A shorter value shrinks the
 * element and turns the freed bytes into padding (RFC 8285 §4.2 allows
 * padding between elements), so the packet length never changes.
 * -WEIR_ENOTFOUND, -WEIR_ETOOBIG (longer than the current value),
 * -WEIR_EINVAL (len 0 in the one-byte form, or a malformed block). On error
 * buf is unchanged.
 */
int weir_rtp_ext_rewrite(const weir_rtp *h, uint8_t *buf, uint8_t id, const uint8_t *val,
                         size_t len);
/**
 * Writes a complete extension block (profile word, length word, elements,
 * zero padding to 4 bytes) from n elements, in the one-byte form when every
 * element fits it (id 1..14, len 1..16) and the two-byte form otherwise.
 * Returns the block length (0 when n == 0), -WEIR_EINVAL for an id 0 (it
 * means padding in both forms), -WEIR_ETOOBIG when it does not fit cap.
 */
int weir_rtp_ext_write(uint8_t *out, size_t cap, const weir_rtp_ext *elems, size_t n);

/* Values of common extensions. Parsers take an element found above. */

/** abs-send-time: 24-bit 6.18 fixed-point seconds. Needs len == 3. */
int weir_rtp_abs_send_time_parse(const weir_rtp_ext *e, uint32_t *out);
int weir_rtp_abs_send_time_write(uint8_t out[3], uint32_t abs_send_time);
/** abs-send-time of a microsecond clock: (us << 18) / 10^6 modulo 2^24. */
uint32_t weir_rtp_abs_send_time_from_us(int64_t now_us);
/** transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2). */
int weir_rtp_twcc_seq_parse(const weir_rtp_ext *e, uint16_t *out);
int weir_rtp_twcc_seq_write(uint8_t out[2], uint16_t seq);
/** RFC 6464 audio level: voice activity flag and level in -dBov (0 loudest, 127 silence). */
int weir_rtp_audio_level_parse(const weir_rtp_ext *e, bool *voice, uint8_t *level);
int weir_rtp_audio_level_write(uint8_t out[1], bool voice, uint8_t level);
/**
 * mid / rid / repaired-rid (RFC 8843 §15, RFC 8852 §3): copies the value into
 * out as a NUL-terminated string. Trailing NUL bytes are ignored (libwebrtc
 * tolerates them); anything outside printable ASCII is rejected, so the
 * result is safe to log and compare. Returns the string length, -WEIR_EINVAL
 * (empty or bad characters) or -WEIR_ETOOBIG (does not fit cap with its
 * NUL). On error out is unchanged.
 */
int weir_rtp_ext_str_parse(const weir_rtp_ext *e, char *out, size_t cap);

/* ---- writing a whole packet ---- */

typedef struct weir_rtp_fields {
    uint32_t ssrc;
    uint32_t timestamp;
    uint16_t seq;
    uint8_t payload_type;
    bool marker;
    /* borrowed: */
    const uint32_t *csrcs;
    uint8_t csrc_count; /* <= 15 */
    const weir_rtp_ext *exts;
    size_t ext_count;
} weir_rtp_fields;

/**
 * Writes header, extension block, payload and padding_len bytes of padding
 * (RFC 3550 §5.1: the last one holds the count; 0 for none). out must not
 * overlap payload. Returns the packet length, -WEIR_EINVAL, -WEIR_ETOOBIG.
 */
int weir_rtp_write(uint8_t *out, size_t cap, const weir_rtp_fields *f, const uint8_t *payload,
                   size_t payload_len, uint8_t padding_len);

/* ---- RTX (RFC 4588) ---- */

/**
 * Builds the RTX packet for an original packet: same header, CSRCs,
 * extensions, timestamp and marker (RFC 4588 §4), with the RTX ssrc, payload
 * type and sequence number, the original sequence number (OSN) as the first
 * two payload bytes, then the original payload. The original's padding is
 * not carried. out must not overlap orig_buf. Returns the RTX packet length
 * (orig payload_off + 2 + payload_len), or -WEIR_ETOOBIG.
 */
int weir_rtp_rtx_wrap(uint8_t *out, size_t cap, const weir_rtp *orig, const uint8_t *orig_buf,
                      uint32_t rtx_ssrc, uint8_t rtx_pt, uint16_t rtx_seq);
/** The OSN of an RTX packet; -WEIR_EINVAL when the payload is shorter than 2 bytes. */
int weir_rtp_rtx_osn(const weir_rtp *rtx, const uint8_t *buf, uint16_t *osn);
/**
 * Restores the original packet in place: seq = OSN, the given ssrc and
 * payload type, payload moved down over the OSN, padding dropped. On success
 * returns the new packet length and *h describes it; on error (-WEIR_EINVAL:
 * no OSN, e.g. a padding-only probe) buf and *h are unchanged.
 */
int weir_rtp_rtx_unwrap(weir_rtp *h, uint8_t *buf, uint32_t ssrc, uint8_t pt);

#endif
