"""Streamed responses and WebSockets through the ASGI adapter
(turbo.asgi.ASGIApp), with real frameworks: a bare Starlette app and a
FastAPI app, read with raw sockets (exact chunk framing), httpx's
streaming client and the `websockets` client."""

import asyncio
import json
import os
import socket
import time

import pytest

from conftest import RssPeak, needs, start_app, wait_until
from turbo.asgi import ASGIApp

httpx = needs("httpx")
starlette = needs("starlette")
from starlette.applications import Starlette  # noqa: E402
from starlette.endpoints import WebSocketEndpoint  # noqa: E402
from starlette.responses import FileResponse, JSONResponse  # noqa: E402
from starlette.responses import StreamingResponse as StarletteStreaming  # noqa: E402
from starlette.routing import Route, WebSocketRoute  # noqa: E402

SEEN = {}  # what the apps report, by name


def sync_pieces():
    for word in ("alpha", "", "beta", "gamma"):
        yield word.encode()


async def async_pieces():
    for word in ("one", "two", "three"):
        await asyncio.sleep(0.001)
        yield word


async def mebibytes(n):
    piece = b"x" * (1 << 20)
    for _ in range(n):
        yield piece


async def counted():
    piece = b"c" * 65536
    while True:
        SEEN["counted"] = SEEN.get("counted", 0) + 1
        yield piece


class Endless:
    """A plain ASGI app: streams until the client leaves, reading receive()
    alongside, and records what receive() and send() said then."""

    async def __call__(self, scope, receive, send):
        async def listen():
            SEEN["endless-first"] = (await receive())["type"]
            SEEN["endless-then"] = (await receive())["type"]

        listener = asyncio.ensure_future(listen())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"z" * 65536,
                            "more_body": True})
                await asyncio.sleep(0.001)
        except OSError as e:
            SEEN["endless-send"] = type(e).__name__
        await asyncio.wait_for(listener, 5)


class Chat(WebSocketEndpoint):
    encoding = "text"

    async def on_connect(self, websocket):
        await websocket.accept()
        await websocket.send_text("welcome")

    async def on_receive(self, websocket, data):
        await websocket.send_text(f"[{data}]")

    async def on_disconnect(self, websocket, close_code):
        SEEN["chat-close"] = close_code


async def starlette_stream(request):
    kind = request.path_params["kind"]
    if kind == "sync":
        return StarletteStreaming(sync_pieces(), media_type="text/plain")
    if kind == "async":
        return StarletteStreaming(async_pieces(), media_type="text/plain")
    if kind == "big":
        return StarletteStreaming(mebibytes(int(request.query_params["mib"])),
                                  headers={"content-length": str(int(request.query_params["mib"])
                                                                 << 20)})
    return StarletteStreaming(counted())


async def a_file(request):
    return FileResponse(request.app.state.file, media_type="application/octet-stream")


async def report(request):
    return JSONResponse(SEEN)


def starlette_app():
    return Starlette(routes=[
        Route("/stream/{kind}", starlette_stream),
        Route("/endless", Endless()),
        Route("/report", report),
        Route("/file", a_file),
        WebSocketRoute("/chat", Chat),
    ])


def fastapi_app():
    fastapi = needs("fastapi")
    from fastapi.responses import StreamingResponse

    app = fastapi.FastAPI()

    @app.get("/sync")
    def sync_stream():
        return StreamingResponse(sync_pieces(), media_type="text/plain")

    @app.get("/async")
    async def async_stream():
        return StreamingResponse(async_pieces(), media_type="text/plain")

    @app.websocket("/ws/echo")
    async def echo(websocket: fastapi.WebSocket):
        await websocket.accept(subprotocol="v2" if "v2" in websocket.scope["subprotocols"]
                               else None)
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    SEEN["echo-close"] = [message["code"], message.get("reason", "")]
                    return
                if message.get("text") is not None:
                    text = message["text"]
                    if text == "json":
                        await websocket.send_json({"a": [1, 2], "b": "é"})
                    elif text == "close":
                        await websocket.close(code=4002, reason="asked to")
                        return
                    else:
                        await websocket.send_text(text.upper())
                else:
                    await websocket.send_bytes(message["bytes"][::-1])
        finally:
            SEEN["echo-done"] = True

    @app.websocket("/ws/refuse")
    async def refuse(websocket: fastapi.WebSocket):
        await websocket.close(code=1008)

    return app


