/*
 * The C half of the ASGI adapter (turbo/asgi.py): the request's part of an
 * http scope, and RawResponse (declared in response.h, which writes it).
 * GIL held.
 */
#ifndef TURBO_PY_ASGI_H
#define TURBO_PY_ASGI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* At import: interned keys, the RawResponse type. 0, or -1 with an error
 * set. */
int tpy_asgi_init(void);

/* _turbo.asgi_scope(request, base[, ws_base]): a copy of base (the keys
 * that do not change per request) with method, http_version, path,
 * raw_path, query_string, headers and client of the request added; for a
 * GET with Upgrade: websocket, given ws_base, a copy of ws_base with the
 * same keys but method. */
PyObject *tpy_asgi_scope(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

#endif
