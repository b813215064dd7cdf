/*
 * HTTP/1.1 request parsing (RFC 9112, RFC 9110): the end-of-head scanner,
 * the head parser and the in-place chunked body decoder. See parse.h for
 * the contract of each function.
 *
 * Strictness is deliberate: anything two HTTP implementations could read
 * differently (the root of request smuggling) is refused rather than
 * guessed at. The hot scans have an SSE4.2 version and a scalar version
 * that must give the same answers; the scalar one always finishes the
 * last < 16 bytes so that no load reads past the caller's buffer.
 */
#include "parse.h"

#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define TURBO__PARSE_SSE42 1
#include <nmmintrin.h>
#else
#define TURBO__PARSE_SSE42 0
#endif

/* ------------------------------------------------------------------------
 * Byte classes
 * --------------------------------------------------------------------- */

enum {
    C_TCHAR = 1,  /* token character (RFC 9110 5.6.2) */
    C_VALUE = 2,  /* field-value byte: HTAB, SP, VCHAR, obs-text */
    C_TARGET = 4, /* request-target byte: VCHAR except '#' */
};

static const unsigned char byte_class[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, /* 00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 10 */
    2, 7, 6, 3, 7, 7, 7, 7, 6, 6, 7, 7, 6, 7, 7, 6, /* 20 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 6, 6, 6, /* 30 */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 40 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 7, 7, /* 50 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, /* 60 */
    7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 7, 6, 7, 0, /* 70 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 80 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* 90 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* a0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* b0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* c0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* d0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* e0 */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, /* f0 */
};

static inline int is_class(char c, unsigned cls)
{
    return (byte_class[(unsigned char)c] & cls) != 0;
}

static inline int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

static inline char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c + ('a' - 'A')) : c;
}

