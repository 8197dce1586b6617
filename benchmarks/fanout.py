#!/usr/bin/env python3
"""Fan-out cost: one weir-client publisher (VP8 simulcast + Opus) forwarded
by Weir to N weir-client subscribers on this machine, all on 127.0.0.1.

Reports the server's CPU (user + system, from /proc/PID/stat) and resident
memory over a steady window, per forwarded stream, next to the same figures
for the publisher-only run measured first in the same invocation (the
baseline: what ingress alone costs on this machine right now), so the
figures are ratios rather than absolute times on a shared, noisy host.

    benchmarks/fanout.py BUILD_DIR [--subscribers 10] [--seconds 10] [--workers 2]

BUILD_DIR holds `weir` and `tools/weir-client/weir-client`. Prints one JSON
object. The clients decode every frame, so on a small machine they compete
with the server for CPU; the server's own share is what is reported.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(build, workers, workdir):
    port = free_port()
    conf = os.path.join(workdir, "weir.conf")
    with open(conf, "w") as f:
        f.write(f"[server]\nlisten_port = {port}\nworkers = {workers}\n"
                "[media]\nice_bind_addresses = 127.0.0.1\n[log]\nlevel = warn\n")
    proc = subprocess.Popen([os.path.join(build, "weir"), "-c", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return proc, f"ws://127.0.0.1:{port}/ws"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit("weir did not start")


def client(build, url, room, name, seconds, *args):
    return subprocess.Popen([os.path.join(build, "tools", "weir-client", "weir-client"),
                             "--url", url, "--room", room, "--display", name,
                             "--duration", str(seconds), "--report", "-", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def measure(build, workers, subscribers, seconds):
    """Server CPU and memory while 1 publisher sends to `subscribers` subscribers."""
    with tempfile.TemporaryDirectory() as workdir:
        server, url = start_server(build, workers, workdir)
        rss_idle = rss_bytes(server.pid)
        room = f"bench{subscribers}"
        warmup = 3.0
        total = seconds + warmup + 2
        subs = [client(build, url, room, f"s{i}", total, "--subscribe")
                for i in range(subscribers)]
        time.sleep(0.5)
        pub = client(build, url, room, "pub", total + 1, "--publish", "--simulcast")
        time.sleep(warmup)
        cpu0, t0 = cpu_seconds(server.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_seconds(server.pid), time.monotonic()
        rss = rss_bytes(server.pid)
        frames = []
        for s in subs:
            out, _ = s.communicate(timeout=total + 30)
            try:
                report = json.loads(out)
                frames += [t["frames_decoded"] for t in report.get("subscribed", [])
                           if t["kind"] == "video"]
            except ValueError:
                frames.append(0)
        pub.communicate(timeout=30)
        server.terminate()
        server.wait(10)
    cpu_pct = 100.0 * (cpu1 - cpu0) / (t1 - t0)
    return {"subscribers": subscribers, "server_cpu_pct": round(cpu_pct, 2),
            "server_rss_mib": round(rss / 2**20, 1),
            "rss_growth_mib": round((rss - rss_idle) / 2**20, 1),
            "video_frames_decoded_min": min(frames) if frames else 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build")
    ap.add_argument("--subscribers", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    base = measure(a.build, a.workers, 0, a.seconds)
    run = measure(a.build, a.workers, a.subscribers, a.seconds)
    streams = 2 * a.subscribers  # audio + video forwarded to each subscriber
    extra_cpu = run["server_cpu_pct"] - base["server_cpu_pct"]
    print(json.dumps({
        "benchmark": "fanout", "workers": a.workers, "seconds": a.seconds,
        "baseline_publisher_only": base, "fanout": run,
        "forwarded_streams": streams,
        "cpu_pct_per_forwarded_stream": round(extra_cpu / streams, 3) if streams else None,
        "rss_kib_per_subscriber": round((run["server_rss_mib"] - base["server_rss_mib"]) * 1024 /
                                        max(a.subscribers, 1), 1),
        "cpu_ratio_fanout_to_ingress_only": round(run["server_cpu_pct"] /
                                                  max(base["server_cpu_pct"], 0.01), 2),
    }, indent=1))


if __name__ == "__main__":
    main()
