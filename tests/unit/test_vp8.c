/*
 * VP8 payload descriptor (RFC 7741 §4.2) and payload header (§4.3): every
 * descriptor shape built by hand from the RFC figure, every truncation of
 * each, and the in-place rewrite of PictureID / TL0PICIDX / KEYIDX.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "proto/vp8.h"
#include "weir/errors.h"

/* A keyframe payload header: P = 0, H = 1, start code, 640x480 (RFC 6386 §9.1). */
#define KEY_640x480 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01

typedef struct vp8_case {
    const char *name;
    uint8_t bytes[24];
    size_t len;
    weir_vp8_desc want;
} vp8_case;

static const vp8_case CASES[] = {
    {"minimal, middle of a frame", {0x00, 0xaa}, 2, {.header_len = 1}},
    {"reserved bits are ignored", {0x48, 0xaa}, 2, {.header_len = 1}},
    {"middle packet whose first byte has P = 0 is no keyframe", {0x00, 0x00}, 2, {.header_len = 1}},
    {"non-reference, partition 3 start is no frame start",
     {0x33, 0x00},
     2,
     {.non_reference = true, .start_of_partition = true, .partition_id = 3, .header_len = 1}},
    {"frame start, delta frame, shown",
     {0x10, 0x11, 0x00, 0x00},
     4,
     {.start_of_partition = true, .header_len = 1, .is_frame_start = true, .show_frame = true}},
    {"frame start, keyframe 640x480",
     {0x10, KEY_640x480},
     11,
     {.start_of_partition = true,
      .header_len = 1,
      .is_frame_start = true,
      .is_keyframe = true,
      .show_frame = true,
      .width = 640,
      .height = 480}},
    {"keyframe with scaling bits",
     {0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x00, 0x45, 0xd0, 0xc2},
     11,
     {.start_of_partition = true,
      .header_len = 1,
      .is_frame_start = true,
      .is_keyframe = true,
      .show_frame = true,
      .width = 1280,
      .horizontal_scale = 1,
      .height = 720,
      .vertical_scale = 3}},
    {"X with no extension bits", {0x80, 0x00, 0xaa}, 3, {.header_len = 2}},
    {"7-bit PictureID",
     {0x80, 0x80, 0x12, 0xaa},
     4,
     {.has_picture_id = true, .picture_id = 0x12, .picture_id_off = 2, .header_len = 3}},
    {"15-bit PictureID",
     {0x80, 0x80, 0x92, 0x34, 0xaa},
     5,
     {.has_picture_id = true,
      .picture_id_15 = true,
      .picture_id = 0x1234,
      .picture_id_off = 2,
      .header_len = 4}},
    {"TL0PICIDX only",
     {0x80, 0x40, 0x55, 0xaa},
     4,
     {.has_tl0picidx = true, .tl0picidx = 0x55, .tl0picidx_off = 2, .header_len = 3}},
    {"TID 2 with Y, KEYIDX bits ignored without K",
     {0x80, 0x20, 0xbf, 0xaa},
     4,
     {.has_tid = true, .tid = 2, .layer_sync = true, .tk_off = 2, .header_len = 3}},
    {"KEYIDX only, TID and Y ignored without T",
     {0x80, 0x10, 0xe5, 0xaa},
     4,
     {.has_keyidx = true, .keyidx = 5, .tk_off = 2, .header_len = 3}},
    {"7-bit PictureID, TL0PICIDX, TID 1 (libwebrtc's shape)",
     {0x90, 0xe0, 0x7f, 0x03, 0x40, 0x11, 0x00, 0x00},
     8,
     {.start_of_partition = true,
      .has_picture_id = true,
      .picture_id = 0x7f,
      .picture_id_off = 2,
      .has_tl0picidx = true,
      .tl0picidx = 3,
      .tl0picidx_off = 3,
      .has_tid = true,
      .tid = 1,
      .tk_off = 4,
      .header_len = 5,
      .is_frame_start = true,
      .show_frame = true}},
    {"everything: N, 15-bit PictureID, TL0PICIDX, TID, Y, KEYIDX, keyframe",
     {0xb0, 0xf0, 0xff, 0xff, 0x07, 0x7f, KEY_640x480},
     16,
     {.non_reference = true,
      .start_of_partition = true,
      .has_picture_id = true,
      .picture_id_15 = true,
      .picture_id = 0x7fff,
      .picture_id_off = 2,
      .has_tl0picidx = true,
      .tl0picidx = 7,
      .tl0picidx_off = 4,
      .has_tid = true,
      .tid = 1,
      .layer_sync = true,
      .has_keyidx = true,
      .keyidx = 0x1f,
      .tk_off = 5,
      .header_len = 6,
      .is_frame_start = true,
      .is_keyframe = true,
      .show_frame = true,
      .width = 640,
      .height = 480}},
};

