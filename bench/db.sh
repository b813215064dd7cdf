#!/usr/bin/env bash
# The TechEmpower database tests, /db, /queries?queries=20 and /fortunes,
# on one throwaway PostgreSQL (scripts/pg-cluster.sh: World 10,000 rows,
# Fortune), served in the same run by
#
#   libturbo, loop:      turbo-techempower-pg /db ...: libpq's non-blocking
#                        API on the I/O thread's loop, one pipelined
#                        connection (examples/techempower_pg/loop.c)
#   libturbo, blocking:  the same process's /blocking/db ...: blocking libpq
#                        calls on the blocking pool, one connection per pool
#                        thread (examples/techempower_pg/blocking.c)
#   libturbo, Python:    bench/apps/turbo_db.py, `async def` handlers with
#                        asyncpg (python -m turbo, one I/O thread, its loop's
#                        pool of DB_POOL_SIZE connections made by the App's
#                        lifespan)
#   FastAPI + asyncpg:   bench/apps/fastapi_db.py under uvicorn, one worker,
#                        uvloop + httptools, a pool of DB_POOL_SIZE connections
#   FastAPI, granian:    the same app under granian (ASGI, one worker, one
#                        runtime thread, uvloop)
#
# The two Python apps run the same handler code (statements, pool, queries
# per request); only the server and framework around it differ.
#
# Pinning (2 cores): each server alone on core 0 (one I/O thread; the
# blocking pool's threads are on core 0 too), `wrk -t1` on core 1, and
# PostgreSQL on core $PG_CORE (default 1: it shares the load generator's
# core, so the server under test has its core to itself). PostgreSQL's CPU
# is measured apart from the server's: utime+stime of every process of the
# cluster (the postmaster with what it reaped, and each backend) from /proc.
#
# Each server is checked first (the JSON's exact shape, how /queries clamps
# its parameter, /fortunes byte for byte the same from every server), then
# for each test: a 2 s warm-up and RUNS runs of DURATION s of
# `wrk -t1 -c$CONNS --latency --timeout 10s`. Reported, median run by
# req/s: requests/s, p50/p99 latency, server CPU µs/request, PostgreSQL CPU
# µs/request, each core's busy time, and errors (non-2xx answers, socket
# errors including wrk's timeouts). Writes $DB_OUT/db-latest.md (default
# bench/results); BENCH_NOTE, if set, is printed under its title. Everything
# it starts is stopped at exit, the cluster too.
#
# Usage: bench/db.sh [DURATION=10] [RUNS=3]   (a full run: ~9 minutes)
# Environment: DB_CONNS (256), DB_POOL_SIZE (32), DB_BLOCKING_THREADS (16),
# PG_CORE (1), DB_OUT (bench/results), BENCH_NOTE.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
CONNS=${DB_CONNS:-256}
POOL=${DB_POOL_SIZE:-32}
BLOCKING=${DB_BLOCKING_THREADS:-16}
PG_CORE=${PG_CORE:-1}
OUT=${DB_OUT:-bench/results}
TESTS=(/db "/queries?queries=20" /fortunes)

scripts/install-deps.sh wrk postgresql libpq-dev >/dev/null
PY=$(scripts/venv.sh)
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" --target turbo-techempower-pg turbo_py >/dev/null
TURBO_PG=$PWD/build-bench/turbo-techempower-pg
export PYTHONPATH=$PWD/build-bench/bindings/python

. bench/lib.sh
tmp=$(mktemp -d)
pgdir=$(mktemp -u /tmp/turbo-db.XXXXXX) # made by pg-cluster.sh; short: a socket path
trap 'bench_cleanup; scripts/pg-cluster.sh stop "$pgdir"; rm -rf "$tmp"' EXIT
mkdir -p "$OUT"
started=$(date -u '+%Y-%m-%d %H:%M UTC')
# Now: once the report is being written, its own file makes the tree dirty.
revision=$(git describe --always --dirty 2>/dev/null || echo ?)
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# --- PostgreSQL, pinned: its backends inherit the postmaster's affinity ---
pgenv=$(taskset -c "$PG_CORE" scripts/pg-cluster.sh start "$pgdir")
export $pgenv
postmaster=$(head -n1 "$pgdir/data/postmaster.pid")
pg_version=$("$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)/postgres" --version)

