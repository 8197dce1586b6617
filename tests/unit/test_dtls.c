/*
 * DTLS and certificate tests: two weir_dtls endpoints in memory on a fake
 * clock, datagrams shuttled by hand so that any one can be dropped,
 * corrupted or replayed.
 *
 * The fake clock also drives OpenSSL's retransmission timer: OpenSSL 3.0
 * compares that timer with gettimeofday() (DTLS_set_timer_cb only chooses
 * durations), so this binary interposes gettimeofday() and, while a test
 * runs, answers with the fake clock. Retransmission is then exactly as
 * deterministic as the rest of the test.
 */
#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "peer/cert.h"
#include "peer/dtls.h"
#include "weir/log.h"

/* ---- fake clock -------------------------------------------------------- */

#include "support/fake_wall_clock.h"

static void fake_clock_on(void)
{
    weir_log_set_level(WEIR_LOG_WARN);
    fake_now_us = 1000000;
    fake_wall = true;
}

static void fake_clock_off(void)
{
    fake_wall = false;
}

TestSuite(dtls, .init = fake_clock_on, .fini = fake_clock_off);
TestSuite(cert, .init = fake_clock_on, .fini = fake_clock_off);

/* ---- a pair of endpoints ----------------------------------------------- */

typedef struct endpoint {
    weir_cert *cert;
    weir_dtls_ctx *ctx;
    weir_dtls *dtls;
    weir_dtls_event events[8];
    int n_events;
    size_t max_datagram;
    int sent; /* datagrams polled from this side */
} endpoint;

typedef struct pair {
    endpoint c, s;
    /* Called for each datagram in flight; return false to drop it. */
    bool (*filter)(struct pair *p, bool from_client);
    int dropped;
} pair;

static weir_cert *make_cert(void)
{
    char err[256];
    weir_cert *c = weir_cert_generate(WALL_BASE_S * 1000, err, sizeof err);
    cr_assert_not_null(c, "generate: %s", err);
    return c;
}

static void hex_of(const weir_cert *cert, char *alg, char *hex)
{
    const char *fp = weir_cert_fingerprint(cert);
    sscanf(fp, "%15s %127s", alg, hex);
}

/* Creates the certificate and context; endpoint_open creates the session. */
static void endpoint_make(endpoint *e)
{
    memset(e, 0, sizeof *e);
    e->cert = make_cert();
    e->ctx = weir_dtls_ctx_create(e->cert);
    cr_assert_not_null(e->ctx);
}

/* expect: the certificate whose fingerprint this side is told, or NULL for "not yet". */
static void endpoint_open(endpoint *e, weir_dtls_role role, const weir_cert *expect, size_t mtu)
{
    char alg[16], hex[128];
    weir_dtls_config cfg = {
        .role = role,
        .mtu = mtu,
        .log_id = role == WEIR_DTLS_ROLE_CLIENT ? "client" : "server",
    };
    if (expect) {
        hex_of(expect, alg, hex);
        cfg.fingerprint_algorithm = alg;
        cfg.fingerprint_hex = hex;
    }
    e->dtls = weir_dtls_create(e->ctx, &cfg);
    cr_assert_not_null(e->dtls);
}

static void endpoint_deinit(endpoint *e)
{
    weir_dtls_destroy(e->dtls);
    weir_dtls_ctx_destroy(e->ctx);
    weir_cert_destroy(e->cert);
}

/* Client and server, each expecting the other's real fingerprint unless told otherwise. */
static void pair_init(pair *p, size_t mtu, bool server_knows_fingerprint)
{
    memset(p, 0, sizeof *p);
    endpoint_make(&p->c);
    endpoint_make(&p->s);
    endpoint_open(&p->c, WEIR_DTLS_ROLE_CLIENT, p->s.cert, mtu);
    endpoint_open(&p->s, WEIR_DTLS_ROLE_SERVER, server_knows_fingerprint ? p->c.cert : NULL, mtu);
}

static void pair_deinit(pair *p)
{
    endpoint_deinit(&p->c);
    endpoint_deinit(&p->s);
}

static void collect_events(endpoint *e)
{
    weir_dtls_event ev;
    while (weir_dtls_poll_event(e->dtls, &ev) == 1) {
        cr_assert_lt(e->n_events, 8);
        e->events[e->n_events++] = ev;
    }
}

