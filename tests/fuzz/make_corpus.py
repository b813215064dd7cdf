#!/usr/bin/env python3
"""Writes the committed seed corpus (tests/fuzz/corpus/<target>/).

Each seed starts with the control bytes the target expects (see the
comment at the top of each fuzz_*.c); run from anywhere:
    python3 tests/fuzz/make_corpus.py
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def ctl(flags=0, sizes=(), limits=b""):
    return bytes([flags, len(sizes)]) + bytes(sizes) + limits


H = b"Host: h\r\n"
REQUESTS = {
    "get": b"GET / HTTP/1.1\r\n" + H + b"\r\n",
    "get_query": b"GET /a/b?x=1&y=%20 HTTP/1.1\r\n" + H + b"Accept: */*\r\n\r\n",
    "http10": b"GET /old HTTP/1.0\r\n\r\n",
    "absolute_form": b"GET http://h:80/p?q HTTP/1.1\r\n" + H + b"\r\n",
    "options_star": b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n",
    "leading_crlf": b"\r\n\r\nGET / HTTP/1.1\r\n" + H + b"\r\n",
    "post_cl": b"POST /f HTTP/1.1\r\n" + H + b"Content-Length: 5\r\n\r\nhello",
    "post_cl_zero": b"POST /f HTTP/1.1\r\n" + H + b"Content-Length: 0\r\n\r\n",
    "chunked": b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n6;ext=1;q=\"a b\"\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
    "chunked_bws": b"POST /c HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n"
                   b"a \t;e\r\n0123456789\r\n0\r\n\r\n",
    "pipelined": b"GET /1 HTTP/1.1\r\n" + H + b"\r\n"
                 b"POST /2 HTTP/1.1\r\n" + H + b"Content-Length: 3\r\n\r\nabc"
                 b"POST /3 HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
                 b"GET /4 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
    "expect": b"PUT /u HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\nok",
    "expect_bad": b"PUT /u HTTP/1.1\r\n" + H + b"Expect: foo\r\n\r\n",
    "conn_tokens": b"GET / HTTP/1.1\r\n" + H + b"Connection: keep-alive, Upgrade\r\nUpgrade: x\r\n\r\n",
    "ows_values": b"GET / HTTP/1.1\r\nHost:\th \r\nX-Empty:\r\nX-A:  a b  \r\n\r\n",
    # Smuggling shapes and malformed input: each must be refused the same way.
    "cl_te": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_cl": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    "cl_cl": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
    "cl_list": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4, 4\r\n\r\nabcd",
    "cl_sign": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +4\r\n\r\nabcd",
    "cl_huge": b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n",
    "te_chunked_twice": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "te_not_last": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n",
    "te_http10": b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te_space_colon": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
    "obs_fold": b"GET / HTTP/1.1\r\n" + H + b"X: a\r\n b\r\n\r\n",
    "bare_lf": b"GET / HTTP/1.1\n" + H + b"\n",
    "bare_cr": b"GET / HTTP/1.1\r" + H + b"\r\n",
    "nul": b"GET /\x00 HTTP/1.1\r\n" + H + b"\r\n",
    "no_host": b"GET / HTTP/1.1\r\n\r\n",
    "two_hosts": b"GET / HTTP/1.1\r\n" + H + H + b"\r\n",
    "version_2": b"GET / HTTP/2.0\r\n" + H + b"\r\n",
    "tls_hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "chunk_size_overflow": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                           b"10000000000000001\r\n",
    "chunk_bad_crlf": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n"
                      b"3\r\nabcX\r\n0\r\n\r\n",
    "chunk_lf_only": b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\nabc\n0\n\n",
    "long_uri": b"GET /" + b"a" * 300 + b" HTTP/1.1\r\n" + H + b"\r\n",
    "many_headers": b"GET / HTTP/1.1\r\n" + H + b"".join(b"X%d: v\r\n" % i for i in range(20)) + b"\r\n",
}

for name, req in REQUESTS.items():
    write("fuzz_request", name, ctl() + req)
# The same streams split into odd reads, and some under small limits
# (limits bytes: max_header_bytes/4, max_headers%16, max_uri_bytes, max_body).
write("fuzz_request", "pipelined_split_1_7", ctl(0, (1, 7)) + REQUESTS["pipelined"])
write("fuzz_request", "chunked_split_3", ctl(2, (3,)) + REQUESTS["chunked"])
write("fuzz_request", "chunked_bytewise", bytes([2, 0]) + REQUESTS["chunked"])
write("fuzz_request", "small_limits", ctl(1, (5, 2), bytes([20, 3, 16, 4])) + REQUESTS["pipelined"])
write("fuzz_request", "small_uri", ctl(1, (), bytes([64, 10, 8, 100])) + REQUESTS["long_uri"])
write("fuzz_request", "small_headers", ctl(1, (9,), bytes([255, 4, 255, 255])) + REQUESTS["many_headers"])
write("fuzz_request", "small_body", ctl(1, (), bytes([255, 10, 255, 5])) + REQUESTS["chunked"])
# Inputs the fuzzer found (kept as regression seeds).
write("fuzz_request", "found_overlong_version_split", ctl(1, (5, 2), bytes([20, 3, 16, 4]))
      + b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1" + b")" * 52
      + b"\r\nHost: h\r\nContent-Le:gth: 3\r\n\r\n")
write("fuzz_request", "found_absolute_form_empty_path", ctl() + b"GET http://h:80?q HTTP/1.1\r\nHost: : h\r\n\r\n")

CHUNKED = {
    "simple": b"5\r\nhello\r\n0\r\n\r\n",
    "two_chunks": b"1\r\na\r\nA\r\n0123456789\r\n0\r\n\r\n",
    "ext": b"3;name=value;flag\r\nabc\r\n0;last\r\n\r\n",
    "ext_quoted": b"3;n=\"a;b\\\"c\"\r\nabc\r\n0\r\n\r\n",
    "bws": b"3 \t ;x\r\nabc\r\n0\r\n\r\n",
    "trailers": b"2\r\nhi\r\n0\r\nExpires: never\r\nX-Sum: 1\r\n\r\n",
    "upper_hex": b"aB\r\n" + b"x" * 0xAB + b"\r\n0\r\n\r\n",
    "leading_zeros": b"0000000000000003\r\nabc\r\n0\r\n\r\n",
    "too_many_digits": b"00000000000000003\r\nabc\r\n0\r\n\r\n",
    "overflow": b"ffffffffffffffff\r\n",
    "empty_size": b"\r\nabc\r\n",
    "negative": b"-1\r\n",
    "bad_data_crlf": b"3\r\nabcd\r\n0\r\n\r\n",
    "bare_lf": b"3\nabc\n0\n\n",
    "ctl_in_ext": b"3;a\x01b\r\nabc\r\n0\r\n\r\n",
    # RFC 9112 7.1.1's chunk-ext grammar: BWS around ';' and '=' only
    "ext_bws_all": b"3 ; a = \"q\\\"x\" ; b = t\r\nabc\r\n0\r\n\r\n",
    "ext_no_name": b"3;\r\nabc\r\n0\r\n\r\n",
    "ext_unterminated": b"3;a=\"b\r\nabc\r\n0\r\n\r\n",
    "ext_trailing_ws": b"3;a=b \r\nabc\r\n0\r\n\r\n",
    "ext_empty_value": b"3;a=\r\nabc\r\n0\r\n\r\n",
    "obs_fold_trailer": b"0\r\nX: a\r\n b\r\n\r\n",
    "trailer_no_colon": b"0\r\nXYZ\r\n\r\n",
    "trailer_space_name": b"0\r\nX Y: 1\r\n\r\n",
    "then_next_request": b"1\r\nz\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
    "incomplete": b"10\r\nabc",
}
for name, body in CHUNKED.items():
    write("fuzz_chunked", name, ctl() + body)
write("fuzz_chunked", "split_compact", ctl(2, (1, 4, 2)) + CHUNKED["two_chunks"])
write("fuzz_chunked", "prefix_bytewise", bytes([6, 0]) + CHUNKED["trailers"])
write("fuzz_chunked", "small_body_limit", ctl(1, (3,), bytes([100, 4])) + CHUNKED["two_chunks"])
write("fuzz_chunked", "small_trailer_limit", ctl(1, (), bytes([10, 255])) + CHUNKED["trailers"])
write("fuzz_chunked", "small_ext_limit", ctl(3, (2,), bytes([5, 255])) + CHUNKED["ext"])

# fuzz_router programs: op byte (0 add, 3 remove, 4 commit, 5 retire,
# 6 match, 7 rollback), method index, then a pattern/path: a byte n < 0x80
# and n % 5 vocabulary indices, or 0x80 | len and raw bytes.
GET, HEAD, POST, PUT, DELETE, BADM = 0, 1, 2, 3, 5, 10
PSEG = ["", "a", "b", "ab", "x", "{x}", "{y}", "{id}", "{r...}", "{x...}", "{", "}", "{}",
        "{1x}", "x?y", "{x}y", "*", "%2F", "...", "{_a9}", "a.b", "{x", "x}", "{...}",
        "{x..}", "{a-b}", "#", "~!$", "{r...}", "{Z}"]
PATHSEG = ["", "a", "b", "ab", "x", "a/b", "?", "{x}", "%2F", "...", "*", "a.b", "~!$", "\x01"]


def pat(*segs):
    return bytes([len(segs)] + [PSEG.index(x) for x in segs]) if segs else bytes([0])


def path(*segs):
    return bytes([len(segs)] + [PATHSEG.index(x) for x in segs]) if segs else bytes([0])


def raw(b):
    return bytes([0x80 | len(b)]) + b


def add(m, p):
    return bytes([0, m]) + p


def remove(m, p):
    return bytes([3, m]) + p


def match(m, p):
    return bytes([6, m]) + p


COMMIT, RETIRE, ROLLBACK = b"\x04", b"\x05", b"\x07"
PROGRAMS = {
    "add_match": add(GET, pat("a")) + match(GET, path("a")),
    "root": add(GET, pat()) + match(GET, path()) + match(HEAD, path()) + match(POST, path()),
    "params": add(GET, pat("a", "{x}")) + add(GET, pat("a", "{y}")) + match(GET, path("a", "b")),
    "precedence": add(GET, pat("{x}")) + add(GET, pat("a")) + add(GET, pat("{r...}"))
                  + match(GET, path("a")) + match(GET, path("b")) + match(GET, path("a", "b")),
    "catch_all": add(GET, pat("a", "{r...}")) + match(GET, path("a", "")) + match(GET, path("a"))
                 + match(GET, path("a", "a/b")),
    "method_405": add(POST, pat("x")) + add(PUT, pat("x")) + match(GET, path("x")) + match(DELETE, path("x")),
    "head_fallback": add(GET, pat("{x}")) + add(HEAD, pat("a")) + match(HEAD, path("a"))
                     + match(HEAD, path("b")),
    "eexist": add(GET, pat("{x}")) + add(GET, pat("{y}")) + add(POST, pat("{y}")) + COMMIT,
    "epattern": add(GET, pat("{1x}")) + add(GET, pat("{x}y")) + add(GET, pat("{x...}", "a"))
                + add(GET, pat("{x}", "{x}")) + add(GET, raw(b"a")) + add(GET, raw(b"")) + add(GET, pat("{...}")),
    "einval": add(BADM, pat("a")) + add(9, pat("a")) + remove(BADM, pat("a")),
    "remove": add(GET, pat("a")) + add(GET, pat("b")) + COMMIT + remove(GET, pat("a"))
              + match(GET, path("a")) + match(GET, path("b")),
    "remove_enoent": remove(GET, pat("a")) + add(GET, pat("a")) + remove(POST, pat("a")),
    "remove_by_shape": add(GET, pat("{x}")) + remove(GET, pat("{y}")) + match(GET, path("x")),
    "rollback_add": add(GET, pat("a")) + ROLLBACK + match(GET, path("a")),
    "rollback_remove": add(GET, pat("a")) + COMMIT + remove(GET, pat("a")) + ROLLBACK + match(GET, path("a")),
    "retire_later": add(GET, pat("a")) + COMMIT + remove(GET, pat("a")) + COMMIT + add(GET, pat("b"))
                    + COMMIT + RETIRE + match(GET, path("b")),
    "trailing_slash": add(GET, pat("a", "")) + add(GET, pat("a")) + match(GET, path("a", ""))
                      + match(GET, path("a")),
    "empty_param": add(GET, pat("{x}", "b")) + match(GET, path("", "b")),
    "raw_pattern": add(GET, raw(b"/a//b")) + add(GET, raw(b"/%7e/{id}")) + match(GET, raw(b"/a//b"))
                   + match(GET, raw(b"/%7e/1")),
    "raw_path_nul": add(GET, pat("{x...}")) + match(GET, raw(b"/a\x00b")) + match(GET, raw(b"a"))
                    + match(GET, raw(b"")),
    "many_methods": b"".join(add(m, pat("x")) for m in range(9)) + match(11, path("x")) + match(HEAD, path("x")),
    "deep": add(GET, pat("a", "b", "{x}", "{r...}")) + add(GET, pat("a", "{y}", "ab", "x"))
            + match(GET, path("a", "b", "ab", "x")),
}
for name, prog in PROGRAMS.items():
    write("fuzz_router", name, prog)

# fuzz_alog: control byte, then method 0xFF target 0xFF host.
def alog(ctl, method, target, host):
    return bytes([ctl]) + method + b"\xff" + target + b"\xff" + host

ALOG = {
    "plain": alog(0, b"GET", b"/a?b=1", b"example.com:8080"),
    "refused": alog(1, b"", b"", b""),
    "http10": alog(2, b"HEAD", b"/", b"example.com"),
    "quote_backslash": alog(0, b"GET", b'/x?q="a"\\b', b"h"),
    "controls_and_utf8": alog(0, b"GET", b"/\x01\x1f\x7f\xc3\xa9\xff", b"h"),
    "percent_forms": alog(4, b"POST", b"/a%20b%2Fc%zz%4%%+x+", b"[::1]:8080"),
    "stray_percent_end": alog(0, b"GET", b"/%", b"[::1]"),
    "v6_unclosed": alog(0, b"GET", b"/", b"[::1"),
    "empty_port": alog(0, b"GET", b"/", b"host:"),
    "port_only": alog(0, b"GET", b"/", b":80"),
    "many_colons": alog(0, b"GET", b"/", b"a:b:c"),
    "bracket_then_junk": alog(0, b"GET", b"/", b"[v6]x:1"),
    "long_target": alog(0, b"GET", b"/" + b"\"" * 3000, b"h"),
    "status_599": alog(199, b"M" * 40, b"/", b"h"),
}
for name, data in ALOG.items():
    write("fuzz_alog", name, data)

# fuzz_ws: limits byte, read-size count and sizes, then client frames.
WS_MASK = b"\x37\xfa\x21\x3d"


def ws_frame(b0, payload=b"", masked=True, form=None):
    n = len(payload)
    m = 0x80 if masked else 0
    if form is None:
        form = 7 if n < 126 else 16 if n <= 0xFFFF else 64
    if form == 7:
        head = bytes([b0, m | n])
    elif form == 16:
        head = bytes([b0, m | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, m | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    return head + WS_MASK + bytes(b ^ WS_MASK[i % 4] for i, b in enumerate(payload))


def ws(frames, limits=0, sizes=()):
    return bytes([limits, len(sizes)]) + bytes(sizes) + b"".join(frames)


def ws_close(code, reason=b""):
    return ws_frame(0x88, code.to_bytes(2, "big") + reason)


WS = {
    "hello": ws([ws_frame(0x81, b"Hello")]),
    "fragments_pings": ws([ws_frame(0x01, b"Hel"), ws_frame(0x89, b"p"), ws_frame(0x00, b"lo"),
                           ws_frame(0x8A), ws_frame(0x80, b"")], sizes=(3, 1, 7)),
    "binary_16": ws([ws_frame(0x82, bytes(range(256)) * 2)], sizes=(5, 200)),
    # A 64-bit length, the frame cut (inputs stay under scripts/fuzz.sh's -max_len).
    "binary_64": ws([ws_frame(0x82, b"x" * 70000)[:3000]], sizes=(0, 13)),
    "non_minimal": ws([ws_frame(0x81, b"hi", form=16), ws_frame(0x82, b"yo", form=64)]),
    "utf8_split": ws([ws_frame(0x01, b"\xe2"), ws_frame(0x00, b"\x82"), ws_frame(0x89),
                      ws_frame(0x80, b"\xac\xf0\x9f\x98\x80")]),
    "utf8_kosme": ws([ws_frame(0x81, "κόσμε".encode())], sizes=(1, 2)),
    "close_reason": ws([ws_frame(0x81, b"last"), ws_close(1000, "bye κ".encode()),
                        ws_frame(0x81, b"ignored")]),
    "close_empty": ws([ws_frame(0x88)]),
    "close_4999": ws([ws_close(4999)]),
    "ping_125": ws([ws_frame(0x89, b"p" * 125)], sizes=(50,)),
    "limits": ws([ws_frame(0x01, b"12345"), ws_frame(0x80, b"678901")], limits=5 | (5 << 3)),
    "small_limits": ws([ws_frame(0x81, b"ab"), ws_frame(0x89, b"abc")], limits=2 | (3 << 3)),
    # Each refused with its close code.
    "unmasked": ws([ws_frame(0x81, b"Hello", masked=False)]),
    "rsv1": ws([ws_frame(0xC1, b"x")]),
    "opcode_3": ws([ws_frame(0x83, b"x")]),
    "opcode_11": ws([ws_frame(0x8B)]),
    "ping_no_fin": ws([ws_frame(0x09, b"x")]),
    "ping_126": ws([ws_frame(0x89, b"p" * 126)]),
    "lone_continuation": ws([ws_frame(0x80, b"x")]),
    "text_in_text": ws([ws_frame(0x01, b"a"), ws_frame(0x81, b"b")]),
    "top_bit_length": ws([bytes([0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1]) + WS_MASK]),
    "bad_utf8": ws([ws_frame(0x81, b"ab\xed\xa0\x80cd")], sizes=(9,)),
    "cut_utf8": ws([ws_frame(0x81, b"a\xe2\x82")]),
    "close_1_byte": ws([ws_frame(0x88, b"\x03")]),
    "close_1005": ws([ws_close(1005)]),
    "close_bad_reason": ws([ws_close(1000, b"\xff")]),
    "accept_key": ws([]) + b" dGhlIHNhbXBsZSBub25jZQ==\t",
}
for name, data in WS.items():
    write("fuzz_ws", name, data)

# fuzz_proxy: the size of the first read (0: all at once), then the bytes a
# connection opens with.
SIG2 = b"\r\n\r\n\x00\r\nQUIT\n"
PROXY = {
    "v1_tcp4": b"PROXY TCP4 203.0.113.7 10.0.0.1 51234 8000\r\nGET / HTTP/1.1\r\n\r\n",
    "v1_tcp6": b"PROXY TCP6 2001:db8::7 2001:db8::1 443 80\r\n",
    "v1_unknown": b"PROXY UNKNOWN 1.2.3.4 x\r\n",
    "v1_bad_port": b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n",
    "v1_long": b"PROXY UNKNOWN " + b"x" * 100 + b"\r\n",
    "v2_tcp4": SIG2 + b"\x21\x11\x00\x0c" + bytes([203, 0, 113, 7, 10, 0, 0, 1, 0xc8, 0x22, 0x1f, 0x40]),
    "v2_tcp6_tlv": SIG2 + b"\x21\x21\x00\x2c" + bytes(range(32)) + b"\x01\xbb\x00\x50"
                   + b"\x01\x00\x02h2\x04\x00\x00",
    "v2_local": SIG2 + b"\x20\x00\x00\x00GET",
    "v2_unix": SIG2 + b"\x21\x31\x00\xd8" + bytes(216),
    "v2_short": SIG2 + b"\x21\x21\x00\x0c" + bytes(12),
    "v2_bad_version": SIG2 + b"\x31\x11\x00\x0c",
    "http": b"GET / HTTP/1.1\r\n\r\n",
}
for name, data in PROXY.items():
    write("fuzz_proxy", name, b"\x00" + data)
    write("fuzz_proxy", name + "_split", b"\x07" + data)

# fuzz_forwarded: a flags byte (bit 0: Forwarded), a trust list, 0xFF, then
# header lines separated by 0xFE.
def fwd(flags, trust, *lines):
    return bytes([flags]) + trust + b"\xff" + b"\xfe".join(lines)

FORWARDED = {
    "xff": fwd(0, b"10.0.0.0/8, ::1", b"1.1.1.1, 203.0.113.7, 10.0.0.2"),
    "xff_lines": fwd(0, b"127.0.0.1", b"198.51.100.1", b"10.0.0.1, 127.0.0.1"),
    "xff_ports": fwd(0, b"*", b"[2001:db8::7]:443, 203.0.113.7:80"),
    "xff_bad": fwd(0, b"10.0.0.0/8", b"unknown, , 10.0.0.2"),
    "fwd": fwd(1, b"10.0.0.0/8", b'for=1.1.1.1, For="[2001:db8::7]:4711";proto=https, for=10.0.0.2'),
    "fwd_quoted": fwd(1, b"::1", b'for="\\[::1\\]";host="a,b"'),
    "fwd_obf": fwd(1, b"10.0.0.0/8", b"for=_hidden, for=unknown;by=10.0.0.1"),
    "trust_bad": fwd(0, b"1.2.3.4/33, fd00::/129, *,,", b"1.2.3.4"),
    "trust_only": b"\x00" + b"192.168.0.0/16, 0.0.0.0/0, ::/0",
}
for name, data in FORWARDED.items():
    write("fuzz_forwarded", name, data)
