/**
 * A small Matroska/WebM writer of our own, for one track per file, laid out
 * so that a file cut off at any byte still plays up to its last whole frame
 * ("live" layout, what browsers' MediaRecorder writes):
 *
 *   EBML header · Segment (unknown size) · Info · Tracks ·
 *   Cluster (unknown size) · SimpleBlock · SimpleBlock · … · Cluster · …
 *
 * No Cues, no SeekHead, no Duration, nothing written twice and no seeking
 * back: the file only grows, each frame is one write (its SimpleBlock,
 * preceded by a new Cluster header when one starts), so a server killed
 * mid-recording leaves at most one partial block at the end, which players
 * (ffmpeg, browsers) skip. Why not libavformat: its Matroska muxer seeks
 * back to fill sizes and cues at the end (a killed process leaves unknown
 * sizes anyway), it would add a large dependency to the server process, and
 * the subset we need is a few hundred lines.
 *
 * Clusters start at the first frame, at each video keyframe once the current
 * cluster spans ≥ 1 s, and whenever the next block's offset would leave the
 * signed 16-bit range relative to the cluster (or ≥ 5 s for audio), so a
 * player can seek by cluster.
 *
 * DocType "webm" for VP8/VP9/Opus, "matroska" for H.264 (V_MPEG4/ISO/AVC).
 * Timestamps in milliseconds (TimestampScale 1 000 000 ns).
 *
 * Sans-IO: bytes go to the caller's write function (a file descriptor in the
 * recorder, a buffer in the tests).
 */
#ifndef WREC_WEBM_WRITER_H
#define WREC_WEBM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wrec_webm wrec_webm;

/** Writes len bytes; 0, or a negative errno (-ENOSPC, -EIO) that the writer passes back. */
typedef int (*wrec_write_fn)(void *user, const void *buf, size_t len);

typedef struct wrec_webm_track {
    bool video;
    const char *codec_id; /* "V_VP8", "V_VP9", "A_OPUS", "V_MPEG4/ISO/AVC" */
    const uint8_t
        *codec_private; /* Opus: OpusHead (the writer builds one when NULL); H.264: avcC */
    size_t codec_private_len;
    uint16_t width, height;   /* video: the first keyframe's size (required, > 0) */
    uint32_t sample_rate;     /* audio */
    uint8_t channels;         /* audio */
    uint64_t codec_delay_ns;  /* Opus: pre-skip in ns (0: omitted) */
    uint64_t seek_preroll_ns; /* Opus: 80 000 000 */
    const char *name;         /* TrackName (optional) */
} wrec_webm_track;

typedef struct wrec_webm_info {
    const char *title;   /* optional Segment title */
    int64_t date_utc_ms; /* DateUTC: wall clock of timeline 0 (ms since the Unix epoch) */
    const char *app;     /* MuxingApp/WritingApp, e.g. "weir-recorder 0.1.0" */
} wrec_webm_info;

/**
 * NULL for a bad track (no codec id, unknown codec, video flag not matching
 * the codec, video without size, H.264 without avcC, audio without sample
 * rate or channels, Opus with more than 2 channels and no OpusHead given)
 * or no write function. Writes nothing yet; the track and info are read
 * here and not kept. info may be NULL (no title or DateUTC, app
 * "weir-recorder").
 */
wrec_webm *wrec_webm_create(const wrec_webm_track *track, const wrec_webm_info *info,
                            wrec_write_fn write, void *user);
/**
 * One frame at t_ms on the file's timeline (≥ 0). The header (EBML, Segment,
 * Info, Tracks) goes out with the first frame. A t_ms below the previous
 * frame's is written at the previous frame's time (Matroska players expect
 * a track's blocks in order); a negative one at 0. 0, -WEIR_EINVAL for an
 * empty frame (nothing written), or the negative errno of the write.
 *
 * A write error is final: the call and every later one return it without
 * writing (the file may end inside that frame, which players skip).
 * Audio blocks always carry the keyframe flag. Players present a block at
 * t_ms minus the track's CodecDelay (RFC 9559): for Opus with
 * codec_delay_ns set, the first decoded sample plays codec_delay_ns early
 * unless the caller adds the delay to t_ms.
 */
int wrec_webm_write_frame(wrec_webm *w, int64_t t_ms, bool keyframe, const uint8_t *data,
                          size_t len);
/**
 * A clean end: the Duration element (11 octets into out) and the file offset
 * where it goes, over a Void of the same length the header reserved at the
 * end of Info. The caller writes it there (pwrite); a file never patched (a
 * killed server) simply has no duration, which players find by reading.
 * duration_ms is the segment's duration from timestamp 0 (the end of the
 * last frame). 0, or -WEIR_EINVAL before the first frame or after a write error.
 */
int wrec_webm_duration_patch(const wrec_webm *w, int64_t duration_ms, uint8_t out[11],
                             uint64_t *offset);
/** Bytes written so far. */
uint64_t wrec_webm_bytes(const wrec_webm *w);
void wrec_webm_destroy(wrec_webm *w);

#endif
