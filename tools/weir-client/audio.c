#include "audio.h"

#include <math.h>
#include <opus/opus.h>
#include <stdio.h>

#include "weir/alloc.h"
#include "weir/errors.h"

#define TONE_AMPLITUDE 0.3
#define WARMUP_SAMPLES (WC_AUDIO_RATE_HZ / 10)
/* Hysteresis so that codec noise around zero is not counted as crossings. */
#define CROSSING_THRESHOLD 300

struct wc_audio_source {
    OpusEncoder *enc;
    double phase;
    double step;
};

wc_audio_source *wc_audio_source_create(double tone_hz, int bitrate_bps, char *err, size_t err_len)
{
    int e = 0;
    OpusEncoder *enc = opus_encoder_create(WC_AUDIO_RATE_HZ, 1, OPUS_APPLICATION_VOIP, &e);
    if (!enc) {
        snprintf(err, err_len, "opus_encoder_create: %s", opus_strerror(e));
        return NULL;
    }
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(bitrate_bps));
    opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
    wc_audio_source *s = WEIR_NEW(wc_audio_source);
    s->enc = enc;
    s->step = 2.0 * M_PI * tone_hz / WC_AUDIO_RATE_HZ;
    return s;
}

void wc_audio_source_destroy(wc_audio_source *s)
{
    if (!s)
        return;
    opus_encoder_destroy(s->enc);
    weir_free(s);
}

int wc_audio_source_encode_pcm(wc_audio_source *s, const int16_t *pcm, uint8_t *out, size_t cap)
{
    opus_int32 n = opus_encode(s->enc, pcm, WC_AUDIO_FRAME_SAMPLES, out,
                               (opus_int32)(cap > 4000 ? 4000 : cap));
    return n > 0 ? (int)n : -WEIR_EIO;
}

int wc_audio_source_encode(wc_audio_source *s, uint8_t *out, size_t cap)
{
    opus_int16 pcm[WC_AUDIO_FRAME_SAMPLES];
    for (int i = 0; i < WC_AUDIO_FRAME_SAMPLES; i++) {
        pcm[i] = (opus_int16)(TONE_AMPLITUDE * 32767.0 * sin(s->phase));
        s->phase += s->step;
        if (s->phase > 2.0 * M_PI)
            s->phase -= 2.0 * M_PI;
    }
    return wc_audio_source_encode_pcm(s, pcm, out, cap);
}

struct wc_audio_sink {
    OpusDecoder *dec;
    uint64_t frames;
    uint64_t errors;
    uint64_t samples_seen; /* including warm-up */
    uint64_t samples_counted;
    uint64_t crossings;
    int sign; /* -1, +1, or 0 before the first sample past the threshold */
};

wc_audio_sink *wc_audio_sink_create(void)
{
    int e = 0;
    OpusDecoder *dec = opus_decoder_create(WC_AUDIO_RATE_HZ, 1, &e);
    if (!dec)
        return NULL;
    wc_audio_sink *s = WEIR_NEW(wc_audio_sink);
    s->dec = dec;
    return s;
}

void wc_audio_sink_destroy(wc_audio_sink *s)
{
    if (!s)
        return;
    opus_decoder_destroy(s->dec);
    weir_free(s);
}

static void count_crossings(wc_audio_sink *s, const opus_int16 *pcm, int n)
{
    for (int i = 0; i < n; i++, s->samples_seen++) {
        if (s->samples_seen < WARMUP_SAMPLES)
            continue;
        s->samples_counted++;
        int sign = pcm[i] > CROSSING_THRESHOLD ? 1 : pcm[i] < -CROSSING_THRESHOLD ? -1 : 0;
        if (sign == 0)
            continue;
        if (s->sign != 0 && sign != s->sign)
            s->crossings++;
        s->sign = sign;
    }
}

int wc_audio_sink_decode(wc_audio_sink *s, const uint8_t *data, size_t len)
{
    opus_int16 pcm[WC_AUDIO_RATE_HZ * 120 / 1000]; /* the longest Opus packet */
    int n = opus_decode(s->dec, data, (opus_int32)len, pcm, (int)(sizeof pcm / sizeof pcm[0]), 0);
    if (n <= 0) {
        s->errors++;
        return -WEIR_EINVAL;
    }
    s->frames++;
    count_crossings(s, pcm, n);
    return n;
}

void wc_audio_sink_conceal(wc_audio_sink *s)
{
    opus_int16 pcm[WC_AUDIO_FRAME_SAMPLES];
    if (opus_decode(s->dec, NULL, 0, pcm, WC_AUDIO_FRAME_SAMPLES, 0) < 0)
        return; /* nothing to conceal with before the first packet */
}

uint64_t wc_audio_sink_frames(const wc_audio_sink *s)
{
    return s->frames;
}

uint64_t wc_audio_sink_errors(const wc_audio_sink *s)
{
    return s->errors;
}

double wc_audio_sink_frequency_hz(const wc_audio_sink *s)
{
    if (s->samples_counted < WC_AUDIO_RATE_HZ / 10)
        return 0;
    return (double)s->crossings / 2.0 / ((double)s->samples_counted / WC_AUDIO_RATE_HZ);
}
