#!/usr/bin/env bash
# The FastAPI surface's cost (issue 15): one FastAPI app file,
# bench/apps/fastapi_surface.py, served by FastAPI + uvicorn and by turbo
# (the same file, its import line switched by BENCH_SERVER=turbo), for
#
#   POST /items       a 10-field pydantic body, validated, echoed through
#                     response_model (async def; /items_sync: def)
#   GET  /me          two Depends (one nested in the other) and two
#                     Header parameters (async def; /me_sync: def)
#
# Reported per route and server: req/s, server CPU µs/request (the median
# of RUNS runs) and instructions per request (callgrind), with FastAPI ÷
# turbo ratios. The issue's target: turbo ≥ 8 × less CPU than FastAPI
# `async def` on the same app.
#
# usage: bench/fastapi.sh [DURATION [RUNS]]     (default 10 s, 3 runs)
# Environment: SKIP_CALLGRIND=1 leaves the instruction counts out;
# FASTAPI_OUT (default bench/results) gets fastapi-latest.md.
#
# Method (bench/lib.sh): each server alone on core 0 (taskset; turbo with
# one I/O thread, uvicorn one worker with uvloop and httptools), `wrk -t1
# -c50` on core 1; both servers' answers are first checked to be the same
# bytes. Server CPU = utime+stime of the server's processes (/proc) over a
# run / requests wrk completed; runs alternate between the servers.
# Instructions: the server under callgrind answers N1 and then N2
# keep-alive requests on one connection (bench/fastapi_client.py, every
# answer checked); (Ir(N2) - Ir(N1)) / (N2 - N1) leaves start-up out.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
N1=${N1:-300}
N2=${N2:-1300}
OUT=${FASTAPI_OUT:-bench/results}
ROUTES=(items items_sync me me_sync)

scripts/install-deps.sh wrk valgrind >/dev/null
PY=$(scripts/venv.sh)
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
  -DTURBO_PYTHON="$("$PY" -c 'import sys; print(sys._base_executable)')" >/dev/null
cmake --build build-bench -j"$(nproc)" --target turbo_py >/dev/null
export PYTHONPATH=$PWD/build-bench/bindings/python

. bench/lib.sh
tmp=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$tmp"' EXIT
mkdir -p "$OUT"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
revision=$(git describe --always --dirty 2>/dev/null || echo ?)
for r in "${ROUTES[@]}"; do /usr/bin/python3 bench/fastapi_client.py --lua "$r" >"$tmp/$r.lua"; done

declare -A PID PORT=([turbo]=18511 [fastapi]=18512)
cmd_of() { # server: CMD, the command line serving the app on its port
  if [ "$1" = turbo ]; then
    CMD=(env BENCH_SERVER=turbo "$PY" -m turbo fastapi_surface:app --port "${PORT[$1]}" --threads 1)
  else
    CMD=("$PY" -m uvicorn fastapi_surface:app --host 127.0.0.1 --port "${PORT[$1]}" --workers 1
      --loop uvloop --http httptools --log-level warning --no-access-log)
  fi
}
CMDS=("turbo: (cd bench/apps && BENCH_SERVER=turbo taskset -c 0 $PY -m turbo fastapi_surface:app --port 18511 --threads 1)"
  "fastapi: (cd bench/apps && taskset -c 0 $PY -m uvicorn fastapi_surface:app --host 127.0.0.1 --port 18512 --workers 1 --loop uvloop --http httptools --log-level warning --no-access-log)")

for s in turbo fastapi; do
  cmd_of "$s"
  (cd bench/apps && exec taskset -c 0 "${CMD[@]}") >"$tmp/$s.log" 2>&1 &
  PID[$s]=$!
  BENCH_PIDS+=("$!")
done
for s in turbo fastapi; do
  for _ in $(seq 1 200); do
    curl -s -o /dev/null "http://127.0.0.1:${PORT[$s]}/" && break
    sleep 0.05
  done
  for r in "${ROUTES[@]}"; do # every answer checked (200, the exact body)
    /usr/bin/python3 bench/fastapi_client.py "${PORT[$s]}" 3 "$r" ||
      { echo "fastapi.sh: $s answers $r wrongly" >&2; cat "$tmp/$s.log" >&2; exit 1; }
  done
done

: >"$tmp/runs"
for r in "${ROUTES[@]}"; do
  for s in turbo fastapi; do
    taskset -c 1 wrk -t1 -c50 -d2s -s "$tmp/$r.lua" "http://127.0.0.1:${PORT[$s]}" >/dev/null
  done
  for k in $(seq 1 "$RUNS"); do
    if [ $((k % 2)) = 1 ]; then order=(turbo fastapi); else order=(fastapi turbo); fi
    for s in "${order[@]}"; do
      t0=$(tree_ticks "${PID[$s]}")
      out=$(taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --latency -s "$tmp/$r.lua" "http://127.0.0.1:${PORT[$s]}")
      t1=$(tree_ticks "${PID[$s]}")
      echo "$out" | parse_wrk | awk -v s="$s" -v r="$r" -v hz="$hz" -v t=$((t1 - t0)) \
        '{ if ($5 + $6 > 0) { print "non-2xx or socket errors: " $0 > "/dev/stderr"; exit 1 }
           printf "%s %s %s %.2f %s %s\n", r, s, $2, t / hz * 1e6 / $1, $3, $4 }' >>"$tmp/runs"
    done
  done
done
bench_cleanup
BENCH_PIDS=()

