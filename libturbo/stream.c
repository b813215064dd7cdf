/*
 * Streamed responses, the holder's side (turbo.h, "Streamed responses").
 * The holder of a deferred request starts its response and writes pieces
 * from any thread; the owning I/O thread frames them and sends them
 * (conn.c). On the owning thread, outside the request's own handler, that
 * happens at once; from anywhere else each operation is a message through
 * the owner's inbox, whose per-producer order keeps the pieces in order,
 * and the finish (a message too) after them.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "exchange.h"
#include "server.h"
#include "thread.h"

/* The owner may take the operation at once: it runs on the owning thread,
 * not inside x's own handler (x is parked only once the handler returns),
 * and no message an earlier holder pushed for x is still waiting (msgs:
 * acquire, pairing with the owner's release as it finishes each one). */
static int owner_direct(const turbo_deferred *x)
{
    turbo__thread *t = x->thread;
    return turbo__tls_thread == t && t->handling != x &&
           atomic_load_explicit(&x->s.msgs, memory_order_acquire) == 0;
}

static void push(turbo_deferred *x, turbo__smsg *m)
{
    atomic_fetch_add_explicit(&x->s.msgs, 1, memory_order_relaxed);
    turbo__thread *t = x->thread;
    /* As turbo__exchange_post: counted in while t is used. The push's
     * release publishes the holder's writes (the response, s.len, the
     * bytes, the body's reader) to the owner, whose take acquires. */
    atomic_fetch_add(&t->posters, 1);
    if (turbo__inbox_push(&t->inbox, &m->msg))
        turbo__inbox_wake(t->wake_fd);
    atomic_fetch_sub_explicit(&t->posters, 1, memory_order_release);
}

static int submit(turbo_deferred *x, int start, const void *data, size_t len)
{
    if (owner_direct(x)) {
        if (start)
            turbo__conn_stream_start(x);
        else
            turbo__conn_stream_data(x, data, len);
        return TURBO_OK;
    }
    turbo__smsg *m = malloc(sizeof(*m) + len);
    if (m == NULL)
        return TURBO_ENOMEM;
    m->msg.kind = TURBO__MSG_STREAM;
    m->x = x;
    m->start = start;
    m->len = len;
    if (len != 0)
        memcpy(m->data, data, len);
    push(x, m);
    return TURBO_OK;
}

void turbo__stream_msg(turbo__msg *msg)
{
    turbo__smsg *m = (turbo__smsg *)msg;
    turbo_deferred *x = m->x;
    if (m->start == TURBO__SMSG_START)
        turbo__conn_stream_start(x);
    else if (m->start == TURBO__SMSG_BODY)
        turbo__conn_body_kick(x);
    else
        turbo__conn_stream_data(x, m->data, m->len);
    /* release: a holder that then finds msgs at 0 (owner_direct) sees
     * everything this message did. */
    atomic_fetch_sub_explicit(&x->s.msgs, 1, memory_order_release);
    free(m);
}

static int cancelled(const turbo_deferred *x)
{
    return atomic_load_explicit(&x->state, memory_order_acquire) == TURBO__X_CANCELLED;
}

int turbo_deferred_stream(turbo_deferred *x, uint64_t content_length)
{
    if (x == NULL)
        return TURBO_EINVAL;
    if (x->s.started || cancelled(x))
        return TURBO_ESTATE;
    x->s.started = 1;
    x->s.len = content_length;
    int rc = submit(x, 1, NULL, 0);
    if (rc != TURBO_OK)
        x->s.started = 0;
    return rc;
}

