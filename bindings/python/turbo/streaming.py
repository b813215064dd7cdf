"""Streamed responses, Server-Sent Events and WebSockets, as FastAPI and
Starlette spell them (the C side: src/stream.c, on libturbo's streamed
responses and turbo_ws).

A `StreamingResponse` is sent as its iterator yields: the head at once,
each piece as it comes (chunked, or plain bytes after a Content-Length the
headers give), with backpressure: when the client reads slower than the
iterator yields, the driver waits for the connection's queue to drain, so
a body of any size holds about the queue's high-water mark of memory. The
driver is an asyncio Task on the I/O thread that read the request;
a sync iterator is also run there, one piece per loop turn (a piece must
not block: read files with `FileResponse`... or an async iterator). A
client that leaves cancels the driver; an iterator that raises cuts the
body short (the connection closes without the last chunk) and is logged.

A WebSocket route's endpoint gets a `WebSocket`; `await websocket.accept()`
sends the 101, `receive_*`/`send_*` move messages, `close()` ends it, and
`WebSocketDisconnect` tells the endpoint the client has gone. The
connection stays on its I/O thread; messages are read as they arrive and
queued for the endpoint (reading pauses while it is 64 messages behind).
"""

from __future__ import annotations

import asyncio
import collections
import enum
import json
from collections.abc import AsyncIterable, Iterable, Mapping
from typing import Any

from . import Response, _turbo, log

__all__ = [
    "StreamingResponse",
    "ServerSentEvent",
    "EventSourceResponse",
    "WebSocket",
    "WebSocketDisconnect",
    "WebSocketState",
]


# ---- streamed responses ----------------------------------------------------


class StreamingResponse(Response):
    """A response whose body is an iterator (sync or async) of str or bytes.

    A Content-Length among the headers is announced and held to (the body
    must be exactly that long); without one the body is chunked (HTTP/1.1)
    or ends with the connection (HTTP/1.0)."""

    def __init__(self, content: Iterable[Any] | AsyncIterable[Any], status_code: int = 200,
                 headers: Mapping[str, str] | None = None, media_type: str | None = None) -> None:
        self.status_code = status_code
        if media_type is not None:
            self.media_type = media_type
        self.body = b""
        self.body_iterator = content
        self._length: int | None = None
        kept = {}
        for k, v in (headers or {}).items():
            if k.lower() == "content-length":
                self._length = int(v)
            else:
                kept[k] = v
        self.headers = kept

    def _begin(self, stream: Any) -> None:
        """The head goes, and a driver Task writes the body (a subclass
        may drive the stream its own way: the ASGI adapter does)."""
        stream.start(self._length)
        task = asyncio.get_running_loop().create_task(_drive(stream, self.body_iterator))
        stream.set_task(task)


def _start_stream(stream, response):
    """Called by the C side once the response's head is set."""
    response._begin(stream)


async def _drive(stream, body):
    complete = False
    try:
        if hasattr(body, "__aiter__"):
            async for piece in body:
                if stream.write(piece):
                    await stream.drained()
        else:
            for piece in body:
                if stream.write(piece):
                    await stream.drained()
                else:
                    await asyncio.sleep(0)  # let the thread's other requests in
        complete = True
    except asyncio.CancelledError:
        pass  # the client has gone: nothing more to send
    except Exception:
        log.exception("the body of a StreamingResponse raised; the response is cut short")
    finally:
        if not complete:
            await _close_iterator(body)
        if complete:
            stream.finish()
        else:
            stream.abort()


async def _close_iterator(body):
    try:
        if hasattr(body, "aclose"):
            await body.aclose()
        elif hasattr(body, "close"):
            body.close()
    except BaseException:  # noqa: BLE001 - closing is best effort
        pass


_turbo._set_stream_hooks(StreamingResponse, _start_stream)


# ---- Server-Sent Events ------------------------------------------------------


