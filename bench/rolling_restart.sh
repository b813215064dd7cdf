#!/usr/bin/env bash
# Rolling restarts under load, with plain SO_REUSEPORT (no proxy, no
# systemd): two turbo-hello processes share a port while wrk sends
# requests on fresh connections (Connection: close, so every request is a
# new connection and the accept path is exercised); RESTARTS times, a new
# process starts and then the oldest gets SIGTERM. Prints the requests
# served and wrk's errors (read errors: connections reset or closed
# without an answer).
#
#   bench/rolling_restart.sh [TURBO_HELLO] [RESTARTS]   (default build/turbo-hello 20)
set -euo pipefail
cd "$(dirname "$0")/.."
hello=${1:-build/turbo-hello}
restarts=${2:-20}
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)"; exit 1; }
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

start() { # a new process on the port; returns once it serves
  local log=$tmp/hello.$RANDOM.log
  "$hello" --host 127.0.0.1 --port "$port" --threads 1 --reuse-port >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 200); do grep -q serving "$log" && return; sleep 0.01; done
  echo "turbo-hello did not start: $(cat "$log")"; exit 1
}

start
start
secs=$(( restarts / 2 + 3 ))
wrk -t1 -c20 -d"${secs}s" -H 'Connection: close' "http://127.0.0.1:$port/hello" >"$tmp/wrk.txt" 2>&1 &
wrk_pid=$!
sleep 1
for _ in $(seq 1 "$restarts"); do
  start
  old=${pids[0]}
  pids=("${pids[@]:1}")
  kill -TERM "$old"
  wait "$old" || { echo "a stopped process exited with status $?"; exit 1; }
  sleep 0.3
done
wait "$wrk_pid"
requests=$(awk '/requests in/ {print $1}' "$tmp/wrk.txt")
errors=$(grep -E 'Socket errors|Non-2xx' "$tmp/wrk.txt" || echo "Socket errors: none")
echo "restarts: $restarts; requests: $requests; $errors" | tr '\n' ' '
echo
