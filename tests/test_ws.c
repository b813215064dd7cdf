/*
 * The WebSocket protocol module (ws.c): UTF-8, the handshake's accept key,
 * the frame reader against every RFC 6455 rule it enforces (each failure
 * with its exact close code), and the frame writers.
 *
 * Frames are built here as a client sends them (masked with the mask of
 * RFC 6455 5.7's examples). Each stream is read by run_stream() whole, a
 * byte at a time and in other read sizes; the log it keeps (whole
 * messages, control frames, the error) must be the same for every split.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8_ref.h"
#include "ws.h"

#define FIN 0x80
#define RSV1 0x40
#define RSV2 0x20
#define RSV3 0x10
#define TEXT TURBO__WS_OP_TEXT
#define BINARY TURBO__WS_OP_BINARY
#define CONT TURBO__WS_OP_CONT
#define CLOSE TURBO__WS_OP_CLOSE
#define PING TURBO__WS_OP_PING
#define PONG TURBO__WS_OP_PONG

/* ------------------------------------------------------------------------
 * Building client frames
 * --------------------------------------------------------------------- */

static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

enum { LEN_MINIMAL = 0, LEN_16 = 2, LEN_64 = 8 };

/* A frame with header byte b0 (FIN, RSV, opcode), its length in the form
 * given, masked or not. Returns its size. */
static size_t frame_ex(uint8_t *out, uint8_t b0, const void *payload, size_t len, int form,
                       bool masked)
{
    size_t h = 0;
    out[h++] = b0;
    uint8_t mbit = masked ? 0x80 : 0;
    if (form == LEN_MINIMAL && len < 126) {
        out[h++] = (uint8_t)(mbit | len);
    } else if ((form == LEN_MINIMAL && len <= 0xffff) || form == LEN_16) {
        out[h++] = mbit | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = mbit | 127;
        for (int i = 0; i < 8; i++)
            out[h++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
    }
    if (masked) {
        memcpy(out + h, MASK, 4);
        h += 4;
    }
    for (size_t i = 0; i < len; i++)
        out[h + i] = (uint8_t)(((const uint8_t *)payload)[i] ^ (masked ? MASK[i & 3] : 0));
    return h + len;
}

static size_t frame(uint8_t *out, uint8_t b0, const void *payload, size_t len)
{
    return frame_ex(out, b0, payload, len, LEN_MINIMAL, true);
}

/* A close frame with code (big-endian) and reason. */
static size_t close_frame(uint8_t *out, unsigned code, const char *reason)
{
    uint8_t p[125];
    size_t rl = strlen(reason);
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    memcpy(p + 2, reason, rl);
    return frame(out, FIN | CLOSE, p, 2 + rl);
}

/* A stream under construction. */
struct stream {
    uint8_t *b;
    size_t n;
};

static struct stream stream_new(size_t cap)
{
    struct stream s = {malloc(cap), 0};
    ck_assert_ptr_nonnull(s.b);
    return s;
}

static void put(struct stream *s, uint8_t b0, const void *payload, size_t len)
{
    s->n += frame(s->b + s->n, b0, payload, len);
}

static void put_str(struct stream *s, uint8_t b0, const char *text)
{
    put(s, b0, text, strlen(text));
}

/* ------------------------------------------------------------------------
 * Reading a stream and keeping a log of what it said
 * --------------------------------------------------------------------- */

/* ck_assert reports every passing check to Check's parent process: too
 * slow for a check per byte of a megabyte read a byte at a time. */
#define MUST(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg("%s:%d: %s", __FILE__, __LINE__, #cond);                                  \
    } while (0)

struct run {
    char log[4096];
    size_t loglen;
    uint8_t *msg; /* the message being assembled */
    size_t msg_len;
    int msg_opcode;
    bool in_msg;
    int error;      /* the negative return, or 0 */
    size_t reads;   /* how many reads the stream was cut into */
    size_t pieces;  /* DATA events */
    size_t partial_at; /* where partial(...) starts in log, or loglen */
    bool closed;
};

__attribute__((format(printf, 2, 3))) static void say(struct run *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(r->log + r->loglen, sizeof(r->log) - r->loglen, fmt, ap);
    va_end(ap);
    ck_assert_int_ge(k, 0);
    r->loglen += (size_t)k;
    ck_assert_uint_lt(r->loglen, sizeof(r->log));
}

