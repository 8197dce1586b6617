/*
 * VP9 (RFC 9628 §4.2): the payload descriptor, and the spatial layers of one
 * picture joined into one container block.
 *
 *   |I|P|L|F|B|E|V|Z|  then: PictureID (I: 7 or 15 bits, M first), layer
 *   indices (L: TID U SID D, plus TL0PICIDX in non-flexible mode), up to 3
 *   P_DIFF octets (F and P, N bit = another follows), then the scalability
 *   structure (V): N_S Y G, Y: a 16-bit width and height per spatial layer,
 *   G: N_G picture descriptions of T U R and R P_DIFF octets each.
 *
 * Keyframe as src/proto/codec_frame.c: B set, P clear, spatial layer 0.
 * Size: the highest spatial layer of the SS, which is what a decoder shows.
 *
 * An RTP picture with several spatial layers carries each layer frame from
 * its own B to its E; a WebM block holds one superframe, so when a picture
 * has more than one layer frame a superframe index (VP9 bitstream spec,
 * Annex B) is appended: marker, each frame's size little-endian, marker.
 */
#include "depacketize.h"

#include "weir/errors.h"

static int read_ss(const uint8_t *p, size_t len, size_t *off, uint16_t *w, uint16_t *h)
{
    if (*off >= len)
        return -WEIR_EINVAL;
    uint8_t b = p[(*off)++];
    size_t n_s = (size_t)(b >> 5) + 1;
    bool y = b & 0x10, g = b & 0x08;
    if (y) {
        if (len - *off < 4 * n_s)
            return -WEIR_EINVAL;
        for (size_t i = 0; i < n_s; i++, *off += 4) {
            *w = (uint16_t)(p[*off] << 8 | p[*off + 1]);
            *h = (uint16_t)(p[*off + 2] << 8 | p[*off + 3]);
        }
    }
    if (g) {
        if (*off >= len)
            return -WEIR_EINVAL;
        size_t n_g = p[(*off)++];
        for (size_t i = 0; i < n_g; i++) {
            if (*off >= len)
                return -WEIR_EINVAL;
            size_t r = (p[(*off)++] >> 2) & 0x03;
            if (len - *off < r)
                return -WEIR_EINVAL;
            *off += r;
        }
    }
    return 0;
}

int wrec_vp9_packet(const uint8_t *p, size_t len, wrec_pkt_info *out)
{
    if (len < 1)
        return -WEIR_EINVAL;
    bool i = p[0] & 0x80, inter = p[0] & 0x40, l = p[0] & 0x20, f = p[0] & 0x10;
    bool b = p[0] & 0x08, v = p[0] & 0x02;
    size_t off = 1;
    if (i) {
        if (off >= len)
            return -WEIR_EINVAL;
        off += (p[off] & 0x80) ? 2 : 1;
    }
    int sid = 0;
    if (l) {
        if (off >= len)
            return -WEIR_EINVAL;
        sid = (p[off] >> 1) & 0x07;
        off += f ? 1 : 2; /* TL0PICIDX only in non-flexible mode */
    }
    if (f && inter) {
        for (int n = 0;; n++) {
            if (off >= len || n == 3)
                return -WEIR_EINVAL;
            if (!(p[off++] & 0x01))
                break;
        }
    }
    uint16_t w = 0, h = 0;
    if (v && read_ss(p, len, &off, &w, &h) < 0)
        return -WEIR_EINVAL;
    if (off >= len)
        return -WEIR_EINVAL; /* no VP9 bytes after the descriptor */
    bool key = b && !inter && sid == 0;
    *out = (wrec_pkt_info){
        .skip = (uint16_t)off,
        .starts = b && sid == 0,
        .key = key,
        .layer_start = b,
        .width = key ? w : 0,
        .height = key ? h : 0,
    };
    return 0;
}

void wrec_vp9_begin(wrec_vp9_builder *v)
{
    v->layers = 0;
}

int wrec_vp9_add(wrec_vp9_builder *v, wrec_buf *b, const uint8_t *data, size_t len,
                 bool layer_start)
{
    if (layer_start) {
        if (v->layers == WREC_VP9_MAX_LAYERS)
            return -WEIR_EINVAL;
        v->layer_off[v->layers++] = b->len;
    } else if (v->layers == 0) {
        return -WEIR_EINVAL;
    }
    return wrec_buf_append(b, data, len);
}

int wrec_vp9_end(wrec_vp9_builder *v, wrec_buf *b)
{
    if (v->layers < 2)
        return 0;
    size_t sizes[WREC_VP9_MAX_LAYERS], largest = 0;
    for (size_t i = 0; i < v->layers; i++) {
        size_t end = i + 1 < v->layers ? v->layer_off[i + 1] : b->len;
        sizes[i] = end - v->layer_off[i];
        if (sizes[i] > largest)
            largest = sizes[i];
    }
    size_t mag = largest <= 0xff ? 1 : largest <= 0xffff ? 2 : largest <= 0xffffff ? 3 : 4;
    if (largest > 0xffffffffu)
        return -WEIR_ETOOBIG;
    uint8_t index[2 + 4 * WREC_VP9_MAX_LAYERS];
    size_t n = 0;
    uint8_t marker = (uint8_t)(0xc0 | (mag - 1) << 3 | (v->layers - 1));
    index[n++] = marker;
    for (size_t i = 0; i < v->layers; i++)
        for (size_t k = 0; k < mag; k++)
            index[n++] = (uint8_t)(sizes[i] >> (8 * k));
    index[n++] = marker;
    return wrec_buf_append(b, index, n);
}
