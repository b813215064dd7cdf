"""The OpenAPI schema, the decorator options that document routes, and the
/openapi.json, /docs and /redoc routes of turbo.FastAPI (issue 15).
test_fastapi_diff.py checks the schema's content against FastAPI's; this
checks what it cannot: options refused, URLs turned off or moved, the
schema following the routes while serving, the pages' assets."""

import json
import os
import shutil
import socket
import subprocess
import sys

import pytest

from conftest import needs, server_env

needs("pydantic")

import turbo  # noqa: E402
from turbo import APIRouter, App, FastAPI, _openapi  # noqa: E402


def schema_of(app, connect):
    r = connect(app.port).get(app.openapi_url)
    assert r.status == 200 and r.content_type == "application/json", r
    return json.loads(r.body)


# ---- the options ---------------------------------------------------------------

DOC_OPTIONS = dict(tags=["t"], summary="S", description="D", deprecated=True,
                   include_in_schema=True, name="n", operation_id="op",
                   responses={404: {"description": "missing"}}, response_description="fine")


@pytest.mark.parametrize("verb", ["get", "post", "put", "patch", "delete"])
def test_every_verb_takes_the_options_and_serves_the_endpoint_unchanged(verb):
    app = FastAPI()

    def plain(x: int = 1):
        return {"x": x}

    assert getattr(app, verb)("/p", **DOC_OPTIONS)(plain) is plain
    # The route's handler is the endpoint itself: the inline path, as without them.
    assert [k for k in app._routes if k[1] == "/p"] == [(verb.upper(), "/p")]
    assert app._routes[(verb.upper(), "/p")][1] is plain
    op = app.openapi()["paths"]["/p"][verb]
    assert (op["tags"], op["summary"], op["description"], op["deprecated"],
            op["operationId"]) == (["t"], "S", "D", True, "op")
    assert op["responses"]["200"]["description"] == "fine"
    assert op["responses"]["404"] == {"description": "missing"}


def test_route_add_route_and_routers_take_the_options():
    app = FastAPI()
    def r():
        return 1

    app.route("/r", ["GET", "POST"], summary="both")(r)
    app.add_route("/a", lambda: 2, ["PUT"], tags=["x"], operation_id="a_put")
    router = APIRouter(prefix="/api", tags=["api"], responses={401: {"description": "who?"}},
                       deprecated=True)

    @router.get("/one", tags=["one"], include_in_schema=True)
    def one():
        return 1

    app.include_router(router, tags=["outer"])
    with pytest.warns(UserWarning, match="^Duplicate Operation ID r_r_(get|post) for function r$"):
        paths = app.openapi()["paths"]  # (as FastAPI warns: both methods have one id)
    assert paths["/r"]["get"]["summary"] == paths["/r"]["post"]["summary"] == "both"
    assert paths["/a"]["put"]["tags"] == ["x"] and paths["/a"]["put"]["operationId"] == "a_put"
    op = paths["/api/one"]["get"]
    assert op["tags"] == ["outer", "api", "one"] and op["deprecated"] is True
    assert op["responses"]["401"] == {"description": "who?"}


def test_the_description_is_the_docstring_up_to_a_form_feed():
    app = FastAPI()

    @app.get("/d")
    def documented():
        """First line.

            Indented. \fFor the code only."""

    @app.get("/e", description="given")
    def both():
        """Not this."""

    paths = app.openapi()["paths"]
    # (as inspect.cleandoc and FastAPI make it)
    assert paths["/d"]["get"]["description"] == "First line.\n\nIndented."
    assert paths["/e"]["get"]["description"] == "given"


def test_include_in_schema_false_hides_a_route_that_is_still_served(serve, connect):
    app = FastAPI()
    app.get("/shown")(lambda: 1)
    app.get("/secret", include_in_schema=False)(lambda: {"s": 1})
    router = APIRouter(include_in_schema=False)
    router.get("/r")(lambda: 2)
    app.include_router(router)
    other = APIRouter()
    other.get("/o")(lambda: 3)
    app.include_router(other, include_in_schema=False)
    serve(app)
    assert list(schema_of(app, connect)["paths"]) == ["/shown"]
    c = connect(app.port)
    assert [(r.status, r.body) for r in (c.get("/secret"), c.get("/r"), c.get("/o"))] == \
        [(200, b'{"s":1}'), (200, b"2"), (200, b"3")]


