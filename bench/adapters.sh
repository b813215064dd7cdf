#!/usr/bin/env bash
# Requests/s, p99 and server CPU µs/request for a Flask hello and a FastAPI
# hello, served unmodified by libturbo's WSGI and ASGI adapters
# (`python -m turbo --interface wsgi|asgi`) and by the usual servers, in one
# run. GET /hello -> 200 application/json {"message":"Hello, World!"}; one
# app file per table, the same for every server in it:
#
#   WSGI, bench/apps/flask_hello.py `app`: libturbo (C adapter, the app on
#   its one I/O thread), gunicorn sync (-w 1), gunicorn gthread (-w 1
#   --threads 4), uWSGI (Debian's, python3 plugin, one process, one thread,
#   --http-socket), bjoern (bench/apps/bjoern_run.py), granian WSGI (one
#   worker, one blocking thread, one runtime thread).
#   ASGI, bench/apps/fastapi_hello.py `app_async`: libturbo (asgi.py +
#   asgi.c, one I/O thread), uvicorn (uvloop + httptools, one worker),
#   hypercorn (-k uvloop, one worker), granian ASGI (one worker, one runtime
#   thread, uvloop).
#
# Targets, printed with ratios measured in the same run:
#   WSGI: libturbo's server CPU µs/request below every peer's, and its
#         req/s ≥ bjoern's;
#   ASGI: libturbo's req/s ≥ 1.3 × granian's, at an equal or better p99.
#
# Method (bench/lib.sh, as bench/peers.sh): each server in turn is started
# pinned to core 0 (`taskset -c 0`), checked with curl (200,
# application/json, the exact body), warmed up 2 s, measured RUNS times
# for DURATION s with `wrk -t1 -c50 --latency` pinned to core 1, and
# stopped. Server CPU is utime+stime of the server's process and its
# children (/proc) over a run, divided by the requests wrk completed; other
# load on core 0 is core 0's busy time (/proc/stat) not spent by the
# server. Reported: the median of each column over the runs (req/s, p50,
# p99, CPU µs/request separately); every run is listed at the end.
# gunicorn's sync worker and uWSGI's --http-socket close the connection
# after each answer, so their rows include a TCP connect per request; uWSGI
# closes without a "Connection: close" header, so wrk counts one read
# "socket error" per request for it.
#
# Installs what it needs: wrk, uWSGI and libev-dev (Debian, via
# scripts/install-deps.sh), .venv (scripts/venv.sh: Flask, FastAPI,
# gunicorn, uvicorn, granian), and build-bench/bench-venv from
# bench/requirements-bench.txt (bjoern, built from its sdist, and
# hypercorn), made again only when that file changes.
# Writes $ADAPTERS_OUT/adapters-latest.md (default bench/results);
# BENCH_NOTE, if set, is printed under its title.
#
# Usage: bench/adapters.sh [DURATION=10] [RUNS=3]   (a full run: ~7 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
OUT=${ADAPTERS_OUT:-bench/results}

scripts/install-deps.sh wrk uwsgi-core uwsgi-plugin-python3 libev-dev >/dev/null
PY=$(scripts/venv.sh)
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target turbo_py >/dev/null
export PYTHONPATH=$PWD/build-bench/bindings/python

. bench/lib.sh
BPY=$(bench_venv)
SITE=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') # .venv's, for uWSGI

tmp=$(mktemp -d)
trap 'bench_cleanup; rm -rf "$tmp"' EXIT
mkdir -p "$OUT"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
revision=$(git describe --always --dirty 2>/dev/null || echo ?) # before the report dirties the tree
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

CMDS=() # every server command line, as run (for the report)

# start NAME PORT COMMAND...: COMMAND on core 0, in bench/apps; waits for
# /hello and checks its answer; sets $pid.
start() {
  local name=$1 port=$2
  shift 2
  CMDS+=("$name: (cd bench/apps && taskset -c 0 $*)")
  (cd bench/apps && exec taskset -c 0 "$@") >"$tmp/$name.log" 2>&1 &
  pid=$!
  BENCH_PIDS+=("$pid")
  wait_up "http://127.0.0.1:$port/hello" || { cat "$tmp/$name.log" >&2; exit 1; }
  check_hello "$name" "http://127.0.0.1:$port/hello"
}

