/*
 * RTP header, RFC 8285 extensions, extension values and RFC 4588 RTX.
 * Packets are hand-built byte arrays; truncation tests copy into exactly
 * sized heap buffers so ASan sees any read past the end.
 */
#include <criterion/criterion.h>

#include "support/assert_bytes.h"
#include <stdlib.h>
#include <string.h>

#include "proto/rtp.h"
#include "weir/errors.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Packets are laid out one field per line; clang-format would pack them. */
/* clang-format off */
/*
 * A VP8 simulcast keyframe packet shaped like Chromium's: one-byte
 * extensions with Chrome's default video ids (2 abs-send-time, 4 transport-cc,
 * 9 mid, 10 rid), then an RFC 7741 payload descriptor with a 15-bit picture
 * id, TL0PICIDX and TID, then the start of a VP8 keyframe (640x360).
 */
static const uint8_t CHROME_VP8[] = {
    0x90, 0x60, 0x1a, 0x2b, /* V=2 X=1 CC=0 | M=0 PT=96 | seq 6699 */
    0x5e, 0x3a, 0x1c, 0x40, /* timestamp */
    0x3c, 0x4d, 0x5e, 0x6f, /* SSRC */
    0xbe, 0xde, 0x00, 0x03, /* one-byte form, 3 words */
    0x22, 0x4a, 0x1c, 0x55, /* id 2 L=2: abs-send-time 0x4a1c55 */
    0x41, 0x01, 0x2c,       /* id 4 L=1: transport-wide seq 300 */
    0x90, 0x31,             /* id 9 L=0: mid "1" */
    0xa0, 0x66,             /* id 10 L=0: rid "f" */
    0x00,                   /* padding to the word */
    0x90, 0xe0, 0x92, 0x34, 0x05, 0x20, /* VP8 descriptor: X S | I L T | pic id 0x1234 | ... */
    0x10, 0x5e, 0x01, 0x9d, 0x01, 0x2a, /* frame tag (key, show), start code */
    0x80, 0x02, 0x68, 0x01, 0x00, 0x47, 0x08, 0x85,
};

/* Opus with Chrome's audio ids: 1 ssrc-audio-level, 2 abs-send-time, 3 transport-cc, 4 mid. */
static const uint8_t CHROME_OPUS[] = {
    0x90, 0xef, 0x00, 0x07, /* X | M=1 (talkspurt) PT=111 | seq 7 */
    0x00, 0x00, 0x03, 0xc0, /* timestamp 960 */
    0x11, 0x22, 0x33, 0x44, /* SSRC */
    0xbe, 0xde, 0x00, 0x03, 0x10, 0xaa, /* id 1: V=1, level 42 */
    0x22, 0x4a, 0x1c, 0x9b,             /* id 2 */
    0x31, 0x01, 0x2d,                   /* id 3: 301 */
    0x40, 0x30,                         /* id 4: mid "0" */
    0x00, 0x78, 0x0b, 0xe4, 0xc1, 0x36, 0xec, 0xc5, 0x8d,
};

/* Padding-only packet, as Chromium sends on RTX to probe bandwidth. */
static const uint8_t PADDING_ONLY[] = {
    0xa0, 0x61, 0x00, 0x10, 0x00, 0x00, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0xdd,
    0x00, 0x00, 0x00, 0x04,
};

/* Two-byte extensions (RFC 8285 §4.3): id 15 is legal here, length 0 too. */
static const uint8_t TWO_BYTE[] = {
    0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03,
    0x10, 0x00, 0x00, 0x03,             /* profile 0x1000, 3 words */
    0x0f, 0x01, 0x55,                   /* id 15 len 1 */
    0x00,                               /* padding */
    0x20, 0x00,                         /* id 32 len 0 */
    0x05, 0x04, 'a', 'b', 'c', 'd',     /* id 5 len 4 */
    0xde, 0xad,
};

/* Two CSRCs, marker, PT 0, sequence and timestamp at their maxima, padding. */
static const uint8_t CSRC_PADDED[] = {
    0xa2, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
    0x01, 0x02, 0x00, 0x02,
};
/* clang-format on */

static void assert_same_header(const weir_rtp *a, const weir_rtp *b, const char *what)
{
    cr_assert_eq(a->ssrc, b->ssrc, "%s: ssrc", what);
    cr_assert_eq(a->timestamp, b->timestamp, "%s: timestamp", what);
    cr_assert_eq(a->seq, b->seq, "%s: seq", what);
    cr_assert_eq(a->payload_type, b->payload_type, "%s: payload_type", what);
    cr_assert_eq(a->marker, b->marker, "%s: marker", what);
    cr_assert_eq(a->csrc_count, b->csrc_count, "%s: csrc_count", what);
    cr_assert_eq(a->padding_len, b->padding_len, "%s: padding_len", what);
    cr_assert_eq(a->has_ext, b->has_ext, "%s: has_ext", what);
    cr_assert_eq(a->ext_profile, b->ext_profile, "%s: ext_profile", what);
    cr_assert_eq(a->ext_off, b->ext_off, "%s: ext_off", what);
    cr_assert_eq(a->ext_len, b->ext_len, "%s: ext_len", what);
    cr_assert_eq(a->payload_off, b->payload_off, "%s: payload_off", what);
    cr_assert_eq(a->payload_len, b->payload_len, "%s: payload_len", what);
}