class ServerSentEvent:
    """One event of a text/event-stream: data (str; multi-line allowed),
    and optionally event, id, retry (ms) and a comment."""

    __slots__ = ("data", "event", "id", "retry", "comment")

    def __init__(self, data: Any = None, event: str | None = None, id: str | None = None,
                 retry: int | None = None, comment: str | None = None) -> None:
        self.data = data
        self.event = event
        self.id = id
        self.retry = retry
        self.comment = comment

    def encode(self) -> bytes:
        out = []
        if self.comment is not None:
            out.extend(f": {line}\n" for line in str(self.comment).splitlines() or [""])
        for name, value in (("event", self.event), ("id", self.id)):
            if value is not None:
                text = str(value)
                if "\n" in text or "\r" in text:
                    raise ValueError(f"an event's {name} cannot contain a line break")
                out.append(f"{name}: {text}\n")
        if self.retry is not None:
            out.append(f"retry: {int(self.retry)}\n")
        if self.data is not None:
            data = self.data if isinstance(self.data, str) else json.dumps(self.data)
            out.extend(f"data: {line}\n" for line in data.splitlines() or [""])
        out.append("\n")
        return "".join(out).encode("utf-8")


def _event_bytes(item: Any) -> bytes:
    if isinstance(item, ServerSentEvent):
        return item.encode()
    if isinstance(item, Mapping):
        return ServerSentEvent(**item).encode()
    if isinstance(item, bytes):
        return item
    return ServerSentEvent(data=str(item)).encode()


class EventSourceResponse(StreamingResponse):
    """Server-Sent Events from an iterator of events (ServerSentEvent,
    dicts of its fields, or plain data). A `: ping` comment goes when
    `ping` seconds have passed without an event (checked every `ping`
    seconds, so the silence lasts less than twice that), which keeps
    proxies from closing the stream; a client that leaves cancels the
    iterator."""

    media_type = "text/event-stream"

    def __init__(self, content: Iterable[Any] | AsyncIterable[Any], status_code: int = 200,
                 headers: Mapping[str, str] | None = None, ping: float | None = 15) -> None:
        hdrs = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        hdrs.update(headers or {})
        self._ping = ping
        self._sent = 0  # events encoded so far, for the ping check
        super().__init__(self._encoded(content), status_code, hdrs)

    def _encoded(self, content):
        # The driver iterates this directly (no Task or timer per event):
        # the pings come from one timer beside it (_begin).
        if hasattr(content, "__aiter__"):
            async def events():
                async for item in content:
                    self._sent += 1
                    yield _event_bytes(item)
            return events()

        def sync_events():
            for item in content:
                self._sent += 1
                yield _event_bytes(item)
        return sync_events()

    def _begin(self, stream: Any) -> None:
        stream.start(self._length)
        loop = asyncio.get_running_loop()
        task = loop.create_task(_drive(stream, self.body_iterator))
        stream.set_task(task)
        if not self._ping:
            return
        period = self._ping
        seen = [self._sent]
        handle = [None]

        def check():
            if task.done():
                return
            if self._sent == seen[0]:
                try:
                    # Whole, between two events (a write is never split);
                    # past the high-water mark it waits in the queue.
                    stream.write(b": ping\n\n")
                except Exception:  # noqa: BLE001 - the stream has ended
                    return
            seen[0] = self._sent
            handle[0] = loop.call_later(period, check)

        handle[0] = loop.call_later(period, check)
        task.add_done_callback(lambda _t: handle[0].cancel())


# ---- WebSocket -----------------------------------------------------------------


class WebSocketDisconnect(Exception):
    """The WebSocket has ended: code is the close code (1000 normal, 1001
    going away, 1006 dropped without a close, ...)."""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        super().__init__(code, reason or "")
        self.code = code
        self.reason = reason or ""


class WebSocketState(enum.Enum):
    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2


_BEHIND = 64  # messages queued for the endpoint before reading pauses


