"""Handlers against real servers the tests start (conftest.py): PostgreSQL
through asyncpg and psycopg 3 async (connections made in the lifespan, on
the loop the handlers await on), blocking psycopg on the blocking pool,
Redis through redis.asyncio, and an HTTP upstream through
httpx.AsyncClient. A client that leaves while its handler waits on the
server cancels the wait, and the driver's connection serves the next
request."""

import asyncio
import contextlib
import threading

import pytest

from conftest import (JSON, PG_ITEMS, TEXT, App, assert_json, assert_reply, dumps, fetch_all,
                      needs, request_bytes, start_app, wait_until)
from turbo import HTTPException, Response

asyncpg = needs("asyncpg")
httpx = needs("httpx")
psycopg = needs("psycopg")
redis = needs("redis", "redis.asyncio")

SEEN = []
FLAGS = {}


def flag(tag):
    return FLAGS.setdefault(tag, threading.Event())


def seen(tag):
    return [event for t, event in list(SEEN) if t == tag]


async def watched(tag, awaitable):
    """Awaits awaitable, telling the side channels what happened to it.
    The driver sends its command from the first step, on the I/O thread;
    the client may leave before the Task's own first step has run, which
    must cancel the coroutine all the same."""
    try:
        return await awaitable
    except asyncio.CancelledError:
        SEEN.append((tag, "cancelled"))
        raise
    except BaseException as e:
        SEEN.append((tag, "raised %r" % e))
        raise
    finally:
        SEEN.append((tag, "finally"))
        flag(tag).set()


# =============================================================================
# PostgreSQL from async handlers: asyncpg and psycopg 3
# =============================================================================

def make_pg_app(pg):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        # One connection each: a request after a cancelled query uses the
        # very connection the query ran on.
        pool = await asyncpg.create_pool(min_size=1, max_size=1, **pg.asyncpg_args())
        conn = await psycopg.AsyncConnection.connect(pg.conninfo, autocommit=True)
        try:
            yield {"pool": pool, "pg3": conn}
        finally:
            await conn.close()
            await pool.close()

    app = App(lifespan=lifespan)

    @app.get("/asyncpg/add/{n}")
    async def asyncpg_add(n: int):
        return {"n": n, "plus_one": await app.state.pool.fetchval("SELECT $1::int + 1", n)}

    @app.get("/asyncpg/item/{item_id}")
    async def asyncpg_item(item_id: int):
        row = await app.state.pool.fetchrow(
            "SELECT id, name, qty FROM turbo_item WHERE id = $1", item_id)
        if row is None:
            raise HTTPException(404, detail="no item %d" % item_id)
        return {"id": row["id"], "name": row["name"], "qty": row["qty"]}

    @app.get("/asyncpg/sleep/{tag}")
    async def asyncpg_sleep(tag: str):
        await watched(tag, app.state.pool.fetchval("SELECT pg_sleep(30) /* %s */" % tag))
        return "slept"

    @app.get("/pg3/add/{n}")
    async def pg3_add(n: int):
        cur = await app.state.pg3.execute("SELECT %s::int + 1", (n,))
        (value,) = await cur.fetchone()
        return {"n": n, "plus_one": value}

    @app.get("/pg3/item/{item_id}")
    async def pg3_item(item_id: int):
        cur = await app.state.pg3.execute(
            "SELECT id, name, qty FROM turbo_item WHERE id = %s", (item_id,))
        row = await cur.fetchone()
        if row is None:
            raise HTTPException(404, detail="no item %d" % item_id)
        return {"id": row[0], "name": row[1], "qty": row[2]}

    @app.get("/pg3/sleep/{tag}")
    async def pg3_sleep(tag: str):
        await watched(tag, app.state.pg3.execute("SELECT pg_sleep(30) /* %s */" % tag))
        return "slept"

    return app


@pytest.fixture(scope="module")
def pg_app(pg_cluster):
    app = make_pg_app(pg_cluster)
    start_app(app)
    yield app
    app.stop()


@pytest.fixture
def pg_probe(pg_cluster):
    """A connection of the test's own, to watch the server."""
    with psycopg.connect(pg_cluster.conninfo, autocommit=True) as conn:
        yield conn


def running_queries(probe, marker):
    """How many queries holding marker the server runs now (the probe's own
    excluded)."""
    (n,) = probe.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
        "AND pid <> pg_backend_pid() AND query LIKE %s", ("%" + marker + "%",)).fetchone()
    return n


