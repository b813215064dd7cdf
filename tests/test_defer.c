/*
 * Waiting without blocking, as a specification: deferred completion from
 * any thread, its order, cancellation, timeouts and stop; the I/O
 * thread's loop (watches, timers, posts); the blocking pool. Public ABI
 * only.
 */
#include <check.h>
#include <errno.h>
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

/* ---- the test's holder: deferred requests parked for the test thread -- */

#define MAX_HELD 64

static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t held_cond = PTHREAD_COND_INITIALIZER;
static turbo_deferred *held[MAX_HELD];
static unsigned nheld;

static void hold(turbo_deferred *d)
{
    pthread_mutex_lock(&held_lock);
    held[nheld++] = d;
    pthread_cond_broadcast(&held_cond);
    pthread_mutex_unlock(&held_lock);
}

/* Waits until n requests are held; returns the i-th. */
static turbo_deferred *held_at(unsigned i, unsigned n)
{
    uint64_t end = now_ms() + 10000;
    pthread_mutex_lock(&held_lock);
    while (nheld < n && now_ms() < end) {
        pthread_mutex_unlock(&held_lock);
        sleep_ms(2);
        pthread_mutex_lock(&held_lock);
    }
    ck_assert_uint_ge(nheld, n);
    turbo_deferred *d = held[i];
    pthread_mutex_unlock(&held_lock);
    return d;
}

static void held_reset(void)
{
    nheld = 0;
}

/* What the cancel callbacks saw. */
static _Atomic int cancels;
static _Atomic pthread_t cancel_thread;
static _Atomic pthread_t handler_thread;

static void on_cancel(turbo_deferred *d, void *ud)
{
    (void)d, (void)ud;
    atomic_store(&cancel_thread, pthread_self());
    atomic_fetch_add(&cancels, 1);
}

static void reset_counts(void)
{
    held_reset();
    atomic_store(&cancels, 0);
}

/* ---- handlers ----------------------------------------------------------- */

/* Defers, and leaves the request to the test (held). */
static int deferring(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    atomic_store(&handler_thread, pthread_self());
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    turbo_deferred_on_cancel(d, on_cancel, NULL);
    hold(d);
    return TURBO_DEFER;
}

static _Atomic int fast_calls;

static int fast(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    atomic_fetch_add(&fast_calls, 1);
    return turbo_response_body(res, "fast", 4);
}

/* Defers and finishes at once, before returning. */
static int finished_inline(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    turbo_response_body(turbo_deferred_response(d), "inline", 6);
    turbo_deferred_finish(d);
    return TURBO_DEFER;
}

static int defer_without_handle(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)res, (void)ud;
    return TURBO_DEFER;
}

/* Sets the body from what the handler saw (a header, a parameter, the
 * body), after the request's buffer has moved on. */
static void finish_echo(turbo_deferred *d)
{
    turbo_request *req = turbo_deferred_request(d);
    turbo_response *res = turbo_deferred_response(d);
    turbo_str v = {NULL, 0};
    turbo_request_header(req, "X-Tag", 5, &v);
    turbo_str p = turbo_request_param(req, "id", 2);
    turbo_str b = turbo_request_body(req);
    turbo_str addr = turbo_request_remote_addr(req);
    int port = turbo_request_remote_port(req);
    char *scratch = turbo_request_alloc(req, 128);
    int n = snprintf(scratch, 128, "%.*s/%.*s/%.*s/%.*s/%s", (int)v.len, v.ptr, (int)p.len, p.ptr,
                     (int)b.len, b.ptr, (int)addr.len, addr.ptr, port > 0 ? "port" : "none");
    turbo_response_header(res, "Content-Type", 12, "text/plain", 10);
    turbo_response_body(res, scratch, (size_t)n);
    turbo_deferred_finish(d);
}

static void *finisher_thread(void *arg)
{
    sleep_ms(20);
    finish_echo(arg);
    return NULL;
}

/* Defers and finishes from a new thread 20 ms later. */
static int deferred_echo(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    pthread_t th;
    if (pthread_create(&th, NULL, finisher_thread, d) != 0)
        return TURBO_ESYS;
    pthread_detach(th);
    return TURBO_DEFER;
}

static const test_route routes[] = {
    {"GET", "/held", deferring},
    {"POST", "/held", deferring},
    {"HEAD", "/held", deferring},
    {"GET", "/fast", fast},
    {"GET", "/inline", finished_inline},
    {"GET", "/nohandle", defer_without_handle},
    {"POST", "/echo/{id}", deferred_echo},
    {NULL, NULL, NULL},
};

static turbo_server *start(turbo_config *cfg)
{
    reset_counts();
    return server_started(cfg, routes);
}

static void finish_with(turbo_deferred *d, const char *body)
{
    turbo_response_header(turbo_deferred_response(d), "Content-Type", 12, "text/plain", 10);
    turbo_response_body(turbo_deferred_response(d), body, strlen(body));
    ck_assert_int_eq(turbo_deferred_finish(d), TURBO_OK);
}

