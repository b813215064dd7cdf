/*
 * Where a server listens, and whom it shares a port with:
 * turbo_config_set_exclusive_port() refusing a port somebody holds, and
 * turbo_server_adopt_fd() taking over an inherited socket (served,
 * drained at stop, closed), beside turbo_server_listen_fd(), which leaves
 * its socket alone.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

static int hello(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    return turbo_response_body(res, "hello", 5);
}

/* A listening TCP socket on 127.0.0.1:port (0: any), with or without
 * SO_REUSEPORT; *bound gets its port. */
static int listener(int port, int reuseport, int *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    int one = 1;
    ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
    if (reuseport)
        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(listen(fd, 64), 0);
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *bound = ntohs(a.sin_port);
    return fd;
}

static turbo_server *server_with(int exclusive, unsigned threads)
{
    turbo_config *cfg = turbo_config_new();
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(turbo_config_set_exclusive_port(cfg, exclusive), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_threads(cfg, threads), TURBO_OK);
    turbo_server *s = turbo_server_new(cfg);
    turbo_config_free(cfg);
    ck_assert_ptr_nonnull(s);
    return s;
}

static void assert_hello(turbo_server *s)
{
    client *c = client_open(s, 5);
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    response *r = response_new();
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "hello");
    free(r);
    client_close(c);
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

/* ---- exclusive port ---------------------------------------------------- */

/* The holder: another process's SO_REUSEPORT socket (an old instance), or
 * one without it. */
static const struct {
    const char *what;
    int reuseport;
} holders[] = {{"an SO_REUSEPORT holder", 1}, {"a plain holder", 0}};

START_TEST(exclusive_port_refuses_a_port_somebody_holds)
{
    int port, held = listener(0, holders[_i].reuseport, &port);
    turbo_server *s = server_with(1, 2);
    errno = 0;
    ck_assert_msg(turbo_server_listen(s, "127.0.0.1", port) == TURBO_EADDR, "%s",
                  holders[_i].what);
    ck_assert_int_eq(errno, EADDRINUSE);
    /* Still a new server: another port can be tried. */
    ck_assert_int_eq(turbo_server_listen(s, "127.0.0.1", 0), TURBO_OK);
    ck_assert_int_ne(turbo_server_port(s), port);
    turbo_server_free(s);
    close(held);
}
END_TEST

START_TEST(without_exclusive_port_a_reuseport_holder_is_joined)
{
    int port, held = listener(0, 1, &port);
    turbo_server *s = server_with(0, 2);
    ck_assert_int_eq(turbo_server_listen(s, "127.0.0.1", port), TURBO_OK);
    ck_assert_int_eq(turbo_server_port(s), port);
    turbo_server_free(s);
    close(held);
}
END_TEST

START_TEST(exclusive_port_takes_a_free_port_and_port_0)
{
    int port, held = listener(0, 0, &port);
    close(held); /* free again */
    turbo_server *s = server_with(1, 2);
    ck_assert_int_eq(turbo_server_listen(s, "127.0.0.1", port), TURBO_OK);
    ck_assert_int_eq(turbo_server_port(s), port);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/hello", hello, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    assert_hello(s);
    stop_and_free(s);

    s = server_with(1, 1);
    ck_assert_int_eq(turbo_server_listen(s, "127.0.0.1", 0), TURBO_OK);
    ck_assert_int_gt(turbo_server_port(s), 0);
    turbo_server_free(s);
}
END_TEST

START_TEST(exclusive_port_is_not_fooled_by_time_wait)
{
    /* A server that closed a connection first leaves it in TIME_WAIT on
     * its port: that is nobody holding it, and a restart must bind. */
    turbo_server *s = server_with(1, 1);
    ck_assert_int_eq(turbo_server_listen(s, "127.0.0.1", 0), TURBO_OK);
    int port = turbo_server_port(s);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/hello", hello, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    client *c = client_open(s, 5);
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    response *r = response_new();
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(read_until_eof(c), 0); /* the server closed first */
    client_close(c);
    free(r);
    stop_and_free(s);

    s = server_with(1, 1);
    ck_assert_int_eq(turbo_server_listen(s, "127.0.0.1", port), TURBO_OK);
    turbo_server_free(s);
}
END_TEST

/* ---- adopting an inherited socket ------------------------------------ */

