#!/usr/bin/env bash
# tests/consumers/run.sh PREFIX WHICH
#
# Builds one consumer of libturbo against the installation in PREFIX only
# (its turbo.pc, its CMake package, its headers and libraries; never the
# source tree), in a temporary directory, runs it, and checks it over HTTP
# with curl:
#   GET  /hello/world  -> 200, text/plain, "hello world from LANG\n" (exact)
#   GET  /no/such/path -> 404
#   POST /stop         -> 200, then the process exits 0
# and, started again, that SIGTERM stops it with exit status 0 too
# and that the turbo_version() it prints equals `pkg-config --modversion`.
#
# WHICH: c-shared | c-static | cpp | rust | lua
set -euo pipefail

usage() { echo "usage: $0 PREFIX c-shared|c-static|cpp|rust|lua" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
WHICH=$2
case $WHICH in c-shared | c-static | cpp | rust | lua) ;; *) usage ;; esac
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fail() { echo "FAIL [$WHICH]: $*" >&2; exit 1; }
say() { echo "+ $*"; "$@"; } # show a build command, then run it
[[ -d $1 ]] || fail "no such install prefix: $1"
PREFIX=$(cd "$1" && pwd -P) # physical, as build.rs canonicalizes it
need() { command -v "$1" >/dev/null || fail "$1 not found (Debian: apt-get install $2)"; }
need curl curl
need pkg-config pkg-config
need readelf binutils

# Nothing from the caller's environment may find libturbo or its headers
# for us: pkg-config looks in PREFIX (then the system, for libevent_core
# and ck), nothing else is searched.
unset LD_LIBRARY_PATH LIBRARY_PATH CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH \
      CMAKE_PREFIX_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR TURBO_LIB
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
[[ -f $PKG_CONFIG_PATH/turbo.pc ]] || fail "no $PKG_CONFIG_PATH/turbo.pc"
VERSION=$(pkg-config --modversion turbo)

TMP=$(mktemp -d)
PID=
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        sleep 0.5
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 143' TERM INT # so that a ctest timeout also runs cleanup
cd "$TMP"

CFLAGS_STRICT=(-std=c11 -Wall -Wextra -Werror -O2)

# needs BINARY PATTERN: whether readelf -d shows a NEEDED entry matching
# PATTERN. (Output captured first: with pipefail, `readelf | grep -q` can
# fail by SIGPIPE when grep stops reading early.)
needs() {
    local dyn
    dyn=$(readelf -d "$1") || fail "readelf -d $1 failed"
    grep -q "NEEDED.*$2" <<<"$dyn"
}

# None of the binaries given may need libturbo.so, and each must contain it.
assert_no_libturbo_so() {
    local bin out
    for bin in "$@"; do
        needs "$bin" libturbo && fail "$bin needs a shared libturbo: $(readelf -d "$bin" | grep NEEDED)"
        out=$(ldd "$bin") || fail "ldd $bin failed"
        grep -q libturbo <<<"$out" && fail "ldd $bin lists libturbo: $out"
        grep -q ' T turbo_server_run$' <<<"$(nm "$bin")" ||
            fail "$bin does not contain turbo_server_run"
        echo "ok: $bin has libturbo linked in, needs no libturbo.so; ldd:"
        echo "$out"
    done
}

# serve LANG COMMAND...: runs the consumer, checks it, stops it with
# POST /stop; then runs it again and stops it with SIGTERM.
serve() {
    STOP_BY=request serve_once "$@"
    STOP_BY=signal serve_once "$@"
}

serve_once() {
    local lang=$1
    shift
    echo "--- $lang: $*"
    # Fresh files: the loop below must never read the previous run's port.
    rm -f out.txt err.txt
    "$@" >out.txt 2>err.txt &
    PID=$!
    local port='' i
    for ((i = 0; i < 100; i++)); do
        if [[ $(head -n 1 out.txt 2>/dev/null) =~ ^listening\ on\ ([0-9]+)$ ]]; then
            port=${BASH_REMATCH[1]}
            break
        fi
        kill -0 "$PID" 2>/dev/null || { cat err.txt >&2; fail "$lang exited before listening"; }
        sleep 0.1
    done
    [[ -n $port ]] || fail "$lang printed no 'listening on PORT' in 10 s: $(cat out.txt err.txt)"
    local url=http://127.0.0.1:$port
    local got
    got=$(sed -n 2p out.txt)
    [[ $got == "libturbo $VERSION" ]] ||
        fail "$lang: second line is '$got', pkg-config --modversion says $VERSION"

    got=$(curl -sS --max-time 10 -o body -w '%{http_code} %{content_type}' "$url/hello/world") ||
        fail "$lang: curl $url/hello/world failed"
    [[ $got == "200 text/plain" ]] || fail "$lang: GET /hello/world: '$got', wanted '200 text/plain'"
    printf 'hello world from %s\n' "$lang" >want
    cmp -s body want || fail "$lang: GET /hello/world body $(od -c body | head -5)"

    got=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' "$url/no/such/path") || fail "$lang: curl 404"
    [[ $got == 404 ]] || fail "$lang: GET /no/such/path: $got, wanted 404"

    if [[ $STOP_BY == signal ]]; then
        kill -TERM "$PID"
    else
        got=$(curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -X POST "$url/stop") || fail "$lang: curl /stop"
        [[ $got == 200 ]] || fail "$lang: POST /stop: $got, wanted 200"
    fi

    local rc=0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$PID" 2>/dev/null && fail "$lang still running 10 s after the stop ($STOP_BY)"
    wait "$PID" || rc=$?
    PID=
    [[ $rc -eq 0 ]] || { cat err.txt >&2; fail "$lang exited with $rc after the stop ($STOP_BY)"; }
    [[ ! -s err.txt ]] || { cat err.txt >&2; fail "$lang wrote to stderr"; }
    echo "ok: $lang on port $port: 200 text/plain body, 404, stopped by $STOP_BY, exit 0"
}

