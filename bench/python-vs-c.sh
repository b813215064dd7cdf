#!/usr/bin/env bash
# Server CPU per request for GET /hello -> {"message":"Hello, World!"}:
# a Python handler on libturbo (python -m turbo, 1 worker, 1 I/O thread),
# the C handler (turbo-hello, 1 I/O thread), and the same Python app on
# FastAPI under uvicorn (1 worker): `def` and `async def`, with asyncio+h11
# and with uvloop+httptools. All measured in one run (bench/lib.sh).
#
# Usage: bench/python-vs-c.sh [DURATION=10] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-10}
RUNS=${2:-3}
PY=${TURBO_PYTHON:-/usr/bin/python3}
scripts/install-deps.sh wrk python3-fastapi python3-uvicorn python3-uvloop python3-httptools >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null

tmp=$(mktemp -d)
. bench/lib.sh
trap 'bench_cleanup; rm -rf "$tmp"' EXIT

start() { # name port command...
  local name=$1 port=$2
  shift 2
  (cd bench/apps && exec taskset -c 0 "$@") >"$tmp/$name.log" 2>&1 &
  BENCH_PIDS+=($!)
  eval "pid_$name=$!"
  wait_up "http://127.0.0.1:$port/hello"
  check_hello "$name" "http://127.0.0.1:$port/hello"
}

export PYTHONPATH=$PWD/build-bench/bindings/python
start turbo_c 18091 "$PWD/build-bench/turbo-hello" --port 18091 --threads 1
start turbo_python 18092 "$PY" -m turbo turbo_hello:app --port 18092 --threads 1
start fastapi_async_uvloop 18093 "$PY" -m uvicorn fastapi_hello:app_async --port 18093 \
  --log-level warning --no-access-log --loop uvloop --http httptools
start fastapi_async_h11 18094 "$PY" -m uvicorn fastapi_hello:app_async --port 18094 \
  --log-level warning --no-access-log --loop asyncio --http h11
start fastapi_def_uvloop 18095 "$PY" -m uvicorn fastapi_hello:app_def --port 18095 \
  --log-level warning --no-access-log --loop uvloop --http httptools
start fastapi_def_h11 18096 "$PY" -m uvicorn fastapi_hello:app_def --port 18096 \
  --log-level warning --no-access-log --loop asyncio --http h11

{
  measure turbo_c "$pid_turbo_c" http://127.0.0.1:18091/hello
  measure turbo_python "$pid_turbo_python" http://127.0.0.1:18092/hello
  measure fastapi_async_uvloop "$pid_fastapi_async_uvloop" http://127.0.0.1:18093/hello
  measure fastapi_async_h11 "$pid_fastapi_async_h11" http://127.0.0.1:18094/hello
  measure fastapi_def_uvloop "$pid_fastapi_def_uvloop" http://127.0.0.1:18095/hello
  measure fastapi_def_h11 "$pid_fastapi_def_h11" http://127.0.0.1:18096/hello
} >"$tmp/runs"
report "$tmp/runs" turbo_c turbo_python fastapi_async_uvloop fastapi_async_h11 fastapi_def_uvloop fastapi_def_h11
