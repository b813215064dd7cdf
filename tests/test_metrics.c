/*
 * The built-in health and metrics routes (turbo_config_set_health_path,
 * turbo_config_set_metrics_path): what they answer, the exact counts
 * after known requests, a deferred request in flight, the health check
 * failing once a stop is asked for, and the counters read from another
 * I/O thread while they are written (run under ThreadSanitizer too).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

static int hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    return turbo_response_body(res, "hi", 2);
}

static int failing(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)res, (void)ud;
    return TURBO_EHANDLER;
}

static turbo_deferred *held; /* the deferred request of /hold */

static int hold(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    held = turbo_defer(req, res);
    return held != NULL ? TURBO_DEFER : TURBO_ENOMEM;
}

static const test_route routes[] = {
    {"GET", "/hello", hello}, {"GET", "/fail", failing}, {"GET", "/hold", hold}, {NULL}};

static turbo_server *server_with_routes(unsigned threads, const char *health, const char *metrics)
{
    turbo_config *cfg = config_with_threads(threads);
    ck_assert_int_eq(turbo_config_set_health_path(cfg, health), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_metrics_path(cfg, metrics), TURBO_OK);
    return server_started(cfg, routes);
}

/* The value of the sample line that starts with `sample ` in text, or -1. */
static double sample(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p) {
        if (strncmp(p, name, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    }
    return -1;
}

static void get(client *c, const char *path, response *r)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    exchange(c, req, r);
}

