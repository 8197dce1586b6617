#include "rtc/simulcast_selector.h"

#include <string.h>

#include "weir/errors.h"

void weir_simulcast_selector_init(weir_simulcast_selector *s)
{
    memset(s, 0, sizeof *s);
    s->pref_max_spatial = WEIR_SIMULCAST_MAX_SPATIAL - 1;
    s->pref_max_temporal = WEIR_SIMULCAST_MAX_TEMPORAL - 1;
    s->cap_spatial = WEIR_SIMULCAST_NO_LAYER;
    s->cap_temporal = WEIR_SIMULCAST_NO_LAYER;
    s->target_spatial = WEIR_SIMULCAST_NO_LAYER;
    s->target_temporal = WEIR_SIMULCAST_NO_LAYER;
    s->current_spatial = WEIR_SIMULCAST_NO_LAYER;
    s->current_temporal = WEIR_SIMULCAST_NO_LAYER;
    s->reported_spatial = WEIR_SIMULCAST_NO_LAYER;
    s->reported_temporal = WEIR_SIMULCAST_NO_LAYER;
    s->last_now_us = INT64_MIN;
}

/* ---- events (R6) ---- */

static void push_event(weir_simulcast_selector *s, const weir_simulcast_event *ev)
{
    if (s->ev_count == WEIR_SIMULCAST_MAX_EVENTS) {
        /*
         * The caller is not polling: keep the newest state rather than a
         * stale history. If that makes the last two equal, the replaced
         * change was undone meanwhile: drop it rather than report a no-op.
         */
        const weir_simulcast_event *prev =
            &s->events[(s->ev_head + s->ev_count - 2) % WEIR_SIMULCAST_MAX_EVENTS];
        s->ev_count--;
        if (prev->spatial == ev->spatial && prev->temporal == ev->temporal)
            return;
    }
    s->events[(s->ev_head + s->ev_count) % WEIR_SIMULCAST_MAX_EVENTS] = *ev;
    s->ev_count++;
}

/* Every path that changes the current layer ends here, so each change is reported once. */
static void report_layer(weir_simulcast_selector *s)
{
    if (s->current_spatial == s->reported_spatial && s->current_temporal == s->reported_temporal)
        return;
    s->reported_spatial = s->current_spatial;
    s->reported_temporal = s->current_temporal;
    weir_simulcast_event ev = {
        .type = WEIR_SIMULCAST_EVENT_LAYER_CHANGED,
        .spatial = s->current_spatial,
        .temporal = s->current_temporal,
    };
    push_event(s, &ev);
}

int weir_simulcast_selector_poll_event(weir_simulcast_selector *s, weir_simulcast_event *out)
{
    if (s->ev_count == 0)
        return 0;
    *out = s->events[s->ev_head];
    s->ev_head = (uint8_t)((s->ev_head + 1) % WEIR_SIMULCAST_MAX_EVENTS);
    s->ev_count--;
    return 1;
}

/* ---- target (R1) ---- */

/* An unknown bitrate fits: without a measurement there is no reason to refuse a layer. */
static bool fits_bitrate(const weir_simulcast_selector *s, int layer)
{
    return s->cap_bitrate_bps == 0 || s->bitrate_bps[layer] == 0 ||
           s->bitrate_bps[layer] <= s->cap_bitrate_bps;
}

static int8_t pick_target_spatial(const weir_simulcast_selector *s)
{
    if (s->paused)
        return WEIR_SIMULCAST_NO_LAYER;
    int max_s = s->pref_max_spatial;
    if (s->cap_spatial >= 0 && s->cap_spatial < max_s)
        max_s = s->cap_spatial;
    int8_t best = WEIR_SIMULCAST_NO_LAYER;
    for (int l = 0; l <= max_s; l++) {
        if (s->active[l] && fits_bitrate(s, l))
            best = (int8_t)l;
    }
    if (best != WEIR_SIMULCAST_NO_LAYER)
        return best;
    /* Nothing allowed is active (or fits): the cheapest layer there is beats a frozen picture. */
    for (int l = 0; l < WEIR_SIMULCAST_MAX_SPATIAL; l++) {
        if (s->active[l])
            return (int8_t)l;
    }
    return WEIR_SIMULCAST_NO_LAYER;
}