DRIVERS = ["asyncpg", "pg3"]


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_round_trip(pg_app, connect, driver):
    c = connect(pg_app.port)
    assert_json(c.get("/%s/add/41" % driver), {"n": 41, "plus_one": 42})
    assert_json(c.get("/%s/add/-7" % driver), {"n": -7, "plus_one": -6})
    for item_id, name, qty in PG_ITEMS:
        assert_json(c.get("/%s/item/%d" % (driver, item_id)),
                    {"id": item_id, "name": name, "qty": qty})
    assert_reply(c.get("/%s/item/9" % driver), 404, JSON, dumps({"detail": "no item 9"}))


@pytest.mark.parametrize("driver", DRIVERS)
def test_many_at_once_share_the_connection(pg_app, driver):
    answers = fetch_all(pg_app.port, ["/%s/add/%d" % (driver, i) for i in range(50)])
    for i, a in enumerate(answers):
        assert (a.status, a.content_type, a.body) == (200, JSON, dumps({"n": i, "plus_one": i + 1}))


@pytest.mark.parametrize("driver", DRIVERS)
def test_a_client_that_leaves_cancels_the_query(pg_app, pg_probe, connect, raw, driver):
    """The handler waits on pg_sleep(30); its client leaves: CancelledError
    at the await, the query is cancelled on the server (gone long before
    its 30 s), and the same connection answers the next request."""
    tag = "cancel-" + driver
    c = raw(pg_app.port)
    c.send(request_bytes("/%s/sleep/%s" % (driver, tag)))
    assert wait_until(lambda: running_queries(pg_probe, tag) == 1, timeout=10)
    c.close()
    assert flag(tag).wait(10)
    assert seen(tag) == ["cancelled", "finally"]
    assert wait_until(lambda: running_queries(pg_probe, tag) == 0, timeout=10)
    client = connect(pg_app.port)
    assert_json(client.get("/%s/add/1" % driver), {"n": 1, "plus_one": 2})
    assert_json(client.get("/%s/item/2" % driver), {"id": 2, "name": "saw", "qty": 0})


# =============================================================================
# blocking psycopg on the blocking pool
# =============================================================================

def test_blocking_psycopg_on_the_pool_and_a_full_queue(serve, connect, pg_cluster, pg_probe):
    """One pool thread, a queue of one. A handler waits on an advisory lock
    the test holds (a real wait on the database): the thread is busy, one
    more request is queued, the next is refused at once with 503; once the
    lock goes, both waiting requests are answered."""
    app = App(blocking_threads=1, blocking_queue=1)
    local = threading.local()
    opened = []
    running = threading.Event()

    def conn():
        if not hasattr(local, "conn"):
            local.conn = psycopg.connect(pg_cluster.conninfo, autocommit=True)
            opened.append(local.conn)
        return local.conn

    @app.get("/item/{item_id}", blocking=True)
    def item(item_id: int):
        row = conn().execute("SELECT id, name, qty FROM turbo_item WHERE id = %s",
                             (item_id,)).fetchone()
        if row is None:
            raise HTTPException(404, detail="no item %d" % item_id)
        return {"id": row[0], "name": row[1], "qty": row[2]}

    @app.get("/locked/{n}", blocking=True)
    def locked(n: int):
        running.set()
        with conn().transaction():
            conn().execute("SELECT pg_advisory_xact_lock(4242)")
            (value,) = conn().execute("SELECT %s::int * 2", (n,)).fetchone()
        return {"n": n, "twice": value}

    serve(app)
    try:
        c = connect(app.port)
        for item_id, name, qty in PG_ITEMS:
            assert_json(c.get("/item/%d" % item_id), {"id": item_id, "name": name, "qty": qty})
        assert_reply(c.get("/item/9"), 404, JSON, dumps({"detail": "no item 9"}))

        replies = {}

        def call(n):
            replies[n] = connect(app.port, timeout=20).get("/locked/%d" % n)

        with pg_probe.transaction():
            pg_probe.execute("SELECT pg_advisory_xact_lock(4242)")
            first = threading.Thread(target=call, args=(1,))
            first.start()
            assert running.wait(10)  # the pool's one thread waits on the lock
            more = [threading.Thread(target=call, args=(n,)) for n in (2, 3)]
            for t in more:
                t.start()
            assert wait_until(lambda: len(replies) == 1, timeout=10), replies
            (refused,) = replies.values()
            assert_reply(refused, 503, TEXT, b"Service Unavailable\n")
            assert refused.header("Retry-After") == "1"
        # the lock is released with the probe's transaction
        for t in [first, *more]:
            t.join(20)
        done = {n: r for n, r in replies.items() if r.status == 200}
        assert len(done) == 2 and 1 in done
        for n, r in done.items():
            assert_json(r, {"n": n, "twice": 2 * n})
    finally:
        for cn in opened:
            cn.close()


