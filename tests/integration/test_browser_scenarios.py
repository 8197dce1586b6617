"""More real-browser end to end (tests/browser/scenarios.mjs): a screen share
added and removed mid-session, a student leaving and rejoining, a dropped
WebSocket that weir.js recovers from by itself, per-track statistics, a page
closed abruptly, Chromium and weir-client exchanging media both ways (the
browser paints weir-client's test pattern so that weir-client can check what it
decodes), and the classroom page at GET / (screenshots saved into pytest's
temp dir, paths printed).

Runs inside a private network namespace exactly as test_browser.py does (read
its docstring); one driver run feeds every inner test. weir-client comes from
env WEIR_CLIENT_BIN (the meson integration test sets it); without it the
weir-client test skips and the rest runs.
"""
import json
import os
import subprocess
import time

import pytest

from netns import run_inner_in_netns
from conftest import unique_room
from test_browser import (DRIVER_TIMEOUT_S, IN_NETNS, Driver, browser_server,
                          missing_requirements)

ADMIN_KEY = "browser-scenarios-admin-key"
HERE = os.path.dirname(os.path.abspath(__file__))
WEIR_CLIENT = os.environ.get("WEIR_CLIENT_BIN")
WC_DURATION_S = 18
WC_MIN_FRAMES = 100


@pytest.mark.skipif(IN_NETNS, reason="outer driver only")
def test_browser_scenarios_in_netns():
    run_inner_in_netns(__file__, timeout=DRIVER_TIMEOUT_S + 60, missing=missing_requirements())


# ---------------------------------------------------------------- inside the namespace

