/*
 * The publisher PC in the worker: ICE + DTLS + SRTP ingress (shell/pc.h),
 * then the producer step: each received packet becomes one immutable
 * weir_pkt tagged with its track handle and layer (and, for VP8, its frame
 * flags) and goes to the router. Feedback toward the publisher (NACK, PLI)
 * is in publisher_feedback.c.
 */
#define WEIR_LOG_MODULE "shell.publisher"
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "proto/codec_frame.h"
#include "proto/vp8.h"
#include "shell/worker_internal.h"
#include "weir/alloc.h"
#include "weir/log.h"

static wpeer *pub_owner(weir_pc *pc)
{
    return pc->user;
}

static void on_state(weir_pc *pc, weir_pc_state state, const char *detail)
{
    weir_worker_report_pc(pc->user, WEIR_WORKER_EVENT_PUBLISHER_STATE, state, detail);
    weir_datachannel_on_pc_state(pc->user, state);
}

static void on_data(weir_pc *pc, const uint8_t *buf, size_t len)
{
    weir_datachannel_on_data(pc->user, buf, len);
}

static void on_drained(weir_pc *pc)
{
    weir_datachannel_service(pc->user);
}

static void on_local_candidate(weir_pc *pc, const char *candidate)
{
    weir_worker_report_pc(pc->user, WEIR_WORKER_EVENT_PUBLISHER_CANDIDATE, pc->state, candidate);
}

static void on_peer_event(weir_pc *pc, const weir_peer_event *ev)
{
    wpeer *wp = pub_owner(pc);
    if (ev->type == WEIR_PEER_EVENT_STREAM_LEARNED) {
        WEIR_LOG_DEBUG("%s stream_learned ssrc=%u mid=%s rid=%s rtx=%d", wp->log_tag, ev->ssrc,
                       ev->mid, ev->rid, (int)ev->is_rtx);
        if (wp->publisher)
            wp->publisher->stats_dirty = true;
    }
}

/* Frame flags for the selector: keyframes (layer switches), frame starts, VP8 temporal layers. */
static void describe_frame(weir_pkt *p, weir_codec codec)
{
    const uint8_t *payload = p->data + p->rtp.payload_off;
    size_t len = p->rtp.payload_len;
    weir_frame_info fi;
    int rc = -1;
    switch (codec) {
    case WEIR_CODEC_VP8: {
        weir_vp8_desc d;
        if (weir_vp8_parse(&d, payload, len) < 0)
            return;
        p->is_keyframe = d.is_keyframe;
        p->frame_start = d.is_frame_start;
        p->temporal = d.has_tid ? d.tid : 0;
        p->layer_sync = d.has_tid && d.layer_sync;
        return;
    }
    case WEIR_CODEC_H264:
        rc = weir_h264_frame_info(payload, len, &fi);
        break;
    case WEIR_CODEC_VP9:
        rc = weir_vp9_frame_info(payload, len, &fi);
        break;
    case WEIR_CODEC_AV1:
        rc = weir_av1_frame_info(payload, len, &fi);
        break;
    case WEIR_CODEC_OPUS:
        return;
    }
    if (rc == 0) {
        p->is_keyframe = fi.is_keyframe;
        p->frame_start = fi.frame_start;
    }
}

static void dump_packet(wpeer *wp, producer_media *pm, const weir_peer_packet *in)
{
    const char *dir = wp->w->media->rtp_dump_dir;
    if (!dir || !dir[0] || in->layer >= WEIR_PEER_MAX_RIDS)
        return;
    weir_rtp_dump *d = &pm->dumps[in->layer];
    if (!d->f && !d->written) {
        char name[128];
        snprintf(name, sizeof name, "%s-m%u-l%u.rtpdump", wp->participant_id,
                 (unsigned)in->media_index, (unsigned)in->layer);
        if (weir_rtp_dump_open(d, dir, name, wp->w->media->rtp_dump_max_packets, in->arrival_us,
                               weir_clock_wall_ms()) < 0)
            d->written = 1; /* do not retry on every packet */
    }
    weir_rtp_dump_write(d, in->data, in->len, in->arrival_us);
}

