"""Form bodies (FastAPI's Form, File and UploadFile).

A route with a Form()/File() parameter, or one annotated UploadFile (or a
list of them), reads its body as a form: application/x-www-form-urlencoded
or multipart/form-data, split with python-multipart as Starlette splits
them (the same limits: 1000 fields, 1000 files, 1 MiB per non-file part;
their errors a 400 with the same detail), any other Content-Type as an
empty form. The body is the one turbo has buffered (its body limit
applies): parts are not streamed from the socket. File parts are kept in
a SpooledTemporaryFile (in memory up to 1 MiB, as Starlette's) and given
to the handler as UploadFile.

The form's values go to the parameters as FastAPI's request_body_to_args
gives them: each under its name (or alias), a list type takes every value
of a repeated key, an empty string or an empty file with no name counts
as missing; a File() parameter typed bytes gets the file's content; a
form model (Annotated[Model, Form()]) gets the fields of the model.
"""

from __future__ import annotations

import tempfile
import typing
from typing import Any, BinaryIO

from . import HTTPException, Headers, _bodies

_MAX_FIELDS = 1000
_MAX_FILES = 1000
_MAX_PART_SIZE = 1024 * 1024
_SPOOL_SIZE = 1024 * 1024


class Form(_bodies.Body):
    """A parameter read from a form field (FastAPI's Form)."""

    media_type = "application/x-www-form-urlencoded"


class File(Form):
    """A parameter read from a multipart file part (FastAPI's File): as
    bytes, or as an UploadFile."""

    media_type = "multipart/form-data"


class UploadFile:
    """A file part of a multipart body (FastAPI's UploadFile): filename,
    content_type and headers (the part's), size, and the data in .file
    (a SpooledTemporaryFile); read/write/seek/close are async, as
    Starlette's, and act on .file directly (it is in memory up to 1 MiB,
    on a local temporary file beyond)."""

    def __init__(self, file: BinaryIO, *, size: int | None = None,
                 filename: str | None = None, headers: Headers | None = None) -> None:
        self.file = file
        self.size = size
        self.filename = filename
        self.headers = headers if headers is not None else Headers([])

    @property
    def content_type(self) -> str | None:
        value: str | None = self.headers.get("content-type")
        return value

    async def read(self, size: int = -1) -> bytes:
        return self.file.read(size)

    async def write(self, data: bytes) -> None:
        if self.size is not None:
            self.size += len(data)
        self.file.write(data)

    async def seek(self, offset: int) -> None:
        self.file.seek(offset)

    async def close(self) -> None:
        self.file.close()

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(filename={self.filename!r}, size={self.size!r}, "
                f"headers={self.headers!r})")

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> Any:
        from pydantic_core import core_schema

        def check(value: Any, _info: Any) -> Any:
            if not isinstance(value, cls):
                raise ValueError(f"Expected UploadFile, received: {type(value)}")
            return value
        return core_schema.with_info_plain_validator_function(check)

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> Any:
        return {"type": "string", "contentMediaType": "application/octet-stream"}


