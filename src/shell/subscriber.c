/*
 * The subscriber PC in the worker: Weir offered it (control thread), the
 * client answered; here it is an ICE agent (controlling: the offerer is,
 * RFC 8445 §6.1.1) plus a weir_peer for DTLS-SRTP and the RTCP the
 * subscriber sends back, and one consumer (rtc/consumer.h) per m-line.
 *
 * Egress: a consumer writes the rewritten packet straight into a slot of
 * this PC's transmit batch, it is protected there in place, and the batch
 * leaves in one send_many before the worker's loop next sleeps (the flush
 * source in worker.c calls weir_router_flush) or when it is full. Nothing is forwarded before the
 * PC is connected: a consumer that starts later waits for a keyframe.
 */
#define WEIR_LOG_MODULE "shell.subscriber"
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "proto/rtcp.h"
#include "rtc/simulcast_selector.h"
#include "shell/worker_internal.h"
#include "weir/alloc.h"
#include "weir/log.h"

#define SR_INTERVAL_US 1000000

static wpeer *sub_owner(weir_pc *pc)
{
    return pc->user;
}

static void on_state(weir_pc *pc, weir_pc_state state, const char *detail)
{
    weir_worker_report_pc(pc->user, WEIR_WORKER_EVENT_SUBSCRIBER_STATE, state, detail);
}

static void on_local_candidate(weir_pc *pc, const char *candidate)
{
    weir_worker_report_pc(pc->user, WEIR_WORKER_EVENT_SUBSCRIBER_CANDIDATE, pc->state, candidate);
}

static sub_track *find_by_ssrc(wpeer *wp, uint32_t ssrc)
{
    for (size_t i = 0; i < wp->n_subs; i++) {
        sub_track *st = wp->subs[i];
        if (st->consumer && (st->cfg.ssrc == ssrc || st->cfg.rtx_ssrc == ssrc))
            return st;
    }
    return NULL;
}

static void queue_flush(wpeer *wp)
{
    if (wp->on_flush_list)
        return;
    wp->on_flush_list = true;
    wp->flush_next = wp->w->flush_head;
    wp->w->flush_head = wp;
}

/* ---- transmit slot pool ---------------------------------------------------
 * One per worker (single-threaded, like everything here). A slot is taken
 * when a PC needs one and comes back when its batch has been sent, so the
 * pool's size follows the datagrams queued in one loop iteration across all
 * PCs. It only grows while PCs are active; a PC leaving frees up to a
 * batch's worth, so the pool never holds more than the per-PC batches did. */

static uint8_t *pool_get(weir_worker *w)
{
    if (w->tx_pool_n)
        return w->tx_pool[--w->tx_pool_n];
    return weir_malloc(WPEER_TX_SLOT);
}

static void pool_put(weir_worker *w, uint8_t *slot)
{
    if (w->tx_pool_n == w->tx_pool_cap) {
        w->tx_pool_cap = w->tx_pool_cap ? 2 * w->tx_pool_cap : 64;
        w->tx_pool = weir_realloc(w->tx_pool, w->tx_pool_cap * sizeof *w->tx_pool);
    }
    w->tx_pool[w->tx_pool_n++] = slot;
}

/* Gives back the slots wp holds: 0..n_tx are the only ones it can hold. */
static void release_slots(wpeer *wp)
{
    for (size_t i = 0; i <= wp->n_tx && i < WPEER_TX_BATCH; i++) {
        if (wp->tx[i]) {
            pool_put(wp->w, wp->tx[i]);
            wp->tx[i] = NULL;
        }
    }
}

/* A PC is leaving: free as many idle slots as one PC could queue. */
static void pool_shrink(weir_worker *w)
{
    for (size_t i = 0; i < WPEER_TX_BATCH && w->tx_pool_n; i++)
        weir_free(w->tx_pool[--w->tx_pool_n]);
}

void weir_subscriber_pool_free(weir_worker *w)
{
    while (w->tx_pool_n)
        weir_free(w->tx_pool[--w->tx_pool_n]);
    weir_free(w->tx_pool);
    w->tx_pool = NULL;
    w->tx_pool_cap = 0;
}

static void flush_one(wpeer *wp)
{
    if (!wp->n_tx)
        return;
    const uint8_t *bufs[WPEER_TX_BATCH];
    for (size_t i = 0; i < wp->n_tx; i++)
        bufs[i] = wp->tx[i];
    weir_pc_send_many(&wp->sub, bufs, wp->tx_len, wp->n_tx);
    /* send_many is done with the buffers when it returns */
    release_slots(wp);
    wp->n_tx = 0;
}

