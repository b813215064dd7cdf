"""What a free-threaded CPython (3.13t: scripts/build-python-ft.sh) asks
of the binding: importing turbo keeps the GIL off, and handlers running
at once on several I/O threads may share Python objects, even return one
that another handler is changing. The sharing tests run under the GIL
build too (what they check holds there as well); the GIL test only under
a free-threaded interpreter."""

import json
import os
import re
import subprocess
import sys
import threading
import time

import pytest

from conftest import FREE_THREADED, Client, check_pid_app, child_env, python_m_turbo
from turbo._turbo import _json_dumps


@pytest.mark.skipif(not FREE_THREADED, reason="needs a free-threaded CPython (3.13t)")
def test_importing_turbo_leaves_the_gil_disabled():
    env = child_env()
    env.pop("PYTHON_GIL", None)  # the interpreter's own choice, not forced
    out = subprocess.run(
        [sys.executable, "-c",
         "import sys, turbo, turbo.asgi, turbo.wsgi, turbo._aio; print(sys._is_gil_enabled())"],
        env=env, capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (0, "False\n", "")


def change_until(stop, shared_list, shared_dict):
    i = 0
    while not stop.is_set():
        i += 1
        shared_list.append({"i": i, "s": "x" * (i % 7)})
        shared_dict["k%d" % (i % 50)] = [i, str(i)]
        if i % 3 == 0:
            try:
                shared_list.pop(0)
            except IndexError:  # the other changer cleared it
                pass
            shared_dict.pop("k%d" % ((i * 7) % 50), None)
        if i % 200 == 0:
            shared_list.clear()
            shared_dict.clear()


def test_the_json_encoder_reads_a_list_and_a_dict_other_threads_change():
    """Encoding while two threads append, pop, store and clear: every text
    is valid JSON of some state the containers were in (no crash, no torn
    item)."""
    shared_list, shared_dict = [], {}
    stop = threading.Event()
    problems = []

    def encode():
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            text = _json_dumps({"l": shared_list, "d": shared_dict})
            try:
                doc = json.loads(text)
            except ValueError as e:
                problems.append((str(e), text[:200]))
                return
            if not all(isinstance(x, dict) and set(x) == {"i", "s"} for x in doc["l"]):
                problems.append(("torn list item", text[:200]))
                return

    changers = [threading.Thread(target=change_until, args=(stop, shared_list, shared_dict))
                for _ in range(2)]
    encoders = [threading.Thread(target=encode) for _ in range(2)]
    for t in changers + encoders:
        t.start()
    for t in encoders:
        t.join(60)
    stop.set()
    for t in changers:
        t.join(60)
    assert not problems, problems[:3]


def test_handlers_on_two_io_threads_share_and_return_changing_objects(serve, new_app):
    """Two I/O threads, four clients: one route counts under a lock, one
    changes a shared list and dict without one, one returns them as they
    are. Every answer is right and the count is exact."""
    app = new_app
    lock = threading.Lock()
    counter = [0]
    shared_list, shared_dict = [], {}

    @app.get("/count")
    def count():
        with lock:
            counter[0] += 1
        return "ok"

    @app.get("/change/{n}")
    def change(n: int):
        shared_list.append(n)
        shared_dict[n % 16] = n
        if len(shared_list) > 64:
            del shared_list[:32]
        return {"n": n}

    @app.get("/read")
    def read():
        return {"l": shared_list, "d": shared_dict}

    serve(app, threads=2)
    per_client = 300
    problems = []

    def client(k):
        c = Client(app.port)
        try:
            for i in range(per_client):
                r = c.get("/count")
                if (r.status, r.body) != (200, b"ok"):
                    problems.append(("count", r.status, r.body))
                n = k * 100000 + i
                r = c.get("/change/%d" % n)
                if (r.status, json.loads(r.body)) != (200, {"n": n}):
                    problems.append(("change", r.status, r.body))
                r = c.get("/read")
                doc = json.loads(r.body)
                if r.status != 200 or not all(isinstance(x, int) for x in doc["l"]):
                    problems.append(("read", r.status, r.body[:200]))
        except Exception as e:  # noqa: BLE001
            problems.append(("exception", repr(e)))
        finally:
            c.close()

    clients = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in clients:
        t.start()
    for t in clients:
        t.join(120)
    assert not problems, problems[:5]
    assert counter[0] == 4 * per_client


THREADS_RE = re.compile(r"\(1 worker\(s\), (\d+) I/O thread\(s\) each\)")

# (PYTHON_GIL, the I/O threads a server starts with when --threads is not
# given): one per process while the GIL is on (more would only hand it
# back and forth), one per CPU when it is off.
DEFAULT_THREADS = ([(None, 1)] if not FREE_THREADED
                   else [("0", os.cpu_count() or 1), ("1", 1)])


@pytest.mark.parametrize("gil,expected", DEFAULT_THREADS)
@pytest.mark.parametrize("program", ["python -m turbo", "turbo-serve"])
def test_default_io_threads_follow_the_gil(spawn, request, program, gil, expected):
    if program == "turbo-serve":
        argv = [request.getfixturevalue("turbo_serve"), "pid_app:app", "--port", "0"]
    else:
        argv = python_m_turbo("pid_app:app", "--port", "0")
    env = child_env()
    env.pop("PYTHON_GIL", None)
    if gil is not None:
        env["PYTHON_GIL"] = gil
    s = spawn(argv, env=env)
    _, port = s.wait_url()
    m = THREADS_RE.search("".join(s.output))
    assert m is not None, s.output
    assert int(m.group(1)) == expected
    check_pid_app(port)  # serving: its stop signals are handled from here on
    assert s.stop() == 0, "".join(s.output)
