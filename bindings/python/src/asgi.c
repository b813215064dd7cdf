/*
 * The C half of the ASGI adapter (turbo/asgi.py): the per-request part of
 * an http (or websocket) scope, made straight from the C request, and RawResponse, the
 * answer an ASGI app sent (status, headers as bytes pairs, body pieces),
 * written into the response without a Python-level conversion.
 *
 * Everything here runs with the GIL held.
 */
#include "asgi.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "request.h"
#include "response.h"

/* Set once at import, read-only afterwards. */
static PyObject *k_method, *k_http_version, *k_path, *k_raw_path, *k_query_string, *k_headers,
    *k_client, *v_11, *v_10, *v_empty_bytes;

static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"};
static PyObject *method_objs[sizeof methods / sizeof *methods];

static const char *const names[] = {"host", "user-agent", "accept", "accept-encoding",
                                    "accept-language", "connection", "cookie", "content-type",
                                    "content-length", "origin", "referer", "authorization",
                                    "cache-control", "x-forwarded-for", "x-forwarded-proto"};
static PyObject *name_objs[sizeof names / sizeof *names];

static PyObject *bytes_of(turbo_str s)
{
    return PyBytes_FromStringAndSize(s.ptr != NULL ? s.ptr : "", (Py_ssize_t)s.len);
}

/* The header name lower-cased, as bytes (ASGI's form). */
static PyObject *lower_name(turbo_str name)
{
    size_t n = name.len;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *w = names[i];
        size_t j = 0;
        for (; j < n && w[j] != '\0'; j++) {
            char c = name.ptr[j];
            if (c >= 'A' && c <= 'Z')
                c = (char)(c + 32);
            if (c != w[j])
                break;
        }
        if (j == n && w[j] == '\0')
            return Py_NewRef(name_objs[i]);
    }
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (b == NULL)
        return NULL;
    char *p = PyBytes_AS_STRING(b);
    for (size_t j = 0; j < n; j++) {
        char c = name.ptr[j];
        p[j] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    return b;
}

static int set_new(PyObject *d, PyObject *key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(d, key, value);
    Py_DECREF(value);
    return rc;
}

static PyObject *headers_of(turbo_request *req)
{
    size_t n = turbo_request_header_count(req);
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        turbo_str name, value;
        turbo_request_header_at(req, i, &name, &value);
        PyObject *pair = PyTuple_New(2);
        PyObject *k = pair != NULL ? lower_name(name) : NULL;
        PyObject *v = k != NULL ? bytes_of(value) : NULL;
        if (v == NULL) {
            Py_XDECREF(k);
            Py_XDECREF(pair);
            Py_DECREF(list);
            return NULL;
        }
        PyTuple_SET_ITEM(pair, 0, k);
        PyTuple_SET_ITEM(pair, 1, v);
        PyList_SET_ITEM(list, (Py_ssize_t)i, pair);
    }
    return list;
}

static PyObject *method_of(turbo_str m)
{
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if (strlen(methods[i]) == m.len && memcmp(methods[i], m.ptr, m.len) == 0)
            return Py_NewRef(method_objs[i]);
    return PyUnicode_DecodeLatin1(m.ptr, (Py_ssize_t)m.len, NULL);
}

/* A GET whose Upgrade header names websocket (any case, maybe in a list):
 * a WebSocket handshake, for which the app gets a websocket scope. Whether
 * the handshake is valid is turbo_ws_accept's to say. */
static int is_websocket(turbo_request *req)
{
    turbo_str m = turbo_request_method(req), up;
    if (m.len != 3 || memcmp(m.ptr, "GET", 3) != 0 ||
        turbo_request_header(req, "upgrade", 7, &up) != TURBO_OK)
        return 0;
    for (size_t i = 0; i + 9 <= up.len; i++)
        if (PyOS_strnicmp(up.ptr + i, "websocket", 9) == 0)
            return 1;
    return 0;
}

