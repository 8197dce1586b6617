/*
 * ICE adapter over libnice. libnice owns the sockets and the STUN timers; we
 * choose its options, translate candidates to and from SDP attribute values,
 * map its component states to ours and add the silence watchdog.
 *
 * Every user callback goes through CALL_USER() so that a destroy from
 * inside one is recognised and deferred (libnice is still on the stack).
 *
 * Direct egress. Sending through libnice (nice_agent_send_messages_
 * nonblocking: agent lock, GOutputVectors, g_socket_send_messages) costs a
 * full kernel UDP send per datagram; with 100 subscribers that path was the
 * largest cost of forwarding. So once a UDP pair is selected and the
 * component is CONNECTED or READY, send_many writes the batch itself on the
 * selected pair's local socket (nice_agent_get_selected_socket, its fd) to
 * the selected remote address, through shell/udp_egress.c (UDP GSO: one
 * kernel send per run of equal-size datagrams). What keeps that safe:
 *  - libnice still owns the socket: it receives on it, answers and sends
 *    STUN, runs consent freshness. We only add sendmsg calls; UDP datagrams
 *    from two writers never interleave, and both run on this thread anyway.
 *  - we hold a reference on the GSocket while its fd is cached and check
 *    g_socket_is_closed() before each batch, so a socket libnice closed is
 *    never written to (nor an fd number reused by something else).
 *  - RFC 7675: libnice refuses to send once consent is lost (timeout, or a
 *    403 to a consent check), and in both cases (agent.c/conncheck.c of
 *    0.1.21) it signals component state FAILED, emitted as it releases its
 *    lock, before control is back with us. FAILED, or any state but
 *    CONNECTED/READY, drops the cached socket; consent_lost keeps it
 *    dropped until libnice selects a new pair (consent is per pair and a
 *    new pair starts with it).
 *  - anything else (no pair yet, a relayed or TCP pair: the call returns
 *    NULL, an ICE restart in progress, a closed socket) goes through
 *    libnice as before, with the same return values and stats.
 */
#define WEIR_LOG_MODULE "shell.ice"
#include "shell/ice_agent.h"

#include <errno.h>
#include <gio/gio.h>
#include <netinet/in.h>
#include <nice/nice.h>
#include <stdio.h>
#include <string.h>

#include "shell/second_ticker.h"
#include "shell/udp_egress.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#define COMPONENT 1   /* rtcp-mux + BUNDLE: one component (RFC 8843, RFC 5761) */
#define SEND_CHUNK 64 /* send_many batches on the stack */

struct weir_ice_agent {
    /* borrowed: */
    weir_ice_callbacks cb;
    void *user;
    /* owned: */
    GMainContext *ctx; /* referenced */
    NiceAgent *nice;
    weir_tick_entry watchdog; /* silence ticks while connected (second_ticker.h) */
    GSource *reemit;          /* re-offers local candidates after a restart */
    GSource *reaper;          /* deferred destroy */
    char *local_ufrag;
    char *local_pwd;
    char *remote_ufrag;
    char *tag;
    /* state: */
    NiceAddress announced;
    bool has_announced;
    guint stream_id;
    uint32_t consent_timeout_s;
    bool gathering_started;
    bool gathering_done;
    bool ever_connected; /* libnice lets a restarted pair keep sending */
    NiceComponentState nice_state;
    weir_ice_state reported;
    bool rx_seen;
    bool silent;
    unsigned silent_ticks;
    int depth; /* user callbacks on the stack */
    bool dead;
    weir_ice_stats stats;
    /* direct egress (file comment): tx_sock NULL = send through libnice */
    GSocket *tx_sock; /* referenced */
    int tx_fd;
    struct sockaddr_storage tx_dst;
    socklen_t tx_dst_len;
    bool consent_lost; /* FAILED since the last selected pair */
    weir_udp_egress egress;
};

const char *weir_ice_state_name(weir_ice_state state)
{
    static const char *const names[] = {"new",   "checking",     "connected",
                                        "ready", "disconnected", "failed"};
    return (unsigned)state < G_N_ELEMENTS(names) ? names[state] : "?";
}

/* ---- configuration ---------------------------------------------------- */

static bool is_ip_literal(const char *s)
{
    NiceAddress addr;
    return s && *s && nice_address_set_from_string(&addr, s);
}

int weir_ice_config_check(const weir_ice_config *cfg, const char **why)
{
    const char *reason = NULL;
    for (size_t i = 0; i < cfg->n_bind_addresses && !reason; i++)
        if (!is_ip_literal(cfg->bind_addresses[i]))
            reason = "bind address is not an IP literal";
    if (!reason && (cfg->port_min == 0) != (cfg->port_max == 0))
        reason = "port range needs both ends (or neither)";
    if (!reason && cfg->port_min > cfg->port_max)
        reason = "port range min > max";
    if (!reason && cfg->announced_ip && *cfg->announced_ip && !is_ip_literal(cfg->announced_ip))
        reason = "announced ip is not an IP literal";
    if (!reason && cfg->stun_host && *cfg->stun_host == '\0')
        reason = "empty stun host";
#if NICE_VERSION_MAJOR == 0 && NICE_VERSION_MINOR == 1 && NICE_VERSION_MICRO < 20
    if (!reason && cfg->stun_host && !is_ip_literal(cfg->stun_host))
        reason = "stun host must be an IP literal before libnice 0.1.20";
#endif
    if (!reason && cfg->consent_timeout_s > 3600)
        reason = "consent timeout over an hour";
    if (reason && why)
        *why = reason;
    return reason ? -WEIR_EINVAL : 0;
}

