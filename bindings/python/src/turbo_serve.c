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
 * The command line is shared with turbo-hello (tools/serve_cli.c).
 *
 * With --workers 2 or more this process only supervises, as `python -m
 * turbo` does and with the same code (turbo/workers.py): it binds one
 * socket (or checks the inherited one), never imports the app, and forks
 * the workers, which each import it and serve the socket; it replaces a
 * worker that dies, and SIGHUP replaces them one at a time with the code
 * as it is now on disk.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "serve_cli.h"

static turbo_server *server;

static void on_signal(int sig)
{
    (void)sig;
    if (server != NULL)
        turbo_server_stop(server);
}

static void usage(FILE *out)
{
    fputs("usage: turbo-serve MODULE:APP [--host HOST] [--port PORT] [--reuse-port]\n"
          "                              [--threads N] [--workers N]\n"
          "                              [--interface auto|turbo|wsgi|asgi] [--root-path PATH]\n"
          "                              [--blocking] [--access-log FILE]\n"
          "                              [--proxy-protocol] [--forwarded-allow-ips LIST]\n"
          "                              [--forwarded-header x-forwarded-for|forwarded]\n"
          "                              [--health-path PATH] [--metrics-path PATH]\n"
          "       turbo-serve MODULE:APP --fd N [--threads N] [--workers N]\n"
          "\n"
          "Serves the object APP of the Python module MODULE (imported with the current\n"
          "directory on sys.path, as python -m turbo does) until SIGINT or SIGTERM, which\n"
          "stop accepting, finish the requests in flight and exit 0. APP is a turbo App,\n"
          "a WSGI application (Flask, Django) or an ASGI 3 application (FastAPI,\n"
          "Starlette).\n"
          "\n"
          "Options (--name VALUE or --name=VALUE):\n"
          "  --host HOST    address to bind (default 127.0.0.1)\n"
          "  --port PORT    port to bind, 0 for any free one (default 8000); refused when\n"
          "                 another process holds it\n"
          "  --reuse-port   share the port with the processes that hold it (SO_REUSEPORT:\n"
          "                 the kernel splits new connections; for a hand-over from an old\n"
          "                 instance to a new one)\n"
          "  --fd N         serve on the inherited listening socket N instead of binding;\n"
          "                 not with --host or --port (default: none)\n"
          "  --threads N    I/O threads per worker, 0 for one per CPU (default: 1 with a\n"
          "                 GIL, where more threads only hand it back and forth; one per\n"
          "                 CPU on a free-threaded Python running without it)\n"
          "  --workers N    processes serving the socket, 1 to 1024 (default 1). With 2 or\n"
          "                 more, this process supervises them: each worker imports the\n"
          "                 app, one that dies is replaced (waiting longer each time\n"
          "                 while they die at start-up), SIGHUP replaces them one at a\n"
          "                 time with the code as it is now (a new one serves before an\n"
          "                 old one stops; a new one that fails ends the reload), and they\n"
          "                 stop when this process dies\n"
          "  --interface I  what APP is: turbo, wsgi, asgi, or auto (default): a turbo\n"
          "                 App, else asgi when APP (or its __call__) is a coroutine\n"
          "                 function, else wsgi\n"
          "  --root-path P  the path prefix the app is mounted at (WSGI SCRIPT_NAME, ASGI\n"
          "                 root_path; default none)\n"
          "  --blocking     run a WSGI app on the blocking pool instead of the I/O thread\n"
          "                 (for apps that wait on a database or an upstream)\n"
          "  --access-log F an access log line per answer (Common Log Format), written by\n"
          "                 the I/O threads to file F (appended), or to standard output\n"
          "                 for - (default: none)\n"
          "  --proxy-protocol  every connection must open with a PROXY protocol v1 or v2\n"
          "                 header (HAProxy's send-proxy, send-proxy-v2), whose client\n"
          "                 becomes the request's; a connection without one is closed\n"
          "  --forwarded-allow-ips LIST  the proxies (comma-separated addresses, networks\n"
          "                 such as 10.0.0.0/8, or *) trusted to name the client in\n"
          "                 --forwarded-header (default: none)\n"
          "  --forwarded-header H  x-forwarded-for (default) or forwarded (RFC 7239)\n"
          "  --health-path P  answer GET P with 200 ok while serving, 503 once stopping\n"
          "                 (for a load balancer's health check; default: none)\n"
          "  --metrics-path P  answer GET P with the server's counters in the Prometheus\n"
          "                 text format (per worker process; default: none)\n"
          "  --help         show this text and exit\n"
          "\n"
          "Environment:\n"
          "  LISTEN_PID, LISTEN_FDS  systemd socket activation: when LISTEN_PID is this\n"
          "                 process's PID and LISTEN_FDS is 1, serves on fd 3 (--host and\n"
          "                 --port are ignored; --fd wins). LISTEN_FDS above 1 is an error.\n"
          "                 LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES are then removed\n"
          "                 from the environment (the app and the workers do not see them).\n"
          "  PYTHONPATH     where MODULE and the turbo package are found\n"
          "  VIRTUAL_ENV    an activated virtual environment (of the Python this program\n"
          "                 embeds): its packages are importable, as under its python\n"
          "\n"
          "Exit status:\n"
          "  0  stopped by SIGINT or SIGTERM\n"
          "  1  the server failed (cannot bind, the port is held, cannot mount the app,\n"
          "     the first workers failed)\n"
          "  2  usage error: bad option or value, missing or malformed MODULE:APP, an app\n"
          "     that cannot be loaded, an inherited fd that is not a listening socket,\n"
          "     LISTEN_FDS above 1\n",
          out);
}

