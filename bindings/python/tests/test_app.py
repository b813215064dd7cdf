"""The turbo App over real sockets: parameter conversion, 422 details, the
Request object, every return type, HTTPException, 500s, routes changed while
serving, decorators, 404/405 and HEAD. Every test checks the exact status,
Content-Type and body bytes.

Most behaviour is a table: one row per request, with the exact answer; the
module's one App (make_app) serves them all, a fresh connection per row."""

import faulthandler
import json
import logging
import socket
import threading
from typing import Optional

import pytest

from conftest import (JSON, NOT_ALLOWED, NOT_FOUND, OCTET, TEXT, Client, assert_422, assert_json,
                      assert_reply, dumps, err, turbo_log_with)
from turbo import App, HTTPException, JSONResponse, Request, Response


def describe(v):
    """What the conversion handlers answer: the value's type and repr."""
    return {"type": type(v).__name__, "repr": repr(v)}


class Boom(Exception):
    pass


KEPT = []

RETURNS = {
    "dict": {"a": 1, "b": "two", "c": [1, 2.5, None, True, False]},
    "list": [1, "x", {"k": "v"}, [], {}],
    "tuple": (1, "a", (2, 3)),
    "int": 42,
    "negint": -17,
    "bigint": 123456789012345678901234567890,
    "float": 2.5,
    "bigfloat": 1e20,
    "true": True,
    "false": False,
    "none": None,
    "unicode": {"caf\u00e9": "\u2713 \U0001f600", "ctl": "a\"b\\c\n\t\x01"},
    "emptydict": {},
    "emptylist": [],
}


