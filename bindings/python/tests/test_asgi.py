"""The ASGI 3 adapter (turbo.asgi.ASGIApp, src/asgi.c), with plain ASGI
applications: the scope, receive and send, streaming with more_body, the
answer sent before background work ends, cancellation when the client
leaves, the lifespan protocol, and every way an app can get it wrong."""

import asyncio
import json
import threading
import time

import pytest

from conftest import request_bytes, turbo_log_with, wait_until
from turbo.asgi import ASGIApp


def jsonable(scope):
    out = {}
    for k, v in scope.items():
        if k == "headers":
            v = [[n.decode("latin-1"), val.decode("latin-1")] for n, val in v]
        elif isinstance(v, bytes):
            v = v.decode("latin-1")
        elif isinstance(v, tuple):
            v = list(v)
        out[k] = v
    return out


async def send_json(send, obj, status=200):
    body = json.dumps(obj).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def scope_app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("http only")
    first = await receive()
    await send_json(send, {"scope": jsonable(scope),
                           "first": [first["type"], first["body"].decode(), first["more_body"]]})


def test_the_scope_holds_what_the_spec_asks_for(serve, raw):
    app = serve(ASGIApp(scope_app, root_path="/root"))
    c = raw(app.port)
    c.send(b"POST /a%20b/%C3%A9?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nX-Multi: a\r\n"
           b"x-multi: b\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello")
    a = c.read_answer()
    assert a.status == 200 and a.content_type == "application/json"
    got = json.loads(a.body)
    assert got["first"] == ["http.request", "hello", False]
    assert got["scope"] == {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/a b/\u00e9",
        "raw_path": "/a%20b/%C3%A9",
        "query_string": "x=1&y=%20",
        "root_path": "/root",
        "headers": [["host", "example.com"], ["x-multi", "a"], ["x-multi", "b"],
                    ["content-type", "text/plain"], ["content-length", "5"]],
        "client": ["127.0.0.1", got["scope"]["client"][1]],
        "server": ["127.0.0.1", app.port],
        "extensions": {"http.response.pathsend": {}},
    }
    assert isinstance(got["scope"]["client"][1], int)
    c.send(b"GET / HTTP/1.0\r\n\r\n")
    assert json.loads(c.read_answer().body)["scope"]["http_version"] == "1.0"


async def streaming_app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"15"),
                            (b"set-cookie", b"a=1"), (b"set-cookie", b"b=2")]})
    for part in (b"hello", b" ", b"", b"world"):
        await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": part, "more_body": True})
    await send({"type": "http.response.body", "body": b"!!!!"})
    # After the response, receive() says the exchange is over.
    assert (await receive())["type"] == "http.request"
    assert await receive() == {"type": "http.disconnect"}


def test_a_streamed_body_goes_piece_by_piece_with_the_apps_length(serve, raw):
    app = serve(ASGIApp(streaming_app))
    c = raw(app.port)
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    data = b""
    while not data.endswith(b"hello world!!!!"):
        data += c.sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"\r\nContent-Length: 15" in head
    assert head.count(b"set-cookie: ") == 2 and b"Transfer-Encoding" not in head
    assert body == b"hello world!!!!"
    c.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n")
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        head += c.sock.recv(65536)
    assert b"\r\nContent-Length: 15\r\n" in head


def test_a_body_streamed_without_a_length_is_chunked_exactly(serve, raw):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 201,
                    "headers": [(b"content-type", b"text/plain")]})
        for part in (b"hello", b" ", b"", b"world"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"!"})

    served = serve(ASGIApp(app))
    c = raw(served.port)
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        more = c.sock.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 201 Created\r\n")
    assert b"\r\nTransfer-Encoding: chunked\r\n" in head + b"\r\n"
    assert body == b"5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n1\r\n!\r\n0\r\n\r\n"


