"""An app and the test suite its authors wrote with FastAPI's TestClient:
test_testclient.py runs the suite as it is and, with the imports
rewritten, against turbo's TestClient and server."""

from contextlib import asynccontextmanager
from typing import Optional

from fastapi import (Cookie, Depends, FastAPI, Header, HTTPException, Request, Response,
                     WebSocket)
from fastapi.security import OAuth2PasswordBearer
from fastapi.responses import RedirectResponse
from fastapi.testclient import TestClient
from pydantic import BaseModel

EVENTS = []


@asynccontextmanager
async def lifespan(app):
    EVENTS.append("startup")
    yield
    EVENTS.append("shutdown")


app = FastAPI(lifespan=lifespan)


class Item(BaseModel):
    name: str
    price: float


@app.get("/items/{item_id}")
def read_item(item_id: int, q: Optional[str] = None):
    return {"item_id": item_id, "q": q}


@app.post("/items", status_code=201)
def create_item(item: Item) -> Item:
    return item


@app.get("/whoami")
def whoami(request: Request, user_agent: str = Header(), host: str = Header()):
    return {"agent": user_agent, "host": host}


@app.get("/login")
def login(response: Response):
    response.set_cookie("session", "s1")
    return {"ok": True}


@app.get("/me")
def me(session: Optional[str] = Cookie(None)):
    if session is None:
        raise HTTPException(401, "no session", headers={"WWW-Authenticate": "Cookie"})
    return {"session": session}


@app.get("/old")
def old():
    return RedirectResponse("/items/7?q=moved")


@app.get("/boom")
def boom():
    raise ZeroDivisionError("the handler failed")


@app.websocket("/ws")
async def echo(websocket: WebSocket):
    await websocket.accept()
    while True:
        text = await websocket.receive_text()
        if text == "bye":
            await websocket.close(code=4001, reason="asked to")
            return
        await websocket.send_json({"echo": text})


@app.websocket("/ws-closed")
async def closed(websocket: WebSocket):
    await websocket.close()


def get_settings():
    return {"env": "production"}


def get_db(settings: dict = Depends(get_settings)):
    return {"db": "real", "env": settings["env"]}


oauth2 = OAuth2PasswordBearer(tokenUrl="token")


@app.get("/db")
def db(conn: dict = Depends(get_db)):
    return conn


@app.get("/private")
def private(token: str = Depends(oauth2), settings: dict = Depends(get_settings)):
    return {"token": token, "env": settings["env"]}


def fake_db(name: str = "fake"):  # its own query parameter
    return {"db": name}


def run_suite():
    """The app's tests. Returns what they saw, to compare both sides."""
    seen = []
    with TestClient(app) as client:
        assert EVENTS == ["startup"]
        r = client.get("/items/3", params={"q": "a b"})
        assert (r.status_code, r.json()) == (200, {"item_id": 3, "q": "a b"})
        r = client.get("/items/x")
        assert r.status_code == 422
        seen.append(r.json())
        r = client.post("/items", json={"name": "pen", "price": "1.5"})
        assert (r.status_code, r.json()) == (201, {"name": "pen", "price": 1.5})
        assert r.headers["content-type"] == "application/json"
        r = client.get("/whoami")
        assert r.json() == {"agent": "testclient", "host": "testserver"}
        r = client.get("/whoami", headers={"User-Agent": "mine"})
        assert r.json()["agent"] == "mine"
        r = client.get("/me")
        assert (r.status_code, r.headers["www-authenticate"]) == (401, "Cookie")
        assert client.get("/login").status_code == 200
        assert client.get("/me").json() == {"session": "s1"}  # the cookie kept
        r = client.get("/old")
        assert (r.status_code, r.json(), str(r.url)) == \
            (200, {"item_id": 7, "q": "moved"}, "http://testserver/items/7?q=moved")
        r = client.get("/old", follow_redirects=False)
        assert (r.status_code, r.headers["location"]) == (307, "/items/7?q=moved")
        try:
            client.get("/boom")
        except ZeroDivisionError as e:
            seen.append(str(e))
        else:
            raise AssertionError("the handler's exception was not raised")
        assert client.get("/db").json() == {"db": "real", "env": "production"}
        assert client.get("/private").status_code == 401
        app.dependency_overrides[get_settings] = lambda: {"env": "test"}
        assert client.get("/db").json() == {"db": "real", "env": "test"}  # a sub-dependency
        app.dependency_overrides[get_db] = fake_db
        assert client.get("/db", params={"name": "mem"}).json() == {"db": "mem"}
        app.dependency_overrides[oauth2] = lambda: "tok"
        assert client.get("/private").json() == {"token": "tok", "env": "test"}
        app.dependency_overrides.clear()
        assert client.get("/db").json() == {"db": "real", "env": "production"}
        assert client.get("/private").status_code == 401
        with client.websocket_connect("/ws") as ws:
            ws.send_text("hi")
            assert ws.receive_json() == {"echo": "hi"}
            ws.send_text("bye")
            try:
                ws.receive_text()
            except Exception as e:  # the WebSocketDisconnect of either side
                seen.append((type(e).__name__, e.code, e.reason))
        try:
            with client.websocket_connect("/ws-closed"):
                pass
        except Exception as e:
            seen.append(type(e).__name__)
    assert EVENTS == ["startup", "shutdown"]
    quiet = TestClient(app, raise_server_exceptions=False)
    r = quiet.get("/boom")
    seen.append((r.status_code, r.text))
    quiet.close()
    return seen
