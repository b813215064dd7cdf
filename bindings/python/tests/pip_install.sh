#!/usr/bin/env bash
# The Python package installs with pip as a new user installs it, and then
# serves the README's example:
#  - the sdist (made from a clean copy of the repository by the build
#    backend's own hook), then the wheel built from it, into a fresh venv of
#    every CPython found: Debian's /usr/bin/python3, the python3 first on
#    PATH when it is another interpreter, and a free-threaded build when one
#    is installed; the module exports PyInit__turbo and nothing else;
#  - the README's three lines, `python3 -m venv v`, `v/bin/pip install .`,
#    `v/bin/turbo app:app`, in that clean copy;
#  - with BUILD_DIR, a CMake build of the project: the distributors' variant,
#    the sdist built with TURBO_PY_SYSTEM_LIBTURBO=ON against that build's
#    libturbo installed to a prefix (pkg-config turbo).
# pip builds in isolation, so this needs PyPI (scikit-build-core); pip's
# downloads are cached under WORK_DIR.
# Usage: pip_install.sh WORK_DIR [BUILD_DIR]   (e.g. build/pip-install build)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mkdir -p "$1" && cd "$1" && pwd)
build=${2:-}
export PIP_CACHE_DIR=$work/pip-cache PIP_DISABLE_PIP_VERSION_CHECK=1 CMAKE_BUILD_PARALLEL_LEVEL=2
# The pip build leaves warnings as warnings (a user's compiler may warn
# where ours does not); here, as in the project's own builds, they fail.
export SKBUILD_CMAKE_DEFINE=CMAKE_COMPILE_WARNING_AS_ERROR=ON
tmp=$(mktemp -d)
server=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "pip_install.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# The interpreters: each a CPython >= 3.11 with venv, counted once.
pythons=()
add_python() {
  local py real
  py=$(command -v "$1" 2>/dev/null) || return 0
  "$py" -c 'import sys, venv; assert sys.version_info >= (3, 11)' 2>/dev/null || return 0
  real=$("$py" -c 'import sys, sysconfig; print(sys.base_prefix, sysconfig.get_config_var("EXT_SUFFIX"))')
  for seen in "${pythons[@]+"${pythons[@]}"}"; do
    [ "${seen#* }" != "$real" ] || return 0
  done
  pythons+=("$py $real")
}
add_python /usr/bin/python3
add_python python3
for ft in /opt/python-ft/bin/python3 /usr/local/bin/python3.1[3-9]t /usr/bin/python3.1[3-9]t; do
  add_python "$ft"
done

# A clean copy: the files git tracks or would track (not build
# directories, not .venv), as they are in the working tree.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) |
  (mkdir "$tmp/repo" && cd "$tmp/repo" && tar -xf -)

# The README's Python example and the answer it shows for this request.
awk '/^```python file=app.py$/ {on = 1; next} on && /^```$/ {exit} on' "$repo/README.md" >"$tmp/app.py"
grep -q '^app = App()$' "$tmp/app.py"
request='/users/42?verbose=yes'
expected='{"id":42,"verbose":true}'

# serve VENV_BIN_TURBO DIR: runs `turbo app:app` in DIR on a free port, makes
# the request, checks the exact body, stops the server.
serve() {
  local turbo=$1 dir=$2 port body
  (cd "$dir" && exec "$turbo" app:app --port 0 >"$tmp/serve.out" 2>&1) &
  server=$!
  for _ in $(seq 100); do
    port=$(sed -n 's|^turbo: serving on http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$tmp/serve.out")
    [ -z "$port" ] || break
    kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.out" >&2; return 1; }
    sleep 0.1
  done
  [ -n "$port" ] || { echo "no 'serving on' line:" >&2; cat "$tmp/serve.out" >&2; return 1; }
  body=$(curl -sS --max-time 10 "http://127.0.0.1:$port$request")
  kill "$server" && wait "$server" || true
  server=""
  [ "$body" = "$expected" ] || { echo "$turbo answered '$body', expected '$expected'" >&2; return 1; }
}

# check_venv VENV: the installed module exports PyInit__turbo only, the
# package is typed, and `turbo` serves the README's example.
check_venv() {
  local v=$1 so exports
  so=$(echo "$v"/lib/python3*/site-packages/turbo/_turbo*.so)
  exports=$(nm -D --defined-only "$so" | awk '{print $3}')
  [ "$exports" = "PyInit__turbo" ] || { echo "$so exports: $exports" >&2; return 1; }
  test -f "$(dirname "$so")/py.typed"
  "$v/bin/turbo" --version >/dev/null
  serve "$v/bin/turbo" "$tmp"
}

# The sdist, by scikit-build-core's build_sdist hook (no frontend needed),
# at the version pyproject.toml pins.
"${pythons[0]%% *}" -m venv "$tmp/sdist-venv"
requires=$(cd "$tmp/repo" && "$tmp/sdist-venv/bin/python" -c \
  'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"])')
"$tmp/sdist-venv/bin/pip" install -q $requires
mkdir "$tmp/dist"
sdist=$(cd "$tmp/repo" && "$tmp/sdist-venv/bin/python" -c \
  'import sys; from scikit_build_core.build import build_sdist; print(build_sdist(sys.argv[1]))' \
  "$tmp/dist" | tail -1)
sdist=$tmp/dist/$sdist
tar -tzf "$sdist" >"$tmp/sdist.list"
grep -q '^turbo-[0-9.]*/libturbo/parse.c$' "$tmp/sdist.list"

for entry in "${pythons[@]}"; do
  py=${entry%% *}
  name=$("$py" -c 'import sys; print(sys.version.split()[0] + ("t" if "t" in sys.abiflags else ""))')
  echo "== $py ($name): the sdist, then the wheel built from it"
  rm -rf "$tmp/v" "$tmp/wheels"
  "$py" -m venv "$tmp/v"
  "$tmp/v/bin/pip" install -q "$sdist"
  check_venv "$tmp/v"
  "$tmp/v/bin/pip" wheel -q --no-deps -w "$tmp/wheels" "$sdist"
  "$tmp/v/bin/pip" install -q --force-reinstall --no-deps "$tmp"/wheels/turbo-*.whl
  check_venv "$tmp/v"
  echo "ok: $name"
done

echo "== the README's three lines in a clean copy of the repository"
cp "$tmp/app.py" "$tmp/repo/app.py"
(cd "$tmp/repo" && /usr/bin/python3 -m venv v && v/bin/pip install -q .)
serve "$tmp/repo/v/bin/turbo" "$tmp/repo"
echo "ok: python3 -m venv v && v/bin/pip install . && v/bin/turbo app:app"

if [ -n "$build" ]; then
  echo "== TURBO_PY_SYSTEM_LIBTURBO=ON: the module links the installed libturbo"
  cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
  rm -rf "$tmp/v"
  /usr/bin/python3 -m venv "$tmp/v"
  PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig "$tmp/v/bin/pip" install -q \
    --config-settings=cmake.define.TURBO_PY_SYSTEM_LIBTURBO=ON "$sdist"
  so=$(echo "$tmp"/v/lib/python3*/site-packages/turbo/_turbo*.so)
  ldd "$so" >"$tmp/ldd.out"
  grep -q "libturbo.so.0 => $tmp/prefix/" "$tmp/ldd.out" || { cat "$tmp/ldd.out" >&2; exit 1; }
  check_venv "$tmp/v"
  echo "ok: linked against $tmp/prefix/lib/libturbo.so.0"
fi
