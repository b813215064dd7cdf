"""Request bodies validated by pydantic models, and models returned."""

from typing import Optional

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
