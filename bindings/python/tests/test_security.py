"""turbo/_security.py's checks; the schemes' answers and OpenAPI entries
are compared with FastAPI's in test_fastapi_diff.py (auth.py)."""

import pytest

from turbo import APIKeyHeader, App, HTTPBearer, Security, SecurityScopes


def test_bad_options_raise_when_made():
    with pytest.raises(TypeError, match="scopes must be a list of str"):
        Security(lambda: None, scopes="items:read")
    with pytest.raises(TypeError, match="name must be a non-empty str"):
        APIKeyHeader(name="")


def test_a_scheme_is_an_ordinary_sync_dependency_with_its_model():
    bearer = HTTPBearer(bearerFormat="JWT", auto_error=False)
    assert bearer.model == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert bearer.scheme_name == "HTTPBearer"
    scopes = SecurityScopes(["a", "b"])
    assert (scopes.scopes, scopes.scope_str) == (["a", "b"], "a b")
    app = App()

    @app.get("/x")
    def x(token=Security(bearer, scopes=["a"])):
        return {"token": token}

    assert ("GET", "/x") in app._routes
