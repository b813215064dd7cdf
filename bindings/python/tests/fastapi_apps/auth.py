"""An API protected by FastAPI's security schemes."""

from typing import Annotated, Optional

from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
    HTTPDigest,
    OAuth2PasswordBearer,
    SecurityScopes,
)

bearer = HTTPBearer(description="a token")
maybe_bearer = HTTPBearer(auto_error=False, scheme_name="OptionalBearer")
basic = HTTPBasic(realm="turbo")
header_key = APIKeyHeader(name="X-API-Key")
query_key = APIKeyQuery(name="api_key", auto_error=False)
cookie_key = APIKeyCookie(name="session")
digest = HTTPDigest(description="digest credentials, unverified")
oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"items:read": "Read items",
                                                        "items:write": "Write items"})

TOKENS = {"alice-token": ["items:read"], "admin-token": ["items:read", "items:write"]}

app = FastAPI()


def current_user(security_scopes: SecurityScopes, token: Annotated[str, Depends(oauth2)]):
    granted = TOKENS.get(token)
    if granted is None:
        raise HTTPException(401, "Invalid token",
                            headers={"WWW-Authenticate": f'Bearer scope="{security_scopes.scope_str}"'})
    for scope in security_scopes.scopes:
        if scope not in granted:
            raise HTTPException(403, "Not enough permissions")
    return {"token": token, "scopes": security_scopes.scopes}


@app.get("/bearer")
def read_bearer(creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]):
    return {"scheme": creds.scheme, "credentials": creds.credentials}


@app.get("/maybe")
def read_maybe(creds: Annotated[Optional[HTTPAuthorizationCredentials], Depends(maybe_bearer)]):
    return {"given": creds is not None}


@app.get("/basic")
def read_basic(creds: Annotated[HTTPBasicCredentials, Depends(basic)]):
    return {"username": creds.username, "password": creds.password}


@app.get("/key")
async def read_key(key: Annotated[str, Depends(header_key)],
                   qkey: Annotated[Optional[str], Depends(query_key)]):
    return {"key": key, "qkey": qkey}


@app.get("/cookie")
def read_cookie(session: Annotated[str, Security(cookie_key)]):
    return {"session": session}


@app.get("/items")
def read_items(user: Annotated[dict, Security(current_user, scopes=["items:read"])]):
    return user


@app.post("/items")
def write_items(user: Annotated[dict, Security(current_user, scopes=["items:write"])]):
    return user


@app.get("/digest")
def read_digest(creds: Annotated[HTTPAuthorizationCredentials, Depends(digest)]):
    return {"scheme": creds.scheme, "credentials": creds.credentials}
