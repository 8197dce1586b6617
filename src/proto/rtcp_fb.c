/*
 * RTCP feedback messages. All of them share the RFC 4585 §6.1 layout:
 * common header (FMT in the count bits), sender SSRC, media SSRC, then FCI.
 */
#include "proto/rtcp_fb.h"

#include <string.h>

#include "proto/wire.h"
#include "weir/errors.h"

#define FB_HEADER_LEN 12 /* common header + sender SSRC + media SSRC */
#define NACK_PAIR_LEN 4
#define FIR_ENTRY_LEN 8
#define REMB_FIXED_LEN 8 /* 'REMB', num SSRC, exp + mantissa */
#define REMB_MANTISSA_BITS 18
#define REMB_MAX_EXP 63

int weir_rtcp_fb_parse(const weir_rtcp_pkt *p, weir_rtcp_fb *out)
{
    if ((p->type != WEIR_RTCP_RTPFB && p->type != WEIR_RTCP_PSFB) || p->body_len < 8)
        return -WEIR_EINVAL;
    out->sender_ssrc = weir_wire_get32(p->body);
    out->media_ssrc = weir_wire_get32(p->body + 4);
    out->fci = p->body + 8;
    out->fci_len = p->body_len - 8;
    out->type = p->type;
    out->fmt = p->count;
    return 0;
}

static int fb_parse_as(const weir_rtcp_pkt *p, uint8_t type, uint8_t fmt, weir_rtcp_fb *out)
{
    if (p->type != type || p->count != fmt)
        return -WEIR_EINVAL;
    return weir_rtcp_fb_parse(p, out);
}

static void fb_header_write(uint8_t *out, uint8_t fmt, uint8_t type, size_t len, uint32_t sender,
                            uint32_t media)
{
    weir_rtcp_header_write(out, fmt, type, len, false);
    weir_wire_put32(out + 4, sender);
    weir_wire_put32(out + 8, media);
}

/* ---- NACK ---- */

int weir_rtcp_fb_nack_parse(const weir_rtcp_pkt *p, weir_rtcp_fb_nack *out)
{
    weir_rtcp_fb fb;
    int rc = fb_parse_as(p, WEIR_RTCP_RTPFB, WEIR_RTCP_FB_NACK, &fb);
    if (rc < 0)
        return rc;
    /* RFC 4585 §6.2.1: one or more FCI entries; a trailing partial pair is malformed */
    if (fb.fci_len < NACK_PAIR_LEN || fb.fci_len % NACK_PAIR_LEN)
        return -WEIR_EINVAL;
    out->sender_ssrc = fb.sender_ssrc;
    out->media_ssrc = fb.media_ssrc;
    out->fci = fb.fci;
    out->pair_count = fb.fci_len / NACK_PAIR_LEN;
    return 0;
}

size_t weir_rtcp_fb_nack_expand(const weir_rtcp_fb_nack *n, uint16_t *seqs, size_t cap)
{
    size_t total = 0;

    for (uint32_t i = 0; i < n->pair_count; i++) {
        const uint8_t *pair = n->fci + NACK_PAIR_LEN * i;
        uint16_t pid = weir_wire_get16(pair);
        uint16_t blp = weir_wire_get16(pair + 2);
        if (total < cap)
            seqs[total] = pid;
        total++;
        /* §6.2.1: bit i of BLP (LSB = 0) reports PID + i + 1 lost */
        for (unsigned bit = 0; bit < 16; bit++) {
            if (!(blp >> bit & 1))
                continue;
            if (total < cap)
                seqs[total] = (uint16_t)(pid + bit + 1);
            total++;
        }
    }
    return total;
}

int weir_rtcp_fb_nack_write(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc,
                            const uint16_t *seqs, size_t n)
{
    if (n == 0)
        return -WEIR_EINVAL;

    /*
     * Greedy: a seq within PID+1..PID+16 of the open pair sets a BLP bit,
     * anything else (further ahead, or behind when unsorted) opens a new pair.
     * Pairs are written as they close, so count first to check cap.
     */
    size_t pairs = 1;
    uint16_t pid = seqs[0];
    for (size_t i = 1; i < n; i++) {
        uint16_t d = (uint16_t)(seqs[i] - pid);
        if (d > 16) {
            pairs++;
            pid = seqs[i];
        }
    }
    size_t len = FB_HEADER_LEN + NACK_PAIR_LEN * pairs;
    if (len > WEIR_RTCP_MAX_LEN)
        return -WEIR_ETOOBIG;
    if (len > cap)
        return -WEIR_ETOOBIG;

    fb_header_write(out, WEIR_RTCP_FB_NACK, WEIR_RTCP_RTPFB, len, sender_ssrc, media_ssrc);
    uint8_t *p = out + FB_HEADER_LEN;
    uint16_t blp = 0;
    pid = seqs[0];
    for (size_t i = 1; i < n; i++) {
        uint16_t d = (uint16_t)(seqs[i] - pid);
        if (d == 0)
            continue; /* duplicate of the PID */
        if (d <= 16) {
            blp |= (uint16_t)(1u << (d - 1));
            continue;
        }
        weir_wire_put16(p, pid);
        weir_wire_put16(p + 2, blp);
        p += NACK_PAIR_LEN;
        pid = seqs[i];
        blp = 0;
    }
    weir_wire_put16(p, pid);
    weir_wire_put16(p + 2, blp);
    return (int)len;
}

/* ---- PLI ---- */

int weir_rtcp_fb_pli_parse(const weir_rtcp_pkt *p, weir_rtcp_fb *out)
{
    /* §6.3.1: no FCI; extra bytes are tolerated, as libwebrtc does */
    return fb_parse_as(p, WEIR_RTCP_PSFB, WEIR_RTCP_FB_PLI, out);
}