/* Moves every queued datagram from one side to the other; returns how many moved. */
static int flush_one_way(pair *p, bool from_client)
{
    endpoint *src = from_client ? &p->c : &p->s, *dst = from_client ? &p->s : &p->c;
    const uint8_t *data;
    size_t len;
    int moved = 0;
    while (weir_dtls_poll_transmit(src->dtls, &data, &len) == 1) {
        uint8_t buf[WEIR_DTLS_MAX_DATAGRAM];
        cr_assert_leq(len, sizeof buf);
        memcpy(buf, data, len);
        src->sent++;
        if (len > src->max_datagram)
            src->max_datagram = len;
        moved++;
        if (p->filter && !p->filter(p, from_client)) {
            p->dropped++;
            continue;
        }
        cr_assert_eq(weir_dtls_handle_datagram(dst->dtls, fake_now_us, buf, len), 0);
    }
    collect_events(src);
    collect_events(dst);
    return moved;
}

static void flush(pair *p)
{
    while (flush_one_way(p, true) + flush_one_way(p, false) > 0)
        ;
}

static bool done(const endpoint *e)
{
    weir_dtls_state s = weir_dtls_get_state(e->dtls);
    return s == WEIR_DTLS_STATE_CONNECTED || s == WEIR_DTLS_STATE_FAILED ||
           s == WEIR_DTLS_STATE_CLOSED;
}

/* Runs until both sides settle, advancing the fake clock to the earliest deadline when idle. */
static void run(pair *p, int max_timeouts)
{
    weir_dtls_start(p->s.dtls, fake_now_us);
    weir_dtls_start(p->c.dtls, fake_now_us);
    for (int t = 0; t <= max_timeouts; t++) {
        flush(p);
        if (done(&p->c) && done(&p->s))
            return;
        int64_t c = weir_dtls_next_timeout(p->c.dtls), s = weir_dtls_next_timeout(p->s.dtls);
        int64_t next = c < s ? c : s;
        if (next == WEIR_DTLS_NO_TIMEOUT)
            return;
        cr_assert_geq(next, fake_now_us);
        fake_now_us = next;
        weir_dtls_handle_timeout(p->c.dtls, fake_now_us);
        weir_dtls_handle_timeout(p->s.dtls, fake_now_us);
    }
}

static const weir_dtls_event *find_event(const endpoint *e, weir_dtls_event_type type)
{
    for (int i = 0; i < e->n_events; i++)
        if (e->events[i].type == type)
            return &e->events[i];
    return NULL;
}

static void assert_keys_agree(const pair *p, weir_srtp_profile profile)
{
    const weir_dtls_event *c = find_event(&p->c, WEIR_DTLS_EVENT_CONNECTED);
    const weir_dtls_event *s = find_event(&p->s, WEIR_DTLS_EVENT_CONNECTED);
    cr_assert(c && s, "both sides connected");
    cr_assert_eq(c->keys.profile, profile);
    cr_assert_eq(s->keys.profile, profile);
    size_t kl, sl;
    cr_assert_eq(weir_srtp_profile_lengths(profile, &kl, &sl), 0);
    cr_assert_eq(c->keys.key_len, kl);
    cr_assert_eq(c->keys.salt_len, sl);
    cr_assert_arr_eq(c->keys.local_key, s->keys.remote_key, kl);
    cr_assert_arr_eq(c->keys.remote_key, s->keys.local_key, kl);
    cr_assert_arr_eq(c->keys.local_salt, s->keys.remote_salt, sl);
    cr_assert_arr_eq(c->keys.remote_salt, s->keys.local_salt, sl);
    cr_assert_arr_neq(c->keys.local_key, c->keys.remote_key, kl, "directions use distinct keys");
}

static bool is_state(const endpoint *e, weir_dtls_state s)
{
    return weir_dtls_get_state(e->dtls) == s;
}

static uint32_t lcg(uint32_t *seed)
{
    *seed = *seed * 1664525u + 1013904223u;
    return *seed >> 8;
}

/* ---- tests -------------------------------------------------------------- */

Test(dtls, demux_by_first_byte_per_rfc7983)
{
    struct {
        uint8_t byte;
        bool dtls;
    } rows[] = {{0, false}, {3, false},  {19, false},  {20, true},   {22, true},   {23, true},
                {63, true}, {64, false}, {127, false}, {128, false}, {191, false}, {255, false}};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_eq(weir_dtls_is_record(rows[i].byte), rows[i].dtls, "byte %u", rows[i].byte);
}

