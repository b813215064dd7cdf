"""Cookies and headers set on a returned Response, or on the temporal
`response: Response` parameter of a handler or a dependency."""

from typing import Annotated

from fastapi import Depends, FastAPI, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel


class Out(BaseModel):
    name: str


app = FastAPI()


def tag(response: Response):
    response.headers["X-Why"] = "from a dependency"
    return "tagged"


@app.get("/returned")
def returned():
    r = PlainTextResponse("hi")
    r.set_cookie("session", "abc", httponly=True, max_age=3600)
    return r


@app.get("/deleted")
def deleted():
    r = JSONResponse({"bye": True})
    r.delete_cookie("session")
    return r


@app.get("/temporal")
def temporal(response: Response):
    response.set_cookie("seen", "1")
    response.status_code = 202
    return {"message": "ok"}


@app.get("/temporal-status", status_code=201)
async def temporal_status(response: Response):
    response.status_code = 299  # the route's status_code wins
    response.headers["X-Why"] = "temporal"
    return {"ok": True}


@app.get("/temporal-model", response_model=Out)
def temporal_model(response: Response, t: Annotated[str, Depends(tag)]):
    response.set_cookie("m", "2", samesite="strict")
    return {"name": t, "dropped": 1}


@app.get("/temporal-returned")
def temporal_returned(response: Response):
    response.headers["X-Why"] = "merged"
    response.status_code = 500  # a returned Response keeps its own status
    return PlainTextResponse("own", status_code=203)
