"""Starlette's Request API as FastAPI apps use it: in handlers, in
dependencies, in an http middleware and in exception handlers."""

from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.middleware("http")
async def stamp(request: Request, call_next):
    # request.url.path in a middleware: the most common use of all
    request.state.seen_by = "middleware:" + request.url.path
    if request.url.path == "/blocked":
        return JSONResponse({"blocked": str(request.url)}, status_code=403)
    response = await call_next(request)
    if request.url.path.isascii():
        response.headers["X-Path"] = request.url.path
    return response


class Teapot(Exception):
    pass


@app.exception_handler(Teapot)
async def teapot(request: Request, exc: Teapot):
    return JSONResponse({"url": str(request.url), "state": request.state.seen_by,
                         "method": request.method}, status_code=418)


@app.get("/url")
def url(request: Request):
    u = request.url
    return {"str": str(u), "path": u.path, "query": u.query, "scheme": u.scheme,
            "hostname": u.hostname, "port": u.port, "netloc": u.netloc,
            "is_secure": u.is_secure, "base": str(request.base_url),
            "replaced": str(u.replace(path="/other", query="")),
            "host_changed": str(u.replace(hostname="example.org", port=9000)),
            "included": str(u.include_query_params(page=2, q="x y")),
            "removed": str(u.remove_query_params(["a", "b"])),
            "only": str(u.replace_query_params(z=1)),
            "eq": u == str(u)}


@app.get("/paths/{name}")
async def paths(name: str, request: Request):
    return {"path": request.url.path, "params": request.path_params, "name": name}


@app.get("/cookies")
def cookies(request: Request):
    return request.cookies


@app.post("/json")
async def body_json(request: Request):
    data = await request.json()
    again = await request.json()
    return {"data": data, "same": data == again, "body": (await request.body()).decode()}


@app.post("/body")
async def body(request: Request):
    raw = await request.body()
    return {"len": len(raw), "text": raw.decode("latin-1"), "method": request.method}


@app.post("/form")
async def form(request: Request):
    f = await request.form()
    return {"items": f.multi_items(), "last": dict(f), "tags": f.getlist("tag")}


@app.get("/state")
def state(request: Request):
    return {"seen_by": request.state.seen_by}


@app.get("/client")
def client(request: Request):
    c = request.client
    return {"host_is_str": isinstance(c.host, str) and c.host != "",
            "port_is_int": isinstance(c.port, int), "tuple": c == (c.host, c.port),
            "first": c[0] == c.host}


@app.get("/query")
def query(request: Request):
    q = request.query_params
    return {"get": q.get("a"), "list": q.getlist("a"), "multi": q.multi_items(),
            "keys": list(q.keys()), "missing": q.get("zz", "default"), "len": len(q),
            "str": str(q), "in": "b" in q}


@app.get("/items/{item_id}", name="item")
def item(item_id: int, request: Request):
    return {"self": str(request.url_for("item", item_id=item_id)),
            "files": str(request.url_for("read_file", file_path="a/b.txt")),
            "plain": str(request.url_for("query"))}


@app.get("/files/{file_path:path}")
def read_file(file_path: str):
    return {"file_path": file_path}


async def current_path(request: Request) -> str:
    request.state.dep = "dependency"
    return request.url.path + "?" + request.url.query


@app.get("/dep")
def dep(path: Annotated[str, Depends(current_path)], request: Request):
    return {"path": path, "dep": request.state.dep, "mw": request.state.seen_by}


@app.get("/raise")
def raise_teapot(request: Request):
    raise Teapot()


@app.get("/blocked")
def blocked():
    return {"never": True}


@app.get("/scope")
def scope(request: Request):
    s = request.scope
    return {"type": s["type"], "method": s["method"], "path": s["path"],
            "query_string": s["query_string"].decode(),
            "headers": sorted(k.decode() for k, _ in s["headers"]
                              if k in (b"host", b"x-probe")),
            "app": request.app is app}


@app.get("/missing-state")
def missing_state(request: Request):
    try:
        request.state.nothing
    except AttributeError as exc:
        raise HTTPException(404, str(exc))
    return {}
