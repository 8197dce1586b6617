/*
 * Transport-wide congestion control feedback (twcc.c): hand-built packets
 * covering run-length chunks, 1-bit and 2-bit status vectors, small, large
 * and negative deltas, sequence wrap and padding; every rejection; and
 * write → parse round trips.
 */
#include <criterion/criterion.h>

#include "support/assert_bytes.h"
#include <stdlib.h>
#include <string.h>

#include "proto/rtcp.h"
#include "proto/twcc.h"
#include "weir/errors.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define TICK WEIR_TWCC_DELTA_TICK_US

/* Packets are laid out one field per line; clang-format would pack them. */
/* clang-format off */

/*
 * Shaped like Chromium's feedback: 13 packets received, one lost, one
 * received 1 ms before the previous (a negative, hence large, delta).
 * libwebrtc encodes this as a 1-bit vector of 14 then a run of 1, and pads
 * with the P bit set — the bytes weir_twcc_write must reproduce.
 */
static const uint8_t CHROME_TWCC[] = {
    0xaf, 0xcd, 0x00, 0x09,         /* V=2 P=1 FMT=15, RTPFB, 10 words */
    0x00, 0x00, 0x00, 0x01,         /* sender SSRC */
    0x3c, 0x4d, 0x5e, 0x6f,         /* media SSRC */
    0x01, 0x2c,                     /* base seq 300 */
    0x00, 0x0f,                     /* 15 packets */
    0x1a, 0x2b, 0x3c,               /* reference time, 64 ms ticks */
    0x07,                           /* fb pkt count */
    0xbf, 0xfe,                     /* 1-bit vector: 13 received, 1 lost */
    0x40, 0x01,                     /* run length: 1 large delta */
    0x1c, 0x14, 0x00, 0x04, 0x50, 0x14, 0x14, 0x00, 0x08, 0x10, 0x14, 0x3c, 0x00,
    0xff, 0xfc,                     /* -4 ticks */
    0x01,                           /* padding count */
};

/* 2-bit vector, a run of 20 lost, a run of 1 small; seq wraps; negative reference time. */
static const uint8_t WRAP_TWCC[] = {
    0xaf, 0xcd, 0x00, 0x08,
    0x00, 0x00, 0x00, 0x01,
    0x11, 0x22, 0x33, 0x44,
    0xff, 0xfa,                     /* base seq 65530 */
    0x00, 0x1c,                     /* 28 packets */
    0xff, 0xff, 0xf0,               /* reference time -16 */
    0xff,                           /* fb pkt count 255 */
    0xd8, 0x61,                     /* 2-bit: small large lost small large lost small */
    0x00, 0x14,                     /* run length: 20 lost */
    0x20, 0x01,                     /* run length: 1 small */
    0x01, 0x01, 0x2c, 0x00, 0xff, 0xfe, 0xff, 0x04,
    0x00, 0x02,                     /* padding */
};

/*
 * A zero-length run, a 2-bit vector whose unused slots hold the reserved
 * symbol (ignored: past the status count), and zero padding without the P
 * bit, as some stacks send.
 */
static const uint8_t ODD_TWCC[] = {
    0x8f, 0xcd, 0x00, 0x06,
    0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x02,
    0x00, 0x00,                     /* base seq 0 */
    0x00, 0x02,                     /* 2 packets */
    0x00, 0x00, 0x00,
    0x00,
    0x00, 0x00,                     /* run length 0 */
    0xd7, 0xff,                     /* 2-bit: small, small, then 5 reserved slots */
    0x04, 0x08,
    0x00, 0x00,
};
/* clang-format on */

static const weir_twcc_entry CHROME_ENTRIES[] = {
    {7000, 300, true}, {5000, 301, true},  {0, 302, true}, {1000, 303, true}, {20000, 304, true},
    {5000, 305, true}, {5000, 306, true},  {0, 307, true}, {2000, 308, true}, {4000, 309, true},
    {5000, 310, true}, {15000, 311, true}, {0, 312, true}, {0, 313, false},   {-1000, 314, true},
};