def make_app():
    app = App()

    @app.get("/users/{user_id}")
    def get_user(user_id: int, verbose: bool = False):
        return {"id": user_id, "verbose": verbose}

    # -- conversions: path ---------------------------------------------------
    @app.get("/path/int/{v}")
    def path_int(v: int):
        return describe(v)

    @app.get("/path/float/{v}")
    def path_float(v: float):
        return describe(v)

    @app.get("/path/bool/{v}")
    def path_bool(v: bool):
        return describe(v)

    @app.get("/path/str/{v}")
    def path_str(v: str):
        return describe(v)

    @app.get("/path/bytes/{v}")
    def path_bytes(v: bytes):
        return describe(v)

    @app.get("/path/plain/{v}")
    def path_plain(v):
        return describe(v)

    # -- conversions: query ---------------------------------------------------
    @app.get("/query/int")
    def query_int(v: int):
        return describe(v)

    @app.get("/query/float")
    def query_float(v: float):
        return describe(v)

    @app.get("/query/bool")
    def query_bool(v: bool):
        return describe(v)

    @app.get("/query/str")
    def query_str(v: str):
        return describe(v)

    @app.get("/query/bytes")
    def query_bytes(v: bytes):
        return describe(v)

    @app.get("/query/plain")
    def query_plain(v):
        return describe(v)

    @app.get("/defaults")
    def defaults(i: int = 5, f: float = 1.5, b: bool = True, s: str = "x",
                 y: bytes = b"y", n=None, o: int = None):
        return [describe(x) for x in (i, f, b, s, y, n, o)]

    @app.get("/files/{p:path}")
    def files(p: str):
        return describe(p)

    @app.get("/mixed/{a}/tail/{rest:path}")
    def mixed(rest: str, a: int, q: str = "none"):
        return {"a": a, "rest": rest, "q": q}

    @app.get("/multi/{a}/{b}")
    def multi(c: bool, a: int, d: str, b: float, e: int = 0, f: str = "ok"):
        return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f}

    # -- Request ----------------------------------------------------------------
    @app.route("/inspect/{name}", methods=["GET", "POST", "PUT"])
    def inspect(req: Request, name: str):
        h = req.headers
        return {
            "method": req.method,
            "path": req.path,
            "query_string": req.query_string,
            "query_params": req.query_params,
            "query_params_is_dict": isinstance(req.query_params, dict),
            "path_params": req.path_params,
            "path_params_is_dict": isinstance(req.path_params, dict),
            "name": name,
            "ct": h.get("content-type"),
            "x1": h["x-custom-header"],
            "x2": h["X-CUSTOM-HEADER"],
            "x3": h.get("X-Custom-Header"),
            "has": "x-CUSTOM-header" in h,
            "has_not": "x-absent" in h,
            "dflt": h.get("x-absent", "dflt"),
            "none": h.get("x-absent"),
            "body": req.body.decode("latin-1"),
            "body_type": type(req.body).__name__,
            "client": list(req.client),
            "client_type": type(req.client).__name__,
        }

    @app.get("/request-last/{item}")
    def request_last(item: str, r: Request, n: int = 1):
        return {"item": item, "n": n, "path": r.path, "qs": r.query_string}

    @app.post("/json")
    def json_body(req: Request):
        return {"got": req.json()}

    @app.post("/echo")
    def echo(req: Request):
        return req.body

    @app.post("/keep/{k}")
    def keep(k: str, req: Request):
        KEPT.append(req)
        return "kept"

    # -- return types -------------------------------------------------------------
    @app.get("/ret/{kind}")
    def ret(kind: str):
        return RETURNS[kind]

    @app.get("/ret-str")
    def ret_str():
        return "h\u00e9llo w\u00f6rld \u2713\n"

    @app.get("/ret-empty-str")
    def ret_empty_str():
        return ""

    @app.get("/ret-bytes")
    def ret_bytes():
        return b"\x00\x01binary\xff"

    @app.get("/resp/html")
    def resp_html():
        return Response(content="<p>h\u00e9</p>", status_code=201,
                        headers={"X-Extra": "1", "X-Other": "two"},
                        media_type="text/html")

    @app.get("/resp/xml")
    def resp_xml():
        return Response(content=b"<a/>", media_type="application/xml")

    @app.get("/resp/text-charset")
    def resp_text_charset():
        return Response(content="abc", media_type="text/plain; charset=latin-1")

    @app.get("/resp/empty")
    def resp_empty():
        return Response(content=b"", status_code=202, media_type="text/plain")

    @app.get("/resp/positional")
    def resp_positional():
        return Response(b"pos", 203, None, "application/x-test")

    @app.get("/resp/json")
    def resp_json():
        return JSONResponse({"created": True, "n": [1, 2]}, status_code=201,
                            headers={"Location": "/things/1"})

    @app.get("/resp/json-list")
    def resp_json_list():
        return JSONResponse([1, 2, 3])

    @app.get("/resp/json-opaque")
    def resp_json_opaque():
        return JSONResponse(object())  # no JSON form, even FastAPI's

    # -- HTTPException ---------------------------------------------------------------
    @app.get("/http/404")
    def http_404():
        raise HTTPException(404)

    @app.get("/http/503")
    def http_503():
        raise HTTPException(status_code=503)

    @app.get("/http/403")
    def http_403():
        raise HTTPException(403, detail="nope", headers={"X-Reason": "policy"})

    @app.get("/http/409")
    def http_409():
        raise HTTPException(status_code=409, detail={"field": "x", "errors": [1, 2]})

    @app.get("/http/400-list")
    def http_400_list():
        raise HTTPException(400, detail=["a", 1])

    # The traceback keeps the Request alive past the handler, so it is
    # detached (its values copied) while the exception is pending.
    @app.post("/http/with-request")
    def http_with_request(request: Request):
        if request.body != b"ok":
            raise HTTPException(400, detail="body must be ok: " + request.body.decode())
        return {"body": request.body.decode()}

    @app.get("/boom-with-request")
    def boom_with_request(request: Request):
        raise Boom("marker-boom-request " + request.path)

    # -- errors -------------------------------------------------------------------------
    @app.get("/boom")
    def boom():
        raise Boom("marker-boom-1")

    @app.get("/ret-opaque")
    def ret_opaque():
        return {"s": object()}

    @app.get("/ret-nan")
    def ret_nan():
        return {"x": float("nan")}

    @app.get("/ret-inf")
    def ret_inf():
        return [float("inf")]

    @app.get("/ok")
    def ok():
        return {"ok": True}

    @app.get("/inject/header")
    def inject_header():
        return Response("x", headers={"X-A": "a\r\nInjected: 1"})

    @app.get("/inject/media")
    def inject_media():
        return Response("x", media_type="text/html\r\nInjected: 1")

    @app.get("/inject/exc")
    def inject_exc():
        raise HTTPException(400, headers={"X-A": "a\r\nInjected: 1"})

    # -- signatures -------------------------------------------------------------------
    @app.get("/optional")
    def optional(a: Optional[int] = None, b: "float | None" = None):
        return [a, b]

    @app.get("/kwonly/{a}")
    def kwonly(a: int, *, b: int = 2, req: Request, c: str):
        return [a, b, req.method, c]

    many_src = "def many(%s):\n    return [%s]\n" % (
        ", ".join("p%d: int = %d" % (i, i) for i in range(24)),
        ", ".join("p%d" % i for i in range(24)))
    ns = {}
    exec(many_src, ns)
    app.add_route("/many", ns["many"])

    # -- decorators -------------------------------------------------------------------
    @app.get("/m/get")
    def m_get(req: Request):
        return "get:" + req.method

    @app.post("/m/post")
    def m_post(req: Request):
        return "post:" + req.method

    @app.put("/m/put")
    def m_put(req: Request):
        return "put:" + req.method

    @app.patch("/m/patch")
    def m_patch(req: Request):
        return "patch:" + req.method

    @app.delete("/m/delete")
    def m_delete(req: Request):
        return "delete:" + req.method

    @app.route("/m/multi", methods=["POST", "GET", "DELETE"])
    def m_multi(req: Request):
        return "multi:" + req.method

    @app.get("/m/same")
    def m_same_get():
        return "same-get"

    @app.post("/m/same")
    def m_same_post():
        return "same-post"

    return app


# =============================================================================
# conversions
# =============================================================================

def both(kind, raw, value):
    """The same text as the path parameter and as the query parameter v."""
    return [("/path/%s/%s" % (kind, raw), value), ("/query/%s?v=%s" % (kind, raw), value)]


