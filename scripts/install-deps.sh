#!/usr/bin/env bash
# Installs the Debian 12 packages libturbo needs to build and test, only
# when some are missing (so it is quick, and works offline, once done).
# Usage: scripts/install-deps.sh [extra packages...]
set -euo pipefail
pkgs=(
  # build and unit tests
  build-essential cmake pkg-config libevent-dev libck-dev check curl
  # the Python binding
  python3-dev python3-pytest python3-pip
  # .venv (scripts/venv.sh): the tests' and peers' PyPI packages, pinned
  python3-venv
  # hardening: differential test, fuzzing (clang, llvm's coverage tools), valgrind
  libhttp-parser-dev clang llvm libclang-rt-14-dev valgrind
  # the ABI check (abidw/abidiff) and the consumers built against an install
  abigail-tools g++ cargo luajit
  # deployment tests: real proxies in front, systemd-socket-activate; the
  # multi-host test's network namespaces and veth pairs (ip), its load (wrk)
  nginx haproxy systemd iproute2
  # commands the docs show (their code blocks are checked)
  linux-perf strace wrk
  # the PostgreSQL example (examples/techempower_pg.c) and its test's
  # throwaway server (scripts/pg-cluster.sh)
  postgresql libpq-dev
  # the TechEmpower suite (bench/tfb/run.sh): its C peer h2o (nginx above)
  # and the latency-vs-rate plots
  h2o gnuplot-nox
  # the Python binding's tests start a throwaway Redis (redis.asyncio)
  redis-server
  # real clients (tests/clients): headless Chromium opens a WebSocket and an
  # EventSource
  chromium
  "$@")
# Node's ws package (tests/clients/ws_node, npm ci): node and npm as
# commands, since a node from elsewhere (NodeSource's nodejs bundles npm)
# must not be replaced by Debian's packages.
command -v node >/dev/null || pkgs+=(nodejs)
command -v npm >/dev/null || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
