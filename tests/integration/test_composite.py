"""tools/weir-composite: a recording directory -> one video of the class.

A synthetic recording is made with ffmpeg exactly as docs/recording.md says
the recorder writes it: one VP8/Opus WebM per track (live layout, no
duration element) whose timestamps are on the recording's timeline
(-output_ts_offset), a manifest.json and a timeline.jsonl. 8 s long:

  teacher  "Ms Red"    red camera 0..8 s, 440 Hz tone 0..8 s except a
                       1.5 s gap (4.8..6.3 s: muted, no packets)
  student  "Gus Green" green camera 0..8 s, 660 Hz tone 0..8 s
  student  "Bea Blue"  joins late and leaves early: blue camera and 1000 Hz
                       tone 3..6 s

The composed video is decoded back: colours are measured in the slots the
tool says it used (its layout lines on stderr), tones with a Goertzel filter
over the decoded audio (standard library only). Variants of it: a screen
share, whiteboard ops in the timeline, a picture-size change inside a file,
a killed recording (state "recording", no end_ms nor duration, a track only
in the timeline, a file missing, one cut short) which still composes; bad
manifests fail with a clear message.
"""
import array
import json
import math
import os
import re
import shutil
import subprocess
import sys

import pytest

FFMPEG = shutil.which("ffmpeg")
FFPROBE = shutil.which("ffprobe")
ROOT = os.environ.get("WEIR_SOURCE_ROOT") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
TOOL = os.path.join(ROOT, "tools", "weir-composite")

pytestmark = [
    pytest.mark.skipif(not (FFMPEG and FFPROBE), reason="ffmpeg/ffprobe not installed"),
    # A Python tool and ffmpeg, no Weir C code: nothing for the sanitizers to find, so
    # tools/test.sh runs it in the debug stage only (its ASan stage sets this).
    pytest.mark.skipif(os.environ.get("WEIR_TEST_SANITIZED") == "1",
                       reason="no C code under test: runs in the unsanitized stage"),
]

DURATION_MS = 8000
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
SIZE = (640, 360)

# (participant id, display, role, colour, lavfi colour, tone Hz,
#  start ms, end ms, audio gaps [(from, to)] in s)
# Gus's camera is muted 6.5..7.5 s (frames keep coming in the file; the tile
# must still go dark, not freeze or keep playing).
VIDEO_MUTES = {"p2": [(6500, 7500)]}
PEOPLE = [
    ("p1", "Ms Red", "teacher", RED, "red", 440, 0, 8000, [(4.8, 6.3)]),
    ("p2", "Gus Green", "student", GREEN, "0x00FF00", 660, 0, 8000, []),
    ("p3", "Bea Blue", "student", BLUE, "blue", 1000, 3000, 6000, []),
]


def _encode(path, *args):
    """ffmpeg ... path, unless path exists: variants of the recording are
    copies of one made once per module (encoding is the slow part). WebM
    in the live layout, as the recorder writes it: no duration, no cues."""
    if not os.path.exists(path):
        subprocess.run([FFMPEG, "-hide_banner", "-loglevel", "error", "-y",
                        *args, "-live", "1", path], check=True, timeout=60)


