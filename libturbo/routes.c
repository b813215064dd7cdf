/*
 * The live route table: routes added and removed while the server runs.
 *
 * Readers (I/O threads) never lock and never wait for a writer. Each has
 * a ck_epoch record; the first lookup of a loop iteration opens a read
 * section (turbo__routes_enter) and the thread closes it before the loop
 * waits again, so one section covers every request of a batch, including
 * the handler calls: a route removed while its handler runs stays valid
 * until that handler has returned.
 *
 * Writers, from any thread (a handler included), take write_lock, change
 * the registry, compile a complete new table (router.c) and publish it
 * with one pointer store: a reader sees the old table or the new one,
 * never a mix. The replaced table, and the routes removed with it, are
 * handed to ck_epoch_call on the writer's record; their release callbacks
 * run once every reader that could have seen them has left its section.
 *
 * Reclamation: ck_epoch only runs deferred callbacks when the record's
 * owner polls it. Every write polls; so does each I/O thread's sweep timer
 * while something is pending, with a trylock (it never waits for a
 * writer), so releases happen within about a second even if writes stop.
 * A writer never waits for readers. Waiting for a grace period would
 * deadlock whenever the writer holds a lock of its own that a running
 * handler wants (a binding's route registry does exactly that), since the
 * grace period waits for that handler's section. So what is retired
 * stays until every section that could see it has ended: under constant
 * churn with ordinary handlers, each poll frees what the previous ones
 * retired, and memory stays flat; a handler that runs for a long time
 * holds back the tables replaced meanwhile, and they are freed when it
 * returns.
 *
 * Release callbacks run after write_lock is dropped, so one may itself add
 * or remove routes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <ck_epoch.h>

#include "router.h"
#include "routes.h"
#include "server.h"
#include "sync.h"
#include "thread.h"

int turbo__routes_init(turbo_server *s)
{
    s->router = turbo__router_new();
    if (s->router == NULL)
        return TURBO_ENOMEM;
    if (pthread_mutex_init(&s->write_lock, NULL) != 0) {
        turbo__router_free(s->router);
        return TURBO_ESYS;
    }
    ck_epoch_init(&s->epoch);
    ck_epoch_register(&s->epoch, &s->writer_rec, NULL);
    return TURBO_OK;
}

void turbo__routes_register(turbo_server *s, turbo__thread *t)
{
    ck_epoch_register(&s->epoch, &t->epoch_rec, NULL);
}

/* ck_epoch callback, run inside a poll or barrier under write_lock: only
 * queue the bundle; it is freed once the lock is dropped. */
static void retired_ready(ck_epoch_entry_t *e)
{
    turbo__retired *g = (turbo__retired *)e; /* entry is the first member */
    turbo_server *s = g->owner;
    if (s->threads != NULL)
        for (unsigned i = 0; i < s->nthreads; i++)
            turbo__tsan_grace_seen(&s->threads[i].epoch_rec);
    g->next = s->reclaimed;
    s->reclaimed = g;
    atomic_store_explicit(&s->retired_pending,
                          atomic_load_explicit(&s->retired_pending, memory_order_relaxed) - 1,
                          memory_order_relaxed);
}

