/*
 * SRTCP under AEAD_AES_128_GCM on OpenSSL (peer/srtcp_gcm.c) through the
 * weir_srtp API, against libsrtp2 in the same process: each direction is
 * checked both ways (ours -> libsrtp and libsrtp -> ours), the replay window
 * edges must agree with libsrtp's, and a GCM subscriber must get by with no
 * libsrtp session (the memory this module exists to save).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "peer/srtcp_gcm.h"
#include "peer/srtp.h"
#include "support/gcm_keys.h"
#include "weir/log.h"

#define CAP 1600

static void setup(void)
{
    weir_log_set_level(WEIR_LOG_ERROR);
    cr_assert_eq(weir_srtp_global_init(), 0);
}

TestSuite(srtcp_gcm, .init = setup);

static const weir_srtp_options LIBSRTP_ONLY = {
    .allow_repeat_tx = true, .libsrtp_tx = true, .libsrtp_rx = true};

/*
 * A compound RTCP packet of `words` 32-bit words after the 8-byte header
 * (an RR with the given SSRC, then filler that depends on the seed), so each
 * call gives different plaintext.
 */
static size_t make_rtcp(uint8_t *buf, uint32_t ssrc, size_t words, unsigned seed)
{
    memset(buf, 0, CAP);
    buf[0] = 0x80;
    buf[1] = 201; /* RR */
    buf[3] = (uint8_t)(1 + words);
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    for (size_t i = 8; i < 8 + 4 * words; i++)
        buf[i] = (uint8_t)(i * 13 + seed * 7);
    return 8 + 4 * words;
}

/* Protects with tx and requires rx to give the plaintext back. */
static void send_ok(weir_srtp *tx, weir_srtp *rx, uint32_t ssrc, size_t words, unsigned seed)
{
    uint8_t plain[CAP], buf[CAP];
    size_t n = make_rtcp(plain, ssrc, words, seed);
    memcpy(buf, plain, CAP);
    size_t len = n;
    cr_assert_eq(weir_srtp_protect_rtcp(tx, buf, &len, CAP), 0);
    cr_assert_eq(len, n + WEIR_SRTCP_GCM_OVERHEAD);
    if (words >= 4)
        cr_expect_arr_neq(buf + 8, plain + 8, 4 * words, "payload is encrypted");
    cr_expect_arr_eq(buf, plain, 8, "the first 8 bytes stay in clear");
    cr_expect_eq(buf[len - 4] & 0x80, 0x80, "E flag set");
    int rc = weir_srtp_unprotect_rtcp(rx, buf, &len);
    cr_assert_eq(rc, 0, "ssrc %x seed %u: rc %d status %s", ssrc, seed, rc,
                 weir_srtp_status_name(weir_srtp_last_status(rx)));
    cr_assert_eq(len, n);
    cr_assert_arr_eq(buf, plain, n);
}

Test(srtcp_gcm, openssl_and_libsrtp_understand_each_other_both_ways)
{
    weir_srtp_keys k, far;
    test_gcm_keys(&k, &far);
    weir_srtp *ours = weir_srtp_create(&k, NULL);
    weir_srtp *ours_far = weir_srtp_create(&far, NULL);
    weir_srtp *lib = weir_srtp_create(&k, &LIBSRTP_ONLY);
    weir_srtp *lib_far = weir_srtp_create(&far, &LIBSRTP_ONLY);
    cr_assert(ours && ours_far && lib && lib_far);
    /*
     * Each path gets its own SSRCs: two senders holding the same key must
     * not share an SSRC (their indices, hence GCM nonces, would collide).
     */
    struct {
        weir_srtp *tx, *rx;
    } paths[] = {
        {ours, lib_far}, /* OpenSSL -> libsrtp */
        {lib, ours_far}, /* libsrtp -> OpenSSL */
        {ours_far, lib}, /* the same, other key */
        {lib_far, ours},
    };
    const uint32_t ssrcs[] = {1, 0xdeadbeef, 0x80000000};
    size_t sizes[] = {0, 1, 6, 60, 300};
    unsigned seed = 0;
    for (uint32_t p = 0; p < 4; p++)
        for (size_t s = 0; s < 3; s++)
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
                send_ok(paths[p].tx, paths[p].rx, ssrcs[s] ^ (p << 8), sizes[i], seed++);
    weir_srtp_destroy(ours);
    weir_srtp_destroy(ours_far);
    weir_srtp_destroy(lib);
    weir_srtp_destroy(lib_far);
}

