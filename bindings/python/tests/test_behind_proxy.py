"""Behind a load balancer: --proxy-protocol and --forwarded-allow-ips on
both command-line servers, and App.run's same settings. What each kind of
app sees as its client (Request.client, WSGI REMOTE_ADDR/REMOTE_PORT,
ASGI scope["client"]) follows the PROXY header, or the trusted proxy's
X-Forwarded-For / Forwarded; real header bytes on real sockets."""

import json
import socket
import struct
import sys

import pytest

from conftest import python_m_turbo

PROGRAMS = ["python -m turbo", "turbo-serve"]

APPS = '''\
import json
from turbo import App, Request

app = App()


@app.get("/client")
def client(req: Request):
    host, port = req.client
    return {"host": host, "port": port}


def wsgi(environ, start_response):
    body = json.dumps({"host": environ["REMOTE_ADDR"],
                       "port": int(environ.get("REMOTE_PORT") or 0)}).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


async def asgi(scope, receive, send):
    if scope["type"] != "http":
        return
    host, port = scope["client"]
    body = json.dumps({"host": host, "port": port}).encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})
'''

SPECS = {"turbo": "proxied_apps:app", "wsgi": "proxied_apps:wsgi", "asgi": "proxied_apps:asgi"}

SIG2 = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2_tcp4(src, sport, dst="10.0.0.1", dport=80):
    return (SIG2 + b"\x21\x11" + struct.pack("!H", 12) + socket.inet_aton(src)
            + socket.inet_aton(dst) + struct.pack("!HH", sport, dport))


def proxy_v2_tcp6(src, sport, dst="2001:db8::1", dport=80):
    tlv = b"\x01\x00\x02h2"  # PP2_TYPE_ALPN, skipped
    return (SIG2 + b"\x21\x21" + struct.pack("!H", 36 + len(tlv))
            + socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst)
            + struct.pack("!HH", sport, dport) + tlv)


