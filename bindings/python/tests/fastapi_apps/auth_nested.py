"""An auth-protected API: bearer token, API keys in header/query/cookie,
HTTP Basic, OAuth2 bearer with scopes; optional (auto_error=False) too."""
from typing import Annotated, Optional

from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import (APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials,
                              HTTPBasic, HTTPBasicCredentials, HTTPBearer, OAuth2PasswordBearer,
                              SecurityScopes)

app = FastAPI()

bearer = HTTPBearer(description="a session token")
maybe_bearer = HTTPBearer(auto_error=False, scheme_name="OptionalBearer")
basic = HTTPBasic(realm="shop")
plain_basic = HTTPBasic(scheme_name="PlainBasic")
key_header = APIKeyHeader(name="X-API-Key")
key_query = APIKeyQuery(name="api_key", auto_error=False)
key_cookie = APIKeyCookie(name="session")
oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"items:read": "Read items",
                                                        "items:write": "Write items"})

TOKENS = {"alice-token": ["items:read"], "bob-token": ["items:read", "items:write"]}


@app.get("/bearer")
def with_bearer(creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]):
    if creds.credentials != "s3cret":
        raise HTTPException(status_code=403, detail="Bad token")
    return {"scheme": creds.scheme, "token": creds.credentials}


@app.get("/maybe")
def maybe(creds: Optional[HTTPAuthorizationCredentials] = Depends(maybe_bearer)):
    return {"user": creds.credentials if creds else None}


@app.get("/basic")
def with_basic(creds: HTTPBasicCredentials = Depends(basic)):
    if (creds.username, creds.password) != ("ann", "pw:1"):
        raise HTTPException(status_code=401, detail="Incorrect username or password",
                            headers={"WWW-Authenticate": "Basic"})
    return {"username": creds.username}


@app.get("/plain-basic")
def with_plain_basic(creds: HTTPBasicCredentials = Depends(plain_basic)):
    return {"username": creds.username, "password": creds.password}


def api_user(header_key: str = Depends(key_header), query_key: Optional[str] = Depends(key_query)):
    return {"header": header_key, "query": query_key}


@app.get("/keys")
def keys(user: dict = Depends(api_user)):
    return user


@app.get("/cookie", dependencies=[Depends(key_cookie)])
def cookie_only():
    return {"ok": True}


def current_user(security_scopes: SecurityScopes, token: str = Depends(oauth2)):
    granted = TOKENS.get(token)
    if granted is None:
        raise HTTPException(status_code=401, detail="Could not validate credentials",
                            headers={"WWW-Authenticate": f'Bearer scope="{security_scopes.scope_str}"'})
    for scope in security_scopes.scopes:
        if scope not in granted:
            raise HTTPException(status_code=403, detail="Not enough permissions",
                                headers={"WWW-Authenticate": f'Bearer scope="{security_scopes.scope_str}"'})
    return {"token": token, "scopes": security_scopes.scopes}


@app.get("/items")
def read_items(user: Annotated[dict, Security(current_user, scopes=["items:read"])]):
    return user


@app.post("/items")
def write_items(user: dict = Security(current_user, scopes=["items:read", "items:write"])):
    return user


@app.get("/me")
def me(token: str = Depends(oauth2)):
    return {"token": token}
