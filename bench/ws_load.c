/*
 * The load generator of bench/ws.sh: one thread, one epoll loop,
 * non-blocking sockets to 127.0.0.1:PORT. Two modes:
 *
 *   ws_load echo PORT PATH CONNS INFLIGHT SIZE WARMUP SECONDS PIDS
 *     CONNS WebSocket connections to PATH, each keeping INFLIGHT text
 *     messages of SIZE bytes in flight: every echo that comes back (checked
 *     byte for byte) sends the next one. Client frames are masked (RFC 6455
 *     5.3) with a key that changes per frame; a server ping is answered
 *     with a pong; a close or any other frame fails the run.
 *
 *   ws_load sse|wsfan PORT SUBPATH PUBPATH K WINDOW WARMUP SECONDS PIDS
 *     K subscribers GET SUBPATH (a text/event-stream answer each); one more
 *     connection POSTs PUBPATH, one request at a time, whenever fewer than
 *     WINDOW events per subscriber are still on their way; the server
 *     broadcasts one event per POST and answers the number of subscribers
 *     it sent to (which must be K). A delivered event is one "\n\n" in a
 *     subscriber's stream. wsfan: the same with K WebSocket subscribers;
 *     a delivered message is one text frame.
 *
 * Connections open at most CONNECTING at a time. Once all are open, after
 * WARMUP seconds of load, it measures SECONDS: messages (events)
 * received, their rate, and the CPU ticks (utime+stime, /proc/PID/stat)
 * of the server processes PIDS (comma-separated) over the same interval,
 * and its own CPU use (getrusage), so that a run near 100 % says the
 * client was the limit. Prints one line of key=value. Exit 1 on any
 * protocol error, with a message.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536
#define MAX_SIZE 4096
#define CONNECTING 256

typedef struct conn {
    int fd;
    int open;      /* past the handshake (or the SSE head) */
    int want_out;  /* EPOLLOUT is on */
    size_t in_len; /* unparsed bytes in in[] */
    size_t out_len, out_off;
    char last;     /* SSE: the byte before in[] (a "\n\n" split across reads) */
    char *in, *out;
} conn;

static int ep, port;
static conn *conns;
static size_t nconns, nopen;
static unsigned long long received; /* messages or events */
static uint32_t rng = 2463534242u;
static size_t size; /* echo: payload bytes */
static char payload[MAX_SIZE];

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ws_load: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime+stime of every pid in the comma-separated list, in ticks. */
static unsigned long long server_ticks(const char *pids)
{
    unsigned long long total = 0;
    char *copy = strdup(pids), *save = NULL;
    for (char *p = strtok_r(copy, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
        char path[64], line[1024];
        snprintf(path, sizeof(path), "/proc/%s/stat", p);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            fail("server pid %s: %s", p, strerror(errno));
        if (fgets(line, sizeof(line), f) == NULL)
            fail("read %s", path);
        fclose(f);
        /* After the ")" of the name: state is field 3, utime 14, stime 15. */
        char *s = strrchr(line, ')');
        unsigned long long ut = 0, st = 0;
        if (s == NULL || sscanf(s + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                &ut, &st) != 2)
            fail("parse %s", path);
        total += ut + st;
    }
    free(copy);
    return total;
}

static uint32_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void watch(size_t i, int out)
{
    conn *c = &conns[i];
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.u64 = i};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        fail("epoll_ctl: %s", strerror(errno));
    c->want_out = out;
}

/* Sends what is queued; what the socket does not take waits for EPOLLOUT. */
static void flush(size_t i)
{
    conn *c = &conns[i];
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN)
                break;
            fail("send #%zu: %s", i, strerror(errno));
        }
        c->out_off += (size_t)n;
    }
    if (c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if ((c->out_len != 0) != c->want_out)
        watch(i, c->out_len != 0);
}

static void queue(size_t i, const void *data, size_t len)
{
    conn *c = &conns[i];
    if (c->out_len + len > BUF)
        fail("#%zu: more than %d bytes waiting to be sent", i, BUF);
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

/* A masked client frame: FIN, the opcode, the length, a fresh key. */
static void queue_frame(size_t i, int opcode, const char *data, size_t len)
{
    unsigned char f[8 + MAX_SIZE];
    size_t h = 0;
    f[h++] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        f[h++] = (unsigned char)(0x80 | len);
    } else {
        f[h++] = 0x80 | 126;
        f[h++] = (unsigned char)(len >> 8);
        f[h++] = (unsigned char)len;
    }
    uint32_t key = xorshift();
    unsigned char *k = f + h;
    memcpy(k, &key, 4);
    h += 4;
    for (size_t j = 0; j < len; j++)
        f[h + j] = (unsigned char)data[j] ^ k[j & 3];
    queue(i, f, h + len);
}

