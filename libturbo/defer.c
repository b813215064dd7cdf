/*
 * Deferred completion, the public side (turbo.h, "Waiting without
 * blocking"): a handler defers its request, a holder finishes it from any
 * thread. The exchange (exchange.h) is the handle; the connection keeps the
 * request's place in its answers (conn.c) until the finish reaches the
 * owning thread.
 */
#include <stdatomic.h>

#include "conn.h"
#include "exchange.h"
#include "thread.h"

/* The calling thread is running x's handler: its I/O thread (which alone
 * writes t->handling, so only it may read it), or the pool thread running
 * it (turbo__handler_x). */
static int in_own_handler(const turbo_deferred *x)
{
    return (turbo__tls_thread == x->thread && x->thread->handling == x) ||
           turbo__handler_x == x;
}

turbo_deferred *turbo_defer(turbo_request *req, turbo_response *res)
{
    if (req == NULL || res == NULL)
        return NULL;
    turbo_deferred *x = turbo__exchange_of(req);
    /* Only from the request's own handler, on the thread running it. */
    if (res != &x->res || !in_own_handler(x))
        return NULL;
    if (x->blocking) { /* detached when it was queued */
        if (!x->holder_defers) {
            x->holder_defers = 1;
            atomic_fetch_add_explicit(&x->holds, 1, memory_order_relaxed); /* the holder's */
        }
        return x;
    }
    return turbo__conn_detach(x) == 0 ? x : NULL;
}

int turbo_deferred_finish(turbo_deferred *x)
{
    if (x == NULL)
        return TURBO_EINVAL;
    if (x->blocking) {
        /* Its pool run may still be inside the handler: the last of the
         * run and the holder sends it home (pool.c). */
        int expected = TURBO__X_PENDING;
        atomic_compare_exchange_strong_explicit(&x->state, &expected, TURBO__X_FINISHED,
                                                memory_order_acq_rel, memory_order_acquire);
        if (turbo__exchange_drop(x))
            turbo__exchange_post(x);
        return TURBO_OK;
    }
    if (in_own_handler(x) && !x->s.started) {
        /* Still inside its handler: answered when the handler returns,
         * as an inline request is. (A stream started in its handler went
         * to the inbox, and its finish follows it there.) */
        x->finished_inline = 1;
        return TURBO_OK;
    }
    turbo__thread *t = x->thread;
    if (turbo__tls_thread == t && t->handling == NULL && !t->in_callback &&
        atomic_load_explicit(&x->s.msgs, memory_order_acquire) == 0) {
        /* The owner, in a callback of its own loop: at once, no queue. */
        int expected = TURBO__X_PENDING;
        atomic_compare_exchange_strong_explicit(&x->state, &expected, TURBO__X_FINISHED,
                                                memory_order_relaxed, memory_order_relaxed);
        turbo__conn_finished(t, x);
        return TURBO_OK;
    }
    /* Another thread, or the owner inside a handler or a cancel callback
     * (which must not re-enter the connection code): through the inbox. */
    turbo__exchange_post(x);
    return TURBO_OK;
}

void turbo_deferred_on_cancel(turbo_deferred *x, turbo_cancel_fn cb, void *ud)
{
    if (x == NULL)
        return;
    atomic_store_explicit(&x->cancel_ud, ud, memory_order_relaxed);
    atomic_store_explicit(&x->cancel_cb, cb, memory_order_release); /* ud first */
}

int turbo_deferred_cancelled(const turbo_deferred *x)
{
    return x != NULL &&
           atomic_load_explicit(&x->state, memory_order_relaxed) == TURBO__X_CANCELLED;
}

turbo_request *turbo_deferred_request(turbo_deferred *x)
{
    return x != NULL ? &x->req : NULL;
}

turbo_response *turbo_deferred_response(turbo_deferred *x)
{
    return x != NULL ? &x->res : NULL;
}
