#!/usr/bin/env bash
# Instructions per request of a TechEmpower server, counted by callgrind
# (repeatable on a noisy shared machine, unlike time): the server
# (bench/tfb/serve SERVER, one I/O thread or worker) runs under
# `valgrind --tool=callgrind --trace-children=yes`, serves N1 and then, in a
# second run, N2 keep-alive GETs of PATH on one connection; the Ir of every
# process of the server (master, workers, runtime threads) are summed, and
# (Ir(N2) - Ir(N1)) / (N2 - N1) leaves start-up and shutdown out, as
# bench/instructions.sh does for /hello. PostgreSQL's instructions are not
# counted (it is not the server), the client's neither.
#
# usage: bench/tfb/instructions.sh SERVER PATH...   (e.g. c /json /db)
# prints "SERVER PATH IR_PER_REQUEST" per PATH.
# Environment: N1 (default 100), N2 (default 600), DB (default: the URL of
# bench/tfb/db.sh url), and serve's BUILD, PY, ROBYN_PY. Python servers run
# ~50x slower under callgrind: a Python /json pass takes seconds, queries=500
# minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
N1=${N1:-100}
N2=${N2:-600}
[ $# -ge 2 ] || { echo "usage: $0 SERVER PATH..." >&2; exit 2; }
server=$1
shift
db=${DB:-$(bench/tfb/db.sh url)}
command -v valgrind >/dev/null || { echo "valgrind is missing" >&2; exit 1; }
tmp=$(mktemp -d)
chmod 777 "$tmp" # nginx's and h2o's workers write theirs as nobody
trap 'rm -rf "$tmp"' EXIT

client() { # port path count: every answer read (Content-Length or chunked)
  /usr/bin/python3 - "$@" <<'PY'
import http.client, sys, time
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 180  # servers start slowly under callgrind
while True:
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("server did not come up")
        time.sleep(0.2)
for _ in range(n - 1):
    c.request("GET", path)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"GET {path}: status {r.status}")
PY
}

ir() { # path count -> instructions of the server's processes
  local port pid total n
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  TFB_WRAP="valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$tmp/cg.%p" \
    bench/tfb/serve "$server" --port "$port" --db "$db" >"$tmp/log" 2>&1 &
  pid=$!
  if ! client "$port" "$1" "$2"; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    tail -n 5 "$tmp/log" >&2
    return 1
  fi
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  # Children the server forked (workers) end with it; give callgrind a moment
  # to write their files.
  for _ in $(seq 1 100); do
    pgrep -f "callgrind-out-file=$tmp/" >/dev/null || break
    sleep 0.1
  done
  total=0
  for f in "$tmp"/cg.*; do
    [ -f "$f" ] || continue
    n=$(awk '/^summary:/ {print $2}' "$f")
    [ -n "$n" ] || { echo "no callgrind summary in $f ($(grep -m1 '^cmd:' "$f" || echo empty))" >&2; return 1; }
    total=$((total + n))
  done
  rm -f "$tmp"/cg.*
  echo "$total"
}

for path in "$@"; do
  a=$(ir "$path" "$N1") && b=$(ir "$path" "$N2") || { echo "$server $path -"; continue; }
  echo "$server $path $(( (b - a) / (N2 - N1) ))"
done
