"""Runs ffmpeg and reports its progress.

ffmpeg runs with -progress pipe:1 -nostats: every ~0.5 s it writes blocks of
key=value lines to stdout ending in progress=continue (or =end). We read
out_time_us and speed from them and print
    composite: 42% (25.2 s of 60.0 s) speed 3.1x
to stderr at most PRINT_EVERY_S apart: updated in place (\\r) when stderr is
a terminal, one line each otherwise (logs, tests). ffmpeg's own stderr is
collected on a thread (so neither pipe can fill up and stall it) and its
last lines are shown if it fails.
"""
import collections
import subprocess
import sys
import threading
import time

PRINT_EVERY_S = 0.25
STDERR_LINES = 15


class Reporter:
    def __init__(self, total_s, stream=sys.stderr):
        self.total = max(total_s, 0.001)
        self.stream = stream
        self.tty = stream.isatty()
        self.last = 0.0
        self.shown = False

    def update(self, out_s, speed, final=False):
        now = time.monotonic()
        if not final and now - self.last < PRINT_EVERY_S:
            return
        self.last = now
        out_s = min(max(out_s, 0.0), self.total)
        if final:
            out_s = self.total
        # Not int(100 * out_s / total) at the end: 100 * x / x is 99.999... for
        # about one duration in twenty (floating point), which printed "99%" as
        # the last line of a finished run.
        pct = 100 if out_s >= self.total else min(99, int(100 * out_s / self.total))
        line = (f"composite: {pct}% ({out_s:.1f} s of {self.total:.1f} s)"
                f" speed {speed or '?'}")
        if self.tty:
            self.stream.write("\r" + line.ljust(60) + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
        self.shown = True


def _drain(pipe, keep):
    for line in pipe:
        line = line.rstrip()
        if line:
            keep.append(line)


def run(argv, total_s):
    """Runs ffmpeg; returns (exit code, last stderr lines)."""
    rep = Reporter(total_s)
    tail = collections.deque(maxlen=STDERR_LINES)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, errors="replace")
    reader = threading.Thread(target=_drain, args=(proc.stderr, tail),
                              daemon=True)
    reader.start()
    out_s, speed = 0.0, None
    try:
        for line in proc.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us":
                try:
                    out_s = int(value) / 1e6
                except ValueError:
                    pass  # N/A before the first frame
            elif key == "speed":
                speed = value.strip() if value.strip() != "N/A" else None
            elif key == "progress":
                if value != "end":
                    rep.update(out_s, speed)
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    reader.join(timeout=5)
    # A clean exit is the end even when ffmpeg's last "progress=end" block did not come.
    if code == 0:
        rep.update(out_s, speed, final=True)
    elif rep.shown and rep.tty:
        sys.stderr.write("\n")
    return code, list(tail)
