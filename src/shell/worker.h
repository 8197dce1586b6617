/**
 * A media worker: one thread with its own GMainContext (libnice needs one;
 * never the default context), fed by a command ring from the control
 * thread and reporting through an event ring. An eventfd wakes the worker
 * when commands arrive; the control thread is woken through the callback
 * given at creation (lws_cancel_service in the server).
 *
 * Peers (one per participant for now; the media path adds ICE/DTLS/SRTP)
 * are pinned to one worker for their whole life, so the media path needs
 * no locks.
 */
#ifndef WEIR_SHELL_WORKER_H
#define WEIR_SHELL_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer/cert.h"
#include "peer/negotiate.h"
#include "peer/peer.h"

typedef struct weir_worker weir_worker;

/* Media settings shared by every worker; borrowed, must outlive the workers. */
typedef struct weir_worker_media {
    const weir_cert *cert; /* read-only; each worker builds its own weir_dtls_ctx from it */
    const char *const *bind_addresses;
    size_t n_bind_addresses;
    uint16_t port_min;
    uint16_t port_max;
    const char *announced_ip;   /* NULL or "" = off */
    uint32_t consent_timeout_s; /* ICE silence before DISCONNECTED; 0 = off */
    const char *rtp_dump_dir;   /* NULL or "" = off (shell/rtp_dump.h) */
    uint32_t rtp_dump_max_packets;
    struct weir_mesh *mesh; /* packet rings between workers (shell/mesh.h) */
    /* Data channels (SCTP on the publisher PC, shell/datachannel.c): */
    uint32_t dc_max_message_size; /* accepted and announced; 0 = WEIR_SCTP_DEFAULT_MAX_MESSAGE */
    uint32_t dc_max_buffered;     /* per channel queue before the channel is closed; 0 = 1 MiB */
    uint32_t dc_flood_messages_per_s; /* per sender, all channels; 0 = unlimited */
    uint32_t dc_flood_bytes_per_s;    /* per sender, all channels; 0 = unlimited */
} weir_worker_media;

#define WEIR_WORKER_MAX_OFFER_CANDIDATES 32
#define WEIR_WORKER_CANDIDATE_MAX 256

/* Payload of WEIR_WORKER_CMD_PUBLISH (heap, freed by the worker with weir_free). */
typedef struct weir_worker_publish {
    weir_publish_desc desc;
    char local_ufrag[WEIR_NEGOTIATE_ICE_MAX + 1];
    char local_pwd[WEIR_NEGOTIATE_ICE_MAX + 1];
    char candidates[WEIR_WORKER_MAX_OFFER_CANDIDATES][WEIR_WORKER_CANDIDATE_MAX];
    size_t n_candidates;
    bool end_of_candidates;
    /* Router handle of each desc.media entry's track (0: no track, e.g. rejected or data). */
    uint32_t track_handles[WEIR_NEGOTIATE_MAX_MEDIA];
    bool renegotiate; /* a new offer on the running PC: update media, keep DTLS/SRTP */
    bool ice_restart; /* with new ICE credentials on both sides (RFC 8445 §9) */
} weir_worker_publish;

/* Payload of WEIR_WORKER_CMD_TRICKLE (heap, freed by the worker with weir_free). */
typedef struct weir_worker_trickle {
    bool subscriber;                           /* false: the publisher PC */
    char candidate[WEIR_WORKER_CANDIDATE_MAX]; /* "" = end of candidates */
} weir_worker_trickle;

#define WEIR_WORKER_MAX_SUB_MEDIA 64

/*
 * Payload of WEIR_WORKER_CMD_DATA_SEND and WEIR_WORKER_CMD_DATA_CLOSE (heap,
 * one allocation: weir_malloc(sizeof + len), freed by the worker): one
 * message to one data channel of the peer's publisher PC, or, for CLOSE,
 * the reason (UTF-8, for the log) of closing that channel.
 */
