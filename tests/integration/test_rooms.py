"""Joining and leaving rooms, presence notifications, capacity, roles,
moderation and the media methods' placeholder answers."""

import asyncio

import pytest

from conftest import (VALID_ANSWER_SDP, VALID_OFFER_SDP, RawWs, connect,
                      joined, unique_room)


def assert_participant(p, id=None, display=None, role=None):
    assert isinstance(p, dict), p
    assert set(p) >= {"id", "display", "role"}, p
    assert isinstance(p["id"], str) and p["id"], p
    assert isinstance(p["display"], str), p
    if id is not None:
        assert p["id"] == id, p
    if display is not None:
        assert p["display"] == display, p
    if role is not None:
        assert p["role"] == role, p


async def assert_left(client, who, reason):
    n = await client.next_notification("participant_left")
    assert n["params"]["reason"] == reason, n
    assert_participant(n["params"]["participant"], id=who.id, display=who.participant["display"],
                       role=who.participant["role"])


# ---------------------------------------------------------------- join / leave

async def test_join_result_shape(server):
    room = unique_room()
    a = await connect(server, "alice")
    result = await a.call("join", {"room": room, "display": "Alice"})
    assert set(result) >= {"participant", "room", "participants", "tracks", "ice_servers"}, result
    assert_participant(result["participant"], display="Alice", role="student")
    r = result["room"]
    assert r["id"] == room
    assert r["max_participants"] == 100
    assert r["auto_subscribe"] is True
    assert r["students_publish"] is True
    assert result["participants"] == []
    assert result["tracks"] == []
    assert isinstance(result["ice_servers"], list)

    b = await connect(server, "bob")
    result_b = await b.call("join", {"room": room, "display": "Bob", "role": "observer"})
    assert_participant(result_b["participant"], display="Bob", role="observer")
    assert result_b["participant"]["id"] != result["participant"]["id"]
    assert len(result_b["participants"]) == 1
    assert_participant(result_b["participants"][0], id=result["participant"]["id"],
                       display="Alice", role="student")


async def test_roles_are_honoured_without_auth(server):
    room = unique_room()
    for role in ("teacher", "student", "observer", "recorder"):
        c = await connect(server, role)
        result = await c.call("join", {"room": room, "role": role})
        assert result["participant"]["role"] == role


async def test_participant_joined_and_left(server):
    room = unique_room()
    a = await joined(server, room, "alice")
    b = await joined(server, room, "bob", role="teacher")
    n = await a.next_notification("participant_joined")
    assert_participant(n["params"]["participant"], id=b.id, display="bob", role="teacher")
    c = await joined(server, room, "carol")
    for x in (a, b):
        n = await x.next_notification("participant_joined")
        assert_participant(n["params"]["participant"], id=c.id, display="carol", role="student")
    # the joiner is not told about itself
    await c.no_notification("participant_joined")

    assert await b.call("leave") == {}
    await assert_left(a, b, "left")
    await assert_left(c, b, "left")
    await b.no_notification("participant_left")


async def test_other_rooms_see_nothing(server):
    a = await joined(server, unique_room(), "alice")
    b = await joined(server, unique_room(), "bob")
    await b.close()
    await a.no_notification("participant_joined")
    await a.no_notification("participant_left")


async def test_clean_close_is_leave(server):
    room = unique_room()
    a = await joined(server, room, "alice")
    b = await joined(server, room, "bob")
    await a.next_notification("participant_joined")
    await b.close()
    await assert_left(a, b, "left")


async def test_abrupt_close_without_close_frame_is_leave(server):
    room = unique_room()
    a = await joined(server, room, "alice")
    raw = RawWs(server.port)
    result = raw.call("join", {"room": room, "display": "raw"})
    raw_id = result["participant"]["id"]
    n = await a.next_notification("participant_joined")
    assert n["params"]["participant"]["id"] == raw_id
    raw.close_abruptly()  # FIN, no close frame
    n = await a.next_notification("participant_left")
    assert n["params"]["participant"]["id"] == raw_id
    assert n["params"]["reason"] == "left"


async def test_reset_connection_is_leave(server):
    room = unique_room()
    a = await joined(server, room, "alice")
    raw = RawWs(server.port)
    raw_id = raw.call("join", {"room": room, "display": "raw"})["participant"]["id"]
    await a.next_notification("participant_joined")
    raw.close_abruptly(rst=True)  # TCP RST
    n = await a.next_notification("participant_left")
    assert n["params"]["participant"]["id"] == raw_id
    assert n["params"]["reason"] == "left"


