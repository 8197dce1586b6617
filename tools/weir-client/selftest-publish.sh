#!/usr/bin/env bash
# End-to-end check of weir-client's publisher against the real server.
#
#   tools/weir-client/selftest-publish.sh [BUILD_DIR]
#
# BUILD_DIR holds the meson build (default: build/debug); it needs BUILD_DIR/weir
# and BUILD_DIR/tools/weir-client/weir-client. The script re-executes itself in a
# private network namespace (unshare -n, only loopback up: nothing leaves 127/8,
# no port clash with anything on the host), starts weir with ICE on 127.0.0.1 and
# an admin key, and runs two publishers, one plain and one with --simulcast, each
# for 3 s. While each runs it polls GET /api/rooms/<room>/participants and checks
# that the server saw the publisher connected with SRTP, > 50 packets, and at
# least 2 streams (plain: audio + video) or 4 (simulcast: audio + q/h/f).
# Also checks weir-client's own report (exit status 0, frames sent). A third case
# runs a simulcast publisher and a subscriber with 5% simulated RTP loss and checks
# what the subscriber decoded (tracks, frames, order, content, tone, freezes).
# Needs root (unshare), ip (iproute2) and python3. Exit status 0 = pass.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${1:-$root/build/debug}
build=$(cd "$build" && pwd)

if [ "${WEIR_SELFTEST_IN_NETNS:-}" != 1 ]; then
    if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
        echo "selftest-publish: needs root, unshare and ip for a private network namespace" >&2
        exit 2
    fi
    exec unshare -n env WEIR_SELFTEST_IN_NETNS=1 "$0" "$build"
fi

weir=$build/weir
client=$build/tools/weir-client/weir-client
for b in "$weir" "$client"; do
    [ -x "$b" ] || { echo "selftest-publish: $b is not built" >&2; exit 2; }
done

ip link set lo up
work=$(mktemp -d "${TMPDIR:-/tmp}/weir-selftest.XXXXXX")
weir_pid=
cleanup() {
    if [ -n "$weir_pid" ]; then
        kill "$weir_pid" 2>/dev/null || true
        wait "$weir_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port=8088
key=selftest-admin-key
cat >"$work/weir.conf" <<CONF
[server]
listen_address = 127.0.0.1
workers = 2
shutdown_grace_ms = 200
data_dir = $work/data
[auth]
admin_key = $key
[media]
ice_bind_addresses = 127.0.0.1
CONF

"$weir" -c "$work/weir.conf" --port "$port" >"$work/weir.log" 2>&1 &
weir_pid=$!
for _ in $(seq 100); do
    if python3 -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/healthz', timeout=1)" 2>/dev/null; then
        break
    fi
    sleep 0.05
done

# run_case NAME MIN_STREAMS CLIENT_ARGS...
run_case() {
    local name=$1 min_streams=$2
    shift 2
    local room=selftest-$name
    "$client" --url "ws://127.0.0.1:$port/ws" --room "$room" --display "$name" --publish \
        --duration 3 --report "$work/$name.json" --expect-video-frames 45 \
        --expect-audio-frames 100 "$@" >"$work/$name.out" 2>"$work/$name.err" &
    local cpid=$!
    python3 - "$port" "$key" "$room" "$min_streams" "$cpid" <<'PY' || { echo "--- weir log"; tail -30 "$work/weir.log"; echo "--- client stderr"; cat "$work/$name.err"; kill $cpid 2>/dev/null; return 1; }
import json, os, sys, time, urllib.request
port, key, room, min_streams, cpid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
best = None
deadline = time.monotonic() + 8
while time.monotonic() < deadline:
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/rooms/{room}/participants",
                                     headers={"Authorization": f"Bearer {key}"})
        parts = json.load(urllib.request.urlopen(req, timeout=1))["participants"]
    except Exception:
        parts = []
    for p in parts:
        pub = p.get("publisher") or {}
        if pub.get("state") == "connected" and (best is None or pub.get("packets", 0) >= best.get("packets", 0)):
            best = pub
    if best and best.get("packets", 0) > 50 and best.get("streams", 0) >= min_streams:
        break
    try:
        os.kill(cpid, 0)
    except OSError:
        break
    time.sleep(0.25)
print(f"  server saw: {best}")
ok = bool(best) and best.get("srtp_profile") and best.get("packets", 0) > 50 and best.get("streams", 0) >= min_streams
sys.exit(0 if ok else 1)
PY
    local rc=0
    wait "$cpid" || rc=$?
    if [ "$rc" != 0 ]; then
        echo "  weir-client exited $rc"; cat "$work/$name.err"; cat "$work/$name.json" 2>/dev/null
        return 1
    fi
    python3 - "$work/$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
p = r["published"]
print(f"  client sent: video_frames={p['video_frames']} audio_frames={p['audio_frames']} "
      f"rtp_packets={p['rtp_packets']} layers=" +
      ",".join(f"{l['rid'] or '-'}:{l['width']}x{l['height']}/{l['packets']}pkts" for l in p["layers"]))
assert r["ok"] and p["connected"], r
PY
}

# A simulcast publisher and a subscriber in one room, 5% of RTP dropped on both clients'
# links: the subscriber must decode both tracks, in order, the tone at 440 Hz.
run_pubsub() {
    local room=selftest-pubsub
    "$client" --url "ws://127.0.0.1:$port/ws" --room "$room" --display pub --publish --simulcast \
        --simulate-loss 5 --duration 7 --report "$work/pub.json" 2>"$work/pub.err" &
    local ppid=$!
    sleep 1
    local rc=0
    "$client" --url "ws://127.0.0.1:$port/ws" --room "$room" --display sub --subscribe \
        --simulate-loss 5 --duration 4 --report "$work/sub.json" --expect-tracks 2 \
        --expect-video-frames 50 --expect-audio-frames 100 --expect-max-freeze-ms 1000 \
        2>"$work/sub.err" || rc=$?
    wait "$ppid" || true
    if [ "$rc" != 0 ]; then
        echo "  subscriber exited $rc"; cat "$work/sub.err"; cat "$work/sub.json" 2>/dev/null
        return 1
    fi
    python3 - "$work/sub.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for t in r["subscribed"]:
    if t["kind"] == "video":
        assert t["order_errors"] == 0 and t["content_errors"] == 0, t
        print(f"  video {t['width']}x{t['height']}: {t['frames_decoded']} frames, "
              f"latency p50 {t['latency_ms']['p50']} ms, lost {t['packets_lost']}, "
              f"recovered {t['packets_recovered']}, freezes {t['freezes']}")
    else:
        assert abs(t["tone_hz"] - 440) < 20, t
        print(f"  audio: {t['frames_decoded']} frames, tone {t['tone_hz']:.0f} Hz, lost {t['packets_lost']}")
assert r["ok"], r["expectations"]
PY
}

fail=0
echo "selftest-publish: plain (audio + VP8)"
run_case plain 2 || fail=1
echo "selftest-publish: simulcast (audio + VP8 q/h/f)"
run_case simulcast 4 --simulcast || fail=1
echo "selftest-publish: publish (simulcast) + subscribe, 5% simulated loss"
run_pubsub || fail=1

kill "$weir_pid"
if ! wait "$weir_pid"; then
    echo "selftest-publish: weir did not exit cleanly" >&2
    tail -20 "$work/weir.log"
    fail=1
fi
weir_pid=
if [ "$fail" = 0 ]; then echo "selftest-publish: PASS"; else echo "selftest-publish: FAIL"; fi
exit "$fail"