/*
 * The estimator's temporal cap belongs to its spatial cap: it limits that
 * layer (or a higher one forced by R1's fallback), not the cheaper ones below.
 */
static void pick_target_layer(weir_simulcast_selector *s)
{
    s->target_spatial = pick_target_spatial(s);
    if (s->target_spatial == WEIR_SIMULCAST_NO_LAYER) {
        s->target_temporal = WEIR_SIMULCAST_NO_LAYER;
        return;
    }
    int t = s->pref_max_temporal;
    if (s->cap_spatial >= 0 && s->cap_temporal >= 0 && s->target_spatial >= s->cap_spatial &&
        s->cap_temporal < t)
        t = s->cap_temporal;
    s->target_temporal = (int8_t)t;
}

static void stop_forwarding(weir_simulcast_selector *s)
{
    s->current_spatial = WEIR_SIMULCAST_NO_LAYER;
    s->current_temporal = WEIR_SIMULCAST_NO_LAYER;
    s->restarted = false;
    report_layer(s);
}

/* ---- inputs ---- */

int weir_simulcast_selector_set_preferences(weir_simulcast_selector *s, int max_spatial,
                                            int max_temporal)
{
    if (max_spatial < 0 || max_spatial >= WEIR_SIMULCAST_MAX_SPATIAL || max_temporal < 0 ||
        max_temporal >= WEIR_SIMULCAST_MAX_TEMPORAL)
        return -WEIR_EINVAL;
    s->pref_max_spatial = (uint8_t)max_spatial;
    s->pref_max_temporal = (uint8_t)max_temporal;
    pick_target_layer(s);
    return 0;
}

void weir_simulcast_selector_set_paused(weir_simulcast_selector *s, bool paused)
{
    s->paused = paused;
    pick_target_layer(s);
    if (paused)
        stop_forwarding(s);
}

int weir_simulcast_selector_set_cap_layer(weir_simulcast_selector *s, int spatial, int temporal)
{
    if (spatial >= WEIR_SIMULCAST_MAX_SPATIAL || temporal >= WEIR_SIMULCAST_MAX_TEMPORAL)
        return -WEIR_EINVAL;
    s->cap_spatial = (int8_t)(spatial < 0 ? WEIR_SIMULCAST_NO_LAYER : spatial);
    s->cap_temporal = (int8_t)(spatial < 0 || temporal < 0 ? WEIR_SIMULCAST_NO_LAYER : temporal);
    pick_target_layer(s);
    return 0;
}

void weir_simulcast_selector_set_cap_bitrate(weir_simulcast_selector *s, uint32_t max_bitrate_bps)
{
    s->cap_bitrate_bps = max_bitrate_bps;
    pick_target_layer(s);
}

int weir_simulcast_selector_set_layer_bitrate(weir_simulcast_selector *s, int spatial,
                                              uint32_t bitrate_bps)
{
    if (spatial < 0 || spatial >= WEIR_SIMULCAST_MAX_SPATIAL)
        return -WEIR_EINVAL;
    s->bitrate_bps[spatial] = bitrate_bps;
    pick_target_layer(s);
    return 0;
}

int weir_simulcast_selector_set_layer_active(weir_simulcast_selector *s, int spatial, bool active)
{
    if (spatial < 0 || spatial >= WEIR_SIMULCAST_MAX_SPATIAL)
        return -WEIR_EINVAL;
    s->active[spatial] = active;
    pick_target_layer(s);
    return 0;
}

int weir_simulcast_selector_restart_layer(weir_simulcast_selector *s, int spatial)
{
    if (spatial < 0 || spatial >= WEIR_SIMULCAST_MAX_SPATIAL)
        return -WEIR_EINVAL;
    if (spatial == s->current_spatial)
        s->restarted = true;
    /* The new source's keyframe is wanted now, not when the old request times out. */
    s->requested[spatial] = false;
    return 0;
}

/* ---- per packet ---- */

/* R2: only the first packet of a keyframe of the target starts a layer. */
static bool should_switch_layer(const weir_simulcast_selector *s, const weir_simulcast_pkt *p)
{
    return p->spatial == s->target_spatial && p->is_keyframe && p->is_first_packet_of_frame;
}

