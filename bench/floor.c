/*
 * floor: the syscall floor of an HTTP/1.1 keep-alive server, for
 * bench/peers.sh. One thread, level-triggered epoll: accept, read whatever
 * arrived, count the requests in it by their "\r\n\r\n" terminators (no
 * parsing beyond that; a terminator split over two reads is still counted
 * once), and answer each with one canned complete response, all of a read's
 * answers in one write(). TCP_NODELAY on every connection.
 *
 * Not an HTTP server: it answers anything that ends in a blank line, on any
 * path, and ignores bodies. It exists to show what the kernel work alone
 * costs per request (one read + one write + a share of an epoll_wait).
 *
 * usage: floor [--port PORT] [--headers LINES]
 *   binds 127.0.0.1 (default port 18100); LINES (each ending in CRLF) go
 *   after the status line, e.g. turbo-hello's Server and Date lines, to
 *   measure what those bytes cost the client (bench/anomaly.sh).
 * On SIGINT/SIGTERM/SIGUSR1 it prints "floor: requests N" to stderr
 * (SIGUSR1 keeps serving), the counter bench/peers.sh checks wrk against.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char STATUS[] = "HTTP/1.1 200 OK\r\n";
static const char RESPONSE[] = "Content-Type: application/json\r\n"
                               "Content-Length: 27\r\n"
                               "\r\n"
                               "{\"message\":\"Hello, World!\"}";
#define COPIES 64 /* responses one write() can carry from the canned buffer */

struct conn {
    int fd;
    int match;        /* how much of "\r\n\r\n" the bytes so far end with */
    uint64_t owed;    /* response bytes not yet written */
    uint64_t offset;  /* position in the endless stream of responses */
    int want_out;     /* EPOLLOUT registered */
};

static char *canned; /* COPIES responses of resp_len bytes */
static size_t resp_len, canned_len;
static volatile sig_atomic_t stop_flag, report_flag;
static uint64_t requests;

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        report_flag = 1;
    else
        stop_flag = 1;
}

static void close_conn(int ep, struct conn *c)
{
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Writes what is owed; returns -1 when the connection must close. */
static int flush_conn(int ep, struct conn *c)
{
    while (c->owed > 0) {
        size_t pos = c->offset % resp_len;
        size_t n = canned_len - pos;
        if (n > c->owed)
            n = (size_t)c->owed;
        ssize_t w = write(c->fd, canned + pos, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return -1;
            if (!c->want_out) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                c->want_out = 1;
            }
            return 0;
        }
        c->owed -= (uint64_t)w;
        c->offset += (uint64_t)w;
    }
    if (c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = 0;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int port = 18100;
    const char *headers = "";
    for (int a = 1; a < argc; a += 2) {
        if (a + 1 < argc && strcmp(argv[a], "--port") == 0)
            port = atoi(argv[a + 1]);
        else if (a + 1 < argc && strcmp(argv[a], "--headers") == 0)
            headers = argv[a + 1];
        else {
            fprintf(stderr, "usage: %s [--port PORT] [--headers LINES]\n", argv[0]);
            return 2;
        }
    }
    size_t hl = strlen(headers);
    resp_len = sizeof(STATUS) - 1 + hl + sizeof(RESPONSE) - 1;
    canned_len = resp_len * COPIES;
    canned = malloc(canned_len);
    if (canned == NULL)
        return 1;
    for (size_t i = 0; i < COPIES; i++) {
        char *r = canned + i * resp_len;
        memcpy(r, STATUS, sizeof(STATUS) - 1);
        memcpy(r + sizeof(STATUS) - 1, headers, hl);
        memcpy(r + sizeof(STATUS) - 1 + hl, RESPONSE, sizeof(RESPONSE) - 1);
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(lfd, 1024) != 0) {
        perror("floor: bind/listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev);
    fprintf(stderr, "floor: serving on http://127.0.0.1:%d/\n", port);

    static char buf[65536];
    struct epoll_event evs[256];
    while (!stop_flag) {
        if (report_flag) {
            report_flag = 0;
            fprintf(stderr, "floor: requests %llu\n", (unsigned long long)requests);
        }
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("floor: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) { /* the listener */
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd < 0)
                        break;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    c = calloc(1, sizeof(*c));
                    if (c == NULL) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
                }
                continue;
            }
            if (evs[i].events & EPOLLOUT) {
                if (flush_conn(ep, c) != 0) {
                    close_conn(ep, c);
                    continue;
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            ssize_t r = read(c->fd, buf, sizeof(buf));
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0) {
                close_conn(ep, c);
                continue;
            }
            uint64_t got = 0;
            int m = c->match;
            for (ssize_t k = 0; k < r; k++) {
                char ch = buf[k];
                if (ch == ((m & 1) ? '\n' : '\r')) {
                    if (++m == 4) {
                        got++;
                        m = 0;
                    }
                } else {
                    m = ch == '\r' ? 1 : 0;
                }
            }
            c->match = m;
            requests += got;
            c->owed += got * resp_len;
            if (got > 0 && !c->want_out && flush_conn(ep, c) != 0)
                close_conn(ep, c);
        }
    }
    fprintf(stderr, "floor: requests %llu\n", (unsigned long long)requests);
    return 0;
}
