"""Reads a recording directory into a Recording: who took part and, for each
usable track file, where its frames sit on the recording's timeline.

The manifest says what the recorder knew; the files say what was written.
A recording whose server was killed has state "recording", may lack end_ms,
frames and duration_ms, and may even miss tracks the timeline announced, so
placement always comes from the files (ffprobe), and the manifest and the
timeline supply names, roles, sources and mutes.
"""
import json
import os
import sys

from . import CompositeError
from . import tools

# Audio packets further apart than this split a track into segments, each
# placed on its own (see graph.py: filling a long gap in one go would make
# ffmpeg allocate the whole silence at once). Opus DTX sends a packet at least
# every 400 ms, so ordinary silence stays inside one segment.
AUDIO_GAP_S = 1.0


def warn(msg):
    print(f"composite: warning: {msg}", file=sys.stderr, flush=True)


def _name(value):
    """A display name for one line of text: whitespace runs (newlines too)
    collapsed, at most 40 characters."""
    return " ".join(str(value).split())[:40]


class Participant:
    def __init__(self, pid, display=None, role=None):
        self.id = pid
        self.display = _name(display or pid)
        self.role = str(role or "")


def _str(value):
    """value if it is a non-empty string (manifests are input), else None."""
    return value if isinstance(value, str) and value else None


def _int(value):
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if ok else None


class Track:
    def __init__(self, d):
        self.id = _str(d.get("id")) or ""
        self.participant = _str(d.get("participant")) or ""
        self.display = _str(d.get("display"))
        self.role = _str(d.get("role"))
        self.kind = d.get("kind")   # checked in _place()
        self.source = _str(d.get("source")) or (
            "microphone" if self.kind == "audio" else "camera")
        self.file = _str(d.get("file"))
        self.start_ms = d.get("start_ms")
        self.mutes = []      # [(from_s, to_s)], to_s None = until the end
        self.path = None
        self.offset = 0.0    # the file's start_time: what ffmpeg subtracts
        self.start = 0.0     # first frame, s on the recording's timeline
        self.end = 0.0       # end of the last frame
        self.segments = []   # audio: [(start, end)] runs without long gaps
        self.width = _int(d.get("width"))
        self.height = _int(d.get("height"))


class Recording:
    def __init__(self, directory):
        self.dir = directory
        self.id = ""
        self.state = ""
        self.duration = 0.0
        self.participants = {}   # id -> Participant, in order of appearance
        self.tracks = []         # usable tracks only
        self.events = []         # the timeline's objects, in file order

    def participant(self, pid):
        if pid not in self.participants:
            self.participants[pid] = Participant(pid)
        return self.participants[pid]


