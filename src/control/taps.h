/**
 * RTP taps, control side (PROTOCOL.md tap_start / tap_stop): a room's track,
 * or a participant's audio + video, forwarded as plain RTP (SRTP on
 * request, keys in the returned SDP) to a UDP host:port for an external
 * recording worker. This module owns the taps' bookkeeping; the packets
 * are the producer's worker's business (shell/tap.c).
 *
 *   tap_start  host must be an IP literal in [taps] allow (403 otherwise);
 *              at most [taps] max taps at once (503); the track or the
 *              participant must be in the caller's room (404). Ports: the
 *              first stream (video when there is one) on `port` with RTCP
 *              on `rtcp_port` (default port+1); a participant's second
 *              stream (its audio) on port+2 with RTCP on port+3. The
 *              optional `layer` (0..2) picks a simulcast layer instead of
 *              the top one. Result: tap {id, sdp, streams [...]}.
 *   tap_stop   a tap of the caller's room (404 otherwise).
 *
 * A tap belongs to its room, not to the session that started it: it keeps
 * running when that participant leaves (a recording orchestrator may
 * reconnect) and ends when its tracks end: unpublished, their publisher
 * gone, or the room closed (which makes every publisher leave).
 *
 * Ownership: everything is held in ctl->taps (created on first use, freed
 * by weir_taps_destroy). Control thread only.
 */
#ifndef WEIR_CONTROL_TAPS_H
#define WEIR_CONTROL_TAPS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "control/room.h"
#include "shell/worker.h"

typedef struct weir_control weir_control;
struct weir_track;

/** Counters for /metrics. */
typedef struct weir_taps_stats {
    uint64_t active;        /* taps open now */
    uint64_t started_total; /* tap_start answered with a tap */
    uint64_t refused_host;  /* host not allowed (403) */
    uint64_t refused_limit; /* [taps] max reached (503) */
    uint64_t ended_track;   /* ended because their tracks ended */
    uint64_t packets_total; /* RTP packets sent by taps (worker reports) */
    uint64_t bytes_total;
    uint64_t rtcp_received; /* datagrams receivers sent back */
} weir_taps_stats;

/**
 * tap_start for participant p (its role was checked by the method table)
 * with validated params. Returns 0 with *result set to the JSON result
 * (caller owns it), or an error code (-32602, 403, 404, 503) with a
 * message in err; nothing is started on error.
 */
int weir_taps_start(weir_control *ctl, weir_participant *p, const json_t *params, json_t **result,
                    char *err, size_t errlen);

/** tap_stop: 0, or 404 with err when p's room has no such tap. */
int weir_taps_stop(weir_control *ctl, weir_participant *p, const char *tap_id, char *err,
                   size_t errlen);

/** A track is being unpublished (before it is freed): its taps' streams stop. */
void weir_taps_on_track_gone(weir_control *ctl, const struct weir_track *t);

/** A worker's TAP_STATS event. */
void weir_taps_on_stats(weir_control *ctl, const weir_worker_event *ev);

/** The taps of a room (room_id NULL: all rooms) for the admin API: [{id, room, host, ...}]. */
json_t *weir_taps_json(const weir_control *ctl, const char *room_id);

void weir_taps_get_stats(const weir_control *ctl, weir_taps_stats *out);

/** Frees every tap record (the workers are gone or going). */
void weir_taps_destroy(weir_control *ctl);

#endif
