#include "datachannel.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "dc_track.h"
#include "shell/sctp.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define TICK_MS 5
/* Ops sent in one tick at most: a late tick catches up without starving the loop. */
#define MAX_OPS_PER_TICK 2000
#define OP_MAX_FIXED 160 /* an op without its padding */

typedef enum {
    CHAN_IDLE,    /* not opened yet (association not up) */
    CHAN_OPEN,    /* DCEP OPEN sent (we may send at once, RFC 8832 §6) */
    CHAN_CLOSED,  /* reset by either side */
    CHAN_REFUSED, /* weir_sctp_open_channel failed */
} chan_state;

typedef struct chan {
    char label[WEIR_SCTP_LABEL_MAX + 1];
    uint16_t stream;
    chan_state state;
    char reason[120];
    wc_dc_rx rx;
} chan;

struct wc_dc {
    wc_dc_config cfg;
    /* borrowed: */
    GMainContext *ctx;
    wc_pc *pc;
    /* owned: */
    weir_sctp *sctp;
    GSource *tick;
    FILE *record;
    char *record_path;
    char *self_id;
    char *send_label;
    char *pad;
    chan chans[WEIR_SCTP_MAX_CHANNELS];
    size_t n_chans;
    wc_dc_own own;
    /* state: */
    uint16_t remote_port;
    uint32_t remote_max_message_size;
    bool connected;
    bool assoc_closed;
    char assoc_reason[120];
    bool stalled;
    bool clear_sent;
    bool done;
    int64_t send_start_us; /* 0 = the send channel is not open yet */
    uint64_t messages;     /* MESSAGE events, every channel */
    uint64_t send_blocked, send_errors, open_errors, drained_events, wakes;
    /* Wall clock (unix ms), so benchmarks can line up several clients: */
    int64_t first_send_wall_ms, last_send_wall_ms; /* our ops */
    int64_t first_rx_wall_ms, last_rx_wall_ms;     /* messages, every channel */
    weir_sctp_stats last_stats;
};

static chan *find_chan(wc_dc *dc, uint16_t stream)
{
    for (size_t i = 0; i < dc->n_chans; i++)
        if ((dc->chans[i].state == CHAN_OPEN || dc->chans[i].state == CHAN_CLOSED) &&
            dc->chans[i].stream == stream)
            return &dc->chans[i];
    return NULL;
}

static chan *find_label(wc_dc *dc, const char *label)
{
    for (size_t i = 0; i < dc->n_chans; i++)
        if (strcmp(dc->chans[i].label, label) == 0)
            return &dc->chans[i];
    return NULL;
}

/* ---- the wire ---- */

static void flush(wc_dc *dc)
{
    uint8_t buf[WEIR_SCTP_MTU + 64];
    size_t len;
    while (weir_sctp_poll_transmit(dc->sctp, buf, sizeof buf, &len) == 1)
        wc_pc_send_data(dc->pc, buf, len);
}

static void record_frame(wc_dc *dc, const chan *c, bool binary, const uint8_t *data, size_t len)
{
    if (!dc->record)
        return;
    if (dc->cfg.n_labels > 1)
        fprintf(dc->record, "%s\t", c->label);
    if (binary) {
        fputs("0x", dc->record);
        for (size_t i = 0; i < len; i++)
            fprintf(dc->record, "%02x", data[i]);
    } else {
        /* One frame per line: a raw line break inside a frame (never in JSON) is escaped. */
        for (size_t i = 0; i < len; i++) {
            if (data[i] == '\n')
                fputs("\\n", dc->record);
            else if (data[i] == '\r')
                fputs("\\r", dc->record);
            else
                fputc(data[i], dc->record);
        }
    }
    fputc('\n', dc->record);
}

