/**
 * Simulcast layer selection for one subscriber's video track: for every
 * packet of every simulcast layer of the publisher, FORWARD or DROP, when to
 * ask the publisher for a keyframe, and when forwarding moved to another
 * layer. A pure value type: time comes with each packet, no I/O, no clock.
 *
 * Rules:
 *  R1 Target: the highest spatial layer that is active at the publisher
 *     and allowed by the subscriber's max_spatial, the estimator's cap layer
 *     and, where layer bitrates are known, the cap bitrate. When no allowed
 *     layer is active, the lowest active layer (some video beats none).
 *     Temporal target: min(max_temporal, cap temporal). Paused: no target.
 *  R2 Spatial switches (up or down, and the very first layer) happen only
 *     at the first packet of a keyframe of the target layer; until then the
 *     current layer keeps being forwarded, and nothing is forwarded before
 *     the first such keyframe. The decision that starts a layer carries
 *     `resync`: sync the seqmap, tsmap and VP8 rewriter before rewriting it.
 *  R3 While the current layer differs from the target (or the current
 *     layer restarted), a keyframe is requested for the target layer, at
 *     most once per WEIR_SIMULCAST_KEYFRAME_INTERVAL_US per layer.
 *  R4 Temporal filtering inside the current layer, decided at frame starts
 *     so a frame is never cut: going down takes effect at the next frame;
 *     going up happens one layer at a time at a frame of the next layer with
 *     the Y (layer sync) bit, which depends only on TID 0 (RFC 7741 §4.2),
 *     or straight to the target at a keyframe. A plain TID 0 frame is not a
 *     switching-up point: in libwebrtc's VP8 patterns TID 1/2 frames keep
 *     referencing buffers that earlier TID 1/2 frames updated, across TID 0
 *     frames. A dropped packet of the current layer has `in_stream` set:
 *     record it in the maps so it leaves no gap.
 *  R5 Paused drops everything; on resume the selector starts again at a
 *     keyframe (R2), with a resync.
 *  R6 Every change of the forwarded (spatial, temporal) layer is reported
 *     exactly once by poll_event, in order. If the caller lets more than
 *     WEIR_SIMULCAST_MAX_EVENTS pile up, the newest replaces the last queued
 *     one (or cancels it when it undoes it): consecutive events always
 *     differ and the last one always names the current layer.
 *
 * Layer activity: the caller (the producer, which sees all layers) reports
 * a layer inactive when it has had no packet for WEIR_SIMULCAST_INACTIVE_US;
 * a packet of a layer marks it active again, since it is proof of life.
 */
#ifndef WEIR_RTC_SIMULCAST_SELECTOR_H
#define WEIR_RTC_SIMULCAST_SELECTOR_H

#include <stdbool.h>
#include <stdint.h>

#define WEIR_SIMULCAST_MAX_SPATIAL 3  /* layers 0..2 */
#define WEIR_SIMULCAST_MAX_TEMPORAL 4 /* TID 0..3 (2 bits in VP8) */
#define WEIR_SIMULCAST_NO_LAYER (-1)
#define WEIR_SIMULCAST_KEYFRAME_INTERVAL_US 500000
#define WEIR_SIMULCAST_INACTIVE_US 1500000 /* guidance for the caller's activity tracking */
#define WEIR_SIMULCAST_MAX_EVENTS 8

/** One packet of the publisher, as the codec parser described it. */
typedef struct weir_simulcast_pkt {
    int64_t now_us;
    uint8_t spatial;  /* simulcast layer 0..2 (0 lowest) */
    uint8_t temporal; /* TID; 0 when the codec carries none */
    bool layer_sync;  /* Y bit: a temporal switching-up point */
    bool is_keyframe;
    bool is_first_packet_of_frame;
    bool marker; /* last packet of a frame; informational, no rule needs it */
} weir_simulcast_pkt;

/** Why a packet was dropped, for the per-reason drop counters. */
typedef enum weir_simulcast_drop_reason {
    WEIR_SIMULCAST_DROP_NONE = 0,      /* forwarded */
    WEIR_SIMULCAST_DROP_PAUSED,        /* subscriber paused, or no target */
    WEIR_SIMULCAST_DROP_OTHER_LAYER,   /* not the forwarded spatial layer */
    WEIR_SIMULCAST_DROP_WAIT_KEYFRAME, /* target layer, before its keyframe */
    WEIR_SIMULCAST_DROP_TEMPORAL,      /* forwarded layer, temporal layer filtered out */
    WEIR_SIMULCAST_DROP_REASONS
} weir_simulcast_drop_reason;

typedef struct weir_simulcast_decision {
    bool forward;
    /* forward only: first packet of a newly forwarded layer; sync the maps first (R2) */
    bool resync;
    /* drop only: the packet belongs to the forwarded stream; call weir_seqmap_drop() and
     * weir_vp8_rewriter_drop() for it. Other drops must not touch the maps (seqmap G7). */
    bool in_stream;
    weir_simulcast_drop_reason reason;
    /* layer to ask for a keyframe (PLI/FIR to its SSRC), or WEIR_SIMULCAST_NO_LAYER */
    int8_t keyframe_request;
} weir_simulcast_decision;