/*
 * Properties go through g_object_new_with_properties() after checking that
 * each exists, so the same code runs on libnice versions that lack some
 * (consent-freshness arrived in 0.1.19) instead of failing with a critical.
 */
static NiceAgent *new_nice_agent(GMainContext *ctx, const weir_ice_config *cfg, bool controlling)
{
    enum { MAX_PROPS = 16 };
    const char *names[MAX_PROPS];
    GValue values[MAX_PROPS];
    guint n = 0;
    GObjectClass *klass = g_type_class_ref(NICE_TYPE_AGENT);
    memset(values, 0, sizeof values);

#define PROP(name_, setter_, v_)                                                                   \
    do {                                                                                           \
        GParamSpec *spec_ = g_object_class_find_property(klass, name_);                            \
        if (spec_) {                                                                               \
            names[n] = name_;                                                                      \
            g_value_init(&values[n], G_PARAM_SPEC_VALUE_TYPE(spec_));                              \
            setter_(&values[n], v_);                                                               \
            n++;                                                                                   \
        }                                                                                          \
    } while (0)

    PROP("main-context", g_value_set_pointer, ctx);
    PROP("compatibility", g_value_set_uint, NICE_COMPATIBILITY_RFC5245);
    PROP("full-mode", g_value_set_boolean, TRUE);
    PROP("controlling-mode", g_value_set_boolean, controlling);
    /* RFC 8445 §8.1.1 removed aggressive nomination; browsers use regular. */
    PROP("nomination-mode", g_value_set_enum, NICE_NOMINATION_MODE_REGULAR);
    PROP("ice-udp", g_value_set_boolean, TRUE);
    PROP("ice-tcp", g_value_set_boolean, FALSE);
    PROP("ice-trickle", g_value_set_boolean, TRUE);
    /* RFC 7675: binding requests (not indications) on the selected pair, so
     * a vanished peer is noticed and we stop sending to it. */
    PROP("consent-freshness", g_value_set_boolean, TRUE);
    PROP("keepalive-conncheck", g_value_set_boolean, TRUE);
    PROP("upnp", g_value_set_boolean, FALSE);
    if (cfg->stun_host && *cfg->stun_host) {
        PROP("stun-server", g_value_set_string, cfg->stun_host);
        PROP("stun-server-port", g_value_set_uint, cfg->stun_port ? cfg->stun_port : 3478u);
    }
#undef PROP

    NiceAgent *agent = NICE_AGENT(g_object_new_with_properties(NICE_TYPE_AGENT, n, names, values));
    for (guint i = 0; i < n; i++)
        g_value_unset(&values[i]);
    g_type_class_unref(klass);
    return agent;
}

/* ---- callbacks into the owner ----------------------------------------- */

/* Counts the user callbacks on the stack, see weir_ice_agent_destroy(). */
#define CALL_USER(a, call)                                                                         \
    do {                                                                                           \
        (a)->depth++;                                                                              \
        call;                                                                                      \
        (a)->depth--;                                                                              \
    } while (0)

static weir_ice_state map_state(NiceComponentState s)
{
    /* libnice's DISCONNECTED is only the initial state: it never signals it. */
    static const weir_ice_state map[] = {
        [NICE_COMPONENT_STATE_DISCONNECTED] = WEIR_ICE_NEW,
        [NICE_COMPONENT_STATE_GATHERING] = WEIR_ICE_CHECKING,
        [NICE_COMPONENT_STATE_CONNECTING] = WEIR_ICE_CHECKING,
        [NICE_COMPONENT_STATE_CONNECTED] = WEIR_ICE_CONNECTED,
        [NICE_COMPONENT_STATE_READY] = WEIR_ICE_READY,
        [NICE_COMPONENT_STATE_FAILED] = WEIR_ICE_FAILED,
    };
    return (unsigned)s < G_N_ELEMENTS(map) ? map[s] : WEIR_ICE_NEW;
}

static void report(weir_ice_agent *a, weir_ice_state to, const char *reason)
{
    if (a->dead || to == a->reported)
        return;
    WEIR_LOG_INFO("state %s from=%s to=%s reason=%s", a->tag, weir_ice_state_name(a->reported),
                  weir_ice_state_name(to), reason);
    a->reported = to;
    if (a->cb.on_state)
        CALL_USER(a, a->cb.on_state(a->user, to));
}

