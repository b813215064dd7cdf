/*
 * Streamed responses, as a specification (turbo.h, "Streamed responses"):
 * framing (chunked, Content-Length, close-delimited, HEAD), pieces from
 * another thread, from the loop and from the handler itself, order behind
 * and ahead of pipelined answers, backpressure and drain, a client that
 * leaves, a graceful stop. Public ABI only.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

/* ---- chunked bodies, read the way a client must ---------------------- */

/* Reads one chunked body from c into out (cap bytes), checking every
 * chunk line; returns its length. */
static size_t read_chunked(client *c, char *out, size_t cap)
{
    size_t len = 0;
    for (;;) {
        char *eol;
        while ((eol = memchr(c->buf, '\n', c->len)) == NULL)
            ck_assert_msg(client_fill(c) > 0, "EOF inside a chunk line");
        ck_assert_msg(eol > c->buf && eol[-1] == '\r', "chunk line without CRLF");
        char *end;
        unsigned long n = strtoul(c->buf, &end, 16);
        ck_assert_msg(end == eol - 1, "chunk size line \"%.*s\"", (int)(eol - c->buf), c->buf);
        client_consume(c, (size_t)(eol - c->buf) + 1);
        if (n == 0) {
            ck_assert_int_gt(client_wait(c, 2), 0);
            ck_assert_msg(memcmp(c->buf, "\r\n", 2) == 0, "no CRLF after the last chunk");
            client_consume(c, 2);
            return len;
        }
        ck_assert_uint_le(len + n, cap);
        ck_assert_int_gt(client_wait(c, n + 2), 0);
        memcpy(out + len, c->buf, n);
        ck_assert_msg(memcmp(c->buf + n, "\r\n", 2) == 0, "no CRLF after a chunk");
        client_consume(c, n + 2);
        len += n;
    }
}

static int has_line(const char *head, const char *line)
{
    return strstr(head, line) != NULL;
}

/* ---- the test's holder ------------------------------------------------- */

static _Atomic(turbo_deferred *) held;
static _Atomic int cancels, drains;

static void on_cancel(turbo_deferred *d, void *ud)
{
    (void)d, (void)ud;
    atomic_fetch_add(&cancels, 1);
}

static turbo_deferred *wait_held(void)
{
    uint64_t end = now_ms() + 10000;
    turbo_deferred *d;
    while ((d = atomic_exchange(&held, NULL)) == NULL && now_ms() < end)
        sleep_ms(1);
    ck_assert_ptr_nonnull(d);
    return d;
}

/* Defers with a text/plain response; the test thread streams it. */
static int holding(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    turbo_response_header(res, "Content-Type", 12, "text/plain", 10);
    turbo_deferred_on_cancel(d, on_cancel, NULL);
    atomic_store(&held, d);
    return TURBO_DEFER;
}

static int fast(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    return turbo_response_body(res, "fast", 4);
}

/* Streams three pieces and finishes before returning. */
static int in_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    ck_assert_int_eq(turbo_deferred_write(d, "x", 1), TURBO_ESTATE); /* not started */
    ck_assert_int_eq(turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN), TURBO_OK);
    ck_assert_int_eq(turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN), TURBO_ESTATE);
    turbo_deferred_write(d, "one,", 4);
    turbo_deferred_write(d, "two,", 4);
    turbo_deferred_write(d, "three", 5);
    turbo_deferred_finish(d);
    return TURBO_DEFER;
}

/* Pieces from the loop: a timer writes one piece per tick. */
typedef struct ticker {
    turbo_deferred *d;
    turbo_loop *loop;
    int left;
} ticker;

static void tick(void *ud)
{
    ticker *k = ud;
    char piece[16];
    int n = snprintf(piece, sizeof(piece), "tick%d;", k->left);
    ck_assert_int_eq(turbo_deferred_write(k->d, piece, (size_t)n), TURBO_OK);
    if (--k->left == 0) {
        turbo_deferred_finish(k->d);
        free(k);
        return;
    }
    ck_assert_ptr_nonnull(turbo_loop_timer(k->loop, 1, tick, k));
}

static void start_then_tick(void *ud)
{
    ticker *k = ud;
    ck_assert_int_eq(turbo_deferred_stream(k->d, TURBO_LENGTH_UNKNOWN), TURBO_OK);
    tick(k);
}

