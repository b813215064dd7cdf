/*
 * `async def` handlers (aio.h).
 *
 * The first step. The trampoline calls the handler, which returns a
 * coroutine; it is sent None here, on the I/O thread, inside a fresh copy
 * of the thread's context (so contextvars set by one request never reach
 * another) and with the thread's asyncio loop as the running loop. A
 * coroutine that returns or raises in that step is answered at once,
 * exactly as a `def` handler's result: no Task, no Future, no loop
 * iteration.
 *
 * A coroutine that suspends (it yielded the Future it awaits) becomes an
 * asyncio Task on the loop (turbo._aio.spawn), whose first step hands the
 * coroutine that Future again, so it goes on exactly where it stopped.
 * The request is deferred (turbo_defer); when the Task is done, the
 * Pending object (its done callback) writes the result or the exception
 * into the deferred response, and turbo_deferred_finish() sends it once
 * the thread has let go of Python (finishing can run the next pipelined
 * request's handler at once, which enters Python itself).
 *
 * A first step that asks for the current Task (asyncio.timeout,
 * TaskGroup, anyio's cancel scopes) gets the very Task the coroutine will
 * go on as, made there and then (tpy_aio_first_step_task): what it keeps
 * of "its task" stays true after the suspension.
 *
 * The loop. Each I/O thread that runs a coroutine adopts one asyncio loop
 * (turbo._aio.Loop, from the App's provider) for its whole life. Its
 * selector never blocks; the thread's libevent loop watches the
 * selector's epoll fd instead, and a libevent timer stands for the
 * earliest asyncio timer, so the loop runs (a "tick": asyncio's own
 * _run_once, a few times) only when it has something to do. Thread-safe
 * wake-ups (call_soon_threadsafe) write asyncio's self-pipe, which is in
 * that epoll set. Nothing here is shared between threads: the loop, its
 * timers and the deferred list belong to one I/O thread.
 *
 * Cancellation. When the client leaves (or the deferred timeout or a
 * stop's grace period passes), libturbo calls on_cancel on this thread:
 * the Task is cancelled (CancelledError at its await point, its finally
 * blocks run) and nothing is written; finish then only frees.
 */
#include "aio.h"

#include <stdlib.h>
#include <time.h>

#include "call.h"
#include "request.h"
#include "response.h"

/* The package's turbo._aio functions. */
static PyObject *hook_new_loop;    /* () -> Loop */
static PyObject *hook_spawn;       /* (loop, coro, yielded, ctx) -> Task */
static PyObject *hook_materialize; /* (loop, coro, ctx) -> (Task, start) */
static PyObject *hook_first_done;  /* (loop, task, start, suspended, yielded) */
static PyObject *s_adopt, *s_turbo_adopt, *s_turbo_tick, *s_add_done_callback, *s_cancel,
    *s_result;

/* One I/O thread's loop and what drives it. */
typedef struct tpy_aio {
    PyObject *loop; /* turbo._aio.Loop */
    PyObject *tick; /* loop._turbo_tick */
    turbo_loop *tl;
    turbo_watch *watch;   /* the selector's epoll fd */
    turbo_timer *timer;   /* at the earliest asyncio timer */
    uint64_t timer_due;   /* when it fires, CLOCK_MONOTONIC ms */
    turbo_timer *soon;    /* a 0 ms timer: ready callbacks wait */
    /* The first step running now, if any (borrowed). */
    PyObject *first_coro, *first_ctx;
    PyObject *first_task, *first_start; /* made on request, owned */
    /* Answers written, to be finished once Python is let go. */
    turbo_deferred **done;
    size_t ndone, cap;
} tpy_aio;

static _Thread_local tpy_aio *my_aio;

/* ---- Pending: a suspended request's done callback --------------------- */

