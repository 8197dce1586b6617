/*
 * weir-client's VP8 packetizer and depacketizer: real libvpx frames split at
 * MTU 1200 and put through shuffling, duplication, loss and RTX
 * retransmission come out whole and in order, incomplete frames are
 * reported, and the NACK list names exactly what is missing.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "proto/rtp.h"
#include "proto/vp8.h"
#include "video_source.h"
#include "vp8_depacketizer.h"
#include "vp8_packetizer.h"
#include "weir/errors.h"

#define MTU_PAYLOAD 1200
#define MAX_PKTS 4096
#define VP8_PT 96
#define RTX_PT 97
#define SSRC 0x11223344u
#define RTX_SSRC 0x55667788u

typedef struct pkt {
    uint8_t buf[1400];
    size_t len;
    int frame;
} pkt;

typedef struct stream {
    pkt pkts[MAX_PKTS];
    size_t n;
    uint8_t *frames[64];
    size_t frame_len[64];
    bool keyframe[64];
    int n_frames;
} stream;

static stream S;

/* n frames of a 640x360 pattern, packetized into RTP starting at seq0. */
static void make_stream(int n_frames, uint16_t seq0)
{
    memset(&S, 0, sizeof S);
    char err[128];
    wc_video_source *src = wc_video_source_create(640, 360, 30, 4000, err, sizeof err);
    cr_assert_not_null(src, "%s", err);
    uint16_t seq = seq0;
    for (int f = 0; f < n_frames; f++) {
        wc_pattern_info info = {(uint32_t)f, (uint32_t)f * 33};
        wc_encoded_frame ef;
        /* A keyframe every third frame: big frames of many packets among small ones. */
        cr_assert_eq(wc_video_source_encode(src, &info, f % 3 == 0, &ef), 1);
        S.frames[f] = malloc(ef.len);
        memcpy(S.frames[f], ef.data, ef.len);
        S.frame_len[f] = ef.len;
        S.keyframe[f] = ef.keyframe;
        size_t np = wc_vp8_packet_count(ef.len, MTU_PAYLOAD);
        cr_assert_gt(np, 0);
        for (size_t i = 0; i < np; i++) {
            uint8_t payload[MTU_PAYLOAD];
            int pl = wc_vp8_packetize(ef.data, ef.len, (uint16_t)(0x7ff0 + f), MTU_PAYLOAD, i,
                                      payload, sizeof payload);
            cr_assert_gt(pl, 0);
            cr_assert_leq(pl, MTU_PAYLOAD);
            weir_rtp_fields rf = {.ssrc = SSRC,
                                  .timestamp = 90000u + 3000u * (uint32_t)f,
                                  .seq = seq++,
                                  .payload_type = VP8_PT,
                                  .marker = i + 1 == np};
            pkt *p = &S.pkts[S.n++];
            int len = weir_rtp_write(p->buf, sizeof p->buf, &rf, payload, (size_t)pl, 0);
            cr_assert_gt(len, 0);
            p->len = (size_t)len;
            p->frame = f;
        }
    }
    S.n_frames = n_frames;
    wc_video_source_destroy(src);
}

static void free_stream(void)
{
    for (int f = 0; f < S.n_frames; f++)
        free(S.frames[f]);
}

static int push(wc_vp8_depack *d, int64_t now, size_t i)
{
    uint8_t copy[1400];
    memcpy(copy, S.pkts[i].buf, S.pkts[i].len);
    return wc_vp8_depack_push_rtp(d, now, copy, S.pkts[i].len, VP8_PT, RTX_PT);
}

/* Drains frames and checks each against the encoder's output; returns the frame indexes. */
static int drain(wc_vp8_depack *d, int64_t now, int *got, int max, bool *gap)
{
    int n = 0;
    wc_vp8_frame fr;
    while (wc_vp8_depack_poll_frame(d, now, &fr) == 1) {
        cr_assert_lt(n, max);
        int f = (int)(fr.timestamp - 90000u) / 3000;
        cr_assert(f >= 0 && f < S.n_frames);
        cr_assert_eq(fr.len, S.frame_len[f], "frame %d length", f);
        cr_assert_eq(memcmp(fr.data, S.frames[f], fr.len), 0, "frame %d bytes", f);
        cr_assert_eq(fr.keyframe, S.keyframe[f]);
        cr_assert(fr.has_picture_id);
        cr_assert_eq(fr.picture_id, (uint16_t)(0x7ff0 + f) & 0x7fff);
        if (gap)
            gap[n] = fr.after_gap;
        got[n++] = f;
    }
    return n;
}

