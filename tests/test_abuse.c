/*
 * Slow and abusive clients, against a live in-process server on
 * 127.0.0.1 (public ABI only).
 *
 * What each test holds the server to:
 *   - slowloris: hundreds of connections trickling a head one byte a
 *     second are all cut off by the header timeout (408, then EOF), each
 *     counted once as a timeout, while an ordinary client keeps getting
 *     its answers;
 *   - a pipelining client that never reads cannot make the server's
 *     memory grow with the number of requests it sends (parsing stops
 *     once OUT_HIGH_WATER bytes are queued and the socket is full), and it
 *     is dropped after the write timeout;
 *   - connections past max-connections are accepted and closed (EOF),
 *     counted, and service goes on; a freed slot is usable again;
 *   - half-closed and reset connections: responses still arrive, nothing
 *     leaks (open-connection counter and this process's descriptors
 *     return to where they were).
 *
 * Timing decides pass/fail only through generous upper bounds. Client
 * sockets have receive timeouts, so a silent server fails a test instead
 * of hanging it.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

#define CLIENT_TIMEOUT_S 10

/* ======================================================================
 * Routes
 * ==================================================================== */

static const char ROOT_BODY[] = "root\n";
#define BIG_LEN (64 * 1024)
static char big_body[BIG_LEN];

static atomic_int big_calls;    /* GET /big handler calls */
static atomic_int slow_entered; /* GET /slow handlers that have started */

static int root_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    return turbo_response_body(res, ROOT_BODY, sizeof(ROOT_BODY) - 1);
}

/* 64 KiB, copied into the connection's output like most handlers' bodies. */
static int big_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    atomic_fetch_add(&big_calls, 1);
    return turbo_response_body(res, big_body, BIG_LEN);
}

static int slow_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    atomic_fetch_add(&slow_entered, 1);
    sleep_ms(300);
    return turbo_response_body(res, "slow\n", 5);
}

/* Every server here has these routes (server_started). */
static const test_route routes[] = {
    {"GET", "/", root_handler},
    {"GET", "/big", big_handler},
    {"GET", "/slow", slow_handler},
    {NULL},
};

/* ======================================================================
 * Client: http_client.h, and this suite's reads on plain descriptors
 * ==================================================================== */

/* Reads until EOF into buf (NUL-terminated, at most cap - 1 bytes kept).
 * Returns the bytes received, or -1 on a timeout or reset. */
static ssize_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        char tmp[4096];
        ssize_t n = recv(fd, tmp, sizeof(tmp), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        size_t keep = (size_t)n < cap - 1 - len ? (size_t)n : cap - 1 - len;
        memcpy(buf + len, tmp, keep);
        len += keep;
    }
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Reads one response of body "root\n" (status 200) on a keep-alive
 * connection, exactly its bytes and no more. 0 when it came, -1 if not
 * (error text in err). Safe on any thread: no Check assertions. */
static int read_root(int fd, char *err, size_t errlen)
{
    char buf[1024];
    size_t len = 0;
    char *end = NULL;
    while (end == NULL) {
        if (len == sizeof(buf)) {
            snprintf(err, errlen, "head too long");
            return -1;
        }
        ssize_t n = recv(fd, buf + len, 1, 0); /* byte by byte: never read past it */
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "no response: %s", n == 0 ? "EOF" : strerror(errno));
            return -1;
        }
        len++;
        end = len >= 4 ? memmem(buf, len, "\r\n\r\n", 4) : NULL;
    }
    if (strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) != 0 ||
        memmem(buf, len, "\r\nContent-Length: 5\r\n", 21) == NULL) {
        snprintf(err, errlen, "unexpected head \"%.*s\"", (int)len, buf);
        return -1;
    }
    char body[5];
    size_t got = 0;
    while (got < sizeof(body)) {
        ssize_t n = recv(fd, body + got, sizeof(body) - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "body cut short");
            return -1;
        }
        got += (size_t)n;
    }
    if (memcmp(body, ROOT_BODY, 5) != 0) {
        snprintf(err, errlen, "body \"%.5s\"", body);
        return -1;
    }
    return 0;
}

