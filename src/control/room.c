#define WEIR_LOG_MODULE "control.room"
#include "control/room.h"

#include <stdlib.h>
#include <string.h>

#include "weir/alloc.h"
#include "weir/errors.h"
#include "weir/log.h"

struct weir_room {
    char id[WEIR_ROOM_ID_MAX + 1];
    weir_room_options opts;
    bool persistent;
    int64_t created_ms;
    weir_room_state state;
    /* borrowed (sessions own participants), kept in join order: */
    weir_participant **members;
    size_t count;
    size_t cap;
    /* told about every notification to the room (control/recordings.c's timeline): */
    weir_room_observer observer;
    void *observer_ctx;
};

/*
 * Rooms in a sorted array: a classroom server holds hundreds of rooms, not
 * millions, and a sorted array gives listing order and bsearch for free.
 */
struct weir_rooms {
    weir_room **rooms;
    size_t count;
    size_t cap;
};

static const char *const state_names[] = {"open", "closing"};

weir_rooms *weir_rooms_create(void)
{
    return WEIR_NEW(weir_rooms);
}

static void room_free(weir_room *room)
{
    for (size_t i = 0; i < room->count; i++)
        room->members[i]->room = NULL;
    weir_free(room->members);
    weir_free(room);
}

void weir_rooms_destroy(weir_rooms *rooms)
{
    if (!rooms)
        return;
    for (size_t i = 0; i < rooms->count; i++)
        room_free(rooms->rooms[i]);
    weir_free(rooms->rooms);
    weir_free(rooms);
}

bool weir_room_id_valid(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > WEIR_ROOM_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '.' || c == '-';
        if (!ok)
            return false;
    }
    return true;
}

/* Index of id, or of where it would be inserted (with *found = false). */
static size_t search(const weir_rooms *rooms, const char *id, bool *found)
{
    size_t lo = 0, hi = rooms->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rooms->rooms[mid]->id, id);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

int weir_rooms_open(weir_rooms *rooms, const char *id, const weir_room_options *opts,
                    bool persistent, int64_t now_ms, weir_room **out)
{
    if (!weir_room_id_valid(id))
        return -WEIR_EINVAL;
    bool found;
    size_t at = search(rooms, id, &found);
    if (found)
        return -WEIR_EEXIST;
    weir_room *room = WEIR_NEW(weir_room);
    strcpy(room->id, id);
    room->opts = *opts;
    room->persistent = persistent;
    room->created_ms = now_ms;
    room->state = WEIR_ROOM_OPEN;
    if (rooms->count == rooms->cap) {
        rooms->cap = rooms->cap ? rooms->cap * 2 : 16;
        rooms->rooms = weir_realloc(rooms->rooms, rooms->cap * sizeof *rooms->rooms);
    }
    memmove(&rooms->rooms[at + 1], &rooms->rooms[at], (rooms->count - at) * sizeof(weir_room *));
    rooms->rooms[at] = room;
    rooms->count++;
    WEIR_LOG_INFO("room_opened room=%s persistent=%d max_participants=%d", id, persistent,
                  opts->max_participants);
    *out = room;
    return 0;
}

weir_room *weir_rooms_find(weir_rooms *rooms, const char *id)
{
    bool found;
    size_t at = search(rooms, id, &found);
    return found ? rooms->rooms[at] : NULL;
}

void weir_rooms_remove(weir_rooms *rooms, weir_room *room)
{
    bool found;
    size_t at = search(rooms, room->id, &found);
    if (!found || rooms->rooms[at] != room)
        return;
    memmove(&rooms->rooms[at], &rooms->rooms[at + 1],
            (rooms->count - at - 1) * sizeof(weir_room *));
    rooms->count--;
    WEIR_LOG_INFO("room_closed room=%s", room->id);
    room_free(room);
}

size_t weir_rooms_count(const weir_rooms *rooms)
{
    return rooms->count;
}

weir_room *const *weir_rooms_list(weir_rooms *rooms, size_t *count)
{
    *count = rooms->count;
    return rooms->rooms;
}

size_t weir_rooms_participant_count(const weir_rooms *rooms)
{
    size_t n = 0;
    for (size_t i = 0; i < rooms->count; i++)
        n += rooms->rooms[i]->count;
    return n;
}

const char *weir_room_id(const weir_room *room)
{
    return room->id;
}

const weir_room_options *weir_room_options_get(const weir_room *room)
{
    return &room->opts;
}

bool weir_room_persistent(const weir_room *room)
{
    return room->persistent;
}

int64_t weir_room_created_ms(const weir_room *room)
{
    return room->created_ms;
}

weir_room_state weir_room_state_get(const weir_room *room)
{
    return room->state;
}

void weir_room_set_state(weir_room *room, weir_room_state to, const char *reason)
{
    if (room->state == to || to != WEIR_ROOM_CLOSING)
        return;
    WEIR_LOG_INFO("room_state room=%s %s -> %s (%s)", room->id, state_names[room->state],
                  state_names[to], reason);
    room->state = to;
}

int weir_room_admit(weir_room *room, weir_participant *p)
{
    if (room->state != WEIR_ROOM_OPEN)
        return -WEIR_EPERM;
    if ((int)room->count >= room->opts.max_participants)
        return -WEIR_EFULL;
    if (weir_room_find(room, p->id))
        return -WEIR_EEXIST;
    if (room->count == room->cap) {
        room->cap = room->cap ? room->cap * 2 : 8;
        room->members = weir_realloc(room->members, room->cap * sizeof *room->members);
    }
    room->members[room->count++] = p;
    p->room = room;
    return 0;
}

void weir_room_remove(weir_room *room, weir_participant *p)
{
    for (size_t i = 0; i < room->count; i++) {
        if (room->members[i] == p) {
            memmove(&room->members[i], &room->members[i + 1],
                    (room->count - i - 1) * sizeof(weir_participant *));
            room->count--;
            p->room = NULL;
            return;
        }
    }
}

weir_participant *weir_room_find(const weir_room *room, const char *participant_id)
{
    for (size_t i = 0; i < room->count; i++)
        if (strcmp(room->members[i]->id, participant_id) == 0)
            return room->members[i];
    return NULL;
}

size_t weir_room_count(const weir_room *room)
{
    return room->count;
}

weir_participant *weir_room_at(const weir_room *room, size_t i)
{
    return i < room->count ? room->members[i] : NULL;
}

void weir_room_set_observer(weir_room *room, weir_room_observer fn, void *ctx)
{
    room->observer = fn;
    room->observer_ctx = ctx;
}

void weir_room_observe(weir_room *room, const char *method, const json_t *params)
{
    if (room->observer)
        room->observer(room->observer_ctx, room, method, params);
}
