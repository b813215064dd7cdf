"""A FastAPI app served unchanged by turbo (ASGI) and uvicorn in
test_frameworks.py: lifespan, path and query parameters, a pydantic body
(and its 422), a sync route (FastAPI's thread pool), HTTPException, a
streamed response, background tasks, cookies and a redirect."""

import asyncio
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI, HTTPException, Request, Response
from fastapi.responses import PlainTextResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel

EVENTS = []


@asynccontextmanager
async def lifespan(app):
    EVENTS.append("startup")
    yield {"db": "connected"}
    EVENTS.append("shutdown")


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@app.get("/")
async def root():
    return {"message": "Hello World"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str | None = None, limit: int = 10):
    return {"item_id": item_id, "q": q, "limit": limit}


@app.post("/items")
async def create_item(item: Item):
    return {"created": item.model_dump(), "total": item.price * 2}


@app.get("/sync")
def sync_route():
    return {"sync": True}


@app.get("/state")
async def state(request: Request):
    return {"db": request.state.db}


@app.get("/missing/{n}")
async def missing(n: int):
    raise HTTPException(status_code=404, detail=f"item {n} not found",
                        headers={"X-Missing": str(n)})


@app.get("/stream")
async def stream():
    async def gen():
        for i in range(4):
            await asyncio.sleep(0.01)
            yield f"part {i}\n"

    return StreamingResponse(gen(), media_type="text/plain")


@app.get("/later")
async def later(tasks: BackgroundTasks):
    tasks.add_task(asyncio.sleep, 0.01)
    return PlainTextResponse("queued")


@app.get("/cookie")
async def cookie(response: Response, request: Request):
    response.set_cookie("session", "abc", httponly=True)
    return {"had": request.cookies.get("session")}


@app.get("/go")
async def go():
    return RedirectResponse("/items/7?q=redirected")


@app.get("/wait")
async def wait(ms: int = 10):
    await asyncio.sleep(ms / 1000)
    return {"waited": ms}
