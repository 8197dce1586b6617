/*
 * plugins/recorder/frame_assembler.c: RTP packets built by hand (RFC 3550
 * header, RFC 7741 VP8 descriptor, RFC 6184 H.264 aggregation and
 * fragmentation, RFC 9628 VP9 descriptor) go in, possibly reordered,
 * duplicated or lost; whole frames must come out in order with their bytes,
 * keyframe flag and size, and gaps must be given up exactly as the header
 * promises. Time is a plain number (fake clock).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "frame_assembler.h"
#include "support/assert_bytes.h"
#include "weir/errors.h"

#define WAIT_US 300000

static wrec_assembler *make(wrec_codec codec, size_t max_packets, size_t max_frame)
{
    wrec_assembler_config cfg = {
        .codec = codec,
        .max_wait_us = WAIT_US,
        .max_packets = max_packets,
        .max_frame_bytes = max_frame,
    };
    wrec_assembler *a = wrec_assembler_create(&cfg);
    cr_assert_not_null(a);
    return a;
}

static size_t rtp(uint8_t *out, uint16_t seq, uint32_t ts, bool marker, const uint8_t *payload,
                  size_t n)
{
    out[0] = 0x80;
    out[1] = (uint8_t)((marker ? 0x80 : 0) | 96);
    out[2] = (uint8_t)(seq >> 8);
    out[3] = (uint8_t)seq;
    for (int i = 0; i < 4; i++)
        out[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
    memcpy(out + 8, "\x11\x22\x33\x44", 4);
    memcpy(out + 12, payload, n);
    return 12 + n;
}

/* ---- VP8 ---- */

typedef struct vp8_frame {
    uint8_t bytes[600];
    size_t len;
    bool key;
} vp8_frame;

/* A VP8 frame: key ones start with the RFC 6386 §9.1 header for w x h. */
static void vp8_make(vp8_frame *f, bool key, uint8_t fill, size_t len, uint16_t w, uint16_t h)
{
    cr_assert(len <= sizeof f->bytes && len >= 10);
    for (size_t i = 0; i < len; i++)
        f->bytes[i] = (uint8_t)(fill + i * 7);
    f->bytes[0] = key ? 0x10 : 0x11; /* P bit (bit 0) clear = keyframe; show_frame */
    if (key) {
        const uint8_t hdr[] = {
            0x9d, 0x01, 0x2a, (uint8_t)w, (uint8_t)(w >> 8), (uint8_t)h, (uint8_t)(h >> 8)};
        memcpy(f->bytes + 3, hdr, sizeof hdr);
    }
    f->len = len;
    f->key = key;
}

typedef struct pkt {
    uint8_t b[1500];
    size_t len;
} pkt;

/*
 * Splits f into n packets starting at seq; even packets carry the long
 * descriptor (X, I with a 15-bit PictureID, L, T/K: 6 bytes), odd ones the
 * 1-byte one, so stripping both forms is checked. Returns n.
 */
static size_t vp8_packetize(const vp8_frame *f, size_t n, uint16_t seq, uint32_t ts, pkt *out)
{
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t part = f->len / n + (i < f->len % n ? 1 : 0);
        uint8_t payload[700];
        size_t d = 0;
        uint8_t s = i == 0 ? 0x10 : 0x00;
        if (i % 2 == 0) {
            payload[d++] = (uint8_t)(0x80 | s);
            payload[d++] = 0xf0; /* I L T K */
            payload[d++] = 0x80 | 0x12;
            payload[d++] = 0x34;
            payload[d++] = 0x05;
            payload[d++] = 0x40;
        } else {
            payload[d++] = s;
        }
        memcpy(payload + d, f->bytes + off, part);
        off += part;
        out[i].len = rtp(out[i].b, (uint16_t)(seq + i), ts, i == n - 1, payload, d + part);
    }
    return n;
}

static void push(wrec_assembler *a, const pkt *p, int64_t now)
{
    cr_assert_eq(wrec_assembler_push(a, p->b, p->len, now, 0, now), 0);
}

static void expect_frame(wrec_assembler *a, int64_t now, const vp8_frame *f, uint64_t ext_ts)
{
    wrec_frame out;
    cr_assert_eq(wrec_assembler_poll(a, now, &out), 1, "a frame is ready");
    assert_bytes(out.data, out.len, f->bytes, f->len);
    cr_assert_eq(out.keyframe, f->key);
    cr_assert_eq(out.ext_ts, ext_ts, "ext_ts %llu, want %llu", (unsigned long long)out.ext_ts,
                 (unsigned long long)ext_ts);
}

