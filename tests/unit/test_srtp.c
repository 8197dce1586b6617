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
#include "peer/srtp_gcm_tx.h"
#include "support/gcm_keys.h"
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

/* ---- GCM outbound RTP on OpenSSL (srtp_gcm_tx.c) against libsrtp ------- */

/*
 * Three sessions on one pair of hand-made keys: `fast` protects through the
 * OpenSSL path, `lib` (libsrtp_tx) through libsrtp, and `rx` is the far end
 * (local and remote swapped), whose inbound side is always libsrtp.
 */
typedef struct trio {
    weir_srtp *fast, *lib, *rx;
} trio;

static void trio_init(trio *t)
{
    weir_srtp_keys k, swapped;
    test_gcm_keys(&k, &swapped);
    weir_srtp_options lib_opts = {.allow_repeat_tx = true, .libsrtp_tx = true};
    t->fast = weir_srtp_create(&k, NULL);
    t->lib = weir_srtp_create(&k, &lib_opts);
    t->rx = weir_srtp_create(&swapped, NULL);
    cr_assert(t->fast && t->lib && t->rx);
}

static void trio_deinit(trio *t)
{
    weir_srtp_destroy(t->fast);
    weir_srtp_destroy(t->lib);
    weir_srtp_destroy(t->rx);
}

/*
 * An RTP packet whose layout and bytes depend only on (ssrc, seq), so a
 * resend is byte-identical: 0..3 CSRCs, a one-byte-header extension
 * (RFC 8285, 0xBEDE) of 1..4 words on odd seqs, payload 0..1199 bytes.
 */
static size_t make_rich_rtp(uint8_t *buf, uint32_t ssrc, uint16_t seq)
{
    unsigned cc = seq % 4, ext_words = seq % 2 ? 1 + seq % 4 : 0;
    size_t payload = ((size_t)seq * 37 + ssrc % 101) % 1200;
    size_t n = make_rtp(buf, ssrc, seq, 0);
    buf[0] = (uint8_t)(0x80 | (ext_words ? 0x10 : 0) | cc);
    for (unsigned i = 0; i < cc; i++)
        for (int b = 0; b < 4; b++)
            buf[n++] = (uint8_t)((ssrc + i) >> (24 - 8 * b));
    if (ext_words) {
        buf[n++] = 0xbe;
        buf[n++] = 0xde;
        buf[n++] = 0;
        buf[n++] = (uint8_t)ext_words;
        for (unsigned i = 0; i < 4 * ext_words; i++)
            buf[n++] = (uint8_t)(seq + i * 3);
    }
    for (size_t i = 0; i < payload; i++)
        buf[n++] = (uint8_t)(i * 7 + seq + ssrc);
    return n;
}

/*
 * Protects plain on both paths and requires the same result code and, on
 * success, the same bytes. deliver: the far end must then accept it and get
 * plain back. Returns the result code.
 */
static int protect_both(trio *t, const uint8_t *plain, size_t n, bool deliver)
{
    uint8_t a[CAP], b[CAP];
    memcpy(a, plain, n);
    memcpy(b, plain, n);
    size_t la = n, lb = n;
    int ra = weir_srtp_protect_rtp(t->fast, a, &la, CAP);
    int rb = weir_srtp_protect_rtp(t->lib, b, &lb, CAP);
    uint32_t ssrc =
        (uint32_t)plain[8] << 24 | (uint32_t)plain[9] << 16 | plain[10] << 8 | plain[11];
    unsigned seq = (unsigned)(plain[2] << 8 | plain[3]);
    cr_assert_eq(ra, rb, "ssrc %x seq %u: openssl %d libsrtp %d", ssrc, seq, ra, rb);
    if (ra != 0) {
        cr_assert_eq(la, n, "length unchanged on failure");
        return ra;
    }
    cr_assert_eq(la, n + 16);
    cr_assert_eq(lb, la);
    cr_assert_arr_eq(a, b, la, "ssrc %x seq %u: OpenSSL and libsrtp output differ", ssrc, seq);
    if (deliver) {
        int rc = weir_srtp_unprotect_rtp(t->rx, a, &la);
        cr_assert_eq(rc, 0, "ssrc %x seq %u: far end refused: %d %s", ssrc, seq, rc,
                     weir_srtp_status_name(weir_srtp_last_status(t->rx)));
        cr_assert_eq(la, n);
        cr_assert_arr_eq(a, plain, n);
    }
    return 0;
}

