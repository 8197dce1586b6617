"""The recorder's H.264 path against a real encoder and decoder.

ffmpeg + libx264 make an Annex-B clip (an AUD before every access unit);
tests/support/h264_rtp_sample.c (built as `h264-rtp-sample`, path in env
WEIR_H264_SAMPLE_BIN) packetizes it as RFC 6184 RTP the way a browser does
(STAP-A SPS+PPS before each IDR, FU-A above ~1100 bytes, sequence numbers and
timestamps that wrap), pushes the packets through the recorder's frame
assembler (plugins/recorder/frame_assembler.c, depacketize_h264.c,
h264_sps.c) and writes the frames with its Matroska writer (webm_writer.c,
V_MPEG4/ISO/AVC with the assembler's avcC). ffprobe and ffmpeg then read the
.mkv back: it decodes without an error, every picture equals ffmpeg's own
decode of the Annex-B input (per-frame md5 of the raw frames), timestamps
are 40 ms apart, and after a lost packet the damaged frames up to the next
keyframe are missing while everything else is still identical.

No server is started: the RTP path (assembler) and container are checked
with real bitstreams; tests/unit/test_frame_assembler.c covers the packet
edge cases with hand-built packets.
"""

import json
import os
import shutil
import subprocess

import pytest

SAMPLE = os.environ.get("WEIR_H264_SAMPLE_BIN")
FPS = 25
FRAMES = 75  # 3 s
GOP = 25


def _has_libx264():
    if not shutil.which("ffmpeg"):
        return False
    r = subprocess.run(["ffmpeg", "-hide_banner", "-encoders"], capture_output=True, text=True,
                       timeout=30)
    return " libx264 " in r.stdout


pytestmark = [
    pytest.mark.skipif(not SAMPLE, reason="WEIR_H264_SAMPLE_BIN is not set (meson builds "
                       "tests/h264-rtp-sample)"),
    pytest.mark.skipif(not shutil.which("ffprobe") or not shutil.which("ffmpeg"),
                       reason="needs ffmpeg and ffprobe"),
    pytest.mark.skipif(not _has_libx264(), reason="ffmpeg has no libx264 encoder"),
]


def encode(path, *extra, profile="baseline"):
    """A 3 s 320x240 25 fps clip, keyframes every 25 frames (no scene cuts, no B-frames)."""
    r = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=size=320x240:rate={FPS}", "-t", str(FRAMES // FPS), *extra,
         "-pix_fmt", "yuv420p", "-c:v", "libx264", "-profile:v", profile, "-bf", "0", "-g", str(GOP),
         "-sc_threshold", "0", "-bsf:v", "h264_metadata=aud=insert", "-f", "h264", str(path)],
        capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("h264")
    # "plain": small frames (deltas fit one packet); "noisy": four slices (NAL
    # units) per picture, each several FU-A fragments, so a picture is many
    # packets and a loss lands inside a fragmented NAL unit.
    return {"plain": encode(d / "plain.h264"),
            "noisy": encode(d / "noisy.h264", "-vf", "noise=alls=12:allf=t",
                            "-x264-params", "slices=4"),
            # Chrome also offers High profile (640c1f): avcC then has the High extension.
            "high": encode(d / "high.h264", profile="high")}


