/*
 * `async def` handlers (aio.h).
 *
 * The first step. The trampoline calls the handler, which returns a
 * coroutine; it is sent None here, on the I/O thread, inside a new empty
 * context (so contextvars set by one request never reach another) and with the thread's asyncio loop as the running loop. A
 * coroutine that returns or raises in that step is answered at once,
 * exactly as a `def` handler's result: no Task, no Future, no loop
 * iteration.
 *
 * A coroutine that suspends (it yielded the Future it awaits) goes on as
 * an asyncio Task on the loop. The Task drives a Suspended object, which
 * hands it that Future first, then passes on everything the Task sends or
 * throws, so the coroutine goes on exactly where it stopped; the Task's
 * first step runs at once, not on the next iteration. The request is
 * deferred (turbo_defer); when the coroutine ends, Suspended writes its
 * result or exception into the deferred response in that same step, and
 * turbo_deferred_finish() sends it once the thread has let go of Python
 * (finishing can run the next pipelined request's handler at once, which
 * enters Python itself).
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
#include "stream.h"

/* What turbo._aio hands over (tpy_aio_set_hooks). */
static PyObject *hook_new_loop; /* () -> Loop */
static PyObject *task_type;     /* asyncio.Task */
static PyObject *enter_task, *leave_task; /* asyncio.tasks._enter_task, _leave_task */
static PyObject *tpy_cancelled_error;     /* asyncio.CancelledError */
static PyObject *s_adopt, *s_turbo_adopt, *s_turbo_tick, *s_cancel, *s_call_soon, *s_ready,
    *s_scheduled;

/* One I/O thread's loop and what drives it. */
typedef struct tpy_aio {
    PyObject *loop;  /* turbo._aio.Loop */
    PyObject *tick;  /* loop._turbo_tick */
    PyObject *ready; /* loop._ready (a deque) and _scheduled (a heap list of */
    PyObject *sched; /* (when, seq, handle)): Loop never replaces either */
    turbo_loop *tl;
    turbo_watch *watch;   /* the selector's epoll fd */
    turbo_timer *timer;   /* at the earliest asyncio timer */
    uint64_t timer_due;   /* when it fires, CLOCK_MONOTONIC ms */
    turbo_timer *soon;    /* a 0 ms timer: ready callbacks wait */
    /* The first step running now, if any (borrowed). */
    PyObject *first_coro, *first_ctx, *first_func;
    int first_json_strings;
    PyObject *first_task, *first_susp; /* made on request, owned */
    /* Answers written, to be finished once Python is let go. */
    turbo_deferred **done;
    size_t ndone, cap;
} tpy_aio;

static _Thread_local tpy_aio *my_aio;

/* ---- Suspended: the coroutine as its Task runs it ------------------- */

/*
 * What the Task drives is not the handler's coroutine itself but this
 * wrapper around it (an awaitable with send/throw/close, as asyncio.Task
 * wants), which
 *   - first hands the Task what the coroutine yielded in its first step
 *     on the I/O thread (the Future it awaits), then passes everything
 *     the Task sends or throws (results, CancelledError) to the coroutine;
 *   - when the coroutine ends, writes its result or exception into the
 *     deferred response at once, in the same step: no done callback, no
 *     extra loop iteration. The Task then ends with None (or cancelled).
 */
enum { S_FIRST, S_RUNNING, S_ENDED_EARLY, S_DONE };

typedef struct {
    PyObject_HEAD
    PyObject *coro;    /* the handler's coroutine; NULL once done */
    PyObject *first;   /* what it yielded in its first step, until handed */
    int state;
    turbo_deferred *d; /* NULL until deferred, and once answered */
    PyObject *func;    /* the handler, for the log */
    PyObject *robj;    /* the Request passed to it, or NULL */
    PyObject *task;    /* its Task, for cancellation; cleared when done */
    tpy_aio *aio;
    int held;          /* libturbo's cancel callback holds a reference */
    int json_strings;  /* the endpoint's: str/bytes results as JSON */
} SuspendedObject;

