"""Routes split across routers, with prefixes, nested and included twice."""

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException
from fastapi.responses import HTMLResponse, PlainTextResponse

items = APIRouter(prefix="/items", tags=["items"])


@items.get("/")
def list_items(limit: int = 2):
    return list(range(limit))


@items.get("/{item_id}")
async def get_item(item_id: int):
    if item_id > 10:
        raise HTTPException(status_code=404, detail="no such item")
    return {"id": item_id}


@items.post("", status_code=201)
def create_item(name: str):
    return {"name": name}


users = APIRouter()


@users.get("/users/{name}")
def user(name: str, verbose: bool = False):
    return {"name": name, "verbose": verbose}


admin = APIRouter(prefix="/admin")
admin.include_router(users)


@admin.delete("/cache", status_code=204)
def clear():
    return None


app = FastAPI()
app.include_router(items)
app.include_router(admin, prefix="/v1")
app.include_router(users)


def require_key(x_key: str = Header()):
    if x_key != "k":
        raise HTTPException(status_code=403, detail="no key")


guarded = APIRouter(prefix="/guarded", dependencies=[Depends(require_key)])


@guarded.get("/thing", dependencies=[Depends(require_key)])
def thing():
    return {"thing": 1}


app.include_router(guarded)


# include_router's dependencies and default_response_class, nested: the
# order the dependencies run in is recorded and answered.
CALLS = []


def tracked(name):
    def dep():
        CALLS.append(name)
    return dep


inner = APIRouter(prefix="/inner", dependencies=[Depends(tracked("inner router"))],
                  default_response_class=PlainTextResponse)


@inner.get("/text", dependencies=[Depends(tracked("route"))])
def inner_text():
    order = list(CALLS)
    CALLS.clear()
    return " > ".join(order)


@inner.get("/html", response_class=HTMLResponse)
def inner_html():
    CALLS.clear()
    return "<b>html</b>"


outer = APIRouter(prefix="/outer", dependencies=[Depends(tracked("outer router"))])
outer.include_router(inner, dependencies=[Depends(tracked("inner include"))],
                     default_response_class=HTMLResponse)


@outer.get("/json")
def outer_json():
    CALLS.clear()
    return "json"


app.include_router(outer, dependencies=[Depends(tracked("outer include"))],
                   default_response_class=PlainTextResponse)
