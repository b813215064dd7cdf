#!/usr/bin/python3
"""turbo-techempower-pg against a real PostgreSQL (scripts/pg-cluster.sh).

usage: pg_example.py BINARY PG_CLUSTER_SH

Both variants, the loop's (/db ...) and the blocking pool's (/blocking/db
...), are held to TechEmpower's output rules and to what the database
holds: the exact JSON shape and value ranges of /db; the number of rows
/queries answers for each kind of queries parameter, each row's
randomNumber equal to the database's; /fortunes byte for byte, built here
from the database's rows; /updates persisted. Then: 200 requests over 16
connections, pipelined requests, clients that leave mid-request, and a
database outage (503 or 500, never a hang; served again after a restart).
Standard library only; the cluster is stopped at exit, even a SIGKILLed
one (a watchdog process).
"""

import ctypes
import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BINARY, CLUSTER = sys.argv[1], sys.argv[2]
PREFIXES = ("", "/blocking")
ROW = re.compile(r'\{"id":([0-9]+),"randomNumber":([0-9]+)\}')
ANY_ROW = r'\{"id":[0-9]+,"randomNumber":[0-9]+\}'
ARRAY = re.compile(r"\[%s(?:,%s)*\]" % (ANY_ROW, ANY_ROW))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL " + what, flush=True)
    return cond


def die(what):
    raise SystemExit("FAIL " + what)


# -- the database ------------------------------------------------------------

def psql(pgdir, sql):
    """Rows of a query as lists of strings (fields split on 0x1f)."""
    r = subprocess.run([CLUSTER, "psql", pgdir, "-At", "-F", "\x1f", "-R", "\x1e", "-c", sql],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        die(f"psql {sql!r}: {r.stderr}")
    return [rec.split("\x1f") for rec in r.stdout.rstrip("\n").split("\x1e") if rec != ""]


def world_values(pgdir, ids):
    if not ids:
        return {}
    rows = psql(pgdir, "SELECT id, randomNumber FROM World WHERE id IN (%s)" %
                ",".join(str(i) for i in sorted(set(ids))))
    return {int(a): int(b) for a, b in rows}


def expected_fortunes(pgdir):
    rows = [(int(a), b) for a, b in psql(pgdir, "SELECT id, message FROM Fortune")]
    rows.append((0, "Additional fortune added at request time."))
    rows.sort(key=lambda r: r[1])  # code point order, as UTF-8 bytes sort

    def esc(s):
        return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
                .replace('"', "&quot;").replace("'", "&#39;"))
    page = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
            "<tr><th>id</th><th>message</th></tr>")
    page += "".join(f"<tr><td>{i}</td><td>{esc(m)}</td></tr>" for i, m in rows)
    page += "</table></body></html>"
    return page.encode("utf-8")


# -- HTTP ----------------------------------------------------------------------

