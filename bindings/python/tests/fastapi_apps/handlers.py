"""Exception handlers and an http middleware, as FastAPI apps write them."""

from typing import Optional

from fastapi import FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    price: float


class UnicornError(Exception):
    def __init__(self, name: str):
        self.name = name


class RareUnicornError(UnicornError):
    pass


class Teapot(Exception):
    pass


app = FastAPI()


@app.exception_handler(UnicornError)
async def unicorn_handler(request: Request, exc: UnicornError):
    return JSONResponse(status_code=418, content={"message": f"Oops! {exc.name} did something."})


@app.exception_handler(RequestValidationError)
async def validation_handler(request: Request, exc: RequestValidationError):
    return JSONResponse(status_code=400, content={"errors": len(exc.errors()),
                                                  "first": exc.errors()[0]["loc"],
                                                  "body": exc.body,
                                                  "detail": jsonable_encoder(exc.errors())})


@app.exception_handler(404)
def not_found_handler(request: Request, exc: HTTPException):
    return JSONResponse(status_code=404, content={"missing": exc.detail},
                        headers={"X-Why": "custom 404"})


@app.exception_handler(Teapot)
def teapot_handler(request: Request, exc: Teapot):
    return PlainTextResponse("short and stout", status_code=418)


@app.middleware("http")
async def add_header(request: Request, call_next):
    if request.headers.get("x-block") == "yes":
        return JSONResponse({"blocked": True}, status_code=403)
    response = await call_next(request)
    response.headers["X-Why"] = response.headers.get("X-Why", "middleware")
    return response


@app.get("/unicorns/{name}")
async def read_unicorn(name: str):
    if name == "yolo":
        raise UnicornError(name)
    if name == "rare":
        raise RareUnicornError(name)
    return {"unicorn_name": name}


@app.get("/items/{item_id}")
def read_item(item_id: int):
    if item_id == 3:
        raise HTTPException(status_code=404, detail="Item not found")
    if item_id == 4:
        raise HTTPException(status_code=409, detail="Conflict", headers={"X-Why": "conflict"})
    return {"item_id": item_id}


@app.get("/search")
def search(limit: int, ratio: float = 1.0, exact: bool = False):
    return {"limit": limit, "ratio": ratio, "exact": exact}


@app.post("/items")
def create_item(item: Item, note: Optional[str] = None):
    return {"name": item.name, "note": note}


@app.get("/teapot")
def teapot():
    raise Teapot()


@app.get("/text")
def text():
    return PlainTextResponse("plain")


@app.get("/greeting")
def greeting():
    return "hi"  # a JSON string, through the middleware too


@app.get("/greeting-bytes")
async def greeting_bytes():
    return b"hi"
