#!/usr/bin/python3
"""bench/tfb/verify.py, TechEmpower's verification rules, against both of
our TechEmpower servers on a throwaway PostgreSQL, against the peers that
start in a second (Flask + gunicorn from this interpreter's venv; nginx and
h2o, plaintext and json, when installed), and against a server that breaks
each rule once, so the verifier is shown to catch what it claims to.

usage: tfb_verify.py BUILD_DIR

BUILD_DIR holds turbo-techempower-pg and bindings/python (the turbo
package). This interpreter runs the Python server, so it needs asyncpg
(requirements-dev.txt). Exit 77 (skipped) when PostgreSQL's server is not
installed (scripts/install-deps.sh installs it) or this interpreter lacks
asyncpg (scripts/test.sh runs it in .venv, which has it). The cluster, started with
bench/tfb/db.sh under a private state file, is stopped at exit.
"""
import glob
import http.server
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TFB = os.path.join(ROOT, "bench", "tfb")
BUILD = os.path.abspath(sys.argv[1])
TESTS = ("plaintext", "json", "db", "queries", "fortunes", "updates")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what, flush=True)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, name):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"FAIL {name} exited with {proc.returncode} before it listened")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"FAIL {name} did not listen on {port} within 30 s")


def verify(url, *extra):
    r = subprocess.run([sys.executable, os.path.join(TFB, "verify.py"), url, *extra],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout.splitlines(), r.stderr


# -- a server that breaks one rule per test ----------------------------------

BROKEN_FORTUNES = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                   "<tr><th>id</th><th>message</th></tr>"
                   "<tr><td>11</td><td><script>alert(\"x\");</script></td></tr>"
                   "</table></body></html>")


class Broken(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        path, _, query = self.path.partition("?")
        ctype, body, date = "application/json", b"", True
        if path == "/plaintext":
            ctype, body = "text/plain", b"Hello, World"              # the "!" missing
        elif path == "/json":
            body, date = b'{"message":"Hello, World!"}', False         # no Date header
        elif path == "/db":
            body = b'{"id":10001,"randomNumber":5}'                    # id out of range
        elif path == "/queries":
            n = 2 if query == "queries=2" else 501 if query == "queries=501" else 1
            body = ("[" + ",".join(['{"id":1,"randomNumber":1}'] * n) + "]").encode()  # no clamp
        elif path == "/fortunes":
            ctype, body = "text/html; charset=utf-8", BROKEN_FORTUNES.encode()  # unescaped
        elif path == "/updates":
            body = b'[{"id":"1","randomNumber":1},{"id":2,"randomNumber":1}]'  # id a string
        self.send_response_only(200)
        self.send_header("Server", "broken")
        if date:
            self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def check_broken():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        rc, lines, err = verify(url)
    finally:
        srv.shutdown()
    expected = [
        "plaintext: FAIL: GET /plaintext: body b'Hello, World', expected b'Hello, World!'",
        "json: FAIL: GET /json: no Date header",
        "db: FAIL: GET /db: the body: id is 10001, expected 1..10000",
        "queries: FAIL: GET /queries?queries=501: 501 rows, expected 500",
        "fortunes: FAIL: GET /fortunes: the page differs from the expected one at character 125: "
        "got ...'<th>message</th></tr><tr><td>11</td><td><script>alert(\"x\");</script></td></tr></', "
        "expected ...'<th>message</th></tr><tr><td>11</td><td>&lt;script&gt;alert(&quot;This should no'",
        "updates: FAIL: GET /updates?queries=2: row 1: id is '1', expected an integer",
        f"{url}: 0 of 6 tests pass",
    ]
    check(rc == 1, f"verify.py against the broken server: exit {rc}, expected 1 ({err.strip()})")
    for want, got in zip(expected, lines + [""] * len(expected)):
        check(got == want, f"verify.py against the broken server said\n  {got!r}\nexpected\n  {want!r}")


# -- our two servers ---------------------------------------------------------

def main():
    if not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        print("SKIP: no PostgreSQL server under /usr/lib/postgresql "
              "(scripts/install-deps.sh installs postgresql)")
        return 77
    try:
        import asyncpg  # noqa: F401  (the Python server's driver, and verify.py --db)
    except ImportError:
        print(f"SKIP: {sys.executable} has no asyncpg (requirements-dev.txt; scripts/venv.sh)")
        return 77
    check_broken()
    tmp = tempfile.mkdtemp(prefix="tfb-verify.")
    env = dict(os.environ, TFB_STATE=os.path.join(tmp, "state"), BUILD=BUILD, PY=sys.executable,
               DB_POOL_SIZE="4")
    db = os.path.join(TFB, "db.sh")
    procs = []
    servers = []
    try:
        r = subprocess.run([db, "start"], env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"FAIL bench/tfb/db.sh start: exit {r.returncode}: {r.stderr}")
        url = r.stdout.strip()
        check(url.startswith("postgresql://postgres@127.0.0.1:") and url.endswith("/hello_world"),
              f"db.sh start printed {url!r}")
        again = subprocess.run([db, "start"], env=env, capture_output=True, text=True, timeout=60)
        check(again.stdout.strip() == url, f"a second db.sh start printed {again.stdout!r}, not {url!r}")
        servers = [("c", TESTS), ("python", TESTS)]
        if os.path.exists(os.path.join(os.path.dirname(sys.executable), "gunicorn")):
            servers.append(("flask", TESTS))
        else:
            print(f"not checked: flask (no gunicorn beside {sys.executable})", flush=True)
        for peer in ("nginx", "h2o"):
            if shutil.which(peer) or os.path.exists(f"/usr/sbin/{peer}"):
                servers.append((peer, ("plaintext", "json")))
            else:
                print(f"not checked: {peer} (not installed; scripts/install-deps.sh installs it)", flush=True)
        for which, tests in servers:
            port = free_port()
            p = subprocess.Popen([os.path.join(TFB, "serve"), which, "--port", str(port), "--db", url],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            procs.append(p)
            wait_port(port, p, f"serve {which}")
            rc, lines, err = verify(f"http://127.0.0.1:{port}", "--db", url, "--tests", ",".join(tests))
            want = [f"{t}: ok" for t in tests] + [f"http://127.0.0.1:{port}: {len(tests)} of {len(tests)} tests pass"]
            check(rc == 0 and lines == want,
                  f"verify.py against serve {which}: exit {rc}\n" + "\n".join(lines) + err)
            p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                rc = "none within 20 s"
            check(rc == 0, f"serve {which} after SIGTERM: exit {rc}: {p.stderr.read()}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        subprocess.run([db, "stop"], env=env, timeout=60)
        subprocess.run([db, "stop"], env=env, timeout=60)  # stop is safe to repeat
        check(not os.path.exists(env["TFB_STATE"]), "db.sh stop left its state file")
        os.rmdir(tmp)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok: verify.py catches each broken rule; " + ", ".join(f"serve {w} passes {len(t)}" for w, t in servers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