# =============================================================================
# Redis: redis.asyncio
# =============================================================================

def make_redis_app(socket_path):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        client = redis.asyncio.Redis(unix_socket_path=socket_path)
        try:
            yield {"redis": client}
        finally:
            await client.aclose()

    app = App(lifespan=lifespan)

    @app.get("/kv/{key}")
    async def kv(key: str, value: str):
        r = app.state.redis
        await r.delete(key, key + ":n")
        assert await r.set(key, value) is True
        got = await r.get(key)
        counts = [await r.incr(key + ":n") for _ in range(3)]
        counts.append(await r.incrby(key + ":n", 10))
        return {"get": got.decode(), "incr": counts}

    @app.get("/blpop/{tag}")
    async def blpop(tag: str):
        await watched(tag, app.state.redis.blpop(["empty:" + tag], timeout=0))
        return "popped"

    return app


@pytest.fixture(scope="module")
def redis_app(redis_server):
    app = make_redis_app(redis_server)
    start_app(app)
    yield app
    app.stop()


def test_redis_round_trip(redis_app, connect):
    c = connect(redis_app.port)
    assert_json(c.get("/kv/greeting?value=h%C3%A9llo"), {"get": "h\u00e9llo", "incr": [1, 2, 3, 13]})
    assert_json(c.get("/kv/greeting?value=again"), {"get": "again", "incr": [1, 2, 3, 13]})


def test_redis_many_at_once(redis_app):
    answers = fetch_all(redis_app.port, ["/kv/k%d?value=v%d" % (i, i) for i in range(40)])
    for i, a in enumerate(answers):
        assert (a.status, a.body) == (200, dumps({"get": "v%d" % i, "incr": [1, 2, 3, 13]}))


def test_redis_a_client_that_leaves_cancels_a_blocking_pop(redis_app, redis_server, connect,
                                                           raw):
    """BLPOP on an empty list waits forever: the client leaves, the wait is
    cancelled, and the client's pool serves the next request."""
    tag = "blpop"
    probe = redis.Redis(unix_socket_path=redis_server)
    try:
        c = raw(redis_app.port)
        c.send(request_bytes("/blpop/" + tag))
        assert wait_until(lambda: probe.info("clients")["blocked_clients"] == 1, timeout=10)
        c.close()
        assert flag(tag).wait(10)
        assert seen(tag) == ["cancelled", "finally"]
        assert wait_until(lambda: probe.info("clients")["blocked_clients"] == 0, timeout=10)
    finally:
        probe.close()
    assert_json(connect(redis_app.port).get("/kv/after?value=x"),
                {"get": "x", "incr": [1, 2, 3, 13]})


# =============================================================================
# an HTTP upstream: httpx.AsyncClient
# =============================================================================

UPSTREAM_TEXT = "\u00fcpstream t\u00e9xt\n"


def test_httpx_relays_an_upstream_answer(serve, connect):
    upstream = App()

    @upstream.get("/data/{n}")
    def data(n: int):
        return {"n": n, "from": "upstream"}

    @upstream.get("/text")
    def text():
        return UPSTREAM_TEXT

    serve(upstream)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        async with httpx.AsyncClient(base_url="http://127.0.0.1:%d" % upstream.port) as http:
            yield {"http": http}

    app = App(lifespan=lifespan)

    @app.get("/relay/{path:path}")
    async def relay(path: str):
        r = await app.state.http.get("/" + path)
        return Response(r.content, status_code=r.status_code,
                        media_type=r.headers["content-type"])

    serve(app)
    c = connect(app.port)
    assert_reply(c.get("/relay/data/5"), 200, JSON, dumps({"n": 5, "from": "upstream"}))
    assert_reply(c.get("/relay/text"), 200, TEXT, UPSTREAM_TEXT.encode())
    assert_reply(c.get("/relay/nowhere"), 404, JSON, b'{"detail":"Not Found"}')
    answers = fetch_all(app.port, ["/relay/data/%d" % i for i in range(30)])
    for i, a in enumerate(answers):
        assert (a.status, a.body) == (200, dumps({"n": i, "from": "upstream"}))
