/*
 * RTCP compound iteration, SR / RR / SDES / BYE (rtcp.c) and the feedback
 * messages NACK / PLI / FIR / REMB (rtcp_fb.c). Transport-cc feedback has
 * its own file, test_twcc.c. Truncation tests copy into exactly sized heap
 * buffers so ASan sees any read past the end.
 */
#include <criterion/criterion.h>

#include "support/assert_bytes.h"
#include <stdlib.h>
#include <string.h>

#include "proto/rtcp.h"
#include "proto/rtcp_fb.h"
#include "weir/errors.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Packets are laid out one field per line; clang-format would pack them. */
/* clang-format off */

/*
 * A regular compound packet as Chromium sends it from a receive-only peer
 * with goog-remb negotiated: RR with one report block (sender SSRC 1,
 * libwebrtc's default when it has no send stream), SDES with its 16-character
 * random CNAME, REMB for the stream at 1.5 Mbps.
 */
static const uint8_t CHROME_RR_SDES_REMB[] = {
    0x81, 0xc9, 0x00, 0x07,         /* RR, RC=1, 8 words */
    0x00, 0x00, 0x00, 0x01,         /* sender SSRC */
    0x3c, 0x4d, 0x5e, 0x6f,         /* source SSRC */
    0x0a, 0x00, 0x00, 0x1c,         /* fraction lost 10/256, cumulative 28 */
    0x00, 0x01, 0x1a, 0x2b,         /* extended highest seq: cycle 1, 6699 */
    0x00, 0x00, 0x01, 0x2c,         /* jitter 300 */
    0xe3, 0x9a, 0x42, 0x10,         /* LSR */
    0x00, 0x01, 0x40, 0x00,         /* DLSR 1.25 s */
    0x81, 0xca, 0x00, 0x06,         /* SDES, SC=1, 7 words */
    0x00, 0x00, 0x00, 0x01,
    0x01, 0x10, 'k', '3', 'Z', 'x', '8', 'N', 'w', '0', 'Q', 'm', '1', 'T', 'r', '5', 'Y', 'a',
    0x00, 0x00,                     /* end of items, pad to the word */
    0x8f, 0xce, 0x00, 0x05,         /* PSFB FMT 15 (AFB), 6 words */
    0x00, 0x00, 0x00, 0x01,         /* sender SSRC */
    0x00, 0x00, 0x00, 0x00,         /* media SSRC: always 0 for REMB */
    'R', 'E', 'M', 'B',
    0x01, 0x0e, 0xdc, 0x6c,         /* 1 SSRC, exp 3, mantissa 187500 */
    0x3c, 0x4d, 0x5e, 0x6f,
};

/* SR from a sender with one report block whose cumulative loss is negative (duplicates). */
static const uint8_t SR_ONE_BLOCK[] = {
    0x81, 0xc8, 0x00, 0x0c,         /* SR, RC=1, 13 words */
    0x3c, 0x4d, 0x5e, 0x6f,         /* sender SSRC */
    0xe9, 0x3c, 0x6a, 0x80,         /* NTP seconds */
    0x12, 0x34, 0x56, 0x78,         /* NTP fraction */
    0x5e, 0x3a, 0x1c, 0x40,         /* RTP timestamp */
    0x00, 0x00, 0x04, 0xd2,         /* 1234 packets */
    0x00, 0x10, 0x00, 0x00,         /* 1 MiB */
    0x11, 0x22, 0x33, 0x44,
    0xff, 0xff, 0xff, 0xfe,         /* fraction 255, cumulative -2 */
    0x00, 0x00, 0xff, 0xff,
    0x00, 0x00, 0x00, 0x10,
    0x6a, 0x80, 0x12, 0x34,
    0x00, 0x00, 0x80, 0x00,
};

static const uint8_t BYE_REASON[] = {
    0x81, 0xcb, 0x00, 0x03,
    0x3c, 0x4d, 0x5e, 0x6f,
    0x07, 'g', 'o', 'o', 'd', 'b', 'y', 'e',
};

/* Chromium's NACK: PID 6699, BLP 0x8005 = 6700, 6702 and 6715 also lost. */
static const uint8_t CHROME_NACK[] = {
    0x81, 0xcd, 0x00, 0x03,
    0x00, 0x00, 0x00, 0x01,
    0x3c, 0x4d, 0x5e, 0x6f,
    0x1a, 0x2b, 0x80, 0x05,
};

static const uint8_t PLI[] = {
    0x81, 0xce, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x3c, 0x4d, 0x5e, 0x6f,
};

static const uint8_t FIR_TWO[] = {
    0x84, 0xce, 0x00, 0x06,
    0x00, 0x00, 0x00, 0x01,
    0x00, 0x00, 0x00, 0x00,
    0x3c, 0x4d, 0x5e, 0x6f, 0x03, 0x00, 0x00, 0x00,
    0x11, 0x22, 0x33, 0x44, 0xff, 0x00, 0x00, 0x00,
};
/* clang-format on */

/* The single sub-packet of buf, which must be exactly one. */
static weir_rtcp_pkt one(const uint8_t *buf, size_t len)
{
    weir_rtcp_iter it;
    weir_rtcp_pkt p;
    weir_rtcp_iter_init(&it, buf, len);
    cr_assert_eq(weir_rtcp_iter_next(&it, &p), 1);
    cr_assert_eq(weir_rtcp_iter_next(&it, &p), 0);
    weir_rtcp_iter_init(&it, buf, len);
    weir_rtcp_iter_next(&it, &p);
    return p;
}

/* ---- compound iteration ---- */

