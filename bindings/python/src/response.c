/*
 * Writing responses (response.h): the JSON body, Response objects,
 * HTTPException and the logged 500.
 */
#include "response.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jsonenc.h"

/* The package's hooks and interned attribute names: set once at import,
 * before any route can run; read-only afterwards. */
PyObject *tpy_ResponseType;
static PyObject *json_response_type, *http_exception_type, *log_exception;
static PyObject *file_response_type; /* turbo.FileResponse, once imported */
static PyObject *s_status_code, *s_body, *s_headers, *s_media_type, *s_content, *s_detail, *s_items;

/* The JSON encoder's buffer, one per thread, kept between requests. */
static _Thread_local tpy_buf json_buf;

int tpy_json_body(turbo_response *res, PyObject *obj)
{
    json_buf.len = 0;
    if (tpy_json_encode_response(obj, &json_buf) != 0)
        return -1;
    if (tpy_set_type(res, "application/json") != TURBO_OK ||
        turbo_response_body(res, json_buf.ptr, json_buf.len) != TURBO_OK) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

void tpy_plain_500(turbo_response *res)
{
    static const char msg[] = "Internal Server Error";
    turbo_response_reset(res); /* nothing of a failed conversion survives */
    turbo_response_status(res, 500);
    tpy_set_type(res, "text/plain; charset=utf-8");
    turbo_response_body(res, msg, sizeof(msg) - 1);
}

void tpy_log_exception(PyObject *func)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *r = value != NULL ? PyObject_CallFunctionObjArgs(log_exception, func, value, NULL)
                                : NULL;
    if (r == NULL)
        PyErr_WriteUnraisable(func);
    Py_XDECREF(r);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

/* Response headers from a dict (or any object with items()). */
static int add_headers(turbo_response *res, PyObject *headers, int *has_type)
{
    if (headers == Py_None)
        return 0;
    PyObject *items = PyObject_CallMethodNoArgs(headers, s_items);
    if (items == NULL)
        return -1;
    PyObject *it = PyObject_GetIter(items);
    Py_DECREF(items);
    if (it == NULL)
        return -1;
    PyObject *pair;
    while ((pair = PyIter_Next(it)) != NULL) {
        PyObject *k, *v;
        if (!PyArg_ParseTuple(pair, "UU", &k, &v)) {
            Py_DECREF(pair);
            Py_DECREF(it);
            return -1;
        }
        Py_ssize_t kl, vl;
        const char *ks = PyUnicode_AsUTF8AndSize(k, &kl);
        const char *vs = ks != NULL ? PyUnicode_AsUTF8AndSize(v, &vl) : NULL;
        if (vs == NULL || turbo_response_header(res, ks, (size_t)kl, vs, (size_t)vl) != TURBO_OK) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "invalid response header %R: %R", k, v);
            Py_DECREF(pair);
            Py_DECREF(it);
            return -1;
        }
        if (kl == 12 && PyOS_strnicmp(ks, "content-type", 12) == 0)
            *has_type = 1;
        Py_DECREF(pair);
    }
    Py_DECREF(it);
    return PyErr_Occurred() ? -1 : 0;
}

static int status_of(PyObject *obj, int *status)
{
    PyObject *s = PyObject_GetAttr(obj, s_status_code);
    if (s == NULL)
        return -1;
    long v = PyLong_AsLong(s);
    Py_DECREF(s);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < 200 || v > 599) {
        PyErr_Format(PyExc_ValueError, "status_code %ld out of range 200..599", v);
        return -1;
    }
    *status = (int)v;
    return 0;
}

/* A FileResponse's body: the file at its path (bytes, _fspath), sent by
 * sendfile(2) from the I/O thread (turbo_response_body_file, which takes
 * its own duplicate of the descriptor), its length as it is now. */
static int write_file(turbo_response *res, PyObject *obj)
{
    PyObject *path = PyObject_GetAttrString(obj, "_fspath");
    if (path == NULL)
        return -1;
    if (!PyBytes_Check(path)) {
        Py_DECREF(path);
        PyErr_SetString(PyExc_TypeError, "FileResponse._fspath must be bytes");
        return -1;
    }
    int fd = open(PyBytes_AS_STRING(path), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        if (fd >= 0)
            close(fd);
        Py_DECREF(path);
        return -1;
    }
    Py_DECREF(path);
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        PyErr_SetString(PyExc_IsADirectoryError, "FileResponse: not a regular file");
        return -1;
    }
    int rc = turbo_response_body_file(res, fd, 0, (uint64_t)st.st_size);
    close(fd);
    if (rc != TURBO_OK) {
        PyErr_Format(PyExc_OSError, "turbo_response_body_file: %s", turbo_strerror(rc));
        return -1;
    }
    return 0;
}

