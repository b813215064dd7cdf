#!/usr/bin/env bash
# Do Python handlers scale across I/O threads on a free-threaded CPython?
# (issue 18)
#
# A CPU-bound handler (bench/apps/ft_cpu.py: GET /cpu, a 20,000-step
# pure-Python loop, about 1 ms) served by `python -m turbo`:
#   - free-threaded 3.13t (scripts/build-python-ft.sh, PYTHON_GIL=0) with 1
#     and 2 I/O threads, with the binding's code-object re-creation
#     (turbo/_immortal.py) and without it (TURBO_IMMORTALIZE=0), and with
#     2 worker processes of 1 thread;
#   - the GIL build (Debian's 3.11) with 1 and 2 I/O threads and with 2
#     worker processes, for reference;
# and GET /hello on 1 I/O thread on both builds: the free-threaded
# interpreter's single-thread overhead per request.
#
# Pinning: a 1-thread server runs on core 0; 2 threads or 2 workers on
# cores 0-1. wrk (one thread, 16 connections, 30 s timeout: a slow answer on a
# loaded machine is slow, not an error) runs on core 1 in every
# case: beside a 1 ms handler it needs well under 1% of a core (less than
# one 10 ms clock tick per 5 s run here), which it takes from the 2-core
# servers. Server CPU = utime+stime of the server's process tree (/proc,
# lib.sh) over a run / requests completed. All servers are started first
# and stay up; the runs are interleaved (every server once, RUNS times),
# so that load from elsewhere falls on all alike; medians of RUNS runs.
# On a shared machine req/s says little (a server gets the CPU the others
# leave it); CPU µs per request much more. The load average before and
# after is recorded.
#
# Usage: bench/ft_scaling.sh [DURATION=5] [RUNS=5]
#        (writes bench/results/ft-scaling-latest.md)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-5}
RUNS=${2:-5}
GIL_PY=${TURBO_PYTHON:-/usr/bin/python3}
scripts/install-deps.sh wrk >/dev/null
FT_PY=$(scripts/build-python-ft.sh)
jobs=$(($(nproc) < 2 ? $(nproc) : 2))
for b in gil ft; do
  py=$GIL_PY
  [ $b = ft ] && py=$FT_PY
  cmake -S . -B build-bench-$b -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
    -DTURBO_PYTHON="$py" >/dev/null
  cmake --build build-bench-$b -j"$jobs" --target turbo_py >/dev/null
done

tmp=$(mktemp -d)
. bench/lib.sh
trap 'bench_cleanup; rm -rf "$tmp"' EXIT
out=bench/results/ft-scaling-latest.md
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
port=18300

# start NAME BUILD CORES PATH ENV... -- ARGS...: starts a server (pinned
# to CORES) and warms it up; it stays up, idle, until the end, so that the
# runs of all servers can be interleaved: load from elsewhere on a shared
# machine then falls on every configuration alike.
declare -A PID URL
start() {
  local name=$1 build=$2 cores=$3 path=$4
  shift 4
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  port=$((port + 1))
  local py=$GIL_PY
  [ "$build" = ft ] && py=$FT_PY
  URL[$name]="http://127.0.0.1:$port$path"
  (cd bench/apps && exec env PYTHONPATH="$PWD/../../build-bench-$build/bindings/python" \
    "${envs[@]}" taskset -c "$cores" "$py" -m turbo ft_cpu:app --port "$port" "$@") \
    >"$tmp/$name.log" 2>&1 &
  PID[$name]=$!
  BENCH_PIDS+=($!)
  wait_up "${URL[$name]}"
  taskset -c 1 wrk -t1 -c16 -d2s --timeout 30s "${URL[$name]}" >/dev/null # warm-up
}

# measure NAME: one run; appends "name rps us_per_req p50 p99" to $tmp/runs.
measure_one() {
  local name=$1 before after res
  before=$(tree_ticks "${PID[$name]}")
  res=$(taskset -c 1 wrk -t1 -c16 -d"${DURATION}s" --timeout 30s --latency "${URL[$name]}" | parse_wrk)
  after=$(tree_ticks "${PID[$name]}")
  read -r reqs rps p50 p99 non2xx errs <<<"$res"
  if [ "$non2xx" != 0 ] || [ "$errs" != 0 ] || [ "${reqs:-0}" = 0 ]; then
    echo "$name: $non2xx non-2xx answers, $errs socket errors, ${reqs:-0} requests" >&2
    exit 1
  fi
  awk -v n="$name" -v t=$((after - before)) -v hz="$hz" -v q="$reqs" -v rps="$rps" \
    -v a="$p50" -v b="$p99" 'BEGIN { printf "%s %s %.0f %s %s\n", n, rps, t / hz * 1e6 / q, a, b }' \
    >>"$tmp/runs"
}

