/*
 * Fuzz target: the router, driven by a little program and checked against
 * a reference model written from router.h's specification.
 *
 * The input is read as operations, one control byte each (op = byte % 8):
 *   0-2 add      method byte, pattern
 *   3   remove   method byte, pattern
 *   4   commit   turbo__router_commit; the retired bundle is held (freed by
 *                op 5, or at the end) so releases wait for retirement
 *   5   retire   frees the held bundles
 *   6   match    method byte, path: commits (turbo__router_table), then
 *                matches the path
 *   7   rollback turbo__router_rollback
 * A pattern is one byte p then: p & 0x80: p % 32 raw bytes (a C string:
 * a NUL ends it early); else p % 5 segments, each a vocabulary index byte.
 * Paths are built the same way (raw: p % 64 bytes, NULs kept).
 *
 * Checked: add/remove results (EINVAL for a bad method, EPATTERN exactly
 * for patterns the model finds malformed, EEXIST/ENOENT by shape); after
 * every commit, each live route is matched by a path made from its pattern
 * (params "x", catch-all "a/b"), and every match (those and the fuzzed
 * ones) gives the model's status, winning route and params, params being
 * slices of the looked-up path; a live route is never released; by the
 * end every route added (and not rolled back) is released exactly once,
 * and no other.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if (!(x))                                                                                  \
            __builtin_trap();                                                                      \
    } while (0)

#define MAX_OPS 96
#define MAX_SEGS 40

static const char *const k_methods[] = {"GET",   "HEAD",     "POST", "PUT",  "PATCH", "DELETE",
                                        "OPTIONS", "PURGE", "M-SEARCH", "",   "G T",  "get"};
#define NMETHODS (sizeof k_methods / sizeof k_methods[0])

static const char *const k_pattern_segs[] = {
    "",    "a",   "b",   "ab",    "x",     "{x}",     "{y}",   "{id}", "{r...}", "{x...}",
    "{",   "}",   "{}",  "{1x}",  "x?y",   "{x}y",    "*",     "%2F",  "...",    "{_a9}",
    "a.b", "{x", "x}",  "{...}", "{x..}", "{a-b}",   "#",     "~!$",  "{r...}", "{Z}"};
#define NPSEGS (sizeof k_pattern_segs / sizeof k_pattern_segs[0])

static const char *const k_path_segs[] = {"",  "a",   "b",   "ab", "x",     "a/b", "?",
                                          "{x}", "%2F", "...", "*",  "a.b", "~!$", "\x01"};
#define NPATHSEGS (sizeof k_path_segs / sizeof k_path_segs[0])

enum { K_LIT, K_PARAM, K_CATCH };

typedef struct mseg {
    int kind;
    const char *text; /* literal text or name (into the route's pattern) */
    size_t len;
} mseg;

typedef struct mroute {
    char *method;
    char *pattern;
    mseg segs[MAX_SEGS];
    size_t nsegs;
    size_t nparams;
    int live;
} mroute;

typedef struct prog {
    const uint8_t *p;
    size_t len, pos;
} prog;

/* One run's whole state: nothing survives it. */
typedef struct world {
    turbo__router *r;
    mroute routes[MAX_OPS];
    int released[MAX_OPS]; /* release counts; user_data = &released[i] */
    int added[MAX_OPS];    /* 1: added and owned by the router */
    size_t nroutes;
    turbo__retired *held[MAX_OPS];
    size_t nheld;
    /* the one change since the last commit, for rollback */
    size_t changes;
    int last_kind; /* 1 add, 2 remove */
    size_t last_route;
} world;

static unsigned next_byte(prog *pg)
{
    return pg->pos < pg->len ? pg->p[pg->pos++] : 0;
}

static int dummy_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)res;
    (void)ud;
    return 0;
}

static void release_cb(void *ud)
{
    ++*(int *)ud;
}