def str_rows(where, raw, value):
    """A str parameter and an unannotated one convert alike."""
    if where == "path":
        return [("/path/str/" + raw, value), ("/path/plain/" + raw, value)]
    return [("/query/str?v=" + raw, value), ("/query/plain?v=" + raw, value)]


TRUE_SPELLINGS = ["1", "on", "t", "true", "y", "yes", "TRUE", "True", "Yes", "YES",
                  "ON", "oN", "T", "Y"]
FALSE_SPELLINGS = ["0", "off", "f", "false", "n", "no", "FALSE", "False", "No", "NO",
                   "OFF", "F", "N"]
BIG = 123456789012345678901234567890

# (target, the value the handler receives): each handler answers describe(v).
CONVERSIONS = [
    *both("int", "0", 0), *both("int", "42", 42), *both("int", "-7", -7),
    *both("int", "%34%32", 42), *both("int", "%2D3", -3), *both("int", str(BIG), BIG),
    *both("float", "1.5", 1.5), *both("float", "-2", -2.0), *both("float", "1e3", 1000.0),
    *both("float", "0.1", 0.1), *both("float", "3", 3.0),
    *[row for raw in TRUE_SPELLINGS for row in both("bool", raw, True)],
    *[row for raw in FALSE_SPELLINGS for row in both("bool", raw, False)],
    *both("bytes", "abc", b"abc"), *both("bytes", "a%20b", b"a b"),
    *both("bytes", "%C3%A9", b"\xc3\xa9"), *both("bytes", "%E2%9C%93", b"\xe2\x9c\x93"),
    ("/query/bytes?v=a+b", b"a b"),
    *str_rows("path", "plain", "plain"),
    *str_rows("path", "a%20b", "a b"),
    *str_rows("path", "a+b", "a+b"),                  # '+' is a space only in the query
    *str_rows("path", "a%2Bb", "a+b"),
    *str_rows("path", "a%2Fb", "a/b"),                # one segment, decoded after routing
    *str_rows("path", "%C3%A9t%C3%A9", "\u00e9t\u00e9"),
    *str_rows("path", "%E2%9C%93", "\u2713"),
    *str_rows("path", "123", "123"),
    *str_rows("query", "plain", "plain"),
    *str_rows("query", "a+b%2Bc", "a b+c"),
    *str_rows("query", "a%20b", "a b"),
    *str_rows("query", "%26%3D%3F", "&=?"),
    *str_rows("query", "%C3%A9", "\u00e9"),
    *str_rows("query", "", ""),
    *str_rows("query", "first&v=second", "first"),    # first value wins
    ("/query/str?a=1&v=x&b=2", "x"),
    ("/query/int?v=3&v=abc", 3),
    # Keys are decoded like values: '%76' is 'v', as Request.query_params says.
    ("/query/str?%76=encoded-key", "encoded-key"),
    ("/query/str?%76=first&v=second", "first"),
    # A stray '%' stays; bytes that are not UTF-8 become U+FFFD (as Starlette
    # decodes), and a bytes parameter gets the UTF-8 of that text.
    ("/query/str?v=100%", "100%"),
    ("/query/str?v=%zz%4", "%zz%4"),
    ("/query/str?v=%E9t%C3%A9", "\ufffdt\u00e9"),
    ("/path/str/%FF", "\ufffd"),
    ("/query/bytes?v=%FF", b"\xef\xbf\xbd"),
    # {p:path}: the rest of the path, slashes included
    ("/files/a", "a"),
    ("/files/a/b/c.txt", "a/b/c.txt"),
    ("/files/dir%20x/f%2Fg", "dir x/f/g"),
    ("/files/a//b/", "a//b/"),
    ("/files/", ""),
]


@pytest.mark.parametrize("target,value", CONVERSIONS, ids=[t for t, _ in CONVERSIONS])
def test_parameter_conversion(client, target, value):
    assert_json(client.get(target), describe(value))


# (target, the handler's JSON answer): defaults, parameter order, optional and
# keyword-only parameters, more parameters than fit on the C stack.
SIGNATURES = [
    ("/defaults", [describe(x) for x in (5, 1.5, True, "x", b"y", None, None)]),
    ("/defaults?i=-1&f=2&b=no&s=hi+there&y=%C3%A9&n=abc&o=9",
     [describe(x) for x in (-1, 2.0, False, "hi there", b"\xc3\xa9", "abc", 9)]),
    ("/users/7", {"id": 7, "verbose": False}),
    ("/users/7?verbose=true", {"id": 7, "verbose": True}),
    ("/mixed/7/tail/x/y%20z?q=1", {"a": 7, "rest": "x/y z", "q": "1"}),
    ("/multi/1/2.5?c=on&d=z", {"a": 1, "b": 2.5, "c": True, "d": "z", "e": 0, "f": "ok"}),
    ("/optional", [None, None]),
    ("/optional?a=3&b=0.5", [3, 0.5]),
    ("/kwonly/1?c=z", [1, 2, "GET", "z"]),
    ("/kwonly/1?c=z&b=-4", [1, -4, "GET", "z"]),
    ("/many", list(range(24))),
    ("/many?p23=-1&p0=100&p11=5", [100] + list(range(1, 11)) + [5] + list(range(12, 23)) + [-1]),
    ("/request-last/it%2Fem?n=3&z=1",
     {"item": "it/em", "n": 3, "path": "/request-last/it%2Fem", "qs": "n=3&z=1"}),
]


