/**
 * Frame boundaries and keyframes from the first bytes of an RTP payload, for
 * the codecs whose payload format the SFU does not otherwise rewrite:
 * H.264 (RFC 6184), VP9 (RFC 9628) and AV1 (the AOM RTP specification).
 * The simulcast selector needs exactly this much to switch layers at a
 * keyframe. VP8 has its own module (proto/vp8.h) because its descriptor is
 * also rewritten.
 *
 * Pure and zero-copy.
 */
#ifndef WEIR_PROTO_CODEC_FRAME_H
#define WEIR_PROTO_CODEC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct weir_frame_info {
    bool is_keyframe; /* this packet starts a keyframe (or carries the SPS that leads one) */
    bool frame_start; /* this packet starts a frame, as far as the payload tells */
} weir_frame_info;

/**
 * H.264: keyframe = an IDR slice (type 5) or an SPS (type 7) in a single NAL
 * unit, in a STAP-A, or at the start (S bit) of an FU-A; frame start = a
 * single NAL unit, a STAP-A, or an FU-A with S. -WEIR_EINVAL for an empty or
 * truncated payload (out unchanged).
 */
int weir_h264_frame_info(const uint8_t *payload, size_t len, weir_frame_info *out);
/**
 * VP9: frame start = B bit; keyframe = B set, P clear and, when the layer
 * indices are present, spatial layer 0. -WEIR_EINVAL when truncated.
 */
int weir_vp9_frame_info(const uint8_t *payload, size_t len, weir_frame_info *out);
/**
 * AV1: frame start = Z clear (the first OBU element is not a continuation);
 * keyframe = N set on a frame start (the packet begins a new coded video
 * sequence; N with Z set is malformed and not a keyframe).
 * -WEIR_EINVAL for an empty payload.
 */
int weir_av1_frame_info(const uint8_t *payload, size_t len, weir_frame_info *out);

#endif
