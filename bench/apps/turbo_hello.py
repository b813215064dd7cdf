"""GET /hello for the benchmark, on libturbo's Python binding: `app`, a
`def` handler, and `app_async`, the same answer from an `async def` that
never suspends (its first step answers inline). `app_async` also has
GET /sleep, which awaits asyncio.sleep(0.05) before answering the same
body (bench/async.sh; the same routes as fastapi_hello.app_async)."""
import asyncio

from turbo import App

app = App()
app_async = App()


@app.get("/hello")
def hello():
    return {"message": "Hello, World!"}


@app_async.get("/hello")
async def hello_async():
    return {"message": "Hello, World!"}


@app_async.get("/sleep")
async def sleep():
    await asyncio.sleep(0.05)
    return {"message": "Hello, World!"}