static void assert_root_on(int fd)
{
    char err[256];
    send_str_fd(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_msg(read_root(fd, err, sizeof(err)) == 0, "GET /: %s", err);
}

/* A new connection gets a clean 200 for GET /. */
static void assert_new_connection_served(turbo_server *s)
{
    int fd = connect_to(s, CLIENT_TIMEOUT_S);
    assert_root_on(fd);
    close(fd);
}

static size_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    ck_assert_ptr_nonnull(d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Resident set size of this process (the server runs in it), in bytes. */
static size_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    ck_assert_ptr_nonnull(f);
    unsigned long size = 0, resident = 0;
    ck_assert_int_eq(fscanf(f, "%lu %lu", &size, &resident), 2);
    fclose(f);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* Closes fd with SO_LINGER 0: the peer gets RST, not FIN. */
static void reset_close(int fd)
{
    struct linger lg = {1, 0};
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(fd);
}

/* ======================================================================
 * An ordinary client on its own thread, for tests that attack the
 * server from the main one. It asserts nothing itself (Check assertions
 * belong to the test's thread): it records, the test checks.
 * ==================================================================== */

typedef struct steady_client {
    turbo_server *server;
    atomic_int stop;
    int answered;        /* requests answered with the exact 200 */
    int failed;          /* requests that were not */
    uint64_t slowest_ms; /* longest request, connect to last byte */
    char first_error[256];
    pthread_t thread;
} steady_client;

static void *steady_main(void *arg)
{
    steady_client *sc = arg;
    while (!atomic_load(&sc->stop)) {
        uint64_t t0 = now_ms();
        char err[256] = "";
        int ok = -1;
        int fd = try_connect(turbo_server_port(sc->server), CLIENT_TIMEOUT_S);
        static const char get[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        if (fd < 0) {
            snprintf(err, sizeof(err), "connect: %s", strerror(errno));
        } else if (try_send(fd, get, sizeof(get) - 1) != 0) {
            snprintf(err, sizeof(err), "send: %s", strerror(errno));
        } else {
            ok = read_root(fd, err, sizeof(err));
        }
        if (fd >= 0)
            close(fd);
        uint64_t took = now_ms() - t0;
        if (took > sc->slowest_ms)
            sc->slowest_ms = took;
        if (ok == 0) {
            sc->answered++;
        } else {
            if (sc->failed++ == 0)
                snprintf(sc->first_error, sizeof(sc->first_error), "%s", err);
        }
        sleep_ms(50);
    }
    return NULL;
}

static void steady_start(steady_client *sc, turbo_server *s)
{
    memset(sc, 0, sizeof(*sc));
    sc->server = s;
    ck_assert_int_eq(pthread_create(&sc->thread, NULL, steady_main, sc), 0);
}

static void steady_stop(steady_client *sc)
{
    atomic_store(&sc->stop, 1);
    ck_assert_int_eq(pthread_join(sc->thread, NULL), 0);
}

/* ======================================================================
 * Slowloris
 * ==================================================================== */

#define SLOW_CONNS 500
#define SLOW_HEADER_TIMEOUT_MS 2000
/* Generous: the header timeout, plus the sweep's 25% slack, plus a lot. */
#define SLOW_DEADLINE_MS 12000

/* Enough descriptors for both ends of every connection plus slack. A limit
 * that cannot be raised fails the test: nothing is skipped silently. */
static void ensure_fd_limit(rlim_t want)
{
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur >= want)
        return;
    ck_assert_msg(rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want,
                  "need %lu file descriptors, the hard limit is %lu", (unsigned long)want,
                  (unsigned long)rl.rlim_max);
    rl.rlim_cur = want;
    ck_assert_msg(setrlimit(RLIMIT_NOFILE, &rl) == 0, "setrlimit: %s", strerror(errno));
}

typedef struct slow_conn {
    int fd;        /* -1 once closed by the server and by us */
    size_t got;    /* response bytes received */
    char head[32]; /* their start */
    int reset;     /* recv said ECONNRESET instead of EOF */
} slow_conn;

START_TEST(slowloris_connections_time_out_while_a_normal_client_is_served)
{
    ensure_fd_limit(2 * SLOW_CONNS + 256);
    turbo_config *cfg = config_with_threads(2);
    ck_assert_int_eq(turbo_config_set_header_timeout_ms(cfg, SLOW_HEADER_TIMEOUT_MS), TURBO_OK);
    turbo_server *s = server_started(cfg, routes);

    /* A head that never ends: one byte per connection per second, the
     * first one as soon as the connection is up. */
    static const char trickle[] =
        "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    static slow_conn conns[SLOW_CONNS];
    static struct pollfd pfds[SLOW_CONNS];
    uint64_t start = now_ms();
    for (int i = 0; i < SLOW_CONNS; i++) {
        conns[i].fd = connect_to(s, CLIENT_TIMEOUT_S);
        ck_assert_int_eq(send(conns[i].fd, trickle, 1, MSG_NOSIGNAL), 1);
        ck_assert_int_eq(fcntl(conns[i].fd, F_SETFL, O_NONBLOCK), 0);
        conns[i].got = 0;
        conns[i].reset = 0;
    }
    assert_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED, SLOW_CONNS);

    steady_client sc;
    steady_start(&sc, s);

    size_t next_byte = 1;
    uint64_t next_send = start + 1000;
    int open = SLOW_CONNS;
    while (open > 0 && now_ms() - start < SLOW_DEADLINE_MS) {
        if (now_ms() >= next_send) {
            ck_assert_uint_lt(next_byte, sizeof(trickle) - 1);
            for (int i = 0; i < SLOW_CONNS; i++) {
                if (conns[i].fd < 0)
                    continue;
                ssize_t n = send(conns[i].fd, trickle + next_byte, 1, MSG_NOSIGNAL);
                /* The server may have just answered and shut its side; a
                 * refused byte is then the client's problem, not a
                 * failure. Anything else is. */
                ck_assert_msg(n == 1 || errno == EPIPE || errno == ECONNRESET,
                              "send to slow connection %d: %s", i, strerror(errno));
            }
            next_byte++;
            next_send += 1000;
        }
        int np = 0;
        int idx[SLOW_CONNS];
        for (int i = 0; i < SLOW_CONNS; i++) {
            if (conns[i].fd < 0)
                continue;
            pfds[np].fd = conns[i].fd;
            pfds[np].events = POLLIN;
            pfds[np].revents = 0;
            idx[np++] = i;
        }
        int r = poll(pfds, (nfds_t)np, 100);
        ck_assert_int_ge(r, 0);
        for (int k = 0; k < np && r > 0; k++) {
            if (pfds[k].revents == 0)
                continue;
            slow_conn *c = &conns[idx[k]];
            char buf[512];
            ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
            if (n > 0) {
                size_t keep = sizeof(c->head) - c->got;
                if (keep > (size_t)n)
                    keep = (size_t)n;
                if (c->got < sizeof(c->head))
                    memcpy(c->head + c->got, buf, keep);
                c->got += (size_t)n;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            c->reset = n < 0;
            close(c->fd);
            c->fd = -1;
            open--;
        }
    }
    uint64_t took = now_ms() - start;
    steady_stop(&sc);

    ck_assert_msg(sc.failed == 0, "normal client: %d of %d requests failed, first: %s", sc.failed,
                  sc.failed + sc.answered, sc.first_error);
    ck_assert_int_ge(sc.answered, 1);
    ck_assert_uint_lt(sc.slowest_ms, CLIENT_TIMEOUT_S * 1000);

    int timed_out = 0, resets = 0, still_open = 0;
    for (int i = 0; i < SLOW_CONNS; i++) {
        static const char want[] = "HTTP/1.1 408 Request Timeout\r\n";
        if (conns[i].fd >= 0) {
            still_open++;
            close(conns[i].fd);
            continue;
        }
        resets += conns[i].reset;
        timed_out +=
            conns[i].got >= sizeof(want) - 1 && memcmp(conns[i].head, want, sizeof(want) - 1) == 0;
    }
    ck_assert_msg(still_open == 0, "%d slow connections still open after %llu ms", still_open,
                  (unsigned long long)took);
    ck_assert_int_eq(resets, 0);
    /* Every one had sent part of a head: each is told why (408). */
    ck_assert_int_eq(timed_out, SLOW_CONNS);
    /* None went before its time: the trickle went on for the timeout. */
    ck_assert_uint_ge(next_byte, SLOW_HEADER_TIMEOUT_MS / 1000);
    assert_stat(s, TURBO_STAT_TIMEOUTS, SLOW_CONNS);
    assert_stat(s, TURBO_STAT_BAD_REQUESTS, SLOW_CONNS); /* the 408s */

    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    /* The slow connections were counted once each; the normal client's
     * connections never timed out. */
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_TIMEOUTS), SLOW_CONNS);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED),
                      SLOW_CONNS + (uint64_t)sc.answered);
    assert_new_connection_served(s);
    stop_and_free(s);
}
END_TEST

