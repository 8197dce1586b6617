/*
 * RTP header, header extensions and RTX. Every length read from the wire is
 * checked against what is left before it is used, subtracting from the
 * remaining length rather than adding to an offset, so no sum can wrap.
 */
#include "proto/rtp.h"

#include <string.h>

#include "proto/wire.h"
#include "weir/errors.h"

#define RTP_VERSION 2
#define BIT_PADDING 0x20
#define BIT_EXTENSION 0x10
#define BIT_MARKER 0x80

/* RFC 8285 §4.2: 4-bit id, 4-bit length-minus-one, 1..16 data bytes. */
#define ONE_BYTE_MAX_ID 14
#define ONE_BYTE_ID_STOP 15
#define ONE_BYTE_MAX_LEN 16

int weir_rtp_parse(weir_rtp *out, const uint8_t *buf, size_t len)
{
    if (len > WEIR_RTP_MAX_LEN)
        return -WEIR_ETOOBIG;
    if (len < WEIR_RTP_HEADER_LEN || buf[0] >> 6 != RTP_VERSION)
        return -WEIR_EINVAL;

    weir_rtp h = {
        .csrc_count = buf[0] & 0x0f,
        .marker = (buf[1] & BIT_MARKER) != 0,
        .payload_type = buf[1] & 0x7f,
        .seq = weir_wire_get16(buf + 2),
        .timestamp = weir_wire_get32(buf + 4),
        .ssrc = weir_wire_get32(buf + 8),
    };
    size_t off = WEIR_RTP_HEADER_LEN + 4u * h.csrc_count;
    if (off > len)
        return -WEIR_EINVAL;

    if (buf[0] & BIT_EXTENSION) {
        /* RFC 3550 §5.3.1: profile word, then the length in 32-bit words excluding this header */
        if (len - off < 4)
            return -WEIR_EINVAL;
        size_t ext_len = 4u * weir_wire_get16(buf + off + 2);
        h.has_ext = true;
        h.ext_profile = weir_wire_get16(buf + off);
        off += 4;
        if (ext_len > len - off)
            return -WEIR_EINVAL;
        h.ext_off = (uint16_t)off;
        h.ext_len = (uint16_t)ext_len;
        off += ext_len;
    } else {
        h.ext_off = (uint16_t)off;
    }

    size_t pad = 0;
    if (buf[0] & BIT_PADDING) {
        /*
         * RFC 3550 §5.1: the last octet counts the padding including itself, so
         * 0 is malformed; padding may eat the whole payload (Chromium's probes),
         * never the header.
         */
        if (off == len)
            return -WEIR_EINVAL;
        pad = buf[len - 1];
        if (pad == 0 || pad > len - off)
            return -WEIR_EINVAL;
    }
    h.padding_len = (uint8_t)pad;
    h.payload_off = (uint16_t)off;
    h.payload_len = (uint16_t)(len - off - pad);
    *out = h;
    return 0;
}

int weir_rtp_csrc(const weir_rtp *h, const uint8_t *buf, size_t i, uint32_t *out)
{
    if (i >= h->csrc_count)
        return -WEIR_EINVAL;
    *out = weir_wire_get32(buf + WEIR_RTP_HEADER_LEN + 4 * i);
    return 0;
}

void weir_rtp_set_seq(weir_rtp *h, uint8_t *buf, uint16_t seq)
{
    weir_wire_put16(buf + 2, seq);
    h->seq = seq;
}

void weir_rtp_set_timestamp(weir_rtp *h, uint8_t *buf, uint32_t timestamp)
{
    weir_wire_put32(buf + 4, timestamp);
    h->timestamp = timestamp;
}

void weir_rtp_set_ssrc(weir_rtp *h, uint8_t *buf, uint32_t ssrc)
{
    weir_wire_put32(buf + 8, ssrc);
    h->ssrc = ssrc;
}

void weir_rtp_set_payload_type(weir_rtp *h, uint8_t *buf, uint8_t pt)
{
    pt &= 0x7f;
    buf[1] = (uint8_t)((buf[1] & BIT_MARKER) | pt);
    h->payload_type = pt;
}