static weir_rtp parse_ok(const uint8_t *buf, size_t len)
{
    weir_rtp h;
    int rc = weir_rtp_parse(&h, buf, len);
    cr_assert_eq(rc, 0, "parse: %s", weir_strerror(rc));
    return h;
}

/* ---- fixed header ---- */

struct parse_row {
    const char *name;
    const uint8_t *buf;
    size_t len;
    weir_rtp want;
};

Test(rtp, parse_table)
{
    /* clang-format off */
    const struct parse_row rows[] = {
        {"chrome vp8", CHROME_VP8, sizeof CHROME_VP8,
         {.ssrc = 0x3c4d5e6f, .timestamp = 0x5e3a1c40, .seq = 6699, .payload_type = 96,
          .has_ext = true, .ext_profile = 0xbede, .ext_off = 16, .ext_len = 12,
          .payload_off = 28, .payload_len = 20}},
        {"chrome opus", CHROME_OPUS, sizeof CHROME_OPUS,
         {.ssrc = 0x11223344, .timestamp = 960, .seq = 7, .payload_type = 111, .marker = true,
          .has_ext = true, .ext_profile = 0xbede, .ext_off = 16, .ext_len = 12,
          .payload_off = 28, .payload_len = 8}},
        {"padding only", PADDING_ONLY, sizeof PADDING_ONLY,
         {.ssrc = 0xaabbccdd, .timestamp = 1, .seq = 16, .payload_type = 97, .padding_len = 4,
          .ext_off = 12, .payload_off = 12, .payload_len = 0}},
        {"two-byte ext", TWO_BYTE, sizeof TWO_BYTE,
         {.ssrc = 3, .timestamp = 2, .seq = 1, .payload_type = 96, .has_ext = true,
          .ext_profile = 0x1000, .ext_off = 16, .ext_len = 12, .payload_off = 28,
          .payload_len = 2}},
        {"csrc + padding", CSRC_PADDED, sizeof CSRC_PADDED,
         {.ssrc = 0, .timestamp = 0xffffffff, .seq = 0xffff, .payload_type = 0, .marker = true,
          .csrc_count = 2, .padding_len = 2, .ext_off = 20, .payload_off = 20,
          .payload_len = 2}},
    };
    /* clang-format on */
    for (size_t i = 0; i < N(rows); i++) {
        weir_rtp h = parse_ok(rows[i].buf, rows[i].len);
        assert_same_header(&h, &rows[i].want, rows[i].name);
    }
}

Test(rtp, csrc_accessor)
{
    weir_rtp h = parse_ok(CSRC_PADDED, sizeof CSRC_PADDED);
    uint32_t c = 0;
    cr_assert_eq(weir_rtp_csrc(&h, CSRC_PADDED, 0, &c), 0);
    cr_assert_eq(c, 0x01020304);
    cr_assert_eq(weir_rtp_csrc(&h, CSRC_PADDED, 1, &c), 0);
    cr_assert_eq(c, 0x05060708);
    cr_assert_eq(weir_rtp_csrc(&h, CSRC_PADDED, 2, &c), -WEIR_EINVAL);
    cr_assert_eq(c, 0x05060708, "untouched on error");
}

struct reject_row {
    const char *name;
    uint8_t buf[24];
    size_t len;
};

Test(rtp, rejects)
{
    /* clang-format off */
    const struct reject_row rows[] = {
        {"empty", {0}, 0},
        {"11 bytes", {0x80, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0}, 11},
        {"version 0", {0x00, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa}, 13},
        {"version 1", {0x40, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa}, 13},
        {"version 3", {0xc0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa}, 13},
        {"csrc list truncated", {0x8f, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 2, 3, 4}, 16},
        {"X without ext header", {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde}, 14},
        {"ext longer than packet", {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1},
         16},
        {"ext overruns by a byte",
         {0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0},
         19},
        {"P without bytes", {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1}, 12},
        {"padding count 0", {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa, 0}, 14},
        {"padding past payload", {0xa0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa, 3}, 14},
        {"padding into ext",
         {0xb0, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0, 5},
         21},
    };
    /* clang-format on */
    for (size_t i = 0; i < N(rows); i++) {
        weir_rtp h = {.seq = 4242};
        uint8_t *b = malloc(rows[i].len ? rows[i].len : 1);
        memcpy(b, rows[i].buf, rows[i].len);
        cr_assert_eq(weir_rtp_parse(&h, b, rows[i].len), -WEIR_EINVAL, "%s", rows[i].name);
        cr_assert_eq(h.seq, 4242, "%s: output untouched", rows[i].name);
        free(b);
    }
    static uint8_t huge[WEIR_RTP_MAX_LEN + 1];
    memcpy(huge, CHROME_VP8, sizeof CHROME_VP8);
    weir_rtp h;
    cr_assert_eq(weir_rtp_parse(&h, huge, sizeof huge), -WEIR_ETOOBIG);
    cr_assert_eq(weir_rtp_parse(&h, huge, WEIR_RTP_MAX_LEN), 0);
}

