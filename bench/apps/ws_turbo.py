"""bench/ws.sh on libturbo's Python binding (`python -m turbo ws_turbo:app
--threads 1`): the same three routes as bench/ws_server.c and
bench/apps/ws_fastapi.py.

  GET  /ws       a WebSocket that echoes every text message;
  GET  /sse      an EventSourceResponse fed by the subscriber's own
                 asyncio.Queue, filed in SUBSCRIBERS while it streams;
  POST /publish  puts one event in every subscriber's queue and answers
                 how many there are.
"""
import asyncio

from turbo import App, EventSourceResponse, StreamingResponse, WebSocket

app = App()
SUBSCRIBERS: set[asyncio.Queue] = set()
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


@app.post("/publish")
async def publish():
    for queue in SUBSCRIBERS:
        queue.put_nowait(EVENT)
    return str(len(SUBSCRIBERS))


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
