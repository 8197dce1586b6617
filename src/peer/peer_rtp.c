/*
 * The packet path of the ingress peer: SRTP unprotect (once, in place),
 * RTP parse, SSRC → stream routing with learning from mid/rid header
 * extensions, RTX unwrap, receive statistics; SRTCP unprotect and the RTCP
 * a publisher sends us (SR for lip-sync, feedback as events).
 */
#include <stdio.h>
#include <string.h>

#include "peer/peer_internal.h"
#include "proto/rtcp.h"
#include "proto/rtcp_fb.h"
#include "proto/twcc.h"
#include "weir/errors.h"

#define WEIR_LOG_MODULE "peer"

/* ---- streams ------------------------------------------------------------- */

static peer_stream *find_stream(weir_peer *p, uint32_t ssrc)
{
    for (size_t i = 0; i < p->n_streams; i++)
        if (p->streams[i].ssrc == ssrc)
            return &p->streams[i];
    return NULL;
}

/* The stream carrying (media, layer, rtx), or NULL. */
static peer_stream *find_slot(weir_peer *p, uint8_t media_index, uint8_t layer, bool is_rtx)
{
    for (size_t i = 0; i < p->n_streams; i++) {
        peer_stream *s = &p->streams[i];
        if (s->media_index == media_index && s->layer == layer && s->is_rtx == is_rtx)
            return s;
    }
    return NULL;
}

static void stream_reset(peer_stream *s, uint32_t ssrc, uint8_t media_index, uint8_t layer,
                         bool is_rtx)
{
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    s->media_index = media_index;
    s->layer = layer;
    s->is_rtx = is_rtx;
}

static int add_announced(weir_peer *p, uint32_t ssrc, uint8_t media_index, uint8_t layer,
                         bool is_rtx)
{
    if (ssrc == 0 || find_stream(p, ssrc))
        return 0; /* a duplicate a=ssrc keeps its first meaning */
    if (p->n_streams == WEIR_PEER_MAX_STREAMS)
        return -WEIR_ETOOBIG;
    const weir_peer_media *m = &p->media[media_index];
    peer_stream *s = &p->streams[p->n_streams++];
    stream_reset(s, ssrc, media_index, layer, is_rtx);
    s->announced = true;
    s->payload_type = (uint8_t)(is_rtx ? m->rtx_pt : m->pt);
    return 0;
}

int peer_streams_init(weir_peer *p)
{
    for (size_t mi = 0; mi < p->n_media; mi++) {
        const weir_peer_media *m = &p->media[mi];
        for (size_t i = 0; i < m->n_ssrcs; i++) {
            if (add_announced(p, m->ssrcs[i].media, (uint8_t)mi, (uint8_t)i, false) < 0)
                return -WEIR_ETOOBIG;
            if (m->rtx_pt >= 0 &&
                add_announced(p, m->ssrcs[i].rtx, (uint8_t)mi, (uint8_t)i, true) < 0)
                return -WEIR_ETOOBIG;
        }
    }
    return 0;
}

void peer_stream_info(const weir_peer *p, const peer_stream *s, weir_peer_stream_info *out)
{
    memset(out, 0, sizeof *out);
    out->ssrc = s->ssrc;
    out->media_index = s->media_index;
    out->layer = s->layer;
    out->is_rtx = s->is_rtx;
    out->announced = s->announced;
    out->payload_type = s->payload_type;
    out->clock_rate_hz = p->media[s->media_index].clock_rate_hz;
    out->packets = s->packets;
    out->bytes = s->bytes;
    if (s->packets > 0) {
        uint64_t highest = s->cycles + s->max_seq;
        out->highest_seq = (uint32_t)highest;
        out->lost = (int64_t)(highest - s->base_seq + 1) - (int64_t)s->packets;
    }
    out->has_sr = s->has_sr;
    out->sr_ntp = s->sr_ntp;
    out->sr_rtp_ts = s->sr_rtp_ts;
    out->sr_arrival_us = s->sr_arrival_us;
}

/* RFC 3550 A.1, without probation: a stream counts from its first authenticated packet. */
static void stream_count(peer_stream *s, const weir_rtp *h)
{
    if (s->packets == 0) {
        s->max_seq = h->seq;
        s->base_seq = h->seq;
    } else if ((int16_t)(uint16_t)(h->seq - s->max_seq) > 0) {
        if (h->seq < s->max_seq)
            s->cycles += 65536;
        s->max_seq = h->seq;
    }
    s->packets++;
    s->bytes += h->payload_len;
}