def make_recording(d, state="complete", screen=None, board=()):
    """Writes the synthetic recording into directory d; screen=(start_ms,
    end_ms) adds a yellow screen share by the teacher, board [(t_ms, op)]
    whiteboard events."""
    os.makedirs(d, exist_ok=True)
    tracks, timeline = [], [{"t_ms": 0, "type": "recording_started"}]
    for n, (pid, display, role, _, lavfi, hz, start, end, gaps) in \
            enumerate(PEOPLE):
        secs = (end - start) / 1000
        offset = f"{start / 1000:.3f}"
        vfile, afile = f"{pid}-video-v{n}.webm", f"{pid}-audio-a{n}.webm"
        _encode(os.path.join(d, vfile),
                "-f", "lavfi", "-i", f"color=c={lavfi}:s=160x90:r=10:d={secs}",
                "-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
                "-b:v", "300k", "-output_ts_offset", offset)
        # Gaps are cut out of the stream, leaving a hole in the timestamps
        # as a muted sender leaves in the recorder's file.
        t0 = start / 1000
        keep = "*".join(f"not(between(t,{a - t0},{b - t0}))"
                        for a, b in gaps) or "1"
        _encode(os.path.join(d, afile),
                "-f", "lavfi", "-i", f"sine=f={hz}:d={secs}",
                "-af", f"aselect='{keep}'", "-c:a", "libopus", "-b:a", "48k",
                "-output_ts_offset", offset)
        timeline.append({"t_ms": start, "type": "participant_joined",
                         "participant": {"id": pid, "display": display,
                                         "role": role}})
        for kind, tid, f, src in (("video", f"v{n}", vfile, "camera"),
                                  ("audio", f"a{n}", afile, "microphone")):
            t = {"id": tid, "participant": pid, "display": display,
                 "role": role, "kind": kind, "source": src,
                 "codec": "vp8" if kind == "video" else "opus", "file": f,
                 "start_ms": start, "end_ms": end,
                 "frames": int(10 * secs) if kind == "video" else None,
                 "mutes": [{"from_ms": int(a * 1000), "to_ms": int(b * 1000)}
                           for a, b in gaps] if kind == "audio" else
                 [{"from_ms": a, "to_ms": b}
                  for a, b in VIDEO_MUTES.get(pid, [])]}
            if state != "complete":
                del t["end_ms"], t["frames"]
            tracks.append(t)
            timeline.append({"t_ms": start, "type": "track_added",
                             "track": tid, "participant": pid, "kind": kind,
                             "source": src, "file": f})
            for m in t["mutes"]:
                timeline.append({"t_ms": m["from_ms"], "type": "track_muted",
                                 "track": tid, "muted": True})
                timeline.append({"t_ms": m["to_ms"], "type": "track_muted",
                                 "track": tid, "muted": False})
        if screen and role == "teacher":
            sfile = f"{pid}-video-s{n}.webm"
            _encode(os.path.join(d, sfile),
                    "-f", "lavfi", "-i", "color=c=yellow:s=160x120:r=5:d="
                    f"{(screen[1] - screen[0]) / 1000}", "-c:v", "libvpx",
                    "-deadline", "realtime", "-cpu-used", "8",
                    "-output_ts_offset", f"{screen[0] / 1000:.3f}")
            tracks.append({"id": f"s{n}", "participant": pid,
                           "kind": "video", "source": "screen",
                           "codec": "vp8", "file": sfile,
                           "start_ms": screen[0], "end_ms": screen[1]})
        if end < DURATION_MS:
            timeline.append({"t_ms": end, "type": "participant_left",
                             "participant": {"id": pid, "display": display,
                                             "role": role}})
    manifest = {
        "format": "weir-recording", "version": 1, "id": "rec-test",
        "room": "class-1", "state": state,
        "started_at": "2026-11-26T04:30:00.123Z",
        "started_wall_ms": 1795000000123, "started_by": "p1",
        "participants": [{"id": p[0], "display": p[1], "role": p[2],
                          "joined_ms": p[6],
                          "left_ms": p[7] if p[7] < DURATION_MS else None}
                         for p in PEOPLE],
        "tracks": tracks, "timeline": "timeline.jsonl"}
    for seq, (t_ms, op) in enumerate(board, 1):
        timeline.append({"t_ms": t_ms, "type": "whiteboard",
                         "label": "whiteboard", "seq": seq, "from": "p1",
                         "data": op})
    timeline.sort(key=lambda e: e["t_ms"])
    if state == "complete":
        manifest["duration_ms"] = DURATION_MS
        timeline.append({"t_ms": DURATION_MS, "type": "recording_stopped"})
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    with open(os.path.join(d, "timeline.jsonl"), "w") as f:
        f.writelines(json.dumps(e) + "\n" for e in timeline)


def run_tool(*args, timeout=120):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True,
                          text=True, timeout=timeout)


def duration_of(path):
    out = subprocess.run([FFPROBE, "-v", "error", "-show_entries",
                          "format=duration", "-of", "csv=p=0", path],
                         capture_output=True, text=True, check=True).stdout
    return float(out)


def frame_at(path, t, size=SIZE):
    """The decoded RGB picture at t seconds: (bytes, width)."""
    raw = subprocess.run([FFMPEG, "-v", "error", "-ss", str(t), "-i", path,
                          "-frames:v", "1", "-f", "rawvideo", "-pix_fmt",
                          "rgb24", "-"], capture_output=True, check=True,
                         timeout=30).stdout
    assert len(raw) == size[0] * size[1] * 3
    return raw, size[0]


