"""Data channels end to end with weir-client (tools/weir-client, --dc options):
the real server and several real SCTP peers on 127.0.0.1.

What is checked (docs/protocol.md, Data channels):
  * one total order: clients drawing at once all record the same stamped
    sequence (seq, from, data), seqs 1..N without a gap, each sees its own ops;
  * a late joiner gets the whole history first, in order, then live messages;
  * the history survives SIGKILL of the server (one write(2) per message);
  * a receiver that stops reading does not delay the others, and the server
    closes (or bounds) its channel;
  * a flood gets 429 error frames and the others are unaffected;
  * roles: a teacher's clear empties the history, a student's clear and an
    observer's message get 403.

weir-client writes every received frame to --dc-record (one per line) and
checks seq order, history-first and the echo of its own ops itself
(--dc-expect-messages: exit status 0 only when they hold).
"""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import assert_no_sanitizer, unique_room

CLIENT = os.environ.get("WEIR_CLIENT_BIN", "")

pytestmark = pytest.mark.skipif(not CLIENT or not os.access(CLIENT, os.X_OK),
                                reason="weir-client was not built (needs libvpx-dev, libopus-dev)")

# Generous: the machine running the suite may be shared and slow.
CLIENT_TIMEOUT_S = 90


def _config(**data):
    """Server overrides: ICE on loopback, [data] keys as given.

    ice_consent_timeout_s stays at the default 5 s on purpose: a data-only
    peer that waits for others is kept visibly alive by SCTP heartbeats
    (every second, shell/sctp.h), and these tests would catch a regression."""
    cfg = {"media": {"ice_bind_addresses": "127.0.0.1", "ice_consent_timeout_s": 5}}
    if data:
        cfg["data"] = data
    return cfg


def _client(srv, room, name, *args, duration=20, url=None):
    cmd = [CLIENT, "--url", url or srv.ws_url, "--room", room, "--display", name,
           "--duration", str(duration), "--report", "-", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(proc, timeout=CLIENT_TIMEOUT_S):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"weir-client did not finish in {timeout} s\n{err[-3000:]}")
    assert_no_sanitizer(err, "weir-client")
    try:
        report = json.loads(out)
    except ValueError:
        raise AssertionError(f"no JSON report (rc={proc.returncode}): {out[-2000:]}\n{err[-3000:]}")
    return proc.returncode, report, err


def _ok(proc, what):
    rc, report, err = _report(proc)
    assert rc == 0, (f"{what}: exit {rc}\n{json.dumps(report.get('expectations'), indent=1)}\n"
                     f"{json.dumps(report.get('datachannel'), indent=1)[-3000:]}\n"
                     f"error: {report.get('error')}\n{err[-2000:]}")
    return report


def _records(path):
    """Stamped messages of a --dc-record file: [(seq, from, data), ...] in arrival order."""
    out = []
    with open(path) as f:
        for line in f:
            msg = json.loads(line)
            if "seq" in msg:
                out.append((msg["seq"], msg["from"], json.dumps(msg["data"], sort_keys=True)))
    return out


def _errors(path):
    with open(path) as f:
        return [json.loads(l)["error"] for l in f if l.startswith('{"error"')]


def _channel(report, label="whiteboard"):
    chans = [c for c in report["datachannel"]["channels"] if c["label"] == label]
    assert len(chans) == 1, report["datachannel"]
    return chans[0]


def _own_ns(records, pid):
    return [json.loads(d)["n"] for s, f, d in records if f == pid and "\"n\"" in d]