static const uint32_t GCM_SSRCS[] = {0x11111111, 0xdeadbeef, 5, 0x80000000};
#define N_GCM_SSRCS (sizeof GCM_SSRCS / sizeof GCM_SSRCS[0])

Test(srtp, gcm_openssl_tx_is_byte_equal_to_libsrtp_across_a_wrap_and_resends)
{
    trio t;
    trio_init(&t);
    /* Each SSRC starts a little before 65535 and runs 300 packets past the wrap (ROC 0 -> 1). */
    enum { RUN = 300 };
    uint8_t plain[CAP];
    for (int k = 0; k < RUN; k++)
        for (size_t i = 0; i < N_GCM_SSRCS; i++) {
            uint16_t seq = (uint16_t)(65400 + 10 * i + (size_t)k);
            size_t n = make_rich_rtp(plain, GCM_SSRCS[i], seq);
            /* Every 17th is "lost" on the way: the far end gets it when resent. */
            cr_assert_eq(protect_both(&t, plain, n, k % 17 != 5), 0);
        }
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.fast), N_GCM_SSRCS, "the OpenSSL path carried them");
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.lib), 0);

    /*
     * NACK answers: the lost packets resent, from both sides of the wrap
     * (ROC 0 before it, ROC 1 after); the far end decrypts them only with
     * the right ROC. A packet already delivered may be resent too.
     */
    for (size_t i = 0; i < N_GCM_SSRCS; i++) {
        for (int k = 5; k < RUN; k += 17) {
            uint16_t seq = (uint16_t)(65400 + 10 * i + (size_t)k);
            size_t n = make_rich_rtp(plain, GCM_SSRCS[i], seq);
            cr_assert_eq(protect_both(&t, plain, n, true), 0);
        }
        size_t n = make_rich_rtp(plain, GCM_SSRCS[i], 65530);
        cr_assert_eq(protect_both(&t, plain, n, false), 0);
    }

    /* Far behind the highest (over the 1024 window): both paths refuse it alike. */
    size_t n = make_rich_rtp(plain, GCM_SSRCS[0], (uint16_t)(65400 + RUN - 1100));
    cr_assert_eq(protect_both(&t, plain, n, false), -WEIR_SRTP_EREPLAY);
    cr_expect_str_eq(weir_srtp_status_name(weir_srtp_last_status(t.fast)), "replay_old");

    /*
     * A removed SSRC starts over at ROC 0: seq 10 after the wrap would be
     * ROC 1 if the OpenSSL path had kept its state (and the bytes would
     * differ from libsrtp's fresh stream).
     */
    cr_assert_eq(weir_srtp_remove_ssrc(t.fast, GCM_SSRCS[1], true), 0);
    cr_assert_eq(weir_srtp_remove_ssrc(t.fast, GCM_SSRCS[1], true), -WEIR_ENOTFOUND);
    cr_assert_eq(weir_srtp_remove_ssrc(t.lib, GCM_SSRCS[1], true), 0);
    cr_assert_eq(weir_srtp_remove_ssrc(t.rx, GCM_SSRCS[1], false), 0);
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.fast), N_GCM_SSRCS - 1);
    for (uint16_t seq = 10; seq < 40; seq++) {
        n = make_rich_rtp(plain, GCM_SSRCS[1], seq);
        cr_assert_eq(protect_both(&t, plain, n, true), 0);
    }
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.fast), N_GCM_SSRCS);
    /* The others kept their ROC: their next packets still match and decrypt. */
    for (size_t i = 0; i < N_GCM_SSRCS; i++) {
        n = make_rich_rtp(plain, GCM_SSRCS[i], (uint16_t)(65400 + 10 * i + RUN));
        if (i != 1)
            cr_assert_eq(protect_both(&t, plain, n, true), 0);
    }
    trio_deinit(&t);
}