static weir_rtcp_pkt one(const uint8_t *buf, size_t len)
{
    weir_rtcp_iter it;
    weir_rtcp_pkt p;
    weir_rtcp_iter_init(&it, buf, len);
    cr_assert_eq(weir_rtcp_iter_next(&it, &p), 1);
    cr_assert_eq(p.len, len, "one sub-packet filling the buffer");
    return p;
}

static void assert_entries(const weir_twcc_entry *got, size_t n, const weir_twcc_entry *want,
                           size_t want_n)
{
    cr_assert_eq(n, want_n, "%zu entries, want %zu", n, want_n);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(got[i].seq, want[i].seq, "entry %zu seq", i);
        cr_assert_eq(got[i].received, want[i].received, "entry %zu received", i);
        cr_assert_eq(got[i].delta_us, want[i].delta_us, "entry %zu delta %d, want %d", i,
                     got[i].delta_us, want[i].delta_us);
    }
}

Test(twcc, parse_chrome_feedback)
{
    weir_twcc h;
    weir_twcc_entry e[32];
    int n = weir_twcc_parse((weir_rtcp_pkt[]){one(CHROME_TWCC, sizeof CHROME_TWCC)}, &h, e, N(e));
    cr_assert_eq(n, 15);
    cr_assert_eq(h.sender_ssrc, 1);
    cr_assert_eq(h.media_ssrc, 0x3c4d5e6f);
    cr_assert_eq(h.base_seq, 300);
    cr_assert_eq(h.status_count, 15);
    cr_assert_eq(h.reference_time, 0x1a2b3c);
    cr_assert_eq(h.fb_count, 7);
    assert_entries(e, (size_t)n, CHROME_ENTRIES, N(CHROME_ENTRIES));
}

Test(twcc, write_reproduces_chrome_bytes)
{
    weir_twcc h = {
        .sender_ssrc = 1, .media_ssrc = 0x3c4d5e6f, .reference_time = 0x1a2b3c, .fb_count = 7};
    uint8_t out[64];
    int len = weir_twcc_write(out, sizeof out, &h, CHROME_ENTRIES, N(CHROME_ENTRIES));
    assert_bytes(out, (size_t)len, CHROME_TWCC, sizeof CHROME_TWCC);
    cr_assert_eq(
        weir_twcc_write(out, sizeof CHROME_TWCC - 1, &h, CHROME_ENTRIES, N(CHROME_ENTRIES)),
        -WEIR_ETOOBIG);
}

Test(twcc, two_bit_vector_runs_wrap_and_large_deltas)
{
    static const weir_twcc_entry want_head[] = {
        {250, 65530, true},  {75000, 65531, true}, {0, 65532, false}, {0, 65533, true},
        {-500, 65534, true}, {0, 65535, false},    {63750, 0, true},
    };
    weir_twcc h;
    weir_twcc_entry e[32];
    int n = weir_twcc_parse((weir_rtcp_pkt[]){one(WRAP_TWCC, sizeof WRAP_TWCC)}, &h, e, N(e));
    cr_assert_eq(n, 28);
    cr_assert_eq(h.base_seq, 65530);
    cr_assert_eq(h.reference_time, -16);
    cr_assert_eq(h.fb_count, 255);
    assert_entries(e, 7, want_head, 7);
    for (int i = 7; i < 27; i++) {
        cr_assert_eq(e[i].seq, i - 6);
        cr_assert_not(e[i].received, "seq %d lost", i - 6);
        cr_assert_eq(e[i].delta_us, 0);
    }
    cr_assert_eq(e[27].seq, 21);
    cr_assert(e[27].received);
    cr_assert_eq(e[27].delta_us, 1000);

    uint8_t out[64];
    int len = weir_twcc_write(out, sizeof out, &h, e, (size_t)n);
    assert_bytes(out, (size_t)len, WRAP_TWCC, sizeof WRAP_TWCC);
}

