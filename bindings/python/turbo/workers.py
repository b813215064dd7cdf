"""Worker processes: one listening socket, N processes serving it, and a
parent that only supervises them.

The parent binds (or adopts an inherited socket), forks the workers and
keeps the socket for as long as it serves, so that it can start more:

- a worker that dies is replaced (exponential back-off while workers die
  as they start, so a broken app does not fork in a loop);
- SIGHUP replaces the workers one at a time: a new worker is started,
  and only once it serves is one old worker told to stop (it stops
  accepting, answers what it has, exits). A worker loads the app itself,
  after the fork, so with ``python -m turbo`` and ``turbo-serve`` the new
  workers run the code as it is on disk now. A new worker that fails
  before it serves ends the reload, and the old workers go on serving;
- SIGTERM/SIGINT stop everything gracefully: the parent closes its copy
  of the socket, then tells every worker to stop;
- a worker whose parent dies (``kill -9``, OOM) stops too:
  PR_SET_PDEATHSIG, plus a check of the parent's PID right after the fork
  for a parent that died before that was set.

A worker tells the parent it serves by writing one byte to a pipe; its
exit status says why it ended: 0 stopped, 2 the app could not be loaded,
1 anything else.
"""

from __future__ import annotations

import os
import selectors
import signal
import socket
import sys
import time
import traceback

from . import _turbo

# A worker that dies before it serves, or within this many seconds of it,
# died "at start-up": the next one waits, twice as long each time.
EARLY_DEATH_S = 1.0
BACKOFF_FIRST_S = 0.1
BACKOFF_MAX_S = 30.0

EXIT_LOAD_FAILED = 2
_READY = b"r"
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
_HANDLED = (*_STOP_SIGNALS, signal.SIGHUP, signal.SIGCHLD)


def bind(host, port, reuse_port, backlog=1024):
    """The workers' listening socket on host:port: SO_REUSEADDR and
    SO_REUSEPORT, as libturbo binds. Unless reuse_port, a port that another
    socket already holds is refused (OSError EADDRINUSE), as
    turbo_config_set_exclusive_port() does: a probe without SO_REUSEPORT
    must be able to bind it first."""
    family = socket.AF_UNSPEC if host else socket.AF_INET
    infos = socket.getaddrinfo(host or None, port, family, socket.SOCK_STREAM, 0,
                               socket.AI_PASSIVE | socket.AI_ADDRCONFIG)
    error = None
    for fam, kind, proto, _, addr in infos:
        if fam not in (socket.AF_INET, socket.AF_INET6):
            continue
        try:
            if port != 0 and not reuse_port:
                with socket.socket(fam, kind, proto) as probe:
                    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    probe.bind(addr)
            sock = socket.socket(fam, kind, proto)
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                sock.bind(addr)
                sock.listen(backlog)
            except OSError:
                sock.close()
                raise
            return sock
        except OSError as e:
            error = e
    raise error if error is not None else OSError(f"no address to bind for {host!r}")


class _Worker:
    __slots__ = ("pid", "ready_fd", "ready_at", "retiring")

    def __init__(self, pid, ready_fd):
        self.pid = pid
        self.ready_fd = ready_fd
        self.ready_at = None
        self.retiring = False


def _exit_text(status):
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        return f"killed by {name}"
    return f"status {code}"