static void on_packet(weir_pc *pc, const weir_peer_packet *in)
{
    wpeer *wp = pub_owner(pc);
    publisher_state *ps = wp->publisher;
    if (!ps)
        return;
    ps->packets++;
    ps->bytes += in->len;
    ps->stats_dirty = true;
    if (in->media_index >= ps->n_producers || in->len > WEIR_PKT_MAX)
        return;
    producer_media *pm = &ps->producers[in->media_index];
    if (!pm->handle)
        return;
    if (in->layer < WEIR_PEER_MAX_RIDS)
        pm->last_packet_us[in->layer] = in->arrival_us;
    if (in->has_audio_level) {
        pm->level_sum += in->audio_level;
        pm->level_count++;
        pm->voice_count += in->voice;
    }
    weir_pkt *p = weir_pkt_new();
    p->track = pm->handle;
    p->layer = in->layer;
    p->arrival_us = in->arrival_us;
    p->has_audio_level = in->has_audio_level;
    p->voice = in->voice;
    p->audio_level = in->audio_level;
    p->rtp = in->rtp;
    p->len = in->len;
    memcpy(p->data, in->data, in->len);
    const weir_peer_media *m = weir_peer_get_media(pc->peer, in->media_index);
    if (m && m->kind == WEIR_PEER_KIND_VIDEO)
        describe_frame(p, pm->codec);
    weir_peer_stream_info si;
    if (weir_peer_find_stream(pc->peer, in->rtp.ssrc, &si) == 0 && si.has_sr) {
        p->has_sr = true;
        p->sr_ntp = si.sr_ntp;
        p->sr_rtp_ts = si.sr_rtp_ts;
    }
    dump_packet(wp, pm, in);
    weir_publisher_feedback_on_packet(wp, in, p->is_keyframe);
    weir_router_publish(wp->w, p, in->arrival_us);
}

static const weir_pc_hooks publisher_hooks = {
    .on_state = on_state,
    .on_local_candidate = on_local_candidate,
    .on_peer_event = on_peer_event,
    .on_packet = on_packet,
    .on_drained = on_drained,
    .on_data = on_data,
};

/* weir_publish_desc → weir_peer_config media (into the caller's storage) + producers. */
static size_t desc_to_media(publisher_state *ps, const weir_worker_publish *pub,
                            weir_peer_media *out, weir_peer_extids *ext)
{
    const weir_publish_desc *d = &pub->desc;
    size_t n = 0;
    memset(ext, 0, sizeof *ext);
    for (size_t i = 0; i < d->n_media && n < WEIR_PEER_MAX_MEDIA; i++) {
        const weir_publish_media *m = &d->media[i];
        if (m->rejected || (m->kind != WEIR_SDP_AUDIO && m->kind != WEIR_SDP_VIDEO))
            continue;
        ps->producers[n] = (producer_media){.handle = pub->track_handles[i], .codec = m->codec};
        weir_peer_media *pm = &out[n++];
        memset(pm, 0, sizeof *pm);
        snprintf(pm->mid, sizeof pm->mid, "%s", m->mid);
        pm->kind = m->kind == WEIR_SDP_AUDIO ? WEIR_PEER_KIND_AUDIO : WEIR_PEER_KIND_VIDEO;
        pm->clock_rate_hz = m->clock_rate_hz;
        pm->pt = m->pt;
        pm->rtx_pt = m->rtx_pt;
        pm->red_pt = m->red_pt;
        pm->n_rids = m->n_rids < WEIR_PEER_MAX_RIDS ? m->n_rids : WEIR_PEER_MAX_RIDS;
        for (size_t r = 0; r < pm->n_rids; r++)
            snprintf(pm->rids[r], sizeof pm->rids[r], "%s", m->rids[r].id);
        pm->n_ssrcs = m->n_ssrcs < WEIR_PEER_MAX_SSRCS ? m->n_ssrcs : WEIR_PEER_MAX_SSRCS;
        for (size_t k = 0; k < pm->n_ssrcs; k++) {
            pm->ssrcs[k].media = m->ssrcs[k].media;
            pm->ssrcs[k].rtx = m->ssrcs[k].rtx;
        }
        /* BUNDLE shares one id set; take the first non-zero of each. */
        if (!ext->mid)
            ext->mid = m->ext.mid;
        if (!ext->rid)
            ext->rid = m->ext.rid;
        if (!ext->repaired_rid)
            ext->repaired_rid = m->ext.repaired_rid;
        if (!ext->abs_send_time)
            ext->abs_send_time = m->ext.abs_send_time;
        if (!ext->twcc)
            ext->twcc = m->ext.twcc;
        if (!ext->audio_level)
            ext->audio_level = m->ext.audio_level;
    }
    ps->n_producers = n;
    return n;
}

static void register_producers(wpeer *wp)
{
    const publisher_state *ps = wp->publisher;
    for (size_t i = 0; i < ps->n_producers; i++) {
        if (!ps->producers[i].handle)
            continue;
        route *r = weir_router_get(wp->w, ps->producers[i].handle, true);
        r->producer = wp;
        r->media_index = (uint8_t)i;
    }
}

