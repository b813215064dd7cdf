#!/usr/bin/env bash
# Socket activation: turbo-hello and turbo-serve on a socket they inherit
# (LISTEN_PID/LISTEN_FDS, as systemd passes it, and --fd N), the unit
# files of deploy/ as systemd would run them, and the connections that
# wait in the socket's backlog while the server restarts.
#
#   tests/deploy/socket_activation.sh BUILD/turbo-hello [BUILD/bindings/python/turbo-serve]
#
# systemd-socket-activate (systemd's own test tool) plays systemd: it binds,
# waits for the first connection, then execs the server with the socket as
# fd 3 and LISTEN_PID/LISTEN_FDS set, as a .socket unit does.
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "$0")/lib.sh"
HELLO=${1:?usage: socket_activation.sh TURBO_HELLO [TURBO_SERVE]}
SERVE=${2:-}
ACTIVATE=/usr/bin/systemd-socket-activate
INSTALLED=/usr/local/bin/turbo-hello # ExecStart's path in deploy/*.service
cd "$TMP" || exit 1

# unit_value FILE KEY: the value of the one KEY= line of a unit file.
unit_value() {
  local n
  n=$(grep -c "^$2=" "$1" || true)
  [ "$n" = 1 ] || { echo "FAIL: ${1#"$DEPLOY_DIR"/} has $n $2= lines, not 1" >&2; return 1; }
  sed -n "s/^$2=//p" "$1"
}

# activated NAME LISTEN CMD...: CMD under systemd-socket-activate on LISTEN
# (HOST:PORT or a path), output in $TMP/NAME.log; sets ACT_PID. The
# process execs CMD (same PID) on the first connection.
activated() {
  local name=$1 listen=$2
  shift 2
  "$ACTIVATE" -l "$listen" "$@" >"$TMP/$name.log" 2>&1 &
  ACT_PID=$!
  started "$ACT_PID"
  wait_for "$TMP/$name.log" "^Listening on "
}

# sigterm_exit PID NAME: SIGTERM; the process must exit 0.
sigterm_exit() {
  local status=0
  kill -TERM "$1"
  wait "$1" || status=$?
  check "$2 exits 0 on SIGTERM" 0 "$status"
}

# ---------------------------------------------------------------------------
# deploy/turbo-hello.socket + turbo-hello.service: the unit's ExecStart
# (installed path replaced by the build's) on the socket's ListenStream
# (port replaced by a free one).
listen=$(unit_value "$DEPLOY_DIR/turbo-hello.socket" ListenStream)
exec_start=$(unit_value "$DEPLOY_DIR/turbo-hello.service" ExecStart)
check "turbo-hello.socket listens on 127.0.0.1:8000" 127.0.0.1:8000 "$listen"
check "turbo-hello.service runs $INSTALLED" "$INSTALLED" "${exec_start%% *}"
read -r PORT PORT2 PORT3 < <(free_ports 3)
read -ra args <<<"${exec_start#"$INSTALLED"}"
activated unit "${listen%:*}:$PORT" "$HELLO" "${args[@]}"
check "not started before the first connection" "" "$(grep -a 'turbo-hello: serving' "$TMP/unit.log" || true)"
check_hello_routes "http://127.0.0.1:$PORT" "activated turbo-hello"
check "it serves the inherited fd 3" \
  "turbo-hello: serving on http://127.0.0.1:$PORT/ (inherited fd 3) with $(getconf _NPROCESSORS_ONLN) thread(s)" \
  "$(grep -a 'turbo-hello: serving' "$TMP/unit.log")"
sigterm_exit "$ACT_PID" "activated turbo-hello"
check "it says stopped" "turbo-hello: stopped" "$(tail -n 1 "$TMP/unit.log")"

