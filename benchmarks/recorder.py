#!/usr/bin/env python3
"""The built-in recorder's CPU and memory cost per recorded stream.

One server (BUILD_DIR's weir, with its recorder plugin), N weir-client
publishers in one room (audio + VP8 video at --width x --height, nobody
subscribes, so the server forwards nothing) and a recorder-role WebSocket
client. The same process and the same publishers go through three windows
of --seconds each:

  1. baseline: publishing only;
  2. recording every track (record_start {}), after --warmup seconds for the
     recording to settle (frames are held until each track's first RTCP
     sender report, about a second);
  3. baseline again after record_stop (skip with --no-third): how far two
     identical windows differ on this machine, i.e. the noise.

--rounds R repeats (recording, baseline) R times, a new recording each time,
and adds the median over the rounds of each recording window against the
mean of the baselines either side of it: on a shared machine the load moves
between windows, and a single difference can be off by more than the
recorder costs.

Reported (Markdown, --json for the raw figures): the server's CPU (user +
system from /proc/PID/stat, % of one core) in each window, the recorder
thread's own CPU ("weir-recorder", /proc/PID/task/TID/stat), the extra CPU
per recorded stream ((window 2 - window 1) / 2N), the ratio window 2 /
window 1, VmRSS before and during the recording and its growth per
recorded stream (each track's packet queue, [recorder] queue_packets slots
of ~1.5 KB, and its frame assembler's buffers, touched as packets go
through them: it grows for the first ~10 s of a recording), what was written
(bytes from the files, frames and queue drops from /metrics), and RTP
packets received per second in each window (the load must be the same in
every window for the comparison to mean anything).

The run fails loudly (exit 1) when the recorder plugin is not loaded, a
publisher dies, the recording does not reach manifest state "complete", a
file is empty or a track reports a write error, or the server does not
exit 0 on SIGTERM (or a sanitizer build reports something).

    benchmarks/recorder.py BUILD_DIR [--publishers 4] [--seconds 15] [--width 640 --height 360]
                           [--fps 30] [--warmup 5] [--workers 2] [--no-third] [--rounds 1]
                           [--json] [--keep DIR] [--server-log]

BUILD_DIR holds `src/weir` (or `weir`), `plugins/recorder/weir-recorder.so`
and `tools/weir-client/weir-client`; a release build is what the figures
are meant for (`meson setup build/release --buildtype=release`). The
publishers (VP8 encoders) run on the same cores as the server: read the
server's own share and the per-stream difference, not the machine's load.
--keep DIR keeps the configuration, the server's log and the recording.
Standard library only (the WebSocket client below is a minimal one).
"""
import argparse
import base64
import hashlib
import itertools
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
ROOM = "bench-recorder"
RECORDER_THREAD = "weir-recorder"  # pthread_setname_np in plugins/recorder/recorder.c


class BenchError(Exception):
    """Something that makes the figures meaningless: reported, exit status 1."""


# ---------------------------------------------------------------- /proc

