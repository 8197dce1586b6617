/**
 * Transport-wide congestion control feedback, an RTCP RTPFB with FMT 15
 * (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1): for a range of
 * transport-wide sequence numbers, whether each packet arrived and, for those
 * that did, its receive time as a delta from the previous one.
 *
 * Entries are reported as (seq, received, delta_us): delta_us is the receive
 * delta of a received packet in microseconds, a multiple of 250, relative to
 * the previous received packet in the same feedback or, for the first, to
 * the reference time; 0 for a packet not received.
 *
 * Pure: parsing reads the caller's buffer (the iterator needs no storage at
 * all), never allocates, and on error leaves its outputs untouched.
 */
#ifndef WEIR_PROTO_TWCC_H
#define WEIR_PROTO_TWCC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/rtcp.h"

#define WEIR_TWCC_DELTA_TICK_US 250
#define WEIR_TWCC_REFERENCE_TICK_US 64000

typedef struct weir_twcc {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    uint16_t base_seq;
    uint16_t status_count;  /* number of entries, >= 1 */
    int32_t reference_time; /* in 64 ms ticks; 24 bits on the wire, sign-extended */
    uint8_t fb_count;       /* feedback packet count, wraps; lets the sender spot lost feedback */
} weir_twcc;

typedef struct weir_twcc_entry {
    int32_t delta_us;
    uint16_t seq;
    bool received;
} weir_twcc_entry;

typedef struct weir_twcc_iter {
    /* borrowed: */
    const uint8_t *chunk_next;
    const uint8_t *delta_next;
    /* state: */
    uint32_t left; /* entries still to yield */
    uint16_t seq;
    uint16_t chunk;
    uint16_t chunk_left; /* symbols left in the current chunk */
    uint8_t chunk_pos;   /* symbols already taken from it */
} weir_twcc_iter;

/**
 * Validates the whole feedback packet p and prepares to iterate its entries:
 * -WEIR_EINVAL unless p is an RTPFB with FMT 15 whose chunks cover
 * status_count >= 1 packets with no reserved symbol and whose receive deltas
 * are all present. Trailing bytes (zero padding without the P bit, as some
 * stacks send) are ignored. On success *hdr is filled and
 * weir_twcc_iter_next cannot fail.
 */
int weir_twcc_iter_init(weir_twcc_iter *it, const weir_rtcp_pkt *p, weir_twcc *hdr);
/** Next entry in sequence order: 1 with *out filled, 0 after status_count entries. */
int weir_twcc_iter_next(weir_twcc_iter *it, weir_twcc_entry *out);

/**
 * Parses p into entries[0..status_count): returns status_count, -WEIR_EINVAL
 * (as weir_twcc_iter_init) or -WEIR_ETOOBIG when cap is smaller.
 */
int weir_twcc_parse(const weir_rtcp_pkt *p, weir_twcc *hdr, weir_twcc_entry *entries, size_t cap);

/**
 * Writes feedback for n entries (1..65535) whose seqs are consecutive from
 * entries[0].seq; hdr gives the SSRCs, reference_time (its low 24 bits are
 * sent) and fb_count, while its base_seq and status_count are ignored.
 * A received entry's delta_us must be a multiple of 250 within
 * [-8192000, 8191750] (a 16-bit signed tick count); quantising arrival
 * times without drift (carrying the remainder) is the recorder's job, so
 * weir_twcc_parse gives back exactly these entries. Chunks are chosen
 * greedily among run-length, 1-bit and 2-bit vectors; the packet is padded
 * to 32 bits with the P bit set as libwebrtc does, so it should be the last
 * of a compound. Returns the length, -WEIR_EINVAL, -WEIR_ETOOBIG.
 */
int weir_twcc_write(uint8_t *out, size_t cap, const weir_twcc *hdr, const weir_twcc_entry *entries,
                    size_t n);

#endif
