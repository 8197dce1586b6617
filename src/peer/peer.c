/*
 * The peer façade: RFC 7983 demux, the DTLS session and its events, the
 * event and transmit queues, statistics. RTP/RTCP processing is in
 * peer_rtp.c.
 */
#include <stdio.h>
#include <string.h>

#include "peer/peer_internal.h"
#include "proto/rtcp.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define WEIR_LOG_MODULE "peer"

/* First sizes of the event and RTCP rings (they double up to the _SLOTS maxima). */
#define EVENT_RING_FIRST 4
#define TX_RING_FIRST 2
/* Doubling must land exactly on the maxima (tx_len is a full-size array). */
#define IS_POW2(x) ((x) > 0 && ((x) & ((x)-1)) == 0)
_Static_assert(IS_POW2(WEIR_PEER_EVENT_SLOTS) && IS_POW2(EVENT_RING_FIRST) &&
                   EVENT_RING_FIRST <= WEIR_PEER_EVENT_SLOTS,
               "event ring sizes");
_Static_assert(IS_POW2(WEIR_PEER_RTCP_SLOTS) && IS_POW2(TX_RING_FIRST) &&
                   TX_RING_FIRST <= WEIR_PEER_RTCP_SLOTS,
               "RTCP ring sizes");

static const char *const drop_names[WEIR_PEER_DROP_COUNT] = {
    [WEIR_PEER_DROP_STUN] = "stun",
    [WEIR_PEER_DROP_NOT_RTP] = "not_rtp",
    [WEIR_PEER_DROP_DTLS] = "dtls",
    [WEIR_PEER_DROP_NO_KEYS] = "no_keys",
    [WEIR_PEER_DROP_CLOSED] = "closed",
    [WEIR_PEER_DROP_SRTP_AUTH] = "srtp_auth",
    [WEIR_PEER_DROP_SRTP_REPLAY] = "srtp_replay",
    [WEIR_PEER_DROP_SRTP_OTHER] = "srtp_other",
    [WEIR_PEER_DROP_MALFORMED] = "malformed",
    [WEIR_PEER_DROP_TOO_BIG] = "too_big",
    [WEIR_PEER_DROP_UNKNOWN_SSRC] = "unknown_ssrc",
    [WEIR_PEER_DROP_UNKNOWN_MID] = "unknown_mid",
    [WEIR_PEER_DROP_UNKNOWN_RID] = "unknown_rid",
    [WEIR_PEER_DROP_BAD_PT] = "bad_pt",
    [WEIR_PEER_DROP_RTX_ORPHAN] = "rtx_orphan",
    [WEIR_PEER_DROP_PADDING] = "padding",
    [WEIR_PEER_DROP_STREAM_LIMIT] = "stream_limit",
    [WEIR_PEER_DROP_QUEUE_FULL] = "queue_full",
};

const char *weir_peer_drop_name(weir_peer_drop d)
{
    if ((unsigned)d >= WEIR_PEER_DROP_COUNT)
        return "unknown";
    return drop_names[d];
}

static const char *state_name(peer_state s)
{
    switch (s) {
    case PEER_NEW:
        return "new";
    case PEER_CONNECTING:
        return "connecting";
    case PEER_CONNECTED:
        return "connected";
    case PEER_FAILED:
        return "failed";
    case PEER_CLOSED:
        return "closed";
    }
    return "?";
}

static void set_state(weir_peer *p, peer_state to, const char *reason)
{
    if (p->state == to)
        return;
    WEIR_LOG_INFO("state peer=%s from=%s to=%s reason=\"%s\"", p->log_id, state_name(p->state),
                  state_name(to), reason);
    p->state = to;
}

/*
 * Doubles a full ring of *cap elements of size elem (NULL, 0: allocates
 * `first`). The ring is full, so its entries run head..cap-1 then 0..head-1;
 * moving the wrapped part to cap.. keeps them in order from head.
 */