def raw_exchange(port, prefix, headers=b""):
    """prefix, then GET /client; the body as JSON, or None when the server
    closed the connection without a byte."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(prefix + b"GET /client HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                  + headers + b"\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data:
        return None
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data
    return json.loads(body)


def start(spawn, tmp_path, turbo_serve, program, kind, *args):
    (tmp_path / "proxied_apps.py").write_text(APPS)
    spec = SPECS[kind]
    argv = ([turbo_serve, spec] if program == "turbo-serve" else python_m_turbo(spec))
    s = spawn(argv + ["--port", "0", *args])
    _, port = s.wait_url()
    return port


@pytest.mark.parametrize("kind", sorted(SPECS))
@pytest.mark.parametrize("program", PROGRAMS)
def test_proxy_protocol_gives_every_app_the_real_client(spawn, tmp_path, turbo_serve, program,
                                                        kind):
    port = start(spawn, tmp_path, turbo_serve, program, kind, "--proxy-protocol")
    assert raw_exchange(port, b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n") == {
        "host": "203.0.113.7", "port": 51234}
    assert raw_exchange(port, proxy_v2_tcp6("2001:db8::7", 443)) == {
        "host": "2001:db8::7", "port": 443}
    # Without a header the connection is closed unanswered, and the
    # server goes on serving.
    assert raw_exchange(port, b"") is None
    assert raw_exchange(port, proxy_v2_tcp4("198.51.100.4", 4000)) == {
        "host": "198.51.100.4", "port": 4000}


@pytest.mark.parametrize("kind", sorted(SPECS))
@pytest.mark.parametrize("program", PROGRAMS)
def test_a_trusted_proxy_names_the_client(spawn, tmp_path, turbo_serve, program, kind):
    port = start(spawn, tmp_path, turbo_serve, program, kind,
                 "--forwarded-allow-ips", "127.0.0.1, ::1")
    xff = b"X-Forwarded-For: 1.1.1.1, 203.0.113.7\r\n"
    assert raw_exchange(port, b"", xff) == {"host": "203.0.113.7", "port": 0}
    # The other header is not the one trusted.
    got = raw_exchange(port, b"", b"Forwarded: for=203.0.113.9\r\n")
    assert got["host"] == "127.0.0.1" and got["port"] != 0


@pytest.mark.parametrize("program", PROGRAMS)
def test_forwarded_header_rfc7239(spawn, tmp_path, turbo_serve, program):
    port = start(spawn, tmp_path, turbo_serve, program, "turbo", "--forwarded-allow-ips", "*",
                 "--forwarded-header", "forwarded")
    assert raw_exchange(port, b"", b'Forwarded: for="[2001:db8::7]:4711";proto=https\r\n') == {
        "host": "2001:db8::7", "port": 4711}


def test_untrusted_peers_are_not_believed(spawn, tmp_path, turbo_serve):
    port = start(spawn, tmp_path, turbo_serve, "python -m turbo", "turbo",
                 "--forwarded-allow-ips", "10.0.0.0/8")
    got = raw_exchange(port, b"", b"X-Forwarded-For: 203.0.113.7\r\n")
    assert got["host"] == "127.0.0.1"


def test_proxy_protocol_with_workers(spawn, tmp_path, turbo_serve):
    port = start(spawn, tmp_path, turbo_serve, "turbo-serve", "turbo", "--proxy-protocol",
                 "--workers", "2")
    for i in range(6):
        assert raw_exchange(port, proxy_v2_tcp4("192.0.2.%d" % (i + 1), 1000 + i)) == {
            "host": "192.0.2.%d" % (i + 1), "port": 1000 + i}


def test_app_run_takes_the_same_settings(spawn, tmp_path):
    (tmp_path / "proxied_apps.py").write_text(APPS)
    (tmp_path / "run_it.py").write_text(
        "from proxied_apps import app\n"
        "app.run(port=0, proxy_protocol=True, forwarded_allow_ips='10.0.0.0/8')\n")
    s = spawn([sys.executable, "run_it.py"])
    _, port = s.wait_url()
    # HAProxy at 10.1.2.3 (its PROXY header says so) is trusted for XFF.
    assert raw_exchange(port, b"PROXY TCP4 10.1.2.3 10.0.0.1 5000 80\r\n",
                        b"X-Forwarded-For: 203.0.113.7\r\n") == {"host": "203.0.113.7", "port": 0}


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_bad_trust_list_is_a_usage_error(spawn, tmp_path, turbo_serve, program):
    (tmp_path / "proxied_apps.py").write_text(APPS)
    argv = ([turbo_serve, "proxied_apps:app"] if program == "turbo-serve"
            else python_m_turbo("proxied_apps:app"))
    s = spawn(argv + ["--port", "0", "--forwarded-allow-ips", "localhost"])
    assert s.proc.wait(30) == 2
    s.reader.join(10)
    out = "".join(s.output)
    assert "forwarded-allow-ips" in out or "forwarded_allow_ips" in out, out


def test_app_settings_are_checked():
    from turbo import App

    app = App()
    with pytest.raises(ValueError, match="forwarded_header"):
        app.configure_serving(forwarded_header="x-real-ip")
    with pytest.raises(TypeError, match="unknown serving option"):
        app.configure_serving(proxy=True)
    app.configure_serving(forwarded_allow_ips="10.0.0.0/33")
    with pytest.raises(ValueError, match="forwarded_allow_ips"):
        app._make_server(threads=1)


def get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


@pytest.mark.parametrize("kind", sorted(SPECS))
@pytest.mark.parametrize("program", PROGRAMS)
def test_health_and_metrics_routes(spawn, tmp_path, turbo_serve, program, kind):
    from prometheus_client.parser import text_string_to_metric_families

    port = start(spawn, tmp_path, turbo_serve, program, kind, "--health-path", "/healthz",
                 "--metrics-path", "/metrics")
    assert get(port, "/healthz")[0::2] == (200, b"ok\n")
    for _ in range(3):
        assert get(port, "/client")[0] == 200
    status, head, body = get(port, "/metrics")
    assert status == 200
    assert b"\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n" in head
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for f in families.values() for s in f.samples}
    assert families["turbo_requests"].type == "counter"
    assert families["turbo_request_duration_seconds"].type == "histogram"
    assert families["turbo_requests_in_flight"].type == "gauge"
    # /healthz and three /client answered; the scrape is not yet.
    assert samples[("turbo_requests_total", (("class", "2xx"),))] == 4
    assert samples[("turbo_requests_total", (("class", "5xx"),))] == 0
    # Per I/O thread (one by default, one per CPU when the GIL is off):
    # together, the same four.
    per_thread = {k: v for k, v in samples.items() if k[0] == "turbo_thread_requests_total"}
    assert ("turbo_thread_requests_total", (("thread", "0"),)) in per_thread
    assert sum(per_thread.values()) == 4
    assert samples[("turbo_requests_in_flight", ())] == 1
    assert samples[("turbo_request_duration_seconds_count", ())] == 4
    assert samples[("turbo_request_duration_seconds_bucket", (("le", "+Inf"),))] == 4
    assert samples[("turbo_connections_accepted_total", ())] == 5
    assert set(families) >= {"turbo_connections_open", "turbo_deferred_in_flight",
                             "turbo_bad_requests", "turbo_handler_errors", "turbo_timeouts",
                             "turbo_connections_refused"}


def test_a_route_at_a_builtin_path_is_refused(spawn, tmp_path):
    (tmp_path / "proxied_apps.py").write_text(APPS)
    s = spawn(python_m_turbo("proxied_apps:app", "--port", "0", "--health-path", "/client"))
    assert s.proc.wait(30) != 0
    s.reader.join(10)
    assert "exists" in "".join(s.output), s.output
