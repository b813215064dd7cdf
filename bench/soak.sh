#!/usr/bin/env bash
# Soak test (not part of CI's default run): SECONDS (default 600) of mixed
# load — plain and pipelined keep-alive requests, malformed requests, slow
# clients, route add/remove churn — against the C server (bench/soak_server.c,
# 2 I/O threads) and the Python binding (bench/apps/soak_app.py) at once.
# Passes when no valid request failed, both servers are alive and then stop
# with status 0, and fds are back to their baseline; prints RSS start/end.
#
# Usage: bench/soak.sh [SECONDS=600]
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-600}
PY=${TURBO_PYTHON:-/usr/bin/python3}
scripts/install-deps.sh >/dev/null
cmake -S . -B build >/dev/null
cmake --build build -j"$(nproc)" --target soak-server turbo_py >/dev/null

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
build/bench/soak-server 18201 2 > /tmp/soak-c.out &
pids+=($!); cpid=$!
(cd bench/apps && PYTHONPATH=$PWD/../../build/bindings/python exec "$PY" -m turbo soak_app:app --port 18202) \
  > /tmp/soak-py.out 2>&1 &
pids+=($!); ppid=$!
for u in 18201 18202; do
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$u/hello" && break; sleep 0.1; done
done

status=0
"$PY" bench/soak.py --port 18201 --pid $cpid --seconds "$SECS" --name C > /tmp/soak-c.txt &
d1=$!
"$PY" bench/soak.py --port 18202 --pid $ppid --seconds "$SECS" --name Python > /tmp/soak-py.txt &
d2=$!
wait $d1 || status=1
wait $d2 || status=1
cat /tmp/soak-c.txt /tmp/soak-py.txt
for p in $cpid $ppid; do
  kill -TERM $p
  if ! wait $p; then echo "server $p did not stop cleanly"; status=1; fi
done
tail -n 2 /tmp/soak-c.out
exit $status