typedef enum weir_simulcast_event_type {
    WEIR_SIMULCAST_EVENT_LAYER_CHANGED = 1,
} weir_simulcast_event_type;

typedef struct weir_simulcast_event {
    weir_simulcast_event_type type;
    int8_t spatial; /* WEIR_SIMULCAST_NO_LAYER when forwarding stopped */
    int8_t temporal;
} weir_simulcast_event;

typedef struct weir_simulcast_selector {
    /* inputs (private): */
    uint8_t pref_max_spatial;
    uint8_t pref_max_temporal;
    bool paused;
    int8_t cap_spatial; /* WEIR_SIMULCAST_NO_LAYER: no cap */
    int8_t cap_temporal;
    uint32_t cap_bitrate_bps; /* 0: no cap */
    bool active[WEIR_SIMULCAST_MAX_SPATIAL];
    uint32_t bitrate_bps[WEIR_SIMULCAST_MAX_SPATIAL]; /* 0: unknown */
    /* state (private): */
    int8_t target_spatial;
    int8_t target_temporal;
    int8_t current_spatial;
    int8_t current_temporal;
    bool restarted; /* the current layer's source restarted: wait for its keyframe */
    bool requested[WEIR_SIMULCAST_MAX_SPATIAL];
    int64_t last_request_us[WEIR_SIMULCAST_MAX_SPATIAL];
    int64_t last_now_us;
    int8_t reported_spatial; /* layer of the newest event */
    int8_t reported_temporal;
    weir_simulcast_event events[WEIR_SIMULCAST_MAX_EVENTS];
    uint8_t ev_head;
    uint8_t ev_count;
} weir_simulcast_selector;

/**
 * Starts with no layer active, nothing forwarded, preferences at the
 * maximum (all spatial and temporal layers), not paused, no caps.
 */
void weir_simulcast_selector_init(weir_simulcast_selector *s);

/** Subscriber preferences. max_spatial 0..2, max_temporal 0..3; -WEIR_EINVAL otherwise. */
int weir_simulcast_selector_set_preferences(weir_simulcast_selector *s, int max_spatial,
                                            int max_temporal);
/** Pausing stops forwarding at once (an event reports it); resuming waits for a keyframe. */
void weir_simulcast_selector_set_paused(weir_simulcast_selector *s, bool paused);
/**
 * Estimator cap: the highest layers it lets through. spatial < 0 removes the
 * cap (temporal is then ignored); temporal < 0 caps only the spatial layer.
 * -WEIR_EINVAL when spatial > 2 or temporal > 3.
 */
int weir_simulcast_selector_set_cap_layer(weir_simulcast_selector *s, int spatial, int temporal);
/** Estimator cap as a bitrate, applied where layer bitrates are known; 0 removes it. */
void weir_simulcast_selector_set_cap_bitrate(weir_simulcast_selector *s, uint32_t max_bitrate_bps);
/** Measured bitrate of a spatial layer (all its temporal layers); 0 = unknown. */
int weir_simulcast_selector_set_layer_bitrate(weir_simulcast_selector *s, int spatial,
                                              uint32_t bitrate_bps);
/** Publisher layer activity (see the header comment). -WEIR_EINVAL for a bad layer. */
int weir_simulcast_selector_set_layer_active(weir_simulcast_selector *s, int spatial, bool active);
/**
 * The publisher's layer restarted (new SSRC, or a sequence discontinuity):
 * if it is the forwarded layer, its packets are dropped until a keyframe of
 * the target, which resyncs the maps (no event unless the layer changes).
 */
int weir_simulcast_selector_restart_layer(weir_simulcast_selector *s, int spatial);

/**
 * Decides one packet. Returns 0 with *out filled, or -WEIR_EINVAL (bad
 * spatial or temporal index; nothing changed, *out unchanged).
 */
int weir_simulcast_selector_handle_packet(weir_simulcast_selector *s, const weir_simulcast_pkt *p,
                                          weir_simulcast_decision *out);

/** 1 with the oldest pending event in *out, 0 when none. */
int weir_simulcast_selector_poll_event(weir_simulcast_selector *s, weir_simulcast_event *out);

/** Forwarded layer, or WEIR_SIMULCAST_NO_LAYER. */
int weir_simulcast_selector_current_spatial(const weir_simulcast_selector *s);
int weir_simulcast_selector_current_temporal(const weir_simulcast_selector *s);
/** Layer the selector is heading for, or WEIR_SIMULCAST_NO_LAYER. */
int weir_simulcast_selector_target_spatial(const weir_simulcast_selector *s);
int weir_simulcast_selector_target_temporal(const weir_simulcast_selector *s);

#endif
