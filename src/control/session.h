/**
 * One signalling WebSocket = one session (PROTOCOL.md). The session owns
 * the framing side: reassembling fragments up to the frame cap, the
 * per-connection rate limit and abuse streak, the outbound queue written
 * when the socket is writeable, and `bye` + close. Method semantics live
 * in signalling.c, room membership in membership.c.
 */
#ifndef WEIR_CONTROL_SESSION_H
#define WEIR_CONTROL_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/token_bucket.h"
#include "control/room.h"
#include "weir/log.h"

struct lws;
typedef struct weir_control weir_control;
typedef struct out_msg out_msg;

typedef struct weir_session {
    /* borrowed: */
    weir_control *ctl;
    struct lws *wsi; /* NULL once the socket is gone */
    /* owned: */
    weir_participant *participant; /* NULL when not in a room */
    char *rx;                      /* message being reassembled */
    out_msg *out_head, *out_tail;
    /* state: */
    size_t rx_len;
    size_t rx_cap;
    bool rx_overflow; /* current message passed the frame cap: drop it, answer 413 */
    bool rx_binary;
    bool rx_in_message; /* between the first chunk and the final one */
    size_t out_bytes;
    bool closing; /* bye sent: close once the queue is flushed */
    int close_code;
    bool close_sent;   /* our close frame is out; waiting for the client's */
    int reject_streak; /* rejected messages in a row */
    bool ever_joined;
    int64_t opened_us;
    uint64_t serial; /* for logs: session number */
    weir_token_bucket bucket;
    weir_lograte lograte;
    struct weir_session *prev, *next; /* in ctl->sessions */
} weir_session;

/** Creates a session for an accepted WebSocket and links it into ctl. Never NULL. */
weir_session *weir_session_create(weir_control *ctl, struct lws *wsi, int64_t now_us);
/**
 * The socket is gone (clean close or not): leaves the room (reason "left")
 * if still in one, unlinks and frees the session.
 */
void weir_session_destroy(weir_session *s);

/**
 * Feeds one received chunk (lws may split a message into several); final
 * marks the message's last chunk. Complete messages go to signalling.
 */
void weir_session_on_receive(weir_session *s, const void *in, size_t len, bool final, bool binary,
                             int64_t now_us);
/** The socket can take a frame. Returns -1 when lws should close it now. */
int weir_session_on_writeable(weir_session *s);

/** Queues a JSON-RPC message (stolen). Dropped silently once closing. */
void weir_session_send(weir_session *s, json_t *msg);
/** Queues a notification; params stolen. */
void weir_session_notify(weir_session *s, const char *method, json_t *params);
/** Queues an error answer and counts it in the metrics. id borrowed (NULL = null). */
void weir_session_send_error(weir_session *s, json_t *id, int code, const char *message);
/**
 * Sends `bye` {reason}, then closes the socket with close_code once the
 * queue is flushed (or after a few seconds if the client does not read).
 * Does not touch room membership: callers leave the room first.
 */
void weir_session_bye(weir_session *s, const char *reason, int close_code);

/**
 * Logs a line about this session unless its per-session budget is spent
 * (so that one misbehaving client cannot flood the log).
 */
void weir_session_log(weir_session *s, weir_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