/* A heap string of n bytes (+ NUL) built from raw bytes or vocabulary. */
static char *build(prog *pg, const char *const *vocab, size_t nvocab, size_t rawmax, size_t *n)
{
    unsigned b = next_byte(pg);
    char tmp[512];
    size_t len = 0;
    if (b & 0x80) {
        size_t k = b % rawmax;
        for (size_t i = 0; i < k; i++)
            tmp[len++] = (char)next_byte(pg);
    } else {
        size_t k = b % 5;
        if (k == 0)
            tmp[len++] = '/';
        for (size_t i = 0; i < k; i++) {
            const char *s = vocab[next_byte(pg) % nvocab];
            tmp[len++] = '/';
            memcpy(tmp + len, s, strlen(s));
            len += strlen(s);
        }
    }
    char *s = malloc(len + 1);
    CHECK(s != NULL);
    memcpy(s, tmp, len);
    s[len] = '\0';
    *n = len;
    return s;
}

static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int is_token(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return 0;
    return 1;
}

static int name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* The specification's pattern grammar (router.h). 1 valid, 0 malformed. */
static int model_parse(mroute *m, const char *pat)
{
    size_t plen = strlen(pat);
    if (plen == 0 || pat[0] != '/')
        return 0;
    m->nsegs = m->nparams = 0;
    size_t i = 0;
    while (i < plen) {
        size_t start = i + 1, end = start;
        while (end < plen && pat[end] != '/')
            end++;
        if (m->nsegs == MAX_SEGS)
            return 0; /* not reachable with the generator's sizes */
        mseg *s = &m->segs[m->nsegs++];
        const char *t = pat + start;
        size_t len = end - start;
        if (len >= 2 && t[0] == '{' && t[len - 1] == '}') {
            s->kind = K_PARAM;
            s->text = t + 1;
            s->len = len - 2;
            if (s->len >= 3 && memcmp(s->text + s->len - 3, "...", 3) == 0) {
                s->kind = K_CATCH;
                s->len -= 3;
                if (end != plen)
                    return 0;
            }
            if (s->len == 0 || !name_start((unsigned char)s->text[0]))
                return 0;
            for (size_t k = 1; k < s->len; k++)
                if (!name_start((unsigned char)s->text[k]) && !(s->text[k] >= '0' && s->text[k] <= '9'))
                    return 0;
            for (size_t k = 0; k + 1 < m->nsegs; k++)
                if (m->segs[k].kind != K_LIT && m->segs[k].len == s->len &&
                    memcmp(m->segs[k].text, s->text, s->len) == 0)
                    return 0;
            m->nparams++;
        } else {
            for (size_t k = 0; k < len; k++) {
                unsigned char c = (unsigned char)t[k];
                if (c < 0x21 || c > 0x7e || c == '?' || c == '#' || c == '{' || c == '}')
                    return 0;
            }
            s->kind = K_LIT;
            s->text = t;
            s->len = len;
        }
        i = end;
    }
    return m->nparams <= TURBO__MAX_PARAMS;
}

static int same_shape(const mroute *a, const mroute *b)
{
    if (strcmp(a->method, b->method) != 0 || a->nsegs != b->nsegs)
        return 0;
    for (size_t i = 0; i < a->nsegs; i++) {
        if (a->segs[i].kind != b->segs[i].kind)
            return 0;
        if (a->segs[i].kind == K_LIT &&
            (a->segs[i].len != b->segs[i].len ||
             memcmp(a->segs[i].text, b->segs[i].text, a->segs[i].len) != 0))
            return 0;
    }
    return 1;
}

/* Does route m match path? Fills params (slices of path) when it does. */
static int model_match_path(const mroute *m, const char *path, size_t plen, turbo_str *params)
{
    if (plen == 0 || path[0] != '/')
        return 0;
    size_t pos = 1, np = 0; /* start of the current path segment */
    for (size_t i = 0; i < m->nsegs; i++) {
        if (pos > plen)
            return 0; /* the path has fewer segments */
        size_t end = pos;
        while (end < plen && path[end] != '/')
            end++;
        const mseg *s = &m->segs[i];
        if (s->kind == K_CATCH) {
            params[np].ptr = path + pos;
            params[np++].len = plen - pos;
            return 1;
        }
        if (s->kind == K_LIT) {
            if (end - pos != s->len || memcmp(path + pos, s->text, s->len) != 0)
                return 0;
        } else {
            if (end == pos)
                return 0;
            params[np].ptr = path + pos;
            params[np++].len = end - pos;
        }
        pos = end + 1;
    }
    return pos == plen + 1; /* every path segment consumed */
}

