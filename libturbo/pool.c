/*
 * The blocking pool. The queue is a bounded multi-producer multi-consumer
 * ring in which each cell carries a sequence number: a producer claims
 * position pos with a CAS on enq once its cell says "free for pos" (seq ==
 * pos), writes the pointer, then publishes it by storing seq = pos + 1
 * (release); a consumer claims pos with a CAS on deq once the cell says
 * "full for pos" (seq == pos + 1, acquire: the pointer, and everything the
 * I/O thread wrote into the exchange before queueing it, is visible), reads
 * the pointer and frees the cell for the next lap with seq = pos + size
 * (release). Neither side ever waits for the other inside the ring: a
 * producer that finds its cell still in use sees a full queue.
 *
 * Waking: an I/O thread queues a whole loop iteration's worth, then wakes
 * one sleeping thread (turbo__pool_wake); a thread that takes an item and
 * sees more behind it wakes one more, so a batch of quick handlers costs
 * one wake-up and a batch of slow ones spreads over the threads. A
 * thread going to sleep counts itself in `sleeping` and looks at the ring
 * once more; a waker queues, then reads `sleeping`: with a seq_cst fence
 * on each side, either the sleeper sees the item or the waker sees the
 * sleeper, so no item waits for a wake-up that never comes.
 *
 * Results go back to the owning I/O thread through its inbox (exchange.c),
 * never through a lock.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>

#include "exchange.h"
#include "pool.h"

int turbo__pool_init(turbo__pool *p, unsigned nthreads, unsigned max_queued)
{
    size_t size = 2;
    while (size < max_queued)
        size <<= 1;
    p->nthreads = nthreads;
    p->max_queued = max_queued;
    p->mask = size - 1;
    p->cells = calloc(size, sizeof(*p->cells));
    p->threads = calloc(nthreads, sizeof(*p->threads));
    if (p->cells == NULL || p->threads == NULL || sem_init(&p->items, 0, 0) != 0) {
        free(p->cells);
        free(p->threads);
        p->cells = NULL;
        p->threads = NULL;
        return TURBO_ENOMEM;
    }
    for (size_t i = 0; i < size; i++)
        atomic_init(&p->cells[i].seq, i);
    pthread_mutex_init(&p->start_lock, NULL);
    p->nstarted = 0;
    atomic_init(&p->started, 0);
    atomic_init(&p->stopping, 0);
    atomic_init(&p->queued, 0);
    atomic_init(&p->sleeping, 0);
    atomic_init(&p->enq, 0);
    atomic_init(&p->deq, 0);
    return TURBO_OK;
}

static int enqueue(turbo__pool *p, turbo_deferred *x)
{
    size_t pos = atomic_load_explicit(&p->enq, memory_order_relaxed);
    turbo__pool_cell *cell;
    for (;;) {
        cell = &p->cells[pos & p->mask];
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)pos;
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&p->enq, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return -1; /* a whole lap behind: full */
        } else {
            pos = atomic_load_explicit(&p->enq, memory_order_relaxed);
        }
    }
    cell->x = x;
    atomic_store_explicit(&cell->seq, pos + 1, memory_order_release);
    return 0;
}

static turbo_deferred *dequeue(turbo__pool *p)
{
    size_t pos = atomic_load_explicit(&p->deq, memory_order_relaxed);
    turbo__pool_cell *cell;
    for (;;) {
        cell = &p->cells[pos & p->mask];
        size_t seq = atomic_load_explicit(&cell->seq, memory_order_acquire);
        intptr_t dif = (intptr_t)seq - (intptr_t)(pos + 1);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&p->deq, &pos, pos + 1,
                                                      memory_order_relaxed, memory_order_relaxed))
                break;
        } else if (dif < 0) {
            return NULL; /* empty */
        } else {
            pos = atomic_load_explicit(&p->deq, memory_order_relaxed);
        }
    }
    turbo_deferred *x = cell->x;
    atomic_store_explicit(&cell->seq, pos + p->mask + 1, memory_order_release);
    return x;
}

/* One blocking request: its handler, then its result to the owner. A
 * request cancelled while it waited (client gone, timeout, stop) is not
 * run. */
