/*
 * Transport-wide CC feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01
 * §3.1). The packet is: feedback header, base seq, status count, reference
 * time, fb pkt count, then packet status chunks covering status_count
 * packets, then one receive delta per received packet, in order.
 *
 * A status symbol says how a packet's delta is coded: 0 not received (no
 * delta), 1 small delta (1 byte, unsigned), 2 large or negative delta
 * (2 bytes, signed); 3 is reserved. Chunks (§3.1.3, §3.1.4) are 16 bits:
 *   0 SS LLLLLLLLLLLLL   run of L packets with symbol SS
 *   1 0  14 x 1 bit      status vector of 1-bit symbols (0 or 1)
 *   1 1  7 x 2 bits      status vector of 2-bit symbols
 * The last chunk may describe more packets than status_count; the extra
 * symbols are ignored, as libwebrtc does.
 */
#include "proto/twcc.h"

#include <string.h>

#include "proto/rtcp_fb.h"
#include "proto/wire.h"
#include "weir/errors.h"

#define TWCC_FIXED_LEN 16 /* after the common header: 2 SSRCs + 8 bytes */
#define CHUNK_VECTOR 0x8000
#define CHUNK_TWO_BIT 0x4000
#define RUN_MAX 0x1fff
#define ONE_BIT_CAPACITY 14
#define TWO_BIT_CAPACITY 7

enum { SYM_NOT_RECEIVED = 0, SYM_SMALL = 1, SYM_LARGE = 2, SYM_RESERVED = 3 };

/* Symbols the chunk describes, before clipping to what is left. */
static unsigned chunk_capacity(uint16_t chunk)
{
    if (!(chunk & CHUNK_VECTOR))
        return chunk & RUN_MAX;
    return (chunk & CHUNK_TWO_BIT) ? TWO_BIT_CAPACITY : ONE_BIT_CAPACITY;
}

static unsigned chunk_symbol(uint16_t chunk, unsigned i)
{
    if (!(chunk & CHUNK_VECTOR))
        return chunk >> 13 & 3;
    if (chunk & CHUNK_TWO_BIT)
        return chunk >> (12 - 2 * i) & 3;
    return chunk >> (13 - i) & 1;
}

/* The delta bytes a symbol stands for happen to equal the symbol (0, 1, 2). */
static size_t symbol_delta_len(unsigned sym)
{
    return sym;
}

int weir_twcc_iter_init(weir_twcc_iter *it, const weir_rtcp_pkt *p, weir_twcc *hdr)
{
    if (p->type != WEIR_RTCP_RTPFB || p->count != WEIR_RTCP_FB_TWCC || p->body_len < TWCC_FIXED_LEN)
        return -WEIR_EINVAL;

    const uint8_t *b = p->body;
    uint32_t ref = weir_wire_get24(b + 12);
    weir_twcc h = {
        .sender_ssrc = weir_wire_get32(b),
        .media_ssrc = weir_wire_get32(b + 4),
        .base_seq = weir_wire_get16(b + 8),
        .status_count = weir_wire_get16(b + 10),
        .reference_time = (int32_t)ref - ((ref & 0x800000) ? 0x1000000 : 0),
        .fb_count = b[15],
    };
    if (h.status_count == 0)
        return -WEIR_EINVAL; /* libwebrtc refuses empty feedback too */

    /*
     * Walk the chunks once to find where the deltas start and how many bytes
     * they need, so iteration never has to fail. A run-length chunk is O(1)
     * however long its run.
     */
    size_t pos = TWCC_FIXED_LEN, delta_len = 0;
    uint32_t left = h.status_count;
    while (left > 0) {
        if (p->body_len - pos < 2)
            return -WEIR_EINVAL;
        uint16_t chunk = weir_wire_get16(b + pos);
        pos += 2;
        unsigned n = chunk_capacity(chunk);
        if (n > left)
            n = left;
        if (!(chunk & CHUNK_VECTOR)) {
            unsigned sym = chunk_symbol(chunk, 0);
            if (sym == SYM_RESERVED && n > 0)
                return -WEIR_EINVAL;
            delta_len += n * symbol_delta_len(sym);
        } else {
            for (unsigned i = 0; i < n; i++) {
                unsigned sym = chunk_symbol(chunk, i);
                if (sym == SYM_RESERVED)
                    return -WEIR_EINVAL;
                delta_len += symbol_delta_len(sym);
            }
        }
        left -= n;
    }
    if (p->body_len - pos < delta_len)
        return -WEIR_EINVAL;

    it->chunk_next = b + TWCC_FIXED_LEN;
    it->delta_next = b + pos;
    it->left = h.status_count;
    it->seq = h.base_seq;
    it->chunk = 0;
    it->chunk_left = 0;
    it->chunk_pos = 0;
    *hdr = h;
    return 0;
}

