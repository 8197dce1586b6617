/*
 * Two weir_ice_agents on loopback in one process: one controlling, one
 * controlled, candidates trickled straight from one's callback into the
 * other (the signalling channel reduced to a function call). Every run is
 * bounded by a guard timer on the GMainLoop so a hang fails instead of
 * blocking CI; the guards are generous limits, not timing assertions.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shell/ice_agent.h"
#include "weir/errors.h"

#define GUARD_MS 10000
#define DATAGRAMS 100

static const char *const loopback[] = {"127.0.0.1"};

typedef struct harness harness;

typedef struct side {
    harness *h;
    struct side *peer;
    weir_ice_agent *agent;
    weir_ice_config cfg;
    bool controlling;
    /* what the callbacks saw: */
    weir_ice_state state;
    weir_ice_state states[64];
    int n_states;
    int n_candidates;
    char candidates[8][256];
    int gathering_done;
    bool seen[DATAGRAMS];
    int received;
    int corrupt;
    /* behaviour: */
    bool trickle;
    bool destroy_on_ready;
    bool destroy_on_receive;
} side;

struct harness {
    GMainContext *ctx;
    GMainLoop *loop;
    side a, b;
    bool (*until)(harness *);
    bool timed_out;
    int errors; /* callbacks record instead of asserting: they may run on another thread */
    char error[256];
    bool released;    /* the context was finalized: nothing of the agents' kept it alive */
    pthread_t thread; /* the one that iterates ctx: every callback must run there */
};

/* ---- payloads: datagram `seq` has a length and bytes derived from seq ---- */

static size_t payload(unsigned seq, uint8_t *out)
{
    size_t len = 20 + (seq * 13u) % 180u;
    out[0] = (uint8_t)seq;
    for (size_t i = 1; i < len; i++)
        out[i] = (uint8_t)(seq * 31u + i * 7u);
    return len;
}

static void fail(harness *h, const char *what)
{
    if (h->errors++ == 0)
        snprintf(h->error, sizeof h->error, "%s", what);
}

/* ---- callbacks ---------------------------------------------------------- */

static void on_local_candidate(void *user, const char *cand)
{
    side *s = user;
    if (s->n_candidates < 8)
        snprintf(s->candidates[s->n_candidates], sizeof s->candidates[0], "%s", cand);
    s->n_candidates++;
    if (strncmp(cand, "candidate:", 10) != 0)
        fail(s->h, "local candidate without the candidate: prefix");
    if (!s->trickle || !s->peer->agent)
        return;
    const char *why = NULL;
    if (weir_ice_agent_add_remote_candidate(s->peer->agent, cand, &why) != 0)
        fail(s->h, why ? why : "peer refused our candidate");
}

static void on_gathering_done(void *user)
{
    side *s = user;
    s->gathering_done++;
    if (s->trickle && s->peer->agent)
        weir_ice_agent_end_of_candidates(s->peer->agent);
}

static void on_state(void *user, weir_ice_state state)
{
    side *s = user;
    if (!pthread_equal(pthread_self(), s->h->thread))
        fail(s->h, "callback on a foreign thread");
    if (state == s->state)
        fail(s->h, "state reported twice");
    s->state = state;
    if (s->n_states < 64)
        s->states[s->n_states++] = state;
    if (s->destroy_on_ready && state == WEIR_ICE_READY) {
        weir_ice_agent_destroy(s->agent); /* inside libnice: deferred */
        s->agent = NULL;
    }
}

static void on_receive(void *user, const uint8_t *buf, size_t len)
{
    side *s = user;
    uint8_t want[256];
    unsigned seq = len ? buf[0] : 0;
    if (!pthread_equal(pthread_self(), s->h->thread))
        fail(s->h, "callback on a foreign thread");
    if (len == 0 || seq >= DATAGRAMS || len != payload(seq, want) || memcmp(buf, want, len) != 0) {
        s->corrupt++;
        return;
    }
    if (!s->seen[seq])
        s->received++;
    s->seen[seq] = true;
    if (s->destroy_on_receive) {
        weir_ice_agent_destroy(s->agent);
        s->agent = NULL;
    }
}