static void expect(client *c, int status, const char *body)
{
    response *r = response_new();
    read_response(c, r);
    ck_assert_int_eq(r->status, status);
    ck_assert_str_eq(r->body, body);
    free(r);
}

/* ---- deferred completion ----------------------------------------------- */

START_TEST(a_request_finished_from_another_thread_is_answered)
{
    turbo_server *s = start(config_with_threads(2));
    client *c = client_open(s, 10);
    send_str(c, "POST /echo/42 HTTP/1.1\r\nHost: t\r\nX-Tag: tag\r\nContent-Length: 4\r\n\r\nbody");
    expect(c, 200, "tag/42/body/127.0.0.1/port");
    /* The connection goes on as usual. */
    send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "fast");
    client_close(c);
    assert_stat(s, TURBO_STAT_HANDLER_ERRORS, 0);
    stop_and_free(s);
}
END_TEST

START_TEST(finished_before_its_handler_returns_it_is_answered_inline)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /inline HTTP/1.1\r\nHost: t\r\n\r\nGET /inline HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "inline");
    expect(c, 200, "inline");
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(returning_defer_without_a_handle_is_a_500)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /nohandle HTTP/1.1\r\nHost: t\r\n\r\n");
    response *r = response_new();
    read_response(c, r);
    ck_assert_int_eq(r->status, 500);
    free(r);
    client_close(c);
    assert_stat(s, TURBO_STAT_HANDLER_ERRORS, 1);
    stop_and_free(s);
}
END_TEST

START_TEST(pipelined_answers_leave_in_request_order)
{
    turbo_server *s = start(config_with_threads(1));
    atomic_store(&fast_calls, 0);
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /held HTTP/1.1\r\nHost: t\r\n\r\n"
                "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    /* Every request ran: the inline ones answered while the first waits. */
    turbo_deferred *first = held_at(0, 2), *second = held_at(1, 2);
    for (int i = 0; i < 500 && atomic_load(&fast_calls) < 2; i++)
        sleep_ms(2);
    ck_assert_int_eq(atomic_load(&fast_calls), 2);
    finish_with(second, "second"); /* out of order: still third on the wire */
    sleep_ms(50);
    char peek;
    ck_assert_uint_eq(c->len, 0);
    ck_assert_int_eq(recv(c->fd, &peek, 1, MSG_PEEK | MSG_DONTWAIT), -1);
    ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
    finish_with(first, "first");
    expect(c, 200, "first");
    expect(c, 200, "fast");
    expect(c, 200, "second");
    expect(c, 200, "fast");
    client_close(c);
    assert_stat(s, TURBO_STAT_REQUESTS, 4);
    stop_and_free(s);
}
END_TEST

START_TEST(head_and_connection_close_are_framed_as_for_inline_answers)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "HEAD /held HTTP/1.1\r\nHost: t\r\n\r\n");
    finish_with(held_at(0, 1), "twelve bytes");
    response *r = response_new();
    read_response_ex(c, r, 1);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Content-Length"), "12");
    ck_assert_uint_eq(r->body_len, 0);
    /* HTTP/1.0 without keep-alive: closed after the deferred answer. */
    send_str(c, "GET /held HTTP/1.0\r\n\r\n");
    finish_with(held_at(1, 2), "old");
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "old");
    ck_assert_str_eq(header(r, "Connection"), "close");
    ck_assert_uint_eq(read_until_eof(c), 0);
    free(r);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(expect_100_continue_comes_before_the_deferred_answer)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "POST /held HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\n"
                "Content-Length: 5\r\n\r\n");
    char line[64];
    size_t n = read_head(c, line, sizeof line, "100 Continue");
    ck_assert_uint_eq(n, 25);
    ck_assert_str_eq(line, "HTTP/1.1 100 Continue\r\n\r\n");
    send_str(c, "hello");
    finish_with(held_at(0, 1), "ok");
    expect(c, 200, "ok");
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(a_client_that_leaves_cancels_once_on_the_owning_thread)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = held_at(0, 1);
    client_close(c);
    for (int i = 0; i < 1000 && atomic_load(&cancels) == 0; i++)
        sleep_ms(2);
    ck_assert_int_eq(atomic_load(&cancels), 1);
    ck_assert(pthread_equal(atomic_load(&cancel_thread), atomic_load(&handler_thread)));
    ck_assert_int_eq(turbo_deferred_cancelled(d), 1);
    /* The holder still finishes: that only frees (no write, no leak). */
    finish_with(d, "nobody reads this");
    sleep_ms(20);
    ck_assert_int_eq(atomic_load(&cancels), 1);
    c = client_open(s, 10);
    send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "fast");
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(past_the_deferred_timeout_the_client_gets_504)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_deferred_timeout_ms(cfg, 200), TURBO_OK);
    turbo_server *s = start(cfg);
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\nGET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = held_at(0, 1);
    response *r = response_new();
    read_response(c, r);
    ck_assert_int_eq(r->status, 504);
    ck_assert_str_eq(header(r, "Connection"), "close");
    ck_assert_uint_eq(read_until_eof(c), 0); /* the pipelined one is not answered */
    free(r);
    client_close(c);
    ck_assert_int_eq(atomic_load(&cancels), 1);
    finish_with(d, "too late");
    assert_stat(s, TURBO_STAT_TIMEOUTS, 1);
    stop_and_free(s);
}
END_TEST

