/*
 * SRTP tests for both DTLS-SRTP profiles, keyed by a real in-memory DTLS
 * handshake (so the exporter layout and the key orientation are tested end
 * to end): the client's session protects, the server's unprotects, and back.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "peer/cert.h"
#include "peer/dtls.h"
#include "peer/srtp.h"
#include "weir/log.h"

#define NOW_US 1000000
#define CAP 1600

static void setup(void)
{
    weir_log_set_level(WEIR_LOG_WARN);
    cr_assert_eq(weir_srtp_global_init(), 0);
    cr_assert_eq(weir_srtp_global_init(), 0, "idempotent");
}

TestSuite(srtp, .init = setup);

/* ---- keys from a handshake ---------------------------------------------- */

typedef struct side {
    weir_cert *cert;
    weir_dtls_ctx *ctx;
    weir_dtls *dtls;
    weir_srtp_keys keys;
    bool connected;
} side;

static void side_open(side *s, weir_dtls_role role, const weir_cert *peer, const char *profiles)
{
    char alg[16], hex[128];
    sscanf(weir_cert_fingerprint(peer), "%15s %127s", alg, hex);
    s->ctx = weir_dtls_ctx_create(s->cert);
    cr_assert_not_null(s->ctx);
    cr_assert_eq(weir_dtls_ctx_set_srtp_profiles(s->ctx, profiles), 0);
    weir_dtls_config cfg = {.role = role, .fingerprint_algorithm = alg, .fingerprint_hex = hex};
    s->dtls = weir_dtls_create(s->ctx, &cfg);
    cr_assert_not_null(s->dtls);
}

static void pump(side *from, side *to)
{
    const uint8_t *data;
    size_t len;
    while (weir_dtls_poll_transmit(from->dtls, &data, &len) == 1)
        cr_assert_eq(weir_dtls_handle_datagram(to->dtls, NOW_US, data, len), 0);
    weir_dtls_event ev;
    for (side *s = from; s; s = s == from ? to : NULL)
        while (weir_dtls_poll_event(s->dtls, &ev) == 1) {
            cr_assert_eq(ev.type, WEIR_DTLS_EVENT_CONNECTED, "%s", ev.detail);
            s->keys = ev.keys;
            s->connected = true;
        }
}

/* Runs a handshake offering only `profiles` and returns both sides' keys. */
static void handshake_keys(const char *profiles, weir_srtp_keys *client, weir_srtp_keys *server)
{
    char err[128];
    side c = {0}, s = {0};
    c.cert = weir_cert_generate(1700000000000, err, sizeof err);
    s.cert = weir_cert_generate(1700000000000, err, sizeof err);
    cr_assert(c.cert && s.cert, "%s", err);
    side_open(&c, WEIR_DTLS_ROLE_CLIENT, s.cert, profiles);
    side_open(&s, WEIR_DTLS_ROLE_SERVER, c.cert, profiles);
    weir_dtls_start(s.dtls, NOW_US);
    weir_dtls_start(c.dtls, NOW_US);
    for (int i = 0; i < 10 && !(c.connected && s.connected); i++) {
        pump(&c, &s);
        pump(&s, &c);
    }
    cr_assert(c.connected && s.connected);
    *client = c.keys;
    *server = s.keys;
    for (side *x = &c; x; x = x == &c ? &s : NULL) {
        weir_dtls_destroy(x->dtls);
        weir_dtls_ctx_destroy(x->ctx);
        weir_cert_destroy(x->cert);
    }
}

typedef struct duo {
    weir_srtp *client, *server;
    weir_srtp_profile profile;
    size_t rtp_tag, rtcp_trailer;
} duo;

static void duo_init(duo *d, weir_srtp_profile profile, const weir_srtp_options *opts)
{
    weir_srtp_keys ck, sk;
    handshake_keys(weir_srtp_profile_name(profile), &ck, &sk);
    cr_assert_eq(ck.profile, profile);
    d->profile = profile;
    d->client = weir_srtp_create(&ck, opts);
    d->server = weir_srtp_create(&sk, opts);
    cr_assert(d->client && d->server);
    d->rtp_tag = profile == WEIR_SRTP_PROFILE_AEAD_AES_128_GCM ? 16 : 10;
    d->rtcp_trailer = 4 + d->rtp_tag;
}

