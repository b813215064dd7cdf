/*
 * router.c: the route registry (writer side) and the compiled lookup table
 * (reader side). Semantics are specified in router.h; this comment says how
 * they are implemented and why.
 *
 * Registry. A growable array of routes in registration order. Each route is
 * one allocation holding its method, pattern text, "shape" (the pattern with
 * parameter names erased: "/u/{}/{...}") and parsed segments. Two routes are
 * the same slot when method and shape are equal; that is what EEXIST and
 * remove compare. Writers are serialized by the caller.
 *
 * Table. Rebuilt from the whole registry on every successful add/remove and
 * never changed afterwards. It is ONE malloc'd block: the header, nodes,
 * handler entries, both hash tables, the parameter-name arrays and a string
 * pool holding copies of every method and pattern. Nothing in it points into
 * the registry, so a table outlives the routes it was built from (needed
 * once tables are retired with an epoch grace period) and
 * turbo__rtable_free() is a single free().
 *
 *  - Routes without parameters live in `exact`: open addressing, linear
 *    probing, capacity a power of two >= 2 x entries, keyed by the full
 *    path. One hash of the path and usually one probe, whatever the number
 *    of exact routes. All-literal routes come first in precedence order for
 *    any path they match, so they are tried before the trie.
 *  - Routes with parameters live in a segment trie. A node has literal
 *    children (looked up in one table-wide hash keyed by (parent, segment)),
 *    at most one {param} child and at most one {catch...} child. Lookup is a
 *    depth-first search in precedence order (literal, param, catch-all) that
 *    backtracks without recursion: each node knows its parent and how it was
 *    reached, so stepping up restores the path position. Each trie node is
 *    visited at most once per lookup (its depth fixes which segment it
 *    sees), so the cost is bounded by the trie nodes on the path's prefixes.
 *    Nothing is allocated; the only writes go to the caller's turbo__match.
 *  - Per node, its handlers as a small array of (method, handler) entries in
 *    canonical method order, compared by length then memcmp; GET and HEAD
 *    are also kept as direct pointers so that HEAD can fall back to GET.
 *
 * Allow (405). Methods are listed in a fixed canonical order: GET, HEAD,
 * POST, PUT, PATCH, DELETE, OPTIONS, then any other method in byte order
 * (shorter first on a common prefix). HEAD is listed wherever GET is. Each
 * node's Allow string is precomputed at build time. When several nodes match
 * the path (e.g. "/a/b" exact and "/a/{x}"), the answer must be the union;
 * the table cannot hold a per-lookup buffer (many threads read it at once),
 * so the lookup ORs per-node 64-bit method masks and, only when the union is
 * not some matched node's own set, renders it into m->allow_buf. Two
 * degenerate cases are documented rather than handled: a table with more
 * than 64 distinct methods shares mask bit 63 among the 64th and later
 * methods (the union may then list a few extra methods), and a union longer
 * than TURBO__ALLOW_BUF falls back to every method of the table.
 *
 * Cost. A lookup hashes the path once (exact table) and each trie segment
 * once: tens of ns. A rebuild is O(routes), about 1.5 ms at 10,000 routes,
 * so adding n routes one at a time is O(n^2): ~60 ms for 1,000 routes but
 * ~8 s for 10,000. If large route sets matter, add a bulk path (defer the
 * rebuild until the set is complete) rather than making rebuilds cleverer.
 */
#include "router.h"

#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Registry types
 * --------------------------------------------------------------------- */

enum { SEG_LITERAL, SEG_PARAM, SEG_CATCH };

typedef struct route_seg {
    size_t off, len; /* the literal text, or the parameter's name, in the pattern */
    int kind;
} route_seg;

typedef struct rt_node rt_node;

typedef struct route {
    const char *method;
    size_t method_len;
    const char *pattern;
    size_t pattern_len;
    const char *shape;
    uint64_t slot_hash; /* of method and shape: most same_slot() calls stop at it */
    route_seg *segs;
    size_t nsegs;
    size_t nparams;
    turbo_handler fn;
    void *user_data;
    turbo_release_fn release;
    unsigned flags; /* TURBO_ROUTE_* */
    /* References: 1 for the registry and the tables that can reach the
     * route, until the grace period after its removal ends; 1 per deferred
     * request it answers (turbo__route_hold). The last one calls release
     * and frees it. */
    _Atomic unsigned refs;
    /* Scratch written by the table build (the writer owns the registry). */
    const char *t_method;  /* copy of method in the table's pool */
    const char *t_pattern; /* copy of pattern in the table's pool */
    rt_node *node;
    size_t rank; /* index of the method in the table's canonical method list */
    struct route *next_removed; /* on the removed list, awaiting retirement */
} route;

struct turbo__router {
    route **routes;
    size_t nroutes, cap;
    turbo__rtable *table;  /* compiled from routes, unless stale */
    size_t changes;        /* adds/removes since table was built */
    const route *last_add; /* the one change, when changes == 1 and it was an add */
    route *removed;        /* removed since the last commit; tables may still reach them */
};