Test(twcc, zero_runs_unused_vector_slots_and_trailing_zeros)
{
    static const weir_twcc_entry want[] = {{1000, 0, true}, {2000, 1, true}};
    weir_twcc h;
    weir_twcc_entry e[4];
    int n = weir_twcc_parse((weir_rtcp_pkt[]){one(ODD_TWCC, sizeof ODD_TWCC)}, &h, e, N(e));
    assert_entries(e, (size_t)n, want, N(want));
    cr_assert_eq(h.media_ssrc, 2);
}

Test(twcc, iterator_matches_parse)
{
    weir_twcc h, h2;
    weir_twcc_iter it;
    weir_twcc_entry arr[32], e;
    weir_rtcp_pkt p = one(WRAP_TWCC, sizeof WRAP_TWCC);
    int n = weir_twcc_parse(&p, &h, arr, N(arr));
    cr_assert_eq(weir_twcc_iter_init(&it, &p, &h2), 0);
    cr_assert_eq(h2.base_seq, h.base_seq);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(weir_twcc_iter_next(&it, &e), 1);
        assert_entries(&e, 1, &arr[i], 1);
    }
    cr_assert_eq(weir_twcc_iter_next(&it, &e), 0);
    cr_assert_eq(weir_twcc_iter_next(&it, &e), 0);
}

Test(twcc, parse_needs_room_for_every_entry)
{
    weir_twcc h = {.base_seq = 9};
    weir_twcc_entry e[27];
    weir_rtcp_pkt p = one(WRAP_TWCC, sizeof WRAP_TWCC);
    cr_assert_eq(weir_twcc_parse(&p, &h, e, N(e)), -WEIR_ETOOBIG);
    cr_assert_eq(h.base_seq, 9, "untouched on error");
}

struct reject_row {
    const char *name;
    uint8_t type, fmt;
    uint8_t body[32]; /* after the common header */
    size_t body_len;
};

/* Wraps body in a common header, padding with the P bit when body_len is not a word multiple. */
static size_t build(uint8_t *out, const struct reject_row *r)
{
    size_t padded = (r->body_len + 3) & ~(size_t)3;
    size_t pad = padded - r->body_len;
    weir_rtcp_header_write(out, r->fmt, r->type, 4 + padded, pad > 0);
    memcpy(out + 4, r->body, r->body_len);
    if (pad) {
        memset(out + 4 + r->body_len, 0, pad);
        out[4 + padded - 1] = (uint8_t)pad;
    }
    return 4 + padded;
}

#define SSRCS 0, 0, 0, 1, 0, 0, 0, 2

