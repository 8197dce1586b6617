/**
 * A forwarded media packet: one publisher RTP packet, decrypted once,
 * routed, immutable from the moment it is published, and shared by every
 * consumer that forwards it, on any worker (ARCHITECTURE.md "Crossing
 * workers"). Consumers keep references in their send history, which is what
 * answers NACKs with RTX: the history of references is the retransmission
 * cache, with no second copy of the bytes.
 *
 * The reference count is the only field written after publication, and
 * only atomically; everything else is read-only, so a packet may sit in
 * several workers' rings and histories at once without a lock.
 */
#ifndef WEIR_RTC_PKT_H
#define WEIR_RTC_PKT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/rtp.h"

#define WEIR_PKT_MAX 1500 /* bytes of RTP (after unprotect and RTX unwrap) */

typedef struct weir_pkt {
    atomic_uint refs;
    /* routing, set by the producer before publication: */
    uint32_t track;   /* router track handle (control-assigned, process-unique) */
    uint8_t layer;    /* simulcast spatial layer, 0 lowest; 0 without simulcast */
    bool is_keyframe; /* first packet of a keyframe (codec parser) */
    bool frame_start; /* first packet of a frame */
    uint8_t temporal; /* VP8 TID; 0 when none */
    bool layer_sync;  /* VP8 Y bit */
    int64_t arrival_us;
    /* header extensions the forwarder keeps: */
    bool has_audio_level;
    bool voice;
    uint8_t audio_level; /* -dBov */
    /* the newest sender report of the packet's SSRC, for lip-sync (valid when has_sr) */
    bool has_sr;
    uint64_t sr_ntp;
    uint32_t sr_rtp_ts;
    /* the packet: */
    weir_rtp rtp; /* parsed header of data */
    size_t len;
    uint8_t data[WEIR_PKT_MAX];
} weir_pkt;

/** A new packet with one reference, fields zeroed. Never NULL. */
weir_pkt *weir_pkt_new(void);
/** Adds a reference; returns p. */
weir_pkt *weir_pkt_ref(weir_pkt *p);
/** Drops a reference; the last one frees the packet. NULL is a no-op. */
void weir_pkt_unref(weir_pkt *p);
/** Packets alive in the process (for leak checks in tests and the metrics). */
uint64_t weir_pkt_live(void);

#endif
