"""A small app using the public API as a user would: test_typing.py checks
it with `mypy --strict`, which it must pass."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import turbo
from turbo import App, HTTPException, JSONResponse, Request, Response


@asynccontextmanager
async def lifespan(app: App) -> AsyncIterator[dict[str, int]]:
    yield {"answer": 42}


app = App(lifespan=lifespan, max_body_bytes=1 << 20)
ITEMS: dict[int, str] = {1: "pen"}


@app.get("/items/{item_id}")
def get_item(item_id: int, verbose: bool = False) -> dict[str, object]:
    if item_id not in ITEMS:
        raise HTTPException(404, detail="no such item")
    return {"id": item_id, "name": ITEMS[item_id], "verbose": verbose}


@app.post("/items")
async def add_item(request: Request) -> JSONResponse:
    data = request.json()
    ITEMS[len(ITEMS) + 1] = str(data["name"])
    return JSONResponse({"id": len(ITEMS)}, status_code=201, headers={"Location": "/items"})


@app.route("/echo", methods=["PUT", "PATCH"], blocking=True)
def echo(request: Request) -> Response:
    kind = request.headers.get("content-type", "application/octet-stream")
    return Response(request.body, media_type=kind)


docs = turbo.FastAPI(title="Shop", openapi_tags=[{"name": "items"}], docs_url=None)
router = turbo.APIRouter(prefix="/v1", tags=["v1"], responses={403: {"description": "no"}})


@docs.get("/items", tags=["items"], summary="List", description="All of them",
          deprecated=False, include_in_schema=True, name="list_items", operation_id="items",
          responses={404: {"description": "none"}}, response_description="The items")
def list_items() -> list[str]:
    return list(ITEMS.values())


@router.post("/ping", status_code=202, include_in_schema=False)
def ping() -> str:
    return "pong"


docs.include_router(router, tags=["outer"], deprecated=True)
schema: dict[str, object] = docs.openapi()


@app.on_event("startup")
def started() -> None:
    print("starting", turbo.__version__, app.port)


# The decorators hand the function back: it is still callable with its types.
item: dict[str, object] = get_item(1)

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=8000, workers=1)
