/*
 * request.stream() (body.h).
 *
 * The reader asks libturbo for the body (turbo_deferred_body) on the
 * request's deferred handle: the one the handler's coroutine was deferred
 * with, or, when stream() is called in the coroutine's first step (before
 * anything deferred it), one it takes itself (the first step's end then
 * finishes it if the coroutine answered without suspending: aio.c).
 *
 * Pieces arrive on the I/O thread from the connection code, with Python
 * let go: the callback attaches, appends the piece, wakes the generator's
 * Future and kicks the loop. Past HIGH bytes waiting, it pauses the
 * reading (TURBO_PAUSE); the generator resumes it once it has taken the
 * queue below LOW. So a slow consumer holds about HIGH of the body.
 *
 * Lifetime: libturbo's reference to the reader (the callback's ud) is
 * taken with the ask and dropped at the callback's last call, which
 * libturbo guarantees (the end, an error, or the request's release).
 * Everything runs on the request's I/O thread.
 */
#include "body.h"

#include "aio.h"
#include "call.h"

#define HIGH (1024 * 1024)
#define LOW (256 * 1024)

static PyObject *stream_hook; /* turbo._body.stream(reader) */
static PyObject *s_done, *s_set_result;

typedef struct {
    PyObject_HEAD
    turbo_deferred *d; /* NULL once the last call came */
    PyObject *chunks;  /* list of bytes, taken from index head */
    Py_ssize_t head;
    size_t queued;     /* bytes waiting in chunks */
    int end;           /* 0 while pieces may come; 1 the end; < 0 the error */
    int paused;
    PyObject *waiter;  /* the Future the generator awaits, or NULL */
} BodyReaderObject;

static void wake(BodyReaderObject *r)
{
    if (r->waiter == NULL)
        return;
    PyObject *f = r->waiter;
    r->waiter = NULL;
    PyObject *done = PyObject_CallMethodNoArgs(f, s_done);
    if (done != NULL && !PyObject_IsTrue(done)) {
        PyObject *x = PyObject_CallMethodOneArg(f, s_set_result, Py_None);
        Py_XDECREF(x);
    }
    Py_XDECREF(done);
    if (PyErr_Occurred())
        PyErr_WriteUnraisable(f);
    Py_DECREF(f);
}

static int on_piece(turbo_deferred *d, const char *data, size_t len, int end, void *ud)
{
    (void)d;
    BodyReaderObject *r = ud;
    tpy_thread_attach();
    int rc = TURBO_OK;
    if (len != 0) {
        PyObject *b = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
        if (b == NULL || PyList_Append(r->chunks, b) != 0) {
            PyErr_WriteUnraisable((PyObject *)r);
            end = end != 0 ? end : TURBO_ENOMEM; /* the generator raises */
        } else {
            r->queued += len;
        }
        Py_XDECREF(b);
    }
    if (end != 0) {
        r->end = end;
        r->d = NULL;
    } else if (r->queued >= HIGH) {
        r->paused = 1;
        rc = TURBO_PAUSE;
    }
    wake(r);
    tpy_aio_kick();
    if (end != 0)
        Py_DECREF(r); /* libturbo's: this was its last call */
    tpy_thread_detach();
    return rc;
}

/* read() -> bytes: the next piece; b"" at the end; None when none is
 * there yet (await a waiter); an int, the error, when the body failed. */
static PyObject *reader_read(BodyReaderObject *r, PyObject *unused)
{
    (void)unused;
    Py_ssize_t n = PyList_GET_SIZE(r->chunks);
    if (r->head < n) {
        /* Taken out of the list (its slot keeps None), so a piece the
         * consumer is done with is freed at once even while more arrive
         * behind it; the taken slots go when half the list is taken. */
        PyObject *b = PyList_GET_ITEM(r->chunks, r->head);
        PyList_SET_ITEM(r->chunks, r->head, Py_NewRef(Py_None));
        r->head++;
        r->queued -= (size_t)PyBytes_GET_SIZE(b);
        if (r->head == n || (r->head >= 64 && r->head * 2 >= n)) {
            if (PyList_SetSlice(r->chunks, 0, r->head, NULL) != 0) {
                Py_DECREF(b);
                return NULL;
            }
            r->head = 0;
        }
        if (r->paused && r->queued <= LOW && r->d != NULL) {
            r->paused = 0;
            int rc = turbo_deferred_body_resume(r->d);
            if (rc != TURBO_OK) {
                Py_DECREF(b);
                return PyErr_Format(PyExc_RuntimeError, "turbo_deferred_body_resume: %s",
                                    turbo_strerror(rc));
            }
        }
        return b;
    }
    if (r->end == 1)
        return PyBytes_FromStringAndSize(NULL, 0);
    if (r->end < 0)
        return PyLong_FromLong(r->end);
    Py_RETURN_NONE;
}