def start_weir_client(srv, room, report):
    if not WEIR_CLIENT or not os.access(WEIR_CLIENT, os.X_OK):
        return None
    cmd = [WEIR_CLIENT, "--url", f"ws://127.0.0.1:{srv.port}/ws", "--room", room,
           "--display", "weir-client", "--publish", "--subscribe", "--width", "640",
           "--height", "360", "--duration", str(WC_DURATION_S), "--ice-bind", "127.0.0.1",
           "--report", report, "--expect-video-frames", str(WC_MIN_FRAMES),
           "--expect-tracks", "2"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    factory, srv = browser_server(tmp_path_factory, ADMIN_KEY)
    shots = str(tmp_path_factory.mktemp("screenshots"))
    room, wc_room = unique_room("scen"), unique_room("wc")
    class_room, full_room = unique_room("class"), unique_room("full")
    r = srv.admin("POST", "/api/rooms", {"id": full_room, "max_participants": 1})
    assert r.status == 201, r
    report = os.path.join(shots, "weir-client-report.json")
    wc = start_weir_client(srv, wc_room, report)
    extra = ["--class-room", class_room, "--full-room", full_room, "--shots", shots]
    if wc:
        extra += ["--wc-room", wc_room]
    driver = Driver(srv.url, room, script="scenarios.mjs", extra=extra)
    deadline = time.monotonic() + DRIVER_TIMEOUT_S
    out = {"result": None, "wc": None, "wc_rc": None, "wc_stderr": ""}
    try:
        while True:
            ev = driver.next_event(deadline)
            if ev is None:
                break
            if ev.get("event") == "result":
                out["result"] = ev
        driver.proc.wait(timeout=30)
    finally:
        driver.kill()
        if wc:
            try:
                out["wc_stderr"] = wc.communicate(timeout=WC_DURATION_S + 20)[1].decode(
                    errors="replace")
            except subprocess.TimeoutExpired:
                wc.kill()
                out["wc_stderr"] = wc.communicate()[1].decode(errors="replace")
            out["wc_rc"] = wc.returncode
            if os.path.exists(report):
                with open(report) as f:
                    out["wc"] = json.load(f)
    out["driver_stderr"] = driver.stderr.decode(errors="replace")
    try:
        factory.teardown()
    finally:
        out["weir_log"] = srv.stderr_text()
    res = out["result"]
    assert res is not None, ("the browser driver printed no result:\n"
                             + out["driver_stderr"][-8000:])
    print("\n==== browser scenario figures ====")
    print(f"chromium: {res['chromium']}  driver {res['figures'].get('total_ms')} ms")
    for name, st in res["steps"].items():
        print(f"  step {name}: {'ok' if st['ok'] else 'FAILED: ' + st['error']} ({st['ms']} ms)")
    for k, v in res["figures"].items():
        print(f"  {k}: {json.dumps(v)}")
    if out["wc"]:
        for t in out["wc"].get("subscribed", []):
            print(f"  weir-client received {t.get('kind')}: frames {t.get('frames_decoded')} "
                  f"{t.get('width')}x{t.get('height')} content_errors {t.get('content_errors')} "
                  f"order_errors {t.get('order_errors')} latency {t.get('latency_ms')}")
        print(f"  weir-client ok={out['wc'].get('ok')} rc={out['wc_rc']}")
    for path in res.get("shots", []):
        print(f"  screenshot: {path}")
    print("==================================")
    return out


def _step(scenario, name):
    res = scenario["result"]
    st = res["steps"].get(name)
    assert st is not None, f"step {name} did not run: {list(res['steps'])}"
    assert st["ok"], (f"step {name} failed: {json.dumps(st, indent=1)[:6000]}\n"
                      f"pages: {json.dumps(res['pages'])[:4000]}")
    return st


def test_inner_screen_share_added_and_removed(scenario):
    """A screen share published mid-session (publishScreen: a second, renegotiating
    `publish` with the source hint) reaches both students as source "screen" and
    decodes; unpublishing it renegotiates again: track_unpublished + trackremoved,
    and the camera keeps decoding."""
    _step(scenario, "receive")
    add = _step(scenario, "screen_add")
    assert [p["source"] for p in add["teacher"]["published"]].count("screen") == 1, add["teacher"]
    for n in ("s1", "s2"):
        pub = add[n]["published"]
        assert pub["source"] == "screen" and pub["kind"] == "video", pub
        assert pub["simulcast"] == [], pub
        assert add[n]["track_event"]["source"] == "screen", add[n]["track_event"]
        # 960x540 sent; Chromium may scale it down while its estimate ramps up.
        assert add[n]["screen"]["framesDecoded"] >= 20 and add[n]["screen"]["width"] >= 240, add[n]
    rm = _step(scenario, "screen_remove")
    screen = add["s1"]["published"]["id"]
    assert "screen" not in [p["source"] for p in rm["teacher"]["published"]], rm["teacher"]
    for n in ("s1", "s2"):
        assert screen in rm[n]["unpublished"] and screen in rm[n]["removed"], rm[n]
        assert screen not in rm[n]["still_received"], rm[n]
        assert rm[n]["errors"] == [], rm[n]


def test_inner_leave_and_rejoin(scenario):
    """A student leaves (the teacher sees participant_left, reason left) and joins again
    on the same socket: a new participant id, the teacher sees participant_joined, the
    join result lists the teacher's tracks and the camera decodes again."""
    st = _step(scenario, "rejoin")
    assert st["left"]["reason"] == "left", st["left"]
    assert st["after"] != st["before"], st
    assert sorted(t["kind"] for t in st["join_tracks"]) == ["audio", "video"], st["join_tracks"]
    assert st["video"]["framesDecoded"] >= 30, st["video"]


def test_inner_dropped_socket_rejoins(scenario):
    """The WebSocket closes under weir.js (no leave, no bye): it rejoins by itself on a
    new socket and fresh peer connections, and the video plays again."""
    st = _step(scenario, "ws_drop")
    assert st["how"] == "rejoin" and st["after"] and st["after"] != st["before"], st
    assert st["reconnecting"] and st["reconnecting"][0]["attempt"] == 1, st
    assert st["video"]["framesDecoded"] >= 30, st["video"]


def test_inner_track_stats(scenario):
    """weir.js getStats(): per received track the resolution, fps, bitrate, layer,
    loss and round-trip time; per sent layer the rid and size."""
    st = _step(scenario, "stats")
    v = next(x for x in st["s2"]["received"] if x["kind"] == "video")
    # 640x360 camera: Chromium sends rid q 160x90 and h 320x180 (f only when the estimate allows).
    assert v["width"] in (160, 320, 640) and v["height"] == v["width"] * 9 // 16, v
    assert v["fps"] and v["fps"] > 5, v
    assert v["bitrate"] and v["bitrate"] > 30_000, v
    assert v["layer"] and v["layer"]["spatial"] in (0, 1, 2) and v["layer"]["temporal"] == 2, v
    assert v["rtt"] is not None and v["rtt"] < 0.1, v
    assert v["lossPercent"] < 5 and v["quality"] in ("good", "fair"), v
    a = next(x for x in st["s2"]["received"] if x["kind"] == "audio")
    assert a["bitrate"] and a["bitrate"] > 5_000 and a["source"] == "microphone", a
    rids = sorted(x["rid"] for x in st["teacher"]["sent"] if x["kind"] == "video")
    assert rids == ["f", "h", "q"], st["teacher"]["sent"]


def test_inner_page_closed_abruptly(scenario):
    """A student's page is closed without leave: the teacher and the other student get
    participant_left for it, and the other student keeps decoding."""
    st = _step(scenario, "abrupt_close")
    for n in ("teacher", "s2"):
        assert st[n]["left"]["participant"]["id"] == st["s1"], st[n]
        assert st[n]["left"]["reason"] in ("left", "timeout"), st[n]
    assert st["s2_video"]["framesDecoded"] >= 30, st  # 30 more frames after the close
    assert st["s2_errors"] == [], st["s2_errors"]


def test_inner_browser_weir_client_both_ways(scenario):
    """Chromium publishes weir-client's test pattern (canvas) + the fake microphone;
    weir-client publishes VP8 + Opus. weir-client decodes and checks the browser's
    video (frame numbers read back, no content errors) and audio; the browser decodes
    weir-client's video and audio."""
    if not (WEIR_CLIENT and os.access(WEIR_CLIENT, os.X_OK)):
        pytest.skip("WEIR_CLIENT_BIN is not set (the meson integration test sets it)")
    st = _step(scenario, "weir_client")
    assert st["video"]["framesDecoded"] >= 60 and st["video"]["width"] == 640, st["video"]
    assert st["audio"]["packetsReceived"] > 50, st["audio"]
    rep = scenario["wc"]
    assert rep is not None, f"no weir-client report (rc {scenario['wc_rc']}):\n{scenario['wc_stderr']}"
    subs = {t["kind"]: t for t in rep.get("subscribed", [])}
    assert set(subs) == {"audio", "video"}, rep
    v = subs["video"]
    assert v["frames_decoded"] >= WC_MIN_FRAMES, v
    assert v["content_errors"] == 0 and v["order_errors"] == 0, v
    assert v["width"] >= 160 and v["width"] * 9 == v["height"] * 16, v  # 640x360, maybe scaled
    assert v["latency_ms"]["samples"] > 0 and v["latency_ms"]["p50"] < 500, v
    assert subs["audio"]["frames_decoded"] > 100, subs["audio"]
    assert rep["ok"] and scenario["wc_rc"] == 0, (rep.get("expectations"), scenario["wc_stderr"])


def test_inner_classroom_page(scenario):
    """GET / classroom: a teacher and a student join through the form; each page shows
    two tiles (self + the other), the remote video plays with its overlay (layer,
    kbps) and a quality badge; the camera and microphone buttons toggle; a page
    joining a full room says so. Screenshots are saved (paths printed)."""
    st = _step(scenario, "classroom")
    for n in ("c_teacher", "c_student"):
        tiles = st["tiles"][n]
        assert len(tiles) == 2, tiles
        teacher = [t for t in tiles if t["teacher"]]
        assert len(teacher) == 1, tiles
        other = [t for t in tiles if not t["teacher"]][0]
        assert teacher[0]["w"] > other["w"] * 1.5, tiles  # the teacher's tile is the large one
    assert st["camera_toggle_pressed"] == "true" and st["mic_pressed"] == "true", st
    assert st["mute_heard_by_teacher"], st  # the mic button muted the track on the server
    assert st["room_full"] and "full" in st["room_full"].lower(), st
    shots = scenario["result"]["shots"]
    assert len(shots) == 3 and all(os.path.getsize(p) > 10_000 for p in shots), shots
