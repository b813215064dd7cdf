"""Differential tests against FastAPI itself (issue 15).

Each app in fastapi_apps/ is one source file written for FastAPI. It is
loaded twice: as written, and served by FastAPI through its TestClient; and
with every `from fastapi... import` line rewritten to `from turbo import`,
and served by a real turbo server on a free port. The same request corpus
goes to both; status, the JSON body (compared as values) and the chosen
headers must agree. The agreement count is printed (pytest -s shows it);
the test asserts 100% agreement outside EXCEPTIONS, each of which names
its reason (docs/fastapi-compat.md lists them too).
"""

import gzip
import json
import os
import re
import types

import pytest

from conftest import Client, needs, start_app

fastapi_testclient = needs("fastapi.testclient")

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fastapi_apps")
IMPORT = re.compile(r"^from (?:fastapi|starlette)(\.[\w.]+)? import ", re.M)

# Headers compared (lower-case) when either side sends them.
HEADERS = ("content-type", "x-why", "location", "www-authenticate", "vary",
           "access-control-allow-origin", "access-control-allow-methods",
           "access-control-allow-headers", "access-control-allow-credentials",
           "access-control-expose-headers", "access-control-max-age", "content-encoding",
           "set-cookie", "x-page", "x-path", "etag", "last-modified")

# (app, method, target) -> reason. Requests on which turbo knowingly
# answers otherwise than FastAPI; keep short, each with its why.
EXCEPTIONS = {
    ("body_kinds", "PUT", "/items/x"):
        "a path or query value that fails its conversion (done in C, before the handler's "
        "wrapper runs) answers 422 with its error alone: FastAPI lists the body's errors too",
}


def load(name, turbo_side):
    """The module object of fastapi_apps/<name>.py, as FastAPI's or as
    turbo's (its fastapi imports rewritten)."""
    path = os.path.join(APPS, name + ".py")
    with open(path, encoding="utf-8") as f:
        source = f.read()
    if turbo_side:
        source = IMPORT.sub("from turbo import ", source)
        assert not re.search(r"fastapi|starlette", re.sub(r'""".*?"""', "", source, flags=re.S)), \
            "%s: a fastapi or starlette import left after the rewrite" % name
    mod = types.ModuleType("fastapi_app_%s_%s" % (name, "turbo" if turbo_side else "fastapi"))
    mod.__file__ = path
    exec(compile(source, path, "exec"), mod.__dict__)
    return mod


JSON_TYPE = {"Content-Type": "application/json"}

FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
BOUNDARY = "turbo-7f3a"
MULTIPART_TYPE = {"Content-Type": "multipart/form-data; boundary=" + BOUNDARY}


def multipart(*parts):
    """A multipart/form-data body with the fixed BOUNDARY, byte for byte:
    each part (name, value) a field, (name, filename, content, headers) a
    file."""
    out = b""
    for part in parts:
        out += b"--" + BOUNDARY.encode() + b"\r\n"
        if len(part) == 2:
            name, value = part
            out += b'Content-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (
                name.encode(), value.encode())
        else:
            name, filename, content, headers = part
            out += b'Content-Disposition: form-data; name="%s"; filename="%s"\r\n' % (
                name.encode(), filename.encode())
            for k, v in headers.items():
                out += b"%s: %s\r\n" % (k.encode(), v.encode())
            out += b"\r\n" + content + b"\r\n"
    return out + b"--" + BOUNDARY.encode() + b"--\r\n"


# The corpus: (method, target, body bytes or None, request headers).
def _static_etag():
    # The ETag both sides compute from the file's stat (Starlette's formula).
    import hashlib
    st = os.stat(os.path.join(APPS, "static", "a.css"))
    return '"%s"' % hashlib.md5(f"{st.st_mtime}-{st.st_size}".encode()).hexdigest()


def _static_mtime(delta):
    import email.utils
    st = os.stat(os.path.join(APPS, "static", "a.css"))
    return email.utils.formatdate(st.st_mtime + delta, usegmt=True)