Test(dtls, handshake_prefers_gcm_and_both_sides_derive_the_same_keys)
{
    pair p;
    pair_init(&p, 0, true);
    run(&p, 0);
    cr_assert(is_state(&p.c, WEIR_DTLS_STATE_CONNECTED), "client %s",
              weir_dtls_state_name(weir_dtls_get_state(p.c.dtls)));
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_CONNECTED));
    assert_keys_agree(&p, WEIR_SRTP_PROFILE_AEAD_AES_128_GCM);
    cr_expect_leq(p.c.max_datagram, WEIR_DTLS_DEFAULT_MTU);
    cr_expect_leq(p.s.max_datagram, WEIR_DTLS_DEFAULT_MTU);
    cr_expect_eq(p.dropped, 0);
    cr_expect_eq(weir_dtls_next_timeout(p.c.dtls), WEIR_DTLS_NO_TIMEOUT);
    cr_expect_eq(weir_dtls_next_timeout(p.s.dtls), WEIR_DTLS_NO_TIMEOUT);
    pair_deinit(&p);
}

Test(dtls, falls_back_to_aes_cm_when_the_peer_offers_only_that)
{
    pair p;
    memset(&p, 0, sizeof p);
    endpoint_make(&p.c);
    endpoint_make(&p.s);
    cr_assert_eq(weir_dtls_ctx_set_srtp_profiles(p.c.ctx, "SRTP_AES128_CM_SHA1_80"), 0);
    cr_assert_eq(weir_dtls_ctx_set_srtp_profiles(p.c.ctx, "SRTP_NO_SUCH_PROFILE"), -WEIR_EINVAL);
    endpoint_open(&p.c, WEIR_DTLS_ROLE_CLIENT, p.s.cert, 0);
    endpoint_open(&p.s, WEIR_DTLS_ROLE_SERVER, p.c.cert, 0);
    run(&p, 0);
    assert_keys_agree(&p, WEIR_SRTP_PROFILE_AES128_CM_SHA1_80);
    pair_deinit(&p);
}

Test(dtls, no_common_srtp_profile_fails_both_sides)
{
    pair p;
    memset(&p, 0, sizeof p);
    endpoint_make(&p.c);
    endpoint_make(&p.s);
    cr_assert_eq(weir_dtls_ctx_set_srtp_profiles(p.c.ctx, "SRTP_AES128_CM_SHA1_80"), 0);
    cr_assert_eq(weir_dtls_ctx_set_srtp_profiles(p.s.ctx, "SRTP_AEAD_AES_128_GCM"), 0);
    endpoint_open(&p.c, WEIR_DTLS_ROLE_CLIENT, p.s.cert, 0);
    endpoint_open(&p.s, WEIR_DTLS_ROLE_SERVER, p.c.cert, 0);
    run(&p, 0);
    const weir_dtls_event *c = find_event(&p.c, WEIR_DTLS_EVENT_FAILED);
    const weir_dtls_event *s = find_event(&p.s, WEIR_DTLS_EVENT_FAILED);
    cr_assert(c && s);
    cr_expect_eq(c->reason, WEIR_DTLS_REASON_NO_SRTP);
    cr_expect_eq(s->reason, WEIR_DTLS_REASON_NO_SRTP);
    cr_expect_null(find_event(&p.c, WEIR_DTLS_EVENT_CONNECTED));
    pair_deinit(&p);
}

/* Each side in turn expects a third certificate's fingerprint. */
Test(dtls, fingerprint_mismatch_fails_the_side_that_checks)
{
    for (int side = 0; side < 2; side++) {
        pair p;
        memset(&p, 0, sizeof p);
        endpoint_make(&p.c);
        endpoint_make(&p.s);
        weir_cert *other = make_cert();
        endpoint_open(&p.c, WEIR_DTLS_ROLE_CLIENT, side == 0 ? other : p.s.cert, 0);
        endpoint_open(&p.s, WEIR_DTLS_ROLE_SERVER, side == 1 ? other : p.c.cert, 0);
        run(&p, 2);
        endpoint *checker = side == 0 ? &p.c : &p.s, *peer = side == 0 ? &p.s : &p.c;
        const weir_dtls_event *ev = find_event(checker, WEIR_DTLS_EVENT_FAILED);
        cr_assert_not_null(ev, "side %d", side);
        cr_expect_eq(ev->reason, WEIR_DTLS_REASON_FINGERPRINT, "side %d: %s", side,
                     weir_dtls_reason_name(ev->reason));
        cr_expect_null(find_event(checker, WEIR_DTLS_EVENT_CONNECTED));
        /* The peer hears a fatal alert (bad certificate) and fails too. */
        cr_expect(is_state(peer, WEIR_DTLS_STATE_FAILED), "side %d", side);
        weir_cert_destroy(other);
        pair_deinit(&p);
    }
}