def test_an_app_that_ends_its_stream_early_closes_the_connection(serve, raw, caplog):
    async def app(scope, receive, send):
        await _start(send)
        await send({"type": "http.response.body", "body": b"part", "more_body": True})

    served = serve(ASGIApp(app, lifespan="off"))
    c = raw(served.port)
    c.send(request_bytes("/"))
    data = b""
    while True:
        more = c.sock.recv(65536)
        if not more:
            break
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and body == b"4\r\npart\r\n"
    assert turbo_log_with(caplog, "before its last 'http.response.body'")


def test_the_answer_goes_out_before_background_work_ends(serve, raw):
    finished = []

    async def app(scope, receive, send):
        await send_json(send, {"ok": True})
        await asyncio.sleep(0.3)  # e.g. Starlette's BackgroundTasks
        finished.append(time.monotonic())

    served = serve(ASGIApp(app))
    c = raw(served.port)
    c.send(request_bytes("/"))
    assert c.read_answer().body == b'{"ok": true}'
    answered = time.monotonic()
    assert finished == []
    assert wait_until(lambda: finished, timeout=5)
    assert finished[0] > answered


def test_a_client_that_leaves_cancels_the_app(serve, raw):
    events = []

    async def app(scope, receive, send):
        if scope["path"] == "/ok":
            return await send_json(send, {"ok": True})
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        finally:
            events.append("finally")

    served = serve(ASGIApp(app))
    c = raw(served.port)
    c.send(request_bytes("/wait"))
    time.sleep(0.1)
    c.close()
    assert wait_until(lambda: events == ["cancelled", "finally"], timeout=5), events
    c = raw(served.port)
    c.send(request_bytes("/ok"))
    assert c.read_answer().status == 200


async def _start(send, **kw):
    await send({"type": "http.response.start", "status": 200, **kw})