CORPUS = {
    "static_app": [
        ("GET", "/ping", None, {}),
        ("GET", "/static/a.css", None, {}),
        ("HEAD", "/static/a.css", None, {}),
        ("GET", "/static/hello.txt", None, {}),
        ("GET", "/static/missing.css", None, {}),
        ("GET", "/static/../secret.txt", None, {}),
        ("GET", "/static/%2e%2e/secret.txt", None, {}),
        ("GET", "/static/sub/../a.css", None, {}),
        ("GET", "/static/sub/", None, {}),
        ("GET", "/static/sub", None, {"Host": "t"}),
        ("GET", "/static/", None, {}),
        ("GET", "/static", None, {"Host": "t"}),
        ("POST", "/static/a.css", b"", {}),
        ("DELETE", "/static/a.css", None, {}),
        ("GET", "/static/a.css", None, {"If-None-Match": _static_etag()}),
        ("GET", "/static/a.css", None, {"If-None-Match": 'W/' + _static_etag()}),
        ("GET", "/static/a.css", None, {"If-None-Match": '"nope"'}),
        ("GET", "/static/a.css", None, {"If-Modified-Since": _static_mtime(10)}),
        ("GET", "/static/a.css", None, {"If-Modified-Since": _static_mtime(-100)}),
    ],
    "basic": [
        ("GET", "/", None, {}),
        ("GET", "/items/1", None, {}),
        ("GET", "/items/2?verbose=true", None, {}),
        ("GET", "/items/2?verbose=1", None, {}),
        ("GET", "/items/2?verbose=no", None, {}),
        ("GET", "/items/2?verbose=maybe", None, {}),
        ("GET", "/items/3", None, {}),
        ("GET", "/items/abc", None, {}),
        ("GET", "/items/-1", None, {}),
        ("GET", "/search?q=tea", None, {}),
        ("GET", "/search?q=tea&limit=3&ratio=1.25&tag=green", None, {}),
        ("GET", "/search?q=tea&limit=x", None, {}),
        ("GET", "/search?q=tea&ratio=abc", None, {}),
        ("GET", "/search?limit=x&ratio=y", None, {}),
        ("GET", "/search", None, {}),
        ("GET", "/search?q=a%20b%2Bc", None, {}),
        ("GET", "/files/a/b/c.txt", None, {}),
        ("POST", "/created", None, {}),
        ("GET", "/created", None, {}),
        ("GET", "/teapot", None, {}),
        ("GET", "/forbidden", None, {}),
        ("DELETE", "/items/7", None, {}),
        ("GET", "/unicode", None, {}),
        ("GET", "/nowhere", None, {}),
        ("POST", "/made", None, {}),
        ("POST", "/made?n=x", None, {}),
        ("GET", "/accepted", None, {}),
        ("DELETE", "/gone/3", None, {}),
        ("DELETE", "/gone/x", None, {}),
        ("POST", "/overridden", None, {}),
    ],
    "bodies": [
        ("POST", "/items", b'{"name": "a", "price": 2.5}', JSON_TYPE),
        ("POST", "/items", b'{"name": "a", "price": 2.5, "tags": ["x", "y"], '
         b'"address": {"street": "s", "zip": "12345"}}', JSON_TYPE),
        ("POST", "/items", b'{"name": "a", "price": -1}', JSON_TYPE),
        ("POST", "/items", b'{"price": "abc"}', JSON_TYPE),
        ("POST", "/items", b'{"name": "a", "price": 1, "address": {"zip": "1"}}', JSON_TYPE),
        ("POST", "/items", b'{"name": "a", "price": 1, "tags": "x"}', JSON_TYPE),
        ("POST", "/items", b'[1, 2]', JSON_TYPE),
        ("POST", "/items", b'"text"', JSON_TYPE),
        ("POST", "/items", b'{"name": "a",', JSON_TYPE),
        ("POST", "/items", b'not json', JSON_TYPE),
        ("POST", "/items", b'', JSON_TYPE),
        ("POST", "/items", None, {}),
        ("POST", "/items", b'{"name": "a", "price": 2.5}', {"Content-Type": "application/vnd.x+json"}),
        ("POST", "/items", b'{"name": "a", "price": 2.5}',
         {"Content-Type": "application/json; charset=utf-8"}),
        ("POST", "/items", b'{"name": "a", "price": 2.5}', {"Content-Type": "text/plain"}),
        ("POST", "/items", b'{"name": "a", "price": 2.5}', {}),
        ("PUT", "/items/5?notify=true", b'{"name": "b", "price": 1}', JSON_TYPE),
        ("PUT", "/items/5", b'{"name": "b"}', JSON_TYPE),
        ("POST", "/echo", b'{"name": "c", "price": 3, "tags": ["t"]}', JSON_TYPE),
        ("POST", "/echo", b'{"name": "c", "price": 0}', JSON_TYPE),
        ("POST", "/optional", None, {}),
        ("POST", "/optional", b'{"name": "c", "price": 3}', JSON_TYPE),
        ("POST", "/optional", b'{"name": "c"}', JSON_TYPE),
        ("GET", "/model", None, {}),
        ("POST", "/made", b'{"name": "n", "price": 2}', JSON_TYPE),
        ("POST", "/made", b'{"name": "n", "price": -2}', JSON_TYPE),
        ("GET", "/users/ann", None, {}),
        ("GET", "/users-lean/ann", None, {}),
        ("GET", "/users-set/ann", None, {}),
        ("GET", "/users-list", None, {}),
        ("GET", "/subclass", None, {}),
    ] + [("POST", path, body, JSON_TYPE) for path in ("/mixed", "/mixed-repr") for body in (
        b'{"i": 1, "f": 2.5, "s": "x", "b": true, "ints": [1, 2], "counts": {"a": 1}}',
        b'{"s": "a", "s": "b", "counts": {"k": 1, "k": 2}}',
        b'{"f": NaN}', b'{"f": Infinity}', b'{"f": -Infinity}', b'{"f": 1e400}', b'{"f": 1e-400}',
        b'{"i": 123456789012345678901234567890}', b'{"i": 1.0}', b'{"i": 1.5}', b'{"i": "12"}',
        b'{"i": true}', b'{"i": 1e2}', b'{"b": "yes"}', b'{"b": 1}', b'{"b": 2}',
        b'{"s": "\\u00e9\\n\\t\\u0000"}', b'{"s": "\\ud800"}', b'{"s": "\\ud83d\\ude00"}',
        b'{"s": "\xff"}', b'\xef\xbb\xbf{"s": "bom"}', '{"s": "utf16"}'.encode("utf-16"),
        b'{"ints": [1, "2", 3.0]}', b'{"ints": [1, null]}', b'{"counts": {"a": "x"}}',
        b'{"address": {"street": "s", "zip": "12345"}}', b'{"address": {"zip": 12345}}',
        b'{"s": 5}', b'{"unknown": 1}', b'{}', b'[]', b'null', b'{"i": 1} trailing',
        b'  {"i": 2}  \n', b'{"i": -0}', b'{"f": -0.0}',
    )] + [("POST", "/unions", body, JSON_TYPE) for body in (
        b'{"when": "2020-01-01T00:00:00+00:00", "day": "2020-01-01", '
        b'"key": "00000000-0000-0000-0000-000000000001", "either": "2020-01-01"}',
        b'{"when": "not a date", "day": "x", "key": "k", "either": "2020-01-01T10:00:00"}',
        b'{"either": 5}',
    )] + [("POST", "/strict", body, JSON_TYPE) for body in (
        b'{"n": 1}', b'{"n": "1"}', b'{"n": 1.0}', b'{"n": true}', b'{"n": 1, "when": "2024-01-01"}',
    )],
    "body_kinds": [
        ("POST", "/items", b'[{"name": "a", "price": 1}, {"name": "b", "price": 2.5}]', JSON_TYPE),
        ("POST", "/items", b'[]', JSON_TYPE),
        ("POST", "/items", b'[{"name": "a", "price": 0}, {"price": "x"}]', JSON_TYPE),
        ("POST", "/items", b'{"name": "a", "price": 1}', JSON_TYPE),
        ("POST", "/items", b'', JSON_TYPE),
        ("POST", "/items", b'[1', JSON_TYPE),
        ("POST", "/points", b'{"x": 1, "y": 2}', JSON_TYPE),
        ("POST", "/points", b'{"x": "3"}', JSON_TYPE),
        ("POST", "/points", b'{"y": "q"}', JSON_TYPE),
        ("POST", "/points", b'[1, 2]', JSON_TYPE),
        ("POST", "/movies", b'{"title": "M", "year": 1999}', JSON_TYPE),
        ("POST", "/movies", b'{"title": 5}', JSON_TYPE),
        ("POST", "/scores", b'{"a": 1, "b": 2}', JSON_TYPE),
        ("POST", "/scores", b'{"a": "x"}', JSON_TYPE),
        ("POST", "/importance", b'5', JSON_TYPE),
        ("POST", "/importance", b'"7"', JSON_TYPE),
        ("POST", "/importance", b'"x"', JSON_TYPE),
        ("POST", "/importance", b'{"importance": 5}', JSON_TYPE),
        ("POST", "/importance", None, {}),
        ("POST", "/importance", b'5', {"Content-Type": "text/plain"}),
        ("POST", "/embedded", b'{"item": {"name": "a", "price": 1}}', JSON_TYPE),
        ("POST", "/embedded", b'{"name": "a", "price": 1}', JSON_TYPE),
        ("POST", "/embedded", b'[1]', JSON_TYPE),
        ("POST", "/embedded", b'null', JSON_TYPE),
        ("POST", "/embedded", b'', JSON_TYPE),
        ("POST", "/embedded", b'{"item": ', JSON_TYPE),
        ("PUT", "/items/3", b'{"item": {"name": "a", "price": 1}, "user": {"username": "u"}, '
         b'"importance": 4}', JSON_TYPE),
        ("PUT", "/items/3", b'{"item": {"name": "a", "price": 1}, "user": {"username": "u"}}',
         JSON_TYPE),
        ("PUT", "/items/3", b'{"item": {"name": "a", "price": -1}, "importance": 0}', JSON_TYPE),
        ("PUT", "/items/x", b'{}', JSON_TYPE),
        ("PUT", "/items/3", b'{"item": {"name": "a", "price": 1}}', {"Content-Type": "text/plain"}),
        ("PUT", "/items/3", b'"s"', JSON_TYPE),
        ("POST", "/aliased", b'{"the-text": "ab", "count": 2}', JSON_TYPE),
        ("POST", "/aliased", b'{"text": "ab"}', JSON_TYPE),
        ("POST", "/aliased", b'{"the-text": "a", "count": 11}', JSON_TYPE),
        ("POST", "/aliased", b'{"the-text": "abc"}', JSON_TYPE),
        ("POST", "/optional-plain", None, {}),
        ("POST", "/optional-plain", b'"n"', JSON_TYPE),
        ("POST", "/optional-plain", b'3', JSON_TYPE),
        ("POST", "/even", b'{"n": 4}', JSON_TYPE),
        ("POST", "/even", b'{"n": 3}', JSON_TYPE),  # a validator's ValueError: ctx {"error": {}}
    ],
    "crud": [
        ("GET", "/products", None, {}),
        ("POST", "/products", b'{"name": "cup", "price": 2.5}', JSON_TYPE),
        ("POST", "/products", b'{"name": "pot", "price": 10, "tags": ["k"], '
         b'"dims": {"width": 3, "height": 4.5}}', JSON_TYPE),
        ("POST", "/products", b'{"name": "", "price": -1, "dims": {"width": 0}}', JSON_TYPE),
        ("POST", "/products", b'{"name": "x"', JSON_TYPE),
        ("POST", "/products/bulk", b'[{"name": "a", "price": 1}, {"name": "b", "price": 2}]',
         JSON_TYPE),
        ("POST", "/products/bulk", b'[{"name": "a", "price": 1}, {"price": "x"}]', JSON_TYPE),
        ("GET", "/products", None, {}),
        ("GET", "/products?skip=1&limit=2", None, {}),
        ("GET", "/products?limit=x", None, {}),
        ("GET", "/products/2", None, {}),
        ("GET", "/products/99", None, {}),
        ("GET", "/products/x", None, {}),
        ("PUT", "/products/1", b'{"name": "mug", "price": 3}', JSON_TYPE),
        ("PUT", "/products/1", b'{"price": 3}', JSON_TYPE),
        ("PUT", "/products/99", b'{"name": "mug", "price": 3}', JSON_TYPE),
        ("PATCH", "/products/2", b'{"price": 12.5}', JSON_TYPE),
        ("PATCH", "/products/2", b'{"dims": null, "tags": ["a", "b"]}', JSON_TYPE),
        ("PATCH", "/products/2", b'{"name": ""}', JSON_TYPE),
        ("PATCH", "/products/2", b'{}', JSON_TYPE),
        ("PATCH", "/products/99", b'{}', JSON_TYPE),
        ("GET", "/products/2", None, {}),
        ("DELETE", "/products/1", None, {}),
        ("DELETE", "/products/1", None, {}),
        ("GET", "/products/1", None, {}),
        ("GET", "/products", None, {}),
    ],
    "forms": [
        ("POST", "/login", b"username=ann&password=secret", FORM_TYPE),
        ("POST", "/login", b"username=a+b%20c%C3%A9&password=p%26q%3D", FORM_TYPE),
        ("POST", "/login", b"username=ann", FORM_TYPE),
        ("POST", "/login", b"username=&password=ab", FORM_TYPE),
        ("POST", "/login", b"username=x&username=y&password=pwd", FORM_TYPE),
        ("POST", "/login", b"", FORM_TYPE),
        ("POST", "/login", None, {}),
        ("POST", "/login", b'{"username": "ann", "password": "secret"}', JSON_TYPE),
        ("POST", "/login", multipart(("username", "mp"), ("password", "secret")), MULTIPART_TYPE),
        ("POST", "/login", b"username=ann&password=secret",
         {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
        ("POST", "/upload", multipart(("title", "report"), ("tags", "a"), ("tags", "b"),
                                      ("file", "r.txt", b"hello world",
                                       {"Content-Type": "text/plain", "X-Extra": "1"})),
         MULTIPART_TYPE),
        ("POST", "/upload", multipart(("file", "r.bin", b"\x00\x01\xff", {}),
                                      ("title", "t"), ("count", "3")), MULTIPART_TYPE),
        ("POST", "/upload", multipart(("title", "t"), ("count", "x")), MULTIPART_TYPE),
        ("POST", "/upload", multipart(("file", "", b"", {"Content-Type": "application/octet-stream"}),
                                      ("title", "t")), MULTIPART_TYPE),
        ("POST", "/upload", multipart(("file", "e.txt", b"", {}), ("title", "t")), MULTIPART_TYPE),
        ("POST", "/upload", b"title=t", FORM_TYPE),
        ("POST", "/upload", multipart(("file", "not a file"), ("title", "t")), MULTIPART_TYPE),
        ("POST", "/files", multipart(("files", "a.txt", b"a", {}), ("files", "text")),
         MULTIPART_TYPE),
        ("POST", "/upload", b'{"title": "t"}', JSON_TYPE),
        ("POST", "/bytes", multipart(("data", "d.txt", b"raw \xe9 bytes", {})), MULTIPART_TYPE),
        ("POST", "/bytes", multipart(("data", "as field"), ("note", "n")), MULTIPART_TYPE),
        ("POST", "/bytes", multipart(("note", "n")), MULTIPART_TYPE),
        ("POST", "/files", multipart(("files", "a.txt", b"aa", {}), ("files", "b.txt", b"bbb", {})),
         MULTIPART_TYPE),
        ("POST", "/files", multipart(("files", "a.txt", b"aa", {}), ("files", "", b"", {})),
         MULTIPART_TYPE),
        ("POST", "/files", multipart(("other", "x")), MULTIPART_TYPE),
        ("POST", "/optional-file", multipart(("note", "no file")), MULTIPART_TYPE),
        ("POST", "/optional-file", multipart(("file", "f.txt", b"content", {})), MULTIPART_TYPE),
        ("POST", "/optional-file", None, {}),
        ("POST", "/model", b"username=ann&remember=yes", FORM_TYPE),
        ("POST", "/model", b"username=ann&extra=1", FORM_TYPE),
        ("POST", "/model", b"remember=maybe", FORM_TYPE),
        ("POST", "/model", multipart(("username", "m")), MULTIPART_TYPE),
        ("POST", "/aliased", b"user-name=bo&id=1&id=2", FORM_TYPE),
        ("POST", "/aliased", b"user_name=bo&id=x", FORM_TYPE),
        ("POST", "/aliased", b"user-name=toolong", FORM_TYPE),
        ("POST", "/login", b"username=ann", {"Content-Type": "multipart/form-data"}),
        ("POST", "/login", b"--turbo-7f3a\r\nbroken", MULTIPART_TYPE),
        ("POST", "/login", multipart(("username", "a")).replace(b"; name=\"username\"", b""),
         MULTIPART_TYPE),
    ],
    "headers": [
        # (a User-Agent always: FastAPI's TestClient sends its own otherwise)
        ("GET", "/headers", None, {"X-Token": "abc", "User-Agent": "a"}),
        ("GET", "/headers", None, {"x-token": "abc", "User-Agent": "probe/1", "X-Count": "7"}),
        ("GET", "/headers", None, {}),
        ("GET", "/headers", None, {"X-Count": "seven"}),
        ("GET", "/headers", None, {"X-Token": "t", "X-Count": "-3", "User-Agent": "b"}),
        ("GET", "/annotated", None, {"X-Request-Id": "42"}),
        ("GET", "/annotated", None, {"X-Request-Id": "x"}),
        ("GET", "/annotated", None, {}),
        ("GET", "/annotated", None, {"X-Request-Id": "1", "strict_name": "yes"}),
        ("GET", "/annotated", None, {"X-Request-Id": "1", "strict-name": "no"}),
        ("GET", "/cookies", None, {"Cookie": "session=s1"}),
        ("GET", "/cookies", None, {"Cookie": "session=s1; theme=dark; visits=3"}),
        ("GET", "/cookies", None, {"Cookie": 'session="quoted value"; visits=x'}),
        ("GET", "/cookies", None, {"Cookie": "theme=dark"}),
        ("GET", "/cookies", None, {}),
        ("POST", "/notes/1", b'{"text": "hi"}', {**JSON_TYPE, "X-Token": "k"}),
        ("POST", "/notes/1?q=z", b'{"text": "hi"}', {**JSON_TYPE}),
        ("POST", "/notes/1", b'{"txt": "hi"}', {**JSON_TYPE}),
        ("POST", "/notes/1", b'{"text": ', {**JSON_TYPE}),
        ("POST", "/notes/x", b'{"text": "hi"}', {**JSON_TYPE, "X-Token": "k"}),
    ],
    "routers": [
        ("GET", "/items/", None, {}),
        ("GET", "/items/?limit=4", None, {}),
        ("GET", "/items/?limit=x", None, {}),
        ("GET", "/items/3", None, {}),
        ("GET", "/items/30", None, {}),
        ("POST", "/items?name=cup", None, {}),
        ("POST", "/items", None, {}),
        ("GET", "/users/ann", None, {}),
        ("GET", "/users/ann?verbose=true", None, {}),
        ("GET", "/v1/admin/users/bob", None, {}),
        ("DELETE", "/v1/admin/cache", None, {}),
        ("GET", "/v1/admin/cache", None, {}),
        ("GET", "/admin/users/bob", None, {}),
        ("GET", "/guarded/thing", None, {"X-Key": "k"}),
        ("GET", "/guarded/thing", None, {"X-Key": "no"}),
        ("GET", "/guarded/thing", None, {}),
        ("GET", "/outer/inner/text", None, {}),
        ("GET", "/outer/inner/html", None, {}),
        ("GET", "/outer/json", None, {}),
    ],
    "deps": [
        ("GET", "/items", None, {}),
        ("GET", "/items?skip=5&limit=2&q=z", None, {}),
        ("GET", "/items?limit=x", None, {}),
        ("GET", "/items?skip=a&limit=b", None, {}),
        ("GET", "/me", None, {"X-Token": "secret"}),
        ("GET", "/me", None, {"X-Token": "wrong"}),
        ("GET", "/me", None, {}),
        ("GET", "/cached", None, {}),
        ("GET", "/db", None, {}),
        ("GET", "/closed", None, {}),  # the generator's code after yield has run
        ("GET", "/class?page=3", None, {}),
        ("GET", "/class?page=x", None, {}),
        ("GET", "/class", None, {}),
        ("GET", "/both/4?skip=1", None, {}),
        ("GET", "/both/4?skip=x", None, {}),
        ("POST", "/work?who=ann", None, {}),
        ("GET", "/done", None, {}),  # the background tasks have run, in order
    ],
    "responses": [
        ("GET", "/page", None, {}),
        ("GET", "/text", None, {}),
        ("GET", "/go", None, {}),
        ("GET", "/go?to=https://example.com/a%20b", None, {}),
        ("POST", "/moved", None, {}),
        ("GET", "/bytes-html", None, {}),
    ],
    "cors_hosts": [
        ("GET", "/items/5", None, {}),
        ("GET", "/items/5", None, {"Origin": "https://a.example"}),
        ("GET", "/items/5", None, {"Origin": "https://x.b.example"}),
        ("GET", "/items/5", None, {"Origin": "https://evil.example"}),
        ("GET", "/items/0", None, {"Origin": "https://a.example"}),
        ("GET", "/items/1", None, {"Origin": "https://a.example"}),
        ("POST", "/items", b"{}", {"Origin": "https://a.example", **JSON_TYPE}),
        ("OPTIONS", "/items/5", None, {"Origin": "https://a.example",
                                       "Access-Control-Request-Method": "GET"}),
        ("OPTIONS", "/items/5", None, {"Origin": "https://a.example",
                                       "Access-Control-Request-Method": "POST",
                                       "Access-Control-Request-Headers": "X-Token, content-type"}),
        ("OPTIONS", "/items/5", None, {"Origin": "https://evil.example",
                                       "Access-Control-Request-Method": "DELETE",
                                       "Access-Control-Request-Headers": "X-Other"}),
        ("OPTIONS", "/items/5", None, {"Origin": "https://y.b.example",
                                       "Access-Control-Request-Method": "GET",
                                       "Access-Control-Request-Private-Network": "true"}),
        ("OPTIONS", "/items/5", None, {"Origin": "https://a.example"}),
        ("OPTIONS", "/items/5", None, {}),
        ("OPTIONS", "/items", None, {"Origin": "https://a.example",
                                     "Access-Control-Request-Method": "POST"}),
        ("OPTIONS", "/items", None, {"Origin": "https://a.example"}),
        ("GET", "/items/5", None, {"Host": "testserver"}),
        ("GET", "/items/5", None, {"Host": "api.trusted.example:8000"}),
        ("GET", "/items/5", None, {"Host": "evil.example"}),
        ("GET", "/items/5?q=1", None, {"Host": "c.example"}),
        ("GET", "/items/5", None, {"Host": "trusted.example"}),
        # Paths no route has: the middleware answers them too.
        ("OPTIONS", "/nowhere", None, {"Origin": "https://a.example",
                                       "Access-Control-Request-Method": "GET"}),
        ("GET", "/nowhere", None, {"Origin": "https://a.example"}),
        ("DELETE", "/items/5", None, {"Origin": "https://a.example"}),
        ("GET", "/nowhere", None, {"Host": "evil.example"}),
        ("GET", "/nowhere", None, {"Host": "trusted.example"}),
    ],
    "gzip_app": [
        ("GET", "/big", None, {"Accept-Encoding": "gzip, deflate"}),
        ("GET", "/big", None, {}),
        ("GET", "/small", None, {"Accept-Encoding": "gzip, deflate"}),
        ("GET", "/small", None, {}),
        ("GET", "/text", None, {"Accept-Encoding": "gzip, deflate"}),
        ("GET", "/text", None, {}),
        ("GET", "/png", None, {"Accept-Encoding": "gzip, deflate"}),
        ("GET", "/png", None, {}),
        ("GET", "/encoded", None, {"Accept-Encoding": "gzip, deflate"}),
        ("GET", "/encoded", None, {}),
        ("GET", "/vary", None, {"Accept-Encoding": "gzip, deflate"}),
        ("GET", "/vary", None, {}),
        ("GET", "/big", None, {"Accept-Encoding": "br"}),
        ("GET", "/nowhere", None, {"Accept-Encoding": "gzip, deflate"}),
    ],
    "handlers": [
        ("GET", "/unicorns/ann", None, {}),
        ("GET", "/unicorns/yolo", None, {}),
        ("GET", "/unicorns/rare", None, {}),
        ("GET", "/items/1", None, {}),
        ("GET", "/items/3", None, {}),
        ("GET", "/items/4", None, {}),
        ("POST", "/items", b'{"name": "a", "price": 1}', JSON_TYPE),
        ("POST", "/items", b'{"name": "a", "price": "x"}', JSON_TYPE),
        ("POST", "/items", b'{"name": "a",', JSON_TYPE),
        ("POST", "/items", b'{}', JSON_TYPE),
        ("GET", "/teapot", None, {}),
        ("GET", "/text", None, {}),
        ("GET", "/greeting", None, {}),
        ("GET", "/greeting-bytes", None, {}),
        ("GET", "/items/1", None, {"X-Block": "yes"}),
        ("GET", "/unicorns/yolo", None, {"X-Block": "no"}),
        # Requests no route takes: through the 404 handler and the
        # middleware, as Starlette's router raises them.
        ("GET", "/nowhere", None, {}),
        ("GET", "/unicorns/ann/more", None, {}),
        ("HEAD", "/nowhere", None, {}),
        ("POST", "/teapot", None, {}),
        ("DELETE", "/items/1", None, {}),
        # A path or query value C's conversion refuses: the
        # RequestValidationError handler and the middleware see it.
        ("GET", "/items/abc", None, {}),
        ("GET", "/search?limit=x&ratio=y&exact=maybe", None, {}),
        ("GET", "/search", None, {}),
        ("GET", "/search?limit=2&ratio=0.5&exact=yes", None, {}),
    ],
    "misses": [
        ("GET", "/nope", None, {}),
        ("GET", "/items/2/more", None, {}),
        ("HEAD", "/nope", None, {}),
        ("POST", "/items/2", None, {}),
        ("GET", "/items/0", None, {}),
        ("GET", "/items/1", None, {}),
        ("GET", "/items/2", None, {}),
    ],
    "response_classes": [
        ("GET", "/default", None, {}),
        ("GET", "/html", None, {}),
        ("GET", "/text", None, {}),
        ("GET", "/model", None, {}),
        ("GET", "/go", None, {}),
        ("GET", "/explicit", None, {}),
        ("POST", "/login", b'{"name": "a", "password": "secret"}', JSON_TYPE),
        ("POST", "/login", b'{"name": "a"}', JSON_TYPE),
        ("GET", "/page", None, {}),
        ("GET", "/odd", None, {}),
    ],
    "auth": [
        ("GET", "/bearer", None, {}),
        ("GET", "/bearer", None, {"Authorization": "Bearer abc"}),
        ("GET", "/bearer", None, {"Authorization": "bearer  spaced  "}),
        ("GET", "/bearer", None, {"Authorization": "Basic abc"}),
        ("GET", "/bearer", None, {"Authorization": "Bearer"}),
        ("GET", "/maybe", None, {}),
        ("GET", "/maybe", None, {"Authorization": "Bearer x"}),
        ("GET", "/basic", None, {"Authorization": "Basic YW5uOnNlY3JldDpjb2xvbg=="}),
        ("GET", "/basic", None, {"Authorization": "Basic bm9jb2xvbg=="}),
        ("GET", "/basic", None, {"Authorization": "Basic w6k6eA=="}),
        ("GET", "/basic", None, {"Authorization": "Basic !!!"}),
        ("GET", "/basic", None, {}),
        ("GET", "/key", None, {"X-API-Key": "k1"}),
        ("GET", "/key?api_key=q1", None, {"x-api-key": "k1"}),
        ("GET", "/key?api_key=", None, {}),
        ("GET", "/cookie", None, {"Cookie": "session=s1; other=2"}),
        ("GET", "/cookie", None, {"Cookie": "other=2"}),
        ("GET", "/items", None, {}),
        ("GET", "/items", None, {"Authorization": "Bearer alice-token"}),
        ("GET", "/items", None, {"Authorization": "Bearer nobody"}),
        ("POST", "/items", None, {"Authorization": "Bearer alice-token"}),
        ("POST", "/items", None, {"Authorization": "Bearer admin-token"}),
        ("GET", "/digest", None, {"Authorization": 'Digest username="u", nonce="n"'}),
        ("GET", "/digest", None, {"Authorization": "Bearer x"}),
        ("GET", "/digest", None, {}),
    ],
    "auth_schemes": [
        ("GET", "/bearer", None, {"Authorization": "Bearer abc"}),
        ("GET", "/bearer", None, {"Authorization": "bearer  abc "}),
        ("GET", "/bearer", None, {}),
        ("GET", "/bearer", None, {"Authorization": ""}),
        ("GET", "/bearer", None, {"Authorization": "Bearer"}),
        ("GET", "/bearer", None, {"Authorization": "Basic abc"}),
        ("GET", "/maybe", None, {}),
        ("GET", "/maybe", None, {"Authorization": "Token x"}),
        ("GET", "/maybe", None, {"Authorization": "Bearer x"}),
        ("GET", "/basic", None, {"Authorization": "Basic dXNlcjpwdw=="}),
        ("GET", "/basic", None, {"Authorization": "Basic dXNlcjp4"}),
        ("GET", "/basic", None, {}),
        ("GET", "/basic", None, {"Authorization": "Basic !!!"}),
        ("GET", "/basic", None, {"Authorization": "Basic dXNlcg=="}),
        ("GET", "/basic", None, {"Authorization": "Basic /w=="}),
        ("GET", "/basic", None, {"Authorization": "Bearer dXNlcjpwdw=="}),
        ("GET", "/basic-optional", None, {}),
        ("GET", "/basic-optional", None, {"Authorization": "Basic dXNlcg=="}),
        ("GET", "/basic-optional", None, {"Authorization": "basic dXNlcjpwdw=="}),
        ("GET", "/key/header", None, {"X-API-Key": "k1"}),
        ("GET", "/key/header", None, {"x-api-key": "k2"}),
        ("GET", "/key/header", None, {"X-API-Key": ""}),
        ("GET", "/key/header", None, {}),
        ("GET", "/key/query?api_key=q1", None, {}),
        ("GET", "/key/query?api_key=a&api_key=b", None, {}),
        ("GET", "/key/query?api_key=", None, {}),
        ("GET", "/key/query", None, {}),
        ("GET", "/key/cookie", None, {"Cookie": "session=c1; other=x"}),
        ("GET", "/key/cookie", None, {"Cookie": "other=x"}),
        ("GET", "/key/cookie", None, {}),
        ("GET", "/items", None, {"Authorization": "Bearer t-read"}),
        ("GET", "/items", None, {"Authorization": "Bearer nope"}),
        ("GET", "/items", None, {}),
        ("POST", "/items", None, {"Authorization": "Bearer t-read"}),
        ("POST", "/items", None, {"Authorization": "Bearer t-all"}),
        ("GET", "/me", None, {"Authorization": "Bearer t-read"}),
        ("GET", "/me", None, {"Authorization": "Basic t-read"}),
        ("GET", "/guarded", None, {"Authorization": "Bearer t-all"}),
        ("GET", "/guarded", None, {"Authorization": "Bearer t-read"}),
        ("GET", "/direct?api_key=k", None, {"Authorization": "Bearer zz"}),
        ("GET", "/direct", None, {"Authorization": "Token zz"}),
    ],
    "oauth_login": [
        ("GET", "/users/me", None, {"Authorization": "Bearer tok-alice"}),
        ("GET", "/users/me", None, {"Authorization": "Bearer tok-bob"}),
        ("GET", "/users/me", None, {"Authorization": "Basic tok-alice"}),
        ("GET", "/users/me", None, {}),
        ("GET", "/code", None, {"Authorization": "Bearer c0de"}),
        ("GET", "/code", None, {"Authorization": "bearer  c0de "}),
        ("GET", "/code", None, {"Authorization": "Bearer"}),
        ("GET", "/code", None, {"Authorization": "Token c0de"}),
        ("GET", "/code", None, {}),
        ("GET", "/code/maybe", None, {}),
        ("GET", "/code/maybe", None, {"Authorization": "Digest x"}),
        ("GET", "/code/maybe", None, {"Authorization": "Bearer x"}),
        ("GET", "/oidc", None, {"Authorization": "Bearer id-token"}),
        ("GET", "/oidc", None, {"Authorization": "anything at all"}),
        ("GET", "/oidc", None, {"Authorization": ""}),
        ("GET", "/oidc", None, {}),
        ("GET", "/oidc/maybe", None, {}),
        ("GET", "/oidc/maybe", None, {"Authorization": "Basic x"}),
    ],
    "auth_nested": [
        ('GET', '/bearer', None, {}),
        ('GET', '/bearer', None, {'Authorization': 'Bearer s3cret'}),
        ('GET', '/bearer', None, {'Authorization': 'Bearer nope'}),
        ('GET', '/bearer', None, {'Authorization': 'Basic abc'}),
        ('GET', '/bearer', None, {'Authorization': 'Bearer'}),
        ('GET', '/bearer', None, {'Authorization': 'bearer  s3cret '}),
        ('GET', '/maybe', None, {}),
        ('GET', '/maybe', None, {'Authorization': 'Bearer tok'}),
        ('GET', '/maybe', None, {'Authorization': 'Token tok'}),
        ('GET', '/basic', None, {}),
        ('GET', '/basic', None, {'Authorization': 'Basic YW5uOnB3OjE='}),
        ('GET', '/basic', None, {'Authorization': 'Basic YW5uOndyb25n'}),
        ('GET', '/basic', None, {'Authorization': 'Basic !!notbase64'}),
        ('GET', '/basic', None, {'Authorization': 'Basic bm9jb2xvbg=='}),
        ('GET', '/basic', None, {'Authorization': 'Bearer x'}),
        ('GET', '/plain-basic', None, {}),
        ('GET', '/plain-basic', None, {'Authorization': 'Basic dTo='}),
        ('GET', '/plain-basic', None, {'Authorization': 'basic /zp4'}),
        ('GET', '/keys', None, {}),
        ('GET', '/keys', None, {'X-API-Key': 'k1'}),
        ('GET', '/keys?api_key=q1', None, {'X-API-Key': 'k1'}),
        ('GET', '/keys?api_key=q1', None, {}),
        ('GET', '/keys?api_key=', None, {'x-api-key': ''}),
        ('GET', '/cookie', None, {}),
        ('GET', '/cookie', None, {'Cookie': 'session=abc'}),
        ('GET', '/cookie', None, {'Cookie': 'other=1'}),
        ('GET', '/items', None, {}),
        ('GET', '/items', None, {'Authorization': 'Bearer alice-token'}),
        ('GET', '/items', None, {'Authorization': 'Bearer nobody'}),
        ('POST', '/items', None, {'Authorization': 'Bearer alice-token'}),
        ('POST', '/items', None, {'Authorization': 'Bearer bob-token'}),
        ('POST', '/items', None, {}),
        ('GET', '/me', None, {'Authorization': 'Bearer t'}),
        ('GET', '/me', None, {'Authorization': 'Basic t'}),
        ('GET', '/me', None, {}),
    ],
    "cookies": [
        ("GET", "/returned", None, {}),
        ("GET", "/deleted", None, {}),
        ("GET", "/temporal", None, {}),
        ("GET", "/temporal-status", None, {}),
        ("GET", "/temporal-model", None, {}),
        ("GET", "/temporal-returned", None, {}),
    ],
    "templates_app": [
        ("GET", "/items/1", None, {"X-Who": "ann"}),
        ("GET", "/items/1?note=%3Cscript%3Ex%3C%2Fscript%3E", None, {"X-Who": "<i>"}),
        ("GET", "/items/2", None, {"X-Who": "bob"}),
        ("GET", "/items/x", None, {"X-Who": "bob"}),
        ("GET", "/text", None, {}),
    ],
    "openapi_custom": [
        ("GET", "/items/3?q=ab", None, {}),
        ("GET", "/openapi.json", None, {}),
        ("GET", "/built", None, {}),
    ],
    "middleware_classes": [
        ("GET", "/items/1", None, {}),
        ("GET", "/items/1", None, {"X-Block": "yes"}),
        ("GET", "/items/x", None, {}),
        ("POST", "/echo", b'{"a": [1, 2]}', JSON_TYPE),
        ("POST", "/echo", b'{"a": ', JSON_TYPE),
    ],
    "streams": [
        ("GET", "/numbers", None, {}),
        ("GET", "/numbers?n=0", None, {}),
        ("GET", "/numbers?n=x", None, {}),
        ("GET", "/odd-values", None, {}),
        ("GET", "/users", None, {}),
        ("GET", "/users?size=4", None, {}),
        ("GET", "/users?size=9", None, {}),
        ("POST", "/jobs", None, {}),
        ("GET", "/empty", None, {}),
    ],
    "annotations": [
        ("GET", "/users", None, {}),
        ("GET", "/users-async", None, {}),
        ("GET", "/by-name", None, {}),
        ("GET", "/counts", None, {}),
        ("GET", "/counts-bad", None, {}),
        ("GET", "/summary", None, {}),
        ("GET", "/maybe/true", None, {}),
        ("GET", "/maybe/false", None, {}),
        ("POST", "/made", None, {}),
        ("GET", "/when", None, {}),
        ("GET", "/number", None, {}),
        ("GET", "/annotated-str", None, {}),
        ("GET", "/plain-str", None, {}),
        ("GET", "/plain-str-async", None, {}),
        ("GET", "/plain-bytes", None, {}),
        ("GET", "/plain-str-status", None, {}),
        ("GET", "/any", None, {}),
        ("GET", "/no-model", None, {}),
        ("GET", "/model-over-annotation", None, {}),
        ("GET", "/response-annotation", None, {}),
        ("GET", "/raises", None, {}),
        ("GET", "/nothing", None, {}),
    ],
    "returns": [
        ("GET", "/model", None, {}),
        ("GET", "/models", None, {}),
        ("GET", "/dataclass", None, {}),
        ("GET", "/dataclass-annotated", None, {}),
        ("GET", "/values", None, {}),
        ("GET", "/opaque", None, {}),
        ("GET", "/keys", None, {}),
    ],
    # Every request names its Host: both sides build request.url from it
    # (FastAPI's TestClient would say "testserver", turbo's client the
    # server's address), so that the URLs compare.
    "request_attrs": [(m, t, b, {"Host": "api.example:8080", **h}) for m, t, b, h in [
        ("GET", "/url", None, {}),
        ("GET", "/url?a=1&b=2&a=3&c=", None, {}),
        ("GET", "/url?q=%C3%A9t%C3%A9+x&page=1", None, {}),
        ("GET", "/url", None, {"Host": "localhost"}),
        ("GET", "/url", None, {"Host": "[::1]:9000"}),
        ("GET", "/paths/a%20b", None, {}),
        ("GET", "/paths/caf%C3%A9?x=%3F", None, {}),
        ("GET", "/cookies", None, {}),
        ("GET", "/cookies", None, {"Cookie": "a=1; b=two; c=\"q v\"; novalue; =x; d="}),
        ("GET", "/cookies", None, {"Cookie": "a=1;a=2;  spaced = yes ; e=\"\\101\""}),
        ("POST", "/json", b'{"x": [1, 2], "y": null}', JSON_TYPE),
        ("POST", "/json", b'[1, "two"]', {}),
        ("POST", "/body", b"", {}),
        ("POST", "/body", b"raw \xff bytes", {"Content-Type": "application/octet-stream"}),
        ("POST", "/form", b"a=1&tag=x&tag=y&b=hello+world&a=2&e=", FORM_TYPE),
        ("POST", "/form", multipart(("tag", "m1"), ("tag", "m2"), ("k", "v")), MULTIPART_TYPE),
        ("POST", "/form", b'{"a": 1}', JSON_TYPE),
        ("GET", "/state", None, {}),
        ("GET", "/client", None, {}),
        ("GET", "/query", None, {}),
        ("GET", "/query?a=1&b=&a=2&c=%20x", None, {}),
        ("GET", "/items/5", None, {}),
        ("GET", "/files/a/b.txt", None, {}),
        ("GET", "/dep?z=1", None, {}),
        ("GET", "/raise?why=1", None, {}),
        ("GET", "/blocked?x=1", None, {}),
        ("GET", "/scope?k=v", None, {"X-Probe": "1"}),
        ("GET", "/missing-state", None, {}),
    ]],
    "openapi_meta": [
        ("GET", "/products/1", None, {}),
        ("GET", "/products/1?color=green", None, {}),
        ("GET", "/products/1?color=blue", None, {}),
        ("GET", "/products/0", None, {}),
        ("GET", "/products/5", None, {}),
        ("POST", "/products", b'{"name": "pot", "size": 2, "dims": {"width": 3}}', JSON_TYPE),
        ("POST", "/products", b'{"name": "", "color": "blue"}', JSON_TYPE),
        ("GET", "/search?q=a&q=b&size=1&size=2&limit=3&old=x&secret=s", None, {}),
        ("GET", "/search?size=3&limit=99", None, {}),
        ("GET", "/legacy", None, {}),
        ("GET", "/hidden", None, {}),
        ("DELETE", "/products/1", None, {}),
        ("PUT", "/products/1/price", b'{"name": "cup", "price": "2.25"}',
         {**JSON_TYPE, "X-Request-Id": "r1", "Cookie": "session=s"}),
        ("GET", "/admin/stats", None, {}),
        ("POST", "/admin/reset?confirm=true", None, {}),
        ("GET", "/admin/inner/x", None, {}),
        ("GET", "/v2/inner/y", None, {}),
    ],
    "openapi_edges": [
        ("POST", "/tags?times=2", b'{"label": "x", "weight": 3}', JSON_TYPE),
        ("POST", "/tags?times=9", b'{"label": "x"}', JSON_TYPE),
        ("GET", "/plain", None, {}),
        ("GET", "/nothing", None, {}),
        ("GET", "/json", None, {}),
        ("GET", "/text", None, {}),
        ("GET", "/raw/3?data=abc&offset=2", None, {}),
        ("GET", "/raw/0?offset=-1", None, {}),
        ("PUT", "/maybe", None, {}),
        ("PUT", "/maybe", b'{"label": "m"}', JSON_TYPE),
        ("GET", "/old/a?debug=true", None, {"User-Agent": "ua/1"}),
    ],
    "params": [
        ("GET", "/search?q=tea", None, {}),
        ("GET", "/search?q=te", None, {}),
        ("GET", "/search?q=teapotteapot", None, {}),
        ("GET", "/search", None, {}),
        ("GET", "/search?q=tea&page=0", None, {}),
        ("GET", "/search?q=tea&page=101&sort=up", None, {}),
        ("GET", "/search?q=tea&page=x&sort=desc", None, {}),
        ("GET", "/search?q=first&q=second", None, {}),
        ("GET", "/tags", None, {}),
        ("GET", "/tags?tag=a&tag=b&n=1&n=2", None, {}),
        ("GET", "/tags?n=1&n=x", None, {}),
        ("GET", "/tags?tag=", None, {}),
        ("GET", "/aliased?item-query=cup&limit=2.5", None, {}),
        ("GET", "/aliased?item_query=cup", None, {}),
        ("GET", "/aliased?limit=50", None, {}),
        ("GET", "/things/5", None, {}),
        ("GET", "/things/0", None, {}),
        ("GET", "/things/1001?q=z", None, {}),
        ("GET", "/things/x", None, {}),
    ],
}


NON_ASCII_ESCAPE = re.compile(rb"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})|\\u([0-9a-f]{4})")


def _unescape_non_ascii(m):
    if m.group(3) is not None:
        c = int(m.group(3), 16)
        return m.group(0) if c < 0x80 or 0xD800 <= c <= 0xDFFF else chr(c).encode()
    hi, lo = int(m.group(1), 16), int(m.group(2), 16)
    return chr(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)).encode()


def answer_of(target, status, headers, body):
    """What is compared: the status, the chosen headers, and the body's
    bytes; for the OpenAPI schema, its JSON values (key order aside). The
    one difference allowed in the bytes: turbo's C encoder
    writes a dict's non-ASCII characters as json.dumps does (\\u escapes),
    Starlette's JSONResponse as UTF-8; the escapes of characters >= 0x80
    are undone here (docs/fastapi-compat.md). Control characters are
    escaped alike on both sides and left as they are."""
    chosen = {h: headers[h] for h in HEADERS if headers.get(h) is not None}
    if target.startswith("/static/") and headers.get("content-length") is not None:
        # Files (static_app): both sides take the length from the same stat.
        chosen["content-length"] = headers["content-length"]
    if target.startswith("/static") and headers.get("allow") is not None:
        # A mount's 405 (static_app). A route's 405 lists HEAD beside GET on
        # turbo, which answers HEAD for every GET route; FastAPI's lists GET.
        chosen["allow"] = headers["allow"]
    if "Max-Age=0" in chosen.get("set-cookie", ""):
        # A deleted cookie expires "now": the second it was made in.
        chosen["set-cookie"] = re.sub(r"expires=[^;]*", "expires=NOW", chosen["set-cookie"])
    if target == OPENAPI[1] and status == 200:
        return status, chosen, json.loads(body)
    if body and "json" in chosen.get("content-type", ""):
        body = NON_ASCII_ESCAPE.sub(_unescape_non_ascii, body)
    return status, chosen, body


def fastapi_answers(mod, corpus):
    out = []
    # A server error is compared as the 500 a client gets, not raised.
    with fastapi_testclient.TestClient(mod.app, raise_server_exceptions=False) as tc:
        for method, target, body, headers in corpus:
            # A Host both sides allow (turbo's client sends 127.0.0.1:port), unless given.
            if not any(k.lower() == "host" for k in headers):
                headers = {"Host": "t", **headers}
            # httpx asks for gzip unless told otherwise; turbo's client does not.
            if not any(k.lower() == "accept-encoding" for k in headers):
                headers = {"Accept-Encoding": "", **headers}
            r = tc.request(method, target, content=body, headers=headers, follow_redirects=False)
            hs = {k.lower(): v for k, v in r.headers.items()}
            out.append(answer_of(target, r.status_code, hs, r.content))
    return out


def turbo_answers(mod, corpus):
    out = []
    app = start_app(mod.app)
    try:
        c = Client(app.port)
        try:
            for method, target, body, headers in corpus:
                r = c.request(method, target, body=body, headers=headers)
                hs = {k.lower(): v for k, v in r.headers.items()}
                body = r.body
                if hs.get("content-encoding") == "gzip":  # httpx hands FastAPI's decoded
                    body = gzip.decompress(body)
                out.append(answer_of(target, r.status, hs, body))
        finally:
            c.close()
    finally:
        app.stop()
    return out


# Asked of every app too: its OpenAPI schema, compared as JSON values (so
# key order aside, every path, parameter, schema and component agrees).
OPENAPI = ("GET", "/openapi.json", None, {})


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_turbo_answers_as_fastapi(name):
    corpus = CORPUS[name] + [OPENAPI]
    want = fastapi_answers(load(name, False), corpus)
    got = turbo_answers(load(name, True), corpus)
    agree, differ = 0, []
    for (method, target, _, _), w, g in zip(corpus, want, got):
        if w == g:
            agree += 1
            assert (name, method, target) not in EXCEPTIONS, \
                "%s %s %s now agrees: drop it from EXCEPTIONS" % (name, method, target)
        elif (name, method, target) not in EXCEPTIONS:
            differ.append("%s %s\n  fastapi: %r\n  turbo:   %r" % (method, target, w, g))
    print("\n%s: %d/%d requests answered as FastAPI does (%d known exceptions)"
          % (name, agree, len(corpus), len(corpus) - agree - len(differ)))
    assert not differ, "%s: turbo differs from FastAPI on:\n%s" % (name, "\n".join(differ))


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_the_openapi_schema_is_fastapis(name):
    # The same comparison as the /openapi.json request above, without a
    # server: app.openapi() on both sides, equal as values; and not a
    # trivial one (every app documents paths).
    want = load(name, False).app.openapi()
    got = load(name, True).app.openapi()
    assert got == want
    assert want["paths"] and want["openapi"] == "3.1.0"


def test_a_handler_without_body_or_model_keeps_the_inline_path():
    from turbo import Request, _bodies

    def plain(item_id: int, q: str = "x"):
        return {}

    assert _bodies.adapt(plain, Request) is plain


def test_unsupported_fastapi_options_raise_when_the_app_is_made():
    from turbo import FastAPI

    with pytest.raises(TypeError, match=r"^FastAPI\(\): option\(s\) not supported by turbo yet: "
                                        r"debug, root_path \(docs/fastapi-compat.md\)$"):
        FastAPI(root_path="/x", debug=True)


def test_header_and_cookie_options_not_supported_yet_raise():
    import turbo
    with pytest.raises(TypeError, match=r"Header\(\): default_factory not supported yet"):
        turbo.Header(None, default_factory=list)
    with pytest.raises(TypeError, match=r"Cookie\(\): convert_underscores not supported yet"):
        turbo.Cookie(None, convert_underscores=False)


def test_router_options_not_supported_yet_raise():
    import turbo
    with pytest.raises(TypeError, match=r"APIRouter\(\): callbacks not supported yet"):
        turbo.APIRouter(callbacks=[])
    with pytest.raises(ValueError, match="a path prefix must start with '/'"):
        turbo.APIRouter(prefix="items/")


def test_an_answer_its_response_model_refuses_is_a_500():
    # (FastAPI raises ResponseValidationError, a 500 from a server; its
    # TestClient re-raises it, so this one is turbo's side alone.)
    mod = load("bodies", turbo_side=True)
    start_app(mod.app)
    try:
        c = Client(mod.app.port)
        r = c.get("/invalid-out")
        assert r.status == 500 and r.body == b"Internal Server Error"
        assert c.get("/users/ann").status == 200
        c.close()
    finally:
        mod.app.stop()


def test_the_json_fast_path_is_taken_where_it_agrees_and_only_there():
    from pydantic import TypeAdapter

    from turbo import _bodies

    fastapi_bodies = load("bodies", turbo_side=False)
    assert _bodies._json_mode_agrees(TypeAdapter(fastapi_bodies.Mixed))
    assert _bodies._json_mode_agrees(TypeAdapter(fastapi_bodies.Item))
    assert not _bodies._json_mode_agrees(TypeAdapter(fastapi_bodies.StrictItem))
    assert not _bodies._json_mode_agrees(TypeAdapter(fastapi_bodies.Unions))


def test_a_return_annotation_pydantic_cannot_validate_is_refused_when_the_route_is_added():
    from turbo import FastAPI, Response

    app = FastAPI()

    def either() -> Response | dict:  # type: ignore[type-arg]
        return {}

    with pytest.raises(TypeError, match=r"is not a type pydantic can validate; .*"
                                        r"give response_model=None"):
        app.get("/either")(either)
    app.get("/either", response_model=None)(either)  # as FastAPI's hint says


def test_a_bodiless_status_with_an_annotated_model_is_refused():
    from turbo import FastAPI

    app = FastAPI()

    def gone() -> dict:  # type: ignore[type-arg]
        return {}

    def gone_quietly() -> None:
        return None

    with pytest.raises(ValueError, match="status_code 204 must not have a response body"):
        app.delete("/gone", status_code=204)(gone)
    app.delete("/gone", status_code=204)(gone_quietly)
    app.delete("/gone-too", status_code=204, response_model=None)(gone)


def test_generator_endpoints_refuse_what_json_lines_cannot_honour():
    from turbo import FastAPI, HTMLResponse

    def lines() -> list[int]:
        yield 1

    with pytest.raises(TypeError, match=r"return annotation must be Iterator\[Item\]"):
        FastAPI().get("/lines")(lines)

    def plain():
        yield 1

    with pytest.raises(TypeError, match=r"with response_class= or response_model= is not "
                                        r"supported yet"):
        FastAPI().get("/lines", response_class=HTMLResponse)(plain)
    with pytest.raises(TypeError, match=r"need an item type"):
        FastAPI().get("/lines", response_model_exclude_none=True)(plain)


def test_an_app_keeps_its_own_rules_for_annotations_and_strings():
    # turbo.App (not FastAPI): only a model annotation is a response
    # model, and a str result is text/plain.
    from turbo import App

    app = App()

    @app.get("/counts")
    def counts() -> dict[str, int]:
        return {"a": "not an int"}  # type: ignore[dict-item]

    @app.get("/text")
    def text() -> str:
        return "plain"

    start_app(app)
    c = Client(app.port)
    try:
        r = c.request("GET", "/counts")
        assert (r.status, r.body) == (200, b'{"a":"not an int"}')
        r = c.request("GET", "/text")
        assert (r.status, r.headers["content-type"], r.body) == \
            (200, "text/plain; charset=utf-8", b"plain")
    finally:
        c.close()
        app.stop()


def test_a_router_refuses_an_unknown_route_option():
    import turbo
    router = turbo.APIRouter()
    with pytest.raises(TypeError, match=r"unexpected route option\(s\): colour"):
        router.get("/x", colour="red")(lambda: None)  # type: ignore[call-arg]
