#!/usr/bin/env bash
# The command lines of turbo-hello and turbo-serve: --help prints the whole
# usage on stdout and exits 0; every bad invocation prints exactly one line
# naming the problem on stderr, nothing on stdout, and exits 2.
#
#   tests/cli.sh BUILD/turbo-hello [BUILD/bindings/python/turbo-serve]
#
# Without the second argument (no Python binding built) only turbo-hello
# is checked.
set -euo pipefail
HELLO=${1:?usage: tests/cli.sh TURBO_HELLO [TURBO_SERVE]}
SERVE=${2:-}
PY=/usr/bin/python3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/turbo-cli.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILED=0

# A launcher for the cases that need inherited descriptors or
# LISTEN_PID = the server's own PID (it execs the server, PID unchanged):
#   fdexec.py N=file|closed|tcp|bound|udp|listen ... [pid] [VAR=VALUE ...] -- CMD...
cat >"$TMP/fdexec.py" <<'EOF'
import os, socket, sys
args = sys.argv[1:]
cut = args.index("--")
env = dict(os.environ)
for spec in args[:cut]:
    key, _, what = spec.partition("=")
    if key == "pid":
        env["LISTEN_PID"] = str(os.getpid())
    elif not key.isdigit():
        env[key] = what
    else:
        fd = int(key)
        if what == "closed":
            try:
                os.close(fd)
            except OSError:
                pass
            continue
        if what == "file":
            new = os.open("/dev/null", os.O_RDONLY)
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if what == "udp" else socket.SOCK_STREAM)
            if what in ("bound", "listen", "udp"):
                s.bind(("127.0.0.1", 0))
            if what == "listen":
                s.listen(8)
            new = s.detach()
        if new == fd:
            os.set_inheritable(fd, True)
        else:
            os.dup2(new, fd)  # inheritable
            os.close(new)
os.execve(args[cut + 1], args[cut + 1:], env)
EOF
run() { timeout 20 "$@" </dev/null >"$TMP/out" 2>"$TMP/err"; }
FDEXEC=("$PY" "$TMP/fdexec.py")

report() { # name ok|problem
  if [ "$2" = ok ]; then
    printf 'ok   %s\n' "$1"
  else
    printf 'FAIL %s\n  %s\n' "$1" "$2"
    FAILED=1
  fi
}

