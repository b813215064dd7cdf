/*
 * Request smuggling and conformance, over a live server.
 *
 * One table of raw requests. Each entry names the bytes sent, the one
 * status the server must answer with (or none at all), the exact body of
 * an accepted request, how many handler calls the bytes may cause, and
 * whether the server closes the connection afterwards. For every entry
 * the runner:
 *
 *   1. starts a server on 127.0.0.1 (ephemeral port) with small limits;
 *   2. sends the raw bytes followed by a valid pipelined request
 *      (PIPELINED) in one write;
 *   3. reads exactly one response and checks its status line byte for
 *      byte, its body (the echo of an accepted request, or the library's
 *      "<reason>\n" for an error);
 *   4. for an entry that closes: reads until EOF and requires that not
 *      one more byte came, so the pipelined request was never answered;
 *      for one that keeps the connection: requires the pipelined request
 *      to be answered next, with its own exact body, which proves the
 *      server framed the first request exactly where the client did;
 *   5. checks the handler call count (a smuggled request would show up
 *      there even if its response went nowhere) and the bad-request
 *      counter;
 *   6. opens a NEW connection and requires a clean 200.
 *
 * Client sockets have receive timeouts (CLIENT_TIMEOUT_S): a server that
 * does not answer fails the entry instead of hanging it.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

#define CLIENT_TIMEOUT_S 10

/* The limits every entry runs under (CFG_SMALL), small enough to build
 * requests exactly at and one byte past each of them. */
#define LIM_URI 64
#define LIM_HEAD 512
#define LIM_FIELDS 8
#define LIM_BODY 32
/* CFG_WIDE_URI: a target limit above the head limit, so that the request
 * line alone can reach the head limit. */
#define WIDE_URI 1024
#define WIDE_HEAD 256

enum { CFG_SMALL, CFG_WIDE_URI };

/* What every entry's bytes are followed by. */
static const char PIPELINED[] = "GET /show/pipelined HTTP/1.1\r\nHost: x\r\n\r\n";
static const char PIPELINED_BODY[] = "GET /show/pipelined 11";
static const char ROOT_BODY[] = "root\n";

/* ======================================================================
 * Routes: every handler call is counted
 * ==================================================================== */

static atomic_int handler_calls;

static int root_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    atomic_fetch_add(&handler_calls, 1);
    return turbo_response_body(res, ROOT_BODY, sizeof(ROOT_BODY) - 1);
}

/* POST /echo: the decoded body, byte for byte. */
static int echo_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    atomic_fetch_add(&handler_calls, 1);
    turbo_str body = turbo_request_body(req);
    return turbo_response_body(res, body.ptr, body.len);
}

/* GET /show/{rest...}: "<method> <path>[?<query>] <10|11>", so the test
 * sees what the server understood the request line to say. */
static int show_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    atomic_fetch_add(&handler_calls, 1);
    turbo_str m = turbo_request_method(req), p = turbo_request_path(req);
    turbo_str q = turbo_request_query(req);
    int rc = turbo_response_append(res, m.ptr, m.len);
    if (rc == TURBO_OK)
        rc = turbo_response_append(res, " ", 1);
    if (rc == TURBO_OK)
        rc = turbo_response_append(res, p.ptr, p.len);
    if (rc == TURBO_OK && q.len != 0) {
        rc = turbo_response_append(res, "?", 1);
        if (rc == TURBO_OK)
            rc = turbo_response_append(res, q.ptr, q.len);
    }
    if (rc == TURBO_OK)
        rc = turbo_response_append(res, turbo_request_version(req) == 11 ? " 11" : " 10", 3);
    return rc;
}

/* ======================================================================
 * The table
 * ==================================================================== */

enum {
    F_CLOSES = 1, /* the server closes after the response (or without one) */
    F_SHUT_WR = 2 /* no pipelined request; the client half-closes instead */
};

typedef struct smuggle_case {
    const char *name;
    const char *raw;
    size_t len;       /* bytes of raw (NULs allowed) */
    int status;       /* the response's status; 0: closed without a response */
    const char *body; /* exact body of a handler's answer; NULL: the library's error body */
    int handled;      /* handler calls raw causes (the pipelined one aside) */
    int flags;
    int cfg;
} smuggle_case;

/* raw as a literal, its length taken with sizeof so embedded NULs count */
#define RAW(s) s, sizeof(s) - 1
#define H "Host: x\r\n"
#define POST_ECHO "POST /echo HTTP/1.1\r\n" H
#define CHUNKED "Transfer-Encoding: chunked\r\n"

