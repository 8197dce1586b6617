/*
 * libFuzzer target for proto/vp8.c. Each input is an RTP payload:
 *   1. parse it (libFuzzer's buffer is exactly `size` bytes, so ASan sees
 *      any read past len) and check the descriptor's invariants;
 *   2. when it parses, rewrite PictureID / TL0PICIDX / KEYIDX with values
 *      derived from the input: the result must parse to the same shape with
 *      the new values, with no byte outside those fields changed;
 *   3. write the original values back: the bytes must be the input again.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/vp8.h"

#define MAX_FUZZ_INPUT 4096

static void check_invariants(const weir_vp8_desc *d, size_t size)
{
    if (d->header_len < 1 || d->header_len > WEIR_VP8_DESC_MAX_LEN || d->header_len >= size)
        abort();
    if (d->tid > 3 || d->keyidx > WEIR_VP8_KEYIDX_MASK || d->partition_id > 7)
        abort();
    if (d->picture_id > (d->picture_id_15 ? 0x7fff : 0x7f))
        abort();
    if (d->is_keyframe && (!d->is_frame_start || size - d->header_len < 10))
        abort();
    if (d->is_frame_start != (d->start_of_partition && d->partition_id == 0))
        abort();
    if (!d->is_keyframe && (d->width || d->height || d->horizontal_scale || d->vertical_scale))
        abort();
}

static bool same_shape(const weir_vp8_desc *a, const weir_vp8_desc *b)
{
    return a->header_len == b->header_len && a->has_picture_id == b->has_picture_id &&
           a->picture_id_15 == b->picture_id_15 && a->has_tl0picidx == b->has_tl0picidx &&
           a->has_tid == b->has_tid && a->has_keyidx == b->has_keyidx && a->tid == b->tid &&
           a->layer_sync == b->layer_sync && a->non_reference == b->non_reference &&
           a->is_frame_start == b->is_frame_start && a->is_keyframe == b->is_keyframe &&
           a->width == b->width && a->height == b->height;
}

/* Bytes of the descriptor that a rewrite may touch. */
static bool rewritable(const weir_vp8_desc *d, size_t i)
{
    if (d->has_picture_id && i >= d->picture_id_off &&
        i < (size_t)d->picture_id_off + (d->picture_id_15 ? 2 : 1))
        return true;
    if (d->has_tl0picidx && i == d->tl0picidx_off)
        return true;
    return d->has_keyidx && i == d->tk_off;
}

static void round_trip(const weir_vp8_desc *d, const uint8_t *data, size_t size)
{
    uint8_t *buf = malloc(size);
    memcpy(buf, data, size);
    weir_vp8_ids ids = {
        .picture_id = (uint16_t)(d->picture_id ^ (data[size - 1] | data[0] << 8) ^ 0x5555),
        .tl0picidx = (uint8_t)(d->tl0picidx + 1 + data[size - 1]),
        .keyidx = (uint8_t)(d->keyidx ^ 0x15),
    };
    if (weir_vp8_write_ids(buf, size, d, &ids) != 0)
        abort();
    weir_vp8_desc again;
    if (weir_vp8_parse(&again, buf, size) != 0 || !same_shape(d, &again))
        abort();
    if (d->has_picture_id &&
        again.picture_id != (ids.picture_id & (d->picture_id_15 ? 0x7fff : 0x7f)))
        abort();
    if (d->has_tl0picidx && again.tl0picidx != ids.tl0picidx)
        abort();
    if (d->has_keyidx && again.keyidx != (ids.keyidx & WEIR_VP8_KEYIDX_MASK))
        abort();
    for (size_t i = 0; i < size; i++) {
        if (buf[i] != data[i] && (i >= d->header_len || !rewritable(d, i)))
            abort();
    }
    weir_vp8_ids orig = {
        .picture_id = d->picture_id, .tl0picidx = d->tl0picidx, .keyidx = d->keyidx};
    if (weir_vp8_write_ids(buf, size, &again, &orig) != 0 || memcmp(buf, data, size) != 0)
        abort();
    /* A buffer shorter than the descriptor is refused and left alone. */
    if (weir_vp8_write_ids(buf, d->header_len - 1, d, &ids) == 0 || memcmp(buf, data, size) != 0)
        abort();
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_FUZZ_INPUT)
        return 0;
    weir_vp8_desc d;
    memset(&d, 0x5a, sizeof d);
    weir_vp8_desc before = d;
    if (weir_vp8_parse(&d, data, size) != 0) {
        if (memcmp(&d, &before, sizeof d) != 0)
            abort(); /* a failed parse leaves its output untouched */
        return 0;
    }
    check_invariants(&d, size);
    round_trip(&d, data, size);
    return 0;
}