static void expect_none(wrec_assembler *a, int64_t now)
{
    wrec_frame out;
    cr_assert_eq(wrec_assembler_poll(a, now, &out), 0, "no frame expected");
}

Test(frame_assembler, vp8_in_order_whole_frames_with_size)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    cr_assert(wrec_assembler_take_keyframe_request(a), "video starts by asking for a keyframe");
    cr_assert_not(wrec_assembler_take_keyframe_request(a), "once");
    vp8_frame k, d1, d2;
    vp8_make(&k, true, 1, 500, 640, 480);
    vp8_make(&d1, false, 2, 120, 0, 0);
    vp8_make(&d2, false, 3, 90, 0, 0);
    pkt p[8];
    vp8_packetize(&k, 3, 100, 9000, p);
    vp8_packetize(&d1, 2, 103, 12000, p + 3);
    vp8_packetize(&d2, 3, 105, 15000, p + 5);

    for (int i = 0; i < 2; i++)
        push(a, &p[i], 10 + i);
    expect_none(a, 20); /* no marker yet */
    cr_assert_eq(wrec_assembler_push(a, p[2].b, p[2].len, 777, 0xabcdef, 30), 0);
    wrec_frame out;
    cr_assert_eq(wrec_assembler_poll(a, 30, &out), 1);
    assert_bytes(out.data, out.len, k.bytes, k.len);
    cr_assert(out.keyframe);
    cr_assert_eq(out.width, 640);
    cr_assert_eq(out.height, 480);
    cr_assert_eq(out.ext_ts, 9000);
    cr_assert_eq(out.arrival_us, 777, "arrival of the last packet");
    cr_assert_eq(out.capture_ntp, 0xabcdef);
    for (int i = 3; i < 8; i++)
        push(a, &p[i], 40 + i);
    cr_assert_eq(wrec_assembler_poll(a, 50, &out), 1);
    assert_bytes(out.data, out.len, d1.bytes, d1.len);
    cr_assert(!out.keyframe && out.width == 0 && out.height == 0);
    expect_frame(a, 50, &d2, 15000);
    expect_none(a, 50);
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.frames_out, 3);
    cr_assert_eq(st.packets_in, 8);
    cr_assert_eq(st.frames_dropped + st.duplicates + st.malformed + st.gaps_given_up, 0);
    cr_assert_not(wrec_assembler_take_keyframe_request(a));
    wrec_assembler_destroy(a);
}

