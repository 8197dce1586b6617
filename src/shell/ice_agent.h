/**
 * ICE for one peer connection, over libnice (>= 0.1.19): full ICE (RFC 8445,
 * libnice's RFC 5245 mode), trickle (RFC 8838), consent freshness (RFC 7675),
 * UDP only. BUNDLE + rtcp-mux means one stream with one component.
 *
 * Threading: an agent lives in the GMainContext given at creation (a media
 * worker's, never the default one) and every function here must be called
 * from the thread that iterates that context. Callbacks run on that thread,
 * either from the context's dispatch or synchronously from inside any call
 * here that enters libnice (gather, add_remote_candidate, end_of_candidates,
 * restart, send...: libnice emits its queued signals when it releases its
 * lock), so a callback must not assume it runs at the top of the loop.
 *
 * Destroying from inside any callback is allowed: the agent goes silent at
 * once and its memory is released from a default-priority idle source on the
 * context (so the owner must iterate the context at least once more).
 */
#ifndef WEIR_SHELL_ICE_AGENT_H
#define WEIR_SHELL_ICE_AGENT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct weir_ice_agent weir_ice_agent;

typedef enum {
    WEIR_ICE_NEW,          /* created, nothing learnt about the peer yet */
    WEIR_ICE_CHECKING,     /* gathering or running connectivity checks */
    WEIR_ICE_CONNECTED,    /* a working pair; media may flow */
    WEIR_ICE_READY,        /* a pair is nominated (ICE concluded) */
    WEIR_ICE_DISCONNECTED, /* silent for consent_timeout_s; reverts on traffic */
    WEIR_ICE_FAILED,       /* checks failed or consent expired; restart to recover */
} weir_ice_state;

typedef struct weir_ice_config {
    /*
     * Addresses to gather host candidates on (IPv4/IPv6 literals). When
     * empty libnice enumerates the interfaces itself and skips loopback, so
     * loopback-only setups and tests must list "127.0.0.1".
     */
    const char *const *bind_addresses;
    size_t n_bind_addresses;
    uint16_t port_min; /* UDP port range; both 0 = any */
    uint16_t port_max;
    /*
     * 1:1 NAT: host candidates of the same family are signalled with this
     * address (same port) while the socket stays bound to the real one.
     * NULL or "" = off.
     */
    const char *announced_ip;
    /* Optional STUN server for server-reflexive candidates (NULL = none). A
     * host name is resolved asynchronously by libnice (>= 0.1.20). */
    const char *stun_host;
    uint16_t stun_port; /* 0 = 3478 */
    /*
     * Seconds without any inbound datagram (DTLS, RTP, RTCP: the traffic the
     * agent can see; libnice consumes STUN) before the state becomes
     * WEIR_ICE_DISCONNECTED; the report follows within a quarter of it. 0 =
     * off. libnice's own RFC 7675 consent expiry (fixed at 10 s in
     * 0.1.19-0.1.21) still reports WEIR_ICE_FAILED.
     */
    uint32_t consent_timeout_s;
    /* Prefix for log lines, e.g. "peer=42" (copied; NULL = none). */
    const char *log_tag;
} weir_ice_config;

/** All members optional (NULL = ignored). user is the value given at creation. */
typedef struct weir_ice_callbacks {
    /* One local candidate for trickling, "candidate:..." without "a=". */
    void (*on_local_candidate)(void *user, const char *candidate);
    /* Local gathering finished: signal end-of-candidates (RFC 8838 §8.2). */
    void (*on_gathering_done)(void *user);
    /* Reported once per change. */
    void (*on_state)(void *user, weir_ice_state state);
    /* Every non-STUN datagram received on the component, borrowed for the call. */
    void (*on_receive)(void *user, const uint8_t *buf, size_t len);
} weir_ice_callbacks;

typedef struct weir_ice_pair {
    char local[64]; /* "ip:port" or "[ip6]:port" of the real socket */
    char remote[64];
    const char *local_type; /* "host" | "srflx" | "prflx" | "relay" (static) */
    const char *remote_type;
} weir_ice_pair;

typedef struct weir_ice_stats {
    uint64_t rx_packets;
    uint64_t rx_bytes;
    uint64_t tx_packets;
    uint64_t tx_bytes;
    uint64_t tx_dropped; /* refused by libnice or the socket */
    /* Of tx_packets, those written straight on the selected socket (see
     * ice_agent.c, direct egress), the sendmmsg calls that took, and the
     * UDP GSO runs among them with the datagrams they carried. */
    uint64_t tx_direct_packets;
    uint64_t tx_syscalls_direct;
    uint64_t tx_gso_runs;
    uint64_t tx_gso_segments;
} weir_ice_stats;

