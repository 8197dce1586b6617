/*
 * EBML element encoding (RFC 8794). Integers are written big-endian in the
 * fewest octets (§7.1, §7.2: a zero-length integer would also mean 0, but
 * one octet reads better in a hex dump and every parser accepts it).
 */
#include "ebml.h"

#include <string.h>

#include "weir/alloc.h"

void wrec_ebml_bytes(wrec_ebml_buf *b, const void *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        b->data = weir_realloc(b->data, cap);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

void wrec_ebml_free(wrec_ebml_buf *b)
{
    weir_free(b->data);
    *b = (wrec_ebml_buf){0};
}

static void be(wrec_ebml_buf *b, uint64_t v, size_t n)
{
    uint8_t out[8];
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    wrec_ebml_bytes(b, out, n);
}

void wrec_ebml_id(wrec_ebml_buf *b, uint32_t id)
{
    size_t n = id > 0xffffff ? 4 : id > 0xffff ? 3 : id > 0xff ? 2 : 1;
    be(b, id, n);
}

void wrec_ebml_size(wrec_ebml_buf *b, uint64_t v)
{
    /* Width n carries 7n value bits; the all-ones value of each width is reserved. */
    size_t n = 1;
    while (n < 8 && v >= ((uint64_t)1 << (7 * n)) - 1)
        n++;
    be(b, v | (uint64_t)1 << (7 * n), n);
}

void wrec_ebml_unknown_size(wrec_ebml_buf *b)
{
    be(b, WREC_EBML_UNKNOWN_SIZE, 8);
}

static size_t uint_len(uint64_t v)
{
    size_t n = 1;
    while (n < 8 && (v >> (8 * n)) != 0)
        n++;
    return n;
}

void wrec_ebml_uint(wrec_ebml_buf *b, uint32_t id, uint64_t v)
{
    size_t n = uint_len(v);
    wrec_ebml_id(b, id);
    wrec_ebml_size(b, n);
    be(b, v, n);
}

void wrec_ebml_int(wrec_ebml_buf *b, uint32_t id, int64_t v)
{
    /* Two's complement in the fewest octets that keep the sign. */
    size_t n = 1;
    while (n < 8) {
        int64_t lo = -((int64_t)1 << (8 * n - 1)), hi = ((int64_t)1 << (8 * n - 1)) - 1;
        if (v >= lo && v <= hi)
            break;
        n++;
    }
    wrec_ebml_id(b, id);
    wrec_ebml_size(b, n);
    be(b, (uint64_t)v, n);
}

void wrec_ebml_float(wrec_ebml_buf *b, uint32_t id, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    wrec_ebml_id(b, id);
    wrec_ebml_size(b, 8);
    be(b, bits, 8);
}

void wrec_ebml_string(wrec_ebml_buf *b, uint32_t id, const char *s)
{
    wrec_ebml_binary(b, id, s, strlen(s));
}

void wrec_ebml_binary(wrec_ebml_buf *b, uint32_t id, const void *p, size_t n)
{
    wrec_ebml_id(b, id);
    wrec_ebml_size(b, n);
    wrec_ebml_bytes(b, p, n);
}

void wrec_ebml_master(wrec_ebml_buf *b, uint32_t id, const wrec_ebml_buf *child)
{
    wrec_ebml_binary(b, id, child->data, child->len);
}
