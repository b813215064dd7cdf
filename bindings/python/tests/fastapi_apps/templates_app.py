"""Server-rendered pages with Jinja2Templates, as FastAPI's tutorial
writes them: a template extending a base, a context processor, escaping
of what the request brought, a status code and headers."""

import os

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

ITEMS = {1: {"name": "Teapot", "tags": ["kitchen", "<b>tea</b>"]}}


def site(request):
    return {"site": "Shop"}


templates = Jinja2Templates(directory=os.path.join(os.path.dirname(__file__), "templates"),
                            context_processors=[site])
app = FastAPI()


@app.get("/items/{item_id}", response_class=HTMLResponse)
async def item(request: Request, item_id: int, note: str = ""):
    if item_id not in ITEMS:
        return templates.TemplateResponse(request, "missing.html", {"item_id": item_id},
                                          status_code=404, headers={"X-Page": "missing"})
    return templates.TemplateResponse(request, "item.html",
                                      {"item": ITEMS[item_id], "note": note})


@app.get("/text")
def text(request: Request):
    return templates.TemplateResponse(request, "missing.html", {"item_id": "t"},
                                      media_type="text/plain")
