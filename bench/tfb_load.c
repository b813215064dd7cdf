/*
 * The open-loop load generator of bench/tfb/run.sh: latency at a fixed
 * request rate, with coordinated omission avoided.
 *
 *   tfb_load PORT PATH CONNS RATE WARMUP SECONDS
 *
 * CONNS keep-alive HTTP/1.1 connections to 127.0.0.1:PORT, one thread, one
 * epoll loop. Request i is due at t0 + i / RATE, on a timetable fixed
 * before the run starts: the schedule never waits for the server. At each
 * due time the request goes out on an idle connection; when none is idle
 * (every connection waits for an answer) it queues in the client, and its
 * clock is already running. Latency is measured from the request's
 * *scheduled* send time to the last byte of its answer, never from the
 * moment it was actually written: a server that stalls is charged for every
 * request the stall delayed, not only the one it was serving (the
 * "coordinated omission" a closed-loop client such as wrk commits, whose
 * next request waits for the previous answer). A timerfd with absolute
 * expiry wakes the loop at each due time (µs resolution; a late wake-up is
 * charged to latency too, so the figures are an upper bound).
 *
 * The first WARMUP seconds of the timetable are sent but not recorded; the
 * requests due in the next SECONDS are recorded, and the client then waits
 * (at most 10 s) for their answers. A connection the server closes (an
 * answer with "Connection: close", or EOF while idle) is opened again; a
 * request whose connection fails before its answer counts as an error.
 * Answers are framed by Content-Length or chunked transfer coding; no
 * pipelining (one request in flight per connection).
 *
 * Latencies go into a log-bucketed histogram of our own (HdrHistogram's
 * layout: values below 256 ns exact, then 128 linear sub-buckets per power
 * of two, so every recorded value is within 0.8 %). Prints one line of
 * key=value: target and achieved rate (answers to recorded requests per
 * second of the window), recorded requests, answers, non-2xx answers,
 * errors, unanswered (still missing after the drain), the largest client
 * queue, and p50/p90/p99/p99.9/max in µs. Exit 1 on a protocol error, 2 on
 * a usage error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define SUB_BITS 7
#define SUB (1 << SUB_BITS)                 /* 128 sub-buckets per octave */
#define LINEAR (2 * SUB)                    /* values < 256 ns are exact */
#define BUCKETS (LINEAR + (64 - SUB_BITS - 1) * SUB)
#define DRAIN_NS (10 * 1000000000LL)

static uint64_t hist[BUCKETS];
static uint64_t hist_count, hist_max;

static int bucket_of(uint64_t v)
{
    if (v < LINEAR)
        return (int)v;
    int e = 63 - __builtin_clzll(v); /* >= 8 */
    int shift = e - SUB_BITS;
    return LINEAR + (e - SUB_BITS - 1) * SUB + (int)((v >> shift) - SUB);
}

static uint64_t bucket_high(int b) /* the largest value bucket b holds */
{
    if (b < LINEAR)
        return (uint64_t)b;
    int e = (b - LINEAR) / SUB + SUB_BITS + 1;
    int sub = (b - LINEAR) % SUB;
    int shift = e - SUB_BITS;
    return (((uint64_t)(sub + SUB + 1)) << shift) - 1;
}

static void record(uint64_t ns)
{
    hist[bucket_of(ns)]++;
    hist_count++;
    if (ns > hist_max)
        hist_max = ns;
}

