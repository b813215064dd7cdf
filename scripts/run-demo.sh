#!/usr/bin/env bash
# Installs what is missing, builds, and starts turbo-hello on 127.0.0.1:8000
# (Ctrl-C stops it). Extra arguments go to turbo-hello.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target turbo-hello
exec build/turbo-hello --host 127.0.0.1 --port 8000 "$@"
