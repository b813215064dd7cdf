"""Real frameworks from PyPI, unmodified, served by turbo and by their
reference server with the same app file: Flask and Django over WSGI
(gunicorn), FastAPI and Starlette over ASGI (uvicorn). Each exchange of a
corpus must get the same status, the same headers (all but Date, Server
and the framing ones, which the servers choose) and the same body from
both; values that are random by design (CSRF tokens) are masked first.

turbo is started as users start it: `python -m turbo MODULE:APP`, the
interface detected (--interface auto).
"""

import os
import re
import socket
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import APPS_DIR, PACKAGE_ROOT, needs

httpx = needs("httpx")

NOT_COMPARED = {"date", "server", "connection", "content-length", "transfer-encoding",
                "keep-alive"}
MASKS = [
    (re.compile(r"csrftoken=[A-Za-z0-9]+"), "csrftoken=MASKED"),
    (re.compile(r'name="csrfmiddlewaretoken" value="[A-Za-z0-9]+"'),
     'name="csrfmiddlewaretoken" value="MASKED"'),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    # Dates computed from the clock (Expires, a cookie's expiry) differ
    # between the two runs.
    (re.compile(r"[A-Za-z]{3}, \d\d[ -][A-Za-z]{3}[ -]\d{4} \d\d:\d\d:\d\d GMT"), "DATE"),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env():
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join(p for p in (PACKAGE_ROOT, APPS_DIR, e.get("PYTHONPATH")) if p)
    # werkzeug builds Allow from a set: the same order in both servers.
    e["PYTHONHASHSEED"] = "0"
    e["DJANGO_TEST_DB"] = os.path.join(tempfile.gettempdir(), f"turbo-django-{os.getpid()}.db")
    return e


def start(argv, port):
    proc = subprocess.Popen(argv, cwd=APPS_DIR, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{argv} exited: {proc.stdout.read().decode()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{argv} did not listen on {port}")


def stop(proc):
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out.decode(errors="replace")


SERVERS = {
    "turbo": lambda spec, port: [sys.executable, "-m", "turbo", spec, "--port", str(port)],
    "gunicorn": lambda spec, port: [sys.executable, "-m", "gunicorn", "-w", "1", "-b",
                                    f"127.0.0.1:{port}", spec],
    "uvicorn": lambda spec, port: [sys.executable, "-m", "uvicorn", spec, "--port", str(port),
                                   "--lifespan", "on", "--log-level", "warning"],
}


def mask(text):
    for rx, repl in MASKS:
        text = rx.sub(repl, text)
    return text


def record(r):
    """What must be identical: status, headers but the server's own, body."""
    headers = sorted((k.lower(), mask(v)) for k, v in r.headers.multi_items()
                     if k.lower() not in NOT_COMPARED)
    return (r.request.method, str(r.request.url.raw_path, "latin-1"), r.status_code, headers,
            mask(r.content.decode("latin-1")))


def run_corpus(corpus, port):
    out = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", follow_redirects=False,
                      timeout=10) as c:
        for step in corpus:
            out.extend(record(r) for r in step(c))
    return out


def csrf_of(text):
    m = re.search(r'name="csrfmiddlewaretoken" value="([A-Za-z0-9]+)"', text)
    assert m, text[:500]
    return m.group(1)


def django_form_flow(c):
    first = c.get("/form/")
    token = csrf_of(first.text)
    ok = c.post("/form/", data={"name": "Ada", "csrfmiddlewaretoken": token},
                headers={"Referer": str(c.base_url)})
    invalid = c.post("/form/", data={"name": "x" * 30, "csrfmiddlewaretoken": token})
    c.cookies.clear()
    refused = c.post("/form/", data={"name": "Ada"})
    return [first, ok, invalid, refused]


UPLOAD = bytes(range(256)) * 300

CORPORA = {
    "flask": ("flask_app:app", "gunicorn", [
        lambda c: [c.get("/"), c.head("/"), c.get("/nope"), c.post("/")],
        lambda c: [c.get("/json/5?q=a&q=b"), c.get("/json/x")],
        lambda c: [c.post("/form", data={"a": "1", "b": ["2", "3"], "c": "d e&f"})],
        lambda c: [c.post("/upload", files={"file": ("data.bin", UPLOAD)}, data={"note": "hi"})],
        lambda c: [c.get("/stream"), c.get("/teapot")],
        lambda c: [c.get("/cookie"), c.get("/cookie"), c.get("/go")],
        lambda c: [c.put("/methods", content=b"put body"), c.delete("/methods"),
                   c.request("PATCH", "/methods")],
        lambda c: [c.get("/headers", headers={"User-Agent": "corpus/1", "X-Multi": "v"})],
    ]),
    "django": ("django_app:application", "gunicorn", [
        lambda c: [c.get("/"), c.get("/items/42/?q=a&q=b"), c.get("/items/42"),
                   c.get("/nope/")],
        django_form_flow,
        lambda c: [c.get("/admin/"), c.get("/admin/login/?next=/admin/")],
    ]),
    "fastapi": ("fastapi_app:app", "uvicorn", [
        lambda c: [c.get("/"), c.get("/items/5?q=x&limit=3"), c.get("/items/abc"),
                   c.get("/nope"), c.delete("/")],
        lambda c: [c.post("/items", json={"name": "pen", "price": 1.5, "tags": ["a"]}),
                   c.post("/items", json={"name": "pen"}),
                   c.post("/items", content=b"{bad json", headers={"content-type": "application/json"})],
        lambda c: [c.get("/sync"), c.get("/state"), c.get("/missing/3")],
        lambda c: [c.get("/stream"), c.get("/later"), c.get("/wait?ms=20")],
        lambda c: [c.get("/cookie"), c.get("/cookie"), c.get("/go")],
        lambda c: [c.get("/docs"), c.get("/openapi.json")],
    ]),
    "starlette": ("starlette_app:app", "uvicorn", [
        lambda c: [c.get("/"), c.get("/numbers?n=6"), c.get("/teapot"), c.get("/nope")],
        lambda c: [c.post("/echo", content=b"x" * 70000, headers={"content-type": "text/plain"}),
                   c.get("/echo")],
    ]),
}


@pytest.mark.parametrize("framework", sorted(CORPORA))
def test_the_framework_answers_identically_under_turbo_and_its_reference_server(framework):
    spec, reference, corpus = CORPORA[framework]
    needs(framework, reference)
    got = {}
    for server in ("turbo", reference):
        port = free_port()
        proc = start(SERVERS[server](spec, port), port)
        try:
            got[server] = run_corpus(corpus, port)
        finally:
            out = stop(proc)
        if server == "turbo":
            assert "Traceback" not in out, out
    assert len(got["turbo"]) == len(got[reference])
    for mine, theirs in zip(got["turbo"], got[reference]):
        assert mine == theirs
    # Not vacuous: the corpus reached the app's routes.
    assert any(status == 200 for _m, _p, status, _h, _b in got["turbo"])


CLF = re.compile(r'^127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000\] '
                 r'"GET (/|/items/\d+/) HTTP/1\.1" 200 \d+$')


def test_turbo_serve_runs_django_with_workers_reload_and_an_access_log(turbo_serve, tmp_path):
    """turbo-serve (C, embedding CPython) in an activated virtual
    environment: Django's WSGI handler detected, two workers, SIGHUP
    replacing them, SIGTERM stopping, and the access log's lines."""
    import signal

    needs("django")
    log = tmp_path / "access.log"
    port = free_port()
    e = env()
    e["VIRTUAL_ENV"] = sys.prefix  # the venv the tests run in: Django is there
    proc = subprocess.Popen([turbo_serve, "django_app:application", "--port", str(port),
                             "--workers", "2", "--access-log", str(log)],
                            cwd=APPS_DIR, env=e, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
                break
            except httpx.HTTPError:
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
        assert (r.status_code, r.text) == (200, "Hello from Django")
        proc.send_signal(signal.SIGHUP)
        for i in range(20):
            r = httpx.get(f"http://127.0.0.1:{port}/items/{i}/", timeout=5)
            assert r.json()["id"] == i
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "Traceback" not in text, text
    lines = log.read_text().splitlines()
    assert len(lines) == 21, lines
    assert all(CLF.match(line) for line in lines), lines