/* FNV-1a, so that a long message shows as a short line of the log. */
static uint32_t fnv(const uint8_t *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void say_bytes(struct run *r, const uint8_t *p, size_t n)
{
    if (n > 32) {
        say(r, "%zu#%08x", n, fnv(p, n));
        return;
    }
    for (size_t i = 0; i < n; i++)
        say(r, "%c", p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' ? p[i] : '.');
}

/*
 * Reads in[0..n) (copied: the reader unmasks in place) in reads of `chunk`
 * bytes (0: one read), with the given limits, asserting on every event
 * what the contract promises, and logs: T(...) / B(...) whole messages,
 * ping(...), pong(...), close(code,...), error(code) and, at the end, a
 * message still open as partial(...).
 */
static void run_stream(struct run *r, const uint8_t *in, size_t n, size_t chunk, uint64_t max_frame,
                       uint64_t max_message)
{
    memset(r, 0, sizeof(*r));
    uint8_t *buf = malloc(n + 1);
    r->msg = malloc(n + 1);
    MUST(buf != NULL && r->msg != NULL);
    memcpy(buf, in, n);
    struct turbo__ws_reader rd;
    turbo__ws_reader_init(&rd, max_frame, max_message);
    size_t at = 0;
    while (at < n && r->error == 0) {
        size_t end = chunk == 0 || n - at < chunk ? n : at + chunk;
        r->reads++;
        while (at < end) {
            struct turbo__ws_event ev;
            ssize_t got = turbo__ws_reader_feed(&rd, buf + at, end - at, &ev);
            if (got < 0) {
                r->error = (int)got;
                MUST(turbo__ws_reader_error(&rd) == (unsigned)-got);
                MUST(ev.type == TURBO__WS_NONE);
                say(r, "error(%d)", (int)-got);
                break;
            }
            MUST((size_t)got <= end - at);
            MUST(turbo__ws_reader_error(&rd) == 0);
            if (ev.type == TURBO__WS_NONE) {
                MUST((size_t)got == end - at); /* NONE: all consumed */
            } else if (ev.type == TURBO__WS_DATA) {
                /* The piece is the end of what was consumed, in buf. */
                MUST(ev.len == 0 || ev.data + ev.len == buf + at + got);
                MUST(ev.opcode == TEXT || ev.opcode == BINARY);
                MUST(ev.first == !r->in_msg);
                MUST(ev.len > 0 || ev.fin);
                if (r->in_msg)
                    MUST(ev.opcode == r->msg_opcode);
                r->in_msg = true;
                r->msg_opcode = ev.opcode;
                memcpy(r->msg + r->msg_len, ev.data, ev.len);
                r->msg_len += ev.len;
                r->pieces++;
                /* (Every piece of a short message: the check is quadratic.) */
                if (ev.opcode == TEXT && (ev.fin || r->msg_len <= 4096))
                    MUST(utf8_ref_valid(r->msg, r->msg_len, !ev.fin));
                if (ev.fin) {
                    say(r, "%c(", ev.opcode == TEXT ? 'T' : 'B');
                    say_bytes(r, r->msg, r->msg_len);
                    say(r, ")");
                    r->in_msg = false;
                    r->msg_len = 0;
                }
            } else {
                MUST(ev.len <= 125);
                const char *name = ev.type == TURBO__WS_PING   ? "ping"
                                   : ev.type == TURBO__WS_PONG ? "pong"
                                                               : "close";
                say(r, "%s(", name);
                if (ev.type == TURBO__WS_CLOSE) {
                    say(r, "%u,", ev.close_code);
                    r->closed = true;
                }
                say_bytes(r, ev.data, ev.len);
                say(r, ")");
            }
            at += (size_t)got;
        }
    }
    r->partial_at = r->loglen;
    if (r->in_msg) {
        say(r, "partial(");
        say_bytes(r, r->msg, r->msg_len);
        say(r, ")");
    }
    free(buf);
    free(r->msg);
    r->msg = NULL;
}

/*
 * The log of in[0..n) read whole, asserting that reading it a byte at a
 * time and in reads of 2, 3, 5, 7, 13 and 4096 bytes logs the same. The
 * log is valid until the next call.
 */
static const char *read_all(const uint8_t *in, size_t n, uint64_t max_frame, uint64_t max_message)
{
    static struct run whole;
    struct run split;
    run_stream(&whole, in, n, 0, max_frame, max_message);
    static const size_t chunks[] = {1, 2, 3, 5, 7, 13, 4096};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        run_stream(&split, in, n, chunks[i], max_frame, max_message);
        /* A message cut by an error may show more of itself when split
         * (the pieces before the fault are given): all else must agree. */
        bool same = whole.error != 0 ? split.error == whole.error &&
                                           split.partial_at == whole.partial_at &&
                                           memcmp(split.log, whole.log, whole.partial_at) == 0
                                     : strcmp(split.log, whole.log) == 0;
        ck_assert_msg(same, "reads of %zu: %s\n  whole: %s", chunks[i], split.log, whole.log);
    }
    return whole.log;
}

static const char *read_stream(const struct stream *s)
{
    return read_all(s->b, s->n, 0, 0);
}

/* Asserts that in[0..n) fails with close code `code`, however split. */
static void assert_fails(const uint8_t *in, size_t n, uint64_t max_frame, uint64_t max_message,
                         int code, const char *what)
{
    struct run r;
    read_all(in, n, max_frame, max_message); /* every split fails alike */
    run_stream(&r, in, n, 0, max_frame, max_message);
    ck_assert_msg(r.error == -code, "%s: %s, wanted error(%d)", what, r.log, code);
}

static void assert_frame_fails(uint8_t b0, const void *payload, size_t len, int code,
                               const char *what)
{
    uint8_t buf[256];
    size_t n = frame(buf, b0, payload, len);
    assert_fails(buf, n, 0, 0, code, what);
}

/* ------------------------------------------------------------------------
 * UTF-8
 * --------------------------------------------------------------------- */

static int utf8_check(const void *p, size_t n)
{
    struct turbo__ws_utf8 u;
    turbo__ws_utf8_init(&u);
    if (turbo__ws_utf8_feed(&u, p, n) < 0)
        return -1;
    return turbo__ws_utf8_done(&u) ? 0 : 1; /* 1: valid so far, cut mid code point */
}

#define S(lit) lit, sizeof(lit) - 1

static const struct {
    const char *s;
    size_t n;
} utf8_valid[] = {
    {S("")},
    {S("plain ASCII, long enough for the 16-byte fast path to run twice")},
    {S("\x00\x7f")},
    {S("\xc2\x80")},             /* U+0080, the first 2-byte */
    {S("\xdf\xbf")},             /* U+07FF, the last 2-byte */
    {S("\xe0\xa0\x80")},         /* U+0800, the first 3-byte */
    {S("\xed\x9f\xbf")},         /* U+D7FF, below the surrogates */
    {S("\xee\x80\x80")},         /* U+E000, above them */
    {S("\xef\xbf\xbd")},         /* U+FFFD */
    {S("\xef\xbf\xbe\xef\xbf\xbf")}, /* U+FFFE, U+FFFF: noncharacters are valid */
    {S("\xf0\x90\x80\x80")},     /* U+10000, the first 4-byte */
    {S("\xf4\x8f\xbf\xbf")},     /* U+10FFFF, the last code point */
    {S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5")}, /* "kosme" in Greek */
    {S("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc\xc3\xa0\xc3\xa1-UTF-8!!")},
};

static const struct {
    const char *s;
    size_t n;
    size_t bad_at; /* the byte at which the validator must say no */
} utf8_invalid[] = {
    {S("\x80"), 0},                     /* a lone continuation */
    {S("a\xbf"), 1},
    {S("\xc0\xaf"), 0},                 /* overlong '/', 2 bytes: C0 is never valid */
    {S("\xc1\xbf"), 0},
    {S("\xe0\x80\xaf"), 1},             /* overlong '/', 3 bytes */
    {S("\xe0\x9f\xbf"), 1},             /* overlong U+07FF */
    {S("\xf0\x80\x80\xaf"), 1},         /* overlong '/', 4 bytes */
    {S("\xf0\x8f\xbf\xbf"), 1},         /* overlong U+FFFF */
    {S("\xed\xa0\x80"), 1},             /* U+D800 */
    {S("\xed\xbf\xbf"), 1},             /* U+DFFF */
    {S("\xed\xa0\x80\xed\xb0\x80"), 1}, /* a surrogate pair */
    {S("\xf4\x90\x80\x80"), 1},         /* U+110000 */
    {S("\xf5\x80\x80\x80"), 0},
    {S("\xf7\xbf\xbf\xbf"), 0},
    {S("\xf8\x88\x80\x80\x80"), 0},     /* 5-byte form */
    {S("\xfc\x84\x80\x80\x80\x80"), 0}, /* 6-byte form */
    {S("\xfe"), 0},
    {S("\xff"), 0},
    {S("\xc2\x41"), 1},                 /* lead then ASCII */
    {S("\xe2\x82\x41"), 2},
    {S("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited"), 12},
    {S("0123456789abcdef0123456789abcdef\xc0"), 32}, /* after fast-path blocks */
};

START_TEST(utf8_accepts_every_boundary_code_point_split_anywhere)
{
    for (size_t i = 0; i < sizeof(utf8_valid) / sizeof(utf8_valid[0]); i++) {
        const uint8_t *p = (const uint8_t *)utf8_valid[i].s;
        size_t n = utf8_valid[i].n;
        ck_assert_msg(utf8_check(p, n) == 0, "case %zu", i);
        for (size_t cut = 0; cut <= n; cut++) {
            struct turbo__ws_utf8 u;
            turbo__ws_utf8_init(&u);
            ck_assert_int_eq(turbo__ws_utf8_feed(&u, p, cut), 0);
            ck_assert_int_eq(turbo__ws_utf8_done(&u), utf8_ref_valid(p, cut, false));
            ck_assert_int_eq(turbo__ws_utf8_feed(&u, p + cut, n - cut), 0);
            ck_assert(turbo__ws_utf8_done(&u));
        }
    }
}
END_TEST

START_TEST(utf8_rejects_at_the_first_bad_byte_and_stays_rejected)
{
    for (size_t i = 0; i < sizeof(utf8_invalid) / sizeof(utf8_invalid[0]); i++) {
        const uint8_t *p = (const uint8_t *)utf8_invalid[i].s;
        size_t n = utf8_invalid[i].n;
        ck_assert_msg(utf8_check(p, n) == -1, "case %zu", i);
        struct turbo__ws_utf8 u;
        turbo__ws_utf8_init(&u);
        size_t j = 0;
        while (j < n && turbo__ws_utf8_feed(&u, p + j, 1) == 0)
            j++;
        ck_assert_msg(j == utf8_invalid[i].bad_at, "case %zu: rejected at %zu", i, j);
        ck_assert_int_eq(turbo__ws_utf8_feed(&u, (const uint8_t *)"a", 1), -1);
        ck_assert(!turbo__ws_utf8_done(&u));
    }
}
END_TEST

START_TEST(utf8_cut_mid_code_point_is_valid_so_far_but_not_done)
{
    ck_assert_int_eq(utf8_check(S("\xe2\x82")), 1);
    ck_assert_int_eq(utf8_check(S("a\xf0\x9f\x98")), 1);
    ck_assert_int_eq(utf8_check(S("\xc3")), 1);
}
END_TEST

START_TEST(utf8_fast_path_finds_a_bad_byte_at_every_offset)
{
    uint8_t buf[80];
    for (size_t bad = 0; bad < 64; bad++) {
        for (size_t start = 0; start < 8; start++) {
            memset(buf, 'x', sizeof(buf));
            buf[start + bad] = 0xff;
            ck_assert_int_eq(utf8_check(buf + start, 64), -1);
            buf[start + bad] = 0xc3; /* a 2-byte character cut at the end when bad == 63 */
            buf[start + bad + 1] = 0xa9;
            ck_assert_int_eq(utf8_check(buf + start, 64), bad == 63 ? 1 : 0);
        }
    }
}
END_TEST

/* Every sequence of one to three bytes, against the reference decoder. */
START_TEST(utf8_agrees_with_the_reference_on_every_three_byte_sequence)
{
    uint8_t b[3];
    for (uint32_t v = 0; v < (1u << 24); v++) {
        b[0] = (uint8_t)(v >> 16);
        b[1] = (uint8_t)(v >> 8);
        b[2] = (uint8_t)v;
        for (size_t n = 1; n <= 3; n++) {
            if (n < 3 && (v & ((1u << (8 * (3 - n))) - 1)) != 0)
                continue; /* shorter sequences once each */
            struct turbo__ws_utf8 u;
            turbo__ws_utf8_init(&u);
            int fed = turbo__ws_utf8_feed(&u, b, n);
            bool whole = fed == 0 && turbo__ws_utf8_done(&u);
            if (whole != utf8_ref_valid(b, n, false) || (fed == 0) != utf8_ref_valid(b, n, true))
                ck_abort_msg("%02x %02x %02x (n %zu): feed %d done %d", b[0], b[1], b[2], n, fed,
                             whole);
        }
    }
}
END_TEST

/* Four bytes: every lead byte from F0 with the bytes around each edge. */
START_TEST(utf8_agrees_with_the_reference_on_four_byte_edges)
{
    static const uint8_t edges[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
                                    0xa0, 0xbf, 0xc0, 0xc2, 0xe0, 0xf4, 0xff};
    size_t ne = sizeof(edges);
    for (unsigned lead = 0xf0; lead <= 0xff; lead++)
        for (size_t i = 0; i < ne; i++)
            for (size_t j = 0; j < ne; j++)
                for (size_t k = 0; k < ne; k++) {
                    uint8_t b[4] = {(uint8_t)lead, edges[i], edges[j], edges[k]};
                    ck_assert_int_eq(utf8_check(b, 4) == 0, utf8_ref_valid(b, 4, false));
                }
}
END_TEST

/* ------------------------------------------------------------------------
 * Handshake
 * --------------------------------------------------------------------- */

static void assert_sha1(const void *p, size_t n, const char *hex)
{
    uint8_t d[20];
    char got[41];
    turbo__ws_sha1(p, n, d);
    for (int i = 0; i < 20; i++)
        snprintf(got + 2 * i, 3, "%02x", d[i]);
    ck_assert_str_eq(got, hex);
}

START_TEST(sha1_matches_the_fips_180_vectors)
{
    assert_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    assert_sha1(S("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    char *m = malloc(1000000);
    ck_assert_ptr_nonnull(m);
    memset(m, 'a', 1000000);
    assert_sha1(m, 1000000, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
    /* Lengths around the padding's edges (55: one block, 56: two). */
    assert_sha1(m, 55, "c1c8bbdc22796e28c0e15163d20899b65621d65a");
    assert_sha1(m, 56, "c2db330f6083854c99d4b5bfb6e8f29f201be699");
    assert_sha1(m, 63, "03f09f5b158a7a8cdad920bddc29b81c18a551f5");
    assert_sha1(m, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
    assert_sha1(m, 119, "ee971065aaa017e0632a8ca6c77bb3bf8b1dfc56");
    assert_sha1(m, 120, "f34c1488385346a55709ba056ddd08280dd4c6d6");
    free(m);
}
END_TEST

START_TEST(base64_matches_the_rfc_4648_vectors)
{
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char got[16];
        size_t n = turbo__ws_base64((const uint8_t *)in[i], strlen(in[i]), got);
        ck_assert_str_eq(got, out[i]);
        ck_assert_uint_eq(n, strlen(out[i]));
    }
}
END_TEST

START_TEST(accept_key_of_the_rfc_6455_example)
{
    char out[29];
    ck_assert_int_eq(turbo__ws_accept_key(S("dGhlIHNhbXBsZSBub25jZQ=="), out), 0);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Surrounding spaces and tabs are not part of the key. */
    memset(out, 0, sizeof(out));
    ck_assert_int_eq(turbo__ws_accept_key(S(" \tdGhlIHNhbXBsZSBub25jZQ==\t "), out), 0);
    ck_assert_str_eq(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Another key; its accept computed with Python's hashlib and base64. */
    ck_assert_int_eq(turbo__ws_accept_key(S("x3JJHMbDL1EzLkh9GBhXDw=="), out), 0);
    ck_assert_str_eq(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}
END_TEST

START_TEST(accept_key_refuses_what_is_not_base64_of_16_bytes)
{
    static const char *const bad[] = {
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",    /* 23 */
        "dGhlIHNhbXBsZSBub25jZQ===",  /* 25 */
        "dGhlIHNhbXBsZSBub25jZQ",     /* no padding */
        "dGhlIHNhbXBsZSBub25jZQAA",   /* 18 bytes */
        "dGhlIHNhbXBsZSBub25jZ===",   /* 15 bytes and a half */
        "dGhlIHNhbXBsZSBub25 ZQ==",   /* inner space */
        "dGhlIHNhbXBsZSBub25jZ-==",   /* URL-safe alphabet */
        "dGhlIHNhbXBsZSBub25jZQ==x",
        "dGhlIHNhbXBsZSBub25jZQ=\x00",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char out[29] = "untouched";
        size_t n = i == sizeof(bad) / sizeof(bad[0]) - 1 ? 24 : strlen(bad[i]);
        ck_assert_msg(turbo__ws_accept_key(bad[i], n, out) == -1, "key %zu", i);
        ck_assert_str_eq(out, "untouched");
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Reader: valid streams
 * --------------------------------------------------------------------- */

START_TEST(reader_reads_the_rfc_example_masked_hello_in_place)
{
    /* RFC 6455 5.7: a single-frame masked text message "Hello". */
    uint8_t buf[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, sizeof(buf), &ev), 11);
    ck_assert_int_eq(ev.type, TURBO__WS_DATA);
    ck_assert_int_eq(ev.opcode, TEXT);
    ck_assert(ev.first && ev.fin);
    ck_assert_ptr_eq(ev.data, buf + 6);
    ck_assert_uint_eq(ev.len, 5);
    ck_assert_mem_eq(buf + 6, "Hello", 5);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf + 11, 0, &ev), 0);
    ck_assert_int_eq(ev.type, TURBO__WS_NONE);
}
END_TEST

START_TEST(reader_gives_a_partial_frame_as_it_arrives)
{
    uint8_t buf[64];
    size_t n = frame(buf, FIN | BINARY, "abcdefghij", 10);
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, n - 6, &ev), (ssize_t)(n - 6));
    ck_assert_int_eq(ev.type, TURBO__WS_DATA);
    ck_assert(ev.first && !ev.fin);
    ck_assert_uint_eq(ev.len, 4);
    ck_assert_mem_eq(ev.data, "abcd", 4);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf + n - 6, 6, &ev), 6);
    ck_assert(!ev.first && ev.fin);
    ck_assert_mem_eq(ev.data, "efghij", 6);
}
END_TEST

START_TEST(reader_fragmented_message_with_pings_between_fragments)
{
    struct stream s = stream_new(1024);
    put_str(&s, TEXT, "Hel");
    put_str(&s, FIN | PING, "p1");
    put_str(&s, CONT, "lo, ");
    put_str(&s, FIN | PONG, "");
    put_str(&s, FIN | PING, "p2");
    put_str(&s, CONT, "");
    put_str(&s, FIN | CONT, "world");
    put(&s, FIN | BINARY, "\xff\x00", 2);
    ck_assert_str_eq(read_stream(&s), "ping(p1)pong()ping(p2)T(Hello, world)B(..)");
    free(s.b);
}
END_TEST

START_TEST(reader_empty_final_frame_ends_the_message_with_an_empty_piece)
{
    struct stream s = stream_new(256);
    put_str(&s, TEXT, "abc");
    put_str(&s, FIN | CONT, "");
    size_t cut = s.n;
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, s.b, cut, &ev), 9);
    ck_assert(ev.type == TURBO__WS_DATA && ev.first && !ev.fin && ev.len == 3);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, s.b + 9, cut - 9, &ev), 6);
    ck_assert(ev.type == TURBO__WS_DATA && !ev.first && ev.fin && ev.len == 0);
    ck_assert_int_eq(ev.opcode, TEXT);
    /* An empty message: one piece, first and last. */
    put_str(&s, FIN | TEXT, "");
    ck_assert_int_eq(turbo__ws_reader_feed(&r, s.b + cut, s.n - cut, &ev), 6);
    ck_assert(ev.type == TURBO__WS_DATA && ev.first && ev.fin && ev.len == 0);
    free(s.b);
}
END_TEST

