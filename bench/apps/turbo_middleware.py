"""GET /hello (a def returning a dict) on turbo's FastAPI surface, bare and
under each of add_middleware's classes, for bench/instructions.sh: the
instructions each adds per request (docs/fastapi-compat.md)."""
from turbo import CORSMiddleware, FastAPI, GZipMiddleware, TrustedHostMiddleware


def make(middleware=None, **options):
    app = FastAPI(openapi_url=None)
    if middleware is not None:
        app.add_middleware(middleware, **options)

    @app.get("/hello")
    def hello():
        return {"message": "Hello, World!"}
    return app


bare = make()
cors = make(CORSMiddleware, allow_origins=["https://a.example"])
gzip = make(GZipMiddleware)  # the body is under minimum_size: not compressed
trusted = make(TrustedHostMiddleware, allowed_hosts=["b", "localhost"])

# The http middleware chain itself (turbo/_handlers.py), for comparison:
# one @app.middleware("http") that only calls call_next.
passthrough = make()


@passthrough.middleware("http")
async def _through(request, call_next):
    return await call_next(request)