static void assert_desc_eq(const weir_vp8_desc *got, const weir_vp8_desc *want, const char *name)
{
    cr_assert_eq(got->non_reference, want->non_reference, "%s: N", name);
    cr_assert_eq(got->start_of_partition, want->start_of_partition, "%s: S", name);
    cr_assert_eq(got->partition_id, want->partition_id, "%s: PID", name);
    cr_assert_eq(got->has_picture_id, want->has_picture_id, "%s: I", name);
    cr_assert_eq(got->picture_id_15, want->picture_id_15, "%s: M", name);
    cr_assert_eq(got->picture_id, want->picture_id, "%s: PictureID", name);
    cr_assert_eq(got->picture_id_off, want->picture_id_off, "%s: PictureID offset", name);
    cr_assert_eq(got->has_tl0picidx, want->has_tl0picidx, "%s: L", name);
    cr_assert_eq(got->tl0picidx, want->tl0picidx, "%s: TL0PICIDX", name);
    cr_assert_eq(got->tl0picidx_off, want->tl0picidx_off, "%s: TL0PICIDX offset", name);
    cr_assert_eq(got->has_tid, want->has_tid, "%s: T", name);
    cr_assert_eq(got->tid, want->tid, "%s: TID", name);
    cr_assert_eq(got->layer_sync, want->layer_sync, "%s: Y", name);
    cr_assert_eq(got->has_keyidx, want->has_keyidx, "%s: K", name);
    cr_assert_eq(got->keyidx, want->keyidx, "%s: KEYIDX", name);
    cr_assert_eq(got->tk_off, want->tk_off, "%s: T/K offset", name);
    cr_assert_eq(got->header_len, want->header_len, "%s: header_len", name);
    cr_assert_eq(got->is_frame_start, want->is_frame_start, "%s: frame start", name);
    cr_assert_eq(got->is_keyframe, want->is_keyframe, "%s: keyframe", name);
    cr_assert_eq(got->show_frame, want->show_frame, "%s: show_frame", name);
    cr_assert_eq(got->width, want->width, "%s: width", name);
    cr_assert_eq(got->height, want->height, "%s: height", name);
    cr_assert_eq(got->horizontal_scale, want->horizontal_scale, "%s: hscale", name);
    cr_assert_eq(got->vertical_scale, want->vertical_scale, "%s: vscale", name);
}

/* Exactly len bytes on the heap, so ASan reports any read past len. */
static int parse_exact(weir_vp8_desc *d, const uint8_t *bytes, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, bytes, len);
    int rc = weir_vp8_parse(d, copy, len);
    free(copy);
    return rc;
}

Test(vp8, parses_every_descriptor_shape)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        weir_vp8_desc d;
        cr_assert_eq(parse_exact(&d, CASES[i].bytes, CASES[i].len), 0, "%s", CASES[i].name);
        assert_desc_eq(&d, &CASES[i].want, CASES[i].name);
    }
}

/*
 * The shortest valid length is the descriptor plus one payload byte, or plus
 * the whole 10-byte keyframe header for a keyframe start. Every shorter
 * length is rejected with *out untouched; every longer one parses the same.
 */
Test(vp8, rejects_every_truncation_and_accepts_every_extension)
{
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const vp8_case *c = &CASES[i];
        size_t min = c->want.header_len + (c->want.is_keyframe ? WEIR_VP8_KEYFRAME_HEADER_LEN : 1);
        for (size_t len = 0; len < c->len; len++) {
            weir_vp8_desc d, sentinel;
            memset(&d, 0xa5, sizeof d);
            memcpy(&sentinel, &d, sizeof d);
            int rc = parse_exact(&d, c->bytes, len);
            if (len < min) {
                cr_assert_eq(rc, -WEIR_EINVAL, "%s: len %zu accepted", c->name, len);
                cr_assert_eq(memcmp(&d, &sentinel, sizeof d), 0, "%s: out touched", c->name);
            } else {
                cr_assert_eq(rc, 0, "%s: len %zu rejected", c->name, len);
                assert_desc_eq(&d, &c->want, c->name);
            }
        }
    }
}

Test(vp8, rejects_bad_keyframe_start_code_and_null)
{
    static const uint8_t bad[] = {0x10, 0x10, 0x02, 0x00, 0x9d, 0x01, 0x2b, 0x80, 0x02, 0xe0, 0x01};
    weir_vp8_desc d;
    cr_assert_eq(parse_exact(&d, bad, sizeof bad), -WEIR_EINVAL);
    cr_assert_eq(weir_vp8_parse(&d, NULL, 4), -WEIR_EINVAL);
    /* The same bytes as a delta frame (P = 1) need no start code. */
    uint8_t delta[sizeof bad];
    memcpy(delta, bad, sizeof bad);
    delta[1] |= 0x01;
    cr_assert_eq(parse_exact(&d, delta, sizeof delta), 0);
    cr_assert_not(d.is_keyframe);
}