static const weir_ice_callbacks callbacks = {
    .on_local_candidate = on_local_candidate,
    .on_gathering_done = on_gathering_done,
    .on_state = on_state,
    .on_receive = on_receive,
};

/* ---- harness ------------------------------------------------------------ */

static void side_init(harness *h, side *s, side *peer, bool controlling, const char *tag)
{
    s->h = h;
    s->peer = peer;
    s->controlling = controlling;
    s->trickle = true;
    s->cfg = (weir_ice_config){
        .bind_addresses = loopback,
        .n_bind_addresses = 1,
        .consent_timeout_s = 5,
        .log_tag = tag,
    };
}

static gboolean never(gpointer data)
{
    (void)data;
    return G_SOURCE_CONTINUE;
}

static void on_sentinel_destroyed(gpointer data)
{
    *(bool *)data = true;
}

static void harness_init(harness *h, GMainContext *ctx)
{
    memset(h, 0, sizeof *h);
    h->thread = pthread_self();
    h->ctx = ctx ? g_main_context_ref(ctx) : g_main_context_new();
    h->loop = g_main_loop_new(h->ctx, FALSE);
    /*
     * A never-firing source whose destroy notify runs when the context is
     * finalized. GLib keeps every live context (and g_slice memory) reachable
     * from globals, so LeakSanitizer cannot see a leaked NiceAgent or
     * GSource; a context that outlives its last user reference can.
     */
    GSource *sentinel = g_timeout_source_new_seconds(3600);
    g_source_set_callback(sentinel, never, &h->released, on_sentinel_destroyed);
    g_source_attach(sentinel, h->ctx);
    g_source_unref(sentinel);
    side_init(h, &h->a, &h->b, true, "peer=a");
    side_init(h, &h->b, &h->a, false, "peer=b");
}

static void create_side(harness *h, side *s)
{
    s->agent = weir_ice_agent_create(h->ctx, &s->cfg, s->controlling, &callbacks, s);
    if (!s->agent)
        fail(h, "create failed");
}

static int exchange_credentials(harness *h)
{
    int rc = weir_ice_agent_set_remote_credentials(
        h->a.agent, weir_ice_agent_local_ufrag(h->b.agent), weir_ice_agent_local_pwd(h->b.agent));
    if (rc == 0)
        rc = weir_ice_agent_set_remote_credentials(h->b.agent,
                                                   weir_ice_agent_local_ufrag(h->a.agent),
                                                   weir_ice_agent_local_pwd(h->a.agent));
    return rc;
}

/* Creates both agents (unless already there), exchanges credentials, gathers. */
static void harness_start(harness *h)
{
    if (!h->a.agent)
        create_side(h, &h->a);
    if (!h->b.agent)
        create_side(h, &h->b);
    if (h->errors)
        return;
    if (exchange_credentials(h) != 0)
        fail(h, "credentials refused");
    if (weir_ice_agent_gather(h->a.agent) != 0 || weir_ice_agent_gather(h->b.agent) != 0)
        fail(h, "gather failed");
}

static gboolean on_poll(gpointer data)
{
    harness *h = data;
    if (h->until(h) || h->errors)
        g_main_loop_quit(h->loop);
    return G_SOURCE_CONTINUE;
}

static gboolean on_guard(gpointer data)
{
    harness *h = data;
    h->timed_out = true;
    g_main_loop_quit(h->loop);
    return G_SOURCE_CONTINUE;
}

/* Runs the loop until until(h), an error, or guard_ms of real time. */
static bool run_until(harness *h, bool (*until)(harness *), unsigned guard_ms)
{
    h->until = until;
    h->timed_out = false;
    if (until(h))
        return true;
    GSource *poll = g_timeout_source_new(5);
    GSource *guard = g_timeout_source_new(guard_ms);
    g_source_set_callback(poll, on_poll, h, NULL);
    g_source_set_callback(guard, on_guard, h, NULL);
    g_source_attach(poll, h->ctx);
    g_source_attach(guard, h->ctx);
    g_main_loop_run(h->loop);
    g_source_destroy(poll);
    g_source_destroy(guard);
    g_source_unref(poll);
    g_source_unref(guard);
    return until(h) && !h->errors;
}

