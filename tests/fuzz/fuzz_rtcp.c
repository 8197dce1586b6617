/*
 * libFuzzer target for proto/rtcp.c, proto/rtcp_fb.c and proto/twcc.c.
 * Each input is used two ways:
 *   1. as a compound packet, iterated sub-packet by sub-packet;
 *   2. as one sub-packet body whose type and count come from the first byte,
 *      so random bytes reach every body parser without first having to
 *      forge a valid common header.
 * Every sub-packet goes through the parser for its type; whatever parses is
 * written back with the matching writer and parsed again, and must come back
 * the same (abort() otherwise): report blocks, CNAMEs, BYE lists, the set of
 * NACKed seqs, FIR entries, the REMB bitrate, every TWCC entry.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/rtcp.h"
#include "proto/rtcp_fb.h"
#include "proto/twcc.h"
#include "weir/errors.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static uint8_t out[WEIR_RTCP_MAX_LEN];
static uint16_t seqs[1 << 16];
static uint8_t set_a[65536 / 8], set_b[65536 / 8];
static weir_twcc_entry entries[65536], entries2[65536];

static weir_rtcp_pkt reparse(int len)
{
    weir_rtcp_iter it;
    weir_rtcp_pkt p;
    CHECK(len > 0 && len % 4 == 0);
    weir_rtcp_iter_init(&it, out, (size_t)len);
    CHECK(weir_rtcp_iter_next(&it, &p) == 1 && p.len == (uint32_t)len);
    CHECK(weir_rtcp_iter_next(&it, &p) == 0);
    return p;
}

static void same_blocks(weir_rtcp_blocks a, weir_rtcp_blocks b)
{
    CHECK(a.count == b.count);
    for (size_t i = 0; i < a.count; i++) {
        weir_rtcp_report_block x, y;
        CHECK(weir_rtcp_block_parse(a, i, &x) == 0 && weir_rtcp_block_parse(b, i, &y) == 0);
        CHECK(x.ssrc == y.ssrc && x.fraction_lost == y.fraction_lost);
        CHECK(x.cumulative_lost == y.cumulative_lost && x.highest_seq == y.highest_seq);
        CHECK(x.jitter == y.jitter && x.lsr == y.lsr && x.dlsr == y.dlsr);
    }
}

static void blocks_of(weir_rtcp_blocks b, weir_rtcp_report_block *arr)
{
    for (size_t i = 0; i < b.count; i++)
        CHECK(weir_rtcp_block_parse(b, i, &arr[i]) == 0);
}

static void fuzz_reports(const weir_rtcp_pkt *p)
{
    weir_rtcp_report_block arr[WEIR_RTCP_MAX_COUNT];
    weir_rtcp_sr sr, sr2;
    weir_rtcp_rr rr, rr2;
    if (weir_rtcp_sr_parse(p, &sr) == 0) {
        blocks_of(sr.blocks, arr);
        weir_rtcp_pkt q = reparse(weir_rtcp_sr_write(out, sizeof out, &sr, arr, sr.blocks.count));
        CHECK(weir_rtcp_sr_parse(&q, &sr2) == 0);
        CHECK(sr2.ssrc == sr.ssrc && sr2.ntp == sr.ntp && sr2.rtp_ts == sr.rtp_ts);
        CHECK(sr2.packet_count == sr.packet_count && sr2.octet_count == sr.octet_count);
        same_blocks(sr.blocks, sr2.blocks);
    }
    if (weir_rtcp_rr_parse(p, &rr) == 0) {
        blocks_of(rr.blocks, arr);
        weir_rtcp_pkt q =
            reparse(weir_rtcp_rr_write(out, sizeof out, rr.ssrc, arr, rr.blocks.count));
        CHECK(weir_rtcp_rr_parse(&q, &rr2) == 0 && rr2.ssrc == rr.ssrc);
        same_blocks(rr.blocks, rr2.blocks);
    }
}

static void fuzz_sdes_bye(const weir_rtcp_pkt *p)
{
    weir_rtcp_sdes_iter it, it2;
    weir_rtcp_sdes_chunk c, c2;
    if (weir_rtcp_sdes_iter_init(&it, p) == 0) {
        while (weir_rtcp_sdes_iter_next(&it, &c) == 1) {
            if (!c.cname)
                continue;
            CHECK(c.cname >= p->body && c.cname + c.cname_len <= p->body + p->body_len);
            int len =
                weir_rtcp_sdes_write(out, sizeof out, c.ssrc, (const char *)c.cname, c.cname_len);
            weir_rtcp_pkt q = reparse(len);
            CHECK(weir_rtcp_sdes_iter_init(&it2, &q) == 0);
            CHECK(weir_rtcp_sdes_iter_next(&it2, &c2) == 1 && c2.ssrc == c.ssrc);
            CHECK(c2.cname_len == c.cname_len && memcmp(c2.cname, c.cname, c.cname_len) == 0);
        }
    }

    weir_rtcp_bye b, b2;
    if (weir_rtcp_bye_parse(p, &b) == 0) {
        uint32_t ssrcs[WEIR_RTCP_MAX_COUNT], s;
        for (size_t i = 0; i < b.count; i++)
            CHECK(weir_rtcp_bye_ssrc(&b, i, &ssrcs[i]) == 0);
        CHECK(weir_rtcp_bye_ssrc(&b, b.count, &s) < 0);
        weir_rtcp_pkt q = reparse(weir_rtcp_bye_write(out, sizeof out, ssrcs, b.count,
                                                      (const char *)b.reason, b.reason_len));
        CHECK(weir_rtcp_bye_parse(&q, &b2) == 0 && b2.count == b.count);
        CHECK(b2.reason_len == b.reason_len);
        CHECK(b.reason_len == 0 || memcmp(b2.reason, b.reason, b.reason_len) == 0);
        for (size_t i = 0; i < b.count; i++)
            CHECK(weir_rtcp_bye_ssrc(&b2, i, &s) == 0 && s == ssrcs[i]);
    }
}

static size_t mark(uint8_t *set, const uint16_t *list, size_t n)
{
    memset(set, 0, 65536 / 8);
    for (size_t i = 0; i < n; i++)
        set[list[i] / 8] |= (uint8_t)(1u << list[i] % 8);
    return n;
}

static void fuzz_nack(const weir_rtcp_pkt *p)
{
    weir_rtcp_fb_nack n, n2;
    if (weir_rtcp_fb_nack_parse(p, &n) != 0)
        return;
    size_t total = weir_rtcp_fb_nack_expand(&n, seqs, sizeof seqs / sizeof seqs[0]);
    CHECK(total >= n.pair_count && total <= 17u * n.pair_count);
    if (total > sizeof seqs / sizeof seqs[0])
        return;
    mark(set_a, seqs, total);
    int len = weir_rtcp_fb_nack_write(out, sizeof out, n.sender_ssrc, n.media_ssrc, seqs, total);
    if (len < 0)
        return; /* more pairs than one RTCP packet can hold */
    weir_rtcp_pkt q = reparse(len);
    CHECK(weir_rtcp_fb_nack_parse(&q, &n2) == 0);
    size_t total2 = weir_rtcp_fb_nack_expand(&n2, seqs, sizeof seqs / sizeof seqs[0]);
    if (total2 > sizeof seqs / sizeof seqs[0])
        return;
    mark(set_b, seqs, total2);
    CHECK(memcmp(set_a, set_b, sizeof set_a) == 0);
}