/* s[0..n) equals the lowercase literal lit, ignoring ASCII case. */
int turbo__ieq(const char *s, size_t n, const char *lit)
{
    size_t i;
    if (strlen(lit) != n)
        return 0;
    for (i = 0; i < n; i++)
        if (lower_ascii(s[i]) != lit[i])
            return 0;
    return 1;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = lower_ascii(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* ------------------------------------------------------------------------
 * Scanners: each returns the offset of the first byte in [i, end) that
 * stops the scan, or end. The scalar versions are the reference; the
 * SSE4.2 versions only ever skip whole 16-byte blocks the scalar loop
 * would have skipped, then hand the rest to it.
 * --------------------------------------------------------------------- */

static int simd_switch = 1; /* the only global: a test hook */

void turbo__parse_use_simd(int on)
{
    simd_switch = on != 0;
}

int turbo__parse_simd_available(void)
{
#if TURBO__PARSE_SSE42
    return __builtin_cpu_supports("sse4.2") != 0;
#else
    return 0;
#endif
}

static inline int simd_active(void)
{
    return simd_switch && turbo__parse_simd_available();
}

/* Eight bytes at a time without vector instructions: these are exact
 * tests of "some byte of x is below n" (n <= 128) and "some byte equals
 * c", used to skip words that cannot stop a scan. */
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)

static inline uint64_t load64(const char *p)
{
    uint64_t x;
    memcpy(&x, p, sizeof x); /* one unaligned load */
    return x;
}

static inline uint64_t has_below(uint64_t x, unsigned n)
{
    return (x - ONES * n) & ~x & HIGHS;
}

static inline uint64_t has_byte(uint64_t x, unsigned c)
{
    return has_below(x ^ (ONES * c), 1);
}

/* Head scan stops at the bytes that matter for framing: CR, LF, NUL. */
static inline size_t scan_head_scalar(const char *b, size_t i, size_t end)
{
    const unsigned stop = (1u << '\0') | (1u << '\n') | (1u << '\r');
    /* A word with no byte below 14 holds none of them (HTAB only costs a
     * byte-wise look). */
    while (end - i >= 8 && !has_below(load64(b + i), '\r' + 1))
        i += 8;
    for (; i < end; i++) {
        unsigned char c = (unsigned char)b[i];
        if (c <= '\r' && (stop >> c) & 1u)
            break;
    }
    return i;
}

static inline size_t span_token_scalar(const char *b, size_t i, size_t end)
{
    while (i < end && is_class(b[i], C_TCHAR))
        i++;
    return i;
}

static inline size_t span_value_scalar(const char *b, size_t i, size_t end)
{
    for (;;) {
        /* Skip words free of control bytes and DEL (HTAB, though allowed,
         * sends its word to the byte-wise check). */
        while (end - i >= 8) {
            uint64_t x = load64(b + i);
            if (has_below(x, ' ') | has_byte(x, 0x7f))
                break;
            i += 8;
        }
        if (i == end)
            return i;
        if (!is_class(b[i], C_VALUE))
            return i;
        i++;
    }
}

/* Target bytes, additionally stopping at '?' when stop_query is set. */
static inline size_t span_target_scalar(const char *b, size_t i, size_t end, int stop_query)
{
    while (i < end && is_class(b[i], C_TARGET) && !(stop_query && b[i] == '?'))
        i++;
    return i;
}

#if TURBO__PARSE_SSE42
/* Range tables for _mm_cmpestri(_SIDD_CMP_RANGES): pairs of inclusive
 * bounds, padded to 16 bytes. NEGATIVE_POLARITY makes it report the first
 * byte outside every range. */
static const char value_ranges[16] = {'\t', '\t', ' ', '~', (char)0x80, (char)0xff};
static const char target_ranges[16] = {'!', '"', '$', '~'};
static const char target_noq_ranges[16] = {'!', '"', '$', '>', '@', '~'};

#define TURBO__RANGE_MODE                                                                          \
    (_SIDD_UBYTE_OPS | _SIDD_CMP_RANGES | _SIDD_NEGATIVE_POLARITY | _SIDD_LEAST_SIGNIFICANT)

__attribute__((target("sse4.2"))) static size_t span_ranges_sse(const char *b, size_t i, size_t end,
                                                                const char *ranges, int nr)
{
    const __m128i r = _mm_loadu_si128((const __m128i *)(const void *)ranges);
    while (end - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        int k = _mm_cmpestri(r, nr, v, 16, TURBO__RANGE_MODE);
        if (k < 16)
            return i + (size_t)k;
        i += 16;
    }
    return i;
}

/* For three exact bytes, plain SSE2 compares beat PCMPESTRI. */
__attribute__((target("sse4.2"))) static size_t scan_head_sse(const char *b, size_t i, size_t end)
{
    const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
    const __m128i nul = _mm_setzero_si128();
    while (end - i >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)),
                                 _mm_cmpeq_epi8(v, nul));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits != 0)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
    return i;
}
#endif

static inline size_t scan_head(int simd, const char *b, size_t i, size_t end)
{
#if TURBO__PARSE_SSE42
    if (simd)
        i = scan_head_sse(b, i, end);
#else
    (void)simd;
#endif
    return scan_head_scalar(b, i, end);
}

static inline size_t span_value(int simd, const char *b, size_t i, size_t end)
{
#if TURBO__PARSE_SSE42
    if (simd)
        i = span_ranges_sse(b, i, end, value_ranges, 6);
#else
    (void)simd;
#endif
    return span_value_scalar(b, i, end);
}

static inline size_t span_target(int simd, const char *b, size_t i, size_t end, int stop_query)
{
#if TURBO__PARSE_SSE42
    if (simd)
        i = stop_query ? span_ranges_sse(b, i, end, target_noq_ranges, 6)
                       : span_ranges_sse(b, i, end, target_ranges, 4);
#else
    (void)simd;
#endif
    return span_target_scalar(b, i, end, stop_query);
}

/* ------------------------------------------------------------------------
 * End-of-head scan
 * --------------------------------------------------------------------- */

/*
 * Length checks on the request line [ls, e). An incomplete line is only
 * looked at once it is longer than a target of max_uri_bytes could make it
 * with the shortest method, so short partial lines cost nothing. A
 * complete line costs a look at its method and version only (the target
 * is measured between the first and the last SP), unless it is too long.
 * The rules only ever fire on a prefix if they also fire on (or
 * parse_head rejects) every longer line, so the outcome does not depend on
 * how the input was split. A method longer than max_uri_bytes is refused
 * (-400): it is garbage, and bounding it bounds the whole line.
 */
