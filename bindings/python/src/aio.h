/*
 * `async def` handlers (aio.c): a handler's coroutine is started inline on
 * the I/O thread that parsed its request; one that returns without
 * suspending answers at once, as a `def` handler does. One that suspends
 * goes on as an asyncio Task on that I/O thread's own asyncio event loop,
 * which the I/O thread's libevent loop drives (turbo/_aio.py), and its
 * answer goes out through a deferred completion (turbo_defer).
 *
 * Everything here runs on the I/O thread that owns the request, with the
 * thread's Python state attached, except where a function says otherwise.
 */
#ifndef TURBO_PY_AIO_H
#define TURBO_PY_AIO_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <turbo/turbo.h>

typedef struct tpy_endpoint tpy_endpoint;

/* At import: readies the Suspended type. 0, or -1 with an error set. */
int tpy_aio_init(void);

/* _turbo._set_aio_hooks(new_loop, Task, enter_task, leave_task,
 * CancelledError): turbo._aio's Loop and what it takes from asyncio. */
PyObject *tpy_aio_set_hooks(PyObject *mod, PyObject *args);

/* _turbo._first_step_task(loop): the Task the coroutine now in its first
 * step runs as, made on first request (turbo._aio.current_task), or None
 * when no first step of loop's is running on this thread. */
PyObject *tpy_aio_first_step_task(PyObject *mod, PyObject *loop);

/* Runs coro (a handler's coroutine; a new reference, consumed) for req.
 * loops: the App's loop provider (its adopt() gives this thread's loop the
 * first time), or NULL. robj: the Request object passed to the handler,
 * or NULL; consumed (detached here or when the deferred answer goes).
 * json_strings: as the endpoint's (tpy_write_result).
 * Returns TURBO_OK when the answer was written inline, TURBO_DEFER when
 * the coroutine goes on on the loop. */
int tpy_aio_run(PyObject *func, PyObject *loops, turbo_request *req, turbo_response *res,
                PyObject *coro, PyObject *robj, int json_strings);

/* At the exit of an I/O thread, with its Python state attached: drops the
 * thread's loop. The libevent watch and timers are freed with the server. */
void tpy_aio_thread_exit(void);

/* This I/O thread's asyncio loop (made on first use; borrowed), or NULL
 * with an error set. */
PyObject *tpy_aio_loop(PyObject *loops, turbo_request *req);
/* After C code resolved Futures or queued callbacks from a libturbo
 * callback: runs the loop when it must. */
void tpy_aio_kick(void);
/* A coroutine's first step runs on this thread now (inside its handler). */
int tpy_aio_in_first_step(void);
/* Finishes (or, abort, aborts) d once this thread has let go of Python:
 * after the current tick, or now with Python released outside one. */
void tpy_aio_finish_later(turbo_deferred *d, int abort);

#endif