static int from_loop_started(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    ticker *k = malloc(sizeof(*k));
    if (d == NULL || k == NULL)
        return TURBO_ENOMEM;
    k->d = d;
    k->loop = turbo_request_loop(req);
    k->left = 5;
    turbo_loop_timer(k->loop, 1, start_then_tick, k);
    return TURBO_DEFER;
}

static const test_route routes[] = {
    {"GET", "/held", holding},
    {"GET", "/fast", fast},
    {"GET", "/inhandler", in_handler},
    {"GET", "/loop", from_loop_started},
    {NULL, NULL, NULL},
};

static turbo_server *start(turbo_config *cfg)
{
    atomic_store(&held, NULL);
    atomic_store(&cancels, 0);
    atomic_store(&drains, 0);
    return server_started(cfg, routes);
}

static void expect_fast(client *c)
{
    response *r = response_new();
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "fast");
    free(r);
}

/* ---- framing ------------------------------------------------------------ */

START_TEST(an_unknown_length_is_chunked_and_the_connection_goes_on)
{
    turbo_server *s = start(config_with_threads(2));
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = wait_held();
    ck_assert_int_eq(turbo_deferred_write(d, "early", 5), TURBO_ESTATE);
    turbo_response_status(turbo_deferred_response(d), 201);
    ck_assert_int_eq(turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN), TURBO_OK);
    char head[2048];
    read_head(c, head, sizeof(head), "stream head");
    ck_assert_msg(strncmp(head, "HTTP/1.1 201 Created\r\n", 22) == 0, "%s", head);
    ck_assert(has_line(head, "\r\nTransfer-Encoding: chunked\r\n"));
    ck_assert(has_line(head, "\r\nContent-Type: text/plain\r\n"));
    ck_assert(!has_line(head, "Content-Length"));
    /* The head went before any piece: a client sees it at once. */
    ck_assert_int_eq(turbo_deferred_write(d, "hello", 5), TURBO_OK);
    ck_assert_int_eq(turbo_deferred_write(d, "", 0), TURBO_OK); /* not an end */
    ck_assert_int_eq(turbo_deferred_write(d, " ", 1), TURBO_OK);
    ck_assert_int_eq(turbo_deferred_write(d, "world", 5), TURBO_OK);
    ck_assert_int_eq(turbo_deferred_finish(d), TURBO_OK);
    char exact[] = "5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n";
    char got[sizeof(exact)];
    read_exact(c, got, sizeof(exact) - 1);
    ck_assert_str_eq(got, exact);
    send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_fast(c);
    client_close(c);
    ck_assert_int_eq(atomic_load(&cancels), 0);
    assert_stat(s, TURBO_STAT_REQUESTS, 2);
    stop_and_free(s);
}
END_TEST