Test(frame_assembler, vp8_reordered_packets_give_whole_frames_in_order)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame f[3];
    vp8_make(&f[0], true, 10, 400, 320, 240);
    vp8_make(&f[1], false, 20, 300, 0, 0);
    vp8_make(&f[2], false, 30, 200, 0, 0);
    pkt p[9];
    for (int i = 0; i < 3; i++)
        vp8_packetize(&f[i], 3, (uint16_t)(1000 + 3 * i), 3000u * (uint32_t)i, p + 3 * i);
    /* Frame 1's packets first (in reverse), then frame 0's shuffled, then frame 2's. */
    const int order[] = {5, 4, 3, 1, 2, 0, 8, 6, 7};
    int got = 0;
    for (int i = 0; i < 9; i++) {
        push(a, &p[order[i]], i);
        wrec_frame out;
        while (wrec_assembler_poll(a, i, &out) == 1) {
            cr_assert_lt(got, 3);
            assert_bytes(out.data, out.len, f[got].bytes, f[got].len);
            cr_assert_eq(out.ext_ts, 3000u * (unsigned)got);
            got++;
        }
        if (i < 5)
            cr_assert_eq(got, 0, "nothing before frame 0 is whole");
    }
    cr_assert_eq(got, 3);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, duplicates_are_ignored)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame k, d;
    vp8_make(&k, true, 1, 300, 160, 120);
    vp8_make(&d, false, 2, 100, 0, 0);
    pkt p[5];
    vp8_packetize(&k, 3, 7, 100, p);
    vp8_packetize(&d, 2, 10, 200, p + 3);
    push(a, &p[0], 1);
    push(a, &p[0], 2); /* buffered twice */
    push(a, &p[1], 3);
    push(a, &p[2], 4);
    expect_frame(a, 4, &k, 100);
    push(a, &p[2], 5); /* a retransmission of a packet already output */
    push(a, &p[3], 6);
    push(a, &p[4], 7);
    expect_frame(a, 7, &d, 200);
    expect_none(a, 8);
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.duplicates, 1);
    cr_assert_eq(st.too_old, 1);
    cr_assert_eq(st.frames_out, 2);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, gap_waits_then_drops_until_next_keyframe)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    (void)wrec_assembler_take_keyframe_request(a);
    vp8_frame k1, d1, d2, k2, d3;
    vp8_make(&k1, true, 1, 300, 320, 240);
    vp8_make(&d1, false, 2, 200, 0, 0);
    vp8_make(&d2, false, 3, 200, 0, 0);
    vp8_make(&k2, true, 4, 300, 320, 180);
    vp8_make(&d3, false, 5, 100, 0, 0);
    pkt p[12];
    vp8_packetize(&k1, 2, 0, 0, p);
    vp8_packetize(&d1, 2, 2, 3000, p + 2);
    vp8_packetize(&d2, 3, 4, 6000, p + 4);
    vp8_packetize(&k2, 2, 7, 9000, p + 7);
    vp8_packetize(&d3, 2, 9, 12000, p + 9);
    push(a, &p[0], 1000);
    push(a, &p[1], 1000);
    expect_frame(a, 1000, &k1, 0);
    /* seq 2 (d1's first packet) is lost; d1's tail and d2 arrive at t=2000. */
    for (int i = 3; i < 7; i++)
        push(a, &p[i], 2000);
    expect_none(a, 2000);
    expect_none(a, 2000 + WAIT_US - 1);
    cr_assert_not(wrec_assembler_take_keyframe_request(a), "not before the wait is over");
    expect_none(a, 2000 + WAIT_US); /* given up: d1 and d2 dropped, nothing usable follows */
    cr_assert(wrec_assembler_take_keyframe_request(a));
    cr_assert_not(wrec_assembler_take_keyframe_request(a));
    /* The lost packet comes too late: ignored. */
    push(a, &p[2], 2000 + WAIT_US + 1);
    expect_none(a, 2000 + WAIT_US + 1);
    for (int i = 7; i < 11; i++)
        push(a, &p[i], 400000);
    wrec_frame out;
    cr_assert_eq(wrec_assembler_poll(a, 400000, &out), 1);
    assert_bytes(out.data, out.len, k2.bytes, k2.len);
    cr_assert(out.keyframe && out.width == 320 && out.height == 180);
    expect_frame(a, 400000, &d3, 12000);
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.gaps_given_up, 1);
    cr_assert_eq(st.frames_dropped, 2, "d1 and d2");
    cr_assert_eq(st.too_old, 1);
    cr_assert_eq(st.keyframe_requests, 2, "the initial one and after the gap");
    wrec_assembler_destroy(a);
}

Test(frame_assembler, a_late_packet_within_the_wait_completes_the_frame)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame k, d;
    vp8_make(&k, true, 1, 300, 320, 240);
    vp8_make(&d, false, 2, 300, 0, 0);
    pkt p[6];
    vp8_packetize(&k, 3, 50, 0, p);
    vp8_packetize(&d, 3, 53, 3000, p + 3);
    push(a, &p[0], 0);
    push(a, &p[2], 0);
    push(a, &p[3], 0);
    push(a, &p[4], 0);
    push(a, &p[5], 0);
    expect_none(a, WAIT_US - 1);
    push(a, &p[1], WAIT_US - 1); /* the retransmission */
    expect_frame(a, WAIT_US - 1, &k, 0);
    expect_frame(a, WAIT_US - 1, &d, 3000);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, sequence_and_timestamp_wrap)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame f[4];
    pkt p[16];
    size_t n = 0;
    uint16_t seq = 65532;
    uint32_t ts = 0xffffd000u; /* wraps between frame 1 and 2 */
    for (int i = 0; i < 4; i++) {
        vp8_make(&f[i], i == 0, (uint8_t)i, 200, 100, 100);
        n += vp8_packetize(&f[i], 3, seq, ts, p + n);
        seq = (uint16_t)(seq + 3);
        ts += 9000;
    }
    /* Push the wrapped tail out of order. */
    for (size_t i = n; i-- > 0;)
        push(a, &p[i], 1);
    uint64_t want = 0xffffd000u;
    for (int i = 0; i < 4; i++, want += 9000)
        expect_frame(a, 1, &f[i], want);
    cr_assert_gt(want - 9000, 0xffffffffull, "the last frame is past 2^32");
    wrec_assembler_destroy(a);
}