START_TEST(health_answers_ok_while_serving)
{
    turbo_server *s = server_with_routes(1, "/healthz", NULL);
    client *c = client_open(s, 10);
    response *r = response_new();
    get(c, "/healthz", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "ok\n");
    ck_assert_str_eq(header(r, "Cache-Control"), "no-store");
    get(c, "/metrics", r); /* no metrics route without its path */
    ck_assert_int_eq(r->status, 404);
    free(r);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(metrics_count_what_was_answered)
{
    turbo_server *s = server_with_routes(1, "/healthz", "/metrics");
    client *c = client_open(s, 10);
    response *r = response_new();
    for (int i = 0; i < 3; i++)
        get(c, "/hello", r);
    get(c, "/nowhere", r);
    ck_assert_int_eq(r->status, 404);
    get(c, "/fail", r);
    ck_assert_int_eq(r->status, 500);
    send_str(c, "GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: x\r\n\r\n");
    read_response(c, r); /* refused by the parser: 400, and the connection closes */
    ck_assert_int_eq(r->status, 400);
    client_close(c);
    c = client_open(s, 10);
    get(c, "/metrics", r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    const char *m = r->body;
    ck_assert_double_eq(sample(m, "turbo_requests_total{class=\"2xx\"}"), 3);
    ck_assert_double_eq(sample(m, "turbo_requests_total{class=\"4xx\"}"), 2);
    ck_assert_double_eq(sample(m, "turbo_requests_total{class=\"5xx\"}"), 1);
    ck_assert_double_eq(sample(m, "turbo_requests_total{class=\"1xx\"}"), 0);
    ck_assert_double_eq(sample(m, "turbo_thread_requests_total{thread=\"0\"}"), 6);
    ck_assert_double_eq(sample(m, "turbo_requests_in_flight"), 1); /* this one */
    ck_assert_double_eq(sample(m, "turbo_bad_requests_total"), 1);
    ck_assert_double_eq(sample(m, "turbo_handler_errors_total"), 1);
    ck_assert_double_eq(sample(m, "turbo_connections_open"), 1);
    ck_assert_double_eq(sample(m, "turbo_connections_accepted_total"), 2);
    /* Timed: the five dispatched requests (not the refused one). */
    ck_assert_double_eq(sample(m, "turbo_request_duration_seconds_count"), 5);
    ck_assert_double_eq(sample(m, "turbo_request_duration_seconds_bucket{le=\"+Inf\"}"), 5);
    ck_assert(sample(m, "turbo_request_duration_seconds_sum") > 0);
    ck_assert(strstr(m, "# TYPE turbo_request_duration_seconds histogram\n") != NULL);
    free(r);
    client_close(c);
    stop_and_free(s);
}
END_TEST

/* Polls the metrics route until sample `name` is want (10 s at most). */
static void await_sample(turbo_server *s, const char *name, double want)
{
    response *r = response_new();
    double got = -2;
    uint64_t end = now_ms() + STAT_WAIT_MS;
    do {
        client *c = client_open(s, 10);
        get(c, "/metrics", r);
        client_close(c);
        got = sample(r->body, name);
        if (got == want)
            break;
        sleep_ms(20);
    } while (now_ms() < end);
    free(r);
    ck_assert_msg(got == want, "%s: %g, not %g", name, got, want);
}

START_TEST(a_deferred_request_is_in_flight_until_finished)
{
    turbo_server *s = server_with_routes(1, NULL, "/metrics");
    client *c = client_open(s, 10);
    send_str(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n");
    await_sample(s, "turbo_deferred_in_flight", 1);
    await_sample(s, "turbo_requests_in_flight", 2); /* /hold and the scrape */
    ck_assert_int_eq(turbo_deferred_finish(held), TURBO_OK);
    response *r = response_new();
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    free(r);
    await_sample(s, "turbo_deferred_in_flight", 0);
    await_sample(s, "turbo_requests_in_flight", 1);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(health_fails_once_a_stop_is_asked_for)
{
    turbo_server *s = server_with_routes(1, "/healthz", NULL);
    client *c = client_open(s, 10);
    response *r = response_new();
    get(c, "/healthz", r);
    ck_assert_int_eq(r->status, 200);
    /* A request under way when the stop comes is answered (the server
     * drains it): a health check then says the server is going. */
    send_str(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
    turbo_server_stop(s);
    send_str(c, "\r\n");
    read_response(c, r);
    ck_assert_int_eq(r->status, 503);
    ck_assert_str_eq(r->body, "stopping\n");
    ck_assert_str_eq(header(r, "Connection"), "close");
    free(r);
    client_close(c);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    turbo_server_free(s);
}
END_TEST

static void *hammer(void *arg)
{
    turbo_server *s = arg;
    int port = turbo_server_port(s);
    static const char req[] = "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n";
    for (int k = 0; k < 20; k++) {
        client cl;
        if (try_client_open(&cl, port, 10) != 0)
            return NULL;
        for (int i = 0; i < 25; i++) {
            if (try_send(cl.fd, req, sizeof req - 1) != 0)
                break;
            ssize_t head = client_wait_head(&cl);
            if (head <= 0 || client_wait(&cl, (size_t)head + 2) <= 0)
                break;
            client_consume(&cl, (size_t)head + 2);
        }
        close(cl.fd);
    }
    return NULL;
}

START_TEST(counters_are_read_while_other_threads_write_them)
{
    turbo_server *s = server_with_routes(2, NULL, "/metrics");
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, hammer, s), 0);
    response *r = response_new();
    double last = 0;
    for (int i = 0; i < 30; i++) {
        client *c = client_open(s, 10);
        get(c, "/metrics", r);
        client_close(c);
        double now = sample(r->body, "turbo_requests_total{class=\"2xx\"}");
        ck_assert(now >= last); /* a counter never goes back */
        last = now;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    /* Every answer counted once: 2 x 20 x 25 hellos and 30 scrapes. */
    assert_stat(s, TURBO_STAT_REQUESTS, 1000 + 30);
    client *c = client_open(s, 10);
    get(c, "/metrics", r);
    client_close(c);
    ck_assert_double_eq(sample(r->body, "turbo_requests_total{class=\"2xx\"}"), 1030);
    ck_assert_double_eq(sample(r->body, "turbo_thread_requests_total{thread=\"0\"}") +
                            sample(r->body, "turbo_thread_requests_total{thread=\"1\"}"),
                        1030); /* this scrape is counted once answered */
    free(r);
    stop_and_free(s);
}
END_TEST

START_TEST(paths_are_checked)
{
    turbo_config *cfg = turbo_config_new();
    ck_assert_int_eq(turbo_config_set_health_path(NULL, "/h"), TURBO_EINVAL);
    ck_assert_int_eq(turbo_config_set_metrics_path(NULL, "/m"), TURBO_EINVAL);
    const char *bad[] = {"health", "/a b", "/{x}", "/a?b", "/a#b", "/\x7f", "/\x01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(turbo_config_set_health_path(cfg, bad[i]), TURBO_EINVAL);
        ck_assert_int_eq(turbo_config_set_metrics_path(cfg, bad[i]), TURBO_EINVAL);
    }
    char long_path[258];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[257] = '\0';
    ck_assert_int_eq(turbo_config_set_metrics_path(cfg, long_path), TURBO_ERANGE);
    long_path[255] = '\0';
    ck_assert_int_eq(turbo_config_set_metrics_path(cfg, long_path), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_metrics_path(cfg, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_health_path(cfg, ""), TURBO_OK);
    /* A program's route at a built-in path is refused. */
    ck_assert_int_eq(turbo_config_set_health_path(cfg, "/up"), TURBO_OK);
    turbo_server *s = turbo_server_new(cfg);
    turbo_config_free(cfg);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/up", hello, NULL), TURBO_EEXIST);
    turbo_server_free(s);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *su = suite_create("metrics");
    TCase *tc = tcase_create("routes");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, health_answers_ok_while_serving);
    tcase_add_test(tc, metrics_count_what_was_answered);
    tcase_add_test(tc, a_deferred_request_is_in_flight_until_finished);
    tcase_add_test(tc, health_fails_once_a_stop_is_asked_for);
    tcase_add_test(tc, counters_are_read_while_other_threads_write_them);
    tcase_add_test(tc, paths_are_checked);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(metrics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
