/*
 * One I/O thread's life: set up, the loop, the stop, teardown. Each thread
 * runs its own event_base (no locking inside libevent) and watches its
 * listening socket, an eventfd for stop requests, and a sweep timer for
 * connection deadlines. The server (server.c) sets threads up, starts,
 * wakes and joins them; everything else here runs on the thread itself.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "bufpool.h"
#include "clock.h"
#include "conn.h"
#include "date.h"
#include "exchange.h"
#include "inbox.h"
#include "listener.h"
#include "loop.h"
#include "response.h"
#include "routes.h"
#include "server.h"
#include "sync.h"
#include "thread.h"

static void begin_stop(turbo__thread *t)
{
    if (t->stopping)
        return;
    event_del(&t->listen_ev); /* before the drain closes the socket */
    if (t->listen_paused)
        event_del(&t->resume_ev);
    turbo__accept_drain(t);
    t->stopping = 1;
    turbo__conns_stop(t);
    turbo__thread_check_done(t);
}

/* The eventfd: a stop request, or the inbox (inbox.h). The fd is read
 * before the inbox is taken, and taken until empty, so nothing pushed is
 * left waiting for a wake-up already consumed. */
static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    turbo__thread *t = arg;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));
    (void)n;
    t->now_ms = turbo__now_ms();
    turbo__date_update(&t->date);
    turbo__msg *m;
    while ((m = turbo__inbox_take(&t->inbox)) != NULL) {
        while (m != NULL) {
            turbo__msg *next = m->next;
            if (m->kind == TURBO__MSG_FINISHED)
                turbo__conn_finished(t, (turbo_deferred *)m);
            else if (m->kind == TURBO__MSG_STREAM)
                turbo__stream_msg(m);
            else
                turbo__loop_run_post(m);
            m = next;
        }
    }
    if (atomic_load(&t->server->stop_requested))
        begin_stop(t);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    turbo__thread *t = arg;
    turbo__conns_sweep(t);
    if (t->metrics_on) /* nlive is this thread's: published for the metrics route */
        atomic_store_explicit(&t->metrics.deferred_live, t->nlive, memory_order_relaxed);
    turbo__routes_reclaim(t->server, 0);
}

/* The sweep runs at a quarter of the shortest timeout (at most 1 s, at
 * least 5 ms), so a deadline is acted on within 25% of its length. */
