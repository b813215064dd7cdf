#!/usr/bin/env bash
# What `async def` handlers cost on libturbo's Python binding, in one run:
#
#   A. GET /hello from a `def` handler and from an `async def` one that
#      never suspends (bench/apps/turbo_hello.py: app, app_async), each
#      `python -m turbo --threads 1` on core 0, both up at once and measured
#      in alternation (def, async; then async, def; ...) with
#      `wrk -t1 -c50` on core 1. Target: async ≤ 1.15 × def's server CPU
#      µs/request. Also instructions per request (bench/instructions.sh,
#      callgrind: user space only, so the kernel's TCP work, the same for
#      both, is left out) for the C turbo-hello and both apps.
#   B. GET /sleep, `async def` awaiting asyncio.sleep(0.05), over
#      SLEEP_CONNS (1,000) connections: each connection can have at most
#      one request per 50 ms, so the ideal is SLEEP_CONNS / 0.05 = 20,000
#      req/s. libturbo (turbo_hello:app_async, one process, one I/O thread)
#      beside the same route on FastAPI (bench/apps/fastapi_hello.py:
#      app_async) under uvicorn (one worker, uvloop + httptools) and under
#      granian (ASGI, one worker, one runtime thread, uvloop); all three up
#      at once, measured in alternation with `wrk -t1 -c1000` on core 1.
#      Targets: libturbo ≥ 90% of the ideal, and ≥ 2 × uvicorn's CPU
#      efficiency (uvicorn's server CPU µs/request ≥ 2 × libturbo's).
#
# Method (bench/lib.sh): server CPU is utime+stime of the server's process
# and its children from /proc over a run, divided by the requests wrk
# completed; each core's busy time from /proc/stat. Every server is checked
# with curl first (200, application/json, the exact body), and every run's
# non-2xx answers and socket errors (wrk's timeouts included) are counted.
# A 2 s warm-up per server, then RUNS runs of DURATION s; the median run is
# reported (A: by CPU µs/request; B: by req/s), every run listed at the end.
# Writes $ASYNC_OUT/async-latest.md (default bench/results); BENCH_NOTE, if
# set, is printed under its title (say, "a sanity run on a shared machine").
#
# Usage: bench/async.sh [DURATION=10] [RUNS=3]   (a full run: ~4 minutes)
# Environment: SLEEP_CONNS (1000), ASYNC_OUT, BENCH_NOTE, SKIP_CALLGRIND=1, N1 and N2
# (bench/instructions.sh's request counts).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
CONNS=${SLEEP_CONNS:-1000}
OUT=${ASYNC_OUT:-bench/results}
IDEAL=$((CONNS * 20)) # one request per 50 ms per connection

scripts/install-deps.sh wrk valgrind >/dev/null
PY=$(scripts/venv.sh)
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target turbo-hello turbo_py >/dev/null
export PYTHONPATH=$PWD/build-bench/bindings/python

. bench/lib.sh
tmp=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$tmp"' EXIT
ulimit -n "$(ulimit -Hn)" # the servers and wrk inherit it
if [ "$(ulimit -n)" -lt $((CONNS + 100)) ]; then
  echo "async.sh: ulimit -n is $(ulimit -n); $CONNS connections need more (raise the hard limit)" >&2
  exit 1
fi
mkdir -p "$OUT"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
revision=$(git describe --always --dirty 2>/dev/null || echo ?) # before the report dirties the tree
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

CMDS=() # every server command line, as run (for the report)
declare -A PID

# start NAME PORT PATH COMMAND...: COMMAND on core 0, in bench/apps; waits
# for PATH and checks its answer.
start() {
  local name=$1 port=$2 path=$3
  shift 3
  CMDS+=("$name: (cd bench/apps && taskset -c 0 $*)")
  (cd bench/apps && exec taskset -c 0 "$@") >"$tmp/$name.log" 2>&1 &
  PID[$name]=$!
  BENCH_PIDS+=("$!")
  wait_up "http://127.0.0.1:$port$path"
  check_hello "$name" "http://127.0.0.1:$port$path"
}

