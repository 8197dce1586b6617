#include "rtc/vp8_rewriter.h"

#include <string.h>

static void counter_init(weir_vp8_counter *c, uint8_t mask)
{
    *c = (weir_vp8_counter){.mask = mask, .sync_pending = true};
}

static bool counter_newer(const weir_vp8_counter *c, uint8_t a, uint8_t b)
{
    unsigned delta = (unsigned)(a - b) & c->mask;
    return delta != 0 && delta <= c->mask / 2;
}

/* P2/P3: the first value of a source continues after the newest output. */
static uint8_t counter_map(weir_vp8_counter *c, uint8_t in)
{
    if (c->sync_pending) {
        c->offset = c->has_out ? (uint8_t)(c->max_out + 1 - in) : 0;
        c->sync_pending = false;
    }
    uint8_t out = (uint8_t)((in + c->offset) & c->mask);
    if (!c->has_out || counter_newer(c, out, c->max_out))
        c->max_out = out;
    c->has_out = true;
    return out;
}

void weir_vp8_rewriter_init(weir_vp8_rewriter *r)
{
    memset(r, 0, sizeof *r);
    weir_seqmap_init(&r->picture_id, 15);
    counter_init(&r->tl0picidx, 0xff);
    counter_init(&r->keyidx, WEIR_VP8_KEYIDX_MASK);
}

void weir_vp8_rewriter_sync(weir_vp8_rewriter *r)
{
    weir_seqmap_sync(&r->picture_id);
    r->has_last_pid = false;
    r->tl0picidx.sync_pending = true;
    r->keyidx.sync_pending = true;
}

/*
 * The packet's PictureID in the 15-bit space (P4). A 7-bit one is taken as
 * the value nearest the newest PictureID of this source.
 */
static uint16_t unwrap_picture_id(weir_vp8_rewriter *r, const weir_vp8_desc *d)
{
    uint16_t x = d->picture_id & WEIR_VP8_PICTURE_ID_MASK;
    if (!d->picture_id_15 && r->has_last_pid) {
        int delta = (d->picture_id - r->last_pid) & 0x7f;
        if (delta >= 64)
            delta -= 128;
        x = (uint16_t)((r->last_pid + delta) & WEIR_VP8_PICTURE_ID_MASK);
    }
    unsigned ahead = (unsigned)(x - r->last_pid) & WEIR_VP8_PICTURE_ID_MASK;
    if (!r->has_last_pid || (ahead != 0 && ahead < 0x4000))
        r->last_pid = x;
    r->has_last_pid = true;
    return x;
}

weir_seqmap_result weir_vp8_rewriter_map(weir_vp8_rewriter *r, const weir_vp8_desc *d,
                                         weir_vp8_ids *out)
{
    weir_vp8_ids ids = {0};
    if (d->has_picture_id) {
        uint32_t pid;
        weir_seqmap_result res = weir_seqmap_forward(&r->picture_id, unwrap_picture_id(r, d), &pid);
        if (res != WEIR_SEQMAP_OK)
            return res;
        ids.picture_id = (uint16_t)pid;
    }
    if (d->has_tl0picidx)
        ids.tl0picidx = counter_map(&r->tl0picidx, d->tl0picidx);
    if (d->has_keyidx)
        ids.keyidx = counter_map(&r->keyidx, d->keyidx);
    *out = ids;
    return WEIR_SEQMAP_OK;
}

void weir_vp8_rewriter_drop(weir_vp8_rewriter *r, const weir_vp8_desc *d)
{
    if (d->has_picture_id)
        weir_seqmap_drop(&r->picture_id, unwrap_picture_id(r, d));
}
