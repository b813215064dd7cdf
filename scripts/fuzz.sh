#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang into build-fuzz and
# runs each for SECONDS_PER_TARGET seconds (default 30) on a temporary copy
# of its committed seed corpus. Exits nonzero on any crash, leak, timeout
# or out-of-memory. See docs/fuzzing.md.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
#
# Environment:
#   FUZZ_TARGETS   targets to run (default: all of them)
#   FUZZ_JOBS      how many targets run at once (default 1)
#   FUZZ_KEEP      directory to keep each target's grown corpus, crash
#                  files and log in (default: a temporary one, removed)
#   FUZZ_ARGS      extra libFuzzer flags
set -euo pipefail

SECONDS_PER_TARGET=${1:-30}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$ROOT/build-fuzz
TARGETS=${FUZZ_TARGETS:-"fuzz_request fuzz_chunked fuzz_router fuzz_alog fuzz_ws fuzz_proxy fuzz_forwarded"}
JOBS=${FUZZ_JOBS:-1}

if ! [[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || [ "$SECONDS_PER_TARGET" -lt 1 ]; then
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
fi

CC=clang cmake -S "$ROOT" -B "$BUILD" -DTURBO_FUZZ=ON -DTURBO_BUILD_PYTHON=OFF \
    -DBUILD_TESTING=OFF -DTURBO_BUILD_EXAMPLES=OFF -DTURBO_BUILD_BENCH=OFF \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# shellcheck disable=SC2086
cmake --build "$BUILD" -j"$(nproc)" --target $TARGETS

if [ -n "${FUZZ_KEEP:-}" ]; then
    WORK=$FUZZ_KEEP
    mkdir -p "$WORK"
else
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/turbo-fuzz.XXXXXX")
    trap 'rm -rf "$WORK"' EXIT
fi

run_target() {
    local t=$1 dir=$WORK/$1
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp "$ROOT/tests/fuzz/corpus/$t/"* "$dir/corpus/"
    # fuzz_request feeds each input four times, byte by byte at worst, into
    # exact-size buffers (quadratic): shorter inputs keep it fast; small
    # limits (chosen by the input) still reach every limit path.
    local max_len=4096
    [ "$t" = fuzz_request ] && max_len=1024
    # -timeout: one input taking this long is a hang; -rss_limit_mb: OOM.
    # shellcheck disable=SC2086
    "$BUILD/tests/fuzz/$t" "$dir/corpus" \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 \
        -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
        -artifact_prefix="$dir/artifacts/" ${FUZZ_ARGS:-} >"$dir/log" 2>&1
}

pids=()
names=()
status=0
wait_one() {
    local pid=${pids[0]} name=${names[0]}
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
    if wait "$pid"; then
        echo "== $name: ok"
    else
        echo "== $name: FAILED (libFuzzer exit $?)"
        status=1
    fi
    { grep -E '^#[0-9]+[[:space:]].*cov:' "$WORK/$name/log" | tail -n 1; grep -E '^stat::' "$WORK/$name/log"; } |
        sed 's/^/   /' || true
    if [ "$(ls -A "$WORK/$name/artifacts")" ]; then
        status=1
        echo "   artifacts:"
        ls "$WORK/$name/artifacts" | sed "s|^|     $WORK/$name/artifacts/|"
        grep -E 'ERROR|SUMMARY' "$WORK/$name/log" | head -5 | sed 's/^/   /'
        [ -z "${FUZZ_KEEP:-}" ] && {
            mkdir -p "$ROOT/build-fuzz/crashes/$name"
            cp "$WORK/$name/artifacts/"* "$ROOT/build-fuzz/crashes/$name/"
            echo "   copied to build-fuzz/crashes/$name/"
        }
    fi
    echo "   corpus: $(ls "$WORK/$name/corpus" | wc -l) files"
}

for t in $TARGETS; do
    echo "== $t: ${SECONDS_PER_TARGET}s"
    run_target "$t" &
    pids+=("$!")
    names+=("$t")
    if [ "${#pids[@]}" -ge "$JOBS" ]; then
        wait_one
    fi
done
while [ "${#pids[@]}" -gt 0 ]; do
    wait_one
done
exit $status