# CPU ticks of the whole cluster: the postmaster, what it reaped (backends
# that exited), and each live child. A child that exits during a run moves
# from the second term to the first, so differences stay exact.
pg_ticks() {
  local total p t
  # After the ")" of the command name: utime 12, stime 13, cutime 14, cstime 15.
  total=$(sed 's/^.*) //' /proc/"$postmaster"/stat | awk '{print $12 + $13 + $14 + $15}')
  for p in $(pgrep -P "$postmaster" || true); do
    t=$(sed 's/^.*) //' /proc/"$p"/stat 2>/dev/null | awk '{print $12 + $13}') || true
    total=$((total + ${t:-0})) # 0: it exited meanwhile (and is in cutime/cstime)
  done
  echo "$total"
}

# --- checks: every server answers the same rules ------------------------------
ANY_ROW='\{"id":[0-9]+,"randomNumber":[0-9]+\}'
fail() {
  echo "db.sh: $*" >&2
  exit 1
}
rows() { grep -oE "$ANY_ROW" <<<"$1" | wc -l; }
check_db() { # name base-url (the server's prefix included)
  local name=$1 base=$2 body type q n want
  body=$(curl -s "$base/db")
  type=$(curl -s -o /dev/null -w '%{content_type}' "$base/db")
  [[ $body =~ ^$ANY_ROW$ ]] || fail "$name /db answers '$body'"
  [ "${type%%;*}" = application/json ] || fail "$name /db is $type"
  for q in "20 20" "abc 1" "0 1" "-3 1" "501 500" "3x 1" "_ 1"; do
    read -r n want <<<"$q"
    body=$(curl -s "$base/queries?queries=$n")
    [[ $body =~ ^\[$ANY_ROW(,$ANY_ROW)*\]$ ]] && [ "$(rows "$body")" -eq "$want" ] ||
      fail "$name /queries?queries=$n: not $want rows: '${body:0:200}'"
  done
  body=$(curl -s "$base/queries")
  [ "$(rows "$body")" -eq 1 ] || fail "$name /queries without the parameter: '$body'"
  curl -s "$base/fortunes" >"$tmp/fortunes.$name"
  type=$(curl -s -o /dev/null -w '%{content_type}' "$base/fortunes")
  [ "${type%%;*}" = text/html ] || fail "$name /fortunes is $type"
  grep -q '<td>Additional fortune added at request time.</td>' "$tmp/fortunes.$name" ||
    fail "$name /fortunes lacks the added fortune"
  [ ! -f "$tmp/fortunes.ref" ] || cmp -s "$tmp/fortunes.ref" "$tmp/fortunes.$name" ||
    fail "$name /fortunes differs from the first server's: $(diff <(tr '>' '\n' <"$tmp/fortunes.ref") <(tr '>' '\n' <"$tmp/fortunes.$name") | head -5)"
  [ -f "$tmp/fortunes.ref" ] || cp "$tmp/fortunes.$name" "$tmp/fortunes.ref"
}

# --- measurement ------------------------------------------------------------
# One line per run: "server test rps p50 p99 server_us pg_us core0% core1% non2xx sockerr other0%"
measure_db() { # name pid url test
  local name=$1 pid=$2 url=$3 test=$4 r
  taskset -c 1 wrk -t1 -c"$CONNS" -d2s --timeout 10s "$url" >/dev/null # warm-up
  for r in $(seq 1 "$RUNS"); do
    local s0 s1 p0 p1 c00 c01 c10 c11 t0 t1 out
    s0=$(tree_ticks "$pid") p0=$(pg_ticks) c00=$(core_busy 0) c10=$(core_busy 1) t0=$(date +%s.%N)
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 10s --latency "$url")
    s1=$(tree_ticks "$pid") p1=$(pg_ticks) c01=$(core_busy 0) c11=$(core_busy 1) t1=$(date +%s.%N)
    echo "$out" >>"$tmp/wrk.log"
    echo "$out" | parse_wrk | awk -v n="$name" -v t="$test" -v hz="$hz" -v s=$((s1 - s0)) -v p=$((p1 - p0)) \
      -v c0=$((c01 - c00)) -v c1=$((c11 - c10)) -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
      -v pgcore="$PG_CORE" '{
        other = c0 - s - (pgcore == 0 ? p : 0)
        printf "%s %s %s %s %s %.1f %.1f %.0f %.0f %d %d %.1f\n", n, t, $2, $3, $4,
          s / hz * 1e6 / $1, p / hz * 1e6 / $1, 100 * c0 / hz / w, 100 * c1 / hz / w, $5, $6,
          other < 0 ? 0 : 100 * other / hz / w }'
  done
}

