/**
 * The receiving half of an association (shell/sctp.h): reading usrsctp's
 * socket one piece at a time, joining the pieces of a large message up to
 * max_message_size, and acting on what arrives: DCEP OPEN/ACK, messages,
 * and usrsctp's notifications (association up or lost, stream resets,
 * sender dry). Owner thread only; shares the association with sctp.c
 * through sctp_internal.h.
 */
#include "proto/dcep.h"
#include "shell/sctp_internal.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <usrsctp.h>

#define WEIR_LOG_MODULE "sctp"

#define RX_PIECE 16384 /* bytes read from usrsctp per recvv */

static void on_dcep(weir_sctp *s, uint16_t stream, const uint8_t *buf, size_t len)
{
    int type = weir_dcep_message_type(buf, len);
    channel *c = weir_sctp_find_channel(s, stream);
    if (type == WEIR_DCEP_ACK) {
        if (!c || weir_dcep_ack_parse(buf, len) < 0)
            s->stats.dcep_malformed++;
        return; /* nothing waits for the ACK: we send ordered from the start */
    }
    weir_dcep_open open;
    int r = type == WEIR_DCEP_OPEN ? weir_dcep_open_parse(buf, len, &open) : -WEIR_EINVAL;
    if (r < 0 || c) { /* a second OPEN on a live stream is bogus */
        s->stats.dcep_malformed++;
        WEIR_LOG_INFO("%s: bad DCEP message on stream %u (%s)", s->log_id, stream,
                      r < 0 ? weir_strerror(r) : "stream in use");
        if (c)
            weir_sctp_start_close(s, c, "bad DCEP message");
        return;
    }
    /*
     * RFC 8832 §6: the peer should open on its parity (even for the DTLS
     * client). aiortc 1.4 picks the parity from its ICE role instead, so an
     * OPEN on ours is accepted when the stream is free; our own opens skip
     * streams in use, so the two sides cannot collide on one.
     */
    if ((stream % 2 == 0) == s->cfg.dtls_client)
        WEIR_LOG_DEBUG("%s: peer opened stream %u of our parity", s->log_id, stream);
    c = weir_sctp_new_channel(s, stream);
    if (!c) {
        WEIR_LOG_WARN("%s: refusing channel on stream %u: %d channels open", s->log_id, stream,
                      WEIR_SCTP_MAX_CHANNELS);
        return; /* never acknowledged: the peer's channel does not open */
    }
    c->label = weir_strndup(open.label, open.label_len);
    c->protocol = weir_strndup(open.protocol, open.protocol_len);
    c->ordered = !weir_dcep_channel_unordered(open.channel_type);
    switch (open.channel_type & ~WEIR_DCEP_CHANNEL_UNORDERED_BIT) {
    case WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_REXMIT:
        c->pr_policy = SCTP_PR_SCTP_RTX;
        break;
    case WEIR_DCEP_CHANNEL_PARTIAL_RELIABLE_TIMED:
        c->pr_policy = SCTP_PR_SCTP_TTL;
        break;
    default:
        c->pr_policy = SCTP_PR_SCTP_NONE;
    }
    c->pr_value = open.reliability;
    uint8_t ack[WEIR_DCEP_ACK_LEN];
    weir_dcep_ack_write(ack, sizeof ack);
    if (weir_sctp_sendv(s, c, WEIR_DCEP_PPID_DCEP, ack, sizeof ack) < 0)
        WEIR_LOG_INFO("%s: DCEP ACK on stream %u not sent", s->log_id, stream);
    c->open_pending = true;
}

/* A whole message arrived on stream: 1 when it became an event in out. */
static int on_message(weir_sctp *s, uint16_t stream, uint32_t ppid, weir_sctp_event *out)
{
    weir_dcep_ppid_info info;
    channel *c = weir_sctp_find_channel(s, stream);
    if (weir_dcep_ppid_classify(ppid, &info) < 0) {
        /* The deprecated partial PPIDs and unknown ones: refuse by closing. */
        if (c)
            weir_sctp_start_close(s, c, "unsupported payload protocol");
        return 0;
    }
    if (info.is_dcep) {
        on_dcep(s, stream, s->rx, s->rx_len);
        return 0;
    }
    if (!c || c->state != CH_OPEN) {
        s->stats.unknown_stream_in++;
        return 0;
    }
    size_t len = info.is_empty ? 0 : s->rx_len;
    s->stats.messages_in++;
    s->stats.bytes_in += len;
    memset(out, 0, sizeof *out);
    out->type = WEIR_SCTP_EVENT_MESSAGE;
    out->stream = stream;
    out->binary = !info.is_text;
    out->data = s->rx;
    out->len = len;
    s->ev_data = s->rx; /* handed out until the next call */
    s->rx = NULL;
    s->rx_cap = 0;
    return 1;
}

static void on_assoc_change(weir_sctp *s, const struct sctp_assoc_change *ac)
{
    switch (ac->sac_state) {
    case SCTP_COMM_UP:
    case SCTP_RESTART:
        if (!s->connected) {
            s->connected = true;
            s->connected_pending = true;
            WEIR_LOG_DEBUG("%s: association up (%u/%u streams)", s->log_id,
                           ac->sac_outbound_streams, ac->sac_inbound_streams);
        }
        break;
    case SCTP_COMM_LOST:
    case SCTP_SHUTDOWN_COMP:
    case SCTP_CANT_STR_ASSOC:
        if (!s->closed) {
            s->closed = true;
            s->closed_pending = true;
            snprintf(s->closed_reason, sizeof s->closed_reason, "%s",
                     ac->sac_state == SCTP_SHUTDOWN_COMP    ? "shut down"
                     : ac->sac_state == SCTP_CANT_STR_ASSOC ? "could not connect"
                                                            : "association lost");
            for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++)
                if (s->ch[i].state == CH_OPEN)
                    weir_sctp_start_close(s, &s->ch[i], s->closed_reason);
        }
        break;
    default:
        break;
    }
}

