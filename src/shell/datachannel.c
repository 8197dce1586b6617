/*
 * Data channels in the media worker: the SCTP association (shell/sctp.h) of
 * a participant's publisher PC, glued to its DTLS session and to the
 * worker's command and event rings.
 *
 *   DTLS app data ──on_data──▶ weir_sctp_handle_packet
 *   weir_sctp_poll_transmit ──▶ weir_pc_send_data (DTLS record, ICE send)
 *   weir_sctp_poll_event ──▶ DATA_OPEN / DATA_MESSAGE / DATA_CLOSED / DATA_DRAINED
 *   DATA_SEND / DATA_FANOUT / DATA_CLOSE ──▶ weir_sctp_send / weir_sctp_close_channel
 *
 * The association exists once the PC's DTLS is connected and the offer had
 * an application m-line; the DTLS role decides the stream parity.
 *
 * Waking: usrsctp's timers run from whichever worker ticks first, so an
 * association may get packets to send on another worker's thread. Its wake
 * callback sets an atomic flag in the association's waker and writes this
 * worker's eventfd; the worker then services every association whose flag
 * is set. The waker lives as long as the association: weir_sctp_destroy
 * guarantees no callback after it returns, and the worker (and its eventfd)
 * outlives every association on it.
 *
 * Commands (DATA_SEND) also only mark the association and are serviced once
 * per loop iteration, so a burst of sends becomes one DATA_DRAINED.
 * DATA_FANOUT is the control thread's way to send one room message to every
 * channel of it on this worker with one command: each target is sent to as
 * by DATA_SEND, with the same per-channel limit.
 *
 * Flood limits are per sender over all its channels, checked here before a
 * message becomes an event: what is over is dropped and answered (at most
 * twice a second) with a 429 error frame on its channel.
 */
#define WEIR_LOG_MODULE "shell.datachannel"
#include <glib-unix.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/token_bucket.h"
#include "shell/sctp.h"
#include "shell/worker_internal.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

typedef struct dc_label {
    uint16_t stream;
    bool used;
    char label[WEIR_SCTP_LABEL_MAX + 1];
} dc_label;

/* Bytes per second with a one second burst (token_bucket.h counts messages). */
typedef struct byte_bucket {
    double tokens, rate, burst;
    int64_t last_us;
} byte_bucket;

struct wpeer_dc {
    /* owned: */
    weir_sctp *sctp; /* NULL until DTLS is connected */
    /* state: */
    int wake_fd; /* the worker's eventfd (borrowed) */
    atomic_bool wake_pending;
    bool rx_pending; /* SCTP packets went in since the last service */
    uint16_t remote_port;
    uint32_t remote_max;
    dc_label labels[WEIR_SCTP_MAX_CHANNELS];
    weir_token_bucket flood_msgs;
    byte_bucket flood_bytes;
    weir_token_bucket error_frames; /* 429 answers */
    uint64_t flood_dropped;
    uint64_t closed_full;
};

static void on_wake(void *user)
{
    struct wpeer_dc *dc = user;
    if (!atomic_exchange(&dc->wake_pending, true)) {
        uint64_t one = 1;
        ssize_t unused = write(dc->wake_fd, &one, sizeof one);
        (void)unused;
    }
}

static const char *label_of(struct wpeer_dc *dc, uint16_t stream)
{
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
        if (dc->labels[i].used && dc->labels[i].stream == stream)
            return dc->labels[i].label;
    return "?";
}

static void remember_label(struct wpeer_dc *dc, uint16_t stream, const char *label)
{
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
        if (!dc->labels[i].used) {
            dc->labels[i].used = true;
            dc->labels[i].stream = stream;
            snprintf(dc->labels[i].label, sizeof dc->labels[i].label, "%s", label);
            return;
        }
}

static void forget_label(struct wpeer_dc *dc, uint16_t stream)
{
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
        if (dc->labels[i].used && dc->labels[i].stream == stream)
            dc->labels[i].used = false;
}

static bool bytes_take(byte_bucket *b, size_t n, int64_t now_us)
{
    if (b->rate <= 0)
        return true;
    if (b->last_us < 0 || now_us < b->last_us)
        b->last_us = now_us;
    b->tokens += b->rate * (double)(now_us - b->last_us) / 1e6;
    if (b->tokens > b->burst)
        b->tokens = b->burst;
    b->last_us = now_us;
    if (b->tokens < (double)n)
        return false;
    b->tokens -= (double)n;
    return true;
}

