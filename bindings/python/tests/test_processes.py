"""Serving from other processes: `python -m turbo module:app`, the C program
`turbo-serve module:app` (path in $TURBO_SERVE), workers sharing the port,
graceful stop on SIGTERM/SIGINT, and refused command lines. The workers'
supervision (replacement, reload, parent death): test_workers.py."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import (REPO_ROOT, STOP_TIMEOUT, Client, alive, check_pid_app, child_env, distinct_pids,
                      dumps, err, pids_in_group, ppid_of, python_m_turbo, wait_gone, wait_until)

# =============================================================================
# python -m turbo
# =============================================================================

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_python_m_turbo_serves_and_stops(spawn, sig):
    s = spawn(python_m_turbo("pid_app:app", "--host", "127.0.0.1", "--port", "0"))
    host, port = s.wait_url()
    assert host == "127.0.0.1" and port > 0
    pid = check_pid_app(port)
    assert pid == s.proc.pid                 # one worker: the process itself serves
    assert s.stop(sig) == 0, "".join(s.output)
    assert "Traceback" not in "".join(s.output)


def test_python_m_turbo_module_attribute_and_threads(spawn):
    s = spawn(python_m_turbo("other_app:api", "--port", "0", "--threads", "2"))
    _, port = s.wait_url()
    c = Client(port)
    r = c.request("POST", "/echo/t1?n=4", body=b"payload", headers={"Content-Type": "text/x-y"})
    assert (r.status, r.content_type, r.body) == (
        200, "application/json",
        dumps({"tag": "t1", "body": "payload", "ct": "text/x-y", "n": 4}))
    assert r.header("Server") == "other-app"
    assert_app_limits_apply(port)
    c.close()
    assert s.stop() == 0, "".join(s.output)


def assert_app_limits_apply(port):
    """other_app's App(max_body_bytes=64): 64 bytes pass, 65 are a 413."""
    c = Client(port)
    r = c.request("POST", "/echo/x", body=b"a" * 64)
    assert (r.status, json.loads(r.body)["body"]) == (200, "a" * 64)
    r = c.request("POST", "/echo/x", body=b"a" * 65)
    assert (r.status, r.body) == (413, b"Content Too Large\n")
    c.close()


def listening_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def test_python_m_turbo_serves_an_inherited_fd(spawn):
    sock = listening_socket()
    fd, port = sock.fileno(), sock.getsockname()[1]
    s = spawn(python_m_turbo("pid_app:app", "--fd", str(fd)), pass_fds=(fd,))
    check_pid_app(port)  # the kernel queues the connection until it serves
    assert s.stop() == 0, "".join(s.output)
    assert "turbo: serving on inherited fd %d (1 worker(s)" % fd in "".join(s.output)
    sock.close()


def test_python_m_turbo_under_socket_activation(spawn):
    """The sd_listen_fds protocol as systemd follows it: the socket at fd 3,
    LISTEN_PID = the server's PID (sh sets it, then execs Python)."""
    sock = listening_socket()
    port = sock.getsockname()[1]
    env = child_env()
    env["LISTEN_FDNAMES"] = "web"
    argv = ["/bin/sh", "-c", 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@"', "sh",
            *python_m_turbo("pid_app:app", "--workers", "2")]
    s = spawn(argv, env=env, pass_fds=(3,), preexec_fn=lambda: os.dup2(sock.fileno(), 3))
    check_pid_app(port)
    seen = distinct_pids(port, 2)
    assert len(seen) == 2 and s.proc.pid not in seen, seen  # the workers, forked
    c = Client(port)
    r = c.get("/env")
    assert (r.status, r.body) == (200, b"[]")  # no LISTEN_* left for the app
    c.close()
    assert s.stop() == 0, "".join(s.output)
    assert "turbo: serving on inherited fd 3 (2 worker(s)" in "".join(s.output)
    sock.close()


