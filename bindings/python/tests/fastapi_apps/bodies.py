"""Request bodies validated by pydantic models, and models returned."""

import datetime
import uuid
from typing import Optional, Union

from fastapi import FastAPI
from pydantic import BaseModel, Field


class Address(BaseModel):
    street: str
    zip: str = Field(min_length=5, max_length=5)


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)
    tags: list[str] = []
    address: Optional[Address] = None


app = FastAPI()


@app.post("/items")
def create_item(item: Item):
    return {"item": item.model_dump(), "total": item.price * 2}


@app.put("/items/{item_id}")
async def update_item(item_id: int, item: Item, notify: bool = False):
    return {"id": item_id, "name": item.name, "notify": notify}


@app.post("/echo")
def echo(item: Item) -> Item:
    return item


@app.post("/optional")
def optional(item: Optional[Item] = None):
    return {"given": item is not None}


@app.get("/model")
def model() -> Address:
    return Address(street="Main", zip="12345")


@app.post("/made", status_code=201)
def made(item: Item) -> Item:
    return item


class PublicUser(BaseModel):
    name: str
    email: Optional[str] = None
    nickname: Optional[str] = None


class PrivateUser(PublicUser):
    password: str


@app.get("/users/{name}", response_model=PublicUser)
def get_user(name: str):
    return {"name": name, "password": "hidden", "email": None}


@app.get("/users-lean/{name}", response_model=PublicUser, response_model_exclude_none=True)
def get_user_lean(name: str):
    return PrivateUser(name=name, password="x", email=None)


@app.get("/users-set/{name}", response_model=PublicUser, response_model_exclude_unset=True)
async def get_user_set(name: str):
    return PublicUser(name=name, email=None)


@app.get("/users-list", response_model=list[PublicUser])
def list_users():
    return [{"name": "a", "password": "p"}, PrivateUser(name="b", password="q")]


@app.get("/subclass")
def subclass() -> PublicUser:
    return PrivateUser(name="c", password="secret")


@app.get("/invalid-out", response_model=PublicUser)
def invalid_out():
    return {"nickname": "no name"}


# Bodies that turbo validates with pydantic's validate_json in one pass
# where FastAPI does json.loads and then validate_python: the corpus sends
# both JSON edge cases (duplicate keys, NaN, huge numbers, escapes, a BOM,
# UTF-16) to check that the fast path answers as FastAPI does.
class Mixed(BaseModel):
    i: int = 0
    f: float = 0.0
    s: str = ""
    b: bool = False
    ints: list[int] = []
    counts: dict[str, int] = {}
    address: Optional[Address] = None


@app.post("/mixed")
def mixed(m: Mixed) -> Mixed:
    return m


@app.post("/mixed-repr")
def mixed_repr(m: Mixed):
    return {"repr": repr(m)}


class StrictItem(BaseModel, strict=True):
    n: int
    when: Optional[str] = None


@app.post("/strict")
def strict(m: StrictItem) -> StrictItem:
    return m


# Smart-mode unions: pydantic's JSON mode would pick another member than
# FastAPI's Python mode for these strings, so they take FastAPI's path.
class Unions(BaseModel):
    when: Union[datetime.datetime, str] = ""
    day: Union[datetime.date, str] = ""
    key: Union[uuid.UUID, str] = ""
    either: Union[datetime.datetime, datetime.date, None] = None


@app.post("/unions")
def unions(u: Unions):
    return {"repr": repr(u)}