stop() { # pid: a server this script started
  local p=$1 keep=() q
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${BENCH_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  BENCH_PIDS=("${keep[@]}")
}

# bench NAME PID PORT: warm-up, then RUNS runs; appends to $tmp/runs
# "name rps p50 p99 us/req other0% non2xx sockerr" per run.
bench() {
  local name=$1 pid=$2 url=http://127.0.0.1:$3/hello r s0 s1 b0 b1 t0 t1 out
  taskset -c 1 wrk -t1 -c50 -d2s "$url" >/dev/null
  for r in $(seq 1 "$RUNS"); do
    s0=$(tree_ticks "$pid") b0=$(core_busy 0) t0=$(date +%s.%N)
    out=$(taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --latency "$url")
    s1=$(tree_ticks "$pid") b1=$(core_busy 0) t1=$(date +%s.%N)
    echo "$out" | parse_wrk | awk -v n="$name" -v hz="$hz" -v s=$((s1 - s0)) -v c0=$((b1 - b0)) \
      -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" '{
        other = c0 - s
        printf "%s %s %s %s %.2f %.1f %d %d\n", n, $2, $3, $4, s / hz * 1e6 / $1,
          other < 0 ? 0 : 100 * other / hz / w, $5, $6 }' >>"$tmp/runs"
  done
}

# serve NAME PORT COMMAND...: start, measure, stop.
serve() {
  local name=$1 port=$2
  start "$@"
  bench "$name" "$pid" "$port"
  stop "$pid"
}

GRANIAN=$(dirname "$PY")/granian
: >"$tmp/runs"

# =========================================================================
# WSGI: bench/apps/flask_hello.py app
# =========================================================================
serve turbo_wsgi 18601 "$PY" -m turbo --interface wsgi flask_hello:app --port 18601 --threads 1
serve gunicorn_sync 18602 "$PY" -m gunicorn --workers 1 --worker-class sync --bind 127.0.0.1:18602 \
  --log-level warning flask_hello:app
serve gunicorn_gthread 18603 "$PY" -m gunicorn --workers 1 --worker-class gthread --threads 4 \
  --bind 127.0.0.1:18603 --log-level warning flask_hello:app
serve uwsgi 18604 uwsgi --plugin python3 --http-socket 127.0.0.1:18604 --module flask_hello:app \
  --pythonpath "$SITE" --pythonpath . --processes 1 --threads 1 --disable-logging
serve bjoern 18605 "$BPY" bjoern_run.py flask_hello:app 127.0.0.1 18605
serve granian_wsgi 18606 "$GRANIAN" --interface wsgi --host 127.0.0.1 --port 18606 --workers 1 \
  --blocking-threads 1 --runtime-threads 1 --http 1 --no-ws --log-level warning --no-access-log \
  flask_hello:app

# =========================================================================
# ASGI: bench/apps/fastapi_hello.py app_async
# =========================================================================
serve turbo_asgi 18611 "$PY" -m turbo --interface asgi fastapi_hello:app_async --port 18611 --threads 1
serve uvicorn 18612 "$PY" -m uvicorn fastapi_hello:app_async --host 127.0.0.1 --port 18612 \
  --workers 1 --loop uvloop --http httptools --log-level warning --no-access-log
serve hypercorn 18613 "$(dirname "$BPY")/hypercorn" --worker-class uvloop --workers 1 \
  --bind 127.0.0.1:18613 --log-level warning fastapi_hello:app_async