Test(frame_assembler, frames_before_the_first_keyframe_are_dropped)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame d, k;
    vp8_make(&d, false, 1, 100, 0, 0);
    vp8_make(&k, true, 2, 100, 64, 48);
    pkt p[4];
    vp8_packetize(&d, 2, 10, 0, p);
    vp8_packetize(&k, 2, 12, 3000, p + 2);
    for (int i = 0; i < 4; i++)
        push(a, &p[i], 0);
    expect_frame(a, 0, &k, 3000);
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.frames_dropped, 1);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, the_first_packet_may_arrive_after_later_ones)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame k;
    vp8_make(&k, true, 9, 300, 64, 48);
    pkt p[3];
    vp8_packetize(&k, 3, 200, 0, p);
    push(a, &p[2], 0);
    push(a, &p[1], 0);
    push(a, &p[0], 0);
    expect_frame(a, 0, &k, 0);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, padding_only_packets_fill_their_sequence_number)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame k, d;
    vp8_make(&k, true, 1, 100, 64, 48);
    vp8_make(&d, false, 2, 100, 0, 0);
    pkt p[5];
    vp8_packetize(&k, 2, 0, 0, p);
    vp8_packetize(&d, 2, 3, 3000, p + 3);
    /* seq 2: RTP padding only (P bit, 4 bytes of padding), as a bandwidth probe. */
    const uint8_t pad[4] = {0, 0, 0, 4};
    p[2].len = rtp(p[2].b, 2, 0, false, pad, 4);
    p[2].b[0] |= 0x20;
    for (int i = 0; i < 5; i++)
        push(a, &p[i], 0);
    expect_frame(a, 0, &k, 0);
    expect_frame(a, 0, &d, 3000);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, malformed_packets_are_refused_and_change_nothing)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame k, d;
    vp8_make(&k, true, 1, 200, 64, 48);
    vp8_make(&d, false, 2, 100, 0, 0);
    pkt p[4];
    vp8_packetize(&k, 2, 30, 0, p);
    vp8_packetize(&d, 2, 32, 3000, p + 2);
    /* Seq 31 as a keyframe start without the 9d 01 2a start code. */
    pkt bad;
    const uint8_t no_start_code[] = {0x10, 0x10, 0x02, 0x00, 0x11, 0x22, 0x33, 0x40, 0x00, 0x30};
    bad.len = rtp(bad.b, 31, 0, true, no_start_code, sizeof no_start_code);
    const uint8_t not_rtp[] = {0x40, 0x60, 0, 1, 2};
    push(a, &p[0], 0);
    cr_assert_eq(wrec_assembler_push(a, bad.b, bad.len, 0, 0, 0), -WEIR_EINVAL);
    cr_assert_eq(wrec_assembler_push(a, not_rtp, sizeof not_rtp, 0, 0, 0), -WEIR_EINVAL);
    const uint8_t truncated_x[] = {0x90};
    bad.len = rtp(bad.b, 31, 0, true, truncated_x, 1);
    cr_assert_eq(wrec_assembler_push(a, bad.b, bad.len, 0, 0, 0), -WEIR_EINVAL);
    cr_assert_eq(wrec_assembler_push(a, NULL, 0, 0, 0, 0), -WEIR_EINVAL);
    for (int i = 1; i < 4; i++)
        push(a, &p[i], 0);
    expect_frame(a, 0, &k, 0);
    expect_frame(a, 0, &d, 3000);
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.malformed, 4);
    cr_assert_eq(st.frames_dropped + st.gaps_given_up, 0);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, memory_is_bounded_by_max_packets)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 16, 1 << 20);
    vp8_frame k, d, k2;
    vp8_make(&k, true, 1, 100, 64, 48);
    vp8_make(&d, false, 2, 100, 0, 0);
    vp8_make(&k2, true, 3, 300, 32, 32);
    pkt p[4], r[3];
    vp8_packetize(&k, 2, 0, 0, p);
    vp8_packetize(&d, 2, 2, 3000, p + 2);
    push(a, &p[0], 0);
    push(a, &p[1], 0);
    expect_frame(a, 0, &k, 0);
    (void)wrec_assembler_take_keyframe_request(a);
    push(a, &p[2], 0); /* seq 3, the delta's marker, is late */
    /* 12 two-packet delta frames from seq 4 on: 24 packets, more than 16 slots. */
    for (int i = 0; i < 12; i++) {
        pkt two[2];
        vp8_packetize(&d, 2, (uint16_t)(4 + 2 * i), 3000u * (uint32_t)(i + 2), two);
        push(a, &two[0], 0);
        push(a, &two[1], 0);
    }
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.gaps_given_up, 1, "the blocking gap was given up to make room");
    cr_assert_gt(st.frames_dropped, 0);
    cr_assert(wrec_assembler_take_keyframe_request(a));
    /* seq 3 now lies before the window: too old, not buffered. */
    push(a, &p[3], 0);
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.too_old, 1);
    expect_none(a, 0); /* everything left is deltas after a loss */
    vp8_packetize(&k2, 3, 28, 50000, r);
    for (int i = 0; i < 3; i++)
        push(a, &r[i], 1);
    expect_frame(a, 1, &k2, 50000);
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.gaps_given_up, 1, "overflow while waiting for a keyframe is no new gap");
    cr_assert_eq(st.keyframe_requests, 2);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, flush_gives_up_every_gap)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 1 << 20);
    vp8_frame k, d, k2;
    vp8_make(&k, true, 1, 100, 64, 48);
    vp8_make(&d, false, 2, 300, 0, 0);
    vp8_make(&k2, true, 3, 100, 64, 48);
    pkt p[7];
    vp8_packetize(&k, 2, 0, 0, p);
    vp8_packetize(&d, 3, 2, 3000, p + 2);
    vp8_packetize(&k2, 2, 5, 6000, p + 5);
    push(a, &p[0], 0);
    push(a, &p[1], 0);
    push(a, &p[2], 0); /* seq 3 lost */
    push(a, &p[4], 0);
    push(a, &p[5], 0); /* k2 without its last packet */
    expect_frame(a, 0, &k, 0);
    expect_none(a, 1);
    wrec_assembler_flush(a);
    expect_none(a, 1); /* d dropped (gap), k2 dropped (incomplete at the end) */
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.frames_dropped, 2);
    cr_assert_eq(st.frames_out, 1);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, too_large_frames_are_dropped)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 64, 250);
    vp8_frame big, d, k;
    vp8_make(&big, true, 1, 300, 64, 48);
    vp8_make(&d, false, 2, 100, 0, 0);
    vp8_make(&k, true, 3, 200, 64, 48);
    pkt p[7];
    vp8_packetize(&big, 3, 0, 0, p);
    vp8_packetize(&d, 2, 3, 3000, p + 3);
    vp8_packetize(&k, 2, 5, 6000, p + 5);
    (void)wrec_assembler_take_keyframe_request(a);
    for (int i = 0; i < 7; i++)
        push(a, &p[i], 0);
    expect_frame(a, 0, &k, 6000);
    cr_assert(wrec_assembler_take_keyframe_request(a));
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.frames_dropped, 2);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, sequence_restart_is_followed)
{
    wrec_assembler *a = make(WREC_CODEC_VP8, 16, 1 << 20);
    vp8_frame k;
    vp8_make(&k, true, 1, 40, 64, 48);
    pkt p[1];
    vp8_packetize(&k, 1, 30000, 0, p);
    push(a, &p[0], 0);
    expect_frame(a, 0, &k, 0);
    /* The sender restarts 20000 numbers back: after a run of such packets it is followed. */
    int got = 0;
    for (int i = 0; i < 40; i++) {
        vp8_packetize(&k, 1, (uint16_t)(10000 + i), 3000u * (uint32_t)(i + 1), p);
        push(a, &p[0], i);
        wrec_frame out;
        while (wrec_assembler_poll(a, i, &out) == 1)
            got++;
    }
    cr_assert_gt(got, 0);
    wrec_assembler_destroy(a);
}