typedef struct weir_worker_data {
    uint16_t stream;
    bool binary;
    uint32_t len;
    uint8_t data[];
} weir_worker_data;

/* One channel a WEIR_WORKER_CMD_DATA_FANOUT goes to: a peer on this worker and its stream. */
typedef struct weir_worker_fanout_target {
    uint64_t peer_id;
    uint16_t stream;
} weir_worker_fanout_target;

/*
 * Payload of WEIR_WORKER_CMD_DATA_FANOUT (heap, one allocation:
 * weir_malloc(sizeof + n_targets * sizeof target + len), freed by the
 * worker with weir_free like the others): one message, its bytes once, for n_targets channels of peers
 * on the same worker. The worker sends it to each channel as a DATA_SEND
 * would (a channel whose send queue is full is closed alone). It exists so
 * that a message to a room costs one command per worker, not one per
 * channel. The bytes follow the targets: weir_worker_fanout_data().
 */
typedef struct weir_worker_fanout {
    bool binary;
    uint32_t len;
    uint32_t n_targets;
    weir_worker_fanout_target targets[];
} weir_worker_fanout;

static inline uint8_t *weir_worker_fanout_data(const weir_worker_fanout *f)
{
    return (uint8_t *)(f->targets + f->n_targets);
}

/* Payload of WEIR_WORKER_CMD_SUBSCRIBER_START: create the subscriber PC's ICE agent and gather. */
typedef struct weir_worker_sub_start {
    char local_ufrag[WEIR_NEGOTIATE_ICE_MAX + 1];
    char local_pwd[WEIR_NEGOTIATE_ICE_MAX + 1];
} weir_worker_sub_start;

/* One m-line of the subscriber PC as negotiated: what its consumer forwards. */
typedef struct weir_worker_sub_track {
    uint32_t handle; /* the track; 0 = m-line inactive (track gone or unsubscribed) */
    char mid[WEIR_NEGOTIATE_MID_MAX + 1];
    bool audio;
    weir_codec codec;
    uint32_t clock_rate_hz;
    uint8_t n_layers;       /* simulcast layers the publisher sends (1 without) */
    uint32_t ssrc;          /* ours */
    uint32_t rtx_ssrc;      /* 0: no RTX (NACKs answered by plain resend) */
    int pt, rtx_pt, red_pt; /* ours (-1: none) */
    int in_pt, in_red_pt;   /* the publisher's (-1: none) */
    bool nack;              /* the answer kept nack for us */
} weir_worker_sub_track;

/* Payload of WEIR_WORKER_CMD_SUBSCRIBER_ANSWER: the client's answer to the latest offer. */
typedef struct weir_worker_sub_answer {
    char remote_ufrag[WEIR_NEGOTIATE_ICE_MAX + 1];
    char remote_pwd[WEIR_NEGOTIATE_ICE_MAX + 1];
    char fingerprint[WEIR_NEGOTIATE_FP_MAX + 16];                  /* "sha-256 AB:CD:.." */
    weir_dtls_role dtls_role;                                      /* ours */
    uint8_t ext_mid, ext_abs_send_time, ext_twcc, ext_audio_level; /* 0: not kept */
    bool ice_restart; /* the answered offer restarted ICE with these local credentials: */
    char local_ufrag[WEIR_NEGOTIATE_ICE_MAX + 1];
    char local_pwd[WEIR_NEGOTIATE_ICE_MAX + 1];
    char candidates[WEIR_WORKER_MAX_OFFER_CANDIDATES][WEIR_WORKER_CANDIDATE_MAX];
    size_t n_candidates;
    bool end_of_candidates;
    weir_worker_sub_track tracks[WEIR_WORKER_MAX_SUB_MEDIA]; /* in m-line order */
    size_t n_tracks;
} weir_worker_sub_answer;