static void open_channels(wc_dc *dc)
{
    for (size_t i = 0; i < dc->n_chans; i++) {
        chan *c = &dc->chans[i];
        if (c->state != CHAN_IDLE)
            continue;
        int rc = weir_sctp_open_channel(dc->sctp, c->label, "", &c->stream);
        if (rc < 0) {
            c->state = CHAN_REFUSED;
            snprintf(c->reason, sizeof c->reason, "open: %s", weir_strerror(rc));
            dc->open_errors++;
            continue;
        }
        c->state = CHAN_OPEN;
        wc_dc_rx_init(&c->rx, weir_clock_now_us(), weir_clock_wall_ms());
        if (dc->send_label && strcmp(c->label, dc->send_label) == 0)
            dc->send_start_us = c->rx.open_us + dc->cfg.send_after_ms * 1000;
    }
}

/* The channel was opened by the server (not by us): keep its frames too. */
static chan *adopt_channel(wc_dc *dc, const weir_sctp_event *ev)
{
    if (dc->n_chans == WEIR_SCTP_MAX_CHANNELS)
        return NULL;
    chan *c = &dc->chans[dc->n_chans++];
    memset(c, 0, sizeof *c);
    snprintf(c->label, sizeof c->label, "%s", ev->label);
    c->stream = ev->stream;
    c->state = CHAN_OPEN;
    wc_dc_rx_init(&c->rx, weir_clock_now_us(), weir_clock_wall_ms());
    return c;
}

static void check_done(wc_dc *dc);

static void on_message(wc_dc *dc, const weir_sctp_event *ev)
{
    dc->messages++;
    dc->last_rx_wall_ms = weir_clock_wall_ms();
    if (!dc->first_rx_wall_ms)
        dc->first_rx_wall_ms = dc->last_rx_wall_ms;
    chan *c = find_chan(dc, ev->stream);
    if (!c)
        return;
    record_frame(dc, c, ev->binary, ev->data, ev->len);
    wc_dc_rx_frame(&c->rx, &dc->own, dc->self_id, ev->binary, ev->data, ev->len,
                   weir_clock_now_us());
    if (dc->cfg.stall_after >= 0 && (int64_t)dc->messages >= dc->cfg.stall_after && !dc->stalled) {
        dc->stalled = true;
        fprintf(stderr, "weir-client: data channels stalled after %llu messages\n",
                (unsigned long long)dc->messages);
    }
}

static void handle_event(wc_dc *dc, const weir_sctp_event *ev)
{
    chan *c;
    switch (ev->type) {
    case WEIR_SCTP_EVENT_CONNECTED:
        dc->connected = true;
        open_channels(dc);
        break;
    case WEIR_SCTP_EVENT_CHANNEL_OPEN:
        /* Ours are open from weir_sctp_open_channel on; this is one the server opened. */
        if (!find_chan(dc, ev->stream))
            adopt_channel(dc, ev);
        break;
    case WEIR_SCTP_EVENT_MESSAGE:
        on_message(dc, ev);
        break;
    case WEIR_SCTP_EVENT_CHANNEL_CLOSED:
        c = find_chan(dc, ev->stream);
        if (c && c->state == CHAN_OPEN) {
            c->state = CHAN_CLOSED;
            snprintf(c->reason, sizeof c->reason, "%s", ev->reason);
            fprintf(stderr, "weir-client: channel %s closed: %s\n", c->label, ev->reason);
        }
        break;
    case WEIR_SCTP_EVENT_DRAINED:
        dc->drained_events++;
        break;
    case WEIR_SCTP_EVENT_CLOSED:
        dc->assoc_closed = true;
        snprintf(dc->assoc_reason, sizeof dc->assoc_reason, "%s", ev->reason);
        fprintf(stderr, "weir-client: SCTP association closed: %s\n", ev->reason);
        break;
    }
}

/* Sends what is queued and handles events until neither side has more. A
 * stalled client (--dc-stall-after) keeps sending but reads nothing more. */
static void drain(wc_dc *dc)
{
    if (!dc->sctp)
        return;
    weir_sctp_event ev;
    for (;;) {
        flush(dc);
        if (dc->stalled || weir_sctp_poll_event(dc->sctp, &ev) != 1)
            break;
        handle_event(dc, &ev);
    }
    flush(dc);
    check_done(dc);
}

void wc_dc_handle_packet(wc_dc *dc, const uint8_t *buf, size_t len)
{
    if (!dc->sctp || dc->stalled)
        return; /* a frozen tab: SCTP packets are no longer read */
    weir_sctp_handle_packet(dc->sctp, buf, len);
    drain(dc);
}

