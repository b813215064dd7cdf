/*
 * The server object and its I/O threads. Each thread runs its own
 * event_base (no locking inside libevent), watches its listening socket,
 * an eventfd for stop requests, and a sweep timer for connection
 * deadlines. Threads share nothing on the request path but the route
 * table, which they read without locks (routes.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "response.h"

/* ---- server object --------------------------------------------------- */

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1u;
}

turbo_server *turbo_server_new(const turbo_config *cfg)
{
    turbo_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    if (cfg != NULL)
        s->cfg = *cfg;
    else
        turbo__config_defaults(&s->cfg);
    if (turbo__routes_init(s) != TURBO_OK) {
        free(s);
        return NULL;
    }
    s->nthreads = s->cfg.run_on_caller ? 1 : (s->cfg.threads ? s->cfg.threads : online_cpus());
    s->limits.max_header_bytes = s->cfg.max_header_bytes;
    s->limits.max_headers = s->cfg.max_headers;
    s->limits.max_uri_bytes = s->cfg.max_uri_bytes;
    s->limits.max_body_bytes = s->cfg.max_body_bytes;
    /* A whole head must fit in one pool buffer, with room to see that it
     * is one byte too long. */
    size_t buf = s->cfg.max_header_bytes + 1024;
    buf = (buf + 4095) & ~(size_t)4095;
    s->buf_size = buf < 16384 ? 16384 : buf;
    if (s->cfg.server_name[0] != '\0')
        s->server_line_len = (size_t)snprintf(s->server_line, sizeof(s->server_line),
                                              "Server: %s\r\n", s->cfg.server_name);
    s->port = TURBO_ESTATE;
    s->shared_fd = -1;
    s->state = TURBO__NEW;
    return s;
}

int turbo_server_listen(turbo_server *s, const char *host, int port)
{
    if (s == NULL)
        return TURBO_EINVAL;
    if (s->state != TURBO__NEW)
        return TURBO_ESTATE;
    int rc = turbo__listen_bind(s, host, port);
    if (rc == TURBO_OK)
        s->state = TURBO__LISTENING;
    return rc;
}

int turbo_server_listen_fd(turbo_server *s, int fd)
{
    if (s == NULL || fd < 0)
        return TURBO_EINVAL;
    if (s->state != TURBO__NEW)
        return TURBO_ESTATE;
    /* A listening stream socket, or the threads would spin on accept();
     * errno says which it is not (EBADF, ENOTSOCK from getsockname). */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return TURBO_EINVAL;
    int listening = 0, type = 0;
    socklen_t optlen = sizeof(type);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &optlen) != 0)
        return TURBO_EINVAL;
    if (type != SOCK_STREAM) { /* a datagram socket never listens: say so */
        errno = EPROTOTYPE;
        return TURBO_EINVAL;
    }
    optlen = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0)
        return TURBO_EINVAL;
    if (!listening) {
        errno = EINVAL;
        return TURBO_EINVAL;
    }
    if (evutil_make_socket_nonblocking(fd) != 0)
        return TURBO_ESYS;
    s->shared_fd = fd;
    if (ss.ss_family == AF_INET)
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        s->port = 0;
    s->state = TURBO__LISTENING;
    return TURBO_OK;
}

/* Digits only, no sign or spaces, at most max. -1 otherwise. */
static long env_number(const char *v, long max)
{
    if (v == NULL || *v < '0' || *v > '9')
        return -1;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    return errno != 0 || *end != '\0' || n > max ? -1 : n;
}

int turbo_server_listen_activated(turbo_server *s)
{
    if (s == NULL)
        return TURBO_EINVAL;
    if (s->state != TURBO__NEW)
        return TURBO_ESTATE;
    long pid = env_number(getenv("LISTEN_PID"), LONG_MAX);
    if (pid < 0 || pid != (long)getpid())
        return 0; /* nothing was passed to this process */
    const char *fds = getenv("LISTEN_FDS");
    long n = fds == NULL ? 0 : env_number(fds, LONG_MAX);
    /* Read once: no process this one starts may take them for its own. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    /* As sd_listen_fds() does, whatever happens next: the passed sockets
     * (fds 3 .. 3+n-1) are not inherited by programs this one starts. */
    for (long fd = 3; n > 0 && fd < 3 + n && fd <= INT_MAX; fd++) {
        int flags = fcntl((int)fd, F_GETFD);
        if (flags < 0)
            break; /* not passed after all: the list ends here */
        fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC);
    }
    if (n == 0)
        return 0;
    if (n != 1) { /* malformed, or more sockets than the server serves */
        errno = n < 0 ? EDOM : E2BIG;
        return TURBO_EINVAL;
    }
    int rc = turbo_server_listen_fd(s, 3); /* SD_LISTEN_FDS_START */
    return rc == TURBO_OK ? 1 : rc;
}