/* True when the sender is within its limits; otherwise answers 429 (rate-limited) and drops. */
static bool flood_ok(wpeer *wp, uint16_t stream, size_t len)
{
    struct wpeer_dc *dc = wp->dc;
    const weir_worker_media *m = wp->w->media;
    int64_t now_us = weir_clock_now_us();
    bool ok = (!m->dc_flood_messages_per_s || weir_token_bucket_take(&dc->flood_msgs, now_us)) &&
              bytes_take(&dc->flood_bytes, len, now_us);
    if (ok)
        return true;
    dc->flood_dropped++;
    if (weir_token_bucket_take(&dc->error_frames, now_us)) {
        WEIR_LOG_WARN("%s data flood participant=%s label=%s dropped=%llu", wp->log_tag,
                      wp->participant_id, label_of(dc, stream),
                      (unsigned long long)dc->flood_dropped);
        static const char frame[] =
            "{\"error\":{\"code\":429,\"message\":\"too many data channel messages\"}}";
        (void)weir_sctp_send(dc->sctp, stream, false, (const uint8_t *)frame, sizeof frame - 1);
    }
    return false;
}

/* Truncating copy into an event's text (a label may be one byte longer than it holds). */
static void set_text(weir_worker_event *ev, const char *src)
{
    size_t n = strnlen(src, sizeof ev->text - 1);
    memcpy(ev->text, src, n);
    ev->text[n] = 0;
}

static void push_data_event(wpeer *wp, weir_worker_event_type type, const weir_sctp_event *e)
{
    weir_worker_event *ev = weir_worker_new_event(wp->w, type, wp->peer_id);
    ev->stream = e->stream;
    switch (type) {
    case WEIR_WORKER_EVENT_DATA_OPEN:
        set_text(ev, e->label);
        break;
    case WEIR_WORKER_EVENT_DATA_CLOSED:
        set_text(ev, e->reason);
        break;
    case WEIR_WORKER_EVENT_DATA_DRAINED:
        ev->sent_total = e->sent_total;
        break;
    case WEIR_WORKER_EVENT_DATA_MESSAGE:
        ev->binary = e->binary;
        ev->data_len = (uint32_t)e->len;
        ev->data = weir_malloc(e->len ? e->len : 1);
        memcpy(ev->data, e->data, e->len);
        break;
    default:
        break;
    }
    weir_worker_push_event(wp->w, ev);
}

static void on_sctp_event(wpeer *wp, const weir_sctp_event *e)
{
    struct wpeer_dc *dc = wp->dc;
    switch (e->type) {
    case WEIR_SCTP_EVENT_CONNECTED:
        WEIR_LOG_INFO("%s sctp connected", wp->log_tag);
        break;
    case WEIR_SCTP_EVENT_CHANNEL_OPEN:
        WEIR_LOG_DEBUG("%s data channel open stream=%u label=%s", wp->log_tag, e->stream, e->label);
        remember_label(dc, e->stream, e->label);
        push_data_event(wp, WEIR_WORKER_EVENT_DATA_OPEN, e);
        break;
    case WEIR_SCTP_EVENT_MESSAGE:
        if (flood_ok(wp, e->stream, e->len))
            push_data_event(wp, WEIR_WORKER_EVENT_DATA_MESSAGE, e);
        break;
    case WEIR_SCTP_EVENT_CHANNEL_CLOSED:
        WEIR_LOG_DEBUG("%s data channel closed stream=%u (%s)", wp->log_tag, e->stream, e->reason);
        forget_label(dc, e->stream);
        push_data_event(wp, WEIR_WORKER_EVENT_DATA_CLOSED, e);
        break;
    case WEIR_SCTP_EVENT_DRAINED:
        push_data_event(wp, WEIR_WORKER_EVENT_DATA_DRAINED, e);
        break;
    case WEIR_SCTP_EVENT_CLOSED:
        WEIR_LOG_INFO("%s sctp closed (%s)", wp->log_tag, e->reason);
        break;
    }
}

static void send_packets(wpeer *wp)
{
    uint8_t buf[WEIR_SCTP_MTU + 64];
    size_t len;
    while (weir_sctp_poll_transmit(wp->dc->sctp, buf, sizeof buf, &len) == 1)
        (void)weir_pc_send_data(&wp->pub, buf, len);
}

/* Everything the association has for us: packets out, events to the control thread. */
static void service(wpeer *wp)
{
    if (!wp->dc || !wp->dc->sctp)
        return;
    atomic_store(&wp->dc->wake_pending, false);
    wp->dc->rx_pending = false;
    send_packets(wp);
    weir_sctp_event e;
    while (wp->dc && wp->dc->sctp && weir_sctp_poll_event(wp->dc->sctp, &e) == 1)
        on_sctp_event(wp, &e);
    if (wp->dc && wp->dc->sctp)
        send_packets(wp);
}