@pytest.mark.parametrize("options, error, message", [
    (dict(tags="users"), TypeError, "tags must be a list of str, not 'users'"),
    (dict(tags=[1]), TypeError, r"tags must be a list of str, not \[1\]"),
    (dict(summary=3), TypeError, "summary must be a str, not 3"),
    (dict(operation_id=b"x"), TypeError, "operation_id must be a str, not b'x'"),
    (dict(deprecated="yes"), TypeError, "deprecated must be a bool, not 'yes'"),
    (dict(include_in_schema=None), TypeError, "include_in_schema must be a bool, not None"),
    (dict(response_description=None), TypeError, "response_description must be a str"),
    (dict(responses={404: "missing"}), TypeError, r"responses\[404\] must be a dict"),
    (dict(responses={"oops": {}}), ValueError, "'oops' is not a status code"),
    (dict(responses={204: {"model": dict}}), ValueError,
     "status 204 must not have a response body"),
    (dict(status_code=204, response_model=dict), ValueError,
     "status_code 204 must not have a response body"),
])
def test_bad_options_are_refused_when_the_route_is_added(options, error, message):
    app = FastAPI()
    with pytest.raises(error, match=message):
        app.get("/x", **options)(lambda: 1)
    assert app._routes.get(("GET", "/x")) is None and app.openapi()["paths"] == {}


# ---- the routes of the schema and the pages ------------------------------------

def test_the_schema_follows_the_routes_while_serving(serve, connect):
    app = serve(FastAPI(title="Live", version="3"))
    first = schema_of(app, connect)
    assert (first["info"], first["paths"]) == ({"title": "Live", "version": "3"}, {})

    @app.get("/later/{n}")
    def later(n: int):
        return n

    second = schema_of(app, connect)
    assert list(second["paths"]) == ["/later/{n}"]
    assert second["paths"]["/later/{n}"]["get"]["parameters"][0]["schema"] == \
        {"type": "integer", "title": "N"}
    assert schema_of(app, connect) == second
    assert app.openapi() is app.openapi()  # built once, then kept (app.openapi_schema)
    app.remove_route("/later/{n}")
    assert schema_of(app, connect)["paths"] == {}


def test_the_docs_routes_are_not_in_the_schema_nor_under_the_app_dependencies(serve,
                                                                            connect):
    def refuse():
        raise turbo.HTTPException(403)

    app = serve(FastAPI(dependencies=[turbo.Depends(refuse)]))
    c = connect(app.port)
    assert c.get("/openapi.json").status == 200
    assert c.get("/docs").status == 200 and c.get("/redoc").status == 200
    assert schema_of(app, connect)["paths"] == {}


@pytest.mark.parametrize("off, gone, kept", [
    (dict(openapi_url=None), ["/openapi.json", "/docs", "/redoc"], []),
    (dict(docs_url=None), ["/docs", "/docs/static/swagger-ui-bundle.js"],
     ["/openapi.json", "/redoc"]),
    (dict(redoc_url=None), ["/redoc", "/redoc/static/redoc.standalone.js"],
     ["/openapi.json", "/docs"]),
])
def test_none_turns_each_url_off(serve, connect, off, gone, kept):
    app = serve(FastAPI(**off))
    c = connect(app.port)
    assert [c.get(u).status for u in gone] == [404] * len(gone)
    assert [c.get(u).status for u in kept] == [200] * len(kept)


def test_a_plain_app_has_no_schema_routes(serve, connect):
    app = serve(App())
    c = connect(app.port)
    assert [c.get(u).status for u in ("/openapi.json", "/docs", "/redoc")] == [404] * 3


def test_moved_urls_and_the_pages_pointing_at_them(serve, connect):
    app = serve(FastAPI(title="Moved <&>", openapi_url="/api/schema.json",
                        docs_url="/api/docs", redoc_url="/api/redoc"))
    c = connect(app.port)
    assert c.get("/openapi.json").status == 404
    schema = schema_of(app, connect)
    assert schema["info"]["title"] == "Moved <&>"
    docs = c.get("/api/docs")
    assert docs.status == 200 and docs.content_type == "text/html; charset=utf-8"
    assert b"<title>Moved &lt;&amp;&gt; - Swagger UI</title>" in docs.body
    assert b'"url": "/api/schema.json"' in docs.body
    redoc = c.get("/api/redoc")
    assert b"<title>Moved &lt;&amp;&gt; - ReDoc</title>" in redoc.body
    assert b'Redoc.init("/api/schema.json"' in redoc.body


@pytest.mark.parametrize("kind, page, files", [
    ("swagger", "/docs", {"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
                          "swagger-ui.css": "text/css; charset=utf-8"}),
    ("redoc", "/redoc", {"redoc.standalone.js": "text/javascript; charset=utf-8"}),
])
def test_the_pages_assets_come_from_the_installed_package(serve, connect, kind, page, files):
    directory = _openapi.asset_dir(kind)
    if directory is None:
        pytest.skip(f"the package shipping {kind}'s files is not installed "
                    "(requirements-dev.txt)")
    app = serve(FastAPI())
    c = connect(app.port)
    html = c.get(page).body.decode()
    assert "cdn.jsdelivr.net" not in html
    for name, content_type in files.items():
        url = f"{page}/static/{name}"
        assert f'"{url}"' in html
        r = c.get(url)
        with open(os.path.join(directory, name), "rb") as f:
            assert (r.status, r.content_type, r.body) == (200, content_type, f.read())