/*
 * Payload of WEIR_WORKER_CMD_TAP_START (to the producer's worker; heap,
 * freed by the worker): one track forwarded as plain RTP (or SRTP) to a
 * UDP destination, by a consumer of its own (shell/tap.c). The control
 * thread checked the destination against [taps] allow.
 */
typedef struct weir_worker_tap {
    uint64_t tap_id; /* control-assigned, unique for the process' life */
    uint32_t handle; /* the track */
    bool audio;
    weir_codec codec;
    uint32_t clock_rate_hz;
    uint8_t n_layers; /* simulcast layers the publisher sends (1 without) */
    int layer;        /* spatial layer to forward; -1 = the top one */
    int in_pt;        /* the publisher's payload type (RED and RTX are not forwarded) */
    uint8_t pt;       /* ours, as in the tap's SDP */
    uint32_t ssrc;
    int family;                    /* AF_INET or AF_INET6 */
    uint8_t addr[16];              /* destination, network order */
    uint16_t rtp_port;             /* host order */
    uint16_t rtcp_port;            /* sender reports go there */
    uint32_t keyframe_interval_ms; /* 0 = only at start (and on PLI/FIR from the receiver) */
    bool srtp;                     /* AES_CM_128_HMAC_SHA1_80 with srtp_key (key || salt) */
    uint8_t srtp_key[30];
} weir_worker_tap;

/* Payload of WEIR_WORKER_CMD_TAP_STOP (to the worker that has the tap). */
typedef struct weir_worker_tap_stop {
    uint64_t tap_id;
    uint32_t handle;
} weir_worker_tap_stop;

/*
 * Payload of WEIR_WORKER_CMD_RECORD_START (to the producer's worker; heap,
 * freed by the worker): one track fed to the recorder plugin by a consumer
 * of its own (shell/record_sink.c). The worker hands packets to
 * ops->track_packet, which never blocks, until RECORD_STOP.
 */
typedef struct weir_worker_record {
    uint64_t sink_id; /* control-assigned, unique for the process' life */
    uint32_t handle;  /* the track */
    bool audio;
    weir_codec codec;
    uint32_t clock_rate_hz;
    uint8_t n_layers; /* simulcast layers the publisher sends (1 without) */
    int in_pt;        /* the publisher's payload type */
    uint32_t ssrc;    /* the rewritten stream's */
    const struct weir_recorder_ops *ops;
    struct weir_recording_track *track;
} weir_worker_record;

/* Payload of WEIR_WORKER_CMD_RECORD_STOP: the worker lets go of the track and
 * answers WEIR_WORKER_EVENT_RECORD_STOPPED (also when it had no such sink). */
typedef struct weir_worker_record_stop {
    uint64_t sink_id;
    uint32_t handle;
} weir_worker_record_stop;

/* Payload of WEIR_WORKER_CMD_ROUTE (to the producer's worker). */
typedef struct weir_worker_route {
    uint32_t handle;
    int worker; /* the worker that has (add) or no longer has (!add) subscribers of it */
    bool add;
} weir_worker_route;

/* Payload of WEIR_WORKER_CMD_TRACK_CONTROL (to the worker named in the comment of each use). */
typedef struct weir_worker_track_control {
    uint32_t handle;
    int layer;        /* KEYFRAME (producer's worker): spatial layer wanted */
    bool muted;       /* MUTE (producer's worker) */
    int max_spatial;  /* PREFERENCES (subscriber's worker); -1 = unchanged */
    int max_temporal; /* -1 = unchanged */
    int paused;       /* -1 = unchanged, 0, 1 */
} weir_worker_track_control;

