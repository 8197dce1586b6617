"""Built-in recording (PROTOCOL.md record_start / record_stop; docs/recording.md)
with the real recorder plugin (plugins/recorder/weir-recorder.so), real
publishers (weir-client) and real ffmpeg/ffprobe reading the files back.

What is checked:
  * the files play: ffmpeg decodes every file without an error; the video's
    frames carry weir-client's test pattern, read back (tools/pattern-read)
    with consecutive frame numbers: the frame count is what was sent in the
    recording's window, and the file's duration matches the sender's own
    clock (the send time painted into each frame) within 2 %;
  * audio: as many Opus frames as the server handed to the recorder, spaced
    20 ms apart (no gap the sender did not make);
  * audio/video sync: weir-client --sync-marks flashes a frame and starts a
    beep at the same instant; analysed from the two files (av_sync.py) the
    offset is at most 40 ms;
  * the manifest and the timeline: participants, tracks with their files and
    start offsets, mute periods, the whiteboard ops with their seqs;
  * SIGKILL of the server mid-recording leaves files that ffmpeg plays up to
    the kill, a manifest in state "recording" and a readable timeline;
  * a full disk (RLIMIT_FSIZE on the server: write fails with EFBIG) stops
    that file with a clear error in the manifest, the log and /metrics, and
    harms nothing else;
  * refusals: a student may not record (403), unknown recording (404), a
    server with recording off answers 503 saying so.
"""
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import time

import pytest

from conftest import WsClient, close_loop, join_when_published, unique_room

CLIENT = os.environ.get("WEIR_CLIENT_BIN", "")
PATTERN_READ = os.environ.get("WEIR_PATTERN_READ_BIN") or (
    os.path.join(os.path.dirname(os.path.dirname(CLIENT)), "pattern-read", "weir-pattern-read")
    if CLIENT else "")
FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
ADMIN_KEY = "recording-admin-key"

pytestmark = [
    pytest.mark.skipif(not CLIENT or not os.access(CLIENT, os.X_OK)
                       or not os.access(PATTERN_READ or "", os.X_OK),
                       reason="weir-client / weir-pattern-read were not built"),
    pytest.mark.skipif(not FFMPEG or not FFPROBE, reason="ffmpeg/ffprobe are not installed "
                       "(tools/install-deps.sh test installs them)"),
]


def _server(weir, **sections):
    config = {"media": {"ice_bind_addresses": "127.0.0.1"}, "auth": {"admin_key": ADMIN_KEY}}
    for k, v in sections.items():
        config.setdefault(k, {}).update(v)
    return weir(config)


def _publisher(srv, room, *args, duration=30, display="pub"):
    return subprocess.Popen([CLIENT, "--url", srv.ws_url, "--room", room, "--display", display,
                             "--publish", "--duration", str(duration), "--report", "-", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _stop(proc):
    if proc.poll() is None:
        proc.terminate()
    try:
        out, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    return out, err


def _run(coro):
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coro)
    finally:
        close_loop(loop)


async def _join(srv, room, role="recorder", display="rec", wait_kinds=("audio", "video")):
    return await join_when_published(srv, room, wait_kinds, role=role, display=display)


def _record_for(srv, room, seconds):
    """A recorder joins once the room publishes audio and video, records everything for
    `seconds`, stops; returns record_start's recording."""
    async def record():
        c, _, _ = await _join(srv, room)
        rec = (await c.call("record_start", {}))["recording"]
        await asyncio.sleep(seconds)
        await c.call("record_stop", {"recording": rec["id"]})
        return rec
    return _run(record())


def _recording_dir(srv, rec_id):
    return os.path.join(srv.workdir, "data", "recordings", rec_id)


def _wait_manifest(path, state="complete", timeout=20):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(path, "manifest.json")) as f:
                last = json.load(f)
            if last.get("state") == state:
                return last
        except (OSError, ValueError):
            pass
        time.sleep(0.1)
    raise AssertionError(f"manifest never reached state {state}: {last}")