# The answer must be the loop's result: a server that answered something
# else would be measured for nothing.
check_cpu() { # build
  local py=$GIL_PY
  [ "$1" = ft ] && py=$FT_PY
  local want
  want=$(cd bench/apps && PYTHONPATH="$PWD/../../build-bench-$1/bindings/python" "$py" -c \
    'import json, ft_cpu; print(json.dumps(ft_cpu.cpu(), separators=(",", ":")))')
  echo "$want"
}
want_cpu=$(check_cpu gil)
[ "$(check_cpu ft)" = "$want_cpu" ] || { echo "the builds disagree on /cpu" >&2; exit 1; }

: >"$tmp/runs"
start ft_1thr ft 0 /cpu PYTHON_GIL=0 -- --threads 1
start ft_2thr ft 0-1 /cpu PYTHON_GIL=0 -- --threads 2
start ft_nofix_1thr ft 0 /cpu PYTHON_GIL=0 TURBO_IMMORTALIZE=0 -- --threads 1
start ft_nofix_2thr ft 0-1 /cpu PYTHON_GIL=0 TURBO_IMMORTALIZE=0 -- --threads 2
start ft_2workers ft 0-1 /cpu PYTHON_GIL=0 -- --threads 1 --workers 2
start gil_1thr gil 0 /cpu -- --threads 1
start gil_2thr gil 0-1 /cpu -- --threads 2
start gil_2workers gil 0-1 /cpu -- --threads 1 --workers 2
start ft_hello ft 0 /hello PYTHON_GIL=0 -- --threads 1
start gil_hello gil 0 /hello -- --threads 1
names=(ft_1thr ft_2thr ft_nofix_1thr ft_nofix_2thr ft_2workers gil_1thr gil_2thr gil_2workers
  ft_hello gil_hello)
for r in $(seq 1 "$RUNS"); do
  for name in "${names[@]}"; do measure_one "$name"; done
done
# The mechanism without a server: one imported function on 1 and 2 plain
# threads, constants mortal vs immortal (bench/apps/ft_contention.py).
bench_cleanup # the servers are done with: nothing else of ours runs meanwhile
BENCH_PIDS=()
(cd bench/apps && PYTHONPATH="$PWD/../../build-bench-ft/bindings/python" PYTHON_GIL=0 \
  taskset -c 0-1 "$FT_PY" ft_contention.py "$((RUNS + 2))" 200) >"$tmp/contention"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# The median of a column (2: req/s, 3: CPU µs/request) over NAME's runs.
median() { # name column
  grep "^$1 " "$tmp/runs" | awk -v c="$2" '{print $c}' | sort -g |
    awk -v r="$RUNS" 'NR == int((r + 1) / 2) {print}'
}
rps_of() { median "$1" 2; }
us_of() { median "$1" 3; }
ratio() { awk -v a="$(rps_of "$1")" -v b="$(rps_of "$2")" 'BEGIN {printf "%.2fx", a / b}'; }
cpu_ratio() { awk -v a="$(us_of "$1")" -v b="$(us_of "$2")" 'BEGIN {printf "%.2fx", a / b}'; }