typedef enum {
    WEIR_WORKER_CMD_PEER_ADD,    /* create the peer for a participant */
    WEIR_WORKER_CMD_PEER_REMOVE, /* tear it down */
    WEIR_WORKER_CMD_STOP,        /* leave the loop; sent once, last */
    WEIR_WORKER_CMD_PUBLISH,     /* payload: weir_worker_publish; starts the publisher ICE+DTLS */
    WEIR_WORKER_CMD_TRICKLE,     /* payload: weir_worker_trickle; a remote candidate */
    WEIR_WORKER_CMD_SUBSCRIBER_START,  /* payload: weir_worker_sub_start */
    WEIR_WORKER_CMD_SUBSCRIBER_ANSWER, /* payload: weir_worker_sub_answer */
    WEIR_WORKER_CMD_ROUTE,             /* payload: weir_worker_route; peer_id unused */
    WEIR_WORKER_CMD_KEYFRAME,          /* payload: weir_worker_track_control; peer_id unused */
    WEIR_WORKER_CMD_MUTE,              /* payload: weir_worker_track_control; peer_id unused */
    WEIR_WORKER_CMD_PREFERENCES,  /* payload: weir_worker_track_control; the subscriber's peer */
    WEIR_WORKER_CMD_DATA_SEND,    /* payload: weir_worker_data; a message to one channel */
    WEIR_WORKER_CMD_DATA_CLOSE,   /* payload: weir_worker_data (data = reason); close a channel */
    WEIR_WORKER_CMD_DATA_FANOUT,  /* payload: weir_worker_fanout; one message, many channels;
                                  * peer_id unused */
    WEIR_WORKER_CMD_TAP_START,    /* payload: weir_worker_tap; peer_id unused */
    WEIR_WORKER_CMD_TAP_STOP,     /* payload: weir_worker_tap_stop; peer_id unused */
    WEIR_WORKER_CMD_RECORD_START, /* payload: weir_worker_record; peer_id unused */
    WEIR_WORKER_CMD_RECORD_STOP,  /* payload: weir_worker_record_stop; peer_id unused */
} weir_worker_cmd_type;

typedef struct weir_worker_cmd {
    weir_worker_cmd_type type;
    uint64_t peer_id;        /* control-assigned, unique for the process' life */
    char participant_id[48]; /* for logs */
    void *payload; /* heap (weir_malloc), owned by the worker once sent; NULL for most types */
} weir_worker_cmd;

typedef enum {
    WEIR_WORKER_EVENT_PEER_ADDED,
    WEIR_WORKER_EVENT_PEER_REMOVED,
    WEIR_WORKER_EVENT_STOPPED,
    WEIR_WORKER_EVENT_PUBLISHER_CANDIDATE,  /* text: local candidate; "" = gathering done */
    WEIR_WORKER_EVENT_PUBLISHER_STATE,      /* state; text: SRTP profile or failure reason */
    WEIR_WORKER_EVENT_PUBLISHER_STATS,      /* the counters below */
    WEIR_WORKER_EVENT_SUBSCRIBER_CANDIDATE, /* text: local candidate; "" = gathering done */
    WEIR_WORKER_EVENT_SUBSCRIBER_STATE,     /* state; text: SRTP profile or failure reason */
    WEIR_WORKER_EVENT_SUBSCRIBER_STATS,     /* packets/bytes sent */
    WEIR_WORKER_EVENT_LAYER_CHANGED,   /* handle, spatial, temporal: what the peer now receives */
    WEIR_WORKER_EVENT_KEYFRAME_NEEDED, /* handle, spatial: for a producer on another worker */
    WEIR_WORKER_EVENT_AUDIO_LEVEL,     /* handle, level (-dBov, 127 silent), voice */
    /* Data channels of the publisher PC (stream = SCTP stream id of the channel): */
    WEIR_WORKER_EVENT_DATA_OPEN,      /* stream; text: the label (opened by the client) */
    WEIR_WORKER_EVENT_DATA_MESSAGE,   /* stream, binary, data/data_len (heap: the control frees) */
    WEIR_WORKER_EVENT_DATA_CLOSED,    /* stream; text: why (client closed, buffer full, ...) */
    WEIR_WORKER_EVENT_DATA_DRAINED,   /* stream, sent_total: its send queue became empty */
    WEIR_WORKER_EVENT_TAP_STATS,      /* tap_id, handle, packets, bytes, rtcp_received */
    WEIR_WORKER_EVENT_RECORD_STOPPED, /* sink_id, handle: the worker no longer uses the track */
} weir_worker_event_type;

