"""bench/ws.sh on FastAPI (uvicorn, granian): the same three routes as
bench/ws_server.c and bench/apps/ws_turbo.py.

  GET  /ws       a WebSocket that echoes every text message;
  GET  /sse      a StreamingResponse (text/event-stream) fed by the
                 subscriber's own asyncio.Queue, filed in SUBSCRIBERS
                 while it streams;
  GET  /ws/sub   a WebSocket subscriber, filed in WS_SUBSCRIBERS while open;
  POST /publish  puts one event in every SSE subscriber's queue, sends its
                 32 bytes to every WebSocket subscriber, and answers how
                 many subscribers there are.
"""
import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, StreamingResponse

app = FastAPI()
SUBSCRIBERS: set[asyncio.Queue] = set()
WS_SUBSCRIBERS: set[WebSocket] = set()
EVENT = b"data: 0123456789abcdef0123456789abcdef\n\n"


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    try:
        while True:
            await websocket.send_text(await websocket.receive_text())
    except WebSocketDisconnect:
        pass


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

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


@app.websocket("/ws/sub")
async def ws_subscribe(websocket: WebSocket):
    await websocket.accept()
    WS_SUBSCRIBERS.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        WS_SUBSCRIBERS.discard(websocket)


@app.post("/publish")
async def publish():
    for queue in SUBSCRIBERS:
        queue.put_nowait(EVENT)
    text = EVENT[6:-2].decode()
    for websocket in list(WS_SUBSCRIBERS):
        await websocket.send_text(text)
    return PlainTextResponse(str(len(SUBSCRIBERS) + len(WS_SUBSCRIBERS)))