stop() { # name: a server this script started
  local p=${PID[$1]} keep=() q
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${BENCH_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  BENCH_PIDS=("${keep[@]}")
}

# One run; appends to FILE "name rps p50 p99 us/req core0% core1% other0% non2xx sockerr".
run() { # file name conns url
  local file=$1 name=$2 conns=$3 url=$4 pid=${PID[$2]} s0 s1 b00 b01 b10 b11 t0 t1 out
  s0=$(tree_ticks "$pid") b00=$(core_busy 0) b10=$(core_busy 1) t0=$(date +%s.%N)
  out=$(taskset -c 1 wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 10s --latency "$url")
  s1=$(tree_ticks "$pid") b01=$(core_busy 0) b11=$(core_busy 1) t1=$(date +%s.%N)
  printf '# %s %s\n%s\n' "$name" "$url" "$out" >>"$tmp/wrk.log"
  echo "$out" | parse_wrk | awk -v n="$name" -v hz="$hz" -v s=$((s1 - s0)) -v c0=$((b01 - b00)) \
    -v c1=$((b11 - b10)) -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" '{
      other = c0 - s
      printf "%s %s %s %s %.2f %.0f %.0f %.1f %d %d\n", n, $2, $3, $4, s / hz * 1e6 / $1,
        100 * c0 / hz / w, 100 * c1 / hz / w, other < 0 ? 0 : 100 * other / hz / w, $5, $6 }' >>"$file"
}
warm() { taskset -c 1 wrk -t1 -c"$1" -d2s --timeout 10s "$2" >/dev/null; } # conns url

# =========================================================================
# A. def vs async def that never suspends
# =========================================================================
: >"$tmp/a"
start turbo_def 18401 /hello "$PY" -m turbo turbo_hello:app --port 18401 --threads 1
start turbo_async 18402 /hello "$PY" -m turbo turbo_hello:app_async --port 18402 --threads 1
warm 50 http://127.0.0.1:18401/hello
warm 50 http://127.0.0.1:18402/hello
for r in $(seq 1 "$RUNS"); do
  if [ $((r % 2)) = 1 ]; then order=(def async); else order=(async def); fi
  for k in "${order[@]}"; do
    port=$([ "$k" = def ] && echo 18401 || echo 18402)
    run "$tmp/a" "turbo_$k" 50 "http://127.0.0.1:$port/hello"
  done
done
stop turbo_def

ir_note=
if [ "${SKIP_CALLGRIND:-0}" = 1 ]; then
  ir_note="skipped (SKIP_CALLGRIND=1)"
else
  TURBO_PYTHON=$PY TURBO_PYTHONPATH=build-bench/bindings/python \
    bench/instructions.sh build-bench/turbo-hello turbo_hello:app turbo_hello:app_async >"$tmp/ir"
fi

# =========================================================================
# B. async def awaiting asyncio.sleep(0.05), CONNS connections
# =========================================================================
: >"$tmp/b"
start uvicorn 18403 /sleep "$PY" -m uvicorn fastapi_hello:app_async --host 127.0.0.1 --port 18403 \
  --workers 1 --loop uvloop --http httptools --log-level warning --no-access-log
start granian 18404 /sleep "$(dirname "$PY")/granian" --interface asgi --host 127.0.0.1 --port 18404 \
  --workers 1 --runtime-threads 1 --loop uvloop --http 1 --no-ws --log-level warning --no-access-log \
  fastapi_hello:app_async
check_hello turbo_async http://127.0.0.1:18402/sleep
declare -A SPORT=([turbo_async]=18402 [uvicorn]=18403 [granian]=18404)
for s in turbo_async uvicorn granian; do warm "$CONNS" "http://127.0.0.1:${SPORT[$s]}/sleep"; done
for r in $(seq 1 "$RUNS"); do
  for s in turbo_async uvicorn granian; do
    run "$tmp/b" "$s" "$CONNS" "http://127.0.0.1:${SPORT[$s]}/sleep"
  done