static void start_sctp(wpeer *wp);

void weir_datachannel_prepare(wpeer *wp, const weir_worker_publish *pub)
{
    const weir_publish_media *app = NULL;
    for (size_t i = 0; i < pub->desc.n_media; i++)
        if (pub->desc.media[i].kind == WEIR_SDP_APPLICATION && !pub->desc.media[i].rejected)
            app = &pub->desc.media[i];
    if (!app || wp->dc)
        return;
    if (wp->w->dc_fd < 0) { /* weir_datachannel_worker_init failed (logged there) */
        WEIR_LOG_WARN("%s data channels unavailable on this worker", wp->log_tag);
        return;
    }
    const weir_worker_media *m = wp->w->media;
    struct wpeer_dc *dc = WEIR_NEW(struct wpeer_dc);
    dc->wake_fd = wp->w->dc_fd;
    atomic_init(&dc->wake_pending, false);
    dc->remote_port = app->remote_sctp_port ? app->remote_sctp_port : WEIR_SCTP_PORT;
    /* RFC 8841 §6: 0 means "no limit"; ours caps what we send anyway. */
    uint64_t rmax = app->remote_max_message_size;
    dc->remote_max = rmax == 0 || rmax > UINT32_MAX ? UINT32_MAX : (uint32_t)rmax;
    weir_token_bucket_init(&dc->flood_msgs, m->dc_flood_messages_per_s, m->dc_flood_messages_per_s);
    dc->flood_bytes = (byte_bucket){.rate = m->dc_flood_bytes_per_s,
                                    .burst = m->dc_flood_bytes_per_s,
                                    .tokens = m->dc_flood_bytes_per_s,
                                    .last_us = -1};
    weir_token_bucket_init(&dc->error_frames, 2, 2);
    wp->dc = dc;
    if (weir_pc_connected(&wp->pub)) /* added by a renegotiation */
        start_sctp(wp);
}

static void start_sctp(wpeer *wp)
{
    struct wpeer_dc *dc = wp->dc;
    const weir_worker_media *m = wp->w->media;
    char id[80];
    snprintf(id, sizeof id, "%s sctp", wp->log_tag);
    weir_sctp_config cfg = {
        .local_port = WEIR_SCTP_PORT,
        .remote_port = dc->remote_port,
        .max_message_size = m->dc_max_message_size,
        .remote_max_message_size = dc->remote_max,
        .max_buffered_per_channel = m->dc_max_buffered,
        .dtls_client = wp->pub.client_role,
        .wake = on_wake,
        .wake_user = dc,
        .log_id = id,
    };
    dc->sctp = weir_sctp_create(&cfg);
    if (!dc->sctp) {
        WEIR_LOG_WARN("%s sctp association not created: no data channels", wp->log_tag);
        return;
    }
    service(wp);
}

/* Tells the control thread that every channel it knows of is gone. */
static void close_all(wpeer *wp, const char *reason)
{
    struct wpeer_dc *dc = wp->dc;
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++) {
        if (!dc->labels[i].used)
            continue;
        weir_sctp_event e = {.type = WEIR_SCTP_EVENT_CHANNEL_CLOSED,
                             .stream = dc->labels[i].stream};
        snprintf(e.reason, sizeof e.reason, "%s", reason);
        push_data_event(wp, WEIR_WORKER_EVENT_DATA_CLOSED, &e);
        dc->labels[i].used = false;
    }
}

void weir_datachannel_on_pc_state(wpeer *wp, weir_pc_state state)
{
    if (!wp->dc)
        return;
    if (state == WEIR_PC_CONNECTED && !wp->dc->sctp && weir_pc_connected(&wp->pub))
        start_sctp(wp);
    else if (state == WEIR_PC_FAILED && wp->dc->sctp && !weir_pc_connected(&wp->pub)) {
        /* DTLS is gone (an ICE failure alone may be repaired by a restart: keep SCTP then). */
        weir_sctp_destroy(wp->dc->sctp);
        wp->dc->sctp = NULL;
        close_all(wp, "connection closed");
    }
}

void weir_datachannel_on_data(wpeer *wp, const uint8_t *buf, size_t len)
{
    if (wp->dc && wp->dc->sctp) {
        weir_sctp_handle_packet(wp->dc->sctp, buf, len);
        wp->dc->rx_pending = true;
    }
}

void weir_datachannel_service(wpeer *wp)
{
    /* Called after every drain of the publisher PC, RTP included: only do work when SCTP
     * packets came in or the association asked for it. */
    if (wp->dc && (wp->dc->rx_pending || atomic_load(&wp->dc->wake_pending)))
        service(wp);
}

