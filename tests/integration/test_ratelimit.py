"""Per-connection rate limiting (429) and disconnection of abusive sockets.

Limits are made small through the config: 5 requests/s, burst 5, and
disconnection after 20 rejected messages in a row.

A note on timing: the server closes the TCP connection right after its close
frame. If the client is still writing then, its kernel receives a RST and may
throw away the server's last frames (`bye`, the close frame) before the
client reads them. So the tests that check *exactly* what the abuser receives
send their last messages one at a time, and the true-flood test checks what
must hold whatever the abuser's socket does.
"""

import asyncio
import json


from conftest import ConnectionClosedError, connect, joined, unique_room

RATE, BURST, ABUSE_AFTER = 5, 5, 20
LIMITS = {"signalling": {"rate_limit_per_sec": RATE, "rate_limit_burst": BURST,
                         "abuse_disconnect_after": ABUSE_AFTER}}

# a request that changes nothing: validated, allowed for students, then 409 (no offer yet)
HARMLESS_PARAMS = {"pc": "subscriber", "candidate": None}


def harmless(id):
    return json.dumps({"jsonrpc": "2.0", "id": id, "method": "trickle", "params": HARMLESS_PARAMS})


async def flood(client, n, start_id):
    """Sends n requests back to back without reading; returns the ids sent."""
    ids = list(range(start_id, start_id + n))
    try:
        for i in ids:
            await client.send_raw(harmless(i))
    except Exception:  # the server may close the socket mid-flood
        pass
    return ids


async def collect(client, ids, timeout=5):
    """{id: error code or "ok"} for ids, in id order; stops early if the socket closes."""
    codes = {}
    for i in ids:
        try:
            r = await client.response(i, timeout=timeout)
        except ConnectionClosedError:
            break
        codes[i] = r["error"]["code"] if "error" in r else "ok"
    return codes


def trailing_run(values, code):
    n = 0
    for v in reversed(values):
        if v != code:
            break
        n += 1
    return n


async def test_flood_gets_429_then_recovers(weir):
    srv = weir(LIMITS)
    c = await joined(srv, unique_room(), "flooder")
    ids = await flood(c, 12, 100)  # the join took a token; the tail is over the limit
    values = list((await collect(c, ids)).values())
    assert len(values) == 12, values
    assert set(values) <= {409, 429}, values
    assert values[0] == 409, values  # the bucket started with tokens
    assert 429 in values, values
    assert values.count(409) <= BURST + 2, values  # burst, plus a refill or two meanwhile
    # 429s are not executed: nothing else arrived
    await c.no_notification("bye", timeout=0.1)
    # after a second the bucket has refilled: answers are normal again
    await asyncio.sleep(1.1)
    for _ in range(3):
        err = await c.error("trickle", HARMLESS_PARAMS)
        assert err["code"] == 409, err


async def test_abuse_disconnect_after_n_rejections_in_a_row(weir):
    srv = weir(LIMITS)
    c = await joined(srv, unique_room(), "abuser")
    # most of the way there in one burst (not enough to be disconnected) ...
    ids = await flood(c, ABUSE_AFTER, 1000)
    values = list((await collect(c, ids)).values())
    assert len(values) == ABUSE_AFTER, values
    assert 429 in values, values
    assert not c.closed
    # ... then one at a time, reading each answer, until the server has had enough
    next_id = 2000
    while True:
        assert trailing_run(values, 429) < ABUSE_AFTER, values
        await c.send_raw(harmless(next_id))
        r = await c.response(next_id)
        values.append(r["error"]["code"])
        next_id += 1
        if trailing_run(values, 429) == ABUSE_AFTER:
            break
        assert next_id < 2000 + 4 * ABUSE_AFTER, values
    bye = await c.next_notification("bye")
    assert bye["params"]["reason"] == "abuse", bye
    assert await c.wait_closed() == 1008


async def test_garbage_disconnects_after_exactly_n(weir):
    srv = weir(LIMITS)
    victim = await joined(srv, unique_room(), "victim")
    c = await connect(srv, "garbage")
    for _ in range(ABUSE_AFTER - 1):
        await c.send_raw("{garbage")
    for _ in range(ABUSE_AFTER - 1):
        assert (await c.response(None))["error"]["code"] == -32700
    await c.no_notification("bye", timeout=0.2)
    assert not c.closed
    await c.send_raw("{garbage")
    assert (await c.response(None))["error"]["code"] == -32700
    bye = await c.next_notification("bye")
    assert bye["params"]["reason"] == "abuse", bye
    assert await c.wait_closed() == 1008
    # nobody else noticed
    err = await victim.error("trickle", {"pc": "subscriber", "candidate": None})
    assert err["code"] == 409, err


async def test_abuser_is_disconnected_and_room_is_unaffected(weir):
    srv = weir(LIMITS)
    room = unique_room()
    victim = await joined(srv, room, "victim")
    abuser = await joined(srv, room, "abuser")
    await victim.next_notification("participant_joined")

    await flood(abuser, 200, 1000)
    try:
        await abuser.wait_closed()
    except ConnectionClosedError:
        pass
    assert abuser.closed
    # whatever the abuser read before the end was 501s and 429s
    assert {r["error"]["code"] for r in abuser.responses} <= {409, 429}, abuser.responses
    for n in abuser.notifications:
        assert n["method"] == "bye" and n["params"]["reason"] == "abuse", n

    n = await victim.next_notification("participant_left")
    assert n["params"]["participant"]["id"] == abuser.id, n
    # the other participant is unaffected: its own bucket is full
    for _ in range(3):
        err = await victim.error("trickle", {"pc": "subscriber", "candidate": None})
        assert err["code"] == 409, err
    assert await victim.call("leave") == {}
    # and the server still takes new sessions
    late = await joined(srv, room, "late")
    assert late.participant["id"]


async def test_flooding_client_receives_bye(weir):
    srv = weir(LIMITS)
    c = await joined(srv, unique_room(), "abuser")
    await flood(c, 200, 1000)
    bye = await c.next_notification("bye")
    assert bye["params"]["reason"] == "abuse", bye
    assert await c.wait_closed() == 1008


async def test_accepted_message_resets_the_abuse_streak(weir):
    # many invalid messages in total, never abuse_disconnect_after in a row
    srv = weir({"signalling": {"rate_limit_per_sec": 1000, "rate_limit_burst": 1000,
                               "abuse_disconnect_after": 5}})
    room = unique_room()
    c = await joined(srv, room, "sloppy")
    for _ in range(6):
        for _ in range(4):
            await c.send_raw("{garbage")
            assert (await c.response(None))["error"]["code"] == -32700
        assert await c.call("leave") == {}
        await c.call("join", {"room": room})
    await c.no_notification("bye", timeout=0.1)
    assert not c.closed
    # five in a row does close it
    for _ in range(5):
        await c.send_raw("{garbage")
    bye = await c.next_notification("bye")
    assert bye["params"]["reason"] == "abuse"
