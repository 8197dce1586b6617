/*
 * libFuzzer target for proto/rtp.c. Every input goes through the header
 * parser; one that parses is then pushed through everything built on it,
 * and the properties that must hold are checked (abort() on violation):
 *   - the parsed layout covers exactly the input;
 *   - every extension element lies inside the extension block, find()
 *     returns the first element of each id, value helpers never misread;
 *   - rewriting an element with its own value changes nothing, and shrinking
 *     one keeps the block iterable;
 *   - the extension writer and weir_rtp_write give back what was parsed;
 *   - RTX wrap then unwrap restores the packet minus its padding;
 *   - setters writing the parsed values change nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "proto/rtp.h"

#define MAX_ELEMS 64

static uint8_t scratch[2 * WEIR_RTP_MAX_LEN + 64];
static uint8_t scratch2[2 * WEIR_RTP_MAX_LEN + 64];

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

/* Iterates the block; returns the element count (or -1 if more than fit) and the end code. */
static int collect(const weir_rtp *h, const uint8_t *buf, weir_rtp_ext *elems, int *end_rc)
{
    weir_rtp_ext_iter it;
    weir_rtp_ext e;
    int n = 0, rc;
    weir_rtp_ext_iter_init(&it, h, buf);
    while ((rc = weir_rtp_ext_iter_next(&it, &e)) == 1) {
        CHECK(e.off >= h->ext_off && (size_t)e.off + e.len <= (size_t)h->ext_off + h->ext_len);
        CHECK(e.data == buf + e.off && e.id != 0);
        if (n >= 0 && n < MAX_ELEMS)
            elems[n++] = e;
        else
            n = -1;
    }
    *end_rc = rc;
    return n;
}

static void check_values(const weir_rtp_ext *e)
{
    uint32_t ast;
    uint16_t seq;
    bool voice;
    uint8_t level;
    char str[17];
    if (weir_rtp_abs_send_time_parse(e, &ast) == 0)
        CHECK(ast <= 0xffffff && e->len == 3);
    if (weir_rtp_twcc_seq_parse(e, &seq) == 0)
        CHECK(e->len == 2);
    if (weir_rtp_audio_level_parse(e, &voice, &level) == 0)
        CHECK(level <= 127);
    int n = weir_rtp_ext_str_parse(e, str, sizeof str);
    if (n >= 0)
        CHECK((size_t)n == strlen(str) && n > 0 && n < (int)sizeof str);
}

static void check_rewrite(const weir_rtp *h, const uint8_t *data, size_t size,
                          const weir_rtp_ext *elems, int n)
{
    for (int i = 0; i < n; i++) {
        weir_rtp_ext first;
        CHECK(weir_rtp_ext_find(h, data, elems[i].id, &first) == 0);
        CHECK(first.off <= elems[i].off);

        memcpy(scratch, data, size);
        CHECK(weir_rtp_ext_rewrite(h, scratch, first.id, first.data, first.len) == 0);
        CHECK(memcmp(scratch, data, size) == 0);
        if (first.len > 1) {
            CHECK(weir_rtp_ext_rewrite(h, scratch, first.id, first.data, first.len - 1u) == 0);
            weir_rtp again;
            weir_rtp_ext e;
            CHECK(weir_rtp_parse(&again, scratch, size) == 0);
            CHECK(weir_rtp_ext_find(&again, scratch, first.id, &e) == 0);
            CHECK(e.len == first.len - 1 && memcmp(e.data, data + first.off, e.len) == 0);
        }
    }
}

