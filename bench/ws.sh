#!/usr/bin/env bash
# WebSocket echo and Server-Sent Events fan-out: messages (events) per
# second and server CPU µs per message (event), libturbo beside the usual
# servers, in one run (issue 17).
#
#   Echo: WS_CONNS WebSocket connections (default 100), each keeping
#   WS_INFLIGHT text messages of 32 bytes in flight (default 4): every echo
#   that comes back, checked byte for byte, sends the next. Servers: the
#   libturbo C server (bench/ws_server.c, one I/O thread), libturbo's
#   Python binding (bench/apps/ws_turbo.py, `@app.websocket`, python -m
#   turbo --threads 1), uvicorn (bench/apps/ws_fastapi.py, FastAPI, uvloop,
#   one worker; its two WebSocket implementations on the `websockets`
#   package: --ws websockets and --ws websockets-sansio), granian ASGI (the
#   same app, one worker, one runtime thread, uvloop), Node's `ws`
#   (tests/clients/ws_node/ws_echo_server.js) and socketify (its own API,
#   bench/apps/ws_socketify.py).
#
#   SSE fan-out: SSE_K subscribers (default 1000) hold GET /sse open; one
#   more connection POSTs /publish, one at a time, while fewer than 4
#   events per subscriber are on their way; each publish sends one event
#   (46 bytes: "data: <32 bytes>\n\n") to every subscriber. A delivered
#   event is one event read by one subscriber. Servers: libturbo C
#   (turbo_deferred_write), libturbo Python (EventSourceResponse; and a
#   plain StreamingResponse, as the peers use), uvicorn + FastAPI
#   (StreamingResponse) and granian + FastAPI.
#
#   WebSocket broadcast: the same with WS_FAN_K WebSocket subscribers
#   (default 10,000, as tests/test_ws_scale.c) on GET /ws/sub; each publish
#   sends the event's 32 bytes as a text message to every one of them
#   (libturbo C: a job per I/O thread through turbo_loop_post). Servers:
#   libturbo C and Python, uvicorn (websockets-sansio) and granian, with
#   FastAPI.
#
# Method: each server in turn is started pinned to core 0 (taskset -c 0),
# and bench/ws_load.c (one epoll thread, masked client frames per RFC 6455)
# runs pinned to core 1: RUNS runs, each with a fresh set of connections,
# 1 s of warm-up and DURATION s measured. Server CPU is utime+stime
# (/proc/PID/stat) of the server process and its children over the
# measured interval, divided by the messages (events) received in it;
# client CPU is ws_load's own (getrusage) over the same interval: a row
# whose client is near 100 % was limited by the client, not the server.
# Medians of each column over the runs; every run is listed at the end.
#
# Installs what it needs: node and npm, libuv1 (socketify's native
# library) via scripts/install-deps.sh; .venv (scripts/venv.sh: FastAPI,
# uvicorn, websockets, granian); build-bench/bench-venv from
# bench/requirements-bench.txt (socketify); Node's `ws` into
# build-bench/clients/ws_node (npm ci, pinned by its lock file). A peer
# that cannot be installed or started gets a row saying why.
# Writes $WS_OUT/ws-latest.md (default bench/results).
#
# Usage: bench/ws.sh [DURATION=10] [RUNS=3]   (a full run: about 11 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
CONNS=${WS_CONNS:-100}
INFLIGHT=${WS_INFLIGHT:-4}
SIZE=32
K=${SSE_K:-1000}
FAN_K=${WS_FAN_K:-10000}
WINDOW=4
OUT=${WS_OUT:-bench/results}

ulimit -n "$(ulimit -Hn)" # 10,000 connections: every server and ws_load inherit it
[ "$(ulimit -n)" = unlimited ] || [ "$(ulimit -n)" -ge $((FAN_K + 100)) ] ||
  { echo "ws.sh: RLIMIT_NOFILE's hard limit $(ulimit -Hn) is below WS_FAN_K=$FAN_K + 100" >&2; exit 1; }
