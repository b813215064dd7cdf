"""No reference or memory leak per request.

The App serves in this process (one I/O thread); a load generator runs in a
child process (so its own objects do not count) and sends pipelined
keep-alive requests over several connections, checking every answer byte for
byte. Between a warm-up and the end this process's gc-tracked objects,
pymalloc blocks, RSS and the reference counts of shared objects must stay
flat: a leak of one object per request would show as ~200,000."""

import asyncio
import contextvars
import gc
import logging
import os
import subprocess
import sys

import pytest

from turbo import App, HTTPException, Request, Response

WARMUP = 20_000
REQUESTS = 200_000
MIXED_REQUESTS = 60_000
ASYNC_REQUESTS = 200_000

REQUEST_VAR = contextvars.ContextVar("request_var", default="unset")

# The load generator: argv = port, count, connections, batch, mode.
LOADGEN = r'''
import json, re, socket, sys

port, count, nconn, batch, mode = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]

def dumps(o):
    return json.dumps(o, separators=(",", ":")).encode()

def item_case(i):
    n = i % 5000 + 1000
    flag = i % 3 == 0
    q = "w%d x" % (i % 97)
    req = ("GET /items/%d?q=%s&flag=%s&extra=1 HTTP/1.1\r\nHost: t\r\n\r\n"
           % (n, q.replace(" ", "+"), "yes" if flag else "off")).encode()
    return req, 200, b"application/json", dumps({"id": n, "q": q, "flag": flag, "tags": ["a", n % 7]})

ERR422 = dumps({"detail": [
    {"type": "int_parsing", "loc": ["path", "item_id"],
     "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "x1"},
    {"type": "bool_parsing", "loc": ["query", "flag"],
     "msg": "Input should be a valid boolean, unable to interpret input", "input": "maybe"}]})

def mixed_case(i):
    k = i % 9
    if k == 0:
        return item_case(i)
    if k == 1:
        return (b"GET /items/x1?flag=maybe HTTP/1.1\r\nHost: t\r\n\r\n", 422, b"application/json", ERR422)
    if k == 2:
        return (b"GET /forbidden/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i, 403, b"application/json",
                dumps({"detail": {"id": i, "why": "no"}}))
    if k == 3:
        body = b"body-%d" % i
        req = (b"POST /inspect/n%d?a=%d&b=c+d HTTP/1.1\r\nHost: t\r\nX-Thing: v%d\r\n"
               b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % (i, i, i, len(body))) + body
        return req, 200, b"application/json", dumps(
            {"m": "POST", "p": "/inspect/n%d" % i, "qp": {"a": str(i), "b": "c d"},
             "pp": {"name": "n%d" % i}, "h": "v%d" % i, "body": body.decode(),
             "client": "127.0.0.1"})
    if k == 4:
        return (b"GET /response HTTP/1.1\r\nHost: t\r\n\r\n", 201, b"text/html; charset=utf-8", b"<b>made</b>")
    if k == 5:
        return (b"GET /text/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i, 200, b"text/plain; charset=utf-8",
                ("t\u00e9xt %d" % i).encode())
    if k == 6:
        return (b"GET /boom HTTP/1.1\r\nHost: t\r\n\r\n", 500, b"text/plain; charset=utf-8",
                b"Internal Server Error")
    if k == 7:
        return (b"GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n", 404, b"application/json",
                b'{"detail":"Not Found"}')
    return (b"DELETE /items/5 HTTP/1.1\r\nHost: t\r\n\r\n", 405, b"application/json",
            b'{"detail":"Method Not Allowed"}')

def async_case(i):
    """async def handlers: half answer without suspending (inline), half
    after a suspension (a Task, a deferred answer)."""
    k = i % 8
    n = i % 5000 + 1000
    if k == 0:
        req, status, ctype, body = item_case(i)
        return req.replace(b"GET /items/", b"GET /async/items/"), status, ctype, body
    if k == 1:
        return (b"GET /async/yield/%d HTTP/1.1\r\nHost: t\r\n\r\n" % n, 200, b"application/json",
                dumps({"n": n, "var": "r%d" % n}))
    if k == 2:
        body = b"abody-%d" % i
        req = (b"POST /async/inspect/n%d?a=%d HTTP/1.1\r\nHost: t\r\nX-Thing: v%d\r\n"
               b"Content-Length: %d\r\n\r\n" % (i, i, i, len(body))) + body
        return req, 200, b"application/json", dumps(
            {"p": "/async/inspect/n%d" % i, "qp": {"a": str(i)}, "h": "v%d" % i,
             "body": body.decode()})
    if k == 3:
        return (b"GET /async/forbidden/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i, 403, b"application/json",
                dumps({"detail": {"id": i, "why": "no"}}))
    if k == 4:
        return (b"GET /async/text/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i, 200, b"text/plain; charset=utf-8",
                ("t\u00e9xt %d" % i).encode())
    if k == 5:
        return (b"GET /async/boom HTTP/1.1\r\nHost: t\r\n\r\n", 500, b"text/plain; charset=utf-8",
                b"Internal Server Error")
    if k == 6:
        return (b"GET /async/gather/%d HTTP/1.1\r\nHost: t\r\n\r\n" % n, 200, b"application/json",
                dumps([n, n + 1]))
    return (b"GET /async/items/x1?flag=maybe HTTP/1.1\r\nHost: t\r\n\r\n", 422, b"application/json",
            ERR422)

def wsgi_case(i):
    """The WSGI adapter: plain, body echoed, generator, and failures before
    start_response, during iteration and in a header."""
    k = i % 6
    if k == 0:
        return (b"GET /w/hello/%d HTTP/1.1\r\nHost: t\r\nX-A: 1\r\nX-A: 2\r\n\r\n" % i, 200,
                b"text/plain", b"hello %d 1, 2" % i)
    if k == 1:
        body = b"wbody-%d" % i
        return (b"POST /w/echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain\r\n"
                b"Content-Length: %d\r\n\r\n" % len(body) + body, 200, b"text/plain", body)
    if k == 2:
        return (b"GET /w/gen?n=%d HTTP/1.1\r\nHost: t\r\n\r\n" % (i % 7), 200, b"text/plain",
                b"".join(b"%d," % j for j in range(i % 7)))
    failure = {3: b"raise", 4: b"iterfail", 5: b"badheader"}[k]
    return (b"GET /w/%s HTTP/1.1\r\nHost: t\r\n\r\n" % failure, 500,
            b"text/plain; charset=utf-8", b"Internal Server Error")

def asgi_case(i):
    """The ASGI adapter: inline, after a suspension, body echoed, streamed,
    and failures before and after http.response.start."""
    k = i % 6
    if k == 0:
        return (b"GET /a/hello/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i, 200, b"text/plain",
                b"hello %d" % i)
    if k == 1:
        return (b"GET /a/sleep/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i, 200, b"text/plain",
                b"slept %d" % i)
    if k == 2:
        body = b"abody-%d" % i
        return (b"POST /a/echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body)
                + body, 200, b"text/plain", body)
    if k == 3:
        return (b"GET /a/stream?n=%d HTTP/1.1\r\nHost: t\r\n\r\n" % (i % 5), 200, b"text/plain",
                b"".join(b"%d;" % j for j in range(i % 5)))
    failure = b"raise" if k == 4 else b"late"
    return (b"GET /a/%s HTTP/1.1\r\nHost: t\r\n\r\n" % failure, 500,
            b"text/plain; charset=utf-8", b"Internal Server Error")

case = {"items": item_case, "mixed": mixed_case, "async": async_case, "wsgi": wsgi_case,
        "asgi": asgi_case}[mode]
HEAD_END = re.compile(rb"\r\n\r\n")
CL = re.compile(rb"\r\ncontent-length: *([0-9]+)\r\n", re.I)
CT = re.compile(rb"\r\ncontent-type: *([^\r]*)\r\n", re.I)

socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(nconn)]
for s in socks:
    s.settimeout(30)
bufs = [bytearray() for _ in socks]
i = 0
done = 0
while done < count:
    pending = []
    for c, s in enumerate(socks):
        n = min(batch, count - done - sum(len(p) for _, p in pending))
        if n <= 0:
            break
        cases = [case(i + j) for j in range(n)]
        i += n
        s.sendall(b"".join(cs[0] for cs in cases))
        pending.append((c, cases))
    for c, cases in pending:
        s, buf = socks[c], bufs[c]
        pos = 0
        for req, status, ctype, body in cases:
            while True:
                m = HEAD_END.search(buf, pos)
                if m:
                    head = bytes(buf[pos:m.end()])
                    cl = CL.search(head)
                    if cl is None:
                        print("no Content-Length in %r" % head); sys.exit(1)
                    end = m.end() + int(cl.group(1))
                    if len(buf) >= end:
                        break
                chunk = s.recv(262144)
                if not chunk:
                    print("connection closed by the server after %d answers" % done); sys.exit(1)
                buf += chunk
            got_status = int(head[9:12])
            ct = CT.search(head)
            got_body = bytes(buf[m.end():end])
            if (got_status, ct and ct.group(1), got_body) != (status, ctype, body):
                print("request %r: got %r %r %r, want %r %r %r"
                      % (req, got_status, ct and ct.group(1), got_body, status, ctype, body))
                sys.exit(1)
            pos = end
            done += 1
        del buf[:pos]
for s in socks:
    s.close()
print("OK %d" % done)
'''


