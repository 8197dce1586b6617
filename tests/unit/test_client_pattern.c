/*
 * weir-client's test pattern: frame number and send time painted into an
 * I420 picture survive a VP8 encode/decode round trip at the full and the
 * quarter simulcast resolutions, and a damaged picture is refused.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"
#include "video_sink.h"
#include "video_source.h"
#include "weir/errors.h"

typedef struct size_case {
    int width, height, kbps;
} size_case;

static const size_case SIZES[] = {
    {640, 360, 800},
    {320, 180, 300},
    {160, 90, 100},
};

static void roundtrip(const size_case *c, int frames)
{
    char err[128] = "";
    wc_video_source *src =
        wc_video_source_create(c->width, c->height, 30, c->kbps, err, sizeof err);
    cr_assert_not_null(src, "%dx%d: %s", c->width, c->height, err);
    wc_video_decoder *dec = wc_video_decoder_create();
    cr_assert_not_null(dec);
    int keyframes = 0;
    for (int i = 0; i < frames; i++) {
        wc_pattern_info in = {.frame_number = 1000u + (uint32_t)i * 7u,
                              .send_ms = 0xfedc0000u + (uint32_t)i * 33u};
        wc_encoded_frame ef;
        /* Keyframes at start and on request mid-stream, as a PLI would ask. */
        int r = wc_video_source_encode(src, &in, i == 0 || i == frames / 2, &ef);
        cr_assert_eq(r, 1, "%dx%d frame %d: encode %d", c->width, c->height, i, r);
        keyframes += ef.keyframe;
        int w = 0, h = 0;
        bool ok = false;
        wc_pattern_info out = {0};
        r = wc_video_decoder_decode(dec, ef.data, ef.len, &w, &h, &out, &ok);
        cr_assert_eq(r, 1, "%dx%d frame %d: decode %d", c->width, c->height, i, r);
        cr_assert_eq(w, c->width);
        cr_assert_eq(h, c->height);
        cr_assert(ok, "%dx%d frame %d: pattern unreadable", c->width, c->height, i);
        cr_assert_eq(out.frame_number, in.frame_number, "%dx%d frame %d", c->width, c->height, i);
        cr_assert_eq(out.send_ms, in.send_ms, "%dx%d frame %d", c->width, c->height, i);
    }
    cr_assert_eq(keyframes, 2, "%dx%d: keyframes only when asked", c->width, c->height);
    wc_video_decoder_destroy(dec);
    wc_video_source_destroy(src);
}

Test(client_pattern, vp8_roundtrip_640x360)
{
    roundtrip(&SIZES[0], 60);
}

Test(client_pattern, vp8_roundtrip_320x180)
{
    roundtrip(&SIZES[1], 60);
}

Test(client_pattern, vp8_roundtrip_160x90)
{
    roundtrip(&SIZES[2], 60);
}

typedef struct raw_pic {
    uint8_t *buf;
    wc_i420 pic;
} raw_pic;

static raw_pic raw_alloc(int w, int h)
{
    raw_pic r;
    int cw = (w + 1) / 2, ch = (h + 1) / 2;
    r.buf = calloc(1, (size_t)(w * h + 2 * cw * ch));
    r.pic = (wc_i420){.y = r.buf,
                      .u = r.buf + w * h,
                      .v = r.buf + w * h + cw * ch,
                      .y_stride = w,
                      .u_stride = cw,
                      .v_stride = cw,
                      .width = w,
                      .height = h};
    return r;
}

Test(client_pattern, raw_roundtrip_and_damage)
{
    raw_pic r = raw_alloc(160, 90);
    wc_pattern_info in = {.frame_number = 0xdeadbeef, .send_ms = 0x01020304}, out = {0};
    cr_assert_eq(wc_pattern_draw(&r.pic, &in), 0);
    cr_assert_eq(wc_pattern_read(r.pic.y, r.pic.y_stride, 160, 90, &out), 0);
    cr_assert_eq(out.frame_number, in.frame_number);
    cr_assert_eq(out.send_ms, in.send_ms);

    /* Flip one bit block (frame number's lowest bit: bit 39 = row 2, col 7). */
    int b = wc_pattern_block_size(160, 90);
    for (int y = 2 * b; y < 3 * b; y++)
        for (int x = 7 * b; x < 8 * b; x++)
            r.pic.y[y * 160 + x] = (uint8_t)(r.pic.y[y * 160 + x] > 128 ? 16 : 235);
    wc_pattern_info untouched = {.frame_number = 7, .send_ms = 9};
    cr_assert_eq(wc_pattern_read(r.pic.y, r.pic.y_stride, 160, 90, &untouched), -WEIR_EINVAL);
    cr_assert_eq(untouched.frame_number, 7, "a failed read leaves the output alone");

    /* A picture with no pattern at all. */
    memset(r.pic.y, 128, 160 * 90);
    cr_assert_eq(wc_pattern_read(r.pic.y, r.pic.y_stride, 160, 90, &out), -WEIR_EINVAL);
    free(r.buf);
}

Test(client_pattern, too_small)
{
    raw_pic r = raw_alloc(48, 16);
    wc_pattern_info in = {1, 2};
    cr_assert_eq(wc_pattern_draw(&r.pic, &in), -WEIR_EINVAL);
    free(r.buf);
    char err[128];
    cr_assert_null(wc_video_source_create(32, 32, 30, 100, err, sizeof err));
}

Test(client_pattern, stats_order_freeze_latency)
{
    wc_video_stats st;
    wc_video_stats_init(&st);
    /* 30 fps frames, one frame number skipped, one repeated, one 400 ms stall. */
    static const struct {
        int64_t recv_ms;
        uint32_t fn;
        uint32_t sent_ms;
    } rows[] = {
        {1000, 1, 990},  {1033, 2, 1023}, {1066, 3, 1056}, {1100, 5, 1080},
        {1133, 5, 1113}, {1533, 6, 1520}, {1566, 7, 1556},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        wc_pattern_info info = {rows[i].fn, rows[i].sent_ms};
        wc_video_stats_add(&st, rows[i].recv_ms, 640, 360, &info);
    }
    wc_video_stats_add(&st, 1600, 640, 360, NULL);
    cr_assert_eq(st.frames_decoded, 8);
    cr_assert_eq(st.frames_skipped, 1);
    cr_assert_eq(st.order_errors, 0, "a repeated frame number is a repeat, not a reorder");
    cr_assert_eq(st.frames_repeated, 1);
    cr_assert_eq(st.content_errors, 1);
    cr_assert_eq(st.freezes, 1);
    cr_assert_eq(st.max_freeze_ms, 400);
    cr_assert_eq(st.max_gap_ms, 400);
    wc_latency_summary l;
    wc_video_stats_latency(&st, &l);
    cr_assert_eq(l.n, 7);
    cr_assert_eq(l.p50, 10); /* sorted: 10 10 10 10 13 20 20 */
    cr_assert_eq(l.max, 20);
    cr_assert_eq(l.p95, 20);
    wc_pattern_info back = {6, 1600};
    wc_video_stats_add(&st, 1610, 640, 360, &back); /* below the last one (7): out of order */
    cr_assert_eq(st.order_errors, 1);
    cr_assert_eq(st.frames_repeated, 1);
    wc_video_stats_deinit(&st);
}