Test(rtp, padding_may_cover_the_whole_payload)
{
    weir_rtp h = parse_ok(PADDING_ONLY, sizeof PADDING_ONLY);
    cr_assert_eq(h.payload_len, 0);
    cr_assert_eq(h.padding_len, 4);
}

/* Every prefix of a valid packet either fails or describes bytes inside the prefix. */
Test(rtp, truncated_at_every_length)
{
    const struct {
        const uint8_t *buf;
        size_t len;
    } pkts[] = {
        {CHROME_VP8, sizeof CHROME_VP8},     {CHROME_OPUS, sizeof CHROME_OPUS},
        {PADDING_ONLY, sizeof PADDING_ONLY}, {TWO_BYTE, sizeof TWO_BYTE},
        {CSRC_PADDED, sizeof CSRC_PADDED},
    };
    for (size_t p = 0; p < N(pkts); p++) {
        for (size_t len = 0; len < pkts[p].len; len++) {
            uint8_t *b = malloc(len ? len : 1);
            memcpy(b, pkts[p].buf, len);
            weir_rtp h;
            if (weir_rtp_parse(&h, b, len) == 0) {
                cr_assert_leq((size_t)h.payload_off + h.payload_len + h.padding_len, len);
                cr_assert_leq((size_t)h.ext_off + h.ext_len, h.payload_off);
                weir_rtp_ext_iter it;
                weir_rtp_ext e;
                weir_rtp_ext_iter_init(&it, &h, b);
                while (weir_rtp_ext_iter_next(&it, &e) == 1)
                    cr_assert_leq((size_t)e.off + e.len, h.ext_off + h.ext_len);
            }
            /* a prefix shorter than header + extensions never parses */
            if (len < 28 && pkts[p].buf != CSRC_PADDED && pkts[p].buf != PADDING_ONLY)
                cr_assert_neq(weir_rtp_parse(&h, b, len), 0, "packet %zu len %zu", p, len);
            free(b);
        }
    }
}

Test(rtp, setters_rewrite_in_place)
{
    uint8_t b[sizeof CHROME_VP8];
    memcpy(b, CHROME_VP8, sizeof b);
    weir_rtp h = parse_ok(b, sizeof b);

    weir_rtp_set_seq(&h, b, 0xfffe);
    weir_rtp_set_timestamp(&h, b, 0x01020304);
    weir_rtp_set_ssrc(&h, b, 0xcafebabe);
    weir_rtp_set_payload_type(&h, b, 0xff); /* only 7 bits are kept */
    weir_rtp_set_marker(&h, b, true);

    weir_rtp again = parse_ok(b, sizeof b);
    cr_assert_eq(again.seq, 0xfffe);
    cr_assert_eq(again.timestamp, 0x01020304);
    cr_assert_eq(again.ssrc, 0xcafebabe);
    cr_assert_eq(again.payload_type, 127);
    cr_assert(again.marker);
    cr_assert_eq(h.seq, again.seq);
    cr_assert_eq(h.payload_type, again.payload_type);
    cr_assert_eq(b[0], CHROME_VP8[0], "V/P/X/CC untouched");
    assert_bytes(b + 12, sizeof b - 12, CHROME_VP8 + 12, sizeof b - 12);

    weir_rtp_set_marker(&h, b, false);
    weir_rtp_set_payload_type(&h, b, 96);
    cr_assert_eq(b[1], 0x60);
}

/* ---- extensions ---- */

struct ext_want {
    uint8_t id, len, first;
};

struct ext_row {
    const char *name;
    uint16_t profile;
    uint8_t block[16];
    size_t block_len; /* multiple of 4 */
    struct ext_want want[4];
    size_t n;
    int end_rc; /* what iteration ends with */
};

static size_t build_with_block(uint8_t *out, uint16_t profile, const uint8_t *block, size_t n)
{
    static const uint8_t fixed[] = {0x90, 0x60, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3};
    memcpy(out, fixed, 12);
    out[12] = (uint8_t)(profile >> 8);
    out[13] = (uint8_t)profile;
    out[14] = 0;
    out[15] = (uint8_t)(n / 4);
    memcpy(out + 16, block, n);
    out[16 + n] = 0x77; /* one byte of payload */
    return 17 + n;
}