static void *ring_grow(void *ring, uint32_t *cap, uint32_t head, size_t elem, uint32_t first)
{
    if (*cap == 0) {
        *cap = first;
        return weir_calloc(first, elem);
    }
    uint8_t *r = weir_realloc(ring, (size_t)*cap * 2 * elem);
    memcpy(r + (size_t)*cap * elem, r, (size_t)head * elem);
    *cap *= 2;
    return r;
}

weir_peer_event *peer_event_push(weir_peer *p, weir_peer_event_type type)
{
    if (p->ev_count == WEIR_PEER_EVENT_SLOTS) {
        p->stats.events_dropped++;
        return NULL;
    }
    if (p->ev_count == p->ev_cap)
        p->events =
            ring_grow(p->events, &p->ev_cap, p->ev_head, sizeof *p->events, EVENT_RING_FIRST);
    weir_peer_event *ev = &p->events[(p->ev_head + p->ev_count) % p->ev_cap];
    p->ev_count++;
    memset(ev, 0, sizeof *ev);
    ev->type = type;
    return ev;
}

static void push_detail(weir_peer *p, weir_peer_event_type type, const char *detail)
{
    weir_peer_event *ev = peer_event_push(p, type);
    if (!ev)
        return;
    size_t n = strnlen(detail, sizeof ev->detail - 1);
    memcpy(ev->detail, detail, n);
    ev->detail[n] = '\0';
}

/* ---- configuration ------------------------------------------------------- */

static bool str_fits(const char *s, size_t max)
{
    return memchr(s, '\0', max + 1) != NULL;
}

static bool media_valid(const weir_peer_media *m)
{
    if (!str_fits(m->mid, WEIR_PEER_MID_MAX) || m->mid[0] == '\0')
        return false;
    if (m->n_rids > WEIR_PEER_MAX_RIDS || m->n_ssrcs > WEIR_PEER_MAX_SSRCS)
        return false;
    if (m->pt < 0 || m->pt > 127 || m->rtx_pt > 127 || m->red_pt > 127)
        return false;
    for (size_t i = 0; i < m->n_rids; i++)
        if (!str_fits(m->rids[i], WEIR_PEER_RID_MAX) || m->rids[i][0] == '\0')
            return false;
    return true;
}

static bool media_list_valid(const weir_peer_media *media, size_t n)
{
    if (n > WEIR_PEER_MAX_MEDIA || (n > 0 && !media))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!media_valid(&media[i]))
            return false;
    return true;
}

static bool config_valid(const weir_peer_config *cfg)
{
    return cfg && cfg->dtls_ctx && media_list_valid(cfg->media, cfg->n_media);
}

/* The receive ring and the transport-cc recorder, once the peer expects RTP / has the extension. */
static void ensure_buffers(weir_peer *p)
{
    if (p->n_media && !p->pkt_buf) {
        p->pkt_buf = weir_calloc(WEIR_PEER_PACKET_SLOTS, sizeof *p->pkt_buf);
        p->pkts = weir_calloc(WEIR_PEER_PACKET_SLOTS, sizeof *p->pkts);
        for (size_t i = 0; i < WEIR_PEER_PACKET_SLOTS; i++)
            p->pkts[i].data = p->pkt_buf[i];
    }
    p->twcc_on = p->ext.twcc != 0;
    if (p->twcc_on && !p->twcc) {
        p->twcc = weir_malloc(sizeof *p->twcc);
        weir_twcc_feedback_init(p->twcc, NULL);
    }
}

/* The media and stream tables, allocated once the peer has media. */
static void ensure_tables(weir_peer *p)
{
    if (p->media)
        return;
    p->media = weir_calloc(WEIR_PEER_MAX_MEDIA, sizeof *p->media);
    p->streams = weir_calloc(WEIR_PEER_MAX_STREAMS, sizeof *p->streams);
}