static void harness_fini(harness *h)
{
    weir_ice_agent_destroy(h->a.agent);
    weir_ice_agent_destroy(h->b.agent);
    /* Let deferred destroys and libnice's last sources run. */
    while (g_main_context_iteration(h->ctx, FALSE))
        ;
    g_main_loop_unref(h->loop);
    g_main_context_unref(h->ctx);
}

#define FINISH(h)                                                                                  \
    do {                                                                                           \
        harness_fini(h);                                                                           \
        cr_expect((h)->released, "the context outlived the test: something was not freed");        \
    } while (0)

static bool both_ready(harness *h)
{
    return h->a.state == WEIR_ICE_READY && h->b.state == WEIR_ICE_READY;
}

static bool both_received_all(harness *h)
{
    return h->a.received == DATAGRAMS && h->b.received == DATAGRAMS;
}

static void send_all(harness *h, side *from, bool batched)
{
    uint8_t store[DATAGRAMS][256];
    const uint8_t *bufs[DATAGRAMS];
    size_t lens[DATAGRAMS];
    for (unsigned i = 0; i < DATAGRAMS; i++) {
        lens[i] = payload(i, store[i]);
        bufs[i] = store[i];
        if (!batched && weir_ice_agent_send(from->agent, bufs[i], lens[i]) != 0)
            fail(h, "send failed");
    }
    for (size_t i = 0; batched && i < DATAGRAMS; i += 25)
        if (weir_ice_agent_send_many(from->agent, bufs + i, lens + i, 25) != 25)
            fail(h, "send_many sent fewer");
}

static void reset_received(side *s)
{
    memset(s->seen, 0, sizeof s->seen);
    s->received = 0;
}

#define ASSERT_OK(h) cr_assert_eq((h)->errors, 0, "callback error: %s", (h)->error)

static void connect_pair(harness *h)
{
    harness_start(h);
    ASSERT_OK(h);
    cr_assert(run_until(h, both_ready, GUARD_MS), "not ready: a=%s b=%s timed_out=%d err=%s",
              weir_ice_state_name(h->a.state), weir_ice_state_name(h->b.state), h->timed_out,
              h->error);
}

static void exchange_datagrams(harness *h)
{
    reset_received(&h->a);
    reset_received(&h->b);
    send_all(h, &h->a, false);
    send_all(h, &h->b, true);
    cr_assert(run_until(h, both_received_all, GUARD_MS), "received a=%d b=%d", h->a.received,
              h->b.received);
    cr_assert_eq(h->a.corrupt + h->b.corrupt, 0);
}

/* ---- tests -------------------------------------------------------------- */

Test(ice_agent, connects_on_loopback_and_carries_datagrams_both_ways)
{
    harness h;
    harness_init(&h, NULL);
    connect_pair(&h);
    cr_expect_eq(h.a.gathering_done, 1, "local end-of-candidates");
    cr_expect_eq(h.b.gathering_done, 1);
    cr_expect_geq(h.a.n_candidates, 1);
    cr_expect(strstr(h.a.candidates[0], " 127.0.0.1 ") && strstr(h.a.candidates[0], "typ host"),
              "%s", h.a.candidates[0]);
    cr_expect_eq(h.a.states[0], WEIR_ICE_CHECKING);

    exchange_datagrams(&h);

    weir_ice_pair pair;
    cr_assert_eq(weir_ice_agent_selected_pair(h.a.agent, &pair), 0);
    cr_expect(g_str_has_prefix(pair.local, "127.0.0.1:"), "%s", pair.local);
    cr_expect(g_str_has_prefix(pair.remote, "127.0.0.1:"), "%s", pair.remote);
    cr_expect_str_eq(pair.local_type, "host");
    weir_ice_stats st;
    weir_ice_agent_stats(h.b.agent, &st);
    cr_expect_eq(st.tx_packets, DATAGRAMS);
    cr_expect_eq(st.rx_packets, DATAGRAMS);
    cr_expect_eq(st.tx_dropped, 0);
    FINISH(&h);
}

