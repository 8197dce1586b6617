"""Smoke run of the Weir vs Janus comparison (benchmarks/compare.py).

One point of the fanout preset (1 publisher, 10 subscribers, a few seconds)
against both servers, in the private network namespace compare.py makes.
Asserts only that each server delivered the media to every subscriber,
SRTP-verified and carrying weir-load's trailer; never how fast (benchmarks
on a shared machine are figures, not assertions).

Runs twice: as the publishers sent until now (one burst per frame) and with
--pacing 2.5 (each frame's packets spread like a browser's pacer), where it
also checks that the frames did leave spread out.

Needs root (unshare -n), the Debian janus package, and weir-load built next
to the server (BUILD/benchmarks/weir-load/weir-load); skipped otherwise.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

SOURCE_ROOT = os.environ.get("WEIR_SOURCE_ROOT",
                             os.path.dirname(os.path.dirname(os.path.dirname(
                                 os.path.abspath(__file__)))))
SUBSCRIBERS = 10


def build_dir():
    weir = os.environ.get("WEIR_BIN")
    if not weir:
        pytest.fail("WEIR_BIN is not set", pytrace=False)
    return os.path.dirname(os.path.abspath(weir))


def missing(build):
    lacks = []
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        lacks.append("root, unshare and ip for a private network namespace")
    if not shutil.which("janus"):
        lacks.append("the janus package")
    if not os.access(os.path.join(build, "benchmarks", "weir-load", "weir-load"), os.X_OK):
        lacks.append("weir-load (built with libvpx and libopus)")
    return lacks


@pytest.mark.parametrize("pacing", [0, 2.5], ids=["burst", "paced"])
def test_both_servers_deliver_the_media(tmp_path, pacing):
    build = build_dir()
    lacks = missing(build)
    if lacks:
        pytest.skip("needs " + "; ".join(lacks))
    out = tmp_path / "compare"
    cmd = [sys.executable, os.path.join(SOURCE_ROOT, "benchmarks", "compare.py"), build,
           "--steps", str(SUBSCRIBERS), "--reps", "1", "--warmup", "2", "--duration", "4",
           "--server-cpu", "-1", "--load-cpu", "-1", "--priority", "none", "--out", str(out)]
    if pacing:
        cmd += ["--pacing", str(pacing)]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout[-5000:]
    with open(out / "results.json") as f:
        results = json.load(f)
    for server in ("weir", "janus"):
        runs = results["runs"][server][str(SUBSCRIBERS)]
        assert len(runs) == 1, (server, r.stdout[-3000:])
        rep = runs[0]
        setup, w = rep["setup"], rep["window"]
        assert setup["publishers_connected"] == 1, (server, setup)
        assert setup["subscribers_connected"] == SUBSCRIBERS, (server, setup)
        # Every subscriber receives the video and the audio of the publisher...
        assert w["video_streams"] == SUBSCRIBERS, (server, w)
        assert w["audio_streams"] == SUBSCRIBERS, (server, w)
        # ...as SRTP that decrypts, with our trailer (so it is our media, timed)...
        assert w["srtp_verified"] > 0 and w["srtp_failed"] == 0, (server, w)
        assert w["no_trailer"] == 0, (server, w)
        assert w["latency_video_ms"]["samples"] > 0, (server, w)
        # ...and most of what was sent arrives (a loose bound: no speed is asserted).
        assert w["expected"] > 0 and w["lost"] < w["expected"] / 2, (server, w)
        assert rep["config"]["pacing"] == pacing, (server, rep["config"])
        if pacing:
            # The frames left spread out: at 2.5 x 1.5 Mbps the second full
            # packet of a frame leaves 2.4 ms after the first, and the clip's
            # frames are several packets (a burst takes a few microseconds).
            assert w["pacing"]["frame_send_ms"] >= 2.0, (server, w["pacing"])
            assert w["pacing"]["queue_flushes"] == 0, (server, w["pacing"])
    table = (out / "table.md").read_text()
    assert "| weir |" in table and "| janus |" in table
    assert ("Publisher pacing: 2.5x" if pacing else "Publisher pacing: off") in table
    assert (out / "cpu.svg").read_text().startswith("<svg")