int tpy_write_response_object(turbo_response *res, PyObject *obj)
{
    int status, has_type = 0;
    if (status_of(obj, &status) != 0)
        return -1;
    turbo_response_status(res, status);
    PyObject *headers = PyObject_GetAttr(obj, s_headers);
    if (headers == NULL)
        return -1;
    int rc = add_headers(res, headers, &has_type);
    Py_DECREF(headers);
    if (rc != 0)
        return -1;
    if (PyObject_TypeCheck(obj, (PyTypeObject *)json_response_type)) {
        PyObject *content = PyObject_GetAttr(obj, s_content);
        if (content == NULL)
            return -1;
        json_buf.len = 0;
        rc = tpy_json_encode_response(content, &json_buf);
        Py_DECREF(content);
        if (rc != 0)
            return -1;
        if (!has_type)
            tpy_set_type(res, "application/json");
        return turbo_response_body(res, json_buf.ptr, json_buf.len) == TURBO_OK ? 0 : -1;
    }
    PyObject *media = PyObject_GetAttr(obj, s_media_type);
    if (media == NULL)
        return -1;
    if (media != Py_None && !has_type) {
        Py_ssize_t ml;
        const char *ms = PyUnicode_Check(media) ? PyUnicode_AsUTF8AndSize(media, &ml) : NULL;
        if (ms == NULL) {
            Py_DECREF(media);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "media_type must be a str");
            return -1;
        }
        /* Text gets an explicit charset, as Starlette does. */
        if (ml >= 5 && memcmp(ms, "text/", 5) == 0 && strstr(ms, "charset") == NULL) {
            char buf[256];
            int n = PyOS_snprintf(buf, sizeof(buf), "%s; charset=utf-8", ms);
            rc = n > 0 && (size_t)n < sizeof(buf) ? tpy_set_type(res, buf) : TURBO_EINVAL;
        } else {
            rc = turbo_response_header(res, "Content-Type", 12, ms, (size_t)ml);
        }
        if (rc != TURBO_OK) {
            Py_DECREF(media);
            PyErr_SetString(PyExc_ValueError, "invalid media_type");
            return -1;
        }
    }
    Py_DECREF(media);
    if (file_response_type != NULL && PyObject_TypeCheck(obj, (PyTypeObject *)file_response_type))
        return write_file(res, obj);
    PyObject *body = PyObject_GetAttr(obj, s_body);
    if (body == NULL)
        return -1;
    char *data;
    Py_ssize_t len;
    if (PyBytes_AsStringAndSize(body, &data, &len) != 0) {
        Py_DECREF(body);
        return -1;
    }
    rc = turbo_response_body(res, data, (size_t)len);
    Py_DECREF(body);
    return rc == TURBO_OK ? 0 : -1;
}

static int write_http_exception(turbo_response *res, PyObject *exc)
{
    int status, has_type = 0;
    if (status_of(exc, &status) != 0)
        return -1;
    PyObject *detail = PyObject_GetAttr(exc, s_detail);
    if (detail == NULL)
        return -1;
    PyObject *body = Py_BuildValue("{sN}", "detail", detail);
    if (body == NULL)
        return -1;
    json_buf.len = 0;
    int rc = tpy_json_encode_response(body, &json_buf);
    Py_DECREF(body);
    if (rc != 0)
        return -1;
    turbo_response_reset(res);
    turbo_response_status(res, status);
    PyObject *headers = PyObject_GetAttr(exc, s_headers);
    if (headers == NULL)
        return -1;
    rc = add_headers(res, headers, &has_type);
    Py_DECREF(headers);
    if (rc != 0)
        return -1;
    if (!has_type)
        tpy_set_type(res, "application/json");
    return turbo_response_body(res, json_buf.ptr, json_buf.len) == TURBO_OK ? 0 : -1;
}

void tpy_write_exception(turbo_response *res, PyObject *func)
{
    if (PyErr_ExceptionMatches(http_exception_type)) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_NormalizeException(&type, &value, &tb);
        int rc = value != NULL ? write_http_exception(res, value) : -1;
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        if (rc == 0)
            return;
    }
    tpy_log_exception(func);
    tpy_plain_500(res);
}

int tpy_response_init(void)
{
#define INTERN(var, text) \
    if ((var = PyUnicode_InternFromString(text)) == NULL) \
        return -1;
    INTERN(s_status_code, "status_code");
    INTERN(s_body, "body");
    INTERN(s_headers, "headers");
    INTERN(s_media_type, "media_type");
    INTERN(s_content, "content");
    INTERN(s_detail, "detail");
    INTERN(s_items, "items");
#undef INTERN
    return 0;
}

PyObject *tpy_set_file_response(PyObject *mod, PyObject *type)
{
    (void)mod;
    if (!PyType_Check(type))
        return PyErr_Format(PyExc_TypeError, "a class is needed");
    Py_XSETREF(file_response_type, Py_NewRef(type));
    Py_RETURN_NONE;
}

void tpy_response_set_hooks(PyObject *response, PyObject *json_response,
                            PyObject *http_exception, PyObject *log_exc)
{
    Py_XSETREF(tpy_ResponseType, Py_NewRef(response));
    Py_XSETREF(json_response_type, Py_NewRef(json_response));
    Py_XSETREF(http_exception_type, Py_NewRef(http_exception));
    Py_XSETREF(log_exception, Py_NewRef(log_exc));
}