@pytest.mark.parametrize("target,obj", SIGNATURES, ids=[t for t, _ in SIGNATURES])
def test_signature(client, target, obj):
    assert_json(client.get(target), obj)


# =============================================================================
# 422
# =============================================================================

def unparsable(kind, raw, inp, query_inp=None):
    """Text that does not convert, as the path parameter and as the query
    parameter v; the query may decode it differently ('+')."""
    t = kind + "_parsing"
    return [("/path/%s/%s" % (kind, raw), [err(t, "path", "v", inp)]),
            ("/query/%s?v=%s" % (kind, raw), [err(t, "query", "v", query_inp or inp)])]


# (target, the errors of the 422's detail, in signature order)
INVALID = [
    ("/query/int", [err("missing", "query", "v")]),
    ("/query/str?w=1", [err("missing", "query", "v")]),
    ("/query/plain", [err("missing", "query", "v")]),
    *unparsable("int", "abc", "abc"), *unparsable("int", "12a", "12a"),
    *unparsable("int", "0x10", "0x10"), *unparsable("int", "1.5", "1.5"),
    *unparsable("int", "a%20b", "a b"),
    ("/query/int?v=", [err("int_parsing", "query", "v", "")]),
    ("/query/int?v=x", [err("int_parsing", "query", "v", "x")]),
    *unparsable("float", "abc", "abc"), *unparsable("float", "1.5x", "1.5x"),
    *unparsable("float", "%C3%A9", "\u00e9"),
    *unparsable("bool", "2", "2"), *unparsable("bool", "maybe", "maybe"),
    *unparsable("bool", "tru", "tru"), *unparsable("bool", "yess", "yess"),
    *unparsable("bool", "10", "10"),
    *unparsable("bool", "no+pe", "no+pe", query_inp="no pe"),  # '+' is a space in the query only
    ("/query/bool?v=", [err("bool_parsing", "query", "v", "")]),
    ("/mixed/seven/tail/x", [err("int_parsing", "path", "a", "seven")]),
    # signature: (c: bool, a: int, d: str, b: float, e: int = 0, f: str = "ok")
    ("/multi/x/y?c=maybe&e=zz&f=fine", [
        err("bool_parsing", "query", "c", "maybe"),
        err("int_parsing", "path", "a", "x"),
        err("missing", "query", "d"),
        err("float_parsing", "path", "b", "y"),
        err("int_parsing", "query", "e", "zz")]),
    ("/multi/1/y?d=z", [err("missing", "query", "c"), err("float_parsing", "path", "b", "y")]),
    ("/users/abc?verbose=perhaps", [
        err("int_parsing", "path", "user_id", "abc"),
        err("bool_parsing", "query", "verbose", "perhaps")]),
    ("/optional?a=x&b=y", [
        err("int_parsing", "query", "a", "x"),
        err("float_parsing", "query", "b", "y")]),
    ("/kwonly/x?b=y", [
        err("int_parsing", "path", "a", "x"),
        err("int_parsing", "query", "b", "y"),
        err("missing", "query", "c")]),
    ("/many?p3=x&p20=y", [
        err("int_parsing", "query", "p3", "x"),
        err("int_parsing", "query", "p20", "y")]),
]


@pytest.mark.parametrize("target,errors", INVALID, ids=[t for t, _ in INVALID])
def test_422(client, target, errors):
    assert_422(client.get(target), *errors)
    assert_json(client.get("/ok"), {"ok": True})  # the connection goes on


# =============================================================================
# Request
# =============================================================================

def test_request_attributes(client):
    body = b'{"k": [1, 2]}\x00\xff'
    r = client.request("POST", "/inspect/a%20b?x=1&y=two+words&x=2&e=%C3%A9&flag",
                       body=body,
                       headers={"Content-Type": "application/x-test",
                                "X-Custom-Header": "Value 1"})
    assert_json(r, {
        "method": "POST",
        "path": "/inspect/a%20b",
        "query_string": "x=1&y=two+words&x=2&e=%C3%A9&flag",
        "query_params": {"x": "1", "y": "two words", "e": "\u00e9", "flag": ""},
        "query_params_is_dict": True,
        "path_params": {"name": "a b"},
        "path_params_is_dict": True,
        "name": "a b",
        "ct": "application/x-test",
        "x1": "Value 1", "x2": "Value 1", "x3": "Value 1",
        "has": True, "has_not": False, "dflt": "dflt", "none": None,
        "body": body.decode("latin-1"),
        "body_type": "bytes",
        "client": ["127.0.0.1", client.local_port],
        "client_type": "tuple",
    })