done
for s in turbo_async uvicorn granian; do stop "$s"; done

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# =========================================================================
# Report
# =========================================================================
# The median run of a server, by a column (5: CPU µs/request; 2: req/s).
median() { awk -v s="$2" '$1 == s' "$1" | sort -k"$3" -g | awk -v r="$RUNS" 'NR == int((r + 1) / 2)'; }
col() { median "$1" "$2" "$3" | awk -v c="$4" '{print $c}'; } # file name sort-column column
pyver() { "$PY" -c "import $1; print($1.__version__)"; }
declare -A label=([turbo_def]="libturbo, \`def hello\`" [turbo_async]="libturbo, \`async def\`"
  [uvicorn]="FastAPI, uvicorn (uvloop, httptools)" [granian]="FastAPI, granian (ASGI, uvloop)")
row() { # file name sort-column [ideal]
  median "$1" "$2" "$3" | awk -v l="${label[$2]}" -v i="${4:-0}" '{
    printf "| %s | %.0f |", l, $2
    if (i > 0) printf " %.1f%% |", 100 * $2 / i
    printf " %s | %s | %s | %s%% | %s%% | %s%% | %s | %s |\n", $3, $4, $5, $6, $7, $8, $9, $10 }'
}
{
  echo "# \`async def\` on libturbo: the inline cost, and 1,000 sleeping requests beside uvicorn and granian"
  echo
  [ -z "${BENCH_NOTE:-}" ] || { echo "**$BENCH_NOTE**"; echo; }
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r); Debian $(cat /etc/debian_version)."
  echo "Run: $started, \`bench/async.sh $DURATION $RUNS\` ($RUNS runs of ${DURATION}s per server after a 2 s warm-up, servers measured in alternation). Load average (1/5/15 min) at start: $load_start, at the end: $load_end."
  busy=$(cat "$tmp/a" "$tmp/b" | awk '$8 > 5' | wc -l)
  if [ "$busy" -gt 0 ]; then
    echo
    echo "**Contention:** in $busy of $(cat "$tmp/a" "$tmp/b" | wc -l) runs, other work took more than 5% of the server's core (\"other load on core 0\", every run at the end): those runs' figures are pessimistic."
  fi
  echo
  echo "Versions: libturbo $revision, $("$PY" --version), FastAPI $(pyver fastapi), Starlette $(pyver starlette), uvicorn $(pyver uvicorn), uvloop $(pyver uvloop), httptools $(pyver httptools), granian $(pyver granian), $(wrk -v 2>&1 | head -n1 | awk '{print "wrk", $2}'), $(valgrind --version)."
  echo
  echo "Server on core 0 (\`taskset -c 0\`), \`taskset -c 1 wrk -t1 --timeout 10s --latency\` on core 1. Server CPU = utime+stime of the server's processes (/proc) / requests. Core busy = each core's busy time (/proc/stat) over the run's wall time; other load on core 0 = busy time there not spent by the server under test (idle peers included)."
  echo
  echo "## A. \`def hello\` vs \`async def hello\` that never suspends, 50 connections"
  echo
  echo "Median run by CPU µs/request."
  echo
  echo "| handler | req/s | p50 | p99 | server CPU µs/req | core 0 busy | core 1 busy (wrk) | other load on core 0 | non-2xx | socket errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  row "$tmp/a" turbo_def 5
  row "$tmp/a" turbo_async 5
  echo
  # Ratios per pair of back-to-back runs, and of the medians.
  paste <(awk '$1 == "turbo_def" {print $5}' "$tmp/a") <(awk '$1 == "turbo_async" {print $5}' "$tmp/a") |
    awk '{printf "%.3f\n", $2 / $1}' | sort -g >"$tmp/pairs"
  awk -v d="$(col "$tmp/a" turbo_def 5 5)" -v a="$(col "$tmp/a" turbo_async 5 5)" \
    -v p="$(paste -sd' ' "$tmp/pairs")" 'BEGIN {
      r = a / d
      printf "**async / def, server CPU µs/request: %.3f ×** (medians; run by run, each async run over the def run beside it: %s). Target ≤ 1.15 ×: **%s**.\n",
        r, p, (r <= 1.15) ? "met" : "not met" }'
  echo
  echo "When core 1 (wrk) is ~100% busy, req/s here is the load generator's ceiling, not the server's: compare CPU µs/request."
  echo
  echo "### Instructions per request (callgrind)"
  echo
  if [ -n "$ir_note" ]; then
    echo "$ir_note"
  else
    echo "\`bench/instructions.sh\`: user-space instructions of the server process (all threads) per keep-alive GET /hello on one connection, (Ir(${N2:-12000}) − Ir(${N1:-2000})) / $((${N2:-12000} - ${N1:-2000})); the kernel's work is not counted."
    echo
    echo "| server | Ir/request |"
    echo "|---|---:|"
    awk 'NR > 1 {printf "| `%s` | %.0f |\n", $1, $2}' "$tmp/ir"
    awk 'NR > 1 {ir[$1] = $2} END {d = ir["turbo_hello:app"]; a = ir["turbo_hello:app_async"]
      printf "\nasync / def: %.2f × the instructions (+%.0f per request).\n", a / d, a - d }' "$tmp/ir"
  fi
  echo
  echo "## B. \`async def\` awaiting \`asyncio.sleep(0.05)\`, $CONNS connections (ideal: $IDEAL req/s)"
  echo
  echo "One process, one I/O thread / worker each. Median run by req/s."
  echo
  echo "| server | req/s | % of ideal | p50 | p99 | server CPU µs/req | core 0 busy | core 1 busy (wrk) | other load on core 0 | non-2xx | socket errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in turbo_async uvicorn granian; do row "$tmp/b" "$s" 2 "$IDEAL"; done
  echo
  t_rps=$(col "$tmp/b" turbo_async 2 2) t_us=$(col "$tmp/b" turbo_async 2 5)
  u_us=$(col "$tmp/b" uvicorn 2 5) g_us=$(col "$tmp/b" granian 2 5)
  awk -v r="$t_rps" -v i="$IDEAL" -v t="$t_us" -v u="$u_us" -v g="$g_us" 'BEGIN {
    printf "| target | measured | verdict |\n|---|---:|---|\n"
    printf "| libturbo ≥ 90%% of the ideal %d req/s | %.1f%% | **%s** |\n", i, 100 * r / i, (r >= 0.9 * i) ? "met" : "not met"
    printf "| CPU efficiency ≥ 2 × uvicorn (uvicorn µs/req ÷ libturbo µs/req) | %.2f × | **%s** |\n", u / t, (u >= 2 * t) ? "met" : "not met"
    printf "| (for reference) granian µs/req ÷ libturbo µs/req | %.2f × | |\n", g / t }'
  echo
  echo "Reading it: in B every server is bound by the sleep, not by its core, as long as its core 0 busy stays well below 100%; then req/s says how close it keeps to one answer per 50 ms per connection (p50 − 50 ms is its added latency), and CPU µs/request what each request cost it. The ideal is a bound no server reaches: every round trip adds to the 50 ms."
  echo
  echo "## Commands"
  echo
  echo '```'
  echo "bench/async.sh $DURATION $RUNS"
  echo "export PYTHONPATH=build-bench/bindings/python"
  for c in "${CMDS[@]}"; do echo "$c"; done
  echo "# A: taskset -c 1 wrk -t1 -c50 -d2s URL (warm-up), then $RUNS x taskset -c 1 wrk -t1 -c50 -d${DURATION}s --timeout 10s --latency URL"
  echo "#    URLs: http://127.0.0.1:18401/hello (def), http://127.0.0.1:18402/hello (async def)"
  [ -n "$ir_note" ] || echo "TURBO_PYTHON=$PY TURBO_PYTHONPATH=build-bench/bindings/python bench/instructions.sh build-bench/turbo-hello turbo_hello:app turbo_hello:app_async"
  echo "# B: taskset -c 1 wrk -t1 -c$CONNS -d2s URL (warm-up), then $RUNS x taskset -c 1 wrk -t1 -c$CONNS -d${DURATION}s --timeout 10s --latency URL"
  echo "#    URLs: http://127.0.0.1:{18402,18403,18404}/sleep (libturbo, uvicorn, granian)"
  echo '```'
  echo
  echo "## Every run"
  echo
  echo '```'
  echo "# server req/s p50 p99 server_us/req core0% core1% other_core0% non2xx socket_errors"
  cat "$tmp/a" "$tmp/b"
  echo '```'
} >"$OUT/async-latest.md"
cat "$OUT/async-latest.md"