Test(rtp, ext_iteration_table)
{
    /* clang-format off */
    const struct ext_row rows[] = {
        {"one-byte, padding before and between", 0xbede,
         {0x00, 0x10, 0xaa, 0x00, 0x21, 0x01, 0x02, 0x00}, 8,
         {{1, 1, 0xaa}, {2, 2, 0x01}}, 2, 0},
        {"one-byte id 15 stops processing", 0xbede,
         {0x10, 0xaa, 0xf0, 0x00, 0x20, 0xbb, 0x00, 0x00}, 8, {{1, 1, 0xaa}}, 1, 0},
        {"one-byte id 0 with length stops", 0xbede,
         {0x10, 0xaa, 0x03, 0x20, 0xbb, 0x00, 0x00, 0x00}, 8, {{1, 1, 0xaa}}, 1, 0},
        {"one-byte overrun keeps earlier elements", 0xbede, {0x10, 0xaa, 0x2f, 0x01}, 4,
         {{1, 1, 0xaa}}, 1, -WEIR_EINVAL},
        {"one-byte 16-byte element", 0xbede,
         {0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 16, {{0}}, 0, -WEIR_EINVAL},
        {"two-byte, zero length and padding", 0x1000,
         {0x01, 0x00, 0x00, 0x02, 0x02, 0xaa, 0xbb, 0x00}, 8, {{1, 0, 0}, {2, 2, 0xaa}}, 2, 0},
        {"two-byte appbits profile", 0x100f, {0xff, 0x01, 0x42, 0x00}, 4, {{255, 1, 0x42}}, 1,
         0},
        {"two-byte header cut", 0x1000, {0x00, 0x00, 0x00, 0x07}, 4, {{0}}, 0, -WEIR_EINVAL},
        {"two-byte overrun", 0x1000, {0x07, 0x05, 0xaa, 0xbb}, 4, {{0}}, 0, -WEIR_EINVAL},
        {"unknown profile yields nothing", 0x1234, {0x10, 0xaa, 0x00, 0x00}, 4, {{0}}, 0, 0},
        {"empty block", 0xbede, {0}, 0, {{0}}, 0, 0},
    };
    /* clang-format on */
    for (size_t r = 0; r < N(rows); r++) {
        uint8_t b[64];
        size_t len = build_with_block(b, rows[r].profile, rows[r].block, rows[r].block_len);
        weir_rtp h = parse_ok(b, len);
        weir_rtp_ext_iter it;
        weir_rtp_ext e;
        size_t n = 0;
        int rc;
        weir_rtp_ext_iter_init(&it, &h, b);
        while ((rc = weir_rtp_ext_iter_next(&it, &e)) == 1) {
            cr_assert_lt(n, rows[r].n, "%s: too many elements", rows[r].name);
            cr_assert_eq(e.id, rows[r].want[n].id, "%s #%zu", rows[r].name, n);
            cr_assert_eq(e.len, rows[r].want[n].len, "%s #%zu", rows[r].name, n);
            cr_assert_eq(e.data, b + e.off, "%s", rows[r].name);
            if (e.len)
                cr_assert_eq(e.data[0], rows[r].want[n].first, "%s #%zu", rows[r].name, n);
            n++;
        }
        cr_assert_eq(n, rows[r].n, "%s: %zu elements", rows[r].name, n);
        cr_assert_eq(rc, rows[r].end_rc, "%s: ends with %d", rows[r].name, rc);
        cr_assert_eq(weir_rtp_ext_iter_next(&it, &e), 0, "%s: finished stays finished",
                     rows[r].name);
    }
}

Test(rtp, chrome_vp8_extension_values)
{
    weir_rtp h = parse_ok(CHROME_VP8, sizeof CHROME_VP8);
    weir_rtp_ext e;
    uint32_t ast;
    uint16_t tseq;
    char s[17];

    cr_assert_eq(weir_rtp_ext_find(&h, CHROME_VP8, 2, &e), 0);
    cr_assert_eq(e.off, 17);
    cr_assert_eq(weir_rtp_abs_send_time_parse(&e, &ast), 0);
    cr_assert_eq(ast, 0x4a1c55);
    cr_assert_eq(weir_rtp_twcc_seq_parse(&e, &tseq), -WEIR_EINVAL, "3 bytes is not a twcc seq");

    cr_assert_eq(weir_rtp_ext_find(&h, CHROME_VP8, 4, &e), 0);
    cr_assert_eq(weir_rtp_twcc_seq_parse(&e, &tseq), 0);
    cr_assert_eq(tseq, 300);

    cr_assert_eq(weir_rtp_ext_find(&h, CHROME_VP8, 9, &e), 0);
    cr_assert_eq(weir_rtp_ext_str_parse(&e, s, sizeof s), 1);
    cr_assert_str_eq(s, "1");
    cr_assert_eq(weir_rtp_ext_find(&h, CHROME_VP8, 10, &e), 0);
    cr_assert_eq(weir_rtp_ext_str_parse(&e, s, sizeof s), 1);
    cr_assert_str_eq(s, "f");

    cr_assert_eq(weir_rtp_ext_find(&h, CHROME_VP8, 3, &e), -WEIR_ENOTFOUND);
    cr_assert_eq(weir_rtp_payload(&h, CHROME_VP8)[0], 0x90, "VP8 descriptor starts the payload");
}

Test(rtp, chrome_opus_audio_level)
{
    weir_rtp h = parse_ok(CHROME_OPUS, sizeof CHROME_OPUS);
    weir_rtp_ext e;
    bool voice = false;
    uint8_t level = 0;
    uint16_t tseq;
    char mid[4];

    cr_assert_eq(weir_rtp_ext_find(&h, CHROME_OPUS, 1, &e), 0);
    cr_assert_eq(weir_rtp_audio_level_parse(&e, &voice, &level), 0);
    cr_assert(voice);
    cr_assert_eq(level, 42);
    cr_assert_eq(weir_rtp_ext_find(&h, CHROME_OPUS, 3, &e), 0);
    cr_assert_eq(weir_rtp_twcc_seq_parse(&e, &tseq), 0);
    cr_assert_eq(tseq, 301);
    cr_assert_eq(weir_rtp_ext_find(&h, CHROME_OPUS, 4, &e), 0);
    cr_assert_eq(weir_rtp_ext_str_parse(&e, mid, sizeof mid), 1);
    cr_assert_str_eq(mid, "0");
}

Test(rtp, ext_find_reports_a_malformed_block)
{
    uint8_t b[32];
    size_t len = build_with_block(b, 0xbede, (const uint8_t[]){0x10, 0xaa, 0x2f, 0x01}, 4);
    weir_rtp h = parse_ok(b, len);
    weir_rtp_ext e;
    cr_assert_eq(weir_rtp_ext_find(&h, b, 1, &e), 0, "before the bad element");
    cr_assert_eq(weir_rtp_ext_find(&h, b, 5, &e), -WEIR_EINVAL);
}

Test(rtp, ext_rewrite)
{
    uint8_t b[sizeof CHROME_VP8];
    memcpy(b, CHROME_VP8, sizeof b);
    weir_rtp h = parse_ok(b, sizeof b);
    weir_rtp_ext e;
    char s[8];

    /* same length: the subscriber's mid */
    cr_assert_eq(weir_rtp_ext_rewrite(&h, b, 9, (const uint8_t *)"7", 1), 0);
    cr_assert_eq(weir_rtp_ext_find(&h, b, 9, &e), 0);
    cr_assert_eq(weir_rtp_ext_str_parse(&e, s, sizeof s), 1);
    cr_assert_str_eq(s, "7");

    /* longer than the slot: refused, nothing changed */
    uint8_t before[sizeof b];
    memcpy(before, b, sizeof b);
    cr_assert_eq(weir_rtp_ext_rewrite(&h, b, 10, (const uint8_t *)"hi", 2), -WEIR_ETOOBIG);
    cr_assert_eq(weir_rtp_ext_rewrite(&h, b, 9, (const uint8_t *)"", 0), -WEIR_EINVAL);
    cr_assert_eq(weir_rtp_ext_rewrite(&h, b, 7, (const uint8_t *)"x", 1), -WEIR_ENOTFOUND);
    assert_bytes(b, sizeof b, before, sizeof before);

    /* shorter: abs-send-time slot shrinks to 2 bytes, the rest becomes padding */
    cr_assert_eq(weir_rtp_ext_rewrite(&h, b, 2, (const uint8_t[]){0xab, 0xcd}, 2), 0);
    cr_assert_eq(b[16], 0x21);
    cr_assert_eq(b[19], 0x00);
    struct ext_want want[] = {{2, 2, 0xab}, {4, 2, 0x01}, {9, 1, '7'}, {10, 1, 'f'}};
    weir_rtp_ext_iter it;
    size_t n = 0;
    weir_rtp_ext_iter_init(&it, &h, b);
    while (weir_rtp_ext_iter_next(&it, &e) == 1) {
        cr_assert_lt(n, N(want));
        cr_assert_eq(e.id, want[n].id);
        cr_assert_eq(e.len, want[n].len);
        cr_assert_eq(e.data[0], want[n].first);
        n++;
    }
    cr_assert_eq(n, N(want));
    assert_bytes(b + 28, 20, CHROME_VP8 + 28, 20);

    /* rewriting with the element's own bytes is a no-op */
    cr_assert_eq(weir_rtp_ext_find(&h, b, 4, &e), 0);
    memcpy(before, b, sizeof b);
    cr_assert_eq(weir_rtp_ext_rewrite(&h, b, 4, e.data, e.len), 0);
    assert_bytes(b, sizeof b, before, sizeof before);
}

Test(rtp, ext_rewrite_two_byte_allows_empty)
{
    uint8_t b[sizeof TWO_BYTE];
    memcpy(b, TWO_BYTE, sizeof b);
    weir_rtp h = parse_ok(b, sizeof b);
    weir_rtp_ext e;
    cr_assert_eq(weir_rtp_ext_rewrite(&h, b, 5, NULL, 0), 0);
    cr_assert_eq(weir_rtp_ext_find(&h, b, 5, &e), 0);
    cr_assert_eq(e.len, 0);
    cr_assert_eq(weir_rtp_ext_rewrite(&h, b, 15, (const uint8_t[]){0x66}, 1), 0);
    cr_assert_eq(weir_rtp_ext_find(&h, b, 15, &e), 0);
    cr_assert_eq(e.data[0], 0x66);
}

struct ext_write_row {
    const char *name;
    weir_rtp_ext elems[3];
    size_t n;
    uint8_t want[24];
    int want_len;
};

Test(rtp, ext_write_table)
{
    /* clang-format off */
    static const uint8_t seventeen[17] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                          17};
    const struct ext_write_row rows[] = {
        {"one-byte",
         {{.id = 1, .len = 1, .data = (const uint8_t[]){0xaa}},
          {.id = 2, .len = 3, .data = (const uint8_t[]){1, 2, 3}}},
         2, {0xbe, 0xde, 0, 2, 0x10, 0xaa, 0x22, 1, 2, 3, 0, 0}, 12},
        {"one-byte, 16 bytes at id 14", {{.id = 14, .len = 16, .data = seventeen}}, 1,
         {0xbe, 0xde, 0, 5, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 0, 0, 0},
         24},
        {"id 15 needs two-byte", {{.id = 15, .len = 1, .data = (const uint8_t[]){0x55}}}, 1,
         {0x10, 0x00, 0, 1, 0x0f, 0x01, 0x55, 0}, 8},
        {"length 0 needs two-byte", {{.id = 3, .len = 0}}, 1, {0x10, 0x00, 0, 1, 3, 0, 0, 0}, 8},
        {"17 bytes needs two-byte", {{.id = 1, .len = 17, .data = seventeen}}, 1,
         {0x10, 0x00, 0, 5, 1, 17, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 0},
         24},
        {"none", {{0}}, 0, {0}, 0},
        {"id 0 is padding, not an element", {{.id = 0, .len = 1, .data = seventeen}}, 1, {0},
         -WEIR_EINVAL},
    };
    /* clang-format on */
    for (size_t r = 0; r < N(rows); r++) {
        uint8_t out[32];
        int len = weir_rtp_ext_write(out, sizeof out, rows[r].elems, rows[r].n);
        cr_assert_eq(len, rows[r].want_len, "%s: %d", rows[r].name, len);
        if (len > 0)
            assert_bytes(out, (size_t)len, rows[r].want, (size_t)rows[r].want_len);
        if (len > 0)
            cr_assert_eq(weir_rtp_ext_write(out, (size_t)len - 1, rows[r].elems, rows[r].n),
                         -WEIR_ETOOBIG, "%s: cap", rows[r].name);
    }
}