typedef struct rewrite_case {
    const char *name;
    uint8_t in[16];
    size_t len;
    weir_vp8_ids ids;
    uint8_t want[16];
} rewrite_case;

static const rewrite_case REWRITES[] = {
    {"7-bit PictureID keeps 7 bits",
     {0x80, 0x80, 0x12, 0xaa},
     4,
     {.picture_id = 0x1234, .tl0picidx = 9, .keyidx = 3},
     {0x80, 0x80, 0x34, 0xaa}},
    {"15-bit PictureID keeps M",
     {0x80, 0x80, 0x92, 0x34, 0xaa},
     5,
     {.picture_id = 0x0102},
     {0x80, 0x80, 0x81, 0x02, 0xaa}},
    {"15-bit PictureID wraps into 15 bits",
     {0x80, 0x80, 0x80, 0x00, 0xaa},
     5,
     {.picture_id = 0xffff},
     {0x80, 0x80, 0xff, 0xff, 0xaa}},
    {"TL0PICIDX, TID/Y kept, KEYIDX replaced",
     {0x80, 0x70, 0x10, 0xbf, 0xaa},
     5,
     {.tl0picidx = 0xfe, .keyidx = 0x22},
     {0x80, 0x70, 0xfe, 0xa2, 0xaa}},
    {"TID without K: the KEYIDX bits are not touched",
     {0x80, 0x20, 0x5f, 0xaa},
     4,
     {.keyidx = 0},
     {0x80, 0x20, 0x5f, 0xaa}},
    {"no extensions: nothing to write",
     {0x10, 0x11, 0x00},
     3,
     {.picture_id = 7, .tl0picidx = 7, .keyidx = 7},
     {0x10, 0x11, 0x00}},
    {"everything, keyframe payload untouched",
     {0xb0, 0xf0, 0xff, 0xff, 0x07, 0x7f, KEY_640x480},
     16,
     {.picture_id = 0x0005, .tl0picidx = 0x80, .keyidx = 0},
     {0xb0, 0xf0, 0x80, 0x05, 0x80, 0x60, KEY_640x480}},
};

Test(vp8, rewrites_ids_in_place_and_round_trips)
{
    for (size_t i = 0; i < sizeof REWRITES / sizeof REWRITES[0]; i++) {
        const rewrite_case *c = &REWRITES[i];
        uint8_t buf[16];
        memcpy(buf, c->in, c->len);
        weir_vp8_desc d, again;
        cr_assert_eq(weir_vp8_parse(&d, buf, c->len), 0, "%s", c->name);
        cr_assert_eq(weir_vp8_write_ids(buf, c->len, &d, &c->ids), 0, "%s", c->name);
        cr_assert_eq(memcmp(buf, c->want, c->len), 0, "%s: bytes", c->name);
        cr_assert_eq(weir_vp8_parse(&again, buf, c->len), 0, "%s: reparse", c->name);
        cr_assert_eq(again.header_len, d.header_len, "%s", c->name);
        if (d.has_picture_id)
            cr_assert_eq(again.picture_id, c->ids.picture_id & (d.picture_id_15 ? 0x7fff : 0x7f));
        if (d.has_tl0picidx)
            cr_assert_eq(again.tl0picidx, c->ids.tl0picidx);
        if (d.has_keyidx)
            cr_assert_eq(again.keyidx, c->ids.keyidx & 0x1f);
        cr_assert_eq(again.tid, d.tid, "%s: TID kept", c->name);
        cr_assert_eq(again.layer_sync, d.layer_sync, "%s: Y kept", c->name);
    }
}

Test(vp8, write_refuses_a_short_buffer_or_a_forged_descriptor)
{
    uint8_t buf[] = {0x80, 0x80, 0x92, 0x34, 0xaa};
    uint8_t orig[sizeof buf];
    memcpy(orig, buf, sizeof buf);
    weir_vp8_desc d;
    cr_assert_eq(weir_vp8_parse(&d, buf, sizeof buf), 0);
    weir_vp8_ids ids = {.picture_id = 1};
    cr_assert_eq(weir_vp8_write_ids(buf, 3, &d, &ids), -WEIR_EINVAL);
    weir_vp8_desc forged = d;
    forged.picture_id_off = 3; /* 15-bit field would end past the descriptor */
    cr_assert_eq(weir_vp8_write_ids(buf, sizeof buf, &forged, &ids), -WEIR_EINVAL);
    forged = d;
    forged.header_len = 200;
    cr_assert_eq(weir_vp8_write_ids(buf, sizeof buf, &forged, &ids), -WEIR_EINVAL);
    cr_assert_eq(memcmp(buf, orig, sizeof buf), 0);
}
