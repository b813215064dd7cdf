"""Shared fixtures for the turbo binding's tests.

Run from the repository root after the CMake build, e.g.

    PYTHONPATH=build/bindings/python TURBO_SERVE=$PWD/build/bindings/python/turbo-serve \
        .venv/bin/python -m pytest bindings/python/tests

(.venv is made by scripts/venv.sh from /usr/bin/python3, the interpreter
the module is built for; /usr/bin/python3 with Debian's python3-pytest
runs them too, except test_async_db.py, which needs the database, Redis
and HTTP clients pinned in requirements-dev.txt.)

When PYTHONPATH is not set, the package is looked up in build/bindings/python
of this checkout (the default CMake build directory).
"""

import asyncio
import glob
import http.client
import importlib
import json
import logging
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
APPS_DIR = os.path.join(TESTS_DIR, "apps")
REPO_ROOT = os.path.abspath(os.path.join(TESTS_DIR, "..", "..", ".."))
DEFAULT_BUILD_PKG = os.path.join(REPO_ROOT, "build", "bindings", "python")

try:
    import turbo  # noqa: F401
except ImportError:
    if os.path.isdir(os.path.join(DEFAULT_BUILD_PKG, "turbo")):
        sys.path.insert(0, DEFAULT_BUILD_PKG)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (DEFAULT_BUILD_PKG, os.environ.get("PYTHONPATH")) if p)
    import turbo  # noqa: F401  (fails loudly: the binding is not built)

from turbo import App  # noqa: E402

# The directory that holds the turbo package these tests import.
PACKAGE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(turbo.__file__)))

# A free-threaded interpreter (3.13t: built with --disable-gil). Its venv,
# .venv-ft from requirements-ft.txt, lacks the packages that have no wheel
# it can load.
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def needs(*modules):
    """Imports the third-party modules a test file or test needs and
    returns the first. Under a free-threaded interpreter a missing one
    skips, naming it (requirements-ft.txt says why it is not there); under
    the GIL build it stays an ImportError, loudly: .venv has every pin of
    requirements-dev.txt, so a missing one is a broken environment, not a
    reason to test less."""
    got = []
    for name in modules:
        if FREE_THREADED:
            got.append(pytest.importorskip(
                name, reason="%s is not in .venv-ft: it, or a package it needs, has no wheel "
                "for a free-threaded CPython (requirements-ft.txt)" % name))
        else:
            try:
                got.append(importlib.import_module(name))
            except ImportError as e:
                raise ImportError("%s is pinned in requirements-dev.txt: run the tests with "
                                  ".venv/bin/python (scripts/venv.sh makes it): %s" % (name, e)) from e
    return got[0]


def pytest_report_header(config):
    return "turbo package: %s" % os.path.dirname(turbo.__file__)


# ---- what the binding answers ------------------------------------------------

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
OCTET = "application/octet-stream"
# FastAPI's answers where no route serves the path, or not this method.
NOT_FOUND = b'{"detail":"Not Found"}'
NOT_ALLOWED = b'{"detail":"Method Not Allowed"}'


def rss_bytes():
    """This process's resident set (VmRSS), in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class RssPeak:
    """`with RssPeak() as rss:` samples this process's RSS on a thread while
    the block runs; rss.growth is then the peak's rise over the start (the
    servers of these tests run in this process)."""

    def __init__(self, period=0.005):
        self.period = period

    def __enter__(self):
        self.before = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.period)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        return False

    @property
    def growth(self):
        return self.peak - self.before


def dumps(obj):
    """JSON as the binding writes it: json.dumps's bytes, without spaces."""
    return json.dumps(obj, separators=(",", ":")).encode()


# FastAPI's (pydantic's) validation messages, by error type.
MSGS = {
    "missing": "Field required",
    "int_parsing": "Input should be a valid integer, unable to parse string as an integer",
    "float_parsing": "Input should be a valid number, unable to parse string as a number",
    "bool_parsing": "Input should be a valid boolean, unable to interpret input",
}


def err(kind, where, name, inp=None):
    """One entry of a 422's detail list: err("int_parsing", "query", "n", "x")."""
    return {"type": kind, "loc": [where, name], "msg": MSGS[kind], "input": inp}


