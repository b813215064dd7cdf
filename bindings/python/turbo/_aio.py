"""The asyncio side of `async def` handlers (the C side: src/aio.c).

Each I/O thread that runs a coroutine adopts one `Loop` for its life. The
loop is plain asyncio (SelectorEventLoop), driven from the I/O thread's own
libevent loop instead of run_forever(): its selector never blocks, libevent
watches the selector's epoll fd, and a libevent timer stands for asyncio's
earliest timer. `_turbo_tick()` runs asyncio's own iteration (`_run_once`)
while callbacks are ready and says when it must run next. A coroutine's
first step, its Task, every await and every answer stay on the thread that
read the request: no hop between threads, no lock, no GIL hand-off.

Why not uvloop on a thread of its own: a coroutine's first step runs on the
I/O thread, and what it starts there (a timer, a socket write, a Future)
belongs to the loop it will go on on; with a loop on another thread those
calls would cross threads, which uvloop (libuv) does not allow and asyncio
does not synchronize. One loop per I/O thread is also what a free-threaded
build needs.
"""

from __future__ import annotations

import asyncio
import selectors
import sys
import threading
import types
from asyncio import events, tasks

from . import _turbo

__all__ = ["Loop", "Loops", "current_task"]


class _Selector(selectors.EpollSelector):
    """An epoll selector that, while an I/O thread drives its loop, never
    waits: libevent waited already, on this selector's fd."""

    driven = False
    io = False  # the I/O thread saw the epoll fd readable since the last poll

    def select(self, timeout=None):
        if not self.driven:
            return super().select(timeout)
        if not self.io:
            return []
        self.io = False
        return super().select(0)


class Loop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, run by an I/O thread's libevent loop once
    adopted (until then, e.g. for the App's startup, an ordinary loop)."""

    def __init__(self):
        super().__init__(_Selector())
        self._turbo_thread = None

    def _turbo_adopt(self):
        """On the I/O thread, at its first coroutine: this loop is its
        running loop from now on. Returns the fd libevent watches."""
        if self.is_closed():
            raise RuntimeError("the App's event loop is closed")
        self._selector.driven = True
        self._selector.io = True  # whatever became ready before
        self._thread_id = self._turbo_thread = threading.get_ident()
        events._set_running_loop(self)
        sys.set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                               finalizer=self._asyncgen_finalizer_hook)
        return self._selector.fileno()

    def _turbo_release(self):
        """The I/O thread is gone: an ordinary loop again (for shutdown)."""
        self._selector.driven = False
        self._thread_id = None
        self._turbo_thread = None

    def _turbo_tick(self, io):
        """Runs what is due. Returns 0.0 when callbacks are still ready,
        the seconds until the earliest timer, or -1.0 for nothing."""
        if io:
            self._selector.io = True
        ready = self._ready
        run = self._run_once
        run()
        n = 1
        while ready and n < 8:  # then let the I/O thread serve a while
            run()
            n += 1
        if ready:
            return 0.0
        scheduled = self._scheduled
        if scheduled:
            delay = scheduled[0]._when - self.time()
            return delay if delay > 0.0 else 0.0
        return -1.0

    def run_forever(self):
        if self._turbo_thread is not None:
            raise RuntimeError("this loop is run by a turbo I/O thread: await instead")
        return super().run_forever()


class _Start:
    """What a Task made for a coroutine's first step needs to take it over."""

    __slots__ = ("coro", "value", "done")

    def __init__(self, coro):
        self.coro = coro
        self.value = None
        self.done = False


@types.coroutine
def _drive(start):
    """Goes on with a coroutine that suspended in its first step (on the
    I/O thread, outside any Task) from where it stopped: the Future it
    yielded is yielded again, now to the Task; what the Task sends or
    throws (a result, CancelledError) goes to the coroutine."""
    coro = start.coro
    start.coro = None
    if start.done:  # it ended in that first step after all
        return None
    value = start.value
    start.value = None
    send, throw = coro.send, coro.throw
    while True:
        try:
            sent = yield value
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - CancelledError and the like
            try:
                value = throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                value = send(sent)
            except StopIteration as stop:
                return stop.value


def _spawn(loop, coro, yielded, ctx):
    """The coroutine suspended in its first step, yielding `yielded`: it
    goes on as a Task on loop, in the context its first step ran in."""
    start = _Start(coro)
    start.value = yielded
    return asyncio.Task(_drive(start), loop=loop, context=ctx)


def _materialize(loop, coro, ctx):
    """The first step asked for its Task: it is made now (its own first
    step, queued, takes the coroutine over later) and is current until the
    first step ends."""
    start = _Start(coro)
    task = asyncio.Task(_drive(start), loop=loop, context=ctx)
    tasks._enter_task(loop, task)
    return task, start


def _first_done(loop, task, start, suspended, yielded):
    """The first step that made `task` is over: it stopped being current;
    either it suspended, yielding `yielded` (the Task takes over from
    there), or it ended (the Task has nothing left to do)."""
    tasks._leave_task(loop, task)
    if suspended:
        start.value = yielded
    else:
        start.done = True


_c_current_task = tasks.current_task


def current_task(loop=None):
    """asyncio.current_task, which also knows the Task a coroutine's first
    step on an I/O thread will go on as (it is made on this first request:
    a first step that never asks costs no Task)."""
    task = _c_current_task(loop)
    if task is None:
        task = _turbo._first_step_task(loop)
    return task


def _patch_current_task():
    """asyncio.current_task, asyncio.tasks.current_task (asyncio.timeout,
    TaskGroup) and the copy anyio's asyncio backend took, if loaded."""
    asyncio.current_task = current_task
    tasks.current_task = current_task
    anyio_backend = sys.modules.get("anyio._backends._asyncio")
    if anyio_backend is not None and getattr(anyio_backend, "current_task", None) is _c_current_task:
        anyio_backend.current_task = current_task


_patch_current_task()
_turbo._set_aio_hooks(Loop, _spawn, _materialize, _first_done)


class Loops:
    """An App's loops: one per I/O thread that runs coroutines. Those made
    before serving (to run the App's startup on) wait in `ready` for the
    I/O threads; a thread that finds none makes its own."""

    def __init__(self):
        self.ready = []
        self.all = []
        self._lock = threading.Lock()

    def new(self):
        loop = Loop()
        with self._lock:
            self.all.append(loop)
        return loop

    def adopt(self):
        """On an I/O thread, at its first coroutine."""
        _patch_current_task()
        with self._lock:
            if self.ready:
                return self.ready.pop(0)
        return self.new()

    def take_all(self):
        with self._lock:
            loops, self.all, self.ready = self.all, [], []
        return loops
