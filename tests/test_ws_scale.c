/*
 * 10,000 idle WebSocket connections on one server process (issue 17):
 * what each costs in the server's memory, that a broadcast from the server
 * reaches every one of them exactly once, and that all of them close
 * cleanly (1000) and leave no connection behind.
 *
 * The server runs in a child process (fork, then a fresh server there: no
 * thread crosses the fork), so that its RSS is its own and each process
 * needs only one descriptor per connection. The child's routes:
 *   GET  /ws         accepts, and files the ws in its I/O thread's list;
 *   POST /broadcast  posts one send job to every I/O thread's loop (each
 *                    ws call on the ws's own thread) and answers, once
 *                    all have run, the number of connections sent to;
 *   GET  /stats      "open=<connections open> ws=<live ws> closed1000=<n>
 *                    closed=<n>".
 * The parent is the client: one epoll loop over non-blocking sockets,
 * connecting at most IN_FLIGHT at a time (the listen backlog), from
 * SOURCES loopback addresses (ephemeral ports are per source address). Public ABI
 * only; the broadcast's timing is bench/ws.sh's, never this test's.
 *
 * Skipped (exit 77) when RLIMIT_NOFILE's hard limit cannot hold the
 * connections. Under AddressSanitizer the RSS bound is not asserted (its
 * shadow memory and quarantine are not the library's), only printed.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

#define CONNS 10000
#define IN_FLIGHT 256         /* handshakes in flight at once */
#define RSS_BOUND_KIB 64      /* per idle connection: a generous sanity bound */
#define FD_MARGIN 64          /* the descriptors beside the connections */
#define SOURCES 4             /* client source addresses: 127.0.0.1 .. 127.0.0.4 */
#define DEADLINE_MS 60000     /* for each phase; a passing run takes ~1 s each */
#define MESSAGE "one message for everyone"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ---- the server (child process): no Check assertions here ------------- */

/* The connections of one I/O thread, touched by that thread only. */
typedef struct peers {
    turbo_ws **ws;
    size_t n, cap;
} peers;

static turbo_server *server;
static pthread_mutex_t loops_lock = PTHREAD_MUTEX_INITIALIZER;
static turbo_loop *loops[64];
static peers *loop_peers[64]; /* loops[i]'s list, freed after the stop */
static size_t nloops;
static _Atomic long live, closed_normal, closed_all;

static void die(const char *what)
{
    fprintf(stderr, "test_ws_scale server: %s\n", what);
    _exit(2);
}

static peers *thread_peers(turbo_loop *l)
{
    peers *p = turbo_loop_data(l);
    if (p != NULL)
        return p;
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        die("out of memory");
    turbo_loop_set_data(l, p);
    pthread_mutex_lock(&loops_lock);
    if (nloops == sizeof(loops) / sizeof(loops[0]))
        die("too many I/O threads");
    loop_peers[nloops] = p;
    loops[nloops++] = l;
    pthread_mutex_unlock(&loops_lock);
    return p;
}

/* ws data: its index in its thread's list, plus one. */
static void on_close(turbo_ws *ws, int code, const char *reason, size_t len, void *ud)
{
    (void)reason, (void)len;
    peers *p = turbo_loop_data(turbo_ws_loop(ws));
    size_t i = (uintptr_t)ud - 1;
    if (p == NULL || i >= p->n || p->ws[i] != ws)
        die("a closed ws is not where it was filed");
    p->ws[i] = p->ws[--p->n];
    turbo_ws_set_data(p->ws[i], (void *)(uintptr_t)(i + 1));
    atomic_fetch_sub(&live, 1);
    if (code == 1000)
        atomic_fetch_add(&closed_normal, 1);
    atomic_fetch_add(&closed_all, 1);
}