typedef struct {
    PyObject_HEAD
    turbo_deferred *d; /* NULL once answered */
    PyObject *func;    /* the handler, for the log */
    PyObject *robj;    /* the Request passed to it, or NULL */
    PyObject *task;    /* cleared once done: task → callbacks → self */
    tpy_aio *aio;
} PendingObject;

static PyTypeObject PendingType;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_soon(void *ud);
static void on_timer(void *ud);

/* After Python ran on the loop: when it must run again. delay < 0: only
 * on I/O; 0: ready callbacks wait (next libevent iteration); else in
 * delay seconds. Loop's thread; does not call back into Python. */
static void arm(tpy_aio *a, double delay)
{
    if (delay < 0)
        return;
    if (delay == 0) {
        if (a->soon == NULL)
            a->soon = turbo_loop_timer(a->tl, 0, on_soon, a);
        return;
    }
    double ms = delay * 1000.0;
    uint64_t wait = ms > 86400000.0 ? 86400000u : (uint64_t)ms;
    if ((double)wait < ms)
        wait++; /* rounded up: never before the asyncio timer is due */
    uint64_t due = now_ms() + wait;
    if (a->timer != NULL) {
        if (a->timer_due <= due)
            return; /* an earlier wake-up is armed: it re-arms then */
        turbo_timer_cancel(a->timer);
    }
    a->timer = turbo_loop_timer(a->tl, wait, on_timer, a);
    a->timer_due = due;
}

static int push_done(tpy_aio *a, turbo_deferred *d)
{
    if (a->ndone == a->cap) {
        size_t cap = a->cap != 0 ? a->cap * 2 : 16;
        turbo_deferred **p = realloc(a->done, cap * sizeof(*p));
        if (p == NULL)
            return -1;
        a->done = p;
        a->cap = cap;
    }
    a->done[a->ndone++] = d;
    return 0;
}

/* With Python let go: sends the answers the tick wrote. A finish may
 * run the next pipelined request's handler, which may add to the list. */
static void flush_done(tpy_aio *a)
{
    for (size_t i = 0; i < a->ndone; i++)
        turbo_deferred_finish(a->done[i]);
    a->ndone = 0;
}

/* One tick: asyncio's _run_once while callbacks are ready (bounded), then
 * arm the next. From a libevent callback of the owning thread. */
static void tick(tpy_aio *a, int io)
{
    tpy_thread_attach();
    PyObject *r = PyObject_CallOneArg(a->tick, io ? Py_True : Py_False);
    double delay = -1;
    if (r == NULL) {
        tpy_log_exception(a->tick);
        delay = 0.001; /* try again soon, not in a spin */
    } else {
        delay = PyFloat_AsDouble(r);
        Py_DECREF(r);
        if (delay == -1 && PyErr_Occurred()) {
            tpy_log_exception(a->tick);
            delay = 0.001;
        }
    }
    arm(a, delay);
    tpy_thread_detach();
    flush_done(a);
}

static void on_soon(void *ud)
{
    tpy_aio *a = ud;
    a->soon = NULL; /* freed as it fires */
    tick(a, 0);
}

static void on_timer(void *ud)
{
    tpy_aio *a = ud;
    a->timer = NULL;
    tick(a, 0);
}

static void on_io(turbo_watch *w, unsigned revents, void *ud)
{
    (void)w;
    (void)revents;
    tick(ud, 1);
}

/* The Task is done: its result or exception becomes the deferred
 * response (unless the request was cancelled), and the handle joins the
 * list finished after the tick. */