static double percentile_us(double p)
{
    if (!hist_count)
        return 0;
    uint64_t want = (uint64_t)((double)hist_count * p / 100.0 + 0.5);
    if (want < 1)
        want = 1;
    uint64_t seen = 0;
    for (int b = 0; b < BUCKETS; b++) {
        seen += hist[b];
        if (seen >= want) {
            uint64_t v = bucket_high(b);
            return (double)(v < hist_max ? v : hist_max) / 1000.0;
        }
    }
    return (double)hist_max / 1000.0;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct conn {
    int fd;
    int busy;          /* a request is in flight */
    int64_t due;       /* its scheduled time */
    int recorded;      /* it is in the measured window */
    char *buf;
    size_t len, cap;
};

static struct conn *conns;
static int nconns, epfd, port;
static int *idle, nidle, busy;
static char request[1024];
static size_t request_len;
static uint64_t answers, non2xx, errors, recorded_answers, in_window_answers;
static int64_t window_start, window_end;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void fail(const char *msg)
{
    fprintf(stderr, "tfb_load: %s\n", msg);
    exit(1);
}

static void open_conn(int i)
{
    struct conn *c = &conns[i];
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        die("socket");
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl");
    c->fd = fd;
    c->busy = 0;
    c->len = 0;
    idle[nidle++] = i;
}

static void reopen(int i)
{
    epoll_ctl(epfd, EPOLL_CTL_DEL, conns[i].fd, NULL);
    close(conns[i].fd);
    open_conn(i);
}

static void send_on(int i, int64_t due, int rec)
{
    struct conn *c = &conns[i];
    ssize_t n = send(c->fd, request, request_len, MSG_NOSIGNAL);
    if (n != (ssize_t)request_len) {
        /* A request this small fits an empty socket buffer: anything else is
         * a dead connection. */
        errors++;
        reopen(i);
        return;
    }
    c->busy = 1;
    busy++;
    c->due = due;
    c->recorded = rec;
}

/* Length of the complete answer at the start of buf, 0 while incomplete,
 * -1 when malformed. *status and *close_after are set once complete. */
static long frame(const char *buf, size_t len, int *status, int *close_after)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    if (len < 12 || memcmp(buf, "HTTP/1.", 7) != 0)
        return -1;
    *status = atoi(buf + 9);
    long clen = -1;
    int chunked = 0;
    *close_after = 0;
    for (const char *p = (const char *)memchr(buf, '\n', head) + 1; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p) + 2);
        size_t ll = (size_t)(nl - p);
        if (!strncasecmp(p, "content-length:", 15))
            clen = atol(p + 15);
        else if (!strncasecmp(p, "transfer-encoding:", 18) && memmem(p, ll, "chunked", 7))
            chunked = 1;
        else if (!strncasecmp(p, "connection:", 11) && (memmem(p, ll, "close", 5) || memmem(p, ll, "Close", 5)))
            *close_after = 1;
        p = nl + 1;
    }
    if (!chunked) {
        if (clen < 0)
            return -1; /* no framing we could wait for (close-delimited) */
        return len >= head + (size_t)clen ? (long)(head + (size_t)clen) : 0;
    }
    size_t at = head;
    for (;;) {
        const char *nl = memmem(buf + at, len - at, "\r\n", 2);
        if (!nl)
            return 0;
        long size = strtol(buf + at, NULL, 16);
        if (size < 0)
            return -1;
        at = (size_t)(nl - buf) + 2;
        if (size == 0) {
            /* No trailers expected: the final CRLF. */
            if (len < at + 2)
                return 0;
            return (long)(at + 2);
        }
        if (len < at + (size_t)size + 2)
            return 0;
        at += (size_t)size + 2;
    }
}