def _serve_worker(load_app, fd, threads, ready_w, parent):
    """The worker's whole life, in the forked child: never returns. The
    parent forked it with the signals it handles blocked, so that none
    reaches the parent's handlers, copied into this process, in between."""
    code = 1
    try:
        _turbo.set_parent_death_signal(signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before that was set
            os._exit(0)
        signal.set_wakeup_fd(-1)
        for s in (*_STOP_SIGNALS, signal.SIGCHLD):
            signal.signal(s, signal.SIG_DFL)
        # A reload is the parent's business (and a terminal's hang-up,
        # sent to the whole process group, must not end the workers).
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        # SIGTERM/SIGINT stay blocked (one sent since the fork is pending,
        # not lost): the I/O threads inherit the mask and never take
        # them; sigwait() below does.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGHUP, signal.SIGCHLD})
        try:
            app = load_app()
        except LoadError as e:
            print(e, file=sys.stderr)
            code = EXIT_LOAD_FAILED
            return
        except SystemExit as e:  # the app's own sys.exit() at import: its status
            traceback.print_exc()
            code = e.code if isinstance(e.code, int) else 1
            return
        except BaseException:  # noqa: BLE001 - an error the app raised
            traceback.print_exc()
            code = EXIT_LOAD_FAILED
            return
        server = app._make_server(threads)
        server.adopt_fd(fd)
        app._attach(server)
        app._startup_or_close(server)
        server.start()
        os.write(ready_w, _READY)
        os.close(ready_w)
        signal.sigwait(set(_STOP_SIGNALS))
        app.stop()
        code = 0
    except BaseException:  # noqa: BLE001
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


class Supervisor:
    """Runs `workers` processes that serve fd (a listening socket) with
    load_app()'s App, until SIGTERM/SIGINT. say(text) reports."""

    def __init__(self, load_app, fd, workers, threads, say):
        self.load_app = load_app
        self.fd = fd
        self.want = workers
        self.threads = threads
        self.say = say
        self.workers = {}  # pid -> _Worker
        self.sel = selectors.DefaultSelector()
        self.stopping = False
        self.status = 0
        self.ever_ready = False
        self.failures = 0  # workers in a row that died at start-up
        self.respawn_at = []  # monotonic times at which to start a worker
        self.reload_old = []  # pids still to be replaced by the reload
        self.reload_new = None  # the worker started for the current step
        self.reload_again = False
        self.flags = set()
        self.wake = (-1, -1)

    # -- processes

    def _spawn(self):
        r, w = os.pipe()
        parent = os.getpid()
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _HANDLED)
        pid = os.fork()
        if pid == 0:
            os.close(r)
            self.sel.close()
            os.close(self.wake[0])
            os.close(self.wake[1])
            for other in self.workers.values():
                if other.ready_fd is not None:
                    os.close(other.ready_fd)
            _serve_worker(self.load_app, self.fd, self.threads, w, parent)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(w)
        worker = _Worker(pid, r)
        self.workers[pid] = worker
        self.sel.register(r, selectors.EVENT_READ, worker)
        return worker

    def _forget_pipe(self, worker):
        if worker.ready_fd is not None:
            self.sel.unregister(worker.ready_fd)
            os.close(worker.ready_fd)
            worker.ready_fd = None

    def _on_ready(self, worker):
        data = os.read(worker.ready_fd, 16)
        self._forget_pipe(worker)
        if data != _READY:
            return  # it closed the pipe without serving: its exit says why
        worker.ready_at = time.monotonic()
        self.ever_ready = True
        if worker is self.reload_new:
            self._reload_step_done()

    def _on_exit(self, pid, status):
        worker = self.workers.pop(pid, None)
        if worker is None:
            return
        self._forget_pipe(worker)
        if self.stopping or worker.retiring:
            return
        how = _exit_text(status)
        if worker is self.reload_new:
            self.reload_new = None
            self.reload_old = []
            self.reload_again = False
            self.say(f"reload failed: the new worker {pid} exited ({how}) before it served; "
                     f"the {len(self.workers)} old worker(s) go on serving")
            return
        if not self.ever_ready:
            self.say(f"worker {pid} exited ({how}) before it served; stopping")
            code = os.waitstatus_to_exitcode(status)
            self.status = EXIT_LOAD_FAILED if code == EXIT_LOAD_FAILED else 1
            self._begin_stop()
            return
        if pid in self.reload_old:
            self.reload_old.remove(pid)
        now = time.monotonic()
        early = worker.ready_at is None or now - worker.ready_at < EARLY_DEATH_S
        if early:
            self.failures += 1
            delay = min(BACKOFF_FIRST_S * 2 ** (self.failures - 1), BACKOFF_MAX_S)
        else:
            self.failures = 0
            delay = 0.0
        later = f" in {delay:.1f} s" if delay else ""
        self.say(f"worker {pid} exited ({how}); starting a new one{later}")
        self.respawn_at.append(now + delay)

    def _reap(self):
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self._on_exit(pid, status)

    # -- reload and stop

    def _begin_reload(self):
        if self.stopping:
            return
        if self.reload_old or self.reload_new is not None:
            self.reload_again = True
            return
        self.reload_old = [p for p, w in self.workers.items() if not w.retiring]
        self.say(f"reloading: replacing {len(self.reload_old)} worker(s) one at a time")
        self._reload_next()

    def _reload_next(self):
        if self.stopping:
            # A new worker's readiness read after SIGTERM: no next step
            # (the socket is closed; a worker started now could not serve).
            return
        if self.reload_old:
            self.reload_new = self._spawn()
            return
        self.say("reload done")
        if self.reload_again:
            self.reload_again = False
            self._begin_reload()

    def _reload_step_done(self):
        self.reload_new = None
        old = self.workers.get(self.reload_old.pop(0)) if self.reload_old else None
        if old is not None:
            old.retiring = True
            os.kill(old.pid, signal.SIGTERM)
        self._reload_next()

    def _begin_stop(self):
        if self.stopping:
            return
        self.stopping = True
        self.respawn_at = []
        # The parent's copy first: once every worker has closed its own,
        # the socket is gone and the kernel stops queueing on it (another
        # server sharing the port with SO_REUSEPORT takes the traffic).
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        for pid in self.workers:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    # -- the loop

    def _on_signal(self, signum, frame):
        self.flags.add(signum)

    def run(self, on_serving):
        """Serves until stopped; returns the exit status (0 stopped by a
        signal; 2 the app could not be loaded; 1 a worker failed before
        any served). on_serving() is called once every first worker serves."""
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.wake = (wake_r, wake_w)
        old = {s: signal.signal(s, self._on_signal) for s in _HANDLED}
        old_wakeup = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.sel.register(wake_r, selectors.EVENT_READ, None)
        announced = False
        try:
            for _ in range(self.want):
                self._spawn()
            while self.workers or (self.respawn_at and not self.stopping):
                timeout = None
                if self.respawn_at:
                    timeout = max(0.0, min(self.respawn_at) - time.monotonic())
                for key, _ in self.sel.select(timeout):
                    if key.data is None:
                        while True:
                            try:
                                if not os.read(wake_r, 512):
                                    break
                            except BlockingIOError:
                                break
                    else:
                        self._on_ready(key.data)
                self._reap()
                flags, self.flags = self.flags, set()
                if flags & set(_STOP_SIGNALS):
                    self._begin_stop()
                elif signal.SIGHUP in flags:
                    self._begin_reload()
                now = time.monotonic()
                due = [t for t in self.respawn_at if t <= now]
                if due and not self.stopping:
                    self.respawn_at = [t for t in self.respawn_at if t > now]
                    for _ in due:
                        self._spawn()
                if not announced and not self.stopping and all(
                        w.ready_at is not None for w in self.workers.values()):
                    announced = True
                    on_serving()
        finally:
            signal.set_wakeup_fd(old_wakeup)
            for s, h in old.items():
                signal.signal(s, h)
            self.sel.close()
            os.close(wake_r)
            os.close(wake_w)
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
        return self.status