def test_request_empty_query_and_body(client):
    r = client.get("/inspect/n", headers={"x-custom-header": "lower"})
    obj = json.loads(r.body)
    assert (r.status, r.content_type) == (200, JSON)
    assert obj["method"] == "GET"
    assert obj["path"] == "/inspect/n"
    assert obj["query_string"] == ""
    assert obj["query_params"] == {}
    assert obj["path_params"] == {"name": "n"}
    assert obj["ct"] is None
    assert (obj["x1"], obj["x2"], obj["x3"]) == ("lower", "lower", "lower")
    assert obj["body"] == "" and obj["body_type"] == "bytes"


def test_request_chunked_body(client):
    def gen():
        yield b"abc"
        yield b"def\n"
        yield b"\x00xyz"
    r = client.request("PUT", "/inspect/c", body=gen(), encode_chunked=True,
                       headers={"X-Custom-Header": "c", "Transfer-Encoding": "chunked"})
    obj = json.loads(r.body)
    assert r.status == 200
    assert obj["method"] == "PUT"
    assert obj["body"] == "abcdef\n\x00xyz"


def test_request_json(client):
    r = client.request("POST", "/json", body=b'{"a": [1, 2, {"b": null}], "c": "\\u00e9"}',
                       headers={"Content-Type": "application/json"})
    assert_json(r, {"got": {"a": [1, 2, {"b": None}], "c": "\u00e9"}})


def test_request_kept_after_handler(client):
    KEPT.clear()
    r = client.request("POST", "/keep/k%21?a=1&b=x+y", body=b"kept body",
                       headers={"X-Keep": "yes", "Content-Type": "text/x-kept"})
    assert_reply(r, 200, TEXT, b"kept")
    # More traffic on the same I/O thread, reusing its per-request memory.
    for i in range(20):
        client.request("POST", "/echo", body=b"Z" * 5000, headers={"X-Keep": "overwritten"})
        client.get("/inspect/zzzzzzzzzzzzzz?qqqqqqqqq=wwwwwwwwww",
                   headers={"X-Custom-Header": "x" * 100})
    req = KEPT.pop()
    assert req.method == "POST"
    assert req.path == "/keep/k%21"
    assert req.query_string == "a=1&b=x+y"
    assert req.query_params == {"a": "1", "b": "x y"}
    assert req.path_params == {"k": "k!"}
    assert req.headers["x-keep"] == "yes"
    assert req.headers["X-KEEP"] == "yes"
    assert req.headers.get("content-type") == "text/x-kept"
    assert "X-Keep" in req.headers
    assert "x-absent" not in req.headers
    assert req.headers.get("x-absent", 5) == 5
    with pytest.raises(KeyError):
        req.headers["x-absent"]
    assert req.body == b"kept body"
    assert req.client == ("127.0.0.1", client.local_port)


# =============================================================================
# answers: return types, HTTPException, routing
# =============================================================================

def answer(target, status, content_type, body, method="GET", send=None, headers=None):
    """A table row: one request, and the exact answer to it (headers: those
    that must be there, with these values)."""
    return pytest.param(method, target, send, (status, content_type, body, headers or {}),
                        id="%s %s" % (method, target))


def check_answer(client, method, target, send, expected):
    status, content_type, body, headers = expected
    r = client.request(method, target, body=send)
    assert_reply(r, status, content_type, body)
    for name, value in headers.items():
        assert r.header(name) == value, name
    if status >= 400:                                 # the connection goes on
        assert_json(client.get("/ok"), {"ok": True})


@pytest.mark.parametrize("kind", sorted(RETURNS))
def test_return_json_values(client, kind):
    assert_json(client.get("/ret/" + kind), RETURNS[kind])


RETURNED = [
    answer("/ret/tuple", 200, JSON, b'[1,"a",[2,3]]'),
    answer("/ret/none", 200, JSON, b"null"),
    answer("/ret/true", 200, JSON, b"true"),
    answer("/ret/bigfloat", 200, JSON, b"1e+20"),
    answer("/ret/unicode", 200, JSON,
           b'{"caf\\u00e9":"\\u2713 \\ud83d\\ude00","ctl":"a\\"b\\\\c\\n\\t\\u0001"}'),
    answer("/ret-str", 200, TEXT, "h\u00e9llo w\u00f6rld \u2713\n".encode()),
    answer("/ret-empty-str", 200, TEXT, b""),
    answer("/ret-bytes", 200, OCTET, b"\x00\x01binary\xff"),
    answer("/resp/html", 201, "text/html; charset=utf-8", "<p>h\u00e9</p>".encode(),
           headers={"X-Extra": "1", "X-Other": "two"}),
    answer("/resp/xml", 200, "application/xml", b"<a/>"),
    answer("/resp/text-charset", 200, "text/plain; charset=latin-1", b"abc"),
    answer("/resp/empty", 202, "text/plain; charset=utf-8", b""),
    answer("/resp/positional", 203, "application/x-test", b"pos"),
    answer("/resp/json", 201, JSON, b'{"created":true,"n":[1,2]}',
           headers={"Location": "/things/1"}),
    answer("/resp/json-list", 200, JSON, b"[1,2,3]"),
    answer("/echo", 200, OCTET, bytes(range(256)) * 40, method="POST", send=bytes(range(256)) * 40),
    answer("/echo", 200, OCTET, b"", method="POST", send=b""),
]


