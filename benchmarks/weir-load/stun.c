/*
 * STUN writer and reader for weir-load's ICE (see stun.h). Attribute
 * layout: type (2), length (2), value padded to 4 bytes. MESSAGE-INTEGRITY
 * is an HMAC-SHA1 over the message up to the attribute, with the header's
 * length already counting it; FINGERPRINT is CRC-32 xor 0x5354554e over
 * everything before it, the length counting it (RFC 8489 §14.5, §14.7).
 */
#include "stun.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "weir/errors.h"

#define ATTR_MAPPED_ADDRESS 0x0001
#define ATTR_USERNAME 0x0006
#define ATTR_MESSAGE_INTEGRITY 0x0008
#define ATTR_ERROR_CODE 0x0009
#define ATTR_XOR_MAPPED_ADDRESS 0x0020
#define ATTR_PRIORITY 0x0024
#define ATTR_USE_CANDIDATE 0x0025
#define ATTR_FINGERPRINT 0x8028
#define ATTR_ICE_CONTROLLED 0x8029
#define ATTR_ICE_CONTROLLING 0x802A

#define MAGIC 0x2112A442u
#define FINGERPRINT_XOR 0x5354554eu

static uint32_t crc32_table[256];
static bool crc32_ready;

static uint32_t crc32(const uint8_t *p, size_t n)
{
    if (!crc32_ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            crc32_table[i] = c;
        }
        crc32_ready = true;
    }
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        c = crc32_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Appends one attribute; returns the new length or -1 when it does not fit. */
static int attr(uint8_t *out, size_t cap, int len, uint16_t type, const void *val, size_t vlen)
{
    size_t padded = (vlen + 3) & ~(size_t)3;
    if ((size_t)len + 4 + padded > cap)
        return -1;
    put16(out + len, type);
    put16(out + len + 2, (uint16_t)vlen);
    if (vlen)
        memcpy(out + len + 4, val, vlen);
    memset(out + len + 4 + vlen, 0, padded - vlen);
    return len + 4 + (int)padded;
}

/* MESSAGE-INTEGRITY then FINGERPRINT; returns the final length or -1. */
static int sign(uint8_t *out, size_t cap, int len, const char *password)
{
    if ((size_t)len + 24 + 8 > cap)
        return -1;
    put16(out + 2, (uint16_t)(len + 24 - WL_STUN_HEADER));
    unsigned int maclen = 0;
    uint8_t mac[EVP_MAX_MD_SIZE];
    HMAC(EVP_sha1(), password, (int)strlen(password), out, (size_t)len, mac, &maclen);
    len = attr(out, cap, len, ATTR_MESSAGE_INTEGRITY, mac, 20);
    put16(out + 2, (uint16_t)(len + 8 - WL_STUN_HEADER));
    uint8_t fp[4];
    put32(fp, crc32(out, (size_t)len) ^ FINGERPRINT_XOR);
    return attr(out, cap, len, ATTR_FINGERPRINT, fp, 4);
}

static void header(uint8_t *out, uint16_t type, const uint8_t *txid)
{
    put16(out, type);
    put16(out + 2, 0);
    put32(out + 4, MAGIC);
    memcpy(out + 8, txid, 12);
}

int wl_stun_write_request(const wl_stun_request *req, uint8_t *out, size_t cap)
{
    if (cap < WL_STUN_HEADER)
        return -WEIR_ETOOBIG;
    header(out, WL_STUN_BINDING_REQUEST, req->txid);
    int len = WL_STUN_HEADER;
    len = attr(out, cap, len, ATTR_USERNAME, req->username, strlen(req->username));
    uint8_t v[8];
    put32(v, req->priority);
    if (len > 0)
        len = attr(out, cap, len, ATTR_PRIORITY, v, 4);
    put32(v, (uint32_t)(req->tiebreaker >> 32));
    put32(v + 4, (uint32_t)req->tiebreaker);
    if (len > 0)
        len = attr(out, cap, len, req->controlling ? ATTR_ICE_CONTROLLING : ATTR_ICE_CONTROLLED, v,
                   8);
    if (len > 0 && req->use_candidate)
        len = attr(out, cap, len, ATTR_USE_CANDIDATE, NULL, 0);
    if (len > 0)
        len = sign(out, cap, len, req->password);
    return len > 0 ? len : -WEIR_ETOOBIG;
}

int wl_stun_write_success(const uint8_t *txid, const struct sockaddr_in *mapped,
                          const char *password, uint8_t *out, size_t cap)
{
    if (cap < WL_STUN_HEADER)
        return -WEIR_ETOOBIG;
    header(out, WL_STUN_BINDING_SUCCESS, txid);
    uint8_t v[8] = {0, 1}; /* reserved, family IPv4 */
    put16(v + 2, (uint16_t)(ntohs(mapped->sin_port) ^ (MAGIC >> 16)));
    put32(v + 4, ntohl(mapped->sin_addr.s_addr) ^ MAGIC);
    int len = attr(out, cap, WL_STUN_HEADER, ATTR_XOR_MAPPED_ADDRESS, v, 8);
    if (len > 0)
        len = sign(out, cap, len, password);
    return len > 0 ? len : -WEIR_ETOOBIG;
}

int wl_stun_parse(const uint8_t *buf, size_t len, wl_stun_msg *out)
{
    if (!wl_stun_is_stun(buf, len))
        return -WEIR_EINVAL;
    size_t body = get16(buf + 2);
    if ((body & 3) || WL_STUN_HEADER + body != len)
        return -WEIR_EINVAL;
    memset(out, 0, sizeof *out);
    out->type = get16(buf) & 0x3FFF;
    memcpy(out->txid, buf + 8, 12);
    size_t off = WL_STUN_HEADER;
    while (off < len) {
        if (len - off < 4)
            return -WEIR_EINVAL;
        uint16_t type = get16(buf + off);
        size_t alen = get16(buf + off + 2);
        size_t padded = (alen + 3) & ~(size_t)3;
        if (padded > len - off - 4)
            return -WEIR_EINVAL;
        const uint8_t *v = buf + off + 4;
        switch (type) {
        case ATTR_USERNAME:
            if (alen >= sizeof out->username)
                return -WEIR_EINVAL;
            memcpy(out->username, v, alen);
            out->username[alen] = '\0';
            out->has_username = true;
            break;
        case ATTR_USE_CANDIDATE:
            out->use_candidate = true;
            break;
        case ATTR_ERROR_CODE:
            if (alen < 4)
                return -WEIR_EINVAL;
            out->error_code = (v[2] & 7) * 100 + v[3];
            break;
        case ATTR_FINGERPRINT:
            if (alen != 4 || off + 8 != len)
                return -WEIR_EINVAL;
            if ((crc32(buf, off) ^ FINGERPRINT_XOR) != get32(v))
                return -WEIR_EINVAL;
            break;
        default:
            break;
        }
        off += 4 + padded;
    }
    return 0;
}