Test(rtcp, iterate_chrome_compound)
{
    weir_rtcp_iter it;
    weir_rtcp_pkt p;
    const struct {
        uint8_t type, count;
        uint32_t len;
    } want[] = {{WEIR_RTCP_RR, 1, 32}, {WEIR_RTCP_SDES, 1, 28}, {WEIR_RTCP_PSFB, 15, 24}};
    size_t n = 0, off = 0;

    weir_rtcp_iter_init(&it, CHROME_RR_SDES_REMB, sizeof CHROME_RR_SDES_REMB);
    while (weir_rtcp_iter_next(&it, &p) == 1) {
        cr_assert_lt(n, N(want));
        cr_assert_eq(p.type, want[n].type, "#%zu", n);
        cr_assert_eq(p.count, want[n].count, "#%zu", n);
        cr_assert_eq(p.len, want[n].len, "#%zu", n);
        cr_assert_eq(p.body_len, want[n].len - 4, "#%zu", n);
        cr_assert_eq(p.data, CHROME_RR_SDES_REMB + off);
        cr_assert_eq(p.body, p.data + 4);
        off += p.len;
        n++;
    }
    cr_assert_eq(n, N(want));
    cr_assert_eq(weir_rtcp_validate(CHROME_RR_SDES_REMB, sizeof CHROME_RR_SDES_REMB), 3);
    cr_assert(weir_rtcp_is_rtcp(CHROME_RR_SDES_REMB, sizeof CHROME_RR_SDES_REMB));
}

Test(rtcp, is_rtcp_demux)
{
    /* RFC 5761 §4: second byte 192..223 is RTCP; RTP PT 96 with or without marker is not */
    const struct {
        uint8_t b[4];
        size_t len;
        bool want;
    } rows[] = {
        {{0x80, 0xc8, 0, 6}, 4, true},  {{0x80, 0xdf, 0, 0}, 4, true},
        {{0x80, 0xc0, 0, 0}, 4, true},  {{0x80, 0xbf, 0, 0}, 4, false},
        {{0x80, 0xe0, 0, 0}, 4, false}, {{0x80, 0x60, 0, 0}, 4, false},
        {{0x80, 0xe0, 0, 0}, 4, false}, {{0x40, 0xc8, 0, 6}, 4, false},
        {{0x80, 0xc8, 0, 6}, 3, false},
    };
    for (size_t i = 0; i < N(rows); i++)
        cr_assert_eq(weir_rtcp_is_rtcp(rows[i].b, rows[i].len), rows[i].want, "row %zu", i);
}

struct iter_reject_row {
    const char *name;
    uint8_t buf[16];
    size_t len;
    int good_before; /* sub-packets yielded before the error */
};

Test(rtcp, iterator_rejects)
{
    /* clang-format off */
    const struct iter_reject_row rows[] = {
        {"3-byte header", {0x80, 0xc9, 0x00}, 3, 0},
        {"version 1", {0x40, 0xc9, 0x00, 0x01, 0, 0, 0, 1}, 8, 0},
        {"version 0", {0x00, 0xc9, 0x00, 0x01, 0, 0, 0, 1}, 8, 0},
        {"length past the end", {0x80, 0xc9, 0x00, 0x02, 0, 0, 0, 1}, 8, 0},
        {"padding count 0", {0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 0}, 8, 0},
        {"padding longer than body", {0xa0, 0xc9, 0x00, 0x01, 0, 0, 0, 5}, 8, 0},
        {"padding of an empty body", {0xa0, 0xc9, 0x00, 0x00}, 4, 0},
        {"second header cut", {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0x80, 0xc9}, 10, 1},
        {"second length past the end",
         {0x80, 0xc9, 0x00, 0x01, 0, 0, 0, 1, 0x80, 0xc9, 0x00, 0x01}, 12, 1},
    };
    /* clang-format on */
    for (size_t i = 0; i < N(rows); i++) {
        uint8_t *b = malloc(rows[i].len);
        memcpy(b, rows[i].buf, rows[i].len);
        weir_rtcp_iter it;
        weir_rtcp_pkt p;
        int rc, good = 0;
        weir_rtcp_iter_init(&it, b, rows[i].len);
        while ((rc = weir_rtcp_iter_next(&it, &p)) == 1)
            good++;
        cr_assert_eq(rc, -WEIR_EINVAL, "%s", rows[i].name);
        cr_assert_eq(good, rows[i].good_before, "%s", rows[i].name);
        cr_assert_eq(weir_rtcp_iter_next(&it, &p), 0, "%s: finished after an error", rows[i].name);
        cr_assert_eq(weir_rtcp_validate(b, rows[i].len), -WEIR_EINVAL, "%s", rows[i].name);
        free(b);
    }
    cr_assert_eq(weir_rtcp_validate(NULL, 0), -WEIR_EINVAL, "empty compound");
}

Test(rtcp, padding_is_removed_from_the_body)
{
    /* RR with no blocks, padded by 4 bytes (count in the last octet) */
    static const uint8_t b[] = {0xa0, 0xc9, 0x00, 0x02, 0, 0, 0, 9, 0, 0, 0, 4};
    weir_rtcp_pkt p = one(b, sizeof b);
    cr_assert_eq(p.len, 12);
    cr_assert_eq(p.body_len, 4);
    weir_rtcp_rr rr;
    cr_assert_eq(weir_rtcp_rr_parse(&p, &rr), 0);
    cr_assert_eq(rr.ssrc, 9);
}

/* Every prefix is rejected except those that end exactly on a sub-packet boundary. */
Test(rtcp, compound_truncated_at_every_length)
{
    const size_t n = sizeof CHROME_RR_SDES_REMB;
    for (size_t len = 0; len < n; len++) {
        uint8_t *b = malloc(len ? len : 1);
        memcpy(b, CHROME_RR_SDES_REMB, len);
        int rc = weir_rtcp_validate(b, len);
        if (len == 32)
            cr_assert_eq(rc, 1);
        else if (len == 60)
            cr_assert_eq(rc, 2);
        else
            cr_assert_eq(rc, -WEIR_EINVAL, "len %zu", len);
        free(b);
    }
}