HANDLERS = []


def make_app():
    app = App()

    @app.get("/items/{item_id}")
    def item(item_id: int, q: str = "", flag: bool = False):
        return {"id": item_id, "q": q, "flag": flag, "tags": ["a", item_id % 7]}

    @app.get("/forbidden/{n}")
    def forbidden(n: int):
        raise HTTPException(403, detail={"id": n, "why": "no"})

    @app.post("/inspect/{name}")
    def inspect(req: Request, name: str):
        return {"m": req.method, "p": req.path, "qp": req.query_params, "pp": req.path_params,
                "h": req.headers["x-thing"], "body": req.body.decode(), "client": req.client[0]}

    @app.get("/response")
    def response():
        return Response("<b>made</b>", status_code=201, headers={"X-Made": "1"},
                        media_type="text/html")

    @app.get("/text/{n}")
    def text(n: int):
        return "t\u00e9xt %d" % n

    @app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    @app.get("/async/items/{item_id}")
    async def async_item(item_id: int, q: str = "", flag: bool = False):
        return {"id": item_id, "q": q, "flag": flag, "tags": ["a", item_id % 7]}

    @app.get("/async/yield/{n}")
    async def async_yield(n: int):
        REQUEST_VAR.set("r%d" % n)
        await asyncio.sleep(0)
        return {"n": n, "var": REQUEST_VAR.get()}

    @app.post("/async/inspect/{name}")
    async def async_inspect(req: Request, name: str):
        await asyncio.sleep(0)
        return {"p": req.path, "qp": req.query_params, "h": req.headers["x-thing"],
                "body": req.body.decode()}

    @app.get("/async/forbidden/{n}")
    async def async_forbidden(n: int):
        await asyncio.sleep(0)
        raise HTTPException(403, detail={"id": n, "why": "no"})

    @app.get("/async/text/{n}")
    async def async_text(n: int):
        return "t\u00e9xt %d" % n

    @app.get("/async/boom")
    async def async_boom():
        await asyncio.sleep(0)
        raise RuntimeError("async boom")

    @app.get("/async/gather/{n}")
    async def async_gather(n: int):
        async def plus(k):
            await asyncio.sleep(0)
            return n + k

        return list(await asyncio.gather(plus(0), plus(1)))

    HANDLERS[:] = [item, forbidden, inspect, response, text, boom, async_item, async_yield,
                   async_inspect, async_forbidden, async_text, async_boom, async_gather]
    return app


