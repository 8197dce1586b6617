#include "rtc/tsmap.h"

#include <string.h>

#include "weir/errors.h"

int weir_tsmap_init(weir_tsmap *m, uint32_t clock_rate_hz)
{
    if (clock_rate_hz == 0)
        return -WEIR_EINVAL;
    memset(m, 0, sizeof *m);
    m->clock_rate_hz = clock_rate_hz;
    m->last_now_us = INT64_MIN;
    return 0;
}

void weir_tsmap_sync(weir_tsmap *m)
{
    m->sync_pending = true;
}

static bool serial_newer(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/*
 * Ticks of wall time since the newest output: the new source's first frame
 * was captured about that long after the last frame the receiver got, so
 * playout keeps its pace across the switch (T2).
 */
static uint32_t advance_ticks(const weir_tsmap *m, int64_t now_us)
{
    int64_t elapsed_us = now_us - m->max_out_us;
    if (elapsed_us < 0)
        elapsed_us = 0;
    /* Cap before multiplying, so the product stays near 2^30 * 10^6 whatever the pause was. */
    int64_t cap_us = (int64_t)WEIR_TSMAP_MAX_ADVANCE * 1000000 / m->clock_rate_hz + 1;
    if (elapsed_us > cap_us)
        elapsed_us = cap_us;
    int64_t ticks = elapsed_us * m->clock_rate_hz / 1000000;
    if (ticks < 1)
        ticks = 1;
    if (ticks > WEIR_TSMAP_MAX_ADVANCE)
        ticks = WEIR_TSMAP_MAX_ADVANCE;
    return (uint32_t)ticks;
}

uint32_t weir_tsmap_map(weir_tsmap *m, uint32_t in_ts, int64_t now_us)
{
    if (now_us < m->last_now_us)
        now_us = m->last_now_us;
    m->last_now_us = now_us;
    if (m->sync_pending && m->started)
        m->offset = m->max_out + advance_ticks(m, now_us) - in_ts;
    m->sync_pending = false;
    uint32_t out = in_ts + m->offset;
    if (!m->started || serial_newer(out, m->max_out)) {
        m->max_out = out;
        m->max_out_us = now_us;
    }
    m->started = true;
    return out;
}

uint32_t weir_tsmap_offset(const weir_tsmap *m)
{
    return m->offset;
}