@pytest.mark.parametrize("method,target,send,expected", RETURNED)
def test_return_types(client, method, target, send, expected):
    check_answer(client, method, target, send, expected)


RAISED = [
    answer("/http/404", 404, JSON, dumps({"detail": "Not Found"})),
    answer("/http/503", 503, JSON, dumps({"detail": "Service Unavailable"})),
    answer("/http/403", 403, JSON, dumps({"detail": "nope"}), headers={"X-Reason": "policy"}),
    answer("/http/409", 409, JSON, dumps({"detail": {"field": "x", "errors": [1, 2]}})),
    answer("/http/400-list", 400, JSON, dumps({"detail": ["a", 1]})),
    # The traceback keeps the Request alive past the handler.
    answer("/http/with-request", 400, JSON, dumps({"detail": "body must be ok: nope"}),
           method="POST", send=b"nope"),
    answer("/http/with-request", 200, JSON, dumps({"body": "ok"}), method="POST", send=b"ok"),
]


@pytest.mark.parametrize("method,target,send,expected", RAISED)
def test_http_exception(client, method, target, send, expected):
    check_answer(client, method, target, send, expected)


def test_http_exception_attributes():
    e = HTTPException(418, detail="tea", headers={"A": "b"})
    assert isinstance(e, Exception)
    assert e.status_code == 418
    assert e.detail == "tea"
    assert e.headers == {"A": "b"}


def test_head_on_get_route(client):
    get = client.get("/users/12?verbose=1")
    assert_json(get, {"id": 12, "verbose": True})
    head = client.request("HEAD", "/users/12?verbose=1")
    assert (head.status, head.content_type, head.body) == (200, JSON, b"")
    assert head.header("Content-Length") == str(len(get.body))
    # No body bytes were sent: the next response on the connection parses.
    assert_json(client.get("/users/13"), {"id": 13, "verbose": False})
    head = client.request("HEAD", "/ret-str")
    assert (head.status, head.content_type, head.body) == (200, TEXT, b"")
    assert head.header("Content-Length") == str(len("h\u00e9llo w\u00f6rld \u2713\n".encode()))
    assert_reply(client.get("/ret-bytes"), 200, OCTET, b"\x00\x01binary\xff")


def test_head_on_a_route_with_several_methods(client):
    head = client.request("HEAD", "/m/multi")
    assert (head.status, head.content_type, head.body) == (200, TEXT, b"")
    # The handler sees the HEAD request (and answers for it); no body is sent.
    assert head.header("Content-Length") == str(len(b"multi:HEAD"))
    assert_reply(client.get("/m/multi"), 200, TEXT, b"multi:GET")


def test_server_header_default(client):
    assert client.get("/ok").header("Server") == "libturbo"


def test_server_header_custom(serve, connect):
    app = App(server_name="custom-server/1.0")

    @app.get("/x")
    def x():
        return "x"

    serve(app)
    r = connect(app.port).get("/x")
    assert_reply(r, 200, TEXT, b"x")
    assert r.header("Server") == "custom-server/1.0"


# =============================================================================
# 500s
# =============================================================================

# (target, what the `turbo` logger must show of the error)
FAILING = [
    # Raised inside the handler: a real traceback.
    ("/boom", ("Traceback (most recent call last)", "in boom", "Boom: marker-boom-1")),
    ("/ret/unknown-kind", ("Traceback (most recent call last)", "in ret",
                           "KeyError: 'unknown-kind'")),
    ("/boom-with-request", ("Boom: marker-boom-request /boom-with-request",)),
    # Raised by the C encoder after the handler returned: no Python frame to
    # show, but the error and the handler must reach the log.
    ("/ret-opaque", ("ret_opaque", "TypeError: Object of type object is not JSON serializable")),
    ("/ret-nan", ("ret_nan", "ValueError: Out of range float values are not JSON compliant")),
    ("/ret-inf", ("ret_inf", "ValueError: Out of range float values are not JSON compliant")),
    ("/resp/json-opaque", ("resp_json_opaque",
                           "TypeError: Object of type object is not JSON serializable")),
    # Response splitting: a CR or LF in a header name or value is refused.
    ("/inject/header", ("inject_header", "ValueError: invalid response header")),
    ("/inject/media", ("inject_media", "ValueError: invalid media_type")),
    ("/inject/exc", ("inject_exc", "ValueError: invalid response header")),
]


@pytest.mark.parametrize("target,needles", FAILING, ids=[t for t, _ in FAILING])
def test_handler_error_is_a_logged_500(client, caplog, target, needles):
    caplog.set_level(logging.DEBUG, logger="turbo")
    r = client.get(target)
    assert_reply(r, 500, TEXT, b"Internal Server Error")
    assert r.header("Injected") is None
    assert not r.will_close
    assert_json(client.get("/ok"), {"ok": True})    # the same connection goes on
    assert turbo_log_with(caplog, *needles), \
        "error not on the 'turbo' logger; records: %r" % [
            (r.name, r.getMessage()) for r in caplog.records]


def test_many_errors_on_one_connection(client):
    for _ in range(50):
        assert_reply(client.get("/boom"), 500, TEXT, b"Internal Server Error")
        assert_json(client.get("/users/1"), {"id": 1, "verbose": False})