# deploy/turbo-hello@.socket + turbo-hello@.service, the instance being
# the port.
listen=$(unit_value "$DEPLOY_DIR/turbo-hello@.socket" ListenStream)
exec_start=$(unit_value "$DEPLOY_DIR/turbo-hello@.service" ExecStart)
check "turbo-hello@.socket listens on 127.0.0.1:%i" "127.0.0.1:%i" "$listen"
check "turbo-hello@.service runs $INSTALLED" "$INSTALLED" "${exec_start%% *}"
read -ra args <<<"${exec_start#"$INSTALLED"}"
activated template "${listen//%i/$PORT2}" "$HELLO" "${args[@]}"
check "turbo-hello@$PORT2: GET /users/7" '{"id":"7"}' "$(curl -s "http://127.0.0.1:$PORT2/users/7")"
check "turbo-hello@$PORT2 serves the inherited fd 3 with one thread" \
  "turbo-hello: serving on http://127.0.0.1:$PORT2/ (inherited fd 3) with 1 thread(s)" \
  "$(grep -a 'turbo-hello: serving' "$TMP/template.log")"
sigterm_exit "$ACT_PID" "turbo-hello@$PORT2"

# A Unix socket (ListenStream=/run/...; nginx: proxy_pass http://unix:...).
activated unix "$TMP/hello.sock" "$HELLO" --threads 2
check "Unix socket: POST /echo" "over unix" \
  "$(curl -s --unix-socket "$TMP/hello.sock" --data-binary 'over unix' http://localhost/echo)"
check "Unix socket: the address it says" \
  "turbo-hello: serving on unix:$TMP/hello.sock (inherited fd 3) with 2 thread(s)" \
  "$(grep -a 'turbo-hello: serving' "$TMP/unix.log")"
sigterm_exit "$ACT_PID" "turbo-hello on a Unix socket"

# LISTEN_PID naming another process: not for this one; it binds as usual.
LISTEN_PID=1 LISTEN_FDS=1 "$HELLO" --port "$PORT3" --threads 1 >"$TMP/notmine.log" 2>&1 &
pid=$!
started "$pid"
wait_for "$TMP/notmine.log" "serving on"
check "LISTEN_PID of another process is ignored" \
  "turbo-hello: serving on http://127.0.0.1:$PORT3/ with 1 thread(s)" "$(head -n 1 "$TMP/notmine.log")"
sigterm_exit "$pid" "turbo-hello with a foreign LISTEN_PID"

# ---------------------------------------------------------------------------
# --fd N, and what socket activation buys: a supervisor (here Python, as
# systemd) holds the listening socket; the server stops and starts again,
# and the connections made while none runs wait in the backlog and are
# answered by the next one. Nothing is refused.
check "restart with the socket held: no connection lost" ok "$("$PY" - "$HELLO" <<'PY'
import signal, socket, subprocess, sys
hello = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
port, fd = s.getsockname()[1], s.fileno()
REQ = b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
BODY = b'{"message":"Hello, World!"}'

def start():
    p = subprocess.Popen([hello, "--fd", str(fd), "--threads", "2"], pass_fds=[fd],
                         stdout=subprocess.PIPE, text=True)
    want = f"turbo-hello: serving on http://127.0.0.1:{port}/ (inherited fd {fd}) with 2 thread(s)\n"
    line = p.stdout.readline()
    if line != want:
        sys.exit(f"announced {line!r}, not {want!r}")
    return p

def stop(p):
    p.send_signal(signal.SIGTERM)
    if p.wait(10) != 0 or p.stdout.read() != "turbo-hello: stopped\n":
        sys.exit(f"did not stop cleanly: {p.returncode}")

def answer(c):
    data = b""
    while chunk := c.recv(65536):
        data += chunk
    if not (data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\n" + BODY)):
        sys.exit(f"bad answer {data!r}")

procs = []
try:
    p = start()
    procs.append(p)
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(REQ)
    answer(c)
    stop(p)
    # No server now, but the socket listens: these connect and wait.
    waiting = []
    for _ in range(5):
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(REQ)
        waiting.append(c)
    p = start()
    procs.append(p)
    for c in waiting:
        answer(c)
    stop(p)
    print("ok")
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
PY
)"

# ---------------------------------------------------------------------------
# turbo-serve --workers 2 under socket activation: both workers accept from
# the inherited socket; neither the app nor the workers see LISTEN_*.
if [ -n "$SERVE" ]; then
  cat >"$TMP/activated_app.py" <<'EOF'
import os
import time

from turbo import App

app = App()


