"""A FastAPI app's `def` endpoints run off the I/O thread, as FastAPI runs
them in its threadpool: one that blocks (a sync database driver) does not
hold up the other requests of its I/O thread, with or without the app's
exception handlers and middleware. blocking=False keeps a quick one inline;
an App (turbo's own API) keeps def handlers inline."""

import threading

import pytest

from conftest import Client, start_app
from turbo import App, FastAPI, Request


def make(with_chain):
    app = FastAPI()
    release = threading.Event()
    threads = {}

    @app.get("/slow")
    def slow():
        threads["slow"] = threading.current_thread().name
        assert release.wait(30), "never released"
        return {"slow": "done"}

    @app.get("/fast")
    async def fast():
        threads["fast"] = threading.current_thread().name
        return {"fast": "done"}

    @app.get("/quick", blocking=False)
    def quick():
        threads["quick"] = threading.current_thread().name
        return {"quick": "done"}

    if with_chain:
        @app.middleware("http")
        async def stamp(request: Request, call_next):
            response = await call_next(request)
            response.headers["X-Stamp"] = "1"
            return response

    return app, release, threads


@pytest.mark.parametrize("with_chain", [False, True], ids=["plain", "middleware"])
def test_a_blocking_def_endpoint_does_not_hold_up_its_io_thread(with_chain):
    app, release, threads = make(with_chain)
    start_app(app, threads=1)
    slow_answer = []
    try:
        def ask_slow():
            c = Client(app.port)
            try:
                slow_answer.append(c.get("/slow"))
            finally:
                c.close()

        t = threading.Thread(target=ask_slow)
        t.start()
        c = Client(app.port)
        try:
            while "slow" not in threads:  # the slow handler has started, and waits
                threading.Event().wait(0.01)
            # One I/O thread: these are answered while /slow still waits.
            r = c.get("/fast")
            assert (r.status, r.body) == (200, b'{"fast":"done"}')
            r = c.get("/quick")
            assert (r.status, r.body) == (200, b'{"quick":"done"}')
            assert not slow_answer
            release.set()
            t.join(30)
            assert (slow_answer[0].status, slow_answer[0].body) == (200, b'{"slow":"done"}')
            if with_chain:
                assert slow_answer[0].headers["x-stamp"] == "1"
        finally:
            c.close()
    finally:
        release.set()
        app.stop()
    # async def and blocking=False run on the I/O thread; the def elsewhere.
    assert threads["fast"] == threads["quick"] != threads["slow"]


def test_an_apps_def_handlers_stay_inline():
    app = App()
    seen = {}

    @app.get("/def")
    def inline():
        seen["def"] = threading.current_thread().name
        return {}

    @app.get("/async")
    async def on_loop():
        seen["async"] = threading.current_thread().name
        return {}

    start_app(app)
    c = Client(app.port)
    try:
        assert c.get("/def").status == 200 and c.get("/async").status == 200
    finally:
        c.close()
        app.stop()
    assert seen["def"] == seen["async"]
