"""Many requests on 4 I/O threads from 8 real HTTP clients (keep-alive
sockets, 8 requests pipelined at a time), meant for a free-threaded
CPython (issue 18), where the handlers run truly in parallel; it holds
with the GIL too.

The handlers count under a lock, take POST bodies and add up their bytes
under a lock, change a shared list and dict without one (each operation
is atomic on its own), return those containers as they are being changed
(the JSON encoder reads them), run `async def` (some suspending), and
answer on routes that another thread adds and removes all the while.
Every answer is checked byte for byte where it is determined, parsed and
checked where it is not; the counts and byte totals must be exact, the
server must count exactly the requests sent and no handler error, and
nothing may be kept: no reference to an object handlers returned, no
Request alive, no handler of a removed route.

TURBO_STRESS_REQUESTS sets the number of requests (default 20,000, a few
seconds; the python_stress test, run when the interpreter is
free-threaded, asks for 200,000)."""

import asyncio
import gc
import json
import os
import socket
import sys
import threading
import weakref

from conftest import FREE_THREADED
from turbo import App, Request, Response, _immortal

REQUESTS = int(os.environ.get("TURBO_STRESS_REQUESTS", "20000"))
IO_THREADS = 4
CLIENTS = 8
PIPELINE = 8
DYNAMIC = 8  # /dyn/0 .. /dyn/7, added and removed while serving
KINDS = 6


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}  # key -> requests counted, under lock
        self.posted = [0, 0]  # [requests, bytes], under lock
        self.shared_list = []  # changed without a lock
        self.shared_dict = {}
        self.sentinel = ["sentinel", 1, 2.5]  # returned by /snapshot, many times
        self.dyn_handlers = []  # weak references to every handler /dyn/* ever had


def make_app(st):
    app = App()

    @app.get("/count/{key}")
    def count(key: int):
        with st.lock:
            st.counts[key] = st.counts.get(key, 0) + 1
        return {"key": key}

    @app.post("/append")
    def append(request: Request):
        body = request.body
        with st.lock:
            st.posted[0] += 1
            st.posted[1] += len(body)
        return Response(str(len(body)), media_type="text/plain")

    @app.get("/mutate/{n}")
    def mutate(n: int):
        st.shared_list.append({"n": n, "s": "x" * (n % 5)})
        st.shared_dict[n % 64] = [n, str(n)]
        if len(st.shared_list) > 256:
            try:
                del st.shared_list[:128]
            except IndexError:  # pragma: no cover - del of a slice never raises
                pass
        return {"n": n}

    @app.get("/snapshot")
    def snapshot():
        return {"l": st.shared_list, "d": st.shared_dict, "s": st.sentinel}

    @app.get("/async/{n}")
    async def in_coroutine(n: int):
        if n % 4 == 0:
            await asyncio.sleep(0)  # suspends: finished later on the loop
        return {"n": n, "sq": n * n}

    return app


def dyn_handler(i):
    def dyn():
        return {"dyn": i}
    return dyn


def churn_routes(app, st, stop, errors):
    """Adds and removes /dyn/0..7 until stop, from a thread of its own."""
    try:
        live = set()
        k = 0
        while not stop.is_set():
            i = k % DYNAMIC
            k += 1
            if i in live:
                app.remove_route("/dyn/%d" % i)
                live.discard(i)
            else:
                h = dyn_handler(i)
                st.dyn_handlers.append(weakref.ref(h))
                app.add_route("/dyn/%d" % i, h)
                live.add(i)
        for i in live:
            app.remove_route("/dyn/%d" % i)
    except Exception as e:  # noqa: BLE001
        errors.append(("churn", repr(e)))


def plan(client, n):
    """client's n requests: (bytes to send, kind, value)."""
    out = []
    for j in range(n):
        kind = j % KINDS
        v = client * 1000003 + j
        if kind == 0:
            key = v % 37
            out.append((b"GET /count/%d HTTP/1.1\r\nHost: t\r\n\r\n" % key, kind, key))
        elif kind == 1:
            body = b"b" * (v % 97 + 1)
            out.append((b"POST /append HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s"
                        % (len(body), body), kind, len(body)))
        elif kind == 2:
            out.append((b"GET /mutate/%d HTTP/1.1\r\nHost: t\r\n\r\n" % v, kind, v))
        elif kind == 3:
            out.append((b"GET /snapshot HTTP/1.1\r\nHost: t\r\n\r\n", kind, None))
        elif kind == 4:
            out.append((b"GET /async/%d HTTP/1.1\r\nHost: t\r\n\r\n" % v, kind, v))
        else:
            i = v % DYNAMIC
            out.append((b"GET /dyn/%d HTTP/1.1\r\nHost: t\r\n\r\n" % i, kind, i))
    return out


