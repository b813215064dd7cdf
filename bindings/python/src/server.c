/*
 * turbo._turbo.Server (server.h): a libturbo server as the package drives
 * it: configuration, listening (address, inherited fd, systemd socket
 * activation), routes, start/stop/run with SIGINT/SIGTERM, counters, the
 * FastAPI-style 404/405, and the "turbo.server" capsule shared with C
 * programs (turbo-serve, a C program mounting Python routes).
 *
 * Calls that may block release the GIL: listen resolves an address; route
 * changes, stop, run and free wait for the I/O threads, which may be
 * waiting for the GIL inside a handler.
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

#include <turbo/turbo.h>

#include "call.h"
#include "wsgi.h"

typedef struct {
    PyObject_HEAD
    turbo_server *srv;
    int owned; /* 0: wraps a server a C program created (mount) */
} ServerObject;

static turbo_server *volatile signal_target;

static void on_stop_signal(int sig)
{
    (void)sig;
    turbo_server *s = signal_target;
    if (s != NULL)
        turbo_server_stop(s);
}

static PyObject *raise_turbo(int rc, const char *what)
{
    PyObject *type = PyExc_RuntimeError;
    switch (rc) {
    case TURBO_EINVAL:
    case TURBO_EPATTERN:
    case TURBO_EEXIST:
    case TURBO_ERANGE: type = PyExc_ValueError; break;
    case TURBO_ENOENT: type = PyExc_LookupError; break;
    case TURBO_ENOMEM: return PyErr_NoMemory();
    case TURBO_ESYS:
    case TURBO_EADDR: type = PyExc_OSError; break;
    default: break;
    }
    PyErr_Format(type, "%s: %s", what, turbo_strerror(rc));
    return NULL;
}

