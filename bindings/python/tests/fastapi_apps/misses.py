"""Requests no route takes, through an app's handlers: an HTML 404 page,
and a handler for FastAPI's HTTPException, which the router's 404/405
(Starlette's HTTPException, its base class) do not reach."""

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

app = FastAPI()


@app.exception_handler(404)
def not_found_page(request: Request, exc: HTTPException):
    return HTMLResponse(f"<h1>{exc.detail}</h1><p>{request.method}</p>", status_code=404)


@app.exception_handler(HTTPException)
def http_error(request: Request, exc: HTTPException):
    return PlainTextResponse(f"http {exc.status_code} {exc.detail}",
                             status_code=exc.status_code, headers=exc.headers)


@app.get("/items/{n}")
def item(n: int):
    if n == 0:
        raise HTTPException(status_code=409, detail="zero")
    if n == 1:
        raise HTTPException(status_code=404, detail="no item 1")
    return {"n": n}