def _is_upload(tp: Any) -> bool:
    """UploadFile, Optional of it, or a sequence of it (FastAPI reads such
    a parameter as File() when nothing marks it)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _is_upload(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, UploadFile):
        return True
    if origin is typing.Union or (origin is not None and origin is _bodies._union_type()):
        return any(_is_upload(a) for a in typing.get_args(tp) if a is not type(None))
    if origin in (list, set, tuple, frozenset):
        return any(_is_upload(a) for a in typing.get_args(tp))
    return False


def _is_sequence(tp: Any) -> bool:
    """Whether a form field takes every value of its key (FastAPI's
    field_annotation_is_sequence)."""
    import collections.abc

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _is_sequence(typing.get_args(tp)[0])
    if origin is typing.Union or (origin is not None and origin is _bodies._union_type()):
        return any(_is_sequence(a) for a in typing.get_args(tp))
    for t in (tp, origin):
        if isinstance(t, type) and not issubclass(t, (str, bytes)) and issubclass(
                t, (list, tuple, set, frozenset, collections.deque, collections.abc.Sequence)):
            return True
    return False


def _is_bytes(tp: Any) -> bool:
    args = typing.get_args(tp)
    if typing.get_origin(tp) is typing.Union or (args and type(None) in args):
        return any(_is_bytes(a) for a in args if a is not type(None))
    return tp is bytes


def _is_bytes_sequence(tp: Any) -> bool:
    origin = typing.get_origin(tp)
    if origin is typing.Union or (origin is not None and origin is _bodies._union_type()):
        return any(_is_bytes_sequence(a) for a in typing.get_args(tp))
    return _is_sequence(tp) and any(_is_bytes(a) for a in typing.get_args(tp))


# ---- splitting the body --------------------------------------------------------


def _decode(raw: bytes | bytearray, charset: str) -> str:
    try:
        return raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return raw.decode("latin-1")


def _urlencoded(body: bytes) -> list[tuple[str, Any]]:
    from urllib.parse import unquote_plus

    import python_multipart

    items: list[tuple[str, Any]] = []
    name = bytearray()
    value = bytearray()
    size = 0

    def too_big(n: int) -> None:
        nonlocal size
        size += n
        if size > _MAX_PART_SIZE:
            raise HTTPException(400, f"Field exceeded maximum size of {_MAX_PART_SIZE // 1024}KB.")

    def on_field_start() -> None:
        nonlocal name, value, size
        name, value, size = bytearray(), bytearray(), 0

    def on_field_name(data: bytes, start: int, end: int) -> None:
        too_big(end - start)
        name.extend(data[start:end])

    def on_field_data(data: bytes, start: int, end: int) -> None:
        too_big(end - start)
        value.extend(data[start:end])

    def on_field_end() -> None:
        if len(items) >= _MAX_FIELDS:
            raise HTTPException(400, f"Too many fields. Maximum number of fields is {_MAX_FIELDS}.")
        items.append((unquote_plus(name.decode("latin-1")), unquote_plus(value.decode("latin-1"))))

    parser = python_multipart.QuerystringParser({
        "on_field_start": on_field_start, "on_field_name": on_field_name,
        "on_field_data": on_field_data, "on_field_end": on_field_end})
    parser.write(body)
    parser.finalize()
    return items


class _Part:
    __slots__ = ("disposition", "name", "data", "file", "headers")

    def __init__(self) -> None:
        self.disposition: bytes | None = None
        self.name = ""
        self.data = bytearray()
        self.file: UploadFile | None = None
        self.headers: list[tuple[str, str]] = []


def _multipart(body: bytes, params: dict[bytes, bytes]) -> list[tuple[str, Any]]:
    import codecs

    import python_multipart
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import parse_options_header

    charset_raw = params.get(b"charset", b"utf-8")
    charset = charset_raw.decode("latin-1") if isinstance(charset_raw, bytes) else charset_raw
    try:
        charset = codecs.lookup(charset).name
    except LookupError:
        charset = "latin-1"
    boundary = params.get(b"boundary")
    if boundary is None:
        raise HTTPException(400, "Missing boundary in multipart.")
    items: list[tuple[str, Any]] = []
    opened: list[Any] = []
    counts = {"files": 0, "fields": 0}
    part = _Part()
    header = [b"", b""]

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if part.file is None:
            if len(part.data) + len(chunk) > _MAX_PART_SIZE:
                raise HTTPException(400, f"Part exceeded maximum size of "
                                         f"{_MAX_PART_SIZE // 1024}KB.")
            part.data.extend(chunk)
        else:
            part.file.file.write(chunk)
            part.file.size = (part.file.size or 0) + len(chunk)

    def on_part_end() -> None:
        if part.file is None:
            items.append((part.name, _decode(part.data, charset)))
        else:
            part.file.file.seek(0)
            items.append((part.name, part.file))

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        name = header[0].lower()
        if name == b"content-disposition":
            part.disposition = header[1]
        part.headers.append((name.decode("latin-1"), header[1].decode("latin-1")))
        header[0] = header[1] = b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(part.disposition)
        if b"name" not in options:
            raise HTTPException(400, 'The Content-Disposition header field "name" must be '
                                     'provided.')
        part.name = _decode(options[b"name"], charset)
        if b"filename" in options:
            counts["files"] += 1
            if counts["files"] > _MAX_FILES:
                raise HTTPException(400, f"Too many files. Maximum number of files is "
                                         f"{_MAX_FILES}.")
            spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_SIZE)
            opened.append(spool)
            part.file = UploadFile(spool, size=0,  # type: ignore[arg-type]
                                   filename=_decode(options[b"filename"], charset),
                                   headers=Headers(part.headers))
        else:
            counts["fields"] += 1
            if counts["fields"] > _MAX_FIELDS:
                raise HTTPException(400, f"Too many fields. Maximum number of fields is "
                                         f"{_MAX_FIELDS}.")
            part.file = None

    try:
        parser = python_multipart.MultipartParser(boundary, {
            "on_part_begin": on_part_begin, "on_part_data": on_part_data,
            "on_part_end": on_part_end, "on_header_field": on_header_field,
            "on_header_value": on_header_value, "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished})
        parser.write(body)
        parser.finalize()
    except BaseException as exc:
        for f in opened:
            f.close()
        if isinstance(exc, FormParserError):
            raise HTTPException(400, "Invalid multipart data.") from None
        raise
    return items


def parse(request: Any) -> list[tuple[str, Any]]:
    """The request's form as (name, str or UploadFile) pairs, in order;
    empty when its Content-Type is not a form's."""
    from python_multipart.multipart import parse_options_header

    content_type, params = parse_options_header(request._header("content-type"))
    if content_type == b"multipart/form-data":
        return _multipart(request.body, params)
    if content_type == b"application/x-www-form-urlencoded":
        return _urlencoded(request.body)
    return []


