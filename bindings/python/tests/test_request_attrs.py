"""Starlette's Request API on turbo.FastAPI (turbo/_request.py): edge cases
the differential app (fastapi_apps/request_attrs.py) does not reach, the
pieces compared with Starlette's own classes, and App's C Request left as
it was."""

import json
import socket

import pytest

from conftest import Client, needs, start_app

import turbo
from turbo import App, BackgroundTasks, FastAPI, Request, _request

starlette_datastructures = needs("starlette.datastructures")


def serve(app):
    start_app(app)
    return Client(app.port)


# ---- what a request answers, on a real server


def test_bad_json_raises_jsondecodeerror_and_no_cookies_is_an_empty_dict():
    app = FastAPI()

    @app.post("/j")
    async def j(request: Request):
        try:
            await request.json()
        except json.JSONDecodeError as exc:
            return {"error": type(exc).__name__, "pos": exc.pos, "cookies": request.cookies}
        return {"error": None}

    @app.post("/unhandled")
    async def unhandled(request: Request):
        return await request.json()

    c = serve(app)
    try:
        r = c.request("POST", "/j", body=b'{"a": ', headers={"Content-Type": "application/json"})
        assert (r.status, r.body) == (200, b'{"error":"JSONDecodeError","pos":6,"cookies":{}}')
        r = c.request("POST", "/j", body=b"")
        assert (r.status, r.body) == (200, b'{"error":"JSONDecodeError","pos":0,"cookies":{}}')
        r = c.request("POST", "/unhandled", body=b"nope")
        assert (r.status, r.body) == (500, b"Internal Server Error")
    finally:
        c.close()
        app.stop()


def test_client_is_the_peer_and_url_without_a_valid_host_is_the_path_alone():
    app = FastAPI()

    @app.get("/who")
    def who(request: Request):
        return {"client": list(request.client), "host": request.client.host,
                "port": request.client.port, "url": str(request.url),
                "base": str(request.base_url)}

    c = serve(app)
    try:
        r = c.get("/who?x=1", headers={"Host": "h.example"})
        assert r.status == 200
        assert json.loads(r.body) == {"client": ["127.0.0.1", c.local_port], "host": "127.0.0.1",
                                      "port": c.local_port, "url": "http://h.example/who?x=1",
                                      "base": "http://h.example/"}
        # Starlette falls back to the server's address (its scope's
        # "server"); turbo does not know it: the URL is the path alone.
        for host in ("bad host", "h:99999", "[zz::1]"):
            r = c.get("/who?x=1", headers={"Host": host})
            body = json.loads(r.body)
            assert (r.status, body["url"], body["base"]) == (200, "/who?x=1", "/"), host
        with socket.create_connection(("127.0.0.1", app.port)) as s:
            s.sendall(b"GET /who HTTP/1.0\r\n\r\n")
            raw = b""
            while chunk := s.recv(65536):
                raw += chunk
        assert raw.startswith(b"HTTP/1.0 200 ") or raw.startswith(b"HTTP/1.1 200 ")
        assert json.loads(raw.split(b"\r\n\r\n", 1)[1])["url"] == "/who"
    finally:
        c.close()
        app.stop()


def test_a_request_kept_past_its_handler_still_answers():
    kept = []
    app = FastAPI()

    @app.middleware("http")
    async def mark(request: Request, call_next):
        request.state.mark = request.url.query
        return await call_next(request)

    @app.get("/keep")
    def keep(request: Request, tasks: BackgroundTasks):
        kept.append(request)
        return {"n": len(kept)}

    @app.get("/read")
    async def read():
        r = kept[-1]
        return {"path": r.url.path, "query": r.query_params.getlist("k"),
                "mark": r.state.mark, "body": (await r.body()).decode(),
                "cookies": r.cookies}

    c = serve(app)
    try:
        assert c.get("/keep?k=1&k=2", headers={"Cookie": "c=1"}).body == b'{"n":1}'
        r = c.get("/read")
        assert (r.status, r.body) == (200, b'{"path":"/keep","query":["1","2"],'
                                           b'"mark":"k=1&k=2","body":"","cookies":{"c":"1"}}')
    finally:
        c.close()
        app.stop()