static PyTypeObject SuspendedType;

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
    /* Rounded up to whole ms, as asyncio's own epoll wait is: never
     * before the asyncio timer is due. */
    double ms = delay * 1000.0;
    uint64_t wait = ms > 86400000.0 ? 86400000u : (uint64_t)ms;
    if ((double)wait < ms)
        wait++;
    uint64_t due = now_ms() + wait;
    if (a->timer != NULL) {
        if (a->timer_due <= due)
            return; /* an earlier wake-up is armed: it re-arms then */
        turbo_timer_cancel(a->timer);
    }
    a->timer = turbo_loop_timer(a->tl, wait, on_timer, a);
    a->timer_due = due;
}

/* When the loop must run next, as _turbo_tick would say it, read in C
 * after every first step (it may have queued a callback or a timer): 0
 * when callbacks are ready, else the seconds to the earliest timer (on
 * time.monotonic()'s clock), else -1. A few loads when nothing changed. */
static double next_delay(tpy_aio *a)
{
    if (PyObject_Length(a->ready) != 0) {
        PyErr_Clear();
        return 0;
    }
    if (PyList_GET_SIZE(a->sched) == 0)
        return -1;
    PyObject *head = PyList_GET_ITEM(a->sched, 0);
    double when = PyTuple_Check(head) && PyTuple_GET_SIZE(head) == 3
                      ? PyFloat_AsDouble(PyTuple_GET_ITEM(head, 0))
                      : 0;
    if (when == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double now = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
    return when > now ? when - now : 0;
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
    for (size_t i = 0; i < a->ndone; i++) {
        /* The low bit marks an abort (tpy_aio_finish_later): handles are
         * at least 8-aligned, so it is never set in a real one. */
        uintptr_t v = (uintptr_t)a->done[i];
        if (v & 1)
            turbo_deferred_abort((turbo_deferred *)(v & ~(uintptr_t)1));
        else
            turbo_deferred_finish(a->done[i]);
    }
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

/* The coroutine ended: with result (ok) or with the pending exception
 * (result NULL). Writes the answer unless the request was cancelled, and
 * queues the handle to be finished after the tick. Clears the error. */
static void answer(SuspendedObject *self, PyObject *result)
{
    self->state = S_DONE;
    Py_CLEAR(self->coro);
    turbo_deferred *d = self->d;
    self->d = NULL;
    if (d == NULL) { /* never deferred (it cannot happen): drop it */
        if (result == NULL)
            tpy_log_exception(self->func);
        return;
    }
    /* Until the handle is finished (after the tick), libturbo may still
     * cancel it (an earlier answer on its connection closes it): that must
     * not call back into this object, which may be gone by then. */
    turbo_deferred_on_cancel(d, NULL, NULL);
    turbo_response *res = turbo_deferred_response(d);
    if (turbo_deferred_cancelled(d)) {
        PyErr_Clear(); /* CancelledError, or what the cancellation led to */
    } else if (result == NULL) {
        tpy_write_exception(res, self->func);
    } else {
        int rc = tpy_write_result(res, result, self->json_strings);
        if (rc == 1) {
            /* A StreamingResponse: its driver finishes d. (The upgrade
             * marker: res is the 101 already, finished as any answer.) */
            if (result != tpy_upgraded) {
                rc = tpy_stream_begin(d, result);
                if (rc == 0)
                    d = NULL; /* the stream's now */
            } else {
                rc = 0;
            }
        }
        if (rc != 0) {
            tpy_log_exception(self->func);
            tpy_plain_500(res);
        }
    }
    if (self->robj != NULL) {
        tpy_request_detach((tpy_RequestObject *)self->robj);
        Py_CLEAR(self->robj);
    }
    Py_CLEAR(self->task);
    tpy_aio *a = self->aio;
    if (d == NULL) {
        /* handed to a stream */
    } else if (a == NULL || a != my_aio || push_done(a, d) != 0) {
        /* Not inside this thread's tick (or out of memory for the list):
         * finish now, with Python let go. */
        Py_BEGIN_ALLOW_THREADS turbo_deferred_finish(d);
        Py_END_ALLOW_THREADS
    }
    if (self->held) {
        self->held = 0;
        Py_DECREF(self); /* libturbo's; the Task still holds another */
    }
}

/* What the coroutine did with what the Task sent or threw in: it yielded
 * (*out, PYGEN_NEXT), or ended. An exception other than CancelledError is
 * the request's answer and the Task ends normally; CancelledError is
 * raised on, so that the Task ends cancelled. */
static PySendResult after_step(SuspendedObject *self, PySendResult st, PyObject **out)
{
    if (st == PYGEN_NEXT)
        return st;
    if (st == PYGEN_RETURN) {
        answer(self, *out);
        Py_DECREF(*out);
        *out = Py_NewRef(Py_None);
        return PYGEN_RETURN;
    }
    int cancelled = tpy_cancelled_error != NULL && PyErr_ExceptionMatches(tpy_cancelled_error);
    if (cancelled) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        answer(self, NULL); /* cancelled: nothing is written */
        PyErr_Restore(t, v, tb);
        *out = NULL;
        return PYGEN_ERROR;
    }
    answer(self, NULL);
    *out = Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

static PySendResult susp_am_send(SuspendedObject *self, PyObject *arg, PyObject **out)
{
    switch (self->state) {
    case S_FIRST:
        self->state = S_RUNNING;
        *out = self->first;
        self->first = NULL;
        return PYGEN_NEXT;
    case S_RUNNING: return after_step(self, PyIter_Send(self->coro, arg, out), out);
    default: *out = Py_NewRef(Py_None); return PYGEN_RETURN;
    }
}

/* A step's outcome as the generator protocol says it: the value yielded,
 * or NULL with StopIteration (ended; the Task's result is None) or the
 * error raised. */
static PyObject *generator_result(PySendResult st, PyObject *out)
{
    if (st == PYGEN_NEXT)
        return out;
    if (st == PYGEN_RETURN) {
        Py_DECREF(out);
        PyErr_SetNone(PyExc_StopIteration);
    }
    return NULL;
}

/* send(value): the generator protocol over am_send. */
static PyObject *susp_send(SuspendedObject *self, PyObject *arg)
{
    PyObject *out = NULL;
    PySendResult st = susp_am_send(self, arg, &out); /* before out is read */
    return generator_result(st, out);
}

static PyObject *susp_next(SuspendedObject *self)
{
    return susp_send(self, Py_None);
}

/* throw(exc): CancelledError from Task.cancel(), at the coroutine's await
 * point (also before the Task's first step: the coroutine is suspended on
 * what it yielded then). */
static PyObject *susp_throw(SuspendedObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (self->state == S_FIRST) {
        self->state = S_RUNNING;
        Py_CLEAR(self->first);
    }
    if (self->state != S_RUNNING) { /* it ended already: the error goes on */
        if (nargs >= 1 && PyExceptionInstance_Check(args[0]))
            PyErr_SetObject((PyObject *)Py_TYPE(args[0]), args[0]);
        else if (nargs >= 1)
            PyErr_SetObject(args[0], nargs >= 2 ? args[1] : NULL);
        else
            PyErr_SetString(PyExc_TypeError, "throw expected at least 1 argument");
        return NULL;
    }
    PyObject *meth = PyObject_GetAttrString(self->coro, "throw");
    PyObject *out = meth != NULL ? PyObject_Vectorcall(meth, args, (size_t)nargs, NULL) : NULL;
    Py_XDECREF(meth);
    PySendResult st = PYGEN_NEXT;
    if (out == NULL) {
        st = PYGEN_ERROR;
        if (PyErr_ExceptionMatches(PyExc_StopIteration)) {
            PyObject *t, *v, *tb;
            PyErr_Fetch(&t, &v, &tb);
            PyErr_NormalizeException(&t, &v, &tb);
            out = v != NULL ? PyObject_GetAttrString(v, "value") : Py_NewRef(Py_None);
            Py_XDECREF(t);
            Py_XDECREF(v);
            Py_XDECREF(tb);
            if (out == NULL)
                return NULL;
            st = PYGEN_RETURN;
        }
    }
    st = after_step(self, st, &out); /* before out is read */
    return generator_result(st, out);
}

static PyObject *susp_close(SuspendedObject *self, PyObject *unused)
{
    (void)unused;
    Py_CLEAR(self->first);
    if (self->state == S_RUNNING || self->state == S_FIRST) {
        self->state = S_DONE;
        PyObject *coro = self->coro;
        self->coro = NULL;
        PyObject *r = PyObject_CallMethod(coro, "close", NULL);
        Py_DECREF(coro);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

static PyObject *susp_await(SuspendedObject *self)
{
    return Py_NewRef(self);
}

static void susp_dealloc(SuspendedObject *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->coro);
    Py_CLEAR(self->first);
    Py_CLEAR(self->func);
    Py_CLEAR(self->robj);
    Py_CLEAR(self->task);
    PyObject_GC_Del(self);
}

static int susp_traverse(SuspendedObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->coro);
    Py_VISIT(self->first);
    Py_VISIT(self->func);
    Py_VISIT(self->robj);
    Py_VISIT(self->task);
    return 0;
}

static int susp_clear(SuspendedObject *self)
{
    Py_CLEAR(self->coro);
    Py_CLEAR(self->first);
    Py_CLEAR(self->robj);
    Py_CLEAR(self->task);
    return 0;
}

/* Its name in reprs and in asyncio's messages: the handler's. */
static PyObject *susp_repr(SuspendedObject *self)
{
    return PyUnicode_FromFormat("<turbo handler %R>", self->func);
}

static PyMethodDef susp_methods[] = {
    {"send", (PyCFunction)susp_send, METH_O, NULL},
    {"throw", (PyCFunction)(void (*)(void))susp_throw, METH_FASTCALL, NULL},
    {"close", (PyCFunction)susp_close, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL}};

static PyAsyncMethods susp_async = {
    .am_await = (unaryfunc)susp_await,
    .am_send = (sendfunc)susp_am_send,
};

static PyTypeObject SuspendedType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.Suspended",
    .tp_basicsize = sizeof(SuspendedObject),
    .tp_dealloc = (destructor)susp_dealloc,
    .tp_as_async = &susp_async,
    .tp_repr = (reprfunc)susp_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A suspended handler's coroutine as its asyncio Task runs it (internal).",
    .tp_traverse = (traverseproc)susp_traverse,
    .tp_clear = (inquiry)susp_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)susp_next,
    .tp_methods = susp_methods,
};

