"""RTP taps (PROTOCOL.md tap_start / tap_stop) opened by real receivers.

weir-client publishes its test pattern (frame number and send time painted
into every VP8 frame) and a 440 Hz Opus tone; a recorder taps it and an
external program decodes the tap from the SDP tap_start returned:

  * ffmpeg (`-protocol_whitelist file,udp,rtp -i tap.sdp`): >= 100 frames whose
    pattern reads back with increasing frame numbers (read by
    tools/pattern-read, which links weir-client's own pattern.c), and the
    participant's audio decodes to the tone;
  * the same over SRTP (a=crypto keys in the SDP), tapping a named simulcast
    layer (the smallest, so the decoded size proves which layer came), and a
    plain tap of the same track without `layer` decoding at the top size;
  * GStreamer's sdpdemux, when gst-launch-1.0 and its plugins are installed;
  * a plain UDP socket: RTP with the tap's SSRC and payload type, RTCP sender
    reports on port+1, nothing more once the publisher left, tap gone (404);
    a second tap beyond [taps] max is refused (503);
  * refusals: a host outside [taps] allow (403), a host that is not an
    address (-32602), a student (403, also for record_start), unknown
    track / participant / tap (404).

Everything stays on 127.0.0.1.
"""
import asyncio
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import time

import pytest

from conftest import (WsClient, close_loop, free_udp_port_range, join_when_published,
                      mint_token, unique_room)

CLIENT = os.environ.get("WEIR_CLIENT_BIN", "")
PATTERN_READ = os.environ.get("WEIR_PATTERN_READ_BIN") or (
    os.path.join(os.path.dirname(os.path.dirname(CLIENT)), "pattern-read", "weir-pattern-read")
    if CLIENT else "")
FFMPEG = shutil.which("ffmpeg")
GST_LAUNCH = shutil.which("gst-launch-1.0")
ADMIN_KEY = "taps-admin-key"

needs_client = pytest.mark.skipif(
    not CLIENT or not os.access(CLIENT, os.X_OK) or not os.access(PATTERN_READ or "", os.X_OK),
    reason="weir-client / weir-pattern-read were not built (need libvpx-dev, libopus-dev)")
needs_ffmpeg = pytest.mark.skipif(not FFMPEG, reason="ffmpeg is not installed "
                                  "(tools/install-deps.sh test installs it)")


def _server(weir, **sections):
    config = {"media": {"ice_bind_addresses": "127.0.0.1"}, "auth": {"admin_key": ADMIN_KEY},
              "taps": {"keyframe_interval_ms": 1000}}
    for k, v in sections.items():
        config.setdefault(k, {}).update(v)
    return weir(config)


