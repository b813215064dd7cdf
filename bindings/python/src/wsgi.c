/*
 * The WSGI adapter (wsgi.h). Per request: a copy of the base environ
 * with the request's keys added (PEP 3333's "native strings": latin-1
 * str of the bytes received), a start_response object, the call, and the
 * walk over the iterable into the response body; close() is called
 * whatever happened. The application's answer is buffered whole, so
 * that a failure at any point, even in close(), is still a clean 500.
 *
 * What the PEP leaves to the server, decided here:
 *  - headers whose name holds '_' are dropped: HTTP_X_A would otherwise
 *    not tell "X-A" from "X_A" (a spoofing vector; gunicorn and nginx
 *    drop them too);
 *  - repeated headers are joined with ", " (Cookie with "; ");
 *  - CONTENT_LENGTH is the length of the body as received (a chunked
 *    body has one too, de-chunked), and wsgi.input_terminated is true;
 *  - Content-Length and Transfer-Encoding from the application are not
 *    sent: the library frames every message from the bytes it sends.
 */
#include "wsgi.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "call.h"
#include "query.h"
#include "response.h"

typedef struct {
    PyObject *app, *base, *root_path, *default_port;
    char *root; /* root_path as latin-1 bytes */
    size_t root_len;
} tpy_wsgi;

/* Set once at import, read-only afterwards. */
static PyObject *k_method, *k_path, *k_query, *k_proto, *k_raddr, *k_rport, *k_ctype,
    *k_clen, *k_input, *k_sname, *k_sport, *k_raw_uri;
static PyObject *v_http11, *v_http10, *v_empty;
static PyObject *bytesio_type, *s_close, *s_fileno, *s_tell;

/* The methods and header names nearly every request has, as ready str
 * objects (no decoding, no allocation for them). */
static const char *const common_methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "PATCH",
                                             "OPTIONS"};
static PyObject *method_objs[sizeof common_methods / sizeof *common_methods];

static const char *const common_headers[] = {
    "host", "user-agent", "accept", "accept-encoding", "accept-language", "connection",
    "cookie", "referer", "cache-control", "origin", "authorization", "x-forwarded-for",
    "x-forwarded-proto", "x-request-id", "if-none-match", "if-modified-since", "pragma",
    "upgrade-insecure-requests", "sec-fetch-mode", "sec-fetch-site", "sec-fetch-dest"};
enum { N_COMMON = sizeof common_headers / sizeof *common_headers, H_HOST = 0, H_COOKIE = 6 };
static PyObject *header_keys[N_COMMON];

/* obj.name into *out, or NULL there when obj has no such attribute. 0, or
 * -1 with an error set. */
static int optional_attr(PyObject *obj, PyObject *name, PyObject **out)
{
    /* Without making (and dropping) an AttributeError: most iterables
     * have no close(), and that exception cost more than the adapter. */
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(obj, name, out) < 0 ? -1 : 0;
#else
    return _PyObject_LookupAttr(obj, name, out) < 0 ? -1 : 0;
#endif
}

static PyObject *latin1(const char *p, size_t n)
{
    return PyUnicode_DecodeLatin1(p != NULL ? p : "", (Py_ssize_t)n, NULL);
}

static int lower_eq(const char *a, size_t n, const char *lower)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c + 32);
        if (lower[i] != (char)c)
            return 0;
    }
    return lower[n] == '\0';
}

/* ---- start_response and write() --------------------------------------- */

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall; /* sr_vectorcall: no argument tuple per call */
    PyObject *status;  /* the status str given, or NULL before the call */
    PyObject *headers; /* the list given */
    int code;
    int body_started;     /* body bytes exist: exc_info must re-raise */
    turbo_response *res;  /* NULL once the request is over */
} StartResponse;

static PyTypeObject StartResponseType;

/* RFC 9110 token characters, by byte. */
static unsigned char tchar[256];