static void on_stream_reset(weir_sctp *s, const struct sctp_stream_reset_event *ev, size_t len)
{
    if (len < sizeof *ev)
        return;
    size_t n = (len - sizeof *ev) / sizeof(uint16_t);
    bool incoming = ev->strreset_flags & SCTP_STREAM_RESET_INCOMING_SSN;
    bool outgoing = ev->strreset_flags & SCTP_STREAM_RESET_OUTGOING_SSN;
    bool failed = ev->strreset_flags & (SCTP_STREAM_RESET_DENIED | SCTP_STREAM_RESET_FAILED);
    for (size_t i = 0; i < WEIR_SCTP_MAX_CHANNELS; i++) {
        channel *c = &s->ch[i];
        if (c->state == CH_FREE)
            continue;
        bool listed = n == 0;
        for (size_t k = 0; k < n && !listed; k++)
            listed = ev->strreset_stream_list[k] == c->stream;
        if (!listed)
            continue;
        if (incoming && !failed) {
            /* The peer closed its side: close ours too (RFC 8831 §6.7). */
            c->reset_in_done = true;
            weir_sctp_start_close(s, c, "closed by peer");
        }
        if (outgoing && c->state == CH_CLOSING && !c->reset_out_wanted) {
            c->reset_out_done = true; /* a refused reset is not retried: the slot is done */
        }
        weir_sctp_maybe_free_channel(c);
    }
    weir_sctp_send_resets(s); /* resets that waited for this one to finish */
}

static void on_notification(weir_sctp *s)
{
    if (s->rx_len < sizeof(struct sctp_tlv))
        return;
    const union sctp_notification *n = (const void *)s->rx;
    if (n->sn_header.sn_length > s->rx_len)
        return;
    switch (n->sn_header.sn_type) {
    case SCTP_ASSOC_CHANGE:
        if (s->rx_len >= sizeof(struct sctp_assoc_change))
            on_assoc_change(s, &n->sn_assoc_change);
        break;
    case SCTP_STREAM_RESET_EVENT:
        on_stream_reset(s, &n->sn_strreset_event, n->sn_header.sn_length);
        break;
    case SCTP_SENDER_DRY_EVENT:
        weir_sctp_flush_queues(s);
        break;
    default:
        break;
    }
}

static void rx_reserve(weir_sctp *s, size_t need)
{
    if (s->rx_cap >= need)
        return;
    size_t cap = s->rx_cap ? s->rx_cap : RX_PIECE;
    while (cap < need)
        cap *= 2;
    s->rx = weir_realloc(s->rx, cap);
    s->rx_cap = cap;
}

/* Reads one piece: 1 and an event in out, 0 when a piece was consumed, -1 when none is left. */
int weir_sctp_read_piece(weir_sctp *s, weir_sctp_event *out)
{
    rx_reserve(s, s->rx_discard ? RX_PIECE : s->rx_len + RX_PIECE);
    uint8_t *dst = s->rx_discard ? s->rx : s->rx + s->rx_len;
    struct sctp_rcvinfo rcv;
    memset(&rcv, 0, sizeof rcv);
    socklen_t infolen = sizeof rcv;
    unsigned infotype = 0;
    int flags = 0;
    struct sockaddr_conn from;
    socklen_t fromlen = sizeof from;
    ssize_t n = usrsctp_recvv(s->sock, dst, RX_PIECE, (struct sockaddr *)&from, &fromlen, &rcv,
                              &infolen, &infotype, &flags);
    if (n < 0)
        return -1;
    if (n == 0 && !(flags & MSG_EOR) && !(flags & MSG_NOTIFICATION))
        return -1; /* end of stream: the association is gone */
    bool notification = flags & MSG_NOTIFICATION;
    if (s->rx_len > 0 && !s->rx_discard &&
        (notification != s->rx_notification || (!notification && rcv.rcv_sid != s->rx_stream))) {
        s->rx_len = 0; /* a new message while one was unfinished: usrsctp aborted it */
    }
    s->rx_notification = notification;
    if (!notification)
        s->rx_stream = rcv.rcv_sid;
    if (!s->rx_discard) {
        s->rx_len += (size_t)n;
        if (!notification && s->rx_len > s->cfg.max_message_size)
            s->rx_discard = true;
    }
    if (!(flags & MSG_EOR))
        return 0;
    int ret = 0;
    if (notification) {
        on_notification(s);
    } else if (s->rx_discard) {
        s->stats.oversize_in++;
        channel *c = weir_sctp_find_channel(s, s->rx_stream);
        WEIR_LOG_INFO("%s: message on stream %u over %u bytes: closing the channel", s->log_id,
                      s->rx_stream, s->cfg.max_message_size);
        if (c) {
            char reason[80];
            snprintf(reason, sizeof reason, "message over %u bytes", s->cfg.max_message_size);
            weir_sctp_start_close(s, c, reason);
        }
    } else {
        ret = on_message(s, s->rx_stream, ntohl(rcv.rcv_ppid), out);
    }
    s->rx_len = 0;
    s->rx_discard = false;
    return ret;
}
