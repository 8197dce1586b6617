/**
 * One SCTP association over DTLS with its data channels (shell/sctp.h), on
 * a usrsctp AF_CONN socket.
 *
 * What runs where: usrsctp may call back (conn_output, the socket upcall)
 * on any thread that runs its timers. Those callbacks only touch the
 * mutex-protected part of the association (the outgoing packet queue) and
 * call cfg.wake. Everything else (reading the socket, DCEP, channels, send
 * queues) happens in owner calls, so the channel state needs no lock.
 *
 * Receiving (sctp_recv.c): poll_event reads the socket one message (or
 * notification) at a time; usrsctp hands a large message over in pieces (no MSG_EOR until
 * the last), which are joined in rx up to cfg.max_message_size. Reading
 * lazily means a peer that out-sends us fills usrsctp's receive window and
 * is slowed by SCTP flow control, not by our memory.
 *
 * Sending: messages go to usrsctp whole (no explicit EOR); a message that
 * does not fit its send buffer right now waits in the channel's own queue,
 * bounded by max_buffered_per_channel, and is retried after the next
 * packet in (SACKs free the buffer) or the next poll. Channels are served
 * round robin so one busy channel does not starve the others.
 */
#include "shell/sctp.h"

#include "proto/dcep.h"
#include "shell/sctp_internal.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <usrsctp.h>

#define WEIR_LOG_MODULE "sctp"

#define SCTP_STREAMS 1024            /* inbound and outbound, as browsers ask */
#define TX_QUEUE_MAX 4096            /* packets waiting for poll_transmit */
#define DEFAULT_MAX_BUFFERED 1048576 /* per channel queue */

/* ---- owner calls and callbacks ---- */

static void owner_enter(weir_sctp *s)
{
    pthread_mutex_lock(&s->mutex);
    s->owner_active = true;
    s->owner_thread = pthread_self();
    pthread_mutex_unlock(&s->mutex);
}

static void owner_leave(weir_sctp *s)
{
    pthread_mutex_lock(&s->mutex);
    s->owner_active = false;
    pthread_mutex_unlock(&s->mutex);
}

/* With s->mutex held: is this callback running inside an owner call? */
static bool in_owner_call(const weir_sctp *s)
{
    return s->owner_active && pthread_equal(s->owner_thread, pthread_self());
}

void weir_sctp_on_output(weir_sctp *s, const void *buf, size_t len)
{
    if (len < 12 || len > WEIR_SCTP_MTU + 64)
        return; /* usrsctp never makes these; do not queue what we cannot send */
    pkt *p = weir_malloc(sizeof *p + len);
    p->next = NULL;
    p->len = len;
    memcpy(p->data, buf, len);
    /* The checksum usrsctp leaves out with CRC32c offload on (see sctp_global.c). */
    memset(p->data + 8, 0, 4);
    uint32_t crc = usrsctp_crc32c(p->data, len);
    memcpy(p->data + 8, &crc, 4);

    pthread_mutex_lock(&s->mutex);
    bool wake = !in_owner_call(s);
    if (s->tx_count >= TX_QUEUE_MAX) {
        s->tx_dropped++; /* SCTP retransmits; the owner is not draining anyway */
        weir_free(p);
    } else {
        if (s->tx_tail)
            s->tx_tail->next = p;
        else
            s->tx_head = p;
        s->tx_tail = p;
        s->tx_count++;
    }
    pthread_mutex_unlock(&s->mutex);
    if (wake && s->cfg.wake)
        s->cfg.wake(s->cfg.wake_user);
}

void weir_sctp_on_upcall(weir_sctp *s)
{
    pthread_mutex_lock(&s->mutex);
    bool wake = !in_owner_call(s);
    pthread_mutex_unlock(&s->mutex);
    if (wake && s->cfg.wake)
        s->cfg.wake(s->cfg.wake_user);
}

/* ---- channels ---- */

channel *weir_sctp_find_channel(weir_sctp *s, uint16_t stream)
{
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
        if (s->ch[i].state != CH_FREE && s->ch[i].stream == stream)
            return &s->ch[i];
    return NULL;
}

channel *weir_sctp_new_channel(weir_sctp *s, uint16_t stream)
{
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++) {
        channel *c = &s->ch[i];
        if (c->state == CH_FREE) {
            memset(c, 0, sizeof *c);
            c->state = CH_OPEN;
            c->stream = stream;
            c->ordered = true;
            return c;
        }
    }
    return NULL;
}

