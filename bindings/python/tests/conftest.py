"""Shared fixtures for the turbo binding's tests.

Run from the repository root after the CMake build, e.g.

    PYTHONPATH=build/bindings/python TURBO_SERVE=build/bindings/python/turbo-serve \
        /usr/bin/python3 -m pytest bindings/python/tests

When PYTHONPATH is not set, the package is looked up in build/bindings/python
of this checkout (the default CMake build directory).
"""

import http.client
import json
import os
import sys
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


def pytest_report_header(config):
    return "turbo package: %s" % os.path.dirname(turbo.__file__)


# ---- what the binding answers ------------------------------------------------

JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
OCTET = "application/octet-stream"
# FastAPI's answers where no route serves the path, or not this method.
NOT_FOUND = b'{"detail":"Not Found"}'
NOT_ALLOWED = b'{"detail":"Method Not Allowed"}'


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


def wait_until(pred, timeout=5.0, interval=0.01):
    """Polls pred() until it is true or timeout passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)