scripts/install-deps.sh libuv1 >/dev/null
PY=$(scripts/venv.sh)
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j2 --target turbo_py ws-server ws_load >/dev/null
export PYTHONPATH=$PWD/build-bench/bindings/python
. bench/lib.sh
tests/clients/ws_node/install.sh build-bench/clients/ws_node >/dev/null
LOAD=$PWD/build-bench/bench/ws_load
GRANIAN=$(dirname "$PY")/granian

tmp=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$tmp"' EXIT
mkdir -p "$OUT"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
revision=$(git describe --always --dirty 2>/dev/null || echo ?)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -A CMD NOTE

# socketify: from bench/requirements-bench.txt; a failure is reported.
if BPY=$(bench_venv 2>"$tmp/bench-venv.log") && "$BPY" -c 'import socketify' 2>>"$tmp/bench-venv.log"; then
  :
else
  NOTE[socketify]="did not install: $(tail -1 "$tmp/bench-venv.log")"
  BPY=
fi

# pid and its descendants, comma-separated (granian's worker is a child).
tree_pids() {
  local out=$1 p
  for p in $(pgrep -P "$1" || true); do out="$out,$(tree_pids "$p")"; done
  echo "$out"
}

# start NAME PORT COMMAND...: COMMAND on core 0 in bench/apps, waits until
# PORT accepts; sets $pid (empty, with a note, when it did not come up).
start() {
  local name=$1 port=$2
  shift 2
  CMD[$name]="(cd bench/apps && taskset -c 0 $*)"
  (cd bench/apps && exec taskset -c 0 "$@") >"$tmp/$name.log" 2>&1 &
  pid=$!
  BENCH_PIDS+=("$pid")
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      sleep 0.5 # workers of a supervisor: up once the port is
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  NOTE[$name]="did not start: $(tail -1 "$tmp/$name.log")"
  pid=
}

