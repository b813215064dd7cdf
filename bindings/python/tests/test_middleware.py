"""app.add_middleware with Starlette's CORSMiddleware, GZipMiddleware and
TrustedHostMiddleware (turbo/_middleware.py); their agreement with
FastAPI is in test_fastapi_diff.py (cors_hosts.py, gzip_app.py)."""

import gzip
import zlib

import pytest

import turbo

from conftest import Client, start_app
from turbo import (App, CORSMiddleware, GZipMiddleware, PlainTextResponse,
                   TrustedHostMiddleware)


def serve(app):
    start_app(app)
    return Client(app.port)


def test_unknown_classes_and_options_raise_when_added():
    app = App()

    class Custom:
        pass

    with pytest.raises(TypeError, match=r"add_middleware\(Custom\): turbo supports "
                                        "CORSMiddleware, GZipMiddleware, TrustedHostMiddleware "
                                        "and BaseHTTPMiddleware subclasses"):
        app.add_middleware(Custom)

    class SyncDispatch(turbo.BaseHTTPMiddleware):
        def dispatch(self, request, call_next):  # type: ignore[override]
            return call_next(request)

    with pytest.raises(TypeError, match="SyncDispatch: dispatch must be an async def"):
        app.add_middleware(SyncDispatch)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        app.add_middleware(turbo.BaseHTTPMiddleware, colour="red")
    with pytest.raises(TypeError, match="CORSMiddleware: unknown option 'allow_origin'"):
        app.add_middleware(CORSMiddleware, allow_origin=["*"])
    with pytest.raises(TypeError, match="GZipMiddleware: unknown option 'level'"):
        app.add_middleware(GZipMiddleware, level=3)
    with pytest.raises(ValueError, match="compresslevel must be -1..9, not 10"):
        app.add_middleware(GZipMiddleware, compresslevel=10)
    with pytest.raises(ValueError, match=r"like '\*.example.com', not 'a\*.example.com'"):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["a*.example.com"])
    with pytest.raises(ValueError, match=r"not '\*example.com'"):
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=["*example.com"])
    assert app._http_middleware == []


def test_options_that_leave_nothing_to_do_add_no_middleware():
    app = App()
    app.add_middleware(TrustedHostMiddleware)
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["*"])
    assert app._http_middleware == []
    app.add_middleware(CORSMiddleware, allow_origins=["*"])
    assert len(app._http_middleware) == 1


def test_gzip_bytes_are_zlibs_at_the_level_given():
    app = App()
    app.add_middleware(GZipMiddleware, minimum_size=10, compresslevel=1)
    text = "abc " * 100

    @app.get("/t")
    def t():
        return PlainTextResponse(text)

    c = serve(app)
    try:
        r = c.get("/t", headers={"Accept-Encoding": "gzip"})
        comp = zlib.compressobj(1, zlib.DEFLATED, 31)
        want = comp.compress(text.encode()) + comp.flush()
        assert (r.status, r.headers["Content-Encoding"], r.headers["Vary"]) == \
            (200, "gzip", "Accept-Encoding")
        assert r.body == want
        assert gzip.decompress(r.body) == text.encode()
        assert r.headers["Content-Length"] == str(len(want))
        r = c.get("/t")
        assert (r.status, r.body, r.headers.get("Content-Encoding")) == (200, text.encode(), None)
        assert r.headers["Vary"] == "Accept-Encoding"
    finally:
        c.close()
        app.stop()


def test_cors_with_every_origin_and_no_credentials_answers_star():
    app = App()
    app.add_middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"],
                       allow_headers=["*"])

    @app.route("/r", ["GET", "OPTIONS"])
    def r():
        return {"ok": True}

    c = serve(app)
    try:
        got = c.get("/r", headers={"Origin": "https://any.example"})
        assert (got.status, got.body) == (200, b'{"ok":true}')
        assert got.headers["Access-Control-Allow-Origin"] == "*"
        assert got.headers["Vary"] == "Origin"
        pre = c.request("OPTIONS", "/r", headers={"Origin": "https://any.example",
                                                  "Access-Control-Request-Method": "PATCH",
                                                  "Access-Control-Request-Headers": "X-A, X-B"})
        assert (pre.status, pre.body) == (200, b"OK")
        assert pre.headers["Access-Control-Allow-Origin"] == "*"
        assert pre.headers["Access-Control-Allow-Headers"] == "X-A, X-B"
        assert pre.headers["Access-Control-Allow-Methods"] == \
            "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY"
        assert pre.headers["Access-Control-Max-Age"] == "600"
    finally:
        c.close()
        app.stop()


def test_trusted_host_refuses_a_missing_or_other_host():
    app = App()
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=["127.0.0.1"])

    @app.get("/x")
    def x():
        return {"a": 1}

    c = serve(app)
    try:
        assert (c.get("/x").status, c.get("/x").body) == (200, b'{"a":1}')
        r = c.get("/x", headers={"Host": "[::1]:80"})
        assert (r.status, r.body, r.headers["Content-Type"]) == \
            (400, b"Invalid host header", "text/plain; charset=utf-8")
    finally:
        c.close()
        app.stop()
