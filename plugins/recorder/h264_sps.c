/*
 * The picture size in an H.264 sequence parameter set (ITU-T H.264
 * §7.3.2.1.1): a bit reader over the RBSP (emulation prevention bytes
 * 00 00 03 removed, §7.4.1) and exp-Golomb codes (§9.1), reading just far
 * enough to reach the frame cropping window. Every read is bounds-checked:
 * a truncated or hostile SPS gives -WEIR_EINVAL, never a read past the end.
 */
#include "depacketize.h"

#include "weir/errors.h"

typedef struct bits {
    const uint8_t *p;
    size_t len;
    size_t byte; /* next byte of p to read */
    uint8_t cur;
    int left;  /* bits left in cur */
    int zeros; /* consecutive zero bytes read, for emulation prevention */
    bool err;
} bits;

static int next_byte(bits *b)
{
    for (;;) {
        if (b->byte >= b->len)
            return -1;
        uint8_t v = b->p[b->byte++];
        if (b->zeros >= 2 && v == 0x03) {
            b->zeros = 0;
            continue;
        }
        b->zeros = v == 0 ? b->zeros + 1 : 0;
        return v;
    }
}

static uint32_t bit(bits *b)
{
    if (b->left == 0) {
        int v = next_byte(b);
        if (v < 0) {
            b->err = true;
            return 0;
        }
        b->cur = (uint8_t)v;
        b->left = 8;
    }
    b->left--;
    return (b->cur >> b->left) & 1;
}

static uint32_t u(bits *b, int n)
{
    uint32_t v = 0;
    while (n-- > 0)
        v = v << 1 | bit(b);
    return v;
}

/* ue(v): leading zeros, a 1, then as many bits; values past 2^31 are refused. */
static uint32_t ue(bits *b)
{
    int zeros = 0;
    while (!b->err && bit(b) == 0) {
        if (++zeros > 31) {
            b->err = true;
            return 0;
        }
    }
    if (b->err)
        return 0;
    return (uint32_t)((1ull << zeros) - 1 + u(b, zeros));
}

static int32_t se(bits *b)
{
    uint32_t k = ue(b);
    return (k & 1) ? (int32_t)((k + 1) / 2) : -(int32_t)(k / 2);
}

static void skip_scaling_list(bits *b, int size)
{
    int last = 8, next = 8;
    for (int j = 0; j < size && !b->err; j++) {
        if (next != 0) {
            int32_t delta = se(b); /* delta_scale: -128..127 (§7.4.2.1.1.1) */
            if (delta < -128 || delta > 127) {
                b->err = true;
                return;
            }
            next = (int)((last + delta + 256) % 256);
        }
        last = next == 0 ? last : next;
    }
}

static bool high_profile(uint32_t profile)
{
    switch (profile) {
    case 100:
    case 110:
    case 122:
    case 244:
    case 44:
    case 83:
    case 86:
    case 118:
    case 128:
    case 138:
    case 139:
    case 134:
    case 135:
        return true;
    default:
        return false;
    }
}

int wrec_h264_sps_parse(const uint8_t *nal, size_t len, uint16_t *width, uint16_t *height,
                        uint8_t *chroma_format_idc, uint8_t *bit_depth_luma_minus8,
                        uint8_t *bit_depth_chroma_minus8)
{
    if (len < 4 || (nal[0] & 0x1f) != 7)
        return -WEIR_EINVAL;
    bits b = {.p = nal, .len = len, .byte = 1};
    uint32_t profile = u(&b, 8);
    u(&b, 16); /* constraint flags, level_idc */
    ue(&b);    /* seq_parameter_set_id */
    uint32_t chroma = 1, depth_luma = 0, depth_chroma = 0, separate_planes = 0;
    if (high_profile(profile)) {
        chroma = ue(&b);
        if (chroma > 3)
            return -WEIR_EINVAL;
        if (chroma == 3)
            separate_planes = u(&b, 1);
        depth_luma = ue(&b);
        depth_chroma = ue(&b);
        if (depth_luma > 6 || depth_chroma > 6)
            return -WEIR_EINVAL;
        u(&b, 1);       /* qpprime_y_zero_transform_bypass_flag */
        if (u(&b, 1)) { /* seq_scaling_matrix_present_flag */
            for (int i = 0; i < (chroma != 3 ? 8 : 12) && !b.err; i++)
                if (u(&b, 1))
                    skip_scaling_list(&b, i < 6 ? 16 : 64);
        }
    }
    ue(&b); /* log2_max_frame_num_minus4 */
    uint32_t poc_type = ue(&b);
    if (poc_type == 0) {
        ue(&b);
    } else if (poc_type == 1) {
        u(&b, 1);
        se(&b);
        se(&b);
        uint32_t cycle = ue(&b);
        if (cycle > 255)
            return -WEIR_EINVAL;
        for (uint32_t i = 0; i < cycle && !b.err; i++)
            se(&b);
    } else if (poc_type != 2) {
        return -WEIR_EINVAL;
    }
    ue(&b);   /* max_num_ref_frames */
    u(&b, 1); /* gaps_in_frame_num_value_allowed_flag */
    uint32_t mbs_w = ue(&b) + 1, map_units_h = ue(&b) + 1;
    uint32_t frame_mbs_only = u(&b, 1);
    if (!frame_mbs_only)
        u(&b, 1); /* mb_adaptive_frame_field_flag */
    u(&b, 1);     /* direct_8x8_inference_flag */
    uint32_t crop_l = 0, crop_r = 0, crop_t = 0, crop_b = 0;
    if (u(&b, 1)) {
        crop_l = ue(&b);
        crop_r = ue(&b);
        crop_t = ue(&b);
        crop_b = ue(&b);
    }
    if (b.err || mbs_w > 1024 || map_units_h > 1024)
        return -WEIR_EINVAL;
    /* §7.4.2.1.1: crop units depend on the chroma subsampling (ChromaArrayType). */
    uint32_t array_type = separate_planes ? 0 : chroma;
    uint32_t sub_w = (array_type == 1 || array_type == 2) ? 2 : 1;
    uint32_t sub_h = array_type == 1 ? 2 : 1;
    uint32_t unit_x = array_type == 0 ? 1 : sub_w;
    uint32_t unit_y = (2 - frame_mbs_only) * (array_type == 0 ? 1 : sub_h);
    uint64_t w = (uint64_t)mbs_w * 16, h = (uint64_t)(2 - frame_mbs_only) * map_units_h * 16;
    uint64_t cw = ((uint64_t)crop_l + crop_r) * unit_x, ch = ((uint64_t)crop_t + crop_b) * unit_y;
    if (cw >= w || ch >= h)
        return -WEIR_EINVAL;
    *width = (uint16_t)(w - cw);
    *height = (uint16_t)(h - ch);
    *chroma_format_idc = (uint8_t)chroma;
    *bit_depth_luma_minus8 = (uint8_t)depth_luma;
    *bit_depth_chroma_minus8 = (uint8_t)depth_chroma;
    return 0;
}
