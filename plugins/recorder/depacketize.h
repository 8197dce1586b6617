/**
 * Per-codec pieces of the recorder's frame assembler (frame_assembler.c):
 * reading one RTP payload's descriptor when it is pushed, and turning the
 * payloads of one complete frame into the bitstream a container stores.
 *
 * Internal to plugins/recorder; pure, no allocation except through the
 * frame buffer (wrec_buf), which never grows past its max.
 */
#ifndef WREC_DEPACKETIZE_H
#define WREC_DEPACKETIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** What the assembler keeps about one packet's payload. */
typedef struct wrec_pkt_info {
    uint16_t skip;          /* descriptor bytes before the codec bitstream */
    bool starts;            /* may begin a frame (VP8 S+PID 0, VP9 B, H.264 NAL start, Opus) */
    bool key;               /* begins a keyframe */
    bool layer_start;       /* VP9: B bit (each spatial layer frame starts with one) */
    uint16_t width, height; /* keyframe size when the payload says (VP8, VP9 SS), else 0 */
} wrec_pkt_info;

/* Each reads a non-empty RTP payload: 0, or -WEIR_EINVAL (out unchanged). */
int wrec_vp8_packet(const uint8_t *payload, size_t len, wrec_pkt_info *out);
int wrec_vp9_packet(const uint8_t *payload, size_t len, wrec_pkt_info *out);
int wrec_h264_packet(const uint8_t *payload, size_t len, wrec_pkt_info *out);

/** A bounded growable byte buffer: the frame being built. */
typedef struct wrec_buf {
    /* owned: */
    uint8_t *data;
    /* state: */
    size_t len, cap;
    size_t max; /* appends beyond this fail */
} wrec_buf;

/** 0, or -WEIR_ETOOBIG when len + n would pass max (nothing appended). */
int wrec_buf_append(wrec_buf *b, const void *p, size_t n);
void wrec_buf_free(wrec_buf *b);

/* ---- VP9: spatial layer frames of one picture → one block ---- */

#define WREC_VP9_MAX_LAYERS 8

typedef struct wrec_vp9_builder {
    size_t layer_off[WREC_VP9_MAX_LAYERS];
    size_t layers;
} wrec_vp9_builder;

void wrec_vp9_begin(wrec_vp9_builder *v);
/** Appends one packet's bitstream; -WEIR_EINVAL (layers without B, > 8 layers), -WEIR_ETOOBIG. */
int wrec_vp9_add(wrec_vp9_builder *v, wrec_buf *b, const uint8_t *data, size_t len,
                 bool layer_start);
/** Appends a superframe index when the picture has several layer frames. */
int wrec_vp9_end(wrec_vp9_builder *v, wrec_buf *b);

/* ---- H.264: RFC 6184 packets → AVCC (4-byte length-prefixed NAL units) ---- */

#define WREC_H264_MAX_PARAM 512 /* longest SPS / PPS kept */

typedef struct wrec_h264_params {
    uint8_t sps[WREC_H264_MAX_PARAM], pps[WREC_H264_MAX_PARAM];
    size_t sps_len, pps_len;
    uint8_t avcc[2 * WREC_H264_MAX_PARAM + 16];
    size_t avcc_len;        /* 0 until both an SPS and a PPS were seen */
    uint16_t width, height; /* from the newest SPS, 0 when it did not parse */
} wrec_h264_params;

typedef struct wrec_h264_builder {
    /* borrowed: */
    wrec_h264_params *params;
    /* state: */
    bool in_fu;
    size_t fu_len_off; /* where the FU-A NAL unit's length prefix is */
    bool idr;          /* the frame holds an IDR slice */
} wrec_h264_builder;

void wrec_h264_begin(wrec_h264_builder *h, wrec_h264_params *params);
/** Appends one packet's NAL units; -WEIR_EINVAL for a broken FU-A sequence, -WEIR_ETOOBIG. */
int wrec_h264_add(wrec_h264_builder *h, wrec_buf *b, const uint8_t *payload, size_t len);
/** -WEIR_EINVAL when the frame ends inside an FU-A NAL unit. */
int wrec_h264_end(wrec_h264_builder *h, wrec_buf *b);

/**
 * Width and height from an SPS NAL unit (header byte included), reading the
 * exp-Golomb fields of H.264 §7.3.2.1.1 and the cropping window. 0, or
 * -WEIR_EINVAL for an SPS it cannot read (outputs unchanged). *chroma and
 * the bit depths are what avcC's High-profile extension needs.
 */
int wrec_h264_sps_parse(const uint8_t *nal, size_t len, uint16_t *width, uint16_t *height,
                        uint8_t *chroma_format_idc, uint8_t *bit_depth_luma_minus8,
                        uint8_t *bit_depth_chroma_minus8);

#endif
