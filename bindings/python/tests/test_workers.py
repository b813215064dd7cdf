"""Supervised workers (turbo/workers.py), under both programs that run
them, `python -m turbo` and `turbo-serve`: a worker that dies is replaced,
with a back-off while they die at start-up; workers stop when their parent
is killed; SIGHUP replaces them one at a time with the code as it is now,
under load, refusing nothing; a reload with broken code keeps the old
workers. And the port: refused when somebody holds it, unless
--reuse-port."""

import json
import os
import re
import signal
import socket
import threading
import time

import pytest

from conftest import (STOP_TIMEOUT, Client, alive, distinct_pids, pids_in_group, ppid_of,
                      python_m_turbo, wait_gone, wait_output)

PROGRAMS = ["python -m turbo", "turbo-serve"]


def argv_for(program, turbo_serve, spec, *args):
    if program == "turbo-serve":
        return [turbo_serve, spec, *args]
    return python_m_turbo(spec, *args)


VERSIONED_APP = '''\
import os
import time
from turbo import App

app = App()


@app.get("/version")
def version():
    return {{"version": {version}, "pid": os.getpid()}}


@app.get("/pid")
def pid():
    return {{"pid": os.getpid()}}


@app.get("/slow")
def slow(secs: float = 0.5):
    time.sleep(secs)
    return {{"slept": secs, "pid": os.getpid()}}
'''


def write_app(directory, version, text=VERSIONED_APP):
    """The app under test, written as a deployment would replace it."""
    path = os.path.join(directory, "versioned_app.py")
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text.format(version=version))
    os.replace(tmp, path)


def get_version(port):
    c = Client(port)
    try:
        r = c.get("/version")
        assert (r.status, r.content_type) == (200, "application/json")
        return json.loads(r.body)
    finally:
        c.close()


def versions_seen(port, n=40):
    return {(v["version"], v["pid"]) for v in (get_version(port) for _ in range(n))}


def start_versioned(spawn, program, turbo_serve, tmp_path, workers):
    write_app(str(tmp_path), 1)
    env_extra = {"PYTHONDONTWRITEBYTECODE": "1"}
    s = spawn(argv_for(program, turbo_serve, "versioned_app:app", "--port", "0",
                       "--workers", str(workers)), env_extra=env_extra)
    _, port = s.wait_url()
    return s, port


# =============================================================================
# a worker that dies is replaced
# =============================================================================

@pytest.mark.parametrize("program", PROGRAMS)
def test_a_killed_worker_is_replaced(spawn, turbo_serve, program):
    s = spawn(argv_for(program, turbo_serve, "pid_app:app", "--port", "0", "--workers", "2"))
    _, port = s.wait_url()
    seen = distinct_pids(port, 2)
    assert len(seen) == 2
    victim, other = sorted(seen)
    os.kill(victim, signal.SIGKILL)
    wait_output(s, re.compile(r": worker %d exited \(killed by SIGKILL\); starting a new one"
                              r"( in [0-9.]+ s)?\n$" % victim))
    # Two workers serve again, one of them new, under the same parent.
    deadline = time.monotonic() + STOP_TIMEOUT
    while True:
        now = distinct_pids(port, 2)
        if len(now) == 2 and victim not in now:
            break
        assert time.monotonic() < deadline, "no replacement served: %r" % now
        time.sleep(0.1)
    assert other in now
    for pid in now:
        assert ppid_of(pid) == s.proc.pid
    assert alive(s.proc.pid)
    assert s.stop() == 0, "".join(s.output)
    assert wait_gone(s.proc.pid, list(now)) == []


@pytest.mark.parametrize("program", PROGRAMS)
def test_workers_that_die_at_start_up_are_restarted_ever_more_slowly(
        spawn, turbo_serve, program, tmp_path):
    """Once the app breaks (here: it exits at import while a file exists),
    each replacement dies at once: the next waits twice as long, so the
    parent does not fork in a loop. Fixed, the next one serves."""
    breaker = tmp_path / "broken"
    (tmp_path / "fragile_app.py").write_text(
        "import os, sys\n"
        "if os.path.exists(%r):\n"
        "    sys.exit(3)\n"
        "from pid_app import app\n" % str(breaker))
    s = spawn(argv_for(program, turbo_serve, "fragile_app:app", "--port", "0", "--workers", "2"))
    _, port = s.wait_url()
    seen = distinct_pids(port, 2)
    breaker.write_text("")
    victim = min(seen)
    os.kill(victim, signal.SIGKILL)
    wait_output(s, re.compile(r": worker %d exited \(killed by SIGKILL\)" % victim))
    # The first replacement dies at start-up, and so does each after it.
    delays = []
    pattern = re.compile(r"worker \d+ exited \(status 3\); starting a new one in ([0-9.]+) s\n")
    while len(delays) < 3:
        delays.append(float(pattern.search(wait_output(s, pattern)).group(1)))
    # (0.1 s first, or 0.2 when the killed worker had served for less
    # than a second: that was a death at start-up too.)
    assert delays[0] in (0.1, 0.2) and delays[1:] == [delays[0] * 2, delays[0] * 4], delays
    breaker.unlink()
    deadline = time.monotonic() + STOP_TIMEOUT
    while len(distinct_pids(port, 2)) < 2:
        assert time.monotonic() < deadline, "".join(s.output)
        time.sleep(0.1)
    assert s.stop() == 0, "".join(s.output)


