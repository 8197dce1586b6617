/*
 * H.264 (RFC 6184, packetization modes 0 and 1): single NAL unit packets
 * (types 1-23), STAP-A (24) and FU-A (28) become AVCC, the form Matroska's
 * V_MPEG4/ISO/AVC stores: each NAL unit preceded by its length as 4 bytes
 * big-endian (lengthSizeMinusOne = 3 in the avcC record).
 *
 * SPS (7) and PPS (8) are left in the frames (in-band parameter sets are
 * allowed and help a player that joins at any keyframe) and the newest of
 * each is kept for the avcC record (ISO/IEC 14496-15 §5.3.3.1).
 * STAP-B, MTAP and FU-B (interleaved mode) are refused: WebRTC never
 * negotiates packetization-mode 2.
 */
#include "depacketize.h"

#include <string.h>

#include "proto/codec_frame.h"
#include "weir/errors.h"

enum {
    NAL_IDR = 5,
    NAL_SPS = 7,
    NAL_PPS = 8,
    NAL_STAP_A = 24,
    NAL_FU_A = 28,
};

/* STAP-A: 16-bit size + NAL unit, repeated to the exact end of the payload. */
static bool stap_a_valid(const uint8_t *p, size_t len)
{
    size_t off = 1, count = 0;
    while (off < len) {
        if (len - off < 2)
            return false;
        size_t size = (size_t)p[off] << 8 | p[off + 1];
        if (size == 0 || len - off - 2 < size)
            return false;
        off += 2 + size;
        count++;
    }
    return count > 0;
}

int wrec_h264_packet(const uint8_t *p, size_t len, wrec_pkt_info *out)
{
    if (len < 1 || (p[0] & 0x80)) /* forbidden_zero_bit */
        return -WEIR_EINVAL;
    uint8_t type = p[0] & 0x1f;
    if (type == NAL_STAP_A) {
        if (!stap_a_valid(p, len))
            return -WEIR_EINVAL;
    } else if (type == NAL_FU_A) {
        /* FU indicator, FU header, at least one byte; S and E together is invalid (§5.8). */
        if (len < 3 || (p[1] & 0xc0) == 0xc0 || (p[1] & 0x1f) == 0)
            return -WEIR_EINVAL;
    } else if (type == 0 || type > 23) {
        return -WEIR_EINVAL;
    }
    weir_frame_info fi;
    if (weir_h264_frame_info(p, len, &fi) < 0)
        return -WEIR_EINVAL;
    *out = (wrec_pkt_info){.starts = fi.frame_start, .key = fi.is_keyframe};
    return 0;
}

static void build_avcc(wrec_h264_params *hp)
{
    uint8_t chroma = 1, depth_luma = 0, depth_chroma = 0;
    uint16_t w = 0, h = 0;
    if (wrec_h264_sps_parse(hp->sps, hp->sps_len, &w, &h, &chroma, &depth_luma, &depth_chroma) <
        0) {
        w = h = 0;
    }
    hp->width = w;
    hp->height = h;
    uint8_t *a = hp->avcc;
    size_t n = 0;
    a[n++] = 1;          /* configurationVersion */
    a[n++] = hp->sps[1]; /* AVCProfileIndication */
    a[n++] = hp->sps[2]; /* profile_compatibility */
    a[n++] = hp->sps[3]; /* AVCLevelIndication */
    a[n++] = 0xff;       /* reserved 6 bits, lengthSizeMinusOne = 3 */
    a[n++] = 0xe1;       /* reserved 3 bits, one SPS */
    a[n++] = (uint8_t)(hp->sps_len >> 8);
    a[n++] = (uint8_t)hp->sps_len;
    memcpy(a + n, hp->sps, hp->sps_len);
    n += hp->sps_len;
    a[n++] = 1; /* one PPS */
    a[n++] = (uint8_t)(hp->pps_len >> 8);
    a[n++] = (uint8_t)hp->pps_len;
    memcpy(a + n, hp->pps, hp->pps_len);
    n += hp->pps_len;
    uint8_t profile = hp->sps[1];
    if (profile == 100 || profile == 110 || profile == 122 || profile == 144) {
        /* ISO/IEC 14496-15 §5.3.3.1.2: the High profiles' extension. */
        a[n++] = (uint8_t)(0xfc | (chroma & 0x03));
        a[n++] = (uint8_t)(0xf8 | (depth_luma & 0x07));
        a[n++] = (uint8_t)(0xf8 | (depth_chroma & 0x07));
        a[n++] = 0; /* numOfSequenceParameterSetExt */
    }
    hp->avcc_len = n;
}