/* ---- learning ------------------------------------------------------------ */

/* Reads a mid/rid/repaired-rid extension: its length (> 0), or < 0 when absent or invalid. */
static int read_str_ext(const weir_rtp *h, const uint8_t *buf, uint8_t id, char *out, size_t cap)
{
    weir_rtp_ext e;
    if (id == 0 || !h->has_ext || weir_rtp_ext_find(h, buf, id, &e) < 0)
        return -WEIR_ENOTFOUND;
    return weir_rtp_ext_str_parse(&e, out, cap);
}

static int find_media(const weir_peer *p, const char *mid)
{
    for (size_t i = 0; i < p->n_media; i++)
        if (strcmp(p->media[i].mid, mid) == 0)
            return (int)i;
    return -1;
}

static int find_rid(const weir_peer_media *m, const char *rid)
{
    for (size_t i = 0; i < m->n_rids; i++)
        if (strcmp(m->rids[i], rid) == 0)
            return (int)i;
    return -1;
}

/*
 * Where an unknown SSRC belongs, from its header extensions (RFC 8843 §15,
 * RFC 8852 §3). Chromium puts mid and rid on media packets and mid and
 * repaired-rid on RTX packets (until it has seen an RTCP RR for the SSRC,
 * so the first packets are always routable). Returns a drop reason, or
 * WEIR_PEER_DROP_COUNT when routable.
 */
static weir_peer_drop classify(const weir_peer *p, const weir_rtp *h, const uint8_t *buf,
                               uint8_t *media_index, uint8_t *layer, bool *is_rtx)
{
    char mid[WEIR_PEER_MID_MAX + 1], rid[WEIR_PEER_RID_MAX + 1];
    if (read_str_ext(h, buf, p->ext.mid, mid, sizeof mid) <= 0)
        return WEIR_PEER_DROP_UNKNOWN_SSRC;
    int mi = find_media(p, mid);
    if (mi < 0)
        return WEIR_PEER_DROP_UNKNOWN_MID;
    const weir_peer_media *m = &p->media[mi];
    *media_index = (uint8_t)mi;
    *layer = 0;
    *is_rtx = m->rtx_pt >= 0 && h->payload_type == m->rtx_pt;
    if (read_str_ext(h, buf, p->ext.repaired_rid, rid, sizeof rid) > 0)
        *is_rtx = true;
    else if (read_str_ext(h, buf, p->ext.rid, rid, sizeof rid) <= 0)
        rid[0] = '\0';
    if (m->n_rids == 0)
        return WEIR_PEER_DROP_COUNT;
    int li = rid[0] ? find_rid(m, rid) : -1;
    if (li < 0)
        return WEIR_PEER_DROP_UNKNOWN_RID;
    *layer = (uint8_t)li;
    return WEIR_PEER_DROP_COUNT;
}

/*
 * A new SSRC for a (media, layer, rtx) slot that a learned SSRC already
 * holds replaces it: the sender restarted that encoding (a new SSRC after
 * replaceTrack or an SSRC collision, RFC 3550 §8.2). Announced slots are
 * never replaced by learning.
 */
static peer_stream *learn_stream(weir_peer *p, int64_t now_us, const weir_rtp *h,
                                 const uint8_t *buf, weir_peer_drop *why)
{
    uint8_t mi, layer;
    bool is_rtx;
    *why = classify(p, h, buf, &mi, &layer, &is_rtx);
    if (*why != WEIR_PEER_DROP_COUNT)
        return NULL;
    peer_stream *s = find_slot(p, mi, layer, is_rtx);
    if (s && !s->announced) {
        if (p->srtp)
            weir_srtp_remove_ssrc(p->srtp, s->ssrc, false);
    } else if (p->streams && p->n_streams < WEIR_PEER_MAX_STREAMS) { /* classify found media */
        s = &p->streams[p->n_streams++];
    } else {
        *why = WEIR_PEER_DROP_STREAM_LIMIT;
        return NULL;
    }
    uint32_t old = s->ssrc;
    stream_reset(s, h->ssrc, mi, layer, is_rtx);
    s->payload_type = h->payload_type;
    uint32_t suppressed;
    if (weir_lograte_allow(&p->lograte, now_us, &suppressed))
        WEIR_LOG_INFO("stream_learned peer=%s mid=%s layer=%u rtx=%d ssrc=%u replaced=%u "
                      "suppressed=%u",
                      p->log_id, p->media[mi].mid, layer, is_rtx, h->ssrc, old, suppressed);
    return s;
}

