"""Builds the ffmpeg filter graph and command line for a layout. Pure apart
from writing the small name files drawtext reads (into a directory the
caller owns).

Timestamps. Every track file's timestamps are already on the recording's
timeline, but ffmpeg (without -copyts) shifts each input so that it starts
at 0. Each input therefore gets -itsoffset equal to its file's start_time,
which cancels that shift exactly: frames reach the graph at their recording
time. The tests check it: a student who joined 3 s in shows from 3 s (with
no offsets, from 0). -copyts would keep the timestamps too, but it is one
switch for all inputs and the output together (and changes what -t and the
muxer's start mean); per-input offsets keep everything else ordinary.

Video: a background the length of the recording (color source, names drawn
on it) with every tile overlaid on it. overlay shows nothing from an input
before that input's first frame and, with eof_action=pass, nothing after its
last, so tiles come and go with their tracks; enable= also hides them while
muted, when the last frame would otherwise freeze on screen.

Audio: placement cannot be left to the timestamps, because amix mixes by
sample count and ignores them. Each track is cut into segments at gaps
(recording.AUDIO_GAP_S), and each segment is trimmed by timestamp, restarted
at 0, made gap-free inside (aresample=async fills short DTX gaps with
silence) and delayed by its start with adelay, which produces its silence
lazily. Filling long gaps with aresample alone would also be correct but
allocates the whole silence in one frame (450 MB for a 20-minute mute).
amix then sums with normalize=0: a speaker is not attenuated by the silent
tracks.
"""
import os

from . import layout

BG = "0x202020"
RATE = 48000


def _num(v):
    return f"{v:.3f}"


def enable_expr(intervals):
    # Quoted where used ('...'), so the commas need no escaping.
    return "+".join(f"between(t,{_num(s)},{_num(e)})"
                    for s, e in intervals)


