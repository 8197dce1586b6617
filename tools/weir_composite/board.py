"""The whiteboard as one more video input: a slideshow of the pictures
whiteboard.py draws, written to the run's temporary directory and read by
ffmpeg's concat demuxer (each picture lasts until the next one starts).
"""
import os

from . import whiteboard


class BoardTrack:
    """Looks like a recording.Track to layout.py and graph.py: a video
    shown during `intervals`, read with its own input options."""

    def __init__(self, ops, intervals):
        self.ops = ops
        self.intervals = intervals
        self.id = "whiteboard"
        self.file = "whiteboard"
        self.participant = ""
        self.kind = "video"
        self.source = "whiteboard"
        self.start = intervals[0][0]
        self.end = intervals[-1][1]
        self.mutes = []
        self.width, self.height = 1600, 900   # web/whiteboard.js's board
        self.path = None
        self.offset = 0.0
        self.input_args = None
        self.pictures = 0


def prepare(events, duration):
    """A BoardTrack when the timeline has ink on the board, else None."""
    ops = whiteboard.ops_of(events)
    intervals = whiteboard.inked_intervals(ops, duration)
    intervals = [(s, min(e, duration)) for s, e in intervals if s < duration]
    return BoardTrack(ops, intervals) if intervals else None


def write(board, rect, tmpdir, duration):
    """Draws the pictures at the size the board gets in rect (16:9, even)
    and points board.input_args at the slideshow."""
    x, y, w, h = rect
    bw = min(w, h * 16 // 9, 1280) // 2 * 2
    bh = max(2, bw * 9 // 16 // 2 * 2)
    lines = ["ffconcat version 1.0"]
    prev = None
    for n, (t, png) in enumerate(whiteboard.render(board.ops, bw, bh)):
        name = f"board-{n:05d}.png"
        with open(os.path.join(tmpdir, name), "wb") as f:
            f.write(png)
        if prev is not None:
            lines.append(f"duration {max(t - prev, 0.001):.3f}")
        lines.append(f"file '{name}'")
        prev = t
        board.pictures = n + 1
    lines.append(f"duration {max(duration - prev, 0.001):.3f}")
    # The concat demuxer ignores the last entry's duration: repeat it.
    lines.append(lines[-2])
    board.path = os.path.join(tmpdir, "board.ffconcat")
    with open(board.path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    board.input_args = ["-f", "concat", "-safe", "0", "-i", board.path]
