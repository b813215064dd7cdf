"""Served by test_async_lifespan.py: async handlers, and a lifespan whose startup
and shutdown each append a line ("startup PID", "shutdown PID") to the
file $ASYNC_APP_LOG names."""

import asyncio
import contextlib
import os
import time

from turbo import App


def note(what):
    with open(os.environ["ASYNC_APP_LOG"], "a") as f:
        f.write("%s %d\n" % (what, os.getpid()))


@contextlib.asynccontextmanager
async def lifespan(app):
    await asyncio.sleep(0)
    note("startup")
    yield {"pid": os.getpid()}
    await asyncio.sleep(0)
    note("shutdown")


app = App(lifespan=lifespan)


@app.get("/pid")
async def pid():
    return {"pid": os.getpid()}


@app.get("/sleep/{i}")
async def sleep(i: int):
    await asyncio.sleep(0.02)
    return {"i": i, "pid": os.getpid(), "state_pid": app.state.pid}


@app.get("/slow")
def slow(secs: float = 0.5):
    """Keeps the worker's one I/O thread busy (conftest.distinct_pids)."""
    time.sleep(secs)
    return {"slept": secs, "pid": os.getpid()}
