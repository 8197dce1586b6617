/**
 * weir-load's counters: what subscribers received (packets, losses,
 * duplicates, SRTP checks) and the latency through the server, kept as a
 * histogram of 10 us buckets so percentiles cost nothing per packet.
 * Pure arithmetic; the run snapshots it at the start and end of the
 * measurement window and reports the difference.
 */
#ifndef WL_STATS_H
#define WL_STATS_H

#include <stdint.h>

#define WL_HIST_BUCKET_US 10
#define WL_HIST_BUCKETS 20000 /* up to 200 ms; later samples land in the last bucket */

typedef struct wl_hist {
    uint32_t buckets[WL_HIST_BUCKETS];
    uint64_t count;
    uint64_t max_us;
} wl_hist;

typedef struct wl_stats {
    uint64_t rx_packets; /* RTP received by subscribers (all, incl. duplicates) */
    uint64_t rx_bytes;
    uint64_t rx_video; /* RTP packets of video streams */
    uint64_t rx_audio;
    uint64_t rx_rtcp;
    uint64_t dups;
    uint64_t verified; /* SRTP-unprotected samples */
    uint64_t srtp_fail;
    uint64_t no_trailer; /* decrypted payloads without our trailer */
    uint64_t tx_packets; /* RTP sent by publishers */
    uint64_t tx_bytes;
    uint64_t tx_errors;
    uint64_t stun_in, stun_out;
    /* the sender's pacing (per layer frame): frame clock -> last packet sent */
    uint64_t tx_frames;
    uint64_t tx_frame_spread_us; /* sum */
    uint64_t tx_frame_spread_max_us;
    uint64_t tx_late_us;       /* sum over video packets of (sent - due) */
    uint64_t tx_video_packets; /* video packets sent (the divisor of tx_late_us) */
    uint64_t tx_queue_flushes; /* frames sent at once because a layer lagged WL_TX_QUEUE frames */
    uint64_t frames_decoded;
    uint64_t decode_errors;
    wl_hist lat_video;
    wl_hist lat_audio;
} wl_stats;

void wl_hist_add(wl_hist *h, int64_t us);
void wl_hist_reset(wl_hist *h);
/** Percentile (0..100) in microseconds (bucket upper edge); 0 when empty. */
double wl_hist_percentile(const wl_hist *h, double pct);

#endif
