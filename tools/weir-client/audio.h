/**
 * Opus audio for weir-client: a sender that encodes 20 ms frames of a sine
 * tone (48 kHz mono; the SDP says opus/48000/2 as RFC 7587 requires, and
 * mono is what WebRTC senders use by default), and a receiver that decodes
 * frames, counts them and estimates the tone's frequency from zero
 * crossings (a tone that decodes to the right pitch is the content check).
 * With --sync-marks the sender encodes PCM the publisher gives it instead
 * (sync_marks.h).
 */
#ifndef WC_AUDIO_H
#define WC_AUDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WC_AUDIO_RATE_HZ 48000
#define WC_AUDIO_FRAME_MS 20
#define WC_AUDIO_FRAME_SAMPLES (WC_AUDIO_RATE_HZ * WC_AUDIO_FRAME_MS / 1000)
#define WC_AUDIO_MAX_PACKET 1500

typedef struct wc_audio_source wc_audio_source;
typedef struct wc_audio_sink wc_audio_sink;

/** A tone of tone_hz; NULL (reason in err) when libopus refuses. */
wc_audio_source *wc_audio_source_create(double tone_hz, int bitrate_bps, char *err, size_t err_len);
void wc_audio_source_destroy(wc_audio_source *s);
/** Encodes the next 20 ms into out. Returns the packet length (> 0) or -WEIR_EIO. */
int wc_audio_source_encode(wc_audio_source *s, uint8_t *out, size_t cap);
/**
 * Encodes the caller's 20 ms (WC_AUDIO_FRAME_SAMPLES samples) instead of
 * the tone (the sync marks' silence and beeps). Same returns.
 */
int wc_audio_source_encode_pcm(wc_audio_source *s, const int16_t *pcm, uint8_t *out, size_t cap);

/** NULL when libopus refuses. */
wc_audio_sink *wc_audio_sink_create(void);
void wc_audio_sink_destroy(wc_audio_sink *s);
/**
 * Decodes one Opus packet (borrowed). Returns the samples per channel
 * decoded (> 0) or -WEIR_EINVAL for a packet libopus rejects.
 */
int wc_audio_sink_decode(wc_audio_sink *s, const uint8_t *data, size_t len);
/** Decodes one lost frame with Opus packet loss concealment (not counted as decoded). */
void wc_audio_sink_conceal(wc_audio_sink *s);
uint64_t wc_audio_sink_frames(const wc_audio_sink *s);
uint64_t wc_audio_sink_errors(const wc_audio_sink *s);
/**
 * Frequency estimated from the zero crossings of everything decoded after
 * the first 100 ms (the codec's start-up), in Hz; 0 before enough audio.
 */
double wc_audio_sink_frequency_hz(const wc_audio_sink *s);

#endif
