"""Request bodies validated by pydantic models, as FastAPI reads them.

A handler with a parameter annotated with a pydantic BaseModel gets it
from the JSON request body. Everything is decided when the route is added
(`adapt`): a handler without such a parameter is returned unchanged, so
its requests keep the inline C path with no Python work added. One with a
body parameter is wrapped: the wrapper takes the other parameters as
before (converted in C per the plan) plus the Request, reads the body,
validates it with pydantic and answers 422 with FastAPI's detail list
(errors without `url`, `loc` prefixed with "body") when it fails.

FastAPI's rules, followed here: an empty body is "missing"; a body is
parsed as JSON only when Content-Type is application/json or
application/*+json (else the raw bytes are validated, and fail); malformed
JSON answers a json_invalid error at the decoder's position.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import sys
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from . import HTTPException, JSONResponse, Response, _ResponseHeaders, _routing

_REQUEST_PARAM = "_turbo_body_request"


# Constraints checked by pydantic (Field's), and what only documents a
# parameter (kept for the OpenAPI schema to come).
_CONSTRAINTS = frozenset({"gt", "ge", "lt", "le", "min_length", "max_length", "pattern",
                          "multiple_of"})
_DOCS = frozenset({"title", "description", "deprecated", "include_in_schema", "examples"})


class _Param:
    """A parameter declared with FastAPI's Query, Path, Header or Cookie:
    the default (... for required), the name it is sent under, its
    constraints."""

    source = ""
    _options: frozenset[str] = _CONSTRAINTS | _DOCS

    def __init__(self, default: Any = ..., *, alias: str | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - self._options)
        if unknown:
            raise TypeError(f"{type(self).__name__}(): {', '.join(unknown)} not supported yet "
                            "(docs/fastapi-compat.md)")
        self.default = default
        self.alias = alias
        self.convert_underscores = options.get("convert_underscores", True)
        self.constraints = {k: v for k, v in options.items() if k in _CONSTRAINTS}
        self.docs = {k: v for k, v in options.items() if k in _DOCS}


class Query(_Param):
    """A query parameter with constraints or an alias; a list type takes
    every value of a repeated key."""

    source = "query"


class Path(_Param):
    """A path parameter with constraints."""

    source = "path"


class Header(_Param):
    """A parameter from a request header field: by default the parameter's
    name with underscores as hyphens (x_token: X-Token), any case."""

    source = "header"
    _options = _Param._options | {"convert_underscores"}


class Cookie(_Param):
    """A parameter from a cookie of the request's Cookie field."""

    source = "cookie"


class Body:
    """A parameter read from the request body (FastAPI's Body): a model,
    list, dataclass, TypedDict or a plain value; embed=True (or several
    body parameters) reads it from the JSON object's key of its name (or
    alias)."""

    media_type = "application/json"
    _options: frozenset[str] = _CONSTRAINTS | _DOCS

    def __init__(self, default: Any = ..., *, embed: bool | None = None,
                 media_type: str | None = None, alias: str | None = None,
                 **options: Any) -> None:
        unknown = sorted(set(options) - self._options)
        if unknown:
            raise TypeError(f"{type(self).__name__}(): {', '.join(unknown)} not supported yet "
                            "(docs/fastapi-compat.md)")
        if options.get("include_in_schema") is False:
            raise TypeError(f"{type(self).__name__}(): include_in_schema=False not supported yet "
                            "(docs/fastapi-compat.md)")
        self.default = default
        self.embed = embed
        if media_type is not None:
            self.media_type = media_type
        self.alias = alias
        self.constraints = {k: v for k, v in options.items() if k in _CONSTRAINTS}
        self.docs = {k: v for k, v in options.items() if k in _DOCS}