/* The next free transmit slot, sending the batch first when it is full. */
static uint8_t *tx_slot(wpeer *wp)
{
    if (wp->n_tx == WPEER_TX_BATCH)
        flush_one(wp);
    if (!wp->tx[wp->n_tx])
        wp->tx[wp->n_tx] = pool_get(wp->w);
    return wp->tx[wp->n_tx];
}

static void commit_slot(wpeer *wp, size_t len)
{
    size_t n = len;
    if (weir_peer_protect_rtp(wp->sub.peer, wp->tx[wp->n_tx], &n, WPEER_TX_SLOT) < 0)
        return;
    wp->tx_len[wp->n_tx++] = n;
    wp->sub_packets++;
    wp->sub_bytes += len;
    wp->sub_stats_dirty = true;
    queue_flush(wp);
}

static void consumer_events(sub_track *st)
{
    weir_consumer_event ev;
    while (weir_consumer_poll_event(st->consumer, &ev) == 1) {
        weir_worker *w = st->owner->w;
        if (ev.type == WEIR_CONSUMER_EVENT_KEYFRAME_REQUEST) {
            weir_router_request_keyframe(w, st->cfg.handle, ev.spatial);
            continue;
        }
        weir_worker_event *out =
            weir_worker_new_event(w, WEIR_WORKER_EVENT_LAYER_CHANGED, st->owner->peer_id);
        out->handle = st->cfg.handle;
        out->spatial = ev.spatial;
        out->temporal = ev.temporal;
        weir_worker_push_event(w, out);
    }
}

static void send_retransmissions(sub_track *st, int64_t now_us)
{
    wpeer *wp = st->owner;
    for (;;) {
        size_t len = 0;
        int rc = weir_consumer_poll_retransmit(st->consumer, now_us, &wp->twcc_seq, tx_slot(wp),
                                               WPEER_TX_SLOT - WEIR_SRTP_MAX_RTP_OVERHEAD, &len);
        if (rc == 0)
            break;
        if (rc == 1) {
            commit_slot(wp, len);
            wp->sub_retransmits++;
        }
    }
}

void weir_subscriber_forward(sub_track *st, weir_pkt *p, int64_t now_us)
{
    wpeer *wp = st->owner;
    if (!st->consumer || !weir_pc_connected(&wp->sub))
        return;
    size_t len = 0;
    int rc = weir_consumer_handle_packet(st->consumer, p, now_us, &wp->twcc_seq, tx_slot(wp),
                                         WPEER_TX_SLOT - WEIR_SRTP_MAX_RTP_OVERHEAD, &len);
    if (rc == 1)
        commit_slot(wp, len);
    consumer_events(st);
}

static void on_feedback(wpeer *wp, const weir_peer_event *ev)
{
    sub_track *st = find_by_ssrc(wp, ev->media_ssrc);
    if (!st)
        return;
    int64_t now_us = weir_clock_now_us();
    switch (ev->fb) {
    case WEIR_PEER_FB_PLI:
    case WEIR_PEER_FB_FIR: {
        int layer = weir_consumer_handle_keyframe_request(st->consumer);
        if (layer >= 0)
            weir_router_request_keyframe(wp->w, st->cfg.handle, layer);
        break;
    }
    case WEIR_PEER_FB_NACK:
        if (weir_consumer_handle_nack(st->consumer, ev->nack_seqs, ev->nack_count, now_us) > 0)
            send_retransmissions(st, now_us);
        break;
    default:
        break;
    }
}

static void on_peer_event(weir_pc *pc, const weir_peer_event *ev)
{
    if (ev->type == WEIR_PEER_EVENT_RTCP_FEEDBACK)
        on_feedback(sub_owner(pc), ev);
}

static const weir_pc_hooks subscriber_hooks = {
    .on_state = on_state,
    .on_local_candidate = on_local_candidate,
    .on_peer_event = on_peer_event,
};