/* kw[key] = value as a str, or None for NULL. 0, or -1 with an exception. */
static int set_str_or_none(PyObject *kw, const char *key, const char *value)
{
    PyObject *v = value != NULL ? PyUnicode_FromString(value) : Py_NewRef(Py_None);
    int rc = v != NULL ? PyDict_SetItemString(kw, key, v) : -1;
    Py_XDECREF(v);
    return rc;
}

/* The serving options of the command line (App.SERVING_OPTIONS) into the
 * keyword arguments kw of turbo.__main__'s adapt() or serve_workers();
 * those not given are None (the App keeps its own). 0, or -1 with an
 * exception set. */
static int add_serving_options(PyObject *kw, const serve_cli *cli)
{
    PyObject *allow = cli->forwarded_allow != NULL ? PyUnicode_FromString(cli->forwarded_allow)
                                                   : Py_NewRef(Py_None);
    PyObject *header = cli->forwarded_header != NULL ? PyUnicode_FromString(cli->forwarded_header)
                                                     : Py_NewRef(Py_None);
    int rc = allow != NULL && header != NULL &&
                     PyDict_SetItemString(kw, "proxy_protocol",
                                          cli->proxy_protocol ? Py_True : Py_None) == 0 &&
                     PyDict_SetItemString(kw, "forwarded_allow_ips", allow) == 0 &&
                     PyDict_SetItemString(kw, "forwarded_header", header) == 0 &&
                     set_str_or_none(kw, "health_path", cli->health_path) == 0 &&
                     set_str_or_none(kw, "metrics_path", cli->metrics_path) == 0
                 ? 0
                 : -1;
    Py_XDECREF(allow);
    Py_XDECREF(header);
    return rc;
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

/* The interpreter this program embeds. Inside an activated virtual
 * environment (VIRTUAL_ENV set, as `source venv/bin/activate` does) it is
 * that environment's, as if its own python had been run: its
 * site-packages (Flask, FastAPI, ...) are importable. The environment
 * must have been made from the Python this program is linked with. */
static void init_python(void)
{
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    const char *venv = getenv("VIRTUAL_ENV");
    char exe[4096];
    if (venv != NULL && venv[0] == '/' &&
        snprintf(exe, sizeof(exe), "%s/bin/python3", venv) < (int)sizeof(exe) &&
        access(exe, X_OK) == 0) {
        PyStatus st = PyConfig_SetBytesString(&config, &config.executable, exe);
        if (PyStatus_Exception(st)) {
            PyConfig_Clear(&config);
            Py_ExitStatusException(st);
        }
    }
    PyStatus st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st))
        Py_ExitStatusException(st);
}

/* --threads as the binding takes it: None when not given, so that the
 * App's default applies (turbo._default_threads(): 1 with a GIL, one per
 * CPU on a free-threaded Python running without it), as for `python -m
 * turbo`. A new reference, NULL on error. */
static PyObject *threads_arg(const serve_cli *cli)
{
    return cli->threads < 0 ? Py_NewRef(Py_None) : PyLong_FromLong(cli->threads);
}

/* --workers 2 or more: an inherited socket is checked here, with the
 * messages of one process, then turbo.__main__.serve_workers() (Python)
 * binds if there was none and supervises. Returns the exit status. */
