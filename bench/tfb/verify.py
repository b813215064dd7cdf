#!/usr/bin/env python3
"""Checks a server against TechEmpower's verification rules for its six
tests, as the FrameworkBenchmarks toolset applies them before it measures:

  every test    status 200; Server and Date headers (Date an HTTP date);
                Content-Type of the test's media type (a charset, when
                given, utf-8); Content-Length or Transfer-Encoding: chunked
  /plaintext    body "Hello, World!" (text/plain), also as the answers to 16
                requests pipelined in one write, in order
  /json         a JSON object with exactly one key, message, "Hello, World!"
  /db           an object {"id": int, "randomNumber": int}, both 1..10000,
                no other keys
  /queries      a JSON array of such objects; queries=2 gives 2 rows, and the
                parameter is clamped: missing, "", "foo", 0 and -1 give 1,
                501 gives 500
  /updates      as /queries, and (with --db) the database holds each
                returned row's randomNumber afterwards
  /fortunes     text/html; the page, once entity spellings are normalized
                (&#39; = &apos;, &#34; = &quot; ...), is exactly the table of
                the 12 fortunes plus "Additional fortune added at request
                time." (id 0), sorted by message, every message escaped

usage: verify.py URL [--db POSTGRESQL_URL] [--tests t1,t2,...]

URL is the server's base (http://127.0.0.1:8080). Prints one line per test,
"ok" or the failures, each precise (which request, what was expected, what
came); exits 1 when any check failed, 2 on a usage error. --db needs asyncpg.
Standard library otherwise.
"""
import argparse
import email.utils
import html
import html.parser
import http.client
import json
import socket
import sys
import urllib.parse

TESTS = ("plaintext", "json", "db", "queries", "fortunes", "updates")
WORLD_ROWS = 10000
PIPELINE_DEPTH = 16

FORTUNES = [
    (1, "fortune: No such file or directory"),
    (2, "A computer scientist is someone who fixes things that aren't broken."),
    (3, "After enough decimal places, nobody gives a damn."),
    (4, "A bad random number generator: 1, 1, 1, 1, 1, 4.33e+67, 1, 1, 1"),
    (5, "A computer program does what you tell it to do, not what you want it to do."),
    (6, "Emacs is a nice operating system, but I prefer UNIX. \u2014 Tom Christaensen"),
    (7, "Any program that runs right is obsolete."),
    (8, "A list is only as strong as its weakest link. \u2014 Donald Knuth"),
    (9, "Feature: A bug with seniority."),
    (10, "Computers make very fast, very accurate mistakes."),
    (11, '<script>alert("This should not be displayed in a browser alert box.");</script>'),
    (12, "\u30d5\u30ec\u30fc\u30e0\u30ef\u30fc\u30af\u306e\u30d9\u30f3\u30c1\u30de\u30fc\u30af"),
    (0, "Additional fortune added at request time."),
]

# (query string value or None for no parameter, rows expected)
QUERY_CASES = [("2", 2), (None, 1), ("", 1), ("foo", 1), ("0", 1), ("-1", 1), ("501", 500), ("20", 20)]


class Failed(Exception):
    pass


class Client:
    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        if u.scheme != "http" or not u.hostname:
            raise SystemExit(f"verify.py: URL must be http://HOST:PORT, not {base!r}")
        self.host, self.port = u.hostname, u.port or 80
        self.conn = None

    def get(self, path):
        """(status, headers as a case-insensitive message, body bytes)."""
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read()
                if r.will_close:
                    self.conn.close()
                    self.conn = None
                return r.status, r.headers, body
            except (ConnectionError, http.client.HTTPException, OSError) as e:
                self.conn.close()
                self.conn = None
                if attempt == 1:
                    raise Failed(f"GET {path}: {type(e).__name__}: {e}") from None


