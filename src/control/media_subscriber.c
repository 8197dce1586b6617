/*
 * The subscriber PC seen from the control thread. One offer at a time:
 * when the set of tracks a participant should receive changes, its m-lines
 * are updated (new tracks get new m-lines with fresh mids and SSRCs, gone
 * ones keep their m-line, inactive) and an `offer` goes out; a change while
 * that offer awaits its answer only marks the next offer due, sent right
 * after the answer is applied. Applying an answer tells the participant's
 * worker which consumers to run and the producers' workers where to route.
 */
#define WEIR_LOG_MODULE "control.subscriber"
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/control.h"
#include "control/media.h"
#include "control/session.h"
#include "proto/sdp.h"
#include "weir/alloc.h"
#include "weir/log.h"

#define ICE_RESTART_MIN_INTERVAL_US 10000000

static bool is_toggled(const weir_participant_media *pm, uint32_t handle)
{
    for (size_t i = 0; i < pm->n_toggled; i++)
        if (pm->toggled[i] == handle)
            return true;
    return false;
}

static bool wants(const weir_participant *p, const weir_track *t)
{
    bool auto_subscribe = weir_room_options_get(p->room)->auto_subscribe;
    return auto_subscribe != is_toggled(p->media, t->handle);
}

static weir_sub_line *line_of(weir_participant_media *pm, uint32_t handle)
{
    for (size_t i = 0; i < pm->n_lines; i++)
        if (pm->lines[i].handle == handle)
            return &pm->lines[i];
    return NULL;
}

static bool track_in_room(const weir_room *room, const weir_participant *self, uint32_t handle,
                          const weir_track **out)
{
    for (size_t i = 0; i < weir_room_count(room); i++) {
        const weir_participant *q = weir_room_at(room, i);
        for (size_t k = 0; q != self && q->media && k < q->media->n_tracks; k++)
            if (q->media->tracks[k]->handle == handle) {
                *out = q->media->tracks[k];
                return true;
            }
    }
    return false;
}

static void fill_line(weir_control *ctl, weir_participant_media *pm, weir_sub_line *l,
                      const weir_track *t)
{
    weir_subscriber_track *o = &l->offered;
    memset(l, 0, sizeof *l);
    snprintf(o->mid, sizeof o->mid, "%u", pm->next_mid++);
    o->kind = t->kind;
    o->active = true;
    o->codec = t->codec;
    snprintf(o->fmtp, sizeof o->fmtp, "%s", t->fmtp);
    o->clock_rate_hz = t->clock_rate_hz;
    o->channels = t->channels;
    o->red = t->red_pt >= 0;
    o->ssrc = (uint32_t)weir_rand_u64(&ctl->rand) | 1u;
    o->rtx_ssrc = t->kind == WEIR_SDP_VIDEO && t->rtx_pt >= 0
                      ? ((uint32_t)weir_rand_u64(&ctl->rand) | 1u)
                      : 0;
    snprintf(o->stream_id, sizeof o->stream_id, "%s", t->owner->id);
    snprintf(o->track_id, sizeof o->track_id, "%s", t->id);
    snprintf(o->cname, sizeof o->cname, "%s", t->owner->id);
    l->handle = t->handle;
}

/* Updates the m-lines to the wanted tracks; true when anything changed. */
static bool update_lines(weir_control *ctl, weir_participant *p)
{
    weir_participant_media *pm = p->media;
    bool changed = false;
    for (size_t i = 0; i < pm->n_lines; i++) {
        weir_sub_line *l = &pm->lines[i];
        const weir_track *t;
        if (l->handle && !(track_in_room(p->room, p, l->handle, &t) && wants(p, t))) {
            l->handle = 0;
            l->offered.active = false;
            changed = true;
        }
    }
    for (size_t i = 0; i < weir_room_count(p->room); i++) {
        const weir_participant *q = weir_room_at(p->room, i);
        for (size_t k = 0; q != p && q->media && k < q->media->n_tracks; k++) {
            const weir_track *t = q->media->tracks[k];
            if (!wants(p, t) || line_of(pm, t->handle))
                continue;
            weir_sub_line *l = weir_media_add_line(pm);
            if (!l) {
                WEIR_LOG_WARN("subscriber_lines_full participant=%s", p->id);
                return changed;
            }
            fill_line(ctl, pm, l, t);
            changed = true;
        }
    }
    return changed;
}