static long check_request_line(const char *buf, size_t ls, size_t e, int complete, size_t max_uri)
{
    const char *line = buf + ls;
    size_t n = e - ls, t0, t_end, mscan;
    const char *sp1, *sp2;

    if (!complete && n <= max_uri + 2)
        return 0;
    mscan = n < max_uri + 1 ? n : max_uri + 1;
    sp1 = memchr(line, ' ', mscan);
    if (sp1 == NULL)
        return -400;
    t0 = (size_t)(sp1 - line) + 1;
    if (complete) {
        for (t_end = n; t_end > t0 && line[t_end - 1] != ' ';)
            t_end--;
        t_end = t_end > t0 ? t_end - 1 : n; /* the last SP, or no second one */
        if (t_end - t0 <= max_uri)
            return 0; /* extra SPs, if any, are parse_head's -400 */
    }
    /* The target ends at the second SP, or runs on past what we have. */
    sp2 = memchr(line + t0, ' ', n - t0);
    t_end = sp2 != NULL ? (size_t)(sp2 - line) : n;
    if (t_end - t0 > max_uri)
        return -414;
    /* A short target, then more than "HTTP/1.1" (8 bytes): never valid. */
    if (complete || (sp2 != NULL && n - t_end - 1 > 8))
        return -400;
    return 0;
}

/* A line [*ls, cr) ended with CRLF. Returns the head length when it was
 * the terminating empty line, 0 to go on, or a negative status. */
static long end_of_line(const char *buf, size_t cr, size_t *ls, int *seen, size_t max_uri)
{
    if (cr == *ls) {
        if (*seen)
            return (long)(cr + 2);
        *ls = cr + 2; /* an empty line before the request line: skipped */
        return 0;
    }
    if (!*seen) {
        /* First what a read ending just before the CR would have seen of
         * the line (incomplete), so that the outcome does not depend on
         * where the reads ended; then the complete line. */
        long r = check_request_line(buf, *ls, cr, 0, max_uri);
        if (r == 0)
            r = check_request_line(buf, *ls, cr, 1, max_uri);
        if (r != 0)
            return r;
        *seen = 1;
    }
    *ls = cr + 2;
    return 0;
}

/* A framing error at offset j. If it is in the request line, a length
 * error already visible before j wins, as it would have when the bytes
 * arrived one by one. */
static long framing_error(const char *buf, size_t ls, size_t j, int seen, size_t max_uri)
{
    long r = seen ? 0 : check_request_line(buf, ls, j, 0, max_uri);
    return r != 0 ? r : -400;
}

long turbo__head_scan(const char *buf, size_t len, turbo__scan *st, const turbo__limits *lim)
{
    const size_t max = lim->max_header_bytes;
    const size_t end = len < max ? len : max;
    const int simd = simd_active();
    size_t i = st->pos, ls = st->line_start, e;
    /* Has the request line ended before ls? Empty lines before it are
     * skipped and an empty line after it ends the head, so the line just
     * before ls tells: a look-back at one examined byte instead of more
     * state in turbo__scan. */
    int seen = ls > 2 && buf[ls - 3] != '\n';
    long r;

    /* A CR that was the last byte of the previous call: only now can we
     * tell a CRLF from a bare CR. (After a complete CRLF, pos sits past
     * the LF, so a CR just before pos is always such a pending one.) */
    if (i > 0 && buf[i - 1] == '\r' && i < end) {
        if (buf[i] != '\n')
            return framing_error(buf, ls, i - 1, seen, lim->max_uri_bytes);
        i++;
        r = end_of_line(buf, i - 2, &ls, &seen, lim->max_uri_bytes);
        if (r != 0)
            return r;
    }
    while (i < end) {
        size_t j;
        /* The request line must start with a method token; refusing
         * anything else at its first byte stops TLS handshakes and other
         * protocols at once. */
        if (!seen && i == ls && buf[i] != '\r' && !is_class(buf[i], C_TCHAR))
            return -400;
        j = scan_head(simd, buf, i, end);
        if (j == end) {
            i = end;
            break;
        }
        if (buf[j] != '\r') /* NUL, or LF without CR */
            return framing_error(buf, ls, j, seen, lim->max_uri_bytes);
        if (j + 1 == end) { /* CR at the end: decided by the next byte */
            i = end;
            break;
        }
        if (buf[j + 1] != '\n')
            return framing_error(buf, ls, j, seen, lim->max_uri_bytes);
        i = j + 2;
        r = end_of_line(buf, j, &ls, &seen, lim->max_uri_bytes);
        if (r != 0)
            return r;
    }
    st->pos = i;
    st->line_start = ls;
    if (!seen) {
        e = (i > ls && buf[i - 1] == '\r') ? i - 1 : i;
        r = check_request_line(buf, ls, e, 0, lim->max_uri_bytes);
        if (r != 0)
            return r;
    }
    if (i >= max)
        return -431;
    return 0;
}