Test(twcc, rejects)
{
    /* clang-format off */
    const struct reject_row rows[] = {
        {"status count 0", 205, 15, {SSRCS, 0, 0, 0, 0, 0, 0, 0, 0, 0x20, 0x01, 0x04, 0}, 20},
        {"reserved symbol in a run", 205, 15,
         {SSRCS, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x01, 0, 0}, 20},
        {"reserved symbol in a 2-bit vector", 205, 15,
         {SSRCS, 0, 0, 0, 2, 0, 0, 0, 0, 0xdc, 0x00, 1, 1}, 20},
        {"chunks run out", 205, 15, {SSRCS, 0, 0, 0, 20, 0, 0, 0, 0, 0x80, 0x00}, 18},
        {"no chunk at all", 205, 15, {SSRCS, 0, 0, 0, 1, 0, 0, 0, 0}, 16},
        {"small delta missing", 205, 15, {SSRCS, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 0x01}, 18},
        {"large delta cut", 205, 15, {SSRCS, 0, 0, 0, 1, 0, 0, 0, 0, 0x40, 0x01, 0xff}, 19},
        {"deltas of a long run missing", 205, 15,
         {SSRCS, 0, 0, 0x1f, 0xff, 0, 0, 0, 0, 0x3f, 0xff, 1, 1, 1, 1}, 22},
        {"header cut", 205, 15, {SSRCS, 0, 0, 0, 1, 0, 0, 0}, 15},
        {"NACK FMT", 205, 1, {SSRCS, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 0x01, 0x04, 0}, 20},
        {"PSFB", 206, 15, {SSRCS, 0, 0, 0, 1, 0, 0, 0, 0, 0x20, 0x01, 0x04, 0}, 20},
    };
    /* clang-format on */
    for (size_t r = 0; r < N(rows); r++) {
        uint8_t buf[64];
        size_t len = build(buf, &rows[r]);
        uint8_t *b = malloc(len);
        memcpy(b, buf, len);
        weir_rtcp_pkt p = one(b, len);
        cr_assert_eq(p.body_len, rows[r].body_len, "%s", rows[r].name);
        weir_twcc h = {.base_seq = 77};
        weir_twcc_iter it;
        weir_twcc_entry e[8] = {{.seq = 5}};
        cr_assert_eq(weir_twcc_parse(&p, &h, e, N(e)), -WEIR_EINVAL, "%s", rows[r].name);
        cr_assert_eq(weir_twcc_iter_init(&it, &p, &h), -WEIR_EINVAL, "%s", rows[r].name);
        cr_assert_eq(h.base_seq, 77, "%s: untouched", rows[r].name);
        cr_assert_eq(e[0].seq, 5, "%s: untouched", rows[r].name);
        free(b);
    }
}

/* A body cut anywhere before its last delta is rejected; trailing bytes are not needed. */
Test(twcc, truncated_at_every_length)
{
    const struct {
        const uint8_t *buf;
        size_t len;
        uint32_t needed; /* body bytes up to the last delta */
    } pkts[] = {
        {CHROME_TWCC, sizeof CHROME_TWCC, 35},
        {WRAP_TWCC, sizeof WRAP_TWCC, 30},
        {ODD_TWCC, sizeof ODD_TWCC, 22},
    };
    for (size_t k = 0; k < N(pkts); k++) {
        weir_rtcp_pkt full = one(pkts[k].buf, pkts[k].len);
        for (uint32_t blen = 0; blen <= full.body_len; blen++) {
            uint8_t *body = malloc(blen ? blen : 1);
            memcpy(body, full.body, blen);
            weir_rtcp_pkt p = full;
            p.body = body;
            p.body_len = blen;
            weir_twcc h;
            weir_twcc_entry e[32];
            int rc = weir_twcc_parse(&p, &h, e, N(e));
            if (blen < pkts[k].needed)
                cr_assert_eq(rc, -WEIR_EINVAL, "pkt %zu body %u", k, blen);
            else
                cr_assert_gt(rc, 0, "pkt %zu body %u", k, blen);
            free(body);
        }
        /* and the datagram cut anywhere is refused by the compound iterator */
        for (size_t len = 0; len < pkts[k].len; len++) {
            uint8_t *b = malloc(len ? len : 1);
            memcpy(b, pkts[k].buf, len);
            cr_assert_eq(weir_rtcp_validate(b, len), -WEIR_EINVAL);
            free(b);
        }
    }
}

/* ---- writer ---- */

Test(twcc, long_runs_split_at_8191)
{
    const size_t n = 10001;
    weir_twcc_entry *e = calloc(n, sizeof *e);
    for (size_t i = 0; i < n; i++)
        e[i].seq = (uint16_t)(60000 + i);
    e[n - 1].received = true;
    e[n - 1].delta_us = 1000;
    weir_twcc h = {.sender_ssrc = 1, .media_ssrc = 2};
    uint8_t out[64];
    int len = weir_twcc_write(out, sizeof out, &h, e, n);
    cr_assert_eq(len, 28); /* 20 + three chunks + one delta, padded */
    static const uint8_t chunks[] = {0x1f, 0xff, 0x07, 0x11, 0x20, 0x01, 0x04};
    assert_bytes(out + 20, sizeof chunks, chunks, sizeof chunks);

    weir_twcc_entry *got = calloc(n, sizeof *got);
    weir_twcc hh;
    int m = weir_twcc_parse((weir_rtcp_pkt[]){one(out, (size_t)len)}, &hh, got, n);
    assert_entries(got, (size_t)m, e, n);
    free(e);
    free(got);
}

