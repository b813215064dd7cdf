#!/usr/bin/env bash
# libturbo beside its peers on GET /hello -> 200 application/json
# {"message":"Hello, World!"}, all on 127.0.0.1, keep-alive, one core each:
#
#   libturbo C (turbo-hello) and Python (python -m turbo), a raw-epoll floor
#   (bench/floor.c: canned responses, the syscall limit), libevent evhttp
#   (bench/evhttp_hello.c), nginx (return 200), h2o (static file, and an
#   mruby handler), FastAPI under uvicorn (def / async def, asyncio+h11 /
#   uvloop+httptools), Flask under gunicorn (sync worker).
#
# Method (bench/lib.sh): each server in turn is started pinned to core 0,
# checked with curl, measured with `wrk -t1 -c50` pinned to core 1 (a
# warm-up, then RUNS runs of DURATION seconds), and stopped. Server CPU is
# utime+stime of the server's process tree from /proc, divided by the
# requests wrk completed; medians (by CPU/request) are reported. Also:
#   - pipelined: the C servers with bench/pipeline.lua (16 requests a write);
#     wrk's count is checked against the floor's and nginx's own counters
#     and, for every server, against the bytes that crossed `lo`;
#   - idle keep-alive memory: bench/idle_conns.py, 10,000 connections, RSS
#     delta of the server's process tree / 10,000 (libturbo, nginx, h2o);
#   - heap allocations per request: bench/allocs-per-request.sh;
#   - libturbo with 1 and 2 I/O threads, server and wrk unpinned,
#     `wrk -t2 -c100`.
# Writes $PEERS_OUT/latest.md and latest.png (default bench/results).
#
# Usage: bench/peers.sh [DURATION=10] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
OUT=${PEERS_OUT:-bench/results}
PY=${TURBO_PYTHON:-/usr/bin/python3}
IDLE_CONNS=10000
scripts/install-deps.sh wrk nginx h2o python3-fastapi python3-uvicorn python3-uvloop python3-httptools \
  gunicorn python3-flask gnuplot-nox >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null

tmp=$(mktemp -d)
chmod 755 "$tmp" # h2o drops to user nobody and must read its files
. bench/lib.sh
trap 'bench_cleanup; rm -rf "$tmp"' EXIT
ulimit -n "$(ulimit -Hn)" # 10,000 idle connections (servers inherit it)
mkdir -p "$OUT"
export PYTHONPATH=$PWD/build-bench/bindings/python
started=$(date -u '+%Y-%m-%d %H:%M UTC')
contention=$(pgrep -af 'fuzz_' | cut -c1-100 || true)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

CMDS=() # every server command line, as run (for latest.md)

# start NAME PORT PATH COMMAND...: starts COMMAND on core 0 (in bench/apps),
# waits for it and checks its /hello; sets $pid.
start() {
  local name=$1 port=$2 path=$3
  shift 3
  CMDS+=("$name: (cd bench/apps && taskset -c 0 $*)")
  (cd bench/apps && exec taskset -c 0 "$@") >"$tmp/$name.log" 2>&1 &
  pid=$!
  BENCH_PIDS+=("$pid")
  wait_up "http://127.0.0.1:$port$path"
  check_hello "$name" "http://127.0.0.1:$port$path"
}

# stop PID: stops a server this script started, by its PID, and forgets it.
stop() {
  local p=$1 keep=() q
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${BENCH_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  BENCH_PIDS=("${keep[@]}")
}

lo_tx() { echo $(($(cat /sys/class/net/lo/statistics/tx_bytes))) $(($(cat /sys/class/net/lo/statistics/tx_packets))); }

# Server-side request counter, where the server has one ("-" otherwise).
counter() { # kind pid port
  case $1 in
  floor) # SIGUSR1 makes it log "floor: requests N"; wait for the new line
    local lines i
    lines=$(grep -c requests "$tmp/floor.log" || true)
    kill -USR1 "$2"
    for i in $(seq 1 100); do
      [ "$(grep -c requests "$tmp/floor.log" || true)" -gt "$lines" ] && break
      sleep 0.05
    done
    awk '/requests/ {n = $3} END {print n}' "$tmp/floor.log"
    ;;
  nginx) curl -s "http://127.0.0.1:$3/nginx_status" | awk 'NR == 3 {print $3}' ;;
  *) echo - ;;
  esac
}

