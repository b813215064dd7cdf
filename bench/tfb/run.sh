#!/usr/bin/env bash
# The TechEmpower suite in one command: for every server and test, (a) server
# CPU µs/request at saturation (wrk, /proc), (b) open-loop latency at fixed
# rates below that saturation (bench/tfb_load.c: coordinated omission
# avoided), (c) instructions per request (callgrind,
# bench/tfb/instructions.sh). Writes $TFB_OUT/tfb-latest.md (default
# bench/results) and one latency-vs-rate PNG per test, tfb-latency-TEST.png.
#
# usage: bench/tfb/run.sh [TEST...]
#   TEST: plaintext json db queries fortunes updates (default: all six);
#   queries and updates run at each of $QUERIES (default "1 20 500").
# Environment:
#   SERVERS   default "c python fastapi granian flask robyn nginx h2o socketify";
#             nginx and h2o serve plaintext and json only; socketify is
#             reported as missing (see below)
#   DURATION  s per saturation run (default 10); RUNS (default 3; the median
#             run by server CPU µs/request is reported); CONNS (wrk
#             connections, default 256)
#   RATES     fractions of each server's measured saturation req/s for the
#             open-loop runs (default "0.1 0.3 0.5 0.7 0.9"); LAT_SECONDS (s
#             recorded per rate, default DURATION; 1 s warm-up before);
#             LAT_CONNS (tfb_load connections, default 64); LATENCY=0 skips
#   INSTR=0   skips the callgrind counts; INSTR_CASES limits them to some
#             cases (e.g. "json db fortunes queries/20"; Python servers under
#             callgrind take a minute or more per case); N1/N2 as
#             instructions.sh (100/600)
#   QUERIES, PG_CORE (default 1), BUILD (a build directory with
#   turbo-techempower-pg, tfb_load and the binding; default: a Release build
#   in build-bench, made here), TFB_OUT, BENCH_NOTE
#
# Method (bench/lib.sh): each server alone on core 0 (taskset, one I/O
# thread or one worker/process), the client on core 1, PostgreSQL pinned to
# core $PG_CORE. Server CPU = utime+stime of the server's process tree from
# /proc over the run, divided by the requests wrk completed. plaintext is
# pipelined 16 deep (bench/pipeline.lua) at saturation; its open-loop
# latency is not measured (tfb_load does not pipeline). Every server is
# first held to TechEmpower's rules by bench/tfb/verify.py; one that fails is
# reported as such and not measured.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
CONNS=${CONNS:-256}
PG_CORE=${PG_CORE:-1}
LAT_SECONDS=${LAT_SECONDS:-$DURATION}
LAT_CONNS=${LAT_CONNS:-64}
LATENCY=${LATENCY:-1}
INSTR=${INSTR:-1}
OUT=${TFB_OUT:-bench/results}
read -r -a RATES <<<"${RATES:-0.1 0.3 0.5 0.7 0.9}"
read -r -a QS <<<"${QUERIES:-1 20 500}"
read -r -a SERVERS <<<"${SERVERS:-c python fastapi granian flask robyn nginx h2o socketify}"
TESTS=("$@")
[ ${#TESTS[@]} -gt 0 ] || TESTS=(plaintext json db queries fortunes updates)
for t in "${TESTS[@]}"; do
  case $t in plaintext | json | db | queries | fortunes | updates) ;;
  *) echo "tfb/run.sh: unknown test '$t' (plaintext json db queries fortunes updates)" >&2; exit 2 ;;
  esac
done
for s in "${SERVERS[@]}"; do
  case $s in c | python | fastapi | granian | flask | robyn | nginx | h2o | socketify) ;;
  *) echo "tfb/run.sh: unknown server '$s'" >&2; exit 2 ;;
  esac
done
# A case is a test at one path: queries and updates once per $QUERIES.
CASES=()
for t in "${TESTS[@]}"; do
  case $t in
  queries | updates) for q in "${QS[@]}"; do CASES+=("$t/$q"); done ;;
  *) CASES+=("$t") ;;
  esac
done
path_of() { # case -> path
  case $1 in
  */*) echo "/${1%/*}?queries=${1#*/}" ;;
  *) echo "/$1" ;;
  esac
}
serves() { # server case: does this peer implement the test?
  case $1 in nginx | h2o) [ "$2" = plaintext ] || [ "$2" = json ] ;; *) true ;; esac
}

