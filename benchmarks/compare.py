#!/usr/bin/env python3
"""Weir against the Janus WebRTC Server on the same load, in the same run.

    benchmarks/compare.py BUILD_DIR [--preset fanout] [--steps 25,50,100,200,400,800]
                          [--reps 3] [--warmup 3] [--duration 10] [--out DIR]
                          [--pacing FACTOR [--pacing-burst MS]]

BUILD_DIR holds `weir` and `benchmarks/weir-load/weir-load`. Everything runs
inside a private network namespace (the script re-runs itself under
`unshare -n`, so it needs root): Weir on 127.0.0.1, Janus on a veth that
carries 127.0.0.2 (Janus gathers no candidate on a loopback interface, and
libnice cannot send from a veth address to 127.0.0.1, so the load tool's
sockets use 127.0.0.2 for Janus). Each server is started fresh for every
point with a generated configuration (Janus: only the WebSocket transport
and the videoroom plugin), pinned to CPU 0 with taskset; weir-load is pinned
to CPU 1 and samples the server's CPU time and RSS from /proc.

Each point (subscribers S) runs both servers --reps times, alternating which
goes first, and the table gives min / median / max. Stepping stops for a
server once its median loss exceeds --max-loss %, its median delivered
share falls below 100 - --max-loss %, or its CPU reaches
--max-cpu CPU-s/s (the core is saturated). Writes DIR/results.json (every
run's report), DIR/table.md and DIR/cpu.svg; prints the table.

--pacing FACTOR (and --pacing-burst MS) are passed to weir-load: the
publishers spread each frame's packets like a browser's pacer instead of
sending one burst per frame (see "Pacing and latency" in README.md); the
table's header says which was used.

Figures are ratios on a shared, noisy machine: compare the two servers
within one run, not across runs.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WEIR_PORT = 18088
JANUS_PORT = 18188
IN_NETNS = os.environ.get("WEIR_COMPARE_IN_NETNS") == "1"
JANUS_LIB = "/usr/lib/x86_64-linux-gnu/janus"

NETNS_SETUP = (
    "ip link set lo up && "
    "ip link add wl0 type veth peer name wl1 && ip addr add 127.0.0.2/8 dev wl0 && "
    "ip link set wl1 up && ip link set wl0 up"
)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def reexec_in_netns():
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        sys.exit("compare.py needs root, unshare and ip for a private network namespace")
    env = dict(os.environ, WEIR_COMPARE_IN_NETNS="1")
    cmd = ["unshare", "-n", "sh", "-c", NETNS_SETUP + ' && exec "$0" "$@"',
           sys.executable, os.path.abspath(__file__)] + sys.argv[1:]
    sys.exit(subprocess.call(cmd, env=env))


def wait_port(host, port, proc, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection((host, port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def pin(cpu, priority):
    """Prefix: CPU pinning and a priority above the builds sharing the machine.

    rt: SCHED_RR 1 (the kernel still keeps 5 % of each CPU for others); nice:
    niceness -20. Both servers and the tool get the same, so neither a
    multi-threaded server (more CFS entities) nor a starved tool skews the
    comparison."""
    prefix = []
    if priority == "rt" and shutil.which("chrt"):
        prefix = ["chrt", "-r", "1"]
    elif priority == "nice" and shutil.which("nice"):
        prefix = ["nice", "-n", "-20"]
    return prefix + taskset(cpu)


def taskset(cpu):
    """Pins to one CPU when it exists (a negative cpu, or a 1-CPU machine, runs unpinned)."""
    if cpu is None or cpu < 0 or cpu >= (os.cpu_count() or 1) or not shutil.which("taskset"):
        return []
    return ["taskset", "-c", str(cpu)]


def weir_config(workdir):
    path = os.path.join(workdir, "weir.conf")
    with open(path, "w") as f:
        f.write(f"""[server]