def _body_marker(param: inspect.Parameter, hint: Any) -> tuple[Any, Any]:
    """(the Body marker, the type) of a parameter, from its default or from
    Annotated[type, Body()]; (None, hint) for any other."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
        for m in reversed(meta):
            if isinstance(m, Body):
                return m, base
    if isinstance(param.default, Body):
        return param.default, hint
    from . import _forms
    if _forms._is_upload(hint):
        return _forms.File(), hint  # FastAPI reads an UploadFile as File()
    return None, hint


def _is_body_type(tp: Any) -> bool:
    """Whether FastAPI reads a parameter of this type from the body when
    nothing marks it: a model, a mapping (TypedDict too), a sequence other
    than str/bytes, a dataclass, or a union with one of them."""
    import collections.abc
    import dataclasses

    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _is_body_type(typing.get_args(tp)[0])
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is _union_type()):
        return any(_is_body_type(a) for a in typing.get_args(tp))

    def complex_(t: Any) -> bool:
        if not isinstance(t, type):
            return False
        if issubclass(t, (str, bytes)):
            return False
        if issubclass(t, (collections.abc.Mapping, list, tuple, set, frozenset,
                          collections.abc.Sequence, collections.deque)):
            return True
        if dataclasses.is_dataclass(t):
            return True
        pydantic = sys.modules.get("pydantic")
        return pydantic is not None and issubclass(t, pydantic.BaseModel)
    return complex_(tp) or complex_(origin)


def _union_type() -> Any:
    import types
    return getattr(types, "UnionType", None)


_Undefined = object()


def _missing(loc: list[Any]) -> dict[str, Any]:
    return {"type": "missing", "loc": loc, "msg": "Field required", "input": None}


class _BodyField:
    """One body parameter: its name, the key it is read under when
    embedded, its default, and its validator."""

    def __init__(self, name: str, tp: Any, marker: Any, default: Any) -> None:
        from pydantic import Field, TypeAdapter

        self.name = name
        self.tp = tp
        self.marker = marker
        self.marker_embed = False
        self.alias = (marker.alias if marker is not None and marker.alias else name)
        if marker is not None and default is inspect.Parameter.empty:
            default = marker.default
        self.required = default is inspect.Parameter.empty or default is ...
        self.default = None if self.required else default
        constraints = marker.constraints if marker is not None else {}
        self.adapter = TypeAdapter(typing.Annotated[tp, Field(**constraints)]
                                   if constraints else tp)

    def validate(self, value: Any, loc: list[Any]) -> tuple[Any, Any]:
        from pydantic import ValidationError

        if value is _Undefined:
            if self.required:
                return None, [_missing(loc)]
            import copy
            return copy.deepcopy(self.default), None
        try:
            return self.adapter.validate_python(value, from_attributes=True), None
        except ValidationError as exc:
            return None, [_error(e, loc) for e in exc.errors(include_url=False)]


def _read_json(request: Any) -> Any:
    """The body as FastAPI gives it to its fields: _Undefined when empty,
    the parsed JSON for a JSON Content-Type, else the bytes. Malformed
    JSON: a json_invalid error list (returned, not raised)."""
    raw = request.body
    if not raw:
        return _Undefined
    if not _json_wanted(request._header("content-type")):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as e:
        return _JSONInvalid([{"type": "json_invalid", "loc": ["body", e.pos],
                              "msg": "JSON decode error", "input": {},
                              "ctx": {"error": e.msg}}])
    except Exception:
        raise HTTPException(400, "There was an error parsing the body") from None


class _JSONInvalid(list):  # type: ignore[type-arg]
    """The errors of a body that is not JSON."""


def _embedded_reader(fields: list[_BodyField]) -> Any:
    """request -> ({name: value}, errors) for body parameters read from
    the keys of a JSON object (several, or embed=True)."""
    def read(request: Any) -> tuple[Any, Any]:
        body = _read_json(request)
        if isinstance(body, _JSONInvalid):
            return None, list(body)
        values: dict[str, Any] = {}
        errors: list[Any] = []
        for f in fields:
            loc = ["body", f.alias]
            value = _Undefined
            if body is not _Undefined and not isinstance(body, bytes):
                get = getattr(body, "get", None)
                if get is None:  # a list, a string, null: not an object
                    errors.append(_missing(loc))
                    continue
                value = get(f.alias, _Undefined)
            v, errs = f.validate(value, loc)
            if errs is not None:
                errors.extend(errs)
            else:
                values[f.name] = v
        return values, (errors or None)
    return read


_SOURCE_ORDER = {"path": 0, "query": 1, "header": 2, "cookie": 3}  # FastAPI's error order


def _cookies(request: Any) -> dict[str, str]:
    """The request's cookies, split as Starlette splits them (every
    `name=value` between semicolons, the value unquoted)."""
    from ._request import parse_cookies

    return parse_cookies([request.headers.get("cookie") or ""])


def _marker(param: inspect.Parameter, hint: Any) -> tuple[Any, Any]:
    """(the Header/Cookie marker, the type) of a parameter, from its default
    or from Annotated[type, Header()]; (None, hint) for any other."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
        for m in meta:
            if isinstance(m, _Param):
                return m, base
        hint = base
    if isinstance(param.default, _Param):
        return param.default, hint
    return None, hint