case $WHICH in
c-shared)
    need cc gcc
    # shellcheck disable=SC2046 # pkg-config output is meant to be split
    say cc "${CFLAGS_STRICT[@]}" -o hello "$HERE/c/hello.c" $(pkg-config --cflags --libs turbo)
    needs hello 'libturbo\.so\.0' || fail "hello does not need libturbo.so.0"
    # No RPATH: the loader finds the staged library through LD_LIBRARY_PATH.
    LD_LIBRARY_PATH=$PREFIX/lib serve c ./hello
    ;;
c-static)
    need cc gcc
    # pkg-config --static adds libturbo.a's own dependencies (libevent_core,
    # ck, -pthread); -l:libturbo.a makes the linker take the archive where
    # the plain -lturbo would pick libturbo.so.
    libs=$(pkg-config --static --libs turbo)
    [[ " $libs " == *" -lturbo "* ]] || fail "no -lturbo in: $libs"
    libs=${libs/-lturbo/-l:libturbo.a}
    # shellcheck disable=SC2046,SC2086
    say cc "${CFLAGS_STRICT[@]}" -o hello-static "$HERE/c/hello.c" $(pkg-config --cflags turbo) $libs
    assert_no_libturbo_so hello-static
    serve c ./hello-static # no LD_LIBRARY_PATH
    ;;
cpp)
    need cmake cmake
    need c++ g++
    # Only CMAKE_PREFIX_PATH tells find_package(turbo) where to look.
    say cmake -S "$HERE/cpp" -B build -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_BUILD_TYPE=Release \
        2>&1 | tee cmake.log || fail "cmake configure failed"
    say cmake --build build -j2 --verbose 2>&1 | tee -a cmake.log || fail "cmake build failed"
    # -Wall -Wextra -Werror already stop the build; CMake's own warnings too.
    ! grep -qi warning cmake.log || fail "warnings in the C++ configure or build"
    assert_no_libturbo_so build/hello_cpp_static
    # CMake gives the build-tree binary a RUNPATH to the imported
    # libturbo.so's directory: no LD_LIBRARY_PATH needed.
    serve 'c++' build/hello_cpp
    serve 'c++' build/hello_cpp_static
    ;;
rust)
    # Debian's cargo and rustc (1.63), whatever rustup put first on PATH;
    # offline, with CARGO_HOME and the target directory in TMP. The package
    # is copied there too, since cargo writes next to Cargo.toml; --locked:
    # Cargo.lock (no dependencies) must already be right.
    CARGO=${TURBO_CARGO:-/usr/bin/cargo}
    export RUSTC=${TURBO_RUSTC:-/usr/bin/rustc}
    need "$CARGO" cargo
    need "$RUSTC" rustc
    export CARGO_HOME=$TMP/cargo-home CARGO_TARGET_DIR=$TMP/target CARGO_NET_OFFLINE=true
    unset RUSTFLAGS CARGO_BUILD_RUSTFLAGS CARGO_ENCODED_RUSTFLAGS RUSTC_WRAPPER
    mkdir pkg
    cp -r "$HERE/rust/Cargo.toml" "$HERE/rust/Cargo.lock" "$HERE/rust/build.rs" "$HERE/rust/src" pkg/
    (cd pkg && RUSTFLAGS='-D warnings' "$CARGO" build --offline --locked --release) >cargo.log 2>&1 ||
        { cat cargo.log >&2; fail "cargo build failed"; }
    cat cargo.log
    ! grep -q '^warning' cargo.log || fail "warnings in the Rust build"
    # build.rs sets a RUNPATH to pkg-config's libdir (cargo:rustc-link-arg),
    # so the program runs as built, without LD_LIBRARY_PATH.
    dyn=$(readelf -d target/release/hello_rust)
    grep -q "R.*PATH.*$PREFIX" <<<"$dyn" || fail "hello_rust has no RUNPATH into $PREFIX: $dyn"
    serve rust target/release/hello_rust
    ;;
lua)
    need luajit luajit
    # No compiler: LuaJIT's FFI loads the staged library by path.
    serve lua luajit "$HERE/lua/hello.lua" "$PREFIX/lib/libturbo.so.0"
    ;;
*)
    usage
    ;;
esac
echo "PASS [$WHICH]"
