/*
 * weir-client's A/V sync marks (tools/weir-client/sync_marks.h): which video
 * frame flashes for each mark, at which audio sample its beep starts, the
 * nominal RTP offsets, and that a flash and a beep survive the real codecs
 * (libvpx VP8, libopus) where a recording will look for them.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <opus/opus.h>
#include <stdlib.h>
#include <string.h>
#include <vpx/vp8dx.h>
#include <vpx/vpx_decoder.h>

#include "audio.h"
#include "pattern.h"
#include "sync_marks.h"
#include "video_source.h"

/* Frame n is a flash for mark k iff t(n-1) < k x period <= t(n), compared
 * exactly in integers: t(n) = n / fps s, mark k at k x period_ms ms. */
static uint64_t brute_force_mark(uint64_t n, uint32_t period_ms, int fps)
{
    for (uint64_t k = 1; k * period_ms * (uint64_t)fps <= n * 1000; k++)
        if (n == 0 || (n - 1) * 1000 < k * period_ms * (uint64_t)fps)
            return k;
    return 0;
}

Test(sync_marks, flash_frames_match_the_definition)
{
    static const struct {
        uint32_t period_ms;
        int fps;
    } cases[] = {{2000, 30}, {1000, 7}, {700, 7}, {500, 60}, {1001, 24}, {2000, 1}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        wc_sync_marks m = {
            .period_ms = cases[c].period_ms, .fps = cases[c].fps, .audio_rate_hz = 48000};
        uint64_t found = 0;
        for (uint64_t n = 0; n < 5000; n++) {
            uint64_t want = brute_force_mark(n, m.period_ms, m.fps);
            uint64_t got = wc_sync_marks_frame_mark(&m, n);
            cr_assert_eq(got, want, "period %u fps %d frame %llu: mark %llu, want %llu",
                         m.period_ms, m.fps, (unsigned long long)n, (unsigned long long)got,
                         (unsigned long long)want);
            if (got) {
                found++;
                cr_assert_eq(got, found, "marks in order, none skipped");
                cr_assert_eq(wc_sync_marks_flash_frame(&m, got), n);
            }
        }
        cr_assert_gt(found, 0);
    }
    wc_sync_marks none = {.period_ms = 0, .fps = 30, .audio_rate_hz = 48000};
    cr_assert_eq(wc_sync_marks_frame_mark(&none, 60), 0);
}

Test(sync_marks, beep_starts_at_the_flash_frames_nominal_sample)
{
    wc_sync_marks m = {.period_ms = 2000, .fps = 30, .audio_rate_hz = 48000};
    for (uint64_t k = 1; k < 100; k++) {
        cr_assert_eq(wc_sync_marks_flash_frame(&m, k), 60 * k);
        cr_assert_eq(wc_sync_marks_beep_sample(&m, k), 96000 * k);
        cr_assert_float_eq(wc_sync_marks_time_ms(&m, k), 2000.0 * (double)k, 1e-9);
    }
    /* 7 fps: frames are 142.857 ms apart; mark 1 (700 ms) falls on frame 5 (714.3 ms). */
    wc_sync_marks odd = {.period_ms = 700, .fps = 7, .audio_rate_hz = 48000};
    cr_assert_eq(wc_sync_marks_flash_frame(&odd, 1), 5);
    cr_assert_eq(wc_sync_marks_beep_sample(&odd, 1), 34286); /* 5 / 7 s, rounded */
    cr_assert_float_eq(wc_sync_marks_time_ms(&odd, 1), 5000.0 / 7.0, 1e-9);
}

Test(sync_marks, nominal_ticks)
{
    for (uint64_t n = 0; n < 1000; n++) {
        cr_assert_eq(wc_media_frame_ticks(n, 30, 90000), 3000 * n);
        cr_assert_eq(wc_media_frame_ticks(n, 30, 48000), 1600 * n);
        /* 90 kHz at 7 fps: 12857.14 ticks a frame, rounded to the nearest. */
        cr_assert_eq(wc_media_frame_ticks(n, 7, 90000), (n * 90000 * 2 + 7) / 14);
    }
    cr_assert_eq(wc_media_us_ticks(1000000, 90000), 90000);
    cr_assert_eq(wc_media_us_ticks(20000, 48000), 960);
    cr_assert_eq(wc_media_us_ticks(-5, 48000), 0);
    cr_assert_eq(wc_media_frame_us(3, 30), 100000);
    /* The next frame due after a time: strictly after it. */
    cr_assert_eq(wc_media_frame_after(0, 30), 1);
    cr_assert_eq(wc_media_frame_after(99999, 30), 3);
    cr_assert_eq(wc_media_frame_after(100000, 30), 4);
    for (int64_t us = 0; us < 3000000; us += 7919) {
        uint64_t n = wc_media_frame_after(us, 7);
        cr_assert_gt(wc_media_frame_us(n, 7), us);
        cr_assert_leq(wc_media_frame_us(n - 1, 7), us);
    }
}