static void fuzz_twcc(const weir_rtcp_pkt *p)
{
    weir_twcc h, h2;
    weir_twcc_iter it;
    weir_twcc_entry e;
    int n = weir_twcc_parse(p, &h, entries, sizeof entries / sizeof entries[0]);
    if (n < 0) {
        CHECK(weir_twcc_iter_init(&it, p, &h2) < 0);
        return;
    }
    CHECK(n == h.status_count && n > 0);
    CHECK(weir_twcc_iter_init(&it, p, &h2) == 0);
    for (int i = 0; i < n; i++) {
        CHECK(weir_twcc_iter_next(&it, &e) == 1);
        CHECK(e.seq == (uint16_t)(h.base_seq + i) && e.seq == entries[i].seq);
        CHECK(e.received == entries[i].received && e.delta_us == entries[i].delta_us);
        CHECK(e.delta_us % WEIR_TWCC_DELTA_TICK_US == 0);
    }
    CHECK(weir_twcc_iter_next(&it, &e) == 0);

    int len = weir_twcc_write(out, sizeof out, &h, entries, (size_t)n);
    weir_rtcp_pkt q = reparse(len);
    CHECK(weir_twcc_parse(&q, &h2, entries2, sizeof entries2 / sizeof entries2[0]) == n);
    CHECK(h2.sender_ssrc == h.sender_ssrc && h2.media_ssrc == h.media_ssrc);
    CHECK(h2.base_seq == h.base_seq && h2.reference_time == h.reference_time);
    CHECK(h2.fb_count == h.fb_count);
    for (int i = 0; i < n; i++) {
        CHECK(entries2[i].seq == entries[i].seq && entries2[i].received == entries[i].received);
        CHECK(entries2[i].delta_us == entries[i].delta_us);
    }
}

