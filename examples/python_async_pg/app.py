"""An async def service on turbo with asyncpg: a small item store. The
connection pool is made in the App's lifespan, on the event loop the
handlers await on, and closed when the server stops.

    POST /items              {"name": "pen", "price": 1.5} -> 201 and the item
    GET  /items/{item_id}    the item, or 404
    GET  /items?limit=N      the newest N items (default 10, at most 100)

Against a throwaway cluster (libpq's environment: PGHOST, PGPORT,
PGDATABASE, PGUSER, as scripts/pg-cluster.sh prints them):

    dir=$(mktemp -d) && chmod 755 "$dir"
    export $(scripts/pg-cluster.sh start "$dir/pg")
    PYTHONPATH=build/bindings/python .venv/bin/python -m turbo examples.python_async_pg.app:app
    curl -s -d '{"name": "pen", "price": 1.5}' http://127.0.0.1:8000/items
"""

from contextlib import asynccontextmanager

import asyncpg

from turbo import App, HTTPException, JSONResponse, Request

SCHEMA = """CREATE TABLE IF NOT EXISTS item (
    id serial PRIMARY KEY,
    name text NOT NULL,
    price double precision NOT NULL CHECK (price >= 0))"""


@asynccontextmanager
async def lifespan(app):
    pool = await asyncpg.create_pool(min_size=1, max_size=16)
    async with pool.acquire() as conn:
        await conn.execute(SCHEMA)
    yield {"pool": pool}  # app.state.pool, on this loop
    await pool.close()


app = App(lifespan=lifespan)


def as_item(row):
    return {"id": row["id"], "name": row["name"], "price": row["price"]}


@app.post("/items")
async def create_item(request: Request):
    try:
        data = request.json()
    except ValueError:
        raise HTTPException(400, "the body is not JSON")
    if not isinstance(data, dict):
        raise HTTPException(422, "the body must be a JSON object")
    name, price = data.get("name"), data.get("price")
    if not isinstance(name, str) or not name:
        raise HTTPException(422, "name: a non-empty string is required")
    if isinstance(price, bool) or not isinstance(price, (int, float)) or price < 0:
        raise HTTPException(422, "price: a number >= 0 is required")
    row = await app.state.pool.fetchrow(
        "INSERT INTO item (name, price) VALUES ($1, $2) RETURNING id, name, price",
        name, float(price))
    return JSONResponse(as_item(row), status_code=201)


@app.get("/items/{item_id}")
async def get_item(item_id: int):
    row = await app.state.pool.fetchrow("SELECT id, name, price FROM item WHERE id = $1", item_id)
    if row is None:
        raise HTTPException(404, f"no item {item_id}")
    return as_item(row)


@app.get("/items")
async def list_items(limit: int = 10):
    rows = await app.state.pool.fetch(
        "SELECT id, name, price FROM item ORDER BY id DESC LIMIT $1", min(max(limit, 1), 100))
    return [as_item(r) for r in rows]