START_TEST(a_connection_waiting_for_a_deferred_answer_is_not_idle)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_idle_timeout_ms(cfg, 50), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_header_timeout_ms(cfg, 50), TURBO_OK);
    turbo_server *s = start(cfg);
    client *c = client_open(s, 10);
    send_str(c, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = held_at(0, 1);
    sleep_ms(400); /* eight idle timeouts */
    finish_with(d, "still here");
    expect(c, 200, "still here");
    client_close(c);
    ck_assert_int_eq(atomic_load(&cancels), 0);
    stop_and_free(s);
}
END_TEST

typedef struct stopper {
    turbo_server *s;
    _Atomic int waited;
} stopper;

static void *stop_and_wait(void *arg)
{
    stopper *st = arg;
    turbo_server_stop(st->s);
    turbo_server_wait(st->s);
    atomic_store(&st->waited, 1);
    return NULL;
}

START_TEST(a_graceful_stop_waits_for_deferred_answers_then_cancels_them)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_stop_grace_ms(cfg, 1500), TURBO_OK);
    turbo_server *s = start(cfg);
    client *a = client_open(s, 10), *b = client_open(s, 10);
    send_str(a, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *da = held_at(0, 1);
    send_str(b, "GET /held HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *db = held_at(1, 2);
    stopper st = {s, 0};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, stop_and_wait, &st), 0);
    sleep_ms(100);
    finish_with(da, "in time"); /* within the grace period: answered */
    response *r = response_new();
    read_response(a, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "in time");
    ck_assert_str_eq(header(r, "Connection"), "close");
    read_response(b, r); /* past it: 503, and the holder is cancelled */
    ck_assert_int_eq(r->status, 503);
    free(r);
    ck_assert_int_eq(atomic_load(&cancels), 1);
    /* wait() returns only once the cancelled holder has finished. */
    sleep_ms(100);
    ck_assert_int_eq(atomic_load(&st.waited), 0);
    finish_with(db, "after cancel");
    pthread_join(th, NULL);
    ck_assert_int_eq(atomic_load(&st.waited), 1);
    client_close(a);
    client_close(b);
    turbo_server_free(s);
}
END_TEST

/* ---- many, from several threads ---------------------------------------- */

#define STRESS_FINISHERS 4

static pthread_mutex_t stress_lock = PTHREAD_MUTEX_INITIALIZER;
static turbo_deferred **stress_q;
static size_t stress_n, stress_head, stress_total;
static _Atomic size_t stress_done;

static int stress_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    pthread_mutex_lock(&stress_lock);
    stress_q[stress_n++] = d;
    pthread_mutex_unlock(&stress_lock);
    return TURBO_DEFER;
}

/* Takes held requests in a random order and answers each with its own
 * path parameter. */
static void *stress_finisher(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    while (atomic_load(&stress_done) < stress_total) {
        turbo_deferred *d = NULL;
        pthread_mutex_lock(&stress_lock);
        size_t avail = stress_n - stress_head;
        if (avail > 0) {
            size_t pick = stress_head + (size_t)rand_r(&seed) % avail;
            d = stress_q[pick];
            stress_q[pick] = stress_q[stress_head++];
        }
        pthread_mutex_unlock(&stress_lock);
        if (d == NULL) {
            sched_yield();
            continue;
        }
        turbo_str id = turbo_request_param(turbo_deferred_request(d), "n", 1);
        turbo_response_body(turbo_deferred_response(d), id.ptr, id.len);
        turbo_deferred_finish(d);
        atomic_fetch_add(&stress_done, 1);
    }
    return NULL;
}

typedef struct stress_client {
    int port;
    unsigned first, count; /* request numbers */
    int failed;
} stress_client;