/* ------------------------------------------------------------------------
 * Head parsing
 * --------------------------------------------------------------------- */

static inline turbo_str slice(const char *p, size_t n)
{
    turbo_str s;
    s.ptr = p;
    s.len = n;
    return s;
}

/* Next element of a comma-separated list value[*pos..len), OWS trimmed;
 * returns 0 when the list is exhausted. Empty elements are returned. */
static int next_element(turbo_str v, size_t *pos, turbo_str *out)
{
    size_t s = *pos, e;
    const char *comma;
    if (s > v.len)
        return 0;
    comma = s < v.len ? memchr(v.ptr + s, ',', v.len - s) : NULL;
    e = comma != NULL ? (size_t)(comma - v.ptr) : v.len;
    *pos = e + 1;
    while (s < e && is_ows(v.ptr[s]))
        s++;
    while (e > s && is_ows(v.ptr[e - 1]))
        e--;
    *out = slice(v.ptr + s, e - s);
    return 1;
}

static int is_token(turbo_str s)
{
    return s.len > 0 && span_token_scalar(s.ptr, 0, s.len) == s.len;
}

/* What the framing headers said, decided once the whole head is read. */
typedef struct semantics {
    unsigned hosts;
    unsigned te_chunked; /* times "chunked" appeared */
    int te_seen;
    int te_last_chunked; /* the last coding so far was chunked */
    int te_other;        /* a coding other than chunked appeared */
} semantics;

/* Content-Length = 1*DIGIT. Anything else, including the comma lists some
 * agents send, is refused: two readings of the length are how bodies get
 * smuggled. Values are kept below 2^63 so they fit every signed 64-bit
 * consumer too. */
