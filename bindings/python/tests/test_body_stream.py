"""request.stream(): request bodies read as they arrive (routes with
stream_body=True), checked with raw sockets for the exact bytes and timing
of what the server reads, and http.client for chunked uploads."""

import asyncio
import hashlib
import json
import os
import socket
import threading
import time

import pytest

from conftest import Client, RssPeak, rss_bytes, wait_until
from turbo import App, Request, StreamingResponse

EVENTS = {}  # name -> threading.Event, set by handlers
SEEN = {}    # what handlers saw, for the tests


def event(name):
    return EVENTS.setdefault(name, threading.Event())


def make_app():
    app = App()

    @app.post("/upload", stream_body=True)
    async def upload(request: Request):
        event("upload-started").set()
        h = hashlib.sha256()
        n = pieces = 0
        async for piece in request.stream():
            h.update(piece)
            n += len(piece)
            pieces += piece != b""
        return {"bytes": n, "sha256": h.hexdigest(), "pieces": pieces,
                "body_attr": len(request.body)}

    @app.post("/limited", stream_body=True)
    async def limited(request: Request):
        n = 0
        async for piece in request.stream(max_size=1000):
            n += len(piece)
        return {"bytes": n}

    @app.post("/slow", stream_body=True)
    async def slow(request: Request):
        n = 0
        async for piece in request.stream():
            n += len(piece)
            await asyncio.sleep(0.0005)  # a consumer slower than the network
        return {"bytes": n}

    @app.post("/watched", stream_body=True)
    async def watched(request: Request):
        try:
            async for _ in request.stream():
                event("watched-reading").set()
        except asyncio.CancelledError:
            event("watched-cancelled").set()
            raise
        return {"done": True}

    @app.post("/echo", stream_body=True)
    async def echo(request: Request):
        async def pieces():
            async for piece in request.stream():
                yield piece
        return StreamingResponse(pieces(), media_type="application/octet-stream")

    @app.post("/ignores", stream_body=True)
    async def ignores(request: Request):
        request.stream()  # asked for, never iterated: answered all the same
        return {"ignored": True}

    @app.post("/buffered")
    async def buffered(request: Request):
        pieces = [p async for p in request.stream()]
        return {"pieces": [p.decode() for p in pieces], "body": request.body.decode()}

    @app.post("/in-def")
    def in_def(request: Request):
        request.stream()
        return {"unreachable": True}

    return app


def raw(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=20)
    return s


