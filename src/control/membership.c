#define WEIR_LOG_MODULE "control.membership"
#include "control/membership.h"
#include "control/recordings.h"

#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "control/control.h"
#include "control/datachannel.h"
#include "control/media.h"
#include "control/session.h"
#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

json_t *weir_membership_participant_json(const weir_participant *p)
{
    return json_pack("{s:s, s:s, s:s}", "id", p->id, "display", p->display, "role",
                     weir_role_name(p->role));
}

json_t *weir_membership_room_json(const weir_room *room)
{
    const weir_room_options *o = weir_room_options_get(room);
    return json_pack("{s:s, s:i, s:i, s:b, s:b, s:b, s:I}", "id", weir_room_id(room),
                     "participants", (int)weir_room_count(room), "max_participants",
                     o->max_participants, "auto_subscribe", o->auto_subscribe, "students_publish",
                     o->students_publish, "persistent", weir_room_persistent(room), "created_ms",
                     (json_int_t)weir_room_created_ms(room));
}

void weir_membership_broadcast(weir_room *room, const weir_participant *except, const char *method,
                               json_t *params)
{
    for (size_t i = 0; i < weir_room_count(room); i++) {
        weir_participant *p = weir_room_at(room, i);
        if (p != except && p->session)
            weir_session_notify(p->session, method, json_incref(params));
    }
    weir_room_observe(room, method, params);
    json_decref(params);
}

static weir_room *find_or_open_room(weir_control *ctl, const char *id, char *err, size_t errlen)
{
    weir_room *room = weir_rooms_find(ctl->rooms, id);
    if (room)
        return room;
    if (!ctl->cfg->rooms_auto_create) {
        snprintf(err, errlen, "no such room: %s (rooms are created through the admin API)", id);
        return NULL;
    }
    weir_room_options opts = {
        .max_participants = ctl->cfg->room_max_participants,
        .auto_subscribe = ctl->cfg->rooms_auto_subscribe,
        .students_publish = ctl->cfg->students_publish_by_default,
    };
    if (weir_rooms_open(ctl->rooms, id, &opts, false, weir_clock_wall_ms(), &room) < 0) {
        snprintf(err, errlen, "invalid room id");
        return NULL;
    }
    return room;
}

static void drop_room_if_unused(weir_control *ctl, weir_room *room)
{
    if (weir_room_count(room) == 0 && !weir_room_persistent(room)) {
        weir_datachannels_room_closed(ctl, room);
        weir_recordings_on_room_closed(ctl, room);
        weir_rooms_remove(ctl->rooms, room);
    }
}

static weir_participant *new_participant(weir_control *ctl, const weir_join_request *req,
                                         const weir_room *room)
{
    weir_participant *p = WEIR_NEW(weir_participant);
    p->id[0] = 'p';
    weir_rand_id(&ctl->rand, p->id + 1, WEIR_PARTICIPANT_ID_LEN - 1);
    snprintf(p->display, sizeof p->display, "%s",
             req->display && req->display[0] ? req->display : p->id);
    snprintf(p->identity, sizeof p->identity, "%s", req->identity ? req->identity : "");
    p->role = req->role;
    p->may_publish =
        req->role == WEIR_ROLE_TEACHER ||
        (req->role == WEIR_ROLE_STUDENT && weir_room_options_get(room)->students_publish);
    p->joined_ms = weir_clock_wall_ms();
    p->worker_index = -1;
    return p;
}

int weir_membership_join(weir_control *ctl, weir_session *s, const weir_join_request *req,
                         char *err, size_t errlen)
{
    if ((int)weir_rooms_participant_count(ctl->rooms) >= ctl->cfg->max_participants) {
        snprintf(err, errlen, "server at capacity (%d participants)", ctl->cfg->max_participants);
        return 503;
    }
    weir_room *room = find_or_open_room(ctl, req->room_id, err, errlen);
    if (!room)
        return 404;
    weir_participant *p = new_participant(ctl, req, room);
    int rc = weir_room_admit(room, p);
    if (rc < 0) {
        if (rc == -WEIR_EPERM)
            snprintf(err, errlen, "room %s is closing", req->room_id);
        else
            snprintf(err, errlen, "room %s is full (%d participants)", req->room_id,
                     weir_room_options_get(room)->max_participants);
        weir_free(p);
        drop_room_if_unused(ctl, room);
        return rc == -WEIR_EPERM ? 404 : 503;
    }
    p->session = s;
    s->participant = p;
    s->ever_joined = true;
    p->worker_index = weir_control_place_peer(ctl, p->id, &p->peer_id);
    weir_media_participant_init(ctl, p);
    WEIR_LOG_INFO("joined room=%s participant=%s role=%s worker=%d", req->room_id, p->id,
                  weir_role_name(p->role), p->worker_index);
    weir_membership_broadcast(
        room, p, "participant_joined",
        json_pack("{s:o}", "participant", weir_membership_participant_json(p)));
    return 0;
}

void weir_membership_leave(weir_control *ctl, weir_participant *p, const char *reason)
{
    weir_room *room = p->room;
    weir_media_participant_gone(ctl, p);
    weir_datachannels_participant_gone(ctl, p);
    if (room) {
        weir_room_remove(room, p);
        WEIR_LOG_INFO("left room=%s participant=%s reason=%s", weir_room_id(room), p->id, reason);
        if (!ctl->shutting_down)
            weir_membership_broadcast(room, NULL, "participant_left",
                                      json_pack("{s:o, s:s}", "participant",
                                                weir_membership_participant_json(p), "reason",
                                                reason));
        drop_room_if_unused(ctl, room);
    }
    if (p->worker_index >= 0)
        weir_control_release_peer(ctl, p->worker_index, p->peer_id);
    weir_session *s = p->session;
    if (s)
        s->participant = NULL;
    weir_free(p);
}

void weir_membership_kick(weir_control *ctl, weir_participant *p, const char *by)
{
    weir_session *s = p->session;
    WEIR_LOG_INFO("kicked participant=%s by=%s", p->id, by);
    weir_membership_leave(ctl, p, "kicked");
    if (s)
        weir_session_bye(s, "kicked", 4000);
}

void weir_membership_close_room(weir_control *ctl, weir_room *room)
{
    weir_room_set_state(room, WEIR_ROOM_CLOSING, "closed by admin");
    /* Members leave silently: everyone in the room is being sent away anyway. */
    while (weir_room_count(room) > 0) {
        weir_participant *p = weir_room_at(room, 0);
        weir_session *s = p->session;
        weir_media_participant_gone(ctl, p);
        weir_datachannels_participant_gone(ctl, p);
        weir_room_remove(room, p);
        if (p->worker_index >= 0)
            weir_control_release_peer(ctl, p->worker_index, p->peer_id);
        if (s) {
            s->participant = NULL;
            weir_session_bye(s, "room_closed", 4001);
        }
        weir_free(p);
    }
    weir_datachannels_room_closed(ctl, room);
    weir_recordings_on_room_closed(ctl, room);
    weir_rooms_remove(ctl->rooms, room);
}
