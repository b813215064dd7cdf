"""docs/python.md's example: one libturbo server created in C answers a C
route and a Python module's routes."""

import re
import signal
import subprocess
import urllib.request

from conftest import child_env


def test_c_and_python_routes_share_one_server(turbo_mixed):
    proc = subprocess.Popen([turbo_mixed, "mixed_app:app", "0"], stdout=subprocess.PIPE,
                            env=child_env(), text=True)
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert m, f"no URL in {line!r}"
        base = f"http://127.0.0.1:{m.group(1)}"
        with urllib.request.urlopen(base + "/c/health") as r:
            assert (r.status, r.headers["Content-Type"], r.read()) == (200, "text/plain", b"ok from C\n")
        with urllib.request.urlopen(base + "/py/hello/ada") as r:
            assert (r.status, r.headers["Content-Type"], r.read()) == (
                200, "application/json", b'{"hello":"ada","from":"python"}')
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
