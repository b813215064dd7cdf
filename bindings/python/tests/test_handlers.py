"""Exception handlers and @app.middleware("http") (turbo/_handlers.py);
their agreement with FastAPI is in test_fastapi_diff.py (handlers.py)."""

import json
import logging

import pytest

from conftest import Client, start_app
from turbo import App, GZipMiddleware, HTTPException, JSONResponse, PlainTextResponse, RequestValidationError


def serve(app):
    start_app(app)
    return Client(app.port)


def test_an_app_without_handlers_or_middleware_serves_its_routes_unchanged():
    app = App()

    @app.get("/x")
    def x():
        return {"a": 1}

    plan = app._routes[("GET", "/x")][2]
    assert app._served(x, plan, 0) == (x, plan, 0)
    c = serve(app)
    try:
        assert app._chain is None
        r = c.get("/x")
        assert (r.status, r.body) == (200, b'{"a":1}')
    finally:
        c.close()
        app.stop()


def test_registration_is_checked_and_refused_once_serving():
    app = App()
    with pytest.raises(TypeError, match="exception class or an HTTP status code"):
        app.exception_handler("ValueError")
    with pytest.raises(TypeError, match="exception class or an HTTP status code"):
        app.add_exception_handler(True, lambda r, e: None)
    with pytest.raises(ValueError, match="not in 100..599"):
        app.add_exception_handler(99, lambda r, e: None)
    with pytest.raises(TypeError, match="must be callable"):
        app.add_exception_handler(ValueError, "handler")
    with pytest.raises(ValueError, match='must be "http"'):
        app.middleware("websocket")
    with pytest.raises(TypeError, match="must be an async def"):
        app.middleware("http")(lambda request, call_next: None)
    with pytest.raises(TypeError, match=r"add_middleware\(object\): turbo supports CORSMiddleware"):
        app.add_middleware(object)

    @app.get("/x")
    def x():
        return "x"

    start_app(app)
    try:
        with pytest.raises(RuntimeError, match="once the app is serving"):
            app.add_exception_handler(ValueError, lambda r, e: None)
        with pytest.raises(RuntimeError, match="once the app is serving"):
            @app.middleware("http")
            async def late(request, call_next):
                return await call_next(request)
        with pytest.raises(RuntimeError, match="once the app is serving"):
            app.add_middleware(GZipMiddleware)
    finally:
        app.stop()


def test_middleware_runs_in_starlettes_order_and_sees_the_body_bytes():
    app = App()
    seen = []

    @app.middleware("http")
    async def inner(request, call_next):
        seen.append("inner in")
        response = await call_next(request)
        seen.append("inner out")
        response.headers["X-Order"] = response.headers.get("X-Order", "") + "inner,"
        return response

    @app.middleware("http")
    async def outer(request, call_next):
        seen.append("outer in")
        response = await call_next(request)
        seen.append("outer out")
        response.headers["X-Order"] += "outer"
        response.headers["X-Length"] = str(len(response.body))
        if request.headers.get("x-replace"):
            return PlainTextResponse(response.body.decode().upper(), status_code=202)
        return response

    @app.get("/d")
    def d():
        return {"k": "v"}

    @app.get("/blocking", blocking=True)
    def blocking():
        return ["b"]

    c = serve(app)
    try:
        r = c.get("/d")
        assert (r.status, r.body, r.headers["x-order"], r.headers["x-length"]) == \
            (200, b'{"k":"v"}', "inner,outer", "9")
        assert r.headers["content-type"] == "application/json"
        assert seen == ["outer in", "inner in", "inner out", "outer out"]
        r = c.get("/d", headers={"X-Replace": "1"})
        assert (r.status, r.body) == (202, b'{"K":"V"}')
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        r = c.get("/blocking")
        assert (r.status, r.body, r.headers["x-order"]) == (200, b'["b"]', "inner,outer")
        seen.clear()
        r = c.get("/nowhere")  # no route: the middleware sees the router's 404
        assert (r.status, r.body, r.headers["x-order"], r.headers["x-length"]) == \
            (404, b'{"detail":"Not Found"}', "inner,outer", "22")
        assert seen == ["outer in", "inner in", "inner out", "outer out"]
        r = c.request("POST", "/d")
        assert (r.status, r.body, r.headers["allow"], r.headers["x-order"]) == \
            (405, b'{"detail":"Method Not Allowed"}', "GET, HEAD", "inner,outer")
    finally:
        c.close()
        app.stop()


