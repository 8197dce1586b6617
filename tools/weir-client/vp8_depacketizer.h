/**
 * VP8 depacketizer and jitter buffer for one received RTP stream: packets
 * in any order (duplicates, reordering, retransmissions), frames out in
 * sequence order once every packet between a frame start (S=1, PID 0) and
 * its marker packet is there.
 *
 * Loss handling: a sequence number skipped by a newer packet is "missing";
 * wc_vp8_depack_nack lists the missing ones to ask for (generic NACK,
 * RFC 4585 §6.2.1) at most every nack_interval_us, max_nacks times each.
 * A missing packet that arrives after having been NACKed counts as
 * recovered. When the oldest missing packet has been missing for
 * max_wait_us (or the window overflows) it is given up: counted lost, the
 * incomplete frame is dropped and the next frame out carries after_gap, so
 * the decoder knows its references may be broken and asks for a keyframe.
 *
 * Pure: time is a parameter, no I/O.
 */
#ifndef WC_VP8_DEPACKETIZER_H
#define WC_VP8_DEPACKETIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WC_DEPACK_WINDOW 1024 /* packets held (sequence numbers) */
#define WC_DEPACK_MAX_PAYLOAD 1500
#define WC_DEPACK_MAX_FRAME (1 << 20)

typedef struct wc_vp8_depack wc_vp8_depack;

typedef struct wc_vp8_depack_config {
    int64_t max_wait_us;      /* give up on a missing packet after this long; 0 = 500 ms */
    int64_t nack_interval_us; /* between two NACKs of one packet; 0 = 40 ms */
    uint32_t max_nacks;       /* NACKs per packet; 0 = 10 */
} wc_vp8_depack_config;

typedef struct wc_vp8_frame {
    /* borrowed from the depacketizer until its next call: */
    const uint8_t *data;
    size_t len;
    /* values: */
    uint32_t timestamp;
    uint16_t first_seq, last_seq;
    uint16_t picture_id;
    bool has_picture_id;
    bool keyframe;
    bool after_gap;         /* packets or frames before this one were given up */
    uint16_t width, height; /* keyframes only */
} wc_vp8_frame;

typedef struct wc_vp8_depack_stats {
    uint64_t packets;           /* distinct packets accepted */
    uint64_t duplicates;        /* already held, or older than what was consumed */
    uint64_t invalid;           /* not a VP8 payload */
    uint64_t packets_lost;      /* given up */
    uint64_t packets_recovered; /* arrived after being NACKed */
    uint64_t nacked;            /* sequence numbers listed by wc_vp8_depack_nack (repeats too) */
    uint64_t frames;            /* complete frames returned */
    uint64_t frames_dropped;    /* incomplete frames skipped */
} wc_vp8_depack_stats;

/** cfg may be NULL for the defaults. Never fails (aborts on out of memory). */
wc_vp8_depack *wc_vp8_depack_create(const wc_vp8_depack_config *cfg);
void wc_vp8_depack_destroy(wc_vp8_depack *d);

/**
 * Takes one VP8 RTP payload (copied). Returns 0 accepted, 1 ignored
 * (duplicate or too old), -WEIR_EINVAL for a payload that is not VP8 or is
 * larger than WC_DEPACK_MAX_PAYLOAD.
 */
int wc_vp8_depack_push(wc_vp8_depack *d, int64_t now_us, uint16_t seq, uint32_t timestamp,
                       bool marker, const uint8_t *payload, size_t len);

/**
 * As wc_vp8_depack_push for a whole RTP packet (buf borrowed, modified in
 * place when it is RTX): a packet of rtx_pt (>= 0) is unwrapped (RFC 4588:
 * the OSN becomes the sequence number) before it is pushed; packets of
 * another payload type than media_pt or rtx_pt give -WEIR_EINVAL.
 */
int wc_vp8_depack_push_rtp(wc_vp8_depack *d, int64_t now_us, uint8_t *buf, size_t len, int media_pt,
                           int rtx_pt);

/**
 * The next complete frame in sequence order: 1 with *out filled (data valid
 * until the next call on d), 0 when none is ready yet. Also gives up
 * packets missing for longer than max_wait_us.
 */
int wc_vp8_depack_poll_frame(wc_vp8_depack *d, int64_t now_us, wc_vp8_frame *out);

/**
 * Missing sequence numbers due for a NACK now, oldest first: writes at most
 * cap and returns how many were written; each is marked as asked at now_us.
 */
size_t wc_vp8_depack_nack(wc_vp8_depack *d, int64_t now_us, uint16_t *seqs, size_t cap);

const wc_vp8_depack_stats *wc_vp8_depack_get_stats(const wc_vp8_depack *d);

#endif