listen_address = 127.0.0.1
listen_port = {WEIR_PORT}
workers = 1
max_participants = 20000
data_dir = "{workdir}/weir-data"
[log]
level = warn
[rooms]
max_participants = 20000
[media]
ice_bind_addresses = 127.0.0.1
""")
    return path


def janus_config(workdir):
    """A Janus config dir with only the WebSocket transport and the videoroom plugin."""
    d = os.path.join(workdir, "janus")
    for sub in ("plugins", "transports", "empty"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    os.symlink(f"{JANUS_LIB}/plugins/libjanus_videoroom.so",
               os.path.join(d, "plugins", "libjanus_videoroom.so"))
    os.symlink(f"{JANUS_LIB}/transports/libjanus_websockets.so",
               os.path.join(d, "transports", "libjanus_websockets.so"))
    with open(os.path.join(d, "janus.jcfg"), "w") as f:
        f.write(f"""general: {{
	configs_folder = "{d}"
	plugins_folder = "{d}/plugins"
	transports_folder = "{d}/transports"
	events_folder = "{d}/empty"
	loggers_folder = "{d}/empty"
	debug_level = 2
	session_timeout = 0
	server_name = "weir-load"
}}
media: {{
	rtp_port_range = "30000-60000"
}}
nat: {{
	ice_enforce_list = "127.0.0.2"
}}
""")
    with open(os.path.join(d, "janus.transport.websockets.jcfg"), "w") as f:
        f.write(f"""general: {{
	ws = true
	ws_port = {JANUS_PORT}
	ws_ip = "127.0.0.1"
}}
admin: {{
	admin_ws = false
}}
""")
    with open(os.path.join(d, "janus.plugin.videoroom.jcfg"), "w") as f:
        f.write("""general: {
}
room-1234: {
	description = "weir-load"
	publishers = 64
	bitrate = 0
	videocodec = "vp8"
	audiocodec = "opus"
}
""")
    return d


def is_weir(kind):
    """Whether kind is a Weir build: weir (under test) or weir-before (--baseline, same tool)."""
    return kind in ("weir", "weir-before")


def start_server(kind, build, workdir, server_cpu, priority):
    logf = open(os.path.join(workdir, f"{kind}.log"), "ab")
    if is_weir(kind):
        cmd = pin(server_cpu, priority) + [os.path.join(build, "weir"), "-c", weir_config(workdir)]
        port = WEIR_PORT
    else:
        d = os.path.join(workdir, "janus")
        if not os.path.isdir(d):
            janus_config(workdir)
        cmd = pin(server_cpu, priority) + ["janus", "-F", d, "-C", os.path.join(d, "janus.jcfg")]
        port = JANUS_PORT
    proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT)
    if not wait_port("127.0.0.1", port, proc):
        stop_server(proc)
        raise RuntimeError(f"{kind} did not start (see {workdir}/{kind}.log)")
    return proc, port


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_point(kind, args, subs, rep, workdir):
    build = args.baseline if kind == "weir-before" else args.build
    log_path = os.path.join(workdir, f"{kind}.log")
    log_start = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    proc, port = start_server(kind, build, workdir, args.server_cpu, args.priority)
    out = os.path.join(workdir, f"{kind}-{args.preset}-{subs}-{rep}.json")
    cmd = pin(args.load_cpu, args.priority) + [
        args.load_bin, "--server", "weir" if is_weir(kind) else kind, "--port", str(port),
        "--preset", args.preset, "--local-ip", "127.0.0.1" if is_weir(kind) else "127.0.0.2",
        "--warmup", str(args.warmup), "--duration", str(args.duration),
        "--server-pid", str(proc.pid), "--json", out, "--quiet",
        "--label", f"{kind} S={subs} rep={rep}"]
    if args.preset == "meeting":
        cmd += ["--participants", str(subs)]
    elif args.preset == "classroom":
        cmd += ["--students", str(subs)]
    else:
        cmd += ["--subscribers", str(subs)]
    if args.simulcast:
        cmd.append("--simulcast")
    if args.pacing:
        cmd += ["--pacing", str(args.pacing)]
        if args.pacing_burst:
            cmd += ["--pacing-burst", str(args.pacing_burst)]
    try:
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=120 + subs // 5 + args.duration + args.warmup)
        err = r.stderr.strip().splitlines()
        log(f"  {kind:5} S={subs:<5} rep={rep}: " + (err[-1] if err else f"rc={r.returncode}"))
        if r.returncode != 0 or not os.path.exists(out):
            return None
        with open(out) as f:
            report = json.load(f)
        report["server_log"] = {"overload_warnings": count_overload_warnings(log_path, log_start)}
        return report
    except subprocess.TimeoutExpired:
        log(f"  {kind} S={subs} rep={rep}: weir-load timed out")
        return None
    finally:
        stop_server(proc)


def count_overload_warnings(log_path, start):
    """Weir's "overloaded worker=" warn lines (shell/worker_load.h) this run wrote to its log."""
    try:
        with open(log_path, "rb") as f:
            f.seek(start)
            return f.read().count(b"overloaded worker=")
    except OSError:
        return None