static void duo_deinit(duo *d)
{
    weir_srtp_destroy(d->client);
    weir_srtp_destroy(d->server);
}

/* ---- packets ------------------------------------------------------------ */

static size_t make_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq, size_t payload_len)
{
    memset(buf, 0, CAP);
    buf[0] = 0x80;
    buf[1] = 96;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    uint32_t ts = 90u * seq;
    for (int i = 0; i < 4; i++) {
        buf[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
        buf[8 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    }
    for (size_t i = 0; i < payload_len; i++)
        buf[12 + i] = (uint8_t)(i * 7 + seq);
    return 12 + payload_len;
}

/* RTCP sender report (RFC 3550 §6.4.1) with no report blocks: 28 bytes. */
static size_t make_sr(uint8_t *buf, uint32_t ssrc)
{
    memset(buf, 0, CAP);
    buf[0] = 0x80;
    buf[1] = 200;
    buf[3] = 6;
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    for (int i = 8; i < 28; i++)
        buf[i] = (uint8_t)(i * 13);
    return 28;
}

static const weir_srtp_profile PROFILES[] = {
    WEIR_SRTP_PROFILE_AES128_CM_SHA1_80,
    WEIR_SRTP_PROFILE_AEAD_AES_128_GCM,
};
#define N_PROFILES (sizeof PROFILES / sizeof PROFILES[0])

/* ---- tests -------------------------------------------------------------- */

Test(srtp, profile_lengths_and_names)
{
    struct {
        weir_srtp_profile p;
        int rc;
        size_t key, salt;
        const char *name;
    } rows[] = {
        {WEIR_SRTP_PROFILE_AES128_CM_SHA1_80, 0, 16, 14, "SRTP_AES128_CM_SHA1_80"},
        {WEIR_SRTP_PROFILE_AEAD_AES_128_GCM, 0, 16, 12, "SRTP_AEAD_AES_128_GCM"},
        {WEIR_SRTP_PROFILE_NONE, -WEIR_EUNSUPPORTED, 0, 0, "none"},
        {(weir_srtp_profile)0x0008, -WEIR_EUNSUPPORTED, 0, 0, "none"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t k = 0, s = 0;
        cr_expect_eq(weir_srtp_profile_lengths(rows[i].p, &k, &s), rows[i].rc, "row %zu", i);
        if (rows[i].rc == 0)
            cr_expect(k == rows[i].key && s == rows[i].salt, "row %zu", i);
        cr_expect_str_eq(weir_srtp_profile_name(rows[i].p), rows[i].name);
    }
    cr_expect(strstr(weir_srtp_version(), "libsrtp2") != NULL, "%s", weir_srtp_version());
}

Test(srtp, rtp_and_rtcp_round_trip_both_ways_byte_exact)
{
    for (size_t pi = 0; pi < N_PROFILES; pi++) {
        duo d;
        duo_init(&d, PROFILES[pi], NULL);
        size_t sizes[] = {0, 1, 160, 1188};
        for (int dir = 0; dir < 2; dir++) {
            weir_srtp *tx = dir ? d.server : d.client, *rx = dir ? d.client : d.server;
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
                uint8_t plain[CAP], buf[CAP];
                size_t n = make_rtp(plain, 0x1234 + (uint32_t)dir, (uint16_t)(100 + i), sizes[i]);
                memcpy(buf, plain, CAP);
                size_t len = n;
                cr_assert_eq(weir_srtp_protect_rtp(tx, buf, &len, CAP), 0);
                cr_assert_eq(len, n + d.rtp_tag, "%s", weir_srtp_profile_name(d.profile));
                if (sizes[i] >= 16) /* a 1-byte payload may encrypt to itself */
                    cr_expect_arr_neq(buf + 12, plain + 12, sizes[i], "payload is encrypted");
                cr_assert_eq(weir_srtp_unprotect_rtp(rx, buf, &len), 0);
                cr_assert_eq(len, n);
                cr_assert_arr_eq(buf, plain, n);
            }
            uint8_t plain[CAP], buf[CAP];
            size_t n = make_sr(plain, 0xabcdef + (uint32_t)dir);
            memcpy(buf, plain, CAP);
            size_t len = n;
            cr_assert_eq(weir_srtp_protect_rtcp(tx, buf, &len, CAP), 0);
            cr_assert_eq(len, n + d.rtcp_trailer);
            cr_assert_eq(weir_srtp_unprotect_rtcp(rx, buf, &len), 0);
            cr_assert_eq(len, n);
            cr_assert_arr_eq(buf, plain, n);
        }
        cr_assert_eq(weir_srtp_get_profile(d.client), PROFILES[pi]);
        duo_deinit(&d);
    }
}

Test(srtp, a_tampered_byte_anywhere_fails_authentication)
{
    for (size_t pi = 0; pi < N_PROFILES; pi++) {
        duo d;
        duo_init(&d, PROFILES[pi], NULL);
        uint8_t plain[CAP], prot[CAP];
        size_t n = make_rtp(plain, 42, 7, 200), len = n;
        memcpy(prot, plain, CAP);
        cr_assert_eq(weir_srtp_protect_rtp(d.client, prot, &len, CAP), 0);
        size_t positions[] = {1, 3, 5, 12, 100, len - d.rtp_tag - 1, len - d.rtp_tag, len - 1};
        for (size_t i = 0; i < sizeof positions / sizeof positions[0]; i++) {
            uint8_t buf[CAP];
            memcpy(buf, prot, CAP);
            buf[positions[i]] ^= 0x01;
            size_t l = len;
            int rc = weir_srtp_unprotect_rtp(d.server, buf, &l);
            cr_expect_eq(rc, -WEIR_SRTP_EAUTH, "%s byte %zu: rc %d status %s",
                         weir_srtp_profile_name(d.profile), positions[i], rc,
                         weir_srtp_status_name(weir_srtp_last_status(d.server)));
            cr_expect_eq(l, len, "length unchanged on failure");
        }
        /* The untouched packet still passes after all those failures. */
        size_t l = len;
        cr_assert_eq(weir_srtp_unprotect_rtp(d.server, prot, &l), 0);
        cr_assert_arr_eq(prot, plain, n);

        uint8_t rtcp[CAP];
        size_t rl = make_sr(rtcp, 42);
        cr_assert_eq(weir_srtp_protect_rtcp(d.client, rtcp, &rl, CAP), 0);
        rtcp[10] ^= 0x80;
        cr_expect_eq(weir_srtp_unprotect_rtcp(d.server, rtcp, &rl), -WEIR_SRTP_EAUTH);
        duo_deinit(&d);
    }
}

Test(srtp, replays_and_packets_older_than_the_window_are_refused)
{
    for (size_t pi = 0; pi < N_PROFILES; pi++) {
        duo d;
        duo_init(&d, PROFILES[pi], NULL);
        uint8_t first[CAP], buf[CAP];
        size_t flen = make_rtp(first, 9, 1, 50);
        cr_assert_eq(weir_srtp_protect_rtp(d.client, first, &flen, CAP), 0);
        memcpy(buf, first, CAP);
        size_t len = flen;
        cr_assert_eq(weir_srtp_unprotect_rtp(d.server, buf, &len), 0);
        memcpy(buf, first, CAP);
        len = flen;
        cr_expect_eq(weir_srtp_unprotect_rtp(d.server, buf, &len), -WEIR_SRTP_EREPLAY);

        /* Protect 2..1200, deliver only the newest: 1200 - 1024 is the window edge. */
        static uint8_t kept[1201][64];
        size_t kept_len[1201];
        for (uint16_t seq = 2; seq <= 1200; seq++) {
            size_t l = make_rtp(buf, 9, seq, 20);
            cr_assert_eq(weir_srtp_protect_rtp(d.client, buf, &l, CAP), 0);
            memcpy(kept[seq], buf, l);
            kept_len[seq] = l;
        }
        len = kept_len[1200];
        cr_assert_eq(weir_srtp_unprotect_rtp(d.server, kept[1200], &len), 0);
        len = kept_len[1200 - 1000];
        cr_expect_eq(weir_srtp_unprotect_rtp(d.server, kept[1200 - 1000], &len), 0,
                     "late but inside the 1024 window");
        len = kept_len[1200 - 1100];
        cr_expect_eq(weir_srtp_unprotect_rtp(d.server, kept[1200 - 1100], &len), -WEIR_SRTP_EREPLAY,
                     "behind the window");

        /* RTCP: the SRTCP index protects against replay too. */
        uint8_t rtcp[CAP], copy[CAP];
        size_t rl = make_sr(rtcp, 9);
        cr_assert_eq(weir_srtp_protect_rtcp(d.client, rtcp, &rl, CAP), 0);
        memcpy(copy, rtcp, rl);
        size_t cl = rl;
        cr_assert_eq(weir_srtp_unprotect_rtcp(d.server, rtcp, &rl), 0);
        cr_expect_eq(weir_srtp_unprotect_rtcp(d.server, copy, &cl), -WEIR_SRTP_EREPLAY);
        duo_deinit(&d);
    }
}

Test(srtp, any_ssrc_works_without_registration)
{
    for (size_t pi = 0; pi < N_PROFILES; pi++) {
        duo d;
        duo_init(&d, PROFILES[pi], NULL);
        uint32_t ssrcs[] = {1, 0xdeadbeef, 0x7fffffff, 0xffffffff, 123456};
        for (int round = 0; round < 3; round++)
            for (size_t i = 0; i < sizeof ssrcs / sizeof ssrcs[0]; i++) {
                uint8_t plain[CAP], buf[CAP];
                size_t n = make_rtp(plain, ssrcs[i], (uint16_t)(round * 10 + 5000), 80), len = n;
                memcpy(buf, plain, CAP);
                cr_assert_eq(weir_srtp_protect_rtp(d.server, buf, &len, CAP), 0);
                cr_assert_eq(weir_srtp_unprotect_rtp(d.client, buf, &len), 0);
                cr_assert_arr_eq(buf, plain, n);
            }
        /* Forgetting an SSRC forgets its replay state: the same packet passes again. */
        uint8_t prot[CAP], buf[CAP];
        size_t plen = make_rtp(prot, 77, 1, 10);
        cr_assert_eq(weir_srtp_protect_rtp(d.server, prot, &plen, CAP), 0);
        memcpy(buf, prot, CAP);
        size_t len = plen;
        cr_assert_eq(weir_srtp_unprotect_rtp(d.client, buf, &len), 0);
        cr_assert_eq(weir_srtp_remove_ssrc(d.client, 77, false), 0);
        cr_assert_eq(weir_srtp_remove_ssrc(d.client, 77, false), -WEIR_ENOTFOUND);
        cr_assert_eq(weir_srtp_remove_ssrc(d.server, 77, true), 0);
        memcpy(buf, prot, CAP);
        len = plen;
        cr_assert_eq(weir_srtp_unprotect_rtp(d.client, buf, &len), 0);
        duo_deinit(&d);
    }
}

Test(srtp, same_seq_retransmission_is_allowed_only_when_configured)
{
    for (size_t pi = 0; pi < N_PROFILES; pi++) {
        for (int allow = 0; allow < 2; allow++) {
            weir_srtp_options opts = {.window_size = 0, .allow_repeat_tx = allow};
            duo d;
            duo_init(&d, PROFILES[pi], &opts);
            uint8_t pkt[3][CAP];
            size_t len[3];
            for (int i = 0; i < 3; i++) {
                len[i] = make_rtp(pkt[i], 5, (uint16_t)(10 + i), 100);
                cr_assert_eq(weir_srtp_protect_rtp(d.client, pkt[i], &len[i], CAP), 0);
            }
            /* seq 11 is lost; a NACK asks for it and we resend the same packet. */
            uint8_t again[CAP];
            size_t alen = make_rtp(again, 5, 11, 100);
            int rc = weir_srtp_protect_rtp(d.client, again, &alen, CAP);
            if (!allow) {
                cr_expect_eq(rc, -WEIR_SRTP_EREPLAY, "profile %zu", pi);
                duo_deinit(&d);
                continue;
            }
            cr_assert_eq(rc, 0);
            cr_assert_eq(alen, len[1]);
            cr_assert_arr_eq(again, pkt[1], alen, "a repeat is byte-identical");
            for (int i = 0; i < 3; i += 2)
                cr_assert_eq(weir_srtp_unprotect_rtp(d.server, pkt[i], &len[i]), 0);
            cr_assert_eq(weir_srtp_unprotect_rtp(d.server, again, &alen), 0, "fills the hole");
            duo_deinit(&d);
        }
    }
}

Test(srtp, bounds_and_bad_input)
{
    duo d;
    duo_init(&d, WEIR_SRTP_PROFILE_AEAD_AES_128_GCM, NULL);
    uint8_t buf[CAP];
    size_t n = make_rtp(buf, 1, 1, 100), len = n;
    cr_expect_eq(weir_srtp_protect_rtp(d.client, buf, &len, n + WEIR_SRTP_MAX_RTP_OVERHEAD - 1),
                 -WEIR_ETOOBIG);
    cr_expect_eq(len, n);
    cr_expect_eq(weir_srtp_protect_rtp(d.client, buf, &len, n + WEIR_SRTP_MAX_RTP_OVERHEAD), 0);
    len = 11;
    cr_expect_eq(weir_srtp_protect_rtp(d.client, buf, &len, CAP), -WEIR_EINVAL);
    cr_expect_eq(weir_srtp_unprotect_rtp(d.server, buf, &len), -WEIR_EINVAL);
    len = 7;
    cr_expect_eq(weir_srtp_protect_rtcp(d.client, buf, &len, CAP), -WEIR_EINVAL);
    len = 28;
    cr_expect_eq(weir_srtp_protect_rtcp(d.client, buf, &len, 28 + WEIR_SRTP_MAX_RTCP_OVERHEAD - 1),
                 -WEIR_ETOOBIG);
    /* Random bytes that look like SRTP: refused, never a crash. */
    uint32_t seed = 99;
    for (int i = 0; i < 500; i++) {
        len = 12 + i % 300;
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1664525u + 1013904223u;
            buf[k] = (uint8_t)(seed >> 24);
        }
        buf[0] = (uint8_t)(0x80 | (buf[0] & 0x3f));
        cr_expect_lt(weir_srtp_unprotect_rtp(d.server, buf, &len), 0);
        cr_expect_lt(weir_srtp_unprotect_rtcp(d.server, buf, &len), 0);
    }
    duo_deinit(&d);
}

Test(srtp, create_checks_keys_and_options)
{
    weir_srtp_keys k = {
        .profile = WEIR_SRTP_PROFILE_AES128_CM_SHA1_80, .key_len = 16, .salt_len = 14};
    memset(k.local_key, 1, sizeof k.local_key);
    memset(k.remote_key, 2, sizeof k.remote_key);
    weir_srtp *s = weir_srtp_create(&k, NULL);
    cr_assert_not_null(s, "keys set by hand work too");
    weir_srtp_destroy(s);
    weir_srtp_keys bad = k;
    bad.salt_len = 12;
    cr_expect_null(weir_srtp_create(&bad, NULL), "CM needs a 14-byte salt");
    bad = k;
    bad.profile = WEIR_SRTP_PROFILE_NONE;
    cr_expect_null(weir_srtp_create(&bad, NULL));
    weir_srtp_options tiny = {.window_size = 32};
    cr_expect_null(weir_srtp_create(&k, &tiny));
    weir_srtp_options huge = {.window_size = 40000};
    cr_expect_null(weir_srtp_create(&k, &huge));
    cr_expect_null(weir_srtp_create(NULL, NULL));
    weir_srtp_destroy(NULL);
    cr_expect_str_eq(weir_srtp_status_name(7), "auth_fail");
    cr_expect_str_eq(weir_srtp_status_name(-1), "unknown");
}