/* A keyframe restarts every reference, so all wanted temporal layers can follow it. */
static void apply_target_layer(weir_simulcast_selector *s, weir_simulcast_decision *d)
{
    s->current_spatial = s->target_spatial;
    s->current_temporal = s->target_temporal;
    s->restarted = false;
    d->forward = true;
    d->resync = true;
    report_layer(s);
}

/*
 * R4, at a frame start. Up by one layer at a Y frame only: a Y frame of TID
 * 2 is decodable, but the TID 2 frames after it may reference TID 1 frames
 * the receiver never got. Not at a plain TID 0 frame either: libwebrtc's
 * default VP8 patterns (default_temporal_layers.cc) make TID 1 frames
 * reference the golden buffer a TID 1 frame updated before that TID 0 frame.
 */
static void update_temporal_layer(weir_simulcast_selector *s, const weir_simulcast_pkt *p)
{
    int8_t t = s->target_temporal;
    if (s->current_temporal > t) {
        /* Lower layers never reference higher ones: dropping them is always safe. */
        s->current_temporal = t;
    } else if (s->current_temporal < t) {
        if (p->is_keyframe)
            s->current_temporal = t;
        else if (p->layer_sync && p->temporal == s->current_temporal + 1)
            s->current_temporal = (int8_t)p->temporal;
    }
    report_layer(s);
}

static void filter_temporal(weir_simulcast_selector *s, const weir_simulcast_pkt *p,
                            weir_simulcast_decision *d)
{
    if (p->is_first_packet_of_frame)
        update_temporal_layer(s, p);
    if (p->temporal <= s->current_temporal) {
        d->forward = true;
        return;
    }
    d->reason = WEIR_SIMULCAST_DROP_TEMPORAL;
    d->in_stream = true;
}

/* R3 */
static void maybe_request_keyframe(weir_simulcast_selector *s, int64_t now_us,
                                   weir_simulcast_decision *d)
{
    int8_t l = s->target_spatial;
    if (l == WEIR_SIMULCAST_NO_LAYER || (l == s->current_spatial && !s->restarted))
        return;
    if (s->requested[l] && now_us - s->last_request_us[l] < WEIR_SIMULCAST_KEYFRAME_INTERVAL_US)
        return;
    s->requested[l] = true;
    s->last_request_us[l] = now_us;
    d->keyframe_request = l;
}

int weir_simulcast_selector_handle_packet(weir_simulcast_selector *s, const weir_simulcast_pkt *p,
                                          weir_simulcast_decision *out)
{
    if (p->spatial >= WEIR_SIMULCAST_MAX_SPATIAL || p->temporal >= WEIR_SIMULCAST_MAX_TEMPORAL)
        return -WEIR_EINVAL;
    int64_t now_us = p->now_us > s->last_now_us ? p->now_us : s->last_now_us;
    s->last_now_us = now_us;
    weir_simulcast_decision d = {.keyframe_request = WEIR_SIMULCAST_NO_LAYER};
    if (!s->active[p->spatial]) {
        s->active[p->spatial] = true;
        pick_target_layer(s);
    }
    if (s->target_spatial == WEIR_SIMULCAST_NO_LAYER)
        d.reason = WEIR_SIMULCAST_DROP_PAUSED;
    else if (p->spatial == s->current_spatial && !s->restarted)
        filter_temporal(s, p, &d);
    else if (should_switch_layer(s, p))
        apply_target_layer(s, &d);
    else if (p->spatial == s->target_spatial)
        d.reason = WEIR_SIMULCAST_DROP_WAIT_KEYFRAME;
    else
        d.reason = WEIR_SIMULCAST_DROP_OTHER_LAYER;
    maybe_request_keyframe(s, now_us, &d);
    *out = d;
    return 0;
}

int weir_simulcast_selector_current_spatial(const weir_simulcast_selector *s)
{
    return s->current_spatial;
}

int weir_simulcast_selector_current_temporal(const weir_simulcast_selector *s)
{
    return s->current_temporal;
}

int weir_simulcast_selector_target_spatial(const weir_simulcast_selector *s)
{
    return s->target_spatial;
}

int weir_simulcast_selector_target_temporal(const weir_simulcast_selector *s)
{
    return s->target_temporal;
}
