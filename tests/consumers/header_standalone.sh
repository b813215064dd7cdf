#!/usr/bin/env bash
# The installed <turbo/turbo.h> on its own, as the first and only include,
# under every C and C++ standard a consumer may use, with the compilers'
# strictest warnings as errors: it must declare everything it uses and
# lean on no extension.
#   tests/consumers/header_standalone.sh PREFIX
set -euo pipefail
prefix=${1:?usage: header_standalone.sh PREFIX}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <turbo/turbo.h>\nint turbo_header_ok(void);\nint turbo_header_ok(void) { return TURBO_OK; }\n' >"$tmp/h.c"
cp "$tmp/h.c" "$tmp/h.cpp"
strict=(-Wall -Wextra -Werror -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes)
n=0
for std in c99 c11 c17; do
  for cc in gcc clang; do
    command -v "$cc" >/dev/null || continue
    "$cc" -std=$std "${strict[@]}" -I"$prefix/include" -c "$tmp/h.c" -o "$tmp/h.o"
    n=$((n + 1))
  done
done
for std in c++11 c++14 c++17 c++20; do
  for cxx in g++ clang++; do
    command -v "$cxx" >/dev/null || continue
    "$cxx" -std=$std -Wall -Wextra -Werror -Wpedantic -Wshadow -I"$prefix/include" -c "$tmp/h.cpp" -o "$tmp/h.o"
    n=$((n + 1))
  done
done
[ "$n" -ge 7 ] || { echo "only $n compiler/standard pairs were available"; exit 1; }
echo "ok: <turbo/turbo.h> compiles alone in $n compiler/standard pairs"