stop() {
  local p=$1 keep=() q
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${BENCH_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  BENCH_PIDS=("${keep[@]}")
}

# measure NAME MODE ARGS...: RUNS runs of ws_load against $pid; appends
# "name rate us_per client_pct" per run to $tmp/MODE.
measure() {
  local name=$1 mode=$2 r out
  shift 2
  for r in $(seq 1 "$RUNS"); do
    if ! out=$(taskset -c 1 "$LOAD" "$mode" "$@" 1 "$DURATION" "$(tree_pids "$pid")" 2>"$tmp/load.err"); then
      NOTE[$name]="failed: $(head -1 "$tmp/load.err")"
      return 0
    fi
    echo "$out" | tr ' ' '\n' | awk -F= -v n="$name" '{v[$1] = $2}
      END {printf "%s %s %s %s\n", n, v["rate"], v["server_us_per"], v["client_cpu_pct"]}' >>"$tmp/$mode"
  done
}

echo_bench() { # NAME PORT PATH COMMAND...
  local name=$1 port=$2 path=$3
  shift 3
  start "$name" "$port" "$@"
  [ -n "$pid" ] || return 0
  measure "$name" echo "$port" "$path" "$CONNS" "$INFLIGHT" "$SIZE"
  stop "$pid"
}

sse_bench() { # NAME PORT PATH COMMAND...
  local name=$1 port=$2 path=$3
  shift 3
  start "$name" "$port" "$@"
  [ -n "$pid" ] || return 0
  measure "$name" sse "$port" "$path" /publish "$K" "$WINDOW"
  stop "$pid"
}

fan_bench() { # NAME PORT COMMAND...
  local name=$1 port=$2
  shift 2
  start "$name" "$port" "$@"
  [ -n "$pid" ] || return 0
  measure "$name" wsfan "$port" /ws/sub /publish "$FAN_K" "$WINDOW"
  stop "$pid"
}

: >"$tmp/echo"
: >"$tmp/sse"
: >"$tmp/wsfan"
WS_SERVER=$PWD/build-bench/bench/ws-server
UVICORN=("$PY" -m uvicorn ws_fastapi:app --host 127.0.0.1 --workers 1 --loop uvloop --http httptools
  --log-level warning --no-access-log)
GRANIAN_ASGI=("$GRANIAN" --interface asgi --host 127.0.0.1 --workers 1 --runtime-threads 1 --loop uvloop
  --http 1 --ws --log-level warning --no-access-log)

# ---- echo ----
echo_bench turbo_c 18801 /ws "$WS_SERVER" 18801 1
echo_bench turbo_py 18802 /ws "$PY" -m turbo ws_turbo:app --port 18802 --threads 1
echo_bench uvicorn 18803 /ws "${UVICORN[@]}" --port 18803 --ws websockets
echo_bench uvicorn_sansio 18804 /ws "${UVICORN[@]}" --port 18804 --ws websockets-sansio
echo_bench granian 18805 /ws "${GRANIAN_ASGI[@]}" --port 18805 ws_fastapi:app
echo_bench node_ws 18806 / node "$PWD/build-bench/clients/ws_node/ws_echo_server.js" 18806
if [ -n "$BPY" ]; then
  echo_bench socketify 18807 /ws "$BPY" ws_socketify.py 18807
fi

# ---- the client's ceiling: the fastest server, 200 connections × 16 ----
start ceiling 18808 "$WS_SERVER" 18808 1
if [ -n "$pid" ]; then
  ceiling=$(taskset -c 1 "$LOAD" echo 18808 /ws 200 16 "$SIZE" 1 "$DURATION" "$(tree_pids "$pid")" | tr ' ' '\n' |
    awk -F= '{v[$1] = $2} END {printf "%s messages/s with ws_load at %s %% of core 1 (libturbo C at %s µs/msg)", v["rate"], v["client_cpu_pct"], v["server_us_per"]}')
  stop "$pid"
fi

# ---- SSE fan-out ----
sse_bench turbo_c_sse 18811 /sse "$WS_SERVER" 18811 1
sse_bench turbo_py_sse 18812 /sse "$PY" -m turbo ws_turbo:app --port 18812 --threads 1
sse_bench turbo_py_stream 18813 /sse/stream "$PY" -m turbo ws_turbo:app --port 18813 --threads 1
sse_bench uvicorn_sse 18814 /sse "${UVICORN[@]}" --port 18814
sse_bench granian_sse 18815 /sse "${GRANIAN_ASGI[@]}" --port 18815 ws_fastapi:app

# ---- WebSocket broadcast ----
fan_bench turbo_c_fan 18821 "$WS_SERVER" 18821 1
fan_bench turbo_py_fan 18822 "$PY" -m turbo ws_turbo:app --port 18822 --threads 1
fan_bench uvicorn_fan 18823 "${UVICORN[@]}" --port 18823 --ws websockets-sansio
fan_bench granian_fan 18824 "${GRANIAN_ASGI[@]}" --port 18824 ws_fastapi:app

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----
med() { # FILE NAME COLUMN (2 rate, 3 µs, 4 client %): the median over the runs
  awk -v s="$2" -v c="$3" '$1 == s {print $c}' "$1" | sort -g |
    awk '{v[NR] = $1} END {if (NR) print v[int((NR + 1) / 2)]}'
}
pyver() { "$1" -c "import importlib.metadata as m; print(m.version('$2'))" 2>/dev/null || echo "?"; }
declare -A label=(
  [turbo_c]="libturbo C (bench/ws_server.c)" [turbo_py]="libturbo Python (\`@app.websocket\`)"
  [uvicorn]="uvicorn + FastAPI (--ws websockets)" [uvicorn_sansio]="uvicorn + FastAPI (--ws websockets-sansio)"
  [granian]="granian ASGI + FastAPI" [node_ws]="Node \`ws\`" [socketify]="socketify (native API)"
  [turbo_c_sse]="libturbo C (turbo_deferred_write)" [turbo_py_sse]="libturbo Python (EventSourceResponse)"
  [turbo_py_stream]="libturbo Python (StreamingResponse)" [uvicorn_sse]="uvicorn + FastAPI (StreamingResponse)"
  [granian_sse]="granian ASGI + FastAPI (StreamingResponse)"
  [turbo_c_fan]="libturbo C (turbo_loop_post + turbo_ws_send)" [turbo_py_fan]="libturbo Python (\`send_text\`)"
  [uvicorn_fan]="uvicorn + FastAPI (--ws websockets-sansio)" [granian_fan]="granian ASGI + FastAPI")
table() { # FILE UNIT NAME... (the first is the reference)
  local file=$1 unit=$2 ref s ref_us
  shift 2
  ref=$1
  ref_us=$(med "$file" "$ref" 3)
  echo "| server | $unit/s | server CPU µs/$unit | CPU × ${label[$ref]%% (*} | client CPU |"
  echo "|---|---:|---:|---:|---:|"
  for s in "$@"; do
    if [ -n "${NOTE[$s]:-}" ]; then
      echo "| ${label[$s]} | — | — | — | ${NOTE[$s]} |"
    elif [ -n "$(med "$file" "$s" 2)" ]; then
      echo "| ${label[$s]} | $(printf '%.0f' "$(med "$file" "$s" 2)") | $(med "$file" "$s" 3) |" \
        "$(awk -v a="$(med "$file" "$s" 3)" -v b="$ref_us" 'BEGIN { printf "%.2f", a / b }') |" \
        "$(med "$file" "$s" 4) % |"
    fi
  done
}
{
  echo "# WebSocket echo and SSE fan-out: libturbo beside the usual servers"
  echo
  [ -z "${BENCH_NOTE:-}" ] || printf '%s\n\n' "$BENCH_NOTE"
  echo "Run $started at $revision: $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //');"
  echo "load average $load_start at the start, $load_end at the end (a shared machine: compare"
  echo "CPU µs per message and the ratios, which are measured in the same run)."
  echo
  echo "Command: \`bench/ws.sh $DURATION $RUNS\` (WS_CONNS=$CONNS WS_INFLIGHT=$INFLIGHT SSE_K=$K WS_FAN_K=$FAN_K)."
  echo "Each server alone on core 0, bench/ws_load.c on core 1; $RUNS runs of ${DURATION} s after 1 s of"
  echo "warm-up each; the median of each column over the runs. Server CPU: utime+stime of the server's processes over the measured"
  echo "interval / messages received in it. Client CPU: ws_load's own over the same interval."
  echo
  echo "## WebSocket echo: $CONNS connections × $INFLIGHT messages of $SIZE bytes in flight"
  echo
  table "$tmp/echo" msg turbo_c turbo_py uvicorn uvicorn_sansio granian node_ws socketify
  echo
  echo "The client's ceiling: ${ceiling:-not measured} at 200 connections × 16 in flight (one run);"
  echo "a row whose client CPU nears 100 % was limited by the client."
  echo
  echo "## SSE fan-out: $K subscribers, one publisher (≤ $WINDOW events per subscriber in flight)"
  echo
  table "$tmp/sse" event turbo_c_sse turbo_py_sse turbo_py_stream uvicorn_sse granian_sse
  echo
  echo "Server CPU per delivered event includes the publisher's POST /publish, one per $K events."
  echo
  echo "## WebSocket broadcast: $FAN_K subscribers, one publisher (≤ $WINDOW messages per subscriber in flight)"
  echo
  table "$tmp/wsfan" msg turbo_c_fan turbo_py_fan uvicorn_fan granian_fan
  echo
  echo "One broadcast reaches all $FAN_K subscribers in $FAN_K / (msg/s) seconds of throughput;"
  echo "server CPU per delivered message includes the POST /publish, one per $FAN_K messages."
  echo
  echo "## Versions"
  echo
  echo "uvicorn $(pyver "$PY" uvicorn), websockets $(pyver "$PY" websockets), granian $(pyver "$PY" granian),"
  echo "fastapi $(pyver "$PY" fastapi), uvloop $(pyver "$PY" uvloop); Node $(node --version),"
  echo "ws $(node -p "require('$PWD/build-bench/clients/ws_node/node_modules/ws/package.json').version");"
  echo "socketify $([ -n "$BPY" ] && pyver "$BPY" socketify || echo "not installed"); Python $("$PY" -c 'import platform; print(platform.python_version())')."
  echo
  echo "## Server commands"
  echo
  for s in "${!CMD[@]}"; do echo "- $s: \`${CMD[$s]}\`"; done | sort
  echo
  echo "## Every run (name, rate/s, server CPU µs, client CPU %)"
  echo
  echo '```'
  cat "$tmp/echo" "$tmp/sse" "$tmp/wsfan"
  echo '```'
} >"$OUT/ws-latest.md"
cat "$OUT/ws-latest.md"
