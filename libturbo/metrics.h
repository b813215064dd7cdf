/*
 * Per-thread metrics for the built-in Prometheus route
 * (turbo_config_set_metrics_path): answers by status class, requests in
 * flight, a latency histogram. Off by default; off, the request path
 * pays one predictable branch in dispatch and one per answer (conn.c).
 *
 * Memory ordering. Each counter is written by its own I/O thread only,
 * with a relaxed load and a relaxed store (no read-modify-write, no
 * lock: the same as the thread's other counters, thread.h), and read by
 * whichever thread serves the metrics request, with relaxed loads. Each
 * value read is one the owner wrote (64-bit atomics do not tear); the
 * values of one scrape are not a consistent cut across counters or
 * threads, which Prometheus counters never need: every counter only
 * grows, so a later scrape never sees less. Gauges derived from two
 * counters (begun - ended) are clamped at 0 for the same reason.
 */
#ifndef TURBO_METRICS_H
#define TURBO_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Upper bounds of the latency histogram's buckets, in microseconds; one
 * more bucket (+Inf) follows. */
#define TURBO__METRICS_BUCKETS 12
static const uint64_t turbo__metrics_bounds_us[TURBO__METRICS_BUCKETS - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000, 10000000};

typedef struct turbo__metrics {
    _Atomic uint64_t begun;        /* requests dispatched to a handler or the fallback */
    _Atomic uint64_t ended;        /* of those, answered or abandoned */
    _Atomic uint64_t classes[5];   /* answers by status class 1xx..5xx (rejects too) */
    _Atomic uint64_t buckets[TURBO__METRICS_BUCKETS]; /* latency, not cumulative */
    _Atomic uint64_t sum_ns;       /* total latency of the observed answers */
    _Atomic uint64_t deferred_live; /* deferred requests held, published by the sweep */
} turbo__metrics;

#define TURBO__METRIC_ADD(field, n)                                                                \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),   \
                          memory_order_relaxed)

/* CLOCK_MONOTONIC in ns, never 0 (0 means "not timed"). */
static inline uint64_t turbo__metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 1;
}

/* A request is dispatched: its start time for *t0. */
static inline void turbo__metrics_begin(turbo__metrics *m, uint64_t *t0)
{
    *t0 = turbo__metrics_now();
    TURBO__METRIC_ADD(m->begun, 1);
}

/* An answer with this status is queued; *t0: its request's start, or 0
 * for an answer to no dispatched request (a refused one). Clears *t0. */
static inline void turbo__metrics_answer(turbo__metrics *m, int status, uint64_t *t0)
{
    if (status >= 100 && status <= 599)
        TURBO__METRIC_ADD(m->classes[status / 100 - 1], 1);
    if (*t0 == 0)
        return;
    uint64_t ns = turbo__metrics_now() - *t0;
    uint64_t us = ns / 1000;
    unsigned b = 0;
    while (b < TURBO__METRICS_BUCKETS - 1 && us > turbo__metrics_bounds_us[b])
        b++;
    TURBO__METRIC_ADD(m->buckets[b], 1);
    TURBO__METRIC_ADD(m->sum_ns, ns);
    TURBO__METRIC_ADD(m->ended, 1);
    *t0 = 0;
}

/* A dispatched request is released without an answer (a deferred one
 * whose client left): it is no longer in flight. Clears *t0. */
static inline void turbo__metrics_abandon(turbo__metrics *m, uint64_t *t0)
{
    if (*t0 == 0)
        return;
    TURBO__METRIC_ADD(m->ended, 1);
    *t0 = 0;
}

#endif