int weir_peer_update_media(weir_peer *p, const weir_peer_media *media, size_t n_media,
                           const weir_peer_extids *ext)
{
    if (!media_list_valid(media, n_media) || !ext)
        return -WEIR_EINVAL;
    if (n_media == 0 && !p->media) {
        /* still no media: nothing to remap, only the extensions change */
        p->ext = *ext;
        ensure_buffers(p);
        WEIR_LOG_INFO("media_updated peer=%s media=0 streams=0", p->log_id);
        return 0;
    }
    ensure_tables(p);
    int map[WEIR_PEER_MAX_MEDIA];
    for (size_t i = 0; i < p->n_media; i++) {
        map[i] = -1;
        for (size_t k = 0; k < n_media; k++)
            if (strcmp(p->media[i].mid, media[k].mid) == 0)
                map[i] = (int)k;
    }
    peer_stream saved[WEIR_PEER_MAX_STREAMS];
    memcpy(saved, p->streams, p->n_streams * sizeof *p->streams);
    size_t saved_n = p->n_streams, kept = 0;
    for (size_t i = 0; i < p->n_streams; i++) {
        peer_stream s = p->streams[i];
        if (s.media_index >= p->n_media || map[s.media_index] < 0)
            continue;
        s.media_index = (uint8_t)map[s.media_index];
        p->streams[kept++] = s;
    }
    weir_peer_media old_media[WEIR_PEER_MAX_MEDIA];
    size_t old_n = p->n_media;
    memcpy(old_media, p->media, old_n * sizeof *old_media);
    weir_peer_extids old_ext = p->ext;
    p->n_streams = kept;
    p->n_media = n_media;
    if (n_media)
        memcpy(p->media, media, n_media * sizeof *media);
    p->ext = *ext;
    if (peer_streams_init(p) < 0) {
        memcpy(p->streams, saved, saved_n * sizeof *p->streams);
        p->n_streams = saved_n;
        memcpy(p->media, old_media, old_n * sizeof *old_media);
        p->n_media = old_n;
        p->ext = old_ext;
        return -WEIR_ETOOBIG;
    }
    ensure_buffers(p);
    WEIR_LOG_INFO("media_updated peer=%s media=%zu streams=%zu", p->log_id, p->n_media,
                  p->n_streams);
    return 0;
}

/* Splits "sha-256 AB:CD:.." into its two halves; false when malformed. */
static bool split_fingerprint(const char *fp, char *alg, size_t alg_cap, const char **hex)
{
    const char *sp = strchr(fp, ' ');
    if (!sp || sp == fp || (size_t)(sp - fp) >= alg_cap)
        return false;
    memcpy(alg, fp, (size_t)(sp - fp));
    alg[sp - fp] = '\0';
    while (*sp == ' ')
        sp++;
    *hex = sp;
    return **hex != '\0';
}

weir_peer *weir_peer_create(const weir_peer_config *cfg)
{
    if (!config_valid(cfg)) {
        WEIR_LOG_WARN("create_failed reason=\"invalid config\"");
        return NULL;
    }
    weir_peer *p = WEIR_NEW(weir_peer);
    snprintf(p->log_id, sizeof p->log_id, "%s", cfg->log_id ? cfg->log_id : "-");
    p->ext = cfg->ext;
    p->n_media = cfg->n_media;
    if (cfg->n_media) {
        ensure_tables(p);
        memcpy(p->media, cfg->media, cfg->n_media * sizeof *cfg->media);
    }
    ensure_buffers(p);
    weir_lograte_init(&p->lograte, 1.0, 10.0);

    char alg[16];
    const char *hex = NULL;
    weir_dtls_config dc = {.role = cfg->role, .log_id = p->log_id};
    if (cfg->remote_fingerprint) {
        if (!split_fingerprint(cfg->remote_fingerprint, alg, sizeof alg, &hex))
            goto fail;
        dc.fingerprint_algorithm = alg;
        dc.fingerprint_hex = hex;
    }
    p->dtls = weir_dtls_create(cfg->dtls_ctx, &dc);
    if (!p->dtls || peer_streams_init(p) < 0)
        goto fail;
    WEIR_LOG_INFO("created peer=%s role=%s media=%zu streams=%zu", p->log_id,
                  cfg->role == WEIR_DTLS_ROLE_CLIENT ? "client" : "server", p->n_media,
                  p->n_streams);
    return p;
fail:
    WEIR_LOG_WARN("create_failed peer=%s reason=\"bad fingerprint, streams or dtls\"", p->log_id);
    weir_peer_destroy(p);
    return NULL;
}