Test(ice_agent, send_before_a_pair_is_refused)
{
    harness h;
    harness_init(&h, NULL);
    create_side(&h, &h.a);
    uint8_t buf[256];
    size_t len = payload(1, buf);
    cr_expect_eq(weir_ice_agent_send(h.a.agent, buf, len), -ENOTCONN);
    cr_expect_eq(weir_ice_agent_state(h.a.agent), WEIR_ICE_NEW);
    cr_expect_eq(weir_ice_agent_selected_pair(h.a.agent, &(weir_ice_pair){0}), -WEIR_ENOTFOUND);
    cr_expect_eq(weir_ice_agent_gather(h.a.agent), 0);
    cr_expect_eq(weir_ice_agent_gather(h.a.agent), -WEIR_EINVAL, "second gather");
    FINISH(&h);
}

Test(ice_agent, credentials_are_valid_and_bad_remote_ones_are_refused)
{
    harness h;
    harness_init(&h, NULL);
    create_side(&h, &h.a);
    const char *ufrag = weir_ice_agent_local_ufrag(h.a.agent);
    const char *pwd = weir_ice_agent_local_pwd(h.a.agent);
    cr_assert(ufrag && pwd);
    cr_expect_geq(strlen(ufrag), 4);
    cr_expect_geq(strlen(pwd), 22);
    const char *rows[][2] = {
        {"abc", "0123456789012345678901"},   /* ufrag too short */
        {"abcd", "012345678901234567890"},   /* pwd too short */
        {"ab:cd", "0123456789012345678901"}, /* ':' would split the USERNAME */
        {"abcd", "01234567890123456789 01"}, /* space */
        {"", ""},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
        cr_expect_eq(weir_ice_agent_set_remote_credentials(h.a.agent, rows[i][0], rows[i][1]),
                     -WEIR_EINVAL, "row %zu", i);
    cr_expect_eq(weir_ice_agent_set_remote_credentials(h.a.agent, "Ab+/", "abcdefghijklmnopqrstuv"),
                 0);
    FINISH(&h);
}

/* The control plane writes the answer's credentials before the worker makes the agent. */
Test(ice_agent, local_credentials_can_be_set_before_gathering)
{
    harness h;
    harness_init(&h, NULL);
    create_side(&h, &h.a);
    cr_expect_eq(weir_ice_agent_set_local_credentials(h.a.agent, "abc", "0123456789012345678901"),
                 -WEIR_EINVAL);
    cr_expect_eq(weir_ice_agent_set_local_credentials(h.a.agent, "abcd", "0123456789"),
                 -WEIR_EINVAL);
    cr_assert_eq(
        weir_ice_agent_set_local_credentials(h.a.agent, "wufrag12", "abcdefghijklmnopqrstuvwx"), 0);
    cr_expect_str_eq(weir_ice_agent_local_ufrag(h.a.agent), "wufrag12");
    cr_expect_str_eq(weir_ice_agent_local_pwd(h.a.agent), "abcdefghijklmnopqrstuvwx");
    FINISH(&h);
}

Test(ice_agent, garbage_candidates_are_rejected_and_the_agent_still_connects)
{
    harness h;
    harness_init(&h, NULL);
    create_side(&h, &h.a);
    create_side(&h, &h.b);
    cr_assert_eq(exchange_credentials(&h), 0);
    const char *garbage[] = {
        "",
        "garbage",
        "candidate:",
        "candidate:1 1 udp 2130706431 127.0.0.1 9 typ",
        "candidate:1 1 udp 2130706431 127.0.0.1 notaport typ host",
        "candidate:1 1 udp 2130706431 127.0.0.1 70000 typ host",
        "candidate:1 1 udp 2130706431 127.0.0.1 9 typ bogus",
        "candidate:1 1 sctp 2130706431 127.0.0.1 9 typ host",
        "candidate:1 1 udp 99999999999 127.0.0.1 9 typ host",
        "candidate:1 x udp 2130706431 127.0.0.1 9 typ host",
        "candidate:1 1 udp 2130706431 not.an.address 9 typ host",
        "candidate:1 1 udp 2130706431 127.0.0.1 9 type host",
        "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host generation",
        "candidate:1 1 udp 1 10.0.0.1 9 typ srflx raddr nonsense rport 5",
        "candidate:f:o 1 udp 2130706431 127.0.0.1 9 typ host",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(garbage); i++) {
        const char *why = NULL;
        cr_expect_eq(weir_ice_agent_add_remote_candidate(h.a.agent, garbage[i], &why), -WEIR_EINVAL,
                     "row %zu: %s", i, garbage[i]);
        cr_expect_not_null(why, "row %zu has a reason", i);
    }
    char overlong[700] = "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host";
    for (size_t n = strlen(overlong); n < sizeof overlong - 3; n += 2)
        memcpy(overlong + n, " x", 3);
    cr_expect_eq(weir_ice_agent_add_remote_candidate(h.a.agent, overlong, NULL), -WEIR_EINVAL);
    cr_expect_eq(weir_ice_agent_add_remote_candidate(h.a.agent, NULL, NULL), -WEIR_EINVAL);
    const char *ignored[] = {
        "candidate:1 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
        "candidate:1 2 udp 2130706430 127.0.0.1 9 typ host",
        "candidate:1 1 udp 2130706431 0f8b0ed5-6d4f-4cb5-b0f3-5c9b4e5f2c41.local 9 typ host",
        "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host generation 0 ufrag stale",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ignored); i++)
        cr_expect_eq(weir_ice_agent_add_remote_candidate(h.a.agent, ignored[i], NULL), 1,
                     "row %zu: %s", i, ignored[i]);
    /* A Chrome-shaped line with extensions and "a=" is accepted. */
    char chrome[200];
    snprintf(chrome, sizeof chrome,
             "a=candidate:842163049 1 udp 1677729535 192.0.2.1 54321 typ srflx raddr 0.0.0.0 "
             "rport 0 generation 0 ufrag %s network-cost 999",
             weir_ice_agent_local_ufrag(h.b.agent));
    cr_expect_eq(weir_ice_agent_add_remote_candidate(h.a.agent, chrome, NULL), 0);
    cr_expect_eq(weir_ice_agent_add_remote_candidate(
                     h.a.agent, "candidate:2 1 UDP 2122262783 2001:db8::1 9 typ host", NULL),
                 0, "IPv6 literal, transport in capitals");

    connect_pair(&h);
    exchange_datagrams(&h);
    FINISH(&h);
}