/* A client that gets its 408 but keeps its socket open (no EOF, no more
 * bytes) is closed when the server's linger ends, and still counts as
 * one timeout, not two. */
START_TEST(timed_out_client_that_never_closes_counts_once)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_header_timeout_ms(cfg, 200), TURBO_OK);
    turbo_server *s = server_started(cfg, routes);
    int fd = connect_to(s, CLIENT_TIMEOUT_S);
    send_str_fd(fd, "GET / HTTP/1.1\r\nHo");
    char buf[512];
    ssize_t n = read_all(fd, buf, sizeof(buf)); /* the 408, then the server's FIN */
    ck_assert_int_gt(n, 0);
    ck_assert_msg(strncmp(buf, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0, "got \"%s\"", buf);
    assert_stat(s, TURBO_STAT_TIMEOUTS, 1);
    /* The server lingers (2 s at most) waiting for our EOF, then closes. */
    assert_stat_within(s, TURBO_STAT_CONNECTIONS_OPEN, 0, 6000);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_TIMEOUTS), 1);
    close(fd);
    stop_and_free(s);
}
END_TEST

/* ======================================================================
 * A pipelining client that never reads
 * ==================================================================== */

#define NEVER_READ_REQUESTS 4000 /* x 64 KiB: 250 MiB of responses if nothing held it back */
#define WRITE_TIMEOUT_MS 300
/*
 * The per-connection bound. libturbo parses no further once more than
 * OUT_HIGH_WATER (256 KiB) of output is queued and the socket refuses
 * more, so one connection holds at most that plus one response (64 KiB
 * and a head) in its output buffer, which may have doubled while growing,
 * plus its read buffer: under 1 MiB. Allowed here: 4 MiB of RSS growth,
 * a margin for the allocator (measured: about 0.3 MiB), 60 times less
 * than the responses asked for. Under AddressSanitizer freed blocks stay
 * resident in its quarantine, so every buffer the connection ever used
 * counts; those are bounded by what the kernel's socket buffers absorbed
 * (measured: about 9 MiB), and the bound is 32 MiB, still 8 times less
 * than the unbounded case.
 */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_BOUND ((size_t)32 << 20)