/* Handler of libnice's "new-candidate-full", also used to re-offer. */
static void on_new_candidate(NiceAgent *nice G_GNUC_UNUSED, NiceCandidate *c, gpointer data)
{
    weir_ice_agent *a = data;
    /* Local peer-reflexive candidates are learnt, never signalled (RFC 8445
     * §7.2.5.3.1); libnice does not emit them today, filter anyway. */
    if (a->dead || !a->cb.on_local_candidate || c->type == NICE_CANDIDATE_TYPE_PEER_REFLEXIVE)
        return;
    NiceCandidate *copy = NULL;
    if (a->has_announced && c->type == NICE_CANDIDATE_TYPE_HOST &&
        nice_address_ip_version(&c->addr) == nice_address_ip_version(&a->announced)) {
        /* 1:1 NAT: signal the public address; base = addr so libnice writes
         * no raddr/rport that would leak the private one. */
        copy = nice_candidate_copy(c);
        guint port = nice_address_get_port(&c->addr);
        copy->addr = a->announced;
        nice_address_set_port(&copy->addr, port);
        copy->base_addr = copy->addr;
        c = copy;
    }
    gchar *sdp = nice_agent_generate_local_candidate_sdp(a->nice, c);
    if (copy)
        nice_candidate_free(copy);
    if (!sdp)
        return;
    const char *line = g_str_has_prefix(sdp, "a=") ? sdp + 2 : sdp;
    WEIR_LOG_DEBUG("local_candidate %s %s", a->tag, line);
    CALL_USER(a, a->cb.on_local_candidate(a->user, line));
    g_free(sdp);
}

/* Handler of libnice's "candidate-gathering-done", also used to re-offer. */
static void on_gathering_done(NiceAgent *nice G_GNUC_UNUSED, guint stream_id G_GNUC_UNUSED,
                              gpointer data)
{
    weir_ice_agent *a = data;
    a->gathering_done = true;
    WEIR_LOG_DEBUG("gathering_done %s", a->tag);
    if (a->dead || !a->cb.on_gathering_done)
        return;
    CALL_USER(a, a->cb.on_gathering_done(a->user));
}

/* ---- silence watchdog ------------------------------------------------- */

/*
 * libnice's consent expiry is fixed (10 s in 0.1.21) and the STUN it
 * consumes is invisible to us, so "the peer went quiet" is judged from the
 * datagrams we do see. A WebRTC peer sends RTCP at least every few seconds
 * (RFC 3550 §6.2) so a media peer is never quiet for long; a data-only one
 * may be (SCTP heartbeats every 30 s), hence DISCONNECTED and not FAILED.
 * Counting ticks instead of reading a clock keeps the hot path to one store.
 *
 * The tick is one second, from the context's shared seconds timer
 * (second_ticker.h): one GSource for every agent of the worker, since GLib
 * walks all sources in each loop iteration. Millisecond timers per agent
 * would each wake the worker on their own schedule: with 200 subscribers
 * that was ~160 extra loop iterations per second, each one walking every
 * GSource of the context (profiled: GLib's prepare/check and poll were
 * ~17 % of a loaded worker); a seconds timer per agent still cost ~7 %.
 * Silence is declared after consent_timeout_s ticks without a datagram,
 * i.e. within one second after the consent timeout, as before.
 */
static void on_watchdog(void *data)
{
    weir_ice_agent *a = data;
    if (a->rx_seen) {
        a->rx_seen = false;
        a->silent_ticks = 0;
    } else if (!a->silent && ++a->silent_ticks >= a->consent_timeout_s) {
        a->silent = true;
        report(a, WEIR_ICE_DISCONNECTED, "silence");
    }
}

static void watchdog_arm(weir_ice_agent *a)
{
    a->rx_seen = false;
    a->silent = false;
    a->silent_ticks = 0;
    if (a->consent_timeout_s > 0)
        weir_tick_add(a->ctx, &a->watchdog, on_watchdog, a);
}

static void drop_source(GSource **src)
{
    if (*src) {
        g_source_destroy(*src);
        g_source_unref(*src);
        *src = NULL;
    }
}

/* ---- direct egress ---------------------------------------------------- */

static void egress_release(weir_ice_agent *a)
{
    if (a->tx_sock) {
        WEIR_LOG_DEBUG("egress %s path=libnice", a->tag);
        g_object_unref(a->tx_sock);
        a->tx_sock = NULL;
    }
    a->tx_fd = -1;
}

/* The selected pair's UDP socket (referenced) when the direct path may be
 * used now, with the remote address in *dst; NULL otherwise. */
static GSocket *egress_lookup(weir_ice_agent *a, struct sockaddr_storage *dst, socklen_t *dst_len)
{
    bool up = a->nice_state == NICE_COMPONENT_STATE_CONNECTED ||
              a->nice_state == NICE_COMPONENT_STATE_READY;
    if (a->dead || a->consent_lost || !up)
        return NULL;
    NiceCandidate *local = NULL, *remote = NULL;
    if (!nice_agent_get_selected_pair(a->nice, a->stream_id, COMPONENT, &local, &remote))
        return NULL;
    /* NULL for relayed and TCP pairs: those need libnice's framing. */
    GSocket *sock = nice_agent_get_selected_socket(a->nice, a->stream_id, COMPONENT);
    if (!sock)
        return NULL;
    int family = nice_address_ip_version(&remote->addr) == 6 ? AF_INET6 : AF_INET;
    if (g_socket_is_closed(sock) || g_socket_get_socket_type(sock) != G_SOCKET_TYPE_DATAGRAM ||
        (int)g_socket_get_family(sock) != family) {
        g_object_unref(sock);
        return NULL;
    }
    memset(dst, 0, sizeof *dst);
    nice_address_copy_to_sockaddr(&remote->addr, (struct sockaddr *)dst);
    *dst_len = family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    return sock;
}