static void init_tchar(void)
{
    for (unsigned c = 0; c < 256; c++)
        tchar[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   (c != 0 && strchr("!#$%&'*+-.^_`|~", (int)c) != NULL);
}

/* A header name must be a token, a value latin-1 without CR, LF or NUL;
 * both str (PEP 3333). 0, or -1 with ValueError / TypeError set. Works on
 * the strings' bytes: a str wider than latin-1 is refused first. */
static int check_header(PyObject *item)
{
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(item, 0)) || !PyUnicode_Check(PyTuple_GET_ITEM(item, 1))) {
        PyErr_Format(PyExc_TypeError,
                     "start_response(): each header must be a (name, value) tuple of str, not %R",
                     item);
        return -1;
    }
    PyObject *name = PyTuple_GET_ITEM(item, 0), *value = PyTuple_GET_ITEM(item, 1);
    if (PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND ||
        PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError,
                     "start_response(): header %R: %R has a character outside latin-1", name, value);
        return -1;
    }
    const unsigned char *n = PyUnicode_1BYTE_DATA(name), *v = PyUnicode_1BYTE_DATA(value);
    Py_ssize_t nl = PyUnicode_GET_LENGTH(name), vl = PyUnicode_GET_LENGTH(value);
    int bad = nl == 0;
    for (Py_ssize_t i = 0; i < nl; i++)
        bad |= !tchar[n[i]];
    if (bad) {
        PyErr_Format(PyExc_ValueError, "start_response(): invalid header name %R", name);
        return -1;
    }
    for (Py_ssize_t i = 0; i < vl; i++) {
        if (v[i] < 0x20 && (v[i] == '\r' || v[i] == '\n' || v[i] == '\0')) {
            PyErr_Format(PyExc_ValueError,
                         "start_response(): header %R has a value with CR, LF or NUL: %R", name,
                         value);
            return -1;
        }
    }
    return 0;
}

/* "200 OK": three digits, then the end or a space. The code, or -1 with
 * an error set. */
static int parse_status(PyObject *status)
{
    if (!PyUnicode_Check(status)) {
        PyErr_Format(PyExc_TypeError, "start_response(): status must be a str, not %.200s",
                     Py_TYPE(status)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(status);
    int code = 0;
    for (Py_ssize_t i = 0; i < 3 && i < n; i++) {
        Py_UCS4 c = PyUnicode_READ_CHAR(status, i);
        code = c >= '0' && c <= '9' ? code * 10 + (int)(c - '0') : -1000;
    }
    if (n < 3 || code < 200 || code > 599 || (n > 3 && PyUnicode_READ_CHAR(status, 3) != ' ')) {
        PyErr_Format(PyExc_ValueError,
                     "start_response(): status must be \"NNN Reason\" with a final status "
                     "200..599, not %R", status);
        return -1;
    }
    return code;
}

static PyObject *sr_write(StartResponse *self, PyObject *data);
static PyMethodDef write_def = {"write", (PyCFunction)sr_write, METH_O,
                                "write(data): append bytes to the response body"};

static PyObject *start(StartResponse *self, PyObject *status, PyObject *headers,
                       PyObject *exc_info);

static PyObject *sr_call(StartResponse *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"status", "headers", "exc_info", NULL};
    PyObject *status, *headers, *exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:start_response", kwlist, &status, &headers,
                                     &exc_info))
        return NULL;
    return start(self, status, headers, exc_info);
}