static PyObject *pending_call(PendingObject *self, PyObject *args, PyObject *kw)
{
    (void)kw;
    PyObject *task = PyTuple_GET_SIZE(args) == 1 ? PyTuple_GET_ITEM(args, 0) : NULL;
    turbo_deferred *d = self->d;
    if (d == NULL || task == NULL)
        Py_RETURN_NONE;
    self->d = NULL;
    turbo_response *res = turbo_deferred_response(d);
    if (!turbo_deferred_cancelled(d)) {
        PyObject *result = PyObject_CallMethodNoArgs(task, s_result);
        if (result == NULL) {
            tpy_write_exception(res, self->func);
        } else {
            if (tpy_write_result(res, result) != 0) {
                tpy_log_exception(self->func);
                tpy_plain_500(res);
            }
            Py_DECREF(result);
        }
    }
    if (self->robj != NULL) {
        tpy_request_detach((tpy_RequestObject *)self->robj);
        Py_CLEAR(self->robj);
    }
    Py_CLEAR(self->task);
    tpy_aio *a = self->aio;
    if (a == NULL || a != my_aio || push_done(a, d) != 0) {
        /* Not inside this thread's tick (or out of memory for the list):
         * finish now, with Python let go. */
        Py_BEGIN_ALLOW_THREADS turbo_deferred_finish(d);
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(self); /* the reference libturbo's cancel callback held */
    Py_RETURN_NONE;
}

/* libturbo: the client left, or a deadline passed. On the owning thread,
 * outside Python. */
static void on_cancel(turbo_deferred *d, void *ud)
{
    (void)d;
    PendingObject *p = ud;
    tpy_thread_attach();
    if (p->task != NULL) {
        PyObject *r = PyObject_CallMethodNoArgs(p->task, s_cancel);
        if (r == NULL)
            tpy_log_exception(p->func);
        Py_XDECREF(r);
        if (p->aio != NULL)
            arm(p->aio, 0); /* the Task runs to deliver CancelledError */
    }
    tpy_thread_detach();
}

static void pending_dealloc(PendingObject *self)
{
    Py_XDECREF(self->func);
    Py_XDECREF(self->robj);
    Py_XDECREF(self->task);
    PyObject_Free(self);
}

static PyTypeObject PendingType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.Pending",
    .tp_basicsize = sizeof(PendingObject),
    .tp_dealloc = (destructor)pending_dealloc,
    .tp_call = (ternaryfunc)pending_call,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The done callback of a suspended handler's Task (internal).",
};

/* ---- the thread's loop ------------------------------------------------ */

static tpy_aio *aio_get(PyObject *loops, turbo_request *req)
{
    if (my_aio != NULL)
        return my_aio;
    if (hook_new_loop == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "turbo._aio is not loaded");
        return NULL;
    }
    PyObject *loop = loops != NULL ? PyObject_CallMethodNoArgs(loops, s_adopt)
                                   : PyObject_CallNoArgs(hook_new_loop);
    if (loop == NULL)
        return NULL;
    /* _turbo_adopt: makes it this thread's running loop, returns the
     * selector's fd. */
    PyObject *fdobj = PyObject_CallMethodNoArgs(loop, s_turbo_adopt);
    PyObject *tick_m = fdobj != NULL ? PyObject_GetAttr(loop, s_turbo_tick) : NULL;
    int fd = fdobj != NULL ? PyLong_AsLong(fdobj) : -1;
    Py_XDECREF(fdobj);
    if (tick_m == NULL || (fd == -1 && PyErr_Occurred())) {
        Py_XDECREF(tick_m);
        Py_DECREF(loop);
        return NULL;
    }
    tpy_aio *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        Py_DECREF(tick_m);
        Py_DECREF(loop);
        PyErr_NoMemory();
        return NULL;
    }
    a->loop = loop;
    a->tick = tick_m;
    a->tl = turbo_request_loop(req);
    a->watch = turbo_loop_watch(a->tl, fd, TURBO_READ, on_io, a);
    if (a->watch == NULL) {
        PyErr_SetFromErrno(PyExc_OSError);
        Py_DECREF(tick_m);
        Py_DECREF(loop);
        free(a);
        return NULL;
    }
    my_aio = a;
    return a;
}

void tpy_aio_thread_exit(void)
{
    tpy_aio *a = my_aio;
    if (a == NULL)
        return;
    my_aio = NULL;
    Py_XDECREF(a->first_task);
    Py_XDECREF(a->first_start);
    Py_DECREF(a->tick);
    Py_DECREF(a->loop);
    free(a->done);
    free(a);
}