# ---- table and plot ----

METRICS = [
    # (column, getter, format)
    ("server CPU-s/s", lambda r: r["server_stats"].get("cpu_s_per_s"), "{:.3f}"),
    ("CPU-s/s per sub stream", lambda r: r["server_stats"].get("cpu_per_stream"), "{:.5f}"),
    ("streams / core", lambda r: r["server_stats"].get("streams_per_core"), "{:.0f}"),
    ("packets / core-s", lambda r: r["server_stats"].get("packets_per_core_s"), "{:.0f}"),
    ("RSS start MB", lambda r: r["server_stats"]["rss_start_kb"] / 1024, "{:.1f}"),
    ("RSS load MB", lambda r: r["server_stats"]["rss_load_kb"] / 1024, "{:.1f}"),
    ("RSS / sub stream KB", lambda r: r["server_stats"].get("rss_per_stream_kb"), "{:.0f}"),
    ("latency p50 ms", lambda r: r["window"]["latency_video_ms"]["p50"], "{:.2f}"),
    ("latency p99 ms", lambda r: r["window"]["latency_video_ms"]["p99"], "{:.2f}"),
    ("loss %", lambda r: r["window"]["loss_pct"], "{:.3f}"),
    ("delivered %", lambda r: delivered_pct(r), "{:.1f}"),
    ("tool tx pps", lambda r: r["window"]["tx_pps"], "{:.0f}"),
    ("UDP rcvbuf drops", lambda r: r["window"].get("udp_rcvbuf_errors"), "{:.0f}"),
    ("tool CPU-s/s", lambda r: r["tool"]["cpu_s_per_s"], "{:.2f}"),
    ("overload warnings", lambda r: r.get("server_log", {}).get("overload_warnings")
     if r["server"] == "weir" else None, "{:.0f}"),
]


def metric(name):
    return next(g for n, g, _ in METRICS if n == name)


def delivered_pct(r):
    """Packets received against what the publishers sent times the receivers of each:
    catches frames a server drops before numbering its output (invisible to RTP loss)."""
    w, c = r["window"], r["config"]
    if c.get("simulcast"):
        return None  # only the forwarded layer counts; not derivable from totals
    if r["preset"] not in ("fanout", "meeting"):
        return None
    receivers = c["subscribers"] if r["preset"] == "fanout" else c["publishers"] - 1
    want = w["tx_pps"] * receivers
    return 100.0 * w["rx_pps"] / want if want > 0 else None


def values(runs, getter):
    out = []
    for r in runs:
        try:
            v = getter(r)
        except (KeyError, TypeError):
            v = None
        if v is not None:
            out.append(v)
    return out


def cell(vals, fmt):
    if not vals:
        return "–"
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt.format(med)
    return f"{fmt.format(med)} ({fmt.format(min(vals))}–{fmt.format(max(vals))})"


