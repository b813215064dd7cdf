/*
 * X-Forwarded-For and Forwarded (RFC 7239), read from the right by the
 * trust list (forwarded.h). Called lazily, when a handler asks for the
 * remote address of a request on a server with a trust list: never on the
 * request path of one that does not ask.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "forwarded.h"

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* s[0..n) without leading and trailing spaces and tabs. */
static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ows(**s))
        (*s)++, (*n)--;
    while (*n > 0 && is_ows((*s)[*n - 1]))
        (*n)--;
}

/* An IPv4 (family 4) or IPv6 (family 6) address p[0..n) into addr;
 * 0, or -1 when it is neither. */
static int ip_text(const char *p, size_t n, int *family, uint8_t *addr)
{
    char text[INET6_ADDRSTRLEN];
    if (n == 0 || n >= sizeof(text))
        return -1;
    memcpy(text, p, n);
    text[n] = '\0';
    if (inet_pton(AF_INET, text, addr) == 1) {
        *family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, text, addr) == 1) {
        *family = 6;
        return 0;
    }
    return -1;
}

/* 1 to 5 digits, at most 65535. */
static int port_text(const char *p, size_t n, uint16_t *port)
{
    if (n == 0 || n > 5)
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    if (v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* ---- the trust list --------------------------------------------------- */

static int cidr_parse(const char *p, size_t n, turbo__cidr *c)
{
    memset(c, 0, sizeof(*c));
    if (n == 1 && p[0] == '*')
        return 0; /* family 0: everyone */
    const char *slash = memchr(p, '/', n);
    size_t alen = slash != NULL ? (size_t)(slash - p) : n;
    int family;
    if (ip_text(p, alen, &family, c->addr) != 0)
        return TURBO__FWD_ENTRY;
    c->family = (uint8_t)family;
    unsigned max = family == 4 ? 32 : 128;
    c->bits = (uint8_t)max;
    if (slash == NULL)
        return 0;
    uint16_t bits;
    const char *b = slash + 1;
    size_t blen = n - alen - 1;
    if (blen == 0 || blen > 3 || (b[0] == '0' && blen > 1) || port_text(b, blen, &bits) != 0)
        return TURBO__FWD_ENTRY;
    if (bits > max)
        return TURBO__FWD_PREFIX;
    c->bits = (uint8_t)bits;
    return 0;
}

int turbo__trust_parse(const char *list, size_t len, turbo__trust *out)
{
    turbo__trust t;
    memset(&t, 0, sizeof(t));
    size_t pos = 0;
    while (pos < len) {
        const char *comma = memchr(list + pos, ',', len - pos);
        size_t end = comma != NULL ? (size_t)(comma - list) : len;
        const char *e = list + pos;
        size_t n = end - pos;
        trim(&e, &n);
        if (n == 0 && (comma != NULL || pos != 0))
            return TURBO__FWD_ENTRY; /* "a,,b", ",a", "a," */
        if (n != 0) {
            if (t.n == TURBO__TRUST_MAX)
                return TURBO__FWD_TOOMANY;
            int r = cidr_parse(e, n, &t.net[t.n]);
            if (r != 0)
                return r;
            t.n++;
        }
        pos = end + 1;
        if (comma != NULL && pos == len)
            return TURBO__FWD_ENTRY;
    }
    *out = t;
    return 0;
}

static int cidr_has(const turbo__cidr *c, int family, const uint8_t *addr)
{
    if (c->family == 0)
        return 1;
    if (c->family != family)
        return 0;
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->addr, addr, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->addr[full] & mask) == (addr[full] & mask);
}

int turbo__trust_has(const turbo__trust *t, int family, const uint8_t *addr)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    /* An IPv4 client of a dual-stack socket arrives as ::ffff:a.b.c.d. */
    int v4_mapped = family == 6 && memcmp(addr, mapped, 12) == 0;
    for (unsigned i = 0; i < t->n; i++)
        if (cidr_has(&t->net[i], family, addr) ||
            (v4_mapped && cidr_has(&t->net[i], 4, addr + 12)))
            return 1;
    return 0;
}

/* ---- nodes ------------------------------------------------------------ */

/* A node: "IPv4", "IPv4:port", "[IPv6]", "[IPv6]:port"; bare "IPv6"
 * when bare_v6 (X-Forwarded-For writes it so). */
static int node_parse(const char *p, size_t n, int bare_v6, turbo__fwd_client *out)
{
    memset(out, 0, sizeof(*out));
    if (n == 0)
        return TURBO__FWD_SYNTAX;
    if (p[0] == '[') {
        const char *close = memchr(p, ']', n);
        if (close == NULL)
            return TURBO__FWD_SYNTAX;
        size_t alen = (size_t)(close - p - 1);
        if (ip_text(p + 1, alen, &out->family, out->addr) != 0 || out->family != 6)
            return TURBO__FWD_NODE;
        size_t rest = n - alen - 2;
        if (rest == 0)
            return 0;
        if (close[1] != ':' || port_text(close + 2, rest - 1, &out->port) != 0)
            return TURBO__FWD_NODE;
        return 0;
    }
    if (ip_text(p, n, &out->family, out->addr) == 0)
        return out->family == 4 || bare_v6 ? 0 : TURBO__FWD_NODE;
    const char *colon = memchr(p, ':', n);
    if (colon == NULL)
        return TURBO__FWD_NODE; /* "unknown", "_hidden", a name */
    size_t alen = (size_t)(colon - p);
    if (ip_text(p, alen, &out->family, out->addr) != 0 || out->family != 4 ||
        port_text(colon + 1, n - alen - 1, &out->port) != 0)
        return TURBO__FWD_NODE;
    return 0;
}

