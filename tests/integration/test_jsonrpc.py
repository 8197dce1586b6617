"""WebSocket framing and JSON-RPC 2.0 error handling on /ws."""

import json
import struct

import pytest

from conftest import (MAX_FRAME, ConnectionClosedError, RawWs, WsClient, connect,
                      unique_room)


async def assert_still_usable(c):
    """A valid join + leave on the same socket answers normally."""
    room = unique_room("usable")
    result = await c.call("join", {"room": room, "display": "still-here"})
    assert result["room"]["id"] == room
    assert await c.call("leave") == {}


# ---------------------------------------------------------------- subprotocol

async def test_subprotocol_weir_v1_is_echoed(server):
    c = await WsClient.connect(server.ws_url, subprotocols=["weir-v1"])
    assert c.subprotocol == "weir-v1"
    await assert_still_usable(c)


async def test_subprotocol_picked_among_several(server):
    c = await WsClient.connect(server.ws_url, subprotocols=["chat-v9", "weir-v1"])
    assert c.subprotocol == "weir-v1"


async def test_no_subprotocol_offered_still_works(server):
    c = await WsClient.connect(server.ws_url, subprotocols=None)
    assert c.subprotocol is None
    await assert_still_usable(c)


# ---------------------------------------------------------------- protocol errors

async def test_malformed_json_is_parse_error_with_null_id(server):
    c = await connect(server)
    for garbage in ("{not json", '{"jsonrpc":"2.0","id":1,"method":"join"', "", "nul\x00l", "]"):
        await c.send_raw(garbage)
        r = await c.response(None)
        assert r["error"]["code"] == -32700, (garbage, r)
        assert r["id"] is None
        assert isinstance(r["error"].get("message"), str)
        await assert_still_usable(c)


INVALID_REQUESTS = [
    # (frame, id the answer must carry)
    ('[{"jsonrpc":"2.0","id":1,"method":"leave"}]', None),            # batch
    ('[]', None),                                                        # empty batch
    ('42', None),                                                        # not an object
    ('"join"', None),
    ('null', None),
    ('{"id":11,"method":"leave"}', 11),                                  # missing jsonrpc
    ('{"jsonrpc":"1.0","id":12,"method":"leave"}', 12),                 # wrong version
    ('{"jsonrpc":2.0,"id":13,"method":"leave"}', 13),                   # version not a string
    ('{"jsonrpc":"2.0","id":14,"method":7}', 14),                       # method not a string
    ('{"jsonrpc":"2.0","id":15,"method":null}', 15),
    ('{"jsonrpc":"2.0","id":16,"method":["join"]}', 16),
    ('{"jsonrpc":"2.0","id":17}', 17),                                   # method missing
    ('{"jsonrpc":"2.0","id":"abc","params":{}}', "abc"),
]


@pytest.mark.parametrize("frame,want_id", INVALID_REQUESTS)
async def test_invalid_request(server, frame, want_id):
    c = await connect(server)
    await c.send_raw(frame)
    r = await c.response(want_id)
    assert r["error"]["code"] == -32600, r
    assert "result" not in r
    await assert_still_usable(c)


async def test_unknown_method(server):
    c = await connect(server)
    for method in ("no_such_method", "JOIN", "join ", "rpc.discover"):
        r = await c.request(method, {})
        assert r["error"]["code"] == -32601, (method, r)
    await assert_still_usable(c)
    # also once joined
    await c.call("join", {"room": unique_room()})
    r = await c.request("kick_everyone", {})
    assert r["error"]["code"] == -32601


async def test_string_ids_are_echoed(server):
    c = await connect(server)
    room = unique_room()
    await c.send_raw(json.dumps({"jsonrpc": "2.0", "id": "req-α", "method": "join",
                                 "params": {"room": room}}))
    r = await c.response("req-α")
    assert r["result"]["room"]["id"] == room
    await c.send_raw(json.dumps({"jsonrpc": "2.0", "id": "x", "method": "nope"}))
    r = await c.response("x")
    assert r["error"]["code"] == -32601