/* The call as apps make it, positionally: no tuple, no parsing. */
static PyObject *sr_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf,
                               PyObject *kwnames)
{
    Py_ssize_t n = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL || n < 2 || n > 3) {
        PyObject *tuple = PyTuple_New(n);
        if (tuple == NULL)
            return NULL;
        for (Py_ssize_t i = 0; i < n; i++)
            PyTuple_SET_ITEM(tuple, i, Py_NewRef(args[i]));
        PyObject *kw = NULL;
        if (kwnames != NULL) {
            kw = PyDict_New();
            for (Py_ssize_t i = 0; kw != NULL && i < PyTuple_GET_SIZE(kwnames); i++)
                if (PyDict_SetItem(kw, PyTuple_GET_ITEM(kwnames, i), args[n + i]) != 0)
                    Py_CLEAR(kw);
            if (kw == NULL) {
                Py_DECREF(tuple);
                return NULL;
            }
        }
        PyObject *r = sr_call((StartResponse *)callable, tuple, kw);
        Py_DECREF(tuple);
        Py_XDECREF(kw);
        return r;
    }
    return start((StartResponse *)callable, args[0], args[1], n == 3 ? args[2] : Py_None);
}

static PyObject *start(StartResponse *self, PyObject *status, PyObject *headers,
                       PyObject *exc_info)
{
    if (self->res == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start_response(): the request is over");
        return NULL;
    }
    /* sys.exc_info() outside an except block is (None, None, None): no
     * error, so as if exc_info were not given. */
    if (PyTuple_Check(exc_info) && PyTuple_GET_SIZE(exc_info) == 3 &&
        PyTuple_GET_ITEM(exc_info, 0) == Py_None)
        exc_info = Py_None;
    if (exc_info != Py_None) {
        if (self->body_started) {
            /* Too late to change the answer: the error goes on up. */
            PyObject *t, *v, *tb;
            if (!PyArg_ParseTuple(exc_info, "OOO", &t, &v, &tb))
                return NULL;
            PyErr_Restore(Py_NewRef(t), Py_NewRef(v), tb == Py_None ? NULL : Py_NewRef(tb));
            return NULL;
        }
    } else if (self->status != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "start_response() called again without exc_info");
        return NULL;
    }
    int code = parse_status(status);
    if (code < 0)
        return NULL;
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "start_response(): headers must be a list, not %.200s",
                     Py_TYPE(headers)->tp_name);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++)
        if (check_header(PyList_GET_ITEM(headers, i)) != 0)
            return NULL;
    Py_XSETREF(self->status, Py_NewRef(status));
    Py_XSETREF(self->headers, Py_NewRef(headers));
    self->code = code;
    return PyCFunction_New(&write_def, (PyObject *)self);
}

/* One piece of the body: bytes, appended. 0, or -1 with an error set. */
static int append(StartResponse *self, PyObject *data, const char *who)
{
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "%s must give bytes, not %.200s", who,
                     Py_TYPE(data)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    if (n == 0)
        return 0;
    if (self->status == NULL) {
        PyErr_Format(PyExc_RuntimeError, "%s gave body bytes before start_response() was called",
                     who);
        return -1;
    }
    self->body_started = 1;
    if (turbo_response_append(self->res, PyBytes_AS_STRING(data), (size_t)n) != TURBO_OK) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static PyObject *sr_write(StartResponse *self, PyObject *data)
{
    if (self->res == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "write(): the request is over");
        return NULL;
    }
    if (append(self, data, "write()") != 0)
        return NULL;
    Py_RETURN_NONE;
}

static void sr_dealloc(StartResponse *self)
{
    Py_XDECREF(self->status);
    Py_XDECREF(self->headers);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject StartResponseType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.StartResponse",
    .tp_basicsize = sizeof(StartResponse),
    .tp_dealloc = (destructor)sr_dealloc,
    .tp_call = (ternaryfunc)sr_call,
    .tp_vectorcall_offset = offsetof(StartResponse, vectorcall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "start_response(status, headers, exc_info=None) -> write",
};

/* ---- wsgi.file_wrapper ------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
} FileWrapper;

static PyObject *fw_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"filelike", "blksize", NULL};
    PyObject *filelike;
    Py_ssize_t blksize = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:file_wrapper", kwlist, &filelike, &blksize))
        return NULL;
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError, "file_wrapper: blksize must be positive");
        return NULL;
    }
    FileWrapper *self = (FileWrapper *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->filelike = Py_NewRef(filelike);
    self->blksize = blksize;
    return (PyObject *)self;
}

static PyObject *fw_next(FileWrapper *self)
{
    PyObject *data = PyObject_CallMethod(self->filelike, "read", "n", self->blksize);
    if (data == NULL)
        return NULL;
    Py_ssize_t n = PyObject_Length(data);
    if (n <= 0) { /* an error, or the end: StopIteration */
        Py_DECREF(data);
        return NULL;
    }
    return data;
}