START_TEST(reader_empty_middle_frames_say_nothing)
{
    struct stream s = stream_new(256);
    put_str(&s, BINARY, "");
    put_str(&s, CONT, "");
    put_str(&s, CONT, "x");
    put_str(&s, FIN | CONT, "y");
    ck_assert_str_eq(read_stream(&s), "B(xy)");
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ssize_t got = turbo__ws_reader_feed(&r, s.b, s.n, &ev);
    ck_assert_int_eq(got, 6 + 6 + 7); /* two empty frames and "x" in one call */
    ck_assert(ev.type == TURBO__WS_DATA && ev.first && !ev.fin && ev.len == 1);
    free(s.b);
}
END_TEST

START_TEST(reader_lengths_at_every_encoding_edge)
{
    static const size_t lens[] = {0, 1, 125, 126, 127, 128, 65535, 65536, 70000};
    uint8_t *payload = malloc(70000);
    ck_assert_ptr_nonnull(payload);
    for (size_t i = 0; i < 70000; i++)
        payload[i] = (uint8_t)('a' + i % 26);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct stream s = stream_new(70100);
        put(&s, FIN | TEXT, payload, lens[i]);
        size_t header = lens[i] < 126 ? 6 : lens[i] <= 65535 ? 8 : 14;
        ck_assert_uint_eq(s.n, header + lens[i]);
        struct run want = {0};
        say(&want, "T(");
        say_bytes(&want, payload, lens[i]);
        say(&want, ")");
        ck_assert_str_eq(read_stream(&s), want.log);
        free(s.b);
    }
    free(payload);
}
END_TEST