class LoadError(Exception):
    """The app could not be loaded: the message says why (no traceback)."""


def _announce_threads(threads):
    if threads is None:
        gil = getattr(sys, "_is_gil_enabled", lambda: True)()
        return 1 if gil else (os.cpu_count() or 1)
    return threads or (os.cpu_count() or 1)


def serve(load_app, *, host, port, fd, workers, threads, reuse_port, prog, announce):
    """Where to serve (fd, else the socket of systemd socket activation,
    else host:port), then Supervisor.run(). announce(where, threads), if
    given, is called once the first workers serve. Returns the exit
    status; ValueError for an fd or LISTEN_FDS that cannot be served, OSError
    when host:port cannot be bound."""
    from . import _listen_activated  # the package imports this module lazily

    probe = _turbo.Server(threads=1)
    try:
        if fd is not None:
            probe.listen_fd(fd)  # ValueError saying what is wrong with it
            where = f"inherited fd {fd}"
        elif _listen_activated(probe):
            fd, where = 3, "inherited fd 3"
        else:
            fd = None
    finally:
        probe.close()  # never closes an inherited fd
    if fd is None:
        sock = bind(host, port, reuse_port)
        shown = f"[{host}]" if host and ":" in host else (host or "0.0.0.0")
        where = f"http://{shown}:{sock.getsockname()[1]}/"
        fd = sock.detach()

    def say(text):
        print(f"{prog}: {text}", file=sys.stderr, flush=True)

    def serving():
        if announce is not None:
            announce(where, _announce_threads(threads))

    return Supervisor(load_app, fd, workers, threads, say).run(serving)
