"""Generator endpoints, which FastAPI streams as JSON Lines: with and
without an item annotation (filtering through the item model), sync and
async, with parameters and a status code."""

import asyncio
from collections.abc import AsyncIterator, Iterator

from fastapi import Depends, FastAPI, Query
from pydantic import BaseModel


class User(BaseModel):
    name: str


class UserInDB(User):
    password: str


app = FastAPI()


def page_size(size: int = Query(2, ge=1, le=5)) -> int:
    return size


@app.get("/numbers")
def numbers(n: int = 3):
    for i in range(n):
        yield {"i": i, "half": i / 2, "name": "naïve"}


@app.get("/odd-values")
def odd_values():
    yield float("nan")
    yield [1, float("inf")]
    yield "text"
    yield None


@app.get("/users")
async def users(size: int = Depends(page_size)) -> AsyncIterator[User]:
    for i in range(size):
        await asyncio.sleep(0)
        yield UserInDB(name=f"u{i}", password="secret")


@app.post("/jobs", status_code=202)
def jobs() -> Iterator[dict[str, int]]:
    yield {"done": 1}
    yield {"done": "2"}  # coerced through the item type


@app.get("/empty")
async def empty() -> AsyncIterator[int]:
    return
    yield 0