/* ---- Opus ---- */

Test(frame_assembler, opus_one_packet_one_frame_and_gaps_do_not_need_keyframes)
{
    wrec_assembler *a = make(WREC_CODEC_OPUS, 64, 1 << 20);
    cr_assert_not(wrec_assembler_take_keyframe_request(a));
    pkt p[6];
    for (int i = 0; i < 6; i++) {
        uint8_t payload[20];
        for (size_t j = 0; j < sizeof payload; j++)
            payload[j] = (uint8_t)(i * 31 + j);
        p[i].len = rtp(p[i].b, (uint16_t)(65534 + i), 960u * (uint32_t)i, i == 0, payload,
                       sizeof payload - (size_t)i);
    }
    push(a, &p[1], 0);
    push(a, &p[0], 0);
    push(a, &p[3], 0); /* 2 lost */
    push(a, &p[4], 0);
    wrec_frame out;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(wrec_assembler_poll(a, 0, &out), 1);
        assert_bytes(out.data, out.len, p[i].b + 12, p[i].len - 12);
        cr_assert_eq(out.ext_ts, 960u * (unsigned)i);
        cr_assert(out.keyframe);
    }
    expect_none(a, WAIT_US - 1);
    for (int i = 3; i < 5; i++) {
        cr_assert_eq(wrec_assembler_poll(a, WAIT_US, &out), 1);
        assert_bytes(out.data, out.len, p[i].b + 12, p[i].len - 12);
    }
    cr_assert_not(wrec_assembler_take_keyframe_request(a));
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.gaps_given_up, 1);
    cr_assert_eq(st.frames_out, 4);
    wrec_assembler_destroy(a);
}