void weir_rtp_set_marker(weir_rtp *h, uint8_t *buf, bool marker)
{
    buf[1] = (uint8_t)((buf[1] & 0x7f) | (marker ? BIT_MARKER : 0));
    h->marker = marker;
}

/* ---- header extensions ---- */

static uint8_t ext_hdr_len(const weir_rtp *h)
{
    if (!h->has_ext)
        return 0;
    if (h->ext_profile == WEIR_RTP_EXT_PROFILE_ONE_BYTE)
        return 1;
    /* RFC 8285 §4.3: 0x100 followed by 4 application bits */
    if ((h->ext_profile & 0xfff0) == WEIR_RTP_EXT_PROFILE_TWO_BYTE)
        return 2;
    return 0;
}

void weir_rtp_ext_iter_init(weir_rtp_ext_iter *it, const weir_rtp *h, const uint8_t *buf)
{
    it->buf = buf;
    it->pos = h->ext_off;
    it->end = (uint16_t)(h->ext_off + h->ext_len);
    it->hdr_len = ext_hdr_len(h);
}

int weir_rtp_ext_iter_next(weir_rtp_ext_iter *it, weir_rtp_ext *out)
{
    while (it->hdr_len != 0 && it->pos < it->end) {
        const uint8_t *p = it->buf + it->pos;
        size_t left = (size_t)(it->end - it->pos);
        uint8_t id, len;

        /* RFC 8285 §4.1.1: zero bytes are padding, before, between or after elements */
        if (p[0] == 0) {
            it->pos++;
            continue;
        }
        if (it->hdr_len == 1) {
            id = p[0] >> 4;
            len = (uint8_t)((p[0] & 0x0f) + 1);
            /*
             * ID 15 ends processing (RFC 8285 §4.2). ID 0 with a non-zero
             * length is neither padding nor an element; libwebrtc stops there
             * too, keeping what came before.
             */
            if (id == ONE_BYTE_ID_STOP || id == 0)
                break;
        } else {
            if (left < 2)
                goto malformed;
            id = p[0];
            len = p[1];
        }
        left -= it->hdr_len;
        if (len > left)
            goto malformed;
        out->id = id;
        out->len = len;
        out->off = (uint16_t)(it->pos + it->hdr_len);
        out->data = it->buf + out->off;
        it->pos = (uint16_t)(out->off + len);
        return 1;
    }
    it->hdr_len = 0;
    return 0;

malformed:
    it->hdr_len = 0;
    return -WEIR_EINVAL;
}

int weir_rtp_ext_find(const weir_rtp *h, const uint8_t *buf, uint8_t id, weir_rtp_ext *out)
{
    weir_rtp_ext_iter it;
    weir_rtp_ext e;
    int rc;

    weir_rtp_ext_iter_init(&it, h, buf);
    while ((rc = weir_rtp_ext_iter_next(&it, &e)) == 1) {
        if (e.id == id) {
            *out = e;
            return 0;
        }
    }
    return rc < 0 ? rc : -WEIR_ENOTFOUND;
}

int weir_rtp_ext_rewrite(const weir_rtp *h, uint8_t *buf, uint8_t id, const uint8_t *val,
                         size_t len)
{
    weir_rtp_ext e;
    int rc = weir_rtp_ext_find(h, buf, id, &e);
    if (rc < 0)
        return rc;
    if (len > e.len)
        return -WEIR_ETOOBIG;
    if (ext_hdr_len(h) == 1) {
        if (len == 0)
            return -WEIR_EINVAL;
        buf[e.off - 1] = (uint8_t)(id << 4 | (len - 1));
    } else {
        buf[e.off - 1] = (uint8_t)len;
    }
    /* val may be the element's own bytes (or overlap them) */
    if (len)
        memmove(buf + e.off, val, len);
    memset(buf + e.off + len, 0, e.len - len);
    return 0;
}

