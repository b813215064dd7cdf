#!/usr/bin/env bash
# Instructions the server spends per request, counted by callgrind (so
# repeatable on a noisy machine): turbo-hello with one I/O thread serves N1
# and then N2 keep-alive GET /hello requests; (Ir(N2) - Ir(N1)) / (N2 - N1)
# leaves start-up and shutdown out.
#
#   bench/instructions.sh [TURBO_HELLO ...]   (default build/turbo-hello)
#
# Several binaries (say main's and a branch's) are measured in turn and
# printed side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
N1=${N1:-2000}
N2=${N2:-12000}
command -v valgrind >/dev/null || { echo "valgrind is missing"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

client() { # port count: requests on one connection, every answer read
  /usr/bin/python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
for _ in range(200):
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

ir() { # binary count -> total instructions
  local bin=$1 n=$2 port
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" "$bin" --port "$port" --threads 1 \
    >"$tmp/log" 2>&1 &
  local pid=$!
  client "$port" "$n"
  kill -TERM "$pid"
  wait "$pid" || true
  local out
  out=$(ls "$tmp"/cg.* | head -1)
  awk '/^summary:/ {print $2}' "$out"
  rm -f "$tmp"/cg.*
}

printf '%-40s %14s\n' binary "Ir/request"
for bin in "${@:-build/turbo-hello}"; do
  a=$(ir "$bin" "$N1")
  b=$(ir "$bin" "$N2")
  printf '%-40s %14.1f\n' "$bin" "$(echo "($b - $a) / ($N2 - $N1)" | bc -l)"
done