# Pipelined runs (bench/pipeline.lua), same pinning as measure(). Prints
# "name rps us_per_req wrk_requests server_counter_delta lo_estimate" per
# run. lo_estimate: requests implied by the bytes sent on lo during the run
# ((tx_bytes - 66 * tx_packets) / (request + response bytes); 66 =
# Ethernet+IP+TCP-with-timestamps headers), an independent check that wrk's
# count is one per response, not one per write.
measure_pipelined() { # name pid url kind port
  local name=$1 pid=$2 url=$3 kind=$4 port=$5 r
  local reqlen resplen
  reqlen=$(printf 'GET /hello HTTP/1.1\r\nHost: 127.0.0.1:%s\r\n\r\n' "$port" | wc -c)
  resplen=$(curl -s -o /dev/null -w '%{size_header} %{size_download}' "$url" | awk '{print $1 + $2}')
  taskset -c 1 wrk -t1 -c50 -d2s -s bench/pipeline.lua "$url" >/dev/null # warm-up
  for r in $(seq 1 "$RUNS"); do
    local before after out reqs rps c0 c1 lo0 lo1
    c0=$(counter "$kind" "$pid" "$port")
    lo0=$(lo_tx)
    before=$(tree_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" -s bench/pipeline.lua "$url")
    after=$(tree_ticks "$pid")
    lo1=$(lo_tx)
    c1=$(counter "$kind" "$pid" "$port")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    awk -v n="$name" -v t=$((after - before)) -v hz="$hz" -v q="$reqs" -v rps="$rps" \
      -v c0="$c0" -v c1="$c1" -v lo0="$lo0" -v lo1="$lo1" -v per=$((reqlen + resplen)) 'BEGIN {
        split(lo0, a, " "); split(lo1, b, " ")
        est = (b[1] - a[1] - 66 * (b[2] - a[2])) / per
        # the counter query itself (nginx_status) is one request
        cd = (c0 == "-") ? "-" : c1 - c0 - (n == "nginx" ? 1 : 0)
        printf "%s %s %.3f %d %s %d\n", n, rps, t / hz * 1e6 / q, q, cd, est }'
  done
}

# Unpinned runs with wrk -t2 -c100 (the 1-vs-2-thread comparison). Prints
# "name rps us_per_req p50 p99" per run, like measure().
measure_unpinned() { # name pid url
  local name=$1 pid=$2 url=$3 r
  wrk -t2 -c100 -d2s "$url" >/dev/null # warm-up
  for r in $(seq 1 "$RUNS"); do
    local before after out reqs rps p50 p99
    before=$(tree_ticks "$pid")
    out=$(wrk -t2 -c100 -d"${DURATION}s" --latency "$url")
    after=$(tree_ticks "$pid")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    awk -v n="$name" -v t=$((after - before)) -v hz="$hz" -v q="$reqs" -v rps="$rps" -v a="$p50" -v b="$p99" \
      'BEGIN { printf "%s %s %.2f %s %s\n", n, rps, t / hz * 1e6 / q, a, b }'
  done
}

idle() { # name pid port
  echo "$1 $("$PY" bench/idle_conns.py "$2" "$3" "$IDLE_CONNS")"
}

