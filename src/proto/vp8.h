/**
 * VP8 RTP payload descriptor (RFC 7741 §4.2) and the start of the VP8
 * payload header (RFC 7741 §4.3, RFC 6386 §9.1): what an SFU needs to pick,
 * drop and renumber VP8 frames.
 *
 *        0 1 2 3 4 5 6 7
 *       +-+-+-+-+-+-+-+-+
 *       |X|R|N|S|R| PID |   required
 *       +-+-+-+-+-+-+-+-+
 *  X:   |I|L|T|K| RSV   |   present when X
 *       +-+-+-+-+-+-+-+-+
 *  I:   |M| PictureID   |   present when I; M = 15-bit PictureID
 *       +-+-+-+-+-+-+-+-+
 *  M:   |   PictureID   |   second byte when M
 *       +-+-+-+-+-+-+-+-+
 *  L:   |   TL0PICIDX   |   present when L
 *       +-+-+-+-+-+-+-+-+
 *  T/K: |TID|Y| KEYIDX  |   present when T or K
 *       +-+-+-+-+-+-+-+-+
 *
 * Pure: parsing fills a weir_vp8_desc of values and offsets into the
 * caller's buffer, never allocates and never reads past len.
 */
#ifndef WEIR_PROTO_VP8_H
#define WEIR_PROTO_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest descriptor: 1 + X + 2 (15-bit PictureID) + TL0PICIDX + T/K. */
#define WEIR_VP8_DESC_MAX_LEN 6
/* Frame tag (3) + start code (3) + width (2) + height (2), RFC 6386 §9.1. */
#define WEIR_VP8_KEYFRAME_HEADER_LEN 10
#define WEIR_VP8_PICTURE_ID_MASK 0x7fff
#define WEIR_VP8_KEYIDX_MASK 0x1f

/** A parsed descriptor. Offsets are from the start of the RTP payload. */
typedef struct weir_vp8_desc {
    /* required octet: */
    bool non_reference;      /* N: the frame may be discarded without affecting others */
    bool start_of_partition; /* S */
    uint8_t partition_id;    /* PID, 0..7 */
    /* extensions; a value is meaningful only when its has_ flag is set: */
    bool has_picture_id;    /* I */
    bool picture_id_15;     /* M: PictureID is 15 bits wide (else 7) */
    bool has_tl0picidx;     /* L */
    bool has_tid;           /* T: TID and Y are meaningful */
    bool has_keyidx;        /* K */
    bool layer_sync;        /* Y: frame depends only on TL0 frames (a switching-up point) */
    uint16_t picture_id;    /* 0..127 or 0..32767 */
    uint8_t tl0picidx;      /* running index of TID 0 frames */
    uint8_t tid;            /* temporal layer, 0..3 */
    uint8_t keyidx;         /* 0..31 */
    uint8_t picture_id_off; /* offsets of the rewritable fields, 0 when absent */
    uint8_t tl0picidx_off;
    uint8_t tk_off;
    uint8_t header_len; /* descriptor length: the VP8 payload starts here */
    /* derived from the VP8 payload header: */
    bool is_frame_start; /* S && PID == 0: this packet carries the payload header */
    bool is_keyframe;    /* frame start with P == 0 (RFC 7741 §4.3) */
    bool show_frame;     /* H bit of the payload header, frame starts only */
    uint16_t width;      /* keyframes only, 14 bits */
    uint16_t height;
    uint8_t horizontal_scale; /* keyframes only, 2 bits (RFC 6386 §9.1) */
    uint8_t vertical_scale;
} weir_vp8_desc;

/**
 * Parses the descriptor at the start of an RTP payload (padding already
 * removed). Rejects with -WEIR_EINVAL: a descriptor truncated by len, a
 * packet with no VP8 payload byte after the descriptor (libwebrtc drops
 * those too), and a keyframe start shorter than the 10-byte keyframe header
 * or without the 0x9d 0x01 0x2a start code — treating such a packet as a
 * switching point would send an undecodable stream. On error *out is
 * unchanged.
 */
int weir_vp8_parse(weir_vp8_desc *out, const uint8_t *payload, size_t len);

/** New values for the rewritable fields; widths are reduced by the writer. */
typedef struct weir_vp8_ids {
    uint16_t picture_id; /* written modulo 2^7 or 2^15, the width the packet already uses */
    uint8_t tl0picidx;
    uint8_t keyidx; /* low 5 bits */
} weir_vp8_ids;

/**
 * Rewrites in place the PictureID, TL0PICIDX and KEYIDX fields that d says
 * the packet carries; absent fields are not added and every other bit (M,
 * TID, Y, the rest of the payload) is kept, so the packet length never
 * changes. d must come from weir_vp8_parse() of these bytes (or a
 * byte-identical copy). Returns 0, or -WEIR_EINVAL when len is shorter than
 * d's descriptor or d's offsets do not lie inside it (then payload is
 * unchanged).
 */
int weir_vp8_write_ids(uint8_t *payload, size_t len, const weir_vp8_desc *d,
                       const weir_vp8_ids *ids);

#endif