static void retire(turbo_server *s, turbo__retired *g)
{
    g->owner = s;
    atomic_store_explicit(&s->retired_pending,
                          atomic_load_explicit(&s->retired_pending, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    ck_epoch_call(&s->writer_rec, &g->entry, retired_ready);
}

/* Takes what the last poll made safe; call under write_lock. */
static turbo__retired *take_reclaimed(turbo_server *s)
{
    turbo__retired *list = s->reclaimed;
    s->reclaimed = NULL;
    return list;
}

static void free_reclaimed(turbo__retired *list)
{
    while (list != NULL) {
        turbo__retired *next = list->next;
        turbo__retired_free(list); /* release callbacks run here */
        list = next;
    }
}

static void end_write(turbo_server *s);

/* Publishes the routes as they are now; call under write_lock. */
static int publish(turbo_server *s)
{
    turbo__retired *g;
    int rc = turbo__router_commit(s->router, &g);
    if (rc != TURBO_OK)
        return rc;
    /* The table is complete before its address is: a reader that loads
     * the pointer sees every byte of it (sync.h). */
    turbo__publish_ptr(&s->table, turbo__router_current(s->router));
    if (g != NULL)
        retire(s, g);
    return TURBO_OK;
}

int turbo__routes_set_state(turbo_server *s, int state)
{
    pthread_mutex_lock(&s->write_lock);
    int rc = TURBO_OK;
    /* Going live publishes what was added before, in the same critical
     * section that makes later writes publish: nothing falls between. */
    if (state == TURBO__RUNNING)
        rc = publish(s);
    if (rc == TURBO_OK)
        s->state = state;
    end_write(s);
    return rc;
}

void turbo__routes_reclaim(turbo_server *s, int block)
{
    if (block) {
        pthread_mutex_lock(&s->write_lock);
        ck_epoch_barrier(&s->writer_rec);
    } else {
        if (atomic_load_explicit(&s->retired_pending, memory_order_relaxed) == 0)
            return;
        if (pthread_mutex_trylock(&s->write_lock) != 0)
            return; /* a writer is at work: it polls itself */
        ck_epoch_poll(&s->writer_rec);
    }
    turbo__retired *list = take_reclaimed(s);
    pthread_mutex_unlock(&s->write_lock);
    free_reclaimed(list);
}

/* The end of a write: poll, and release what is due outside the lock.
 * Called with write_lock held; returns with it dropped. */
static void end_write(turbo_server *s)
{
    ck_epoch_poll(&s->writer_rec);
    turbo__retired *list = take_reclaimed(s);
    pthread_mutex_unlock(&s->write_lock);
    free_reclaimed(list);
}

int turbo_route_add(turbo_server *s, const char *method, const char *pattern, turbo_handler fn,
                    void *user_data)
{
    return turbo_route_add_full(s, method, pattern, fn, user_data, NULL);
}

int turbo_route_add_full(turbo_server *s, const char *method, const char *pattern,
                         turbo_handler fn, void *user_data, turbo_release_fn release)
{
    return turbo_route_add_opts(s, method, pattern, fn, user_data, release, 0);
}

int turbo_route_add_opts(turbo_server *s, const char *method, const char *pattern,
                         turbo_handler fn, void *user_data, turbo_release_fn release,
                         unsigned flags)
{
    if (s == NULL || (flags & ~(unsigned)TURBO__ROUTE_FLAGS) != 0) {
        if (release != NULL)
            release(user_data);
        return TURBO_EINVAL;
    }
    if (flags & TURBO_ROUTE_STREAM_BODY) /* before the route can be matched */
        atomic_store_explicit(&s->stream_routes, 1, memory_order_relaxed);
    pthread_mutex_lock(&s->write_lock);
    int rc = turbo__router_add_flags(s->router, method, pattern, fn, user_data, release, flags);
    /* Before start the table is compiled once, at start; while running
     * every change is published at once. */
    if (rc == TURBO_OK && s->state == TURBO__RUNNING) {
        rc = publish(s);
        if (rc != TURBO_OK)
            turbo__router_rollback(s->router);
    }
    end_write(s);
    if (rc != TURBO_OK && release != NULL)
        release(user_data);
    return rc;
}

int turbo_route_remove(turbo_server *s, const char *method, const char *pattern)
{
    if (s == NULL)
        return TURBO_EINVAL;
    pthread_mutex_lock(&s->write_lock);
    int rc = turbo__router_remove(s->router, method, pattern);
    if (rc == TURBO_OK && s->state == TURBO__RUNNING) {
        rc = publish(s);
        if (rc != TURBO_OK)
            turbo__router_rollback(s->router);
    }
    end_write(s);
    return rc;
}

void turbo__routes_destroy(turbo_server *s)
{
    if (s->router == NULL)
        return;
    /* No reader is left: every pending retirement is due. */
    turbo__routes_reclaim(s, 1);
    turbo__router_free(s->router);
    s->router = NULL;
    pthread_mutex_destroy(&s->write_lock);
}