def median_of(runs, getter):
    v = values(runs, getter)
    return statistics.median(v) if v else None


def ratio_lines(results, steps, num, den, fmt):
    """Lines "- S subscribers: Rx" for each step where both servers have a median CPU per stream."""
    out = []
    for s in steps:
        n = median_of(results.get(num, {}).get(s, []), METRICS[1][1])
        d = median_of(results.get(den, {}).get(s, []), METRICS[1][1])
        if n and d:
            out.append(f"- {s} subscribers: {fmt.format(n / d)}x")
    return out


def pacing_label(factor, burst_ms=0):
    """How the publishers sent, in words (weir-load's own label: off, 2.5x, 2.5x+40ms)."""
    if not factor:
        return "off (one burst per frame)"
    label = f"{factor:g}x the layer bitrate"
    return label + (f", bursts up to {burst_ms} ms" if burst_ms else "")


def table(results, servers, steps, pacing=(0, 0)):
    lines = [f"Publisher pacing: {pacing_label(*pacing)}.", "",
             "| server | subs | video streams | " + " | ".join(m[0] for m in METRICS) + " |",
             "|---|---|---|" + "---|" * len(METRICS)]
    for s in steps:
        for kind in servers:
            runs = results.get(kind, {}).get(s, [])
            if not runs:
                continue
            streams = values(runs, lambda r: r["window"]["video_streams"])
            lines.append(f"| {kind} | {s} | {cell(streams, '{:.0f}')} | " +
                         " | ".join(cell(values(runs, g), f) for _, g, f in METRICS) + " |")
    lines.append("")
    lines.append("Cells: median (min–max) over the repetitions. "
                 "Ratio Janus / Weir of the median CPU per subscriber stream:")
    lines += ratio_lines(results, steps, "janus", "weir", "{:.1f}")
    if "weir-before" in servers:
        lines.append("")
        lines.append("Before/after: ratio weir-before (the --baseline build) / weir (this build) "
                     "of the median CPU per subscriber stream:")
        lines += ratio_lines(results, steps, "weir-before", "weir", "{:.2f}")
    return "\n".join(lines) + "\n"


XLABEL = {
    "fanout": "subscribers (1 publisher, 1.5 Mbps video + audio)",
    "meeting": "participants (all publish 1.5 Mbps video + audio, all receive)",
    "classroom": "students (teacher 3 layers, students 2; top + 4 thumbnails + all audio)",
}


