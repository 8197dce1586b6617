/*
 * weir-load's pure pieces: the STUN writer/reader its ICE relies on, the
 * payload trailer that carries send times through the server, the RTP
 * payload finder and the latency histogram.
 *
 * The STUN checks recompute MESSAGE-INTEGRITY with OpenSSL independently of
 * stun.c, so a wrong key or length rule fails here rather than against a
 * server.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#include "media.h"
#include "stats.h"
#include "stun.h"
#include "weir/errors.h"

static const uint8_t TXID[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};

/* Finds attribute type in a message; returns its value offset or -1. */
static int find_attr(const uint8_t *m, size_t len, uint16_t type, size_t *alen)
{
    size_t off = 20;
    while (off + 4 <= len) {
        uint16_t t = (uint16_t)(m[off] << 8 | m[off + 1]);
        size_t l = (size_t)(m[off + 2] << 8 | m[off + 3]);
        if (t == type) {
            *alen = l;
            return (int)off + 4;
        }
        off += 4 + ((l + 3) & ~(size_t)3);
    }
    return -1;
}

/* Recomputes MESSAGE-INTEGRITY as RFC 8489 §14.5 says and compares. */
static void check_integrity(const uint8_t *m, size_t len, const char *password)
{
    size_t alen;
    int v = find_attr(m, len, 0x0008, &alen);
    cr_assert(v > 0 && alen == 20);
    uint8_t copy[WL_STUN_MAX];
    memcpy(copy, m, (size_t)v - 4);
    size_t body = (size_t)v - 4 + 24 - 20;
    copy[2] = (uint8_t)(body >> 8);
    copy[3] = (uint8_t)body;
    uint8_t mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha1(), password, (int)strlen(password), copy, (size_t)v - 4, mac, &maclen);
    cr_assert_eq(maclen, 20);
    cr_assert(memcmp(mac, m + v, 20) == 0, "MESSAGE-INTEGRITY does not verify");
}

Test(load_stun, request_round_trips_and_verifies)
{
    wl_stun_request req = {
        .txid = TXID,
        .username = "remoteufrag:localufrag",
        .password = "remote-password-0123456789",
        .priority = 1862270975u,
        .controlling = true,
        .tiebreaker = UINT64_MAX,
        .use_candidate = true,
    };
    uint8_t buf[WL_STUN_MAX];
    int len = wl_stun_write_request(&req, buf, sizeof buf);
    cr_assert_gt(len, 20);
    cr_assert_eq(len % 4, 0);
    cr_assert(wl_stun_is_stun(buf, (size_t)len));
    check_integrity(buf, (size_t)len, req.password);
    wl_stun_msg m;
    cr_assert_eq(wl_stun_parse(buf, (size_t)len, &m), 0);
    cr_assert_eq(m.type, WL_STUN_BINDING_REQUEST);
    cr_assert(memcmp(m.txid, TXID, 12) == 0);
    cr_assert(m.has_username);
    cr_assert_str_eq(m.username, "remoteufrag:localufrag");
    cr_assert(m.use_candidate);
    size_t alen;
    cr_assert_gt(find_attr(buf, (size_t)len, 0x802A, &alen), 0, "ICE-CONTROLLING missing");
    cr_assert_lt(find_attr(buf, (size_t)len, 0x8029, &alen), 0);

    req.controlling = false;
    req.use_candidate = false;
    len = wl_stun_write_request(&req, buf, sizeof buf);
    cr_assert_eq(wl_stun_parse(buf, (size_t)len, &m), 0);
    cr_assert_not(m.use_candidate);
    cr_assert_gt(find_attr(buf, (size_t)len, 0x8029, &alen), 0, "ICE-CONTROLLED missing");
}

Test(load_stun, success_carries_xor_mapped_address)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(50123)};
    inet_pton(AF_INET, "127.0.0.2", &sa.sin_addr);
    uint8_t buf[WL_STUN_MAX];
    int len = wl_stun_write_success(TXID, &sa, "local-password", buf, sizeof buf);
    cr_assert_gt(len, 20);
    check_integrity(buf, (size_t)len, "local-password");
    wl_stun_msg m;
    cr_assert_eq(wl_stun_parse(buf, (size_t)len, &m), 0);
    cr_assert_eq(m.type, WL_STUN_BINDING_SUCCESS);
    size_t alen;
    int v = find_attr(buf, (size_t)len, 0x0020, &alen);
    cr_assert(v > 0 && alen == 8);
    uint16_t port = (uint16_t)((buf[v + 2] << 8 | buf[v + 3]) ^ 0x2112);
    uint32_t ip = ((uint32_t)buf[v + 4] << 24 | (uint32_t)buf[v + 5] << 16 |
                   (uint32_t)buf[v + 6] << 8 | buf[v + 7]) ^
                  0x2112A442u;
    cr_assert_eq(port, 50123);
    cr_assert_eq(ip, 0x7F000002u);
}

