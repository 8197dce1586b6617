"""The recorder's WebM writer against real decoders.

tests/support/webm_sample.c (built as `webm-sample`, path in env
WEIR_WEBM_SAMPLE_BIN) encodes ~3 s of VP8 and ~3 s of Opus with libvpx and
libopus and writes them through plugins/recorder/webm_writer.c. Here ffprobe
and ffmpeg read the files back: every frame decodes without an error, the
counts, keyframes, first timestamps and durations are what was written, and
a file cut at any byte (the server killed mid-recording) still decodes every
whole frame before the cut, identically to the complete file.

No server is started: this checks the container bytes, which the unit test
(tests/unit/test_webm_writer.c) checks against our own EBML reader; here the
reader is libavformat's.
"""

import json
import os
import shutil
import subprocess

import pytest

SAMPLE = os.environ.get("WEIR_WEBM_SAMPLE_BIN")

pytestmark = [
    pytest.mark.skipif(not SAMPLE, reason="WEIR_WEBM_SAMPLE_BIN is not set (meson builds "
                       "tests/webm-sample when libvpx and libopus are found)"),
    pytest.mark.skipif(not shutil.which("ffprobe") or not shutil.which("ffmpeg"),
                       reason="needs ffmpeg and ffprobe"),
]


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("webm")
    video, audio = d / "video.webm", d / "audio.webm"
    r = subprocess.run([SAMPLE, str(video), str(audio)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    meta = json.loads(r.stdout)
    meta["video"]["path"] = video
    meta["audio"]["path"] = audio
    return meta


def probe(path, *entries):
    r = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *entries, str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def frame_md5s(path):
    """ffmpeg decodes the file: (exit code, stderr, one md5 per decoded frame)."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "framemd5",
                        "-"], capture_output=True, text=True, timeout=60)
    md5s = [line.rsplit(",", 1)[1].strip() for line in r.stdout.splitlines()
            if line and not line.startswith("#")]
    return r.returncode, r.stderr, md5s


@pytest.mark.parametrize("kind,codec", [("video", "vp8"), ("audio", "opus")])
def test_decodes_without_errors_and_counts_match(sample, kind, codec):
    t = sample[kind]
    path = t["path"]
    assert os.path.getsize(path) == t["size"]
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    info = probe(path, "-count_frames", "-show_entries",
                 "stream=codec_name,nb_read_frames,width,height,sample_rate,channels")
    s = info["streams"][0]
    assert s["codec_name"] == codec
    assert int(s["nb_read_frames"]) == t["frames"]
    if kind == "video":
        assert (s["width"], s["height"]) == (320, 240)
    else:
        assert (s["sample_rate"], s["channels"]) == ("48000", 2)


@pytest.mark.parametrize("kind", ["video", "audio"])
def test_timestamps_keyframes_and_duration(sample, kind):
    t = sample[kind]
    pkts = probe(t["path"], "-show_entries", "packet=pts_time,flags")["packets"]
    assert len(pkts) == t["frames"]
    pts = [float(p["pts_time"]) for p in pkts]
    assert pts == sorted(pts)
    # Matroska players present a block at its timestamp minus CodecDelay (RFC 9559):
    # 0 for video; for Opus the pre-skip the sample put in the track.
    want_first = (t["first_t_ms"] * 1e6 - t["codec_delay_ns"]) / 1e9
    assert abs(pts[0] - want_first) <= 0.001, (pts[0], want_first)
    duration = pts[-1] - pts[0] + t["frame_ms"] / 1000
    want = t["frames"] * t["frame_ms"] / 1000
    assert abs(duration - want) <= 0.02 * want, (duration, want)
    keys = [i for i, p in enumerate(pkts) if p["flags"].startswith("K")]
    if kind == "video":
        assert keys == [0, 30, 60], keys
    else:
        assert len(keys) == len(pkts)


@pytest.mark.parametrize("kind", ["video", "audio"])
def test_a_cut_file_still_decodes_every_whole_frame(sample, kind, tmp_path):
    t = sample[kind]
    data = t["path"].read_bytes()
    rc, err, full = frame_md5s(t["path"])
    assert rc == 0 and len(full) == t["frames"], err
    mid = t["frames"] // 2
    cuts = {
        "60%": int(len(data) * 0.60),
        "83%": int(len(data) * 0.83),
        "mid-block": (t["starts"][mid] + t["ends"][mid]) // 2,
        "block-header": t["starts"][mid] + 3,
        "block-end": t["ends"][mid],
    }
    for name, cut in cuts.items():
        cut_path = tmp_path / f"{kind}-{name}.webm"
        cut_path.write_bytes(data[:cut])
        rc, err, got = frame_md5s(cut_path)
        whole = sum(1 for end in t["ends"] if end <= cut)
        assert rc == 0, f"{name}: ffmpeg failed: {err}"
        assert whole > 0
        # Every whole frame decodes, identically to the complete file. libavformat may
        # also hand the decoder the cut block's first bytes (VP8 decodes a damaged
        # frame from them): at most one frame more, never fewer.
        assert whole <= len(got) <= whole + 1, f"{name}: {len(got)} frames, {whole} whole"
        assert got[:whole] == full[:whole], f"{name}: decoded frames differ"