int turbo_server_set_fallback(turbo_server *s, turbo_handler fn, void *user_data)
{
    if (s == NULL)
        return TURBO_EINVAL;
    if (s->state != TURBO__NEW && s->state != TURBO__LISTENING)
        return TURBO_ESTATE; /* the I/O threads read it unlocked */
    s->fallback = fn;
    s->fallback_data = user_data;
    return TURBO_OK;
}

int turbo_server_port(const turbo_server *s)
{
    if (s == NULL)
        return TURBO_EINVAL;
    return s->port;
}

unsigned turbo_server_threads(const turbo_server *s)
{
    return s != NULL ? s->nthreads : 0;
}

uint64_t turbo_server_stat(const turbo_server *s, int which)
{
    if (s == NULL || s->threads == NULL)
        return 0;
    uint64_t sum = 0;
    for (unsigned i = 0; i < s->nthreads; i++) {
        const turbo__counters *c = &s->threads[i].stats;
        const _Atomic uint64_t *f;
        switch (which) {
        case TURBO_STAT_CONNECTIONS_ACCEPTED: f = &c->accepted; break;
        case TURBO_STAT_CONNECTIONS_OPEN: f = &c->open; break;
        case TURBO_STAT_REQUESTS: f = &c->requests; break;
        case TURBO_STAT_BAD_REQUESTS: f = &c->bad_requests; break;
        case TURBO_STAT_HANDLER_ERRORS: f = &c->handler_errors; break;
        case TURBO_STAT_CONNECTIONS_REFUSED: f = &c->refused; break;
        case TURBO_STAT_TIMEOUTS: f = &c->timeouts; break;
        case TURBO_STAT_WRITES: f = &c->writes; break;
        default: return 0;
        }
        sum += atomic_load_explicit(f, memory_order_relaxed);
    }
    return sum;
}

/* ---- I/O threads ----------------------------------------------------- */

static _Thread_local turbo__thread *current_thread;

turbo__thread *turbo__current_thread(void)
{
    return current_thread;
}

void turbo__thread_check_done(turbo__thread *t)
{
    if (t->stopping && t->nconns == 0) {
        t->done = 1;
        event_base_loopbreak(t->base);
    }
}

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

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    turbo__thread *t = arg;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof(v));
    (void)n;
    t->now_ms = turbo__now_ms();
    if (atomic_load(&t->server->stop_requested))
        begin_stop(t);
}

static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    turbo__thread *t = arg;
    turbo__conns_sweep(t);
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
    ms /= 4;
    if (ms > 1000)
        ms = 1000;
    if (ms < 5)
        ms = 5;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
    return tv;
}

