"""GET /hello for the benchmark, on FastAPI: `def` (run in a thread pool)
and `async def` (run on the event loop) variants. `app_async` also has
GET /sleep, which awaits asyncio.sleep(0.05) before answering the same
body (bench/async.sh; the same routes as turbo_hello.app_async)."""
import asyncio

from fastapi import FastAPI

app_def = FastAPI()
app_async = FastAPI()


@app_def.get("/hello")
def hello_def():
    return {"message": "Hello, World!"}


@app_async.get("/hello")
async def hello_async():
    return {"message": "Hello, World!"}


@app_async.get("/sleep")
async def sleep():
    await asyncio.sleep(0.05)
    return {"message": "Hello, World!"}
