"""Participants that only subscribe, next to a publisher on the same worker.

A participant's producer state (src/shell/worker_internal.h, publisher_state)
exists only once it publishes, so a subscriber-only participant has none. The
worker's periodic statistics and feedback ticks, keyframe requests from the
subscribers' consumers and peer teardown run for every participant of the
worker; this checks they cope with one that never published: statistics of
the subscriber-only participants are reported (and carry no publisher entry),
one of them leaves while the publisher keeps sending, the other keeps
decoding, and the server exits cleanly (no sanitizer report under ASan)."""
import json
import os
import time

import pytest

from conftest import unique_room
from test_client_e2e import _client, _report  # weir-client as a subprocess, its JSON report

CLIENT = os.environ.get("WEIR_CLIENT_BIN", "")
ADMIN_KEY = "subscriber-only-admin-key"

pytestmark = pytest.mark.skipif(not CLIENT or not os.access(CLIENT, os.X_OK),
                                reason="weir-client was not built (needs libvpx-dev, libopus-dev)")


def _participants(srv, room):
    r = srv.http("GET", f"/api/rooms/{room}/participants", key=ADMIN_KEY)
    assert r.status == 200, r
    return {p["display"]: p for p in r.json()["participants"]}


def _wait_for(srv, room, ready, what, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        listing = _participants(srv, room)
        if ready(listing):
            return listing
        assert time.monotonic() < deadline, f"{what}: {json.dumps(listing, indent=1)}"
        time.sleep(0.25)


def _receiving(p):
    return p is not None and p.get("subscriber", {}).get("packets", 0) > 0


def test_subscriber_only_participants_report_and_leave(weir):
    srv = weir({"media": {"ice_bind_addresses": "127.0.0.1"}, "auth": {"admin_key": ADMIN_KEY},
                "server": {"workers": 1}})
    room = unique_room("subonly")
    early = _client(srv, room, "early", "--subscribe", "--expect-tracks", "2", duration=4)
    stay = _client(srv, room, "stay", "--subscribe", "--expect-video-frames", "150",
                   "--expect-tracks", "2", duration=10)
    time.sleep(0.5)  # both are in the room before the tracks appear
    pub = _client(srv, room, "pub", "--publish", duration=11)

    listing = _wait_for(srv, room,
                        lambda ps: _receiving(ps.get("early")) and _receiving(ps.get("stay"))
                        and ps.get("pub", {}).get("publisher", {}).get("packets", 0) > 50,
                        "both subscribers receiving, the publisher counted")
    for name in ("early", "stay"):
        assert "publisher" not in listing[name], listing[name]
        assert listing[name]["subscriber"]["tracks"] == 2, listing[name]
    assert "subscriber" not in listing["pub"] or listing["pub"]["subscriber"]["tracks"] == 0

    # "early" leaves while the publisher keeps sending.
    rc, report, err = _report(early)
    assert rc == 0, f"early: {json.dumps(report, indent=1)[-3000:]}\n{err[-2000:]}"
    gone = _wait_for(srv, room, lambda ps: "early" not in ps, "early left the room")
    before = gone["stay"]["subscriber"]["packets"]
    pub_before = gone["pub"]["publisher"]["packets"]
    after = _wait_for(srv, room,
                      lambda ps: ps["stay"]["subscriber"]["packets"] > before
                      and ps["pub"]["publisher"]["packets"] > pub_before,
                      "forwarding goes on after a subscriber left")
    assert "publisher" not in after["stay"], after["stay"]

    rc, report, err = _report(stay)
    assert rc == 0, f"stay: {json.dumps(report, indent=1)[-3000:]}\n{err[-2000:]}"
    video = [t for t in report["subscribed"] if t["kind"] == "video"]
    assert len(video) == 1 and video[0]["frames_decoded"] >= 150, report["subscribed"]
    assert video[0]["content_errors"] == 0, video[0]
    rc, report, err = _report(pub)
    assert rc == 0, f"publisher: {report}\n{err[-2000:]}"
    m = srv.metrics()
    assert m.value("weir_media_rtp_packets_sent_total") > 0
    srv.stop_and_check()