@app.get("/pid")
def pid():
    env = sorted(k for k in os.environ if k.startswith("LISTEN_"))
    return {"pid": os.getpid(), "ppid": os.getppid(), "listen_env": env}


@app.get("/slow")
def slow(secs: float = 1.0):
    time.sleep(secs)
    return {"slept": secs}
EOF
  PYPATH=$(dirname "$SERVE") # the build's package: <build>/bindings/python/turbo
  read -r PORT4 < <(free_ports 1)
  activated serve "127.0.0.1:$PORT4" -E "PYTHONPATH=$PYPATH" -E PYTHONDONTWRITEBYTECODE=1 \
    "$SERVE" activated_app:app --workers 2
  URL=http://127.0.0.1:$PORT4
  wait_http "$URL/pid"
  # A worker answers as soon as it is up; the supervisor prints its line
  # once every worker is: wait for the line, not just for an answer.
  wait_for "$TMP/serve.log" "turbo-serve: serving" 10
  check "turbo-serve serves the inherited fd 3" \
    "turbo-serve: serving activated_app:app on $URL/ (inherited fd 3) (2 worker(s), 1 I/O thread(s) each)" \
    "$(grep -a 'turbo-serve: serving' "$TMP/serve.log")"
  for _ in $(seq 1 200); do curl -s "$URL/pid"; echo; done >"$TMP/pids.txt"
  cat >"$TMP/pids.py" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
if sys.argv[2] == "summary":
    ppids = ",".join(sorted({str(r["ppid"]) for r in rows}))
    envs = " ".join(sorted({json.dumps(r["listen_env"]) for r in rows}))
    print("%d workers, ppid %s, listen_env %s" % (len({r["pid"] for r in rows}), ppids, envs))
else:
    print(" ".join(sorted({str(r["pid"]) for r in rows})))
EOF
  check "two workers answered, children of the activated process, without LISTEN_*" \
    "2 workers, ppid $ACT_PID, listen_env []" "$("$PY" "$TMP/pids.py" "$TMP/pids.txt" summary)"
  workers=$("$PY" "$TMP/pids.py" "$TMP/pids.txt" pids)
  # SIGTERM with a request in flight: it is answered, then all exit 0.
  curl -s "$URL/slow?secs=1" >"$TMP/slow.out" &
  slow=$!
  started "$slow"
  sleep 0.4
  sigterm_exit "$ACT_PID" "activated turbo-serve --workers 2"
  wait "$slow" || true
  check "the request in flight at SIGTERM was answered" '{"slept":1.0}' "$(cat "$TMP/slow.out")"
  left=""
  for w in $workers; do kill -0 "$w" 2>/dev/null && left="$left $w"; done
  check "no worker left" "" "$left"
else
  echo "skip turbo-serve: not built (TURBO_BUILD_PYTHON off)"
fi

# ---------------------------------------------------------------------------
# systemd-analyze verify on the unit files, with ExecStart's installed path
# pointing at the build's binary (verify checks that it is executable).
# First a trivial unit: where verify itself cannot run, say so and skip.
mkdir "$TMP/units"
printf '[Unit]\nDescription=probe\n\n[Service]\nExecStart=/bin/true\n' >"$TMP/units/probe.service"
if ! probe=$(systemd-analyze verify "$TMP/units/probe.service" 2>&1) || [ -n "$probe" ]; then
  echo "skip systemd-analyze verify: it does not work here: $probe"
else
  for f in turbo-hello.socket turbo-hello.service turbo-hello@.socket turbo-hello@.service; do
    sed "s|$INSTALLED|$HELLO|" "$DEPLOY_DIR/$f" >"$TMP/units/$f"
  done
  check "systemd-analyze verify turbo-hello.socket turbo-hello.service" "" \
    "$(systemd-analyze verify "$TMP/units/turbo-hello.socket" "$TMP/units/turbo-hello.service" 2>&1 || echo "exit status $?")"
  check "systemd-analyze verify turbo-hello@8001.socket turbo-hello@8001.service" "" \
    "$(systemd-analyze verify "$TMP/units/turbo-hello@8001.socket" "$TMP/units/turbo-hello@8001.service" 2>&1 || echo "exit status $?")"
fi
finish
