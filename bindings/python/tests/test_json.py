"""The C JSON encoder writes exactly what json.dumps(x, separators=(",", ":"))
writes, except that it refuses NaN and infinities and has no default= hook."""

import collections
import enum
import gc
import random
import subprocess
import sys
import textwrap
import uuid

import pytest

from conftest import child_env
from conftest import dumps as reference  # json.dumps, as the encoder must match
from turbo import _turbo
from turbo._turbo import _json_dumps


class Color(enum.IntEnum):
    RED = 1
    BIG = 2**100


class MyInt(int):
    def __repr__(self):  # json ignores this: it writes int.__repr__
        return "nope"


class MyFloat(float):
    def __repr__(self):
        return "nope"


class MyStr(str):
    def __str__(self):
        return "nope"


class MyDict(dict):
    pass


class MyList(list):
    pass


class SkippingList(list):
    def __iter__(self):  # json converts list subclasses through __iter__
        return iter(self[::2])


class MyTuple(tuple):
    pass


ASTRAL = "\U0001f600\U00010000\U0010ffff"

CORPUS = [
    # strings: ASCII, escapes, every control, Latin-1, BMP, astral, surrogates
    "",
    "Hello, World!",
    'quote " backslash \\ slash / done',
    "".join(chr(c) for c in range(0x20)),
    "\x7f\x80\x9f\xa0\xff",
    "caf\u00e9 na\u00efve \u00fc",
    "\u0100\u2028\u2029\ufeff\uffff \u4e2d\u6587",
    ASTRAL,
    "mixed \u00e9 \u4e2d " + ASTRAL + " \n\t\"",
    "\ud800",
    "\udfff",
    "lone \udc00 in \ud83d the middle",
    "\ud83d\ude00",  # a surrogate pair spelled out stays two escapes
    "x" * 10000,
    "\u00e9" * 5000 + "\n",
    MyStr("subclass \u00e9"),
    # other scalars
    None,
    True,
    False,
    0,
    1,
    -1,
    2**63 - 1,
    -(2**63),
    2**63,
    -(2**63) - 1,
    2**64,
    2**200,
    -(2**200),
    Color.RED,
    Color.BIG,
    MyInt(42),
    MyInt(-(2**100)),
    0.0,
    -0.0,
    1.0,
    0.1,
    0.1 + 0.2,
    1e16,
    1e-7,
    1e22,
    123456789.0,
    5e-324,
    1.7976931348623157e308,
    -1.5e300,
    MyFloat(2.5),
    # containers
    [],
    {},
    (),
    [[]],
    [{}],
    {"a": []},
    [1, "two", 3.0, None, True, False, [4, (5, 6)], {"seven": 8}],
    (1, (2, (3,))),
    {"message": "Hello, World!"},
    {"\u00e9": ASTRAL, "\n": "\\"},
    {1: "int", 1.5: "float", True: "bool", None: "none", "s": "str"},
    {False: 0, -7: 1, 2**100: 2, -0.0: 3, 1e16: 4},
    {Color.BIG: "enum key", MyInt(3): "int subclass key"},
    {MyStr("k"): MyStr("v")},
    MyDict(a=1, b=[MyDict()]),
    MyList([1, 2, MyList([3])]),
    MyTuple((1, "x")),
    SkippingList([1, 2, 3, 4, 5]),
    SkippingList([1]),
    [SkippingList([1, 2]), SkippingList()],
    collections.OrderedDict([("z", 1), ("a", 2)]),
]


@pytest.mark.parametrize("value", CORPUS, ids=lambda v: repr(v)[:40])
def test_corpus_matches_json_dumps(value):
    assert _json_dumps(value) == reference(value)


def test_result_is_bytes():
    assert _json_dumps({"message": "Hello, World!"}) == b'{"message":"Hello, World!"}'


def test_each_code_point_below_0x800_matches_json_dumps():
    for c in range(0x800):
        s = chr(c)
        assert _json_dumps(s) == reference(s), hex(c)


def test_surrogates_and_plane_boundaries_match_json_dumps():
    for c in list(range(0xD7F0, 0xE010)) + [0xFFFE, 0xFFFF, 0x10000, 0x10FFFF]:
        s = "a" + chr(c) + "b"
        assert _json_dumps(s) == reference(s), hex(c)


def test_deep_nesting_500_levels():
    value = 0
    for i in range(500):
        value = [value] if i % 2 else {"k": value}
    assert _json_dumps(value) == reference(value)


def test_ordered_dict_keeps_its_own_order():
    od = collections.OrderedDict([("a", 1), ("b", 2), ("c", 3)])
    od.move_to_end("a")
    assert _json_dumps(od) == reference(od) == b'{"b":2,"c":3,"a":1}'


def test_dict_subclass_items_is_used_like_json():
    class Reversed(dict):
        def items(self):
            return list(reversed(list(super().items())))

    value = Reversed(a=1, b=2)
    assert _json_dumps(value) == reference(value) == b'{"b":2,"a":1}'


