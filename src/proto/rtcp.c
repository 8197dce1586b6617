/*
 * RTCP compound packets and the RFC 3550 reports. The iterator is the only
 * place that trusts a length field, and only after checking it against the
 * buffer; everything below works on (body, body_len) it produced.
 */
#include "proto/rtcp.h"

#include <string.h>

#include "proto/wire.h"
#include "weir/errors.h"

#define RTCP_VERSION 2
#define BIT_PADDING 0x20
#define SR_SENDER_INFO_LEN 24 /* SSRC + NTP + RTP ts + packet and octet counts */
#define REPORT_BLOCK_LEN 24

static size_t round4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

void weir_rtcp_header_write(uint8_t *out, uint8_t count, uint8_t type, size_t len, bool padding)
{
    out[0] = (uint8_t)(RTCP_VERSION << 6 | (padding ? BIT_PADDING : 0) | (count & 0x1f));
    out[1] = type;
    weir_wire_put16(out + 2, (uint16_t)(len / 4 - 1));
}

bool weir_rtcp_is_rtcp(const uint8_t *buf, size_t len)
{
    return len >= WEIR_RTCP_HEADER_LEN && buf[0] >> 6 == RTCP_VERSION && buf[1] >= 192 &&
           buf[1] <= 223;
}

/* ---- compound iteration ---- */

void weir_rtcp_iter_init(weir_rtcp_iter *it, const uint8_t *buf, size_t len)
{
    it->buf = buf;
    it->len = len;
    it->pos = 0;
}

int weir_rtcp_iter_next(weir_rtcp_iter *it, weir_rtcp_pkt *out)
{
    if (it->pos >= it->len)
        return 0;

    const uint8_t *p = it->buf + it->pos;
    size_t left = it->len - it->pos;
    if (left < WEIR_RTCP_HEADER_LEN || p[0] >> 6 != RTCP_VERSION)
        goto malformed;
    size_t len = 4 * ((size_t)weir_wire_get16(p + 2) + 1);
    if (len > left)
        goto malformed;
    size_t body_len = len - WEIR_RTCP_HEADER_LEN;
    if (p[0] & BIT_PADDING) {
        /*
         * RFC 3550 §6.4.1: the last octet counts the padding including itself.
         * Only the last sub-packet should pad, but a padded one in the middle
         * is still unambiguous, so it is accepted as libwebrtc does.
         */
        uint8_t pad = p[len - 1];
        if (pad == 0 || pad > body_len)
            goto malformed;
        body_len -= pad;
    }
    out->data = p;
    out->body = p + WEIR_RTCP_HEADER_LEN;
    out->len = (uint32_t)len;
    out->body_len = (uint32_t)body_len;
    out->type = p[1];
    out->count = p[0] & 0x1f;
    it->pos += len;
    return 1;

malformed:
    it->pos = it->len;
    return -WEIR_EINVAL;
}

int weir_rtcp_validate(const uint8_t *buf, size_t len)
{
    weir_rtcp_iter it;
    weir_rtcp_pkt p;
    int n = 0, rc;

    /*
     * RFC 3550 A.2 also wants SR/RR first; RFC 5506 reduced-size RTCP (which
     * browsers negotiate with a=rtcp-rsize) drops that rule, so it is not
     * checked here.
     */
    weir_rtcp_iter_init(&it, buf, len);
    while ((rc = weir_rtcp_iter_next(&it, &p)) == 1)
        n++;
    if (rc < 0)
        return rc;
    return n > 0 ? n : -WEIR_EINVAL;
}

/* ---- SR / RR ---- */

static void block_write(uint8_t *p, const weir_rtcp_report_block *b)
{
    int32_t lost = b->cumulative_lost;
    if (lost > 0x7fffff)
        lost = 0x7fffff;
    if (lost < -0x800000)
        lost = -0x800000;
    weir_wire_put32(p, b->ssrc);
    p[4] = b->fraction_lost;
    weir_wire_put24(p + 5, (uint32_t)lost & 0xffffff);
    weir_wire_put32(p + 8, b->highest_seq);
    weir_wire_put32(p + 12, b->jitter);
    weir_wire_put32(p + 16, b->lsr);
    weir_wire_put32(p + 20, b->dlsr);
}

