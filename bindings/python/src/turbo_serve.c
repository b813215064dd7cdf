/*
 * turbo-serve MODULE:APP [--host H] [--port P] [--threads N] [--workers W]
 *
 * Serves a Python turbo App from C: embeds CPython, imports the app,
 * creates the libturbo server here and mounts the app's routes on it
 * (turbo.mount), then runs the server with the GIL released. There is no
 * Python-level loop: Python only runs inside handlers. A C program mixes
 * its own C routes with a Python module's routes the same way (see
 * docs/python.md).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <turbo/turbo.h>

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
    fprintf(out, "usage: turbo-serve MODULE:APP [--host HOST] [--port PORT] [--threads N] [--workers N]\n"
                 "\n"
                 "Serves the turbo App object APP of the Python module MODULE.\n"
                 "  --host HOST    address to bind (default 127.0.0.1)\n"
                 "  --port PORT    port, 0 for any free one (default 8000)\n"
                 "  --threads N    I/O threads per worker (default 1: with a GIL more threads\n"
                 "                 only hand it back and forth)\n"
                 "  --workers N    processes sharing the port (default 1)\n"
                 "  --help         show this text\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
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

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    long port = 8000, threads = 1, workers = 1;
    static const struct option opts[] = {{"host", required_argument, NULL, 'h'},
                                         {"port", required_argument, NULL, 'p'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"help", no_argument, NULL, 'H'},
                                         {NULL, 0, NULL, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'h': host = optarg; break;
        case 'p':
            if (parse_long(optarg, 0, 65535, &port) != 0) {
                fprintf(stderr, "turbo-serve: --port must be a number from 0 to 65535\n");
                return 2;
            }
            break;
        case 't':
            if (parse_long(optarg, 0, 1024, &threads) != 0) {
                fprintf(stderr, "turbo-serve: --threads must be a number from 0 to 1024\n");
                return 2;
            }
            break;
        case 'w':
            if (parse_long(optarg, 1, 1024, &workers) != 0) {
                fprintf(stderr, "turbo-serve: --workers must be a number from 1 to 1024\n");
                return 2;
            }
            break;
        case 'H': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1 || strchr(argv[optind], ':') == NULL) {
        fprintf(stderr, "turbo-serve: expected one MODULE:APP argument\n");
        usage(stderr);
        return 2;
    }
    const char *spec = argv[optind];

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

    turbo_config *cfg = turbo_config_new();
    if (cfg == NULL || turbo_config_set_threads(cfg, (unsigned)threads) != TURBO_OK) {
        fprintf(stderr, "turbo-serve: cannot configure the server\n");
        return 1;
    }
    server = turbo_server_new(cfg);
    turbo_config_free(cfg);
    int rc = server != NULL ? turbo_server_listen(server, host, (int)port) : TURBO_ENOMEM;
    if (rc != TURBO_OK) {
        fprintf(stderr, "turbo-serve: cannot listen on %s:%ld: %s (%s)\n", host, port,
                turbo_strerror(rc), strerror(errno));
        return 1;
    }
    PyObject *capsule = PyCapsule_New(server, "turbo.server", NULL);
    PyObject *r = capsule != NULL ? PyObject_CallMethod(turbo, "mount", "OO", app, capsule) : NULL;
    if (r == NULL) {
        PyErr_Print();
        fprintf(stderr, "turbo-serve: cannot mount %s\n", spec);
        return 1;
    }
    Py_DECREF(r);
    Py_DECREF(capsule);
    Py_DECREF(app);
    Py_DECREF(turbo);
    Py_DECREF(main_mod);

    int bracket = strchr(host, ':') != NULL;
    printf("turbo-serve: serving %s on http://%s%s%s:%d/ (%ld worker(s), %u I/O thread(s) each)\n",
           spec, bracket ? "[" : "", host, bracket ? "]" : "", turbo_server_port(server), workers,
           turbo_server_threads(server));
    fflush(stdout);
    on_stop_signals();

    int status;
    if (workers > 1) {
        status = run_workers((int)workers);
        PyThreadState *ts = PyEval_SaveThread();
        turbo_server_free(server); /* releases the routes: takes the GIL */
        PyEval_RestoreThread(ts);
    } else {
        /* The GIL goes to the I/O threads' handlers; free() releases the
         * Python routes, which takes it again, so it stays released. */
        PyThreadState *ts = PyEval_SaveThread();
        rc = turbo_server_run(server);
        turbo_server_free(server);
        PyEval_RestoreThread(ts);
        status = rc == TURBO_OK ? 0 : 1;
    }
    server = NULL;
    if (Py_FinalizeEx() < 0 && status == 0)
        status = 1;
    return status;
}
