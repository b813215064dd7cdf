"""Security schemes: HTTP Bearer and Basic, API keys in a header, the
query and a cookie, OAuth2 password bearer tokens with scopes checked
through Security and SecurityScopes, auto_error=False."""

from typing import Annotated, Optional

from fastapi import Depends, FastAPI, HTTPException, Security
from fastapi.security import (APIKeyCookie, APIKeyHeader, APIKeyQuery, HTTPAuthorizationCredentials,
                              HTTPBasic, HTTPBasicCredentials, HTTPBearer, OAuth2PasswordBearer,
                              SecurityScopes)

app = FastAPI()

bearer = HTTPBearer(bearerFormat="JWT", description="a signed token")
maybe_bearer = HTTPBearer(auto_error=False, scheme_name="OptionalBearer")
basic = HTTPBasic(realm="staff")
plain_basic = HTTPBasic(scheme_name="PlainBasic", auto_error=False)
header_key = APIKeyHeader(name="X-API-Key")
query_key = APIKeyQuery(name="api_key", auto_error=False)
cookie_key = APIKeyCookie(name="session", description="the session cookie")
oauth2 = OAuth2PasswordBearer(tokenUrl="token", scopes={"items:read": "Read items",
                                                         "items:write": "Write items"})

TOKENS = {"t-read": ["items:read"], "t-all": ["items:read", "items:write"]}


@app.get("/bearer")
def with_bearer(creds: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]):
    return {"scheme": creds.scheme, "credentials": creds.credentials}


@app.get("/maybe")
async def maybe(creds: Optional[HTTPAuthorizationCredentials] = Depends(maybe_bearer)):
    return {"creds": None if creds is None else creds.credentials}


@app.get("/basic")
def with_basic(creds: Annotated[HTTPBasicCredentials, Depends(basic)]):
    if creds.password != "pw":
        raise HTTPException(status_code=401, detail="Incorrect username or password",
                            headers={"WWW-Authenticate": "Basic"})
    return {"username": creds.username}


@app.get("/basic-optional")
def basic_optional(creds: Optional[HTTPBasicCredentials] = Depends(plain_basic)):
    return {"user": None if creds is None else creds.username}


@app.get("/key/header")
def key_header(key: str = Depends(header_key)):
    if key != "k1":
        raise HTTPException(status_code=403, detail="Invalid key")
    return {"key": key}


@app.get("/key/query")
def key_query(key: Optional[str] = Depends(query_key)):
    return {"key": key}


@app.get("/key/cookie")
def key_cookie(key: Annotated[str, Depends(cookie_key)]):
    return {"key": key}


async def current_user(security_scopes: SecurityScopes, token: str = Depends(oauth2)):
    granted = TOKENS.get(token)
    if granted is None:
        raise HTTPException(status_code=401, detail="Could not validate credentials",
                            headers={"WWW-Authenticate": "Bearer"})
    for scope in security_scopes.scopes:
        if scope not in granted:
            raise HTTPException(status_code=403, detail="Not enough permissions",
                                headers={"WWW-Authenticate":
                                         f'Bearer scope="{security_scopes.scope_str}"'})
    return {"token": token, "scopes": security_scopes.scopes}


@app.get("/items")
def read_items(user: Annotated[dict, Security(current_user, scopes=["items:read"])]):
    return user


@app.post("/items")
def write_items(user: dict = Security(current_user, scopes=["items:read", "items:write"])):
    return user


@app.get("/me")
def me(user: dict = Depends(current_user)):
    return user


@app.get("/guarded", dependencies=[Security(current_user, scopes=["items:write"])])
def guarded():
    return {"ok": True}


@app.get("/direct")
def direct(token: Annotated[str, Security(oauth2, scopes=["items:write"])],
           key: Optional[str] = Depends(query_key)):
    return {"token": token, "key": key}
