"""GZipMiddleware (Starlette's, by app.add_middleware) over JSON, text,
excluded and already-encoded answers."""

from fastapi import FastAPI
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.responses import PlainTextResponse, Response

app = FastAPI()
app.add_middleware(GZipMiddleware, minimum_size=100, compresslevel=6)


@app.get("/big")
def big():
    return {"words": ["turbo"] * 50}


@app.get("/small")
def small():
    return {"words": ["turbo"]}


@app.get("/text")
def text():
    return PlainTextResponse("lorem ipsum " * 40)


@app.get("/png")
def png():
    return Response(b"\x89PNG" * 100, media_type="image/png")


@app.get("/encoded")
def encoded():
    return Response(b"x" * 300, media_type="text/plain", headers={"Content-Encoding": "br"})


@app.get("/vary")
def vary():
    return PlainTextResponse("v" * 200, headers={"Vary": "Cookie"})