void weir_peer_destroy(weir_peer *p)
{
    if (!p)
        return;
    weir_srtp_destroy(p->srtp);
    weir_dtls_destroy(p->dtls);
    weir_free(p->pkt_buf);
    weir_free(p->pkts);
    weir_free(p->media);
    weir_free(p->streams);
    weir_free(p->events);
    weir_free(p->tx_buf);
    weir_free(p->twcc);
    weir_free(p);
}

int weir_peer_set_remote_fingerprint(weir_peer *p, const char *fingerprint)
{
    char alg[16];
    const char *hex;
    if (!fingerprint || !split_fingerprint(fingerprint, alg, sizeof alg, &hex))
        return -WEIR_EINVAL;
    return weir_dtls_set_remote_fingerprint(p->dtls, alg, hex);
}

/* ---- DTLS ---------------------------------------------------------------- */

static int64_t clamp_now(weir_peer *p, int64_t now_us)
{
    if (now_us < p->last_now_us)
        return p->last_now_us;
    p->last_now_us = now_us;
    return now_us;
}

static void wipe(void *ptr, size_t len)
{
    volatile uint8_t *b = ptr;
    while (len--)
        *b++ = 0;
}

static void on_dtls_connected(weir_peer *p, weir_dtls_event *ev)
{
    p->srtp = weir_srtp_create(&ev->keys, NULL);
    wipe(&ev->keys, sizeof ev->keys);
    if (!p->srtp) {
        set_state(p, PEER_FAILED, "srtp session");
        push_detail(p, WEIR_PEER_EVENT_FAILED, "srtp session could not be created");
        return;
    }
    const char *profile = weir_srtp_profile_name(weir_srtp_get_profile(p->srtp));
    set_state(p, PEER_CONNECTED, profile);
    push_detail(p, WEIR_PEER_EVENT_CONNECTED, profile);
}

static void on_dtls_event(weir_peer *p, weir_dtls_event *ev)
{
    char detail[sizeof ev->detail + 32];
    switch (ev->type) {
    case WEIR_DTLS_EVENT_CONNECTED:
        if (p->state == PEER_NEW || p->state == PEER_CONNECTING)
            on_dtls_connected(p, ev);
        return;
    case WEIR_DTLS_EVENT_FAILED:
        snprintf(detail, sizeof detail, "dtls %s%s%s", weir_dtls_reason_name(ev->reason),
                 ev->detail[0] ? ": " : "", ev->detail);
        set_state(p, PEER_FAILED, detail);
        push_detail(p, WEIR_PEER_EVENT_FAILED, detail);
        return;
    case WEIR_DTLS_EVENT_CLOSED:
        set_state(p, PEER_CLOSED, weir_dtls_reason_name(ev->reason));
        push_detail(p, WEIR_PEER_EVENT_CLOSED, weir_dtls_reason_name(ev->reason));
        return;
    }
}

static void pump_dtls(weir_peer *p)
{
    weir_dtls_event ev;
    while (weir_dtls_poll_event(p->dtls, &ev) == 1)
        on_dtls_event(p, &ev);
    if (p->keep_data)
        return; /* weir_peer_poll_data hands it over */
    /* No data channel on this PC: drain so DTLS does not buffer. */
    const uint8_t *data;
    size_t len;
    while (weir_dtls_poll_data(p->dtls, &data, &len) == 1)
        p->stats.dtls_data_bytes += len;
}

void weir_peer_enable_data(weir_peer *p, bool on)
{
    p->keep_data = on;
}

int weir_peer_poll_data(weir_peer *p, const uint8_t **data, size_t *len)
{
    if (!p->keep_data || weir_dtls_poll_data(p->dtls, data, len) != 1)
        return 0;
    p->stats.dtls_data_bytes += *len;
    return 1;
}

int weir_peer_send_data(weir_peer *p, int64_t now_us, const uint8_t *buf, size_t len)
{
    now_us = clamp_now(p, now_us);
    int rc = weir_dtls_write(p->dtls, now_us, buf, len);
    if (rc == 0)
        p->stats.dtls_data_sent_bytes += len;
    return rc;
}

