/*
 * turbo.Request: the HTTP request as a handler sees it. Its attributes are
 * read from the C request on first use and cached; when the handler
 * returns, the object is detached from the C request (whose memory is
 * about to be reused), copying first whatever Python code may still ask
 * for if something kept the object.
 *
 * Everything here runs with the GIL held (or the thread state attached).
 */
#ifndef TURBO_PY_REQUEST_H
#define TURBO_PY_REQUEST_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <turbo/turbo.h>

#include "response.h"

typedef struct tpy_RequestObject {
    PyObject_HEAD
    turbo_request *req; /* NULL once the handler returned */
    turbo_response *res; /* its response (a WebSocket's accept writes the 101) */
    PyObject *method, *path, *query_string, *headers, *body, *client, *query_params,
        *path_params;
    turbo_deferred *d; /* once its handler's coroutine (or stream()) deferred it */
    PyObject *reader;  /* request.stream()'s BodyReader (body.c), or NULL */
    PyObject *state;   /* _state: a FastAPI app's request.state (turbo/_request.py), or NULL */
} tpy_RequestObject;

extern PyTypeObject tpy_RequestType;
/* turbo._RequestView: the base of turbo/_request.py's StarletteRequest. */
extern PyTypeObject tpy_RequestViewType;

/* At import: readies the type. 0, or -1 with an error set. */
int tpy_request_init(void);
/* The package's case-insensitive header mapping (called with the list of
 * (name, value) pairs); set once at import. */
void tpy_request_set_hooks(PyObject *headers_factory);

/* Percent-decodes raw (and '+' as space when plus) into a str: UTF-8,
 * invalid sequences replaced. Scratch memory comes from the request
 * arena. A new reference, or NULL with an error set. */
PyObject *tpy_decode_component(turbo_request *req, turbo_str raw, int plus);

/* Copies every attribute into the object, for a Request that outlives its
 * handler; any pending exception is left as it was. */
void tpy_request_copy_all(tpy_RequestObject *self);

/* A Request for req, for the span of one handler call. Inline: the
 * trampoline makes one per request whose handler asks for it. */
static inline PyObject *tpy_request_new(turbo_request *req, turbo_response *res)
{
    tpy_RequestObject *r = PyObject_New(tpy_RequestObject, &tpy_RequestType);
    if (r == NULL)
        return NULL;
    r->req = req;
    r->res = res;
    r->method = r->path = r->query_string = r->headers = r->body = r->client = NULL;
    r->query_params = r->path_params = r->reader = r->state = NULL;
    r->d = NULL;
    return (PyObject *)r;
}

/* The handler returned result: its StreamingResponse's body may still
 * read the request's body (StreamingResponse(request.stream())), so the
 * request, deferred for the stream, keeps its handle. Call before the
 * result is written (the handler's own turbo_defer). */
static inline void tpy_request_keep_for_stream(tpy_RequestObject *self, PyObject *result)
{
    if (self->req != NULL && self->d == NULL && tpy_StreamingType != NULL &&
        PyObject_TypeCheck(result, tpy_StreamingType))
        self->d = turbo_defer(self->req, self->res);
}

/* The handler returned: if Python code kept the object, copy what it may
 * still ask for, since the C request is about to be reused. */
static inline void tpy_request_detach(tpy_RequestObject *self)
{
    if (Py_REFCNT(self) > 1)
        tpy_request_copy_all(self);
    self->req = NULL;
    self->res = NULL;
}

#endif