def assert_reply(r, status, content_type, body):
    """The exact status, Content-Type and body, and a Content-Length to match."""
    assert (r.status, r.content_type, r.body) == (status, content_type, body)
    assert r.header("Content-Length") == str(len(body))


def assert_json(r, obj, status=200):
    assert_reply(r, status, JSON, dumps(obj))


def assert_422(r, *errors):
    assert_reply(r, 422, JSON, dumps({"detail": list(errors)}))


# ---- other processes -----------------------------------------------------------

def child_env():
    """The environment for a child process that imports the apps in apps/ and
    the turbo package these tests import. PYTHONUNBUFFERED is dropped: a
    server's output must reach a pipe by its own flushing."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([APPS_DIR, PACKAGE_ROOT])
    env.pop("PYTHONUNBUFFERED", None)
    return env


def built_program(variable, what):
    """The path in $variable (ctest sets it) of a program built with the
    binding; the test fails, saying what to set, when there is none."""
    path = os.environ.get(variable)
    if not path:
        pytest.fail("%s is not set: export %s=<build>/bindings/python/%s (%s)"
                    % (variable, variable, what, "built with the binding"))
    if not os.access(path, os.X_OK):
        pytest.fail("%s=%r is not an executable file" % (variable, path))
    return path


@pytest.fixture
def turbo_serve():
    """The turbo-serve program (C, embedding CPython): $TURBO_SERVE."""
    return built_program("TURBO_SERVE", "turbo-serve")


@pytest.fixture
def turbo_mixed():
    """docs/python.md's C program with C and Python routes: $TURBO_MIXED."""
    return built_program("TURBO_MIXED", "turbo-mixed")


class Reply:
    """One HTTP response, fully read."""

    def __init__(self, resp, body):
        self.status = resp.status
        self.reason = resp.reason
        self.headers = resp.headers            # email.message.Message
        self.content_type = resp.getheader("Content-Type")
        self.body = body
        self.will_close = resp.will_close

    def header(self, name):
        return self.headers.get(name)

    def __repr__(self):
        return "<Reply %d %r %r>" % (self.status, self.content_type, self.body[:200])


class Client:
    """A keep-alive HTTP/1.1 client on one connection (http.client).

    request() checks, when same_connection=True (the default), that the
    answer came on the connection already open (http.client would otherwise
    silently reconnect after a close)."""

    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=timeout)
        self.conn.connect()

    @property
    def local_port(self):
        return self.conn.sock.getsockname()[1]

    def request(self, method, path, body=None, headers=None, same_connection=True,
                encode_chunked=False):
        sock_before = self.conn.sock
        if same_connection:
            assert sock_before is not None, "the previous response closed the connection"
        self.conn.request(method, path, body=body, headers=headers or {},
                          encode_chunked=encode_chunked)
        if same_connection:
            assert self.conn.sock is sock_before, "http.client reconnected"
        resp = self.conn.getresponse()
        body = resp.read()
        return Reply(resp, body)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def close(self):
        self.conn.close()


def start_app(app, threads=1):
    app.start(host="127.0.0.1", port=0, threads=threads)
    assert isinstance(app.port, int) and 0 < app.port < 65536
    return app


@pytest.fixture(scope="module")
def server(request):
    """The test module's App (built by its make_app()), serving on a free port
    with one I/O thread for the whole module; stopped afterwards."""
    make_app = getattr(request.module, "make_app", None)
    if make_app is None:
        pytest.fail("module %s defines no make_app()" % request.module.__name__)
    app = make_app()
    start_app(app)
    yield app
    app.stop()


@pytest.fixture
def client(server):
    """A fresh keep-alive connection to the module's server."""
    c = Client(server.port)
    yield c
    c.close()


@pytest.fixture
def serve():
    """serve(app) starts that App (port 0, one I/O thread) and returns it;
    every App started this way is stopped after the test."""
    started = []

    def _serve(app, threads=1):
        start_app(app, threads=threads)
        started.append(app)
        return app

    yield _serve
    for app in reversed(started):
        app.stop()


