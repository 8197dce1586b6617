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
    const char *announced_ip; /* NULL or "" = off */
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
} weir_worker_publish;

/* Payload of WEIR_WORKER_CMD_TRICKLE (heap, freed by the worker with weir_free). */
typedef struct weir_worker_trickle {
    char candidate[WEIR_WORKER_CANDIDATE_MAX]; /* "" = end of candidates */
} weir_worker_trickle;

typedef enum {
    WEIR_WORKER_CMD_PEER_ADD,    /* create the peer for a participant */
    WEIR_WORKER_CMD_PEER_REMOVE, /* tear it down */
    WEIR_WORKER_CMD_STOP,        /* leave the loop; sent once, last */
    WEIR_WORKER_CMD_PUBLISH,     /* payload: weir_worker_publish; starts the publisher ICE+DTLS */
    WEIR_WORKER_CMD_TRICKLE,     /* payload: weir_worker_trickle; a remote publisher candidate */
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
    WEIR_WORKER_EVENT_PUBLISHER_CANDIDATE, /* text: local candidate; "" = gathering done */
    WEIR_WORKER_EVENT_PUBLISHER_STATE,     /* state; text: SRTP profile or failure reason */
    WEIR_WORKER_EVENT_PUBLISHER_STATS,     /* the counters below */
} weir_worker_event_type;

typedef enum {
    WEIR_PUBLISHER_NEW,
    WEIR_PUBLISHER_CONNECTED,
    WEIR_PUBLISHER_FAILED,
} weir_publisher_state;

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

#endif