static void drop_queue(channel *c)
{
    while (c->q_head) {
        msg *m = c->q_head;
        c->q_head = m->next;
        weir_free(m);
    }
    c->q_tail = NULL;
    c->q_bytes = 0;
}

static void free_channel(channel *c)
{
    drop_queue(c);
    weir_free(c->label);
    weir_free(c->protocol);
    memset(c, 0, sizeof *c);
}

/* A slot is reusable once the close was reported and both directions are reset. */
void weir_sctp_maybe_free_channel(channel *c)
{
    if (c->state == CH_CLOSING && !c->closed_pending && c->reset_out_done && c->reset_in_done)
        free_channel(c);
}

/* Sends every outgoing stream reset that is due, in one request. */
void weir_sctp_send_resets(weir_sctp *s)
{
    if (!s->connected || s->closed)
        return;
    uint16_t list[WEIR_SCTP_MAX_CHANNELS];
    size_t n = 0;
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
        if (s->ch[i].state == CH_CLOSING && s->ch[i].reset_out_wanted)
            list[n++] = s->ch[i].stream;
    if (n == 0)
        return;
    size_t sz = sizeof(struct sctp_reset_streams) + n * sizeof(uint16_t);
    struct sctp_reset_streams *srs = weir_calloc(1, sz);
    srs->srs_assoc_id = SCTP_ALL_ASSOC;
    srs->srs_flags = SCTP_STREAM_RESET_OUTGOING;
    srs->srs_number_streams = (uint16_t)n;
    memcpy(srs->srs_stream_list, list, n * sizeof(uint16_t));
    int r = usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_RESET_STREAMS, srs, (socklen_t)sz);
    int err = errno;
    weir_free(srs);
    if (r == 0) {
        for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
            if (s->ch[i].state == CH_CLOSING)
                s->ch[i].reset_out_wanted = false;
    } else {
        /* One reset request at a time: EALREADY/EBUSY are retried on the next call. */
        WEIR_LOG_DEBUG("%s: stream reset of %zu stream(s) deferred: %s", s->log_id, n,
                       strerror(err));
    }
}

/* Starts closing c: its queue is dropped, our outgoing stream reset is due. */
void weir_sctp_start_close(weir_sctp *s, channel *c, const char *reason)
{
    if (c->state != CH_OPEN)
        return;
    c->state = CH_CLOSING;
    c->closed_pending = true;
    c->open_pending = false;
    c->drain_pending = false;
    snprintf(c->reason, sizeof c->reason, "%s", reason ? reason : "closed");
    drop_queue(c);
    if (!c->reset_out_done)
        c->reset_out_wanted = true;
    weir_sctp_send_resets(s);
}

/* ---- sending ---- */

/* One whole message to usrsctp: 0, -WEIR_EAGAIN when its buffer is full, other -WEIR_E*. */
int weir_sctp_sendv(weir_sctp *s, const channel *c, uint32_t ppid, const uint8_t *data, size_t len)
{
    struct sctp_sendv_spa spa;
    memset(&spa, 0, sizeof spa);
    spa.sendv_flags = SCTP_SEND_SNDINFO_VALID;
    spa.sendv_sndinfo.snd_sid = c->stream;
    spa.sendv_sndinfo.snd_ppid = htonl(ppid);
    spa.sendv_sndinfo.snd_flags = SCTP_EOR;
    /* DCEP itself always goes ordered and reliable (RFC 8832 §6). */
    if (ppid != WEIR_DCEP_PPID_DCEP) {
        if (!c->ordered)
            spa.sendv_sndinfo.snd_flags |= SCTP_UNORDERED;
        if (c->pr_policy != SCTP_PR_SCTP_NONE) {
            spa.sendv_flags |= SCTP_SEND_PRINFO_VALID;
            spa.sendv_prinfo.pr_policy = c->pr_policy;
            spa.sendv_prinfo.pr_value = c->pr_value;
        }
    }
    ssize_t r =
        usrsctp_sendv(s->sock, data, len, NULL, 0, &spa, (socklen_t)sizeof spa, SCTP_SENDV_SPA, 0);
    if (r >= 0)
        return 0;
    if (errno == EWOULDBLOCK || errno == EAGAIN)
        return -WEIR_EAGAIN;
    WEIR_LOG_DEBUG("%s: usrsctp_sendv on stream %u: %s", s->log_id, c->stream, strerror(errno));
    return -WEIR_EIO;
}

