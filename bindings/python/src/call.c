/*
 * The trampoline (call.h): one C function serves every Python route. It
 * runs inline on the I/O thread that parsed the request: it takes the GIL
 * (on a free-threaded build the same call attaches this thread's own state
 * and serializes nothing), converts the path and query parameters the
 * endpoint's signature asks for, calls the function with vectorcall,
 * converts the result (dict/list → JSON encoded in C, straight into the
 * response: response.h), and gives the GIL back before libturbo writes.
 *
 * What to convert is decided once, when the route is added: the Python
 * package inspects the signature and hands over a plan (name, source,
 * converter, default per parameter), so a request costs no introspection.
 * A parameter that does not convert is a FastAPI-style 422, written here.
 */
#include "call.h"

#include <pthread.h>
#include <string.h>

#include "aio.h"
#include "query.h"
#include "request.h"
#include "response.h"
#include "stream.h"

/* ---- endpoint plans --------------------------------------------------- */

typedef struct param_spec {
    PyObject *name;    /* str */
    const char *cname; /* its UTF-8, owned by name */
    Py_ssize_t cname_len;
    int source, conv;
    PyObject *dflt; /* NULL: required */
} param_spec;

struct tpy_endpoint {
    PyObject *func;
    PyObject *loops;   /* the App's loop provider for coroutines, or NULL */
    int blocking;      /* runs on the blocking pool: no loop there */
    int json_strings;  /* a str or bytes result is a JSON string (FastAPI's) */
    PyObject *kwnames; /* names of keyword-only parameters (tail), or NULL */
    PyObject *on_invalid; /* TPY_EP_ON_INVALID's callable, or NULL */
    Py_ssize_t npos;
    Py_ssize_t nparams;
    param_spec params[];
};

#define MAX_STACK_ARGS 16

static void endpoint_free_locked(tpy_endpoint *ep)
{
    for (Py_ssize_t i = 0; i < ep->nparams; i++) {
        Py_XDECREF(ep->params[i].name);
        Py_XDECREF(ep->params[i].dflt);
    }
    Py_XDECREF(ep->kwnames);
    Py_XDECREF(ep->on_invalid);
    Py_XDECREF(ep->loops);
    Py_XDECREF(ep->func);
    PyMem_RawFree(ep);
}

void tpy_endpoint_release(void *ud)
{
    if (!Py_IsInitialized())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    endpoint_free_locked(ud);
    PyGILState_Release(g);
}

tpy_endpoint *tpy_endpoint_new(PyObject *func, PyObject *plan, PyObject *loops, int flags)
{
    if (!PyTuple_Check(plan)) {
        PyErr_SetString(PyExc_TypeError, "plan must be a tuple");
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(plan);
    tpy_endpoint *ep = PyMem_RawCalloc(1, sizeof(*ep) + (size_t)n * sizeof(param_spec));
    if (ep == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    Py_INCREF(func);
    ep->func = func;
    ep->loops = loops != Py_None ? Py_XNewRef(loops) : NULL;
    ep->blocking = (flags & TPY_EP_BLOCKING) != 0;
    ep->json_strings = (flags & TPY_EP_JSON_STRINGS) != 0;
    ep->nparams = n;
    if ((flags & TPY_EP_ON_INVALID) != 0) {
        ep->on_invalid = PyObject_GetAttrString(func, "_turbo_on_invalid");
        if (ep->on_invalid == NULL)
            goto fail;
    }
    Py_ssize_t nkw = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name, *dflt;
        int source, conv, has_default, kwonly;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(plan, i), "UiiOpp", &name, &source, &conv, &dflt,
                              &has_default, &kwonly))
            goto fail;
        if (source < TPY_SRC_PATH || source > TPY_SRC_REQUEST || conv < TPY_CONV_STR ||
            conv > TPY_CONV_BYTES) {
            PyErr_SetString(PyExc_ValueError, "bad parameter plan");
            goto fail;
        }
        param_spec *p = &ep->params[i];
        Py_INCREF(name);
        p->name = name;
        p->cname = PyUnicode_AsUTF8AndSize(name, &p->cname_len);
        if (p->cname == NULL)
            goto fail;
        p->source = source;
        p->conv = conv;
        if (has_default) {
            Py_INCREF(dflt);
            p->dflt = dflt;
        }
        if (kwonly) {
            nkw++;
        } else if (nkw != 0) {
            PyErr_SetString(PyExc_ValueError, "keyword-only parameters must come last");
            goto fail;
        }
    }
    ep->npos = n - nkw;
    if (nkw != 0) {
        ep->kwnames = PyTuple_New(nkw);
        if (ep->kwnames == NULL)
            goto fail;
        for (Py_ssize_t k = 0; k < nkw; k++) {
            PyObject *nm = ep->params[ep->npos + k].name;
            Py_INCREF(nm);
            PyTuple_SET_ITEM(ep->kwnames, k, nm);
        }
    }
    return ep;
