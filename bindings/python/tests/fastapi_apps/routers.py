"""Routes split across routers, with prefixes, nested and included twice."""

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException

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
