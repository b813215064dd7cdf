#!/usr/bin/env bash
# Makes .venv, the Python environment the binding's tests and the Python
# benchmark peers run in, and prints its interpreter's path (the only
# thing written to standard output).
#
# The venv is made from the interpreter the binding is built for,
# $TURBO_PYTHON (default /usr/bin/python3, Debian's 3.11; not the python3
# first on PATH), so the module the build compiles loads in it. It holds
# exactly the pins of requirements-dev.txt. It is made again only when
# that file, or the interpreter, changed since the last complete install
# (a stamp in .venv records both): otherwise this takes milliseconds and
# needs no network.
#
# A free-threaded interpreter (built with --disable-gil, e.g. by
# scripts/build-python-ft.sh) gets .venv-ft from requirements-ft.txt
# instead: many of requirements-dev.txt's pins have no wheel it can load.
#
# Usage: venv_python=$(scripts/venv.sh)
#        venv_python=$(TURBO_PYTHON=$(scripts/build-python-ft.sh) scripts/venv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${TURBO_PYTHON:-/usr/bin/python3}
if [ "$("$base" -c 'import sysconfig; print(sysconfig.get_config_var("Py_GIL_DISABLED") or 0)')" = 1 ]; then
  reqs=requirements-ft.txt
  venv=$PWD/.venv-ft
  # The same versions as the GIL build's tests: a pin of its own here
  # would let the two suites drift apart unseen.
  stray=$(grep -E '^[A-Za-z]' "$reqs" | grep -vxF -f requirements-dev.txt || true)
  if [ -n "$stray" ]; then
    echo "venv: $reqs pins what requirements-dev.txt does not: $stray" >&2
    exit 1
  fi
else
  reqs=requirements-dev.txt
  venv=$PWD/.venv
fi
stamp=$venv/.turbo-stamp

want=$( (sha256sum "$reqs" | cut -d' ' -f1; "$base" -c 'import sys; print(sys.executable, sys.version)') | tr '\n' ' ')
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$venv/bin/python"
  exit 0
fi

echo "venv: making $venv from $base for $reqs" >&2
rm -rf "$venv"
"$base" -m venv "$venv" >&2
# --no-deps: every package is pinned in the file; pip check proves none is
# missing. The stamp is written last, so an interrupted install is redone.
"$venv/bin/python" -m pip install -q --disable-pip-version-check --only-binary=:all: --no-deps \
  -r "$reqs" >&2
check=$("$venv/bin/python" -m pip check) || { echo "$check" >&2; exit 1; }
echo "$want" >"$stamp"
echo "$venv/bin/python"
