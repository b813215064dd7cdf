#!/usr/bin/env bash
# The ABI gate: compares a built libturbo.so with the committed baseline
# (abi/libturbo.abi, written by abidw from the public headers' view).
#
#   scripts/abi-check.sh LIBTURBO.so            check (CI; the ctest abi_check)
#   scripts/abi-check.sh LIBTURBO.so --update   record LIBTURBO.so as the baseline
#   ABI_BASELINE=FILE scripts/abi-check.sh ...  check against another baseline
#
# Outcomes:
#   no change                       pass
#   functions/types only added      fail: the baseline must record what was
#                                   published (and the minor version goes up);
#                                   run --update in the same commit
#   symbols removed, or existing    fail: undo it, or bump TURBO_ABI_VERSION
#   functions/types changed         in include/turbo/turbo.h (the SONAME) and
#                                   run --update
#   SONAME differs from baseline    fail until --update records the new ABI
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
lib=${1:?usage: scripts/abi-check.sh LIBTURBO.so [--update]}
baseline=${ABI_BASELINE:-$root/abi/libturbo.abi}
headers=$root/include/turbo

# The comparison is of types, read from DWARF: a library without debug
# information would only be compared by symbol names.
if ! readelf -S --wide "$lib" | grep -q '\.debug_info'; then
  echo "abi-check: $lib has no debug information; build it with -g"
  echo "  (CMAKE_BUILD_TYPE=RelWithDebInfo or Debug) to check or record its ABI"
  exit 1
fi

if [ "${2:-}" = "--update" ]; then
  mkdir -p "$(dirname "$baseline")"
  abidw --headers-dir "$headers" --no-corpus-path --no-show-locs --out-file "$baseline" "$lib"
  # the translation units' paths are this checkout's: keep them relative
  sed -i -e "s| path='$root/| path='|g" -e "s| comp-dir-path='[^']*'||g" "$baseline"
  echo "recorded the ABI of $(basename "$(readlink -f "$lib")") in ${baseline#$root/}"
  exit 0
fi

[ -f "$baseline" ] || { echo "abi-check: no baseline $baseline (record one with --update)"; exit 1; }
want=$(sed -n "s/.*soname='\([^']*\)'.*/\1/p" "$baseline" | head -1)
have=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
if [ "$want" != "$have" ]; then
  echo "abi-check: the baseline is for $want but the library is $have."
  echo "  A deliberate ABI break: record it with scripts/abi-check.sh $lib --update"
  exit 1
fi

set +e
report=$(abidiff --headers-dir2 "$headers" --no-added-syms "$baseline" "$lib" 2>&1)
rc=$?
added=$(abidiff --headers-dir2 "$headers" "$baseline" "$lib" 2>&1)
rc_added=$?
set -e
if (( rc & 1 )) || (( rc & 2 )); then
  echo "abi-check: abidiff failed (status $rc):"; echo "$report"; exit 1
fi
if (( rc & 8 )); then
  echo "abi-check: INCOMPATIBLE ABI change against ${baseline#$root/} ($have): symbols removed"
  echo "$report"
  echo "Undo it, or bump TURBO_ABI_VERSION in include/turbo/turbo.h (the SONAME) and"
  echo "record the new ABI with: scripts/abi-check.sh $lib --update"
  exit 1
fi
if (( rc & 4 )); then
  echo "abi-check: existing functions or types CHANGED against ${baseline#$root/} ($have):"
  echo "$report"
  echo "A changed signature or layout breaks callers: undo it, or bump TURBO_ABI_VERSION"
  echo "in include/turbo/turbo.h (the SONAME). Only when the change is compatible for"
  echo "every caller (an enum that grew), record it with: scripts/abi-check.sh $lib --update"
  exit 1
fi
if (( rc_added & 4 )); then
  echo "abi-check: the ABI grew (additions only) against ${baseline#$root/}:"
  echo "$added"
  echo "Record what is now published (and raise TURBO_VERSION_MINOR) with:"
  echo "  scripts/abi-check.sh $lib --update"
  exit 1
fi
echo "abi-check: $have matches ${baseline#$root/}"
