/*
 * Listening sockets and accepting. Each I/O thread normally has its own
 * SO_REUSEPORT socket on the same address, so the kernel spreads new
 * connections over the threads and no thread wakes for another's work.
 * With an inherited fd every thread watches the same socket instead; a
 * thread that loses the race for a connection just sees EAGAIN.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "conn.h"
#include "listener.h"
#include "server.h"
#include "thread.h"

/* ai's address with port. */
static struct sockaddr_storage with_port(const struct addrinfo *ai, int port)
{
    struct sockaddr_storage ss;
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    if (ss.ss_family == AF_INET)
        ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
    else
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
    return ss;
}

/* A socket bound to ai's address at port, SO_REUSEADDR set and, when
 * reuseport, SO_REUSEPORT too; listening when backlog > 0. -1 with errno. */
static int bind_at(const struct addrinfo *ai, int port, int reuseport, int backlog)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return -1;
    int one = 1;
    struct sockaddr_storage ss = with_port(ai, port);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) != 0 ||
        (backlog > 0 && listen(fd, backlog) != 0)) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

static int bind_one(const struct addrinfo *ai, int port, int backlog)
{
    return bind_at(ai, port, 1, backlog);
}

/* 0 when nobody holds ai's address at port: a socket without
 * SO_REUSEPORT (SO_REUSEADDR only, so a TIME_WAIT left by an earlier run
 * does not count) can bind it. -1 with errno (EADDRINUSE: somebody does).
 * The probe is closed before the real sockets bind: a process binding in
 * that instant is not seen, which a supervisor that starts one instance
 * at a time never does. */
static int port_is_free(const struct addrinfo *ai, int port)
{
    int fd = bind_at(ai, port, 0, 0);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

int turbo__listen_bind(turbo_server *s, const char *host, int port)
{
    if (port < 0 || port > 65535)
        return TURBO_EINVAL;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_ADDRCONFIG;
    if (host != NULL && host[0] == '\0')
        host = NULL;
    if (host == NULL)
        hints.ai_family = AF_INET;
    if (getaddrinfo(host, "0", &hints, &res) != 0 || res == NULL)
        return TURBO_EADDR;

    int *fds = calloc(s->nthreads, sizeof(int));
    if (fds == NULL) {
        freeaddrinfo(res);
        return TURBO_ENOMEM;
    }
    int rc = TURBO_EADDR;
    for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        unsigned n = 0;
        int bport = port;
        if (port != 0 && s->cfg.exclusive_port && port_is_free(ai, port) != 0)
            continue; /* errno says why; the next address may be free */
        for (; n < s->nthreads; n++) {
            fds[n] = bind_one(ai, bport, s->cfg.backlog);
            if (fds[n] < 0)
                break;
            if (n == 0)
                bport = bound_port(fds[0]); /* port 0: the others join the one picked */
        }
        if (n == s->nthreads) {
            s->listen_fds = fds;
            s->port = bport;
            rc = TURBO_OK;
            break;
        }
        int saved = errno;
        while (n > 0)
            close(fds[--n]);
        errno = saved;
    }
    freeaddrinfo(res);
    if (rc != TURBO_OK)
        free(fds);
    return rc;
}

void turbo__listen_close(turbo_server *s)
{
    /* An adopted fd that no thread closed: the server never ran, or not
     * all of its threads did. Every thread is joined by now. */
    if (s->shared_fd >= 0 && s->shared_owned &&
        atomic_load_explicit(&s->shared_users, memory_order_acquire) > 0) {
        close(s->shared_fd);
        atomic_store_explicit(&s->shared_users, 0, memory_order_relaxed);
    }
    if (s->listen_fds == NULL)
        return;
    for (unsigned i = 0; i < s->nthreads; i++)
        if (s->listen_fds[i] >= 0)
            close(s->listen_fds[i]);
    free(s->listen_fds);
    s->listen_fds = NULL;
}

static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    turbo__thread *t = arg;
    if (t->listen_paused && !t->stopping) {
        t->listen_paused = 0;
        event_add(&t->listen_ev, NULL);
    }
}

/* Out of descriptors: stop polling the listener for a moment rather than
 * spin on a socket that stays readable. */
static void pause_accepting(turbo__thread *t)
{
    if (t->listen_paused)
        return;
    t->listen_paused = 1;
    event_del(&t->listen_ev);
    struct timeval tv = {0, 100 * 1000};
    evtimer_assign(&t->resume_ev, t->base, resume_cb, t);
    evtimer_add(&t->resume_ev, &tv);
}

/* Accepts up to max connections from fd; returns at EAGAIN or an error. */
static void accept_some(turbo__thread *t, int fd, int max)
{
    for (int i = 0; i < max; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof(peer);
        int cfd = accept4(fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                pause_accepting(t);
            return; /* EAGAIN: drained */
        }
        if (t->nconns >= t->server->cfg.max_connections) {
            TURBO__COUNT(t, refused);
            close(cfd);
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (turbo__conn_open(t, cfd, (struct sockaddr *)&peer, plen) != TURBO_OK)
            close(cfd);
    }
}

void turbo__accept_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    turbo__thread *t = arg;
    t->now_ms = turbo__now_ms();
    /* A bounded batch per wake-up keeps one busy listener from starving
     * the connections this thread already serves. */
    if (!t->stopping)
        accept_some(t, fd, 64);
}

void turbo__accept_drain(turbo__thread *t)
{
    /* Connections the kernel completed on this thread's own socket wait in
     * its accept queue; closing the socket later would reset them. Taken
     * now, they are served like any connection accepted before the stop.
     * Then the socket is closed at once rather than at turbo_server_free():
     * with SO_REUSEPORT the kernel sends new connections to the sockets
     * still open (another process on the port, one being restarted)
     * instead of queueing them here to be reset. An inherited socket is
     * left alone: it outlives this server (systemd holds it), and the next
     * server accepts its queue; unless it was adopted (a worker process's
     * own copy of its supervisor's socket), when it is drained like the
     * others and closed by the last thread that watched it. */
    turbo_server *s = t->server;
    if (t->listen_fd < 0)
        return;
    if (s->shared_fd >= 0) {
        if (!s->shared_owned)
            return;
        accept_some(t, t->listen_fd, INT_MAX);
        t->listen_fd = -1;
        /* Every thread accepts from the one fd until its own stop (its
         * listen event is deleted before this drain). The fetch_sub is
         * acq_rel: each thread's accepts happen before its decrement, and
         * the thread that takes the count to 0 acquires them all before
         * it closes, so no accept() or epoll registration of another
         * thread can meet the closed (or reused) descriptor. */
        if (atomic_fetch_sub_explicit(&s->shared_users, 1, memory_order_acq_rel) == 1)
            close(s->shared_fd);
        return;
    }
    if (s->listen_fds == NULL)
        return;
    accept_some(t, t->listen_fd, INT_MAX); /* until EAGAIN: all of the queue */
    close(t->listen_fd);
    s->listen_fds[t->index] = -1; /* this thread's slot: nobody else writes it */
    t->listen_fd = -1;
}