def _ticks(stat_path):
    with open(stat_path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime, clock ticks


def cpu_seconds(pid):
    return _ticks(f"/proc/{pid}/stat") / CLK_TCK


def threads(pid):
    """{tid: (comm, cpu seconds)} of every thread of the process now."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                comm = f.read().strip()
            out[int(tid)] = (comm, _ticks(f"/proc/{pid}/task/{tid}/stat") / CLK_TCK)
        except OSError:
            pass  # the thread ended meanwhile
    return out


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- a minimal JSON-RPC WebSocket

class Rpc:
    """JSON-RPC 2.0 over one WebSocket (RFC 6455, client side, text frames only).

    A reader thread files responses by id and queues notifications, and answers
    pings, so the session stays healthy however long a window lasts."""

    def __init__(self, host, port, path="/ws", subprotocol="weir-v1", timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: {subprotocol}"
                           "\r\n\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise BenchError(f"WebSocket: server closed during the handshake: {head!r}")
            head += chunk
        head, self._buf = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        if " 101 " not in lines[0] + " ":
            raise BenchError(f"WebSocket handshake refused: {lines[0]}")
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if f"sec-websocket-accept: {accept}".lower() not in (l.lower() for l in lines):
            raise BenchError("WebSocket handshake: wrong Sec-WebSocket-Accept")
        self.sock.settimeout(None)
        self._ids = itertools.count(1)
        self._send_lock = threading.Lock()
        self._cond = threading.Condition()
        self._responses = {}
        self.notifications = []
        self.closed = None  # why, once closed
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    def _send_frame(self, opcode, payload):
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            hdr = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        # XOR with the mask repeated over the payload, as one big integer (fast enough).
        m = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(m, "big")).to_bytes(n, "big")
        with self._send_lock:
            self.sock.sendall(hdr + mask + masked)

    def _read_exact(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def _read_loop(self):
        message = b""
        try:
            while True:
                b0, b1 = self._read_exact(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", self._read_exact(2))[0]
                elif n == 127:
                    n = struct.unpack("!Q", self._read_exact(8))[0]
                payload = self._read_exact(n)
                op = b0 & 0x0F
                if op == 0x9:
                    self._send_frame(0xA, payload)
                elif op == 0x8:
                    raise ConnectionError(f"close frame {payload[:2].hex()} {payload[2:]!r}")
                elif op in (0x0, 0x1):
                    message += payload
                    if b0 & 0x80:
                        self._file(json.loads(message))
                        message = b""
        except (OSError, ValueError, ConnectionError) as e:
            with self._cond:
                self.closed = str(e) or type(e).__name__
                self._cond.notify_all()

    def _file(self, msg):
        with self._cond:
            if "id" in msg and ("result" in msg or "error" in msg):
                self._responses[msg["id"]] = msg
            else:
                self.notifications.append(msg)
            self._cond.notify_all()

    def call(self, method, params=None, timeout=10.0):
        """The result, or BenchError with the server's error."""
        id = next(self._ids)
        self._send_frame(0x1, json.dumps({"jsonrpc": "2.0", "id": id, "method": method,
                                          "params": params or {}}).encode())
        deadline = time.monotonic() + timeout
        with self._cond:
            while id not in self._responses:
                if self.closed:
                    raise BenchError(f"{method}: WebSocket closed: {self.closed}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"{method}: no answer within {timeout} s")
                self._cond.wait(left)
            r = self._responses.pop(id)
        if "error" in r:
            raise BenchError(f"{method} failed: {r['error'].get('code')} "
                             f"{r['error'].get('message')}")
        return r["result"]

    def wait_for(self, predicate, timeout):
        """Waits until predicate(notifications) is true; False on timeout or close."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate(self.notifications):
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    return False
                self._cond.wait(left)
            return True

    def close(self):
        try:
            self._send_frame(0x8, struct.pack("!H", 1000))
        except OSError:
            pass
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._reader.join(2)


# ---------------------------------------------------------------- server and publishers

def find_server(build):
    for rel in ("src/weir", "weir"):
        path = os.path.join(build, rel)
        if os.access(path, os.X_OK):
            return path
    raise BenchError(f"no weir binary under {build} (src/weir or weir)")


def find_plugin(build):
    path = os.path.join(build, "plugins", "recorder", "weir-recorder.so")
    return path if os.path.exists(path) else ""  # "": the server's own search


class Server:
    def __init__(self, build, workdir, workers, log_level):
        self.port = free_port()
        self.data_dir = os.path.join(workdir, "data")
        conf = os.path.join(workdir, "weir.conf")
        with open(conf, "w") as f:
            f.write("# written by benchmarks/recorder.py\n"
                    f"[server]\nlisten_address = 127.0.0.1\nworkers = {workers}\n"
                    f"data_dir = {self.data_dir}\n"
                    "[media]\nice_bind_addresses = 127.0.0.1\n"
                    f"[log]\nlevel = {log_level}\n"
                    # Publishers only: nobody receives anything (weir-client without
                    # --subscribe would ignore the offers anyway).
                    "[rooms]\nauto_subscribe = false\n"
                    f"[recorder]\nplugin = {find_plugin(build)}\n")
        self.log_path = os.path.join(workdir, "weir.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([find_server(build), "-c", conf, "--port", str(self.port)],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log)
        self.pid = self.proc.pid
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        deadline = time.monotonic() + 15
        while True:
            if self.proc.poll() is not None:
                raise BenchError(f"weir exited with status {self.proc.returncode} at start; "
                                 f"log:\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError("weir did not answer /healthz within 15 s; log:\n"
                                     + self.log_tail())
                time.sleep(0.05)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def log_tail(self, n=4000):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-n:]
        except OSError:
            return ""

    def _sample(self):
        while not self._stop.is_set() and self.proc.poll() is None:
            try:
                self.peak_rss = max(self.peak_rss, rss_bytes(self.pid))
            except OSError:
                return
            time.sleep(0.2)

    def reset_peak(self):
        self.peak_rss = rss_bytes(self.pid)

    def metrics(self):
        """{name or name{labels}: value} from /metrics (labels as the server prints them)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as r:
            text = r.read().decode()
        out = {}
        for line in text.splitlines():
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)", line)
            if m and not line.startswith("#"):
                out[m.group(1)] = float(m.group(2))
        return out

    def stop(self):
        self._stop.set()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def start_publisher(build, url, i, args, duration, workdir):
    client = os.path.join(build, "tools", "weir-client", "weir-client")
    if not os.access(client, os.X_OK):
        raise BenchError(f"no weir-client at {client}")
    # stderr to a file, not a pipe: a pipe nobody reads would stall a chatty client.
    log = open(os.path.join(workdir, f"pub{i}.log"), "wb")
    proc = subprocess.Popen([client, "--url", url, "--room", ROOM, "--display", f"pub{i}",
                             "--publish", "--width", str(args.width), "--height",
                             str(args.height), "--fps", str(args.fps), "--duration",
                             str(duration), "--report", "-"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)
    log.close()  # the child has its own descriptor
    proc.log_path = log.name
    return proc


def stop_process(proc, timeout=10):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------- windows

M_RX = "weir_media_rtp_packets_received_total"
M_TX = "weir_media_rtp_packets_sent_total"
M_FRAMES = 'weir_recorder_frames_total{outcome="written"}'
M_DROPPED = 'weir_recorder_frames_total{outcome="dropped"}'
M_BYTES = "weir_recorder_bytes_total"
M_QDROPS = "weir_recorder_queue_drops_total"
M_WERR = "weir_recorder_write_errors_total"
M_PACKETS = "weir_recorder_packets_total"


def recording_bytes(rec_dir):
    """Sum of the track files' sizes (manifest and timeline left out)."""
    if not rec_dir or not os.path.isdir(rec_dir):
        return 0
    return sum(os.path.getsize(os.path.join(rec_dir, f)) for f in os.listdir(rec_dir)
               if f.endswith((".webm", ".mkv")))


def snapshot(srv, rec_dir=None):
    return {"t": time.monotonic(), "cpu": cpu_seconds(srv.pid), "threads": threads(srv.pid),
            "metrics": srv.metrics(), "rss": rss_bytes(srv.pid), "files": recording_bytes(rec_dir)}


def measure(srv, seconds, publishers, rec_dir=None):
    """One window: figures from two snapshots `seconds` apart."""
    srv.reset_peak()
    a = snapshot(srv, rec_dir)
    end = a["t"] + seconds
    while time.monotonic() < end:
        time.sleep(min(0.5, max(0.0, end - time.monotonic())))
        dead = [i for i, p in enumerate(publishers) if p.poll() is not None]
        if dead:
            with open(publishers[dead[0]].log_path, "rb") as f:
                why = f.read().decode("utf-8", "replace")[-2000:]
            raise BenchError(f"publisher(s) {dead} exited during a window; the first said: {why}")
        if srv.proc.poll() is not None:
            raise BenchError(f"weir exited ({srv.proc.returncode}); log:\n{srv.log_tail()}")
    b = snapshot(srv, rec_dir)
    dt = b["t"] - a["t"]

    def rate(name):
        return (b["metrics"].get(name, 0) - a["metrics"].get(name, 0)) / dt

    by_thread = {}
    for tid, (comm, cpu) in b["threads"].items():
        before = a["threads"].get(tid, (comm, 0.0))[1]
        by_thread[comm] = by_thread.get(comm, 0.0) + 100 * (cpu - before) / dt
    rec_tids = [tid for tid, (comm, _) in b["threads"].items() if comm == RECORDER_THREAD]
    return {
        "seconds": dt,
        "server_cpu_pct": 100 * (b["cpu"] - a["cpu"]) / dt,
        "recorder_thread_cpu_pct": by_thread.get(RECORDER_THREAD),
        "recorder_threads": len(rec_tids),
        "cpu_pct_by_thread": {k: round(v, 3) for k, v in sorted(by_thread.items())},
        "rss_start_mb": a["rss"] / 2**20, "rss_end_mb": b["rss"] / 2**20,
        "rss_peak_mb": max(srv.peak_rss, b["rss"]) / 2**20,
        "rtp_rx_pps": rate(M_RX), "rtp_tx_pps": rate(M_TX),
        "file_bytes_per_s": (b["files"] - a["files"]) / dt,
        "recorder_bytes_per_s": rate(M_BYTES), "recorder_packets_per_s": rate(M_PACKETS),
        "frames_written_per_s": rate(M_FRAMES), "frames_dropped": rate(M_DROPPED) * dt,
        "queue_drops": rate(M_QDROPS) * dt, "write_errors": rate(M_WERR) * dt,
        "loadavg_end": loadavg(),
    }


def wait_tracks(rpc, joined, want, timeout):
    """Track ids published in the room: the join's list plus track_published notifications."""
    def ids(notes):
        got = {t["id"] for t in joined.get("tracks", [])}
        got |= {n["params"]["track"]["id"] for n in notes
                if n.get("method") == "track_published" and "track" in n.get("params", {})}
        return got
    if not rpc.wait_for(lambda notes: len(ids(notes)) >= want, timeout):
        raise BenchError(f"only {len(ids(rpc.notifications))} of {want} tracks were published "
                         f"within {timeout:.0f} s (closed: {rpc.closed})")
    return ids(rpc.notifications)


def wait_manifest(rec_dir, timeout):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with open(os.path.join(rec_dir, "manifest.json")) as f:
                last = json.load(f)
            if last.get("state") == "complete":
                return last
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
    raise BenchError(f"the recording's manifest never reached state \"complete\" within "
                     f"{timeout} s: state {last and last.get('state')!r} in {rec_dir}")


def check_recording(manifest, rec_dir, streams):
    """Every track has a non-empty file with frames and no error; returns a summary."""
    tracks = manifest.get("tracks", [])
    problems = []
    if len(tracks) != streams:
        problems.append(f"{len(tracks)} tracks in the manifest, {streams} published")
    for t in tracks:
        path = os.path.join(rec_dir, t.get("file") or "?")
        size = os.path.getsize(path) if os.path.exists(path) else -1
        if size <= 0:
            problems.append(f"{t.get('file')}: {'missing' if size < 0 else 'empty'}")
        if not t.get("frames"):
            problems.append(f"{t.get('file')}: no frames in the manifest")
        if t.get("error"):
            problems.append(f"{t.get('file')}: error {t['error']}")
    if problems:
        raise BenchError("the recording is not right: " + "; ".join(problems))
    return {
        "tracks": len(tracks), "duration_ms": manifest.get("duration_ms"),
        "bytes": sum(t.get("bytes") or 0 for t in tracks),
        "file_bytes": recording_bytes(rec_dir),
        "frames": sum(t.get("frames") or 0 for t in tracks),
        "frames_dropped": sum(t.get("frames_dropped") or 0 for t in tracks),
        "queue_drops": sum(t.get("queue_drops") or 0 for t in tracks),
    }


def record_round(srv, rpc, args, publishers, streams):
    """record_start, --warmup, one window, record_stop; checks the recording."""
    started = rpc.call("record_start", {})["recording"]
    rec_dir = os.path.join(srv.data_dir, "recordings", started["id"])
    if len(started.get("files", [])) != streams:
        raise BenchError(f"record_start recorded {len(started.get('files', []))} tracks "
                         f"of {streams}: {started}")
    time.sleep(args.warmup)  # frames held until the first sender reports; queues fill
    w = measure(srv, args.seconds, publishers, rec_dir)
    stopped = rpc.call("record_stop", {"recording": started["id"]})["recording"]
    rec = check_recording(wait_manifest(rec_dir, 30), rec_dir, streams)
    rec["id"] = started["id"]
    rec["stop_duration_ms"] = stopped.get("duration_ms")
    return w, rec


def run(args, workdir):
    n = args.publishers
    streams = 2 * n
    windows = 1 + args.rounds * 2
    # Long enough for set-up, every window and the stops; publishers are stopped at the end.
    budget = int(60 + n * 2 + args.warmup * (1 + args.rounds) + windows * (args.seconds + 5)
                 + 30)
    srv = Server(args.build, workdir, args.workers, "info" if args.server_log else "warn")
    publishers, rpc = [], None
    try:
        m = srv.metrics()
        if m.get("weir_recorder_loaded") != 1:
            raise BenchError("the recorder plugin is not loaded (weir_recorder_loaded "
                             f"{m.get('weir_recorder_loaded')}); log:\n{srv.log_tail()}")
        rss_idle = rss_bytes(srv.pid)
        rpc = Rpc("127.0.0.1", srv.port)
        joined = rpc.call("join", {"room": ROOM, "display": "bench-recorder", "role": "recorder"})
        for i in range(n):
            publishers.append(start_publisher(args.build, srv.url, i, args, budget, workdir))
        wait_tracks(rpc, joined, streams, 30 + 2 * n)
        time.sleep(args.warmup)  # connections settle, encoders reach their rate

        # baseline, then (recording, baseline) per round; the last baseline only with --third
        # (always between two rounds: each recording is compared with the baselines around it).
        windows = [measure(srv, args.seconds, publishers)]
        recs = []
        for i in range(args.rounds):
            w, rec = record_round(srv, rpc, args, publishers, streams)
            windows.append(w)
            recs.append(rec)
            if args.third or i < args.rounds - 1:
                time.sleep(2)  # the tracks' queues freed, the files closed
                windows.append(measure(srv, args.seconds, publishers))
        m = srv.metrics()
        totals = {"queue_drops": m.get(M_QDROPS), "write_errors": m.get(M_WERR),
                  "frames_written": m.get(M_FRAMES), "frames_dropped": m.get(M_DROPPED),
                  "bytes": m.get(M_BYTES), "recordings_complete":
                  m.get('weir_recordings_total{outcome="complete"}')}
        if totals["write_errors"]:
            raise BenchError(f"{totals['write_errors']:.0f} write errors (/metrics)")
        result = summarize(args, windows, recs, totals, rss_idle)
    finally:
        if rpc:
            rpc.close()
        for p in publishers:
            stop_process(p)
        srv.stop()
    # A clean stop too: exit status 0 and, for a sanitizer build, no report.
    log = srv.log_tail(1 << 20)
    bad = [m for m in ("AddressSanitizer", "LeakSanitizer", "runtime error:") if m in log]
    if srv.proc.returncode != 0 or bad:
        raise BenchError(f"weir exited with status {srv.proc.returncode} after SIGTERM"
                         f"{' with ' + ', '.join(bad) if bad else ''}; log:\n{srv.log_tail()}")
    result["server_exit_status"] = srv.proc.returncode
    return result


def media_cpu(window):
    """CPU % of the media worker threads (named weir-media-N by src/shell/worker.c)."""
    return sum(v for k, v in window["cpu_pct_by_thread"].items() if k.startswith("weir-media"))


def median(xs):
    xs = sorted(xs)
    k = len(xs) // 2
    return xs[k] if len(xs) % 2 else (xs[k - 1] + xs[k]) / 2


def summarize(args, windows, recs, totals, rss_idle):
    """windows: baseline, recording, baseline, recording, ... (even index = baseline)."""
    streams = 2 * args.publishers
    w1, w2 = windows[0], windows[1]
    for i, w in enumerate(windows):
        w["kind"] = "recording" if i % 2 else "baseline"
    # The recorder thread wakes every 10 ms even with nothing to record: its idle cost in
    # the baseline is not a per-stream cost.
    rec_thread = (w2["recorder_thread_cpu_pct"] or 0.0) - (w1["recorder_thread_cpu_pct"] or 0.0)
    extra = w2["server_cpu_pct"] - w1["server_cpu_pct"]
    out = {
        "publishers": args.publishers, "recorded_streams": streams,
        "width": args.width, "height": args.height, "fps": args.fps,
        "seconds": args.seconds, "warmup": args.warmup, "workers": args.workers,
        "rounds": args.rounds, "cpus": os.cpu_count(), "windows": windows,
        "recordings": recs, "metrics_totals": totals,
        # The first recording against the baseline before it (window 2 - window 1).
        "extra_cpu_pct": extra,
        "extra_cpu_pct_per_stream": extra / streams,
        "recorder_thread_extra_cpu_pct_per_stream": rec_thread / streams,
        # The rest of the extra: the media workers' side (the track's own consumer and the
        # copy into the queue).
        "media_threads_extra_cpu_pct_per_stream": (media_cpu(w2) - media_cpu(w1)) / streams,
        "ratio_recording_to_baseline": (w2["server_cpu_pct"] / w1["server_cpu_pct"]
                                        if w1["server_cpu_pct"] > 0 else None),
        "rss_idle_mb": rss_idle / 2**20,
        "rss_before_mb": w1["rss_end_mb"], "rss_during_mb": w2["rss_end_mb"],
        "rss_delta_per_stream_kb": (w2["rss_end_mb"] - w1["rss_end_mb"]) * 1024 / streams,
        "written_mb_per_s": w2["file_bytes_per_s"] / 1e6,
        "frames_written_per_s": w2["frames_written_per_s"],
        "queue_drops": sum(r["queue_drops"] for r in recs),
        "write_errors": totals["write_errors"] or 0,
    }
    if len(windows) > 2:
        # Two windows with the same load: their difference is the noise of this machine.
        out["baseline_noise_pct"] = windows[2]["server_cpu_pct"] - w1["server_cpu_pct"]
    # Every recording window against the mean of the baselines either side of it (or the one
    # before, for a last round without a baseline after it).
    per_round = []
    for i in range(1, len(windows), 2):
        around = [windows[i - 1]] + ([windows[i + 1]] if i + 1 < len(windows) else [])
        base = sum(w["server_cpu_pct"] for w in around) / len(around)
        per_round.append((windows[i]["server_cpu_pct"] - base) / streams)
    out["extra_cpu_pct_per_stream_by_round"] = per_round
    out["extra_cpu_pct_per_stream_median"] = median(per_round)
    out["recorder_thread_extra_cpu_pct_per_stream_median"] = median(
        [((windows[i]["recorder_thread_cpu_pct"] or 0) - (w1["recorder_thread_cpu_pct"] or 0))
         / streams for i in range(1, len(windows), 2)])
    return out


# ---------------------------------------------------------------- report

def fmt(v, spec=".2f"):
    return "n/a" if v is None else format(v, spec)


def print_tables(r):
    w = r["windows"]
    print(f"\n### Recorder: {r['publishers']} publishers (audio + {r['width']}x{r['height']} "
          f"VP8 at {r['fps']} fps), {r['recorded_streams']} recorded streams\n")
    print("| window | s | server CPU % of a core | weir-recorder thread % | RTP in pkt/s "
          "| RTP out pkt/s | RSS end MB | written MB/s | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    for i, x in enumerate(w):
        name = ("recording every track" if x["kind"] == "recording" else
                "baseline (publishing only)" if i == 0 else "baseline after record_stop")
        print(f"| {i + 1} {name} | {x['seconds']:.1f} | {x['server_cpu_pct']:.1f} "
              f"| {fmt(x['recorder_thread_cpu_pct'])} | {x['rtp_rx_pps']:.0f} "
              f"| {x['rtp_tx_pps']:.0f} | {x['rss_end_mb']:.1f} "
              f"| {x['file_bytes_per_s'] / 1e6:.3f} | {x['loadavg_end'][0]:.1f} |")
    rec = r["recordings"][0]
    print("\n| recorded streams | extra CPU per stream (% of a core) | weir-recorder thread "
          "per stream | media threads per stream | recording / baseline CPU "
          "| RSS before → during MB | RSS per stream KB "
          "| written MB/s | frames/s | queue drops | write errors | manifest |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {r['recorded_streams']} | {r['extra_cpu_pct_per_stream']:.3f} "
          f"| {r['recorder_thread_extra_cpu_pct_per_stream']:.3f} "
          f"| {r['media_threads_extra_cpu_pct_per_stream']:.3f} "
          f"| {fmt(r['ratio_recording_to_baseline'])}x "
          f"| {r['rss_before_mb']:.1f} → {r['rss_during_mb']:.1f} "
          f"| {r['rss_delta_per_stream_kb']:.0f} | {r['written_mb_per_s']:.3f} "
          f"| {r['frames_written_per_s']:.0f} | {r['queue_drops']} | {r['write_errors']:.0f} "
          f"| complete, {rec['tracks']} files, {rec['file_bytes'] / 1e6:.1f} MB |")
    print("\nExtra CPU per stream: (window 2 − window 1) / recorded streams; the thread "
          "columns split it (weir-recorder: minus its idle cost in window 1).")
    if "baseline_noise_pct" in r:
        print(f"Noise: window 3 − window 1 = {r['baseline_noise_pct']:+.1f} points of a core "
              f"({r['baseline_noise_pct'] / r['recorded_streams']:+.3f} per stream).")
    rounds = r["extra_cpu_pct_per_stream_by_round"]
    thread = r["recorder_thread_extra_cpu_pct_per_stream_median"]
    print(f"Each recording window against the baselines around it, per stream: "
          f"{', '.join(format(x, '.3f') for x in rounds)} (median {median(rounds):.3f} %; "
          f"weir-recorder thread alone, median {thread:.3f} %).")
    print(f"Machine: {r['cpus']} CPUs; the recorder thread's idle cost (window 1): "
          f"{fmt(w[0]['recorder_thread_cpu_pct'])} % of a core.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", help="build directory (weir, plugins/recorder, tools/weir-client)")
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=15, help="length of each window")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--fps", type=int, default=30)
    ap.add_argument("--warmup", type=float, default=5,
                    help="seconds before window 1 and between record_start and window 2")
    ap.add_argument("--workers", type=int, default=2, help="[server] workers")
    ap.add_argument("--no-third", dest="third", action="store_false",
                    help="skip the baseline window after the last recording")
    ap.add_argument("--rounds", type=int, default=1,
                    help="recording windows, each a new recording between two baselines "
                    "(more rounds: a median less at the mercy of a busy machine)")
    ap.add_argument("--json", action="store_true", help="also print the raw figures")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the config, the server's log and the recording in DIR")
    ap.add_argument("--server-log", action="store_true", help="server log level info (else warn)")
    args = ap.parse_args()
    if not 1 <= args.publishers <= 200 or args.seconds <= 0 or args.warmup < 0 \
            or not 1 <= args.rounds <= 100:
        ap.error("--publishers 1..200, --seconds > 0, --warmup >= 0, --rounds 1..100")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        workdir = os.path.abspath(args.keep)
    else:
        workdir = tempfile.mkdtemp(prefix="weir-bench-recorder-")
    try:
        r = run(args, workdir)
    except BenchError as e:
        print(f"recorder.py: FAILED: {e}", file=sys.stderr)
        if not args.keep:
            print("(rerun with --keep DIR --server-log to keep the log and the files)",
                  file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print_tables(r)
    if args.json:
        print(json.dumps(r, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
