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
import heapq
import itertools
import selectors
import sys
import threading
from asyncio import events, selector_events, tasks

from . import _turbo

__all__ = ["Loop", "Loops", "current_task"]

_heappush, _heappop = heapq.heappush, heapq.heappop
_TimerHandle = events.TimerHandle
_MAX_SELECT_TIMEOUT = 24 * 3600.0


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


class _SocketTransport(selector_events._SelectorSocketTransport):
    max_size = 64 * 1024  # below glibc's mmap threshold (128 KiB)


class Loop(asyncio.SelectorEventLoop):
    """asyncio's selector loop, run by an I/O thread's libevent loop once
    adopted (until then, e.g. for the App's startup, an ordinary loop).

    Two changes to asyncio's own: its timer heap holds (when, seq, handle)
    tuples, compared in C, where asyncio's compares TimerHandle objects
    through a Python __lt__ (ten calls per timer with a thousand pending);
    and socket transports read at most 64 KiB at a time, not 256 KiB,
    which glibc serves with mmap, mremap and munmap on every read.
    """

    def __init__(self):
        super().__init__(_Selector())
        self._turbo_thread = None
        self._turbo_seq = itertools.count().__next__

    def _make_socket_transport(self, sock, protocol, waiter=None, *, extra=None, server=None):
        return _SocketTransport(self, sock, protocol, waiter, extra, server)

    def call_at(self, when, callback, *args, context=None):
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = _TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        _heappush(self._scheduled, (when, self._turbo_seq(), timer))
        timer._scheduled = True
        return timer

    def _run_once(self):
        """asyncio's iteration (BaseEventLoop._run_once), over the tuple
        heap: drop cancelled timers, poll (never blocking once adopted),
        move due timers to the ready queue, run what was ready."""
        sched = self._scheduled
        ready = self._ready
        cancelled = self._timer_cancelled_count
        if cancelled > 100 and cancelled * 2 > len(sched):
            kept = []
            for entry in sched:
                if entry[2]._cancelled:
                    entry[2]._scheduled = False
                else:
                    kept.append(entry)
            heapq.heapify(kept)
            sched[:] = kept
            self._timer_cancelled_count = 0
        else:
            while sched and sched[0][2]._cancelled:
                self._timer_cancelled_count -= 1
                _heappop(sched)[2]._scheduled = False

        if ready or self._stopping:
            timeout = 0
        elif sched:
            timeout = min(max(0.0, sched[0][0] - self.time()), _MAX_SELECT_TIMEOUT)
        else:
            timeout = None
        event_list = self._selector.select(timeout)
        if event_list:
            self._process_events(event_list)
        event_list = None

        end = self.time() + self._clock_resolution
        while sched and sched[0][0] < end:
            handle = _heappop(sched)[2]
            handle._scheduled = False
            ready.append(handle)

        popleft = ready.popleft
        debug = self._debug
        for _ in range(len(ready)):
            handle = popleft()
            if handle._cancelled:
                continue
            if debug:
                try:
                    self._current_handle = handle
                    t0 = self.time()
                    handle._run()
                    dt = self.time() - t0
                    if dt >= self.slow_callback_duration:
                        asyncio.log.logger.warning("Executing %s took %.3f seconds", handle, dt)
                finally:
                    self._current_handle = None
            else:
                handle._run()
        handle = None

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
            delay = scheduled[0][0] - self.time()
            return delay if delay > 0.0 else 0.0
        return -1.0

    def run_forever(self):
        if self._turbo_thread is not None:
            raise RuntimeError("this loop is run by a turbo I/O thread: await instead")
        return super().run_forever()


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
_turbo._set_aio_hooks(Loop, asyncio.Task, tasks._enter_task, tasks._leave_task,
                      asyncio.CancelledError)


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