static int Server_init(ServerObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"threads",          "server_name",       "max_body_bytes",
                             "max_header_bytes", "header_timeout_ms", "idle_timeout_ms",
                             "exclusive_port",   "blocking_threads",  "blocking_queue",
                             "deferred_timeout_ms", "stop_grace_ms", "access_log_fd",
                             "proxy_protocol", "forwarded_allow_ips", "forwarded_header",
                             "health_path", "metrics_path", NULL};
    unsigned threads = 0;
    PyObject *name = Py_None;
    unsigned long long max_body = 1048576, max_header = 16384;
    unsigned header_ms = 10000, idle_ms = 60000;
    int exclusive = 0;
    unsigned blocking_threads = 16, blocking_queue = 1024, deferred_ms = 30000, grace_ms = 10000;
    int access_log_fd = -1;
    int proxy_protocol = 0, forwarded_header = TURBO_FORWARDED_X_FORWARDED_FOR;
    const char *forwarded_allow = NULL, *health_path = NULL, *metrics_path = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|IOKKIIpIIIIipzizz", kwlist, &threads, &name,
                                     &max_body, &max_header, &header_ms, &idle_ms, &exclusive,
                                     &blocking_threads, &blocking_queue, &deferred_ms, &grace_ms,
                                     &access_log_fd, &proxy_protocol, &forwarded_allow,
                                     &forwarded_header, &health_path, &metrics_path))
        return -1;
    turbo_config *cfg = turbo_config_new();
    if (cfg == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int rc = turbo_config_set_threads(cfg, threads);
    if (rc == TURBO_OK && name != Py_None) {
        const char *n = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        rc = n != NULL ? turbo_config_set_server_name(cfg, n) : TURBO_EINVAL;
    }
    if (rc == TURBO_OK)
        rc = turbo_config_set_max_body_bytes(cfg, max_body);
    if (rc == TURBO_OK)
        rc = turbo_config_set_max_header_bytes(cfg, (size_t)max_header);
    if (rc == TURBO_OK)
        rc = turbo_config_set_header_timeout_ms(cfg, header_ms);
    if (rc == TURBO_OK)
        rc = turbo_config_set_idle_timeout_ms(cfg, idle_ms);
    if (rc == TURBO_OK)
        rc = turbo_config_set_exclusive_port(cfg, exclusive);
    if (rc == TURBO_OK)
        rc = turbo_config_set_blocking_threads(cfg, blocking_threads);
    if (rc == TURBO_OK)
        rc = turbo_config_set_blocking_queue(cfg, blocking_queue);
    if (rc == TURBO_OK)
        rc = turbo_config_set_deferred_timeout_ms(cfg, deferred_ms);
    if (rc == TURBO_OK)
        rc = turbo_config_set_stop_grace_ms(cfg, grace_ms);
    if (rc == TURBO_OK)
        rc = turbo_config_set_access_log(cfg, access_log_fd);
    if (rc == TURBO_OK)
        rc = turbo_config_set_proxy_protocol(cfg, proxy_protocol);
    if (rc == TURBO_OK)
        rc = turbo_config_set_health_path(cfg, health_path);
    if (rc == TURBO_OK)
        rc = turbo_config_set_metrics_path(cfg, metrics_path);
    if (rc == TURBO_OK && forwarded_allow != NULL) {
        rc = turbo_config_set_forwarded(cfg, forwarded_allow, forwarded_header);
        if (rc != TURBO_OK) {
            turbo_config_free(cfg);
            PyErr_Format(PyExc_ValueError,
                         "forwarded_allow_ips must be a comma-separated list of at most 32 IP "
                         "addresses, networks (10.0.0.0/8) or *, not '%s'",
                         forwarded_allow);
            return -1;
        }
    }
    if (rc != TURBO_OK) {
        turbo_config_free(cfg);
        if (!PyErr_Occurred())
            raise_turbo(rc, "invalid server configuration");
        return -1;
    }
    self->srv = turbo_server_new(cfg);
    self->owned = 1;
    turbo_config_free(cfg);
    if (self->srv == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Frees the server this object owns, if any; the object then has none. */
static void server_release(ServerObject *self)
{
    turbo_server *s = self->owned ? self->srv : NULL;
    self->srv = NULL;
    if (s != NULL) {
        /* Joining threads and releasing endpoints both need the GIL
         * free for other threads. */
        Py_BEGIN_ALLOW_THREADS turbo_server_free(s);
        Py_END_ALLOW_THREADS
    }
}

static void Server_dealloc(ServerObject *self)
{
    server_release(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

#define NEED_SERVER(self) \
    do { \
        if ((self)->srv == NULL) { \
            PyErr_SetString(PyExc_RuntimeError, "server is closed"); \
            return NULL; \
        } \
    } while (0)

static PyObject *Server_listen(ServerObject *self, PyObject *args)
{
    const char *host;
    int port;
    if (!PyArg_ParseTuple(args, "zi", &host, &port))
        return NULL;
    NEED_SERVER(self);
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = turbo_server_listen(self->srv, host, port);
    Py_END_ALLOW_THREADS
    if (rc != TURBO_OK) {
        if (rc == TURBO_EADDR && errno != 0)
            return PyErr_SetFromErrno(PyExc_OSError);
        return raise_turbo(rc, "cannot listen");
    }
    Py_RETURN_NONE;
}

/* turbo_server_listen_fd()'s errno, in words. */
static const char *fd_problem(int err)
{
    switch (err) {
    case EBADF: return "not an open file descriptor";
    case ENOTSOCK: return "not a socket";
    case EINVAL: return "not a listening socket";
    case EPROTOTYPE: return "not a stream socket";
    default: return strerror(err);
    }
}

/* listen_fd(fd) and adopt_fd(fd): turbo_server_listen_fd/_adopt_fd. */
static PyObject *serve_fd(ServerObject *self, PyObject *args, int adopt)
{
    int fd;
    if (!PyArg_ParseTuple(args, "i", &fd))
        return NULL;
    NEED_SERVER(self);
    int rc = adopt ? turbo_server_adopt_fd(self->srv, fd) : turbo_server_listen_fd(self->srv, fd);
    if (rc == TURBO_EINVAL && fd >= 0) {
        int err = errno;
        PyErr_Format(PyExc_ValueError, "fd %d: %s", fd, fd_problem(err));
        return NULL;
    }
    if (rc != TURBO_OK)
        return raise_turbo(rc, "cannot serve on that fd");
    Py_RETURN_NONE;
}

static PyObject *Server_listen_fd(ServerObject *self, PyObject *args)
{
    return serve_fd(self, args, 0);
}

static PyObject *Server_adopt_fd(ServerObject *self, PyObject *args)
{
    return serve_fd(self, args, 1);
}

/* systemd socket activation: True when serving the socket passed as fd 3,
 * False when none was passed to this process. */
static PyObject *Server_listen_activated(ServerObject *self, PyObject *unused)
{
    (void)unused;
    NEED_SERVER(self);
    int rc = turbo_server_listen_activated(self->srv);
    if (rc >= 0)
        return PyBool_FromLong(rc);
    int err = errno;
    if (rc != TURBO_EINVAL)
        return raise_turbo(rc, "socket activation");
    if (err == EDOM)
        PyErr_SetString(PyExc_ValueError, "socket activation: LISTEN_FDS is not a number");
    else if (err == E2BIG)
        PyErr_SetString(PyExc_ValueError,
                        "socket activation: LISTEN_FDS is above 1; one socket is served");
    else
        PyErr_Format(PyExc_ValueError, "socket activation: fd 3: %s", fd_problem(err));
    return NULL;
}

static PyObject *Server_add_route(ServerObject *self, PyObject *args)
{
    const char *method, *pattern;
    PyObject *func, *plan, *loops = Py_None;
    int flags = 0; /* 1: blocking (True); 2: its body streams (request.stream());
                    * 4: str/bytes results are JSON strings (TPY_EP_JSON_STRINGS);
                    * 16: a refused path/query value goes to func._turbo_on_invalid
                    * (TPY_EP_ON_INVALID) */
    if (!PyArg_ParseTuple(args, "ssOO!|iO", &method, &pattern, &func, &PyTuple_Type, &plan,
                          &flags, &loops))
        return NULL;
    int blocking = (flags & 1) != 0;
    NEED_SERVER(self);
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "endpoint must be callable");
        return NULL;
    }
    tpy_endpoint *ep = tpy_endpoint_new(func, plan, loops, flags);
    if (ep == NULL)
        return NULL;
    int rc;
    /* The GIL is dropped: a writer may wait for I/O threads, which may
     * be waiting for the GIL inside a handler. */
    Py_BEGIN_ALLOW_THREADS rc =
        turbo_route_add_opts(self->srv, method, pattern, tpy_trampoline, ep, tpy_endpoint_release,
                             (blocking ? TURBO_ROUTE_BLOCKING : 0) |
                                 ((flags & 2) ? TURBO_ROUTE_STREAM_BODY : 0));
    Py_END_ALLOW_THREADS
    if (rc != TURBO_OK) {
        if (rc == TURBO_EEXIST)
            return PyErr_Format(PyExc_ValueError, "route already exists: %s %s", method, pattern);
        if (rc == TURBO_EPATTERN)
            return PyErr_Format(PyExc_ValueError, "malformed route pattern: %s", pattern);
        if (rc == TURBO_EINVAL)
            return PyErr_Format(PyExc_ValueError, "invalid method: %s", method);
        return raise_turbo(rc, "cannot add route");
    }
    Py_RETURN_NONE;
}

/* Every request no route takes goes to func (a plan as for add_route),
 * as a handler of its own: the ASGI adapter. */
static PyObject *Server_set_fallback(ServerObject *self, PyObject *args)
{
    PyObject *func, *plan, *loops = Py_None;
    int flags = 0; /* as add_route's: 1 blocking, 2 its bodies stream; 8: the
                    * router's 404/405 and Allow readable by _turbo._miss() */
    if (!PyArg_ParseTuple(args, "OO!|iO", &func, &PyTuple_Type, &plan, &flags, &loops))
        return NULL;
    int blocking = (flags & 1) != 0;
    NEED_SERVER(self);
    if (!PyCallable_Check(func)) {
        PyErr_SetString(PyExc_TypeError, "fallback must be callable");
        return NULL;
    }
    tpy_endpoint *ep = tpy_endpoint_new(func, plan, loops, flags);
    if (ep == NULL)
        return NULL;
    int rc = turbo_server_set_fallback_opts(self->srv,
                                            (flags & 8) ? tpy_miss_trampoline
                                                        : tpy_fallback_trampoline,
                                            ep,
                                            tpy_endpoint_release,
                                            (blocking ? TURBO_ROUTE_BLOCKING : 0) |
                                                ((flags & 2) ? TURBO_ROUTE_STREAM_BODY : 0));
    if (rc != TURBO_OK) {
        tpy_endpoint_release(ep);
        return raise_turbo(rc, "cannot set the fallback");
    }
    Py_RETURN_NONE;
}

/* Every request no route takes goes to a WSGI application (wsgi.h). */
static PyObject *Server_set_wsgi(ServerObject *self, PyObject *args)
{
    PyObject *app, *base, *root_path, *default_port;
    int blocking = 0;
    if (!PyArg_ParseTuple(args, "OO!UU|p", &app, &PyDict_Type, &base, &root_path, &default_port,
                          &blocking))
        return NULL;
    NEED_SERVER(self);
    void *w = tpy_wsgi_new(app, base, root_path, default_port);
    if (w == NULL)
        return NULL;
    int rc = turbo_server_set_fallback_opts(self->srv, tpy_wsgi_handler, w, tpy_wsgi_release,
                                            blocking ? TURBO_ROUTE_BLOCKING : 0);
    if (rc != TURBO_OK) {
        tpy_wsgi_release(w);
        return raise_turbo(rc, "cannot serve the WSGI application");
    }
    Py_RETURN_NONE;
}

static PyObject *Server_remove_route(ServerObject *self, PyObject *args)
{
    const char *method, *pattern;
    if (!PyArg_ParseTuple(args, "ss", &method, &pattern))
        return NULL;
    NEED_SERVER(self);
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = turbo_route_remove(self->srv, method, pattern);
    Py_END_ALLOW_THREADS
    if (rc == TURBO_ENOENT)
        return PyErr_Format(PyExc_LookupError, "no route %s %s", method, pattern);
    if (rc != TURBO_OK)
        return raise_turbo(rc, "cannot remove route");
    Py_RETURN_NONE;
}

static PyObject *Server_start(ServerObject *self, PyObject *unused)
{
    (void)unused;
    NEED_SERVER(self);
    int rc = turbo_server_start(self->srv);
    if (rc != TURBO_OK)
        return raise_turbo(rc, "cannot start");
    Py_RETURN_NONE;
}

static PyObject *Server_stop(ServerObject *self, PyObject *unused)
{
    (void)unused;
    NEED_SERVER(self);
    Py_BEGIN_ALLOW_THREADS turbo_server_stop(self->srv);
    turbo_server_wait(self->srv);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

/* Serves until stop() from another thread or, with handle_signals,
 * SIGINT/SIGTERM (C handlers calling turbo_server_stop: the interpreter's
 * own would only run once this returns). The GIL is released throughout. */
static PyObject *Server_run(ServerObject *self, PyObject *args)
{
    int main_thread = 0;
    PyObject *ready = Py_None;
    if (!PyArg_ParseTuple(args, "|pO", &main_thread, &ready))
        return NULL;
    NEED_SERVER(self);
    struct sigaction sa, old_int, old_term;
    if (main_thread) {
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_stop_signal;
        sigemptyset(&sa.sa_mask);
        signal_target = self->srv;
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }
    /* ready(): the "serving" line, once a SIGTERM would stop gracefully. */
    if (ready != Py_None) {
        PyObject *r = PyObject_CallNoArgs(ready);
        if (r == NULL) {
            if (main_thread) {
                sigaction(SIGINT, &old_int, NULL);
                sigaction(SIGTERM, &old_term, NULL);
                signal_target = NULL;
            }
            return NULL;
        }
        Py_DECREF(r);
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS rc = turbo_server_run(self->srv);
    Py_END_ALLOW_THREADS
    if (main_thread) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
        signal_target = NULL;
    }
    if (rc != TURBO_OK)
        return raise_turbo(rc, "cannot run");
    Py_RETURN_NONE;
}

static PyObject *Server_port(ServerObject *self, void *c)
{
    (void)c;
    NEED_SERVER(self);
    return PyLong_FromLong(turbo_server_port(self->srv));
}

static PyObject *Server_threads(ServerObject *self, void *c)
{
    (void)c;
    NEED_SERVER(self);
    return PyLong_FromUnsignedLong(turbo_server_threads(self->srv));
}

static PyObject *Server_stats(ServerObject *self, PyObject *unused)
{
    (void)unused;
    NEED_SERVER(self);
    turbo_server *s = self->srv;
    return Py_BuildValue("{sKsKsKsKsKsKsKsK}", "connections_accepted",
                         (unsigned long long)turbo_server_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED),
                         "connections_open",
                         (unsigned long long)turbo_server_stat(s, TURBO_STAT_CONNECTIONS_OPEN),
                         "requests", (unsigned long long)turbo_server_stat(s, TURBO_STAT_REQUESTS),
                         "bad_requests",
                         (unsigned long long)turbo_server_stat(s, TURBO_STAT_BAD_REQUESTS),
                         "handler_errors",
                         (unsigned long long)turbo_server_stat(s, TURBO_STAT_HANDLER_ERRORS),
                         "connections_refused",
                         (unsigned long long)turbo_server_stat(s, TURBO_STAT_CONNECTIONS_REFUSED),
                         "timeouts", (unsigned long long)turbo_server_stat(s, TURBO_STAT_TIMEOUTS),
                         "writes", (unsigned long long)turbo_server_stat(s, TURBO_STAT_WRITES));
}

/* A Server around a turbo_server a C program created (capsule
 * "turbo.server"): routes can be added to it; it is never freed here. */
static PyObject *Server_from_capsule(PyTypeObject *type, PyObject *capsule)
{
    turbo_server *s = PyCapsule_GetPointer(capsule, "turbo.server");
    if (s == NULL)
        return NULL;
    ServerObject *self = (ServerObject *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->srv = s;
    self->owned = 0;
    return (PyObject *)self;
}

/* FastAPI's answers for a path no route serves: JSON {"detail": reason},
 * with the Allow header the library set for a 405. Written in C on the
 * I/O thread: no Python, no GIL. */
static int json_error_fallback(turbo_request *req, turbo_response *res, void *unused)
{
    (void)req;
    (void)unused;
    static const char not_found[] = "{\"detail\":\"Not Found\"}";
    static const char not_allowed[] = "{\"detail\":\"Method Not Allowed\"}";
    int rc = turbo_response_header(res, "Content-Type", 12, "application/json", 16);
    if (rc != TURBO_OK)
        return rc;
    if (turbo_response_status_code(res) == 405)
        return turbo_response_body_ref(res, not_allowed, sizeof(not_allowed) - 1, NULL, NULL);
    return turbo_response_body_ref(res, not_found, sizeof(not_found) - 1, NULL, NULL);
}

static PyObject *Server_use_json_errors(ServerObject *self, PyObject *unused)
{
    (void)unused;
    NEED_SERVER(self);
    int rc = turbo_server_set_fallback(self->srv, json_error_fallback, NULL);
    if (rc != TURBO_OK)
        return raise_turbo(rc, "cannot set the 404/405 answers");
    Py_RETURN_NONE;
}

/* Frees the server now (stopping it if it runs), closing its listening
 * sockets: a parent that forked workers must not keep them. */
static PyObject *Server_close(ServerObject *self, PyObject *unused)
{
    (void)unused;
    server_release(self);
    Py_RETURN_NONE;
}

/* Hands the turbo_server to a C program (turbo-serve) as a "turbo.server"
 * capsule: this object no longer frees it, the program does. */
static PyObject *Server_detach(ServerObject *self, PyObject *unused)
{
    (void)unused;
    if (self->srv == NULL || !self->owned) {
        PyErr_SetString(PyExc_ValueError, "this Server does not own a turbo_server to detach");
        return NULL;
    }
    PyObject *capsule = PyCapsule_New(self->srv, "turbo.server", NULL);
    if (capsule != NULL) { /* the C program owns it now: no use from here */
        self->owned = 0;
        self->srv = NULL;
    }
    return capsule;
}

static PyMethodDef Server_methods[] = {
    {"close", (PyCFunction)Server_close, METH_NOARGS,
     "free the server now (stops it; closes its listening sockets)"},
    {"use_json_errors", (PyCFunction)Server_use_json_errors, METH_NOARGS,
     "answer 404 and 405 as FastAPI does: JSON {\"detail\": reason}"},
    {"detach", (PyCFunction)Server_detach, METH_NOARGS,
     "detach() -> capsule: the C program that takes it frees the server"},
    {"listen", (PyCFunction)Server_listen, METH_VARARGS, "listen(host, port)"},
    {"listen_fd", (PyCFunction)Server_listen_fd, METH_VARARGS,
     "listen_fd(fd): serve an inherited listening socket, left open"},
    {"adopt_fd", (PyCFunction)Server_adopt_fd, METH_VARARGS,
     "adopt_fd(fd): serve an inherited listening socket, drained and closed at stop"},
    {"listen_activated", (PyCFunction)Server_listen_activated, METH_NOARGS,
     "listen_activated() -> bool: serve the socket systemd passed, if any"},
    {"add_route", (PyCFunction)Server_add_route, METH_VARARGS,
     "add_route(method, pattern, func, plan, flags=0, loops=None): flags 1 blocking, 2 stream_body, "
     "4 str/bytes results as JSON strings"},
    {"remove_route", (PyCFunction)Server_remove_route, METH_VARARGS,
     "remove_route(method, pattern)"},
    {"set_fallback", (PyCFunction)Server_set_fallback, METH_VARARGS,
     "set_fallback(func, plan, flags=0, loops=None): every request no route takes "
     "(flags as add_route's; 8: _turbo._miss() gives the router's (status, Allow))"},
    {"set_wsgi", (PyCFunction)Server_set_wsgi, METH_VARARGS,
     "set_wsgi(app, base_environ, root_path, default_port, blocking=False): every request no "
     "route takes goes to a WSGI application"},
    {"start", (PyCFunction)Server_start, METH_NOARGS, "start I/O threads and return"},
    {"stop", (PyCFunction)Server_stop, METH_NOARGS, "stop gracefully and wait"},
    {"run", (PyCFunction)Server_run, METH_VARARGS,
     "run(handle_signals=False, ready=None): serve until stopped; ready() is called once the "
     "signal handlers are in place"},
    {"stats", (PyCFunction)Server_stats, METH_NOARGS, "server counters"},
    {"from_capsule", (PyCFunction)Server_from_capsule, METH_O | METH_CLASS,
     "wrap a C program's turbo_server"},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Server_getset[] = {
    {"port", (getter)Server_port, NULL, "bound port", NULL},
    {"threads", (getter)Server_threads, NULL, "I/O threads", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

PyTypeObject tpy_ServerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "turbo._turbo.Server",
    .tp_basicsize = sizeof(ServerObject),
    .tp_dealloc = (destructor)Server_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A libturbo server.",
    .tp_methods = Server_methods,
    .tp_getset = Server_getset,
    .tp_init = (initproc)Server_init,
    .tp_new = PyType_GenericNew,
};
