#include "rtc/seqmap.h"

#include <string.h>

#include "weir/errors.h"

/*
 * Everything is kept unwrapped in 64 bits, so comparisons are plain
 * integer comparisons and only the unwrap step knows about the width.
 * Outputs of an epoch are input + offset, shifted up by the remembered drops
 * that are newer than the input: the offset already counts every drop, and
 * an old input (reordered) must not lose slots for drops that came after it.
 */

int weir_seqmap_init(weir_seqmap *m, unsigned bits)
{
    if (bits < 2 || bits > 16)
        return -WEIR_EINVAL;
    memset(m, 0, sizeof *m);
    m->mask = (1u << bits) - 1;
    return 0;
}

static int64_t half(const weir_seqmap *m)
{
    return ((int64_t)m->mask + 1) / 2;
}

/* Nearest unwrapped value to the newest input (RFC 1982 serial order). */
static int64_t unwrap(const weir_seqmap *m, uint32_t in)
{
    int64_t delta = (int64_t)((in - (uint32_t)m->max_in) & m->mask);
    if (delta >= half(m))
        delta -= (int64_t)m->mask + 1;
    return m->max_in + delta;
}

/*
 * First input of an epoch: it becomes the newest input minus one, so the
 * ordinary "newer input" paths below handle it (forwarded: output =
 * newest output + 1; dropped: the next input gets that output).
 */
static int64_t start_epoch(weir_seqmap *m, uint32_t in)
{
    int64_t x = in & m->mask;
    int64_t first_out = m->has_output ? m->max_out + 1 : x;
    m->in_epoch = true;
    m->max_in = x - 1;
    m->horizon = x - 1;
    m->offset = first_out - x;
    m->n_runs = 0;
    return x;
}

/*
 * Runs wholly older than anything unwrap() can return no longer shift any
 * output: forget them for free. Called as max_in moves.
 */
static void prune_unreachable(weir_seqmap *m)
{
    int64_t lowest = m->max_in - half(m);
    uint32_t n = 0;
    while (n < m->n_runs && m->runs[n].first + m->runs[n].count - 1 < lowest)
        n++;
    if (n == 0)
        return;
    memmove(m->runs, m->runs + n, (m->n_runs - n) * sizeof m->runs[0]);
    m->n_runs -= n;
}

/* Full: forget the oldest run and refuse what it could have shifted (G5). */
static void forget_oldest_run(weir_seqmap *m)
{
    int64_t last = m->runs[0].first + m->runs[0].count - 1;
    if (last > m->horizon)
        m->horizon = last;
    memmove(m->runs, m->runs + 1, (m->n_runs - 1) * sizeof m->runs[0]);
    m->n_runs--;
}

/*
 * Remembered drops newer than x, newest run first: the output shift owed to
 * a reordered input. -1 when x itself was dropped.
 */
static int64_t drops_newer_than(const weir_seqmap *m, int64_t x)
{
    int64_t n = 0;
    for (uint32_t i = m->n_runs; i-- > 0;) {
        const weir_seqmap_run *r = &m->runs[i];
        if (r->first > x) {
            n += r->count;
            continue;
        }
        if (x < r->first + r->count)
            return -1;
        break;
    }
    return n;
}

weir_seqmap_result weir_seqmap_forward(weir_seqmap *m, uint32_t in, uint32_t *out)
{
    int64_t x = m->in_epoch ? unwrap(m, in) : start_epoch(m, in);
    if (x <= m->horizon)
        return WEIR_SEQMAP_TOO_OLD;
    int64_t o;
    if (x > m->max_in) {
        o = x + m->offset;
        m->max_in = x;
        prune_unreachable(m);
    } else {
        int64_t shift = drops_newer_than(m, x);
        if (shift < 0)
            return WEIR_SEQMAP_DROPPED;
        o = x + m->offset + shift;
    }
    if (!m->has_output || o > m->max_out)
        m->max_out = o;
    m->has_output = true;
    *out = (uint32_t)o & m->mask;
    return WEIR_SEQMAP_OK;
}

void weir_seqmap_drop(weir_seqmap *m, uint32_t in)
{
    int64_t x = m->in_epoch ? unwrap(m, in) : start_epoch(m, in);
    /* G6: an older input's slot is already between outputs that were sent. */
    if (x <= m->max_in)
        return;
    weir_seqmap_run *last = m->n_runs ? &m->runs[m->n_runs - 1] : NULL;
    if (last && last->first + last->count == x) {
        last->count++;
    } else {
        if (m->n_runs == WEIR_SEQMAP_MAX_RUNS)
            forget_oldest_run(m);
        m->runs[m->n_runs].first = x;
        m->runs[m->n_runs].count = 1;
        m->n_runs++;
    }
    m->offset--;
    m->max_in = x;
    prune_unreachable(m);
}

void weir_seqmap_sync(weir_seqmap *m)
{
    m->in_epoch = false;
}

bool weir_seqmap_last_output(const weir_seqmap *m, uint32_t *out)
{
    if (!m->has_output)
        return false;
    *out = (uint32_t)m->max_out & m->mask;
    return true;
}