/* ---- the script ---- */

static int send_text(wc_dc *dc, chan *c, const char *text, size_t len)
{
    int rc = weir_sctp_send(dc->sctp, c->stream, false, (const uint8_t *)text, len);
    if (rc == -WEIR_EAGAIN)
        dc->send_blocked++;
    else if (rc < 0)
        dc->send_errors++;
    return rc;
}

static size_t write_op(wc_dc *dc, uint64_t n, char *buf, size_t cap)
{
    static const char *const colours[] = {"#f00", "#0a0", "#00f", "#000"};
    int len = snprintf(buf, cap, "{\"op\":\"line\",\"x\":%llu,\"y\":%llu,\"c\":\"%s\",\"n\":%llu",
                       (unsigned long long)(n * 37 % 1280), (unsigned long long)(n * 53 % 720),
                       colours[n % 4], (unsigned long long)n);
    if (dc->pad)
        len += snprintf(buf + len, cap - (size_t)len, ",\"p\":\"%s\"", dc->pad);
    len += snprintf(buf + len, cap - (size_t)len, "}");
    return (size_t)len;
}

static void send_ops(wc_dc *dc, int64_t now_us)
{
    chan *c = dc->send_label ? find_label(dc, dc->send_label) : NULL;
    if (!c || c->state != CHAN_OPEN || !dc->send_start_us || now_us < dc->send_start_us)
        return;
    uint64_t due = (uint64_t)((double)(now_us - dc->send_start_us) * dc->cfg.rate / 1e6) + 1;
    if (due > dc->own.planned)
        due = dc->own.planned;
    size_t cap = OP_MAX_FIXED + dc->cfg.op_pad;
    char *buf = weir_malloc(cap);
    for (int i = 0; dc->own.sent < due && i < MAX_OPS_PER_TICK; i++) {
        uint64_t n = dc->own.sent + 1;
        size_t len = write_op(dc, n, buf, cap);
        int rc = send_text(dc, c, buf, len);
        if (rc == -WEIR_EAGAIN)
            break; /* the channel's queue is full: retry at the next tick */
        /* Any other refusal (too big, closed) is counted and the op skipped. */
        wc_dc_own_sent(&dc->own, n, now_us);
        dc->last_send_wall_ms = weir_clock_wall_ms();
        if (!dc->first_send_wall_ms)
            dc->first_send_wall_ms = dc->last_send_wall_ms;
    }
    weir_free(buf);
}

static void send_clear(wc_dc *dc, int64_t now_us)
{
    if (!dc->cfg.clear || dc->clear_sent || dc->own.sent < dc->own.planned)
        return;
    chan *c = find_label(dc, "whiteboard");
    if (!c || c->state != CHAN_OPEN)
        return;
    int64_t start = c->rx.open_us + dc->cfg.send_after_ms * 1000;
    if (now_us < start)
        return;
    static const char clear[] = "{\"op\":\"clear\"}";
    if (send_text(dc, c, clear, sizeof clear - 1) != -WEIR_EAGAIN)
        dc->clear_sent = true;
}

static uint64_t stamped_total(const wc_dc *dc)
{
    uint64_t n = 0;
    for (size_t i = 0; i < dc->n_chans; i++)
        n += dc->chans[i].rx.stamped;
    return n;
}

static void check_done(wc_dc *dc)
{
    if (dc->done || dc->cfg.expect_messages < 0 || !dc->cfg.on_done)
        return;
    if (stamped_total(dc) < (uint64_t)dc->cfg.expect_messages)
        return;
    if (dc->own.sent < dc->own.planned || dc->own.echoed_count < dc->own.sent)
        return;
    if (dc->cfg.clear && !dc->clear_sent)
        return;
    dc->done = true;
    dc->cfg.on_done(dc->cfg.user);
}

static gboolean on_tick(gpointer data)
{
    wc_dc *dc = data;
    int64_t now = weir_clock_now_us();
    weir_sctp_global_tick(now);
    if (dc->sctp && dc->connected && !dc->stalled && !dc->assoc_closed) {
        send_ops(dc, now);
        send_clear(dc, now);
    }
    drain(dc);
    return G_SOURCE_CONTINUE;
}