def parse_http_date(value):
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def check_headers(path, status, headers, media_type):
    errs = []
    if status != 200:
        errs.append(f"GET {path}: status {status}, expected 200")
    for name in ("Server", "Date", "Content-Type"):
        if headers.get(name) is None:
            errs.append(f"GET {path}: no {name} header")
    date = headers.get("Date")
    if date is not None and parse_http_date(date) is None:
        errs.append(f"GET {path}: Date {date!r} is not an HTTP date")
    if headers.get("Content-Length") is None and \
            (headers.get("Transfer-Encoding") or "").lower() != "chunked":
        errs.append(f"GET {path}: neither Content-Length nor Transfer-Encoding: chunked")
    ctype = headers.get("Content-Type")
    if ctype is not None:
        parts = [p.strip() for p in ctype.split(";")]
        if parts[0].lower() != media_type:
            errs.append(f"GET {path}: Content-Type {ctype!r}, expected {media_type}")
        for p in parts[1:]:
            k, _, v = p.partition("=")
            if k.strip().lower() != "charset" or v.strip().strip('"').lower() != "utf-8":
                errs.append(f"GET {path}: Content-Type {ctype!r}: only charset=utf-8 may follow")
    return errs


def fetch(client, path, media_type):
    status, headers, body = client.get(path)
    errs = check_headers(path, status, headers, media_type)
    if errs:
        raise Failed("; ".join(errs))
    return body


def parse_json(path, body):
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise Failed(f"GET {path}: body is not JSON ({e}): {body[:120]!r}") from None


def lower_keys(path, obj, what):
    if not isinstance(obj, dict):
        raise Failed(f"GET {path}: {what} is {type(obj).__name__}, expected a JSON object: {obj!r:.120}")
    lowered = {k.lower(): v for k, v in obj.items()}
    if len(lowered) != len(obj):
        raise Failed(f"GET {path}: {what} repeats a key in another case: {obj!r}")
    return lowered


def check_world(path, obj, what="the body"):
    w = lower_keys(path, obj, what)
    if set(w) != {"id", "randomnumber"}:
        raise Failed(f"GET {path}: {what} has keys {sorted(obj)}, expected id and randomNumber")
    for key in ("id", "randomnumber"):
        v = w[key]
        if type(v) is not int:
            raise Failed(f"GET {path}: {what}: {key} is {v!r}, expected an integer")
        if not 1 <= v <= WORLD_ROWS:
            raise Failed(f"GET {path}: {what}: {key} is {v}, expected 1..{WORLD_ROWS}")
    return w["id"], w["randomnumber"]


def verify_plaintext(client, args):
    body = fetch(client, "/plaintext", "text/plain")
    if body.lower() != b"hello, world!":
        raise Failed(f"GET /plaintext: body {body!r}, expected b'Hello, World!'")
    pipelined(client.host, client.port)


def pipelined(host, port):
    """PIPELINE_DEPTH requests in one write; as many answers, in order."""
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n" * PIPELINE_DEPTH)
        f = s.makefile("rb")
        for i in range(PIPELINE_DEPTH):
            line = f.readline()
            if not line.startswith(b"HTTP/1.1 200 "):
                raise Failed(f"pipelined /plaintext: answer {i + 1} of {PIPELINE_DEPTH} "
                             f"starts {line!r}, expected HTTP/1.1 200")
            length = None
            chunked = False
            while True:
                h = f.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                name, _, value = h.decode("latin-1").partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value.strip())
                elif name.strip().lower() == "transfer-encoding" and "chunked" in value.lower():
                    chunked = True
            if chunked:
                body = b""
                while True:
                    size = int(f.readline().split(b";")[0], 16)
                    chunk = f.read(size + 2)[:size]
                    if size == 0:
                        break
                    body += chunk
            elif length is not None:
                body = f.read(length)
            else:
                raise Failed(f"pipelined /plaintext: answer {i + 1} has no length")
            if body.lower() != b"hello, world!":
                raise Failed(f"pipelined /plaintext: answer {i + 1} body {body!r}")


def verify_json(client, args):
    obj = parse_json("/json", fetch(client, "/json", "application/json"))
    m = lower_keys("/json", obj, "the body")
    if list(m) != ["message"]:
        raise Failed(f"GET /json: keys {sorted(obj)}, expected exactly message")
    if not isinstance(m["message"], str) or m["message"].lower() != "hello, world!":
        raise Failed(f"GET /json: message {m['message']!r}, expected 'Hello, World!'")


def verify_db(client, args):
    obj = parse_json("/db", fetch(client, "/db", "application/json"))
    check_world("/db", obj)


def rows_test(client, base):
    """Every QUERY_CASES case against base; returns all the rows seen."""
    seen = []
    for value, expected in QUERY_CASES:
        path = base if value is None else f"{base}?queries={value}"
        arr = parse_json(path, fetch(client, path, "application/json"))
        if not isinstance(arr, list):
            raise Failed(f"GET {path}: body is {type(arr).__name__}, expected a JSON array")
        if len(arr) != expected:
            raise Failed(f"GET {path}: {len(arr)} rows, expected {expected}")
        seen.append([check_world(path, o, f"row {i + 1}") for i, o in enumerate(arr)])
    return seen


