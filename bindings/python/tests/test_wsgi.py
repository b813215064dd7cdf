"""The WSGI adapter (turbo.wsgi.WSGIApp, src/wsgi.c) against PEP 3333.

Every application here is wrapped in wsgiref.validate.validator, and
WSGIWarning is turned into an error for the whole module: a warning the
validator raises on the I/O thread becomes a 500 and fails the test that
caused it.
"""

import io
import json
import os
import threading
import time
import warnings
from wsgiref.validate import WSGIWarning, validator

import pytest

from conftest import request_bytes, turbo_log_with, wait_until
from turbo.wsgi import WSGIApp

pytestmark = pytest.mark.filterwarnings("error::wsgiref.validate.WSGIWarning")


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    # The I/O thread consults the process-wide filters, not pytest's
    # per-test catch_warnings copy: set them for the test's duration.
    with warnings.catch_warnings():
        warnings.simplefilter("error", WSGIWarning)
        yield


def serve_wsgi(serve, app, **kw):
    return serve(WSGIApp(validator(app), **kw))


KEYS = ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_PROTOCOL",
        "SERVER_NAME", "SERVER_PORT", "REMOTE_ADDR", "CONTENT_TYPE", "CONTENT_LENGTH",
        "RAW_URI", "wsgi.url_scheme", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once",
        "wsgi.input_terminated")


def environ_app(environ, start_response):
    """Answers with the environ's str/bool keys and every HTTP_* key."""
    shown = {k: environ[k] for k in KEYS if k in environ}
    shown.update({k: v for k, v in environ.items() if k.startswith("HTTP_")})
    shown["wsgi.version"] = list(environ["wsgi.version"])
    shown["body"] = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode()
    shown["REMOTE_PORT_is_digits"] = environ["REMOTE_PORT"].isdigit()
    body = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def test_environ_holds_every_required_key_as_the_pep_says(serve, raw):
    app = serve_wsgi(serve, environ_app)
    c = raw(app.port)
    c.send(b"POST /a%20b/%C3%A9?x=1&y=%20 HTTP/1.1\r\nHost: example.com:8080\r\n"
           b"Content-Type: text/plain\r\nX-Multi: a\r\nX-Multi: b\r\nCookie: a=1\r\n"
           b"Cookie: b=2\r\nX_Under: spoof\r\nContent-Length: 5\r\n\r\nhello")
    a = c.read_answer()
    assert a.status == 200 and a.content_type == "application/json"
    assert a.headers["content-length"] == str(len(a.body))
    env = json.loads(a.body)
    assert env == {
        "REQUEST_METHOD": "POST",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/a b/\u00c3\u00a9",  # decoded bytes, as latin-1 (PEP 3333)
        "QUERY_STRING": "x=1&y=%20",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_NAME": "example.com",
        "SERVER_PORT": "8080",
        "REMOTE_ADDR": "127.0.0.1",
        "CONTENT_TYPE": "text/plain",
        "CONTENT_LENGTH": "5",
        "RAW_URI": "/a%20b/%C3%A9?x=1&y=%20",
        "wsgi.url_scheme": "http",
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.version": [1, 0],
        "HTTP_HOST": "example.com:8080",
        "HTTP_X_MULTI": "a, b",
        "HTTP_COOKIE": "a=1; b=2",
        "body": "hello",
        "REMOTE_PORT_is_digits": True,
    }


def test_without_host_the_server_address_is_used_and_http10_is_kept(serve, raw):
    app = serve_wsgi(serve, environ_app)
    c = raw(app.port)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    env = json.loads(c.read_answer().body)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("127.0.0.1", str(app.port))
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"
    assert env["PATH_INFO"] == "/" and env["QUERY_STRING"] == ""
    assert "CONTENT_LENGTH" not in env and "CONTENT_TYPE" not in env
    c.close()
    c = raw(app.port)
    c.send(b"GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n")
    env = json.loads(c.read_answer().body)
    assert (env["SERVER_NAME"], env["SERVER_PORT"]) == ("[::1]", "80")