int weir_rtp_ext_write(uint8_t *out, size_t cap, const weir_rtp_ext *elems, size_t n)
{
    bool one_byte = true;
    size_t body = 0;

    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (elems[i].id == 0)
            return -WEIR_EINVAL;
        if (elems[i].id > ONE_BYTE_MAX_ID || elems[i].len == 0 || elems[i].len > ONE_BYTE_MAX_LEN)
            one_byte = false;
    }
    size_t hdr_len = one_byte ? 1 : 2;
    for (size_t i = 0; i < n; i++) {
        body += hdr_len + elems[i].len;
        if (body > WEIR_RTP_MAX_LEN)
            return -WEIR_ETOOBIG;
    }
    size_t padded = (body + 3) & ~(size_t)3;
    if (4 + padded > cap)
        return -WEIR_ETOOBIG;

    weir_wire_put16(out, one_byte ? WEIR_RTP_EXT_PROFILE_ONE_BYTE : WEIR_RTP_EXT_PROFILE_TWO_BYTE);
    weir_wire_put16(out + 2, (uint16_t)(padded / 4));
    uint8_t *p = out + 4;
    for (size_t i = 0; i < n; i++) {
        if (one_byte) {
            *p++ = (uint8_t)(elems[i].id << 4 | (elems[i].len - 1));
        } else {
            *p++ = elems[i].id;
            *p++ = elems[i].len;
        }
        if (elems[i].len)
            memcpy(p, elems[i].data, elems[i].len);
        p += elems[i].len;
    }
    memset(p, 0, padded - body);
    return (int)(4 + padded);
}

/* ---- extension values ---- */

int weir_rtp_abs_send_time_parse(const weir_rtp_ext *e, uint32_t *out)
{
    if (e->len != 3)
        return -WEIR_EINVAL;
    *out = weir_wire_get24(e->data);
    return 0;
}

int weir_rtp_abs_send_time_write(uint8_t out[3], uint32_t abs_send_time)
{
    weir_wire_put24(out, abs_send_time & 0xffffff);
    return 3;
}

uint32_t weir_rtp_abs_send_time_from_us(int64_t now_us)
{
    /* 6.18 fixed point; split seconds and fraction so the shift cannot overflow */
    uint64_t us = (uint64_t)now_us;
    uint64_t sec = us / 1000000, frac = us % 1000000;
    return (uint32_t)(((sec << 18) + (frac << 18) / 1000000) & 0xffffff);
}

int weir_rtp_twcc_seq_parse(const weir_rtp_ext *e, uint16_t *out)
{
    if (e->len != 2)
        return -WEIR_EINVAL;
    *out = weir_wire_get16(e->data);
    return 0;
}

int weir_rtp_twcc_seq_write(uint8_t out[2], uint16_t seq)
{
    weir_wire_put16(out, seq);
    return 2;
}

int weir_rtp_audio_level_parse(const weir_rtp_ext *e, bool *voice, uint8_t *level)
{
    /* RFC 6464 §3: one byte; the two-byte form may pad it, so accept a longer element */
    if (e->len < 1)
        return -WEIR_EINVAL;
    *voice = (e->data[0] & 0x80) != 0;
    *level = e->data[0] & 0x7f;
    return 0;
}

int weir_rtp_audio_level_write(uint8_t out[1], bool voice, uint8_t level)
{
    if (level > 127)
        return -WEIR_EINVAL;
    out[0] = (uint8_t)((voice ? 0x80 : 0) | level);
    return 1;
}

int weir_rtp_ext_str_parse(const weir_rtp_ext *e, char *out, size_t cap)
{
    size_t n = e->len;
    while (n > 0 && e->data[n - 1] == 0)
        n--;
    if (n == 0)
        return -WEIR_EINVAL;
    for (size_t i = 0; i < n; i++) {
        /* RFC 8852 §3.1 rid is alphanumeric; mid is an SDP token: both printable */
        if (e->data[i] < 0x21 || e->data[i] > 0x7e)
            return -WEIR_EINVAL;
    }
    if (n >= cap)
        return -WEIR_ETOOBIG;
    memcpy(out, e->data, n);
    out[n] = '\0';
    return (int)n;
}