/* ---- the first step --------------------------------------------------- */

PyObject *tpy_aio_first_step_task(PyObject *mod, PyObject *loop)
{
    (void)mod;
    tpy_aio *a = my_aio;
    if (a == NULL || a->first_coro == NULL || (loop != Py_None && loop != a->loop))
        Py_RETURN_NONE;
    if (a->first_task == NULL) {
        PyObject *pair = PyObject_CallFunctionObjArgs(hook_materialize, a->loop, a->first_coro,
                                                      a->first_ctx, NULL);
        if (pair == NULL)
            return NULL;
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            Py_DECREF(pair);
            PyErr_SetString(PyExc_TypeError, "materialize must return (task, start)");
            return NULL;
        }
        a->first_task = Py_NewRef(PyTuple_GET_ITEM(pair, 0));
        a->first_start = Py_NewRef(PyTuple_GET_ITEM(pair, 1));
        Py_DECREF(pair);
    }
    return Py_NewRef(a->first_task);
}

/* The first step is over: a Task made during it leaves "current", and
 * learns what the coroutine yielded (or that it already ended). Returns
 * the Task (a new reference) or NULL with an error. */
static PyObject *first_done(tpy_aio *a, PyObject *yielded)
{
    PyObject *task = a->first_task, *start = a->first_start;
    a->first_task = a->first_start = NULL;
    PyObject *r = PyObject_CallFunctionObjArgs(hook_first_done, a->loop, task, start,
                                               yielded != NULL ? Py_True : Py_False,
                                               yielded != NULL ? yielded : Py_None, NULL);
    Py_DECREF(start);
    if (r == NULL) {
        Py_DECREF(task);
        return NULL;
    }
    Py_DECREF(r);
    return task;
}

static int fail_500(PyObject *func, turbo_response *res)
{
    tpy_log_exception(func);
    tpy_plain_500(res);
    return TURBO_OK;
}

static void drop_robj(PyObject *robj)
{
    if (robj != NULL) {
        tpy_request_detach((tpy_RequestObject *)robj);
        Py_DECREF(robj);
    }
}

