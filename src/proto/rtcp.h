/**
 * RTCP wire format, part 1: compound packets and the RFC 3550 §6.4-6.6
 * reports (SR, RR, SDES CNAME, BYE). Feedback messages (NACK, PLI, FIR,
 * REMB) are in rtcp_fb.h, transport-wide congestion control in twcc.h.
 *
 * Pure and zero-copy: the iterator yields each sub-packet as pointers into
 * the caller's buffer; parse functions fill small structs that point into
 * the same buffer (valid as long as it is) and never allocate. A parser that
 * fails returns a negative -WEIR_E* and leaves its output untouched.
 *
 * Writers take (out, cap), write one sub-packet and return its length (> 0, a
 * multiple of 4) or a negative -WEIR_E*; a compound packet is sub-packets
 * written one after another.
 */
#ifndef WEIR_PROTO_RTCP_H
#define WEIR_PROTO_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEIR_RTCP_HEADER_LEN 4
#define WEIR_RTCP_MAX_COUNT 31 /* 5-bit RC / SC field */
/* 16-bit length in words minus one (RFC 3550 §6.4.1) */
#define WEIR_RTCP_MAX_LEN (4 * 65536)

enum {
    WEIR_RTCP_SR = 200,
    WEIR_RTCP_RR = 201,
    WEIR_RTCP_SDES = 202,
    WEIR_RTCP_BYE = 203,
    WEIR_RTCP_APP = 204,
    WEIR_RTCP_RTPFB = 205, /* RFC 4585 transport-layer feedback */
    WEIR_RTCP_PSFB = 206,  /* RFC 4585 payload-specific feedback */
    WEIR_RTCP_XR = 207,
};

/** One sub-packet of a compound packet. */
typedef struct weir_rtcp_pkt {
    /* borrowed: */
    const uint8_t *data; /* the common header */
    const uint8_t *body; /* data + 4 */
    /* values: */
    uint32_t len;      /* whole sub-packet, header and padding included */
    uint32_t body_len; /* after the header, padding removed */
    uint8_t type;      /* PT */
    uint8_t count;     /* RC, SC or FMT: the 5 bits after V and P */
} weir_rtcp_pkt;

typedef struct weir_rtcp_iter {
    /* borrowed: */
    const uint8_t *buf;
    /* state: */
    size_t len;
    size_t pos;
} weir_rtcp_iter;

/**
 * True when a demultiplexed packet is RTCP rather than RTP: RFC 5761 §4,
 * second byte 192..223 (RTP payload types 64..95 with the marker set are
 * never used so that this works).
 */
bool weir_rtcp_is_rtcp(const uint8_t *buf, size_t len);

void weir_rtcp_iter_init(weir_rtcp_iter *it, const uint8_t *buf, size_t len);
/**
 * Next sub-packet: 1 with *out filled, 0 at the end, -WEIR_EINVAL when the
 * header is truncated, its version is not 2, its length runs past the
 * buffer, or its padding count is 0 or longer than its body. After an error
 * the iterator is finished; sub-packets returned before it are valid.
 */
int weir_rtcp_iter_next(weir_rtcp_iter *it, weir_rtcp_pkt *out);
/**
 * Checks a whole compound packet (RFC 3550 §6.1, A.2, relaxed for reduced
 * size RTCP, RFC 5506): at least one sub-packet, every header valid, lengths
 * summing exactly to len. Returns the number of sub-packets or -WEIR_EINVAL.
 */
int weir_rtcp_validate(const uint8_t *buf, size_t len);

/* ---- SR and RR (RFC 3550 §6.4) ---- */

typedef struct weir_rtcp_report_block {
    uint32_t ssrc;
    uint8_t fraction_lost;   /* fixed point /256 */
    int32_t cumulative_lost; /* 24-bit signed: duplicates can make it negative */
    uint32_t highest_seq;    /* extended highest sequence number received */
    uint32_t jitter;         /* in timestamp units */
    uint32_t lsr;            /* middle 32 bits of the last SR's NTP time */
    uint32_t dlsr;           /* 1/65536 s */
} weir_rtcp_report_block;

/** Report blocks as they sit on the wire (24 bytes each). */
typedef struct weir_rtcp_blocks {
    const uint8_t *data;
    uint8_t count;
} weir_rtcp_blocks;

typedef struct weir_rtcp_sr {
    uint32_t ssrc;
    uint64_t ntp; /* 32.32 fixed-point seconds since 1900 */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
    weir_rtcp_blocks blocks;
} weir_rtcp_sr;