@pytest.fixture
def connect():
    """connect(port) opens a keep-alive Client to 127.0.0.1:port; every
    Client opened this way is closed after the test, whatever its outcome."""
    opened = []

    def _connect(port, **kw):
        c = Client(port, **kw)
        opened.append(c)
        return c

    yield _connect
    for c in opened:
        c.close()


@pytest.fixture
def new_app():
    """A fresh, not yet started App (for tests that build their own routes)."""
    return App()


class Answer:
    """One response read off a raw socket: status, headers (lower-case
    names, the last field of a name wins) and body."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def content_type(self):
        return self.headers.get("content-type")

    def __repr__(self):
        return "<Answer %d %r %r>" % (self.status, self.content_type, self.body[:200])


def parse_answer(data, pos=0):
    """The response at data[pos:] (bytes holding at least its head) and the
    offset after it, or None when data does not hold all of it yet. Every
    answer these tests read has a Content-Length."""
    end = data.find(b"\r\n\r\n", pos)
    if end < 0:
        return None
    lines = data[pos:end].decode("latin-1").split("\r\n")
    version, status, _reason = lines[0].split(" ", 2)
    assert version == "HTTP/1.1", lines[0]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert "content-length" in headers, lines
    stop = end + 4 + int(headers["content-length"])
    if len(data) < stop:
        return None
    return Answer(int(status), headers, bytes(data[end + 4:stop])), stop


class RawConnection:
    """One plain socket: requests written as bytes (several at once, to
    pipeline them), answers parsed in the order they come."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def read_answer(self):
        while True:
            got = parse_answer(self.buf)
            if got is not None:
                answer, used = got
                self.buf = self.buf[used:]
                return answer
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed; unread: %r" % self.buf)
            self.buf += chunk

    def read_answers(self, n):
        return [self.read_answer() for _ in range(n)]

    def read_eof(self):
        """What the server sends until it closes the connection."""
        data = self.buf
        self.buf = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk

    def close(self):
        self.sock.close()


def request_bytes(target, method="GET", headers=b"", body=None):
    """The bytes of one HTTP/1.1 request; a body gets its Content-Length."""
    if body is not None:
        headers += b"Content-Length: %d\r\n" % len(body)
    return b"%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n%s" % (
        method.encode(), target.encode(), headers, body or b"")


def fetch_all(port, targets, timeout=60):
    """GETs every target at once, each on a connection of its own (an
    asyncio client on the calling thread); returns the Answers in the
    targets' order."""
    async def fetch(target):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(request_bytes(target, headers=b"Connection: close\r\n"))
            data = await reader.read()  # the server closes after its answer
        finally:
            writer.close()
        got = parse_answer(data)
        assert got is not None and got[1] == len(data), data
        return got[0]

    async def main():
        return await asyncio.wait_for(asyncio.gather(*(fetch(t) for t in targets)), timeout)

    return asyncio.run(main())


@pytest.fixture
def raw():
    """raw(port) opens a RawConnection; each is closed after the test."""
    opened = []

    def _raw(port, **kw):
        c = RawConnection(port, **kw)
        opened.append(c)
        return c

    yield _raw
    for c in opened:
        c.close()