def _extractor(param: inspect.Parameter, marker: _Param, tp: Any) -> Any:
    """request -> (value, errors) for a Header or Cookie parameter."""
    if marker.alias is not None:
        name = marker.alias
    elif marker.source == "header" and marker.convert_underscores:
        name = param.name.replace("_", "-")
    else:
        name = param.name
    default = marker.default
    if param.default is not inspect.Parameter.empty and not isinstance(param.default, _Param):
        default = param.default  # Annotated[..., Header()] = default
    required = default is ...
    many = typing.get_origin(tp) in (list, tuple, set)
    if many and marker.source != "query":
        raise TypeError(f"{param.name}: several values are read from the query only "
                        "(docs/fastapi-compat.md)")
    if (tp is str or tp == typing.Optional[str]) and not marker.constraints:
        def convert(raw: Any) -> tuple[Any, Any]:
            return raw, None
    else:
        from pydantic import Field, TypeAdapter, ValidationError

        adapter = TypeAdapter(typing.Annotated[tp, Field(**marker.constraints)]
                              if marker.constraints else tp)

        def convert(raw: Any) -> tuple[Any, Any]:
            try:
                return adapter.validate_python(raw), None
            except ValidationError as exc:
                return None, [_error(e, [marker.source, name]) for e in exc.errors(include_url=False)]
    source, key = marker.source, name.lower()

    def extract(request: Any) -> tuple[Any, Any]:
        if source == "header":
            raw = request._header(key)
        elif source == "cookie":
            raw = _cookies(request).get(name)
        elif source == "path":
            raw = request.path_params.get(name)
        else:
            # As Starlette reads a query: every pair, blank values kept; a
            # repeated key's last value, or all of them for a list.
            from urllib.parse import parse_qsl

            values = [v for k, v in parse_qsl(request.query_string, keep_blank_values=True)
                      if k == name]
            raw = (values or None) if many else (values[-1] if values else None)
        if raw is None:
            if required:
                return None, [{"type": "missing", "loc": [source, name], "msg": "Field required",
                               "input": None}]
            return default, None
        return convert(raw)
    return extract


class BackgroundTasks:
    """Work to do once the response has been sent (FastAPI's): a handler
    (or dependency) with a parameter annotated BackgroundTasks gets one and
    calls add_task(func, *args, **kwargs). They run in order on the I/O
    thread's asyncio loop, an async function awaited there, a plain one on
    the loop's default executor (as Starlette runs it in a thread); one
    that raises is logged, and the ones after it do not run."""

    def __init__(self) -> None:
        self.tasks: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []

    def add_task(self, func: Any, *args: Any, **kwargs: Any) -> None:
        self.tasks.append((func, args, kwargs))

    async def __call__(self) -> None:
        import asyncio

        from . import log
        loop = asyncio.get_running_loop()
        for func, args, kwargs in self.tasks:
            try:
                if inspect.iscoroutinefunction(func):
                    await func(*args, **kwargs)
                else:
                    await loop.run_in_executor(None, functools.partial(func, *args, **kwargs))
            except Exception:
                log.exception("a background task raised; the ones after it are not run")
                return


_TEMPORAL = "turbo temporal response"


async def _temporal_response(request: Any, cache: dict[Any, Any],
                             cleanups: list[Any]) -> tuple[Any, Any]:
    """The request's one `response: Response` parameter (FastAPI's
    temporal response, shared by handler and dependencies): what is set on
    it (headers, cookies, status_code) goes into the answer."""
    sub = cache.get(_TEMPORAL)
    if sub is None:
        sub = cache[_TEMPORAL] = Response(b"", 200, {})
        sub.status_code = None  # type: ignore[assignment]
    return sub, None


def _with_temporal(raw: Any, sub: Any, status_code: int | None, shape: Any) -> Any:
    """raw made the answer as FastAPI 0.165 makes it with a temporal
    response: a returned Response as it is; else with sub's status_code
    when it set one (over the route's), and sub's headers and cookies."""
    if isinstance(raw, Response):
        return raw
    result = _dump(raw, sub.status_code if sub.status_code is not None else status_code, shape)
    if not isinstance(result, Response):
        result = JSONResponse(result)
    headers = result.headers
    if not isinstance(headers, _ResponseHeaders):
        headers = result.headers = _ResponseHeaders(headers if headers is not None else {})
    sub_headers = sub.headers if sub.headers is not None else {}
    for name, value in (dict.items(sub_headers) if isinstance(sub_headers, dict)
                        else sub_headers.items()):
        headers[name] = value
    headers.cookies.extend(getattr(sub_headers, "cookies", ()))
    return result


async def _background_tasks(request: Any, cache: dict[Any, Any],
                            cleanups: list[Any]) -> tuple[Any, Any]:
    """The request's one BackgroundTasks (shared by handler and dependencies)."""
    tasks = cache.get(BackgroundTasks)
    if tasks is None:
        tasks = cache[BackgroundTasks] = BackgroundTasks()
    return tasks, None


class Depends:
    """A parameter whose value is what `dependency` returns for the request
    (FastAPI's Depends): its own parameters are the Request, other
    Depends, Header and Cookie, and path or query parameters; it may be
    async, or a generator whose code after `yield` runs once the handler
    has returned. Solved once per request unless use_cache=False."""

    def __init__(self, dependency: Any = None, *, use_cache: bool = True) -> None:
        self.dependency = dependency
        self.use_cache = use_cache