START_TEST(a_known_length_is_sent_as_plain_bytes)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = wait_held();
    ck_assert_int_eq(turbo_deferred_stream(d, 10), TURBO_OK);
    ck_assert_int_eq(turbo_deferred_write(d, "01234", 5), TURBO_OK);
    ck_assert_int_eq(turbo_deferred_write(d, "567890", 6), TURBO_ERANGE); /* past 10 */
    ck_assert_int_eq(turbo_deferred_write(d, "56789", 5), TURBO_OK);
    ck_assert_int_eq(turbo_deferred_write(d, "x", 1), TURBO_ERANGE);
    turbo_deferred_finish(d);
    response *r = response_new();
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Content-Length"), "10");
    ck_assert_ptr_null(header(r, "Transfer-Encoding"));
    ck_assert_str_eq(r->body, "0123456789");
    free(r);
    send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_fast(c);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(finishing_short_of_the_announced_length_closes_the_connection)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = wait_held();
    turbo_deferred_stream(d, 100);
    turbo_deferred_write(d, "only this", 9);
    turbo_deferred_finish(d);
    char head[2048];
    read_head(c, head, sizeof(head), "short stream");
    ck_assert(has_line(head, "\r\nContent-Length: 100\r\n"));
    /* Nine bytes, then the end: the pipelined request is not answered,
     * so a client cannot take its answer for the rest of this body. */
    ck_assert_uint_eq(read_until_eof(c), 9);
    ck_assert(memcmp(c->buf, "only this", 9) == 0);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(http_1_0_without_a_length_ends_with_the_connection)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    turbo_deferred *d = wait_held();
    turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN);
    turbo_deferred_write(d, "all ", 4);
    turbo_deferred_write(d, "of it", 5);
    turbo_deferred_finish(d);
    char head[2048];
    read_head(c, head, sizeof(head), "1.0 stream");
    ck_assert(has_line(head, "\r\nConnection: close\r\n"));
    ck_assert(!has_line(head, "Content-Length"));
    ck_assert(!has_line(head, "Transfer-Encoding"));
    ck_assert_uint_eq(read_until_eof(c), 9);
    ck_assert(memcmp(c->buf, "all of it", 9) == 0);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(head_gets_the_head_alone)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "HEAD /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = wait_held();
    turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN);
    ck_assert_int_eq(turbo_deferred_write(d, "dropped", 7), TURBO_OK);
    turbo_deferred_finish(d);
    char head[2048];
    read_head(c, head, sizeof(head), "HEAD stream");
    ck_assert(has_line(head, "\r\nTransfer-Encoding: chunked\r\n"));
    /* No body: the next bytes are the next answer. */
    send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_fast(c);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(streamed_from_its_own_handler_and_from_the_loop)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    /* Pipelined: both streams and a plain answer, in request order. */
    send_str(c, "GET /inhandler HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /loop HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    char head[2048], body[256];
    read_head(c, head, sizeof(head), "in handler");
    ck_assert(has_line(head, "\r\nTransfer-Encoding: chunked\r\n"));
    size_t n = read_chunked(c, body, sizeof(body));
    body[n] = '\0';
    ck_assert_str_eq(body, "one,two,three");
    read_head(c, head, sizeof(head), "from the loop");
    n = read_chunked(c, body, sizeof(body));
    body[n] = '\0';
    ck_assert_str_eq(body, "tick5;tick4;tick3;tick2;tick1;");
    expect_fast(c);
    client_close(c);
    assert_stat(s, TURBO_STAT_HANDLER_ERRORS, 0);
    stop_and_free(s);
}
END_TEST

START_TEST(a_stream_behind_a_deferred_answer_waits_its_turn)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *first = wait_held();
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *second = wait_held();
    /* The second streams all of its answer while the first is out. */
    turbo_deferred_stream(second, TURBO_LENGTH_UNKNOWN);
    turbo_deferred_write(second, "second", 6);
    turbo_deferred_finish(second);
    sleep_ms(20);
    ck_assert_int_eq(recv(c->fd, c->buf, 1, MSG_PEEK | MSG_DONTWAIT), -1); /* nothing yet */
    turbo_response_body(turbo_deferred_response(first), "first", 5);
    turbo_deferred_finish(first);
    response *r = response_new();
    read_response(c, r);
    ck_assert_str_eq(r->body, "first");
    free(r);
    char head[2048], body[64];
    read_head(c, head, sizeof(head), "second");
    size_t n = read_chunked(c, body, sizeof(body));
    body[n] = '\0';
    ck_assert_str_eq(body, "second");
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(an_aborted_stream_ends_the_connection_without_a_last_chunk)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = wait_held();
    turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN);
    turbo_deferred_write(d, "partial", 7);
    ck_assert_int_eq(turbo_deferred_abort(d), TURBO_OK);
    char head[2048];
    read_head(c, head, sizeof(head), "aborted");
    ck_assert_uint_eq(read_until_eof(c), 12);
    ck_assert(memcmp(c->buf, "7\r\npartial\r\n", 12) == 0); /* no 0\r\n\r\n */
    client_close(c);
    /* Before any byte: closed without an answer. */
    c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred_abort(wait_held());
    ck_assert_uint_eq(read_until_eof(c), 0);
    client_close(c);
    stop_and_free(s);
}
END_TEST

/* ---- backpressure ------------------------------------------------------- */

#define PIECE 65536

typedef struct producer {
    turbo_deferred *d;
    uint64_t total;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int drained;
    uint64_t max_queued;
    int fulls;
} producer;

