/**
 * The control thread's view of media: the tracks participants publish and,
 * per participant, the subscriber peer connection's m-lines, offers and
 * answers. Nothing here touches a packet: it decides what each worker's
 * router and consumers should do and tells them with commands
 * (shell/worker.h).
 *
 *   media_tracks.c      publish → tracks, track_published/unpublished, mute,
 *                       active speaker, joins' `tracks`
 *   media_subscriber.c  which tracks each participant receives, the
 *                       subscriber offer/answer cycle (one offer in flight:
 *                       changes meanwhile are folded into the next offer),
 *                       routes between workers, preferences, layer_changed
 *
 * Ownership: a weir_participant owns its weir_participant_media (created
 * at join by weir_media_participant_init, freed by
 * weir_media_participant_gone); tracks belong to their publisher's media
 * and are indexed by handle in the control's table.
 */
#ifndef WEIR_CONTROL_MEDIA_H
#define WEIR_CONTROL_MEDIA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "control/room.h"
#include "peer/negotiate.h"
#include "peer/negotiate_subscriber.h"
#include "shell/mesh.h"
#include "shell/worker.h"

typedef struct weir_control weir_control;

#define WEIR_TRACK_ID_LEN 12
#define WEIR_MEDIA_MAX_TRACKS WEIR_NEGOTIATE_MAX_MEDIA /* per publisher */
#define WEIR_MEDIA_MAX_LINES WEIR_WORKER_MAX_SUB_MEDIA /* subscriber m-lines */

typedef struct weir_track {
    char id[WEIR_TRACK_ID_LEN + 1];
    uint32_t handle; /* the routers' name for it */
    /* borrowed: */
    weir_participant *owner;
    /* what it is: */
    weir_sdp_kind kind;
    weir_track_source source;
    char rids[WEIR_NEGOTIATE_MAX_RIDS][WEIR_NEGOTIATE_RID_MAX + 1];
    size_t n_rids;
    weir_codec codec;
    char fmtp[WEIR_NEGOTIATE_FMTP_MAX];
    uint32_t clock_rate_hz;
    uint16_t channels;
    int pt, rtx_pt, red_pt;                   /* the publisher's */
    char pub_mid[WEIR_NEGOTIATE_MID_MAX + 1]; /* its m-line in the publisher's offer */
    /* state: */
    bool announced; /* track_published was sent */
    bool muted;
    bool muted_by_moderator; /* a teacher muted it: its publisher may not unmute it */
    uint16_t consumers_on[WEIR_MESH_MAX_WORKERS]; /* subscribers per worker (routes) */
    uint8_t level;                                /* last audio level, -dBov */
    bool voice;
} weir_track;

/* One m-line of a subscriber PC. */
typedef struct weir_sub_line {
    weir_subscriber_track offered; /* as in the latest offer */
    uint32_t handle;               /* the track it carries; 0 once removed */
    uint32_t applied_handle;       /* what the worker was told with the last answer */
} weir_sub_line;

typedef struct weir_participant_media {
    /* published: */
    weir_track *tracks[WEIR_MEDIA_MAX_TRACKS];
    size_t n_tracks;
    /* publisher PC, kept for renegotiation: */
    char pub_ufrag[16];
    char pub_pwd[32];
    char pub_remote_ufrag[WEIR_NEGOTIATE_ICE_MAX + 1]; /* an offer with another one restarts ICE */
    uint64_t pub_session_id;
    uint64_t pub_version;
    /* subscriber PC: m-lines only ever get added (a removed track's line stays,
     * inactive). Grown by weir_media_add_line up to WEIR_MEDIA_MAX_LINES: a
     * fixed array was 31 KiB per participant for the usual 2-6 lines. */
    weir_sub_line *lines;
    size_t n_lines;
    size_t lines_cap;
    unsigned next_mid;
    bool sub_started;
    char sub_ufrag[16];
    char sub_pwd[32];
    uint64_t sub_session_id;
    uint64_t sub_version;
    weir_sdp *sub_offer; /* the offer awaiting its answer */
    bool renegotiate;    /* the wanted set changed while an offer was out */
    bool sub_restart;    /* the next offer restarts ICE (the PC lost connectivity) */
    bool offer_restarts; /* the offer in flight carries new ICE credentials */
    bool restart_done;   /* a restart was offered since the PC was last connected */
    int64_t last_restart_us;
    uint32_t toggled[WEIR_MEDIA_MAX_LINES]; /* auto-subscribe: unsubscribed; else: subscribed */
    size_t n_toggled;
    const char *sub_state; /* "new", "connected", ... (static) */
    char sub_srtp[48];
    uint64_t sub_packets;
    uint64_t sub_bytes;
    uint64_t sub_retransmits;
    /* active speaker: */
    int announced_rank; /* position in the last active_speaker broadcast, -1 none */
    /* connectivity loss: since when a PC is disconnected/failed (0: fine) */
    int64_t media_lost_since_us;
} weir_participant_media;