typedef struct weir_rtcp_rr {
    uint32_t ssrc;
    weir_rtcp_blocks blocks;
} weir_rtcp_rr;

/** The i-th report block; -WEIR_EINVAL when i >= b.count. */
int weir_rtcp_block_parse(weir_rtcp_blocks b, size_t i, weir_rtcp_report_block *out);

/**
 * SR / RR: -WEIR_EINVAL for another type or a body shorter than its report
 * count says. Profile-specific extensions after the blocks are ignored.
 */
int weir_rtcp_sr_parse(const weir_rtcp_pkt *p, weir_rtcp_sr *out);
int weir_rtcp_rr_parse(const weir_rtcp_pkt *p, weir_rtcp_rr *out);
/**
 * SR from sr's sender fields (sr->blocks is ignored) and n <= 31 blocks;
 * cumulative_lost is clamped to 24 bits. -WEIR_EINVAL, -WEIR_ETOOBIG.
 */
int weir_rtcp_sr_write(uint8_t *out, size_t cap, const weir_rtcp_sr *sr,
                       const weir_rtcp_report_block *blocks, size_t n);
int weir_rtcp_rr_write(uint8_t *out, size_t cap, uint32_t ssrc,
                       const weir_rtcp_report_block *blocks, size_t n);

/** Middle 32 bits of an NTP time: what an RR echoes as LSR. */
static inline uint32_t weir_rtcp_ntp_mid32(uint64_t ntp)
{
    return (uint32_t)(ntp >> 16);
}

/* ---- SDES (RFC 3550 §6.5) ---- */

#define WEIR_RTCP_SDES_END 0
#define WEIR_RTCP_SDES_CNAME 1

/** One SDES chunk: its SSRC and its CNAME item, if it has one. */
typedef struct weir_rtcp_sdes_chunk {
    uint32_t ssrc;
    const uint8_t *cname; /* NULL when the chunk has no CNAME; not NUL-terminated */
    uint8_t cname_len;
} weir_rtcp_sdes_chunk;

typedef struct weir_rtcp_sdes_iter {
    /* borrowed: */
    const uint8_t *body;
    /* state: */
    uint32_t len;
    uint32_t pos;
    uint8_t left; /* chunks still to read (SC) */
} weir_rtcp_sdes_iter;

/** -WEIR_EINVAL when p is not SDES. */
int weir_rtcp_sdes_iter_init(weir_rtcp_sdes_iter *it, const weir_rtcp_pkt *p);
/**
 * Next chunk: 1, 0 after SC chunks, -WEIR_EINVAL when a chunk or item runs
 * past the body or its item list has no terminating null octet (§6.5). The
 * first CNAME item of a chunk is reported; other items are skipped.
 */
int weir_rtcp_sdes_iter_next(weir_rtcp_sdes_iter *it, weir_rtcp_sdes_chunk *out);
/** SDES with one chunk holding one CNAME item (len <= 255). -WEIR_EINVAL, -WEIR_ETOOBIG. */
int weir_rtcp_sdes_write(uint8_t *out, size_t cap, uint32_t ssrc, const char *cname,
                         size_t cname_len);

/* ---- BYE (RFC 3550 §6.6) ---- */

typedef struct weir_rtcp_bye {
    const uint8_t *ssrcs;  /* count big-endian words */
    const uint8_t *reason; /* NULL when absent; not NUL-terminated */
    uint8_t count;
    uint8_t reason_len;
} weir_rtcp_bye;

/** -WEIR_EINVAL for another type, missing SSRCs or a reason running past the body. */
int weir_rtcp_bye_parse(const weir_rtcp_pkt *p, weir_rtcp_bye *out);
/** The i-th SSRC; -WEIR_EINVAL when i >= count. */
int weir_rtcp_bye_ssrc(const weir_rtcp_bye *b, size_t i, uint32_t *out);
/** BYE for n <= 31 SSRCs with an optional reason (reason_len <= 255, 0 for none). */
int weir_rtcp_bye_write(uint8_t *out, size_t cap, const uint32_t *ssrcs, size_t n,
                        const char *reason, size_t reason_len);

/* ---- shared by the feedback writers (rtcp_fb.c, twcc.c) ---- */

/**
 * Writes a common header for a sub-packet of total length len (a multiple of
 * 4, 4..WEIR_RTCP_MAX_LEN) with the given 5-bit count / FMT and padding bit.
 * The caller has checked len and cap.
 */
void weir_rtcp_header_write(uint8_t *out, uint8_t count, uint8_t type, size_t len, bool padding);

#endif
