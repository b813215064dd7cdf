"""What handlers return besides dicts and lists: pydantic models,
dataclasses and the values FastAPI's jsonable_encoder converts (dates,
UUIDs, enums, decimals, sets...), with and without a return annotation."""

import dataclasses
import datetime
import decimal
import enum
import ipaddress
import pathlib
import uuid
from typing import Optional

from fastapi import FastAPI
from pydantic import BaseModel, Field, HttpUrl


class Color(enum.Enum):
    red = "r"
    green = "g"


class Level(enum.IntEnum):
    low = 1
    high = 2


class Tag(str, enum.Enum):
    a = "alpha"


class Point(BaseModel):
    x: int
    y: int = Field(alias="Y", default=0)
    color: Color = Color.red


@dataclasses.dataclass
class Event:
    name: str
    when: datetime.date
    points: list[Point]
    note: Optional[str] = None


app = FastAPI()


@app.get("/model")
def model():
    return Point(x=1, Y=2)


@app.get("/models")
def models():
    return [Point(x=1), Point(x=2, Y=3, color=Color.green)]


@app.get("/dataclass")
def dataclass():
    return Event("launch", datetime.date(2024, 1, 2), [Point(x=5)])


@app.get("/dataclass-annotated")
def dataclass_annotated() -> Event:
    return Event("launch", datetime.date(2024, 1, 2), [Point(x=5)], "n")


@app.get("/values")
def values():
    return {
        "uuid": uuid.UUID(int=5),
        "enum": Color.green,
        "int_enum": Level.high,
        "str_enum": Tag.a,
        "dec_int": decimal.Decimal("2"),
        "dec_frac": decimal.Decimal("1.50"),
        "dec_exp": decimal.Decimal("1E+2"),
        "datetime": datetime.datetime(2024, 1, 2, 3, 4, 5, 6),
        "aware": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "date": datetime.date(2024, 2, 29),
        "time": datetime.time(23, 59, 1),
        "delta": datetime.timedelta(days=1, seconds=2, microseconds=500000),
        "set": {7},
        "frozenset": frozenset(),
        "bytes": b"raw",
        "path": pathlib.PurePosixPath("/etc/hosts"),
        "ip": ipaddress.ip_address("10.0.0.1"),
        "net": ipaddress.ip_network("10.0.0.0/8"),
        "url": HttpUrl("https://example.com/a?b=1"),
        "nested": [{"when": datetime.date(2000, 1, 1)}, (Color.red, Level.low)],
    }


class Opaque:
    pass


@app.get("/opaque")
def opaque():
    return {"x": Opaque()}


@app.get("/keys")
def keys():
    # Keys of types JSON lacks become their JSON form, as values do.
    return {uuid.UUID(int=7): "id", datetime.date(2024, 2, 29): "day", Color.green: "enum",
            Level.high: "int enum", 2.5: "float", None: "none", False: "bool",
            "nested": {Tag.a: [datetime.time(1, 2)]}}
