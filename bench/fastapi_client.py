"""The FastAPI surface benchmark's requests (bench/fastapi.sh): one
keep-alive connection, N requests of one kind, every answer read and
checked (200, the exact body). For the instruction counts under
callgrind, where wrk cannot pace a server 50 times slower.

usage: fastapi_client.py PORT N ROUTE   (ROUTE: items items_sync me me_sync)
       fastapi_client.py --lua ROUTE    (the wrk script for ROUTE, printed)
"""
import socket
import sys
import time

ITEM = (b'{"id":1,"name":"widget","description":"a widget","price":9.5,"tax":0.5,'
        b'"quantity":3,"tags":["a","b"],"in_stock":true,"rating":4.5,"sku":"W-1"}')
ME = b'{"user":"alice","region":"eu","agent":"bench"}'


def request(route):
    """(request bytes, the body the answer must have)"""
    if route.startswith("items"):
        return (b"POST /%s HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (route.encode(), len(ITEM), ITEM)), ITEM
    return (b"GET /%s HTTP/1.1\r\nHost: bench\r\nX-Token: t0k3n\r\nUser-Agent: bench\r\n\r\n"
            % route.encode()), ME


def lua(route):
    req, _ = request(route)
    head, _, body = req.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    method, path, _ = lines[0].split(" ")
    out = ['wrk.method = "%s"' % method, 'wrk.path = "%s"' % path]
    for line in lines[1:]:
        name, _, value = line.partition(": ")
        if name.lower() not in ("host", "content-length"):
            out.append('wrk.headers["%s"] = "%s"' % (name, value))
    if body:
        out.append("wrk.body = '%s'" % body.decode())
    return "\n".join(out) + "\n"


def main():
    if sys.argv[1] == "--lua":
        sys.stdout.write(lua(sys.argv[2]))
        return
    port, n, route = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    req, want = request(route)
    for _ in range(2400):  # 120 s: Python starts slowly under callgrind
        try:
            s = socket.create_connection(("127.0.0.1", port))
            break
        except OSError:
            time.sleep(0.05)
    else:
        sys.exit("no server on port %d" % port)
    buf = b""
    for _ in range(n):
        s.sendall(req)
        while True:
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                head = buf[:end].decode("latin-1")
                fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])
                length = int({k.lower(): v for k, v in fields.items()}["content-length"])
                if len(buf) >= end + 4 + length:
                    body = buf[end + 4:end + 4 + length]
                    if not head.startswith("HTTP/1.1 200") or body != want:
                        sys.exit("wrong answer: %r %r" % (head, body))
                    buf = buf[end + 4 + length:]
                    break
            chunk = s.recv(65536)
            if not chunk:
                sys.exit("connection closed")
            buf += chunk


if __name__ == "__main__":
    main()