def wait_until(pred, timeout=5.0, interval=0.01):
    """Polls pred() until it is true or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


def turbo_log_with(caplog, *needles):
    """The first record of the "turbo" logger (or a child) whose formatted
    text (with its traceback) holds every needle, waiting up to 2 s for it
    (handlers log on the I/O thread); None if there is none."""
    def find():
        fmt = logging.Formatter()
        for rec in caplog.records:
            if rec.name != "turbo" and not rec.name.startswith("turbo."):
                continue
            text = fmt.format(rec)
            if all(n in text for n in needles):
                return text
        return None
    return wait_until(find, timeout=2.0)



# ---- server processes (test_processes.py, test_workers.py) ----------------------
#
# Every process is started in its own session and killed (the whole process
# group) at teardown, whatever the test's outcome.

URL_RE = re.compile(r"http://([0-9.]+):([0-9]+)/")
START_TIMEOUT = 20
STOP_TIMEOUT = 10


class Served:
    """A server process: its output read line by line on a thread."""

    def __init__(self, argv, cwd, env_extra=None, **popen):
        self.argv = argv
        env = popen.pop("env", None) or child_env()
        env.update(env_extra or {})
        self.proc = subprocess.Popen(argv, cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True, **popen)
        self.lines = queue.Queue()
        self.output = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.host = self.port = None

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace")
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_url(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("%r printed no http://HOST:PORT/ line within %ss; output: %r"
                            % (self.argv, timeout, "".join(self.output)))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(5)
                pytest.fail("%r exited with %s before serving; output: %r"
                            % (self.argv, self.proc.returncode, "".join(self.output)))
            m = URL_RE.search(line)
            if m:
                self.host, self.port = m.group(1), int(m.group(2))
                return self.host, self.port

    def wait_output(self, want, timeout=START_TIMEOUT):
        """Reads output lines until one ends with want (a string, with its
        newline: what follows the program's "name: ") or matches it (a
        compiled pattern); returns that line.
        Lines read on the way are kept in self.output, not read again."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("%r printed no %r within %ss; output: %r"
                            % (self.argv, want, timeout, "".join(self.output)))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.lines.put(None)  # EOF stays EOF for the next caller
                pytest.fail("%r ended its output before %r; output: %r"
                            % (self.argv, want, "".join(self.output)))
            if line.endswith(want) if isinstance(want, str) else want.search(line):
                return line

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT):
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail("%r did not stop within %ss after signal %d; output: %r"
                        % (self.argv, timeout, sig, "".join(self.output)))

    def kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self.proc.stdout:
            self.proc.stdout.close()


@pytest.fixture
def spawn(tmp_path):
    started = []

    def _spawn(argv, **popen):
        s = Served(argv, cwd=str(tmp_path), **popen)
        started.append(s)
        return s

    yield _spawn
    for s in started:
        s.kill()


def python_m_turbo(*args):
    return [sys.executable, "-m", "turbo", *args]


