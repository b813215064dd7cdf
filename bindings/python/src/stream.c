/*
 * Streamed responses and WebSockets (stream.h).
 *
 * A StreamingResponse is sent through libturbo's streamed responses
 * (turbo_deferred_stream/write/finish): the handler's answer is deferred,
 * its head goes at once, and a driver (turbo._drive_stream, an asyncio
 * Task on the I/O thread's loop) writes the body's pieces through a
 * Stream object, awaiting its drain Future whenever a write says the
 * queue is past the high-water mark. So a body of any size, from a slow
 * or endless iterator, holds about the high-water mark of memory.
 *
 * A WebSocketConn is one accepted turbo_ws; its callbacks call the Python
 * WebSocket that owns it (_on_message, _on_close, _on_drain).
 *
 * Threads. Everything here runs on the request's I/O thread: Python code
 * in a handler or a loop tick (attached), libturbo's callbacks from the
 * connection code (detached: they attach, call, kick the loop, detach).
 * Finishing a stream re-enters the connection code, so it never happens
 * with Python attached: tpy_aio_finish_later does it after the tick.
 */
#include "stream.h"

#include "aio.h"
#include "call.h"
#include "request.h"
#include "response.h"

PyTypeObject *tpy_StreamingType;
PyObject *tpy_upgraded;
static PyObject *start_hook; /* turbo._start_stream(stream, response) */
static PyObject *s_on_message, *s_on_close, *s_on_drain, *s_set_result, *s_cancel, *s_done;

/* ---- Stream ------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    turbo_deferred *d; /* NULL once finished or aborted */
    PyObject *loop;    /* the I/O thread's asyncio loop */
    PyObject *fut;     /* the drain Future awaited now, or NULL */
    PyObject *task;    /* the driver, cancelled when the client leaves */
    int cancelled;
} StreamObject;

static void resolve(PyObject **fut, int cancel)
{
    if (*fut == NULL)
        return;
    PyObject *f = *fut;
    *fut = NULL;
    PyObject *done = PyObject_CallMethodNoArgs(f, s_done);
    if (done != NULL && !PyObject_IsTrue(done)) {
        PyObject *r = cancel ? PyObject_CallMethodNoArgs(f, s_cancel)
                             : PyObject_CallMethodOneArg(f, s_set_result, Py_None);
        Py_XDECREF(r);
    }
    Py_XDECREF(done);
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(f);
    Py_DECREF(f);
}

static void stream_on_drain(turbo_deferred *d, void *ud)
{
    (void)d;
    StreamObject *s = ud;
    tpy_thread_attach();
    resolve(&s->fut, 0);
    tpy_aio_kick();
    tpy_thread_detach();
}

static void stream_on_cancel(turbo_deferred *d, void *ud)
{
    (void)d;
    StreamObject *s = ud;
    tpy_thread_attach();
    s->cancelled = 1;
    resolve(&s->fut, 1);
    if (s->task != NULL) {
        PyObject *r = PyObject_CallMethodNoArgs(s->task, s_cancel);
        if (r == NULL)
            PyErr_WriteUnraisable(s->task);
        Py_XDECREF(r);
    }
    tpy_aio_kick();
    tpy_thread_detach();
}

/* Lets go of d: no callback may reach s any more, then libturbo's
 * reference to s goes. */
static void stream_release(StreamObject *s, int abort)
{
    turbo_deferred *d = s->d;
    s->d = NULL;
    turbo_deferred_on_cancel(d, NULL, NULL);
    turbo_deferred_on_drain(d, NULL, NULL);
    resolve(&s->fut, 1);
    Py_CLEAR(s->task);
    tpy_aio_finish_later(d, abort);
    Py_DECREF(s);
}

static turbo_deferred *stream_live(StreamObject *s)
{
    if (s->d == NULL)
        PyErr_SetString(PyExc_RuntimeError, "the stream has ended");
    return s->d;
}

static PyObject *stream_start(StreamObject *s, PyObject *length)
{
    turbo_deferred *d = stream_live(s);
    if (d == NULL)
        return NULL;
    uint64_t len = TURBO_LENGTH_UNKNOWN;
    if (length != Py_None) {
        unsigned long long v = PyLong_AsUnsignedLongLong(length);
        if (v == (unsigned long long)-1 && PyErr_Occurred())
            return NULL;
        len = v;
    }
    int rc = turbo_deferred_stream(d, len);
    if (rc != TURBO_OK) {
        PyErr_Format(PyExc_RuntimeError, "turbo_deferred_stream: %s", turbo_strerror(rc));
        return NULL;
    }
    Py_RETURN_NONE;
}

