#!/usr/bin/env bash
# Build and run Weir's whole test suite; installs missing Debian packages first.
#
#   tools/test.sh
#
# Stages (each runs even if an earlier one failed; the exit status is non-zero
# if any failed):
#   deps     tools/install-deps.sh test
#   format   clang-format --dry-run --Werror over the C sources
#   debug    build/debug   (gcc, project defaults)          -> meson test
#   release  build/release (what tools/run.sh builds)       -> compiles cleanly
#   asan     build/asan    (gcc, ASan + UBSan)              -> meson test
#   fuzz     build/fuzz    (clang, libFuzzer, ASan + UBSan) -> every fuzz_* target
#
# Environment:
#   WEIR_TEST_QUICK=1     only deps, format and debug (for quick local runs)
#   WEIR_FUZZ_JOBS=N      fuzz targets run at once (default: the number of cores)
#   WEIR_FUZZ_SECONDS=N   seconds per fuzz target (default 15; 0 = replay the
#                         seed corpus only)
#
# The last line printed is always "N passed, N failed" counting test cases
# (tools/test-summary.py); a run that counted no test case fails.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

quick=${WEIR_TEST_QUICK:-0}
fuzz_seconds=${WEIR_FUZZ_SECONDS:-15}
if ! [[ "$fuzz_seconds" =~ ^[0-9]+$ ]]; then
    echo "test.sh: WEIR_FUZZ_SECONDS must be a whole number of seconds, not '$fuzz_seconds'" >&2
    fuzz_seconds=20
fi

results=build/test-results
mkdir -p "$results"
stages_file=$results/stages.tsv
: >"$stages_file"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weir-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

stage_start=0
banner() {
    echo
    echo "==> [$1] $2"
}
begin() {
    stage_start=$SECONDS
    banner "$1" "$2"
}
# record NAME STATUS KIND ARG [NOTE]  (see tools/test-summary.py)
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$((SECONDS - stage_start))" "$3" "$4" \
        "${5:-}" >>"$stages_file"
}

# setup_dir DIR [meson args...]: configure DIR, applying the args to an existing one too.
setup_dir() {
    local dir=$1
    shift
    if [ -f "$dir/build.ninja" ]; then
        meson setup --reconfigure "$dir" "$@"
    else
        # A half-made directory (setup interrupted or failed) cannot be set up again in place.
        rm -rf "$dir"
        meson setup "$dir" "$@"
    fi
}

# build_dir NAME DIR CC [meson args...]: set up and compile; records a failure and
# returns 1 if either step fails.
build_dir() {
    local name=$1 dir=$2 cc=$3
    shift 3
    if ! CC=$cc setup_dir "$dir" "$@"; then
        record "$name" fail meson "$dir" "meson setup failed"
        return 1
    fi
    if ! meson compile -C "$dir"; then
        record "$name" fail meson "$dir" "compile failed"
        return 1
    fi
}

# meson_stage NAME DIR CC TEST_ENV [meson setup args...]: build DIR, run its meson tests.
meson_stage() {
    local name=$1 dir=$2 cc=$3 test_env=$4
    shift 4
    begin "$name" "build $dir ($cc${*:+ $*})"
    # Results of an earlier run must never be counted as this run's.
    rm -f "$dir/meson-logs/testlog.json" "$dir/integration-junit.xml"
    build_dir "$name" "$dir" "$cc" "$@" || return 0
    banner "$name" "meson test -C $dir"
    local extra=()
    [ -n "$test_env" ] && extra=(--timeout-multiplier 3)
    # shellcheck disable=SC2086 # test_env is a list of VAR=value words
    if ! env $test_env meson test -C "$dir" --print-errorlogs "${extra[@]}"; then
        record "$name" fail meson "$dir" "meson test failed"
    elif [ -n "$test_env" ] && grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' \
        "$dir/meson-logs/testlog.txt"; then
        # A sanitizer report in a child process (a Criterion worker, the server under
        # pytest) must fail the stage even where the parent's exit status hid it.
        grep -nE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$dir/meson-logs/testlog.txt" |
            head -n 20
        record "$name" fail meson "$dir" "sanitizer reports in meson-logs/testlog.txt"
    else
        record "$name" pass meson "$dir"
    fi
}

