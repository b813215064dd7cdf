/*
 * Draining at a stop (turbo_server_stop, SIGTERM): requests already read
 * are answered, pipelined ones included, and the connection closes after
 * the last with "Connection: close"; a request under way when the stop
 * comes is answered with close; a client's own close is kept.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

static turbo_server *current;

static int hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    return turbo_response_body(res, "hi", 2);
}

/* Asks for the stop from inside a handler: what follows in the buffer
 * is read after the stop was asked for. */
static int stopper(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    turbo_server_stop(current);
    return turbo_response_body(res, "stopping", 8);
}

static int echo(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str b = turbo_request_body(req);
    return turbo_response_body(res, b.ptr, b.len);
}

static turbo_deferred *held;

static int hold(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    held = turbo_defer(req, res);
    return held != NULL ? TURBO_DEFER : TURBO_ENOMEM;
}

static const test_route routes[] = {{"GET", "/hello", hello},
                                    {"GET", "/stop", stopper},
                                    {"POST", "/echo", echo},
                                    {"GET", "/hold", hold},
                                    {NULL}};

static turbo_server *start(void)
{
    current = server_started(config_with_threads(1), routes);
    return current;
}

START_TEST(pipelined_requests_read_before_the_stop_are_all_answered)
{
    turbo_server *s = start();
    client *c = client_open(s, 10);
    send_str(c, "GET /stop HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n0\r\n\r\n"
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nde");
    static const char *bodies[] = {"stopping", "hi", "abc", "de"};
    response *r = response_new();
    for (int i = 0; i < 4; i++) {
        read_response(c, r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_str_eq(r->body, bodies[i]);
        if (i < 3)
            ck_assert_ptr_null(header(r, "Connection")); /* kept alive for what follows */
        else
            ck_assert_str_eq(header(r, "Connection"), "close");
    }
    ck_assert_uint_eq(read_until_eof(c), 0);
    free(r);
    client_close(c);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    turbo_server_free(s);
}
END_TEST

START_TEST(a_clients_close_is_kept_during_the_drain)
{
    turbo_server *s = start();
    client *c = client_open(s, 10);
    send_str(c, "GET /stop HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    response *r = response_new();
    read_response(c, r);
    ck_assert_str_eq(r->body, "stopping");
    ck_assert_str_eq(header(r, "Connection"), "close");
    ck_assert_uint_eq(read_until_eof(c), 0); /* the second is not answered */
    free(r);
    client_close(c);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    turbo_server_free(s);
}
END_TEST

START_TEST(a_request_under_way_is_answered_with_close)
{
    turbo_server *s = start();
    client *c = client_open(s, 10);
    response *r = response_new();
    exchange(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", r);
    send_str(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab");
    turbo_server_stop(s);
    send_str(c, "cde");
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "abcde");
    ck_assert_str_eq(header(r, "Connection"), "close");
    ck_assert_uint_eq(read_until_eof(c), 0);
    free(r);
    client_close(c);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    turbo_server_free(s);
}
END_TEST

START_TEST(an_idle_keep_alive_connection_is_closed_at_its_request_boundary)
{
    turbo_server *s = start();
    client *c = client_open(s, 10);
    response *r = response_new();
    exchange(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", r);
    ck_assert_ptr_null(header(r, "Connection"));
    turbo_server_stop(s);
    ck_assert_uint_eq(read_until_eof(c), 0); /* between requests: closed, no bytes */
    free(r);
    client_close(c);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    turbo_server_free(s);
}
END_TEST

START_TEST(answers_queued_behind_a_deferred_one_are_sent_after_it)
{
    turbo_server *s = start();
    client *c = client_open(s, 10);
    /* /hold is deferred; /stop and /hello, read with it, answer at once
     * and wait behind it in the connection's queue, the stop asked for
     * meanwhile. Finishing /hold sends all three, the last with close. */
    send_str(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /stop HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    for (uint64_t end = now_ms() + STAT_WAIT_MS; held == NULL && now_ms() < end;)
        sleep_ms(5);
    ck_assert_ptr_nonnull(held);
    assert_stat(s, TURBO_STAT_REQUESTS, 2); /* /stop and /hello answered, parked */
    turbo_response_body(turbo_deferred_response(held), "held", 4);
    ck_assert_int_eq(turbo_deferred_finish(held), TURBO_OK);
    static const char *bodies[] = {"held", "stopping", "hi"};
    response *r = response_new();
    for (int i = 0; i < 3; i++) {
        read_response(c, r);
        ck_assert_str_eq(r->body, bodies[i]);
    }
    ck_assert_str_eq(header(r, "Connection"), "close");
    ck_assert_uint_eq(read_until_eof(c), 0);
    free(r);
    client_close(c);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    turbo_server_free(s);
}
END_TEST

static Suite *drain_suite(void)
{
    Suite *su = suite_create("drain");
    TCase *tc = tcase_create("stop");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pipelined_requests_read_before_the_stop_are_all_answered);
    tcase_add_test(tc, a_clients_close_is_kept_during_the_drain);
    tcase_add_test(tc, a_request_under_way_is_answered_with_close);
    tcase_add_test(tc, an_idle_keep_alive_connection_is_closed_at_its_request_boundary);
    tcase_add_test(tc, answers_queued_behind_a_deferred_one_are_sent_after_it);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(drain_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