def svg_plot(results, servers, steps, path, preset="fanout"):
    """CPU-s/s of the server against subscribers, median with min–max bars."""
    W, H, L, B, T, R = 640, 400, 60, 50, 30, 110
    pts = {}
    ymax = 0.1
    for kind in servers:
        for s in steps:
            v = values(results.get(kind, {}).get(s, []), METRICS[0][1])
            if v:
                pts.setdefault(kind, []).append((s, min(v), statistics.median(v), max(v)))
                ymax = max(ymax, max(v))
    xs = [s for s in steps if any(s == p[0] for k in pts for p in pts[k])] or steps
    xmax = max(xs) if xs else 1
    ymax = min(1.2, ymax * 1.1)

    def X(s):
        return L + (W - L - R) * s / xmax

    def Y(v):
        return H - B - (H - B - T) * v / ymax

    colors = {"weir": "#1f77b4", "janus": "#d62728", "weir-before": "#7f7f7f"}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
           f'<text x="{(W - R + L) / 2}" y="{H - 12}" text-anchor="middle">'
           f'{XLABEL.get(preset, preset)}</text>',
           f'<text x="16" y="{(H - B + T) / 2}" text-anchor="middle" '
           f'transform="rotate(-90 16 {(H - B + T) / 2})">server CPU-s per s (one core = 1)</text>']
    for i in range(6):
        v = ymax * i / 5
        out.append(f'<line x1="{L - 4}" y1="{Y(v):.1f}" x2="{W - R}" y2="{Y(v):.1f}" '
                   'stroke="#ddd"/>')
        out.append(f'<text x="{L - 6}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    for s in xs:
        out.append(f'<text x="{X(s):.1f}" y="{H - B + 16}" text-anchor="middle">{s}</text>')
    for n, kind in enumerate(servers):
        c = colors.get(kind, "black")
        p = pts.get(kind, [])
        if p:
            out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
                c, " ".join(f"{X(s):.1f},{Y(med):.1f}" for s, _, med, _ in p)))
        for s, lo, med, hi in p:
            out.append(f'<line x1="{X(s):.1f}" y1="{Y(lo):.1f}" x2="{X(s):.1f}" y2="{Y(hi):.1f}" '
                       f'stroke="{c}"/>')
            out.append(f'<circle cx="{X(s):.1f}" cy="{Y(med):.1f}" r="3" fill="{c}"/>')
        out.append(f'<rect x="{W - R + 10}" y="{T + 20 * n}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{W - R + 28}" y="{T + 20 * n + 11}">{kind}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build", nargs="?",
                    help="build directory (weir, benchmarks/weir-load/weir-load)")
    ap.add_argument("--preset", default="fanout", choices=["fanout", "meeting", "classroom"])
    ap.add_argument("--steps", default="25,50,100,200,400,800",
                    help="subscribers per point (meeting: participants; classroom: students)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=3)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--servers", default=None,
                    help="comma list of weir, janus, weir-before (default weir,janus, plus "
                         "weir-before with --baseline)")
    ap.add_argument("--baseline", metavar="BUILD_DIR", default=None,
                    help="a second Weir build (e.g. before an optimisation) run as 'weir-before' "
                         "in the same run with the same weir-load: the table adds the "
                         "before/after ratio")
    ap.add_argument("--simulcast", action="store_true")
    ap.add_argument("--pacing", type=float, default=0, metavar="FACTOR",
                    help="weir-load --pacing: publishers spread each frame's packets at FACTOR x "
                         "the bitrate (a browser's pacer: 2.5); 0 (default) = one burst per frame")
    ap.add_argument("--pacing-burst", type=int, default=0, metavar="MS",
                    help="weir-load --pacing-burst: the pacer may run MS ms ahead of its rate")
    ap.add_argument("--max-loss", type=float, default=1.0)
    ap.add_argument("--max-cpu", type=float, default=0.95)
    ap.add_argument("--server-cpu", type=int, default=0)
    ap.add_argument("--load-cpu", type=int, default=1)
    ap.add_argument("--priority", choices=["rt", "nice", "none"], default="rt",
                    help="scheduling of both servers and the tool (default rt: SCHED_RR); on a "
                         "machine shared with builds, a multi-threaded server otherwise gets "
                         "more CPU than a single-threaded one, and the tool gets starved")
    ap.add_argument("--out", default=None, help="directory for results (default: a temp dir)")
    ap.add_argument("--from-results", metavar="FILE",
                    help="only rewrite table.md and cpu.svg from a results.json (no run)")
    args = ap.parse_args()
    if args.servers is None:
        args.servers = "weir,janus" + (",weir-before" if args.baseline else "")
    servers = [s for s in args.servers.split(",") if s]
    if "weir-before" in servers and not args.baseline and not args.from_results:
        ap.error("weir-before needs --baseline BUILD_DIR")
    if args.pacing and not 1 <= args.pacing <= 100:
        ap.error("--pacing wants 0 (off) or a factor from 1 to 100")
    if not 0 <= args.pacing_burst <= 1000:
        ap.error("--pacing-burst wants milliseconds from 0 to 1000")
    if args.from_results:
        with open(args.from_results) as f:
            saved = json.load(f)
        results = {k: {int(s): v for s, v in saved["runs"].get(k, {}).items()} for k in servers}
        out_dir = os.path.abspath(args.out) if args.out else os.path.dirname(
            os.path.abspath(args.from_results))
        os.makedirs(out_dir, exist_ok=True)
        md = table(results, servers, saved["steps"],
                   (saved.get("pacing", 0), saved.get("pacing_burst_ms", 0)))
        with open(os.path.join(out_dir, "table.md"), "w") as f:
            f.write(md)
        svg_plot(results, servers, saved["steps"], os.path.join(out_dir, "cpu.svg"),
                 saved.get("preset", "fanout"))
        print(md)
        return 0
    if not args.build:
        ap.error("the build directory is required")
    args.build = os.path.abspath(args.build)
    args.load_bin = os.path.join(args.build, "benchmarks", "weir-load", "weir-load")
    if "janus" in servers and not shutil.which("janus"):
        sys.exit("janus is not installed (tools/install-deps.sh installs it)")
    if args.baseline:
        args.baseline = os.path.abspath(args.baseline)
    for exe in (os.path.join(args.build, "weir"), args.load_bin) + (
            (os.path.join(args.baseline, "weir"),) if args.baseline else ()):
        if not os.access(exe, os.X_OK):
            sys.exit(f"missing {exe}")
    if not IN_NETNS:
        reexec_in_netns()
    steps = [int(s) for s in args.steps.split(",") if s]
    out_dir = os.path.abspath(args.out) if args.out else tempfile.mkdtemp(prefix="weir-compare-")
    os.makedirs(out_dir, exist_ok=True)
    workdir = tempfile.mkdtemp(prefix="weir-compare-run-")
    results = {k: {} for k in servers}
    active = list(servers)
    started = time.time()
    loadavg_start = os.getloadavg()
    log(f"compare: preset={args.preset} steps={steps} reps={args.reps} "
        f"pacing={pacing_label(args.pacing, args.pacing_burst)} out={out_dir}")
    for s in steps:
        if not active:
            break
        for rep in range(args.reps):
            order = active if rep % 2 == 0 else list(reversed(active))
            for kind in order:
                r = run_point(kind, args, s, rep, workdir)
                if r:
                    results[kind].setdefault(s, []).append(r)
        for kind in list(active):
            runs = results[kind].get(s, [])
            loss = median_of(runs, metric("loss %"))
            cpu = median_of(runs, METRICS[0][1])
            # "loss" counts only streams that receive; a saturated server may
            # leave most subscribers with nothing at all, which delivered % shows.
            delivered = median_of(runs, metric("delivered %"))
            if not runs or (loss is not None and loss > args.max_loss) or \
                    (delivered is not None and delivered < 100 - args.max_loss) or \
                    (cpu is not None and cpu >= args.max_cpu):
                log(f"compare: {kind} stops at {s} (loss {loss}, delivered {delivered}, "
                    f"cpu {cpu})")
                active.remove(kind)
    md = table(results, servers, steps, (args.pacing, args.pacing_burst))
    with open(os.path.join(out_dir, "table.md"), "w") as f:
        f.write(md)
    svg_plot(results, servers, steps, os.path.join(out_dir, "cpu.svg"), args.preset)
    with open(os.path.join(out_dir, "results.json"), "w") as f:
        json.dump({"preset": args.preset, "steps": steps, "reps": args.reps,
                   "warmup_s": args.warmup, "duration_s": args.duration,
                   "pacing": args.pacing, "pacing_burst_ms": args.pacing_burst,
                   "cpus": os.cpu_count(), "loadavg_start": loadavg_start,
                   "elapsed_s": round(time.time() - started, 1),
                   "runs": {k: {str(s): v for s, v in results[k].items()} for k in servers}},
                  f, indent=1)
    shutil.rmtree(workdir, ignore_errors=True)
    print(md)
    log(f"compare: wrote {out_dir}/table.md, cpu.svg, results.json")
    return 0 if all(results[k] for k in servers) else 1


def on_term(signum, frame):
    raise KeyboardInterrupt  # unwinds run_point: the server and weir-load are stopped


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_term)
    sys.exit(main())
