"""Starlette's middleware classes for `app.add_middleware`: CORSMiddleware,
GZipMiddleware and TrustedHostMiddleware, with Starlette's options and answers.

Everything an option decides (the preflight's headers, the simple
requests' headers, the host patterns) is computed once, when
add_middleware is called; each becomes one `(request, call_next)`
middleware in the App's http middleware chain (turbo/_handlers.py), so it
nests with `@app.middleware("http")` as Starlette nests them: the last
added runs outermost. Like that chain, they see every request, 404/405
(and so a preflight to a path with no route) included.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

_ALL_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY")
_SAFELISTED = {"Accept", "Accept-Language", "Content-Language", "Content-Type"}
_PREFLIGHT_VARY = ("Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
                   "Access-Control-Request-Private-Network")


class CORSMiddleware:
    """Starlette's CORSMiddleware, for app.add_middleware (options as
    Starlette's)."""

    _options = ("allow_origins", "allow_methods", "allow_headers", "allow_credentials",
                "allow_origin_regex", "allow_private_network", "expose_headers", "max_age")


class GZipMiddleware:
    """Starlette's GZipMiddleware, for app.add_middleware."""

    _options = ("minimum_size", "compresslevel", "exclude_content_types")


class TrustedHostMiddleware:
    """Starlette's TrustedHostMiddleware, for app.add_middleware."""

    _options = ("allowed_hosts", "www_redirect")


def _header_key(headers: dict[str, str], name: str) -> str | None:
    low = name.lower()
    for k in headers:
        if k.lower() == low:
            return k
    return None


def _set(headers: dict[str, str], name: str, value: str) -> None:
    k = _header_key(headers, name)
    if k is not None and k != name:
        del headers[k]
    headers[name] = value


def _add_vary(headers: dict[str, str], value: str) -> None:
    k = _header_key(headers, "Vary")
    old = headers.pop(k) if k is not None else None
    headers["Vary"] = f"{old}, {value}" if old else value


def _text(body: str, status: int, headers: dict[str, str]) -> Any:
    from . import PlainTextResponse
    return PlainTextResponse(body, status_code=status, headers=headers)


def _cors(allow_origins: Any = (), allow_methods: Any = ("GET",), allow_headers: Any = (),
          allow_credentials: bool = False, allow_origin_regex: str | None = None,
          allow_private_network: bool = False, expose_headers: Any = (),
          max_age: int = 600) -> Callable[..., Any]:
    if "*" in allow_methods:
        allow_methods = _ALL_METHODS
    methods = set(allow_methods)
    regex = re.compile(allow_origin_regex) if allow_origin_regex is not None else None
    origins = set(allow_origins)
    all_origins = "*" in origins
    all_headers = "*" in allow_headers
    explicit = not all_origins or allow_credentials
    simple: dict[str, str] = {}
    if all_origins:
        simple["Access-Control-Allow-Origin"] = "*"
    if allow_credentials:
        simple["Access-Control-Allow-Credentials"] = "true"
    if expose_headers:
        simple["Access-Control-Expose-Headers"] = ", ".join(expose_headers)
    preflight: dict[str, str] = {"Vary": _PREFLIGHT_VARY}
    if not explicit:
        preflight["Access-Control-Allow-Origin"] = "*"
    preflight["Access-Control-Allow-Methods"] = ", ".join(allow_methods)
    preflight["Access-Control-Max-Age"] = str(max_age)
    listed = sorted(_SAFELISTED | set(allow_headers))
    if listed and not all_headers:
        preflight["Access-Control-Allow-Headers"] = ", ".join(listed)
    if allow_credentials:
        preflight["Access-Control-Allow-Credentials"] = "true"
    allowed_headers = {h.lower() for h in listed}

    def allowed(origin: str) -> bool:
        return (all_origins or (regex is not None and regex.fullmatch(origin) is not None)
                or origin in origins)

    def answer_preflight(rh: Any, origin: str) -> Any:
        headers = dict(preflight)
        failures = []
        if allowed(origin):
            if explicit:
                headers["Access-Control-Allow-Origin"] = origin
        else:
            failures.append("origin")
        if rh.get("access-control-request-method") not in methods:
            failures.append("method")
        requested = rh.get("access-control-request-headers")
        if all_headers and requested is not None:
            headers["Access-Control-Allow-Headers"] = requested
        elif requested is not None:
            if any(h.strip() not in allowed_headers for h in requested.lower().split(",")):
                failures.append("headers")
        if rh.get("access-control-request-private-network") is not None:
            if allow_private_network:
                headers["Access-Control-Allow-Private-Network"] = "true"
            else:
                failures.append("private-network")
        if failures:
            return _text("Disallowed CORS " + ", ".join(failures), 400, headers)
        return _text("OK", 200, headers)

    async def cors(request: Any, call_next: Any) -> Any:
        origin = request._header("origin")  # one header: no mapping of them all made
        if (origin is not None and request.method == "OPTIONS"
                and request._header("access-control-request-method") is not None):
            return answer_preflight(request.headers, origin)
        response = await call_next(request)
        headers = response.headers
        if origin is not None:
            for k, v in simple.items():
                _set(headers, k, v)
            if (all_origins and allow_credentials) or (not all_origins and allowed(origin)):
                _set(headers, "Access-Control-Allow-Origin", origin)
        _add_vary(headers, "Origin")  # Starlette adds it whether or not there is an Origin
        return response
    cors._turbo_cors = True  # type: ignore[attr-defined]
    return cors


