/*
 * turbo.Request (request.h): the getters, each computed from the C request
 * on first use and cached, and the percent-decoding of path and query
 * parameters they and the trampoline share.
 */
#include "request.h"

#include <stddef.h>
#include <string.h>

#include <structmember.h>

#include "body.h"
#include "query.h"

/* Set once at import, before any route can run; read-only afterwards. */
static PyObject *headers_factory, *json_loads;

static PyObject *str_from(turbo_str s)
{
    return PyUnicode_DecodeLatin1(s.ptr != NULL ? s.ptr : "", (Py_ssize_t)s.len, NULL);
}

PyObject *tpy_decode_component(turbo_request *req, turbo_str raw, int plus)
{
    const char *p = raw.ptr != NULL ? raw.ptr : "";
    size_t n = raw.len;
    if (memchr(p, '%', n) == NULL && (!plus || memchr(p, '+', n) == NULL))
        return PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "replace");
    char *out = turbo_request_alloc(req, n + 1);
    if (out == NULL)
        return PyErr_NoMemory();
    size_t o = tpy_percent_decode(p, n, plus, out);
    return PyUnicode_DecodeUTF8(out, (Py_ssize_t)o, "replace");
}

static PyObject *gone(void)
{
    PyErr_SetString(PyExc_RuntimeError, "the request is no longer available");
    return NULL;
}

#define CACHED(field, expr) \
    do { \
        if (self->field == NULL) { \
            if (self->req == NULL) \
                return gone(); \
            self->field = (expr); \
            if (self->field == NULL) \
                return NULL; \
        } \
        Py_INCREF(self->field); \
        return self->field; \
    } while (0)

static PyObject *req_method(tpy_RequestObject *self, void *c)
{
    (void)c;
    CACHED(method, str_from(turbo_request_method(self->req)));
}

static PyObject *req_path(tpy_RequestObject *self, void *c)
{
    (void)c;
    CACHED(path, str_from(turbo_request_path(self->req)));
}

static PyObject *req_query_string(tpy_RequestObject *self, void *c)
{
    (void)c;
    CACHED(query_string, str_from(turbo_request_query(self->req)));
}

static PyObject *req_body(tpy_RequestObject *self, void *c)
{
    (void)c;
    turbo_str b = self->req != NULL ? turbo_request_body(self->req) : (turbo_str){NULL, 0};
    CACHED(body, PyBytes_FromStringAndSize(b.ptr != NULL ? b.ptr : "", (Py_ssize_t)b.len));
}

static PyObject *make_headers(turbo_request *req)
{
    size_t n = turbo_request_header_count(req);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        turbo_str name, value;
        turbo_request_header_at(req, i, &name, &value);
        PyObject *pair = Py_BuildValue("(NN)", str_from(name), str_from(value));
        if (pair == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
    }
    PyObject *h = PyObject_CallOneArg(headers_factory, list);
    Py_DECREF(list);
    return h;
}

static PyObject *req_headers(tpy_RequestObject *self, void *c)
{
    (void)c;
    CACHED(headers, make_headers(self->req));
}

static PyObject *make_client(turbo_request *req)
{
    turbo_str addr = turbo_request_remote_addr(req);
    return Py_BuildValue("(Ni)", str_from(addr), turbo_request_remote_port(req));
}

static PyObject *req_client(tpy_RequestObject *self, void *c)
{
    (void)c;
    CACHED(client, make_client(self->req));
}

static PyObject *make_query_params(turbo_request *req)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    turbo_str q = turbo_request_query(req), k, v;
    size_t pos = 0;
    while (tpy_next_query_pair(q, &pos, &k, &v)) {
        if (k.len == 0)
            continue;
        PyObject *key = tpy_decode_component(req, k, 1);
        PyObject *val = key != NULL ? tpy_decode_component(req, v, 1) : NULL;
        int rc = val != NULL ? PyDict_SetDefault(d, key, val) != NULL : 0;
        Py_XDECREF(key);
        Py_XDECREF(val);
        if (!rc) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *req_query_params(tpy_RequestObject *self, void *c)
{
    (void)c;
    CACHED(query_params, make_query_params(self->req));
}

static PyObject *make_path_params(turbo_request *req)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    size_t n = turbo_request_param_count(req);
    for (size_t i = 0; i < n; i++) {
        turbo_str name, value;
        turbo_request_param_at(req, i, &name, &value);
        PyObject *key = PyUnicode_DecodeUTF8(name.ptr, (Py_ssize_t)name.len, "replace");
        PyObject *val = key != NULL ? tpy_decode_component(req, value, 0) : NULL;
        int rc = val != NULL ? PyDict_SetItem(d, key, val) : -1;
        Py_XDECREF(key);
        Py_XDECREF(val);
        if (rc != 0) {
            Py_DECREF(d);
            return NULL;
        }
    }
    return d;
}

