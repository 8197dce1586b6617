"""Who goes where in the composed picture, and when.

The picture is a large slot on the left (about 75 % of the width) and a
strip of small tiles on the right, one per other participant who published
anything, filled column by column in as many columns as needed to fit:

    +----------------------+-----+
    |                      |  S1 |
    |   teacher / screen   +-----+
    |                      |  S2 |
    +----------------------+-----+

The large slot holds the teacher's camera (role "teacher"; else whoever
published a camera first; see pick_teacher). The whiteboard while it has
ink, and a screen share from anyone while it lasts, cover it; the teacher's
camera then shows in the strip's first tile instead.
With nobody in the strip the large slot takes the whole width.

A tile shows a track only between its first and last frame and outside its
mutes; otherwise the slot's background and name show through. Pure: no I/O.
"""


class Showing:
    """One track drawn into a slot during intervals [(start, end)] (s)."""

    def __init__(self, track, intervals, display=""):
        self.track = track
        self.intervals = intervals
        self.display = display    # whose picture: labels the tile


class Slot:
    def __init__(self, rect, display, large=False):
        self.rect = rect          # (x, y, w, h), even numbers
        self.display = display    # name shown when the slot is empty
        self.large = large
        self.showings = []


def _even(v):
    return max(2, int(v) // 2 * 2)


def subtract(intervals, holes):
    """intervals minus holes; a hole's end None means "until the end"."""
    out = list(intervals)
    for hs, he in holes:
        he = float("inf") if he is None else he
        nxt = []
        for s, e in out:
            if he <= s or hs >= e:
                nxt.append((s, e))
                continue
            if hs > s:
                nxt.append((s, hs))
            if he < e:
                nxt.append((he, e))
        out = nxt
    return out


def intersect(intervals, others):
    out = []
    for s, e in intervals:
        for os_, oe in others:
            lo, hi = max(s, os_), min(e, oe)
            if lo < hi:
                out.append((lo, hi))
    return sorted(out)


def visible(track):
    """When track's picture is there: its frames, minus mutes (the board
    pseudo-track of board.py says it outright)."""
    if getattr(track, "intervals", None) is not None:
        return list(track.intervals)
    return subtract([(track.start, track.end)], track.mutes)


def pick_teacher(rec, cams):
    """The participant id for the large slot: a teacher with a camera, else
    whoever published a camera first, else (no cameras at all) a teacher who
    published anything, so that the name is in the large slot; else None."""
    teachers = [p.id for p in rec.participants.values()
                if p.role == "teacher"]
    with_cam = {t.participant for t in cams}
    for pid in teachers:
        if pid in with_cam:
            return pid
    if cams:
        return min(cams, key=lambda t: t.start).participant
    publishing = {t.participant for t in rec.tracks}
    for pid in teachers:
        if pid in publishing:
            return pid
    return None


def strip_rects(n, x0, width, height):
    """n tile rectangles (16:9) in a strip at x0 of the given size: the
    fewest columns whose rows still fit the height."""
    cols = 1
    while True:
        w = _even(width / cols)
        h = _even(w * 9 / 16)
        rows = -(-n // cols)
        if rows * h <= height or w <= 16:
            break
        cols += 1
    return [(x0 + (i % cols) * w, (i // cols) * h, w, h) for i in range(n)]


def make(rec, width, height, board=None):
    """The slots for rec in a width x height picture, large slot first;
    board (board.BoardTrack or None) is the whiteboard, which takes the large
    slot while it has ink, like a screen share (which goes on top of it)."""
    video = [t for t in rec.tracks if t.kind == "video"]
    screens = [t for t in video if t.source == "screen"]
    covers = ([board] if board else []) + screens
    cams = [t for t in video if t.source != "screen"]
    teacher = pick_teacher(rec, cams)
    people = []
    for t in rec.tracks:
        if t.participant != teacher and t.participant not in people:
            people.append(t.participant)
    teacher_cams = [t for t in cams if t.participant == teacher]
    in_strip = bool(covers and teacher_cams)
    n = len(people) + (1 if in_strip else 0)

    def name(pid):
        p = rec.participants.get(pid)
        return p.display if p else (pid or "")

    def show(t, intervals=None):
        return Showing(t, visible(t) if intervals is None else intervals,
                       name(t.participant))

    large_w = width if n == 0 else _even(width * 3 / 4)
    large = Slot((0, 0, large_w, _even(height)), name(teacher), large=True)
    for t in teacher_cams:
        large.showings.append(show(t))
    if board:
        large.showings.append(Showing(board, visible(board)))
    for t in sorted(screens, key=lambda t: t.start):
        large.showings.append(show(t))
    slots = [large]
    rects = strip_rects(n, large_w, width - large_w, height) if n else []
    if in_strip:
        shared = sorted(iv for s in covers for iv in visible(s))
        tile = Slot(rects.pop(0), name(teacher))
        for t in teacher_cams:
            tile.showings.append(show(t, intersect(visible(t), shared)))
        slots.append(tile)
    for pid, rect in zip(people, rects):
        tile = Slot(rect, name(pid))
        for t in cams:
            if t.participant == pid:
                tile.showings.append(show(t))
        slots.append(tile)
    return slots
