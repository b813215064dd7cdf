"""Exception handlers and `@app.middleware("http")` (FastAPI's, which are
Starlette's): what an App serves when it has either.

An App with neither serves its routes' callables as they are, so this
module costs them nothing. Once it has one, every HTTP route is served
through `chain`, decided when the server starts (handlers and middleware
are refused once it serves, as Starlette refuses them): the route's plan
gains one Request argument, and the route's callable runs inside, in the
order Starlette nests them:

    the 500 handler (`500` or `Exception`), else the plain 500
      each http middleware, the last registered outermost
        the handlers for HTTPException (by status code, then class),
        RequestValidationError and other exception classes (by the
        exception's MRO), with FastAPI's defaults for the first two
          the route

A middleware's `call_next(request)` returns the route's answer as a
Response (a dict or list result is encoded to its JSON bytes first, so
the middleware can read and change `response.body` and
`response.headers`, a dict). Requests no route takes go through the
chain too (Chain.miss, the server's fallback): the router's 404 or 405
(with its Allow) raised as the HTTPException Starlette's router raises.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable
from typing import Any

from . import HTTPException, JSONResponse, Response, _turbo

_REQUEST_ARG = "_turbo_app_request"


class RequestValidationError(Exception):
    """A request's parameters or body refused: FastAPI's exception, which a
    handler registered for it receives instead of the 422 being sent.
    errors(): the detail list FastAPI's 422 holds; body: the request's
    body as read (None when none was)."""

    def __init__(self, errors: Any, *, body: Any = None) -> None:
        super().__init__(errors)
        self._errors = list(errors)
        self.body = body

    def errors(self) -> list[Any]:
        return self._errors


def check_key(key: Any) -> None:
    if isinstance(key, bool) or not (isinstance(key, int) or
                                     (isinstance(key, type) and issubclass(key, BaseException))):
        raise TypeError("exception_handler takes an exception class or an HTTP status code, "
                        f"not {key!r}")
    if isinstance(key, int) and not 100 <= key <= 599:
        raise ValueError(f"exception_handler: status code {key} is not in 100..599")


def check_handler(handler: Any, what: str) -> None:
    if not callable(handler):
        raise TypeError(f"{what} must be callable, not {handler!r}")


def _as_response(result: Any, json_strings: bool) -> Any:
    """What a route returned, as the Response a middleware sees: its body
    bytes made (a JSONResponse's content or a dict/list result encoded as
    C would send it; a str or bytes too with json_strings, a FastAPI
    app's rule), its headers a dict."""
    if isinstance(result, Response):
        if isinstance(result, JSONResponse) and not result.body:
            result = Response(_turbo._json_dumps_response(result.content), result.status_code,
                              result.headers, media_type=result.media_type)
    elif json_strings and isinstance(result, (str, bytes)):
        result = Response(_turbo._json_dumps_response(result), media_type="application/json")
    elif isinstance(result, str):
        result = Response(result, media_type="text/plain")
    elif isinstance(result, (bytes, bytearray, memoryview)):
        result = Response(bytes(result), media_type="application/octet-stream")
    else:
        result = Response(_turbo._json_dumps_response(result), media_type="application/json")
    if not isinstance(result.headers, dict):
        result.headers = dict(result.headers or {})
    return result


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _http_exception_response(exc: HTTPException) -> Response:
    if exc.status_code < 200 or exc.status_code in (204, 304):
        return Response(b"", exc.status_code, dict(exc.headers or {}))
    return Response(_turbo._json_dumps_response({"detail": exc.detail}), exc.status_code,
                    dict(exc.headers or {}), media_type="application/json")


class Chain:
    """An App's handlers and middleware, frozen when it starts serving."""

    def __init__(self, handlers: dict[Any, Callable[..., Any]],
                 middleware: list[Callable[..., Any]], json_strings: bool = False,
                 request_view: Any = None) -> None:
        self.json_strings = json_strings  # the App's rule for str/bytes results
        self.status = {k: v for k, v in handlers.items() if isinstance(k, int) and k != 500}
        self.classes = {k: v for k, v in handlers.items()
                        if isinstance(k, type) and k is not Exception}
        self.server_error = handlers.get(500) or handlers.get(Exception)
        self.validation = self.classes.get(RequestValidationError)
        self.middleware = list(middleware)
        # A FastAPI app's: the one view of the request its middleware and
        # handlers here get (turbo/_request.py), made once per request.
        self.request_view = request_view

    def _lookup(self, exc: BaseException) -> Any:
        if isinstance(exc, HTTPException):
            h = self.status.get(exc.status_code)
            if h is not None:
                return h
        for cls in type(exc).__mro__:
            if cls is HTTPException and getattr(exc, "_turbo_router", False):
                # The router raises Starlette's HTTPException, the base of
                # FastAPI's: a handler for FastAPI's never sees it.
                continue
            h = self.classes.get(cls)
            if h is not None:
                return h
        return None

    async def _inner(self, request: Any, call: Callable[[], Any]) -> Any:
        """The route, with the handlers Starlette's ExceptionMiddleware
        applies; its answer (a Response once there is middleware)."""
        try:
            result = await _maybe_await(call())
        except Exception as exc:  # noqa: BLE001 - handed to the app's handlers
            handler = self._lookup(exc)
            if handler is not None:
                return await _maybe_await(handler(request, exc))
            if isinstance(exc, HTTPException) and self.middleware:
                return _http_exception_response(exc)
            raise
        invalid = getattr(result, "_turbo_invalid", None)
        if invalid is not None and self.validation is not None:
            errors, body = invalid
            return await _maybe_await(self.validation(request, RequestValidationError(errors,
                                                                                      body=body)))
        return result

    async def run(self, request: Any, call: Callable[[], Any]) -> Any:
        if self.request_view is not None:
            request = self.request_view(request)
        async def innermost(req: Any) -> Any:
            result = await self._inner(req, call)
            return _as_response(result, self.json_strings) if self.middleware else result

        step = innermost
        for mw in self.middleware:  # the last registered ends outermost
            def bind(mw: Any = mw, nxt: Any = step) -> Any:
                async def call_next_holder(req: Any) -> Any:
                    # What a middleware answers is a Response as call_next
                    # gives them (headers a dict) to the one outside it.
                    return _as_response(await mw(req, nxt), self.json_strings)
                return call_next_holder
            step = bind()
        try:
            return await step(request)
        except Exception as exc:
            # An HTTPException is always answered as itself (by C, with
            # FastAPI's body), as Starlette's default handler for it does.
            if self.server_error is None or isinstance(exc, HTTPException):
                raise
            # As Starlette's ServerErrorMiddleware: the handler answers, and
            # the error still reaches the log.
            from . import _log_exception
            _log_exception(None, exc)
            return await _maybe_await(self.server_error(request, exc))

    def miss(self, request: Any) -> Any:
        """A request no route takes (the server's fallback, called inline):
        the HTTPException Starlette's router raises for it (404, or 405
        with the Allow the router found) raised inside the chain."""
        status, allow = _turbo._miss()
        headers = {"Allow": allow} if status == 405 else None

        def route_miss() -> Any:
            exc = HTTPException(status, headers=headers)
            exc._turbo_router = True  # type: ignore[attr-defined]
            raise exc
        return self.run(request, route_miss)

    def wrap(self, called: Callable[..., Any], offload: bool) -> Callable[..., Any]:
        """called served through the chain; its plan gains _REQUEST_ARG.
        The chain runs on the I/O thread's loop; offload (a blocking route,
        or a FastAPI app's def endpoint): called itself runs on the loop's
        default executor, a thread, as Starlette runs a def endpoint in
        its threadpool, with the request's context variables."""
        if offload:
            @functools.wraps(called)
            async def offloaded(*args: Any, **kwargs: Any) -> Any:
                request = kwargs.pop(_REQUEST_ARG)
                loop = asyncio.get_running_loop()
                run = functools.partial(contextvars.copy_context().run, called, *args, **kwargs)
                return await self.run(request, lambda: loop.run_in_executor(None, run))
            offloaded.__dict__.pop("__wrapped__", None)
            offloaded._turbo_on_invalid = self.invalid  # type: ignore[attr-defined]
            return offloaded

        @functools.wraps(called)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.pop(_REQUEST_ARG)
            return await self.run(request, lambda: called(*args, **kwargs))
        wrapper.__dict__.pop("__wrapped__", None)
        wrapper._turbo_on_invalid = self.invalid  # type: ignore[attr-defined]
        return wrapper

    def invalid(self, request: Any, errors: list[Any]) -> Any:
        """Path or query values C's typed conversion refused (the server's
        TPY_EP_ON_INVALID): FastAPI's 422 answered inside the chain, so
        that the RequestValidationError handler and the middleware see it."""
        from ._bodies import _Invalid
        return self.run(request, lambda: _Invalid(errors, request))


REQUEST_ONLY = (("request", _turbo.SRC_REQUEST, _turbo.CONV_STR, None, False, False),)


def plan_with_request(plan: tuple[Any, ...]) -> tuple[Any, ...]:
    return (*plan, (_REQUEST_ARG, _turbo.SRC_REQUEST, _turbo.CONV_STR, None, False, True))