: >"$tmp/runs"
: >"$tmp/pipe"
: >"$tmp/idle"
: >"$tmp/threads"
: >"$tmp/other"
# CPU time spent on core 0 by anything but the server, and on core 1 by
# anything but wrk, over a server's warm-up and runs, as a % of the time
# (each has its core to itself unless other work on the machine lands
# there): "name kind pct0 pct1". wrk's time is this shell's reaped
# children's (cutime+cstime in /proc/$$/stat: every wrk, plus the odd
# curl/awk); wrk -t1 saturates its core near the fastest servers' rates,
# so load on core 1 lowers their req/s (bench/README.md, "The wrk anomaly").
core_busy_ticks() { awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
child_ticks() { sed 's/^.*) //' /proc/$$/stat | awk '{print $14 + $15}'; }
other_load() { # name kind pid command...
  local name=$1 kind=$2 p=$3 b0 t0 s0 b1 t1 s1 c0 w0 c1 w1
  shift 3
  b0=$(core_busy_ticks 0) t0=$(tree_ticks "$p") c0=$(core_busy_ticks 1) w0=$(child_ticks) s0=$(date +%s.%N)
  "$@"
  b1=$(core_busy_ticks 0) t1=$(tree_ticks "$p") c1=$(core_busy_ticks 1) w1=$(child_ticks) s1=$(date +%s.%N)
  awk -v n="$name" -v k="$kind" -v o=$((b1 - b0 - (t1 - t0))) -v o1=$((c1 - c0 - (w1 - w0))) -v hz="$hz" \
    -v s0="$s0" -v s1="$s1" 'BEGIN { v = 100 * o / hz / (s1 - s0); v1 = 100 * o1 / hz / (s1 - s0)
      printf "%s %s %.1f %.1f\n", n, k, v < 0 ? 0 : v, v1 < 0 ? 0 : v1 }' >>"$tmp/other"
}
main() { other_load "$1" main "$2" measure "$@" >>"$tmp/runs"; }
pipe() { other_load "$1" pipe "$2" measure_pipelined "$@" >>"$tmp/pipe"; }

# --- libturbo C ---------------------------------------------------------
start turbo_c 18110 /hello "$PWD/build-bench/turbo-hello" --port 18110 --threads 1
main turbo_c "$pid" http://127.0.0.1:18110/hello
pipe turbo_c "$pid" http://127.0.0.1:18110/hello - 18110
idle turbo_c "$pid" 18110 >>"$tmp/idle"
stop "$pid"

# --- libturbo Python ----------------------------------------------------
start turbo_python 18111 /hello "$PY" -m turbo turbo_hello:app --port 18111 --threads 1
main turbo_python "$pid" http://127.0.0.1:18111/hello
stop "$pid"

# --- floor: raw epoll, canned responses ----------------------------------
CMDS+=("floor: taskset -c 0 build-bench/bench/floor --port 18112")
taskset -c 0 build-bench/bench/floor --port 18112 >"$tmp/floor.log" 2>&1 &
pid=$!
BENCH_PIDS+=("$pid")
wait_up http://127.0.0.1:18112/hello
check_hello floor http://127.0.0.1:18112/hello
main floor "$pid" http://127.0.0.1:18112/hello
pipe floor "$pid" http://127.0.0.1:18112/hello floor 18112
stop "$pid"

# --- libevent evhttp ----------------------------------------------------
start evhttp 18113 /hello "$PWD/build-bench/bench/evhttp_hello" --port 18113
main evhttp "$pid" http://127.0.0.1:18113/hello
pipe evhttp "$pid" http://127.0.0.1:18113/hello - 18113
stop "$pid"

# --- nginx, one worker, return 200 -----------------------------------------
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 300s;
  client_body_temp_path $tmp/nginx;
  proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx;
  scgi_temp_path $tmp/nginx;
  server {
    listen 127.0.0.1:18114;
    location = /hello { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
    location = /nginx_status { stub_status; }
  }
}
CONF
start nginx 18114 /hello nginx -c "$tmp/nginx/nginx.conf"
main nginx "$pid" http://127.0.0.1:18114/hello
pipe nginx "$pid" http://127.0.0.1:18114/hello nginx 18114
idle nginx "$pid" 18114 >>"$tmp/idle"
stop "$pid"

# --- h2o, one thread: a static file (and an mruby handler) -----------------
# Debian's h2o 2.2.5 is built with mruby; both are measured, the static
# file (the cheaper) is "h2o" in the comparisons.
printf '%s' '{"message":"Hello, World!"}' >"$tmp/hello.json"
chmod 644 "$tmp/hello.json"
cat >"$tmp/h2o.conf" <<CONF
num-threads: 1
max-connections: 20000
http1-request-timeout: 300
access-log: /dev/null
error-log: $tmp/h2o.err
listen:
  host: 127.0.0.1
  port: 18115
hosts:
  default:
    paths:
      /hello:
        file.file: $tmp/hello.json
      /mruby:
        mruby.handler: |
          Proc.new do |env|
            [200, {"content-type" => "application/json"}, ['{"message":"Hello, World!"}']]
          end