int tpy_aio_run(PyObject *func, PyObject *loops, turbo_request *req, turbo_response *res,
                PyObject *coro, PyObject *robj)
{
    tpy_aio *a = aio_get(loops, req);
    if (a == NULL) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyObject *r = PyObject_CallMethod(coro, "close", NULL); /* never awaited: no warning */
        Py_XDECREF(r);
        PyErr_Clear();
        PyErr_Restore(t, v, tb);
        Py_DECREF(coro);
        drop_robj(robj);
        return fail_500(func, res);
    }
    PyObject *ctx = PyContext_CopyCurrent();
    if (ctx == NULL || PyContext_Enter(ctx) != 0) {
        Py_XDECREF(ctx);
        Py_DECREF(coro);
        drop_robj(robj);
        return fail_500(func, res);
    }
    a->first_coro = coro;
    a->first_ctx = ctx;
    PyObject *value = NULL;
    PySendResult st = PyIter_Send(coro, Py_None, &value);
    a->first_coro = a->first_ctx = NULL;
    /* The exception the step raised, if any, stays pending across Exit
     * (which does not touch it). */
    PyContext_Exit(ctx);

    PyObject *task = NULL;
    if (a->first_task != NULL) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        task = first_done(a, st == PYGEN_NEXT ? value : NULL);
        if (task == NULL) {
            tpy_log_exception(func);
            st = PYGEN_ERROR; /* see below: the coroutine is closed */
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
            PyErr_SetString(PyExc_RuntimeError, "cannot hand the coroutine to its Task");
        } else {
            PyErr_Restore(t, v, tb);
        }
        arm(a, 0); /* its Task's first step is queued */
        if (st != PYGEN_NEXT)
            Py_CLEAR(task);
    }

    if (st == PYGEN_RETURN) {
        Py_DECREF(ctx);
        Py_DECREF(coro);
        drop_robj(robj);
        if (tpy_write_result(res, value) != 0)
            fail_500(func, res);
        Py_DECREF(value);
        return TURBO_OK;
    }
    if (st == PYGEN_ERROR) {
        Py_DECREF(ctx);
        if (value == NULL && task == NULL && PyErr_Occurred() == NULL)
            PyErr_SetString(PyExc_RuntimeError, "coroutine failed");
        Py_XDECREF(value);
        Py_DECREF(coro);
        drop_robj(robj);
        tpy_write_exception(res, func);
        return TURBO_OK;
    }

    /* Suspended: it goes on as a Task on the loop. */
    turbo_deferred *d = turbo_defer(req, res);
    if (task == NULL && d != NULL)
        task = PyObject_CallFunctionObjArgs(hook_spawn, a->loop, coro, value, ctx, NULL);
    Py_DECREF(value);
    Py_DECREF(ctx);
    PendingObject *p = NULL;
    if (task != NULL && d != NULL && (p = PyObject_New(PendingObject, &PendingType)) != NULL) {
        p->d = d;
        p->func = Py_NewRef(func);
        p->robj = robj;
        p->task = Py_NewRef(task);
        p->aio = a;
        PyObject *r = PyObject_CallMethodOneArg(task, s_add_done_callback, (PyObject *)p);
        if (r != NULL) {
            Py_DECREF(r);
            /* This reference is libturbo's (on_cancel's ud), dropped by the
             * done callback: until the Task ends, it and p stay alive even
             * if nothing else holds the Future it awaits. */
            turbo_deferred_on_cancel(d, on_cancel, p);
            Py_DECREF(task);
            Py_DECREF(coro);
            arm(a, 0);
            return TURBO_DEFER;
        }
        p->d = NULL;
        p->robj = NULL;
        Py_DECREF(p);
    }
    /* Could not hand it over: the request answers 500 now. */
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (task != NULL) {
        PyObject *r = PyObject_CallMethodNoArgs(task, s_cancel);
        Py_XDECREF(r);
        Py_DECREF(task);
    } else {
        PyObject *r = PyObject_CallMethod(coro, "close", NULL);
        Py_XDECREF(r);
    }
    PyErr_Clear();
    PyErr_Restore(t, v, tb);
    if (!PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "cannot defer the request");
    Py_DECREF(coro);
    drop_robj(robj);
    turbo_response *out = d != NULL ? turbo_deferred_response(d) : res;
    fail_500(func, out);
    if (d != NULL)
        turbo_deferred_finish(d); /* inside the handler: answered as it returns */
    return d != NULL ? TURBO_DEFER : TURBO_OK;
}

/* ---- module hooks ----------------------------------------------------- */

PyObject *tpy_aio_set_hooks(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *nl, *sp, *ma, *fd;
    if (!PyArg_ParseTuple(args, "OOOO", &nl, &sp, &ma, &fd))
        return NULL;
    Py_XSETREF(hook_new_loop, Py_NewRef(nl));
    Py_XSETREF(hook_spawn, Py_NewRef(sp));
    Py_XSETREF(hook_materialize, Py_NewRef(ma));
    Py_XSETREF(hook_first_done, Py_NewRef(fd));
    Py_RETURN_NONE;
}

int tpy_aio_init(void)
{
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) \
        return -1;
    INTERN(s_adopt, "adopt");
    INTERN(s_turbo_adopt, "_turbo_adopt");
    INTERN(s_turbo_tick, "_turbo_tick");
    INTERN(s_add_done_callback, "add_done_callback");
    INTERN(s_cancel, "cancel");
    INTERN(s_result, "result");
#undef INTERN
    return PyType_Ready(&PendingType);
}
