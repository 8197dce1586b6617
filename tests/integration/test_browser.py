"""Real-browser end to end: Debian's Chromium publishes audio + simulcast
video through Weir to Chromium subscribers (tests/browser/e2e.mjs drives
it with playwright-core; the pages load web/weir.js from Weir itself).

Like the aiortc tests, the outer test re-executes the inner ones inside a
private network namespace (`unshare -n`) whose only addresses are loopback
ones: Chromium prefers any non-loopback interface it can see, and Weir
gathers on 127.0.0.1 only (`[media] ice_bind_addresses`). Chromium is run
with --allow-loopback-in-peer-connection so it offers loopback candidates.

The scenario runs once per module (fixture `scenario`); the inner tests
assert on its JSON result, on the admin API read while the media flows
(the driver holds everything up until told to go), and on Weir's log.

Needs: root (for unshare), iproute2, /usr/bin/chromium (or WEIR_CHROMIUM),
node, and `npm ci --prefix tests/browser` (playwright-core). Skips, naming
what is missing, otherwise.
"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import time

import pytest

from netns import IN_NETNS, run_inner_in_netns
from conftest import ServerFactory, unique_room, weir_bin

ADMIN_KEY = "browser-test-admin-key"
HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("WEIR_SOURCE_ROOT") or os.path.abspath(os.path.join(HERE, "..", ".."))
BROWSER_DIR = os.path.join(SOURCE_ROOT, "tests", "browser")
CHROMIUM = os.environ.get("WEIR_CHROMIUM", "/usr/bin/chromium")
DRIVER_TIMEOUT_S = 240
ADMIN_WAIT_S = 15


def missing_requirements():
    """What the browser tests lack on this machine, as sentences ([] when ready)."""
    out = []
    if not os.access(CHROMIUM, os.X_OK):
        out.append(f"{CHROMIUM} (Debian package chromium)")
    if not shutil.which("node"):
        out.append("node (Debian package nodejs)")
    if not os.path.isfile(os.path.join(BROWSER_DIR, "node_modules", "playwright-core",
                                       "package.json")):
        out.append("playwright-core in tests/browser/node_modules (npm ci --prefix tests/browser)")
    return out


@pytest.mark.skipif(IN_NETNS, reason="outer driver only")
def test_browser_in_netns():
    run_inner_in_netns(__file__, timeout=DRIVER_TIMEOUT_S + 60, missing=missing_requirements())


# ---------------------------------------------------------------- inside the namespace

def make_web_root(path):
    """web/* plus the test page, so that pages and weir.js come from Weir's own origin."""
    os.makedirs(path, exist_ok=True)
    web = os.path.join(SOURCE_ROOT, "web")
    for name in os.listdir(web):
        src = os.path.join(web, name)
        if os.path.isfile(src):
            shutil.copy(src, path)
    shutil.copy(os.path.join(BROWSER_DIR, "page.html"), path)
    return path


def browser_server(tmp_path_factory, admin_key, media=None):
    """The module fixtures' common start, inside the namespace: skips without Chromium or
    Node, else (factory, server): a Weir (two workers, ICE on loopback plus `media`) serving
    web/ and the test page from its own origin; the caller tears the factory down."""
    if not IN_NETNS:
        pytest.skip("runs inside the network namespace only")
    missing = missing_requirements()
    if missing:
        pytest.skip("browser tests need " + "; ".join(missing))
    web_root = make_web_root(str(tmp_path_factory.mktemp("webroot")))
    factory = ServerFactory(weir_bin(), lambda: str(tmp_path_factory.mktemp("weir")))
    return factory, factory({"media": {"ice_bind_addresses": "127.0.0.1", **(media or {})},
                             "auth": {"admin_key": admin_key},
                             "server": {"workers": 2, "web_root": web_root}})


class Driver:
    """tests/browser/e2e.mjs as a child process speaking JSON lines on stdout."""

    def __init__(self, url, room, script="e2e.mjs", extra=("--hold",)):
        self.cmd = ["node", os.path.join(BROWSER_DIR, script), "--url", url, "--room", room,
                    "--chromium", CHROMIUM, *extra]
        self.proc = subprocess.Popen(self.cmd, cwd=BROWSER_DIR, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stderr = b""
        self.buf = b""
        self.eof = set()

    def next_event(self, deadline, timeout_s=DRIVER_TIMEOUT_S):
        """The next JSON line on stdout (None at EOF); stderr is echoed as it comes."""
        while True:
            if b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                try:
                    return json.loads(line)
                except ValueError:
                    print(f"driver stdout: {line!r}")
                    continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"browser driver: no event within {timeout_s} s\n"
                                     + self.stderr.decode(errors="replace")[-6000:])
            streams = [f for f in (self.proc.stdout, self.proc.stderr) if f not in self.eof]
            if self.proc.stdout in self.eof:
                if self.buf:
                    self.buf += b"\n"
                    continue
                return None
            ready, _, _ = select.select(streams, [], [], min(remaining, 1.0))
            for f in ready:
                chunk = os.read(f.fileno(), 65536)
                if not chunk:
                    self.eof.add(f)
                elif f is self.proc.stderr:
                    self.stderr += chunk
                    sys.stdout.write(chunk.decode(errors="replace"))
                    sys.stdout.flush()
                else:
                    self.buf += chunk

    def release(self):
        try:
            self.proc.stdin.write(b"go\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def admin_participants(srv, room):
    r = srv.admin("GET", f"/api/rooms/{room}/participants")
    assert r.status == 200, r
    return {p["display"]: p for p in r.json()["participants"]}


def watch_admin(srv, room):
    """Admin API snapshots while the driver holds: until the publisher shows >= 4 streams
    (audio + 3 video rids) and both subscribers receive 2 tracks, or ADMIN_WAIT_S."""
    deadline = time.monotonic() + ADMIN_WAIT_S
    snaps = []
    while True:
        ps = admin_participants(srv, room)
        snaps.append(ps)
        pub = ps.get("pub", {}).get("publisher", {})
        subs = [ps.get(n, {}).get("subscriber", {}) for n in ("sub1", "sub2")]
        if pub.get("streams", 0) >= 4 and all(s.get("tracks") == 2 for s in subs):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.5)
    time.sleep(1.0)  # a second later: the packet counters must have moved on
    snaps.append(admin_participants(srv, room))
    return snaps


STREAM_LEARNED = re.compile(r"stream_learned peer=(\S+) (?:pc=publisher )?mid=(\S+) layer=(\d+) rtx=(\d) ssrc=(\d+)")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    media = {}
    # Capturing Chromium's packets as test data (tests/data/rtp/README.md).
    if os.environ.get("WEIR_TEST_RTP_DUMP_DIR"):
        media["rtp_dump_dir"] = os.environ["WEIR_TEST_RTP_DUMP_DIR"]
    factory, srv = browser_server(tmp_path_factory, ADMIN_KEY, media)
    room = unique_room("browser")
    driver = Driver(srv.url, room)
    deadline = time.monotonic() + DRIVER_TIMEOUT_S
    out = {"room": room, "admin": [], "hold": None, "result": None}
    try:
        while True:
            ev = driver.next_event(deadline)
            if ev is None:
                break
            if ev.get("event") == "hold":
                out["hold"] = ev
                out["admin"] = watch_admin(srv, room)
                driver.release()
            elif ev.get("event") == "result":
                out["result"] = ev
        driver.proc.wait(timeout=30)
    finally:
        driver.kill()
    out["driver_rc"] = driver.proc.returncode
    out["driver_stderr"] = driver.stderr.decode(errors="replace")
    try:
        factory.teardown()
    finally:
        out["weir_log"] = srv.stderr_text()
    out["learned"] = sorted({(m.group(2), int(m.group(3)), int(m.group(4)))
                             for m in STREAM_LEARNED.finditer(out["weir_log"])})
    res = out["result"]
    assert res is not None, ("the browser driver printed no result "
                             f"(rc {out['driver_rc']}):\n{out['driver_stderr'][-8000:]}")
    print("\n==== browser e2e figures ====")
    print(f"chromium: {res['chromium']}")
    for k, v in res["figures"].items():
        if k != "rids":
            print(f"  {k}: {json.dumps(v)}")
    for rid, x in (res["figures"].get("rids") or {}).items():
        print(f"  publisher rid {rid}: {x.get('frameWidth')}x{x.get('frameHeight')} "
              f"bytesSent {x.get('bytesSent')} fps {x.get('framesPerSecond')} "
              f"targetBitrate {x.get('targetBitrate')} "
              f"qualityLimitationReason {x.get('qualityLimitationReason')}")
    for name, st in res["steps"].items():
        print(f"  step {name}: {'ok' if st['ok'] else 'FAILED: ' + st['error']} ({st['ms']} ms)")
    if out["admin"]:
        last = out["admin"][-1]
        for name, p in sorted(last.items()):
            print(f"  admin {name}: publisher {p.get('publisher')} subscriber {p.get('subscriber')}")
    print(f"  weir learned streams (mid, layer, rtx): {out['learned']}")
    tl = res.get("timeline") or []
    for s in tl[:8] + tl[8::10]:
        rids = " ".join(f"{rid}={x.get('w')}x{x.get('h')}/{x.get('bytes')}B/{x.get('qlr')}"
                        for rid, x in sorted(s["rids"].items()))
        print(f"  t={s.get('t')}ms aob={s.get('aob')} sub1={s.get('recv')} decoded={s.get('dec')} "
              f"{rids}")
    print("=============================")
    return out


def _step(scenario, name):
    st = scenario["result"]["steps"].get(name)
    assert st is not None, f"step {name} did not run: {scenario['result']['steps']}"
    pages = {n: {"errors": p.get("errors"), "pcs": p.get("pcs"), "console": p.get("console")}
             for n, p in scenario["result"]["pages"].items()}
    assert st["ok"], (f"step {name} failed: {json.dumps(st, indent=1)[:6000]}\n"
                      f"pages: {json.dumps(pages)[:4000]}")
    return st


def test_inner_publish_to_subscriber(scenario):
    """Chromium (audio + simulcast video) → Weir → Chromium: plays, decodes, audio flows."""
    _step(scenario, "join")
    st = _step(scenario, "receive")
    assert st["video"]["framesDecoded"] >= 150, st
    assert st["video"]["frameWidth"] > 0 and st["video"]["frameHeight"] > 0, st
    el = st["element"]
    assert el["readyState"] >= 2 and el["videoWidth"] > 0 and el["currentTime"] > 0, el
    assert st["audio_grows"], st["audio_packets"]
    assert sorted(t["kind"] for t in st["tracks"]) == ["audio", "video"], st["tracks"]

    # The admin API, read while the media flowed.
    snaps = scenario["admin"]
    assert snaps, "the driver never reached its hold point"
    first, last = snaps[0], snaps[-1]
    pub = last["pub"]["publisher"]
    assert pub["state"] == "connected", pub
    assert pub["packets"] > first["pub"]["publisher"]["packets"] or pub["packets"] > 1000, snaps
    sub = last["sub1"]["subscriber"]
    assert sub["state"] == "connected" and sub["tracks"] == 2, sub
    assert sub["packets"] > first["sub1"]["subscriber"]["packets"], (first["sub1"], sub)
    for name in ("sub1", "sub2"):
        assert "publisher" not in last[name], last[name]


def _sections(sdp):
    """The m-sections of an SDP: [(kind, {pt: codec name}, {pt: fmtp})]."""
    out = []
    for block in sdp.split("\r\nm=")[1:]:
        kind = block.split(" ", 1)[0]
        codecs = dict(re.findall(r"a=rtpmap:(\d+) ([\w-]+)/", block))
        fmtps = dict(re.findall(r"a=fmtp:(\d+) ([^\r\n]+)", block))
        out.append((kind, codecs, fmtps))
    return out


def _rtx_for(codecs, fmtps, name):
    """Payload types of `name` that have an RTX payload type (a=fmtp apt=) in the section."""
    pts = {pt for pt, c in codecs.items() if c.upper() == name}
    return {m.group(1) for pt, c in codecs.items() if c.lower() == "rtx"
            for m in [re.search(r"apt=(\d+)", fmtps.get(pt, ""))] if m and m.group(1) in pts}


def test_inner_rtx_red_negotiated(scenario):
    """RTX is negotiated with Chromium on both PCs (Weir's publish answer keeps it; Chromium's
    subscriber answer accepts Weir's), and audio RED is kept wherever one side offered it."""
    st = _step(scenario, "sdp")
    pub, sub = st["pub"], st["sub1"]
    answer = _sections(pub["publisherRemote"])  # Weir's answer to Chromium's publish offer
    offer = _sections(pub["publisherLocal"])
    videos = [s for s in answer if s[0] == "video"]
    assert videos and all(_rtx_for(c, f, "VP8") for (_, c, f) in videos), answer
    sub_answer = _sections(sub["subscriberLocal"])  # Chromium's answer to Weir's offer
    sub_offer = _sections(sub["subscriberRemote"])
    sub_videos = [s for s in sub_answer if s[0] == "video"]
    assert sub_videos and all(_rtx_for(c, f, "VP8") for (_, c, f) in sub_videos), sub_answer
    for sent, got, what in ((offer, answer, "publish answer"), (sub_offer, sub_answer,
                                                                "subscriber answer")):
        for (k1, c1, _), (k2, c2, _) in zip(sent, got):
            if k1 == "audio" and "red" in {c.lower() for c in c1.values()}:
                assert "red" in {c.lower() for c in c2.values()}, (what, c1, c2)
    red_offered = any("red" in {c.lower() for c in c.values()} for (k, c, _) in offer
                      if k == "audio")
    print(f"  RTX on video both ways; Chromium offered audio RED: {red_offered}; "
          f"Weir's subscriber offer has RED: "
          f"{any('red' in {x.lower() for x in c.values()} for (k, c, _) in sub_offer if k == 'audio')}")


def test_inner_simulcast_top_layer(scenario):
    """Transport-cc feedback lets Chromium's estimate climb: all three rids flow, the
    subscriber gets 1280x720."""
    video_layers = {layer for (mid, layer, rtx) in scenario["learned"] if rtx == 0 and mid == "1"}
    pub = scenario["admin"][-1]["pub"]["publisher"] if scenario["admin"] else None
    st = _step(scenario, "top_layer")
    assert st["inbound_video"]["frameWidth"] >= 1280, st["inbound_video"]
    f = st["outbound"]["rids"]["f"]
    assert f["frameWidth"] >= 1280 and f["bytesSent"] > 0, f
    assert video_layers == {0, 1, 2}, (video_layers, scenario["learned"])
    assert pub and pub["streams"] >= 4, pub  # audio + q/h/f (RTX streams may add more)


def test_inner_layer_switching(scenario):
    """set_preferences max_spatial 0 → layer_changed 0 and a frame at most half as wide;
    1 → layer_changed 1, the middle size; 2 → layer_changed 2, full size again."""
    st = _step(scenario, "layers")
    assert st["down_event"]["spatial"] == 0, st
    assert st["down"][0] <= st["before"][0] / 2, st
    assert st["mid_event"]["spatial"] == 1, st
    assert st["down"][0] < st["mid"][0] <= st["before"][0] / 2, st
    assert st["up_event"]["spatial"] == 2, st
    assert st["up"][0] >= st["before"][0], st


def test_inner_pause_stops_packets(scenario):
    """set_preferences {paused: true} stops the track's packets to that subscriber (at most a
    couple of retransmissions in 2 s); {paused: false} brings packets and frames back."""
    st = _step(scenario, "pause")
    before, after = st["paused_packets"]
    assert after - before <= 5, st
    assert st["resumed"][0] > after and st["resumed"][1] > st["paused_frames"][1], st
    print(f"  paused: {after - before} video packets in 2 s; resumed: {st['resumed']}")


def test_inner_late_subscriber(scenario):
    """A Chromium observer joining late gets both tracks in its join result and receives them."""
    st = _step(scenario, "late")
    assert sorted(t["kind"] for t in st["join_tracks"]) == ["audio", "video"], st
    video = next(t for t in st["join_tracks"] if t["kind"] == "video")
    assert video["simulcast"] == ["q", "h", "f"] or len(video["simulcast"]) == 3, video
    assert st["video"]["framesDecoded"] >= 60 and st["audio"]["packetsReceived"] > 50, st
    last = scenario["admin"][-1] if scenario["admin"] else {}
    sub2 = last.get("sub2", {}).get("subscriber")
    assert sub2 and sub2["state"] == "connected" and sub2["tracks"] == 2, last


def test_inner_publisher_ice_restart(scenario):
    """The publisher restarts ICE (createOffer({iceRestart: true}) → `publish` again): the
    server answers with new ICE credentials and the subscriber keeps decoding."""
    st = _step(scenario, "ice_restart")
    assert st["ufrag"]["before"] != st["ufrag"]["after"], st
    assert st["publisher"] == "connected", st
    assert st["frames_after"] >= st["frames_before"] + 60, st


def test_inner_unpublish(scenario):
    """The publisher leaves: both subscribers hear track_unpublished for both tracks, answer
    the new offer (no error in weir.js), and weir.js reports both tracks removed."""
    st = _step(scenario, "unpublish")
    ids = sorted(t["trackId"] for t in scenario["result"]["steps"]["receive"]["tracks"])
    for name in ("sub1", "sub2"):
        sub = st[name]
        assert sub["unpublished"] == ids and sub["removed"] == ids, (name, sub, ids)
        assert sub["errors"] == [] and sub["subscriber_pc"] == "connected", (name, sub)