START_TEST(reader_accepts_non_minimal_length_encodings)
{
    uint8_t buf[64];
    size_t n = frame_ex(buf, FIN | TEXT, "hi", 2, LEN_16, true);
    ck_assert_uint_eq(n, 10);
    ck_assert_str_eq(read_all(buf, n, 0, 0), "T(hi)");
    n = frame_ex(buf, FIN | TEXT, "hi", 2, LEN_64, true);
    ck_assert_uint_eq(n, 16);
    ck_assert_str_eq(read_all(buf, n, 0, 0), "T(hi)");
    /* Not for control frames: their 7-bit length field must hold the length. */
    n = frame_ex(buf, FIN | PING, "hi", 2, LEN_16, true);
    assert_fails(buf, n, 0, 0, 1002, "ping with a 16-bit length");
}
END_TEST

START_TEST(reader_mask_offset_carries_across_reads)
{
    uint8_t payload[1000];
    for (size_t i = 0; i < sizeof(payload); i++)
        payload[i] = (uint8_t)(i * 7);
    uint8_t buf[1100];
    size_t n = frame(buf, FIN | BINARY, payload, sizeof(payload));
    /* Every read size from 1 to 40: unmasked bytes equal the payload. */
    for (size_t chunk = 1; chunk <= 40; chunk++) {
        uint8_t copy[1100], got[1000];
        size_t got_len = 0;
        memcpy(copy, buf, n);
        struct turbo__ws_reader r;
        turbo__ws_reader_init(&r, 0, 0);
        for (size_t at = 0; at < n;) {
            size_t end = n - at < chunk ? n : at + chunk;
            while (at < end) {
                struct turbo__ws_event ev;
                ssize_t k = turbo__ws_reader_feed(&r, copy + at, end - at, &ev);
                ck_assert_int_ge(k, 0);
                if (ev.type == TURBO__WS_DATA) {
                    memcpy(got + got_len, ev.data, ev.len);
                    got_len += ev.len;
                }
                at += (size_t)k;
            }
        }
        ck_assert_uint_eq(got_len, sizeof(payload));
        ck_assert_mem_eq(got, payload, sizeof(payload));
    }
}
END_TEST

