"""response_class= on routes and default_response_class on the app."""

import datetime
from typing import Optional

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, ORJSONResponse, PlainTextResponse, RedirectResponse
from pydantic import BaseModel


class Item(BaseModel):
    name: str
    tags: list[str] = []
    note: Optional[str] = None


app = FastAPI(default_response_class=ORJSONResponse)


@app.get("/default")
def default():
    return {"a": [1, 2.5, None], "b": "héllo"}


@app.get("/html", response_class=HTMLResponse)
def html():
    return "<h1>Hi</h1>"


@app.get("/text", response_class=PlainTextResponse, status_code=202)
async def text():
    return "accepted"


@app.get("/model", response_class=ORJSONResponse, response_model=Item)
def model():
    return {"name": "x", "tags": ["t"], "extra": "dropped"}


@app.get("/go", response_class=RedirectResponse)
def go():
    return "/default"


@app.get("/explicit")
def explicit():
    return PlainTextResponse("as returned", status_code=201)


class Login(BaseModel):
    name: str
    password: str


@app.post("/login", response_class=ORJSONResponse, response_model=Item)
def login(body: Login):
    return body  # the password is not in the response model: filtered out


class Missing(BaseModel):
    detail: str


@app.get("/page", response_class=HTMLResponse, responses={404: {"model": Missing}})
def page():
    return "<p>page</p>"


@app.get("/odd")
def odd():
    # handed to ORJSONResponse in jsonable_encoder's form: NaN stays a float
    # (orjson writes null), bytes become text, int keys stay ints
    return {"nan": float("nan"), "raw": b"by", 1: "one", "when": datetime.date(2024, 1, 2)}
