#!/usr/bin/env bash
# Installs what is missing (Debian packages, and .venv: the pinned PyPI
# packages for the Python examples, tests and benchmarks), builds, and
# starts turbo-hello on 127.0.0.1:8000 (Ctrl-C stops it). Extra arguments
# go to turbo-hello.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
py=${TURBO_PYTHON:-/usr/bin/python3}
venv_python=$(TURBO_PYTHON=$py scripts/venv.sh)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTURBO_PYTHON="$py" -DTURBO_TEST_PYTHON="$venv_python" >/dev/null
cmake --build build -j"$(nproc)" --target turbo-hello
exec build/turbo-hello --host 127.0.0.1 --port 8000 "$@"