START_TEST(reader_control_frame_split_across_reads_is_given_whole)
{
    uint8_t payload[125];
    for (size_t i = 0; i < 125; i++)
        payload[i] = (uint8_t)('A' + i % 26);
    uint8_t buf[200];
    size_t n = frame(buf, FIN | PING, payload, 125);
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, 50, &ev), 50);
    ck_assert_int_eq(ev.type, TURBO__WS_NONE);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf + 50, n - 50, &ev), (ssize_t)(n - 50));
    ck_assert_int_eq(ev.type, TURBO__WS_PING);
    ck_assert_uint_eq(ev.len, 125);
    ck_assert_mem_eq(ev.data, payload, 125);
}
END_TEST

START_TEST(reader_utf8_split_across_fragments_and_reads)
{
    struct stream s = stream_new(256);
    /* U+20AC (E2 82 AC) and U+1F600 (F0 9F 98 80) cut between frames. */
    put(&s, TEXT, "\xe2", 1);
    put(&s, CONT, "\x82", 1);
    put(&s, FIN | PING, "", 0);
    put(&s, CONT, "\xac\xf0\x9f", 3);
    put(&s, FIN | CONT, "\x98\x80", 2);
    ck_assert_str_eq(read_stream(&s), "ping()T(.......)");
    free(s.b);

    s = stream_new(256);
    put(&s, TEXT, "\xe2\x82", 2);
    put(&s, FIN | CONT, "\x28", 1); /* not a continuation byte */
    ck_assert_str_eq(read_stream(&s), "error(1007)partial(..)");
    free(s.b);
}
END_TEST

START_TEST(reader_close_with_code_and_reason_then_ignores_the_rest)
{
    struct stream s = stream_new(256);
    s.n += close_frame(s.b, 1000, "bye");
    put_str(&s, FIN | TEXT, "after");
    put(&s, 0x7f, "garbage", 7);
    ck_assert_str_eq(read_stream(&s), "close(1000,bye)");
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, s.b, s.n, &ev), 11);
    ck_assert_int_eq(ev.type, TURBO__WS_CLOSE);
    ck_assert_uint_eq(ev.close_code, 1000);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, s.b + 11, s.n - 11, &ev), (ssize_t)(s.n - 11));
    ck_assert_int_eq(ev.type, TURBO__WS_NONE);
    free(s.b);
}
END_TEST

START_TEST(reader_close_without_payload_reports_1005)
{
    uint8_t buf[16];
    size_t n = frame(buf, FIN | CLOSE, "", 0);
    ck_assert_str_eq(read_all(buf, n, 0, 0), "close(1005,)");
}
END_TEST

START_TEST(reader_close_codes_that_may_be_sent)
{
    static const unsigned ok[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                  1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        uint8_t buf[32];
        char want[32];
        size_t n = close_frame(buf, ok[i], "");
        snprintf(want, sizeof(want), "close(%u,)", ok[i]);
        ck_assert_str_eq(read_all(buf, n, 0, 0), want);
        ck_assert(turbo__ws_close_code_valid(ok[i]));
    }
}
END_TEST

START_TEST(reader_close_codes_that_may_not_be_sent_are_a_protocol_error)
{
    static const unsigned bad[] = {0,    1,    999,  1004, 1005, 1006, 1015, 1016,
                                   1100, 2000, 2999, 5000, 65535};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t buf[32];
        size_t n = close_frame(buf, bad[i], "");
        ck_assert_msg(strcmp(read_all(buf, n, 0, 0), "error(1002)") == 0, "code %u", bad[i]);
        ck_assert(!turbo__ws_close_code_valid(bad[i]));
    }
}
END_TEST

START_TEST(reader_longest_close_reason_fits)
{
    char reason[124];
    memset(reason, 'r', 123);
    reason[123] = '\0';
    uint8_t buf[160];
    size_t n = close_frame(buf, 1001, reason);
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, n, &ev), (ssize_t)n);
    ck_assert_int_eq(ev.type, TURBO__WS_CLOSE);
    ck_assert_uint_eq(ev.close_code, 1001);
    ck_assert_uint_eq(ev.len, 123);
    ck_assert_mem_eq(ev.data, reason, 123);
}
END_TEST

/* ------------------------------------------------------------------------
 * Reader: every violation, with its close code
 * --------------------------------------------------------------------- */

START_TEST(reader_unmasked_client_frame_is_1002)
{
    uint8_t buf[] = {0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}; /* RFC 6455 5.7, unmasked */
    assert_fails(buf, sizeof(buf), 0, 0, 1002, "unmasked text");
    uint8_t ping[16];
    size_t n = frame_ex(ping, FIN | PING, "x", 1, LEN_MINIMAL, false);
    assert_fails(ping, n, 0, 0, 1002, "unmasked ping");
    /* Found on the second header byte: nothing more is needed. */
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, 2, &ev), -1002);
}
END_TEST

START_TEST(reader_reserved_bits_are_1002)
{
    assert_frame_fails(FIN | RSV1 | TEXT, "a", 1, 1002, "RSV1");
    assert_frame_fails(FIN | RSV2 | TEXT, "a", 1, 1002, "RSV2");
    assert_frame_fails(FIN | RSV3 | BINARY, "a", 1, 1002, "RSV3");
    assert_frame_fails(FIN | RSV1 | RSV2 | RSV3 | PING, "", 0, 1002, "RSV on ping");
    struct stream s = stream_new(64);
    put_str(&s, TEXT, "a");
    put_str(&s, FIN | RSV1 | CONT, "b");
    assert_fails(s.b, s.n, 0, 0, 1002, "RSV1 on a continuation");
    free(s.b);
}
END_TEST

START_TEST(reader_reserved_opcodes_are_1002)
{
    for (unsigned op = 3; op <= 15; op++) {
        if (op >= 8 && op <= 10)
            continue;
        assert_frame_fails((uint8_t)(FIN | op), "", 0, 1002, "reserved opcode");
        assert_frame_fails((uint8_t)(FIN | op), "payload", 7, 1002, "reserved opcode");
        /* Also inside a fragmented message. */
        struct stream s = stream_new(64);
        put_str(&s, TEXT, "a");
        put_str(&s, (uint8_t)(FIN | op), "b");
        assert_fails(s.b, s.n, 0, 0, 1002, "reserved opcode mid-message");
        free(s.b);
    }
}
END_TEST

START_TEST(reader_fragmented_control_frames_are_1002)
{
    assert_frame_fails(PING, "p", 1, 1002, "ping without FIN");
    assert_frame_fails(PONG, "p", 1, 1002, "pong without FIN");
    assert_frame_fails(CLOSE, "\x03\xe8", 2, 1002, "close without FIN");
}
END_TEST

