"""The FastAPI surface benchmark's app (bench/fastapi.sh, issue 15).

Written for FastAPI; turbo serves the same file with its import line
switched (BENCH_SERVER=turbo), as a user porting the app would. Two
routes, each as `async def` (FastAPI's recommended form) and as `def`:

  POST /items, /items_sync: a 10-field pydantic model body, validated,
      echoed through response_model (validated and filtered again).
  GET /me, /me_sync: two Depends (one nested in the other) and a Header.
"""

import os
from typing import Annotated

from pydantic import BaseModel

if os.environ.get("BENCH_SERVER") == "turbo":
    from turbo import Depends, FastAPI, Header, HTTPException
else:
    from fastapi import Depends, FastAPI, Header, HTTPException


class Item(BaseModel):
    id: int
    name: str
    description: str | None = None
    price: float
    tax: float | None = None
    quantity: int = 1
    tags: list[str] = []
    in_stock: bool = True
    rating: float = 0.0
    sku: str


app = FastAPI()


@app.post("/items", response_model=Item)
async def create_item(item: Item):
    return item


@app.post("/items_sync", response_model=Item)
def create_item_sync(item: Item):
    return item


USERS = {"t0k3n": {"id": 7, "name": "alice", "role": "admin"}}


def settings():
    return {"region": "eu"}


def current_user(x_token: Annotated[str, Header()], cfg: Annotated[dict, Depends(settings)]):
    user = USERS.get(x_token)
    if user is None:
        raise HTTPException(status_code=401, detail="bad token")
    return user


@app.get("/me")
async def me(user: Annotated[dict, Depends(current_user)], cfg: Annotated[dict, Depends(settings)],
             user_agent: Annotated[str | None, Header()] = None):
    return {"user": user["name"], "region": cfg["region"], "agent": user_agent}


@app.get("/me_sync")
def me_sync(user: Annotated[dict, Depends(current_user)], cfg: Annotated[dict, Depends(settings)],
            user_agent: Annotated[str | None, Header()] = None):
    return {"user": user["name"], "region": cfg["region"], "agent": user_agent}