def verify_queries(client, args):
    rows_test(client, "/queries")


def verify_updates(client, args):
    seen = rows_test(client, "/updates")
    if args.db is None:
        return
    import asyncio
    import asyncpg

    # The last answer for each id is what the database must hold now.
    final = {}
    for rows in seen:
        final.update(dict(rows))

    async def read():
        conn = await asyncpg.connect(args.db)
        try:
            got = await conn.fetch("SELECT id, randomNumber FROM World WHERE id = ANY($1::int[])",
                                   list(final))
        finally:
            await conn.close()
        return {r[0]: r[1] for r in got}

    db = asyncio.run(read())
    wrong = [(i, n, db.get(i)) for i, n in sorted(final.items()) if db.get(i) != n]
    if wrong:
        i, n, d = wrong[0]
        raise Failed(f"/updates: {len(wrong)} of {len(final)} rows not written, e.g. id {i}: "
                     f"answered randomNumber {n}, the database holds {d}")


class Normalizer(html.parser.HTMLParser):
    """The page as tags and text, with every character reference spelled
    one way, so escaping is compared by what it means, not its spelling."""

    def __init__(self):
        super().__init__(convert_charrefs=False)
        self.out = []

    def handle_starttag(self, tag, attrs):
        self.out.append(f"<{tag}>")

    def handle_endtag(self, tag):
        self.out.append(f"</{tag}>")

    def handle_decl(self, decl):
        self.out.append(f"<!{decl.lower()}>")

    def handle_data(self, data):
        # Kept as it came: a '"', "'", '>' or '&' left unescaped differs from
        # the expected page's reference, as in TechEmpower's parser.
        self.out.append(data)

    def handle_entityref(self, name):
        self.out.append(self._ref(html.unescape(f"&{name};")))

    def handle_charref(self, name):
        self.out.append(self._ref(html.unescape(f"&#{name};")))

    @staticmethod
    def _ref(ch):
        return {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;"}.get(ch, ch)


def expected_fortunes():
    esc = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;"}
    rows = "".join(f"<tr><td>{i}</td><td>{''.join(esc.get(c, c) for c in m)}</td></tr>"
                   for i, m in sorted(FORTUNES, key=lambda r: r[1]))
    return ("<!doctype html><html><head><title>Fortunes</title></head><body><table>"
            "<tr><th>id</th><th>message</th></tr>" + rows + "</table></body></html>")


def verify_fortunes(client, args):
    body = fetch(client, "/fortunes", "text/html")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Failed(f"GET /fortunes: body is not UTF-8 ({e})") from None
    p = Normalizer()
    p.feed(text)
    p.close()
    # Whitespace between tags is allowed; inside cells it is content.
    got = "".join(s for s in p.out if s.strip() != "" or not s)
    want = expected_fortunes()
    if got != want:
        k = next((i for i in range(min(len(got), len(want))) if got[i] != want[i]),
                 min(len(got), len(want)))
        raise Failed("GET /fortunes: the page differs from the expected one at character "
                     f"{k}: got ...{got[max(0, k - 40):k + 40]!r}, expected "
                     f"...{want[max(0, k - 40):k + 40]!r}")


def main(argv=None):
    ap = argparse.ArgumentParser(description="TechEmpower's verification rules for six tests.")
    ap.add_argument("url")
    ap.add_argument("--db", help="postgresql:// URL: also check that /updates wrote its rows")
    ap.add_argument("--tests", default=",".join(TESTS))
    args = ap.parse_args(argv)
    tests = [t for t in args.tests.split(",") if t]
    unknown = [t for t in tests if t not in TESTS]
    if unknown:
        ap.error(f"unknown tests {unknown}; known: {', '.join(TESTS)}")
    client = Client(args.url)
    failed = 0
    for t in tests:
        try:
            globals()[f"verify_{t}"](client, args)
            print(f"{t}: ok")
        except Failed as e:
            failed += 1
            print(f"{t}: FAIL: {e}")
        sys.stdout.flush()
    print(f"{args.url}: {len(tests) - failed} of {len(tests)} tests pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