def load(port, count, mode, conns=4, batch=64):
    p = subprocess.run([sys.executable, "-c", LOADGEN, str(port), str(count), str(conns),
                        str(batch), mode], capture_output=True, timeout=120)
    out = p.stdout.decode() + p.stderr.decode()
    assert p.returncode == 0 and out.strip() == "OK %d" % count, out


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def snapshot(app):
    for _ in range(3):
        gc.collect()
    return {
        "gc_objects": len(gc.get_objects()),
        "blocks": sys.getallocatedblocks(),
        "rss": rss_bytes(),
        "refs": {
            "None": sys.getrefcount(None),
            "True": sys.getrefcount(True),
            "False": sys.getrefcount(False),
            "app": sys.getrefcount(app),
            "Request": sys.getrefcount(Request),
            "handlers": [sys.getrefcount(func) for func in HANDLERS],
        },
    }


# Under AddressSanitizer (the sanitizer build preloads its runtime) freed
# memory is held in a quarantine, so RSS grows by design; objects and
# blocks must still be flat.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def assert_flat(before, after, requests):
    report = "before %r\nafter  %r" % (before, after)
    # One leaked object per request would be ~`requests`.
    assert after["gc_objects"] - before["gc_objects"] <= 200, report
    assert after["blocks"] - before["blocks"] <= 1000, report
    if not UNDER_ASAN:
        assert after["rss"] - before["rss"] <= 2 * 1024 * 1024, report
    for name in ("None", "True", "False"):
        assert abs(after["refs"][name] - before["refs"][name]) <= 100, report
    for name in ("app", "Request"):
        assert after["refs"][name] == before["refs"][name], report
    assert after["refs"]["handlers"] == before["refs"]["handlers"], report


@pytest.fixture
def quiet_turbo_log():
    # The mixed load raises in a handler 1 request in 9: keep the log (and
    # pytest's capture of it) from growing; the handler's error path still runs.
    logger = logging.getLogger("turbo")
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.CRITICAL + 1)
    logger.propagate = False
    yield
    logger.setLevel(old_level)
    logger.propagate = old_propagate