/* Ingress streams follow their track to its new media index, or go with it. */
static void remap_ingress(publisher_state *ps, const producer_media *old, size_t old_n)
{
    size_t kept = 0;
    for (size_t i = 0; i < ps->n_ingress; i++) {
        ingress_stream s = ps->ingress[i];
        uint32_t handle = s.media_index < old_n ? old[s.media_index].handle : 0;
        int to = -1;
        for (size_t k = 0; handle && k < ps->n_producers; k++)
            if (ps->producers[k].handle == handle)
                to = (int)k;
        if (to < 0) {
            weir_free(s.stats);
            weir_free(s.nack);
            continue;
        }
        s.media_index = (uint8_t)to;
        ps->ingress[kept++] = s;
    }
    for (size_t i = kept; i < ps->n_ingress; i++)
        memset(&ps->ingress[i], 0, sizeof ps->ingress[i]);
    ps->n_ingress = kept;
}

/* Routes of tracks this publisher no longer sends lose their producer. */
static void drop_gone_producers(wpeer *wp, const producer_media *old, size_t old_n)
{
    const publisher_state *ps = wp->publisher;
    for (size_t i = 0; i < old_n; i++) {
        bool still = false;
        for (size_t k = 0; k < ps->n_producers; k++)
            still |= ps->producers[k].handle == old[i].handle;
        route *r = old[i].handle && !still ? weir_router_get(wp->w, old[i].handle, false) : NULL;
        if (r && r->producer == wp) {
            r->producer = NULL;
            r->remote_workers = 0;
            weir_router_drop_if_unused(wp->w, r);
        }
    }
}

/* Only called while publishing: wp->publisher is set. */
static void publisher_update(wpeer *wp, const weir_worker_publish *pub)
{
    publisher_state *ps = wp->publisher;
    producer_media old[WEIR_PEER_MAX_MEDIA];
    size_t old_n = ps->n_producers;
    memcpy(old, ps->producers, old_n * sizeof *old);
    weir_peer_media media[WEIR_PEER_MAX_MEDIA];
    weir_peer_extids ext;
    size_t n = desc_to_media(ps, pub, media, &ext);
    if (!wp->pub.peer || weir_peer_update_media(wp->pub.peer, media, n, &ext) < 0) {
        WEIR_LOG_WARN("%s renegotiation_refused media=%zu", wp->log_tag, n);
        memcpy(ps->producers, old, old_n * sizeof *old);
        ps->n_producers = old_n;
        return;
    }
    drop_gone_producers(wp, old, old_n);
    remap_ingress(ps, old, old_n);
    weir_datachannel_prepare(wp, pub);
    register_producers(wp);
    weir_publisher_feedback_start(wp);
    if (pub->ice_restart)
        weir_pc_ice_restart(&wp->pub, pub->local_ufrag, pub->local_pwd, pub->desc.ice_ufrag,
                            pub->desc.ice_pwd);
    for (size_t i = 0; i < pub->n_candidates; i++)
        weir_pc_add_remote_candidate(&wp->pub, pub->candidates[i]);
    if (pub->end_of_candidates)
        weir_pc_add_remote_candidate(&wp->pub, "");
    ps->stats_dirty = true;
    WEIR_LOG_INFO("%s publisher_renegotiated media=%zu ice_restart=%d", wp->log_tag, n,
                  (int)pub->ice_restart);
}

static void publisher_state_free(wpeer *wp)
{
    weir_free(wp->publisher);
    wp->publisher = NULL;
}

