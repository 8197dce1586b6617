/*
 * VP8 (RFC 7741): the descriptor parser of src/proto/vp8.c already finds
 * the frame start, the keyframe (P bit clear in the payload header) and the
 * keyframe's size; a VP8 frame is the payloads after their descriptors,
 * concatenated, so nothing else is needed at frame end.
 */
#include "depacketize.h"

#include "proto/vp8.h"
#include "weir/errors.h"

int wrec_vp8_packet(const uint8_t *payload, size_t len, wrec_pkt_info *out)
{
    weir_vp8_desc d;
    int rc = weir_vp8_parse(&d, payload, len);
    if (rc < 0)
        return rc;
    *out = (wrec_pkt_info){
        .skip = d.header_len,
        .starts = d.is_frame_start,
        .key = d.is_keyframe,
        .layer_start = d.is_frame_start,
        .width = d.is_keyframe ? d.width : 0,
        .height = d.is_keyframe ? d.height : 0,
    };
    return 0;
}