void weir_subscriber_start(wpeer *wp, const weir_worker_sub_start *start)
{
    if (wp->sub_active)
        return;
    weir_ice_config ic;
    weir_worker_ice_config(wp->w, &ic);
    weir_pc_params params = {
        .ice = &ic,
        .ice_controlling = true,
        .local_ufrag = start->local_ufrag,
        .local_pwd = start->local_pwd,
    };
    char tag[96];
    snprintf(tag, sizeof tag, "%s pc=subscriber", wp->log_tag);
    wp->sub_active = true;
    if (weir_pc_init(&wp->sub, wp->w->context, &params, &subscriber_hooks, wp, tag) < 0) {
        weir_worker_report_pc(wp, WEIR_WORKER_EVENT_SUBSCRIBER_STATE, WEIR_PC_FAILED, "ice setup");
        wp->sub_active = false;
        return;
    }
    WEIR_LOG_INFO("%s subscriber_started", wp->log_tag);
}

static int create_peer(wpeer *wp, const weir_worker_sub_answer *a)
{
    weir_dtls_ctx *dtls = weir_worker_dtls_ctx(wp->w);
    if (!dtls)
        return -1;
    weir_peer_config peer = {
        .dtls_ctx = dtls,
        .role = a->dtls_role,
        .remote_fingerprint = a->fingerprint,
    };
    if (weir_pc_set_remote_credentials(&wp->sub, a->remote_ufrag, a->remote_pwd) < 0 ||
        weir_pc_set_peer(&wp->sub, &peer) < 0)
        return -1;
    wp->sub_has_peer = true;
    return 0;
}

static weir_consumer *new_consumer(const wpeer *wp, const weir_worker_sub_track *t)
{
    weir_consumer_config cc;
    weir_consumer_config_init(&cc);
    cc.codec = t->codec;
    cc.is_audio = t->audio;
    cc.clock_rate_hz = t->clock_rate_hz;
    cc.n_layers = t->n_layers ? t->n_layers : 1;
    cc.ssrc = t->ssrc;
    cc.rtx_ssrc = t->rtx_pt >= 0 ? t->rtx_ssrc : 0;
    cc.pt = (uint8_t)t->pt;
    cc.rtx_pt = t->rtx_pt >= 0 ? (uint8_t)t->rtx_pt : 0;
    cc.rtx_seq_start = (uint16_t)(t->ssrc * 2654435761u >> 16);
    cc.in_pt = t->in_pt;
    cc.in_red_pt = t->red_pt >= 0 ? t->in_red_pt : -1;
    cc.red_pt = t->red_pt >= 0 ? (uint8_t)t->red_pt : 0;
    cc.ext_mid = wp->ext_mid;
    snprintf(cc.mid, sizeof cc.mid, "%s", t->mid);
    cc.ext_abs_send_time = wp->ext_abs_send_time;
    cc.ext_twcc = wp->ext_twcc;
    cc.ext_audio_level = t->audio ? wp->ext_audio_level : 0;
    return weir_consumer_create(&cc);
}

static void drop_track(wpeer *wp, sub_track *st)
{
    if (st->consumer) {
        weir_router_remove_consumer(wp->w, st);
        weir_consumer_destroy(st->consumer);
        st->consumer = NULL;
    }
}

/* Brings the m-lines in line with the answer: new ones get a consumer, dropped ones lose it. */
static void sync_tracks(wpeer *wp, const weir_worker_sub_answer *a)
{
    for (size_t i = 0; i < a->n_tracks && i < WEIR_WORKER_MAX_SUB_MEDIA; i++) {
        const weir_worker_sub_track *t = &a->tracks[i];
        if (i == wp->n_subs) {
            /* Sized to the m-lines in use, not WEIR_WORKER_MAX_SUB_MEDIA: most have two. */
            wp->subs = weir_realloc(wp->subs, (i + 1) * sizeof *wp->subs);
            wp->subs[i] = WEIR_NEW(sub_track);
            wp->subs[i]->owner = wp;
            wp->n_subs++;
        }
        sub_track *st = wp->subs[i];
        if (st->consumer && st->cfg.handle == t->handle)
            continue;
        drop_track(wp, st);
        st->cfg = *t;
        st->max_spatial = WEIR_SIMULCAST_MAX_SPATIAL - 1;
        st->max_temporal = WEIR_SIMULCAST_MAX_TEMPORAL - 1;
        if (!t->handle)
            continue;
        st->consumer = new_consumer(wp, t);
        if (!st->consumer) {
            WEIR_LOG_WARN("%s consumer_refused mid=%s track=%u", wp->log_tag, t->mid, t->handle);
            continue;
        }
        weir_router_add_consumer(wp->w, st);
    }
}

