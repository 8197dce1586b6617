/*
 * weir-load's leaky-bucket pacer (see pacing.h).
 *
 * The bucket keeps the bytes sent since it was last empty rather than a
 * running "next send time", so the schedule of a frame is an exact function
 * of the cumulative size (no rounding error piles up packet after packet).
 */
#include "pacing.h"

wl_pacing wl_pacing_make(double factor, int kbps, int64_t burst_us)
{
    wl_pacing cfg = {0};
    if (factor > 0 && kbps > 0) {
        cfg.rate_bps = factor * kbps * 1000.0;
        cfg.burst_us = burst_us > 0 ? burst_us : 0;
    }
    return cfg;
}

int64_t wl_pacing_drain_us(const wl_pacing *cfg, uint64_t bytes)
{
    if (cfg->rate_bps <= 0)
        return 0;
    return (int64_t)((double)bytes * 8.0 * 1e6 / cfg->rate_bps);
}

int64_t wl_pacer_next_us(const wl_pacer *p, const wl_pacing *cfg)
{
    if (cfg->rate_bps <= 0)
        return INT64_MIN;
    /* the bucket is empty at origin + drain(bytes); a burst may leave that much earlier */
    return p->origin_us + wl_pacing_drain_us(cfg, p->bytes) - cfg->burst_us;
}

void wl_pacer_sent(wl_pacer *p, const wl_pacing *cfg, int64_t now_us, size_t bytes)
{
    if (cfg->rate_bps <= 0)
        return;
    /*
     * Emptied before now: restart from here (no credit for the time it sat
     * empty). A packet sent exactly on time keeps the origin, so a frame's
     * schedule stays a function of its cumulative size.
     */
    if (p->bytes == 0 || now_us > p->origin_us + wl_pacing_drain_us(cfg, p->bytes)) {
        p->origin_us = now_us;
        p->bytes = 0;
    }
    p->bytes += bytes;
}

void wl_pacing_schedule(const wl_pacing *cfg, const size_t *sizes, size_t n, int64_t *offsets_us)
{
    wl_pacer p = {0};
    for (size_t k = 0; k < n; k++) {
        int64_t t = wl_pacer_next_us(&p, cfg);
        if (t < 0)
            t = 0; /* not before the capture */
        offsets_us[k] = t;
        wl_pacer_sent(&p, cfg, t, sizes[k]);
    }
}
