"""Depends: nested, async, cached per request, generators, classes,
their own query parameters and headers, and errors raised in them."""

from typing import Annotated, Optional

from fastapi import BackgroundTasks, Depends, FastAPI, Header, HTTPException, Request

app = FastAPI()
CALLS = []
CLOSED = []


def pagination(skip: int = 0, limit: int = 10):
    return {"skip": skip, "limit": limit}


async def token(x_token: Annotated[str, Header()]):
    if x_token != "secret":
        raise HTTPException(status_code=401, detail="bad token",
                            headers={"WWW-Authenticate": "Bearer"})
    return x_token


def user(tok: str = Depends(token)):
    return {"user": "alice", "token": tok}


def counter():
    CALLS.append(1)
    return len(CALLS)


def db():
    yield {"db": "open"}
    CLOSED.append(1)


async def adb(request: Request):
    yield {"method": request.method}


class Paging:
    def __init__(self, page: int = 1):
        self.page = page


@app.get("/items")
def items(page: dict = Depends(pagination), q: Optional[str] = None):
    return {"page": page, "q": q}


@app.get("/me")
async def me(u: Annotated[dict, Depends(user)], t: str = Depends(token)):
    return {"u": u, "t": t}


@app.get("/cached")
def cached(a: int = Depends(counter), b: int = Depends(counter),
           c: int = Depends(counter, use_cache=False)):
    return {"same": a == b, "fresh": c == a + 1}


@app.get("/db")
async def with_db(conn: dict = Depends(db), other: dict = Depends(adb)):
    return {"conn": conn, "other": other, "closed_before": len(CLOSED)}


@app.get("/class")
def klass(p: Annotated[Paging, Depends()]):
    return {"page": p.page}


@app.get("/both/{item_id}")
def both(item_id: int, page: dict = Depends(pagination)):
    return {"id": item_id, "page": page}


@app.get("/closed")
def closed():
    return {"closed": len(CLOSED)}


DONE = []


async def note(text: str):
    DONE.append(text)


def audit(tasks: BackgroundTasks, who: str = "anon"):
    tasks.add_task(note, "audit:" + who)
    return who


@app.post("/work")
def work(tasks: BackgroundTasks, who: str = Depends(audit)):
    tasks.add_task(note, "work")
    return {"queued": len(DONE), "who": who}


@app.get("/done")
def done():
    return {"done": DONE}