Test(dtls, fingerprint_arriving_after_the_handshake_releases_held_data)
{
    pair p;
    pair_init(&p, 0, false);
    run(&p, 0);
    cr_assert(is_state(&p.c, WEIR_DTLS_STATE_CONNECTED));
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_AWAIT_FINGERPRINT));
    cr_assert_null(find_event(&p.s, WEIR_DTLS_EVENT_CONNECTED));
    /* The client may already talk; the server holds the data until it knows who spoke. */
    cr_assert_eq(weir_dtls_write(p.c.dtls, fake_now_us, (const uint8_t *)"early", 5), 0);
    flush(&p);
    const uint8_t *data;
    size_t len;
    cr_assert_eq(weir_dtls_poll_data(p.s.dtls, &data, &len), 0);
    char alg[16], hex[128];
    hex_of(p.c.cert, alg, hex);
    cr_assert_eq(weir_dtls_set_remote_fingerprint(p.s.dtls, alg, hex), 0);
    collect_events(&p.s);
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_CONNECTED));
    assert_keys_agree(&p, WEIR_SRTP_PROFILE_AEAD_AES_128_GCM);
    cr_assert_eq(weir_dtls_poll_data(p.s.dtls, &data, &len), 1);
    cr_assert_eq(len, 5);
    cr_assert_arr_eq(data, "early", 5);
    cr_expect_eq(weir_dtls_set_remote_fingerprint(p.s.dtls, alg, hex), -WEIR_EPERM);
    pair_deinit(&p);
}

Test(dtls, wrong_fingerprint_arriving_after_the_handshake_fails)
{
    pair p;
    pair_init(&p, 0, false);
    run(&p, 0);
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_AWAIT_FINGERPRINT));
    char alg[16], hex[128];
    hex_of(p.s.cert, alg, hex); /* its own, not the client's */
    cr_assert_eq(weir_dtls_set_remote_fingerprint(p.s.dtls, alg, hex), 0);
    collect_events(&p.s);
    const weir_dtls_event *ev = find_event(&p.s, WEIR_DTLS_EVENT_FAILED);
    cr_assert_not_null(ev);
    cr_expect_eq(ev->reason, WEIR_DTLS_REASON_FINGERPRINT);
    cr_expect_null(find_event(&p.s, WEIR_DTLS_EVENT_CONNECTED));
    pair_deinit(&p);
}

static bool drop_first_from_client(pair *p, bool from_client)
{
    return !(from_client && p->c.sent == 1);
}

Test(dtls, lost_client_hello_is_resent_when_the_fake_clock_reaches_next_timeout)
{
    pair p;
    pair_init(&p, 0, true);
    p.filter = drop_first_from_client;
    int64_t t0 = fake_now_us;
    weir_dtls_start(p.s.dtls, t0);
    weir_dtls_start(p.c.dtls, t0);
    flush(&p);
    cr_assert_eq(p.dropped, 1);
    cr_assert_eq(weir_dtls_next_timeout(p.c.dtls), t0 + WEIR_DTLS_DEFAULT_INITIAL_RTO_US);
    /* Not yet due: nothing is resent. */
    fake_now_us = t0 + WEIR_DTLS_DEFAULT_INITIAL_RTO_US - 20000;
    weir_dtls_handle_timeout(p.c.dtls, fake_now_us);
    cr_assert_eq(flush_one_way(&p, true), 0);
    fake_now_us = weir_dtls_next_timeout(p.c.dtls);
    weir_dtls_handle_timeout(p.c.dtls, fake_now_us);
    flush(&p);
    cr_assert(is_state(&p.c, WEIR_DTLS_STATE_CONNECTED));
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_CONNECTED));
    assert_keys_agree(&p, WEIR_SRTP_PROFILE_AEAD_AES_128_GCM);
    pair_deinit(&p);
}

/* Drops the server's last flight (ChangeCipherSpec + Finished) once. */
static bool drop_server_final_flight(pair *p, bool from_client)
{
    return from_client || p->dropped > 0 || !is_state(&p->s, WEIR_DTLS_STATE_CONNECTED);
}

Test(dtls, lost_final_flight_is_recovered_by_the_client_timer)
{
    pair p;
    pair_init(&p, 0, true);
    p.filter = drop_server_final_flight;
    run(&p, 3);
    cr_assert_eq(p.dropped, 1);
    cr_assert(is_state(&p.c, WEIR_DTLS_STATE_CONNECTED));
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_CONNECTED));
    assert_keys_agree(&p, WEIR_SRTP_PROFILE_AEAD_AES_128_GCM);
    pair_deinit(&p);
}