static SuspendedObject *susp_new(PyObject *coro, PyObject *func, tpy_aio *a)
{
    SuspendedObject *s = PyObject_GC_New(SuspendedObject, &SuspendedType);
    if (s == NULL)
        return NULL;
    s->coro = Py_NewRef(coro);
    s->first = NULL;
    s->state = S_FIRST;
    s->d = NULL;
    s->func = Py_NewRef(func);
    s->robj = NULL;
    s->task = NULL;
    s->aio = a;
    s->held = 0;
    PyObject_GC_Track(s);
    return s;
}

/* libturbo: the client left, or a deadline passed. On the owning thread,
 * outside Python. The Task is cancelled; the coroutine sees
 * CancelledError at its await point when the Task next runs (soon). */
static void on_cancel(turbo_deferred *d, void *ud)
{
    (void)d;
    SuspendedObject *s = ud;
    tpy_thread_attach();
    if (s->task != NULL) {
        PyObject *r = PyObject_CallMethodNoArgs(s->task, s_cancel);
        if (r == NULL)
            tpy_log_exception(s->func);
        Py_XDECREF(r);
        arm(s->aio, 0);
    }
    tpy_thread_detach();
}

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
    PyObject *ready = tick_m != NULL ? PyObject_GetAttr(loop, s_ready) : NULL;
    PyObject *sched = ready != NULL ? PyObject_GetAttr(loop, s_scheduled) : NULL;
    int fd = fdobj != NULL ? PyLong_AsLong(fdobj) : -1;
    Py_XDECREF(fdobj);
    if (sched != NULL && !PyList_CheckExact(sched))
        PyErr_SetString(PyExc_TypeError, "the loop's _scheduled is not a list");
    if (sched == NULL || PyErr_Occurred()) {
        Py_XDECREF(sched);
        Py_XDECREF(ready);
        Py_XDECREF(tick_m);
        Py_DECREF(loop);
        return NULL;
    }
    tpy_aio *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        Py_DECREF(sched);
        Py_DECREF(ready);
        Py_DECREF(tick_m);
        Py_DECREF(loop);
        PyErr_NoMemory();
        return NULL;
    }
    a->loop = loop;
    a->tick = tick_m;
    a->ready = ready;
    a->sched = sched;
    a->tl = turbo_request_loop(req);
    a->watch = turbo_loop_watch(a->tl, fd, TURBO_READ, on_io, a);
    if (a->watch == NULL) {
        PyErr_SetFromErrno(PyExc_OSError);
        Py_DECREF(sched);
        Py_DECREF(ready);
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
    Py_XDECREF(a->first_susp);
    Py_DECREF(a->sched);
    Py_DECREF(a->ready);
    Py_DECREF(a->tick);
    Py_DECREF(a->loop);
    free(a->done);
    free(a);
}

