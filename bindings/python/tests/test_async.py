"""`async def` handlers: a coroutine that does not suspend answers inline,
one that suspends goes on as a Task on its I/O thread's asyncio loop and
answers through a deferred completion. What awaits inside one (sleep,
gather, timeout, TaskGroup, executors, background tasks), cancellation when
the client leaves or the deferred timeout passes, exceptions after a
suspension, contextvars. The lifespan, startup/shutdown and the programs
that serve an async app: test_async_lifespan.py; real database and network
clients: test_async_db.py."""

import asyncio
import contextvars
import logging
import socket
import threading
import time

import pytest

from conftest import (JSON, OCTET, TEXT, App, assert_422, assert_json, assert_reply, dumps, err,
                      fetch_all, request_bytes, turbo_log_with, wait_until)
from turbo import HTTPException, Request, Response

PLAIN_500 = b"Internal Server Error"

# ---- side channels: what the handlers tell the tests ------------------------

SEEN = []      # (tag, event) appended by handlers, in the order it happened
FLAGS = {}     # tag -> threading.Event
FLAGS_LOCK = threading.Lock()


def flag(tag):
    with FLAGS_LOCK:
        return FLAGS.setdefault(tag, threading.Event())


def seen(tag):
    return [event for t, event in list(SEEN) if t == tag]


REQUEST_VAR = contextvars.ContextVar("request_var", default="unset")

# asyncio.Events of the module server's loop, made there on first use.
GATES = {}


def gate(name):
    if name not in GATES:
        GATES[name] = asyncio.Event()
    return GATES[name]


async def after(secs, value):
    await asyncio.sleep(secs)
    return value