/* ---- SR / RR ---- */

Test(rtcp, chrome_rr_parse_and_write)
{
    weir_rtcp_pkt p = one(CHROME_RR_SDES_REMB, 32);
    weir_rtcp_rr rr;
    weir_rtcp_report_block b;
    cr_assert_eq(weir_rtcp_rr_parse(&p, &rr), 0);
    cr_assert_eq(rr.ssrc, 1);
    cr_assert_eq(rr.blocks.count, 1);
    cr_assert_eq(weir_rtcp_block_parse(rr.blocks, 0, &b), 0);
    cr_assert_eq(b.ssrc, 0x3c4d5e6f);
    cr_assert_eq(b.fraction_lost, 10);
    cr_assert_eq(b.cumulative_lost, 28);
    cr_assert_eq(b.highest_seq, 0x00011a2b);
    cr_assert_eq(b.jitter, 300);
    cr_assert_eq(b.lsr, 0xe39a4210);
    cr_assert_eq(b.dlsr, 0x00014000);
    cr_assert_eq(weir_rtcp_block_parse(rr.blocks, 1, &b), -WEIR_EINVAL);

    uint8_t out[64];
    int len = weir_rtcp_rr_write(out, sizeof out, 1, &b, 1);
    assert_bytes(out, (size_t)len, CHROME_RR_SDES_REMB, 32);
    cr_assert_eq(weir_rtcp_rr_write(out, 31, 1, &b, 1), -WEIR_ETOOBIG);

    weir_rtcp_sr sr;
    cr_assert_eq(weir_rtcp_sr_parse(&p, &sr), -WEIR_EINVAL, "an RR is not an SR");
}

Test(rtcp, sr_parse_and_write)
{
    weir_rtcp_pkt p = one(SR_ONE_BLOCK, sizeof SR_ONE_BLOCK);
    weir_rtcp_sr sr;
    weir_rtcp_report_block b;
    cr_assert_eq(weir_rtcp_sr_parse(&p, &sr), 0);
    cr_assert_eq(sr.ssrc, 0x3c4d5e6f);
    cr_assert_eq(sr.ntp, 0xe93c6a8012345678ull);
    cr_assert_eq(weir_rtcp_ntp_mid32(sr.ntp), 0x6a801234);
    cr_assert_eq(sr.rtp_ts, 0x5e3a1c40);
    cr_assert_eq(sr.packet_count, 1234);
    cr_assert_eq(sr.octet_count, 1 << 20);
    cr_assert_eq(sr.blocks.count, 1);
    cr_assert_eq(weir_rtcp_block_parse(sr.blocks, 0, &b), 0);
    cr_assert_eq(b.fraction_lost, 255);
    cr_assert_eq(b.cumulative_lost, -2);
    cr_assert_eq(b.lsr, 0x6a801234);

    uint8_t out[64];
    int len = weir_rtcp_sr_write(out, sizeof out, &sr, &b, 1);
    assert_bytes(out, (size_t)len, SR_ONE_BLOCK, sizeof SR_ONE_BLOCK);
    cr_assert_eq(weir_rtcp_sr_write(out, sizeof SR_ONE_BLOCK - 1, &sr, &b, 1), -WEIR_ETOOBIG);

    weir_rtcp_rr rr;
    cr_assert_eq(weir_rtcp_rr_parse(&p, &rr), -WEIR_EINVAL, "an SR is not an RR");
}

Test(rtcp, report_blocks_round_trip_and_clamp)
{
    weir_rtcp_report_block blocks[WEIR_RTCP_MAX_COUNT + 1];
    for (size_t i = 0; i < N(blocks); i++) {
        blocks[i] = (weir_rtcp_report_block){
            .ssrc = (uint32_t)(0x1000 + i),
            .fraction_lost = (uint8_t)(i * 8),
            .cumulative_lost = (int32_t)(i * 100000) - 1000000,
            .highest_seq = (uint32_t)(i << 16 | i),
            .jitter = (uint32_t)i * 3,
            .lsr = (uint32_t)~i,
            .dlsr = (uint32_t)i * 65536,
        };
    }
    uint8_t out[1024];
    cr_assert_eq(weir_rtcp_rr_write(out, sizeof out, 5, blocks, 32), -WEIR_EINVAL, "RC is 5 bits");
    weir_rtcp_sr info = {.ssrc = 5};
    cr_assert_eq(weir_rtcp_sr_write(out, sizeof out, &info, blocks, 32), -WEIR_EINVAL);

    int len = weir_rtcp_rr_write(out, sizeof out, 5, blocks, 31);
    cr_assert_eq(len, 8 + 31 * 24);
    weir_rtcp_rr rr;
    cr_assert_eq(weir_rtcp_rr_parse((weir_rtcp_pkt[]){one(out, (size_t)len)}, &rr), 0);
    cr_assert_eq(rr.blocks.count, 31);
    for (size_t i = 0; i < 31; i++) {
        weir_rtcp_report_block b;
        cr_assert_eq(weir_rtcp_block_parse(rr.blocks, i, &b), 0);
        cr_assert_eq(b.ssrc, blocks[i].ssrc);
        cr_assert_eq(b.fraction_lost, blocks[i].fraction_lost);
        cr_assert_eq(b.cumulative_lost, blocks[i].cumulative_lost);
        cr_assert_eq(b.highest_seq, blocks[i].highest_seq);
        cr_assert_eq(b.jitter, blocks[i].jitter);
        cr_assert_eq(b.lsr, blocks[i].lsr);
        cr_assert_eq(b.dlsr, blocks[i].dlsr);
    }

    /* cumulative lost outside 24 bits saturates rather than wrapping */
    const int32_t clamp[][2] = {
        {0x7fffff, 0x7fffff},   {0x800000, 0x7fffff},   {INT32_MAX, 0x7fffff},
        {-0x800000, -0x800000}, {-0x800001, -0x800000}, {INT32_MIN, -0x800000},
    };
    for (size_t i = 0; i < N(clamp); i++) {
        weir_rtcp_report_block b = {.cumulative_lost = clamp[i][0]}, got;
        weir_rtcp_pkt p;
        weir_rtcp_rr r;
        len = weir_rtcp_rr_write(out, sizeof out, 1, &b, 1);
        p = one(out, (size_t)len);
        cr_assert_eq(weir_rtcp_rr_parse(&p, &r), 0);
        weir_rtcp_block_parse(r.blocks, 0, &got);
        cr_assert_eq(got.cumulative_lost, clamp[i][1], "row %zu", i);
    }
}

