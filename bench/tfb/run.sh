#!/usr/bin/env bash
# The TechEmpower tests measured: server CPU µs/request at saturation, with
# req/s and wrk's latency percentiles beside it, for our two servers (c,
# python) and the FastAPI peers (uvicorn, granian), same PostgreSQL, same
# client, same run. Writes $TFB_OUT/tfb-latest.md (default bench/results).
#
# usage: bench/tfb/run.sh [TEST...]
#   TEST: plaintext json db queries fortunes updates (default: all six);
#   queries and updates are measured at queries=20.
# Environment: DURATION (s per run, default 10), RUNS (default 3; the median
# run by server CPU µs/request is reported), CONNS (wrk connections for the
# database tests, default 256; plaintext and json use 256 too), SERVERS
# (default "c python fastapi granian"), BUILD (a build directory with
# turbo-techempower-pg and the binding; default: a Release build in
# build-bench, made here), PG_CORE (default 1), TFB_OUT, BENCH_NOTE.
#
# Method (bench/lib.sh): each server alone on core 0 (taskset, one I/O
# thread or one worker), `wrk -t1` on core 1, PostgreSQL pinned to core
# $PG_CORE (its backends inherit the postmaster's affinity). Server CPU =
# utime+stime of the server's process tree from /proc over the run, divided
# by the requests wrk completed. plaintext is pipelined 16 deep
# (bench/pipeline.lua). Every server is first held to TechEmpower's rules by
# bench/tfb/verify.py; one that fails is reported as such and not measured.
# Latency here is wrk's closed-loop latency: it suffers coordinated
# omission and is not the open-loop latency-vs-rate the issue asks for.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
CONNS=${CONNS:-256}
PG_CORE=${PG_CORE:-1}
OUT=${TFB_OUT:-bench/results}
read -r -a SERVERS <<<"${SERVERS:-c python fastapi granian}"
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(plaintext json db queries fortunes updates)
for t in "${TESTS[@]}"; do
  case $t in plaintext | json | db | queries | fortunes | updates) ;;
  *) echo "tfb/run.sh: unknown test '$t' (plaintext json db queries fortunes updates)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh wrk postgresql libpq-dev >/dev/null
if [ -z "${PY:-}" ]; then PY=$(scripts/venv.sh); fi
export PY
if [ -z "${BUILD:-}" ]; then
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DTURBO_PYTHON="$("$PY" -c 'import sys; print(sys.executable)')" >/dev/null
  cmake --build build-bench -j"$(nproc)" --target turbo-techempower-pg turbo_py >/dev/null
  BUILD=$root/build-bench
fi
export BUILD

. bench/lib.sh
tmp=$(mktemp -d)
export TFB_STATE=$tmp/db-state
cleanup() {
  bench_cleanup
  bench/tfb/db.sh stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

url=$(bench/tfb/db.sh start)
pgdir=$(cat "$TFB_STATE")
postmaster=$(head -n1 "$pgdir/data/postmaster.pid")
for p in $postmaster $(pgrep -P "$postmaster" || true); do taskset -a -c -p "$PG_CORE" "$p" >/dev/null; done

path_of() { # test -> the path measured
  case $1 in
  queries | updates) echo "/$1?queries=20" ;;
  *) echo "/$1" ;;
  esac
}

# One line per run: "server test rps p50 p99 server_us non2xx sockerr"
measure_one() { # server pid url test
  local name=$1 pid=$2 url=$3 test=$4 r script=()
  [ "$test" = plaintext ] && script=(-s bench/pipeline.lua)
  taskset -c 1 wrk -t1 -c"$CONNS" -d2s --timeout 10s "${script[@]}" "$url" >/dev/null # warm-up
  for r in $(seq 1 "$RUNS"); do
    local s0 s1 out
    s0=$(tree_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "${script[@]}" "$url")
    s1=$(tree_ticks "$pid")
    echo "$out" >>"$tmp/wrk.log"
    echo "$out" | parse_wrk | awk -v n="$name" -v t="$test" -v hz="$hz" -v s=$((s1 - s0)) \
      '{ printf "%s %s %s %s %s %.1f %d %d\n", n, t, $2, $3, $4, s / hz * 1e6 / $1, $5, $6 }'
  done
}

: >"$tmp/runs"
: >"$tmp/status"
port=18500
for s in "${SERVERS[@]}"; do
  port=$((port + 1))
  DB_POOL_SIZE=${DB_POOL_SIZE:-32} taskset -c 0 bench/tfb/serve "$s" --port "$port" --db "$url" \
    >"$tmp/$s.log" 2>&1 &
  pid=$!
  BENCH_PIDS+=("$pid")
  if ! wait_up "http://127.0.0.1:$port/json"; then
    echo "$s did not start: $(tail -n 3 "$tmp/$s.log" | tr '\n' ' ')" >>"$tmp/status"
    continue
  fi
  if ! "$PY" bench/tfb/verify.py "http://127.0.0.1:$port" --db "$url" \
    --tests "$(IFS=,; echo "${TESTS[*]}")" >"$tmp/$s.verify" 2>&1; then
    echo "$s failed verification (not measured): $(grep FAIL "$tmp/$s.verify" | tr '\n' ' ')" >>"$tmp/status"
    kill "$pid"
    continue
  fi
  echo "$s passed bench/tfb/verify.py" >>"$tmp/status"
  for t in "${TESTS[@]}"; do
    measure_one "$s" "$pid" "http://127.0.0.1:$port$(path_of "$t")" "$t" >>"$tmp/runs"
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done

mkdir -p "$OUT"
{
  echo "# TechEmpower tests: server CPU per request (bench/tfb/run.sh)"
  echo
  [ -z "${BENCH_NOTE:-}" ] || { echo "$BENCH_NOTE"; echo; }
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
  echo "Server on core 0 (one I/O thread / one worker), \`taskset -c 1 wrk -t1 -c$CONNS --timeout 10s --latency\` on core 1, PostgreSQL on core $PG_CORE;"
  echo "$RUNS runs of ${DURATION} s after a 2 s warm-up, the median run by server CPU µs/request shown. plaintext pipelined ×16; queries and updates at queries=20."
  echo "Server CPU µs/req = utime+stime of the server's processes (/proc) / requests completed: the column to compare on 2 shared cores."
  echo "p50/p99 are wrk's closed-loop latencies at saturation (coordinated omission not corrected): not the latency-vs-rate curve; none for plaintext, whose pipelined requests wrk does not time."
  echo
  echo "| server | test | req/s | server CPU µs/req | p50 | p99 | non-2xx | socket errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|"
  for s in "${SERVERS[@]}"; do
    for t in "${TESTS[@]}"; do
      grep "^$s $t " "$tmp/runs" | sort -k6 -g | awk -v r="$RUNS" \
        'NR == int((r + 1) / 2) {
          if ($2 == "plaintext") $4 = $5 = "—"  # wrk does not time pipelined requests (it prints 0)
          printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $6, $4, $5, $7, $8}'
    done
  done
  echo
  echo "Servers:"
  sed 's/^/- /' "$tmp/status"
  echo
  echo "Every run (server test req/s p50 p99 server-µs/req non-2xx socket-errors):"
  echo
  sed 's/^/    /' "$tmp/runs"
} >"$OUT/tfb-latest.md"
cat "$OUT/tfb-latest.md"