/* Precedence: segment kinds compared in order, literal first. */
static int precedes(const mroute *a, const mroute *b)
{
    size_t n = a->nsegs < b->nsegs ? a->nsegs : b->nsegs;
    for (size_t i = 0; i < n; i++)
        if (a->segs[i].kind != b->segs[i].kind)
            return a->segs[i].kind < b->segs[i].kind;
    return 0;
}

/* The reference lookup: status, and the winner's index on 200. */
static int model_lookup(const world *w, const char *method, const char *path, size_t plen,
                        size_t *winner)
{
    turbo_str params[TURBO__MAX_PARAMS + 1];
    int is_head = strcmp(method, "HEAD") == 0, any = 0, found = 0;
    size_t best = 0;
    for (size_t i = 0; i < w->nroutes; i++) {
        const mroute *m = &w->routes[i];
        if (!m->live || !model_match_path(m, path, plen, params))
            continue;
        any = 1;
        int ok = strcmp(m->method, method) == 0 || (is_head && strcmp(m->method, "GET") == 0);
        if (!ok)
            continue;
        const mroute *b = &w->routes[best];
        /* Same kinds means the same shape here: an explicit HEAD beats GET. */
        if (!found || precedes(m, b) ||
            (!precedes(b, m) && is_head && strcmp(m->method, "HEAD") == 0)) {
            best = i;
            found = 1;
        }
    }
    *winner = best;
    return found ? 200 : any ? 405 : 404;
}

static void check_match(world *w, const turbo__rtable *t, const char *method, const char *path,
                        size_t plen)
{
    turbo__match m;
    memset(&m, 0, sizeof m);
    int st = turbo__rtable_match(t, (turbo_str){method, strlen(method)}, (turbo_str){path, plen}, &m);
    size_t win;
    int want = model_lookup(w, method, path, plen, &win);
    CHECK(st == want);
    if (st == 405) {
        CHECK(m.allow.len > 0 && m.allow.ptr != NULL);
        return;
    }
    if (st != 200)
        return;
    CHECK(m.fn == dummy_handler);
    CHECK(m.user_data == &w->released[win]);
    turbo_str params[TURBO__MAX_PARAMS + 1];
    CHECK(model_match_path(&w->routes[win], path, plen, params));
    CHECK(m.nparams == w->routes[win].nparams);
    for (size_t i = 0; i < m.nparams; i++) {
        CHECK(m.params[i].len == 0 ||
              (m.params[i].ptr >= path && m.params[i].ptr + m.params[i].len <= path + plen));
        CHECK(m.params[i].len == params[i].len);
        CHECK(m.params[i].len == 0 || m.params[i].ptr == params[i].ptr);
        CHECK(m.param_names != NULL);
    }
}

/* Each live route is matched by a path made from its own pattern. */
static void check_live(world *w, const turbo__rtable *t)
{
    for (size_t i = 0; i < w->nroutes; i++) {
        const mroute *m = &w->routes[i];
        if (!m->live)
            continue;
        CHECK(w->released[i] == 0);
        char tmp[1024];
        size_t len = 0;
        for (size_t k = 0; k < m->nsegs; k++) {
            tmp[len++] = '/';
            const char *s = m->segs[k].kind == K_LIT     ? m->segs[k].text
                            : m->segs[k].kind == K_PARAM ? "x"
                                                         : "a/b";
            size_t n = m->segs[k].kind == K_LIT ? m->segs[k].len : strlen(s);
            memcpy(tmp + len, s, n);
            len += n;
        }
        char *path = malloc(len + 1);
        CHECK(path != NULL);
        memcpy(path, tmp, len);
        size_t win;
        CHECK(model_lookup(w, m->method, path, len, &win) == 200);
        check_match(w, t, m->method, path, len);
        free(path);
    }
}

static void op_add(world *w, prog *pg)
{
    const char *method = k_methods[next_byte(pg) % NMETHODS];
    size_t n;
    char *pat = build(pg, k_pattern_segs, NPSEGS, 32, &n);
    size_t id = w->nroutes;
    mroute *m = &w->routes[id];
    memset(m, 0, sizeof *m);
    int rc = turbo__router_add(w->r, method, pat, dummy_handler, &w->released[id], release_cb);
    int valid = model_parse(m, pat);
    int want;
    if (!is_token(method))
        want = TURBO_EINVAL;
    else if (!valid)
        want = TURBO_EPATTERN;
    else {
        want = TURBO_OK;
        m->method = (char *)method;
        for (size_t i = 0; i < w->nroutes; i++)
            if (w->routes[i].live && same_shape(&w->routes[i], m))
                want = TURBO_EEXIST;
    }
    CHECK(rc == want);
    if (rc != TURBO_OK) {
        free(pat);
        return;
    }
    m->method = strdup(method);
    CHECK(m->method != NULL);
    m->pattern = pat; /* segs point into it */
    m->live = 1;
    w->added[id] = 1;
    w->nroutes++;
    w->changes++;
    w->last_kind = 1;
    w->last_route = id;
}