/* ---- the first step --------------------------------------------------- */

/* The Task made for s on loop, in ctx. Its first step (handing the Task
 * what the coroutine yielded) runs here and now rather than on the next
 * loop iteration: asyncio.Task queues it with loop.call_soon, which is
 * shadowed for the span of the constructor by capture(). */
static _Thread_local PyObject *captured_step;

static PyObject *capture(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    (void)kw;
    if (PyTuple_GET_SIZE(args) != 1 || captured_step != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "unexpected call_soon while a Task is made");
        return NULL;
    }
    captured_step = Py_NewRef(PyTuple_GET_ITEM(args, 0));
    Py_RETURN_NONE;
}

static PyMethodDef capture_def = {"call_soon", (PyCFunction)(void (*)(void))capture,
                                  METH_VARARGS | METH_KEYWORDS, NULL};
static PyObject *capture_fn;

static PyObject *new_task(PyObject *loop, SuspendedObject *s, PyObject *ctx, int eager)
{
    PyObject *args = PyTuple_Pack(1, (PyObject *)s);
    PyObject *kw = args != NULL ? Py_BuildValue("{sOsO}", "loop", loop, "context", ctx) : NULL;
    if (kw == NULL) {
        Py_XDECREF(args);
        return NULL;
    }
    if (eager && PyObject_SetAttr(loop, s_call_soon, capture_fn) != 0)
        eager = 0;
    PyObject *task = PyObject_Call(task_type, args, kw);
    Py_DECREF(args);
    Py_DECREF(kw);
    if (!eager)
        return task;
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (PyObject_DelAttr(loop, s_call_soon) != 0)
        PyErr_Clear();
    PyErr_Restore(t, v, tb);
    PyObject *step = captured_step;
    captured_step = NULL;
    if (task == NULL) {
        Py_XDECREF(step);
        return NULL;
    }
    if (step == NULL) { /* not asyncio's Task as we know it: nothing queued? */
        Py_DECREF(task);
        PyErr_SetString(PyExc_RuntimeError, "asyncio.Task did not schedule its first step");
        return NULL;
    }
    /* As the Handle would run it: in the Task's context. */
    int rc = PyContext_Enter(ctx);
    PyObject *r = rc == 0 ? PyObject_CallNoArgs(step) : NULL;
    if (rc == 0)
        PyContext_Exit(ctx);
    Py_DECREF(step);
    if (r == NULL) {
        Py_DECREF(task);
        return NULL;
    }
    Py_DECREF(r);
    return task;
}

