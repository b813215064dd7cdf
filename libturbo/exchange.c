/*
 * Exchanges (exchange.h): made, reset between inline requests, recycled
 * once a deferred one is done. A thread keeps up to KEEP_FREE of them, so
 * a steady flow of deferred requests allocates nothing either: each keeps
 * its arena blocks and response buffers across uses.
 */
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "bufpool.h"
#include "exchange.h"
#include "response.h"
#include "router.h"
#include "thread.h"

#define KEEP_FREE 64
#define ARENA_BLOCK 8192

turbo_deferred *turbo__exchange_new(turbo__thread *t)
{
    turbo_deferred *x = t->free_x;
    if (x != NULL) {
        t->free_x = x->next_free;
        t->nfree_x--;
        x->next_free = NULL;
        return x;
    }
    x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    turbo__arena_init(&x->arena, ARENA_BLOCK);
    x->thread = t;
    x->msg.kind = TURBO__MSG_FINISHED;
    x->req.thread = t;
    x->res.thread = t;
    x->res.status = 200;
    atomic_init(&x->state, TURBO__X_PENDING);
    return x;
}

static void destroy(turbo_deferred *x)
{
    turbo__vec_free(&x->s.pending);
    turbo__response_release(&x->res);
    turbo__arena_destroy(&x->arena);
    free(x);
}

void turbo__exchange_release(turbo__thread *t, turbo_deferred *x)
{
    if (x->b.asked && !x->b.ended) {
        /* A body reader's last call: the request ended before its body
         * did (turbo.h, turbo_body_fn). As the connection code runs its
         * callbacks: a finish from it goes through the inbox. */
        int outer = t->in_callback;
        t->in_callback = 1;
        x->b.ended = 1;
        x->b.cb(x, NULL, 0, TURBO_ESTATE, x->b.ud);
        t->in_callback = outer;
    }
    if (x->route != NULL)
        turbo__route_drop(x->route);
    if (x->in != NULL) {
        if (x->in_pooled)
            turbo__bufpool_put(&t->pool, x->in);
        else
            free(x->in);
    }
    turbo__exchange_reset(x); /* a body by reference is freed here */
    if (t->metrics_on) /* a deferred request that was never answered */
        turbo__metrics_abandon(&t->metrics, &x->req.t0_ns);
    memset(&x->req, 0, sizeof(x->req));
    x->req.thread = t;
    atomic_store_explicit(&x->state, TURBO__X_PENDING, memory_order_relaxed);
    x->deferred = x->in_pooled = x->stop_deadline = 0;
    x->finished_inline = x->holder_defers = x->blocking = 0;
    atomic_store_explicit(&x->holds, 0, memory_order_relaxed);
    x->rc = TURBO_OK;
    x->conn = NULL;
    x->route = NULL;
    atomic_store_explicit(&x->cancel_cb, NULL, memory_order_relaxed);
    atomic_store_explicit(&x->cancel_ud, NULL, memory_order_relaxed);
    x->in = NULL;
    /* The stream's state; its pending buffer keeps its memory for the next. */
    x->s.started = 0;
    x->s.aborted = 0;
    x->s.len = 0;
    atomic_store_explicit(&x->s.written, 0, memory_order_relaxed);
    atomic_store_explicit(&x->s.gone, 0, memory_order_relaxed);
    atomic_store_explicit(&x->s.want_drain, 0, memory_order_relaxed);
    atomic_store_explicit(&x->s.drain_cb, NULL, memory_order_relaxed);
    atomic_store_explicit(&x->s.drain_ud, NULL, memory_order_relaxed);
    x->s.begun = x->s.at_head = x->s.chunked = x->s.close_delimited = 0;
    x->s.discard = x->s.broken = 0;
    x->s.framed = 0;
    x->s.pending.len = 0;
    turbo__body_reset(&x->b);
    t->nlive--;
    if (t->nfree_x < KEEP_FREE) {
        x->next_free = t->free_x;
        t->free_x = x;
        t->nfree_x++;
    } else {
        destroy(x);
    }
}

void turbo__exchanges_free_all(turbo__thread *t)
{
    while (t->free_x != NULL) {
        turbo_deferred *next = t->free_x->next_free;
        destroy(t->free_x);
        t->free_x = next;
    }
    t->nfree_x = 0;
    if (t->cur != NULL)
        destroy(t->cur);
    t->cur = NULL;
}

_Thread_local turbo__thread *turbo__tls_thread;
_Thread_local turbo_deferred *turbo__handler_x;

void turbo__exchange_post(turbo_deferred *x)
{
    /* FINISHED unless the owner cancelled first; either way the owner
     * gets it back (to send, or only to release). The push's release
     * publishes the response built on this thread. */
    int expected = TURBO__X_PENDING;
    atomic_compare_exchange_strong_explicit(&x->state, &expected, TURBO__X_FINISHED,
                                            memory_order_acq_rel, memory_order_acquire);
    turbo__thread *t = x->thread;
    /* Counted in, so that the owner, which may release x and leave its
     * loop as soon as the push is visible, waits for this thread to be
     * done with t (thread.h: posters). */
    atomic_fetch_add(&t->posters, 1);
    int fd = t->wake_fd;
    if (turbo__inbox_push(&t->inbox, &x->msg))
        turbo__inbox_wake(fd);
    atomic_fetch_sub_explicit(&t->posters, 1, memory_order_release);
}

int turbo__exchange_drop(turbo_deferred *x)
{
    /* acq_rel: what each party did with x happens before the post. */
    return atomic_fetch_sub_explicit(&x->holds, 1, memory_order_acq_rel) == 1;
}