static PyObject *fw_close(FileWrapper *self, PyObject *unused)
{
    (void)unused;
    PyObject *close = NULL;
    if (optional_attr(self->filelike, s_close, &close) < 0)
        return NULL;
    if (close == NULL)
        Py_RETURN_NONE;
    PyObject *r = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    return r;
}

static void fw_dealloc(FileWrapper *self)
{
    Py_XDECREF(self->filelike);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef fw_methods[] = {
    {"close", (PyCFunction)fw_close, METH_NOARGS, "close the file-like object, if it can be"},
    {NULL, NULL, 0, NULL}};

PyTypeObject tpy_FileWrapperType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.FileWrapper",
    .tp_basicsize = sizeof(FileWrapper),
    .tp_dealloc = (destructor)fw_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "wsgi.file_wrapper(filelike, blksize=8192)",
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)fw_next,
    .tp_methods = fw_methods,
    .tp_new = fw_new,
};

/* The rest of a regular file, from its logical position (tell(), which
 * knows about a buffered reader's read-ahead) to its end: sent by
 * sendfile(2) (turbo_response_body_file), or, after bytes given to
 * write(), read and appended with the GIL released. 1 done, 0 not a regular file with a
 * descriptor (iterate instead; no error set), -1 with an error set. */
static int file_body(StartResponse *sr, FileWrapper *fw)
{
    PyObject *r = PyObject_CallMethodNoArgs(fw->filelike, s_fileno);
    if (r == NULL) {
        if (PyErr_ExceptionMatches(PyExc_AttributeError) || PyErr_ExceptionMatches(PyExc_OSError) ||
            PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear(); /* io.UnsupportedOperation is both of the latter */
            return 0;
        }
        return -1;
    }
    long lfd = PyLong_AsLong(r);
    Py_DECREF(r);
    if (lfd == -1 && PyErr_Occurred())
        return -1;
    if (lfd < 0 || lfd > INT_MAX)
        return 0;
    int fd = (int)lfd;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    r = PyObject_CallMethodNoArgs(fw->filelike, s_tell);
    if (r == NULL) {
        PyErr_Clear();
        return 0;
    }
    long long pos = PyLong_AsLongLong(r);
    Py_DECREF(r);
    if (pos < 0) {
        PyErr_Clear();
        return 0;
    }
    if (sr->status == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the application returned a file_wrapper before calling start_response()");
        return -1;
    }
    if ((long long)st.st_size <= pos)
        return 1;
    size_t len = (size_t)(st.st_size - pos);
    if (!sr->body_started) { /* sendfile(2): no copy, no memory per byte */
        if (turbo_response_body_file(sr->res, fd, (uint64_t)pos, (uint64_t)len) != TURBO_OK) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        sr->body_started = 1;
        return 1;
    }
    /* write() was used too: the file's bytes go after those, copied. */
    char *buf = malloc(len);
    if (buf == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    size_t got = 0;
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(pos + (long long)got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? errno : 0;
            break; /* shrank meanwhile: send what there is */
        }
        got += (size_t)n;
    }
    Py_END_ALLOW_THREADS
    if (err != 0) {
        free(buf);
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    int rc = turbo_response_append(sr->res, buf, got);
    free(buf);
    if (rc != TURBO_OK) {
        PyErr_NoMemory();
        return -1;
    }
    return 1;
}

/* ---- the environ ------------------------------------------------------- */

static PyObject *method_str(turbo_str m)
{
    for (size_t i = 0; i < sizeof common_methods / sizeof *common_methods; i++)
        if (strlen(common_methods[i]) == m.len && memcmp(common_methods[i], m.ptr, m.len) == 0)
            return Py_NewRef(method_objs[i]);
    return latin1(m.ptr, m.len);
}

/* The percent-decoded path as latin-1 (PEP 3333: PATH_INFO is decoded;
 * "+" is not a space in a path). */
static PyObject *decoded_path(turbo_request *req, const char *p, size_t n)
{
    if (memchr(p, '%', n) == NULL)
        return latin1(p, n);
    char *out = turbo_request_alloc(req, n + 1);
    if (out == NULL)
        return PyErr_NoMemory();
    size_t o = tpy_percent_decode(p, n, 0, out);
    return latin1(out, o);
}

/* A non-negative number as a str, without printf's machinery. */
static PyObject *decimal(unsigned long long v)
{
    char buf[24];
    int n = (int)sizeof(buf);
    do {
        buf[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return PyUnicode_FromStringAndSize(buf + n, (Py_ssize_t)sizeof(buf) - n);
}

static int set_new(PyObject *env, PyObject *key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItem(env, key, value);
    Py_DECREF(value);
    return rc;
}

/* "HTTP_" + the name upper-cased, '-' as '_'; NULL with no error set for a
 * name holding '_' (dropped). */
static PyObject *header_key(turbo_request *req, turbo_str name, int *which)
{
    *which = -1;
    for (int i = 0; i < N_COMMON; i++)
        if (lower_eq(name.ptr, name.len, common_headers[i])) {
            *which = i;
            return Py_NewRef(header_keys[i]);
        }
    if (memchr(name.ptr, '_', name.len) != NULL)
        return NULL;
    char *k = turbo_request_alloc(req, name.len + 5);
    if (k == NULL)
        return PyErr_NoMemory();
    memcpy(k, "HTTP_", 5);
    for (size_t i = 0; i < name.len; i++) {
        char c = name.ptr[i];
        k[5 + i] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
    }
    return PyUnicode_FromStringAndSize(k, (Py_ssize_t)(name.len + 5));
}

/* SERVER_NAME and SERVER_PORT from a Host header: "name", "name:port",
 * "[v6]" or "[v6]:port". */
static int set_host(tpy_wsgi *w, PyObject *env, turbo_str host)
{
    turbo_str name, port;
    tpy_split_host(host, &name, &port);
    if (set_new(env, k_sname, latin1(name.ptr, name.len)) != 0)
        return -1;
    if (port.ptr != NULL)
        return set_new(env, k_sport, latin1(port.ptr, port.len));
    return PyDict_SetItem(env, k_sport, w->default_port);
}

static PyObject *build_environ(tpy_wsgi *w, turbo_request *req)
{
    PyObject *env = PyDict_Copy(w->base);
    if (env == NULL)
        return NULL;
    turbo_str path = turbo_request_path(req), query = turbo_request_query(req);
    turbo_str target = turbo_request_target(req), addr = turbo_request_remote_addr(req);
    turbo_str body = turbo_request_body(req);
    const char *pp = path.ptr != NULL ? path.ptr : "";
    size_t plen = path.len;
    if (w->root_len != 0 && plen >= w->root_len && memcmp(pp, w->root, w->root_len) == 0 &&
        (plen == w->root_len || pp[w->root_len] == '/')) {
        pp += w->root_len;
        plen -= w->root_len;
    }
    if (set_new(env, k_method, method_str(turbo_request_method(req))) != 0 ||
        set_new(env, k_path, decoded_path(req, pp, plen)) != 0 ||
        set_new(env, k_query, query.len != 0 ? latin1(query.ptr, query.len) : Py_NewRef(v_empty)) != 0 ||
        set_new(env, k_raw_uri, latin1(target.ptr, target.len)) != 0 ||
        PyDict_SetItem(env, k_proto, turbo_request_version(req) == 10 ? v_http10 : v_http11) != 0 ||
        set_new(env, k_raddr, latin1(addr.ptr, addr.len)) != 0 ||
        set_new(env, k_rport, decimal((unsigned)turbo_request_remote_port(req))) != 0)
        goto fail;

    size_t nh = turbo_request_header_count(req);
    int has_length = 0;
    for (size_t i = 0; i < nh; i++) {
        turbo_str name, value;
        turbo_request_header_at(req, i, &name, &value);
        PyObject *key;
        int which = -1;
        if (lower_eq(name.ptr, name.len, "content-type")) {
            key = Py_NewRef(k_ctype);
        } else if (lower_eq(name.ptr, name.len, "content-length")) {
            has_length = 1; /* written below, from the body itself */
            continue;
        } else if (lower_eq(name.ptr, name.len, "transfer-encoding")) {
            continue; /* the body is de-chunked: CONTENT_LENGTH says it all */
        } else {
            key = header_key(req, name, &which);
            if (key == NULL) {
                if (PyErr_Occurred())
                    goto fail;
                continue;
            }
        }
        PyObject *v = latin1(value.ptr, value.len);
        if (v == NULL) {
            Py_DECREF(key);
            goto fail;
        }
        PyObject *old = PyDict_GetItemWithError(env, key);
        if (old != NULL && key != k_ctype) { /* a repeated field: joined */
            PyObject *joined = PyUnicode_FromFormat(which == H_COOKIE ? "%U; %U" : "%U, %U", old, v);
            Py_SETREF(v, joined);
        } else if (PyErr_Occurred()) {
            Py_DECREF(v);
            v = NULL;
        }
        int rc = v != NULL ? PyDict_SetItem(env, key, v) : -1;
        if (rc == 0 && which == H_HOST && old == NULL)
            rc = set_host(w, env, value);
        Py_DECREF(key);
        Py_XDECREF(v);
        if (rc != 0)
            goto fail;
    }
    if ((has_length || body.len != 0) &&
        set_new(env, k_clen, decimal(body.len)) != 0)
        goto fail;
    PyObject *bytes = PyBytes_FromStringAndSize(body.ptr != NULL ? body.ptr : "", (Py_ssize_t)body.len);
    if (bytes == NULL)
        goto fail;
    PyObject *input = PyObject_CallOneArg(bytesio_type, bytes);
    Py_DECREF(bytes);
    if (set_new(env, k_input, input) != 0)
        goto fail;
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}

/* ---- serving ----------------------------------------------------------- */

/* The app's iterable into the body. 0, or -1 with an error set. */
static int consume(StartResponse *sr, PyObject *result)
{
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        PyObject *seq = result;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++)
            if (append(sr, PySequence_Fast_GET_ITEM(seq, i), "the application's iterable") != 0)
                return -1;
        return 0;
    }
    if (Py_IS_TYPE(result, &tpy_FileWrapperType)) {
        int rc = file_body(sr, (FileWrapper *)result);
        if (rc != 0)
            return rc < 0 ? -1 : 0;
    }
    PyObject *it = PyObject_GetIter(result);
    if (it == NULL)
        return -1;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        int rc = append(sr, item, "the application's iterable");
        Py_DECREF(item);
        if (rc != 0) {
            Py_DECREF(it);
            return -1;
        }
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

/* Status and headers from start_response into the response. 0, or -1
 * with an error set. */
static int finish(StartResponse *sr, turbo_response *res, int is_head)
{
    if (sr->status == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the application returned without calling start_response()");
        return -1;
    }
    turbo_response_status(res, sr->code);
    PyObject *headers = sr->headers;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
        /* Checked in start_response(); the list may have been changed
         * since, so its items' types and width are checked again, and
         * turbo_response_header() checks the bytes. */
        PyObject *item = PyList_GET_ITEM(headers, i);
        PyObject *name, *value;
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2 ||
            !PyUnicode_Check(name = PyTuple_GET_ITEM(item, 0)) ||
            !PyUnicode_Check(value = PyTuple_GET_ITEM(item, 1)) ||
            PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND ||
            PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND)
        {
            check_header(item); /* sets the error that says what is wrong */
            return -1;
        }
        Py_ssize_t nl = PyUnicode_GET_LENGTH(name), vl = PyUnicode_GET_LENGTH(value);
        const char *ns = (const char *)PyUnicode_1BYTE_DATA(name);
        const char *vs = (const char *)PyUnicode_1BYTE_DATA(value);
        if (lower_eq(ns, (size_t)nl, "content-length")) {
            if (is_head) /* the GET's length, announced for the body not produced */
                tpy_head_length(res, vs, (size_t)vl);
            continue; /* the library frames the message */
        }
        if (lower_eq(ns, (size_t)nl, "transfer-encoding"))
            continue;
        if (turbo_response_header(res, ns, (size_t)nl, vs, (size_t)vl) != TURBO_OK) {
            PyErr_Format(PyExc_ValueError, "invalid response header %R: %R", name, value);
            return -1;
        }
    }
    return 0;
}

