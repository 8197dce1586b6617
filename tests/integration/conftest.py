"""Shared fixtures and helpers for Weir's integration tests.

The suite runs the real server binary (path in env WEIR_BIN) on loopback and
talks to it over HTTP and WebSocket (JSON-RPC, PROTOCOL.md). It uses only
Debian's python3-pytest and python3-websockets: no pytest-asyncio, so
`async def` tests are run here by a small pytest_pyfunc_call hook, each
inside its own asyncio.run() with a timeout.

Main pieces:
  weir              fixture: factory that starts a server with config overrides
  server            fixture: one default-config server shared by a test module
  WsClient          JSON-RPC client over a WebSocket (queues notifications)
  RawWs             hand-rolled WebSocket over a plain socket (abrupt closes)
  mint_token        HS256 JWTs minted in Python, independent of the server
  run_weir          run the binary as a one-shot CLI (token, --version, ...)
"""

import asyncio
import base64
import collections
import hashlib
import hmac
import http.client
import inspect
import itertools
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time

import pytest
import websockets
import websockets.exceptions

# Per-test wall-clock limit for async tests (the whole suite aims at < 60 s).
ASYNC_TEST_TIMEOUT_S = float(os.environ.get("WEIR_TEST_TIMEOUT_S", "30"))
# How long to wait for one expected message before failing.
RECV_TIMEOUT_S = 5.0
STARTUP_TIMEOUT_S = 10.0
SHUTDOWN_TIMEOUT_S = 10.0
SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")
MAX_FRAME = 256 * 1024

# A secret of >= 16 bytes, as the server requires for HS256.
TEST_SECRET = "weir-integration-test-secret-0123456789"
TEST_ADMIN_KEY = "weir-admin-key-for-tests"

# A browser-like publisher offer (audio + video, BUNDLE, rtcp-mux, DTLS).
# Media methods answer 501 this milestone, but only after validation, so
# the offer has to look real.
VALID_OFFER_SDP = "\r\n".join([
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS stream0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:abcd",
    "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
    "a=mid:0",
    "a=sendonly",
    "a=msid:stream0 audio0",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=ssrc:1001 cname:weirtest",
    "m=video 9 UDP/TLS/RTP/SAVPF 96",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:abcd",
    "a=ice-pwd:abcdefghijklmnopqrstuvwx",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
    "a=mid:1",
    "a=sendonly",
    "a=msid:stream0 video0",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=rtpmap:96 VP8/90000",
    "a=rtcp-fb:96 nack",
    "a=rtcp-fb:96 nack pli",
    "a=ssrc:2001 cname:weirtest",
    "",
])

VALID_ANSWER_SDP = VALID_OFFER_SDP.replace("a=setup:actpass", "a=setup:active").replace(
    "a=sendonly", "a=recvonly")


def weir_bin():
    path = os.environ.get("WEIR_BIN")
    if not path:
        pytest.fail("WEIR_BIN is not set: point it at the server binary, e.g. "
                    "WEIR_BIN=build/debug/weir python3 -m pytest tests/integration",
                    pytrace=False)
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"WEIR_BIN={path!r} is not an executable file", pytrace=False)
    return path


_room_counter = itertools.count(1)


def unique_room(prefix="room"):
    """A room name no other test uses (servers may be shared within a module)."""
    return f"{prefix}-{os.getpid()}-{next(_room_counter)}"


# ---------------------------------------------------------------- async tests

_OPEN_CLIENTS = []


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """The end-to-end tests that need a private network namespace come in
    pairs: an outer test re-runs the file inside `unshare -n` with
    WEIR_TEST_IN_NETNS=1 and `-k inner`. Outside the namespace the inner
    halves are deselected rather than reported as skipped: they do run,
    inside their outer test."""
    if os.environ.get("WEIR_TEST_IN_NETNS") == "1":
        return
    inner = [i for i in items if "_inner" in i.name]
    if inner:
        config.hook.pytest_deselected(items=inner)
        items[:] = [i for i in items if "_inner" not in i.name]


