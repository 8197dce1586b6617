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
#include <stdint.h>

typedef struct weir_worker weir_worker;

typedef enum {
    WEIR_WORKER_CMD_PEER_ADD,    /* create the peer for a participant */
    WEIR_WORKER_CMD_PEER_REMOVE, /* tear it down */
    WEIR_WORKER_CMD_STOP,        /* leave the loop; sent once, last */
} weir_worker_cmd_type;

typedef struct weir_worker_cmd {
    weir_worker_cmd_type type;
    uint64_t peer_id;        /* control-assigned, unique for the process' life */
    char participant_id[48]; /* for logs */
} weir_worker_cmd;

typedef enum {
    WEIR_WORKER_EVENT_PEER_ADDED,
    WEIR_WORKER_EVENT_PEER_REMOVED,
    WEIR_WORKER_EVENT_STOPPED,
} weir_worker_event_type;

typedef struct weir_worker_event {
    weir_worker_event_type type;
    int worker_index;
    uint64_t peer_id;
    uint32_t peers; /* peers the worker holds after this event */
} weir_worker_event;

/**
 * Creates (does not start) worker number index. wake(wake_ctx) is called
 * from the worker thread after it queues an event; it must be thread-safe.
 * Never NULL.
 */
weir_worker *weir_worker_create(int index, void (*wake)(void *wake_ctx), void *wake_ctx);
/** Starts the thread. 0 or -errno. */
int weir_worker_start(weir_worker *w);
/**
 * Control thread only. Copies *cmd into the command ring and wakes the
 * worker. Returns 0, or -WEIR_EAGAIN when the ring is full (nothing queued).
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