/* Re-reads the selected pair's socket after a pair or state change. */
static void egress_refresh(weir_ice_agent *a)
{
    struct sockaddr_storage dst;
    socklen_t dst_len = 0;
    GSocket *sock = egress_lookup(a, &dst, &dst_len);
    if (!sock) {
        egress_release(a);
        return;
    }
    bool was_direct = a->tx_sock != NULL;
    if (a->tx_sock)
        g_object_unref(a->tx_sock);
    a->tx_sock = sock;
    a->tx_fd = g_socket_get_fd(sock);
    a->tx_dst = dst;
    a->tx_dst_len = dst_len;
    if (!was_direct)
        WEIR_LOG_DEBUG("egress %s path=direct fd=%d gso=%d", a->tag, a->tx_fd, a->egress.gso);
}

/* ---- libnice signals -------------------------------------------------- */

static void on_component_state(NiceAgent *nice G_GNUC_UNUSED, guint stream_id G_GNUC_UNUSED,
                               guint component_id G_GNUC_UNUSED, guint state, gpointer data)
{
    weir_ice_agent *a = data;
    a->nice_state = (NiceComponentState)state;
    if (state == NICE_COMPONENT_STATE_CONNECTED || state == NICE_COMPONENT_STATE_READY) {
        a->ever_connected = true;
        watchdog_arm(a); /* a check just succeeded: the peer is alive */
    } else if (state == NICE_COMPONENT_STATE_FAILED) {
        weir_tick_remove(&a->watchdog);
        a->consent_lost = true; /* or never had a pair: either way, no bypass */
    }
    egress_refresh(a);
    weir_ice_state to = map_state((NiceComponentState)state);
    if (a->silent && to == WEIR_ICE_CHECKING)
        return; /* a restart while silent stays DISCONNECTED until the peer answers */
    report(a, to, "libnice");
}

static const char *cand_type_name(NiceCandidateType t)
{
    static const char *const names[] = {
        [NICE_CANDIDATE_TYPE_HOST] = "host",
        [NICE_CANDIDATE_TYPE_SERVER_REFLEXIVE] = "srflx",
        [NICE_CANDIDATE_TYPE_PEER_REFLEXIVE] = "prflx",
        [NICE_CANDIDATE_TYPE_RELAYED] = "relay",
    };
    return (unsigned)t < G_N_ELEMENTS(names) ? names[t] : "?";
}

static void format_addr(const NiceAddress *addr, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN];
    nice_address_to_string(addr, ip);
    bool v6 = nice_address_ip_version(addr) == 6;
    snprintf(out, cap, "%s%s%s:%u", v6 ? "[" : "", ip, v6 ? "]" : "", nice_address_get_port(addr));
}

static void on_selected_pair(NiceAgent *nice G_GNUC_UNUSED, guint stream_id G_GNUC_UNUSED,
                             guint component_id G_GNUC_UNUSED, NiceCandidate *local,
                             NiceCandidate *remote, gpointer data)
{
    weir_ice_agent *a = data;
    char l[64], r[64];
    format_addr(&local->addr, l, sizeof l);
    format_addr(&remote->addr, r, sizeof r);
    WEIR_LOG_INFO("selected_pair %s local=%s/%s remote=%s/%s", a->tag, l,
                  cand_type_name(local->type), r, cand_type_name(remote->type));
    /* A new pair (first one, renomination, after a restart) starts with
     * consent; the direct path follows it once the state allows. */
    a->consent_lost = false;
    egress_refresh(a);
}

static void on_recv(NiceAgent *nice G_GNUC_UNUSED, guint stream_id G_GNUC_UNUSED,
                    guint component_id G_GNUC_UNUSED, guint len, gchar *buf, gpointer data)
{
    weir_ice_agent *a = data;
    if (a->dead)
        return;
    a->stats.rx_packets++;
    a->stats.rx_bytes += len;
    a->rx_seen = true;
    if (G_UNLIKELY(a->silent)) {
        a->silent = false;
        a->silent_ticks = 0;
        report(a, map_state(a->nice_state), "traffic");
    }
    if (a->cb.on_receive)
        CALL_USER(a, a->cb.on_receive(a->user, (const uint8_t *)buf, len));
}

/* ---- lifetime --------------------------------------------------------- */

static void refresh_credentials(weir_ice_agent *a)
{
    gchar *ufrag = NULL, *pwd = NULL;
    weir_free(a->local_ufrag);
    weir_free(a->local_pwd);
    a->local_ufrag = a->local_pwd = NULL;
    if (nice_agent_get_local_credentials(a->nice, a->stream_id, &ufrag, &pwd)) {
        a->local_ufrag = weir_strdup(ufrag);
        a->local_pwd = weir_strdup(pwd);
    }
    g_free(ufrag);
    g_free(pwd);
}