{
  echo "# Python handlers on a free-threaded CPython: scaling across I/O threads"
  echo
  echo "\`bench/ft_scaling.sh $DURATION $RUNS\` on $(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores,"
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'). Load average before: $load_before;"
  echo "after: $load_after (the benchmark itself adds up to 2; more than that was other work on"
  echo "the machine, which then was shared: req/s are then lower and noisier than on a quiet"
  echo "one, and CPU µs per request is the figure to read)."
  echo
  echo "Builds: free-threaded $("$FT_PY" -c 'import sys; print(sys.version.split()[0])') (\`$(basename "$FT_PY")\`, PYTHON_GIL=0) and"
  echo "the GIL build $("$GIL_PY" -c 'import sys; print(sys.version.split()[0])') (\`$GIL_PY\`), libturbo in Release. /cpu: a"
  echo "20,000-step pure-Python loop (bench/apps/ft_cpu.py) answering \`$want_cpu\`."
  echo "\"fix off\": TURBO_IMMORTALIZE=0, the handler's code object left as importlib"
  echo "compiled it (its constants mortal: turbo/_immortal.py)."
  echo
  echo "| server | cores | req/s | server CPU µs/req | p50 | p99 |"
  echo "|---|---|---:|---:|---:|---:|"
  for row in "ft_1thr|free-threaded, 1 I/O thread|0" "ft_2thr|free-threaded, 2 I/O threads|0-1" \
    "ft_nofix_1thr|free-threaded, fix off, 1 I/O thread|0" \
    "ft_nofix_2thr|free-threaded, fix off, 2 I/O threads|0-1" \
    "ft_2workers|free-threaded, 2 workers x 1 thread|0-1" \
    "gil_1thr|GIL, 1 I/O thread|0" "gil_2thr|GIL, 2 I/O threads|0-1" \
    "gil_2workers|GIL, 2 workers x 1 thread|0-1" \
    "ft_hello|free-threaded, /hello, 1 I/O thread|0" "gil_hello|GIL, /hello, 1 I/O thread|0"; do
    IFS='|' read -r key label cores <<<"$row"
    p50=$(grep "^$key " "$tmp/runs" | awk '{print $4}' | tr '\n' ' ')
    p99=$(grep "^$key " "$tmp/runs" | awk '{print $5}' | tr '\n' ' ')
    echo "| $label | $cores | $(rps_of "$key") | $(us_of "$key") | ${p50% } | ${p99% } |"
  done
  echo
  echo "Scaling, 1 -> 2 I/O threads (req/s): free-threaded $(ratio ft_2thr ft_1thr),"
  echo "fix off $(ratio ft_nofix_2thr ft_nofix_1thr), GIL $(ratio gil_2thr gil_1thr)."
  echo "CPU per request, 2 I/O threads / 1 (1.00x: threads cost nothing): free-threaded"
  echo "$(cpu_ratio ft_2thr ft_1thr), fix off $(cpu_ratio ft_nofix_2thr ft_nofix_1thr), GIL $(cpu_ratio gil_2thr gil_1thr)."
  echo "The fix on 1 I/O thread (CPU per request, fix off / on): $(cpu_ratio ft_nofix_1thr ft_1thr)."
  echo "Free-threaded 2 threads vs 2 workers: $(ratio ft_2thr ft_2workers);"
  echo "vs the GIL build's 2 workers: $(ratio ft_2thr gil_2workers)."
  echo "Single-thread overhead of the free-threaded interpreter (req/s, GIL / free-threaded):"
  echo "/cpu $(ratio gil_1thr ft_1thr), /hello $(ratio gil_hello ft_hello)."
  echo
  echo "Without a server (bench/apps/ft_contention.py, cores 0-1): one function imported"
  echo "by importlib, called by 1 and by 2 plain threads at once, 200 calls each, the four"
  echo "cases taking turns $((RUNS + 2)) times; medians:"
  echo
  echo "| constants | threads | calls/s | CPU µs/call |"
  echo "|---|---|---:|---:|"
  awk '{split($1, k, "_"); printf "| %s | %s | %s | %s |\n", k[1], substr(k[2], 1, 1), $2, $3}' \
    "$tmp/contention"
  c() { awk -v k="$1" '$1 == k {print $2}' "$tmp/contention"; }
  echo
  echo "1 -> 2 threads (calls/s): mortal $(awk -v a="$(c mortal_2thr)" -v b="$(c mortal_1thr)" \
    'BEGIN {printf "%.2fx", a / b}'), immortal $(awk -v a="$(c immortal_2thr)" \
    -v b="$(c immortal_1thr)" 'BEGIN {printf "%.2fx", a / b}')."
  echo
  echo "Medians of $RUNS runs (p50 and p99: every run's, in order). Every run (name req/s"
  echo "server-µs/req p50 p99), in the order measured:"
  echo
  echo '```text'
  cat "$tmp/runs"
  echo '```'
} >"$out"
cat "$out"