: >"$tmp/runs"
: >"$tmp/wrk.log"
CMDS=()
run_tests() { # name pid base
  local t
  for t in "${TESTS[@]}"; do measure_db "$1" "$2" "$3$t" "${t%%\?*}" >>"$tmp/runs"; done
}
stop() { # pid: a server this script started
  local p=$1 keep=() q
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  for q in "${BENCH_PIDS[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  BENCH_PIDS=("${keep[@]}")
}

# --- libturbo: the loop and the blocking pool, one process -------------------
CMDS+=("taskset -c 0 $TURBO_PG --port 18301 --threads 1 --blocking-threads $BLOCKING")
taskset -c 0 "$TURBO_PG" --port 18301 --threads 1 --blocking-threads "$BLOCKING" >"$tmp/turbo.log" 2>&1 &
pid=$!
BENCH_PIDS+=("$pid")
wait_up http://127.0.0.1:18301/db
check_db turbo_loop http://127.0.0.1:18301
check_db turbo_blocking http://127.0.0.1:18301/blocking
run_tests turbo_loop "$pid" http://127.0.0.1:18301
run_tests turbo_blocking "$pid" http://127.0.0.1:18301/blocking
stop "$pid"

# --- libturbo, Python: async def + asyncpg -------------------------------------
CMDS+=("(cd bench/apps && DB_POOL_SIZE=$POOL taskset -c 0 $PY -m turbo turbo_db:app --port 18303 --threads 1)")
(cd bench/apps && DB_POOL_SIZE=$POOL exec taskset -c 0 "$PY" -m turbo turbo_db:app --port 18303 --threads 1) \
  >"$tmp/turbo_async.log" 2>&1 &
pid=$!
BENCH_PIDS+=("$pid")
wait_up http://127.0.0.1:18303/db
check_db turbo_async http://127.0.0.1:18303
run_tests turbo_async "$pid" http://127.0.0.1:18303
stop "$pid"

# --- FastAPI + asyncpg under uvicorn, one worker -------------------------------
CMDS+=("(cd bench/apps && DB_POOL_SIZE=$POOL taskset -c 0 $PY -m uvicorn fastapi_db:app --host 127.0.0.1 --port 18302 --workers 1 --loop uvloop --http httptools --log-level warning --no-access-log)")
(cd bench/apps && DB_POOL_SIZE=$POOL exec taskset -c 0 "$PY" -m uvicorn fastapi_db:app --host 127.0.0.1 \
  --port 18302 --workers 1 --loop uvloop --http httptools --log-level warning --no-access-log) \
  >"$tmp/fastapi.log" 2>&1 &
pid=$!
BENCH_PIDS+=("$pid")
wait_up http://127.0.0.1:18302/db
check_db fastapi http://127.0.0.1:18302
run_tests fastapi "$pid" http://127.0.0.1:18302
stop "$pid"

# --- the same FastAPI app under granian, one worker, one runtime thread --------
GRANIAN=$(dirname "$PY")/granian
CMDS+=("(cd bench/apps && DB_POOL_SIZE=$POOL taskset -c 0 $GRANIAN --interface asgi --host 127.0.0.1 --port 18304 --workers 1 --runtime-threads 1 --loop uvloop --http 1 --no-ws --log-level warning --no-access-log fastapi_db:app)")
(cd bench/apps && DB_POOL_SIZE=$POOL exec taskset -c 0 "$GRANIAN" --interface asgi --host 127.0.0.1 \
  --port 18304 --workers 1 --runtime-threads 1 --loop uvloop --http 1 --no-ws --log-level warning \
  --no-access-log fastapi_db:app) >"$tmp/granian.log" 2>&1 &