/* One message to one channel; a channel whose bounded send queue cannot take it is closed. */
static void send_to(wpeer *wp, uint16_t stream, bool binary, const uint8_t *data, uint32_t len)
{
    struct wpeer_dc *dc = wp->dc;
    if (!dc || !dc->sctp)
        return;
    int rc = weir_sctp_send(dc->sctp, stream, binary, data, len);
    if (rc == -WEIR_EAGAIN) {
        dc->closed_full++;
        WEIR_LOG_WARN("%s data channel send buffer full participant=%s label=%s queued=%zu "
                      "message=%u: closing the channel",
                      wp->log_tag, wp->participant_id, label_of(dc, stream),
                      weir_sctp_buffered(dc->sctp, stream), len);
        weir_sctp_close_channel(dc->sctp, stream, "send buffer full");
    } else if (rc == -WEIR_ETOOBIG) {
        WEIR_LOG_WARN("%s data channel message of %u bytes over the peer's limit label=%s: dropped",
                      wp->log_tag, len, label_of(dc, stream));
    } else if (rc < 0) {
        WEIR_LOG_DEBUG("%s data send stream=%u: %s", wp->log_tag, stream, weir_strerror(rc));
    }
    on_wake(dc); /* serviced once per loop iteration: one DRAINED per burst */
}

void weir_datachannel_send(wpeer *wp, const weir_worker_data *d)
{
    send_to(wp, d->stream, d->binary, d->data, d->len);
}

void weir_datachannel_fanout(weir_worker *w, const weir_worker_fanout *f)
{
    const uint8_t *data = weir_worker_fanout_data(f);
    for (uint32_t i = 0; i < f->n_targets; i++) {
        int64_t key = (int64_t)f->targets[i].peer_id;
        wpeer *wp = g_hash_table_lookup(w->peers, &key);
        if (wp) /* gone meanwhile: the control thread hears PEER_REMOVED */
            send_to(wp, f->targets[i].stream, f->binary, data, f->len);
    }
}

void weir_datachannel_close(wpeer *wp, const weir_worker_data *d)
{
    struct wpeer_dc *dc = wp->dc;
    if (!dc || !dc->sctp)
        return;
    char reason[120];
    size_t n = d->len < sizeof reason - 1 ? d->len : sizeof reason - 1;
    memcpy(reason, d->data, n);
    reason[n] = 0;
    if (weir_sctp_close_channel(dc->sctp, d->stream, reason[0] ? reason : "closed by server") == 0)
        on_wake(dc);
}

void weir_datachannel_teardown(wpeer *wp)
{
    if (!wp->dc)
        return;
    weir_sctp_destroy(wp->dc->sctp); /* no wake after this: the waker can go */
    weir_free(wp->dc);
    wp->dc = NULL;
}

static gboolean on_wake_fd(gint fd, GIOCondition cond, gpointer data)
{
    (void)cond;
    weir_worker *w = data;
    uint64_t n;
    ssize_t unused = read(fd, &n, sizeof n);
    (void)unused;
    GHashTableIter it;
    gpointer k, v;
    g_hash_table_iter_init(&it, w->peers);
    while (g_hash_table_iter_next(&it, &k, &v)) {
        wpeer *wp = v;
        if (wp->dc && atomic_load(&wp->dc->wake_pending))
            service(wp);
    }
    return G_SOURCE_CONTINUE;
}

int weir_datachannel_worker_init(weir_worker *w)
{
    w->dc_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->dc_fd < 0 || weir_sctp_global_init() < 0) {
        WEIR_LOG_ERROR("worker=%d data channels unavailable", w->index);
        return -WEIR_EIO;
    }
    return 0;
}

void weir_datachannel_worker_start(weir_worker *w)
{
    if (w->dc_fd < 0)
        return;
    w->dc_source = g_unix_fd_source_new(w->dc_fd, G_IO_IN);
    g_source_set_callback(w->dc_source, G_SOURCE_FUNC(on_wake_fd), w, NULL);
    g_source_attach(w->dc_source, w->context);
}

void weir_datachannel_worker_stop(weir_worker *w)
{
    if (w->dc_source) {
        g_source_destroy(w->dc_source);
        g_source_unref(w->dc_source);
        w->dc_source = NULL;
    }
}

void weir_datachannel_worker_deinit(weir_worker *w)
{
    if (w->dc_fd >= 0)
        close(w->dc_fd);
    w->dc_fd = -1;
}

void weir_datachannel_tick(int64_t now_us)
{
    weir_sctp_global_tick(now_us);
}
