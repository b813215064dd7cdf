/*
 * Routes added and removed while the server serves: behaviour on real
 * sockets, release callbacks, and a concurrency stress test (two I/O
 * threads under load while a writer churns thousands of routes). Public
 * ABI only.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

/* ---- GET on the shared client (http_client.h) ------------------------- */

#define CLIENT_TIMEOUT_S 5

/* GET path; *status and body (NUL-terminated, at most cap-1 bytes).
 * 0 on success, -1 on a transport or framing error. No Check assertions:
 * the stress clients run it on their own threads. */
static int client_get(client *c, const char *path, int *status, char *body, size_t cap)
{
    char req[512];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", path);
    if (try_send(c->fd, req, (size_t)n) != 0)
        return -1;
    ssize_t head = client_wait_head(c);
    if (head <= 0)
        return -1;
    char *cl = memmem(c->buf, (size_t)head, "Content-Length: ", 16);
    if (cl == NULL || sscanf(c->buf, "HTTP/1.1 %d", status) != 1)
        return -1;
    size_t blen = strtoul(cl + 16, NULL, 10);
    if (blen >= cap || client_wait(c, (size_t)head + blen) <= 0)
        return -1;
    memcpy(body, c->buf + head, blen);
    body[blen] = '\0';
    client_consume(c, (size_t)head + blen);
    return 0;
}

static void get_ok(int port, const char *path, int want_status, const char *want_body)
{
    client c;
    ck_assert_int_eq(try_client_open(&c, port, CLIENT_TIMEOUT_S), 0);
    int status;
    char body[256];
    ck_assert_int_eq(client_get(&c, path, &status, body, sizeof(body)), 0);
    ck_assert_int_eq(status, want_status);
    if (want_body != NULL)
        ck_assert_str_eq(body, want_body);
    close(c.fd);
}

/* ---- route data with a liveness check --------------------------------- */

#define ALIVE 0x600DF00Du
#define DEAD 0xDEADDEADu

typedef struct route_data {
    _Atomic unsigned magic;
    int key;
    char text[32];
} route_data;

static _Atomic long releases, release_errors, adds;

static route_data *data_new(int key, const char *text)
{
    route_data *d = malloc(sizeof(*d));
    ck_assert_ptr_nonnull(d);
    atomic_init(&d->magic, ALIVE);
    d->key = key;
    snprintf(d->text, sizeof(d->text), "%s", text);
    return d;
}

static void data_release(void *ud)
{
    route_data *d = ud;
    unsigned expect = ALIVE;
    /* A second release, or one of something never added, shows here. */
    if (!atomic_compare_exchange_strong(&d->magic, &expect, DEAD))
        atomic_fetch_add(&release_errors, 1);
    atomic_fetch_add(&releases, 1);
    free(d);
}

/* Answers the route's own text; 500 if its data was already released. */
static int text_handler(turbo_request *req, turbo_response *res, void *ud)
{
    route_data *d = ud;
    if (atomic_load(&d->magic) != ALIVE) {
        turbo_response_status(res, 500);
        return turbo_response_body(res, "released", 8);
    }
    turbo_str x = turbo_request_param(req, "x", 1);
    char body[64];
    int n = snprintf(body, sizeof(body), "%s:%.*s", d->text, (int)x.len, x.ptr ? x.ptr : "");
    return turbo_response_body(res, body, (size_t)n);
}

static void wait_releases(long want)
{
    /* Releases after the last write come from the I/O threads' sweep. */
    for (int i = 0; i < 400 && atomic_load(&releases) < want; i++)
        sleep_ms(10);
    ck_assert_int_eq(atomic_load(&releases), want);
}

static void reset_counters(void)
{
    atomic_store(&releases, 0);
    atomic_store(&release_errors, 0);
    atomic_store(&adds, 0);
}

/* ---- behaviour -------------------------------------------------------- */

START_TEST(route_added_while_serving_is_answered)
{
    reset_counters();
    turbo_server *s = server_listening(config_with_threads(2));
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    int port = turbo_server_port(s);
    get_ok(port, "/late/7", 404, NULL);
    ck_assert_int_eq(turbo_route_add_full(s, "GET", "/late/{x}", text_handler, data_new(1, "late"),
                                          data_release),
                     TURBO_OK);
    get_ok(port, "/late/7", 200, "late:7");
    ck_assert_int_eq(turbo_route_add_full(s, "GET", "/late/{y}", text_handler, data_new(2, "dup"),
                                          data_release),
                     TURBO_EEXIST);
    wait_releases(1); /* the refused add's data, released at once */
    get_ok(port, "/late/7", 200, "late:7");
    turbo_server_free(s);
    ck_assert_int_eq(atomic_load(&releases), 2);
    ck_assert_int_eq(atomic_load(&release_errors), 0);
}
END_TEST

