/**
 * The signalling of one server under test, behind one interface, so that
 * the same scenario runs against Weir (JSON-RPC over /ws, PROTOCOL.md) and
 * the Janus videoroom plugin (Janus API over its WebSocket transport).
 *
 * join() connects the participant and, as the scenario says, publishes
 * (we offer, the server answers) and subscribes (the server offers, we
 * answer) to what the room has; it returns once the descriptions are
 * exchanged, not when media flows. on_message() gets every message the
 * server sends afterwards (trickled candidates, re-offers).
 */
#ifndef WL_DRIVER_H
#define WL_DRIVER_H

#include <jansson.h>

#include "wl.h"

typedef struct wl_driver {
    const char *name;
    const char *ws_path;
    const char *ws_protocol;
    /* Whether a message (a reply or an event) is the one the blocked request waits for. */
    bool (*is_reply)(wl_part *part, json_t *msg);
    void (*on_message)(wl_part *part, json_t *msg);
    int (*join)(wl_part *part);
    /* After every participant joined: subscriptions of those who also publish (meeting). */
    int (*subscribe_late)(wl_part *part);
    void (*housekeeping)(wl_part *part, int64_t now_us);
} wl_driver;

extern const wl_driver wl_driver_weir;
extern const wl_driver wl_driver_janus;

/** Connects the participant's WebSocket and adds it to the loop. Returns 0 or -WEIR_EIO. */
int wl_part_connect(wl_part *part);
/**
 * Sends msg (stolen) and turns the loop until is_reply() accepts a message
 * carrying txn, or timeout. Returns the reply (caller decrefs) or NULL.
 */
json_t *wl_part_request(wl_part *part, json_t *msg, const char *txn, int timeout_ms);
/** Sends msg (stolen) without waiting. Returns 0 or -WEIR_EIO. */
int wl_part_send(wl_part *part, json_t *msg);
/** A fresh transaction id for this participant. */
void wl_part_txn(wl_part *part, char *out, size_t cap);

/**
 * Builds the publisher offer for part->pub with one video (simulcast with
 * the first part->pub_layers layers of the clip when more than one) and one
 * audio track, filling the peer's SSRCs. Caller frees with weir_free.
 */
char *wl_publish_offer(wl_part *part);
/** Classroom: whether `other` is one of the 4 thumbnails `part` receives. */
bool wl_classroom_thumbnail(const wl_part *part, const wl_part *other);
/** Applies a remote answer to the publisher peer. Returns 0 or -WEIR_EINVAL (logged). */
int wl_apply_publish_answer(wl_part *part, const char *sdp);
/**
 * Answers a server offer for the subscriber peer (created on the first
 * offer). Returns the answer text (weir_free) or NULL (logged).
 */
char *wl_subscribe_answer(wl_part *part, const char *offer);

#endif