/* weir_rtp_write → parse → iterate gives back every field and element. */
Test(rtp, write_parse_round_trip)
{
    const uint32_t csrcs[] = {0xdeadbeef, 7};
    const uint8_t payload[] = {1, 2, 3, 4, 5};
    uint8_t ast[3], tseq[2], level[1];
    weir_rtp_abs_send_time_write(ast, 0x123456);
    weir_rtp_twcc_seq_write(tseq, 65535);
    cr_assert_eq(weir_rtp_audio_level_write(level, false, 127), 1);
    const weir_rtp_ext sets[][4] = {
        {{.id = 2, .len = 3, .data = ast},
         {.id = 4, .len = 2, .data = tseq},
         {.id = 9, .len = 2, .data = (const uint8_t *)"v1"},
         {.id = 1, .len = 1, .data = level}},
        {{.id = 200, .len = 3, .data = ast},
         {.id = 4, .len = 0},
         {.id = 9, .len = 2, .data = (const uint8_t *)"v1"},
         {.id = 1, .len = 1, .data = level}},
    };
    for (size_t s = 0; s < N(sets); s++) {
        for (uint8_t pad = 0; pad < 6; pad += 5) {
            weir_rtp_fields f = {
                .ssrc = 0x01020304,
                .timestamp = 90000,
                .seq = 65535,
                .payload_type = 100,
                .marker = true,
                .csrcs = csrcs,
                .csrc_count = 2,
                .exts = sets[s],
                .ext_count = 4,
            };
            uint8_t out[128];
            int len = weir_rtp_write(out, sizeof out, &f, payload, sizeof payload, pad);
            cr_assert_gt(len, 0);
            weir_rtp h = parse_ok(out, (size_t)len);
            cr_assert_eq(h.ssrc, f.ssrc);
            cr_assert_eq(h.timestamp, f.timestamp);
            cr_assert_eq(h.seq, f.seq);
            cr_assert_eq(h.payload_type, f.payload_type);
            cr_assert(h.marker);
            cr_assert_eq(h.csrc_count, 2);
            cr_assert_eq(h.padding_len, pad);
            cr_assert_eq(h.ext_profile, s == 0 ? 0xbede : 0x1000);
            assert_bytes(weir_rtp_payload(&h, out), h.payload_len, payload, sizeof payload);
            uint32_t c;
            cr_assert_eq(weir_rtp_csrc(&h, out, 0, &c), 0);
            cr_assert_eq(c, 0xdeadbeef);
            for (size_t i = 0; i < 4; i++) {
                weir_rtp_ext e;
                cr_assert_eq(weir_rtp_ext_find(&h, out, sets[s][i].id, &e), 0);
                assert_bytes(e.data, e.len, sets[s][i].data, sets[s][i].len);
            }
            cr_assert_eq(weir_rtp_write(out, (size_t)len - 1, &f, payload, sizeof payload, pad),
                         -WEIR_ETOOBIG);
        }
    }
}

