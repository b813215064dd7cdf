"""FileResponse: a file sent by sendfile(2) from the I/O thread (the C
side: src/response.c, write_file)."""
from __future__ import annotations

import email.utils
import hashlib
import mimetypes
import os
import stat as stat_mod
from typing import Mapping
from urllib.parse import quote

from . import Response, _turbo


class FileResponse(Response):
    """The file at `path` as the body, as Starlette's FileResponse spells it:
    Content-Type guessed from `filename` or the path
    (application/octet-stream when unknown), Content-Length, Last-Modified
    and ETag from the file's stat, and Content-Disposition when `filename`
    is given. Range requests are not served yet (no Accept-Ranges). The bytes go from the
    page cache to the socket by sendfile(2), never through Python; the file
    is opened when the response is sent, and sent at its length then. A
    missing file raises here (a 500 from a handler)."""

    def __init__(self, path: str | os.PathLike[str], status_code: int = 200,
                 headers: Mapping[str, str] | None = None, media_type: str | None = None,
                 filename: str | None = None, stat_result: os.stat_result | None = None,
                 method: str | None = None,
                 content_disposition_type: str = "attachment") -> None:
        self.path = path
        self.filename = filename
        self._fspath = os.fsencode(path)
        if media_type is None:
            media_type = mimetypes.guess_type(filename or os.fsdecode(self._fspath))[0]
            media_type = media_type or "application/octet-stream"
        st = stat_result if stat_result is not None else os.stat(self._fspath)
        if not stat_mod.S_ISREG(st.st_mode):
            raise RuntimeError(f"File at path {os.fsdecode(self._fspath)} is not a file.")
        h = dict(headers or {})
        lower = {k.lower() for k in h}
        if filename is not None and "content-disposition" not in lower:
            quoted = quote(filename)
            if quoted != filename:
                h["content-disposition"] = f"{content_disposition_type}; filename*=utf-8''{quoted}"
            else:
                h["content-disposition"] = f'{content_disposition_type}; filename="{filename}"'
        if "last-modified" not in lower:
            h["last-modified"] = email.utils.formatdate(st.st_mtime, usegmt=True)
        if "etag" not in lower:
            tag = hashlib.md5(f"{st.st_mtime}-{st.st_size}".encode(), usedforsecurity=False)
            h["etag"] = f'"{tag.hexdigest()}"'
        self.stat_result = st
        super().__init__(b"", status_code, h, media_type)


_turbo._set_file_response(FileResponse)