START_TEST(listen_fd_leaves_the_socket_open)
{
    int port, fd = listener(0, 0, &port);
    turbo_server *s = server_with(0, 2);
    ck_assert_int_eq(turbo_server_listen_fd(s, fd), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/hello", hello, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    assert_hello(s);
    stop_and_free(s);
    ck_assert(fd_is_open(fd));
    close(fd);
}
END_TEST

START_TEST(adopt_fd_serves_then_closes_the_socket_at_stop)
{
    int port, fd = listener(0, 0, &port);
    turbo_server *s = server_with(0, 2);
    ck_assert_int_eq(turbo_server_adopt_fd(s, fd), TURBO_OK);
    ck_assert_int_eq(turbo_server_port(s), port);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/hello", hello, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    assert_hello(s);
    turbo_server_stop(s);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    /* Closed by the stop, before free: nothing queues there any more. */
    ck_assert(!fd_is_open(fd));
    errno = 0;
    ck_assert_int_eq(try_connect(port, 5), -1);
    ck_assert_int_eq(errno, ECONNREFUSED);
    turbo_server_free(s);
}
END_TEST

START_TEST(adopt_fd_of_a_server_that_never_ran_is_closed_by_free)
{
    int port, fd = listener(0, 0, &port);
    turbo_server *s = server_with(0, 1);
    ck_assert_int_eq(turbo_server_adopt_fd(s, fd), TURBO_OK);
    ck_assert(fd_is_open(fd));
    turbo_server_free(s);
    ck_assert(!fd_is_open(fd));
}
END_TEST

START_TEST(adopt_fd_refuses_what_listen_fd_refuses)
{
    turbo_server *s = server_with(0, 1);
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    errno = 0;
    ck_assert_int_eq(turbo_server_adopt_fd(s, pipefd[0]), TURBO_EINVAL);
    ck_assert_int_eq(errno, ENOTSOCK);
    ck_assert(fd_is_open(pipefd[0])); /* refused: not taken over */
    ck_assert_int_eq(turbo_server_adopt_fd(s, -1), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_adopt_fd(NULL, pipefd[0]), TURBO_EINVAL);
    close(pipefd[0]);
    close(pipefd[1]);
    int port, fd = listener(0, 0, &port);
    ck_assert_int_eq(turbo_server_adopt_fd(s, fd), TURBO_OK);
    ck_assert_int_eq(turbo_server_adopt_fd(s, fd), TURBO_ESTATE);
    turbo_server_free(s);
}
END_TEST

/* A handler that holds its (only) I/O thread until released, so that a
 * connection made meanwhile waits in the socket's accept queue. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_entered, gate_open;

static int gated(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    pthread_mutex_lock(&gate_lock);
    gate_entered = 1;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    return turbo_response_body(res, "gated", 5);
}

START_TEST(adopt_fd_answers_what_was_queued_before_the_stop)
{
    int port, fd = listener(0, 0, &port);
    turbo_server *s = server_with(0, 1);
    ck_assert_int_eq(turbo_server_adopt_fd(s, fd), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/gated", gated, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/hello", hello, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    gate_entered = gate_open = 0;

    client *busy = client_open(s, 10);
    send_str(busy, "GET /gated HTTP/1.1\r\nHost: t\r\n\r\n");
    pthread_mutex_lock(&gate_lock);
    while (!gate_entered)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);

    /* The thread is in the handler: this one waits in the accept queue,
     * its request already sent, when the stop is asked for. */
    client *queued = client_open(s, 10);
    send_str(queued, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n");
    turbo_server_stop(s);
    pthread_mutex_lock(&gate_lock);
    gate_open = 1;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);

    response *r = response_new();
    read_response(busy, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "gated");
    read_response(queued, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(r->body, "hello");
    ck_assert_str_eq(header(r, "Connection"), "close");
    free(r);
    client_close(busy);
    client_close(queued);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    ck_assert(!fd_is_open(fd));
    turbo_server_free(s);
}
END_TEST

static Suite *listen_suite(void)
{
    Suite *su = suite_create("listen");
    TCase *tc = tcase_create("exclusive_port");
    tcase_add_loop_test(tc, exclusive_port_refuses_a_port_somebody_holds, 0,
                        (int)(sizeof holders / sizeof holders[0]));
    tcase_add_test(tc, without_exclusive_port_a_reuseport_holder_is_joined);
    tcase_add_test(tc, exclusive_port_takes_a_free_port_and_port_0);
    tcase_add_test(tc, exclusive_port_is_not_fooled_by_time_wait);
    suite_add_tcase(su, tc);
    tc = tcase_create("adopt_fd");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, listen_fd_leaves_the_socket_open);
    tcase_add_test(tc, adopt_fd_serves_then_closes_the_socket_at_stop);
    tcase_add_test(tc, adopt_fd_of_a_server_that_never_ran_is_closed_by_free);
    tcase_add_test(tc, adopt_fd_refuses_what_listen_fd_refuses);
    tcase_add_test(tc, adopt_fd_answers_what_was_queued_before_the_stop);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(listen_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