static void check_write(const weir_rtp *h, const uint8_t *data, const weir_rtp_ext *elems, int n)
{
    uint32_t csrcs[WEIR_RTP_MAX_CSRC];
    for (size_t i = 0; i < h->csrc_count; i++)
        CHECK(weir_rtp_csrc(h, data, i, &csrcs[i]) == 0);
    weir_rtp_fields f = {
        .ssrc = h->ssrc,
        .timestamp = h->timestamp,
        .seq = h->seq,
        .payload_type = h->payload_type,
        .marker = h->marker,
        .csrcs = csrcs,
        .csrc_count = h->csrc_count,
        .exts = elems,
        .ext_count = (size_t)n,
    };
    int len = weir_rtp_write(scratch, sizeof scratch, &f, weir_rtp_payload(h, data), h->payload_len,
                             h->padding_len);
    if (len < 0)
        return; /* the rewritten extension block may push it over 65535 */
    weir_rtp w;
    CHECK(weir_rtp_parse(&w, scratch, (size_t)len) == 0);
    CHECK(w.ssrc == h->ssrc && w.timestamp == h->timestamp && w.seq == h->seq);
    CHECK(w.payload_type == h->payload_type && w.marker == h->marker);
    CHECK(w.csrc_count == h->csrc_count && w.padding_len == h->padding_len);
    CHECK(w.payload_len == h->payload_len);
    CHECK(memcmp(weir_rtp_payload(&w, scratch), weir_rtp_payload(h, data), h->payload_len) == 0);
    weir_rtp_ext got[MAX_ELEMS];
    int end_rc;
    CHECK(collect(&w, scratch, got, &end_rc) == n && end_rc == 0);
    for (int i = 0; i < n; i++) {
        CHECK(got[i].id == elems[i].id && got[i].len == elems[i].len);
        CHECK(memcmp(got[i].data, elems[i].data, got[i].len) == 0);
    }
}

static void check_rtx(const weir_rtp *h, const uint8_t *data)
{
    int len = weir_rtp_rtx_wrap(scratch, sizeof scratch, h, data, 0x12345678, 97, 4242);
    if (len < 0) {
        CHECK(h->payload_off + 2u + h->payload_len > WEIR_RTP_MAX_LEN);
        return;
    }
    weir_rtp r;
    uint16_t osn;
    CHECK(weir_rtp_parse(&r, scratch, (size_t)len) == 0);
    CHECK(r.ssrc == 0x12345678 && r.payload_type == 97 && r.seq == 4242 && r.padding_len == 0);
    CHECK(weir_rtp_rtx_osn(&r, scratch, &osn) == 0 && osn == h->seq);
    int olen = weir_rtp_rtx_unwrap(&r, scratch, h->ssrc, h->payload_type);
    CHECK(olen == h->payload_off + h->payload_len);
    memcpy(scratch2, data, (size_t)olen);
    scratch2[0] &= (uint8_t)~0x20;
    CHECK(memcmp(scratch, scratch2, (size_t)olen) == 0);
    CHECK(r.seq == h->seq && r.ssrc == h->ssrc && r.payload_len == h->payload_len);
}

static void check_setters(weir_rtp h, const uint8_t *data, size_t size)
{
    memcpy(scratch, data, size);
    weir_rtp_set_seq(&h, scratch, h.seq);
    weir_rtp_set_timestamp(&h, scratch, h.timestamp);
    weir_rtp_set_ssrc(&h, scratch, h.ssrc);
    weir_rtp_set_payload_type(&h, scratch, h.payload_type);
    weir_rtp_set_marker(&h, scratch, h.marker);
    CHECK(memcmp(scratch, data, size) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    weir_rtp h;
    if (weir_rtp_parse(&h, data, size) != 0)
        return 0;
    CHECK((size_t)h.payload_off + h.payload_len + h.padding_len == size);
    CHECK((size_t)h.ext_off + h.ext_len <= h.payload_off);

    weir_rtp_ext elems[MAX_ELEMS];
    int end_rc;
    int n = collect(&h, data, elems, &end_rc);
    for (int i = 0; i < n; i++)
        check_values(&elems[i]);
    if (n > 0)
        check_rewrite(&h, data, size, elems, n);
    if (n >= 0 && end_rc == 0)
        check_write(&h, data, elems, n);
    check_rtx(&h, data);
    check_setters(h, data, size);
    return 0;
}