def make_app():
    app = App()

    @app.get("/plain")
    async def plain():
        return {"async": True}

    @app.get("/hello/{name}")
    async def hello(name: str, times: int = 1):
        return "hello %s" % name * times

    @app.get("/sleep/{i}")
    async def sleep(i: int, ms: int = 50):
        await asyncio.sleep(ms / 1000)
        return {"i": i, "slept_ms": ms}

    @app.get("/yield/{i}")
    async def bare_yield(i: int):
        await asyncio.sleep(0)
        return {"i": i, "yielded": True}

    @app.get("/def/{i}")
    def sync(i: int):
        return {"def": i}

    @app.get("/wait/{tag}")
    async def wait(tag: str):
        """Waits until cancelled; its finally awaits before it tells. It
        says it waits once it runs as a Task (after a first suspension)."""
        SEEN.append((tag, "started"))
        try:
            await asyncio.sleep(0)
            flag(tag + ":waiting").set()
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            SEEN.append((tag, "cancelled"))
            raise
        finally:
            await asyncio.sleep(0.01)
            SEEN.append((tag, "finally"))
            flag(tag + ":finally").set()
        return "never"

    @app.get("/leave-early/{tag}")
    async def leave_early(tag: str):
        """Blocks its I/O thread in its first step while the client leaves:
        the cancellation is there before the loop ever ran its Task."""
        try:
            flag(tag + ":first step").set()
            time.sleep(0.2)
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            SEEN.append((tag, "cancelled"))
            raise
        finally:
            SEEN.append((tag, "finally"))
            flag(tag + ":finally").set()
        return "never"

    @app.get("/wait-swallow/{tag}")
    async def wait_swallow(tag: str):
        """Cancelled, it swallows CancelledError and returns: nothing is
        written all the same."""
        await asyncio.sleep(0)
        flag(tag + ":waiting").set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            SEEN.append((tag, "cancelled"))
        flag(tag + ":finally").set()
        return "swallowed"

    @app.get("/fail/{kind}")
    async def fail(kind: str, suspend: bool = False):
        if suspend:
            await asyncio.sleep(0)
        where = "suspended" if suspend else "inline"
        if kind == "http":
            raise HTTPException(418, detail={"why": "tea", "where": where},
                                headers={"X-Tea": "earl grey"})
        if kind == "http-default":
            raise HTTPException(404)
        if kind == "value":
            raise ValueError("marker-value-" + where)
        if kind == "opaque":  # no JSON form, even FastAPI's (no __dict__)
            return object()
        if kind == "response":
            return Response("<b>%s</b>" % where, status_code=201, headers={"X-Made": where},
                            media_type="text/html")
        if kind == "bytes":
            return b"\x00raw\xff" + where.encode()
        if kind == "none":
            return None
        raise AssertionError(kind)

    @app.get("/typed/{n}")
    async def typed(n: int, f: float, b: bool = False):
        await asyncio.sleep(0)
        return {"n": n, "f": f, "b": b}

    @app.get("/ctx/{tag}")
    async def ctx(tag: str, suspend: bool = False):
        before = REQUEST_VAR.get()
        REQUEST_VAR.set(tag)
        if suspend:
            await asyncio.sleep(0.02)
        return {"before": before, "after": REQUEST_VAR.get()}

    @app.get("/ctx-def")
    def ctx_def():
        return {"var": REQUEST_VAR.get()}

    @app.get("/timeout/{case}")
    async def timeout(case: str):
        if case == "expire-later":
            await asyncio.sleep(0)
        try:
            if case == "wait_for":
                await asyncio.wait_for(asyncio.sleep(60), 0.05)
            else:
                secs = 5 if case == "in-time" else 0.05
                async with asyncio.timeout(secs):
                    await asyncio.sleep(0.01 if case == "in-time" else 60)
        except TimeoutError:
            return {"timed_out": True, "cancelling": asyncio.current_task().cancelling()}
        return {"timed_out": False, "cancelling": asyncio.current_task().cancelling()}

    @app.get("/gather")
    async def gather():
        results = await asyncio.gather(after(0.03, "a"), after(0.01, "b"), after(0, "c"))
        return {"results": results}

    @app.get("/gather-errors")
    async def gather_errors():
        async def boom():
            await asyncio.sleep(0.01)
            raise KeyError("k")
        results = await asyncio.gather(after(0.02, 1), boom(), return_exceptions=True)
        return {"results": [r if isinstance(r, int) else repr(r) for r in results]}

    @app.get("/taskgroup")
    async def taskgroup():
        async with asyncio.TaskGroup() as tg:
            first = tg.create_task(after(0.02, 1))
            second = tg.create_task(after(0.01, 2))
        return {"results": [first.result(), second.result()]}

    @app.get("/taskgroup-error")
    async def taskgroup_error():
        sibling = []

        async def failing():
            await asyncio.sleep(0.01)
            raise ValueError("child failed")

        async def waiting():
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                sibling.append("cancelled")
                raise

        errors = []
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(failing())
                tg.create_task(waiting())
        except* ValueError as group:
            errors = [str(e) for e in group.exceptions]
        return {"errors": errors, "sibling": sibling}

    @app.get("/current-task")
    async def current_task(suspend: bool = False):
        task = asyncio.current_task()
        if suspend:
            await asyncio.sleep(0.01)
        return {"task": isinstance(task, asyncio.Task), "same": task is asyncio.current_task(),
                "done": task.done()}

    @app.get("/bg/start/{tag}")
    async def bg_start(tag: str):
        async def background():
            await gate("bg-" + tag).wait()
            await asyncio.sleep(0.01)
            SEEN.append((tag, "background done"))
            flag(tag + ":bg").set()

        task = asyncio.get_running_loop().create_task(background())
        BACKGROUND.add(task)
        task.add_done_callback(BACKGROUND.discard)
        await asyncio.sleep(0)
        return {"started": tag}

    @app.get("/gate/{name}/open")
    async def gate_open(name: str):
        gate(name).set()
        await asyncio.sleep(0)  # (see test_an_inline_answer_runs_what_it_scheduled)
        return {"opened": name}

    @app.get("/executor/{n}")
    async def executor(n: int):
        def work(k):
            time.sleep(0.02)
            return k * 2, threading.get_ident()

        value, tid = await asyncio.get_running_loop().run_in_executor(None, work, n)
        return {"value": value, "same_thread": tid == threading.get_ident()}

    @app.post("/req-after/{name}")
    async def req_after(req: Request, name: str):
        await gate("req-" + name).wait()
        return {"method": req.method, "path": req.path, "query": req.query_params,
                "params": req.path_params, "x_tag": req.headers.get("x-tag"),
                "ct": req.headers["content-type"], "body": req.body.decode()}

    @app.get("/big/{n}")
    async def big(n: int):
        await asyncio.sleep(0)
        return bytes(range(256)) * (n // 256)

    @app.post("/keep/{k}")
    async def keep(req: Request, k: str):
        await asyncio.sleep(0)
        KEPT.append(req)
        return "kept %s" % k

    @app.post("/echo")
    def echo(req: Request):
        return {"x_tag": req.headers.get("x-tag"), "len": len(req.body)}

    return app


BACKGROUND = set()
KEPT = []


# =============================================================================
# suspending or not
# =============================================================================

def test_a_coroutine_that_does_not_suspend_answers(client):
    assert_json(client.get("/plain"), {"async": True})
    assert_reply(client.get("/hello/w%C3%B6rld?times=2"), 200, TEXT,
                 "hello w\u00f6rldhello w\u00f6rld".encode())


def test_a_coroutine_that_suspends_answers(client):
    assert_json(client.get("/sleep/7?ms=20"), {"i": 7, "slept_ms": 20})
    assert_json(client.get("/sleep/8?ms=1"), {"i": 8, "slept_ms": 1})


def test_a_bare_yield_suspends_and_answers(client):
    for i in range(20):
        assert_json(client.get("/yield/%d" % i), {"i": i, "yielded": True})


def test_async_and_def_handlers_alternate_on_one_connection(client):
    for i in range(10):
        assert_json(client.get("/def/%d" % i), {"def": i})
        assert_json(client.get("/yield/%d" % i), {"i": i, "yielded": True})
        assert_json(client.get("/plain"), {"async": True})


def test_a_thousand_sleeping_requests_run_concurrently(server):
    """1,000 requests each awaiting asyncio.sleep(0.05) on one I/O thread:
    one after the other they would take 50 s; the thread serves them all
    while they sleep (the bound is generous, for a loaded machine)."""
    n = 1000
    start = time.monotonic()
    answers = fetch_all(server.port, ["/sleep/%d" % i for i in range(n)])
    elapsed = time.monotonic() - start
    for i, a in enumerate(answers):
        assert (a.status, a.content_type, a.body) == (200, JSON, dumps({"i": i, "slept_ms": 50}))
    assert elapsed < 10, "1,000 x 50 ms sleeps took %.1f s" % elapsed


def test_pipelined_answers_keep_request_order_across_def_and_async(server, raw):
    """The first request sleeps longest and the second finishes first: the
    answers still leave in request order, whatever handler kind."""
    c = raw(server.port)
    targets = ["/sleep/1?ms=80", "/sleep/2?ms=5", "/def/3", "/plain", "/yield/4",
               "/fail/http?suspend=1", "/typed/x?f=1", "/hello/z", "/sleep/5?ms=1", "/def/6"]
    c.send(b"".join(request_bytes(t) for t in targets))
    want = [
        (200, JSON, dumps({"i": 1, "slept_ms": 80})),
        (200, JSON, dumps({"i": 2, "slept_ms": 5})),
        (200, JSON, dumps({"def": 3})),
        (200, JSON, dumps({"async": True})),
        (200, JSON, dumps({"i": 4, "yielded": True})),
        (418, JSON, dumps({"detail": {"why": "tea", "where": "suspended"}})),
        (422, JSON, dumps({"detail": [err("int_parsing", "path", "n", "x")]})),
        (200, TEXT, b"hello z"),
        (200, JSON, dumps({"i": 5, "slept_ms": 1})),
        (200, JSON, dumps({"def": 6})),
    ]
    got = [(a.status, a.content_type, a.body) for a in c.read_answers(len(targets))]
    assert got == want
    assert c.buf == b""
    # and the connection serves on
    c.send(request_bytes("/yield/9"))
    a = c.read_answer()
    assert (a.status, a.body) == (200, dumps({"i": 9, "yielded": True}))


def test_head_on_a_suspending_route(client):
    get = client.get("/sleep/3?ms=1")
    assert_json(get, {"i": 3, "slept_ms": 1})
    head = client.request("HEAD", "/sleep/3?ms=1")
    assert (head.status, head.content_type, head.body) == (200, JSON, b"")
    assert head.header("Content-Length") == str(len(get.body))
    assert_json(client.get("/yield/3"), {"i": 3, "yielded": True})  # nothing stray was sent


def test_a_large_answer_after_a_suspension(client):
    n = 3 * 1024 * 1024
    assert_reply(client.get("/big/%d" % n), 200, OCTET, bytes(range(256)) * (n // 256))
    assert_json(client.get("/yield/5"), {"i": 5, "yielded": True})


def test_a_request_kept_after_its_deferred_answer(client):
    """The Request outlives its answer (and later requests reuse the I/O
    thread's memory): what it holds stays right. Its body came chunked."""
    KEPT.clear()
    r = client.request("POST", "/keep/k%21?a=1&b=x+y", body=iter([b"chunked ", b"body"]),
                       headers={"X-Keep": "yes", "Content-Type": "text/x-kept"},
                       encode_chunked=True)
    assert_reply(r, 200, TEXT, b"kept k!")
    for i in range(20):
        assert_json(client.request("POST", "/echo", body=b"Z" * 5000, headers={"X-Tag": "o"}),
                    {"x_tag": "o", "len": 5000})
    (req,) = KEPT
    assert (req.method, req.path, req.query_string) == ("POST", "/keep/k%21", "a=1&b=x+y")
    assert req.query_params == {"a": "1", "b": "x y"}
    assert req.path_params == {"k": "k!"}
    assert (req.headers["x-keep"], req.headers["content-type"]) == ("yes", "text/x-kept")
    assert req.body == b"chunked body"
    assert req.client == ("127.0.0.1", client.local_port)


# =============================================================================
# cancellation
# =============================================================================

@pytest.mark.parametrize("how", ["close", "half-close"])
def test_a_client_that_leaves_cancels_its_coroutine(server, client, raw, how):
    """CancelledError at the await point, then the finally (which awaits
    itself) runs to its end; nothing is written; the server serves on."""
    tag = "leave-" + how
    c = raw(server.port)
    c.send(request_bytes("/wait/" + tag))
    assert flag(tag + ":waiting").wait(5)
    if how == "close":
        c.close()
    else:
        c.sock.shutdown(socket.SHUT_WR)
    assert flag(tag + ":finally").wait(5), SEEN
    assert seen(tag) == ["started", "cancelled", "finally"]
    if how == "half-close":
        assert c.read_eof() == b""  # no answer was written
    assert_json(client.get("/yield/1"), {"i": 1, "yielded": True})


def test_answers_behind_a_cancelled_request_are_never_written(server, client, raw):
    """Two requests pipelined behind the waiting one have been answered
    (inline) but wait for it, to leave in order: when its client leaves,
    the coroutine is cancelled and not one byte goes out."""
    tag = "leave-pipelined"
    c = raw(server.port)
    c.send(request_bytes("/wait/" + tag) + request_bytes("/def/1") + request_bytes("/plain"))
    assert flag(tag + ":waiting").wait(5)
    c.sock.shutdown(socket.SHUT_WR)
    assert flag(tag + ":finally").wait(5)
    assert seen(tag) == ["started", "cancelled", "finally"]
    assert c.read_eof() == b""
    assert_json(client.get("/plain"), {"async": True})


def test_a_client_that_leaves_before_the_task_ran_cancels_its_coroutine(server, client, raw):
    """The client leaves while the first step still runs: the cancellation
    reaches the coroutine's Task before the loop has run it at all (as when
    a request and the close arrive together)."""
    tag = "leave-early"
    c = raw(server.port)
    c.send(request_bytes("/leave-early/" + tag))
    assert flag(tag + ":first step").wait(5)
    c.close()
    assert flag(tag + ":finally").wait(5), seen(tag)
    assert seen(tag) == ["cancelled", "finally"]
    assert_json(client.get("/yield/1"), {"i": 1, "yielded": True})


def test_a_coroutine_that_swallows_its_cancellation_writes_nothing(server, client, raw):
    tag = "swallow"
    c = raw(server.port)
    c.send(request_bytes("/wait-swallow/" + tag))
    assert flag(tag + ":waiting").wait(5)
    c.sock.shutdown(socket.SHUT_WR)
    assert flag(tag + ":finally").wait(5)
    assert seen(tag) == ["cancelled"]
    assert c.read_eof() == b""
    assert_json(client.get("/yield/2"), {"i": 2, "yielded": True})


def test_the_deferred_timeout_answers_504_and_cancels(serve, raw, connect):
    app = App(deferred_timeout_ms=200)
    events = []
    done = threading.Event()

    @app.get("/stuck")
    async def stuck():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        finally:
            events.append("finally")
            done.set()

    @app.get("/quick")
    async def quick():
        await asyncio.sleep(0.01)
        return "in time"

    serve(app)
    c = raw(app.port)
    c.send(request_bytes("/stuck"))
    a = c.read_answer()
    assert (a.status, a.content_type, a.body) == (504, TEXT, b"Gateway Timeout\n")
    assert a.headers["connection"] == "close"
    assert c.read_eof() == b""
    assert done.wait(5)
    assert events == ["cancelled", "finally"]
    assert_reply(connect(app.port).get("/quick"), 200, TEXT, b"in time")


def test_a_stop_waits_for_a_suspended_coroutine(serve, raw):
    app = serve(App())

    @app.get("/slow")
    async def slow():
        await asyncio.sleep(0.2)
        return "finished before the stop"

    c = raw(app.port)
    c.send(request_bytes("/slow"))
    time.sleep(0.05)  # (the request is in; if not, it is answered all the same)
    stopper = threading.Thread(target=app.stop)
    stopper.start()
    a = c.read_answer()
    c.close()
    stopper.join(20)
    assert not stopper.is_alive()
    assert (a.status, a.content_type, a.body) == (200, TEXT, b"finished before the stop")


def test_a_stop_cancels_what_still_waits_after_its_grace_period(serve, raw):
    """App(stop_grace_ms=300): a coroutine still waiting when the grace
    period ends is cancelled (its finally runs) and its client gets 503."""
    app = serve(App(stop_grace_ms=300))
    tag = "stop-grace"

    @app.get("/forever")
    async def forever():
        flag(tag + ":waiting").set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            SEEN.append((tag, "cancelled"))
            raise
        finally:
            SEEN.append((tag, "finally"))
        return "never"

    c = raw(app.port)
    c.send(request_bytes("/forever"))
    assert flag(tag + ":waiting").wait(5)
    stopper = threading.Thread(target=app.stop)
    stopper.start()
    a = c.read_answer()
    c.close()
    stopper.join(20)
    assert not stopper.is_alive()
    assert (a.status, a.body) == (503, b"Service Unavailable\n")
    assert seen(tag) == ["cancelled", "finally"]


# =============================================================================
# exceptions and results after a suspension (and before one: the same)
# =============================================================================

@pytest.mark.parametrize("suspend", [False, True], ids=["inline", "suspended"])
def test_http_exception_maps_as_for_def(client, suspend):
    where = "suspended" if suspend else "inline"
    r = client.get("/fail/http?suspend=%d" % suspend)
    assert_reply(r, 418, JSON, dumps({"detail": {"why": "tea", "where": where}}))
    assert r.header("X-Tea") == "earl grey"
    assert_reply(client.get("/fail/http-default?suspend=%d" % suspend), 404, JSON,
                 dumps({"detail": "Not Found"}))


@pytest.mark.parametrize("suspend", [False, True], ids=["inline", "suspended"])
def test_results_map_as_for_def(client, suspend):
    where = "suspended" if suspend else "inline"
    r = client.get("/fail/response?suspend=%d" % suspend)
    assert_reply(r, 201, "text/html; charset=utf-8", ("<b>%s</b>" % where).encode())
    assert r.header("X-Made") == where
    assert_reply(client.get("/fail/bytes?suspend=%d" % suspend), 200, OCTET,
                 b"\x00raw\xff" + where.encode())
    assert_reply(client.get("/fail/none?suspend=%d" % suspend), 200, JSON, b"null")


@pytest.mark.parametrize("suspend", [False, True], ids=["inline", "suspended"])
@pytest.mark.parametrize("kind,needles", [
    ("value", ("Traceback (most recent call last)", "in fail", "ValueError: marker-value-{where}")),
    ("opaque", ("fail", "TypeError: Object of type object is not JSON serializable")),
], ids=["exception", "not-serializable"])
def test_a_failure_is_a_plain_500_with_the_traceback_in_the_log(client, caplog, kind, needles,
                                                                suspend):
    caplog.set_level(logging.DEBUG, logger="turbo")
    where = "suspended" if suspend else "inline"
    r = client.get("/fail/%s?suspend=%d" % (kind, suspend))
    assert_reply(r, 500, TEXT, PLAIN_500)
    assert not r.will_close
    needles = [n.format(where=where) for n in needles]
    assert turbo_log_with(caplog, *needles), [
        (rec.name, rec.getMessage()) for rec in caplog.records]
    assert_json(client.get("/plain"), {"async": True})  # the connection goes on


def test_parameters_that_do_not_convert_are_a_422(client):
    assert_422(client.get("/typed/x?f=y&b=maybe"),
               err("int_parsing", "path", "n", "x"),
               err("float_parsing", "query", "f", "y"),
               err("bool_parsing", "query", "b", "maybe"))
    assert_422(client.get("/typed/3"), err("missing", "query", "f"))
    assert_json(client.get("/typed/3?f=2.5&b=yes"), {"n": 3, "f": 2.5, "b": True})


# =============================================================================
# contextvars
# =============================================================================

def test_a_context_variable_set_in_one_request_is_unset_in_the_next(client):
    assert_json(client.get("/ctx/a"), {"before": "unset", "after": "a"})
    assert_json(client.get("/ctx/b?suspend=1"), {"before": "unset", "after": "b"})
    assert_json(client.get("/ctx-def"), {"var": "unset"})
    assert_json(client.get("/ctx/c?suspend=1"), {"before": "unset", "after": "c"})
    assert_json(client.get("/ctx/d"), {"before": "unset", "after": "d"})
    assert_json(client.get("/ctx-def"), {"var": "unset"})


def test_concurrent_requests_each_see_their_own_context(server):
    n = 100
    answers = fetch_all(server.port, ["/ctx/r%d?suspend=1" % i for i in range(n)])
    for i, a in enumerate(answers):
        assert (a.status, a.body) == (200, dumps({"before": "unset", "after": "r%d" % i}))


def test_a_context_variable_a_def_handler_sets_does_not_reach_the_next_request(serve,
                                                                               connect):
    var = contextvars.ContextVar("def_var", default="unset")
    app = App()

    @app.get("/def-set/{tag}")
    def def_set(tag: str):
        before = var.get()
        var.set(tag)
        return {"before": before}

    @app.get("/async-get")
    async def async_get():
        return {"var": var.get()}

    serve(app)
    c = connect(app.port)
    assert_json(c.get("/def-set/a"), {"before": "unset"})
    assert_json(c.get("/def-set/b"), {"before": "unset"})
    assert_json(c.get("/async-get"), {"var": "unset"})


# =============================================================================
# what a handler may await
# =============================================================================

@pytest.mark.parametrize("case,timed_out", [
    ("expire", True), ("expire-later", True), ("wait_for", True), ("in-time", False)])
def test_asyncio_timeout(client, case, timed_out):
    """asyncio.timeout entered in the first step (before any suspension)
    needs the Task the coroutine goes on as; cancelling() is back to 0."""
    assert_json(client.get("/timeout/" + case), {"timed_out": timed_out, "cancelling": 0})


def test_asyncio_gather(client):
    assert_json(client.get("/gather"), {"results": ["a", "b", "c"]})
    assert_json(client.get("/gather-errors"), {"results": [1, "KeyError('k')"]})


def test_asyncio_taskgroup(client):
    assert_json(client.get("/taskgroup"), {"results": [1, 2]})
    assert_json(client.get("/taskgroup-error"),
                {"errors": ["child failed"], "sibling": ["cancelled"]})


@pytest.mark.parametrize("suspend", [False, True], ids=["inline", "suspended"])
def test_current_task_in_the_first_step_is_the_task_it_goes_on_as(server, client, suspend):
    assert_json(client.get("/current-task?suspend=%d" % suspend),
                {"task": True, "same": True, "done": False})
    # The Task made for the first step ends with it: none is left behind.
    (loop,) = server._loops.all
    assert wait_until(lambda: not asyncio.all_tasks(loop) - BACKGROUND), asyncio.all_tasks(loop)


def test_a_background_task_outlives_its_request(client):
    tag = "bg1"
    assert_json(client.get("/bg/start/" + tag), {"started": tag})
    assert not flag(tag + ":bg").is_set()  # it waits for the gate
    assert_json(client.get("/gate/bg-%s/open" % tag), {"opened": "bg-" + tag})
    assert flag(tag + ":bg").wait(5)
    assert seen(tag) == ["background done"]


# A first step that returns (or raises) without suspending is answered
# inline; what it scheduled on the loop on its way (call_soon, create_task,
# a Future's result waking another coroutine, call_later) must still run.


@pytest.mark.parametrize("how", ["create_task", "call_later"])
def test_an_inline_answer_runs_what_it_scheduled(serve, connect, how):
    """A coroutine that starts a Task (or a timer) and returns at once is
    answered inline: the Task must still run, without waiting for another
    request to wake the loop."""
    app = App()
    ran = threading.Event()
    tasks = set()

    @app.get("/fire")
    async def fire():
        loop = asyncio.get_running_loop()
        if how == "create_task":
            async def background():
                ran.set()

            task = loop.create_task(background())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        else:
            loop.call_later(0.01, ran.set)
        return "fired"

    serve(app)
    assert_reply(connect(app.port).get("/fire"), 200, TEXT, b"fired")
    assert ran.wait(2), "what the handler scheduled did not run"


def test_an_inline_answer_that_sets_an_event_wakes_its_waiter(serve, connect, raw):
    app = App()
    waiting = threading.Event()
    events = {}

    @app.get("/wait")
    async def wait():
        events["e"] = asyncio.Event()
        waiting.set()
        await events["e"].wait()
        return "woken"

    @app.get("/wake")
    async def wake():
        events["e"].set()
        return "set"

    serve(app)
    c = raw(app.port, timeout=2)
    c.send(request_bytes("/wait"))
    assert waiting.wait(5)
    assert_reply(connect(app.port).get("/wake"), 200, TEXT, b"set")
    a = c.read_answer()  # times out while the bug is there
    assert (a.status, a.content_type, a.body) == (200, TEXT, b"woken")


def test_run_in_executor(client):
    for n in (1, 21):
        assert_json(client.get("/executor/%d" % n), {"value": 2 * n, "same_thread": False})


def test_the_request_is_intact_after_a_suspension(server, connect, raw):
    """The handler's Request is read after other requests (other headers,
    other bodies) went through the same I/O thread meanwhile."""
    c = raw(server.port)
    c.send(request_bytes("/req-after/n1?a=1&b=x+y", method="POST",
                         headers=b"X-Tag: first\r\nContent-Type: text/x-first\r\n",
                         body=b"the first body"))
    other = connect(server.port)
    for i in range(30):
        r = other.request("POST", "/echo", body=b"Z" * (1000 + i),
                          headers={"X-Tag": "other-%d" % i + "q" * 200})
        assert_json(r, {"x_tag": "other-%d" % i + "q" * 200, "len": 1000 + i})
    assert_json(other.get("/gate/req-n1/open"), {"opened": "req-n1"})
    a = c.read_answer()
    assert (a.status, a.body) == (200, dumps({
        "method": "POST", "path": "/req-after/n1", "query": {"a": "1", "b": "x y"},
        "params": {"name": "n1"}, "x_tag": "first", "ct": "text/x-first",
        "body": "the first body"}))