/* Calls result.close() if it has one, keeping any pending exception; a
 * failure of close() itself is logged. -1 when close() failed. */
static int close_result(PyObject *app, PyObject *result)
{
    PyObject *close = NULL;
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    int rc = 0;
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result)) {
        /* no close() */
    } else if (optional_attr(result, s_close, &close) < 0) {
        rc = -1;
    } else if (close != NULL) {
        PyObject *r = PyObject_CallNoArgs(close);
        Py_DECREF(close);
        if (r == NULL)
            rc = -1;
        Py_XDECREF(r);
    }
    if (rc != 0)
        tpy_log_exception(app);
    PyErr_Restore(t, v, tb);
    return rc;
}

static void serve(tpy_wsgi *w, turbo_request *req, turbo_response *res)
{
    turbo_response_reset(res); /* not the router's 404/405 and Allow */
    if (tpy_in_clean_context() != 0) {
        tpy_log_exception(w->app);
        tpy_plain_500(res);
        return;
    }
    PyObject *env = build_environ(w, req);
    StartResponse *sr = env != NULL ? PyObject_New(StartResponse, &StartResponseType) : NULL;
    if (sr == NULL) {
        Py_XDECREF(env);
        tpy_log_exception(w->app);
        tpy_plain_500(res);
        tpy_leave_clean_context();
        return;
    }
    sr->vectorcall = sr_vectorcall;
    sr->status = sr->headers = NULL;
    sr->code = 0;
    sr->body_started = 0;
    sr->res = res;
    PyObject *args[2] = {env, (PyObject *)sr};
    PyObject *result = PyObject_Vectorcall(w->app, args, 2, NULL);
    int ok = result != NULL && consume(sr, result) == 0;
    if (result != NULL) {
        if (close_result(w->app, result) != 0)
            ok = 0;
        Py_DECREF(result);
    }
    turbo_str m = turbo_request_method(req);
    if (ok && finish(sr, res, m.len == 4 && memcmp(m.ptr, "HEAD", 4) == 0) != 0)
        ok = 0;
    if (!ok) {
        if (PyErr_Occurred())
            tpy_log_exception(w->app);
        tpy_plain_500(res);
    }
    sr->res = NULL; /* write() and start_response() kept by the app now fail */
    Py_DECREF(sr);
    Py_DECREF(env);
    tpy_leave_clean_context();
}