/* clang-format off */
/* An accepted request answered by a handler; the connection stays. */
#define OK(name, raw, body) {name, RAW(raw), 200, body, 1, 0, CFG_SMALL}
/* A request the parser or a limit refuses: error response, then close. */
#define BAD(name, raw, status) {name, RAW(raw), status, NULL, 0, F_CLOSES, CFG_SMALL}
/* clang-format on */

static const smuggle_case fixed_cases[] = {
    /* ---- baselines: the requests the others are variations of ---- */
    OK("plain GET", "GET /show/a HTTP/1.1\r\n" H "\r\n", "GET /show/a 11"),
    OK("POST with Content-Length", POST_ECHO "Content-Length: 5\r\n\r\nhello", "hello"),
    OK("POST chunked", POST_ECHO CHUNKED "\r\n5\r\nhello\r\n0\r\n\r\n", "hello"),
    OK("query kept apart from the path", "GET /show/a?b=c HTTP/1.1\r\n" H "\r\n",
       "GET /show/a?b=c 11"),

    /* ---- Content-Length and Transfer-Encoding together ---- */
    BAD("CL.TE: Content-Length first, chunked body hiding a request",
        POST_ECHO "Content-Length: 44\r\n" CHUNKED "\r\n0\r\n\r\nGET /show/smuggled HTTP/1.1\r\n" H
                  "\r\n",
        400),
    BAD("TE.CL: chunked first, Content-Length covering only the size line",
        POST_ECHO CHUNKED "Content-Length: 4\r\n\r\n2c\r\nGET /show/smuggled HTTP/1.1\r\n" H
                          "\r\n\r\n0\r\n\r\n",
        400),
    BAD("Content-Length: 0 with chunked", POST_ECHO "Content-Length: 0\r\n" CHUNKED "\r\n0\r\n\r\n",
        400),
    BAD("CL with TE: identity",
        POST_ECHO "Content-Length: 5\r\nTransfer-Encoding: identity\r\n\r\nhello", 400),

    /* ---- Content-Length values ---- */
    BAD("Content-Length twice, same value",
        POST_ECHO "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400),
    BAD("Content-Length twice, different values",
        POST_ECHO "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400),
    BAD("Content-Length list 5, 5", POST_ECHO "Content-Length: 5, 5\r\n\r\nhello", 400),
    BAD("Content-Length with +", POST_ECHO "Content-Length: +5\r\n\r\nhello", 400),
    BAD("Content-Length negative", POST_ECHO "Content-Length: -5\r\n\r\nhello", 400),
    BAD("Content-Length with inner space", POST_ECHO "Content-Length: 1 5\r\n\r\nhello", 400),
    BAD("Content-Length hex", POST_ECHO "Content-Length: 0x5\r\n\r\nhello", 400),
    BAD("Content-Length empty", POST_ECHO "Content-Length: \r\n\r\nhello", 400),
    BAD("Content-Length beyond 2^63", POST_ECHO "Content-Length: 99999999999999999999\r\n\r\nhello",
        400),
    OK("Content-Length surrounded by OWS (allowed)",
       POST_ECHO "Content-Length: \t 5 \t\r\n\r\nhello", "hello"),
    OK("Content-Length with leading zeros", POST_ECHO "Content-Length: 005\r\n\r\nhello", "hello"),

    /* ---- Transfer-Encoding values ---- */
    BAD("TE chunked, identity (chunked not last)",
        POST_ECHO "Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    BAD("TE identity alone", POST_ECHO "Transfer-Encoding: identity\r\n\r\nhello", 501),
    BAD("TE xchunked", POST_ECHO "Transfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 501),
    BAD("TE gzip, chunked", POST_ECHO "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    BAD("TE chunked in two fields", POST_ECHO CHUNKED CHUNKED "\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    BAD("TE chunked, chunked", POST_ECHO "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        400),
    BAD("TE empty list element", POST_ECHO "Transfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", 400),
    BAD("TE value on an obs-fold line",
        POST_ECHO "Transfer-Encoding:\r\n chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    BAD("TE continued by obs-fold",
        POST_ECHO "Transfer-Encoding: chunked\r\n identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    BAD("TE in HTTP/1.0", "POST /echo HTTP/1.0\r\n" CHUNKED "\r\n5\r\nhello\r\n0\r\n\r\n", 400),
    OK("TE Chunked in another case (allowed)",
       POST_ECHO "Transfer-Encoding: ChUnKeD\r\n\r\n5\r\nhello\r\n0\r\n\r\n", "hello"),

    /* ---- chunk lines ---- */
    BAD("chunk size of 17 hex digits",
        POST_ECHO CHUNKED "\r\n00000000000000005\r\nhello\r\n0\r\n\r\n", 400),
    BAD("chunk size 2^64", POST_ECHO CHUNKED "\r\n10000000000000000\r\nhello\r\n0\r\n\r\n", 413),
    BAD("chunk size 2^64-1", POST_ECHO CHUNKED "\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n", 413),
    BAD("chunk size not hex", POST_ECHO CHUNKED "\r\ng\r\nhello\r\n0\r\n\r\n", 400),
    BAD("chunk size negative", POST_ECHO CHUNKED "\r\n-5\r\nhello\r\n0\r\n\r\n", 400),
    BAD("chunk size 0x-prefixed", POST_ECHO CHUNKED "\r\n0x5\r\nhello\r\n0\r\n\r\n", 400),
    BAD("chunk size missing", POST_ECHO CHUNKED "\r\n\r\nhello\r\n0\r\n\r\n", 400),
    BAD("chunk extension with a control byte",
        POST_ECHO CHUNKED "\r\n5;a=\x01x\r\nhello\r\n0\r\n\r\n", 400),
    BAD("chunk extension with DEL", POST_ECHO CHUNKED "\r\n5;a=\x7fx\r\nhello\r\n0\r\n\r\n", 400),
    BAD("chunk extension ended by bare LF", POST_ECHO CHUNKED "\r\n5;a\nhello\r\n0\r\n\r\n", 400),
    OK("chunk extensions (allowed)", POST_ECHO CHUNKED "\r\n5;a=b;c=\"d\"\r\nhello\r\n0;e\r\n\r\n",
       "hello"),
    OK("chunk extensions with BWS around ';' and '=' (allowed)",
       POST_ECHO CHUNKED "\r\n5 ; a = \"b;\\\"\" ; c = d\r\nhello\r\n0\r\n\r\n", "hello"),
    BAD("chunk extension ';' with no name", POST_ECHO CHUNKED "\r\n2;\r\nhi\r\n0\r\n\r\n", 400),
    BAD("chunk extension '=' with no value",
        POST_ECHO CHUNKED "\r\n2;a=\r\nhi\r\n0\r\n\r\n", 400),
    /* A reader that lets the quoted-string run on past the CRLF sees
     * different chunk boundaries than one that ends it there. */
    BAD("chunk extension with an unterminated quoted-string",
        POST_ECHO CHUNKED "\r\n2;a=\"b\r\nhi\r\n0;c=\"\r\n\r\n", 400),
    BAD("chunk extension with whitespace before the CRLF",
        POST_ECHO CHUNKED "\r\n2;a=b \r\nhi\r\n0\r\n\r\n", 400),
    BAD("chunk extension name that is not a token",
        POST_ECHO CHUNKED "\r\n2;a@b\r\nhi\r\n0\r\n\r\n", 400),
    BAD("no CRLF after chunk data", POST_ECHO CHUNKED "\r\n5\r\nhello0\r\n\r\n", 400),
    BAD("chunk data longer than its size", POST_ECHO CHUNKED "\r\n3\r\nhello\r\n0\r\n\r\n", 400),
    BAD("bare CR after chunk size", POST_ECHO CHUNKED "\r\n5\rhello\r\n0\r\n\r\n", 400),
    BAD("bare LF after chunk size", POST_ECHO CHUNKED "\r\n5\nhello\r\n0\r\n\r\n", 400),
    BAD("NUL in chunk size line", POST_ECHO CHUNKED "\r\n5\0\r\nhello\r\n0\r\n\r\n", 400),
    BAD("bare LF after chunk data", POST_ECHO CHUNKED "\r\n5\r\nhello\n0\r\n\r\n", 400),

    /* ---- trailers: validated, never acted on ---- */
    {"trailer Content-Length is dropped",
     RAW(POST_ECHO CHUNKED "\r\n5\r\nhello\r\n0\r\nContent-Length: 30\r\n\r\n"), 200, "hello", 1, 0,
     CFG_SMALL},
    {"trailer Transfer-Encoding is dropped",
     RAW(POST_ECHO CHUNKED "\r\n5\r\nhello\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n"), 200,
     "hello", 1, 0, CFG_SMALL},
    BAD("trailer with obs-fold", POST_ECHO CHUNKED "\r\n5\r\nhello\r\n0\r\nX-T: a\r\n b\r\n\r\n",
        400),
    BAD("trailer with bare LF", POST_ECHO CHUNKED "\r\n5\r\nhello\r\n0\r\nX-T: a\n\r\n", 400),
    BAD("trailer with NUL", POST_ECHO CHUNKED "\r\n5\r\nhello\r\n0\r\nX-T: a\0b\r\n\r\n", 400),

    /* ---- NUL, bare CR, bare LF and other bytes out of place ---- */
    BAD("NUL in request line", "GET /sh\0ow/a HTTP/1.1\r\n" H "\r\n", 400),
    BAD("bare CR in request line", "GET /show/a\r HTTP/1.1\r\n" H "\r\n", 400),
    BAD("bare CR ending request line", "GET /show/a HTTP/1.1\r" H "\r\n", 400),
    BAD("bare LF ending request line", "GET /show/a HTTP/1.1\n" H "\r\n", 400),
    BAD("bare LF line endings throughout", "GET /show/a HTTP/1.1\nHost: x\n\n", 400),
    BAD("NUL in field name", "GET /show/a HTTP/1.1\r\n" H "X-\0A: 1\r\n\r\n", 400),
    BAD("bare CR in field name", "GET /show/a HTTP/1.1\r\n" H "X-\rA: 1\r\n\r\n", 400),
    BAD("NUL in field value", "GET /show/a HTTP/1.1\r\n" H "X-A: a\0b\r\n\r\n", 400),
    BAD("bare CR in field value", "GET /show/a HTTP/1.1\r\n" H "X-A: a\rb\r\n\r\n", 400),
    BAD("bare LF in field value", "GET /show/a HTTP/1.1\r\n" H "X-A: a\nb\r\n\r\n", 400),
    BAD("control byte in field value", "GET /show/a HTTP/1.1\r\n" H "X-A: a\x01b\r\n\r\n", 400),
    BAD("space before colon", "GET /show/a HTTP/1.1\r\nHost : x\r\n\r\n", 400),
    BAD("tab in field name", "GET /show/a HTTP/1.1\r\n" H "X\tA: 1\r\n\r\n", 400),
    BAD("empty field name", "GET /show/a HTTP/1.1\r\n" H ": 1\r\n\r\n", 400),
    BAD("field line without colon", "GET /show/a HTTP/1.1\r\n" H "X-A\r\n\r\n", 400),
    BAD("obs-fold continuation", "GET /show/a HTTP/1.1\r\n" H "X-A: a\r\n b\r\n\r\n", 400),
    BAD("obs-fold as first field line", "GET /show/a HTTP/1.1\r\n " H "\r\n", 400),
    BAD("two spaces after method", "GET  /show/a HTTP/1.1\r\n" H "\r\n", 400),
    BAD("space inside target", "GET /show/a b HTTP/1.1\r\n" H "\r\n", 400),
    BAD("TLS ClientHello instead of HTTP", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),
    OK("obs-text in field value (allowed)", "GET /show/a HTTP/1.1\r\n" H "X-A: caf\xc3\xa9\r\n\r\n",
       "GET /show/a 11"),
    OK("empty lines before request line (allowed)", "\r\n\r\nGET /show/a HTTP/1.1\r\n" H "\r\n",
       "GET /show/a 11"),

    /* ---- request targets ---- */
    OK("absolute-form http",
       "GET http://example.com/show/abs HTTP/1.1\r\nHost: example.com\r\n\r\n", "GET /show/abs 11"),
    OK("absolute-form https with port and query",
       "GET https://example.com:8443/show/abs?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n",
       "GET /show/abs?q=1 11"),
    {"absolute-form without a path routes to /",
     RAW("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n"), 200, ROOT_BODY, 1, 0,
     CFG_SMALL},
    BAD("absolute-form with empty host", "GET http:///show/a HTTP/1.1\r\n" H "\r\n", 400),
    BAD("absolute-form with userinfo", "GET http://u@example.com/show/a HTTP/1.1\r\n" H "\r\n",
        400),
    BAD("absolute-form with another scheme", "GET ftp://example.com/show/a HTTP/1.1\r\n" H "\r\n",
        400),
    BAD("authority-form with GET", "GET example.com:80 HTTP/1.1\r\n" H "\r\n", 400),
    BAD("CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 400),
    {"OPTIONS * (valid, no route)", RAW("OPTIONS * HTTP/1.1\r\n" H "\r\n"), 404, NULL, 0, 0,
     CFG_SMALL},
    BAD("GET *", "GET * HTTP/1.1\r\n" H "\r\n", 400),
    BAD("OPTIONS *x", "OPTIONS *x HTTP/1.1\r\n" H "\r\n", 400),
    BAD("fragment in target", "GET /show/a#f HTTP/1.1\r\n" H "\r\n", 400),

    /* ---- methods and versions ---- */
    BAD("method with @", "G@T /show/a HTTP/1.1\r\n" H "\r\n", 400),
    BAD("empty method", " /show/a HTTP/1.1\r\n" H "\r\n", 400),
    {"lowercase method (a token, not a route)", RAW("get /show/a HTTP/1.1\r\n" H "\r\n"), 405, NULL,
     0, 0, CFG_SMALL},
    BAD("HTTP/0.9 request line", "GET /show/a\r\n\r\n", 400),
    BAD("HTTP/2.0", "GET /show/a HTTP/2.0\r\n" H "\r\n", 505),
    BAD("HTTP/1.2", "GET /show/a HTTP/1.2\r\n" H "\r\n", 505),
    BAD("HTTP/3.0", "GET /show/a HTTP/3.0\r\n" H "\r\n", 505),
    BAD("lowercase http/1.1", "GET /show/a http/1.1\r\n" H "\r\n", 400),
    BAD("HTTP/1.10", "GET /show/a HTTP/1.10\r\n" H "\r\n", 400),
    BAD("HTTP/1", "GET /show/a HTTP/1\r\n" H "\r\n", 400),
    BAD("space after version", "GET /show/a HTTP/1.1 \r\n" H "\r\n", 400),
    BAD("HTTP 2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),

    /* ---- Host, Expect, Connection ---- */
    BAD("HTTP/1.1 without Host", "GET /show/a HTTP/1.1\r\n\r\n", 400),
    BAD("Host twice", "GET /show/a HTTP/1.1\r\n" H "Host: y\r\n\r\n", 400),
    BAD("Host twice, other case", "GET /show/a HTTP/1.1\r\n" H "hOST: x\r\n\r\n", 400),
    {"HTTP/1.0 without Host (allowed; closes)", RAW("GET /show/a HTTP/1.0\r\n\r\n"), 200,
     "GET /show/a 10", 1, F_CLOSES, CFG_SMALL},
    {"HTTP/1.0 keep-alive without Host",
     RAW("GET /show/a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 200, "GET /show/a 10", 1, 0,
     CFG_SMALL},
    BAD("Expect other than 100-continue", "GET /show/a HTTP/1.1\r\n" H "Expect: 200-ok\r\n\r\n",
        417),
    BAD("Expect with a body", POST_ECHO "Expect: 100-continuex\r\nContent-Length: 5\r\n\r\nhello",
        417),
    OK("Expect: 100-continue without a body",
       "GET /show/a HTTP/1.1\r\n" H "Expect: 100-Continue\r\n\r\n", "GET /show/a 11"),
    {"Connection: close (pipelined request dropped)",
     RAW("GET /show/a HTTP/1.1\r\n" H "Connection: close\r\n\r\n"), 200, "GET /show/a 11", 1,
     F_CLOSES, CFG_SMALL},
    BAD("invalid Connection token", "GET /show/a HTTP/1.1\r\n" H "Connection: cl@se\r\n\r\n", 400),
    BAD("valid request after an invalid one is not answered",
        "GET /show/a HTTP/1.1\r\n" H "Bad Header\r\n\r\nGET /show/b HTTP/1.1\r\n" H "\r\n", 400),

    /* ---- bodies at and past max body (LIM_BODY = 32) ---- */
    OK("Content-Length at max body",
       POST_ECHO "Content-Length: 32\r\n\r\n0123456789abcdef0123456789abcdef",
       "0123456789abcdef0123456789abcdef"),
    BAD("Content-Length one past max body",
        POST_ECHO "Content-Length: 33\r\n\r\n0123456789abcdef0123456789abcdef!", 413),
    OK("chunked at max body in two chunks",
       POST_ECHO CHUNKED "\r\n10\r\n0123456789abcdef\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n",
       "0123456789abcdef0123456789abcdef"),
    BAD("chunked one past max body in two chunks",
        POST_ECHO CHUNKED "\r\n10\r\n0123456789abcdef\r\n11\r\n0123456789abcdef!\r\n0\r\n\r\n",
        413),
    BAD("one chunk one past max body",
        POST_ECHO CHUNKED "\r\n21\r\n0123456789abcdef0123456789abcdef!\r\n0\r\n\r\n", 413),

    /* ---- incomplete requests, then the client half-closes ---- */
    {"partial head then EOF: closed without a response", RAW("GET /show/a HTTP/1.1\r\nHo"), 0, NULL,
     0, F_CLOSES | F_SHUT_WR, CFG_SMALL},
    {"partial chunked body then EOF: closed without a response",
     RAW(POST_ECHO CHUNKED "\r\n5\r\nhel"), 0, NULL, 0, F_CLOSES | F_SHUT_WR, CFG_SMALL},
    {"partial Content-Length body then EOF: closed without a response",
     RAW(POST_ECHO "Content-Length: 5\r\n\r\nhel"), 0, NULL, 0, F_CLOSES | F_SHUT_WR, CFG_SMALL},
};

#define NFIXED (sizeof(fixed_cases) / sizeof(fixed_cases[0]))
#define NGENERATED 11

/* fixed_cases, then the limit cases built by build_limit_cases(). */
static smuggle_case cases[NFIXED + NGENERATED];
static size_t ncases;

/* Set-up runs in main, outside any test: a broken table stops the run. */
static void require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "test_smuggling: bad table: %s\n", what);
        exit(EXIT_FAILURE);
    }
}

static char *repeat(char ch, size_t n)
{
    char *s = malloc(n + 1);
    require(s != NULL, "out of memory");
    memset(s, ch, n);
    s[n] = '\0';
    return s;
}

/* a, b and c (NULL: "") concatenated into a new string. */
static char *concat(const char *a, const char *b, const char *c)
{
    b = b != NULL ? b : "";
    c = c != NULL ? c : "";
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = malloc(la + lb + lc + 1);
    require(s != NULL, "out of memory");
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

static void add_case(const char *name, char *raw, int status, char *body, int flags, int cfg)
{
    require(ncases < sizeof(cases) / sizeof(cases[0]), "too many generated cases");
    smuggle_case *k = &cases[ncases++];
    k->name = name;
    k->raw = raw;
    k->len = strlen(raw);
    k->status = status;
    k->body = body;
    k->handled = status == 200 ? 1 : 0;
    k->flags = flags;
    k->cfg = cfg;
}

/* Requests exactly at, and one byte past, each configured limit. The
 * sizes are checked here, so a slip cannot turn an "at the limit" case
 * into a weaker one. */
static void build_limit_cases(void)
{
    /* A target of LIM_URI bytes, then one more. */
    for (size_t extra = 0; extra <= 1; extra++) {
        char *pad = repeat('u', LIM_URI - 6 + extra); /* "/show/" is 6 */
        char *raw = concat("GET /show/", pad, " HTTP/1.1\r\nHost: x\r\n\r\n");
        require(strlen(raw) == 4 + LIM_URI + extra + 22, "target size");
        add_case(extra ? "target one byte past max URI" : "target at max URI", raw,
                 extra ? 414 : 200, extra ? NULL : concat("GET /show/", pad, " 11"),
                 extra ? F_CLOSES : 0, CFG_SMALL);
        free(pad);
    }
    /* A method longer than the URI limit: garbage, not a long line. */
    char *method = repeat('M', LIM_URI + 2);
    add_case("method longer than max URI",
             concat(method, " /show/a HTTP/1.1\r\nHost: x\r\n\r\n", NULL), 400, NULL, F_CLOSES,
             CFG_SMALL);
    free(method);
    /* A head of LIM_HEAD bytes, then one more. */
    for (size_t extra = 0; extra <= 1; extra++) {
        static const char fixed[] = "GET /show/h HTTP/1.1\r\nHost: x\r\nX-Pad: \r\n\r\n";
        char *pad = repeat('p', LIM_HEAD - (sizeof(fixed) - 1) + extra);
        char *raw = concat("GET /show/h HTTP/1.1\r\nHost: x\r\nX-Pad: ", pad, "\r\n\r\n");
        require(strlen(raw) == LIM_HEAD + extra, "head size");
        add_case(extra ? "head one byte past max header bytes" : "head at max header bytes", raw,
                 extra ? 431 : 200, extra ? NULL : concat("GET /show/h 11", NULL, NULL),
                 extra ? F_CLOSES : 0, CFG_SMALL);
        free(pad);
    }
    /* LIM_FIELDS fields (Host included), then one more. */
    for (int extra = 0; extra <= 1; extra++) {
        char fields[256] = "";
        for (int i = 1; i < LIM_FIELDS + extra; i++) {
            char f[32];
            snprintf(f, sizeof(f), "X-%d: %d\r\n", i, i);
            strcat(fields, f);
        }
        char *raw = concat("GET /show/f HTTP/1.1\r\nHost: x\r\n", fields, "\r\n");
        add_case(extra ? "one field past max headers" : "fields at max headers", raw,
                 extra ? 431 : 200, extra ? NULL : concat("GET /show/f 11", NULL, NULL),
                 extra ? F_CLOSES : 0, CFG_SMALL);
    }
    /* The request line alone filling the head limit (HTTP/1.0: no Host,
     * so the head is the line and CRLF CRLF; 1.0 closes after answering). */
    for (size_t extra = 0; extra <= 1; extra++) {
        static const char fixed[] = "GET /show/ HTTP/1.0\r\n\r\n";
        char *pad = repeat('l', WIDE_HEAD - (sizeof(fixed) - 1) + extra);
        char *raw = concat("GET /show/", pad, " HTTP/1.0\r\n\r\n");
        require(strlen(raw) == WIDE_HEAD + extra, "request line size");
        add_case(extra ? "request line one byte past max header bytes"
                       : "request line at max header bytes",
                 raw, extra ? 431 : 200, extra ? NULL : concat("GET /show/", pad, " 10"), F_CLOSES,
                 CFG_WIDE_URI);
        free(pad);
    }
    /* A trailer section of LIM_HEAD bytes, then one more. */
    for (size_t extra = 0; extra <= 1; extra++) {
        static const char fixed[] = "X-T: \r\n\r\n";
        char *pad = repeat('t', LIM_HEAD - (sizeof(fixed) - 1) + extra);
        char *raw = concat(POST_ECHO CHUNKED "\r\n5\r\nhello\r\n0\r\nX-T: ", pad, "\r\n\r\n");
        add_case(extra ? "trailers one byte past max header bytes" : "trailers at max header bytes",
                 raw, extra ? 431 : 200, extra ? NULL : concat("hello", NULL, NULL),
                 extra ? F_CLOSES : 0, CFG_SMALL);
        free(pad);
    }
    require(ncases == NFIXED + NGENERATED, "generated case count");
}

/* ======================================================================
 * Server and client
 * ==================================================================== */

static turbo_server *start_server(int which)
{
    turbo_config *cfg = config_with_threads(2);
    if (which == CFG_SMALL) {
        ck_assert_int_eq(turbo_config_set_max_uri_bytes(cfg, LIM_URI), TURBO_OK);
        ck_assert_int_eq(turbo_config_set_max_header_bytes(cfg, LIM_HEAD), TURBO_OK);
    } else {
        ck_assert_int_eq(turbo_config_set_max_uri_bytes(cfg, WIDE_URI), TURBO_OK);
        ck_assert_int_eq(turbo_config_set_max_header_bytes(cfg, WIDE_HEAD), TURBO_OK);
    }
    ck_assert_int_eq(turbo_config_set_max_headers(cfg, LIM_FIELDS), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_body_bytes(cfg, LIM_BODY), TURBO_OK);
    static const test_route routes[] = {
        {"GET", "/", root_handler},
        {"POST", "/echo", echo_handler},
        {"GET", "/show/{rest...}", show_handler},
        {NULL},
    };
    return server_started(cfg, routes);
}

static const char *reason_of(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 505: return "HTTP Version Not Supported";
    default: return "?";
    }
}

/* Reads one response and checks its status line and body exactly. body
 * NULL: the library's error body, "<reason>\n". */
static void expect_response(const char *name, client *c, int status, const char *body)
{
    char head[4096];
    read_head(c, head, sizeof(head), name);

    char want_line[128];
    snprintf(want_line, sizeof(want_line), "HTTP/1.1 %d %s\r\n", status, reason_of(status));
    ck_assert_msg(strncmp(head, want_line, strlen(want_line)) == 0,
                  "%s: status line \"%.*s\", want \"%.*s\"", name, (int)strcspn(head, "\r"), head,
                  (int)strlen(want_line) - 2, want_line);

    char error_body[128];
    if (body == NULL) {
        snprintf(error_body, sizeof(error_body), "%s\n", reason_of(status));
        body = error_body;
    }
    const char *cl = strstr(head, "\r\nContent-Length: ");
    ck_assert_msg(cl != NULL, "%s: no Content-Length in \"%s\"", name, head);
    ck_assert_msg(strstr(cl + 1, "\r\nContent-Length: ") == NULL, "%s: two Content-Length", name);
    ck_assert_msg(strstr(head, "\r\nTransfer-Encoding:") == NULL, "%s: Transfer-Encoding", name);
    size_t len = strtoul(cl + 18, NULL, 10);
    ck_assert_msg(len == strlen(body), "%s: Content-Length %zu, want %zu (\"%s\")", name, len,
                  strlen(body), body);
    ck_assert_msg(client_wait(c, len) > 0, "%s: body cut short at %zu of %zu bytes", name, c->len,
                  len);
    ck_assert_msg(memcmp(c->buf, body, len) == 0, "%s: body \"%.*s\", want \"%s\"", name, (int)len,
                  c->buf, body);
    client_consume(c, len);
}

/* Requires EOF with nothing more before it: no second response, no reset. */
static void expect_eof(const char *name, client *c)
{
    for (;;) {
        ck_assert_msg(c->len == 0, "%s: %zu unexpected bytes before EOF: \"%.*s\"", name, c->len,
                      (int)c->len, c->buf);
        ssize_t n = client_fill(c);
        if (n == 0)
            return;
        ck_assert_msg(n > 0, "%s: expected EOF, got %s", name, strerror(errno));
    }
}

/* A new connection still gets a clean 200 for GET /. */
static void expect_new_connection_served(const char *name, turbo_server *s)
{
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    send_str(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    expect_response(name, c, 200, ROOT_BODY);
    client_close(c);
}

/* ======================================================================
 * The runner
 * ==================================================================== */

START_TEST(raw_request_gets_its_exact_answer)
{
    const smuggle_case *k = &cases[_i];
    const char *name = k->name;
    atomic_store(&handler_calls, 0); /* also right when Check does not fork */
    turbo_server *s = start_server(k->cfg);
    client *c = client_open(s, CLIENT_TIMEOUT_S);

    /* The entry's bytes and the pipelined request in one write, so they
     * reach the server together, as a smuggler would send them. */
    size_t total = k->len + ((k->flags & F_SHUT_WR) ? 0 : sizeof(PIPELINED) - 1);
    char *wire = malloc(total);
    ck_assert_ptr_nonnull(wire);
    memcpy(wire, k->raw, k->len);
    if (!(k->flags & F_SHUT_WR))
        memcpy(wire + k->len, PIPELINED, sizeof(PIPELINED) - 1);
    send_bytes(c, wire, total);
    free(wire);
    if (k->flags & F_SHUT_WR)
        ck_assert_int_eq(shutdown(c->fd, SHUT_WR), 0);

    int handled = k->handled;
    if (k->status != 0)
        expect_response(name, c, k->status, k->body);
    if (k->flags & F_CLOSES) {
        expect_eof(name, c);
    } else {
        expect_response(name, c, 200, PIPELINED_BODY);
        handled++;
    }
    client_close(c);

    /* Every handler call has returned before its response was written, so
     * the count is final: nothing smuggled ran, not even unanswered. */
    ck_assert_msg(atomic_load(&handler_calls) == handled, "%s: %d handler calls, want %d", name,
                  atomic_load(&handler_calls), handled);
    int rejected = (k->flags & F_CLOSES) && k->status >= 400;
    assert_case_stat(name, s, TURBO_STAT_BAD_REQUESTS, rejected ? 1 : 0);

    expect_new_connection_served(name, s);
    ck_assert_int_eq(atomic_load(&handler_calls), handled + 1);
    assert_case_stat(name, s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    stop_and_free(s);
}
END_TEST

/* The table itself: enough entries, each one well-formed. */
START_TEST(table_covers_at_least_sixty_requests)
{
    ck_assert_uint_ge(ncases, 60);
    for (size_t i = 0; i < ncases; i++) {
        const smuggle_case *k = &cases[i];
        ck_assert_msg(k->len > 0 && k->name != NULL, "entry %zu", i);
        /* An accepted request keeps its body exact; an error has the
         * library's. A status of 0 only makes sense when closing. */
        ck_assert_msg(k->status != 0 || (k->flags & F_CLOSES), "%s", k->name);
        ck_assert_msg(k->status != 200 || k->body != NULL, "%s", k->name);
        ck_assert_msg(strcmp(reason_of(k->status == 0 ? 200 : k->status), "?") != 0, "%s", k->name);
    }
}
END_TEST

static Suite *smuggling_suite(void)
{
    Suite *s = suite_create("smuggling");
    TCase *tc = tcase_create("raw_requests");
    /* Generous: a hang fails the entry, slowness under sanitizers does not. */
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, table_covers_at_least_sixty_requests);
    tcase_add_loop_test(tc, raw_request_gets_its_exact_answer, 0, (int)ncases);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    memcpy(cases, fixed_cases, sizeof(fixed_cases));
    ncases = NFIXED;
    build_limit_cases();
    SRunner *sr = srunner_create(smuggling_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
