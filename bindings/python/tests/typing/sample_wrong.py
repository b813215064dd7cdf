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


@app.get("/tagged", tags="items")  # wrong: tags is a list of str
def tagged() -> None:
    return None


@app.put("/old", deprecated="yes", include_in_schema=1)  # wrong: both are bools
def old() -> None:
    return None


def not_found() -> None:
    raise HTTPException("404")  # wrong: status_code is an int


count: int = index()  # wrong: the decorated handler still returns str
port: int = app.start(threads="2")  # wrong: threads is an int
