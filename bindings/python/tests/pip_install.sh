#!/usr/bin/env bash
# The README's install path works offline: libturbo installed to a fresh
# prefix, then `pip install --no-build-isolation` of bindings/python finds
# it with pkg-config, and the installed package serves a request.
# Usage: pip_install.sh BUILD_DIR BINDING_SRC PYTHON
set -euo pipefail
build=$1 src=$2 py=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
# A private copy: pip builds in the source tree, which must stay clean.
cp -r "$src" "$tmp/src"
rm -rf "$tmp/src/build" "$tmp/src/tests"
PKG_CONFIG_PATH=$tmp/prefix/lib/pkgconfig "$py" -m pip install -q --no-build-isolation --no-index \
  --target "$tmp/site" "$tmp/src" 2>&1 | grep -v -e 'Running pip as the' -e '_BetaConfiguration' -e 'warnings.warn' || true
test -f "$tmp/site/turbo/__init__.py"
cd "$tmp"
PYTHONPATH=$tmp/site "$py" - <<'PY'
import json, urllib.request
import turbo
assert turbo.__file__.startswith(__import__("os").getcwd()), turbo.__file__
app = turbo.App()
@app.get("/items/{n}")
def item(n: int):
    return {"n": n}
port = app.start(port=0)
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/items/7").read()
app.stop()
assert body == b'{"n":7}', body
print("ok: installed package from", turbo.__file__, "served", body.decode())
PY