/* Fills audio in blocks of block samples from sample 0 to total. */
static int16_t *fill_all(const wc_sync_marks *m, size_t total, size_t block, uint64_t *starts,
                         size_t *n_starts)
{
    int16_t *pcm = calloc(total, sizeof *pcm);
    *n_starts = 0;
    for (size_t at = 0; at < total; at += block) {
        size_t n = total - at < block ? total - at : block;
        uint64_t k = wc_sync_marks_fill_audio(m, at, pcm + at, n);
        if (k)
            starts[(*n_starts)++] = k;
    }
    return pcm;
}

static void check_audio(const wc_sync_marks *m, size_t block)
{
    const size_t total = 48000 * 7;
    uint64_t starts[16];
    size_t n_starts = 0;
    int16_t *pcm = fill_all(m, total, block, starts, &n_starts);
    const uint64_t beep_len = 4800;
    size_t marks = 0;
    for (uint64_t k = 1; wc_sync_marks_beep_sample(m, k) + beep_len <= total; k++) {
        uint64_t s0 = wc_sync_marks_beep_sample(m, k);
        cr_assert_lt(marks, n_starts, "block %zu: mark %llu not reported", block,
                     (unsigned long long)k);
        cr_assert_eq(starts[marks], k);
        marks++;
        /* Phase 0 on the onset sample, then a 1 kHz sine (48 samples a period). */
        cr_assert_eq(pcm[s0], 0);
        cr_assert_gt(pcm[s0 + 1], 1000, "block %zu: the beep starts at its sample", block);
        cr_assert_geq(pcm[s0 + 12], 16000);
        cr_assert_leq(pcm[s0 + 36], -16000);
        cr_assert_eq(pcm[s0 - 1], 0, "silence right before the onset");
        cr_assert_eq(pcm[s0 + beep_len], 0, "100 ms long");
        cr_assert_neq(pcm[s0 + beep_len - 12], 0);
    }
    cr_assert_eq(marks, n_starts);
    cr_assert_geq(marks, 3);
    /* Everything outside the beeps is silence. */
    for (size_t i = 0; i < total; i++) {
        bool in_beep = false;
        for (uint64_t k = 1; k <= marks; k++) {
            uint64_t s0 = wc_sync_marks_beep_sample(m, k);
            in_beep |= i >= s0 && i < s0 + beep_len;
        }
        if (!in_beep)
            cr_assert_eq(pcm[i], 0, "block %zu: sample %zu not silent", block, i);
    }
    free(pcm);
}

Test(sync_marks, audio_is_silence_with_beeps_at_their_samples)
{
    wc_sync_marks m = {.period_ms = 2000, .fps = 30, .audio_rate_hz = 48000};
    check_audio(&m, WC_AUDIO_FRAME_SAMPLES);
    check_audio(&m, 7); /* blocks that cut beeps anywhere */
    wc_sync_marks odd = {.period_ms = 700, .fps = 7, .audio_rate_hz = 48000};
    check_audio(&odd, WC_AUDIO_FRAME_SAMPLES);
    check_audio(&odd, 1001);
}

/* ---- through the codecs ---- */

static double lower_mean(const uint8_t *y, int stride, int w, int h, double fraction)
{
    double sum = 0;
    int top = (int)(h * (1 - fraction));
    for (int r = top; r < h; r++)
        for (int c = 0; c < w; c++)
            sum += y[(size_t)r * (size_t)stride + (size_t)c];
    return sum / ((double)(h - top) * w);
}

