#!/usr/bin/python3
"""Memory per idle keep-alive connection, for bench/peers.sh.

Opens CONNS connections to the server at 127.0.0.1:PORT, sends one
`GET PATH` on each and reads its whole response, and leaves them all open
and idle. The server process tree's RSS (VmRSS of PID and all its
descendants, from /proc) is read before and after; the difference divided
by CONNS is the user-space memory an idle keep-alive connection costs (the
kernel's socket buffers are not in it). At the end it checks that the
server still holds every connection open (none readable = none closed).

usage: idle_conns.py PID PORT [CONNS=10000] [PATH=/hello]
prints: rss_before_kib rss_after_kib bytes_per_conn connections_still_open
"""
import os
import resource
import select
import socket
import sys
import time


def tree(pid):
    """pid and all its descendants."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        pending.extend(children.get(p, []))
    return out


def rss_kib(pid):
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def read_response(s):
    """Reads one whole response (Content-Length framed) from s."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed before the response")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    if not head.startswith(b"HTTP/1.1 200"):
        raise ConnectionError(f"unexpected answer: {head[:40]!r}")


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    pid, port = int(sys.argv[1]), int(sys.argv[2])
    conns = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
    path = sys.argv[4] if len(sys.argv) > 4 else "/hello"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < conns + 64:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is below {conns + 64}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()

    # One connection first, so lazily made per-thread state exists before
    # the baseline.
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(req)
        read_response(s)
    time.sleep(0.5)
    before = rss_kib(pid)

    socks = []
    batch = 250
    while len(socks) < conns:
        new = []
        for _ in range(min(batch, conns - len(socks))):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.sendall(req)
            new.append(s)
        for s in new:
            read_response(s)
        socks.extend(new)
    time.sleep(1.0)
    after = rss_kib(pid)

    # Still open? A connection the server closed polls readable (EOF).
    poller = select.poll()
    for s in socks:
        poller.register(s.fileno(), select.POLLIN | select.POLLHUP | select.POLLERR)
    closed = len(poller.poll(0))
    print(before, after, round((after - before) * 1024 / conns), conns - closed)
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
