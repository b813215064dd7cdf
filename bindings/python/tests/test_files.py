"""FileResponse: files sent by sendfile(2), with Starlette's headers
(checked against Starlette's own FileResponse for the same files)."""

import os

import pytest

from conftest import Client, needs
from turbo import App, FileResponse

starlette_responses = needs("starlette.responses")
starlette_testclient = needs("starlette.testclient")
starlette_applications = needs("starlette.applications")
starlette_routing = needs("starlette.routing")

FILES = {}  # name -> path, made by the module fixture


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    contents = {
        "hello.txt": b"hello, file\n",
        "data.json": b'{"a": 1}',
        "blob.bin": os.urandom(3 << 20),
        "r\u00e9sum\u00e9 2026.pdf": b"%PDF-1.7 not really",
        "noext": b"what am I",
    }
    for name, data in contents.items():
        (d / name).write_bytes(data)
        FILES[name] = str(d / name)
    (d / "sub").mkdir()
    FILES["sub"] = str(d / "sub")
    FILES["missing"] = str(d / "missing")
    return contents


# The same responses, for turbo and for Starlette.
CASES = {
    "/plain": lambda: FileResponse(FILES["hello.txt"]),
    "/json": lambda: FileResponse(FILES["data.json"]),
    "/blob": lambda: FileResponse(FILES["blob.bin"], filename="blob.bin"),
    "/named": lambda: FileResponse(FILES["r\u00e9sum\u00e9 2026.pdf"],
                                   filename="r\u00e9sum\u00e9 2026.pdf"),
    "/inline": lambda: FileResponse(FILES["hello.txt"], filename="hello.txt",
                                    content_disposition_type="inline"),
    "/typed": lambda: FileResponse(FILES["noext"], media_type="application/x-custom",
                                   headers={"X-Extra": "1"}, status_code=201),
    "/noext": lambda: FileResponse(FILES["noext"]),
}


def make_app():
    app = App()
    for path, make in CASES.items():
        app.add_route(path, (lambda make=make: make()), ["GET", "HEAD"])

    @app.get("/async")
    async def in_async():
        return FileResponse(FILES["hello.txt"])

    @app.get("/missing")
    def missing():
        return FileResponse(FILES["missing"])

    @app.get("/dir")
    def directory():
        return FileResponse(FILES["sub"])

    return app


COMPARED = ("content-type", "content-length", "etag", "last-modified", "content-disposition",
            "x-extra")


def test_bytes_and_headers_match_starlettes(server, files):
    c = Client(server.port)
    routes = [starlette_routing.Route(p, (lambda req, p=p: make_starlette(p)))
              for p in CASES]
    star = starlette_testclient.TestClient(starlette_applications.Starlette(routes=routes))
    for path in CASES:
        ours = c.get(path)
        theirs = star.get(path)
        assert ours.status == theirs.status_code, path
        assert ours.body == theirs.content, path
        for h in COMPARED:
            assert ours.header(h) == theirs.headers.get(h), (path, h)
    c.close()


def make_starlette(path):
    """The Starlette FileResponse CASES[path] describes (same arguments)."""
    r = CASES[path]()
    kw = {"filename": r.filename}
    if path == "/inline":
        kw["content_disposition_type"] = "inline"
    if path == "/typed":
        return starlette_responses.FileResponse(r.path, status_code=201,
                                                media_type="application/x-custom",
                                                headers={"X-Extra": "1"})
    return starlette_responses.FileResponse(r.path, **kw)


def test_exact_headers(server, files):
    c = Client(server.port)
    r = c.get("/plain")
    assert r.status == 200 and r.body == files["hello.txt"]
    assert r.header("Content-Type") == "text/plain; charset=utf-8"
    assert r.header("Content-Length") == str(len(files["hello.txt"]))
    assert r.header("ETag").startswith('"') and len(r.header("ETag")) == 34
    r = c.get("/named")
    assert r.header("Content-Type") == "application/pdf"
    assert r.header("Content-Disposition") == \
        "attachment; filename*=utf-8''r%C3%A9sum%C3%A9%202026.pdf"
    r = c.get("/blob")
    assert r.body == files["blob.bin"]
    assert r.header("Content-Disposition") == 'attachment; filename="blob.bin"'
    r = c.get("/async")
    assert r.body == files["hello.txt"]
    c.close()


def test_head_gets_the_length_without_the_body(server, files):
    c = Client(server.port)
    r = c.request("HEAD", "/blob")
    assert r.status == 200 and r.body == b""
    assert r.header("Content-Length") == str(3 << 20)
    r = c.get("/plain")  # the connection goes on
    assert r.body == files["hello.txt"]
    c.close()


def test_a_missing_file_or_a_directory_is_a_500_and_the_server_goes_on(server, files):
    c = Client(server.port)
    assert c.get("/missing").status == 500
    assert c.get("/dir").status == 500
    assert c.get("/plain").status == 200
    c.close()