def _publisher(srv, room, *args, duration=30):
    return subprocess.Popen([CLIENT, "--url", srv.ws_url, "--room", room, "--display", "pub",
                             "--publish", "--duration", str(duration), "--report", "-", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _recorder(srv, room, kinds, token=None, role="recorder"):
    """Joins as a recorder and waits until the room has tracks of these kinds."""
    c, _, tracks = await join_when_published(srv, room, kinds, role=role, token=token, timeout=20)
    return c, tracks


_close_loop = close_loop


def _ffmpeg(sdp_path, outputs, timeout=60):
    """Runs ffmpeg on the tap's SDP; returns (returncode, stderr)."""
    args = [FFMPEG, "-hide_banner", "-nostdin", "-y", "-protocol_whitelist", "file,udp,rtp",
            "-i", sdp_path, *outputs]
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stderr


def _video_size(ffmpeg_stderr):
    m = re.search(r"Stream #0:\d+.*Video: vp8.*?, (\d+)x(\d+)", ffmpeg_stderr)
    assert m, ffmpeg_stderr[-3000:]
    return int(m.group(1)), int(m.group(2))


def _read_pattern(path, width, height):
    """[(index, frame_number or None)] from weir-pattern-read."""
    p = subprocess.run([PATTERN_READ, str(width), str(height), path], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    frames = []
    for line in p.stdout.splitlines():
        parts = line.split()
        frames.append((int(parts[0]), None if parts[1] == "-" else int(parts[1])))
    return frames


def _assert_pattern(frames, at_least=100):
    numbers = [n for _, n in frames if n is not None]
    bad = [i for i, n in frames if n is None]
    assert len(numbers) >= at_least, f"{len(numbers)} frames read back, {len(bad)} unreadable"
    assert not bad, f"frames whose pattern did not read back: {bad[:20]} of {len(frames)}"
    backwards = [(a, b) for a, b in zip(numbers, numbers[1:]) if b <= a]
    assert not backwards, f"frame numbers not increasing: {backwards[:10]}"
    return numbers


def _tone_hz(raw_s16_mono, rate=48000):
    samples = struct.unpack(f"<{len(raw_s16_mono) // 2}h", raw_s16_mono)
    # Skip the decoder's first 100 ms (Opus pre-skip, the tone fading in).
    samples = samples[rate // 10:]
    crossings = sum(1 for a, b in zip(samples, samples[1:]) if (a < 0) != (b < 0))
    return crossings / 2 / (len(samples) / rate), max(abs(s) for s in samples)


# ---------------------------------------------------------------- ffmpeg

@needs_client
@needs_ffmpeg
def test_ffmpeg_decodes_participant_tap(weir, tmp_path):
    srv = _server(weir, server={"workers": 2})
    room = unique_room("tap")
    pub = _publisher(srv, room, "--width", "320", "--height", "180")
    port = free_udp_port_range(4)
    sdp_path = str(tmp_path / "tap.sdp")
    video_path, audio_path = str(tmp_path / "video.yuv"), str(tmp_path / "audio.raw")

    async def start():
        c, tracks = await _recorder(srv, room, ["video", "audio"])
        result = await c.call("tap_start", {"participant": tracks["video"]["participant"],
                                            "host": "127.0.0.1", "port": port})
        return c, tracks, result["tap"]

    async def stop(c, tap_id):
        await c.call("tap_stop", {"tap": tap_id})
        err = await c.error("tap_stop", {"tap": tap_id})
        await c.close()
        return err

    loop = asyncio.new_event_loop()
    try:
        c, tracks, tap = loop.run_until_complete(start())
        sdp = tap["sdp"]
        assert f"m=video {port} RTP/AVP" in sdp and f"m=audio {port + 2} RTP/AVP" in sdp, sdp
        assert "a=rtpmap:" in sdp and "VP8/90000" in sdp and "opus/48000/2" in sdp, sdp
        assert [s["kind"] for s in tap["streams"]] == ["video", "audio"], tap
        with open(sdp_path, "w") as f:
            f.write(sdp)
        rc, err = _ffmpeg(sdp_path, ["-map", "0:v:0", "-frames:v", "120", "-fps_mode", "passthrough",
                                     "-f", "rawvideo", "-pix_fmt", "yuv420p", video_path,
                                     "-map", "0:a:0", "-frames:a", "150", "-ac", "1", "-ar",
                                     "48000", "-f", "s16le", audio_path])
        assert rc == 0, err[-3000:]
        width, height = _video_size(err)
        assert (width, height) == (320, 180), err[-2000:]
        numbers = _assert_pattern(_read_pattern(video_path, width, height))
        with open(audio_path, "rb") as f:
            audio = f.read()
        assert len(audio) >= 2 * 48000 * 2, f"only {len(audio)} bytes of audio"
        hz, peak = _tone_hz(audio)
        assert abs(hz - 440) < 25 and peak > 1000, (hz, peak)

        listed = srv.admin("GET", f"/api/rooms/{room}/taps").json()["taps"]
        assert [t["id"] for t in listed] == [tap["id"]], listed
        assert all(s["packets"] > 0 for s in listed[0]["streams"]), listed
        m = srv.metrics()
        assert m.value("weir_taps") == 1 and m.value("weir_tap_rtp_packets_sent_total") > 0
        print(f"ffmpeg: {len(numbers)} frames {width}x{height}, frame numbers "
              f"{numbers[0]}..{numbers[-1]}; audio tone {hz:.0f} Hz; "
              f"tap packets {[s['packets'] for s in listed[0]['streams']]}")

        err = loop.run_until_complete(stop(c, tap["id"]))
        assert err["code"] == 404, err
        assert srv.metrics().value("weir_taps") == 0
    finally:
        _close_loop(loop)
        _stop(pub)
    srv.stop_and_check()


@needs_client
@needs_ffmpeg
def test_ffmpeg_decodes_srtp_tap_of_a_named_simulcast_layer_and_plain_tap_of_the_top(weir,
                                                                                  tmp_path):
    srv = _server(weir)
    room = unique_room("tap-srtp")
    pub = _publisher(srv, room, "--simulcast", "--width", "640", "--height", "360", "--no-audio",
                     duration=90)  # two ffmpeg runs in a row; slow under sanitizers
    port, top_port = free_udp_port_range(2), free_udp_port_range(2)
    sdp_path = str(tmp_path / "tap.sdp")
    video_path = str(tmp_path / "video.yuv")

    async def start():
        c, tracks = await _recorder(srv, room, ["video"])
        assert len(tracks["video"]["simulcast"]) == 3, tracks
        result = await c.call("tap_start", {"track": tracks["video"]["id"], "host": "127.0.0.1",
                                            "port": port, "srtp": True, "layer": 0})
        top = await c.call("tap_start", {"track": tracks["video"]["id"], "host": "127.0.0.1",
                                         "port": top_port})
        await c.close()  # taps belong to the room: they outlive the recorder's session
        return result["tap"], top["tap"]

    loop = asyncio.new_event_loop()
    try:
        tap, top = loop.run_until_complete(start())
        sdp = tap["sdp"]
        assert f"m=video {port} RTP/SAVP" in sdp, sdp
        assert re.search(r"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}\r\n", sdp), sdp
        with open(sdp_path, "w") as f:
            f.write(sdp)
        rc, err = _ffmpeg(sdp_path, ["-frames:v", "120", "-fps_mode", "passthrough", "-f",
                                     "rawvideo", "-pix_fmt", "yuv420p", video_path])
        assert rc == 0, err[-3000:]
        width, height = _video_size(err)
        assert (width, height) == (160, 90), "layer 0 is the quarter-size one: " + err[-2000:]
        numbers = _assert_pattern(_read_pattern(video_path, width, height))
        print(f"ffmpeg over SRTP: {len(numbers)} frames of layer 0 ({width}x{height})")
        listed = sorted(t["id"] for t in srv.admin("GET", "/api/taps").json()["taps"])
        assert listed == sorted([tap["id"], top["id"]]), listed

        # Without `layer`, the tap forwards the top layer.
        with open(sdp_path, "w") as f:
            f.write(top["sdp"])
        rc, err = _ffmpeg(sdp_path, ["-frames:v", "110", "-fps_mode", "passthrough", "-f",
                                     "rawvideo", "-pix_fmt", "yuv420p", video_path])
        assert rc == 0, err[-3000:]
        width, height = _video_size(err)
        assert (width, height) == (640, 360), "the top layer: " + err[-2000:]
        numbers = _assert_pattern(_read_pattern(video_path, width, height))
        print(f"ffmpeg, plain tap without layer: {len(numbers)} frames ({width}x{height})")
    finally:
        _close_loop(loop)
        _stop(pub)
    srv.stop_and_check()


# ---------------------------------------------------------------- GStreamer

def _gst_missing():
    if not GST_LAUNCH:
        return "gst-launch-1.0 is not installed (apt-get install gstreamer1.0-tools " \
               "gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad)"
    inspect = shutil.which("gst-inspect-1.0")
    for element in ("sdpdemux", "rtpvp8depay", "vp8dec", "identity", "videoconvert"):
        if not inspect or subprocess.run([inspect, "--exists", element]).returncode != 0:
            return f"GStreamer element {element} is not installed"
    return None


@needs_client
@pytest.mark.skipif(bool(_gst_missing()), reason=_gst_missing() or "")
def test_gstreamer_sdpdemux_decodes_track_tap(weir, tmp_path):
    srv = _server(weir)
    room = unique_room("tap-gst")
    pub = _publisher(srv, room, "--width", "320", "--height", "180", "--no-audio")
    port = free_udp_port_range(2)
    sdp_path = str(tmp_path / "tap.sdp")
    video_path = str(tmp_path / "video.yuv")

    async def start():
        c, tracks = await _recorder(srv, room, ["video"])
        result = await c.call("tap_start", {"track": tracks["video"]["id"], "host": "127.0.0.1",
                                            "port": port})
        await c.close()
        return result["tap"]

    loop = asyncio.new_event_loop()
    try:
        tap = loop.run_until_complete(start())
        with open(sdp_path, "w") as f:
            f.write(tap["sdp"])
        # identity's eos-after ends the pipeline after 120 decoded pictures.
        p = subprocess.run([GST_LAUNCH, "-q", "-e", "filesrc", f"location={sdp_path}", "!",
                            "sdpdemux", "latency=100", "!", "rtpvp8depay", "!", "vp8dec", "!",
                            "videoconvert", "!", "video/x-raw,format=I420", "!", "identity",
                            "eos-after=120", "!", "filesink", f"location={video_path}"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
        numbers = _assert_pattern(_read_pattern(video_path, 320, 180))
        print(f"GStreamer sdpdemux: {len(numbers)} frames, {numbers[0]}..{numbers[-1]}")
    finally:
        _close_loop(loop)
        _stop(pub)
    srv.stop_and_check()


# ---------------------------------------------------------------- the tap's packets and its end

def _rtp_header(pkt):
    v, pt_m, seq, ts, ssrc = struct.unpack("!BBHII", pkt[:12])
    return v >> 6, pt_m & 0x7f, seq, ts, ssrc


@needs_client
def test_tap_sends_rtp_and_sender_reports_and_ends_with_its_publisher(weir):
    srv = _server(weir, taps={"max": 1})
    room = unique_room("tap-end")
    pub = _publisher(srv, room, "--width", "160", "--height", "96", "--no-audio", duration=6)
    rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port = free_udp_port_range(2)
    rtp.bind(("127.0.0.1", port))
    rtcp.bind(("127.0.0.1", port + 1))
    rtp.settimeout(0.2)
    rtcp.settimeout(0.2)

    async def start():
        c, tracks = await _recorder(srv, room, ["video"])
        result = await c.call("tap_start", {"track": tracks["video"]["id"], "host": "127.0.0.1",
                                            "port": port})
        over = await c.error("tap_start", {"track": tracks["video"]["id"], "host": "127.0.0.1",
                                           "port": port + 10})
        assert over["code"] == 503, over  # [taps] max = 1
        return c, result["tap"]

    async def after(c, tap_id):
        n = await c.next_notification("track_unpublished", timeout=20)
        err = await c.error("tap_stop", {"tap": tap_id})
        await c.close()
        return n, err

    loop = asyncio.new_event_loop()
    try:
        c, tap = loop.run_until_complete(start())
        ssrc = tap["streams"][0]["ssrc"]
        pt = int(re.search(r"m=video \d+ RTP/AVP (\d+)", tap["sdp"]).group(1))
        packets, srs, last_seq = 0, 0, None
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            readable, _, _ = select.select([rtp, rtcp], [], [], 0.2)
            for sock in readable:
                data = sock.recv(2048)
                if sock is rtp:
                    v, got_pt, seq, _, got_ssrc = _rtp_header(data)
                    assert (v, got_pt, got_ssrc) == (2, pt, ssrc)
                    if last_seq is not None:
                        assert (seq - last_seq) & 0xffff == 1, (last_seq, seq)  # no loss on lo
                    last_seq = seq
                    packets += 1
                elif data[1] == 200 and struct.unpack("!I", data[4:8])[0] == ssrc:
                    srs += 1
        assert packets > 50, packets
        assert srs >= 2, f"{srs} sender reports in 4 s"
        pub.wait(30)
        n, err = loop.run_until_complete(after(c, tap["id"]))
        assert n["params"]["track"]["id"] == tap["streams"][0]["track"]
        assert err["code"] == 404, err
        # Drain what was in flight, then nothing more may come.
        time.sleep(0.5)
        rtp.settimeout(0.01)
        try:
            while True:
                rtp.recv(2048)
        except socket.timeout:
            pass
        rtp.settimeout(1.5)
        with pytest.raises(socket.timeout):
            rtp.recv(2048)
        assert srv.admin("GET", "/api/taps").json()["taps"] == []
        m = srv.metrics()
        assert m.value("weir_taps") == 0
        assert m.value("weir_taps_ended_total", reason="track_ended") == 1
        assert m.value("weir_taps_refused_total", reason="limit") == 1
        print(f"tap: {packets} RTP packets, {srs} SRs in 4 s; ended with its track")
    finally:
        _close_loop(loop)
        rtp.close()
        rtcp.close()
        _stop(pub)
    srv.stop_and_check()


# ---------------------------------------------------------------- refusals

SECRET = "taps-test-secret-0123456789abcdef"


async def test_refusals(weir):
    srv = _server(weir, auth={"secret": SECRET})
    room = unique_room("tap-deny")
    rec = await WsClient.connect(srv.ws_url, name="recorder")
    await rec.join(room, token=mint_token(secret=SECRET, room=room, sub="rec", role="recorder"))
    stu = await WsClient.connect(srv.ws_url, name="student")
    await stu.join(room, token=mint_token(secret=SECRET, room=room, sub="stu", role="student"))
    teacher = await WsClient.connect(srv.ws_url, name="teacher")
    await teacher.join(room, token=mint_token(secret=SECRET, room=room, sub="t", role="teacher"))
    someone = rec.participant["id"]

    err = await rec.error("tap_start", {"track": "tnope", "host": "10.1.2.3", "port": 5000})
    assert err["code"] == 403 and "not allowed" in err["message"], err
    err = await rec.error("tap_start", {"track": "tnope", "host": "::ffff:10.1.2.3", "port": 5000})
    assert err["code"] == 403, err
    err = await rec.error("tap_start", {"track": "tnope", "host": "localhost", "port": 5000})
    assert err["code"] == -32602 and "host" in err["message"], err
    err = await stu.error("tap_start", {"track": "tnope", "host": "127.0.0.1", "port": 5000})
    assert err["code"] == 403 and "student" in err["message"], err
    err = await stu.error("record_start", {})
    assert err["code"] == 403, err
    err = await rec.error("tap_start", {"track": "tnope", "host": "127.0.0.1", "port": 5000})
    assert err["code"] == 404, err
    err = await teacher.error("tap_start", {"participant": "pnope", "host": "127.0.0.1",
                                            "port": 5000})
    assert err["code"] == 404, err
    err = await rec.error("tap_start", {"participant": someone, "host": "127.0.0.1", "port": 5000})
    assert err["code"] == 404 and "publishes no track" in err["message"], err
    err = await rec.error("tap_start", {"track": "tnope", "host": "127.0.0.1", "port": 5000,
                                        "layer": 7})
    assert err["code"] == -32602, err
    err = await rec.error("tap_start", {"track": "tnope", "host": "127.0.0.1", "port": 5000,
                                        "participant": someone})
    assert err["code"] == -32602, err
    err = await rec.error("tap_stop", {"tap": "knope"})
    assert err["code"] == 404, err
    m = srv.metrics()
    assert m.value("weir_taps_refused_total", reason="host") == 2
    assert m.value("weir_taps") == 0
    srv.stop_and_check()