/* Sends its requests in pipelined batches of 16 and checks each answer. */
static void *stress_client_main(void *arg)
{
    stress_client *sc = arg;
    client *c = malloc(sizeof(*c));
    if (c == NULL || try_client_open(c, sc->port, 30) != 0) {
        sc->failed = 1;
        free(c);
        return NULL;
    }
    char req[128], want[64];
    for (unsigned i = 0; i < sc->count && !sc->failed; i += 16) {
        unsigned batch = sc->count - i < 16 ? sc->count - i : 16;
        for (unsigned k = 0; k < batch; k++) {
            int n = snprintf(req, sizeof req, "GET /n/%u HTTP/1.1\r\nHost: t\r\n\r\n",
                             sc->first + i + k);
            if (try_send(c->fd, req, (size_t)n) != 0)
                sc->failed = 1;
        }
        for (unsigned k = 0; k < batch && !sc->failed; k++) {
            ssize_t h = client_wait_head(c);
            if (h <= 0) {
                sc->failed = 1;
                break;
            }
            unsigned id = sc->first + i + k;
            int wl = snprintf(want, sizeof want, "%u", id);
            char cl[64];
            int cll = snprintf(cl, sizeof cl, "\r\nContent-Length: %d\r\n", wl);
            if (memcmp(c->buf, "HTTP/1.1 200 OK\r\n", 17) != 0 ||
                memmem(c->buf, (size_t)h, cl, (size_t)cll) == NULL ||
                client_wait(c, (size_t)h + (size_t)wl) <= 0 ||
                memcmp(c->buf + h, want, (size_t)wl) != 0) {
                sc->failed = 1;
                break;
            }
            client_consume(c, (size_t)h + (size_t)wl);
        }
    }
    close(c->fd);
    free(c);
    return NULL;
}

START_TEST(a_hundred_thousand_finished_from_four_threads_in_random_order)
{
    const char *env = getenv("TURBO_STRESS_N");
    stress_total = env != NULL ? strtoul(env, NULL, 10) : 100000;
    stress_q = calloc(stress_total, sizeof(*stress_q));
    ck_assert_ptr_nonnull(stress_q);
    stress_n = stress_head = 0;
    atomic_store(&stress_done, 0);
    turbo_config *cfg = config_with_threads(2);
    ck_assert_int_eq(turbo_config_set_server_name(cfg, NULL), TURBO_OK);
    turbo_server *s = server_listening(cfg);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/n/{n}", stress_handler, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);

    pthread_t fin[STRESS_FINISHERS], cl[8];
    stress_client scs[8];
    for (unsigned i = 0; i < STRESS_FINISHERS; i++)
        ck_assert_int_eq(pthread_create(&fin[i], NULL, stress_finisher, (void *)(uintptr_t)(i + 1)), 0);
    unsigned per = (unsigned)(stress_total / 8);
    for (unsigned i = 0; i < 8; i++) {
        scs[i] = (stress_client){turbo_server_port(s), i * per,
                                 i == 7 ? (unsigned)stress_total - 7 * per : per, 0};
        ck_assert_int_eq(pthread_create(&cl[i], NULL, stress_client_main, &scs[i]), 0);
    }
    for (unsigned i = 0; i < 8; i++) {
        pthread_join(cl[i], NULL);
        ck_assert_msg(!scs[i].failed, "client %u saw a wrong or missing answer", i);
    }
    for (unsigned i = 0; i < STRESS_FINISHERS; i++)
        pthread_join(fin[i], NULL);
    assert_stat(s, TURBO_STAT_REQUESTS, stress_total);
    assert_stat(s, TURBO_STAT_HANDLER_ERRORS, 0);
    stop_and_free(s);
    free(stress_q);
}
END_TEST

/* ---- the loop ----------------------------------------------------------- */

typedef struct piped {
    turbo_deferred *d;
    turbo_watch *w;
    int fds[2];
    pthread_t io_thread;
} piped;

static _Atomic int loop_checks_failed;

static void pipe_readable(turbo_watch *w, unsigned revents, void *ud)
{
    piped *p = ud;
    char buf[32];
    if (!pthread_equal(pthread_self(), p->io_thread) || revents != TURBO_READ)
        atomic_store(&loop_checks_failed, 1);
    ssize_t n = read(p->fds[0], buf, sizeof buf);
    turbo_watch_free(w); /* from inside its own callback */
    close(p->fds[0]);
    close(p->fds[1]);
    turbo_response_body(turbo_deferred_response(p->d), buf, n > 0 ? (size_t)n : 0);
    turbo_deferred_finish(p->d); /* on the owning thread: at once */
    free(p);
}

static void *write_later(void *arg)
{
    int fd = (int)(intptr_t)arg;
    sleep_ms(30);
    ssize_t n = write(fd, "from the pipe", 13);
    (void)n;
    return NULL;
}

/* Starts non-blocking "I/O" (a pipe another thread writes to later) and
 * finishes from the watch callback, on the same thread, with no lock. */
static int watching(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    piped *p = malloc(sizeof(*p));
    if (p == NULL || pipe(p->fds) != 0)
        return TURBO_ESYS;
    p->io_thread = pthread_self();
    p->d = turbo_defer(req, res);
    p->w = turbo_loop_watch(turbo_request_loop(req), p->fds[0], TURBO_READ, pipe_readable, p);
    if (p->d == NULL || p->w == NULL)
        return TURBO_ENOMEM;
    pthread_t th;
    pthread_create(&th, NULL, write_later, (void *)(intptr_t)p->fds[1]);
    pthread_detach(th);
    return TURBO_DEFER;
}