/* ------------------------------------------------------------------------
 * Table types
 * --------------------------------------------------------------------- */

enum { EDGE_ROOT, EDGE_EXACT, EDGE_LITERAL, EDGE_PARAM, EDGE_CATCH };

typedef struct rt_entry {
    const char *method;
    size_t method_len;
    size_t rank;
    turbo_handler fn;
    void *user_data;
    struct route *route;
    unsigned flags;
    const turbo_str *param_names;
    size_t nparams;
} rt_entry;

struct rt_node {
    rt_entry *entries; /* canonical method order */
    size_t nentries;
    const rt_entry *get, *head;
    size_t nparams;   /* parameters bound from the root down to here, this edge included */
    size_t seg_len;   /* EDGE_LITERAL: the literal's length, to step back over it */
    size_t nliterals; /* literal children, found through the edge hash */
    rt_node *parent, *param_child, *catch_child;
    uint64_t allow_mask;
    turbo_str allow;
    uint64_t id; /* mixed into the edge hash key */
    int edge;    /* how the node is reached from its parent */
};

typedef struct exact_slot {
    uint64_t hash;
    const char *path;
    size_t len;
    rt_node *node; /* NULL: empty slot */
} exact_slot;

typedef struct edge_slot {
    const rt_node *parent; /* NULL: empty slot */
    uint64_t hash;         /* of seg: rejects most wrong slots without a compare */
    const char *seg;
    size_t len;
    rt_node *child;
} edge_slot;

struct turbo__rtable {
    rt_node *root;
    rt_node *nodes;
    size_t nnodes;
    exact_slot *exact; /* NULL when there is no exact route */
    size_t exact_mask;
    size_t nexact; /* distinct exact paths */
    edge_slot *edges; /* NULL when there is no literal trie edge */
    size_t edge_mask;
    size_t nedges;
    turbo_str *methods; /* every method in canonical order; index = mask bit (capped at 63) */
    size_t nmethods;
    turbo_str allow_all;
};

/* ------------------------------------------------------------------------
 * Hashing
 *
 * Keys (route paths and segments) are chosen by the programmer, not by
 * clients, so a fixed function is enough: a client can only pick which
 * probe sequences to walk, and at load <= 1/2 those are short.
 * --------------------------------------------------------------------- */

