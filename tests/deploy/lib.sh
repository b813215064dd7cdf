# shellcheck shell=bash
# Sourced by the tests/deploy/*.sh scripts: a scratch directory, a list of
# the processes started (all stopped on exit, whatever happens), free
# ports, waiting, and exact-value checks.
set -euo pipefail

# shellcheck disable=SC2034 # used by the scripts that source this
DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../deploy" && pwd)
PY=/usr/bin/python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/turbo-deploy.XXXXXX")
# nginx's and HAProxy's workers may run as another user (nobody) when the
# test runs as root: they must reach the scratch directory.
chmod 755 "$TMP"
PIDS=()
FAILED=0

cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  if [ "$rc" != 0 ]; then
    local f
    for f in "$TMP"/*.log; do
      [ -f "$f" ] || continue
      echo "---- ${f#"$TMP"/} (last 30 lines)"
      tail -n 30 "$f"
    done
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Remembers a background process so that cleanup stops it.
started() { PIDS+=("$1"); }

# free_ports N: N distinct ports that were free a moment ago. Not from
# bind(port 0): that hands out ports of the ephemeral range, which every
# outgoing connection (curl, the proxies, other tests) also draws from,
# so a port found free there can be taken by a connection's local end
# before the server binds it. These come from below that range, chosen
# at random, each checked by binding it on all addresses.
free_ports() {
  "$PY" - "$1" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
lo, hi = (20000, low - 1) if low > 21000 else (1024, low - 1)
found = []
while len(found) < int(sys.argv[1]):
    if hi - lo < 1000:  # no room below the ephemeral range: let bind pick
        with socket.socket() as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1]
    else:
        port = random.randint(lo, hi)
    if port in found:
        continue
    try:
        with socket.socket() as s:
            s.bind(("0.0.0.0", port))
    except OSError:
        continue
    found.append(port)
print(" ".join(map(str, found)))
PY
}

# established PORT...: how many established TCP connections have one of
# PORT as their local port (the server side of connections to it), from
# /proc/net/tcp{,6} (no dependency on ss).
established() {
  "$PY" - "$@" <<'PY'
import sys
ports = {int(p) for p in sys.argv[1:]}
n = 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().split("\n")[1:]
    except OSError:
        continue
    for row in rows:
        f = row.split()
        if len(f) > 3 and f[3] == "01" and int(f[1].rsplit(":", 1)[1], 16) in ports:
            n += 1
print(n)
PY
}

# wait_for FILE REGEX [SECONDS]: until a line of FILE matches.
wait_for() {
  local file=$1 re=$2 secs=${3:-10} _
  for _ in $(seq 1 $((secs * 20))); do
    grep -Eq -- "$re" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "FAIL: no line matching '$re' in ${file#"$TMP"/} after ${secs}s"
  return 1
}

# wait_http URL [SECONDS]: until URL answers 200.
wait_http() {
  local url=$1 secs=${2:-10} _
  for _ in $(seq 1 $((secs * 20))); do
    [ "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url" || true)" = 200 ] && return 0
    sleep 0.05
  done
  echo "FAIL: $url did not answer 200 within ${secs}s"
  return 1
}

# check NAME EXPECTED ACTUAL: byte-exact comparison, reported; the script
# fails at its end (finish) if any check failed.
check() {
  if [ "$2" != "$3" ]; then
    printf 'FAIL %s\n  expected: %q\n  actual:   %q\n' "$1" "$2" "$3"
    FAILED=1
  else
    printf 'ok   %s\n' "$1"
  fi
}

finish() {
  if [ "$FAILED" != 0 ]; then
    echo "some checks failed"
    exit 1
  fi
  echo "all checks passed"
}

# adapt_ports SRC DST OLD=NEW...: copies a deploy/ file, changing only the
# lines that end in "# port": on each, exactly one OLD port becomes NEW.
# Every OLD must be on exactly one marked line and on no other line but
# comments, so the test runs the file as committed but for those numbers.
adapt_ports() {
  "$PY" - "$@" <<'PY'
import re, sys
src, dst, *pairs = sys.argv[1:]
mapping = dict(p.split("=") for p in pairs)
used = dict.fromkeys(mapping, 0)
out = []
for n, line in enumerate(open(src), 1):
    nums = [m for m in re.finditer(r"(?<![\d.])\d{2,5}(?![\d.])", line) if m.group(0) in mapping]
    if line.rstrip("\n").endswith("# port"):
        if len(nums) != 1:
            sys.exit(f"{src}:{n}: a '# port' line must hold exactly one of {sorted(mapping)}")
        m = nums[0]
        used[m.group(0)] += 1
        line = line[:m.start()] + mapping[m.group(0)] + line[m.end():]
    elif nums and not line.lstrip().startswith("#"):
        sys.exit(f"{src}:{n}: port {nums[0].group(0)} on a line not marked '# port'")
    out.append(line)
bad = [k for k, v in used.items() if v != 1]
if bad:
    sys.exit(f"{src}: ports {bad} are not each on exactly one '# port' line")
open(dst, "w").writelines(out)
PY
}

# start_hello BIN PORT NAME: turbo-hello on 127.0.0.1:PORT with one I/O
# thread, its output in $TMP/NAME.log; sets HELLO_PID[PORT].
declare -A HELLO_PID
start_hello() {
  local bin=$1 port=$2 name=$3
  "$bin" --host 127.0.0.1 --port "$port" --threads 1 >"$TMP/$name.log" 2>&1 &
  HELLO_PID[$port]=$!
  started "$!"
  wait_for "$TMP/$name.log" "serving on http://127\\.0\\.0\\.1:$port/"
}

# stop_hello PORT NAME: SIGTERM, then it must exit 0 having said "stopped".
stop_hello() {
  local port=$1 name=$2 status=0
  kill -TERM "${HELLO_PID[$port]}"
  wait "${HELLO_PID[$port]}" || status=$?
  check "$name exits 0 on SIGTERM" 0 "$status"
  check "$name says stopped" "turbo-hello: stopped" "$(tail -n 1 "$TMP/$name.log")"
}

# The demo's routes through URL (a proxy or a server), byte for byte.
check_hello_routes() {
  local url=$1 what=$2 body
  body=$(curl -s "$url/"; echo x)
  check "$what GET / body" $'Hello from libturbo\nx' "$body"
  check "$what GET / status, type" "200 text/plain" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$url/")"
  check "$what GET /hello" '{"message":"Hello, World!"}' "$(curl -s "$url/hello")"
  check "$what GET /hello status, type" "200 application/json" "$(curl -s -o /dev/null -w '%{http_code} %{content_type}' "$url/hello")"
  check "$what GET /users/42" '{"id":"42"}' "$(curl -s "$url/users/42")"
  check "$what POST /echo" '200 text/x-test|ping pong' \
    "$(curl -s -w '%{http_code} %{content_type}|' -o "$TMP/echo.out" -H 'Content-Type: text/x-test' --data-binary 'ping pong' "$url/echo")$(cat "$TMP/echo.out")"
  check "$what 404" 404 "$(curl -s -o /dev/null -w '%{http_code}' "$url/nope")"
  check "$what 405 Allow" "405 GET, HEAD" "$(curl -s -o /dev/null -w '%{http_code} %header{allow}' -X DELETE "$url/hello")"
}