BROKEN = {
    "raises before start": ("raise ValueError('before')", "ValueError: before"),
    "raises after start": ("await _start(send); raise ValueError('after')", "ValueError: after"),
    "never starts": ("return None", "without sending 'http.response.start'"),
    "no body": ("await _start(send)", "before its last"),
    "body first": ("await send({'type': 'http.response.body', 'body': b'x'})",
                   "sent before 'http.response.start'"),
    "start twice": ("await _start(send); await _start(send)", "sent twice"),
    "unknown message": ("await send({'type': 'http.response.trailers'})", "unexpected message"),
    "str status": ("await send({'type': 'http.response.start', 'status': '200'})",
                   "status must be an int"),
    "1xx status": ("await send({'type': 'http.response.start', 'status': 103}); "
                   "await send({'type': 'http.response.body'})", "not a final status"),
    "CR in header": ("await _start(send, headers=[(b'x-a', b'a\\r\\nb: c')]); "
                     "await send({'type': 'http.response.body'})", "invalid ASGI response header"),
    "str header": ("await _start(send, headers=[('x-a', 'b')]); "
                   "await send({'type': 'http.response.body'})", "must be bytes, not str"),
    "CR in a streamed header": ("await _start(send, headers=[(b'x-a', b'a\\r\\nb: c')]); "
                                "await send({'type': 'http.response.body', 'more_body': True})",
                                "invalid response header"),
    "pathsend of a missing file": ("await _start(send); await send({'type': "
                                   "'http.response.pathsend', 'path': '/nonexistent/f'})",
                                   "No such file or directory: '/nonexistent/f'"),
    "pathsend of a directory": ("await _start(send); await send({'type': "
                                "'http.response.pathsend', 'path': '/tmp'})",
                                "is not a regular file"),
    "str header, streamed": ("await _start(send, headers=[('x-a', 'b')]); "
                             "await send({'type': 'http.response.body', 'more_body': True})",
                             "must be bytes, not str"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_app_is_a_500_and_the_connection_goes_on(case, serve, raw, caplog):
    code, logged = BROKEN[case]
    ns = {"_start": _start}
    exec("async def bad(scope, receive, send):\n    " + code, ns)  # noqa: S102

    async def app(scope, receive, send):
        if scope["path"] == "/ok":
            return await send_json(send, {"ok": True})
        await asyncio.sleep(0)  # half of them fail after suspending
        return await ns["bad"](scope, receive, send)

    served = serve(ASGIApp(app, lifespan="off"))
    c = raw(served.port)
    c.send(request_bytes("/bad"))
    a = c.read_answer()
    assert (a.status, a.body) == (500, b"Internal Server Error")
    c.send(request_bytes("/ok"))
    assert c.read_answer().body == b'{"ok": true}'
    assert turbo_log_with(caplog, logged), [r.getMessage() for r in caplog.records]


def make_lifespan_app(log, fail=None):
    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                log.append(message["type"])
                if message["type"] == "lifespan.startup":
                    if fail == "startup":
                        await send({"type": "lifespan.startup.failed", "message": "no db"})
                        return
                    scope["state"]["pool"] = {"name": "pool-1"}
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        state = scope["state"]
        seen = dict(state)
        state["mine"] = scope["path"]  # a copy per request: not seen by the next
        await send_json(send, {"state": seen})

    return app


def test_lifespan_runs_before_serving_and_after_stopping_and_state_reaches_requests(raw):
    log = []
    app = ASGIApp(make_lifespan_app(log))
    # One I/O thread, so one loop and one startup (a free-threaded build's
    # default is one thread per CPU, each loop with its own lifespan).
    app.start(port=0, threads=1)
    try:
        assert log == ["lifespan.startup"]
        c = raw(app.port)
        for path in ("/a", "/b"):
            c.send(request_bytes(path))
            assert json.loads(c.read_answer().body) == {"state": {"pool": {"name": "pool-1"}}}
    finally:
        app.stop()
    assert log == ["lifespan.startup", "lifespan.shutdown"]


def test_a_failed_startup_stops_the_start():
    app = ASGIApp(make_lifespan_app([], fail="startup"))
    with pytest.raises(RuntimeError, match="ASGI lifespan startup failed: no db"):
        app.start(port=0)
    assert app.port is None


def test_an_app_without_lifespan_is_served_in_auto_and_refused_in_on(serve, raw):
    served = serve(ASGIApp(scope_app))  # raises on the lifespan scope
    c = raw(served.port)
    c.send(request_bytes("/"))
    assert c.read_answer().status == 200
    with pytest.raises(RuntimeError, match="the application raised RuntimeError"):
        ASGIApp(scope_app, lifespan="on").start(port=0)


def test_many_concurrent_waiting_requests_all_get_their_own_answer(serve):
    from conftest import fetch_all

    async def app(scope, receive, send):
        await asyncio.sleep(0.05)
        await send_json(send, {"path": scope["path"]})

    served = serve(ASGIApp(app))
    answers = fetch_all(served.port, [f"/{i}" for i in range(300)])
    assert [json.loads(a.body)["path"] for a in answers] == [f"/{i}" for i in range(300)]


def test_the_adapter_runs_on_the_io_thread(serve, raw):
    seen = []

    async def app(scope, receive, send):
        seen.append(threading.current_thread().name)
        await send_json(send, {})

    served = serve(ASGIApp(app, lifespan="off"))
    c = raw(served.port)
    c.send(request_bytes("/"))
    c.read_answer()
    assert len(seen) == 1 and seen[0] != threading.main_thread().name


def test_pathsend_sends_the_file_whole(serve, raw, tmp_path):
    data = b"0123456789" * 100000 + b"tail"
    path = tmp_path / "f.bin"
    path.write_bytes(data)

    async def app(scope, receive, send):
        assert "http.response.pathsend" in scope["extensions"]
        await _start(send, headers=[(b"content-type", b"application/octet-stream"),
                                    (b"content-length", b"1")])  # framed by libturbo
        given = path if scope["path"] == "/pathlib" else str(path)
        await send({"type": "http.response.pathsend", "path": given})

    served = serve(ASGIApp(app, lifespan="off"))
    c = raw(served.port)
    for target in ("/str", "/pathlib"):
        c.send(request_bytes(target))
        a = c.read_answer()
        assert (a.status, a.headers["content-length"], a.body) == (200, str(len(data)), data)