async def test_transport_abort_is_leave(server):
    room = unique_room()
    a = await joined(server, room, "alice")
    b = await joined(server, room, "bob")
    await a.next_notification("participant_joined")
    b.abort()
    await assert_left(a, b, "left")
    # the room still works for whoever is left
    c = await joined(server, room, "carol")
    n = await a.next_notification("participant_joined")
    assert n["params"]["participant"]["id"] == c.id


async def test_join_twice_is_409(server):
    room = unique_room()
    a = await joined(server, room, "alice")
    err = await a.error("join", {"room": room})
    assert err["code"] == 409, err
    err = await a.error("join", {"room": unique_room()})
    assert err["code"] == 409, err
    # still in the first room
    b = await joined(server, room, "bob")
    await a.next_notification("participant_joined")
    assert b.participant


@pytest.mark.parametrize("method,params", [
    ("leave", {}),
    ("publish", {"sdp": VALID_OFFER_SDP}),
    ("answer", {"sdp": VALID_ANSWER_SDP}),
    ("trickle", {"pc": "publisher", "candidate": None}),
    ("subscribe", {"tracks": ["t1"]}),
    ("set_preferences", {"track": "t1", "paused": True}),
    ("moderate", {"action": "kick", "participant": "p1"}),
    ("record_start", {}),
])
async def test_method_before_join_is_409(server, method, params):
    c = await connect(server)
    err = await c.error(method, params)
    assert err["code"] == 409, err
    result = await c.call("join", {"room": unique_room()})
    assert result["participant"]["id"]


async def test_join_again_after_leave(server):
    room = unique_room()
    a = await joined(server, room, "alice")
    b = await joined(server, room, "bob")
    await a.next_notification("participant_joined")
    assert await b.call("leave") == {}
    await assert_left(a, b, "left")
    err = await b.error("leave")
    assert err["code"] == 409, err
    result = await b.call("join", {"room": room, "display": "bob again"})
    assert [p["id"] for p in result["participants"]] == [a.id]
    n = await a.next_notification("participant_joined")
    assert n["params"]["participant"]["display"] == "bob again"
    # and into another room
    assert await b.call("leave") == {}
    result = await b.call("join", {"room": unique_room()})
    assert result["participants"] == []


# ---------------------------------------------------------------- capacity

async def test_room_capacity(weir):
    srv = weir({"rooms": {"max_participants": 2}})
    room = unique_room()
    a = await joined(srv, room, "a")
    result = await (await connect(srv)).call("join", {"room": room})
    assert result["room"]["max_participants"] == 2
    c = await connect(srv, "c")
    err = await c.error("join", {"room": room})
    assert err["code"] == 503, err
    # another room is not full; and a place frees up when someone leaves
    await c.call("join", {"room": unique_room()})
    await c.call("leave")
    assert await a.call("leave") == {}
    await c.call("join", {"room": room})


async def test_server_capacity(weir):
    srv = weir({"server": {"max_participants": 2}})
    a = await joined(srv, unique_room(), "a")
    await joined(srv, unique_room(), "b")
    c = await connect(srv, "c")
    err = await c.error("join", {"room": unique_room()})
    assert err["code"] == 503, err
    await a.close()
    for _ in range(50):  # the close is processed asynchronously
        r = await c.request("join", {"room": unique_room()})
        if "result" in r:
            break
        assert r["error"]["code"] == 503, r
        await asyncio.sleep(0.05)
    else:
        pytest.fail("a freed place was never given to the next joiner")


# ---------------------------------------------------------------- auto_create

async def test_no_auto_create_needs_admin_created_room(weir):
    srv = weir({"rooms": {"auto_create": False}, "auth": {"admin_key": "k" * 20}})
    c = await connect(srv)
    err = await c.error("join", {"room": "physics"})
    assert err["code"] == 404, err
    r = srv.http("POST", "/api/rooms", {"id": "physics"}, key="k" * 20)
    assert r.status == 201, r
    result = await c.call("join", {"room": "physics"})
    assert result["room"]["id"] == "physics"
    err = await (await connect(srv)).error("join", {"room": "chemistry"})
    assert err["code"] == 404, err


# ---------------------------------------------------------------- roles and media errors

