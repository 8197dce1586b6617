/**
 * RTCP feedback messages (RFC 4585 §6): generic NACK, PLI, FIR (RFC 5104
 * §4.3.1) and REMB (draft-alvestrand-rmcat-remb-03). Transport-wide
 * congestion control feedback, also an RTPFB, is in twcc.h.
 *
 * Parsers take a sub-packet from weir_rtcp_iter_next, fill a small struct
 * pointing into the same buffer and never allocate; on error they return a
 * negative -WEIR_E* and leave the output untouched. Writers take (out, cap)
 * and return the sub-packet length or a negative -WEIR_E*.
 */
#ifndef WEIR_PROTO_RTCP_FB_H
#define WEIR_PROTO_RTCP_FB_H

#include <stddef.h>
#include <stdint.h>

#include "proto/rtcp.h"

/* FMT values (RFC 4585 §6.2, §6.3; RFC 5104 §4.3; REMB draft §2.2) */
enum {
    WEIR_RTCP_FB_NACK = 1,  /* RTPFB */
    WEIR_RTCP_FB_TWCC = 15, /* RTPFB, draft-holmer-rmcat-transport-wide-cc-extensions-01 */
    WEIR_RTCP_FB_PLI = 1,   /* PSFB */
    WEIR_RTCP_FB_FIR = 4,   /* PSFB */
    WEIR_RTCP_FB_AFB = 15,  /* PSFB application layer feedback: REMB */
};

/** The common feedback header of RFC 4585 §6.1 and what follows it. */
typedef struct weir_rtcp_fb {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *fci; /* feedback control information */
    uint32_t fci_len;
    uint8_t type; /* WEIR_RTCP_RTPFB or WEIR_RTCP_PSFB */
    uint8_t fmt;
} weir_rtcp_fb;

/** Any RTPFB / PSFB: -WEIR_EINVAL for another type or a body under 8 bytes. */
int weir_rtcp_fb_parse(const weir_rtcp_pkt *p, weir_rtcp_fb *out);

/* ---- generic NACK (RFC 4585 §6.2.1) ---- */

typedef struct weir_rtcp_fb_nack {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *fci; /* pair_count (PID, BLP) pairs, 4 bytes each */
    uint32_t pair_count;
} weir_rtcp_fb_nack;

/** -WEIR_EINVAL unless p is an RTPFB NACK with at least one whole PID/BLP pair. */
int weir_rtcp_fb_nack_parse(const weir_rtcp_pkt *p, weir_rtcp_fb_nack *out);
/**
 * Expands the pairs into lost sequence numbers, PID then each BLP bit from
 * the least significant (PID+1) up, in wire order (duplicates are kept when
 * pairs overlap). Writes at most cap of them and returns how many there are
 * in all (<= 17 per pair), like snprintf: a result above cap means truncated.
 */
size_t weir_rtcp_fb_nack_expand(const weir_rtcp_fb_nack *n, uint16_t *seqs, size_t cap);
/**
 * NACK for n >= 1 sequence numbers, compressing runs within 16 of a PID into
 * its BLP. Sorted input (in 16-bit serial order, RFC 1982) gives the fewest
 * pairs; any order still yields a NACK whose expansion covers every input
 * and nothing else. -WEIR_EINVAL (n == 0), -WEIR_ETOOBIG.
 */
int weir_rtcp_fb_nack_write(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                            const uint16_t *seqs, size_t n);

/* ---- PLI (RFC 4585 §6.3.1) ---- */

/** -WEIR_EINVAL unless p is a PSFB PLI. Fills sender and media SSRC (no FCI). */
int weir_rtcp_fb_pli_parse(const weir_rtcp_pkt *p, weir_rtcp_fb *out);
int weir_rtcp_fb_pli_write(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc);

/* ---- FIR (RFC 5104 §4.3.1) ---- */

typedef struct weir_rtcp_fb_fir_entry {
    uint32_t ssrc;  /* the media sender asked for a decoder refresh */
    uint8_t seq_nr; /* incremented per new request, repeated on retransmission */
} weir_rtcp_fb_fir_entry;

typedef struct weir_rtcp_fb_fir {
    uint32_t sender_ssrc;
    const uint8_t *fci; /* entry_count 8-byte entries */
    uint32_t entry_count;
} weir_rtcp_fb_fir;

/** -WEIR_EINVAL unless p is a PSFB FIR with at least one whole entry. */
int weir_rtcp_fb_fir_parse(const weir_rtcp_pkt *p, weir_rtcp_fb_fir *out);
/** The i-th entry; -WEIR_EINVAL when i >= entry_count. */
int weir_rtcp_fb_fir_entry_parse(const weir_rtcp_fb_fir *f, size_t i, weir_rtcp_fb_fir_entry *out);
/** FIR with n >= 1 entries (media SSRC 0, RFC 5104 §4.3.1.2). */
int weir_rtcp_fb_fir_write(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                           const weir_rtcp_fb_fir_entry *entries, size_t n);

/* ---- REMB (draft-alvestrand-rmcat-remb-03 §2.2) ---- */

typedef struct weir_rtcp_fb_remb {
    uint32_t sender_ssrc;
    uint64_t bitrate_bps; /* mantissa << exp */
    const uint8_t *ssrcs; /* ssrc_count big-endian words */
    uint8_t ssrc_count;
} weir_rtcp_fb_remb;

/**
 * -WEIR_EINVAL unless p is a PSFB AFB with the 'REMB' identifier, its SSRC
 * list fits, and mantissa << exp fits 64 bits.
 */
int weir_rtcp_fb_remb_parse(const weir_rtcp_pkt *p, weir_rtcp_fb_remb *out);
/** The i-th SSRC the estimate applies to; -WEIR_EINVAL when i >= ssrc_count. */
int weir_rtcp_fb_remb_ssrc(const weir_rtcp_fb_remb *r, size_t i, uint32_t *out);
/**
 * REMB for n <= 255 SSRCs. The bitrate is encoded as an 18-bit mantissa and
 * 6-bit exponent, rounding down: what parses back is bitrate_bps with the
 * bits below the mantissa cleared.
 */
int weir_rtcp_fb_remb_write(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint64_t bitrate_bps,
                            const uint32_t *ssrcs, size_t n);

#endif
