"""TestClient: FastAPI's (Starlette's) test client, for an App served by
turbo. A ported app's test suite changes `from fastapi.testclient import
TestClient` to `from turbo import TestClient` and runs unchanged.

It is an httpx.Client whose requests go to the App served for real, on
a loopback port of this process: the same server, parser and threads as
in production, not a simulation of them. URLs are relative to base_url
("http://testserver"), whose host is the Host header the app sees.

    with TestClient(app) as client:   # runs the lifespan's startup ...
        r = client.get("/items/1")
        assert r.status_code == 200 and r.json() == {"id": 1}
    # ... and its shutdown here

Without `with`, the App starts serving (startup included) at the first
request and stops at close(). raise_server_exceptions=True (the default)
raises, in the test, the exception a handler raised for the request that
answered 500, as Starlette's does. httpx is needed (and websockets for
websocket_connect); this module is imported only when TestClient is.
"""

from __future__ import annotations

import json
import socket
import threading
from typing import Any

try:
    import httpx
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError("turbo.TestClient needs httpx (pip install httpx)") from e

from . import App, WebSocketDisconnect, _watch_exceptions


class _ToServer(httpx.BaseTransport):
    """Sends each request to the App's loopback port, its Host header the
    base URL's."""

    def __init__(self, client: TestClient) -> None:
        self._client = client
        self._http = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        port = self._client._serving_port()
        # A copy goes to the port; the answer keeps the request as made, so
        # that cookies and redirects are the base URL's.
        sent = httpx.Request(request.method,
                             request.url.copy_with(scheme="http", host="127.0.0.1", port=port),
                             headers=request.headers, stream=request.stream,
                             extensions=request.extensions)
        response = self._http.handle_request(sent)
        response.request = request
        return response

    def close(self) -> None:
        self._http.close()


class TestClient(httpx.Client):
    """Starlette's TestClient(app, base_url, raise_server_exceptions,
    root_path, cookies, headers, follow_redirects) for a turbo App."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, app: App, base_url: str = "http://testserver",
                 raise_server_exceptions: bool = True, root_path: str = "",
                 cookies: Any = None, headers: dict[str, str] | None = None,
                 follow_redirects: bool = True) -> None:
        if not isinstance(app, App):
            raise TypeError(f"TestClient serves a turbo App (or FastAPI), not {app!r}")
        if root_path:
            raise TypeError("TestClient(root_path=...) is not supported yet")
        self.app = app
        self._lock = threading.Lock()
        self._started = False  # by this client (else the app already served)
        self._raise = raise_server_exceptions
        self._raised: list[BaseException] = []
        super().__init__(base_url=base_url, transport=_ToServer(self), cookies=cookies,
                         headers={"user-agent": "testclient", **(headers or {})},
                         follow_redirects=follow_redirects)

    def _serving_port(self) -> int:
        with self._lock:
            if self.app.port is None:
                self.app.start()
                self._started = True
            port = self.app.port
        assert port is not None
        return port

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        if not self._raise:
            return super().send(request, **kwargs)
        with _watch_exceptions(self._raised):
            response = super().send(request, **kwargs)
        if response.status_code == 500 and self._raised:
            exc = self._raised[0]
            self._raised.clear()
            raise exc
        self._raised.clear()
        return response

    def websocket_connect(self, url: str, subprotocols: list[str] | None = None,
                          headers: dict[str, str] | None = None) -> WebSocketTestSession:
        """A WebSocket to url on the App (a context manager): refused
        (the handler closed before accepting) → WebSocketDisconnect."""
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect

        port = self._serving_port()
        target = self.build_request("GET", url).url
        # To the App's port, under the base URL's host (the Host header).
        sock = socket.create_connection(("127.0.0.1", port))
        try:
            conn = connect(str(target.copy_with(scheme="ws")), sock=sock,
                           subprotocols=subprotocols,  # type: ignore[arg-type]
                           additional_headers=headers or {})
        except InvalidStatus as e:
            sock.close()
            raise WebSocketDisconnect(1000, f"refused: HTTP {e.response.status_code}") from None
        return WebSocketTestSession(conn)

    def __enter__(self) -> TestClient:
        super().__enter__()
        self._serving_port()
        return self

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        self._stop()

    def close(self) -> None:
        super().close()
        self._stop()

    def _stop(self) -> None:
        with self._lock:
            if self._started:
                self._started = False
                self.app.stop()  # the lifespan's shutdown


class WebSocketTestSession:
    """Starlette's test WebSocket: send_text/bytes/json, receive_text/
    bytes/json, close. A receive after the server closed raises
    WebSocketDisconnect with its code and reason."""

    __test__ = False

    def __init__(self, conn: Any) -> None:
        self._conn = conn.__enter__()  # closed by close(), as its context would

    def __enter__(self) -> WebSocketTestSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def send_text(self, data: str) -> None:
        self._conn.send(data)

    def send_bytes(self, data: bytes) -> None:
        self._conn.send(data)

    def send_json(self, data: Any, mode: str = "text") -> None:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        self._conn.send(text if mode == "text" else text.encode())

    def _receive(self) -> str | bytes:
        from websockets.exceptions import ConnectionClosed

        try:
            message: str | bytes = self._conn.recv()
        except ConnectionClosed as e:
            code = e.rcvd.code if e.rcvd is not None else 1006
            reason = e.rcvd.reason if e.rcvd is not None else ""
            raise WebSocketDisconnect(code, reason) from None
        return message

    def receive_text(self) -> str:
        message = self._receive()
        if not isinstance(message, str):
            raise TypeError("expected a text message, got a binary one")
        return message

    def receive_bytes(self) -> bytes:
        message = self._receive()
        if not isinstance(message, bytes):
            raise TypeError("expected a binary message, got a text one")
        return message

    def receive_json(self, mode: str = "text") -> Any:
        return json.loads(self.receive_text() if mode == "text" else self.receive_bytes())

    def close(self, code: int = 1000, reason: str | None = None) -> None:
        self._conn.close(code, reason or "")