fail:
    endpoint_free_locked(ep);
    return NULL;
}

/* ---- 422 ------------------------------------------------------------ */

static const char *const loc_names[] = {"path", "query", "request"};

/* Appends one FastAPI-style validation error to *errors. */
static int add_error(PyObject **errors, const param_spec *p, const char *type, const char *msg,
                     PyObject *input)
{
    if (*errors == NULL && (*errors = PyList_New(0)) == NULL)
        return -1;
    PyObject *e = Py_BuildValue("{s:s,s:[sO],s:s,s:O}", "type", type, "loc", loc_names[p->source],
                                p->name, "msg", msg, "input", input != NULL ? input : Py_None);
    if (e == NULL)
        return -1;
    int rc = PyList_Append(*errors, e);
    Py_DECREF(e);
    return rc;
}

static int write_422(turbo_response *res, PyObject *errors)
{
    PyObject *body = Py_BuildValue("{sO}", "detail", errors);
    if (body == NULL)
        return -1;
    turbo_response_status(res, 422);
    int rc = tpy_json_body(res, body);
    Py_DECREF(body);
    return rc;
}

static int ieq(const char *s, Py_ssize_t n, const char *word)
{
    return (size_t)n == strlen(word) && PyOS_strnicmp(s, word, (size_t)n) == 0;
}

/* Converts text to the parameter's type: a new reference; NULL with no
 * error set when the text does not convert (a 422), NULL with an error
 * set on a real failure. */
static PyObject *convert(const param_spec *p, PyObject *text)
{
    PyObject *v;
    switch (p->conv) {
    case TPY_CONV_STR: Py_INCREF(text); return text;
    case TPY_CONV_BYTES: return PyUnicode_AsUTF8String(text);
    case TPY_CONV_INT: v = PyLong_FromUnicodeObject(text, 10); break;
    case TPY_CONV_FLOAT: v = PyFloat_FromString(text); break;
    default: {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(text, &n);
        if (s == NULL)
            return NULL;
        if (ieq(s, n, "true") || ieq(s, n, "1") || ieq(s, n, "yes") || ieq(s, n, "on") ||
            ieq(s, n, "t") || ieq(s, n, "y"))
            Py_RETURN_TRUE;
        if (ieq(s, n, "false") || ieq(s, n, "0") || ieq(s, n, "no") || ieq(s, n, "off") ||
            ieq(s, n, "f") || ieq(s, n, "n"))
            Py_RETURN_FALSE;
        return NULL;
    }
    }
    if (v == NULL && PyErr_ExceptionMatches(PyExc_ValueError))
        PyErr_Clear();
    return v;
}

static const char *const conv_error_type[] = {"", "int_parsing", "float_parsing", "bool_parsing", ""};
static const char *const conv_error_msg[] = {
    "", "Input should be a valid integer, unable to parse string as an integer",
    "Input should be a valid number, unable to parse string as a number",
    "Input should be a valid boolean, unable to interpret input", ""};

/* ---- the trampoline -------------------------------------------------- */

/*
 * Handlers run in an empty context that stays entered on the thread (I/O
 * and blocking-pool threads alike): a contextvar one request sets must not
 * be seen by the next. Checking that it is still empty after the call is
 * one length read; entering and leaving a context per call cost twice
 * that. One that holds a value is left and dropped, and the next request
 * enters a new one. An async handler's first step gets a new context of
 * its own on top (aio.c).
 */
static _Thread_local PyObject *clean_ctx;

static inline int clean_context(void)
{
    if (clean_ctx != NULL)
        return 0;
    clean_ctx = PyContext_New();
    if (clean_ctx == NULL)
        return -1;
    if (PyContext_Enter(clean_ctx) != 0) {
        Py_CLEAR(clean_ctx);
        return -1;
    }
    return 0;
}

static void drop_context(void)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (PyContext_Exit(clean_ctx) != 0)
        PyErr_Clear(); /* the handler left a context of its own entered */
    Py_CLEAR(clean_ctx);
    PyErr_Restore(t, v, tb);
}