PyObject *tpy_aio_first_step_task(PyObject *mod, PyObject *loop)
{
    (void)mod;
    tpy_aio *a = my_aio;
    if (a == NULL || a->first_coro == NULL || (loop != Py_None && loop != a->loop))
        Py_RETURN_NONE;
    if (a->first_task == NULL) {
        SuspendedObject *s = susp_new(a->first_coro, a->first_func, a);
        if (s == NULL)
            return NULL;
        s->json_strings = a->first_json_strings;
        PyObject *task = new_task(a->loop, s, a->first_ctx, 0);
        PyObject *r = task != NULL ? PyObject_CallFunctionObjArgs(enter_task, a->loop, task, NULL)
                                   : NULL;
        if (r == NULL) {
            Py_XDECREF(task);
            s->state = S_DONE;
            Py_DECREF(s);
            return NULL;
        }
        Py_DECREF(r);
        a->first_task = task;
        a->first_susp = (PyObject *)s;
    }
    return Py_NewRef(a->first_task);
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

static void close_quietly(PyObject *coro)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyObject *r = PyObject_CallMethod(coro, "close", NULL);
    Py_XDECREF(r);
    PyErr_Clear();
    PyErr_Restore(t, v, tb);
}

int tpy_aio_run(PyObject *func, PyObject *loops, turbo_request *req, turbo_response *res,
                PyObject *coro, PyObject *robj, int json_strings)
{
    tpy_aio *a = aio_get(loops, req);
    PyObject *ctx = a != NULL ? PyContext_New() : NULL; /* this request's alone */
    if (ctx == NULL || PyContext_Enter(ctx) != 0) {
        Py_XDECREF(ctx);
        close_quietly(coro); /* never awaited: no warning about it */
        Py_DECREF(coro);
        drop_robj(robj);
        return fail_500(func, res);
    }
    a->first_coro = coro;
    a->first_ctx = ctx;
    a->first_func = func;
    a->first_json_strings = json_strings;
    PyObject *value = NULL;
    PySendResult st = PyIter_Send(coro, Py_None, &value);
    a->first_coro = a->first_ctx = a->first_func = NULL;
    PyContext_Exit(ctx); /* leaves a pending exception alone */

    SuspendedObject *s = NULL;
    PyObject *task = NULL;
    if (a->first_task != NULL) {
        /* The step asked for its Task: it takes over from here (its own
         * first step is queued), or has nothing to do. */
        task = a->first_task;
        s = (SuspendedObject *)a->first_susp;
        a->first_task = a->first_susp = NULL;
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyObject *r = PyObject_CallFunctionObjArgs(leave_task, a->loop, task, NULL);
        if (r == NULL)
            tpy_log_exception(func);
        Py_XDECREF(r);
        PyErr_Restore(t, v, tb);
        if (st == PYGEN_NEXT) {
            s->first = value;
            value = NULL;
        } else {
            s->state = S_ENDED_EARLY;
            Py_CLEAR(s->coro);
            Py_CLEAR(task);
            Py_CLEAR(s);
        }
    }

    if (st != PYGEN_NEXT) {
        /* Answered inline. What the step queued on the loop on its way (a
         * Task, a timer, a woken waiter) still runs. A request.stream()
         * in the step deferred the request: finished here, inside the
         * handler, it is answered inline all the same. */
        if (robj != NULL && st == PYGEN_RETURN)
            tpy_request_keep_for_stream((tpy_RequestObject *)robj, value);
        turbo_deferred *taken = robj != NULL ? ((tpy_RequestObject *)robj)->d : NULL;
        Py_DECREF(ctx);
        Py_DECREF(coro);
        drop_robj(robj);
        int rc = TURBO_OK;
        if (st == PYGEN_ERROR) {
            tpy_write_exception(res, func);
        } else {
            int w = tpy_write_result(res, value, json_strings);
            if (w == 1)
                rc = tpy_stream_inline(loops, req, res, value);
            else if (w != 0)
                fail_500(func, res);
            Py_DECREF(value);
        }
        if (taken != NULL && rc != TURBO_DEFER)
            turbo_deferred_finish(taken);
        arm(a, next_delay(a));
        return rc;
    }

    /* Suspended: deferred, and on as a Task on the loop. */
    turbo_deferred *d = turbo_defer(req, res);
    if (d != NULL && robj != NULL)
        ((tpy_RequestObject *)robj)->d = d; /* for a later request.stream() */
    if (d == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "turbo_defer failed");
    } else if (s == NULL && (s = susp_new(coro, func, a)) != NULL) {
        s->json_strings = json_strings;
        s->first = value;
        value = NULL;
    }
    Py_XDECREF(value);
    if (s != NULL && d != NULL) {
        s->d = d;
        s->robj = robj;
        robj = NULL;
        /* This reference is libturbo's (on_cancel's ud), dropped when the
         * coroutine ends: until then s and its Task stay alive even if
         * nothing else holds the Future the coroutine awaits. */
        Py_INCREF(s);
        s->held = 1;
        if (task == NULL)
            task = new_task(a->loop, s, ctx, 1);
        if (task != NULL && s->state != S_DONE) {
            s->task = Py_NewRef(task);
            turbo_deferred_on_cancel(d, on_cancel, s);
        }
    }
    Py_DECREF(ctx);
    if (task != NULL && d != NULL) {
        Py_DECREF(task);
        Py_DECREF(s);
        Py_DECREF(coro);
        arm(a, next_delay(a));
        return TURBO_DEFER;
    }
    /* Could not hand it over: answered 500 now. A Task made in the first
     * step finds s done and ends at its first step. */
    Py_XDECREF(task);
    if (s != NULL) {
        s->d = NULL;
        if (s->held) {
            s->held = 0;
            Py_DECREF(s);
        }
        drop_robj(s->robj);
        s->robj = NULL;
        s->state = S_DONE;
        Py_DECREF(s);
    }
    close_quietly(coro);
    Py_DECREF(coro);
    drop_robj(robj);
    turbo_response *out = d != NULL ? turbo_deferred_response(d) : res;
    fail_500(func, out);
    if (d != NULL)
        turbo_deferred_finish(d); /* inside the handler: answered as it returns */
    return d != NULL ? TURBO_DEFER : TURBO_OK;
}