static bool drop_all_from_client(pair *p, bool from_client)
{
    (void)p;
    return !from_client;
}

Test(dtls, backs_off_then_fails_with_timeout_when_nobody_answers)
{
    pair p;
    pair_init(&p, 0, true);
    p.filter = drop_all_from_client;
    weir_dtls_start(p.c.dtls, fake_now_us);
    flush(&p);
    int64_t expected_rto = WEIR_DTLS_DEFAULT_INITIAL_RTO_US;
    int timeouts = 0;
    while (!is_state(&p.c, WEIR_DTLS_STATE_FAILED) && timeouts < 30) {
        int64_t next = weir_dtls_next_timeout(p.c.dtls);
        cr_assert_eq(next - fake_now_us, expected_rto, "timeout %d", timeouts);
        expected_rto =
            expected_rto * 2 > WEIR_DTLS_MAX_RTO_US ? WEIR_DTLS_MAX_RTO_US : expected_rto * 2;
        fake_now_us = next;
        weir_dtls_handle_timeout(p.c.dtls, fake_now_us);
        flush(&p);
        timeouts++;
    }
    const weir_dtls_event *ev = find_event(&p.c, WEIR_DTLS_EVENT_FAILED);
    cr_assert_not_null(ev);
    cr_expect_eq(ev->reason, WEIR_DTLS_REASON_TIMEOUT, "%s (%s)", weir_dtls_reason_name(ev->reason),
                 ev->detail);
    cr_expect_eq(p.c.sent, timeouts, "one ClientHello per timeout but the fatal one");
    cr_expect_eq(weir_dtls_next_timeout(p.c.dtls), WEIR_DTLS_NO_TIMEOUT);
    pair_deinit(&p);
}

static void connect_pair(pair *p)
{
    pair_init(p, 0, true);
    run(p, 0);
    cr_assert(is_state(&p->c, WEIR_DTLS_STATE_CONNECTED));
    cr_assert(is_state(&p->s, WEIR_DTLS_STATE_CONNECTED));
}

/* Sends one message each way and checks it arrives whole and alone. */
static void assert_round_trip(pair *p, size_t size, uint8_t fill)
{
    uint8_t msg[WEIR_DTLS_MAX_WRITE];
    memset(msg, fill, size);
    for (int dir = 0; dir < 2; dir++) {
        endpoint *from = dir ? &p->s : &p->c, *to = dir ? &p->c : &p->s;
        cr_assert_eq(weir_dtls_write(from->dtls, fake_now_us, msg, size), 0);
        flush(p);
        const uint8_t *data;
        size_t len;
        cr_assert_eq(weir_dtls_poll_data(to->dtls, &data, &len), 1, "size %zu dir %d", size, dir);
        cr_assert_eq(len, size);
        cr_assert_arr_eq(data, msg, size);
        cr_assert_eq(weir_dtls_poll_data(to->dtls, &data, &len), 0);
    }
}

Test(dtls, application_data_round_trips_with_record_boundaries)
{
    pair p;
    connect_pair(&p);
    size_t sizes[] = {1, 100, 1100, 1150, 5000}; /* 5000: one record over the MTU */
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        assert_round_trip(&p, sizes[i], (uint8_t)(0xA0 + i));
    /* Three writes before one flush come out as three messages, in order. */
    const char *msgs[] = {"one", "three", "fifteen"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(
            weir_dtls_write(p.c.dtls, fake_now_us, (const uint8_t *)msgs[i], strlen(msgs[i])), 0);
    flush(&p);
    for (int i = 0; i < 3; i++) {
        const uint8_t *data;
        size_t len;
        cr_assert_eq(weir_dtls_poll_data(p.s.dtls, &data, &len), 1);
        cr_assert_eq(len, strlen(msgs[i]));
        cr_assert_arr_eq(data, msgs[i], len);
    }
    pair_deinit(&p);
}

Test(dtls, write_is_refused_before_connected_and_when_too_big)
{
    pair p;
    pair_init(&p, 0, true);
    uint8_t big[WEIR_DTLS_MAX_WRITE + 1] = {0};
    cr_expect_eq(weir_dtls_write(p.c.dtls, fake_now_us, big, 10), -WEIR_EPERM);
    run(&p, 0);
    cr_expect_eq(weir_dtls_write(p.c.dtls, fake_now_us, big, sizeof big), -WEIR_ETOOBIG);
    cr_expect_eq(weir_dtls_write(p.c.dtls, fake_now_us, big, 0), -WEIR_EINVAL);
    pair_deinit(&p);
}

/* Feeds d len random bytes that pass the demux (first byte 20..63). */
static void feed_random(weir_dtls *d, uint32_t *seed, size_t len)
{
    uint8_t buf[1500];
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)lcg(seed);
    buf[0] = (uint8_t)(20 + buf[0] % 44);
    cr_assert_eq(weir_dtls_handle_datagram(d, fake_now_us, buf, len), 0);
}

