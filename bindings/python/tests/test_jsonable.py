"""turbo.jsonable_encoder and turbo.status against FastAPI's own: the same
values for the same inputs and options."""

import dataclasses
import datetime
import decimal
import enum
import pathlib
import uuid
import warnings
from collections import deque
from typing import Optional

import pytest

fastapi_encoders = pytest.importorskip("fastapi.encoders")
pydantic = pytest.importorskip("pydantic")
starlette_status = pytest.importorskip("starlette.status")

import turbo  # noqa: E402


class Color(enum.Enum):
    red = "r"


class Pet(pydantic.BaseModel):
    name: str
    kind: Optional[str] = None
    tag: str = pydantic.Field(default="none", alias="Tag")


@dataclasses.dataclass
class Box:
    pet: Pet
    when: datetime.datetime
    size: Optional[int] = None


class Row:
    def __init__(self):
        self.id = 3
        self._sa_instance_state = object()
        self.name = None


VALUES = [
    None, True, 1, 2.5, "text", b"bytes", Color.red, pathlib.PurePosixPath("/a/b"),
    uuid.UUID(int=5), decimal.Decimal("1.50"), decimal.Decimal("4"),
    datetime.date(2024, 2, 29), datetime.datetime(2024, 1, 2, 3, 4, 5),
    datetime.timedelta(seconds=90), {1, 2}, frozenset({"x"}), deque([1, None]), (1, "a"),
    Pet(name="rex", Tag="t"), [Pet(name="a", kind="cat")], Box(Pet(name="b"),
                                                                datetime.datetime(2020, 1, 1)),
    {"a": None, "_sa_x": 1, "b": [Color.red], uuid.UUID(int=1): datetime.time(1, 2)},
    Row(),
]

OPTIONS = [
    {},
    {"exclude_none": True},
    {"by_alias": False},
    {"include": {"name", "a"}},
    {"exclude": ["kind", "b"]},
    {"exclude_unset": True},
    {"exclude_defaults": True},
    {"sqlalchemy_safe": False},
    {"custom_encoder": {datetime.datetime: lambda d: d.year, Color: lambda c: c.name}},
]


@pytest.mark.parametrize("options", OPTIONS, ids=[",".join(o) or "defaults" for o in OPTIONS])
def test_jsonable_encoder_gives_fastapis_values(options):
    for value in VALUES:
        if isinstance(value, Row) and not options.get("sqlalchemy_safe", True):
            continue  # the state object itself has no JSON form, on both sides
        want = fastapi_encoders.jsonable_encoder(value, **options)
        got = turbo.jsonable_encoder(value, **options)
        assert got == want and type(got) is type(want), (value, options)


def test_an_object_without_a_json_form_is_a_value_error():
    class Slotted:
        __slots__ = ("a",)

    with pytest.raises(ValueError, match="^Slotted object has no JSON form"):
        turbo.jsonable_encoder({"x": Slotted()})


def test_status_has_starlettes_names_and_values():
    names = [n for n in dir(starlette_status) if n.startswith(("HTTP_", "WS_"))]
    assert len(names) > 80
    with warnings.catch_warnings():  # Starlette's older names warn as deprecated
        warnings.simplefilter("ignore")
        theirs = {n: getattr(starlette_status, n) for n in names}
    assert {n: getattr(turbo.status, n) for n in names} == theirs
    # The older names Starlette keeps as deprecated aliases are here too.
    assert (turbo.status.HTTP_422_UNPROCESSABLE_ENTITY, turbo.status.HTTP_413_CONTENT_TOO_LARGE,
            turbo.status.HTTP_413_REQUEST_ENTITY_TOO_LARGE) == (422, 413, 413)