static void run(turbo_deferred *x)
{
    if (atomic_load_explicit(&x->state, memory_order_acquire) != TURBO__X_CANCELLED) {
        turbo__handler_x = x;
        int rc = x->match.fn(&x->req, &x->res, x->match.user_data);
        turbo__handler_x = NULL;
        if (rc == TURBO_DEFER)
            rc = x->holder_defers ? TURBO_OK : TURBO_EHANDLER;
        x->rc = rc; /* an error after turbo_defer: the holder's answer is a 500 */
    }
    /* This run's hold; the holder's, if the handler deferred x, is dropped
     * by its finish. The last one sends x home. x is not touched after. */
    if (turbo__exchange_drop(x))
        turbo__exchange_post(x);
}

static int ring_empty(turbo__pool *p)
{
    return atomic_load_explicit(&p->queued, memory_order_relaxed) == 0;
}

static void *pool_main(void *arg)
{
    turbo__pool *p = arg;
    for (;;) {
        turbo_deferred *x = dequeue(p);
        if (x == NULL) {
            if (atomic_load_explicit(&p->stopping, memory_order_acquire))
                return NULL;
            atomic_fetch_add(&p->sleeping, 1);
            atomic_thread_fence(memory_order_seq_cst);
            x = dequeue(p);
            if (x == NULL && ring_empty(p)) {
                while (sem_wait(&p->items) != 0 && errno == EINTR)
                    ;
                atomic_fetch_sub(&p->sleeping, 1);
                continue;
            }
            atomic_fetch_sub(&p->sleeping, 1);
            if (x == NULL) { /* a producer between its claim and its publish */
                sched_yield();
                continue;
            }
        }
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
        if (!ring_empty(p) && atomic_load(&p->sleeping) > 0)
            sem_post(&p->items); /* more behind it: a helper */
        run(x);
    }
    return NULL;
}

void turbo__pool_wake(turbo__pool *p)
{
    atomic_thread_fence(memory_order_seq_cst); /* the queued items, then sleeping */
    if (atomic_load(&p->sleeping) > 0)
        sem_post(&p->items);
}

/* The first blocking request starts the threads (an I/O thread, once). */
static int start(turbo__pool *p)
{
    pthread_mutex_lock(&p->start_lock);
    if (!atomic_load_explicit(&p->started, memory_order_relaxed)) {
        /* Blocking handlers must not take the I/O threads' stop signals. */
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        while (p->nstarted < p->nthreads &&
               pthread_create(&p->threads[p->nstarted], NULL, pool_main, p) == 0)
            p->nstarted++;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (p->nstarted > 0)
            atomic_store_explicit(&p->started, 1, memory_order_release);
    }
    int ok = atomic_load_explicit(&p->started, memory_order_relaxed);
    pthread_mutex_unlock(&p->start_lock);
    return ok ? 0 : -1;
}

int turbo__pool_submit(turbo__pool *p, turbo_deferred *x)
{
    if (!atomic_load_explicit(&p->started, memory_order_acquire) && start(p) != 0)
        return -1;
    if (atomic_fetch_add_explicit(&p->queued, 1, memory_order_relaxed) >= p->max_queued) {
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
        return -1;
    }
    x->blocking = 1;
    atomic_store_explicit(&x->holds, 1, memory_order_relaxed); /* the run's */
    if (enqueue(p, x) != 0) {
        atomic_fetch_sub_explicit(&p->queued, 1, memory_order_relaxed);
        x->blocking = 0;
        return -1;
    }
    return 0;
}

void turbo__pool_stop(turbo__pool *p)
{
    if (p->threads == NULL || p->nstarted == 0)
        return;
    atomic_store_explicit(&p->stopping, 1, memory_order_release);
    for (unsigned i = 0; i < p->nstarted; i++)
        sem_post(&p->items);
    for (unsigned i = 0; i < p->nstarted; i++)
        pthread_join(p->threads[i], NULL);
    p->nstarted = 0;
    atomic_store_explicit(&p->started, 0, memory_order_relaxed);
}

void turbo__pool_destroy(turbo__pool *p)
{
    if (p->cells == NULL)
        return;
    turbo__pool_stop(p);
    sem_destroy(&p->items);
    pthread_mutex_destroy(&p->start_lock);
    free(p->cells);
    free(p->threads);
    p->cells = NULL;
    p->threads = NULL;
}