# =============================================================================
# 404 / 405 / decorators
# =============================================================================

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def sent(method):
    """The body a request sends: none with GET, an empty one otherwise."""
    return None if method == "GET" else b""


def decorated(path, method, allow):
    """The route's own method answers; every other one is a 405 naming allow."""
    name = path.rsplit("/", 1)[1]
    return [answer(path, 200, TEXT, ("%s:%s" % (name, method)).encode(), method, sent(method))] + [
        answer(path, 405, JSON, NOT_ALLOWED, other, sent(other), {"Allow": allow})
        for other in METHODS if other != method]


ROUTED = [
    answer("/no/such/path", 404, JSON, NOT_FOUND),
    answer("/nothing", 404, JSON, NOT_FOUND, "POST", b"x"),
    answer("/users/", 404, JSON, NOT_FOUND),
    answer("/files", 404, JSON, NOT_FOUND),
    answer("/ok", 405, JSON, NOT_ALLOWED, "POST", b"", {"Allow": "GET, HEAD"}),
    *decorated("/m/get", "GET", "GET, HEAD"),
    *decorated("/m/post", "POST", "POST"),
    *decorated("/m/put", "PUT", "PUT"),
    *decorated("/m/patch", "PATCH", "PATCH"),
    *decorated("/m/delete", "DELETE", "DELETE"),
    *[answer("/m/multi", 200, TEXT, ("multi:" + m).encode(), m, sent(m))
      for m in ("GET", "POST", "DELETE")],
    *[answer("/m/multi", 405, JSON, NOT_ALLOWED, m, b"", {"Allow": "GET, HEAD, POST, DELETE"})
      for m in ("PUT", "PATCH")],
    answer("/m/same", 200, TEXT, b"same-get"),
    answer("/m/same", 200, TEXT, b"same-post", "POST", b""),
    answer("/m/same", 405, JSON, NOT_ALLOWED, "PUT", b"", {"Allow": "GET, HEAD, POST"}),
]


@pytest.mark.parametrize("method,target,send,expected", ROUTED)
def test_routing(client, method, target, send, expected):
    check_answer(client, method, target, send, expected)


# =============================================================================
# routes changed while serving; start/stop
# =============================================================================

def test_add_remove_route_while_serving(serve, new_app, connect):
    app = new_app

    @app.get("/base")
    def base():
        return "base"

    serve(app)
    c = connect(app.port)
    assert_reply(c.get("/base"), 200, TEXT, b"base")
    assert_reply(c.get("/new/5"), 404, JSON, NOT_FOUND)

    def new_get(n: int):
        return {"n": n}

    def new_post(n: int, req: Request):
        return {"n": n, "body": req.body.decode()}

    app.add_route("/new/{n}", new_get, methods=["GET"])
    assert_json(c.get("/new/5"), {"n": 5})
    assert_422(c.get("/new/x"), err("int_parsing", "path", "n", "x"))

    app.add_route("/new/{n}", new_post, methods=["POST"])
    assert_json(c.request("POST", "/new/6", body=b"hi"), {"n": 6, "body": "hi"})
    r = c.request("PUT", "/new/6", body=b"")
    assert_reply(r, 405, JSON, NOT_ALLOWED)
    assert r.header("Allow") == "GET, HEAD, POST"

    app.remove_route("/new/{n}", methods=["POST"])
    r = c.request("POST", "/new/6", body=b"")
    assert_reply(r, 405, JSON, NOT_ALLOWED)
    assert r.header("Allow") == "GET, HEAD"
    assert_json(c.get("/new/7"), {"n": 7})

    with pytest.raises(LookupError):
        app.remove_route("/new/{n}", methods=["PUT"])
    assert_json(c.get("/new/7"), {"n": 7})

    app.remove_route("/new/{n}")
    assert_reply(c.get("/new/7"), 404, JSON, NOT_FOUND)
    with pytest.raises(LookupError):
        app.remove_route("/new/{n}")
    with pytest.raises(LookupError):
        app.remove_route("/never-added")

    # A decorated route goes too; the rest keeps serving.
    app.remove_route("/base")
    assert_reply(c.get("/base"), 404, JSON, NOT_FOUND)
    app.add_route("/base", lambda: "again")           # methods default to GET
    assert_reply(c.get("/base"), 200, TEXT, b"again")
    r = c.request("POST", "/base", body=b"")
    assert r.status == 405 and r.header("Allow") == "GET, HEAD"


def test_remove_all_methods_of_path(serve, new_app, connect):
    app = new_app
    app.add_route("/r", lambda: "g", methods=["GET"])
    app.add_route("/r", lambda: "p", methods=["POST", "PUT"])
    serve(app)
    c = connect(app.port)
    assert_reply(c.get("/r"), 200, TEXT, b"g")
    assert_reply(c.request("PUT", "/r", body=b""), 200, TEXT, b"p")
    app.remove_route("/r", methods=None)
    for m in ("GET", "POST", "PUT"):
        assert_reply(c.request(m, "/r", body=b"" if m != "GET" else None),
                     404, JSON, NOT_FOUND)