Test(srtp, gcm_openssl_tx_starts_like_libsrtp_near_zero_and_after_long_gaps)
{
    /* Streams whose first seq is low, mid or high, then jumps forward and back. */
    static const uint16_t starts[] = {0, 1, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff};
    static const int steps[] = {1, 1, 3, -2, 1, 1000, -500, 20000, 20000, 20000, -100, 1, 30000};
    for (size_t si = 0; si < sizeof starts / sizeof starts[0]; si++) {
        trio t;
        trio_init(&t);
        uint32_t ssrc = 0x1000 + (uint32_t)si;
        uint16_t seq = starts[si];
        uint8_t plain[CAP];
        for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
            size_t n = make_rich_rtp(plain, ssrc, seq);
            int rc = protect_both(&t, plain, n, false);
            cr_assert(rc == 0 || rc == -WEIR_SRTP_EREPLAY, "start %u step %zu rc %d", starts[si], k,
                      rc);
            seq = (uint16_t)(seq + steps[k]);
        }
        trio_deinit(&t);
    }
}

Test(srtp, gcm_openssl_tx_errors_match_libsrtp_and_leave_the_packet_alone)
{
    trio t;
    trio_init(&t);
    uint8_t plain[CAP], buf[CAP];
    size_t n = make_rich_rtp(plain, 99, 7); /* 3 CSRCs, extension of 4 words */
    cr_assert_eq(plain[0], 0x80 | 0x10 | 3);
    for (int which = 0; which < 2; which++) {
        weir_srtp *s = which ? t.lib : t.fast;
        memcpy(buf, plain, n);
        size_t len = n;
        cr_expect_eq(weir_srtp_protect_rtp(s, buf, &len, n + 15), -WEIR_ETOOBIG);
        cr_expect_eq(len, n);
        cr_expect_arr_eq(buf, plain, n, "untouched");
        len = 11;
        cr_expect_eq(weir_srtp_protect_rtp(s, buf, &len, CAP), -WEIR_EINVAL);
        cr_expect_eq(len, 11);
    }
    /* Headers that claim more than the packet holds: both paths say EINVAL. */
    size_t cut[] = {12, 12 + 4 * 3 - 1, 12 + 4 * 3, 12 + 4 * 3 + 3, 12 + 4 * 3 + 4 + 15};
    for (size_t i = 0; i < sizeof cut / sizeof cut[0]; i++)
        cr_expect_eq(protect_both(&t, plain, cut[i], false), -WEIR_EINVAL, "cut at %zu", cut[i]);
    /* Exactly the header, no payload: valid, an empty ciphertext and a tag. */
    cr_expect_eq(protect_both(&t, plain, 12 + 12 + 4 + 16, true), 0);
    /* A NULL buffer is refused, not dereferenced. */
    size_t len = 40;
    cr_expect_eq(weir_srtp_protect_rtp(t.fast, NULL, &len, CAP), -WEIR_EINVAL);
    trio_deinit(&t);
}

Test(srtp, gcm_openssl_tx_table_is_bounded_and_spills_to_libsrtp_sticky)
{
    trio t;
    trio_init(&t);
    uint8_t plain[CAP];
    /* Fill the OpenSSL table; every SSRC starts near the wrap. */
    for (uint32_t i = 0; i < WEIR_SRTP_GCM_TX_MAX_SSRCS; i++) {
        size_t n = make_rich_rtp(plain, 0x5000 + i * 7919, 65534);
        cr_assert_eq(protect_both(&t, plain, n, true), 0);
    }
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.fast), WEIR_SRTP_GCM_TX_MAX_SSRCS);
    /* One more goes through libsrtp; output is the same either way. */
    uint32_t extra = 0xfeed;
    size_t n = make_rich_rtp(plain, extra, 65534);
    cr_assert_eq(protect_both(&t, plain, n, true), 0);
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.fast), WEIR_SRTP_GCM_TX_MAX_SSRCS, "never grows");
    /*
     * A slot frees up, then `extra` wraps: it must stay on libsrtp (which
     * knows it is at ROC 0, seq 65534, so seq 3 is ROC 1). Moving to a fresh
     * OpenSSL entry would encrypt seq 3 at ROC 0: different bytes.
     */
    cr_assert_eq(weir_srtp_remove_ssrc(t.fast, 0x5000, true), 0);
    cr_assert_eq(weir_srtp_remove_ssrc(t.lib, 0x5000, true), 0);
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.fast), WEIR_SRTP_GCM_TX_MAX_SSRCS - 1);
    for (uint16_t seq = 65535; seq != 5; seq++) {
        n = make_rich_rtp(plain, extra, seq);
        cr_assert_eq(protect_both(&t, plain, n, true), 0);
    }
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.fast), WEIR_SRTP_GCM_TX_MAX_SSRCS - 1, "extra stayed");
    /* A new SSRC takes the free slot. */
    n = make_rich_rtp(plain, 0xabc, 1);
    cr_assert_eq(protect_both(&t, plain, n, true), 0);
    cr_assert_eq(weir_srtp_gcm_tx_ssrcs(t.fast), WEIR_SRTP_GCM_TX_MAX_SSRCS);
    /* Removing the spilled SSRC works through libsrtp. */
    cr_assert_eq(weir_srtp_remove_ssrc(t.fast, extra, true), 0);
    cr_assert_eq(weir_srtp_remove_ssrc(t.fast, extra, true), -WEIR_ENOTFOUND);
    /* Everyone in the table wraps with the right ROC after all that churn. */
    for (uint32_t i = 1; i < WEIR_SRTP_GCM_TX_MAX_SSRCS; i++)
        for (uint16_t seq = 65535; seq != 2; seq++) {
            n = make_rich_rtp(plain, 0x5000 + i * 7919, seq);
            cr_assert_eq(protect_both(&t, plain, n, true), 0);
        }
    trio_deinit(&t);
}