int tpy_wsgi_handler(turbo_request *req, turbo_response *res, void *ud)
{
    tpy_thread_enter();
    serve(ud, req, res);
    PyEval_SaveThread();
    return TURBO_OK;
}

void *tpy_wsgi_new(PyObject *app, PyObject *base, PyObject *root_path, PyObject *default_port)
{
    if (!PyCallable_Check(app)) {
        PyErr_SetString(PyExc_TypeError, "the WSGI application must be callable");
        return NULL;
    }
    if (!PyDict_Check(base) || !PyUnicode_Check(root_path) || !PyUnicode_Check(default_port)) {
        PyErr_SetString(PyExc_TypeError, "set_wsgi(app, base: dict, root_path: str, default_port: str)");
        return NULL;
    }
    PyObject *root = PyUnicode_AsLatin1String(root_path);
    if (root == NULL)
        return NULL;
    tpy_wsgi *w = PyMem_RawCalloc(1, sizeof(*w));
    size_t n = (size_t)PyBytes_GET_SIZE(root);
    char *copy = w != NULL ? PyMem_RawMalloc(n + 1) : NULL;
    if (copy == NULL) {
        PyMem_RawFree(w);
        Py_DECREF(root);
        PyErr_NoMemory();
        return NULL;
    }
    memcpy(copy, PyBytes_AS_STRING(root), n + 1);
    Py_DECREF(root);
    w->app = Py_NewRef(app);
    w->base = Py_NewRef(base);
    w->root_path = Py_NewRef(root_path);
    w->default_port = Py_NewRef(default_port);
    w->root = copy;
    w->root_len = n;
    return w;
}

