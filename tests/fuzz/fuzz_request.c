/*
 * Fuzz target: the request parser driven the way conn.c drives it.
 *
 * The input is a request stream (pipelined requests, bodies by
 * Content-Length or chunked) preceded by a few control bytes:
 *
 *   byte 0   flags: bit 0 small limits (4 more control bytes follow the
 *            split sizes), bit 1 re-copy the read buffer after each
 *            pipelined request is taken off (as conn.c's memmove does)
 *   byte 1   n = byte % 8 split sizes follow; reads are cut into pieces of
 *            those sizes in turn (a size byte of 0 means 1); n == 0 feeds
 *            one byte at a time
 *   [4 bytes limits when flag bit 0]
 *   rest     the stream
 *
 * The stream is parsed four times: split and in one piece, each with the
 * SSE4.2 and the scalar scanners. Each run writes a log of what a
 * connection would see (status codes, head lengths, every parsed slice as
 * text and offset, decoded bodies); the four logs must be identical.
 * Along the way: every slice lies inside the head, the head re-parses
 * identically (in place and from a fresh copy), head_scan finds the same
 * head in a copy of it alone, and the chunked decoder's offsets move
 * forward within bounds and never decode more than max_body_bytes.
 * Every read buffer is a heap block of exactly its length, so ASan
 * catches a read past the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* -DFUZZ_DEBUG: print each connection's events (to read a crash). */
#ifdef FUZZ_DEBUG
#include <stdio.h>
#define DEBUG(...) fprintf(stderr, __VA_ARGS__)
#else
#define DEBUG(...) ((void)0)
#endif

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

typedef struct log_buf {
    unsigned char *p;
    size_t len, cap;
} log_buf;

static void log_bytes(log_buf *l, const void *p, size_t n)
{
    if (l->len + n > l->cap) {
        size_t cap = l->cap ? l->cap : 256;
        while (cap < l->len + n)
            cap *= 2;
        l->p = realloc(l->p, cap);
        CHECK(l->p != NULL);
        l->cap = cap;
    }
    if (n)
        memcpy(l->p + l->len, p, n);
    l->len += n;
}