Test(srtp, gcm_openssl_tx_is_off_for_aes_cm_and_without_repeat_tx)
{
    weir_srtp_keys k, swapped;
    test_gcm_keys(&k, &swapped);
    weir_srtp_options no_repeat = {.allow_repeat_tx = false};
    weir_srtp *s = weir_srtp_create(&k, &no_repeat);
    cr_assert_not_null(s);
    uint8_t buf[CAP];
    size_t len = make_rtp(buf, 1, 1, 10);
    cr_assert_eq(weir_srtp_protect_rtp(s, buf, &len, CAP), 0);
    cr_expect_eq(weir_srtp_gcm_tx_ssrcs(s), 0, "repeat refusal needs libsrtp's bitmap");
    weir_srtp_destroy(s);
    duo d;
    duo_init(&d, WEIR_SRTP_PROFILE_AES128_CM_SHA1_80, NULL);
    len = make_rtp(buf, 1, 1, 10);
    cr_assert_eq(weir_srtp_protect_rtp(d.client, buf, &len, CAP), 0);
    cr_expect_eq(weir_srtp_gcm_tx_ssrcs(d.client), 0);
    duo_deinit(&d);
}

Test(srtp, gcm_tx_table_add_remove_keeps_every_other_ssrc_findable)
{
    uint8_t key[16] = {1}, salt[12] = {2};
    weir_srtp_gcm_tx *t = weir_srtp_gcm_tx_create(key, salt, 1024);
    cr_assert_not_null(t);
    /* Consecutive SSRCs and multiples of the slot count: collisions and long probe runs. */
    uint32_t ssrcs[WEIR_SRTP_GCM_TX_MAX_SSRCS];
    for (uint32_t i = 0; i < WEIR_SRTP_GCM_TX_MAX_SSRCS; i++) {
        ssrcs[i] = i % 2 ? i : i * 512u;
        cr_assert_eq(weir_srtp_gcm_tx_add_ssrc(t, ssrcs[i]), 0, "ssrc %u", ssrcs[i]);
    }
    cr_expect_eq(weir_srtp_gcm_tx_add_ssrc(t, ssrcs[7]), -WEIR_EEXIST);
    cr_expect_eq(weir_srtp_gcm_tx_add_ssrc(t, 0xffffffff), -WEIR_EFULL);
    cr_expect_eq(weir_srtp_gcm_tx_ssrc_count(t), WEIR_SRTP_GCM_TX_MAX_SSRCS);
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = (uint32_t)round; i < WEIR_SRTP_GCM_TX_MAX_SSRCS; i += 3)
            cr_assert_eq(weir_srtp_gcm_tx_remove_ssrc(t, ssrcs[i]), 0);
        for (uint32_t i = 0; i < WEIR_SRTP_GCM_TX_MAX_SSRCS; i++)
            cr_assert_eq(weir_srtp_gcm_tx_has_ssrc(t, ssrcs[i]), i % 3 > (uint32_t)round,
                         "round %d ssrc %u", round, ssrcs[i]);
    }
    cr_expect_eq(weir_srtp_gcm_tx_ssrc_count(t), 0);
    cr_expect_eq(weir_srtp_gcm_tx_remove_ssrc(t, ssrcs[0]), -WEIR_ENOTFOUND);
    for (uint32_t i = 0; i < WEIR_SRTP_GCM_TX_MAX_SSRCS; i++)
        cr_assert_eq(weir_srtp_gcm_tx_add_ssrc(t, ssrcs[i] ^ 0x40000000u), 0);
    /* A protect for an SSRC not added is refused with nothing changed. */
    uint8_t buf[CAP];
    size_t len = make_rtp(buf, 0x77, 1, 20);
    cr_expect_eq(weir_srtp_gcm_tx_protect(t, buf, &len, CAP), -WEIR_ENOTFOUND);
    cr_expect_eq(len, 32);
    weir_srtp_gcm_tx_destroy(t);
    weir_srtp_gcm_tx_destroy(NULL);
    cr_expect_null(weir_srtp_gcm_tx_create(key, salt, 0));
    cr_expect_null(weir_srtp_gcm_tx_create(key, salt, 0x8000));
}

