"""bench/ws.sh on FastAPI (uvicorn, granian): the same three routes as
bench/ws_server.c and bench/apps/ws_turbo.py.

  GET  /ws       a WebSocket that echoes every text message;
  GET  /sse      a StreamingResponse (text/event-stream) fed by the
                 subscriber's own asyncio.Queue, filed in SUBSCRIBERS
                 while it streams;
  POST /publish  puts one event in every subscriber's queue and answers
                 how many there are.
"""
import asyncio

from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, StreamingResponse

app = FastAPI()
SUBSCRIBERS: set[asyncio.Queue] = set()
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


@app.post("/publish")
async def publish():
    for queue in SUBSCRIBERS:
        queue.put_nowait(EVENT)
    return PlainTextResponse(str(len(SUBSCRIBERS)))
