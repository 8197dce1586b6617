/*
 * The taps allowlist (tap_allow.h): CIDR parsing and matching. Addresses
 * are compared as byte strings under a prefix mask, the same code for both
 * families.
 */
#include "control/tap_allow.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weir/errors.h"

/* Longest entry: an IPv6 literal (45) plus "/128". */
#define ENTRY_MAX 64

static const uint8_t v4_mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int weir_tap_addr_parse(const char *text, weir_tap_addr *out)
{
    weir_tap_addr a = {0};
    if (!text)
        return -WEIR_EINVAL;
    if (inet_pton(AF_INET, text, a.bytes) == 1) {
        a.family = 4;
    } else if (inet_pton(AF_INET6, text, a.bytes) == 1) {
        a.family = 6;
        if (memcmp(a.bytes, v4_mapped_prefix, sizeof v4_mapped_prefix) == 0) {
            memmove(a.bytes, a.bytes + 12, 4);
            memset(a.bytes + 4, 0, 12);
            a.family = 4;
        }
    } else {
        return -WEIR_EINVAL;
    }
    *out = a;
    return 0;
}

static size_t addr_len(int family)
{
    return family == 4 ? 4 : 16;
}

/* True when a and b agree on their first prefix_len bits. */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned prefix_len)
{
    unsigned full = prefix_len / 8, rest = prefix_len % 8;
    if (memcmp(a, b, full) != 0)
        return false;
    if (!rest)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

static bool host_bits_clear(const weir_tap_addr *a, unsigned prefix_len)
{
    size_t bits = addr_len(a->family) * 8;
    for (size_t i = prefix_len; i < bits; i++)
        if (a->bytes[i / 8] & (0x80 >> (i % 8)))
            return false;
    return true;
}

static int parse_entry(const char *entry, weir_tap_net *out)
{
    char addr[ENTRY_MAX];
    const char *slash = strchr(entry, '/');
    size_t n = slash ? (size_t)(slash - entry) : strlen(entry);
    if (n == 0 || n >= sizeof addr)
        return -WEIR_EINVAL;
    memcpy(addr, entry, n);
    addr[n] = 0;
    weir_tap_net net = {0};
    /* A mapped literal in the list is refused: write the IPv4 network instead. */
    if (strchr(addr, ':') && strchr(addr, '.'))
        return -WEIR_EINVAL;
    if (weir_tap_addr_parse(addr, &net.addr) < 0)
        return -WEIR_EINVAL;
    unsigned max = (unsigned)addr_len(net.addr.family) * 8;
    unsigned len = max;
    if (slash) {
        const char *digits = slash + 1;
        if (!*digits || strlen(digits) > 3 || strspn(digits, "0123456789") != strlen(digits))
            return -WEIR_EINVAL;
        len = (unsigned)strtoul(digits, NULL, 10);
        if (len > max)
            return -WEIR_EINVAL;
    }
    if (!host_bits_clear(&net.addr, len))
        return -WEIR_EINVAL;
    net.prefix_len = (uint8_t)len;
    *out = net;
    return 0;
}

int weir_tap_allow_parse(const char *text, weir_tap_allow *out, char *err, size_t errlen)
{
    static const char seps[] = ", \t";
    weir_tap_allow parsed = {0};
    const char *p = text ? text : "";
    for (;;) {
        p += strspn(p, seps);
        size_t n = strcspn(p, seps);
        if (!n)
            break;
        char entry[ENTRY_MAX];
        if (n >= sizeof entry || parsed.n == WEIR_TAP_ALLOW_MAX) {
            if (err && errlen)
                snprintf(err, errlen,
                         n >= sizeof entry ? "entry too long: \"%.32s...\""
                                           : "more than 64 networks (at \"%.48s\")",
                         p);
            return -WEIR_EINVAL;
        }
        memcpy(entry, p, n);
        entry[n] = 0;
        if (parse_entry(entry, &parsed.nets[parsed.n]) < 0) {
            if (err && errlen)
                snprintf(
                    err, errlen,
                    "\"%s\": expected ADDRESS or ADDRESS/PREFIX (no host bits under the prefix)",
                    entry);
            return -WEIR_EINVAL;
        }
        parsed.n++;
        p += n;
    }
    *out = parsed;
    return 0;
}

bool weir_tap_allow_match(const weir_tap_allow *allow, const weir_tap_addr *addr)
{
    for (size_t i = 0; allow && addr && i < allow->n; i++) {
        const weir_tap_net *net = &allow->nets[i];
        if (net->addr.family == addr->family &&
            same_prefix(net->addr.bytes, addr->bytes, net->prefix_len))
            return true;
    }
    return false;
}

const char *weir_tap_addr_format(const weir_tap_addr *addr, char *buf, size_t len)
{
    if (!inet_ntop(addr->family == 4 ? AF_INET : AF_INET6, addr->bytes, buf, (socklen_t)len))
        snprintf(buf, len, "?");
    return buf;
}
