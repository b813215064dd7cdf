/*
 * The HTTP/1.1 request parser: a pure function of its input, zero-copy,
 * allocation-free. Two steps, so that a request trickling in is never
 * re-parsed:
 *
 *   1. turbo__head_scan() looks for the end of the head (the empty line),
 *      resuming where the previous call stopped. It is cheap and run on
 *      every read until it reports the head complete.
 *   2. turbo__parse_head() parses the complete head once.
 *
 * The body is then framed by Content-Length or decoded in place by the
 * chunked decoder (turbo__chunked_decode()).
 *
 * Errors are returned as the negated HTTP status to answer with
 * (-400, -414, -417, -431, -501, -505); the connection is closed after.
 */
#ifndef TURBO_PARSE_H
#define TURBO_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include "turbo/turbo.h"

typedef struct turbo__header {
    turbo_str name;  /* as sent; a token */
    turbo_str value; /* leading/trailing SP and HTAB removed */
} turbo__header;

typedef struct turbo__limits {
    size_t max_header_bytes; /* request line + fields + final CRLF */
    size_t max_headers;      /* header fields */
    size_t max_uri_bytes;    /* request-target length */
    uint64_t max_body_bytes; /* decoded body (chunked decoder) */
} turbo__limits;

/* Resumable end-of-head search state; zero it for a new request. */
typedef struct turbo__scan {
    size_t pos;        /* bytes already examined */
    size_t line_start; /* offset of the line being scanned */
} turbo__scan;

/*
 * Looks for the end of the request head in buf[0..len), continuing from
 * st. Returns the head length (through the final CRLF CRLF) when found;
 * 0 when more input is needed; or a negative status:
 *   -400 bare LF or bare CR, a NUL byte, or leading garbage that can
 *        never become a request line;
 *   -414 the first line is still incomplete and longer than the method,
 *        max_uri_bytes and the version allow, or complete with a target
 *        longer than max_uri_bytes;
 *   -431 no end within max_header_bytes.
 * Leading empty lines (CRLF) before the request line are allowed (RFC
 * 9112 2.2) and counted in the head length.
 */
long turbo__head_scan(const char *buf, size_t len, turbo__scan *st, const turbo__limits *lim);

typedef struct turbo__head {
    turbo_str method;
    turbo_str target; /* as sent */
    turbo_str path;   /* origin-form path, or the path part of an absolute-form target */
    turbo_str query;  /* after '?', without it; empty if none */
    int minor;        /* 0 or 1 (HTTP/1.minor) */
    turbo__header *headers;
    size_t num_headers;
    uint64_t content_length; /* valid when has_content_length */
    unsigned has_content_length : 1;
    unsigned chunked : 1;         /* Transfer-Encoding: chunked */
    unsigned conn_close : 1;      /* Connection: close seen */
    unsigned conn_keep_alive : 1; /* Connection: keep-alive seen */
    unsigned expect_continue : 1; /* Expect: 100-continue */
} turbo__head;

/*
 * Parses a complete head buf[0..len) (len as returned by head_scan).
 * headers/max_headers is caller storage for the fields. Fills *h; every
 * slice points into buf, except one: an absolute-form target with an
 * empty path ("http://h?q") gets path "/" from static storage. Returns 0,
 * or a negative status:
 *   -400 malformed request line or field, a method that is not a token,
 *        a target that is not origin-form / absolute-form (or "*" for
 *        OPTIONS), forbidden bytes in target, names or values, obs-fold,
 *        whitespace before a colon, a repeated or invalid Content-Length,
 *        Content-Length with Transfer-Encoding, chunked repeated or not
 *        last, Transfer-Encoding in HTTP/1.0, missing or repeated Host in
 *        HTTP/1.1;
 *   -417 an Expect other than 100-continue;
 *   -431 more than max_headers fields;
 *   -501 a transfer coding other than chunked;
 *   -505 a version other than HTTP/1.0 and HTTP/1.1.
 */
int turbo__parse_head(const char *buf, size_t len, turbo__head *h, turbo__header *headers,
                      const turbo__limits *lim);

/* Incremental, in-place chunked body decoder state; init before use. */
typedef struct turbo__chunked {
    int state;
    uint64_t chunk_left;  /* data bytes left in the current chunk */
    uint64_t total;       /* decoded bytes so far */
    size_t trailer_bytes; /* chunk-extension bytes, then trailer bytes (each limited
                             by max_header_bytes: unbounded extensions are
                             endless work that decodes to nothing) */
    unsigned digits;      /* hex digits in the current size */
    unsigned ext_bytes;   /* extension bytes on the current size line */
    unsigned char ext;    /* where in the chunk-ext grammar (parse.c) */
} turbo__chunked;

/* Most bytes of chunk extensions on one chunk-size line (from the first
 * byte after the size to the CR). No sender needs near this many; the
 * whole message's extension bytes are bounded by max_header_bytes too. */
#define TURBO__CHUNK_EXT_MAX 1024

void turbo__chunked_init(turbo__chunked *c);

/*
 * Decodes chunked data in place. buf[*in .. len) is raw input not yet
 * consumed; decoded bytes are written at buf[*out ...] (always *out <= *in,
 * so the move is safe). Both offsets advance. Returns 1 when the last
 * chunk and the trailer section (parsed, validated and dropped) are
 * complete (*in is then just past the message), 0 when more input is
 * needed, or a negative status: -400 malformed (non-hex or overlong size,
 * size overflow, bad CRLF, an extension outside RFC 9112 7.1.1's grammar
 * or above TURBO__CHUNK_EXT_MAX, malformed trailer field), -413 decoded
 * body above max_body_bytes, -431 trailer section above max_header_bytes.
 */
int turbo__chunked_decode(turbo__chunked *c, char *buf, size_t len, size_t *in, size_t *out,
                          const turbo__limits *lim);

/* s[0..n) equals the lowercase literal lit, ignoring ASCII case (not the
 * locale's). */
int turbo__ieq(const char *s, size_t n, const char *lit);

/* Test hook: 1 selects the SSE4.2 scanners when the CPU has them (the
 * default), 0 forces the scalar code. Not thread-safe; tests only. */
void turbo__parse_use_simd(int on);
/* 1 when the SSE4.2 path is compiled in and the CPU supports it. */
int turbo__parse_simd_available(void);

#endif