def share(frame, rect, test):
    """Fraction of the pixels in rect (x, y, w, h) for which test(rgb)."""
    raw, width = frame
    x0, y0, w, h = rect[:4]
    hits = total = 0
    for y in range(y0, y0 + h, 2):
        row = (y * width + x0) * 3
        for x in range(0, w, 2):
            px = raw[row + 3 * x:row + 3 * x + 3]
            total += 1
            hits += bool(test(px))
    return hits / total


def near(colour):
    return lambda px: sum(abs(a - b) for a, b in zip(px, colour)) < 120


def dark(px):
    return max(px) < 60


def audio_of(path, rate=8000):
    raw = subprocess.run([FFMPEG, "-v", "error", "-i", path, "-map", "0:a",
                          "-ac", "1", "-ar", str(rate), "-f", "s16le", "-"],
                         capture_output=True, check=True, timeout=30).stdout
    return array.array("h", raw), rate


def tone_level(samples, rate, t0, t1, hz):
    """Amplitude (full scale 1.0) of the hz component in [t0, t1) s:
    Goertzel filter, no numpy."""
    seg = samples[int(t0 * rate):int(t1 * rate)]
    n = len(seg)
    coeff = 2 * math.cos(2 * math.pi * hz / rate)
    s1 = s2 = 0.0
    for v in seg:
        s1, s2 = v / 32768 + coeff * s1 - s2, s1
    power = s1 * s1 + s2 * s2 - coeff * s1 * s2
    return 2 * math.sqrt(max(power, 0.0)) / n


def slots_from(stderr):
    """{display: (x, y, w, h, "large"|"tile")} from the tool's layout lines;
    with both, the "large" one is also under ("large", display)."""
    slots = {}
    for m in re.finditer(r"composite:\s+(large|tile)\s+(\d+)x(\d+)\+(\d+)"
                         r"\+(\d+) ([^:]+):", stderr):
        w, h, x, y = (int(v) for v in m.group(2, 3, 4, 5))
        rect = (x, y, w, h, m.group(1))
        if m.group(1) == "large":
            slots[("large", m.group(6))] = rect
        slots[m.group(6)] = rect
    return slots


def inner(rect):
    """Half of a slot's width and height, centred but a little high: clear
    of 16:9 letterboxing and of the name label in the bottom corner."""
    x, y, w, h = rect[:4]
    return (x + w // 4, y + h // 6, w // 2, h // 2)


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("rec") / "rec-test")
    make_recording(d)
    return d


@pytest.fixture(scope="module")
def composed(recording):
    out = os.path.join(os.path.dirname(recording), "class.mp4")
    res = run_tool(recording, "-o", out, "--size", f"{SIZE[0]}x{SIZE[1]}",
                   "--fps", "10")
    return res, out


def test_progress_ends_at_100_for_every_duration():
    """The last line of a finished run says 100 % whatever the duration: 100 * x / x is
    99.999... in floating point for about one duration in twenty (a flaky test before)."""
    import io
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        from weir_composite.progress import Reporter
    finally:
        sys.path.pop(0)
    for ms in range(1000, 20000, 7):
        r = Reporter(ms / 1000, stream=io.StringIO())
        r.update(ms / 2000, "1x")
        r.update(ms / 1000, "1x", final=True)
        lines = r.stream.getvalue().splitlines()
        assert lines[-1].startswith("composite: 100% ("), (ms, lines)
        assert re.match(r"composite: (49|50)% \(", lines[0]), (ms, lines)


def test_composes_with_progress(composed):
    res, out = composed
    assert res.returncode == 0, res.stderr
    assert abs(duration_of(out) - DURATION_MS / 1000) <= 0.3
    pcts = [int(p) for p in re.findall(r"composite: (\d+)% \(", res.stderr)]
    assert pcts and pcts[-1] == 100, res.stderr
    assert pcts == sorted(pcts)
    assert f"wrote {out}" in res.stderr
    assert not os.path.exists(out.replace(".mp4", ".part.mp4"))


def test_pictures_in_their_slots(composed):
    res, out = composed
    assert res.returncode == 0, res.stderr
    slots = slots_from(res.stderr)
    teacher, early, late = (slots[p[1]] for p in PEOPLE)
    assert teacher[4] == "large" and early[4] == late[4] == "tile"
    assert teacher[2] * teacher[3] > 4 * early[2] * early[3]
    at1 = frame_at(out, 1.0)
    assert share(at1, inner(teacher), near(RED)) > 0.9
    assert share(at1, teacher, near(RED)) > 0.6   # most of the large slot
    assert share(at1, inner(early), near(GREEN)) > 0.9
    assert share(at1, late, dark) > 0.8           # not there yet: background
    at5 = frame_at(out, 5.0)
    assert share(at5, inner(late), near(BLUE)) > 0.9
    assert share(at5, inner(teacher), near(RED)) > 0.9
    at7 = frame_at(out, 7.0)
    assert share(at7, late, dark) > 0.8           # left at 6 s
    assert share(at7, early, dark) > 0.8          # camera muted 6.5..7.5 s
    assert share(frame_at(out, 7.8), inner(early), near(GREEN)) > 0.9