# bad WANT CMD...: exit status 2, nothing on stdout, stderr exactly WANT.
bad() {
  local want=$1 status=0
  shift
  run "$@" || status=$?
  local name="$*"
  name=${name//$PY $TMP\/fdexec.py/fdexec}
  name=${name//$HELLO/turbo-hello}
  [ -n "$SERVE" ] && name=${name//$SERVE/turbo-serve}
  if [ "$status" != 2 ]; then
    report "$name" "exit status $status, not 2 (stderr: $(cat "$TMP/err"))"
  elif [ -s "$TMP/out" ]; then
    report "$name" "stdout not empty: $(cat "$TMP/out")"
  elif [ "$(cat "$TMP/err")" != "$want" ]; then
    report "$name" "$(printf 'stderr\n    expected: %q\n    actual:   %q' "$want" "$(cat "$TMP/err")")"
  else
    report "$name" ok
  fi
}

# bad_load WANT_LAST_LINE CMD...: exit status 2, nothing on stdout, and the
# Python traceback on stderr ending with WANT_LAST_LINE.
bad_load() {
  local want=$1 status=0
  shift
  run "$@" || status=$?
  local name="turbo-serve ${*:2}"
  if [ "$status" != 2 ] || [ -s "$TMP/out" ] || [ "$(tail -n 1 "$TMP/err")" != "$want" ]; then
    report "$name" "exit status $status, stdout '$(cat "$TMP/out")', stderr: $(cat "$TMP/err")"
  else
    report "$name" ok
  fi
}

# help BIN NAME WORD...: exit 0, nothing on stderr, every WORD on stdout.
help() {
  local bin=$1 name=$2 status=0 w missing=""
  shift 2
  run "$bin" --help || status=$?
  for w in "$@"; do grep -qF -- "$w" "$TMP/out" || missing="$missing '$w'"; done
  if [ "$status" != 0 ]; then
    report "$name --help" "exit status $status"
  elif [ -s "$TMP/err" ]; then
    report "$name --help" "stderr: $(cat "$TMP/err")"
  elif [ -n "$missing" ]; then
    report "$name --help" "missing:$missing"
  else
    report "$name --help" ok
  fi
}

common_help=("--host HOST" "--port PORT" "--reuse-port" "--fd N" "--threads N" "--help"
  "default 127.0.0.1" "default 8000" "LISTEN_PID" "LISTEN_FDS" "LISTEN_FDNAMES" "SIGTERM"
  "Exit status:" "  0  " "  1  " "  2  ")
help "$HELLO" turbo-hello "usage: turbo-hello" "${common_help[@]}" "0 for one per CPU (default 0)"
status=0
run "$HELLO" --port 1 --help || status=$?
report "turbo-hello --port 1 --help" "$([ "$status" = 0 ] && cmp -s "$TMP/out" <("$HELLO" --help) && echo ok || echo "status $status")"

# The cases both programs share. $1: the program's name; the rest: the
# command before the options (turbo-serve: its MODULE:APP).
common_bad() {
  local p=$1
  shift
  bad "$p: unknown option '--bogus' (see --help)" "$@" --bogus
  bad "$p: unknown option '--bogus' (see --help)" "$@" --bogus=1
  bad "$p: unknown option '-p' (see --help)" "$@" -p 80
  bad "$p: unknown option '--por' (see --help)" "$@" --por 80
  bad "$p: --port must be a number from 0 to 65535, not 'abc'" "$@" --port abc
  bad "$p: --port must be a number from 0 to 65535, not '70000'" "$@" --port 70000
  bad "$p: --port must be a number from 0 to 65535, not '-1'" "$@" --port=-1
  bad "$p: --port must be a number from 0 to 65535, not ''" "$@" --port=
  bad "$p: --port must be a number from 0 to 65535, not '80x'" "$@" --port 80x
  bad "$p: --threads must be a number from 0 to 1024, not '-1'" "$@" --threads -1
  bad "$p: --threads must be a number from 0 to 1024, not '1025'" "$@" --threads 1025
  bad "$p: option --port needs a value" "$@" --port
  bad "$p: option --host needs a value" "$@" --host
  bad "$p: option --threads needs a value" "$@" --port 0 --threads
  bad "$p: option --fd needs a value" "$@" --fd
  bad "$p: option --help takes no value" "$@" --help=yes
  bad "$p: option --reuse-port takes no value" "$@" --reuse-port=yes
  bad "$p: option --proxy-protocol takes no value" "$@" --proxy-protocol=yes
  bad "$p: option --forwarded-allow-ips needs a value" "$@" --forwarded-allow-ips
  bad "$p: --forwarded-allow-ips must be a comma-separated list of at most 32 IP addresses, networks (10.0.0.0/8) or *, not 'localhost'" "$@" --forwarded-allow-ips localhost
  bad "$p: --forwarded-allow-ips must be a comma-separated list of at most 32 IP addresses, networks (10.0.0.0/8) or *, not '10.0.0.0/33'" "$@" --forwarded-allow-ips=10.0.0.0/33
  bad "$p: --forwarded-header must be x-forwarded-for or forwarded, not 'x-real-ip'" "$@" --forwarded-header x-real-ip
  bad "$p: --health-path must be a path starting with '/' (visible ASCII, no {}?#, at most 255 bytes), not 'healthz'" "$@" --health-path healthz
  bad "$p: --metrics-path must be a path starting with '/' (visible ASCII, no {}?#, at most 255 bytes), not '/a b'" "$@" --metrics-path '/a b'
  bad "$p: --metrics-path must be a path starting with '/' (visible ASCII, no {}?#, at most 255 bytes), not ''" "$@" --metrics-path=
  bad "$p: --health-path and --metrics-path must differ" "$@" --health-path /x --metrics-path /x
  bad "$p: --fd must be a file descriptor number, not 'notanumber'" "$@" --fd notanumber
  bad "$p: --fd must be a file descriptor number, not '-3'" "$@" --fd -3
  bad "$p: --fd 99: not an open file descriptor" "${FDEXEC[@]}" 99=closed -- "$@" --fd 99
  bad "$p: --fd 5: not a socket" "${FDEXEC[@]}" 5=file -- "$@" --fd 5
  bad "$p: --fd 5: not a listening socket (listen() was not called on it)" "${FDEXEC[@]}" 5=tcp -- "$@" --fd 5
  bad "$p: --fd 5: not a listening socket (listen() was not called on it)" "${FDEXEC[@]}" 5=bound -- "$@" --fd 5
  bad "$p: --fd 5: not a stream socket" "${FDEXEC[@]}" 5=udp -- "$@" --fd 5
  bad "$p: --fd cannot be combined with --host or --port" "${FDEXEC[@]}" 5=listen -- "$@" --fd 5 --port 8000
  bad "$p: --fd cannot be combined with --host or --port" "${FDEXEC[@]}" 5=listen -- "$@" --host 127.0.0.1 --fd 5
  # systemd socket activation (LISTEN_PID is the server's PID)
  bad "$p: LISTEN_FDS=2: socket activation passed 2 sockets, only one is supported" \
    "${FDEXEC[@]}" 3=listen 4=listen pid LISTEN_FDS=2 -- "$@"
  bad "$p: LISTEN_FDS='two' is not a number of sockets" "${FDEXEC[@]}" 3=listen pid LISTEN_FDS=two -- "$@"
  bad "$p: LISTEN_FDS fd 3: not a socket" "${FDEXEC[@]}" 3=file pid LISTEN_FDS=1 -- "$@"
  bad "$p: LISTEN_FDS fd 3: not an open file descriptor" "${FDEXEC[@]}" 3=closed pid LISTEN_FDS=1 -- "$@"
  bad "$p: LISTEN_FDS fd 3: not a listening socket (listen() was not called on it)" \
    "${FDEXEC[@]}" 3=tcp pid LISTEN_FDS=1 -- "$@"
}

common_bad turbo-hello "$HELLO"
bad "turbo-hello: unexpected argument 'extra' (see --help)" "$HELLO" extra
bad "turbo-hello: unexpected argument 'extra' (see --help)" "$HELLO" --port 0 extra
bad "turbo-hello: unexpected argument 'extra' (see --help)" "$HELLO" -- extra

if [ -n "$SERVE" ]; then
  PYTHONPATH=$(dirname "$SERVE") # the build's turbo package
  export PYTHONPATH
  cd "$TMP"
  printf 'from turbo import App\napp = App()\n' >cli_app.py
  help "$SERVE" turbo-serve "usage: turbo-serve MODULE:APP" "${common_help[@]}" "--workers N" \
    "(default 1)" "PYTHONPATH"
  common_bad turbo-serve "$SERVE" cli_app:app
  bad "turbo-serve: --workers must be a number from 1 to 1024, not '0'" "$SERVE" cli_app:app --workers 0
  bad "turbo-serve: --workers must be a number from 1 to 1024, not '1025'" "$SERVE" cli_app:app --workers 1025
  bad "turbo-serve: option --workers needs a value" "$SERVE" cli_app:app --workers
  missing="turbo-serve: missing the MODULE:APP argument (usage: turbo-serve MODULE:APP [OPTIONS]; see --help)"
  bad "$missing" "$SERVE"
  bad "$missing" "$SERVE" --port 0 --workers 2
  for spec in cli_app :app cli_app: a:b:c; do
    bad "turbo-serve: '$spec' is not MODULE:APP (a module and an attribute, e.g. myapp:app)" "$SERVE" "$spec"
  done
  bad "turbo-serve: unexpected argument 'other:app' (see --help)" "$SERVE" cli_app:app other:app
  bad "turbo-serve: unexpected argument 'other:app' (see --help)" "$SERVE" cli_app:app --port 0 other:app
  bad_load "turbo-serve: cannot load no_such_module_xyz:app" "$SERVE" no_such_module_xyz:app --port 0
  bad_load "turbo-serve: cannot load cli_app:nope" "$SERVE" cli_app:nope --port 0
else
  echo "skip turbo-serve: not built"
fi

if [ "$FAILED" != 0 ]; then
  echo "some checks failed"
  exit 1
fi
echo "all checks passed"