Test(twcc, delta_boundaries)
{
    /* clang-format off */
    const struct {
        int32_t delta_us;
        int rc;           /* of the writer */
        size_t delta_len; /* 1 small, 2 large */
    } rows[] = {
        {0, 0, 1},
        {255 * TICK, 0, 1},
        {256 * TICK, 0, 2},
        {-TICK, 0, 2},
        {32767 * TICK, 0, 2},
        {-32768 * TICK, 0, 2},
        {32768 * TICK, -WEIR_EINVAL, 0},
        {-32769 * TICK, -WEIR_EINVAL, 0},
        {100, -WEIR_EINVAL, 0},
        {-125, -WEIR_EINVAL, 0},
    };
    /* clang-format on */
    for (size_t i = 0; i < N(rows); i++) {
        weir_twcc_entry e = {.seq = 1, .received = true, .delta_us = rows[i].delta_us};
        weir_twcc h = {0};
        uint8_t out[32];
        int len = weir_twcc_write(out, sizeof out, &h, &e, 1);
        if (rows[i].rc < 0) {
            cr_assert_eq(len, rows[i].rc, "row %zu", i);
            continue;
        }
        cr_assert_eq(len, 24, "row %zu", i);
        /* 20 + one chunk + the delta: a small delta leaves one byte of padding */
        bool padded = rows[i].delta_len == 1;
        cr_assert_eq((out[0] & 0x20) != 0, padded, "row %zu P bit", i);
        if (padded)
            cr_assert_eq(out[len - 1], 1, "row %zu padding count", i);
        weir_twcc_entry got;
        weir_twcc hh;
        cr_assert_eq(weir_twcc_parse((weir_rtcp_pkt[]){one(out, (size_t)len)}, &hh, &got, 1), 1);
        assert_entries(&got, 1, &e, 1);
    }
    /* a lost entry's delta is never looked at */
    weir_twcc_entry lost = {.seq = 1, .received = false, .delta_us = 77};
    uint8_t out[32];
    cr_assert_eq(weir_twcc_write(out, sizeof out, &(weir_twcc){0}, &lost, 1), 24);
}

Test(twcc, writer_rejects)
{
    weir_twcc_entry e[3] = {{0, 10, true}, {0, 11, true}, {0, 13, true}};
    weir_twcc h = {0};
    uint8_t out[64];
    cr_assert_eq(weir_twcc_write(out, sizeof out, &h, e, 0), -WEIR_EINVAL);
    cr_assert_eq(weir_twcc_write(out, sizeof out, &h, e, 3), -WEIR_EINVAL, "seq gap");
    cr_assert_eq(weir_twcc_write(out, sizeof out, &h, e, 2), 24);
    cr_assert_eq(weir_twcc_write(out, 23, &h, e, 2), -WEIR_ETOOBIG);
    cr_assert_eq(weir_twcc_write(out, sizeof out, &h, e, 65536), -WEIR_EINVAL);
}

Test(twcc, reference_time_is_24_bit_signed)
{
    const int32_t rows[][2] = {
        {0, 0},
        {-1, -1},
        {0x7fffff, 0x7fffff},
        {-0x800000, -0x800000},
        {0x800000, -0x800000},
        {0x1000001, 1},
    };
    for (size_t i = 0; i < N(rows); i++) {
        weir_twcc h = {.reference_time = rows[i][0]}, got;
        weir_twcc_entry e = {.seq = 0}, ge;
        uint8_t out[32];
        int len = weir_twcc_write(out, sizeof out, &h, &e, 1);
        cr_assert_eq(weir_twcc_parse((weir_rtcp_pkt[]){one(out, (size_t)len)}, &got, &ge, 1), 1);
        cr_assert_eq(got.reference_time, rows[i][1], "row %zu", i);
    }
}