static void count_sent(weir_sctp *s, channel *c, size_t len)
{
    c->sent_total += len;
    s->stats.messages_out++;
    s->stats.bytes_out += len;
}

/* Moves queued messages into usrsctp while it takes them, channels round robin. */
void weir_sctp_flush_queues(weir_sctp *s)
{
    if (!s->connected || s->closed)
        return;
    bool progress = true;
    while (progress) {
        progress = false;
        for (unsigned k = 0; k < WEIR_SCTP_MAX_CHANNELS; k++) {
            channel *c = &s->ch[(s->rr_next + k) % WEIR_SCTP_MAX_CHANNELS];
            if (c->state != CH_OPEN || !c->q_head)
                continue;
            msg *m = c->q_head;
            int r = weir_sctp_sendv(s, c, m->ppid, m->data, m->len);
            if (r == -WEIR_EAGAIN) {
                s->rr_next = (s->rr_next + k) % WEIR_SCTP_MAX_CHANNELS;
                return; /* the send buffer is shared: nobody else fits either */
            }
            size_t payload =
                (m->ppid == WEIR_DCEP_PPID_STRING_EMPTY || m->ppid == WEIR_DCEP_PPID_BINARY_EMPTY)
                    ? 0
                    : m->len;
            c->q_head = m->next;
            if (!c->q_head)
                c->q_tail = NULL;
            c->q_bytes -= m->len;
            weir_free(m);
            if (r == 0) {
                count_sent(s, c, payload);
                if (!c->q_head)
                    c->drain_pending = true;
            }
            progress = true;
        }
    }
}

int weir_sctp_send(weir_sctp *s, uint16_t stream, bool binary, const uint8_t *data, size_t len)
{
    channel *c = weir_sctp_find_channel(s, stream);
    if (!c || c->state != CH_OPEN || s->closed)
        return -WEIR_ENOTFOUND;
    if (len > s->remote_max)
        return -WEIR_ETOOBIG;
    uint32_t ppid = weir_dcep_ppid_for(!binary, len);
    static const uint8_t zero = 0;
    const uint8_t *wire = len ? data : &zero; /* SCTP cannot carry 0 bytes (RFC 8831 §6.6) */
    size_t wire_len = len ? len : 1;
    owner_enter(s);
    int ret = 0;
    if (!c->q_head && s->connected) {
        int r = weir_sctp_sendv(s, c, ppid, wire, wire_len);
        if (r == 0) {
            count_sent(s, c, len);
            c->drain_pending = true;
            goto out;
        }
        if (r != -WEIR_EAGAIN) {
            ret = r;
            goto out;
        }
    }
    if (c->q_bytes + wire_len > s->max_buffered) {
        ret = -WEIR_EAGAIN;
        goto out;
    }
    msg *m = weir_malloc(sizeof *m + wire_len);
    m->next = NULL;
    m->ppid = ppid;
    m->len = wire_len;
    memcpy(m->data, wire, wire_len);
    if (c->q_tail)
        c->q_tail->next = m;
    else
        c->q_head = m;
    c->q_tail = m;
    c->q_bytes += wire_len;
out:
    owner_leave(s);
    return ret;
}

int weir_sctp_send_raw(weir_sctp *s, uint16_t stream, uint32_t ppid, const uint8_t *data,
                       size_t len)
{
    if (len == 0)
        return -WEIR_EINVAL;
    if (!s->connected || s->closed)
        return -WEIR_EAGAIN;
    channel any = {.stream = stream, .ordered = true};
    owner_enter(s);
    int r = weir_sctp_sendv(s, &any, ppid, data, len);
    owner_leave(s);
    return r;
}

size_t weir_sctp_buffered(const weir_sctp *s, uint16_t stream)
{
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
        if (s->ch[i].state != CH_FREE && s->ch[i].stream == stream)
            return s->ch[i].q_bytes;
    return 0;
}

/* Our stream ids: even when we are the DTLS client, odd when the server (RFC 8832 §6). */
static int pick_stream(weir_sctp *s, uint16_t *out)
{
    for (uint32_t id = s->cfg.dtls_client ? 0 : 1; id < SCTP_STREAMS; id += 2) {
        if (!weir_sctp_find_channel(s, (uint16_t)id)) {
            *out = (uint16_t)id;
            return 0;
        }
    }
    return -WEIR_EFULL;
}

