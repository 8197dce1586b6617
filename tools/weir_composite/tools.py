"""Thin wrappers around the ffmpeg and ffprobe executables.

Everything that spawns ffprobe, or asks ffmpeg what it was built with, lives
here so the rest of the package can stay free of subprocess details.
"""
import json
import os
import re
import shutil
import subprocess

from . import CompositeError

FFMPEG = os.environ.get("FFMPEG", "ffmpeg")
FFPROBE = os.environ.get("FFPROBE", "ffprobe")

# Fonts tried, in order, for the participants' names (drawtext needs a file).
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)

# A font path goes into the filter graph; rather than escape it for two
# parser levels, only plain paths are used (others: names are skipped).
SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+-]+$")


def require(name):
    if shutil.which(name) is None:
        raise CompositeError(f"{name} not found on PATH (install ffmpeg)", 2)


def _names(args, column):
    """Second-column names of an `ffmpeg -encoders` / `-filters` listing."""
    out = subprocess.run([FFMPEG, "-hide_banner", *args], capture_output=True,
                         text=True, check=False).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) > column and not line.startswith(" ="):
            names.add(parts[column])
    return names


class Capabilities:
    """What this ffmpeg can do; probed once per run."""

    def __init__(self):
        require(FFMPEG)
        require(FFPROBE)
        self.encoders = _names(["-encoders"], 1)
        self.filters = _names(["-filters"], 1)

    def has_mp4(self):
        return "libx264" in self.encoders and "aac" in self.encoders

    def has_webm(self):
        return "libvpx" in self.encoders and "libopus" in self.encoders

    def limiter(self):
        """alimiter with delay compensation (ffmpeg >= 5.1), to keep a sum
        of loud voices from clipping without moving it in time."""
        if "alimiter" not in self.filters:
            return False
        out = subprocess.run([FFMPEG, "-hide_banner", "-h",
                              "filter=alimiter"], capture_output=True,
                             text=True, check=False).stdout
        return re.search(r"^\s+latency\s", out, re.M) is not None

    def font(self, wanted=None):
        """A font file usable by drawtext, or None to draw no names."""
        if "drawtext" not in self.filters:
            return None
        for path in ([wanted] if wanted else FONT_CANDIDATES):
            if path and os.path.isfile(path) and SAFE_PATH.match(path):
                return path
        return None


def probe(path):
    """What one track file holds, read in one ffprobe run (packets are read,
    not decoded: fast, and the only truth for a killed recording's file,
    which has no duration or cues). A dict: start (the container's
    start_time, s, or None), kind ("audio"/"video"), codec, width, height,
    and spans, the (pts, end) in s of every packet of the first stream, in
    order. Raises CompositeError when ffprobe cannot read the file."""
    cmd = [FFPROBE, "-v", "error", "-of", "json=c=1", "-select_streams", "0",
           "-show_entries", "format=start_time:stream=codec_type,codec_name,"
           "width,height:packet=pts_time,duration_time", "file:" + path]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        msg = res.stderr.strip().splitlines()
        raise CompositeError(msg[-1] if msg else "ffprobe failed")
    try:
        info = json.loads(res.stdout)
        streams = info.get("streams") or []
        start = info.get("format", {}).get("start_time")
        packets = info.get("packets") or []
    except (ValueError, AttributeError) as e:
        raise CompositeError(f"ffprobe output unreadable: {e}") from e
    if not streams:
        raise CompositeError("no audio or video stream in the file")
    spans = []
    for p in packets:
        try:
            pts = float(p["pts_time"])
        except (KeyError, TypeError, ValueError):
            continue  # no timestamp: carries no placement
        try:
            dur = float(p.get("duration_time", 0))
        except (TypeError, ValueError):
            dur = 0.0
        spans.append((pts, pts + dur))
    spans.sort()
    s = streams[0]
    return {
        "start": float(start) if start not in (None, "N/A") else None,
        "kind": s.get("codec_type"),
        "codec": s.get("codec_name"),
        "width": s.get("width"),
        "height": s.get("height"),
        "spans": spans,
    }
