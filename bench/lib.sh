# Shared by the bench/*.sh scripts: start, check and measure servers.
#
# Method: server pinned to core 0, `wrk -t1 -c50` pinned to core 1; a
# warm-up, then RUNS runs of DURATION seconds; server CPU is utime+stime of
# the server's whole process tree from /proc before and after each run,
# divided by the requests wrk completed. Medians reported.

hz=$(getconf CLK_TCK)
BENCH_PIDS=()

bench_cleanup() {
  for p in "${BENCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BENCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}

# Pids of a process and all its descendants (nginx's workers are the
# grandchildren of bench/tfb/serve).
tree_pids() {
  local c
  echo "$1"
  for c in $(pgrep -P "$1" || true); do tree_pids "$c"; done
}

# CPU ticks (utime+stime) of a process and all its descendants.
tree_ticks() {
  local total=0 p
  for p in $(tree_pids "$1"); do
    [ -r /proc/$p/stat ] || continue
    # After the ")" of the command name: state is field 1, utime 12, stime 13.
    total=$((total + $(sed 's/^.*) //' /proc/$p/stat | awk '{print $12 + $13}')))
  done
  echo $total
}

wait_up() { # url
  for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "server at $1 did not come up" >&2
  return 1
}

# The body and content type every server must answer on /hello.
check_hello() { # name url
  local got type
  got=$(curl -s "$2")
  type=$(curl -s -o /dev/null -w '%{content_type}' "$2")
  if [ "$got" != '{"message":"Hello, World!"}' ] || [ "${type%%;*}" != application/json ]; then
    echo "$1 answers wrong: '$got' ($type)" >&2
    exit 1
  fi
}

# Runs the measurement; prints "name rps us_per_req p50 p99" per run.
measure() { # name pid url
  local name=$1 pid=$2 url=$3 r
  taskset -c 1 wrk -t1 -c50 -d2s "$url" >/dev/null # warm-up
  for r in $(seq 1 "$RUNS"); do
    local before after out reqs rps p50 p99
    before=$(tree_ticks "$pid")
    out=$(taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" --latency "$url")
    after=$(tree_ticks "$pid")
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1=="50%" {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {print $2}')
    awk -v n="$name" -v t=$((after - before)) -v hz="$hz" -v q="$reqs" -v rps="$rps" -v a="$p50" -v b="$p99" \
      'BEGIN { printf "%s %s %.2f %s %s\n", n, rps, t / hz * 1e6 / q, a, b }'
  done
}

# Median row (by CPU us/request) of each server, in the order given.
report() { # runs-file server...
  local file=$1 s
  shift
  echo "# $(uname -m), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
  echo "# wrk -t1 -c50 -d${DURATION}s (core 1) against each server (core 0); $RUNS runs, medians"
  printf '%-22s %12s %14s %10s %10s\n' server req/s 'CPU us/req' p50 p99
  for s in "$@"; do
    grep "^$s " "$file" | sort -k3 -g | awk -v r="$RUNS" \
      'NR == int((r + 1) / 2) {printf "%-22s %12s %14s %10s %10s\n", $1, $2, $3, $4, $5}'
  done
  echo "# every run:"
  sed 's/^/#   /' "$file"
}

# Busy time of core N (/proc/stat: user nice system irq softirq), in ticks.
core_busy() { awk -v c="cpu$1" '$1 == c {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }

# wrk's output -> "reqs rps p50 p99 non2xx socket_errors"
parse_wrk() {
  awk '/requests in/ {q = $1} /Requests\/sec/ {r = $2} $1 == "50%" {a = $2} $1 == "99%" {b = $2}
    /Non-2xx or 3xx/ {n = $NF}
    /Socket errors/ {gsub(",", ""); s = $4 + $6 + $8 + $10}
    END {printf "%s %s %s %s %d %d\n", q, r, a, b, n, s}'
}

# build-bench/bench-venv (bench/adapters.sh, bench/ws.sh): the packages of
# bench/requirements-bench.txt, remade when it (or the interpreter)
# changed; a stamp written last records both. Run from the clone's root.
# bench_venv REQS NAME makes build-bench/NAME from REQS the same way
# (bench/tfb/run.sh: robyn-venv from bench/requirements-robyn.txt).
bench_venv() {
  local reqs=${1:-bench/requirements-bench.txt} venv=$PWD/build-bench/${2:-bench-venv} want check
  want=$( (sha256sum "$reqs" | cut -d' ' -f1; /usr/bin/python3 -c 'import sys; print(sys.executable, sys.version)') | tr '\n' ' ')
  if [ ! -x "$venv/bin/python" ] || [ "$(cat "$venv/.turbo-stamp" 2>/dev/null)" != "$want" ]; then
    echo "bench: making $venv from $reqs" >&2
    rm -rf "$venv"
    /usr/bin/python3 -m venv "$venv"
    # wheel first: pip reads every sdist's metadata (bdist_wheel) before it
    # installs anything from the same command.
    if grep -q '^wheel==' "$reqs"; then
      "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir --no-deps --only-binary=:all: \
        "$(grep '^wheel==' "$reqs")" >&2 || exit 1
    fi
    "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-cache-dir --no-deps --only-binary=:all: \
      --no-binary=bjoern,socketify --no-build-isolation -r "$reqs" >&2 || exit 1
    check=$("$venv/bin/python" -m pip check) || { echo "$check" >&2; exit 1; }
    echo "$want" >"$venv/.turbo-stamp"
  fi
  echo "$venv/bin/python"
}
