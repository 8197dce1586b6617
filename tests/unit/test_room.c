#include <criterion/criterion.h>
#include <string.h>

#include "control/room.h"
#include "weir/errors.h"

static weir_room_options opts(int max)
{
    return (weir_room_options){
        .max_participants = max, .auto_subscribe = true, .students_publish = true};
}

static weir_participant person(const char *id)
{
    weir_participant p;
    memset(&p, 0, sizeof p);
    strcpy(p.id, id);
    p.role = WEIR_ROLE_STUDENT;
    return p;
}

Test(room, ids_are_validated)
{
    struct {
        const char *id;
        bool ok;
    } rows[] = {
        {"math-101", true},
        {"a", true},
        {"A.b_c-9", true},
        {"", false},
        {"has space", false},
        {"slash/no", false},
        {"ümlaut", false},
        {"0123456789012345678901234567890123456789012345678901234567890123", true},
        {"01234567890123456789012345678901234567890123456789012345678901234", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_eq(weir_room_id_valid(rows[i].id), rows[i].ok, "id %s", rows[i].id);
}

Test(room, open_find_list_sorted_remove)
{
    weir_rooms *rooms = weir_rooms_create();
    weir_room_options o = opts(10);
    const char *ids[] = {"m", "c", "x", "a"};
    weir_room *r;
    for (int i = 0; i < 4; i++)
        cr_assert_eq(weir_rooms_open(rooms, ids[i], &o, false, 0, &r), 0);
    cr_assert_eq(weir_rooms_open(rooms, "c", &o, false, 0, &r), -WEIR_EEXIST);
    cr_assert_eq(weir_rooms_open(rooms, "bad id", &o, false, 0, &r), -WEIR_EINVAL);
    size_t n;
    weir_room *const *list = weir_rooms_list(rooms, &n);
    cr_assert_eq(n, 4);
    const char *sorted[] = {"a", "c", "m", "x"};
    for (size_t i = 0; i < n; i++)
        cr_expect_str_eq(weir_room_id(list[i]), sorted[i]);
    weir_room *m = weir_rooms_find(rooms, "m");
    cr_assert_not_null(m);
    weir_rooms_remove(rooms, m);
    cr_assert_null(weir_rooms_find(rooms, "m"));
    cr_assert_eq(weir_rooms_count(rooms), 3);
    weir_rooms_destroy(rooms);
}

Test(room, admit_capacity_duplicates_and_removal)
{
    weir_rooms *rooms = weir_rooms_create();
    weir_room_options o = opts(2);
    weir_room *room;
    cr_assert_eq(weir_rooms_open(rooms, "r", &o, true, 0, &room), 0);
    weir_participant a = person("pa"), b = person("pb"), c = person("pc"), a2 = person("pa");
    cr_assert_eq(weir_room_admit(room, &a), 0);
    cr_assert_eq(a.room, room);
    cr_assert_eq(weir_room_admit(room, &a2), -WEIR_EEXIST);
    cr_assert_eq(weir_room_admit(room, &b), 0);
    cr_assert_eq(weir_room_admit(room, &c), -WEIR_EFULL);
    cr_assert_null(c.room, "a refused participant is untouched");
    cr_assert_eq(weir_rooms_participant_count(rooms), 2);
    cr_assert_eq(weir_room_find(room, "pb"), &b);
    weir_room_remove(room, &a);
    cr_assert_null(a.room);
    cr_assert_eq(weir_room_at(room, 0), &b, "join order kept");
    cr_assert_eq(weir_room_admit(room, &c), 0, "a freed seat can be taken");
    weir_room_remove(room, &b);
    weir_room_remove(room, &c);
    weir_rooms_destroy(rooms);
}

Test(room, closing_room_refuses_joins)
{
    weir_rooms *rooms = weir_rooms_create();
    weir_room_options o = opts(5);
    weir_room *room;
    cr_assert_eq(weir_rooms_open(rooms, "r", &o, false, 0, &room), 0);
    cr_assert_eq(weir_room_state_get(room), WEIR_ROOM_OPEN);
    weir_room_set_state(room, WEIR_ROOM_CLOSING, "test");
    cr_assert_eq(weir_room_state_get(room), WEIR_ROOM_CLOSING);
    weir_room_set_state(room, WEIR_ROOM_OPEN, "illegal: ignored");
    cr_assert_eq(weir_room_state_get(room), WEIR_ROOM_CLOSING);
    weir_participant a = person("pa");
    cr_assert_eq(weir_room_admit(room, &a), -WEIR_EPERM);
    weir_rooms_destroy(rooms);
}
