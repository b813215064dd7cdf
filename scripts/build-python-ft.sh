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
# The default PREFIX is outside the source tree, so that a fresh clone
# (CI's) reuses the build: $TURBO_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/libturbo)/python3.13t-KEY, KEY a hash of this
# script and of the configuration, so a change to either builds anew
# beside the old prefix (which is then removed: only prefixes of ours,
# with our stamp, are). Builds of two runs at once are serialised by a
# lock on the prefix. An explicit PREFIX (e.g. build-ft/python) is used
# as it is, as before.
#
# Any failure (trixie's source not reachable, a build error) fails this
# script, loudly: nothing falls back or skips.
#
# Usage: python=$(scripts/build-python-ft.sh [PREFIX])
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
static=${TURBO_PYFT_STATIC:-0}
jobs=${TURBO_PYFT_JOBS:-2}
want="python3.13 trixie --disable-gil static=$static"
if [ $# -ge 1 ]; then
  prefix=$1
else
  cache=${TURBO_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/libturbo}
  key=$( (cat "$root/scripts/build-python-ft.sh"; echo "$want") | sha256sum | cut -c1-12)
  prefix=$cache/python3.13t-$key
fi
case $prefix in /*) ;; *) prefix=$PWD/$prefix ;; esac
python=$prefix/bin/python3.13t
stamp=$prefix/.turbo-stamp

if [ -x "$python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  echo "$python"
  exit 0
fi

# One build per prefix at a time: a second run waits, then finds it done.
mkdir -p "$(dirname "$prefix")"
exec 9>"$prefix.lock"
flock 9
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
fetch_failed() {
  echo "build-python-ft: FAILED to fetch python3.13's source from Debian trixie ($1); no free-threaded CPython" >&2
  exit 1
}
apt-get "${apt_opts[@]}" update -qq >&2 || fetch_failed "apt-get update"
(cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only python3.13 >&2) ||
  fetch_failed "apt-get source"
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
# Older cache prefixes of this script (another KEY, our stamp) go.
if [ $# -eq 0 ]; then
  for old in "$cache"/python3.13t-*; do
    [ "$old" != "$prefix" ] && [ -f "$old/.turbo-stamp" ] && rm -rf "$old" "$old.lock"
  done
fi
echo "$python"
