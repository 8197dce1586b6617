/*
 * WebSocket client for weir-load (see ws.h). Frames from the server are
 * unmasked (RFC 6455 §5.1); ours are masked with a random key.
 */
#include "ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weir/alloc.h"
#include "weir/errors.h"

#define WS_MAX_MESSAGE (1024 * 1024)

struct wl_ws {
    int fd;
    uint8_t *in; /* received bytes not yet parsed */
    size_t in_len, in_cap;
    uint8_t *msg; /* fragments of the message being reassembled */
    size_t msg_len, msg_cap;
};

static int send_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) <= 0)
                return -WEIR_EIO;
            continue;
        }
        return -WEIR_EIO;
    }
    return 0;
}

static int tcp_connect(const char *host, uint16_t port, int timeout_ms)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
        return -1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    if (poll(&pfd, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 ||
        soerr != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

wl_ws *wl_ws_connect(const char *host, uint16_t port, const char *path, const char *subprotocol,
                     int timeout_ms, char *err, size_t err_len)
{
    int fd = tcp_connect(host, port, timeout_ms);
    if (fd < 0) {
        snprintf(err, err_len, "cannot connect to %s:%u", host, port);
        return NULL;
    }
    uint8_t key[16];
    RAND_bytes(key, sizeof key);
    char key64[32];
    EVP_EncodeBlock((unsigned char *)key64, key, sizeof key);
    char req[768];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s%s%s\r\n",
                     path, host, port, key64, subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
    if (n <= 0 || (size_t)n >= sizeof req || send_all(fd, (uint8_t *)req, (size_t)n) < 0) {
        snprintf(err, err_len, "cannot send the WebSocket handshake");
        close(fd);
        return NULL;
    }
    /* Read the 101 response up to the blank line, byte by byte so nothing after it is eaten. */
    char resp[2048];
    size_t got = 0;
    while (got + 1 < sizeof resp) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, timeout_ms) != 1)
            break;
        ssize_t r = recv(fd, resp + got, 1, 0);
        if (r <= 0) {
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            break;
        }
        got++;
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
            break;
    }
    resp[got] = '\0';
    if (got < 12 || strncmp(resp, "HTTP/1.1 101", 12) != 0) {
        char *eol = strchr(resp, '\r');
        if (eol)
            *eol = '\0';
        snprintf(err, err_len, "WebSocket handshake refused: %.100s", got ? resp : "no answer");
        close(fd);
        return NULL;
    }
    wl_ws *ws = weir_calloc(1, sizeof *ws);
    ws->fd = fd;
    return ws;
}

int wl_ws_fd(const wl_ws *ws)
{
    return ws->fd;
}

static int send_frame(wl_ws *ws, uint8_t opcode, const uint8_t *data, size_t len)
{
    uint8_t stackbuf[4096];
    size_t hdr = 2 + 4 + (len >= 126 ? (len > 65535 ? 8 : 2) : 0);
    uint8_t *f = hdr + len <= sizeof stackbuf ? stackbuf : weir_malloc(hdr + len);
    f[0] = (uint8_t)(0x80 | opcode);
    size_t o = 2;
    if (len < 126) {
        f[1] = (uint8_t)(0x80 | len);
    } else if (len <= 65535) {
        f[1] = 0x80 | 126;
        f[2] = (uint8_t)(len >> 8);
        f[3] = (uint8_t)len;
        o = 4;
    } else {
        f[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++)
            f[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
        o = 10;
    }
    uint8_t *mask = f + o;
    RAND_bytes(mask, 4);
    o += 4;
    for (size_t i = 0; i < len; i++)
        f[o + i] = data[i] ^ mask[i & 3];
    int rc = send_all(ws->fd, f, o + len);
    if (f != stackbuf)
        weir_free(f);
    return rc;
}

int wl_ws_send_text(wl_ws *ws, const char *text, size_t len)
{
    return send_frame(ws, 0x1, (const uint8_t *)text, len);
}

static void append(uint8_t **buf, size_t *len, size_t *cap, const uint8_t *p, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n + 1)
            c *= 2;
        *buf = weir_realloc(*buf, c);
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

/* Parses complete frames from ws->in. Returns 0, or a negative code to close. */
static int parse_frames(wl_ws *ws, wl_ws_message_cb cb, void *user)
{
    size_t off = 0;
    int rc = 0;
    while (ws->in_len - off >= 2) {
        const uint8_t *p = ws->in + off;
        bool fin = p[0] & 0x80;
        uint8_t opcode = p[0] & 0x0F;
        bool masked = p[1] & 0x80;
        uint64_t plen = p[1] & 0x7F;
        size_t h = 2;
        if (plen == 126) {
            if (ws->in_len - off < 4)
                break;
            plen = (uint64_t)p[2] << 8 | p[3];
            h = 4;
        } else if (plen == 127) {
            if (ws->in_len - off < 10)
                break;
            plen = 0;
            for (int i = 0; i < 8; i++)
                plen = plen << 8 | p[2 + i];
            h = 10;
        }
        if (plen > WS_MAX_MESSAGE) {
            rc = -WEIR_ETOOBIG;
            break;
        }
        size_t mh = masked ? 4 : 0;
        if (ws->in_len - off < h + mh + plen)
            break;
        uint8_t *payload = ws->in + off + h + mh;
        if (masked)
            for (size_t i = 0; i < plen; i++)
                payload[i] ^= p[h + (i & 3)];
        off += h + mh + plen;
        if (opcode == 0x8) {
            rc = -WEIR_EIO;
            break;
        }
        if (opcode == 0x9) {
            send_frame(ws, 0xA, payload, plen);
            continue;
        }
        if (opcode == 0xA)
            continue;
        if (opcode == 0x1 || opcode == 0x2 || opcode == 0x0) {
            if (opcode != 0x0)
                ws->msg_len = 0;
            if (ws->msg_len + plen > WS_MAX_MESSAGE) {
                rc = -WEIR_ETOOBIG;
                break;
            }
            append(&ws->msg, &ws->msg_len, &ws->msg_cap, payload, plen);
            if (fin) {
                ws->msg[ws->msg_len] = '\0';
                cb(user, (const char *)ws->msg, ws->msg_len);
                ws->msg_len = 0;
            }
        }
    }
    memmove(ws->in, ws->in + off, ws->in_len - off);
    ws->in_len -= off;
    return rc;
}

int wl_ws_read(wl_ws *ws, wl_ws_message_cb cb, void *user)
{
    for (;;) {
        uint8_t buf[16384];
        ssize_t r = recv(ws->fd, buf, sizeof buf, 0);
        if (r == 0)
            return -WEIR_EIO;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -WEIR_EIO;
        }
        append(&ws->in, &ws->in_len, &ws->in_cap, buf, (size_t)r);
        int rc = parse_frames(ws, cb, user);
        if (rc < 0)
            return rc;
    }
}

void wl_ws_destroy(wl_ws *ws)
{
    if (!ws)
        return;
    close(ws->fd);
    weir_free(ws->in);
    weir_free(ws->msg);
    weir_free(ws);
}