static int ws_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    peers *p = thread_peers(turbo_request_loop(req));
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 1024;
        turbo_ws **grown = realloc(p->ws, cap * sizeof(*grown));
        if (grown == NULL)
            return TURBO_ENOMEM;
        p->ws = grown;
        p->cap = cap;
    }
    turbo_ws *ws = turbo_ws_accept(req, res, NULL, on_close, (void *)(uintptr_t)(p->n + 1), NULL);
    if (ws == NULL)
        return TURBO_OK; /* its 400 or 426 goes */
    p->ws[p->n++] = ws;
    atomic_fetch_add(&live, 1);
    return TURBO_OK;
}

/* One broadcast: a job per I/O thread; the last one to finish answers. */
typedef struct broadcast {
    turbo_deferred *d;
    _Atomic size_t pending;
    _Atomic long sent, failed;
} broadcast;

typedef struct job {
    broadcast *b;
    turbo_loop *loop;
} job;

static void send_job(void *ud)
{
    job *j = ud;
    broadcast *b = j->b;
    peers *p = turbo_loop_data(j->loop);
    long sent = 0, failed = 0;
    for (size_t i = 0; p != NULL && i < p->n; i++) {
        int rc = turbo_ws_send(p->ws[i], 0, MESSAGE, strlen(MESSAGE));
        if (rc == TURBO_OK || rc == TURBO_FULL)
            sent++;
        else
            failed++;
    }
    free(j);
    atomic_fetch_add(&b->sent, sent);
    atomic_fetch_add(&b->failed, failed);
    if (atomic_fetch_sub(&b->pending, 1) != 1)
        return;
    /* The last job holds d now: set its answer and finish it. */
    char body[64];
    int n = snprintf(body, sizeof(body), "sent=%ld failed=%ld", atomic_load(&b->sent),
                     atomic_load(&b->failed));
    turbo_response_body(turbo_deferred_response(b->d), body, (size_t)n);
    turbo_deferred_finish(b->d);
    free(b);
}

static int broadcast_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    broadcast *b = calloc(1, sizeof(*b));
    if (b == NULL)
        return TURBO_ENOMEM;
    b->d = turbo_defer(req, res);
    if (b->d == NULL) {
        free(b);
        return TURBO_ENOMEM;
    }
    pthread_mutex_lock(&loops_lock);
    size_t n = nloops;
    turbo_loop *targets[sizeof(loops) / sizeof(loops[0])];
    memcpy(targets, loops, n * sizeof(*targets));
    pthread_mutex_unlock(&loops_lock);
    if (n == 0) {
        turbo_response_body(res, "sent=0 failed=0", 15);
        turbo_deferred_finish(b->d);
        free(b);
        return TURBO_DEFER;
    }
    atomic_store(&b->pending, n);
    for (size_t i = 0; i < n; i++) {
        job *j = malloc(sizeof(*j));
        if (j == NULL)
            die("out of memory");
        j->b = b;
        j->loop = targets[i];
        if (turbo_loop_post(targets[i], send_job, j) != TURBO_OK)
            die("turbo_loop_post failed");
    }
    return TURBO_DEFER;
}

static int stats_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    char body[128];
    int n = snprintf(body, sizeof(body), "open=%" PRIu64 " ws=%ld closed1000=%ld closed=%ld",
                     turbo_server_stat(server, TURBO_STAT_CONNECTIONS_OPEN), atomic_load(&live),
                     atomic_load(&closed_normal), atomic_load(&closed_all));
    return turbo_response_body(res, body, (size_t)n);
}

/* The child: serves on 2 I/O threads, writes its port to `ready`, and
 * stops when `quit` reaches EOF (the parent closed it, or died). */
