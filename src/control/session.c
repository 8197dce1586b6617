#define WEIR_LOG_MODULE "control.session"
#include "control/session.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/control.h"
#include "control/jsonrpc.h"
#include "control/membership.h"
#include "control/signalling.h"
#include "weir/alloc.h"
#include "weir/log.h"

/* A client that does not read its socket may hold this much before it is dropped. */
#define OUT_QUEUE_MAX_BYTES (8u * 1024 * 1024)
/* How long a closing socket may take to read its `bye`. */
#define CLOSE_FLUSH_TIMEOUT_S 3

struct out_msg {
    out_msg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the payload */
};

weir_session *weir_session_create(weir_control *ctl, struct lws *wsi, int64_t now_us)
{
    weir_session *s = WEIR_NEW(weir_session);
    s->ctl = ctl;
    s->wsi = wsi;
    s->opened_us = now_us;
    s->serial = ++ctl->next_session_serial;
    weir_token_bucket_init(&s->bucket, ctl->cfg->rate_limit_per_sec, ctl->cfg->rate_limit_burst);
    weir_lograte_init(&s->lograte, ctl->cfg->log_participant_per_sec,
                      ctl->cfg->log_participant_burst);
    s->next = ctl->sessions;
    if (ctl->sessions)
        ctl->sessions->prev = s;
    ctl->sessions = s;
    ctl->metrics.ws_connections++;
    ctl->metrics.ws_connections_total++;
    return s;
}

void weir_session_destroy(weir_session *s)
{
    weir_control *ctl = s->ctl;
    if (s->participant)
        weir_membership_leave(ctl, s->participant, "left");
    if (s->prev)
        s->prev->next = s->next;
    else
        ctl->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    while (s->out_head) {
        out_msg *m = s->out_head;
        s->out_head = m->next;
        weir_free(m);
    }
    ctl->metrics.ws_connections--;
    WEIR_LOG_DEBUG("session_closed session=%llu", (unsigned long long)s->serial);
    weir_free(s->rx);
    weir_free(s);
}

void weir_session_log(weir_session *s, weir_log_level level, const char *fmt, ...)
{
    if (!WEIR_LOG_ENABLED(level))
        return;
    uint32_t dropped = 0;
    if (!weir_lograte_allow(&s->lograte, weir_clock_now_us(), &dropped))
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    const char *pid = s->participant ? s->participant->id : "-";
    if (dropped)
        weir_log(level, WEIR_LOG_MODULE, "%s session=%llu participant=%s suppressed=%u", line,
                 (unsigned long long)s->serial, pid, dropped);
    else
        weir_log(level, WEIR_LOG_MODULE, "%s session=%llu participant=%s", line,
                 (unsigned long long)s->serial, pid);
}

static void queue_text(weir_session *s, const char *text, size_t len)
{
    if (s->closing || !s->wsi)
        return;
    if (s->out_bytes + len > OUT_QUEUE_MAX_BYTES) {
        /* The client stopped reading; holding more would let it eat our memory. */
        weir_session_log(s, WEIR_LOG_WARN, "slow_consumer queued_bytes=%zu", s->out_bytes);
        s->closing = true;
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    out_msg *m = weir_malloc(sizeof *m + LWS_PRE + len);
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    if (s->out_tail)
        s->out_tail->next = m;
    else
        s->out_head = m;
    s->out_tail = m;
    s->out_bytes += len;
    lws_callback_on_writable(s->wsi);
}

void weir_session_send(weir_session *s, json_t *msg)
{
    char *text = weir_rpc_dump(msg);
    queue_text(s, text, strlen(text));
    free(text);
    json_decref(msg);
}

void weir_session_notify(weir_session *s, const char *method, json_t *params)
{
    s->ctl->metrics.notifications_sent++;
    weir_session_send(s, weir_rpc_notification(method, params));
}

void weir_session_send_error(weir_session *s, json_t *id, int code, const char *message)
{
    weir_metrics_count_error(&s->ctl->metrics, code);
    weir_session_send(s, weir_rpc_error(id ? id : json_null(), code, message, NULL));
}

void weir_session_bye(weir_session *s, const char *reason, int close_code)
{
    if (s->closing || !s->wsi)
        return;
    weir_session_notify(s, "bye", json_pack("{s:s}", "reason", reason));
    s->closing = true;
    s->close_code = close_code;
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, CLOSE_FLUSH_TIMEOUT_S);
    lws_callback_on_writable(s->wsi);
    weir_session_log(s, WEIR_LOG_INFO, "bye reason=%s", reason);
}