@pytest.mark.parametrize("args,message", [
    (["--fd", "5", "--port", "80"], "--fd cannot be combined with --host or --port"),
    (["--fd", "0"], "python -m turbo: fd 0: not a socket"),
])
def test_python_m_turbo_refuses_a_bad_fd(tmp_path, args, message):
    p = subprocess.run(python_m_turbo("pid_app:app", *args), cwd=str(tmp_path), env=child_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert message in p.stderr.decode(), p.stderr
    assert b"serving" not in p.stdout


def turbo_h_version():
    """MAJOR.MINOR.PATCH from include/turbo/turbo.h, where it is written once."""
    with open(os.path.join(REPO_ROOT, "include", "turbo", "turbo.h")) as f:
        h = f.read()
    return ".".join(re.search(rf"#define TURBO_VERSION_{part} (\d+)", h).group(1)
                    for part in ("MAJOR", "MINOR", "PATCH"))


def run_cli(argv, tmp_path):
    return subprocess.run(argv, cwd=str(tmp_path), env=child_env(), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=20)


def test_python_m_turbo_version_is_turbo_h_version(tmp_path):
    p = run_cli(python_m_turbo("--version"), tmp_path)
    assert (p.returncode, p.stdout, p.stderr) == (0, f"python -m turbo {turbo_h_version()}\n", "")


def test_the_console_script_names_itself_turbo(tmp_path):
    # What pip writes for the console script `turbo`: a file named turbo
    # that calls turbo.__main__:main.
    script = tmp_path / "turbo"
    script.write_text("import sys\nfrom turbo.__main__ import main\nsys.exit(main())\n")
    p = run_cli([sys.executable, str(script), "--version"], tmp_path)
    assert (p.returncode, p.stdout) == (0, f"turbo {turbo_h_version()}\n")
    p = run_cli([sys.executable, str(script), "nocolon"], tmp_path)
    assert (p.returncode, p.stderr) == (2, "turbo: cannot load nocolon: expected MODULE:APP\n")


@pytest.mark.parametrize("level,shown", [
    (None, ["WARNING"]),              # unconfigured: Python's last resort, warnings up
    ("info", ["INFO", "WARNING"]),
    ("error", []),
])
def test_log_level_sets_the_turbo_loggers_level(tmp_path, level, shown):
    # The app module logs while it is imported, then the app is not found.
    (tmp_path / "logging_app.py").write_text(
        "import logging\n"
        "log = logging.getLogger('turbo.app')\n"
        "log.debug('at DEBUG')\nlog.info('at INFO')\nlog.warning('at WARNING')\n")
    argv = python_m_turbo("logging_app:missing") + (["--log-level", level] if level else [])
    p = run_cli(argv, tmp_path)
    assert p.returncode == 2, p.stderr
    assert [lv for lv in ("DEBUG", "INFO", "WARNING") if f"at {lv}" in p.stderr] == shown, p.stderr
    if level == "info":  # the handler --log-level adds: level and logger's name
        assert "INFO turbo.app: at INFO\n" in p.stderr, p.stderr


def test_log_level_refuses_an_unknown_level(tmp_path):
    p = run_cli(python_m_turbo("pid_app:app", "--log-level", "verbose"), tmp_path)
    assert p.returncode == 2
    assert "argument --log-level: invalid choice: 'verbose'" in p.stderr, p.stderr


def test_python_m_turbo_workers(spawn):
    s = spawn(python_m_turbo("pid_app:app", "--port", "0", "--workers", "2"))
    _, port = s.wait_url()
    check_pid_app(port)
    seen = distinct_pids(port, 2)
    assert len(seen) == 2, "only PIDs %r answered over 300 fresh connections" % seen
    assert_workers_then_stop(s, seen)


def assert_workers_then_stop(s, seen):
    parent = s.proc.pid
    for pid in seen:
        assert pid != parent
        assert ppid_of(pid) == parent, "PID %d is not a child of the server %d" % (pid, parent)
    group = set(pids_in_group(parent))
    assert seen <= group and parent in group
    assert s.stop(signal.SIGTERM) == 0, "".join(s.output)
    left = None
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        left = [p for p in seen if alive(p)] + pids_in_group(parent)
        if not left:
            break
        time.sleep(0.05)
    assert not left, "processes left after SIGTERM: %r" % left
    assert "Traceback" not in "".join(s.output), "".join(s.output)


@pytest.mark.parametrize("args,needle", [
    (["pid_app:app", "--bogus"], "--bogus"),
    (["pid_app:app", "--port", "abc"], "abc"),
    (["pid_app:app", "--port", "70000"], "--port"),
    (["pid_app:app", "--workers", "0"], "--workers"),
    (["pid_app:app", "--threads", "x"], "x"),
    (["pid_app:app", "--port"], "--port"),
    (["pid_app:app", "--reload", "--workers", "2"], "--reload is for development"),
    (["pid_app:app", "--interface", "grpc"], "--interface"),
    (["pid_app:app", "--root-path", "api/"], "--root-path"),
    ([], "usage"),
])
def test_python_m_turbo_bad_flags(tmp_path, args, needle):
    p = subprocess.run(python_m_turbo(*args), cwd=str(tmp_path), env=child_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    err = p.stderr.decode()
    assert p.returncode == 2, (p.returncode, p.stdout, err)
    assert needle in err, err
    assert "Traceback" not in err
    assert b"http://" not in p.stdout


def test_python_m_turbo_bad_app(tmp_path):
    for spec in ("no_such_module_xyz:app", "pid_app:no_such_attr", "pid_app"):
        p = subprocess.run(python_m_turbo(spec, "--port", "0"), cwd=str(tmp_path),
                           env=child_env(), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20)
        err = p.stderr.decode()
        assert p.returncode != 0, (spec, p.stdout, err)
        assert spec.split(":")[-1] in err or "MODULE:APP" in err, (spec, err)
        assert b"http://" not in p.stdout


# =============================================================================
# turbo-serve
# =============================================================================

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_turbo_serve_serves_and_stops(spawn, turbo_serve, sig):
    s = spawn([turbo_serve, "pid_app:app", "--host", "127.0.0.1", "--port", "0"])
    host, port = s.wait_url()
    assert host == "127.0.0.1" and port > 0
    pid = check_pid_app(port)
    assert pid == s.proc.pid
    assert s.stop(sig) == 0, "".join(s.output)
    assert "Traceback" not in "".join(s.output)


def test_turbo_serve_module_attribute_and_threads(spawn, turbo_serve):
    s = spawn([turbo_serve, "other_app:api", "--port", "0", "--threads", "2"])
    _, port = s.wait_url()
    clients = [Client(port) for _ in range(4)]
    for i in range(20):
        for k, c in enumerate(clients):
            r = c.request("POST", "/echo/%d" % k, body=b"b%d" % i,
                          headers={"Content-Type": "text/x-y"})
            assert (r.status, r.content_type, r.body) == (
                200, "application/json",
                dumps({"tag": str(k), "body": "b%d" % i, "ct": "text/x-y", "n": 0}))
    for c in clients:
        c.close()
    # The App's configuration, not the library's defaults.
    c = Client(port)
    assert c.request("POST", "/echo/s", body=b"x").header("Server") == "other-app"
    c.close()
    assert_app_limits_apply(port)
    assert s.stop() == 0, "".join(s.output)


@pytest.mark.parametrize("program", ["turbo-serve", "python -m turbo"])
def test_stopping_workers_leave_the_port_to_the_next_server(spawn, turbo_serve, program):
    """A rolling restart on one port (both with --reuse-port): the old
    workers are told to stop while one of them is still in a slow request,
    and a new server already shares the port. No new connection may be
    lost: the parent closes its copy of the socket as it stops, and each
    worker drains and closes its own (the kernel would queue connections
    on a socket left open for nobody)."""
    if program == "turbo-serve":
        argv = [turbo_serve, "pid_app:app", "--port", "0", "--workers", "2", "--reuse-port"]
    else:
        argv = python_m_turbo("pid_app:app", "--port", "0", "--workers", "2", "--reuse-port")
    old = spawn(argv)
    _, port = old.wait_url()
    new = spawn(python_m_turbo("pid_app:app", "--port", str(port), "--reuse-port"))
    new.wait_url()
    busy = None
    for _ in range(100):  # a connection the old workers serve
        c = Client(port)
        r = c.get("/pid")
        if json.loads(r.body)["pid"] != new.proc.pid:
            c.conn.request("GET", "/slow?secs=1.5")
            busy = c
            break
        c.close()
    assert busy is not None, "no connection reached the old workers"
    time.sleep(0.2)  # the slow request is in its handler
    old.proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    answered = 0
    for _ in range(100):
        c = Client(port)
        r = c.get("/pid")
        assert r.status == 200
        answered += 1
        c.close()
    assert answered == 100
    r = busy.conn.getresponse()
    assert r.status == 200 and json.loads(r.read())["slept"] == 1.5
    busy.close()
    assert old.proc.wait(STOP_TIMEOUT) == 0, "".join(old.output)
    assert new.stop() == 0, "".join(new.output)


def test_turbo_serve_workers(spawn, turbo_serve):
    s = spawn([turbo_serve, "pid_app:app", "--port", "0", "--workers", "2"])
    _, port = s.wait_url()
    check_pid_app(port)
    seen = distinct_pids(port, 2)
    assert len(seen) == 2, "only PIDs %r answered over 300 fresh connections" % seen
    assert_workers_then_stop(s, seen)


@pytest.mark.parametrize("args,needle", [
    (["pid_app:app", "--bogus"], "--bogus"),
    (["pid_app:app", "--port", "abc"], "--port"),
    (["pid_app:app", "--port", "70000"], "--port"),
    (["pid_app:app", "--workers", "0"], "--workers"),
    (["pid_app:app", "--threads", "x"], "--threads"),
    (["pid_app:app", "--port"], "port"),
    ([], "usage"),
])
def test_turbo_serve_bad_flags(tmp_path, turbo_serve, args, needle):
    p = subprocess.run([turbo_serve, *args], cwd=str(tmp_path), env=child_env(),
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    err = p.stderr.decode()
    assert p.returncode == 2, (p.returncode, p.stdout, err)
    assert needle in err, err
    assert b"http://" not in p.stdout


def test_turbo_serve_bad_app(tmp_path, turbo_serve):
    for spec in ("no_such_module_xyz:app", "pid_app:no_such_attr", "pid_app"):
        p = subprocess.run([turbo_serve, spec, "--port", "0"], cwd=str(tmp_path),
                           env=child_env(), stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=20)
        err = p.stderr.decode()
        assert p.returncode != 0, (spec, p.stdout, err)
        assert spec.split(":")[-1] in err or "MODULE:APP" in err, (spec, err)
        assert b"http://" not in p.stdout


# =============================================================================
# graceful stop with a request in flight; a worker that dies
# =============================================================================

def in_flight_then_stop(s, port, sig):
    """Starts GET /slow, sends sig while the handler sleeps: the request must
    still be answered in full and the server exit with status 0."""
    result = {}

    def call():
        c = Client(port, timeout=20)
        try:
            result["reply"] = c.get("/slow?secs=1.0")
        except Exception as e:  # noqa: BLE001
            result["error"] = repr(e)
        finally:
            c.close()

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.4)                       # the handler is sleeping now
    rc = s.stop(sig)
    t.join(20)
    assert "error" not in result, (result, "".join(s.output))
    r = result["reply"]
    assert (r.status, r.content_type) == (200, "application/json")
    assert json.loads(r.body)["slept"] == 1.0
    assert rc == 0, "".join(s.output)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_python_m_turbo_graceful_stop_in_flight(spawn, workers):
    s = spawn(python_m_turbo("pid_app:app", "--port", "0", "--workers", workers))
    _, port = s.wait_url()
    in_flight_then_stop(s, port, signal.SIGTERM)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_turbo_serve_graceful_stop_in_flight(spawn, turbo_serve, workers):
    s = spawn([turbo_serve, "pid_app:app", "--port", "0", "--workers", workers])
    _, port = s.wait_url()
    in_flight_then_stop(s, port, signal.SIGTERM)


def test_python_m_turbo_workers_stop_on_sigint(spawn):
    workers_stop_on_sigint(spawn, python_m_turbo("pid_app:app", "--port", "0", "--workers", "2"))


def test_turbo_serve_workers_stop_on_sigint(spawn, turbo_serve):
    workers_stop_on_sigint(spawn, [turbo_serve, "pid_app:app", "--port", "0", "--workers", "2"])


def workers_stop_on_sigint(spawn, argv):
    s = spawn(argv)
    _, port = s.wait_url()
    seen = distinct_pids(port, 2)
    assert len(seen) == 2
    assert s.stop(signal.SIGINT) == 0, "".join(s.output)
    assert wait_gone(s.proc.pid, list(seen)) == []


def test_reload_serves_the_new_code_after_a_change(tmp_path):
    """--reload: the code is served as it is on disk after each change; a
    change that breaks the import is waited out; SIGTERM stops it all."""
    app = tmp_path / "reload_app.py"
    version = ["v1"]

    def write(text):
        app.write_text("from turbo import App\napp = App()\n"
                       "@app.get('/v')\ndef v():\n    return %r\n" % text)
        st = os.stat(app)  # a new mtime even within the clock's granularity
        os.utime(app, (st.st_atime, st.st_mtime + len(version)))
        version.append(text)

    write("v1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(python_m_turbo("reload_app:app", "--port", str(port), "--reload"),
                            cwd=str(tmp_path), env=child_env(), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def body():
        try:
            c = Client(port, timeout=2)
            try:
                return c.get("/v").body
            finally:
                c.close()
        except OSError:
            return None

    try:
        assert wait_until(lambda: body() == b"v1", timeout=20)
        write("v2")
        assert wait_until(lambda: body() == b"v2", timeout=20)
        app.write_text("this is not python\n")
        os.utime(app, (time.time(), time.time() + 100))
        assert wait_until(lambda: body() is None, timeout=20)  # the child could not start
        write("v3")
        assert wait_until(lambda: body() == b"v3", timeout=20)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text
    assert "reload_app.py changed; restarting" in text, text
    assert body() is None  # nothing serves the port any more


# =============================================================================
# SIGTERM as soon as the "serving on" line is read
# =============================================================================

@pytest.mark.parametrize("program, workers", [("python", "1"), ("python", "2"),
                                              ("turbo-serve", "1"), ("turbo-serve", "2")])
def test_sigterm_right_after_the_serving_line_stops_gracefully(spawn, turbo_serve, program,
                                                                workers):
    # The line is printed only once SIGTERM stops the server gracefully:
    # sent the moment it is read, the exit is 0, never death by signal (-15).
    argv = ["pid_app:app", "--host", "127.0.0.1", "--port", "0", "--workers", workers]
    argv = python_m_turbo(*argv) if program == "python" else [turbo_serve, *argv]
    for _ in range(5):
        s = spawn(argv)
        s.wait_url()
        assert s.stop(signal.SIGTERM) == 0, "".join(s.output)
        assert "Traceback" not in "".join(s.output)