/* A whole NAL unit of the frame: keep parameter sets, note IDR slices. */
static void saw_nal(wrec_h264_builder *h, const uint8_t *nal, size_t len)
{
    uint8_t type = nal[0] & 0x1f;
    wrec_h264_params *hp = h->params;
    if (type == NAL_IDR) {
        h->idr = true;
    } else if ((type == NAL_SPS && len >= 4) || type == NAL_PPS) {
        if (len > WREC_H264_MAX_PARAM)
            return;
        uint8_t *dst = type == NAL_SPS ? hp->sps : hp->pps;
        size_t *dst_len = type == NAL_SPS ? &hp->sps_len : &hp->pps_len;
        memcpy(dst, nal, len);
        *dst_len = len;
        if (hp->sps_len >= 4 && hp->pps_len > 0)
            build_avcc(hp);
    }
}

static int append_nal(wrec_h264_builder *h, wrec_buf *b, const uint8_t *nal, size_t len)
{
    uint8_t prefix[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                         (uint8_t)len};
    int rc = wrec_buf_append(b, prefix, 4);
    if (rc == 0)
        rc = wrec_buf_append(b, nal, len);
    if (rc == 0)
        saw_nal(h, b->data + b->len - len, len);
    return rc;
}

void wrec_h264_begin(wrec_h264_builder *h, wrec_h264_params *params)
{
    *h = (wrec_h264_builder){.params = params};
}

static int add_fu_a(wrec_h264_builder *h, wrec_buf *b, const uint8_t *p, size_t len)
{
    bool start = p[1] & 0x80, end = p[1] & 0x40;
    int rc;
    if (start) {
        if (h->in_fu)
            return -WEIR_EINVAL; /* the previous fragmented NAL unit never ended */
        uint8_t header = (uint8_t)((p[0] & 0xe0) | (p[1] & 0x1f));
        uint8_t zero[4] = {0};
        h->fu_len_off = b->len;
        if ((rc = wrec_buf_append(b, zero, 4)) < 0 || (rc = wrec_buf_append(b, &header, 1)) < 0)
            return rc;
        h->in_fu = true;
    } else if (!h->in_fu) {
        return -WEIR_EINVAL; /* a middle or end fragment without its start */
    }
    if ((rc = wrec_buf_append(b, p + 2, len - 2)) < 0)
        return rc;
    if (end) {
        size_t nal_len = b->len - h->fu_len_off - 4;
        uint8_t *pre = b->data + h->fu_len_off;
        pre[0] = (uint8_t)(nal_len >> 24);
        pre[1] = (uint8_t)(nal_len >> 16);
        pre[2] = (uint8_t)(nal_len >> 8);
        pre[3] = (uint8_t)nal_len;
        h->in_fu = false;
        saw_nal(h, pre + 4, nal_len);
    }
    return 0;
}

int wrec_h264_add(wrec_h264_builder *h, wrec_buf *b, const uint8_t *p, size_t len)
{
    uint8_t type = p[0] & 0x1f;
    if (type == NAL_FU_A)
        return add_fu_a(h, b, p, len);
    if (h->in_fu)
        return -WEIR_EINVAL;
    if (type != NAL_STAP_A)
        return append_nal(h, b, p, len);
    for (size_t off = 1; off < len;) { /* sizes were checked at push */
        size_t size = (size_t)p[off] << 8 | p[off + 1];
        int rc = append_nal(h, b, p + off + 2, size);
        if (rc < 0)
            return rc;
        off += 2 + size;
    }
    return 0;
}

int wrec_h264_end(wrec_h264_builder *h, wrec_buf *b)
{
    (void)b;
    return h->in_fu ? -WEIR_EINVAL : 0;
}
