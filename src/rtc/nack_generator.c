#include "rtc/nack_generator.h"

#include <string.h>

/*
 * The missing numbers sit in one array sorted by extended sequence number:
 * gaps are only ever found above the newest number, so appending keeps the
 * order, and removal (a packet arriving, giving up) is a binary search and a
 * memmove over at most WEIR_NACK_GEN_CAPACITY small entries. The shape
 * follows libwebrtc's NackRequester: a reorder delay before the first NACK,
 * RTT-spaced retries, a retry limit, and a keyframe request when the list
 * overflows.
 */

void weir_nack_generator_init(weir_nack_generator *g, const weir_nack_generator_config *cfg)
{
    weir_nack_generator_config c = cfg ? *cfg : (weir_nack_generator_config){0};
    memset(g, 0, sizeof *g);
    g->reorder_delay_us =
        c.reorder_delay_us > 0 ? c.reorder_delay_us : WEIR_NACK_GEN_DEFAULT_REORDER_DELAY_US;
    g->rtt_us = c.rtt_us > 0 ? c.rtt_us : WEIR_NACK_GEN_DEFAULT_RTT_US;
    g->max_age_us = c.max_age_us > 0 ? c.max_age_us : WEIR_NACK_GEN_DEFAULT_MAX_AGE_US;
    g->max_retries = c.max_retries > 0 && c.max_retries <= UINT8_MAX
                         ? c.max_retries
                         : WEIR_NACK_GEN_DEFAULT_MAX_RETRIES;
    g->max_missing = c.max_missing > 0 && c.max_missing <= WEIR_NACK_GEN_CAPACITY
                         ? c.max_missing
                         : WEIR_NACK_GEN_CAPACITY;
    g->last_now_us = INT64_MIN;
}

void weir_nack_generator_set_rtt(weir_nack_generator *g, int64_t rtt_us)
{
    if (rtt_us > 0)
        g->rtt_us = rtt_us;
}

static int64_t clamp_now(weir_nack_generator *g, int64_t now_us)
{
    if (now_us < g->last_now_us)
        return g->last_now_us;
    g->last_now_us = now_us;
    return now_us;
}

/* Nearest extended value to the newest number (RFC 1982 serial order). */
static int64_t unwrap(const weir_nack_generator *g, uint16_t seq)
{
    uint16_t delta = (uint16_t)(seq - (uint16_t)g->max_seq);
    return g->max_seq + (delta >= 0x8000 ? (int64_t)delta - 0x10000 : (int64_t)delta);
}

static void raise_keyframe(weir_nack_generator *g)
{
    if (!g->keyframe_needed)
        g->stats.keyframes++;
    g->keyframe_needed = true;
}

/* Drops entries[0..count): the oldest. */
static void give_up_oldest(weir_nack_generator *g, uint32_t count)
{
    memmove(g->entries, g->entries + count, (g->n - count) * sizeof g->entries[0]);
    g->n -= count;
    g->stats.gave_up += count;
    raise_keyframe(g);
}

static void add_gap(weir_nack_generator *g, int64_t first, int64_t last, int64_t now_us)
{
    int64_t count = last - first + 1;
    if (count > g->max_missing) {
        g->stats.not_tracked += (uint64_t)count;
        raise_keyframe(g);
        return;
    }
    if (g->n + count > g->max_missing)
        give_up_oldest(g, (uint32_t)(g->n + count - g->max_missing));
    for (int64_t s = first; s <= last; s++) {
        g->entries[g->n++] = (weir_nack_generator_entry){
            .seq = s,
            .next_us = now_us + g->reorder_delay_us,
            .give_up_us = now_us + g->max_age_us,
        };
    }
    g->stats.missing += (uint64_t)count;
}

/* Index of seq in entries, or -1. */
static int find(const weir_nack_generator *g, int64_t seq)
{
    int lo = 0, hi = (int)g->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        if (g->entries[mid].seq == seq)
            return mid;
        if (g->entries[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

void weir_nack_generator_handle_packet(weir_nack_generator *g, uint16_t seq, int64_t now_us,
                                       bool was_rtx)
{
    now_us = clamp_now(g, now_us);
    if (!g->started) {
        g->started = true;
        g->max_seq = seq;
        return;
    }
    int64_t s = unwrap(g, seq);
    if (s > g->max_seq) {
        if (s > g->max_seq + 1)
            add_gap(g, g->max_seq + 1, s - 1, now_us);
        g->max_seq = s;
        return;
    }
    int i = find(g, s);
    if (i < 0)
        return; /* a duplicate, or older than what is tracked */
    if (was_rtx)
        g->stats.recovered++;
    else
        g->stats.reordered++;
    memmove(g->entries + i, g->entries + i + 1, (g->n - (uint32_t)i - 1) * sizeof g->entries[0]);
    g->n--;
}

int64_t weir_nack_generator_next_timeout(const weir_nack_generator *g)
{
    int64_t t = WEIR_NACK_GEN_NO_TIMEOUT;
    for (uint32_t i = 0; i < g->n; i++) {
        const weir_nack_generator_entry *e = &g->entries[i];
        if (e->tries < g->max_retries && e->next_us < t)
            t = e->next_us;
        if (e->give_up_us < t)
            t = e->give_up_us;
    }
    return t;
}

static void expire(weir_nack_generator *g, int64_t now_us)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < g->n; i++) {
        if (g->entries[i].give_up_us > now_us)
            g->entries[kept++] = g->entries[i];
    }
    if (kept < g->n) {
        g->stats.gave_up += g->n - kept;
        g->n = kept;
        raise_keyframe(g);
    }
}

size_t weir_nack_generator_poll_nack(weir_nack_generator *g, int64_t now_us, uint16_t *seqs,
                                     size_t cap)
{
    now_us = clamp_now(g, now_us);
    expire(g, now_us);
    size_t count = 0;
    for (uint32_t i = 0; i < g->n && count < cap; i++) {
        weir_nack_generator_entry *e = &g->entries[i];
        if (e->tries >= g->max_retries || e->next_us > now_us)
            continue;
        seqs[count++] = (uint16_t)e->seq;
        e->tries++;
        e->next_us = now_us + g->rtt_us;
        /* After the last NACK, wait one RTT for the RTX before giving up. */
        if (e->tries == g->max_retries && now_us + g->rtt_us < e->give_up_us)
            e->give_up_us = now_us + g->rtt_us;
    }
    g->stats.nacked += count;
    return count;
}

bool weir_nack_generator_poll_keyframe(weir_nack_generator *g)
{
    bool needed = g->keyframe_needed;
    g->keyframe_needed = false;
    return needed;
}

size_t weir_nack_generator_missing_count(const weir_nack_generator *g)
{
    return g->n;
}

weir_nack_generator_stats weir_nack_generator_get_stats(const weir_nack_generator *g)
{
    return g->stats;
}