static PyObject *req_path_params(tpy_RequestObject *self, void *c)
{
    (void)c;
    CACHED(path_params, make_path_params(self->req));
}

static PyObject *req_json(tpy_RequestObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *body = req_body(self, NULL);
    if (body == NULL)
        return NULL;
    PyObject *v = PyObject_CallOneArg(json_loads, body);
    Py_DECREF(body);
    return v;
}

/* _header(name): the first field called name (case-insensitive), or None;
 * one lookup in the C request, without making the Headers mapping (the
 * FastAPI surface reads one or two headers per request: Content-Type, a
 * Header() parameter). Once the request is detached, the copied mapping
 * answers instead. */
static PyObject *req_header(tpy_RequestObject *self, PyObject *name)
{
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "header name must be a str");
        return NULL;
    }
    if (self->req == NULL) {
        if (self->headers == NULL)
            return gone();
        return PyObject_CallMethod(self->headers, "get", "O", name);
    }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n);
    if (s == NULL)
        return NULL;
    turbo_str v;
    if (turbo_request_header(self->req, s, (size_t)n, &v) != TURBO_OK)
        Py_RETURN_NONE;
    return str_from(v);
}

static PyObject *req_repr(tpy_RequestObject *self)
{
    PyObject *m = req_method(self, NULL);
    PyObject *p = m != NULL ? req_path(self, NULL) : NULL;
    PyObject *r = p != NULL ? PyUnicode_FromFormat("<Request %U %U>", m, p) : NULL;
    Py_XDECREF(m);
    Py_XDECREF(p);
    return r;
}

/* Kept alive past the handler (tpy_request_detach), often by the
 * traceback of the exception it raised: that exception is still pending
 * and is the request's answer (HTTPException's status, or a 500). The
 * getters must run without it, and must not clear it. */
void tpy_request_copy_all(tpy_RequestObject *self)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *(*getters[])(tpy_RequestObject *, void *) = {
        req_method, req_path, req_query_string, req_headers,
        req_body, req_client, req_query_params, req_path_params};
    for (size_t i = 0; i < sizeof(getters) / sizeof(getters[0]); i++) {
        PyObject *v = getters[i](self, NULL);
        if (v == NULL)
            PyErr_Clear(); /* that attribute will raise later instead */
        Py_XDECREF(v);
    }
    PyErr_Restore(type, value, tb);
}

static void req_dealloc(tpy_RequestObject *self)
{
    Py_XDECREF(self->method);
    Py_XDECREF(self->path);
    Py_XDECREF(self->query_string);
    Py_XDECREF(self->headers);
    Py_XDECREF(self->body);
    Py_XDECREF(self->client);
    Py_XDECREF(self->query_params);
    Py_XDECREF(self->path_params);
    Py_XDECREF(self->reader);
    Py_XDECREF(self->state);
    PyObject_Free(self);
}

static PyObject *req_body_pending(tpy_RequestObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(self->req != NULL && turbo_request_body_pending(self->req));
}

static PyGetSetDef req_getset[] = {
    {"method", (getter)req_method, NULL, "the method as sent", NULL},
    {"path", (getter)req_path, NULL, "the path as sent, percent-encoding kept", NULL},
    {"query_string", (getter)req_query_string, NULL, "the raw query, without '?'", NULL},
    {"headers", (getter)req_headers, NULL, "case-insensitive header mapping", NULL},
    {"body", (getter)req_body, NULL, "the body (bytes)", NULL},
    {"_body_pending", (getter)req_body_pending, NULL,
     "internal: the body is still to be read, through stream()", NULL},
    {"client", (getter)req_client, NULL, "(host, port) of the peer", NULL},
    {"query_params", (getter)req_query_params, NULL, "decoded query parameters (first value)", NULL},
    {"path_params", (getter)req_path_params, NULL, "decoded path parameters", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

/* The views a FastAPI app gives its handler, dependencies, middleware and
 * exception handlers (turbo/_request.py) are several objects over this
 * one: what their request.state holds lives here, so all see the same. */
static PyMemberDef req_members[] = {
    {"_state", T_OBJECT, offsetof(tpy_RequestObject, state), 0,
     "internal: the request.state of a FastAPI app's views, or None"},
    {NULL, 0, 0, 0, NULL}};

static PyMethodDef req_methods[] = {
    {"json", (PyCFunction)req_json, METH_NOARGS, "json.loads(body)"},
    {"_header", (PyCFunction)req_header, METH_O,
     "internal: _header(name) -> the first field's value (case-insensitive), or None"},
    {"stream", (PyCFunction)(void (*)(void))tpy_request_stream,
     METH_FASTCALL | METH_KEYWORDS,
     "stream(max_size=None): the body as it arrives, an async iterator of bytes"},
    {NULL, NULL, 0, NULL}};

PyTypeObject tpy_RequestType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo.Request",
    .tp_basicsize = sizeof(tpy_RequestObject),
    .tp_dealloc = (destructor)req_dealloc,
    .tp_repr = (reprfunc)req_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "An HTTP request, as a handler sees it.",
    .tp_getset = req_getset,
    .tp_methods = req_methods,
    .tp_members = req_members,
};

/* ---- turbo._RequestView: the base of a FastAPI app's Request views ------
 *
 * turbo/_request.py's StarletteRequest (each FastAPI app has a subclass of
 * it) holds the C Request and what it has computed from it. Made here,
 * its construction is one allocation, not a Python __init__: it is made
 * for every request of a route that declares a Request. */

typedef struct {
    PyObject_HEAD
    PyObject *req; /* the turbo.Request */
    PyObject *body, *form, *url, *query_params, *cookies, *json; /* caches, NULL until made */
} tpy_ViewObject;

static PyObject *view_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *req;
    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "_RequestView(request) takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_UnpackTuple(args, "_RequestView", 1, 1, &req))
        return NULL;
    if (!PyObject_TypeCheck(req, &tpy_RequestType)) {
        PyErr_SetString(PyExc_TypeError, "_RequestView(request): request must be a turbo.Request");
        return NULL;
    }
    tpy_ViewObject *v = (tpy_ViewObject *)type->tp_alloc(type, 0);
    if (v == NULL)
        return NULL;
    v->req = Py_NewRef(req);
    return (PyObject *)v;
}