int weir_sctp_open_channel(weir_sctp *s, const char *label, const char *protocol,
                           uint16_t *stream_out)
{
    if (!label)
        label = "";
    if (!protocol)
        protocol = "";
    if (strlen(label) > WEIR_SCTP_LABEL_MAX || strlen(protocol) > WEIR_SCTP_LABEL_MAX)
        return -WEIR_ETOOBIG;
    if (!s->connected || s->closed)
        return -WEIR_EAGAIN;
    uint16_t stream;
    if (pick_stream(s, &stream) < 0)
        return -WEIR_EFULL;
    uint8_t buf[WEIR_DCEP_OPEN_MAX_LEN];
    weir_dcep_open open = {
        .label = label,
        .protocol = protocol,
        .label_len = (uint16_t)strlen(label),
        .protocol_len = (uint16_t)strlen(protocol),
        .channel_type = WEIR_DCEP_CHANNEL_RELIABLE,
        .priority = WEIR_DCEP_PRIORITY_NORMAL,
    };
    int n = weir_dcep_open_write(buf, sizeof buf, &open);
    if (n < 0)
        return n;
    channel *c = weir_sctp_new_channel(s, stream);
    if (!c)
        return -WEIR_EFULL;
    owner_enter(s);
    int r = weir_sctp_sendv(s, c, WEIR_DCEP_PPID_DCEP, buf, (size_t)n);
    owner_leave(s);
    if (r < 0) {
        free_channel(c);
        return r == -WEIR_EAGAIN ? -WEIR_EAGAIN : r;
    }
    c->label = weir_strdup(label);
    c->protocol = weir_strdup(protocol);
    *stream_out = stream;
    return 0;
}

int weir_sctp_close_channel(weir_sctp *s, uint16_t stream, const char *reason)
{
    channel *c = weir_sctp_find_channel(s, stream);
    if (!c || c->state != CH_OPEN)
        return -WEIR_ENOTFOUND;
    owner_enter(s);
    weir_sctp_start_close(s, c, reason ? reason : "closed locally");
    owner_leave(s);
    return 0;
}

/* Reports what the state flags hold, in a fixed order: 1 with out filled, or 0. */
static int pending_event(weir_sctp *s, weir_sctp_event *out)
{
    memset(out, 0, sizeof *out);
    if (s->connected_pending) {
        s->connected_pending = false;
        out->type = WEIR_SCTP_EVENT_CONNECTED;
        return 1;
    }
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++) {
        channel *c = &s->ch[i];
        if (c->state == CH_FREE)
            continue;
        out->stream = c->stream;
        out->ordered = c->ordered;
        if (c->open_pending) {
            c->open_pending = false;
            out->type = WEIR_SCTP_EVENT_CHANNEL_OPEN;
            snprintf(out->label, sizeof out->label, "%s", c->label ? c->label : "");
            snprintf(out->protocol, sizeof out->protocol, "%s", c->protocol ? c->protocol : "");
            return 1;
        }
        if (c->closed_pending) {
            c->closed_pending = false;
            out->type = WEIR_SCTP_EVENT_CHANNEL_CLOSED;
            snprintf(out->reason, sizeof out->reason, "%s", c->reason);
            weir_sctp_maybe_free_channel(c);
            return 1;
        }
        if (c->drain_pending && c->state == CH_OPEN && !c->q_head) {
            c->drain_pending = false;
            out->type = WEIR_SCTP_EVENT_DRAINED;
            out->sent_total = c->sent_total;
            return 1;
        }
    }
    if (s->closed_pending) {
        s->closed_pending = false;
        out->type = WEIR_SCTP_EVENT_CLOSED;
        snprintf(out->reason, sizeof out->reason, "%s", s->closed_reason);
        return 1;
    }
    return 0;
}

int weir_sctp_poll_event(weir_sctp *s, weir_sctp_event *out)
{
    weir_free(s->ev_data); /* the previous MESSAGE's payload */
    s->ev_data = NULL;
    owner_enter(s);
    weir_sctp_send_resets(s);
    weir_sctp_flush_queues(s);
    int r = pending_event(s, out);
    /* Bounded: a burst of tiny pieces must not keep the owner here forever. */
    for (int i = 0; r == 0 && i < 4096; i++) {
        int p = weir_sctp_read_piece(s, out);
        if (p < 0)
            break;
        r = p == 1 ? 1 : pending_event(s, out);
        if (p == 1)
            break;
    }
    owner_leave(s);
    return r;
}

