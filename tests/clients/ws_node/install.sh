#!/usr/bin/env bash
# Installs the Node WebSocket harness into DIR (for example
# build/clients/ws_node): its scripts, and the `ws` package exactly as
# package-lock.json pins it (`npm ci`; node_modules is never committed).
# Quick when DIR is already up to date with the lock file.
#
#   tests/clients/ws_node/install.sh DIR
#
# Then: node DIR/ws_client.js ws://127.0.0.1:8000/ws
#       node DIR/ws_echo_server.js 9001
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
dir=$1
mkdir -p "$dir"
cp "$here/ws_client.js" "$here/ws_echo_server.js" "$dir/"
if ! cmp -s "$here/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules/ws" ]; then
  cp "$here/package.json" "$here/package-lock.json" "$dir/"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
