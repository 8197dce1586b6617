/*
 * Slots are indexed by extended sequence number modulo the window. Every
 * slot in [head, highest] is PRESENT or MISSING, every other slot EMPTY:
 * consuming or giving up a packet empties its slot, so a slot is never
 * mistaken for a packet one window earlier.
 */
#include "vp8_depacketizer.h"

#include <string.h>

#include "proto/rtp.h"
#include "proto/vp8.h"
#include "weir/alloc.h"
#include "weir/errors.h"

#define DEFAULT_MAX_WAIT_US 500000
#define DEFAULT_NACK_INTERVAL_US 40000
#define DEFAULT_MAX_NACKS 10

enum { SLOT_EMPTY, SLOT_PRESENT, SLOT_MISSING };

typedef struct slot {
    uint8_t state;
    bool marker;
    bool frame_start;
    bool keyframe;
    bool has_picture_id;
    uint8_t header_len;
    uint8_t nacks;
    uint16_t len;
    uint16_t picture_id;
    uint16_t width, height;
    uint32_t timestamp;
    int64_t missing_since_us;
    int64_t last_nack_us;
    uint8_t data[WC_DEPACK_MAX_PAYLOAD];
} slot;

struct wc_vp8_depack {
    wc_vp8_depack_config cfg;
    /* owned: */
    slot *slots;
    uint8_t *frame;
    /* state: */
    bool started;
    bool pending_gap;
    int64_t head;    /* next extended sequence number to consume */
    int64_t highest; /* highest seen; head - 1 when nothing is held */
    wc_vp8_depack_stats stats;
};

wc_vp8_depack *wc_vp8_depack_create(const wc_vp8_depack_config *cfg)
{
    wc_vp8_depack *d = WEIR_NEW(wc_vp8_depack);
    if (cfg)
        d->cfg = *cfg;
    if (d->cfg.max_wait_us <= 0)
        d->cfg.max_wait_us = DEFAULT_MAX_WAIT_US;
    if (d->cfg.nack_interval_us <= 0)
        d->cfg.nack_interval_us = DEFAULT_NACK_INTERVAL_US;
    if (d->cfg.max_nacks == 0)
        d->cfg.max_nacks = DEFAULT_MAX_NACKS;
    d->slots = weir_calloc(WC_DEPACK_WINDOW, sizeof(slot));
    d->frame = weir_malloc(WC_DEPACK_MAX_FRAME);
    return d;
}

void wc_vp8_depack_destroy(wc_vp8_depack *d)
{
    if (!d)
        return;
    weir_free(d->slots);
    weir_free(d->frame);
    weir_free(d);
}

static slot *at(wc_vp8_depack *d, int64_t ext)
{
    return &d->slots[(uint64_t)ext % WC_DEPACK_WINDOW];
}

static void drop_head(wc_vp8_depack *d)
{
    slot *s = at(d, d->head);
    if (s->state == SLOT_MISSING)
        d->stats.packets_lost++;
    s->state = SLOT_EMPTY;
    d->head++;
    d->pending_gap = true;
}

/* Gives up the frame at head: everything up to the next frame start. */
static void give_up(wc_vp8_depack *d)
{
    d->stats.frames_dropped++;
    do {
        drop_head(d);
    } while (d->head <= d->highest &&
             !(at(d, d->head)->state == SLOT_PRESENT && at(d, d->head)->frame_start));
}

int wc_vp8_depack_push(wc_vp8_depack *d, int64_t now_us, uint16_t seq, uint32_t timestamp,
                       bool marker, const uint8_t *payload, size_t len)
{
    weir_vp8_desc desc;
    if (len > WC_DEPACK_MAX_PAYLOAD || weir_vp8_parse(&desc, payload, len) < 0) {
        d->stats.invalid++;
        return -WEIR_EINVAL;
    }
    if (!d->started) {
        d->started = true;
        d->head = (int64_t)seq + 65536; /* room to unwrap backwards */
        d->highest = d->head - 1;
    }
    int64_t ext = d->highest + (int16_t)(uint16_t)(seq - (uint16_t)d->highest);
    if (ext < d->head) {
        d->stats.duplicates++;
        return 1;
    }
    if (ext - d->highest > WC_DEPACK_WINDOW) {
        /* A jump larger than the window: a new stream, not loss worth counting per packet. */
        while (d->head <= d->highest)
            drop_head(d);
        d->head = ext;
        d->highest = ext - 1;
        d->pending_gap = true;
    }
    while (ext - d->head >= WC_DEPACK_WINDOW)
        drop_head(d);
    if (d->highest < d->head - 1)
        d->highest = d->head - 1;
    for (int64_t e = d->highest + 1; e < ext; e++) {
        slot *m = at(d, e);
        m->state = SLOT_MISSING;
        m->nacks = 0;
        m->missing_since_us = now_us;
        m->last_nack_us = now_us;
    }
    if (ext > d->highest)
        d->highest = ext;

    slot *s = at(d, ext);
    if (s->state == SLOT_PRESENT) {
        d->stats.duplicates++;
        return 1;
    }
    if (s->state == SLOT_MISSING && s->nacks > 0)
        d->stats.packets_recovered++;
    s->state = SLOT_PRESENT;
    s->marker = marker;
    s->timestamp = timestamp;
    s->frame_start = desc.is_frame_start;
    s->keyframe = desc.is_keyframe;
    s->has_picture_id = desc.has_picture_id;
    s->picture_id = desc.picture_id;
    s->width = desc.width;
    s->height = desc.height;
    s->header_len = desc.header_len;
    s->len = (uint16_t)len;
    memcpy(s->data, payload, len);
    d->stats.packets++;
    return 0;
}