static void connect_one(size_t i, const char *request)
{
    conn *c = &conns[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        fail("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(c->fd, (struct sockaddr *)&to, sizeof(to)) != 0 && errno != EINPROGRESS)
        fail("connect: %s", strerror(errno));
    c->in = malloc(BUF);
    c->out = malloc(BUF);
    if (c->in == NULL || c->out == NULL)
        fail("out of memory");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = i};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
        fail("epoll_ctl: %s", strerror(errno));
    queue(i, request, strlen(request));
    flush(i);
}

/* Reads what is there. 0 at EOF fails: no server here may hang up. */
static int fill(size_t i)
{
    conn *c = &conns[i];
    if (c->in_len == BUF)
        fail("#%zu: %d bytes unparsed", i, BUF);
    ssize_t n = recv(c->fd, c->in + c->in_len, BUF - c->in_len, 0);
    if (n < 0 && errno == EAGAIN)
        return 0;
    if (n < 0)
        fail("recv #%zu: %s", i, strerror(errno));
    if (n == 0)
        fail("#%zu: the server closed the connection", i);
    c->in_len += (size_t)n;
    return 1;
}

static void consume(conn *c, size_t n)
{
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

/* The head of an answer, when whole: checks its status line, returns its
 * length (0: not whole yet). */
static size_t head(size_t i, const char *status)
{
    conn *c = &conns[i];
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (end == NULL)
        return 0;
    if ((size_t)(end - c->in) < strlen(status) || memcmp(c->in, status, strlen(status)) != 0)
        fail("#%zu answered: %.*s", i, (int)(end - c->in), c->in);
    return (size_t)(end + 4 - c->in);
}

/* ---- echo --------------------------------------------------------------- */

static unsigned inflight;
static int fan; /* wsfan: subscribers only count the server's messages */

/* What fill() brought: the 101, then whole frames. */
static void echo_readable_parsed(size_t i)
{
    conn *c = &conns[i];
    if (!c->open) {
        size_t h = head(i, "HTTP/1.1 101");
        if (h == 0)
            return;
        consume(c, h);
        c->open = 1;
        nopen++;
        for (unsigned k = 0; !fan && k < inflight; k++)
            queue_frame(i, 0x1, payload, size);
    }
    size_t off = 0;
    for (;;) {
        unsigned char *p = (unsigned char *)c->in + off;
        size_t have = c->in_len - off;
        if (have < 2)
            break;
        if (p[1] & 0x80)
            fail("#%zu: a masked frame from the server", i);
        size_t len = p[1] & 0x7f, h = 2;
        if (len == 126) {
            if (have < 4)
                break;
            len = (size_t)p[2] << 8 | p[3];
            h = 4;
        } else if (len == 127) {
            fail("#%zu: a frame of 64-bit length", i);
        }
        if (have < h + len)
            break;
        int opcode = p[0] & 0x0f;
        if (opcode == 0x9) { /* ping: pong with its data */
            queue_frame(i, 0xA, (char *)p + h, len);
        } else if (opcode == 0x1 && (p[0] & 0x80) && fan) {
            received++;
        } else if (opcode == 0x1 && (p[0] & 0x80)) {
            if (len != size || memcmp(p + h, payload, size) != 0)
                fail("#%zu: an echo of %zu bytes, not the %zu sent", i, len, size);
            received++;
            queue_frame(i, 0x1, payload, size);
        } else {
            fail("#%zu: unexpected frame, opcode %d%s", i, opcode,
                 opcode == 8 ? " (close)" : "");
        }
        off += h + len;
    }
    consume(c, off);
    flush(i);
}

static void echo_readable(size_t i)
{
    if (fill(i))
        echo_readable_parsed(i);
}

/* ---- SSE ---------------------------------------------------------------- */

static size_t subscribers; /* conns[0..K) subscribe; conns[K] publishes */
static unsigned window;
static unsigned long long published, publish_answers;
static int publishing; /* a POST is on its way */
static const char *pubpath;

static void publish(void)
{
    char req[256];
    snprintf(req, sizeof(req), "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
             pubpath);
    queue(subscribers, req, strlen(req));
    flush(subscribers);
    publishing = 1;
    published++;
}

static void maybe_publish(void)
{
    if (!publishing && nopen == subscribers &&
        published * subscribers - received < (unsigned long long)window * subscribers)
        publish();
}

static void sse_readable(size_t i)
{
    conn *c = &conns[i];
    if (!fill(i))
        return;
    if (i == subscribers) { /* the publisher: one answer, Content-Length framed */
        size_t h = head(i, "HTTP/1.1 2");
        if (h == 0)
            return;
        char *cl = memmem(c->in, h, "\r\ncontent-length: ", 18);
        if (cl == NULL)
            cl = memmem(c->in, h, "\r\nContent-Length: ", 18);
        size_t body = cl ? strtoul(cl + 18, NULL, 10) : 0;
        if (c->in_len < h + body)
            return;
        unsigned long n = strtoul(c->in + h, NULL, 10);
        if (body == 0 || n != subscribers)
            fail("a publish reached %.*s subscribers, not %zu", (int)body, c->in + h, subscribers);
        consume(c, h + body);
        publishing = 0;
        publish_answers++;
        maybe_publish();
        return;
    }
    if (fan) {
        echo_readable_parsed(i);
        maybe_publish();
        return;
    }
    size_t from = 0;
    if (!c->open) {
        size_t h = head(i, "HTTP/1.1 200");
        if (h == 0)
            return;
        if (memmem(c->in, h, "text/event-stream", 17) == NULL)
            fail("#%zu: not text/event-stream: %.*s", i, (int)h, c->in);
        c->open = 1;
        nopen++;
        from = h;
    }
    for (size_t k = from; k < c->in_len; k++) {
        if (c->in[k] == '\n' && c->last == '\n')
            received++;
        c->last = c->in[k];
    }
    c->in_len = 0; /* the stream's bytes are counted, not kept */
    maybe_publish();
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc != 10)
        fail("usage: ws_load echo PORT PATH CONNS INFLIGHT SIZE WARMUP SECONDS PIDS\n"
             "       ws_load sse|wsfan PORT SUBPATH PUBPATH K WINDOW WARMUP SECONDS PIDS");
    fan = strcmp(argv[1], "wsfan") == 0;
    int sse = fan || strcmp(argv[1], "sse") == 0;
    if (!sse && strcmp(argv[1], "echo") != 0)
        fail("mode: echo, sse or wsfan");
    port = atoi(argv[2]);
    double warmup = atof(argv[7]), seconds = atof(argv[8]);
    const char *pids = argv[9];
    struct rlimit lim;
    getrlimit(RLIMIT_NOFILE, &lim);
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    ep = epoll_create1(EPOLL_CLOEXEC);
    char request[512];
    if (!sse) {
        nconns = strtoul(argv[4], NULL, 10);
        inflight = (unsigned)strtoul(argv[5], NULL, 10);
        size = strtoul(argv[6], NULL, 10);
        if (nconns == 0 || inflight == 0 || size > MAX_SIZE)
            fail("CONNS and INFLIGHT > 0, SIZE <= %d", MAX_SIZE);
        for (size_t k = 0; k < size; k++)
            payload[k] = (char)('a' + k % 26);
        snprintf(request, sizeof(request),
                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
                 argv[3], port);
    } else {
        subscribers = strtoul(argv[5], NULL, 10);
        window = (unsigned)strtoul(argv[6], NULL, 10);
        pubpath = argv[4];
        nconns = subscribers + 1;
        if (subscribers == 0 || window == 0)
            fail("K and WINDOW > 0");
        snprintf(request, sizeof(request),
                 fan ? "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       "Sec-WebSocket-Version: 13\r\n\r\n"
                     : "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n",
                 argv[3], port);
    }
    conns = calloc(nconns, sizeof(*conns));
    size_t started = 0, clients = sse ? subscribers : nconns;
    if (sse) { /* the publisher, conns[K] */
        connect_one(subscribers, "");
        conns[subscribers].open = 1;
    }
    double t0 = now(), opened = 0, start = 0, stop = 0, cpu0 = 0;
    unsigned long long received0 = 0, ticks0 = 0;
    struct epoll_event evs[512];
    for (;;) {
        /* At most CONNECTING handshakes at a time: a listen backlog holds
         * no more (the peers' default is 2048 or less). */
        while (started < clients && started - nopen < CONNECTING)
            connect_one(started++, request);
        double t = now();
        if (opened == 0 && nopen == clients)
            opened = t; /* the warm-up starts once all are open */
        if (start == 0 && opened != 0 && t - opened >= warmup) {
            start = t;
            received0 = received;
            ticks0 = server_ticks(pids);
            cpu0 = self_cpu();
        }
        if (start != 0 && t - start >= seconds) {
            stop = t;
            break;
        }
        if (opened == 0 && t - t0 > 60)
            fail("only %zu of %zu connections open after %.0f s", nopen, nconns, t - t0);
        int n = epoll_wait(ep, evs, 512, 50);
        if (n < 0 && errno != EINTR)
            fail("epoll_wait: %s", strerror(errno));
        for (int k = 0; k < n; k++) {
            size_t i = (size_t)evs[k].data.u64;
            if (evs[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
                if (sse)
                    sse_readable(i);
                else
                    echo_readable(i);
            }
            if (evs[k].events & EPOLLOUT)
                flush(i);
        }
    }
    unsigned long long ticks = server_ticks(pids) - ticks0, got = received - received0;
    double wall = stop - start, hz = (double)sysconf(_SC_CLK_TCK);
    if (got == 0)
        fail("nothing received in %.1f s", wall);
    printf("received=%llu seconds=%.3f rate=%.0f server_cpu_s=%.2f server_us_per=%.2f "
           "client_cpu_pct=%.0f\n",
           got, wall, (double)got / wall, (double)ticks / hz, (double)ticks / hz * 1e6 / (double)got,
           100 * (self_cpu() - cpu0) / wall);
    if (sse)
        fprintf(stderr, "ws_load: %llu events published, %llu answered\n", published,
                publish_answers);
    return 0;
}
