/*
 * Live route table lookups (not a test): ns per lookup through the path an
 * I/O thread takes — epoch section, published-pointer load, match — for
 * 10, 100, 1,000 and 10,000 routes (half exact "/exact/rN/items", half
 * "/usersN/{id}/posts"), looking up the 3-segment, one-parameter path
 * "/usersK/123/posts".
 *
 * Two runs per size: the reader alone, then with a writer thread adding
 * and removing a route in a loop (each change compiles and publishes a
 * new table and retires the old one). Reader pinned to CPU 0, writer to
 * CPU 1. Each lookup opens and closes its own section: the strictest
 * case (the server opens one per loop iteration, for a whole batch).
 *
 *   build-bench/bench/route_table_bench
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ck_epoch.h>

#include "router.h"
#include "server.h"
#include "sync.h"

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

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

typedef struct run {
    turbo_server *s;
    _Atomic int stop;
    long changes;
} run;

static void *writer(void *arg)
{
    run *r = arg;
    pin(1);
    while (!atomic_load(&r->stop)) {
        if (turbo_route_add(r->s, "GET", "/churn/{x}/z", handler, NULL) != TURBO_OK ||
            turbo_route_remove(r->s, "GET", "/churn/{x}/z") != TURBO_OK) {
            fprintf(stderr, "writer: route change failed\n");
            exit(1);
        }
        r->changes += 2;
    }
    return NULL;
}

static volatile size_t sink;

/* Mean ns of one lookup over `seconds`, with the I/O thread's protocol. */
static double lookups(turbo_server *s, ck_epoch_record_t *rec, size_t nparam, double seconds)
{
    char paths[64][64];
    turbo_str p[64];
    for (size_t i = 0; i < 64; i++) {
        snprintf(paths[i], sizeof(paths[i]), "/users%zu/123/posts", (i * 7919) % nparam);
        p[i] = (turbo_str){paths[i], strlen(paths[i])};
    }
    turbo_str get = {"GET", 3};
    turbo__match m;
    long n = 0;
    double start = now_ns(), end = start + seconds * 1e9, t;
    do {
        for (int k = 0; k < 4096; k++) {
            ck_epoch_begin(rec, NULL);
            const turbo__rtable *tab = turbo__load_published(&s->table);
            if (turbo__rtable_match(tab, get, p[k & 63], &m) != 200) {
                fprintf(stderr, "lookup of %s failed\n", paths[k & 63]);
                exit(1);
            }
            sink += m.params[0].len;
            ck_epoch_end(rec, NULL);
        }
        n += 4096;
        t = now_ns();
    } while (t < end);
    return (t - start) / (double)n;
}

int main(void)
{
    static const size_t sizes[] = {10, 100, 1000, 10000};
    printf("%8s %14s %18s %10s %16s\n", "routes", "alone ns", "writer churning ns", "ratio",
           "changes/s");
    for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        size_t n = sizes[si], nparam = n / 2;
        turbo_config *cfg = turbo_config_new();
        turbo_config_set_threads(cfg, 1);
        turbo_server *s = turbo_server_new(cfg);
        turbo_config_free(cfg);
        if (s == NULL || turbo_server_listen(s, "127.0.0.1", 0) != TURBO_OK)
            return 1;
        char pat[64];
        for (size_t i = 0; i < n - nparam; i++) {
            snprintf(pat, sizeof(pat), "/exact/r%zu/items", i);
            turbo_route_add(s, "GET", pat, handler, NULL);
        }
        for (size_t i = 0; i < nparam; i++) {
            snprintf(pat, sizeof(pat), "/users%zu/{id}/posts", i);
            turbo_route_add(s, "GET", pat, handler, NULL);
        }
        if (turbo_server_start(s) != TURBO_OK)
            return 1;
        /* Registered like an I/O thread's; it must outlive the server's
         * last reclamation, hence static storage. */
        static ck_epoch_record_t recs[4];
        ck_epoch_register(&s->epoch, &recs[si], NULL);

        pin(0);
        lookups(s, &recs[si], nparam, 0.2); /* warm-up */
        double alone = lookups(s, &recs[si], nparam, 1.0);
        run r = {s, 0, 0};
        pthread_t w;
        pthread_create(&w, NULL, writer, &r);
        double t0 = now_ns();
        double churn = lookups(s, &recs[si], nparam, 1.0);
        atomic_store(&r.stop, 1);
        pthread_join(w, NULL);
        double secs = (now_ns() - t0) / 1e9;
        printf("%8zu %14.1f %18.1f %10.2f %16.0f\n", n, alone, churn, churn / alone,
               (double)r.changes / secs);
        turbo_server_free(s);
    }
    return 0;
}