class Client:
    """One keep-alive connection."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def get(self, path, timeout=10):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            self.conn.request("GET", path)
            r = self.conn.getresponse()
            body = r.read()
        except Exception:
            self.conn.close()
            self.conn = None
            raise
        if r.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return r.status, r, body

    def close(self):
        if self.conn is not None:
            self.conn.close()


def get_once(port, path, timeout=10):
    c = Client(port)
    try:
        return c.get(path, timeout)
    finally:
        c.close()


def rows_of(body, array):
    """The (id, randomNumber) pairs of a /db or /queries body, or None when
    its shape is not exactly TechEmpower's: one object, or an array of
    them, with no spaces."""
    text = body.decode("utf-8", "replace")
    if not (ARRAY if array else ROW).fullmatch(text):
        return None
    return [(int(a), int(b)) for a, b in ROW.findall(text)]


def in_range(rows):
    return all(1 <= i <= 10000 and 1 <= n <= 10000 for i, n in rows)


def headers_ok(r, ctype):
    return (r.getheader("Content-Type") == ctype and r.getheader("Server") is not None and
            r.getheader("Date") is not None and r.getheader("Content-Length") is not None)


# -- the checks --------------------------------------------------------------------

def check_db_and_queries(port, pgdir):
    seen = []  # (where, id, randomNumber)
    c = Client(port)
    for pre in PREFIXES:
        for k in range(5):
            st, r, body = c.get(pre + "/db")
            rows = rows_of(body, False)
            if check(st == 200 and rows is not None, f"{pre}/db: 200 and one object, got {st} {body[:200]!r}"):
                check(headers_ok(r, "application/json"), f"{pre}/db: Content-Type, Server, Date, "
                      f"Content-Length: {r.getheaders()}")
                check(in_range(rows), f"{pre}/db: values in 1..10000: {rows}")
                seen += [(pre + "/db", i, n) for i, n in rows]
        for param, want in (("", 1), ("?queries=foo", 1), ("?queries=0", 1), ("?queries=-7", 1),
                            ("?queries=", 1), ("?queries=1", 1), ("?queries=20", 20),
                            ("?queries=500", 500), ("?queries=501", 500),
                            ("?queries=99999999999999999999", 500)):
            path = f"{pre}/queries{param}"
            st, r, body = c.get(path)
            rows = rows_of(body, True)
            if check(st == 200 and rows is not None, f"{path}: 200 and an array, got {st} {body[:200]!r}"):
                check(headers_ok(r, "application/json"), f"{path}: headers {r.getheaders()}")
                check(len(rows) == want, f"{path}: {want} rows, got {len(rows)}")
                check(in_range(rows), f"{path}: values in 1..10000")
                seen += [(path, i, n) for i, n in rows]
    c.close()
    db = world_values(pgdir, [i for _, i, _ in seen])
    wrong = [(w, i, n, db.get(i)) for w, i, n in seen if db.get(i) != n]
    check(not wrong, f"rows equal to the database's: {len(wrong)} differ, e.g. {wrong[:3]}")
    print(f"ok   /db and /queries: {len(seen)} rows, each as the database holds it", flush=True)


def check_fortunes(port, page):
    for pre in PREFIXES:
        st, r, body = get_once(port, pre + "/fortunes")
        check(st == 200, f"{pre}/fortunes: 200, got {st}")
        check(headers_ok(r, "text/html; charset=utf-8"), f"{pre}/fortunes: headers {r.getheaders()}")
        if not check(body == page, f"{pre}/fortunes: the exact page"):
            print("  expected: " + page.decode()[:400] + "\n  got:      " + body.decode("utf-8", "replace")[:400])
    print("ok   /fortunes: byte for byte, both variants", flush=True)


def check_updates(port, pgdir):
    c = Client(port)
    for pre in PREFIXES:
        for param, want in (("", 1), ("?queries=foo", 1), ("?queries=0", 1), ("?queries=20", 20),
                            ("?queries=501", 500)):
            path = f"{pre}/updates{param}"
            before = dict(psql(pgdir, "SELECT id, randomNumber FROM World"))
            st, r, body = c.get(path)
            rows = rows_of(body, True)
            if not check(st == 200 and rows is not None, f"{path}: 200 and an array, got {st} {body[:200]!r}"):
                continue
            check(headers_ok(r, "application/json"), f"{path}: headers {r.getheaders()}")
            check(len(rows) == want, f"{path}: {want} rows, got {len(rows)}")
            check(in_range(rows), f"{path}: values in 1..10000")
            check(len({i for i, _ in rows}) == len(rows), f"{path}: distinct ids")
            after = world_values(pgdir, [i for i, _ in rows])
            check(all(after[i] == n for i, n in rows), f"{path}: the database holds the returned values")
            check(all(int(before[str(i)]) != n for i, n in rows), f"{path}: every row got a new value")
    c.close()
    print("ok   /updates: persisted, both variants", flush=True)


def check_concurrency(port, pgdir, page):
    paths = []
    for pre in PREFIXES:
        paths += [pre + "/db", pre + "/queries?queries=5", pre + "/fortunes", pre + "/updates?queries=3"]
    work = [paths[k % len(paths)] for k in range(200)]
    random.Random(13).shuffle(work)
    results, errors, lock = [], [], threading.Lock()

    def worker(mine):
        c = Client(port)
        for path in mine:
            try:
                results.append((path,) + c.get(path, timeout=20))
            except Exception as e:
                with lock:
                    errors.append(f"{path}: {e!r}")
        c.close()

    threads = [threading.Thread(target=worker, args=(work[k::16],)) for k in range(16)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - t0
    check(not errors, f"concurrency: every request answered: {errors[:3]}")
    check(len(results) == 200, f"concurrency: 200 answers, got {len(results)}")
    reads, updated = [], {}
    for path, st, r, body in results:
        if not check(st == 200, f"concurrency {path}: 200, got {st} {body[:200]!r}"):
            continue
        if path.endswith("/fortunes"):
            check(body == page, f"concurrency {path}: the exact page")
            continue
        rows = rows_of(body, "/db" not in path)
        if not check(rows is not None and in_range(rows), f"concurrency {path}: shape {body[:200]!r}"):
            continue
        if "/updates" in path:
            for i, n in rows:
                updated.setdefault(i, set()).add(n)
        else:
            reads += rows
    db = world_values(pgdir, list(updated) + [i for i, _ in reads])
    check(all(db[i] in ns for i, ns in updated.items()),
          "concurrency: each updated row holds one of the values returned for it")
    check(all(db[i] == n for i, n in reads if i not in updated),
          "concurrency: rows read equal the database's")
    print(f"ok   concurrency: 200 requests over 16 connections in {took:.2f} s", flush=True)


def read_response(f):
    """(status, body) of one Content-Length framed response read from f."""
    status = int(f.readline().split()[1])
    length = 0
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return status, f.read(length)


def check_pipelined(port, page):
    """Three requests in one write: three answers, in request order."""
    for pre in PREFIXES:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall("".join(f"GET {pre}{p} HTTP/1.1\r\nHost: t\r\n\r\n"
                          for p in ("/queries?queries=3", "/fortunes", "/db")).encode())
        f = s.makefile("rb")
        bodies = [read_response(f) for _ in range(3)]
        s.close()
        ok = (all(st == 200 for st, _ in bodies) and rows_of(bodies[0][1], True) is not None and
              len(rows_of(bodies[0][1], True)) == 3 and bodies[1][1] == page and
              rows_of(bodies[2][1], False) is not None)
        check(ok, f"{pre}: pipelined requests answered in order: {[b[:60] for _, b in bodies]}")
    print("ok   pipelined requests answered in order", flush=True)


def check_clients_leaving(port, pgdir):
    """Clients that send a request and leave at once: the server goes on."""
    for pre in PREFIXES:
        for k in range(20):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            path = (f"{pre}/queries?queries=500", f"{pre}/updates?queries=50", f"{pre}/fortunes")[k % 3]
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            if k % 2:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()
    # Clients that leave while their queries wait for a lock: their results
    # arrive after they are gone, and are dropped.
    locker = subprocess.Popen([CLUSTER, "psql", pgdir], stdin=subprocess.PIPE, text=True,
                              stdout=subprocess.DEVNULL)
    locker.stdin.write("BEGIN;\nLOCK TABLE World IN ACCESS EXCLUSIVE MODE;\n")
    locker.stdin.flush()
    for _ in range(100):
        if psql(pgdir, "SELECT count(*) FROM pg_locks WHERE relation = 'world'::regclass "
                       "AND mode = 'AccessExclusiveLock' AND granted") == [["1"]]:
            break
        time.sleep(0.05)
    else:
        die("psql could not lock World")
    waiting = []
    for pre in PREFIXES:
        for k in range(12):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            path = (f"{pre}/db", f"{pre}/queries?queries=20", f"{pre}/updates?queries=5")[k % 3]
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            waiting.append(s)
    time.sleep(0.5)  # the queries reach the database and wait for the lock
    for s in waiting:
        s.close()
    time.sleep(0.3)  # the server notices
    locker.stdin.write("COMMIT;\n")
    locker.stdin.close()
    locker.wait(timeout=30)
    time.sleep(0.3)
    for pre in PREFIXES:
        for _ in range(6):
            st, _, body = get_once(port, pre + "/queries?queries=2")
            check(st == 200 and len(rows_of(body, True) or []) == 2,
                  f"{pre}: served after clients left, got {st} {body[:100]!r}")
    print("ok   clients leaving mid-request: the next requests succeed", flush=True)


def check_query_errors(port, pgdir, page):
    """A statement that fails answers 500; the same connection goes on
    serving the next requests."""
    psql(pgdir, "ALTER TABLE Fortune RENAME COLUMN message TO words")
    try:
        for pre in PREFIXES:
            c = Client(port)
            got = [c.get(pre + p)[0] for p in ("/fortunes", "/db", "/fortunes", "/queries?queries=3") * 3]
            c.close()
            check(all(st in (500, 503) for st in got[0::2]) and 500 in got[0::2],
                  f"{pre}/fortunes with a broken statement: 500, got {got[0::2]}")
            check(all(st == 200 for st in got[1::2]), f"{pre}: other statements still served: {got[1::2]}")
    finally:
        psql(pgdir, "ALTER TABLE Fortune RENAME COLUMN words TO message")
    for pre in PREFIXES:
        for _ in range(4):
            st, _, body = get_once(port, pre + "/fortunes")
            check(st == 200 and body == page, f"{pre}/fortunes: served again once the table is back, got {st}")
    print("ok   a failing statement answers 500, the connection goes on serving", flush=True)


def check_outage(port, pgdir):
    r = subprocess.run([CLUSTER, "down", pgdir], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        die(f"pg-cluster.sh down: {r.stderr}")
    t0 = time.monotonic()
    for pre in PREFIXES:
        for path in ("/db", "/queries?queries=3", "/fortunes", "/updates?queries=2") * 3:
            try:
                st, resp, body = get_once(port, pre + path, timeout=10)
            except Exception as e:
                check(False, f"database down: {pre}{path} answered: {e!r}")
                continue
            check(st in (500, 503), f"database down: {pre}{path}: 503 or 500, got {st} {body[:100]!r}")
    took = time.monotonic() - t0
    check(took < 10, f"database down: answers come at once ({took:.1f} s for 24)")
    print(f"ok   database down: 503/500 for every request ({took:.2f} s for 24)", flush=True)

    r = subprocess.run([CLUSTER, "up", pgdir], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        die(f"pg-cluster.sh up: {r.stderr}")
    # Each connection (one per I/O thread, one per pool thread) notices the
    # restart on its own; some requests may still get 503. Then all succeed.
    deadline, streak, first_ok = time.monotonic() + 20, 0, None
    paths = [pre + p for pre in PREFIXES for p in ("/db", "/queries?queries=2", "/fortunes", "/updates?queries=2")]
    k = 0
    while streak < 40 and time.monotonic() < deadline:
        st, _, _ = get_once(port, paths[k % len(paths)])
        k += 1
        streak = streak + 1 if st == 200 else 0
        if st == 200 and first_ok is None:
            first_ok = k
    check(streak >= 40, f"database back: 40 answers in a row succeed (streak {streak} after {k})")
    print(f"ok   database back: served again (first success at request {first_ok}, then 40 in a row)",
          flush=True)


# -- setup and teardown ------------------------------------------------------------

def main():
    if not os.access(BINARY, os.X_OK):
        print(f"SKIP: {BINARY} was not built (libpq missing)")
        return 77
    pgdir = tempfile.mkdtemp(prefix="turbo-pg-", dir="/tmp")
    os.rmdir(pgdir)  # pg-cluster.sh makes it
    # Stops the cluster when this process is gone, however it went.
    watchdog = subprocess.Popen(
        ["/bin/sh", "-c", 'while kill -0 "$0" 2>/dev/null; do sleep 1; done; exec "$1" stop "$2"',
         str(os.getpid()), CLUSTER, pgdir],
        start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    server = None
    errlog = tempfile.TemporaryFile("w+")
    libc = ctypes.CDLL(None, use_errno=True)

    def die_with_parent():  # PR_SET_PDEATHSIG: the server dies with this test
        libc.prctl(1, signal.SIGKILL)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: terminated"))
    signal.signal(signal.SIGALRM, lambda *_: sys.exit("FAIL: the test took longer than 150 s"))
    signal.alarm(150)
    t0 = time.monotonic()
    try:
        r = subprocess.run([CLUSTER, "start", pgdir], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            die(f"pg-cluster.sh start:\n{r.stdout}{r.stderr}")
        env = dict(os.environ)
        env.update(kv.split("=", 1) for kv in r.stdout.split())
        print(f"ok   cluster started ({r.stdout.strip()}) in {time.monotonic() - t0:.1f} s", flush=True)

        server = subprocess.Popen([BINARY, "--host", "127.0.0.1", "--port", "0", "--threads", "2",
                                   "--blocking-threads", "4"], env=env, stdout=subprocess.PIPE,
                                  stderr=errlog, text=True, preexec_fn=die_with_parent)
        line = server.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            errlog.seek(0)
            die(f"the server printed {line!r}; stderr: {errlog.read()}")
        port = int(m.group(1))

        page = expected_fortunes(pgdir)
        check_db_and_queries(port, pgdir)
        check_fortunes(port, page)
        check_updates(port, pgdir)
        check_concurrency(port, pgdir, page)
        check_pipelined(port, page)
        check_clients_leaving(port, pgdir)
        check_query_errors(port, pgdir, page)
        check_outage(port, pgdir)
        check(server.poll() is None, "the server is still running")

        server.send_signal(signal.SIGTERM)
        try:
            out, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            out, _ = server.communicate()
            check(False, "the server stops within 20 s of SIGTERM")
        check(server.returncode == 0, f"the server exits 0 after SIGTERM, got {server.returncode}")
        check("stopped" in out, "the server says it stopped")
        if failures:
            errlog.seek(0)
            print("server's stderr:\n" + errlog.read())
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait()
        subprocess.run([CLUSTER, "stop", pgdir], capture_output=True, timeout=60)
        watchdog.kill()
        watchdog.wait()
    print(f"{'FAILED' if failures else 'ok'}: {len(failures)} failure(s) in {time.monotonic() - t0:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
