/* base64url without padding (see base64url.h). */
#include "base/base64url.h"

#include "weir/errors.h"

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Branches rather than a 256-entry table: tokens are short and this reads as the RFC table. */
static int sextet(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

size_t weir_base64url_encode(const uint8_t *in, size_t len, char *out, size_t out_cap)
{
    if (out_cap == 0)
        return 0;
    /* The first test keeps ENCODED_LEN from overflowing on an absurd len. */
    if (len / 3 > out_cap / 4 || WEIR_BASE64URL_ENCODED_LEN(len) >= out_cap) {
        out[0] = '\0';
        return 0;
    }
    size_t o = 0;
    size_t i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = ALPHABET[v >> 18];
        out[o++] = ALPHABET[(v >> 12) & 63];
        out[o++] = ALPHABET[(v >> 6) & 63];
        out[o++] = ALPHABET[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = ALPHABET[v >> 18];
        out[o++] = ALPHABET[(v >> 12) & 63];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = ALPHABET[v >> 18];
        out[o++] = ALPHABET[(v >> 12) & 63];
        out[o++] = ALPHABET[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

/*
 * Validates everything before writing so that a failure leaves out alone.
 * Non-zero trailing bits are rejected (RFC 4648 §3.5 allows either): a
 * JWS signature then has one spelling, so two different token strings
 * never carry the same MAC.
 */
static int check(const char *in, size_t len)
{
    if (len % 4 == 1)
        return -WEIR_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (sextet((unsigned char)in[i]) < 0)
            return -WEIR_EINVAL;
    }
    if (len % 4 == 2 && (sextet((unsigned char)in[len - 1]) & 0x0f))
        return -WEIR_EINVAL;
    if (len % 4 == 3 && (sextet((unsigned char)in[len - 1]) & 0x03))
        return -WEIR_EINVAL;
    return 0;
}

int weir_base64url_decode(const char *in, size_t len, uint8_t *out, size_t out_cap, size_t *out_len)
{
    int rc = check(in, len);
    if (rc < 0)
        return rc;
    size_t n = WEIR_BASE64URL_DECODED_MAX(len);
    if (n > out_cap)
        return -WEIR_ETOOBIG;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        acc = (acc << 6 | (uint32_t)sextet((unsigned char)in[i])) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return 0;
}
