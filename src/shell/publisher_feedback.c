/*
 * Feedback toward a publisher, besides transport-cc (which the peer sends
 * by itself): receiver reports every second (rtc/receive_stats.h, one per
 * stream), NACKs for ingress losses (rtc/nack_generator.h, one per video
 * stream) and keyframe requests aggregated over every consumer of a layer
 * (rtc/keyframe_requester.h: at most one PLI per layer per interval, none
 * right after a keyframe, retried when none comes). The worker's feedback
 * tick drives both; packets feed them from the producer step.
 */
#define WEIR_LOG_MODULE "shell.publisher"
#include <string.h>

#include "base/clock.h"
#include "proto/rtcp_fb.h"
#include "shell/worker_internal.h"
#include "weir/alloc.h"
#include "weir/log.h"

#define FEEDBACK_SSRC 1
#define RR_INTERVAL_US 1000000
#define RR_MAX_BLOCKS 31 /* RFC 3550: 5-bit report count */

static void reset_stream(ingress_stream *s, const weir_peer_packet *in, uint32_t clock_rate_hz)
{
    s->ssrc = in->rtp.ssrc;
    weir_receive_stats_init(s->stats, in->rtp.ssrc, clock_rate_hz ? clock_rate_hz : 90000);
    if (s->nack)
        weir_nack_generator_init(s->nack, NULL);
}

/* The stream of a received packet; a new SSRC on the same (media, layer) restarts its state. */
static ingress_stream *stream_for(wpeer *wp, const weir_peer_packet *in)
{
    publisher_state *ps = wp->publisher;
    const weir_peer_media *m = weir_peer_get_media(wp->pub.peer, in->media_index);
    uint32_t rate = m ? m->clock_rate_hz : 90000;
    for (size_t i = 0; i < ps->n_ingress; i++) {
        ingress_stream *s = &ps->ingress[i];
        if (s->media_index != in->media_index || s->layer != in->layer)
            continue;
        if (s->ssrc != in->rtp.ssrc)
            reset_stream(s, in, rate);
        return s;
    }
    if (ps->n_ingress == WPEER_MAX_INGRESS_STREAMS)
        return NULL;
    ingress_stream *s = &ps->ingress[ps->n_ingress++];
    s->media_index = in->media_index;
    s->layer = in->layer;
    s->stats = weir_malloc(sizeof *s->stats);
    if (m && m->kind == WEIR_PEER_KIND_VIDEO)
        s->nack = weir_malloc(sizeof *s->nack);
    reset_stream(s, in, rate);
    return s;
}

void weir_publisher_feedback_start(wpeer *wp)
{
    publisher_state *ps = wp->publisher;
    for (size_t i = 0; ps && i < ps->n_producers; i++) {
        producer_media *pm = &ps->producers[i];
        const weir_peer_media *m = weir_peer_get_media(wp->pub.peer, i);
        pm->video = m && m->kind == WEIR_PEER_KIND_VIDEO;
        weir_keyframe_requester_config kc = {.n_layers = m && m->n_rids ? (uint8_t)m->n_rids : 1};
        weir_keyframe_requester_init(&pm->keyframes, &kc);
    }
}

void weir_publisher_feedback_stop(wpeer *wp)
{
    publisher_state *ps = wp->publisher;
    if (!ps) /* never published */
        return;
    for (size_t i = 0; i < ps->n_ingress; i++) {
        weir_free(ps->ingress[i].stats);
        weir_free(ps->ingress[i].nack);
    }
    memset(ps->ingress, 0, sizeof ps->ingress);
    ps->n_ingress = 0;
}

/* From on_packet (publisher.c), which checked wp->publisher and the media index. */
void weir_publisher_feedback_on_packet(wpeer *wp, const weir_peer_packet *in, bool keyframe)
{
    producer_media *pm = &wp->publisher->producers[in->media_index];
    ingress_stream *s = stream_for(wp, in);
    if (!s)
        return;
    weir_receive_stats_handle_packet(s->stats, in->rtp.seq, in->rtp.timestamp, in->arrival_us,
                                     in->was_rtx);
    if (!pm->video || !s->nack)
        return;
    if (keyframe)
        weir_keyframe_requester_keyframe_seen(&pm->keyframes, in->layer, in->arrival_us);
    weir_nack_generator_handle_packet(s->nack, in->rtp.seq, in->arrival_us, in->was_rtx);
    if (weir_nack_generator_poll_keyframe(s->nack))
        weir_keyframe_requester_request(&pm->keyframes, in->layer, in->arrival_us);
}

void weir_publisher_keyframe(wpeer *wp, uint8_t media_index, int layer)
{
    publisher_state *ps = wp->publisher;
    if (!ps || media_index >= ps->n_producers || layer < 0)
        return;
    weir_keyframe_requester_request(&ps->producers[media_index].keyframes, (uint8_t)layer,
                                    weir_clock_now_us());
}