static bool add_bind_addresses(weir_ice_agent *a, const weir_ice_config *cfg)
{
    for (size_t i = 0; i < cfg->n_bind_addresses; i++) {
        NiceAddress addr;
        nice_address_init(&addr);
        if (!nice_address_set_from_string(&addr, cfg->bind_addresses[i]) ||
            !nice_agent_add_local_address(a->nice, &addr))
            return false;
    }
    return true;
}

weir_ice_agent *weir_ice_agent_create(GMainContext *ctx, const weir_ice_config *cfg,
                                      bool controlling, const weir_ice_callbacks *cb, void *user)
{
    const char *why = NULL;
    if (!ctx || weir_ice_config_check(cfg, &why) < 0) {
        WEIR_LOG_WARN("create_failed %s reason=\"%s\"", cfg->log_tag ? cfg->log_tag : "",
                      why ? why : "no context");
        return NULL;
    }
    weir_ice_agent *a = WEIR_NEW(weir_ice_agent);
    if (cb)
        a->cb = *cb;
    a->user = user;
    a->tag = weir_strdup(cfg->log_tag ? cfg->log_tag : "");
    a->ctx = g_main_context_ref(ctx);
    a->consent_timeout_s = cfg->consent_timeout_s;
    a->reported = WEIR_ICE_NEW;
    a->nice_state = NICE_COMPONENT_STATE_DISCONNECTED;
    a->tx_fd = -1;
    weir_udp_egress_init(&a->egress, true);
    if (cfg->announced_ip && *cfg->announced_ip) {
        nice_address_set_from_string(&a->announced, cfg->announced_ip);
        a->has_announced = true;
    }
    a->nice = new_nice_agent(ctx, cfg, controlling);
    if (!a->nice)
        goto fail;
    if (!add_bind_addresses(a, cfg))
        goto fail;
    a->stream_id = nice_agent_add_stream(a->nice, 1);
    if (a->stream_id == 0)
        goto fail;
    if (cfg->port_min)
        nice_agent_set_port_range(a->nice, a->stream_id, COMPONENT, cfg->port_min, cfg->port_max);
    g_signal_connect(a->nice, "new-candidate-full", G_CALLBACK(on_new_candidate), a);
    g_signal_connect(a->nice, "candidate-gathering-done", G_CALLBACK(on_gathering_done), a);
    g_signal_connect(a->nice, "component-state-changed", G_CALLBACK(on_component_state), a);
    g_signal_connect(a->nice, "new-selected-pair-full", G_CALLBACK(on_selected_pair), a);
    if (!nice_agent_attach_recv(a->nice, a->stream_id, COMPONENT, ctx, on_recv, a))
        goto fail;
    refresh_credentials(a);
    WEIR_LOG_INFO("created %s role=%s binds=%zu ports=%u-%u announced=%s stun=%s consent_s=%u",
                  a->tag, controlling ? "controlling" : "controlled", cfg->n_bind_addresses,
                  cfg->port_min, cfg->port_max, a->has_announced ? cfg->announced_ip : "-",
                  cfg->stun_host ? cfg->stun_host : "-", cfg->consent_timeout_s);
    return a;
fail:
    WEIR_LOG_WARN("create_failed %s reason=\"libnice refused the setup\"", a->tag);
    weir_ice_agent_destroy(a);
    return NULL;
}

static void log_egress(const weir_ice_agent *a)
{
    const weir_udp_egress_stats *st = &a->egress.stats;
    if (st->syscalls == 0)
        return;
    WEIR_LOG_INFO("egress_stats %s datagrams=%llu bytes=%llu syscalls=%llu gso_runs=%llu "
                  "gso_segments=%llu dropped=%llu eagain=%llu errors=%llu gso=%s",
                  a->tag, (unsigned long long)st->datagrams, (unsigned long long)st->bytes,
                  (unsigned long long)st->syscalls, (unsigned long long)st->gso_runs,
                  (unsigned long long)st->gso_segments, (unsigned long long)st->dropped,
                  (unsigned long long)st->eagain, (unsigned long long)st->errors,
                  a->egress.gso ? "on" : "off");
}

static void free_agent(weir_ice_agent *a)
{
    weir_tick_remove(&a->watchdog);
    drop_source(&a->reemit);
    drop_source(&a->reaper);
    log_egress(a);
    egress_release(a); /* before the agent that owns the socket goes */
    if (a->nice) {
        g_signal_handlers_disconnect_by_data(a->nice, a);
        if (a->stream_id)
            nice_agent_attach_recv(a->nice, a->stream_id, COMPONENT, a->ctx, NULL, NULL);
        /* Disposal closes the sockets and destroys libnice's sources on ctx;
         * the detach above matters only if something else still holds a
         * reference to the NiceAgent: it must never call into freed memory. */
        g_object_unref(a->nice);
    }
    g_main_context_unref(a->ctx);
    weir_free(a->local_ufrag);
    weir_free(a->local_pwd);
    weir_free(a->remote_ufrag);
    weir_free(a->tag);
    weir_free(a);
}

