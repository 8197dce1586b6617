"""Data channels with a third-party SCTP stack: two aiortc participants open
channels on their publisher PCs and talk through the server.

aiortc has its own SCTP and DCEP implementation (it checks every packet's
CRC32c, which Weir's usrsctp computes in software since DTLS makes the check
redundant on input), and it opens channels on the stream parity of its ICE
role rather than its DTLS role, which Weir accepts. What is checked:
  * the answer announces a=sctp-port and a=max-message-size (262144);
  * every channel opens (aiortc needs the server's DCEP ACK for that);
  * whiteboard: one stamped frame per op, to both participants, the sender
    included, with the same seq and the sender's id; text that is not JSON
    is stamped as a JSON string (chat);
  * another label is relayed as is to the other participant only, binary
    staying binary.

Runs inside a private network namespace like the other aiortc tests.
"""
import asyncio
import json
import time

import pytest

from aiortc_peer import (IN_NETNS, add_candidates, collect_candidates, run_inner_in_netns,
                         wait_connected)
from conftest import connect, unique_room

LABELS = ("whiteboard", "chat", "cursor")


@pytest.mark.skipif(IN_NETNS, reason="outer driver only")
def test_sctp_aiortc_in_netns():
    run_inner_in_netns(__file__, timeout=150)


class Peer:
    """One participant: a data-only publisher PC with the three channels (no tracks, so
    no subscriber PC offers and trickles interleave with the publisher's)."""

    def __init__(self, client):
        from aiortc import RTCPeerConnection
        self.client = client
        self.pc = RTCPeerConnection()
        # aiortc 1.4 offers the pre-RFC 8841 "DTLS/SCTP 5000" + a=sctpmap form by
        # default; browsers and Weir use "UDP/DTLS/SCTP webrtc-datachannel".
        self.pc._sctpLegacySdp = False
        self.got = {label: [] for label in LABELS}
        self.channels = {}
        for label in LABELS:
            ch = self.pc.createDataChannel(label)
            ch.on("message", lambda m, label=label: self.got[label].append(m))
            self.channels[label] = ch

    async def publish(self):
        from aiortc import RTCSessionDescription
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = self.pc.localDescription.sdp
        assert "UDP/DTLS/SCTP webrtc-datachannel" in offer, offer
        res = await self.client.call("publish", {"sdp": offer, "tracks": []})
        answer = res["sdp"]
        assert "UDP/DTLS/SCTP webrtc-datachannel" in answer, answer
        assert "a=sctp-port:5000" in answer and "a=max-message-size:262144" in answer, answer
        candidates = await collect_candidates(self.client, "publisher")
        await self.pc.setRemoteDescription(
            RTCSessionDescription(add_candidates(answer, candidates), "answer"))
        await wait_connected(self.pc)

    async def wait_open(self, timeout=15):
        deadline = time.monotonic() + timeout
        while any(ch.readyState != "open" for ch in self.channels.values()):
            states = {label: ch.readyState for label, ch in self.channels.items()}
            assert time.monotonic() < deadline, f"{self.client.name}: channels {states}"
            await asyncio.sleep(0.05)

    async def wait_messages(self, label, n, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.got[label]) < n:
            assert time.monotonic() < deadline, \
                f"{self.client.name}: {label} got {self.got[label]} (wanted {n})"
            await asyncio.sleep(0.05)
        return self.got[label]


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_sctp_aiortc_inner(weir):
    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1"}})
    room = unique_room("dcaiortc")
    ct = await connect(srv, name="teacher")
    await ct.join(room, display="teacher", role="teacher")
    cs = await connect(srv, name="student")
    await cs.join(room, display="student", role="student")
    teacher, student = Peer(ct), Peer(cs)
    try:
        await teacher.publish()
        await student.publish()
        await teacher.wait_open()
        await student.wait_open()

        op = {"op": "line", "x": 12, "y": 34}
        teacher.channels["whiteboard"].send(json.dumps(op))
        frames = [json.loads(m) for m in (await teacher.wait_messages("whiteboard", 1)) +
                  (await student.wait_messages("whiteboard", 1))]
        for f in frames:
            assert f["seq"] == 1 and f["data"] == op and isinstance(f["ts"], int), f
        assert frames[0] == frames[1], frames  # one stamped frame, the same for everyone
        teacher_id = frames[0]["from"]

        student.channels["chat"].send("not json {")
        chats = [json.loads(m) for m in (await teacher.wait_messages("chat", 1)) +
                 (await student.wait_messages("chat", 1))]
        for f in chats:
            assert f["seq"] == 1 and f["data"] == "not json {", f
            assert f["from"] != teacher_id, f

        student.channels["cursor"].send(b"\x00\x01\xfe\xff")
        student.channels["cursor"].send("text stays text")
        relayed = await teacher.wait_messages("cursor", 2)
        assert relayed == [b"\x00\x01\xfe\xff", "text stays text"], relayed
        await asyncio.sleep(0.5)
        assert student.got["cursor"] == [], "a relayed label does not echo to its sender"
        assert teacher.got["whiteboard"] == teacher.got["whiteboard"][:1], "no duplicates"
    finally:
        await teacher.pc.close()
        await student.pc.close()