Test(srtp, gcm_tx_table_matches_a_model_under_random_churn)
{
    /* Random adds and removes against a plain array: probe runs that wrap past the last slot too. */
    enum { POOL = 600, OPS = 20000 };
    static bool model[POOL];
    memset(model, 0, sizeof model);
    uint8_t key[16] = {3}, salt[12] = {4};
    weir_srtp_gcm_tx *t = weir_srtp_gcm_tx_create(key, salt, 64);
    cr_assert_not_null(t);
    size_t live = 0;
    uint32_t seed = 2024;
    for (int op = 0; op < OPS; op++) {
        seed = seed * 1664525u + 1013904223u;
        uint32_t i = (seed >> 8) % POOL, ssrc = i * 0x01000193u;
        if ((seed >> 4) % 2) {
            int rc = weir_srtp_gcm_tx_add_ssrc(t, ssrc);
            int want = model[i]                             ? -WEIR_EEXIST
                       : live == WEIR_SRTP_GCM_TX_MAX_SSRCS ? -WEIR_EFULL
                                                            : 0;
            cr_assert_eq(rc, want, "op %d add %u", op, i);
            if (rc == 0) {
                model[i] = true;
                live++;
            }
        } else {
            cr_assert_eq(weir_srtp_gcm_tx_remove_ssrc(t, ssrc), model[i] ? 0 : -WEIR_ENOTFOUND);
            live -= model[i];
            model[i] = false;
        }
        cr_assert_eq(weir_srtp_gcm_tx_ssrc_count(t), live);
        for (uint32_t k = 0; k < POOL; k++)
            cr_assert_eq(weir_srtp_gcm_tx_has_ssrc(t, k * 0x01000193u), model[k], "op %d ssrc %u",
                         op, k);
    }
    weir_srtp_gcm_tx_destroy(t);
}

Test(srtp, gcm_openssl_tx_refuses_at_the_same_window_edge_as_libsrtp)
{
    /* libsrtp rounds the window up to a multiple of 32 bits: 100 -> 128. */
    static const struct {
        uint32_t window, edge;
    } rows[] = {{1024, 1024}, {100, 128}, {64, 64}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
        weir_srtp_keys k, swapped;
        test_gcm_keys(&k, &swapped);
        weir_srtp_options fo = {.window_size = rows[r].window, .allow_repeat_tx = true};
        weir_srtp_options lo = fo;
        lo.libsrtp_tx = true;
        trio t = {weir_srtp_create(&k, &fo), weir_srtp_create(&k, &lo),
                  weir_srtp_create(&swapped, NULL)};
        cr_assert(t.fast && t.lib && t.rx);
        uint8_t plain[CAP];
        uint16_t top = 40000;
        size_t n = make_rich_rtp(plain, 8, top);
        cr_assert_eq(protect_both(&t, plain, n, false), 0);
        n = make_rich_rtp(plain, 8, (uint16_t)(top - rows[r].edge + 1));
        cr_expect_eq(protect_both(&t, plain, n, false), 0, "window %u", rows[r].window);
        n = make_rich_rtp(plain, 8, (uint16_t)(top - rows[r].edge));
        cr_expect_eq(protect_both(&t, plain, n, false), -WEIR_SRTP_EREPLAY, "window %u",
                     rows[r].window);
        cr_expect_eq(weir_srtp_gcm_tx_ssrcs(t.fast), 1);
        trio_deinit(&t);
    }
}
