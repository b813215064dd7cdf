"""Serving a WSGI application (PEP 3333: Flask, Django, ...) on libturbo.

    from turbo.wsgi import WSGIApp
    from myflaskapp import app as flask_app

    WSGIApp(flask_app).run(port=8000)

or, without a line of Python: `turbo-serve --interface wsgi myflaskapp:app`.

The application is called inline on the I/O thread that read the request
(the fast path for apps that compute), or, with blocking=True, on the
server's blocking pool (for apps that wait on a database or an upstream:
the I/O thread serves other connections meanwhile). The environ,
start_response and the walk over the returned iterable are C
(src/wsgi.c); the answer is buffered whole before it is sent, so a
failure anywhere, close() included, is a clean 500 with the traceback in
the `turbo` log.

Routes added with the usual decorators are served beside the WSGI app and
win over it: `@wsgi_app.get("/healthz")` answers without entering Flask.
"""

from __future__ import annotations

import sys

from . import App, _turbo, immortalize_constants

__all__ = ["WSGIApp", "FileWrapper"]

FileWrapper = _turbo.FileWrapper


class _Errors:
    """wsgi.errors: a text stream writing to the current sys.stderr."""

    def write(self, s):
        return sys.stderr.write(s)

    def writelines(self, lines):
        sys.stderr.writelines(lines)

    def flush(self):
        sys.stderr.flush()


class WSGIApp(App):
    """A turbo App whose every path no native route takes goes to the WSGI
    callable `app`.

    root_path: the prefix the app is mounted at (SCRIPT_NAME); a path that
    starts with it has it removed from PATH_INFO. blocking: run the app on
    the blocking pool instead of the I/O thread. url_scheme: wsgi.url_scheme
    ("https" behind a proxy that terminates TLS). multiprocess: the value
    of wsgi.multiprocess (turbo's CLI sets it when --workers > 1). The
    other keywords are App's (server_name, limits such as max_body_bytes,
    on_startup / on_shutdown).
    """

    def __init__(self, app, *, root_path: str = "", blocking: bool = False,
                 url_scheme: str = "http", multiprocess: bool = False, **kwargs):
        if not callable(app):
            raise TypeError(f"a WSGI application must be callable, not {type(app).__name__}")
        if root_path and (not root_path.startswith("/") or root_path.endswith("/")):
            raise ValueError(f"root_path must start with '/' and not end with one: {root_path!r}")
        if url_scheme not in ("http", "https"):
            raise ValueError(f"url_scheme must be 'http' or 'https', not {url_scheme!r}")
        root_path.encode("latin-1")  # PEP 3333: native strings are latin-1
        super().__init__(**kwargs)
        self.wsgi_app = app
        immortalize_constants(app)  # its __call__; not the framework behind it
        self.root_path = root_path
        self.blocking = blocking
        self.url_scheme = url_scheme
        self.multiprocess = multiprocess

    def _attach(self, server):
        super()._attach(server)
        host = getattr(self, "_bound_host", None) or "127.0.0.1"
        base = {
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": self.url_scheme,
            "wsgi.errors": _Errors(),
            "wsgi.multithread": bool(self.blocking or server.threads > 1),
            "wsgi.multiprocess": bool(self.multiprocess),
            "wsgi.run_once": False,
            "wsgi.input_terminated": True,
            "wsgi.file_wrapper": FileWrapper,
            "SCRIPT_NAME": self.root_path,
            "SERVER_NAME": host,
            "SERVER_PORT": str(server.port),
            "SERVER_SOFTWARE": f"libturbo/{_turbo.libturbo_version}",
        }
        default_port = "443" if self.url_scheme == "https" else "80"
        server.set_wsgi(self.wsgi_app, base, self.root_path, default_port, self.blocking)

    def _new_server(self, host, port, threads, fd=None, activation=False, exclusive_port=False):
        self._bound_host = host
        return super()._new_server(host, port, threads, fd=fd, activation=activation,
                                   exclusive_port=exclusive_port)


immortalize_constants(sys.modules[__name__])  # this module's own request path
