#!/usr/bin/env python3
"""Data-channel throughput of one room, with weir-client (--dc options) on 127.0.0.1.

1. Fan-out: R receivers (weir-clients with only a whiteboard channel) and S
   senders pushing ops as fast as the flood limit allows (the server runs
   with [data] flood_messages_per_s raised to --flood; each sender sends at
   80% of it, leaving room for its timer's jitter). Every message is stamped on the control thread and sent to
   all R + S channels. Reported: ops/s stamped, messages/s delivered, echo
   latency at the senders, server CPU (user + system, /proc/PID/stat) and
   peak RSS over the run.
2. Replay: one writer fills a fresh room with --history ops, then a late
   joiner opens the whiteboard; reported: the time from its channel opening
   to the last history message (weir-client's history_ms), the wall time
   until it had everything, server RSS with the history loaded.

    benchmarks/datachannel.py BUILD_DIR [--receivers 50] [--senders 2] [--ops 2000]
                              [--flood 2000] [--history 100000] [--workers 2]

BUILD_DIR holds `src/weir` (or `weir`) and `tools/weir-client/weir-client`.
Prints a Markdown table (and the raw figures as JSON with --json). Not run
by the tests: it takes minutes and its figures depend on the machine; the
clients share the CPU with the server, so read the server's own share.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
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


def find_server(build):
    for rel in ("src/weir", "weir"):
        path = os.path.join(build, rel)
        if os.access(path, os.X_OK):
            return path
    sys.exit(f"no weir binary under {build}")


class Server:
    def __init__(self, build, workers, workdir, flood, log_path=None):
        self.port = free_port()
        conf = os.path.join(workdir, "weir.conf")
        with open(conf, "w") as f:
            f.write(f"[server]\nlisten_address = 127.0.0.1\nworkers = {workers}\n"
                    f"data_dir = {os.path.join(workdir, 'data')}\n"
                    "[media]\nice_bind_addresses = 127.0.0.1\n"
                    f"[log]\nlevel = {log_level}\n"
                    f"[data]\nflood_messages_per_s = {flood}\n"
                    f"flood_bytes_per_s = {max(flood * 1024, 1048576)}\n")
        self.log = open(log_path or os.path.join(workdir, "weir.log"), "wb")
        self.proc = subprocess.Popen([find_server(build), "-c", conf, "--port",
                                      str(self.port)], stdout=self.log, stderr=self.log)
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.peak_rss = 0
        self._stop = threading.Event()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            self.proc.kill()
            sys.exit("weir did not start")
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self):
        while not self._stop.is_set() and self.proc.poll() is None:
            try:
                self.peak_rss = max(self.peak_rss, rss_bytes(self.proc.pid))
            except OSError:
                return
            time.sleep(0.1)

    def reset_peak(self):
        self.peak_rss = rss_bytes(self.proc.pid)

    def stop(self):
        self._stop.set()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def client(url, room, name, seconds, *args):
    return subprocess.Popen([os.path.join(build_dir, "tools", "weir-client", "weir-client"),
                             "--url", url, "--room", room, "--display", name,
                             "--duration", str(seconds), "--report", "-", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def report(proc, timeout):
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    try:
        return proc.returncode, json.loads(out)
    except ValueError:
        return proc.returncode, {}


def whiteboard(rep):
    for c in (rep.get("datachannel") or {}).get("channels", []):
        if c["label"] == "whiteboard":
            return c
    return {}


def fanout(args):
    total = args.senders * args.ops
    # Under the limit with room for the senders' timer jitter (a late tick sends its backlog
    # at once, and the server's bucket holds one second).
    rate = max(1.0, args.flood * 0.8)
    send_s = args.ops / rate
    budget = int(60 + send_s * 4)
    with tempfile.TemporaryDirectory() as workdir:
        srv = Server(build_dir, args.workers, workdir, args.flood,
                     args.server_log and args.server_log + ".fanout")
        try:
            receivers = [client(srv.url, "fan", f"r{i}", budget, "--dc", "whiteboard",
                                "--dc-expect-messages", str(total))
                         for i in range(args.receivers)]
            time.sleep(3 + args.receivers * 0.1)  # most have joined; late ones get history
            srv.reset_peak()
            cpu0, t0 = cpu_seconds(srv.proc.pid), time.monotonic()
            senders = [client(srv.url, "fan", f"s{i}", budget, "--dc", "whiteboard",
                              "--dc-send-ops", str(args.ops), "--dc-rate", f"{rate:.0f}",
                              "--dc-expect-messages", str(total))
                       for i in range(args.senders)]
            results = [report(p, budget + 30) for p in senders + receivers]
            elapsed = time.monotonic() - t0
            cpu = cpu_seconds(srv.proc.pid) - cpu0
            complete = sum(1 for rc, r in results if rc == 0)
            failures = [failure(rc, r) for rc, r in results if rc != 0][:3]
            sender_lat = [r["datachannel"]["own"]["latency_ms"] for _, r in results[:args.senders]
                          if r.get("datachannel")]
            delivered = sum(whiteboard(r).get("stamped", 0) for _, r in results)
            # From the first op sent to the last message received, on the clients' clocks
            # (one host): connection set-up and exit are not counted.
            walls = [r["datachannel"]["wall_ms"] for _, r in results if r.get("datachannel")]
            first = min((w["first_send"] for w in walls if w["first_send"]), default=0)
            last = max((w["last_received"] for w in walls), default=0)
            span = (last - first) / 1000 if first and last > first else elapsed
            # What was stamped: the highest seq any client saw (less than planned when
            # channels were closed on the way).
            stamped = max((whiteboard(r).get("last_seq") or 0 for _, r in results), default=0)
            return {
                "receivers": args.receivers, "senders": args.senders, "ops": total,
                "stamped": stamped, "clients_complete": complete, "clients": len(results),
                "elapsed_s": elapsed, "span_s": span, "ops_per_s": stamped / span,
                "delivered_per_s": delivered / span,
                "echo_p50_ms": max((l["p50"] for l in sender_lat), default=None),
                "echo_p95_ms": max((l["p95"] for l in sender_lat), default=None),
                "server_cpu_s": cpu, "server_cpu_pct": 100 * cpu / elapsed,
                "server_peak_rss_mb": srv.peak_rss / 2**20, "failures": failures,
            }
        finally:
            srv.stop()


def failure(rc, rep):
    """Why a client did not finish: its error or the expectations it missed."""
    bad = [e["detail"] for e in rep.get("expectations", []) if not e.get("ok")]
    wb = whiteboard(rep)
    return {"rc": rc, "error": rep.get("error"), "missed": bad,
            "channel": {k: wb.get(k) for k in ("state", "closed_reason", "stamped", "errors")}}


def replay(args):
    n = args.history
    budget = int(120 + n / args.fill_rate * 4)
    with tempfile.TemporaryDirectory() as workdir:
        # Filling is not what is measured: no flood limit in the way.
        srv = Server(build_dir, args.workers, workdir, 1000000,
                     args.server_log and args.server_log + ".replay")
        try:
            t0 = time.monotonic()
            rc, wr = report(client(srv.url, "replay", "writer", budget, "--dc-send-ops", str(n),
                                   "--dc-rate", str(args.fill_rate), "--dc-expect-messages",
                                   str(n)), budget + 30)
            fill_s = time.monotonic() - t0
            ww = (wr.get("datachannel") or {}).get("wall_ms", {})
            fill_span = (ww.get("last_received", 0) - ww.get("first_send", 0)) / 1000
            rss_loaded = rss_bytes(srv.proc.pid)
            t1 = time.monotonic()
            rc2, lr = report(client(srv.url, "replay", "late", budget, "--dc-send-ops", "1",
                                    "--dc-expect-messages", str(n + 1)), budget + 30)
            wall = time.monotonic() - t1
            wb = whiteboard(lr)
            return {
                "history": n, "writer_ok": rc == 0, "fill_s": fill_s,
                "fill_ops_per_s": n / fill_span if fill_span > 0 else None,
                "late_ok": rc2 == 0, "replayed": wb.get("history"),
                "replay_ms": wb.get("history_ms"), "late_wall_s": wall,
                "late_gaps": wb.get("gaps"), "server_rss_mb": rss_loaded / 2**20,
                "failures": [failure(c, x) for c, x in ((rc, wr), (rc2, lr)) if c != 0],
                "server_peak_rss_mb": srv.peak_rss / 2**20,
            }
        finally:
            srv.stop()


def fmt(v, spec=".1f"):
    return "n/a" if v is None else format(v, spec)


def main():
    global build_dir
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--receivers", type=int, default=50)
    ap.add_argument("--senders", type=int, default=2)
    ap.add_argument("--ops", type=int, default=2000, help="ops per sender")
    ap.add_argument("--flood", type=int, default=2000, help="[data] flood_messages_per_s")
    ap.add_argument("--history", type=int, default=100000)
    ap.add_argument("--fill-rate", type=int, default=3000, help="ops/s of the history writer")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-fanout", action="store_true")
    ap.add_argument("--skip-replay", action="store_true")
    ap.add_argument("--json", action="store_true", help="also print the raw figures")
    ap.add_argument("--server-log", help="keep the servers' logs (info) in FILE.fanout, "
                    "FILE.replay")
    args = ap.parse_args()
    build_dir = args.build
    global log_level
    log_level = "info" if args.server_log else "warn"
    out = {}
    if not args.skip_fanout:
        f = out["fanout"] = fanout(args)
        print(f"\n### Fan-out: {f['senders']} senders -> {f['receivers']} receivers, one room\n")
        print("| ops stamped / sent | ops/s | messages delivered/s | echo p50 / p95 (ms) "
              "| server CPU | server peak RSS | clients complete |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {f['stamped']} / {f['ops']} | {f['ops_per_s']:.0f} | {f['delivered_per_s']:.0f} "
              f"| {fmt(f['echo_p50_ms'])} / {fmt(f['echo_p95_ms'])} "
              f"| {f['server_cpu_pct']:.0f}% ({f['server_cpu_s']:.1f} s) "
              f"| {f['server_peak_rss_mb']:.1f} MiB | {f['clients_complete']}/{f['clients']} |")
    if not args.skip_replay:
        r = out["replay"] = replay(args)
        print(f"\n### Replay of a {r['history']}-op history to a late joiner\n")
        print("| history | fill (one writer) | replay (open to last history msg) "
              "| late joiner done | gaps | server RSS with history | ok |")
        print("|---|---|---|---|---|---|---|")
        print(f"| {fmt(r['replayed'], 'd') if r['replayed'] is not None else 'n/a'} "
              f"| {r['fill_s']:.1f} s ({fmt(r['fill_ops_per_s'], '.0f')} ops/s) "
              f"| {fmt(r['replay_ms'], '.0f')} ms "
              f"| {r['late_wall_s']:.1f} s | {fmt(r['late_gaps'], 'd') if r['late_gaps'] is not None else 'n/a'} "
              f"| {r['server_rss_mb']:.1f} MiB | {r['writer_ok'] and r['late_ok']} |")
    if args.json:
        print(json.dumps(out, indent=1))


build_dir = None
log_level = "warn"

if __name__ == "__main__":
    main()
