"""Command line of weir-composite: options, checks, exit codes.

Exit codes: 0 written; 1 ffmpeg failed (its last stderr lines are shown)
or a file could not be written; 2 nothing to do: bad options, missing or
invalid manifest, no usable track, no suitable encoder. Ctrl-C or SIGTERM
stops ffmpeg, removes the partial output and exits 130.
"""
import argparse
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile

from . import CompositeError
from . import board as whiteboard_input
from . import graph
from . import layout
from . import progress
from . import recording
from . import tools

DESCRIPTION = """\
Turn a Weir recording directory (manifest.json, timeline.jsonl and one file
per track) into one video of the class: the teacher's camera large, the
other participants small in a strip, screen shares in the large slot while
they last, all audio tracks mixed, as long as the recording. Runs ffmpeg and
shows its progress on stderr.

The whiteboard is redrawn from the timeline and takes the large slot while
it has ink (--no-whiteboard leaves it out); chat is not shown."""


def _size(text):
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected WxH, e.g. "
                                         "1280x720") from None
    if not (64 <= w <= 7680 and 64 <= h <= 4320) or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must "
                                         "be even, 64..7680 x 64..4320")
    return w, h


def _fps(text):
    try:
        v = int(text)
    except ValueError:
        v = 0
    if not 1 <= v <= 120:
        raise argparse.ArgumentTypeError(f"{text!r}: fps must be 1..120")
    return v


def parse(argv):
    ap = argparse.ArgumentParser(
        prog="weir-composite", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recording", metavar="RECORDING_DIR")
    ap.add_argument("-o", "--output", help="output file, .mp4 (H.264+AAC), "
                    ".webm (VP8+Opus) or .mkv; default RECORDING_DIR/"
                    "composite.mp4, or .webm when ffmpeg has no libx264")
    ap.add_argument("--size", type=_size, default=(1280, 720),
                    help="picture size WxH (default 1280x720)")
    ap.add_argument("--fps", type=_fps, default=30,
                    help="frame rate (default 30)")
    ap.add_argument("--font", help="font file for the names (default: "
                    "DejaVuSans if installed; without one, no names)")
    ap.add_argument("--dry-run", action="store_true", help="print the "
                    "layout, the ffmpeg command and its filter graph; run "
                    "nothing")
    ap.add_argument("--no-whiteboard", action="store_true",
                    help="do not draw the whiteboard")
    return ap.parse_args(argv)


def pick_codec(caps, output):
    """("h264"|"vp8", output path) for the requested or default output."""
    if output is None:
        return pick_codec(caps, "composite.mp4" if caps.has_mp4()
                          else "composite.webm")
    ext = os.path.splitext(output)[1].lower()
    if ext in (".mp4", ".mov") and caps.has_mp4():
        return "h264", output
    if ext == ".webm" and caps.has_webm():
        return "vp8", output
    if ext == ".mkv" and (caps.has_mp4() or caps.has_webm()):
        return ("h264" if caps.has_mp4() else "vp8"), output
    if ext in (".mp4", ".mov", ".webm", ".mkv"):
        raise CompositeError(f"this ffmpeg lacks the encoders for {ext} "
                             "(libx264+aac or libvpx+libopus); try another "
                             "extension")
    raise CompositeError(f"{output}: unknown output type {ext or '(none)'};"
                         " use .mp4, .webm or .mkv")


def describe(rec, slots, size, fps, codec, output):
    v = sum(t.kind == "video" for t in rec.tracks)
    print(f"composite: {rec.id}: {len(rec.tracks)} tracks ({v} video, "
          f"{len(rec.tracks) - v} audio), {rec.duration:.1f} s -> {output} "
          f"({codec}, {size[0]}x{size[1]} at {fps} fps)", file=sys.stderr)
    for s in slots:
        x, y, w, h = s.rect
        what = ", ".join(f"{sh.track.id or sh.track.file} "
                         f"[{sh.track.source}]" for sh in s.showings) or "-"
        print(f"composite:   {'large' if s.large else 'tile '} {w}x{h}+{x}+"
              f"{y} {s.display}: {what}", file=sys.stderr)


def _output_duration(path):
    res = subprocess.run([tools.FFPROBE, "-v", "error", "-show_entries",
                          "format=duration", "-of", "csv=p=0",
                          "file:" + path], capture_output=True, text=True,
                         check=False)
    try:
        return float(res.stdout.strip())
    except ValueError:
        return None


def compose(args):
    caps = tools.Capabilities()
    codec, output = pick_codec(caps, args.output)
    rec = recording.load(args.recording)
    if args.output is None:
        output = os.path.join(args.recording, output)
    board = None
    if not args.no_whiteboard:
        board = whiteboard_input.prepare(rec.events, rec.duration)
    slots = layout.make(rec, args.size[0], args.size[1], board)
    font = caps.font(args.font)
    if font is None:
        print("composite: names not drawn (no drawtext filter or no usable "
              "font file)", file=sys.stderr)
    describe(rec, slots, args.size, args.fps, codec, output)
    tmpdir = tempfile.mkdtemp(prefix="weir-composite-")
    partial = None
    try:
        if board:
            whiteboard_input.write(board, slots[0].rect, tmpdir, rec.duration)
            print(f"composite: whiteboard: {len(board.ops)} ops drawn as "
                  f"{board.pictures} pictures", file=sys.stderr)
        limiter = sum(t.kind == "audio" for t in rec.tracks) > 1 \
            and caps.limiter()
        g = graph.build(rec, slots, args.size, args.fps, font, tmpdir,
                        limiter)
        script = os.path.join(tmpdir, "graph.txt")
        with open(script, "w", encoding="utf-8") as f:
            f.write(g.text())
        base, ext = os.path.splitext(output)
        partial = f"{base}.part{ext}"
        argv = graph.command(tools.FFMPEG, g, script, rec.duration, codec,
                             partial)
        if args.dry_run:
            argv[-1] = output
            print(shlex.join(argv))
            print(f"# {script}:")
            print(g.text(), end="")
            print(f"composite: dry run; graph and name files kept in {tmpdir}",
                  file=sys.stderr)
            tmpdir = None
            return 0
        code, tail = progress.run(argv, rec.duration)
        if code != 0:
            lines = "\n".join("  " + line for line in tail) or "  (nothing)"
            raise CompositeError(f"ffmpeg failed (exit {code}); its last "
                                 f"messages:\n{lines}", 1)
        os.replace(partial, output)
        partial = None
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        if partial and os.path.exists(partial):  # failed or interrupted
            os.unlink(partial)
    dur = _output_duration(output)
    size = os.path.getsize(output)
    dur_text = f"{dur:.1f} s" if dur is not None else "duration unknown"
    print(f"composite: wrote {output} ({dur_text}, {size / 1e6:.1f} MB)",
          file=sys.stderr)
    return 0


def _stop(signum, _frame):
    # SIGTERM takes the Ctrl-C path: ffmpeg stopped, partial file removed.
    raise KeyboardInterrupt


def main(argv):
    args = parse(argv)
    signal.signal(signal.SIGTERM, _stop)
    try:
        return compose(args)
    except CompositeError as e:
        print(f"composite: error: {e}", file=sys.stderr)
        return e.code
    except OSError as e:   # our temporary files, the final rename
        print(f"composite: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ncomposite: interrupted", file=sys.stderr)
        return 130