PyObject *tpy_asgi_scope(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs < 2 || nargs > 3 || !PyObject_TypeCheck(args[0], &tpy_RequestType) ||
        !PyDict_Check(args[1]) || (nargs == 3 && !PyDict_Check(args[2]))) {
        PyErr_SetString(PyExc_TypeError, "asgi_scope(request, base: dict[, ws_base: dict])");
        return NULL;
    }
    turbo_request *req = ((tpy_RequestObject *)args[0])->req;
    if (req == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the request is no longer available");
        return NULL;
    }
    int ws = nargs == 3 && is_websocket(req);
    PyObject *scope = PyDict_Copy(args[ws ? 2 : 1]);
    if (scope == NULL)
        return NULL;
    turbo_str path = turbo_request_path(req), query = turbo_request_query(req);
    turbo_str addr = turbo_request_remote_addr(req);
    if ((!ws && set_new(scope, k_method, method_of(turbo_request_method(req))) != 0) ||
        PyDict_SetItem(scope, k_http_version, turbo_request_version(req) == 10 ? v_10 : v_11) != 0 ||
        set_new(scope, k_path, tpy_decode_component(req, path, 0)) != 0 ||
        set_new(scope, k_raw_path, bytes_of(path)) != 0 ||
        set_new(scope, k_query_string, query.len != 0 ? bytes_of(query) : Py_NewRef(v_empty_bytes)) != 0 ||
        set_new(scope, k_headers, headers_of(req)) != 0 ||
        set_new(scope, k_client,
                Py_BuildValue("(Ni)", PyUnicode_DecodeLatin1(addr.ptr != NULL ? addr.ptr : "",
                                                             (Py_ssize_t)addr.len, NULL),
                              turbo_request_remote_port(req))) != 0) {
        Py_DECREF(scope);
        return NULL;
    }
    return scope;
}

/* ---- RawResponse -------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    int status;
    PyObject *headers; /* iterable of (bytes, bytes) */
    PyObject *body;    /* list of bytes */
    PyObject *path;    /* http.response.pathsend: the file (str or bytes), or NULL */
    int head_length;   /* a HEAD answer: send the app's Content-Length */
} RawResponse;

static PyObject *raw_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"status", "headers", "body", "head", "path", NULL};
    int status, head = 0;
    PyObject *headers, *body, *path = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "iOO!|pO:RawResponse", kwlist, &status, &headers,
                                     &PyList_Type, &body, &head, &path))
        return NULL;
    RawResponse *self = (RawResponse *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->status = status;
    self->headers = Py_NewRef(headers);
    self->body = Py_NewRef(body);
    self->path = path != Py_None ? Py_XNewRef(path) : NULL;
    self->head_length = head;
    return (PyObject *)self;
}

static void raw_dealloc(RawResponse *self)
{
    Py_XDECREF(self->headers);
    Py_XDECREF(self->body);
    Py_XDECREF(self->path);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

PyTypeObject tpy_RawResponseType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.RawResponse",
    .tp_basicsize = sizeof(RawResponse),
    .tp_dealloc = (destructor)raw_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "RawResponse(status, headers: [(bytes, bytes)], body: [bytes], head=False, "
              "path=None): head: the answer to a HEAD request, whose Content-Length header is "
              "announced; path: a file sent as the body by sendfile(2) (http.response.pathsend)",
    .tp_new = raw_new,
};

static int ieq(const char *p, Py_ssize_t n, const char *lower)
{
    return (size_t)n == strlen(lower) && PyOS_strnicmp(p, lower, (size_t)n) == 0;
}

/* ASGI allows bytes-like header names and values; bytes is what apps send. */
static int as_bytes(PyObject *o, const char **p, Py_ssize_t *n)
{
    if (PyBytes_Check(o)) {
        *p = PyBytes_AS_STRING(o);
        *n = PyBytes_GET_SIZE(o);
        return 0;
    }
    if (PyByteArray_Check(o)) {
        *p = PyByteArray_AS_STRING(o);
        *n = PyByteArray_GET_SIZE(o);
        return 0;
    }
    PyErr_Format(PyExc_TypeError, "ASGI header names and values must be bytes, not %.200s",
                 Py_TYPE(o)->tp_name);
    return -1;
}