static void start_subscriber_pc(weir_control *ctl, weir_participant *p)
{
    weir_participant_media *pm = p->media;
    weir_rand_id(&ctl->rand, pm->sub_ufrag, 8);
    weir_rand_id(&ctl->rand, pm->sub_pwd, 24);
    pm->sub_session_id = weir_rand_u64(&ctl->rand) >> 2;
    pm->sub_version = 1;
    weir_worker_sub_start *start = WEIR_NEW(weir_worker_sub_start);
    snprintf(start->local_ufrag, sizeof start->local_ufrag, "%s", pm->sub_ufrag);
    snprintf(start->local_pwd, sizeof start->local_pwd, "%s", pm->sub_pwd);
    if (weir_control_send_to_peer(ctl, p, WEIR_WORKER_CMD_SUBSCRIBER_START, start) == 0)
        pm->sub_started = true;
}

static void send_offer(weir_control *ctl, weir_participant *p)
{
    weir_participant_media *pm = p->media;
    if (!pm->sub_started) {
        start_subscriber_pc(ctl, p);
    } else if (pm->sub_restart) {
        pm->sub_restart = false;
        pm->offer_restarts = true;
        weir_rand_id(&ctl->rand, pm->sub_ufrag, 8);
        weir_rand_id(&ctl->rand, pm->sub_pwd, 24);
        WEIR_LOG_INFO("subscriber_ice_restart participant=%s", p->id);
    }
    weir_subscriber_track tracks[WEIR_MEDIA_MAX_LINES];
    for (size_t i = 0; i < pm->n_lines; i++)
        tracks[i] = pm->lines[i].offered;
    weir_local_params lp;
    weir_local_params_init(&lp);
    lp.ice_ufrag = pm->sub_ufrag;
    lp.ice_pwd = pm->sub_pwd;
    lp.fingerprint = weir_cert_fingerprint(ctl->cert);
    lp.session_id = pm->sub_session_id;
    lp.session_version = pm->sub_version++;
    char err[256];
    weir_sdp *offer = NULL;
    if (weir_negotiate_subscriber_offer(&lp, tracks, pm->n_lines, &offer, err, sizeof err) < 0) {
        WEIR_LOG_ERROR("subscriber_offer_failed participant=%s: %s", p->id, err);
        return;
    }
    char *text = weir_sdp_write(offer, NULL);
    weir_sdp_free(pm->sub_offer);
    pm->sub_offer = offer;
    pm->renegotiate = false;
    if (p->session)
        weir_session_notify(p->session, "offer", json_pack("{s:s}", "sdp", text));
    WEIR_LOG_INFO("subscriber_offer participant=%s lines=%zu version=%llu", p->id, pm->n_lines,
                  (unsigned long long)lp.session_version);
    weir_free(text);
}

void weir_media_refresh(weir_control *ctl, weir_participant *p)
{
    if (!p->media || !p->room || ctl->shutting_down ||
        weir_room_state_get(p->room) == WEIR_ROOM_CLOSING)
        return;
    if (!update_lines(ctl, p))
        return;
    if (p->media->sub_offer)
        p->media->renegotiate = true;
    else
        send_offer(ctl, p);
}

void weir_media_refresh_room(weir_control *ctl, weir_room *room, const weir_participant *except)
{
    for (size_t i = 0; room && i < weir_room_count(room); i++) {
        weir_participant *q = weir_room_at(room, i);
        if (q != except)
            weir_media_refresh(ctl, q);
    }
}

/* Counts consumers of a track per worker and tells the producer's worker where to send. */
static void route_change(weir_control *ctl, uint32_t handle, int worker, bool add)
{
    weir_track *t = weir_media_track_by_handle(ctl, handle);
    if (!t || worker < 0 || worker >= WEIR_MESH_MAX_WORKERS)
        return;
    uint16_t *count = &t->consumers_on[worker];
    if (add ? (*count)++ != 0 : (*count == 0 || --(*count) != 0))
        return;
    int producer = t->owner->worker_index;
    if (producer == worker || producer < 0 || producer >= ctl->n_workers)
        return;
    weir_worker_route *r = WEIR_NEW(weir_worker_route);
    *r = (weir_worker_route){.handle = handle, .worker = worker, .add = add};
    weir_worker_cmd cmd = {.type = WEIR_WORKER_CMD_ROUTE, .payload = r};
    if (weir_worker_send(ctl->workers[producer], &cmd) < 0)
        weir_free(r);
}