def _wait_lines(path, n, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                if sum(1 for _ in f) >= n:
                    return
        assert proc.poll() is None, f"weir-client exited early: {_report(proc)}"
        time.sleep(0.05)
    raise AssertionError(f"{path}: fewer than {n} lines after {timeout} s")


def _latency(report):
    lat = report["datachannel"]["own"]["latency_ms"]
    return f"p50 {lat['p50']:.1f} ms p95 {lat['p95']:.1f} ms max {lat['max']:.1f} ms"


def test_three_drawers_record_one_order(weir, tmp_path):
    """3 clients draw 1,000 ops each at once: all three record the same 3,000
    stamped messages (seq 1..3000, same from, same data) and their own ops
    come back, in their sending order."""
    srv = weir(_config(flood_messages_per_s=5000))
    room = unique_room("dc3")
    procs, paths = [], []
    for i in range(3):
        paths.append(str(tmp_path / f"rec{i}.txt"))
        procs.append(_client(srv, room, f"drawer{i}", "--dc", "whiteboard", "--dc-send-ops", "1000",
                             "--dc-rate", "400", "--dc-send-after-ms", "1500", "--dc-record",
                             paths[i], "--dc-expect-messages", "3000", duration=40))
    reports = [_ok(p, f"drawer{i}") for i, p in enumerate(procs)]
    recs = [_records(p) for p in paths]
    assert [r[0] for r in recs[0]] == list(range(1, 3001)), recs[0][:5]
    for i in (1, 2):
        assert recs[i] == recs[0], f"drawer{i} recorded another sequence than drawer0"
    ids = [r["participant"]["id"] for r in reports]
    assert {f for _, f, _ in recs[0]} == set(ids)
    for i, pid in enumerate(ids):
        assert _own_ns(recs[0], pid) == list(range(1, 1001)), f"drawer{i}'s ops"
        dc = reports[i]["datachannel"]
        assert dc["own"]["echoed"] == 1000 and dc["own"]["missing"] == 0, dc["own"]
        print(f"drawer{i}: {dc['stamped']} stamped, history {_channel(reports[i])['history']}, "
              f"own latency {_latency(reports[i])}")


def test_late_joiner_gets_history_first(weir, tmp_path):
    """A joins and draws 500 ops; B joins afterwards, receives those 500 in
    order before anything else, then its own ops (seq continues at 501)."""
    srv = weir(_config(flood_messages_per_s=5000))
    room = unique_room("dclate")
    rec_a, rec_b = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")
    a = _client(srv, room, "early", "--dc", "whiteboard", "--dc-send-ops", "500", "--dc-rate",
                "500", "--dc-record", rec_a, "--dc-expect-messages", "500")
    ra = _ok(a, "early")
    b = _client(srv, room, "late", "--dc", "whiteboard", "--dc-send-ops", "20", "--dc-rate", "100",
                "--dc-record", rec_b, "--dc-expect-messages", "520", "--dc-expect-history", "500")
    rb = _ok(b, "late")
    hist, mine = _records(rec_a), _records(rec_b)
    assert [s for s, _, _ in hist] == list(range(1, 501))
    assert mine[:500] == hist, "the late joiner's first 500 messages are the history, in order"
    assert [s for s, _, _ in mine[500:]] == list(range(501, 521))
    assert {f for _, f, _ in mine[500:]} == {rb["participant"]["id"]}
    wb = _channel(rb)
    assert wb["history"] == 500 and wb["history_late"] == 0, wb
    print(f"history of 500 replayed in {wb['history_ms']:.1f} ms; late joiner's own ops "
          f"{_latency(rb)}; early drawer {_latency(ra)}")


def test_history_survives_sigkill(weir, tmp_path):
    """SIGKILL the server while a client draws; restarted on the same data_dir,
    it replays to a new client what the first one had received (same seqs and
    data), and new messages continue after the last stored seq."""
    data_dir = str(tmp_path / "data")
    overrides = _config(flood_messages_per_s=5000)
    overrides["server"] = {"data_dir": data_dir}
    srv = weir(overrides)
    room = unique_room("dckill")
    rec_a, rec_b = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")
    a = _client(srv, room, "drawer", "--dc", "whiteboard", "--dc-send-ops", "5000", "--dc-rate",
                "400", "--dc-record", rec_a, duration=30)
    _wait_lines(rec_a, 300, a)
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    srv.checked = True  # killed on purpose: the fixture must not expect exit 0
    a.send_signal(signal.SIGTERM)
    _report(a)
    received = _records(rec_a)
    assert len(received) >= 300

    srv2 = weir(overrides)
    b = _client(srv2, room, "after", "--dc", "whiteboard", "--dc-send-ops", "1", "--dc-record",
                rec_b, "--dc-expect-messages", "1")
    rb = _ok(b, "after")
    replayed = _records(rec_b)
    history, own = replayed[:-1], replayed[-1]
    # The server may have stamped (and stored) ops whose echo the client had not received yet
    # when it died: the history may be longer than what was recorded, never shorter.
    loss = max(0, len(received) - len(history))
    print(f"SIGKILL after {len(received)} received ops: {len(history)} replayed "
          f"({len(history) - len(received)} stored but not yet delivered), loss {loss} "
          f"(fsync window 50 ms; one write(2) per message should lose none)")
    assert loss == 0, f"{loss} delivered message(s) lost by SIGKILL"
    assert history[:len(received)] == received, "the replayed history is what was delivered"
    assert own[1] == rb["participant"]["id"]
    assert own[0] > received[-1][0], f"seq {own[0]} reused after the restart"
    srv2.stop_and_check()


def _stalled_channel_handled(srv, stalled_id):
    """The server closed the stalled channel (a warn line naming the participant
    and the label, or a close by backpressure in /metrics)."""
    log = srv.stderr_text()
    for line in log.splitlines():
        if stalled_id in line and "whiteboard" in line and " warn " in line:
            return line
    for (name, labels), v in srv.metrics().items():
        reason = dict(labels).get("reason", "")
        if name == "weir_dc_channels_closed_total" and v > 0 and any(
                w in reason for w in ("buffer", "full", "queue", "backpressure", "slow")):
            return f"{name}{{reason={reason}}} {v}"
    return None


def test_stalled_receiver_does_not_delay_others(weir, tmp_path):
    """One receiver stops reading SCTP after 50 messages (a frozen tab); the
    sender pushes ~2 MB of ops. The two other receivers still get every op,
    the sender's echo latency stays low, and the server closes the stalled
    channel instead of buffering without bound."""
    srv = weir(_config(flood_messages_per_s=5000, flood_bytes_per_s=50_000_000,
                       max_buffered_per_channel=131072))
    room = unique_room("dcstall")
    n = 2000
    stalled = _client(srv, room, "frozen", "--dc", "whiteboard", "--dc-stall-after", "50",
                      duration=14)
    readers = [_client(srv, room, f"reader{i}", "--dc", "whiteboard", "--dc-expect-messages",
                       str(n), duration=40) for i in range(2)]
    time.sleep(2)  # everyone's channel is open before the first op
    sender = _client(srv, room, "sender", "--dc", "whiteboard", "--dc-send-ops", str(n),
                     "--dc-rate", "400", "--dc-op-pad", "1000", "--dc-expect-messages", str(n),
                     duration=40)
    rs = _ok(sender, "sender")
    for i, r in enumerate(readers):
        rep = _ok(r, f"reader{i}")
        wb = _channel(rep)
        assert wb["stamped"] >= n and wb["gaps"] == 0, wb
    _, rf, _ = _report(stalled)
    assert rf["datachannel"]["stalled"], rf["datachannel"]
    lat = rs["datachannel"]["own"]["latency_ms"]
    print(f"with a stalled receiver: sender's echo latency {_latency(rs)}; the frozen client "
          f"read {_channel(rf)['frames']} frames")
    assert lat["p95"] < 5000, f"echo p95 {lat['p95']} ms: the stalled receiver delayed the others"
    evidence = _stalled_channel_handled(srv, rf["participant"]["id"])
    print(f"server on the stalled channel: {evidence}")
    assert evidence, "no sign that the server closed the stalled channel:\n" + srv.stderr_text()[-4000:]


def test_flood_gets_429_others_unaffected(weir, tmp_path):
    """A client sending 12x the flood limit gets 429 error frames (the server
    answers at most a few per second, not one per dropped op) and most of its
    ops are dropped before they are stamped; two others (one drawing slowly)
    record the same order, with the flooder's stamped ops in it and none of
    their own lost."""
    srv = weir(_config(flood_messages_per_s=50))
    room = unique_room("dcflood")
    rec = [str(tmp_path / f"r{i}.txt") for i in range(2)]
    calm = _client(srv, room, "calm", "--dc", "whiteboard", "--dc-send-ops", "60", "--dc-rate",
                   "20", "--dc-send-after-ms", "1000", "--dc-record", rec[0], duration=7)
    watcher = _client(srv, room, "watcher", "--dc", "whiteboard", "--dc-record", rec[1], duration=7)
    time.sleep(1.5)
    flooder = _client(srv, room, "flooder", "--dc", "whiteboard", "--dc-send-ops", "600",
                      "--dc-rate", "600", duration=4)
    _, rf, err = _report(flooder)
    fdc = rf["datachannel"]
    refused = _channel(rf)["errors"].get("429", 0)
    print(f"flooder sent {fdc['sent']}, stamped {fdc['own']['echoed']}, 429 frames {refused}")
    assert fdc["sent"] == 600 and refused > 0, fdc
    # 50/s with a 1 s burst: even if sending took 3 s here, at most 200 pass.
    assert fdc["own"]["echoed"] < fdc["sent"] // 2, fdc["own"]
    flood_lines = [l for l in srv.stderr_text().splitlines()
                   if " warn " in l and "flood" in l and rf["participant"]["id"] in l]
    assert flood_lines, "the flood is logged at warn with the participant"
    rc = _report(calm)[1]
    rw = _report(watcher)[1]
    cdc = rc["datachannel"]
    assert cdc["own"]["sent"] == 60 and cdc["own"]["missing"] == 0, cdc["own"]
    assert _channel(rc)["errors"] == {}, "the calm client was not limited"
    a, b = _records(rec[0]), _records(rec[1])
    assert a == b and _channel(rc)["gaps"] == 0 and _channel(rw)["gaps"] == 0
    assert sum(1 for _, f, _ in a if f == rf["participant"]["id"]) == fdc["own"]["echoed"]
    print(f"calm drawer's echo latency during the flood: {_latency(rc)}")


def test_roles_clear_and_refusals(weir, tmp_path):
    """A student's clear and an observer's message are refused with 403 (not
    stamped); the teacher's clear is stamped, then the history is empty: a
    later joiner receives nothing from before, and seqs continue."""
    srv = weir(_config())
    room = unique_room("dcroles")
    rec_t, rec_s, rec_l = (str(tmp_path / f"{n}.txt") for n in "tsl")
    teacher = _client(srv, room, "teacher", "--role", "teacher", "--dc", "whiteboard",
                      "--dc-send-ops", "20", "--dc-rate", "50", "--dc-send-after-ms", "1500",
                      "--dc-clear", "--dc-record", rec_t, duration=5)
    student = _client(srv, room, "student", "--role", "student", "--dc-clear",
                      "--dc-send-after-ms", "500", "--dc-record", rec_s, duration=5)
    _report(teacher)
    rs = _report(student)[1]
    assert rs["datachannel"]["clear_sent"], rs["datachannel"]
    assert [e["code"] for e in _errors(rec_s)] == [403], "the student's clear is refused"
    stamped = _records(rec_t)
    assert len(stamped) == 21, stamped  # 20 ops + the clear; not the refused one
    assert json.loads(stamped[-1][2]) == {"op": "clear"}
    late = _client(srv, room, "late", "--dc", "whiteboard", "--dc-send-ops", "1", "--dc-record",
                   rec_l, "--dc-expect-messages", "1")
    rl = _ok(late, "late")
    got = _records(rec_l)
    assert len(got) == 1 and got[0][1] == rl["participant"]["id"], got
    assert got[0][0] == stamped[-1][0] + 1, "seqs continue after the clear"
    assert _channel(rl)["history"] == 0
    print(f"teacher cleared at seq {stamped[-1][0]}; late joiner's first seq {got[0][0]}")


def test_observer_may_not_draw(weir, tmp_path):
    """An observer opens a data-only publisher PC (PROTOCOL.md: a participant
    who only watches still opens it for data channels); what it sends on the
    whiteboard is answered with 403 and not stamped."""
    srv = weir(_config())
    room = unique_room("dcobs")
    rec_o, rec_w = str(tmp_path / "o.txt"), str(tmp_path / "w.txt")
    watcher = _client(srv, room, "student", "--dc", "whiteboard", "--dc-record", rec_w,
                      duration=4)
    observer = _client(srv, room, "observer", "--role", "observer", "--dc-send-ops", "3",
                       "--dc-send-after-ms", "500", "--dc-record", rec_o, duration=3)
    rc, ro, err = _report(observer)
    _report(watcher)
    assert rc == 0, f"observer: {ro.get('error')}\n{err[-2000:]}"
    assert ro["datachannel"]["sent"] == 3, ro["datachannel"]
    assert [e["code"] for e in _errors(rec_o)][:1] == [403], "the observer may not draw"
    assert _records(rec_o) == [] and _records(rec_w) == [], "nothing of it was stamped"


def test_chat_history_is_capped(weir, tmp_path):
    """chat is stamped like the whiteboard, but a late joiner gets only the
    last [data] chat_history messages, in order."""
    srv = weir(_config(chat_history=5))
    room = unique_room("dcchat")
    rec_a, rec_b = str(tmp_path / "a.txt"), str(tmp_path / "b.txt")
    a = _client(srv, room, "talker", "--dc-send-label", "chat", "--dc-send-ops", "12",
                "--dc-rate", "100", "--dc-record", rec_a, "--dc-expect-messages", "12")
    _ok(a, "talker")
    b = _client(srv, room, "late", "--dc", "chat", "--dc-send-label", "chat", "--dc-send-ops",
                "1", "--dc-record", rec_b, "--dc-expect-messages", "6", "--dc-expect-history", "5")
    rb = _ok(b, "late")
    said, got = _records(rec_a), _records(rec_b)
    assert [s for s, _, _ in said] == list(range(1, 13))
    assert got[:5] == said[-5:], "the last 5 chat messages, in order"
    assert got[5][0] == 13 and got[5][1] == rb["participant"]["id"]


def test_other_labels_are_relayed_to_the_others(weir, tmp_path):
    """A label other than whiteboard/chat is relayed as is, not stamped, to
    every other participant with that label open, not back to the sender."""
    srv = weir(_config())
    room = unique_room("dcrelay")
    recs = [str(tmp_path / f"r{i}.txt") for i in range(3)]
    others = [_client(srv, room, f"peer{i}", "--dc", "cursor", "--dc-record", recs[i],
                      duration=5) for i in range(2)]
    time.sleep(1.5)
    sender = _client(srv, room, "mover", "--dc-send-label", "cursor", "--dc-send-ops", "30",
                     "--dc-rate", "50", "--dc-record", recs[2], duration=3)
    rs = _report(sender)[1]
    assert rs["datachannel"]["sent"] == 30, rs["datachannel"]
    for i, p in enumerate(others):
        _report(p)
        with open(recs[i]) as f:
            lines = [json.loads(l) for l in f]
        assert [m["n"] for m in lines] == list(range(1, 31)), f"peer{i} got the ops as sent"
        assert all(m["op"] == "line" and "seq" not in m for m in lines)
    with open(recs[2]) as f:
        assert f.read() == "", "nothing comes back to the sender"
