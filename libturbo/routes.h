/*
 * The live route table (routes.c): written under a lock from any thread,
 * read by the I/O threads without one, inside ck_epoch sections.
 */
#ifndef TURBO_ROUTES_H
#define TURBO_ROUTES_H

#include <ck_epoch.h>

#include "turbo/turbo.h"

#include "router.h"
#include "server.h"
#include "sync.h"
#include "thread.h"

int turbo__routes_init(turbo_server *s);
/* Changes s->state under the writers' lock; to TURBO__RUNNING also
 * publishes the routes added so far (TURBO_ENOMEM: state unchanged). */
int turbo__routes_set_state(turbo_server *s, int state);
void turbo__routes_register(turbo_server *s, turbo__thread *t);
/* Frees what a grace period has made safe. block: wait for one. */
void turbo__routes_reclaim(turbo_server *s, int block);
void turbo__routes_destroy(turbo_server *s);

/* The table for this request: opens the thread's epoch section if this
 * loop iteration has not yet (thread.c closes it before the loop waits
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