def test_root_path_is_split_off_into_script_name(serve, raw):
    app = serve_wsgi(serve, environ_app, root_path="/api", url_scheme="https")
    c = raw(app.port)
    for target, script, path in [("/api/v1/x", "/api", "/v1/x"), ("/api", "/api", ""),
                                 ("/apix", "/api", "/apix"), ("/other", "/api", "/other")]:
        c.send(request_bytes(target))
        env = json.loads(c.read_answer().body)
        assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == (script, path), target
        assert env["wsgi.url_scheme"] == "https"
        assert env["SERVER_PORT"] == "443"  # Host "t" has no port: the scheme's


def input_app(environ, start_response):
    """Reads wsgi.input every way the PEP allows and echoes what it got."""
    inp = environ["wsgi.input"]
    first = inp.read(3)
    line = inp.readline()
    limited = inp.readline(2)
    rest = list(inp)
    out = json.dumps([first.decode(), line.decode(), limited.decode(),
                      [r.decode() for r in rest], inp.read(10).decode()]).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [out]


def test_wsgi_input_honours_read_n_readline_and_iteration(serve, raw):
    app = serve_wsgi(serve, input_app)
    c = raw(app.port)
    c.send(request_bytes("/", "POST", body=b"abcdef\nxyz\nline3\nlast"))
    assert json.loads(c.read_answer().body) == ["abc", "def\n", "xy", ["z\n", "line3\n", "last"], ""]
    # A chunked body arrives whole, with its length.
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"4\r\nabcd\r\n3\r\nef\n\r\n0\r\n\r\n")
    assert json.loads(c.read_answer().body) == ["abc", "def\n", "", [], ""]
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3\r\nabc\r\n0\r\n\r\n")
    got = c.read_answer()
    assert json.loads(got.body) == ["abc", "", "", [], ""]


def test_write_callable_and_iterable_both_reach_the_body_in_order(serve, raw):
    def app(environ, start_response):
        write = start_response("201 Created", [("Content-Type", "text/plain"),
                                               ("X-Thing", "caf\u00e9")])
        write(b"one,")
        write(b"")
        return iter([b"two,", b"", b"three"])

    served = serve_wsgi(serve, app)
    c = raw(served.port)
    c.send(request_bytes("/"))
    a = c.read_answer()
    assert (a.status, a.body) == (201, b"one,two,three")
    assert a.headers["x-thing"] == "caf\u00e9"  # latin-1 on the wire, read back as latin-1


class Closing:
    """An iterable that records close()."""

    closed = 0

    def __init__(self, parts, fail_at=None):
        self.parts, self.fail_at = parts, fail_at

    def __iter__(self):
        for i, p in enumerate(self.parts):
            if i == self.fail_at:
                raise ValueError("iteration failed")
            yield p

    def close(self):
        type(self).closed += 1


def test_close_is_called_on_success_and_on_failure(serve, raw, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing([b"a", b"b", b"c"], fail_at=1 if environ["PATH_INFO"] == "/fail" else None)

    Closing.closed = 0
    served = serve_wsgi(serve, app)
    c = raw(served.port)
    c.send(request_bytes("/ok"))
    assert c.read_answer().body == b"abc"
    c.send(request_bytes("/fail"))
    a = c.read_answer()
    assert (a.status, a.body) == (500, b"Internal Server Error")
    c.send(request_bytes("/ok"))
    assert c.read_answer().body == b"abc"
    assert Closing.closed == 3
    assert turbo_log_with(caplog, "ValueError: iteration failed")


def test_a_failing_close_turns_the_answer_into_a_500(serve, raw, caplog):
    class BadClose(Closing):
        def close(self):
            raise OSError("close failed")

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return BadClose([b"x"])

    served = serve_wsgi(serve, app)
    c = raw(served.port)
    c.send(request_bytes("/"))
    assert c.read_answer().status == 500
    assert turbo_log_with(caplog, "OSError: close failed")


def test_exc_info_replaces_the_status_before_the_body_and_reraises_after(serve, raw, caplog):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise KeyError("boom")
        except KeyError:
            import sys
            if environ["PATH_INFO"] == "/late":
                write = start_response("200 OK", [("Content-Type", "text/plain")], sys.exc_info())
                raise AssertionError("not reached")  # the second call re-raised
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"),
                                                       ("Retry-After", "5")], sys.exc_info())
            return [b"try later"]

    def late(environ, start_response):
        import sys
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial")
        try:
            raise KeyError("late")
        except KeyError:
            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"never"]

    served = serve_wsgi(serve, app)
    c = raw(served.port)
    c.send(request_bytes("/"))
    a = c.read_answer()
    assert (a.status, a.headers["retry-after"], a.body) == (503, "5", b"try later")
    served2 = serve_wsgi(serve, late)
    c2 = raw(served2.port)
    c2.send(request_bytes("/"))
    a = c2.read_answer()
    assert (a.status, a.body) == (500, b"Internal Server Error")
    assert turbo_log_with(caplog, "KeyError: 'late'")