static int call_endpoint(tpy_endpoint *ep, turbo_request *req, turbo_response *res)
{
    PyObject *stack[MAX_STACK_ARGS];
    PyObject **args = stack;
    if (ep->nparams > MAX_STACK_ARGS) {
        args = PyMem_Malloc((size_t)ep->nparams * sizeof(PyObject *));
        if (args == NULL) {
            PyErr_NoMemory();
            tpy_log_exception(ep->func);
            tpy_plain_500(res);
            return TURBO_OK;
        }
    }
    PyObject *errors = NULL, *robj = NULL;
    Py_ssize_t filled = 0;
    int failed = 0;
    for (Py_ssize_t i = 0; i < ep->nparams; i++, filled++) {
        const param_spec *p = &ep->params[i];
        args[i] = NULL;
        if (p->source == TPY_SRC_REQUEST) {
            if (robj == NULL && (robj = tpy_request_new(req, res)) == NULL) {
                failed = 1;
                break;
            }
            /* A FastAPI app's view of it (its plan's "default": the
             * view's class, turbo/_request.py), else the Request itself. */
            if (p->dflt == NULL) {
                args[i] = Py_NewRef(robj);
            } else if ((args[i] = PyObject_CallOneArg(p->dflt, robj)) == NULL) {
                failed = 1;
                break;
            }
            continue;
        }
        turbo_str raw = {NULL, 0};
        int found;
        if (p->source == TPY_SRC_PATH) {
            raw = turbo_request_param(req, p->cname, (size_t)p->cname_len);
            found = 1; /* the route matched: every path parameter is there */
        } else {
            found = tpy_find_query(req, p->cname, (size_t)p->cname_len, &raw);
        }
        if (!found) {
            if (p->dflt != NULL) {
                Py_INCREF(p->dflt);
                args[i] = p->dflt;
            } else if (add_error(&errors, p, "missing", "Field required", NULL) != 0) {
                failed = 1;
                break;
            }
            continue;
        }
        PyObject *text = tpy_decode_component(req, raw, p->source == TPY_SRC_QUERY);
        if (text == NULL) {
            failed = 1;
            break;
        }
        args[i] = convert(p, text);
        if (args[i] == NULL) {
            if (PyErr_Occurred() ||
                add_error(&errors, p, conv_error_type[p->conv], conv_error_msg[p->conv], text) != 0) {
                Py_DECREF(text);
                failed = 1;
                break;
            }
        }
        Py_DECREF(text);
    }

    PyObject *result = NULL;
    /* Refused values go to the App's handlers and middleware, if it has. */
    int on_invalid = errors != NULL && ep->on_invalid != NULL && robj != NULL;
    if (!failed && (errors == NULL || on_invalid)) {
        if (clean_context() != 0) {
            failed = 1;
        } else if (on_invalid) {
            result = PyObject_CallFunctionObjArgs(ep->on_invalid, robj, errors, NULL);
            Py_CLEAR(errors);
            if (PyObject_Length(clean_ctx) != 0)
                drop_context();
        } else {
            result = PyObject_Vectorcall(ep->func, args, (size_t)ep->npos, ep->kwnames);
            if (PyObject_Length(clean_ctx) != 0)
                drop_context(); /* it set a contextvar: not for the next one */
        }
    }
    for (Py_ssize_t i = 0; i < filled; i++)
        Py_XDECREF(args[i]);
    if (args != stack)
        PyMem_Free(args);
    if (result != NULL && PyCoro_CheckExact(result) && !ep->blocking) {
        /* async def: its first step runs here; the Request goes with it. */
        Py_XDECREF(errors);
        return tpy_aio_run(ep->func, ep->loops, req, res, result, robj, ep->json_strings);
    }
    turbo_deferred *kept = NULL; /* deferred for a stream that may read the body */
    if (robj != NULL) {
        if (result != NULL)
            tpy_request_keep_for_stream((tpy_RequestObject *)robj, result);
        kept = ((tpy_RequestObject *)robj)->d;
        tpy_request_detach((tpy_RequestObject *)robj);
        Py_DECREF(robj);
    }

    if (failed) {
        tpy_log_exception(ep->func);
        tpy_plain_500(res);
    } else if (errors != NULL) {
        if (write_422(res, errors) != 0) {
            tpy_log_exception(ep->func);
            tpy_plain_500(res);
        }
        Py_DECREF(errors);
    } else if (result == NULL) {
        tpy_write_exception(res, ep->func);
    } else {
        int w = tpy_write_result(res, result, ep->json_strings);
        if (w == 1) {
            int rc = tpy_stream_inline(ep->loops, req, res, result);
            Py_DECREF(result);
            if (rc != TURBO_DEFER && kept != NULL)
                turbo_deferred_finish(kept); /* in the handler: its 500 goes inline */
            return rc;
        }
        if (w != 0) {
            tpy_log_exception(ep->func);
            tpy_plain_500(res);
        }
        Py_DECREF(result);
    }
    return TURBO_OK;
}

