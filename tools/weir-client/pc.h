/**
 * One peer connection of weir-client: an ICE agent (libnice, shell/ice_agent.h),
 * DTLS as the client (we always end up a=setup:active: Weir answers passive
 * to our actpass, and we answer active to its actpass) and SRTP, in the
 * caller's GMainContext. BUNDLE + rtcp-mux: one transport for every m-line.
 *
 * DTLS starts when ICE connects; CONNECTED is reported once the handshake
 * and the fingerprint check are done and SRTP is keyed. Received RTP and
 * RTCP are handed over decrypted; DTLS application data (SCTP packets of
 * the data channels, RFC 8261) record by record.
 */
#ifndef WC_PC_H
#define WC_PC_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/dtls.h"
#include "sdp_build.h"

typedef struct wc_pc wc_pc;

typedef enum {
    WC_PC_NEW,
    WC_PC_CONNECTING, /* ICE checking or DTLS handshaking */
    WC_PC_CONNECTED,  /* SRTP keyed: media may flow */
    WC_PC_FAILED,
} wc_pc_state;

typedef struct wc_pc_callbacks {
    /* A local candidate ("candidate:..."), or NULL when gathering is done. */
    void (*on_candidate)(void *user, const char *candidate);
    /* Each change; detail is a short static or borrowed reason. */
    void (*on_state)(void *user, wc_pc_state state, const char *detail);
    /* Decrypted RTP / RTCP, writable in place for the call. */
    void (*on_rtp)(void *user, uint8_t *buf, size_t len);
    void (*on_rtcp)(void *user, uint8_t *buf, size_t len);
    /* One DTLS application-data record (one SCTP packet), borrowed for the call. The
     * callback may call wc_pc_send_data. */
    void (*on_data)(void *user, const uint8_t *buf, size_t len);
} wc_pc_callbacks;

typedef struct wc_pc_config {
    const char *const *bind_addresses; /* ICE host candidates; none = libnice enumerates */
    size_t n_bind_addresses;
    bool controlling;
    const char *name; /* "publisher" / "subscriber", for messages */
    /* Percentage (0..50) of RTP packets dropped at random, sent and received alike: a
     * lossy network on loopback, where netem may be missing. */
    double simulated_loss_pct;
} wc_pc_config;

typedef struct wc_pc_stats {
    uint64_t rtp_sent, rtp_bytes_sent, rtcp_sent;
    uint64_t rtp_received, rtcp_received;
    uint64_t send_errors;                            /* refused by ICE (no pair yet, socket full) */
    uint64_t srtp_errors;                            /* failed unprotect */
    uint64_t rtp_dropped_sent, rtp_dropped_received; /* simulated loss */
    uint64_t ice_restarts;                           /* restarts the remote offerer started */
} wc_pc_stats;

/**
 * Creates the agent (credentials readable at once; no gathering yet).
 * dctx is borrowed and must outlive the pc; cfg copied; user borrowed.
 * NULL when libnice refuses the configuration.
 */
wc_pc *wc_pc_create(GMainContext *ctx, weir_dtls_ctx *dctx, const wc_pc_config *cfg,
                    const wc_pc_callbacks *cb, void *user);
/** NULL is a no-op; the context must be iterated once more to free libnice's part. */
void wc_pc_destroy(wc_pc *pc);

const char *wc_pc_local_ufrag(const wc_pc *pc);
const char *wc_pc_local_pwd(const wc_pc *pc);

/**
 * Applies the remote description's transport: credentials, fingerprint and
 * the candidates it carries; starts gathering the first time. Returns 0 or
 * -WEIR_EINVAL with a reason in err.
 */
int wc_pc_set_remote(wc_pc *pc, const wc_remote_transport *rt, char *err, size_t err_len);

/** A trickled remote candidate, or NULL for end-of-candidates. 0, 1 (ignored) or -WEIR_EINVAL. */
int wc_pc_add_candidate(wc_pc *pc, const char *candidate);
/**
 * A re-offer whose ICE ufrag differs from the one in use is an ICE restart
 * (the offerer started it): restarts the agent with fresh local credentials
 * (read them after this) and the new remote ones. Returns true when it did.
 */
bool wc_pc_restart_if_needed(wc_pc *pc, const wc_remote_transport *rt);

/**
 * Protects and sends one RTP / RTCP packet in place (buf needs
 * WEIR_SRTP_MAX_RTCP_OVERHEAD bytes of tail room: cap). Returns 0,
 * -WEIR_EPERM before CONNECTED, or the ICE / SRTP error.
 */
int wc_pc_send_rtp(wc_pc *pc, uint8_t *buf, size_t len, size_t cap);
int wc_pc_send_rtcp(wc_pc *pc, uint8_t *buf, size_t len, size_t cap);

/**
 * Sends buf (borrowed) as one DTLS application-data record (one SCTP
 * packet). Returns 0, -WEIR_EPERM before CONNECTED, or the DTLS error.
 */
int wc_pc_send_data(wc_pc *pc, const uint8_t *buf, size_t len);

wc_pc_state wc_pc_get_state(const wc_pc *pc);
const char *wc_pc_state_name(wc_pc_state s);
void wc_pc_get_stats(const wc_pc *pc, wc_pc_stats *out);
/** The SRTP profile name once connected, else "none". */
const char *wc_pc_srtp_profile(const wc_pc *pc);

#endif
