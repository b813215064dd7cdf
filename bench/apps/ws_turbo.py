"""bench/ws.sh on libturbo's Python binding (`python -m turbo ws_turbo:app
--threads 1`): the same three routes as bench/ws_server.c and
bench/apps/ws_fastapi.py.

  GET  /ws       a WebSocket that echoes every text message;
  GET  /sse      an EventSourceResponse fed by the subscriber's own
                 asyncio.Queue, filed in SUBSCRIBERS while it streams;
  GET  /ws/sub   a WebSocket subscriber, filed in WS_SUBSCRIBERS while open;
  POST /publish  puts one event in every SSE subscriber's queue, sends its
                 32 bytes to every WebSocket subscriber, and answers how
                 many subscribers there are.
"""
import asyncio

from turbo import App, EventSourceResponse, StreamingResponse, WebSocket

app = App()
SUBSCRIBERS: set[asyncio.Queue] = set()
WS_SUBSCRIBERS: set[WebSocket] = set()
EVENT = "0123456789abcdef0123456789abcdef"


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@app.get("/sse")
async def subscribe():
    queue: asyncio.Queue = asyncio.Queue()
    SUBSCRIBERS.add(queue)  # before the head goes: a publish after it reaches this one

    async def events():
        try:
            while True:
                yield await queue.get()
        finally:
            SUBSCRIBERS.discard(queue)

    return EventSourceResponse(events())


@app.websocket("/ws/sub")
async def ws_subscribe(websocket: WebSocket):
    await websocket.accept()
    WS_SUBSCRIBERS.add(websocket)
    try:
        async for _ in websocket.iter_text():
            pass
    finally:
        WS_SUBSCRIBERS.discard(websocket)


@app.post("/publish")
async def publish():
    for queue in SUBSCRIBERS:
        queue.put_nowait(EVENT)
    for websocket in list(WS_SUBSCRIBERS):
        await websocket.send_text(EVENT)
    return str(len(SUBSCRIBERS) + len(WS_SUBSCRIBERS))


@app.get("/sse/stream")
async def subscribe_plain():
    """The same stream as a plain StreamingResponse, as the FastAPI app
    sends it: no per-event ping timer (EventSourceResponse has one)."""
    queue: asyncio.Queue = asyncio.Queue()
    SUBSCRIBERS.add(queue)

    async def events():
        try:
            while True:
                yield b"data: " + (await queue.get()).encode() + b"\n\n"
        finally:
            SUBSCRIBERS.discard(queue)

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})
