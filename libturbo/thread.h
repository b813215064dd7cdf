/*
 * One I/O thread: its state, and its life (thread.c).
 *
 * Each thread owns its event_base, listening socket, connections, arena,
 * buffer pool, Date cache, counters and the one turbo_request /
 * turbo_response pair that its handlers see. Nothing here is shared with
 * another I/O thread except the epoch record, which route writers scan.
 *
 * The state is what conn.c, listener.c and routes.c work on; the life
 * (setup, start, the loop, wake, join, teardown) is called by server.c
 * only.
 */
#ifndef TURBO_THREAD_H
#define TURBO_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <ck_epoch.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "turbo/turbo.h"

#include "arena.h"
#include "bufpool.h"
#include "alog.h"
#include "date.h"
#include "exchange.h"
#include "inbox.h"
#include "metrics.h"
#include "parse.h"
#include "request.h"
#include "response.h"
#include "router.h"

typedef struct turbo__conn turbo__conn;

/* Per-thread counters: written by their thread only (relaxed load+store, no
 * read-modify-write), summed by turbo_server_stat(). */
typedef struct turbo__counters {
    _Atomic uint64_t accepted, open, requests, bad_requests, handler_errors, refused, timeouts, writes;
} turbo__counters;

#define TURBO__COUNT(t, field) \
    atomic_store_explicit(&(t)->stats.field, \
                          atomic_load_explicit(&(t)->stats.field, memory_order_relaxed) + 1, \
                          memory_order_relaxed)
#define TURBO__UNCOUNT(t, field) \
    atomic_store_explicit(&(t)->stats.field, \
                          atomic_load_explicit(&(t)->stats.field, memory_order_relaxed) - 1, \
                          memory_order_relaxed)

struct turbo__thread {
    turbo_server *server;
    unsigned index;
    pthread_t tid;
    int started;
    struct event_base *base;
    int listen_fd;
    struct event listen_ev;
    int listen_paused;
    struct event resume_ev; /* re-enables accept after EMFILE */
    int wake_fd;            /* eventfd: stop requests, the inbox */
    struct event wake_ev;
    struct event sweep_ev; /* timeouts */
    int stopping;
    int done;        /* stopping, no connection and no deferred request left */
    int in_section;  /* inside an epoch read section (this loop iteration) */
    _Alignas(64) ck_epoch_record_t epoch_rec; /* scanned by writers: own line */
    uint64_t now_ms; /* CLOCK_MONOTONIC_COARSE at the current callback */

    turbo__conn *conns;     /* open connections, doubly linked */
    unsigned nconns;
    turbo__conn *dirty;      /* streamed bytes queued this iteration (conn.c) */
    turbo__conn *free_conns; /* recycled connection structs */
    unsigned nfree_conns;

    turbo__bufpool pool;
    turbo__date date;
    turbo__alog alog; /* the access log's lines (alog.h) */
    turbo__header *headers; /* max_headers slots for the parser */
    turbo_deferred *cur;    /* the exchange the next inline request uses */
    turbo_deferred *handling; /* whose handler runs now, or NULL (this thread only) */
    int in_callback;          /* a cancel callback runs now (this thread only) */
    int pool_queued;          /* queued to the blocking pool this iteration */
    turbo_deferred *free_x; /* recycled exchanges */
    unsigned nfree_x;
    unsigned nlive;         /* deferred exchanges not released yet */
    struct turbo_loop {
        turbo__thread *thread;
        void *data;                 /* turbo_loop_set_data() */
        struct turbo_watch *watches; /* live watches and timers, freed with */
        struct turbo_timer *timers;  /* the thread if the program did not */
    } loop;                 /* what turbo_request_loop() hands out */
    turbo__counters stats;
    int metrics_on;          /* a metrics route exists: count (metrics.h) */
    int answer_hooks;        /* metrics_on, or an access log: conn.c's one branch */
    turbo__metrics metrics;  /* read by the metrics route, any thread */
    /* Filled by other threads (exchange.h, loop.c): its own cache line. */
    turbo__inbox inbox;
    /* turbo_loop_post() against the thread leaving its loop: a poster
     * counts itself in (posters), then checks closed; the thread sets
     * closed, then waits for posters to reach 0, then runs what was
     * posted. Both sides are seq_cst, so at least one of them sees the
     * other: a post either runs or is refused, never lost. */
    _Atomic unsigned posters;
    _Atomic int closed;
};

/* Called by server.c only. */

/* Readies thread index of s, on the calling thread: base, wake fd,
 * listening and sweep events, buffers. On an error, turbo__thread_teardown()
 * frees what was made. */
int turbo__thread_setup(turbo_server *s, turbo__thread *t, unsigned index);
/* Runs turbo__thread_run() on a new thread; TURBO_ESYS if none could be
 * created. */
int turbo__thread_start(turbo__thread *t);
/* The thread's loop, on the calling thread, until it has stopped and its
 * last connection has closed. */
void turbo__thread_run(turbo__thread *t);
/* Waits for a started thread to end (nothing if it was not started). */
void turbo__thread_join(turbo__thread *t);
/* Makes the thread look at s->stop_requested: one write(2) to its wake
 * fd, so async-signal-safe. */
void turbo__thread_wake(turbo__thread *t);
void turbo__thread_teardown(turbo__thread *t);

/* For the layers below: once the thread is stopping, its last connection
 * has closed and every deferred request's holder has finished, leave the
 * loop. */
static inline void turbo__thread_check_done(turbo__thread *t)
{
    if (t->stopping && t->nconns == 0 && t->nlive == 0) {
        t->done = 1;
        event_base_loopbreak(t->base);
    }
}

#endif
