"""An async def app on turbo with asyncpg: a connection pool made in the
App's lifespan, handlers that await it. TechEmpower's /db, /queries and
/fortunes over the schema scripts/pg-cluster.sh loads.

    dir=$(mktemp -d) && chmod 755 "$dir"
    export $(scripts/pg-cluster.sh start "$dir/pg")
    .venv/bin/python -m turbo examples.python_async_pg.app:app --port 8000
    curl -s http://127.0.0.1:8000/db

The pool reads libpq's environment (PGHOST, PGPORT, PGDATABASE, PGUSER),
which `scripts/pg-cluster.sh start` prints.
"""

import html
import os
import random
from contextlib import asynccontextmanager

import asyncpg

from turbo import App, HTTPException, Response

POOL_SIZE = int(os.environ.get("DB_POOL_SIZE", "16"))


@asynccontextmanager
async def lifespan(app):
    # Made on the loop the handlers await on (one per I/O thread; one per
    # worker process by default), closed when the server has stopped.
    pool = await asyncpg.create_pool(min_size=1, max_size=POOL_SIZE)
    yield {"pool": pool}
    await pool.close()


app = App(lifespan=lifespan)


def _count(queries: str) -> int:
    try:
        n = int(queries)
    except ValueError:
        return 1
    return min(max(n, 1), 500)


@app.get("/db")
async def db():
    row = await app.state.pool.fetchrow(
        "SELECT id, randomnumber FROM world WHERE id = $1", random.randint(1, 10000))
    return {"id": row[0], "randomNumber": row[1]}


@app.get("/queries")
async def queries(queries: str = "1"):
    ids = random.sample(range(1, 10001), _count(queries))
    async with app.state.pool.acquire() as conn:
        stmt = await conn.prepare("SELECT id, randomnumber FROM world WHERE id = $1")
        return [{"id": i, "randomNumber": (await stmt.fetchrow(i))[1]} for i in ids]


@app.get("/world/{world_id}")
async def world(world_id: int):
    row = await app.state.pool.fetchrow(
        "SELECT id, randomnumber FROM world WHERE id = $1", world_id)
    if row is None:
        raise HTTPException(404, f"no world {world_id}")
    return {"id": row[0], "randomNumber": row[1]}


@app.get("/fortunes")
async def fortunes():
    rows = [tuple(r) for r in await app.state.pool.fetch("SELECT id, message FROM fortune")]
    rows.append((0, "Additional fortune added at request time."))
    rows.sort(key=lambda r: r[1])
    cells = "".join(f"<tr><td>{i}</td><td>{html.escape(m, quote=True)}</td></tr>"
                    for i, m in rows)
    page = ("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
            "<tr><th>id</th><th>message</th></tr>" + cells + "</table></body></html>")
    return Response(page, media_type="text/html")