int weir_twcc_iter_next(weir_twcc_iter *it, weir_twcc_entry *out)
{
    if (it->left == 0)
        return 0;
    /* run-length chunks of length 0 are legal and simply skipped */
    while (it->chunk_left == 0) {
        it->chunk = weir_wire_get16(it->chunk_next);
        it->chunk_next += 2;
        unsigned n = chunk_capacity(it->chunk);
        it->chunk_left = (uint16_t)(n < it->left ? n : it->left);
        it->chunk_pos = 0;
    }

    unsigned sym = chunk_symbol(it->chunk, it->chunk_pos);
    it->chunk_pos++;
    it->chunk_left--;
    it->left--;

    out->seq = it->seq++;
    out->received = sym != SYM_NOT_RECEIVED;
    out->delta_us = 0;
    if (sym == SYM_SMALL) {
        out->delta_us = it->delta_next[0] * WEIR_TWCC_DELTA_TICK_US;
        it->delta_next += 1;
    } else if (sym == SYM_LARGE) {
        int32_t ticks = weir_wire_get16(it->delta_next);
        if (ticks & 0x8000)
            ticks -= 0x10000; /* 16-bit two's complement, without implementation-defined casts */
        out->delta_us = ticks * WEIR_TWCC_DELTA_TICK_US;
        it->delta_next += 2;
    }
    return 1;
}

int weir_twcc_parse(const weir_rtcp_pkt *p, weir_twcc *hdr, weir_twcc_entry *entries, size_t cap)
{
    weir_twcc_iter it;
    weir_twcc h;
    int rc = weir_twcc_iter_init(&it, p, &h);
    if (rc < 0)
        return rc;
    if (h.status_count > cap)
        return -WEIR_ETOOBIG;
    for (size_t i = 0; i < h.status_count; i++)
        weir_twcc_iter_next(&it, &entries[i]);
    *hdr = h;
    return h.status_count;
}

/* ---- writing ---- */

static unsigned entry_symbol(const weir_twcc_entry *e)
{
    if (!e->received)
        return SYM_NOT_RECEIVED;
    int32_t ticks = e->delta_us / WEIR_TWCC_DELTA_TICK_US;
    return ticks >= 0 && ticks <= 0xff ? SYM_SMALL : SYM_LARGE;
}

/*
 * Encodes the chunk starting at entries[i] into *chunk and returns how many
 * entries it covers. Greedy, like libwebrtc's: a run of 14 or more, or a run
 * reaching the end, is a run-length chunk; otherwise a 1-bit vector when the
 * next 14 fit in 1 bit; otherwise a run of 7 or more is a run-length chunk,
 * and anything else a 2-bit vector. For the usual patterns this gives the
 * same bytes as Chromium. A vector at the tail may describe more packets than
 * remain; its unused slots are "not received", and the parser stops at
 * status_count before them.
 */
