/**
 * Continuous VP8 PictureID, TL0PICIDX and KEYIDX for one subscriber's video
 * track, across simulcast layer switches, publisher restarts and temporal
 * layer filtering (RFC 7741 §4.2). A pure value type: embed it, no clock.
 *
 * Why renumber at all: each simulcast layer is its own encoder with its own
 * counters, and the receiver uses them to find frame references. libwebrtc's
 * RtpVp8RefFinder keeps every PictureID it has not seen between the last
 * frame of a temporal layer and the newest frame as "not yet received", and
 * holds back (stashes) a frame that could depend on one of them. So:
 *
 *  P1 PictureID is renumbered through a 15-bit weir_seqmap: forwarded frames
 *     get consecutive PictureIDs, and a frame dropped on purpose (a temporal
 *     layer above the subscriber's, see weir_vp8_rewriter_drop()) takes no
 *     number, or the receiver would wait for it. A frame lost upstream keeps
 *     its slot, so the receiver still sees that loss. All packets of a frame
 *     share a PictureID and map to the same output (seqmap G2); reordered
 *     packets of an older frame map to that frame's number (seqmap G3).
 *  P2 After weir_vp8_rewriter_sync() (the selector's resync, always at a
 *     keyframe) the first frame continues at the newest PictureID + 1,
 *     TL0PICIDX + 1 and KEYIDX + 1: no gap, no repeat.
 *  P3 TL0PICIDX and KEYIDX are mapped by an offset only (mod 2^8, 2^5):
 *     temporal filtering never drops a TID 0 frame, so their sequences have
 *     no gaps of our making to close, and frames above TID 0 must keep the
 *     TL0PICIDX of the base frame they follow. Dropping a TID 0 frame
 *     without a sync breaks the base chain; the selector never does that.
 *  P4 A 7-bit PictureID is unwrapped into the 15-bit space (within +-63 of
 *     the newest one) and written back as 7 bits: the low 7 bits of a
 *     continuous 15-bit count are themselves continuous.
 * Fields a packet does not carry are neither read nor invented.
 */
#ifndef WEIR_RTC_VP8_REWRITER_H
#define WEIR_RTC_VP8_REWRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "proto/vp8.h"
#include "rtc/seqmap.h"

/* An offset map for the small counters (TL0PICIDX, KEYIDX). */
typedef struct weir_vp8_counter {
    uint8_t mask;
    bool sync_pending; /* the next input starts a new source */
    bool has_out;
    uint8_t offset;
    uint8_t max_out;
} weir_vp8_counter;

typedef struct weir_vp8_rewriter {
    /* state (private): */
    weir_seqmap picture_id; /* 15-bit */
    bool has_last_pid;      /* last_pid is valid (reset by sync) */
    uint16_t last_pid;      /* newest 15-bit input PictureID of this source */
    weir_vp8_counter tl0picidx;
    weir_vp8_counter keyidx;
} weir_vp8_rewriter;

void weir_vp8_rewriter_init(weir_vp8_rewriter *r);

/** Forwarding moves to another source: the next frame continues the counters (P2). */
void weir_vp8_rewriter_sync(weir_vp8_rewriter *r);

/**
 * New values for a forwarded packet described by d, to be written with
 * weir_vp8_write_ids(). On WEIR_SEQMAP_OK *out is filled (fields d lacks are
 * zero); WEIR_SEQMAP_DROPPED / _TOO_OLD mean the packet's frame was dropped
 * or is older than this map can renumber safely: do not send it, *out is
 * unchanged.
 */
weir_seqmap_result weir_vp8_rewriter_map(weir_vp8_rewriter *r, const weir_vp8_desc *d,
                                         weir_vp8_ids *out);

/**
 * Records that the packet described by d is dropped on purpose (its whole
 * frame is): its PictureID takes no number (P1). Call it for every dropped
 * packet of the forwarded stream; repeats for one frame are harmless.
 */
void weir_vp8_rewriter_drop(weir_vp8_rewriter *r, const weir_vp8_desc *d);

#endif