static bool b_failed(harness *h)
{
    return h->b.state == WEIR_ICE_FAILED;
}

Test(ice_agent, end_of_candidates_turns_an_unreachable_peer_into_failed)
{
    harness h;
    harness_init(&h, NULL);
    h.a.trickle = false; /* a's real candidates never reach b */
    h.b.trickle = false;
    harness_start(&h);
    ASSERT_OK(&h);
    /* Trickle ICE keeps checking until the peer says it has no more. */
    cr_assert_eq(weir_ice_agent_add_remote_candidate(
                     h.b.agent, "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host", NULL),
                 0);
    weir_ice_agent_end_of_candidates(h.b.agent);
    /* libnice's STUN retransmission schedule gives up after ~7 s on loopback
     * (an unanswered check to a closed port); the guard leaves room for it. */
    cr_assert(run_until(&h, b_failed, 15000), "b state %s", weir_ice_state_name(h.b.state));
    FINISH(&h);
}

static bool saw(const side *s, weir_ice_state st)
{
    for (int i = 0; i < s->n_states; i++)
        if (s->states[i] == st)
            return true;
    return false;
}

static bool both_ready_again(harness *h)
{
    return saw(&h->a, WEIR_ICE_CHECKING) && saw(&h->b, WEIR_ICE_CHECKING) && both_ready(h);
}