/* usrsctp queued packets or events from a timer: the tick that ran the timers drains them
 * right after, on this same thread (weir-client has no other thread calling usrsctp). */
static void on_wake(void *user)
{
    wc_dc *dc = user;
    __atomic_add_fetch(&dc->wakes, 1, __ATOMIC_RELAXED);
}

/* ---- life cycle ---- */

wc_dc *wc_dc_create(GMainContext *ctx, const wc_dc_config *cfg, char *err, size_t err_len)
{
    wc_dc *dc = WEIR_NEW(wc_dc);
    dc->cfg = *cfg;
    dc->ctx = ctx;
    dc->self_id = weir_strdup(cfg->self_id ? cfg->self_id : "");
    dc->send_label = cfg->send_ops > 0 ? weir_strdup(cfg->send_label) : NULL;
    dc->cfg.labels = NULL; /* n_labels is kept: it decides the record format */
    dc->cfg.self_id = NULL;
    dc->cfg.send_label = NULL;
    dc->cfg.record_path = NULL;
    dc->remote_port = WEIR_SCTP_PORT;
    dc->remote_max_message_size = 0;
    if (cfg->op_pad) {
        dc->pad = weir_malloc(cfg->op_pad + 1);
        memset(dc->pad, 'x', cfg->op_pad);
        dc->pad[cfg->op_pad] = 0;
    }
    for (size_t i = 0; i < cfg->n_labels && i < WEIR_SCTP_MAX_CHANNELS; i++) {
        chan *c = &dc->chans[dc->n_chans++];
        snprintf(c->label, sizeof c->label, "%s", cfg->labels[i]);
        wc_dc_rx_init(&c->rx, 0, 0);
    }
    wc_dc_own_init(&dc->own, cfg->send_ops);
    if (cfg->record_path) {
        dc->record_path = weir_strdup(cfg->record_path);
        dc->record = fopen(cfg->record_path, "w");
        if (!dc->record) {
            snprintf(err, err_len, "--dc-record: cannot create %s", cfg->record_path);
            wc_dc_destroy(dc);
            return NULL;
        }
        /* Line by line, so a test can follow the file while we run (and a killed client
         * leaves whole lines). */
        setvbuf(dc->record, NULL, _IOLBF, 0);
    }
    return dc;
}

void wc_dc_set_remote(wc_dc *dc, int32_t sctp_port, int64_t max_message_size)
{
    dc->remote_port = sctp_port > 0 && sctp_port <= 65535 ? (uint16_t)sctp_port : WEIR_SCTP_PORT;
    /* RFC 8841 §6: 0 means no limit; absent means 64 KiB (the association's default). */
    if (max_message_size == 0)
        dc->remote_max_message_size = UINT32_MAX;
    else if (max_message_size > 0)
        dc->remote_max_message_size =
            max_message_size > UINT32_MAX ? UINT32_MAX : (uint32_t)max_message_size;
}

int wc_dc_start(wc_dc *dc, wc_pc *pc)
{
    if (dc->sctp)
        return 0;
    dc->pc = pc;
    weir_sctp_config sc = {
        .local_port = WEIR_SCTP_PORT,
        .remote_port = dc->remote_port,
        .max_message_size = dc->cfg.max_message_size,
        .remote_max_message_size = dc->remote_max_message_size,
        .dtls_client = true, /* weir-client is always the DTLS client (pc.h) */
        .wake = on_wake,
        .wake_user = dc,
        .log_id = "weir-client",
    };
    dc->sctp = weir_sctp_create(&sc);
    if (!dc->sctp)
        return -WEIR_EINVAL;
    dc->tick = g_timeout_source_new(TICK_MS);
    g_source_set_callback(dc->tick, on_tick, dc, NULL);
    g_source_attach(dc->tick, dc->ctx);
    drain(dc); /* INIT */
    return 0;
}