Test(client_vp8, packet_sizes_balanced)
{
    static uint8_t frame[5000];
    for (size_t i = 0; i < sizeof frame; i++)
        frame[i] = (uint8_t)i;
    frame[0] = 0x31; /* a shown delta frame (RFC 6386 §9.1: P = 1) */
    size_t n = wc_vp8_packet_count(sizeof frame, MTU_PAYLOAD);
    cr_assert_eq(n, 5); /* 1196 bytes of frame per packet */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t out[MTU_PAYLOAD];
        int len = wc_vp8_packetize(frame, sizeof frame, 300, MTU_PAYLOAD, i, out, sizeof out);
        cr_assert(len == 1004 || len == 1005, "len %d", len);
        weir_vp8_desc d;
        cr_assert_eq(weir_vp8_parse(&d, out, (size_t)len), 0);
        cr_assert_eq(d.start_of_partition, i == 0);
        cr_assert(d.has_picture_id && d.picture_id_15);
        cr_assert_eq(d.picture_id, 300);
        cr_assert_eq(memcmp(out + 4, frame + total, (size_t)len - 4), 0);
        total += (size_t)len - 4;
    }
    cr_assert_eq(total, sizeof frame);
    uint8_t out[8];
    cr_assert_eq(wc_vp8_packetize(frame, sizeof frame, 0, MTU_PAYLOAD, 5, out, sizeof out),
                 -WEIR_EINVAL);
    cr_assert_eq(wc_vp8_packetize(frame, sizeof frame, 0, MTU_PAYLOAD, 0, out, sizeof out),
                 -WEIR_ETOOBIG);
    cr_assert_eq(wc_vp8_packet_count(10, 4), 0);
}

Test(client_vp8, in_order_and_across_seq_wrap)
{
    make_stream(20, 65500);
    wc_vp8_depack *d = wc_vp8_depack_create(NULL);
    int got[64], n = 0;
    for (size_t i = 0; i < S.n; i++) {
        cr_assert_eq(push(d, 1000, i), 0);
        n += drain(d, 1000, got + n, 64 - n, NULL);
    }
    cr_assert_eq(n, 20);
    for (int i = 0; i < n; i++)
        cr_assert_eq(got[i], i);
    cr_assert_eq(wc_vp8_depack_get_stats(d)->packets_lost, 0);
    wc_vp8_depack_destroy(d);
    free_stream();
}