Test(rtcp, report_count_beyond_body_rejected)
{
    /* RC says 2 blocks, body holds 1; SR says 1, body holds none */
    uint8_t rr[32], sr[28];
    memcpy(rr, CHROME_RR_SDES_REMB, 32);
    rr[0] = 0x82;
    memcpy(sr, SR_ONE_BLOCK, 28);
    sr[3] = 0x06;
    weir_rtcp_rr r = {.ssrc = 77};
    weir_rtcp_sr s = {.ssrc = 77};
    cr_assert_eq(weir_rtcp_rr_parse((weir_rtcp_pkt[]){one(rr, 32)}, &r), -WEIR_EINVAL);
    cr_assert_eq(weir_rtcp_sr_parse((weir_rtcp_pkt[]){one(sr, 28)}, &s), -WEIR_EINVAL);
    cr_assert_eq(r.ssrc, 77, "untouched on error");
    cr_assert_eq(s.ssrc, 77, "untouched on error");
}

/* ---- SDES ---- */

Test(rtcp, chrome_sdes_cname_and_writer)
{
    weir_rtcp_pkt p = one(CHROME_RR_SDES_REMB + 32, 28);
    weir_rtcp_sdes_iter it;
    weir_rtcp_sdes_chunk c;
    cr_assert_eq(weir_rtcp_sdes_iter_init(&it, &p), 0);
    cr_assert_eq(weir_rtcp_sdes_iter_next(&it, &c), 1);
    cr_assert_eq(c.ssrc, 1);
    cr_assert_eq(c.cname_len, 16);
    cr_assert_eq(memcmp(c.cname, "k3Zx8Nw0Qm1Tr5Ya", 16), 0);
    cr_assert_eq(weir_rtcp_sdes_iter_next(&it, &c), 0);

    uint8_t out[300];
    int len = weir_rtcp_sdes_write(out, sizeof out, 1, "k3Zx8Nw0Qm1Tr5Ya", 16);
    assert_bytes(out, (size_t)len, CHROME_RR_SDES_REMB + 32, 28);
    cr_assert_eq(weir_rtcp_sdes_write(out, 27, 1, "k3Zx8Nw0Qm1Tr5Ya", 16), -WEIR_ETOOBIG);
    cr_assert_eq(weir_rtcp_sdes_write(out, sizeof out, 1, "x", 256), -WEIR_EINVAL);
}

Test(rtcp, sdes_writer_round_trip_every_length)
{
    char cname[256];
    memset(cname, 'c', sizeof cname);
    for (size_t n = 0; n <= 255; n++) {
        uint8_t out[300];
        int len = weir_rtcp_sdes_write(out, sizeof out, 0xabcd, cname, n);
        cr_assert_gt(len, 0);
        cr_assert_eq(len % 4, 0);
        cr_assert_geq((size_t)len, 4 + 4 + 2 + n + 1, "room for the null octet");
        weir_rtcp_pkt p = one(out, (size_t)len);
        weir_rtcp_sdes_iter it;
        weir_rtcp_sdes_chunk c;
        weir_rtcp_sdes_iter_init(&it, &p);
        cr_assert_eq(weir_rtcp_sdes_iter_next(&it, &c), 1, "cname length %zu", n);
        cr_assert_eq(c.ssrc, 0xabcd);
        cr_assert_eq(c.cname_len, n);
        cr_assert_eq(weir_rtcp_sdes_iter_next(&it, &c), 0);
    }
}

struct sdes_row {
    const char *name;
    uint8_t body[40];
    size_t body_len;
    uint8_t sc;
    int chunks; /* chunks yielded */
    int end_rc;
    const char *cnames[3]; /* NULL: the chunk has no CNAME */
};

static size_t build_sdes(uint8_t *out, const struct sdes_row *r)
{
    out[0] = (uint8_t)(0x80 | r->sc);
    out[1] = WEIR_RTCP_SDES;
    out[2] = 0;
    out[3] = (uint8_t)(r->body_len / 4);
    memcpy(out + 4, r->body, r->body_len);
    return 4 + r->body_len;
}

