/*
 * An I/O thread's inbox: what other threads hand it (finished deferred
 * requests, posted functions), a lock-free multi-producer, single-consumer
 * list plus the thread's eventfd.
 *
 * Producers push with a CAS on the head (a Treiber stack); the consumer
 * takes the whole list at once with an exchange and reverses it, so items
 * run in push order per producer. Only the push that finds the list empty
 * writes the eventfd: a thousand pushes between two drains cost one
 * wake-up. The consumer reads the eventfd before it takes the list, and
 * takes until it finds the list empty, so a push that lands after a take
 * always finds it empty and wakes the thread again: no wake-up is lost.
 *
 * Memory order: the push's successful CAS is a release, the take's
 * exchange an acquire, so everything a producer wrote before pushing (a
 * response built on another thread, a posted argument) is visible to the
 * consumer that takes the item. No item is ever popped alone, so there is
 * no ABA.
 */
#ifndef TURBO_INBOX_H
#define TURBO_INBOX_H

#include <stdatomic.h>
#include <stdint.h>
#include <stddef.h>
#include <unistd.h>

enum turbo__msg_kind { TURBO__MSG_FINISHED, TURBO__MSG_POST, TURBO__MSG_STREAM };

typedef struct turbo__msg {
    struct turbo__msg *next;
    int kind;
} turbo__msg;

typedef struct turbo__inbox {
    _Alignas(64) _Atomic(turbo__msg *) head;
} turbo__inbox;

/* Pushes m; returns 1 when the list was empty (the caller wakes the
 * consumer: turbo__inbox_wake), else 0. Any thread. */
static inline int turbo__inbox_push(turbo__inbox *box, turbo__msg *m)
{
    turbo__msg *old = atomic_load_explicit(&box->head, memory_order_relaxed);
    do {
        m->next = old;
    } while (!atomic_compare_exchange_weak_explicit(&box->head, &old, m, memory_order_release,
                                                    memory_order_relaxed));
    return old == NULL;
}

/* One write(2) to the consumer's eventfd: async-signal-safe. */
static inline void turbo__inbox_wake(int eventfd)
{
    uint64_t one = 1;
    ssize_t n = write(eventfd, &one, sizeof(one));
    (void)n;
}

/* Takes everything pushed so far, oldest first; NULL when empty. The
 * consumer's thread only. */
static inline turbo__msg *turbo__inbox_take(turbo__inbox *box)
{
    turbo__msg *m = atomic_exchange_explicit(&box->head, NULL, memory_order_acquire);
    turbo__msg *fifo = NULL;
    while (m != NULL) {
        turbo__msg *next = m->next;
        m->next = fifo;
        fifo = m;
        m = next;
    }
    return fifo;
}

#endif