static void view_dealloc(tpy_ViewObject *v)
{
    Py_XDECREF(v->req);
    Py_XDECREF(v->body);
    Py_XDECREF(v->form);
    Py_XDECREF(v->url);
    Py_XDECREF(v->query_params);
    Py_XDECREF(v->cookies);
    Py_XDECREF(v->json);
    Py_TYPE(v)->tp_free((PyObject *)v);
}

static PyMemberDef view_members[] = {
    {"_req", T_OBJECT, offsetof(tpy_ViewObject, req), READONLY, "the turbo.Request"},
    {"_body", T_OBJECT, offsetof(tpy_ViewObject, body), 0, "body(), once read (None before)"},
    {"_form", T_OBJECT, offsetof(tpy_ViewObject, form), 0, "form(), once read (None before)"},
    {"_url", T_OBJECT, offsetof(tpy_ViewObject, url), 0, "url, once made (None before)"},
    {"_query_params", T_OBJECT, offsetof(tpy_ViewObject, query_params), 0,
     "query_params, once made (None before)"},
    {"_cookies", T_OBJECT, offsetof(tpy_ViewObject, cookies), 0,
     "cookies, once made (None before)"},
    {"_json", T_OBJECT_EX, offsetof(tpy_ViewObject, json), 0,
     "json(), once read (AttributeError before)"},
    {NULL, 0, 0, 0, NULL}};

/* Read through to the Request: the attributes Starlette's Request has
 * as they are (no Python frame between). */
#define VIEW_GETTER(name) \
    static PyObject *view_##name(tpy_ViewObject *v, void *c) \
    { \
        return req_##name((tpy_RequestObject *)v->req, c); \
    }
VIEW_GETTER(method)
VIEW_GETTER(headers)
VIEW_GETTER(path_params)
VIEW_GETTER(path)
VIEW_GETTER(query_string)

static PyGetSetDef view_getset[] = {
    {"method", (getter)view_method, NULL, "the method as sent", NULL},
    {"headers", (getter)view_headers, NULL, "case-insensitive header mapping", NULL},
    {"path_params", (getter)view_path_params, NULL, "decoded path parameters", NULL},
    {"path", (getter)view_path, NULL, "the path as sent, percent-encoding kept", NULL},
    {"query_string", (getter)view_query_string, NULL, "the raw query, without '?'", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject tpy_RequestViewType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._RequestView",
    .tp_basicsize = sizeof(tpy_ViewObject),
    .tp_dealloc = (destructor)view_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "internal: the base of a FastAPI app's Request views (turbo/_request.py)",
    .tp_members = view_members,
    .tp_getset = view_getset,
    .tp_new = view_new,
};

int tpy_request_init(void)
{
    if (PyType_Ready(&tpy_RequestType) < 0 || PyType_Ready(&tpy_RequestViewType) < 0)
        return -1;
    PyObject *json = PyImport_ImportModule("json");
    if (json == NULL)
        return -1;
    json_loads = PyObject_GetAttrString(json, "loads");
    Py_DECREF(json);
    return json_loads != NULL ? 0 : -1;
}

void tpy_request_set_hooks(PyObject *headers)
{
    Py_XSETREF(headers_factory, Py_NewRef(headers));
}
