/*
 * turbo-serve MODULE:APP [--host H] [--port P | --fd N] [--threads N] [--workers W]
 *
 * Serves a Python turbo App from C: embeds CPython, imports the app,
 * creates the libturbo server here and mounts the app's routes on it
 * (turbo.mount), then runs the server with the GIL released. There is no
 * Python-level loop: Python only runs inside handlers. A C program mixes
 * its own C routes with a Python module's routes the same way (see
 * docs/python.md).
 *
 * It binds --host/--port, or serves on an inherited listening socket:
 * --fd N, or systemd socket activation (turbo_server_listen_activated).
 * The command line is shared with turbo-hello (tools/serve_cli.c). With
 * --workers the processes forked after the bind (or after adopting the
 * inherited socket) all accept from the same socket(s).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "serve_cli.h"

static turbo_server *server;
static pid_t *children;
static int nchildren;
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
    if (children != NULL) { /* the parent of workers forwards the stop */
        for (int i = 0; i < nchildren; i++)
            if (children[i] > 0)
                kill(children[i], SIGTERM);
    } else if (server != NULL) {
        turbo_server_stop(server);
    }
}

static void usage(FILE *out)
{
    fputs("usage: turbo-serve MODULE:APP [--host HOST] [--port PORT] [--threads N]\n"
          "                              [--workers N]\n"
          "       turbo-serve MODULE:APP --fd N [--threads N] [--workers N]\n"
          "\n"
          "Serves the turbo App object APP of the Python module MODULE (imported with the\n"
          "current directory on sys.path, as python -m turbo does) until SIGINT or\n"
          "SIGTERM, which stop accepting, finish the requests in flight and exit 0.\n"
          "\n"
          "Options (--name VALUE or --name=VALUE):\n"
          "  --host HOST    address to bind (default 127.0.0.1)\n"
          "  --port PORT    port to bind, 0 for any free one (default 8000)\n"
          "  --fd N         serve on the inherited listening socket N instead of binding;\n"
          "                 not with --host or --port (default: none)\n"
          "  --threads N    I/O threads per worker, 0 for one per CPU (default 1: with a\n"
          "                 GIL more threads only hand it back and forth)\n"
          "  --workers N    processes forked after binding, all accepting from the same\n"
          "                 sockets, 1 to 1024 (default 1)\n"
          "  --help         show this text and exit\n"
          "\n"
          "Environment:\n"
          "  LISTEN_PID, LISTEN_FDS  systemd socket activation: when LISTEN_PID is this\n"
          "                 process's PID and LISTEN_FDS is 1, serves on fd 3 (--host and\n"
          "                 --port are ignored; --fd wins). LISTEN_FDS above 1 is an error.\n"
          "                 LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are then removed\n"
          "                 from the environment (the app and the workers do not see them).\n"
          "  PYTHONPATH     where MODULE and the turbo package are found\n"
          "\n"
          "Exit status:\n"
          "  0  stopped by SIGINT or SIGTERM\n"
          "  1  the server failed (cannot bind, cannot mount the app, a worker died)\n"
          "  2  usage error: bad option or value, missing or malformed MODULE:APP, an app\n"
          "     that cannot be loaded, an inherited fd that is not a listening socket,\n"
          "     LISTEN_FDS above 1\n",
          out);
}

static void on_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Forks workers that serve; waits for them. A worker that dies on its own
 * is not replaced: the others are stopped and the exit status is 1. */
static int run_workers(int workers)
{
    children = calloc((size_t)workers, sizeof(pid_t));
    if (children == NULL)
        return 1;
    /* A stop signal that came in the middle of the forks would reach
     * only the workers forked so far. Hold the signals until the list of
     * children is complete (the parent) or cleared (a worker). */
    sigset_t stop_sigs, old_mask;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop_sigs, &old_mask);
    PyOS_BeforeFork();
    for (int i = 0; i < workers; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            PyOS_AfterFork_Child();
            free(children);
            children = NULL;
            sigprocmask(SIG_SETMASK, &old_mask, NULL);
            PyThreadState *ts = PyEval_SaveThread();
            int rc = turbo_server_run(server);
            turbo_server_free(server);
            PyEval_RestoreThread(ts);
            _exit(rc == TURBO_OK ? 0 : 1);
        }
        if (pid < 0) {
            perror("turbo-serve: fork");
            break;
        }
        children[nchildren++] = pid;
    }
    PyOS_AfterFork_Parent();
    /* The parent never serves. Its copies of the listening sockets would
     * keep them in the port's SO_REUSEPORT group after the workers stopped
     * accepting, and the kernel would go on queueing connections there, to
     * be reset: so the server (and its sockets) go now. Stop signals are
     * still held: on_signal() reads `server` only without children. */
    PyThreadState *ts = PyEval_SaveThread();
    turbo_server_free(server); /* releases the routes: takes the GIL */
    PyEval_RestoreThread(ts);
    server = NULL;
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    int failed = nchildren < workers;
    if (failed)
        on_signal(SIGTERM);
    int left = nchildren;
    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < nchildren; i++) {
            if (children[i] != pid)
                continue;
            children[i] = 0;
            left--;
            if (!stopping) {
                fprintf(stderr, "turbo-serve: worker %d exited (status %d); stopping the others\n",
                        (int)pid, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
                failed = 1;
                on_signal(SIGTERM);
            }
        }
    }
    free(children);
    children = NULL;
    return failed ? 1 : 0;
}