static int log_equal(const log_buf *a, const log_buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static void log_u64(log_buf *l, uint64_t v)
{
    log_bytes(l, &v, sizeof v);
}

/* A slice of the head at base[0..n): checked to lie inside, logged as its
 * offset and its text (offsets are relative, so buffers may move). */
static void log_slice(log_buf *l, turbo_str s, const char *base, size_t n)
{
    if (s.len == 0 && s.ptr == NULL) {
        log_u64(l, UINT64_MAX);
        log_u64(l, 0);
        return;
    }
    CHECK(s.ptr != NULL);
    CHECK(s.ptr >= base && s.ptr <= base + n);
    CHECK(s.len <= (size_t)(base + n - s.ptr));
    log_u64(l, (uint64_t)(s.ptr - base));
    log_u64(l, s.len);
    log_bytes(l, s.ptr, s.len);
}

static void log_head(log_buf *l, const turbo__head *h, const char *base, size_t n)
{
    log_slice(l, h->method, base, n);
    log_slice(l, h->target, base, n);
    /* The one slice that may lie outside: an absolute-form target with an
     * empty path ("http://h?q") gets the path "/", a static string. */
    if (h->path.len == 1 && h->path.ptr[0] == '/' && h->target.len > 0 &&
        h->target.ptr[0] != '/' && (h->path.ptr < base || h->path.ptr >= base + n)) {
        log_u64(l, UINT64_MAX - 1);
        log_u64(l, 1);
    } else {
        log_slice(l, h->path, base, n);
    }
    log_slice(l, h->query, base, n);
    log_u64(l, (uint64_t)h->minor);
    log_u64(l, h->num_headers);
    for (size_t i = 0; i < h->num_headers; i++) {
        log_slice(l, h->headers[i].name, base, n);
        log_slice(l, h->headers[i].value, base, n);
    }
    log_u64(l, h->has_content_length ? h->content_length : UINT64_MAX);
    log_u64(l, (uint64_t)(h->has_content_length | h->chunked << 1 | h->conn_close << 2 |
                          h->conn_keep_alive << 3 | h->expect_continue << 4));
    CHECK(h->minor == 0 || h->minor == 1);
    CHECK(!(h->chunked && h->has_content_length));
}

enum { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

/* One connection's parsing state, as in conn.c. */
typedef struct conn {
    char *in; /* heap block of exactly in_len bytes (NULL when 0) */
    size_t in_len;
    const turbo__limits *lim;
    turbo__header *headers; /* lim->max_headers entries, exactly */
    turbo__scan scan;
    size_t head_len;
    int body_kind;
    uint64_t body_len;
    turbo__chunked chunk;
    size_t chunk_in, chunk_out;
    int closed;
    log_buf log;       /* what the connection saw */
    log_buf head_log;  /* the current head, as first parsed */
    log_buf check_log; /* scratch for re-parses */
} conn;

static void reject(conn *c, int status)
{
    CHECK(status >= 400 && status <= 505);
    DEBUG("  reject %d\n", status);
    log_u64(&c->log, 'E');
    log_u64(&c->log, (uint64_t)status);
    c->closed = 1;
}

/* Replaces the read buffer by an exact-size copy of its first n bytes. */
static void exact_buffer(conn *c, size_t n)
{
    char *b = NULL;
    if (n) {
        b = malloc(n);
        CHECK(b != NULL);
        memcpy(b, c->in, n);
    }
    free(c->in);
    c->in = b;
    c->in_len = n;
}

static void append(conn *c, const char *p, size_t n)
{
    char *b = malloc(c->in_len + n);
    CHECK(b != NULL);
    if (c->in_len)
        memcpy(b, c->in, c->in_len);
    memcpy(b + c->in_len, p, n);
    free(c->in);
    c->in = b;
    c->in_len += n;
}

/* Parses the head p[0..len) into log l; returns parse_head's result. */
static int parse_into(conn *c, const char *p, size_t len, log_buf *l)
{
    turbo__head h;
    memset(&h, 0xA5, sizeof h); /* nothing may be left unset on success */
    int e = turbo__parse_head(p, len, &h, c->headers, c->lim);
    if (e == 0) {
        CHECK(h.headers == c->headers);
        CHECK(h.num_headers <= c->lim->max_headers);
        log_head(l, &h, p, len);
    } else {
        CHECK(e == -400 || e == -417 || e == -431 || e == -501 || e == -505);
    }
    return e;
}

/* Checks the current head: it re-parses identically in place and from a
 * fresh copy of exactly its bytes, and head_scan finds it there whole. */
static void recheck_head(conn *c, const char *p)
{
    c->check_log.len = 0;
    CHECK(parse_into(c, p, c->head_len, &c->check_log) == 0);
    CHECK(log_equal(&c->check_log, &c->head_log));

    char *copy = malloc(c->head_len);
    CHECK(copy != NULL);
    memcpy(copy, p, c->head_len);
    turbo__scan st;
    memset(&st, 0, sizeof st);
    CHECK(turbo__head_scan(copy, c->head_len, &st, c->lim) == (long)c->head_len);
    c->check_log.len = 0;
    CHECK(parse_into(c, copy, c->head_len, &c->check_log) == 0);
    CHECK(log_equal(&c->check_log, &c->head_log));
    free(copy);
}

static void request_done(conn *c)
{
    c->head_len = 0;
    c->body_kind = BODY_NONE;
    memset(&c->scan, 0, sizeof c->scan);
}

/* conn.c's handle_one: > 0 bytes consumed, 0 more input needed, -1 rejected. */
static long handle_one(conn *c, char *p, size_t avail)
{
    const turbo__limits *lim = c->lim;

    if (c->head_len == 0) {
        turbo__scan before = c->scan;
        long r = turbo__head_scan(p, avail, &c->scan, lim);
        if (r < 0) {
            reject(c, (int)-r);
            return -1;
        }
        if (r == 0) {
            CHECK(c->scan.pos >= before.pos && c->scan.pos <= avail);
            CHECK(c->scan.line_start <= c->scan.pos);
            return 0;
        }
        CHECK((size_t)r <= avail && (size_t)r <= lim->max_header_bytes);
        CHECK(r >= 4 && memcmp(p + r - 4, "\r\n\r\n", 4) == 0);
        c->head_log.len = 0;
        int e = parse_into(c, p, (size_t)r, &c->head_log);
        if (e < 0) {
            reject(c, -e);
            return -1;
        }
        c->head_len = (size_t)r;
        recheck_head(c, p);
        turbo__head h;
        CHECK(turbo__parse_head(p, c->head_len, &h, c->headers, lim) == 0);
        if (h.chunked) {
            c->body_kind = BODY_CHUNKED;
            turbo__chunked_init(&c->chunk);
            c->chunk_in = c->chunk_out = c->head_len;
        } else if (h.has_content_length && h.content_length != 0) {
            if (h.content_length > lim->max_body_bytes) {
                reject(c, 413);
                return -1;
            }
            c->body_kind = BODY_LENGTH;
            c->body_len = h.content_length;
        } else {
            c->body_kind = BODY_NONE;
        }
    }

    size_t total, body_len = 0;
    if (c->body_kind == BODY_LENGTH) {
        if (avail - c->head_len < c->body_len)
            return 0;
        body_len = (size_t)c->body_len;
        total = c->head_len + body_len;
    } else if (c->body_kind == BODY_CHUNKED) {
        size_t in0 = c->chunk_in, out0 = c->chunk_out;
        int r = turbo__chunked_decode(&c->chunk, p, avail, &c->chunk_in, &c->chunk_out, lim);
        CHECK(c->chunk_in >= in0 && c->chunk_out >= out0);
        CHECK(c->chunk_out <= c->chunk_in && c->chunk_in <= avail);
        CHECK(c->chunk_out - c->head_len <= lim->max_body_bytes);
        if (r < 0) {
            CHECK(r == -400 || r == -413 || r == -431);
            reject(c, -r);
            return -1;
        }
        if (r == 0) {
            CHECK(c->chunk_in == avail);
            /* conn.c closes the gap between decoded body and raw input. */
            size_t gap = c->chunk_in - c->chunk_out;
            if (gap) {
                memmove(p + c->chunk_out, p + c->chunk_in, avail - c->chunk_in);
                c->in_len -= gap;
                c->chunk_in = c->chunk_out;
            }
            return 0;
        }
        CHECK(r == 1);
        body_len = c->chunk_out - c->head_len;
        total = c->chunk_in;
    } else {
        total = c->head_len;
    }

    /* The head is parsed again at dispatch when the buffer moved (conn.c);
     * it must come out as it did the first time. */
    recheck_head(c, p);
    DEBUG("  request: head %zu, body %zu, next at %zu\n", c->head_len, body_len, total);
    log_u64(&c->log, 'R');
    log_u64(&c->log, c->head_len);
    log_bytes(&c->log, c->head_log.p, c->head_log.len);
    log_u64(&c->log, body_len);
    log_bytes(&c->log, p + c->head_len, body_len);
    request_done(c);
    return (long)total;
}

static void process(conn *c, int recopy)
{
    size_t pos = 0;
    while (!c->closed && pos < c->in_len) {
        long r = handle_one(c, c->in + pos, c->in_len - pos);
        if (r <= 0)
            break;
        pos += (size_t)r;
        if (recopy && pos < c->in_len) {
            memmove(c->in, c->in + pos, c->in_len - pos);
            exact_buffer(c, c->in_len - pos);
            pos = 0;
        }
    }
    if (c->closed) {
        exact_buffer(c, 0);
    } else {
        if (pos != 0)
            memmove(c->in, c->in + pos, c->in_len - pos);
        exact_buffer(c, c->in_len - pos);
    }
}

typedef struct plan {
    const unsigned char *sizes;
    size_t nsizes; /* 0: one byte per read; SIZE_MAX: one piece */
    int recopy;
} plan;

/* Runs the stream through one connection; returns its log (caller frees). */
static log_buf run(const char *data, size_t len, const plan *pl, const turbo__limits *lim, int simd)
{
    conn c;
    memset(&c, 0, sizeof c);
    c.lim = lim;
    c.headers = malloc(lim->max_headers * sizeof *c.headers + 1);
    CHECK(c.headers != NULL);
    turbo__parse_use_simd(simd);
    DEBUG("run: simd %d, %s\n", simd, pl->nsizes == SIZE_MAX ? "one piece" : "split");

    size_t off = 0, k = 0;
    while (off < len && !c.closed) {
        size_t n;
        if (pl->nsizes == SIZE_MAX)
            n = len - off;
        else if (pl->nsizes == 0)
            n = 1;
        else
            n = pl->sizes[k++ % pl->nsizes];
        if (n == 0)
            n = 1;
        if (n > len - off)
            n = len - off;
        append(&c, data + off, n);
        off += n;
        process(&c, pl->recopy);
    }
    if (!c.closed) { /* EOF: what is left over */
        DEBUG("  eof: head %zu, %zu bytes left\n", c.head_len, c.in_len);
        log_u64(&c.log, 'P');
        log_u64(&c.log, c.head_len);
        log_u64(&c.log, c.in_len);
    }
    turbo__parse_use_simd(1);
    free(c.in);
    free(c.headers);
    free(c.head_log.p);
    free(c.check_log.p);
    return c.log;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    unsigned flags = data[0];
    plan split = {data + 2, data[1] % 8u, (flags & 2) != 0};
    size_t pos = 2;
    if (size < pos + split.nsizes)
        return 0;
    pos += split.nsizes;

    turbo__limits lim = {16384, 100, 8192, 1048576};
    if (flags & 1) {
        if (size < pos + 4)
            return 0;
        lim.max_header_bytes = data[pos] * 4u;
        lim.max_headers = data[pos + 1] % 16u;
        lim.max_uri_bytes = data[pos + 2];
        lim.max_body_bytes = data[pos + 3];
        pos += 4;
    }
    const char *stream = (const char *)data + pos;
    size_t len = size - pos;

    plan whole = {NULL, SIZE_MAX, 0};
    log_buf ref = run(stream, len, &whole, &lim, 1);
    log_buf logs[3];
    logs[0] = run(stream, len, &split, &lim, 1);
    logs[1] = run(stream, len, &whole, &lim, 0);
    logs[2] = run(stream, len, &split, &lim, 0);
    for (int i = 0; i < 3; i++) {
        CHECK(log_equal(&logs[i], &ref));
        free(logs[i].p);
    }
    free(ref.p);
    return 0;
}
