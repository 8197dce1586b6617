/**
 * The libwebsockets glue: one vhost serving plain HTTP (static web files,
 * /healthz, /metrics, /api) and the signalling WebSocket at /ws with
 * subprotocol weir-v1. Everything runs on the control thread.
 */
#ifndef WEIR_CONTROL_HTTP_SERVER_H
#define WEIR_CONTROL_HTTP_SERVER_H

typedef struct weir_control weir_control;

/**
 * Creates the lws context and listener for ctl (ctl->lws, ctl->listen_port).
 * Returns 0, or -WEIR_EIO after logging why (port taken, bad TLS files).
 */
int weir_http_server_start(weir_control *ctl);

#endif
