"""A Starlette app served unchanged by turbo (ASGI) and uvicorn in
test_frameworks.py: routes, lifespan state, a streamed response, a
request body, an exception handler."""

import asyncio
import contextlib

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route


@contextlib.asynccontextmanager
async def lifespan(app):
    yield {"greeting": "hello"}


async def home(request):
    return PlainTextResponse(f"{request.state.greeting} from Starlette")


async def echo(request):
    body = await request.body()
    return JSONResponse({"len": len(body), "ctype": request.headers.get("content-type"),
                         "head": body[:20].decode("latin-1")})


async def numbers(request):
    async def gen():
        for i in range(int(request.query_params.get("n", "3"))):
            await asyncio.sleep(0)
            yield f"{i},".encode()

    return StreamingResponse(gen(), media_type="text/csv")


async def teapot(request):
    raise HTTPException(status_code=418, detail="I'm a teapot, short and stout")


async def http_exception(request, exc):
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


app = Starlette(
    routes=[Route("/", home), Route("/echo", echo, methods=["POST"]),
            Route("/numbers", numbers), Route("/teapot", teapot)],
    lifespan=lifespan,
    exception_handlers={HTTPException: http_exception},
)