def pytest_pyfunc_call(pyfuncitem):
    """Runs `async def` tests with asyncio.run (no pytest-asyncio on Debian)."""
    fn = pyfuncitem.obj
    if not inspect.iscoroutinefunction(fn):
        return None
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}

    async def runner():
        try:
            await asyncio.wait_for(fn(**kwargs), ASYNC_TEST_TIMEOUT_S)
        finally:
            clients = list(_OPEN_CLIENTS)
            _OPEN_CLIENTS.clear()
            for c in clients:
                await c.close()

    asyncio.run(runner())
    return True


# ---------------------------------------------------------------- HTTP

class HttpResponse:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError(f"HTTP {self.status} body is not JSON: {self.body[:300]!r}") from e

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:200]!r}>"


def http_request(port, method, path, body=None, headers=None, timeout=5.0):
    """One blocking HTTP/1.1 request to 127.0.0.1:port. body: bytes, str or a JSON-able object."""
    hdrs = dict(headers or {})
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
        hdrs.setdefault("Content-Type", "application/json")
    if isinstance(body, str):
        body = body.encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return HttpResponse(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


# ---------------------------------------------------------------- servers

def _format_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str) and (v == "" or v != v.strip() or any(c in v for c in "#;\"")):
        return '"' + v + '"'
    return str(v)


def render_config(sections):
    lines = ["# written by tests/integration/conftest.py"]
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        for k, v in keys.items():
            if v is not None:
                lines.append(f"{k} = {_format_value(v)}")
        lines.append("")
    return "\n".join(lines)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def sanitizer_findings(text):
    return [m for m in SANITIZER_MARKERS if m in text]


