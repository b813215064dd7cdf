"""The mechanism behind bench/ft_scaling.sh, without a server: one
imported function run by 1 and by 2 plain threads at once, its constants
as importlib left them (mortal) and after turbo.immortalize_constants()
(immortal). ft_loop.py is imported twice, once for each. The four cases
take turns, ROUNDS times, so that load from elsewhere on a shared
machine falls on all alike; medians are printed.

Prints one line per case: "case calls/s cpu_us_per_call".
Usage: python3.13t ft_contention.py [ROUNDS=7] [CALLS=200]"""

import importlib.util
import os
import statistics
import sys
import threading
import time

import turbo


def load(name):
    spec = importlib.util.spec_from_file_location(
        name, os.path.join(os.path.dirname(os.path.abspath(__file__)), "ft_loop.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # compiled by importlib, as any module
    return module


def run(f, threads, calls):
    """threads threads each call f calls times, all at once: (calls per
    wall second, process CPU µs per call)."""
    go = threading.Barrier(threads + 1)

    def work():
        go.wait()
        for _ in range(calls):
            f()

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    go.wait()
    wall, cpu = time.perf_counter(), time.process_time()
    for t in ts:
        t.join()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = threads * calls
    return n / wall, cpu / n * 1e6


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 7
    calls = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    mortal = load("loop_mortal").loop
    immortal_module = load("loop_immortal")
    if turbo.immortalize_constants(immortal_module) != 1:
        sys.exit("ft_contention: needs a free-threaded CPython (and TURBO_IMMORTALIZE unset)")
    cases = {"mortal_1thr": (mortal, 1), "mortal_2thr": (mortal, 2),
             "immortal_1thr": (immortal_module.loop, 1), "immortal_2thr": (immortal_module.loop, 2)}
    got = {name: [] for name in cases}
    for f, n in cases.values():
        run(f, n, calls // 10)  # warm-up
    for _ in range(rounds):
        for name, (f, n) in cases.items():
            got[name].append(run(f, n, calls))
    for name, results in got.items():
        print(name, "%.1f" % statistics.median(r[0] for r in results),
              "%.0f" % statistics.median(r[1] for r in results))


if __name__ == "__main__":
    main()
