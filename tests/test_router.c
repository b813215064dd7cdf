/*
 * The router's specification, as tests: precedence, parameters, 404/405
 * and Allow, HEAD, pattern validation, the route registry's error codes and
 * the release contract.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"
#include "test_support.h" /* ck_assert_slice */

/* Handlers are never called; they only have to be distinct pointers. */
static int handler_a(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)res, (void)ud;
    return 0;
}
static int handler_b(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)res, (void)ud;
    return 0;
}

static turbo__router *r;
static turbo__match m;

static void setup(void)
{
    r = turbo__router_new();
    ck_assert_ptr_nonnull(r);
}

static void teardown(void)
{
    turbo__router_free(r);
    r = NULL;
}

/* Adds a route whose user_data is its own label, so a lookup can say which
 * route answered. */
static void add(const char *method, const char *pattern)
{
    int rc = turbo__router_add(r, method, pattern, handler_a, (void *)pattern, NULL);
    ck_assert_msg(rc == TURBO_OK, "add %s %s: %d", method, pattern, rc);
}

static turbo_str s(const char *z)
{
    return (turbo_str){z, strlen(z)};
}

static int lookup(const char *method, const char *path)
{
    return turbo__rtable_match(turbo__router_table(r), s(method), s(path), &m);
}

/* Asserts method+path is answered by the route added with this pattern. */
#define ck_assert_routes_to(method, path, pattern)                                               \
    do {                                                                                         \
        ck_assert_int_eq(lookup(method, path), 200);                                             \
        ck_assert_str_eq((const char *)m.user_data, pattern);                                   \
    } while (0)

#define ck_assert_405_allow(method, path, expected)                                              \
    do {                                                                                         \
        ck_assert_int_eq(lookup(method, path), 405);                                             \
        ck_assert_slice(m.allow, expected);                                                  \
    } while (0)

static int releases;
static void count_release(void *ud)
{
    (void)ud;
    releases++;
}

/* ------------------------------------------------------------------------
 * Lookups: routes added, then what each method and path finds
 * --------------------------------------------------------------------- */

/* A lookup and its answer. */
typedef struct lookup_case {
    const char *method;
    const char *path; /* NULL: the slice {NULL, 0} */
    int status;       /* 200, 404 or 405 */
    /* 200: the pattern of the route that answers; 405: the Allow list. */
    const char *answer;
    /* 200: every parameter as "name=value", in pattern order, separated
     * by spaces ("" for none). */
    const char *params;
} lookup_case;

#define FOUND(method, path, pattern, params) {method, path, 200, pattern, params}
#define NOT_FOUND(method, path) {method, path, 404, NULL, NULL}
#define NOT_ALLOWED(method, path, allow) {method, path, 405, allow, NULL}

/* Routes ("METHOD /pattern", each added with its pattern as user_data),
 * then lookups. */
typedef struct routing_case {
    const char *name;
    const char *routes[10];
    lookup_case lookups[8];
} routing_case;