int wc_vp8_depack_push_rtp(wc_vp8_depack *d, int64_t now_us, uint8_t *buf, size_t len, int media_pt,
                           int rtx_pt)
{
    weir_rtp h;
    if (weir_rtp_parse(&h, buf, len) < 0) {
        d->stats.invalid++;
        return -WEIR_EINVAL;
    }
    if (rtx_pt >= 0 && h.payload_type == rtx_pt) {
        if (weir_rtp_rtx_unwrap(&h, buf, h.ssrc, (uint8_t)media_pt) < 0)
            return 1; /* padding-only probe: no OSN, nothing to deliver */
    } else if (h.payload_type != media_pt) {
        d->stats.invalid++;
        return -WEIR_EINVAL;
    }
    return wc_vp8_depack_push(d, now_us, h.seq, h.timestamp, h.marker, weir_rtp_payload(&h, buf),
                              h.payload_len);
}

/* Last sequence of the complete frame starting at head: 1 and *end, 0 to wait, -1 given up. */
static int find_frame_end(wc_vp8_depack *d, int64_t now_us, int64_t *end)
{
    const slot *first = at(d, d->head);
    for (int64_t e = d->head; e <= d->highest; e++) {
        const slot *t = at(d, e);
        if (t->state == SLOT_MISSING) {
            if (now_us - t->missing_since_us >= d->cfg.max_wait_us) {
                give_up(d);
                return -1;
            }
            return 0;
        }
        if (e > d->head && (t->frame_start || t->timestamp != first->timestamp)) {
            *end = e - 1; /* the marker packet got lost but nothing is missing: a sender quirk */
            return 1;
        }
        if (t->marker) {
            *end = e;
            return 1;
        }
    }
    return 0;
}

int wc_vp8_depack_poll_frame(wc_vp8_depack *d, int64_t now_us, wc_vp8_frame *out)
{
    int64_t end = 0;
    for (;;) {
        if (!d->started || d->head > d->highest)
            return 0;
        const slot *s = at(d, d->head);
        if (s->state == SLOT_MISSING) {
            if (now_us - s->missing_since_us < d->cfg.max_wait_us)
                return 0;
            give_up(d);
            continue;
        }
        if (!s->frame_start) {
            give_up(d);
            continue;
        }
        int r = find_frame_end(d, now_us, &end);
        if (r == 0)
            return 0;
        if (r == 1)
            break;
    }
    const slot *first = at(d, d->head);
    size_t total = 0;
    for (int64_t e = d->head; e <= end; e++) {
        const slot *t = at(d, e);
        size_t n = (size_t)(t->len - t->header_len);
        if (total + n <= WC_DEPACK_MAX_FRAME)
            memcpy(d->frame + total, t->data + t->header_len, n);
        total += n;
    }
    memset(out, 0, sizeof *out);
    out->data = d->frame;
    out->len = total <= WC_DEPACK_MAX_FRAME ? total : 0;
    out->timestamp = first->timestamp;
    out->first_seq = (uint16_t)d->head;
    out->last_seq = (uint16_t)end;
    out->picture_id = first->picture_id;
    out->has_picture_id = first->has_picture_id;
    out->keyframe = first->keyframe;
    out->width = first->width;
    out->height = first->height;
    out->after_gap = d->pending_gap;
    for (int64_t e = d->head; e <= end; e++)
        at(d, e)->state = SLOT_EMPTY;
    d->head = end + 1;
    d->pending_gap = false;
    d->stats.frames++;
    return 1;
}

size_t wc_vp8_depack_nack(wc_vp8_depack *d, int64_t now_us, uint16_t *seqs, size_t cap)
{
    size_t n = 0;
    if (!d->started)
        return 0;
    for (int64_t e = d->head; e <= d->highest && n < cap; e++) {
        slot *s = at(d, e);
        if (s->state != SLOT_MISSING || s->nacks >= d->cfg.max_nacks)
            continue;
        if (s->nacks > 0 && now_us - s->last_nack_us < d->cfg.nack_interval_us)
            continue;
        s->nacks++;
        s->last_nack_us = now_us;
        seqs[n++] = (uint16_t)e;
    }
    d->stats.nacked += n;
    return n;
}

const wc_vp8_depack_stats *wc_vp8_depack_get_stats(const wc_vp8_depack *d)
{
    return &d->stats;
}
