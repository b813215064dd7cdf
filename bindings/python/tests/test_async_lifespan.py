"""The App's startup and shutdown around `async def` handlers: the
lifespan context manager, on_startup / on_shutdown (def and async def,
also through @app.on_event), app.state, one startup per I/O thread's loop,
a startup that raises; and an async app with its lifespan under the
programs that serve it (python -m turbo, turbo-serve, --workers)."""

import asyncio
import contextlib
import json
import signal
import socket

import pytest

from conftest import (TEXT, App, Client, assert_json, assert_reply, distinct_pids,
                      python_m_turbo, request_bytes)


# =============================================================================
# lifespan, on_startup, on_shutdown, app.state
# =============================================================================

def test_the_lifespan_runs_before_serving_and_after_the_stop(serve, connect):
    events = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append(("startup", id(asyncio.get_running_loop())))
        yield {"greeting": "hello", "n": 7}
        events.append(("shutdown", id(asyncio.get_running_loop())))

    app = App(lifespan=lifespan)

    @app.get("/state")
    async def state(suspend: bool = False):
        if suspend:
            await asyncio.sleep(0)
        events.append(("request", id(asyncio.get_running_loop())))
        return {"greeting": app.state.greeting, "n": app.state.n}

    serve(app)
    assert [e for e, _ in events] == ["startup"]
    c = connect(app.port)
    assert_json(c.get("/state"), {"greeting": "hello", "n": 7})
    assert_json(c.get("/state?suspend=1"), {"greeting": "hello", "n": 7})
    c.close()
    app.stop()
    assert [e for e, _ in events] == ["startup", "request", "request", "shutdown"]
    # all on one loop: the one the handlers await on
    assert len({loop for _, loop in events}) == 1


def test_the_lifespan_state_is_seen_by_def_handlers_too(serve, connect):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield {"greeting": "hello"}

    app = App(lifespan=lifespan)

    @app.get("/sync-state")
    def sync_state():
        return {"greeting": app.state.greeting}

    serve(app)
    # A def handler, before any coroutine ran on this I/O thread.
    assert_json(connect(app.port).get("/sync-state"), {"greeting": "hello"})


def test_startup_and_shutdown_functions_def_and_async(serve, connect):
    events = []

    def def_start():
        events.append("def start")

    async def async_start():
        await asyncio.sleep(0)
        events.append("async start")

    def def_stop():
        events.append("def stop")

    async def async_stop():
        await asyncio.sleep(0)
        events.append("async stop")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("lifespan enter")
        yield
        events.append("lifespan exit")

    app = App(lifespan=lifespan, on_startup=[def_start, async_start],
              on_shutdown=[def_stop, async_stop])

    @app.on_event("startup")
    async def decorated_start():
        app.state.made_by = "on_event"
        events.append("event start")

    @app.on_event("shutdown")
    def decorated_stop():
        events.append("event stop")

    @app.get("/made-by")
    async def made_by():
        await asyncio.sleep(0)
        return {"made_by": app.state.made_by}

    serve(app)
    assert events == ["def start", "async start", "event start", "lifespan enter"]
    assert_json(connect(app.port).get("/made-by"), {"made_by": "on_event"})
    app.stop()
    assert events == ["def start", "async start", "event start", "lifespan enter",
                      "lifespan exit", "def stop", "async stop", "event stop"]


def test_a_startup_that_raises_makes_start_raise_and_nothing_serves():
    events = []
    broken = [True]

    @contextlib.asynccontextmanager
    async def lifespan(app):
        events.append("enter")
        if broken[0]:
            raise RuntimeError("database unreachable")
        yield
        events.append("exit")

    app = App(lifespan=lifespan)

    @app.get("/up")
    async def up():
        return "up"

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    # One I/O thread, one loop: the events counted below are its lifespan's
    # (a free-threaded build's default is one thread, and loop, per CPU).
    with pytest.raises(RuntimeError, match="database unreachable"):
        app.start(port=port, threads=1)
    assert app.port is None
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    assert events == ["enter"]
    # Once the cause is gone the App starts.
    broken[0] = False
    app.start(port=0, threads=1)
    try:
        c = Client(app.port)
        assert_reply(c.get("/up"), 200, TEXT, b"up")
        c.close()
    finally:
        app.stop()
    assert events == ["enter", "enter", "exit"]


def test_one_startup_per_io_thread_loop(serve, raw):
    """With two I/O threads there are two loops: the lifespan runs on each,
    and each handler sees the state its own loop's startup made."""
    events = []

    @contextlib.asynccontextmanager
    async def lifespan(app):
        loop_id = id(asyncio.get_running_loop())
        events.append(("startup", loop_id))
        yield {"loop": loop_id}
        events.append(("shutdown", loop_id))

    app = App(lifespan=lifespan)

    @app.get("/loop")
    async def which_loop():
        await asyncio.sleep(0)
        return {"state": app.state.loop, "running": id(asyncio.get_running_loop())}

    serve(app, threads=2)
    started = {loop for e, loop in events if e == "startup"}
    assert len(started) == 2
    for _ in range(10):
        c = raw(app.port)
        c.send(request_bytes("/loop"))
        body = json.loads(c.read_answer().body)
        assert body["state"] == body["running"] and body["running"] in started
        c.close()
    app.stop()
    assert {loop for e, loop in events if e == "shutdown"} == started


# =============================================================================
# python -m turbo, turbo-serve, --workers
# =============================================================================

PROGRAMS = ["python -m turbo", "turbo-serve"]


def log_lines(path):
    with open(path) as f:
        return f.read().splitlines()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("program", PROGRAMS)
def test_programs_serve_an_async_app_with_its_lifespan(spawn, turbo_serve, tmp_path, program,
                                                       workers):
    log = str(tmp_path / "lifespan.log")
    spec = "async_app:app"
    # One I/O thread per worker, so one startup per worker (a free-threaded
    # build's default is one thread, and loop, per CPU).
    args = ["--port", "0", "--workers", str(workers), "--threads", "1"]
    argv = [turbo_serve, spec, *args] if program == "turbo-serve" else python_m_turbo(spec, *args)
    s = spawn(argv, env_extra={"ASYNC_APP_LOG": log})
    _, port = s.wait_url()
    pids = distinct_pids(port, workers)
    assert len(pids) == workers
    if workers == 1:
        assert pids == {s.proc.pid}
    # every worker serves a suspending handler, with its own lifespan's state
    served = set()
    c = Client(port)
    for i in range(20):
        r = c.get("/sleep/%d" % i)
        body = json.loads(r.body)
        assert (r.status, body["i"], body["state_pid"]) == (200, i, body["pid"])
        served.add(body["pid"])
    c.close()
    assert served <= pids
    # each worker's startup ran before it served
    assert sorted(log_lines(log)) == sorted("startup %d" % p for p in pids)
    assert s.stop(signal.SIGTERM) == 0, "".join(s.output)
    assert sorted(log_lines(log)) == sorted(
        ["startup %d" % p for p in pids] + ["shutdown %d" % p for p in pids])
    assert "Traceback" not in "".join(s.output)