/*
 * Sends our close frame and keeps the socket open until the client answers
 * with its own (or the flush timeout fires). Closing the TCP socket at once
 * would reset it while the client's last frames are unread in our receive
 * buffer, and a reset makes the client's kernel drop what we sent before:
 * the `bye` would be lost (RFC 6455 §7.1.1 lets the server wait for the
 * client's close frame for exactly this reason).
 */
/*
 * lws_close_reason() + returning -1 closes the TCP socket straight after the
 * close frame; writing the frame ourselves keeps it open. Opcode 4 is lws's
 * LWS_WRITE_CLOSE, which its public header leaves out (lws-write.h says
 * "handled by lws_close_reason()") but lws_write() accepts.
 */
#define WRITE_CLOSE_FRAME ((enum lws_write_protocol)4)

static int send_close_frame(weir_session *s)
{
    unsigned char frame[LWS_PRE + 2];
    frame[LWS_PRE] = (unsigned char)(s->close_code >> 8);
    frame[LWS_PRE + 1] = (unsigned char)(s->close_code & 0xff);
    s->close_sent = true;
    return lws_write(s->wsi, frame + LWS_PRE, 2, WRITE_CLOSE_FRAME) < 2 ? -1 : 0;
}

int weir_session_on_writeable(weir_session *s)
{
    out_msg *m = s->out_head;
    if (!m) {
        if (s->closing && !s->close_sent)
            return send_close_frame(s);
        return 0;
    }
    int n = lws_write(s->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    if (n < (int)m->len)
        return -1;
    s->out_head = m->next;
    if (!s->out_head)
        s->out_tail = NULL;
    s->out_bytes -= m->len;
    weir_free(m);
    if (s->out_head || s->closing)
        lws_callback_on_writable(s->wsi);
    return 0;
}

/* Grows the reassembly buffer geometrically: most messages are small. */
static void grow_rx(weir_session *s, size_t need)
{
    if (need <= s->rx_cap)
        return;
    size_t cap = s->rx_cap ? s->rx_cap : 1024;
    while (cap < need)
        cap *= 2;
    s->rx = weir_realloc(s->rx, cap);
    s->rx_cap = cap;
}

static void finish_message(weir_session *s, int64_t now_us)
{
    if (s->rx_overflow) {
        weir_session_send_error(s, NULL, 413, "frame larger than 256 KiB");
        weir_signalling_on_rejected(s);
    } else if (s->rx_binary) {
        weir_session_send_error(s, NULL, WEIR_RPC_INVALID_REQUEST,
                                "binary frames are not used: send JSON text frames");
        weir_signalling_on_rejected(s);
    } else {
        weir_signalling_handle_message(s, s->rx ? s->rx : "", s->rx_len, now_us);
    }
    s->rx_len = 0;
    s->rx_overflow = false;
    /* Give the buffer back after every message: sessions idle between rare
     * signalling messages (one allocation each is nothing next to parsing
     * the JSON), and thousands of idle sessions would otherwise each keep
     * the size of their largest message (an SDP: 2-8 KiB). */
    weir_free(s->rx);
    s->rx = NULL;
    s->rx_cap = 0;
}

void weir_session_on_receive(weir_session *s, const void *in, size_t len, bool final, bool binary,
                             int64_t now_us)
{
    if (s->closing)
        return;
    if (!s->rx_in_message) {
        s->rx_in_message = true;
        s->rx_len = 0;
        s->rx_overflow = false;
        s->rx_binary = binary;
    }
    if (!s->rx_overflow) {
        if (s->rx_len + len > WEIR_RPC_MAX_FRAME_BYTES) {
            s->rx_overflow = true;
            weir_free(s->rx);
            s->rx = NULL;
            s->rx_cap = 0;
        } else if (len > 0) {
            /* An empty frame adds nothing (and rx may still be NULL). */
            grow_rx(s, s->rx_len + len);
            memcpy(s->rx + s->rx_len, in, len);
            s->rx_len += len;
        }
    }
    if (final) {
        s->rx_in_message = false;
        finish_message(s, now_us);
    }
}