CONF
start h2o 18115 /hello h2o -c "$tmp/h2o.conf"
check_hello h2o_mruby http://127.0.0.1:18115/mruby
main h2o "$pid" http://127.0.0.1:18115/hello
main h2o_mruby "$pid" http://127.0.0.1:18115/mruby
pipe h2o "$pid" http://127.0.0.1:18115/hello - 18115
idle h2o "$pid" 18115 >>"$tmp/idle"
stop "$pid"

# --- FastAPI under uvicorn, one worker ------------------------------------
port=18116
for fn in def async; do
  for stack in h11 uvloop; do
    if [ $stack = h11 ]; then opts=(--loop asyncio --http h11); else opts=(--loop uvloop --http httptools); fi
    start "fastapi_${fn}_$stack" $port /hello "$PY" -m uvicorn "fastapi_hello:app_$fn" --host 127.0.0.1 \
      --port $port --log-level warning --no-access-log "${opts[@]}"
    main "fastapi_${fn}_$stack" "$pid" "http://127.0.0.1:$port/hello"
    stop "$pid"
    port=$((port + 1))
  done
done

# --- Flask under gunicorn, one sync worker ---------------------------------
start flask_gunicorn 18120 /hello "$PY" -m gunicorn --workers 1 --worker-class sync \
  --bind 127.0.0.1:18120 --log-level warning flask_hello:app
main flask_gunicorn "$pid" http://127.0.0.1:18120/hello
stop "$pid"

# --- libturbo, 1 vs 2 I/O threads, unpinned ---------------------------------
for n in 1 2; do
  CMDS+=("turbo_c_${n}thr: build-bench/turbo-hello --port 18121 --threads $n   (unpinned)")
  build-bench/turbo-hello --port 18121 --threads $n >/dev/null 2>&1 &
  pid=$!
  BENCH_PIDS+=("$pid")
  wait_up http://127.0.0.1:18121/hello
  check_hello "turbo_c_${n}thr" http://127.0.0.1:18121/hello
  measure_unpinned "turbo_c_${n}thr" "$pid" http://127.0.0.1:18121/hello >>"$tmp/threads"
  stop "$pid"
done

# --- heap allocations per request -------------------------------------------
allocs=$(bench/allocs-per-request.sh 100000 | tail -n1)

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
contention_end=$(pgrep -af 'fuzz_' | cut -c1-100 || true)
[ -z "$contention_end" ] || contention=$(printf '%s\n(at the end:)\n%s' "$contention" "$contention_end")

# =========================================================================
# Report
# =========================================================================
# median() FILE NAME COLUMN-OF-SORT: the median run's line, by that column.
median() { grep "^$2 " "$1" | sort -k"$3" -g | awk -v r="$RUNS" 'NR == int((r + 1) / 2)'; }
names=(turbo_c turbo_python floor evhttp nginx h2o h2o_mruby fastapi_def_h11 fastapi_def_uvloop
  fastapi_async_h11 fastapi_async_uvloop flask_gunicorn)
declare -A label=(
  [turbo_c]="libturbo C" [turbo_python]="libturbo Python" [floor]="floor (raw epoll)"
  [evhttp]="libevent evhttp" [nginx]="nginx" [h2o]="h2o (file)" [h2o_mruby]="h2o (mruby)"
  [fastapi_def_h11]="FastAPI def, asyncio+h11" [fastapi_def_uvloop]="FastAPI def, uvloop+httptools"
  [fastapi_async_h11]="FastAPI async, asyncio+h11" [fastapi_async_uvloop]="FastAPI async, uvloop+httptools"
  [flask_gunicorn]="Flask, gunicorn sync"
  [turbo_c_1thr]="libturbo C, 1 I/O thread" [turbo_c_2thr]="libturbo C, 2 I/O threads")
: >"$tmp/main_med"
for s in "${names[@]}"; do median "$tmp/runs" "$s" 3 >>"$tmp/main_med"; done
: >"$tmp/pipe_med"
for s in turbo_c floor evhttp nginx h2o; do median "$tmp/pipe" "$s" 3 >>"$tmp/pipe_med"; done
: >"$tmp/thr_med"
for s in turbo_c_1thr turbo_c_2thr; do median "$tmp/threads" "$s" 3 >>"$tmp/thr_med"; done