int weir_peer_start(weir_peer *p, int64_t now_us)
{
    now_us = clamp_now(p, now_us);
    if (p->state != PEER_NEW)
        return -WEIR_EPERM;
    int rc = weir_dtls_start(p->dtls, now_us);
    if (rc < 0)
        return rc;
    set_state(p, PEER_CONNECTING, "start");
    pump_dtls(p);
    return 0;
}

static int handle_dtls(weir_peer *p, int64_t now_us, const uint8_t *buf, size_t len)
{
    if (p->state == PEER_NEW)
        set_state(p, PEER_CONNECTING, "first dtls datagram");
    if (weir_dtls_handle_datagram(p->dtls, now_us, buf, len) < 0)
        return peer_drop(p, WEIR_PEER_DROP_DTLS);
    p->stats.dtls_datagrams++;
    pump_dtls(p);
    return 0;
}

/* RFC 7983 §7 and RFC 5761 §4. */
int weir_peer_handle_datagram(weir_peer *p, int64_t now_us, uint8_t *buf, size_t len)
{
    now_us = clamp_now(p, now_us);
    if (len == 0)
        return peer_drop(p, WEIR_PEER_DROP_NOT_RTP);
    uint8_t b = buf[0];
    if (b <= 3)
        return peer_drop(p, WEIR_PEER_DROP_STUN);
    if (weir_dtls_is_record(b))
        return handle_dtls(p, now_us, buf, len);
    if (b < 128 || b > 191)
        return peer_drop(p, WEIR_PEER_DROP_NOT_RTP);
    if (p->state == PEER_FAILED || p->state == PEER_CLOSED)
        return peer_drop(p, WEIR_PEER_DROP_CLOSED);
    if (!p->srtp)
        return peer_drop(p, WEIR_PEER_DROP_NO_KEYS);
    if (len < 2)
        return peer_drop(p, WEIR_PEER_DROP_MALFORMED);
    if (buf[1] >= 192 && buf[1] <= 223)
        return peer_handle_srtcp(p, now_us, buf, len);
    int rc = peer_handle_srtp(p, now_us, buf, len);
    peer_pump_twcc(p, now_us);
    return rc;
}

int weir_peer_handle_timeout(weir_peer *p, int64_t now_us)
{
    now_us = clamp_now(p, now_us);
    weir_dtls_handle_timeout(p->dtls, now_us);
    pump_dtls(p);
    if (p->state == PEER_CONNECTED)
        peer_pump_twcc(p, now_us);
    return 0;
}

int64_t weir_peer_next_timeout(const weir_peer *p)
{
    int64_t t = weir_dtls_next_timeout(p->dtls);
    if (t == WEIR_DTLS_NO_TIMEOUT)
        t = WEIR_PEER_NO_TIMEOUT;
    if (p->twcc_on && p->srtp && p->state == PEER_CONNECTED) {
        int64_t fb = weir_twcc_feedback_next_timeout(p->twcc);
        if (fb != WEIR_TWCC_FB_NO_TIMEOUT && fb < t)
            t = fb;
    }
    return t;
}

int weir_peer_close(weir_peer *p, int64_t now_us)
{
    now_us = clamp_now(p, now_us);
    if (p->state == PEER_CLOSED || p->state == PEER_FAILED)
        return 0;
    weir_dtls_close(p->dtls, now_us);
    pump_dtls(p);
    set_state(p, PEER_CLOSED, "local close");
    return 0;
}

/* ---- outputs ------------------------------------------------------------- */

int weir_peer_poll_transmit(weir_peer *p, weir_transmit *out)
{
    if (weir_dtls_poll_transmit(p->dtls, &out->data, &out->len) == 1)
        return 1;
    if (p->tx_count == 0)
        return 0;
    /* The slot is free for reuse now, but nothing writes it before the next call on p. */
    out->data = p->tx_buf[p->tx_head];
    out->len = p->tx_len[p->tx_head];
    p->tx_head = (p->tx_head + 1) % p->tx_cap;
    p->tx_count--;
    return 1;
}

