"""The TechEmpower database tests on libturbo's Python binding, `async def`
handlers with asyncpg: fastapi_db.py's handlers on turbo's App, for
bench/db.sh.

    GET /plaintext           "Hello, World!" as text/plain
    GET /json                {"message":"Hello, World!"}, serialized per request
    GET /db                  one random World row: {"id":N,"randomNumber":M}
    GET /queries?queries=N   N rows, one query each, as a JSON array
    GET /fortunes            the Fortune table plus one row, sorted, as HTML
    GET /updates?queries=N   N rows read, given new random numbers, written
                             in one executemany (fastapi_db.py's)

The answers are byte for byte the C example's and fastapi_db.py's (bench/db.sh
compares them), and the work per request is fastapi_db.py's: the same
statements, one pooled connection per request, prepared statements, no
reset query. Only the framework differs: each handler's first step runs on
the I/O thread that read the request, and it goes on, once it awaits
PostgreSQL, as a Task on that thread's own asyncio loop.

The pool is made by the App's lifespan on that loop (the one the handlers
await on) and put in `app.state`, which keeps one per loop: one I/O thread,
one loop, one pool of DB_POOL_SIZE connections (default 32). DATABASE_URL (a
postgresql:// URL, as bench/tfb/db.sh prints it) when set; otherwise asyncpg reads
PGHOST, PGPORT, PGDATABASE and PGUSER, as scripts/pg-cluster.sh prints them.

    python -m turbo turbo_db:app --threads 1
"""
import os
import random
import re
from contextlib import asynccontextmanager

import asyncpg
from turbo import App, Response

WORLD_ROWS = 10000
MAX_QUERIES = 500
SQL_WORLD = "SELECT id, randomNumber FROM World WHERE id = $1"
SQL_FORTUNES = "SELECT id, message FROM Fortune"
SQL_UPDATE = "UPDATE World SET randomNumber = $2 WHERE id = $1"
EXTRA_FORTUNE = (0, "Additional fortune added at request time.")


async def keep_session(_conn):
    """No reset query when a connection goes back (fastapi_db.py says why)."""


@asynccontextmanager
async def lifespan(_app):
    size = int(os.environ.get("DB_POOL_SIZE", "32"))
    pool = await asyncpg.create_pool(os.environ.get("DATABASE_URL"), min_size=size, max_size=size, reset=keep_session)
    yield {"pool": pool}
    await pool.close()


app = App(lifespan=lifespan)

INTEGER = re.compile(r"[+-]?[0-9]+")


def queries_param(value):
    """TechEmpower's rule, as the C example applies it (fastapi_db.py)."""
    if value is None or not INTEGER.fullmatch(value):
        return 1
    return min(max(int(value), 1), MAX_QUERIES)


def random_id():
    return random.randint(1, WORLD_ROWS)


@app.get("/plaintext")
async def plaintext():
    return Response(b"Hello, World!", media_type="text/plain")


@app.get("/json")
async def json():
    return {"message": "Hello, World!"}


@app.get("/db")
async def db():
    async with app.state.pool.acquire() as conn:
        row = await conn.fetchrow(SQL_WORLD, random_id())
    return {"id": row[0], "randomNumber": row[1]}


@app.get("/queries")
async def queries(queries: str | None = None):
    n = queries_param(queries)
    async with app.state.pool.acquire() as conn:
        stmt = await conn.prepare(SQL_WORLD)
        rows = [await stmt.fetchrow(random_id()) for _ in range(n)]
    return [{"id": r[0], "randomNumber": r[1]} for r in rows]


ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


@app.get("/fortunes")
async def fortunes():
    async with app.state.pool.acquire() as conn:
        rows = [tuple(r) for r in await conn.fetch(SQL_FORTUNES)]
    rows.append(EXTRA_FORTUNE)
    rows.sort(key=lambda r: r[1])  # code point order: the C side's byte order in UTF-8
    body = "".join(f"<tr><td>{i}</td><td>{m.translate(ESCAPES)}</td></tr>" for i, m in rows)
    return Response("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                    "<tr><th>id</th><th>message</th></tr>" + body + "</table></body></html>",
                    media_type="text/html")


@app.get("/updates")
async def updates(queries: str | None = None):
    ids = sorted(random.sample(range(1, WORLD_ROWS + 1), queries_param(queries)))
    async with app.state.pool.acquire() as conn:
        stmt = await conn.prepare(SQL_WORLD)
        worlds = []
        for i in ids:
            old = (await stmt.fetchrow(i))[1]
            new = random_id()
            while new == old:
                new = random_id()
            worlds.append((i, new))
        await conn.executemany(SQL_UPDATE, worlds)
    return [{"id": i, "randomNumber": n} for i, n in worlds]