def _is_security_scopes(tp: Any) -> bool:
    security = sys.modules.get(__package__ + "._security")
    return security is not None and tp is security.SecurityScopes


def _dep_marker(param: inspect.Parameter, hint: Any) -> tuple[Any, Any]:
    """(the Depends marker, the type) of a parameter, or (None, hint)."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *meta = typing.get_args(hint)
        for m in meta:
            if isinstance(m, Depends):
                return m, base
    if isinstance(param.default, Depends):
        return param.default, hint
    return None, hint


def _value_converter(tp: Any, loc: list[Any]) -> Any:
    """raw str -> (value, errors) for a path or query value of type tp."""
    if tp in (str, inspect.Parameter.empty, None, typing.Any) or tp == typing.Optional[str]:
        return lambda raw: (raw, None)
    from pydantic import TypeAdapter, ValidationError

    adapter = TypeAdapter(tp)

    def convert(raw: str) -> tuple[Any, Any]:
        try:
            return adapter.validate_python(raw), None
        except ValidationError as exc:
            return None, [_error(e, loc) for e in exc.errors(include_url=False)]
    return convert


# app.dependency_overrides while an App makes a route (overriding()).
_OVERRIDES: contextvars.ContextVar[Mapping[Any, Any]] = contextvars.ContextVar(
    "turbo_dependency_overrides", default={})


@contextlib.contextmanager
def overriding(overrides: Mapping[Any, Any]) -> Iterator[None]:
    """Dependencies resolved meanwhile take overrides' replacements."""
    token = _OVERRIDES.set(overrides)
    try:
        yield
    finally:
        _OVERRIDES.reset(token)


def _dependency(marker: Depends, tp: Any, request_type: type, scopes: tuple[str, ...] = (),
                request_view: Any = None) -> Any:
    """async (request, cache, cleanups) -> (value, errors) for a Depends
    (scopes: those of the Security dependencies above it, for a
    SecurityScopes parameter; request_view: a FastAPI app's Request view
    class, for a Request parameter of the app's own dependencies); the
    app's dependency_overrides replacement for it, when it has one."""
    func = marker.dependency if marker.dependency is not None else tp
    func = _OVERRIDES.get().get(func, func)
    if not callable(func):
        raise TypeError(f"Depends(): {func!r} is not callable")
    scopes = (*scopes, *getattr(marker, "scopes", ()))
    sig = inspect.signature(func)
    # A callable instance (a security scheme): its __call__'s annotations.
    target = func if inspect.isroutine(func) or isinstance(func, type) \
        else getattr(type(func), "__call__", func)
    try:
        hints = typing.get_type_hints(target, include_extras=True)
    except Exception:
        hints = {}
    steps = []  # (name, kind, how)
    for p in sig.parameters.values():
        hint = hints.get(p.name, p.annotation)
        dep, base = _dep_marker(p, hint)
        if dep is not None:
            steps.append((p.name, "dep", _dependency(dep, base, request_type, scopes,
                                                     request_view)))
            continue
        if _is_security_scopes(base):
            steps.append((p.name, "request", scopes))
            continue
        source, base = _marker(p, hint)
        if source is not None:
            steps.append((p.name, "extract", _extractor(p, source, base)))
        elif base is BackgroundTasks:
            steps.append((p.name, "dep", _background_tasks))
        elif base is Response:
            steps.append((p.name, "dep", _temporal_response))
        elif base is request_type:
            # turbo's own security schemes read the C request as it is (a
            # subclass's own __call__ gets the view, which they read too)
            own = getattr(getattr(type(func), "__call__", None), "__module__", None)
            view = None if own == "turbo._security" else request_view
            steps.append((p.name, "request", view))
        elif _is_body_type(base) or _body_marker(p, hint)[0] is not None:
            raise TypeError(f"{getattr(func, '__qualname__', func)}: a body parameter in a "
                            "dependency is not supported yet (docs/fastapi-compat.md)")
        else:
            default = p.default
            steps.append((p.name, "param", (p.name, default, _value_converter(base, ["path", p.name]),
                                            _value_converter(base, ["query", p.name]))))
    gen = inspect.isgeneratorfunction(func)
    agen = inspect.isasyncgenfunction(func)
    # (a callable instance whose __call__ is an async def: awaited too, as
    # FastAPI awaits it)
    coro = inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(target)

    async def solve(request: Any, cache: dict[Any, Any], cleanups: list[Any]) -> tuple[Any, Any]:
        if marker.use_cache and func in cache:
            return cache[func], None
        kwargs: dict[str, Any] = {}
        errors: list[Any] = []
        for name, kind, how in steps:
            if kind == "dep":
                v, errs = await how(request, cache, cleanups)
            elif kind == "extract":
                v, errs = how(request)
            elif kind == "request":
                if how is None:
                    v, errs = request, None
                elif isinstance(how, type):
                    v, errs = how(request), None
                else:
                    from ._security import SecurityScopes
                    v, errs = SecurityScopes(list(how)), None
            else:
                pname, default, from_path, from_query = how
                path_params = request.path_params
                if pname in path_params:
                    v, errs = from_path(path_params[pname])
                else:
                    raw = request.query_params.get(pname)
                    if raw is not None:
                        v, errs = from_query(raw)
                    elif default is inspect.Parameter.empty:
                        v, errs = None, [{"type": "missing", "loc": ["query", pname],
                                          "msg": "Field required", "input": None}]
                    else:
                        v, errs = default, None
            if errs is not None:
                errors.extend(errs)
            else:
                kwargs[name] = v
        if errors:
            return None, errors
        if gen:
            it = func(**kwargs)
            value = next(it)
            cleanups.append(it)
        elif agen:
            it = func(**kwargs)
            value = await it.__anext__()
            cleanups.append(it)
        else:
            value = func(**kwargs)
            if coro:
                value = await value
        if marker.use_cache:
            cache[func] = value
        return value, None
    return solve