def test_shared_but_not_circular_containers_are_fine():
    shared = [1, 2]
    value = {"a": shared, "b": [shared, shared], "c": (shared,)}
    assert _json_dumps(value) == reference(value)


def test_shared_containers_below_the_on_stack_marks_are_not_circular():
    shared = {"leaf": [1]}
    value = [shared, shared]
    for i in range(80):
        value = [value, shared] if i % 2 else {"k": value, "s": shared}
    assert _json_dumps(value) == reference(value)


def _random_value(rng, depth):
    kind = rng.randrange(12 if depth < 6 else 7)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-(2**70), 2**70) if rng.random() < 0.2 else rng.randint(-1000, 10**6)
    if kind == 3:
        return rng.choice([rng.random() * 10 ** rng.randint(-30, 30), -rng.random(), float(rng.randint(-99, 99))])
    if kind in (4, 5, 6):
        return _random_str(rng)
    if kind in (7, 8):
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(5))]
    if kind == 9:
        return tuple(_random_value(rng, depth + 1) for _ in range(rng.randrange(4)))
    result = {}
    for _ in range(rng.randrange(5)):
        key = rng.choice([_random_str(rng), rng.randint(-50, 50), rng.random(), True, None])
        result[key] = _random_value(rng, depth + 1)
    return result


def _random_str(rng):
    pools = [
        (0x20, 0x7E),
        (0x00, 0x7F),
        (0x80, 0xFF),
        (0x100, 0xFFFF),
        (0x10000, 0x10FFFF),
    ]
    chars = []
    for _ in range(rng.randrange(12)):
        lo, hi = rng.choice(pools)
        chars.append(chr(rng.randint(lo, hi)))
    return "".join(chars)


def test_random_values_match_json_dumps():
    rng = random.Random(20240611)
    for _ in range(2000):
        value = _random_value(rng, 0)
        assert _json_dumps(value) == reference(value), repr(value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"),
                                   [1.0, float("nan")], {"x": float("inf")},
                                   {float("nan"): 1}, {float("-inf"): 1}])
def test_nan_and_infinity_are_refused(value):
    with pytest.raises(ValueError, match="^Out of range float values are not JSON compliant$"):
        _json_dumps(value)


@pytest.mark.parametrize("value", [{1, 2}, object(), b"bytes", 1j, bytearray(b"x"),
                                   [1, {"a": frozenset()}], range(3)])
def test_unsupported_types_raise_json_type_error(value):
    with pytest.raises(TypeError) as ours:
        _json_dumps(value)
    with pytest.raises(TypeError) as theirs:
        reference(value)
    assert str(ours.value) == str(theirs.value)
    assert str(ours.value).startswith("Object of type ")


@pytest.mark.parametrize("key", [(1, 2), frozenset(), b"k", 1j])
def test_unsupported_dict_keys_raise_json_type_error(key):
    value = {"ok": 1, key: 2}
    with pytest.raises(TypeError) as ours:
        _json_dumps(value)
    with pytest.raises(TypeError) as theirs:
        reference(value)
    assert str(ours.value) == str(theirs.value)
    assert str(ours.value).startswith("keys must be str, int, float, bool or None, not ")


def test_bad_tuple_key_message():
    with pytest.raises(TypeError, match=r"^keys must be str, int, float, bool or None, not tuple$"):
        _json_dumps({(1, 2): 3})


def _circular_values():
    lst = [1, 2]
    lst.append(lst)
    dct = {"a": 1}
    dct["self"] = dct
    via_tuple = []
    via_tuple.append((via_tuple,))
    mutual_a, mutual_b = [], {}
    mutual_a.append(mutual_b)
    mutual_b["a"] = mutual_a
    deep = []
    node = deep
    for _ in range(100):  # deeper than the encoder's on-stack marks
        child = []
        node.append(child)
        node = child
    node.append(deep)
    return [lst, dct, via_tuple, mutual_a, deep]


@pytest.mark.parametrize("value", _circular_values(), ids=["list", "dict", "tuple", "mutual", "deep"])
def test_circular_references_raise_value_error(value):
    with pytest.raises(ValueError, match="^Circular reference detected$"):
        _json_dumps(value)


def test_recursion_error_on_very_deep_nesting_and_encoder_still_works():
    value = []
    for _ in range(100000):
        value = [value]
    with pytest.raises(RecursionError):
        _json_dumps(value)
    deep_dict = {}
    for _ in range(100000):
        deep_dict = {"k": deep_dict}
    with pytest.raises(RecursionError):
        _json_dumps(deep_dict)
    assert _json_dumps([1, {"a": 2}]) == b'[1,{"a":2}]'


def test_error_midway_leaves_no_partial_state():
    with pytest.raises(TypeError):
        _json_dumps({"a": [1, 2, {"b": object()}]})
    assert _json_dumps({"a": [1]}) == b'{"a":[1]}'