#else
#define RSS_BOUND ((size_t)4 << 20)
#endif

/* Under valgrind the process's RSS is mostly valgrind's own (shadow
 * memory, redzones, its allocator), so the RSS bound says nothing there;
 * the count of requests run (below) still shows that parsing stopped. */
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND() 0
#endif

START_TEST(pipelining_client_that_never_reads_is_bounded_then_dropped)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_write_timeout_ms(cfg, WRITE_TIMEOUT_MS), TURBO_OK);
    turbo_server *s = server_started(cfg, routes);

    /* Warm up: the server's pools, and one /big through a reading client. */
    int warm = connect_to(s, CLIENT_TIMEOUT_S);
    send_str_fd(warm, "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    static char sink[BIG_LEN + 4096];
    ck_assert_int_gt(read_all(warm, sink, sizeof(sink)), BIG_LEN);
    close(warm);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    atomic_store(&big_calls, 0);
    size_t baseline = rss_bytes();

    int fd = connect_to(s, CLIENT_TIMEOUT_S);
    ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
    static const char req[] = "GET /big HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t total = NEVER_READ_REQUESTS * (sizeof(req) - 1), sent = 0;
    char *wire = malloc(total);
    ck_assert_ptr_nonnull(wire);
    for (size_t i = 0; i < NEVER_READ_REQUESTS; i++)
        memcpy(wire + i * (sizeof(req) - 1), req, sizeof(req) - 1);

    /* Send what the connection takes, sample the RSS all along, until the
     * server drops the connection (or a generous bound passes). */
    size_t peak = baseline;
    uint64_t start = now_ms();
    int dropped = 0;
    while (now_ms() - start < 10000) {
        if (sent < total) {
            ssize_t n = send(fd, wire + sent, total - sent, MSG_NOSIGNAL);
            if (n > 0)
                sent += (size_t)n;
            else
                ck_assert_msg(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET, "send: %s",
                              strerror(errno));
        }
        size_t rss = rss_bytes();
        if (rss > peak)
            peak = rss;
        if (turbo_server_stat(s, TURBO_STAT_TIMEOUTS) == 1 &&
            turbo_server_stat(s, TURBO_STAT_CONNECTIONS_OPEN) == 0) {
            dropped = 1;
            break;
        }
        sleep_ms(5);
    }
    uint64_t took = now_ms() - start;
    free(wire);
    close(fd);

    ck_assert_msg(dropped, "connection not dropped after %llu ms (timeouts %llu, open %llu)",
                  (unsigned long long)took,
                  (unsigned long long)turbo_server_stat(s, TURBO_STAT_TIMEOUTS),
                  (unsigned long long)turbo_server_stat(s, TURBO_STAT_CONNECTIONS_OPEN));
    ck_assert_msg(UNDER_VALGRIND() || peak - baseline < RSS_BOUND,
                  "RSS grew by %zu KiB (bound %zu KiB) for %d calls of /big",
                  (peak - baseline) >> 10, RSS_BOUND >> 10, atomic_load(&big_calls));
    /* Parsing stopped: far fewer requests were run than were sent. */
    int calls = atomic_load(&big_calls);
    ck_assert_int_ge(calls, 1);
    ck_assert_msg(calls < NEVER_READ_REQUESTS / 4, "%d of %zu requests were run", calls,
                  sent / (sizeof(req) - 1));
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_TIMEOUTS), 1);
    assert_new_connection_served(s);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_TIMEOUTS), 1);
    stop_and_free(s);
}
END_TEST

