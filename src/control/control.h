/**
 * The control plane: one thread that owns the HTTP/WebSocket server, the
 * rooms, the signalling sessions and the media workers' placement. Nothing
 * here touches a media packet. Other threads talk to it only through the
 * worker event rings and weir_control_request_stop().
 */
#ifndef WEIR_CONTROL_CONTROL_H
#define WEIR_CONTROL_CONTROL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/rand.h"
#include "control/config.h"
#include "control/metrics.h"
#include "control/room.h"
#include "shell/worker.h"

struct lws_context;
typedef struct weir_session weir_session;

typedef struct weir_control {
    /* borrowed: */
    const weir_config *cfg;
    /* owned: */
    struct lws_context *lws;
    weir_rooms *rooms;
    weir_worker **workers;
    uint32_t *worker_peers; /* peers placed on each worker (control's count) */
    int n_workers;
    weir_session *sessions; /* every open WebSocket, doubly linked */
    weir_metrics metrics;
    void *ticker; /* housekeeping timer (control.c) */
    weir_rand rand;
    struct weir_cert *cert;  /* process-wide DTLS certificate, read-only to workers */
    weir_worker_media media; /* shared worker settings (borrow cert and bind list) */
    weir_codec_policy codecs[WEIR_NEGOTIATE_MAX_CODECS]; /* parsed [media] video_codecs */
    size_t n_codecs;
    char **bind_addresses; /* parsed [media] ice_bind_addresses */
    size_t n_bind_addresses;
    struct weir_mesh *mesh; /* packet rings between the workers */
    void *tracks;           /* GHashTable: track handle → weir_track (control/media.h) */
    uint32_t next_track_handle;
    /* RTP taps and their counters (control/taps.c): */
    void *taps;
    /* built-in recording and its plugin (control/recordings.c): */
    void *recordings;
    /* data channels: stamping, history, room logs (control/datachannel.c) */
    struct weir_datachannels *datachannels;
    uint64_t rtp_packets_total;      /* weir_media_rtp_packets_received_total */
    uint64_t rtp_packets_sent_total; /* weir_media_rtp_packets_sent_total */
    uint64_t rtp_retransmits_total;  /* weir_media_rtp_retransmits_total */
    uint64_t *mesh_drops;            /* per worker, last reported */
    uint64_t peer_drops_total[WEIR_PEER_DROP_COUNT];
    /* state: */
    uint64_t next_peer_id;
    uint64_t next_session_serial; /* numbers sessions in logs */
    int listen_port;              /* the bound port (differs from cfg when cfg says 0) */
    int64_t started_us;
    bool shutting_down;
    int64_t shutdown_deadline_us;
    atomic_bool stop_requested;
} weir_control;

/**
 * Creates the control plane: starts the workers and binds the listener.
 * Returns NULL (after logging why) when the port cannot be bound or a
 * worker cannot start.
 */
weir_control *weir_control_create(const weir_config *cfg);
/** Serves until weir_control_request_stop(), then says `bye` to every session. */
int weir_control_run(weir_control *ctl);
/** Thread- and signal-thread-safe. */
void weir_control_request_stop(weir_control *ctl);
/** Joins the workers and frees everything. */
void weir_control_destroy(weir_control *ctl);

/** Control thread: drains worker events (called on lws wake-ups). */
void weir_control_drain_worker_events(weir_control *ctl);
/** The participant whose peer this is, or NULL. */
weir_participant *weir_control_find_peer(weir_control *ctl, uint64_t peer_id);
/** Sends a command to the participant's worker; on failure the payload is freed. 0 or -1. */
int weir_control_send_to_peer(weir_control *ctl, const weir_participant *p,
                              weir_worker_cmd_type type, void *payload);
/** Picks the least loaded worker for a new peer; returns its index. */
int weir_control_place_peer(weir_control *ctl, const char *participant_id, uint64_t *peer_id);
void weir_control_release_peer(weir_control *ctl, int worker_index, uint64_t peer_id);

#endif