void weir_sctp_handle_packet(weir_sctp *s, const uint8_t *buf, size_t len)
{
    /* Shorter than the common header, or bigger than any MTU: not SCTP. */
    if (len < 12 || len > 65535)
        return;
    s->stats.packets_in++;
    owner_enter(s);
    usrsctp_conninput((void *)s->id, buf, len, 0);
    weir_sctp_flush_queues(s); /* a SACK may have made room */
    owner_leave(s);
}

int weir_sctp_poll_transmit(weir_sctp *s, uint8_t *buf, size_t cap, size_t *len)
{
    pthread_mutex_lock(&s->mutex);
    pkt *p = s->tx_head;
    if (p) {
        s->tx_head = p->next;
        if (!s->tx_head)
            s->tx_tail = NULL;
        s->tx_count--;
    }
    pthread_mutex_unlock(&s->mutex);
    if (!p)
        return 0;
    int ret = 0;
    if (p->len <= cap) {
        memcpy(buf, p->data, p->len);
        *len = p->len;
        s->stats.packets_out++;
        ret = 1;
    }
    weir_free(p);
    return ret;
}

bool weir_sctp_connected(const weir_sctp *s)
{
    return s->connected && !s->closed;
}

void weir_sctp_get_stats(const weir_sctp *s, weir_sctp_stats *out)
{
    *out = s->stats;
}

/* ---- life cycle ---- */

static int setopt(weir_sctp *s, int level, int name, const void *v, socklen_t len, const char *what)
{
    if (usrsctp_setsockopt(s->sock, level, name, v, len) == 0)
        return 0;
    WEIR_LOG_ERROR("%s: setsockopt %s: %s", s->log_id, what, strerror(errno));
    return -WEIR_EIO;
}

static int configure_socket(weir_sctp *s)
{
    int on = 1;
    struct linger lg = {.l_onoff = 1, .l_linger = 0}; /* close = ABORT, nothing lingers */
    struct sctp_assoc_value reset = {.assoc_id = SCTP_ALL_ASSOC,
                                     .assoc_value = SCTP_ENABLE_RESET_STREAM_REQ};
    struct sctp_initmsg init = {.sinit_num_ostreams = SCTP_STREAMS,
                                .sinit_max_instreams = SCTP_STREAMS};
    /* Whole messages of up to the queue bound must fit when the buffer is empty. */
    int sndbuf = (int)(s->max_buffered > 262144 ? s->max_buffered : 262144) + 65536;
    int rcvbuf = 1048576;
    if (usrsctp_set_non_blocking(s->sock, 1) < 0 ||
        setopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg, "SO_LINGER") < 0 ||
        setopt(s, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf, "SO_SNDBUF") < 0 ||
        setopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf, "SO_RCVBUF") < 0 ||
        setopt(s, IPPROTO_SCTP, SCTP_ENABLE_STREAM_RESET, &reset, sizeof reset, "RESET") < 0 ||
        setopt(s, IPPROTO_SCTP, SCTP_NODELAY, &on, sizeof on, "NODELAY") < 0 ||
        setopt(s, IPPROTO_SCTP, SCTP_RECVRCVINFO, &on, sizeof on, "RECVRCVINFO") < 0 ||
        setopt(s, IPPROTO_SCTP, SCTP_INITMSG, &init, sizeof init, "INITMSG") < 0)
        return -WEIR_EIO;
    static const uint16_t events[] = {SCTP_ASSOC_CHANGE, SCTP_STREAM_RESET_EVENT,
                                      SCTP_SENDER_DRY_EVENT};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++) {
        struct sctp_event ev = {.se_assoc_id = SCTP_ALL_ASSOC, .se_type = events[i], .se_on = 1};
        if (setopt(s, IPPROTO_SCTP, SCTP_EVENT, &ev, sizeof ev, "EVENT") < 0)
            return -WEIR_EIO;
    }
    return 0;
}