Test(client_vp8, shuffled_with_duplicates)
{
    make_stream(20, 100);
    weir_rand r;
    weir_rand_seed(&r, 42);
    size_t order[MAX_PKTS];
    for (size_t i = 0; i < S.n; i++)
        order[i] = i;
    /* Shuffle within windows of 8 packets: reordering as a network does it. */
    for (size_t base = 0; base < S.n; base += 8)
        for (size_t i = base; i < base + 8 && i < S.n; i++) {
            size_t lim = (base + 8 < S.n ? base + 8 : S.n) - i;
            size_t j = i + weir_rand_below(&r, (uint32_t)lim);
            size_t t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    wc_vp8_depack *d = wc_vp8_depack_create(NULL);
    int got[64], n = 0;
    for (size_t k = 0; k < S.n; k++) {
        cr_assert_geq(push(d, 1000 + (int64_t)k, order[k]), 0);
        if (k % 5 == 0)
            cr_assert_eq(push(d, 1000 + (int64_t)k, order[k]), 1, "a duplicate is ignored");
        n += drain(d, 1000 + (int64_t)k, got + n, 64 - n, NULL);
    }
    cr_assert_eq(n, 20);
    for (int i = 0; i < n; i++)
        cr_assert_eq(got[i], i, "frames come out in order");
    const wc_vp8_depack_stats *st = wc_vp8_depack_get_stats(d);
    cr_assert_eq(st->packets, S.n);
    cr_assert_geq(st->duplicates, 1);
    cr_assert_eq(st->packets_lost, 0);
    wc_vp8_depack_destroy(d);
    free_stream();
}

/* Index of the second packet of the first frame with at least 3 packets after frame 1. */
static size_t pick_middle_packet(int *frame)
{
    for (size_t i = 1; i + 1 < S.n; i++)
        if (S.pkts[i].frame >= 2 && S.pkts[i - 1].frame == S.pkts[i].frame &&
            S.pkts[i + 1].frame == S.pkts[i].frame) {
            *frame = S.pkts[i].frame;
            return i;
        }
    cr_assert_fail("no frame with 3 packets");
    return 0;
}

Test(client_vp8, loss_nack_and_rtx_recovery)
{
    make_stream(12, 40000);
    int lost_frame = -1;
    size_t lost = pick_middle_packet(&lost_frame);
    wc_vp8_depack *d = wc_vp8_depack_create(NULL);
    int got[64], n = 0;
    int64_t now = 1000000;
    for (size_t i = 0; i < S.n; i++)
        if (i != lost) {
            push(d, now, i);
            n += drain(d, now, got + n, 64 - n, NULL);
        }
    cr_assert_eq(n, lost_frame, "frames stop at the incomplete one");

    uint16_t seqs[16];
    uint16_t want = (uint16_t)(40000 + lost);
    cr_assert_eq(wc_vp8_depack_nack(d, now, seqs, 16), 1);
    cr_assert_eq(seqs[0], want);
    cr_assert_eq(wc_vp8_depack_nack(d, now + 10000, seqs, 16), 0, "not again before the interval");
    cr_assert_eq(wc_vp8_depack_nack(d, now + 50000, seqs, 16), 1, "again after it");

    /* The retransmission arrives as RTX (RFC 4588): OSN first, own SSRC, PT, seq. */
    weir_rtp orig;
    cr_assert_eq(weir_rtp_parse(&orig, S.pkts[lost].buf, S.pkts[lost].len), 0);
    uint8_t rtx[1500];
    int rl = weir_rtp_rtx_wrap(rtx, sizeof rtx, &orig, S.pkts[lost].buf, RTX_SSRC, RTX_PT, 7);
    cr_assert_gt(rl, 0);
    cr_assert_eq(wc_vp8_depack_push_rtp(d, now + 60000, rtx, (size_t)rl, VP8_PT, RTX_PT), 0);
    n += drain(d, now + 60000, got + n, 64 - n, NULL);
    cr_assert_eq(n, 12);
    for (int i = 0; i < n; i++)
        cr_assert_eq(got[i], i);
    const wc_vp8_depack_stats *st = wc_vp8_depack_get_stats(d);
    cr_assert_eq(st->packets_recovered, 1);
    cr_assert_eq(st->packets_lost, 0);
    cr_assert_eq(st->frames_dropped, 0);

    /* A padding-only RTX probe (no OSN) is ignored; another payload type is refused. */
    weir_rtp_fields pf = {.ssrc = RTX_SSRC, .seq = 8, .payload_type = RTX_PT};
    uint8_t probe[64];
    int pl = weir_rtp_write(probe, sizeof probe, &pf, NULL, 0, 4);
    cr_assert_gt(pl, 0);
    cr_assert_eq(wc_vp8_depack_push_rtp(d, now, probe, (size_t)pl, VP8_PT, RTX_PT), 1);
    memcpy(probe, S.pkts[0].buf, 64);
    probe[1] = 111;
    cr_assert_eq(wc_vp8_depack_push_rtp(d, now, probe, 64, VP8_PT, RTX_PT), -WEIR_EINVAL);
    wc_vp8_depack_destroy(d);
    free_stream();
}

Test(client_vp8, unrecovered_loss_drops_frame_and_flags_gap)
{
    make_stream(12, 65530);
    int lost_frame = -1;
    size_t lost = pick_middle_packet(&lost_frame);
    wc_vp8_depack_config cfg = {.max_wait_us = 200000};
    wc_vp8_depack *d = wc_vp8_depack_create(&cfg);
    int got[64], n = 0;
    bool gap[64] = {0};
    int64_t now = 5000000;
    for (size_t i = 0; i < S.n; i++)
        if (i != lost) {
            push(d, now, i);
            n += drain(d, now, got + n, 64 - n, gap + n);
        }
    cr_assert_eq(n, lost_frame);
    n += drain(d, now + 199999, got + n, 64 - n, gap + n);
    cr_assert_eq(n, lost_frame, "still waiting just before max_wait");
    n += drain(d, now + 200000, got + n, 64 - n, gap + n);
    cr_assert_eq(n, 11, "every frame but the incomplete one");
    for (int i = 0; i < n; i++) {
        cr_assert_eq(got[i], i < lost_frame ? i : i + 1);
        cr_assert_eq(gap[i], i == lost_frame, "only the frame after the hole has after_gap");
    }
    const wc_vp8_depack_stats *st = wc_vp8_depack_get_stats(d);
    cr_assert_eq(st->packets_lost, 1);
    cr_assert_eq(st->frames_dropped, 1);
    cr_assert_eq(st->packets_recovered, 0);

    /* The late original is now too old: ignored, not a frame. */
    cr_assert_eq(push(d, now + 300000, lost), 1);
    wc_vp8_frame fr;
    cr_assert_eq(wc_vp8_depack_poll_frame(d, now + 300000, &fr), 0);
    wc_vp8_depack_destroy(d);
    free_stream();
}

Test(client_vp8, nack_lists_every_hole_oldest_first)
{
    make_stream(8, 1000);
    cr_assert_gt(S.n, 12);
    wc_vp8_depack *d = wc_vp8_depack_create(NULL);
    for (size_t i = 0; i < S.n; i++)
        if (i != 3 && i != 4 && i != 9)
            push(d, 0, i);
    uint16_t seqs[2];
    cr_assert_eq(wc_vp8_depack_nack(d, 0, seqs, 2), 2, "capped by cap");
    cr_assert_eq(seqs[0], 1003);
    cr_assert_eq(seqs[1], 1004);
    uint16_t more[8];
    cr_assert_eq(wc_vp8_depack_nack(d, 0, more, 8), 1, "the rest, once");
    cr_assert_eq(more[0], 1009);
    wc_vp8_depack_destroy(d);
    free_stream();
}