static void serve(int ready, int quit)
{
    turbo_config *cfg = turbo_config_new();
    if (cfg == NULL || turbo_config_set_threads(cfg, 2) != TURBO_OK)
        die("config");
    server = turbo_server_new(cfg);
    turbo_config_free(cfg);
    if (server == NULL || turbo_server_listen(server, "127.0.0.1", 0) != TURBO_OK ||
        turbo_route_add(server, "GET", "/ws", ws_route, NULL) != TURBO_OK ||
        turbo_route_add(server, "POST", "/broadcast", broadcast_route, NULL) != TURBO_OK ||
        turbo_route_add(server, "GET", "/stats", stats_route, NULL) != TURBO_OK ||
        turbo_server_start(server) != TURBO_OK)
        die("start");
    int port = turbo_server_port(server);
    if (write(ready, &port, sizeof(port)) != (ssize_t)sizeof(port))
        die("write port");
    close(ready);
    char byte;
    while (read(quit, &byte, 1) != 0 && errno == EINTR)
        ;
    turbo_server_stop(server);
    if (turbo_server_wait(server) != TURBO_OK)
        die("wait");
    turbo_server_free(server);
    for (size_t i = 0; i < nloops; i++) {
        free(loop_peers[i]->ws);
        free(loop_peers[i]);
    }
}

/* ---- the client (the test's process) ----------------------------------- */

enum { S_CONNECTING, S_HANDSHAKE, S_IDLE, S_RECEIVED, S_CLOSING, S_DONE };

typedef struct conn {
    int fd;
    int state;
    size_t len;
    char buf[512];
} conn;

static const char handshake[] = "GET /ws HTTP/1.1\r\n"
                                "Host: 127.0.0.1\r\n"
                                "Upgrade: websocket\r\n"
                                "Connection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 13\r\n\r\n";

static conn *conns;
static int ep, port;
static size_t started, opened, received, done;
static client *http; /* one keep-alive connection for /stats and /broadcast */
static response *answer;

static void start_connect(size_t i)
{
    conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ck_assert_msg(c->fd >= 0, "socket #%zu: %s", i, strerror(errno));
    /* From 127.0.0.1 .. 127.0.0.<SOURCES> in turn, the port chosen at connect: each
     * source address has its own ephemeral ports. */
    int one = 1;
    ck_assert_int_eq(setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one)), 0);
    struct sockaddr_in from = {.sin_family = AF_INET};
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK + (uint32_t)(i % SOURCES));
    ck_assert_msg(bind(c->fd, (struct sockaddr *)&from, sizeof(from)) == 0, "bind #%zu: %s", i,
                  strerror(errno));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = connect(c->fd, (struct sockaddr *)&to, sizeof(to));
    ck_assert_msg(rc == 0 || errno == EINPROGRESS, "connect #%zu: %s", i, strerror(errno));
    c->state = S_CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = i};
    ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev), 0);
}

/* Reads what is there into c->buf: the bytes read, 0 at EOF, -1 when
 * nothing is there now. A full buffer fails: no answer here is that long. */
static ssize_t fill(size_t i)
{
    conn *c = &conns[i];
    ck_assert_msg(c->len < sizeof(c->buf), "#%zu: more than %zu bytes unread", i, sizeof(c->buf));
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return -1;
    ck_assert_msg(n >= 0, "#%zu: recv: %s", i, strerror(errno));
    c->len += (size_t)n;
    return n;
}

