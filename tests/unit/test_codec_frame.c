#include <criterion/criterion.h>

#include "proto/codec_frame.h"
#include "weir/errors.h"

Test(codec_frame, h264_single_nal_units)
{
    weir_frame_info fi;
    const uint8_t idr[] = {0x65, 0x88, 0x84};   /* nal_ref_idc 3, type 5 */
    const uint8_t slice[] = {0x41, 0x9a, 0x00}; /* type 1 */
    cr_assert_eq(weir_h264_frame_info(idr, sizeof idr, &fi), 0);
    cr_assert(fi.is_keyframe && fi.frame_start);
    cr_assert_eq(weir_h264_frame_info(slice, sizeof slice, &fi), 0);
    cr_assert(!fi.is_keyframe && fi.frame_start);
    cr_assert_eq(weir_h264_frame_info(idr, 0, &fi), -WEIR_EINVAL);
}

Test(codec_frame, h264_stap_a_with_sps_is_a_keyframe)
{
    /* STAP-A: SPS (3 bytes) + PPS (2 bytes). */
    const uint8_t stap[] = {0x78, 0x00, 0x03, 0x67, 0x42, 0x00, 0x00, 0x02, 0x68, 0xce};
    weir_frame_info fi;
    cr_assert_eq(weir_h264_frame_info(stap, sizeof stap, &fi), 0);
    cr_assert(fi.is_keyframe && fi.frame_start);
    /* Only a PPS, and a size that runs past the end: not a keyframe, no overread. */
    const uint8_t pps_only[] = {0x78, 0x00, 0x02, 0x68, 0xce, 0x00, 0x09, 0x65};
    cr_assert_eq(weir_h264_frame_info(pps_only, sizeof pps_only, &fi), 0);
    cr_assert(!fi.is_keyframe);
}

Test(codec_frame, h264_fu_a_start_middle_end)
{
    weir_frame_info fi;
    const uint8_t start[] = {0x7c, 0x85, 0x00}; /* FU-A, S, type 5 */
    const uint8_t middle[] = {0x7c, 0x05, 0x00};
    const uint8_t inter_start[] = {0x5c, 0x81, 0x00}; /* S, type 1 */
    cr_assert_eq(weir_h264_frame_info(start, sizeof start, &fi), 0);
    cr_assert(fi.is_keyframe && fi.frame_start);
    cr_assert_eq(weir_h264_frame_info(middle, sizeof middle, &fi), 0);
    cr_assert(!fi.is_keyframe && !fi.frame_start);
    cr_assert_eq(weir_h264_frame_info(inter_start, sizeof inter_start, &fi), 0);
    cr_assert(!fi.is_keyframe && fi.frame_start);
    cr_assert_eq(weir_h264_frame_info(start, 1, &fi), -WEIR_EINVAL);
}

Test(codec_frame, vp9_descriptor)
{
    weir_frame_info fi;
    const uint8_t key[] = {0x88, 0x12, 0x00};          /* I, B; 7-bit PictureID */
    const uint8_t inter[] = {0xc8, 0x80, 0x12, 0x00};  /* I, P, B; 15-bit PictureID */
    const uint8_t key_s1[] = {0xa8, 0x12, 0x02, 0x00}; /* I, L, B; SID 1 */
    const uint8_t cont[] = {0x80, 0x12};               /* I, no B */
    cr_assert_eq(weir_vp9_frame_info(key, sizeof key, &fi), 0);
    cr_assert(fi.is_keyframe && fi.frame_start);
    cr_assert_eq(weir_vp9_frame_info(inter, sizeof inter, &fi), 0);
    cr_assert(!fi.is_keyframe && fi.frame_start);
    cr_assert_eq(weir_vp9_frame_info(key_s1, sizeof key_s1, &fi), 0);
    cr_assert(!fi.is_keyframe);
    cr_assert_eq(weir_vp9_frame_info(cont, sizeof cont, &fi), 0);
    cr_assert(!fi.frame_start);
    cr_assert_eq(weir_vp9_frame_info(key, 1, &fi), -WEIR_EINVAL);
}

Test(codec_frame, av1_aggregation_header)
{
    weir_frame_info fi;
    const uint8_t seq_start[] = {0x18, 0x00};    /* W=1, N */
    const uint8_t continuation[] = {0x90, 0x00}; /* Z */
    cr_assert_eq(weir_av1_frame_info(seq_start, sizeof seq_start, &fi), 0);
    cr_assert(fi.is_keyframe && fi.frame_start);
    cr_assert_eq(weir_av1_frame_info(continuation, sizeof continuation, &fi), 0);
    cr_assert(!fi.is_keyframe && !fi.frame_start);
    const uint8_t n_with_z[] = {0x98, 0x00}; /* Z and N: malformed, found by fuzz_codec_frame */
    cr_assert_eq(weir_av1_frame_info(n_with_z, sizeof n_with_z, &fi), 0);
    cr_assert(!fi.is_keyframe && !fi.frame_start);
    cr_assert_eq(weir_av1_frame_info(seq_start, 0, &fi), -WEIR_EINVAL);
}
