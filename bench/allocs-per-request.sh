#!/usr/bin/env bash
# Heap allocations per request of turbo-hello in steady state: an
# LD_PRELOAD counter of malloc/calloc/realloc read before and after
# REQUESTS requests (after a warm-up), divided by the requests served.
# Usage: bench/allocs-per-request.sh [REQUESTS=100000] [PATH=/hello]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-100000}
P=${2:-/hello}
PORT=18083
scripts/install-deps.sh wrk >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target turbo-hello malloc_count >/dev/null
err=$(mktemp)
LD_PRELOAD=$PWD/build-bench/bench/libmalloc_count.so build-bench/turbo-hello --port $PORT --threads 1 \
  >/dev/null 2>"$err" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$err"' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT$P" && break; sleep 0.05; done
wrk -t1 -c50 -d1s "http://127.0.0.1:$PORT$P" >/dev/null # warm-up
snap() { kill -USR2 $pid; sleep 0.2; tail -n1 "$err" | awk '{print $2}'; }
a=$(snap)
# wrk has no request-count mode: a Lua counter stops each connection's
# stream of requests once N have been sent in all.
script=$(mktemp --suffix=.lua)
cat >"$script" <<LUA
local sent = 0
request = function()
  sent = sent + 1
  if sent > $N then wrk.thread:stop() end
  return wrk.format("GET", "$P")
end
LUA
out=$(wrk -t1 -c50 -d60s -s "$script" "http://127.0.0.1:$PORT$P")
rm -f "$script"
b=$(snap)
reqs=$(echo "$out" | awk '/requests in/ {print $1}')
awk -v a="$a" -v b="$b" -v r="$reqs" 'BEGIN { printf "requests %d, allocations %d, per request %.4f\n", r, b - a, (b - a) / r }'
