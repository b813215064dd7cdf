"""Request bodies of every JSON kind (turbo/_bodies.py): Body(), embedded
and several body parameters, lists, dataclasses, TypedDicts; what is
refused when the route is added. (Agreement with FastAPI itself is
test_fastapi_diff.py's body_kinds app.)"""

import dataclasses
import typing

import pytest

from conftest import JSON, Client, assert_422, assert_json, needs, start_app

pydantic = needs("pydantic")

import turbo  # noqa: E402
from turbo import Body, Depends, FastAPI, Request, _bodies  # noqa: E402

J = {"Content-Type": "application/json"}


class Item(pydantic.BaseModel):
    name: str
    price: float


@dataclasses.dataclass
class Point:
    x: int
    y: int = 0


def make_app():
    app = FastAPI()

    @app.post("/two/{n}")
    def two(n: int, item: Item, point: Point, note: str = Body("none", max_length=3)):
        return {"n": n, "item": item.name, "point": [point.x, point.y], "note": note}

    @app.post("/embed")
    async def embed(count: typing.Annotated[int, Body(embed=True, alias="c", ge=1)]):
        return {"count": count}

    @app.post("/many")
    def many(points: list[Point]):
        return {"xs": [p.x for p in points], "kinds": sorted({type(p).__name__ for p in points})}

    return app


@pytest.fixture(scope="module")
def client():
    app = start_app(make_app())
    c = Client(app.port)
    yield c
    c.close()
    app.stop()


def test_several_body_parameters_are_read_from_their_keys(client):
    r = client.request("POST", "/two/4", b'{"item": {"name": "a", "price": 1}, '
                       b'"point": {"x": 2}, "note": "hi"}', J)
    assert_json(r, {"n": 4, "item": "a", "point": [2, 0], "note": "hi"})
    r = client.request("POST", "/two/4", b'{"item": {"name": "a", "price": 1}, "point": {"x": 2}}', J)
    assert_json(r, {"n": 4, "item": "a", "point": [2, 0], "note": "none"})


def test_several_body_parameters_errors_each_under_its_key(client):
    r = client.request("POST", "/two/1", b'{"point": {"x": "q"}, "note": "long"}', J)
    assert_422(r, {"type": "missing", "loc": ["body", "item"], "msg": "Field required",
                   "input": None},
               {"type": "int_parsing", "loc": ["body", "point", "x"],
                "msg": "Input should be a valid integer, unable to parse string as an integer",
                "input": "q"},
               {"type": "string_too_long", "loc": ["body", "note"],
                "msg": "String should have at most 3 characters", "input": "long",
                "ctx": {"max_length": 3}})
    # Not an object: every key is missing, even one with a default (as
    # FastAPI's request_body_to_args answers).
    r = client.request("POST", "/two/1", b'[1]', J)
    assert_422(r, *[{"type": "missing", "loc": ["body", k], "msg": "Field required",
                     "input": None} for k in ("item", "point", "note")])


def test_an_embedded_plain_value_with_alias_and_constraint(client):
    assert_json(client.request("POST", "/embed", b'{"c": 3}', J), {"count": 3})
    assert_422(client.request("POST", "/embed", b'{"count": 3}', J),
               {"type": "missing", "loc": ["body", "c"], "msg": "Field required", "input": None})
    assert_422(client.request("POST", "/embed", b'{"c": 0}', J),
               {"type": "greater_than_equal", "loc": ["body", "c"],
                "msg": "Input should be greater than or equal to 1", "input": 0,
                "ctx": {"ge": 1}})
    r = client.request("POST", "/embed", b'{"c": ', J)
    assert (r.status, r.content_type) == (422, JSON)
    assert b'"json_invalid"' in r.body


def test_a_list_of_dataclasses_is_validated_into_instances(client):
    assert_json(client.request("POST", "/many", b'[{"x": 1}, {"x": 2, "y": 5}]', J),
                {"xs": [1, 2], "kinds": ["Point"]})
    assert_422(client.request("POST", "/many", b'{"x": 1}', J),
               {"type": "list_type", "loc": ["body"], "msg": "Input should be a valid list",
                "input": {"x": 1}})


def test_a_route_without_body_stays_unwrapped_and_a_model_body_keeps_one_reader():
    def plain(item_id: int, q: str = "x"):
        return {}

    assert _bodies.adapt(plain, Request) is plain
    fields = _bodies._body_fields(*_sig(lambda item, n=1: None, item=Item))
    assert [(f.name, f.marker_embed) for f in fields] == [("item", False)]


def _sig(func, **hints):
    import inspect
    return inspect.signature(func), hints, dict(hints), set(), None


def test_unsupported_body_options_raise():
    with pytest.raises(TypeError, match=r"^Body\(\): default_factory not supported yet "):
        Body(default_factory=list)
    with pytest.raises(TypeError, match=r"^Body\(\): include_in_schema=False not supported yet"):
        Body(include_in_schema=False)


