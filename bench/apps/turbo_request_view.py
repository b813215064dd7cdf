"""GET /hello (a def returning a dict) on turbo's FastAPI surface, with and
without a Request parameter, for bench/instructions.sh: what the Request
view a FastAPI app's handler gets (turbo/_request.py) costs per request,
beside App's C Request and a route that takes none
(docs/fastapi-compat.md)."""
from turbo import App, FastAPI, Request


def make(app, kind):
    if kind == "none":
        @app.get("/hello")
        def hello():
            return {"message": "Hello, World!"}
    elif kind == "method":
        @app.get("/hello")
        def hello(request: Request):
            return {"message": request.method}
    else:  # "url": the middleware's favourite, request.url.path
        @app.get("/hello")
        def hello(request: Request):
            return {"message": request.url.path}
    return app


fastapi_none = make(FastAPI(openapi_url=None), "none")
app_method = make(App(), "method")
fastapi_method = make(FastAPI(openapi_url=None), "method")
fastapi_url = make(FastAPI(openapi_url=None), "url")