/* set_waiter(future): done at the next piece, end or error. */
static PyObject *reader_set_waiter(BodyReaderObject *r, PyObject *fut)
{
    Py_XSETREF(r->waiter, Py_NewRef(fut));
    if (r->end != 0 || PyList_GET_SIZE(r->chunks) > r->head)
        wake(r);
    Py_RETURN_NONE;
}

static void reader_dealloc(BodyReaderObject *r)
{
    Py_XDECREF(r->chunks);
    Py_XDECREF(r->waiter);
    PyObject_Free(r);
}

static PyMethodDef reader_methods[] = {
    {"read", (PyCFunction)reader_read, METH_NOARGS,
     "the next piece (bytes), b'' at the end, None if none yet, or the error (int)"},
    {"set_waiter", (PyCFunction)reader_set_waiter, METH_O,
     "a Future to complete when a piece, the end or an error comes"},
    {NULL, NULL, 0, NULL}};

PyTypeObject tpy_BodyReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.BodyReader",
    .tp_basicsize = sizeof(BodyReaderObject),
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A request body as it arrives (request.stream()).",
    .tp_methods = reader_methods,
};

PyObject *tpy_request_stream(tpy_RequestObject *self, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames)
{
    static const char *const kw[] = {"max_size", NULL};
    PyObject *max_size = Py_None;
    Py_ssize_t nkw = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    if (nargs + nkw > 1 || (nkw == 1 && PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), kw[0]) != 0))
        return PyErr_Format(PyExc_TypeError, "stream() takes one optional argument, max_size");
    if (nargs + nkw == 1)
        max_size = args[0];
    uint64_t max = TURBO_LENGTH_UNKNOWN;
    if (max_size != Py_None) {
        unsigned long long v = PyLong_AsUnsignedLongLong(max_size);
        if (v == (unsigned long long)-1 && PyErr_Occurred())
            return NULL;
        max = v;
    }
    if (stream_hook == NULL)
        return PyErr_Format(PyExc_RuntimeError, "turbo's body hooks are not set");
    if (self->reader != NULL)
        return PyErr_Format(PyExc_RuntimeError, "the request body is already being streamed");
    turbo_deferred *d = self->d;
    if (self->req == NULL && d == NULL)
        return PyErr_Format(PyExc_RuntimeError, "the request is no longer available");
    if (d == NULL) {
        /* In the coroutine's first step, on its I/O thread: the handler's
         * own turbo_defer. A def handler cannot await the pieces. */
        if (!tpy_aio_in_first_step())
            return PyErr_Format(PyExc_RuntimeError,
                                "request.stream() needs an async def handler");
        d = turbo_defer(self->req, self->res);
        if (d == NULL)
            return PyErr_Format(PyExc_RuntimeError, "turbo_defer failed");
        self->d = d;
    }
    BodyReaderObject *r = PyObject_New(BodyReaderObject, &tpy_BodyReaderType);
    if (r == NULL)
        return NULL;
    r->d = d;
    r->head = 0;
    r->queued = 0;
    r->end = 0;
    r->paused = 0;
    r->waiter = NULL;
    if ((r->chunks = PyList_New(0)) == NULL) {
        r->d = NULL;
        Py_DECREF(r);
        return NULL;
    }
    Py_INCREF(r); /* libturbo's, until the callback's last call */
    int rc = turbo_deferred_body(d, max, on_piece, r);
    if (rc != TURBO_OK) {
        r->d = NULL;
        Py_DECREF(r);
        Py_DECREF(r);
        return PyErr_Format(PyExc_RuntimeError, "turbo_deferred_body: %s", turbo_strerror(rc));
    }
    self->reader = Py_NewRef((PyObject *)r);
    PyObject *gen = PyObject_CallOneArg(stream_hook, (PyObject *)r);
    Py_DECREF(r);
    return gen;
}

PyObject *tpy_body_set_hooks(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *hook;
    if (!PyArg_ParseTuple(args, "O", &hook))
        return NULL;
    Py_XSETREF(stream_hook, Py_NewRef(hook));
    Py_RETURN_NONE;
}

int tpy_body_init(void)
{
    if ((s_done = PyUnicode_InternFromString("done")) == NULL ||
        (s_set_result = PyUnicode_InternFromString("set_result")) == NULL)
        return -1;
    return PyType_Ready(&tpy_BodyReaderType);
}
