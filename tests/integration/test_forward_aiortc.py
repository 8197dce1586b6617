"""End to end through the forwarding path, with aiortc (a WebRTC stack we did
not write) on both sides: one participant publishes audio + video, others
subscribe through Weir's subscriber offer and decode what Weir forwards.
See aiortc_peer.py for the network namespace these tests run in.
"""
import asyncio

import pytest

from aiortc_peer import IN_NETNS, Subscriber, publish, run_inner_in_netns
from conftest import connect, unique_room

ADMIN_KEY = "forward-test-admin-key"


@pytest.mark.skipif(IN_NETNS, reason="outer driver only")
def test_forward_aiortc_in_netns():
    run_inner_in_netns(__file__)


def _config():
    return {"media": {"ice_bind_addresses": "127.0.0.1"}, "auth": {"admin_key": ADMIN_KEY},
            "server": {"workers": 2}}


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_forward_inner_publisher_to_subscribers(weir):
    srv = weir(_config())
    room = unique_room("fwd")
    pub_client = await connect(srv, name="publisher")
    await pub_client.join(room, display="pub", role="teacher")
    early = await connect(srv, name="early")
    await early.join(room, display="early", role="student")

    pub_pc = await publish(pub_client)
    subs = [Subscriber(early)]
    try:
        # track_published reaches the participant already in the room, then its offer.
        seen = set()
        for _ in range(2):
            n = await early.next_notification("track_published")
            t = n["params"]["track"]
            assert t["participant"] == pub_client.id and not t["muted"], t
            seen.add((t["kind"], t["source"]))
        assert seen == {("audio", "microphone"), ("video", "camera")}, seen
        offer = await subs[0].answer_next_offer()
        assert offer.count("m=") == 2 and "a=sendonly" in offer, offer

        # A late joiner gets the tracks in its join result and an offer right after.
        late = await connect(srv, name="late")
        joined = await late.join(room, display="late", role="observer")
        assert sorted(t["kind"] for t in joined["tracks"]) == ["audio", "video"], joined
        subs.append(Subscriber(late))
        await subs[1].answer_next_offer()

        for s in subs:
            await s.wait_frames("video", 60)
            await s.wait_frames("audio", 100)
            print(f"{s.client.name}: frames {s.frames} sizes {s.sizes}")
            assert (640, 480) in s.sizes, s.sizes

        # The answer method refuses an answer when no offer waits for one.
        err = await late.error("answer", {"sdp": "v=0\r\n"})
        assert err["code"] == 409, err

        # The publisher leaves: the subscribers hear track_unpublished and get a new offer.
        await pub_pc.close()
        await pub_client.call("leave")
        for s in subs:
            gone = {(await s.client.next_notification("track_unpublished"))["params"]["track"]["id"]
                    for _ in range(2)}
            assert len(gone) == 2, gone
            offer = await s.answer_next_offer(first=False)
            assert offer.count("a=inactive") >= 1, offer
        m = srv.metrics()
        assert m.value("weir_media_rtp_packets_sent_total") > 100, m
        print("sent:", m.value("weir_media_rtp_packets_sent_total"))
        await asyncio.get_running_loop().run_in_executor(None, srv.stop_and_check)
    finally:
        for s in subs:
            await s.close()
        await pub_pc.close()


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_forward_inner_publisher_renegotiates(weir):
    """A publisher starts with audio only, then adds video on the same
    connection (a second `publish`): the subscriber is told (track_published),
    gets a new offer, and decodes the new video while audio keeps flowing."""
    from aiortc import RTCSessionDescription
    from aiortc.mediastreams import VideoStreamTrack

    srv = weir(_config())
    room = unique_room("reneg")
    pub_client = await connect(srv, name="publisher")
    await pub_client.join(room, display="pub", role="teacher")
    watcher = await connect(srv, name="watcher")
    await watcher.join(room, display="watcher", role="student")
    pub_pc = await publish(pub_client, video=False)
    sub = Subscriber(watcher)
    try:
        first = (await watcher.next_notification("track_published"))["params"]["track"]
        assert first["kind"] == "audio", first
        await sub.answer_next_offer()
        await sub.wait_frames("audio", 50)

        pub_pc.addTrack(VideoStreamTrack())
        await pub_pc.setLocalDescription(await pub_pc.createOffer())
        result = await pub_client.call("publish", {"sdp": pub_pc.localDescription.sdp})
        assert result["sdp"].count("m=") == 2, result
        own = sorted((t["kind"], t["mid"]) for t in result["tracks"])
        assert own == [("audio", "0"), ("video", "1")], result["tracks"]
        assert first["id"] in [t["id"] for t in result["tracks"]], result["tracks"]
        await pub_pc.setRemoteDescription(RTCSessionDescription(sdp=result["sdp"], type="answer"))
        added = (await watcher.next_notification("track_published"))["params"]["track"]
        assert added["kind"] == "video" and added["id"] != first["id"], added
        offer = await sub.answer_next_offer(first=False)
        assert offer.count("m=") == 2, offer
        await sub.wait_frames("video", 60)
        audio_before = sub.frames["audio"]
        await sub.wait_frames("audio", audio_before + 50)
        print(f"after renegotiation: {sub.frames} sizes {sub.sizes}")
        await asyncio.get_running_loop().run_in_executor(None, srv.stop_and_check)
    finally:
        await sub.close()
        await pub_pc.close()


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_forward_inner_h264(weir):
    """A codec Weir forwards without rewriting its payload: H.264 from aiortc,
    keyframes found from the NAL units, decoded by the subscriber."""
    srv = weir(_config())
    room = unique_room("h264")
    pub_client = await connect(srv, name="publisher")
    await pub_client.join(room, display="pub", role="teacher")
    watcher = await connect(srv, name="watcher")
    await watcher.join(room, display="watcher", role="student")
    pub_pc = await publish(pub_client, audio=False, video_codec="video/H264")
    sub = Subscriber(watcher)
    try:
        offer = await sub.answer_next_offer()
        assert "H264/90000" in offer and "VP8" not in offer, offer
        await sub.wait_frames("video", 60)
        print(f"h264: frames {sub.frames} sizes {sub.sizes}")
    finally:
        await sub.close()
        await pub_pc.close()


