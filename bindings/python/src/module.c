/*
 * turbo._turbo: the CPython adapter on libturbo's C ABI, one file per
 * concern:
 *
 *   module.c    this module: import, the package's hooks, module functions
 *   server.c    the Server type: listen, routes, run/stop, signals, capsule
 *   call.c      endpoint plans and the trampoline every request goes
 *               through: arguments, the call, 422s, per-thread state
 *   aio.c       async def handlers: the inline first step, the Task on
 *               the I/O thread's asyncio loop, deferred answers
 *   request.c   the Request type; query.h: raw query walking (inline)
 *   response.c  results, Response objects and HTTPException to HTTP
 *   jsonenc.c   the JSON encoder
 *   stream.c    StreamingResponse's writer and WebSocket connections
 *
 * The package (turbo/__init__.py) builds on Server and the constants and
 * hooks set up here.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <signal.h>
#include <sys/prctl.h>

#include <turbo/turbo.h>

#include "aio.h"
#include "asgi.h"
#include "body.h"
#include "call.h"
#include "jsonenc.h"
#include "request.h"
#include "response.h"
#include "server.h"
#include "stream.h"
#include "wsgi.h"

static PyObject *set_hooks(PyObject *mod, PyObject *args)
{
    (void)mod;
    PyObject *resp, *jresp, *httpexc, *headers, *log;
    if (!PyArg_ParseTuple(args, "O!O!O!OO", &PyType_Type, &resp, &PyType_Type, &jresp, &PyType_Type,
                          &httpexc, &headers, &log))
        return NULL;
    tpy_response_set_hooks(resp, jresp, httpexc, log);
    tpy_request_set_hooks(headers);
    Py_RETURN_NONE;
}

static PyObject *miss(PyObject *mod, PyObject *unused)
{
    (void)mod;
    (void)unused;
    return tpy_miss();
}

static PyObject *set_json_fallback(PyObject *mod, PyObject *func)
{
    (void)mod;
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "the JSON fallback must be callable");
        return NULL;
    }
    /* Set once, at import: encoders on other threads use it borrowed. */
    if (tpy_json_set_fallback(func) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "the JSON fallback is set already");
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *json_dumps_response(PyObject *mod, PyObject *obj)
{
    (void)mod;
    tpy_buf b = {NULL, 0, 0};
    if (tpy_json_encode_response(obj, &b) != 0) {
        tpy_buf_free(&b);
        return NULL;
    }
    PyObject *r = PyBytes_FromStringAndSize(b.ptr != NULL ? b.ptr : "", (Py_ssize_t)b.len);
    tpy_buf_free(&b);
    return r;
}

static PyObject *json_dumps(PyObject *mod, PyObject *obj)
{
    (void)mod;
    tpy_buf b = {NULL, 0, 0};
    if (tpy_json_encode(obj, &b) != 0) {
        tpy_buf_free(&b);
        return NULL;
    }
    PyObject *r = PyBytes_FromStringAndSize(b.ptr != NULL ? b.ptr : "", (Py_ssize_t)b.len);
    tpy_buf_free(&b);
    return r;
}

/* A worker process asks for sig when its parent (the thread that forked
 * it) dies: PR_SET_PDEATHSIG, which Python's os module does not offer. */
