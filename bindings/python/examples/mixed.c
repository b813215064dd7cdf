/*
 * One libturbo server answering C routes and a Python module's routes.
 *
 *   turbo-mixed MODULE:APP PORT
 *
 * GET /c/health is a C handler; every route of the Python App is mounted
 * beside it (turbo.mount). Python runs only inside the Python handlers;
 * the C handler never touches the GIL. SIGINT/SIGTERM stop it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbo/turbo.h>

static turbo_server *server;

static int health(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    turbo_response_header(res, "Content-Type", 12, "text/plain", 10);
    return turbo_response_body(res, "ok from C\n", 10);
}

static void on_signal(int sig)
{
    (void)sig;
    turbo_server_stop(server);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODULE:APP PORT\n", argv[0]);
        return 2;
    }
    server = turbo_server_new(NULL);
    if (server == NULL || turbo_server_listen(server, "127.0.0.1", atoi(argv[2])) != TURBO_OK ||
        turbo_route_add(server, "GET", "/c/health", health, NULL) != TURBO_OK)
        return 1;

    Py_Initialize();
    PyObject *loader = PyImport_ImportModule("turbo.__main__");
    PyObject *turbo = loader != NULL ? PyImport_ImportModule("turbo") : NULL;
    PyObject *app = turbo != NULL ? PyObject_CallMethod(loader, "load_app", "s", argv[1]) : NULL;
    PyObject *cap = app != NULL ? PyCapsule_New(server, "turbo.server", NULL) : NULL;
    PyObject *ok = cap != NULL ? PyObject_CallMethod(turbo, "mount", "OO", app, cap) : NULL;
    if (ok == NULL) {
        PyErr_Print();
        return 1;
    }
    Py_DECREF(ok);
    Py_DECREF(cap);
    Py_DECREF(app);
    Py_DECREF(turbo);
    Py_DECREF(loader);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("serving on http://127.0.0.1:%d/\n", turbo_server_port(server));
    fflush(stdout);

    PyThreadState *main_state = PyEval_SaveThread(); /* handlers take the GIL */
    int rc = turbo_server_run(server);
    turbo_server_free(server); /* releases the Python routes: needs the GIL free */
    PyEval_RestoreThread(main_state);
    Py_Finalize();
    return rc == TURBO_OK ? 0 : 1;
}
