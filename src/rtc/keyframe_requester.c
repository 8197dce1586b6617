#include "rtc/keyframe_requester.h"

#include <string.h>

#include "weir/errors.h"

/*
 * Each layer is a small state: idle, waiting (a request to send, held back
 * by the interval or the post-keyframe hold) or in flight (sent, waiting
 * for the keyframe, retried on a timer). Why aggregate at all: every
 * keyframe costs the publisher a burst several times a delta frame's size,
 * and Chromium encodes one per PLI it receives; ten subscribers joining at
 * once must cost one keyframe, not ten.
 */

int weir_keyframe_requester_init(weir_keyframe_requester *r,
                                 const weir_keyframe_requester_config *cfg)
{
    if (!cfg || cfg->n_layers < 1 || cfg->n_layers > WEIR_KEYFRAME_REQUESTER_MAX_LAYERS)
        return -WEIR_EINVAL;
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    if (r->cfg.interval_us <= 0)
        r->cfg.interval_us = WEIR_KEYFRAME_REQUESTER_DEFAULT_INTERVAL_US;
    if (r->cfg.hold_us == 0)
        r->cfg.hold_us = WEIR_KEYFRAME_REQUESTER_DEFAULT_HOLD_US;
    if (r->cfg.retry_us <= 0)
        r->cfg.retry_us = WEIR_KEYFRAME_REQUESTER_DEFAULT_RETRY_US;
    if (r->cfg.max_retries == 0)
        r->cfg.max_retries = WEIR_KEYFRAME_REQUESTER_DEFAULT_MAX_RETRIES;
    r->last_now_us = INT64_MIN;
    for (size_t i = 0; i < WEIR_KEYFRAME_REQUESTER_MAX_LAYERS; i++) {
        r->layers[i].last_sent_us = INT64_MIN;
        r->layers[i].last_keyframe_us = INT64_MIN;
    }
    return 0;
}

static int64_t clamp_now(weir_keyframe_requester *r, int64_t now_us)
{
    if (now_us < r->last_now_us)
        return r->last_now_us;
    r->last_now_us = now_us;
    return now_us;
}

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Retries used up and the last one unanswered: the request is dead. */
static bool exhausted(const weir_keyframe_requester *r, const weir_keyframe_requester_layer *l)
{
    return l->retries >= r->cfg.max_retries;
}

static bool in_flight(const weir_keyframe_requester *r, const weir_keyframe_requester_layer *l,
                      int64_t now_us)
{
    return l->in_flight && !(exhausted(r, l) && now_us >= l->last_sent_us + r->cfg.retry_us);
}

/*
 * When layer l has something to send, not before floor_us; NO_TIMEOUT when
 * nothing. A waiting request is due as soon as its constraints allow, so
 * its time is only ever compared with now (floor INT64_MIN) or reported as
 * no earlier than the latest time seen.
 */
static int64_t due(const weir_keyframe_requester *r, const weir_keyframe_requester_layer *l,
                   int64_t floor_us)
{
    if (l->waiting) {
        int64_t t = floor_us;
        if (l->last_sent_us != INT64_MIN)
            t = max64(t, l->last_sent_us + r->cfg.interval_us);
        if (r->cfg.hold_us > 0 && l->last_keyframe_us != INT64_MIN)
            t = max64(t, l->last_keyframe_us + r->cfg.hold_us);
        return t;
    }
    if (l->in_flight && !exhausted(r, l))
        return l->last_sent_us + r->cfg.retry_us;
    return WEIR_KEYFRAME_REQUESTER_NO_TIMEOUT;
}

int weir_keyframe_requester_request(weir_keyframe_requester *r, uint8_t layer, int64_t now_us)
{
    if (layer >= r->cfg.n_layers)
        return -WEIR_EINVAL;
    now_us = clamp_now(r, now_us);
    weir_keyframe_requester_layer *l = &r->layers[layer];
    r->stats.requested++;
    if (l->waiting || in_flight(r, l, now_us)) {
        r->stats.suppressed++;
        return 0;
    }
    l->waiting = true;
    l->in_flight = false;
    return 0;
}

void weir_keyframe_requester_keyframe_seen(weir_keyframe_requester *r, uint8_t layer,
                                           int64_t now_us)
{
    if (layer >= r->cfg.n_layers)
        return;
    now_us = clamp_now(r, now_us);
    weir_keyframe_requester_layer *l = &r->layers[layer];
    l->waiting = false;
    l->in_flight = false;
    l->last_keyframe_us = now_us;
    r->stats.keyframes++;
}

int weir_keyframe_requester_poll(weir_keyframe_requester *r, int64_t now_us, uint8_t *layer,
                                 bool *use_fir, uint8_t *fir_seq)
{
    now_us = clamp_now(r, now_us);
    for (uint8_t i = 0; i < r->cfg.n_layers; i++) {
        weir_keyframe_requester_layer *l = &r->layers[i];
        if (due(r, l, INT64_MIN) > now_us)
            continue;
        if (l->waiting) {
            l->fir_seq = l->fir_next++;
            l->waiting = false;
            l->in_flight = true;
            l->retries = 0;
        } else {
            l->retries++;
            r->stats.retries++;
        }
        l->last_sent_us = now_us;
        r->stats.sent++;
        *layer = i;
        *use_fir = r->cfg.use_fir;
        *fir_seq = l->fir_seq;
        return 1;
    }
    return 0;
}

int64_t weir_keyframe_requester_next_timeout(const weir_keyframe_requester *r)
{
    int64_t t = WEIR_KEYFRAME_REQUESTER_NO_TIMEOUT;
    for (uint8_t i = 0; i < r->cfg.n_layers; i++) {
        int64_t d = due(r, &r->layers[i], r->last_now_us);
        if (d < t)
            t = d;
    }
    return t;
}

weir_keyframe_requester_stats weir_keyframe_requester_get_stats(const weir_keyframe_requester *r)
{
    return r->stats;
}
