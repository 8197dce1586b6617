"""End to end with weir-client, our headless C peer (tools/weir-client): one
simulcast publisher, several subscribers that decode every frame and check
its painted frame number, send time and the audio tone. Everything stays on
127.0.0.1 (both sides bind ICE there), so no network namespace is needed."""
import json
import os
import subprocess
import time

import asyncio
import signal

import pytest

from conftest import connect, unique_room

CLIENT = os.environ.get("WEIR_CLIENT_BIN", "")
ADMIN_KEY = "client-e2e-admin-key"

pytestmark = pytest.mark.skipif(not CLIENT or not os.access(CLIENT, os.X_OK),
                                reason="weir-client was not built (needs libvpx-dev, libopus-dev)")


def _client(srv, room, name, *args, duration=8):
    return subprocess.Popen([CLIENT, "--url", srv.ws_url, "--room", room, "--display", name,
                             "--duration", str(duration), "--report", "-", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    try:
        report = json.loads(out)
    except ValueError:
        raise AssertionError(f"no JSON report (rc={proc.returncode}): {out[-2000:]}\n{err[-3000:]}")
    return proc.returncode, report, err


def _track(report, kind):
    tracks = [t for t in report.get("subscribed", []) if t["kind"] == kind]
    assert len(tracks) == 1, report
    return tracks[0]


def test_one_publisher_three_subscribers_decode(weir):
    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1"}, "auth": {"admin_key": ADMIN_KEY},
                "server": {"workers": 2}})
    room = unique_room("wc")
    subs = [_client(srv, room, f"sub{i}", "--subscribe", "--duration", "9",
                    "--expect-video-frames", "150", "--expect-audio-frames", "200",
                    "--expect-tracks", "2") for i in range(3)]
    time.sleep(0.5)  # the subscribers are in the room before the tracks appear
    pub = _client(srv, room, "pub", "--publish", "--simulcast", "--width", "640", "--height",
                  "360", duration=10)
    for i, s in enumerate(subs):
        rc, report, err = _report(s)
        assert rc == 0, f"sub{i}: {json.dumps(report, indent=1)[-3000:]}\n{err[-2000:]}"
        video, audio = _track(report, "video"), _track(report, "audio")
        assert video["frames_decoded"] >= 150, video
        assert video["content_errors"] == 0 and video["order_errors"] == 0, video
        assert (video["width"], video["height"]) == (640, 360), video  # the top layer
        assert audio["frames_decoded"] >= 200 and abs(audio["tone_hz"] - 440) < 20, audio
        print(f"sub{i}: video frames {video['frames_decoded']} {video['width']}x{video['height']}"
              f" latency p50 {video['latency_ms']['p50']} ms p95 {video['latency_ms']['p95']} ms"
              f" freezes {video['freezes']}; audio frames {audio['frames_decoded']}"
              f" tone {audio['tone_hz']} Hz")
    rc, report, err = _report(pub)
    assert rc == 0, f"publisher: {report}\n{err[-2000:]}"
    assert report["published"]["srtp_profile"], report
    print(f"publisher srtp {report['published']['srtp_profile']}, "
          f"layers {[l['rid'] for l in report['published']['layers']]}")
    srv.stop_and_check()


def test_loss_is_repaired_with_nack_and_rtx(weir):
    """5% of RTP dropped on both clients' connections (weir-client's
    --simulate-loss): the server NACKs the publisher, answers the
    subscriber's NACKs from its send history, and the subscriber still
    decodes nearly every frame with the right content."""
    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1"}, "auth": {"admin_key": ADMIN_KEY}})
    room = unique_room("loss")
    sub = _client(srv, room, "sub", "--subscribe", "--simulate-loss", "5", "--duration", "9",
                  "--expect-video-frames", "120", "--expect-tracks", "2")
    time.sleep(0.5)
    pub = _client(srv, room, "pub", "--publish", "--simulate-loss", "5", duration=10)
    rc, report, err = _report(sub)
    assert rc == 0, f"{json.dumps(report, indent=1)[-3000:]}\n{err[-2000:]}"
    video = _track(report, "video")
    assert video["nacked"] > 0 and video["packets_recovered"] > 0, video
    assert video["content_errors"] == 0, video
    rc, preport, err = _report(pub)
    time.sleep(0.6)  # one more statistics period of the worker
    assert rc == 0, preport
    layer = preport["published"]["layers"][0]
    assert layer["nacked"] > 0 and layer["retransmits"] > 0, layer  # the server NACKed ingress loss
    resent = srv.metrics().value("weir_media_rtp_retransmits_total")
    assert resent > 0, resent
    print(f"loss 5%: subscriber nacked {video['nacked']} recovered {video['packets_recovered']} "
          f"lost {video['packets_lost']} frames {video['frames_decoded']} freezes "
          f"{video['freezes']} max_freeze_ms {video['max_freeze_ms']}; publisher asked for "
          f"{layer['nacked']} resent {layer['retransmits']}")
    srv.stop_and_check()


async def test_active_speaker_follows_the_audio_level(weir):
    """weir-client marks its tone as voice at -10 dBov (audio-level extension):
    the room hears active_speaker naming it, and an empty list once it left."""
    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1"}})
    room = unique_room("speaker")
    watcher = await connect(srv, name="watcher")
    await watcher.join(room, display="watcher", role="observer")
    pub = _client(srv, room, "speaker", "--publish", "--no-video", duration=3)
    joined = await watcher.next_notification("participant_joined")
    speaker_id = joined["params"]["participant"]["id"]
    n = await watcher.next_notification("active_speaker", timeout=10)
    assert n["params"]["participants"] == [speaker_id], n
    loop = asyncio.get_running_loop()
    rc, report, err = await loop.run_in_executor(None, _report, pub)
    assert rc == 0, report
    n = await watcher.next_notification("active_speaker", timeout=10)
    assert n["params"]["participants"] == [], n


def test_subscriber_ice_restart_after_silence(weir):
    """A subscriber that goes silent (frozen with SIGSTOP longer than
    ice_consent_timeout_s) gets a re-offer with new ICE credentials once it
    is disconnected; when it wakes it answers, ICE restarts and the video
    comes back, without the participant being dropped."""
    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1", "ice_consent_timeout_s": 1,
                          "peer_timeout_s": 20},
                "auth": {"admin_key": ADMIN_KEY}})
    room = unique_room("restart")
    sub = _client(srv, room, "sub", "--subscribe", "--duration", "12", "--expect-tracks", "2")
    time.sleep(0.5)
    pub = _client(srv, room, "pub", "--publish", duration=13)
    time.sleep(4)
    sub.send_signal(signal.SIGSTOP)
    time.sleep(3)
    sub.send_signal(signal.SIGCONT)
    rc, report, err = _report(sub)
    assert rc == 0, f"{json.dumps(report, indent=1)[-3000:]}\n{err[-2000:]}"
    video = _track(report, "video")
    assert report["subscriber_ice_restarts"] >= 1, report
    # 12 s at 30 fps minus the ~3 s frozen: well over 150 frames means video came back.
    assert video["frames_decoded"] >= 150 and video["content_errors"] == 0, (video, srv.stderr_text()[-6000:])
    print(f"ice restart: restarts {report['subscriber_ice_restarts']} frames "
          f"{video['frames_decoded']} max_gap_ms {video['max_gap_ms']}")
    _report(pub)
    srv.stop_and_check()
