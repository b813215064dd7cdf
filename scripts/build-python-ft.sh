#!/usr/bin/env bash
# Builds a free-threaded CPython 3.13 (configure --disable-gil, "3.13t")
# into a prefix and prints its interpreter's path (the only thing written
# to standard output), for building and testing the binding without the
# GIL (docs/python.md, "free-threaded").
#
# The source is Debian 13 "trixie"'s own python3.13 source package,
# fetched with apt-get source through a private apt configuration (its own
# sources.list, lists and cache in a temporary directory): the system's
# apt sources are not changed. The build dependencies are Debian 12's
# packages (scripts/install-deps.sh). Of Debian's patches only the
# security fixes (debian/patches/CVE-*, upstream's own backported fixes)
# are applied; the rest adapt CPython to Debian's layout (dist-packages,
# multiarch paths, a split stdlib, ensurepip disabled), which a private
# prefix does not want, so the build is otherwise upstream's, configured
# upstream-style.
#
# libpython is shared (--enable-shared), found by an rpath into the
# prefix, so nothing needs LD_LIBRARY_PATH. TURBO_PYFT_STATIC=1 builds the
# static libpython instead (CPython's own default, and pyenv's), which is
# how issue 18 found turbo-serve's link failure; the binding must build
# against both.
#
# Cached: when PREFIX already holds a complete build (a stamp written
# last records the source package and the configuration), this does
# nothing. About 4 minutes on two cores (-j2 at most, TURBO_PYFT_JOBS; 3.5
# minutes wall, 250 s of CPU, measured on a 2-core Debian 12 machine).
#
# Usage: python=$(scripts/build-python-ft.sh [PREFIX])   (default build-ft/python)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
prefix=${1:-$root/build-ft/python}
case $prefix in /*) ;; *) prefix=$PWD/$prefix ;; esac
static=${TURBO_PYFT_STATIC:-0}
jobs=${TURBO_PYFT_JOBS:-2}
python=$prefix/bin/python3.13t
stamp=$prefix/.turbo-stamp
want="python3.13 trixie --disable-gil static=$static"

if [ -x "$python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$python"
  exit 0
fi

# The compiler and the libraries the optional stdlib modules need (ssl,
# zlib, ctypes, bz2, lzma, sqlite3, readline, curses, uuid, dbm, expat),
# and dpkg-source.
scripts/install-deps.sh dpkg-dev libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev \
  libsqlite3-dev libreadline-dev libncurses-dev uuid-dev libgdbm-dev libexpat1-dev >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/turbo-pyft.XXXXXX")
trap 'rm -rf "$work"' EXIT
# apt fetches as the unprivileged _apt user where it can write.
chmod 755 "$work"

# The private apt configuration: trixie's source index only, in $work.
mkdir -p "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/src"
echo "deb-src http://deb.debian.org/debian trixie main" >"$work/apt/sources.list"
apt_opts=(-o Dir::Etc::SourceList="$work/apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
  -o Dir::State::Lists="$work/apt/lists" -o Dir::Cache="$work/apt/cache")
echo "build-python-ft: fetching trixie's python3.13 source" >&2
apt-get "${apt_opts[@]}" update -qq >&2
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only python3.13 >&2)
dsc=$(ls "$work"/src/python3.13_*.dsc)
dpkg-source --skip-patches -x "$dsc" "$work/src/cpython" >&2
for p in $(grep -E '^CVE-' "$work/src/cpython/debian/patches/series"); do
  patch -d "$work/src/cpython" -p1 -s -N <"$work/src/cpython/debian/patches/$p" >&2
done

echo "build-python-ft: building $(basename "$dsc" .dsc) --disable-gil into $prefix" >&2
cd "$work/src/cpython"
conf=(--prefix="$prefix" --disable-gil --with-ensurepip=install)
ldflags=
if [ "$static" = 1 ]; then
  conf+=(--disable-shared)
else
  conf+=(--enable-shared)
  ldflags="-Wl,-rpath,$prefix/lib"
fi
./configure -q "${conf[@]}" LDFLAGS="$ldflags" >&2
make -s -j"$jobs" >&2
# A prefix that holds another configuration of ours (its stamp says so)
# is emptied first: a static build over a shared one would leave the old
# libpython .so for CMake to find.
[ -f "$stamp" ] && rm -rf "$prefix"
make -s install >&2

gil=$("$python" -c 'import sys; print(sys._is_gil_enabled())')
[ "$gil" = False ] || { echo "build-python-ft: $python runs with the GIL enabled" >&2; exit 1; }
echo "$want" >"$stamp"
echo "$python"