/* ======================================================================
 * Max connections
 * ==================================================================== */

#define MAX_CONNS 4
#define EXTRA_CONNS 3

/* Reads on a connection the server refused: EOF, nothing before it. */
static void assert_refused(int fd)
{
    char buf[64];
    ssize_t n;
    do
        n = recv(fd, buf, sizeof(buf), 0);
    while (n < 0 && errno == EINTR);
    ck_assert_msg(n == 0, "refused connection: %s", n > 0 ? "got bytes" : strerror(errno));
}

START_TEST(connections_past_max_are_closed_counted_and_service_goes_on)
{
    turbo_config *cfg = config_with_threads(1); /* one thread: the limit is per thread */
    ck_assert_int_eq(turbo_config_set_max_connections(cfg, MAX_CONNS), TURBO_OK);
    turbo_server *s = server_started(cfg, routes);

    int held[MAX_CONNS];
    for (int i = 0; i < MAX_CONNS; i++) {
        held[i] = connect_to(s, CLIENT_TIMEOUT_S);
        assert_root_on(held[i]); /* accepted and registered */
    }
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, MAX_CONNS);

    for (int i = 0; i < EXTRA_CONNS; i++) {
        int fd = connect_to(s, CLIENT_TIMEOUT_S);
        assert_refused(fd);
        close(fd);
    }
    assert_stat(s, TURBO_STAT_CONNECTIONS_REFUSED, EXTRA_CONNS);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_CONNECTIONS_OPEN), MAX_CONNS);

    /* The held connections are still served. */
    for (int i = 0; i < MAX_CONNS; i++)
        assert_root_on(held[i]);

    /* Free one slot: once the server has seen it go, a new one is served. */
    close(held[0]);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, MAX_CONNS - 1);
    held[0] = connect_to(s, CLIENT_TIMEOUT_S);
    assert_root_on(held[0]);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, MAX_CONNS);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_CONNECTIONS_REFUSED), EXTRA_CONNS);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED),
                      MAX_CONNS + 1); /* refused ones are not counted as accepted */

    for (int i = 0; i < MAX_CONNS; i++)
        close(held[i]);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    stop_and_free(s);
}
END_TEST

/* ======================================================================
 * Half-closed and reset connections
 * ==================================================================== */

static const char ROOT_RESPONSE_START[] = "HTTP/1.1 200 OK\r\n";