def _timeline(path):
    with open(os.path.join(path, "timeline.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _probe(path):
    """Codec, size, and every frame's pts (s) as stored in the file (not shifted to 0)."""
    p = subprocess.run([FFPROBE, "-v", "error", "-show_entries",
                        "stream=codec_name,width,height:packet=pts_time", "-of", "json", path],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    j = json.loads(p.stdout)
    pts = [float(pk["pts_time"]) for pk in j.get("packets", []) if "pts_time" in pk]
    return j["streams"][0], pts


def _header_duration(path):
    """The container's Duration (s), or None when the file has none (killed server)."""
    p = subprocess.run([FFPROBE, "-v", "error", "-show_entries", "format=duration", "-of",
                        "default=nw=1:nk=1", path], capture_output=True, text=True, timeout=60)
    text = p.stdout.strip()
    return None if text in ("", "N/A") else float(text)


def _decodes_cleanly(path):
    p = subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-i", path, "-f", "null", "-"],
                       capture_output=True, text=True, timeout=120)
    return p.returncode, p.stderr.strip()


def _pattern(path, tmp_path):
    """[(frame_number, send_ms)] of every decoded frame, in order; None where unreadable."""
    stream, _ = _probe(path)
    w, h = stream["width"], stream["height"]
    raw = str(tmp_path / (os.path.basename(path) + ".yuv"))
    p = subprocess.run([FFMPEG, "-v", "error", "-nostdin", "-y", "-i", path, "-fps_mode",
                        "passthrough", "-f", "rawvideo", "-pix_fmt", "yuv420p", raw],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    out = subprocess.run([PATTERN_READ, str(w), str(h), raw], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    frames = []
    for line in out.stdout.splitlines():
        parts = line.split()
        frames.append(None if parts[1] == "-" else (int(parts[1]), int(parts[2])))
    os.unlink(raw)
    return frames


def _files(manifest, rec_dir):
    by_kind = {}
    for t in manifest["tracks"]:
        by_kind.setdefault(t["kind"], []).append(t)
        assert os.path.exists(os.path.join(rec_dir, t["file"])), t
    return by_kind


# ---------------------------------------------------------------- files, counts, duration

def test_recording_plays_with_every_frame_sent(weir, tmp_path):
    srv = _server(weir)
    room = unique_room("rec")
    pub = _publisher(srv, room, "--width", "320", "--height", "180")

    async def record():
        c, _, _ = await _join(srv, room)
        started = (await c.call("record_start", {}))["recording"]
        await asyncio.sleep(8)
        stopped = (await c.call("record_stop", {"recording": started["id"]}))["recording"]
        finished = (await c.next_notification("recording_finished", timeout=20))["params"]
        assert finished["recording"]["id"] == started["id"], finished
        assert finished["recording"]["state"] == "complete", finished
        assert finished["recording"]["frames"] > 0 and "error" not in finished["recording"]
        return started, stopped

    try:
        started, stopped = _run(record())
    finally:
        _stop(pub)
    assert started["id"] == stopped["id"] and stopped["duration_ms"] >= 8000, stopped
    assert sorted(f["kind"] for f in started["files"]) == ["audio", "video"], started
    rec_dir = _recording_dir(srv, started["id"])
    manifest = _wait_manifest(rec_dir)
    tracks = _files(manifest, rec_dir)
    video, audio = tracks["video"][0], tracks["audio"][0]
    assert {f["file"] for f in started["files"]} == {video["file"], audio["file"]}
    assert manifest["room"] == room and manifest["duration_ms"] >= 8000, manifest

    vpath, apath = os.path.join(rec_dir, video["file"]), os.path.join(rec_dir, audio["file"])
    for path in (vpath, apath):
        rc, err = _decodes_cleanly(path)
        assert rc == 0 and not err, f"{path}: ffmpeg: {err[-2000:]}"
    vstream, vpts = _probe(vpath)
    astream, apts = _probe(apath)
    for path in (vpath, apath):  # a clean end writes the Duration into the header
        assert (_header_duration(path) or 0) >= 7.5, (path, _header_duration(path))
    assert vstream["codec_name"] == "vp8" and astream["codec_name"] == "opus"

    # Video: every frame sent in the window, in order, readable; the file's timing is the
    # sender's (send_ms painted into each frame), within 2 %.
    frames = _pattern(vpath, tmp_path)
    assert frames and all(frames), f"unreadable frames: {frames.count(None)} of {len(frames)}"
    numbers = [n for n, _ in frames]
    sent = numbers[-1] - numbers[0] + 1
    assert numbers == sorted(set(numbers)), "frame numbers repeat or go backwards"
    assert len(numbers) >= 0.98 * sent, f"{len(numbers)} frames recorded of {sent} sent"
    assert len(vpts) == len(frames) == video["frames"], (len(vpts), len(frames), video["frames"])
    sent_ms = frames[-1][1] - frames[0][1]
    file_ms = (vpts[-1] - vpts[0]) * 1000
    assert abs(file_ms - sent_ms) <= 0.02 * sent_ms, (file_ms, sent_ms)
    assert abs(vpts[0] * 1000 - video["start_ms"]) <= 1, (vpts[0], video["start_ms"])

    # Audio: one frame per packet the recorder was handed, 20 ms apart, starting with video.
    gaps = [round((b - a) * 1000) for a, b in zip(apts, apts[1:])]
    assert len(apts) == audio["frames"] >= 0.98 * audio["packets"], (len(apts), audio)
    odd = [g for g in gaps if g != 20]
    assert len(odd) <= 0.02 * len(gaps), f"audio frames not 20 ms apart: {odd[:20]}"
    assert abs(apts[0] - vpts[0]) < 0.5, (apts[0], vpts[0])
    m = srv.metrics()
    assert m.value("weir_recordings_total", outcome="complete") == 1
    assert m.value("weir_recorder_frames_total", outcome="written") == len(vpts) + len(apts)
    print(f"recorded {len(numbers)}/{sent} video frames ({vstream['width']}x{vstream['height']}), "
          f"{file_ms:.0f} ms in the file vs {sent_ms} ms sent; {len(apts)} audio frames "
          f"({audio['packets']} packets), {len(odd)} audio gaps != 20 ms")


def test_loss_costs_frames_never_broken_ones(weir, tmp_path):
    """10 % loss on the publisher's path (weir-client drops packets it sends; the
    server's NACKs bring most back through RTX): the file still decodes without an
    error and every frame in it reads back whole; what could not be repaired is
    missing as whole frames (until the next keyframe), counted in the manifest."""
    srv = _server(weir)
    room = unique_room("loss")
    pub = _publisher(srv, room, "--width", "320", "--height", "180", "--simulate-loss", "10")

    try:
        rec = _record_for(srv, room, 8)
    finally:
        _stop(pub)
    rec_dir = _recording_dir(srv, rec["id"])
    manifest = _wait_manifest(rec_dir)
    video = _files(manifest, rec_dir)["video"][0]
    path = os.path.join(rec_dir, video["file"])
    rc, err = _decodes_cleanly(path)
    assert rc == 0 and not err, f"decoder errors with loss: {err[-2000:]}"
    frames = _pattern(path, tmp_path)
    assert frames and all(frames), f"broken frames: {frames.count(None)} of {len(frames)}"
    numbers = [n for n, _ in frames]
    sent = numbers[-1] - numbers[0] + 1
    assert numbers == sorted(set(numbers))
    assert len(numbers) >= 0.80 * sent, f"only {len(numbers)} of {sent} frames survived 10 % loss"
    print(f"10 % loss: {len(numbers)}/{sent} frames recorded, all whole; manifest: "
          f"frames_dropped {video['frames_dropped']}, packets {video['packets']}")


def test_layer_switch_is_keyframe_aligned(weir, tmp_path):
    """A simulcast publisher stops its top layer (as a browser does when its bandwidth
    estimate falls): the recording switches to the next layer at a keyframe. The file
    decodes without an error, every frame reads back whole, the frame numbers go on
    increasing across the switch, and the manifest and timeline say when the picture
    size changed."""
    srv = _server(weir)
    room = unique_room("layers")
    pub = _publisher(srv, room, "--width", "640", "--height", "360", "--simulcast",
                     "--stop-top-layer-after", "4000")

    try:
        rec = _record_for(srv, room, 9)
    finally:
        _stop(pub)
    rec_dir = _recording_dir(srv, rec["id"])
    manifest = _wait_manifest(rec_dir)
    video = _files(manifest, rec_dir)["video"][0]
    sizes = [(l["width"], l["height"]) for l in video["layers"]]
    assert sizes[:1] == [(640, 360)] and (320, 180) in sizes, video["layers"]
    changes = [e for e in _timeline(rec_dir) if e["type"] == "layer_changed"]
    assert changes and (changes[0]["width"], changes[0]["height"]) == (320, 180), changes
    path = os.path.join(rec_dir, video["file"])
    rc, err = _decodes_cleanly(path)
    assert rc == 0 and not err, f"decoder errors across the switch: {err[-2000:]}"
    frames = _pattern(path, tmp_path)
    assert frames and all(frames), f"broken frames: {frames.count(None)} of {len(frames)}"
    numbers = [n for n, _ in frames]
    assert numbers == sorted(set(numbers)), "frame numbers repeat or go backwards"
    gaps = [(a, b) for a, b in zip(numbers, numbers[1:]) if b - a > 1]
    missing = sum(b - a - 1 for a, b in gaps)
    switch_ms = changes[0]["t_ms"]
    print(f"layer switch 640x360 -> 320x180 at {switch_ms} ms on the timeline; "
          f"{len(numbers)} frames, {missing} frame(s) missing around it ({gaps})")
    # The server calls a layer gone after 1.5 s without a packet (WEIR_SIMULCAST_INACTIVE_US,
    # rtc/simulcast_selector.h), then waits for the next layer's keyframe: one gap, < 2.5 s.
    assert len(gaps) == 1 and missing <= 75, f"{missing} frames lost at the switch: {gaps}"


# ---------------------------------------------------------------- A/V sync

def test_audio_video_offset_from_the_files(weir, tmp_path):
    import av_sync
    srv = _server(weir)
    room = unique_room("sync")
    pub = _publisher(srv, room, "--width", "320", "--height", "180", "--sync-marks", "1000")

    try:
        rec = _record_for(srv, room, 7)
    finally:
        _stop(pub)
    rec_dir = _recording_dir(srv, rec["id"])
    tracks = _files(_wait_manifest(rec_dir), rec_dir)
    flashes = av_sync.video_flash_times(os.path.join(rec_dir, tracks["video"][0]["file"]))
    onsets = av_sync.audio_beep_onsets(os.path.join(rec_dir, tracks["audio"][0]["file"]))
    pairs = av_sync.pair_offsets(flashes, onsets)
    offsets_ms = [round(off * 1000, 1) for _, _, off in pairs]
    print(f"flashes {len(flashes)}, beeps {len(onsets)}, offsets (audio - video) ms: {offsets_ms}")
    assert len(pairs) >= 4, (flashes, onsets)
    assert max(abs(o) for o in offsets_ms) <= 40, offsets_ms


# ---------------------------------------------------------------- manifest and timeline

def test_manifest_and_timeline_rebuild_the_lesson(weir, tmp_path):
    srv = _server(weir)
    room = unique_room("lesson")
    pub = _publisher(srv, room, "--width", "320", "--height", "180", display="student1")

    async def lesson():
        teacher, _, tracks = await _join(srv, room, role="teacher", display="Ms T")
        student = {"id": tracks["audio"]["participant"]}
        rec = (await teacher.call("record_start", {}))["recording"]
        await asyncio.sleep(1.5)
        drawer = subprocess.Popen([CLIENT, "--url", srv.ws_url, "--room", room, "--display",
                                   "drawer", "--role", "teacher", "--dc", "whiteboard",
                                   "--dc-send-ops", "20", "--dc-rate", "20", "--duration", "3",
                                   "--report", "-"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        await asyncio.sleep(1)
        await teacher.call("moderate", {"action": "mute", "participant": student["id"],
                                        "track": tracks["audio"]["id"]})
        await asyncio.sleep(1.5)
        await teacher.call("moderate", {"action": "allow_publish", "participant": student["id"]})
        drawer.communicate(timeout=30)
        await asyncio.sleep(1)
        await teacher.call("record_stop", {"recording": rec["id"]})
        return rec, student, tracks

    try:
        rec, student, tracks = _run(lesson())
    finally:
        _stop(pub)
    rec_dir = _recording_dir(srv, rec["id"])
    manifest = _wait_manifest(rec_dir)
    events = _timeline(rec_dir)
    types = [e["type"] for e in events]
    assert types[0] == "recording_started" and types[-1] == "recording_stopped", types
    t_ms = [e["t_ms"] for e in events]
    assert t_ms == sorted(t_ms), "timeline not in time order"
    joined = {e["participant"]["display"] for e in events if e["type"] == "participant_joined"}
    assert {"Ms T", "student1", "drawer"} <= joined, joined
    left = [e for e in events if e["type"] == "participant_left"]
    assert any(e["participant"]["display"] == "drawer" for e in left), left
    ops = [e for e in events if e["type"] == "whiteboard"]
    assert [e["seq"] for e in ops] == list(range(1, 21)), [e.get("seq") for e in ops]
    assert all("data" in e and e["from"] for e in ops), ops[:2]
    mutes = [e for e in events if e["type"] == "track_muted"]
    assert mutes and mutes[0]["track"] == tracks["audio"]["id"] and mutes[0]["muted"], mutes
    by_id = {t["id"]: t for t in manifest["tracks"]}
    audio = by_id[tracks["audio"]["id"]]
    assert audio["mutes"] and audio["mutes"][0]["from_ms"] >= 1000, audio
    video = by_id[tracks["video"]["id"]]
    assert video["start_ms"] is not None and video["layers"], video
    people = {p["display"]: p for p in manifest["participants"]}
    assert people["drawer"]["left_ms"] is not None and people["Ms T"]["role"] == "teacher"
    listed = [e for e in events if e["type"] == "track_added"]
    assert {e["track"] for e in listed} == set(by_id), listed

    # The composite tool puts this real recording back together as one video.
    tool = os.path.join(os.environ.get("WEIR_SOURCE_ROOT") or
                        os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                        "tools", "weir-composite")
    out = str(tmp_path / "class.mp4")
    p = subprocess.run([tool, rec_dir, "-o", out, "--size", "640x360", "--fps", "15"],
                       capture_output=True, text=True, timeout=180)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "100%" in p.stderr, p.stderr[-2000:]
    rc, err = _decodes_cleanly(out)
    assert rc == 0 and not err, err[-2000:]
    length = _header_duration(out)
    assert abs(length - manifest["duration_ms"] / 1000) <= 0.5, (length, manifest["duration_ms"])
    print(f"composite of the lesson: {length:.2f} s for a {manifest['duration_ms']} ms recording")


# ---------------------------------------------------------------- crash safety

def test_sigkill_leaves_playable_files(weir, tmp_path):
    srv = _server(weir)
    room = unique_room("kill")
    pub = _publisher(srv, room, "--width", "320", "--height", "180")

    async def record():
        c, _, _ = await _join(srv, room)
        return (await c.call("record_start", {}))["recording"]

    try:
        rec = _run(record())
        time.sleep(5)
        srv.process.send_signal(signal.SIGKILL)
        srv.process.wait(10)
        srv.checked = True  # killed on purpose
    finally:
        _stop(pub)
    rec_dir = _recording_dir(srv, rec["id"])
    manifest = _wait_manifest(rec_dir, state="recording", timeout=2)
    events = _timeline(rec_dir)  # every line parses
    assert events[0]["type"] == "recording_started"
    summary = []
    for f in rec["files"]:
        path = os.path.join(rec_dir, f["file"])
        rc, err = _decodes_cleanly(path)
        assert rc == 0, f"{f['file']} after SIGKILL: ffmpeg exit {rc}: {err[-2000:]}"
        _, pts = _probe(path)
        span = pts[-1] - pts[0]
        assert _header_duration(path) is None, "a killed recording has no Duration to trust"
        assert span >= 3.5, f"{f['file']}: only {span:.2f} s playable after 5 s of recording"
        summary.append(f"{f['kind']} {len(pts)} frames {span:.2f} s"
                       + (f" (ffmpeg said: {err.splitlines()[-1][:120]})" if err else ""))
    print("after SIGKILL at 5 s: " + "; ".join(summary) + f"; manifest state {manifest['state']}")


# ---------------------------------------------------------------- full disk

def test_disk_full_stops_the_file_with_a_clear_error(weir, tmp_path):
    srv = _server(weir)
    room = unique_room("full")
    pub = _publisher(srv, room, "--width", "320", "--height", "180")
    # Every file of the server may grow to 150 kB: the video file hits it within seconds.
    resource.prlimit(srv.process.pid, resource.RLIMIT_FSIZE, (150_000, 150_000))

    async def record():
        c, _, _ = await _join(srv, room)
        rec = (await c.call("record_start", {}))["recording"]
        deadline = time.monotonic() + 20
        while True:
            m = srv.metrics()
            if m.value("weir_recorder_write_errors_total") >= 1:
                break
            assert time.monotonic() < deadline, "no write error reported"
            await asyncio.sleep(0.2)
        listed = srv.admin("GET", f"/api/rooms/{room}/recordings").json()["recordings"]
        await asyncio.sleep(1)
        # Signalling is unharmed: the same session stops the recording.
        stopped = (await c.call("record_stop", {"recording": rec["id"]}))["recording"]
        return rec, listed, stopped

    try:
        rec, listed, stopped = _run(record())
    finally:
        _stop(pub)
    assert stopped["id"] == rec["id"]
    failed = [t for t in listed[0]["tracks"] if t["failed"]]
    assert failed and "File too large" in failed[0]["error"], listed
    rec_dir = _recording_dir(srv, rec["id"])
    manifest = _wait_manifest(rec_dir)
    errors = {t["kind"]: t["error"] for t in manifest["tracks"]}
    assert errors["video"] and "write" in errors["video"], errors
    log = srv.stderr_text()
    assert "recording_track_failed" in log and "File too large" in log
    # What was written before the error still plays.
    rc, err = _decodes_cleanly(os.path.join(rec_dir, failed[0]["file"]))
    assert rc == 0, err[-2000:]
    print(f"disk full: {failed[0]['file']} stopped: {failed[0]['error']}; others: "
          f"{[(t['kind'], t['error']) for t in manifest['tracks']]}")


# ---------------------------------------------------------------- refusals

def test_refusals(weir):
    srv = _server(weir)
    off = _server(weir, recorder={"enabled": "false"})
    room = unique_room("refuse")

    async def check():
        student = await WsClient.connect(srv.ws_url, name="student")
        await student.join(room, display="s", role="student")
        err = await student.error("record_start", {})
        assert err["code"] == 403, err
        rec = await WsClient.connect(srv.ws_url, name="rec")
        await rec.join(room, display="r", role="recorder")
        err = await rec.error("record_stop", {"recording": "rnothing"})
        assert err["code"] == 404 and "no such recording" in err["message"], err
        err = await rec.error("record_start", {"tracks": ["tnothing"]})
        assert err["code"] == 404 and "no such track" in err["message"], err
        started = (await rec.call("record_start", {}))["recording"]
        assert started["files"] == []  # nothing published yet: later tracks join it
        await rec.call("record_stop", {"recording": started["id"]})
        err = await rec.error("record_stop", {"recording": started["id"]})
        assert err["code"] == 404, err
        other = await WsClient.connect(off.ws_url, name="rec-off")
        await other.join(room, display="r", role="recorder")
        err = await other.error("record_start", {})
        assert err["code"] == 503 and "recording is off" in err["message"], err
        return started

    started = _run(check())
    _wait_manifest(_recording_dir(srv, started["id"]))
