/**
 * Where taps may send media: the `[taps] allow` list of the configuration,
 * a list of CIDR networks ("127.0.0.0/8, ::1, 192.168.10.0/24"), and the
 * check of a tap's `host` against it. A tap streams a room's media to any
 * address it names, so the default is loopback only and everything else
 * must be allowed by the operator (PROTOCOL.md: 403 otherwise).
 *
 * Hosts are IP literals only: resolving a name on the control thread would
 * block it, and an allowlist of addresses says nothing about names. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is checked as the IPv4 address
 * it carries, so it cannot slip past an IPv4-only list.
 *
 * Pure: inet_pton and string work only.
 */
#ifndef WEIR_CONTROL_TAP_ALLOW_H
#define WEIR_CONTROL_TAP_ALLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Entries in one allow list; more is a configuration error. */
#define WEIR_TAP_ALLOW_MAX 64

/** An IP address: family 4 or 6, bytes in network order (4 or 16 used). */
typedef struct weir_tap_addr {
    int family;
    uint8_t bytes[16];
} weir_tap_addr;

typedef struct weir_tap_net {
    weir_tap_addr addr; /* host bits cleared */
    uint8_t prefix_len; /* 0..32 or 0..128 */
} weir_tap_net;

typedef struct weir_tap_allow {
    weir_tap_net nets[WEIR_TAP_ALLOW_MAX];
    size_t n;
} weir_tap_allow;

/**
 * Parses an IPv4 or IPv6 literal ("10.1.2.3", "::1"); an IPv4-mapped IPv6
 * address becomes family 4. Returns 0, or -WEIR_EINVAL with *out unchanged.
 */
int weir_tap_addr_parse(const char *text, weir_tap_addr *out);

/**
 * Parses a list of networks separated by commas and/or blanks: "ADDR" (one
 * host) or "ADDR/LEN". Host bits set under the prefix are refused (a typo
 * such as 10.0.0.1/8 is more likely than intent). An empty list allows
 * nothing. Returns 0, or -WEIR_EINVAL with one line in err naming the entry
 * (err may be NULL); on error *out is unchanged.
 */
int weir_tap_allow_parse(const char *text, weir_tap_allow *out, char *err, size_t errlen);

/** True when addr lies in one of the networks. */
bool weir_tap_allow_match(const weir_tap_allow *allow, const weir_tap_addr *addr);

/** Writes addr as text (inet_ntop) into buf; returns buf ("?" when it does not fit). */
const char *weir_tap_addr_format(const weir_tap_addr *addr, char *buf, size_t len);

#endif
