/*
 * Differential test of the request parser (libturbo/parse.c) against
 * nodejs http-parser 2.9.4 as packaged by Debian (libhttp-parser-dev,
 * built with HTTP_PARSER_STRICT=0).
 *
 * A deterministic corpus (fixed seed) of valid requests, known-invalid and
 * ambiguous shapes and random mutations is parsed by both:
 *   - libturbo exactly as conn.c's handle_one() drives it: head_scan,
 *     parse_head, then a Content-Length body or the in-place chunked
 *     decoder, request after request, with the default limits;
 *   - http-parser in HTTP_REQUEST mode, one http_parser_execute() over the
 *     whole input, callbacks collecting every message.
 * Verdicts (accepted / rejected / incomplete) are compared and, when both
 * accept, every message's method, target, version, header fields and
 * decoded body. Each disagreement is put in a named category; the test
 * fails on any category not in the allow-list (where libturbo is
 * deliberately stricter, see docs/differential.md, which must name every
 * allow-listed category). It prints the table: category, count, example.
 */
#include <check.h>
#include <http_parser.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* ------------------------------------------------------------------------
 * Growable byte buffer
 * --------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf;

static void sb_reserve(sbuf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    b->p = realloc(b->p, cap);
    ck_assert_ptr_nonnull(b->p);
    b->cap = cap;
}

