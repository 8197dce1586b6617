/* Latency histogram for weir-load (see stats.h). */
#include "stats.h"

#include <string.h>

void wl_hist_add(wl_hist *h, int64_t us)
{
    if (us < 0)
        us = 0;
    uint64_t b = (uint64_t)us / WL_HIST_BUCKET_US;
    if (b >= WL_HIST_BUCKETS)
        b = WL_HIST_BUCKETS - 1;
    h->buckets[b]++;
    h->count++;
    if ((uint64_t)us > h->max_us)
        h->max_us = (uint64_t)us;
}

void wl_hist_reset(wl_hist *h)
{
    memset(h, 0, sizeof *h);
}

double wl_hist_percentile(const wl_hist *h, double pct)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)((double)h->count * pct / 100.0);
    if (want >= h->count)
        want = h->count - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < WL_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen > want)
            return (double)((i + 1) * WL_HIST_BUCKET_US);
    }
    return (double)h->max_us;
}
