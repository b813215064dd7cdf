#!/usr/bin/env bash
# The ABI gate itself: the built library matches the committed baseline,
# and scripts/abi-check.sh fails, with the right verdict, on each kind of
# difference. The differences are made by editing copies of the baseline
# (so the library "added" what the copy lacks, "removed" what the copy
# invents, "changed" what the copy declares differently).
set -euo pipefail
lib=$1
root=$(cd "$(dirname "$0")/.." && pwd)
check=$root/scripts/abi-check.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$check" "$lib"

# expect VERDICT BASELINE: the check must fail and name the verdict
expect() {
  local verdict=$1 file=$2 out
  if out=$(ABI_BASELINE=$file "$check" "$lib" 2>&1); then
    echo "abi gate: passed, but should have found: $verdict"; echo "$out"; exit 1
  fi
  grep -q -- "$verdict" <<<"$out" || { echo "abi gate: expected '$verdict', got:"; echo "$out"; exit 1; }
  echo "ok: $verdict"
}

/usr/bin/python3 - "$root/abi/libturbo.abi" "$tmp" <<'PY'
import re, sys
base = open(sys.argv[1]).read()
out = sys.argv[2]
def decl(name):
    return re.compile(r"\n\s*<function-decl name='%s'.*?</function-decl>" % name, re.S)
def sym(name):
    return re.compile(r"\n\s*<elf-symbol name='%s'[^\n]*/>" % name)
# the library has a function the baseline lacks: an addition
added = sym("turbo_version").sub("", decl("turbo_version").sub("", base, 1), 1)
# the baseline has a function the library lacks: a removal
gone_sym = sym("turbo_version").search(base).group(0).replace("turbo_version", "turbo_gone")
gone_decl = decl("turbo_version").search(base).group(0).replace("turbo_version", "turbo_gone")
removed = sym("turbo_version").sub(lambda m: m.group(0) + gone_sym, base, 1)
removed = decl("turbo_version").sub(lambda m: m.group(0) + gone_decl, removed, 1)
# the baseline's turbo_server_port took no argument: a changed signature
d = decl("turbo_server_port").search(base).group(0)
changed = base.replace(d, re.sub(r"\n\s*<parameter [^\n]*/>", "", d, 1))
for name, text in (("added", added), ("removed", removed), ("changed", changed)):
    assert text != base, name
    open(f"{out}/{name}.abi", "w").write(text)
PY
expect "the ABI grew (additions only)" "$tmp/added.abi"
expect "INCOMPATIBLE ABI change" "$tmp/removed.abi"
expect "existing functions or types CHANGED" "$tmp/changed.abi"
sed "s/soname='[^']*'/soname='libturbo.so.99'/" "$root/abi/libturbo.abi" > "$tmp/soname.abi"
expect "the baseline is for libturbo.so.99" "$tmp/soname.abi"