/* Protects n packets of ssrc on tx and keeps them (packet i has index i + 1 on our sender). */
static void protect_run(weir_srtp *tx, uint32_t ssrc, size_t n, uint8_t (*out)[64], size_t *lens)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t buf[CAP];
        size_t len = make_rtcp(buf, ssrc, 3, (unsigned)i);
        cr_assert_eq(weir_srtp_protect_rtcp(tx, buf, &len, CAP), 0);
        cr_assert_leq(len, 64);
        memcpy(out[i], buf, len);
        lens[i] = len;
    }
}

static int deliver(weir_srtp *rx, const uint8_t *pkt, size_t len)
{
    uint8_t buf[CAP];
    memcpy(buf, pkt, len);
    return weir_srtp_unprotect_rtcp(rx, buf, &len);
}

Test(srtcp_gcm, replay_window_is_128_per_ssrc_with_the_same_edges_as_libsrtp)
{
    weir_srtp_keys k, far;
    test_gcm_keys(&k, &far);
    weir_srtp *tx = weir_srtp_create(&k, NULL);
    static uint8_t pkts[300][64];
    size_t lens[300];
    protect_run(tx, 0x1234, 300, pkts, lens);
    /* Same verdicts from our receiver and libsrtp's, packet by packet. */
    for (int side = 0; side < 2; side++) {
        weir_srtp *rx = weir_srtp_create(&far, side ? &LIBSRTP_ONLY : NULL);
        const char *who = side ? "libsrtp" : "openssl";
        cr_assert_eq(deliver(rx, pkts[250], lens[250]), 0, "%s", who);
        cr_expect_eq(deliver(rx, pkts[250], lens[250]), -WEIR_SRTP_EREPLAY, "%s: replay", who);
        cr_expect_eq(deliver(rx, pkts[250 - 127], lens[250 - 127]), 0, "%s: oldest in window", who);
        cr_expect_eq(deliver(rx, pkts[250 - 128], lens[250 - 128]), -WEIR_SRTP_EREPLAY,
                     "%s: behind the window", who);
        cr_expect_eq(deliver(rx, pkts[200], lens[200]), 0, "%s: late, in window", who);
        cr_expect_eq(deliver(rx, pkts[200], lens[200]), -WEIR_SRTP_EREPLAY, "%s", who);
        /* Jumping far ahead moves the window: what was in it is now too old. */
        cr_expect_eq(deliver(rx, pkts[299], lens[299]), 0, "%s", who);
        cr_expect_eq(deliver(rx, pkts[299 - 127], lens[299 - 127]), 0, "%s", who);
        cr_expect_eq(deliver(rx, pkts[299 - 128], lens[299 - 128]), -WEIR_SRTP_EREPLAY, "%s", who);
        weir_srtp_destroy(rx);
    }
    /* Another SSRC has its own window: its index 1 is fine after 0x1234's 300. */
    weir_srtp *rx = weir_srtp_create(&far, NULL);
    cr_assert_eq(deliver(rx, pkts[299], lens[299]), 0);
    weir_srtp_keys k2 = k;
    weir_srtp *tx2 = weir_srtp_create(&k2, NULL); /* a fresh sender: starts at index 1 */
    uint8_t buf[CAP];
    size_t len = make_rtcp(buf, 0x5678, 2, 9);
    cr_assert_eq(weir_srtp_protect_rtcp(tx2, buf, &len, CAP), 0);
    cr_expect_eq(weir_srtp_unprotect_rtcp(rx, buf, &len), 0, "per-SSRC window");
    weir_srtp_destroy(tx2);
    weir_srtp_destroy(rx);
    weir_srtp_destroy(tx);
}