Test(ice_agent, restart_changes_credentials_and_reconnects)
{
    harness h;
    harness_init(&h, NULL);
    connect_pair(&h);
    char old_ufrag[300];
    snprintf(old_ufrag, sizeof old_ufrag, "%s", weir_ice_agent_local_ufrag(h.a.agent));
    h.a.n_states = h.b.n_states = 0;
    h.a.gathering_done = h.b.gathering_done = 0;

    cr_assert_eq(weir_ice_agent_restart(h.a.agent), 0);
    cr_assert_eq(weir_ice_agent_restart(h.b.agent), 0);
    cr_expect_str_neq(weir_ice_agent_local_ufrag(h.a.agent), old_ufrag);
    cr_assert_eq(exchange_credentials(&h), 0);
    /* Candidates come again from an idle source, after the credentials. */
    cr_assert(run_until(&h, both_ready_again, GUARD_MS), "a=%s b=%s",
              weir_ice_state_name(h.a.state), weir_ice_state_name(h.b.state));
    cr_expect_eq(h.a.gathering_done, 1);
    exchange_datagrams(&h);
    FINISH(&h);
}

static bool a_gone_quiet(harness *h)
{
    return h->a.state == WEIR_ICE_DISCONNECTED || h->a.state == WEIR_ICE_FAILED;
}

Test(ice_agent, a_vanished_peer_is_reported_within_the_consent_timeout)
{
    harness h;
    harness_init(&h, NULL);
    h.a.cfg.consent_timeout_s = 3;
    connect_pair(&h);
    exchange_datagrams(&h);
    weir_ice_agent_destroy(h.b.agent);
    h.b.agent = NULL;
    /* 3 s timeout, sampled every second: reported by 4 s (5 if the first tick still saw
     * traffic); 6 s is the guard. */
    cr_assert(run_until(&h, a_gone_quiet, 6000), "a state %s", weir_ice_state_name(h.a.state));
    cr_expect_eq(weir_ice_agent_state(h.a.agent), h.a.state);
    FINISH(&h);
}

static bool a_disconnected(harness *h)
{
    return h->a.state == WEIR_ICE_DISCONNECTED;
}

static bool a_ready(harness *h)
{
    return h->a.state == WEIR_ICE_READY;
}

Test(ice_agent, silence_is_disconnected_and_traffic_brings_it_back)
{
    harness h;
    harness_init(&h, NULL);
    h.a.cfg.consent_timeout_s = 1;
    connect_pair(&h);
    cr_assert(run_until(&h, a_disconnected, 3000), "a state %s", weir_ice_state_name(h.a.state));
    uint8_t buf[256];
    size_t len = payload(7, buf);
    cr_assert_eq(weir_ice_agent_send(h.b.agent, buf, len), 0, "b is alive and may send");
    cr_assert(run_until(&h, a_ready, GUARD_MS));
    cr_expect(h.a.seen[7]);
    FINISH(&h);
}

static bool b_destroyed(harness *h)
{
    return h->b.agent == NULL;
}

static bool a_destroyed(harness *h)
{
    return h->a.agent == NULL;
}

Test(ice_agent, destroy_from_inside_callbacks_is_deferred)
{
    harness h;
    harness_init(&h, NULL);
    h.b.destroy_on_ready = true;
    harness_start(&h);
    ASSERT_OK(&h);
    cr_assert(run_until(&h, b_destroyed, GUARD_MS), "b state %s", weir_ice_state_name(h.b.state));
    ASSERT_OK(&h);
    FINISH(&h); /* runs the deferred free */

    harness_init(&h, NULL);
    h.a.destroy_on_receive = true;
    connect_pair(&h);
    send_all(&h, &h.b, true); /* a destroys itself on the first datagram */
    cr_assert(run_until(&h, a_destroyed, GUARD_MS));
    send_all(&h, &h.b, false); /* more datagrams towards a's closed socket */
    for (int i = 0; i < 50; i++)
        g_main_context_iteration(h.ctx, FALSE);
    cr_expect_eq(h.a.received, 1, "nothing delivered after destroy");
    FINISH(&h);
}

