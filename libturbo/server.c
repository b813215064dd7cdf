/*
 * The server object and the public turbo_server_* entry points: listen,
 * start, stop, wait, free. Each I/O thread's life is in thread.c; this
 * file sets the threads up, starts them, wakes them for a stop and joins
 * them, and owns what they share (the configuration, the listening
 * sockets, the route table through routes.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/util.h>

#include "config.h"
#include "listener.h"
#include "metrics_routes.h"
#include "routes.h"
#include "server.h"
#include "signals.h"
#include "thread.h"

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
    if (turbo__pool_init(&s->pool, s->cfg.blocking_threads, s->cfg.blocking_queue) != TURBO_OK) {
        turbo__routes_destroy(s);
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
    if (turbo__metrics_routes_add(s) != TURBO_OK) {
        turbo_server_free(s);
        return NULL;
    }
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

/* listen_fd and adopt_fd: the checks, then the fd is the threads' one
 * socket; owned, they drain and close it when they stop. */
static int listen_inherited(turbo_server *s, int fd, int owned)
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
    s->shared_owned = owned;
    atomic_store_explicit(&s->shared_users, owned ? s->nthreads : 0, memory_order_relaxed);
    if (ss.ss_family == AF_INET)
        s->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        s->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        s->port = 0;
    s->state = TURBO__LISTENING;
    return TURBO_OK;
}

int turbo_server_listen_fd(turbo_server *s, int fd)
{
    return listen_inherited(s, fd, 0);
}

int turbo_server_adopt_fd(turbo_server *s, int fd)
{
    return listen_inherited(s, fd, 1);
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
    return turbo_server_set_fallback_opts(s, fn, user_data, NULL, 0);
}

int turbo_server_set_fallback_opts(turbo_server *s, turbo_handler fn, void *user_data,
                                   turbo_release_fn release, unsigned flags)
{
    if (s == NULL || (flags & ~(unsigned)TURBO__ROUTE_FLAGS) != 0 ||
        (fn == NULL && (flags != 0 || release != NULL)))
        return TURBO_EINVAL;
    if (s->state != TURBO__NEW && s->state != TURBO__LISTENING)
        return TURBO_ESTATE; /* the I/O threads read it unlocked */
    /* No thread has started: nothing can be inside the one replaced. */
    if (s->fallback_release != NULL)
        s->fallback_release(s->fallback_data);
    s->fallback = fn;
    s->fallback_data = user_data;
    s->fallback_release = release;
    s->fallback_flags = flags;
    if (flags & TURBO_ROUTE_STREAM_BODY)
        atomic_store_explicit(&s->stream_routes, 1, memory_order_relaxed);
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
        rc = turbo__thread_setup(s, &s->threads[i], i);
        if (rc != TURBO_OK)
            break;
    }
    if (rc == TURBO_OK)
        rc = turbo__routes_set_state(s, TURBO__RUNNING);
    if (rc == TURBO_OK) {
        atomic_store(&s->threads_ready, 1);
        for (i = 0; i < s->nthreads; i++) {
            rc = turbo__thread_start(&s->threads[i]);
            if (rc != TURBO_OK)
                break;
        }
    }
    if (rc != TURBO_OK) {
        turbo_server_stop(s);
        for (unsigned j = 0; j < s->nthreads; j++)
            turbo__thread_join(&s->threads[j]);
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
    for (unsigned i = 0; i < s->nthreads; i++)
        turbo__thread_wake(&s->threads[i]);
}

int turbo_server_wait(turbo_server *s)
{
    if (s == NULL)
        return TURBO_EINVAL;
    if (s->state != TURBO__RUNNING)
        return TURBO_ESTATE;
    for (unsigned i = 0; i < s->nthreads; i++)
        turbo__thread_join(&s->threads[i]);
    /* Every deferred request is released by now (a thread leaves its loop
     * only then), so the pool's queue is empty. */
    turbo__pool_stop(&s->pool);
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
    int rc = turbo__thread_setup(s, &s->threads[0], 0);
    if (rc == TURBO_OK)
        rc = turbo__routes_set_state(s, TURBO__RUNNING);
    if (rc != TURBO_OK)
        return rc; /* the thread is torn down by turbo_server_free */
    atomic_store(&s->threads_ready, 1);
    turbo__thread_run(&s->threads[0]);
    turbo__pool_stop(&s->pool);
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
    turbo__pool_destroy(&s->pool);
    /* Routes first: reclaiming scans every thread's epoch record. */
    turbo__routes_destroy(s);
    if (s->threads != NULL) {
        for (unsigned i = 0; i < s->nthreads; i++)
            turbo__thread_teardown(&s->threads[i]);
        free(s->threads);
    }
    turbo__listen_close(s);
    /* Every thread is joined and the pool is gone: nothing runs it. */
    if (s->fallback_release != NULL)
        s->fallback_release(s->fallback_data);
    free(s);
}
