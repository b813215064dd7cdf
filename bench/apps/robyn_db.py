"""The TechEmpower tests on robyn (Rust HTTP server, Python handlers) +
asyncpg (bench/tfb/serve robyn), in build-bench/robyn-venv
(bench/requirements-robyn.txt).

    GET /plaintext /json /db /queries?queries=N /fortunes /updates?queries=N

Answers as bench/apps/fastapi_db.py gives them, with the same asyncpg pool
(DB_POOL_SIZE connections, no reset query) made in robyn's startup handler
on the worker's own event loop. Handlers are `async def` returning Response
objects with explicit Content-Type; JSON is serialized per request with
json.dumps.

    python robyn_db.py --processes 1 --workers 1 --disable-openapi   (ROBYN_PORT)
"""
import json
import os
import random
import re

import asyncpg
from robyn import Headers, Response, Robyn

WORLD_ROWS = 10000
MAX_QUERIES = 500
SQL_WORLD = "SELECT id, randomNumber FROM World WHERE id = $1"
SQL_FORTUNES = "SELECT id, message FROM Fortune"
SQL_UPDATE = "UPDATE World SET randomNumber = $2 WHERE id = $1"
EXTRA_FORTUNE = (0, "Additional fortune added at request time.")
INTEGER = re.compile(r"[+-]?[0-9]+")
ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})

app = Robyn(__file__)
pool = None


async def keep_session(_conn):
    """No session state to reset (see fastapi_db.keep_session)."""


@app.startup_handler
async def startup():
    global pool
    size = int(os.environ.get("DB_POOL_SIZE", "32"))
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=size, max_size=size, reset=keep_session)


def answer(body, media_type):
    return Response(status_code=200, headers=Headers({"Content-Type": media_type, "Server": "robyn"}), description=body)


def dumps(obj):
    return answer(json.dumps(obj, separators=(",", ":")), "application/json")


def queries_param(request):
    value = request.query_params.get("queries", None)
    if value is None or not INTEGER.fullmatch(value):
        return 1
    return min(max(int(value), 1), MAX_QUERIES)


def random_id():
    return random.randint(1, WORLD_ROWS)


@app.get("/plaintext")
async def plaintext(request):
    return answer("Hello, World!", "text/plain")


@app.get("/json")
async def json_(request):
    return dumps({"message": "Hello, World!"})


@app.get("/db")
async def db(request):
    async with pool.acquire() as conn:
        row = await conn.fetchrow(SQL_WORLD, random_id())
    return dumps({"id": row[0], "randomNumber": row[1]})


@app.get("/queries")
async def queries(request):
    n = queries_param(request)
    async with pool.acquire() as conn:
        stmt = await conn.prepare(SQL_WORLD)
        rows = [await stmt.fetchrow(random_id()) for _ in range(n)]
    return dumps([{"id": r[0], "randomNumber": r[1]} for r in rows])


@app.get("/fortunes")
async def fortunes(request):
    async with pool.acquire() as conn:
        rows = [tuple(r) for r in await conn.fetch(SQL_FORTUNES)]
    rows.append(EXTRA_FORTUNE)
    rows.sort(key=lambda r: r[1])
    body = "".join(f"<tr><td>{i}</td><td>{m.translate(ESCAPES)}</td></tr>" for i, m in rows)
    return answer("<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table>"
                  "<tr><th>id</th><th>message</th></tr>" + body + "</table></body></html>", "text/html; charset=utf-8")


@app.get("/updates")
async def updates(request):
    ids = sorted(random.sample(range(1, WORLD_ROWS + 1), queries_param(request)))
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
    return dumps([{"id": i, "randomNumber": n} for i, n in worlds])


if __name__ == "__main__":
    app.start(host=os.environ.get("ROBYN_HOST", "127.0.0.1"), port=int(os.environ.get("ROBYN_PORT", "8080")), _check_port=False)
