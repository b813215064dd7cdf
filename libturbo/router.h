/*
 * The router: routes are kept by a writer-side registry (turbo__router) and
 * compiled into an immutable lookup table (turbo__rtable) that I/O threads
 * read. A table never changes once built; a change builds a new table and
 * publishes it, so making route changes safe while serving only changes how
 * tables are published and retired (router.c), not how they are read.
 *
 * Patterns: "/" then segments separated by '/'. A segment is literal text,
 * "{name}" (a whole segment, non-empty, no '/') or, as the last segment,
 * "{name...}" (the rest of the path, may be empty, slashes included).
 * Names: [A-Za-z_][A-Za-z0-9_]*, unique within a pattern; at most
 * TURBO__MAX_PARAMS of them.
 *
 * Matching works on the raw path (no percent-decoding). Precedence, segment
 * by segment: literal, then {param}, then {catch...}; the first route in that
 * order whose path matches AND which has the method wins (HEAD falls back
 * to GET). If routes match the path but none has the method: 405 with Allow
 * listing the union of their methods (plus HEAD where GET exists). If no
 * route matches the path: 404.
 *
 * Edges: the path is split at every '/', so "/" is one empty segment and a
 * trailing slash is significant ("/a" and "/a/" differ). Literals compare
 * byte for byte (empty literal segments, as in "/a/" or "/a//b", are
 * allowed). "{p}" never matches an empty segment. "/s/{p...}" matches
 * "/s/" (p empty) and "/s/a/b" (p "a/b") but not "/s". A path not starting
 * with '/' matches nothing (404). Params are slices of the looked-up path.
 * HEAD is decided per route in precedence order: the first matching route
 * with HEAD, or else with GET, answers it (an explicit HEAD beats GET on the
 * same pattern only).
 */
#ifndef TURBO_ROUTER_H
#define TURBO_ROUTER_H

#include <stddef.h>

#include <ck_epoch.h>

#include "turbo/turbo.h"

#define TURBO__MAX_PARAMS 64
/* Room in turbo__match for an Allow list that is the union of several
 * routes' methods (see turbo__match.allow). */
#define TURBO__ALLOW_BUF 256

typedef struct turbo__router turbo__router;
typedef struct turbo__rtable turbo__rtable;

struct route;

typedef struct turbo__match {
    turbo_handler fn;
    void *user_data;
    struct route *route; /* the matched route, for turbo__route_hold */
    unsigned flags;      /* its TURBO_ROUTE_* flags */
    size_t nparams;
    const turbo_str *param_names;       /* the matched route's names (table-owned) */
    turbo_str params[TURBO__MAX_PARAMS]; /* slices of the looked-up path */
    /* On 405: "GET, HEAD, POST". Methods in a fixed order: GET, HEAD, POST,
     * PUT, PATCH, DELETE, OPTIONS, then others in byte order; HEAD wherever
     * GET is. Points into the table, or into allow_buf when several routes
     * matched the path and their union had to be written out: so read it
     * from this struct, not from a copy of it. */
    turbo_str allow;
    char allow_buf[TURBO__ALLOW_BUF];
} turbo__match;

turbo__router *turbo__router_new(void);
/* Frees everything and calls every remaining route's release once. */
void turbo__router_free(turbo__router *r);

/* Returns TURBO_OK, TURBO_EINVAL (method not a token, NULL pattern or fn),
 * TURBO_EPATTERN (malformed pattern), TURBO_EEXIST (same method and the
 * same pattern shape, i.e. equal after renaming parameters), TURBO_ENOMEM.
 * On failure nothing changes and release is NOT called (the caller owns
 * user_data then). */
int turbo__router_add(turbo__router *r, const char *method, const char *pattern, turbo_handler fn,
                      void *user_data, turbo_release_fn release);
/* The same, with TURBO_ROUTE_* flags (returned in a match). */
int turbo__router_add_flags(turbo__router *r, const char *method, const char *pattern,
                            turbo_handler fn, void *user_data, turbo_release_fn release,
                            unsigned flags);

/* A deferred request keeps the route it matched (and so its user_data)
 * alive past the read section it was matched in: hold inside that
 * section, drop when the request is done, on any thread. The release
 * callback of a removed route runs at the last drop. */
void turbo__route_hold(struct route *rt);
void turbo__route_drop(struct route *rt);

/* Removes the route with this method and exactly this pattern text (or the
 * same shape). TURBO_OK, TURBO_ENOENT, TURBO_EINVAL, TURBO_EPATTERN,
 * TURBO_ENOMEM. Its release runs when the table that could still reach it
 * is retired (turbo__retired_free), never before. */
int turbo__router_remove(turbo__router *r, const char *method, const char *pattern);

/* What a commit leaves behind: the table it replaced and the routes removed
 * since that table was built. Readers may still be using them; whoever
 * holds this frees it (turbo__retired_free, which runs the removed routes'
 * release callbacks) once no reader can. entry is for the holder's
 * ck_epoch_call; it comes first so the entry's address is the bundle's. */
typedef struct turbo__retired {
    ck_epoch_entry_t entry;
    turbo__rtable *table;
    struct route *removed;
    struct turbo__retired *next; /* for the holder's lists */
    void *owner;                 /* for the holder's callback */
} turbo__retired;

/* Compiles the routes as they are now into a new current table, if they
 * changed since the last commit (adds and removes only record the change,
 * so n adds before serving cost one build). *retired receives what the new
 * table replaces (NULL when nothing changed). TURBO_OK or TURBO_ENOMEM
 * (nothing changed; the pending changes stay pending). */
int turbo__router_commit(turbo__router *r, turbo__retired **retired);

/* Undoes the one add or remove made since the last commit (a failed
 * commit after a single change); no release runs. No-op otherwise. */
void turbo__router_rollback(turbo__router *r);

/* Frees a retired bundle and releases its removed routes. NULL allowed. */
void turbo__retired_free(turbo__retired *g);

/* The current table after committing pending changes, the replaced one
 * freed at once: for single-threaded use (before serving, tests, bench).
 * NULL when out of memory. */
const turbo__rtable *turbo__router_table(turbo__router *r);

/* The current table, without committing. Writer side only. */
const turbo__rtable *turbo__router_current(const turbo__router *r);

/* Frees a table (one block; a table never points into the registry, so it
 * may outlive the routes it was built from). NULL is allowed. Only for
 * tables no longer current: turbo__router_free() frees the current one. */
void turbo__rtable_free(turbo__rtable *t);

/* Looks up method+path. Returns 200 (m->fn, user_data and params set),
 * 404, or 405 (m->allow set). Pure reader: safe from any number of threads
 * on the same table. */
int turbo__rtable_match(const turbo__rtable *t, turbo_str method, turbo_str path,
                        turbo__match *m);

#endif
