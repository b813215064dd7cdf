"""Serving an ASGI 3 application (FastAPI, Starlette, ...) on libturbo.

    from turbo.asgi import ASGIApp
    from myapi import app as fastapi_app

    ASGIApp(fastapi_app).run(port=8000)

or, without a line of Python: `turbo-serve --interface asgi myapi:app`.

The application's coroutine runs as an `async def` handler of turbo does:
its first step inline on the I/O thread that read the request (a request
the app answers without waiting costs no Task and no loop iteration), then,
if it waits, on that thread's own asyncio loop. The scope is made in C
(src/asgi.c) from the parsed request. A body that came whole with its
head is the one `http.request` message; a larger one is read as the app
asks for it (libturbo's streamed request bodies), one `http.request`
with more_body per piece, up to max_body_bytes (over it: 413). The answer is sent as soon as the app sends its last body
message: work the app does after that (Starlette's BackgroundTasks) goes
on as a Task of its own and does not delay the client. A client that
leaves cancels the app while it has not answered.

A body message with more_body=True starts a streamed response (turbo's
Stream, as StreamingResponse uses it): each piece is written as it is
sent, and send() waits while the connection's queue is past its
high-water mark. Once streaming, a client that leaves is not a
cancellation: receive() returns http.disconnect and send() raises
ClientDisconnected (an OSError, ASGI spec 2.4). http.response.pathsend
sends a file by sendfile(2). A WebSocket handshake runs the app with a
websocket scope on turbo's WebSocket (streaming.py), with the
websocket.http.response denial extension.

The lifespan protocol runs before the server accepts, on each I/O thread's
loop ("auto": an app that raises on the lifespan scope is served without
one, as uvicorn does; "on": that is an error; "off": not run). What the
app puts in the lifespan scope's "state" is copied into each request's
scope["state"].
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import types

from . import App, HTTPException, _turbo, immortalize_constants
from ._body import ClientDisconnect
from .streaming import (StreamingResponse, WebSocket, WebSocketDisconnect, WebSocketState,
                        _session)

__all__ = ["ASGIApp", "ClientDisconnected"]

log = logging.getLogger("turbo")

_running_loop = asyncio.events._get_running_loop
_RawResponse = _turbo.RawResponse
_asgi_scope = _turbo.asgi_scope
_REQUEST_ONLY = (("request", _turbo.SRC_REQUEST, _turbo.CONV_STR, None, False, False),)
_DISCONNECT = {"type": "http.disconnect"}


def _body_length(headers):
    """The body the request's head announces: its Content-Length, -1 for
    chunked, None for none (the fields as bytes pairs; libturbo has checked
    them: one Content-Length at most, digits only, or chunked)."""
    for name, value in headers:
        if name == b"transfer-encoding":
            return -1
        if name == b"content-length":
            return int(value) or None
    return None


class ClientDisconnected(OSError):
    """What `send` raises once the client has gone (ASGI spec 2.4)."""


class _Exchange:
    """One request's receive and send: the body, then what the app sends.
    A response whose first body message has more_body=True is streamed:
    `send` waits until the stream exists (streaming, ready), then writes
    each piece through it (stream) and waits for its drain when the
    connection's queue is past the high-water mark."""

    __slots__ = ("body", "status", "headers", "chunks", "done", "waiter", "streaming", "ready",
                 "stream", "gone", "task", "path", "pieces", "body_error")

    def __init__(self, body, pieces=None):
        self.body = body
        self.pieces = pieces  # request.stream(), for a body still on the socket
        self.body_error = None
        self.status = None
        self.headers = ()
        self.chunks = []
        self.done = False
        self.waiter = None
        self.streaming = False
        self.ready = None
        self.stream = None
        self.gone = False
        self.task = None
        self.path = None

    async def receive(self):
        if self.pieces is not None:
            return await self._receive_piece()
        body = self.body
        if body is not None:
            self.body = None
            return {"type": "http.request", "body": body, "more_body": False}
        if not self.done and not self.gone:
            # Nothing more will come: wait for the end of the response (or
            # be cancelled, when the client leaves first; or, streaming,
            # woken by cancel()).
            self.waiter = _running_loop().create_future()
            await self.waiter
        return _DISCONNECT

    async def _receive_piece(self):
        """The next piece of a body read as it arrives: more_body until its
        end. Over the limit or broken, the app sees a disconnect and the
        request is answered with the error if it has not answered yet."""
        try:
            piece = await self.pieces.__anext__()
        except HTTPException as e:
            self.pieces = None
            self.body_error = e
            return _DISCONNECT
        except (StopAsyncIteration, ClientDisconnect):
            self.pieces = None
            return _DISCONNECT
        if not piece:  # the end
            self.pieces = None
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": piece, "more_body": True}

    def _wake(self):
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def cancel(self):
        """The client has gone while the response streams (called by the
        Stream, to which the exchange is the task it cancels)."""
        self.gone = True
        self._wake()

    async def send(self, message):
        kind = message["type"]
        if kind == "http.response.body":
            if self.status is None:
                raise RuntimeError("ASGI: 'http.response.body' sent before 'http.response.start'")
            if self.done:
                raise RuntimeError("ASGI: 'http.response.body' sent after the response ended")
            body = message.get("body", b"")
            more = message.get("more_body", False)
            if self.stream is None:
                if not more and not self.streaming:  # the whole body at once
                    if body:
                        self.chunks.append(body)
                    self.done = True
                    self._wake()
                    return
                if not self.streaming:
                    self.streaming = True
                    self.ready = _running_loop().create_future()
                await self.ready  # _StreamedAnswer._begin
            await self._write(body, more)
        elif kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("ASGI: 'http.response.start' sent twice")
            status = message["status"]
            if type(status) is not int:
                raise TypeError(f"ASGI: status must be an int, not {type(status).__name__}")
            self.status = status
            self.headers = message.get("headers", ())
        elif kind == "http.response.pathsend":
            if self.status is None:
                raise RuntimeError("ASGI: 'http.response.pathsend' sent before "
                                   "'http.response.start'")
            if self.done or self.streaming or self.chunks:
                raise RuntimeError("ASGI: 'http.response.pathsend' after a body was sent")
            self.path = message["path"]
            self.done = True
            self._wake()
        else:
            raise RuntimeError(f"ASGI: unexpected message type {kind!r} for an http scope")

    async def _write(self, body, more):
        if self.gone:
            raise ClientDisconnected("the client has gone")
        stream = self.stream
        try:
            full = stream.write(body) if body else False
        except ConnectionResetError:
            self.gone = True
            raise ClientDisconnected("the client has gone") from None
        if not more:
            self.done = True
            stream.finish()
            self._wake()
        elif full:
            try:
                await stream.drained()
            except asyncio.CancelledError:
                if self.gone:  # the Stream cancels its drain when the client goes
                    raise ClientDisconnected("the client has gone") from None
                raise