/* ---- H.264 ---- */

typedef struct bitw {
    uint8_t b[64];
    size_t bits;
} bitw;

static void put(bitw *w, uint32_t v, int n)
{
    while (n-- > 0) {
        if ((v >> n) & 1)
            w->b[w->bits / 8] |= (uint8_t)(0x80 >> (w->bits % 8));
        w->bits++;
    }
}

static void put_ue(bitw *w, uint32_t v)
{
    uint32_t x = v + 1;
    int len = 0;
    while ((x >> len) > 1)
        len++;
    put(w, 0, len);
    put(w, x, len + 1);
}

/* An SPS written independently of the parser, with emulation prevention. */
static size_t make_sps(uint8_t *out, uint8_t profile, uint32_t mbs_w, uint32_t map_h,
                       uint32_t crop_bottom)
{
    bitw w = {0};
    put(&w, 0x67, 8);
    put(&w, profile, 8);
    put(&w, 0x00, 8); /* constraint flags */
    put(&w, 31, 8);   /* level 3.1 */
    put_ue(&w, 0);    /* sps id */
    if (profile == 100) {
        put_ue(&w, 1); /* 4:2:0 */
        put_ue(&w, 0);
        put_ue(&w, 0);
        put(&w, 0, 1);
        put(&w, 0, 1);
    }
    put_ue(&w, 0); /* log2_max_frame_num_minus4 */
    put_ue(&w, 2); /* poc type 2 */
    put_ue(&w, 1); /* max_num_ref_frames */
    put(&w, 0, 1);
    put_ue(&w, mbs_w - 1);
    put_ue(&w, map_h - 1);
    put(&w, 1, 1); /* frame_mbs_only */
    put(&w, 1, 1); /* direct_8x8 */
    put(&w, crop_bottom ? 1 : 0, 1);
    if (crop_bottom) {
        put_ue(&w, 0);
        put_ue(&w, 0);
        put_ue(&w, 0);
        put_ue(&w, crop_bottom);
    }
    put(&w, 0, 1); /* no VUI */
    put(&w, 1, 1); /* rbsp stop bit */
    size_t raw = (w.bits + 7) / 8, n = 0;
    int zeros = 0;
    for (size_t i = 0; i < raw; i++) {
        if (zeros >= 2 && w.b[i] <= 3) {
            out[n++] = 3;
            zeros = 0;
        }
        out[n++] = w.b[i];
        zeros = w.b[i] == 0 ? zeros + 1 : 0;
    }
    return n;
}

static size_t avcc_nal(uint8_t *out, const uint8_t *nal, size_t n)
{
    out[0] = (uint8_t)(n >> 24);
    out[1] = (uint8_t)(n >> 16);
    out[2] = (uint8_t)(n >> 8);
    out[3] = (uint8_t)n;
    memcpy(out + 4, nal, n);
    return 4 + n;
}

