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

    def font(self, wanted=None):
        """A font file usable by drawtext, or None to draw no names."""
        if "drawtext" not in self.filters:
            return None
        for path in ([wanted] if wanted else FONT_CANDIDATES):
            if path and os.path.isfile(path) and SAFE_PATH.match(path):
                return path
        return None


def probe(path):
    """Container/stream facts of one track file: dict with start (s),
    kind ("audio"/"video"), codec, width, height; raises CompositeError."""
    cmd = [FFPROBE, "-v", "error", "-of", "json", "-show_entries",
           "format=start_time:stream=codec_type,codec_name,width,height",
           "file:" + path]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        msg = res.stderr.strip().splitlines()
        raise CompositeError(msg[-1] if msg else "ffprobe failed")
    try:
        info = json.loads(res.stdout)
        streams = info.get("streams") or []
        start = info.get("format", {}).get("start_time")
    except (ValueError, AttributeError) as e:
        raise CompositeError(f"ffprobe output unreadable: {e}") from e
    if not streams:
        raise CompositeError("no audio or video stream in the file")
    s = streams[0]
    return {
        "start": float(start) if start not in (None, "N/A") else None,
        "kind": s.get("codec_type"),
        "codec": s.get("codec_name"),
        "width": s.get("width"),
        "height": s.get("height"),
    }


def packet_spans(path):
    """(pts, end) in seconds of every packet of the file's first stream, in
    order. Reading packets (not decoding) is fast, and it is the only truth
    for a killed recording whose file has no duration or cues."""
    cmd = [FFPROBE, "-v", "error", "-select_streams", "0", "-of", "csv=p=0",
           "-show_entries", "packet=pts_time,duration_time", "file:" + path]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    spans = []
    for line in res.stdout.splitlines():
        parts = line.split(",")
        try:
            pts = float(parts[0])
        except (ValueError, IndexError):
            continue  # N/A: packets without a timestamp carry no placement
        try:
            dur = float(parts[1])
        except (ValueError, IndexError):
            dur = 0.0
        spans.append((pts, pts + dur))
    if not spans and res.returncode != 0:
        msg = res.stderr.strip().splitlines()
        raise CompositeError(msg[-1] if msg else "ffprobe failed")
    spans.sort()
    return spans