static void timer_fired(void *ud)
{
    turbo_deferred *d = ud;
    if (!pthread_equal(pthread_self(), atomic_load(&handler_thread)))
        atomic_store(&loop_checks_failed, 1);
    turbo_response_body(turbo_deferred_response(d), "timer", 5);
    turbo_deferred_finish(d);
}

static void never_fires(void *ud)
{
    (void)ud;
    atomic_store(&loop_checks_failed, 1);
}

static int timed(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    atomic_store(&handler_thread, pthread_self());
    turbo_deferred *d = turbo_defer(req, res);
    turbo_loop *l = turbo_request_loop(req);
    turbo_timer *cancelled = turbo_loop_timer(l, 10, never_fires, NULL);
    turbo_timer_cancel(cancelled);
    if (d == NULL || turbo_loop_timer(l, 30, timer_fired, d) == NULL)
        return TURBO_ENOMEM;
    return TURBO_DEFER;
}

static void posted(void *ud)
{
    turbo_deferred *d = ud;
    if (!pthread_equal(pthread_self(), atomic_load(&handler_thread)))
        atomic_store(&loop_checks_failed, 1);
    turbo_response_body(turbo_deferred_response(d), "posted", 6);
    turbo_deferred_finish(d);
}

static void *post_from_elsewhere(void *arg)
{
    turbo_deferred *d = arg;
    sleep_ms(20);
    if (turbo_loop_post(turbo_request_loop(turbo_deferred_request(d)), posted, d) != TURBO_OK)
        atomic_store(&loop_checks_failed, 1);
    return NULL;
}

static int posting(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    atomic_store(&handler_thread, pthread_self());
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    pthread_t th;
    pthread_create(&th, NULL, post_from_elsewhere, d);
    pthread_detach(th);
    return TURBO_DEFER;
}

/* The loop's watch and timer are for its own thread only. */
static void *foreign_watch(void *arg)
{
    turbo_loop *l = arg;
    errno = 0;
    turbo_watch *w = turbo_loop_watch(l, 0, TURBO_READ, pipe_readable, NULL);
    return (void *)(intptr_t)(w == NULL && errno == EPERM);
}

static turbo_loop *seen_loop;
static int loop_marker;
static int left_pipe[2] = {-1, -1};

static void never_ready(turbo_watch *w, unsigned revents, void *ud)
{
    (void)w, (void)revents, (void)ud;
    atomic_store(&loop_checks_failed, 1);
}

/* Keeps a pointer on its loop, and leaves a watch and a timer behind for
 * the server to free (checked by ASan and valgrind). */
static int remember_loop(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_loop *l = turbo_request_loop(req);
    if (seen_loop == NULL) {
        seen_loop = l;
        turbo_loop_set_data(l, &loop_marker);
        if (pipe(left_pipe) != 0 ||
            turbo_loop_watch(l, left_pipe[0], TURBO_READ, never_ready, NULL) == NULL ||
            turbo_loop_timer(l, 3600 * 1000, never_fires, NULL) == NULL)
            return TURBO_ESYS;
    }
    if (turbo_loop_data(l) != &loop_marker)
        return TURBO_EHANDLER;
    return turbo_response_body(res, "loop", 4);
}

