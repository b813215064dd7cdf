/*
 * Router lookup micro-benchmark (not a test). For 10, 100, 1000 and 10000
 * routes, half exact ("/exact/rN/items") and half with a parameter
 * ("/users/rN/{id}/posts"), prints the mean time of one
 * turbo__rtable_match() for a param path, an exact path and a 404.
 *
 *   gcc -std=c11 -O2 -Iinclude -Ilibturbo libturbo/router.c bench/router_bench.c -o router_bench
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "router.h"

static int handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)res, (void)ud;
    return 0;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Mean ns per lookup of `npaths` paths, round robin; sink defeats the
 * optimizer. */
static volatile size_t sink;
static double time_lookups(const turbo__rtable *t, const char *method, char paths[][64],
                           size_t npaths, int expect)
{
    turbo__match m;
    turbo_str meth = {method, strlen(method)};
    turbo_str p[64];
    for (size_t i = 0; i < npaths; i++)
        p[i] = (turbo_str){paths[i], strlen(paths[i])};
    const long iters = 2000000;
    for (long i = 0; i < iters / 10; i++) /* warm up */
        sink += (size_t)turbo__rtable_match(t, meth, p[i % npaths], &m);
    double t0 = now_ns();
    for (long i = 0; i < iters; i++) {
        int rc = turbo__rtable_match(t, meth, p[(size_t)i % npaths], &m);
        if (rc != expect) {
            fprintf(stderr, "unexpected %d for %s\n", rc, paths[(size_t)i % npaths]);
            return -1;
        }
        sink += m.nparams;
    }
    return (now_ns() - t0) / (double)iters;
}

int main(void)
{
    static const int sizes[] = {10, 100, 1000, 10000};
    printf("%8s %14s %14s %14s %12s\n", "routes", "param ns", "exact ns", "404 ns", "build s");
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        int n = sizes[s];
        turbo__router *r = turbo__router_new();
        char buf[64];
        double b0 = now_ns();
        for (int i = 0; i < n; i++) {
            if (i % 2)
                snprintf(buf, sizeof buf, "/users/r%d/{id}/posts", i);
            else
                snprintf(buf, sizeof buf, "/exact/r%d/items", i);
            if (turbo__router_add(r, "GET", buf, handler, NULL, NULL) != TURBO_OK)
                return 1;
        }
        double build = (now_ns() - b0) / 1e9;
        const turbo__rtable *t = turbo__router_table(r);

        enum { NP = 64 };
        char param[NP][64], exact[NP][64], miss[NP][64];
        for (int i = 0; i < NP; i++) {
            int k = (i * 7919) % n; /* spread over the table */
            snprintf(param[i], 64, "/users/r%d/%d/posts", k | 1, 100 + i);
            snprintf(exact[i], 64, "/exact/r%d/items", k & ~1);
            snprintf(miss[i], 64, "/users/r%d/%d/comments", k | 1, 100 + i);
        }
        double tp = time_lookups(t, "GET", param, NP, 200);
        double te = time_lookups(t, "GET", exact, NP, 200);
        double tm = time_lookups(t, "GET", miss, NP, 404);
        printf("%8d %14.1f %14.1f %14.1f %12.3f\n", n, tp, te, tm, build);
        turbo__router_free(r);
    }
    return 0;
}