static void push_stream_learned(weir_peer *p, const peer_stream *s)
{
    weir_peer_event *ev = peer_event_push(p, WEIR_PEER_EVENT_STREAM_LEARNED);
    if (!ev)
        return;
    const weir_peer_media *m = &p->media[s->media_index];
    ev->ssrc = s->ssrc;
    ev->media_index = s->media_index;
    ev->layer = s->layer;
    ev->is_rtx = s->is_rtx;
    memcpy(ev->mid, m->mid, sizeof ev->mid);
    if (s->layer < m->n_rids)
        memcpy(ev->rid, m->rids[s->layer], sizeof ev->rid);
}

static bool pt_allowed(const weir_peer *p, const peer_stream *s, uint8_t pt)
{
    const weir_peer_media *m = &p->media[s->media_index];
    if (s->is_rtx)
        return m->rtx_pt >= 0 && pt == m->rtx_pt;
    return pt == m->pt || (m->red_pt >= 0 && pt == m->red_pt);
}

/* ---- RTP ----------------------------------------------------------------- */

static weir_peer_drop srtp_drop(int rc)
{
    switch (-rc) {
    case WEIR_SRTP_EAUTH:
        return WEIR_PEER_DROP_SRTP_AUTH;
    case WEIR_SRTP_EREPLAY:
        return WEIR_PEER_DROP_SRTP_REPLAY;
    case WEIR_EINVAL:
        return WEIR_PEER_DROP_MALFORMED;
    default:
        return WEIR_PEER_DROP_SRTP_OTHER;
    }
}

static void read_exts(const weir_peer *p, weir_peer_packet *pkt)
{
    weir_rtp_ext e;
    const weir_rtp *h = &pkt->rtp;
    if (!h->has_ext)
        return;
    if (p->ext.twcc && weir_rtp_ext_find(h, pkt->data, p->ext.twcc, &e) == 0)
        pkt->has_twcc_seq = weir_rtp_twcc_seq_parse(&e, &pkt->twcc_seq) == 0;
    if (p->ext.audio_level && weir_rtp_ext_find(h, pkt->data, p->ext.audio_level, &e) == 0)
        pkt->has_audio_level = weir_rtp_audio_level_parse(&e, &pkt->voice, &pkt->audio_level) == 0;
    if (p->ext.abs_send_time && weir_rtp_ext_find(h, pkt->data, p->ext.abs_send_time, &e) == 0)
        pkt->has_abs_send_time = weir_rtp_abs_send_time_parse(&e, &pkt->abs_send_time) == 0;
}

/* Copies a routed packet into the next ring slot, unwrapping RTX there; returns 0 or 1. */
static int enqueue(weir_peer *p, int64_t now_us, const peer_stream *s, const weir_rtp *h,
                   const uint8_t *buf, size_t len)
{
    if (len > WEIR_PEER_PACKET_MAX)
        return peer_drop(p, WEIR_PEER_DROP_TOO_BIG);
    if (p->pkt_count == WEIR_PEER_PACKET_SLOTS || !p->pkts)
        return peer_drop(p, WEIR_PEER_DROP_QUEUE_FULL);
    const peer_stream *orig = NULL;
    if (s->is_rtx) {
        orig = find_slot(p, s->media_index, s->layer, false);
        if (!orig)
            return peer_drop(p, WEIR_PEER_DROP_RTX_ORPHAN);
    }
    weir_peer_packet *pkt = &p->pkts[(p->pkt_head + p->pkt_count) % WEIR_PEER_PACKET_SLOTS];
    uint8_t *data = pkt->data;
    memset(pkt, 0, sizeof *pkt);
    pkt->data = data;
    memcpy(data, buf, len);
    pkt->rtp = *h;
    pkt->len = len;
    if (orig) {
        int n =
            weir_rtp_rtx_unwrap(&pkt->rtp, data, orig->ssrc, (uint8_t)p->media[s->media_index].pt);
        if (n < 0)
            return peer_drop(p, WEIR_PEER_DROP_MALFORMED);
        pkt->len = (size_t)n;
        pkt->was_rtx = true;
    }
    pkt->arrival_us = now_us;
    pkt->media_index = s->media_index;
    pkt->layer = s->layer;
    read_exts(p, pkt);
    p->pkt_count++;
    p->stats.rtp_packets++;
    p->stats.rtp_bytes += pkt->len;
    return 0;
}

