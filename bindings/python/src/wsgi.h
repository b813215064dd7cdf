/*
 * The WSGI adapter (PEP 3333): a WSGI application served as the fallback
 * of a libturbo server, so that every path no native route takes goes to
 * it. The environ, start_response, the write() callable and the walk over
 * the returned iterable are C; the application runs inline on the I/O
 * thread that read the request, or on the blocking pool.
 *
 * Everything here runs with the GIL held, except the handler, which takes
 * it.
 */
#ifndef TURBO_PY_WSGI_H
#define TURBO_PY_WSGI_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <turbo/turbo.h>

/* wsgi.file_wrapper: iterates a file-like object in blocks; a regular
 * file's remaining bytes are read straight into the response. */
extern PyTypeObject tpy_FileWrapperType;

/* At import: interned names and types. 0, or -1 with an error set. */
int tpy_wsgi_init(void);

/* app: the WSGI callable. base: the environ keys that do not change per
 * request (wsgi.*, SCRIPT_NAME, SERVER_NAME/PORT for a request without
 * Host, SERVER_SOFTWARE), copied for each request. root_path: the
 * SCRIPT_NAME, stripped from the front of paths that start with it.
 * default_port: SERVER_PORT for a Host header without one ("80").
 * Returns the fallback's user data, or NULL with an error set. */
void *tpy_wsgi_new(PyObject *app, PyObject *base, PyObject *root_path, PyObject *default_port);

/* turbo_release_fn for tpy_wsgi_new()'s data: takes the GIL. */
void tpy_wsgi_release(void *ud);

/* The turbo_handler serving every request of the WSGI app (ud). */
int tpy_wsgi_handler(turbo_request *req, turbo_response *res, void *ud);

#endif