Test(load_stun, corrupt_messages_are_rejected)
{
    wl_stun_request req = {.txid = TXID, .username = "a:b", .password = "pw", .priority = 1};
    uint8_t buf[WL_STUN_MAX];
    int len = wl_stun_write_request(&req, buf, sizeof buf);
    wl_stun_msg m;
    /* A flipped bit anywhere before FINGERPRINT breaks the CRC. */
    for (int i = 20; i < len - 8; i++) {
        buf[i] ^= 0x01;
        cr_assert_lt(wl_stun_parse(buf, (size_t)len, &m), 0, "byte %d", i);
        buf[i] ^= 0x01;
    }
    cr_assert_eq(wl_stun_parse(buf, (size_t)len, &m), 0);
    /* Truncated, or a length that disagrees with the datagram. */
    for (int cut = 0; cut < len; cut += 4)
        cr_assert_lt(wl_stun_parse(buf, (size_t)cut, &m), 0);
    buf[3] ^= 4;
    cr_assert_lt(wl_stun_parse(buf, (size_t)len, &m), 0);
    buf[3] ^= 4;
    /* Not STUN at all (a DTLS record). */
    uint8_t dtls[32] = {22, 0xFE, 0xFD};
    cr_assert_lt(wl_stun_parse(dtls, sizeof dtls, &m), 0);
}

Test(load_stun, error_code_is_read)
{
    /* A 487 Role Conflict response, hand-built: ERROR-CODE class 4, number 87. */
    uint8_t buf[40] = {0x01, 0x11, 0, 12, 0x21, 0x12, 0xA4, 0x42};
    memcpy(buf + 8, TXID, 12);
    uint8_t attr[] = {0x00, 0x09, 0, 8, 0, 0, 4, 87, 'R', 'o', 'l', 'e'};
    memcpy(buf + 20, attr, sizeof attr);
    wl_stun_msg m;
    cr_assert_eq(wl_stun_parse(buf, 32, &m), 0);
    cr_assert_eq(m.type, WL_STUN_BINDING_ERROR);
    cr_assert_eq(m.error_code, 487);
}

Test(load_media, trailer_round_trips_at_the_end_of_a_payload)
{
    uint8_t payload[100];
    memset(payload, 0xAB, sizeof payload);
    wl_trailer_write(payload + sizeof payload - WL_TRAILER_LEN, 0xDEADBEEF, 0x0123456789ABCDEFull);
    uint32_t seq;
    uint64_t t;
    cr_assert(wl_trailer_read(payload, sizeof payload, &seq, &t));
    cr_assert_eq(seq, 0xDEADBEEF);
    cr_assert_eq(t, 0x0123456789ABCDEFull);
    payload[sizeof payload - WL_TRAILER_LEN] ^= 1; /* magic broken */
    cr_assert_not(wl_trailer_read(payload, sizeof payload, &seq, &t));
    cr_assert_not(wl_trailer_read(payload, WL_TRAILER_LEN - 1, &seq, &t));
}

Test(load_media, rtp_payload_skips_csrcs_extension_and_padding)
{
    uint8_t pkt[64] = {0};
    pkt[0] = 0x80 | 0x20 | 0x10 | 1; /* V=2, P, X, CC=1 */
    pkt[16] = 0xBE;
    pkt[17] = 0xDE;
    pkt[19] = 1; /* one extension word */
    pkt[63] = 4; /* 4 bytes of padding */
    size_t off, len;
    cr_assert(wl_rtp_payload(pkt, sizeof pkt, &off, &len));
    cr_assert_eq(off, 12 + 4 + 4 + 4);
    cr_assert_eq(len, 64 - off - 4);
    pkt[63] = 60; /* padding longer than the payload */
    cr_assert_not(wl_rtp_payload(pkt, sizeof pkt, &off, &len));
    pkt[0] = 0x40; /* version 1 */
    cr_assert_not(wl_rtp_payload(pkt, sizeof pkt, &off, &len));
}

Test(load_stats, percentiles_follow_the_samples)
{
    static wl_hist h;
    wl_hist_reset(&h);
    cr_assert_eq(wl_hist_percentile(&h, 50), 0);
    for (int i = 1; i <= 1000; i++)
        wl_hist_add(&h, i); /* 1..1000 us */
    double p50 = wl_hist_percentile(&h, 50), p99 = wl_hist_percentile(&h, 99);
    cr_assert(p50 >= 500 && p50 <= 510, "p50 %f", p50);
    cr_assert(p99 >= 990 && p99 <= 1000, "p99 %f", p99);
    wl_hist_add(&h, 10 * 1000 * 1000); /* beyond the last bucket: counted, max kept */
    cr_assert_eq(h.count, 1001);
    cr_assert_eq(h.max_us, 10 * 1000 * 1000);
}
