#include "vp8_packetizer.h"

#include <string.h>

#include "weir/errors.h"

size_t wc_vp8_packet_count(size_t frame_len, size_t max_payload)
{
    if (frame_len == 0 || max_payload <= WC_VP8_DESC_LEN)
        return 0;
    size_t room = max_payload - WC_VP8_DESC_LEN;
    return (frame_len + room - 1) / room;
}

int wc_vp8_packetize(const uint8_t *frame, size_t frame_len, uint16_t picture_id,
                     size_t max_payload, size_t i, uint8_t *out, size_t cap)
{
    size_t n = wc_vp8_packet_count(frame_len, max_payload);
    if (n == 0 || i >= n)
        return -WEIR_EINVAL;
    size_t base = frame_len / n, rem = frame_len % n;
    size_t len = base + (i < rem ? 1 : 0);
    size_t off = i * base + (i < rem ? i : rem);
    if (cap < WC_VP8_DESC_LEN + len)
        return -WEIR_ETOOBIG;
    out[0] = (uint8_t)(0x80 | (i == 0 ? 0x10 : 0x00)); /* X, S; N = 0, PID = 0 */
    out[1] = 0x80;                                     /* I */
    out[2] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
    out[3] = (uint8_t)picture_id;
    memcpy(out + WC_VP8_DESC_LEN, frame + off, len);
    return (int)(WC_VP8_DESC_LEN + len);
}
