"""turbo.StaticFiles and App.mount (the differential corpus static_app in
test_fastapi_diff.py compares the answers with FastAPI's; these cover what
it cannot: construction errors, symlinks, 404.html, plain App, names)."""
import os

import pytest

import turbo
from conftest import Client, start_app


def test_check_dir_refuses_a_missing_directory(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(RuntimeError) as e:
        turbo.StaticFiles(directory=missing)
    assert str(e.value) == f"Directory '{missing}' does not exist"
    files = turbo.StaticFiles(directory=missing, check_dir=False)
    assert files.directory == missing


def test_packages_and_no_directory_are_refused(tmp_path):
    with pytest.raises(NotImplementedError):
        turbo.StaticFiles(packages=["x"])
    with pytest.raises(ValueError):
        turbo.StaticFiles()


def test_mounting_anything_else_raises(tmp_path):
    app = turbo.App()
    with pytest.raises(TypeError) as e:
        app.mount("/sub", turbo.App())
    assert "turbo.StaticFiles only" in str(e.value)
    with pytest.raises(ValueError):
        app.mount("/static/", turbo.StaticFiles(directory=str(tmp_path)))


def test_symlinks_404_html_and_names(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.txt").write_bytes(b"aaa")
    (root / "404.html").write_bytes(b"<p>gone</p>")
    (tmp_path / "outside.txt").write_bytes(b"secret")
    os.symlink(tmp_path / "outside.txt", root / "link.txt")
    os.symlink(root / "a.txt", root / "inside.txt")

    app = turbo.App()
    app.mount("/s", turbo.StaticFiles(directory=str(root)), name="s")
    app.mount("/f", turbo.StaticFiles(directory=str(root), follow_symlink=True))
    app.mount("/h", turbo.StaticFiles(directory=str(root), html=True), name="h")
    assert app._route_names == {"s": "/s/{path}", "h": "/h/{path}"}
    start_app(app)
    try:
        c = Client(app.port)
        r = c.get("/s/a.txt")
        assert (r.status, r.body, r.header("content-length")) == (200, b"aaa", "3")
        r = c.get("/s/inside.txt")
        assert (r.status, r.body) == (200, b"aaa")
        r = c.get("/s/link.txt")
        assert (r.status, r.body) == (404, b"{\"detail\":\"Not Found\"}")
        r = c.get("/f/link.txt")
        assert (r.status, r.body) == (200, b"secret")
        r = c.get("/h/nothing.txt")
        assert (r.status, r.content_type, r.body) == (404, "text/html; charset=utf-8",
                                                      b"<p>gone</p>")
        r = c.request("HEAD", "/s/a.txt")
        assert (r.status, r.body, r.header("content-length")) == (200, b"", "3")
        c.close()
    finally:
        app.stop()