Test(dtls, garbage_never_breaks_an_established_session)
{
    pair p;
    connect_pair(&p);
    uint32_t seed = 12345;
    /* Random datagrams, including ones that look like records of every type and epoch. */
    for (int i = 0; i < 3000; i++) {
        size_t len = 1 + lcg(&seed) % 1400;
        feed_random(i % 2 ? p.c.dtls : p.s.dtls, &seed, len);
        if (i % 3 == 0 && len > 13) {
            uint8_t rec[1500];
            for (size_t k = 0; k < len; k++)
                rec[k] = (uint8_t)lcg(&seed);
            rec[0] = (uint8_t)(20 + i % 4); /* ccs, alert, handshake, application data */
            rec[1] = 0xfe;
            rec[2] = 0xfd;
            rec[3] = 0;
            rec[4] = (uint8_t)(i % 3); /* epochs 0, 1, 2 */
            rec[11] = (uint8_t)((len - 13) >> 8);
            rec[12] = (uint8_t)(len - 13);
            cr_assert_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, rec, len), 0);
        }
    }
    /* A real record: truncated at every length, bit-flipped, then replayed. */
    cr_assert_eq(weir_dtls_write(p.c.dtls, fake_now_us, (const uint8_t *)"payload", 7), 0);
    const uint8_t *data;
    size_t len;
    cr_assert_eq(weir_dtls_poll_transmit(p.c.dtls, &data, &len), 1);
    uint8_t rec[256];
    cr_assert_leq(len, sizeof rec);
    memcpy(rec, data, len);
    for (size_t cut = 1; cut < len; cut++)
        cr_assert_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, rec, cut), 0);
    for (size_t bit = 8; bit < len * 8; bit += 7) {
        uint8_t bad[256];
        memcpy(bad, rec, len);
        bad[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        cr_assert_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, bad, len), 0);
    }
    const uint8_t *got;
    size_t got_len;
    cr_assert_eq(weir_dtls_poll_data(p.s.dtls, &got, &got_len), 0, "nothing forged got through");
    cr_assert_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, rec, len), 0);
    cr_assert_eq(weir_dtls_poll_data(p.s.dtls, &got, &got_len), 1);
    cr_assert_arr_eq(got, "payload", 7);
    cr_assert_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, rec, len), 0);
    cr_assert_eq(weir_dtls_poll_data(p.s.dtls, &got, &got_len), 0, "a replay is dropped");
    /* Not DTLS at all: refused by the demux check. */
    uint8_t rtp[20] = {0x80};
    cr_expect_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, rtp, sizeof rtp), -WEIR_EINVAL);
    cr_expect_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, rtp, 0), -WEIR_EINVAL);
    /* Whatever the noise made either side send back is harmless too. */
    flush(&p);
    cr_assert(is_state(&p.c, WEIR_DTLS_STATE_CONNECTED));
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_CONNECTED));
    cr_expect_eq(p.c.n_events, 1, "only CONNECTED");
    cr_expect_eq(p.s.n_events, 1, "only CONNECTED");
    assert_round_trip(&p, 500, 0x5A);
    pair_deinit(&p);
}

Test(dtls, truncated_handshake_records_are_ignored_and_the_handshake_still_completes)
{
    pair p;
    pair_init(&p, 0, true);
    weir_dtls_start(p.c.dtls, fake_now_us);
    const uint8_t *data;
    size_t len;
    cr_assert_eq(weir_dtls_poll_transmit(p.c.dtls, &data, &len), 1);
    uint8_t hello[1500];
    memcpy(hello, data, len);
    for (size_t cut = 1; cut < len; cut++)
        cr_assert_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, hello, cut), 0);
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_HANDSHAKING));
    cr_assert_eq(weir_dtls_handle_datagram(p.s.dtls, fake_now_us, hello, len), 0);
    run(&p, 2);
    cr_assert(is_state(&p.c, WEIR_DTLS_STATE_CONNECTED));
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_CONNECTED));
    pair_deinit(&p);
}