/* ---- the walk --------------------------------------------------------- */

/* One entry of a line, right to left: trusted (0), the client (1). */
static int step(const turbo__fwd_client *node, const turbo__trust *t, turbo__fwd_walk *w,
                turbo__fwd_client *client)
{
    if (!turbo__trust_has(t, node->family, node->addr)) {
        *client = *node;
        w->found = 1;
        return 1;
    }
    w->leftmost = *node;
    w->have_leftmost = 1;
    return 0;
}

static int walk_xff(const char *v, size_t len, const turbo__trust *t, turbo__fwd_walk *w,
                    turbo__fwd_client *client)
{
    size_t end = len;
    unsigned hops = 0;
    for (;;) {
        size_t start = end;
        while (start > 0 && v[start - 1] != ',')
            start--;
        const char *e = v + start;
        size_t n = end - start;
        trim(&e, &n);
        if (n == 0)
            return TURBO__FWD_SYNTAX;
        if (++hops > TURBO__FWD_MAX_HOPS)
            return TURBO__FWD_TOOMANY;
        turbo__fwd_client node;
        int r = node_parse(e, n, 1, &node);
        if (r != 0)
            return r;
        if (step(&node, t, w, client))
            return 1;
        if (start == 0)
            return 0;
        end = start - 1;
    }
}

static int is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* One element's for= value, unquoted. */
typedef struct for_value {
    int present;
    size_t len;
    char text[64];
} for_value;

/* Parses a Forwarded value left to right into its elements' for= values
 * (the walk goes right to left, and quoted strings only read forwards). */
static int rfc7239_elements(const char *v, size_t len, for_value *els, unsigned *nels)
{
    size_t i = 0;
    unsigned n = 0;
    for (;;) {
        if (n == TURBO__FWD_MAX_HOPS)
            return TURBO__FWD_TOOMANY;
        for_value *el = &els[n++];
        memset(el, 0, sizeof(*el));
        for (;;) { /* pairs: token "=" (token / quoted-string), ";"-separated */
            while (i < len && is_ows(v[i]))
                i++;
            size_t name = i;
            while (i < len && is_tchar(v[i]))
                i++;
            size_t name_len = i - name;
            if (name_len == 0 || i == len || v[i] != '=')
                return TURBO__FWD_SYNTAX;
            i++;
            int is_for = name_len == 3 && strncasecmp(v + name, "for", 3) == 0;
            if (is_for && el->present)
                return TURBO__FWD_SYNTAX; /* two for= in one element */
            char *out = is_for ? el->text : NULL;
            size_t olen = 0;
            if (i < len && v[i] == '"') {
                i++;
                for (;;) {
                    if (i == len)
                        return TURBO__FWD_SYNTAX; /* unterminated */
                    char c = v[i++];
                    if (c == '"')
                        break;
                    if (c == '\\') {
                        if (i == len)
                            return TURBO__FWD_SYNTAX;
                        c = v[i++];
                    }
                    if ((unsigned char)c < 0x20 && c != '\t')
                        return TURBO__FWD_SYNTAX;
                    if (out != NULL) {
                        if (olen == sizeof(el->text))
                            return TURBO__FWD_SYNTAX; /* longer than any node */
                        out[olen++] = c;
                    }
                }
            } else {
                size_t tok = i;
                while (i < len && is_tchar(v[i]))
                    i++;
                if (i == tok)
                    return TURBO__FWD_SYNTAX;
                if (out != NULL) {
                    if (i - tok > sizeof(el->text))
                        return TURBO__FWD_SYNTAX;
                    memcpy(out, v + tok, i - tok);
                    olen = i - tok;
                }
            }
            if (is_for) {
                el->present = 1;
                el->len = olen;
            }
            while (i < len && is_ows(v[i]))
                i++;
            if (i == len) {
                *nels = n;
                return 0;
            }
            if (v[i] == ',') {
                i++;
                break; /* next element */
            }
            if (v[i] != ';')
                return TURBO__FWD_SYNTAX;
            i++;
        }
    }
}

static int walk_rfc7239(const char *v, size_t len, const turbo__trust *t, turbo__fwd_walk *w,
                        turbo__fwd_client *client)
{
    for_value els[TURBO__FWD_MAX_HOPS];
    unsigned n = 0;
    int r = rfc7239_elements(v, len, els, &n);
    if (r != 0)
        return r;
    while (n > 0) {
        const for_value *el = &els[--n];
        if (!el->present)
            return TURBO__FWD_NOFOR;
        turbo__fwd_client node;
        r = node_parse(el->text, el->len, 0, &node);
        if (r != 0)
            return r;
        if (step(&node, t, w, client))
            return 1;
    }
    return 0;
}

int turbo__fwd_walk_line(const char *value, size_t len, int kind, const turbo__trust *t,
                         turbo__fwd_walk *w, turbo__fwd_client *client)
{
    if (w->found)
        return 1;
    return kind == TURBO__FWD_RFC7239 ? walk_rfc7239(value, len, t, w, client)
                                      : walk_xff(value, len, t, w, client);
}

const char *turbo__forwarded_strerror(int code)
{
    switch (code) {
    case TURBO__FWD_ENTRY: return "trust list entry is no address, network or *";
    case TURBO__FWD_PREFIX: return "trust list prefix longer than the address";
    case TURBO__FWD_TOOMANY: return "too many entries";
    case TURBO__FWD_SYNTAX: return "malformed forwarded header";
    case TURBO__FWD_NODE: return "forwarded node is no IP address";
    case TURBO__FWD_NOFOR: return "forwarded element without for=";
    default: return "unknown forwarded error";
    }
}
