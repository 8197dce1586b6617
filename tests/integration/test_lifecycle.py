"""Process life: command line, config errors, start-up log, graceful shutdown."""

import re
import signal
import socket
import subprocess
import time

import pytest

from conftest import (TEST_SECRET, VALID_OFFER_SDP, assert_no_sanitizer, connect, decode_token, free_port,
                      http_request, joined, run_weir, unique_room, weir_bin)


# ---------------------------------------------------------------- shutdown

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_shutdown_says_bye_to_everyone(weir, sig):
    srv = weir()
    room = unique_room()
    a = await joined(srv, room, "a")
    b = await joined(srv, room, "b")
    lobby = await connect(srv, "not-joined")
    srv.signal(sig)
    for c in (a, b, lobby):
        bye = await c.next_notification("bye")
        assert bye["params"]["reason"] == "shutdown", bye
        await c.wait_closed()
    rc = srv.wait_exit()
    assert rc == 0, srv.stderr_text()
    srv.stop_and_check()  # sanitizer check on the finished process


def test_idle_shutdown_exits_zero(weir):
    srv = weir()
    srv.stop_and_check()
    assert srv.process.returncode == 0


def test_logs_listening_port(weir):
    srv = weir()
    text = srv.stderr_text()
    lines = [l for l in text.splitlines() if "listening" in l]
    assert lines, text
    assert any(f"port={srv.port}" in l for l in lines), lines
    # log line shape: timestamp level module event key=value...
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info +\S+ ", lines[0]), lines[0]


def test_log_level_option_overrides_config(weir):
    srv = weir({"log": {"level": "info"}}, extra_args=["--log-level", "error"])
    assert "listening" not in srv.stderr_text()


def test_workers_from_config_and_command_line(weir):
    assert weir({"server": {"workers": 3}}).metrics().value("weir_workers") == 3
    srv = weir({"server": {"workers": 3}}, extra_args=["--workers", "1"])
    assert srv.metrics().value("weir_workers") == 1


def test_command_line_port_overrides_config(weir):
    config_port = free_port()
    srv = weir({"server": {"listen_port": config_port}})  # the fixture adds --port N
    assert srv.port != config_port
    assert srv.get("/healthz").status == 200
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", config_port), timeout=1).close()


# ---------------------------------------------------------------- CLI

def test_version():
    p = run_weir("--version")
    assert p.returncode == 0, p.stderr
    assert re.fullmatch(r"weir \S+\n?", p.stdout), p.stdout


def test_help():
    p = run_weir("--help")
    assert p.returncode == 0, p.stderr
    assert "--config" in p.stdout + p.stderr and "--port" in p.stdout + p.stderr, p.stdout


@pytest.mark.parametrize("args", [["--port", "abc"], ["--port", "70000"], ["--workers", "-3"],
                                  ["--log-level", "loud"], ["stray-argument"]])
def test_bad_command_line_values_exit_2(args):
    p = run_weir(*args)
    assert p.returncode == 2, (args, p.returncode, p.stderr)
    assert p.stderr.strip()
    assert_no_sanitizer(p.stderr)


