"""@app.get(..., blocking=True): the handler runs on the server's blocking
pool, the I/O thread serves on meanwhile, a full pool queue is a 503, and
everything else (parameters, results, HTTPException, errors) is as for an
inline handler."""

import json
import sqlite3
import threading

import pytest

from conftest import JSON, TEXT, App, Client, assert_422, assert_json, assert_reply, dumps, err
from turbo import HTTPException


def test_a_blocking_handler_runs_off_the_io_thread(serve, connect):
    app = App()

    @app.get("/where")
    def where():
        return {"thread": threading.get_ident()}

    @app.get("/pooled/{n}", blocking=True)
    def pooled(n: int, tag: str = "x"):
        return {"thread": threading.get_ident(), "n": n, "tag": tag}

    serve(app)
    c = connect(app.port)
    r = c.get("/where")
    io_thread = json.loads(r.body)["thread"]
    r = c.get("/pooled/7?tag=q")
    assert r.status == 200 and r.content_type == JSON
    body = json.loads(r.body)
    assert (body["n"], body["tag"]) == (7, "q")
    assert body["thread"] != io_thread
    # the same conversions and 422s as inline
    assert_422(c.get("/pooled/seven"), err("int_parsing", "path", "n", "seven"))


def test_the_io_thread_serves_while_a_blocking_handler_waits(serve, connect):
    """The blocking handler waits until the inline answer has arrived: if
    the I/O thread (there is one) were blocked by it, neither would come."""
    app = App()
    inline_answered = threading.Event()
    entered = threading.Event()

    @app.get("/wait", blocking=True)
    def wait():
        entered.set()
        ok = inline_answered.wait(10)
        return {"released": ok}

    @app.get("/now")
    def now():
        return {"now": True}

    serve(app)
    slow = connect(app.port, timeout=20)
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("r", slow.get("/wait")))
    t.start()
    assert entered.wait(10)
    r = connect(app.port, timeout=5).get("/now")
    assert_json(r, {"now": True})
    inline_answered.set()
    t.join(20)
    assert_json(result["r"], {"released": True})


def test_a_full_pool_queue_answers_503(serve, connect):
    """One pool thread, a queue of one: with the thread busy, of two more
    requests one is queued and one is refused at once (which one is the
    I/O thread's reading order)."""
    app = App(blocking_threads=1, blocking_queue=1)
    gate = threading.Event()
    running = threading.Event()

    @app.get("/busy", blocking=True)
    def busy():
        running.set()
        gate.wait(10)
        return "done"

    serve(app)
    replies = {}

    def call(name):
        replies[name] = connect(app.port, timeout=20).get("/busy")

    first = threading.Thread(target=call, args=("first",))
    first.start()
    assert running.wait(10)  # the one pool thread is busy
    more = [threading.Thread(target=call, args=(n,)) for n in ("second", "third")]
    for t in more:
        t.start()
    # the refused one is answered while the gate is still shut
    for _ in range(1000):
        if len(replies) == 1:
            break
        threading.Event().wait(0.01)
    assert len(replies) == 1, replies
    (refused,) = replies.values()
    assert_reply(refused, 503, TEXT, b"Service Unavailable\n")
    assert refused.header("Retry-After") == "1"
    gate.set()
    for t in [first, *more]:
        t.join(20)
    done = [r for r in replies.values() if r.status == 200]
    assert len(done) == 2
    for r in done:
        assert_reply(r, 200, TEXT, b"done")


def test_errors_and_http_exceptions_map_as_inline(serve, connect):
    app = App()

    @app.get("/teapot", blocking=True)
    def teapot():
        raise HTTPException(418, detail="short and stout")

    @app.get("/boom", blocking=True)
    def boom():
        raise RuntimeError("blocking handler failed")

    serve(app)
    c = connect(app.port)
    r = c.get("/teapot")
    assert_reply(r, 418, JSON, dumps({"detail": "short and stout"}))
    assert_reply(c.get("/boom"), 500, TEXT, b"Internal Server Error")
    # the connection serves on
    assert_reply(c.get("/teapot"), 418, JSON, dumps({"detail": "short and stout"}))


def test_sqlite3_on_the_pool(serve, connect, tmp_path):
    """A blocking driver: one sqlite3 connection per pool thread."""
    db = str(tmp_path / "items.db")
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO item VALUES (?, ?)", [(1, "hammer"), (2, "saw")])
    local = threading.local()
    app = App()

    @app.get("/items/{item_id}", blocking=True)
    def item(item_id: int):
        if not hasattr(local, "conn"):
            local.conn = sqlite3.connect(db)
        row = local.conn.execute("SELECT id, name FROM item WHERE id = ?", (item_id,)).fetchone()
        if row is None:
            raise HTTPException(404, detail="no such item")
        return {"id": row[0], "name": row[1]}

    serve(app)
    c = connect(app.port)
    assert_json(c.get("/items/2"), {"id": 2, "name": "saw"})
    assert_reply(c.get("/items/9"), 404, JSON, dumps({"detail": "no such item"}))
    # many at once, over several connections
    errors = []

    def many():
        cc = Client(app.port)
        try:
            for _ in range(50):
                r = cc.get("/items/1")
                if r.body != dumps({"id": 1, "name": "hammer"}):
                    errors.append(r.body)
        finally:
            cc.close()

    ts = [threading.Thread(target=many) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert errors == []


def test_blocking_is_refused_for_async_def():
    app = App()

    async def handler():
        return {}

    with pytest.raises(TypeError, match="blocking=True is for def handlers"):
        app.add_route("/a", handler, blocking=True)