class WebSocket:
    """A WebSocket connection as an endpoint sees it (Starlette's names)."""

    def __init__(self, request: Any, answer: asyncio.Future) -> None:
        self._request = request
        self._answer = answer
        self._conn: Any = None
        self._inbox: collections.deque = collections.deque()
        self._waiter: asyncio.Future | None = None
        self._drain: asyncio.Future | None = None
        self._ended: tuple[int, str] | None = None
        self._paused = False
        self._sent_close = False
        self.client_state = WebSocketState.CONNECTING
        self.application_state = WebSocketState.CONNECTING

    # -- the request

    @property
    def headers(self):
        return self._request.headers

    @property
    def query_params(self):
        return self._request.query_params

    @property
    def path_params(self):
        return self._request.path_params

    @property
    def url_path(self) -> str:
        return self._request.path

    @property
    def client(self):
        return self._request.client

    @property
    def cookies(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for part in self._request.headers.get("cookie", "").split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                out.setdefault(name, value)
        return out

    # -- the handshake

    async def accept(self, subprotocol: str | None = None,
                     headers: Iterable[tuple[str, str]] | Mapping[str, str] | None = None) -> None:
        if self._conn is not None or self._answer.done():
            raise RuntimeError('"accept" was called already, or the WebSocket was closed')
        if isinstance(headers, Mapping):
            headers = list(headers.items())
        try:
            self._conn = _turbo.ws_accept(self._request, self, subprotocol, headers)
        except ValueError:
            # Not a valid handshake: libturbo wrote the refusal (400, or 426
            # for another version) into the answer, which goes as it is.
            self._answer.set_result(_turbo.UPGRADED)
            self.application_state = WebSocketState.DISCONNECTED
            raise WebSocketDisconnect(1006, "not a WebSocket handshake") from None
        self._answer.set_result(_turbo.UPGRADED)
        self.application_state = WebSocketState.CONNECTED
        self.client_state = WebSocketState.CONNECTED

    # -- events from the connection (src/stream.c), on this thread

    def _wake(self):
        w = self._waiter
        if w is not None and not w.done():
            w.set_result(None)

    def _on_message(self, data):
        self._inbox.append(data)
        if len(self._inbox) >= _BEHIND and not self._paused:
            self._paused = True
            self._conn.pause(True)
        self._wake()

    def _on_close(self, code, reason):
        self._ended = (code, reason)
        self.client_state = WebSocketState.DISCONNECTED
        self._wake()
        d = self._drain
        if d is not None and not d.done():
            d.set_result(None)

    def _on_drain(self):
        d = self._drain
        if d is not None and not d.done():
            d.set_result(None)

    # -- receiving

    async def _next(self):
        if self._conn is None:
            raise RuntimeError('WebSocket is not connected. Need to call "accept" first.')
        while not self._inbox:
            if self._ended is not None:
                self.application_state = WebSocketState.DISCONNECTED
                raise WebSocketDisconnect(*self._ended)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        data = self._inbox.popleft()
        if self._paused and len(self._inbox) <= _BEHIND // 4:
            self._paused = False
            self._conn.pause(False)
        return data

    async def receive(self) -> dict[str, Any]:
        """The next event as an ASGI message: websocket.receive with text or
        bytes, or websocket.disconnect with the code."""
        try:
            data = await self._next()
        except WebSocketDisconnect as e:
            return {"type": "websocket.disconnect", "code": e.code, "reason": e.reason}
        if isinstance(data, str):
            return {"type": "websocket.receive", "text": data}
        return {"type": "websocket.receive", "bytes": data}

    async def receive_text(self) -> str:
        data = await self._next()
        if not isinstance(data, str):
            raise TypeError("expected a text message, got a binary one")
        return data

    async def receive_bytes(self) -> bytes:
        data = await self._next()
        if isinstance(data, str):
            raise TypeError("expected a binary message, got a text one")
        return data

    async def receive_json(self, mode: str = "text") -> Any:
        data = await self._next()
        return json.loads(data)

    async def iter_text(self):
        try:
            while True:
                yield await self.receive_text()
        except WebSocketDisconnect:
            pass

    async def iter_bytes(self):
        try:
            while True:
                yield await self.receive_bytes()
        except WebSocketDisconnect:
            pass

    async def iter_json(self):
        try:
            while True:
                yield await self.receive_json()
        except WebSocketDisconnect:
            pass

    # -- sending

    async def _send(self, data):
        if self._conn is None:
            raise RuntimeError('WebSocket is not connected. Need to call "accept" first.')
        if self._ended is not None:
            raise WebSocketDisconnect(*self._ended)
        if self._sent_close:
            raise RuntimeError('Cannot call "send" once a close message has been sent.')
        if self._conn.send(data):  # past the high-water mark: wait for the drain
            self._drain = asyncio.get_running_loop().create_future()
            try:
                await self._drain
            finally:
                self._drain = None

    async def send_text(self, data: str) -> None:
        await self._send(str(data))

    async def send_bytes(self, data: bytes) -> None:
        await self._send(bytes(data))

    async def send_json(self, data: Any, mode: str = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        await self._send(text if mode == "text" else text.encode("utf-8"))

    async def send(self, message: Mapping[str, Any]) -> None:
        """An ASGI message: websocket.accept, websocket.send, websocket.close."""
        kind = message.get("type")
        if kind == "websocket.accept":
            await self.accept(message.get("subprotocol"), message.get("headers"))
        elif kind == "websocket.send":
            if message.get("bytes") is not None:
                await self._send(bytes(message["bytes"]))
            else:
                await self._send(str(message.get("text") or ""))
        elif kind == "websocket.close":
            await self.close(message.get("code", 1000), message.get("reason"))
        else:
            raise ValueError(f"not a WebSocket message: {kind!r}")

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        if self._conn is None:
            # Before the handshake: refused, as Starlette does, with 403.
            if not self._answer.done():
                self._answer.set_result(Response(status_code=403))
            self.application_state = WebSocketState.DISCONNECTED
            return
        self.application_state = WebSocketState.DISCONNECTED
        if not self._sent_close and self._ended is None:
            self._sent_close = True
            self._conn.close(code, reason or "")


async def _session(endpoint, ws, args, kwargs):
    try:
        await endpoint(*args, **kwargs)
    except WebSocketDisconnect:
        pass
    except Exception:
        log.exception("WebSocket endpoint %s raised", getattr(endpoint, "__qualname__", endpoint))
        if ws._conn is None:
            if not ws._answer.done():
                ws._answer.set_result(Response(b"Internal Server Error\n", 500,
                                               media_type="text/plain"))
            return
        if not ws._sent_close and ws._ended is None:
            ws._sent_close = True
            ws._conn.close(1011, "")
        return
    if not ws._answer.done():  # ended without accepting: refused
        ws._answer.set_result(Response(status_code=403))
    elif ws._conn is not None and not ws._sent_close and ws._ended is None:
        ws._sent_close = True
        ws._conn.close(1000, "")


def _entry(endpoint, index, name):
    """The coroutine function registered for a WebSocket route: it makes the
    WebSocket (in place of the Request the plan passes at `index`, or as
    keyword `name`), runs the endpoint as its own Task, and answers the
    HTTP request with the 101 (once accepted) or the refusal."""

    async def websocket_entry(*args, **kwargs):
        loop = asyncio.get_running_loop()
        answer = loop.create_future()
        if name in kwargs:
            ws = WebSocket(kwargs[name], answer)
            kwargs[name] = ws
        else:
            args = list(args)
            ws = WebSocket(args[index], answer)
            args[index] = ws
        task = loop.create_task(_session(endpoint, ws, args, kwargs))
        try:
            return await answer
        except asyncio.CancelledError:  # the client left before the answer
            task.cancel()
            raise

    websocket_entry.__qualname__ = getattr(endpoint, "__qualname__", "websocket_entry")
    return websocket_entry