static void op_remove(world *w, prog *pg)
{
    const char *method = k_methods[next_byte(pg) % NMETHODS];
    size_t n;
    char *pat = build(pg, k_pattern_segs, NPSEGS, 32, &n);
    int rc = turbo__router_remove(w->r, method, pat);
    mroute key;
    memset(&key, 0, sizeof key);
    int valid = model_parse(&key, pat);
    key.method = (char *)method;
    int want = TURBO_ENOENT;
    size_t hit = 0;
    if (!is_token(method))
        want = TURBO_EINVAL;
    else if (!valid)
        want = TURBO_EPATTERN;
    else
        for (size_t i = 0; i < w->nroutes; i++)
            if (w->routes[i].live && same_shape(&w->routes[i], &key)) {
                want = TURBO_OK;
                hit = i;
            }
    CHECK(rc == want);
    free(pat);
    if (rc != TURBO_OK)
        return;
    w->routes[hit].live = 0;
    w->changes++;
    w->last_kind = 2;
    w->last_route = hit;
}

static void op_rollback(world *w)
{
    turbo__router_rollback(w->r);
    if (w->changes != 1)
        return;
    mroute *m = &w->routes[w->last_route];
    if (w->last_kind == 1) {
        m->live = 0;
        w->added[w->last_route] = 0; /* never released: the caller owns it again */
    } else {
        m->live = 1;
    }
    w->changes = 0;
}

static void op_match(world *w, prog *pg)
{
    const char *method = k_methods[next_byte(pg) % NMETHODS];
    size_t n;
    char *tmp = build(pg, k_path_segs, NPATHSEGS, 64, &n);
    char *path = malloc(n ? n : 1); /* exactly the path: overreads trap */
    CHECK(path != NULL);
    memcpy(path, tmp, n);
    free(tmp);
    const turbo__rtable *t = turbo__router_table(w->r);
    CHECK(t != NULL);
    w->changes = 0;
    check_match(w, t, method, path, n);
    check_live(w, t);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    world *w = calloc(1, sizeof *w);
    CHECK(w != NULL);
    w->r = turbo__router_new();
    CHECK(w->r != NULL);
    prog pg = {data, size, 0};

    for (int ops = 0; pg.pos < pg.len && ops < MAX_OPS; ops++) {
        switch (next_byte(&pg) % 8) {
        case 0:
        case 1:
        case 2:
            if (w->nroutes < MAX_OPS)
                op_add(w, &pg);
            break;
        case 3:
            op_remove(w, &pg);
            break;
        case 4: {
            turbo__retired *g;
            CHECK(turbo__router_commit(w->r, &g) == TURBO_OK);
            CHECK((g != NULL) == (w->changes != 0));
            w->changes = 0;
            if (g)
                w->held[w->nheld++] = g;
            if (turbo__router_current(w->r))
                check_live(w, turbo__router_current(w->r));
            break;
        }
        case 5:
            for (size_t i = 0; i < w->nheld; i++)
                turbo__retired_free(w->held[i]);
            w->nheld = 0;
            break;
        case 6:
            op_match(w, &pg);
            break;
        default:
            op_rollback(w);
            break;
        }
    }
    /* Live routes are never released early. */
    for (size_t i = 0; i < w->nroutes; i++)
        CHECK(!w->routes[i].live || w->released[i] == 0);
    for (size_t i = 0; i < w->nheld; i++)
        turbo__retired_free(w->held[i]);
    turbo__router_free(w->r);
    for (size_t i = 0; i < w->nroutes; i++) {
        CHECK(w->released[i] == w->added[i]);
        free(w->routes[i].method);
        free(w->routes[i].pattern);
    }
    free(w);
    return 0;
}
