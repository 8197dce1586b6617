#!/usr/bin/env bash
# Build Weir (release) and run it on conf/weir.conf: single node, no Redis,
# classroom page at http://127.0.0.1:8088/.
#
#   tools/run.sh [weir args...]     e.g. tools/run.sh --help
#
# Installs missing Debian packages first (tools/install-deps.sh run). Works from
# any directory; the build lives in build/release.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

bash tools/install-deps.sh run

builddir=build/release
if [ ! -f "$builddir/build.ninja" ]; then
    # A half-made directory (setup interrupted or failed) cannot be set up again in place.
    rm -rf "$builddir"
    meson setup "$builddir" --buildtype=release
fi
# Only the server (not the tests); ninja re-runs meson by itself when a meson.build changed.
meson compile -C "$builddir" weir

exec "$builddir/weir" -c conf/weir.conf "$@"