typedef enum {
    WEIR_PUBLISHER_NEW,
    WEIR_PUBLISHER_CONNECTED,
    WEIR_PUBLISHER_FAILED,
    WEIR_PUBLISHER_DISCONNECTED, /* ICE silent; may come back, or time out */
} weir_publisher_state;

/* The state of either PC in events (the subscriber PC reports the same states). */

typedef struct weir_worker_event {
    weir_worker_event_type type;
    int worker_index;
    uint64_t peer_id;
    uint32_t peers; /* peers the worker holds after this event */
    weir_publisher_state state;
    char text[WEIR_WORKER_CANDIDATE_MAX];
    /* PUBLISHER_STATS: */
    uint64_t packets;
    uint64_t bytes;
    uint32_t streams;
    uint64_t drops[WEIR_PEER_DROP_COUNT];
    uint64_t retransmits; /* SUBSCRIBER_STATS: packets resent for NACKs */
    uint64_t mesh_drops;  /* SUBSCRIBER_STATS: this worker's packets a full ring refused */
    /* LAYER_CHANGED, KEYFRAME_NEEDED, AUDIO_LEVEL: */
    uint32_t handle;
    int8_t spatial;
    int8_t temporal;
    uint8_t level;
    bool voice;
    /* DATA_*: */
    uint16_t stream;
    bool binary;
    uint8_t *data; /* DATA_MESSAGE: weir_malloc'd, owned by whoever polls the event */
    uint32_t data_len;
    uint64_t sent_total; /* DATA_DRAINED: message bytes the channel handed to SCTP since open */
    /* TAP_STATS (handle, packets, bytes above): */
    uint64_t tap_id;
    uint64_t rtcp_received; /* datagrams the receiver sent back to the tap's socket */
    uint64_t sink_id;       /* RECORD_STOPPED */
} weir_worker_event;

const char *weir_publisher_state_name(weir_publisher_state s);

/**
 * Creates (does not start) worker number index. wake(wake_ctx) is called
 * from the worker thread after it queues an event; it must be thread-safe.
 * Never NULL.
 */
weir_worker *weir_worker_create(int index, const weir_worker_media *media,
                                void (*wake)(void *wake_ctx), void *wake_ctx);
/** Starts the thread. 0 or -errno. */
int weir_worker_start(weir_worker *w);
/**
 * Control thread only. Copies *cmd into the command ring and wakes the
 * worker, which then owns cmd->payload. Returns 0, or -WEIR_EAGAIN when the
 * ring is full (nothing queued; the payload stays the caller's).
 */
int weir_worker_send(weir_worker *w, const weir_worker_cmd *cmd);
/** Control thread only. 1 and *out filled, or 0 when no event is waiting. */
int weir_worker_poll_event(weir_worker *w, weir_worker_event *out);
/** Sends STOP and joins the thread (idempotent). Control thread only. */
void weir_worker_stop(weir_worker *w);
/** Stops if needed, frees everything including queued commands/events. */
void weir_worker_destroy(weir_worker *w);
int weir_worker_index(const weir_worker *w);
/** Events the worker had to drop because the event ring was full. */
uint64_t weir_worker_events_dropped(const weir_worker *w);

/** A worker's loop load (shell/worker_load.h), readable from any thread. */
typedef struct weir_worker_load_figures_t {
    unsigned busy_permille; /* busy share of the last 500 ms window */
    uint64_t busy_us;       /* busy time since start */
    uint64_t overloads;     /* times the worker became overloaded */
} weir_worker_load_figures_t;
void weir_worker_load_figures(const weir_worker *w, weir_worker_load_figures_t *out);

#endif
