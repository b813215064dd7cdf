/*
 * The built-in health and metrics routes (turbo_config_set_health_path,
 * turbo_config_set_metrics_path): plain routes added to the server's
 * table at turbo_server_new(), whose handlers read every I/O thread's
 * counters (thread.h, metrics.h) without a lock. The metrics text is the
 * Prometheus exposition format, version 0.0.4.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_routes.h"
#include "server.h"
#include "thread.h"

/* "ok" while serving, 503 "stopping" once a stop was asked for: a load
 * balancer's health check takes the server out of rotation while it
 * drains the requests it still has. */
static int health(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    turbo_server *s = ud;
    static const char ct[] = "text/plain; charset=utf-8";
    turbo_response_header(res, "Content-Type", 12, ct, sizeof(ct) - 1);
    turbo_response_header(res, "Cache-Control", 13, "no-store", 8);
    if (atomic_load_explicit(&s->stop_requested, memory_order_relaxed)) {
        turbo_response_status(res, 503);
        return turbo_response_body(res, "stopping\n", 9);
    }
    return turbo_response_body(res, "ok\n", 3);
}

typedef struct text {
    turbo_response *res;
    int failed;
} text;

static void __attribute__((format(printf, 2, 3))) put(text *t, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(line) ||
        turbo_response_append(t->res, line, (size_t)n) != TURBO_OK)
        t->failed = 1;
}

static uint64_t load(const _Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

/* The kernel's ListenDrops (TcpExt, /proc/net/netstat): connections this
 * network namespace dropped at a full accept queue, any socket's. -1 when
 * it cannot be read. */
static long long listen_drops(void)
{
    FILE *f = fopen("/proc/net/netstat", "re");
    if (f == NULL)
        return -1;
    char names[4096], values[4096];
    long long found = -1;
    while (found < 0 && fgets(names, sizeof(names), f) != NULL &&
           fgets(values, sizeof(values), f) != NULL) {
        if (strncmp(names, "TcpExt:", 7) != 0 || strncmp(values, "TcpExt:", 7) != 0)
            continue;
        char *sn, *sv;
        char *n = strtok_r(names + 7, " \n", &sn);
        char *v = strtok_r(values + 7, " \n", &sv);
        for (; n != NULL && v != NULL;
             n = strtok_r(NULL, " \n", &sn), v = strtok_r(NULL, " \n", &sv))
            if (strcmp(n, "ListenDrops") == 0)
                found = strtoll(v, NULL, 10);
    }
    fclose(f);
    return found;
}

static void counter(text *t, const char *name, const char *help, uint64_t v)
{
    put(t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

static void gauge(text *t, const char *name, const char *help, uint64_t v)
{
    put(t, "# HELP %s %s\n# TYPE %s gauge\n%s %llu\n", name, help, name, name,
        (unsigned long long)v);
}

static int metrics(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    turbo_server *s = ud;
    text t = {res, 0};
    uint64_t classes[5] = {0}, buckets[TURBO__METRICS_BUCKETS] = {0};
    uint64_t begun = 0, ended = 0, sum_ns = 0, deferred = 0;
    uint64_t accepted = 0, open = 0, refused = 0, bad = 0, errors = 0, timeouts = 0;
    for (unsigned i = 0; i < s->nthreads; i++) {
        const turbo__metrics *m = &s->threads[i].metrics;
        const turbo__counters *c = &s->threads[i].stats;
        for (int k = 0; k < 5; k++)
            classes[k] += load(&m->classes[k]);
        for (int b = 0; b < TURBO__METRICS_BUCKETS; b++)
            buckets[b] += load(&m->buckets[b]);
        /* ended before begun: whatever ends between the two loads is
         * counted in begun too, so in flight never comes out negative
         * for one thread's own pair. */
        uint64_t e = load(&m->ended);
        begun += load(&m->begun);
        ended += e;
        sum_ns += load(&m->sum_ns);
        deferred += load(&m->deferred_live);
        accepted += load(&c->accepted);
        open += load(&c->open);
        refused += load(&c->refused);
        bad += load(&c->bad_requests);
        errors += load(&c->handler_errors);
        timeouts += load(&c->timeouts);
    }
    put(&t, "# HELP turbo_requests_total Answers sent, by status class.\n"
            "# TYPE turbo_requests_total counter\n");
    for (int k = 0; k < 5; k++)
        put(&t, "turbo_requests_total{class=\"%dxx\"} %llu\n", k + 1,
            (unsigned long long)classes[k]);
    put(&t, "# HELP turbo_thread_requests_total Answers sent, by I/O thread.\n"
            "# TYPE turbo_thread_requests_total counter\n");
    for (unsigned i = 0; i < s->nthreads; i++)
        put(&t, "turbo_thread_requests_total{thread=\"%u\"} %llu\n", i,
            (unsigned long long)load(&s->threads[i].stats.requests));
    gauge(&t, "turbo_requests_in_flight",
          "Requests handed to a handler and not answered yet (this one included).",
          begun > ended ? begun - ended : 0);
    gauge(&t, "turbo_deferred_in_flight",
          "Deferred requests not finished yet (as of each thread's last sweep).", deferred);
    gauge(&t, "turbo_connections_open", "Connections open.", open);
    counter(&t, "turbo_connections_accepted_total", "Connections accepted.", accepted);
    counter(&t, "turbo_connections_refused_total",
            "Connections closed at once: the per-thread connection limit was reached.", refused);
    long long drops = listen_drops();
    if (drops >= 0)
        counter(&t, "turbo_listen_drops_total",
                "Connections the kernel dropped at a full accept queue (TcpExt ListenDrops: "
                "every socket of this network namespace).",
                (uint64_t)drops);
    counter(&t, "turbo_bad_requests_total", "Requests refused by the parser or a limit.", bad);
    counter(&t, "turbo_handler_errors_total", "Handler calls answered 500.", errors);
    counter(&t, "turbo_timeouts_total", "Connections closed by a timeout.", timeouts);
    put(&t, "# HELP turbo_request_duration_seconds From dispatch to the answer queued.\n"
            "# TYPE turbo_request_duration_seconds histogram\n");
    uint64_t cum = 0;
    for (int b = 0; b < TURBO__METRICS_BUCKETS; b++) {
        cum += buckets[b];
        if (b < TURBO__METRICS_BUCKETS - 1) {
            uint64_t us = turbo__metrics_bounds_us[b];
            put(&t, "turbo_request_duration_seconds_bucket{le=\"%llu.%06llu\"} %llu\n",
                (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000),
                (unsigned long long)cum);
        } else {
            put(&t, "turbo_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
        }
    }
    put(&t, "turbo_request_duration_seconds_sum %llu.%09llu\n",
        (unsigned long long)(sum_ns / 1000000000u), (unsigned long long)(sum_ns % 1000000000u));
    put(&t, "turbo_request_duration_seconds_count %llu\n", (unsigned long long)cum);
    if (t.failed)
        return TURBO_ENOMEM;
    static const char ct[] = "text/plain; version=0.0.4; charset=utf-8";
    turbo_response_header(res, "Content-Type", 12, ct, sizeof(ct) - 1);
    return turbo_response_header(res, "Cache-Control", 13, "no-store", 8);
}

int turbo__metrics_routes_add(turbo_server *s)
{
    int rc = TURBO_OK;
    if (s->cfg.health_path[0] != '\0')
        rc = turbo_route_add(s, "GET", s->cfg.health_path, health, s);
    if (rc == TURBO_OK && s->cfg.metrics_path[0] != '\0')
        rc = turbo_route_add(s, "GET", s->cfg.metrics_path, metrics, s);
    return rc;
}
