"""Mixed load against one server for a fixed time; the soak test's driver.

    soak.py --port P --pid PID --seconds S [--name NAME]

Threads, all on keep-alive connections to 127.0.0.1:P:
  plain      GET /hello, GET /users/<n>, POST /echo — each answer checked byte for byte
  pipelined  16 requests in one write, 16 answers checked in order
  churn      GET /churn/<n>: the route's answer or a 404 (routes come and go)
  malformed  random garbage and mutated requests: any 4xx/5xx answer or a close
  slow       a request sent one byte at a time (~20 ms apart), then checked

Every 10 s it samples the server's RSS and open file descriptors
(/proc/PID). Exit status 1 on any error on a valid request, or if the
server dies. Prints a summary with RSS and fds after warm-up and at the end.
"""

import argparse
import os
import random
import socket
import sys
import threading
import time

HELLO = b'{"message":"Hello, World!"}'


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def close(self):
        self.s.close()

    def response(self):
        """(status, headers dict lowercased, body) or None on EOF."""
        while b"\r\n\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                return None
            self.buf += d
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        hdrs = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(b":")
            hdrs[k.strip().lower()] = v.strip()
        n = int(hdrs.get(b"content-length", b"0"))
        while len(rest) < n:
            d = self.s.recv(65536)
            if not d:
                return None
            rest += d
        self.buf = rest[n:]
        return status, hdrs, rest[:n]


def req(method, path, body=b"", extra=b""):
    h = f"{method} {path} HTTP/1.1\r\nHost: soak\r\n".encode()
    if body or method == "POST":
        h += b"Content-Length: %d\r\n" % len(body)
    return h + extra + b"\r\n" + body


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = []

    def ok(self, kind, n=1):
        with self.lock:
            self.counts[kind] = self.counts.get(kind, 0) + n

    def error(self, kind, what):
        with self.lock:
            self.counts["errors"] = self.counts.get("errors", 0) + 1
            if len(self.errors) < 20:
                self.errors.append(f"{kind}: {what}")


def valid_request(rng):
    """(bytes, checker(status, body) -> bool)."""
    k = rng.randrange(3)
    if k == 0:
        return req("GET", "/hello"), lambda st, b: st == 200 and b == HELLO
    if k == 1:
        n = rng.randrange(10**6)
        return req("GET", f"/users/{n}"), lambda st, b, n=n: st == 200 and b == b'{"id":"%d"}' % n
    body = os.urandom(rng.randrange(1, 3000)).hex().encode()
    return req("POST", "/echo", body), lambda st, b, body=body: st == 200 and b == body


def plain(port, stop, stats, seed):
    rng = random.Random(seed)
    c = Conn(port)
    while not stop.is_set():
        data, check = valid_request(rng)
        c.s.sendall(data)
        r = c.response()
        if r is None or not check(r[0], r[2]):
            stats.error("plain", repr(r)[:200])
            c.close()
            c = Conn(port)
        else:
            stats.ok("plain")
    c.close()


def pipelined(port, stop, stats, seed):
    rng = random.Random(seed)
    c = Conn(port)
    while not stop.is_set():
        batch = [valid_request(rng) for _ in range(16)]
        c.s.sendall(b"".join(d for d, _ in batch))
        for _, check in batch:
            r = c.response()
            if r is None or not check(r[0], r[2]):
                stats.error("pipelined", repr(r)[:200])
                c.close()
                c = Conn(port)
                break
        else:
            stats.ok("pipelined", 16)
    c.close()


def churn(port, stop, stats, seed):
    rng = random.Random(seed)
    c = Conn(port)
    while not stop.is_set():
        c.s.sendall(req("GET", f"/churn/{rng.randrange(16)}"))
        r = c.response()
        if r is not None and ((r[0] == 200 and r[2] == b"churn") or r[0] == 404):
            stats.ok("churn")
        else:
            stats.error("churn", repr(r)[:200])
            c.close()
            c = Conn(port)
    c.close()


GARBAGE = [
    b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
    b"GET / HTTP/2.0\r\nHost: a\r\n\r\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
]


def malformed(port, stop, stats, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        if rng.random() < 0.5:
            data = rng.choice(GARBAGE)
        else:
            data = bytearray(valid_request(rng)[0])
            for _ in range(rng.randrange(1, 4)):
                data[rng.randrange(len(data))] = rng.randrange(256)
            data = bytes(data)
        try:
            c = Conn(port)
            c.s.sendall(data)
            c.s.shutdown(socket.SHUT_WR)
            r = c.response()
            # A mutated request may still be valid; any answer or a close is fine,
            # a hang is not (the socket timeout turns it into an exception).
            stats.ok("malformed")
            c.close()
        except OSError as e:
            stats.error("malformed", repr(e))


def slow(port, stop, stats, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        data, check = valid_request(rng)
        data = data[:200] if len(data) > 200 and b"POST" not in data[:4] else data
        c = Conn(port)
        try:
            for i in range(0, min(len(data), 120)):
                c.s.send(data[i:i + 1])
                time.sleep(0.02)
                if stop.is_set():
                    break
            c.s.sendall(data[120:])
            r = c.response()
            if stop.is_set():
                pass
            elif r is None or not check(r[0], r[2]):
                stats.error("slow", repr(r)[:200])
            else:
                stats.ok("slow")
        except OSError as e:
            if not stop.is_set():
                stats.error("slow", repr(e))
        c.close()


def sample(pid):
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return rss, fds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--seconds", type=float, default=600)
    p.add_argument("--name", default="server")
    a = p.parse_args()
    stats = Stats()
    stop = threading.Event()
    kinds = [(plain, 3), (pipelined, 2), (churn, 1), (malformed, 1), (slow, 2)]
    threads = []
    seed = 1
    for fn, n in kinds:
        for _ in range(n):
            threads.append(threading.Thread(target=fn, args=(a.port, stop, stats, seed), daemon=True))
            seed += 1
    baseline_fds = sample(a.pid)[1]
    for t in threads:
        t.start()
    time.sleep(min(10, a.seconds / 10))
    start_rss, start_fds = sample(a.pid)
    samples = [(0, start_rss, start_fds)]
    t0 = time.time()
    while time.time() - t0 < a.seconds:
        time.sleep(10)
        try:
            samples.append((round(time.time() - t0), *sample(a.pid)))
        except FileNotFoundError:
            stats.error("server", "died")
            break
    stop.set()
    for t in threads:
        t.join(15)
    time.sleep(1)
    end_rss, end_fds = sample(a.pid) if os.path.exists(f"/proc/{a.pid}") else (0, 0)
    print(f"{a.name}: {stats.counts}")
    print(f"{a.name}: RSS after warm-up {start_rss} KiB, at the end {end_rss} KiB "
          f"(min {min(s[1] for s in samples)}, max {max(s[1] for s in samples)})")
    print(f"{a.name}: fds before load {baseline_fds}, under load {start_fds}, after load {end_fds}")
    for e in stats.errors:
        print(f"{a.name}: ERROR {e}")
    bad = stats.counts.get("errors", 0) or end_fds != baseline_fds
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