/*
 * Each I/O thread keeps one Python thread state for its whole life.
 * PyGILState_Ensure/Release per request would create and destroy a
 * thread state every time (the thread has none between requests), which
 * cost more than the rest of the call. The state is made on the thread's
 * first request and released by a pthread key destructor when the thread
 * exits. On a free-threaded build the same calls attach and detach the
 * thread's state, and nothing is serialized.
 */
static pthread_key_t tstate_key;
static _Thread_local PyThreadState *my_tstate;

void tpy_thread_attach(void)
{
    PyEval_RestoreThread(my_tstate);
}

void tpy_thread_detach(void)
{
    PyEval_SaveThread();
}

/* At thread exit. Not PyGILState_Release: glibc has already cleared every
 * thread-specific value, CPython's own GIL-state slot included, before it
 * runs key destructors, so CPython no longer knows this thread's state.
 * Delete it directly instead. */
static void tstate_destroy(void *p)
{
    if (Py_IsInitialized()) {
        PyEval_RestoreThread(p);
        tpy_aio_thread_exit();
        Py_CLEAR(clean_ctx);
        PyThreadState_Clear(p);
        PyThreadState_DeleteCurrent(); /* releases the GIL */
    }
}

void tpy_thread_enter(void)
{
    if (my_tstate == NULL) {
        /* The thread's first request: make its state (and take the GIL);
         * the state is kept, never released by a matching Release. */
        PyGILState_Ensure();
        my_tstate = PyThreadState_Get();
        pthread_setspecific(tstate_key, my_tstate);
    } else {
        PyEval_RestoreThread(my_tstate);
    }
}

int tpy_trampoline(turbo_request *req, turbo_response *res, void *ud)
{
    tpy_thread_enter();
    int rc = call_endpoint(ud, req, res);
    PyEval_SaveThread();
    return rc;
}

int tpy_fallback_trampoline(turbo_request *req, turbo_response *res, void *ud)
{
    turbo_response_reset(res); /* not the router's 404/405 and Allow */
    return tpy_trampoline(req, res, ud);
}

/* The router's answer to the request a miss fallback is running for:
 * its status (404 or 405) and the 405's Allow, read by _turbo._miss()
 * while the fallback's callable is called (inline, on this thread). */
static _Thread_local int miss_status;
static _Thread_local const char *miss_allow; /* in the request's arena */
static _Thread_local size_t miss_allow_len;

int tpy_miss_trampoline(turbo_request *req, turbo_response *res, void *ud)
{
    miss_status = turbo_response_status_code(res);
    turbo_str allow = {NULL, 0};
    miss_allow = "";
    miss_allow_len = 0;
    if (turbo_response_header_value(res, "Allow", 5, &allow) == TURBO_OK && allow.len != 0) {
        char *copy = turbo_request_alloc(req, allow.len); /* reset frees the header */
        if (copy == NULL)
            return TURBO_ENOMEM;
        memcpy(copy, allow.ptr, allow.len);
        miss_allow = copy;
        miss_allow_len = allow.len;
    }
    turbo_response_reset(res);
    int rc = tpy_trampoline(req, res, ud);
    miss_allow = "";
    miss_allow_len = 0;
    return rc;
}

PyObject *tpy_miss(void)
{
    return Py_BuildValue("(is#)", miss_status, miss_allow, (Py_ssize_t)miss_allow_len);
}

int tpy_in_clean_context(void)
{
    return clean_context();
}

void tpy_leave_clean_context(void)
{
    if (clean_ctx != NULL && PyObject_Length(clean_ctx) != 0)
        drop_context();
}

int tpy_call_init(void)
{
    if (pthread_key_create(&tstate_key, tstate_destroy) != 0) {
        PyErr_SetString(PyExc_OSError, "pthread_key_create failed");
        return -1;
    }
    return 0;
}
