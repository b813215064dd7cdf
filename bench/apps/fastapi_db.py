"""The TechEmpower database tests on FastAPI + asyncpg: the peer of
examples/techempower_pg (turbo-techempower-pg) in bench/db.sh.

    GET /plaintext           "Hello, World!" as text/plain
    GET /json                {"message":"Hello, World!"}, serialized per request
    GET /db                  one random World row: {"id":N,"randomNumber":M}
    GET /queries?queries=N   N rows, one query each, as a JSON array
    GET /fortunes            the Fortune table plus one row, sorted, as HTML
    GET /updates?queries=N   N rows read, given new random numbers, written

The answers are byte for byte the C example's (bench/db.sh compares them):
the same JSON without spaces, the same clamping of `queries` (missing,
empty or not an integer: 1; below 1: 1; above 500: 500), the same escaping
in the fortunes page, and /updates takes distinct ids in ascending order,
so concurrent updates lock rows in one order and cannot deadlock.

The database: DATABASE_URL (a postgresql:// URL, as bench/tfb/db.sh
prints it) when set; otherwise asyncpg reads PGHOST, PGPORT, PGDATABASE and PGUSER, as
scripts/pg-cluster.sh prints them. One uvicorn worker has one event loop,
so one pool serves every request; DB_POOL_SIZE connections (default 32)
let that many requests wait on PostgreSQL at once while the rest queue
for a connection in the loop, not in PostgreSQL. asyncpg prepares each
statement once per connection and reuses it; the reset query asyncpg runs
when a connection returns to the pool is skipped (keep_session below).

The JSON answers are JSONResponse objects built directly: FastAPI's
fastest ordinary path (no response model, no jsonable_encoder pass), so
the peer is not handicapped by convenience it does not need.

    uvicorn fastapi_db:app --loop uvloop --http httptools --workers 1
"""
import os
import random
import re
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse

WORLD_ROWS = 10000
MAX_QUERIES = 500
SQL_WORLD = "SELECT id, randomNumber FROM World WHERE id = $1"
SQL_FORTUNES = "SELECT id, message FROM Fortune"
SQL_UPDATE = "UPDATE World SET randomNumber = $2 WHERE id = $1"
EXTRA_FORTUNE = (0, "Additional fortune added at request time.")

pool = None


async def keep_session(_conn):
    """asyncpg's pool, by default, sends "SELECT pg_advisory_unlock_all();
    CLOSE ALL; UNLISTEN *; RESET ALL" each time a connection goes back: a
    second round trip per request. This app leaves nothing in a session to
    undo (no locks, cursors, LISTEN or SET), so it skips it: on /db that
    roughly halved PostgreSQL's CPU per request (75-120 -> 35-75 µs) and
    took some of the server's too."""


@asynccontextmanager
async def lifespan(_app):
    global pool
    size = int(os.environ.get("DB_POOL_SIZE", "32"))
    pool = await asyncpg.create_pool(os.environ.get("DATABASE_URL"), min_size=size, max_size=size, reset=keep_session)
    yield
    await pool.close()


app = FastAPI(lifespan=lifespan)

INTEGER = re.compile(r"[+-]?[0-9]+")


def queries_param(value):
    """TechEmpower's rule, as the C example applies it. Python's int()
    alone would also take " 5", "1_0" and other forms the C side refuses."""
    if value is None or not INTEGER.fullmatch(value):
        return 1
    return min(max(int(value), 1), MAX_QUERIES)


def random_id():
    return random.randint(1, WORLD_ROWS)


@app.get("/plaintext")
async def plaintext():
    return PlainTextResponse(b"Hello, World!")


@app.get("/json")
async def json():
    return JSONResponse({"message": "Hello, World!"})


@app.get("/db")
async def db():
    async with pool.acquire() as conn:
        row = await conn.fetchrow(SQL_WORLD, random_id())
    return JSONResponse({"id": row[0], "randomNumber": row[1]})


@app.get("/queries")
async def queries(queries: str | None = None):
    n = queries_param(queries)
    async with pool.acquire() as conn:
        stmt = await conn.prepare(SQL_WORLD)
        rows = [await stmt.fetchrow(random_id()) for _ in range(n)]
    return JSONResponse([{"id": r[0], "randomNumber": r[1]} for r in rows])


ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})


@app.get("/fortunes")
async def fortunes():
    async with pool.acquire() as conn:
        rows = [tuple(r) for r in await conn.fetch(SQL_FORTUNES)]
    rows.append(EXTRA_FORTUNE)
    rows.sort(key=lambda r: r[1])  # code point order: the C side's byte order in UTF-8
    body = "".join(f"<tr><td>{i}</td><td>{m.translate(ESCAPES)}</td></tr>" for i, m in rows)
    return HTMLResponse("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                        "<tr><th>id</th><th>message</th></tr>" + body + "</table></body></html>")


@app.get("/updates")
async def updates(queries: str | None = None):
    ids = sorted(random.sample(range(1, WORLD_ROWS + 1), queries_param(queries)))
    async with pool.acquire() as conn:
        stmt = await conn.prepare(SQL_WORLD)
        worlds = []
        for i in ids:
            old = (await stmt.fetchrow(i))[1]
            new = random_id()
            while new == old:
                new = random_id()
            worlds.append((i, new))
        await conn.executemany(SQL_UPDATE, worlds)
    return JSONResponse([{"id": i, "randomNumber": n} for i, n in worlds])
