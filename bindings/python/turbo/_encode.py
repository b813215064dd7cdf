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