Test(ice_agent, announced_ip_replaces_the_host_address_in_signalling)
{
    harness h;
    harness_init(&h, NULL);
    h.a.cfg.announced_ip = "203.0.113.7";
    h.a.trickle = false;
    create_side(&h, &h.a);
    cr_assert_eq(weir_ice_agent_gather(h.a.agent), 0);
    while (g_main_context_iteration(h.ctx, FALSE))
        ;
    cr_assert_geq(h.a.n_candidates, 1);
    cr_expect(strstr(h.a.candidates[0], " 203.0.113.7 "), "%s", h.a.candidates[0]);
    cr_expect_null(strstr(h.a.candidates[0], "127.0.0.1"), "private address leaked: %s",
                   h.a.candidates[0]);
    cr_expect_null(strstr(h.a.candidates[0], "raddr"), "%s", h.a.candidates[0]);
    FINISH(&h);
}

/*
 * A STUN server reduced to one answer: every Binding Request gets a success
 * response with MAPPED-ADDRESS 198.51.100.9:40000 (a NAT's view), so the
 * server-reflexive candidate differs from the host one and is not pruned.
 */
static gboolean on_stun_request(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    int *requests = data;
    uint8_t req[548], res[32] = {0x01, 0x01, 0x00, 12};
    struct sockaddr_in from;
    socklen_t from_len = sizeof from;
    ssize_t n = recvfrom(fd, req, sizeof req, 0, (struct sockaddr *)&from, &from_len);
    if (n < 20 || req[0] != 0x00 || req[1] != 0x01)
        return G_SOURCE_CONTINUE;
    (*requests)++;
    memcpy(res + 4, req + 4, 16); /* magic cookie + transaction id */
    const uint8_t attr[] = {0x00,       0x01,         0x00, 0x08, 0x00, 0x01,
                            40000 >> 8, 40000 & 0xff, 198,  51,   100,  9};
    memcpy(res + 20, attr, sizeof attr);
    sendto(fd, res, sizeof res, 0, (struct sockaddr *)&from, from_len);
    return G_SOURCE_CONTINUE;
}

static bool a_gathered(harness *h)
{
    return h->a.gathering_done > 0;
}

Test(ice_agent, stun_server_by_host_name_yields_a_server_reflexive_candidate)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    harness h;
    harness_init(&h, NULL);
    int requests = 0;
    GSource *server = g_unix_fd_source_new(fd, G_IO_IN);
    g_source_set_callback(server, G_SOURCE_FUNC(on_stun_request), &requests, NULL);
    g_source_attach(server, h.ctx);
    h.a.cfg.stun_host = "localhost"; /* resolved by libnice through GResolver */
    h.a.cfg.stun_port = ntohs(sa.sin_port);
    h.a.trickle = false;
    create_side(&h, &h.a);
    cr_assert_eq(weir_ice_agent_gather(h.a.agent), 0);
    cr_assert(run_until(&h, a_gathered, GUARD_MS));
    cr_expect_geq(requests, 1);
    cr_assert_eq(h.a.n_candidates, 2, "host + srflx");
    cr_expect(strstr(h.a.candidates[1], " 198.51.100.9 40000 typ srflx raddr 127.0.0.1 rport "),
              "%s", h.a.candidates[1]);
    g_source_destroy(server);
    g_source_unref(server);
    close(fd);
    FINISH(&h);
}

Test(ice_agent, port_range_is_honoured)
{
    harness h;
    harness_init(&h, NULL);
    h.a.cfg.port_min = 47000;
    h.a.cfg.port_max = 47099;
    h.a.trickle = false;
    create_side(&h, &h.a);
    cr_assert_eq(weir_ice_agent_gather(h.a.agent), 0);
    cr_assert_geq(h.a.n_candidates, 1);
    unsigned port = 0;
    cr_assert_eq(sscanf(h.a.candidates[0], "candidate:%*s %*u %*s %*u %*s %u", &port), 1);
    cr_expect(port >= 47000 && port <= 47099, "port %u", port);
    FINISH(&h);
}