Test(rtcp, sdes_chunk_table)
{
    /* clang-format off */
    const struct sdes_row rows[] = {
        {"two chunks, NOTE before CNAME", {
             0, 0, 0, 1, 7, 2, 'h', 'i', 1, 3, 'a', 'b', 'c', 0, 0, 0,
             0, 0, 0, 2, 1, 1, 'z', 0},
         24, 2, 2, 0, {"abc", "z"}},
        {"chunk without items (four null octets)", {0, 0, 0, 1, 0, 0, 0, 0}, 8, 1, 1, 0, {NULL}},
        {"items fill the word: terminator takes a new one",
         {0, 0, 0, 1, 1, 2, 'a', 'b', 0, 0, 0, 0}, 12, 1, 1, 0, {"ab"}},
        {"first CNAME wins", {0, 0, 0, 1, 1, 1, 'a', 1, 1, 'b', 0, 0}, 12, 1, 1, 0, {"a"}},
        {"no terminator", {0, 0, 0, 1, 1, 2, 'a', 'b'}, 8, 1, 0, -WEIR_EINVAL, {NULL}},
        {"item runs past the body", {0, 0, 0, 1, 1, 9, 'a', 'b'}, 8, 1, 0, -WEIR_EINVAL, {NULL}},
        {"item header cut", {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 2, 1, 'x', 1}, 16, 2, 1,
         -WEIR_EINVAL, {NULL}},
        {"empty CNAME is still a CNAME", {0, 0, 0, 1, 1, 0, 0, 0}, 8, 1, 1, 0, {""}},
        {"SC larger than chunks", {0, 0, 0, 1, 0, 0, 0, 0}, 8, 2, 1, -WEIR_EINVAL, {NULL}},
        {"SC 0 ignores the body", {1, 2, 3}, 4, 0, 0, 0, {NULL}},
    };
    /* clang-format on */
    for (size_t r = 0; r < N(rows); r++) {
        uint8_t buf[64];
        size_t len = build_sdes(buf, &rows[r]);
        uint8_t *b = malloc(len);
        memcpy(b, buf, len);
        weir_rtcp_pkt p = one(b, len);
        weir_rtcp_sdes_iter it;
        weir_rtcp_sdes_chunk c;
        int rc, n = 0;
        cr_assert_eq(weir_rtcp_sdes_iter_init(&it, &p), 0);
        while ((rc = weir_rtcp_sdes_iter_next(&it, &c)) == 1) {
            const char *want = rows[r].cnames[n];
            if (want) {
                cr_assert_eq(c.cname_len, strlen(want), "%s #%d", rows[r].name, n);
                cr_assert_eq(memcmp(c.cname, want, c.cname_len), 0, "%s #%d", rows[r].name, n);
            } else {
                cr_assert_null(c.cname, "%s #%d", rows[r].name, n);
            }
            n++;
        }
        cr_assert_eq(n, rows[r].chunks, "%s: %d chunks", rows[r].name, n);
        cr_assert_eq(rc, rows[r].end_rc, "%s: ends with %d", rows[r].name, rc);
        free(b);
    }
    weir_rtcp_sdes_iter it;
    cr_assert_eq(weir_rtcp_sdes_iter_init(&it, (weir_rtcp_pkt[]){one(PLI, sizeof PLI)}),
                 -WEIR_EINVAL);
}

/* ---- BYE ---- */

Test(rtcp, bye_parse_and_write)
{
    weir_rtcp_pkt p = one(BYE_REASON, sizeof BYE_REASON);
    weir_rtcp_bye b;
    uint32_t ssrc;
    cr_assert_eq(weir_rtcp_bye_parse(&p, &b), 0);
    cr_assert_eq(b.count, 1);
    cr_assert_eq(weir_rtcp_bye_ssrc(&b, 0, &ssrc), 0);
    cr_assert_eq(ssrc, 0x3c4d5e6f);
    cr_assert_eq(weir_rtcp_bye_ssrc(&b, 1, &ssrc), -WEIR_EINVAL);
    cr_assert_eq(b.reason_len, 7);
    cr_assert_eq(memcmp(b.reason, "goodbye", 7), 0);

    uint8_t out[64];
    const uint32_t one_ssrc = 0x3c4d5e6f;
    int len = weir_rtcp_bye_write(out, sizeof out, &one_ssrc, 1, "goodbye", 7);
    assert_bytes(out, (size_t)len, BYE_REASON, sizeof BYE_REASON);

    /* two SSRCs, no reason */
    const uint32_t ssrcs[] = {1, 2};
    len = weir_rtcp_bye_write(out, sizeof out, ssrcs, 2, NULL, 0);
    cr_assert_eq(len, 12);
    p = one(out, (size_t)len);
    cr_assert_eq(weir_rtcp_bye_parse(&p, &b), 0);
    cr_assert_eq(b.count, 2);
    cr_assert_null(b.reason);
    cr_assert_eq(weir_rtcp_bye_ssrc(&b, 1, &ssrc), 0);
    cr_assert_eq(ssrc, 2);

    cr_assert_eq(weir_rtcp_bye_write(out, 11, ssrcs, 2, NULL, 0), -WEIR_ETOOBIG);
    cr_assert_eq(weir_rtcp_bye_write(out, sizeof out, ssrcs, 32, NULL, 0), -WEIR_EINVAL);
    cr_assert_eq(weir_rtcp_bye_write(out, sizeof out, ssrcs, 1, "x", 256), -WEIR_EINVAL);
}

Test(rtcp, bye_rejects)
{
    /* SC=2 but one SSRC; a reason longer than what is left */
    static const uint8_t short_list[] = {0x82, 0xcb, 0x00, 0x01, 0, 0, 0, 1};
    static const uint8_t long_reason[] = {0x81, 0xcb, 0x00, 0x02, 0, 0, 0, 1, 4, 'a', 'b', 'c'};
    weir_rtcp_bye b = {.count = 99};
    cr_assert_eq(weir_rtcp_bye_parse((weir_rtcp_pkt[]){one(short_list, sizeof short_list)}, &b),
                 -WEIR_EINVAL);
    cr_assert_eq(weir_rtcp_bye_parse((weir_rtcp_pkt[]){one(long_reason, sizeof long_reason)}, &b),
                 -WEIR_EINVAL);
    cr_assert_eq(b.count, 99);
}

/* ---- feedback: NACK ---- */