stage_deps() {
    begin deps "tools/install-deps.sh test"
    if bash tools/install-deps.sh test; then
        record deps pass none ""
    else
        record deps fail none "" "installing packages failed"
    fi
    browser_deps
}

# playwright-core for the Chromium tests, pinned by tests/browser/package-lock.json.
# It needs Node.js >= 20 (the machine's own; Debian 12's nodejs is 18): without
# it the browser tests skip and say why, the rest of the suite runs.
browser_deps() {
    local major
    major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
        echo "browser tests will skip: Node.js >= 20 with npm is not installed"
        return 0
    fi
    if ! npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error; then
        echo "browser tests will skip: npm ci in tests/browser failed"
    fi
}

stage_format() {
    begin format "clang-format --dry-run --Werror"
    if ! command -v clang-format >/dev/null 2>&1; then
        record format fail count "0,1,0" "clang-format is not installed"
        return 0
    fi
    local files=() bad=() f
    mapfile -t files < <(find src include tools tests plugins benchmarks \
        -type f \( -name '*.c' -o -name '*.h' \) -not -path '*/corpus/*' 2>/dev/null | sort)
    for f in "${files[@]}"; do
        clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
    done
    if [ ${#bad[@]} -eq 0 ]; then
        echo "${#files[@]} files formatted as .clang-format says"
        record format pass count "1,0,0" "${#files[@]} files"
        return 0
    fi
    echo "Not formatted as .clang-format says (fix with: clang-format -i FILE):"
    printf '  %s\n' "${bad[@]}"
    echo "First difference, in ${bad[0]}:"
    clang-format "${bad[0]}" | diff -u "${bad[0]}" - | head -n 40
    local listed="${bad[*]:0:8}"
    [ ${#bad[@]} -gt 8 ] && listed+=" ..."
    record format fail count "0,1,0" "${#bad[@]} of ${#files[@]} files not formatted: $listed"
}

# The sans-IO layers must stay pure (ARCHITECTURE.md): no sockets, clocks, sleeps,
# locks, threads or file I/O under src/proto, src/rtc and src/peer. A line that
# must do one of these (start-up only) says so with "purity: start-up only".
stage_purity() {
    begin purity "no I/O, clock, lock or thread in src/proto src/rtc src/peer"
    local pattern='\b(socket|bind|connect|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|poll|epoll_[a-z]+|select|clock_gettime|gettimeofday|time|sleep|usleep|nanosleep|pthread_[a-z_]+|mtx_[a-z]+|thrd_[a-z]+|fopen|open|read|write|BIO_new_file)[[:space:]]*\('
    local hits
    hits=$(grep -nE "$pattern" src/proto/*.c src/rtc/*.c src/peer/*.c 2>/dev/null |
        grep -v 'purity: start-up only' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
    if [ -z "$hits" ]; then
        echo "pure"
        record purity pass count "1,0,0" "pure"
    else
        echo "Calls that do not belong in a pure layer:"
        echo "$hits" | sed 's/^/  /'
        record purity fail count "0,1,0" "impure calls under src/proto, src/rtc or src/peer"
    fi
}

stage_release() {
    begin release "build build/release (as tools/run.sh does)"
    # The run command builds -O3 with -Werror; make sure that build stays clean.
    build_dir release build/release gcc --buildtype=release || return 0
    record release pass count "1,0,0" "compiles"
}

# fuzz_one EXE: fuzz one target on a copy of its seed corpus; returns its exit status.
fuzz_one() {
    local exe=$1 name
    name=$(basename "$exe")
    name=${name#fuzz_}
    local work=$tmp/fuzz-$name seeds=tests/fuzz/corpus/$name
    mkdir -p "$work/corpus"
    [ -d "$seeds" ] && cp -R "$seeds/." "$work/corpus/"
    local limit=(-max_total_time="$fuzz_seconds")
    [ "$fuzz_seconds" -eq 0 ] && limit=(-runs=0)
    local rc=0
    ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$exe" "${limit[@]}" -timeout=25 -rss_limit_mb=2560 -print_final_stats=1 \
        -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1 || rc=$?
    local runs
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz_$name: ok (${runs:-?} inputs, $(find "$work/corpus" -type f | wc -l) in corpus)"
        return 0
    fi
    echo "fuzz_$name: FAILED (exit $rc); end of its log:"
    tail -n 60 "$work/log" | sed 's/^/    /'
    local keep=build/fuzz/artifacts/$name artifact
    mkdir -p "$keep"
    for artifact in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-* \
        "$work"/slow-unit-*; do
        [ -e "$artifact" ] || continue
        cp "$artifact" "$keep/"
        echo "    reproduce: $exe $keep/$(basename "$artifact")"
    done
    return "$rc"
}

stage_fuzz() {
    local dir=build/fuzz
    begin fuzz "build $dir (clang, libFuzzer, ASan + UBSan), ${fuzz_seconds}s per target"
    build_dir fuzz "$dir" clang -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false ||
        return 0
    local targets=() exe passed=0 failed=0 failures=()
    # tests/fuzz/fuzz_<name>.c builds fuzz_<name> in build/fuzz/tests (or, for a target that
    # needs a tool's own sources, next to that tool: build/fuzz/benchmarks/weir-load).
    mapfile -t targets < <(find "$dir/tests" "$dir/benchmarks" "$dir/tools" -maxdepth 3 -type f \
        -name 'fuzz_*' ! -name '*.*' -perm -u+x 2>/dev/null | sort)
    if [ ${#targets[@]} -eq 0 ]; then
        record fuzz fail count "0,1,0" "no fuzz_* executables under $dir/tests (is CC clang?)"
        return 0
    fi
    # libFuzzer runs on one core: run as many targets at once as there are cores (CI has 2),
    # each into its own log, then report them in order.
    local jobs=${WEIR_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)} i
    [[ "$jobs" =~ ^[1-9][0-9]*$ ]] || jobs=1
    banner fuzz "running ${#targets[@]} targets, $jobs at a time"
    for i in "${!targets[@]}"; do
        while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
        (
            rc=0
            fuzz_one "${targets[i]}" >"$tmp/fuzz-out-$i" 2>&1 || rc=$?
            echo "$rc" >"$tmp/fuzz-rc-$i"
        ) &
    done
    wait
    for i in "${!targets[@]}"; do
        cat "$tmp/fuzz-out-$i" 2>/dev/null
        if [ "$(cat "$tmp/fuzz-rc-$i" 2>/dev/null)" = 0 ]; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            failures+=("$(basename "${targets[i]}")")
        fi
    done
    if [ "$failed" -eq 0 ]; then
        record fuzz pass count "$passed,0,0" "${#targets[@]} targets"
    else
        record fuzz fail count "$passed,$failed,0" "crashed: ${failures[*]}"
    fi
}

stage_skipped() {
    stage_start=$SECONDS
    record "$1" skip none "" "WEIR_TEST_QUICK=1"
}

stage_deps
stage_format
stage_purity
meson_stage debug build/debug gcc ""
if [ "$quick" = 1 ]; then
    stage_skipped release
    stage_skipped asan
    stage_skipped fuzz
else
    stage_release
    meson_stage asan build/asan gcc \
        "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 WEIR_TEST_SANITIZED=1" \
        -Db_sanitize=address,undefined -Db_lundef=false
    stage_fuzz
fi

# The summary's last line is the run's verdict; nothing may be printed after it.
python=/usr/bin/python3
[ -x "$python" ] || python=python3
if command -v "$python" >/dev/null 2>&1; then
    "$python" tools/test-summary.py "$stages_file"
    exit $?
fi
echo
echo "==> Summary: python3 is missing, cannot count test cases"
echo "0 passed, 1 failed"
exit 1
