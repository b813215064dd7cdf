"""Request bodies through the ASGI adapter as they arrive: a body that has
not come whole with its head reaches the app as http.request messages
with more_body, read from the socket as the app asks (Starlette's
request.stream() and request.body() on top)."""

import hashlib
import json
import os
import socket
import threading
import time

import pytest

from conftest import needs, start_app
from turbo.asgi import ASGIApp

starlette = needs("starlette")
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import ClientDisconnect  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

SEEN = {}
STARTED = threading.Event()


async def sha(request):
    STARTED.set()
    h, n, pieces = hashlib.sha256(), 0, 0
    try:
        async for piece in request.stream():
            h.update(piece)
            n += len(piece)
            pieces += piece != b""
    except ClientDisconnect:
        SEEN["disconnect"] = True
        raise
    return JSONResponse({"bytes": n, "sha256": h.hexdigest(), "pieces": pieces})


async def whole(request):
    body = await request.body()
    return JSONResponse({"bytes": len(body)})


LIMIT = 2_000_000


@pytest.fixture(scope="module")
def app():
    a = ASGIApp(Starlette(routes=[Route("/sha", sha, methods=["POST"]),
                                  Route("/whole", whole, methods=["POST"])]),
                max_body_bytes=LIMIT)
    start_app(a)
    yield a
    a.stop()


def response(s):
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        assert data, buf
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    n = int(headers["content-length"])
    while len(rest) < n:
        rest += s.recv(65536)
    return int(lines[0].split()[1]), headers, rest[:n]


def test_a_body_arrives_in_pieces_as_it_is_sent(app):
    STARTED.clear()
    body = os.urandom(1_500_000)
    s = socket.create_connection(("127.0.0.1", app.port), timeout=20)
    s.sendall(b"POST /sha HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
    assert STARTED.wait(10)  # the app runs on the head alone
    for at in range(0, len(body), 500_000):
        s.sendall(body[at:at + 500_000])
        time.sleep(0.02)
    status, _, got = response(s)
    reply = json.loads(got)
    assert status == 200
    assert reply["bytes"] == len(body) and reply["sha256"] == hashlib.sha256(body).hexdigest()
    assert reply["pieces"] >= 3
    # a small body that comes whole with its head, on the same connection
    s.sendall(b"POST /whole HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nsmall")
    status, _, got = response(s)
    assert (status, json.loads(got)) == (200, {"bytes": 5})
    s.close()


def test_a_chunked_body_and_request_body(app):
    s = socket.create_connection(("127.0.0.1", app.port), timeout=20)
    s.sendall(b"POST /whole HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"q" * 100_000
    for _ in range(10):
        s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    status, _, got = response(s)
    assert (status, json.loads(got)) == (200, {"bytes": 1_000_000})
    s.close()


def test_over_max_body_bytes_is_413(app):
    s = socket.create_connection(("127.0.0.1", app.port), timeout=20)
    s.sendall(b"POST /whole HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1))
    status, headers, got = response(s)
    assert status == 413 and json.loads(got) == {"detail": "Request body too large"}
    s.close()
    # chunked: found on the way; the app's request.body() sees the
    # disconnect, and the answer is the 413
    s = socket.create_connection(("127.0.0.1", app.port), timeout=20)
    s.sendall(b"POST /whole HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = b"z" * 500_000

    def send():
        try:
            for _ in range(5):
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server closed after its answer

    t = threading.Thread(target=send, daemon=True)
    t.start()
    status, headers, got = response(s)
    assert status == 413 and headers["connection"] == "close"
    s.close()


def test_a_client_that_leaves_mid_body(app):
    SEEN.pop("disconnect", None)
    STARTED.clear()
    s = socket.create_connection(("127.0.0.1", app.port), timeout=20)
    s.sendall(b"POST /sha HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000)
    assert STARTED.wait(10)
    s.close()
    # the app's task is cancelled (or sees the disconnect); the server goes on
    s = socket.create_connection(("127.0.0.1", app.port), timeout=20)
    s.sendall(b"POST /whole HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok")
    status, _, got = response(s)
    assert (status, json.loads(got)) == (200, {"bytes": 2})
    s.close()