class _Headers:
    """ASGI's header pairs as the C side reads a Response's headers:
    items() of str pairs (repeated names kept)."""

    __slots__ = ("pairs",)

    def __init__(self, pairs):
        self.pairs = pairs

    def items(self):
        return self.pairs


def _latin1(o):
    if type(o) is bytes or type(o) is bytearray:
        return o.decode("latin-1")
    raise TypeError(f"ASGI header names and values must be bytes, not {type(o).__name__}")


class _StreamedAnswer(StreamingResponse):
    """A response the app streams (more_body=True): the head from its
    http.response.start, the body from the rest of the app's coroutine,
    which a Task drives from where it waits for the stream (ex.ready)."""

    media_type = None

    def __init__(self, ex, coro, pending):
        self.status_code = ex.status
        self.body = b""
        self.body_iterator = None
        self._length = None
        pairs = []
        for name, value in ex.headers:
            k, v = _latin1(name), _latin1(value)
            low = k.lower()
            if low == "content-length":
                self._length = int(v)  # held to: a body of another length is cut
            elif low != "transfer-encoding":  # the library frames the message
                pairs.append((k, v))
        self.headers = _Headers(pairs)
        self._ex = ex
        self._coro = coro
        self._pending = pending

    def _begin(self, stream):
        stream.start(self._length)
        ex = self._ex
        ex.stream = stream
        stream.set_task(ex)  # the client leaving calls ex.cancel()
        ex.ready.set_result(None)
        coro, pending = self._coro, self._pending
        self._coro = self._pending = None
        ex.task = _running_loop().create_task(_stream_rest(ex, coro, pending))


