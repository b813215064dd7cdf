"""turbo (or python -m turbo) module:app [--host H] [--port P | --fd N] [--threads N]
[--workers W] [--reuse-port] [--interface auto|turbo|wsgi|asgi] [--root-path P] [--blocking]
[--proxy-protocol] [--forwarded-allow-ips LIST] [--forwarded-header x-forwarded-for|forwarded]
[--health-path PATH] [--metrics-path PATH]
[--log-level debug|info|warning|error] [--version]

`turbo` is the console script pip installs; it runs main() here."""

import argparse
import errno
import importlib
import inspect
import logging
import os
import sys

LOG_LEVELS = ("debug", "info", "warning", "error")


def load_app(spec: str):
    """'package.module:attr' -> the object (the current directory is
    importable, as with uvicorn)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"expected MODULE:APP, got {spec!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def detect_interface(obj) -> str:
    """'turbo' for a turbo App, 'asgi' for a coroutine function or an object
    whose __call__ is one (FastAPI, Starlette, Django's ASGIHandler), else
    'wsgi' for any other callable (Flask, Django's WSGIHandler)."""
    from . import App

    if isinstance(obj, App):
        return "turbo"
    if inspect.iscoroutinefunction(obj) or inspect.iscoroutinefunction(
            getattr(obj, "__call__", None)):
        return "asgi"
    if callable(obj):
        return "wsgi"
    raise ValueError(f"{type(obj).__name__} object is neither a turbo App nor a WSGI or ASGI "
                     "application")


def adapt(obj, interface="auto", root_path="", blocking=False, workers=1, access_log=None,
          **serving):
    """What turbo serves for the loaded object: a turbo App as it is, a
    WSGI or ASGI application through its adapter (turbo.wsgi.WSGIApp,
    turbo.asgi.ASGIApp), with the serving options given (App.SERVING_OPTIONS;
    None leaves the App's own). ValueError when it cannot be served so."""
    app = _adapt(obj, interface, root_path, blocking, workers)
    if access_log:
        app.access_log = access_log
    app.configure_serving(**serving)
    return app


def _adapt(obj, interface, root_path, blocking, workers):
    kind = detect_interface(obj) if interface == "auto" else interface
    if blocking and kind != "wsgi":
        raise ValueError(f"--blocking is for WSGI applications, and this one is {kind}")
    if kind == "turbo":
        from . import App

        if not isinstance(obj, App):
            raise ValueError(f"--interface turbo needs a turbo App, not a {type(obj).__name__}")
        if root_path:
            raise ValueError("--root-path is for WSGI and ASGI applications")
        return obj
    if kind == "wsgi":
        from .wsgi import WSGIApp

        return WSGIApp(obj, root_path=root_path, blocking=blocking, multiprocess=workers > 1)
    if kind == "asgi":
        from .asgi import ASGIApp

        return ASGIApp(obj, root_path=root_path)
    raise ValueError(f"unknown interface {interface!r}: auto, turbo, wsgi or asgi")


def invoked_as(argv0):
    """The command's name as the user typed it: `turbo` for the console
    script (argv[0] is its path), `python -m turbo` for the module (argv[0]
    is this file's path)."""
    name = os.path.basename(argv0 or "")
    if not name or name in ("__main__.py", "-c", "-m"):
        return "python -m turbo"
    return name


def configure_logging(level):
    """--log-level: the `turbo` logger (and its children: handler errors,
    the workers' supervisor, the adapters) logs from `level` up to
    standard error."""
    logger = logging.getLogger("turbo")
    logger.setLevel(level.upper())
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


def main(argv=None, prog=None):
    from . import __version__

    prog = prog or invoked_as(sys.argv[0])
    p = argparse.ArgumentParser(prog=prog, description="Serve a turbo App, or a WSGI or ASGI "
                                "application.")
    p.add_argument("app", help="MODULE:APP, e.g. myapi:app")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port, 0 for any free one (default 8000)")
    p.add_argument("--fd", type=int, default=None,
                   help="serve on this inherited listening socket instead of binding; under "
                        "systemd socket activation (LISTEN_PID/LISTEN_FDS) fd 3 is used")
    p.add_argument("--threads", type=int, default=None, help="I/O threads per worker, 0 for one per CPU (default: 1 with a "
                        "GIL; one per CPU on a free-threaded Python running without it)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes serving the port (default 1); with 2 or more a parent "
                        "supervises them: it replaces a worker that dies, and SIGHUP replaces "
                        "them one at a time, each loading the app anew")
    p.add_argument("--reuse-port", action="store_true",
                   help="share the port with another process that holds it (SO_REUSEPORT, "
                        "for a hand-over between an old and a new instance) instead of "
                        "refusing it")
    p.add_argument("--interface", choices=("auto", "turbo", "wsgi", "asgi"), default="auto",
                   help="what APP is (default auto: a turbo App, else asgi when APP or its "
                        "__call__ is a coroutine function, else wsgi)")
    p.add_argument("--root-path", default="",
                   help="the path prefix a WSGI/ASGI app is mounted at (SCRIPT_NAME, root_path)")
    p.add_argument("--blocking", action="store_true",
                   help="run a WSGI app on the blocking pool instead of the I/O thread")
    p.add_argument("--access-log", metavar="FILE", default=None,
                   help="write an access log line per answer (Common Log Format) to FILE, "
                        "or to standard output for '-' (default: none)")
    p.add_argument("--proxy-protocol", action="store_true", default=None,
                   help="every connection must open with a PROXY protocol v1 or v2 header "
                        "(HAProxy's send-proxy, send-proxy-v2); its client becomes the "
                        "request's. A connection without one is closed")
    p.add_argument("--forwarded-allow-ips", metavar="LIST", default=None,
                   help="comma-separated addresses, networks (10.0.0.0/8) or * of the proxies "
                        "trusted to name the client in --forwarded-header (default: none)")
    p.add_argument("--forwarded-header", choices=("x-forwarded-for", "forwarded"), default=None,
                   help="the header trusted proxies name the client in (default "
                        "x-forwarded-for; forwarded is RFC 7239's)")
    p.add_argument("--health-path", metavar="PATH", default=None,
                   help="answer GET PATH with 200 ok while serving, 503 once stopping (a load "
                        "balancer's health check; default: none)")
    p.add_argument("--metrics-path", metavar="PATH", default=None,
                   help="answer GET PATH with the server's counters in the Prometheus text "
                        "format, per worker process (default: none)")
    p.add_argument("--log-level", choices=LOG_LEVELS, default=None,
                   help="log the `turbo` logger's records from this level up to standard "
                        "error (default: Python's, warnings and errors only)")
    p.add_argument("--reload", action="store_true",
                   help="for development: serve in a child process, started anew whenever a "
                        ".py file under the current directory changes (not with --workers)")
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    raw_argv = list(sys.argv[1:] if argv is None else argv)
    args = p.parse_args(argv)
    if args.reload and args.workers > 1:
        p.error("--reload is for development, one process: not with --workers")
    if args.reload and args.fd is not None:
        p.error("--reload cannot be combined with --fd")
    if args.root_path and (not args.root_path.startswith("/") or args.root_path.endswith("/")):
        p.error("--root-path must start with '/' and not end with one")
    if args.fd is not None and (args.host is not None or args.port is not None):
        p.error("--fd cannot be combined with --host or --port")
    if args.fd is not None and args.fd < 0:
        p.error("--fd must be a file descriptor number")
    args.host = "127.0.0.1" if args.host is None else args.host
    args.port = 8000 if args.port is None else args.port
    if not 0 <= args.port <= 65535:
        p.error("--port must be from 0 to 65535")
    if args.workers < 1:
        p.error("--workers must be at least 1")
    if args.threads is not None and not 0 <= args.threads <= 1024:
        p.error("--threads must be from 0 to 1024")
    module_name, sep, attr = args.app.partition(":")
    if not sep or not module_name or not attr:
        print(f"{prog}: cannot load {args.app}: expected MODULE:APP", file=sys.stderr)
        return 2
    if args.reload:
        from .reload import run as run_reloading

        return run_reloading([a for a in raw_argv if a != "--reload"], prog)
    if args.log_level is not None:
        configure_logging(args.log_level)
    if args.workers > 1:
        return serve_workers(args.app, host=args.host, port=args.port, fd=args.fd,
                             workers=args.workers, threads=args.threads,
                             reuse_port=args.reuse_port, prog=prog,
                             serving="turbo: serving on {where}", interface=args.interface,
                             root_path=args.root_path, blocking=args.blocking,
                             access_log=args.access_log, **serving_options(args))
    try:
        app = adapt(load_app(args.app), args.interface, args.root_path, args.blocking,
                    access_log=args.access_log, **serving_options(args))
    except (ImportError, AttributeError, ValueError) as e:
        print(f"{prog}: cannot load {args.app}: {e}", file=sys.stderr)
        return 2
    try:
        app.run(host=args.host, port=args.port, threads=args.threads, fd=args.fd,
                reuse_port=args.reuse_port)
    except ValueError as e:  # an inherited fd or LISTEN_FDS that cannot be served
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the address cannot be bound
        print(listen_failed(prog, args.host, args.port, args.reuse_port, e),
              file=sys.stderr)
        return 1
    return 0


def serving_options(args):
    """The serving options (App.SERVING_OPTIONS) the command line gave."""
    return {"proxy_protocol": args.proxy_protocol,
            "forwarded_allow_ips": args.forwarded_allow_ips,
            "forwarded_header": args.forwarded_header,
            "health_path": args.health_path,
            "metrics_path": args.metrics_path}


def listen_failed(prog, host, port, reuse_port, e):
    hint = ""
    if e.errno == errno.EADDRINUSE and not reuse_port:
        hint = " (another process holds the port; --reuse-port shares it)"
    return f"{prog}: cannot listen on {host}:{port}: {e.strerror or e}{hint}"


def serve_workers(spec, *, host, port, fd, workers, threads, reuse_port, prog, serving, where="",
                  interface="auto", root_path="", blocking=False, access_log=None, **options):
    """--workers 2 or more (here and in turbo-serve): a supervising parent
    (turbo.workers) that never imports the app; each worker does, after
    its fork, so a reload loads the code as it is now. fd: an inherited
    listening socket, or None. serving: the announcement, formatted with
    {where} (`where` if given, else what turbo.workers.serve says). Returns
    the exit status."""
    from .workers import LoadError, serve

    def load():
        try:
            return adapt(load_app(spec), interface, root_path, blocking, workers, access_log,
                         **options)
        except (ImportError, AttributeError, ValueError) as e:
            raise LoadError(f"{prog}: cannot load {spec}: {e}") from None

    def announce(served, n):
        print(serving.format(where=where or served)
              + f" ({workers} worker(s), {n} I/O thread(s) each)", flush=True)

    try:
        return serve(load, host=host, port=port, fd=fd, workers=workers, threads=threads,
                     reuse_port=reuse_port, prog=prog, announce=announce)
    except ValueError as e:  # an inherited fd or LISTEN_FDS that cannot be served
        print(f"{prog}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(listen_failed(prog, host, port, reuse_port, e), file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