static int content_length(turbo_str v, uint64_t *out)
{
    uint64_t n = 0;
    size_t i;
    if (v.len == 0)
        return -400;
    for (i = 0; i < v.len; i++) {
        unsigned d = (unsigned)(unsigned char)v.ptr[i] - '0';
        if (d > 9)
            return -400;
        if (n > (UINT64_C(0x7fffffffffffffff) - d) / 10)
            return -400;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

static int transfer_encoding(turbo_str v, semantics *sem)
{
    size_t pos = 0;
    turbo_str el;
    sem->te_seen = 1;
    while (next_element(v, &pos, &el)) {
        if (el.len == 0)
            return -400;
        if (turbo__ieq(el.ptr, el.len, "chunked")) {
            sem->te_chunked++;
            sem->te_last_chunked = 1;
        } else {
            /* Some other coding, maybe with parameters: understood or
             * not, it has to start like a token. */
            if (!is_class(el.ptr[0], C_TCHAR))
                return -400;
            sem->te_other = 1;
            sem->te_last_chunked = 0;
        }
    }
    return 0;
}

static int connection(turbo_str v, turbo__head *h)
{
    size_t pos = 0;
    turbo_str el;
    while (next_element(v, &pos, &el)) {
        if (el.len == 0) /* RFC 9110 5.6.1.2: empty elements are ignored */
            continue;
        if (!is_token(el))
            return -400;
        if (turbo__ieq(el.ptr, el.len, "close"))
            h->conn_close = 1;
        else if (turbo__ieq(el.ptr, el.len, "keep-alive"))
            h->conn_keep_alive = 1;
    }
    return 0;
}

/* Acts on the fields that change framing or flow; others pass through. */
static int field_semantics(const turbo__header *f, turbo__head *h, semantics *sem)
{
    const turbo_str n = f->name, v = f->value;
    switch (n.len) {
    case 4:
        if (turbo__ieq(n.ptr, n.len, "host") && ++sem->hosts > 1)
            return -400;
        break;
    case 6:
        if (turbo__ieq(n.ptr, n.len, "expect")) {
            if (!turbo__ieq(v.ptr, v.len, "100-continue"))
                return -417;
            h->expect_continue = 1;
        }
        break;
    case 10:
        if (turbo__ieq(n.ptr, n.len, "connection"))
            return connection(v, h);
        break;
    case 14:
        if (turbo__ieq(n.ptr, n.len, "content-length")) {
            if (h->has_content_length) /* even with the same value */
                return -400;
            if (content_length(v, &h->content_length) != 0)
                return -400;
            h->has_content_length = 1;
        }
        break;
    case 17:
        if (turbo__ieq(n.ptr, n.len, "transfer-encoding")) {
            if (h->minor == 0) /* RFC 9112 6.1: a 1.0 peer cannot mean it */
                return -400;
            return transfer_encoding(v, sem);
        }
        break;
    default: break;
    }
    return 0;
}

/* authority = host [ ":" port ] for http(s) (RFC 3986 3.2, RFC 9110
 * 4.2.1): host a non-empty reg-name (unreserved, pct-encoded, sub-delims)
 * or an IPv6 literal in brackets, port digits. Userinfo ('@') and bytes
 * like '"' or '<' are refused: the authority replaces Host (RFC 9112
 * 3.2.2), so it must be no looser than a host name. */
static int is_authority(const char *s, size_t n)
{
    static const char reg_name[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "0123456789-._~%!$&'()*+,;=";
    size_t i = 0;
    if (n > 0 && s[0] == '[') {
        for (i = 1; i < n && s[i] != ']'; i++)
            if (hex_value(s[i]) < 0 && s[i] != ':' && s[i] != '.')
                return 0;
        if (i == n || i == 1)
            return 0;
        i++;
    } else {
        while (i < n && s[i] != ':' && memchr(reg_name, s[i], sizeof reg_name - 1) != NULL)
            i++;
        if (i == 0)
            return 0;
    }
    if (i < n && s[i] == ':')
        for (i++; i < n && s[i] >= '0' && s[i] <= '9';)
            i++;
    return i == n;
}

/* Parses the request-target starting at *pp; leaves *pp on the byte after
 * it. Only the forms a server (not a proxy) must accept are taken. */
static int parse_target(int simd, const char *buf, size_t len, size_t *pp, turbo__head *h)
{
    static const char root[] = "/";
    const size_t s = *pp;
    size_t e, q, path_end, a, a_end;
    const char *slash;

    q = e = span_target(simd, buf, s, len, 1);
    if (e < len && buf[e] == '?')
        e = span_target(simd, buf, e + 1, len, 0);
    if (e == s)
        return -400;
    *pp = e;
    h->target = slice(buf + s, e - s);
    path_end = q;
    h->query = q < e ? slice(buf + q + 1, e - q - 1) : slice(buf + e, 0);

    if (buf[s] == '/') { /* origin-form */
        h->path = slice(buf + s, path_end - s);
        return 0;
    }
    if (buf[s] == '*') { /* asterisk-form, OPTIONS only */
        if (e - s != 1 || !(h->method.len == 7 && memcmp(h->method.ptr, "OPTIONS", 7) == 0))
            return -400;
        h->path = h->target;
        return 0;
    }
    /* absolute-form: http or https only, a non-empty authority without
     * userinfo (RFC 9110 4.2.1/4.2.4), then an optional path. */
    if (path_end - s >= 7 && turbo__ieq(buf + s, 7, "http://"))
        a = s + 7;
    else if (path_end - s >= 8 && turbo__ieq(buf + s, 8, "https://"))
        a = s + 8;
    else
        return -400;
    slash = memchr(buf + a, '/', path_end - a);
    a_end = slash != NULL ? (size_t)(slash - buf) : path_end;
    if (!is_authority(buf + a, a_end - a))
        return -400;
    h->path = slash != NULL ? slice(slash, path_end - a_end) : slice(root, 1);
    return 0;
}

int turbo__parse_head(const char *buf, size_t len, turbo__head *h, turbo__header *headers,
                      const turbo__limits *lim)
{
    const int simd = simd_active();
    semantics sem;
    size_t p = 0, q, e, n = 0;
    const char *v;
    int r;

    memset(h, 0, sizeof *h);
    memset(&sem, 0, sizeof sem);
    h->headers = headers;

    while (len - p >= 2 && buf[p] == '\r' && buf[p + 1] == '\n')
        p += 2;

    /* method SP */
    q = span_token_scalar(buf, p, len);
    if (q == p || q >= len || buf[q] != ' ')
        return -400;
    h->method = slice(buf + p, q - p);
    if (h->method.len == 7 && memcmp(h->method.ptr, "CONNECT", 7) == 0)
        return -400; /* authority-form: we are not a proxy */
    p = q + 1;

    /* request-target SP */
    if ((r = parse_target(simd, buf, len, &p, h)) != 0)
        return r;
    if (p >= len || buf[p] != ' ')
        return -400;
    p++;

    /* HTTP-version CRLF */
    if (len - p < 10)
        return -400;
    v = buf + p;
    if (memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' || v[7] < '0' ||
        v[7] > '9' || v[8] != '\r' || v[9] != '\n')
        return -400;
    if (v[5] != '1' || v[7] > '1')
        return -505;
    h->minor = v[7] - '0';
    p += 10;

    /* *( field-line CRLF ) CRLF */
    for (;;) {
        turbo__header *f;
        if (p >= len)
            return -400;
        if (buf[p] == '\r') {
            if (p + 1 >= len || buf[p + 1] != '\n')
                return -400;
            break;
        }
        if (n == lim->max_headers)
            return -431;
        /* An empty name also catches obs-fold (a line starting with SP or
         * HTAB) and stray control bytes. */
        q = span_token_scalar(buf, p, len);
        if (q == p || q >= len || buf[q] != ':')
            return -400;
        f = &headers[n];
        f->name = slice(buf + p, q - p);
        p = q + 1;
        while (p < len && is_ows(buf[p]))
            p++;
        q = span_value(simd, buf, p, len);
        if (q + 1 >= len || buf[q] != '\r' || buf[q + 1] != '\n')
            return -400;
        e = q;
        while (e > p && is_ows(buf[e - 1]))
            e--;
        f->value = slice(buf + p, e - p);
        n++;
        h->num_headers = n;
        if ((r = field_semantics(f, h, &sem)) != 0)
            return r;
        p = q + 2;
    }

    if (h->minor == 1 && sem.hosts == 0)
        return -400;
    if (sem.te_seen) {
        if (h->has_content_length)
            return -400;
        if (sem.te_chunked > 1 || (sem.te_chunked == 1 && !sem.te_last_chunked))
            return -400;
        if (sem.te_other)
            return -501;
        h->chunked = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Chunked body decoding (RFC 9112 7.1)
 * --------------------------------------------------------------------- */

enum {
    CH_SIZE0,    /* first hex digit of chunk-size */
    CH_SIZE,     /* more hex digits, ';', BWS or CR */
    CH_SIZE_BWS, /* whitespace after the size: more of it, or ';' */
    CH_EXT,      /* chunk extensions, up to CR */
    CH_SIZE_LF,  /* LF ending the size line */
    CH_DATA,     /* chunk data */
    CH_DATA_CR,  /* CRLF after the data */
    CH_DATA_LF,
    CH_TRAILER, /* start of a trailer line, or the final CRLF */
    CH_TNAME,   /* trailer field name, up to ':' */
    CH_TVALUE,  /* trailer field value, up to CR */
    CH_TVALUE_LF,
    CH_END_LF, /* LF of the final CRLF */
    CH_DONE
};

void turbo__chunked_init(turbo__chunked *c)
{
    memset(c, 0, sizeof *c);
    c->state = CH_SIZE0;
}

/* Where a chunk-ext (RFC 9112 7.1.1) is, within CH_EXT:
 *   chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
 *   ext-val   = token / quoted-string
 * BWS is allowed around ';' and '=' but not before the CRLF, and a ';'
 * must be followed by a name. */
enum {
    EXT_NAME0,   /* after ';': BWS, then the first name byte */
    EXT_NAME,    /* in the name: more of it, BWS, '=', ';' or CR */
    EXT_NAME_WS, /* BWS after the name: more of it, '=' or ';' */
    EXT_VAL0,    /* after '=': BWS, then a token or a '"' */
    EXT_TOKEN,   /* in a token value: more of it, BWS, ';' or CR */
    EXT_QUOTED,  /* in a quoted-string, after the opening '"' */
    EXT_QPAIR,   /* after a backslash in a quoted-string */
    EXT_AFTER,   /* after the closing '"': BWS, ';' or CR */
    EXT_WS       /* BWS after a value: more of it, or ';' */
};

/* qdtext: HTAB, SP, '!', '#'..'[', ']'..'~', obs-text. */
static int is_qdtext(unsigned char ch)
{
    return ch == '\t' || ch == ' ' || ch == '!' || (ch >= '#' && ch <= '[') ||
           (ch >= ']' && ch <= '~') || ch >= 0x80;
}

/* One byte of a chunk-ext. 1: the line's CR (the extension is complete);
 * 0: consumed; -1: not the grammar. */
static int ext_step(turbo__chunked *c, char ch)
{
    unsigned char u = (unsigned char)ch;
    switch (c->ext) {
    case EXT_NAME0:
        if (is_ows(ch))
            return 0;
        if (!is_class(ch, C_TCHAR))
            return -1; /* ";" with no name, or a name that is not a token */
        c->ext = EXT_NAME;
        return 0;
    case EXT_NAME:
    case EXT_TOKEN:
        if (is_class(ch, C_TCHAR))
            return 0;
        if (ch == '\r')
            return 1;
        if (ch == ';') {
            c->ext = EXT_NAME0;
            return 0;
        }
        if (ch == '=' && c->ext == EXT_NAME) {
            c->ext = EXT_VAL0;
            return 0;
        }
        if (is_ows(ch)) {
            c->ext = c->ext == EXT_NAME ? EXT_NAME_WS : EXT_WS;
            return 0;
        }
        return -1;
    case EXT_NAME_WS:
    case EXT_WS:
        if (is_ows(ch))
            return 0;
        if (ch == ';') {
            c->ext = EXT_NAME0;
            return 0;
        }
        if (ch == '=' && c->ext == EXT_NAME_WS) {
            c->ext = EXT_VAL0;
            return 0;
        }
        return -1; /* whitespace before the CRLF, or stray bytes */
    case EXT_VAL0:
        if (is_ows(ch))
            return 0;
        if (ch == '"') {
            c->ext = EXT_QUOTED;
            return 0;
        }
        if (!is_class(ch, C_TCHAR))
            return -1; /* "=" with no value */
        c->ext = EXT_TOKEN;
        return 0;
    case EXT_QUOTED:
        if (ch == '"')
            c->ext = EXT_AFTER;
        else if (ch == '\\')
            c->ext = EXT_QPAIR;
        else if (!is_qdtext(u))
            return -1; /* a control byte, or the CR of an unterminated string */
        return 0;
    case EXT_QPAIR:
        if (u != '\t' && (u < ' ' || u == 0x7f))
            return -1;
        c->ext = EXT_QUOTED;
        return 0;
    default: /* EXT_AFTER */
        if (ch == '\r')
            return 1;
        if (ch == ';') {
            c->ext = EXT_NAME0;
            return 0;
        }
        if (is_ows(ch)) {
            c->ext = EXT_WS;
            return 0;
        }
        return -1;
    }
}

/*
 * Byte-at-a-time except for chunk data, which is moved in bulk. The state
 * lives entirely in *c, so a split anywhere gives the same result.
 * Extension bytes (from the first byte after the size to the CR) are
 * capped per chunk line (TURBO__CHUNK_EXT_MAX) and per message: they
 * also count in trailer_bytes while the chunks are read, bounded by
 * max_header_bytes (-400 past either: they are otherwise unbounded work
 * that decodes to nothing); trailer_bytes restarts at 0 for the trailer
 * section.
 */
int turbo__chunked_decode(turbo__chunked *c, char *buf, size_t len, size_t *in, size_t *out,
                          const turbo__limits *lim)
{
    size_t p = *in, o = *out;
    int r = 0;

    while (p < len && c->state != CH_DONE) {
        char ch = buf[p];
        int d;
        switch (c->state) {
        case CH_SIZE0:
        case CH_SIZE:
            d = hex_value(ch);
            if (d >= 0) {
                if (c->digits == 16) {
                    r = -400;
                    goto out;
                }
                c->digits++;
                c->chunk_left = (c->chunk_left << 4) | (uint64_t)d;
                /* total <= max always holds, so this cannot wrap. */
                if (c->chunk_left > lim->max_body_bytes - c->total) {
                    r = -413;
                    goto out;
                }
                c->state = CH_SIZE;
                p++;
                break;
            }
            if (c->state == CH_SIZE0) {
                r = -400;
                goto out;
            }
            if (ch == '\r') {
                c->state = CH_SIZE_LF;
                p++;
                break;
            }
            if (ch != ';' && !is_ows(ch)) {
                r = -400;
                goto out;
            }
            /* The ';' or BWS is the extension's first byte. */
            c->state = CH_SIZE_BWS;
            c->ext_bytes = 0;
            /* fall through */
        case CH_SIZE_BWS:
        case CH_EXT:
            if (ch != '\r' && (++c->ext_bytes > TURBO__CHUNK_EXT_MAX ||
                                ++c->trailer_bytes > lim->max_header_bytes)) {
                r = -400;
                goto out;
            }
            if (c->state == CH_SIZE_BWS) {
                /* BWS after the size must lead to a ';' */
                if (ch == ';') {
                    c->state = CH_EXT;
                    c->ext = EXT_NAME0;
                } else if (!is_ows(ch)) {
                    r = -400;
                    goto out;
                }
            } else {
                int e = ext_step(c, ch);
                if (e < 0) {
                    r = -400;
                    goto out;
                }
                if (e == 1)
                    c->state = CH_SIZE_LF;
            }
            p++;
            break;
        case CH_SIZE_LF:
            if (ch != '\n') {
                r = -400;
                goto out;
            }
            p++;
            c->digits = 0;
            c->total += c->chunk_left;
            if (c->chunk_left == 0) {
                c->state = CH_TRAILER;
                c->trailer_bytes = 0;
            } else {
                c->state = CH_DATA;
            }
            break;
        case CH_DATA: {
            size_t n = len - p;
            if ((uint64_t)n > c->chunk_left)
                n = (size_t)c->chunk_left;
            if (o != p)
                memmove(buf + o, buf + p, n);
            o += n;
            p += n;
            c->chunk_left -= n;
            if (c->chunk_left == 0)
                c->state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
        case CH_DATA_LF:
            if (ch != (c->state == CH_DATA_CR ? '\r' : '\n')) {
                r = -400;
                goto out;
            }
            c->state = c->state == CH_DATA_CR ? CH_DATA_LF : CH_SIZE0;
            p++;
            break;
        default: /* the trailer section: fields validated like headers */
            if (++c->trailer_bytes > lim->max_header_bytes) {
                r = -431;
                goto out;
            }
            switch (c->state) {
            case CH_TRAILER:
                if (ch == '\r')
                    c->state = CH_END_LF;
                else if (is_class(ch, C_TCHAR))
                    c->state = CH_TNAME;
                else
                    r = -400; /* obs-fold, or not a field name */
                break;
            case CH_TNAME:
                if (ch == ':')
                    c->state = CH_TVALUE;
                else if (!is_class(ch, C_TCHAR))
                    r = -400;
                break;
            case CH_TVALUE:
                if (ch == '\r')
                    c->state = CH_TVALUE_LF;
                else if (!is_class(ch, C_VALUE))
                    r = -400;
                break;
            case CH_TVALUE_LF:
                if (ch == '\n')
                    c->state = CH_TRAILER;
                else
                    r = -400;
                break;
            default: /* CH_END_LF */
                if (ch == '\n')
                    c->state = CH_DONE;
                else
                    r = -400;
                break;
            }
            if (r != 0)
                goto out;
            p++;
            break;
        }
    }
    if (c->state == CH_DONE)
        r = 1;
out:
    *in = p;
    *out = o;
    return r;
}
