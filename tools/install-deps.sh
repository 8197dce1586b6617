#!/usr/bin/env bash
# Install the Debian packages Weir needs, and nothing that is already there.
#
#   tools/install-deps.sh [run|test]     (default: test)
#
#   run   what building and running the server needs
#   test  everything: run + compilers/sanitizer runtimes, test frameworks, tools
#
# Idempotent: packages are checked with dpkg-query first; apt-get (update once,
# then install) only runs when something is missing, and that needs root.
# WEIR_SKIP_DEPS=1 skips the whole step (for non-Debian machines where you
# installed the equivalents yourself).
set -euo pipefail

# The one package list. Add a package to the group that first needs it; `test`
# always includes `run`.
RUN_PACKAGES=(
    meson
    ninja-build
    pkg-config
    gcc
    libwebsockets-dev
    libjansson-dev
    libssl-dev
    libnice-dev
    libglib2.0-dev
    libsrtp2-dev
    libusrsctp-dev # SCTP for data channels (shell/sctp.c)
    libopus-dev
    libvpx-dev
)
TEST_PACKAGES=(
    clang
    libclang-rt-14-dev # ASan/UBSan/libFuzzer runtimes for clang
    clang-format
    libcriterion-dev
    python3
    python3-pytest
    python3-websockets
    curl
    openssl # test certificates for the TLS test
    python3-aiortc # end-to-end publish test (WebRTC client)
    iproute2 # ip: the end-to-end tests' private network namespaces
    chromium # tests/integration/test_browser.py (headless, driven by npm's playwright-core)
    ffmpeg # tests/integration/test_taps.py, test_recording.py; tools/weir-composite runs it
    fonts-dejavu-core # tools/weir-composite: participants' names on their tiles
    gstreamer1.0-tools # test_taps.py: gst-launch-1.0 with sdpdemux (skipped without these)
    gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good
    gstreamer1.0-plugins-bad
    gstreamer1.0-libav
    janus # benchmarks/compare.py and tests/integration/test_load_smoke.py (Weir vs Janus videoroom)
)

die() {
    echo "install-deps: $*" >&2
    exit 1
}

group=${1:-test}
case "$group" in
run) wanted=("${RUN_PACKAGES[@]}") ;;
test) wanted=("${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
-h | --help)
    sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*) die "unknown group '$group' (expected: run or test)" ;;
esac

if [ "${WEIR_SKIP_DEPS:-0}" = 1 ]; then
    echo "install-deps: WEIR_SKIP_DEPS=1, not checking packages"
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: no dpkg-query: not a Debian system; make sure these (or their" \
        "equivalents) are installed: ${wanted[*]}" >&2
    exit 0
fi

missing=()
for pkg in "${wanted[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#wanted[@]} packages for '$group' are installed"
    exit 0
fi

echo "install-deps: missing for '$group': ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    die "installing packages needs root; run as root, or run:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}"
fi

export DEBIAN_FRONTEND=noninteractive
apt-get -q update || die "apt-get update failed"
apt-get -q install -y --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" ||
    die "apt-get install failed for: ${missing[*]}"
echo "install-deps: installed ${missing[*]}"