Test(ice_agent, invalid_configuration_is_refused)
{
    const char *bad_bind[] = {"localhost"};
    weir_ice_config rows[] = {
        {.bind_addresses = bad_bind, .n_bind_addresses = 1},
        {.port_min = 5000},
        {.port_min = 6000, .port_max = 5000},
        {.announced_ip = "example.com"},
        {.stun_host = ""},
        {.consent_timeout_s = 100000},
    };
    GMainContext *ctx = g_main_context_new();
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++) {
        const char *why = NULL;
        cr_expect_eq(weir_ice_config_check(&rows[i], &why), -WEIR_EINVAL, "row %zu", i);
        cr_expect_not_null(why);
        cr_expect_null(weir_ice_agent_create(ctx, &rows[i], true, &callbacks, NULL), "row %zu", i);
    }
    weir_ice_config ok = {.bind_addresses = loopback, .n_bind_addresses = 1};
    cr_expect_eq(weir_ice_config_check(&ok, NULL), 0);
    g_main_context_unref(ctx);
}

/* ---- a worker-shaped thread: own context, thread default, own loop ------- */

typedef struct thread_result {
    bool ready;
    int received_a, received_b, corrupt, errors;
    bool default_context_untouched;
    bool released;
    char error[256];
} thread_result;

static void *worker_thread(void *arg)
{
    thread_result *r = arg;
    GMainContext *ctx = g_main_context_new();
    g_main_context_push_thread_default(ctx);
    harness h;
    harness_init(&h, ctx);
    harness_start(&h);
    r->ready = !h.errors && run_until(&h, both_ready, GUARD_MS);
    if (r->ready) {
        send_all(&h, &h.a, true);
        send_all(&h, &h.b, false);
        run_until(&h, both_received_all, GUARD_MS);
    }
    r->received_a = h.a.received;
    r->received_b = h.b.received;
    r->corrupt = h.a.corrupt + h.b.corrupt;
    r->errors = h.errors;
    snprintf(r->error, sizeof r->error, "%s", h.error);
    harness_fini(&h);
    g_main_context_pop_thread_default(ctx);
    g_main_context_unref(ctx);
    r->released = h.released;
    /* Nothing of ours may have been attached to the global default context. */
    r->default_context_untouched = !g_main_context_pending(g_main_context_default());
    return NULL;
}

Test(ice_agent, runs_in_a_worker_threads_own_context)
{
    thread_result r = {0};
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, worker_thread, &r), 0);
    pthread_join(t, NULL);
    cr_assert(r.ready, "not ready: %s", r.error);
    cr_expect_eq(r.errors, 0, "%s", r.error);
    cr_expect_eq(r.received_a, DATAGRAMS);
    cr_expect_eq(r.received_b, DATAGRAMS);
    cr_expect_eq(r.corrupt, 0);
    cr_expect(r.default_context_untouched);
    cr_expect(r.released, "the worker context outlived the agents");
}

/* RFC 7675: once consent is lost, nothing leaves on the direct (udp_egress) path either. */
static bool a_failed(harness *h)
{
    return h->a.state == WEIR_ICE_FAILED;
}

Test(ice_agent, consent_loss_stops_direct_sends, .timeout = 90)
{
    harness h;
    harness_init(&h, NULL);
    connect_pair(&h);
    exchange_datagrams(&h);
    weir_ice_stats before;
    weir_ice_agent_stats(h.a.agent, &before);
    cr_assert_gt(before.tx_direct_packets, 0, "direct path used while connected");
    weir_ice_agent_destroy(h.b.agent);
    h.b.agent = NULL;
    cr_assert(run_until(&h, a_failed, 60000), "a state %s", weir_ice_state_name(h.a.state));
    uint8_t buf[256];
    size_t len = payload(7, buf);
    cr_assert_eq(weir_ice_agent_send(h.a.agent, buf, len), -EACCES);
    weir_ice_stats after;
    weir_ice_agent_stats(h.a.agent, &after);
    cr_assert_eq(after.tx_direct_packets, before.tx_direct_packets,
                 "nothing sent after consent loss");
    cr_assert_eq(after.tx_dropped, before.tx_dropped + 1);
    FINISH(&h);
}
