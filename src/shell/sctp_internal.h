/**
 * Private to shell/sctp.c and shell/sctp_global.c: the association's
 * cross-thread part and the process-wide registry that usrsctp's callbacks
 * go through.
 *
 * usrsctp identifies an AF_CONN association by an opaque address pointer.
 * We do not hand it the weir_sctp pointer: a timer on another thread may
 * call conn_output or the socket upcall for an association that is being
 * destroyed. Instead each association registers a numeric id; callbacks look
 * the id up under the registry mutex and run, still holding it, against the
 * live association, or drop the call when the id is gone. weir_sctp_destroy
 * removes the id first, so once that returns no callback can reach it.
 *
 * Lock order: tick mutex -> usrsctp's own locks -> registry -> s->mutex.
 * Nobody calls into usrsctp while holding the registry or s->mutex.
 */
#ifndef WEIR_SHELL_SCTP_INTERNAL_H
#define WEIR_SHELL_SCTP_INTERNAL_H

#include "shell/sctp.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Registers s under a fresh id (never 0) and returns it; 0 when out of ids. */
uintptr_t weir_sctp_registry_add(weir_sctp *s);
/** Removes the id; returns after any callback running against it has finished. */
void weir_sctp_registry_remove(uintptr_t id);

struct socket;
/** The socket upcall every association installs (arg = its id). */
void weir_sctp_registry_upcall(struct socket *sock, void *arg, int flags);

/* Implemented in sctp.c, called by sctp_global.c with the registry mutex held. */
void weir_sctp_on_output(weir_sctp *s, const void *buf, size_t len);
void weir_sctp_on_upcall(weir_sctp *s);

/* ---- the association (sctp.c, sctp_recv.c) ---- */

typedef struct pkt {
    struct pkt *next;
    size_t len;
    uint8_t data[];
} pkt;

typedef struct msg {
    struct msg *next;
    uint32_t ppid;
    size_t len;
    uint8_t data[];
} msg;

typedef enum { CH_FREE = 0, CH_OPEN, CH_CLOSING } ch_state;

typedef struct channel {
    /* owned: */
    char *label;
    char *protocol;
    msg *q_head, *q_tail; /* waiting for room in usrsctp's send buffer */
    /* state: */
    ch_state state;
    uint16_t stream;
    bool ordered;
    uint16_t pr_policy; /* SCTP_PR_SCTP_* */
    uint32_t pr_value;
    bool open_pending;   /* CHANNEL_OPEN not reported yet (opened by the peer) */
    bool closed_pending; /* CHANNEL_CLOSED not reported yet */
    bool drain_pending;  /* bytes went to SCTP and the queue is empty: report DRAINED */
    bool reset_out_wanted, reset_out_done, reset_in_done;
    size_t q_bytes;
    uint64_t sent_total;
    char reason[120];
} channel;

struct weir_sctp {
    /* owned: */
    struct socket *sock;
    uint8_t *rx; /* the message being received (joined pieces) */
    /* state: */
    weir_sctp_config cfg;
    char log_id[48];
    uintptr_t id; /* registry id, usrsctp's sconn_addr */
    bool connected, connected_pending, closed, closed_pending;
    char closed_reason[120];
    size_t rx_len, rx_cap;
    bool rx_discard; /* the message in progress is over the limit: skip to its end */
    bool rx_notification;
    uint16_t rx_stream;
    uint32_t remote_max;
    uint32_t max_buffered;
    unsigned rr_next; /* round-robin start for flushing queues */
    channel ch[WEIR_SCTP_MAX_CHANNELS];
    weir_sctp_stats stats;
    uint8_t *ev_data; /* MESSAGE event payload handed out last */

    /* shared with usrsctp's callbacks, under mutex: */
    pthread_mutex_t mutex;
    pkt *tx_head, *tx_tail;
    size_t tx_count;
    bool owner_active;
    pthread_t owner_thread;
    uint64_t tx_dropped;
};

/* sctp.c: channels and sending (owner thread). */
channel *weir_sctp_find_channel(weir_sctp *s, uint16_t stream);
channel *weir_sctp_new_channel(weir_sctp *s, uint16_t stream);
/** Starts closing c: its queue is dropped, our outgoing stream reset is due. */
void weir_sctp_start_close(weir_sctp *s, channel *c, const char *reason);
/** Frees c's slot once the close was reported and both directions are reset. */
void weir_sctp_maybe_free_channel(channel *c);
/** One whole message to usrsctp: 0, -WEIR_EAGAIN when its buffer is full, other -WEIR_E*. */
int weir_sctp_sendv(weir_sctp *s, const channel *c, uint32_t ppid, const uint8_t *data, size_t len);
void weir_sctp_flush_queues(weir_sctp *s);
void weir_sctp_send_resets(weir_sctp *s);

/* sctp_recv.c: reading the socket (owner thread). */
/** Reads one piece: 1 and an event in out, 0 when a piece was consumed, -1 when none is left. */
int weir_sctp_read_piece(weir_sctp *s, weir_sctp_event *out);

#endif
