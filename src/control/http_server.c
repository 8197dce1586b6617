#define WEIR_LOG_MODULE "control.http"
#include "control/http_server.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/admin_api.h"
#include "control/control.h"
#include "control/session.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#define WS_PATH "/ws"
#define MAX_PATH 256

/* Per-connection data; lws allocates and zeroes it. HTTP and WS share one protocol. */
typedef struct conn {
    weir_session *session; /* WebSocket connections */
    /* HTTP request being read: */
    char method[8];
    char path[MAX_PATH];
    char *body;
    size_t body_len;
    bool body_too_big;
} conn;

static weir_control *control_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static int respond(struct lws *wsi, int status, const char *type, const char *body, size_t len)
{
    unsigned char head[LWS_PRE + 1024];
    unsigned char *start = head + LWS_PRE, *p = start, *end = head + sizeof head - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, type, len, &p, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return 1;
    unsigned char *buf = weir_malloc(LWS_PRE + len + 1);
    memcpy(buf + LWS_PRE, body, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
    weir_free(buf);
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int respond_json(struct lws *wsi, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    int rc = respond(wsi, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

static const char *mime_type(const char *path)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".wasm", "application/wasm"},
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

/* Only plain names under web_root: no "..", no hidden files, a small character set. */
static bool safe_web_path(const char *path)
{
    if (path[0] != '/' || strstr(path, "..") || strstr(path, "/."))
        return false;
    for (const char *c = path; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '/' || *c == '.' || *c == '_' || *c == '-';
        if (!ok)
            return false;
    }
    return true;
}

static int serve_file(struct lws *wsi, weir_control *ctl, const char *path)
{
    if (strcmp(path, "/") == 0)
        path = "/index.html";
    if (!safe_web_path(path))
        return respond(wsi, 404, "text/plain", "not found\n", 10);
    char file[1024];
    snprintf(file, sizeof file, "%s%s", ctl->cfg->web_root, path);
    int n = lws_serve_http_file(wsi, file, mime_type(file), NULL, 0);
    if (n < 0)
        return -1;
    /* 0: lws sends the file (or already answered 404) and completes the transaction. */
    return 0;
}

static const char *request_method(struct lws *wsi)
{
    static const struct {
        enum lws_token_indexes token;
        const char *name;
    } methods[] = {
        {WSI_TOKEN_GET_URI, "GET"},         {WSI_TOKEN_POST_URI, "POST"},
        {WSI_TOKEN_DELETE_URI, "DELETE"},   {WSI_TOKEN_PUT_URI, "PUT"},
        {WSI_TOKEN_PATCH_URI, "PATCH"},     {WSI_TOKEN_HEAD_URI, "HEAD"},
        {WSI_TOKEN_OPTIONS_URI, "OPTIONS"},
    };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (lws_hdr_total_length(wsi, methods[i].token) > 0)
            return methods[i].name;
    return "GET";
}

static int handle_api(struct lws *wsi, weir_control *ctl, conn *c)
{
    char auth[512] = "";
    if (lws_hdr_copy(wsi, auth, sizeof auth, WSI_TOKEN_HTTP_AUTHORIZATION) < 0)
        auth[0] = '\0';
    json_t *out = NULL;
    int status;
    if (c->body_too_big) {
        out = json_pack("{s:{s:i, s:s}}", "error", "code", 413, "message", "body too large");
        status = 413;
    } else {
        status = weir_admin_handle(ctl, c->method, c->path, auth[0] ? auth : NULL, c->body,
                                   c->body_len, &out);
    }
    weir_free(c->body);
    c->body = NULL;
    c->body_len = 0;
    return respond_json(wsi, status, out);
}

static int handle_http(struct lws *wsi, weir_control *ctl, conn *c, const char *uri)
{
    ctl->metrics.http_requests_total++;
    snprintf(c->method, sizeof c->method, "%s", request_method(wsi));
    snprintf(c->path, sizeof c->path, "%s", uri);
    if (strcmp(uri, "/healthz") == 0)
        return respond(wsi, ctl->shutting_down ? 503 : 200, "text/plain",
                       ctl->shutting_down ? "stopping\n" : "ok\n", ctl->shutting_down ? 9 : 3);
    if (strcmp(uri, "/metrics") == 0) {
        char *text = weir_metrics_render(ctl, weir_clock_now_us());
        int rc = respond(wsi, 200, "text/plain; version=0.0.4", text, strlen(text));
        weir_free(text);
        return rc;
    }
    if (strcmp(uri, "/api") == 0 || strncmp(uri, "/api/", 5) == 0) {
        bool has_body = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                        (strcmp(c->method, "POST") == 0 || strcmp(c->method, "PUT") == 0 ||
                         strcmp(c->method, "PATCH") == 0);
        if (has_body)
            return 0; /* answered at LWS_CALLBACK_HTTP_BODY_COMPLETION */
        return handle_api(wsi, ctl, c);
    }
    if (strcmp(c->method, "GET") != 0 && strcmp(c->method, "HEAD") != 0)
        return respond(wsi, 405, "text/plain", "method not allowed\n", 19);
    return serve_file(wsi, ctl, uri);
}

static void collect_body(conn *c, const void *in, size_t len)
{
    if (c->body_too_big || c->body_len + len > WEIR_ADMIN_MAX_BODY_BYTES) {
        c->body_too_big = true;
        return;
    }
    c->body = weir_realloc(c->body, c->body_len + len + 1);
    memcpy(c->body + c->body_len, in, len);
    c->body_len += len;
}

static bool is_ws_path(struct lws *wsi)
{
    char uri[64];
    return lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) > 0 && strcmp(uri, WS_PATH) == 0;
}

static int on_ws(struct lws *wsi, enum lws_callback_reasons reason, conn *c, void *in, size_t len)
{
    weir_control *ctl = control_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return ctl->shutting_down || !is_ws_path(wsi); /* non-zero refuses the upgrade */
    case LWS_CALLBACK_ESTABLISHED:
        c->session = weir_session_create(ctl, wsi, weir_clock_now_us());
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (c->session)
            weir_session_on_receive(c->session, in, len,
                                    lws_is_final_fragment(wsi) &&
                                        lws_remaining_packet_payload(wsi) == 0,
                                    lws_frame_is_binary(wsi), weir_clock_now_us());
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return c->session ? weir_session_on_writeable(c->session) : 0;
    case LWS_CALLBACK_CLOSED:
        if (c->session) {
            c->session->wsi = NULL;
            weir_session_destroy(c->session);
            c->session = NULL;
        }
        return 0;
    default:
        return 0;
    }
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    conn *c = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
    case LWS_CALLBACK_ESTABLISHED:
    case LWS_CALLBACK_RECEIVE:
    case LWS_CALLBACK_SERVER_WRITEABLE:
    case LWS_CALLBACK_CLOSED:
        return on_ws(wsi, reason, c, in, len);
    case LWS_CALLBACK_HTTP:
        return handle_http(wsi, control_of(wsi), c, in);
    case LWS_CALLBACK_HTTP_BODY:
        collect_body(c, in, len);
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        return handle_api(wsi, control_of(wsi), c);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c) {
            weir_free(c->body);
            c->body = NULL;
        }
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        weir_control_drain_worker_events(lws_context_user(lws_get_context(wsi)));
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/*
 * One protocol serves HTTP and the WebSocket: lws gives protocols[0] to
 * upgrades that offer no subprotocol, and matches "weir-v1" by name (and
 * echoes it) when offered, so both kinds of client land here.
 */
static const struct lws_protocols protocols[] = {
    {
        .name = "weir-v1",
        .callback = callback,
        .per_session_data_size = sizeof(conn),
        /* lws allocates this per WebSocket connection. Signalling messages
         * are small except SDP, and session.c reassembles frames lws hands
         * over in pieces (lws_remaining_packet_payload), so 4 KiB costs no
         * feature; 16 KiB was ~12 KiB per participant for nothing. */
        .rx_buffer_size = 4 * 1024,
    },
    {0},
};

static void lws_log_bridge(int level, const char *line)
{
    size_t len = strlen(line);
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    weir_log(level == LLL_ERR ? WEIR_LOG_ERROR : WEIR_LOG_WARN, "lws", "%.*s", (int)len, line);
}

int weir_http_server_start(weir_control *ctl)
{
    const weir_config *cfg = ctl->cfg;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->listen_port;
    info.iface = cfg->listen_address;
    info.protocols = protocols;
    info.user = ctl;
    info.vhost_name = "weir";
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (cfg->tls_cert[0]) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
    }
    ctl->lws = lws_create_context(&info);
    if (!ctl->lws) {
        WEIR_LOG_ERROR("listen_failed address=%s port=%d (address in use or TLS files unreadable)",
                       cfg->listen_address, cfg->listen_port);
        return -WEIR_EIO;
    }
    struct lws_vhost *vh = lws_get_vhost_by_name(ctl->lws, "weir");
    ctl->listen_port = vh ? lws_get_vhost_listen_port(vh) : cfg->listen_port;
    WEIR_LOG_INFO("listening address=%s port=%d tls=%s url=%s://%s:%d/", cfg->listen_address,
                  ctl->listen_port, cfg->tls_cert[0] ? "on" : "off",
                  cfg->tls_cert[0] ? "https" : "http", cfg->listen_address, ctl->listen_port);
    return 0;
}
