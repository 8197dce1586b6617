/**
 * Room membership with its side effects: admitting a participant (room
 * created on demand, capacity, worker placement), leaving with the
 * `participant_left` broadcast, kicking, closing a room. Shared by the
 * signalling methods and the admin API so both behave the same.
 */
#ifndef WEIR_CONTROL_MEMBERSHIP_H
#define WEIR_CONTROL_MEMBERSHIP_H

#include <jansson.h>

#include "control/room.h"

typedef struct weir_control weir_control;
typedef struct weir_session weir_session;

typedef struct weir_join_request {
    const char *room_id;
    const char *display;  /* may be NULL or "" */
    const char *identity; /* token `sub`, "" when auth is off */
    weir_role role;
} weir_join_request;

/**
 * Puts session s (not in a room) into the requested room. Returns 0 with
 * s->participant set, or an application error code (404 room missing and
 * not auto-created or closing, 503 full or server at capacity) with a
 * message in err. Sends `participant_joined` to the others; the caller
 * answers the join request itself (before the broadcast is flushed: the
 * queue keeps order per socket).
 */
int weir_membership_join(weir_control *ctl, weir_session *s, const weir_join_request *req,
                         char *err, size_t errlen);

/**
 * Takes p out of its room, tells the others `participant_left` {reason},
 * releases its media peer and frees p (its session's pointer is cleared).
 * Removes an on-demand room when it becomes empty.
 */
void weir_membership_leave(weir_control *ctl, weir_participant *p, const char *reason);

/** Kicks p: p's session gets `bye` {"kicked"} and closes; the others see reason "kicked". */
void weir_membership_kick(weir_control *ctl, weir_participant *p, const char *by);

/** Closes a room: every member gets `bye` {"room_closed"}; the room is removed. */
void weir_membership_close_room(weir_control *ctl, weir_room *room);

/** {"id","display","role"} for notifications and listings. */
json_t *weir_membership_participant_json(const weir_participant *p);
/** The room description used by join and the admin API. */
json_t *weir_membership_room_json(const weir_room *room);

/** Sends a notification to every member except `except` (may be NULL); params stolen. */
void weir_membership_broadcast(weir_room *room, const weir_participant *except, const char *method,
                               json_t *params);

#endif