/* write(data) -> True when the queue is past the high-water mark (await
 * drained() before the next write), else False. */
static PyObject *stream_write(StreamObject *s, PyObject *data)
{
    turbo_deferred *d = stream_live(s);
    if (d == NULL)
        return NULL;
    Py_buffer view;
    if (PyUnicode_Check(data)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(data, &n);
        if (p == NULL)
            return NULL;
        view.buf = (void *)p;
        view.len = n;
        view.obj = NULL;
    } else if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) != 0) {
        PyErr_Format(PyExc_TypeError, "a streamed body yields str or bytes, not %.100s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    int rc = turbo_deferred_write(d, view.buf, (size_t)view.len);
    if (view.obj != NULL)
        PyBuffer_Release(&view);
    if (rc == TURBO_OK)
        Py_RETURN_FALSE;
    if (rc == TURBO_FULL)
        Py_RETURN_TRUE;
    if (rc == TURBO_ESTATE)
        PyErr_SetString(PyExc_ConnectionResetError, "the client has gone");
    else if (rc == TURBO_ERANGE)
        PyErr_SetString(PyExc_ValueError, "more bytes than the Content-Length announced");
    else
        PyErr_Format(PyExc_RuntimeError, "turbo_deferred_write: %s", turbo_strerror(rc));
    return NULL;
}

/* drained() -> a Future that is done once the queue is at the low mark. */
static PyObject *stream_drained(StreamObject *s, PyObject *unused)
{
    (void)unused;
    if (stream_live(s) == NULL)
        return NULL;
    if (s->fut == NULL && (s->fut = PyObject_CallMethod(s->loop, "create_future", NULL)) == NULL)
        return NULL;
    if (s->cancelled) /* gone already: the awaiting driver is cancelled */
        return PyObject_CallMethodNoArgs(s->fut, s_cancel) == NULL ? NULL : Py_NewRef(s->fut);
    return Py_NewRef(s->fut);
}

static PyObject *stream_finish(StreamObject *s, PyObject *unused)
{
    (void)unused;
    if (s->d != NULL)
        stream_release(s, 0);
    Py_RETURN_NONE;
}

static PyObject *stream_abort(StreamObject *s, PyObject *unused)
{
    (void)unused;
    if (s->d != NULL)
        stream_release(s, 1);
    Py_RETURN_NONE;
}

static PyObject *stream_set_task(StreamObject *s, PyObject *task)
{
    Py_XSETREF(s->task, s->d != NULL ? Py_NewRef(task) : NULL);
    Py_RETURN_NONE;
}

static PyObject *stream_get_cancelled(StreamObject *s, void *unused)
{
    (void)unused;
    return PyBool_FromLong(s->cancelled);
}

static PyObject *stream_get_queued(StreamObject *s, void *unused)
{
    (void)unused;
    return PyLong_FromUnsignedLongLong(s->d != NULL ? turbo_deferred_queued(s->d) : 0);
}

static void stream_dealloc(StreamObject *s)
{
    PyObject_GC_UnTrack(s);
    Py_CLEAR(s->loop);
    Py_CLEAR(s->fut);
    Py_CLEAR(s->task);
    PyObject_GC_Del(s);
}

static int stream_traverse(StreamObject *s, visitproc visit, void *arg)
{
    Py_VISIT(s->loop);
    Py_VISIT(s->fut);
    Py_VISIT(s->task);
    return 0;
}

static int stream_clear(StreamObject *s)
{
    Py_CLEAR(s->fut);
    Py_CLEAR(s->task);
    return 0;
}

static PyMethodDef stream_methods[] = {
    {"start", (PyCFunction)stream_start, METH_O, "start(length or None): the head goes"},
    {"write", (PyCFunction)stream_write, METH_O, "write(data) -> True when past the high-water mark"},
    {"drained", (PyCFunction)stream_drained, METH_NOARGS, "a Future: the queue is at the low mark"},
    {"finish", (PyCFunction)stream_finish, METH_NOARGS, "the body's end"},
    {"abort", (PyCFunction)stream_abort, METH_NOARGS, "cut the body short: the connection closes"},
    {"set_task", (PyCFunction)stream_set_task, METH_O, "the driver, cancelled if the client goes"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef stream_getset[] = {
    {"cancelled", (getter)stream_get_cancelled, NULL, "the client has gone", NULL},
    {"queued", (getter)stream_get_queued, NULL, "bytes written, not yet sent", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject tpy_StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.Stream",
    .tp_basicsize = sizeof(StreamObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "A streamed response's body, written by its driver.",
    .tp_dealloc = (destructor)stream_dealloc,
    .tp_traverse = (traverseproc)stream_traverse,
    .tp_clear = (inquiry)stream_clear,
    .tp_methods = stream_methods,
    .tp_getset = stream_getset,
};

int tpy_stream_begin(turbo_deferred *d, PyObject *response)
{
    if (start_hook == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "turbo's stream hooks are not set");
        return -1;
    }
    turbo_response *res = turbo_deferred_response(d);
    if (tpy_write_response_object(res, response) != 0)
        return -1;
    PyObject *loop = tpy_aio_loop(NULL, turbo_deferred_request(d));
    if (loop == NULL)
        return -1;
    StreamObject *s = PyObject_GC_New(StreamObject, &tpy_StreamType);
    if (s == NULL)
        return -1;
    s->d = d;
    s->loop = Py_NewRef(loop);
    s->fut = s->task = NULL;
    s->cancelled = 0;
    PyObject_GC_Track(s);
    /* This reference is libturbo's (the callbacks' ud), until d goes. */
    Py_INCREF(s);
    turbo_deferred_on_cancel(d, stream_on_cancel, s);
    turbo_deferred_on_drain(d, stream_on_drain, s);
    PyObject *r = PyObject_CallFunctionObjArgs(start_hook, (PyObject *)s, response, NULL);
    if (r == NULL) {
        if (s->d != NULL) { /* not started: d goes back to the caller */
            turbo_deferred_on_cancel(d, NULL, NULL);
            turbo_deferred_on_drain(d, NULL, NULL);
            s->d = NULL;
            Py_DECREF(s);
        }
        Py_DECREF(s);
        return -1;
    }
    Py_DECREF(r);
    Py_DECREF(s);
    tpy_aio_kick();
    return 0;
}

int tpy_stream_inline(PyObject *loops, turbo_request *req, turbo_response *res,
                      PyObject *response)
{
    if (response == tpy_upgraded || tpy_aio_loop(loops, req) == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_RuntimeError, "a WebSocket accept outside a WebSocket route");
        tpy_log_exception(response);
        tpy_plain_500(res);
        return TURBO_OK;
    }
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL) {
        tpy_plain_500(res);
        return TURBO_OK;
    }
    if (tpy_stream_begin(d, response) != 0) {
        tpy_log_exception(response);
        tpy_plain_500(res);
        turbo_deferred_finish(d); /* inside the handler: answered as it returns */
    }
    return TURBO_DEFER;
}

/* ---- WebSocketConn ------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    turbo_ws *ws;    /* NULL once closed */
    PyObject *owner; /* the turbo.WebSocket its events go to */
} WSConnObject;

static void call_owner(WSConnObject *c, PyObject *name, PyObject *const *args, size_t n)
{
    PyObject *stack[4] = {c->owner};
    for (size_t i = 0; i < n; i++)
        stack[i + 1] = args[i];
    PyObject *r = PyObject_VectorcallMethod(name, stack, (n + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                            NULL);
    if (r == NULL)
        PyErr_WriteUnraisable(c->owner);
    Py_XDECREF(r);
}

static void ws_on_message(turbo_ws *ws, int binary, const void *data, size_t len, void *ud)
{
    (void)ws;
    WSConnObject *c = ud;
    tpy_thread_attach();
    PyObject *msg = binary ? PyBytes_FromStringAndSize(data, (Py_ssize_t)len)
                           : PyUnicode_DecodeUTF8(data, (Py_ssize_t)len, "strict");
    if (msg == NULL) {
        PyErr_WriteUnraisable(c->owner);
    } else {
        call_owner(c, s_on_message, &msg, 1);
        Py_DECREF(msg);
    }
    tpy_aio_kick();
    tpy_thread_detach();
}

static void ws_on_close(turbo_ws *ws, int code, const char *reason, size_t len, void *ud)
{
    (void)ws;
    WSConnObject *c = ud;
    tpy_thread_attach();
    c->ws = NULL;
    PyObject *args[2] = {PyLong_FromLong(code),
                         PyUnicode_DecodeUTF8(reason, (Py_ssize_t)len, "replace")};
    if (args[0] == NULL || args[1] == NULL)
        PyErr_WriteUnraisable(c->owner);
    else
        call_owner(c, s_on_close, args, 2);
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    tpy_aio_kick();
    Py_DECREF(c); /* libturbo's reference: ws is gone */
    tpy_thread_detach();
}

static void ws_on_drain(turbo_ws *ws, void *ud)
{
    (void)ws;
    WSConnObject *c = ud;
    tpy_thread_attach();
    call_owner(c, s_on_drain, NULL, 0);
    tpy_aio_kick();
    tpy_thread_detach();
}

static turbo_ws *ws_live(WSConnObject *c)
{
    if (c->ws == NULL)
        PyErr_SetString(PyExc_ConnectionError, "the WebSocket is closed");
    return c->ws;
}

/* send(data): str as text, bytes-like as binary. True when past the
 * high-water mark (wait for _on_drain), else False. */
static PyObject *wsconn_send(WSConnObject *c, PyObject *data)
{
    turbo_ws *ws = ws_live(c);
    if (ws == NULL)
        return NULL;
    int rc;
    if (PyUnicode_Check(data)) {
        Py_ssize_t n;
        const char *p = PyUnicode_AsUTF8AndSize(data, &n);
        if (p == NULL)
            return NULL;
        rc = turbo_ws_send(ws, 0, p, (size_t)n);
    } else {
        Py_buffer view;
        if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) != 0)
            return NULL;
        rc = turbo_ws_send(ws, 1, view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
    }
    if (rc == TURBO_OK)
        Py_RETURN_FALSE;
    if (rc == TURBO_FULL)
        Py_RETURN_TRUE;
    if (rc == TURBO_ESTATE)
        PyErr_SetString(PyExc_ConnectionError, "the WebSocket is closing");
    else
        PyErr_Format(PyExc_RuntimeError, "turbo_ws_send: %s", turbo_strerror(rc));
    return NULL;
}

static PyObject *wsconn_close(WSConnObject *c, PyObject *const *args, Py_ssize_t nargs)
{
    turbo_ws *ws = ws_live(c);
    if (ws == NULL)
        return NULL;
    int code = 1000;
    const char *reason = "";
    Py_ssize_t rlen = 0;
    if (nargs > 0 && (code = PyLong_AsLong(args[0])) == -1 && PyErr_Occurred())
        return NULL;
    if (nargs > 1 && args[1] != Py_None &&
        (reason = PyUnicode_AsUTF8AndSize(args[1], &rlen)) == NULL)
        return NULL;
    int rc = turbo_ws_close(ws, code, reason, (size_t)rlen);
    if (rc == TURBO_EINVAL) {
        PyErr_Format(PyExc_ValueError, "%d is not a close code an endpoint may send", code);
        return NULL;
    }
    Py_RETURN_NONE; /* TURBO_ESTATE: closing already */
}

static PyObject *wsconn_ping(WSConnObject *c, PyObject *data)
{
    turbo_ws *ws = ws_live(c);
    if (ws == NULL)
        return NULL;
    Py_buffer view;
    if (PyObject_GetBuffer(data, &view, PyBUF_SIMPLE) != 0)
        return NULL;
    int rc = turbo_ws_ping(ws, view.buf, (size_t)view.len);
    PyBuffer_Release(&view);
    if (rc == TURBO_ERANGE) {
        PyErr_SetString(PyExc_ValueError, "a ping carries 125 bytes at most");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *wsconn_pause(WSConnObject *c, PyObject *flag)
{
    int on = PyObject_IsTrue(flag);
    if (on < 0)
        return NULL;
    if (c->ws != NULL)
        turbo_ws_pause(c->ws, on);
    Py_RETURN_NONE;
}

static PyObject *wsconn_get_closed(WSConnObject *c, void *unused)
{
    (void)unused;
    return PyBool_FromLong(c->ws == NULL);
}

static void wsconn_dealloc(WSConnObject *c)
{
    PyObject_GC_UnTrack(c);
    Py_CLEAR(c->owner);
    PyObject_GC_Del(c);
}

static int wsconn_traverse(WSConnObject *c, visitproc visit, void *arg)
{
    Py_VISIT(c->owner);
    return 0;
}

static int wsconn_clear(WSConnObject *c)
{
    Py_CLEAR(c->owner);
    return 0;
}

static PyMethodDef wsconn_methods[] = {
    {"send", (PyCFunction)wsconn_send, METH_O, "send(str or bytes) -> True when past the mark"},
    {"close", (PyCFunction)(void (*)(void))wsconn_close, METH_FASTCALL, "close(code, reason)"},
    {"ping", (PyCFunction)wsconn_ping, METH_O, "ping(bytes)"},
    {"pause", (PyCFunction)wsconn_pause, METH_O, "pause(flag): stop or resume reading"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef wsconn_getset[] = {
    {"closed", (getter)wsconn_get_closed, NULL, "the connection has ended", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject tpy_WSConnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.WebSocketConn",
    .tp_basicsize = sizeof(WSConnObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An accepted WebSocket connection (libturbo's turbo_ws).",
    .tp_dealloc = (destructor)wsconn_dealloc,
    .tp_traverse = (traverseproc)wsconn_traverse,
    .tp_clear = (inquiry)wsconn_clear,
    .tp_methods = wsconn_methods,
    .tp_getset = wsconn_getset,
};

PyObject *tpy_ws_accept(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    (void)mod;
    if (nargs != 4 || !PyObject_TypeCheck(args[0], &tpy_RequestType)) {
        PyErr_SetString(PyExc_TypeError, "ws_accept(request, owner, subprotocol, headers)");
        return NULL;
    }
    tpy_RequestObject *r = (tpy_RequestObject *)args[0];
    if (r->req == NULL || r->res == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the WebSocket's request has already been answered");
        return NULL;
    }
    const char *proto = NULL;
    if (args[2] != Py_None && (proto = PyUnicode_AsUTF8(args[2])) == NULL)
        return NULL;
    if (args[3] != Py_None) {
        PyObject *it = PyObject_GetIter(args[3]);
        if (it == NULL)
            return NULL;
        PyObject *pair;
        while ((pair = PyIter_Next(it)) != NULL) {
            PyObject *k, *v;
            Py_ssize_t kl, vl;
            const char *ks, *vs;
            int ok = PyArg_ParseTuple(pair, "UU", &k, &v) &&
                     (ks = PyUnicode_AsUTF8AndSize(k, &kl)) != NULL &&
                     (vs = PyUnicode_AsUTF8AndSize(v, &vl)) != NULL &&
                     turbo_response_header(r->res, ks, (size_t)kl, vs, (size_t)vl) == TURBO_OK;
            Py_DECREF(pair);
            if (!ok) {
                Py_DECREF(it);
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "invalid header for the 101 answer");
                return NULL;
            }
        }
        Py_DECREF(it);
        if (PyErr_Occurred())
            return NULL;
    }
    WSConnObject *c = PyObject_GC_New(WSConnObject, &tpy_WSConnType);
    if (c == NULL)
        return NULL;
    c->owner = Py_NewRef(args[1]);
    c->ws = turbo_ws_accept(r->req, r->res, ws_on_message, ws_on_close, c, proto);
    PyObject_GC_Track(c);
    if (c->ws == NULL) {
        int status = turbo_response_status_code(r->res);
        Py_DECREF(c);
        PyErr_Format(PyExc_ValueError, "not a valid WebSocket handshake (answered %d)", status);
        return NULL;
    }
    turbo_ws_on_drain(c->ws, ws_on_drain);
    Py_INCREF(c); /* libturbo's, until on_close */
    return (PyObject *)c;
}

/* ---- hooks -------------------------------------------------------------- */

PyObject *tpy_stream_set_hooks(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *type, *start;
    if (!PyArg_ParseTuple(args, "O!O", &PyType_Type, &type, &start))
        return NULL;
    Py_XSETREF(tpy_StreamingType, (PyTypeObject *)Py_NewRef(type));
    Py_XSETREF(start_hook, Py_NewRef(start));
    Py_RETURN_NONE;
}

int tpy_stream_init(void)
{
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) \
        return -1;
    INTERN(s_on_message, "_on_message");
    INTERN(s_on_close, "_on_close");
    INTERN(s_on_drain, "_on_drain");
    INTERN(s_set_result, "set_result");
    INTERN(s_cancel, "cancel");
    INTERN(s_done, "done");
#undef INTERN
    tpy_upgraded = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
    if (tpy_upgraded == NULL)
        return -1;
    if (PyType_Ready(&tpy_StreamType) < 0 || PyType_Ready(&tpy_WSConnType) < 0)
        return -1;
    return 0;
}