void wc_dc_destroy(wc_dc *dc)
{
    if (!dc)
        return;
    if (dc->tick) {
        g_source_destroy(dc->tick);
        g_source_unref(dc->tick);
    }
    if (dc->sctp)
        weir_sctp_get_stats(dc->sctp, &dc->last_stats);
    weir_sctp_destroy(dc->sctp);
    if (dc->record)
        fclose(dc->record);
    wc_dc_own_deinit(&dc->own);
    weir_free(dc->record_path);
    weir_free(dc->self_id);
    weir_free(dc->send_label);
    weir_free(dc->pad);
    weir_free(dc);
}

/* ---- report ---- */

static const char *chan_state_name(chan_state s)
{
    switch (s) {
    case CHAN_IDLE:
        return "idle";
    case CHAN_OPEN:
        return "open";
    case CHAN_CLOSED:
        return "closed";
    case CHAN_REFUSED:
        return "refused";
    }
    return "?";
}

json_t *wc_dc_report(wc_dc *dc)
{
    json_t *chans = json_array();
    uint64_t frames = 0, errors = 0;
    for (size_t i = 0; i < dc->n_chans; i++) {
        const chan *c = &dc->chans[i];
        json_t *o = json_pack("{s:s, s:s}", "label", c->label, "state", chan_state_name(c->state));
        json_object_set_new(o, "stream",
                            c->state == CHAN_IDLE || c->state == CHAN_REFUSED
                                ? json_null()
                                : json_integer(c->stream));
        json_object_set_new(o, "closed_reason",
                            c->reason[0] ? json_string(c->reason) : json_null());
        wc_dc_rx_report(&c->rx, o);
        json_array_append_new(chans, o);
        frames += c->rx.frames;
        errors += c->rx.error_frames;
    }
    weir_sctp_stats st = dc->last_stats;
    if (dc->sctp)
        weir_sctp_get_stats(dc->sctp, &st);
    json_t *r = json_object();
    json_object_set_new(r, "connected", json_boolean(dc->connected));
    json_object_set_new(r, "association",
                        json_string(dc->assoc_closed ? "closed"
                                    : dc->connected  ? "up"
                                    : dc->sctp       ? "connecting"
                                                     : "none"));
    json_object_set_new(r, "association_reason",
                        dc->assoc_reason[0] ? json_string(dc->assoc_reason) : json_null());
    json_object_set_new(r, "stalled", json_boolean(dc->stalled));
    json_object_set_new(r, "channels", chans);
    json_object_set_new(r, "send_label",
                        dc->send_label ? json_string(dc->send_label) : json_null());
    json_object_set_new(r, "sent", json_integer((json_int_t)dc->own.sent));
    json_object_set_new(r, "send_blocked", json_integer((json_int_t)dc->send_blocked));
    json_object_set_new(r, "send_errors", json_integer((json_int_t)dc->send_errors));
    json_object_set_new(r, "clear_sent", json_boolean(dc->clear_sent));
    json_object_set_new(r, "received", json_integer((json_int_t)frames));
    json_object_set_new(r, "stamped", json_integer((json_int_t)stamped_total(dc)));
    json_object_set_new(r, "error_frames", json_integer((json_int_t)errors));
    json_object_set_new(r, "own", wc_dc_own_report(&dc->own));
    json_object_set_new(r, "wall_ms",
                        json_pack("{s:I, s:I, s:I, s:I}", "first_send",
                                  (json_int_t)dc->first_send_wall_ms, "last_send",
                                  (json_int_t)dc->last_send_wall_ms, "first_received",
                                  (json_int_t)dc->first_rx_wall_ms, "last_received",
                                  (json_int_t)dc->last_rx_wall_ms));
    json_object_set_new(
        r, "sctp",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "packets_in",
                  (json_int_t)st.packets_in, "packets_out", (json_int_t)st.packets_out,
                  "messages_in", (json_int_t)st.messages_in, "messages_out",
                  (json_int_t)st.messages_out, "bytes_in", (json_int_t)st.bytes_in, "bytes_out",
                  (json_int_t)st.bytes_out, "events_dropped", (json_int_t)st.events_dropped,
                  "open_errors", (json_int_t)dc->open_errors));
    return r;
}