serve granian_asgi 18614 "$GRANIAN" --interface asgi --host 127.0.0.1 --port 18614 --workers 1 \
  --runtime-threads 1 --loop uvloop --http 1 --no-ws --log-level warning --no-access-log \
  fastapi_hello:app_async

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# =========================================================================
# Report
# =========================================================================
us_of() { # wrk latency ("85.00us", "1.20ms", "1.00s") in µs
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) m = 1; else if (v ~ /ms$/) m = 1e3; else if (v ~ /m$/) m = 6e7; else m = 1e6; print n * m }'
}
# med NAME COLUMN: the median over a server's runs of one column
# (2 req/s, 3 p50, 4 p99, 5 CPU µs/req, 6 other load, 7 non-2xx, 8 socket errors).
med() {
  awk -v s="$1" -v c="$2" '$1 == s {print $c}' "$tmp/runs" | while read -r v; do
    case $v in *s) echo "$(us_of "$v") $v" ;; *) echo "$v $v" ;; esac
  done | sort -g | awk -v r="$RUNS" 'NR == int((r + 1) / 2) {print $2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v c="$1" 'BEGIN { print (c ? "**met**" : "**not met**") }'; } # condition 0/1
pyver() { "$1" -c "import importlib.metadata as m; print(m.version('$2'))"; } # python package
declare -A label=(
  [turbo_wsgi]="libturbo (\`--interface wsgi\`)" [gunicorn_sync]="gunicorn sync"
  [gunicorn_gthread]="gunicorn gthread (4 threads)" [uwsgi]="uWSGI (--http-socket)"
  [bjoern]="bjoern" [granian_wsgi]="granian WSGI"
  [turbo_asgi]="libturbo (\`--interface asgi\`)" [uvicorn]="uvicorn (uvloop, httptools)"
  [hypercorn]="hypercorn (uvloop)" [granian_asgi]="granian ASGI (uvloop)")
