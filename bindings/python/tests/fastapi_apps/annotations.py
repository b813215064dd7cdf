"""Return annotations as FastAPI takes them: any annotation but None or a
Response class is the response model (a list of models, a dict, a
TypedDict, a plain type), filtering and validating what the handler
returns; response_model=None turns that off; a str or bytes result with
no model is a JSON string."""

import asyncio
import datetime
from typing import Any, Optional

from typing_extensions import TypedDict

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class User(BaseModel):
    name: str
    email: str


class UserInDB(User):
    password: str


class Summary(TypedDict):
    count: int
    names: list[str]


USERS = [UserInDB(name="ann", email="a@x.org", password="s1"),
         UserInDB(name="bob", email="b@x.org", password="s2")]

app = FastAPI()


@app.get("/users")
def users() -> list[User]:
    return USERS  # the passwords are filtered out


@app.get("/users-async")
async def users_async() -> list[User]:
    await asyncio.sleep(0)
    return USERS


@app.get("/by-name")
def by_name() -> dict[str, User]:
    return {u.name: u for u in USERS}


@app.get("/counts")
def counts() -> dict[str, int]:
    return {"a": 1, "b": "2", "c": 3.0}  # coerced, as pydantic's lax mode does


@app.get("/counts-bad")
def counts_bad() -> dict[str, int]:
    return {"a": "many"}  # refused by the model: a 500


@app.get("/summary")
def summary() -> Summary:
    return {"count": 2, "names": ["ann", "bob"], "secret": "dropped"}  # type: ignore[typeddict-unknown-key]


@app.get("/maybe/{found}")
def maybe(found: bool) -> Optional[User]:
    return USERS[0] if found else None


@app.post("/made", status_code=201)
def made() -> User:
    return USERS[1]


@app.get("/when")
def when() -> datetime.date:
    return "2024-02-29"  # type: ignore[return-value] - validated into a date


@app.get("/number")
def number() -> float:
    return 3


@app.get("/annotated-str")
def annotated_str() -> str:
    return "hello"


@app.get("/plain-str")
def plain_str():
    return "hello \"world\""


@app.get("/plain-str-async")
async def plain_str_async():
    await asyncio.sleep(0)
    return "later"


@app.get("/plain-bytes")
def plain_bytes():
    return b"raw"


@app.get("/plain-str-status", status_code=202)
def plain_str_status():
    return "accepted"


@app.get("/any")
def anything() -> Any:
    return {"password": "kept", "n": 1}


@app.get("/no-model", response_model=None)
def no_model() -> User:
    return {"name": "ann", "email": "a@x.org", "password": "kept"}  # type: ignore[return-value]


@app.get("/model-over-annotation", response_model=list[User])
def model_over_annotation() -> Any:
    return USERS


@app.get("/response-annotation")
def response_annotation() -> JSONResponse:
    return JSONResponse({"password": "kept"}, status_code=203)


@app.get("/raises")
def raises() -> User:
    raise HTTPException(404, "no user")


@app.get("/nothing")
def nothing() -> None:
    return None
