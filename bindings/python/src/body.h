/*
 * request.stream() (body.c): a request body read as it arrives, through
 * libturbo's turbo_deferred_body(). A BodyReader collects the pieces the
 * I/O thread reads; turbo._body.stream, an async generator on the I/O
 * thread's asyncio loop, takes them and awaits the reader's next piece.
 */
#ifndef TURBO_PY_BODY_H
#define TURBO_PY_BODY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "request.h"

extern PyTypeObject tpy_BodyReaderType;

/* At import: readies the type. 0, or -1 with an error set. */
int tpy_body_init(void);

/* _turbo._set_body_hooks(stream): the package's async generator over a
 * reader. */
PyObject *tpy_body_set_hooks(PyObject *mod, PyObject *args);

/* request.stream(max_size=None): the async iterator over the request's
 * body. A new reference, or NULL with an error set. */
PyObject *tpy_request_stream(tpy_RequestObject *req, PyObject *const *args, Py_ssize_t nargs,
                             PyObject *kwnames);

#endif