def test_port_zero_picks_a_free_port_and_logs_it(tmp_path):
    conf = tmp_path / "zero.conf"
    conf.write_text(f"[server]\nworkers = 1\ndata_dir = {tmp_path}/data\n")
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([weir_bin(), "-c", str(conf), "--port", "0"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 10
        port = None
        while port is None and time.monotonic() < deadline and proc.poll() is None:
            m = re.search(r"listening.* port=(\d+)", log.read_text())
            port = int(m.group(1)) if m else None
            time.sleep(0.02)
        assert port and port != 0, log.read_text()
        assert http_request(port, "GET", "/healthz").status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(10)
    assert_no_sanitizer(log.read_text())
    assert rc == 0, log.read_text()


def test_unknown_option_is_usage_error():
    p = run_weir("--no-such-option", "--port", str(free_port()))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.strip(), "usage expected on stderr"
    assert_no_sanitizer(p.stderr)


BAD_CONFIGS = [
    # (file text, key the error must name, line number)
    ("[server]\nlisten_port = abc\n", "listen_port", 2),
    ("# comment\n[server]\nlisten_port = 70000\n", "listen_port", 3),
    ("[server]\nlisten_port = -1\n", "listen_port", 2),
    ("[server]\nworkers = 2\nno_such_key = 1\n", "no_such_key", 3),
    ("[no_such_section]\nx = 1\n", "no_such_section", 1),
    ("[rooms]\nauto_create = maybe\n", "auto_create", 2),
    ("[rooms]\nmax_participants = 0\n", "max_participants", 2),
    ("[log]\nlevel = loud\n", "level", 2),
    ("[signalling]\nrate_limit_per_sec = fast\n", "rate_limit_per_sec", 2),
    ("[signalling]\njoin_timeout_s = 1.5x\n", "join_timeout_s", 2),
    ("[auth]\nsecret = tooshort\n", "secret", None),
    ("listen_port = 1\n", "listen_port", 1),  # key outside any section
    ("[server]\nworkers = 1\nworkers = 2\n", "workers", 3),  # a key given twice
]


@pytest.mark.parametrize("text,key,line", BAD_CONFIGS,
                         ids=[f"{k}-{i}" for i, (_, k, _) in enumerate(BAD_CONFIGS)])
def test_bad_config_exits_2_naming_the_key(tmp_path, text, key, line):
    conf = tmp_path / "bad.conf"
    conf.write_text(text)
    p = run_weir("-c", str(conf), "--port", str(free_port()))
    assert_no_sanitizer(p.stderr)
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("weir: config:"), lines
    assert key in lines[0], lines
    if line is not None:
        assert f"line {line}" in lines[0], lines


def test_tls_cert_without_key_is_a_config_error(tmp_path):
    conf = tmp_path / "tls.conf"
    conf.write_text(f"[server]\ntls_cert = {tmp_path}/cert.pem\n")
    p = run_weir("-c", str(conf), "--port", str(free_port()))
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = [l for l in p.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("weir: config:"), p.stderr
    assert "tls_key" in lines[0] or "tls_cert" in lines[0], lines


def test_missing_config_file(tmp_path):
    p = run_weir("-c", str(tmp_path / "nope.conf"), "--port", str(free_port()))
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert p.stderr.startswith("weir: config:"), p.stderr


QUOTED_CONFIG = """# every syntax feature of the config file
; semicolon comment
[server]
listen_address = "127.0.0.1"
workers = 1
shutdown_grace_ms = 100
data_dir = "{workdir}/data"

[rooms]
auto_create = off
auto_subscribe = yes
students_publish_by_default = 0

[auth]
  admin_key = "quoted admin key"
"""


async def test_quotes_comments_and_booleans_are_accepted(weir):
    srv = weir(config_text=QUOTED_CONFIG)
    err = await (await connect(srv)).error("join", {"room": "q"})
    assert err["code"] == 404, err  # auto_create = off
    r = srv.http("POST", "/api/rooms", {"id": "q"}, key="quoted admin key")
    assert r.status == 201, r
    c = await connect(srv)
    room = (await c.call("join", {"room": "q"}))["room"]
    assert room["auto_subscribe"] is True
    assert room["students_publish"] is False


# ---------------------------------------------------------------- token sub-command

def test_token_subcommand_prints_a_jwt():
    p = run_weir("token", "--secret", TEST_SECRET, "--room", "r1", "--sub", "u1",
                 "--role", "student")
    assert_no_sanitizer(p.stderr)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    assert "\n" not in token
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", token), token
    header, claims = decode_token(token, secret=TEST_SECRET)
    assert header["alg"] == "HS256"
    assert (claims["room"], claims["sub"], claims["role"]) == ("r1", "u1", "student")
    assert "name" not in claims or claims["name"] in ("", None)
    assert isinstance(claims["exp"], int)


def test_token_subcommand_without_secret_fails(tmp_path):
    conf = tmp_path / "nosecret.conf"
    conf.write_text("[server]\nworkers = 1\n")
    for args in (["token", "--room", "r", "--sub", "u", "--role", "student"],
                 ["token", "-c", str(conf), "--room", "r", "--sub", "u", "--role", "student"]):
        p = run_weir(*args)
        assert p.returncode == 2, (args, p.returncode, p.stdout, p.stderr)
        assert p.stdout.strip() == ""
        assert_no_sanitizer(p.stderr)


def test_token_subcommand_rejects_bad_role():
    p = run_weir("token", "--secret", TEST_SECRET, "--room", "r", "--sub", "u", "--role", "admin")
    assert p.returncode != 0
    assert p.stdout.strip() == ""


# ---------------------------------------------------------------- TLS

async def test_tls_serves_https_and_wss(tmp_path):
    import json
    import ssl

    import websockets

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=localhost"], check=True, capture_output=True)
    port = free_port()
    conf = tmp_path / "tls.conf"
    conf.write_text(f"[server]\nworkers = 1\ndata_dir = {tmp_path}/data\n"
                    f"tls_cert = {cert}\ntls_key = {key}\n")
    log = tmp_path / "stderr.log"
    with open(log, "wb") as err:
        proc = subprocess.Popen([weir_bin(), "-c", str(conf), "--port", str(port)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False  # the certificate names localhost; we dial 127.0.0.1
    try:
        deadline = time.monotonic() + 10
        while "listening" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        ws = await websockets.connect(f"wss://127.0.0.1:{port}/ws", subprotocols=["weir-v1"],
                                      ssl=ctx)
        assert ws.subprotocol == "weir-v1"
        await ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "join",
                                  "params": {"room": unique_room()}}))
        answer = json.loads(await ws.recv())
        assert answer["result"]["participant"]["role"] == "student", answer
        await ws.close()
        # plain HTTP on the TLS port is not served
        try:
            plain = http_request(port, "GET", "/healthz", timeout=2).status
        except Exception:  # connection reset or closed: what a TLS-only port does
            plain = None
        assert plain != 200, "a TLS port answered plain HTTP"
    finally:
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(10)
    assert_no_sanitizer(log.read_text())
    assert rc == 0, log.read_text()


# ---------------------------------------------------------------- DTLS certificate

def _ec_cert(tmp_path):
    key, cert = tmp_path / "dtls-key.pem", tmp_path / "dtls-cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-subj", "/CN=weir-dtls"], check=True, capture_output=True)
    fp = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-fingerprint",
                         "-sha256"], check=True, capture_output=True, text=True).stdout
    return key, cert, fp.strip().split("=", 1)[1]