/* One-shot, default priority: an idle priority could starve behind busy sockets. */
static GSource *attach_idle(weir_ice_agent *a, GSourceFunc fn)
{
    GSource *src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, fn, a, NULL);
    g_source_attach(src, a->ctx);
    return src;
}

static gboolean on_reap(gpointer data)
{
    weir_ice_agent *a = data;
    g_source_unref(a->reaper); /* the context keeps it alive until we return */
    a->reaper = NULL;
    free_agent(a);
    return G_SOURCE_REMOVE;
}

void weir_ice_agent_destroy(weir_ice_agent *a)
{
    if (!a || a->dead)
        return;
    a->dead = true;
    WEIR_LOG_DEBUG("destroy %s deferred=%d", a->tag, a->depth > 0);
    if (a->depth == 0) {
        free_agent(a);
        return;
    }
    /* Inside one of our callbacks, i.e. inside libnice: finish once it has
     * unwound. Disconnecting during an emission is safe in GObject. */
    g_signal_handlers_disconnect_by_data(a->nice, a);
    weir_tick_remove(&a->watchdog);
    drop_source(&a->reemit);
    a->reaper = attach_idle(a, on_reap);
}

/* ---- signalling ------------------------------------------------------- */

const char *weir_ice_agent_local_ufrag(const weir_ice_agent *a)
{
    return a->local_ufrag;
}

const char *weir_ice_agent_local_pwd(const weir_ice_agent *a)
{
    return a->local_pwd;
}

/* RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/". A ':' would break the
 * "remote:local" STUN USERNAME. */
static bool ice_chars(const char *s, size_t min, size_t max)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if (n >= max || !(g_ascii_isalnum(s[n]) || s[n] == '+' || s[n] == '/'))
            return false;
    }
    return n >= min;
}

int weir_ice_agent_set_remote_credentials(weir_ice_agent *a, const char *ufrag, const char *pwd)
{
    if (!ufrag || !pwd || !ice_chars(ufrag, 4, 256) || !ice_chars(pwd, 22, 256))
        return -WEIR_EINVAL;
    if (!nice_agent_set_remote_credentials(a->nice, a->stream_id, ufrag, pwd))
        return -WEIR_EINVAL;
    weir_free(a->remote_ufrag);
    a->remote_ufrag = weir_strdup(ufrag);
    return 0;
}

int weir_ice_agent_set_local_credentials(weir_ice_agent *a, const char *ufrag, const char *pwd)
{
    if (!ufrag || !pwd || !ice_chars(ufrag, 4, 256) || !ice_chars(pwd, 22, 256))
        return -WEIR_EINVAL;
    if (!nice_agent_set_local_credentials(a->nice, a->stream_id, ufrag, pwd))
        return -WEIR_EINVAL;
    refresh_credentials(a);
    return 0;
}

int weir_ice_agent_gather(weir_ice_agent *a)
{
    if (a->gathering_started)
        return -WEIR_EINVAL;
    a->gathering_started = true;
    /* libnice >= 0.1.20 resolves a STUN host name here, asynchronously,
     * pushing its own context as thread default for the GResolver answer. */
    if (!nice_agent_gather_candidates(a->nice, a->stream_id)) {
        WEIR_LOG_WARN("gather_failed %s reason=\"no socket could be bound\"", a->tag);
        return -WEIR_EIO;
    }
    return 0;
}

/* ---- remote candidates ------------------------------------------------ */

/* Plain decimal only: no sign, no space, no hex (RFC 8839 §5.1 grammar). */
static bool parse_uint(const char *s, uint64_t max, guint64 *out)
{
    return g_ascii_string_to_unsigned(s, 10, 0, max, out, NULL);
}

static bool is_mdns_name(const char *s)
{
    size_t n = strlen(s);
    return n > 6 && g_ascii_strcasecmp(s + n - 6, ".local") == 0;
}

typedef struct candidate_fields {
    char *tok[32];
    size_t n;
} candidate_fields;

/*
 * libnice's own parser splits on single spaces, accepts any number as a
 * port or component and, for "TCP" without a tcptype, compares NULL (a
 * critical), so the line is checked and re-spaced here first.
 * Returns 0 (valid), 1 (valid but ignored) or -WEIR_EINVAL.
 */