/* Loads in host byte order: hashes never leave the process. */
static uint64_t load64(const char *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

static uint32_t load32(const char *p)
{
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

/* The last 1..7 bytes of a key as one word, read with (overlapping)
 * fixed-size loads rather than a byte loop; the length, mixed into the
 * hash separately, keeps keys that differ only in size apart. */
static uint64_t tail_word(const char *p, size_t n)
{
    if (n >= 4)
        return load32(p) | (uint64_t)load32(p + n - 4) << 32;
    if (n > 0)
        return (uint64_t)(unsigned char)p[0] | (uint64_t)(unsigned char)p[n / 2] << 8 |
               (uint64_t)(unsigned char)p[n - 1] << 16;
    return 0;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15u ^ (uint64_t)n;
    while (n >= 8) {
        h = (h ^ load64(p)) * 0xFF51AFD7ED558CCDu;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    h = (h ^ tail_word(p, n)) * 0xC4CEB9FE1A85EC53u;
    h ^= h >> 29;
    return h;
}

/* Equality for the short strings routing compares (segments, methods):
 * inline, a word at a time, cheaper than a call to memcmp. */
static bool bytes_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        /* Whole words, then the last word overlapping the previous one. */
        for (size_t i = 0; i + 8 <= n; i += 8)
            if (load64(a + i) != load64(b + i))
                return false;
        return load64(a + n - 8) == load64(b + n - 8);
    }
    if (n >= 4)
        return load32(a) == load32(b) && load32(a + n - 4) == load32(b + n - 4);
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

static size_t edge_index(const rt_node *parent, uint64_t seg_hash, size_t mask)
{
    uint64_t h = (seg_hash ^ (parent->id * 0x9E3779B97F4A7C15u)) * 0xBF58476D1CE4E5B9u;
    return (size_t)(h ^ (h >> 31)) & mask;
}

static const rt_node *exact_find(const turbo__rtable *t, const char *p, size_t n)
{
    uint64_t h = hash_bytes(p, n);
    for (size_t i = (size_t)h & t->exact_mask;; i = (i + 1) & t->exact_mask) {
        const exact_slot *s = &t->exact[i];
        if (!s->node)
            return NULL; /* load <= 1/2: an empty slot always ends the probe */
        if (s->hash == h && s->len == n && bytes_eq(s->path, p, n))
            return s->node;
    }
}

static const rt_node *edge_find(const turbo__rtable *t, const rt_node *parent, const char *seg,
                                size_t len)
{
    uint64_t h = hash_bytes(seg, len);
    for (size_t i = edge_index(parent, h, t->edge_mask);; i = (i + 1) & t->edge_mask) {
        const edge_slot *s = &t->edges[i];
        if (!s->parent)
            return NULL;
        if (s->hash == h && s->parent == parent && s->len == len && bytes_eq(s->seg, seg, len))
            return s->child;
    }
}

/* ------------------------------------------------------------------------
 * Methods
 * --------------------------------------------------------------------- */

static bool is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* RFC 9110 token: 1*tchar. */
static bool is_token(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return false;
    return true;
}

/* Position of the well-known methods in the canonical Allow order; every
 * other method sorts after them (7). */
static int known_rank(const char *m, size_t len)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (int i = 0; i < 7; i++)
        if (strlen(known[i]) == len && memcmp(known[i], m, len) == 0)
            return i;
    return 7;
}

static int method_cmp(const void *a, const void *b)
{
    const turbo_str *x = a, *y = b;
    int rx = known_rank(x->ptr, x->len), ry = known_rank(y->ptr, y->len);
    if (rx != ry)
        return rx < ry ? -1 : 1;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static bool str_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

static uint64_t rank_bit(size_t rank)
{
    return (uint64_t)1 << (rank < 63 ? rank : 63);
}

/* ------------------------------------------------------------------------
 * Patterns
 * --------------------------------------------------------------------- */

static bool is_name_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_name_char(unsigned char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* A literal byte: visible ASCII, and not one that would end the path
 * ('?', '#') or could be mistaken for a parameter ('{', '}'). */
static bool is_literal_char(unsigned char c)
{
    return c >= 0x21 && c <= 0x7E && c != '?' && c != '#' && c != '{' && c != '}';
}

/* Parses pat[0..plen) into segs (room for one per '/'). Returns TURBO_OK or
 * TURBO_EPATTERN. */
static int parse_pattern(const char *pat, size_t plen, route_seg *segs, size_t *nsegs,
                         size_t *nparams)
{
    if (plen == 0 || pat[0] != '/')
        return TURBO_EPATTERN;
    size_t ns = 0, np = 0;
    size_t i = 0;
    while (i < plen) { /* pat[i] == '/' */
        size_t start = i + 1, end = start;
        while (end < plen && pat[end] != '/')
            end++;
        route_seg *s = &segs[ns++];
        const char *seg = pat + start;
        size_t len = end - start;
        if (memchr(seg, '{', len) || memchr(seg, '}', len)) {
            /* A parameter: braces around the whole segment, nothing else. */
            if (len < 2 || seg[0] != '{' || seg[len - 1] != '}')
                return TURBO_EPATTERN;
            size_t nlen = len - 2;
            s->kind = SEG_PARAM;
            if (nlen >= 3 && memcmp(seg + 1 + nlen - 3, "...", 3) == 0) {
                nlen -= 3;
                s->kind = SEG_CATCH;
                if (end != plen) /* the rest of the path: only last */
                    return TURBO_EPATTERN;
            }
            if (nlen == 0 || !is_name_start((unsigned char)seg[1]))
                return TURBO_EPATTERN;
            for (size_t k = 1; k < nlen; k++)
                if (!is_name_char((unsigned char)seg[1 + k]))
                    return TURBO_EPATTERN;
            s->off = start + 1;
            s->len = nlen;
            if (++np > TURBO__MAX_PARAMS)
                return TURBO_EPATTERN;
            for (size_t k = 0; k + 1 < ns; k++)
                if (segs[k].kind != SEG_LITERAL &&
                    str_eq(pat + segs[k].off, segs[k].len, pat + s->off, s->len))
                    return TURBO_EPATTERN;
        } else {
            for (size_t k = 0; k < len; k++)
                if (!is_literal_char((unsigned char)seg[k]))
                    return TURBO_EPATTERN;
            s->kind = SEG_LITERAL;
            s->off = start;
            s->len = len;
        }
        i = end;
    }
    *nsegs = ns;
    *nparams = np;
    return TURBO_OK;
}

/* Validates method and pattern and makes the route record (one block).
 * Returns TURBO_OK, TURBO_EINVAL, TURBO_EPATTERN or TURBO_ENOMEM. */
static int route_new(const char *method, const char *pattern, route **out)
{
    if (!method || !pattern || !is_token(method))
        return TURBO_EINVAL;
    size_t mlen = strlen(method), plen = strlen(pattern);
    size_t maxsegs = 0;
    for (size_t i = 0; i < plen; i++)
        maxsegs += pattern[i] == '/';
    /* Worst-case shape: a literal costs its own length, "{x}" becomes "{}"
     * and "{x...}" becomes "{...}": never longer than the pattern. */
    size_t size = sizeof(route) + maxsegs * sizeof(route_seg) + mlen + 1 + 2 * (plen + 1);
    route *rt = calloc(1, size);
    if (!rt)
        return TURBO_ENOMEM;
    rt->segs = (route_seg *)(rt + 1);
    char *text = (char *)(rt->segs + maxsegs);
    int rc = parse_pattern(pattern, plen, rt->segs, &rt->nsegs, &rt->nparams);
    if (rc != TURBO_OK) {
        free(rt);
        return rc;
    }
    memcpy(text, method, mlen + 1);
    rt->method = text;
    rt->method_len = mlen;
    text += mlen + 1;
    memcpy(text, pattern, plen + 1);
    rt->pattern = text;
    rt->pattern_len = plen;
    text += plen + 1;
    rt->shape = text;
    for (size_t i = 0; i < rt->nsegs; i++) {
        const route_seg *s = &rt->segs[i];
        *text++ = '/';
        if (s->kind == SEG_LITERAL) {
            memcpy(text, pattern + s->off, s->len);
            text += s->len;
        } else {
            const char *p = s->kind == SEG_CATCH ? "{...}" : "{}";
            memcpy(text, p, strlen(p));
            text += strlen(p);
        }
    }
    *text = '\0';
    rt->slot_hash = hash_bytes(rt->method, mlen) ^ (hash_bytes(rt->shape, strlen(rt->shape)) * 3);
    *out = rt;
    return TURBO_OK;
}

static bool same_slot(const route *a, const route *b)
{
    return a->slot_hash == b->slot_hash && strcmp(a->method, b->method) == 0 &&
           strcmp(a->shape, b->shape) == 0;
}

/* ------------------------------------------------------------------------
 * Table build
 * --------------------------------------------------------------------- */

/* Lays sub-arrays out in one block: returns the offset for count*size
 * bytes, and sets *overflow if the total no longer fits in size_t. */
static size_t layout(size_t *total, size_t count, size_t size, bool *overflow)
{
    const size_t align = _Alignof(max_align_t);
    size_t off = (*total + align - 1) & ~(align - 1);
    if (off < *total || (size && count > (SIZE_MAX - off) / size)) {
        *overflow = true;
        return 0;
    }
    *total = off + count * size;
    return off;
}

static size_t pow2_at_least(size_t n, bool *overflow)
{
    size_t c = 1;
    while (c < n) {
        if (c > SIZE_MAX / 2) {
            *overflow = true;
            return 0;
        }
        c <<= 1;
    }
    return c;
}

typedef struct builder {
    turbo__rtable *t;
} builder;

static rt_node *node_new(builder *b, rt_node *parent, int edge)
{
    turbo__rtable *t = b->t;
    rt_node *n = &t->nodes[t->nnodes];
    memset(n, 0, sizeof *n);
    n->id = t->nnodes++;
    n->parent = parent;
    n->edge = edge;
    n->nparams = parent ? parent->nparams : 0;
    if (edge == EDGE_PARAM || edge == EDGE_CATCH)
        n->nparams++;
    return n;
}

static rt_node *exact_node(builder *b, const char *path, size_t len)
{
    turbo__rtable *t = b->t;
    uint64_t h = hash_bytes(path, len);
    size_t i = (size_t)h & t->exact_mask;
    for (;; i = (i + 1) & t->exact_mask) {
        exact_slot *s = &t->exact[i];
        if (!s->node)
            break;
        if (s->hash == h && s->len == len && memcmp(s->path, path, len) == 0)
            return s->node;
    }
    exact_slot *s = &t->exact[i];
    s->hash = h;
    s->path = path;
    s->len = len;
    s->node = node_new(b, NULL, EDGE_EXACT);
    t->nexact++;
    return s->node;
}

static rt_node *literal_child(builder *b, rt_node *parent, const char *seg, size_t len)
{
    turbo__rtable *t = b->t;
    uint64_t h = hash_bytes(seg, len);
    size_t i = edge_index(parent, h, t->edge_mask);
    for (;; i = (i + 1) & t->edge_mask) {
        edge_slot *s = &t->edges[i];
        if (!s->parent)
            break;
        if (s->hash == h && s->parent == parent && s->len == len && bytes_eq(s->seg, seg, len))
            return s->child;
    }
    edge_slot *s = &t->edges[i];
    s->parent = parent;
    s->hash = h;
    s->seg = seg;
    s->len = len;
    s->child = node_new(b, parent, EDGE_LITERAL);
    s->child->seg_len = len;
    parent->nliterals++;
    t->nedges++;
    return s->child;
}

/* Writes node n's Allow list (its entries are in canonical order, so HEAD,
 * when implied by GET, goes right after GET). Returns the end of it. */
static char *render_node_allow(rt_node *n, char *w)
{
    n->allow.ptr = w;
    for (size_t i = 0; i < n->nentries; i++) {
        const rt_entry *e = &n->entries[i];
        if (i) {
            memcpy(w, ", ", 2);
            w += 2;
        }
        memcpy(w, e->method, e->method_len);
        w += e->method_len;
        if (e == n->get && !n->head) {
            memcpy(w, ", HEAD", 6);
            w += 6;
        }
    }
    n->allow.len = (size_t)(w - n->allow.ptr);
    return w;
}

/* Builds the table for the registry as it is now. `added` is the route
 * just appended, or NULL after a removal: the sizes are then bounded by the
 * current table's counts plus what `added` can contribute, which keeps the
 * block (and the hash tables to clear) tight. Counting every segment of
 * every route instead would over-allocate several times over, and the
 * block is touched on every rebuild. */
static int rtable_build(turbo__router *r, const route *added, turbo__rtable **out)
{
    /* After one change the current table's counts plus what the change
     * can contribute bound the new table tightly (a removal only shrinks
     * it). After several, bound from the routes themselves: looser, since
     * shared prefixes are counted once per route, but it is one build. */
    const turbo__rtable *old = r->changes <= 1 ? r->table : NULL;
    size_t n = r->nroutes;
    size_t nodes_max = 1, nexact = 0, edges_max = 0, nmethods_max = n + 2;
    if (old) {
        nodes_max = old->nnodes;
        nexact = old->nexact;
        edges_max = old->nedges;
        nmethods_max = old->nmethods + 2; /* a new method, and HEAD with a first GET */
    }
    const route *const *grow = old ? &added : (const route *const *)r->routes;
    size_t ngrow = old ? (added != NULL) : n;
    for (size_t i = 0; i < ngrow; i++) {
        const route *g = grow[i];
        if (g->nparams == 0) {
            nodes_max++;
            nexact++;
        } else {
            nodes_max += g->nsegs;
            for (size_t k = 0; k < g->nsegs; k++)
                edges_max += g->segs[k].kind == SEG_LITERAL;
        }
    }
    size_t names = 0, pool = 0, methods_len = 0, ngets = 0;
    for (size_t i = 0; i < n; i++) {
        const route *rt = r->routes[i];
        pool += rt->method_len + 1 + rt->pattern_len + 1;
        methods_len += rt->method_len + 2;
        names += rt->nparams;
        ngets += str_eq(rt->method, rt->method_len, "GET", 3);
    }
    /* Allow strings: each node's lists each of its methods plus ", " and
     * ", HEAD" after a GET; allow_all lists each distinct method once. */
    pool += 2 * methods_len + 6 * ngets + 6;

    bool overflow = false;
    size_t exact_cap = nexact ? pow2_at_least(2 * nexact, &overflow) : 0;
    size_t edge_cap = edges_max ? pow2_at_least(2 * edges_max, &overflow) : 0;
    size_t total = sizeof(turbo__rtable);
    size_t o_nodes = layout(&total, nodes_max, sizeof(rt_node), &overflow);
    size_t o_entries = layout(&total, n, sizeof(rt_entry), &overflow);
    size_t o_exact = layout(&total, exact_cap, sizeof(exact_slot), &overflow);
    size_t o_edges = layout(&total, edge_cap, sizeof(edge_slot), &overflow);
    size_t o_names = layout(&total, names, sizeof(turbo_str), &overflow);
    size_t o_methods = layout(&total, nmethods_max, sizeof(turbo_str), &overflow);
    size_t o_pool = layout(&total, pool, 1, &overflow);
    /* A power-of-two size class: the next table, about as big, then fits
     * the chunk this one frees. Sized exactly, each slightly larger table
     * would miss glibc's reuse and be a fresh mmap, faulted in page by page
     * on every rebuild (that was half the rebuild time). */
    if (!overflow)
        total = pow2_at_least(total, &overflow);
    if (overflow)
        return TURBO_ENOMEM;
    /* Not calloc: only the header and the hash slots need zeroing (nodes
     * are cleared as they are made; the rest is written before use). */
    char *base = malloc(total);
    if (!base)
        return TURBO_ENOMEM;
    memset(base, 0, sizeof(turbo__rtable));
    if (exact_cap)
        memset(base + o_exact, 0, exact_cap * sizeof(exact_slot));
    if (edge_cap)
        memset(base + o_edges, 0, edge_cap * sizeof(edge_slot));

    turbo__rtable *t = (turbo__rtable *)base;
    t->nodes = (rt_node *)(base + o_nodes);
    rt_entry *entries = (rt_entry *)(base + o_entries);
    t->exact = exact_cap ? (exact_slot *)(base + o_exact) : NULL;
    t->exact_mask = exact_cap - 1;
    t->edges = edge_cap ? (edge_slot *)(base + o_edges) : NULL;
    t->edge_mask = edge_cap - 1;
    turbo_str *name_w = (turbo_str *)(base + o_names);
    t->methods = (turbo_str *)(base + o_methods);
    char *pool_w = base + o_pool;
    builder b = {t};
    t->root = node_new(&b, NULL, EDGE_ROOT);

    /* Copy the strings in; collect the distinct methods. */
    bool has_get = false, has_head = false;
    for (size_t i = 0; i < n; i++) {
        route *rt = r->routes[i];
        memcpy(pool_w, rt->method, rt->method_len + 1);
        rt->t_method = pool_w;
        pool_w += rt->method_len + 1;
        memcpy(pool_w, rt->pattern, rt->pattern_len + 1);
        rt->t_pattern = pool_w;
        pool_w += rt->pattern_len + 1;
        size_t k = 0;
        while (k < t->nmethods && !str_eq(t->methods[k].ptr, t->methods[k].len, rt->t_method,
                                          rt->method_len))
            k++;
        if (k == t->nmethods)
            t->methods[t->nmethods++] = (turbo_str){rt->t_method, rt->method_len};
        has_get |= str_eq(rt->method, rt->method_len, "GET", 3);
        has_head |= str_eq(rt->method, rt->method_len, "HEAD", 4);
    }
    if (has_get && !has_head)
        t->methods[t->nmethods++] = (turbo_str){"HEAD", 4}; /* static: lives forever */
    if (t->nmethods > 1)
        qsort(t->methods, t->nmethods, sizeof(turbo_str), method_cmp);

    /* Place every route on its node, counting entries per node. */
    for (size_t i = 0; i < n; i++) {
        route *rt = r->routes[i];
        rt->rank = 0;
        while (!str_eq(t->methods[rt->rank].ptr, t->methods[rt->rank].len, rt->method,
                       rt->method_len))
            rt->rank++;
        rt_node *node;
        if (rt->nparams == 0) {
            node = exact_node(&b, rt->t_pattern, rt->pattern_len);
        } else {
            node = t->root;
            for (size_t k = 0; k < rt->nsegs; k++) {
                const route_seg *s = &rt->segs[k];
                if (s->kind == SEG_LITERAL) {
                    node = literal_child(&b, node, rt->t_pattern + s->off, s->len);
                } else if (s->kind == SEG_PARAM) {
                    if (!node->param_child)
                        node->param_child = node_new(&b, node, EDGE_PARAM);
                    node = node->param_child;
                } else {
                    if (!node->catch_child)
                        node->catch_child = node_new(&b, node, EDGE_CATCH);
                    node = node->catch_child;
                }
            }
        }
        rt->node = node;
        node->nentries++;
    }

    /* Give each node its slice of the entry array, then fill the slices. */
    rt_entry *cursor = entries;
    for (size_t i = 0; i < t->nnodes; i++) {
        t->nodes[i].entries = cursor;
        cursor += t->nodes[i].nentries;
        t->nodes[i].nentries = 0;
    }
    for (size_t i = 0; i < n; i++) {
        const route *rt = r->routes[i];
        rt_node *node = rt->node;
        /* Insertion keeps the slice in canonical order; slices are short. */
        size_t at = node->nentries++;
        while (at > 0 && node->entries[at - 1].rank > rt->rank) {
            node->entries[at] = node->entries[at - 1];
            at--;
        }
        rt_entry *e = &node->entries[at];
        e->method = rt->t_method;
        e->method_len = rt->method_len;
        e->rank = rt->rank;
        e->fn = rt->fn;
        e->user_data = rt->user_data;
        e->route = (route *)rt; /* held (refs) by deferred requests, never changed */
        e->flags = rt->flags;
        e->nparams = rt->nparams;
        e->param_names = rt->nparams ? name_w : NULL;
        for (size_t k = 0; k < rt->nsegs; k++)
            if (rt->segs[k].kind != SEG_LITERAL)
                *name_w++ = (turbo_str){rt->t_pattern + rt->segs[k].off, rt->segs[k].len};
    }

    /* Per node: GET/HEAD shortcuts, method mask, Allow text. */
    for (size_t i = 0; i < t->nnodes; i++) {
        rt_node *node = &t->nodes[i];
        for (size_t k = 0; k < node->nentries; k++) {
            const rt_entry *e = &node->entries[k];
            node->allow_mask |= rank_bit(e->rank);
            if (str_eq(e->method, e->method_len, "GET", 3))
                node->get = e;
            else if (str_eq(e->method, e->method_len, "HEAD", 4))
                node->head = e;
        }
        if (node->get) /* then GET is methods[0] and HEAD, always added, methods[1] */
            node->allow_mask |= rank_bit(1);
        if (node->nentries)
            pool_w = render_node_allow(node, pool_w);
    }
    t->allow_all.ptr = pool_w;
    for (size_t k = 0; k < t->nmethods; k++) {
        if (k) {
            memcpy(pool_w, ", ", 2);
            pool_w += 2;
        }
        memcpy(pool_w, t->methods[k].ptr, t->methods[k].len);
        pool_w += t->methods[k].len;
    }
    t->allow_all.len = (size_t)(pool_w - t->allow_all.ptr);
    *out = t;
    return TURBO_OK;
}

void turbo__rtable_free(turbo__rtable *t)
{
    free(t); /* one block: see rtable_build */
}

/* ------------------------------------------------------------------------
 * Lookup
 * --------------------------------------------------------------------- */

static const rt_entry *node_entry(const rt_node *n, turbo_str method, bool is_head)
{
    for (size_t i = 0; i < n->nentries; i++) {
        const rt_entry *e = &n->entries[i];
        if (e->method_len == method.len && bytes_eq(e->method, method.ptr, method.len))
            return e;
    }
    return is_head ? n->get : NULL;
}

static int found(turbo__match *m, const rt_entry *e)
{
    m->fn = e->fn;
    m->user_data = e->user_data;
    m->route = e->route;
    m->flags = e->flags;
    m->nparams = e->nparams;
    m->param_names = e->param_names;
    return 200;
}

/* The nodes that matched the path without the method, for 405. `cover` is
 * a matched node whose own method set equals the union so far, if any: then
 * its precomputed Allow is the answer and nothing is rendered. */
typedef struct seen {
    uint64_t mask;
    const rt_node *cover;
} seen;

static void seen_add(seen *s, const rt_node *n)
{
    uint64_t u = s->mask | n->allow_mask;
    if (u == n->allow_mask)
        s->cover = n;
    else if (u != s->mask)
        s->cover = NULL;
    s->mask = u;
}

static turbo_str render_union(const turbo__rtable *t, uint64_t mask, char *buf, size_t cap)
{
    size_t len = 0;
    for (size_t i = 0; i < t->nmethods; i++) {
        if (!(mask & rank_bit(i)))
            continue;
        const turbo_str *mt = &t->methods[i];
        size_t need = (len ? 2 : 0) + mt->len;
        if (need > cap - len)
            return t->allow_all;
        if (len) {
            memcpy(buf + len, ", ", 2);
            len += 2;
        }
        memcpy(buf + len, mt->ptr, mt->len);
        len += mt->len;
    }
    return (turbo_str){buf, len};
}

enum { STEP_DESCEND, STEP_PARAM, STEP_CATCH, STEP_UP };

int turbo__rtable_match(const turbo__rtable *t, turbo_str method, turbo_str path,
                        turbo__match *m)
{
    m->fn = NULL;
    m->user_data = NULL;
    m->route = NULL;
    m->flags = 0;
    m->nparams = 0;
    m->param_names = NULL;
    m->allow = (turbo_str){NULL, 0};
    if (!t || path.len == 0 || !path.ptr || path.ptr[0] != '/')
        return 404;
    const char *p = path.ptr;
    const size_t len = path.len;
    const bool is_head = method.len == 4 && bytes_eq(method.ptr, "HEAD", 4);
    seen s = {0, NULL};
    const rt_entry *e;

    if (t->exact) {
        const rt_node *x = exact_find(t, p, len);
        if (x) {
            if ((e = node_entry(x, method, is_head)))
                return found(m, e);
            seen_add(&s, x);
        }
    }

    /* Invariant: in every step, pos is where node n's segment ends (the
     * end of the path or a '/'); in STEP_PARAM/STEP_CATCH, seg_end is where
     * the next segment ends. */
    const rt_node *n = t->root;
    size_t pos = 0, seg_end = 0;
    int step = STEP_DESCEND;
    for (;;) {
        if (step == STEP_DESCEND) {
            if (pos == len) {
                if (n->nentries) {
                    if ((e = node_entry(n, method, is_head)))
                        return found(m, e);
                    seen_add(&s, n);
                }
                step = STEP_UP; /* children all need another segment */
            } else {
                seg_end = pos + 1;
                while (seg_end < len && p[seg_end] != '/')
                    seg_end++; /* segments are short: a loop beats a call to memchr */
                if (n->nliterals) {
                    const rt_node *c = edge_find(t, n, p + pos + 1, seg_end - pos - 1);
                    if (c) {
                        n = c;
                        pos = seg_end;
                        continue;
                    }
                }
                step = STEP_PARAM;
            }
        }
        if (step == STEP_PARAM) {
            const rt_node *c = n->param_child;
            if (c && seg_end > pos + 1) { /* never an empty segment */
                m->params[c->nparams - 1] = (turbo_str){p + pos + 1, seg_end - pos - 1};
                n = c;
                pos = seg_end;
                step = STEP_DESCEND;
                continue;
            }
            step = STEP_CATCH;
        }
        if (step == STEP_CATCH) {
            const rt_node *c = n->catch_child;
            if (c) { /* p[pos] == '/': the rest after it, possibly empty */
                if ((e = node_entry(c, method, is_head))) {
                    m->params[c->nparams - 1] = (turbo_str){p + pos + 1, len - pos - 1};
                    return found(m, e);
                }
                seen_add(&s, c);
            }
        }
        /* Step up to the parent and resume with its next alternative. A
         * literal's length is known; a parameter's start is in m->params,
         * which nothing deeper overwrites (deeper nodes bind higher
         * indices). */
        if (n == t->root)
            break;
        seg_end = pos;
        if (n->edge == EDGE_LITERAL) {
            pos -= n->seg_len + 1;
            step = STEP_PARAM;
        } else {
            pos = (size_t)(m->params[n->nparams - 1].ptr - p) - 1;
            step = STEP_CATCH;
        }
        n = n->parent;
    }

    if (!s.mask)
        return 404;
    if (s.cover && !(t->nmethods > 64 && (s.mask & rank_bit(63))))
        m->allow = s.cover->allow;
    else
        m->allow = render_union(t, s.mask, m->allow_buf, sizeof m->allow_buf);
    return 405;
}

/* ------------------------------------------------------------------------
 * Registry
 * --------------------------------------------------------------------- */

turbo__router *turbo__router_new(void)
{
    turbo__router *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    if (rtable_build(r, NULL, &r->table) != TURBO_OK) {
        free(r);
        return NULL;
    }
    return r;
}

/* Drops one reference; the last one releases the user_data and frees.
 * acq_rel: whatever a deferred request's holder did with the route (its
 * user_data) happens before the release callback that ends it. */
static void route_unref(route *rt)
{
    if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (rt->release)
        rt->release(rt->user_data);
    free(rt);
}

void turbo__route_hold(struct route *rt)
{
    atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
}

void turbo__route_drop(struct route *rt)
{
    route_unref(rt);
}

static void release_removed(route *list)
{
    while (list) {
        route *next = list->next_removed;
        route_unref(list);
        list = next;
    }
}

void turbo__router_free(turbo__router *r)
{
    if (!r)
        return;
    turbo__rtable_free(r->table);
    release_removed(r->removed);
    for (size_t i = 0; i < r->nroutes; i++)
        route_unref(r->routes[i]);
    free(r->routes);
    free(r);
}

/* Records a change; the table is rebuilt when next asked for, so adding
 * n routes before serving costs one build, not n. */
static void changed(turbo__router *r, const route *added)
{
    r->changes++;
    r->last_add = r->changes == 1 ? added : NULL;
}

int turbo__router_add(turbo__router *r, const char *method, const char *pattern, turbo_handler fn,
                      void *user_data, turbo_release_fn release)
{
    return turbo__router_add_flags(r, method, pattern, fn, user_data, release, 0);
}

int turbo__router_add_flags(turbo__router *r, const char *method, const char *pattern,
                            turbo_handler fn, void *user_data, turbo_release_fn release,
                            unsigned flags)
{
    if (!r || !fn)
        return TURBO_EINVAL;
    route *rt;
    int rc = route_new(method, pattern, &rt);
    if (rc != TURBO_OK)
        return rc;
    for (size_t i = 0; i < r->nroutes; i++) {
        if (same_slot(r->routes[i], rt)) {
            free(rt);
            return TURBO_EEXIST;
        }
    }
    if (r->nroutes == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 16;
        route **grown = cap <= SIZE_MAX / sizeof *grown ? realloc(r->routes, cap * sizeof *grown)
                                                       : NULL;
        if (!grown) {
            free(rt);
            return TURBO_ENOMEM;
        }
        r->routes = grown;
        r->cap = cap;
    }
    rt->fn = fn;
    rt->user_data = user_data;
    rt->release = release;
    rt->flags = flags;
    atomic_init(&rt->refs, 1);
    r->routes[r->nroutes++] = rt;
    changed(r, rt);
    return TURBO_OK;
}

int turbo__router_remove(turbo__router *r, const char *method, const char *pattern)
{
    if (!r)
        return TURBO_EINVAL;
    route *key;
    int rc = route_new(method, pattern, &key);
    if (rc != TURBO_OK)
        return rc;
    size_t i = 0;
    while (i < r->nroutes && !same_slot(r->routes[i], key))
        i++;
    free(key);
    if (i == r->nroutes)
        return TURBO_ENOENT;

    route *gone = r->routes[i];
    memmove(&r->routes[i], &r->routes[i + 1], (r->nroutes - i - 1) * sizeof *r->routes);
    r->nroutes--;
    changed(r, NULL);
    /* The current table may still be read and reach it: it is released
     * with that table's retirement (turbo__router_commit). */
    gone->next_removed = r->removed;
    r->removed = gone;
    return TURBO_OK;
}

void turbo__router_rollback(turbo__router *r)
{
    if (r->changes != 1)
        return;
    if (r->last_add) {
        /* An add appends: the route is the last one. It never reached a
         * table, so no release: the caller owns its user_data again. */
        free(r->routes[--r->nroutes]);
    } else if (r->removed) {
        route *back = r->removed; /* the array has room: it only shrank */
        r->removed = back->next_removed;
        back->next_removed = NULL;
        r->routes[r->nroutes++] = back;
    }
    r->changes = 0;
    r->last_add = NULL;
}

int turbo__router_commit(turbo__router *r, turbo__retired **retired)
{
    *retired = NULL;
    if (r->changes == 0)
        return TURBO_OK;
    turbo__retired *g = calloc(1, sizeof *g);
    if (!g)
        return TURBO_ENOMEM;
    turbo__rtable *t;
    if (rtable_build(r, r->last_add, &t) != TURBO_OK) {
        free(g);
        return TURBO_ENOMEM;
    }
    g->table = r->table;
    g->removed = r->removed;
    r->table = t;
    r->removed = NULL;
    r->changes = 0;
    r->last_add = NULL;
    *retired = g;
    return TURBO_OK;
}

void turbo__retired_free(turbo__retired *g)
{
    if (!g)
        return;
    turbo__rtable_free(g->table);
    release_removed(g->removed);
    free(g);
}

const turbo__rtable *turbo__router_table(turbo__router *r)
{
    turbo__retired *g;
    if (turbo__router_commit(r, &g) != TURBO_OK)
        return NULL;
    turbo__retired_free(g); /* single-threaded use: no reader holds it */
    return r->table;
}

const turbo__rtable *turbo__router_current(const turbo__router *r)
{
    return r->table;
}