/* ---- for streams and WebSockets (stream.c) ----------------------------- */

PyObject *tpy_aio_loop(PyObject *loops, turbo_request *req)
{
    tpy_aio *a = aio_get(loops, req);
    return a != NULL ? a->loop : NULL;
}

int tpy_aio_in_first_step(void)
{
    return my_aio != NULL && my_aio->first_coro != NULL;
}

void tpy_aio_kick(void)
{
    if (my_aio != NULL)
        arm(my_aio, next_delay(my_aio));
}

void tpy_aio_finish_later(turbo_deferred *d, int abort)
{
    turbo_deferred *v = abort ? (turbo_deferred *)((uintptr_t)d | 1) : d;
    if (my_aio != NULL && push_done(my_aio, v) == 0)
        return;
    /* Outside this thread's loop (or out of memory for the list): now,
     * with Python let go, as answer() does. */
    Py_BEGIN_ALLOW_THREADS
    if (abort)
        turbo_deferred_abort(d);
    else
        turbo_deferred_finish(d);
    Py_END_ALLOW_THREADS
}

/* ---- module hooks ----------------------------------------------------- */

PyObject *tpy_aio_set_hooks(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *nl, *tt, *et, *lt, *ce;
    if (!PyArg_ParseTuple(args, "OOOOO", &nl, &tt, &et, &lt, &ce))
        return NULL;
    Py_XSETREF(hook_new_loop, Py_NewRef(nl));
    Py_XSETREF(task_type, Py_NewRef(tt));
    Py_XSETREF(enter_task, Py_NewRef(et));
    Py_XSETREF(leave_task, Py_NewRef(lt));
    Py_XSETREF(tpy_cancelled_error, Py_NewRef(ce));
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
    INTERN(s_cancel, "cancel");
    INTERN(s_call_soon, "call_soon");
    INTERN(s_ready, "_ready");
    INTERN(s_scheduled, "_scheduled");
#undef INTERN
    if ((capture_fn = PyCFunction_New(&capture_def, NULL)) == NULL)
        return -1;
    return PyType_Ready(&SuspendedType);
}