class WeirServer:
    """One running server process."""

    def __init__(self, binary, workdir, config, extra_args=(), config_text=None):
        self.binary = binary
        self.workdir = workdir
        self.config = config
        self.config_text = config_text if config_text is not None else render_config(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/ws"
        self.config_path = os.path.join(workdir, "weir.conf")
        self.stderr_path = os.path.join(workdir, "weir.stderr.log")
        self.stdout_path = os.path.join(workdir, "weir.stdout.log")
        with open(self.config_path, "w") as f:
            f.write(self.config_text)
        self.args = [binary, "-c", self.config_path, "--port", str(self.port), *extra_args]
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.process = subprocess.Popen(self.args, stdin=subprocess.DEVNULL,
                                        stdout=self._stdout, stderr=self._stderr,
                                        cwd=workdir)
        self.checked = False

    # -- introspection
    def stderr_text(self):
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def _describe(self):
        return (f"command: {' '.join(self.args)}\nconfig:\n{self.config_text}\n"
                f"--- stderr ---\n{self.stderr_text()[-8000:]}")

    def wait_ready(self, timeout=STARTUP_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.process.poll()
            if rc is not None:
                raise AssertionError(f"weir exited with status {rc} during start-up\n"
                                     + self._describe())
            try:
                r = http_request(self.port, "GET", "/healthz", timeout=1.0)
                if r.status == 200:
                    return
                last = f"HTTP {r.status}"
            except OSError as e:
                last = repr(e)
            time.sleep(0.02)
        raise AssertionError(f"GET /healthz did not answer 200 within {timeout} s "
                             f"(last: {last})\n" + self._describe())

    # -- HTTP helpers
    def http(self, method, path, body=None, headers=None, key=None):
        hdrs = dict(headers or {})
        if key is not None:
            hdrs["Authorization"] = f"Bearer {key}"
        return http_request(self.port, method, path, body=body, headers=hdrs)

    def get(self, path, **kw):
        return self.http("GET", path, **kw)

    def admin(self, method, path, body=None):
        """An /api call with the admin key the default test config sets."""
        return self.http(method, path, body=body, key=self.config.get("auth", {}).get("admin_key"))

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return parse_metrics(r.text)

    # -- lifecycle
    def signal(self, sig=signal.SIGTERM):
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def wait_exit(self, timeout=SHUTDOWN_TIMEOUT_S):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(f"weir did not exit within {timeout} s of SIGTERM\n"
                                 + self._describe())

    def stop_and_check(self):
        """SIGTERM, wait, exit status 0, no sanitizer report. Idempotent."""
        if self.checked:
            return
        self.checked = True
        try:
            self.signal(signal.SIGTERM)
            rc = self.wait_exit()
        finally:
            self._stderr.close()
            self._stdout.close()
        text = self.stderr_text()
        found = sanitizer_findings(text)
        assert not found, f"sanitizer report ({', '.join(found)}) in weir's stderr\n" + self._describe()
        assert rc == 0, f"weir exited with status {rc} after SIGTERM\n" + self._describe()


def base_config(workdir):
    return {
        "server": {
            "listen_address": "127.0.0.1",
            "workers": 2,
            "shutdown_grace_ms": 200,
            "data_dir": os.path.join(workdir, "data"),
        },
        "log": {"level": os.environ.get("WEIR_TEST_LOG_LEVEL", "info")},
        "rooms": {},
        "auth": {},
        "signalling": {},
    }


def merge_config(base, overrides):
    cfg = {s: dict(keys) for s, keys in base.items()}
    for section, keys in (overrides or {}).items():
        cfg.setdefault(section, {}).update(keys)
    return {s: k for s, k in cfg.items() if k}


class ServerFactory:
    def __init__(self, binary, make_dir):
        self.binary = binary
        self.make_dir = make_dir
        self.servers = []

    def __call__(self, overrides=None, extra_args=(), wait=True, config_text=None):
        """overrides: {section: {key: value}} over base_config (None deletes a key).
        config_text: the exact file to write instead ({workdir} is substituted)."""
        workdir = self.make_dir()
        cfg = merge_config(base_config(workdir), overrides)
        if config_text is not None:
            config_text = config_text.replace("{workdir}", workdir)
        srv = WeirServer(self.binary, workdir, cfg, extra_args, config_text)
        self.servers.append(srv)
        if wait:
            srv.wait_ready()
        return srv

    def teardown(self):
        errors = []
        for srv in self.servers:
            try:
                srv.stop_and_check()
            except AssertionError as e:
                errors.append(str(e))
        if errors:
            pytest.fail("\n\n".join(errors), pytrace=False)


@pytest.fixture
def weir(tmp_path):
    """Factory: weir({"rooms": {"max_participants": 2}}) starts a server and
    returns a WeirServer (url, ws_url, port, process, stderr_path). Every server
    is stopped with SIGTERM at teardown and must exit 0 without sanitizer output."""
    counter = itertools.count()

    def make_dir():
        d = tmp_path / f"weir{next(counter)}"
        d.mkdir()
        return str(d)

    factory = ServerFactory(weir_bin(), make_dir)
    yield factory
    factory.teardown()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A default-config server (admin key and auth secret unset) shared by a module."""
    factory = ServerFactory(weir_bin(), lambda: str(tmp_path_factory.mktemp("weir")))
    srv = factory()
    yield srv
    factory.teardown()


# ---------------------------------------------------------------- metrics

_METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


class Metrics(dict):
    """{(name, frozenset(labels.items())): value}"""

    def get_value(self, name, **labels):
        return self.get((name, frozenset(labels.items())))

    def value(self, name, **labels):
        v = self.get_value(name, **labels)
        assert v is not None, f"metric {name}{labels or ''} missing; have {sorted(self.names())}"
        return v

    def names(self):
        return {k[0] for k in self}


def parse_metrics(text):
    out = Metrics()
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _METRIC_RE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        labels = frozenset(_LABEL_RE.findall(m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


# ---------------------------------------------------------------- WebSocket client

class RpcError(Exception):
    def __init__(self, error, response):
        self.code = error.get("code")
        self.message = error.get("message")
        self.response = response
        super().__init__(f"JSON-RPC error {self.code}: {self.message}")


class ConnectionClosedError(AssertionError):
    pass


class WsClient:
    """A JSON-RPC 2.0 client over one WebSocket.

    request() sends with an incrementing id and returns the matching response
    (the whole message), queueing notifications and other responses that
    arrive meanwhile; call() returns the result or raises RpcError.
    """

    def __init__(self, ws, name):
        self.ws = ws
        self.name = name
        self._ids = itertools.count(1)
        self.notifications = collections.deque()
        self.responses = []  # responses not yet claimed, in arrival order
        self.closed = False
        self.close_code = None
        self.participant = None  # set by join()

    @classmethod
    async def connect(cls, url, subprotocols=("weir-v1",), name="client", **kw):
        kw.setdefault("compression", None)
        kw.setdefault("max_size", 4 * 1024 * 1024)
        kw.setdefault("ping_interval", None)
        kw.setdefault("open_timeout", 5)
        kw.setdefault("close_timeout", 1)
        ws = await websockets.connect(url, subprotocols=list(subprotocols) if subprotocols else None,
                                      **kw)
        c = cls(ws, name)
        _OPEN_CLIENTS.append(c)
        return c

    @property
    def subprotocol(self):
        return self.ws.subprotocol

    # -- sending
    async def send_raw(self, data):
        """Sends one frame: str → text frame, bytes → binary frame."""
        await self.ws.send(data)

    async def send_json(self, obj):
        await self.ws.send(json.dumps(obj))

    async def send_request(self, method, params=None, id=None):
        """Sends without waiting; returns the id."""
        if id is None:
            id = next(self._ids)
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        await self.send_json(msg)
        return id

    # -- receiving
    async def _recv_one(self, timeout):
        """Reads one frame and files it; returns the message, or raises on timeout/close."""
        if self.closed:
            raise ConnectionClosedError(f"{self.name}: connection is closed (code {self.close_code})")
        try:
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
        except websockets.exceptions.ConnectionClosed as e:
            self.closed = True
            self.close_code = self.ws.close_code if self.ws.close_code is not None else e.code
            raise ConnectionClosedError(
                f"{self.name}: connection closed (code {self.close_code})") from None
        if isinstance(frame, bytes):
            raise AssertionError(f"{self.name}: server sent a binary frame: {frame[:100]!r}")
        try:
            msg = json.loads(frame)
        except ValueError:
            raise AssertionError(f"{self.name}: server sent non-JSON: {frame[:300]!r}") from None
        assert isinstance(msg, dict), f"{self.name}: server sent a non-object: {frame[:300]!r}"
        assert msg.get("jsonrpc") == "2.0", f"{self.name}: missing jsonrpc 2.0: {msg}"
        if "id" in msg and ("result" in msg or "error" in msg):
            self.responses.append(msg)
        else:
            assert "method" in msg, f"{self.name}: neither response nor notification: {msg}"
            self.notifications.append(msg)
        return msg

    async def response(self, id, timeout=RECV_TIMEOUT_S):
        """The response whose id equals id (None for id-less errors such as -32700)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, r in enumerate(self.responses):
                if r.get("id") == id and type(r.get("id")) is type(id):
                    del self.responses[i]
                    return r
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no response with id {id!r} within {timeout} s; "
                                     f"unclaimed responses {self.responses}, "
                                     f"notifications {list(self.notifications)}")
            try:
                await self._recv_one(remaining)
            except asyncio.TimeoutError:
                pass

    async def request(self, method, params=None, timeout=RECV_TIMEOUT_S):
        id = await self.send_request(method, params)
        return await self.response(id, timeout)

    async def call(self, method, params=None, timeout=RECV_TIMEOUT_S):
        r = await self.request(method, params, timeout)
        if "error" in r:
            raise RpcError(r["error"], r)
        return r["result"]

    async def error(self, method, params=None, timeout=RECV_TIMEOUT_S):
        """Sends a request that must fail; returns the error object."""
        r = await self.request(method, params, timeout)
        assert "error" in r, f"{self.name}: {method} {params} should have failed, got {r}"
        return r["error"]

    async def next_notification(self, method=None, timeout=RECV_TIMEOUT_S):
        """The oldest queued/arriving notification of that method (any, when None)."""
        deadline = time.monotonic() + timeout
        while True:
            for i, n in enumerate(self.notifications):
                if method is None or n.get("method") == method:
                    del self.notifications[i]
                    return n
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no {method or 'notification'} within {timeout} s;"
                                     f" got {list(self.notifications)}")
            try:
                await self._recv_one(remaining)
            except asyncio.TimeoutError:
                pass
            except ConnectionClosedError as e:
                raise ConnectionClosedError(f"{e} while waiting for {method}; got "
                                            f"{list(self.notifications)}") from None

    async def no_notification(self, method, timeout=0.3):
        """Asserts no notification of that method arrives within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            for n in self.notifications:
                assert n.get("method") != method, f"{self.name}: unexpected {n}"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            try:
                await self._recv_one(remaining)
            except asyncio.TimeoutError:
                pass

    async def wait_closed(self, timeout=RECV_TIMEOUT_S):
        """Reads (and files) everything until the server closes; returns the close code."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: connection still open after {timeout} s")
            try:
                await self._recv_one(remaining)
            except ConnectionClosedError:
                break
            except asyncio.TimeoutError:
                pass
        return self.close_code

    # -- protocol shortcuts
    async def join(self, room, display=None, token=None, role=None, **extra):
        params = {"room": room}
        if display is not None:
            params["display"] = display
        if token is not None:
            params["token"] = token
        if role is not None:
            params["role"] = role
        params.update(extra)
        result = await self.call("join", params)
        self.participant = result["participant"]
        return result

    @property
    def id(self):
        assert self.participant, f"{self.name} has not joined"
        return self.participant["id"]

    async def close(self):
        if not self.closed:
            try:
                await asyncio.wait_for(self.ws.close(), 2)
            except Exception:
                pass
            self.closed = True

    def abort(self):
        """Drops the TCP connection without a close frame (RST/FIN, no handshake)."""
        self.ws.transport.abort()
        self.closed = True


