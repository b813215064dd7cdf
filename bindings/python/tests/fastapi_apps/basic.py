"""Typed path and query parameters, HTTPException and JSONResponse: the
surface turbo covered before issue 15. Written against FastAPI; the
differential harness (test_fastapi_diff.py) also serves it with the import
line rewritten to `from turbo import ...`."""

from typing import Optional

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse

app = FastAPI()

ITEMS = {1: {"name": "hammer", "price": 9.5}, 2: {"name": "nail", "price": 0.05}}


@app.get("/")
def root():
    return {"hello": "world"}


@app.get("/items/{item_id}")
def read_item(item_id: int, verbose: bool = False):
    if item_id not in ITEMS:
        raise HTTPException(status_code=404, detail="Item not found")
    item = dict(ITEMS[item_id], id=item_id)
    if verbose:
        item["verbose"] = True
    return item


@app.get("/search")
def search(q: str, limit: int = 10, ratio: float = 0.5, tag: Optional[str] = None):
    return {"q": q, "limit": limit, "ratio": ratio, "tag": tag}


@app.get("/files/{file_path:path}")
def read_file(file_path: str):
    return {"file_path": file_path}


@app.post("/created")
def created():
    return JSONResponse({"created": True}, status_code=201)


@app.get("/teapot")
def teapot():
    raise HTTPException(status_code=418)


@app.get("/forbidden")
def forbidden():
    raise HTTPException(status_code=403, detail={"reason": "no", "codes": [1, 2]},
                        headers={"X-Why": "policy"})


@app.delete("/items/{item_id}")
def delete_item(item_id: int):
    return None


@app.get("/unicode")
def unicode():
    return {"text": "héllo wörld ✓", "list": [1, 2.5, None, True, "x"]}


@app.post("/made", status_code=201)
def made(n: int = 1):
    return {"made": n}


@app.get("/accepted", status_code=202)
async def accepted():
    return ["queued"]


@app.delete("/gone/{item_id}", status_code=204)
def gone(item_id: int):
    return None


@app.post("/overridden", status_code=201)
def overridden():
    return JSONResponse({"mine": True}, status_code=200)