pid=$!
BENCH_PIDS+=("$pid")
wait_up http://127.0.0.1:18304/db
check_db granian http://127.0.0.1:18304
run_tests granian "$pid" http://127.0.0.1:18304
stop "$pid"

load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# =========================================================================
# Report
# =========================================================================
declare -A label=([turbo_loop]="libturbo C, loop (libpq pipelined)"
  [turbo_blocking]="libturbo C, blocking pool ($BLOCKING threads)"
  [turbo_async]="libturbo Python, async def + asyncpg"
  [fastapi]="FastAPI + asyncpg, uvicorn (uvloop, httptools)"
  [granian]="FastAPI + asyncpg, granian (ASGI, uvloop)")
servers=(turbo_loop turbo_blocking turbo_async fastapi granian)
# The median run of a server on a test, by req/s.
median() { awk -v s="$1" -v t="$2" '$1 == s && $2 == t' "$tmp/runs" | sort -k3 -g | awk -v r="$RUNS" 'NR == int((r + 1) / 2)'; }
pyver() { "$PY" -c "import $1; print($1.__version__)"; }
rps_of() { median "$1" "$2" | awk '{print $3}'; }
# wrk's latency ("850.00us", "1.20ms", "2.00s") in µs
us_of() { awk -v v="$1" 'BEGIN { m = v ~ /us$/ ? 1 : v ~ /ms$/ ? 1e3 : v ~ /m$/ ? 6e7 : 1e6; print (v + 0) * m }'; }
{
  echo "# The database tests: libturbo beside FastAPI + asyncpg"
  echo
  [ -z "${BENCH_NOTE:-}" ] || { echo "**$BENCH_NOTE**"; echo; }
  echo "Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, Linux $(uname -r); Debian $(cat /etc/debian_version)."
  echo "Run: $started, \`bench/db.sh $DURATION $RUNS\` ($RUNS runs of ${DURATION}s per server and test after a 2 s warm-up; the median run by req/s). Load average (1/5/15 min) at start: $load_start, at the end: $load_end."
  busy=$(awk '$12 > 5' "$tmp/runs" | wc -l)
  if [ "$busy" -gt 0 ]; then
    echo
    echo "**Contention:** in $busy of $(wc -l <"$tmp/runs") runs, other work on the machine took more than 5% of the server's core (\"other load on core 0\" below, and every run at the end): those runs' req/s and latency tails are pessimistic. Core 1 (wrk and PostgreSQL) may have been shared too; it is not checked."
  fi
  echo
  echo "Versions: libturbo $revision, $pg_version, libpq $(pkg-config --modversion libpq), $("$PY" --version), FastAPI $(pyver fastapi), Starlette $(pyver starlette), pydantic $(pyver pydantic), uvicorn $(pyver uvicorn), uvloop $(pyver uvloop), httptools $(pyver httptools), granian $(pyver granian), asyncpg $(pyver asyncpg), $(wrk -v 2>&1 | head -n1 | awk '{print "wrk", $2}')."
  echo
  echo "Same PostgreSQL cluster, same data, same client, same run. Server on core 0 (\`taskset -c 0\`, one I/O thread), \`taskset -c 1 wrk -t1 -c$CONNS --timeout 10s --latency\` on core 1, PostgreSQL on core $PG_CORE. Server CPU = utime+stime of the server's processes / requests; PostgreSQL CPU = the same for every process of the cluster, counted apart. Core busy = each core's busy time (/proc/stat) over the run's wall time."
  for t in "${TESTS[@]}"; do
    tn=${t%%\?*}
    f=$(rps_of fastapi "$tn")
    echo
    echo "## \`GET $t\`, $CONNS connections"
    echo
    echo "| server | req/s | × FastAPI | p50 | p99 | server CPU µs/req | PostgreSQL CPU µs/req | core 0 busy | core 1 busy | other load on core 0 | non-2xx | socket errors |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for s in "${servers[@]}"; do
      median "$s" "$tn" | awk -v l="${label[$s]}" -v f="$f" '{
        printf "| %s | %.0f | %.2f | %s | %s | %s | %s | %s%% | %s%% | %s%% | %s | %s |\n",
          l, $3, $3 / f, $4, $5, $6, $7, $8, $9, $12, $10, $11 }'
    done
  done
  echo
  echo "## Target: the loop version ≥ 3 × FastAPI's requests/s"
  echo
  echo "| test | loop req/s | FastAPI req/s | ratio | verdict |"
  echo "|---|---:|---:|---:|---|"
  for t in "${TESTS[@]}"; do
    tn=${t%%\?*}
    awk -v t="$t" -v a="$(rps_of turbo_loop "$tn")" -v b="$(rps_of fastapi "$tn")" 'BEGIN {
      printf "| `%s` | %.0f | %.0f | %.2f | %s |\n", t, a, b, a / b, (a >= 3 * b) ? "**met**" : "**not met**" }'
  done
  echo
  echo "## Target: libturbo Python (async def + asyncpg) ≥ 2 × FastAPI + uvicorn's requests/s, at an equal or better p99"
  echo
  echo "The same handler code on both; server CPU µs/request too (FastAPI's ÷ libturbo's: how many times less CPU libturbo spent per request)."
  echo
  echo "| test | libturbo req/s | FastAPI req/s | ratio | libturbo p99 | FastAPI p99 | CPU µs/req, libturbo / FastAPI | CPU ratio | verdict |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
  for t in "${TESTS[@]}"; do
    tn=${t%%\?*}
    read -r _ _ a _ ap99 ac _ < <(median turbo_async "$tn")
    read -r _ _ b _ bp99 bc _ < <(median fastapi "$tn")
    awk -v t="$t" -v a="$a" -v b="$b" -v ap="$ap99" -v bp="$bp99" -v apu="$(us_of "$ap99")" \
      -v bpu="$(us_of "$bp99")" -v ac="$ac" -v bc="$bc" 'BEGIN {
      printf "| `%s` | %.0f | %.0f | %.2f | %s | %s | %s / %s | %.2f | %s |\n", t, a, b, a / b, ap, bp, ac, bc,
        bc / ac, (a >= 2 * b && apu <= bpu) ? "**met**" : "**not met**" }'
  done
  echo
  echo "Reading it: req/s and p99 are what a client sees; a core at ~100% busy is the bound. With PostgreSQL beside wrk on core 1, a fast server can be held back by core 1 rather than by its own: then its server CPU µs/req (and the headroom on core 0) says more than its req/s. PostgreSQL CPU µs/req shows how much database work each request costs under each server (pipelining and prepared statements lower it). Other load on core 0: busy time on the server's core not spent by the server$([ "$PG_CORE" = 0 ] && echo ' or PostgreSQL') — near 0% means nothing else on the machine interfered."
  echo
  echo "## Commands"
  echo
  echo '```'
  echo "bench/db.sh $DURATION $RUNS"
  echo "taskset -c $PG_CORE scripts/pg-cluster.sh start DIR     # PostgreSQL: $PGHOST port $PGPORT; its backends inherit the pinning"
  for c in "${CMDS[@]}"; do echo "$c"; done
  echo "# each test: taskset -c 1 wrk -t1 -c$CONNS -d2s --timeout 10s URL (warm-up), then $RUNS x taskset -c 1 wrk -t1 -c$CONNS -d${DURATION}s --timeout 10s --latency URL"
  echo "# URLs: http://127.0.0.1:18301{,/blocking}{/db,/queries?queries=20,/fortunes}, http://127.0.0.1:{18303,18302,18304}{/db,/queries?queries=20,/fortunes} (libturbo Python, uvicorn, granian)"
  echo '```'
  echo
  echo "## Every run"
  echo
  echo '```'
  echo "# server test req/s p50 p99 server_us/req pg_us/req core0% core1% non2xx socket_errors other_core0%"
  cat "$tmp/runs"
  echo '```'
} >"$OUT/db-latest.md"
cat "$OUT/db-latest.md"
