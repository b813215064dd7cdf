"""GET /hello for the benchmark, on FastAPI: `def` (run in a thread pool)
and `async def` (run on the event loop) variants."""
from fastapi import FastAPI

app_def = FastAPI()
app_async = FastAPI()


@app_def.get("/hello")
def hello_def():
    return {"message": "Hello, World!"}


@app_async.get("/hello")
async def hello_async():
    return {"message": "Hello, World!"}
