"""The admin REST API under /api (Authorization: Bearer <admin key>)."""

import time

import pytest

from conftest import (TEST_ADMIN_KEY, TEST_SECRET, ServerFactory, connect, decode_token, joined,
                      unique_room, weir_bin)


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory):
    """Admin key set, auth secret unset (joins need no token)."""
    factory = ServerFactory(weir_bin(), lambda: str(tmp_path_factory.mktemp("weir-admin")))
    srv = factory({"auth": {"admin_key": TEST_ADMIN_KEY}})
    yield srv
    factory.teardown()


def assert_api_error(r, status):
    assert r.status == status, r
    body = r.json()
    assert body["error"]["code"] == status, body
    assert isinstance(body["error"]["message"], str), body


# ---------------------------------------------------------------- access

@pytest.mark.parametrize("method,path", [("GET", "/api/rooms"), ("POST", "/api/rooms"),
                                         ("GET", "/api/rooms/x"), ("DELETE", "/api/rooms/x"),
                                         ("POST", "/api/tokens")])
def test_api_is_403_without_admin_key_configured(server, method, path):
    for key in (None, "", "anything", TEST_ADMIN_KEY):
        r = server.http(method, path, body={"id": "x"} if method == "POST" else None, key=key)
        assert_api_error(r, 403)


def test_api_needs_the_right_key(admin_server):
    assert_api_error(admin_server.http("GET", "/api/rooms"), 401)
    assert_api_error(admin_server.http("GET", "/api/rooms", key="wrong-key"), 401)
    assert_api_error(admin_server.http("GET", "/api/rooms", key=TEST_ADMIN_KEY + "x"), 401)
    assert_api_error(admin_server.http("GET", "/api/rooms", key=TEST_ADMIN_KEY[:-1]), 401)
    assert_api_error(admin_server.http("GET", "/api/rooms",
                                       headers={"Authorization": TEST_ADMIN_KEY}), 401)
    assert_api_error(admin_server.http("POST", "/api/rooms", {"id": unique_room()}, key="nope"), 401)
    r = admin_server.http("GET", "/api/rooms", key=TEST_ADMIN_KEY)
    assert r.status == 200, r
    assert isinstance(r.json()["rooms"], list)


# ---------------------------------------------------------------- rooms

async def test_create_room_with_settings(admin_server):
    room = unique_room()
    r = admin_server.admin("POST", "/api/rooms", {"id": room, "max_participants": 3,
                                                  "auto_subscribe": False,
                                                  "students_publish": False})
    assert r.status == 201, r
    body = r.json()["room"]
    assert body["id"] == room
    assert body["max_participants"] == 3
    assert_api_error(admin_server.admin("POST", "/api/rooms", {"id": room}), 409)

    c = await connect(admin_server)
    result = await c.call("join", {"room": room})
    assert result["room"] == {**result["room"], "id": room, "max_participants": 3,
                              "auto_subscribe": False, "students_publish": False}
    await joined(admin_server, room, "b")
    await joined(admin_server, room, "c")
    err = await (await connect(admin_server)).error("join", {"room": room})
    assert err["code"] == 503, err


async def test_create_room_without_id(admin_server):
    r = admin_server.admin("POST", "/api/rooms", {})
    assert r.status == 201, r
    room = r.json()["room"]["id"]
    assert isinstance(room, str) and room
    c = await connect(admin_server)
    assert (await c.call("join", {"room": room}))["room"]["id"] == room


@pytest.mark.parametrize("body", [
    "not json", "{", "[]", '"room"', '{"id": 5}', '{"id": "bad room!"}', '{"id": ""}',
    '{"id": "' + "r" * 65 + '"}', '{"max_participants": "many"}', '{"auto_subscribe": "yes"}',
])
def test_create_room_bad_body_is_400(admin_server, body):
    r = admin_server.http("POST", "/api/rooms", body, key=TEST_ADMIN_KEY,
                          headers={"Content-Type": "application/json"})
    assert_api_error(r, 400)


async def test_list_and_inspect_rooms(admin_server):
    room = unique_room()
    a = await joined(admin_server, room, "Alice")
    b = await joined(admin_server, room, "Bob", role="teacher")

    r = admin_server.admin("GET", "/api/rooms")
    assert r.status == 200, r
    rooms = {x["id"]: x for x in r.json()["rooms"]}
    assert room in rooms, rooms
    assert rooms[room]["participants"] == 2
    assert rooms[room]["max_participants"] == 100

    r = admin_server.admin("GET", f"/api/rooms/{room}")
    assert r.status == 200, r
    body = r.json()
    assert body["room"]["id"] == room
    got = {p["id"]: (p["display"], p["role"]) for p in body["participants"]}
    assert got == {a.id: ("Alice", "student"), b.id: ("Bob", "teacher")}

    r = admin_server.admin("GET", f"/api/rooms/{room}/participants")
    assert r.status == 200, r
    got = {p["id"]: (p["display"], p["role"]) for p in r.json()["participants"]}
    assert got == {a.id: ("Alice", "student"), b.id: ("Bob", "teacher")}

    await a.call("leave")
    r = admin_server.admin("GET", f"/api/rooms/{room}/participants")
    assert [p["id"] for p in r.json()["participants"]] == [b.id]

    assert_api_error(admin_server.admin("GET", "/api/rooms/no-such-room"), 404)
    assert_api_error(admin_server.admin("GET", "/api/rooms/no-such-room/participants"), 404)