def test_body_of_a_stream_body_route_is_read_from_the_stream():
    pytest.importorskip("python_multipart", reason="form() splits with python-multipart")
    app = FastAPI()

    @app.post("/up", stream_body=True)
    async def up(request: Request):
        body = await request.body()
        return {"len": len(body), "again": len(await request.body()),
                "form": (await request.form()).multi_items()}

    c = serve(app)
    try:
        body = b"&".join(b"k%d=v%%20%d" % (i, i) for i in range(800))
        r = c.request("POST", "/up", body=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 200
        got = json.loads(r.body)
        assert (got["len"], got["again"]) == (len(body), len(body))
        assert got["form"] == [["k%d" % i, "v %d" % i] for i in range(800)]
    finally:
        c.close()
        app.stop()


def test_form_as_a_context_manager_closes_its_files_and_refuses_other_limits():
    pytest.importorskip("python_multipart", reason="form() splits with python-multipart")
    app = FastAPI()
    files = []

    @app.post("/f")
    async def f(request: Request):
        async with request.form() as form:
            upload = form["doc"]
            files.append(upload)
            content = await upload.read()
        return {"name": upload.filename, "content": content.decode(),
                "closed": upload.file.closed}

    @app.post("/limits")
    async def limits(request: Request):
        try:
            request.form(max_files=3)
        except ValueError as exc:
            return {"error": str(exc)}
        return {}

    body = (b'--b\r\nContent-Disposition: form-data; name="doc"; filename="d.txt"\r\n\r\n'
            b"hello\r\n--b--\r\n")
    c = serve(app)
    try:
        r = c.request("POST", "/f", body=body,
                      headers={"Content-Type": "multipart/form-data; boundary=b"})
        assert (r.status, r.body) == (200, b'{"name":"d.txt","content":"hello","closed":true}')
        r = c.request("POST", "/limits", body=b"")
        assert (r.status, json.loads(r.body)) == (200, {"error": (
            "request.form(): turbo supports the default limits only (max_files=1000, "
            "max_fields=1000, max_part_size=1 MiB)")})
        r = c.request("POST", "/f", body=b"--b\r\nbroken",
                      headers={"Content-Type": "multipart/form-data"})
        assert (r.status, r.body) == (400, b'{"detail":"Missing boundary in multipart."}')
    finally:
        c.close()
        app.stop()


def test_url_for_needs_the_name_and_exactly_its_path_parameters():
    app = FastAPI()

    @app.get("/users/{user_id}/posts/{post_id}")
    def post(user_id: int, post_id: int):
        return {}

    @app.get("/try")
    def attempt(request: Request, name: str, params: str = ""):
        kw = dict(p.split("=") for p in params.split(",") if p)
        try:
            return {"url": str(request.url_for(name, **kw))}
        except turbo._request.NoMatchFound as exc:
            return {"error": str(exc)}
        except AssertionError as exc:
            return {"assert": str(exc)}

    c = serve(app)
    h = {"Host": "x.example"}
    try:
        assert json.loads(c.get("/try?name=post&params=user_id=1,post_id=2", headers=h).body) == \
            {"url": "http://x.example/users/1/posts/2"}
        assert json.loads(c.get("/try?name=post&params=user_id=1", headers=h).body) == \
            {"error": 'No route exists for name "post" and params "user_id".'}
        assert json.loads(c.get("/try?name=nothing", headers=h).body) == \
            {"error": 'No route exists for name "nothing" and params "".'}
        assert json.loads(c.get("/try?name=post&params=user_id=,post_id=2",
                                headers=h).body) == {"assert": "Must not be empty"}
        assert json.loads(c.get("/try?name=attempt", headers=h).body) == \
            {"url": "http://x.example/try"}
    finally:
        c.close()
        app.stop()


def test_a_security_scheme_subclass_gets_the_view_turbos_own_the_c_request():
    app = FastAPI()

    class PathBearer(turbo.HTTPBearer):
        async def __call__(self, request: Request):
            creds = super().__call__(request)  # (FastAPI's is async: there, await it)
            return {"path": request.url.path, "token": creds.credentials if creds else None}

    @app.get("/sub")
    def sub(auth=turbo.Depends(PathBearer(auto_error=False))):
        return auth

    c = serve(app)
    try:
        r = c.get("/sub", headers={"Authorization": "Bearer tok"})
        assert (r.status, r.body) == (200, b'{"path":"/sub","token":"tok"}')
    finally:
        c.close()
        app.stop()


# ---- App keeps its C Request; a route without a Request pays nothing


def test_app_routes_keep_the_c_request_and_fastapi_routes_get_the_view_only_where_declared():
    plain = App()

    @plain.post("/p")
    def p(request: Request):
        return {"type": type(request).__name__, "module": type(request).__module__,
                "body": request.body.decode(), "json": request.json(),
                "client_is_tuple": type(request.client) is tuple,
                "query": request.query_params}

    c = serve(plain)
    try:
        r = c.request("POST", "/p?a=1&a=2", body=b'{"k": 1}')
        assert json.loads(r.body) == {"type": "Request", "module": "turbo", "body": '{"k": 1}',
                                      "json": {"k": 1}, "client_is_tuple": True,
                                      "query": {"a": "1"}}
    finally:
        c.close()
        plain.stop()

    app = FastAPI()

    @app.get("/none")
    def none(q: int = 0):
        return {}

    @app.get("/with")
    def with_request(request: Request, q: int = 0):
        return {}

    assert app._routes[("GET", "/none")][2] == (
        ("q", turbo._turbo.SRC_QUERY, turbo._turbo.CONV_INT, 0, True, False),)
    assert app._routes[("GET", "/with")][2] == (
        ("request", turbo._turbo.SRC_REQUEST, turbo._turbo.CONV_STR, app._request_view, True,
         False),
        ("q", turbo._turbo.SRC_QUERY, turbo._turbo.CONV_INT, 0, True, False))
    assert app._request_view.app is app and issubclass(app._request_view,
                                                       _request.StarletteRequest)
    assert plain._request_view is None


# ---- the pieces, against Starlette's own


URLS = ["http://example.com/a/b?x=1&y=2#frag", "https://user:pw@h.example:8443/p",
        "http://[::1]:80/", "/relative?q=", "http://h/p?a=1&a=2&b="]


@pytest.mark.parametrize("text", URLS)
def test_url_parts_and_derived_urls_are_starlettes(text):
    S = starlette_datastructures.URL
    mine, theirs = _request.URL(text), S(text)
    for attr in ("scheme", "netloc", "path", "query", "fragment", "username", "password",
                 "hostname", "port", "is_secure"):
        assert getattr(mine, attr) == getattr(theirs, attr), attr
    assert repr(mine) == repr(theirs)
    for kwargs in ({"path": "/z"}, {"hostname": "o.example"}, {"port": 1234},
                   {"hostname": "::2", "port": None}, {"username": "u", "password": "s"},
                   {"scheme": "https", "query": "k=v"}):
        assert str(mine.replace(**kwargs)) == str(theirs.replace(**kwargs)), kwargs
    assert str(mine.include_query_params(a=9, new="x y")) == \
        str(theirs.include_query_params(a=9, new="x y"))
    assert str(mine.replace_query_params(k=1)) == str(theirs.replace_query_params(k=1))
    assert str(mine.remove_query_params("a")) == str(theirs.remove_query_params("a"))
    assert str(mine.remove_query_params(["x", "b"])) == \
        str(theirs.remove_query_params(["x", "b"]))
    assert mine == text and mine == _request.URL(text)


@pytest.mark.parametrize("query", ["", "a=1&a=2&b=", "x=%20y&z=+&k", "a=1&b=2&a=3&c=4"])
def test_query_params_are_starlettes(query):
    mine = _request.QueryParams(query)
    theirs = starlette_datastructures.QueryParams(query)
    assert (mine.multi_items(), dict(mine), list(mine), len(mine), str(mine)) == \
        (theirs.multi_items(), dict(theirs), list(theirs), len(theirs), str(theirs))
    for key in ("a", "b", "k", "none"):
        assert (mine.get(key), mine.getlist(key), key in mine) == \
            (theirs.get(key), theirs.getlist(key), key in theirs)
    assert repr(mine) == repr(theirs)
    # equal whatever the order of the keys, not of one key's values
    regrouped = sorted(mine.multi_items(), key=lambda kv: kv[0], reverse=True)
    assert (mine == _request.QueryParams(regrouped)) == \
        (theirs == starlette_datastructures.QueryParams(regrouped)) == True  # noqa: E712
    swapped = mine.multi_items()[::-1]
    assert (mine == _request.QueryParams(swapped)) == \
        (theirs == starlette_datastructures.QueryParams(swapped))


@pytest.mark.parametrize("field", ["", "a=1", "a=1; b=2", 'q="x y"; =v; novalue; e=',
                                   'a=1;a=2', 'k="\\101\\"q"', " ; ;", "a=b=c"])
def test_cookies_are_split_as_starlette_splits_them(field):
    from starlette.requests import cookie_parser
    assert _request.parse_cookies([field]) == cookie_parser(field)


def test_state_is_starlettes_namespace():
    s = _request.State()
    s.a = 1
    s["b"] = 2
    assert (s.a, s["a"], s.b, len(s), sorted(s)) == (1, 1, 2, 2, ["a", "b"])
    del s.a
    with pytest.raises(AttributeError, match="^'State' object has no attribute 'a'$"):
        s.a


@pytest.mark.parametrize("host", ["api.example:8080", "LOCALHOST", "[::1]:9000", "h:0080",
                                  "bad host", "h:99999", None, "[v1.x]", "xn--bcher-kva.example"])
@pytest.mark.parametrize("path,query", [("/", ""), ("/a b/c", "x=1&y=%20"), ("//twice", "q"),
                                        ("/tab\there", ""), ("/why?#\\", "k=v"),
                                        ("/caf\u00e9", "")])
def test_a_requests_url_is_the_one_starlette_makes_of_its_scope(host, path, query):
    headers = [] if host is None else [(b"host", host.encode("latin-1"))]
    scope = {"type": "http", "scheme": "http", "path": path, "server": None,
             "query_string": query.encode(), "headers": headers}
    theirs = starlette_datastructures.URL(scope=scope)
    mine = _request._request_url("http", host, path, query)
    assert str(mine) == str(theirs)
    for attr in ("scheme", "netloc", "path", "query", "fragment", "hostname", "port"):
        assert getattr(mine, attr) == getattr(theirs, attr), attr
