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
. bench/lib.sh
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

# libturbo
taskset -c 0 build-bench/turbo-hello --host 127.0.0.1 --port $PORT_T --threads 1 >/dev/null &
BENCH_PIDS+=($!)
tpid=$!
wait_up "http://127.0.0.1:$PORT_T/hello"
check_hello turbo-hello "http://127.0.0.1:$PORT_T/hello"

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
BENCH_PIDS+=($!)
npid=$!
wait_up "http://127.0.0.1:$PORT_N/hello"
check_hello nginx "http://127.0.0.1:$PORT_N/hello"

{
  measure libturbo "$tpid" "http://127.0.0.1:$PORT_T/hello"
  measure nginx "$npid" "http://127.0.0.1:$PORT_N/hello"
} >"$tmp/runs"
report "$tmp/runs" libturbo nginx