START_TEST(route_removed_while_serving_is_404_and_released_once)
{
    reset_counters();
    turbo_server *s = server_listening(config_with_threads(2));
    ck_assert_int_eq(turbo_route_add_full(s, "GET", "/gone", text_handler, data_new(1, "gone"),
                                          data_release),
                     TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    int port = turbo_server_port(s);
    get_ok(port, "/gone", 200, "gone:");
    ck_assert_int_eq(turbo_route_remove(s, "GET", "/gone"), TURBO_OK);
    get_ok(port, "/gone", 404, "Not Found\n");
    ck_assert_int_eq(turbo_route_remove(s, "GET", "/gone"), TURBO_ENOENT);
    ck_assert_int_eq(turbo_route_remove(s, "GET", "/{bad"), TURBO_EPATTERN);
    wait_releases(1);
    turbo_server_free(s);
    ck_assert_int_eq(atomic_load(&releases), 1);
    ck_assert_int_eq(atomic_load(&release_errors), 0);
}
END_TEST

static turbo_server *self_server;

/* Removes its own route, then uses its data: the data must outlive the
 * call even though the route is gone. */
static int self_removing_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    route_data *d = ud;
    int rc = turbo_route_remove(self_server, "GET", "/self");
    sleep_ms(50); /* give a reclaimer every chance to run too early */
    if (rc != TURBO_OK || atomic_load(&d->magic) != ALIVE) {
        turbo_response_status(res, 500);
        return turbo_response_body(res, "broken", 6);
    }
    return turbo_response_body(res, d->text, strlen(d->text));
}

START_TEST(handler_removing_its_own_route_finishes_normally)
{
    reset_counters();
    turbo_server *s = server_listening(config_with_threads(2));
    self_server = s;
    ck_assert_int_eq(turbo_route_add_full(s, "GET", "/self", self_removing_handler,
                                          data_new(1, "still here"), data_release),
                     TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    int port = turbo_server_port(s);
    get_ok(port, "/self", 200, "still here");
    get_ok(port, "/self", 404, NULL);
    wait_releases(1);
    turbo_server_free(s);
    ck_assert_int_eq(atomic_load(&release_errors), 0);
}
END_TEST

static _Atomic int slow_entered, slow_may_finish;

static int slow_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    route_data *d = ud;
    atomic_store(&slow_entered, 1);
    while (!atomic_load(&slow_may_finish))
        sleep_ms(1);
    if (atomic_load(&d->magic) != ALIVE || atomic_load(&releases) != 0) {
        turbo_response_status(res, 500);
        return turbo_response_body(res, "released early", 14);
    }
    return turbo_response_body(res, d->text, strlen(d->text));
}

typedef struct get_job {
    int port;
    const char *path;
    int status;
    char body[64];
} get_job;

static void *get_thread(void *arg)
{
    get_job *j = arg;
    client c;
    j->status = -1;
    if (try_client_open(&c, j->port, CLIENT_TIMEOUT_S) == 0) {
        if (client_get(&c, j->path, &j->status, j->body, sizeof(j->body)) != 0)
            j->status = -1;
        close(c.fd);
    }
    return NULL;
}

START_TEST(release_waits_for_a_handler_still_running)
{
    reset_counters();
    atomic_store(&slow_entered, 0);
    atomic_store(&slow_may_finish, 0);
    turbo_server *s = server_listening(config_with_threads(2));
    ck_assert_int_eq(turbo_route_add_full(s, "GET", "/slow", slow_handler, data_new(1, "done"),
                                          data_release),
                     TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    get_job job = {turbo_server_port(s), "/slow", 0, ""};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, get_thread, &job), 0);
    while (!atomic_load(&slow_entered))
        sleep_ms(1);
    /* Removed from a non-I/O thread while its handler runs; the writer
     * churns more routes so that reclamation is attempted many times. */
    ck_assert_int_eq(turbo_route_remove(s, "GET", "/slow"), TURBO_OK);
    for (int i = 0; i < 200; i++) {
        char pat[32];
        snprintf(pat, sizeof(pat), "/churn/%d", i);
        ck_assert_int_eq(turbo_route_add(s, "GET", pat, text_handler, NULL), TURBO_OK);
        ck_assert_int_eq(turbo_route_remove(s, "GET", pat), TURBO_OK);
    }
    ck_assert_int_eq(atomic_load(&releases), 0);
    atomic_store(&slow_may_finish, 1);
    pthread_join(th, NULL);
    ck_assert_int_eq(job.status, 200);
    ck_assert_str_eq(job.body, "done");
    wait_releases(1);
    turbo_server_free(s);
    ck_assert_int_eq(atomic_load(&release_errors), 0);
}
END_TEST