START_TEST(reader_control_frames_over_125_bytes_are_1002)
{
    uint8_t payload[126] = {0};
    assert_frame_fails(FIN | PING, payload, 126, 1002, "ping of 126");
    assert_frame_fails(FIN | PONG, payload, 126, 1002, "pong of 126");
    payload[0] = 0x03, payload[1] = 0xe8;
    assert_frame_fails(FIN | CLOSE, payload, 126, 1002, "close of 126");
    /* Refused from the second header byte on: the 7-bit field says 126. */
    uint8_t buf[200];
    size_t n = frame_ex(buf, FIN | PING, payload, 125, LEN_16, true);
    assert_fails(buf, n, 0, 0, 1002, "ping of 125 with a 16-bit length");
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, 2, &ev), -1002);
}
END_TEST

START_TEST(reader_continuation_without_a_message_is_1002)
{
    assert_frame_fails(FIN | CONT, "x", 1, 1002, "lone final continuation");
    assert_frame_fails(CONT, "x", 1, 1002, "lone continuation");
    struct stream s = stream_new(64);
    put_str(&s, FIN | TEXT, "done");
    put_str(&s, FIN | CONT, "late");
    assert_fails(s.b, s.n, 0, 0, 1002, "continuation after a final frame");
    free(s.b);
}
END_TEST

START_TEST(reader_new_message_inside_a_message_is_1002)
{
    struct stream s = stream_new(64);
    put_str(&s, TEXT, "a");
    put_str(&s, FIN | TEXT, "b");
    assert_fails(s.b, s.n, 0, 0, 1002, "text inside text");
    s.n = 0;
    put_str(&s, BINARY, "a");
    put_str(&s, FIN | PING, "");
    put_str(&s, BINARY, "b");
    assert_fails(s.b, s.n, 0, 0, 1002, "binary inside binary, after a ping");
    s.n = 0;
    put_str(&s, TEXT, "a");
    put_str(&s, FIN | BINARY, "b");
    assert_fails(s.b, s.n, 0, 0, 1002, "binary inside text");
    free(s.b);
}
END_TEST

START_TEST(reader_64_bit_length_with_the_top_bit_is_1002)
{
    uint8_t buf[] = {FIN | BINARY, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4};
    assert_fails(buf, sizeof(buf), 0, 0, 1002, "2^63 + 1");
    buf[2] = 0x7f; /* 2^63 - 2^56 + 1: allowed, the frame just never ends here */
    ck_assert_str_eq(read_all(buf, sizeof(buf), 0, 0), "");
    /* With a limit, the huge frame is too big, not a protocol error. */
    assert_fails(buf, sizeof(buf), 1 << 20, 0, 1009, "2^63 - 2^56 + 1 over max_frame");
    assert_fails(buf, sizeof(buf), 0, 1 << 20, 1009, "2^63 - 2^56 + 1 over max_message");
}
END_TEST

START_TEST(reader_frame_over_max_frame_is_1009_before_its_payload)
{
    uint8_t payload[300] = {0};
    uint8_t buf[400];
    size_t n = frame(buf, FIN | BINARY, payload, 100);
    struct run want = {0};
    say(&want, "B(");
    say_bytes(&want, payload, 100);
    say(&want, ")");
    ck_assert_str_eq(read_all(buf, n, 100, 0), want.log);
    assert_fails(buf, n, 99, 0, 1009, "frame of 100 over 99");
    n = frame(buf, FIN | BINARY, payload, 300);
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 299, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, 8, &ev), -1009); /* the header alone */
    ck_assert_uint_eq(turbo__ws_reader_error(&r), 1009);
    /* Control frames count too. */
    n = frame(buf, FIN | PING, payload, 20);
    assert_fails(buf, n, 10, 0, 1009, "ping of 20 over 10");
}
END_TEST

START_TEST(reader_message_over_max_message_is_1009_at_the_frame_that_passes_it)
{
    struct stream s = stream_new(256);
    put_str(&s, TEXT, "12345");
    put_str(&s, FIN | PING, "");
    put_str(&s, CONT, "67890");
    put_str(&s, FIN | CONT, "");
    put_str(&s, FIN | TEXT, "0123456789"); /* the count starts again */
    ck_assert_str_eq(read_all(s.b, s.n, 0, 10), "ping()T(1234567890)T(0123456789)");
    s.n = 0;
    put_str(&s, TEXT, "12345");
    put_str(&s, FIN | CONT, "678901");
    assert_fails(s.b, s.n, 0, 10, 1009, "message of 11 over 10");
    ck_assert_str_eq(read_all(s.b, s.n, 6, 0), "T(12345678901)"); /* frames under 6 */
    free(s.b);
}
END_TEST

START_TEST(reader_invalid_utf8_text_is_1007_at_the_first_bad_byte)
{
    for (size_t i = 0; i < sizeof(utf8_invalid) / sizeof(utf8_invalid[0]); i++)
        assert_frame_fails(FIN | TEXT, utf8_invalid[i].s, utf8_invalid[i].n, 1007, "invalid text");
    /* The frame's bad byte fails it before the rest has arrived. */
    uint8_t payload[100];
    memset(payload, 'a', sizeof(payload));
    payload[10] = 0xff;
    uint8_t buf[200];
    frame(buf, FIN | TEXT, payload, sizeof(payload));
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, 6 + 11, &ev), -1007);
    /* Binary messages are not text. */
    uint8_t bin[16];
    size_t n = frame(bin, FIN | BINARY, "\xff\xfe", 2);
    ck_assert_str_eq(read_all(bin, n, 0, 0), "B(..)");
}
END_TEST

START_TEST(reader_text_ending_mid_code_point_is_1007)
{
    assert_frame_fails(FIN | TEXT, "a\xe2\x82", 3, 1007, "cut euro sign");
    struct stream s = stream_new(64);
    put(&s, TEXT, "\xf0\x9f", 2);
    put(&s, FIN | CONT, "\x98", 1);
    assert_fails(s.b, s.n, 0, 0, 1007, "cut across fragments");
    s.n = 0;
    put(&s, TEXT, "\xc3", 1);
    put(&s, FIN | CONT, "", 0);
    assert_fails(s.b, s.n, 0, 0, 1007, "cut, then an empty final frame");
    free(s.b);
}
END_TEST

START_TEST(reader_close_payload_of_one_byte_is_1002)
{
    assert_frame_fails(FIN | CLOSE, "\x03", 1, 1002, "close of 1 byte");
}
END_TEST

START_TEST(reader_close_reason_not_utf8_is_1007)
{
    uint8_t buf[32];
    size_t n = close_frame(buf, 1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80");
    assert_fails(buf, n, 0, 0, 1007, "surrogate in reason");
    n = close_frame(buf, 1000, "ok\xe2\x82");
    assert_fails(buf, n, 0, 0, 1007, "reason cut mid code point");
}
END_TEST

START_TEST(reader_stays_failed)
{
    uint8_t bad[16], good[16];
    size_t nb = frame(bad, FIN | RSV1 | TEXT, "a", 1);
    size_t ng = frame(good, FIN | TEXT, "a", 1);
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, bad, nb, &ev), -1002);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, good, ng, &ev), -1002);
    ck_assert_int_eq(ev.type, TURBO__WS_NONE);
    ck_assert_uint_eq(turbo__ws_reader_error(&r), 1002);
}
END_TEST