Test(rtp, write_rejects)
{
    uint8_t out[64];
    weir_rtp_fields f = {.csrc_count = 16, .csrcs = (const uint32_t[16]){0}};
    cr_assert_eq(weir_rtp_write(out, sizeof out, &f, NULL, 0, 0), -WEIR_EINVAL);
    f.csrc_count = 1;
    f.csrcs = NULL;
    cr_assert_eq(weir_rtp_write(out, sizeof out, &f, NULL, 0, 0), -WEIR_EINVAL);
    f.csrc_count = 0;
    cr_assert_eq(weir_rtp_write(out, 11, &f, NULL, 0, 0), -WEIR_ETOOBIG);
    cr_assert_eq(weir_rtp_write(out, 12, &f, NULL, 0, 0), 12);
}

Test(rtp, padding_probe_written_and_parsed)
{
    weir_rtp_fields f = {.ssrc = 9, .seq = 1, .payload_type = 97};
    uint8_t out[300];
    int len = weir_rtp_write(out, sizeof out, &f, NULL, 0, 255);
    cr_assert_eq(len, 12 + 255);
    weir_rtp h = parse_ok(out, (size_t)len);
    cr_assert_eq(h.payload_len, 0);
    cr_assert_eq(h.padding_len, 255);
    cr_assert_eq(out[len - 1], 255);
    cr_assert_eq(out[13 + 100], 0);
}

