"""libturbo for Python: FastAPI-style handlers run inline on libturbo's I/O threads.

    from turbo import App

    app = App()

    @app.get("/users/{user_id}")
    def get_user(user_id: int, verbose: bool = False):
        return {"id": user_id, "verbose": verbose}

    if __name__ == "__main__":
        app.run(host="127.0.0.1", port=8000)

A handler is called on the I/O thread that parsed its request, holding the
GIL only for the call and the conversion of its result; there is no queue,
thread pool or event loop in between. What a handler's parameters need
(path or query, which type, which default) is worked out once, when the
route is added, so a request costs no introspection.
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import inspect
import json
import logging
import os
import re
import sys
import threading
import typing
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar, Unpack

from . import _aio, _encode, _openapi, _request, _routing, _turbo
from ._immortal import immortalize_constants
from ._turbo import Request

__version__: str = _turbo.libturbo_version
"""The package's version: that of the libturbo it runs on, which is the
one it was built from (turbo.h's TURBO_VERSION_*)."""

__all__ = [
    "App",
    "FastAPI",
    "Request",
    "Response",
    "JSONResponse",
    "HTMLResponse",
    "PlainTextResponse",
    "RedirectResponse",
    "HTTPException",
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "HTTPAuthorizationCredentials",
    "HTTPBasic",
    "HTTPBasicCredentials",
    "HTTPBearer",
    "HTTPDigest",
    "OAuth2AuthorizationCodeBearer",
    "OAuth2PasswordBearer",
    "OpenIdConnect",
    "Security",
    "SecurityScopes",
    "ORJSONResponse",
    "RequestValidationError",
    "BaseHTTPMiddleware",
    "CORSMiddleware",
    "GZipMiddleware",
    "TrustedHostMiddleware",
    "Headers",
    "State",
    "mount",
    "StreamingResponse",
    "ServerSentEvent",
    "EventSourceResponse",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
    "ClientDisconnect",
    "FileResponse",
    "StaticFiles",
    "Header",
    "Cookie",
    "APIRouter",
    "Body",
    "Form",
    "File",
    "UploadFile",
    "Depends",
    "BackgroundTasks",
    "Query",
    "Path",
    "immortalize_constants",
    "jsonable_encoder",
    "get_openapi",
    "status",
]

log = logging.getLogger("turbo")

_F = TypeVar("_F", bound=Callable[..., Any])
"""A handler or hook function: decorators hand it back unchanged."""


class Headers(Mapping[str, str]):
    """Request headers: a read-only, case-insensitive mapping (the first
    field of a name wins; `getlist` returns all of them)."""

    __slots__ = ("_items", "_map")

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._items = list(items)
        self._map: dict[str, str] = {}
        for name, value in self._items:
            self._map.setdefault(name.lower(), value)

    def __getitem__(self, name: str) -> str:
        return self._map[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._map

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return self._map.get(name.lower(), default)

    def getlist(self, name: str) -> list[str]:
        key = name.lower()
        return [v for n, v in self._items if n.lower() == key]

    def raw(self) -> list[tuple[str, str]]:
        """The fields as sent: a list of (name, value)."""
        return list(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


class Response:
    """A response with explicit status, headers and media type.

    content: str (encoded as UTF-8) or bytes. headers: a dict. A `text/...`
    media type without a charset is sent with `; charset=utf-8`.
    """

    media_type: str | None = None

    def __init__(self, content: Any = b"", status_code: int = 200,
                 headers: Mapping[str, str] | None = None, media_type: str | None = None) -> None:
        self.status_code = status_code
        self.headers = headers
        if media_type is not None:
            self.media_type = media_type
        self.body = self.render(content)

    def render(self, content: Any) -> bytes:
        if content is None:
            return b""
        if isinstance(content, bytes):
            return content
        if isinstance(content, str):
            return content.encode("utf-8")
        if isinstance(content, (bytearray, memoryview)):
            return bytes(content)
        raise TypeError(f"Response content must be str or bytes, not {type(content).__name__}")

    def set_cookie(self, key: str, value: str = "", max_age: int | None = None,
                   expires: Any = None, path: str | None = "/", domain: str | None = None,
                   secure: bool = False, httponly: bool = False,
                   samesite: str | None = "lax") -> None:
        """Adds a Set-Cookie field, formatted as Starlette formats it
        (http.cookies; expires: seconds from now, a datetime or a string)."""
        import http.cookies
        from email.utils import format_datetime

        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        jar[key] = value
        morsel = jar[key]
        if max_age is not None:
            morsel["max-age"] = max_age
        if expires is not None:
            import datetime
            morsel["expires"] = (format_datetime(expires, usegmt=True)
                                 if isinstance(expires, datetime.datetime) else expires)
        if path is not None:
            morsel["path"] = path
        if domain is not None:
            morsel["domain"] = domain
        if secure:
            morsel["secure"] = True
        if httponly:
            morsel["httponly"] = True
        if samesite is not None:
            if samesite.lower() not in ("strict", "lax", "none"):
                raise ValueError("samesite must be 'strict', 'lax' or 'none'")
            morsel["samesite"] = samesite
        headers = self.headers
        if not isinstance(headers, _ResponseHeaders):
            headers = self.headers = _ResponseHeaders(headers or {})
        headers.cookies.append(jar.output(header="").strip())

    def delete_cookie(self, key: str, path: str = "/", domain: str | None = None,
                      secure: bool = False, httponly: bool = False,
                      samesite: str | None = "lax") -> None:
        """A Set-Cookie that expires key now."""
        self.set_cookie(key, max_age=0, expires=0, path=path, domain=domain, secure=secure,
                        httponly=httponly, samesite=samesite)


class _ResponseHeaders(dict):  # type: ignore[type-arg]
    """A Response's headers once it sets a cookie: the other fields as a
    dict, and the Set-Cookie lines, which may repeat; items() gives them
    all, and it is what C writes from."""

    def __init__(self, fields: Mapping[str, str]) -> None:
        super().__init__(fields)
        self.cookies: list[str] = []

    def items(self) -> Any:
        return [*super().items(), *(("set-cookie", c) for c in self.cookies)]


class JSONResponse(Response):
    """A response whose content is encoded as JSON (in C, when sent)."""

    media_type = "application/json"

    def __init__(self, content: Any = None, status_code: int = 200,
                 headers: Mapping[str, str] | None = None, media_type: str | None = None) -> None:
        self.content = content
        super().__init__(b"", status_code, headers, media_type)


class ORJSONResponse(Response):
    """content encoded as JSON by orjson (FastAPI's, with its options:
    non-str keys and numpy values allowed); needs orjson installed
    (RuntimeError otherwise). Since FastAPI 0.165 serializes response
    models with pydantic's own encoder, it mostly matters for results
    without one."""

    media_type = "application/json"
    _json_kind = True  # documented as JSON in the OpenAPI schema

    def __init__(self, content: Any = None, status_code: int = 200,
                 headers: Mapping[str, str] | None = None, media_type: str | None = None) -> None:
        self.content = content
        super().__init__(content, status_code, headers, media_type)

    def render(self, content: Any) -> bytes:
        try:
            import orjson
        except ImportError:
            raise RuntimeError("orjson must be installed to use ORJSONResponse") from None
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


class HTMLResponse(Response):
    """content (str or bytes) as text/html; charset=utf-8."""

    media_type = "text/html"


class PlainTextResponse(Response):
    """content (str or bytes) as text/plain; charset=utf-8."""

    media_type = "text/plain"


class RedirectResponse(Response):
    """A redirect to url (307 by default: the method and body are kept),
    its Location percent-encoded as Starlette encodes it, no body."""

    def __init__(self, url: Any, status_code: int = 307,
                 headers: Mapping[str, str] | None = None) -> None:
        from urllib.parse import quote

        h = dict(headers or {})
        h["location"] = quote(str(url), safe=":/%#?=@[]!$&'()*+,;")
        super().__init__(b"", status_code, h)


class HTTPException(Exception):
    """Raise to answer with `status_code` and a JSON body `{"detail": detail}`;
    detail defaults to the status's reason phrase."""

    def __init__(self, status_code: int, detail: Any = None,
                 headers: Mapping[str, str] | None = None) -> None:
        if detail is None:
            try:
                detail = http.HTTPStatus(status_code).phrase
            except ValueError:
                detail = ""
        super().__init__(status_code, detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers

    def __str__(self) -> str:
        return f"{self.status_code}: {self.detail}"


# Lists a TestClient collects handlers' exceptions into while it waits for
# an answer (turbo/testclient.py): appended to from I/O threads; a list's
# append is atomic (the GIL, or its per-object lock when free-threaded).
_exception_watchers: list[list[BaseException]] = []


@contextlib.contextmanager
def _watch_exceptions(into: list[BaseException]) -> Iterator[None]:
    _exception_watchers.append(into)
    try:
        yield
    finally:
        _exception_watchers.remove(into)


def _log_exception(func, exc):
    name = getattr(func, "__qualname__", repr(func))
    log.error("handler %s raised", name, exc_info=(type(exc), exc, exc.__traceback__))
    for watcher in list(_exception_watchers):
        watcher.append(exc)


_turbo._set_hooks(Response, JSONResponse, HTTPException, Headers, _log_exception)
_turbo._set_json_fallback(_encode.fallback)

# ---- routes ----------------------------------------------------------------

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::([A-Za-z]+))?\}")
_CONVERTERS = {
    int: _turbo.CONV_INT,
    float: _turbo.CONV_FLOAT,
    bool: _turbo.CONV_BOOL,
    str: _turbo.CONV_STR,
    bytes: _turbo.CONV_BYTES,
}


def _translate(path: str):
    """FastAPI's pattern syntax to libturbo's: {name} stays, {name:path}
    becomes the catch-all {name...}; :str/:int/:float are accepted (the
    annotation decides the conversion). Returns (pattern, path names)."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"route path must start with '/': {path!r}")
    names = []

    def repl(m):
        name, conv = m.group(1), m.group(2)
        names.append(name)
        if conv is None or conv in ("str", "int", "float"):
            return "{" + name + "}"
        if conv == "path":
            return "{" + name + "...}"
        raise ValueError(f"unknown path converter :{conv} in {path!r}")

    return _PARAM.sub(repl, path), names


def _unwrap_optional(tp):
    """Optional[X] / X | None -> X."""
    args = typing.get_args(tp)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def _plan(func, path_names, websocket=False, request_view=None):
    """The conversion plan for func: one tuple per parameter, in order:
    (name, source, converter, default, has_default, keyword_only). A
    Request or WebSocket parameter gets the request (a WebSocket route's
    entry makes the WebSocket of it: streaming._entry); with request_view
    (a FastAPI app's view class, turbo/_request.py), a Request parameter
    of the handler's gets that view of it, made by C (its entry's
    "default")."""
    sig = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception:  # unresolvable string annotations: use them raw
        hints = {}
    plan = []
    for p in sig.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise TypeError(f"{func.__qualname__}: *args/**kwargs parameters are not supported")
        ann = hints.get(p.name, p.annotation)
        ann = _unwrap_optional(ann)
        has_default = p.default is not p.empty
        default = p.default if has_default else None
        kwonly = p.kind == p.KEYWORD_ONLY
        if (isinstance(ann, type) and issubclass(ann, (Request, WebSocket))) or (
                ann is p.empty and p.name == "websocket" and websocket):
            view = (request_view if not websocket and p.name != _bodies._REQUEST_PARAM
                    and issubclass(ann, Request) else None)
            plan.append((p.name, _turbo.SRC_REQUEST, _turbo.CONV_STR, view, view is not None,
                         kwonly))
            continue
        if ann is p.empty:
            conv = _turbo.CONV_STR
        elif ann in _CONVERTERS:
            conv = _CONVERTERS[ann]
        else:
            raise TypeError(
                f"{func.__qualname__}: parameter {p.name!r} has an unsupported annotation {ann!r} "
                "(use int, float, bool, str, bytes or Request)"
            )
        source = _turbo.SRC_PATH if p.name in path_names else _turbo.SRC_QUERY
        if source == _turbo.SRC_PATH and has_default:
            has_default, default = False, None  # a matched path always has it
        plan.append((p.name, source, conv, default, has_default, kwonly))
    return tuple(plan)


def _default_threads():
    # With a GIL, extra I/O threads only hand the GIL back and forth; scale
    # with workers (processes) instead. A free-threaded build runs handlers
    # truly in parallel, so one thread per CPU pays there.
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    return 1 if gil else (os.cpu_count() or 1)


class State:
    """`app.state`: attributes shared by the App's handlers. What the
    startup (lifespan, on_startup) sets while running on an event loop
    belongs to that loop, and handlers awaiting on that loop see it: a
    connection pool made there is used there. Set outside any loop (at
    import), an attribute is seen by every loop. Read outside any loop
    while the App has exactly one (the default: one I/O thread), the
    loop's value is seen."""

    def __init__(self) -> None:
        object.__setattr__(self, "_shared", {})
        object.__setattr__(self, "_per_loop", {})

    def _mine(self, create):
        loop = asyncio.events._get_running_loop()
        if loop is None:
            return self._shared
        d = self._per_loop.get(loop)
        if d is None and create:
            d = self._per_loop[loop] = {}
        return d

    def __getattr__(self, name: str) -> Any:
        d = self._mine(False)
        if d is not None and name in d:
            return d[name]
        if name in self._shared:
            return self._shared[name]
        if d is self._shared and len(self._per_loop) == 1:
            # Outside any loop (a def handler on a thread that has not run
            # a coroutine yet, a test): with one loop, there is no doubt
            # which loop's value is meant.
            (only,) = self._per_loop.values()
            if name in only:
                return only[name]
        raise AttributeError(f"app.state has no attribute {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        self._mine(True)[name] = value

    def __delattr__(self, name: str) -> None:
        d = self._mine(False)
        if d is None or name not in d:
            raise AttributeError(name)
        del d[name]

    def _forget(self, loop):
        self._per_loop.pop(loop, None)


# The header names forwarded_header takes, and libturbo's values for them
# (enum turbo_forwarded_header).
_FORWARDED_HEADERS = {"x-forwarded-for": 1, "forwarded": 2}

# What run() and the command line may set on an App for serving behind a
# load balancer (the App's attributes of the same names).
SERVING_OPTIONS = ("proxy_protocol", "forwarded_allow_ips", "forwarded_header", "health_path",
                   "metrics_path")


class _DependencyOverrides(dict):  # type: ignore[type-arg]
    """app.dependency_overrides: a dict whose every change re-makes the
    App's routes with the replacements (App._overrides_changed)."""

    def __init__(self, app: App) -> None:
        super().__init__()
        self._app = app

    def _changed(self) -> None:
        self._app._overrides_changed()

    def __setitem__(self, key: Any, value: Any) -> None:
        if not callable(value):
            raise TypeError(f"dependency_overrides[{key!r}] must be callable, not {value!r}")
        super().__setitem__(key, value)
        self._changed()

    def __delitem__(self, key: Any) -> None:
        super().__delitem__(key)
        self._changed()

    def clear(self) -> None:
        super().clear()
        self._changed()

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            if not callable(value):
                raise TypeError(f"dependency_overrides[{key!r}] must be callable, not {value!r}")
        super().update(*args, **kwargs)
        self._changed()

    def pop(self, key: Any, *default: Any) -> Any:
        value = super().pop(key, *default)
        self._changed()
        return value

    def popitem(self) -> Any:
        item = super().popitem()
        self._changed()
        return item

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return self[key]
        self[key] = default
        return default


class App:
    """An application: routes plus a libturbo server to serve them.

    lifespan: an async context manager factory, called with the App, as
    FastAPI spells it (an `@asynccontextmanager` function, or a bare async
    generator function): what comes before its `yield` runs before the
    server accepts, what comes after runs once it has stopped; a mapping
    it yields is merged into `app.state`. on_startup / on_shutdown: lists
    of functions (def or async def), run before / after the lifespan's.
    Both run on the event loop `async def` handlers await on, once per
    loop: one loop per I/O thread, so once per worker process with the
    default single I/O thread.

    access_log: None (off, the default), "-" for standard output, or a
    file path (appended to): one Common Log Format line per answer,
    written by libturbo's I/O threads in C (turbo_config_set_access_log),
    not through Python's logging.

    Behind a load balancer (docs/deployment.md): proxy_protocol, when
    True, makes every connection open with a PROXY protocol v1 or v2
    header (HAProxy's send-proxy / send-proxy-v2), whose client becomes
    the request's (Request.client, WSGI REMOTE_ADDR, ASGI client);
    a connection without one is closed. forwarded_allow_ips, a
    comma-separated list of addresses, networks ("10.0.0.0/8") or "*",
    names the proxies trusted to say who the client is in
    forwarded_header ("x-forwarded-for", the default, or "forwarded",
    RFC 7239). health_path: a path libturbo answers itself, 200 "ok"
    while serving and 503 once stopping, for the load balancer's health
    check; metrics_path: one answering the server's counters in the
    Prometheus text format (counting is off without it). These are the
    attributes `run()` and the command line set too.
    """

    proxy_protocol: bool = False
    forwarded_allow_ips: str | None = None
    forwarded_header: str = "x-forwarded-for"
    health_path: str | None = None
    metrics_path: str | None = None

    # FastAPI's rules for results (turbo.FastAPI): any return annotation is
    # the response model, a str or bytes result a JSON string.
    _fastapi_semantics = False

    # The class of the Request views a FastAPI app's code gets
    # (turbo/_request.py); None: the C Request itself, as App has it.
    _request_view: Any = None

    def __init__(self, server_name: str | None = "libturbo", *,
                 lifespan: Callable[[App], AbstractAsyncContextManager[Any]]
                 | Callable[[App], AsyncIterator[Any]] | None = None,
                 on_startup: Iterable[Callable[[], Any]] | None = None,
                 on_shutdown: Iterable[Callable[[], Any]] | None = None,
                 access_log: str | os.PathLike[str] | bool | None = None,
                 **limits: int) -> None:
        self._server_name = server_name
        self._limits = limits
        self.access_log = access_log
        # (method, libturbo pattern) -> (path, endpoint, plan, flags: 1 blocking, 2 stream_body)
        self._routes: dict[tuple[str, str], tuple[str, Callable[..., Any], Any, int]] = {}
        self._route_names: dict[str, str] = {}  # mount name -> path format (App.mount)
        # (method, pattern) -> what makes the route's callable again when
        # dependency_overrides change (add_route's build).
        self._builders: dict[tuple[str, str], Callable[[], Any]] = {}
        # FastAPI's app.dependency_overrides: {dependency: replacement}, for
        # tests; a change re-makes the routes (nothing per request).
        self.dependency_overrides: dict[Any, Any] = _DependencyOverrides(self)
        # What the OpenAPI schema documents: one Operation per add_route, in order.
        self._operations: list[_openapi.Operation] = []
        self._operations_version = 0  # moved on by every change of _operations
        # FastAPI's app.openapi_schema: the schema openapi() returns (and
        # builds when None); the one it built is made again once the routes
        # have changed (_openapi_built: that dict and the version it has).
        self.openapi_schema: dict[str, Any] | None = None
        self._openapi_built: tuple[int, dict[str, Any]] | None = None
        self._server: Any = None
        self._lock = threading.Lock()
        if inspect.isasyncgenfunction(lifespan):  # as Starlette, the bare generator too
            lifespan = contextlib.asynccontextmanager(lifespan)
        self._lifespan: Any = lifespan
        self._on_startup = list(on_startup or ())
        self._on_shutdown = list(on_shutdown or ())
        self._loops = _aio.Loops()
        self._started: list[list[Any]] = []  # (loop, lifespan context) whose startup ran
        self.state = State()
        # exception_handler / middleware("http") (turbo/_handlers.py): frozen
        # into _chain when serving starts; None while there are neither.
        self._exception_handlers: dict[Any, Callable[..., Any]] = {}
        self._http_middleware: list[Callable[..., Any]] = []
        self._chain: Any = None

    # -- exception handlers and middleware (FastAPI's)

    def _overrides_changed(self) -> None:
        """dependency_overrides changed: every route made again with them.
        While serving, each route is replaced in the server (a request
        arriving at that moment may find it missing: a 404)."""
        with self._lock:
            for key, build in self._builders.items():
                path, _old, _plan_old, flags = self._routes[key]
                called = build()
                plan = _plan(called, _translate(path)[1])
                self._routes[key] = (path, called, plan, flags)
                if self._server is not None:
                    self._server.remove_route(*key)
                    self._server.add_route(*key, *self._served(called, plan, flags),
                                           self._loops)

    def _not_serving(self, what: str) -> None:
        if self._server is not None:
            raise RuntimeError(f"cannot add {what} once the app is serving")

    def add_exception_handler(self, exc_class_or_status_code: type[BaseException] | int,
                              handler: Callable[..., Any]) -> None:
        """handler(request, exc) (def or async def) answers for an exception
        of that class (or a subclass: the nearest in its MRO wins) raised
        by a route or its dependencies, or for an HTTPException of that
        status code; RequestValidationError gets the 422s turbo would send;
        `500` or `Exception` answers what nothing else handles. Its return
        value is the response. Before serving starts (RuntimeError after)."""
        _handlers.check_key(exc_class_or_status_code)
        _handlers.check_handler(handler, "an exception handler")
        self._not_serving("an exception handler")
        self._exception_handlers[exc_class_or_status_code] = handler

    def exception_handler(self, exc_class_or_status_code: type[BaseException] | int
                          ) -> Callable[[_F], _F]:
        """@app.exception_handler(ExcClass or status code): add_exception_handler."""
        _handlers.check_key(exc_class_or_status_code)

        def deco(func: _F) -> _F:
            self.add_exception_handler(exc_class_or_status_code, func)
            return func
        return deco

    def middleware(self, middleware_type: str) -> Callable[[_F], _F]:
        """@app.middleware("http"): an `async def (request, call_next)` that
        runs around every route; `await call_next(request)` runs the rest
        and returns its Response (headers a dict, body bytes), which the
        middleware returns (changed or not) or replaces. The last added
        runs outermost. Before serving starts (RuntimeError after)."""
        if middleware_type != "http":
            raise ValueError(f'middleware type must be "http", not {middleware_type!r}')

        def deco(func: _F) -> _F:
            _handlers.check_handler(func, "a middleware")
            if not inspect.iscoroutinefunction(func):
                raise TypeError("an http middleware must be an async def (request, call_next)")
            self._not_serving("middleware")
            self._http_middleware.append(func)
            return func
        return deco

    def add_middleware(self, middleware_class: Any, **options: Any) -> None:
        """app.add_middleware(CORSMiddleware, GZipMiddleware, TrustedHostMiddleware
        or a BaseHTTPMiddleware subclass, **options):
        Starlette's, with its options, added to the http middleware (the
        last added runs outermost). TypeError for another class or an
        unknown option (turbo/_middleware.py, docs/fastapi-compat.md)."""
        mw = _middleware.make(middleware_class, options, self)
        self._not_serving("middleware")
        if mw is not None:
            self._http_middleware.append(mw)

    def _served(self, func: Any, plan: Any, flags: Any) -> tuple[Any, Any, Any]:
        """What the server runs for a route, its plan and flags: the route
        itself, or, once the app has handlers or middleware, the route
        inside them, on the loop (a blocking route's own call then goes to
        the loop's executor rather than the whole chain to the pool)."""
        if self._chain is None or isinstance(flags, bool):  # bool: a WebSocket route
            return func, plan, flags
        # 16: a path or query value C refuses goes through the chain too.
        return (self._chain.wrap(func, bool(flags & 1)), _handlers.plan_with_request(plan),
                (flags & ~1) | 16)

    def on_event(self, event: str) -> Callable[[_F], _F]:
        """@app.on_event("startup") / ("shutdown"): as on_startup /
        on_shutdown."""
        if event not in ("startup", "shutdown"):
            raise ValueError(f"unknown event {event!r}: 'startup' or 'shutdown'")

        def deco(func: _F) -> _F:
            (self._on_startup if event == "startup" else self._on_shutdown).append(func)
            return func

        return deco

    # -- declaring routes

    def add_route(self, path: str, endpoint: _F, methods: Iterable[str] | None = None,
                  blocking: bool | None = None, stream_body: bool = False,
                  status_code: int | None = None,
                  dependencies: Iterable[Any] | None = None,
                  response_model: Any = _routing.ANNOTATED,
                  response_model_exclude_none: bool = False,
                  response_model_exclude_unset: bool = False, *,
                  tags: list[str] | None = None, summary: str | None = None,
                  description: str | None = None, deprecated: bool | None = None,
                  include_in_schema: bool = True, name: str | None = None,
                  operation_id: str | None = None,
                  responses: dict[int | str, dict[str, Any]] | None = None,
                  response_description: str = "Successful Response",
                  response_class: type[Response] | None = None) -> _F:
        """Adds endpoint for path and methods (default ["GET"]); works while
        serving too. ValueError for a duplicate or malformed route.

        blocking=True runs the endpoint on the server's blocking pool, not
        on the I/O thread that read the request: for a handler that blocks
        (sqlite3, psycopg 2, requests, a long computation), so that the
        I/O thread goes on serving meanwhile. A full pool queue answers 503
        with Retry-After. Costs a hop to a pool thread and back: keep
        quick handlers inline. The default (None): inline on an App; on a
        FastAPI app a `def` endpoint is blocking, as FastAPI runs it in a
        threadpool (blocking=False keeps a quick one inline).

        stream_body=True calls the endpoint (an async def) as soon as the
        request's head has arrived, and its body comes through
        `request.stream()` as the client sends it, with backpressure:
        uploads of any size in bounded memory. `request.body` is then
        empty; a body the endpoint does not read is dropped (up to 1 MiB,
        else the connection closes after the answer).

        status_code (FastAPI's): the status of what the endpoint returns,
        unless it returns a Response; its result is then sent as JSON (none
        for 204, 304 and 1xx).

        response_model (FastAPI's): what the result is validated into and
        serialized through. By default the return annotation: on an App
        when it is a pydantic model (or Optional of one); on a FastAPI app
        any annotation but None or a Response class, as FastAPI takes it.
        None: no response model.

        tags, summary, description (default: the endpoint's docstring),
        deprecated, include_in_schema, name, operation_id, responses and
        response_description only document the route in the OpenAPI
        schema (FastAPI's options, turbo/_openapi.py): they are checked
        here and change nothing in how requests are served."""
        if not callable(endpoint):
            raise TypeError("endpoint must be callable")
        if inspect.iscoroutinefunction(endpoint) and blocking:
            raise TypeError("blocking=True is for def handlers, not async def")
        if stream_body and not inspect.iscoroutinefunction(endpoint):
            raise TypeError("stream_body=True needs an async def endpoint "
                            "(request.stream() is an async iterator)")
        methods = ["GET"] if methods is None else [m.upper() for m in methods]
        pattern, names = _translate(path)
        if status_code is not None and (type(status_code) is not int
                                        or not 100 <= status_code <= 599):
            raise ValueError(f"status_code must be an int in 100..599, not {status_code!r}")
        # endpoint itself unless it takes a body, header or cookie, or sets a status
        extra = [*getattr(self, "_dependencies", ()), *(dependencies or ())]
        if response_class is None:
            response_class = getattr(self, "_default_response_class", None)
        response_class = _bodies.check_response_class(response_class)
        fastapi = self._fastapi_semantics
        served, stream_item = endpoint, None
        if fastapi and _jsonl.is_generator(endpoint):
            # FastAPI's JSON Lines stream of what it yields (turbo/_jsonl.py)
            if response_class is not None or response_model is not _routing.ANNOTATED:
                raise TypeError("a generator endpoint with response_class= or response_model= "
                                "is not supported yet (FastAPI's JSON Lines stream is)")
            stream_item = _jsonl.item_type(endpoint)
            served = _jsonl.json_lines(endpoint, stream_item, status_code,
                                       response_model_exclude_none, response_model_exclude_unset)
            response_model, response_model_exclude_none, response_model_exclude_unset = \
                None, False, False
        response_model = _bodies.response_model_of(served, response_model, fastapi)
        shape = _bodies.response_shape(response_model, response_model_exclude_none,
                                       response_model_exclude_unset,
                                       python=response_class is not None)

        def build() -> Any:
            """What serves the route, its dependencies resolved through
            app.dependency_overrides as they are now."""
            with _bodies.overriding(self.dependency_overrides):
                if response_class is None:
                    return _bodies.adapt(served, Request, status_code, extra, shape,
                                         request_view=self._request_view)
                return _bodies.with_response_class(
                    _bodies.adapt(served, Request, None, extra, None, path_names=names,
                                  raw=True, request_view=self._request_view),
                    response_class, status_code, shape)

        called = build()
        plan = _plan(called, names, request_view=self._request_view)
        if blocking is None:
            # FastAPI runs a def endpoint in its threadpool, so a ported app's
            # blocking I/O (a sync database driver) must not hold up the I/O
            # thread: the pool, unless the endpoint's dependencies are async
            # (the adapted callable is then a coroutine, run on the loop).
            blocking = (fastapi and not stream_body and not _jsonl.is_generator(endpoint)
                        and not inspect.iscoroutinefunction(endpoint)
                        and not inspect.iscoroutinefunction(called))
        doc = _openapi.Operation(
            path, endpoint, methods, status_code=status_code, response_model=response_model,
            dependencies=extra, tags=tags, summary=summary, description=description,
            deprecated=deprecated, include_in_schema=include_in_schema, name=name,
            operation_id=operation_id, responses=responses,
            response_description=response_description, response_class=response_class,
            stream_item=stream_item)
        # Free-threaded CPython: the endpoint's constants made immortal,
        # else handlers on several I/O threads contend on their reference
        # counts (turbo/_immortal.py).
        immortalize_constants(endpoint)
        with self._lock:
            for m in methods:
                if (m, pattern) in self._routes:
                    raise ValueError(f"route already exists: {m} {path}")
            for m in methods:
                # 4: a str or bytes result is a JSON string, as FastAPI answers it
                flags = int(blocking) | (2 if stream_body else 0) | (4 if fastapi else 0)
                if self._server is not None:
                    self._server.add_route(m, pattern, *self._served(called, plan, flags),
                                           self._loops)
                self._routes[(m, pattern)] = (path, called, plan, flags)
                self._builders[(m, pattern)] = build
            self._operations.append(doc)
            self._operations_version += 1
        return endpoint

    def add_websocket_route(self, path: str, endpoint: _F) -> _F:
        """Adds a WebSocket endpoint for path: an `async def` whose parameter
        annotated `WebSocket` (or named `websocket`) gets the connection;
        path and query parameters are converted as for HTTP routes. It
        calls `await websocket.accept()` to upgrade; ending (or closing)
        before that refuses the handshake with 403."""
        if not inspect.iscoroutinefunction(endpoint):
            raise TypeError("a WebSocket endpoint must be an async def")
        pattern, names = _translate(path)
        plan = _plan(endpoint, names, websocket=True)
        immortalize_constants(endpoint)  # as add_route does
        slots = [i for i, p in enumerate(plan) if p[1] == _turbo.SRC_REQUEST]
        if len(slots) != 1:
            raise TypeError(f"{endpoint.__qualname__}: a WebSocket endpoint takes one WebSocket "
                            "parameter (annotated WebSocket, or named websocket)")
        index = sum(1 for p in plan[:slots[0]] if not p[5])
        entry = _entry(endpoint, index, plan[slots[0]][0] if plan[slots[0]][5] else None)
        with self._lock:
            if ("GET", pattern) in self._routes:
                raise ValueError(f"route already exists: GET {path}")
            if self._server is not None:
                self._server.add_route("GET", pattern, entry, plan, False, self._loops)
            self._routes[("GET", pattern)] = (path, entry, plan, False)
        return endpoint

    def websocket(self, path: str) -> Callable[[_F], _F]:
        """Decorator form of add_websocket_route."""

        def deco(func: _F) -> _F:
            return self.add_websocket_route(path, func)

        return deco

    def remove_route(self, path: str, methods: Iterable[str] | None = None) -> None:
        """Removes path's routes for methods (default: every method added
        for it); works while serving. LookupError when there is none."""
        pattern, _ = _translate(path)
        with self._lock:
            if methods is None:
                keys = [k for k in self._routes if k[1] == pattern]
            else:
                keys = [(m.upper(), pattern) for m in methods]
            missing = [k for k in keys if k not in self._routes]
            if not keys or missing:
                what = ", ".join(f"{m} {path}" for m, _ in missing) or path
                raise LookupError(f"no route {what}")
            for k in keys:
                if self._server is not None:
                    self._server.remove_route(*k)
                del self._routes[k]
                del self._builders[k]
            gone = {m for m, _ in keys}
            for doc in self._operations:
                if _translate(doc.path)[0] == pattern:
                    doc.methods = [m for m in doc.methods if m not in gone]
            self._operations = [d for d in self._operations if d.methods]
            self._operations_version += 1

    def route(self, path: str, methods: Iterable[str] | None = None,
              **options: Unpack[_routing.RouteOptions]) -> Callable[[_F], _F]:
        """Decorator form of add_route."""
        def deco(func: _F) -> _F:
            return self.add_route(path, func, methods, **options)

        return deco

    def api_route(self, path: str, methods: Iterable[str] | None = None,
                  **options: Unpack[_routing.RouteOptions]) -> Callable[[_F], _F]:
        """FastAPI's api_route: route with the methods given (GET when none)."""
        return self.route(path, methods, **options)

    def get(self, path: str, **options: Unpack[_routing.RouteOptions]) -> Callable[[_F], _F]:
        """route(path, ["GET"], ...)."""
        return self.route(path, ["GET"], **options)

    def post(self, path: str, **options: Unpack[_routing.RouteOptions]) -> Callable[[_F], _F]:
        """route(path, ["POST"], ...)."""
        return self.route(path, ["POST"], **options)

    def put(self, path: str, **options: Unpack[_routing.RouteOptions]) -> Callable[[_F], _F]:
        """route(path, ["PUT"], ...)."""
        return self.route(path, ["PUT"], **options)

    def patch(self, path: str, **options: Unpack[_routing.RouteOptions]) -> Callable[[_F], _F]:
        """route(path, ["PATCH"], ...)."""
        return self.route(path, ["PATCH"], **options)

    def delete(self, path: str, **options: Unpack[_routing.RouteOptions]) -> Callable[[_F], _F]:
        """route(path, ["DELETE"], ...)."""
        return self.route(path, ["DELETE"], **options)

    def mount(self, path: str, app: Any, name: str | None = None) -> None:
        """Serves a turbo.StaticFiles under path (Starlette's app.mount):
        one route path + "/{path:path}" (methods but GET and HEAD answer
        405) and path itself redirected to path + "/" (307, for the
        methods no route has there), not in the OpenAPI schema. name is recorded in
        self._route_names as name -> path + "/{path}". Mounting an App or
        an ASGI app raises TypeError (not supported yet)."""
        _static.mount(self, path, app, name)

    def include_router(self, router: Any, *, prefix: str = "",
                       tags: list[str] | None = None,
                       dependencies: Iterable[Any] | None = None,
                       default_response_class: type[Response] | None = None,
                       responses: dict[int | str, dict[str, Any]] | None = None,
                       deprecated: bool | None = None,
                       include_in_schema: bool = True) -> None:
        """Adds an APIRouter's routes, under prefix + the router's prefix
        (FastAPI's include_router). dependencies run before the router's
        and the route's own (after the app's); default_response_class is
        for routes that (and whose routers) give none; tags go before each
        route's own, responses under them; deprecated and
        include_in_schema=False apply to every route (documentation only,
        as in add_route)."""
        _routing._check_prefix(prefix)
        for path, endpoint, methods, options in router.routes(prefix):
            options = _routing.included(options, tags, responses, deprecated,
                                        include_in_schema, dependencies,
                                        default_response_class)
            self.add_route(path, endpoint, methods, **options)

    # -- serving

    def _attach(self, server):
        with self._lock:
            self._chain = (_handlers.Chain(self._exception_handlers, self._http_middleware,
                                           self._fastapi_semantics, self._request_view)
                           if self._exception_handlers or self._http_middleware else None)
            for (m, pattern), (_path, func, plan, flags) in self._routes.items():
                server.add_route(m, pattern, *self._served(func, plan, flags), self._loops)
            # CORSMiddleware answers preflights to every path a route has,
            # as Starlette's does before routing (turbo/_middleware.py).
            for pattern, func in _middleware.preflight_routes(self._http_middleware,
                                                              self._routes):
                plan = _plan(func, [])
                server.add_route("OPTIONS", pattern, *self._served(func, plan, 0), self._loops)
            if self._chain is not None:
                # Requests no route takes go through the handlers and
                # middleware as Starlette's router's HTTPException(404/405)
                # does; flag 8: _turbo._miss() gives the router's status
                # and Allow. An app without a chain keeps C's answers.
                server.set_fallback(self._chain.miss, _handlers.REQUEST_ONLY, 8, self._loops)
            self._server = server

    def configure_serving(self, **options: Any) -> None:
        """Sets the serving options (SERVING_OPTIONS) given; None leaves
        one as it is. ValueError for an unknown option or header name; a
        malformed forwarded_allow_ips is refused when the server is made."""
        for name, value in options.items():
            if name not in SERVING_OPTIONS:
                raise TypeError(f"unknown serving option {name!r}")
            if value is None:
                continue
            if name == "forwarded_header" and value not in _FORWARDED_HEADERS:
                raise ValueError("forwarded_header must be 'x-forwarded-for' or 'forwarded', "
                                 f"not {value!r}")
            setattr(self, name, value)

    def _make_server(self, threads=None, exclusive_port=False):
        """A server configured as this App says (server_name, limits), not
        yet listening. turbo-serve takes it over with detach()."""
        server = _turbo.Server(
            threads=_default_threads() if threads is None else threads,
            server_name=self._server_name,
            exclusive_port=exclusive_port,
            access_log_fd=self._access_log_fd(),
            proxy_protocol=bool(self.proxy_protocol),
            forwarded_allow_ips=self.forwarded_allow_ips or None,
            forwarded_header=_FORWARDED_HEADERS[self.forwarded_header],
            health_path=self.health_path or None,
            metrics_path=self.metrics_path or None,
            **self._limits,
        )
        server.use_json_errors()  # 404/405 as FastAPI answers them
        return server

    def _access_log_fd(self) -> int:
        """The descriptor libturbo writes access log lines to: -1 (off:
        None or False), 1 for "-" (standard output), else the path opened
        for appending (kept open for the process's life: a server may be
        handed to turbo-serve, which outlives this call)."""
        target = self.access_log
        if target is None or target is False:
            return -1
        if target == "-" or target is True:
            sys.stdout.flush()
            return 1
        fd = os.open(os.fspath(target), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                     0o644)
        self._log_fds = getattr(self, "_log_fds", []) + [fd]
        return fd

    def _new_server(self, host, port, threads, fd=None, activation=False, exclusive_port=False):
        """A configured server listening on fd (an inherited listening
        socket), else on the socket systemd passed (when activation is on
        and one was), else on host:port. Returns (server, where)."""
        server = self._make_server(threads, exclusive_port)
        if fd is not None:
            server.listen_fd(fd)
            where = f"inherited fd {fd}"
        elif activation and _listen_activated(server):
            where = "inherited fd 3"
        else:
            server.listen(host, port)
            shown = f"[{host}]" if host and ":" in host else (host or "0.0.0.0")
            where = f"http://{shown}:{server.port}/"
        self._attach(server)
        return server, where

    @property
    def port(self) -> int | None:
        return self._server.port if self._server is not None else None

    def stats(self) -> dict[str, Any]:
        return self._server.stats() if self._server is not None else {}

    def start(self, host: str = "127.0.0.1", port: int = 0, threads: int | None = None) -> int:
        """Starts serving on background I/O threads and returns (tests,
        embedding). `port` then gives the bound port."""
        if self._server is not None:
            raise RuntimeError("already serving")
        server, _ = self._new_server(host, port, threads)
        self._startup_or_close(server)
        server.start()
        return server.port

    def stop(self) -> None:
        """Stops gracefully: in-flight requests are answered, then the
        threads are joined; then the shutdown runs (lifespan, on_shutdown)
        and the event loops close."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
        self._shutdown()

    # -- startup and shutdown

    def _startup_or_close(self, server):
        try:
            self._startup(server.threads)
        except BaseException:
            self._server = None
            server.close()
            raise

    def _startup(self, nloops):
        """Runs the startup (on_startup, then the lifespan up to its yield)
        on nloops new event loops, one per I/O thread, which the I/O
        threads then adopt. Nothing to do for an App without a startup or
        shutdown: its I/O threads make their loops at their first
        coroutine. What the startup raises propagates, after the shutdown
        of the loops whose startup had completed."""
        if self._lifespan is None and not self._on_startup and not self._on_shutdown:
            return
        try:
            for _ in range(max(1, nloops)):
                loop = self._loops.new()
                entry = [loop, None]
                loop.run_until_complete(self._startup_on(entry))
                self._started.append(entry)
                self._loops.ready.append(loop)
        except BaseException:
            self._shutdown()
            raise

    async def _startup_on(self, entry):
        for func in self._on_startup:
            r = func()
            if inspect.isawaitable(r):
                await r
        if self._lifespan is not None:
            cm = self._lifespan(self)
            state = await cm.__aenter__()
            entry[1] = cm
            if state is not None:
                for k, v in dict(state).items():
                    setattr(self.state, k, v)

    async def _shutdown_on(self, cm):
        try:
            if cm is not None:
                await cm.__aexit__(None, None, None)
        finally:
            for func in self._on_shutdown:
                try:
                    r = func()
                    if inspect.isawaitable(r):
                        await r
                except Exception:  # noqa: BLE001 - the others still run
                    log.exception("shutdown function %s raised",
                                  getattr(func, "__qualname__", func))

    def _shutdown(self):
        """Once no I/O thread runs (stopped, or never started): the
        lifespan's exit and on_shutdown on each loop whose startup ran;
        then on every loop, tasks still pending are cancelled and awaited,
        and the loop is closed."""
        started, self._started = self._started, []
        cms = {id(loop): cm for loop, cm in started}
        for loop in self._loops.take_all():
            loop._turbo_release()
            try:
                if id(loop) in cms:
                    try:
                        loop.run_until_complete(self._shutdown_on(cms[id(loop)]))
                    except Exception:  # noqa: BLE001
                        log.exception("the lifespan's shutdown raised")
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                self.state._forget(loop)

    def run(self, host: str = "127.0.0.1", port: int = 8000, threads: int | None = None,
            workers: int = 1, announce: bool = True, fd: int | None = None,
            reuse_port: bool = False, **serving: Any) -> None:
        """Serves until SIGINT/SIGTERM.

        serving: proxy_protocol, forwarded_allow_ips, forwarded_header,
        health_path, metrics_path, set on this App before it serves (see
        the class's documentation).

        Where: fd, an inherited listening socket, if given; else the socket
        of systemd socket activation (LISTEN_PID/LISTEN_FDS), if this
        process was passed one; else host:port, refused (OSError
        EADDRINUSE) when another process holds it, unless reuse_port
        (SO_REUSEPORT: share it, for a hand-over between two instances).

        workers > 1 forks that many processes, which all serve one socket,
        under this process as their supervisor (turbo.workers): a worker
        that dies is replaced, SIGHUP replaces them one at a time (with
        this same App: it is already loaded; `python -m turbo` reloads the
        code), and a worker whose parent dies stops. SystemExit(1 or 2)
        when the first workers could not start."""
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.configure_serving(**serving)
        if workers > 1:
            from .workers import serve

            def say_serving(where, n):
                if announce:
                    print(f"turbo: serving on {where} ({workers} worker(s), "
                          f"{n} I/O thread(s) each)", flush=True)

            status = serve(lambda: self, host=host, port=port, fd=fd, workers=workers,
                           threads=threads, reuse_port=reuse_port, prog="turbo",
                           announce=say_serving)
            if status != 0:
                raise SystemExit(status)
            return
        server, where = self._new_server(host, port, threads, fd=fd, activation=True,
                                         exclusive_port=not reuse_port)
        self._startup_or_close(server)
        def say_serving():  # once SIGTERM/SIGINT stop gracefully (Server.run)
            print(f"turbo: serving on {where} "
                  f"({workers} worker(s), {server.threads} I/O thread(s) each)", flush=True)

        main = threading.current_thread() is threading.main_thread()
        try:
            server.run(main, say_serving if announce else None)
        finally:
            self._server = None
            server.close()
            self._shutdown()


class FastAPI(App):
    """An App under FastAPI's name, so that porting a FastAPI app means
    changing its import lines (docs/fastapi-compat.md). lifespan,
    on_startup and on_shutdown are App's.

    Its OpenAPI schema (turbo/_openapi.py) is served at openapi_url,
    built on the first request for it and again after routes change;
    title, version, description, summary, terms_of_service, contact,
    license_info, openapi_tags and servers fill its info, tags and
    servers. docs_url serves Swagger UI, redoc_url ReDoc, their scripts
    from the installed packages that ship them (flask-swagger-ui,
    flask-openapi3-redoc: under <docs_url>/static/ and
    <redoc_url>/static/), else from the CDN FastAPI uses. None turns each
    off (no openapi_url: no pages either). These routes are not in the
    schema. Any other FastAPI constructor option is not supported yet and
    raises TypeError here rather than being ignored."""

    _fastapi_semantics = True

    def __init__(self, *, title: str = "FastAPI", version: str = "0.1.0",
                 description: str = "", summary: str | None = None,
                 terms_of_service: str | None = None,
                 contact: dict[str, Any] | None = None,
                 license_info: dict[str, Any] | None = None,
                 openapi_url: str | None = "/openapi.json",
                 openapi_tags: list[dict[str, Any]] | None = None,
                 servers: list[dict[str, Any]] | None = None,
                 docs_url: str | None = "/docs",
                 redoc_url: str | None = "/redoc",
                 lifespan: Callable[[App], AbstractAsyncContextManager[Any]]
                 | Callable[[App], AsyncIterator[Any]] | None = None,
                 on_startup: Iterable[Callable[[], Any]] | None = None,
                 on_shutdown: Iterable[Callable[[], Any]] | None = None,
                 dependencies: Iterable[Any] | None = None,
                 exception_handlers: dict[Any, Callable[..., Any]] | None = None,
                 default_response_class: type[Response] | None = None,
                 **unsupported: Any) -> None:
        if unsupported:
            raise TypeError("FastAPI(): option(s) not supported by turbo yet: "
                            + ", ".join(sorted(unsupported)) + " (docs/fastapi-compat.md)")
        super().__init__(lifespan=lifespan, on_startup=on_startup, on_shutdown=on_shutdown)
        # Its handlers, dependencies, middleware and exception handlers get
        # Starlette's Request API (turbo/_request.py).
        self._request_view = _request.view_class(self)
        self._dependencies = list(dependencies or [])  # solved before every route's own
        # response_class of every route that names none (FastAPI's).
        self._default_response_class = _bodies.check_response_class(default_response_class)
        for key, handler in (exception_handlers or {}).items():
            self.add_exception_handler(key, handler)
        self.title = title
        self.version = version
        self.description = description
        self.summary = summary
        self.terms_of_service = terms_of_service
        self.contact = contact
        self.license_info = license_info
        self.openapi_tags = openapi_tags
        self.servers = servers
        self.openapi_url = openapi_url
        self.docs_url = docs_url
        self.redoc_url = redoc_url
        self._add_docs_routes()

    def openapi(self) -> dict[str, Any]:
        """The app's OpenAPI schema, as FastAPI's app.openapi(): built on
        the first call and kept in `app.openapi_schema` (so changes made to
        the dict it returns are served), made again when routes have been
        added or removed since. As in FastAPI, `app.openapi = func` makes
        openapi_url serve what func returns, and `app.openapi_schema` set
        by the app is served as it is."""
        with self._lock:
            version, operations = self._operations_version, list(self._operations)
        built = self._openapi_built
        current = self.openapi_schema
        if current is None or (built is not None and built[1] is current and built[0] != version):
            current = _openapi.document(self, operations)
            self._openapi_built = (version, current)
            self.openapi_schema = current
        return current

    @property
    def routes(self) -> list[Any]:
        """The routes as documented (FastAPI's app.routes, for
        get_openapi(routes=app.routes)): each with path, methods, name,
        endpoint, tags, summary..."""
        with self._lock:
            return list(self._operations)

    def _add_docs_routes(self) -> None:
        hidden: dict[str, Any] = {"include_in_schema": False, "dependencies": (),
                                  "blocking": False}
        saved, self._dependencies = self._dependencies, []  # the app's are not theirs
        try:
            if not self.openapi_url:
                return
            openapi_url = self.openapi_url

            def openapi() -> Response:
                # `app.openapi = my_schema` is served, as in FastAPI; written
                # as Starlette's JSONResponse writes it (UTF-8, no spaces).
                custom = self.__dict__.get("openapi")
                schema = custom() if custom is not None else self.openapi()
                return Response(json.dumps(schema, ensure_ascii=False, allow_nan=False,
                                           separators=(",", ":")).encode("utf-8"),
                                media_type="application/json")

            self.add_route(openapi_url, openapi, **hidden)
            if self.docs_url:
                js, css = self._assets("swagger", self.docs_url, _openapi.SWAGGER_CDN)
                self.add_route(self.docs_url, _page_handler("swagger_ui_html", _openapi.swagger_html(
                    f"{self.title} - Swagger UI", openapi_url, js, css)), **hidden)
            if self.redoc_url:
                (js,) = self._assets("redoc", self.redoc_url, (_openapi.REDOC_CDN,))
                self.add_route(self.redoc_url, _page_handler("redoc_html", _openapi.redoc_html(
                    f"{self.title} - ReDoc", openapi_url, js)), **hidden)
        finally:
            self._dependencies = saved

    def _assets(self, kind: str, page_url: str, cdn: tuple[str, ...]) -> tuple[str, ...]:
        """The URLs of kind's files: routes under page_url/static/ serving
        them from the installed package, or the CDN's."""
        directory = _openapi.asset_dir(kind)
        if directory is None:
            return cdn
        urls = []
        for name, media_type in _openapi.asset_files(kind).items():
            url = page_url.rstrip("/") + "/static/" + name
            urls.append(url)
            asset = _asset_handler(os.path.join(directory, name), media_type)
            self.add_route(url, asset, include_in_schema=False)
        return tuple(urls)


def _page_handler(name: str, page: str) -> Callable[[], HTMLResponse]:
    """A handler (of no parameters) answering page as HTML."""
    body = page.encode("utf-8")

    def handler() -> HTMLResponse:
        return HTMLResponse(body)

    handler.__name__ = handler.__qualname__ = name
    return handler


def _asset_handler(path: str, media_type: str) -> Callable[[], Response]:
    """A handler (of no parameters) answering the file at path, read at
    its first request."""
    cache: list[bytes] = []

    def docs_asset() -> Response:
        if not cache:
            with open(path, "rb") as f:
                cache.append(f.read())
        return Response(cache[0], media_type=media_type,
                        headers={"cache-control": "public, max-age=86400"})

    return docs_asset


def _listen_activated(server):
    """Serves the socket systemd passed, if any. The library removes the
    LISTEN_* variables from the process environment; os.environ, copied at
    start-up, is brought in line so that subprocesses do not see them."""
    try:
        return server.listen_activated()
    finally:
        if os.environ.get("LISTEN_PID") == str(os.getpid()):
            for k in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
                os.environ.pop(k, None)


def mount(app: App, server_capsule: object) -> None:
    """Registers app's routes on a turbo_server a C program created (a
    capsule named "turbo.server"); the C program serves them beside its
    own routes. Used by turbo-serve. Runs the App's startup (lifespan,
    on_startup); the program calls app._shutdown() once the server has
    stopped."""
    server = _turbo.Server.from_capsule(server_capsule)
    app._attach(server)
    try:
        app._startup(server.threads)
    except BaseException:
        app._server = None
        raise


from . import streaming as _streaming  # noqa: E402 - it builds on Response above
from .streaming import (  # noqa: E402
    EventSourceResponse,
    ServerSentEvent,
    StreamingResponse,
    WebSocket,
    WebSocketDisconnect,
    WebSocketState,
)
from .streaming import _entry  # noqa: E402
from . import _body  # noqa: E402 - request.stream()'s generator, registered at import
from ._body import ClientDisconnect  # noqa: E402
from ._files import FileResponse  # noqa: E402
from ._static import StaticFiles  # noqa: E402
from . import _static  # noqa: E402
from . import _bodies  # noqa: E402 - after Response, which it uses
from . import _handlers  # noqa: E402
from ._handlers import RequestValidationError  # noqa: E402
from ._security import (  # noqa: E402
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    HTTPDigest,
    OAuth2AuthorizationCodeBearer,
    OAuth2PasswordBearer,
    OpenIdConnect,
    Security,
    SecurityScopes,
)
from . import _middleware  # noqa: E402
from ._middleware import (  # noqa: E402
    BaseHTTPMiddleware, CORSMiddleware, GZipMiddleware, TrustedHostMiddleware)
from ._bodies import BackgroundTasks, Body, Cookie, Depends, Header, Path, Query  # noqa: E402
from ._forms import File, Form, UploadFile  # noqa: E402 - after _bodies, which it extends
from ._routing import APIRouter  # noqa: E402
from ._encode import jsonable_encoder  # noqa: E402
from . import _jsonl  # noqa: E402
from ._openapi import get_openapi  # noqa: E402
from . import status  # noqa: E402 - FastAPI's `from fastapi import status`

if typing.TYPE_CHECKING:
    from .templating import Jinja2Templates
    from .testclient import TestClient


def __getattr__(name: str) -> Any:
    # TestClient imports httpx, Jinja2Templates jinja2: each only when
    # asked for (so neither is in __all__).
    if name == "TestClient":
        from .testclient import TestClient
        return TestClient
    if name == "Jinja2Templates":
        from .templating import Jinja2Templates
        return Jinja2Templates
    raise AttributeError(f"module 'turbo' has no attribute {name!r}")

# The package's own code runs on the request path too (Headers, the
# hooks, the stream driver; the adapters' modules do the same for
# themselves).
immortalize_constants(sys.modules[__name__], _aio, _streaming, _body)
