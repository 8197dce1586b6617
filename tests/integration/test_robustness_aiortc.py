"""Robustness of the media path with real peers (aiortc, see aiortc_peer.py):
garbage injected into live ICE paths and a subscriber killed with SIGKILL
must crash nothing and leave every other session undisturbed."""
import asyncio
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from aiortc_peer import IN_NETNS, Subscriber, host_port, publish, run_inner_in_netns
from conftest import connect, unique_room
from spoof import Spoofer, garbage

ADMIN_KEY = "robustness-admin-key"
HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.mark.skipif(IN_NETNS, reason="outer driver only")
def test_robustness_aiortc_in_netns():
    run_inner_in_netns(__file__)


def _spawn(url, room, name, mode):
    return subprocess.Popen([sys.executable, os.path.join(HERE, "aiortc_proc.py"), url, room,
                             name, mode], stdout=subprocess.PIPE, text=True, cwd=HERE)


def _participants(srv, room):
    r = srv.http("GET", f"/api/rooms/{room}/participants", key=ADMIN_KEY)
    assert r.status == 200, r
    return {p["id"]: p for p in r.json()["participants"]}


async def _frames_grow(sub, kind, by, timeout=10):
    start = sub.frames.get(kind, 0)
    await sub.wait_frames(kind, start + by, timeout=timeout)


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_robustness_inner_garbage_and_kill(weir):
    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1"}, "auth": {"admin_key": ADMIN_KEY},
                "server": {"workers": 2}})
    room = unique_room("robust")
    pub_client = await connect(srv, name="publisher")
    await pub_client.join(room, display="pub", role="teacher")
    pub_pc = await publish(pub_client)
    watcher = await connect(srv, name="watcher")
    await watcher.join(room, display="watcher", role="student")
    sub = Subscriber(watcher)
    victim = None
    try:
        await sub.answer_next_offer()
        await sub.wait_frames("video", 30)

        # Garbage into both live ICE paths, from the peers' own addresses.
        rng = random.Random(20261125)
        spoofer = Spoofer()
        paths = [
            (host_port(pub_pc.localDescription.sdp, "127.0.0.2"),
             host_port(pub_pc.weir_candidates, "127.0.0.1")),
            (host_port(sub.pc.localDescription.sdp, "127.0.0.2"),
             host_port(sub.server_candidates, "127.0.0.1")),
        ]
        before = srv.metrics()
        sent = 0
        for _ in range(int(os.environ.get('SPRAY_ROUNDS', '10'))):
            for sport, dport in paths:
                for payload in garbage(rng, 150):
                    spoofer.send("127.0.0.2", sport, "127.0.0.1", dport, payload)
                    sent += 1
            await asyncio.sleep(0.05)
        spoofer.close()
        await _frames_grow(sub, "video", 30)
        await _frames_grow(sub, "audio", 50)
        after = srv.metrics()
        drops = sum(v for k, v in after.items() if k[0] == "weir_peer_drops_total") - \
            sum(v for k, v in before.items() if k[0] == "weir_peer_drops_total")
        print(f"garbage: {sent} datagrams sent, publisher drops counted {drops}")
        assert drops > 0 or os.environ.get("SPRAY_ROUNDS"), "no garbage reached the publisher peer"
        state = _participants(srv, room)
        assert state[pub_client.id]["publisher"]["state"] == "connected", state
        assert state[watcher.id]["subscriber"]["state"] == "connected", state

        # A subscriber in its own process, killed with SIGKILL mid-stream.
        url = f"ws://127.0.0.1:{srv.port}/ws"
        victim = _spawn(url, room, "victim", "subscribe")
        # Read its output off the event loop: the publisher (aiortc) runs on this loop.
        loop = asyncio.get_running_loop()
        victim_id = (await loop.run_in_executor(None, victim.stdout.readline)).split()[1]
        deadline = time.monotonic() + 15
        while True:
            line = await loop.run_in_executor(None, victim.stdout.readline)
            assert line, "victim exited early"
            if line.startswith("frames") and int(line.split()[1]) >= 30:
                break
            assert time.monotonic() < deadline, f"victim got no video: {line}"
        assert victim_id in _participants(srv, room)
        victim.send_signal(signal.SIGKILL)
        victim.wait(5)
        left = await watcher.next_notification("participant_left", timeout=10)
        assert left["params"]["participant"]["id"] == victim_id, left
        await _frames_grow(sub, "video", 30)
        assert victim_id not in _participants(srv, room)
        print(f"after kill: watcher frames {sub.frames}")
        await asyncio.get_running_loop().run_in_executor(None, srv.stop_and_check)
    finally:
        if victim and victim.poll() is None:
            victim.kill()
        await sub.close()
        await pub_pc.close()


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_robustness_inner_frozen_publisher_times_out(weir):
    """A publisher whose media goes silent while its WebSocket stays open (the
    process is frozen with SIGSTOP) is removed with participant_left
    reason "timeout" after ice_consent_timeout_s + peer_timeout_s."""
    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1", "ice_consent_timeout_s": 1,
                          "peer_timeout_s": 2},
                "auth": {"admin_key": ADMIN_KEY}})
    room = unique_room("frozen")
    watcher = await connect(srv, name="watcher")
    await watcher.join(room, display="watcher", role="student")
    frozen = _spawn(f"ws://127.0.0.1:{srv.port}/ws", room, "frozen", "publish")
    loop = asyncio.get_running_loop()
    try:
        frozen_id = (await loop.run_in_executor(None, frozen.stdout.readline)).split()[1]
        assert (await loop.run_in_executor(None, frozen.stdout.readline)).strip() == "publishing"
        deadline = time.monotonic() + 10
        while _participants(srv, room)[frozen_id].get("publisher", {}).get("state") != "connected":
            assert time.monotonic() < deadline, _participants(srv, room)
            await asyncio.sleep(0.1)
        frozen.send_signal(signal.SIGSTOP)
        stopped_at = time.monotonic()
        left = await watcher.next_notification("participant_left", timeout=15)
        waited = time.monotonic() - stopped_at
        assert left["params"]["participant"]["id"] == frozen_id, left
        assert left["params"]["reason"] == "timeout", left
        assert 2.0 <= waited <= 10.0, waited
        print(f"frozen publisher removed after {waited:.1f} s")
        gone = await watcher.next_notification("track_unpublished", timeout=5)
        assert gone["params"]["track"]["id"], gone
    finally:
        frozen.send_signal(signal.SIGCONT)
        frozen.kill()
        frozen.wait(5)