static void thread_teardown(turbo__thread *t)
{
    if (t->base != NULL) {
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
    turbo__response_release(&t->res);
    turbo__arena_destroy(&t->arena);
    turbo__bufpool_destroy(&t->pool);
    free(t->headers);
    t->headers = NULL;
}

static int thread_setup(turbo_server *s, turbo__thread *t, unsigned index)
{
    memset(t, 0, sizeof(*t));
    t->server = s;
    t->index = index;
    t->wake_fd = -1;
    turbo__arena_init(&t->arena, 8192);
    turbo__bufpool_init(&t->pool, s->buf_size, 64);
    turbo__date_init(&t->date);
    t->req.thread = t;
    t->res.thread = t;
    t->res.status = 200;
    turbo__routes_register(s, t);
    t->headers = calloc(s->cfg.max_headers, sizeof(*t->headers));
    if (t->headers == NULL)
        return TURBO_ENOMEM;

    struct event_config *ec = event_config_new();
    if (ec == NULL)
        return TURBO_ENOMEM;
    /* Only this thread ever touches its base. */
    event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
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

static void *thread_main(void *arg)
{
    turbo__thread *t = arg;
    current_thread = t;
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
        if (t->in_section) {
            turbo__tsan_section_end(&t->epoch_rec);
            ck_epoch_end(&t->epoch_rec, NULL);
            t->in_section = 0;
        }
    }
    current_thread = NULL;
    return NULL;
}

int turbo_server_start(turbo_server *s)
{
    if (s == NULL)
        return TURBO_EINVAL;
    if (s->cfg.run_on_caller)
        return TURBO_ESTATE;
    if (s->state != TURBO__LISTENING)
        return TURBO_ESTATE;
    s->threads = calloc(s->nthreads, sizeof(*s->threads));
    if (s->threads == NULL)
        return TURBO_ENOMEM;
    int rc = TURBO_OK;
    unsigned i;
    for (i = 0; i < s->nthreads; i++) {
        rc = thread_setup(s, &s->threads[i], i);
        if (rc != TURBO_OK)
            break;
    }
    if (rc == TURBO_OK)
        rc = turbo__routes_set_state(s, TURBO__RUNNING);
    if (rc == TURBO_OK) {
        atomic_store(&s->threads_ready, 1);
        for (i = 0; i < s->nthreads; i++) {
            if (pthread_create(&s->threads[i].tid, NULL, thread_main, &s->threads[i]) != 0) {
                rc = TURBO_ESYS;
                break;
            }
            s->threads[i].started = 1;
        }
    }
    if (rc != TURBO_OK) {
        turbo_server_stop(s);
        for (unsigned j = 0; j < s->nthreads; j++) {
            if (s->threads[j].started)
                pthread_join(s->threads[j].tid, NULL);
        }
        /* Nothing reads the table any more; the threads' epoch records
         * must stay valid until the routes are torn down (server_free). */
        turbo__routes_set_state(s, TURBO__STOPPED);
        atomic_store(&s->threads_ready, 0);
        return rc;
    }
    return TURBO_OK;
}

void turbo_server_stop(turbo_server *s)
{
    if (s == NULL)
        return;
    /* Only a lock-free atomic store and write(2): both async-signal-safe. */
    atomic_store(&s->stop_requested, 1);
    if (!atomic_load(&s->threads_ready))
        return;
    for (unsigned i = 0; i < s->nthreads; i++) {
        uint64_t one = 1;
        ssize_t n = write(s->threads[i].wake_fd, &one, sizeof(one));
        (void)n;
    }
}

int turbo_server_wait(turbo_server *s)
{
    if (s == NULL)
        return TURBO_EINVAL;
    if (s->state != TURBO__RUNNING)
        return TURBO_ESTATE;
    for (unsigned i = 0; i < s->nthreads; i++) {
        if (s->threads[i].started)
            pthread_join(s->threads[i].tid, NULL);
        s->threads[i].started = 0;
    }
    turbo__routes_set_state(s, TURBO__STOPPED);
    return TURBO_OK;
}

int turbo_server_run(turbo_server *s)
{
    if (s == NULL)
        return TURBO_EINVAL;
    if (!s->cfg.run_on_caller) {
        int rc = turbo_server_start(s);
        if (rc != TURBO_OK)
            return rc;
        return turbo_server_wait(s);
    }
    if (s->state != TURBO__LISTENING)
        return TURBO_ESTATE;
    s->threads = calloc(1, sizeof(*s->threads));
    if (s->threads == NULL)
        return TURBO_ENOMEM;
    int rc = thread_setup(s, &s->threads[0], 0);
    if (rc == TURBO_OK)
        rc = turbo__routes_set_state(s, TURBO__RUNNING);
    if (rc != TURBO_OK)
        return rc; /* the thread is torn down by turbo_server_free */
    atomic_store(&s->threads_ready, 1);
    thread_main(&s->threads[0]);
    turbo__routes_set_state(s, TURBO__STOPPED);
    return TURBO_OK;
}

void turbo_server_free(turbo_server *s)
{
    if (s == NULL)
        return;
    turbo__signals_forget(s); /* no signal handler may reach s from here on */
    if (s->state == TURBO__RUNNING && !s->cfg.run_on_caller) {
        turbo_server_stop(s);
        turbo_server_wait(s);
    }
    atomic_store(&s->threads_ready, 0);
    /* Routes first: reclaiming scans every thread's epoch record. */
    turbo__routes_destroy(s);
    if (s->threads != NULL) {
        for (unsigned i = 0; i < s->nthreads; i++)
            thread_teardown(&s->threads[i]);
        free(s->threads);
    }
    turbo__listen_close(s);
    free(s);
}
