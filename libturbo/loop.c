/*
 * An I/O thread's loop for the code it runs (turbo.h, "Waiting without
 * blocking"): fd watches and one-shot timers on the thread's own
 * event_base, and functions posted from any thread through its inbox. No
 * libevent type reaches the public header.
 */
#include <errno.h>
#include <stdlib.h>

#include <event2/event.h>

#include "exchange.h"
#include "inbox.h"
#include "loop.h"
#include "request.h"
#include "server.h"
#include "thread.h"

struct turbo_watch {
    struct event *ev;
    turbo__thread *thread;
    int fd;
    turbo_watch_fn cb;
    void *ud;
    turbo_watch *prev, *next; /* the loop's live watches */
};

struct turbo_timer {
    struct event *ev;
    turbo__thread *thread;
    turbo_loop_fn cb;
    void *ud;
    turbo_timer *prev, *next; /* the loop's pending timers */
};

/* The loop's lists: a watch or timer the program leaves behind is freed
 * with the thread (turbo__loop_free_all). The loop's thread only. */
#define LINK(head, x)                                                                              \
    do {                                                                                           \
        (x)->prev = NULL;                                                                          \
        (x)->next = (head);                                                                        \
        if ((head) != NULL)                                                                        \
            (head)->prev = (x);                                                                    \
        (head) = (x);                                                                              \
    } while (0)
#define UNLINK(head, x)                                                                            \
    do {                                                                                           \
        if ((x)->prev != NULL)                                                                     \
            (x)->prev->next = (x)->next;                                                           \
        else                                                                                       \
            (head) = (x)->next;                                                                    \
        if ((x)->next != NULL)                                                                     \
            (x)->next->prev = (x)->prev;                                                           \
    } while (0)

typedef struct post {
    turbo__msg msg; /* first member */
    void (*fn)(void *ud);
    void *ud;
} post;

turbo_loop *turbo_request_loop(const turbo_request *req)
{
    return req != NULL ? &req->thread->loop : NULL;
}

void turbo_loop_set_data(turbo_loop *l, void *data)
{
    if (l != NULL)
        l->data = data;
}

void *turbo_loop_data(const turbo_loop *l)
{
    return l != NULL ? l->data : NULL;
}

int turbo_loop_post(turbo_loop *l, turbo_loop_fn fn, void *ud)
{
    if (l == NULL || fn == NULL)
        return TURBO_EINVAL;
    turbo__thread *t = l->thread;
    if (!atomic_load_explicit(&t->server->threads_ready, memory_order_acquire))
        return TURBO_ESTATE;
    post *p = malloc(sizeof(*p));
    if (p == NULL)
        return TURBO_ENOMEM;
    p->msg.kind = TURBO__MSG_POST;
    p->fn = fn;
    p->ud = ud;
    atomic_fetch_add(&t->posters, 1); /* seq_cst: see thread.h */
    if (atomic_load(&t->closed)) {
        atomic_fetch_sub(&t->posters, 1);
        free(p);
        return TURBO_ESTATE;
    }
    if (turbo__inbox_push(&t->inbox, &p->msg))
        turbo__inbox_wake(t->wake_fd);
    atomic_fetch_sub_explicit(&t->posters, 1, memory_order_release);
    return TURBO_OK;
}

void turbo__loop_run_post(turbo__msg *m)
{
    post *p = (post *)m;
    p->fn(p->ud);
    free(p);
}

static short to_libevent(unsigned events)
{
    return (short)(((events & TURBO_READ) ? EV_READ : 0) | ((events & TURBO_WRITE) ? EV_WRITE : 0));
}

static void watch_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    turbo_watch *w = arg;
    unsigned revents = ((what & EV_READ) ? TURBO_READ : 0) | ((what & EV_WRITE) ? TURBO_WRITE : 0);
    w->cb(w, revents, w->ud); /* may free w */
}

/* The calling thread is l's: set errno and return 0 otherwise. */
static int on_loop_thread(const turbo_loop *l)
{
    if (l == NULL) {
        errno = EINVAL;
        return 0;
    }
    if (turbo__tls_thread != l->thread) {
        errno = EPERM;
        return 0;
    }
    return 1;
}

turbo_watch *turbo_loop_watch(turbo_loop *l, int fd, unsigned events, turbo_watch_fn cb,
                              void *ud)
{
    if (fd < 0 || cb == NULL || (events & ~(unsigned)(TURBO_READ | TURBO_WRITE)) != 0) {
        errno = EINVAL;
        return NULL;
    }
    if (!on_loop_thread(l))
        return NULL;
    turbo_watch *w = malloc(sizeof(*w));
    if (w == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    w->thread = l->thread;
    w->fd = fd;
    w->cb = cb;
    w->ud = ud;
    w->ev = event_new(l->thread->base, fd, to_libevent(events) | EV_PERSIST, watch_cb, w);
    errno = 0;
    if (w->ev == NULL || (events != 0 && event_add(w->ev, NULL) != 0)) {
        /* epoll's own errno when it refused fd (EPERM: a regular file). */
        int err = errno != 0 ? errno : ENOMEM;
        if (w->ev != NULL)
            event_free(w->ev);
        free(w);
        errno = err;
        return NULL;
    }
    LINK(l->watches, w);
    return w;
}

int turbo_watch_set(turbo_watch *w, unsigned events)
{
    if (w == NULL || (events & ~(unsigned)(TURBO_READ | TURBO_WRITE)) != 0)
        return TURBO_EINVAL;
    if (turbo__tls_thread != w->thread)
        return TURBO_ESTATE;
    event_del(w->ev);
    if (event_assign(w->ev, w->thread->base, w->fd, to_libevent(events) | EV_PERSIST, watch_cb,
                     w) != 0)
        return TURBO_ESYS;
    if (events != 0 && event_add(w->ev, NULL) != 0)
        return TURBO_ESYS;
    return TURBO_OK;
}

void turbo_watch_free(turbo_watch *w)
{
    if (w == NULL)
        return;
    UNLINK(w->thread->loop.watches, w);
    event_free(w->ev); /* deletes it first; fine from its own callback */
    free(w);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    turbo_timer *t = arg;
    turbo_loop_fn cb = t->cb;
    void *ud = t->ud;
    UNLINK(t->thread->loop.timers, t);
    event_free(t->ev);
    free(t);
    cb(ud);
}

turbo_timer *turbo_loop_timer(turbo_loop *l, uint64_t ms, turbo_loop_fn cb, void *ud)
{
    if (cb == NULL) {
        errno = EINVAL;
        return NULL;
    }
    if (!on_loop_thread(l))
        return NULL;
    turbo_timer *t = malloc(sizeof(*t));
    if (t == NULL) {
        errno = ENOMEM;
        return NULL;
    }
    t->cb = cb;
    t->ud = ud;
    t->thread = l->thread;
    t->ev = evtimer_new(l->thread->base, timer_cb, t);
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    if (t->ev == NULL || evtimer_add(t->ev, &tv) != 0) {
        if (t->ev != NULL)
            event_free(t->ev);
        free(t);
        errno = ENOMEM;
        return NULL;
    }
    LINK(l->timers, t);
    return t;
}

void turbo_timer_cancel(turbo_timer *t)
{
    if (t == NULL)
        return;
    UNLINK(t->thread->loop.timers, t);
    event_free(t->ev);
    free(t);
}

void turbo__loop_free_all(turbo__thread *t)
{
    while (t->loop.watches != NULL)
        turbo_watch_free(t->loop.watches);
    while (t->loop.timers != NULL)
        turbo_timer_cancel(t->loop.timers);
}
