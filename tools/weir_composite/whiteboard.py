"""The class whiteboard, redrawn from the timeline's "whiteboard" events.

The ops are those of web/whiteboard.js (coordinates 0..1 of a 16:9 board,
widths in thousandths of its width):

  {"op":"line",  "pts":[[x,y],...], "c":"#e33", "w":3}    pen stroke piece
  {"op":"erase", "pts":[[x,y],...], "w":24}               eraser piece
  {"op":"rect"|"ellipse", "pts":[[x0,y0],[x1,y1]], "c", "w"}  outlines
  {"op":"clear"}

They are replayed onto a white RGB raster in pure Python (stamping discs
along the strokes; round caps and joins come for free) and a picture is
taken at most every SNAPSHOT_S seconds while the board changes. The
pictures become a slideshow input for ffmpeg (concat demuxer, each picture
lasting until the next), shown in the large slot while the board has ink.
Pure: the PNG bytes are returned, the caller writes them.
"""
import math
import re
import struct
import zlib

SNAPSHOT_S = 0.5
MAX_POINTS = 1000
COLOUR = re.compile(r"^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
DEFAULT_INK = "#1d2330"
WHITE = (255, 255, 255)


def valid_op(data):
    """The op made safe to draw, or None (what web/whiteboard.js's validOp
    accepts, so the video shows what the classroom showed)."""
    if not isinstance(data, dict):
        return None
    if data.get("op") == "clear":
        return {"op": "clear"}
    if data.get("op") not in ("line", "erase", "rect", "ellipse"):
        return None
    pts = data.get("pts")
    if not isinstance(pts, list) or not 1 <= len(pts) <= MAX_POINTS:
        return None
    out = []
    for p in pts:
        if not (isinstance(p, list) and len(p) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                and math.isfinite(v) for v in p)):
            return None
        out.append((min(1.0, max(0.0, p[0])), min(1.0, max(0.0, p[1]))))
    if data["op"] in ("rect", "ellipse") and len(out) != 2:
        return None
    w = data.get("w")
    if not (isinstance(w, (int, float)) and not isinstance(w, bool)
            and 0.5 <= w <= 100):
        w = 24 if data["op"] == "erase" else 3
    c = data.get("c")
    c = c if isinstance(c, str) and COLOUR.match(c) else DEFAULT_INK
    return {"op": data["op"], "pts": out, "w": w, "c": c}


def _rgb(c):
    h = c[1:]
    if len(h) == 3:
        h = "".join(ch * 2 for ch in h)
    return bytes(int(h[i:i + 2], 16) for i in (0, 2, 4))


def ops_of(events):
    """[(t seconds, op)] of the valid whiteboard ops, in timeline order."""
    out = []
    for ev in events:
        if ev.get("type") != "whiteboard":
            continue
        t = ev.get("t_ms")
        op = valid_op(ev.get("data"))
        if op and isinstance(t, (int, float)) and t >= 0:
            out.append((t / 1000.0, op))
    return out


class Canvas:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.px = bytearray(bytes(WHITE) * (width * height))
        self.inked = False

    def clear(self):
        self.px[:] = bytes(WHITE) * (self.w * self.h)
        self.inked = False

    def _disc(self, cx, cy, r, rgb):
        r = max(r, 0.75)
        for dy in range(-int(r), int(r) + 1):
            y = int(round(cy)) + dy
            if not 0 <= y < self.h:
                continue
            half = math.sqrt(max(r * r - dy * dy, 0.0))
            x0 = max(0, int(round(cx - half)))
            x1 = min(self.w - 1, int(round(cx + half)))
            if x1 >= x0:
                i = (y * self.w + x0) * 3
                self.px[i:i + (x1 - x0 + 1) * 3] = rgb * (x1 - x0 + 1)

    def polyline(self, pts, r, rgb):
        """Discs every half pixel (or half radius) along the segments."""
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] or pts):
            steps = max(1, int(math.hypot(x1 - x0, y1 - y0)
                               / max(0.5, r / 2)))
            for k in range(steps + 1):
                f = k / steps
                self._disc(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f, r, rgb)

    def apply(self, op):
        if op["op"] == "clear":
            self.clear()
            return
        pts = [(x * (self.w - 1), y * (self.h - 1)) for x, y in op["pts"]]
        r = op["w"] * self.w / 1000 / 2
        rgb = bytes(WHITE) if op["op"] == "erase" else _rgb(op["c"])
        if op["op"] == "rect":
            (x0, y0), (x1, y1) = pts
            pts = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
        elif op["op"] == "ellipse":
            (x0, y0), (x1, y1) = pts
            cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, \
                abs(x1 - x0) / 2, abs(y1 - y0) / 2
            pts = [(cx + rx * math.cos(a), cy + ry * math.sin(a))
                   for a in (2 * math.pi * k / 72 for k in range(73))]
        self.polyline(pts, r, rgb)
        if op["op"] != "erase":
            self.inked = True

    def png(self):
        """The canvas as a PNG (8-bit RGB, no row filters: a board is mostly
        runs of one colour, which zlib's fast level packs well enough)."""
        stride = self.w * 3
        view = memoryview(self.px)
        z = zlib.compressobj(1)
        parts = []
        for y in range(self.h):
            parts.append(z.compress(b"\0"))
            parts.append(z.compress(view[y * stride:(y + 1) * stride]))
        parts.append(z.flush())
        data = b"".join(parts)

        def chunk(kind, data):
            return (struct.pack("!I", len(data)) + kind + data
                    + struct.pack("!I", zlib.crc32(kind + data)))
        return (b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack("!IIBBBBB", self.w, self.h,
                                             8, 2, 0, 0, 0))
                + chunk(b"IDAT", data)
                + chunk(b"IEND", b""))


def snapshot_times(ops):
    """[(t, n)]: after the first n ops the board is pictured from t on; one
    picture per SNAPSHOT_S burst of ops, at the burst's last op."""
    out = []
    i = 0
    while i < len(ops):
        start = ops[i][0]
        j = i
        while j + 1 < len(ops) and ops[j + 1][0] < start + SNAPSHOT_S:
            j += 1
        out.append((ops[j][0], j + 1))
        i = j + 1
    return out


def inked_intervals(ops, duration):
    """When the board is shown, as [(start, end)]: from the first picture
    with ink to the next clear. (A board whose ink was all erased is still
    shown, white: telling would need the pixels.)"""
    intervals, since, inked = [], None, False
    snaps = snapshot_times(ops)
    n_done = 0
    for t, n in snaps:
        for _, op in ops[n_done:n]:
            if op["op"] == "clear":
                inked = False
            elif op["op"] != "erase":
                inked = True
        n_done = n
        if inked and since is None:
            since = t
        elif not inked and since is not None:
            intervals.append((since, t))
            since = None
    if since is not None and since < duration:
        intervals.append((since, duration))
    return intervals


def render(ops, width, height):
    """Yields (t, png bytes): the blank board at 0, then one picture per
    snapshot time (a generator: an hour of drawing is thousands)."""
    canvas = Canvas(width, height)
    yield 0.0, canvas.png()
    n_done = 0
    for t, n in snapshot_times(ops):
        for _, op in ops[n_done:n]:
            canvas.apply(op)
        n_done = n
        yield t, canvas.png()