Test(rtcp, chrome_nack_expand)
{
    weir_rtcp_pkt p = one(CHROME_NACK, sizeof CHROME_NACK);
    weir_rtcp_fb_nack n;
    uint16_t seqs[17];
    cr_assert_eq(weir_rtcp_fb_nack_parse(&p, &n), 0);
    cr_assert_eq(n.sender_ssrc, 1);
    cr_assert_eq(n.media_ssrc, 0x3c4d5e6f);
    cr_assert_eq(n.pair_count, 1);
    cr_assert_eq(weir_rtcp_fb_nack_expand(&n, seqs, N(seqs)), 4);
    cr_assert_eq(seqs[0], 6699);
    cr_assert_eq(seqs[1], 6700);
    cr_assert_eq(seqs[2], 6702);
    cr_assert_eq(seqs[3], 6715);

    /* snprintf-like: the total comes back even when cap is smaller */
    uint16_t two[2] = {0};
    cr_assert_eq(weir_rtcp_fb_nack_expand(&n, two, 2), 4);
    cr_assert_eq(two[1], 6700);
    cr_assert_eq(weir_rtcp_fb_nack_expand(&n, NULL, 0), 4);

    uint8_t out[32];
    int len = weir_rtcp_fb_nack_write(out, sizeof out, 1, 0x3c4d5e6f, seqs, 4);
    assert_bytes(out, (size_t)len, CHROME_NACK, sizeof CHROME_NACK);
}

struct nack_row {
    const char *name;
    uint16_t seqs[40];
    size_t n;
    uint16_t pairs[8][2]; /* PID, BLP */
    size_t pair_count;
};