JOIN_BAD_PARAMS = [
    ({}, "room"),
    ({"room": 5}, "room"),
    ({"room": ""}, "room"),
    ({"room": "has space"}, "room"),
    ({"room": "slash/room"}, "room"),
    ({"room": "r" * 65}, "room"),
    ({"room": "ok", "display": 5}, "display"),
    ({"room": "ok", "display": "d" * 65}, "display"),
    ({"room": "ok", "role": "admin"}, "role"),
    ({"room": "ok", "role": 1}, "role"),
    ({"room": "ok", "token": 12}, "token"),
]


@pytest.mark.parametrize("params,name", JOIN_BAD_PARAMS)
async def test_join_bad_params(server, params, name):
    c = await connect(server)
    err = await c.error("join", params)
    assert err["code"] == -32602, err
    assert name in err["message"], err
    await assert_still_usable(c)


async def test_params_must_be_an_object(server):
    c = await connect(server)
    err = await c.error("join", ["room-a"])
    assert err["code"] == -32602, err
    await assert_still_usable(c)


async def test_join_accepts_longest_room_name_and_display(server):
    c = await connect(server)
    room = ("R" + unique_room().replace("-", "_") + "." * 64)[:64]
    result = await c.call("join", {"room": room, "display": "d" * 64})
    assert result["room"]["id"] == room
    assert result["participant"]["display"] == "d" * 64


OTHER_BAD_PARAMS = [
    ("publish", {}, "sdp"),
    ("publish", {"sdp": 5}, "sdp"),
    ("answer", {}, "sdp"),
    ("trickle", {"pc": "sideways", "candidate": None}, "pc"),
    ("trickle", {"candidate": None}, "pc"),
    ("trickle", {"pc": "publisher", "candidate": "candidate:1 1 udp 1 1.2.3.4 9 typ host"},
     "candidate"),
    ("subscribe", {"tracks": "t1"}, "tracks"),
    ("unsubscribe", {}, "tracks"),
    ("set_preferences", {"max_spatial": 1}, "track"),
    ("set_preferences", {"track": "t1", "max_spatial": 3}, "max_spatial"),
    ("set_preferences", {"track": "t1", "max_spatial": -1}, "max_spatial"),
    ("set_preferences", {"track": "t1", "max_temporal": 7}, "max_temporal"),
    ("set_preferences", {"track": "t1", "max_temporal": "1"}, "max_temporal"),
    ("set_preferences", {"track": "t1", "paused": "yes"}, "paused"),
    ("mute", {"track": "t1"}, "muted"),
    ("mute", {"muted": True}, "track"),
    ("moderate", {"action": "ban", "participant": "p1"}, "action"),
    ("moderate", {"participant": "p1"}, "action"),
    ("moderate", {"action": "kick"}, "participant"),
    ("moderate", {"action": "mute", "participant": "p1"}, "track"),
    ("record_stop", {}, "recording"),
    ("tap_start", {"track": "t1", "host": "127.0.0.1", "port": 0}, "port"),
    ("tap_start", {"track": "t1", "host": "127.0.0.1", "port": 65536}, "port"),
    ("tap_start", {"track": "t1", "host": 127, "port": 5004}, "host"),
    ("tap_stop", {}, "tap"),
]


@pytest.mark.parametrize("method,params,name", OTHER_BAD_PARAMS,
                         ids=[f"{m}-{n}-{i}" for i, (m, _, n) in enumerate(OTHER_BAD_PARAMS)])
async def test_method_bad_params(server, method, params, name):
    # joined as teacher (auth is off, so the role param is honoured): every
    # method is allowed to this role, so validation is what answers
    c = await connect(server)
    await c.call("join", {"room": unique_room(), "role": "teacher"})
    err = await c.error(method, params)
    assert err["code"] == -32602, err
    assert name in err["message"], err
    # the session is intact: a valid request answers normally
    r = await c.request("subscribe", {"tracks": ["t1"]})
    assert r.get("error", {}).get("code") == 404, r  # valid, but no such track
    assert await c.call("leave") == {}


# ---------------------------------------------------------------- frame size

def padded_request(total_len, id, method, params=None):
    """A JSON-RPC request of exactly total_len bytes (padding in params.pad)."""
    base = {"jsonrpc": "2.0", "id": id, "method": method, "params": dict(params or {}, pad="")}
    n = len(json.dumps(base, separators=(",", ":")))
    base["params"]["pad"] = "x" * (total_len - n)
    text = json.dumps(base, separators=(",", ":"))
    assert len(text.encode()) == total_len
    return text