/* ------------------------------------------------------------------------
 * Autobahn-style cases, as data: a stream and the log it must give
 * --------------------------------------------------------------------- */

START_TEST(reader_autobahn_style_sessions)
{
    struct stream s = stream_new(1 << 16);
    /* 2.x: pings with and without payload, binary payload, unsolicited pong. */
    put_str(&s, FIN | PING, "");
    put_str(&s, FIN | PING, "Hello, world!");
    put(&s, FIN | PING, "\x00\xff\xfe\xfd\xfc\xfb\x00\xff", 8);
    put_str(&s, FIN | PONG, "unsolicited");
    ck_assert_str_eq(read_stream(&s), "ping()ping(Hello, world!)ping(........)pong(unsolicited)");
    /* 5.x: text in fragments with pings between, then in one frame. */
    s.n = 0;
    put_str(&s, TEXT, "fragment1");
    put_str(&s, FIN | PING, "ping payload");
    put_str(&s, FIN | CONT, "fragment2");
    put_str(&s, FIN | TEXT, "single");
    put_str(&s, BINARY, "a");
    put_str(&s, CONT, "b");
    put_str(&s, FIN | PONG, "");
    put_str(&s, CONT, "c");
    put_str(&s, FIN | CONT, "d");
    ck_assert_str_eq(read_stream(&s), "ping(ping payload)T(fragment1fragment2)T(single)pong()B(abcd)");
    /* 5.x: a final continuation with nothing to continue, after a message. */
    put_str(&s, FIN | CONT, "x");
    ck_assert_str_eq(read_stream(&s),
                     "ping(ping payload)T(fragment1fragment2)T(single)pong()B(abcd)error(1002)");
    /* 6.x: each valid UTF-8 case in one frame, and a byte per frame. */
    for (size_t i = 0; i < sizeof(utf8_valid) / sizeof(utf8_valid[0]); i++) {
        const char *t = utf8_valid[i].s;
        size_t n = utf8_valid[i].n;
        s.n = 0;
        put(&s, FIN | TEXT, t, n);
        char one[4096];
        snprintf(one, sizeof(one), "%s", read_stream(&s));
        s.n = 0;
        for (size_t j = 0; j < n; j++)
            put(&s, (uint8_t)((j == n - 1 ? FIN : 0) | (j == 0 ? TEXT : CONT)), t + j, 1);
        if (n == 0)
            put(&s, FIN | TEXT, "", 0);
        ck_assert_str_eq(read_stream(&s), one);
    }
    /* 6.x: each invalid case a byte per frame fails too. */
    for (size_t i = 0; i < sizeof(utf8_invalid) / sizeof(utf8_invalid[0]); i++) {
        const char *t = utf8_invalid[i].s;
        size_t n = utf8_invalid[i].n;
        s.n = 0;
        for (size_t j = 0; j < n; j++)
            put(&s, (uint8_t)((j == n - 1 ? FIN : 0) | (j == 0 ? TEXT : CONT)), t + j, 1);
        assert_fails(s.b, s.n, 0, 0, 1007, "invalid UTF-8 a byte per frame");
    }
    /* 7.x: a close after a message; its reason in UTF-8. */
    s.n = 0;
    put_str(&s, FIN | TEXT, "last words");
    s.n += close_frame(s.b + s.n, 1000, "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5");
    ck_assert_str_eq(read_stream(&s), "T(last words)close(1000,...........)");
    /* 9.x: a 1 MiB message in 64 KiB frames, read in 4 KiB and odd reads. */
    free(s.b);
    size_t big = 1 << 20, piece = 1 << 16;
    s = stream_new(big + 1024);
    uint8_t *m = malloc(big);
    ck_assert_ptr_nonnull(m);
    for (size_t i = 0; i < big; i++)
        m[i] = (uint8_t)('!' + i % 90);
    for (size_t at = 0; at < big; at += piece)
        put(&s, (uint8_t)((at + piece == big ? FIN : 0) | (at == 0 ? TEXT : CONT)), m + at, piece);
    char want[64];
    snprintf(want, sizeof(want), "T(%zu#%08x)", big, fnv(m, big));
    ck_assert_str_eq(read_stream(&s), want);
    ck_assert_str_eq(read_all(s.b, s.n, piece, big), want);
    assert_fails(s.b, s.n, piece - 1, 0, 1009, "64 KiB frames over 64 KiB - 1");
    assert_fails(s.b, s.n, 0, big - 1, 1009, "1 MiB message over 1 MiB - 1");
    free(m);
    free(s.b);
}
END_TEST

/* ------------------------------------------------------------------------
 * Writers
 * --------------------------------------------------------------------- */

START_TEST(frame_header_uses_the_minimal_length_encoding)
{
    uint8_t h[10];
    ck_assert_uint_eq(turbo__ws_frame_header(h, true, TEXT, 5), 2);
    ck_assert_mem_eq(h, "\x81\x05", 2);
    ck_assert_uint_eq(turbo__ws_frame_header(h, false, BINARY, 125), 2);
    ck_assert_mem_eq(h, "\x02\x7d", 2);
    ck_assert_uint_eq(turbo__ws_frame_header(h, true, BINARY, 126), 4);
    ck_assert_mem_eq(h, "\x82\x7e\x00\x7e", 4);
    ck_assert_uint_eq(turbo__ws_frame_header(h, true, BINARY, 65535), 4);
    ck_assert_mem_eq(h, "\x82\x7e\xff\xff", 4);
    ck_assert_uint_eq(turbo__ws_frame_header(h, false, CONT, 65536), 10);
    ck_assert_mem_eq(h, "\x00\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    ck_assert_uint_eq(turbo__ws_frame_header(h, true, CLOSE, 0), 2);
    ck_assert_mem_eq(h, "\x88\x00", 2);
    ck_assert_uint_eq(turbo__ws_frame_header(h, true, PONG, (uint64_t)1 << 40), 10);
    ck_assert_mem_eq(h, "\x8a\x7f\x00\x00\x01\x00\x00\x00\x00\x00", 10);
}
END_TEST

/* The writer's header is the test's client header less the mask. */
START_TEST(frame_header_is_a_client_frame_header_without_the_mask)
{
    static const uint64_t lens[] = {0, 3, 125, 126, 65535, 65536};
    static uint8_t payload[65536];
    memset(payload, 'z', sizeof(payload));
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        uint8_t h[10];
        size_t hn = turbo__ws_frame_header(h, true, BINARY, lens[i]);
        uint8_t *buf = malloc(14 + lens[i]);
        ck_assert_ptr_nonnull(buf);
        size_t n = frame(buf, FIN | BINARY, payload, lens[i]);
        ck_assert_uint_eq(n, hn + 4 + lens[i]); /* same length form */
        ck_assert_uint_eq(buf[0], h[0]);
        ck_assert_uint_eq(buf[1], h[1] | 0x80);
        ck_assert_mem_eq(buf + 2, h + 2, hn - 2);
        free(buf);
    }
}
END_TEST