def test_without_the_packages_the_pages_use_fastapis_cdn(serve, connect, monkeypatch):
    monkeypatch.setitem(_openapi._ASSETS, "swagger", ("no_such_package_here", "dist", {}))
    monkeypatch.setitem(_openapi._ASSETS, "redoc", ("no_such_package_here", "js", {}))
    app = serve(FastAPI())
    c = connect(app.port)
    docs, redoc = c.get("/docs").body.decode(), c.get("/redoc").body.decode()
    assert f'src="{_openapi.SWAGGER_CDN[0]}"' in docs and f'href="{_openapi.SWAGGER_CDN[1]}"' \
        in docs
    assert f'src="{_openapi.REDOC_CDN}"' in redoc
    assert c.get("/docs/static/swagger-ui-bundle.js").status == 404


def test_a_custom_openapi_function_is_served(serve, connect):
    app = FastAPI()
    app.get("/x")(lambda: 1)
    generated = app.openapi()

    def custom():
        return dict(generated, info={"title": "Custom", "version": "1", "x-logo": "l.png"})

    app.openapi = custom  # FastAPI's pattern for a customized schema
    serve(app)
    assert schema_of(app, connect) == dict(generated, info={"title": "Custom", "version": "1",
                                                             "x-logo": "l.png"})


def test_app_info_tags_and_servers():
    tags = [{"name": "a", "description": "A"}]
    servers = [{"url": "https://x.example"}]
    app = FastAPI(title="T", version="9", description="D", summary="S",
                  terms_of_service="https://x.example/tos", contact={"name": "me"},
                  license_info={"name": "MIT"}, openapi_tags=tags, servers=servers)
    doc = app.openapi()
    assert doc == {"openapi": "3.1.0", "info": {
        "title": "T", "version": "9", "description": "D", "summary": "S",
        "termsOfService": "https://x.example/tos", "contact": {"name": "me"},
        "license": {"name": "MIT"}}, "servers": servers, "paths": {}, "tags": tags}


# ---- the pages, rendered by a browser -------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def browse(url, tmp_path):
    """The DOM chromium made of url once its scripts ran (headless, no
    network but the loopback: the assets must be served locally)."""
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (scripts/install-deps.sh installs it)")
    r = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--no-first-run", "--user-data-dir=" + str(tmp_path / "profile"),
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=127.0.0.1",
         "--virtual-time-budget=10000", "--dump-dom", url],
        capture_output=True, text=True, timeout=60,
        env=server_env())  # not under the sanitizer build's preloaded runtime: it hangs there
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def docs_app():
    app = FastAPI(title="Browsed")

    @app.get("/items/{item_id}", summary="Read an item", tags=["items"])
    def read_item(item_id: int):
        return {"id": item_id}

    @app.post("/items", tags=["items"])
    def create_item(name: str):
        return {"name": name}

    return app


def test_swagger_ui_renders_the_operations_in_a_browser(serve, tmp_path):
    if _openapi.asset_dir("swagger") is None:
        pytest.skip("flask-swagger-ui is not installed: the page would need the CDN")
    app = serve(docs_app())
    dom = browse(f"http://127.0.0.1:{app.port}/docs", tmp_path)
    # Swagger UI built one opblock per operation from the schema it fetched.
    assert dom.count('class="opblock opblock-') == 2, dom[-3000:]
    assert 'data-path="/items/{item_id}"' in dom and "Read an item" in dom
    assert 'data-path="/items"' in dom and "Create Item" in dom
    assert "Browsed" in dom


def test_redoc_renders_the_operations_in_a_browser(serve, tmp_path):
    if _openapi.asset_dir("redoc") is None:
        pytest.skip("flask-openapi3-redoc is not installed: the page would need the CDN")
    app = serve(docs_app())
    dom = browse(f"http://127.0.0.1:{app.port}/redoc", tmp_path)
    assert "Read an item" in dom and "Create Item" in dom, dom[-3000:]
    assert "/items/{item_id}" in dom


def test_changes_to_the_schema_dict_are_served_until_routes_change(serve, connect):
    # FastAPI's other customizing pattern: change the dict app.openapi()
    # returns; it is app.openapi_schema, and what openapi_url serves.
    app = FastAPI()
    app.get("/x")(lambda: 1)
    schema = app.openapi()
    schema["info"]["x-logo"] = {"url": "l.png"}
    assert app.openapi_schema is schema
    serve(app)
    assert schema_of(app, connect)["info"] == {"title": "FastAPI", "version": "0.1.0",
                                               "x-logo": {"url": "l.png"}}
    app.get("/y")(lambda: 2)  # the built schema is made again, with /y
    assert sorted(schema_of(app, connect)["paths"]) == ["/x", "/y"]
    mine = {"openapi": "3.1.0", "info": {"title": "Mine", "version": "1"}, "paths": {}}
    app.openapi_schema = mine  # set by the app: served as it is
    app.get("/z")(lambda: 3)
    assert schema_of(app, connect) == mine


def test_get_openapi_takes_app_routes():
    with pytest.raises(TypeError, match=r"get_openapi\(routes=\.\.\.\) takes app.routes"):
        turbo.get_openapi(title="t", version="1", routes=["/x"])
