"""StaticFiles and App.mount: a directory served under a path prefix, with
Starlette's StaticFiles behaviour (learned from its source, own code)."""
from __future__ import annotations

import email.utils
import os
import stat as stat_mod
from typing import Any

from . import HTTPException, RedirectResponse, Request, Response
from ._files import FileResponse

# Headers a 304 keeps from the response it replaces (RFC 9110 15.4.5).
_NOT_MODIFIED_KEEP = ("cache-control", "content-location", "date", "etag", "expires", "vary")


class StaticFiles:
    """Files of `directory` served under the path it is mounted at
    (App.mount). GET and HEAD only (else 405 with Allow: GET, HEAD); a
    miss, a path leaving the directory or a symlink pointing out of it
    (unless follow_symlink) is a 404 HTTPException. html=True serves a
    directory's index.html (redirecting to the URL with a trailing slash
    first) and 404.html for a miss. packages is not supported yet."""

    def __init__(self, *, directory: str | os.PathLike[str] | None = None,
                 packages: list[Any] | None = None, html: bool = False,
                 check_dir: bool = True, follow_symlink: bool = False) -> None:
        if packages:
            raise NotImplementedError("StaticFiles(packages=...) is not supported yet")
        if directory is None:
            raise ValueError("StaticFiles needs a directory")
        self.directory = os.fspath(directory)
        self.html = html
        self.follow_symlink = follow_symlink
        if check_dir and not os.path.isdir(self.directory):
            raise RuntimeError(f"Directory '{self.directory}' does not exist")

    def _lookup(self, path: str) -> tuple[str, os.stat_result | None]:
        if path.startswith(("/", "\\")):
            return "", None
        joined = os.path.join(self.directory, path)
        if self.follow_symlink:
            full, root = os.path.abspath(joined), os.path.abspath(self.directory)
        else:
            full, root = os.path.realpath(joined), os.path.realpath(self.directory)
        if os.path.commonpath([full, root]) != root:
            return "", None
        try:
            return full, os.stat(full)
        except (FileNotFoundError, NotADirectoryError):
            return "", None

    def _file(self, full: str, st: os.stat_result, request: Request) -> Response:
        response = FileResponse(full, stat_result=st)
        if _not_modified(response.headers, request.headers):
            kept = {k: v for k, v in response.headers.items() if k.lower() in _NOT_MODIFIED_KEEP}
            return Response(b"", 304, kept)
        return response

    def _serve(self, request: Request, path: str) -> Response:
        if request.method not in ("GET", "HEAD"):
            raise HTTPException(status_code=405, headers={"Allow": "GET, HEAD"})
        path = os.path.normpath(os.path.join(*path.split("/"))) if path else "."
        try:
            full, st = self._lookup(path)
        except PermissionError:
            raise HTTPException(status_code=401) from None
        except ValueError:
            raise HTTPException(status_code=404) from None
        if st is not None and stat_mod.S_ISREG(st.st_mode):
            return self._file(full, st, request)
        if st is not None and stat_mod.S_ISDIR(st.st_mode) and self.html:
            full, st = self._lookup(os.path.join(path, "index.html"))
            if st is not None and stat_mod.S_ISREG(st.st_mode):
                if not request.path.endswith("/"):
                    host = request.headers.get("host", "")
                    query = request.query_string
                    url = f"http://{host}{request.path}/" + (f"?{query}" if query else "")
                    return RedirectResponse(url)
                return self._file(full, st, request)
        if self.html:
            full, st = self._lookup("404.html")
            if st is not None and stat_mod.S_ISREG(st.st_mode):
                return FileResponse(full, status_code=404, stat_result=st)
        raise HTTPException(status_code=404)


def _not_modified(response_headers: Any, request_headers: Any) -> bool:
    if_none_match = request_headers.get("if-none-match")
    if if_none_match:
        if if_none_match.strip() == "*":
            return True
        tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
        return response_headers["etag"] in tags
    since = request_headers.get("if-modified-since")
    if since is None:
        return False
    since_t = email.utils.parsedate(since)
    last_t = email.utils.parsedate(response_headers["last-modified"])
    return since_t is not None and last_t is not None and since_t >= last_t


_ALL = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def mount(app: Any, path: str, sub: Any, name: str | None) -> None:
    if path != "" and (not path.startswith("/") or path.endswith("/")):
        raise ValueError(f"mount path must start and not end with '/': {path!r}")
    if isinstance(sub, StaticFiles):
        files = sub

        def static_files(request: Request, path: str) -> Response:
            return files._serve(request, path)

        app.add_route(path + "/{path:path}", static_files, _ALL,
                      include_in_schema=False, blocking=False)
        if path:
            def static_files_root(request: Request) -> Response:
                # Starlette's router redirects the bare prefix to prefix + "/".
                host = request.headers.get("host", "")
                query = request.query_string
                return RedirectResponse(f"http://{host}{request.path}/"
                                        + (f"?{query}" if query else ""))

            free = [m for m in _ALL if not any(k[0] == m and k[1] == path for k in app._routes)]
            if free:
                app.add_route(path, static_files_root, free, include_in_schema=False,
                              blocking=False)
        if name is not None:
            app._route_names[name] = path + "/{path}"
        return
    raise TypeError("App.mount serves turbo.StaticFiles only (mounting an App or an "
                    "ASGI app is not supported yet), "
                    f"not {type(sub).__name__}")