table() { # server... (the first is the reference, libturbo)
  local ref=$1 s ref_us
  ref_us=$(med "$ref" 5)
  echo "| server | req/s | p50 | p99 | server CPU µs/req | CPU × libturbo | other load on core 0 | non-2xx | socket errors |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in "$@"; do
    echo "| ${label[$s]} | $(printf '%.0f' "$(med "$s" 2)") | $(med "$s" 3) | $(med "$s" 4) | $(med "$s" 5) | $(ratio "$(med "$s" 5)" "$ref_us") | $(med "$s" 6)% | $(med "$s" 7) | $(med "$s" 8) |"
  done
}
WSGI=(turbo_wsgi gunicorn_sync gunicorn_gthread uwsgi bjoern granian_wsgi)
ASGI=(turbo_asgi uvicorn hypercorn granian_asgi)
{
  echo "# Flask and FastAPI hellos on libturbo's WSGI and ASGI adapters, beside the usual servers"
  echo
  [ -z "${BENCH_NOTE:-}" ] || { echo "**$BENCH_NOTE**"; echo; }
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r) ($(uname -m)); Debian $(cat /etc/debian_version)."
  echo "Run: $started, \`bench/adapters.sh $DURATION $RUNS\` (each server in turn: a 2 s warm-up, then $RUNS runs of ${DURATION} s; the median of each column). Load average (1/5/15 min) at start: $load_start, at the end: $load_end."
  busy=$(awk '$6 > 5' "$tmp/runs" | wc -l)
  if [ "$busy" -gt 0 ]; then
    echo
    echo "**Contention:** in $busy of $(wc -l <"$tmp/runs") runs, other work took more than 5% of the server's core (\"other load on core 0\", every run at the end): those runs' figures are pessimistic."
  fi
  echo
  echo "Versions: libturbo $revision, $("$PY" --version), Flask $(pyver "$PY" flask), FastAPI $(pyver "$PY" fastapi), gunicorn $(pyver "$PY" gunicorn), uvicorn $(pyver "$PY" uvicorn), uvloop $(pyver "$PY" uvloop), httptools $(pyver "$PY" httptools), granian $(pyver "$PY" granian), uWSGI $(uwsgi --version), bjoern $(pyver "$BPY" bjoern), hypercorn $(pyver "$BPY" hypercorn), $(wrk -v 2>&1 | head -n1 | awk '{print "wrk", $2}')."
  echo
  echo "Server on core 0 (\`taskset -c 0\`), \`taskset -c 1 wrk -t1 -c50 -d${DURATION}s --latency\` on core 1, keep-alive. Server CPU = utime+stime of the server's process and its children (/proc) over a run / requests completed. Other load on core 0 = core 0's busy time (/proc/stat) not spent by the server, as a share of the run's wall time; near 0% means the server had its core to itself. When wrk's core is the bottleneck, req/s is the load generator's ceiling, not the server's: compare CPU µs/request."
  echo
  echo "gunicorn sync and uWSGI's \`--http-socket\` close the connection after every answer: their rows include a TCP connect per request. uWSGI closes without sending \"Connection: close\", so wrk counts one read \"socket error\" per request for it."
  echo
  echo "## WSGI: \`bench/apps/flask_hello.py\` \`app\`, GET /hello"
  echo
  table "${WSGI[@]}"
  echo
  echo "## ASGI: \`bench/apps/fastapi_hello.py\` \`app_async\`, GET /hello"
  echo
  table "${ASGI[@]}"
  echo
  echo "## Targets"
  echo
  t_us=$(med turbo_wsgi 5)
  worst=1 cmp=
  for s in "${WSGI[@]:1}"; do
    cmp+="${cmp:+, }${label[$s]} $(ratio "$t_us" "$(med "$s" 5)")"
    worst=$(awk -v a="$t_us" -v b="$(med "$s" 5)" -v w="$worst" 'BEGIN { print (w && a + 0 < b + 0) ? 1 : 0 }')
  done
  t_rps=$(med turbo_wsgi 2) b_rps=$(med bjoern 2)
  a_rps=$(med turbo_asgi 2) g_rps=$(med granian_asgi 2)
  a_p99=$(med turbo_asgi 4) g_p99=$(med granian_asgi 4)
  echo "| target | measured | verdict |"
  echo "|---|---|---|"
  echo "| WSGI: libturbo CPU µs/req below every peer's | libturbo $t_us µs; libturbo/peer: $cmp | $(verdict "$worst") |"
  echo "| WSGI: libturbo req/s ≥ bjoern's | turbo/bjoern req/s = $(ratio "$t_rps" "$b_rps") | $(verdict "$(awk -v a="$t_rps" -v b="$b_rps" 'BEGIN { print (a >= b) }')") |"
  echo "| ASGI: libturbo req/s ≥ 1.3 × granian's | turbo/granian req/s = $(ratio "$a_rps" "$g_rps") | $(verdict "$(awk -v a="$a_rps" -v b="$g_rps" 'BEGIN { print (a >= 1.3 * b) }')") |"
  echo "| ASGI: at an equal or better p99 | p99 $a_p99 vs $g_p99 | $(verdict "$(awk -v a="$(us_of "$a_p99")" -v b="$(us_of "$g_p99")" 'BEGIN { print (a <= b) }')") |"
  echo
  echo "## Commands"
  echo
  echo '```'
  echo "bench/adapters.sh $DURATION $RUNS"
  echo "# servers, each started, checked with curl, measured and stopped in turn"
  echo "# (PYTHONPATH=build-bench/bindings/python; PY=$PY, bench venv: $BPY, uWSGI's --pythonpath: $SITE):"
  for c in "${CMDS[@]}"; do echo "$c"; done
  echo "# each: taskset -c 1 wrk -t1 -c50 -d2s URL (warm-up); then $RUNS x taskset -c 1 wrk -t1 -c50 -d${DURATION}s --latency URL"
  echo "# URL: http://127.0.0.1:PORT/hello"
  echo '```'
  echo
  echo "## Every run"
  echo
  echo '```'
  echo "# server req/s p50 p99 cpu_us/req other_load_core0% non2xx socket_errors"
  cat "$tmp/runs"
  echo '```'
} >"$OUT/adapters-latest.md"

cat "$OUT/adapters-latest.md"