async def test_frame_over_256k_is_413_and_connection_survives(server):
    c = await connect(server)
    await c.send_raw(padded_request(MAX_FRAME + 1, 1, "join", {"room": unique_room()}))
    r = await c.response(None)
    assert r["error"]["code"] == 413, r
    # it was not parsed: no join happened
    err = await c.error("leave")
    assert err["code"] == 409, err
    await assert_still_usable(c)
    # much larger too
    await c.send_raw("[" + "1," * (400 * 1024) + "1]")
    r = await c.response(None)
    assert r["error"]["code"] == 413, r
    await assert_still_usable(c)


async def test_frame_of_exactly_256k_is_parsed(server):
    c = await connect(server)
    await c.send_raw(padded_request(MAX_FRAME, 77, "no_such_method"))
    r = await c.response(77)
    assert r["error"]["code"] == -32601, r
    room = unique_room()
    await c.send_raw(padded_request(MAX_FRAME, 78, "join", {"room": room}))
    r = await c.response(78)
    assert r["result"]["room"]["id"] == room, r


async def test_fragmented_message_is_reassembled(server):
    c = await connect(server)
    room = unique_room()
    text = json.dumps({"jsonrpc": "2.0", "id": 5, "method": "join", "params": {"room": room}})
    await c.ws.send([text[:10], text[10:20], text[20:]])
    r = await c.response(5)
    assert r["result"]["room"]["id"] == room, r


async def test_fragmented_message_over_256k_is_413(server):
    c = await connect(server)
    text = padded_request(MAX_FRAME + 100, 6, "no_such_method")
    chunks = [text[i:i + 64 * 1024] for i in range(0, len(text), 64 * 1024)]
    assert len(chunks) == 5
    await c.ws.send(chunks)
    r = await c.response(None)
    assert r["error"]["code"] == 413, r
    await assert_still_usable(c)


async def test_binary_frame_does_not_hurt_the_server(server):
    c = await connect(server)
    await c.send_raw(b'{"jsonrpc":"2.0","id":1,"method":"leave"}\xff\x00')
    # unspecified whether it is answered or the socket is closed; either way
    # other sessions and the server carry on
    try:
        await c.next_notification("nothing", timeout=0.3)
    except (AssertionError, ConnectionClosedError):
        pass
    other = await connect(server, name="other")
    await assert_still_usable(other)
    assert server.get("/healthz").status == 200


async def test_half_sent_messages_then_disconnect(server):
    """Partial frames and unfinished fragmented messages, then the socket
    goes away: the server frees what it buffered (ASan builds check) and
    carries on."""
    room = unique_room()
    watcher = await connect(server, "watcher")
    await watcher.call("join", {"room": room})
    # 1: a frame header announcing 200 KB, followed by a few bytes only
    raw = RawWs(server.port)
    raw.call("join", {"room": room})
    mask = b"\x01\x02\x03\x04"
    raw.sock.sendall(struct.pack("!BBQ", 0x81, 0x80 | 127, 200 * 1024) + mask + b"xxxx")
    raw.close_abruptly()
    # 2: the first fragments of a message, never finished
    raw = RawWs(server.port)
    raw.call("join", {"room": room})
    raw.send_frame(0x1, b'{"jsonrpc":"2.0",', fin=False)
    raw.send_frame(0x0, b'"id":1,' * 1000, fin=False)
    raw.close_abruptly(rst=True)
    for _ in range(2):
        n = await watcher.next_notification("participant_left")
        assert n["params"]["reason"] == "left"
    await assert_still_usable(await connect(server))


async def test_invalid_utf8_text_frame_does_not_hurt_others(server):
    raw = RawWs(server.port)
    raw.send_frame(0x1, b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}')
    # RFC 6455 lets the server fail this connection (1007) or answer; either
    # way the server and other sessions carry on
    try:
        raw.sock.settimeout(2)
        raw.recv_frame()
    except (ConnectionClosedError, OSError):
        pass
    raw.close_abruptly()
    await assert_still_usable(await connect(server))
    assert server.get("/healthz").status == 200
