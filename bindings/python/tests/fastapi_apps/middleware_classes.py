"""Middleware written as Starlette's BaseHTTPMiddleware: a subclass with
its own options, and one made with dispatch=, nested with each other."""

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.middleware.base import BaseHTTPMiddleware


class StampMiddleware(BaseHTTPMiddleware):
    def __init__(self, app, header="X-Why", value="stamped"):
        super().__init__(app)
        self.header = header
        self.value = value

    async def dispatch(self, request, call_next):
        if request.headers.get("x-block") == "yes":
            return JSONResponse({"blocked": True}, status_code=403)
        response = await call_next(request)
        response.headers[self.header] = self.value
        return response


async def outer(request, call_next):
    response = await call_next(request)
    response.headers["X-Page"] = "outer saw " + response.headers.get("X-Why", "nothing")
    return response


app = FastAPI()
app.add_middleware(StampMiddleware, value="by class")
app.add_middleware(BaseHTTPMiddleware, dispatch=outer)


@app.get("/items/{item_id}")
def item(item_id: int):
    return {"id": item_id}


@app.post("/echo")
async def echo(body: dict):
    return body