Test(srtcp_gcm, tampering_truncation_and_unencrypted_packets_are_refused_and_change_nothing)
{
    weir_srtp_keys k, far;
    test_gcm_keys(&k, &far);
    weir_srtp *tx = weir_srtp_create(&k, NULL);
    weir_srtp *rx = weir_srtp_create(&far, NULL);
    uint8_t plain[CAP], prot[CAP];
    size_t n = make_rtcp(plain, 77, 10, 1), len = n;
    memcpy(prot, plain, CAP);
    cr_assert_eq(weir_srtp_protect_rtcp(tx, prot, &len, CAP), 0);
    /* Every byte: header, payload, tag, index word (its E bit included). */
    for (size_t pos = 0; pos < len; pos++) {
        uint8_t buf[CAP];
        memcpy(buf, prot, len);
        buf[pos] ^= pos == len - 4 ? 0x80 : 0x01;
        size_t l = len;
        int rc = weir_srtp_unprotect_rtcp(rx, buf, &l);
        cr_expect_eq(rc, -WEIR_SRTP_EAUTH, "byte %zu: %d", pos, rc);
        cr_expect_eq(l, len, "length unchanged on failure");
    }
    for (size_t cut = 1; cut <= len - 27; cut += 7) {
        uint8_t buf[CAP];
        memcpy(buf, prot, len);
        size_t l = len - cut;
        cr_expect_neq(weir_srtp_unprotect_rtcp(rx, buf, &l), 0, "cut %zu", cut);
    }
    uint8_t tiny[CAP] = {0x80, 201, 0, 1};
    size_t tl = 27;
    cr_expect_eq(weir_srtp_unprotect_rtcp(rx, tiny, &tl), -WEIR_EINVAL, "below header+tag+index");
    tl = 7;
    cr_expect_eq(weir_srtp_protect_rtcp(tx, tiny, &tl, CAP), -WEIR_EINVAL);
    tl = 8;
    cr_expect_eq(weir_srtp_protect_rtcp(tx, tiny, &tl, 8 + WEIR_SRTCP_GCM_OVERHEAD - 1),
                 -WEIR_ETOOBIG);
    cr_expect_eq(tl, 8);
    /* None of the failures above advanced the replay state: the real packet passes once. */
    cr_assert_eq(weir_srtp_unprotect_rtcp(rx, prot, &len), 0);
    cr_assert_arr_eq(prot, plain, n);
    weir_srtp_destroy(tx);
    weir_srtp_destroy(rx);
}