def read_response(s):
    """One response (Content-Length or chunked) from socket s: (status,
    headers dict, body bytes)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        assert data, f"EOF before the head: {buf!r}"
        buf += data
    head, rest = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
    if "content-length" in headers:
        want = int(headers["content-length"])
        while len(rest) < want:
            data = s.recv(65536)
            assert data, "EOF inside the body"
            rest += data
        return status, headers, rest[:want]
    assert headers.get("transfer-encoding") == "chunked", headers
    body = b""
    while True:
        while b"\r\n" not in rest:
            data = s.recv(65536)
            assert data, "EOF inside a chunk line"
            rest += data
        line, rest = rest.split(b"\r\n", 1)
        size = int(line, 16)
        while len(rest) < size + 2:
            data = s.recv(1 << 20)
            assert data, "EOF inside a chunk"
            rest += data
        if size == 0:
            return status, headers, body
        body += rest[:size]
        rest = rest[size + 2:]


def eof(s):
    s.settimeout(10)
    return s.recv(1) == b""


def test_the_handler_runs_before_the_body_and_reads_it_in_pieces(server):
    event("upload-started").clear()
    body = os.urandom(300_000)
    s = raw(server.port)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
    assert event("upload-started").wait(10)  # on the head alone
    for at in range(0, len(body), 100_000):
        s.sendall(body[at:at + 100_000])
        time.sleep(0.02)
    status, _, got = read_response(s)
    assert status == 200
    reply = json.loads(got)
    assert reply["bytes"] == len(body)
    assert reply["sha256"] == hashlib.sha256(body).hexdigest()
    assert reply["pieces"] >= 3  # it came as it was sent, not at the end
    assert reply["body_attr"] == 0
    s.close()


def test_a_chunked_upload_then_the_same_connection_goes_on(server):
    c = Client(server.port)
    pieces = [os.urandom(n) for n in (1, 1000, 70_000, 5)]
    r = c.request("POST", "/upload", body=iter(pieces), encode_chunked=True,
                  headers={"Transfer-Encoding": "chunked"})
    whole = b"".join(pieces)
    assert r.status == 200
    assert json.loads(r.body)["sha256"] == hashlib.sha256(whole).hexdigest()
    r = c.request("POST", "/upload", body=b"again")
    assert json.loads(r.body)["bytes"] == 5
    c.close()


def test_over_the_limit_is_413_and_the_connection_closes(server):
    s = raw(server.port)
    s.sendall(b"POST /limited HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n")
    status, headers, got = read_response(s)
    assert status == 413
    assert json.loads(got) == {"detail": "Request body too large"}
    assert headers["connection"] == "close"
    assert eof(s)
    s.close()
    r = Client(server.port).request("POST", "/limited", body=b"k" * 1000)
    assert json.loads(r.body) == {"bytes": 1000}


def test_continue_is_sent_when_the_handler_reads(server):
    s = raw(server.port)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n"
              b"Expect: 100-continue\r\n\r\n")
    assert s.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b"abc")
    status, _, got = read_response(s)
    assert status == 200 and json.loads(got)["bytes"] == 3
    s.close()


def test_echo_streams_the_body_back_as_it_comes(server):
    body = os.urandom(4 << 20)
    s = raw(server.port)
    s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
    sender = threading.Thread(target=s.sendall, args=(body,), daemon=True)
    sender.start()
    status, headers, got = read_response(s)
    sender.join()
    assert status == 200 and headers["transfer-encoding"] == "chunked"
    assert got == body
    s.close()


def test_a_client_that_leaves_mid_body_cancels_the_handler(server):
    event("watched-reading").clear()
    event("watched-cancelled").clear()
    s = raw(server.port)
    s.sendall(b"POST /watched HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n")
    s.sendall(b"x" * 10_000)
    assert event("watched-reading").wait(10)
    s.close()
    assert event("watched-cancelled").wait(10)
    r = Client(server.port).request("POST", "/upload", body=b"still")
    assert json.loads(r.body)["bytes"] == 5


def test_a_stream_never_iterated_still_answers(server):
    c = Client(server.port)
    r = c.request("POST", "/ignores", body=b"0123456789")
    assert r.status == 200 and json.loads(r.body) == {"ignored": True}
    r = c.request("POST", "/upload", body=b"next")  # its ten bytes were dropped
    assert json.loads(r.body)["bytes"] == 4
    c.close()


def test_other_routes_stream_their_buffered_body_whole(server):
    c = Client(server.port)
    r = c.request("POST", "/buffered", body=b"whole")
    assert json.loads(r.body) == {"pieces": ["whole", ""], "body": "whole"}
    r = c.request("POST", "/in-def", body=b"x")
    assert r.status == 500
    c.close()


def test_stream_body_needs_an_async_endpoint():
    app = App()
    with pytest.raises(TypeError, match="stream_body=True needs an async def"):
        @app.post("/x", stream_body=True)
        def sync(request: Request):
            return {}



def upload_chunked(port, path, mib, piece=256 << 10):
    """Uploads mib MiB, chunked, from a thread; returns (socket, sha256
    hexdigest of what was sent, thread)."""
    s = raw(port)
    s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: t\r\n"
              b"Transfer-Encoding: chunked\r\n\r\n")
    block = bytes(range(256)) * (piece // 256)
    h = hashlib.sha256()
    for _ in range(mib * (1 << 20) // piece):
        h.update(block)
    frame = b"%x\r\n" % piece + block + b"\r\n"

    def send():
        for _ in range(mib * (1 << 20) // piece):
            s.sendall(frame)
        s.sendall(b"0\r\n\r\n")

    t = threading.Thread(target=send, daemon=True)
    t.start()
    return s, h.hexdigest(), t


def test_a_gigabyte_upload_in_bounded_memory(server):
    with RssPeak(0.01) as rss:
        s, digest, t = upload_chunked(server.port, "/upload", 1024)
        status, _, got = read_response(s)
        t.join()
        s.close()
    assert status == 200
    reply = json.loads(got)
    assert reply["bytes"] == 1 << 30 and reply["sha256"] == digest
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):  # ASan's quarantine keeps freed memory
        assert rss.growth < 64 << 20, f"RSS grew by {rss.growth >> 20} MiB"


def test_a_slow_consumer_holds_the_client_back_not_memory(server):
    before = rss_bytes()
    # Pieces keep arriving while the consumer is behind: a queue that held
    # on to what was taken grew with the upload (128 MiB here).
    s, _, t = upload_chunked(server.port, "/slow", 128, piece=64 << 10)
    status, _, got = read_response(s)
    t.join()
    s.close()
    assert status == 200 and json.loads(got) == {"bytes": 128 << 20}
    if "libasan" not in os.environ.get("LD_PRELOAD", ""):
        assert rss_bytes() - before < 32 << 20