# Media calls that must fail in an empty room, and how: the media methods are
# live (test_forward_aiortc.py), so nothing to answer is 409 and an unknown
# track is 404 (taps and recordings included).
MEDIA_CALLS = [
    ("answer", {"sdp": VALID_ANSWER_SDP}, 409, "no offer"),
    ("trickle", {"pc": "subscriber", "candidate": {
        "candidate": "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host",
        "sdpMid": "0", "sdpMLineIndex": 0}}, 409, "offer"),
    ("subscribe", {"tracks": ["t1"]}, 404, "t1"),
    ("unsubscribe", {"tracks": ["t1"]}, 404, "t1"),
    ("set_preferences", {"track": "t1", "paused": False, "max_spatial": 2, "max_temporal": 0},
     404, "t1"),
    ("mute", {"track": "t1", "muted": True}, 404, "no such track"),
    ("record_start", {"tracks": ["t1"]}, 404, "no such track"),
    ("record_stop", {"recording": "rec1"}, 404, "no such recording"),
    ("tap_start", {"track": "t1", "host": "127.0.0.1", "port": 5004}, 404, "no such track"),
    ("tap_stop", {"tap": "tap1"}, 404, "no such tap"),
]
EXPECTED_CODE = {m: code for m, _, code, _ in MEDIA_CALLS}


@pytest.mark.parametrize("method,params,code,words", MEDIA_CALLS,
                         ids=[f"{m}-{i}" for i, (m, *_) in enumerate(MEDIA_CALLS)])
async def test_media_method_errors_for_teacher(server, method, params, code, words):
    c = await joined(server, unique_room(), "t", role="teacher")
    err = await c.error(method, params)
    assert err["code"] == code, err
    assert words in err["message"], err
    assert await c.call("leave") == {}  # session intact


ROLE_MATRIX = {
    # method: roles allowed (others get 403)
    "publish": {"teacher", "student"},
    "mute": {"teacher", "student"},
    "moderate": {"teacher"},
    "record_start": {"teacher", "recorder"},
    "record_stop": {"teacher", "recorder"},
    "tap_start": {"teacher", "recorder"},
    "tap_stop": {"teacher", "recorder"},
    "answer": {"teacher", "student", "observer", "recorder"},
    "trickle": {"teacher", "student", "observer", "recorder"},
    "subscribe": {"teacher", "student", "observer", "recorder"},
    "unsubscribe": {"teacher", "student", "observer", "recorder"},
    "set_preferences": {"teacher", "student", "observer", "recorder"},
}


@pytest.mark.parametrize("role", ["teacher", "student", "observer", "recorder"])
async def test_role_checks_precede_media_errors(server, role):
    c = await joined(server, unique_room(), role, role=role)
    calls = {m: params for m, params, _, _ in MEDIA_CALLS}
    calls["moderate"] = {"action": "mute", "participant": "nobody", "track": "t1"}
    calls["publish"] = {"sdp": GARBAGE_OFFER}  # allowed: refused for its content, -32602
    for method, allowed in ROLE_MATRIX.items():
        err = await c.error(method, calls[method])
        want = EXPECTED_CODE.get(method) if role in allowed else 403
        if method == "publish" and role in allowed:
            want = -32602
        if method == "moderate" and role == "teacher":
            want = 404  # mute of an unknown participant
        ok = err["code"] in want if isinstance(want, tuple) else err["code"] == want
        assert ok, (role, method, err)


# Past the permission checks publish parses the offer: this one is refused with
# -32602, which shows the caller was allowed without starting any ICE.
GARBAGE_OFFER = "v=0\r\n"


async def test_observer_publish_is_403_not_501(server):
    c = await joined(server, unique_room(), "obs", role="observer")
    err = await c.error("publish", {"sdp": VALID_OFFER_SDP})
    assert err["code"] == 403, err


# ---------------------------------------------------------------- moderation

async def test_teacher_kicks_student(server):
    room = unique_room()
    t = await joined(server, room, "teacher", role="teacher")
    s = await joined(server, room, "student")
    o = await joined(server, room, "observer", role="observer")
    assert await t.call("moderate", {"action": "kick", "participant": s.id}) == {}
    bye = await s.next_notification("bye")
    assert bye["params"]["reason"] == "kicked", bye
    await s.wait_closed()
    for x in (t, o):
        n = await x.next_notification("participant_left")
        assert n["params"]["reason"] == "kicked", n
        assert n["params"]["participant"]["id"] == s.id
    # the kicked participant is gone from the room
    late = await connect(server, "late")
    ids = {p["id"] for p in (await late.call("join", {"room": room}))["participants"]}
    assert ids == {t.id, o.id}