/* http.response.pathsend: the whole regular file at path (str or bytes)
 * as the body, by sendfile(2); libturbo sends its own duplicate of the
 * descriptor. 0, or -1 with OSError (a missing file, a directory). */
static int file_body(turbo_response *res, PyObject *path)
{
    PyObject *fs = NULL;
    if (!PyUnicode_FSConverter(path, &fs))
        return -1;
    int fd = open(PyBytes_AS_STRING(fs), O_RDONLY | O_CLOEXEC);
    Py_DECREF(fs);
    if (fd < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        return -1;
    }
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    } else if (!S_ISREG(st.st_mode)) {
        errno = EINVAL;
        PyErr_Format(PyExc_OSError, "ASGI pathsend: %R is not a regular file", path);
    } else if (turbo_response_body_file(res, fd, 0, (uint64_t)st.st_size) != TURBO_OK) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    } else {
        rc = 0;
    }
    close(fd);
    return rc;
}

int tpy_write_raw(turbo_response *res, PyObject *obj)
{
    RawResponse *r = (RawResponse *)obj;
    if (r->status < 200 || r->status > 599) {
        PyErr_Format(PyExc_ValueError, "ASGI status %d is not a final status 200..599", r->status);
        return -1;
    }
    turbo_response_status(res, r->status);
    PyObject *it = PyObject_GetIter(r->headers);
    if (it == NULL)
        return -1;
    PyObject *pair;
    while ((pair = PyIter_Next(it)) != NULL) {
        PyObject *seq = PySequence_Fast(pair, "an ASGI header must be a [name, value] pair");
        Py_DECREF(pair);
        if (seq == NULL)
            break;
        const char *k, *v;
        Py_ssize_t kl, vl;
        int rc = -1;
        if (PySequence_Fast_GET_SIZE(seq) != 2) {
            PyErr_SetString(PyExc_ValueError, "an ASGI header must be a [name, value] pair");
        } else if (as_bytes(PySequence_Fast_GET_ITEM(seq, 0), &k, &kl) == 0 &&
                   as_bytes(PySequence_Fast_GET_ITEM(seq, 1), &v, &vl) == 0) {
            if (ieq(k, kl, "content-length")) {
                rc = 0; /* the library frames the message; for HEAD, the GET's length */
                if (r->head_length)
                    tpy_head_length(res, v, (size_t)vl);
            } else if (ieq(k, kl, "transfer-encoding")) {
                rc = 0; /* the library frames the message */
            } else {
                rc = turbo_response_header(res, k, (size_t)kl, v, (size_t)vl) == TURBO_OK ? 0 : -1;
            }
            if (rc != 0 && !PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "invalid ASGI response header %R: %R",
                             PySequence_Fast_GET_ITEM(seq, 0), PySequence_Fast_GET_ITEM(seq, 1));
        }
        Py_DECREF(seq);
        if (rc != 0)
            break;
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return -1;
    if (r->path != NULL)
        return file_body(res, r->path);
    Py_ssize_t n = PyList_GET_SIZE(r->body);
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *p;
        Py_ssize_t len;
        if (as_bytes(PyList_GET_ITEM(r->body, i), &p, &len) != 0)
            return -1;
        if ((i == 0 ? turbo_response_body(res, p, (size_t)len)
                    : turbo_response_append(res, p, (size_t)len)) != TURBO_OK) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

int tpy_asgi_init(void)
{
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) \
        return -1;
    INTERN(k_method, "method");
    INTERN(k_http_version, "http_version");
    INTERN(k_path, "path");
    INTERN(k_raw_path, "raw_path");
    INTERN(k_query_string, "query_string");
    INTERN(k_headers, "headers");
    INTERN(k_client, "client");
    INTERN(v_11, "1.1");
    INTERN(v_10, "1.0");
#undef INTERN
    if ((v_empty_bytes = PyBytes_FromStringAndSize("", 0)) == NULL)
        return -1;
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++)
        if ((method_objs[i] = PyUnicode_InternFromString(methods[i])) == NULL)
            return -1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if ((name_objs[i] = PyBytes_FromString(names[i])) == NULL)
            return -1;
    return PyType_Ready(&tpy_RawResponseType);
}
