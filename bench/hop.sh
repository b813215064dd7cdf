#!/usr/bin/env bash
# What a hop to another thread costs: the same answer served inline,
# deferred and finished in the handler, deferred and finished by another
# thread, and through the blocking pool, by one server in one run (see
# bench/lib.sh for the method: server on core 0 with its threads, wrk on
# core 1, server CPU us per request). Writes bench/results/hop-latest.md.
#
#   bench/hop.sh [DURATION_S] [RUNS]        (default 5 3)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}
RUNS=${2:-3}
. bench/lib.sh
trap bench_cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)"; exit 1; }
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target hop-server >/dev/null
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
taskset -c 0 build-bench/bench/hop-server "$port" >/dev/null &
pid=$!
BENCH_PIDS+=("$pid")
runs=$(mktemp)
for path in inline defer hop pool; do
  wait_up "http://127.0.0.1:$port/$path"
  check_hello "$path" "http://127.0.0.1:$port/$path"
  measure "$path" "$pid" "http://127.0.0.1:$port/$path" >>"$runs"
done
mkdir -p bench/results
{
  echo "# bench/hop.sh $DURATION $RUNS, $(date -u +%Y-%m-%d)"
  report "$runs" inline defer hop pool
} | tee bench/results/hop-latest.md
rm -f "$runs"
