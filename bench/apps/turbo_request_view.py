"""GET /hello (a def returning a dict) on turbo's FastAPI surface, with and
without a Request parameter, for bench/instructions.sh: what the Request
view a FastAPI app's handler gets (turbo/_request.py) costs per request,
beside App's C Request and a route that takes none
(docs/fastapi-compat.md). On main before the view (turbo.FastAPI gave
its handlers the C Request), fastapi_method is what app_method is."""
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

# The http middleware chain gets one view per request (the same one its
# exception handlers see): a passthrough middleware, and one that reads
# request.url.path.
mw_passthrough = make(FastAPI(openapi_url=None), "none")
mw_url = make(FastAPI(openapi_url=None), "none")


@mw_passthrough.middleware("http")
async def _through(request, call_next):
    return await call_next(request)


@mw_url.middleware("http")
async def _url_path(request, call_next):
    response = await call_next(request)
    response.headers["X-Path"] = request.url.path
    return response