static void h264_keyframe_case(uint8_t profile, uint32_t mbs_w, uint32_t map_h, uint32_t crop,
                               uint16_t want_w, uint16_t want_h)
{
    wrec_assembler *a = make(WREC_CODEC_H264, 64, 1 << 20);
    const uint8_t *rec;
    size_t rec_len;
    cr_assert_eq(wrec_assembler_h264_avcc(a, &rec, &rec_len), -WEIR_ENOTFOUND);
    uint8_t sps[64];
    size_t sps_len = make_sps(sps, profile, mbs_w, map_h, crop);
    const uint8_t pps[] = {0x68, 0xce, 0x3c, 0x80};
    uint8_t idr[900];
    idr[0] = 0x65;
    for (size_t i = 1; i < sizeof idr; i++)
        idr[i] = (uint8_t)(i * 13);
    const uint8_t sei[] = {0x06, 0x05, 0x01, 0x80};

    pkt p[5];
    /* STAP-A: SPS + PPS. */
    uint8_t stap[128];
    size_t n = 0;
    stap[n++] = 0x78;
    stap[n++] = 0;
    stap[n++] = (uint8_t)sps_len;
    memcpy(stap + n, sps, sps_len);
    n += sps_len;
    stap[n++] = 0;
    stap[n++] = sizeof pps;
    memcpy(stap + n, pps, sizeof pps);
    n += sizeof pps;
    p[0].len = rtp(p[0].b, 500, 90000, false, stap, n);
    /* A single NAL unit packet (SEI), then the IDR in three FU-A fragments. */
    p[1].len = rtp(p[1].b, 501, 90000, false, sei, sizeof sei);
    size_t body = sizeof idr - 1, off = 1;
    for (int i = 0; i < 3; i++) {
        size_t part = body / 3 + (i == 2 ? body % 3 : 0);
        uint8_t fu[400];
        fu[0] = (uint8_t)((idr[0] & 0xe0) | 28);
        fu[1] = (uint8_t)((i == 0 ? 0x80 : 0) | (i == 2 ? 0x40 : 0) | (idr[0] & 0x1f));
        memcpy(fu + 2, idr + off, part);
        off += part;
        p[2 + i].len = rtp(p[2 + i].b, (uint16_t)(502 + i), 90000, i == 2, fu, 2 + part);
    }
    push(a, &p[4], 0);
    push(a, &p[0], 0);
    push(a, &p[2], 0);
    push(a, &p[1], 0);
    expect_none(a, 0);
    push(a, &p[3], 0);
    wrec_frame out;
    cr_assert_eq(wrec_assembler_poll(a, 0, &out), 1);
    uint8_t want[1200];
    size_t wl = 0;
    wl += avcc_nal(want + wl, sps, sps_len);
    wl += avcc_nal(want + wl, pps, sizeof pps);
    wl += avcc_nal(want + wl, sei, sizeof sei);
    wl += avcc_nal(want + wl, idr, sizeof idr);
    assert_bytes(out.data, out.len, want, wl);
    cr_assert(out.keyframe);
    cr_assert_eq(out.width, want_w, "width %u", out.width);
    cr_assert_eq(out.height, want_h, "height %u", out.height);
    cr_assert_eq(out.ext_ts, 90000);

    cr_assert_eq(wrec_assembler_h264_avcc(a, &rec, &rec_len), 0);
    uint8_t avcc[128];
    size_t al = 0;
    avcc[al++] = 1;
    avcc[al++] = profile;
    avcc[al++] = 0x00;
    avcc[al++] = 31;
    avcc[al++] = 0xff;
    avcc[al++] = 0xe1;
    avcc[al++] = 0;
    avcc[al++] = (uint8_t)sps_len;
    memcpy(avcc + al, sps, sps_len);
    al += sps_len;
    avcc[al++] = 1;
    avcc[al++] = 0;
    avcc[al++] = sizeof pps;
    memcpy(avcc + al, pps, sizeof pps);
    al += sizeof pps;
    if (profile == 100) {
        const uint8_t ext[] = {0xfd, 0xf8, 0xf8, 0x00};
        memcpy(avcc + al, ext, sizeof ext);
        al += sizeof ext;
    }
    assert_bytes(rec, rec_len, avcc, al);

    /* A P slice afterwards is a delta frame without a size. */
    const uint8_t slice[] = {0x41, 0x9a, 0x11, 0x22};
    pkt d;
    d.len = rtp(d.b, 505, 93000, true, slice, sizeof slice);
    push(a, &d, 1);
    cr_assert_eq(wrec_assembler_poll(a, 1, &out), 1);
    uint8_t want_d[16];
    size_t dl = avcc_nal(want_d, slice, sizeof slice);
    assert_bytes(out.data, out.len, want_d, dl);
    cr_assert(!out.keyframe && out.width == 0);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, h264_stap_a_and_fu_a_give_avcc_and_an_avcc_record)
{
    h264_keyframe_case(66, 20, 15, 0, 320, 240);
}

Test(frame_assembler, h264_high_profile_with_cropping)
{
    h264_keyframe_case(100, 120, 68, 4, 1920, 1080);
}