async def test_close_room(admin_server):
    room = unique_room()
    a = await joined(admin_server, room, "a")
    b = await joined(admin_server, room, "b")
    outsider = await joined(admin_server, unique_room(), "outsider")
    r = admin_server.admin("DELETE", f"/api/rooms/{room}")
    assert r.status == 200, r
    assert r.json() == {}
    for c in (a, b):
        bye = await c.next_notification("bye")
        assert bye["params"]["reason"] == "room_closed", bye
        await c.wait_closed()
    await outsider.no_notification("bye")
    assert_api_error(admin_server.admin("GET", f"/api/rooms/{room}"), 404)
    assert room not in {x["id"] for x in admin_server.admin("GET", "/api/rooms").json()["rooms"]}
    assert_api_error(admin_server.admin("DELETE", f"/api/rooms/{room}"), 404)
    assert_api_error(admin_server.admin("DELETE", "/api/rooms/never-existed"), 404)


async def test_kick_participant(admin_server):
    room = unique_room()
    a = await joined(admin_server, room, "a")
    b = await joined(admin_server, room, "b")
    await a.next_notification("participant_joined")
    r = admin_server.admin("DELETE", f"/api/rooms/{room}/participants/{b.id}")
    assert r.status == 200, r
    assert r.json() == {}
    bye = await b.next_notification("bye")
    assert bye["params"]["reason"] == "kicked", bye
    await b.wait_closed()
    n = await a.next_notification("participant_left")
    assert n["params"]["reason"] == "kicked", n
    assert n["params"]["participant"]["id"] == b.id
    r = admin_server.admin("GET", f"/api/rooms/{room}/participants")
    assert [p["id"] for p in r.json()["participants"]] == [a.id]

    assert_api_error(admin_server.admin("DELETE", f"/api/rooms/{room}/participants/{b.id}"), 404)
    assert_api_error(admin_server.admin("DELETE", f"/api/rooms/{room}/participants/nobody"), 404)
    assert_api_error(admin_server.admin("DELETE", f"/api/rooms/no-such-room/participants/{a.id}"),
                     404)
    await a.no_notification("bye")


def test_unknown_api_path_is_404(admin_server):
    assert_api_error(admin_server.admin("GET", "/api/nothing-here"), 404)


def test_tokens_need_a_secret(admin_server):
    r = admin_server.admin("POST", "/api/tokens", {"room": "r", "sub": "u", "role": "student"})
    assert_api_error(r, 400)


# ---------------------------------------------------------------- tokens

async def test_mint_token_and_join(weir):
    srv = weir({"auth": {"admin_key": TEST_ADMIN_KEY, "secret": TEST_SECRET}})
    room = unique_room()
    before = int(time.time())
    r = srv.admin("POST", "/api/tokens", {"room": room, "sub": "t-1", "role": "teacher",
                                          "name": "Teach", "ttl_s": 120})
    assert r.status == 200, r
    body = r.json()
    header, claims = decode_token(body["token"], secret=TEST_SECRET)
    assert header["alg"] == "HS256"
    assert (claims["room"], claims["sub"], claims["role"], claims["name"]) == \
        (room, "t-1", "teacher", "Teach")
    assert before + 115 <= claims["exp"] <= int(time.time()) + 125
    # expires_at: the exp claim (seconds since the epoch, or an ISO 8601 string)
    if isinstance(body["expires_at"], str):
        assert body["expires_at"], body
    else:
        assert body["expires_at"] == claims["exp"], body

    c = await connect(srv)
    result = await c.call("join", {"room": room, "token": body["token"]})
    assert result["participant"]["role"] == "teacher"
    assert result["participant"]["display"] == "Teach"
    # the token is bound to its room
    other = await connect(srv)
    err = await other.error("join", {"room": room + "x", "token": body["token"]})
    assert err["code"] == 401, err

    for bad in ("not json", {"sub": "u", "role": "student"}, {"room": room, "role": "student"},
                {"room": room, "sub": "u"}, {"room": room, "sub": "u", "role": "admin"},
                {"room": room, "sub": "u", "role": "student", "ttl_s": "long"},
                {"room": room, "sub": "u", "role": "student", "ttl_s": 86400 + 1},
                {"room": "bad room!", "sub": "u", "role": "student"}):
        assert_api_error(srv.admin("POST", "/api/tokens", bad), 400)
