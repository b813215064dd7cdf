"""OAuth2 bearer tokens as FastAPI's security tutorial reads them: a
password-flow bearer guarding /users/me, an authorization-code-flow bearer
(with a refresh URL and scopes) and an OpenID Connect scheme, each also
with auto_error=False. The /token login form (OAuth2PasswordRequestForm)
is not here yet: turbo does not support it."""

from typing import Annotated, Optional

from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import OAuth2AuthorizationCodeBearer, OAuth2PasswordBearer, OpenIdConnect

app = FastAPI()

password = OAuth2PasswordBearer(tokenUrl="token")
code = OAuth2AuthorizationCodeBearer(authorizationUrl="https://id.example/authorize",
                                     tokenUrl="https://id.example/token",
                                     refreshUrl="https://id.example/refresh",
                                     scopes={"profile": "Read your profile"})
plain_code = OAuth2AuthorizationCodeBearer("auth", "tok", scheme_name="PlainCode",
                                           description="no refresh, no scopes",
                                           auto_error=False)
oidc = OpenIdConnect(openIdConnectUrl="https://id.example/.well-known/openid-configuration")
maybe_oidc = OpenIdConnect(openIdConnectUrl="/oidc", scheme_name="MaybeOidc",
                           description="optional", auto_error=False)

USERS = {"tok-alice": "alice"}


def current_user(token: Annotated[str, Depends(password)]):
    user = USERS.get(token)
    if user is None:
        raise HTTPException(status_code=401, detail="Invalid authentication credentials",
                            headers={"WWW-Authenticate": "Bearer"})
    return user


@app.get("/users/me")
def users_me(user: Annotated[str, Depends(current_user)]):
    return {"username": user}


@app.get("/code")
def with_code(token: Annotated[str, Depends(code)]):
    return {"token": token}


@app.get("/code/maybe")
async def code_maybe(token: Annotated[Optional[str], Depends(plain_code)]):
    return {"token": token}


@app.get("/oidc")
def with_oidc(authorization: Annotated[str, Depends(oidc)]):
    return {"authorization": authorization}


@app.get("/oidc/maybe")
def oidc_maybe(authorization: Annotated[Optional[str], Depends(maybe_oidc)]):
    return {"authorization": authorization}