scripts/install-deps.sh wrk postgresql libpq-dev nginx h2o valgrind gnuplot-nox >/dev/null
if [ -z "${PY:-}" ]; then PY=$(scripts/venv.sh); fi
export PY
if [ -z "${BUILD:-}" ]; then
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DTURBO_PYTHON="$("$PY" -c 'import sys; print(sys.executable)')" >/dev/null
  cmake --build build-bench -j"$(nproc)" --target turbo-techempower-pg turbo_py tfb_load >/dev/null
  BUILD=$root/build-bench
fi
case $BUILD in /*) ;; *) BUILD=$root/$BUILD ;; esac
export BUILD
load=$BUILD/bench/tfb_load
[ -x "$load" ] || { echo "tfb/run.sh: $load is not built" >&2; exit 1; }

. bench/lib.sh
case " ${SERVERS[*]} " in *" robyn "*) ROBYN_PY=$(bench_venv bench/requirements-robyn.txt robyn-venv); export ROBYN_PY ;; esac
tmp=$(mktemp -d)
export TFB_STATE=$tmp/db-state
cleanup() {
  bench_cleanup
  bench/tfb/db.sh stop >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

url=$(bench/tfb/db.sh start)
pgdir=$(cat "$TFB_STATE")
postmaster=$(head -n1 "$pgdir/data/postmaster.pid")
for p in $postmaster $(pgrep -P "$postmaster" || true); do taskset -a -c -p "$PG_CORE" "$p" >/dev/null; done

# One line per run: "server case rps p50 p99 server_us non2xx sockerr"
measure_one() { # server pid url case
  local name=$1 pid=$2 url=$3 c=$4 r script=()
  [ "$c" = plaintext ] && script=(-s bench/pipeline.lua)
  taskset -c 1 wrk -t1 -c"$CONNS" -d2s --timeout 10s "${script[@]}" "$url" >/dev/null # warm-up
  for r in $(seq 1 "$RUNS"); do
    local s0 s1 out
    s0=$(tree_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "${script[@]}" "$url")
    s1=$(tree_ticks "$pid")
    echo "$out" >>"$tmp/wrk.log"
    echo "$out" | parse_wrk | awk -v n="$name" -v t="$c" -v hz="$hz" -v s=$((s1 - s0)) \
      '{ printf "%s %s %s %s %s %.1f %d %d\n", n, t, $2, $3, $4, ($1 > 0 ? s / hz * 1e6 / $1 : 0), $5, $6 }'
  done
}

# The median run's req/s (by server CPU µs/request) of a server and case.
median_rps() { grep "^$1 $2 " "$tmp/runs" | sort -k6 -g | awk -v r="$RUNS" 'NR == int((r + 1) / 2) {print $3}'; }

# "server case fraction key=value..." per open-loop run.
latency_sweep() { # server port case
  local sat f rate
  sat=$(median_rps "$1" "$3")
  [ -n "$sat" ] || return 0
  for f in "${RATES[@]}"; do
    rate=$(awk -v s="$sat" -v f="$f" 'BEGIN { r = int(s * f); print (r < 1 ? 1 : r) }')
    echo "$1 $3 $f $(taskset -c 1 "$load" "$2" "$(path_of "$3")" "$LAT_CONNS" "$rate" 1 "$LAT_SECONDS" || echo failed=1)"
  done
}

: >"$tmp/runs"
: >"$tmp/lat"
: >"$tmp/ir"
: >"$tmp/status"
port=18500
for s in "${SERVERS[@]}"; do
  if [ "$s" = socketify ]; then
    echo "socketify: missing — PyPI has only an sdist of it (socketify 0.0.31, no wheel), and this suite installs wheels only" >>"$tmp/status"
    continue
  fi
  mine=()
  for c in "${CASES[@]}"; do serves "$s" "${c%/*}" && mine+=("$c"); done
  [ ${#mine[@]} -gt 0 ] || { echo "$s: none of the tests asked for (it serves plaintext and json only)" >>"$tmp/status"; continue; }
  vt=$(printf '%s\n' "${mine[@]%/*}" | sort -u | paste -sd,)
  port=$((port + 1))
  DB_POOL_SIZE=${DB_POOL_SIZE:-32} taskset -c 0 bench/tfb/serve "$s" --port "$port" --db "$url" \
    >"$tmp/$s.log" 2>&1 &
  pid=$!
  BENCH_PIDS+=("$pid")
  if ! wait_up "http://127.0.0.1:$port/json"; then
    echo "$s: did not start: $(tail -n 3 "$tmp/$s.log" | tr '\n' ' ')" >>"$tmp/status"
    continue
  fi
  if ! "$PY" bench/tfb/verify.py "http://127.0.0.1:$port" --db "$url" --tests "$vt" >"$tmp/$s.verify" 2>&1; then
    echo "$s: failed verification (not measured): $(grep FAIL "$tmp/$s.verify" | tr '\n' ' ')" >>"$tmp/status"
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    continue
  fi
  echo "$s: passed bench/tfb/verify.py ($vt)" >>"$tmp/status"
  for c in "${mine[@]}"; do
    echo "tfb/run.sh: $s $c" >&2
    measure_one "$s" "$pid" "http://127.0.0.1:$port$(path_of "$c")" "$c" >>"$tmp/runs"
    if [ "$LATENCY" = 1 ] && [ "$c" != plaintext ]; then latency_sweep "$s" "$port" "$c" >>"$tmp/lat"; fi
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  if [ "$INSTR" = 1 ]; then
    paths=()
    for c in "${mine[@]}"; do
      case " ${INSTR_CASES:-${CASES[*]}} " in *" $c "*) paths+=("$(path_of "$c")") ;; esac
    done
    [ ${#paths[@]} -gt 0 ] || continue
    echo "tfb/run.sh: $s under callgrind" >&2
    DB=$url bench/tfb/instructions.sh "$s" "${paths[@]}" >>"$tmp/ir" 2>>"$tmp/ir.err" || true
  fi
done

# Plots: one PNG per test (case), p50 dashed and p99 solid against the
# offered rate, one colour per server.
mkdir -p "$OUT" "$tmp/plot"
plots=()
if [ "$LATENCY" = 1 ] && [ -s "$tmp/lat" ]; then
  for c in "${CASES[@]}"; do
    [ "$c" = plaintext ] && continue
    list=()
    for s in "${SERVERS[@]}"; do
      f=$tmp/plot/$(echo "$c" | tr / _).$s.dat
      grep "^$s $c " "$tmp/lat" | grep -v 'failed=1' | tr ' ' '\n' | awk -F= '
        /^target_rps=/ {r = $2} /^p50_us=/ {a = $2} /^p99_us=/ {b = $2} /^p999_us=/ {print r, a / 1000, b / 1000, $2 / 1000}' >"$f" || true
      [ -s "$f" ] && list+=("$s")
    done
    [ ${#list[@]} -gt 0 ] || continue
    png=$OUT/tfb-latency-$(echo "$c" | tr / -).png
    gnuplot -e "dir='$tmp/plot'; test='$(echo "$c" | tr / _)'; title='GET $(path_of "$c")'; servers='${list[*]}'; out='$png'" bench/tfb/latency.gp
    plots+=("$png")
  done
fi

ir_of() { awk -v s="$1" -v p="$(path_of "$2")" '$1 == s && $2 == p {print $3}' "$tmp/ir"; }

{
  echo "# TechEmpower tests (bench/tfb/run.sh)"
  echo
  [ -z "${BENCH_NOTE:-}" ] || { echo "$BENCH_NOTE"; echo; }
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(git rev-parse --short HEAD), $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')."
  echo "Command: \`DURATION=$DURATION RUNS=$RUNS LAT_SECONDS=$LAT_SECONDS RATES=\"${RATES[*]}\" QUERIES=\"${QS[*]}\" SERVERS=\"${SERVERS[*]}\" bench/tfb/run.sh ${TESTS[*]}\`."
  echo "Server on core 0 (one I/O thread / one worker), the client on core 1, PostgreSQL on core $PG_CORE (sharing the client's core)."
  echo
  echo "## At saturation"
  echo
  echo "\`taskset -c 1 wrk -t1 -c$CONNS --timeout 10s --latency\`; $RUNS run(s) of ${DURATION} s after a 2 s warm-up, the median run by server CPU µs/request shown; plaintext pipelined ×16."
  echo "server CPU µs/req = utime+stime of the server's processes (/proc) / requests completed: the column to compare on 2 shared cores;"
  echo "req/s per server core = 10⁶ / that (what one fully busy core of this machine would serve);"
  echo "Ir/req = instructions per request under callgrind (N2=${N2:-600} minus N1=${N1:-100} requests on one keep-alive connection; all server processes and threads; PostgreSQL not counted): the repeatable column;"
  echo "wrk p50/p99 are closed-loop latencies at saturation (coordinated omission not corrected; none for pipelined plaintext)."
  echo
  echo "| server | test | req/s | server CPU µs/req | req/s per server core | Ir/req | wrk p50 | wrk p99 | non-2xx | socket errors |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for s in "${SERVERS[@]}"; do
    for c in "${CASES[@]}"; do
      row=$(grep "^$s $c " "$tmp/runs" | sort -k6 -g | awk -v r="$RUNS" 'NR == int((r + 1) / 2)' || true)
      ir=$(ir_of "$s" "$c")
      if [ -z "$row" ]; then
        why="not measured"
        [ "$s" = socketify ] && why="missing (see below)"
        serves "$s" "${c%/*}" || why="not implemented by this peer"
        grep -q "^$s: passed" "$tmp/status" || [ "$s" = socketify ] || why="not measured (see below)"
        echo "| $s | $c | $why | | | | | | | |"
        continue
      fi
      echo "$row" | awk -v ir="${ir:-—}" -v d="$DURATION" '{
        if ($3 + 0 == 0) {  # wrk completed nothing: every answer took longer than the run
          printf "| %s | %s | none completed in %s s | | | %s | | | %s | %s |\n", $1, $2, d, ir, $7, $8
          next
        }
        if ($2 == "plaintext") $4 = $5 = "—"
        printf "| %s | %s | %.0f | %s | %.0f | %s | %s | %s | %s | %s |\n", $1, $2, $3, $6, ($6 > 0 ? 1e6 / $6 : 0), ir, $4, $5, $7, $8}'
    done
  done
  echo
  cj=$(ir_of c json)
  pj=$(ir_of python json)
  if [ -n "$cj" ] && [ -n "$pj" ] && [ "$cj" != - ] && [ "$pj" != - ]; then
    echo "Issue 19's Python target, json Ir/req python / c: $pj / $cj = **$(awk -v a="$pj" -v b="$cj" 'BEGIN {printf "%.2f", a / b}')×** (target ≤ 1.5×)."
    echo
  fi
  pyus=$(grep "^python json " "$tmp/runs" | sort -k6 -g | awk -v r="$RUNS" 'NR == int((r + 1) / 2) {print $6}' || true)
  if [ -n "$pyus" ]; then
    echo "Cross-machine comparison (different hardware, different method: only an order of magnitude): TechEmpower Round 23's best Python JSON results on its 28-core machine were about 2.37M req/s (FastWSGI) and 1.40M (granian WSGI), roughly 85k and 50k req/s per core; turbo's Python json here: **$(awk -v u="$pyus" 'BEGIN {printf "%.0f", 1e6 / u}') req/s per server core** (10⁶ / its server CPU µs/req above; one core of this machine, the client on the other)."
    echo
  fi
  if [ "$LATENCY" = 1 ]; then
    echo "## Open-loop latency at fixed rates"
    echo
    echo "\`taskset -c 1 tfb_load PORT PATH $LAT_CONNS RATE 1 $LAT_SECONDS\` (bench/tfb_load.c): requests sent on a fixed timetable at RATE = each fraction (${RATES[*]}) of that server's saturation req/s above,"
    echo "latency measured from each request's *scheduled* send time (coordinated omission avoided), 1 s warm-up then $LAT_SECONDS s recorded. µs."
    echo "unanswered = recorded requests with no answer within 10 s after the window (errors included); max queue = most requests due but waiting for a free connection in the client."
    echo
    echo "| server | test | fraction | target req/s | achieved req/s | p50 | p90 | p99 | p99.9 | max | non-2xx | unanswered | max queue |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    awk '{
      delete v
      for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
      if ("failed" in v) { printf "| %s | %s | %s | tfb_load failed | | | | | | | | | |\n", $1, $2, $3; next }
      printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, v["target_rps"], v["achieved_rps"],
        v["p50_us"], v["p90_us"], v["p99_us"], v["p999_us"], v["max_us"], v["non2xx"], v["unanswered"], v["max_queue"] }' "$tmp/lat"
    echo
    if [ ${#plots[@]} -gt 0 ]; then
      echo "Plots (p50 dashed, p99 solid, ms, log scale, against the offered rate):"
      for p in "${plots[@]}"; do echo "- [$(basename "$p")]($(basename "$p"))"; done
      echo
    fi
  fi
  echo "## Servers"
  echo
  sed 's/^/- /' "$tmp/status"
  echo
  if [ -s "$tmp/ir.err" ]; then
    echo "callgrind runs that failed:"
    echo
    sed 's/^/    /' "$tmp/ir.err"
    echo
  fi
  echo "Every saturation run (server test req/s p50 p99 server-µs/req non-2xx socket-errors):"
  echo
  sed 's/^/    /' "$tmp/runs"
} >"$OUT/tfb-latest.md"
cat "$OUT/tfb-latest.md"