def run_sample(src, out, *flags):
    r = subprocess.run([SAMPLE, *flags, str(src), str(out)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def decode_md5s(path):
    """ffmpeg decodes the file: (stderr, one md5 per decoded raw frame, in order)."""
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "framemd5",
                        "-"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    md5s = [line.rsplit(",", 1)[1].strip() for line in r.stdout.splitlines()
            if line and not line.startswith("#")]
    return r.stderr, md5s


def probe(path, *entries):
    r = subprocess.run(["ffprobe", "-v", "error", "-of", "json", *entries, str(path)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def keyframe_indices(src):
    """Indices of the keyframes in the Annex-B input, as ffprobe's decoder sees them."""
    frames = probe(src, "-show_entries", "frame=key_frame")["frames"]
    return [i for i, f in enumerate(frames) if f["key_frame"] == 1]


def annexb_nals(src):
    """The NAL units of an Annex-B file (start codes and trailing zero bytes removed)."""
    data = src.read_bytes()
    out = []
    for chunk in data.split(b"\x00\x00\x01")[1:]:
        nal = chunk.rstrip(b"\x00")
        if nal:
            out.append(nal)
    return out


def extradata(mkv):
    """The track's CodecPrivate, from ffprobe's hex dump (`addr: 4-hex groups  ascii`)."""
    st = probe(mkv, "-show_streams", "-show_data")["streams"][0]
    hexpart = "".join(line.split(": ", 1)[1][:39] for line in st["extradata"].splitlines()
                      if ": " in line)
    return bytes.fromhex(hexpart.replace(" ", ""))


def expected_avcc(src):
    """avcC (ISO/IEC 14496-15 §5.3.3.1) for the input's SPS and PPS (8-bit 4:2:0)."""
    nals = annexb_nals(src)
    sps = next(n for n in nals if n[0] & 0x1F == 7)
    pps = next(n for n in nals if n[0] & 0x1F == 8)
    return (bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps
            + bytes([1]) + len(pps).to_bytes(2, "big") + pps
            # High profiles: chroma_format 1, bit depths 8, no SPS extensions.
            + (bytes([0xFD, 0xF8, 0xF8, 0]) if sps[1] in (100, 110, 122, 144) else b""))


def check_container(src, mkv, meta):
    assert extradata(mkv) == expected_avcc(src)
    st = probe(mkv, "-show_entries", "stream=codec_name,width,height")["streams"]
    assert len(st) == 1
    assert (st[0]["codec_name"], st[0]["width"], st[0]["height"]) == ("h264", 320, 240)
    assert (meta["width"], meta["height"]) == (320, 240)
    pkts = probe(mkv, "-show_entries", "packet=pts_time,flags")["packets"]
    assert len(pkts) == meta["frames_written"]
    # Timestamps come from the RTP timestamps: unit n at 40 n ms after the first.
    pts_ms = [round(float(p["pts_time"]) * 1000) for p in pkts]
    assert pts_ms == [40 * (u - meta["written_units"][0]) for u in meta["written_units"]]
    assert sum(1 for p in pkts if p["flags"].startswith("K")) == meta["keyframes"]


@pytest.mark.parametrize("clip", ["plain", "noisy", "high"])
@pytest.mark.parametrize("reorder", [False, True], ids=["in_order", "reordered"])
def test_clean_run_decodes_identically(clips, tmp_path, clip, reorder):
    src = clips[clip]
    mkv = tmp_path / "out.mkv"
    meta = run_sample(src, mkv, *(["--reorder"] if reorder else []))
    assert meta["frames_pushed"] == FRAMES
    assert meta["frames_written"] == FRAMES
    assert meta["dropped"] == 0 and meta["malformed"] == 0
    assert meta["written_units"] == list(range(FRAMES))
    assert meta["keyframes"] == len(keyframe_indices(src)) == FRAMES // GOP
    if clip == "noisy":
        assert meta["packets"] > 3 * FRAMES  # FU-A fragments in every frame
    check_container(src, mkv, meta)

    _, ref = decode_md5s(src)
    err, got = decode_md5s(mkv)
    assert err == ""
    assert len(ref) == len(got) == FRAMES
    assert got == ref


@pytest.mark.parametrize("clip", ["plain", "noisy"])
def test_lost_packet_drops_until_next_keyframe(clips, tmp_path, clip):
    src = clips[clip]
    keys = keyframe_indices(src)
    lost = 32  # a delta frame in the second GOP
    assert lost not in keys
    next_key = min(k for k in keys if k > lost)
    mkv = tmp_path / "lossy.mkv"
    meta = run_sample(src, mkv, "--reorder", "--drop-frame", str(lost))
    assert meta["packets_dropped"] == 1
    expected = list(range(lost)) + list(range(next_key, FRAMES))
    assert meta["written_units"] == expected
    assert meta["frames_written"] == len(expected)
    # The frames after the loss that had all their packets were dropped by the
    # assembler; the damaged one too when some of its packets arrived.
    assert meta["dropped"] >= next_key - lost - 1
    check_container(src, mkv, meta)

    _, ref = decode_md5s(src)
    err, got = decode_md5s(mkv)
    assert err == ""  # no broken frame reached the decoder
    assert got == [ref[i] for i in expected]
