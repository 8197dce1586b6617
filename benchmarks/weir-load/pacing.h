/**
 * weir-load's send pacer (--pacing FACTOR, --pacing-burst MS): when the
 * packets of a video frame may leave, so that a publisher looks like a
 * browser on the wire rather than a frame-sized burst every 33 ms.
 *
 * Why: a server fans out what it receives in order, so when a whole frame
 * arrives at once the last packet of the frame waits for the fan-out of all
 * the ones before it, and the latency the tool measures is mostly that
 * queue, not the server's per-packet cost. Browsers do not send like that.
 * libwebrtc's pacer (modules/pacing/pacing_controller.{h,cc}, described in
 * modules/pacing/g3doc/index.md) is a leaky bucket: queued media drains at
 * a pacing rate of kDefaultPaceMultiplier = 2.5 x the target bitrate, and
 * since PacingController::Configuration gained send_burst_interval
 * (kDefaultBurstInterval = 40 ms, capped by kMaxBurstSize = 63 kB) it may
 * run ahead of the bucket by up to burst_interval x pacing rate, which lets
 * a frame of ordinary size leave as one burst again. The pacer counts an
 * RTP packet's payload (and padding), not its headers, unless told to
 * include the overhead (PacingController::SetIncludeOverhead); so do we.
 *
 * This model, per simulcast layer (each layer paced at FACTOR x its own
 * nominal bitrate; libwebrtc paces the sum of the streams, which for one
 * layer is the same thing): the bucket holds the bytes sent and not yet
 * drained at the pacing rate; a packet may leave once the bucket will be
 * empty within the burst allowance, and never before its frame was
 * captured. A late sender does not earn credit: once the bucket is empty it
 * stays at zero (libwebrtc floors its media debt at zero the same way), so
 * a loop that woke up late does not make up for it with a burst.
 *
 * Pure arithmetic on microsecond times the caller passes in; no clock.
 */
#ifndef WL_PACING_H
#define WL_PACING_H

#include <stddef.h>
#include <stdint.h>

/** libwebrtc's kDefaultPaceMultiplier, the factor --pacing suggests. */
#define WL_PACING_LIBWEBRTC_FACTOR 2.5

/** How one layer is paced; rate_bps 0 = not paced (every packet due at once). */
typedef struct wl_pacing {
    double rate_bps;  /* FACTOR x nominal bitrate of the layer */
    int64_t burst_us; /* how far ahead of the bucket a packet may leave */
} wl_pacing;

/** The bucket of one layer. Zero-initialised = empty. */
typedef struct wl_pacer {
    int64_t origin_us; /* when the bucket was last empty */
    uint64_t bytes;    /* payload bytes sent since origin_us */
} wl_pacer;

/**
 * The pacing of a layer of nominal bitrate kbps at factor x (0 = no pacing)
 * that may run burst_us ahead of the bucket.
 */
wl_pacing wl_pacing_make(double factor, int kbps, int64_t burst_us);
/** Microseconds the pacing rate needs to drain bytes (0 when not paced). */
int64_t wl_pacing_drain_us(const wl_pacing *cfg, uint64_t bytes);
/**
 * Earliest time the next packet of the layer may leave, by the bucket alone
 * (the caller also waits for the frame's capture time). INT64_MIN when
 * not paced.
 */
int64_t wl_pacer_next_us(const wl_pacer *p, const wl_pacing *cfg);
/** Accounts a packet of bytes payload bytes sent at now_us. */
void wl_pacer_sent(wl_pacer *p, const wl_pacing *cfg, int64_t now_us, size_t bytes);
/**
 * The schedule of one frame sent on time from an empty bucket: offsets_us[k]
 * is when packet k (of sizes[k] payload bytes) leaves, in microseconds
 * after the frame's capture. All zero when not paced. The sender in peer.c
 * follows the same wl_pacer calls, so this is what it does when on time.
 */
void wl_pacing_schedule(const wl_pacing *cfg, const size_t *sizes, size_t n, int64_t *offsets_us);

#endif