START_TEST(close_payload_keeps_the_code_and_a_whole_utf8_reason)
{
    uint8_t out[125];
    ck_assert_uint_eq(turbo__ws_close_payload(out, 1000, "bye", 3), 5);
    ck_assert_mem_eq(out, "\x03\xe8" "bye", 5);
    ck_assert_uint_eq(turbo__ws_close_payload(out, 4000, NULL, 0), 2);
    ck_assert_mem_eq(out, "\x0f\xa0", 2);
    ck_assert_uint_eq(turbo__ws_close_payload(out, 0, "ignored", 7), 0);
    char reason[200];
    memset(reason, 'a', sizeof(reason));
    ck_assert_uint_eq(turbo__ws_close_payload(out, 1001, reason, 123), 125);
    ck_assert_uint_eq(turbo__ws_close_payload(out, 1001, reason, 200), 125);
    /* 122 bytes and a 2-byte character: the character does not fit. */
    reason[122] = '\xc3', reason[123] = '\xa9';
    ck_assert_uint_eq(turbo__ws_close_payload(out, 1001, reason, 124), 124);
    ck_assert_uint_eq(out[123], 'a');
    /* 121 and the character: it does. */
    reason[121] = '\xc3', reason[122] = '\xa9';
    ck_assert_uint_eq(turbo__ws_close_payload(out, 1001, reason, 123), 125);
    ck_assert_mem_eq(out + 123, "\xc3\xa9", 2);
    /* A reason that is not UTF-8 stops before its first bad byte. */
    ck_assert_uint_eq(turbo__ws_close_payload(out, 1011, "ok\xff" "more", 7), 4);
    ck_assert_uint_eq(turbo__ws_close_payload(out, 1011, "ok\xe2\x82", 4), 4);
    /* And the reader accepts what it writes. */
    size_t n = turbo__ws_close_payload(out, 1001, reason, 200);
    uint8_t buf[160];
    size_t fn = frame(buf, FIN | CLOSE, out, n);
    struct turbo__ws_reader r;
    struct turbo__ws_event ev;
    turbo__ws_reader_init(&r, 0, 0);
    ck_assert_int_eq(turbo__ws_reader_feed(&r, buf, fn, &ev), (ssize_t)fn);
    ck_assert_int_eq(ev.type, TURBO__WS_CLOSE);
    ck_assert_uint_eq(ev.close_code, 1001);
    ck_assert_uint_eq(ev.len, n - 2);
}
END_TEST

static Suite *ws_suite(void)
{
    Suite *s = suite_create("ws");
    TCase *tu = tcase_create("utf8");
    tcase_set_timeout(tu, 120); /* 16.7 M sequences, slower under ASan */
    tcase_add_test(tu, utf8_accepts_every_boundary_code_point_split_anywhere);
    tcase_add_test(tu, utf8_rejects_at_the_first_bad_byte_and_stays_rejected);
    tcase_add_test(tu, utf8_cut_mid_code_point_is_valid_so_far_but_not_done);
    tcase_add_test(tu, utf8_fast_path_finds_a_bad_byte_at_every_offset);
    tcase_add_test(tu, utf8_agrees_with_the_reference_on_every_three_byte_sequence);
    tcase_add_test(tu, utf8_agrees_with_the_reference_on_four_byte_edges);
    suite_add_tcase(s, tu);
    TCase *th = tcase_create("handshake");
    tcase_add_test(th, sha1_matches_the_fips_180_vectors);
    tcase_add_test(th, base64_matches_the_rfc_4648_vectors);
    tcase_add_test(th, accept_key_of_the_rfc_6455_example);
    tcase_add_test(th, accept_key_refuses_what_is_not_base64_of_16_bytes);
    suite_add_tcase(s, th);
    TCase *tr = tcase_create("reader");
    tcase_set_timeout(tr, 60);
    tcase_add_test(tr, reader_reads_the_rfc_example_masked_hello_in_place);
    tcase_add_test(tr, reader_gives_a_partial_frame_as_it_arrives);
    tcase_add_test(tr, reader_fragmented_message_with_pings_between_fragments);
    tcase_add_test(tr, reader_empty_final_frame_ends_the_message_with_an_empty_piece);
    tcase_add_test(tr, reader_empty_middle_frames_say_nothing);
    tcase_add_test(tr, reader_lengths_at_every_encoding_edge);
    tcase_add_test(tr, reader_accepts_non_minimal_length_encodings);
    tcase_add_test(tr, reader_mask_offset_carries_across_reads);
    tcase_add_test(tr, reader_control_frame_split_across_reads_is_given_whole);
    tcase_add_test(tr, reader_utf8_split_across_fragments_and_reads);
    tcase_add_test(tr, reader_close_with_code_and_reason_then_ignores_the_rest);
    tcase_add_test(tr, reader_close_without_payload_reports_1005);
    tcase_add_test(tr, reader_close_codes_that_may_be_sent);
    tcase_add_test(tr, reader_longest_close_reason_fits);
    tcase_add_test(tr, reader_autobahn_style_sessions);
    suite_add_tcase(s, tr);
    TCase *tf = tcase_create("reader failures");
    tcase_add_test(tf, reader_unmasked_client_frame_is_1002);
    tcase_add_test(tf, reader_reserved_bits_are_1002);
    tcase_add_test(tf, reader_reserved_opcodes_are_1002);
    tcase_add_test(tf, reader_fragmented_control_frames_are_1002);
    tcase_add_test(tf, reader_control_frames_over_125_bytes_are_1002);
    tcase_add_test(tf, reader_continuation_without_a_message_is_1002);
    tcase_add_test(tf, reader_new_message_inside_a_message_is_1002);
    tcase_add_test(tf, reader_64_bit_length_with_the_top_bit_is_1002);
    tcase_add_test(tf, reader_frame_over_max_frame_is_1009_before_its_payload);
    tcase_add_test(tf, reader_message_over_max_message_is_1009_at_the_frame_that_passes_it);
    tcase_add_test(tf, reader_invalid_utf8_text_is_1007_at_the_first_bad_byte);
    tcase_add_test(tf, reader_text_ending_mid_code_point_is_1007);
    tcase_add_test(tf, reader_close_payload_of_one_byte_is_1002);
    tcase_add_test(tf, reader_close_codes_that_may_not_be_sent_are_a_protocol_error);
    tcase_add_test(tf, reader_close_reason_not_utf8_is_1007);
    tcase_add_test(tf, reader_stays_failed);
    suite_add_tcase(s, tf);
    TCase *tw = tcase_create("writer");
    tcase_add_test(tw, frame_header_uses_the_minimal_length_encoding);
    tcase_add_test(tw, frame_header_is_a_client_frame_header_without_the_mask);
    tcase_add_test(tw, close_payload_keeps_the_code_and_a_whole_utf8_reason);
    suite_add_tcase(s, tw);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(ws_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