/**
 * Validates cfg without creating anything (for the config loader). Returns 0,
 * or -WEIR_EINVAL with *why (if non-NULL) set to a static explanation.
 */
int weir_ice_config_check(const weir_ice_config *cfg, const char **why);

/**
 * Creates an agent with one stream/component in ctx (referenced until
 * destroy) and, when bind addresses are given, registers them. cfg and cb are
 * copied; user is borrowed. Returns NULL (logged) when cfg is invalid.
 * Gathering starts only with weir_ice_agent_gather().
 */
weir_ice_agent *weir_ice_agent_create(GMainContext *ctx, const weir_ice_config *cfg,
                                      bool controlling, const weir_ice_callbacks *cb, void *user);
/** See the file comment about destroying from a callback. NULL is a no-op. */
void weir_ice_agent_destroy(weir_ice_agent *a);

/** Local ufrag / pwd, valid until the next restart or destroy. */
const char *weir_ice_agent_local_ufrag(const weir_ice_agent *a);
const char *weir_ice_agent_local_pwd(const weir_ice_agent *a);

/**
 * Sets the peer's credentials (RFC 8839 §5.4: ufrag 4-256, pwd 22-256
 * ice-chars). Returns 0 or -WEIR_EINVAL (nothing changed).
 */
int weir_ice_agent_set_remote_credentials(weir_ice_agent *a, const char *ufrag, const char *pwd);

/**
 * Replaces the generated local credentials (same rules as the remote ones),
 * e.g. with the ones an answer already carries. Before gathering. Returns 0
 * or -WEIR_EINVAL (nothing changed).
 */
int weir_ice_agent_set_local_credentials(weir_ice_agent *a, const char *ufrag, const char *pwd);

/**
 * Starts gathering. Local candidates arrive through on_local_candidate (host
 * candidates before this returns), then on_gathering_done. Returns 0,
 * -WEIR_EINVAL if already called, -WEIR_EIO when no socket could be bound
 * (port range exhausted, address not local).
 */
int weir_ice_agent_gather(weir_ice_agent *a);

/**
 * Adds one trickled remote candidate: the value of an a=candidate attribute
 * ("candidate:..."; a leading "a=" is accepted). Returns:
 *   0  added;
 *   1  ignored on purpose: TCP (ice-tcp is off), component other than 1
 *      (rtcp-mux), an mDNS ".local" host name (the peer is found as
 *      peer-reflexive instead, RFC 8445 §7.3.1.3), or a ufrag extension that
 *      names an older ICE generation (RFC 8838 §11);
 *  -WEIR_EINVAL for malformed input, with *why (if non-NULL) set to a static
 *      explanation. The agent is unchanged by 1 and errors.
 */
int weir_ice_agent_add_remote_candidate(weir_ice_agent *a, const char *candidate, const char **why);

/** The peer signalled end-of-candidates (RFC 8838 §8.2). */
void weir_ice_agent_end_of_candidates(weir_ice_agent *a);

/**
 * Sends one datagram on the selected pair (buf borrowed). Returns 0,
 * -ENOTCONN before a pair is selected, -EACCES when the peer revoked consent,
 * -WEIR_EAGAIN when the socket is full, -WEIR_EIO otherwise. Never logs.
 */
int weir_ice_agent_send(weir_ice_agent *a, const uint8_t *buf, size_t len);

/**
 * Sends n datagrams in as few system calls as possible: on a connected UDP
 * pair straight on the selected socket with UDP GSO (shell/udp_egress.h),
 * otherwise through libnice (sendmmsg). Returns how many were sent from the front (the rest counted as
 * dropped), or the error of the first one as weir_ice_agent_send().
 */
int weir_ice_agent_send_many(weir_ice_agent *a, const uint8_t *const *bufs, const size_t *lens,
                             size_t n);

/**
 * ICE restart (RFC 8445 §9, both on initiating and on detecting one): new
 * local credentials (read them after this returns), remote candidates
 * dropped, media keeps flowing on the previous pair meanwhile. The local
 * candidates are offered again through on_local_candidate and
 * on_gathering_done from an idle source, after the caller has had a chance
 * to signal the new credentials. The caller sets the new remote credentials.
 * Returns 0 or -WEIR_EIO.
 */
int weir_ice_agent_restart(weir_ice_agent *a);

weir_ice_state weir_ice_agent_state(const weir_ice_agent *a);
/** 0 and *out filled, or -WEIR_ENOTFOUND when no pair is selected. */
int weir_ice_agent_selected_pair(const weir_ice_agent *a, weir_ice_pair *out);
void weir_ice_agent_stats(const weir_ice_agent *a, weir_ice_stats *out);
const char *weir_ice_state_name(weir_ice_state state);

#endif