@pytest.mark.parametrize("program", PROGRAMS)
def test_workers_stop_when_their_parent_is_killed(spawn, turbo_serve, program):
    s = spawn(argv_for(program, turbo_serve, "pid_app:app", "--port", "0", "--workers", "2"))
    _, port = s.wait_url()
    seen = distinct_pids(port, 2)
    assert len(seen) == 2
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait(STOP_TIMEOUT)
    assert wait_gone(s.proc.pid, list(seen)) == []
    # Nobody serves the port any more.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_first_workers_failing_is_an_error(tmp_path, spawn, turbo_serve, program):
    s = spawn(argv_for(program, turbo_serve, "no_such_module_xyz:app", "--port", "0",
                       "--workers", "2"))
    assert s.proc.wait(STOP_TIMEOUT) == 2, "".join(s.output)
    out = "".join(s.output)
    assert "cannot load no_such_module_xyz:app" in out, out
    assert "before it served; stopping" in out, out
    assert "http://" not in out
    assert pids_in_group(s.proc.pid) == []


# =============================================================================
# SIGHUP: a rolling reload
# =============================================================================

class Load:
    """Threads sending GET /version, each on a new connection, until
    stopped; every failure is kept."""

    def __init__(self, port, threads=4):
        self.port = port
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failures = []
        self.versions = []
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        while not self.stop_flag.is_set():
            try:
                v = get_version(self.port)
            except Exception as e:  # noqa: BLE001 - every failure counts
                with self.lock:
                    self.failures.append(repr(e))
                continue
            with self.lock:
                self.ok += 1
                self.versions.append(v["version"])

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30)


@pytest.mark.parametrize("program", PROGRAMS)
def test_sighup_replaces_the_workers_with_new_code_refusing_nothing(
        spawn, turbo_serve, program, tmp_path):
    s, port = start_versioned(spawn, program, turbo_serve, tmp_path, 4)
    old = distinct_pids(port, 4)
    assert len(old) == 4
    parent = s.proc.pid
    load = Load(port)
    try:
        time.sleep(0.3)
        write_app(str(tmp_path), 2)
        s.proc.send_signal(signal.SIGHUP)
        wait_output(s, "reloading: replacing 4 worker(s) one at a time\n")
        wait_output(s, "reload done\n", timeout=60)
        time.sleep(0.3)
    finally:
        load.stop()
    assert load.failures == [], load.failures[:5]
    assert load.ok > 50, load.ok
    assert load.versions[0] == 1 and load.versions[-1] == 2
    # Once the old workers have answered what they had and exited, only
    # new workers with the new code answer.
    assert wait_gone(-1, list(old)) == []
    after = versions_seen(port)
    assert {v for v, _ in after} == {2}, after
    new = distinct_pids(port, 4)
    assert len(new) == 4 and not (new & old), (old, new)
    assert all(ppid_of(p) == parent for p in new)
    assert s.stop() == 0, "".join(s.output)


@pytest.mark.parametrize("program", PROGRAMS)
def test_a_reload_with_broken_code_keeps_the_old_workers(spawn, turbo_serve, program, tmp_path):
    s, port = start_versioned(spawn, program, turbo_serve, tmp_path, 2)
    old = distinct_pids(port, 2)
    write_app(str(tmp_path), 2, text="this is not python {version}\n")
    s.proc.send_signal(signal.SIGHUP)
    wait_output(s, re.compile(r"reload failed: the new worker \d+ exited \(status 2\) before it "
                              r"served; the 2 old worker\(s\) go on serving\n"))
    assert versions_seen(port) <= {(1, p) for p in old}
    assert distinct_pids(port, 2) == old
    # Fixed, the next SIGHUP goes through.
    write_app(str(tmp_path), 3)
    s.proc.send_signal(signal.SIGHUP)
    wait_output(s, "reload done\n", timeout=60)
    assert wait_gone(-1, list(old)) == []
    assert {v for v, _ in versions_seen(port)} == {3}
    assert s.stop() == 0, "".join(s.output)


# =============================================================================
# a port somebody holds
# =============================================================================

def held_port():
    """A listening socket with SO_REUSEPORT on 127.0.0.1 (an old instance
    of the server, say), and its port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock, sock.getsockname()[1]


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("program", PROGRAMS)
def test_a_held_port_is_refused(spawn, turbo_serve, program, workers):
    sock, port = held_port()
    try:
        s = spawn(argv_for(program, turbo_serve, "pid_app:app", "--port", str(port),
                           "--workers", workers))
        assert s.proc.wait(STOP_TIMEOUT) == 1, "".join(s.output)
        out = "".join(s.output)
        prog = "turbo-serve" if program == "turbo-serve" else "python -m turbo"
        assert ("%s: cannot listen on 127.0.0.1:%d: Address already in use (another process "
                "holds the port; --reuse-port shares it)\n" % (prog, port)) in out, out
        assert "serving" not in out
    finally:
        sock.close()


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize("program", PROGRAMS)
def test_reuse_port_shares_a_held_port(spawn, turbo_serve, program, workers):
    sock, port = held_port()
    try:
        s = spawn(argv_for(program, turbo_serve, "pid_app:app", "--port", str(port),
                           "--workers", workers, "--reuse-port"))
        _, served = s.wait_url()
        assert served == port
        # The kernel splits connections between the two sockets: some reach
        # the server (the others wait in the holder's queue, unanswered).
        answered = 0
        for _ in range(40):
            try:
                c = Client(port, timeout=0.5)
            except OSError:  # the holder's queue is full
                continue
            try:
                if c.get("/pid").status == 200:
                    answered += 1
            except OSError:
                pass
            finally:
                c.close()
        assert answered > 0
        assert s.stop() == 0, "".join(s.output)
    finally:
        sock.close()