/* The SSRC of a media's layer (not RTX), or 0 when no packet of it arrived yet. */
static uint32_t layer_ssrc(wpeer *wp, uint8_t media_index, int layer)
{
    size_t n = weir_peer_stream_count(wp->pub.peer);
    for (size_t i = 0; i < n; i++) {
        weir_peer_stream_info si;
        if (weir_peer_get_stream(wp->pub.peer, i, &si) == 0 && si.media_index == media_index &&
            !si.is_rtx && si.layer == layer)
            return si.ssrc;
    }
    return 0;
}

static void send_keyframe_requests(wpeer *wp, uint8_t media_index, int64_t now_us)
{
    producer_media *pm = &wp->publisher->producers[media_index];
    uint8_t layer, fir_seq;
    bool use_fir;
    while (weir_keyframe_requester_poll(&pm->keyframes, now_us, &layer, &use_fir, &fir_seq) == 1) {
        uint32_t ssrc = layer_ssrc(wp, media_index, layer);
        if (!ssrc)
            continue;
        uint8_t buf[64];
        int n;
        if (use_fir) {
            weir_rtcp_fb_fir_entry e = {.ssrc = ssrc, .seq_nr = fir_seq};
            n = weir_rtcp_fb_fir_write(buf, sizeof buf, FEEDBACK_SSRC, &e, 1);
        } else {
            n = weir_rtcp_fb_pli_write(buf, sizeof buf, FEEDBACK_SSRC, ssrc);
        }
        if (n > 0)
            (void)weir_pc_send_rtcp(&wp->pub, buf, (size_t)n);
        WEIR_LOG_DEBUG("%s keyframe_request media=%u layer=%u ssrc=%u", wp->log_tag, media_index,
                       layer, ssrc);
    }
}

static void send_nacks(wpeer *wp, ingress_stream *s, int64_t now_us)
{
    if (!s->nack)
        return;
    uint16_t seqs[64];
    size_t n;
    while ((n = weir_nack_generator_poll_nack(s->nack, now_us, seqs, 64)) > 0) {
        uint8_t buf[512];
        int len = weir_rtcp_fb_nack_write(buf, sizeof buf, FEEDBACK_SSRC, s->ssrc, seqs, n);
        if (len > 0)
            (void)weir_pc_send_rtcp(&wp->pub, buf, (size_t)len);
        wp->publisher->nacks_sent += n;
    }
    if (weir_nack_generator_poll_keyframe(s->nack))
        weir_keyframe_requester_request(&wp->publisher->producers[s->media_index].keyframes,
                                        s->layer, now_us);
}

/* One RR with a block per received stream (RFC 3550 §6.4.2), LSR/DLSR from the peer's SRs. */
static void send_receiver_report(wpeer *wp, int64_t now_us)
{
    weir_rtcp_report_block blocks[RR_MAX_BLOCKS];
    size_t n = 0;
    publisher_state *ps = wp->publisher;
    for (size_t i = 0; i < ps->n_ingress && n < RR_MAX_BLOCKS; i++) {
        ingress_stream *s = &ps->ingress[i];
        weir_peer_stream_info si;
        if (weir_peer_find_stream(wp->pub.peer, s->ssrc, &si) == 0 && si.has_sr)
            weir_receive_stats_handle_sr(s->stats, si.sr_ntp, si.sr_arrival_us);
        if (weir_receive_stats_write_block(s->stats, now_us, &blocks[n]) == 0)
            n++;
    }
    uint8_t buf[8 + RR_MAX_BLOCKS * 24];
    int len = n ? weir_rtcp_rr_write(buf, sizeof buf, FEEDBACK_SSRC, blocks, n) : 0;
    if (len > 0)
        (void)weir_pc_send_rtcp(&wp->pub, buf, (size_t)len);
}

/* Runs for every participant of the worker: most of them only subscribe (no wp->publisher). */
void weir_publisher_feedback_tick(wpeer *wp, int64_t now_us)
{
    publisher_state *ps = wp->publisher;
    if (!wp->pub_active || !ps || !weir_pc_connected(&wp->pub))
        return;
    if (now_us - ps->last_rr_us >= RR_INTERVAL_US) {
        ps->last_rr_us = now_us;
        send_receiver_report(wp, now_us);
    }
    for (size_t i = 0; i < ps->n_ingress; i++)
        send_nacks(wp, &ps->ingress[i], now_us);
    for (size_t i = 0; i < ps->n_producers; i++)
        if (ps->producers[i].video)
            send_keyframe_requests(wp, (uint8_t)i, now_us);
}
