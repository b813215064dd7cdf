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

import functools
import inspect
import json
import sys
import typing
from typing import Any

_REQUEST_PARAM = "_turbo_body_request"


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
    does for the values pydantic puts there (exceptions become their str)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
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


def _dump(result: Any) -> Any:
    """A returned model as FastAPI sends it (its JSON-mode dump, by alias)."""
    from pydantic import BaseModel

    from . import JSONResponse
    if isinstance(result, BaseModel):
        return JSONResponse(result.model_dump(mode="json", by_alias=True))
    return result


def _returning_model(func: Any, sig: inspect.Signature, hints: dict[str, Any]) -> Any:
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _dump(await func(*args, **kwargs))
    else:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return _dump(func(*args, **kwargs))
    wrapper.__signature__ = sig  # type: ignore[attr-defined]
    wrapper.__annotations__ = {k: v for k, v in hints.items() if k != "return"}
    del wrapper.__wrapped__  # type: ignore[attr-defined]
    return wrapper


def adapt(func: Any, request_type: type) -> Any:
    """func unchanged when it has no body parameter and is not annotated
    to return a model; else its wrapper."""
    sig = inspect.signature(func)
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        return func
    body = [p for p in sig.parameters.values() if _is_model(hints.get(p.name))]
    if not body:
        if _is_model(hints.get("return")):
            return _returning_model(func, sig, hints)
        return func
    if len(body) > 1:
        raise TypeError(f"{func.__qualname__}: several body parameters are not supported yet "
                        "(docs/fastapi-compat.md)")
    param = body[0]
    from pydantic import TypeAdapter, ValidationError

    from . import JSONResponse

    adapter = TypeAdapter(hints[param.name])
    required = param.default is inspect.Parameter.empty
    default = None if required else param.default

    def read(request: Any) -> tuple[Any, Any]:
        """(value, None) or (None, the 422 response)."""
        raw = request.body
        if not raw:
            if required:
                return None, JSONResponse({"detail": [{"type": "missing", "loc": ["body"],
                                                       "msg": "Field required", "input": None}]},
                                          status_code=422)
            return default, None
        if _json_wanted(request.headers.get("content-type")):
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as e:
                return None, JSONResponse({"detail": [{"type": "json_invalid", "loc": ["body", e.pos],
                                                       "msg": "JSON decode error", "input": {},
                                                       "ctx": {"error": e.msg}}]},
                                          status_code=422)
        else:
            value = raw
        try:
            return adapter.validate_python(value, from_attributes=True), None
        except ValidationError as exc:
            errors = []
            for err in exc.errors(include_url=False):
                err = dict(err, loc=["body", *err["loc"]])
                err["input"] = _plain(err["input"])
                if "ctx" in err:
                    err["ctx"] = _plain(err["ctx"])
                errors.append(err)
            return None, JSONResponse({"detail": errors}, status_code=422)

    name = param.name
    if inspect.iscoroutinefunction(func):
        @functools.wraps(func)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.pop(_REQUEST_PARAM)
            value, failed = read(request)
            if failed is not None:
                return failed
            kwargs[name] = value
            return _dump(await func(*args, **kwargs))
    else:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.pop(_REQUEST_PARAM)
            value, failed = read(request)
            if failed is not None:
                return failed
            kwargs[name] = value
            return _dump(func(*args, **kwargs))

    # What the plan sees: the other parameters, now all keyword-only (the
    # body one no longer among them, so positions cannot shift), and the
    # Request.
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
              for p in sig.parameters.values() if p.name != name]
    params.append(inspect.Parameter(_REQUEST_PARAM, inspect.Parameter.KEYWORD_ONLY,
                                    annotation=request_type))
    wrapper.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {k: v for k, v in hints.items() if k not in (name, "return")}
    wrapper.__annotations__[_REQUEST_PARAM] = request_type
    del wrapper.__wrapped__  # type: ignore[attr-defined]  # inspect must see __signature__
    return wrapper
