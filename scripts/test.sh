#!/usr/bin/env bash
# Installs what is missing (Debian packages; the pinned PyPI packages into
# .venv), builds, and runs every test: the optimised build (C suites,
# Python suites in .venv), the Python suites and a 200,000-request stress
# test under a free-threaded CPython (built once, cached outside the
# clone), the Python package built and installed by pip
# into fresh venvs, the integration suites under valgrind,
# the C suites again under AddressSanitizer + UBSan, the multi-threaded
# suites under ThreadSanitizer, and each fuzz target for a bounded time.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The binding is built for $py; the Python suites run in .venv (pinned PyPI
# packages), which scripts/venv.sh makes from that same interpreter.
py=${TURBO_PYTHON:-/usr/bin/python3}
venv_python=$(TURBO_PYTHON=$py scripts/venv.sh)
pyflags=(-DTURBO_PYTHON="$py" -DTURBO_TEST_PYTHON="$venv_python")
jobs=$(nproc)

echo "== build (RelWithDebInfo) and test"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${pyflags[@]}" >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j"$jobs")

echo "== the binding under a free-threaded CPython 3.13t, the GIL off (issue 18)"
# Built once from Debian 13's source and cached outside the clone
# (scripts/build-python-ft.sh; about 4 minutes the first time, nothing
# after); a failure to fetch or build it fails the run.
ft_python=$(scripts/build-python-ft.sh)
ft_venv_python=$(TURBO_PYTHON=$ft_python scripts/venv.sh)
cmake -S . -B build-ft -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTURBO_PYTHON="$ft_python" \
  -DTURBO_TEST_PYTHON="$ft_venv_python" >/dev/null
cmake --build build-ft -j"$jobs" --target turbo_py turbo-serve turbo-mixed
(cd build-ft && PYTHON_GIL=0 ctest --output-on-failure -R '^python_(tests|stress)$')

echo "== the Python package as pip builds and installs it (needs PyPI for the build backend)"
bindings/python/tests/pip_install.sh build/pip-install build

echo "== the integration suites under valgrind (leaks and memory errors)"
for t in test_server test_routes_live test_smuggling test_abuse test_listen test_defer test_stream test_body_stream test_websocket test_metrics test_proxy test_forwarded test_drain; do
  [ -x build/tests/$t ] || continue
  # (test_body_stream's gigabyte upload is 16 MiB under valgrind: the same
  # code paths, at valgrind's speed)
  TURBO_TEST_UPLOAD_MB=16 CK_DEFAULT_TIMEOUT=300 valgrind -q --leak-check=full --error-exitcode=1 build/tests/$t
done

echo "== build with ASan+UBSan and test"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DTURBO_SANITIZE=ON "${pyflags[@]}" >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j"$jobs")

echo "== build with ThreadSanitizer and run the multi-threaded suites"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DTURBO_TSAN=ON >/dev/null
cmake --build build-tsan -j"$jobs" --target test_server test_routes_live test_listen test_defer test_stream test_body_stream test_websocket test_metrics
(cd build-tsan && ctest --output-on-failure -R 'test_server|test_routes_live|test_listen|test_defer|test_stream|test_body_stream|test_websocket|test_metrics')

echo "== each fuzz target for a bounded time (the long run: scripts/fuzz.sh 600)"
FUZZ_JOBS=2 scripts/fuzz.sh 30