static turbo_server *writer_server;
static _Atomic int writing_handler_running;

/* A handler that writes routes for a while, keeping its I/O thread's
 * read section open the whole time. */
static int writing_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    atomic_store(&writing_handler_running, 1);
    for (int i = 0; i < 10; i++) {
        if (turbo_route_add(writer_server, "GET", "/from-handler", text_handler, NULL) != TURBO_OK ||
            turbo_route_remove(writer_server, "GET", "/from-handler") != TURBO_OK)
            return TURBO_EHANDLER;
        sleep_ms(10);
    }
    return turbo_response_body(res, "wrote", 5);
}

START_TEST(writer_never_waits_for_a_handler_that_writes_or_blocks)
{
    reset_counters();
    atomic_store(&writing_handler_running, 0);
    turbo_server *s = server_listening(config_with_threads(2));
    writer_server = s;
    ck_assert_int_eq(turbo_route_add(s, "GET", "/write", writing_handler, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    get_job job = {turbo_server_port(s), "/write", 0, ""};
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, get_thread, &job), 0);
    while (!atomic_load(&writing_handler_running))
        sleep_ms(1);
    /* Many changes while the handler's section is open: a writer that
     * waited for readers here would wait for this handler, which may be
     * waiting for a lock the writer's caller holds. */
    for (int i = 0; i < 300; i++) {
        char pat[32];
        snprintf(pat, sizeof(pat), "/bulk/%d", i);
        ck_assert_int_eq(turbo_route_add_full(s, "GET", pat, text_handler, data_new(i, "bulk"),
                                              data_release),
                         TURBO_OK);
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(job.status, 200);
    ck_assert_str_eq(job.body, "wrote");
    get_ok(turbo_server_port(s), "/bulk/299", 200, "bulk:");
    turbo_server_free(s);
    ck_assert_int_eq(atomic_load(&releases), 300);
}
END_TEST

/* ---- stress ----------------------------------------------------------- */

#define KEYS 24
#define WRITER_OPS 4000
#define CLIENTS 4

typedef struct stress {
    turbo_server *s;
    int port;
    _Atomic int writer_done;
    _Atomic long requests, bad, found, missing;
    char bad_text[256];
    pthread_mutex_t bad_lock;
} stress;

static void stress_bad(stress *st, const char *path, int status, const char *body)
{
    pthread_mutex_lock(&st->bad_lock);
    if (atomic_fetch_add(&st->bad, 1) == 0)
        snprintf(st->bad_text, sizeof(st->bad_text), "%s -> %d '%s'", path, status, body);
    pthread_mutex_unlock(&st->bad_lock);
}

static void *stress_client(void *arg)
{
    stress *st = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed;
    client c;
    if (try_client_open(&c, st->port, CLIENT_TIMEOUT_S) != 0) {
        stress_bad(st, "connect", 0, strerror(errno));
        return NULL;
    }
    while (!atomic_load(&st->writer_done)) {
        int k = (int)(rand_r(&seed) % KEYS);
        int x = (int)(rand_r(&seed) % 1000);
        int param = rand_r(&seed) & 1;
        char path[64], want[64], body[128];
        if (param) {
            snprintf(path, sizeof(path), "/p/%d/%d", k, x);
            snprintf(want, sizeof(want), "p%d:%d", k, x);
        } else {
            snprintf(path, sizeof(path), "/r/%d", k);
            snprintf(want, sizeof(want), "r%d:", k);
        }
        int status;
        if (client_get(&c, path, &status, body, sizeof(body)) != 0) {
            stress_bad(st, path, -1, "transport");
            break;
        }
        atomic_fetch_add(&st->requests, 1);
        /* The route is there (its own answer) or not (404): nothing else. */
        if (status == 200 && strcmp(body, want) == 0)
            atomic_fetch_add(&st->found, 1);
        else if (status == 404 && strcmp(body, "Not Found\n") == 0)
            atomic_fetch_add(&st->missing, 1);
        else
            stress_bad(st, path, status, body);
    }
    close(c.fd);
    return NULL;
}

static void *stress_writer(void *arg)
{
    stress *st = arg;
    unsigned seed = 12345;
    int present[2][KEYS] = {{0}};
    for (int op = 0; op < WRITER_OPS; op++) {
        int k = (int)(rand_r(&seed) % KEYS);
        int param = rand_r(&seed) & 1;
        char pat[64], text[16];
        if (param) {
            snprintf(pat, sizeof(pat), "/p/%d/{x}", k);
            snprintf(text, sizeof(text), "p%d", k);
        } else {
            snprintf(pat, sizeof(pat), "/r/%d", k);
            snprintf(text, sizeof(text), "r%d", k);
        }
        if (present[param][k]) {
            if (turbo_route_remove(st->s, "GET", pat) != TURBO_OK)
                stress_bad(st, pat, -2, "remove failed");
        } else {
            if (turbo_route_add_full(st->s, "GET", pat, text_handler, data_new(k, text),
                                     data_release) != TURBO_OK)
                stress_bad(st, pat, -3, "add failed");
            else
                atomic_fetch_add(&adds, 1);
        }
        present[param][k] = !present[param][k];
        /* Spread the changes over about a second of load. */
        if (op % 8 == 0)
            sleep_ms(2);
    }
    atomic_store(&st->writer_done, 1);
    return NULL;
}

START_TEST(routes_churn_under_load_without_wrong_answers)
{
    reset_counters();
    stress st;
    memset(&st, 0, sizeof(st));
    pthread_mutex_init(&st.bad_lock, NULL);
    st.s = server_listening(config_with_threads(2));
    ck_assert_int_eq(turbo_server_start(st.s), TURBO_OK);
    st.port = turbo_server_port(st.s);

    pthread_t clients[CLIENTS], writer;
    for (int i = 0; i < CLIENTS; i++)
        ck_assert_int_eq(pthread_create(&clients[i], NULL, stress_client, &st), 0);
    ck_assert_int_eq(pthread_create(&writer, NULL, stress_writer, &st), 0);
    pthread_join(writer, NULL);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(clients[i], NULL);

    ck_assert_msg(atomic_load(&st.bad) == 0, "%ld wrong answers, first: %s", atomic_load(&st.bad),
                  st.bad_text);
    /* Both outcomes were actually exercised. */
    ck_assert_int_gt(atomic_load(&st.found), 0);
    ck_assert_int_gt(atomic_load(&st.missing), 0);
    ck_assert_int_eq(atomic_load(&st.requests), atomic_load(&st.found) + atomic_load(&st.missing));
    printf("stress: %ld requests (%ld answered by a route, %ld 404) during %d route changes\n",
           atomic_load(&st.requests), atomic_load(&st.found), atomic_load(&st.missing), WRITER_OPS);
    /* Every route's data is released exactly once: the removed ones while
     * serving, the rest when the server is freed. */
    long added = atomic_load(&adds);
    ck_assert_int_ge(added, WRITER_OPS / 2); /* each key alternates add, remove */
    turbo_server_free(st.s);
    ck_assert_int_eq(atomic_load(&releases), added);
    ck_assert_int_eq(atomic_load(&release_errors), 0);
    pthread_mutex_destroy(&st.bad_lock);
}
END_TEST

static Suite *live_suite(void)
{
    Suite *s = suite_create("routes_live");
    TCase *tc = tcase_create("behaviour");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, route_added_while_serving_is_answered);
    tcase_add_test(tc, route_removed_while_serving_is_404_and_released_once);
    tcase_add_test(tc, handler_removing_its_own_route_finishes_normally);
    tcase_add_test(tc, release_waits_for_a_handler_still_running);
    tcase_add_test(tc, writer_never_waits_for_a_handler_that_writes_or_blocks);
    suite_add_tcase(s, tc);
    TCase *ts = tcase_create("stress");
    tcase_set_timeout(ts, 120);
    tcase_add_test(ts, routes_churn_under_load_without_wrong_answers);
    suite_add_tcase(s, ts);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(live_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
