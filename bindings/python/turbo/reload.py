"""`turbo --reload`: for development, serve the app in a child process and
start a new one whenever a .py file under the watched directory changes.

The parent never imports the app. It polls the files' modification times
(twice a second: no dependency, and a tree of a few thousand files costs
milliseconds), stops the child with SIGTERM (a graceful stop, as in
production; SIGKILL after 10 s), and starts a new child with the same
command line minus --reload. A child that exits by itself (an import
error, say) is started again once a file changes. SIGINT or SIGTERM to the
parent stops the child and the parent.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

SKIP_DIRS = {".git", ".hg", "__pycache__", ".venv", "venv", "node_modules", ".mypy_cache",
             ".pytest_cache", "build", "dist"}
POLL_S = 0.5


def snapshot(root: str) -> dict[str, float]:
    """path -> mtime of every .py file under root (skipping environments,
    caches and build trees)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        for name in filenames:
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                try:
                    found[path] = os.stat(path).st_mtime
                except OSError:
                    pass
    return found


def changed(before: dict[str, float], after: dict[str, float]) -> str | None:
    for path, mtime in after.items():
        if before.get(path) != mtime:
            return path
    for path in before:
        if path not in after:
            return path
    return None


def stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def run(argv: list[str], prog: str, root: str | None = None) -> int:
    """Serves `python -m turbo *argv` (argv without --reload) in a child,
    restarted on changes under root (default: the current directory)."""
    root = os.path.abspath(root or os.getcwd())
    command = [sys.executable, "-m", "turbo", *argv]
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    print(f"{prog}: reloading on changes to .py files under {root}", file=sys.stderr, flush=True)
    try:
        files = snapshot(root)
        child = subprocess.Popen(command)
        while not stopping:
            time.sleep(POLL_S)
            now = snapshot(root)
            what = changed(files, now)
            if what is None:
                continue
            files = now
            print(f"{prog}: {os.path.relpath(what, root)} changed; restarting", file=sys.stderr,
                  flush=True)
            stop(child)
            child = subprocess.Popen(command)
        stop(child)
        return 0
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