static uint32_t rng_next(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s >> 8;
}

/* Random feedback of every shape: write → parse gives back exactly the entries. */
Test(twcc, round_trip_random)
{
    static const int32_t deltas[] = {0, 1, 2, 40, 255, 256, 1000, 32767, -1, -2, -32768};
    static weir_twcc_entry e[2000], got[2000];
    static uint8_t out[8192];
    uint32_t s = 42;
    unsigned runs = 0, one_bit = 0, two_bit = 0;
    for (int round = 0; round < 400; round++) {
        size_t n = 1 + rng_next(&s) % N(e);
        uint16_t base = (uint16_t)rng_next(&s);
        unsigned loss = rng_next(&s) % 100, large = rng_next(&s) % 30;
        for (size_t i = 0; i < n; i++) {
            /* bursts: keep the previous state half the time, so runs form */
            bool received = i && rng_next(&s) % 2 ? e[i - 1].received : rng_next(&s) % 100 >= loss;
            int32_t ticks = rng_next(&s) % 100 < large ? deltas[rng_next(&s) % N(deltas)]
                                                       : (int32_t)(rng_next(&s) % 80);
            e[i] = (weir_twcc_entry){
                .seq = (uint16_t)(base + i),
                .received = received,
                .delta_us = received ? ticks * TICK : 0,
            };
        }
        weir_twcc h = {.sender_ssrc = rng_next(&s),
                       .media_ssrc = rng_next(&s),
                       .reference_time = (int32_t)(rng_next(&s) & 0x7fffff) - 0x400000,
                       .fb_count = (uint8_t)round};
        int len = weir_twcc_write(out, sizeof out, &h, e, n);
        cr_assert_gt(len, 0, "round %d: %d", round, len);
        cr_assert_eq(len % 4, 0);
        weir_rtcp_pkt p = one(out, (size_t)len);
        weir_twcc hh;
        int m = weir_twcc_parse(&p, &hh, got, N(got));
        cr_assert_eq(hh.sender_ssrc, h.sender_ssrc);
        cr_assert_eq(hh.media_ssrc, h.media_ssrc);
        cr_assert_eq(hh.reference_time, h.reference_time);
        cr_assert_eq(hh.fb_count, h.fb_count);
        cr_assert_eq(hh.base_seq, base);
        assert_entries(got, (size_t)m, e, n);

        /* count chunk kinds so the test proves it exercised all three */
        weir_twcc_iter it;
        weir_twcc_iter_init(&it, &p, &hh);
        for (const uint8_t *c = p.body + 16; c < it.delta_next; c += 2) {
            if (!(c[0] & 0x80))
                runs++;
            else if (c[0] & 0x40)
                two_bit++;
            else
                one_bit++;
        }
    }
    cr_assert_gt(runs, 100);
    cr_assert_gt(one_bit, 100);
    cr_assert_gt(two_bit, 100);
}

Test(twcc, largest_feedback_round_trips)
{
    const size_t n = 65535;
    weir_twcc_entry *e = calloc(n, sizeof *e), *got = calloc(n, sizeof *got);
    for (size_t i = 0; i < n; i++) {
        e[i].seq = (uint16_t)(i + 1);
        e[i].received = i % 3 != 0;
        e[i].delta_us =
            e[i].received ? (int32_t)((i % 7 == 0) ? -TICK : (int32_t)(i % 200) * TICK) : 0;
    }
    size_t cap = 4 * 65536;
    uint8_t *out = malloc(cap);
    weir_twcc h = {0}, hh;
    int len = weir_twcc_write(out, cap, &h, e, n);
    cr_assert_gt(len, 0);
    int m = weir_twcc_parse((weir_rtcp_pkt[]){one(out, (size_t)len)}, &hh, got, n);
    assert_entries(got, (size_t)m, e, n);
    free(e);
    free(got);
    free(out);
}