BAD_APPS = {
    # what the app does wrong -> the message logged
    "raises": ("raise RuntimeError('app failed')", "RuntimeError: app failed"),
    "no start_response": ("return [b'x']", "start_response() was called"),
    "twice": ("sr('200 OK', []); sr('200 OK', []); return [b'']", "called again without exc_info"),
    "bad status": ("sr('20 OK', []); return [b'']", "status must be"),
    "1xx status": ("sr('103 Early Hints', []); return [b'']", "final status"),
    "CR in value": ("sr('200 OK', [('X-A', 'a\\r\\nSet-Cookie: x=1')]); return [b'']",
                    "CR, LF or NUL"),
    "bad name": ("sr('200 OK', [('X A', 'a')]); return [b'']", "invalid header name"),
    "not latin-1": ("sr('200 OK', [('X-A', '\\u20ac')]); return [b'']", "outside latin-1"),
    "str body": ("sr('200 OK', [('Content-Type', 'text/plain')]); return ['text']",
                 "must give bytes, not str"),
    "tuple headers": ("sr('200 OK', ()); return [b'']", "headers must be a list"),
}


@pytest.mark.parametrize("case", sorted(BAD_APPS))
def test_a_broken_app_is_a_500_with_a_traceback_and_the_connection_goes_on(case, serve, raw,
                                                                             caplog):
    code, logged = BAD_APPS[case]
    ns = {}
    exec("def bad(env, sr):\n    " + code, ns)  # noqa: S102 - the test's own snippets

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/ok":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"fine"]
        return ns["bad"](environ, start_response)

    # Not validated: the validator would catch these mistakes itself.
    served = serve(WSGIApp(app))
    c = raw(served.port)
    c.send(request_bytes("/bad"))
    a = c.read_answer()
    assert (a.status, a.content_type, a.body) == (500, "text/plain; charset=utf-8",
                                                   b"Internal Server Error")
    assert "set-cookie" not in a.headers
    c.send(request_bytes("/ok"))
    assert c.read_answer().body == b"fine"
    assert turbo_log_with(caplog, logged), [r.getMessage() for r in caplog.records]


def test_body_before_start_response_is_a_500(serve, raw, caplog):
    def app(environ, start_response):
        yield b"early"
        start_response("200 OK", [])

    served = serve(WSGIApp(app))
    c = raw(served.port)
    c.send(request_bytes("/"))
    assert c.read_answer().status == 500
    assert turbo_log_with(caplog, "gave body bytes before start_response()")


def test_framing_headers_from_the_app_are_replaced_and_head_keeps_the_get_length(serve, raw):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "11")])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"hello world"]

    served = serve_wsgi(serve, app)
    c = raw(served.port)
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\nGET / HTTP/1.1\r\nHost: t\r\n\r\n")
    head = c.sock.recv(65536)
    while b"hello world" not in head:
        head += c.sock.recv(65536)
    first, _, rest = head.partition(b"\r\n\r\n")
    assert b"\r\nContent-Length: 11" in first
    assert rest.startswith(b"HTTP/1.1 200 OK\r\n")  # no body after the HEAD answer
    assert rest.endswith(b"\r\n\r\nhello world")

    def lying(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "999"),
                                  ("Transfer-Encoding", "chunked")])
        return [b"abc"]

    served2 = serve(WSGIApp(lying))
    c2 = raw(served2.port)
    c2.send(request_bytes("/"))
    a = c2.read_answer()
    assert (a.status, a.headers["content-length"], a.body) == (200, "3", b"abc")
    assert "transfer-encoding" not in a.headers


def test_file_wrapper_sends_a_regular_file_from_its_position(serve, raw, tmp_path):
    data = os.urandom(300_000)
    path = tmp_path / "blob"
    path.write_bytes(data)
    opened = []

    def app(environ, start_response):
        f = open(path, "rb")
        opened.append(f)
        f.read(1000)  # a buffered reader reads ahead: tell() is what counts
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return environ["wsgi.file_wrapper"](f, 4096)

    served = serve_wsgi(serve, app)
    c = raw(served.port)
    c.send(request_bytes("/"))
    a = c.read_answer()
    assert a.status == 200 and a.body == data[1000:]
    assert opened[0].closed


