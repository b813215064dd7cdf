/*
 * The blocking pool (pool.c): threads that run TURBO_ROUTE_BLOCKING
 * routes' handlers, fed by the I/O threads through a bounded lock-free
 * queue. A full queue is refused at once (the I/O thread answers 503): the
 * I/O thread never waits for the pool.
 */
#ifndef TURBO_POOL_H
#define TURBO_POOL_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>

#include "exchange.h"

typedef struct turbo__pool_cell {
    _Atomic size_t seq;
    turbo_deferred *x;
} turbo__pool_cell;

typedef struct turbo__pool {
    unsigned nthreads;  /* to start */
    unsigned max_queued;
    size_t mask;        /* cells - 1 (a power of two, >= max_queued) */
    turbo__pool_cell *cells;
    sem_t items;        /* wakes a sleeping thread (see pool.c) */
    pthread_mutex_t start_lock;
    pthread_t *threads;
    unsigned nstarted;
    _Atomic int started;  /* threads running (release by the starter) */
    _Atomic int stopping;
    _Atomic unsigned queued;
    _Atomic int sleeping; /* threads about to wait, or waiting, on items */
    _Alignas(64) _Atomic size_t enq; /* producers' position */
    _Alignas(64) _Atomic size_t deq; /* consumers' position */
} turbo__pool;

/* Sizes the pool; nothing runs yet. TURBO_OK or TURBO_ENOMEM. */
int turbo__pool_init(turbo__pool *p, unsigned nthreads, unsigned max_queued);
/* Queues x (already detached: exchange.h) for a pool thread, starting the
 * threads on first use. 0, or -1 when the queue is full or the threads
 * cannot start: answer 503. An I/O thread, never waiting. The thread is
 * woken by turbo__pool_wake(), once the I/O thread's batch is queued. */
int turbo__pool_submit(turbo__pool *p, turbo_deferred *x);
/* Wakes a sleeping pool thread, if any, for what was queued: the I/O
 * thread calls it once per loop iteration that queued something. */
void turbo__pool_wake(turbo__pool *p);
/* Lets the threads finish what is queued, then joins them. */
void turbo__pool_stop(turbo__pool *p);
void turbo__pool_destroy(turbo__pool *p);

#endif
