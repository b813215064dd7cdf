"""Response.set_cookie / delete_cookie: the Set-Cookie fields Starlette
writes for the same arguments, several per response, sent as they are."""

import datetime
import re

import pytest

from conftest import Client, needs, start_app
from turbo import App, PlainTextResponse, Response

starlette_responses = needs("starlette.responses")

CASES = [
    dict(key="a", value="1"),
    dict(key="s", value="x y;z", max_age=60, path="/p", domain="example.com", secure=True,
         httponly=True, samesite="strict"),
    dict(key="e", value="v", samesite=None,
         expires=datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)),
    dict(key="p", value="q", path=None, expires="Thu, 01 Jan 2032 00:00:00 GMT"),
]


def set_cookie_fields(response, raw):
    if raw:
        return [v.decode() for k, v in response.raw_headers if k == b"set-cookie"]
    return [v for k, v in response.headers.items() if k == "set-cookie"]


@pytest.mark.parametrize("case", CASES, ids=[c["key"] for c in CASES])
def test_set_cookie_writes_starlettes_field(case):
    theirs = starlette_responses.Response()
    theirs.set_cookie(**case)
    ours = Response()
    ours.set_cookie(**case)
    assert set_cookie_fields(ours, False) == set_cookie_fields(theirs, True)
    assert len(set_cookie_fields(ours, False)) == 1


def test_delete_cookie_and_a_bad_samesite():
    theirs = starlette_responses.Response()
    theirs.delete_cookie("gone", path="/x")
    ours = Response()
    ours.delete_cookie("gone", path="/x")
    # Both expire "now": the second each was made in, which may differ.
    def now(fields):
        return [re.sub(r"expires=[^;]*", "expires=NOW", f) for f in fields]
    fields = set_cookie_fields(ours, False)
    assert now(fields) == now(set_cookie_fields(theirs, True))
    assert "Max-Age=0" in fields[0] and "expires=" in fields[0]
    with pytest.raises(ValueError, match="samesite must be"):
        ours.set_cookie("k", samesite="sometimes")


def test_several_cookies_reach_the_client_beside_the_other_headers():
    app = App()

    @app.get("/c")
    def c():
        r = PlainTextResponse("ok", headers={"X-A": "1"})
        r.set_cookie("a", "1")
        r.set_cookie("b", "2", httponly=True)
        return r

    start_app(app)
    client = Client(app.port)
    try:
        r = client.get("/c")
        assert (r.status, r.body, r.headers["x-a"]) == (200, b"ok", "1")
        assert r.headers.get_all("set-cookie") == ["a=1; Path=/; SameSite=lax", "b=2; HttpOnly; Path=/; SameSite=lax"]
    finally:
        client.close()
        app.stop()