def test_mutating_list_from_items_does_not_crash():
    outer = []

    class Clears(dict):
        def items(self):
            outer.clear()
            return super().items()

    outer.extend([Clears(a=1), [2], [3]])
    assert _json_dumps(outer) == b'[{"a":1}]'


def test_mutating_dict_from_items_does_not_crash():
    outer = {}

    class Clears(dict):
        def items(self):
            outer.clear()
            return super().items()

    outer["first"] = [Clears(a=1), "kept alive while encoded"]
    assert _json_dumps(outer) == b'{"first":[{"a":1},"kept alive while encoded"]}'


def test_no_reference_leaks_in_a_loop():
    key, text, big = "some-key", "value \u00e9", 2**100
    value = {key: [text, big, 1.5, None, True, (1, 2)], "n": MyDict(x=[text])}
    bad = {key: [text, object()]}
    circular = [text]
    circular.append(circular)
    _json_dumps(value)
    watched = [key, text, big, value, bad, circular]
    singletons = [None, True]  # also used all over the interpreter
    gc.collect()
    before = [sys.getrefcount(o) for o in watched]
    singletons_before = [sys.getrefcount(o) for o in singletons]
    for _ in range(100000):
        _json_dumps(value)
    for _ in range(10000):
        with pytest.raises(TypeError):
            _json_dumps(bad)
        with pytest.raises(ValueError):
            _json_dumps(circular)
    gc.collect()
    after = [sys.getrefcount(o) for o in watched]
    assert after == before
    for o, count in zip(singletons, singletons_before):
        assert abs(sys.getrefcount(o) - count) < 1000, o


def test_process_survives_deep_nesting_in_a_fresh_interpreter():
    # A crash (stack overflow) would kill pytest itself; run it apart.
    code = textwrap.dedent("""
        from turbo._turbo import _json_dumps
        v = []
        for _ in range(100000):
            v = [v]
        try:
            _json_dumps(v)
        except RecursionError:
            print("recursion-error")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=60, env=child_env())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "recursion-error"


# The response encoder: the same bytes for JSON's own types, and the
# fallback (turbo/_encode.py) only for the others.
def test_the_response_encoder_writes_json_types_as_json_dumps_does():
    rng = random.Random(20261204)
    for _ in range(300):
        value = _random_value(rng, 0)
        assert _turbo._json_dumps_response(value) == reference(value), repr(value)


def test_the_response_encoder_gives_other_types_fastapis_json_form():
    import dataclasses
    import datetime
    import decimal
    import enum
    import uuid

    class Color(enum.Enum):
        red = "r"

    @dataclasses.dataclass
    class D:
        when: datetime.date
        tags: frozenset

    value = {"d": D(datetime.date(2024, 1, 2), frozenset()), "c": Color.red,
             "u": uuid.UUID(int=1), "n": [decimal.Decimal("3"), decimal.Decimal("0.25")],
             "t": datetime.timedelta(seconds=90), "b": b"x"}
    assert _turbo._json_dumps_response(value) == (
        b'{"d":{"when":"2024-01-02","tags":[]},"c":"r",'
        b'"u":"00000000-0000-0000-0000-000000000001","n":[3,0.25],"t":90.0,"b":"x"}')
    with pytest.raises(TypeError, match="^Object of type set is not JSON serializable$"):
        _turbo._json_dumps({1})  # the json.dumps encoder is unchanged


def test_the_response_encoder_still_refuses_what_has_no_json_form():
    class Slotted:
        __slots__ = ("a",)

    with pytest.raises(TypeError, match="^Object of type Slotted is not JSON serializable$"):
        _turbo._json_dumps_response([Slotted()])
    with pytest.raises(ValueError, match="^Out of range float values are not JSON compliant$"):
        _turbo._json_dumps_response({"x": float("nan")})
    # A key is converted as a value is, and must then be one json takes as a key.
    with pytest.raises(TypeError, match="^a tuple key has no JSON form usable as a key$"):
        _turbo._json_dumps_response({(1, 2): "pair"})
    with pytest.raises(TypeError, match="^a Slotted key has no JSON form usable as a key$"):
        _turbo._json_dumps_response({Slotted(): 1})
    # json.dumps' encoder has no fallback: it refuses such a key, as json does.
    with pytest.raises(TypeError, match="^keys must be str, int, float, bool or None, not UUID$"):
        _turbo._json_dumps({uuid.UUID(int=1): 1})


def test_the_response_encoder_leaves_out_orm_state_and_its_fallback_is_set_once():
    class Row:
        def __init__(self):
            self._sa_instance_state = object()  # as FastAPI's sqlalchemy_safe drops it
            self.id = 1
            self.name = "r"

    assert _turbo._json_dumps_response({"rows": [Row()]}) == b'{"rows":[{"id":1,"name":"r"}]}'
    from turbo import _encode
    with pytest.raises(RuntimeError, match="^the JSON fallback is set already$"):
        _turbo._set_json_fallback(_encode.fallback)