# ---- from the form to the parameters -------------------------------------------

_Undefined = _bodies._Undefined


def _value(items: list[tuple[str, Any]], key: str, many: bool) -> Any:
    """A field's value as FastAPI extracts it: the key's last value (or
    all of them, for a sequence, empty files left out); _Undefined when
    absent, an empty string, an empty file or no values."""
    if many:
        value: Any = [v for k, v in items if k == key and not _empty_file(v)]
        return value if value else _Undefined
    for k, v in reversed(items):
        if k == key:
            if v == "" or _empty_file(v):
                return _Undefined
            return v
    return _Undefined


def _empty_file(value: Any) -> bool:
    return isinstance(value, UploadFile) and value.filename == "" and value.size == 0


def _content(file: UploadFile) -> bytes:
    at = file.file.tell()
    try:
        return file.file.read()
    finally:
        file.file.seek(at)


class _FormField:
    """How one body parameter takes its value from the form."""

    def __init__(self, field: Any) -> None:
        self.field = field
        self.many = _is_sequence(field.tp)
        is_file = isinstance(field.marker, File)
        self.to_bytes = is_file and _is_bytes(field.tp)
        self.to_bytes_list = is_file and _is_bytes_sequence(field.tp)
        self.model = None
        if isinstance(field.marker, Form) and not field.marker.embed:
            if _bodies._is_model(field.tp) and isinstance(field.tp, type):
                self.model = field.tp
            elif any(_bodies._is_model(a) for a in typing.get_args(field.tp)):
                raise TypeError(f"{field.name}: an Optional form model, or a union of them, "
                                "is not supported yet (docs/fastapi-compat.md)")

    def extract(self, items: list[tuple[str, Any]], key: str) -> Any:
        value = _value(items, key, self.many)
        if value is _Undefined:
            return value
        if self.to_bytes and isinstance(value, UploadFile):
            return _content(value)
        if self.to_bytes_list and isinstance(value, list):
            return [_content(v) if isinstance(v, UploadFile) else v for v in value]
        return value

    def model_input(self, items: list[tuple[str, Any]]) -> dict[str, Any]:
        """The dict a form model validates: its fields' values (by alias),
        and the form's other keys (one value, or a list when repeated)."""
        assert self.model is not None
        out: dict[str, Any] = {}
        names = set()
        for name, info in self.model.model_fields.items():
            alias = info.validation_alias if isinstance(info.validation_alias, str) else (
                info.alias or name)
            names.add(alias)
            sub = _FormField(_Sub(info.annotation))
            value = sub.extract(items, alias)
            if value is not _Undefined:
                out[alias] = value
        extra: dict[str, list[Any]] = {}
        for k, v in items:
            if k not in names:
                extra.setdefault(k, []).append(v)
        for k, vs in extra.items():
            out[k] = vs[0] if len(vs) == 1 else vs
        return out


class _Sub:
    """A form model's field seen as a parameter (for _FormField)."""

    def __init__(self, tp: Any) -> None:
        self.tp = tp
        self.marker = None


def reader(fields: list[Any]) -> Any:
    """request -> ({name: value}, errors) for body parameters read from a
    form (fields: _bodies._BodyField)."""
    try:
        import python_multipart  # noqa: F401 - checked once, when the route is added
    except ImportError:
        raise RuntimeError('form data (Form, File, UploadFile) requires "python-multipart" '
                           "to be installed") from None
    forms = [_FormField(f) for f in fields]
    if any(ff.model is not None for ff in forms) and len(fields) > 1:
        raise TypeError("a form model (Annotated[Model, Form()]) with other body parameters "
                        "is not supported yet (docs/fastapi-compat.md)")

    def read(request: Any) -> tuple[Any, Any]:
        items = parse(request)
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for ff in forms:
            f = ff.field
            if ff.model is not None:
                v, errs = f.validate(ff.model_input(items), ["body"])
            else:
                v, errs = f.validate(ff.extract(items, f.alias), ["body", f.alias])
            if errs is not None:
                errors.extend(errs)
            else:
                values[f.name] = v
        return values, (errors or None)
    return read
