"""WebSocket and Server-Sent Events against clients that are not ours:
Node's `ws` package (npm, pinned in tests/clients/ws_node) and headless
Chromium (Debian's `chromium`) running tests/clients/browser/page.html,
which opens a WebSocket and an EventSource to this server and reports
what it received."""

import asyncio
import hashlib
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT
from turbo import App, EventSourceResponse, Response, WebSocket, WebSocketDisconnect

CLIENTS = os.path.join(REPO_ROOT, "tests", "clients")
PAGE = os.path.join(CLIENTS, "browser", "page.html")


def make_app():
    app = App()

    @app.get("/page.html")
    def page():
        with open(PAGE, "rb") as f:
            return Response(f.read(), media_type="text/html")

    @app.websocket("/ws")
    async def echo(websocket: WebSocket):
        await websocket.accept()
        try:
            while True:
                msg = await websocket.receive()
                if msg["type"] == "websocket.disconnect":
                    return
                if "text" in msg:
                    await websocket.send_text(msg["text"])
                else:
                    await websocket.send_bytes(msg["bytes"])
        except WebSocketDisconnect:
            pass

    @app.get("/sse")
    async def sse():
        async def gen():
            for i in range(3):
                await asyncio.sleep(0.01)
                yield {"event": "tick", "id": str(i), "data": f"tick {i}"}
            await asyncio.sleep(3600)  # the page closes it
        return EventSourceResponse(gen(), ping=1)

    return app


@pytest.fixture(scope="module")
def node_client(tmp_path_factory):
    if not shutil_which("node") or not shutil_which("npm"):
        pytest.fail("node and npm are installed by scripts/install-deps.sh")
    dest = os.path.join(REPO_ROOT, "build", "clients", "ws_node")
    subprocess.run([os.path.join(CLIENTS, "ws_node", "install.sh"), dest], check=True,
                   timeout=300, env=client_env())
    return os.path.join(dest, "ws_client.js")


def client_env():
    """The environment for the clients: not ours, so without the sanitizer
    runtime a sanitizer run preloads into the test's process."""
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "ASAN_OPTIONS",
                                                            "UBSAN_OPTIONS")}


def shutil_which(name):
    import shutil
    return shutil.which(name)


SCRIPT = [{"text": "hello"}, {"text": "κόσμε 😀"}, {"binary_len": 256},
          {"binary_len": 65536}, {"text_len": 65536}, {"ping": "p"}, {"wait": 5},
          {"close": 1000, "reason": "done"}]
EXPECTED = [("text", "hello".encode()), ("text", "κόσμε 😀".encode()),
            ("binary", bytes(i % 251 for i in range(256))),
            ("binary", bytes(i % 251 for i in range(65536))),
            ("text", bytes(97 + i % 26 for i in range(65536)))]


def test_node_ws_client_gets_every_message_back(server, node_client, tmp_path):
    script = tmp_path / "script.json"
    script.write_text(json.dumps(SCRIPT))
    r = subprocess.run(["node", node_client, f"ws://127.0.0.1:{server.port}/ws",
                        "--script", str(script), "--timeout", "20000"],
                       capture_output=True, text=True, timeout=60, env=client_env())
    assert r.returncode == 0, (r.stdout, r.stderr)
    lines = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    got = [(x["type"], x["len"], x["sha256"]) for x in lines if x["event"] == "message"]
    assert got == [(t, len(b), hashlib.sha256(b).hexdigest()) for t, b in EXPECTED]
    assert {"event": "pong", "data": "p"} in lines
    # ws offers permessage-deflate; the server declines it, as allowed.
    assert [x for x in lines if x["event"] == "open"][0]["extensions"] == ""
    assert lines[-1]["event"] == "close" and lines[-1]["code"] == 1000


def test_chromium_page_gets_websocket_echo_and_server_sent_events(server):
    if not shutil_which("chromium"):
        pytest.fail("chromium is installed by scripts/install-deps.sh")
    url = f"http://127.0.0.1:{server.port}/page.html?ws=/ws&sse=/sse&ssen=3&sseevents=tick"
    r = subprocess.run([sys.executable, os.path.join(CLIENTS, "browser", "run_browser.py"), url,
                        "--timeout", "60"], capture_output=True, text=True, timeout=120,
                       env=client_env())
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    result = json.loads(r.stdout)
    assert result["ws"]["open"] and result["ws"]["close"]["code"] == 1000
    assert [e["data"] for e in result["sse"]["events"]] == ["tick 0", "tick 1", "tick 2"]