async def _stream_rest(ex, coro, pending):
    try:
        await _resume(coro, pending)
        if not ex.done and not ex.gone:
            log.error("ASGI: the application returned before its last 'http.response.body'; "
                      "the response is cut short")
    except Exception:
        if not ex.gone:
            log.exception("the ASGI application raised while streaming its response" if not ex.done
                          else "the ASGI application raised after its response was sent")
    finally:
        if not ex.done:
            ex.done = True
            ex.stream.abort()  # the connection closes without the body's end
            ex._wake()


@types.coroutine
def _drive(coro, ex):
    """Runs the app's coroutine as `await coro` would, except that once the
    response is complete and the app still waits (background work), the
    rest goes on as a Task of its own and this returns, so that the answer
    is sent now; and once the app starts streaming its body, this returns
    what the coroutine waits on (ex.ready) for _StreamedAnswer to go on."""
    try:
        pending = coro.send(None)
    except StopIteration:
        return None
    return (yield from _resume(coro, pending, ex))


@types.coroutine
def _resume(coro, pending, ex=None):
    """Goes on with coro, which waits on `pending`, to its end; or, given
    an exchange, until its response is complete or streams (see _drive)."""
    while True:
        if ex is not None:
            if ex.done:
                asyncio.ensure_future(_rest(coro, pending))
                return None
            if ex.streaming:
                return pending
        try:
            value = yield pending
        except BaseException as e:  # CancelledError included: the app's to handle
            try:
                pending = coro.throw(e)
            except StopIteration:
                return None
            continue
        try:
            pending = coro.send(value)
        except StopIteration:
            return None


async def _rest(coro, pending):
    try:
        await _resume(coro, pending)
    except Exception:
        log.exception("the ASGI application raised after its response was sent")


class _ASGIWebSocket(WebSocket):
    """turbo's WebSocket (streaming.py) speaking ASGI's websocket messages:
    websocket.connect first, then what WebSocket.receive gives; accept,
    send, close, and the websocket.http.response denial extension."""

    def __init__(self, request, answer):
        super().__init__(request, answer)
        self._connected = False
        self._denial = None  # [status, headers, body pieces] while denying

    async def receive(self):
        if not self._connected:
            self._connected = True
            return {"type": "websocket.connect"}
        return await super().receive()

    async def send(self, message):
        kind = message["type"]
        try:
            if kind == "websocket.send":
                data = message.get("bytes")
                if data is None:
                    data = message.get("text")
                    if data is None:
                        raise ValueError("ASGI: 'websocket.send' with neither bytes nor text")
                else:
                    data = bytes(data)
                await self._send(data)
            elif kind == "websocket.accept":
                if self._denial is not None:
                    raise RuntimeError("ASGI: 'websocket.accept' after a denial response started")
                headers = message.get("headers")
                if headers:
                    headers = [(_latin1(k), _latin1(v)) for k, v in headers]
                await self.accept(message.get("subprotocol"), headers)
            elif kind == "websocket.close":
                if self._denial is not None:
                    raise RuntimeError("ASGI: 'websocket.close' after a denial response started")
                await self.close(message.get("code", 1000), message.get("reason"))
            elif kind == "websocket.http.response.start":
                if self._conn is not None or self._answer.done() or self._denial is not None:
                    raise RuntimeError("ASGI: 'websocket.http.response.start' once the "
                                       "handshake was answered")
                status = message["status"]
                if type(status) is not int:
                    raise TypeError(f"ASGI: status must be an int, not {type(status).__name__}")
                self._denial = [status, message.get("headers", ()), []]
            elif kind == "websocket.http.response.body":
                if self._denial is None or self._answer.done():
                    raise RuntimeError("ASGI: 'websocket.http.response.body' without a "
                                       "'websocket.http.response.start' before it")
                body = message.get("body", b"")
                if body:
                    self._denial[2].append(body)
                if not message.get("more_body", False):
                    status, headers, chunks = self._denial
                    self._answer.set_result(_RawResponse(status, headers, chunks))
                    self.application_state = WebSocketState.DISCONNECTED
            else:
                raise RuntimeError(f"ASGI: unexpected message type {kind!r} for a websocket scope")
        except WebSocketDisconnect as e:  # the client has gone: spec 2.4's OSError
            raise ClientDisconnected(f"the WebSocket has closed ({e.code})") from None


