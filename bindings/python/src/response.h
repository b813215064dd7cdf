/*
 * From what a handler returned or raised to the HTTP response: dict/list
 * as JSON (encoded in C, straight into the body), str, bytes, the
 * package's Response and JSONResponse objects, HTTPException, and the
 * plain 500 for everything else, logged.
 *
 * Everything here runs with the GIL held (or the thread state attached),
 * on the thread that owns res.
 */
#ifndef TURBO_PY_RESPONSE_H
#define TURBO_PY_RESPONSE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

#include <turbo/turbo.h>

/* turbo.Response (set once at import, read-only afterwards). */
extern PyObject *tpy_ResponseType;

/* At import: interns the attribute names read from Response objects and
 * exceptions. 0, or -1 with an error set. */
int tpy_response_init(void);
/* The package's Response, JSONResponse and HTTPException classes, and its
 * log_exception(func, exc); set once at import. */
void tpy_response_set_hooks(PyObject *response, PyObject *json_response,
                            PyObject *http_exception, PyObject *log_exc);

static inline int tpy_set_type(turbo_response *res, const char *type)
{
    return turbo_response_header(res, "Content-Type", 12, type, strlen(type));
}

/* JSON-encodes obj as the body (with the thread's reusable buffer: no
 * malloc per request in steady state). 0, or -1 with a Python error set. */
int tpy_json_body(turbo_response *res, PyObject *obj);

/* A Response or JSONResponse: status, headers, media type, body. 0, or
 * -1 with a Python error set. */
int tpy_write_response_object(turbo_response *res, PyObject *obj);

/* The handler raised (the exception is pending): HTTPException → its
 * status, detail and headers; anything else → 500, logged with func. The
 * response is rebuilt from scratch either way; the exception is cleared. */
void tpy_write_exception(turbo_response *res, PyObject *func);

/* Hands the pending exception (with its traceback) to the `turbo`
 * logger, never to the client, and clears it. */
void tpy_log_exception(PyObject *func);

/* Replaces whatever the response held with a text/plain 500. */
void tpy_plain_500(turbo_response *res);

/* An application's Content-Length header on the answer to a HEAD request
 * (the length its GET answer would have): announced, if it is a plain
 * decimal number, since the body is not produced. */
static inline void tpy_head_length(turbo_response *res, const char *v, size_t n)
{
    uint64_t len = 0;
    if (n == 0 || n > 19)
        return;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return;
        len = len * 10 + (uint64_t)(v[i] - '0');
    }
    turbo_response_head_length(res, len);
}

/* _turbo._set_file_response(FileResponse): its objects' bodies are files. */
PyObject *tpy_set_file_response(PyObject *mod, PyObject *type);

/* The ASGI adapter's answer (asgi.h), and how it is written: 0, or -1
 * with a Python error set. */
extern PyTypeObject tpy_RawResponseType;
int tpy_write_raw(turbo_response *res, PyObject *obj);

/* turbo.StreamingResponse (set once at import), and the marker an
 * accepted WebSocket's entry coroutine returns (stream.c). */
extern PyTypeObject *tpy_StreamingType;
extern PyObject *tpy_upgraded;

/* Converts what the handler returned. 0, or -1 with a Python error set;
 * 1 for a result the caller hands on (tpy_stream_*): a StreamingResponse,
 * or the upgrade marker. Inline: every request that returns comes
 * through here. json_strings (a turbo.FastAPI route): a str or bytes
 * result is a JSON string, as FastAPI encodes it, not text/plain. */
static inline int tpy_write_result(turbo_response *res, PyObject *result, int json_strings)
{
    if (PyDict_CheckExact(result) || PyList_CheckExact(result))
        return tpy_json_body(res, result);
    if (json_strings && (PyUnicode_Check(result) || PyBytes_Check(result)))
        return tpy_json_body(res, result);
    if (PyUnicode_Check(result)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(result, &n);
        if (s == NULL)
            return -1;
        tpy_set_type(res, "text/plain; charset=utf-8");
        return turbo_response_body(res, s, (size_t)n) == TURBO_OK ? 0 : -1;
    }
    if (PyBytes_Check(result) || PyByteArray_Check(result) || PyMemoryView_Check(result)) {
        Py_buffer view;
        if (PyObject_GetBuffer(result, &view, PyBUF_SIMPLE) != 0)
            return -1;
        tpy_set_type(res, "application/octet-stream");
        int rc = turbo_response_body(res, view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
        return rc == TURBO_OK ? 0 : -1;
    }
    if (PyObject_TypeCheck(result, (PyTypeObject *)tpy_ResponseType)) {
        if (tpy_StreamingType != NULL && PyObject_TypeCheck(result, tpy_StreamingType))
            return 1;
        return tpy_write_response_object(res, result);
    }
    if (Py_IS_TYPE(result, &tpy_RawResponseType))
        return tpy_write_raw(res, result);
    if (result == tpy_upgraded)
        return 1;
    return tpy_json_body(res, result); /* refuses what JSON cannot hold */
}

#endif
