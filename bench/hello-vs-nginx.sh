#!/usr/bin/env bash
# Server CPU per request of turbo-hello (1 I/O thread) and nginx
# (1 worker, `return 200`) on GET /hello, measured in the same run.
#
# Method: server pinned to core 0, `wrk -t1 -c50` pinned to core 1; a
# warm-up, then RUNS runs of DURATION seconds each; server CPU is the
# utime+stime of the server's whole process tree read from /proc before and
# after each run, divided by the requests wrk completed. Medians reported.
#
# Usage: bench/hello-vs-nginx.sh [DURATION=10] [RUNS=3]
# Needs: wrk, nginx, curl (installed from Debian when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
PORT_T=18081
PORT_N=18082
scripts/install-deps.sh wrk nginx >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target turbo-hello >/dev/null

tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

hz=$(getconf CLK_TCK)
# CPU ticks (utime+stime) of a process and all its descendants.
tree_ticks() {
  local total=0 p
  for p in $1 $(pgrep -P "$1" || true); do
    [ -r /proc/$p/stat ] || continue
    # Fields after the ")" : state is $1, utime is $12, stime $13.
    total=$((total + $(sed 's/^.*) //' /proc/$p/stat | awk '{print $12 + $13}')))
  done
  echo $total
}

wait_up() { # url
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "server at $1 did not come up" >&2; return 1
}

check_body() { # name url
  local got type
  got=$(curl -s "$2")
  type=$(curl -s -o /dev/null -w '%{content_type}' "$2")
  if [ "$got" != '{"message":"Hello, World!"}' ] || [ "${type%%;*}" != application/json ]; then
    echo "$1 answers wrong: '$got' ($type)" >&2; exit 1
  fi
}

measure() { # name pid url -> prints "rps us_per_req p50 p99" per run
  local name=$1 pid=$2 url=$3
  taskset -c 1 wrk -t1 -c50 -d2s "$url" >/dev/null # warm-up
  for r in $(seq 1 "$RUNS"); do
    local before after out reqs
    before=$(tree_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --latency "$url")
    after=$(tree_ticks "$pid")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    local rps p50 p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    awk -v n="$name" -v t=$((after - before)) -v hz="$hz" -v q="$reqs" -v rps="$rps" -v a="$p50" -v b="$p99" \
      'BEGIN { printf "%s %s %.2f %s %s\n", n, rps, t / hz * 1e6 / q, a, b }'
  done
}

# libturbo
taskset -c 0 build-bench/turbo-hello --host 127.0.0.1 --port $PORT_T --threads 1 >/dev/null &
pids+=($!)
tpid=$!
wait_up "http://127.0.0.1:$PORT_T/hello"
check_body turbo-hello "http://127.0.0.1:$PORT_T/hello"

# nginx, one worker, same JSON answer
mkdir -p "$tmp/nginx"
cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path $tmp/nginx;
  proxy_temp_path $tmp/nginx;
  fastcgi_temp_path $tmp/nginx;
  uwsgi_temp_path $tmp/nginx;
  scgi_temp_path $tmp/nginx;
  server {
    listen 127.0.0.1:$PORT_N;
    location = /hello { default_type application/json; return 200 '{"message":"Hello, World!"}'; }
  }
}
CONF
taskset -c 0 nginx -c "$tmp/nginx/nginx.conf" &
pids+=($!)
npid=$!
wait_up "http://127.0.0.1:$PORT_N/hello"
check_body nginx "http://127.0.0.1:$PORT_N/hello"

echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# wrk -t1 -c50 -d${DURATION}s (core 1) against each server (core 0); $RUNS runs, medians"
{
  measure libturbo "$tpid" "http://127.0.0.1:$PORT_T/hello"
  measure nginx "$npid" "http://127.0.0.1:$PORT_N/hello"
} >"$tmp/runs"
printf '%-10s %12s %14s %10s %10s\n' server req/s 'CPU us/req' p50 p99
for s in libturbo nginx; do
  grep "^$s " "$tmp/runs" | sort -k3 -g | awk -v r="$RUNS" 'NR == int((r + 1) / 2) {printf "%-10s %12s %14s %10s %10s\n", $1, $2, $3, $4, $5}'
done
echo "# every run:"
sed 's/^/#   /' "$tmp/runs"