async def test_kick_unknown_participant_is_404(server):
    room = unique_room()
    t = await joined(server, room, "teacher", role="teacher")
    err = await t.error("moderate", {"action": "kick", "participant": "no-such-participant"})
    assert err["code"] == 404, err
    # a participant of another room is unknown here too
    other = await joined(server, unique_room(), "elsewhere")
    err = await t.error("moderate", {"action": "kick", "participant": other.id})
    assert err["code"] in (403, 404), err
    await other.no_notification("bye")
    assert await other.call("leave") == {}


async def test_student_may_not_moderate(server):
    room = unique_room()
    t = await joined(server, room, "teacher", role="teacher")
    s = await joined(server, room, "student")
    err = await s.error("moderate", {"action": "kick", "participant": t.id})
    assert err["code"] == 403, err
    await t.no_notification("bye")


async def test_deny_and_allow_publish(server):
    room = unique_room()
    t = await joined(server, room, "teacher", role="teacher")
    s = await joined(server, room, "student")
    assert await t.call("moderate", {"action": "deny_publish", "participant": s.id}) == {}
    n = await s.next_notification("moderated")
    assert n["params"]["action"] == "deny_publish"
    assert n["params"]["by"] == t.id
    err = await s.error("publish", {"sdp": VALID_OFFER_SDP})
    assert err["code"] == 403, err
    assert await t.call("moderate", {"action": "allow_publish", "participant": s.id}) == {}
    n = await s.next_notification("moderated")
    assert n["params"]["action"] == "allow_publish"
    err = await s.error("publish", {"sdp": GARBAGE_OFFER})
    assert err["code"] == -32602, err


async def test_students_publish_only_when_allowed(weir):
    srv = weir({"rooms": {"students_publish_by_default": False}})
    room = unique_room()
    t = await joined(srv, room, "teacher", role="teacher")
    s = await joined(srv, room, "student")
    assert s.participant["role"] == "student"
    err = await s.error("publish", {"sdp": VALID_OFFER_SDP})
    assert err["code"] == 403, err
    err = await t.error("publish", {"sdp": GARBAGE_OFFER})
    assert err["code"] == -32602, err
    await t.call("moderate", {"action": "allow_publish", "participant": s.id})
    await s.next_notification("moderated")
    err = await s.error("publish", {"sdp": GARBAGE_OFFER})
    assert err["code"] == -32602, err


async def test_moderate_mute_of_unknown_track_is_404(server):
    room = unique_room()
    t = await joined(server, room, "teacher", role="teacher")
    s = await joined(server, room, "student")
    err = await t.error("moderate", {"action": "mute", "participant": s.id, "track": "t1"})
    assert err["code"] == 404, err


# ---------------------------------------------------------------- join timeout

async def test_join_timeout(weir):
    srv = weir({"signalling": {"join_timeout_s": 1}})
    idle = await connect(srv, "idle")
    active = await joined(srv, unique_room(), "active")
    bye = await idle.next_notification("bye", timeout=4)
    assert bye["params"]["reason"] == "join_timeout", bye
    await idle.wait_closed()
    # a socket that joined in time is not closed
    await asyncio.sleep(0.5)
    assert await active.call("leave") == {}
    result = await active.call("join", {"room": unique_room()})
    assert result["participant"]["id"]


async def test_join_timeout_zero_means_never(weir):
    srv = weir({"signalling": {"join_timeout_s": 0}})
    idle = await connect(srv, "idle")
    await idle.no_notification("bye", timeout=1.3)
    assert (await idle.call("join", {"room": unique_room()}))["participant"]["id"]


async def test_join_hands_out_the_configured_ice_servers(weir):
    srv = weir({"media": {"ice_servers": "stun:stun.example.org:3478, turn:turn.example.org:3478",
                          "ice_username": "class", "ice_credential": "s3cret"}})
    c = await connect(srv)
    joined = await c.join(unique_room(), display="a")
    assert joined["ice_servers"] == [{"urls": ["stun:stun.example.org:3478",
                                               "turn:turn.example.org:3478"],
                                      "username": "class", "credential": "s3cret"}], joined
    # Without configuration: an empty list, and tracks is a list too.
    c2 = await connect(srv)
    assert (await c2.join(unique_room(), display="b"))["tracks"] == []