int weir_rtcp_block_parse(weir_rtcp_blocks b, size_t i, weir_rtcp_report_block *out)
{
    if (i >= b.count)
        return -WEIR_EINVAL;
    const uint8_t *p = b.data + REPORT_BLOCK_LEN * i;
    uint32_t lost = weir_wire_get24(p + 5);
    out->ssrc = weir_wire_get32(p);
    out->fraction_lost = p[4];
    /* RFC 3550 §6.4.1: cumulative number of packets lost is a signed 24-bit value */
    out->cumulative_lost = (int32_t)lost - ((lost & 0x800000) ? 0x1000000 : 0);
    out->highest_seq = weir_wire_get32(p + 8);
    out->jitter = weir_wire_get32(p + 12);
    out->lsr = weir_wire_get32(p + 16);
    out->dlsr = weir_wire_get32(p + 20);
    return 0;
}

int weir_rtcp_sr_parse(const weir_rtcp_pkt *p, weir_rtcp_sr *out)
{
    if (p->type != WEIR_RTCP_SR ||
        p->body_len < SR_SENDER_INFO_LEN + (size_t)REPORT_BLOCK_LEN * p->count)
        return -WEIR_EINVAL;
    const uint8_t *b = p->body;
    out->ssrc = weir_wire_get32(b);
    out->ntp = weir_wire_get64(b + 4);
    out->rtp_ts = weir_wire_get32(b + 12);
    out->packet_count = weir_wire_get32(b + 16);
    out->octet_count = weir_wire_get32(b + 20);
    out->blocks.data = b + SR_SENDER_INFO_LEN;
    out->blocks.count = p->count;
    return 0;
}

int weir_rtcp_rr_parse(const weir_rtcp_pkt *p, weir_rtcp_rr *out)
{
    if (p->type != WEIR_RTCP_RR || p->body_len < 4 + (size_t)REPORT_BLOCK_LEN * p->count)
        return -WEIR_EINVAL;
    out->ssrc = weir_wire_get32(p->body);
    out->blocks.data = p->body + 4;
    out->blocks.count = p->count;
    return 0;
}

int weir_rtcp_sr_write(uint8_t *out, size_t cap, const weir_rtcp_sr *sr,
                       const weir_rtcp_report_block *blocks, size_t n)
{
    if (n > WEIR_RTCP_MAX_COUNT)
        return -WEIR_EINVAL;
    size_t len = WEIR_RTCP_HEADER_LEN + SR_SENDER_INFO_LEN + REPORT_BLOCK_LEN * n;
    if (len > cap)
        return -WEIR_ETOOBIG;
    weir_rtcp_header_write(out, (uint8_t)n, WEIR_RTCP_SR, len, false);
    uint8_t *b = out + WEIR_RTCP_HEADER_LEN;
    weir_wire_put32(b, sr->ssrc);
    weir_wire_put64(b + 4, sr->ntp);
    weir_wire_put32(b + 12, sr->rtp_ts);
    weir_wire_put32(b + 16, sr->packet_count);
    weir_wire_put32(b + 20, sr->octet_count);
    for (size_t i = 0; i < n; i++)
        block_write(b + SR_SENDER_INFO_LEN + REPORT_BLOCK_LEN * i, &blocks[i]);
    return (int)len;
}

int weir_rtcp_rr_write(uint8_t *out, size_t cap, uint32_t ssrc,
                       const weir_rtcp_report_block *blocks, size_t n)
{
    if (n > WEIR_RTCP_MAX_COUNT)
        return -WEIR_EINVAL;
    size_t len = WEIR_RTCP_HEADER_LEN + 4 + REPORT_BLOCK_LEN * n;
    if (len > cap)
        return -WEIR_ETOOBIG;
    weir_rtcp_header_write(out, (uint8_t)n, WEIR_RTCP_RR, len, false);
    weir_wire_put32(out + 4, ssrc);
    for (size_t i = 0; i < n; i++)
        block_write(out + 8 + REPORT_BLOCK_LEN * i, &blocks[i]);
    return (int)len;
}

/* ---- SDES ---- */

int weir_rtcp_sdes_iter_init(weir_rtcp_sdes_iter *it, const weir_rtcp_pkt *p)
{
    if (p->type != WEIR_RTCP_SDES)
        return -WEIR_EINVAL;
    it->body = p->body;
    it->len = p->body_len;
    it->pos = 0;
    it->left = p->count;
    return 0;
}

