"""Query and Path with constraints, aliases and lists."""

from typing import Annotated, Optional

from fastapi import FastAPI, Path, Query

app = FastAPI()


@app.get("/search")
def search(q: Annotated[str, Query(min_length=3, max_length=10)],
           page: Annotated[int, Query(ge=1, le=100)] = 1,
           sort: Annotated[Optional[str], Query(pattern="^(asc|desc)$")] = None):
    return {"q": q, "page": page, "sort": sort}


@app.get("/tags")
def tags(tag: Annotated[list[str], Query()] = [], n: Annotated[list[int], Query()] = []):
    return {"tags": tag, "n": n}


@app.get("/aliased")
async def aliased(item_query: str = Query(None, alias="item-query"),
                  limit: float = Query(10, gt=0, lt=50)):
    return {"item": item_query, "limit": limit}


@app.get("/things/{thing_id}")
def thing(thing_id: Annotated[int, Path(gt=0, le=1000)], q: Optional[str] = None):
    return {"id": thing_id, "q": q}
