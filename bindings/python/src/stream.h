/*
 * Streamed responses and WebSockets for Python (stream.c): the C side of
 * turbo.StreamingResponse (a Stream object its driver writes through) and
 * of turbo.WebSocket (a WebSocketConn over libturbo's turbo_ws).
 */
#ifndef TURBO_PY_STREAM_H
#define TURBO_PY_STREAM_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <turbo/turbo.h>

extern PyTypeObject tpy_StreamType, tpy_WSConnType;

/* At import: readies the types and the upgrade marker. */
int tpy_stream_init(void);

/* _turbo._set_stream_hooks(StreamingResponse, start): the class, and the
 * package's function that starts a driver for (stream, response). */
PyObject *tpy_stream_set_hooks(PyObject *mod, PyObject *args);

/* A StreamingResponse returned from a handler that has not deferred: defers
 * req, then as tpy_stream_begin. Returns what the handler returns to
 * libturbo (TURBO_DEFER, or TURBO_OK with a 500 in res). */
int tpy_stream_inline(PyObject *loops, turbo_request *req, turbo_response *res,
                      PyObject *response);
/* The head of response (status, headers) into d's response, then a Stream
 * for d and its driver, which finishes d. 0, or -1 with an error set (d
 * is then still the caller's). */
int tpy_stream_begin(turbo_deferred *d, PyObject *response);

/* _turbo.ws_accept(request, owner, subprotocol, headers): accepts the
 * WebSocket handshake of request (deferred, on its I/O thread), returns a
 * WebSocketConn whose events go to owner's _on_message, _on_close and
 * _on_drain. */
PyObject *tpy_ws_accept(PyObject *mod, PyObject *const *args, Py_ssize_t nargs);

#endif