def _trusted_host(allowed_hosts: Any = None,
                  www_redirect: bool = True) -> Callable[..., Any] | None:
    if allowed_hosts is None:
        allowed_hosts = ["*"]
    for pattern in allowed_hosts:
        if "*" in pattern[1:] or (pattern.startswith("*") and pattern != "*"
                                  and not pattern.startswith("*.")):
            raise ValueError("TrustedHostMiddleware: domain wildcard patterns must be like "
                             f"'*.example.com', not {pattern!r}")
    if "*" in allowed_hosts:
        return None  # every host: nothing to do per request
    patterns = [p.lower() for p in allowed_hosts]

    async def trusted_host(request: Any, call_next: Any) -> Any:
        host_header = request._header("host")
        if not host_header:
            return _text("Invalid host header", 400, {})
        host = _host_of(host_header).lower()
        redirect = False
        for pattern in patterns:
            if host == pattern or (pattern.startswith("*") and host.endswith(pattern[1:])):
                return await call_next(request)
            if "www." + host == pattern:
                redirect = True
        if redirect and www_redirect:
            from . import RedirectResponse
            query = request.query_string
            url = f"http://www.{host_header}{request.path}" + (f"?{query}" if query else "")
            return RedirectResponse(url)
        return _text("Invalid host header", 400, {})
    return trusted_host


_GZIP_EXCLUDED = ("application/grpc", "application/gzip", "application/x-gzip",
                  "application/zip", "audio/*", "font/woff", "font/woff2", "image/avif",
                  "image/gif", "image/jpeg", "image/png", "image/webp", "text/event-stream",
                  "video/*")