void tpy_wsgi_release(void *ud)
{
    tpy_wsgi *w = ud;
    if (w == NULL || !Py_IsInitialized())
        return;
    PyGILState_STATE g = PyGILState_Ensure();
    Py_XDECREF(w->app);
    Py_XDECREF(w->base);
    Py_XDECREF(w->root_path);
    Py_XDECREF(w->default_port);
    PyGILState_Release(g);
    PyMem_RawFree(w->root);
    PyMem_RawFree(w);
}

int tpy_wsgi_init(void)
{
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) \
        return -1;
    INTERN(k_method, "REQUEST_METHOD");
    INTERN(k_path, "PATH_INFO");
    INTERN(k_query, "QUERY_STRING");
    INTERN(k_proto, "SERVER_PROTOCOL");
    INTERN(k_raddr, "REMOTE_ADDR");
    INTERN(k_rport, "REMOTE_PORT");
    INTERN(k_ctype, "CONTENT_TYPE");
    INTERN(k_clen, "CONTENT_LENGTH");
    INTERN(k_input, "wsgi.input");
    INTERN(k_sname, "SERVER_NAME");
    INTERN(k_sport, "SERVER_PORT");
    INTERN(k_raw_uri, "RAW_URI");
    INTERN(v_http11, "HTTP/1.1");
    INTERN(v_http10, "HTTP/1.0");
    INTERN(v_empty, "");
    INTERN(s_close, "close");
    INTERN(s_fileno, "fileno");
    INTERN(s_tell, "tell");
#undef INTERN
    for (size_t i = 0; i < sizeof common_methods / sizeof *common_methods; i++)
        if ((method_objs[i] = PyUnicode_InternFromString(common_methods[i])) == NULL)
            return -1;
    for (int i = 0; i < N_COMMON; i++) {
        char key[64] = "HTTP_";
        size_t n = strlen(common_headers[i]);
        for (size_t j = 0; j < n; j++) {
            char c = common_headers[i][j];
            key[5 + j] = c == '-' ? '_' : (c >= 'a' && c <= 'z') ? (char)(c - 32) : c;
        }
        key[5 + n] = '\0';
        if ((header_keys[i] = PyUnicode_InternFromString(key)) == NULL)
            return -1;
    }
    PyObject *io = PyImport_ImportModule("io");
    if (io == NULL)
        return -1;
    bytesio_type = PyObject_GetAttrString(io, "BytesIO");
    Py_DECREF(io);
    if (bytesio_type == NULL)
        return -1;
    if (PyType_Ready(&StartResponseType) < 0 || PyType_Ready(&tpy_FileWrapperType) < 0)
        return -1;
    init_tchar();
    return 0;
}