static void on_drain(turbo_deferred *d, void *ud)
{
    (void)d;
    producer *p = ud;
    atomic_fetch_add(&drains, 1);
    pthread_mutex_lock(&p->lock);
    p->drained = 1;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

/* Writes total bytes of a counting pattern, waiting for the drain
 * callback after every TURBO_FULL. */
static void *produce(void *arg)
{
    producer *p = arg;
    static char piece[PIECE];
    for (uint64_t off = 0; off < p->total; off += PIECE) {
        for (size_t i = 0; i < PIECE; i++)
            piece[i] = (char)('a' + (off + i) % 26);
        int rc = turbo_deferred_write(p->d, piece, PIECE);
        uint64_t q = turbo_deferred_queued(p->d);
        if (q > p->max_queued)
            p->max_queued = q;
        if (rc == TURBO_FULL) {
            p->fulls++;
            pthread_mutex_lock(&p->lock);
            while (!p->drained)
                pthread_cond_wait(&p->cond, &p->lock);
            p->drained = 0;
            pthread_mutex_unlock(&p->lock);
        } else {
            ck_assert_int_eq(rc, TURBO_OK);
        }
    }
    turbo_deferred_finish(p->d);
    return NULL;
}

START_TEST(a_slow_reader_holds_the_queue_at_the_high_water_mark)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_write_watermarks(cfg, 0, 0), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_write_watermarks(cfg, 10, 11), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_write_watermarks(cfg, 4 * PIECE, PIECE), TURBO_OK);
    turbo_server *s = start(cfg);
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    /* A small receive window, so the kernel's buffers hold little. */
    int small = 65536;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    producer p = {.total = 512ull * PIECE, .lock = PTHREAD_MUTEX_INITIALIZER,
                  .cond = PTHREAD_COND_INITIALIZER};
    p.d = wait_held();
    turbo_deferred_on_drain(p.d, on_drain, &p);
    ck_assert_int_eq(turbo_deferred_stream(p.d, p.total), TURBO_OK);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, produce, &p), 0);
    char head[2048];
    read_head(c, head, sizeof(head), "32 MiB stream");
    ck_assert(has_line(head, "\r\nContent-Length: 33554432\r\n"));
    /* Read slowly, so the queue keeps filling. */
    uint64_t got = 0;
    while (got < p.total) {
        sleep_ms(1);
        ck_assert_int_gt(client_wait(c, 1), 0);
        size_t bad = c->len;
        for (size_t i = 0; i < c->len && bad == c->len; i++)
            if (c->buf[i] != (char)('a' + (got + i) % 26))
                bad = i;
        ck_assert_msg(bad == c->len, "byte %llu differs", (unsigned long long)(got + bad));
        got += c->len;
        client_consume(c, c->len);
    }
    ck_assert_uint_eq(got, p.total);
    pthread_join(th, NULL);
    /* The queue never held much more than the mark plus one piece, and
     * the producer was held back, then let go, more than once. */
    ck_assert_uint_le(p.max_queued, 4 * PIECE + PIECE);
    ck_assert_int_gt(p.fulls, 1);
    ck_assert_int_eq(atomic_load(&drains), p.fulls);
    send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    expect_fast(c);
    client_close(c);
    stop_and_free(s);
}
END_TEST

/* ---- the client leaves, the server stops ------------------------------- */

START_TEST(a_client_that_leaves_mid_stream_cancels_it)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = wait_held();
    turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN);
    turbo_deferred_write(d, "some", 4);
    char head[2048];
    read_head(c, head, sizeof(head), "stream");
    client_close(c);
    uint64_t end = now_ms() + 10000;
    while (atomic_load(&cancels) == 0 && now_ms() < end)
        sleep_ms(1);
    ck_assert_int_eq(atomic_load(&cancels), 1);
    ck_assert_int_eq(turbo_deferred_cancelled(d), 1);
    ck_assert_int_eq(turbo_deferred_write(d, "more", 4), TURBO_ESTATE);
    ck_assert_int_eq(turbo_deferred_finish(d), TURBO_OK); /* only frees */
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    stop_and_free(s);
}
END_TEST