static void on_readable(int i)
{
    struct conn *c = &conns[i];
    for (;;) {
        if (c->cap - c->len < 16384) {
            c->cap = c->cap ? c->cap * 2 : 65536;
            c->buf = realloc(c->buf, c->cap);
            if (!c->buf)
                die("realloc");
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        /* EOF or reset: an in-flight request is lost. */
        if (c->busy) {
            errors++;
            busy--;
        }
        else
            for (int k = 0; k < nidle; k++)
                if (idle[k] == i) {
                    idle[k] = idle[--nidle];
                    break;
                }
        reopen(i);
        return;
    }
    if (!c->busy) {
        if (c->len)
            fail("bytes arrived on a connection with no request in flight");
        return;
    }
    int status = 0, close_after = 0;
    long n = frame(c->buf, c->len, &status, &close_after);
    if (n < 0)
        fail("an answer that is not HTTP/1.x with Content-Length or chunked framing");
    if (n == 0)
        return;
    if ((size_t)n != c->len)
        fail("more bytes than one answer (no request was pipelined)");
    int64_t t = now_ns();
    c->len = 0;
    c->busy = 0;
    busy--;
    answers++;
    if (status < 200 || status > 299)
        non2xx++;
    if (c->recorded) {
        record((uint64_t)(t - c->due));
        recorded_answers++;
    }
    if (t >= window_start && t < window_end)
        in_window_answers++;
    if (close_after) {
        reopen(i);
        return;
    }
    idle[nidle++] = i;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: tfb_load PORT PATH CONNS RATE WARMUP SECONDS\n");
        return 2;
    }
    port = atoi(argv[1]);
    const char *path = argv[2];
    nconns = atoi(argv[3]);
    double rate = atof(argv[4]), warmup = atof(argv[5]), seconds = atof(argv[6]);
    if (port <= 0 || path[0] != '/' || nconns <= 0 || rate <= 0 || warmup < 0 || seconds <= 0 ||
        strlen(path) > 900) {
        fprintf(stderr, "tfb_load: bad arguments\n");
        return 2;
    }
    request_len = (size_t)snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);

    epfd = epoll_create1(0);
    if (epfd < 0)
        die("epoll_create1");
    conns = calloc((size_t)nconns, sizeof *conns);
    idle = calloc((size_t)nconns, sizeof *idle);
    if (!conns || !idle)
        die("calloc");
    for (int i = 0; i < nconns; i++)
        open_conn(i);
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    if (tfd < 0)
        die("timerfd_create");
    struct epoll_event tev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, tfd, &tev) < 0)
        die("epoll_ctl");

    double interval = 1e9 / rate;
    int64_t t0 = now_ns() + 1000000; /* the timetable starts in 1 ms */
    uint64_t first_rec = (uint64_t)(warmup * rate + 0.5);
    uint64_t end_rec = first_rec + (uint64_t)(seconds * rate + 0.5);
    window_start = t0 + (int64_t)(warmup * 1e9);
    window_end = t0 + (int64_t)((warmup + seconds) * 1e9);
    uint64_t next = 0;  /* the next request of the timetable not sent yet */
    size_t max_queue = 0;
    struct epoll_event evs[256];

    for (;;) {
        int64_t t = now_ns();
        /* Every request due by now goes out on an idle connection; the rest
         * wait in the client's queue, their clocks running. */
        uint64_t due_upto = t < t0 ? 0 : (uint64_t)((double)(t - t0) / interval) + 1;
        if (due_upto > end_rec)
            due_upto = end_rec;
        while (next < due_upto && nidle > 0) {
            int i = idle[--nidle];
            send_on(i, t0 + (int64_t)((double)next * interval), next >= first_rec);
            next++;
        }
        if (due_upto - next > max_queue && next >= first_rec)
            max_queue = (size_t)(due_upto - next);
        if (next >= end_rec && busy == 0)
            break;
        if (next >= end_rec && t > window_end + DRAIN_NS)
            break;
        int timeout = -1;
        if (next < end_rec && next >= due_upto) {
            int64_t at = t0 + (int64_t)((double)next * interval);
            struct itimerspec its = {.it_value = {.tv_sec = at / 1000000000LL, .tv_nsec = at % 1000000000LL}};
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
        } else if (next >= end_rec) {
            timeout = 100; /* draining: look at the clock now and then */
        }
        int n = epoll_wait(epfd, evs, 256, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait");
        for (int k = 0; k < n; k++) {
            if (evs[k].data.u32 == UINT32_MAX) {
                uint64_t x;
                if (read(tfd, &x, sizeof x) < 0 && errno != EAGAIN)
                    die("read timerfd");
                continue;
            }
            on_readable((int)evs[k].data.u32);
        }
    }
    uint64_t rec = end_rec - first_rec;
    printf("target_rps=%.0f achieved_rps=%.0f recorded=%llu answered=%llu non2xx=%llu errors=%llu "
           "unanswered=%llu max_queue=%zu p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f\n",
           rate, (double)in_window_answers / seconds, (unsigned long long)rec,
           (unsigned long long)recorded_answers, (unsigned long long)non2xx, (unsigned long long)errors,
           (unsigned long long)(rec - recorded_answers), max_queue, percentile_us(50), percentile_us(90),
           percentile_us(99), percentile_us(99.9), (double)hist_max / 1000.0);
    return 0;
}