FILE_BYTES = bytes(range(256)) * 4096 + b"end"  # 1 MiB and 3 bytes


@pytest.fixture(scope="module")
def sl(tmp_path_factory):
    path = tmp_path_factory.mktemp("files") / "data.bin"
    path.write_bytes(FILE_BYTES)
    inner = starlette_app()
    inner.state.file = str(path)
    app = start_app(ASGIApp(inner))
    yield app
    app.stop()


@pytest.fixture(scope="module")
def fa():
    app = start_app(ASGIApp(fastapi_app()))
    yield app
    app.stop()


def raw_get(port, target):
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode())
    return s


def read_all(s):
    data = b""
    while True:
        more = s.recv(65536)
        if not more:
            return data
        data += more



ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")

# =============================================================================
# streamed responses
# =============================================================================

CHUNKED = {
    "sync": b"5\r\nalpha\r\n4\r\nbeta\r\n5\r\ngamma\r\n0\r\n\r\n",
    "async": b"3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_starlette_streams_each_piece_as_a_chunk(sl, kind):
    s = raw_get(sl.port, f"/stream/{kind}")
    head, _, body = read_all(s).partition(b"\r\n\r\n")
    s.close()
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nTransfer-Encoding: chunked" in head
    assert b"\r\ncontent-type: text/plain; charset=utf-8" in head
    # Starlette's empty piece is skipped (a zero-size chunk would end it).
    assert body == CHUNKED[kind]


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_fastapi_streams_read_with_httpx(fa, kind):
    with httpx.stream("GET", f"http://127.0.0.1:{fa.port}/{kind}") as r:
        assert r.status_code == 200 and r.headers["transfer-encoding"] == "chunked"
        body = b"".join(r.iter_bytes())
    assert body == {"sync": b"alphabetagamma", "async": b"onetwothree"}[kind]
    s = raw_get(fa.port, f"/{kind}")
    assert read_all(s).partition(b"\r\n\r\n")[2] == CHUNKED[kind]
    s.close()


def test_256_mib_streams_in_bounded_memory(sl):
    with RssPeak() as rss:
        s = raw_get(sl.port, "/stream/big?mib=256")
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += s.recv(65536)
        head, _, rest = buf.partition(b"\r\n\r\n")
        assert b"\r\nContent-Length: 268435456\r\n" in head + b"\r\n"
        got = len(rest)
        chunk = bytearray(1 << 20)
        while True:
            n = s.recv_into(chunk)
            if n == 0:
                break
            got += n
        s.close()
        assert got == 256 << 20
    if not ASAN:  # ASan's quarantine keeps freed memory: see test_streaming.py
        assert rss.growth < 64 << 20, "RSS grew by %d MiB" % (rss.growth >> 20)


def test_a_slow_reader_holds_the_app_back(sl):
    SEEN["counted"] = 0
    s = raw_get(sl.port, "/stream/counted")
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    got = 0
    for _ in range(50):
        time.sleep(0.01)
        got += len(s.recv(16384))
    produced = SEEN["counted"] * 65536
    # Produced and not read: the queue's high-water mark plus a piece, plus
    # what the kernel's socket buffers hold; not the 50 loop turns' worth
    # an app without backpressure would have pushed.
    assert produced - got < 16 << 20, (produced, got)
    s.close()


def test_a_client_that_leaves_mid_stream_is_seen_by_receive_and_send(sl):
    for k in ("endless-first", "endless-then", "endless-send"):
        SEEN.pop(k, None)
    s = raw_get(sl.port, "/endless")
    data = b""
    while len(data) < 200000:
        data += s.recv(65536)
    assert data.startswith(b"HTTP/1.1 200 OK\r\n")
    s.close()
    assert wait_until(lambda: "endless-send" in SEEN and "endless-then" in SEEN, timeout=10)
    r = httpx.get(f"http://127.0.0.1:{sl.port}/report").json()
    assert (r["endless-first"], r["endless-then"], r["endless-send"]) == (
        "http.request", "http.disconnect", "ClientDisconnected")


def test_a_starlette_file_response_goes_by_pathsend(sl):
    s = raw_get(sl.port, "/file")
    head, _, body = read_all(s).partition(b"\r\n\r\n")
    s.close()
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\nContent-Length: %d" % len(FILE_BYTES) in head
    assert b"Transfer-Encoding" not in head and body == FILE_BYTES
    r = httpx.head(f"http://127.0.0.1:{sl.port}/file")
    assert (r.status_code, r.headers["content-length"], r.content) == (
        200, str(len(FILE_BYTES)), b"")


# =============================================================================
# WebSocket
# =============================================================================

def ws():
    return needs("websockets.sync.client")


def ws_exceptions():
    return needs("websockets.exceptions")


def test_fastapi_websocket_echo_text_bytes_json_and_the_clients_close_code(fa):
    SEEN.pop("echo-close", None)
    with ws().connect(f"ws://127.0.0.1:{fa.port}/ws/echo") as c:
        assert c.subprotocol is None
        c.send("hello")
        assert c.recv() == "HELLO"
        c.send(b"\x01\x02\x03")
        assert c.recv() == b"\x03\x02\x01"
        c.send("json")
        assert json.loads(c.recv()) == {"a": [1, 2], "b": "é"}
        for i in range(300):
            c.send(f"m{i}")
        for i in range(300):
            assert c.recv() == f"M{i}"
        c.close(code=4001, reason="done here")
    assert wait_until(lambda: "echo-close" in SEEN, timeout=10)
    assert SEEN["echo-close"] == [4001, "done here"]


def test_fastapi_websocket_negotiates_a_subprotocol(fa):
    with ws().connect(f"ws://127.0.0.1:{fa.port}/ws/echo", subprotocols=["v1", "v2"]) as c:
        assert c.subprotocol == "v2"
        c.send("x")
        assert c.recv() == "X"


def test_fastapi_websocket_closed_by_the_app_with_its_code_and_reason(fa):
    with ws().connect(f"ws://127.0.0.1:{fa.port}/ws/echo") as c:
        c.send("close")
        with pytest.raises(ws_exceptions().ConnectionClosed) as exc:
            c.recv()
    assert (exc.value.rcvd.code, exc.value.rcvd.reason) == (4002, "asked to")


def test_fastapi_websocket_closed_before_accept_is_a_403(fa):
    with pytest.raises(ws_exceptions().InvalidStatus) as exc:
        ws().connect(f"ws://127.0.0.1:{fa.port}/ws/refuse")
    assert exc.value.response.status_code == 403
    # The server goes on.
    assert httpx.get(f"http://127.0.0.1:{fa.port}/sync").text == "alphabetagamma"


def test_a_starlette_websocket_endpoint(sl):
    SEEN.pop("chat-close", None)
    with ws().connect(f"ws://127.0.0.1:{sl.port}/chat") as c:
        assert c.recv() == "welcome"
        c.send("hi")
        assert c.recv() == "[hi]"
        c.close(code=1000)
    assert wait_until(lambda: "chat-close" in SEEN, timeout=10)
    assert SEEN["chat-close"] == 1000


def test_the_websocket_scope_and_a_denial_response(serve):
    scopes = []

    async def app(scope, receive, send):
        if scope["type"] != "websocket":
            return
        scopes.append(scope)
        assert await receive() == {"type": "websocket.connect"}
        await send({"type": "websocket.http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/plain"), (b"x-why", b"token")]})
        await send({"type": "websocket.http.response.body", "body": b"no ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"entry"})

    served = serve(ASGIApp(app, root_path="/r", lifespan="off"))
    with pytest.raises(ws_exceptions().InvalidStatus) as exc:
        ws().connect(f"ws://127.0.0.1:{served.port}/a%20b?x=1", subprotocols=["p1", "p2"])
    r = exc.value.response
    assert (r.status_code, r.headers["x-why"], bytes(r.body)) == (401, "token", b"no entry")
    scope = scopes[0]
    headers = dict(scope.pop("headers"))
    assert headers[b"upgrade"] == b"websocket" and headers[b"sec-websocket-version"] == b"13"
    assert scope == {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": "/a b",
        "raw_path": b"/a%20b",
        "query_string": b"x=1",
        "root_path": "/r",
        "client": ("127.0.0.1", scope["client"][1]),
        "server": ("127.0.0.1", served.port),
        "subprotocols": ["p1", "p2"],
        "extensions": {"websocket.http.response": {}},
    }