START_TEST(a_graceful_stop_ends_a_stream_after_its_grace)
{
    turbo_config *cfg = config_with_threads(1);
    turbo_config_set_stop_grace_ms(cfg, 200);
    turbo_server *s = start(cfg);
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = wait_held();
    turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN);
    turbo_deferred_write(d, "tick", 4);
    char head[2048];
    read_head(c, head, sizeof(head), "stream");
    turbo_server_stop(s);
    /* Still served during the grace period... */
    sleep_ms(20);
    ck_assert_int_eq(turbo_deferred_write(d, "tock", 4), TURBO_OK);
    /* ...then cut off: the client sees the end of the connection. */
    read_until_eof(c);
    ck_assert_int_eq(atomic_load(&cancels), 1);
    ck_assert_int_eq(turbo_deferred_finish(d), TURBO_OK);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    client_close(c);
    turbo_server_free(s);
}
END_TEST

/* ---- many streams from many threads (TSan, ASan) ------------------------- */

#define STREAMS 64
#define PIECES 200

static void *stream_numbers(void *arg)
{
    turbo_deferred *d = arg;
    turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN);
    char piece[16];
    for (int i = 0; i < PIECES; i++) {
        int n = snprintf(piece, sizeof(piece), "%d,", i);
        int rc = turbo_deferred_write(d, piece, (size_t)n);
        ck_assert(rc == TURBO_OK || rc == TURBO_FULL);
    }
    turbo_deferred_finish(d);
    return NULL;
}

static int spawning(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    pthread_t th;
    if (pthread_create(&th, NULL, stream_numbers, d) != 0)
        return TURBO_ESYS;
    pthread_detach(th);
    return TURBO_DEFER;
}

START_TEST(many_streams_from_many_threads_arrive_whole)
{
    turbo_server *s = server_listening(config_with_threads(2));
    ck_assert_int_eq(turbo_route_add(s, "GET", "/numbers", spawning, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    char expected[PIECES * 5];
    size_t elen = 0;
    for (int i = 0; i < PIECES; i++)
        elen += (size_t)sprintf(expected + elen, "%d,", i);
    client *cs[8];
    for (int k = 0; k < 8; k++)
        cs[k] = client_open(s, 10);
    for (int round = 0; round < STREAMS / 8; round++) {
        /* Two pipelined streams per connection, eight connections. */
        for (int k = 0; k < 8; k++)
            send_str(cs[k], "GET /numbers HTTP/1.1\r\nHost: t\r\n\r\n"
                            "GET /numbers HTTP/1.1\r\nHost: t\r\n\r\n");
        for (int k = 0; k < 8; k++) {
            for (int j = 0; j < 2; j++) {
                char head[2048], body[PIECES * 5];
                read_head(cs[k], head, sizeof(head), "numbers");
                size_t n = read_chunked(cs[k], body, sizeof(body));
                ck_assert_uint_eq(n, elen);
                ck_assert(memcmp(body, expected, n) == 0);
            }
        }
    }
    for (int k = 0; k < 8; k++)
        client_close(cs[k]);
    assert_stat(s, TURBO_STAT_REQUESTS, STREAMS * 2);
    stop_and_free(s);
}
END_TEST

Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("framing");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, an_unknown_length_is_chunked_and_the_connection_goes_on);
    tcase_add_test(tc, a_known_length_is_sent_as_plain_bytes);
    tcase_add_test(tc, finishing_short_of_the_announced_length_closes_the_connection);
    tcase_add_test(tc, http_1_0_without_a_length_ends_with_the_connection);
    tcase_add_test(tc, head_gets_the_head_alone);
    tcase_add_test(tc, streamed_from_its_own_handler_and_from_the_loop);
    tcase_add_test(tc, a_stream_behind_a_deferred_answer_waits_its_turn);
    tcase_add_test(tc, an_aborted_stream_ends_the_connection_without_a_last_chunk);
    suite_add_tcase(s, tc);
    tc = tcase_create("flow");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, a_slow_reader_holds_the_queue_at_the_high_water_mark);
    tcase_add_test(tc, a_client_that_leaves_mid_stream_cancels_it);
    tcase_add_test(tc, a_graceful_stop_ends_a_stream_after_its_grace);
    tcase_add_test(tc, many_streams_from_many_threads_arrive_whole);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(stream_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
