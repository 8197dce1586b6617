"""Data channels end to end with aiortc (a third-party SCTP/DCEP stack):
the control thread's stamping, history, roles and relay as a client sees
them (docs/protocol.md, "Data channels").

Checked, each against real frames received by aiortc:
  * teacher and two students draw at once: all receive the identical
    stamped sequence (seq 1..N, from, data), their own ops included;
  * a student's clear is refused with a 403 error frame on its channel,
    binary on the whiteboard with 415, a stamp over max_message_size with 413;
  * a late joiner receives the history first, in order, then live ops with
    no gap and no duplicate;
  * a teacher's clear reaches everyone and the next joiner gets nothing
    from before it;
  * chat keeps only [data] chat_history messages for late joiners;
  * another label is relayed as is (binary stays binary) to the others only;
  * an observer opens a data-channel-only publisher PC, receives the board
    and its op is refused with 403 (an offer with media is refused to it);
  * SIGKILL, restart on the same data_dir: a new client gets the same
    history (same frames, same seqs), and the next seq continues after it;
  * an unusable data_dir: the server starts and logs one error.

Runs inside a private network namespace like the other aiortc tests
(aiortc_peer.py); needs root and Debian's python3-aiortc.
"""
import asyncio
import json
import signal
import time

import pytest

from aiortc_peer import (IN_NETNS, add_candidates, collect_candidates, run_inner_in_netns,
                         wait_connected)
from conftest import connect, unique_room

CHAT_CAP = 5
MAX_MESSAGE = 100000  # [data] max_message_size, announced in the answer


@pytest.mark.skipif(IN_NETNS, reason="outer driver only")
def test_datachannel_aiortc_in_netns(monkeypatch):
    # aiortc's SCTP is pure Python: on a loaded 2-core machine the main scenario can take
    # longer than the default 30 s per async test.
    monkeypatch.setenv("WEIR_TEST_TIMEOUT_S", "90")
    run_inner_in_netns(__file__, timeout=300)


def follow_rfc8832_stream_parity():
    """aiortc 1.4 picks its stream ids from the ICE role (controlling: odd), but RFC 8832
    §6 ties them to the DTLS role (the DTLS client uses even ids). aiortc's `is_server`
    decides both the parity (server: even) and who sends INIT (the client; Weir sends one
    either way): derive it from the DTLS role instead, as the RFC does, so these tests do
    not depend on Weir tolerating the wrong parity."""
    from aiortc.rtcsctptransport import RTCSctpTransport
    RTCSctpTransport.is_server = property(lambda self: self.transport._role == "client")


class Member:
    """One participant: a signalling client and an aiortc publisher PC with channels."""

    def __init__(self, srv, client, name):
        self.srv = srv
        self.client = client
        self.name = name
        self.pc = None
        self.channels = {}
        self.inbox = {}

    async def open(self, labels):
        from aiortc import RTCPeerConnection, RTCSessionDescription
        self.pc = RTCPeerConnection()
        # aiortc 1.4 offers the pre-RFC 8841 form ("DTLS/SCTP 5000" + a=sctpmap) until it has
        # seen the other one; Weir, like browsers, takes RFC 8841's "UDP/DTLS/SCTP
        # webrtc-datachannel" + a=sctp-port. This flag is what aiortc itself flips then.
        self.pc._sctpLegacySdp = False
        for label in labels:
            ch = self.pc.createDataChannel(label)
            q = asyncio.Queue()
            ch.on("message", lambda m, q=q: q.put_nowait(m))
            self.channels[label] = ch
            self.inbox[label] = q
        await self.pc.setLocalDescription(await self.pc.createOffer())
        result = await self.client.call("publish", {"sdp": self.pc.localDescription.sdp,
                                                    "tracks": []})
        assert "m=application" in result["sdp"] and "webrtc-datachannel" in result["sdp"], \
            result["sdp"]
        assert f"a=max-message-size:{MAX_MESSAGE}\r\n" in result["sdp"], result["sdp"]
        candidates = await collect_candidates(self.client, "publisher")
        await self.client.call("trickle", {"pc": "publisher", "candidate": None})
        await self.pc.setRemoteDescription(RTCSessionDescription(
            sdp=add_candidates(result["sdp"], candidates), type="answer"))
        await wait_connected(self.pc)
        deadline = time.monotonic() + 10
        while any(ch.readyState != "open" for ch in self.channels.values()):
            assert time.monotonic() < deadline, \
                (f"{self.name}: channels {[c.readyState for c in self.channels.values()]}\n"
                 + self.srv.stderr_text()[-6000:])
            await asyncio.sleep(0.02)

    def send(self, label, data):
        self.channels[label].send(data)

    async def recv(self, label, timeout=10):
        return await asyncio.wait_for(self.inbox[label].get(), timeout)

    async def frames(self, label, count, timeout=20):
        """The next `count` frames on label, parsed (stamped messages and errors alike)."""
        out = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            left = deadline - time.monotonic()
            assert left > 0, f"{self.name}/{label}: {len(out)} of {count} frames: {out[-3:]}"
            m = await self.recv(label, timeout=left)
            assert isinstance(m, str), f"{self.name}/{label}: binary frame {m!r}"
            out.append(json.loads(m))
        return out

    async def nothing(self, label, wait=0.5):
        """Nothing more arrives on label within `wait` seconds."""
        try:
            m = await asyncio.wait_for(self.inbox[label].get(), wait)
        except asyncio.TimeoutError:
            return
        raise AssertionError(f"{self.name}/{label}: unexpected frame {m!r}")

    async def close(self):
        if self.pc:
            await self.pc.close()
        await self.client.close()