static void fuzz_psfb(const weir_rtcp_pkt *p)
{
    weir_rtcp_fb fb;
    if (weir_rtcp_fb_pli_parse(p, &fb) == 0) {
        weir_rtcp_pkt q =
            reparse(weir_rtcp_fb_pli_write(out, sizeof out, fb.sender_ssrc, fb.media_ssrc));
        CHECK(weir_rtcp_fb_pli_parse(&q, &fb) == 0);
    }

    weir_rtcp_fb_fir fir, fir2;
    if (weir_rtcp_fb_fir_parse(p, &fir) == 0) {
        static weir_rtcp_fb_fir_entry fe[WEIR_RTCP_MAX_LEN / 8];
        weir_rtcp_fb_fir_entry x;
        for (size_t i = 0; i < fir.entry_count; i++)
            CHECK(weir_rtcp_fb_fir_entry_parse(&fir, i, &fe[i]) == 0);
        CHECK(weir_rtcp_fb_fir_entry_parse(&fir, fir.entry_count, &x) < 0);
        int len = weir_rtcp_fb_fir_write(out, sizeof out, fir.sender_ssrc, fe, fir.entry_count);
        weir_rtcp_pkt q = reparse(len);
        CHECK(weir_rtcp_fb_fir_parse(&q, &fir2) == 0 && fir2.entry_count == fir.entry_count);
        for (size_t i = 0; i < fir.entry_count; i++) {
            CHECK(weir_rtcp_fb_fir_entry_parse(&fir2, i, &x) == 0);
            CHECK(x.ssrc == fe[i].ssrc && x.seq_nr == fe[i].seq_nr);
        }
    }

    weir_rtcp_fb_remb r, r2;
    if (weir_rtcp_fb_remb_parse(p, &r) == 0) {
        uint32_t ssrcs[255], s;
        for (size_t i = 0; i < r.ssrc_count; i++)
            CHECK(weir_rtcp_fb_remb_ssrc(&r, i, &ssrcs[i]) == 0);
        int len = weir_rtcp_fb_remb_write(out, sizeof out, r.sender_ssrc, r.bitrate_bps, ssrcs,
                                          r.ssrc_count);
        weir_rtcp_pkt q = reparse(len);
        CHECK(weir_rtcp_fb_remb_parse(&q, &r2) == 0);
        CHECK(r2.bitrate_bps == r.bitrate_bps && r2.ssrc_count == r.ssrc_count);
        for (size_t i = 0; i < r.ssrc_count; i++)
            CHECK(weir_rtcp_fb_remb_ssrc(&r2, i, &s) == 0 && s == ssrcs[i]);
    }
}

static void fuzz_one(const weir_rtcp_pkt *p)
{
    weir_rtcp_fb fb;
    if (weir_rtcp_fb_parse(p, &fb) == 0)
        CHECK(fb.fci + fb.fci_len == p->body + p->body_len);
    fuzz_reports(p);
    fuzz_sdes_bye(p);
    fuzz_nack(p);
    fuzz_twcc(p);
    fuzz_psfb(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_rtcp_iter it;
    weir_rtcp_pkt p;
    int rc, n = 0;
    size_t total = 0;

    (void)weir_rtcp_is_rtcp(data, size);
    weir_rtcp_iter_init(&it, data, size);
    while ((rc = weir_rtcp_iter_next(&it, &p)) == 1) {
        CHECK(p.data == data + total && p.body == p.data + 4);
        CHECK(p.body_len + 4 <= p.len && p.len % 4 == 0);
        total += p.len;
        n++;
        fuzz_one(&p);
    }
    CHECK(weir_rtcp_validate(data, size) == (rc == 0 && n > 0 ? n : -WEIR_EINVAL));

    if (size >= 1) {
        /* type 200..207, count 0..31 from the first byte; the rest is the body */
        weir_rtcp_pkt raw = {
            .data = data,
            .body = data + 1,
            .len = (uint32_t)size,
            .body_len = (uint32_t)(size - 1),
            .type = (uint8_t)(WEIR_RTCP_SR + (data[0] & 7)),
            .count = data[0] >> 3,
        };
        if (raw.body_len <= WEIR_RTCP_MAX_LEN - 4) /* the largest a real body can be */
            fuzz_one(&raw);
    }
    return 0;
}