void weir_publisher_start(wpeer *wp, const weir_worker_publish *pub)
{
    if (wp->pub_active) { /* then wp->publisher is set */
        if (pub->renegotiate)
            publisher_update(wp, pub);
        else
            WEIR_LOG_WARN("%s publish_ignored: already publishing", wp->log_tag);
        return;
    }
    weir_dtls_ctx *dtls = weir_worker_dtls_ctx(wp->w);
    if (!dtls) {
        weir_worker_report_pc(wp, WEIR_WORKER_EVENT_PUBLISHER_STATE, WEIR_PC_FAILED,
                              "dtls context");
        return;
    }
    weir_peer_media media[WEIR_PEER_MAX_MEDIA];
    char fp[WEIR_NEGOTIATE_FP_MAX + 16];
    snprintf(fp, sizeof fp, "%s %s", pub->desc.fingerprint_hash, pub->desc.fingerprint);
    weir_peer_config peer = {
        .dtls_ctx = dtls,
        .role = pub->desc.dtls_role,
        .remote_fingerprint = fp,
        .media = media,
    };
    /* A participant pays for its producer state once it publishes (worker_internal.h). */
    if (!wp->publisher)
        wp->publisher = WEIR_NEW(publisher_state);
    peer.n_media = desc_to_media(wp->publisher, pub, media, &peer.ext);
    weir_ice_config ic;
    weir_worker_ice_config(wp->w, &ic);
    weir_pc_params params = {
        .ice = &ic,
        .ice_controlling = false,
        .local_ufrag = pub->local_ufrag,
        .local_pwd = pub->local_pwd,
        .peer = &peer,
    };
    char tag[96];
    snprintf(tag, sizeof tag, "%s pc=publisher", wp->log_tag);
    wp->pub_active = true;
    wp->publisher->stats_dirty = true;
    weir_datachannel_prepare(wp, pub);
    if (weir_pc_init(&wp->pub, wp->w->context, &params, &publisher_hooks, wp, tag) < 0) {
        weir_worker_report_pc(wp, WEIR_WORKER_EVENT_PUBLISHER_STATE, WEIR_PC_FAILED, "ice setup");
        wp->pub_active = false;
        publisher_state_free(wp); /* nothing registered or opened from it yet */
        return;
    }
    weir_pc_set_remote_credentials(&wp->pub, pub->desc.ice_ufrag, pub->desc.ice_pwd);
    for (size_t i = 0; i < pub->n_candidates; i++)
        weir_pc_add_remote_candidate(&wp->pub, pub->candidates[i]);
    if (pub->end_of_candidates)
        weir_pc_add_remote_candidate(&wp->pub, "");
    register_producers(wp);
    weir_publisher_feedback_start(wp);
    WEIR_LOG_INFO("%s publisher_started media=%zu role=%s", wp->log_tag, peer.n_media,
                  wp->pub.client_role ? "client" : "server");
}

void weir_publisher_teardown(wpeer *wp)
{
    publisher_state *ps = wp->publisher;
    for (size_t i = 0; ps && i < ps->n_producers; i++) {
        route *r =
            ps->producers[i].handle ? weir_router_get(wp->w, ps->producers[i].handle, false) : NULL;
        if (r && r->producer == wp) {
            r->producer = NULL;
            r->remote_workers = 0;
            weir_router_drop_if_unused(wp->w, r);
        }
    }
    for (size_t i = 0; ps && i < WEIR_PEER_MAX_MEDIA; i++)
        for (size_t l = 0; l < WEIR_PEER_MAX_RIDS; l++)
            weir_rtp_dump_close(&ps->producers[i].dumps[l]);
    if (ps)
        ps->n_producers = 0;
    weir_publisher_feedback_stop(wp);
    weir_datachannel_teardown(wp); /* before the PC: it sends through it */
    weir_pc_deinit(&wp->pub);
    wp->pub_active = false;
    publisher_state_free(wp); /* after the PC: none of its hooks can run any more */
}

void weir_publisher_report(wpeer *wp)
{
    publisher_state *ps = wp->publisher;
    if (!wp->pub_active || !ps)
        return;
    for (size_t i = 0; i < ps->n_producers; i++) {
        producer_media *pm = &ps->producers[i];
        if (!pm->level_count)
            continue;
        weir_worker_event *ev =
            weir_worker_new_event(wp->w, WEIR_WORKER_EVENT_AUDIO_LEVEL, wp->peer_id);
        ev->handle = pm->handle;
        ev->level = (uint8_t)(pm->level_sum / pm->level_count);
        ev->voice = pm->voice_count * 2 > pm->level_count;
        weir_worker_push_event(wp->w, ev);
        pm->level_sum = pm->level_count = pm->voice_count = 0;
    }
    if (!ps->stats_dirty)
        return;
    ps->stats_dirty = false;
    weir_worker_event *ev =
        weir_worker_new_event(wp->w, WEIR_WORKER_EVENT_PUBLISHER_STATS, wp->peer_id);
    ev->state = weir_worker_state_of(wp->pub.state);
    ev->packets = ps->packets;
    ev->bytes = ps->bytes;
    if (wp->pub.peer) {
        ev->streams = (uint32_t)weir_peer_stream_count(wp->pub.peer);
        weir_peer_stats st;
        weir_peer_get_stats(wp->pub.peer, &st);
        memcpy(ev->drops, st.drops, sizeof ev->drops);
    }
    weir_worker_push_event(wp->w, ev);
}
