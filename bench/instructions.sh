#!/usr/bin/env bash
# Instructions the server spends per request, counted by callgrind (so
# repeatable on a noisy machine): turbo-hello with one I/O thread serves N1
# and then N2 keep-alive GET /hello requests; (Ir(N2) - Ir(N1)) / (N2 - N1)
# leaves start-up and shutdown out.
#
#   bench/instructions.sh [SERVER ...]   (default build/turbo-hello)
#
# A SERVER is a turbo-hello binary, or a Python app as MODULE:APP (say
# turbo_hello:app), served by `$TURBO_PYTHON -m turbo MODULE:APP` (default
# /usr/bin/python3) with one I/O thread, its module found in bench/apps and
# the binding in $TURBO_PYTHONPATH (default build/bindings/python). Either
# must answer GET /hello. A SERVER bjoern:MODULE:APP is that WSGI app
# under bjoern (bench/apps/bjoern_run.py, with $BJOERN_PYTHON, default
# build-bench/bench-venv/bin/python as bench/adapters.sh makes it): the
# same count for the C WSGI server peers measure against. Several servers (say main's and a branch's, or a
# `def` and an `async def` app) are measured in turn and printed side by
# side. Python runs ~50 x slower under callgrind: N2 requests take it a
# minute or so. SERVER_ARGS (words) go to every server after --port and
# --threads: SERVER_ARGS="--metrics-path /metrics" measures the metrics'
# cost. CG_KEEP=DIR keeps each run's callgrind output there (cg.N.SERVER)
# for a per-function diff with callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
# Python's string hashes are randomized per process, and how dict lookups
# collide moves a Python server's count by up to ~100 instructions per
# request from run to run: a fixed seed makes two builds comparable.
export PYTHONHASHSEED=${PYTHONHASHSEED:-0}
N1=${N1:-2000}
N2=${N2:-12000}
PY=${TURBO_PYTHON:-/usr/bin/python3}
PYPATH=${TURBO_PYTHONPATH:-build/bindings/python}
command -v valgrind >/dev/null || { echo "valgrind is missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

client() { # port count: requests on one connection, every answer read
  /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(1200):  # 60 s: Python starts slowly under callgrind
    try:
        s = socket.create_connection(("127.0.0.1", port))
        break
    except OSError:
        time.sleep(0.05)
req = b"GET /hello HTTP/1.1\r\nHost: b\r\n\r\n"
buf = b""
for _ in range(n):
    s.sendall(req)
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = buf[:end].decode()
            length = int(head.split("Content-Length: ")[1].split("\r\n")[0])
            if len(buf) >= end + 4 + length:
                buf = buf[end + 4 + length:]
                break
        buf += s.recv(65536)
PY
}

# A binary, or MODULE:APP for a Python app.
is_app() { [[ $1 == *:* && ! -e $1 ]]; }

ir() { # server count -> total instructions
  local bin=$1 n=$2 port cmd pypath=${PYTHONPATH:-}
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if [[ $bin == bjoern:* ]]; then
    cmd=("${BJOERN_PYTHON:-build-bench/bench-venv/bin/python}" bench/apps/bjoern_run.py
         "${bin#bjoern:}" 127.0.0.1 "$port")
    pypath=$(realpath "$PYPATH"):$PWD/bench/apps
    PYTHONPATH=$pypath valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "${cmd[@]}" \
      >"$tmp/log" 2>&1 &
  elif is_app "$bin"; then
    cmd=("$PY" -m turbo "$bin")
    # Set for valgrind itself: through env(1) it would count env, not Python.
    pypath=$(realpath "$PYPATH"):$PWD/bench/apps
  else
    cmd=("$bin")
  fi
  if [[ $bin != bjoern:* ]]; then
    # shellcheck disable=SC2086 # SERVER_ARGS: words, e.g. "--metrics-path /metrics"
    PYTHONPATH=$pypath valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "${cmd[@]}" \
      --port "$port" --threads 1 ${SERVER_ARGS:-} >"$tmp/log" 2>&1 &
  fi
  local pid=$!
  client "$port" "$n"
  kill -TERM "$pid"
  wait "$pid" || true
  local out
  out=$(ls "$tmp"/cg.* | head -1)
  awk '/^summary:/ {print $2}' "$out"
  if [[ -n ${CG_KEEP:-} ]]; then
    mkdir -p "$CG_KEEP"
    cp "$out" "$CG_KEEP/cg.$n.$(echo "$bin" | tr '/:' '__')"
  fi
  rm -f "$tmp"/cg.*
}

printf '%-40s %14s\n' binary "Ir/request"
for bin in "${@:-build/turbo-hello}"; do
  a=$(ir "$bin" "$N1")
  b=$(ir "$bin" "$N2")
  printf '%-40s %14.1f\n' "$bin" "$(echo "($b - $a) / ($N2 - $N1)" | bc -l)"
done