static int serve_workers(const serve_cli *cli, const char *spec)
{
    char where[512] = "";
    int fd = -1;
    turbo_server *probe = turbo_server_new(NULL);
    if (probe == NULL) {
        fprintf(stderr, "turbo-serve: out of memory\n");
        return 1;
    }
    fd = serve_cli_inherited(cli, probe, where, sizeof(where));
    turbo_server_free(probe); /* never closes an inherited fd */

    init_python();
    int status = 1;
    PyObject *main_mod = PyImport_ImportModule("turbo.__main__");
    PyObject *fn = main_mod != NULL ? PyObject_GetAttrString(main_mod, "serve_workers") : NULL;
    PyObject *args = fn != NULL ? Py_BuildValue("(s)", spec) : NULL;
    /* How it announces itself: as one turbo-serve process does. */
    char serving[1024];
    snprintf(serving, sizeof(serving), "turbo-serve: serving %s on {where}", spec);
    PyObject *fd_obj = fd >= 0 ? PyLong_FromLong(fd) : Py_NewRef(Py_None);
    PyObject *threads_obj = threads_arg(cli);
    PyObject *kw = args != NULL && fd_obj != NULL && threads_obj != NULL
                       ? Py_BuildValue("{sssisOslsOsOsssssssssssOsz}", "host", cli->host, "port",
                                       (int)cli->port, "fd", fd_obj, "workers", cli->workers,
                                       "threads", threads_obj, "reuse_port",
                                       cli->reuse_port ? Py_True : Py_False, "prog",
                                       "turbo-serve", "serving", serving, "where",
                                       fd >= 0 ? where : "", "interface", cli->interface,
                                       "root_path", cli->root_path, "blocking",
                                       cli->blocking ? Py_True : Py_False, "access_log",
                                       cli->access_log)
                       : NULL;
    Py_XDECREF(fd_obj);
    Py_XDECREF(threads_obj);
    if (kw != NULL && add_serving_options(kw, cli) != 0)
        Py_CLEAR(kw);
    PyObject *r = kw != NULL ? PyObject_Call(fn, args, kw) : NULL;
    if (r != NULL && PyLong_Check(r))
        status = (int)PyLong_AsLong(r);
    else
        PyErr_Print();
    Py_XDECREF(r);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(fn);
    Py_XDECREF(main_mod);
    if (Py_FinalizeEx() < 0 && status == 0)
        status = 1;
    return status;
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
                     .with_positional = 1, .with_interface = 1, .threads = -1};
    serve_cli_parse(&cli, argc, argv);
    const char *spec = cli.positional;
    if (spec == NULL)
        serve_cli_fail(&cli, "missing the MODULE:APP argument (usage: turbo-serve MODULE:APP "
                             "[OPTIONS]; see --help)");
    const char *colon = strchr(spec, ':');
    if (colon == NULL || colon == spec || colon[1] == '\0' || strchr(colon + 1, ':') != NULL)
        serve_cli_fail(&cli, "'%s' is not MODULE:APP (a module and an attribute, e.g. myapp:app)",
                       spec);

    if (cli.workers > 1)
        return serve_workers(&cli, spec);
    init_python();
    /* MODULE:APP is loaded as `python -m turbo` loads it (the current
     * directory importable). */
    PyObject *main_mod = PyImport_ImportModule("turbo.__main__");
    PyObject *turbo = main_mod != NULL ? PyImport_ImportModule("turbo") : NULL;
    PyObject *obj = turbo != NULL ? PyObject_CallMethod(main_mod, "load_app", "s", spec) : NULL;
    /* A WSGI or ASGI application is served through its adapter App. */
    PyObject *adapt = obj != NULL ? PyObject_GetAttrString(main_mod, "adapt") : NULL;
    PyObject *adapt_args = adapt != NULL ? Py_BuildValue("(Ossiiz)", obj, cli.interface,
                                                         cli.root_path, cli.blocking, 1,
                                                         cli.access_log)
                                         : NULL;
    PyObject *adapt_kw = adapt_args != NULL ? PyDict_New() : NULL;
    if (adapt_kw != NULL && add_serving_options(adapt_kw, &cli) != 0)
        Py_CLEAR(adapt_kw);
    PyObject *app = adapt_kw != NULL ? PyObject_Call(adapt, adapt_args, adapt_kw) : NULL;
    Py_XDECREF(adapt_kw);
    Py_XDECREF(adapt_args);
    Py_XDECREF(adapt);
    Py_XDECREF(obj);
    if (app == NULL) {
        PyErr_Print();
        fprintf(stderr, "turbo-serve: cannot load %s\n", spec);
        Py_Finalize();
        return 2;
    }
    /* The server as the App configures it (server_name, limits: one place,
     * the binding's), taken over from Python: this program frees it. */
    PyObject *threads_obj = threads_arg(&cli);
    PyObject *pyserver = threads_obj != NULL ? PyObject_CallMethod(app, "_make_server", "Oi",
                                                                   threads_obj, !cli.reuse_port)
                                             : NULL;
    Py_XDECREF(threads_obj);
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
    Py_DECREF(turbo);
    Py_DECREF(main_mod);

    /* Handlers first: a supervisor may send SIGTERM as soon as it reads
     * the line, and must get the graceful stop. */
    on_stop_signals();
    printf("turbo-serve: serving %s on %s (1 worker(s), %u I/O thread(s) each)\n", spec, where,
           turbo_server_threads(server));
    fflush(stdout);

    /* The GIL goes to the I/O threads' handlers; free() releases the
     * Python routes, which takes it again, so it stays released. */
    PyThreadState *ts = PyEval_SaveThread();
    int rc = turbo_server_run(server);
    turbo_server_free(server);
    PyEval_RestoreThread(ts);
    int status = rc == TURBO_OK ? 0 : 1;
    server = NULL;
    /* The app's shutdown (lifespan, on_shutdown) on its event loops, now
     * that no I/O thread runs. */
    r = PyObject_CallMethod(app, "_shutdown", NULL);
    if (r == NULL) {
        PyErr_Print();
        status = 1;
    }
    Py_XDECREF(r);
    Py_DECREF(app);
    if (Py_FinalizeEx() < 0 && status == 0)
        status = 1;
    return status;
}
