/*
 * weir-client's audio: a 440 Hz tone encoded in 20 ms Opus frames decodes
 * frame for frame and its zero crossings give back the pitch; a loss is
 * concealed without counting as a decoded frame.
 */
#include <criterion/criterion.h>
#include <math.h>

#include "audio.h"
#include "weir/errors.h"

static void tone_roundtrip(double hz)
{
    char err[128];
    wc_audio_source *src = wc_audio_source_create(hz, 32000, err, sizeof err);
    cr_assert_not_null(src, "%s", err);
    wc_audio_sink *sink = wc_audio_sink_create();
    cr_assert_not_null(sink);
    for (int i = 0; i < 100; i++) { /* 2 s */
        uint8_t pkt[WC_AUDIO_MAX_PACKET];
        int n = wc_audio_source_encode(src, pkt, sizeof pkt);
        cr_assert_gt(n, 0);
        if (i == 50) {
            wc_audio_sink_conceal(sink);
            continue;
        }
        cr_assert_eq(wc_audio_sink_decode(sink, pkt, (size_t)n), WC_AUDIO_FRAME_SAMPLES);
    }
    cr_assert_eq(wc_audio_sink_frames(sink), 99);
    cr_assert_eq(wc_audio_sink_errors(sink), 0);
    double f = wc_audio_sink_frequency_hz(sink);
    cr_assert(fabs(f - hz) < hz * 0.05, "estimated %.1f Hz for a %.1f Hz tone", f, hz);
    wc_audio_sink_destroy(sink);
    wc_audio_source_destroy(src);
}

Test(client_opus, tone_440)
{
    tone_roundtrip(440.0);
}

Test(client_opus, tone_1000)
{
    tone_roundtrip(1000.0);
}

Test(client_opus, garbage_is_an_error)
{
    wc_audio_sink *sink = wc_audio_sink_create();
    /* TOC code 3 with a frame count of 0 is invalid (RFC 6716 §3.2.5). */
    const uint8_t bad[] = {0x03, 0x00};
    cr_assert_eq(wc_audio_sink_decode(sink, bad, sizeof bad), -WEIR_EINVAL);
    cr_assert_eq(wc_audio_sink_errors(sink), 1);
    cr_assert_eq(wc_audio_sink_frequency_hz(sink), 0);
    wc_audio_sink_destroy(sink);
}
