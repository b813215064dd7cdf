"""FastAPI's security schemes (fastapi.security): dependencies that read
credentials from the request, answer FastAPI's 401s when they are missing
(unless auto_error=False: None then), and document themselves in the
OpenAPI schema (`model`: the components.securitySchemes entry,
`scheme_name`: its key). `Security(dep, scopes=[...])` is Depends with
OAuth2 scopes, which a `SecurityScopes` parameter of a dependency receives
(the scopes of every Security above it, outermost first).

Each scheme's __call__ takes the Request and does not wait, so it runs
inline like any sync dependency.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Any

from . import HTTPException, Request
from ._bodies import Depends, _cookies


class Security(Depends):
    """Depends(dependency) with the OAuth2 scopes it requires."""

    def __init__(self, dependency: Any = None, *, scopes: Any = None,
                 use_cache: bool = True) -> None:
        super().__init__(dependency, use_cache=use_cache)
        if scopes is not None and (isinstance(scopes, str) or not all(
                isinstance(s, str) for s in scopes)):
            raise TypeError(f"Security: scopes must be a list of str, not {scopes!r}")
        self.scopes = list(scopes or [])


class SecurityScopes:
    """The scopes required by the Security dependencies above the one that
    takes this parameter: `scopes` (a list) and `scope_str` (space-joined)."""

    def __init__(self, scopes: list[str] | None = None) -> None:
        self.scopes = list(scopes or [])
        self.scope_str = " ".join(self.scopes)


def _scheme_param(value: str | None) -> tuple[str, str]:
    """An Authorization value split as FastAPI splits it: the scheme, and
    the rest stripped."""
    if not value:
        return "", ""
    scheme, _, param = value.partition(" ")
    return scheme, param.strip()


def _model(**fields: Any) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


class SecurityBase:
    model: dict[str, Any]
    scheme_name: str
    auto_error: bool

    def _unauthenticated(self, challenge: str) -> HTTPException:
        return HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": challenge})

    def _missing(self, challenge: str) -> None:
        if self.auto_error:
            raise self._unauthenticated(challenge)


def _credentials_model() -> Any:
    from pydantic import BaseModel

    class HTTPBasicCredentials(BaseModel):
        username: str
        password: str

    class HTTPAuthorizationCredentials(BaseModel):
        scheme: str
        credentials: str

    return HTTPBasicCredentials, HTTPAuthorizationCredentials


try:
    HTTPBasicCredentials, HTTPAuthorizationCredentials = _credentials_model()
except ImportError:  # no pydantic (the free-threaded venv): plain classes
    class HTTPBasicCredentials:  # type: ignore[no-redef]
        def __init__(self, *, username: str, password: str) -> None:
            self.username, self.password = username, password

    class HTTPAuthorizationCredentials:  # type: ignore[no-redef]
        def __init__(self, *, scheme: str, credentials: str) -> None:
            self.scheme, self.credentials = scheme, credentials


class APIKeyBase(SecurityBase):
    _where = ""

    def __init__(self, *, name: str, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"{type(self).__name__}: name must be a non-empty str")
        self.model = _model(type="apiKey", description=description, **{"in": self._where},
                            name=name)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error
        self._name = name

    def _check(self, key: str | None) -> str | None:
        if not key:
            self._missing("APIKey")
            return None
        return key


class APIKeyQuery(APIKeyBase):
    _where = "query"

    def __call__(self, request: Request) -> str | None:
        # Starlette's query_params.get: the last value of a repeated key.
        from urllib.parse import parse_qsl

        values = [v for k, v in parse_qsl(request.query_string, keep_blank_values=True)
                  if k == self._name]
        return self._check(values[-1] if values else None)


class APIKeyHeader(APIKeyBase):
    _where = "header"

    def __call__(self, request: Request) -> str | None:
        return self._check(request._header(self._name.lower()))


class APIKeyCookie(APIKeyBase):
    _where = "cookie"

    def __call__(self, request: Request) -> str | None:
        return self._check(_cookies(request).get(self._name))


class HTTPBearer(SecurityBase):
    _scheme = "bearer"

    def __init__(self, *, bearerFormat: str | None = None, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        self.model = _model(type="http", description=description, scheme=self._scheme,
                            bearerFormat=bearerFormat)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def __call__(self, request: Request) -> Any:
        authorization = request._header("authorization")
        scheme, credentials = _scheme_param(authorization)
        if not (authorization and scheme and credentials) or scheme.lower() != self._scheme:
            self._missing(self._scheme.title())
            return None
        return HTTPAuthorizationCredentials(scheme=scheme, credentials=credentials)


class HTTPDigest(HTTPBearer):
    """The Digest scheme's credentials, unverified (as FastAPI's: the
    application checks them)."""

    _scheme = "digest"

    def __init__(self, *, scheme_name: str | None = None, description: str | None = None,
                 auto_error: bool = True) -> None:
        super().__init__(scheme_name=scheme_name, description=description,
                         auto_error=auto_error)


class HTTPBasic(SecurityBase):
    def __init__(self, *, scheme_name: str | None = None, realm: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        self.model = _model(type="http", description=description, scheme="basic")
        self.scheme_name = scheme_name or type(self).__name__
        self.realm = realm
        self.auto_error = auto_error

    def _challenge(self) -> str:
        return f'Basic realm="{self.realm}"' if self.realm else "Basic"

    def __call__(self, request: Request) -> Any:
        authorization = request._header("authorization")
        scheme, param = _scheme_param(authorization)
        if not authorization or scheme.lower() != "basic":
            self._missing(self._challenge())
            return None
        try:
            data = b64decode(param).decode("ascii")
        except (ValueError, UnicodeDecodeError, binascii.Error):
            raise self._unauthenticated(self._challenge()) from None
        username, separator, password = data.partition(":")
        if not separator:
            raise self._unauthenticated(self._challenge())
        return HTTPBasicCredentials(username=username, password=password)


class OAuth2PasswordBearer(SecurityBase):
    def __init__(self, tokenUrl: str, scheme_name: str | None = None,
                 scopes: dict[str, str] | None = None, description: str | None = None,
                 auto_error: bool = True, refreshUrl: str | None = None) -> None:
        flow = _model(refreshUrl=refreshUrl, scopes=dict(scopes or {}), tokenUrl=tokenUrl)
        self.model = _model(type="oauth2", description=description, flows={"password": flow})
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def __call__(self, request: Request) -> str | None:
        authorization = request._header("authorization")
        scheme, param = _scheme_param(authorization)
        if not authorization or scheme.lower() != "bearer":
            self._missing("Bearer")
            return None
        return param


class OAuth2AuthorizationCodeBearer(OAuth2PasswordBearer):
    """The bearer token of OAuth2's authorization-code flow: read like
    OAuth2PasswordBearer's, documented as an `authorizationCode` flow."""

    def __init__(self, authorizationUrl: str, tokenUrl: str, refreshUrl: str | None = None,
                 scheme_name: str | None = None, scopes: dict[str, str] | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        super().__init__(tokenUrl, scheme_name=scheme_name, description=description,
                         auto_error=auto_error)
        flow = _model(authorizationUrl=authorizationUrl, tokenUrl=tokenUrl,
                      refreshUrl=refreshUrl, scopes=dict(scopes or {}))
        self.model = _model(type="oauth2", description=description,
                            flows={"authorizationCode": flow})


class OpenIdConnect(SecurityBase):
    """The whole Authorization header, unparsed (FastAPI's OpenIdConnect
    leaves checking it to the application); missing → 401 with the Bearer
    challenge."""

    def __init__(self, *, openIdConnectUrl: str, scheme_name: str | None = None,
                 description: str | None = None, auto_error: bool = True) -> None:
        self.model = _model(type="openIdConnect", description=description,
                            openIdConnectUrl=openIdConnectUrl)
        self.scheme_name = scheme_name or type(self).__name__
        self.auto_error = auto_error

    def __call__(self, request: Request) -> str | None:
        authorization = request._header("authorization")
        if not authorization:
            self._missing("Bearer")
            return None
        return authorization