int weir_rtcp_sdes_iter_next(weir_rtcp_sdes_iter *it, weir_rtcp_sdes_chunk *out)
{
    weir_rtcp_sdes_chunk c = {0};
    uint32_t pos = it->pos;

    if (it->left == 0)
        return 0;
    if (it->len - pos < 4)
        goto malformed;
    c.ssrc = weir_wire_get32(it->body + pos);
    pos += 4;
    for (;;) {
        if (pos >= it->len)
            goto malformed; /* §6.5: the item list MUST end with a null octet */
        uint8_t type = it->body[pos];
        if (type == WEIR_RTCP_SDES_END)
            break;
        if (it->len - pos < 2 || it->body[pos + 1] > it->len - pos - 2)
            goto malformed;
        uint8_t item_len = it->body[pos + 1];
        if (type == WEIR_RTCP_SDES_CNAME && !c.cname) {
            c.cname = it->body + pos + 2;
            c.cname_len = item_len;
        }
        pos += 2u + item_len;
    }
    /* the null octet, then null octets up to the next 32-bit boundary */
    pos = (uint32_t)round4(pos + 1);
    if (pos > it->len)
        goto malformed;
    it->pos = pos;
    it->left--;
    *out = c;
    return 1;

malformed:
    it->left = 0;
    return -WEIR_EINVAL;
}

int weir_rtcp_sdes_write(uint8_t *out, size_t cap, uint32_t ssrc, const char *cname,
                         size_t cname_len)
{
    if (cname_len > 255)
        return -WEIR_EINVAL;
    /* SSRC, CNAME type + length + text, at least one null octet, padded to 4 */
    size_t len = WEIR_RTCP_HEADER_LEN + round4(4 + 2 + cname_len + 1);
    if (len > cap)
        return -WEIR_ETOOBIG;
    memset(out, 0, len);
    weir_rtcp_header_write(out, 1, WEIR_RTCP_SDES, len, false);
    weir_wire_put32(out + 4, ssrc);
    out[8] = WEIR_RTCP_SDES_CNAME;
    out[9] = (uint8_t)cname_len;
    if (cname_len)
        memcpy(out + 10, cname, cname_len);
    return (int)len;
}

/* ---- BYE ---- */

int weir_rtcp_bye_parse(const weir_rtcp_pkt *p, weir_rtcp_bye *out)
{
    weir_rtcp_bye b = {.ssrcs = p->body, .count = p->count};
    size_t ssrcs_len = 4u * p->count;

    if (p->type != WEIR_RTCP_BYE || p->body_len < ssrcs_len)
        return -WEIR_EINVAL;
    /* §6.6: an optional length-prefixed reason follows the SSRC list */
    if (p->body_len > ssrcs_len) {
        size_t reason_len = p->body[ssrcs_len];
        if (reason_len > p->body_len - ssrcs_len - 1)
            return -WEIR_EINVAL;
        if (reason_len) {
            b.reason = p->body + ssrcs_len + 1;
            b.reason_len = (uint8_t)reason_len;
        }
    }
    *out = b;
    return 0;
}

int weir_rtcp_bye_ssrc(const weir_rtcp_bye *b, size_t i, uint32_t *out)
{
    if (i >= b->count)
        return -WEIR_EINVAL;
    *out = weir_wire_get32(b->ssrcs + 4 * i);
    return 0;
}

int weir_rtcp_bye_write(uint8_t *out, size_t cap, const uint32_t *ssrcs, size_t n,
                        const char *reason, size_t reason_len)
{
    if (n > WEIR_RTCP_MAX_COUNT || reason_len > 255)
        return -WEIR_EINVAL;
    size_t len = WEIR_RTCP_HEADER_LEN + 4 * n + (reason_len ? round4(1 + reason_len) : 0);
    if (len > cap)
        return -WEIR_ETOOBIG;
    memset(out, 0, len);
    weir_rtcp_header_write(out, (uint8_t)n, WEIR_RTCP_BYE, len, false);
    for (size_t i = 0; i < n; i++)
        weir_wire_put32(out + 4 + 4 * i, ssrcs[i]);
    if (reason_len) {
        out[4 + 4 * n] = (uint8_t)reason_len;
        memcpy(out + 5 + 4 * n, reason, reason_len);
    }
    return (int)len;
}
