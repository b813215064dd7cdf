/*
 * Private structures shared by the library's files. Nothing here is ABI.
 *
 * Ownership: a turbo_server owns its I/O threads (turbo__thread); each
 * thread owns its event_base, listening socket, connections, arena,
 * buffer pool, Date cache, counters and the one turbo_request /
 * turbo_response pair that its handlers see. Only the route table is
 * read by several threads.
 */
#ifndef TURBO_INTERNAL_H
#define TURBO_INTERNAL_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <ck_epoch.h>
#include <ck_pr.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "turbo/turbo.h"

#include "arena.h"
#include "bufpool.h"
#include "clock.h"
#include "date.h"
#include "parse.h"
#include "router.h"
#include "sync.h"
#include "vec.h"

#define TURBO__SERVER_NAME_MAX 255

struct turbo_config {
    unsigned threads;
    int run_on_caller;
    char server_name[TURBO__SERVER_NAME_MAX + 1];
    size_t max_header_bytes;
    size_t max_headers;
    size_t max_uri_bytes;
    uint64_t max_body_bytes;
    unsigned header_timeout_ms;
    unsigned idle_timeout_ms;
    unsigned body_timeout_ms;
    unsigned write_timeout_ms;
    unsigned max_connections;
    int backlog;
};

void turbo__config_defaults(turbo_config *cfg);

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

typedef struct turbo__conn turbo__conn;
typedef struct turbo__thread turbo__thread;

struct turbo_request {
    turbo__thread *thread;
    turbo__conn *conn;
    const turbo__head *head;
    turbo_str method; /* what the handler sees: the method as sent */
    turbo_str body;
    const turbo__match *match;
    turbo_str remote_addr; /* formatted on first use */
};

struct turbo_response {
    turbo__thread *thread;
    int status;
    turbo__vec headers; /* serialized "Name: value\r\n" lines */
    turbo__vec body;    /* copied body */
    const void *ref;    /* body by reference, when set */
    size_t ref_len;
    turbo_free_fn ref_free;
    void *ref_ctx;
    unsigned has_date : 1, has_server : 1, close : 1;
    unsigned invalid : 1; /* the handler tried something unsendable: 500 */
};

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
    int wake_fd;            /* eventfd: stop requests */
    struct event wake_ev;
    struct event sweep_ev; /* timeouts */
    int stopping;
    int done;        /* stopping and no connection left: leave the loop */
    int in_section;  /* inside an epoch read section (this loop iteration) */
    _Alignas(64) ck_epoch_record_t epoch_rec; /* scanned by writers: own line */
    uint64_t now_ms; /* CLOCK_MONOTONIC_COARSE at the current callback */

    turbo__conn *conns;     /* open connections, doubly linked */
    unsigned nconns;
    turbo__conn *free_conns; /* recycled connection structs */
    unsigned nfree_conns;

    turbo__arena arena;
    turbo__bufpool pool;
    turbo__date date;
    turbo__header *headers; /* max_headers slots for the parser */
    turbo_request req;
    turbo_response res;
    turbo__match match;
    turbo__counters stats;
};

enum turbo__server_state {
    TURBO__NEW = 0,
    TURBO__LISTENING,
    TURBO__RUNNING,
    TURBO__STOPPED /* threads joined */
};

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
    int shared_fd;   /* inherited fd (not owned), or -1 */
    /* turbo_server_set_fallback(): set before start, read by I/O threads */
    turbo_handler fallback;
    void *fallback_data;
    int *listen_fds; /* nthreads owned SO_REUSEPORT sockets, or NULL */
    turbo__thread *threads;
    _Atomic int threads_ready; /* wake fds exist: stop may write to them */
    _Atomic int stop_requested;
};

/* listener.c */
int turbo__listen_bind(turbo_server *s, const char *host, int port);
void turbo__listen_close(turbo_server *s);
/* Drops s from turbo_server_stop_on_signal()'s table (signals.c); puts a
 * signal's previous disposition back when no server wants it any more. */
void turbo__signals_forget(turbo_server *s);
void turbo__accept_cb(evutil_socket_t fd, short what, void *arg);
/* At stop: accepts what waits in the thread's own listening socket, then
 * closes it (an inherited socket is left alone). */
void turbo__accept_drain(turbo__thread *t);

/* conn.c */
int turbo__conn_open(turbo__thread *t, int fd, const struct sockaddr *peer, socklen_t peerlen);
void turbo__conn_close(turbo__conn *c);
void turbo__conns_sweep(turbo__thread *t);
void turbo__conns_stop(turbo__thread *t);
void turbo__conns_free_all(turbo__thread *t);
/* Peer address as text (into arena a; a NULL: port only) and port. */
void turbo__conn_remote(const turbo__conn *c, turbo__arena *a, turbo_str *addr, int *port);

/* response.c */
void turbo__response_reset(turbo_response *res);
void turbo__response_release(turbo_response *res);
/* The canonical reason phrase of status, or "Unknown". */
const char *turbo__reason(int status, size_t *len);

/* thread.c */
int turbo__thread_setup(turbo_server *s, turbo__thread *t, unsigned index);
int turbo__thread_start(turbo__thread *t);
void turbo__thread_run(turbo__thread *t);
void turbo__thread_join(turbo__thread *t);
void turbo__thread_wake(turbo__thread *t);
void turbo__thread_teardown(turbo__thread *t);
/* The I/O thread running on the calling thread, or NULL. */
turbo__thread *turbo__current_thread(void);

/* Stopping and no connection left: leave the loop. */
static inline void turbo__thread_check_done(turbo__thread *t)
{
    if (t->stopping && t->nconns == 0) {
        t->done = 1;
        event_base_loopbreak(t->base);
    }
}

/* routes.c */
int turbo__routes_init(turbo_server *s);
/* Changes s->state under the writers' lock; to TURBO__RUNNING also
 * publishes the routes added so far (TURBO_ENOMEM: state unchanged). */
int turbo__routes_set_state(turbo_server *s, int state);
void turbo__routes_register(turbo_server *s, turbo__thread *t);
/* Frees what a grace period has made safe. block: wait for one. */
void turbo__routes_reclaim(turbo_server *s, int block);
void turbo__routes_destroy(turbo_server *s);

/* The table for this request: opens the thread's epoch section if this
 * loop iteration has not yet (server.c closes it before the loop waits
 * again), so everything the handler reaches stays alive until then. */
static inline const turbo__rtable *turbo__routes_enter(turbo__thread *t)
{
    if (!t->in_section) {
        ck_epoch_begin(&t->epoch_rec, NULL);
        t->in_section = 1;
    }
    return turbo__load_published(&t->server->table);
}

#endif