static void fill_worker_track(const weir_sub_line *l, const weir_subscriber_answer_media *am,
                              const weir_track *t, weir_worker_sub_track *wt)
{
    memset(wt, 0, sizeof *wt);
    snprintf(wt->mid, sizeof wt->mid, "%s", l->offered.mid);
    wt->pt = wt->rtx_pt = wt->red_pt = wt->in_pt = wt->in_red_pt = -1;
    if (!t || !am->accepted)
        return;
    wt->handle = l->handle;
    wt->audio = t->kind == WEIR_SDP_AUDIO;
    wt->codec = t->codec;
    wt->clock_rate_hz = t->clock_rate_hz;
    wt->n_layers = (uint8_t)(t->n_rids ? t->n_rids : 1);
    wt->ssrc = l->offered.ssrc;
    weir_subscriber_codec_pts(t->codec, &wt->pt, &wt->rtx_pt);
    if (!am->rtx || !l->offered.rtx_ssrc)
        wt->rtx_pt = -1;
    wt->rtx_ssrc = wt->rtx_pt >= 0 ? l->offered.rtx_ssrc : 0;
    wt->in_pt = t->pt;
    if (am->red && t->red_pt >= 0) {
        wt->red_pt = WEIR_SUBSCRIBER_RED_PT;
        wt->in_red_pt = t->red_pt;
    }
    wt->nack = (am->rtcp_fb & WEIR_NEGOTIATE_FB_NACK) != 0;
}

static void fill_transport(const weir_subscriber_answer_desc *d, weir_worker_sub_answer *a)
{
    snprintf(a->remote_ufrag, sizeof a->remote_ufrag, "%s", d->ice_ufrag);
    snprintf(a->remote_pwd, sizeof a->remote_pwd, "%s", d->ice_pwd);
    snprintf(a->fingerprint, sizeof a->fingerprint, "%s %s", d->fingerprint_hash, d->fingerprint);
    a->dtls_role = d->dtls_role;
    a->ext_mid = d->ext.mid;
    a->ext_abs_send_time = d->ext.abs_send_time;
    a->ext_twcc = d->ext.twcc;
    a->ext_audio_level = d->ext.audio_level;
    for (size_t i = 0; i < d->n_candidates && i < WEIR_WORKER_MAX_OFFER_CANDIDATES; i++)
        snprintf(a->candidates[i], sizeof a->candidates[i], "%s", d->candidates[i]);
    a->n_candidates = d->n_candidates < WEIR_WORKER_MAX_OFFER_CANDIDATES
                          ? d->n_candidates
                          : WEIR_WORKER_MAX_OFFER_CANDIDATES;
    a->end_of_candidates = d->end_of_candidates;
}

/* Tells the worker the answer and moves the routes from the old consumers to the new ones. */
static void apply_answer(weir_control *ctl, weir_participant *p,
                         const weir_subscriber_answer_desc *d)
{
    weir_participant_media *pm = p->media;
    weir_worker_sub_answer *a = WEIR_NEW(weir_worker_sub_answer);
    fill_transport(d, a);
    if (pm->offer_restarts) {
        a->ice_restart = true;
        snprintf(a->local_ufrag, sizeof a->local_ufrag, "%s", pm->sub_ufrag);
        snprintf(a->local_pwd, sizeof a->local_pwd, "%s", pm->sub_pwd);
        pm->offer_restarts = false;
    }
    for (size_t i = 0; i < pm->n_lines && i < d->n_media; i++) {
        weir_sub_line *l = &pm->lines[i];
        const weir_track *t = weir_media_track_by_handle(ctl, l->handle);
        fill_worker_track(l, &d->media[i], t, &a->tracks[i]);
        uint32_t now = a->tracks[i].handle;
        if (l->applied_handle != now) {
            if (l->applied_handle)
                route_change(ctl, l->applied_handle, p->worker_index, false);
            if (now)
                route_change(ctl, now, p->worker_index, true);
            l->applied_handle = now;
        }
    }
    a->n_tracks = pm->n_lines < d->n_media ? pm->n_lines : d->n_media;
    weir_control_send_to_peer(ctl, p, WEIR_WORKER_CMD_SUBSCRIBER_ANSWER, a);
}

int weir_media_answer(weir_control *ctl, weir_participant *p, const char *text, char *err,
                      size_t errlen)
{
    weir_participant_media *pm = p->media;
    if (!pm || !pm->sub_offer) {
        snprintf(err, errlen, "answer: no offer is waiting for an answer");
        return 409;
    }
    char why[200];
    weir_sdp *answer = NULL;
    if (weir_sdp_parse(text, strlen(text), &answer, why, sizeof why) < 0) {
        snprintf(err, errlen, "invalid answer: %s", why);
        return -32602;
    }
    weir_subscriber_answer_desc *d = WEIR_NEW(weir_subscriber_answer_desc);
    int rc = weir_negotiate_subscriber_answer(pm->sub_offer, answer, d, why, sizeof why);
    weir_sdp_free(answer);
    if (rc < 0) {
        snprintf(err, errlen, "answer refused: %s", why);
        weir_free(d);
        return -32602;
    }
    apply_answer(ctl, p, d);
    weir_free(d);
    weir_sdp_free(pm->sub_offer);
    pm->sub_offer = NULL;
    if (pm->renegotiate)
        send_offer(ctl, p);
    return 0;
}