async def _clean_up(cleanups: list[Any], exc: BaseException | None) -> None:
    """The code after each generator dependency's yield, last first; the
    handler's exception, if any, is raised at the yield."""
    for it in reversed(cleanups):
        if inspect.isasyncgen(it):
            if exc is None:
                async for _ in it:
                    raise RuntimeError("a dependency with yield yielded twice")
            else:
                try:
                    await it.athrow(exc)
                except BaseException as e:  # noqa: BLE001 - the handler's, or the dependency's own
                    if e is not exc:
                        raise
        else:
            if exc is None:
                for _ in it:
                    raise RuntimeError("a dependency with yield yielded twice")
            else:
                try:
                    it.throw(exc)
                except BaseException as e:  # noqa: BLE001
                    if e is not exc:
                        raise


def _error(err: Any, prefix: list[Any]) -> dict[str, Any]:
    """A pydantic error as FastAPI's detail entry: no url, loc prefixed."""
    err = dict(err, loc=[*prefix, *err["loc"]])
    err["input"] = _plain(err["input"])
    if "ctx" in err:
        err["ctx"] = _plain(err["ctx"])
    return err


def _is_model(tp: Any) -> bool:
    """A BaseModel subclass, or Optional of one."""
    args = typing.get_args(tp)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            tp = rest[0]
    # An annotation that is a model means pydantic is imported already: an
    # app that does not use it does not pay for importing it here.
    pydantic = sys.modules.get("pydantic")
    if pydantic is None:
        return False
    return isinstance(tp, type) and issubclass(tp, pydantic.BaseModel)