Test(rtcp, nack_write_table)
{
    /* clang-format off */
    const struct nack_row rows[] = {
        {"single", {100}, 1, {{100, 0}}, 1},
        {"full BLP", {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, 17,
         {{0, 0xffff}}, 1},
        {"17 apart opens a new pair", {10, 27}, 2, {{10, 0}, {27, 0}}, 2},
        {"16 apart fits", {10, 26}, 2, {{10, 0x8000}}, 1},
        {"across the wrap", {65534, 65535, 3, 40}, 4, {{65534, 0x0011}, {40, 0}}, 2},
        {"duplicates", {5, 5, 6, 6, 5}, 5, {{5, 0x0001}}, 1},
        {"unsorted still covers", {50, 10, 11}, 3, {{50, 0}, {10, 0x0001}}, 2},
        {"sparse", {1000, 1002, 1100, 1116, 1117}, 5,
         {{1000, 0x0002}, {1100, 0x8000}, {1117, 0}}, 3},
    };
    /* clang-format on */
    for (size_t r = 0; r < N(rows); r++) {
        uint8_t out[128];
        int len = weir_rtcp_fb_nack_write(out, sizeof out, 7, 8, rows[r].seqs, rows[r].n);
        cr_assert_eq(len, (int)(12 + 4 * rows[r].pair_count), "%s: %d", rows[r].name, len);
        for (size_t i = 0; i < rows[r].pair_count; i++) {
            const uint8_t *pair = out + 12 + 4 * i;
            cr_assert_eq(pair[0] << 8 | pair[1], rows[r].pairs[i][0], "%s pair %zu PID",
                         rows[r].name, i);
            cr_assert_eq(pair[2] << 8 | pair[3], rows[r].pairs[i][1], "%s pair %zu BLP",
                         rows[r].name, i);
        }
        cr_assert_eq(weir_rtcp_fb_nack_write(out, (size_t)len - 1, 7, 8, rows[r].seqs, rows[r].n),
                     -WEIR_ETOOBIG, "%s", rows[r].name);
    }
    uint8_t out[16];
    cr_assert_eq(weir_rtcp_fb_nack_write(out, sizeof out, 1, 2, NULL, 0), -WEIR_EINVAL);
}

/* Any set of seqs → write → parse → expand gives back exactly that set. */
Test(rtcp, nack_round_trip_random_sets)
{
    static uint8_t in_set[65536 / 8], out_set[65536 / 8];
    uint32_t rng = 12345;
    for (int round = 0; round < 300; round++) {
        uint16_t seqs[400], got[400 * 17];
        size_t n = 1 + round % 400;
        rng = rng * 1664525u + 1013904223u;
        uint16_t base = (uint16_t)(rng >> 16);
        memset(in_set, 0, sizeof in_set);
        memset(out_set, 0, sizeof out_set);
        for (size_t i = 0; i < n; i++) {
            rng = rng * 1664525u + 1013904223u;
            /* mostly ascending with gaps of 1..40, sometimes a step back */
            base = (uint16_t)(base + (rng >> 27) + 1 - ((rng & 0xff) < 20 ? 60 : 0));
            seqs[i] = base;
            in_set[base / 8] |= (uint8_t)(1 << base % 8);
        }
        uint8_t out[12 + 4 * 400];
        int len = weir_rtcp_fb_nack_write(out, sizeof out, 1, 2, seqs, n);
        cr_assert_gt(len, 0);
        weir_rtcp_pkt p = one(out, (size_t)len);
        weir_rtcp_fb_nack nk;
        cr_assert_eq(weir_rtcp_fb_nack_parse(&p, &nk), 0);
        size_t total = weir_rtcp_fb_nack_expand(&nk, got, N(got));
        cr_assert_leq(total, N(got));
        for (size_t i = 0; i < total; i++)
            out_set[got[i] / 8] |= (uint8_t)(1 << got[i] % 8);
        cr_assert_eq(memcmp(in_set, out_set, sizeof in_set), 0, "round %d", round);
    }
}

Test(rtcp, nack_rejects)
{
    /* no pairs; a partial pair; wrong FMT; a PSFB */
    static const uint8_t no_pairs[] = {0x81, 0xcd, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 2};
    static const uint8_t partial[] = {0x81, 0xcd, 0x00, 0x04, 0, 0, 0, 1, 0, 0,
                                      0,    2,    0,    1,    0, 0, 0, 2, 0, 2};
    static const uint8_t wrong_fmt[] = {0x82, 0xcd, 0x00, 0x03, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 0};
    uint8_t partial_pkt[sizeof partial];
    memcpy(partial_pkt, partial, sizeof partial);
    partial_pkt[0] = 0xa1; /* P bit: the 2-byte tail leaves a pair and a half */
    weir_rtcp_fb_nack n = {.pair_count = 99};
    cr_assert_eq(weir_rtcp_fb_nack_parse((weir_rtcp_pkt[]){one(no_pairs, sizeof no_pairs)}, &n),
                 -WEIR_EINVAL);
    cr_assert_eq(
        weir_rtcp_fb_nack_parse((weir_rtcp_pkt[]){one(partial_pkt, sizeof partial_pkt)}, &n),
        -WEIR_EINVAL);
    cr_assert_eq(weir_rtcp_fb_nack_parse((weir_rtcp_pkt[]){one(wrong_fmt, sizeof wrong_fmt)}, &n),
                 -WEIR_EINVAL);
    cr_assert_eq(weir_rtcp_fb_nack_parse((weir_rtcp_pkt[]){one(PLI, sizeof PLI)}, &n),
                 -WEIR_EINVAL);
    cr_assert_eq(n.pair_count, 99);
}

/* ---- PLI, FIR ---- */

Test(rtcp, pli_parse_and_write)
{
    weir_rtcp_fb fb;
    cr_assert_eq(weir_rtcp_fb_pli_parse((weir_rtcp_pkt[]){one(PLI, sizeof PLI)}, &fb), 0);
    cr_assert_eq(fb.sender_ssrc, 1);
    cr_assert_eq(fb.media_ssrc, 0x3c4d5e6f);
    cr_assert_eq(fb.fci_len, 0);
    cr_assert_eq(fb.type, WEIR_RTCP_PSFB);
    cr_assert_eq(fb.fmt, WEIR_RTCP_FB_PLI);

    uint8_t out[12];
    int len = weir_rtcp_fb_pli_write(out, sizeof out, 1, 0x3c4d5e6f);
    assert_bytes(out, (size_t)len, PLI, sizeof PLI);
    cr_assert_eq(weir_rtcp_fb_pli_write(out, 11, 1, 2), -WEIR_ETOOBIG);

    /* a NACK is not a PLI even though both FMTs are 1; an 8-byte body is too short */
    static const uint8_t short_pli[] = {0x81, 0xce, 0x00, 0x01, 0, 0, 0, 1};
    cr_assert_eq(weir_rtcp_fb_pli_parse((weir_rtcp_pkt[]){one(CHROME_NACK, 16)}, &fb),
                 -WEIR_EINVAL);
    cr_assert_eq(weir_rtcp_fb_pli_parse((weir_rtcp_pkt[]){one(short_pli, 8)}, &fb), -WEIR_EINVAL);
}

Test(rtcp, fir_parse_and_write)
{
    weir_rtcp_fb_fir fir;
    weir_rtcp_fb_fir_entry e[2];
    cr_assert_eq(weir_rtcp_fb_fir_parse((weir_rtcp_pkt[]){one(FIR_TWO, sizeof FIR_TWO)}, &fir), 0);
    cr_assert_eq(fir.sender_ssrc, 1);
    cr_assert_eq(fir.entry_count, 2);
    cr_assert_eq(weir_rtcp_fb_fir_entry_parse(&fir, 0, &e[0]), 0);
    cr_assert_eq(weir_rtcp_fb_fir_entry_parse(&fir, 1, &e[1]), 0);
    cr_assert_eq(weir_rtcp_fb_fir_entry_parse(&fir, 2, &e[1]), -WEIR_EINVAL);
    cr_assert_eq(e[0].ssrc, 0x3c4d5e6f);
    cr_assert_eq(e[0].seq_nr, 3);
    cr_assert_eq(e[1].ssrc, 0x11223344);
    cr_assert_eq(e[1].seq_nr, 255);

    uint8_t out[64];
    int len = weir_rtcp_fb_fir_write(out, sizeof out, 1, e, 2);
    assert_bytes(out, (size_t)len, FIR_TWO, sizeof FIR_TWO);
    cr_assert_eq(weir_rtcp_fb_fir_write(out, sizeof FIR_TWO - 1, 1, e, 2), -WEIR_ETOOBIG);
    cr_assert_eq(weir_rtcp_fb_fir_write(out, sizeof out, 1, e, 0), -WEIR_EINVAL);

    /* an entry and a half */
    uint8_t bad[sizeof FIR_TWO];
    memcpy(bad, FIR_TWO, sizeof bad);
    bad[0] = 0xa4;
    bad[sizeof bad - 1] = 4;
    cr_assert_eq(weir_rtcp_fb_fir_parse((weir_rtcp_pkt[]){one(bad, sizeof bad)}, &fir),
                 -WEIR_EINVAL);
    cr_assert_eq(weir_rtcp_fb_fir_parse((weir_rtcp_pkt[]){one(PLI, sizeof PLI)}, &fir),
                 -WEIR_EINVAL);
}

/* ---- REMB ---- */

Test(rtcp, chrome_remb_parse_and_write)
{
    weir_rtcp_pkt p = one(CHROME_RR_SDES_REMB + 60, 24);
    weir_rtcp_fb_remb r;
    uint32_t ssrc;
    cr_assert_eq(weir_rtcp_fb_remb_parse(&p, &r), 0);
    cr_assert_eq(r.sender_ssrc, 1);
    cr_assert_eq(r.bitrate_bps, 1500000);
    cr_assert_eq(r.ssrc_count, 1);
    cr_assert_eq(weir_rtcp_fb_remb_ssrc(&r, 0, &ssrc), 0);
    cr_assert_eq(ssrc, 0x3c4d5e6f);
    cr_assert_eq(weir_rtcp_fb_remb_ssrc(&r, 1, &ssrc), -WEIR_EINVAL);

    uint8_t out[64];
    const uint32_t media = 0x3c4d5e6f;
    int len = weir_rtcp_fb_remb_write(out, sizeof out, 1, 1500000, &media, 1);
    assert_bytes(out, (size_t)len, CHROME_RR_SDES_REMB + 60, 24);
    cr_assert_eq(weir_rtcp_fb_remb_write(out, 23, 1, 1500000, &media, 1), -WEIR_ETOOBIG);
}

Test(rtcp, remb_bitrate_encoding)
{
    /* what parses back is the bitrate with the bits below an 18-bit mantissa cleared */
    const uint64_t rows[][2] = {
        {0, 0},
        {262143, 262143}, /* largest exp 0 */
        {262144, 262144}, /* exp 1 */
        {262145, 262144}, /* rounds down */
        {1500001, 1500000},
        {UINT64_MAX, 0x3ffffull << 46},
    };
    for (size_t i = 0; i < N(rows); i++) {
        uint8_t out[32];
        weir_rtcp_fb_remb r;
        int len = weir_rtcp_fb_remb_write(out, sizeof out, 9, rows[i][0], NULL, 0);
        cr_assert_eq(len, 20);
        cr_assert_eq(weir_rtcp_fb_remb_parse((weir_rtcp_pkt[]){one(out, 20)}, &r), 0);
        cr_assert_eq(r.bitrate_bps, rows[i][1], "row %zu: %llu", i,
                     (unsigned long long)r.bitrate_bps);
        cr_assert_eq(r.ssrc_count, 0);
    }
}

Test(rtcp, remb_rejects)
{
    /* clang-format off */
    const struct {
        const char *name;
        uint8_t fci[8];
    } rows[] = {
        {"not REMB", {'R', 'E', 'M', 'C', 0, 0, 0, 1}},
        {"SSRC list past the end", {'R', 'E', 'M', 'B', 1, 0, 0, 1}},
        {"mantissa << exp overflows", {'R', 'E', 'M', 'B', 0, 0xfc, 0, 2}},
    };
    /* clang-format on */
    for (size_t i = 0; i < N(rows); i++) {
        uint8_t b[20] = {0x8f, 0xce, 0x00, 0x04, 0, 0, 0, 1, 0, 0, 0, 0};
        memcpy(b + 12, rows[i].fci, 8);
        weir_rtcp_fb_remb r = {.sender_ssrc = 5};
        cr_assert_eq(weir_rtcp_fb_remb_parse((weir_rtcp_pkt[]){one(b, 20)}, &r), -WEIR_EINVAL, "%s",
                     rows[i].name);
        cr_assert_eq(r.sender_ssrc, 5);
    }
    /* exp 63 with mantissa 1 is 2^63: fits */
    uint8_t ok[20] = {0x8f, 0xce, 0x00, 0x04, 0,   0,   0, 1,    0, 0,
                      0,    0,    'R',  'E',  'M', 'B', 0, 0xfc, 0, 1};
    weir_rtcp_fb_remb r;
    cr_assert_eq(weir_rtcp_fb_remb_parse((weir_rtcp_pkt[]){one(ok, 20)}, &r), 0);
    cr_assert_eq(r.bitrate_bps, 1ull << 63);
    cr_assert_eq(weir_rtcp_fb_remb_write(ok, sizeof ok, 1, 1, NULL, 256), -WEIR_EINVAL);
}

/* Every feedback parser survives every truncation of its body. */
Test(rtcp, feedback_bodies_truncated_at_every_length)
{
    const struct {
        const uint8_t *buf;
        size_t len;
    } pkts[] = {
        {CHROME_NACK, sizeof CHROME_NACK},   {PLI, sizeof PLI},
        {FIR_TWO, sizeof FIR_TWO},           {CHROME_RR_SDES_REMB + 60, 24},
        {CHROME_RR_SDES_REMB, 32},           {CHROME_RR_SDES_REMB + 32, 28},
        {SR_ONE_BLOCK, sizeof SR_ONE_BLOCK}, {BYE_REASON, sizeof BYE_REASON},
    };
    for (size_t k = 0; k < N(pkts); k++) {
        weir_rtcp_pkt full = one(pkts[k].buf, pkts[k].len);
        for (uint32_t blen = 0; blen < full.body_len; blen++) {
            uint8_t *body = malloc(blen ? blen : 1);
            memcpy(body, full.body, blen);
            weir_rtcp_pkt p = full;
            p.body = body;
            p.body_len = blen;

            weir_rtcp_fb fb;
            weir_rtcp_fb_nack nk;
            weir_rtcp_fb_fir fir;
            weir_rtcp_fb_remb remb;
            weir_rtcp_sr sr;
            weir_rtcp_rr rr;
            weir_rtcp_bye bye;
            weir_rtcp_sdes_iter sit;
            weir_rtcp_sdes_chunk c;
            uint16_t seqs[64];
            if (weir_rtcp_fb_nack_parse(&p, &nk) == 0)
                weir_rtcp_fb_nack_expand(&nk, seqs, N(seqs));
            weir_rtcp_fb_pli_parse(&p, &fb);
            if (weir_rtcp_fb_fir_parse(&p, &fir) == 0) {
                weir_rtcp_fb_fir_entry e;
                for (size_t i = 0; i < fir.entry_count; i++)
                    weir_rtcp_fb_fir_entry_parse(&fir, i, &e);
            }
            cr_assert_neq(weir_rtcp_fb_remb_parse(&p, &remb), 0, "pkt %zu blen %u", k, blen);
            cr_assert_neq(weir_rtcp_sr_parse(&p, &sr), 0, "pkt %zu blen %u", k, blen);
            cr_assert_neq(weir_rtcp_rr_parse(&p, &rr), 0, "pkt %zu blen %u", k, blen);
            if (weir_rtcp_bye_parse(&p, &bye) == 0)
                cr_assert_leq((size_t)4 * bye.count + (bye.reason ? 1u + bye.reason_len : 0), blen);
            if (weir_rtcp_sdes_iter_init(&sit, &p) == 0)
                cr_assert_lt(weir_rtcp_sdes_iter_next(&sit, &c), 1, "pkt %zu blen %u", k, blen);
            free(body);
        }
    }
}
