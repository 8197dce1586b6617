/*
 * Frame number and send time painted as big luma blocks. Blocks are sized
 * from the width so that the quarter-resolution simulcast layer (160x90 for
 * a 640x360 source) still has 10-pixel blocks: VP8 quantization smears edges
 * by a few pixels at most, so sampling the inner half of a block between
 * black (16) and white (235) stays far from the 128 threshold.
 */
#include "pattern.h"

#include <string.h>

#include "weir/errors.h"

#define LUMA_BLACK 16
#define LUMA_WHITE 235
#define LUMA_FIELD 96
#define CHROMA_GREY 128
#define BOX_STEP_PX 4

int wc_pattern_block_size(int width, int height)
{
    int b = width / WC_PATTERN_COLS;
    /* Keep at least one block row of moving field below the code. */
    int max_b = height / (WC_PATTERN_ROWS + 1);
    if (b > max_b)
        b = max_b;
    return b >= 4 ? b : 0;
}

static uint8_t crc8(const uint8_t *p, size_t n)
{
    uint8_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (uint8_t)((crc & 0x80) ? (crc << 1) ^ 0x07 : crc << 1);
    }
    return crc;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The 10 bytes (80 bits) the grid carries. */
static void encode_bytes(const wc_pattern_info *info, uint8_t out[WC_PATTERN_BITS / 8])
{
    out[0] = WC_PATTERN_SYNC;
    put_be32(out + 1, info->frame_number);
    put_be32(out + 5, info->send_ms);
    out[9] = crc8(out, 9);
}

static void draw_field(const wc_i420 *pic, int b, int top, uint32_t frame_number);

static void fill_rect(uint8_t *plane, int stride, int x, int y, int w, int h, uint8_t value)
{
    for (int r = y; r < y + h; r++)
        memset(plane + (size_t)r * (size_t)stride + x, value, (size_t)w);
}

int wc_pattern_draw(const wc_i420 *pic, const wc_pattern_info *info)
{
    return wc_pattern_draw_flash(pic, info, false);
}

int wc_pattern_draw_flash(const wc_i420 *pic, const wc_pattern_info *info, bool flash)
{
    int b = wc_pattern_block_size(pic->width, pic->height);
    if (b == 0 || pic->width < WC_PATTERN_MIN_WIDTH || pic->height < WC_PATTERN_MIN_HEIGHT)
        return -WEIR_EINVAL;
    int w = pic->width, h = pic->height;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    fill_rect(pic->u, pic->u_stride, 0, 0, cw, ch, CHROMA_GREY);
    fill_rect(pic->v, pic->v_stride, 0, 0, cw, ch, CHROMA_GREY);

    int code_h = WC_PATTERN_ROWS * b;
    fill_rect(pic->y, pic->y_stride, 0, 0, w, code_h, LUMA_BLACK);
    uint8_t bytes[WC_PATTERN_BITS / 8];
    encode_bytes(info, bytes);
    for (int bit = 0; bit < WC_PATTERN_BITS; bit++) {
        if (!(bytes[bit / 8] & (0x80 >> (bit % 8))))
            continue;
        int col = bit % WC_PATTERN_COLS, row = bit / WC_PATTERN_COLS;
        fill_rect(pic->y, pic->y_stride, col * b, row * b, b, b, LUMA_WHITE);
    }

    if (flash) {
        /* The sync mark: one flat white field, no box (sync_marks.h). */
        fill_rect(pic->y, pic->y_stride, 0, code_h, w, h - code_h, LUMA_WHITE);
        return 0;
    }
    draw_field(pic, b, code_h, info->frame_number);
    int span = w - b;
    int x = (int)((info->frame_number * (uint32_t)BOX_STEP_PX) % (uint32_t)span);
    int y = code_h + (h - code_h - b) / 2;
    fill_rect(pic->y, pic->y_stride, x, y, b, b, LUMA_WHITE);
    return 0;
}

static uint32_t hash3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t h = a * 0x9e3779b1u ^ b * 0x85ebca77u ^ c * 0xc2b2ae3du;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    h ^= h >> 12;
    return h;
}

/*
 * Below the code: cells of noise that change every frame. Flat blocks alone
 * compress to a few hundred bytes; the noise makes the encoder spend its
 * target bitrate, so frames span several packets as a camera's do and the
 * packetizer, NACK and RTX paths really get exercised.
 */
static void draw_field(const wc_i420 *pic, int b, int top, uint32_t frame_number)
{
    int cell = b / 4 > 2 ? b / 4 : 2;
    for (int r = top; r < pic->height; r++) {
        uint8_t *row = pic->y + (size_t)r * (size_t)pic->y_stride;
        for (int c = 0; c < pic->width; c++) {
            uint32_t n = hash3((uint32_t)(c / cell), (uint32_t)((r - top) / cell), frame_number);
            row[c] = (uint8_t)(LUMA_FIELD - 32 + (n & 63));
        }
    }
}

static bool read_bit(const uint8_t *y, int stride, int b, int col, int row)
{
    /* The inner half of the block: its edges are where quantization rings. */
    int x0 = col * b + b / 4, y0 = row * b + b / 4;
    int n = b / 2 > 0 ? b / 2 : 1;
    uint32_t sum = 0;
    for (int r = y0; r < y0 + n; r++)
        for (int c = x0; c < x0 + n; c++)
            sum += y[(size_t)r * (size_t)stride + (size_t)c];
    return sum / (uint32_t)(n * n) >= (LUMA_BLACK + LUMA_WHITE) / 2;
}

/*
 * Mean luma of the field below the code, leaving out its top quarter block
 * (VP8 smears the code's edge into it) and sampling every other pixel.
 */
static uint32_t field_mean(const uint8_t *y, int stride, int width, int height, int b)
{
    int top = WC_PATTERN_ROWS * b + b / 4;
    uint64_t sum = 0, n = 0;
    for (int r = top; r < height; r += 2)
        for (int c = 0; c < width; c += 2, n++)
            sum += y[(size_t)r * (size_t)stride + (size_t)c];
    return n ? (uint32_t)(sum / n) : 0;
}

int wc_pattern_read(const uint8_t *y, int y_stride, int width, int height, wc_pattern_info *out)
{
    int b = wc_pattern_block_size(width, height);
    if (b == 0)
        return -WEIR_EINVAL;
    uint8_t bytes[WC_PATTERN_BITS / 8] = {0};
    for (int bit = 0; bit < WC_PATTERN_BITS; bit++)
        if (read_bit(y, y_stride, b, bit % WC_PATTERN_COLS, bit / WC_PATTERN_COLS))
            bytes[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
    if (bytes[0] != WC_PATTERN_SYNC || crc8(bytes, 9) != bytes[9])
        return -WEIR_EINVAL;
    out->frame_number = get_be32(bytes + 1);
    out->send_ms = get_be32(bytes + 5);
    return 0;
}

bool wc_pattern_is_flash(const uint8_t *y, int y_stride, int width, int height)
{
    int b = wc_pattern_block_size(width, height);
    return b > 0 && field_mean(y, y_stride, width, height, b) > (LUMA_FIELD + LUMA_WHITE) / 2;
}
