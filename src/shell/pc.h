/**
 * One peer connection in a media worker: a libnice agent (shell/ice_agent.h)
 * joined to a sans-IO weir_peer (DTLS, SRTP, RTP/RTCP demux). The publisher
 * PC and the subscriber PC of a participant are both a weir_pc; what they
 * do with packets and RTCP feedback differs and comes in through hooks.
 *
 * Drive loop (ARCHITECTURE.md "Sans-IO cores"): every datagram from libnice
 * goes to weir_peer_handle_datagram, then weir_pc_drain() sends what the
 * peer wants sent, hands events and packets to the hooks and re-arms the one
 * timer at weir_peer_next_timeout.
 *
 * Thread safety: worker thread only.
 */
#ifndef WEIR_SHELL_PC_H
#define WEIR_SHELL_PC_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

#include "peer/peer.h"
#include "shell/ice_agent.h"

typedef struct weir_pc weir_pc;

typedef enum {
    WEIR_PC_NEW,
    WEIR_PC_CONNECTED,    /* DTLS done, SRTP keyed */
    WEIR_PC_DISCONNECTED, /* ICE silent for the consent timeout; may come back */
    WEIR_PC_FAILED,       /* ICE failed, DTLS failed or closed */
} weir_pc_state;

typedef struct weir_pc_hooks {
    void (*on_state)(weir_pc *pc, weir_pc_state state, const char *detail);
    void (*on_local_candidate)(weir_pc *pc, const char *candidate); /* "" = gathering done */
    void (*on_peer_event)(weir_pc *pc,
                          const weir_peer_event *ev);            /* STREAM_LEARNED, RTCP_FEEDBACK */
    void (*on_packet)(weir_pc *pc, const weir_peer_packet *pkt); /* received RTP */
    void (*on_drained)(weir_pc *pc);                             /* after each drain */
    /* DTLS application data (one SCTP packet per record); NULL: the peer drops it. */
    void (*on_data)(weir_pc *pc, const uint8_t *buf, size_t len);
} weir_pc_hooks;

struct weir_pc {
    /* borrowed: */
    GMainContext *context;
    const weir_pc_hooks *hooks;
    void *user;
    /* owned: */
    weir_ice_agent *ice;
    weir_peer *peer;
    GSource *timer; /* armed at weir_peer_next_timeout */
    /* state: */
    int64_t timer_at_us;
    bool dtls_started;
    bool client_role;
    weir_pc_state state;
    char log_tag[96];
};

typedef struct weir_pc_params {
    const weir_ice_config *ice; /* log_tag is replaced by the pc's */
    bool ice_controlling;
    const char *local_ufrag;
    const char *local_pwd;
    const weir_peer_config *peer; /* NULL: create the peer later with weir_pc_set_peer */
} weir_pc_params;

/**
 * Sets up pc (zeroed by the caller or after weir_pc_deinit) and starts
 * gathering. Returns 0, or -WEIR_E* with pc left deinitialised and the
 * reason logged.
 */
int weir_pc_init(weir_pc *pc, GMainContext *ctx, const weir_pc_params *params,
                 const weir_pc_hooks *hooks, void *user, const char *log_tag);
/** Creates the peer once the remote side is known (subscriber PC: from its answer). 0 or -WEIR_E*. */
int weir_pc_set_peer(weir_pc *pc, const weir_peer_config *cfg);
/** Tears everything down (no goodbye). Safe on a zeroed pc and twice. */
void weir_pc_deinit(weir_pc *pc);
/** True once SRTP keys exist. */
bool weir_pc_connected(const weir_pc *pc);

int weir_pc_set_remote_credentials(weir_pc *pc, const char *ufrag, const char *pwd);
/** A remote candidate ("" = end of candidates); refusals are logged at debug level. */
void weir_pc_add_remote_candidate(weir_pc *pc, const char *candidate);

/**
 * ICE restart (RFC 8445 §9): new credentials on both sides; media keeps
 * flowing on the old pair until the new checks succeed, DTLS/SRTP stay.
 * Local candidates are announced again through on_local_candidate.
 */
int weir_pc_ice_restart(weir_pc *pc, const char *local_ufrag, const char *local_pwd,
                        const char *remote_ufrag, const char *remote_pwd);

/** Drains the peer (transmits, events, packets) and re-arms its timer. */
void weir_pc_drain(weir_pc *pc);
/** Sends datagrams (already protected) in as few system calls as libnice allows. */
void weir_pc_send_many(weir_pc *pc, const uint8_t *const *bufs, const size_t *lens, size_t n);
/** Sends one DTLS application-data record (an SCTP packet) at once. 0 or -WEIR_E*. */
int weir_pc_send_data(weir_pc *pc, const uint8_t *buf, size_t len);
/** Protects and sends one compound RTCP packet built by the caller. 0 or -WEIR_E*. */
int weir_pc_send_rtcp(weir_pc *pc, const uint8_t *buf, size_t len);

const char *weir_pc_state_name(weir_pc_state s);

#endif