def pids_in_group(pgid):
    """The live (non-zombie) processes of process group pgid."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            found.append(int(name))
    return found


def ppid_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2:].split()[0] != "Z"


def check_pid_app(port):
    c = Client(port)
    r = c.get("/hello/w%C3%B6rld?times=3")
    assert (r.status, r.content_type, r.body) == (
        200, "application/json", dumps({"hello": "w\u00f6rld", "times": 3}))
    r = c.get("/hello/x?times=many")
    assert (r.status, r.content_type, r.body) == (422, "application/json", dumps({"detail": [
        err("int_parsing", "query", "times", "many")]}))
    r = c.get("/text")
    assert (r.status, r.content_type, r.body) == (
        200, "text/plain; charset=utf-8", b"served by turbo\n")
    r = c.get("/nope")
    assert (r.status, r.content_type, r.body) == (404, "application/json", b'{"detail":"Not Found"}')
    r = c.get("/pid")
    assert (r.status, r.content_type) == (200, "application/json")
    pid = json.loads(r.body)["pid"]
    c.close()
    return pid


def distinct_pids(port, want, attempts=50):
    """Opens fresh connections until `want` distinct PIDs answered /pid;
    returns the set seen. Which worker accepts a connection is the kernel's
    choice, and one may win every time on a loaded machine: so each worker
    seen is then kept busy in a slow handler on its own connection (its one
    I/O thread cannot accept meanwhile), and the next connection goes to
    another worker. The slow answers are read before returning."""
    seen, busy = set(), []
    try:
        for _ in range(attempts):
            c = Client(port)
            r = c.get("/pid")
            assert (r.status, r.content_type) == (200, "application/json")
            seen.add(json.loads(r.body)["pid"])
            if len(seen) >= want:
                c.close()
                break
            c.conn.request("GET", "/slow?secs=0.5")  # the answer is read below
            busy.append(c)
    finally:
        for c in busy:
            r = c.conn.getresponse()
            assert r.status == 200
            r.read()
            c.close()
    return seen


def wait_gone(pgid, pids):
    deadline = time.monotonic() + STOP_TIMEOUT
    while True:
        left = [p for p in pids if alive(p)] + pids_in_group(pgid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def wait_output(served, want, timeout=START_TIMEOUT):
    return served.wait_output(want, timeout)



# ---- real servers for the async drivers (test_async_db.py) -------------------
#
# Started once per session and stopped at its end. A missing server program
# fails the tests that need it, saying so: scripts/install-deps.sh installs
# both (Debian's postgresql and redis-server).

def server_env():
    """The environment for a server program the tests start: without the
    sanitizer runtime the sanitizer build preloads into the interpreter
    (PostgreSQL's initdb hangs under it; those servers are not what is
    checked)."""
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
        env.pop(name, None)
    return env


class PgCluster:
    """A running throwaway cluster: conninfo (a libpq string), host (the
    socket directory), port, dbname, user."""

    def __init__(self, directory, settings):
        self.directory = directory
        self.host = settings["PGHOST"]
        self.port = int(settings["PGPORT"])
        self.dbname = settings["PGDATABASE"]
        self.user = settings["PGUSER"]
        self.conninfo = "host=%s port=%d dbname=%s user=%s" % (
            self.host, self.port, self.dbname, self.user)

    def asyncpg_args(self):
        return {"host": self.host, "port": self.port, "database": self.dbname,
                "user": self.user}


# The rows of turbo_item, the table the pg_cluster fixture adds.
PG_ITEMS = [(1, "hammer", 3), (2, "saw", 0), (3, "caf\u00e9 \u2615", 12)]


@pytest.fixture(scope="session")
def pg_cluster():
    """A PostgreSQL cluster made by scripts/pg-cluster.sh for the session,
    with a table turbo_item(id, name, qty) holding PG_ITEMS."""
    if not glob.glob("/usr/lib/postgresql/*/bin/postgres"):
        pytest.fail("no PostgreSQL server under /usr/lib/postgresql: "
                    "scripts/install-deps.sh installs Debian's postgresql")
    script = os.path.join(REPO_ROOT, "scripts", "pg-cluster.sh")
    # Under /tmp: the cluster's owner (a system user when run as root) must
    # be let through every parent directory.
    directory = tempfile.mkdtemp(prefix="turbo-pg-", dir="/tmp")
    try:
        p = subprocess.run([script, "start", directory], capture_output=True, text=True,
                           env=server_env(), timeout=120)
        if p.returncode != 0:
            pytest.fail("scripts/pg-cluster.sh start failed (%d): %s%s"
                        % (p.returncode, p.stdout, p.stderr))
        settings = dict(kv.split("=", 1) for kv in p.stdout.split())
        cluster = PgCluster(directory, settings)
        import psycopg  # (here: the tests without a database run without it)
        with psycopg.connect(cluster.conninfo, autocommit=True) as conn:
            conn.execute("CREATE TABLE turbo_item (id int PRIMARY KEY, name text NOT NULL, "
                         "qty int NOT NULL)")
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO turbo_item VALUES (%s, %s, %s)", PG_ITEMS)
        yield cluster
    finally:
        subprocess.run([script, "stop", directory], env=server_env(), timeout=120)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A redis-server for the session, on a Unix socket only (no TCP port),
    keeping nothing on disk: yields the socket's path."""
    exe = shutil.which("redis-server")
    if exe is None:
        pytest.fail("redis-server is not installed: scripts/install-deps.sh installs "
                    "Debian's redis-server")
    directory = tmp_path_factory.mktemp("redis")
    path = str(directory / "redis.sock")
    log = open(directory / "redis.log", "wb")
    proc = subprocess.Popen([exe, "--port", "0", "--unixsocket", path, "--save", "",
                             "--appendonly", "no", "--dir", str(directory)],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            env=server_env())

    def pong():
        if proc.poll() is not None:
            return "exited"
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(2)
                s.connect(path)
                s.sendall(b"PING\r\n")
                return s.recv(64) == b"+PONG\r\n"
        except OSError:
            return False

    try:
        ready = wait_until(pong, timeout=20, interval=0.05)
        if ready is not True:
            with open(directory / "redis.log", "rb") as f:
                pytest.fail("redis-server did not answer PING (%s); its log: %r"
                            % (ready or "timed out", f.read().decode("utf-8", "replace")))
        yield path
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()
