/**
 * The test pattern weir-client publishes and checks: every video frame
 * carries its frame number and its send time (wall clock, milliseconds,
 * modulo 2^32) as a grid of black and white blocks that survive VP8
 * quantization at every simulcast resolution, plus a moving box so that
 * consecutive frames really differ.
 *
 * Layout (I420, luma only; chroma is flat grey):
 *   rows 0 .. WC_PATTERN_ROWS*b: WC_PATTERN_COLS x WC_PATTERN_ROWS blocks of
 *   b x b pixels (b = width / WC_PATTERN_COLS, smaller if the picture is too
 *   flat), one bit each, row-major, most significant bit first:
 *     8 bits sync (0xA5), 32 bits frame number, 32 bits send_ms, 8 bits
 *     CRC-8 (polynomial 0x07) over the 9 bytes before it;
 *   below: a field of noise cells (new every frame, so that frames cost
 *   what a camera's do; mean luma about 96) with a white b x b box moving
 *   4 px per frame, or, on a "flash" frame, flat white.
 *
 * Pure: no I/O, no clock.
 */
#ifndef WC_PATTERN_H
#define WC_PATTERN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WC_PATTERN_COLS 16
#define WC_PATTERN_ROWS 5
#define WC_PATTERN_BITS (WC_PATTERN_COLS * WC_PATTERN_ROWS)
#define WC_PATTERN_SYNC 0xA5
/* Smallest picture the pattern fits in (4-pixel blocks). */
#define WC_PATTERN_MIN_WIDTH (4 * WC_PATTERN_COLS)
#define WC_PATTERN_MIN_HEIGHT (4 * (WC_PATTERN_ROWS + 1))

typedef struct wc_pattern_info {
    uint32_t frame_number;
    uint32_t send_ms; /* wall-clock milliseconds modulo 2^32 */
} wc_pattern_info;

/** One I420 picture as planes and strides (borrowed). */
typedef struct wc_i420 {
    uint8_t *y, *u, *v;
    int y_stride, u_stride, v_stride;
    int width, height;
} wc_i420;

/** Block side in pixels for a picture of this size (0 when it is too small). */
int wc_pattern_block_size(int width, int height);

/**
 * Paints the whole picture (every pixel of the three planes) with info.
 * Returns 0, or -WEIR_EINVAL when the picture is smaller than
 * WC_PATTERN_MIN_WIDTH x WC_PATTERN_MIN_HEIGHT (nothing written).
 */
int wc_pattern_draw(const wc_i420 *pic, const wc_pattern_info *info);
/**
 * The same, and with flash the field below the code is flat white (luma
 * 235, no box) instead of noise: an A/V sync mark (sync_marks.h). The code
 * rows are painted as always, so the frame still reads back.
 */
int wc_pattern_draw_flash(const wc_i420 *pic, const wc_pattern_info *info, bool flash);

/**
 * Reads the bits back from a (decoded) luma plane: the mean of the inner
 * half of each block against mid-grey. Returns 0 and fills *out, or
 * -WEIR_EINVAL when the picture is too small, the sync byte is wrong or the
 * CRC does not match (*out unchanged): a "content error".
 */
int wc_pattern_read(const uint8_t *y, int y_stride, int width, int height, wc_pattern_info *out);
/**
 * Whether a (decoded) luma plane is a flash: the mean luma of the field
 * below the code (its first quarter block row left out, where VP8 smears
 * the code's edge) is above the midpoint between the noise (about 96) and
 * white. False for a picture too small for the pattern.
 */
bool wc_pattern_is_flash(const uint8_t *y, int y_stride, int width, int height);

#endif