Test(srtcp_gcm, a_gcm_subscriber_needs_no_libsrtp_session)
{
    weir_srtp_keys k, far;
    test_gcm_keys(&k, &far);
    weir_srtp *sub = weir_srtp_create(&k, NULL);
    weir_srtp *browser = weir_srtp_create(&far, &LIBSRTP_ONLY);
    cr_assert_eq(weir_srtp_libsrtp_sessions(sub), 0);
    cr_assert_eq(weir_srtp_libsrtp_sessions(browser), 2);
    /* What a subscriber does: RTP and RTCP out, RTCP in. */
    for (int i = 0; i < 20; i++) {
        uint8_t buf[CAP] = {0x80, 96, 0, (uint8_t)i, 0, 0, 0, 0, 0, 0, 0x10, 0x01};
        size_t len = 12 + 100;
        cr_assert_eq(weir_srtp_protect_rtp(sub, buf, &len, CAP), 0);
        cr_assert_eq(weir_srtp_unprotect_rtp(browser, buf, &len), 0);
        send_ok(sub, browser, 0x1001, 6, (unsigned)i);
        send_ok(browser, sub, 1, 2, (unsigned)i);
    }
    cr_expect_eq(weir_srtp_libsrtp_sessions(sub), 0, "no libsrtp session for a subscriber");
    /* Inbound RTP (a publisher) brings the inbound libsrtp session, on first use. */
    uint8_t buf[CAP] = {0x80, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0x20, 0x02};
    size_t len = 12 + 50;
    cr_assert_eq(weir_srtp_protect_rtp(browser, buf, &len, CAP), 0);
    cr_assert_eq(weir_srtp_unprotect_rtp(sub, buf, &len), 0);
    cr_expect_eq(weir_srtp_libsrtp_sessions(sub), 1);
    weir_srtp_destroy(sub);
    weir_srtp_destroy(browser);

    /* AES_CM stays on libsrtp: both sessions from the start. */
    weir_srtp_keys cm = k;
    cm.profile = WEIR_SRTP_PROFILE_AES128_CM_SHA1_80;
    cm.salt_len = 14;
    weir_srtp *s = weir_srtp_create(&cm, NULL);
    cr_assert(s);
    cr_expect_eq(weir_srtp_libsrtp_sessions(s), 2);
    weir_srtp_destroy(s);
}

Test(srtcp_gcm, inbound_ssrc_table_is_bounded_and_remove_frees_a_place)
{
    weir_srtp_keys k, far;
    test_gcm_keys(&k, &far);
    weir_srtp *tx = weir_srtp_create(&k, NULL);
    weir_srtp *rx = weir_srtp_create(&far, NULL);
    for (uint32_t i = 0; i < WEIR_SRTCP_GCM_MAX_SSRCS; i++)
        send_ok(tx, rx, 1000 + i, 1, i);
    uint8_t buf[CAP];
    size_t len = make_rtcp(buf, 99999, 1, 0);
    cr_assert_eq(weir_srtp_protect_rtcp(tx, buf, &len, CAP), 0);
    uint8_t copy[CAP];
    memcpy(copy, buf, len);
    size_t l = len;
    cr_expect_eq(weir_srtp_unprotect_rtcp(rx, copy, &l), -WEIR_ENOTFOUND, "table full");
    cr_expect_eq(weir_srtp_remove_ssrc(rx, 1000, false), 0);
    cr_expect_eq(weir_srtp_remove_ssrc(rx, 1000, false), -WEIR_ENOTFOUND);
    cr_expect_eq(weir_srtp_unprotect_rtcp(rx, buf, &len), 0, "room after a remove");
    /* A removed SSRC starts over: its packets are accepted again from any index. */
    send_ok(tx, rx, 1001, 1, 5);
    weir_srtp_destroy(tx);
    weir_srtp_destroy(rx);
}

Test(srtcp_gcm, direct_api_refuses_the_wrong_direction)
{
    uint8_t key[16] = {1}, salt[12] = {2};
    weir_srtcp_gcm *out = weir_srtcp_gcm_create(key, salt, false);
    weir_srtcp_gcm *in = weir_srtcp_gcm_create(key, salt, true);
    cr_assert(out && in);
    uint8_t buf[CAP];
    size_t len = make_rtcp(buf, 5, 2, 0);
    cr_expect_eq(weir_srtcp_gcm_protect(in, buf, &len, CAP), -WEIR_EINVAL);
    cr_assert_eq(weir_srtcp_gcm_protect(out, buf, &len, CAP), 0);
    cr_expect_eq(weir_srtcp_gcm_unprotect(out, buf, &len), -WEIR_EINVAL);
    cr_assert_eq(weir_srtcp_gcm_unprotect(in, buf, &len), 0);
    cr_expect_eq(weir_srtcp_gcm_ssrc_count(in), 1);
    weir_srtcp_gcm_destroy(out);
    weir_srtcp_gcm_destroy(in);
    weir_srtcp_gcm_destroy(NULL);
}
