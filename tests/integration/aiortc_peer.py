"""aiortc as the third-party WebRTC peer of the end-to-end tests.

aioice gathers every interface address except exactly 127.0.0.1, so these
tests run inside a private network namespace (netns.py). aiortc 1.4.0 does
not trickle: it puts its candidates in its own SDP and needs Weir's in the
SDP it is given, so the helpers collect Weir's trickled candidates first.
"""
import asyncio
import time

from netns import IN_NETNS, NETNS_SETUP  # noqa: F401 (re-exported for the tests)
from netns import run_inner_in_netns as netns_run

def have_aiortc():
    try:
        import aiortc  # noqa: F401
        return True
    except ImportError:
        return False


def run_inner_in_netns(test_file, timeout=240):
    """netns.run_inner_in_netns for tests that need aiortc."""
    netns_run(test_file, timeout, [] if have_aiortc() else ["python3-aiortc"])


def add_candidates(sdp, candidates):
    """Puts candidates (and end-of-candidates) into every m-section of sdp."""
    lines = [f"a={c}" for c in candidates] + ["a=end-of-candidates"]
    head, *media = sdp.split("\r\nm=")
    out = [head]
    for m in media:
        body = m[:-2] if m.endswith("\r\n") else m
        out.append(body + "\r\n" + "\r\n".join(lines))
    return "\r\nm=".join(out) + "\r\n"


async def collect_candidates(client, pc, timeout=5):
    """Weir's trickled candidates for one PC, up to its end-of-candidates (null)."""
    candidates = []
    while True:
        n = await client.next_notification("trickle", timeout=timeout)
        assert n["params"]["pc"] == pc, n
        cand = n["params"]["candidate"]
        if cand is None:
            return candidates
        assert cand["candidate"].startswith("candidate:"), cand
        candidates.append(cand["candidate"])


async def wait_connected(pc, timeout=10):
    deadline = time.monotonic() + timeout
    while pc.connectionState != "connected":
        assert pc.connectionState not in ("failed", "closed"), pc.connectionState
        assert time.monotonic() < deadline, f"aiortc state {pc.connectionState}"
        await asyncio.sleep(0.05)


async def publish(client, audio=True, video=True, video_codec=None):
    """Publishes aiortc's synthetic tracks (video_codec: e.g. "video/H264" to
    offer only that codec); returns the connected RTCPeerConnection."""
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.codecs import get_capabilities
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    pc = RTCPeerConnection()
    tracks = []
    if audio:
        pc.addTrack(AudioStreamTrack())
        tracks.append({"mid": str(len(tracks)), "source": "microphone"})
    if video:
        pc.addTrack(VideoStreamTrack())
        tracks.append({"mid": str(len(tracks)), "source": "camera"})
        if video_codec:
            prefs = [c for c in get_capabilities("video").codecs
                     if c.mimeType in (video_codec, "video/rtx")]
            pc.getTransceivers()[-1].setCodecPreferences(prefs)
    await pc.setLocalDescription(await pc.createOffer())
    result = await client.call("publish", {"sdp": pc.localDescription.sdp, "tracks": tracks})
    candidates = await collect_candidates(client, "publisher")
    await client.call("trickle", {"pc": "publisher", "candidate": None})
    await pc.setRemoteDescription(RTCSessionDescription(
        sdp=add_candidates(result["sdp"], candidates), type="answer"))
    await wait_connected(pc)
    pc.weir_candidates = candidates  # for tests that aim at the server's media port
    return pc


class Subscriber:
    """aiortc on the receiving side: answers Weir's offers and decodes what arrives."""

    def __init__(self, client):
        from aiortc import RTCPeerConnection
        self.client = client
        self.pc = RTCPeerConnection()
        self.frames = {}  # kind -> decoded frames
        self.sizes = set()
        self.tasks = []
        self.server_candidates = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track):
        self.tasks.append(asyncio.ensure_future(self._drain(track)))

    async def _drain(self, track):
        from aiortc.mediastreams import MediaStreamError
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            self.frames[track.kind] = self.frames.get(track.kind, 0) + 1
            if track.kind == "video":
                self.sizes.add((frame.width, frame.height))

    async def answer_next_offer(self, first=True, timeout=10):
        """Answers the next `offer`; the first one also needs Weir's candidates."""
        from aiortc import RTCSessionDescription
        n = await self.client.next_notification("offer", timeout=timeout)
        sdp = n["params"]["sdp"]
        if first:
            self.server_candidates = await collect_candidates(self.client, "subscriber")
            sdp = add_candidates(sdp, self.server_candidates)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        assert await self.client.call("answer", {"sdp": self.pc.localDescription.sdp}) == {}
        return n["params"]["sdp"]

    async def wait_frames(self, kind, count, timeout=15):
        deadline = time.monotonic() + timeout
        while self.frames.get(kind, 0) < count:
            assert time.monotonic() < deadline, \
                f"{self.client.name}: {self.frames} frames after {timeout} s (wanted {count} {kind})"
            await asyncio.sleep(0.1)

    async def close(self):
        for t in self.tasks:
            t.cancel()
        await self.pc.close()


def host_port(sdp_or_candidates, address):
    """The port of the first UDP host candidate on address, from SDP text or candidate strings."""
    lines = sdp_or_candidates.split("\r\n") if isinstance(sdp_or_candidates, str) \
        else sdp_or_candidates
    for line in lines:
        parts = line.split()
        if len(parts) > 7 and "candidate:" in parts[0] and parts[2].lower() == "udp" \
                and parts[4] == address and parts[7] == "host":
            return int(parts[5])
    raise AssertionError(f"no UDP host candidate on {address} in {lines}")