def read_response(sock, buf):
    """One response from sock: (status, body, rest of buf)."""
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in a response's head")
        buf += chunk
    head = buf[:end].decode("latin-1").lower()
    status = int(head[9:12])
    length = None
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name == "content-length":
            length = int(value)
    if length is None:
        raise ValueError("no content-length: " + head)
    start = end + 4
    while len(buf) < start + length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in a body")
        buf += chunk
    return status, buf[start:start + length], buf[start + length:]


def check(kind, value, status, body, st):
    """None if (status, body) is the answer for (kind, value), else why not."""
    if kind == 0:
        ok = (status, body) == (200, compact({"key": value}))
    elif kind == 1:
        ok = (status, body) == (200, b"%d" % value)
    elif kind == 2:
        ok = (status, body) == (200, compact({"n": value}))
    elif kind == 3:
        if status != 200:
            return "snapshot status %d" % status
        doc = json.loads(body)
        ok = (doc["s"] == st.sentinel
              and all(isinstance(x, dict) and set(x) == {"n", "s"} and x["s"] == "x" * (x["n"] % 5)
                      for x in doc["l"])
              and all(v == [v[0], str(v[0])] and int(k) == v[0] % 64 for k, v in doc["d"].items()))
    elif kind == 4:
        ok = (status, body) == (200, compact({"n": value, "sq": value * value}))
    else:  # the route may be there or not at this moment
        ok = (status, body) in ((200, compact({"dyn": value})),
                                (404, compact({"detail": "Not Found"})))
    return None if ok else "kind %d value %r: %d %r" % (kind, value, status, body[:200])


def settle():
    """Collects garbage, and on a free-threaded build lets this thread
    take in the reference count changes other threads made to objects it
    owns: a decrement from another thread that takes an object's shared
    count below zero is queued for the owner (biased reference counting,
    CPython's Python/brc.c), and the queue holds a reference until the
    owner merges it, at its next eval-breaker check: a loop's backward
    jump."""
    for _ in range(3):
        total = 0
        for i in range(10000):
            total += i
        gc.collect()


def run_client(port, reqs, st, errors, sent):
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=120)
        buf = b""
        try:
            for i in range(0, len(reqs), PIPELINE):
                batch = reqs[i:i + PIPELINE]
                sock.sendall(b"".join(r[0] for r in batch))
                for _, kind, value in batch:
                    status, body, buf = read_response(sock, buf)
                    why = check(kind, value, status, body, st)
                    if why is not None:
                        errors.append(why)
                        if len(errors) > 20:
                            return
                    sent[kind] += 1
        finally:
            sock.close()
    except Exception as e:  # noqa: BLE001
        errors.append(("client", repr(e)))


def test_many_requests_on_four_io_threads_exact_counts_and_no_leak():
    st = State()
    app = make_app(st)
    per_client = REQUESTS // CLIENTS
    plans = [plan(c, per_client) for c in range(CLIENTS)]
    refs_before = sys.getrefcount(st.sentinel)
    app.start(threads=IO_THREADS)
    errors = []
    stop = threading.Event()
    churner = threading.Thread(target=churn_routes, args=(app, st, stop, errors))
    sents = [[0] * KINDS for _ in range(CLIENTS)]
    clients = [threading.Thread(target=run_client, args=(app.port, plans[c], st, errors, sents[c]))
               for c in range(CLIENTS)]
    try:
        churner.start()
        for t in clients:
            t.start()
        for t in clients:
            t.join(900)
        assert not any(t.is_alive() for t in clients), "a client is still running"
    finally:
        stop.set()
        churner.join(60)
        stats = app.stats()
        app.stop()
    assert not errors, errors[:5]

    total = CLIENTS * per_client
    assert sum(map(sum, sents)) == total
    assert stats["requests"] == total
    assert (stats["handler_errors"], stats["bad_requests"]) == (0, 0)
    # Exact per key: what the clients sent, counted under the lock.
    expected = {}
    expected_bytes = 0
    for reqs in plans:
        for _, kind, value in reqs:
            if kind == 0:
                expected[value] = expected.get(value, 0) + 1
            elif kind == 1:
                expected_bytes += value
    assert st.counts == expected
    assert st.posted == [sum(s[1] for s in sents), expected_bytes]

    # Nothing kept: the object returned thousands of times has the
    # references it had; no Request is alive; every removed route's
    # handler has been released; the free-threaded build re-created one
    # code object for all the /dyn handlers, not one each.
    del app
    settle()
    refs_after = sys.getrefcount(st.sentinel)  # not inside assert: pytest's rewriting holds one
    assert refs_after == refs_before
    assert [o for o in gc.get_objects() if isinstance(o, Request)] == []
    assert len(st.dyn_handlers) > DYNAMIC
    assert [r for r in st.dyn_handlers if r() is not None] == []
    if FREE_THREADED and _immortal.ENABLED:
        assert len({id(new) for _, new in _immortal._recreated.values()
                    if new.co_qualname == "dyn_handler.<locals>.dyn"
                    and new.co_filename == __file__}) == 1