static int check_fields(const weir_ice_agent *a, const candidate_fields *f, const char **why)
{
    guint64 v;
    if (f->n < 8)
        return *why = "too few fields", -WEIR_EINVAL;
    if (!ice_chars(f->tok[0], 1, 32))
        return *why = "bad foundation", -WEIR_EINVAL;
    if (!parse_uint(f->tok[1], 256, &v) || v == 0)
        return *why = "bad component id", -WEIR_EINVAL;
    bool other_component = v != COMPONENT;
    bool tcp = g_ascii_strcasecmp(f->tok[2], "tcp") == 0;
    if (!tcp && g_ascii_strcasecmp(f->tok[2], "udp") != 0)
        return *why = "unknown transport", -WEIR_EINVAL;
    if (!parse_uint(f->tok[3], UINT32_MAX, &v))
        return *why = "bad priority", -WEIR_EINVAL;
    bool mdns = !is_ip_literal(f->tok[4]) && is_mdns_name(f->tok[4]);
    if (!mdns && !is_ip_literal(f->tok[4]))
        return *why = "connection address is not an IP literal", -WEIR_EINVAL;
    if (!parse_uint(f->tok[5], 65535, &v) || (v == 0 && !tcp))
        return *why = "bad port", -WEIR_EINVAL;
    if (strcmp(f->tok[6], "typ") != 0)
        return *why = "missing typ", -WEIR_EINVAL;
    static const char *const types[] = {"host", "srflx", "prflx", "relay", NULL};
    if (!g_strv_contains(types, f->tok[7]))
        return *why = "unknown candidate type", -WEIR_EINVAL;
    if ((f->n - 8) % 2)
        return *why = "extension without a value", -WEIR_EINVAL;
    bool stale = false;
    for (size_t i = 8; i < f->n; i += 2) {
        const char *key = f->tok[i], *val = f->tok[i + 1];
        if (strcmp(key, "raddr") == 0 && !is_ip_literal(val) && !is_mdns_name(val))
            return *why = "bad raddr", -WEIR_EINVAL;
        if (strcmp(key, "rport") == 0 && !parse_uint(val, 65535, &v))
            return *why = "bad rport", -WEIR_EINVAL;
        /* RFC 8838 §11 / RFC 8840 §5: a candidate of another ICE generation. */
        if (strcmp(key, "ufrag") == 0 && a->remote_ufrag && strcmp(val, a->remote_ufrag) != 0)
            stale = true;
    }
    if (tcp || other_component || mdns || stale) {
        *why = tcp               ? "tcp (ice-tcp off)"
               : other_component ? "component is not 1 (rtcp-mux)"
               : mdns            ? "mdns host name"
                                 : "older ice generation";
        return 1;
    }
    return 0;
}

/* Splits value ("[a=]candidate:...") into f->tok inside buf. */
static int split_candidate(const char *value, char *buf, size_t cap, candidate_fields *f,
                           const char **why)
{
    if (value && g_str_has_prefix(value, "a="))
        value += 2;
    if (!value || !g_str_has_prefix(value, "candidate:"))
        return *why = "not a candidate attribute", -WEIR_EINVAL;
    value += strlen("candidate:");
    if (strlen(value) >= cap)
        return *why = "too long", -WEIR_EINVAL;
    memcpy(buf, value, strlen(value) + 1);
    f->n = 0;
    char *save = NULL;
    for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        if (f->n == G_N_ELEMENTS(f->tok))
            return *why = "too many fields", -WEIR_EINVAL;
        f->tok[f->n++] = t;
    }
    return 0;
}

static int add_parsed(weir_ice_agent *a, const candidate_fields *f, const char **why)
{
    GString *line = g_string_new("a=candidate:");
    for (size_t i = 0; i < f->n; i++)
        g_string_append_printf(line, i ? " %s" : "%s", f->tok[i]);
    NiceCandidate *c = nice_agent_parse_remote_candidate_sdp(a->nice, a->stream_id, line->str);
    g_string_free(line, TRUE);
    if (!c)
        return *why = "rejected by libnice", -WEIR_EINVAL;
    GSList one = {.data = c, .next = NULL};
    int added = nice_agent_set_remote_candidates(a->nice, a->stream_id, COMPONENT, &one);
    nice_candidate_free(c);
    if (added < 0)
        return *why = "rejected by libnice", -WEIR_EINVAL;
    return 0;
}

int weir_ice_agent_add_remote_candidate(weir_ice_agent *a, const char *candidate, const char **why)
{
    const char *reason = "added";
    char buf[512];
    candidate_fields f;
    int rc = split_candidate(candidate, buf, sizeof buf, &f, &reason);
    if (rc == 0 && (rc = check_fields(a, &f, &reason)) == 0)
        rc = add_parsed(a, &f, &reason);
    WEIR_LOG_DEBUG("remote_candidate %s rc=%d reason=\"%s\" value=\"%s\"", a->tag, rc, reason,
                   candidate ? candidate : "");
    if (rc < 0 && why)
        *why = reason;
    return rc;
}

void weir_ice_agent_end_of_candidates(weir_ice_agent *a)
{
    if (a->dead)
        return;
    WEIR_LOG_DEBUG("remote_end_of_candidates %s", a->tag);
    nice_agent_peer_candidate_gathering_done(a->nice, a->stream_id);
}

/* ---- media ------------------------------------------------------------ */

static int send_error(GError *err)
{
    int rc = -WEIR_EIO;
    if (err && err->domain == G_IO_ERROR) {
        if (err->code == G_IO_ERROR_BROKEN_PIPE)
            rc = -ENOTCONN;
        else if (err->code == G_IO_ERROR_PERMISSION_DENIED)
            rc = -EACCES; /* consent revoked, RFC 7675 §5.2 */
        else if (err->code == G_IO_ERROR_WOULD_BLOCK)
            rc = -WEIR_EAGAIN;
    }
    g_clear_error(&err);
    return rc;
}

