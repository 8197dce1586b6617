/*
 * Two threads: the lws thread (lws_service) and the caller's (GMainContext).
 * Shared state is the outgoing queue and the stop flag, both under s->lock;
 * everything else belongs to one side: the wsi and the reassembly buffer to
 * the lws thread, pending calls and callbacks to the caller's thread.
 */
#include "signalling.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

#include "weir/alloc.h"
#include "weir/errors.h"

#define MAX_MESSAGE (1 << 20)

typedef struct pending_call {
    wc_sig_result_cb cb;
    void *user;
} pending_call;

struct wc_sig {
    wc_sig_callbacks cb;
    /* borrowed: */
    void *user;
    /* owned: */
    GMainContext *ctx;
    struct lws_context *lws;
    GThread *thread;
    GHashTable *calls; /* id -> pending_call*, caller's thread */
    /* lws thread: */
    struct lws *wsi;
    GString *rx;
    char host[256];
    char path[512];
    int port;
    bool tls;
    bool insecure;
    /* shared, under lock: */
    GMutex lock;
    GQueue out; /* char* JSON texts */
    bool stop;
    bool open;
    /* caller's thread: */
    bool closed_reported;
    bool dead; /* destroy in progress: drop callbacks */
    json_int_t next_id;
};

enum { MSG_OPEN, MSG_TEXT, MSG_CLOSED };

typedef struct sig_msg {
    wc_sig *s;
    int kind;
    char *text;
} sig_msg;

/* ---- caller's thread ---- */

static void fail_pending(wc_sig *s)
{
    GHashTableIter it;
    gpointer key, value;
    g_hash_table_iter_init(&it, s->calls);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        pending_call *pc = value;
        g_hash_table_iter_remove(&it);
        if (pc->cb && !s->dead)
            pc->cb(pc->user, NULL, NULL);
        weir_free(pc);
    }
}

static void handle_text(wc_sig *s, const char *text)
{
    json_error_t jerr;
    json_t *msg = json_loads(text, 0, &jerr);
    if (!json_is_object(msg)) {
        fprintf(stderr, "weir-client: signalling: unparsable message ignored: %.200s\n", text);
        json_decref(msg);
        return;
    }
    json_t *id = json_object_get(msg, "id");
    json_t *method = json_object_get(msg, "method");
    if (json_is_string(method) && !id) {
        if (s->cb.on_notification)
            s->cb.on_notification(s->user, json_string_value(method),
                                  json_object_get(msg, "params"));
    } else if (json_is_integer(id)) {
        gint64 key = json_integer_value(id);
        pending_call *pc = g_hash_table_lookup(s->calls, &key);
        if (pc) {
            g_hash_table_remove(s->calls, &key); /* frees the key; the value is ours */
            json_t *result = json_object_get(msg, "result");
            json_t *error = json_object_get(msg, "error");
            if (pc->cb)
                pc->cb(pc->user, error ? NULL : (result ? result : json_null()), error);
            weir_free(pc);
        }
    } else if (json_object_get(msg, "error")) {
        char *dump = json_dumps(msg, JSON_COMPACT);
        fprintf(stderr, "weir-client: signalling: error without id: %s\n", dump ? dump : "?");
        free(dump);
    }
    json_decref(msg);
}

static gboolean dispatch_msg(gpointer data)
{
    sig_msg *m = data;
    wc_sig *s = m->s;
    if (s->dead || s->closed_reported)
        return G_SOURCE_REMOVE;
    switch (m->kind) {
    case MSG_OPEN:
        if (s->cb.on_open)
            s->cb.on_open(s->user);
        break;
    case MSG_TEXT:
        handle_text(s, m->text);
        break;
    case MSG_CLOSED:
        s->closed_reported = true;
        fail_pending(s);
        if (s->cb.on_closed)
            s->cb.on_closed(s->user, m->text ? m->text : "closed");
        break;
    }
    return G_SOURCE_REMOVE;
}

static void free_msg(gpointer data)
{
    sig_msg *m = data;
    g_free(m->text);
    weir_free(m);
}

/* ---- lws thread ---- */

static void post(wc_sig *s, int kind, const char *text, size_t len)
{
    sig_msg *m = WEIR_NEW(sig_msg);
    m->s = s;
    m->kind = kind;
    m->text = text ? g_strndup(text, len) : NULL;
    g_main_context_invoke_full(s->ctx, G_PRIORITY_DEFAULT, dispatch_msg, m, free_msg);
}

static void connect_ws(wc_sig *s)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    ci.context = s->lws;
    ci.address = s->host;
    ci.port = s->port;
    ci.path = s->path;
    ci.host = s->host;
    ci.origin = s->host;
    ci.protocol = "weir-v1";
    ci.local_protocol_name = "weir-client";
    if (s->tls)
        ci.ssl_connection =
            LCCSCF_USE_SSL |
            (s->insecure ? LCCSCF_ALLOW_SELFSIGNED | LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK : 0);
    ci.pwsi = &s->wsi;
    if (!lws_client_connect_via_info(&ci))
        post(s, MSG_CLOSED, "cannot start the WebSocket connection", 37);
}

static int write_one(wc_sig *s, struct lws *wsi)
{
    g_mutex_lock(&s->lock);
    char *text = g_queue_pop_head(&s->out);
    bool more = !g_queue_is_empty(&s->out);
    g_mutex_unlock(&s->lock);
    if (!text)
        return 0;
    size_t len = strlen(text);
    unsigned char *buf = weir_malloc(LWS_PRE + len);
    memcpy(buf + LWS_PRE, text, len);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    weir_free(buf);
    g_free(text);
    if (n < (int)len)
        return -1;
    if (more)
        lws_callback_on_writable(wsi);
    return 0;
}

