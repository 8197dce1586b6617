/**
 * RTP timestamp rewriting across simulcast layer switches and publisher
 * restarts, as a pure value type: time is passed in, nothing is read.
 *
 * Each source (simulcast SSRC, or a restarted publisher) has its own random
 * timestamp origin (RFC 3550 §5.1). The receiver sees one stream, so when
 * forwarding moves to another source the output must continue where it
 * was: a jump backwards would be taken for a reordered old frame, a large
 * jump forwards would stretch playout (jitter buffer, A/V sync).
 *
 * Guarantees:
 *  T1 Within a source, output = input + offset (mod 2^32): the source's own
 *     spacing, reordering and wrap-around are kept exactly.
 *  T2 At a sync, the first output of the new source is the newest output so
 *     far plus the wall time elapsed since that newest output was first
 *     produced, in clock-rate units, and at least 1 tick: never equal (a
 *     receiver groups packets into frames by timestamp) and never backwards
 *     in serial order (RFC 1982). The advance is capped at 2^30 ticks
 *     (3.3 h at 90 kHz) so that it still reads as forwards.
 *  T3 Before the first sync the first source is mapped unchanged.
 * A packet of the new source older than its first forwarded one maps before
 * the switch point (T1); the seqmap refuses such packets anyway.
 *
 * now_us is the caller's monotonic clock; a value earlier than one already
 * seen counts as that one. Lip sync: the consumer's Sender Reports must
 * carry the source's (NTP, RTP) pairs translated by weir_tsmap_offset().
 */
#ifndef WEIR_RTC_TSMAP_H
#define WEIR_RTC_TSMAP_H

#include <stdbool.h>
#include <stdint.h>

#define WEIR_TSMAP_MAX_ADVANCE (1u << 30)

typedef struct weir_tsmap {
    /* config: */
    uint32_t clock_rate_hz;
    /* state (private): */
    bool started;        /* an output was produced */
    bool sync_pending;   /* the next input comes from a new source */
    uint32_t offset;     /* output = input + offset */
    uint32_t max_out;    /* newest output, serial order */
    int64_t max_out_us;  /* when max_out was first produced */
    int64_t last_now_us; /* newest time seen */
} weir_tsmap;

/** clock_rate_hz > 0 (90000 for video). Returns 0 or -WEIR_EINVAL (*m unchanged). */
int weir_tsmap_init(weir_tsmap *m, uint32_t clock_rate_hz);

/** The next input comes from another source (layer switch, publisher restart). */
void weir_tsmap_sync(weir_tsmap *m);

/** Maps a forwarded packet's timestamp, received at now_us. */
uint32_t weir_tsmap_map(weir_tsmap *m, uint32_t in_ts, int64_t now_us);

/** The current source's offset (output - input, mod 2^32), for Sender Reports. */
uint32_t weir_tsmap_offset(const weir_tsmap *m);

#endif