async def member(srv, room, name, role, labels=("whiteboard",)):
    c = await connect(srv, name=name)
    await c.join(room, display=name, role=role)
    m = Member(srv, c, name)
    await m.open(labels)
    return m


def op(n, who):
    return json.dumps({"op": "line", "n": n, "who": who})


def stamped_view(frames):
    return [(f["seq"], f["from"], f["data"]) for f in frames]


def server_config(data_dir):
    return {"media": {"ice_bind_addresses": "127.0.0.1"},
            "server": {"data_dir": data_dir},
            "data": {"chat_history": CHAT_CAP, "flood_messages_per_s": 2000,
                     "max_message_size": MAX_MESSAGE}}


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_datachannel_inner(weir, tmp_path):
    follow_rfc8832_stream_parity()
    srv = weir(server_config(str(tmp_path / "data")))
    room = unique_room("dcaio")
    labels = ("whiteboard", "chat", "cursor")
    teacher = await member(srv, room, "teacher", "teacher", labels)
    student = await member(srv, room, "student", "student", labels)
    other = await member(srv, room, "other", "student", labels)
    everyone = [teacher, student, other]
    try:
        # -- one total order, own ops included
        for i in range(20):
            teacher.send("whiteboard", op(i, "t"))
            student.send("whiteboard", op(i, "s"))
        seen = [await m.frames("whiteboard", 40) for m in everyone]
        assert [f["seq"] for f in seen[0]] == list(range(1, 41))
        assert stamped_view(seen[1]) == stamped_view(seen[0])
        assert stamped_view(seen[2]) == stamped_view(seen[0])
        by = {teacher.client.id: "t", student.client.id: "s"}
        for who in ("t", "s"):
            ns = [f["data"]["n"] for f in seen[0] if by[f["from"]] == who]
            assert ns == list(range(20)), f"{who}'s ops out of order: {ns}"
        assert all(isinstance(f["ts"], int) and f["ts"] > 1.7e12 for f in seen[0])

        # -- refusals: error frames to the sender only, nothing stamped
        student.send("whiteboard", json.dumps({"op": "clear"}))
        student.send("whiteboard", b"\x00\x01binary")
        # under the limit as sent, over it once escaped into a JSON string and stamped
        student.send("whiteboard", '"' * 60000)
        errors = await student.frames("whiteboard", 3)
        assert [e["error"]["code"] for e in errors] == [403, 415, 413], errors
        await teacher.nothing("whiteboard")
        await other.nothing("whiteboard", wait=0.1)

        # -- a late joiner: history, then live, no gap, no duplicate
        late = await member(srv, room, "late", "student")
        teacher.send("whiteboard", op(100, "t"))
        got = await late.frames("whiteboard", 41)
        assert stamped_view(got[:40]) == stamped_view(seen[0]), "history differs"
        assert got[40]["seq"] == 41 and got[40]["data"]["n"] == 100
        for m in everyone:
            assert (await m.frames("whiteboard", 1))[0]["seq"] == 41

        # -- the teacher's clear
        teacher.send("whiteboard", json.dumps({"op": "clear"}))
        for m in everyone + [late]:
            f = (await m.frames("whiteboard", 1))[0]
            assert f["seq"] == 42 and f["data"] == {"op": "clear"}, f
        student.send("whiteboard", "plain text, not JSON")
        for m in everyone + [late]:
            f = (await m.frames("whiteboard", 1))[0]
            assert f["seq"] == 43 and f["data"] == "plain text, not JSON", f
        after_clear = await member(srv, room, "after-clear", "student")
        got = await after_clear.frames("whiteboard", 1)
        assert got[0]["seq"] == 43, f"history before the clear was replayed: {got}"
        await after_clear.nothing("whiteboard")

        # -- chat: capped history for late joiners
        for i in range(CHAT_CAP + 3):
            student.send("chat", f"message {i}")
        chat = await teacher.frames("chat", CHAT_CAP + 3)
        assert [f["seq"] for f in chat] == list(range(1, CHAT_CAP + 4))
        chat_late = await member(srv, room, "chat-late", "student", ("chat",))
        got = await chat_late.frames("chat", CHAT_CAP)
        assert stamped_view(got) == stamped_view(chat[-CHAT_CAP:])
        await chat_late.nothing("chat")

        # -- another label: relayed raw to the others only
        student.send("cursor", b"\x00\xffraw")
        student.send("cursor", "not stamped")
        for m in (teacher, other):
            assert await m.recv("cursor") == b"\x00\xffraw"
            assert await m.recv("cursor") == "not stamped"
        await student.nothing("cursor")

        # the counters saw it
        metrics = srv.get("/metrics").text
        assert 'weir_dc_messages_refused_total{reason="role"} 1' in metrics, metrics
        assert 'weir_dc_messages_refused_total{reason="binary"} 1' in metrics
        assert 'weir_dc_messages_refused_total{reason="too_big"} 1' in metrics

        for m in (late, after_clear, chat_late):
            await m.close()
    finally:
        for m in everyone:
            await m.close()


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_datachannel_observer_inner(weir, tmp_path):
    """An observer opens a data-channel-only publisher PC (audio/video it may not send):
    it receives the whiteboard, and its own op is refused with 403."""
    follow_rfc8832_stream_parity()
    srv = weir(server_config(str(tmp_path / "data")))
    room = unique_room("dcobs")
    teacher = await member(srv, room, "teacher", "teacher")
    observer = None
    try:
        # an offer with media is still refused to an observer
        from aiortc import RTCPeerConnection
        from aiortc.mediastreams import AudioStreamTrack
        probe = RTCPeerConnection()
        probe.addTrack(AudioStreamTrack())
        await probe.setLocalDescription(await probe.createOffer())
        c = await connect(srv, name="observer-media")
        await c.join(room, display="observer-media", role="observer")
        err = await c.error("publish", {"sdp": probe.localDescription.sdp})
        assert err["code"] == 403, err
        await probe.close()
        await c.close()
        observer = await member(srv, room, "observer", "observer")
        teacher.send("whiteboard", op(1, "t"))
        assert (await observer.frames("whiteboard", 1))[0]["seq"] == 1
        observer.send("whiteboard", op(2, "o"))
        assert (await observer.frames("whiteboard", 1))[0]["error"]["code"] == 403
        await teacher.frames("whiteboard", 1)  # its own op
        await teacher.nothing("whiteboard")
    finally:
        if observer:
            await observer.close()
        await teacher.close()


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_datachannel_restart_inner(weir, tmp_path):
    """SIGKILL, restart on the same data_dir: the same history frames, same seqs,
    and the next seq continues after the last one stored."""
    follow_rfc8832_stream_parity()
    data_dir = str(tmp_path / "data")
    srv = weir(server_config(data_dir))
    room = unique_room("dckill")
    teacher = await member(srv, room, "teacher", "teacher", ("whiteboard", "chat"))
    try:
        for i in range(5):
            teacher.send("whiteboard", op(i, "t"))
        teacher.send("whiteboard", json.dumps({"op": "clear"}))
        for i in range(5, 12):
            teacher.send("whiteboard", op(i, "t"))
        for i in range(CHAT_CAP + 2):
            teacher.send("chat", f"chat {i}")
        board = await teacher.frames("whiteboard", 13)
        chat = await teacher.frames("chat", CHAT_CAP + 2)
    finally:
        await teacher.close()
    assert [f["seq"] for f in board] == list(range(1, 14))
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    srv.checked = True  # killed on purpose: the fixture must not expect exit 0

    srv2 = weir(server_config(data_dir))
    again = await member(srv2, room, "again", "teacher", ("whiteboard", "chat"))
    try:
        got = await again.frames("whiteboard", 7)
        assert got == board[6:], "history after the clear, as it was delivered live"
        assert stamped_view(await again.frames("chat", CHAT_CAP)) == stamped_view(chat[-CHAT_CAP:])
        await again.nothing("whiteboard", wait=0.2)
        again.send("whiteboard", op(99, "again"))
        f = (await again.frames("whiteboard", 1))[0]
        assert f["seq"] == 14 and f["from"] == again.client.id, f
    finally:
        await again.close()
    srv2.stop_and_check()


@pytest.mark.skipif(IN_NETNS, reason="outer run only")
def test_unusable_history_dir_is_one_error(weir, tmp_path):
    """A data_dir that cannot be created: the server starts anyway and says so once."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    srv = weir({"server": {"data_dir": str(blocker / "data")}})
    assert srv.get("/healthz").status == 200
    lines = [l for l in srv.stderr_text().splitlines() if "history_dir_unusable" in l]
    assert len(lines) == 1 and " error " in lines[0], srv.stderr_text()[-3000:]
    srv.stop_and_check()