def test_audio_mixed_in_place(composed):
    res, out = composed
    assert res.returncode == 0, res.stderr
    pcm, rate = audio_of(out)
    assert abs(len(pcm) / rate - DURATION_MS / 1000) <= 0.3

    def level(t0, hz):
        return tone_level(pcm, rate, t0, t0 + 0.5, hz)

    # lavfi's sine is 1/8 full scale; present > 0.06, absent < 0.02.
    for t0 in (1.0, 2.2):
        assert level(t0, 440) > 0.06 and level(t0, 660) > 0.06
        assert level(t0, 1000) < 0.02            # the late student: silent
    assert level(4.0, 1000) > 0.06               # ... until 3 s
    assert level(4.0, 440) > 0.06
    assert level(5.2, 440) < 0.02                # teacher's gap 4.8..6.3 s
    assert level(5.2, 660) > 0.06                # not attenuated by others
    assert level(6.8, 440) > 0.06                # back, at the right time
    assert level(6.8, 1000) < 0.02               # left at 6 s


def variant(recording, tmp_path, name, **kw):
    """A copy of the module's recording with its manifest rewritten."""
    d = str(tmp_path / name)
    shutil.copytree(recording, d)
    make_recording(d, **kw)
    return d


def test_screen_share_takes_the_large_slot(recording, tmp_path):
    d = variant(recording, tmp_path, "rec-screen", screen=(2000, 5000))
    out = str(tmp_path / "screen.mp4")
    res = run_tool(d, "-o", out, "--size", "320x180", "--fps", "5")
    assert res.returncode == 0, res.stderr
    slots = slots_from(res.stderr)
    large, cam = slots[("large", "Ms Red")], slots["Ms Red"]
    assert cam[4] == "tile"
    yellow = (255, 255, 0)
    at1, at3, at6 = (frame_at(out, t, (320, 180)) for t in (1.0, 3.5, 6.0))
    assert share(at1, inner(large), near(RED)) > 0.9
    assert share(at1, cam, dark) > 0.8           # camera is in the large slot
    assert share(at3, inner(large), near(yellow)) > 0.9
    assert share(at3, inner(cam), near(RED)) > 0.9
    assert share(at6, inner(large), near(RED)) > 0.9
    assert share(at6, cam, dark) > 0.8