int turbo_deferred_write(turbo_deferred *x, const void *data, size_t len)
{
    if (x == NULL || (data == NULL && len != 0))
        return TURBO_EINVAL;
    if (!x->s.started || cancelled(x))
        return TURBO_ESTATE;
    if (len == 0)
        return TURBO_OK;
    /* Only the holder adds to written: its own view is exact. */
    uint64_t w = atomic_load_explicit(&x->s.written, memory_order_relaxed);
    if (x->s.len != TURBO_LENGTH_UNKNOWN && (len > x->s.len || w > x->s.len - len))
        return TURBO_ERANGE;
    const turbo_config *cfg = &x->thread->server->cfg;
    /* acquire: pairs with the owner's release in stream_progress. */
    uint64_t gone = atomic_load_explicit(&x->s.gone, memory_order_acquire);
    int full = w + len - gone > cfg->write_high;
    /* Both before the piece reaches the owner (the push or the direct
     * call below), so the owner that frames it sees the flag and the
     * count: a drain it must call for is never missed. */
    if (full)
        atomic_store_explicit(&x->s.want_drain, 1, memory_order_relaxed);
    atomic_store_explicit(&x->s.written, w + len, memory_order_release);
    int rc = submit(x, 0, data, len);
    if (rc != TURBO_OK) {
        atomic_store_explicit(&x->s.written, w, memory_order_relaxed);
        return rc;
    }
    return full ? TURBO_FULL : TURBO_OK;
}

void turbo_deferred_on_drain(turbo_deferred *x, turbo_drain_fn cb, void *ud)
{
    if (x == NULL)
        return;
    atomic_store_explicit(&x->s.drain_ud, ud, memory_order_relaxed);
    atomic_store_explicit(&x->s.drain_cb, cb, memory_order_release); /* ud first */
}

uint64_t turbo_deferred_queued(const turbo_deferred *x)
{
    if (x == NULL)
        return 0;
    uint64_t w = atomic_load_explicit(&x->s.written, memory_order_relaxed);
    uint64_t g = atomic_load_explicit(&x->s.gone, memory_order_acquire);
    return w > g ? w - g : 0;
}

int turbo_deferred_abort(turbo_deferred *x)
{
    if (x == NULL)
        return TURBO_EINVAL;
    x->s.aborted = 1; /* published to the owner by the finish */
    return turbo_deferred_finish(x);
}

/* ---- streamed request bodies -------------------------------------------- */

/* The owner takes the body's ask or resume from its inbox, always: the
 * reader's callback then never runs inside the call that asked for it,
 * nor inside a callback of the connection code. */
static int body_post(turbo_deferred *x)
{
    turbo__smsg *m = malloc(sizeof(*m));
    if (m == NULL)
        return TURBO_ENOMEM;
    m->msg.kind = TURBO__MSG_STREAM;
    m->x = x;
    m->start = TURBO__SMSG_BODY;
    m->len = 0;
    push(x, m);
    return TURBO_OK;
}

int turbo_deferred_body(turbo_deferred *x, uint64_t max, turbo_body_fn cb, void *ud)
{
    if (x == NULL || cb == NULL)
        return TURBO_EINVAL;
    if (x->b.asked || cancelled(x))
        return TURBO_ESTATE;
    x->b.cb = cb;
    x->b.ud = ud;
    x->b.max = max;
    x->b.asked = 1;
    /* Inside its own handler on the owning thread: the connection takes
     * the ask once the handler has returned and x is parked (conn.c:
     * dispatch, handle_streamed). A message could outlive x, since a
     * handler that finishes before returning is answered inline. */
    if (turbo__tls_thread == x->thread && x->thread->handling == x) {
        /* The owner's own flag (b.asked is the holder's: another thread
         * holding x may be asking at the same time, by message). */
        x->b.asked_here = 1;
        return TURBO_OK;
    }
    int rc = body_post(x);
    if (rc != TURBO_OK)
        x->b.asked = 0;
    return rc;
}

int turbo_deferred_body_resume(turbo_deferred *x)
{
    if (x == NULL)
        return TURBO_EINVAL;
    if (!x->b.asked)
        return TURBO_ESTATE;
    /* One resume in flight at a time: the owner clears the flag as it
     * takes it (acq_rel: a resume after that one posts again). */
    if (atomic_exchange_explicit(&x->b.resume, 1, memory_order_acq_rel))
        return TURBO_OK;
    int rc = body_post(x);
    if (rc != TURBO_OK)
        atomic_store_explicit(&x->b.resume, 0, memory_order_relaxed);
    return rc;
}