/* The batch on the cached socket; same return values and stats as libnice's. */
static int send_direct(weir_ice_agent *a, const uint8_t *const *bufs, const size_t *lens, size_t n)
{
    int rc = weir_udp_egress_send(&a->egress, a->tx_fd, (const struct sockaddr *)&a->tx_dst,
                                  a->tx_dst_len, bufs, lens, n);
    size_t sent = rc > 0 ? (size_t)rc : 0;
    for (size_t i = 0; i < sent; i++)
        a->stats.tx_bytes += lens[i];
    a->stats.tx_packets += sent;
    a->stats.tx_dropped += n - sent;
    return rc;
}

static int send_nice(weir_ice_agent *a, const uint8_t *const *bufs, const size_t *lens, size_t n)
{
    GOutputVector vec[SEND_CHUNK];
    NiceOutputMessage msg[SEND_CHUNK];
    size_t done = 0;
    while (done < n) {
        size_t k = MIN(n - done, (size_t)SEND_CHUNK);
        size_t bytes = 0;
        for (size_t i = 0; i < k; i++) {
            vec[i] = (GOutputVector){.buffer = bufs[done + i], .size = lens[done + i]};
            msg[i] = (NiceOutputMessage){.buffers = &vec[i], .n_buffers = 1};
        }
        GError *err = NULL;
        gint sent = nice_agent_send_messages_nonblocking(a->nice, a->stream_id, COMPONENT, msg,
                                                         (guint)k, NULL, &err);
        if (sent <= 0) {
            a->stats.tx_dropped += n - done;
            int rc = sent < 0 ? send_error(err) : -WEIR_EAGAIN;
            return done ? (int)done : rc;
        }
        for (gint i = 0; i < sent; i++)
            bytes += vec[i].size;
        a->stats.tx_packets += (uint64_t)sent;
        a->stats.tx_bytes += bytes;
        done += (size_t)sent;
        if ((size_t)sent < k) {
            a->stats.tx_dropped += n - done;
            break;
        }
    }
    return (int)done;
}

int weir_ice_agent_send_many(weir_ice_agent *a, const uint8_t *const *bufs, const size_t *lens,
                             size_t n)
{
    /* Before the first pair libnice would allocate a GError per refusal. */
    if (a->dead || !a->ever_connected)
        return -ENOTCONN;
    if (a->tx_sock) {
        if (G_LIKELY(!g_socket_is_closed(a->tx_sock)))
            return send_direct(a, bufs, lens, n);
        egress_release(a); /* libnice closed it: let libnice decide */
    }
    return send_nice(a, bufs, lens, n);
}

int weir_ice_agent_send(weir_ice_agent *a, const uint8_t *buf, size_t len)
{
    int rc = weir_ice_agent_send_many(a, &buf, &len, 1);
    return rc == 1 ? 0 : rc;
}

/* ---- restart ---------------------------------------------------------- */

static gboolean on_reemit(gpointer data)
{
    weir_ice_agent *a = data;
    g_source_unref(a->reemit);
    a->reemit = NULL;
    GSList *cands = nice_agent_get_local_candidates(a->nice, a->stream_id, COMPONENT);
    for (GSList *l = cands; l; l = l->next)
        on_new_candidate(a->nice, l->data, a);
    g_slist_free_full(cands, (GDestroyNotify)nice_candidate_free);
    if (a->gathering_done && !a->dead)
        on_gathering_done(a->nice, a->stream_id, a);
    return G_SOURCE_REMOVE;
}

int weir_ice_agent_restart(weir_ice_agent *a)
{
    if (a->dead)
        return -WEIR_EINVAL;
    if (!nice_agent_restart_stream(a->nice, a->stream_id))
        return -WEIR_EIO;
    refresh_credentials(a);
    /* Candidates signalled with the old ufrag are now stale; accept any
     * until the peer's new credentials arrive. */
    weir_free(a->remote_ufrag);
    a->remote_ufrag = NULL;
    WEIR_LOG_INFO("restart %s", a->tag);
    /* libnice keeps its local candidates across a restart and does not
     * announce them again, but the peer's restarted agent forgot them. */
    if (a->gathering_started && !a->reemit)
        a->reemit = attach_idle(a, on_reemit);
    return 0;
}

/* ---- introspection ---------------------------------------------------- */

weir_ice_state weir_ice_agent_state(const weir_ice_agent *a)
{
    return a->reported;
}

int weir_ice_agent_selected_pair(const weir_ice_agent *a, weir_ice_pair *out)
{
    NiceCandidate *local = NULL, *remote = NULL;
    if (a->dead || !nice_agent_get_selected_pair(a->nice, a->stream_id, COMPONENT, &local, &remote))
        return -WEIR_ENOTFOUND;
    format_addr(&local->addr, out->local, sizeof out->local);
    format_addr(&remote->addr, out->remote, sizeof out->remote);
    out->local_type = cand_type_name(local->type);
    out->remote_type = cand_type_name(remote->type);
    return 0;
}

void weir_ice_agent_stats(const weir_ice_agent *a, weir_ice_stats *out)
{
    *out = a->stats;
    out->tx_direct_packets = a->egress.stats.datagrams;
    out->tx_syscalls_direct = a->egress.stats.syscalls;
    out->tx_gso_runs = a->egress.stats.gso_runs;
    out->tx_gso_segments = a->egress.stats.gso_segments;
}
