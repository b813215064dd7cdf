"""Response classes: HTML, plain text, redirects."""

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse

app = FastAPI()


@app.get("/page")
def page():
    return HTMLResponse("<h1>caf\u00e9</h1>")


@app.get("/text")
async def text():
    return PlainTextResponse("plain\n", status_code=202, headers={"X-Why": "because"})


@app.get("/go")
def go(to: str = "/page"):
    return RedirectResponse(to)


@app.post("/moved")
def moved():
    return RedirectResponse("/caf\u00e9 menu?x=1&y=a b", status_code=303)


@app.get("/bytes-html")
def bytes_html():
    return HTMLResponse(b"<p>raw</p>", status_code=201)
