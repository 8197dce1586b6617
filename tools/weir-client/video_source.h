/**
 * One VP8 encoder (libvpx, realtime, CBR, no lag) fed with the test
 * pattern (pattern.h) at a fixed resolution: one per simulcast layer.
 * Keyframes only at start and on request (PLI/FIR), as a WebRTC sender.
 */
#ifndef WC_VIDEO_SOURCE_H
#define WC_VIDEO_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pattern.h"

typedef struct wc_video_source wc_video_source;

typedef struct wc_encoded_frame {
    /* borrowed from the source until its next call: */
    const uint8_t *data;
    size_t len;
    bool keyframe;
} wc_encoded_frame;

/**
 * width x height at fps, target bitrate_kbps. Returns NULL (with a reason in
 * err) when libvpx refuses the configuration or the picture is smaller than
 * the pattern needs.
 */
wc_video_source *wc_video_source_create(int width, int height, int fps, int bitrate_kbps, char *err,
                                        size_t err_len);
void wc_video_source_destroy(wc_video_source *s);

/**
 * Paints info into a fresh picture and encodes it (as a keyframe when
 * force_keyframe). Returns 1 with *out filled, 0 when the rate controller
 * dropped the frame, -WEIR_EIO on an encoder error.
 */
int wc_video_source_encode(wc_video_source *s, const wc_pattern_info *info, bool force_keyframe,
                           wc_encoded_frame *out);
/** The same with the sync mark's white field when flash (pattern.h wc_pattern_draw_flash). */
int wc_video_source_encode_flash(wc_video_source *s, const wc_pattern_info *info, bool flash,
                                 bool force_keyframe, wc_encoded_frame *out);

int wc_video_source_width(const wc_video_source *s);
int wc_video_source_height(const wc_video_source *s);

#endif