void weir_subscriber_answer(wpeer *wp, const weir_worker_sub_answer *a)
{
    if (!wp->sub_active)
        return;
    if (!wp->sub_has_peer && create_peer(wp, a) < 0) {
        WEIR_LOG_WARN("%s subscriber_answer_unusable", wp->log_tag);
        weir_worker_report_pc(wp, WEIR_WORKER_EVENT_SUBSCRIBER_STATE, WEIR_PC_FAILED,
                              "answer unusable");
        return;
    }
    if (a->ice_restart)
        weir_pc_ice_restart(&wp->sub, a->local_ufrag, a->local_pwd, a->remote_ufrag, a->remote_pwd);
    wp->ext_mid = a->ext_mid;
    wp->ext_abs_send_time = a->ext_abs_send_time;
    wp->ext_twcc = a->ext_twcc;
    wp->ext_audio_level = a->ext_audio_level;
    for (size_t i = 0; i < a->n_candidates; i++)
        weir_pc_add_remote_candidate(&wp->sub, a->candidates[i]);
    if (a->end_of_candidates)
        weir_pc_add_remote_candidate(&wp->sub, "");
    sync_tracks(wp, a);
    WEIR_LOG_INFO("%s subscriber_answer tracks=%zu", wp->log_tag, a->n_tracks);
}

void weir_subscriber_preferences(wpeer *wp, const weir_worker_track_control *tc)
{
    for (size_t i = 0; i < wp->n_subs; i++) {
        sub_track *st = wp->subs[i];
        if (!st->consumer || st->cfg.handle != tc->handle)
            continue;
        if (tc->max_spatial >= 0)
            st->max_spatial = tc->max_spatial;
        if (tc->max_temporal >= 0)
            st->max_temporal = tc->max_temporal;
        if (tc->max_spatial >= 0 || tc->max_temporal >= 0)
            weir_consumer_set_preferences(st->consumer, st->max_spatial, st->max_temporal);
        if (tc->paused >= 0)
            weir_consumer_set_paused(st->consumer, tc->paused != 0);
        consumer_events(st);
    }
}

void weir_subscriber_teardown(wpeer *wp)
{
    for (size_t i = 0; i < wp->n_subs; i++) {
        drop_track(wp, wp->subs[i]);
        weir_free(wp->subs[i]);
    }
    weir_free(wp->subs);
    wp->subs = NULL;
    wp->n_subs = 0;
    /* Off the flush list: the worker is about to forget this peer. */
    for (wpeer **pp = &wp->w->flush_head; *pp; pp = &(*pp)->flush_next) {
        if (*pp == wp) {
            *pp = wp->flush_next;
            break;
        }
    }
    wp->on_flush_list = false;
    release_slots(wp);
    wp->n_tx = 0;
    if (wp->sub_active)
        pool_shrink(wp->w);
    weir_pc_deinit(&wp->sub);
    wp->sub_active = false;
    wp->sub_has_peer = false;
}

static void send_sender_reports(wpeer *wp, int64_t now_us)
{
    for (size_t i = 0; i < wp->n_subs; i++) {
        sub_track *st = wp->subs[i];
        if (!st->consumer)
            continue;
        weir_consumer_handle_timeout(st->consumer, now_us);
        uint8_t buf[128];
        size_t len = 0;
        if (weir_consumer_write_sr(st->consumer, now_us, buf, sizeof buf, &len) == 1)
            (void)weir_pc_send_rtcp(&wp->sub, buf, len);
    }
}

void weir_subscriber_periodic(wpeer *wp, int64_t now_us)
{
    if (!wp->sub_active || !weir_pc_connected(&wp->sub))
        return;
    if (now_us - wp->last_sr_us >= SR_INTERVAL_US) {
        wp->last_sr_us = now_us;
        send_sender_reports(wp, now_us);
    }
    if (wp->sub_stats_dirty) {
        wp->sub_stats_dirty = false;
        weir_worker_event *ev =
            weir_worker_new_event(wp->w, WEIR_WORKER_EVENT_SUBSCRIBER_STATS, wp->peer_id);
        ev->packets = wp->sub_packets;
        ev->bytes = wp->sub_bytes;
        ev->streams = (uint32_t)wp->n_subs;
        ev->retransmits = wp->sub_retransmits;
        ev->mesh_drops = wp->w->mesh_drops;
        weir_worker_push_event(wp->w, ev);
    }
}

void weir_subscriber_flush_all(weir_worker *w)
{
    while (w->flush_head) {
        wpeer *wp = w->flush_head;
        w->flush_head = wp->flush_next;
        wp->on_flush_list = false;
        wp->flush_next = NULL;
        flush_one(wp);
    }
}