static struct timeval sweep_interval(const turbo_config *cfg)
{
    unsigned ms = cfg->header_timeout_ms;
    if (cfg->idle_timeout_ms < ms)
        ms = cfg->idle_timeout_ms;
    if (cfg->body_timeout_ms < ms)
        ms = cfg->body_timeout_ms;
    if (cfg->write_timeout_ms < ms)
        ms = cfg->write_timeout_ms;
    if (cfg->deferred_timeout_ms < ms)
        ms = cfg->deferred_timeout_ms;
    if (cfg->stop_grace_ms != 0 && cfg->stop_grace_ms < ms)
        ms = cfg->stop_grace_ms;
    ms /= 4;
    if (ms > 1000)
        ms = 1000;
    if (ms < 5)
        ms = 5;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

void turbo__thread_teardown(turbo__thread *t)
{
    if (t->base != NULL) {
        turbo__loop_free_all(t);
        turbo__conns_free_all(t);
        event_del(&t->listen_ev);
        event_del(&t->wake_ev);
        event_del(&t->sweep_ev);
        if (t->listen_paused)
            event_del(&t->resume_ev);
        event_base_free(t->base);
        t->base = NULL;
    }
    if (t->wake_fd >= 0)
        close(t->wake_fd);
    t->wake_fd = -1;
    /* Posted after the thread's loop ended (after turbo_server_wait(),
     * against the rules): never run, only freed. */
    turbo__msg *m = turbo__inbox_take(&t->inbox);
    while (m != NULL) {
        turbo__msg *next = m->next;
        free(m);
        m = next;
    }
    turbo__exchanges_free_all(t);
    turbo__alog_free(&t->alog);
    turbo__bufpool_destroy(&t->pool);
    free(t->headers);
    t->headers = NULL;
}

int turbo__thread_setup(turbo_server *s, turbo__thread *t, unsigned index)
{
    memset(t, 0, sizeof(*t));
    t->server = s;
    t->index = index;
    t->metrics_on = s->cfg.metrics_path[0] != '\0';
    t->wake_fd = -1;
    turbo__bufpool_init(&t->pool, s->buf_size, 64);
    turbo__date_init(&t->date);
    turbo__alog_init(&t->alog, s->cfg.access_log_fd);
    t->answer_hooks = t->metrics_on || t->alog.fd >= 0;
    t->loop.thread = t;
    atomic_init(&t->inbox.head, NULL);
    turbo__routes_register(s, t);
    t->cur = turbo__exchange_new(t);
    if (t->cur == NULL)
        return TURBO_ENOMEM;
    t->headers = calloc(s->cfg.max_headers, sizeof(*t->headers));
    if (t->headers == NULL)
        return TURBO_ENOMEM;

    struct event_config *ec = event_config_new();
    if (ec == NULL)
        return TURBO_ENOMEM;
    /* Only this thread ever touches its base. Precise timers: without
     * them libevent reads CLOCK_MONOTONIC_COARSE, which advances every
     * jiffy (4 ms here), and a turbo_loop_timer() of 1 ms fires after
     * 4; with them, one timerfd_settime() per loop iteration (one per
     * ~50 requests under load), measured as noise. */
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
    event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    t->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (t->base == NULL)
        return TURBO_ESYS;

    t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (t->wake_fd < 0)
        return TURBO_ESYS;
    event_assign(&t->wake_ev, t->base, t->wake_fd, EV_READ | EV_PERSIST, wake_cb, t);
    t->listen_fd = s->listen_fds != NULL ? s->listen_fds[index] : s->shared_fd;
    event_assign(&t->listen_ev, t->base, t->listen_fd, EV_READ | EV_PERSIST, turbo__accept_cb, t);
    event_assign(&t->sweep_ev, t->base, -1, EV_PERSIST, sweep_cb, t);
    struct timeval tv = sweep_interval(&s->cfg);
    if (event_add(&t->wake_ev, NULL) != 0 || event_add(&t->listen_ev, NULL) != 0 ||
        event_add(&t->sweep_ev, &tv) != 0)
        return TURBO_ESYS;
    return TURBO_OK;
}

void turbo__thread_run(turbo__thread *t)
{
    turbo__tls_thread = t;
    t->now_ms = turbo__now_ms();
    /* A stop requested before the wake fds existed wrote nothing. */
    if (atomic_load(&t->server->stop_requested))
        begin_stop(t);
    /* One loop iteration at a time: the epoch section a lookup opens
     * (turbo__routes_enter) is closed here, before the loop waits again,
     * so a thread with nothing to do never holds back reclamation. */
    while (!t->done) {
        if (event_base_loop(t->base, EVLOOP_ONCE) < 0)
            break;
        if (t->dirty != NULL) /* streamed bytes: one flush per connection */
            turbo__conns_flush_dirty(t);
        if (t->alog.buf.len != 0) /* this iteration's lines, one write */
            turbo__alog_flush(&t->alog);
        if (t->pool_queued) { /* the whole batch queued: one wake-up */
            t->pool_queued = 0;
            turbo__pool_wake(&t->server->pool);
        }
        if (t->in_section) {
            turbo__tsan_section_end(&t->epoch_rec);
            ck_epoch_end(&t->epoch_rec, NULL);
            t->in_section = 0;
        }
    }
    /* Functions posted while the loop was ending still run, here on the
     * thread they were posted to; later posts are refused (thread.h). */
    atomic_store(&t->closed, 1);
    while (atomic_load(&t->posters) != 0)
        sched_yield();
    turbo__msg *m = turbo__inbox_take(&t->inbox);
    while (m != NULL) {
        turbo__msg *next = m->next;
        if (m->kind == TURBO__MSG_POST) /* no FINISHED ones: every exchange is back */
            turbo__loop_run_post(m);
        else
            free(m); /* a stream piece written after its finish, against the rules */
        m = next;
    }
    turbo__tls_thread = NULL;
}

static void *thread_main(void *arg)
{
    turbo__thread_run(arg);
    return NULL;
}

int turbo__thread_start(turbo__thread *t)
{
    if (pthread_create(&t->tid, NULL, thread_main, t) != 0)
        return TURBO_ESYS;
    t->started = 1;
    return TURBO_OK;
}

void turbo__thread_join(turbo__thread *t)
{
    if (t->started)
        pthread_join(t->tid, NULL);
    t->started = 0;
}

void turbo__thread_wake(turbo__thread *t)
{
    uint64_t one = 1;
    ssize_t n = write(t->wake_fd, &one, sizeof(one));
    (void)n;
}