def test_file_wrapper_after_write_comes_after_the_written_bytes(serve, raw, tmp_path):
    path = tmp_path / "tail"
    path.write_bytes(b"0123456789" * 1000)

    def app(environ, start_response):
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"head:")
        return environ["wsgi.file_wrapper"](open(path, "rb"))

    served = serve_wsgi(serve, app)
    c = raw(served.port)
    for _ in range(3):
        c.send(request_bytes("/"))
        assert c.read_answer().body == b"head:" + b"0123456789" * 1000


def test_file_wrapper_iterates_what_has_no_descriptor(serve, raw):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"x" * 10_000 + b"end"), 1000)

    served = serve_wsgi(serve, app)
    c = raw(served.port)
    c.send(request_bytes("/"))
    assert c.read_answer().body == b"x" * 10_000 + b"end"


def test_native_routes_win_and_blocking_apps_leave_the_io_thread_free(serve, raw):
    gate = threading.Event()
    threads = []

    def app(environ, start_response):
        threads.append(threading.get_ident())
        if environ["PATH_INFO"] == "/slow":
            gate.wait(10)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    wsgi = WSGIApp(validator(app), blocking=True)

    @wsgi.get("/fast")
    def fast():
        return {"thread": threading.get_ident()}

    served = serve(wsgi)
    slow = raw(served.port)
    slow.send(request_bytes("/slow"))
    assert wait_until(lambda: threads)
    c = raw(served.port)
    c.send(request_bytes("/fast"))
    io_thread = json.loads(c.read_answer().body)["thread"]
    assert io_thread != threads[0]
    gate.set()
    assert slow.read_answer().body == b"/slow"
    c.send(request_bytes("/other"))
    assert c.read_answer().body == b"/other"


def test_a_client_that_leaves_mid_body_harms_nothing(serve, raw):
    served = serve_wsgi(serve, environ_app)
    c = raw(served.port)
    c.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"x" * 5000)
    c.close()
    c = raw(served.port)
    c.send(request_bytes("/after", "POST", body=b"y" * 200_000))
    a = c.read_answer()
    assert a.status == 200 and json.loads(a.body)["body"] == "y" * 200_000


def test_huge_bodies_up_to_the_limit_and_a_trickling_client(serve, raw):
    def app(environ, start_response):
        data = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"%d %d" % (len(data), sum(data) % 251)]

    served = serve(WSGIApp(validator(app), max_body_bytes=4_000_000))
    body = bytes(range(256)) * 15_000  # 3.84 MB
    c = raw(served.port)
    c.send(request_bytes("/", "POST", body=body))
    assert c.read_answer().body == b"%d %d" % (len(body), sum(body) % 251)
    # Over the limit: refused from its head (the server may close before
    # the client has sent it all).
    c2 = raw(served.port)
    try:
        c2.send(request_bytes("/", "POST", body=body + b"x" * 200_000))
    except (BrokenPipeError, ConnectionResetError):
        pass
    assert c2.read_answer().status == 413
    # A client that sends its request a few bytes at a time.
    slow = raw(served.port)
    for piece in [b"POST / HTTP/1.1\r\nHo", b"st: t\r\nContent-Le", b"ngth: 5\r\n\r\nab", b"cde"]:
        slow.send(piece)
        time.sleep(0.05)
    assert slow.read_answer().body == b"5 %d" % (sum(b"abcde") % 251)


def test_start_response_takes_keywords_too(serve, raw):
    def app(environ, start_response):
        if environ["PATH_INFO"] == "/kw":
            start_response(status="202 Accepted", headers=[("Content-Type", "text/plain")])
        else:
            start_response("203 Non-Authoritative Information",
                           [("Content-Type", "text/plain")], exc_info=None)
        return [environ["PATH_INFO"].encode()]

    served = serve(WSGIApp(app))
    c = raw(served.port)
    c.send(request_bytes("/kw") + request_bytes("/pos"))
    a, b = c.read_answers(2)
    assert (a.status, a.body, b.status, b.body) == (202, b"/kw", 203, b"/pos")