def _name_file(tmpdir, n, text):
    path = os.path.join(tmpdir, f"name-{n}.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class Graph:
    """The filter graph text and the inputs it refers to, in input order."""

    def __init__(self):
        self.inputs = []   # tracks; input index = position
        self.lines = []

    def input_of(self, track):
        for i, t in enumerate(self.inputs):
            if t is track:
                return i
        self.inputs.append(track)
        return len(self.inputs) - 1

    def text(self):
        return ";\n".join(self.lines) + "\n"


def _drawtext(font, path, rect, size, enable=None):
    """A name: centred and dim on an empty slot's background, or (with an
    enable expression) as a small label in the corner of a visible tile."""
    x, y, w, h = rect
    if enable:
        look = (f"fontcolor=white@0.9:box=1:boxcolor=black@0.5:boxborderw=4:"
                f"x={x}+{size // 2}:y={y}+{h}-text_h-{size // 2}:"
                f"enable='{enable}'")
    else:
        look = f"fontcolor=white@0.6:x={x}+({w}-text_w)/2:y={y}+({h}-text_h)/2"
    return (f"drawtext=fontfile={font}:textfile={path}:expansion=none:"
            f"fontsize={size}:{look}")


def fit_size(text, rect, lines, most=200):
    """A font size for text: 1/lines of the rect's height, smaller when the
    text would be wider than the rect (drawtext does not clip; DejaVu Sans
    averages about 0.6 em a character)."""
    w, h = rect[2], rect[3]
    by_width = int(w * 0.9 / (0.6 * max(len(text), 1)))
    return max(6, min(h // lines, by_width, most))


def fitted(rect, width, height):
    """Where a width x height picture lands when scaled into rect keeping
    its aspect (as the scale+pad below do): its label goes in its corner."""
    x, y, w, h = rect
    if not (isinstance(width, int) and isinstance(height, int)
            and width > 0 and height > 0):
        return rect
    k = min(w / width, h / height)
    fw, fh = int(width * k), int(height * k)
    return (x + (w - fw) // 2, y + (h - fh) // 2, fw, fh)


def _video(g, slots, size, fps, duration, font, tmpdir):
    width, height = size
    base = [f"color=c={BG}:s={width}x{height}:r={fps}:d={_num(duration)}",
            "format=yuv420p"]
    showings = [(slot, sh) for slot in slots for sh in slot.showings
                if sh.intervals]
    labels = []
    if font:
        names = {}

        def name_file(text):
            if text not in names:
                names[text] = _name_file(tmpdir, len(names), text)
            return names[text]

        for slot in slots:
            if slot.display:
                base.append(_drawtext(font, name_file(slot.display),
                                      slot.rect, fit_size(slot.display,
                                                          slot.rect, 8)))
        for slot, sh in showings:
            # Labels go on top of every picture: hide this one while a later
            # showing of the slot (a screen share) covers its picture.
            later = slot.showings[slot.showings.index(sh) + 1:]
            shown = layout.subtract(sh.intervals, [iv for o in later
                                                   for iv in o.intervals])
            if sh.display and shown:
                rect = fitted(slot.rect, sh.track.width, sh.track.height)
                labels.append(_drawtext(font, name_file(sh.display), rect,
                                        fit_size(sh.display, rect, 12, 24),
                                        enable=enable_expr(shown)))
    g.lines.append(",".join(base) + "[bg]")

    uses = {}
    for _, sh in showings:
        i = g.input_of(sh.track)
        uses[i] = uses.get(i, 0) + 1
    for i, n in uses.items():
        if n > 1:
            outs = "".join(f"[v{i}_{k}]" for k in range(n))
            g.lines.append(f"[{i}:v]split={n}{outs}")
    taken = {}
    cur = "bg"
    for n, (slot, sh) in enumerate(showings):
        i = g.input_of(sh.track)
        k = taken.get(i, 0)
        taken[i] = k + 1
        src = f"[v{i}_{k}]" if uses[i] > 1 else f"[{i}:v]"
        x, y, w, h = slot.rect
        g.lines.append(
            f"{src}scale={w}:{h}:force_original_aspect_ratio=decrease:"
            f"force_divisible_by=2,pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:"
            f"color={BG},setsar=1[t{n}]")
        g.lines.append(
            f"[{cur}][t{n}]overlay=x={x}:y={y}:eof_action=pass:"
            f"enable='{enable_expr(sh.intervals)}'[o{n}]")
        cur = f"o{n}"
    tail = labels + ["format=yuv420p"]
    g.lines.append(f"[{cur}]" + ",".join(tail) + "[vout]")


def _audio(g, tracks, duration, limiter):
    parts = []
    for t in tracks:
        i = g.input_of(t)
        src = f"[{i}:a]"
        if len(t.segments) > 1:
            outs = "".join(f"[s{i}_{k}]" for k in range(len(t.segments)))
            g.lines.append(f"{src}asplit={len(t.segments)}{outs}")
        for k, (s, e) in enumerate(t.segments):
            if len(t.segments) > 1:
                src = f"[s{i}_{k}]"
            label = f"a{len(parts)}"
            s = max(s, 0.0)  # Opus files start a few ms early (pre-skip)
            g.lines.append(
                f"{src}atrim=start={_num(s)}:end={_num(e + 0.1)},"
                "asetpts=PTS-STARTPTS,"
                f"aresample={RATE}:async=1,"
                f"adelay=delays={round(s * 1000)}:all=1[{label}]")
            parts.append(label)
    end = (f"apad=whole_dur={_num(duration)},atrim=end={_num(duration)},"
           f"aformat=sample_rates={RATE}:channel_layouts=stereo[aout]")
    if not parts:
        g.lines.append(f"anullsrc=r={RATE}:cl=stereo," + end)
    elif len(parts) == 1:
        g.lines.append(f"[{parts[0]}]" + end)
    else:
        ins = "".join(f"[{p}]" for p in parts)
        # normalize=0 sums: several loud voices at once can pass full
        # scale, which the limiter (when this ffmpeg has one that keeps
        # the timing) rounds off instead of letting the encoder clip.
        limit = "alimiter=limit=0.97:level=false:latency=1," if limiter else ""
        g.lines.append(f"{ins}amix=inputs={len(parts)}:normalize=0:"
                       f"duration=longest:dropout_transition=0,{limit}" + end)


def build(rec, slots, size, fps, font, tmpdir, limiter=False):
    """A Graph for rec laid out as slots; audio is every audio track."""
    g = Graph()
    _video(g, slots, size, fps, rec.duration, font, tmpdir)
    _audio(g, [t for t in rec.tracks if t.kind == "audio"], rec.duration,
           limiter)
    return g


CODECS = {
    "h264": ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
             "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k"],
    "vp8": ["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8",
            "-b:v", "1500k", "-c:a", "libopus", "-b:a", "96k"],
}


def command(ffmpeg, g, script, duration, codec, output):
    """The ffmpeg argv: inputs with their offsets, the graph from the script
    file, progress on stdout for progress.py."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-y",
            "-progress", "pipe:1", "-nostats"]
    for t in g.inputs:
        if getattr(t, "input_args", None):   # the whiteboard (board.py)
            argv += t.input_args
            continue
        # file: keeps names with ':' from being read as ffmpeg protocols.
        argv += ["-itsoffset", f"{t.offset:.6f}", "-i", "file:" + t.path]
    argv += ["-filter_complex_script", script,
             "-map", "[vout]", "-map", "[aout]"]
    argv += CODECS[codec]
    if output.lower().endswith((".mp4", ".mov")):
        argv += ["-movflags", "+faststart"]
    argv += ["-t", _num(duration), output]
    return argv
