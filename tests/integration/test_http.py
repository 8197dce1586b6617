"""HTTP beside the WebSocket: /healthz, /metrics, the front-end, 404s."""

import asyncio
import os

import pytest
import websockets
import websockets.exceptions

from conftest import connect, joined, unique_room


def test_healthz_answers_ok(server):
    r = server.get("/healthz")
    assert r.status == 200
    assert r.text.strip() == "ok"


def test_unknown_path_is_404(server):
    for path in ("/no-such-page", "/healthz/extra", "/metricsx", "/index.htm"):
        r = server.get(path)
        assert r.status == 404, (path, r)
    # the server keeps serving after 404s
    assert server.get("/healthz").status == 200


@pytest.mark.parametrize("path", ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
                                  "/..%2f..%2f..%2fetc%2fpasswd", "//etc/passwd",
                                  "/.git/config", "/web/../../../etc/passwd"])
def test_no_files_outside_the_web_root(server, path):
    r = server.get(path)
    assert r.status in (400, 403, 404), (path, r)
    assert b"root:" not in r.body


async def test_websocket_only_on_ws_path(server):
    # refused either with an HTTP error status or by closing the connection
    for path in ("/", "/wsx", "/api/rooms", "/healthz"):
        with pytest.raises(websockets.exceptions.InvalidHandshake):
            ws = await websockets.connect(f"ws://127.0.0.1:{server.port}{path}",
                                          subprotocols=["weir-v1"], open_timeout=5)
            await ws.close()
    # and /ws still works
    c = await connect(server)
    assert c.subprotocol == "weir-v1"


def test_root_serves_index_html_from_web_root(weir, tmp_path):
    web = tmp_path / "webroot"
    web.mkdir()
    page = "<!doctype html><html><head><title>weir test page</title></head><body>hi</body></html>"
    (web / "index.html").write_text(page)
    srv = weir({"server": {"web_root": str(web)}})
    r = srv.get("/")
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("text/html"), r.headers
    assert r.text == page


def test_root_serves_the_source_tree_front_end(server):
    root = os.environ.get("WEIR_SOURCE_ROOT") or os.path.join(os.path.dirname(__file__), "..", "..")
    index = os.path.join(root, "web", "index.html")
    r = server.get("/")
    if not os.path.exists(index):
        # without a front-end in the tree there is nothing to serve, but no crash either
        assert r.status in (200, 404), r
        return
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("text/html"), r.headers
    with open(index, "rb") as f:
        assert r.body == f.read()


def test_metrics_format_and_build_info(server):
    r = server.get("/metrics")
    assert r.status == 200
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers
    assert "weir_build_info{" in r.text
    m = server.metrics()
    build = [(k, v) for k, v in m.items() if k[0] == "weir_build_info"]
    assert len(build) == 1 and build[0][1] == 1, build
    assert dict(build[0][0][1]).get("version"), build
    for name in ("weir_uptime_seconds", "weir_rooms", "weir_workers", "weir_ws_connections",
                 "weir_signalling_messages_total"):
        assert name in m.names(), (name, sorted(m.names()))
    for role in ("teacher", "student", "observer", "recorder"):
        assert m.get_value("weir_participants", role=role) is not None, role


async def test_metrics_follow_joins_and_leaves(weir):
    srv = weir()
    before = srv.metrics()
    assert before.value("weir_rooms") == 0
    assert before.value("weir_participants", role="student") == 0
    assert before.value("weir_participants", role="teacher") == 0

    room = unique_room()
    s = await joined(srv, room, "s1")
    t = await joined(srv, room, "t1", role="teacher")
    during = srv.metrics()
    assert during.value("weir_rooms") == 1
    assert during.value("weir_participants", role="student") == 1
    assert during.value("weir_participants", role="teacher") == 1
    assert during.value("weir_ws_connections") >= 2
    assert during.value("weir_signalling_messages_total") >= before.value(
        "weir_signalling_messages_total") + 2

    await s.call("leave")
    after = srv.metrics()
    assert after.value("weir_participants", role="student") == 0
    assert after.value("weir_participants", role="teacher") == 1
    await t.close()


async def test_metrics_count_errors_by_code(weir):
    srv = weir()
    c = await connect(srv)
    before = srv.metrics().get_value("weir_signalling_errors_total", code="-32700") or 0
    for _ in range(3):
        await c.send_raw("{not json")
        r = await c.response(None)
        assert r["error"]["code"] == -32700
    after = srv.metrics().value("weir_signalling_errors_total", code="-32700")
    assert after == before + 3


async def test_participants_are_placed_on_the_least_loaded_worker(weir):
    srv = weir({"server": {"workers": 2}})
    room = unique_room()
    clients = [await joined(srv, room, f"p{i}") for i in range(4)]
    m = srv.metrics()
    # four peers over two workers: two each
    assert m.value("weir_worker_peers", worker="0") == 2
    assert m.value("weir_worker_peers", worker="1") == 2
    await clients[0].call("leave")
    await clients[2].call("leave")
    m = srv.metrics()
    total = m.value("weir_worker_peers", worker="0") + m.value("weir_worker_peers", worker="1")
    assert total == 2
    for c in clients:
        await c.close()


async def test_worker_load_metrics_on_an_idle_server(weir):
    """Each worker's loop reports its busy share (shell/worker_load.h): an idle server waits
    almost all the time, has worked a little (timers), and was never overloaded."""
    srv = weir({"server": {"workers": 2}})
    await asyncio.sleep(1.3)  # at least two 500 ms windows closed
    m = srv.metrics()
    for w in ("0", "1"):
        busy = m.value("weir_worker_busy_ratio", worker=w)
        assert 0 <= busy < 0.5, (w, busy)
        assert m.value("weir_worker_busy_seconds_total", worker=w) > 0, w
        assert m.value("weir_worker_overloads_total", worker=w) == 0, w
