#!/usr/bin/env bash
# The shared library exports turbo_* symbols and nothing else.
set -euo pipefail
lib=$1
bad=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -v '^turbo_' || true)
count=$(nm -D --defined-only "$lib" | awk '{print $3}' | grep -c '^turbo_')
if [ -n "$bad" ]; then
  echo "symbols other than turbo_* are exported:"; echo "$bad"; exit 1
fi
if [ "$count" -lt 50 ]; then
  echo "only $count turbo_* symbols exported: the public ABI is missing"; exit 1
fi
if nm -D --defined-only "$lib" | awk '{print $3}' | grep -q '^turbo__'; then
  echo "internal turbo__ symbols are exported"; exit 1
fi
echo "ok: $count turbo_* symbols, nothing else"
