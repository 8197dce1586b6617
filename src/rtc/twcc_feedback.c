#include "rtc/twcc_feedback.h"

#include <string.h>

#include "proto/rtcp.h"
#include "weir/errors.h"

/*
 * Sequence numbers are unwrapped to 64 bits around the newest one, so the
 * history is a plain ring indexed by the low bits, each slot tagged with the
 * unwrapped number it holds: a slot whose tag differs is a packet not
 * received. Invariant: max_seq - base < WEIR_TWCC_FB_HISTORY, so every
 * number of the next feedback has its own slot.
 */

#define HISTORY_MASK ((int64_t)WEIR_TWCC_FB_HISTORY - 1)
/* Common header, two SSRCs, base seq, status count, reference time, fb count. */
#define FEEDBACK_FIXED_LEN (WEIR_RTCP_HEADER_LEN + 16)
#define MAX_PADDING 3
/* Every chunk but the last covers at least 7 packets (a 2-bit vector). */
#define MIN_PER_CHUNK 7

void weir_twcc_feedback_init(weir_twcc_feedback *fb, const weir_twcc_feedback_config *cfg)
{
    memset(fb, 0, sizeof *fb);
    fb->interval_us =
        cfg && cfg->interval_us > 0 ? cfg->interval_us : WEIR_TWCC_FB_DEFAULT_INTERVAL_US;
    fb->max_pending =
        cfg && cfg->max_pending > 0 ? cfg->max_pending : WEIR_TWCC_FB_DEFAULT_MAX_PENDING;
    fb->last_sent_us = INT64_MIN;
    fb->last_now_us = INT64_MIN;
    fb->last_arrival_us = INT64_MIN;
    for (size_t i = 0; i < WEIR_TWCC_FB_HISTORY; i++)
        fb->slots[i].seq = INT64_MIN;
}

static weir_twcc_feedback_slot *slot_of(weir_twcc_feedback *fb, int64_t seq)
{
    return &fb->slots[(uint64_t)seq & (uint64_t)HISTORY_MASK];
}

static bool received(const weir_twcc_feedback *fb, int64_t seq)
{
    return fb->slots[(uint64_t)seq & (uint64_t)HISTORY_MASK].seq == seq;
}

/* Nearest unwrapped value to the newest number (RFC 1982 serial order). */
static int64_t unwrap(const weir_twcc_feedback *fb, uint16_t seq)
{
    uint16_t delta = (uint16_t)(seq - (uint16_t)fb->max_seq);
    return fb->max_seq + (delta >= 0x8000 ? (int64_t)delta - 0x10000 : (int64_t)delta);
}

static uint32_t count_received(const weir_twcc_feedback *fb, int64_t from, int64_t to)
{
    uint32_t n = 0;
    for (int64_t s = from; s <= to; s++)
        n += received(fb, s);
    return n;
}

/*
 * seq would need a slot still holding an unreported number: give up those
 * numbers (their feedback is lost, the sender just never learns about them)
 * and start the next feedback at the oldest packet that stays, so a jump
 * does not become a feedback of a thousand "not received".
 */
static void evict_for(weir_twcc_feedback *fb, int64_t seq)
{
    int64_t keep = seq - HISTORY_MASK;
    int64_t end = keep - 1 < fb->max_seq ? keep - 1 : fb->max_seq;
    uint32_t lost = count_received(fb, fb->base, end);
    fb->stats.evicted += lost;
    fb->pending -= lost;
    int64_t b = keep;
    while (b <= fb->max_seq && !received(fb, b))
        b++;
    fb->base = b <= fb->max_seq ? b : seq;
}

static bool urgent(const weir_twcc_feedback *fb)
{
    return fb->pending >= fb->max_pending || fb->max_seq - fb->base >= WEIR_TWCC_FB_HISTORY / 2;
}

static void update_due(weir_twcc_feedback *fb, uint32_t pending_before, int64_t arrival_us)
{
    if (pending_before == 0 && fb->pending > 0) {
        int64_t next = fb->last_sent_us == INT64_MIN ? arrival_us + fb->interval_us
                                                     : fb->last_sent_us + fb->interval_us;
        fb->due_us = next > arrival_us ? next : arrival_us;
    }
    if (urgent(fb) && arrival_us < fb->due_us)
        fb->due_us = arrival_us;
}

