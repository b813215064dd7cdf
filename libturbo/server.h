/*
 * The server object behind the public API's opaque turbo_server: what
 * the layers below server.c read (the configuration, the parser's
 * limits, the published route table, the stop flag). Types only: the
 * functions that act on a server are the public turbo_server_* entry
 * points in server.c and each module's own turbo__ calls (routes.h,
 * listener.h, thread.h). Nothing below server.c calls into it.
 *
 * Ownership: a server owns its I/O threads (thread.h), its listening
 * sockets and its route table. Only the route table is read by several
 * threads; everything else a thread touches on the request path is its
 * own.
 */
#ifndef TURBO_SERVER_H
#define TURBO_SERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include <ck_epoch.h>

#include "turbo/turbo.h"

#include "config.h"
#include "parse.h"
#include "pool.h"
#include "router.h"

typedef struct turbo__thread turbo__thread;

enum turbo__server_state {
    TURBO__NEW = 0,
    TURBO__LISTENING,
    TURBO__RUNNING,
    TURBO__STOPPED /* threads joined */
};

/* Every TURBO_ROUTE_* flag a route or the fallback may have. */
#define TURBO__ROUTE_FLAGS (TURBO_ROUTE_BLOCKING | TURBO_ROUTE_STREAM_BODY)

struct turbo_server {
    turbo_config cfg;
    turbo__limits limits;
    unsigned nthreads;
    size_t buf_size; /* pool buffer size: a whole head fits in one */
    char server_line[TURBO__SERVER_NAME_MAX + 16]; /* "Server: x\r\n" or "" */
    size_t server_line_len;

    /* Routes (routes.c). Writers take write_lock; I/O threads read the
     * published table with ck_pr_load_ptr inside an epoch section and
     * never lock. Replaced tables are retired through writer_rec. */
    /* Each group on its own cache lines: readers load `table` and the
     * global epoch on every batch, and must not share a line with what
     * writers dirty on every change (the lock, the counters). */
    _Alignas(64) const turbo__rtable *table; /* published (sync.h) */
    _Alignas(64) ck_epoch_t epoch;
    _Alignas(64) pthread_mutex_t write_lock;
    turbo__router *router;
    ck_epoch_record_t writer_rec;     /* used under write_lock only */
    _Atomic unsigned retired_pending; /* retirements not yet reclaimed */
    turbo__retired *reclaimed;        /* grace period over, to free outside the lock */

    _Alignas(64) int state; /* from here on, off the writers' line */
    int port;
    int shared_fd;   /* inherited fd, or -1 */
    int shared_owned; /* turbo_server_adopt_fd(): drained and closed at stop */
    /* Threads that have not yet stopped accepting from an adopted fd: the
     * one that takes it to 0 closes the fd (listener.c). */
    _Atomic unsigned shared_users;
    /* turbo_server_set_fallback(): set before start, read by I/O threads */
    turbo_handler fallback;
    void *fallback_data;
    turbo_release_fn fallback_release; /* at free, or when replaced */
    unsigned fallback_flags;           /* TURBO_ROUTE_* */
    /* Some route (or the fallback) was ever added with
     * TURBO_ROUTE_STREAM_BODY: a request with a body is then matched as
     * soon as its head is in (conn.c). Only ever set, relaxed: a request
     * racing the add may still have its body buffered, which
     * turbo_deferred_body() serves as well. */
    _Atomic int stream_routes;
    int *listen_fds; /* nthreads owned SO_REUSEPORT sockets, or NULL */
    turbo__pool pool; /* TURBO_ROUTE_BLOCKING handlers (pool.c) */
    turbo__thread *threads;
    _Atomic int threads_ready; /* wake fds exist: stop may write to them */
    _Atomic int stop_requested;
};

#endif