static void record_twcc(weir_peer *p, int64_t now_us, const weir_rtp *h, const uint8_t *buf)
{
    weir_rtp_ext e;
    uint16_t seq;
    if (!p->twcc_on || weir_rtp_ext_find(h, buf, p->ext.twcc, &e) < 0 ||
        weir_rtp_twcc_seq_parse(&e, &seq) < 0)
        return;
    weir_twcc_feedback_handle_packet(p->twcc, seq, now_us);
    if (!p->twcc_media_ssrc)
        p->twcc_media_ssrc = h->ssrc;
}

/* Our SSRC as the sender of feedback (we send no media on a publisher PC). */
#define FEEDBACK_SENDER_SSRC 1

void peer_pump_twcc(weir_peer *p, int64_t now_us)
{
    if (!p->twcc_on || !p->srtp || weir_twcc_feedback_next_timeout(p->twcc) > now_us)
        return;
    uint8_t buf[WEIR_PEER_PACKET_MAX - WEIR_SRTP_MAX_RTCP_OVERHEAD];
    size_t len = 0;
    /* Bounded: a feedback cut short by the buffer leaves the rest due at once. */
    for (int i = 0; i < 4; i++) {
        if (weir_twcc_feedback_poll_feedback(p->twcc, now_us, FEEDBACK_SENDER_SSRC,
                                             p->twcc_media_ssrc, buf, sizeof buf, &len) != 1)
            return;
        if (weir_peer_send_rtcp(p, buf, len) < 0)
            return;
        p->stats.twcc_feedback_sent++;
    }
}

int peer_handle_srtp(weir_peer *p, int64_t now_us, uint8_t *buf, size_t len)
{
    size_t n = len;
    int rc = weir_srtp_unprotect_rtp(p->srtp, buf, &n);
    if (rc < 0)
        return peer_drop(p, srtp_drop(rc));
    weir_rtp h;
    if (weir_rtp_parse(&h, buf, n) < 0)
        return peer_drop(p, WEIR_PEER_DROP_MALFORMED);
    record_twcc(p, now_us, &h, buf);
    peer_stream *s = find_stream(p, h.ssrc);
    if (!s) {
        weir_peer_drop why;
        s = learn_stream(p, now_us, &h, buf, &why);
        if (!s)
            return peer_drop(p, why);
    }
    if (!pt_allowed(p, s, h.payload_type))
        return peer_drop(p, WEIR_PEER_DROP_BAD_PT);
    stream_count(s, &h);
    if (!s->seen) {
        s->seen = true;
        push_stream_learned(p, s);
    }
    /* Probes: padding only, or an RTX packet with no OSN (RFC 4588 §4). */
    if (h.payload_len == 0 || (s->is_rtx && h.payload_len < 2))
        return peer_drop(p, WEIR_PEER_DROP_PADDING);
    return enqueue(p, now_us, s, &h, buf, n);
}

/* ---- RTCP ---------------------------------------------------------------- */

static void on_sr(weir_peer *p, int64_t now_us, const weir_rtcp_pkt *pkt)
{
    weir_rtcp_sr sr;
    if (weir_rtcp_sr_parse(pkt, &sr) < 0)
        return;
    p->stats.rtcp_sr++;
    peer_stream *s = find_stream(p, sr.ssrc);
    if (!s) {
        p->stats.rtcp_sr_unknown_ssrc++;
        return;
    }
    s->has_sr = true;
    s->sr_ntp = sr.ntp;
    s->sr_rtp_ts = sr.rtp_ts;
    s->sr_arrival_us = now_us;
}

static weir_peer_event *push_fb(weir_peer *p, weir_peer_fb_type fb, uint32_t sender, uint32_t media)
{
    weir_peer_event *ev = peer_event_push(p, WEIR_PEER_EVENT_RTCP_FEEDBACK);
    if (ev) {
        ev->fb = fb;
        ev->sender_ssrc = sender;
        ev->media_ssrc = media;
    }
    return ev;
}