void weir_media_drop_subscriptions(weir_control *ctl, weir_participant *p)
{
    weir_participant_media *pm = p->media;
    for (size_t i = 0; i < pm->n_lines; i++) {
        if (pm->lines[i].applied_handle)
            route_change(ctl, pm->lines[i].applied_handle, p->worker_index, false);
        pm->lines[i].applied_handle = 0;
    }
    weir_sdp_free(pm->sub_offer);
    pm->sub_offer = NULL;
}

int weir_media_subscribe(weir_control *ctl, weir_participant *p, const json_t *ids, bool subscribe,
                         char *err, size_t errlen)
{
    weir_participant_media *pm = p->media;
    bool auto_subscribe = weir_room_options_get(p->room)->auto_subscribe;
    for (size_t i = 0; i < json_array_size(ids); i++) {
        const char *id = json_string_value(json_array_get(ids, i));
        weir_track *t = weir_media_find_track(ctl, p->room, id ? id : "");
        if (!t || t->owner == p) {
            snprintf(err, errlen, "no such track in this room: %.40s", id ? id : "");
            return 404;
        }
    }
    for (size_t i = 0; i < json_array_size(ids); i++) {
        weir_track *t =
            weir_media_find_track(ctl, p->room, json_string_value(json_array_get(ids, i)));
        bool toggle = subscribe != auto_subscribe; /* the toggled set names the exceptions */
        bool present = is_toggled(pm, t->handle);
        if (toggle && !present && pm->n_toggled < WEIR_MEDIA_MAX_LINES)
            pm->toggled[pm->n_toggled++] = t->handle;
        if (!toggle && present)
            for (size_t k = 0; k < pm->n_toggled; k++)
                if (pm->toggled[k] == t->handle)
                    pm->toggled[k] = pm->toggled[--pm->n_toggled];
    }
    weir_media_refresh(ctl, p);
    return 0;
}

int weir_media_set_preferences(weir_control *ctl, weir_participant *p, const char *track_id,
                               int max_spatial, int max_temporal, int paused, char *err,
                               size_t errlen)
{
    weir_track *t = weir_media_find_track(ctl, p->room, track_id);
    if (!t || !line_of(p->media, t->handle)) {
        snprintf(err, errlen, "set_preferences: you do not receive track %.40s", track_id);
        return 404;
    }
    weir_worker_track_control *tc = WEIR_NEW(weir_worker_track_control);
    *tc = (weir_worker_track_control){.handle = t->handle,
                                      .max_spatial = max_spatial,
                                      .max_temporal = max_temporal,
                                      .paused = paused};
    weir_control_send_to_peer(ctl, p, WEIR_WORKER_CMD_PREFERENCES, tc);
    return 0;
}

void weir_media_subscriber_lost(weir_control *ctl, weir_participant *p)
{
    weir_participant_media *pm = p->media;
    if (!pm || !pm->sub_started || pm->restart_done || !p->room)
        return;
    /* A peer that flaps (silent, back, silent) is not restarted again and again. */
    int64_t now_us = weir_clock_now_us();
    if (pm->last_restart_us && now_us - pm->last_restart_us < ICE_RESTART_MIN_INTERVAL_US)
        return;
    pm->last_restart_us = now_us;
    pm->restart_done = true;
    pm->sub_restart = true;
    if (pm->sub_offer)
        pm->renegotiate = true;
    else
        send_offer(ctl, p);
}

void weir_media_subscriber_connected(weir_participant *p)
{
    if (p->media)
        p->media->restart_done = false;
}

void weir_media_on_layer_changed(weir_control *ctl, weir_participant *p, uint32_t handle,
                                 int spatial, int temporal)
{
    weir_track *t = weir_media_track_by_handle(ctl, handle);
    if (!t || !p->session)
        return;
    /* The selector's "every temporal layer" is 3; PROTOCOL.md's range is 0..2. */
    if (temporal > 2)
        temporal = 2;
    weir_session_notify(
        p->session, "layer_changed",
        json_pack("{s:s, s:i, s:i}", "track", t->id, "spatial", spatial, "temporal", temporal));
}