static void vp8_flashes(int w, int h, int kbps)
{
    char err[128] = "";
    wc_video_source *src = wc_video_source_create(w, h, 30, kbps, err, sizeof err);
    cr_assert_not_null(src, "%s", err);
    vpx_codec_ctx_t dec;
    cr_assert_eq(vpx_codec_dec_init(&dec, vpx_codec_vp8_dx(), NULL, 0), VPX_CODEC_OK);
    wc_sync_marks m = {.period_ms = 500, .fps = 30, .audio_rate_hz = 48000};
    double max_normal = 0, min_flash = 255;
    int flashes = 0;
    for (uint64_t n = 0; n < 70; n++) {
        bool flash = wc_sync_marks_frame_mark(&m, n) != 0;
        wc_pattern_info in = {.frame_number = (uint32_t)n + 1, .send_ms = 1234};
        wc_encoded_frame ef;
        cr_assert_eq(wc_video_source_encode_flash(src, &in, flash, n == 0, &ef), 1);
        cr_assert_eq(vpx_codec_decode(&dec, ef.data, (unsigned)ef.len, NULL, 0), VPX_CODEC_OK);
        vpx_codec_iter_t it = NULL;
        vpx_image_t *img = vpx_codec_get_frame(&dec, &it);
        cr_assert_not_null(img);
        const uint8_t *y = img->planes[VPX_PLANE_Y];
        int stride = img->stride[VPX_PLANE_Y];
        wc_pattern_info out;
        cr_assert_eq(wc_pattern_read(y, stride, w, h, &out), 0, "%dx%d frame %llu unreadable", w, h,
                     (unsigned long long)n);
        cr_assert_eq(out.frame_number, in.frame_number);
        cr_assert_eq(wc_pattern_is_flash(y, stride, w, h), flash, "%dx%d frame %llu", w, h,
                     (unsigned long long)n);
        /* What tests/integration/av_sync.py measures: the lower 40 %. */
        double mean = lower_mean(y, stride, w, h, 0.40);
        if (flash) {
            flashes++;
            min_flash = mean < min_flash ? mean : min_flash;
        } else {
            max_normal = mean > max_normal ? mean : max_normal;
        }
    }
    cr_assert_eq(flashes, 4); /* frames 15, 30, 45, 60 */
    cr_assert_gt(min_flash, 220, "%dx%d: a flash's lower part %.1f", w, h, min_flash);
    cr_assert_lt(max_normal, 140, "%dx%d: the noise field %.1f is not mid-grey-ish", w, h,
                 max_normal);
    vpx_codec_destroy(&dec);
    wc_video_source_destroy(src);
}

Test(sync_marks, flash_survives_vp8_and_the_code_still_reads)
{
    vp8_flashes(640, 360, 800);
    vp8_flashes(160, 90, 100);
}

Test(sync_marks, beep_onset_survives_opus)
{
    char err[128] = "";
    wc_audio_source *src = wc_audio_source_create(440, 32000, err, sizeof err);
    cr_assert_not_null(src, "%s", err);
    int e = 0;
    OpusDecoder *dec = opus_decoder_create(48000, 1, &e);
    cr_assert_not_null(dec);
    wc_sync_marks m = {.period_ms = 1000, .fps = 30, .audio_rate_hz = 48000};
    const size_t frames = 200; /* 4 s */
    int16_t *out = calloc(frames * WC_AUDIO_FRAME_SAMPLES, sizeof *out);
    for (size_t f = 0; f < frames; f++) {
        int16_t pcm[WC_AUDIO_FRAME_SAMPLES];
        uint8_t pkt[WC_AUDIO_MAX_PACKET];
        wc_sync_marks_fill_audio(&m, f * WC_AUDIO_FRAME_SAMPLES, pcm, WC_AUDIO_FRAME_SAMPLES);
        int len = wc_audio_source_encode_pcm(src, pcm, pkt, sizeof pkt);
        cr_assert_gt(len, 0);
        int n =
            opus_decode(dec, pkt, len, out + f * WC_AUDIO_FRAME_SAMPLES, WC_AUDIO_FRAME_SAMPLES, 0);
        cr_assert_eq(n, WC_AUDIO_FRAME_SAMPLES);
    }
    /* Each decoded onset (first sample above a tenth of the beep after silence)
     * lies within the encoder's look-ahead (6.5 ms at 48 kHz) after the beep's
     * sample: the delay a receiver sees without RTP's pre-skip. */
    for (uint64_t k = 1; k <= 3; k++) {
        uint64_t s0 = wc_sync_marks_beep_sample(&m, k);
        uint64_t i = s0 - 2400; /* 50 ms before: silence */
        while (abs(out[i]) < 1600)
            i++;
        cr_assert_geq(i + 48, s0, "mark %llu: sound 1 ms before the beep", (unsigned long long)k);
        cr_assert_leq(i, s0 + 312 + 48, "mark %llu: onset %lld samples late", (unsigned long long)k,
                      (long long)(i - s0));
    }
    free(out);
    opus_decoder_destroy(dec);
    wc_audio_source_destroy(src);
}