/* ---- extension values ---- */

Test(rtp, abs_send_time_from_us)
{
    const struct {
        int64_t us;
        uint32_t want;
    } rows[] = {
        {0, 0},
        {1000000, 1u << 18},
        {500000, 1u << 17},
        {64000000, 0}, /* 6 bits of seconds: wraps every 64 s */
        {63999999, 0xffffff},
        {(int64_t)1 << 50, 0x0b5ed8}, /* 1125899906.842624 s: 2 s mod 64, .842624 * 2^18 */
    };
    for (size_t i = 0; i < N(rows); i++)
        cr_assert_eq(weir_rtp_abs_send_time_from_us(rows[i].us), rows[i].want, "row %zu", i);
}

Test(rtp, extension_value_writers)
{
    uint8_t b[3];
    weir_rtp_ext e = {.data = b};
    uint32_t ast;
    uint16_t seq;
    bool voice;
    uint8_t level;

    e.len = (uint8_t)weir_rtp_abs_send_time_write(b, 0xff123456); /* top byte dropped */
    cr_assert_eq(weir_rtp_abs_send_time_parse(&e, &ast), 0);
    cr_assert_eq(ast, 0x123456);
    e.len = (uint8_t)weir_rtp_twcc_seq_write(b, 0xbeef);
    cr_assert_eq(weir_rtp_twcc_seq_parse(&e, &seq), 0);
    cr_assert_eq(seq, 0xbeef);
    cr_assert_eq(weir_rtp_abs_send_time_parse(&e, &ast), -WEIR_EINVAL);
    e.len = (uint8_t)weir_rtp_audio_level_write(b, true, 0);
    cr_assert_eq(b[0], 0x80);
    cr_assert_eq(weir_rtp_audio_level_parse(&e, &voice, &level), 0);
    cr_assert(voice);
    cr_assert_eq(level, 0);
    cr_assert_eq(weir_rtp_audio_level_write(b, false, 128), -WEIR_EINVAL);
    e.len = 0;
    cr_assert_eq(weir_rtp_audio_level_parse(&e, &voice, &level), -WEIR_EINVAL);
}

struct str_row {
    const char *name;
    const char *bytes;
    uint8_t len;
    size_t cap;
    int want_rc;
    const char *want;
};

Test(rtp, ext_str_parse_table)
{
    const struct str_row rows[] = {
        {"mid", "0", 1, 17, 1, "0"},
        {"rid", "hi-res_1", 8, 17, 8, "hi-res_1"},
        {"trailing NULs", "ab\0\0", 4, 17, 2, "ab"},
        {"exact fit", "abcd", 4, 5, 4, "abcd"},
        {"too long for cap", "abcd", 4, 4, -WEIR_ETOOBIG, NULL},
        {"all NUL", "\0\0", 2, 17, -WEIR_EINVAL, NULL},
        {"space", "a b", 3, 17, -WEIR_EINVAL, NULL},
        {"control char", "a\nb", 3, 17, -WEIR_EINVAL, NULL},
        {"embedded NUL", "a\0b", 3, 17, -WEIR_EINVAL, NULL},
        {"high bit", "a\xc3\xa9", 3, 17, -WEIR_EINVAL, NULL},
        {"cap 0", "a", 1, 0, -WEIR_ETOOBIG, NULL},
    };
    for (size_t i = 0; i < N(rows); i++) {
        weir_rtp_ext e = {.data = (const uint8_t *)rows[i].bytes, .len = rows[i].len};
        char out[17] = "untouched";
        int rc = weir_rtp_ext_str_parse(&e, out, rows[i].cap);
        cr_assert_eq(rc, rows[i].want_rc, "%s: %d", rows[i].name, rc);
        cr_assert_str_eq(out, rows[i].want ? rows[i].want : "untouched", "%s", rows[i].name);
    }
}