def _gzip(minimum_size: int = 500, compresslevel: int = 9,
          exclude_content_types: Any = _GZIP_EXCLUDED) -> Callable[..., Any]:
    import zlib
    if not isinstance(compresslevel, int) or not -1 <= compresslevel <= 9:
        raise ValueError(f"GZipMiddleware: compresslevel must be -1..9, not {compresslevel!r}")
    excluded = {t.partition(";")[0].strip().lower() for t in exclude_content_types}

    async def gzip(request: Any, call_next: Any) -> Any:
        response = await call_next(request)
        body = getattr(response, "body", None)
        if not isinstance(body, bytes):  # a streamed response: sent as it is
            return response
        headers = response.headers
        if (_header_key(headers, "content-encoding") is not None
                or response.status_code == 206 or len(body) < minimum_size):
            return response
        ct = _header_key(headers, "content-type")
        media = (headers[ct] if ct is not None else (response.media_type or ""))
        media = media.partition(";")[0].strip().lower()
        kinds = {media, media.partition("/")[0] + "/*"}
        if media.startswith("application/grpc+"):
            kinds.add("application/grpc")
        if not kinds.isdisjoint(excluded):
            return response
        _add_vary(headers, "Accept-Encoding")
        if "gzip" in (request._header("accept-encoding") or ""):
            c = zlib.compressobj(compresslevel, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
            response.body = c.compress(body) + c.flush()
            _set(headers, "Content-Encoding", "gzip")
        return response
    return gzip


def _host_of(value: str) -> str:
    if value.startswith("["):
        return value[:value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if ":" in value else value


def preflight_routes(middleware: list[Any], routes: dict[Any, Any]) -> list[Any]:
    """(pattern, endpoint) for the OPTIONS routes an app with CORSMiddleware
    adds where it has none, so that its preflights reach the middleware;
    another OPTIONS request there answers 405, as it would without them."""
    if not any(getattr(mw, "_turbo_cors", False) for mw in middleware):
        return []
    methods: dict[str, list[str]] = {}
    for (m, pattern) in routes:
        methods.setdefault(pattern, []).append(m)
    out = []
    for pattern, ms in methods.items():
        if "OPTIONS" in ms:
            continue

        def not_allowed(allow: str = ", ".join(ms)) -> Any:
            from . import JSONResponse
            return JSONResponse({"detail": "Method Not Allowed"}, 405, {"Allow": allow})
        out.append((pattern, not_allowed))
    return out


_MAKERS: dict[type, Callable[..., Any]] = {CORSMiddleware: _cors, GZipMiddleware: _gzip,
                                           TrustedHostMiddleware: _trusted_host}


class BaseHTTPMiddleware:
    """Starlette's BaseHTTPMiddleware: a subclass's `async def
    dispatch(self, request, call_next)` (or the `dispatch=` given) runs as
    an http middleware; `app.add_middleware(Subclass, **kwargs)` makes
    the instance with Subclass(app, **kwargs), as Starlette does."""

    def __init__(self, app: Any = None, dispatch: Callable[..., Any] | None = None) -> None:
        self.app = app
        self.dispatch_func = self.dispatch if dispatch is None else dispatch

    async def dispatch(self, request: Any, call_next: Callable[..., Any]) -> Any:
        raise NotImplementedError("a BaseHTTPMiddleware subclass defines dispatch(), "
                                  "or is given dispatch=")


def make(middleware_class: Any, options: dict[str, Any], app: Any = None
         ) -> Callable[..., Any] | None:
    """The (request, call_next) middleware add_middleware adds, or None
    when its options leave nothing to do per request."""
    if isinstance(middleware_class, type) and issubclass(middleware_class, BaseHTTPMiddleware):
        dispatch = middleware_class(app, **options).dispatch_func
        if not inspect.iscoroutinefunction(dispatch):
            raise TypeError(f"{middleware_class.__name__}: dispatch must be an async def "
                            "(request, call_next)")
        return dispatch
    maker = _MAKERS.get(middleware_class)
    if maker is None:
        name = getattr(middleware_class, "__name__", repr(middleware_class))
        raise TypeError(f"add_middleware({name}): turbo supports CORSMiddleware, "
                        "GZipMiddleware, TrustedHostMiddleware and BaseHTTPMiddleware "
                        "subclasses (from turbo); "
                        "for other middleware use "
                        '@app.middleware("http") (docs/fastapi-compat.md)')
    for name in options:
        if name not in middleware_class._options:
            raise TypeError(f"{middleware_class.__name__}: unknown option {name!r} "
                            f"(it takes {', '.join(middleware_class._options)})")
    return maker(**options)