static void sb_put(sbuf *b, const void *d, size_t n)
{
    sb_reserve(b, n);
    if (n > 0)
        memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void sb_puts(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void sb_putc(sbuf *b, char c)
{
    sb_put(b, &c, 1);
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(n, 0);
    ck_assert_int_lt(n, (int)sizeof tmp);
    sb_put(b, tmp, (size_t)n);
}

static void sb_free(sbuf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------------------
 * Deterministic PRNG (xorshift64*)
 * --------------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static int chance(unsigned percent)
{
    return below(100) < percent;
}

#define PICK(arr) (arr)[below((unsigned)(sizeof(arr) / sizeof((arr)[0])))]

/* ------------------------------------------------------------------------
 * Corpus generation
 * --------------------------------------------------------------------- */

static const turbo__limits default_limits = {16384, 100, 8192, 1048576};

/* Methods both parsers know (http-parser only knows a fixed list). */
static const char *const common_methods[] = {
    "GET",    "GET",     "GET",      "HEAD",     "POST",   "POST",   "PUT",  "DELETE",
    "PATCH",  "OPTIONS", "TRACE",    "PROPFIND", "MKCOL",  "COPY",   "MOVE", "LOCK",
    "UNLOCK", "REPORT",  "M-SEARCH", "PURGE",    "SEARCH", "NOTIFY", "LINK", "SOURCE"};

static const char tchars[] = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                             "abcdefghijklmnopqrstuvwxyz";
static const char pchars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                             "-._~!$&'()*+,;=:@";

static void put_from(sbuf *b, const char *set, size_t n)
{
    size_t k = strlen(set);
    for (size_t i = 0; i < n; i++)
        sb_putc(b, set[below((unsigned)k)]);
}

static void gen_path_query(sbuf *b)
{
    unsigned segs = below(4);
    sb_putc(b, '/');
    for (unsigned i = 0; i < segs; i++) {
        if (i > 0)
            sb_putc(b, '/');
        put_from(b, pchars, 1 + below(12));
        if (chance(10))
            sb_puts(b, "%20");
    }
    if (chance(40)) {
        sb_putc(b, '?');
        put_from(b, pchars, below(20));
        if (chance(30))
            sb_puts(b, "/?x=1&y=%2F");
    }
}

static void gen_target(sbuf *b, const char *method)
{
    if (strcmp(method, "OPTIONS") == 0 && chance(30)) {
        sb_putc(b, '*');
        return;
    }
    if (chance(15)) {
        static const char *const hosts[] = {"example.com", "a.b.c", "10.0.0.1", "localhost"};
        sb_puts(b, chance(70) ? "http://" : "https://");
        sb_puts(b, PICK(hosts));
        if (chance(30))
            sb_printf(b, ":%u", 1 + below(65535));
        if (chance(80))
            gen_path_query(b);
        return;
    }
    gen_path_query(b);
}

/* A field value: VCHAR, inner SP/HTAB, some obs-text. */
static void gen_value(sbuf *b)
{
    unsigned n = below(40);
    for (unsigned i = 0; i < n; i++) {
        unsigned r = below(100);
        if (r < 80)
            sb_putc(b, (char)(0x21 + below(94)));
        else if (r < 90 && i > 0 && i + 1 < n)
            sb_putc(b, chance(80) ? ' ' : '\t');
        else if (r < 95)
            sb_putc(b, (char)(0x80 + below(128)));
        else
            sb_putc(b, 'v');
    }
}

static void gen_ows(sbuf *b)
{
    static const char *const ows[] = {"", "", "", " ", "  ", "\t", " \t"};
    sb_puts(b, PICK(ows));
}

static void gen_field(sbuf *b)
{
    static const char *const names[] = {"User-Agent",
                                        "Accept",
                                        "Accept-Encoding",
                                        "Accept-Language",
                                        "Cookie",
                                        "Cache-Control",
                                        "Referer",
                                        "Authorization",
                                        "Content-Type",
                                        "X-Forwarded-For",
                                        "X-Request-Id",
                                        "Origin",
                                        "If-None-Match",
                                        "Pragma",
                                        "DNT",
                                        "x-lower",
                                        "X-Empty",
                                        "TE",
                                        "Via",
                                        "Forwarded"};
    if (chance(75))
        sb_puts(b, PICK(names));
    else
        put_from(b, tchars, 1 + below(20));
    sb_putc(b, ':');
    gen_ows(b);
    gen_value(b);
    gen_ows(b);
    sb_puts(b, "\r\n");
}

static void gen_host(sbuf *b)
{
    static const char *const hosts[] = {"example.com", "localhost:8080", "10.1.2.3", "[::1]:80",
                                        ""};
    sb_puts(b, chance(90) ? "Host" : "host");
    sb_putc(b, ':');
    gen_ows(b);
    sb_puts(b, PICK(hosts));
    gen_ows(b);
    sb_puts(b, "\r\n");
}

static void gen_random_bytes(sbuf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sb_putc(b, (char)below(256));
}

static void gen_chunk_ext(sbuf *b)
{
    static const char *const exts[] = {
        ";a", ";name=value", ";q=\"quoted; str\"", " ;x=1", ";a=b;c=d", "; sp = 2", ";\t t"};
    sb_puts(b, PICK(exts));
}

static void gen_chunked_body(sbuf *b)
{
    unsigned chunks = below(5);
    for (unsigned i = 0; i < chunks; i++) {
        unsigned n = 1 + below(200);
        if (chance(10))
            sb_puts(b, "000");
        if (chance(50))
            sb_printf(b, "%x", n);
        else
            sb_printf(b, "%X", n);
        if (chance(25))
            gen_chunk_ext(b);
        sb_puts(b, "\r\n");
        gen_random_bytes(b, n);
        sb_puts(b, "\r\n");
    }
    sb_puts(b, chance(20) ? "00" : "0");
    if (chance(20))
        gen_chunk_ext(b);
    sb_puts(b, "\r\n");
    unsigned trailers = chance(30) ? 1 + below(2) : 0;
    for (unsigned i = 0; i < trailers; i++)
        gen_field(b);
    sb_puts(b, "\r\n");
}

enum body_kind { BODY_NO, BODY_CL, BODY_CHUNKED, BODY_ANY };

/* A valid request with the given version (0 or 1) and body kind. */
static void gen_valid(sbuf *b, int minor, int body)
{
    const char *method = PICK(common_methods);
    if (body == BODY_ANY) {
        unsigned r = below(10);
        body = r < 4 ? BODY_NO : r < 7 ? BODY_CL : BODY_CHUNKED;
        if (minor == 0 && body == BODY_CHUNKED)
            body = BODY_CL;
    }
    if (chance(3))
        sb_puts(b, "\r\n");
    sb_puts(b, method);
    sb_putc(b, ' ');
    gen_target(b, method);
    sb_printf(b, " HTTP/1.%d\r\n", minor);
    unsigned fields = below(12);
    unsigned host_at = minor == 1 || chance(50) ? below(fields + 1) : 1000;
    size_t cl = body == BODY_CL ? below(300) : 0;
    unsigned framing_at = below(fields + 1);
    for (unsigned i = 0; i <= fields; i++) {
        if (i == host_at)
            gen_host(b);
        if (i == framing_at && body == BODY_CL) {
            sb_puts(b, chance(80) ? "Content-Length:" : "content-length:");
            gen_ows(b);
            sb_printf(b, "%s%zu", chance(5) ? "0" : "", cl);
            gen_ows(b);
            sb_puts(b, "\r\n");
        }
        if (i == framing_at && body == BODY_CHUNKED) {
            sb_puts(b, "Transfer-Encoding:");
            gen_ows(b);
            sb_puts(b, chance(80) ? "chunked" : "Chunked");
            gen_ows(b);
            sb_puts(b, "\r\n");
        }
        if (i < fields)
            gen_field(b);
    }
    if (chance(10))
        sb_puts(b, "Connection: keep-alive\r\n");
    if (chance(5) && minor == 1)
        sb_puts(b, "Expect: 100-continue\r\n");
    sb_puts(b, "\r\n");
    if (body == BODY_CL)
        gen_random_bytes(b, cl);
    else if (body == BODY_CHUNKED)
        gen_chunked_body(b);
}

/* Invalid and ambiguous requests, one fixed template each. Bodies are
 * complete so that a parser that accepts the head has the whole message. */
#define SHAPE(lit)                                                                                 \
    {                                                                                              \
        (lit), sizeof(lit) - 1                                                                     \
    }
static const struct shape {
    const char *s;
    size_t n;
} invalid_shapes[] = {
    /* Content-Length */
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: "
          "chunked\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: "
          "5\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 0\r\n\r\nhellohello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5a\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 18446744073709551616\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET / HTTP/1.1\r\nHost: "
          "h\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\n Content-Length: 5\r\n\r\nhello"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nX: y\r\n Content-Length: 5\r\n\r\nhello"),
    /* Transfer-Encoding */
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
          "chunked\r\n\r\n"
          "0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
          "chunked\r\n\r\n"
          "0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked-false\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: identity\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \x0b"
          "chunked\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    SHAPE(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
    /* line endings, control bytes */
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n\tc\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\nHost: h\n\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\nA: b\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\n\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\rA: b\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA: b\rc\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA: b\x00"
          "c\r\n\r\n"),
    SHAPE("GET /a\x00 HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA\x00: b\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA: b\x01"
          "c\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA: b\x7f"
          "c\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA: b\x1b"
          "c\r\n\r\n"),
    SHAPE("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\n\r\n\r\n"),
    /* field names */
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA : b\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA B: c\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\n: c\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA(b: c\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA:\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA:b\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\nA:   \t\r\n\r\n"),
    /* request line */
    SHAPE("get / HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("FOO / HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("BREW /pot HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("G(T / HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GE T / HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE(" GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"),
    SHAPE("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET /\r\n\r\n"),
    SHAPE("GET /\r\n"),
    SHAPE("GET / HTTP/0.9\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/2.0\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/1.2\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/3.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/1\r\nHost: h\r\n\r\n"),
    SHAPE("GET / http/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/11.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/1.10\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTPS/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
    SHAPE("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET /a\x0c"
          "b HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET /a\x7f"
          "b HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET /a\"b{|}\\^` HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("OPTIONS *x HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET ftp://h/a HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http://user@h/a HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http:///a HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET HTTP://H/a HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http://h?q HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET a/b HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET //a HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
    SHAPE("GET /?a=b?c HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http://a~b.c/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http://a%41b/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http://h:/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http://h:8x/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http://a\"b/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    SHAPE("GET http://[::1]:8080/p HTTP/1.1\r\nHost: h\r\n\r\n"),
    /* Expect */
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nhi"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\nContent-Length: 2\r\n\r\nhi"),
    /* chunked bodies */
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\ng\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
          "chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"),
    SHAPE(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n"),
    SHAPE(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 "
          "junk\r\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXY0\r\n\r\n"),
    SHAPE(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
          "chunked\r\n\r\n5;a=\x01\r\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
          "chunked\r\n\r\n5;a\rb\r\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          "ffffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          "00000000000000005\r\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
          "0000000000000005\r\nhello\r\n0\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nA: "
          "b\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nA : "
          "b\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nA: "
          "b\r\n c\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
          "chunked\r\n\r\n5\r\nhello\r\n0\r\nNoColon\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
          "chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n"
          "Host: h\r\n\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\n"),
    SHAPE("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"),
    /* incomplete heads */
    SHAPE("GET / HTTP/1.1\r\nHost: h\r\n"),
    SHAPE("GET / HTTP/1.1\r\nHost: h"),
    SHAPE("GET / HT"),
};

/* Shapes built in code: limits and random values. */
static void gen_limit_shape(sbuf *b, unsigned k)
{
    switch (k) {
    case 0: /* more than max_headers fields */
    case 1: {
        unsigned n = k == 0 ? 100 : 101;
        sb_puts(b, "GET / HTTP/1.1\r\nHost: h\r\n");
        for (unsigned i = 1; i < n; i++)
            sb_printf(b, "X-F%u: %u\r\n", i, i);
        sb_puts(b, "\r\n");
        break;
    }
    case 2: /* head over max_header_bytes */
    case 3: {
        size_t target = k == 2 ? 16384 : 16385;
        sb_puts(b, "GET / HTTP/1.1\r\nHost: h\r\nX-Big: ");
        size_t fixed = b->len + 4;
        for (size_t i = fixed; i < target; i++)
            sb_putc(b, 'a');
        sb_puts(b, "\r\n\r\n");
        break;
    }
    case 4: /* target of max_uri_bytes and one more */
    case 5: {
        size_t n = k == 4 ? 8192 : 8193;
        sb_puts(b, "GET /");
        for (size_t i = 1; i < n; i++)
            sb_putc(b, 'u');
        sb_puts(b, " HTTP/1.1\r\nHost: h\r\n\r\n");
        break;
    }
    case 6: /* body of max_body_bytes and one more */
    case 7: {
        size_t n = 1048576 + (k == 7);
        sb_printf(b, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %zu\r\n\r\n", n);
        for (size_t i = 0; i < n; i++)
            sb_putc(b, 'b');
        break;
    }
    case 8: { /* chunked body over max_body_bytes */
        sb_puts(b, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n100001\r\n");
        for (size_t i = 0; i < 0x100001; i++)
            sb_putc(b, 'c');
        sb_puts(b, "\r\n0\r\n\r\n");
        break;
    }
    default: { /* Content-Length far beyond the data sent */
        sb_printf(b, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %u\r\n\r\nabc", 2000000 + k);
        break;
    }
    }
}

/* Bytes a mutation inserts or overwrites with: the ones that matter. */
static char mutation_byte(void)
{
    static const char interesting[] = {'\r', '\n',       '\0',       ' ',  '\t', ':', ';',
                                       ',',  '0',        'a',        '#',  '?',  '/', '"',
                                       0x7f, (char)0x80, (char)0xff, 0x0b, 'F'};
    return chance(80) ? PICK(interesting) : (char)below(256);
}

static void mutate(sbuf *b)
{
    unsigned ops = 1 + below(3);
    for (unsigned k = 0; k < ops && b->len > 1; k++) {
        size_t at = below((unsigned)b->len);
        switch (below(5)) {
        case 0:
        case 1: b->p[at] = mutation_byte(); break;
        case 2:
            sb_reserve(b, 1);
            memmove(b->p + at + 1, b->p + at, b->len - at);
            b->p[at] = mutation_byte();
            b->len++;
            break;
        case 3:
            memmove(b->p + at, b->p + at + 1, b->len - at - 1);
            b->len--;
            break;
        default: { /* duplicate the line holding `at` */
            size_t s = at, e = at;
            while (s > 0 && b->p[s - 1] != '\n')
                s--;
            while (e < b->len && b->p[e] != '\n')
                e++;
            if (e < b->len)
                e++;
            size_t n = e - s;
            char *line = malloc(n ? n : 1);
            ck_assert_ptr_nonnull(line);
            memcpy(line, b->p + s, n);
            sb_reserve(b, n);
            memmove(b->p + e + n, b->p + e, b->len - e);
            memcpy(b->p + e, line, n);
            b->len += n;
            free(line);
            break;
        }
        }
    }
}

typedef struct corpus {
    sbuf *reqs;
    size_t n, cap;
} corpus;

static sbuf *corpus_add(corpus *c)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 1024;
        c->reqs = realloc(c->reqs, c->cap * sizeof *c->reqs);
        ck_assert_ptr_nonnull(c->reqs);
    }
    sbuf *b = &c->reqs[c->n++];
    memset(b, 0, sizeof *b);
    return b;
}

static void corpus_build(corpus *c)
{
    memset(c, 0, sizeof *c);
    rng_state = UINT64_C(0x7475726230646966); /* fixed: the corpus never changes */
    for (unsigned i = 0; i < 1800; i++)
        gen_valid(corpus_add(c), chance(20) ? 0 : 1, BODY_ANY);
    for (unsigned i = 0; i < 300; i++) { /* pipelined pairs */
        sbuf *b = corpus_add(c);
        gen_valid(b, 1, BODY_ANY);
        gen_valid(b, chance(20) ? 0 : 1, BODY_ANY);
    }
    for (size_t i = 0; i < sizeof invalid_shapes / sizeof invalid_shapes[0]; i++) {
        sb_put(corpus_add(c), invalid_shapes[i].s, invalid_shapes[i].n);
    }
    for (unsigned k = 0; k < 12; k++)
        gen_limit_shape(corpus_add(c), k);
    for (unsigned i = 0; i < 2600; i++) {
        sbuf *b = corpus_add(c);
        gen_valid(b, chance(15) ? 0 : 1, BODY_ANY);
        if (chance(15))
            gen_valid(b, 1, BODY_ANY);
        mutate(b);
    }
}

static void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->n; i++)
        sb_free(&c->reqs[i]);
    free(c->reqs);
}

/* ------------------------------------------------------------------------
 * What a parser made of an input
 * --------------------------------------------------------------------- */

#define MAX_MSGS 4
#define MAX_FIELDS 128

typedef struct span {
    size_t off, len;
} span;

typedef struct parsed_msg {
    span method, target, body;
    int major, minor;
    size_t nfields; /* may exceed MAX_FIELDS; only MAX_FIELDS are kept */
    span name[MAX_FIELDS], value[MAX_FIELDS];
} parsed_msg;

enum verdict { V_ACCEPT, V_REJECT, V_INCOMPLETE, V_UPGRADE };

typedef struct outcome {
    enum verdict verdict;
    int status;      /* libturbo: HTTP status; http-parser: enum http_errno */
    size_t fail_at;  /* libturbo: start of the request it stopped on */
    int in_body;     /* libturbo: the head was fine, the chunked body was not */
    int chunk_state; /* libturbo: decoder state at a body error */
    unsigned chunk_digits;
    size_t starts[MAX_MSGS]; /* libturbo: where each request began */
    size_t hp_parsed;        /* http-parser: bytes it consumed (where it stopped) */
    int hp_in_message;       /* http-parser: a message begun and not complete */
    int hp_last;             /* http-parser: 1 after a field callback, 2 after a value */
    int hp_headers_done;
    size_t nmsgs;
    parsed_msg msg[MAX_MSGS];
    sbuf data; /* every span points here */
} outcome;

static void outcome_reset(outcome *o)
{
    sbuf data = o->data;
    memset(o, 0, sizeof *o);
    o->data = data;
    o->data.len = 0;
}

static span keep(outcome *o, const char *p, size_t n)
{
    span s = {o->data.len, n};
    sb_put(&o->data, p, n);
    return s;
}

static parsed_msg *current(outcome *o)
{
    return o->nmsgs > 0 && o->nmsgs <= MAX_MSGS ? &o->msg[o->nmsgs - 1] : NULL;
}

/* ---- libturbo, driven like conn.c's handle_one() ------------------------ */

static turbo__header turbo_fields[10000];

static void run_turbo(const char *req, size_t len, outcome *o)
{
    const turbo__limits *lim = &default_limits;
    char *buf = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    size_t pos = 0;

    ck_assert_ptr_nonnull(buf);
    memcpy(buf, req, len);
    outcome_reset(o);
    o->verdict = V_ACCEPT;
    while (pos < len) {
        char *p = buf + pos;
        size_t avail = len - pos, total, body_off, body_len = 0;
        turbo__scan st;
        turbo__head h;

        memset(&st, 0, sizeof st);
        o->fail_at = pos;
        long r = turbo__head_scan(p, avail, &st, lim);
        if (r == 0) {
            /* Only empty lines left: the connection is idle, as after a
             * complete request (RFC 9112 2.2 lets them precede the next). */
            size_t i = 0;
            while (i + 1 < avail && p[i] == '\r' && p[i + 1] == '\n')
                i += 2;
            o->verdict = i == avail ? V_ACCEPT : V_INCOMPLETE;
            break;
        }
        if (r < 0) {
            o->verdict = V_REJECT;
            o->status = (int)-r;
            break;
        }
        int e = turbo__parse_head(p, (size_t)r, &h, turbo_fields, lim);
        if (e < 0) {
            o->verdict = V_REJECT;
            o->status = -e;
            break;
        }
        body_off = (size_t)r;
        if (h.chunked) {
            turbo__chunked ch;
            size_t in = (size_t)r, out = (size_t)r;
            turbo__chunked_init(&ch);
            int d = turbo__chunked_decode(&ch, p, avail, &in, &out, lim);
            if (d < 0) {
                o->verdict = V_REJECT;
                o->status = -d;
                o->in_body = 1;
                o->chunk_state = ch.state;
                o->chunk_digits = ch.digits;
                break;
            }
            if (d == 0) {
                o->verdict = V_INCOMPLETE;
                break;
            }
            body_len = out - (size_t)r;
            total = in;
        } else if (h.has_content_length && h.content_length != 0) {
            if (h.content_length > lim->max_body_bytes) {
                o->verdict = V_REJECT;
                o->status = 413;
                break;
            }
            if (avail - (size_t)r < h.content_length) {
                o->verdict = V_INCOMPLETE;
                break;
            }
            body_len = (size_t)h.content_length;
            total = (size_t)r + body_len;
        } else {
            total = (size_t)r;
        }
        o->nmsgs++;
        parsed_msg *m = current(o);
        if (m != NULL) {
            o->starts[o->nmsgs - 1] = pos;
            m->method = keep(o, h.method.ptr, h.method.len);
            m->target = keep(o, h.target.ptr, h.target.len);
            m->major = 1;
            m->minor = h.minor;
            m->nfields = h.num_headers;
            for (size_t i = 0; i < h.num_headers && i < MAX_FIELDS; i++) {
                m->name[i] = keep(o, h.headers[i].name.ptr, h.headers[i].name.len);
                m->value[i] = keep(o, h.headers[i].value.ptr, h.headers[i].value.len);
            }
            m->body = keep(o, p + body_off, body_len);
        }
        pos += total;
    }
    free(buf);
}

/* ---- http-parser -------------------------------------------------------- */

static int hp_begin(http_parser *hp)
{
    outcome *o = hp->data;
    o->nmsgs++;
    o->hp_in_message = 1;
    o->hp_last = 0;
    o->hp_headers_done = 0;
    parsed_msg *m = current(o);
    if (m != NULL) {
        m->target.off = m->body.off = o->data.len;
    }
    return 0;
}

static int hp_url(http_parser *hp, const char *at, size_t n)
{
    outcome *o = hp->data;
    parsed_msg *m = current(o);
    if (m != NULL) {
        if (m->target.len == 0)
            m->target.off = o->data.len;
        m->target.len += keep(o, at, n).len;
    }
    return 0;
}

static int hp_field(http_parser *hp, const char *at, size_t n)
{
    outcome *o = hp->data;
    parsed_msg *m = current(o);
    if (o->hp_headers_done || m == NULL) /* trailer fields are dropped, as libturbo does */
        return 0;
    if (o->hp_last != 1) {
        m->nfields++;
        if (m->nfields <= MAX_FIELDS) {
            m->name[m->nfields - 1].off = o->data.len;
            m->name[m->nfields - 1].len = 0;
            m->value[m->nfields - 1].off = o->data.len;
            m->value[m->nfields - 1].len = 0;
        }
    }
    o->hp_last = 1;
    if (m->nfields <= MAX_FIELDS)
        m->name[m->nfields - 1].len += keep(o, at, n).len;
    return 0;
}

static int hp_value(http_parser *hp, const char *at, size_t n)
{
    outcome *o = hp->data;
    parsed_msg *m = current(o);
    if (o->hp_headers_done || m == NULL || m->nfields == 0)
        return 0;
    if (o->hp_last != 2 && m->nfields <= MAX_FIELDS) {
        m->value[m->nfields - 1].off = o->data.len;
        m->value[m->nfields - 1].len = 0;
    }
    o->hp_last = 2;
    if (m->nfields <= MAX_FIELDS)
        m->value[m->nfields - 1].len += keep(o, at, n).len;
    return 0;
}

static int hp_headers_complete(http_parser *hp)
{
    outcome *o = hp->data;
    parsed_msg *m = current(o);
    o->hp_headers_done = 1;
    if (m != NULL) {
        const char *name = http_method_str((enum http_method)hp->method);
        m->method = keep(o, name, strlen(name));
        m->major = hp->http_major;
        m->minor = hp->http_minor;
        m->body.off = o->data.len;
        m->body.len = 0;
    }
    return 0;
}

static int hp_body(http_parser *hp, const char *at, size_t n)
{
    outcome *o = hp->data;
    parsed_msg *m = current(o);
    if (m != NULL)
        m->body.len += keep(o, at, n).len;
    return 0;
}

static int hp_complete(http_parser *hp)
{
    outcome *o = hp->data;
    o->hp_in_message = 0;
    return 0;
}

/* OWS around a value is not part of it (RFC 9112 5.1); http-parser keeps
 * the trailing OWS, so it is trimmed before comparing. */
static void trim_values(outcome *o)
{
    for (size_t k = 0; k < o->nmsgs && k < MAX_MSGS; k++) {
        parsed_msg *m = &o->msg[k];
        for (size_t i = 0; i < m->nfields && i < MAX_FIELDS; i++) {
            span *v = &m->value[i];
            while (v->len > 0 && (o->data.p[v->off] == ' ' || o->data.p[v->off] == '\t')) {
                v->off++;
                v->len--;
            }
            while (v->len > 0 && (o->data.p[v->off + v->len - 1] == ' ' ||
                                  o->data.p[v->off + v->len - 1] == '\t'))
                v->len--;
        }
    }
}

static void run_http_parser(const char *req, size_t len, outcome *o)
{
    http_parser_settings s;
    http_parser hp;

    http_parser_settings_init(&s);
    s.on_message_begin = hp_begin;
    s.on_url = hp_url;
    s.on_header_field = hp_field;
    s.on_header_value = hp_value;
    s.on_headers_complete = hp_headers_complete;
    s.on_body = hp_body;
    s.on_message_complete = hp_complete;
    outcome_reset(o);
    http_parser_init(&hp, HTTP_REQUEST);
    hp.data = o;
    size_t n = http_parser_execute(&hp, &s, req, len);
    o->hp_parsed = n;
    if (HTTP_PARSER_ERRNO(&hp) != HPE_OK) {
        o->verdict = V_REJECT;
        o->status = (int)HTTP_PARSER_ERRNO(&hp);
    } else if (hp.upgrade) {
        o->verdict = V_UPGRADE;
    } else if (o->hp_in_message || n != len) {
        o->verdict = V_INCOMPLETE;
    } else {
        o->verdict = V_ACCEPT;
    }
    trim_values(o);
}

/* ------------------------------------------------------------------------
 * Features of a request head, found by a lenient reading of its bytes:
 * what could explain a parser's refusal.
 * --------------------------------------------------------------------- */

enum {
    F_BARE_LF = 1u << 0,        /* a line ended by LF alone */
    F_BARE_CR = 1u << 1,        /* CR not followed by LF */
    F_CTL = 1u << 2,            /* NUL, other control byte or DEL in the head */
    F_HTTP09 = 1u << 3,         /* request line without a version */
    F_RL_SPACES = 1u << 4,      /* empty element or extra element in the request line */
    F_METHOD_BAD = 1u << 5,     /* method not a token */
    F_METHOD_EXT = 1u << 6,     /* a token method http-parser does not list */
    F_CONNECT = 1u << 7,        /* CONNECT (authority-form) */
    F_TGT_FRAGMENT = 1u << 8,   /* '#' in the target */
    F_TGT_BYTES = 1u << 9,      /* a byte outside VCHAR in the target */
    F_TGT_FORM = 1u << 10,      /* not origin-, absolute- (http/https) or asterisk-form */
    F_VERSION_OTHER = 1u << 11, /* HTTP/d.d other than 1.0, 1.1 */
    F_VERSION_BAD = 1u << 12,   /* not HTTP/d.d */
    F_OBS_FOLD = 1u << 13,
    F_NAME_WS = 1u << 14,  /* whitespace in a field name / before the colon */
    F_NAME_BAD = 1u << 15, /* no colon, empty or non-token name */
    F_NO_HOST = 1u << 16,  /* HTTP/1.1 without Host */
    F_MULTI_HOST = 1u << 17,
    F_CL_BAD = 1u << 18, /* Content-Length not 1*DIGIT below 2^63 */
    F_CL_DUP = 1u << 19,
    F_CL_TE = 1u << 20,
    F_TE_10 = 1u << 21,   /* Transfer-Encoding in HTTP/1.0 */
    F_TE_LIST = 1u << 22, /* chunked twice or not last, or an empty element */
    F_TE_OTHER = 1u << 23,
    F_EXPECT = 1u << 24, /* Expect other than 100-continue */
    F_MANY_FIELDS = 1u << 25,
    F_HEAD_BIG = 1u << 26,
    F_URI_LONG = 1u << 27,
    F_HEAD_OPEN = 1u << 28, /* no empty line ends the head */
    F_CONN_BAD = 1u << 29,  /* a Connection option that is not a token */
};

static int is_tchar(char c)
{
    return c != '\0' && strchr(tchars, c) != NULL;
}

static int all_tchars(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_tchar(s[i]))
            return 0;
    return 1;
}

static int ci_eq(const char *s, size_t n, const char *lit)
{
    if (strlen(lit) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return 0;
    }
    return 1;
}

static int hp_knows_method(const char *s, size_t n)
{
#define TURBO_DIFF_METHOD(num, name, string)                                                       \
    if (n == sizeof(#string) - 1 && memcmp(s, #string, n) == 0)                                    \
        return 1;
    HTTP_METHOD_MAP(TURBO_DIFF_METHOD)
#undef TURBO_DIFF_METHOD
    return 0;
}

static void trim_ows(const char **s, size_t *n)
{
    while (*n > 0 && (**s == ' ' || **s == '\t')) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static unsigned target_features(const char *t, size_t n, const char *method, size_t mlen)
{
    unsigned f = 0;
    if (n > default_limits.max_uri_bytes)
        f |= F_URI_LONG;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '#')
            f |= F_TGT_FRAGMENT;
        else if (c < 0x21 || c > 0x7e)
            f |= F_TGT_BYTES;
    }
    if (n > 0 && t[0] == '/')
        return f;
    if (n == 1 && t[0] == '*' && mlen == 7 && memcmp(method, "OPTIONS", 7) == 0)
        return f;
    size_t a = n >= 7 && ci_eq(t, 7, "http://") ? 7 : n >= 8 && ci_eq(t, 8, "https://") ? 8 : 0;
    if (a == 0)
        return f | F_TGT_FORM;
    size_t e = a;
    while (e < n && t[e] != '/' && t[e] != '?')
        e++;
    /* authority = host [":" port] (RFC 3986 3.2), no userinfo */
    size_t i = a, h;
    if (i < e && t[i] == '[') {
        while (++i < e && t[i] != ']')
            if (!strchr("0123456789abcdefABCDEF:.", t[i]))
                return f | F_TGT_FORM;
        if (i == e || i == a + 1)
            return f | F_TGT_FORM;
        i++;
    } else {
        while (i < e && t[i] != ':' && t[i] != '\0' && strchr(pchars, t[i]) != NULL && t[i] != '@')
            i++;
    }
    h = i;
    if (h == a)
        return f | F_TGT_FORM;
    if (i < e && t[i] == ':')
        for (i++; i < e && t[i] >= '0' && t[i] <= '9';)
            i++;
    return i == e ? f : f | F_TGT_FORM;
}

static unsigned request_line_features(const char *l, size_t n, int *minor)
{
    const char *part[4];
    size_t plen[4], parts = 0, i = 0;
    unsigned f = 0;

    *minor = 1;
    while (i <= n && parts < 4) {
        size_t s = i;
        while (i < n && l[i] != ' ')
            i++;
        part[parts] = l + s;
        plen[parts] = i - s;
        if (plen[parts] == 0)
            f |= F_RL_SPACES;
        parts++;
        i++;
    }
    if (parts == 4 || (parts == 3 && i <= n))
        f |= F_RL_SPACES;
    if (parts >= 1) {
        if (!all_tchars(part[0], plen[0]))
            f |= F_METHOD_BAD;
        else if (!hp_knows_method(part[0], plen[0]))
            f |= F_METHOD_EXT;
        if (plen[0] == 7 && memcmp(part[0], "CONNECT", 7) == 0)
            f |= F_CONNECT;
    }
    if (parts >= 2)
        f |= target_features(part[1], plen[1], part[0], plen[0]);
    if (parts == 2)
        f |= F_HTTP09;
    if (parts >= 3) {
        const char *v = part[2];
        if (plen[2] == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' &&
            v[6] == '.' && v[7] >= '0' && v[7] <= '9') {
            if (v[5] != '1' || v[7] > '1')
                f |= F_VERSION_OTHER;
            *minor = v[7] - '0';
        } else {
            f |= F_VERSION_BAD;
        }
    }
    return f;
}

static unsigned field_features(const char *l, size_t n, int minor, unsigned counts[4], int te[3])
{
    unsigned f = 0;
    const char *colon = memchr(l, ':', n);
    if (n > 0 && (l[0] == ' ' || l[0] == '\t'))
        return F_OBS_FOLD;
    if (colon == NULL || colon == l)
        return F_NAME_BAD;
    size_t nl = (size_t)(colon - l);
    if (memchr(l, ' ', nl) != NULL || memchr(l, '\t', nl) != NULL)
        f |= F_NAME_WS;
    else if (!all_tchars(l, nl))
        f |= F_NAME_BAD;
    const char *v = colon + 1;
    size_t vl = n - nl - 1;
    trim_ows(&v, &vl);
    if (ci_eq(l, nl, "host")) {
        counts[0]++;
    } else if (ci_eq(l, nl, "content-length")) {
        uint64_t x = 0;
        counts[1]++;
        if (vl == 0)
            f |= F_CL_BAD;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9' || x > (UINT64_C(0x7fffffffffffffff) - 9) / 10) {
                f |= F_CL_BAD;
                break;
            }
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
    } else if (ci_eq(l, nl, "transfer-encoding")) {
        size_t s = 0;
        counts[2]++;
        if (minor == 0)
            f |= F_TE_10;
        while (s <= vl) {
            size_t e = s;
            while (e < vl && v[e] != ',')
                e++;
            const char *el = v + s;
            size_t en = e - s;
            trim_ows(&el, &en);
            if (en == 0) {
                f |= F_TE_LIST;
            } else if (ci_eq(el, en, "chunked")) {
                te[0]++;
                te[1] = 1;
            } else {
                te[2] = 1;
                te[1] = 0;
            }
            s = e + 1;
        }
    } else if (ci_eq(l, nl, "connection")) {
        size_t s = 0;
        while (s <= vl) {
            size_t e = s;
            while (e < vl && v[e] != ',')
                e++;
            const char *el = v + s;
            size_t en = e - s;
            trim_ows(&el, &en);
            if (en > 0 && !all_tchars(el, en))
                f |= F_CONN_BAD;
            s = e + 1;
        }
    } else if (ci_eq(l, nl, "expect")) {
        if (!ci_eq(v, vl, "100-continue"))
            f |= F_EXPECT;
    }
    counts[3]++;
    return f;
}

/* Features of the request starting at b (the one libturbo stopped on). */
static unsigned head_features(const char *b, size_t n)
{
    unsigned f = 0, counts[4] = {0, 0, 0, 0};
    int te[3] = {0, 0, 0}; /* chunked count, last was chunked, other coding */
    int minor = 1, line_no = 0;
    size_t i = 0;

    while (i < n && (b[i] == '\r' || b[i] == '\n')) {
        if (b[i] == '\n' && (i == 0 || b[i - 1] != '\r'))
            f |= F_BARE_LF;
        i++;
    }
    for (;;) {
        size_t s = i;
        while (i < n && b[i] != '\n')
            i++;
        if (i == n) { /* what there is of the last line counts too */
            for (size_t k = s; k < n; k++)
                if (b[k] == '\r' && (k + 1 < n || line_no == 0))
                    f |= F_BARE_CR;
            f |= F_HEAD_OPEN;
            break;
        }
        size_t e = i;
        if (e > s && b[e - 1] == '\r')
            e--;
        else
            f |= F_BARE_LF;
        i++;
        for (size_t k = s; k < e; k++) {
            unsigned char c = (unsigned char)b[k];
            if (c == '\r')
                f |= F_BARE_CR;
            else if ((c < 0x20 && c != '\t') || c == 0x7f)
                f |= F_CTL;
        }
        if (e == s && line_no > 0)
            break;
        if (line_no++ == 0)
            f |= request_line_features(b + s, e - s, &minor);
        else
            f |= field_features(b + s, e - s, minor, counts, te);
    }
    if (i > default_limits.max_header_bytes)
        f |= F_HEAD_BIG;
    if (counts[3] > default_limits.max_headers)
        f |= F_MANY_FIELDS;
    if (minor == 1 && counts[0] == 0)
        f |= F_NO_HOST;
    if (counts[0] > 1)
        f |= F_MULTI_HOST;
    if (counts[1] > 1)
        f |= F_CL_DUP;
    if (counts[1] > 0 && counts[2] > 0)
        f |= F_CL_TE;
    if (te[0] > 1 || (te[0] == 1 && !te[1]))
        f |= F_TE_LIST;
    if (te[2])
        f |= F_TE_OTHER;
    return f;
}

/* ------------------------------------------------------------------------
 * Categories
 * --------------------------------------------------------------------- */

/* libturbo's chunked decoder states (parse.c), checked by
 * chunk_decoder_states_are_the_ones_classified_on below. */
enum {
    ST_SIZE0,
    ST_SIZE,
    ST_SIZE_BWS,
    ST_EXT,
    ST_SIZE_LF,
    ST_DATA,
    ST_DATA_CR,
    ST_DATA_LF,
    ST_TRAILER
};

typedef struct category {
    const char *name;
    int allowed; /* libturbo deliberately differs; documented in docs/differential.md */
    unsigned count;
    char example[160];
} category;

enum {
    /* allowed: libturbo stricter */
    C_LIMIT_431,
    C_LIMIT_414,
    C_LIMIT_413,
    C_VERSION_505,
    C_TE_OTHER_501,
    C_EXPECT_417,
    C_HTTP09,
    C_BARE_LF,
    C_BARE_CR,
    C_CTL,
    C_OBS_FOLD,
    C_NAME_WS,
    C_NAME_BAD,
    C_METHOD_BAD,
    C_CONNECT,
    C_TGT_FRAGMENT,
    C_TGT_BYTES,
    C_TGT_FORM,
    C_RL_SPACES,
    C_VERSION_BAD,
    C_HOST,
    C_TE_10,
    C_TE_LIST,
    C_CL,
    C_CONNECTION,
    C_CHUNK_SIZE,
    C_CHUNK_BWS,
    C_CHUNK_EXT,
    C_CHUNK_CRLF,
    C_TRAILER,
    C_HEAD_PENDING,
    /* allowed: http-parser wrong per RFC */
    C_METHOD_EXT,
    C_HP_TAB,
    /* never allowed */
    C_STRICT_UNEXPLAINED,
    C_TURBO_LENIENT,
    C_FRAMING,
    C_DIFF_COUNT,
    C_DIFF_METHOD,
    C_DIFF_TARGET,
    C_DIFF_VERSION,
    C_DIFF_FIELDS,
    C_DIFF_BODY,
    C_SIMD_SCALAR,
    C_COUNT
};

static category categories[C_COUNT] = {
    [C_LIMIT_431] = {"431: head over max_header_bytes or fields over max_headers", 1, 0, ""},
    [C_LIMIT_414] = {"414: request-target over max_uri_bytes", 1, 0, ""},
    [C_LIMIT_413] = {"413: body over max_body_bytes", 1, 0, ""},
    [C_VERSION_505] = {"505: HTTP version other than 1.0/1.1, http-parser accepts", 1, 0, ""},
    [C_TE_OTHER_501] = {"501: transfer coding other than chunked, http-parser accepts", 1, 0, ""},
    [C_EXPECT_417] = {"417: Expect other than 100-continue, http-parser ignores it", 1, 0, ""},
    [C_HTTP09] = {"libturbo rejects HTTP/0.9 request line, http-parser accepts", 1, 0, ""},
    [C_BARE_LF] = {"libturbo rejects bare LF line ending, http-parser accepts", 1, 0, ""},
    [C_BARE_CR] = {"libturbo rejects bare CR, http-parser accepts", 1, 0, ""},
    [C_CTL] = {"libturbo rejects control byte in head, http-parser accepts", 1, 0, ""},
    [C_OBS_FOLD] = {"libturbo rejects obs-fold, http-parser accepts", 1, 0, ""},
    [C_NAME_WS] = {"libturbo rejects whitespace in name/before colon, http-parser accepts", 1, 0,
                   ""},
    [C_NAME_BAD] = {"libturbo rejects malformed field line, http-parser accepts", 1, 0, ""},
    [C_METHOD_BAD] = {"libturbo rejects non-token method, http-parser accepts", 1, 0, ""},
    [C_CONNECT] = {"libturbo rejects CONNECT (authority-form), http-parser accepts", 1, 0, ""},
    [C_TGT_FRAGMENT] = {"libturbo rejects '#' fragment in target, http-parser accepts", 1, 0, ""},
    [C_TGT_BYTES] = {"libturbo rejects non-VCHAR byte in target, http-parser accepts", 1, 0, ""},
    [C_TGT_FORM] = {"libturbo rejects target form it does not serve, http-parser accepts", 1, 0,
                    ""},
    [C_RL_SPACES] = {"libturbo rejects extra whitespace in request line, http-parser accepts", 1, 0,
                     ""},
    [C_VERSION_BAD] = {"libturbo rejects malformed HTTP-version, http-parser accepts", 1, 0, ""},
    [C_HOST] = {"libturbo rejects HTTP/1.1 without Host or with Host twice, http-parser accepts", 1,
                0, ""},
    [C_TE_10] = {"libturbo rejects Transfer-Encoding in HTTP/1.0, http-parser accepts", 1, 0, ""},
    [C_TE_LIST] = {"libturbo rejects chunked twice or empty TE element, http-parser accepts", 1, 0,
                   ""},
    [C_CL] = {"libturbo rejects Content-Length ambiguity, http-parser accepts", 1, 0, ""},
    [C_CONNECTION] = {"libturbo rejects non-token Connection option, http-parser accepts", 1, 0,
                      ""},
    [C_CHUNK_SIZE] = {"libturbo rejects chunk-size line, http-parser accepts", 1, 0, ""},
    [C_CHUNK_BWS] = {"libturbo rejects whitespace after chunk-size without ';', http-parser "
                     "accepts",
                     1, 0, ""},
    [C_CHUNK_EXT] = {"libturbo rejects chunk-ext outside RFC 9112 7.1.1, http-parser accepts", 1, 0, ""},
    [C_CHUNK_CRLF] = {"libturbo rejects chunk-data not followed by CRLF, http-parser accepts", 1, 0,
                      ""},
    [C_TRAILER] = {"libturbo rejects malformed trailer field, http-parser accepts", 1, 0, ""},
    [C_HEAD_PENDING] = {"libturbo waits for the end of the head, then rejects; http-parser rejects "
                        "earlier",
                        1, 0, ""},
    [C_METHOD_EXT] = {"libturbo accepts extension/lowercase method, http-parser rejects", 1, 0, ""},
    [C_HP_TAB] = {"http-parser rejects HTAB after Content-Length/Transfer-Encoding value, libturbo "
                  "accepts",
                  1, 0, ""},

    [C_STRICT_UNEXPLAINED] = {"BUG? libturbo rejects, http-parser accepts, no known reason", 0, 0,
                              ""},
    [C_TURBO_LENIENT] = {"BUG: libturbo accepts, http-parser rejects", 0, 0, ""},
    [C_FRAMING] = {"BUG: framing differs (complete vs incomplete/upgrade)", 0, 0, ""},
    [C_DIFF_COUNT] = {"BUG: different number of requests", 0, 0, ""},
    [C_DIFF_METHOD] = {"BUG: different method", 0, 0, ""},
    [C_DIFF_TARGET] = {"BUG: different request-target", 0, 0, ""},
    [C_DIFF_VERSION] = {"BUG: different version", 0, 0, ""},
    [C_DIFF_FIELDS] = {"BUG: different header fields", 0, 0, ""},
    [C_DIFF_BODY] = {"BUG: different body", 0, 0, ""},
    [C_SIMD_SCALAR] = {"BUG: libturbo SSE4.2 and scalar paths disagree", 0, 0, ""},
};

/* Why libturbo refused what http-parser did not. */
static int classify_stricter(const char *req, size_t len, const outcome *t)
{
    const char *b = req + t->fail_at;
    size_t n = len - t->fail_at;
    unsigned f = head_features(b, n);

    if (t->in_body) {
        if (t->status == 413)
            return C_LIMIT_413;
        if (t->status == 431)
            return C_TRAILER;
        switch (t->chunk_state) {
        case ST_SIZE0:
        case ST_SIZE:
        case ST_SIZE_LF: return C_CHUNK_SIZE;
        case ST_SIZE_BWS: return C_CHUNK_BWS;
        case ST_EXT: return C_CHUNK_EXT;
        case ST_DATA_CR:
        case ST_DATA_LF: return C_CHUNK_CRLF;
        default: return t->chunk_state >= ST_TRAILER ? C_TRAILER : C_STRICT_UNEXPLAINED;
        }
    }
    switch (t->status) {
    case 431: return (f & (F_HEAD_BIG | F_MANY_FIELDS)) ? C_LIMIT_431 : C_STRICT_UNEXPLAINED;
    case 414: return (f & F_URI_LONG) ? C_LIMIT_414 : C_STRICT_UNEXPLAINED;
    case 413: return C_LIMIT_413;
    case 505: return (f & F_VERSION_OTHER) ? C_VERSION_505 : C_STRICT_UNEXPLAINED;
    case 501: return (f & F_TE_OTHER) ? C_TE_OTHER_501 : C_STRICT_UNEXPLAINED;
    case 417: return (f & F_EXPECT) ? C_EXPECT_417 : C_STRICT_UNEXPLAINED;
    case 400: break;
    default: return C_STRICT_UNEXPLAINED;
    }
    static const struct {
        unsigned feature;
        int category;
    } order[] = {
        {F_HTTP09, C_HTTP09},
        {F_BARE_LF, C_BARE_LF},
        {F_BARE_CR, C_BARE_CR},
        {F_CTL, C_CTL},
        {F_OBS_FOLD, C_OBS_FOLD},
        {F_NAME_WS, C_NAME_WS},
        {F_NAME_BAD, C_NAME_BAD},
        {F_METHOD_BAD, C_METHOD_BAD},
        {F_RL_SPACES, C_RL_SPACES},
        {F_CONNECT, C_CONNECT},
        {F_TGT_FRAGMENT, C_TGT_FRAGMENT},
        {F_TGT_BYTES, C_TGT_BYTES},
        {F_TGT_FORM, C_TGT_FORM},
        {F_VERSION_BAD, C_VERSION_BAD},
        {F_NO_HOST | F_MULTI_HOST, C_HOST},
        {F_TE_10, C_TE_10},
        {F_TE_LIST, C_TE_LIST},
        {F_CL_BAD | F_CL_DUP | F_CL_TE, C_CL},
        {F_CONN_BAD, C_CONNECTION},
    };
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (f & order[i].feature)
            return order[i].category;
    return C_STRICT_UNEXPLAINED;
}

static int span_eq(const outcome *a, span x, const outcome *b, span y)
{
    return x.len == y.len &&
           (x.len == 0 || memcmp(a->data.p + x.off, b->data.p + y.off, x.len) == 0);
}

/* Both accepted: the first difference in what they parsed, or -1. */
static int compare_messages(const outcome *t, const outcome *h)
{
    if (t->nmsgs != h->nmsgs)
        return C_DIFF_COUNT;
    for (size_t k = 0; k < t->nmsgs && k < MAX_MSGS; k++) {
        const parsed_msg *a = &t->msg[k], *b = &h->msg[k];
        if (!span_eq(t, a->method, h, b->method))
            return C_DIFF_METHOD;
        if (!span_eq(t, a->target, h, b->target))
            return C_DIFF_TARGET;
        if (a->major != b->major || a->minor != b->minor)
            return C_DIFF_VERSION;
        if (a->nfields != b->nfields)
            return C_DIFF_FIELDS;
        for (size_t i = 0; i < a->nfields && i < MAX_FIELDS; i++)
            if (!span_eq(t, a->name[i], h, b->name[i]) || !span_eq(t, a->value[i], h, b->value[i]))
                return C_DIFF_FIELDS;
        if (!span_eq(t, a->body, h, b->body))
            return C_DIFF_BODY;
    }
    return -1;
}

/* The category of one input, or -1 when the parsers agree. */
/* http-parser (2.9.4) stops at an HTAB after the value of Content-Length
 * or Transfer-Encoding, though OWS is not part of a value (RFC 9112 5.1).
 * A copy where that HTAB is a SP; NULL when there is none. */
static sbuf *framing_tabs_as_spaces(const char *req, size_t len, sbuf *out)
{
    int changed = 0;
    out->len = 0;
    sb_put(out, req, len);
    for (size_t s = 0; s < len;) {
        size_t e = s;
        while (e < len && out->p[e] != '\r' && out->p[e] != '\n')
            e++;
        if (e - s > 15 && (ci_eq(out->p + s, 15, "content-length:") ||
                           (e - s > 18 && ci_eq(out->p + s, 18, "transfer-encoding:")))) {
            for (size_t k = e; k > s && (out->p[k - 1] == ' ' || out->p[k - 1] == '\t'); k--)
                if (out->p[k - 1] == '\t') {
                    out->p[k - 1] = ' ';
                    changed = 1;
                }
        }
        s = e + 1;
    }
    return changed ? out : NULL;
}

/* http-parser refused: does it agree with libturbo once the HTAB after a
 * framing value is a SP? *h2 gets its outcome on that input (or a copy of
 * the status of h when there is no such HTAB). */
static int hp_tab_explains(const char *req, size_t len, const outcome *t, const outcome *h,
                           outcome *h2)
{
    sbuf fixed = {0, 0, 0};
    int r = 0;
    if (framing_tabs_as_spaces(req, len, &fixed) != NULL) {
        run_http_parser(fixed.p, fixed.len, h2);
        r = h2->verdict == t->verdict && (t->verdict != V_ACCEPT || compare_messages(t, h2) < 0);
    } else {
        h2->verdict = h->verdict;
        h2->status = h->status;
        h2->hp_parsed = h->hp_parsed;
    }
    sb_free(&fixed);
    return r;
}

/* libturbo accepted, http-parser refused: is http-parser the one wrong? */
static int classify_lenient(const char *req, size_t len, const outcome *t, const outcome *h)
{
    if (h->verdict != V_REJECT)
        return C_TURBO_LENIENT;
    /* The request http-parser stopped in, as libturbo read it. */
    size_t at = 0;
    for (size_t k = 0; k < t->nmsgs && k < MAX_MSGS; k++)
        if (t->starts[k] <= h->hp_parsed)
            at = t->starts[k];
    unsigned f = head_features(req + at, len - at);
    enum http_errno e = (enum http_errno)h->status;
    if ((f & F_METHOD_EXT) && e == HPE_INVALID_METHOD)
        return C_METHOD_EXT;
    return C_TURBO_LENIENT;
}

static int classify(const char *req, size_t len, const outcome *t, const outcome *h)
{
    if (h->verdict == V_UPGRADE) /* only CONNECT here: the corpus sends no Upgrade */
        return t->verdict == V_REJECT ? classify_stricter(req, len, t) : C_FRAMING;
    if (t->verdict == V_REJECT && h->verdict == V_REJECT)
        return -1;
    if (t->verdict == V_INCOMPLETE && h->verdict == V_INCOMPLETE)
        return -1;
    if (t->verdict == V_ACCEPT && h->verdict == V_ACCEPT)
        return compare_messages(t, h);
    if (h->verdict == V_REJECT) {
        outcome h2;
        memset(&h2, 0, sizeof h2);
        int tab = hp_tab_explains(req, len, t, h, &h2);
        int r = tab ? C_HP_TAB : t->verdict == V_ACCEPT ? classify_lenient(req, len, t, &h2) : -2;
        sb_free(&h2.data);
        if (r != -2)
            return r;
    }
    if (t->verdict == V_REJECT) /* http-parser accepts, or waits for more */
        return classify_stricter(req, len, t);
    if (t->verdict == V_INCOMPLETE && h->verdict == V_REJECT) {
        /* Does libturbo refuse it once the head is complete? */
        unsigned f = head_features(req + t->fail_at, len - t->fail_at);
        if (f & F_HEAD_OPEN) {
            static const char end[] = "\r\n\r\n";
            sbuf more = {0, 0, 0};
            outcome again;
            memset(&again, 0, sizeof again);
            sb_put(&more, req, len);
            sb_put(&more, end, sizeof end - 1);
            run_turbo(more.p, more.len, &again);
            int r = again.verdict == V_REJECT ? C_HEAD_PENDING : C_TURBO_LENIENT;
            sb_free(&again.data);
            sb_free(&more);
            return r;
        }
        return C_FRAMING;
    }
    return C_FRAMING;
}

/* Printable, bounded copy of a request for the table. */
static void describe(char *out, size_t cap, const char *req, size_t len, const outcome *t,
                     const outcome *h)
{
    static const char *const names[] = {"accept", "reject", "incomplete", "upgrade"};
    size_t o = 0;
    int n = snprintf(out, cap, "[turbo %s %d | http-parser %s %s] ", names[t->verdict], t->status,
                     names[h->verdict],
                     h->verdict == V_REJECT ? http_errno_name((enum http_errno)h->status) : "");
    o = n > 0 ? (size_t)n : 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)req[i];
        if (c == '\r')
            o += (size_t)snprintf(out + o, cap - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(out + o, cap - o, "\\n");
        else if (c == '\t')
            o += (size_t)snprintf(out + o, cap - o, "\\t");
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static int turbo_outcomes_equal(const outcome *a, const outcome *b)
{
    if (a->verdict != b->verdict || a->status != b->status || a->nmsgs != b->nmsgs)
        return 0;
    return a->verdict != V_ACCEPT || compare_messages(a, b) < 0;
}

/* Runs the corpus through both parsers; fills categories; returns the
 * number of inputs and of agreements. */
static void run_corpus(size_t *inputs, size_t *agreed)
{
    corpus c;
    outcome t, t2, h;

    memset(&t, 0, sizeof t);
    memset(&t2, 0, sizeof t2);
    memset(&h, 0, sizeof h);
    for (int k = 0; k < C_COUNT; k++) {
        categories[k].count = 0;
        categories[k].example[0] = '\0';
    }
    corpus_build(&c);
    *inputs = c.n;
    *agreed = 0;
    for (size_t i = 0; i < c.n; i++) {
        const char *req = c.reqs[i].p;
        size_t len = c.reqs[i].len;
        turbo__parse_use_simd(1);
        run_turbo(req, len, &t);
        turbo__parse_use_simd(0);
        run_turbo(req, len, &t2);
        turbo__parse_use_simd(1);
        run_http_parser(req, len, &h);
        int k = turbo_outcomes_equal(&t, &t2) ? classify(req, len, &t, &h) : C_SIMD_SCALAR;
        if (k < 0) {
            (*agreed)++;
            continue;
        }
        if (getenv("DIFF_VERBOSE") != NULL && !categories[k].allowed) {
            char tmp[1500];
            describe(tmp, sizeof tmp, req, len, &t, &h);
            printf("%s: %s\n", categories[k].name, tmp);
        }
        if (categories[k].count++ == 0)
            describe(categories[k].example, sizeof categories[k].example, req, len, &t, &h);
    }
    sb_free(&t.data);
    sb_free(&t2.data);
    sb_free(&h.data);
    corpus_free(&c);
}

static void print_table(size_t inputs, size_t agreed)
{
    printf("\ndifferential: %zu inputs, %zu agree\n", inputs, agreed);
    printf("%-8s %6s  %s\n", "allowed", "count", "category / example");
    for (int k = 0; k < C_COUNT; k++) {
        if (categories[k].count == 0)
            continue;
        printf("%-8s %6u  %s\n%16s%s\n", categories[k].allowed ? "yes" : "NO", categories[k].count,
               categories[k].name, "", categories[k].example);
    }
    fflush(stdout);
}

/* ------------------------------------------------------------------------
 * Tests
 * --------------------------------------------------------------------- */

START_TEST(disagreements_are_all_allow_listed)
{
    size_t inputs, agreed;
    run_corpus(&inputs, &agreed);
    print_table(inputs, agreed);
    ck_assert_uint_ge(inputs, 4000);
    for (int k = 0; k < C_COUNT; k++)
        ck_assert_msg(categories[k].allowed || categories[k].count == 0, "%u x %s, e.g. %s",
                      categories[k].count, categories[k].name, categories[k].example);
}
END_TEST

START_TEST(corpus_is_deterministic)
{
    corpus a, b;
    corpus_build(&a);
    corpus_build(&b);
    ck_assert_uint_eq(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
        ck_assert_uint_eq(a.reqs[i].len, b.reqs[i].len);
        ck_assert_mem_eq(a.reqs[i].p, b.reqs[i].p, a.reqs[i].len);
    }
    corpus_free(&a);
    corpus_free(&b);
}
END_TEST

/* Categories where libturbo accepts what RFC 9110/9112 allow and
 * http-parser refuses it. */
static int http_parser_is_wrong(int k)
{
    return k == C_METHOD_EXT || k == C_HP_TAB;
}

START_TEST(valid_corpus_requests_agree_exactly)
{
    /* The unmutated valid requests (and pipelined pairs) come first:
     * libturbo accepts them all, and where http-parser does not, it is
     * http-parser that is wrong. */
    corpus c;
    outcome t, h;
    memset(&t, 0, sizeof t);
    memset(&h, 0, sizeof h);
    corpus_build(&c);
    for (size_t i = 0; i < 2100; i++) {
        run_turbo(c.reqs[i].p, c.reqs[i].len, &t);
        run_http_parser(c.reqs[i].p, c.reqs[i].len, &h);
        ck_assert_msg(t.verdict == V_ACCEPT, "libturbo refused valid request %zu (%d)", i,
                      t.status);
        int k = classify(c.reqs[i].p, c.reqs[i].len, &t, &h);
        ck_assert_msg(k < 0 || http_parser_is_wrong(k), "valid request %zu: %s", i,
                      categories[k].name);
    }
    sb_free(&t.data);
    sb_free(&h.data);
    corpus_free(&c);
}
END_TEST

/* The classifier reads libturbo's chunk decoder state: pin the numbers. */
static int chunk_fail_state(const char *body)
{
    static const char head[] = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    sbuf b = {0, 0, 0};
    outcome t;
    memset(&t, 0, sizeof t);
    sb_puts(&b, head);
    sb_puts(&b, body);
    run_turbo(b.p, b.len, &t);
    ck_assert_int_eq(t.verdict, V_REJECT);
    ck_assert(t.in_body);
    sb_free(&b);
    sb_free(&t.data);
    return t.chunk_state;
}

START_TEST(chunk_decoder_states_are_the_ones_classified_on)
{
    ck_assert_int_eq(chunk_fail_state("x\r\n"), ST_SIZE0);
    ck_assert_int_eq(chunk_fail_state("5x\r\n"), ST_SIZE);
    ck_assert_int_eq(chunk_fail_state("5 x\r\n"), ST_SIZE_BWS);
    ck_assert_int_eq(chunk_fail_state("5;\x01\r\n"), ST_EXT);
    ck_assert_int_eq(chunk_fail_state("5\rx"), ST_SIZE_LF);
    ck_assert_int_eq(chunk_fail_state("5\r\nhelloX"), ST_DATA_CR);
    ck_assert_int_eq(chunk_fail_state("5\r\nhello\rX"), ST_DATA_LF);
    ck_assert_int_eq(chunk_fail_state("0\r\n "), ST_TRAILER);
}
END_TEST

/* Every allow-listed category has its section in docs/differential.md. */
START_TEST(allow_listed_categories_are_documented)
{
    char path[4096];
    const char *slash = strrchr(__FILE__, '/');
    ck_assert_ptr_nonnull(slash);
    snprintf(path, sizeof path, "%.*s/../docs/differential.md", (int)(slash - __FILE__), __FILE__);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    sbuf doc = {0, 0, 0};
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        sb_put(&doc, tmp, n);
    fclose(f);
    sb_putc(&doc, '\0');
    for (int k = 0; k < C_COUNT; k++)
        if (categories[k].allowed)
            ck_assert_msg(strstr(doc.p, categories[k].name) != NULL, "not documented: %s",
                          categories[k].name);
    sb_free(&doc);
}
END_TEST

static Suite *differential_suite(void)
{
    Suite *s = suite_create("differential");
    TCase *tc = tcase_create("http_parser");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, disagreements_are_all_allow_listed);
    tcase_add_test(tc, corpus_is_deterministic);
    tcase_add_test(tc, valid_corpus_requests_agree_exactly);
    tcase_add_test(tc, chunk_decoder_states_are_the_ones_classified_on);
    tcase_add_test(tc, allow_listed_categories_are_documented);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(differential_suite());
    int failed;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