int weir_peer_poll_event(weir_peer *p, weir_peer_event *out)
{
    if (p->ev_count == 0)
        return 0;
    *out = p->events[p->ev_head];
    p->ev_head = (p->ev_head + 1) % p->ev_cap;
    p->ev_count--;
    return 1;
}

int weir_peer_poll_packet(weir_peer *p, weir_peer_packet *out)
{
    if (p->pkt_count == 0)
        return 0;
    *out = p->pkts[p->pkt_head];
    p->pkt_head = (p->pkt_head + 1) % WEIR_PEER_PACKET_SLOTS;
    p->pkt_count--;
    return 1;
}

int weir_peer_send_rtcp(weir_peer *p, const uint8_t *buf, size_t len)
{
    if (!p->srtp || p->state != PEER_CONNECTED)
        return -WEIR_EPERM;
    if (len > WEIR_PEER_PACKET_MAX - WEIR_SRTP_MAX_RTCP_OVERHEAD)
        return -WEIR_ETOOBIG;
    if (weir_rtcp_validate(buf, len) < 0)
        return -WEIR_EINVAL;
    if (p->tx_count == WEIR_PEER_RTCP_SLOTS)
        return -WEIR_EAGAIN;
    if (p->tx_count == p->tx_cap) {
        p->tx_buf = ring_grow(p->tx_buf, &p->tx_cap, p->tx_head, sizeof *p->tx_buf, TX_RING_FIRST);
        /* tx_len is a full-size array: move the wrapped lengths the same way */
        memcpy(p->tx_len + p->tx_cap / 2, p->tx_len, p->tx_head * sizeof *p->tx_len);
    }
    uint32_t slot = (p->tx_head + p->tx_count) % p->tx_cap;
    memcpy(p->tx_buf[slot], buf, len);
    size_t n = len;
    int rc = weir_srtp_protect_rtcp(p->srtp, p->tx_buf[slot], &n, WEIR_PEER_PACKET_MAX);
    if (rc < 0)
        return rc;
    p->tx_len[slot] = n;
    p->tx_count++;
    p->stats.rtcp_sent++;
    return 0;
}

int weir_peer_protect_rtp(weir_peer *p, uint8_t *buf, size_t *len, size_t cap)
{
    if (!p->srtp || p->state != PEER_CONNECTED)
        return -WEIR_EPERM;
    size_t plain = *len;
    int rc = weir_srtp_protect_rtp(p->srtp, buf, len, cap);
    if (rc < 0)
        return rc;
    p->stats.rtp_sent++;
    p->stats.rtp_sent_bytes += plain;
    return 0;
}

int weir_peer_protect_rtcp(weir_peer *p, uint8_t *buf, size_t *len, size_t cap)
{
    if (!p->srtp || p->state != PEER_CONNECTED)
        return -WEIR_EPERM;
    int rc = weir_srtp_protect_rtcp(p->srtp, buf, len, cap);
    if (rc < 0)
        return rc;
    p->stats.rtcp_sent++;
    return 0;
}

/* ---- inspection ---------------------------------------------------------- */

void weir_peer_get_stats(const weir_peer *p, weir_peer_stats *out)
{
    *out = p->stats;
}

size_t weir_peer_stream_count(const weir_peer *p)
{
    return p->n_streams;
}

int weir_peer_get_stream(const weir_peer *p, size_t i, weir_peer_stream_info *out)
{
    if (i >= p->n_streams)
        return -WEIR_ENOTFOUND;
    peer_stream_info(p, &p->streams[i], out);
    return 0;
}

int weir_peer_find_stream(const weir_peer *p, uint32_t ssrc, weir_peer_stream_info *out)
{
    for (size_t i = 0; i < p->n_streams; i++) {
        if (p->streams[i].ssrc == ssrc) {
            peer_stream_info(p, &p->streams[i], out);
            return 0;
        }
    }
    return -WEIR_ENOTFOUND;
}

const weir_peer_media *weir_peer_get_media(const weir_peer *p, size_t i)
{
    return i < p->n_media ? &p->media[i] : NULL;
}

bool weir_peer_is_connected(const weir_peer *p)
{
    return p->state == PEER_CONNECTED;
}