static int bind_and_connect(weir_sctp *s)
{
    struct sockaddr_conn local = {.sconn_family = AF_CONN,
                                  .sconn_port = htons(s->cfg.local_port),
                                  .sconn_addr = (void *)s->id};
    if (usrsctp_bind(s->sock, (struct sockaddr *)&local, sizeof local) < 0) {
        WEIR_LOG_ERROR("%s: usrsctp_bind: %s", s->log_id, strerror(errno));
        return -WEIR_EIO;
    }
    struct sockaddr_conn remote = local;
    remote.sconn_port = htons(s->cfg.remote_port);
    /* Both sides connect (RFC 8841 §9.3): SCTP resolves the INIT collision. */
    int r = usrsctp_connect(s->sock, (struct sockaddr *)&remote, sizeof remote);
    if (r < 0 && errno != EINPROGRESS) {
        WEIR_LOG_ERROR("%s: usrsctp_connect: %s", s->log_id, strerror(errno));
        return -WEIR_EIO;
    }
    /* Our packets go in DTLS records over a path we do not probe: fixed MTU. */
    struct sctp_paddrparams pp;
    memset(&pp, 0, sizeof pp);
    memcpy(&pp.spp_address, &remote, sizeof remote);
    /* Heartbeats every second (usrsctp adds the RTO and jitter): an idle data-only peer then
     * still sends something the server sees within its ICE consent timeout (5 s by default);
     * the default 30 s would have the server take a quiet whiteboard for a lost connection. */
    pp.spp_flags = SPP_PMTUD_DISABLE | SPP_HB_ENABLE;
    pp.spp_hbinterval = WEIR_SCTP_HEARTBEAT_MS;
    /* usrsctp adds the 12-byte common header on top of the MTU it is given for AF_CONN. */
    pp.spp_pathmtu = WEIR_SCTP_MTU - 12;
    if (usrsctp_setsockopt(s->sock, IPPROTO_SCTP, SCTP_PEER_ADDR_PARAMS, &pp, sizeof pp) < 0)
        WEIR_LOG_WARN("%s: fixing the SCTP MTU: %s", s->log_id, strerror(errno));
    return 0;
}

weir_sctp *weir_sctp_create(const weir_sctp_config *cfg)
{
    if (weir_sctp_global_init() < 0)
        return NULL;
    weir_sctp *s = WEIR_NEW(weir_sctp);
    s->cfg = *cfg;
    s->cfg.log_id = NULL;
    snprintf(s->log_id, sizeof s->log_id, "%s", cfg->log_id ? cfg->log_id : "sctp");
    if (!s->cfg.max_message_size)
        s->cfg.max_message_size = WEIR_SCTP_DEFAULT_MAX_MESSAGE;
    s->remote_max = cfg->remote_max_message_size ? cfg->remote_max_message_size
                                                 : WEIR_SCTP_REMOTE_DEFAULT_MAX_MESSAGE;
    s->max_buffered =
        cfg->max_buffered_per_channel ? cfg->max_buffered_per_channel : DEFAULT_MAX_BUFFERED;
    /* usrsctp takes whole messages only up to its send buffer (set from max_buffered). */
    uint32_t sendable = (s->max_buffered > 262144 ? s->max_buffered : 262144);
    if (s->remote_max > sendable)
        s->remote_max = sendable;
    pthread_mutex_init(&s->mutex, NULL);
    s->id = weir_sctp_registry_add(s);
    if (!s->id)
        goto fail;
    usrsctp_register_address((void *)s->id);
    owner_enter(s);
    s->sock = usrsctp_socket(AF_CONN, SOCK_STREAM, IPPROTO_SCTP, NULL, NULL, 0, NULL);
    if (!s->sock) {
        WEIR_LOG_ERROR("%s: usrsctp_socket: %s", s->log_id, strerror(errno));
        owner_leave(s);
        goto fail;
    }
    usrsctp_set_upcall(s->sock, weir_sctp_registry_upcall, (void *)s->id);
    int r = configure_socket(s);
    if (r == 0)
        r = bind_and_connect(s);
    owner_leave(s);
    if (r < 0)
        goto fail;
    return s;
fail:
    weir_sctp_destroy(s);
    return NULL;
}

void weir_sctp_destroy(weir_sctp *s)
{
    if (!s)
        return;
    if (s->id) {
        /* First: from here on callbacks for this id find nothing (sctp_internal.h). */
        weir_sctp_registry_remove(s->id);
        if (s->sock)
            usrsctp_close(s->sock); /* SO_LINGER 0: ABORT, the TCB goes at once */
        usrsctp_deregister_address((void *)s->id);
    }
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
        free_channel(&s->ch[i]);
    while (s->tx_head) {
        pkt *p = s->tx_head;
        s->tx_head = p->next;
        weir_free(p);
    }
    weir_free(s->rx);
    weir_free(s->ev_data);
    pthread_mutex_destroy(&s->mutex);
    weir_free(s);
}
