"""Generator endpoints on a FastAPI app: FastAPI 0.165 streams what a
`def` or `async def` endpoint with `yield` yields as JSON Lines
(application/jsonl), one JSON value and a newline per item, validated
through the item type of a `-> Iterator[Item]` (or AsyncIterator,
Generator, AsyncGenerator, Iterable, AsyncIterable) annotation.

Decided when the route is added: the endpoint becomes a plain function
with its signature that returns a StreamingResponse over its generator,
so parameters, dependencies and 422s are those of any route.
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import json
import math
import typing
from typing import Any

from . import StreamingResponse
from ._encode import jsonable_encoder

_STREAMS = {collections.abc.Iterator, collections.abc.AsyncIterator, collections.abc.Generator,
            collections.abc.AsyncGenerator, collections.abc.Iterable,
            collections.abc.AsyncIterable}
NO_ITEM_TYPE: Any = object()  # a generator endpoint without an item annotation


def is_generator(endpoint: Any) -> bool:
    return inspect.isgeneratorfunction(endpoint) or inspect.isasyncgenfunction(endpoint)


def item_type(endpoint: Any) -> Any:
    """The item type the return annotation declares, NO_ITEM_TYPE when
    there is none; TypeError for an annotation that is not a stream's."""
    try:
        ret = typing.get_type_hints(endpoint).get("return")
    except Exception:
        ret = None
    if ret is None:
        return NO_ITEM_TYPE
    origin = typing.get_origin(ret) or ret
    if origin not in _STREAMS:
        raise TypeError(f"a generator endpoint's return annotation must be Iterator[Item] "
                        f"(or AsyncIterator, Generator, Iterable...), not {ret!r}")
    args = typing.get_args(ret)
    return args[0] if args else Any


def _finite(value: Any) -> Any:
    """NaN and infinities as null, as FastAPI writes them in a stream."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def serializer(item: Any, exclude_none: bool, exclude_unset: bool) -> Any:
    """item -> its line's JSON bytes: through the item type (validated,
    pydantic's dump_json by alias), else jsonable_encoder and json.dumps
    with its default separators, as FastAPI writes each."""
    if item is NO_ITEM_TYPE:
        if exclude_none or exclude_unset:
            raise TypeError("response_model_exclude_* need an item type: annotate the "
                            "endpoint -> Iterator[Item]")

        def plain(value: Any) -> bytes:
            return json.dumps(_finite(jsonable_encoder(value))).encode()
        return plain
    from pydantic import TypeAdapter

    adapter = TypeAdapter(item)

    def typed(value: Any) -> bytes:
        return adapter.dump_json(adapter.validate_python(value, from_attributes=True),
                                 by_alias=True, exclude_none=exclude_none,
                                 exclude_unset=exclude_unset)
    return typed


def json_lines(endpoint: Any, item: Any, status_code: int | None, exclude_none: bool,
               exclude_unset: bool) -> Any:
    """endpoint as a function returning its items' JSON Lines stream."""
    encode = serializer(item, exclude_none, exclude_unset)
    status = 200 if status_code is None else status_code
    if inspect.isasyncgenfunction(endpoint):
        def call(*args: Any, **kwargs: Any) -> StreamingResponse:
            items = endpoint(*args, **kwargs)

            async def lines() -> Any:
                try:
                    async for value in items:
                        yield encode(value) + b"\n"
                finally:
                    await items.aclose()
            return StreamingResponse(lines(), status, media_type="application/jsonl")
    else:
        def call(*args: Any, **kwargs: Any) -> StreamingResponse:
            items = endpoint(*args, **kwargs)

            def lines() -> Any:
                try:
                    for value in items:
                        yield encode(value) + b"\n"
                finally:
                    items.close()
            return StreamingResponse(lines(), status, media_type="application/jsonl")
    functools.update_wrapper(call, endpoint)
    del call.__wrapped__  # type: ignore[attr-defined]
    sig = inspect.signature(endpoint)
    call.__signature__ = sig.replace(return_annotation=inspect.Signature.empty)  # type: ignore[attr-defined]
    call.__annotations__ = {k: v for k, v in typing.get_type_hints(endpoint,
                                                                   include_extras=True).items()
                            if k != "return"}
    return call