async def test_dtls_certificate_from_config_is_the_one_in_answers(weir, tmp_path):
    """[media] dtls_cert/dtls_key: a stable fingerprint across restarts."""
    key, cert, fingerprint = _ec_cert(tmp_path)
    for _ in range(2):  # the same fingerprint after a restart
        srv = weir({"media": {"dtls_cert": str(cert), "dtls_key": str(key),
                              "ice_bind_addresses": "127.0.0.1"}})
        c = await connect(srv)
        await c.join(unique_room(), role="teacher")
        answer = (await c.call("publish", {"sdp": VALID_OFFER_SDP}))["sdp"]
        assert f"a=fingerprint:sha-256 {fingerprint}" in answer, answer
        await c.close()
        srv.stop_and_check()


def test_dtls_certificate_problems_stop_the_start(tmp_path):
    key, cert, _ = _ec_cert(tmp_path)
    conf = tmp_path / "half.conf"
    conf.write_text(f"[media]\ndtls_cert = {cert}\n")
    p = run_weir("-c", str(conf), "--port", str(free_port()))
    assert p.returncode == 2 and "dtls_key" in p.stderr, (p.returncode, p.stderr)
    conf.write_text(f"[media]\ndtls_cert = {tmp_path}/missing.pem\ndtls_key = {key}\n"
                    f"[server]\nworkers = 1\n")
    p = run_weir("-c", str(conf), "--port", str(free_port()))
    assert p.returncode != 0 and "missing.pem" in p.stderr, (p.returncode, p.stderr)
