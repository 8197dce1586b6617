#include "proto/vp8.h"

#include <string.h>

#include "weir/errors.h"

/* Required octet (RFC 7741 §4.2). The R bits are ignored, as the RFC asks of receivers. */
#define B0_X 0x80
#define B0_N 0x20
#define B0_S 0x10
#define B0_PID 0x07
/* Extension octet. */
#define BX_I 0x80
#define BX_L 0x40
#define BX_T 0x20
#define BX_K 0x10
/* PictureID first octet: M selects the 15-bit form. */
#define PID_M 0x80
/* VP8 payload header first octet (RFC 7741 §4.3): Size0|H|VER|P. */
#define PH_P 0x01
#define PH_H 0x10

/*
 * The extension octets after X, in their fixed order. Works on a local copy
 * so that a truncated descriptor leaves the caller's struct untouched.
 */
static int parse_extensions(weir_vp8_desc *d, const uint8_t *p, size_t len, size_t *pos)
{
    if (*pos >= len)
        return -WEIR_EINVAL;
    uint8_t x = p[(*pos)++];
    if (x & BX_I) {
        if (*pos >= len)
            return -WEIR_EINVAL;
        d->has_picture_id = true;
        d->picture_id_off = (uint8_t)*pos;
        if (p[*pos] & PID_M) {
            if (*pos + 1 >= len)
                return -WEIR_EINVAL;
            d->picture_id_15 = true;
            d->picture_id = (uint16_t)((p[*pos] & 0x7f) << 8 | p[*pos + 1]);
            *pos += 2;
        } else {
            d->picture_id = p[*pos] & 0x7f;
            *pos += 1;
        }
    }
    if (x & BX_L) {
        if (*pos >= len)
            return -WEIR_EINVAL;
        d->has_tl0picidx = true;
        d->tl0picidx_off = (uint8_t)*pos;
        d->tl0picidx = p[(*pos)++];
    }
    if (x & (BX_T | BX_K)) {
        if (*pos >= len)
            return -WEIR_EINVAL;
        uint8_t tk = p[*pos];
        d->tk_off = (uint8_t)*pos;
        (*pos)++;
        /* RFC 7741 §4.2: TID and Y are ignored when T is 0, KEYIDX when K is 0. */
        if (x & BX_T) {
            d->has_tid = true;
            d->tid = tk >> 6;
            d->layer_sync = (tk & 0x20) != 0;
        }
        if (x & BX_K) {
            d->has_keyidx = true;
            d->keyidx = tk & WEIR_VP8_KEYIDX_MASK;
        }
    }
    return 0;
}

/*
 * The payload header exists only in the first packet of a frame (S = 1,
 * PID = 0). Its P bit is an inverse keyframe flag; a keyframe continues
 * with the start code and the 14-bit dimensions + 2-bit scales, little
 * endian (RFC 6386 §9.1).
 */
static int parse_payload_header(weir_vp8_desc *d, const uint8_t *vp8, size_t len)
{
    d->is_frame_start = true;
    d->show_frame = (vp8[0] & PH_H) != 0;
    if (vp8[0] & PH_P)
        return 0;
    if (len < WEIR_VP8_KEYFRAME_HEADER_LEN)
        return -WEIR_EINVAL;
    if (vp8[3] != 0x9d || vp8[4] != 0x01 || vp8[5] != 0x2a)
        return -WEIR_EINVAL;
    d->is_keyframe = true;
    d->width = (uint16_t)((vp8[7] << 8 | vp8[6]) & 0x3fff);
    d->horizontal_scale = vp8[7] >> 6;
    d->height = (uint16_t)((vp8[9] << 8 | vp8[8]) & 0x3fff);
    d->vertical_scale = vp8[9] >> 6;
    return 0;
}

int weir_vp8_parse(weir_vp8_desc *out, const uint8_t *payload, size_t len)
{
    if (payload == NULL || len < 1)
        return -WEIR_EINVAL;
    weir_vp8_desc d;
    memset(&d, 0, sizeof d);
    uint8_t b0 = payload[0];
    d.non_reference = (b0 & B0_N) != 0;
    d.start_of_partition = (b0 & B0_S) != 0;
    d.partition_id = b0 & B0_PID;
    size_t pos = 1;
    if ((b0 & B0_X) && parse_extensions(&d, payload, len, &pos) < 0)
        return -WEIR_EINVAL;
    /* A descriptor with nothing after it carries no VP8 data (libwebrtc rejects it too). */
    if (pos >= len)
        return -WEIR_EINVAL;
    d.header_len = (uint8_t)pos;
    if (d.start_of_partition && d.partition_id == 0 &&
        parse_payload_header(&d, payload + pos, len - pos) < 0)
        return -WEIR_EINVAL;
    *out = d;
    return 0;
}

/* A descriptor not produced by weir_vp8_parse() must not steer a write out of bounds. */
static bool desc_fits(const weir_vp8_desc *d, size_t len)
{
    size_t end = d->header_len;
    if (end > len || end > WEIR_VP8_DESC_MAX_LEN)
        return false;
    if (d->has_picture_id && (size_t)d->picture_id_off + (d->picture_id_15 ? 2 : 1) > end)
        return false;
    if (d->has_tl0picidx && (size_t)d->tl0picidx_off + 1 > end)
        return false;
    if (d->has_keyidx && (size_t)d->tk_off + 1 > end)
        return false;
    return true;
}

int weir_vp8_write_ids(uint8_t *payload, size_t len, const weir_vp8_desc *d,
                       const weir_vp8_ids *ids)
{
    if (payload == NULL || d == NULL || ids == NULL || !desc_fits(d, len))
        return -WEIR_EINVAL;
    if (d->has_picture_id) {
        uint8_t *p = payload + d->picture_id_off;
        /* Keep the width the packet uses: a receiver compares PictureIDs modulo that width. */
        if (d->picture_id_15) {
            p[0] = (uint8_t)(PID_M | ((ids->picture_id >> 8) & 0x7f));
            p[1] = (uint8_t)ids->picture_id;
        } else {
            p[0] = (uint8_t)(ids->picture_id & 0x7f);
        }
    }
    if (d->has_tl0picidx)
        payload[d->tl0picidx_off] = ids->tl0picidx;
    if (d->has_keyidx) {
        uint8_t *tk = payload + d->tk_off;
        *tk = (uint8_t)((*tk & ~WEIR_VP8_KEYIDX_MASK) | (ids->keyidx & WEIR_VP8_KEYIDX_MASK));
    }
    return 0;
}