static void on_event(size_t i, uint32_t events)
{
    conn *c = &conns[i];
    switch (c->state) {
    case S_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof(err);
        ck_assert_int_eq(getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len), 0);
        ck_assert_msg(err == 0, "connect #%zu: %s", i, strerror(err));
        ssize_t n = send(c->fd, handshake, sizeof(handshake) - 1, MSG_NOSIGNAL);
        ck_assert_msg(n == (ssize_t)sizeof(handshake) - 1, "handshake #%zu: %s", i,
                      n < 0 ? strerror(errno) : "short write");
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev), 0);
        c->state = S_HANDSHAKE;
        return;
    }
    case S_HANDSHAKE: {
        ssize_t n = fill(i);
        ck_assert_msg(n != 0, "#%zu: closed before the 101", i);
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (end == NULL)
            return;
        *end = '\0';
        ck_assert_msg(strncmp(c->buf, "HTTP/1.1 101 ", 13) == 0, "#%zu answered: %s", i, c->buf);
        ck_assert_msg(strstr(c->buf, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != NULL,
                      "#%zu: no right Sec-WebSocket-Accept in: %s", i, c->buf);
        ck_assert_msg((size_t)(end + 4 - c->buf) == c->len, "#%zu: bytes after the 101", i);
        c->len = 0;
        c->state = S_IDLE;
        opened++;
        return;
    }
    case S_IDLE:
    case S_RECEIVED: {
        /* The broadcast's one frame: FIN + text, its length, the text. */
        static const char frame[] = "\x81\x18" MESSAGE;
        _Static_assert(sizeof(MESSAGE) - 1 == 0x18, "the frame's length byte");
        ck_assert_msg(c->state == S_IDLE && received < CONNS, "#%zu: bytes after the broadcast", i);
        ck_assert_msg(fill(i) != 0, "#%zu: closed while idle", i);
        ck_assert_msg(memcmp(c->buf, frame, c->len < sizeof(frame) - 1 ? c->len : sizeof(frame) - 1) == 0 &&
                          c->len <= sizeof(frame) - 1,
                      "#%zu: received other bytes than the broadcast (%zu bytes)", i, c->len);
        if (c->len == sizeof(frame) - 1) {
            c->len = 0;
            c->state = S_RECEIVED;
            received++;
        }
        return;
    }
    case S_CLOSING: {
        /* The server's close (1000, no reason), then its EOF. */
        ssize_t n = fill(i);
        if (n < 0)
            return;
        if (n > 0) {
            ck_assert_msg(c->len <= 4 && memcmp(c->buf, "\x88\x02\x03\xe8", c->len) == 0,
                          "#%zu: not the close frame 1000", i);
            return;
        }
        ck_assert_msg(c->len == 4, "#%zu: EOF after %zu bytes of the close frame", i, c->len);
        ck_assert_int_eq(epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL), 0);
        close(c->fd);
        c->fd = -1;
        c->state = S_DONE;
        done++;
        return;
    }
    default:
        ck_abort_msg("#%zu: event %#x on a finished connection", i, events);
    }
}

/* Runs the loop until *count reaches want (starting connects meanwhile
 * while `connect_more`), or fails at the deadline. */