def _plain(value: Any) -> Any:
    """An error's ctx/input made JSON-encodable as FastAPI's jsonable_encoder
    does for the values pydantic puts there (an exception, neither a
    mapping nor iterable, becomes its vars(): {} for a ValueError)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, BaseException):
        return _plain(dict(vars(value)))
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _json_wanted(content_type: str | None) -> bool:
    if not content_type:
        return False
    mime = content_type.split(";", 1)[0].strip().lower()
    maintype, _, subtype = mime.partition("/")
    return maintype == "application" and (subtype == "json" or subtype.endswith("+json"))


def response_model_of(func: Any, response_model: Any, fastapi: bool) -> Any:
    """The route's response model: response_model= as given (None: none),
    else (_routing.ANNOTATED) its return annotation: on a FastAPI app any but
    None or a Response class, as FastAPI 0.165 takes it; on an App only
    a pydantic model or Optional of one. (A status_code that has no body
    with a response model is refused by _openapi.Operation.)"""
    if response_model is _routing.ANNOTATED:
        try:
            ret = typing.get_type_hints(func).get("return")
        except Exception:
            ret = None
        if ret is type(None) or (isinstance(ret, type) and issubclass(ret, Response)):
            ret = None
        response_model = ret if fastapi or _is_model(ret) else None
    return response_model


def response_shape(model: Any, exclude_none: bool, exclude_unset: bool,
                   python: bool = False) -> Any:
    """result -> its JSON-able form through the route's response model
    (response_model_of), as FastAPI filters and validates what a handler
    returns; None when there is none. A type pydantic cannot validate is
    refused here, when the route is added."""
    if model is None:
        if exclude_none or exclude_unset:
            raise TypeError("response_model_exclude_* need a response model")
        return None
    from pydantic import TypeAdapter

    from pydantic.errors import PydanticSchemaGenerationError

    try:
        adapter = TypeAdapter(model)
    except PydanticSchemaGenerationError:
        raise TypeError(
            f"the response model {model!r} is not a type pydantic can validate; for a "
            "return annotation such as `Response | dict`, give response_model=None") from None
    validate = adapter.validate_python
    dump_json = adapter.dump_json

    if python:
        # For a response_class: FastAPI hands it the JSON-mode Python form.
        def shape_python(result: Any) -> Any:
            return adapter.dump_python(validate(result, from_attributes=True), mode="json",
                                       by_alias=True, exclude_none=exclude_none,
                                       exclude_unset=exclude_unset)
        return shape_python

    def shape(result: Any) -> bytes:
        # As FastAPI 0.165 serializes through a response model when the
        # route has no response_class: validated, then pydantic's own
        # dump_json, so the bytes are the same as FastAPI's (and no dict
        # is made only to be encoded again).
        return dump_json(validate(result, from_attributes=True), by_alias=True,
                         exclude_none=exclude_none, exclude_unset=exclude_unset)
    return shape


def check_response_class(cls: Any) -> Any:
    """response_class= as given: None or JSONResponse (turbo's own JSON,
    which is the default), else a Response subclass, whose routes then
    build their answers with it."""
    if cls is None or cls is JSONResponse:
        return None
    if not (isinstance(cls, type) and issubclass(cls, Response)):
        raise TypeError(f"response_class must be a Response subclass, not {cls!r}")
    return cls


def with_response_class(called: Any, cls: type, status_code: int | None, shape: Any) -> Any:
    """called's results (unless a Response already) made into cls, as
    FastAPI does for a route's response_class: through the response model
    in JSON-mode Python form, else a str or bytes as it is and anything
    else as jsonable_encoder would make it; status_code passed on."""
    from ._encode import jsonable_encoder

    def make(result: Any) -> Any:
        if isinstance(result, Response):
            return result
        if shape is not None:
            result = shape(result)
        elif not isinstance(result, (str, bytes)):
            result = jsonable_encoder(result)  # what FastAPI hands the class
        if status_code is not None:
            return cls(result, status_code=status_code)
        return cls(result)

    if inspect.iscoroutinefunction(called):
        @functools.wraps(called)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return make(await called(*args, **kwargs))
    else:
        @functools.wraps(called)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return make(called(*args, **kwargs))
    return wrapper


class _Invalid(JSONResponse):
    """FastAPI's 422 for a request whose parameters or body were refused;
    an app with a RequestValidationError handler gets the errors and the
    body from it instead (turbo/_handlers.py)."""

    def __init__(self, detail: list[Any], request: Any) -> None:
        super().__init__({"detail": detail}, status_code=422)
        raw = request.body
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        self._turbo_invalid = (detail, body)


class _ModelJSON(Response):
    """A response model's JSON bytes: Response's fields set directly (no
    render, no headers), the fewest steps between dump_json and C."""

    media_type = "application/json"
    headers = None

    def __init__(self, body: bytes, status_code: int) -> None:  # pylint: disable=super-init-not-called
        self.body = body
        self.status_code = status_code


def _dump(result: Any, status_code: int | None = None, shape: Any = None) -> Any:
    """What a wrapped handler returned, as FastAPI sends it: a Response as
    it is; else through the response model (shape), or a model's JSON-mode
    dump by alias; with status_code, as JSON with that status (no body for
    204, 304 and 1xx, with FastAPI's Content-Type all the same)."""
    if isinstance(result, Response):
        return result
    json_form = False
    if shape is not None:
        if status_code is not None and (status_code < 200 or status_code in (204, 304)):
            return Response(b"", status_code, media_type="application/json")
        return _ModelJSON(shape(result), 200 if status_code is None else status_code)
    else:
        pydantic = sys.modules.get("pydantic")
        if pydantic is not None and isinstance(result, pydantic.BaseModel):
            result, json_form = result.model_dump(mode="json", by_alias=True), True
    if status_code is not None:
        if status_code < 200 or status_code in (204, 304):
            return Response(b"", status_code, media_type="application/json")
        return JSONResponse(result, status_code=status_code)
    return JSONResponse(result) if json_form else result


def _returning_model(func: Any, sig: inspect.Signature, hints: dict[str, Any],
                     status_code: int | None = None, shape: Any = None) -> Any:
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _dump(await func(*args, **kwargs), status_code, shape)
    else:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _dump(func(*args, **kwargs), status_code, shape)
    wrapper.__signature__ = sig  # type: ignore[attr-defined]
    wrapper.__annotations__ = {k: v for k, v in hints.items() if k != "return"}
    del wrapper.__wrapped__  # type: ignore[attr-defined]
    return wrapper


def _is_form(marker: Any) -> bool:
    from . import _forms
    return isinstance(marker, _forms.Form)


def _body_fields(sig: inspect.Signature, hints: dict[str, Any], plain_hints: dict[str, Any],
                 taken: set[Any], path_names: Any) -> list[_BodyField]:
    """The body parameters, in order: those marked Body(), and those of a
    type FastAPI reads from the body (a model, list, dict, dataclass...).
    A path parameter (path_names; None: unknown) never is one."""
    out = []
    for p in sig.parameters.values():
        if p.name in taken or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        marker, tp = _body_marker(p, hints.get(p.name, p.annotation))
        if marker is None:
            tp = plain_hints.get(p.name)
            if path_names is not None and p.name in path_names:
                continue
            if tp is None or isinstance(tp, type) and issubclass(tp, BackgroundTasks) \
                    or not _is_body_type(tp):
                continue
        default = p.default if not isinstance(p.default, Body) else inspect.Parameter.empty
        f = _BodyField(p.name, tp, marker, default)
        out.append(f)
        plain_hints[p.name] = tp
    embed = len(out) > 1 or (len(out) == 1 and out[0].marker is not None
                             and bool(out[0].marker.embed))
    for f in out:
        f.marker_embed = embed
    return out


def _keep(result: Any, status_code: int | None = None, shape: Any = None) -> Any:
    return result


def adapt(func: Any, request_type: type, status_code: int | None = None,
          dependencies: Any = (), shape: Any = None, path_names: Any = None,
          raw: bool = False, request_view: Any = None) -> Any:
    """func unchanged when it has no body, header or cookie parameter, is
    not annotated to return a model and has no status_code; else its
    wrapper. raw: the wrapper returns what func returns, unconverted (a
    response_class route converts it). request_view: a FastAPI app's
    Request view class, for its dependencies' Request parameters."""
    dump = _keep if raw else _dump
    sig = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:
        return func
    # Header and Cookie parameters, in order (FastAPI lists header errors
    # before cookie errors, both before the body's).
    extracted = []  # (name, source, request -> (value, errors))
    plain_hints = {}
    # (name, async solver), solved before everything else: the app's,
    # router's and route's dependencies= first (their values unused), then
    # the parameters'.
    deps: list[tuple[str | None, Any]] = []
    for d in dependencies:
        if not isinstance(d, Depends):
            raise TypeError(f"dependencies= takes Depends(...) items, not {d!r}")
        deps.append((None, _dependency(d, None, request_type, request_view=request_view)))
    for p in sig.parameters.values():
        dep, tp = _dep_marker(p, hints.get(p.name))
        if dep is None and tp is BackgroundTasks:
            plain_hints[p.name] = tp
            deps.append((p.name, _background_tasks))
            continue
        if dep is None and tp is Response:
            plain_hints[p.name] = tp
            deps.append((p.name, _temporal_response))
            continue
        if dep is not None:
            plain_hints[p.name] = tp
            deps.append((p.name, _dependency(dep, tp, request_type, request_view=request_view)))
            continue
        marker, tp = _marker(p, hints.get(p.name))
        plain_hints[p.name] = tp
        if marker is not None:
            extracted.append((p.name, marker.source, _extractor(p, marker, tp)))
    extracted.sort(key=lambda e: _SOURCE_ORDER[e[1]])
    body = _body_fields(sig, hints, plain_hints, {e[0] for e in extracted} | {
        d[0] for d in deps if d[0] is not None}, path_names)
    if not body and not extracted and not deps:
        if shape is not None or status_code is not None:
            return _returning_model(func, sig, typing.get_type_hints(func), status_code, shape)
        return func

    body_name: str | None = None
    read: Any = None
    if any(_is_form(f.marker) for f in body):
        from . import _forms
        read = _forms.reader(body)
    elif len(body) == 1 and not body[0].marker_embed:
        read = _body_reader(body[0])
        body_name = body[0].name
    elif body:
        read = _embedded_reader(body)

    def solve(request: Any, kwargs: dict[str, Any], detail: list[Any]) -> Any:
        """Fills kwargs; the 422 response when something is invalid
        (detail: the dependencies' errors, found first)."""
        value = errors = None
        if read is not None:
            value, errors = read(request)
            if errors is not None and errors[0]["type"] == "json_invalid":
                return _Invalid(errors, request)  # before the rest
        for name, _source, extract in extracted:
            v, errs = extract(request)
            if errs is not None:
                detail.extend(errs)
            else:
                kwargs[name] = v
        if errors is not None:
            detail.extend(errors)
        elif body_name is not None:
            kwargs[body_name] = value
        elif read is not None:
            kwargs.update(value)
        if detail:
            return _Invalid(detail, request)
        return None

    is_async = inspect.iscoroutinefunction(func)
    if deps:
        # Dependencies may be async: so is the wrapper (a def handler runs
        # inside it, on the I/O thread as a def handler does).
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.pop(_REQUEST_PARAM)
            cache: dict[Any, Any] = {}
            cleanups: list[Any] = []
            detail: list[Any] = []
            try:
                for name, dep in deps:
                    v, errs = await dep(request, cache, cleanups)
                    if errs is not None:
                        detail.extend(errs)
                    elif name is not None:
                        kwargs[name] = v
                failed = solve(request, kwargs, detail)
                if failed is not None:
                    result = failed
                else:
                    result = func(*args, **kwargs)
                    if is_async:
                        result = await result
                    sub = cache.get(_TEMPORAL)
                    result = (dump(result, status_code, shape) if sub is None
                              else _with_temporal(result, sub, status_code, shape))
            except BaseException as exc:
                await _clean_up(cleanups, exc)
                raise
            await _clean_up(cleanups, None)
            tasks = cache.get(BackgroundTasks)
            if tasks is not None and tasks.tasks and not detail:
                # After the answer: it is written once this coroutine has
                # returned it, before the loop runs the Task.
                import asyncio
                asyncio.get_running_loop().create_task(tasks())
            return result
    elif is_async:
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            failed = solve(kwargs.pop(_REQUEST_PARAM), kwargs, [])
            if failed is not None:
                return failed
            return dump(await func(*args, **kwargs), status_code, shape)
    else:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            failed = solve(kwargs.pop(_REQUEST_PARAM), kwargs, [])
            if failed is not None:
                return failed
            return dump(func(*args, **kwargs), status_code, shape)

    # What the plan sees: the path and query parameters, now all
    # keyword-only (the body, header and cookie ones no longer among them,
    # so positions cannot shift), and the Request.
    taken = {*(f.name for f in body), *(e[0] for e in extracted), *(d[0] for d in deps)}
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
              for p in sig.parameters.values() if p.name not in taken]
    params.append(inspect.Parameter(_REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY,
                                    annotation=request_type))
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {k: v for k, v in plain_hints.items()
                               if k not in taken and k != "return"}
    wrapper.__annotations__[_REQUEST_PARAM] = request_type
    del wrapper.__wrapped__  # type: ignore[attr-defined]  # inspect must see __signature__
    return wrapper