Test(dtls, close_notify_closes_both_sides)
{
    pair p;
    connect_pair(&p);
    cr_assert_eq(weir_dtls_close(p.c.dtls, fake_now_us), 0);
    cr_assert_eq(weir_dtls_close(p.c.dtls, fake_now_us), 0, "idempotent");
    flush(&p);
    const weir_dtls_event *c = find_event(&p.c, WEIR_DTLS_EVENT_CLOSED);
    const weir_dtls_event *s = find_event(&p.s, WEIR_DTLS_EVENT_CLOSED);
    cr_assert(c && s);
    cr_expect_eq(c->reason, WEIR_DTLS_REASON_LOCAL_CLOSE);
    cr_expect_eq(s->reason, WEIR_DTLS_REASON_PEER_CLOSE);
    cr_expect(is_state(&p.s, WEIR_DTLS_STATE_CLOSED));
    cr_expect_eq(p.s.n_events, 2, "CONNECTED then CLOSED, once");
    cr_expect_eq(weir_dtls_write(p.s.dtls, fake_now_us, (const uint8_t *)"x", 1), -WEIR_EPERM);
    cr_expect_eq(weir_dtls_next_timeout(p.s.dtls), WEIR_DTLS_NO_TIMEOUT);
    pair_deinit(&p);
}

Test(dtls, small_mtu_fragments_the_handshake_into_small_datagrams)
{
    pair p;
    pair_init(&p, 300, true);
    run(&p, 0);
    cr_assert(is_state(&p.c, WEIR_DTLS_STATE_CONNECTED));
    cr_assert(is_state(&p.s, WEIR_DTLS_STATE_CONNECTED));
    cr_expect_leq(p.c.max_datagram, 300);
    cr_expect_leq(p.s.max_datagram, 300);
    assert_keys_agree(&p, WEIR_SRTP_PROFILE_AEAD_AES_128_GCM);
    pair_deinit(&p);
}