static const routing_case routing[] = {
    /* Exact paths */
    {"exact_route_matches_with_no_params",
     {"GET /health"},
     {FOUND("GET", "/health", "/health", "")}},
    {"root_matches_only_root",
     {"GET /"},
     {FOUND("GET", "/", "/", ""), NOT_FOUND("GET", "//"), NOT_FOUND("GET", "/a")}},
    {"trailing_slash_is_significant",
     {"GET /a", "GET /b/", "GET /p/{x}/"},
     {FOUND("GET", "/a", "/a", ""), NOT_FOUND("GET", "/a/"), FOUND("GET", "/b/", "/b/", ""),
      NOT_FOUND("GET", "/b"), FOUND("GET", "/p/1/", "/p/{x}/", "x=1"), NOT_FOUND("GET", "/p/1")}},
    {"literals_compare_byte_exactly",
     {"GET /Caf%C3%A9", "GET /x/{id}/Info"},
     {FOUND("GET", "/Caf%C3%A9", "/Caf%C3%A9", ""), NOT_FOUND("GET", "/caf%C3%A9"),
      NOT_FOUND("GET", "/Caf%c3%a9"), NOT_FOUND("GET", "/Caf\xc3\xa9"),
      FOUND("GET", "/x/1/Info", "/x/{id}/Info", "id=1"), NOT_FOUND("GET", "/x/1/info")}},
    {"path_not_starting_with_slash_gets_404",
     {"GET /{rest...}"},
     {NOT_FOUND("GET", "a"), NOT_FOUND("GET", ""), NOT_FOUND("GET", "*"), NOT_FOUND("GET", NULL)}},
    {"unknown_path_gets_404",
     {"GET /users", "GET /users/{id}"},
     {NOT_FOUND("GET", "/nope"), NOT_FOUND("GET", "/users/1/posts")}},
    {"empty_router_answers_404", {NULL}, {NOT_FOUND("GET", "/"), NOT_FOUND("GET", "/a/b")}},

    /* Parameters */
    {"param_never_matches_empty_segment",
     {"GET /u/{id}", "GET /v/{a}/{b}"},
     {NOT_FOUND("GET", "/u/"), NOT_FOUND("GET", "/v//x"), NOT_FOUND("GET", "/v/x/"),
      FOUND("GET", "/v/x/y", "/v/{a}/{b}", "a=x b=y")}},
    {"param_matches_exactly_one_segment",
     {"GET /u/{id}"},
     {NOT_FOUND("GET", "/u/1/2"), NOT_FOUND("GET", "/u")}},
    {"catch_all_matches_rest_with_slashes",
     {"GET /static/{path...}"},
     {FOUND("GET", "/static/a/b/c.css", "/static/{path...}", "path=a/b/c.css"),
      FOUND("GET", "/static//x/", "/static/{path...}", "path=/x/")}},
    {"catch_all_matches_empty_rest_but_not_missing_slash",
     {"GET /static/{p...}"},
     {FOUND("GET", "/static/", "/static/{p...}", "p="), NOT_FOUND("GET", "/static"),
      NOT_FOUND("GET", "/staticx")}},
    {"catch_all_at_root_matches_every_path",
     {"GET /{all...}"},
     {FOUND("GET", "/", "/{all...}", "all="), FOUND("GET", "/a/b", "/{all...}", "all=a/b")}},
    {"params_before_catch_all_are_kept",
     {"GET /repo/{owner}/{name}/tree/{path...}"},
     {FOUND("GET", "/repo/me/lib/tree/src/a.c", "/repo/{owner}/{name}/tree/{path...}",
            "owner=me name=lib path=src/a.c")}},

    /* Precedence and backtracking */
    {"literal_beats_param",
     {"GET /users/{id}", "GET /users/me", "GET /x/{a}/z", "GET /x/y/{b}"},
     {FOUND("GET", "/users/me", "/users/me", ""),
      FOUND("GET", "/users/you", "/users/{id}", "id=you"),
      /* the first segment that differs decides */
      FOUND("GET", "/x/y/z", "/x/y/{b}", "b=z")}},
    {"param_beats_catch_all",
     {"GET /f/{rest...}", "GET /f/{name}"},
     {FOUND("GET", "/f/a", "/f/{name}", "name=a"),
      FOUND("GET", "/f/a/b", "/f/{rest...}", "rest=a/b"),
      FOUND("GET", "/f/", "/f/{rest...}", "rest=")}},
    {"backtracks_from_partial_literal_to_param",
     {"GET /a/b/d", "GET /a/b/{x}/e", "GET /a/{y}/c"},
     {FOUND("GET", "/a/b/c", "/a/{y}/c", "y=b")}},
    {"backtracks_through_several_levels_to_catch_all",
     {"GET /a/{x}/c/d", "GET /a/b/{y}/e", "GET /a/b/c/{z}/f", "GET /a/{rest...}"},
     {FOUND("GET", "/a/b/c/d", "/a/{x}/c/d", "x=b"), FOUND("GET", "/a/b/c/e", "/a/b/{y}/e", "y=c"),
      FOUND("GET", "/a/b/c/q/f", "/a/b/c/{z}/f", "z=q"),
      FOUND("GET", "/a/b/c/q/g", "/a/{rest...}", "rest=b/c/q/g")}},
    {"exact_route_beats_param_route_on_same_path",
     {"GET /{a}/{b}", "GET /p/q"},
     {FOUND("GET", "/p/q", "/p/q", ""), FOUND("GET", "/p/r", "/{a}/{b}", "a=p b=r")}},
    {"method_decides_across_shapes",
     {"POST /users/me", "GET /users/{id}"},
     {FOUND("GET", "/users/me", "/users/{id}", "id=me"),
      FOUND("POST", "/users/me", "/users/me", "")}},
    {"param_names_belong_to_each_route",
     {"GET /u/{id}", "PUT /u/{user}"},
     {FOUND("GET", "/u/7", "/u/{id}", "id=7"), FOUND("PUT", "/u/7", "/u/{user}", "user=7")}},

    /* Methods, 405 and Allow */
    {"unknown_method_gets_405_with_allow",
     {"POST /items", "GET /items"},
     {NOT_ALLOWED("DELETE", "/items", "GET, HEAD, POST")}},
    {"method_is_case_sensitive", {"GET /a"}, {NOT_ALLOWED("get", "/a", "GET, HEAD")}},
    {"allow_lists_methods_in_canonical_order",
     {"PURGE /r/{id}", "OPTIONS /r/{id}", "DELETE /r/{id}", "LINK /r/{id}", "PATCH /r/{id}",
      "PUT /r/{id}", "POST /r/{id}", "GET /r/{id}"},
     {NOT_ALLOWED("TRACE", "/r/1", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, LINK, PURGE")}},
    {"allow_is_union_of_all_routes_matching_path",
     {"POST /a/b", "GET /a/{x}", "DELETE /{y}/b", "PUT /{z...}",
      "PATCH /c/{w}" /* matches another path: not listed */},
     {NOT_ALLOWED("OPTIONS", "/a/b", "GET, HEAD, POST, PUT, DELETE"),
      NOT_ALLOWED("POST", "/q/b", "PUT, DELETE"), NOT_ALLOWED("GET", "/q/r/s", "PUT")}},
    {"head_falls_back_to_get",
     {"GET /page", "GET /p/{id}"},
     {FOUND("HEAD", "/page", "/page", ""), FOUND("HEAD", "/p/9", "/p/{id}", "id=9")}},
    /* The literal route has GET, so it answers HEAD before the param
     * route's explicit HEAD is considered. */
    {"head_follows_precedence_before_falling_back",
     {"GET /d/x", "HEAD /d/{id}"},
     {FOUND("HEAD", "/d/x", "/d/x", ""), FOUND("HEAD", "/d/y", "/d/{id}", "id=y")}},
    {"head_without_get_gets_405", {"POST /form"}, {NOT_ALLOWED("HEAD", "/form", "POST")}},
};

/* m's parameters as "name=value name=value" (the format of lookup_case). */
static void format_params(char *out, size_t size)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < m.nparams && n < size; i++)
        n += (size_t)snprintf(out + n, size - n, "%s%.*s=%.*s", i > 0 ? " " : "",
                              (int)m.param_names[i].len, m.param_names[i].ptr,
                              (int)m.params[i].len, m.params[i].ptr);
    ck_assert_uint_lt(n, size);
}

START_TEST(lookup_finds_what_the_case_specifies)
{
    const routing_case *k = &routing[_i];
    for (size_t i = 0; i < sizeof(k->routes) / sizeof(k->routes[0]) && k->routes[i] != NULL; i++) {
        char method[32];
        const char *pattern = strchr(k->routes[i], ' ');
        ck_assert_ptr_nonnull(pattern);
        snprintf(method, sizeof(method), "%.*s", (int)(pattern - k->routes[i]), k->routes[i]);
        add(method, pattern + 1);
    }
    for (size_t i = 0; i < sizeof(k->lookups) / sizeof(k->lookups[0]) && k->lookups[i].method;
         i++) {
        const lookup_case *l = &k->lookups[i];
        const char *path = l->path != NULL ? l->path : "(NULL)";
        turbo_str p = l->path != NULL ? s(l->path) : (turbo_str){NULL, 0};
        int status = turbo__rtable_match(turbo__router_table(r), s(l->method), p, &m);
        ck_assert_msg(status == l->status, "%s: %s %s: %d, want %d", k->name, l->method, path,
                      status, l->status);
        if (status == 200) {
            char params[512];
            format_params(params, sizeof(params));
            ck_assert_msg(strcmp(m.user_data, l->answer) == 0 && m.fn == handler_a,
                          "%s: %s %s: answered by %s, want %s", k->name, l->method, path,
                          (const char *)m.user_data, l->answer);
            ck_assert_msg(strcmp(params, l->params) == 0, "%s: %s %s: params \"%s\", want \"%s\"",
                          k->name, l->method, path, params, l->params);
            continue;
        }
        /* Nothing to call; an Allow list only with a 405. */
        const char *allow = status == 405 ? l->answer : "";
        ck_assert_msg(m.fn == NULL, "%s: %s %s: a handler with %d", k->name, l->method, path,
                      status);
        ck_assert_msg(m.allow.len == strlen(allow) &&
                          (m.allow.len == 0 || memcmp(m.allow.ptr, allow, m.allow.len) == 0),
                      "%s: %s %s: Allow \"%.*s\", want \"%s\"", k->name, l->method, path,
                      (int)m.allow.len, m.allow.ptr != NULL ? m.allow.ptr : "", allow);
    }
}
END_TEST

/* ------------------------------------------------------------------------
 * Lookups that a table cannot say
 * --------------------------------------------------------------------- */

START_TEST(params_are_extracted_with_names_and_values)
{
    add("GET", "/users/{uid}/posts/{post_id}");
    const char *path = "/users/42/posts/abc%20d";
    ck_assert_routes_to("GET", path, "/users/{uid}/posts/{post_id}");
    ck_assert_uint_eq(m.nparams, 2);
    ck_assert_slice(m.param_names[0], "uid");
    ck_assert_slice(m.param_names[1], "post_id");
    ck_assert_slice(m.params[0], "42");
    ck_assert_slice(m.params[1], "abc%20d");
    /* Slices of the looked-up path, not copies. */
    ck_assert_ptr_eq(m.params[0].ptr, path + 7);
    ck_assert_ptr_eq(m.params[1].ptr, path + 16);
}
END_TEST

START_TEST(allow_union_longer_than_buffer_lists_every_method)
{
    char m1[120], m2[120], m3[120];
    memset(m1, 'A', sizeof m1 - 1), m1[sizeof m1 - 1] = '\0';
    memset(m2, 'B', sizeof m2 - 1), m2[sizeof m2 - 1] = '\0';
    memset(m3, 'C', sizeof m3 - 1), m3[sizeof m3 - 1] = '\0';
    add(m1, "/a/b");
    add(m2, "/a/{x}");
    add(m3, "/{y}/b");
    ck_assert_int_eq(lookup("GET", "/a/b"), 405);
    ck_assert_uint_eq(m.allow.len, 3 * 119 + 2 * 2);
    ck_assert(memcmp(m.allow.ptr, m1, 119) == 0);
    ck_assert(memcmp(m.allow.ptr + 119, ", ", 2) == 0);
}
END_TEST

/* Two handlers on one pattern: told apart by fn. */
START_TEST(explicit_head_route_wins_over_get)
{
    ck_assert_int_eq(turbo__router_add(r, "GET", "/page", handler_a, NULL, NULL), TURBO_OK);
    ck_assert_int_eq(turbo__router_add(r, "HEAD", "/page", handler_b, NULL, NULL), TURBO_OK);
    ck_assert_int_eq(lookup("HEAD", "/page"), 200);
    ck_assert_ptr_eq(m.fn, handler_b);
    ck_assert_int_eq(lookup("GET", "/page"), 200);
    ck_assert_ptr_eq(m.fn, handler_a);
}
END_TEST

/* ------------------------------------------------------------------------
 * Registry errors
 * --------------------------------------------------------------------- */

START_TEST(invalid_method_is_einval)
{
    const char *bad[] = {"", "GE T", "GET\n", "(GET)", "G/ET", "GET:", "\x7f", "G\xc3\xa9T"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(turbo__router_add(r, bad[i], "/", handler_a, NULL, NULL), TURBO_EINVAL);
    ck_assert_int_eq(turbo__router_add(r, NULL, "/", handler_a, NULL, NULL), TURBO_EINVAL);
    /* Any token is a method. */
    ck_assert_int_eq(turbo__router_add(r, "M-SEARCH", "/", handler_a, NULL, NULL), TURBO_OK);
    ck_assert_int_eq(turbo__router_add(r, "x!#$%&'*+.^_`|~9", "/", handler_a, NULL, NULL), TURBO_OK);
}
END_TEST

START_TEST(null_pattern_or_handler_is_einval)
{
    ck_assert_int_eq(turbo__router_add(r, "GET", NULL, handler_a, NULL, NULL), TURBO_EINVAL);
    ck_assert_int_eq(turbo__router_add(r, "GET", "/", NULL, NULL, NULL), TURBO_EINVAL);
    ck_assert_int_eq(turbo__router_add(NULL, "GET", "/", handler_a, NULL, NULL), TURBO_EINVAL);
}
END_TEST

START_TEST(malformed_patterns_are_epattern)
{
    const char *bad[] = {
        "",           "a",         "a/b",        "/a{b}",     "/{a}b",      "/{a",
        "/a}",        "/}",        "/{",         "/{}",       "/{...}",     "/{1x}",
        "/{a-b}",     "/{a b}",    "/{a.b}",     "/{x..}",    "/{{x}}",     "/{a}{b}",
        "/{x...}/",   "/{x...}/y", "/{x}/{x}",   "/{x}/{x...}", "/a?b",     "/a#b",
        "/a b",       "/a\tb",     "/caf\xc3\xa9", "/a\x7f",  "/{a/b}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int rc = turbo__router_add(r, "GET", bad[i], handler_a, NULL, NULL);
        ck_assert_msg(rc == TURBO_EPATTERN, "\"%s\" gave %d", bad[i], rc);
    }
    ck_assert_int_eq(lookup("GET", "/a"), 404); /* nothing was added */
}
END_TEST

START_TEST(wellformed_edge_patterns_are_accepted)
{
    const char *good[] = {"/", "//", "/a//b", "/_x/{_}", "/{A9_z}", "/v1/{rest...}",
                          "/~!$&'()*+,;=:@%-._", "/{a}/{b}/{c...}"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int rc = turbo__router_add(r, "GET", good[i], handler_a, NULL, NULL);
        ck_assert_msg(rc == TURBO_OK, "\"%s\" gave %d", good[i], rc);
    }
    ck_assert_int_eq(lookup("GET", "/a//b"), 200);
}
END_TEST

START_TEST(same_method_and_shape_is_eexist)
{
    add("GET", "/u/{a}");
    ck_assert_int_eq(turbo__router_add(r, "GET", "/u/{a}", handler_b, NULL, NULL), TURBO_EEXIST);
    ck_assert_int_eq(turbo__router_add(r, "GET", "/u/{b}", handler_b, NULL, NULL), TURBO_EEXIST);
    add("GET", "/s");
    ck_assert_int_eq(turbo__router_add(r, "GET", "/s", handler_b, NULL, NULL), TURBO_EEXIST);
    add("GET", "/c/{p...}");
    ck_assert_int_eq(turbo__router_add(r, "GET", "/c/{q...}", handler_b, NULL, NULL), TURBO_EEXIST);
    /* Different shapes or methods are different routes. */
    add("GET", "/c/{p}");
    add("POST", "/u/{b}");
    add("GET", "/u/{a}/");
    ck_assert_routes_to("GET", "/u/1", "/u/{a}");
}
END_TEST

/* "/{p0}/{p1}/.../{p<count-1>}", with "..." on the last one if catch. */
static void make_param_pattern(char *buf, size_t size, int count, int catch_all)
{
    size_t n = 0;
    for (int i = 0; i < count; i++)
        n += (size_t)snprintf(buf + n, size - n, "/{p%d%s}", i,
                              catch_all && i == count - 1 ? "..." : "");
    ck_assert_uint_lt(n, size);
}

START_TEST(param_count_limit_is_64)
{
    char pat[1024];
    make_param_pattern(pat, sizeof pat, 64, 0);
    ck_assert_int_eq(turbo__router_add(r, "GET", pat, handler_a, NULL, NULL), TURBO_OK);

    char path[512];
    size_t k = 0;
    for (int i = 0; i < 64; i++)
        k += (size_t)snprintf(path + k, sizeof path - k, "/%d", i);
    ck_assert_int_eq(lookup("GET", path), 200);
    ck_assert_uint_eq(m.nparams, 64);
    ck_assert_slice(m.param_names[63], "p63");
    ck_assert_slice(m.params[63], "63");

    make_param_pattern(pat, sizeof pat, 65, 0);
    ck_assert_int_eq(turbo__router_add(r, "GET", pat, handler_a, NULL, NULL), TURBO_EPATTERN);
    make_param_pattern(pat, sizeof pat, 65, 1);
    ck_assert_int_eq(turbo__router_add(r, "GET", pat, handler_a, NULL, NULL), TURBO_EPATTERN);
    make_param_pattern(pat, sizeof pat, 64, 1);
    ck_assert_int_eq(turbo__router_add(r, "GET", pat, handler_a, NULL, NULL), TURBO_OK);
}
END_TEST

/* ------------------------------------------------------------------------
 * Remove and release
 * --------------------------------------------------------------------- */

START_TEST(removed_route_is_no_longer_found)
{
    add("GET", "/a");
    add("POST", "/a");
    add("GET", "/u/{id}");
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/a"), TURBO_OK);
    ck_assert_405_allow("GET", "/a", "POST");
    ck_assert_int_eq(turbo__router_remove(r, "POST", "/a"), TURBO_OK);
    ck_assert_int_eq(lookup("POST", "/a"), 404);
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/u/{id}"), TURBO_OK);
    ck_assert_int_eq(lookup("GET", "/u/1"), 404);
    add("GET", "/u/{id}"); /* and can be added again */
    ck_assert_routes_to("GET", "/u/1", "/u/{id}");
}
END_TEST

START_TEST(remove_matches_by_shape)
{
    add("GET", "/u/{id}/{rest...}");
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/u/{x}/{y...}"), TURBO_OK);
    ck_assert_int_eq(lookup("GET", "/u/1/2"), 404);
}
END_TEST

START_TEST(remove_errors)
{
    add("GET", "/a");
    ck_assert_int_eq(turbo__router_remove(r, "POST", "/a"), TURBO_ENOENT);
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/b"), TURBO_ENOENT);
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/a/"), TURBO_ENOENT);
    ck_assert_int_eq(turbo__router_remove(r, "G T", "/a"), TURBO_EINVAL);
    ck_assert_int_eq(turbo__router_remove(r, NULL, "/a"), TURBO_EINVAL);
    ck_assert_int_eq(turbo__router_remove(r, "GET", NULL), TURBO_EINVAL);
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/{"), TURBO_EPATTERN);
    ck_assert_routes_to("GET", "/a", "/a");
}
END_TEST

START_TEST(release_runs_once_when_the_table_reaching_it_is_retired)
{
    releases = 0;
    ck_assert_int_eq(turbo__router_add(r, "GET", "/a", handler_a, NULL, count_release), TURBO_OK);
    ck_assert_int_eq(turbo__router_add(r, "GET", "/b", handler_a, NULL, count_release), TURBO_OK);
    ck_assert_ptr_nonnull(turbo__router_table(r));
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/a"), TURBO_OK);
    ck_assert_int_eq(releases, 0); /* the current table still reaches it */
    ck_assert_ptr_nonnull(turbo__router_table(r));
    ck_assert_int_eq(releases, 1);
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/a"), TURBO_ENOENT);
    ck_assert_int_eq(releases, 1);
    turbo__router_free(r);
    r = NULL;
    ck_assert_int_eq(releases, 2);
}
END_TEST

START_TEST(commit_hands_back_the_replaced_table_and_removed_routes)
{
    releases = 0;
    ck_assert_int_eq(turbo__router_add(r, "GET", "/a", handler_a, "a", count_release), TURBO_OK);
    turbo__retired *g = NULL;
    ck_assert_int_eq(turbo__router_commit(r, &g), TURBO_OK);
    ck_assert_ptr_nonnull(g); /* the empty initial table */
    turbo__retired_free(g);
    const turbo__rtable *before = turbo__router_current(r);

    ck_assert_int_eq(turbo__router_remove(r, "GET", "/a"), TURBO_OK);
    ck_assert_int_eq(turbo__router_commit(r, &g), TURBO_OK);
    ck_assert_ptr_nonnull(g);
    ck_assert_ptr_eq(g->table, before);
    /* A reader that loaded the old table before the commit still finds
     * the removed route in it, and nothing has been released. */
    turbo__match old;
    ck_assert_int_eq(turbo__rtable_match(g->table, s("GET"), s("/a"), &old), 200);
    ck_assert_str_eq((const char *)old.user_data, "a");
    ck_assert_int_eq(releases, 0);
    ck_assert_int_eq(lookup("GET", "/a"), 404);
    turbo__retired_free(g);
    ck_assert_int_eq(releases, 1);

    ck_assert_int_eq(turbo__router_commit(r, &g), TURBO_OK);
    ck_assert_ptr_null(g); /* nothing changed since */
}
END_TEST

START_TEST(rollback_undoes_one_add_without_release)
{
    releases = 0;
    ck_assert_int_eq(turbo__router_add(r, "GET", "/a", handler_a, "a", count_release), TURBO_OK);
    ck_assert_ptr_nonnull(turbo__router_table(r));
    ck_assert_int_eq(turbo__router_add(r, "GET", "/b", handler_b, "b", count_release), TURBO_OK);
    turbo__router_rollback(r);
    ck_assert_int_eq(releases, 0);
    ck_assert_int_eq(lookup("GET", "/b"), 404);
    ck_assert_int_eq(lookup("GET", "/a"), 200);
    /* The slot is free again. */
    ck_assert_int_eq(turbo__router_add(r, "GET", "/b", handler_b, "b", count_release), TURBO_OK);
    ck_assert_int_eq(lookup("GET", "/b"), 200);
}
END_TEST

START_TEST(rollback_undoes_one_remove_without_release)
{
    releases = 0;
    ck_assert_int_eq(turbo__router_add(r, "GET", "/a/{x}", handler_a, "a", count_release), TURBO_OK);
    ck_assert_ptr_nonnull(turbo__router_table(r));
    ck_assert_int_eq(turbo__router_remove(r, "GET", "/a/{y}"), TURBO_OK);
    turbo__router_rollback(r);
    ck_assert_int_eq(releases, 0);
    ck_assert_int_eq(lookup("GET", "/a/1"), 200);
    ck_assert_str_eq((const char *)m.user_data, "a");
    turbo__router_free(r);
    r = NULL;
    ck_assert_int_eq(releases, 1);
}
END_TEST

START_TEST(release_runs_once_per_route_on_free)
{
    releases = 0;
    int tag[3];
    ck_assert_int_eq(turbo__router_add(r, "GET", "/a", handler_a, &tag[0], count_release), TURBO_OK);
    ck_assert_int_eq(turbo__router_add(r, "GET", "/b/{x}", handler_a, &tag[1], count_release),
                     TURBO_OK);
    ck_assert_int_eq(turbo__router_add(r, "PUT", "/b/{x}", handler_a, &tag[2], count_release),
                     TURBO_OK);
    ck_assert_int_eq(turbo__router_add(r, "DELETE", "/c", handler_a, NULL, NULL), TURBO_OK);
    ck_assert_int_eq(releases, 0);
    turbo__router_free(r);
    r = NULL;
    ck_assert_int_eq(releases, 3);
}
END_TEST

START_TEST(failed_add_does_not_release_or_change_anything)
{
    releases = 0;
    ck_assert_int_eq(turbo__router_add(r, "GET", "/a", handler_a, "first", count_release), TURBO_OK);
    ck_assert_int_eq(turbo__router_add(r, "GET", "/a", handler_b, "dup", count_release), TURBO_EEXIST);
    ck_assert_int_eq(turbo__router_add(r, "GET", "/{", handler_b, "bad", count_release),
                     TURBO_EPATTERN);
    ck_assert_int_eq(turbo__router_add(r, "G T", "/b", handler_b, "bad", count_release),
                     TURBO_EINVAL);
    ck_assert_int_eq(releases, 0);
    ck_assert_int_eq(lookup("GET", "/a"), 200);
    ck_assert_ptr_eq(m.fn, handler_a);
    ck_assert_str_eq((const char *)m.user_data, "first");
    ck_assert_int_eq(lookup("GET", "/b"), 404);
    turbo__router_free(r);
    r = NULL;
    ck_assert_int_eq(releases, 1);
}
END_TEST

START_TEST(old_table_free_accepts_null)
{
    turbo__rtable_free(NULL);
}
END_TEST

/* ------------------------------------------------------------------------
 * Scale
 * --------------------------------------------------------------------- */

START_TEST(ten_thousand_routes_are_all_found)
{
    enum { N = 10000 };
    char buf[64];
    for (int i = 0; i < N; i++) {
        if (i % 2)
            sprintf(buf, "/api/r%d/{id}/items", i);
        else
            sprintf(buf, "/exact/r%d/items", i);
        ck_assert_int_eq(turbo__router_add(r, i % 3 ? "GET" : "POST", buf, handler_a,
                                           (void *)(intptr_t)i, NULL),
                         TURBO_OK);
    }
    for (int i = 0; i < N; i++) {
        if (i % 2)
            sprintf(buf, "/api/r%d/v%d/items", i, i);
        else
            sprintf(buf, "/exact/r%d/items", i);
        const char *method = i % 3 ? "GET" : "POST";
        ck_assert_int_eq(lookup(method, buf), 200);
        ck_assert_int_eq((int)(intptr_t)m.user_data, i);
        if (i % 2) {
            char want[16];
            sprintf(want, "v%d", i);
            ck_assert_slice(m.params[0], want);
        }
        ck_assert_int_eq(lookup(i % 3 ? "POST" : "GET", buf), 405);
    }
    ck_assert_int_eq(lookup("GET", "/api/r1/x/other"), 404);
    ck_assert_int_eq(lookup("GET", "/exact/r1/items"), 404);
}
END_TEST

static Suite *router_suite(void)
{
    Suite *su = suite_create("router");
    TCase *tc = tcase_create("router");
    tcase_add_checked_fixture(tc, setup, teardown);

    tcase_add_loop_test(tc, lookup_finds_what_the_case_specifies, 0,
                        (int)(sizeof(routing) / sizeof(routing[0])));
    tcase_add_test(tc, params_are_extracted_with_names_and_values);
    tcase_add_test(tc, allow_union_longer_than_buffer_lists_every_method);
    tcase_add_test(tc, explicit_head_route_wins_over_get);

    tcase_add_test(tc, invalid_method_is_einval);
    tcase_add_test(tc, null_pattern_or_handler_is_einval);
    tcase_add_test(tc, malformed_patterns_are_epattern);
    tcase_add_test(tc, wellformed_edge_patterns_are_accepted);
    tcase_add_test(tc, same_method_and_shape_is_eexist);
    tcase_add_test(tc, param_count_limit_is_64);

    tcase_add_test(tc, removed_route_is_no_longer_found);
    tcase_add_test(tc, remove_matches_by_shape);
    tcase_add_test(tc, remove_errors);
    tcase_add_test(tc, release_runs_once_when_the_table_reaching_it_is_retired);
    tcase_add_test(tc, commit_hands_back_the_replaced_table_and_removed_routes);
    tcase_add_test(tc, rollback_undoes_one_add_without_release);
    tcase_add_test(tc, rollback_undoes_one_remove_without_release);
    tcase_add_test(tc, release_runs_once_per_route_on_free);
    tcase_add_test(tc, failed_add_does_not_release_or_change_anything);
    tcase_add_test(tc, old_table_free_accepts_null);
    suite_add_tcase(su, tc);

    /* Every add rebuilds the table, so adding 10,000 routes one by one is
     * quadratic: seconds, and much longer under sanitizers. */
    TCase *scale = tcase_create("scale");
    tcase_add_checked_fixture(scale, setup, teardown);
    tcase_set_timeout(scale, 300);
    tcase_add_test(scale, ten_thousand_routes_are_all_found);
    suite_add_tcase(su, scale);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(router_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