def test_no_leak_path_query_dict(server):
    load(server.port, WARMUP, "items")
    served = server.stats()["requests"]
    before = snapshot(server)
    load(server.port, REQUESTS, "items")
    after = snapshot(server)
    assert server.stats()["requests"] - served == REQUESTS
    assert_flat(before, after, REQUESTS)


def test_no_leak_mixed_answers(server, quiet_turbo_log):
    load(server.port, WARMUP, "mixed")
    served = server.stats()["requests"]
    before = snapshot(server)
    load(server.port, MIXED_REQUESTS, "mixed")
    after = snapshot(server)
    assert server.stats()["requests"] - served == MIXED_REQUESTS
    assert_flat(before, after, MIXED_REQUESTS)


def loop_state(app):
    """What the App's one event loop holds once the load is over: Tasks not
    done, callbacks ready, timers scheduled (all none)."""
    (loop,) = app._loops.all
    return {"tasks": len(asyncio.all_tasks(loop)), "ready": len(loop._ready),
            "scheduled": len([h for h in loop._scheduled if not h.cancelled()])}


def test_no_leak_async_handlers(server, quiet_turbo_log):
    """async def handlers, inline and suspended (Tasks, deferred answers,
    a context per request, HTTPException and errors after a suspension,
    gather, 422s): 200,000 requests leave the objects, blocks, RSS and
    reference counts flat, and the loop empty."""
    load(server.port, WARMUP, "async")
    served = server.stats()["requests"]
    before = snapshot(server)
    load(server.port, ASYNC_REQUESTS, "async")
    after = snapshot(server)
    assert server.stats()["requests"] - served == ASYNC_REQUESTS
    assert_flat(before, after, ASYNC_REQUESTS)
    assert loop_state(server) == {"tasks": 0, "ready": 0, "scheduled": 0}


# ---- the WSGI and ASGI adapters --------------------------------------------

ADAPTER_REQUESTS = 120_000


def leak_wsgi_app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/w/hello/"):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello %s %s" % (path[9:].encode(), environ["HTTP_X_A"].encode())]
    if path == "/w/echo":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["wsgi.input"].read()]
    if path == "/w/gen":
        n = int(environ["QUERY_STRING"][2:])

        def gen():
            for j in range(n):
                yield b"%d," % j

        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/w/raise":
        raise RuntimeError("wsgi boom")
    if path == "/w/iterfail":
        def failing():
            yield b"x"
            raise ValueError("mid-iteration")

        start_response("200 OK", [("Content-Type", "text/plain")])
        return failing()
    start_response("200 OK", [("X-Bad", "a\r\nb")])
    return [b""]


async def leak_asgi_app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan here")
    path = scope["path"]
    start = {"type": "http.response.start", "status": 200,
             "headers": [(b"content-type", b"text/plain")]}
    if path.startswith("/a/hello/"):
        await send(start)
        await send({"type": "http.response.body", "body": b"hello " + path[9:].encode()})
    elif path.startswith("/a/sleep/"):
        await asyncio.sleep(0)
        await send(start)
        await send({"type": "http.response.body", "body": b"slept " + path[9:].encode()})
    elif path == "/a/echo":
        message = await receive()
        await send(start)
        await send({"type": "http.response.body", "body": message["body"]})
    elif path == "/a/stream":
        # Streamed (more_body), with the Content-Length the load generator
        # reads answers by.
        n = int(scope["query_string"][2:])
        length = b"%d" % len(b"".join(b"%d;" % j for j in range(n)))
        await send({**start, "headers": start["headers"] + [(b"content-length", length)]})
        for j in range(n):
            await asyncio.sleep(0)
            await send({"type": "http.response.body", "body": b"%d;" % j, "more_body": True})
        await send({"type": "http.response.body"})
    elif path == "/a/raise":
        raise RuntimeError("asgi boom")
    else:
        await send(start)
        await asyncio.sleep(0)
        raise RuntimeError("asgi late boom")


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_no_leak_through_the_adapters(kind, serve, quiet_turbo_log):
    """Answers and failures at every stage through the WSGI and ASGI
    adapters leave objects, blocks, RSS and reference counts flat."""
    from turbo.asgi import ASGIApp
    from turbo.wsgi import WSGIApp

    target = leak_wsgi_app if kind == "wsgi" else leak_asgi_app
    app = serve(WSGIApp(target) if kind == "wsgi" else ASGIApp(target))
    HANDLERS[:] = [target]
    load(app.port, WARMUP, kind)
    served = app.stats()["requests"]
    before = snapshot(app)
    load(app.port, ADAPTER_REQUESTS, kind)
    after = snapshot(app)
    assert app.stats()["requests"] - served == ADAPTER_REQUESTS
    assert_flat(before, after, ADAPTER_REQUESTS)
    if kind == "asgi":
        assert loop_state(app) == {"tasks": 0, "ready": 0, "scheduled": 0}