/* ---- whole packets ---- */

int weir_rtp_write(uint8_t *out, size_t cap, const weir_rtp_fields *f, const uint8_t *payload,
                   size_t payload_len, uint8_t padding_len)
{
    if (f->csrc_count > WEIR_RTP_MAX_CSRC || (f->csrc_count && !f->csrcs))
        return -WEIR_EINVAL;
    size_t hdr = WEIR_RTP_HEADER_LEN + 4u * f->csrc_count;
    if (hdr > cap)
        return -WEIR_ETOOBIG;
    int ext = weir_rtp_ext_write(out + hdr, cap - hdr, f->exts, f->ext_count);
    if (ext < 0)
        return ext;
    size_t off = hdr + (size_t)ext;
    if (payload_len > WEIR_RTP_MAX_LEN || off + payload_len + padding_len > cap ||
        off + payload_len + padding_len > WEIR_RTP_MAX_LEN)
        return -WEIR_ETOOBIG;

    out[0] = (uint8_t)(RTP_VERSION << 6 | (padding_len ? BIT_PADDING : 0) |
                       (ext ? BIT_EXTENSION : 0) | f->csrc_count);
    out[1] = (uint8_t)((f->marker ? BIT_MARKER : 0) | (f->payload_type & 0x7f));
    weir_wire_put16(out + 2, f->seq);
    weir_wire_put32(out + 4, f->timestamp);
    weir_wire_put32(out + 8, f->ssrc);
    for (size_t i = 0; i < f->csrc_count; i++)
        weir_wire_put32(out + WEIR_RTP_HEADER_LEN + 4 * i, f->csrcs[i]);
    if (payload_len)
        memcpy(out + off, payload, payload_len);
    off += payload_len;
    if (padding_len) {
        memset(out + off, 0, padding_len - 1u);
        out[off + padding_len - 1] = padding_len;
        off += padding_len;
    }
    return (int)off;
}

/* ---- RTX ---- */

int weir_rtp_rtx_wrap(uint8_t *out, size_t cap, const weir_rtp *orig, const uint8_t *orig_buf,
                      uint32_t rtx_ssrc, uint8_t rtx_pt, uint16_t rtx_seq)
{
    size_t off = orig->payload_off;
    size_t total = off + 2 + orig->payload_len;
    if (total > cap || total > WEIR_RTP_MAX_LEN)
        return -WEIR_ETOOBIG;

    memcpy(out, orig_buf, off);
    /* RFC 4588 §4: padding belongs to the original transport, not the payload */
    out[0] &= (uint8_t)~BIT_PADDING;
    out[1] = (uint8_t)((out[1] & BIT_MARKER) | (rtx_pt & 0x7f));
    weir_wire_put16(out + 2, rtx_seq);
    weir_wire_put32(out + 8, rtx_ssrc);
    weir_wire_put16(out + off, orig->seq);
    if (orig->payload_len)
        memcpy(out + off + 2, orig_buf + off, orig->payload_len);
    return (int)total;
}

int weir_rtp_rtx_osn(const weir_rtp *rtx, const uint8_t *buf, uint16_t *osn)
{
    if (rtx->payload_len < 2)
        return -WEIR_EINVAL;
    *osn = weir_wire_get16(buf + rtx->payload_off);
    return 0;
}

int weir_rtp_rtx_unwrap(weir_rtp *h, uint8_t *buf, uint32_t ssrc, uint8_t pt)
{
    uint16_t osn;
    int rc = weir_rtp_rtx_osn(h, buf, &osn);
    if (rc < 0)
        return rc;

    uint8_t *payload = buf + h->payload_off;
    memmove(payload, payload + 2, h->payload_len - 2u);
    buf[0] &= (uint8_t)~BIT_PADDING;
    h->padding_len = 0;
    h->payload_len = (uint16_t)(h->payload_len - 2);
    weir_rtp_set_seq(h, buf, osn);
    weir_rtp_set_ssrc(h, buf, ssrc);
    weir_rtp_set_payload_type(h, buf, pt);
    return h->payload_off + h->payload_len;
}