static PyObject *set_parent_death_signal(PyObject *mod, PyObject *arg)
{
    (void)mod;
    long sig = PyLong_AsLong(arg);
    if (sig == -1 && PyErr_Occurred())
        return NULL;
    if (sig < 0 || sig >= NSIG) {
        PyErr_Format(PyExc_ValueError, "signal number out of range: %ld", sig);
        return NULL;
    }
    if (prctl(PR_SET_PDEATHSIG, (unsigned long)sig, 0, 0, 0) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_parent_death_signal", set_parent_death_signal, METH_O,
     "set_parent_death_signal(signum): receive signum when the parent dies (0: none)"},
    {"_set_hooks", set_hooks, METH_VARARGS, "internal: the package's types and logger"},
    {"_json_dumps", json_dumps, METH_O, "the JSON encoder, as json.dumps (tests)"},
    {"_json_dumps_response", json_dumps_response, METH_O,
     "the response JSON encoder: _json_dumps with the fallback (tests)"},
    {"_miss", miss, METH_NOARGS,
     "(status, allow): the router's 404/405 for the request a miss fallback "
     "(set_fallback flag 8) is being called for, on this thread"},
    {"_set_json_fallback", set_json_fallback, METH_O,
     "internal: the function giving a JSON form to values of other types"},
    {"asgi_scope", (PyCFunction)(void (*)(void))tpy_asgi_scope, METH_FASTCALL,
     "asgi_scope(request, base[, ws_base]): base's (or, for a WebSocket handshake, "
     "ws_base's) copy with the request's part of an ASGI scope"},
    {"_set_aio_hooks", tpy_aio_set_hooks, METH_VARARGS, "internal: turbo._aio's functions"},
    {"_first_step_task", tpy_aio_first_step_task, METH_O,
     "internal: the Task of the coroutine in its first step on this thread, or None"},
    {"_set_stream_hooks", tpy_stream_set_hooks, METH_VARARGS,
     "internal: StreamingResponse and the function that starts its driver"},
    {"_set_file_response", tpy_set_file_response, METH_O,
     "internal: turbo.FileResponse, whose bodies are sent from files"},
    {"_set_body_hooks", tpy_body_set_hooks, METH_VARARGS,
     "internal: the async generator over a request.stream() reader"},
    {"ws_accept", (PyCFunction)(void (*)(void))tpy_ws_accept, METH_FASTCALL,
     "ws_accept(request, owner, subprotocol, headers): accept a WebSocket handshake"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "turbo._turbo", "libturbo's C adapter", -1, module_methods,
    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__turbo(void)
{
    if (tpy_request_init() < 0 || tpy_response_init() < 0 || tpy_call_init() < 0 ||
        tpy_aio_init() < 0 || tpy_wsgi_init() < 0 || tpy_asgi_init() < 0 ||
        tpy_stream_init() < 0 || tpy_body_init() < 0 ||
        PyType_Ready(&tpy_ServerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
#ifdef Py_GIL_DISABLED
    /* Handlers on different I/O threads may run at once: the module keeps
     * no unsynchronized mutable state (hooks are set once at import; the
     * JSON buffer and thread states are per thread). */
    PyUnstable_Module_SetGIL(m, Py_MOD_GIL_NOT_USED);
#endif
    if (PyModule_AddObjectRef(m, "Server", (PyObject *)&tpy_ServerType) < 0 ||
        PyModule_AddObjectRef(m, "Request", (PyObject *)&tpy_RequestType) < 0 ||
        PyModule_AddObjectRef(m, "_RequestView", (PyObject *)&tpy_RequestViewType) < 0 ||
        PyModule_AddObjectRef(m, "FileWrapper", (PyObject *)&tpy_FileWrapperType) < 0 ||
        PyModule_AddObjectRef(m, "RawResponse", (PyObject *)&tpy_RawResponseType) < 0 ||
        PyModule_AddObjectRef(m, "Stream", (PyObject *)&tpy_StreamType) < 0 ||
        PyModule_AddObjectRef(m, "WebSocketConn", (PyObject *)&tpy_WSConnType) < 0 ||
        PyModule_AddObjectRef(m, "UPGRADED", tpy_upgraded) < 0 ||
        PyModule_AddStringConstant(m, "libturbo_version", turbo_version()) < 0 ||
        PyModule_AddIntConstant(m, "SRC_PATH", TPY_SRC_PATH) < 0 ||
        PyModule_AddIntConstant(m, "SRC_QUERY", TPY_SRC_QUERY) < 0 ||
        PyModule_AddIntConstant(m, "SRC_REQUEST", TPY_SRC_REQUEST) < 0 ||
        PyModule_AddIntConstant(m, "CONV_STR", TPY_CONV_STR) < 0 ||
        PyModule_AddIntConstant(m, "CONV_INT", TPY_CONV_INT) < 0 ||
        PyModule_AddIntConstant(m, "CONV_FLOAT", TPY_CONV_FLOAT) < 0 ||
        PyModule_AddIntConstant(m, "CONV_BOOL", TPY_CONV_BOOL) < 0 ||
        PyModule_AddIntConstant(m, "CONV_BYTES", TPY_CONV_BYTES) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