col() { awk -v s="$2" -v c="$3" '$1 == s {print $c}' "$1"; } # file name column
us_of() { # wrk latency ("85.00us", "1.20ms", "1.00s") in µs
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1e3; else if (v ~ /m$/) m = 6e7; else m = 1e6; print n * m }'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v c="$1" 'BEGIN { print (c ? "**met**" : "**not met**") }'; } # condition 0/1
lt() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 < b + 0) ? 1 : 0 }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 <= b + 0) ? 1 : 0 }'; }

c_us=$(col "$tmp/main_med" turbo_c 3)
{
  echo "# libturbo beside its peers: GET /hello"
  echo
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r) ($(uname -m)); Debian $(cat /etc/debian_version)."
  echo "Run: $started, \`bench/peers.sh $DURATION $RUNS\` ($RUNS runs of ${DURATION}s per server after a 2s warm-up; medians by CPU/request). Load average (1/5/15 min) at start: $load_start, at the end: $load_end (2 cores; the benchmark itself keeps about 2 busy)."
  if [ -n "$(echo "$contention" | tr -d '\n')" ]; then
    echo
    echo "**Contention:** other CPU-heavy processes were running when this run started, so absolute numbers are noisier and likely pessimistic (ratios less so):"
    echo '```'
    echo "$contention"
    echo '```'
  fi
  echo
  echo "Versions: libturbo $(git describe --always --dirty 2>/dev/null || echo ?), $(nginx -v 2>&1 | sed 's/^nginx version: //'), h2o $(h2o --version | awk 'NR==1 {print $3}'), libevent $(pkg-config --modversion libevent), $("$PY" --version), FastAPI $("$PY" -c 'import fastapi; print(fastapi.__version__)'), uvicorn $("$PY" -c 'import uvicorn; print(uvicorn.__version__)'), Flask $("$PY" -c 'import flask; print(flask.__version__)'), gunicorn $("$PY" -c 'import gunicorn; print(gunicorn.__version__)'), $(wrk -v 2>&1 | head -n1 | awk '{print "wrk", $2}')."
  echo
  echo "![server CPU µs per request, log scale](latest.png)"
  echo
  echo "## Main table: one core each, keep-alive, \`wrk -t1 -c50\`"
  echo
  echo "Server pinned to core 0 (\`taskset -c 0\`), \`taskset -c 1 wrk -t1 -c50 -d${DURATION}s --latency\` on core 1. Server CPU = utime+stime of the server's process tree (/proc) over the run / requests completed. One wrk thread saturates near the fastest servers' rates, so req/s compares them less well than CPU µs/request does."
  echo
  echo "| server | req/s | p50 | p99 | server CPU µs/req | × libturbo C | other load on core 0 | other load on core 1 (wrk's) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  while read -r n rps us p50 p99; do
    echo "| ${label[$n]} | $(printf '%.0f' "$rps") | $p50 | $p99 | $us | $(ratio "$us" "$c_us") | $(awk -v n="$n" '$1 == n && $2 == "main" {print $3 "% | " $4 "%"}' "$tmp/other") |"
  done <"$tmp/main_med"
  echo
  echo "Other load on core 0: CPU time the rest of the machine used on the server's core during that server's warm-up and runs (core 0 busy time from /proc/stat minus the server's own), as a share of the wall time; near 0% means the server had its core to itself. Other load on core 1: the same for wrk's core (core 1 busy time minus the CPU time of wrk and the script's other short commands). wrk -t1 is the bottleneck near the fastest servers' rates, so a few % here lowers their req/s (not their CPU µs/req); compare req/s only between rows with similar core-1 load (bench/README.md, \"The wrk anomaly\")."
  echo
  echo "Flask under gunicorn's sync worker closes the connection after every response (the sync worker has no keep-alive), so its row includes a TCP connect per request."
  echo
  echo "## Pipelined: 16 requests per write (\`wrk -s bench/pipeline.lua\`)"
  echo
  echo "Same pinning. wrk counts every response (its parser expects 16 per write), so req/s is requests, not writes. Checks: the floor's and nginx's own request counters over each run (difference to wrk: requests in flight when wrk stopped, ≤ 50 × 16), and for all servers the request count implied by the bytes sent on \`lo\` during the run ((bytes − 66 × packets) / (request + response size); approximate, and any other loopback traffic on the machine inflates it). A count off by the pipeline depth would show as a 16× gap."
  echo
  echo "| server | req/s | server CPU µs/req | wrk requests | server counter | lo-bytes estimate | other load on core 0 | other load on core 1 (wrk's) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
  while read -r n rps us q cd est; do
    echo "| ${label[$n]} | $(printf '%.0f' "$rps") | $us | $q | $cd | $est | $(awk -v n="$n" '$1 == n && $2 == "pipe" {print $3 "% | " $4 "%"}' "$tmp/other") |"
  done <"$tmp/pipe_med"
  echo
  echo "## Memory per idle keep-alive connection"
  echo
  echo "\`bench/idle_conns.py\`: $IDLE_CONNS connections, one request each, then idle; RSS (VmRSS of the server's process tree) after minus before, / $IDLE_CONNS. User-space memory only (kernel socket memory is not in RSS). Measured right after the server's main and pipelined runs."
  echo
  echo "| server | RSS before (KiB) | RSS after (KiB) | bytes / idle connection | connections still open |"
  echo "|---|---:|---:|---:|---:|"
  while read -r n b a per open; do
    echo "| ${label[$n]} | $b | $a | $per | $open |"
  done <"$tmp/idle"
  echo
  echo "## Heap allocations per request (libturbo C)"
  echo
  echo "\`bench/allocs-per-request.sh 100000\` (LD_PRELOAD malloc/calloc/realloc counter, after a warm-up): $allocs"
  echo
  echo "## libturbo C, 1 vs 2 I/O threads (unpinned)"
  echo
  echo "\`build-bench/turbo-hello --threads N\` and \`wrk -t2 -c100 -d${DURATION}s --latency\`, neither pinned, sharing the $(nproc) cores."
  echo
  echo "| server | req/s | p50 | p99 | server CPU µs/req |"
  echo "|---|---:|---:|---:|---:|"
  while read -r n rps us p50 p99; do
    echo "| ${label[$n]} | $(printf '%.0f' "$rps") | $p50 | $p99 | $us |"
  done <"$tmp/thr_med"
  echo
  # --- targets ---
  floor_us=$(col "$tmp/main_med" floor 3)
  ng_us=$(col "$tmp/main_med" nginx 3)
  h2o_us=$(col "$tmp/main_med" h2o 3)
  py_us=$(col "$tmp/main_med" turbo_python 3)
  fdh=$(col "$tmp/main_med" fastapi_def_h11 3)
  fdu=$(col "$tmp/main_med" fastapi_def_uvloop 3)
  fau=$(col "$tmp/main_med" fastapi_async_uvloop 3)
  p_c=$(col "$tmp/pipe_med" turbo_c 2)
  p_floor=$(col "$tmp/pipe_med" floor 2)
  p_ng=$(col "$tmp/pipe_med" nginx 2)
  i_c=$(col "$tmp/idle" turbo_c 4)
  i_ng=$(col "$tmp/idle" nginx 4)
  apr=$(echo "$allocs" | awk '{print $NF}')
  p99_c=$(us_of "$(col "$tmp/main_med" turbo_c 5)")
  p99_ng=$(us_of "$(col "$tmp/main_med" nginx 5)")
  echo "## Targets"
  echo
  echo "| target | measured | verdict |"
  echo "|---|---|---|"
  echo "| libturbo C CPU/req ≤ 1.1 × floor | $c_us vs $floor_us µs: $(ratio "$c_us" "$floor_us") × floor | $(verdict "$(le "$(ratio "$c_us" "$floor_us")" 1.1)") |"
  echo "| libturbo C CPU/req below nginx | $c_us vs $ng_us µs ($(ratio "$c_us" "$ng_us") ×) | $(verdict "$(lt "$c_us" "$ng_us")") |"
  echo "| libturbo C CPU/req below h2o | $c_us vs $h2o_us µs ($(ratio "$c_us" "$h2o_us") ×) | $(verdict "$(lt "$c_us" "$h2o_us")") |"
  echo "| pipelined req/s ≥ 55% of floor | $(printf '%.0f' "$p_c") vs $(printf '%.0f' "$p_floor"): $(awk -v a="$p_c" -v b="$p_floor" 'BEGIN { printf "%.0f%%", 100 * a / b }') | $(verdict "$(awk -v a="$p_c" -v b="$p_floor" 'BEGIN { print (a >= 0.55 * b) }')") |"
  echo "| pipelined req/s ≥ 5 × nginx | $(ratio "$p_c" "$p_ng") × nginx | $(verdict "$(awk -v a="$p_c" -v b="$p_ng" 'BEGIN { print (a >= 5 * b) }')") |"
  echo "| Python CPU/req ≤ 1.6 × C | $py_us vs $c_us µs: $(ratio "$py_us" "$c_us") × | $(verdict "$(le "$(ratio "$py_us" "$c_us")" 1.6)") |"
  echo "| Python ≥ 15 × less CPU/req than FastAPI def | asyncio+h11 $(ratio "$fdh" "$py_us") ×, uvloop+httptools $(ratio "$fdu" "$py_us") × | $(verdict "$(awk -v a="$fdh" -v b="$fdu" -v p="$py_us" 'BEGIN { print (a >= 15 * p && b >= 15 * p) }')") |"
  echo "| Python ≥ 3.5 × less CPU/req than FastAPI async def on uvloop | $(ratio "$fau" "$py_us") × | $(verdict "$(awk -v a="$fau" -v p="$py_us" 'BEGIN { print (a >= 3.5 * p) }')") |"
  echo "| idle connection: fewer bytes than nginx | $i_c vs $i_ng bytes | $(verdict "$(lt "$i_c" "$i_ng")") |"
  echo "| 0 allocations/request (≤ 0.01) | $apr | $(verdict "$(le "$apr" 0.01)") |"
  echo "| p99 at 50 connections ≤ nginx's | $(col "$tmp/main_med" turbo_c 5) vs $(col "$tmp/main_med" nginx 5) | $(verdict "$(le "$p99_c" "$p99_ng")") |"
  echo
  echo "## Commands"
  echo
  echo '```'
  echo "bench/peers.sh $DURATION $RUNS"
  echo "# servers (each started, checked with curl, measured, stopped in turn; PYTHONPATH=build-bench/bindings/python):"
  for c in "${CMDS[@]}"; do echo "$c"; done
  echo "# main:       taskset -c 1 wrk -t1 -c50 -d2s URL (warm-up); then $RUNS x taskset -c 1 wrk -t1 -c50 -d${DURATION}s --latency URL"
  echo "# pipelined:  taskset -c 1 wrk -t1 -c50 -d${DURATION}s -s bench/pipeline.lua URL"
  echo "# idle:       $PY bench/idle_conns.py SERVER_PID PORT $IDLE_CONNS"
  echo "# allocs:     bench/allocs-per-request.sh 100000"
  echo "# threads:    wrk -t2 -c100 -d${DURATION}s --latency http://127.0.0.1:18121/hello"
  echo "# URLs: http://127.0.0.1:PORT/hello (h2o mruby: /mruby)"
  echo '```'
  echo
  echo "## Every run"
  echo
  echo '```'
  echo "# main: server req/s cpu_us/req p50 p99"
  cat "$tmp/runs"
  echo "# pipelined: server req/s cpu_us/req wrk_requests server_counter lo_estimate"
  cat "$tmp/pipe"
  echo "# threads: server req/s cpu_us/req p50 p99"
  cat "$tmp/threads"
  echo '```'
} >"$OUT/latest.md"

# Chart: server CPU µs/request, main table order.
while read -r n rps us _; do
  case $n in turbo_c | turbo_python) c=1 ;; floor) c=2 ;; *) c=3 ;; esac
  printf '"%s" %s %s\n' "${label[$n]}" "$us" "$c"
done <"$tmp/main_med" >"$tmp/chart.dat"
gnuplot -e "data='$tmp/chart.dat'; out='$OUT/latest.png'; subtitle='1 core each, wrk -t1 -c50 keep-alive; $(nproc)-core $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $started'" bench/plot.gp

cat "$OUT/latest.md"