async def _stalls(sub, kind, seconds=1.0, slack=3):
    """True when fewer than `slack` frames of kind arrive within `seconds`."""
    before = sub.frames.get(kind, 0)
    await asyncio.sleep(seconds)
    return sub.frames.get(kind, 0) - before < slack


@pytest.mark.skipif(not IN_NETNS, reason="runs inside the network namespace only")
async def test_forward_inner_mute_moderate_subscribe_pause(weir):
    """The control methods act on the media: mute stops forwarding, a teacher's
    mute cannot be undone by the student until publishing is allowed again,
    unsubscribe/subscribe re-offer, and pausing reports layer -1."""
    srv = weir(_config())
    room = unique_room("ctl")
    student = await connect(srv, name="student")
    await student.join(room, display="student", role="student")
    teacher = await connect(srv, name="teacher")
    await teacher.join(room, display="teacher", role="teacher")
    pub_pc = await publish(student)
    sub = Subscriber(teacher)
    try:
        tracks = {}
        for _ in range(2):
            t = (await teacher.next_notification("track_published"))["params"]["track"]
            tracks[t["kind"]] = t["id"]
        await sub.answer_next_offer()
        await sub.wait_frames("video", 30)
        video = tracks["video"]

        # The publisher mutes its video: everyone hears track_muted, frames stop, then resume.
        assert await student.call("mute", {"track": video, "muted": True}) == {}
        n = await teacher.next_notification("track_muted")
        assert n["params"] == {"track": video, "muted": True}, n
        await asyncio.sleep(0.3)
        assert await _stalls(sub, "video"), sub.frames
        assert await student.call("mute", {"track": video, "muted": False}) == {}
        await sub.wait_frames("video", sub.frames["video"] + 20)

        # A teacher's mute holds until publishing is allowed again.
        assert await teacher.call("moderate", {"action": "mute", "participant": student.id,
                                               "track": video}) == {}
        n = await student.next_notification("moderated")
        assert n["params"]["action"] == "mute" and n["params"]["track"] == video, n
        err = await student.error("mute", {"track": video, "muted": False})
        assert err["code"] == 403, err
        assert await teacher.call("moderate", {"action": "allow_publish",
                                               "participant": student.id}) == {}
        assert await student.call("mute", {"track": video, "muted": False}) == {}
        await sub.wait_frames("video", sub.frames["video"] + 20)

        # Pausing: layer_changed -1, no frames; resuming: a layer again.
        first = await teacher.next_notification("layer_changed")  # forwarding started
        assert first["params"]["spatial"] == 0 and first["params"]["temporal"] <= 2, first
        assert await teacher.call("set_preferences", {"track": video, "paused": True}) == {}
        n = await teacher.next_notification("layer_changed")
        assert n["params"]["track"] == video and n["params"]["spatial"] == -1, n
        await asyncio.sleep(0.3)
        assert await _stalls(sub, "video"), sub.frames
        assert await teacher.call("set_preferences", {"track": video, "paused": False}) == {}
        n = await teacher.next_notification("layer_changed")
        assert n["params"]["spatial"] == 0 and 0 <= n["params"]["temporal"] <= 2, n
        await sub.wait_frames("video", sub.frames["video"] + 20)

        # Unsubscribe: a new offer without the video; subscribe: a new m-line carries it again.
        assert await teacher.call("unsubscribe", {"tracks": [video]}) == {}
        offer = await sub.answer_next_offer(first=False)
        assert offer.count("m=") == 2 and video not in offer.split("m=video")[1], offer
        err = await teacher.error("subscribe", {"tracks": ["no-such-track"]})
        assert err["code"] == 404, err
        assert await teacher.call("subscribe", {"tracks": [video]}) == {}
        offer = await sub.answer_next_offer(first=False)
        assert offer.count("m=") == 3, offer
        await sub.wait_frames("video", sub.frames["video"] + 30)
        print(f"control: frames {sub.frames}")
    finally:
        await sub.close()
        await pub_pc.close()