def _ms(value):
    """A manifest/timeline millisecond value as seconds, or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value / 1000.0 if value >= 0 else None


def _plain_name(name):
    """Track files must be plain names inside the recording directory: a
    manifest must not make us read (or hand ffmpeg) any other path."""
    return (isinstance(name, str) and name and "/" not in name
            and "\\" not in name and not name.startswith("."))


def _read_manifest(directory):
    path = os.path.join(directory, "manifest.json")
    if not os.path.isdir(directory):
        raise CompositeError(f"{directory}: not a directory")
    if not os.path.isfile(path):
        raise CompositeError(f"{path}: no manifest (is this a recording "
                             "directory?)")
    try:
        with open(path, encoding="utf-8") as f:
            m = json.load(f)
    except (OSError, UnicodeDecodeError) as e:
        raise CompositeError(f"{path}: cannot read: {e}") from e
    except ValueError as e:
        raise CompositeError(f"{path}: invalid JSON: {e}") from e
    if not isinstance(m, dict):
        raise CompositeError(f"{path}: invalid manifest: not a JSON object")
    if m.get("format") != "weir-recording":
        raise CompositeError(f"{path}: invalid manifest: format is "
                             f"{m.get('format')!r}, not 'weir-recording'")
    version = m.get("version")
    if not isinstance(version, int) or isinstance(version, bool) \
            or version < 1:
        raise CompositeError(f"{path}: invalid manifest: bad version "
                             f"{version!r}")
    if version > 1:
        warn(f"manifest version {version} is newer than this tool (1); "
             "trying anyway")
    tracks = m.get("tracks", [])
    if not isinstance(tracks, list):
        raise CompositeError(f"{path}: invalid manifest: tracks is not a list")
    if not isinstance(m.get("participants", []), list):
        raise CompositeError(f"{path}: invalid manifest: participants is "
                             "not a list")
    return m


def _read_timeline(directory, name):
    if not _plain_name(name):
        name = "timeline.jsonl"
    path = os.path.join(directory, name)
    events = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    ev = json.loads(line)
                except ValueError:
                    # The last line of a killed recording may be cut short.
                    warn(f"{name}:{n}: not JSON, line ignored")
                    continue
                if isinstance(ev, dict):
                    events.append(ev)
    except FileNotFoundError:
        pass
    except OSError as e:
        warn(f"{path}: cannot read: {e}")
    return events


def _add_people(rec, manifest):
    for p in manifest.get("participants", []):
        if isinstance(p, dict) and p.get("id"):
            q = rec.participant(str(p["id"]))
            q.display = _name(p.get("display") or q.display)
            q.role = str(p.get("role") or q.role)
    for ev in rec.events:
        p = ev.get("participant")
        if ev.get("type") == "participant_joined" and isinstance(p, dict) \
                and p.get("id"):
            q = rec.participant(str(p["id"]))
            if q.display == q.id and p.get("display"):
                q.display = _name(p["display"])
            q.role = q.role or str(p.get("role") or "")


def _track_list(rec, manifest):
    """Manifest tracks, plus any the timeline added that a killed recording's
    manifest never listed, with their mutes."""
    tracks = [Track(t) for t in manifest.get("tracks", [])
              if isinstance(t, dict)]
    known = {t.id for t in tracks}
    for ev in rec.events:
        if ev.get("type") == "track_added" and ev.get("track") \
                and str(ev["track"]) not in known:
            d = {"id": ev["track"], "participant": ev.get("participant"),
                 "kind": ev.get("kind"), "source": ev.get("source"),
                 "file": ev.get("file")}
            tracks.append(Track(d))
            known.add(str(ev["track"]))
    by_id = {t.id: t for t in tracks}
    # Mutes: the timeline's track_muted events when a track has any (they
    # are the truth when the manifest of a killed recording lags), else the
    # manifest's "mutes".
    from_timeline = {}
    for ev in rec.events:
        ref = ev.get("track")
        if isinstance(ref, dict):   # a notification may carry the object
            ref = ref.get("id")
        t = by_id.get(str(ref))
        if ev.get("type") != "track_muted" or t is None \
                or _ms(ev.get("t_ms")) is None:
            continue
        mutes = from_timeline.setdefault(t.id, [])
        if ev.get("muted"):
            if not mutes or mutes[-1][1] is not None:
                mutes.append((_ms(ev["t_ms"]), None))
        elif mutes and mutes[-1][1] is None:
            mutes[-1] = (mutes[-1][0], _ms(ev["t_ms"]))
    for t in manifest.get("tracks", []):
        if not isinstance(t, dict) or str(t.get("id")) not in by_id:
            continue
        track = by_id[str(t.get("id"))]
        if track.id in from_timeline:
            continue
        mutes = t.get("mutes")
        for mu in mutes if isinstance(mutes, list) else []:
            if isinstance(mu, dict) and _ms(mu.get("from_ms")) is not None:
                track.mutes.append((_ms(mu["from_ms"]), _ms(mu.get("to_ms"))))
    for tid, mutes in from_timeline.items():
        by_id[tid].mutes = mutes
    return tracks


def _place(rec, t):
    """Fills in where t's frames are; returns False (after a warning) when
    the track cannot be used."""
    label = f"track {t.id or '?'} ({t.file})"
    if t.kind not in ("audio", "video"):
        warn(f"{label}: unknown kind {t.kind!r}, skipped")
        return False
    if not _plain_name(t.file):
        warn(f"{label}: file name is not a plain name in the recording "
             "directory, skipped")
        return False
    t.path = os.path.abspath(os.path.join(rec.dir, t.file))
    if not os.path.isfile(t.path):
        warn(f"{label}: file missing, track skipped")
        return False
    try:
        info = tools.probe(t.path)
    except CompositeError as e:
        warn(f"{label}: unreadable ({e}), skipped")
        return False
    if info["kind"] != t.kind:
        warn(f"{label}: holds {info['kind']}, manifest says {t.kind}; "
             "skipped")
        return False
    spans = info["spans"]
    if not spans:
        warn(f"{label}: no frames, skipped")
        return False
    t.offset = info["start"] if info["start"] is not None else spans[0][0]
    t.start, t.end = spans[0][0], max(e for _, e in spans)
    t.width = info["width"] or t.width
    t.height = info["height"] or t.height
    declared = _ms(t.start_ms)
    if declared is not None and abs(declared - t.start) > 0.5:
        warn(f"{label}: first frame at {t.start:.3f} s, manifest says "
             f"{declared:.3f} s; using the file's timestamps")
    if t.kind == "audio":
        seg_start, prev_end = spans[0][0], spans[0][1]
        for s, e in spans[1:]:
            if s - prev_end > AUDIO_GAP_S:
                t.segments.append((seg_start, prev_end))
                seg_start = s
            prev_end = max(prev_end, e)
        t.segments.append((seg_start, prev_end))
    return True


def load(directory):
    """The Recording in directory; raises CompositeError (code 2) when there
    is no valid manifest or no usable track."""
    manifest = _read_manifest(directory)
    rec = Recording(directory)
    rec.id = str(manifest.get("id") or os.path.basename(directory))
    rec.state = str(manifest.get("state") or "")
    rec.events = _read_timeline(directory, manifest.get("timeline"))
    _add_people(rec, manifest)
    for t in _track_list(rec, manifest):
        if not _place(rec, t):
            continue
        t.participant = t.participant or t.id
        p = rec.participant(t.participant)
        if p.display == p.id and t.display:
            p.display = _name(t.display)
        p.role = p.role or str(t.role or "")
        rec.tracks.append(t)
    if not rec.tracks:
        raise CompositeError(f"{directory}: no usable tracks to compose", 2)
    duration = _ms(manifest.get("duration_ms"))
    last = max([t.end for t in rec.tracks]
               + [_ms(ev.get("t_ms")) or 0.0 for ev in rec.events])
    if duration and duration > last + 60:
        warn(f"manifest says {duration:.1f} s but nothing happens after "
             f"{last:.1f} s; the video ends on empty slots")
    if not duration:
        # Killed or still running: as long as anything that was written.
        duration = last
        if rec.state != "complete":
            warn(f"recording state is {rec.state or 'unknown'!r}: length "
                 f"taken from the files and timeline ({duration:.1f} s)")
    if duration < 0.1:
        raise CompositeError(f"{directory}: the recording is empty "
                             f"({duration:.3f} s long)", 2)
    rec.duration = duration
    return rec