int weir_rtcp_fb_pli_write(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    if (cap < FB_HEADER_LEN)
        return -WEIR_ETOOBIG;
    fb_header_write(out, WEIR_RTCP_FB_PLI, WEIR_RTCP_PSFB, FB_HEADER_LEN, sender_ssrc, media_ssrc);
    return FB_HEADER_LEN;
}

/* ---- FIR ---- */

int weir_rtcp_fb_fir_parse(const weir_rtcp_pkt *p, weir_rtcp_fb_fir *out)
{
    weir_rtcp_fb fb;
    int rc = fb_parse_as(p, WEIR_RTCP_PSFB, WEIR_RTCP_FB_FIR, &fb);
    if (rc < 0)
        return rc;
    if (fb.fci_len < FIR_ENTRY_LEN || fb.fci_len % FIR_ENTRY_LEN)
        return -WEIR_EINVAL;
    out->sender_ssrc = fb.sender_ssrc;
    out->fci = fb.fci;
    out->entry_count = fb.fci_len / FIR_ENTRY_LEN;
    return 0;
}

int weir_rtcp_fb_fir_entry_parse(const weir_rtcp_fb_fir *f, size_t i, weir_rtcp_fb_fir_entry *out)
{
    if (i >= f->entry_count)
        return -WEIR_EINVAL;
    const uint8_t *e = f->fci + FIR_ENTRY_LEN * i;
    out->ssrc = weir_wire_get32(e);
    out->seq_nr = e[4];
    return 0;
}

int weir_rtcp_fb_fir_write(uint8_t *out, size_t cap, uint32_t sender_ssrc,
                           const weir_rtcp_fb_fir_entry *entries, size_t n)
{
    if (n == 0)
        return -WEIR_EINVAL;
    if (n > (WEIR_RTCP_MAX_LEN - FB_HEADER_LEN) / FIR_ENTRY_LEN)
        return -WEIR_ETOOBIG;
    size_t len = FB_HEADER_LEN + FIR_ENTRY_LEN * n;
    if (len > cap)
        return -WEIR_ETOOBIG;
    /* RFC 5104 §4.3.1.2: the media SSRC field is unused and set to 0 */
    fb_header_write(out, WEIR_RTCP_FB_FIR, WEIR_RTCP_PSFB, len, sender_ssrc, 0);
    for (size_t i = 0; i < n; i++) {
        uint8_t *e = out + FB_HEADER_LEN + FIR_ENTRY_LEN * i;
        weir_wire_put32(e, entries[i].ssrc);
        e[4] = entries[i].seq_nr;
        e[5] = e[6] = e[7] = 0;
    }
    return (int)len;
}

/* ---- REMB ---- */

int weir_rtcp_fb_remb_parse(const weir_rtcp_pkt *p, weir_rtcp_fb_remb *out)
{
    weir_rtcp_fb fb;
    int rc = fb_parse_as(p, WEIR_RTCP_PSFB, WEIR_RTCP_FB_AFB, &fb);
    if (rc < 0)
        return rc;
    /* other AFB messages share FMT 15; only the 'REMB' identifier is ours */
    if (fb.fci_len < REMB_FIXED_LEN || memcmp(fb.fci, "REMB", 4) != 0)
        return -WEIR_EINVAL;
    uint8_t count = fb.fci[4];
    if (fb.fci_len - REMB_FIXED_LEN < 4u * count)
        return -WEIR_EINVAL;
    unsigned exp = fb.fci[5] >> 2;
    uint64_t mantissa = weir_wire_get24(fb.fci + 5) & 0x3ffff;
    if (mantissa > (UINT64_MAX >> exp))
        return -WEIR_EINVAL; /* libwebrtc rejects these too rather than saturate */
    out->sender_ssrc = fb.sender_ssrc;
    out->bitrate_bps = mantissa << exp;
    out->ssrcs = fb.fci + REMB_FIXED_LEN;
    out->ssrc_count = count;
    return 0;
}

int weir_rtcp_fb_remb_ssrc(const weir_rtcp_fb_remb *r, size_t i, uint32_t *out)
{
    if (i >= r->ssrc_count)
        return -WEIR_EINVAL;
    *out = weir_wire_get32(r->ssrcs + 4 * i);
    return 0;
}

int weir_rtcp_fb_remb_write(uint8_t *out, size_t cap, uint32_t sender_ssrc, uint64_t bitrate_bps,
                            const uint32_t *ssrcs, size_t n)
{
    if (n > 255)
        return -WEIR_EINVAL;
    size_t len = FB_HEADER_LEN + REMB_FIXED_LEN + 4 * n;
    if (len > cap)
        return -WEIR_ETOOBIG;

    unsigned exp = 0;
    while (exp < REMB_MAX_EXP && (bitrate_bps >> exp) >= (1u << REMB_MANTISSA_BITS))
        exp++;
    uint32_t mantissa = (uint32_t)(bitrate_bps >> exp);

    /* draft-alvestrand-rmcat-remb-03 §2.2: media SSRC is always 0 */
    fb_header_write(out, WEIR_RTCP_FB_AFB, WEIR_RTCP_PSFB, len, sender_ssrc, 0);
    uint8_t *f = out + FB_HEADER_LEN;
    memcpy(f, "REMB", 4);
    f[4] = (uint8_t)n;
    weir_wire_put24(f + 5, (uint32_t)exp << REMB_MANTISSA_BITS | mantissa);
    for (size_t i = 0; i < n; i++)
        weir_wire_put32(f + REMB_FIXED_LEN + 4 * i, ssrcs[i]);
    return (int)len;
}
