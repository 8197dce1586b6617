/**
 * A minimal WebSocket client (RFC 6455) for weir-load's signalling: both
 * servers speak JSON over a WebSocket (Weir's /ws, Janus's WebSocket
 * transport). The opening handshake is blocking (loopback, a few ms); after
 * it the socket is non-blocking and the caller's epoll loop calls
 * wl_ws_read when it is readable. Text messages only; pings are answered,
 * fragmented messages are reassembled.
 *
 * Why not libwebsockets: its client runs one service loop per context and
 * weir-client gives each connection its own thread; weir-load holds
 * hundreds of connections on one thread next to its media sockets.
 */
#ifndef WL_WS_H
#define WL_WS_H

#include <stddef.h>
#include <stdint.h>

typedef struct wl_ws wl_ws;

/** One complete text message (borrowed for the call, NUL-terminated). */
typedef void (*wl_ws_message_cb)(void *user, const char *text, size_t len);

/**
 * Connects to ws://host:port/path offering subprotocol (may be NULL).
 * Returns NULL with a reason in err on failure.
 */
wl_ws *wl_ws_connect(const char *host, uint16_t port, const char *path, const char *subprotocol,
                     int timeout_ms, char *err, size_t err_len);
int wl_ws_fd(const wl_ws *ws);
/** Sends one text message (waits up to a second for room). Returns 0 or -WEIR_EIO. */
int wl_ws_send_text(wl_ws *ws, const char *text, size_t len);
/**
 * Reads what is available and calls cb for every complete message.
 * Returns 0, or -WEIR_EIO when the connection closed or broke (no more
 * messages), -WEIR_ETOOBIG for a message over 1 MiB.
 */
int wl_ws_read(wl_ws *ws, wl_ws_message_cb cb, void *user);
void wl_ws_destroy(wl_ws *ws);

#endif
