"""The JSON form of values JSON has no type for, when a handler returns
them (inside a dict or list, or alone): the C encoder calls `fallback`
only for a value it cannot write itself, so a result of plain dicts,
lists, str, numbers, bool and None never comes here.

The forms are those FastAPI's jsonable_encoder gives, so that a handler
ported from FastAPI answers the same bytes: a pydantic model is dumped in
JSON mode by alias, a dataclass becomes its fields, an Enum its value,
dates and times ISO 8601 text, a timedelta its seconds, a Decimal an int
when it has no fraction digits (else a float), a UUID, path or IP address
its text, a set, frozenset, deque or generator a list, bytes their UTF-8
text; any other object dict(value), else its attributes (vars), as
FastAPI does. What has neither stays refused: TypeError, a 500 for that
request.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import ipaddress
import pathlib
import re
import sys
import types
import uuid
from collections import deque
from typing import Any

_AS_TEXT = (uuid.UUID, pathlib.PurePath, ipaddress.IPv4Address, ipaddress.IPv6Address,
            ipaddress.IPv4Network, ipaddress.IPv6Network, ipaddress.IPv4Interface,
            ipaddress.IPv6Interface)
_AS_LIST = (set, frozenset, deque, types.GeneratorType)


def fallback(value: Any) -> Any:
    """value's JSON-encodable form, or NotImplemented."""
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime.date, datetime.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        exponent = value.as_tuple().exponent
        return int(value) if isinstance(exponent, int) and exponent >= 0 else float(value)
    if isinstance(value, _AS_TEXT):
        return str(value)
    if isinstance(value, _AS_LIST):
        return list(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode()
    if isinstance(value, re.Pattern):
        return value.pattern
    if pydantic is not None:
        core = sys.modules.get("pydantic_core")
        if core is not None and isinstance(value, (core.Url, core.MultiHostUrl)):
            return str(value)
        networks = sys.modules.get("pydantic.networks")
        urls = tuple(t for t in (getattr(networks, "_BaseUrl", None),
                                 getattr(networks, "_BaseMultiHostUrl", None)) if t is not None)
        if urls and isinstance(value, urls):  # HttpUrl, AnyUrl...: their text
            return str(value)
        if isinstance(value, (pydantic.SecretStr, pydantic.SecretBytes, pydantic.NameEmail)):
            return str(value)
        color = sys.modules.get("pydantic.color")  # deprecated, still in FastAPI's table
        if color is not None and isinstance(value, color.Color):
            return str(value)
        if core is not None and value is getattr(core, "PydanticUndefined", None):
            return None
    # FastAPI's last resort for any other object: dict(value), else its
    # attributes (an object without either stays refused).
    try:
        fields = dict(value)
    except Exception:
        try:
            fields = vars(value)
        except TypeError:
            return NotImplemented
    # As FastAPI (sqlalchemy_safe): an ORM row's _sa_instance_state and
    # the like are left out.
    return {k: v for k, v in fields.items() if not (isinstance(k, str) and k.startswith("_sa"))}


def jsonable_encoder(obj: Any, include: Any = None, exclude: Any = None, by_alias: bool = True,
                     exclude_unset: bool = False, exclude_defaults: bool = False,
                     exclude_none: bool = False,
                     custom_encoder: dict[Any, Any] | None = None,
                     sqlalchemy_safe: bool = True) -> Any:
    """FastAPI's jsonable_encoder: obj as plain dicts, lists, str, numbers,
    bool and None, each value in the form `fallback` gives (the one turbo
    sends). include/exclude filter a model's fields or a dict's keys (and
    apply to the items of a list); custom_encoder maps a type (its exact
    type first, then isinstance) to the function that encodes it; keys
    starting with `_sa` are dropped unless sqlalchemy_safe=False.
    ValueError for an object that has no JSON form."""
    options = dict(by_alias=by_alias, exclude_unset=exclude_unset,
                   exclude_defaults=exclude_defaults, exclude_none=exclude_none,
                   custom_encoder=custom_encoder, sqlalchemy_safe=sqlalchemy_safe)
    if custom_encoder:
        encode = custom_encoder.get(type(obj))
        if encode is None:
            encode = next((f for t, f in custom_encoder.items() if isinstance(obj, t)), None)
        if encode is not None:
            return encode(obj)
    if include is not None and not isinstance(include, (set, dict)):
        include = set(include)
    if exclude is not None and not isinstance(exclude, (set, dict)):
        exclude = set(exclude)
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(obj, pydantic.BaseModel):
        dumped = obj.model_dump(mode="json", include=include, exclude=exclude, by_alias=by_alias,
                                exclude_unset=exclude_unset, exclude_none=exclude_none,
                                exclude_defaults=exclude_defaults)
        # (as FastAPI: the dump's own values again, without the model's options)
        return jsonable_encoder(dumped, exclude_none=exclude_none,
                                exclude_defaults=exclude_defaults,
                                sqlalchemy_safe=sqlalchemy_safe)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable_encoder(dataclasses.asdict(obj), include, exclude, **options)
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float)):
        return obj
    core = sys.modules.get("pydantic_core")
    if core is not None and obj is getattr(core, "PydanticUndefined", None):
        return None
    if isinstance(obj, dict):
        keys = set(obj)
        if include is not None:
            keys &= set(include)
        if exclude is not None:
            keys -= set(exclude)
        return {jsonable_encoder(k, **options): jsonable_encoder(v, **options)
                for k, v in obj.items()
                if k in keys and not (exclude_none and v is None)
                and not (sqlalchemy_safe and isinstance(k, str) and k.startswith("_sa"))}
    if isinstance(obj, (list, tuple) + _AS_LIST):
        return [jsonable_encoder(item, include, exclude, **options) for item in obj]
    form = fallback(obj)
    if form is NotImplemented:
        raise ValueError(f"{type(obj).__name__} object has no JSON form: not a model, "
                         "dataclass or mapping, and without attributes")
    return jsonable_encoder(form, include, exclude, **options)