START_TEST(the_loop_runs_watches_timers_and_posts_on_the_io_thread)
{
    atomic_store(&loop_checks_failed, 0);
    turbo_server *s = server_listening(config_with_threads(1));
    ck_assert_int_eq(turbo_route_add(s, "GET", "/watch", watching, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/timer", timed, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/post", posting, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/loop", remember_loop, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    client *c = client_open(s, 10);
    send_str(c, "GET /watch HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "from the pipe");
    send_str(c, "GET /timer HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "timer");
    send_str(c, "GET /post HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "posted");
    send_str(c, "GET /loop HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "loop");
    send_str(c, "GET /loop HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "loop");
    client_close(c);
    pthread_t th;
    void *refused;
    pthread_create(&th, NULL, foreign_watch, seen_loop);
    pthread_join(th, &refused);
    ck_assert_int_eq((int)(intptr_t)refused, 1);
    sleep_ms(30);
    ck_assert_int_eq(atomic_load(&loop_checks_failed), 0);
    stop_and_free(s); /* frees the watch and the timer left behind */
    close(left_pipe[0]);
    close(left_pipe[1]);
}
END_TEST

/* ---- the blocking pool -------------------------------------------------- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_open;
static _Atomic int blocked_in;

static int blocking(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    if (pthread_equal(pthread_self(), atomic_load(&handler_thread)))
        return TURBO_EHANDLER; /* must not run on the I/O thread */
    atomic_fetch_add(&blocked_in, 1);
    pthread_mutex_lock(&gate_lock);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return turbo_response_body(res, "blocked", 7);
}

static int io_thread_probe(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    atomic_store(&handler_thread, pthread_self());
    return turbo_response_body(res, "io", 2);
}

static void open_gate(int open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

START_TEST(blocking_routes_run_on_the_pool_while_the_io_thread_serves_on)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_blocking_threads(cfg, 2), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_blocking_queue(cfg, 1), TURBO_OK);
    turbo_server *s = server_listening(cfg);
    ck_assert_int_eq(turbo_route_add_opts(s, "GET", "/block", blocking, NULL, NULL,
                                          TURBO_ROUTE_BLOCKING), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/io", io_thread_probe, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_route_add_opts(s, "GET", "/bad", blocking, NULL, NULL, 1u << 7),
                     TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    open_gate(0);
    atomic_store(&blocked_in, 0);
    client *probe = client_open(s, 10);
    send_str(probe, "GET /io HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(probe, 200, "io");

    /* Two pool threads busy, one request queued: the fourth finds the
     * queue full and is answered 503 at once. */
    client *c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = client_open(s, 10);
        send_str(c[i], "GET /block HTTP/1.1\r\nHost: t\r\n\r\n");
        if (i < 2)
            for (int k = 0; k < 1000 && atomic_load(&blocked_in) <= i; k++)
                sleep_ms(2);
        else
            sleep_ms(50);
    }
    ck_assert_int_eq(atomic_load(&blocked_in), 2);
    response *r = response_new();
    read_response(c[3], r);
    ck_assert_int_eq(r->status, 503);
    ck_assert_str_eq(header(r, "Retry-After"), "1");
    /* Meanwhile the I/O thread answers at once. */
    send_str(probe, "GET /io HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(probe, 200, "io");
    open_gate(1);
    for (int i = 0; i < 3; i++)
        expect(c[i], 200, "blocked");
    free(r);
    for (int i = 0; i < 4; i++)
        client_close(c[i]);
    client_close(probe);
    assert_stat(s, TURBO_STAT_HANDLER_ERRORS, 0);
    stop_and_free(s);
}
END_TEST

/* A blocking fallback: every path no route serves runs on the pool, with
 * the status the router found (404, or 405 and its Allow), while the I/O
 * thread serves its routes; its release runs once, at free. */
static _Atomic int fallback_released;

static void fallback_release(void *ud)
{
    ck_assert_str_eq(ud, "fb");
    atomic_fetch_add(&fallback_released, 1);
}

static int blocking_fallback(turbo_request *req, turbo_response *res, void *ud)
{
    if (pthread_equal(pthread_self(), atomic_load(&handler_thread)))
        return TURBO_EHANDLER; /* must not run on the I/O thread */
    char body[96];
    turbo_str path = turbo_request_path(req);
    int n = snprintf(body, sizeof body, "%s %d %.*s", (const char *)ud,
                     turbo_response_status_code(res), (int)path.len, path.ptr);
    turbo_response_status(res, 200);
    return turbo_response_body(res, body, (size_t)n);
}

START_TEST(a_blocking_fallback_runs_on_the_pool_and_is_released_at_free)
{
    atomic_store(&fallback_released, 0);
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_blocking_threads(cfg, 1), TURBO_OK);
    turbo_server *s = server_listening(cfg);
    ck_assert_int_eq(turbo_server_set_fallback_opts(s, blocking_fallback, "fb", NULL, 1u << 7),
                     TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_set_fallback_opts(s, NULL, NULL, fallback_release, 0),
                     TURBO_EINVAL);
    /* Replaced before start: the first one's release runs then. */
    ck_assert_int_eq(turbo_server_set_fallback_opts(s, blocking_fallback, "fb", fallback_release,
                                                    0), TURBO_OK);
    ck_assert_int_eq(turbo_server_set_fallback_opts(s, blocking_fallback, "fb", fallback_release,
                                                    TURBO_ROUTE_BLOCKING), TURBO_OK);
    ck_assert_int_eq(atomic_load(&fallback_released), 1);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/io", io_thread_probe, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    ck_assert_int_eq(turbo_server_set_fallback_opts(s, NULL, NULL, NULL, 0), TURBO_ESTATE);
    client *c = client_open(s, 10);
    send_str(c, "GET /io HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "io");
    for (int i = 0; i < 50; i++) {
        send_str(c, "GET /any/where HTTP/1.1\r\nHost: t\r\n\r\n");
        expect(c, 200, "fb 404 /any/where");
        send_str(c, "POST /io HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
        expect(c, 200, "fb 405 /io");
    }
    client_close(c);
    assert_stat(s, TURBO_STAT_HANDLER_ERRORS, 0);
    ck_assert_int_eq(atomic_load(&fallback_released), 1);
    stop_and_free(s);
    ck_assert_int_eq(atomic_load(&fallback_released), 2);
}
END_TEST

/* ---- a route's release waits for its deferred requests ----------------- */

static _Atomic int released;

static void count_release(void *ud)
{
    (void)ud;
    atomic_fetch_add(&released, 1);
}

START_TEST(a_removed_routes_release_waits_for_its_deferred_requests)
{
    atomic_store(&released, 0);
    reset_counts();
    turbo_server *s = server_listening(config_with_threads(1));
    ck_assert_int_eq(turbo_route_add_full(s, "GET", "/r", deferring, NULL, count_release),
                     TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/fast", fast, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    client *c = client_open(s, 10);
    send_str(c, "GET /r HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_deferred *d = held_at(0, 1);
    ck_assert_int_eq(turbo_route_remove(s, "GET", "/r"), TURBO_OK);
    /* Other requests and the housekeeping timer go on; the release must
     * not run while the deferred request can still reach user_data. */
    client *o = client_open(s, 10);
    for (int i = 0; i < 20; i++) {
        send_str(o, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
        expect(o, 200, "fast");
        sleep_ms(10);
    }
    ck_assert_int_eq(atomic_load(&released), 0);
    finish_with(d, "done");
    expect(c, 200, "done");
    for (int i = 0; i < 2000 && atomic_load(&released) == 0; i++) {
        send_str(o, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
        expect(o, 200, "fast");
        sleep_ms(5);
    }
    ck_assert_int_eq(atomic_load(&released), 1);
    client_close(c);
    client_close(o);
    stop_and_free(s);
    ck_assert_int_eq(atomic_load(&released), 1);
}
END_TEST

/* ---- found in review: a holder that is quicker than its handler, cancel
 * callbacks that finish, blocking handlers that defer ------------------- */

/* Stops and waits in a thread; fails if wait does not return in time. */
typedef struct waiter {
    turbo_server *s;
    _Atomic int done;
} waiter;
static void *waiter_main(void *a)
{
    waiter *st = a;
    turbo_server_stop(st->s);
    turbo_server_wait(st->s);
    atomic_store(&st->done, 1);
    return NULL;
}
static void stop_within(turbo_server *s, unsigned ms)
{
    waiter st = {s, 0};
    pthread_t th;
    pthread_create(&th, NULL, waiter_main, &st);
    uint64_t end = now_ms() + ms;
    while (!atomic_load(&st.done) && now_ms() < end)
        sleep_ms(10);
    if (!atomic_load(&st.done)) {
        ck_abort_msg("turbo_server_wait did not return within %u ms", ms);
    }
    pthread_join(th, NULL);
    turbo_server_free(s);
}

/* ---- A: a blocking handler defers, its holder finishes before the
 * handler returns ------------------------------------------------------ */

static void *finish_now(void *arg)
{
    turbo_deferred *d = arg;
    turbo_response_body(turbo_deferred_response(d), "early", 5);
    turbo_deferred_finish(d);
    return NULL;
}

static int blocking_defer_early(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    pthread_t th;
    pthread_create(&th, NULL, finish_now, d);
    pthread_join(th, NULL); /* finished by another thread, handler still running */
    sleep_ms(100);
    return TURBO_DEFER;
}


START_TEST(blocking_holder_finishes_before_handler_returns)
{
    turbo_server *s = server_listening(config_with_threads(1));
    ck_assert_int_eq(turbo_route_add_opts(s, "GET", "/b", blocking_defer_early, NULL, NULL,
                                          TURBO_ROUTE_BLOCKING), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/fast", fast, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    client *c = client_open(s, 10);
    send_str(c, "GET /b HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "early");
    sleep_ms(300); /* the handler returns now, on a recycled exchange */
    for (int i = 0; i < 3; i++) {
        send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
        expect(c, 200, "fast");
    }
    client_close(c);
    stop_within(s, 5000);
}
END_TEST

/* ---- B: a cancel callback finishes another deferred request of the same
 * connection (a holder that serves several, e.g. one upstream query) ---- */

static turbo_deferred *group[8];
static _Atomic int ngroup;

static void cancel_all(turbo_deferred *d, void *ud)
{
    (void)d, (void)ud;
    int n = atomic_exchange(&ngroup, 0);
    for (int i = 0; i < n; i++)
        turbo_deferred_finish(group[i]); /* the loop's own holder lets go of all */
}

static int grouped(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    turbo_deferred_on_cancel(d, cancel_all, NULL);
    group[atomic_fetch_add(&ngroup, 1)] = d;
    return TURBO_DEFER;
}

START_TEST(cancel_callback_finishes_a_sibling)
{
    atomic_store(&ngroup, 0);
    turbo_server *s = server_listening(config_with_threads(1));
    ck_assert_int_eq(turbo_route_add(s, "GET", "/g", grouped, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/fast", fast, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    client *c = client_open(s, 10);
    send_str(c, "GET /g HTTP/1.1\r\nHost: t\r\n\r\nGET /g HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 500 && atomic_load(&ngroup) < 2; i++)
        sleep_ms(2);
    ck_assert_int_eq(atomic_load(&ngroup), 2);
    client_close(c); /* the client leaves: both cancelled */
    sleep_ms(200);
    c = client_open(s, 10);
    send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    expect(c, 200, "fast");
    client_close(c);
    stop_within(s, 5000);
}
END_TEST

/* ---- C: TSan: a blocking handler that defers / sets a cancel callback /
 * finishes inline, while the I/O thread parks the request ------------- */

static void noop_cancel(turbo_deferred *d, void *ud)
{
    (void)d, (void)ud;
}

static int blocking_inline(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    turbo_deferred_on_cancel(d, noop_cancel, NULL);
    turbo_response_body(res, "ok", 2);
    turbo_deferred_finish(d);
    return TURBO_DEFER;
}

START_TEST(blocking_handler_defers_inline_many)
{
    turbo_config *cfg = config_with_threads(1);
    turbo_config_set_blocking_threads(cfg, 2);
    turbo_server *s = server_listening(cfg);
    ck_assert_int_eq(turbo_route_add_opts(s, "GET", "/bi", blocking_inline, NULL, NULL,
                                          TURBO_ROUTE_BLOCKING), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    client *c = client_open(s, 10);
    for (int i = 0; i < 2000; i++) {
        send_str(c, "GET /bi HTTP/1.1\r\nHost: t\r\n\r\n");
        expect(c, 200, "ok");
    }
    client_close(c);
    stop_within(s, 5000);
}
END_TEST

/* A blocking handler that defers and sets its cancel callback, the client
 * leaving meanwhile. */
static turbo_deferred *_Atomic kept;
static int blocking_keep(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_deferred *d = turbo_defer(req, res);
    turbo_deferred_on_cancel(d, noop_cancel, NULL);
    atomic_store(&kept, d);
    return TURBO_DEFER;
}

START_TEST(blocking_cancel_callback_race)
{
    turbo_server *s = server_listening(config_with_threads(1));
    ck_assert_int_eq(turbo_route_add_opts(s, "GET", "/k", blocking_keep, NULL, NULL,
                                          TURBO_ROUTE_BLOCKING), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    client *c = client_open(s, 10);
    send_str(c, "GET /k HTTP/1.1\r\nHost: t\r\n\r\n");
    for (int i = 0; i < 500 && atomic_load(&kept) == NULL; i++)
        sleep_ms(2);
    client_close(c);
    sleep_ms(100);
    turbo_deferred_finish(atomic_load(&kept));
    stop_within(s, 5000);
}
END_TEST

static Suite *defer_suite(void)
{
    Suite *su = suite_create("defer");
    TCase *tc = tcase_create("deferred");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_request_finished_from_another_thread_is_answered);
    tcase_add_test(tc, finished_before_its_handler_returns_it_is_answered_inline);
    tcase_add_test(tc, returning_defer_without_a_handle_is_a_500);
    tcase_add_test(tc, pipelined_answers_leave_in_request_order);
    tcase_add_test(tc, head_and_connection_close_are_framed_as_for_inline_answers);
    tcase_add_test(tc, expect_100_continue_comes_before_the_deferred_answer);
    tcase_add_test(tc, a_client_that_leaves_cancels_once_on_the_owning_thread);
    tcase_add_test(tc, past_the_deferred_timeout_the_client_gets_504);
    tcase_add_test(tc, a_connection_waiting_for_a_deferred_answer_is_not_idle);
    tcase_add_test(tc, a_graceful_stop_waits_for_deferred_answers_then_cancels_them);
    tcase_add_test(tc, a_removed_routes_release_waits_for_its_deferred_requests);
    suite_add_tcase(su, tc);
    tc = tcase_create("stress");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, a_hundred_thousand_finished_from_four_threads_in_random_order);
    suite_add_tcase(su, tc);
    tc = tcase_create("loop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, the_loop_runs_watches_timers_and_posts_on_the_io_thread);
    suite_add_tcase(su, tc);
    tc = tcase_create("pool");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, blocking_routes_run_on_the_pool_while_the_io_thread_serves_on);
    tcase_add_test(tc, a_blocking_fallback_runs_on_the_pool_and_is_released_at_free);
    tcase_add_test(tc, blocking_holder_finishes_before_handler_returns);
    tcase_add_test(tc, blocking_handler_defers_inline_many);
    tcase_add_test(tc, blocking_cancel_callback_race);
    suite_add_tcase(su, tc);
    tc = tcase_create("callbacks");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, cancel_callback_finishes_a_sibling);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(defer_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