static void pump(size_t *count, size_t want, int connect_more, const char *phase)
{
    struct epoll_event evs[256];
    uint64_t end = now_ms() + DEADLINE_MS;
    while (*count < want) {
        while (connect_more && started < CONNS && started - opened < IN_FLIGHT)
            start_connect(started++);
        ck_assert_msg(now_ms() < end, "%s: %zu of %zu after %d ms", phase, *count, want, DEADLINE_MS);
        int n = epoll_wait(ep, evs, 256, 100);
        ck_assert_msg(n >= 0 || errno == EINTR, "epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++)
            on_event((size_t)evs[k].data.u64, evs[k].events);
    }
}

static void get(const char *request, int status, const char *body)
{
    exchange(http, request, answer);
    ck_assert_int_eq(answer->status, status);
    ck_assert_str_eq(answer->body, body);
}

/* Asks /stats until it answers `want` (the server's counters settle after
 * the client saw the bytes), then asserts it. */
static void stats_settle(const char *want)
{
    uint64_t end = now_ms() + DEADLINE_MS;
    for (;;) {
        exchange(http, "GET /stats HTTP/1.1\r\nHost: t\r\n\r\n", answer);
        ck_assert_int_eq(answer->status, 200);
        if (strcmp(answer->body, want) == 0 || now_ms() > end)
            break;
        sleep_ms(10);
    }
    ck_assert_str_eq(answer->body, want);
}

static long rss_kib(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    long size, resident;
    ck_assert_int_eq(fscanf(f, "%ld %ld", &size, &resident), 2);
    fclose(f);
    return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

START_TEST(ten_thousand_idle_websockets_get_one_broadcast_and_close_cleanly)
{
    int ready[2], quit[2];
    ck_assert_int_eq(pipe2(ready, O_CLOEXEC), 0);
    ck_assert_int_eq(pipe2(quit, O_CLOEXEC), 0);
    pid_t child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        close(ready[0]);
        close(quit[1]);
        serve(ready[1], quit[0]);
        _exit(0);
    }
    close(ready[1]);
    close(quit[0]);
    ck_assert_int_eq(read(ready[0], &port, sizeof(port)), (ssize_t)sizeof(port));
    close(ready[0]);

    conns = calloc(CONNS, sizeof(*conns));
    http = malloc(sizeof(*http));
    answer = response_new();
    ck_assert_ptr_nonnull(conns);
    ck_assert_int_eq(try_client_open(http, port, 30), 0);
    ep = epoll_create1(EPOLL_CLOEXEC);
    ck_assert_int_ge(ep, 0);
    stats_settle("open=1 ws=0 closed1000=0 closed=0");
    long before = rss_kib(child);

    /* Open them all; then they stay idle: nothing arrives for 500 ms. */
    pump(&opened, CONNS, 1, "handshakes");
    stats_settle("open=10001 ws=10000 closed1000=0 closed=0");
    struct epoll_event ev;
    ck_assert_int_eq(epoll_wait(ep, &ev, 1, 500), 0);
    long after = rss_kib(child);
    double per_conn = (after - before) * 1024.0 / CONNS;
    printf("test_ws_scale: server RSS %ld KiB -> %ld KiB with %d idle WebSockets: %.0f bytes per "
           "connection%s\n",
           before, after, CONNS, per_conn, UNDER_ASAN ? " (AddressSanitizer: not asserted)" : "");
    fflush(stdout);
    if (!UNDER_ASAN)
        ck_assert_msg(per_conn < RSS_BOUND_KIB * 1024.0, "%.0f bytes per idle connection", per_conn);

    /* One message from the server to all of them, exactly once each. */
    get("POST /broadcast HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", 200,
        "sent=10000 failed=0");
    pump(&received, CONNS, 0, "broadcast");
    ck_assert_int_eq(epoll_wait(ep, &ev, 1, 100), 0); /* and nothing more */

    /* Every client closes with 1000; the server answers 1000 and hangs up. */
    static const unsigned char close_frame[] = {0x88, 0x82, 0x11, 0x22, 0x33, 0x44,
                                                0x03 ^ 0x11, 0xe8 ^ 0x22};
    for (size_t i = 0; i < CONNS; i++) {
        ssize_t n = send(conns[i].fd, close_frame, sizeof(close_frame), MSG_NOSIGNAL);
        ck_assert_msg(n == (ssize_t)sizeof(close_frame), "close #%zu", i);
        conns[i].state = S_CLOSING;
    }
    pump(&done, CONNS, 0, "closes");
    stats_settle("open=1 ws=0 closed1000=10000 closed=10000");

    client_close(http);
    close(quit[1]); /* the server stops */
    int status;
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "server exit status %#x", status);
    close(ep);
    free(conns);
    free(answer);
}
END_TEST

int main(void)
{
    /* Each process holds one descriptor per connection, and a few more. */
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) {
        perror("getrlimit");
        return EXIT_FAILURE;
    }
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < CONNS + FD_MARGIN) {
        printf("test_ws_scale: SKIPPED: RLIMIT_NOFILE's hard limit is %llu, below the %d "
               "descriptors %d connections need (raise it: ulimit -Hn)\n",
               (unsigned long long)lim.rlim_max, CONNS + FD_MARGIN, CONNS);
        return 77;
    }
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        perror("setrlimit");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("ws_scale");
    TCase *tc = tcase_create("scale");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, ten_thousand_idle_websockets_get_one_broadcast_and_close_cleanly);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