# Instructions per request.
: >"$tmp/ir"
ir() { # server route n -> total Ir
  local s=$1 r=$2 n=$3 pid out
  cmd_of "$s"
  # BENCH_SERVER set for valgrind itself: through env(1) it would count env.
  if [ "$s" = turbo ]; then
    (cd bench/apps && export BENCH_SERVER=turbo && exec valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "${CMD[@]:2}") >"$tmp/cg.log" 2>&1 &
  else
    (cd bench/apps && exec valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "${CMD[@]}") >"$tmp/cg.log" 2>&1 &
  fi
  pid=$!
  /usr/bin/python3 bench/fastapi_client.py "${PORT[$s]}" "$n" "$r" ||
    { cat "$tmp/cg.log" >&2; kill -TERM "$pid"; wait "$pid" || true; exit 1; }
  kill -TERM "$pid"
  wait "$pid" || true
  out=$(ls "$tmp"/cg.[0-9]* | head -1)
  awk '/^summary:/ {print $2}' "$out"
  rm -f "$tmp"/cg.*
}
if [ "${SKIP_CALLGRIND:-0}" != 1 ]; then
  for r in "${ROUTES[@]}"; do
    for s in turbo fastapi; do
      a=$(ir "$s" "$r" "$N1")
      b=$(ir "$s" "$r" "$N2")
      echo "$r $s $(( (b - a) / (N2 - N1) ))" >>"$tmp/ir"
    done
  done
fi

# Report: the median run by CPU µs/request.
med() { awk -v r="$1" -v s="$2" '$1 == r && $2 == s' "$tmp/runs" | sort -k4 -g | awk -v n="$RUNS" 'NR == int((n + 1) / 2)'; }
irof() { awk -v r="$1" -v s="$2" '$1 == r && $2 == s {print $3}' "$tmp/ir"; }
pyver() { "$PY" -c "import $1; print($1.__version__)"; }
{
  echo "# The FastAPI surface: turbo vs FastAPI + uvicorn, one app file"
  echo
  [ -z "${BENCH_NOTE:-}" ] || { echo "**$BENCH_NOTE**"; echo; }
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r)."
  echo "Run: $started, \`bench/fastapi.sh $DURATION $RUNS\` (libturbo $revision). Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Versions: $("$PY" --version), FastAPI $(pyver fastapi), pydantic $(pyver pydantic), uvicorn $(pyver uvicorn), uvloop $(pyver uvloop), $(wrk -v 2>&1 | head -n1 | awk '{print "wrk", $2}'), $(valgrind --version)."
  echo
  echo "App: [bench/apps/fastapi_surface.py](apps/fastapi_surface.py). \`/items\`: POST of a 10-field pydantic model, echoed through \`response_model\`; \`/me\`: two \`Depends\` (one nested) and two \`Header\` parameters. \`_sync\`: the same as \`def\`."
  echo
  echo "| route | server | req/s | server CPU µs/req | p50 | p99 | Ir/request | FastAPI ÷ turbo, CPU | FastAPI ÷ turbo, Ir |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
  for r in "${ROUTES[@]}"; do
    for s in turbo fastapi; do
      med "$r" "$s" | awk -v l="$([ "$s" = turbo ] && echo turbo || echo 'FastAPI + uvicorn')" \
        -v ir="$(irof "$r" "$s")" -v fu="$(med "$r" fastapi | awk '{print $4}')" \
        -v fi="$(irof "$r" fastapi)" -v s="$s" '{
          ratio = (s == "turbo") ? sprintf("%.1f ×", fu / $4) : ""
          iratio = (s == "turbo" && ir != "" && fi != "") ? sprintf("%.1f ×", fi / ir) : ""
          printf "| `/%s` | %s | %.0f | %.2f | %s | %s | %s | %s | %s |\n", $1, l, $3, $4, $5, $6, (ir == "" ? "-" : ir), ratio, iratio }'
    done
  done
  echo
  for r in items me; do
    awk -v r="$r" -v t="$(med "$r" turbo | awk '{print $4}')" -v f="$(med "$r" fastapi | awk '{print $4}')" \
      -v ti="$(irof "$r" turbo)" -v fi="$(irof "$r" fastapi)" 'BEGIN {
        printf "- `/%s`, `async def` on both: FastAPI uses %.1f × the CPU per request of turbo", r, f / t
        if (ti != "" && fi != "") printf " (%.1f × the instructions)", fi / ti
        printf ". Target ≥ 8 ×: **%s**.\n", (f >= 8 * t) ? "met" : "not met" }'
  done
  echo
  echo "Near 100% of wrk's core, req/s is the load generator's ceiling: compare CPU µs/request and instructions. The instruction counts are user-space only (callgrind), one connection; CPU µs/request includes the kernel's work for 50 connections."
  echo
  echo "## Commands"
  echo
  echo '```'
  echo "bench/fastapi.sh $DURATION $RUNS"
  echo "export PYTHONPATH=build-bench/bindings/python"
  for c in "${CMDS[@]}"; do echo "$c"; done
  echo "# per route: wrk -t1 -c50 -d2s (warm-up), then $RUNS x taskset -c 1 wrk -t1 -c50 -d${DURATION}s --latency -s ROUTE.lua http://127.0.0.1:PORT"
  echo "#   ROUTE.lua: python3 bench/fastapi_client.py --lua ROUTE"
  echo "# Ir: the same server under valgrind --tool=callgrind, python3 bench/fastapi_client.py PORT N ROUTE for N = $N1 and $N2"
  echo '```'
  echo
  echo "## Every run"
  echo
  echo '```'
  echo "# route server req/s server_us/req p50 p99"
  cat "$tmp/runs"
  echo '```'
} >"$OUT/fastapi-latest.md"
cat "$OUT/fastapi-latest.md"