void weir_twcc_feedback_handle_packet(weir_twcc_feedback *fb, uint16_t twcc_seq, int64_t arrival_us)
{
    if (arrival_us < fb->last_arrival_us)
        arrival_us = fb->last_arrival_us;
    fb->last_arrival_us = arrival_us;
    if (!fb->started) {
        fb->started = true;
        fb->max_seq = twcc_seq;
        fb->base = twcc_seq;
    }

    int64_t seq = unwrap(fb, twcc_seq);
    if (fb->max_seq - seq > HISTORY_MASK) {
        fb->stats.too_old++;
        return;
    }
    weir_twcc_feedback_slot *s = slot_of(fb, seq);
    if (s->seq == seq) {
        fb->stats.duplicates++;
        return;
    }
    if (seq > fb->max_seq) {
        if (seq - fb->base > HISTORY_MASK)
            evict_for(fb, seq);
        fb->max_seq = seq;
    }
    s->seq = seq;
    s->arrival_us = arrival_us;
    fb->stats.packets++;

    uint32_t before = fb->pending;
    if (seq < fb->base) {
        /* Late: report it, and what followed it again, as libwebrtc does. */
        fb->base = seq;
        fb->pending = count_received(fb, seq, fb->max_seq);
    } else {
        fb->pending++;
    }
    update_due(fb, before, arrival_us);
}

int64_t weir_twcc_feedback_next_timeout(const weir_twcc_feedback *fb)
{
    return fb->pending > 0 ? fb->due_us : WEIR_TWCC_FB_NO_TIMEOUT;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

/* Nearest tick, halves away from zero (libwebrtc rounds the same way). */
static int64_t round_ticks(int64_t us)
{
    int64_t half = WEIR_TWCC_DELTA_TICK_US / 2;
    return (us >= 0 ? us + half : us - half) / WEIR_TWCC_DELTA_TICK_US;
}

/*
 * Fills fb->entries from base for as long as packets fit cap (counting the
 * worst case of one 2-bit chunk per 7 packets) and their deltas fit 16 bits.
 * The delta is taken from the previous *quantised* arrival, so rounding
 * errors never accumulate. Returns the entry count, ending on a received
 * packet (0 when not even the first received one fits).
 */
static size_t collect(weir_twcc_feedback *fb, size_t cap, int32_t *ref, uint32_t *n_received)
{
    size_t n = 0, n_keep = 0, size = FEEDBACK_FIXED_LEN + MAX_PADDING;
    uint32_t recv = 0;
    int64_t last_us = 0;
    bool have_ref = false;

    *ref = 0;
    *n_received = 0;
    for (int64_t seq = fb->base; seq <= fb->max_seq; seq++, n++) {
        weir_twcc_entry *e = &fb->entries[n];
        *e = (weir_twcc_entry){.seq = (uint16_t)seq};
        if (n % MIN_PER_CHUNK == 0)
            size += 2;
        if (!received(fb, seq))
            continue;
        int64_t arrival_us = slot_of(fb, seq)->arrival_us;
        if (!have_ref) {
            *ref = (int32_t)floor_div(arrival_us, WEIR_TWCC_REFERENCE_TICK_US);
            last_us = (int64_t)*ref * WEIR_TWCC_REFERENCE_TICK_US;
            have_ref = true;
        }
        int64_t ticks = round_ticks(arrival_us - last_us);
        size += ticks >= 0 && ticks <= UINT8_MAX ? 1 : 2;
        if (ticks < INT16_MIN || ticks > INT16_MAX || size > cap)
            break;
        e->received = true;
        e->delta_us = (int32_t)(ticks * WEIR_TWCC_DELTA_TICK_US);
        last_us += ticks * WEIR_TWCC_DELTA_TICK_US;
        n_keep = n + 1;
        *n_received = ++recv;
    }
    return n_keep;
}

int weir_twcc_feedback_poll_feedback(weir_twcc_feedback *fb, int64_t now_us, uint32_t sender_ssrc,
                                     uint32_t media_ssrc, uint8_t *out, size_t cap, size_t *len)
{
    if (now_us < fb->last_now_us)
        now_us = fb->last_now_us;
    fb->last_now_us = now_us;
    if (fb->pending == 0 || now_us < fb->due_us)
        return 0;

    int32_t ref;
    uint32_t n_received;
    size_t n = collect(fb, cap, &ref, &n_received);
    if (n == 0)
        return -WEIR_ETOOBIG;
    weir_twcc hdr = {
        .sender_ssrc = sender_ssrc,
        .media_ssrc = media_ssrc,
        .reference_time = ref,
        .fb_count = fb->fb_count,
    };
    int rc = weir_twcc_write(out, cap, &hdr, fb->entries, n);
    if (rc < 0)
        return rc; /* not expected: collect() sized it */

    *len = (size_t)rc;
    fb->base += (int64_t)n;
    fb->pending -= n_received;
    fb->fb_count++;
    fb->stats.feedbacks++;
    fb->last_sent_us = now_us;
    fb->due_us = fb->pending > 0 ? now_us : now_us + fb->interval_us;
    return 1;
}

weir_twcc_feedback_stats weir_twcc_feedback_get_stats(const weir_twcc_feedback *fb)
{
    return fb->stats;
}
