/**
 * Rooms and their participants: the control thread's truth about who is
 * where. Pure data structure (no I/O, no clock: times are passed in);
 * notifications are sent by the callers (membership.c).
 */
#ifndef WEIR_CONTROL_ROOM_H
#define WEIR_CONTROL_ROOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control/methods.h"

#define WEIR_ROOM_ID_MAX 64
#define WEIR_PARTICIPANT_ID_LEN 12
#define WEIR_DISPLAY_MAX 64

typedef struct weir_room weir_room;
typedef struct weir_rooms weir_rooms;

typedef struct weir_participant {
    char id[WEIR_PARTICIPANT_ID_LEN + 1];
    char display[WEIR_DISPLAY_MAX + 1];
    char identity[128]; /* token `sub`, or "" when auth is off */
    weir_role role;
    bool may_publish;
    int64_t joined_ms;
    /* borrowed: */
    weir_room *room; /* NULL until admitted */
    void *session;   /* the signalling session that owns this participant */
    /* media placement: */
    int worker_index;
    uint64_t peer_id;
    /* publisher peer connection, as the worker reports it: */
    bool publishing;         /* a publish was answered */
    const char *pub_state;   /* static: "new", "connected", "failed" */
    char pub_srtp[48];       /* SRTP profile once connected */
    char pub_bundle_mid[33]; /* sdpMid of the trickled local candidates */
    int pub_bundle_index;    /* and their sdpMLineIndex */
    uint64_t pub_packets;    /* RTP packets received and routed */
    uint64_t pub_bytes;
    uint32_t pub_streams;   /* SSRCs known */
    uint64_t pub_drops[24]; /* per weir_peer_drop, last reported (for metric deltas) */
    /* owned: tracks and subscriber PC (control/media.h); NULL outside a room */
    struct weir_participant_media *media;
} weir_participant;

typedef struct weir_room_options {
    int max_participants;
    bool auto_subscribe;
    bool students_publish; /* students may publish without being allowed first */
} weir_room_options;

typedef enum {
    WEIR_ROOM_OPEN = 0, /* accepting joins */
    WEIR_ROOM_CLOSING,  /* being closed: members are being sent away, joins refused */
} weir_room_state;

/** Never NULL. */
weir_rooms *weir_rooms_create(void);
/** Frees every room; participants are not freed (their sessions own them). */
void weir_rooms_destroy(weir_rooms *rooms);

/**
 * Opens a room. persistent = created by the admin API (stays when empty);
 * otherwise the room is removed when its last participant leaves.
 * Returns 0 and *out, or -WEIR_EEXIST (out untouched) / -WEIR_EINVAL (bad id).
 */
int weir_rooms_open(weir_rooms *rooms, const char *id, const weir_room_options *opts,
                    bool persistent, int64_t now_ms, weir_room **out);
weir_room *weir_rooms_find(weir_rooms *rooms, const char *id);
/** Removes and frees the room; it must have no participants left. */
void weir_rooms_remove(weir_rooms *rooms, weir_room *room);
size_t weir_rooms_count(const weir_rooms *rooms);
/** The rooms in id order; the array is valid until the next open/remove. */
weir_room *const *weir_rooms_list(weir_rooms *rooms, size_t *count);
/** Participants over all rooms. */
size_t weir_rooms_participant_count(const weir_rooms *rooms);

/** True when a room id is 1..64 characters of [A-Za-z0-9_.-]. */
bool weir_room_id_valid(const char *id);

const char *weir_room_id(const weir_room *room);
const weir_room_options *weir_room_options_get(const weir_room *room);
bool weir_room_persistent(const weir_room *room);

/**
 * One observer per room sees every notification the room's members are
 * sent (method and params, borrowed for the call): a recording turns them
 * into its timeline. NULL fn removes it.
 */
typedef void (*weir_room_observer)(void *ctx, weir_room *room, const char *method,
                                   const json_t *params);
void weir_room_set_observer(weir_room *room, weir_room_observer fn, void *ctx);
void weir_room_observe(weir_room *room, const char *method, const json_t *params);
int64_t weir_room_created_ms(const weir_room *room);
weir_room_state weir_room_state_get(const weir_room *room);
/** Logs `from → to (reason)`; only OPEN → CLOSING is legal. */
void weir_room_set_state(weir_room *room, weir_room_state to, const char *reason);

/**
 * Admits p (p->room must be NULL). Returns 0, -WEIR_EFULL at capacity,
 * -WEIR_EPERM when the room is closing, -WEIR_EEXIST when p's id is taken.
 * On error nothing changes.
 */
int weir_room_admit(weir_room *room, weir_participant *p);
/** Removes p (no-op when p is not in this room); p->room becomes NULL. */
void weir_room_remove(weir_room *room, weir_participant *p);
weir_participant *weir_room_find(const weir_room *room, const char *participant_id);
size_t weir_room_count(const weir_room *room);
/** i-th participant in join order. */
weir_participant *weir_room_at(const weir_room *room, size_t i);

#endif
