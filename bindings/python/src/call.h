/*
 * Calling a Python endpoint for a request: the plan made once when the
 * route is added, and the trampoline libturbo calls for every request
 * (call.c). The trampoline runs inline on the I/O thread that parsed the
 * request and keeps one Python thread state per I/O thread.
 */
#ifndef TURBO_PY_CALL_H
#define TURBO_PY_CALL_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <turbo/turbo.h>

/* Where a parameter comes from, and what it converts to: the package's
 * plan uses these numbers (the module exports them by name). */
enum { TPY_SRC_PATH = 0, TPY_SRC_QUERY = 1, TPY_SRC_REQUEST = 2 };
enum { TPY_CONV_STR = 0, TPY_CONV_INT = 1, TPY_CONV_FLOAT = 2, TPY_CONV_BOOL = 3,
       TPY_CONV_BYTES = 4 };

/* A route's function and its parameter plan; the route's user_data. */
typedef struct tpy_endpoint tpy_endpoint;

/* At import: the key whose destructor frees an I/O thread's Python thread
 * state when the thread exits. 0, or -1 with an error set. */
int tpy_call_init(void);

/* tpy_endpoint_new's flags, as the Python add_route's: */
#define TPY_EP_BLOCKING 1     /* on the blocking pool, where a coroutine is not run (a 500) */
#define TPY_EP_JSON_STRINGS 4 /* a str or bytes result is a JSON string (turbo.FastAPI) */
/* A path or query value refused (a 422) is handed to func._turbo_on_invalid
 * (request, errors), whose result is the answer: an App's handlers and
 * middleware (turbo/_handlers.py). The plan must take the Request. */
#define TPY_EP_ON_INVALID 16

/* plan: tuple of (name: str, source: int, conv: int, default or a missing
 * marker, has_default: bool, kwonly: bool), in signature order. loops:
 * the App's provider of asyncio loops for coroutine handlers (aio.h), or
 * None. flags: TPY_EP_*. A new endpoint holding func, or NULL with an
 * error set. GIL held. */
tpy_endpoint *tpy_endpoint_new(PyObject *func, PyObject *plan, PyObject *loops, int flags);

/* libturbo's release callback (turbo_release_fn): runs once no thread can
 * call the route, on whatever thread reclaims it, so it takes the GIL
 * itself. */
void tpy_endpoint_release(void *ud);

/* The turbo_handler of every Python route (ud: its tpy_endpoint). Takes
 * the GIL for the call and the conversion of its result only; returns
 * TURBO_OK, with a 422 or 500 written when the call failed, or
 * TURBO_DEFER for a coroutine that suspended (aio.h). */
int tpy_trampoline(turbo_request *req, turbo_response *res, void *ud);

/* The trampoline of a fallback (an App serving every path, as the ASGI
 * adapter does): the router's 404/405 status and Allow header are
 * dropped first. */
int tpy_miss_trampoline(turbo_request *req, turbo_response *res, void *ud);
PyObject *tpy_miss(void);
int tpy_fallback_trampoline(turbo_request *req, turbo_response *res, void *ud);

/* Takes this thread's own Python state (made at its first request) and
 * the GIL; PyEval_SaveThread() gives them back. For C handlers of the
 * package other than the trampoline (wsgi.c). */
void tpy_thread_enter(void);

/* Bracket calls into Python that must run in the thread's clean context
 * (see call.c), so that what they set in contextvars is not seen by the
 * next request: an app, then its iterable and close(). Enter: 0, or -1
 * with an error set. Leave drops the context if it now holds values. */
int tpy_in_clean_context(void);
void tpy_leave_clean_context(void);

/* Attach and detach the calling I/O thread's own Python state (made at
 * its first request): for libevent callbacks of that thread (aio.c). */
void tpy_thread_attach(void);
void tpy_thread_detach(void);

#endif