/* Counts occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(half_closed_client_gets_its_responses_then_eof)
{
    turbo_server *s = server_started(config_with_threads(2), routes);
    static char buf[8192];

    /* One request, then SHUT_WR. */
    int fd = connect_to(s, CLIENT_TIMEOUT_S);
    send_str_fd(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    ssize_t n = read_all(fd, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(strncmp(buf, ROOT_RESPONSE_START, sizeof(ROOT_RESPONSE_START) - 1), 0);
    ck_assert_int_eq(count_of(buf, "HTTP/1.1 "), 1);
    ck_assert_str_eq(buf + n - 5, ROOT_BODY);
    close(fd);

    /* Three pipelined, then SHUT_WR: all three answered, in order. */
    fd = connect_to(s, CLIENT_TIMEOUT_S);
    send_str_fd(fd, "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    n = read_all(fd, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(count_of(buf, ROOT_RESPONSE_START), 3);
    char *slow = strstr(buf, "slow\n");
    ck_assert_ptr_nonnull(slow);
    ck_assert_ptr_nonnull(strstr(slow, ROOT_RESPONSE_START)); /* the last one came after */
    ck_assert_str_eq(buf + n - 5, ROOT_BODY);
    close(fd);

    /* A slow handler: the client's FIN arrives while it runs. */
    fd = connect_to(s, CLIENT_TIMEOUT_S);
    send_str_fd(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_eq(shutdown(fd, SHUT_WR), 0);
    n = read_all(fd, buf, sizeof(buf));
    ck_assert_int_gt(n, 0);
    ck_assert_int_eq(strncmp(buf, ROOT_RESPONSE_START, sizeof(ROOT_RESPONSE_START) - 1), 0);
    ck_assert_str_eq(buf + n - 5, "slow\n");
    close(fd);

    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_REQUESTS), 5);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_TIMEOUTS), 0);
    stop_and_free(s);
}
END_TEST

START_TEST(reset_connections_leak_nothing_and_the_server_survives)
{
    turbo_server *s = server_started(config_with_threads(2), routes);
    size_t baseline = count_fds();

    /* Half a head, then RST. */
    int fd = connect_to(s, CLIENT_TIMEOUT_S);
    send_str_fd(fd, "GET / HTTP/1.1\r\nHo");
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 1);
    sleep_ms(50); /* let the server read the half head first */
    reset_close(fd);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    ck_assert_uint_eq(count_fds(), baseline);

    /* A head and half a body, then RST. */
    fd = connect_to(s, CLIENT_TIMEOUT_S);
    send_str_fd(fd, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 1);
    sleep_ms(50);
    reset_close(fd);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    ck_assert_uint_eq(count_fds(), baseline);

    /* A whole request to a slow handler, RST while it runs: its response
     * meets a reset socket. */
    fd = connect_to(s, CLIENT_TIMEOUT_S);
    send_str_fd(fd, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 0; i < 600 && atomic_load(&slow_entered) == 0; i++)
        sleep_ms(5);
    ck_assert_int_eq(atomic_load(&slow_entered), 1);
    reset_close(fd);
    assert_stat(s, TURBO_STAT_REQUESTS, 1);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    ck_assert_uint_eq(count_fds(), baseline);

    /* Twenty more in a row, each reset as soon as the server has it. */
    for (int round = 0; round < 20; round++) {
        fd = connect_to(s, CLIENT_TIMEOUT_S);
        send_str_fd(fd,
                    round % 2 ? "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n" : "GET / HTTP/1.1\r\nH");
        assert_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED, 4 + (uint64_t)round);
        reset_close(fd);
    }
    assert_new_connection_served(s);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    ck_assert_uint_eq(count_fds(), baseline);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_TIMEOUTS), 0);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED), 24);
    stop_and_free(s);
    /* And the server's own descriptors are gone after it is freed. */
    ck_assert_uint_lt(count_fds(), baseline);
}
END_TEST

static Suite *abuse_suite(void)
{
    Suite *s = suite_create("abuse");
    TCase *slow = tcase_create("slow_clients");
    /* Generous: a hang fails the test, slowness under sanitizers does not. */
    tcase_set_timeout(slow, 60);
    tcase_add_test(slow, slowloris_connections_time_out_while_a_normal_client_is_served);
    tcase_add_test(slow, timed_out_client_that_never_closes_counts_once);
    tcase_add_test(slow, pipelining_client_that_never_reads_is_bounded_then_dropped);
    suite_add_tcase(s, slow);

    TCase *conns = tcase_create("connections");
    tcase_set_timeout(conns, 30);
    tcase_add_test(conns, connections_past_max_are_closed_counted_and_service_goes_on);
    tcase_add_test(conns, half_closed_client_gets_its_responses_then_eof);
    tcase_add_test(conns, reset_connections_leak_nothing_and_the_server_survives);
    suite_add_tcase(s, conns);
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    memset(big_body, 'b', sizeof(big_body));
    SRunner *sr = srunner_create(abuse_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