class ASGIApp(App):
    """A turbo App whose every path no native route takes goes to the ASGI 3
    application `app` (`async def app(scope, receive, send)`).

    root_path: the prefix the app is mounted at (scope["root_path"]).
    url_scheme: scope["scheme"] ("https" behind a proxy that terminates
    TLS). lifespan: "auto", "on" or "off" (see the module's doc). The other
    keywords are App's (server_name, limits such as max_body_bytes)."""

    def __init__(self, app, *, root_path: str = "", url_scheme: str = "http",
                 lifespan: str = "auto", **kwargs):
        if not callable(app):
            raise TypeError(f"an ASGI application must be callable, not {type(app).__name__}")
        if lifespan not in ("auto", "on", "off"):
            raise ValueError(f"lifespan must be 'auto', 'on' or 'off', not {lifespan!r}")
        if url_scheme not in ("http", "https"):
            raise ValueError(f"url_scheme must be 'http' or 'https', not {url_scheme!r}")
        if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
            raise ValueError(f"root_path must start with '/' and not end with one: {root_path!r}")
        if kwargs.get("lifespan") is not None:
            raise TypeError("ASGIApp runs the application's own lifespan; pass lifespan='on'/'off'")
        super().__init__(lifespan=None if lifespan == "off" else self._asgi_lifespan, **kwargs)
        self.asgi_app = app
        immortalize_constants(app)  # its __call__; not the framework behind it
        self.root_path = root_path
        self.url_scheme = url_scheme
        self.lifespan_mode = lifespan
        self._states = {}  # loop -> the lifespan scope's state
        self._base = None
        self._ws_base = None

    def _attach(self, server):
        super()._attach(server)
        host = getattr(self, "_bound_host", None) or "127.0.0.1"
        self._base = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "scheme": self.url_scheme,
            "root_path": self.root_path,
            "server": (host, server.port),
            "extensions": {"http.response.pathsend": {}},
        }
        self._ws_base = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "scheme": "wss" if self.url_scheme == "https" else "ws",
            "root_path": self.root_path,
            "server": (host, server.port),
            "extensions": {"websocket.http.response": {}},
        }
        # Flag 2: a body that has not come whole with its head is read as it
        # arrives (receive() hands it over in pieces, up to max_body_bytes).
        server.set_fallback(self._handle, _REQUEST_ONLY, 2, self._loops)
        self._max_body = self._limits.get("max_body_bytes") or (1 << 20)

    def _new_server(self, host, port, threads, fd=None, activation=False, exclusive_port=False):
        self._bound_host = host
        return super()._new_server(host, port, threads, fd=fd, activation=activation,
                                   exclusive_port=exclusive_port)

    async def _handle(self, request):
        scope = _asgi_scope(request, self._base, self._ws_base)
        if self._states:
            state = self._states.get(_running_loop())
            if state is not None:
                scope["state"] = state.copy()
        if scope["type"] == "websocket":
            return await self._websocket(request, scope)
        method = scope["method"]
        length = _body_length(scope["headers"]) if request._body_pending else None
        if length is None:
            ex = _Exchange(request.body)
        elif length > self._max_body:  # refused unread, as libturbo refuses it elsewhere
            raise HTTPException(413, "Request body too large")
        else:  # still on the socket: handed to the app as it arrives
            ex = _Exchange(None, request.stream(self._max_body))
        coro = self.asgi_app(scope, ex.receive, ex.send)
        try:
            pending = await _drive(coro, ex)
        except Exception:
            if ex.body_error is not None and not ex.streaming:
                raise ex.body_error from None  # the app failed on the disconnect it got
            raise
        if ex.body_error is not None and not ex.streaming:
            # 413 or 400 (the connection closes after it), instead of what
            # the app answered to the disconnect it got (Starlette: a 500),
            # as long as nothing of that has gone.
            raise ex.body_error
        if ex.streaming and not ex.done:
            try:
                return _StreamedAnswer(ex, coro, pending)
            except BaseException:
                coro.close()
                raise
        if ex.status is None:
            raise RuntimeError("ASGI: the application returned without sending 'http.response.start'")
        if not ex.done:
            raise RuntimeError("ASGI: the application returned before its last 'http.response.body'")
        if ex.path is not None:
            return _RawResponse(ex.status, ex.headers, ex.chunks, method == "HEAD", ex.path)
        return _RawResponse(ex.status, ex.headers, ex.chunks, method == "HEAD")

    async def _websocket(self, request, scope):
        """A WebSocket handshake: the app runs as the session Task of a
        native WebSocket route does (streaming._session); this answers the
        request with the 101 once accepted, or the refusal (403 for a
        close before accept, the app's own with websocket.http.response)."""
        scope["subprotocols"] = [p.strip() for k, v in scope["headers"]
                                 if k == b"sec-websocket-protocol"
                                 for p in v.decode("latin-1").split(",") if p.strip()]
        loop = _running_loop()
        answer = loop.create_future()
        ws = _ASGIWebSocket(request, answer)
        task = loop.create_task(_session(self.asgi_app, ws, (scope, ws.receive, ws.send), {}))
        try:
            return await answer
        except asyncio.CancelledError:  # the client left before the answer
            task.cancel()
            raise

    # -- the lifespan protocol

    @contextlib.asynccontextmanager
    async def _asgi_lifespan(self, _app):
        loop = asyncio.get_running_loop()
        state = {}
        to_app = asyncio.Queue()
        from_app = asyncio.Queue()

        async def receive():
            return await to_app.get()

        async def send(message):
            kind = message.get("type") if isinstance(message, dict) else None
            if kind not in ("lifespan.startup.complete", "lifespan.startup.failed",
                            "lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                # An app that ignores the scope's type and answers as for
                # http: it does not speak lifespan (in "auto" mode).
                raise RuntimeError(f"ASGI: unexpected message {kind!r} in a lifespan scope")
            await from_app.put(message)

        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"},
                 "state": state}
        task = loop.create_task(self.asgi_app(scope, receive, send))
        await to_app.put({"type": "lifespan.startup"})
        if await self._lifespan_step(task, from_app, "startup") is None:
            task = None  # the app does not speak lifespan: no "state" in scopes
        else:
            self._states[loop] = state
        try:
            yield None
        finally:
            self._states.pop(loop, None)
            if task is not None:
                await to_app.put({"type": "lifespan.shutdown"})
                try:
                    await self._lifespan_step(task, from_app, "shutdown")
                except RuntimeError as e:
                    log.error("%s", e)

    async def _lifespan_step(self, task, from_app, phase):
        """Waits for the app's answer to lifespan.<phase>: the message, or
        None when the app ended (raised) without one and lifespan is
        "auto" at startup. RuntimeError for a failure."""
        get = asyncio.ensure_future(from_app.get())
        await asyncio.wait({get, task}, return_when=asyncio.FIRST_COMPLETED)
        if get.done():
            message = get.result()
            kind = message.get("type")
            if kind == f"lifespan.{phase}.complete":
                return message
            if kind == f"lifespan.{phase}.failed":
                raise RuntimeError(f"ASGI lifespan {phase} failed: {message.get('message', '')}")
            raise RuntimeError(f"ASGI lifespan {phase}: unexpected message {kind!r}")
        get.cancel()
        exc = task.exception() if not task.cancelled() else None
        if phase == "startup" and self.lifespan_mode == "auto":
            log.info("the ASGI application does not support the lifespan protocol (%r); "
                     "serving without it", exc)
            return None
        if exc is not None:
            raise RuntimeError(f"ASGI lifespan {phase}: the application raised {exc!r}") from exc
        raise RuntimeError(f"ASGI lifespan {phase}: the application returned without answering")


immortalize_constants(sys.modules[__name__])  # this module's own request path