def test_handler_changes_routes(serve, new_app, connect):
    app = new_app

    @app.get("/once")
    def once():
        app.remove_route("/once")
        return "bye"

    @app.post("/install/{name}")
    def install(name: str):
        app.add_route("/dyn/" + name, lambda: "dyn:" + name)
        return "installed"

    serve(app)
    c = connect(app.port, timeout=5)
    assert_reply(c.get("/once"), 200, TEXT, b"bye")
    assert_reply(c.get("/once"), 404, JSON, NOT_FOUND)
    assert_reply(c.request("POST", "/install/abc", body=b""), 200, TEXT, b"installed")
    assert_reply(c.get("/dyn/abc"), 200, TEXT, b"dyn:abc")


def test_many_route_changes_while_clients_run(serve, new_app, connect):
    app = new_app
    app.add_route("/stable", lambda: "stable")
    serve(app)
    c = connect(app.port)
    for i in range(200):
        path = "/churn/%d" % (i % 7)
        app.add_route(path, lambda i=i: {"i": i})
        assert_json(c.get(path), {"i": i})
        assert_reply(c.get("/stable"), 200, TEXT, b"stable")
        app.remove_route(path)
        assert_reply(c.get(path), 404, JSON, NOT_FOUND)


def test_start_threads_and_several_connections(serve, new_app, connect):
    app = new_app

    @app.get("/sq/{n}")
    def sq(n: int):
        return {"sq": n * n}

    serve(app, threads=2)
    clients = [connect(app.port) for _ in range(6)]
    for i in range(30):
        for k, c in enumerate(clients):
            assert_json(c.get("/sq/%d" % (i + k)), {"sq": (i + k) ** 2})


def test_stop_closes_listener(new_app, connect):
    app = new_app
    app.add_route("/x", lambda: "x")
    app.start(host="127.0.0.1", port=0, threads=1)
    port = app.port
    c = connect(port)
    assert_reply(c.get("/x"), 200, TEXT, b"x")
    app.stop()
    # The idle keep-alive connection was closed and nothing listens any more.
    c.conn.sock.settimeout(5)
    assert c.conn.sock.recv(1) == b""
    c.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_duplicate_route_and_double_start(serve, new_app, connect):
    app = new_app
    app.add_route("/d", lambda: "d")
    with pytest.raises(ValueError):
        app.add_route("/d", lambda: "again")
    serve(app)
    with pytest.raises(RuntimeError):
        app.start(host="127.0.0.1", port=0, threads=1)
    with pytest.raises(ValueError):
        app.add_route("/d", lambda: "again")
    c = connect(app.port)
    assert_reply(c.get("/d"), 200, TEXT, b"d")


def test_restart_after_stop(new_app, connect):
    app = new_app
    app.add_route("/x/{n}", lambda n: {"n": n})
    for i in range(3):
        app.start(host="127.0.0.1", port=0, threads=1)
        try:
            c = connect(app.port)
            assert_json(c.get("/x/%d" % i), {"n": str(i)})
            c.close()
        finally:
            app.stop()


def test_route_churn_under_concurrent_load(serve, new_app):
    """Routes added and removed from the main thread and from handlers while
    clients on other threads keep requesting: every answer is the route's own
    or a 404, and nothing deadlocks (a writer may wait for I/O threads that
    wait for the GIL)."""
    app = new_app
    app.add_route("/stable", lambda: "stable")

    def self_churn(n: int):
        path = "/hchurn/%d" % n
        app.add_route(path, lambda: "h")
        app.remove_route(path)
        return {"n": n}

    app.add_route("/self/{n}", self_churn)
    serve(app, threads=2)
    faulthandler.dump_traceback_later(120, exit=True)
    stop = threading.Event()
    problems = []
    counts = [0] * 3

    def hammer(k):
        c = Client(app.port)
        i = 0
        try:
            while not stop.is_set():
                i += 1
                r = c.get("/stable")
                if (r.status, r.body) != (200, b"stable"):
                    problems.append(("stable", r))
                r = c.get("/churn/%d" % (i % 5))
                if not ((r.status == 200 and r.body == dumps({"i": i % 5}))
                        or (r.status == 404 and r.body == NOT_FOUND)):
                    problems.append(("churn", r))
                r = c.get("/self/%d" % (k * 1000000 + i))
                if (r.status, r.body) != (200, dumps({"n": k * 1000000 + i})):
                    problems.append(("self", r))
                counts[k] += 1
        except Exception as e:  # noqa: BLE001
            problems.append(("exception", repr(e)))
        finally:
            c.close()

    threads = [threading.Thread(target=hammer, args=(k,)) for k in range(3)]
    try:
        for t in threads:
            t.start()
        for j in range(1500):
            path = "/churn/%d" % (j % 5)
            app.add_route(path, lambda j=j: {"i": j % 5})
            app.remove_route(path)
            if j % 2:
                app.add_route(path, lambda j=j: {"i": j % 5})
                app.remove_route(path)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        faulthandler.cancel_dump_traceback_later()
    assert not problems, problems[:5]
    assert all(n > 0 for n in counts), counts