def test_whiteboard_takes_the_large_slot(recording, tmp_path):
    line = {"op": "line", "pts": [[0.05, 0.5], [0.5, 0.5], [0.95, 0.5]],
            "c": "#00f", "w": 40}
    junk = {"op": "line", "pts": "not points"}   # ignored, as by browsers
    d = variant(recording, tmp_path, "rec-board",
                board=[(2000, line), (2500, junk), (6000, {"op": "clear"})])
    out = str(tmp_path / "board.mp4")
    res = run_tool(d, "-o", out, "--size", "320x180", "--fps", "5")
    assert res.returncode == 0, res.stderr
    assert "whiteboard: 2 ops" in res.stderr
    slots = slots_from(res.stderr)
    large, cam = slots[("large", "Ms Red")], slots["Ms Red"]
    x, y, w, h = large[:4]
    pw = min(w, h * 16 // 9)                      # the 16:9 board in the slot
    mid = y + (h - pw * 9 // 16) // 2 + pw * 9 // 32
    band = (x + w // 4, mid - 1, w // 2, 3)       # across the middle: ink
    above = (x + w // 4, mid - h // 5, w // 2, h // 10)
    at1, at4, at7 = (frame_at(out, t, (320, 180)) for t in (1.0, 4.0, 7.0))
    assert share(at1, inner(large), near(RED)) > 0.9
    assert share(at4, band, near(BLUE)) > 0.9
    assert share(at4, above, near((255, 255, 255))) > 0.9
    assert share(at4, inner(cam), near(RED)) > 0.9   # teacher to the strip
    assert share(at7, inner(large), near(RED)) > 0.9  # cleared at 6 s
    assert share(at7, cam, dark) > 0.8
    res = run_tool(d, "-o", out, "--size", "320x180", "--fps", "5",
                   "--no-whiteboard")
    assert res.returncode == 0, res.stderr
    assert share(frame_at(out, 4.0, (320, 180)), inner(large),
                 near(RED)) > 0.9


def test_picture_size_change_mid_track(recording, tmp_path):
    """A simulcast layer switch changes the picture size inside one file
    (timeline "layer_changed"); the tile keeps its slot and shows both."""
    d = variant(recording, tmp_path, "rec-layers")
    parts = []
    for n, (lavfi, size) in enumerate((("red", "160x90"),
                                       ("0xFF00FF", "160x120"))):
        parts.append(str(tmp_path / f"part{n}.webm"))
        _encode(parts[-1], "-f", "lavfi", "-i",
                f"color=c={lavfi}:s={size}:r=10:d=4", "-c:v", "libvpx",
                "-deadline", "realtime", "-cpu-used", "8")
    listing = tmp_path / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    target = os.path.join(d, "p1-video-v0.webm")
    os.unlink(target)
    _encode(target, "-f", "concat", "-safe", "0", "-i", str(listing),
            "-c", "copy")
    out = str(tmp_path / "layers.mp4")
    res = run_tool(d, "-o", out, "--size", "320x180", "--fps", "5")
    assert res.returncode == 0, res.stderr
    large = slots_from(res.stderr)["Ms Red"]
    at2, at6 = (frame_at(out, t, (320, 180)) for t in (2.0, 6.0))
    assert share(at2, inner(large), near(RED)) > 0.9
    assert share(at6, inner(large), near((255, 0, 255))) > 0.9


def test_killed_recording_missing_file(recording, tmp_path):
    d = variant(recording, tmp_path, "rec-killed", state="recording")
    os.unlink(os.path.join(d, "p3-video-v2.webm"))
    # The server died mid-write: p2's camera file ends in the middle of a
    # cluster.
    cut = os.path.join(d, "p2-video-v1.webm")
    os.truncate(cut, os.path.getsize(cut) * 6 // 10)
    # Killed before the manifest listed p2's audio: only the timeline has it.
    path = os.path.join(d, "manifest.json")
    with open(path) as f:
        manifest = json.load(f)
    manifest["tracks"] = [t for t in manifest["tracks"] if t["id"] != "a1"]
    # A name is user input: it must reach the picture as text, never as
    # filter graph syntax or drawtext expansions.
    weird = "G'us: [x];, %{eif:1/0:d} \\ \n😀"
    manifest["participants"][1]["display"] = weird
    for t in manifest["tracks"]:
        if t["participant"] == "p2":
            t["display"] = weird
    with open(path, "w") as f:
        json.dump(manifest, f)
    out = str(tmp_path / "killed.webm")
    res = run_tool(d, "-o", out, "--size", "320x180", "--fps", "5")
    assert res.returncode == 0, res.stderr
    assert "p3-video-v2.webm" in res.stderr and "missing" in res.stderr
    # No duration_ms, no end_ms: the length comes from the files.
    assert abs(duration_of(out) - DURATION_MS / 1000) <= 0.3
    pcm, rate = audio_of(out)
    assert tone_level(pcm, rate, 4.0, 4.5, 1000) > 0.06  # p3's audio stays
    assert tone_level(pcm, rate, 1.0, 1.5, 660) > 0.06   # from the timeline


@pytest.mark.parametrize("content,message", [
    ("", "invalid JSON"),
    ("[1, 2]", "not a JSON object"),
    ('{"format": "something-else", "version": 1}', "not 'weir-recording'"),
    ('{"format": "weir-recording", "version": 1, "tracks": []}',
     "no usable tracks"),
    ('{"format": "weir-recording", "version": 1, "tracks": [{"id": "x", '
     '"kind": "video", "file": "../../etc/passwd"}]}', "no usable tracks"),
])
def test_bad_manifest(tmp_path, content, message):
    (tmp_path / "manifest.json").write_text(content)
    res = run_tool(str(tmp_path), "-o", str(tmp_path / "x.mp4"))
    assert res.returncode == 2
    assert message in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_no_manifest(tmp_path):
    res = run_tool(str(tmp_path))
    assert res.returncode == 2
    assert "no manifest" in res.stderr and "Traceback" not in res.stderr