static int on_lws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                  size_t len)
{
    (void)user;
    wc_sig *s = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        g_mutex_lock(&s->lock);
        s->open = true;
        bool pending = !g_queue_is_empty(&s->out);
        g_mutex_unlock(&s->lock);
        post(s, MSG_OPEN, NULL, 0);
        if (pending)
            lws_callback_on_writable(wsi);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (s->rx->len + len > MAX_MESSAGE) {
            post(s, MSG_CLOSED, "message from the server over 1 MiB", 34);
            return -1;
        }
        g_string_append_len(s->rx, in, (gssize)len);
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            post(s, MSG_TEXT, s->rx->str, s->rx->len);
            g_string_truncate(s->rx, 0);
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return write_one(s, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[300];
        snprintf(why, sizeof why, "cannot connect: %s", in ? (const char *)in : "unknown error");
        s->wsi = NULL;
        post(s, MSG_CLOSED, why, strlen(why));
        break;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
        s->wsi = NULL;
        g_mutex_lock(&s->lock);
        s->open = false;
        g_mutex_unlock(&s->lock);
        post(s, MSG_CLOSED, "the server closed the WebSocket", 31);
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (s->wsi) {
            g_mutex_lock(&s->lock);
            bool have = !g_queue_is_empty(&s->out) && s->open;
            g_mutex_unlock(&s->lock);
            if (have)
                lws_callback_on_writable(s->wsi);
        }
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols PROTOCOLS[] = {
    {"weir-client", on_lws, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static gpointer lws_thread(gpointer data)
{
    wc_sig *s = data;
    connect_ws(s);
    for (;;) {
        g_mutex_lock(&s->lock);
        bool stop = s->stop;
        g_mutex_unlock(&s->lock);
        if (stop)
            break;
        if (lws_service(s->lws, 0) < 0)
            break;
    }
    return NULL;
}

static int parse_url(wc_sig *s, const char *url, char *err, size_t err_len)
{
    char *copy = g_strdup(url);
    const char *prot = NULL, *ads = NULL, *path = NULL;
    int port = 0;
    int rc = 0;
    if (lws_parse_uri(copy, &prot, &ads, &port, &path) != 0 || !ads || !*ads) {
        snprintf(err, err_len, "malformed URL '%s'", url);
        rc = -WEIR_EINVAL;
    } else if (strcmp(prot, "ws") != 0 && strcmp(prot, "wss") != 0) {
        snprintf(err, err_len, "URL '%s': scheme must be ws:// or wss://", url);
        rc = -WEIR_EINVAL;
    } else {
        s->tls = strcmp(prot, "wss") == 0;
        snprintf(s->host, sizeof s->host, "%s", ads);
        snprintf(s->path, sizeof s->path, "/%s", path ? path : "");
        s->port = port;
    }
    g_free(copy);
    return rc;
}

wc_sig *wc_sig_create(GMainContext *ctx, const char *url, bool insecure, const wc_sig_callbacks *cb,
                      void *user, char *err, size_t err_len)
{
    wc_sig *s = WEIR_NEW(wc_sig);
    if (parse_url(s, url, err, err_len) < 0) {
        weir_free(s);
        return NULL;
    }
    s->insecure = insecure;
    s->cb = *cb;
    s->user = user;
    s->ctx = g_main_context_ref(ctx);
    s->calls = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, NULL);
    s->rx = g_string_new(NULL);
    g_mutex_init(&s->lock);
    g_queue_init(&s->out);
    s->next_id = 1;

    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = PROTOCOLS;
    info.gid = -1;
    info.uid = -1;
    info.user = s;
    info.options = s->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    s->lws = lws_create_context(&info);
    if (!s->lws) {
        snprintf(err, err_len, "lws_create_context failed");
        g_hash_table_destroy(s->calls);
        g_string_free(s->rx, TRUE);
        g_main_context_unref(s->ctx);
        weir_free(s);
        return NULL;
    }
    s->thread = g_thread_new("wc-signalling", lws_thread, s);
    return s;
}

void wc_sig_destroy(wc_sig *s)
{
    if (!s)
        return;
    g_mutex_lock(&s->lock);
    s->stop = true;
    g_mutex_unlock(&s->lock);
    lws_cancel_service(s->lws);
    g_thread_join(s->thread);
    lws_context_destroy(s->lws);
    /* Drop what the lws thread posted and nobody dispatched yet. */
    s->dead = true;
    while (g_main_context_iteration(s->ctx, FALSE))
        ;
    fail_pending(s);
    g_hash_table_destroy(s->calls);
    g_string_free(s->rx, TRUE);
    char *t;
    while ((t = g_queue_pop_head(&s->out)))
        g_free(t);
    g_mutex_clear(&s->lock);
    g_main_context_unref(s->ctx);
    weir_free(s);
}

int wc_sig_call(wc_sig *s, const char *method, json_t *params, wc_sig_result_cb cb, void *user)
{
    if (s->closed_reported) {
        json_decref(params);
        return -WEIR_EPERM;
    }
    json_int_t id = s->next_id++;
    json_t *msg = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", id, "method", method,
                            "params", params ? params : json_object());
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    pending_call *pc = WEIR_NEW(pending_call);
    pc->cb = cb;
    pc->user = user;
    gint64 *key = g_new(gint64, 1);
    *key = id;
    g_hash_table_insert(s->calls, key, pc);
    g_mutex_lock(&s->lock);
    g_queue_push_tail(&s->out, g_strdup(text));
    g_mutex_unlock(&s->lock);
    free(text);
    lws_cancel_service(s->lws);
    return 0;
}
