"""GET /hello through the WSGI and ASGI adapters, for instructions per
request (bench/instructions.sh adapters_ir:NAME): the bare protocols (a
WSGI function, an ASGI coroutine) show what the adapters themselves cost
beside a native `def` handler (turbo_hello:app); Flask and FastAPI show
what a real framework adds on top."""
from turbo.asgi import ASGIApp
from turbo.wsgi import WSGIApp

BODY = b'{"message":"Hello, World!"}'
HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))]


def hello_wsgi(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]


async def hello_asgi(scope, receive, send):
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": BODY})


wsgi_raw = WSGIApp(hello_wsgi)
asgi_raw = ASGIApp(hello_asgi, lifespan="off")


def _flask():
    from flask_hello import app
    return WSGIApp(app)


def _fastapi():
    from fastapi_hello import app_async
    return ASGIApp(app_async)


def __getattr__(name):  # the frameworks are imported only when asked for
    if name == "wsgi_flask":
        return _flask()
    if name == "asgi_fastapi":
        return _fastapi()
    raise AttributeError(name)
