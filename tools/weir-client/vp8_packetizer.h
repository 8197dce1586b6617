/**
 * VP8 RTP packetization (RFC 7741 §4): one encoded frame split into
 * payloads of at most max_payload bytes, each starting with a 4-byte payload
 * descriptor (X=1, S on the first packet, PID 0; I=1 with a 15-bit
 * PictureID). Sizes are balanced (they differ by at most one byte), as
 * libwebrtc does, so no tiny last packet is sent.
 *
 * Pure: no I/O, no clock, no allocation.
 */
#ifndef WC_VP8_PACKETIZER_H
#define WC_VP8_PACKETIZER_H

#include <stddef.h>
#include <stdint.h>

#define WC_VP8_DESC_LEN 4

/**
 * Number of payloads for a frame of frame_len bytes (> 0) at max_payload
 * bytes each; 0 when max_payload leaves no room after the descriptor.
 */
size_t wc_vp8_packet_count(size_t frame_len, size_t max_payload);

/**
 * Writes payload i (0-based, < wc_vp8_packet_count) of frame into out.
 * frame is borrowed. Returns the payload length, -WEIR_EINVAL for a bad i,
 * empty frame or too small max_payload, -WEIR_ETOOBIG when out is too small.
 * The last payload is the one to send with the RTP marker bit.
 */
int wc_vp8_packetize(const uint8_t *frame, size_t frame_len, uint16_t picture_id,
                     size_t max_payload, size_t i, uint8_t *out, size_t cap);

#endif
