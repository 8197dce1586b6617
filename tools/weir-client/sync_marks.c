/*
 * Frame and sample arithmetic of the nominal timeline (sync_marks.h). Every
 * position is an integer index from media start, never a clock reading, so
 * the flash frame and the beep's first sample of a mark are the same
 * instant by construction: both derive from the flash frame's index.
 */
#include "sync_marks.h"

#include <math.h>

uint64_t wc_media_frame_ticks(uint64_t n, int fps, uint32_t rate_hz)
{
    uint64_t f = (uint64_t)fps;
    return (n * rate_hz * 2 + f) / (2 * f);
}

uint64_t wc_media_us_ticks(int64_t elapsed_us, uint32_t rate_hz)
{
    if (elapsed_us <= 0)
        return 0;
    return (uint64_t)elapsed_us * rate_hz / 1000000;
}

int64_t wc_media_frame_us(uint64_t n, int fps)
{
    return (int64_t)(n * 1000000 / (uint64_t)fps);
}

uint64_t wc_media_frame_after(int64_t elapsed_us, int fps)
{
    if (elapsed_us < 0)
        return 0;
    uint64_t n = (uint64_t)elapsed_us * (uint64_t)fps / 1000000;
    while (wc_media_frame_us(n, fps) <= elapsed_us)
        n++;
    return n;
}

uint64_t wc_sync_marks_flash_frame(const wc_sync_marks *m, uint64_t k)
{
    /* ceil(k * period / frame period): the first frame at or after the mark */
    return (k * m->period_ms * (uint64_t)m->fps + 999) / 1000;
}

uint64_t wc_sync_marks_frame_mark(const wc_sync_marks *m, uint64_t n)
{
    if (m->period_ms == 0 || m->fps <= 0)
        return 0;
    /* The latest mark at or before frame n's time; n flashes for it when it is its first frame. */
    uint64_t k = n * 1000 / ((uint64_t)m->period_ms * (uint64_t)m->fps);
    return k >= 1 && wc_sync_marks_flash_frame(m, k) == n ? k : 0;
}

uint64_t wc_sync_marks_beep_sample(const wc_sync_marks *m, uint64_t k)
{
    return wc_media_frame_ticks(wc_sync_marks_flash_frame(m, k), m->fps, m->audio_rate_hz);
}

double wc_sync_marks_time_ms(const wc_sync_marks *m, uint64_t k)
{
    return (double)wc_sync_marks_flash_frame(m, k) * 1000.0 / m->fps;
}

uint64_t wc_sync_marks_fill_audio(const wc_sync_marks *m, uint64_t first_sample, int16_t *pcm,
                                  size_t n)
{
    for (size_t i = 0; i < n; i++)
        pcm[i] = 0;
    if (m->period_ms == 0 || m->fps <= 0 || n == 0)
        return 0;
    uint64_t per_period = (uint64_t)m->period_ms * m->audio_rate_hz / 1000;
    uint64_t beep_len = (uint64_t)WC_SYNC_BEEP_MS * m->audio_rate_hz / 1000;
    uint64_t last = first_sample + n - 1;
    /* A beep starts less than a frame after its mark and the period is longer
     * than a frame, so the marks that can touch the block are these. */
    uint64_t k_lo = first_sample / per_period, k_hi = last / per_period + 1;
    if (k_lo > 0)
        k_lo--;
    if (k_lo < 1)
        k_lo = 1;
    uint64_t started = 0;
    double step = 2.0 * M_PI * WC_SYNC_BEEP_HZ / m->audio_rate_hz;
    for (uint64_t k = k_lo; k <= k_hi; k++) {
        uint64_t s0 = wc_sync_marks_beep_sample(m, k), s1 = s0 + beep_len;
        if (s1 <= first_sample || s0 > last)
            continue;
        if (s0 >= first_sample)
            started = k;
        uint64_t from = s0 > first_sample ? s0 : first_sample;
        uint64_t to = s1 < last + 1 ? s1 : last + 1;
        for (uint64_t s = from; s < to; s++)
            pcm[s - first_sample] =
                (int16_t)lrint(WC_SYNC_BEEP_AMPLITUDE * 32767.0 * sin(step * (double)(s - s0)));
    }
    return started;
}
