"""Mistakes a type checker must report on the public API: test_typing.py
expects mypy to flag exactly the lines whose comment begins "wrong:"."""

from turbo import App, HTTPException, JSONResponse, Response

app = App()


@app.get(123)  # wrong: a route path is a str
def index() -> str:
    return "hello"


@app.post("/items", blocking="yes")  # wrong: blocking is a bool
def add() -> Response:
    return JSONResponse({"ok": True}, status_code="201")  # wrong: status_code is an int


def not_found() -> None:
    raise HTTPException("404")  # wrong: status_code is an int


count: int = index()  # wrong: the decorated handler still returns str
port: int = app.start(threads="2")  # wrong: threads is an int
