"""turbo.TestClient: a FastAPI app's own TestClient suite
(fastapi_apps/testclient_app.py) passes as written against FastAPI and,
with its imports rewritten, against turbo's TestClient and server, seeing
the same things."""

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")

from test_fastapi_diff import load  # noqa: E402


def test_an_apps_testclient_suite_passes_on_both_and_sees_the_same():
    want = load("testclient_app", False).run_suite()
    got = load("testclient_app", True).run_suite()
    assert got == want
    assert want[1] == "the handler failed"
    assert want[2] == ("WebSocketDisconnect", 4001, "asked to")
    assert want[-1] == (500, "Internal Server Error")


def test_a_testclient_serves_only_turbo_apps():
    import turbo
    with pytest.raises(TypeError, match="TestClient serves a turbo App"):
        turbo.TestClient(object())  # type: ignore[arg-type]


def test_overrides_set_before_serving_and_refused_values():
    import turbo

    app = turbo.FastAPI()

    def user():
        return "real"

    @app.get("/who")
    def who(name: str = turbo.Depends(user)):
        return {"name": name}

    app.dependency_overrides[user] = lambda: "stub"
    with turbo.TestClient(app) as client:
        assert client.get("/who").json() == {"name": "stub"}
        del app.dependency_overrides[user]
        assert client.get("/who").json() == {"name": "real"}
    with pytest.raises(TypeError, match=r"dependency_overrides\[.*\] must be callable"):
        app.dependency_overrides[user] = "stub"
    assert app.dependency_overrides == {}
