#include "proto/codec_frame.h"

#include "weir/errors.h"

enum {
    H264_IDR = 5,
    H264_SPS = 7,
    H264_STAP_A = 24,
    H264_FU_A = 28,
};

static bool h264_key_nal(uint8_t type)
{
    return type == H264_IDR || type == H264_SPS;
}

int weir_h264_frame_info(const uint8_t *p, size_t len, weir_frame_info *out)
{
    if (len < 1)
        return -WEIR_EINVAL;
    uint8_t type = p[0] & 0x1f;
    weir_frame_info fi = {0};
    if (type >= 1 && type <= 23) {
        fi.frame_start = true;
        fi.is_keyframe = h264_key_nal(type);
    } else if (type == H264_STAP_A) {
        fi.frame_start = true;
        /* RFC 6184 §5.7.1: 16-bit size, then the NAL unit, repeated. */
        for (size_t off = 1; off + 2 < len;) {
            size_t size = (size_t)p[off] << 8 | p[off + 1];
            if (size == 0 || off + 2 + size > len)
                break;
            fi.is_keyframe |= h264_key_nal(p[off + 2] & 0x1f);
            off += 2 + size;
        }
    } else if (type == H264_FU_A) {
        if (len < 2)
            return -WEIR_EINVAL;
        bool start = (p[1] & 0x80) != 0;
        fi.frame_start = start;
        fi.is_keyframe = start && h264_key_nal(p[1] & 0x1f);
    }
    *out = fi;
    return 0;
}

int weir_vp9_frame_info(const uint8_t *p, size_t len, weir_frame_info *out)
{
    if (len < 1)
        return -WEIR_EINVAL;
    bool has_picture_id = p[0] & 0x80, inter = p[0] & 0x40, has_layers = p[0] & 0x20;
    bool begins = p[0] & 0x08;
    size_t off = 1;
    if (has_picture_id) {
        if (off >= len)
            return -WEIR_EINVAL;
        off += (p[off] & 0x80) ? 2 : 1; /* M: 15-bit PictureID */
    }
    int spatial = 0;
    if (has_layers) {
        if (off >= len)
            return -WEIR_EINVAL;
        spatial = (p[off] >> 1) & 0x07; /* TID(3) U(1) SID(3) D(1) */
    }
    out->frame_start = begins;
    out->is_keyframe = begins && !inter && spatial == 0;
    return 0;
}

int weir_av1_frame_info(const uint8_t *p, size_t len, weir_frame_info *out)
{
    if (len < 1)
        return -WEIR_EINVAL;
    out->frame_start = (p[0] & 0x80) == 0; /* Z clear */
    /* N marks the first packet of a coded video sequence, which cannot continue
     * an earlier OBU (Z): N with Z is malformed and not taken as a keyframe. */
    out->is_keyframe = out->frame_start && (p[0] & 0x08) != 0;
    return 0;
}