static size_t encode_chunk(const weir_twcc_entry *e, size_t i, size_t n, uint16_t *chunk)
{
    unsigned sym = entry_symbol(&e[i]);
    size_t run = 1;
    while (i + run < n && run < RUN_MAX && entry_symbol(&e[i + run]) == sym)
        run++;
    if (run >= ONE_BIT_CAPACITY || i + run == n) {
        *chunk = (uint16_t)(sym << 13 | run);
        return run;
    }

    size_t take = n - i < ONE_BIT_CAPACITY ? n - i : ONE_BIT_CAPACITY;
    bool one_bit = true;
    for (size_t k = 0; k < take && one_bit; k++)
        one_bit = entry_symbol(&e[i + k]) <= SYM_SMALL;
    if (one_bit) {
        uint16_t c = CHUNK_VECTOR;
        for (size_t k = 0; k < take; k++)
            c |= (uint16_t)(entry_symbol(&e[i + k]) << (13 - k));
        *chunk = c;
        return take;
    }
    if (run >= TWO_BIT_CAPACITY) {
        *chunk = (uint16_t)(sym << 13 | run);
        return run;
    }
    take = n - i < TWO_BIT_CAPACITY ? n - i : TWO_BIT_CAPACITY;
    uint16_t c = CHUNK_VECTOR | CHUNK_TWO_BIT;
    for (size_t k = 0; k < take; k++)
        c |= (uint16_t)(entry_symbol(&e[i + k]) << (12 - 2 * k));
    *chunk = c;
    return take;
}

static int check_entries(const weir_twcc_entry *e, size_t n, size_t *delta_len)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].seq != (uint16_t)(e[0].seq + i))
            return -WEIR_EINVAL;
        if (!e[i].received)
            continue;
        if (e[i].delta_us % WEIR_TWCC_DELTA_TICK_US != 0 ||
            e[i].delta_us < INT16_MIN * WEIR_TWCC_DELTA_TICK_US ||
            e[i].delta_us > INT16_MAX * WEIR_TWCC_DELTA_TICK_US)
            return -WEIR_EINVAL;
        len += symbol_delta_len(entry_symbol(&e[i]));
    }
    *delta_len = len;
    return 0;
}

int weir_twcc_write(uint8_t *out, size_t cap, const weir_twcc *hdr, const weir_twcc_entry *entries,
                    size_t n)
{
    size_t delta_len, chunks = 0;
    uint16_t chunk;

    if (n == 0 || n > UINT16_MAX)
        return -WEIR_EINVAL;
    int rc = check_entries(entries, n, &delta_len);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < n; chunks++)
        i += encode_chunk(entries, i, n, &chunk);

    size_t unpadded = WEIR_RTCP_HEADER_LEN + TWCC_FIXED_LEN + 2 * chunks + delta_len;
    size_t len = (unpadded + 3) & ~(size_t)3;
    if (len > WEIR_RTCP_MAX_LEN || len > cap)
        return -WEIR_ETOOBIG;

    weir_rtcp_header_write(out, WEIR_RTCP_FB_TWCC, WEIR_RTCP_RTPFB, len, len != unpadded);
    uint8_t *b = out + WEIR_RTCP_HEADER_LEN;
    weir_wire_put32(b, hdr->sender_ssrc);
    weir_wire_put32(b + 4, hdr->media_ssrc);
    weir_wire_put16(b + 8, entries[0].seq);
    weir_wire_put16(b + 10, (uint16_t)n);
    weir_wire_put24(b + 12, (uint32_t)hdr->reference_time & 0xffffff);
    b[15] = hdr->fb_count;

    uint8_t *p = b + TWCC_FIXED_LEN;
    for (size_t i = 0; i < n; p += 2) {
        i += encode_chunk(entries, i, n, &chunk);
        weir_wire_put16(p, chunk);
    }
    for (size_t i = 0; i < n; i++) {
        int32_t ticks = entries[i].delta_us / WEIR_TWCC_DELTA_TICK_US;
        switch (entry_symbol(&entries[i])) {
        case SYM_SMALL:
            *p++ = (uint8_t)ticks;
            break;
        case SYM_LARGE:
            weir_wire_put16(p, (uint16_t)ticks);
            p += 2;
            break;
        default:
            break;
        }
    }
    /* RFC 3550 §6.4.1 padding: zeros, then the count in the last octet */
    if (len != unpadded) {
        memset(p, 0, len - unpadded);
        out[len - 1] = (uint8_t)(len - unpadded);
    }
    return (int)len;
}
