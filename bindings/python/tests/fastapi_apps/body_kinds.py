"""Request bodies of every kind FastAPI reads as JSON: lists of models,
dataclasses, TypedDicts, plain values with Body(), embedded and several
body parameters, Body's defaults, aliases, constraints and examples."""

from dataclasses import dataclass
from typing import Annotated, Optional

from typing_extensions import TypedDict

from fastapi import Body, FastAPI
from pydantic import BaseModel, Field, field_validator


class Item(BaseModel):
    name: str
    price: float = Field(gt=0)


class User(BaseModel):
    username: str
    full_name: Optional[str] = None


@dataclass
class Point:
    x: int
    y: int = 0


class Movie(TypedDict):
    title: str
    year: int


app = FastAPI()


@app.post("/items")
def create_items(items: list[Item]):
    return {"count": len(items), "total": sum(i.price for i in items)}


@app.post("/points")
def point(p: Point):
    return {"x": p.x, "y": p.y, "kind": type(p).__name__}


@app.post("/movies")
def movie(m: Movie):
    return {"title": m["title"], "year": m["year"]}


@app.post("/scores")
def scores(s: dict[str, int]):
    return {"sum": sum(s.values())}


@app.post("/importance")
def importance(importance: int = Body()):
    return {"importance": importance}


@app.post("/embedded")
def embedded(item: Item = Body(embed=True)):
    return {"name": item.name}


@app.put("/items/{item_id}")
def update(item_id: int, item: Item, user: User, importance: Annotated[int, Body(gt=0)] = 1):
    return {"id": item_id, "item": item.model_dump(), "user": user.model_dump(),
            "importance": importance}


@app.post("/aliased")
def aliased(text: str = Body(alias="the-text", min_length=2, examples=["hello"]),
            count: int = Body(3, le=10, title="How many", description="times")):
    return {"text": text * count}


@app.post("/optional-plain")
def optional_plain(note: Optional[str] = Body(None)):
    return {"note": note}


class Even(BaseModel):
    n: int

    @field_validator("n")
    @classmethod
    def even(cls, v):
        if v % 2:
            raise ValueError("n must be even")
        return v


@app.post("/even")
def even(e: Even):
    return {"n": e.n}