# Core-schema features under which pydantic's JSON mode may accept what its
# Python mode (FastAPI's: json.loads, then validate_python) refuses, or
# make another value of it: strict fields (JSON mode takes strings for
# dates, UUIDs, enums...), bytes (val_json_bytes decodes base64 in JSON
# mode only), decimals (JSON mode reads the number's text, Python mode the
# float json.loads made), and functions, which see different inputs.
_JSON_MODE_DIFFERS = ("'strict': True", "'bytes'", "val_json_bytes", "'decimal'", "function-",
                      "'complex'", "'json'",
                      # smart-mode unions pick another member from a JSON
                      # string ('2020-01-01' is a date there, a str in
                      # Python mode); numbers coerced to str keep their
                      # JSON text; a Fraction reads the number's text
                      "'type': 'union'", "'coerce_numbers_to_str': True", "'fraction'",
                      "'json-or-python'")


def _json_mode_agrees(adapter: Any) -> bool:
    """Whether validate_json(raw) gives what validate_python(json.loads(raw))
    gives for every raw the latter accepts: decided once per route from
    the core schema, conservatively."""
    try:
        text = repr(adapter.core_schema)
    except Exception:
        return False
    return not any(mark in text for mark in _JSON_MODE_DIFFERS)


def _body_reader(field: _BodyField) -> Any:
    """request -> (value, errors) for the one body parameter, not embedded."""
    from pydantic import ValidationError

    adapter = field.adapter
    required = field.required
    default = field.default
    validate_json = adapter.validate_json if _json_mode_agrees(adapter) else None

    def read(request: Any) -> tuple[Any, Any]:
        raw = request.body
        if not raw:
            if required:
                return None, [{"type": "missing", "loc": ["body"], "msg": "Field required",
                               "input": None}]
            return default, None
        if _json_wanted(request._header("content-type")):
            if validate_json is not None:
                # The fast path: pydantic parses and validates in one pass.
                # Anything it refuses goes the slow way below, whose errors
                # are FastAPI's (json.loads' messages, Python-mode inputs).
                try:
                    return validate_json(raw), None
                except ValidationError:
                    pass
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as e:
                return None, [{"type": "json_invalid", "loc": ["body", e.pos],
                               "msg": "JSON decode error", "input": {}, "ctx": {"error": e.msg}}]
            except Exception:
                # Not JSON's syntax but its bytes (say, invalid UTF-8):
                # FastAPI's 400 for a body it could not read.
                raise HTTPException(400, "There was an error parsing the body") from None
        else:
            value = raw
        try:
            return adapter.validate_python(value, from_attributes=True), None
        except ValidationError as exc:
            return None, [_error(e, ["body"]) for e in exc.errors(include_url=False)]
    return read