void weir_media_participant_init(weir_control *ctl, weir_participant *p);
/** Unpublishes p's tracks (others are told and re-offered), drops its routes, frees. */
void weir_media_participant_gone(weir_control *ctl, weir_participant *p);
/** A new zeroed m-line at the end of pm->lines (earlier line pointers are
 * invalidated), or NULL when WEIR_MEDIA_MAX_LINES are in use. */
weir_sub_line *weir_media_add_line(weir_participant_media *pm);

/**
 * Registers the tracks of an answered publish (desc) and fills
 * pub->track_handles. On a renegotiation, tracks keep their id and handle
 * by mid; tracks whose m-line no longer sends are unpublished at once
 * (track_unpublished, new offers to their subscribers). New tracks are
 * announced by weir_media_announce once the publish command is queued.
 */
void weir_media_publish(weir_control *ctl, weir_participant *p, const weir_publish_desc *desc,
                        weir_worker_publish *pub);
/** After the publish command was queued: track_published for new tracks, offers to subscribers. */
void weir_media_announce(weir_control *ctl, weir_participant *p);
/** Forgets p's subscriber PC: routes released, offer dropped (before p leaves). */
void weir_media_drop_subscriptions(weir_control *ctl, weir_participant *p);
/** The room's published tracks, except those of `except` (may be NULL). */
json_t *weir_media_tracks_json(const weir_room *room, const weir_participant *except);
/** p's own tracks as in track_published, each with the `mid` of its m-line (publish result). */
json_t *weir_media_own_tracks_json(const weir_participant *p);
weir_track *weir_media_find_track(weir_control *ctl, const weir_room *room, const char *id);
weir_track *weir_media_track_by_handle(weir_control *ctl, uint32_t handle);
/** The publisher mutes/unmutes its own track: forwarding stops/resumes, track_muted is sent. */
void weir_media_set_muted(weir_control *ctl, weir_track *t, bool muted);
/** An audio level report of a track (worker event); may broadcast active_speaker. */
void weir_media_on_audio_level(weir_control *ctl, uint32_t handle, uint8_t level, bool voice);

/**
 * Recomputes the tracks p receives and, when they changed, sends a new
 * subscriber `offer` (or marks one due after the pending answer).
 */
void weir_media_refresh(weir_control *ctl, weir_participant *p);
/** Refreshes every participant of the room but `except`. */
void weir_media_refresh_room(weir_control *ctl, weir_room *room, const weir_participant *except);
/**
 * The client's `answer`. Returns 0, or a JSON-RPC/application error code
 * with a message in err (409: no offer pending; -32602: unusable answer).
 */
int weir_media_answer(weir_control *ctl, weir_participant *p, const char *sdp, char *err,
                      size_t errlen);
/** subscribe/unsubscribe: 0, or 404 with err naming the unknown track. */
int weir_media_subscribe(weir_control *ctl, weir_participant *p, const json_t *track_ids,
                         bool subscribe, char *err, size_t errlen);
/** set_preferences: 0, or 404 when p does not receive the track. */
int weir_media_set_preferences(weir_control *ctl, weir_participant *p, const char *track_id,
                               int max_spatial, int max_temporal, int paused, char *err,
                               size_t errlen);
/**
 * The subscriber PC is disconnected or failed: re-offer with new ICE
 * credentials (an ICE restart; the server is the offerer of this PC), now
 * or right after the answer to the offer in flight. At most one restart per
 * loss: the flag clears when the PC reports connected again.
 */
void weir_media_subscriber_lost(weir_control *ctl, weir_participant *p);
/** The subscriber PC is connected (again). */
void weir_media_subscriber_connected(weir_participant *p);
/** A consumer's layer changed (worker event): notifies `layer_changed` to p. */
void weir_media_on_layer_changed(weir_control *ctl, weir_participant *p, uint32_t handle,
                                 int spatial, int temporal);
/** A consumer on another worker than the producer wants a keyframe. */
void weir_media_on_keyframe_needed(weir_control *ctl, uint32_t handle, int layer);

#endif