static void on_rtpfb(weir_peer *p, const weir_rtcp_pkt *pkt)
{
    weir_rtcp_fb_nack nack;
    weir_twcc_iter it;
    weir_twcc twcc;
    if (pkt->count == WEIR_RTCP_FB_NACK && weir_rtcp_fb_nack_parse(pkt, &nack) == 0) {
        p->stats.rtcp_nack++;
        weir_peer_event *ev = push_fb(p, WEIR_PEER_FB_NACK, nack.sender_ssrc, nack.media_ssrc);
        if (!ev)
            return;
        size_t total = weir_rtcp_fb_nack_expand(&nack, ev->nack_seqs, WEIR_PEER_EVENT_MAX_NACK);
        ev->nack_total = (uint32_t)total;
        ev->nack_count =
            (uint16_t)(total < WEIR_PEER_EVENT_MAX_NACK ? total : WEIR_PEER_EVENT_MAX_NACK);
    } else if (pkt->count == WEIR_RTCP_FB_TWCC && weir_twcc_iter_init(&it, pkt, &twcc) == 0) {
        p->stats.rtcp_twcc++;
        push_fb(p, WEIR_PEER_FB_TWCC, twcc.sender_ssrc, twcc.media_ssrc);
    } else {
        p->stats.rtcp_other++;
    }
}

static void on_fir(weir_peer *p, const weir_rtcp_fb_fir *fir)
{
    p->stats.rtcp_fir++;
    for (uint32_t i = 0; i < fir->entry_count; i++) {
        weir_rtcp_fb_fir_entry e;
        if (weir_rtcp_fb_fir_entry_parse(fir, i, &e) < 0)
            return;
        weir_peer_event *ev = push_fb(p, WEIR_PEER_FB_FIR, fir->sender_ssrc, e.ssrc);
        if (ev)
            ev->fir_seq = e.seq_nr;
    }
}

static void on_psfb(weir_peer *p, const weir_rtcp_pkt *pkt)
{
    weir_rtcp_fb fb;
    weir_rtcp_fb_fir fir;
    weir_rtcp_fb_remb remb;
    if (pkt->count == WEIR_RTCP_FB_PLI && weir_rtcp_fb_pli_parse(pkt, &fb) == 0) {
        p->stats.rtcp_pli++;
        push_fb(p, WEIR_PEER_FB_PLI, fb.sender_ssrc, fb.media_ssrc);
    } else if (pkt->count == WEIR_RTCP_FB_FIR && weir_rtcp_fb_fir_parse(pkt, &fir) == 0) {
        on_fir(p, &fir);
    } else if (pkt->count == WEIR_RTCP_FB_AFB && weir_rtcp_fb_remb_parse(pkt, &remb) == 0) {
        p->stats.rtcp_remb++;
        uint32_t media = 0;
        weir_rtcp_fb_remb_ssrc(&remb, 0, &media);
        weir_peer_event *ev = push_fb(p, WEIR_PEER_FB_REMB, remb.sender_ssrc, media);
        if (ev)
            ev->bitrate_bps = remb.bitrate_bps;
    } else {
        p->stats.rtcp_other++;
    }
}

int peer_handle_srtcp(weir_peer *p, int64_t now_us, uint8_t *buf, size_t len)
{
    size_t n = len;
    int rc = weir_srtp_unprotect_rtcp(p->srtp, buf, &n);
    if (rc < 0)
        return peer_drop(p, srtp_drop(rc));
    if (weir_rtcp_validate(buf, n) < 0)
        return peer_drop(p, WEIR_PEER_DROP_MALFORMED);
    p->stats.rtcp_packets++;
    weir_rtcp_iter it;
    weir_rtcp_pkt pkt;
    weir_rtcp_iter_init(&it, buf, n);
    while (weir_rtcp_iter_next(&it, &pkt) == 1) {
        switch (pkt.type) {
        case WEIR_RTCP_SR:
            on_sr(p, now_us, &pkt);
            break;
        case WEIR_RTCP_RR:
            p->stats.rtcp_rr++;
            break;
        case WEIR_RTCP_RTPFB:
            on_rtpfb(p, &pkt);
            break;
        case WEIR_RTCP_PSFB:
            on_psfb(p, &pkt);
            break;
        default:
            p->stats.rtcp_other++;
            break;
        }
    }
    return 0;
}