async def connect(server, name="client", **kw):
    return await WsClient.connect(server.ws_url, name=name, **kw)


async def joined(server, room, name="client", **join_kw):
    c = await connect(server, name=name)
    await c.join(room, display=join_kw.pop("display", name), **join_kw)
    return c


# ---------------------------------------------------------------- raw WebSocket

class RawWs:
    """A minimal blocking WebSocket client on a plain socket, used to end a
    session without a close frame and to craft frames by hand."""

    def __init__(self, port, path="/ws", subprotocol="weir-v1", timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n")
        if subprotocol:
            req += f"Sec-WebSocket-Protocol: {subprotocol}\r\n"
        self.sock.sendall((req + "\r\n").encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise AssertionError(f"server closed during the handshake: {head!r}")
            head += chunk
        head, self.buf = head.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        assert " 101 " in lines[0] + " ", f"handshake refused: {lines}"
        headers = {l.split(":", 1)[0].strip().lower(): l.split(":", 1)[1].strip()
                   for l in lines[1:] if ":" in l}
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        assert headers.get("sec-websocket-accept") == accept, headers
        self.headers = headers
        self._ids = itertools.count(1)

    def send_frame(self, opcode, payload, fin=True):
        mask = os.urandom(4)
        n = len(payload)
        b0 = (0x80 if fin else 0) | opcode
        if n < 126:
            hdr = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536:
            hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
        else:
            hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(hdr + mask + masked)

    def send_text(self, text):
        self.send_frame(0x1, text.encode())

    def _read_exact(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionClosedError("raw socket: server closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def recv_frame(self):
        b0, b1 = self._read_exact(2)
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self._read_exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self._read_exact(8))[0]
        assert not (b1 & 0x80), "server frames must not be masked"
        return b0 & 0x0F, self._read_exact(n)

    def recv_json(self):
        while True:
            op, payload = self.recv_frame()
            if op == 0x1:
                return json.loads(payload)
            if op == 0x8:
                raise ConnectionClosedError(f"raw socket: close frame {payload!r}")
            # ping/pong/others: ignore

    def call(self, method, params=None):
        id = next(self._ids)
        self.send_text(json.dumps({"jsonrpc": "2.0", "id": id, "method": method,
                                   "params": params or {}}))
        while True:
            msg = self.recv_json()
            if msg.get("id") == id:
                assert "result" in msg, msg
                return msg["result"]

    def close_abruptly(self, rst=False):
        """Closes the TCP socket without a WebSocket close frame."""
        if rst:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()


# ---------------------------------------------------------------- tokens

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def mint_token(secret=TEST_SECRET, header=None, sign=True, **claims):
    """An HS256 JWT made with Python's hmac, independently of the server.
    claims default: sub, role student, exp in one hour."""
    now = int(time.time())
    payload = {"sub": "user", "role": "student", "exp": now + 3600}
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    hdr = header or {"alg": "HS256", "typ": "JWT"}
    signing_input = b64url(json.dumps(hdr, separators=(",", ":")).encode()) + "." + \
        b64url(json.dumps(payload, separators=(",", ":")).encode())
    if not sign:
        return signing_input + "."
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(sig)


def decode_token(token, secret=None):
    """(header, claims); verifies the HS256 signature when secret is given."""
    parts = token.split(".")
    assert len(parts) == 3 and all(parts), f"not a 3-part compact JWS: {token!r}"
    header = json.loads(b64url_decode(parts[0]))
    claims = json.loads(b64url_decode(parts[1]))
    if secret is not None:
        want = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
        assert hmac.compare_digest(want, b64url_decode(parts[2])), "HS256 signature does not verify"
    return header, claims


# ---------------------------------------------------------------- CLI

def run_weir(*args, timeout=10):
    """Runs the binary to completion; returns CompletedProcess (text)."""
    return subprocess.run([weir_bin(), *args], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


def assert_no_sanitizer(text, what="weir"):
    found = sanitizer_findings(text)
    assert not found, f"sanitizer report ({', '.join(found)}) from {what}:\n{text[-8000:]}"


# ---------------------------------------------------------------- media test helpers

def free_udp_port_range(n=2):
    """An even port P with P..P+n-1 free for UDP on loopback (RTP/RTCP pairs of taps)."""
    for _ in range(50):
        p = free_port() & ~1  # Linux hands out odd ports to bind(0): take the even one below
        if p < 1024 or p + n > 65535:
            continue
        socks = []
        try:
            for i in range(n):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind(("127.0.0.1", p + i))
                socks.append(s)
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no free UDP port range")


async def join_when_published(srv, room, kinds, role="recorder", display="rec", token=None,
                              timeout=30):
    """Joins and waits until the room has published tracks of these kinds.
    Returns (client, join result, {kind: track})."""
    c = await WsClient.connect(srv.ws_url, name=display)
    params = {"token": token} if token else {"role": role}
    result = await c.join(room, display=display, **params)
    tracks = {t["kind"]: t for t in result["tracks"]}
    deadline = time.monotonic() + timeout
    while not set(kinds) <= set(tracks):
        assert time.monotonic() < deadline, f"tracks never published: {tracks}"
        n = await c.next_notification("track_published", timeout=timeout)
        t = n["params"]["track"]
        tracks[t["kind"]] = t
    return c, result, tracks


def close_loop(loop):
    """Closes the WebSockets a sync test's own loop opened (conftest's runner does not)."""
    async def close_all():
        while _OPEN_CLIENTS:
            await _OPEN_CLIENTS.pop().close()
    loop.run_until_complete(close_all())
    loop.close()
