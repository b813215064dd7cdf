/*
 * Fuzz target: the trust list and the forwarded-header walk (forwarded.h).
 *
 *   byte 0   bit 0: Forwarded (RFC 7239), else X-Forwarded-For
 *   rest     a trust list, then 0xFF, then header lines separated by 0xFE
 *            (no 0xFF: the whole rest is a trust list, walked with "*")
 *
 * The trust list parses or is refused with a known reason; a parsed one
 * holds at most 32 networks with prefixes within their family. The walk
 * (last line first, as request.c does) returns 1, 0 or a known error; a
 * client it names is an IPv4 or IPv6 address the list does not trust,
 * the leftmost of an all-trusted walk is one it does; walking again gives
 * the same answer. Each line is a heap block of exactly its length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forwarded.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_LINES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int walk(const turbo__trust *t, int kind, char **lines, size_t *lens, int n,
                turbo__fwd_walk *w, turbo__fwd_client *c)
{
    memset(w, 0, sizeof(*w));
    memset(c, 0, sizeof(*c));
    int r = 0;
    for (int i = n; i-- > 0 && r == 0;)
        r = turbo__fwd_walk_line(lines[i], lens[i], kind, t, w, c);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int kind = data[0] & 1 ? TURBO__FWD_RFC7239 : TURBO__FWD_XFF;
    const uint8_t *p = data + 1, *end = data + size;
    const uint8_t *sep = memchr(p, 0xff, (size_t)(end - p));
    size_t tlen = sep != NULL ? (size_t)(sep - p) : (size_t)(end - p);

    char *list = malloc(tlen == 0 ? 1 : tlen);
    if (list == NULL)
        return 0;
    memcpy(list, p, tlen);
    turbo__trust t;
    int r = turbo__trust_parse(list, tlen, &t);
    free(list);
    CHECK(r == 0 || r == TURBO__FWD_ENTRY || r == TURBO__FWD_PREFIX || r == TURBO__FWD_TOOMANY);
    if (r == 0) {
        CHECK(t.n <= TURBO__TRUST_MAX);
        for (unsigned i = 0; i < t.n; i++)
            CHECK(t.net[i].family == 0 || (t.net[i].family == 4 && t.net[i].bits <= 32) ||
                  (t.net[i].family == 6 && t.net[i].bits <= 128));
    }
    if (sep == NULL || r != 0)
        CHECK(turbo__trust_parse("*", 1, &t) == 0);

    char *lines[MAX_LINES];
    size_t lens[MAX_LINES];
    int n = 0;
    const uint8_t *q = sep != NULL ? sep + 1 : end;
    while (q < end && n < MAX_LINES) {
        const uint8_t *e = memchr(q, 0xfe, (size_t)(end - q));
        size_t len = e != NULL ? (size_t)(e - q) : (size_t)(end - q);
        lines[n] = malloc(len == 0 ? 1 : len);
        if (lines[n] == NULL)
            break;
        memcpy(lines[n], q, len);
        lens[n++] = len;
        q = e != NULL ? e + 1 : end;
    }

    turbo__fwd_walk w, w2;
    turbo__fwd_client c, c2;
    int wr = walk(&t, kind, lines, lens, n, &w, &c);
    CHECK(wr >= TURBO__FWD_NOFOR && wr <= 1 && wr != TURBO__FWD_ENTRY && wr != TURBO__FWD_PREFIX);
    if (wr == 1) {
        CHECK(c.family == 4 || c.family == 6);
        CHECK(!turbo__trust_has(&t, c.family, c.addr));
    }
    if (wr >= 0 && w.have_leftmost)
        CHECK(turbo__trust_has(&t, w.leftmost.family, w.leftmost.addr));
    int wr2 = walk(&t, kind, lines, lens, n, &w2, &c2);
    CHECK(wr2 == wr);
    if (wr == 1)
        CHECK(memcmp(&c, &c2, sizeof(c)) == 0);
    for (int i = 0; i < n; i++)
        free(lines[i]);
    return 0;
}