def test_handlers_by_status_class_and_the_500_handler(caplog):
    app = App()

    class Base(Exception):
        pass

    class Derived(Base):
        pass

    @app.exception_handler(Base)
    def base(request, exc):
        return JSONResponse({"class": type(exc).__name__}, status_code=409)

    @app.exception_handler(403)
    async def forbidden(request, exc):
        return PlainTextResponse("no: " + exc.detail, status_code=403)

    @app.exception_handler(Exception)
    def everything(request, exc):
        return PlainTextResponse("handled " + type(exc).__name__, status_code=503)

    @app.exception_handler(RequestValidationError)
    def invalid(request, exc):
        return JSONResponse({"n": len(exc.errors()), "body": exc.body}, status_code=400)

    @app.get("/raise/{what}")
    async def raise_(what: str):
        if what == "derived":
            raise Derived()
        if what == "403":
            raise HTTPException(403, "sorry")
        if what == "404":
            raise HTTPException(404, "gone")  # no handler for 404: FastAPI's answer
        raise KeyError(what)

    c = serve(app)
    try:
        r = c.get("/raise/derived")
        assert (r.status, r.body) == (409, b'{"class":"Derived"}')
        r = c.get("/raise/403")
        assert (r.status, r.body) == (403, b"no: sorry")
        r = c.get("/raise/404")
        assert (r.status, r.body) == (404, b'{"detail":"gone"}')
        with caplog.at_level(logging.ERROR, logger="turbo"):
            r = c.get("/raise/other")
        assert (r.status, r.body) == (503, b"handled KeyError")
        assert "KeyError: 'other'" in caplog.text  # still logged, as Starlette does
    finally:
        c.close()
        app.stop()


def test_response_class_must_be_a_response_subclass():
    from turbo import FastAPI

    app = App()
    with pytest.raises(TypeError, match="response_class must be a Response subclass, not <class 'dict'>"):
        app.get("/x", response_class=dict)(lambda: {})
    with pytest.raises(TypeError, match="response_class must be a Response subclass"):
        FastAPI(default_response_class="json")


def test_route_misses_and_refused_values_reach_the_handlers():
    app = App()
    seen = []

    def miss(request, exc):
        seen.append((request.method, request.path, exc.status_code, exc.detail, exc.headers))
        return PlainTextResponse(f"miss {exc.status_code}", status_code=exc.status_code,
                                 headers=exc.headers)
    app.add_exception_handler(404, miss)
    app.add_exception_handler(405, miss)

    @app.exception_handler(HTTPException)
    def raised(request, exc):  # FastAPI's class: the router's misses are its base's
        return PlainTextResponse(f"raised {exc.detail}", status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    def invalid(request, exc):
        return JSONResponse({"errors": exc.errors(), "body": exc.body}, status_code=400)

    @app.get("/items/{item_id}")
    def item(item_id: int, q: float = 0.5):
        if item_id == 0:
            raise HTTPException(409, "zero")
        return {"item_id": item_id, "q": q}

    c = serve(app)
    try:
        r = c.get("/missing/path")
        assert (r.status, r.body) == (404, b"miss 404")
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        r = c.request("PUT", "/items/3")
        assert (r.status, r.body, r.headers["allow"]) == (405, b"miss 405", "GET, HEAD")
        assert seen == [("GET", "/missing/path", 404, "Not Found", None),
                        ("PUT", "/items/3", 405, "Method Not Allowed", {"Allow": "GET, HEAD"})]
        r = c.get("/items/x?q=y")
        assert r.status == 400
        assert json.loads(r.body) == {"body": None, "errors": [
            {"type": "int_parsing", "loc": ["path", "item_id"],
             "msg": "Input should be a valid integer, unable to parse string as an integer",
             "input": "x"},
            {"type": "float_parsing", "loc": ["query", "q"],
             "msg": "Input should be a valid number, unable to parse string as a number",
             "input": "y"}]}
        r = c.get("/items/7?q=2")
        assert (r.status, r.body) == (200, b'{"item_id":7,"q":2.0}')
        r = c.get("/items/0")
        assert (r.status, r.body) == (409, b"raised zero")
    finally:
        c.close()
        app.stop()


def test_a_chain_without_a_404_handler_answers_misses_as_fastapi():
    app = App()

    @app.exception_handler(ValueError)
    def value_error(request, exc):
        return PlainTextResponse("bad", status_code=400)

    @app.get("/n/{n}")
    def n(n: int):
        return n

    c = serve(app)
    try:
        r = c.get("/nope")
        assert (r.status, r.body) == (404, b'{"detail":"Not Found"}')
        r = c.request("DELETE", "/n/1")
        assert (r.status, r.body, r.headers["allow"]) == \
            (405, b'{"detail":"Method Not Allowed"}', "GET, HEAD")
        r = c.request("HEAD", "/nope")
        assert (r.status, r.body, r.headers["content-length"]) == (404, b"", "22")
        r = c.get("/n/x")
        assert r.status == 422
        assert json.loads(r.body) == {"detail": [
            {"type": "int_parsing", "loc": ["path", "n"],
             "msg": "Input should be a valid integer, unable to parse string as an integer",
             "input": "x"}]}
    finally:
        c.close()
        app.stop()
