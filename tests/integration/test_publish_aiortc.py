"""End to end: an aiortc client publishes audio + video; Weir answers, ICE
(libnice) connects, DTLS-SRTP completes and the server decrypts and routes
the client's RTP (seen through the admin API's participant listing).

aioice gathers every interface address except exactly 127.0.0.1, so the
test re-executes itself inside a private network namespace (`unshare -n`)
whose only addresses are loopback ones (127.0.0.1 for Weir, 127.0.0.2 for
aiortc). Nothing is ever sent outside 127.0.0.0/8. Needs root (CI runs as
root) and Debian's python3-aiortc.
"""
import asyncio
import time

import pytest

from aiortc_peer import IN_NETNS, add_candidates as _add_candidates, run_inner_in_netns
from conftest import connect, unique_room

ADMIN_KEY = "publish-test-admin-key"


@pytest.mark.skipif(IN_NETNS, reason="outer driver only")
def test_publish_aiortc_in_netns():
    run_inner_in_netns(__file__, timeout=120)


async def _participant(srv, room, pid):
    r = srv.http("GET", f"/api/rooms/{room}/participants", key=ADMIN_KEY)
    assert r.status == 200, r
    for p in r.json()["participants"]:
        if p["id"] == pid:
            return p
    raise AssertionError(f"participant {pid} not listed: {r.json()}")


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_publish_inner(weir):
    from aiortc import RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1"},
                "auth": {"admin_key": ADMIN_KEY}})
    room = unique_room("pub")
    c = await connect(srv, name="publisher")
    await c.join(room, display="pub", role="teacher")

    # Refused offers: -32602 with a reason.
    err = await c.error("publish", {"sdp": "v=0\r\n"})
    assert err["code"] == -32602 and len(err["message"]) > 10, err

    pc = RTCPeerConnection()
    try:
        pc.addTrack(AudioStreamTrack())
        pc.addTrack(VideoStreamTrack())
        await pc.setLocalDescription(await pc.createOffer())
        offer = pc.localDescription.sdp

        no_fp = "\r\n".join(l for l in offer.split("\r\n") if not l.startswith("a=fingerprint"))
        err = await c.error("publish", {"sdp": no_fp})
        assert err["code"] == -32602 and "fingerprint" in err["message"].lower(), err

        err = await c.error("publish", {"sdp": offer,
                                        "tracks": [{"mid": "nope", "source": "camera"}]})
        assert err["code"] == -32602 and "nope" in err["message"], err
        err = await c.error("trickle", {"pc": "publisher", "candidate": None})
        assert err["code"] == 409, err  # publish first

        result = await c.call("publish", {"sdp": offer, "tracks": [
            {"mid": "0", "source": "microphone"}, {"mid": "1", "source": "camera"}]})
        answer = result["sdp"]
        assert "a=ice-ufrag:" in answer and "a=fingerprint:sha-256" in answer, answer

        # The server trickles its candidates, then null (gathering done).
        candidates = []
        while True:
            n = await c.next_notification("trickle", timeout=5)
            assert n["params"]["pc"] == "publisher", n
            cand = n["params"]["candidate"]
            if cand is None:
                break
            assert cand["candidate"].startswith("candidate:"), cand
            assert " 127.0.0.1 " in cand["candidate"], cand
            assert cand["sdpMid"] == "0" and cand["sdpMLineIndex"] == 0, cand
            candidates.append(cand["candidate"])
        assert candidates, "no local candidate trickled"

        # Publishing the same offer again renegotiates: same ICE credentials, same tracks.
        again = await c.call("publish", {"sdp": offer})
        ufrag = [l for l in answer.split("\r\n") if l.startswith("a=ice-ufrag:")][0]
        assert ufrag in again["sdp"], again
        # aiortc put all its candidates in the offer: say so, as a trickling client would.
        assert await c.call("trickle", {"pc": "publisher", "candidate": None}) == {}

        await pc.setRemoteDescription(RTCSessionDescription(sdp=_add_candidates(answer, candidates),
                                                            type="answer"))
        deadline = time.monotonic() + 10
        while pc.connectionState != "connected":
            assert pc.connectionState not in ("failed", "closed"), pc.connectionState
            assert time.monotonic() < deadline, f"aiortc state {pc.connectionState}"
            await asyncio.sleep(0.1)

        pub = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pub = (await _participant(srv, room, c.id)).get("publisher")
            if (pub and pub["state"] == "connected" and pub.get("srtp_profile")
                    and pub["streams"] >= 2 and pub["packets"] > 50):
                break
            await asyncio.sleep(0.25)
        assert pub and pub["state"] == "connected", pub
        assert pub.get("srtp_profile"), pub
        assert pub["streams"] >= 2, pub
        assert pub["packets"] > 50, pub
        first = pub["packets"]
        await asyncio.sleep(1.0)
        pub = (await _participant(srv, room, c.id))["publisher"]
        assert pub["packets"] > first, pub
        print(f"publisher: {pub}")

        m = srv.metrics()
        assert m.value("weir_media_rtp_packets_received_total") > 50
        print("drops:", {dict(k[1])["reason"]: v for k, v in m.items()
                         if k[0] == "weir_peer_drops_total" and v})

        # Shutting down with a live publisher connection is clean (exit 0, no sanitizer report).
        await asyncio.get_running_loop().run_in_executor(None, srv.stop_and_check)
    finally:
        await pc.close()