Test(dtls, create_rejects_bad_config)
{
    endpoint e;
    endpoint_make(&e);
    weir_dtls_config rows[] = {
        {.role = WEIR_DTLS_ROLE_SERVER, .mtu = 100},
        {.role = WEIR_DTLS_ROLE_SERVER, .initial_rto_us = 1000},
        {.role = WEIR_DTLS_ROLE_SERVER,
         .fingerprint_algorithm = "sha-256",
         .fingerprint_hex = "AB"},
        {.role = WEIR_DTLS_ROLE_SERVER, .fingerprint_algorithm = "md5", .fingerprint_hex = "AB"},
        {.role = WEIR_DTLS_ROLE_SERVER, .fingerprint_hex = "AB:CD"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_null(weir_dtls_create(e.ctx, &rows[i]), "row %zu", i);
    cr_expect_null(weir_dtls_create(e.ctx, NULL));
    endpoint_deinit(&e);
}

Test(dtls, remote_fingerprint_parsing)
{
    endpoint e;
    endpoint_make(&e);
    endpoint_open(&e, WEIR_DTLS_ROLE_SERVER, NULL, 0);
    char ok256[96], ok384[144];
    for (int i = 0; i < 32; i++)
        sprintf(ok256 + 3 * i, i < 31 ? "%02X:" : "%02X", i);
    for (int i = 0; i < 48; i++)
        sprintf(ok384 + 3 * i, i < 47 ? "%02x:" : "%02x", 255 - i);
    char long256[100];
    snprintf(long256, sizeof long256, "%s:00", ok256);
    char trailing[100];
    snprintf(trailing, sizeof trailing, "%s:", ok256);
    char bad_digit[96];
    memcpy(bad_digit, ok256, sizeof ok256);
    bad_digit[4] = 'G';
    struct {
        const char *alg, *hex;
        int rc;
    } rows[] = {
        {"sha-256", ok256, 0},
        {"SHA-256", ok256, 0},
        {"sha-384", ok384, 0},
        {"sha-256", ok384, -WEIR_EINVAL},
        {"sha-384", ok256, -WEIR_EINVAL},
        {"sha-256", long256, -WEIR_EINVAL},
        {"sha-256", trailing, -WEIR_EINVAL},
        {"sha-256", bad_digit, -WEIR_EINVAL},
        {"sha-256", "", -WEIR_EINVAL},
        {"sha-256", NULL, -WEIR_EINVAL},
        {"sha-1", "AB", -WEIR_EUNSUPPORTED},
        {"md5", ok256, -WEIR_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_eq(weir_dtls_set_remote_fingerprint(e.dtls, rows[i].alg, rows[i].hex), rows[i].rc,
                     "row %zu", i);
    endpoint_deinit(&e);
}

/* ---- certificates ------------------------------------------------------- */

Test(cert, fingerprint_is_sdp_formatted_sha256)
{
    weir_cert *c = make_cert();
    const char *fp = weir_cert_fingerprint(c);
    cr_assert_eq(strlen(fp), WEIR_CERT_FINGERPRINT_LEN - 1);
    cr_assert_eq(strncmp(fp, "sha-256 ", 8), 0);
    const uint8_t *raw = weir_cert_fingerprint_sha256(c);
    for (int i = 0; i < 32; i++) {
        char pair_hex[4];
        snprintf(pair_hex, sizeof pair_hex, "%02X", raw[i]);
        cr_assert_eq(strncmp(fp + 8 + 3 * i, pair_hex, 2), 0, "byte %d", i);
        if (i < 31)
            cr_assert_eq(fp[8 + 3 * i + 2], ':');
    }
    weir_cert *d = make_cert();
    cr_expect_str_neq(weir_cert_fingerprint(d), fp, "every start-up gets a fresh key");
    weir_cert_destroy(d);
    weir_cert_destroy(c);
}

static void to_pem(const weir_cert *c, char *cert_pem, char *key_pem, size_t cap)
{
    BIO *b = BIO_new(BIO_s_mem());
    cr_assert(PEM_write_bio_X509(b, weir_cert_x509(c)));
    int n = BIO_read(b, cert_pem, (int)cap - 1);
    cr_assert_gt(n, 0);
    cert_pem[n] = '\0';
    cr_assert(PEM_write_bio_PrivateKey(b, weir_cert_pkey(c), NULL, NULL, 0, NULL, NULL));
    n = BIO_read(b, key_pem, (int)cap - 1);
    cr_assert_gt(n, 0);
    key_pem[n] = '\0';
    BIO_free(b);
}

Test(cert, pem_round_trip_keeps_the_fingerprint)
{
    weir_cert *c = make_cert();
    char cert_pem[4096], key_pem[4096], err[256];
    to_pem(c, cert_pem, key_pem, sizeof cert_pem);
    weir_cert *back =
        weir_cert_parse_pem(cert_pem, strlen(cert_pem), key_pem, strlen(key_pem), err, sizeof err);
    cr_assert_not_null(back, "%s", err);
    cr_expect_str_eq(weir_cert_fingerprint(back), weir_cert_fingerprint(c));
    weir_cert_destroy(back);
    weir_cert_destroy(c);
}

Test(cert, loading_reports_clear_errors)
{
    weir_cert *a = make_cert(), *b = make_cert();
    char a_cert[4096], a_key[4096], b_cert[4096], b_key[4096], err[256];
    to_pem(a, a_cert, a_key, sizeof a_cert);
    to_pem(b, b_cert, b_key, sizeof b_cert);
    const char *cert_path = "/tmp/weir_test_cert.pem", *key_path = "/tmp/weir_test_key.pem";
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(i ? key_path : cert_path, "w");
        cr_assert(f && fputs(i ? a_key : a_cert, f) >= 0 && fclose(f) == 0);
    }

    weir_cert *ok = weir_cert_load_pem_files(cert_path, key_path, err, sizeof err);
    cr_assert_not_null(ok, "%s", err);
    cr_expect_str_eq(weir_cert_fingerprint(ok), weir_cert_fingerprint(a));
    weir_cert_destroy(ok);

    cr_expect_null(weir_cert_load_pem_files("/nonexistent/cert.pem", key_path, err, sizeof err));
    cr_expect(strstr(err, "/nonexistent/cert.pem") && strstr(err, "No such file"), "%s", err);
    cr_expect_null(weir_cert_load_pem_files(cert_path, "/nonexistent/key.pem", err, sizeof err));
    cr_expect(strstr(err, "key file /nonexistent/key.pem"), "%s", err);
    cr_expect_null(
        weir_cert_parse_pem(a_cert, strlen(a_cert), b_key, strlen(b_key), err, sizeof err));
    cr_expect(strstr(err, "does not match"), "%s", err);
    cr_expect_null(weir_cert_parse_pem("junk", 4, a_key, strlen(a_key), err, sizeof err));
    cr_expect(strstr(err, "no PEM certificate"), "%s", err);
    cr_expect_null(weir_cert_parse_pem(a_cert, strlen(a_cert), "junk", 4, err, sizeof err));
    cr_expect(strstr(err, "private key"), "%s", err);
    remove(cert_path);
    remove(key_path);
    weir_cert_destroy(a);
    weir_cert_destroy(b);
}
