/**
 * The nominal media timeline of weir-client's publisher and the A/V sync
 * marks placed on it (--sync-marks MS).
 *
 * Timeline: media starts at one instant (the publisher connected); video
 * frame n (n = 0, 1, ...) is captured, nominally, at n / fps seconds after
 * it and audio sample s at s / 48000 s. RTP timestamps are the stream's
 * random base plus that nominal time in its clock, whenever the frame is
 * really sent, so that an RTP timestamp always means the same media time
 * and a Sender Report (base + elapsed time x clock rate at its NTP
 * instant) maps both tracks onto one wall-clock line.
 *
 * Sync marks: every period_ms of media time (mark k at k x period_ms,
 * k >= 1) the first video frame whose nominal time is at or after the mark
 * is a "flash" (pattern.h: the field below the code is white), and the
 * audio, otherwise silent, carries a 1 kHz beep of 100 ms starting at the
 * sample of that same frame's nominal time. A recording that keeps audio
 * and video in sync shows each beep's onset at its flash's presentation
 * time; tests/integration/av_sync.py measures the offsets.
 *
 * Pure: integer arithmetic on frame and sample indexes, no clock.
 */
#ifndef WC_SYNC_MARKS_H
#define WC_SYNC_MARKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WC_SYNC_BEEP_HZ 1000
#define WC_SYNC_BEEP_MS 100
#define WC_SYNC_BEEP_AMPLITUDE 0.5 /* of full scale */
/* Bounds of --sync-marks: a beep and >= 200 ms of silence before the next
 * one (what the onset detector needs), at most an hour. */
#define WC_SYNC_MIN_PERIOD_MS 500
#define WC_SYNC_MAX_PERIOD_MS 3600000

typedef struct wc_sync_marks {
    uint32_t period_ms; /* 0 = no marks */
    int fps;            /* video frame rate (the schedule flashes are on) */
    uint32_t audio_rate_hz;
} wc_sync_marks;

/**
 * Nominal offset, in ticks of a rate_hz clock, of video frame n at fps
 * (rounded to the nearest tick; exact when rate_hz is a multiple of fps).
 */
uint64_t wc_media_frame_ticks(uint64_t n, int fps, uint32_t rate_hz);
/** Ticks of a rate_hz clock in elapsed_us microseconds (rounded down; 0 when negative). */
uint64_t wc_media_us_ticks(int64_t elapsed_us, uint32_t rate_hz);
/** The first frame index whose nominal time is after elapsed_us (the schedule's next one). */
uint64_t wc_media_frame_after(int64_t elapsed_us, int fps);
/** Nominal time of frame n in microseconds after media start (rounded down). */
int64_t wc_media_frame_us(uint64_t n, int fps);

/** The frame that flashes for mark k >= 1. */
uint64_t wc_sync_marks_flash_frame(const wc_sync_marks *m, uint64_t k);
/** The mark frame n flashes for, 0 when it does not (or there are no marks). */
uint64_t wc_sync_marks_frame_mark(const wc_sync_marks *m, uint64_t n);
/** The audio sample at which mark k's beep starts (its flash frame's nominal time). */
uint64_t wc_sync_marks_beep_sample(const wc_sync_marks *m, uint64_t k);
/** Nominal media time of mark k's flash and beep, in milliseconds. */
double wc_sync_marks_time_ms(const wc_sync_marks *m, uint64_t k);

/**
 * Fills pcm[0..n) with the marked audio from sample first_sample on:
 * silence, and the beeps (a sine starting at phase 0 on its first sample).
 * Returns the mark whose beep starts inside the block, 0 when none does.
 */
uint64_t wc_sync_marks_fill_audio(const wc_sync_marks *m, uint64_t first_sample, int16_t *pcm,
                                  size_t n);

#endif