def test_a_body_parameter_in_a_dependency_raises_when_the_route_is_added():
    def dep(points: list[int]):
        return points

    app = FastAPI()
    with pytest.raises(TypeError, match=r"dep: a body parameter in a dependency is not "
                                        r"supported yet"):
        @app.get("/d")
        def d(v=Depends(dep)):
            return {}
    assert turbo.Body is Body


# ---- forms (turbo/_forms.py) ----------------------------------------------------

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
MP = {"Content-Type": "multipart/form-data; boundary=B0"}


def _file_part(name, filename, content, ctype):
    return (b'--B0\r\nContent-Disposition: form-data; name="%s"; filename="%s"\r\n'
            b'Content-Type: %s\r\n\r\n%s\r\n' % (name, filename, ctype, content))


@pytest.fixture(scope="module")
def form_client():
    needs("python_multipart")
    # (an App: its body limit raised above the form parts' 1 MiB)
    app = turbo.App(max_body_bytes=4 << 20)

    @app.post("/up")
    def up(f: turbo.UploadFile, n: int = turbo.Form(0)):
        first = f.file.read(3)
        f.file.seek(0)
        return {"name": f.filename, "type": f.content_type, "size": f.size, "first": first.decode(),
                "all": f.file.read().decode(), "n": n, "cls": type(f).__name__}

    @app.post("/raw")
    def raw(blobs: list[bytes] = turbo.File()):
        return {"blobs": [b.decode() for b in blobs]}

    @app.post("/fields")
    def fields(a: list[str] = turbo.Form()):
        return {"a": a}

    start_app(app)
    c = Client(app.port)
    yield c
    c.close()
    app.stop()


def test_an_upload_file_has_the_parts_name_type_size_and_data(form_client):
    body = _file_part(b"f", b"notes.txt", b"abcdef", b"text/plain") \
        + b'--B0\r\nContent-Disposition: form-data; name="n"\r\n\r\n7\r\n--B0--\r\n'
    assert_json(form_client.request("POST", "/up", body, MP),
                {"name": "notes.txt", "type": "text/plain", "size": 6, "first": "abc",
                 "all": "abcdef", "n": 7, "cls": "UploadFile"})


def test_file_parts_as_a_list_of_bytes(form_client):
    body = _file_part(b"blobs", b"1", b"one", b"a/b") + _file_part(b"blobs", b"2", b"two", b"a/b") \
        + b"--B0--\r\n"
    assert_json(form_client.request("POST", "/raw", body, MP), {"blobs": ["one", "two"]})


def test_form_limits_answer_starlettes_400s(form_client):
    r = form_client.request("POST", "/fields", b"&".join([b"a=1"] * 1001), FORM)
    assert_json(r, {"detail": "Too many fields. Maximum number of fields is 1000."}, 400)
    assert_json(form_client.request("POST", "/fields", b"a=1&a=2", FORM), {"a": ["1", "2"]})
    big = (b'--B0\r\nContent-Disposition: form-data; name="a"\r\n\r\n' + b"x" * (1024 * 1024 + 1)
           + b"\r\n--B0--\r\n")
    r = form_client.request("POST", "/fields", big, MP)
    assert_json(r, {"detail": "Part exceeded maximum size of 1024KB."}, 400)


def test_a_body_that_is_no_form_leaves_every_field_missing(form_client):
    assert_422(form_client.request("POST", "/fields", b'{"a": ["1"]}', J),
               {"type": "missing", "loc": ["body", "a"], "msg": "Field required", "input": None})


def test_form_options_not_supported_and_a_form_model_beside_others_raise():
    with pytest.raises(TypeError, match=r"^Form\(\): default_factory not supported yet "):
        turbo.Form(default_factory=list)
    with pytest.raises(TypeError, match=r"^File\(\): openapi_examples not supported yet "):
        turbo.File(openapi_examples={})

    app = FastAPI()
    with pytest.raises(TypeError, match=r"a form model \(Annotated\[Model, Form\(\)\]\) with "
                                        r"other body parameters is not supported yet"):
        @app.post("/m")
        def m(item: typing.Annotated[Item, turbo.Form()], note: str = turbo.Form()):
            return {}

    with pytest.raises(TypeError, match=r"^item: an Optional form model, or a union of them, "
                                        r"is not supported yet"):
        @app.post("/o")
        def o(item: typing.Annotated[typing.Optional[Item], turbo.Form()] = None):
            return {}


def test_a_form_route_without_python_multipart_raises_when_added(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "python_multipart", None)  # import fails as if absent
    app = FastAPI()
    with pytest.raises(RuntimeError, match=r'^form data \(Form, File, UploadFile\) requires '
                                           r'"python-multipart" to be installed$'):
        @app.post("/f")
        def f(a: str = turbo.Form()):
            return {}