/* Leaves after Python started: the server (if any) freed with the GIL
 * released (its Python routes take it), then the interpreter finalized. */
static int give_up(int status)
{
    if (server != NULL) {
        PyThreadState *ts = PyEval_SaveThread();
        turbo_server_free(server);
        PyEval_RestoreThread(ts);
        server = NULL;
    }
    Py_Finalize();
    return status;
}

int main(int argc, char **argv)
{
    serve_cli cli = {.prog = "turbo-serve", .usage = usage, .with_workers = 1,
                     .with_positional = 1, .threads = 1};
    serve_cli_parse(&cli, argc, argv);
    const char *spec = cli.positional;
    if (spec == NULL)
        serve_cli_fail(&cli, "missing the MODULE:APP argument (usage: turbo-serve MODULE:APP "
                             "[OPTIONS]; see --help)");
    const char *colon = strchr(spec, ':');
    if (colon == NULL || colon == spec || colon[1] == '\0' || strchr(colon + 1, ':') != NULL)
        serve_cli_fail(&cli, "'%s' is not MODULE:APP (a module and an attribute, e.g. myapp:app)",
                       spec);

    long workers = cli.workers;
    Py_Initialize();
    /* MODULE:APP is loaded as `python -m turbo` loads it (the current
     * directory importable). */
    PyObject *main_mod = PyImport_ImportModule("turbo.__main__");
    PyObject *turbo = main_mod != NULL ? PyImport_ImportModule("turbo") : NULL;
    PyObject *app = turbo != NULL ? PyObject_CallMethod(main_mod, "load_app", "s", spec) : NULL;
    if (app == NULL) {
        PyErr_Print();
        fprintf(stderr, "turbo-serve: cannot load %s\n", spec);
        Py_Finalize();
        return 2;
    }
    /* The server as the App configures it (server_name, limits: one place,
     * the binding's), taken over from Python: this program frees it. */
    PyObject *pyserver = PyObject_CallMethod(app, "_make_server", "l", cli.threads);
    PyObject *capsule = pyserver != NULL ? PyObject_CallMethod(pyserver, "detach", NULL) : NULL;
    server = capsule != NULL ? PyCapsule_GetPointer(capsule, "turbo.server") : NULL;
    Py_XDECREF(pyserver);
    if (server == NULL) {
        PyErr_Print();
        fprintf(stderr, "turbo-serve: cannot configure a server for %s\n", spec);
        return give_up(2);
    }
    /* What the app printed while imported goes out before any message of
     * serve_cli_listen(), which exits at once on a bad fd. */
    PyRun_SimpleString("import sys\nsys.stdout.flush()\nsys.stderr.flush()\n");
    char where[512];
    if (serve_cli_listen(&cli, server, where, sizeof(where)) != 0)
        return give_up(1);
    /* Socket activation's variables were read and removed; os.environ,
     * copied at start-up, must not hand them to the app's subprocesses. */
    if (PyRun_SimpleString("import os\n"
                           "for k in ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES'):\n"
                           "    os.environ.pop(k, None)\n") != 0)
        return give_up(1);
    PyObject *r = PyObject_CallMethod(turbo, "mount", "OO", app, capsule);
    if (r == NULL) {
        PyErr_Print();
        fprintf(stderr, "turbo-serve: cannot mount %s\n", spec);
        return give_up(1);
    }
    Py_DECREF(r);
    Py_DECREF(capsule);
    Py_DECREF(app);
    Py_DECREF(turbo);
    Py_DECREF(main_mod);

    printf("turbo-serve: serving %s on %s (%ld worker(s), %u I/O thread(s) each)\n", spec, where,
           workers, turbo_server_threads(server));
    fflush(stdout);
    on_stop_signals();

    int status;
    if (workers > 1) {
        /* The workers inherit the listening socket(s): bound ones or the
         * inherited fd alike, they all accept from them. */
        status = run_workers((int)workers); /* frees the server in the parent */
    } else {
        /* The GIL goes to the I/O threads' handlers; free() releases the
         * Python routes, which takes it again, so it stays released. */
        PyThreadState *ts = PyEval_SaveThread();
        int rc = turbo_server_run(server);
        turbo_server_free(server);
        PyEval_RestoreThread(ts);
        status = rc == TURBO_OK ? 0 : 1;
    }
    server = NULL;
    if (Py_FinalizeEx() < 0 && status == 0)
        status = 1;
    return status;
}
