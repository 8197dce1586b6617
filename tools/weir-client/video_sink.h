/**
 * Receiving side of one video track: a libvpx VP8 decoder, the pattern
 * reader and the statistics weir-client reports (frames decoded, size,
 * order, content errors, freezes, latency).
 *
 * Definitions (what the report means):
 *   - order error: a decoded frame whose frame number is not larger than
 *     the previous one's; skipped: the sum of the gaps (frame numbers never
 *     seen, e.g. dropped layers or lost frames);
 *   - content error: a decoded picture whose pattern cannot be read (bad
 *     sync byte or CRC), or a frame the decoder rejected;
 *   - freeze (W3C webrtc-stats freezeCount): an inter-frame gap larger than
 *     max(3 x the mean gap so far, mean gap + 150 ms); max_gap_ms is the
 *     largest gap between two decoded frames, frozen or not;
 *   - latency: receive wall time - the send time painted in the frame, in
 *     ms (meaningful on one host, or hosts with synchronised clocks).
 * The stats part is pure (times are parameters); decoding uses libvpx.
 */
#ifndef WC_VIDEO_SINK_H
#define WC_VIDEO_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pattern.h"

typedef struct wc_video_stats {
    uint64_t frames_decoded;
    uint64_t decode_errors;
    uint64_t content_errors;
    uint64_t order_errors; /* a frame number below the previous one */
    /* The previous frame number again: the source sent the same picture twice (a
     * browser's canvas capture does when the page did not redraw in time). */
    uint64_t frames_repeated;
    uint64_t frames_skipped;
    uint64_t freezes;
    int64_t max_freeze_ms;
    int64_t max_gap_ms;
    int width, height; /* of the last decoded picture */
    bool have_last;
    uint32_t last_frame_number;
    int64_t first_ms, last_ms; /* receive times of first and last decoded frame */
    /* owned: latency samples (ms) */
    int32_t *latency_ms;
    size_t n_latency, cap_latency;
} wc_video_stats;

typedef struct wc_latency_summary {
    int32_t p50, p95, max;
    size_t n;
} wc_latency_summary;

void wc_video_stats_init(wc_video_stats *st);
void wc_video_stats_deinit(wc_video_stats *st);
/**
 * Accounts one decoded picture received at recv_wall_ms: info is the
 * pattern read from it, or NULL when it could not be read.
 */
void wc_video_stats_add(wc_video_stats *st, int64_t recv_wall_ms, int width, int height,
                        const wc_pattern_info *info);
/** Latency percentiles (nearest rank) of what was added; all 0 when none. */
void wc_video_stats_latency(const wc_video_stats *st, wc_latency_summary *out);

typedef struct wc_video_decoder wc_video_decoder;

wc_video_decoder *wc_video_decoder_create(void);
void wc_video_decoder_destroy(wc_video_decoder *d);

/**
 * Decodes one VP8 frame (borrowed). Returns 1 when a picture came out, with
 * its size in *width / *height and its pattern in *info (*info_ok false
 * when unreadable); 0 when no picture came out; -WEIR_EINVAL when libvpx
 * rejected the frame (the caller should ask for a keyframe).
 */
int wc_video_decoder_decode(wc_video_decoder *d, const uint8_t *data, size_t len, int *width,
                            int *height, wc_pattern_info *info, bool *info_ok);

#endif