/* ---- RTX ---- */

Test(rtp, rtx_wrap_chrome_vp8_and_back)
{
    weir_rtp orig = parse_ok(CHROME_VP8, sizeof CHROME_VP8);
    uint8_t rtx[128];
    int len = weir_rtp_rtx_wrap(rtx, sizeof rtx, &orig, CHROME_VP8, 0x99887766, 97, 4000);
    cr_assert_eq(len, (int)sizeof CHROME_VP8 + 2);

    static const uint8_t want_head[] = {
        0x90, 0x61, 0x0f, 0xa0, 0x5e, 0x3a, 0x1c, 0x40, 0x99, 0x88, 0x77, 0x66,
    };
    assert_bytes(rtx, 12, want_head, 12);
    assert_bytes(rtx + 12, 16, CHROME_VP8 + 12, 16); /* extensions carried */
    cr_assert_eq(rtx[28], 0x1a, "OSN high");
    cr_assert_eq(rtx[29], 0x2b, "OSN low");
    assert_bytes(rtx + 30, 20, CHROME_VP8 + 28, 20);

    weir_rtp h = parse_ok(rtx, (size_t)len);
    uint16_t osn;
    cr_assert_eq(weir_rtp_rtx_osn(&h, rtx, &osn), 0);
    cr_assert_eq(osn, 6699);
    cr_assert_eq(weir_rtp_rtx_unwrap(&h, rtx, 0x3c4d5e6f, 96), (int)sizeof CHROME_VP8);
    assert_bytes(rtx, sizeof CHROME_VP8, CHROME_VP8, sizeof CHROME_VP8);
    cr_assert_eq(h.seq, 6699);
    cr_assert_eq(h.ssrc, 0x3c4d5e6f);
    cr_assert_eq(h.payload_len, 20);
    weir_rtp again = parse_ok(rtx, sizeof CHROME_VP8);
    assert_same_header(&h, &again, "unwrap leaves h as a fresh parse would");
}

Test(rtp, rtx_drops_padding_and_marker_survives)
{
    weir_rtp orig = parse_ok(CSRC_PADDED, sizeof CSRC_PADDED);
    uint8_t rtx[64];
    int len = weir_rtp_rtx_wrap(rtx, sizeof rtx, &orig, CSRC_PADDED, 5, 98, 1);
    cr_assert_eq(len, 20 + 2 + 2);
    weir_rtp h = parse_ok(rtx, (size_t)len);
    cr_assert_eq(h.padding_len, 0);
    cr_assert(h.marker);
    cr_assert_eq(h.csrc_count, 2);
    cr_assert_eq(h.payload_type, 98);
    len = weir_rtp_rtx_unwrap(&h, rtx, 0, 0);
    cr_assert_eq(len, 22);
    static const uint8_t want[] = {
        0x82, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00,
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x01, 0x02,
    };
    assert_bytes(rtx, (size_t)len, want, sizeof want);
}

Test(rtp, rtx_unwrap_rejects_padding_only_probe)
{
    uint8_t b[sizeof PADDING_ONLY];
    memcpy(b, PADDING_ONLY, sizeof b);
    weir_rtp h = parse_ok(b, sizeof b);
    weir_rtp before = h;
    uint16_t osn = 77;
    cr_assert_eq(weir_rtp_rtx_osn(&h, b, &osn), -WEIR_EINVAL);
    cr_assert_eq(osn, 77);
    cr_assert_eq(weir_rtp_rtx_unwrap(&h, b, 1, 96), -WEIR_EINVAL);
    assert_bytes(b, sizeof b, PADDING_ONLY, sizeof PADDING_ONLY);
    assert_same_header(&h, &before, "untouched on error");
}

Test(rtp, rtx_of_empty_payload_and_small_cap)
{
    weir_rtp_fields f = {.ssrc = 1, .seq = 65535, .payload_type = 96};
    uint8_t orig[16], rtx[16];
    int olen = weir_rtp_write(orig, sizeof orig, &f, NULL, 0, 0);
    weir_rtp h = parse_ok(orig, (size_t)olen);
    cr_assert_eq(weir_rtp_rtx_wrap(rtx, 13, &h, orig, 2, 97, 0), -WEIR_ETOOBIG);
    int len = weir_rtp_rtx_wrap(rtx, 14, &h, orig, 2, 97, 0);
    cr_assert_eq(len, 14);
    weir_rtp r = parse_ok(rtx, (size_t)len);
    cr_assert_eq(weir_rtp_rtx_unwrap(&r, rtx, 1, 96), 12);
    assert_bytes(rtx, 12, orig, 12);
}