Test(frame_assembler, h264_malformed_payloads)
{
    wrec_assembler *a = make(WREC_CODEC_H264, 64, 1 << 20);
    const uint8_t *bad[] = {
        (const uint8_t *)"\x78\x00\x05\x67\x42", /* STAP-A size past the end */
        (const uint8_t *)"\x7c\xc5\x00",         /* FU-A with S and E */
        (const uint8_t *)"\x7c\x85",             /* FU-A without data */
        (const uint8_t *)"\x79\x00\x01\x65",     /* STAP-B */
        (const uint8_t *)"\xe5\x00",             /* forbidden bit */
    };
    const size_t len[] = {5, 3, 2, 4, 2};
    for (size_t i = 0; i < sizeof len / sizeof len[0]; i++) {
        pkt p;
        p.len = rtp(p.b, (uint16_t)i, 0, true, bad[i], len[i]);
        cr_assert_eq(wrec_assembler_push(a, p.b, p.len, 0, 0, 0), -WEIR_EINVAL, "case %zu", i);
    }
    /* A frame whose FU-A never ends (the marker packet is another NAL unit) is dropped. */
    pkt p[3];
    p[0].len = rtp(p[0].b, 10, 0, false, (const uint8_t *)"\x7c\x85\x01\x02", 4);
    p[1].len = rtp(p[1].b, 11, 0, true, (const uint8_t *)"\x65\x01", 2);
    p[2].len = rtp(p[2].b, 12, 3000, true, (const uint8_t *)"\x65\x09\x08", 3);
    for (int i = 0; i < 3; i++)
        push(a, &p[i], 0);
    wrec_frame out;
    cr_assert_eq(wrec_assembler_poll(a, 0, &out), 1);
    const uint8_t want[] = {0, 0, 0, 3, 0x65, 0x09, 0x08};
    assert_bytes(out.data, out.len, want, sizeof want);
    wrec_assembler_stats st;
    wrec_assembler_stats_get(a, &st);
    cr_assert_eq(st.malformed, 6);
    cr_assert_eq(st.frames_dropped, 1);
    wrec_assembler_destroy(a);
}

/* ---- VP9 ---- */

Test(frame_assembler, vp9_two_spatial_layers_make_a_superframe)
{
    wrec_assembler *a = make(WREC_CODEC_VP9, 64, 1 << 20);
    /* Layer 0 keyframe: I, L, B, E, V; PictureID 5; SID 0; TL0PICIDX; SS with 2 layers. */
    const uint8_t l0[] = {0xae, 0x05, 0x00, 0x00, 0x30, 0x00, 0xa0, 0x00,
                          0x78, 0x01, 0x40, 0x00, 0xf0, 0xaa, 0xbb, 0xcc};
    /* Layer 1 in two packets: I, L, B / I, L, E; SID 1. */
    const uint8_t l1a[] = {0xa8, 0x05, 0x02, 0x00, 0x11, 0x22};
    const uint8_t l1b[] = {0xa4, 0x05, 0x02, 0x00, 0x33};
    pkt p[3];
    p[0].len = rtp(p[0].b, 1, 0, false, l0, sizeof l0);
    p[1].len = rtp(p[1].b, 2, 0, false, l1a, sizeof l1a);
    p[2].len = rtp(p[2].b, 3, 0, true, l1b, sizeof l1b);
    for (int i = 2; i >= 0; i--)
        push(a, &p[i], 0);
    wrec_frame out;
    cr_assert_eq(wrec_assembler_poll(a, 0, &out), 1);
    const uint8_t want[] = {0xaa, 0xbb, 0xcc, 0x11, 0x22, 0x33, 0xc1, 3, 3, 0xc1};
    assert_bytes(out.data, out.len, want, sizeof want);
    cr_assert(out.keyframe);
    cr_assert_eq(out.width, 320);
    cr_assert_eq(out.height, 240);
    const uint8_t truncated_ss[] = {0x0a, 0x38, 0x00};
    pkt bad;
    bad.len = rtp(bad.b, 4, 3000, true, truncated_ss, sizeof truncated_ss);
    cr_assert_eq(wrec_assembler_push(a, bad.b, bad.len, 0, 0, 0), -WEIR_EINVAL);
    wrec_assembler_destroy(a);
}

Test(frame_assembler, bad_configs_are_refused)
{
    wrec_assembler_config cfg = {
        .codec = WREC_CODEC_VP8, .max_wait_us = 1, .max_packets = 0, .max_frame_bytes = 10};
    cr_assert_null(wrec_assembler_create(&cfg));
    cfg.max_packets = 4;
    cfg.codec = (wrec_codec)42;
    cr_assert_null(wrec_assembler_create(&cfg));
    cr_assert_null(wrec_assembler_create(NULL));
}
