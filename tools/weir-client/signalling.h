/**
 * The signalling connection of weir-client: one WebSocket to Weir's /ws,
 * JSON-RPC 2.0 over it (PROTOCOL.md).
 *
 * libwebsockets runs its own event loop in a thread of its own; everything
 * it receives is handed to the caller's GMainContext (g_main_context_invoke,
 * which is thread-safe), so every callback below runs on the thread that
 * iterates that context. Outgoing frames go the other way through a locked
 * queue and lws_cancel_service. The caller never sees a libwebsockets type.
 */
#ifndef WC_SIGNALLING_H
#define WC_SIGNALLING_H

#include <glib.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct wc_sig wc_sig;

typedef struct wc_sig_callbacks {
    /* The WebSocket is open: requests may be sent. */
    void (*on_open)(void *user);
    /* A notification (no id); params borrowed for the call (NULL when absent). */
    void (*on_notification)(void *user, const char *method, json_t *params);
    /* The connection failed or closed; no callback follows. reason is static or borrowed. */
    void (*on_closed)(void *user, const char *reason);
} wc_sig_callbacks;

/**
 * Answer to one request: exactly one of result and error is non-NULL
 * (borrowed for the call); both NULL when the connection closed first.
 */
typedef void (*wc_sig_result_cb)(void *user, json_t *result, json_t *error);

/**
 * Connects to url ("ws://host:port/path" or "wss://..."; insecure accepts a
 * self-signed certificate). ctx is referenced; cb copied; user borrowed.
 * Returns NULL with a reason in err for a malformed URL or when
 * libwebsockets cannot start; connection failures come as on_closed.
 */
wc_sig *wc_sig_create(GMainContext *ctx, const char *url, bool insecure, const wc_sig_callbacks *cb,
                      void *user, char *err, size_t err_len);

/**
 * Closes the connection, joins the thread and drops every pending callback
 * (none runs after this returns). NULL is a no-op.
 */
void wc_sig_destroy(wc_sig *s);

/**
 * Sends a request; params is stolen (NULL = {}). cb (may be NULL) gets the
 * answer later. Returns 0, or -WEIR_EPERM when the connection is not open.
 */
int wc_sig_call(wc_sig *s, const char *method, json_t *params, wc_sig_result_cb cb, void *user);

#endif
