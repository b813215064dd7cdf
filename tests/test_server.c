/*
 * Integration tests: a real server on 127.0.0.1, real sockets, the public
 * ABI only (turbo.h) plus POSIX. Each test starts its own server on an
 * ephemeral port with the routes below, talks raw HTTP/1.1 to it and
 * asserts the exact status, header values and body bytes.
 *
 * Every client socket has a receive timeout (CLIENT_TIMEOUT_S), so a
 * server that fails to answer fails the test instead of hanging it.
 * Server timeouts used here are a few hundred milliseconds; timing only
 * ever decides pass/fail through those generous bounds.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "test_support.h"

#define CLIENT_TIMEOUT_S 5

/* ======================================================================
 * Routes
 * ==================================================================== */

static const char ROOT_BODY[] = "Hello from libturbo\n";
static const char HELLO_BODY[] = "{\"message\":\"Hello, World!\"}";
static const char REF_BODY[] = "referenced body, sent without a copy\n";

static atomic_int slow_entered; /* GET /slow handlers that have started */
static atomic_int ref_frees;    /* calls of the body_ref free callback */
static atomic_int ref_bad_args; /* free callback calls with unexpected arguments */

static int send_text(turbo_response *res, const char *type, const char *body, size_t len)
{
    int rc = turbo_response_header(res, "Content-Type", 12, type, strlen(type));
    if (rc == TURBO_OK)
        rc = turbo_response_body(res, body, len);
    return rc;
}

static int root_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    return send_text(res, "text/plain", ROOT_BODY, sizeof(ROOT_BODY) - 1);
}

static int hello_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    return send_text(res, "application/json", HELLO_BODY, sizeof(HELLO_BODY) - 1);
}

static int user_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str id = turbo_request_param(req, "id", 2);
    char *buf = turbo_request_alloc(req, id.len + 16);
    if (buf == NULL)
        return TURBO_ENOMEM;
    memcpy(buf, "{\"id\":\"", 7);
    memcpy(buf + 7, id.ptr, id.len);
    memcpy(buf + 7 + id.len, "\"}", 2);
    return send_text(res, "application/json", buf, id.len + 9);
}

static int echo_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str type;
    if (turbo_request_header(req, "Content-Type", 12, &type) == TURBO_OK) {
        int rc = turbo_response_header(res, "Content-Type", 12, type.ptr, type.len);
        if (rc != TURBO_OK)
            return rc;
    }
    turbo_str body = turbo_request_body(req);
    return turbo_response_body(res, body.ptr, body.len);
}

static int fail_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    /* Whatever was built before the failure must not leak out. */
    send_text(res, "application/json", "{}", 2);
    return TURBO_EHANDLER;
}

static int slow_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    atomic_fetch_add(&slow_entered, 1);
    sleep_ms(300);
    return send_text(res, "text/plain", "slow\n", 5);
}

static int thread_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    char buf[16];
    int n = snprintf(buf, sizeof(buf), "%u", turbo_request_thread(req));
    return send_text(res, "text/plain", buf, (size_t)n);
}

static void ref_free(void *data, void *ctx)
{
    if (data != (void *)REF_BODY || ctx != (void *)&ref_frees)
        atomic_fetch_add(&ref_bad_args, 1);
    atomic_fetch_add(&ref_frees, 1);
}

static int ref_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    int rc = turbo_response_header(res, "Content-Type", 12, "text/plain", 10);
    if (rc != TURBO_OK)
        return rc;
    return turbo_response_body_ref(res, REF_BODY, sizeof(REF_BODY) - 1, ref_free, &ref_frees);
}

/* 16 MiB of zeros (bss, so free), far more than the socket buffers of
 * a client that does not read can absorb. */
#define BIG_LEN ((size_t)16 << 20)
static char big_body[BIG_LEN];
static atomic_int big_frees;

static void big_free(void *data, void *ctx)
{
    (void)data;
    (void)ctx;
    atomic_fetch_add(&big_frees, 1);
}

static int big_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    return turbo_response_body_ref(res, big_body, BIG_LEN, big_free, NULL);
}

/* GET /file?OFF,LEN: LEN bytes of file_path from OFF, by sendfile(2). */
static char file_path[64];

static int file_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str q = turbo_request_query(req);
    char spec[64];
    unsigned long long off, len;
    if (q.len >= sizeof(spec))
        return TURBO_EHANDLER;
    memcpy(spec, q.ptr, q.len);
    spec[q.len] = '\0';
    if (sscanf(spec, "%llu,%llu", &off, &len) != 2)
        return TURBO_EHANDLER;
    int fd = open(file_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return TURBO_EHANDLER;
    int rc = turbo_response_body_file(res, fd, off, len);
    close(fd); /* the library sends its own duplicate */
    if (rc == TURBO_OK && turbo_response_append(res, "x", 1) != TURBO_EINVAL)
        rc = TURBO_EHANDLER;
    return rc;
}

static int close_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    int rc = turbo_response_header(res, "Connection", 10, "close", 5);
    if (rc != TURBO_OK)
        return rc;
    return send_text(res, "text/plain", "bye\n", 4);
}

/* Misbehaving handlers: each ignores the error its mistake returns. */
static int crlf_header_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    turbo_response_header(res, "X-Split", 7, "a\r\nSet-Cookie: evil=1", 22);
    return send_text(res, "text/plain", "not sent\n", 9);
}

static int nul_name_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    turbo_response_header(res, "X\0Y", 3, "v", 1);
    return send_text(res, "text/plain", "not sent\n", 9);
}

static int bad_status_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str q = turbo_request_query(req);
    turbo_response_status(res, atoi(q.len ? q.ptr : "0"));
    return send_text(res, "text/plain", "odd status\n", 11);
}

static int body_twice_handler(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    turbo_response_body(res, "first body\n", 11);
    turbo_response_header(res, "Content-Type", 12, "text/plain", 10);
    return turbo_response_body(res, "second\n", 7);
}

static const test_route routes[] = {
    {"GET", "/", root_handler},
    {"GET", "/hello", hello_handler},
    {"GET", "/users/{id}", user_handler},
    {"POST", "/echo", echo_handler},
    {"GET", "/fail", fail_handler},
    {"GET", "/slow", slow_handler},
    {"GET", "/thread", thread_handler},
    {"GET", "/ref", ref_handler},
    {"GET", "/close", close_handler},
    {"GET", "/big", big_handler},
    {"GET", "/file", file_handler},
    {"GET", "/items", root_handler},
    {"DELETE", "/items", root_handler},
    {"GET", "/bad/crlf", crlf_header_handler},
    {"GET", "/bad/nul", nul_name_handler},
    {"GET", "/bad/status", bad_status_handler},
    {"GET", "/bad/twice", body_twice_handler},
    {NULL},
};

/* ======================================================================
 * Server set-up
 * ==================================================================== */

/* The running test's server; also what the SIGUSR1 handler stops. */
static turbo_server *server;

/* Two I/O threads unless a test says otherwise. */
static turbo_config *test_config(void)
{
    return config_with_threads(2);
}

/* A server with cfg (freed here; NULL: test_config()) and the routes
 * above, listening on 127.0.0.1 at an ephemeral port and started. */
static turbo_server *start_server(turbo_config *cfg)
{
    server = server_started(cfg != NULL ? cfg : test_config(), routes);
    return server;
}

static void stop_server(turbo_server *s)
{
    stop_and_free(s);
    server = NULL;
}

/* ======================================================================
 * Client: http_client.h; here, what this suite checks in a response
 * ==================================================================== */

/* The assertions below start their failure messages with who: a table
 * case's name, or "" in a test of its own (Check names the test). */
#define expect(who, cond, fmt, ...)                                                                \
    ck_assert_msg(cond, "%s%s" fmt, (who), *(who) ? ": " : "", ##__VA_ARGS__)

/* The body is exactly `body`, framed by a matching Content-Length. */
static void assert_body_is(const char *who, const response *r, const char *body)
{
    char len[32];
    snprintf(len, sizeof(len), "%zu", strlen(body));
    const char *cl = header(r, "Content-Length");
    expect(who, cl != NULL && strcmp(cl, len) == 0, "Content-Length %s, want %s",
           cl != NULL ? cl : "(none)", len);
    expect(who, r->body_len == strlen(body) && memcmp(r->body, body, r->body_len) == 0,
           "body \"%s\" (%zu bytes), want \"%s\"", r->body, r->body_len, body);
}

/* The library's added fields: one Server, one well-formed Date. */
static void assert_standard_fields_are_in(const char *who, const response *r)
{
    const char *server_name = header(r, "Server");
    expect(who, server_name != NULL && strcmp(server_name, "libturbo") == 0,
           "Server \"%s\", want \"libturbo\"", server_name != NULL ? server_name : "(none)");
    expect(who, header_count(r, "Server") == 1, "%zu Server fields", header_count(r, "Server"));
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
    const char *date = header(r, "Date");
    expect(who, date != NULL && strlen(date) == 29 && strcmp(date + 25, " GMT") == 0,
           "Date \"%s\", want an IMF-fixdate", date != NULL ? date : "(none)");
    expect(who, header_count(r, "Date") == 1, "%zu Date fields", header_count(r, "Date"));
}

/* The whole answer: status line, Content-Type, body, standard fields. */
static void assert_answer(const char *who, const response *r, int status, const char *reason,
                          const char *type, const char *body)
{
    expect(who, r->status == status && strcmp(r->reason, reason) == 0,
           "status \"%d %s\", want \"%d %s\"", r->status, r->reason, status, reason);
    const char *got_type = header(r, "Content-Type");
    expect(who, got_type != NULL && strcmp(got_type, type) == 0, "Content-Type \"%s\", want \"%s\"",
           got_type != NULL ? got_type : "(none)", type);
    assert_body_is(who, r, body);
    assert_standard_fields_are_in(who, r);
}

#define ERROR_TYPE "text/plain; charset=utf-8"

static void assert_body(const response *r, const char *body)
{
    assert_body_is("", r, body);
}

/* A library-made error: status, text/plain body "<reason>\n". */
static void assert_library_error(const char *who, const response *r, int status,
                                 const char *reason)
{
    char body[128];
    snprintf(body, sizeof(body), "%s\n", reason);
    assert_answer(who, r, status, reason, ERROR_TYPE, body);
}

static void assert_error(const response *r, int status, const char *reason)
{
    assert_library_error("", r, status, reason);
}

static void assert_root(const response *r)
{
    assert_answer("", r, 200, "OK", "text/plain", ROOT_BODY);
}

/* The answer says "Connection: close", once, and nothing follows it. */
static void assert_closes(const char *who, client *c, const response *r)
{
    const char *conn = header(r, "Connection");
    expect(who, conn != NULL && strcmp(conn, "close") == 0 && header_count(r, "Connection") == 1,
           "Connection \"%s\" (%zu fields), want one \"close\"", conn != NULL ? conn : "(none)",
           header_count(r, "Connection"));
    size_t extra = read_until_eof(c);
    expect(who, extra == 0, "%zu bytes between the answer and EOF", extra);
}

/* The answer has the library's fields, one Content-Type and, on a 405,
 * one Allow: nothing else. So no Connection field (the connection stays
 * open), and nothing a handler set before it failed. */
static void assert_only_standard_fields(const char *who, const response *r, int with_allow)
{
    static const char *const names[] = {"Content-Type", "Content-Length", "Date", "Server",
                                        "Allow"};
    size_t want = with_allow ? 5 : 4;
    for (size_t i = 0; i < r->nfields; i++) {
        size_t j = 0;
        while (j < want && strcasecmp(r->fields[i].name, names[j]) != 0)
            j++;
        expect(who, j < want, "unexpected field \"%s: %s\"", r->fields[i].name,
               r->fields[i].value);
    }
    expect(who, r->nfields == want, "%zu fields, want %zu", r->nfields, want);
    expect(who, header_count(r, "Content-Type") == 1, "%zu Content-Type fields",
           header_count(r, "Content-Type"));
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: test\r\n\r\n"

/* A fresh connection gets a 200 from GET / (the server survived). */
static void assert_new_connection_works(const char *who, turbo_server *s)
{
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/"), r);
    assert_answer(who, r, 200, "OK", "text/plain", ROOT_BODY);
    expect(who, header(r, "Connection") == NULL, "Connection \"%s\" on a new connection",
           header(r, "Connection"));
    free(r);
    client_close(c);
}

/* ======================================================================
 * One request, its exact answer, and the connection goes on
 * ==================================================================== */

/* A request on a fresh connection and the whole answer it gets; GET / is
 * answered on the same connection after it. */
typedef struct answer_case {
    const char *name;
    const char *request;
    int status;
    const char *reason;
    const char *type; /* Content-Type */
    const char *body;
    const char *allow;  /* the one Allow field; NULL: none */
    int handler_errors; /* TURBO_STAT_HANDLER_ERRORS once answered */
} answer_case;

/* A handler's answer. */
#define ANSWER(name, request, status, reason, type, body)                                          \
    {name, request, status, reason, type, body, NULL, 0}
/* The library's error: text/plain "<reason>\n". */
#define LIBRARY_ERROR(name, request, status, reason, allow, handler_errors)                        \
    {name, request, status, reason, ERROR_TYPE, reason "\n", allow, handler_errors}
/* A handler that failed, whatever it had built: the library's 500. */
#define HANDLER_500(name, path)                                                                    \
    LIBRARY_ERROR(name, GET(path), 500, "Internal Server Error", NULL, 1)

static const answer_case answers[] = {
    /* The demo routes: exact bodies and content types. */
    ANSWER("root_is_plain_text", GET("/"), 200, "OK", "text/plain", ROOT_BODY),
    ANSWER("hello_is_json", GET("/hello"), 200, "OK", "application/json", HELLO_BODY),
    ANSWER("path_parameter_is_answered_in_json", GET("/users/42"), 200, "OK", "application/json",
           "{\"id\":\"42\"}"),
    ANSWER("echo_returns_the_body_with_its_content_type",
           "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: application/x-test\r\n"
           "Content-Length: 11\r\n\r\nhello world",
           200, "OK", "application/x-test", "hello world"),
    ANSWER("delete_route_beside_a_get_route_answers",
           "DELETE /items HTTP/1.1\r\nHost: test\r\n\r\n", 200, "OK", "text/plain", ROOT_BODY),
    /* A path parameter is raw: percent-encoding kept, the query not in it. */
    ANSWER("path_parameter_keeps_percent_encoding_as_sent", GET("/users/abc%20d"), 200, "OK",
           "application/json", "{\"id\":\"abc%20d\"}"),
    ANSWER("path_parameter_ends_before_the_query", GET("/users/x?y=1"), 200, "OK",
           "application/json", "{\"id\":\"x\"}"),
    /* No route for the path: 404; none for the method: 405 and Allow. */
    LIBRARY_ERROR("unknown_path_is_404", GET("/nope"), 404, "Not Found", NULL, 0),
    LIBRARY_ERROR("get_on_a_post_route_is_405_allowing_post", GET("/echo"), 405,
                  "Method Not Allowed", "POST", 0),
    LIBRARY_ERROR("put_on_get_and_delete_routes_is_405_allowing_get_head_delete",
                  "PUT /items HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n", 405,
                  "Method Not Allowed", "GET, HEAD, DELETE", 0),
    LIBRARY_ERROR("post_with_a_body_on_a_get_route_is_405_allowing_get_head",
                  "POST / HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\n\r\nhi", 405,
                  "Method Not Allowed", "GET, HEAD", 0),
    /* Handler mistakes: a 500 instead, and no field of the handler's. */
    HANDLER_500("handler_error_is_500", "/fail"),
    HANDLER_500("handler_header_value_with_crlf_is_500_never_on_the_wire", "/bad/crlf"),
    HANDLER_500("handler_header_name_with_nul_is_500_never_on_the_wire", "/bad/nul"),
    HANDLER_500("handler_status_100_is_500", "/bad/status?100"),
    HANDLER_500("handler_status_199_is_500", "/bad/status?199"),
    HANDLER_500("handler_status_600_is_500", "/bad/status?600"),
    HANDLER_500("handler_status_0_is_500", "/bad/status?0"),
    HANDLER_500("handler_status_minus_5_is_500", "/bad/status?-5"),
    HANDLER_500("handler_status_1000_is_500", "/bad/status?1000"),
    ANSWER("handler_status_599_is_sent", GET("/bad/status?599"), 599, "Unknown", "text/plain",
           "odd status\n"),
    ANSWER("handler_status_200_is_sent", GET("/bad/status?200"), 200, "OK", "text/plain",
           "odd status\n"),
    ANSWER("handler_status_418_has_its_reason_phrase", GET("/bad/status?418"), 418,
           "I'm a Teapot", "text/plain", "odd status\n"),
    ANSWER("handler_status_451_has_its_reason_phrase", GET("/bad/status?451"), 451,
           "Unavailable For Legal Reasons", "text/plain", "odd status\n"),
    ANSWER("handler_setting_the_body_twice_sends_the_last", GET("/bad/twice"), 200, "OK",
           "text/plain", "second\n"),
};

START_TEST(request_gets_its_exact_answer_and_the_connection_goes_on)
{
    const answer_case *k = &answers[_i];
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, k->request, r);
    assert_answer(k->name, r, k->status, k->reason, k->type, k->body);
    if (k->allow != NULL) {
        const char *allow = header(r, "Allow");
        expect(k->name, allow != NULL && strcmp(allow, k->allow) == 0,
               "Allow \"%s\", want \"%s\"", allow != NULL ? allow : "(none)", k->allow);
    }
    assert_only_standard_fields(k->name, r, k->allow != NULL);

    exchange(c, GET("/"), r);
    assert_answer(k->name, r, 200, "OK", "text/plain", ROOT_BODY);
    assert_case_stat(k->name, s, TURBO_STAT_HANDLER_ERRORS, (uint64_t)k->handler_errors);
    assert_case_stat(k->name, s, TURBO_STAT_CONNECTIONS_ACCEPTED, 1);
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

/* The access log: one Common Log Format line per answer, from both I/O
 * threads, none lost, none split; a refused request is logged as "-". */
START_TEST(access_log_writes_one_clf_line_per_answer)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    turbo_config *cfg = test_config();
    ck_assert_int_eq(turbo_config_set_access_log(cfg, -2), TURBO_EINVAL);
    ck_assert_int_eq(turbo_config_set_access_log(NULL, 1), TURBO_EINVAL);
    ck_assert_int_eq(turbo_config_set_access_log(cfg, fds[1]), TURBO_OK);
    turbo_server *s = start_server(cfg);
    enum { N = 40 };
    client *c[2] = {client_open(s, CLIENT_TIMEOUT_S), client_open(s, CLIENT_TIMEOUT_S)};
    response *r = response_new();
    for (int i = 0; i < N; i++) {
        exchange(c[i % 2], GET("/"), r);
        ck_assert_int_eq(r->status, 200);
    }
    exchange(c[0], GET("/no/such?q=\"x\""), r);
    ck_assert_int_eq(r->status, 404);
    send_str(c[0], "HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    read_response_ex(c[0], r, 1);
    ck_assert_int_eq(r->status, 200);
    client *bad = client_open(s, CLIENT_TIMEOUT_S);
    send_str(bad, "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
    read_response(bad, r);
    ck_assert_int_eq(r->status, 400);
    client_close(bad);
    client_close(c[0]);
    client_close(c[1]);
    free(r);
    stop_server(s); /* every thread's last lines are written by now */
    close(fds[1]);

    char buf[65536];
    size_t len = 0;
    ssize_t n;
    while ((n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
        len += (size_t)n;
    close(fds[0]);
    buf[len] = '\0';
    int root = 0, lines = 0, missing = 0, head = 0, refused = 0;
    for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
        lines++;
        char stamp[64], rest[512];
        ck_assert_msg(sscanf(line, "127.0.0.1 - - [%63[^]]] %511[^\n]", stamp, rest) == 2,
                      "not a CLF line: %s", line);
        int day, year, hh, mm, ss;
        char mon[4];
        ck_assert_msg(sscanf(stamp, "%2d/%3s/%4d:%2d:%2d:%2d +0000", &day, mon, &year, &hh, &mm,
                             &ss) == 6, "bad time: %s", stamp);
        char want[64];
        snprintf(want, sizeof want, "\"GET / HTTP/1.1\" 200 %zu", sizeof(ROOT_BODY) - 1);
        if (strcmp(rest, want) == 0)
            root++;
        else if (strcmp(rest, "\"GET /no/such?q=\\x22x\\x22 HTTP/1.1\" 404 10") == 0)
            missing++;
        else if (strcmp(rest, "\"HEAD / HTTP/1.0\" 200 -") == 0)
            head++;
        else if (strcmp(rest, "\"-\" 400 12") == 0)
            refused++;
        else
            ck_abort_msg("unexpected line: %s", line);
    }
    ck_assert_int_eq(root, N);
    ck_assert_int_eq(missing, 1);
    ck_assert_int_eq(head, 1);
    ck_assert_int_eq(refused, 1);
    ck_assert_int_eq(lines, N + 3);
}
END_TEST

/* File bodies go by sendfile(2), in order among other answers, to a
 * client slower than the socket's buffer; HEAD announces their length. */
START_TEST(file_bodies_are_sent_whole_and_in_order)
{
    enum { SIZE = 3 * 1024 * 1024 };
    snprintf(file_path, sizeof file_path, "/tmp/turbo-file-test-%d", (int)getpid());
    char *data = malloc(SIZE);
    ck_assert_ptr_nonnull(data);
    for (size_t i = 0; i < SIZE; i++)
        data[i] = (char)(i * 7 + i / 251);
    int fd = open(file_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, SIZE), SIZE);
    close(fd);
    ck_assert_int_eq(turbo_response_body_file(NULL, 0, 0, 1), TURBO_EINVAL);

    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    /* 60 answers of 60,000 bytes (the test client's limit is 64 KiB a
     * body), written before any is read: 3.6 MB, more than the socket
     * takes, so sendfile meets a full socket and resumes later. */
    enum { N = 60, PART = 60000, STEP = 50000 };
    char req[128];
    for (int i = 0; i < N; i++) {
        snprintf(req, sizeof req, "GET /file?%d,%d HTTP/1.1\r\nHost: t\r\n\r\n", i * STEP, PART);
        send_str(c, req);
    }
    send_str(c, "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                "HEAD /file?7,100 HTTP/1.1\r\nHost: t\r\n\r\n");
    sleep_ms(200);
    for (int i = 0; i < N; i++) {
        read_response(c, r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_uint_eq(r->body_len, PART);
        ck_assert_msg(memcmp(r->body, data + i * STEP, PART) == 0, "answer %d differs", i);
    }
    read_response(c, r);
    assert_body(r, HELLO_BODY);
    read_response_ex(c, r, 1);
    ck_assert_str_eq(header(r, "Content-Length"), "100");
    ck_assert_uint_eq(r->body_len, 0);
    exchange(c, GET("/"), r); /* the connection goes on */
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_HANDLER_ERRORS), 0);
    free(r);
    client_close(c);
    stop_server(s);
    unlink(file_path);
    free(data);
}
END_TEST

/* A fallback that answers in JSON, saying what it was given. */
static int json_fallback(turbo_request *req, turbo_response *res, void *ud)
{
    turbo_str path = turbo_request_path(req);
    if (path.len == 5 && memcmp(path.ptr, "/boom", 5) == 0)
        return TURBO_EHANDLER;
    char *buf = turbo_request_alloc(req, path.len + 128);
    if (buf == NULL)
        return TURBO_ENOMEM;
    int n = snprintf(buf, path.len + 128,
                     "{\"status\":%d,\"missing\":\"%.*s\",\"params\":%zu,\"ud\":\"%s\"}",
                     turbo_response_status_code(res), (int)path.len, path.ptr,
                     turbo_request_param_count(req), (const char *)ud);
    int rc = turbo_response_header(res, "Content-Type", 12, "application/json", 16);
    return rc != TURBO_OK ? rc : turbo_response_body(res, buf, (size_t)n);
}

START_TEST(fallback_answers_404_and_405_in_its_own_format)
{
    turbo_server *s = server_listening(NULL);
    ck_assert_int_eq(turbo_server_set_fallback(NULL, json_fallback, NULL), TURBO_EINVAL);
    ck_assert_int_eq(turbo_response_status_code(NULL), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_set_fallback(s, json_fallback, "x"), TURBO_OK);
    add_test_routes(s, routes);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    server = s;
    ck_assert_int_eq(turbo_server_set_fallback(s, NULL, NULL), TURBO_ESTATE);

    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/users/1/extra"), r);
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(header(r, "Content-Type"), "application/json");
    assert_body(r, "{\"status\":404,\"missing\":\"/users/1/extra\",\"params\":0,\"ud\":\"x\"}");

    exchange(c, "PUT /items HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n", r);
    ck_assert_int_eq(r->status, 405);
    ck_assert_str_eq(header(r, "Allow"), "GET, HEAD, DELETE");
    ck_assert_uint_eq(header_count(r, "Allow"), 1);
    assert_body(r, "{\"status\":405,\"missing\":\"/items\",\"params\":0,\"ud\":\"x\"}");

    send_str(c, "HEAD /nope HTTP/1.1\r\nHost: test\r\n\r\n");
    read_response_ex(c, r, 1);
    ck_assert_int_eq(r->status, 404);
    ck_assert_str_eq(header(r, "Content-Length"), "52"); /* the GET answer's */
    ck_assert_uint_eq(r->body_len, 0);

    /* Its failure is a 500, and the connection goes on. */
    exchange(c, GET("/boom"), r);
    assert_error(r, 500, "Internal Server Error");
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_HANDLER_ERRORS), 1);
    exchange(c, GET("/"), r);
    assert_root(r);
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

/* A fallback that answers with the Allow the router set, as read back. */
static int allow_echo_fallback(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req;
    (void)ud;
    turbo_str v = {NULL, 0};
    int rc = turbo_response_header_value(res, "aLLow", 5, &v);
    if (rc == TURBO_ENOENT)
        return turbo_response_body(res, "none", 4);
    if (rc != TURBO_OK)
        return rc;
    char *copy = turbo_request_alloc(req, v.len);
    if (copy == NULL)
        return TURBO_ENOMEM;
    memcpy(copy, v.ptr, v.len);
    turbo_response_reset(res);
    turbo_response_status(res, 299);
    return turbo_response_body(res, copy, v.len);
}

START_TEST(fallback_reads_the_routers_allow)
{
    turbo_str v;
    ck_assert_int_eq(turbo_response_header_value(NULL, "Allow", 5, &v), TURBO_EINVAL);
    turbo_server *s = server_listening(NULL);
    ck_assert_int_eq(turbo_server_set_fallback(s, allow_echo_fallback, NULL), TURBO_OK);
    add_test_routes(s, routes);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    server = s;

    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, "PUT /items HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\n\r\n", r);
    ck_assert_int_eq(r->status, 299);
    ck_assert_uint_eq(header_count(r, "Allow"), 0);
    assert_body(r, "GET, HEAD, DELETE");
    exchange(c, GET("/users/1/extra"), r);
    ck_assert_int_eq(r->status, 404);
    assert_body(r, "none");
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

START_TEST(head_on_get_route_sends_same_headers_without_body)
{
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *get = response_new();
    response *head = response_new();
    exchange(c, GET("/"), get);
    assert_root(get);

    /* HEAD pipelined with a GET: if the HEAD answer carried body bytes,
     * the next response would not start right after its head. */
    send_str(c, "HEAD / HTTP/1.1\r\nHost: test\r\n\r\n" GET("/hello"));
    read_response_ex(c, head, 1);
    ck_assert_int_eq(head->status, 200);
    ck_assert_str_eq(head->reason, "OK");
    ck_assert_uint_eq(head->nfields, get->nfields);
    for (size_t i = 0; i < get->nfields; i++) {
        ck_assert_str_eq(head->fields[i].name, get->fields[i].name);
        if (strcasecmp(get->fields[i].name, "Date") != 0)
            ck_assert_str_eq(head->fields[i].value, get->fields[i].value);
    }
    ck_assert_str_eq(header(head, "Content-Length"), "20");

    read_response(c, get);
    ck_assert_int_eq(get->status, 200);
    assert_body(get, HELLO_BODY);
    free(get);
    free(head);
    client_close(c);
    stop_server(s);
}
END_TEST

/* ======================================================================
 * Connection reuse, pipelining, bodies
 * ==================================================================== */

START_TEST(keep_alive_reuses_one_connection)
{
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    for (int i = 0; i < 3; i++) {
        exchange(c, GET("/"), r);
        assert_root(r);
        ck_assert_ptr_null(header(r, "Connection"));
    }
    assert_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED, 1);
    assert_stat(s, TURBO_STAT_REQUESTS, 3);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 1);
    free(r);
    client_close(c);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    stop_server(s);
}
END_TEST

START_TEST(pipelined_requests_answer_in_order_in_one_write)
{
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    /* Warm up, so the connection is surely accepted and idle. */
    exchange(c, GET("/"), r);
    assert_root(r);
    assert_stat(s, TURBO_STAT_WRITES, 1);

    static const char batch[] = "GET /hello HTTP/1.1\r\nHost: test\r\n\r\n"
                                "GET /users/7 HTTP/1.1\r\nHost: test\r\n\r\n"
                                "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/x-a\r\n"
                                "Content-Length: 3\r\n\r\nabc"
                                "GET / HTTP/1.1\r\nHost: test\r\n\r\n";
    send_str(c, batch); /* one send: the server reads all four at once */
    read_response(c, r);
    assert_body(r, HELLO_BODY);
    read_response(c, r);
    assert_body(r, "{\"id\":\"7\"}");
    read_response(c, r);
    ck_assert_str_eq(header(r, "Content-Type"), "text/x-a");
    assert_body(r, "abc");
    read_response(c, r);
    assert_root(r);
    ck_assert_uint_eq(c->len, 0);

    assert_stat(s, TURBO_STAT_REQUESTS, 5);
    assert_stat(s, TURBO_STAT_WRITES, 2);
    sleep_ms(50); /* nothing else may follow */
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_WRITES), 2);
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

START_TEST(chunked_upload_in_pieces_is_decoded_and_echoed)
{
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    send_str(c, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/x-chunks\r\n"
                "Transfer-Encoding: chunked\r\n\r\n");
    static const char *const pieces[] = {
        "5;name=value\r\nhello\r\n",  /* a chunk extension */
        "1",                          /* a size line split across sends */
        "0 ; q=\"a b\"\r\n, chunked", /* quoted extension value, BWS */
        " world!\r\n",                /* chunk data split across sends */
        "3\r\n\r\n!\r\n",             /* CRLF inside chunk data */
        "0\r\nX-Trailer: yes\r\n",    /* a trailer field */
        "\r\n",
    };
    for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
        send_str(c, pieces[i]);
        sleep_ms(20);
    }
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Content-Type"), "text/x-chunks");
    assert_body(r, "hello, chunked world!\r\n!");
    ck_assert_ptr_null(header(r, "Connection"));

    /* The connection goes on with the next request. */
    exchange(c, GET("/"), r);
    assert_root(r);
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

START_TEST(expect_100_continue_is_answered_before_the_body)
{
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    send_str(c, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Type: text/plain\r\n"
                "Content-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char got[sizeof(cont)];
    read_exact(c, got, sizeof(cont) - 1);
    ck_assert_str_eq(got, cont);

    send_str(c, "12345");
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    assert_body(r, "12345");
    ck_assert_uint_eq(c->len, 0);
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

/* ======================================================================
 * Limits: each answers its status, then the connection closes
 * ==================================================================== */

static turbo_server *start_limited_server(void)
{
    turbo_config *cfg = test_config();
    ck_assert_int_eq(turbo_config_set_max_header_bytes(cfg, 256), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_headers(cfg, 4), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_uri_bytes(cfg, 32), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_body_bytes(cfg, 16), TURBO_OK);
    return start_server(cfg);
}

/* A request beyond a limit of start_limited_server, or malformed, on a
 * new connection: the library's error with "Connection: close" is the
 * last answer, then EOF; a new connection still works. */
typedef struct refusal_case {
    const char *name;
    const char *request;
    int status;
    const char *reason;
} refusal_case;

#define A10 "aaaaaaaaaa"
#define A100 A10 A10 A10 A10 A10 A10 A10 A10 A10 A10

static const refusal_case refusals[] = {
    {"head_above_max_header_bytes_is_431",
     "GET / HTTP/1.1\r\nHost: test\r\nX-Big: " A100 A100 A100 "\r\n\r\n", 431,
     "Request Header Fields Too Large"},
    {"more_fields_than_max_headers_is_431",
     "GET / HTTP/1.1\r\nHost: test\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", 431,
     "Request Header Fields Too Large"},
    {"target_above_max_uri_bytes_is_414",
     "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: test\r\n\r\n", 414,
     "URI Too Long"},
    {"content_length_above_max_body_is_413",
     "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 17\r\n\r\n0123456789abcdefg", 413,
     "Content Too Large"},
    {"chunked_body_above_max_body_is_413",
     "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n"
     "10\r\n0123456789abcdef\r\n1\r\ng\r\n0\r\n\r\n",
     413, "Content Too Large"},
    {"unknown_transfer_coding_is_501",
     "POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: gzip\r\n\r\n", 501,
     "Not Implemented"},
    {"http_2_0_request_line_is_505", "GET / HTTP/2.0\r\nHost: test\r\n\r\n", 505,
     "HTTP Version Not Supported"},
    {"malformed_request_is_400", "GET / HTTP/1.1\r\nHost: test\r\nNo colon here\r\n\r\n", 400,
     "Bad Request"},
    {"content_length_with_transfer_encoding_is_400",
     "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n"
     "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
     400, "Bad Request"},
    {"unknown_expectation_is_417",
     "POST /echo HTTP/1.1\r\nHost: test\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417,
     "Expectation Failed"},
    {"http_1_1_request_without_host_is_400", "GET / HTTP/1.1\r\n\r\n", 400, "Bad Request"},
};

START_TEST(refused_request_is_answered_then_the_connection_closes)
{
    const refusal_case *k = &refusals[_i];
    turbo_server *s = start_limited_server();
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, k->request, r);
    assert_library_error(k->name, r, k->status, k->reason);
    assert_closes(k->name, c, r);
    client_close(c);
    assert_case_stat(k->name, s, TURBO_STAT_BAD_REQUESTS, 1);
    assert_new_connection_works(k->name, s);
    free(r);
    stop_server(s);
}
END_TEST

START_TEST(fields_up_to_the_limits_are_accepted)
{
    turbo_server *s = start_limited_server();
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    /* 4 fields, a 32-byte target, a 16-byte body: all at the limit. */
    exchange(c,
             "POST /echo?aaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: test\r\nA: 1\r\n"
             "Content-Type: t/x\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
             r);
    ck_assert_int_eq(r->status, 200);
    assert_body(r, "0123456789abcdef");
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

/* ======================================================================
 * Timeouts
 * ==================================================================== */

static turbo_server *start_timeout_server(void)
{
    turbo_config *cfg = test_config();
    ck_assert_int_eq(turbo_config_set_header_timeout_ms(cfg, 200), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_body_timeout_ms(cfg, 200), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_idle_timeout_ms(cfg, 200), TURBO_OK);
    return start_server(cfg);
}

/* Part of a request, then nothing: 408 with close, then EOF. */
static const struct silence_case {
    const char *name;
    const char *partial;
} silences[] = {
    {"partial_head_then_silence_is_408_then_eof", "GET / HTTP/1.1\r\nHost: te"},
    {"partial_body_then_silence_is_408_then_eof",
     "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 10\r\n\r\nabc"},
};

START_TEST(partial_request_then_silence_is_408_then_eof)
{
    const struct silence_case *k = &silences[_i];
    turbo_server *s = start_timeout_server();
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    send_str(c, k->partial);
    read_response(c, r);
    assert_library_error(k->name, r, 408, "Request Timeout");
    assert_closes(k->name, c, r);
    client_close(c);
    assert_case_stat(k->name, s, TURBO_STAT_TIMEOUTS, 1);
    free(r);
    stop_server(s);
}
END_TEST

START_TEST(idle_keep_alive_connection_is_closed_without_a_byte)
{
    turbo_server *s = start_timeout_server();
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/"), r);
    assert_root(r);
    ck_assert_uint_eq(read_until_eof(c), 0);
    client_close(c);
    assert_stat(s, TURBO_STAT_TIMEOUTS, 1);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    free(r);
    stop_server(s);
}
END_TEST

START_TEST(silent_new_connection_is_closed_after_header_timeout)
{
    turbo_server *s = start_timeout_server();
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    ck_assert_uint_eq(read_until_eof(c), 0);
    client_close(c);
    assert_stat(s, TURBO_STAT_TIMEOUTS, 1);
    stop_server(s);
}
END_TEST

START_TEST(body_trickling_in_slower_than_the_timeout_in_total_is_served)
{
    turbo_config *cfg = test_config();
    ck_assert_int_eq(turbo_config_set_body_timeout_ms(cfg, 300), TURBO_OK);
    turbo_server *s = start_server(cfg);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    /* Each pause is far under the 300 ms body timeout, but the whole
     * body takes longer: the body timeout runs between reads. */
    send_str(c, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 8\r\n\r\n");
    for (int i = 0; i < 8; i++) {
        sleep_ms(50);
        send_str(c, "x");
    }
    read_response(c, r);
    ck_assert_int_eq(r->status, 200);
    assert_body(r, "xxxxxxxx");
    client_close(c);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_TIMEOUTS), 0);
    free(r);
    stop_server(s);
}
END_TEST

/* Consumes up to *left buffered bytes of a GET /big body (all zeros). */
static void consume_zeros(client *c, size_t *left)
{
    size_t n = c->len < *left ? c->len : *left;
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++)
        nonzero += c->buf[i] != 0;
    ck_assert_uint_eq(nonzero, 0);
    client_consume(c, n);
    *left -= n;
}

/* Reads and checks a whole GET /big body without storing it. */
static void read_big_body(client *c)
{
    size_t left = BIG_LEN;
    consume_zeros(c, &left);
    while (left > 0) {
        ssize_t n = client_fill(c);
        ck_assert_msg(n > 0, "big body: %zu of %zu bytes, then %s", BIG_LEN - left, BIG_LEN,
                      n == 0 ? "EOF" : strerror(errno));
        consume_zeros(c, &left);
    }
}

START_TEST(large_response_is_written_completely_as_the_client_reads)
{
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    send_str(c, GET("/big") GET("/hello"));
    read_response_ex(c, r, 1);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Content-Length"), "16777216");
    read_big_body(c);
    /* The pipelined request behind it is answered once the big one drains. */
    read_response(c, r);
    assert_body(r, HELLO_BODY);
    client_close(c);
    stop_server(s);
    ck_assert_int_eq(atomic_load(&big_frees), 1);
    free(r);
}
END_TEST

START_TEST(client_that_stops_reading_is_closed_after_write_timeout)
{
    turbo_config *cfg = test_config();
    ck_assert_int_eq(turbo_config_set_write_timeout_ms(cfg, 200), TURBO_OK);
    turbo_server *s = start_server(cfg);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    send_str(c, GET("/big"));
    assert_stat(s, TURBO_STAT_TIMEOUTS, 1);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 0);
    /* The referenced body is released when the connection is dropped. */
    ck_assert_int_eq(atomic_load(&big_frees), 1);
    /* What arrived is a truncated response. */
    size_t got = 0;
    for (;;) {
        ssize_t n = client_fill(c);
        if (n <= 0) {
            ck_assert_msg(n == 0 || errno == ECONNRESET, "expected EOF or reset, got %s",
                          strerror(errno));
            break;
        }
        got += c->len;
        c->len = 0;
    }
    ck_assert_uint_lt(got, BIG_LEN);
    client_close(c);
    stop_server(s);
}
END_TEST

/* ======================================================================
 * Connection management
 * ==================================================================== */

/* A request whose answer is the connection's last: 200 with
 * "Connection: close", then EOF, and nothing else is answered. */
static const struct closing_case {
    const char *name;
    const char *request;
    const char *body; /* text/plain */
} closings[] = {
    {"http_1_0_without_keep_alive_closes_after_response", "GET / HTTP/1.0\r\n\r\n", ROOT_BODY},
    /* The request pipelined after the close is never answered. */
    {"client_connection_close_is_honoured",
     "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n" GET("/hello"), ROOT_BODY},
    {"handler_connection_close_closes_after_response", GET("/close"), "bye\n"},
};

START_TEST(answer_with_connection_close_is_the_last_on_its_connection)
{
    const struct closing_case *k = &closings[_i];
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, k->request, r);
    assert_answer(k->name, r, 200, "OK", "text/plain", k->body);
    assert_closes(k->name, c, r);
    assert_case_stat(k->name, s, TURBO_STAT_REQUESTS, 1);
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

START_TEST(http_1_0_with_keep_alive_keeps_the_connection)
{
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r);
    assert_root(r);
    ck_assert_str_eq(header(r, "Connection"), "keep-alive");
    exchange(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", r);
    ck_assert_int_eq(r->status, 200);
    assert_body(r, HELLO_BODY);
    ck_assert_str_eq(header(r, "Connection"), "keep-alive");
    exchange(c, "GET / HTTP/1.0\r\n\r\n", r);
    assert_root(r);
    ck_assert_str_eq(header(r, "Connection"), "close");
    ck_assert_uint_eq(read_until_eof(c), 0);
    assert_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED, 1);
    assert_stat(s, TURBO_STAT_REQUESTS, 3);
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

START_TEST(connections_beyond_max_per_thread_are_closed_at_once)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_max_connections(cfg, 2), TURBO_OK);
    turbo_server *s = start_server(cfg);
    client *a = client_open(s, CLIENT_TIMEOUT_S);
    client *b = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(a, GET("/"), r);
    assert_root(r);
    exchange(b, GET("/"), r);
    assert_root(r);

    client *third = client_open(s, CLIENT_TIMEOUT_S);
    ck_assert_uint_eq(read_until_eof(third), 0);
    client_close(third);
    assert_stat(s, TURBO_STAT_CONNECTIONS_REFUSED, 1);
    assert_stat(s, TURBO_STAT_CONNECTIONS_ACCEPTED, 2);

    /* The first two still work; once one goes, a new one is let in. */
    exchange(a, GET("/hello"), r);
    assert_body(r, HELLO_BODY);
    client_close(b);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 1);
    assert_new_connection_works("", s);
    assert_stat(s, TURBO_STAT_CONNECTIONS_REFUSED, 1);
    free(r);
    client_close(a);
    stop_server(s);
}
END_TEST

START_TEST(two_threads_both_serve_connections)
{
    turbo_server *s = start_server(NULL);
    ck_assert_uint_eq(turbo_server_threads(s), 2);
    response *r = response_new();
    int seen[2] = {0, 0};
    for (int i = 0; i < 64; i++) {
        client *c = client_open(s, CLIENT_TIMEOUT_S);
        exchange(c, GET("/thread"), r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_msg(r->body_len == 1 && (r->body[0] == '0' || r->body[0] == '1'),
                      "thread index \"%s\"", r->body);
        seen[r->body[0] - '0']++;
        client_close(c);
    }
    ck_assert_int_gt(seen[0], 0);
    ck_assert_int_gt(seen[1], 0);
    free(r);
    stop_server(s);
}
END_TEST

/* ======================================================================
 * Life cycle
 * ==================================================================== */

static void *stop_thread(void *arg)
{
    turbo_server_stop(arg);
    return NULL;
}

START_TEST(graceful_stop_finishes_requests_in_flight)
{
    enum { N = 4 };
    turbo_server *s = start_server(NULL);
    client *idle = client_open(s, CLIENT_TIMEOUT_S);
    client *c[N];
    for (int i = 0; i < N; i++)
        c[i] = client_open(s, CLIENT_TIMEOUT_S);
    /* Every connection is accepted (none waits in the backlog). */
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, N + 1);
    for (int i = 0; i < N; i++)
        send_str(c[i], GET("/slow"));
    while (atomic_load(&slow_entered) == 0)
        sleep_ms(1);

    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, stop_thread, s), 0);
    ck_assert_int_eq(pthread_join(tid, NULL), 0);

    ck_assert_uint_eq(read_until_eof(idle), 0);
    response *r = response_new();
    for (int i = 0; i < N; i++) {
        read_response(c[i], r);
        ck_assert_int_eq(r->status, 200);
        assert_body(r, "slow\n");
        ck_assert_str_eq(header(r, "Connection"), "close");
        ck_assert_uint_eq(read_until_eof(c[i]), 0);
        client_close(c[i]);
    }
    client_close(idle);
    ck_assert_int_eq(atomic_load(&slow_entered), N);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_REQUESTS), N);
    turbo_server_free(s);
    free(r);
}
END_TEST

/* A client that connected just before the stop cannot know of it: its
 * first request, sent after the stop, is still answered (with close). */
START_TEST(connection_accepted_before_stop_gets_its_first_request_answered)
{
    turbo_server *s = start_server(NULL);
    client *fresh = client_open(s, CLIENT_TIMEOUT_S);
    client *used = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(used, GET("/"), r);
    assert_root(r);
    assert_stat(s, TURBO_STAT_CONNECTIONS_OPEN, 2);

    turbo_server_stop(s);
    /* The used keep-alive connection is idle: closed at once. */
    ck_assert_uint_eq(read_until_eof(used), 0);
    sleep_ms(100);
    send_str(fresh, GET("/hello"));
    read_response(fresh, r);
    ck_assert_int_eq(r->status, 200);
    assert_body(r, "{\"message\":\"Hello, World!\"}");
    ck_assert_str_eq(header(r, "Connection"), "close");
    ck_assert_uint_eq(read_until_eof(fresh), 0);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_TIMEOUTS), 0);
    client_close(fresh);
    client_close(used);
    turbo_server_free(s);
    free(r);
}
END_TEST

/* One I/O thread, busy in a handler while a client connects: the client
 * waits in the kernel's accept queue when the thread takes the stop. The
 * stop accepts it and answers it instead of leaving it to be reset. */
START_TEST(connection_queued_in_the_backlog_at_stop_is_served)
{
    turbo_config *cfg = config_with_threads(1);
    turbo_server *s = start_server(cfg);
    client *busy = client_open(s, CLIENT_TIMEOUT_S);
    send_str(busy, GET("/slow"));
    while (atomic_load(&slow_entered) == 0)
        sleep_ms(1);
    /* The stop first, then the connection: the thread sees the stop before
     * the listener is readable, and the kernel queues the connection on
     * the socket, still open, all the same. */
    turbo_server_stop(s);
    client *queued = client_open(s, CLIENT_TIMEOUT_S); /* the one thread is in the handler */
    send_str(queued, GET("/"));

    response *r = response_new();
    read_response(busy, r);
    assert_body(r, "slow\n");
    read_response(queued, r);
    assert_root(r);
    ck_assert_str_eq(header(r, "Connection"), "close");
    ck_assert_uint_eq(read_until_eof(queued), 0);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    ck_assert_uint_eq(turbo_server_stat(s, TURBO_STAT_REQUESTS), 2);
    client_close(busy);
    client_close(queued);
    turbo_server_free(s);
    free(r);
}
END_TEST

/* Two servers on one port (SO_REUSEPORT), the way a restart overlaps an
 * old and a new process. Once the old one is told to stop, while it still
 * finishes a request, every new connection goes to the other one: the
 * stopping server gives its sockets up instead of letting the kernel queue
 * connections there that nobody will accept. */
START_TEST(stopping_server_hands_new_connections_to_the_other_on_its_port)
{
    turbo_config *cfg = config_with_threads(2);
    turbo_server *old = start_server(cfg);
    client *busy = client_open(old, CLIENT_TIMEOUT_S); /* alone on the port: old serves it */
    send_str(busy, GET("/slow"));
    while (atomic_load(&slow_entered) == 0)
        sleep_ms(1);

    turbo_server *next = turbo_server_new(NULL);
    ck_assert_ptr_nonnull(next);
    ck_assert_int_eq(turbo_server_listen(next, "127.0.0.1", turbo_server_port(old)), TURBO_OK);
    add_test_routes(next, routes);
    ck_assert_int_eq(turbo_server_start(next), TURBO_OK);
    turbo_server_stop(old);
    sleep_ms(50); /* the old server's idle thread takes the stop */

    response *r = response_new();
    for (int i = 0; i < 40; i++) {
        client *c = client_open(old, CLIENT_TIMEOUT_S); /* the shared port */
        exchange(c, GET("/"), r);
        assert_root(r);
        client_close(c);
    }
    read_response(busy, r);
    assert_body(r, "slow\n");
    client_close(busy);
    ck_assert_int_eq(turbo_server_wait(old), TURBO_OK);
    /* The busy thread's socket stays open until its handler returns; what
     * the kernel queued there meanwhile was drained and answered by old.
     * Everything else went to next. Nothing was lost. */
    ck_assert_uint_eq(turbo_server_stat(old, TURBO_STAT_REQUESTS) +
                          turbo_server_stat(next, TURBO_STAT_REQUESTS),
                      41);
    ck_assert_uint_ge(turbo_server_stat(next, TURBO_STAT_REQUESTS), 1);
    turbo_server_free(old);
    server = next;
    stop_server(next);
    free(r);
}
END_TEST

static void on_sigusr1(int sig)
{
    (void)sig;
    turbo_server_stop(server);
}

START_TEST(stop_from_a_signal_handler_stops_the_server)
{
    turbo_server *s = start_server(NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_sigusr1;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);

    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/"), r);
    assert_root(r);

    ck_assert_int_eq(raise(SIGUSR1), 0);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    /* The idle keep-alive connection was closed by the stop. */
    ck_assert_uint_eq(read_until_eof(c), 0);
    client_close(c);
    turbo_server_free(s);
    free(r);
}
END_TEST

static volatile sig_atomic_t usr2_seen;
static void count_usr2(int sig)
{
    (void)sig;
    usr2_seen++;
}

static void (*current_handler(int sig))(int)
{
    struct sigaction now;
    ck_assert_int_eq(sigaction(sig, NULL, &now), 0);
    return now.sa_handler;
}

START_TEST(stop_on_signal_stops_every_registered_server_then_restores_the_handler)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = count_usr2;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR2, &sa, NULL), 0);

    turbo_server *a = start_server(NULL);
    turbo_server *b = start_server(NULL);
    ck_assert_int_eq(turbo_server_stop_on_signal(NULL, SIGUSR2), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_stop_on_signal(a, SIGKILL), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_stop_on_signal(a, SIGSTOP), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_stop_on_signal(a, 0), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_stop_on_signal(a, 65), TURBO_EINVAL);
    /* A fault's handler must not return: a crash would become a hang. */
    ck_assert_int_eq(turbo_server_stop_on_signal(a, SIGSEGV), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_stop_on_signal(a, SIGBUS), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_stop_on_signal(a, SIGFPE), TURBO_EINVAL);
    ck_assert_int_eq(turbo_server_stop_on_signal(a, SIGUSR2), TURBO_OK);
    ck_assert_int_eq(turbo_server_stop_on_signal(a, SIGUSR2), TURBO_OK); /* repeat: harmless */
    ck_assert_int_eq(turbo_server_stop_on_signal(b, SIGUSR2), TURBO_OK);
    ck_assert_ptr_ne(current_handler(SIGUSR2), count_usr2);

    client *c = client_open(a, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/"), r);
    assert_root(r);

    ck_assert_int_eq(raise(SIGUSR2), 0);
    ck_assert_int_eq(turbo_server_wait(a), TURBO_OK);
    ck_assert_int_eq(turbo_server_wait(b), TURBO_OK);
    ck_assert_uint_eq(read_until_eof(c), 0); /* the stop closed the idle connection */
    client_close(c);
    ck_assert_int_eq(usr2_seen, 0);

    turbo_server_free(a);
    ck_assert_ptr_ne(current_handler(SIGUSR2), count_usr2); /* b still wants it */
    turbo_server_free(b);
    server = NULL;
    ck_assert_ptr_eq(current_handler(SIGUSR2), count_usr2);
    ck_assert_int_eq(raise(SIGUSR2), 0);
    ck_assert_int_eq(usr2_seen, 1);
    free(r);
}
END_TEST

static volatile sig_atomic_t usr1_seen;
static void count_usr1(int sig)
{
    (void)sig;
    usr1_seen++;
}

/* The program installs its own handler after the server registered: the
 * server's free() must not put the older disposition back over it. */
START_TEST(stop_on_signal_leaves_a_handler_installed_later_alone)
{
    turbo_server *s = turbo_server_new(NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(turbo_server_stop_on_signal(s, SIGUSR1), TURBO_OK);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = count_usr1;
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
    turbo_server_free(s);
    ck_assert_ptr_eq(current_handler(SIGUSR1), count_usr1);
    ck_assert_int_eq(raise(SIGUSR1), 0);
    ck_assert_int_eq(usr1_seen, 1);
}
END_TEST

START_TEST(stop_before_any_request_and_repeated_stop_are_harmless)
{
    turbo_server *s = start_server(NULL);
    turbo_server_stop(s);
    turbo_server_stop(s);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    turbo_server_stop(s);
    turbo_server_free(s);
}
END_TEST

/* A socket listening on 127.0.0.1 at an ephemeral port: what a
 * supervisor or systemd would pass down. */
static int listening_socket(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(fd, 64), 0);
    return fd;
}

/* The port a socket is bound to. */
static int bound_port(int fd)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

START_TEST(inherited_listening_fd_serves_and_reports_its_port)
{
    int fd = listening_socket();
    turbo_server *s = turbo_server_new(NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_int_eq(turbo_server_listen_fd(s, fd), TURBO_OK);
    ck_assert_int_eq(turbo_server_port(s), bound_port(fd));
    ck_assert_int_eq(turbo_server_listen(s, "127.0.0.1", 0), TURBO_ESTATE);
    add_test_routes(s, routes);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    server = s;

    response *r = response_new();
    for (int i = 0; i < 8; i++) {
        client *c = client_open(s, CLIENT_TIMEOUT_S);
        exchange(c, GET("/"), r);
        assert_root(r);
        client_close(c);
    }
    stop_server(s);
    /* The server does not close an fd it did not open. */
    ck_assert_int_eq(listen(fd, 64), 0);
    close(fd);
    free(r);
}
END_TEST

START_TEST(inherited_fd_that_is_not_a_listening_stream_socket_is_refused_with_errno)
{
    turbo_server *s = turbo_server_new(NULL);
    ck_assert_ptr_nonnull(s);
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int closed = dup(devnull);
    close(closed);
    struct {
        int fd, err;
    } cases[] = {{closed, EBADF}, {devnull, ENOTSOCK}, {tcp, EINVAL}, {udp, EPROTOTYPE}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        errno = 0;
        ck_assert_int_eq(turbo_server_listen_fd(s, cases[i].fd), TURBO_EINVAL);
        ck_assert_int_eq(errno, cases[i].err);
    }
    /* Refusals leave the server new: a good fd is still taken. */
    int fd = listening_socket();
    ck_assert_int_eq(turbo_server_listen_fd(s, fd), TURBO_OK);
    turbo_server_free(s);
    close(fd);
    close(devnull);
    close(tcp);
    close(udp);
}
END_TEST

/* Runs turbo_server_listen_activated() with fd 3 set to `fd3` (-1: closed)
 * and the given environment. fd 3's previous owner is put back after, or,
 * when the server took fd 3, kept in fd3_owner for the test to put back. */
static int fd3_owner = -1, fd3_cloexec;

static int activated(turbo_server *s, int fd3, const char *pid, const char *fds)
{
    /* fd 3 may be Check's own channel to its parent: no assertion here
     * until it is back. */
    int saved = fcntl(3, F_DUPFD_CLOEXEC, 10);
    int moved = fd3 >= 0 ? dup2(fd3, 3) == 3 : close(3) == 0 || errno == EBADF;
    char mine[32];
    snprintf(mine, sizeof(mine), "%ld", (long)getpid());
    if (pid != NULL)
        setenv("LISTEN_PID", strcmp(pid, "self") == 0 ? mine : pid, 1);
    else
        unsetenv("LISTEN_PID");
    if (fds != NULL)
        setenv("LISTEN_FDS", fds, 1);
    else
        unsetenv("LISTEN_FDS");
    setenv("LISTEN_FDNAMES", "web", 1);
    int rc = turbo_server_listen_activated(s);
    int err = errno;
    if (rc == 1) { /* the server serves fd 3 now, close-on-exec */
        fd3_cloexec = fcntl(3, F_GETFD) & FD_CLOEXEC; /* asserted once fd 3 is back */
        fd3_owner = saved;
    } else if (saved >= 0) {
        dup2(saved, 3);
        close(saved);
    }
    ck_assert(moved);
    errno = err;
    return rc;
}

START_TEST(socket_activation_serves_fd_3_and_clears_the_environment)
{
    int good = listening_socket(), tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    turbo_server *s = turbo_server_new(NULL);
    ck_assert_ptr_nonnull(s);

    /* Nothing for this process: 0, the environment left as it was. */
    ck_assert_int_eq(activated(s, good, NULL, "1"), 0);
    ck_assert_int_eq(activated(s, good, "1", "1"), 0); /* PID 1's, not ours */
    ck_assert_str_eq(getenv("LISTEN_PID"), "1");
    ck_assert_str_eq(getenv("LISTEN_FDNAMES"), "web");
    ck_assert_int_eq(activated(s, good, "self", NULL), 0); /* no LISTEN_FDS */
    ck_assert_ptr_null(getenv("LISTEN_PID"));
    ck_assert_int_eq(activated(s, good, "self", "0"), 0);

    /* Ours, but unusable: TURBO_EINVAL, errno says why, variables gone. */
    errno = 0;
    ck_assert_int_eq(activated(s, good, "self", "two"), TURBO_EINVAL);
    ck_assert_int_eq(errno, EDOM);
    ck_assert_ptr_null(getenv("LISTEN_PID"));
    ck_assert_ptr_null(getenv("LISTEN_FDS"));
    ck_assert_ptr_null(getenv("LISTEN_FDNAMES"));
    ck_assert_int_eq(activated(s, good, "self", "99999999999"), TURBO_EINVAL);
    ck_assert_int_eq(errno, E2BIG);
    /* Refused, but still not inherited by what this process starts. */
    int saved3 = fcntl(3, F_DUPFD_CLOEXEC, 10);
    ck_assert_int_eq(dup2(good, 3), 3); /* dup2: not close-on-exec */
    setenv("LISTEN_FDS", "2", 1);
    char me[32];
    snprintf(me, sizeof(me), "%ld", (long)getpid());
    setenv("LISTEN_PID", me, 1);
    int rc3 = turbo_server_listen_activated(s), err3 = errno;
    int cloexec3 = fcntl(3, F_GETFD) & FD_CLOEXEC;
    if (saved3 >= 0) { /* fd 3 back to its owner before any assertion */
        dup2(saved3, 3);
        close(saved3);
    }
    ck_assert_int_eq(rc3, TURBO_EINVAL);
    ck_assert_int_eq(err3, E2BIG);
    ck_assert_int_eq(cloexec3, FD_CLOEXEC);
    ck_assert_int_eq(activated(s, tcp, "self", "1"), TURBO_EINVAL);
    ck_assert_int_eq(errno, EINVAL);
    ck_assert_int_eq(activated(s, -1, "self", "1"), TURBO_EINVAL);
    ck_assert_int_eq(errno, EBADF);

    /* Ours and listening: served, reported, and the environment cleared. */
    ck_assert_int_eq(activated(s, good, "self", "1"), 1);
    ck_assert_ptr_null(getenv("LISTEN_PID"));
    ck_assert_ptr_null(getenv("LISTEN_FDS"));
    ck_assert_ptr_null(getenv("LISTEN_FDNAMES"));
    ck_assert_int_eq(turbo_server_port(s), bound_port(good));
    ck_assert_int_eq(turbo_server_listen_activated(s), TURBO_ESTATE);
    add_test_routes(s, routes);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    server = s;
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/"), r);
    assert_root(r);
    client_close(c);
    stop_server(s);
    if (fd3_owner >= 0)
        dup2(fd3_owner, 3);
    ck_assert_int_eq(fd3_cloexec, FD_CLOEXEC);
    free(r);
    close(good);
    close(tcp);
}
END_TEST

static int run_result;

static void *run_thread(void *arg)
{
    run_result = turbo_server_run(arg);
    return NULL;
}

START_TEST(run_on_caller_serves_on_the_calling_thread)
{
    turbo_config *cfg = config_with_threads(4);
    ck_assert_int_eq(turbo_config_set_run_on_caller(cfg, 1), TURBO_OK);
    turbo_server *s = server_listening(cfg);
    ck_assert_uint_eq(turbo_server_threads(s), 1);
    add_test_routes(s, routes);
    ck_assert_int_eq(turbo_server_start(s), TURBO_ESTATE);

    run_result = 12345;
    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, run_thread, s), 0);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/thread"), r);
    ck_assert_int_eq(r->status, 200);
    assert_body(r, "0");
    exchange(c, GET("/"), r);
    assert_root(r);
    client_close(c);

    turbo_server_stop(s);
    ck_assert_int_eq(pthread_join(tid, NULL), 0);
    ck_assert_int_eq(run_result, TURBO_OK);
    turbo_server_free(s);
    free(r);
}
END_TEST

/* ======================================================================
 * Response features
 * ==================================================================== */

START_TEST(body_by_reference_is_sent_and_freed_once)
{
    turbo_server *s = start_server(NULL);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/ref"), r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_str_eq(header(r, "Content-Type"), "text/plain");
    assert_body(r, REF_BODY);
    for (int i = 0; i < 600 && atomic_load(&ref_frees) == 0; i++)
        sleep_ms(5);
    sleep_ms(20);
    ck_assert_int_eq(atomic_load(&ref_frees), 1);

    /* HEAD sends no body, but the reference is still released. */
    send_str(c, "HEAD /ref HTTP/1.1\r\nHost: test\r\n\r\n");
    read_response_ex(c, r, 1);
    ck_assert_str_eq(header(r, "Content-Length"), "37");
    /* Several referenced bodies in one pipelined batch. */
    send_str(c, GET("/ref") GET("/") GET("/ref"));
    read_response(c, r);
    assert_body(r, REF_BODY);
    read_response(c, r);
    assert_root(r);
    read_response(c, r);
    assert_body(r, REF_BODY);
    client_close(c);
    stop_server(s);
    ck_assert_int_eq(atomic_load(&ref_frees), 4);
    ck_assert_int_eq(atomic_load(&ref_bad_args), 0);
    free(r);
}
END_TEST

/* turbo_config_set_server_name: the Server field of every answer. */
static const struct server_name_case {
    const char *name;
    const char *set;  /* the configured name */
    const char *want; /* the Server field; NULL: none */
} server_names[] = {
    {"server_header_can_be_renamed", "test-server/1.0", "test-server/1.0"},
    {"server_header_can_be_removed", NULL, NULL},
    {"server_header_is_removed_by_an_empty_name", "", NULL},
};

static void assert_server_field(const char *who, const response *r, const char *want)
{
    const char *got = header(r, "Server");
    if (want == NULL)
        expect(who, got == NULL, "Server \"%s\", want none", got);
    else
        expect(who, got != NULL && strcmp(got, want) == 0 && header_count(r, "Server") == 1,
               "Server \"%s\" (%zu fields), want one \"%s\"", got != NULL ? got : "(none)",
               header_count(r, "Server"), want);
}

START_TEST(server_header_is_the_configured_name)
{
    const struct server_name_case *k = &server_names[_i];
    turbo_config *cfg = test_config();
    ck_assert_int_eq(turbo_config_set_server_name(cfg, k->set), TURBO_OK);
    turbo_server *s = start_server(cfg);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/"), r);
    expect(k->name, r->status == 200, "status %d", r->status);
    assert_body_is(k->name, r, ROOT_BODY);
    assert_server_field(k->name, r, k->want);
    expect(k->name, header(r, "Date") != NULL, "no Date field");
    exchange(c, GET("/nope"), r); /* the library's own answers too */
    expect(k->name, r->status == 404, "status %d", r->status);
    assert_server_field(k->name, r, k->want);
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

/* ======================================================================
 * API contracts
 * ==================================================================== */

START_TEST(routes_change_while_serving)
{
    turbo_server *s = start_server(NULL);
    ck_assert_int_eq(turbo_route_add(s, "GET", "/late", root_handler, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_route_remove(s, "GET", "/hello"), TURBO_OK);
    ck_assert_int_eq(turbo_route_remove(s, "GET", "/hello"), TURBO_ENOENT);
    ck_assert_int_eq(turbo_server_start(s), TURBO_ESTATE);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, GET("/late"), r);
    assert_root(r);
    exchange(c, GET("/hello"), r);
    assert_error(r, 404, "Not Found");
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

START_TEST(config_setters_refuse_out_of_range_values)
{
    turbo_config *cfg = turbo_config_new();
    ck_assert_ptr_nonnull(cfg);
    ck_assert_int_eq(turbo_config_set_threads(cfg, 1025), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_threads(cfg, 1024), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_header_bytes(cfg, 255), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_header_bytes(cfg, 1048577), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_header_bytes(cfg, 256), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_headers(cfg, 0), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_headers(cfg, 10001), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_headers(cfg, 10000), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_uri_bytes(cfg, 15), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_uri_bytes(cfg, 1048577), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_uri_bytes(cfg, 16), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_body_bytes(cfg, ((uint64_t)1 << 40) + 1), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_body_bytes(cfg, 0), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_header_timeout_ms(cfg, 9), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_header_timeout_ms(cfg, 86400001), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_header_timeout_ms(cfg, 10), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_idle_timeout_ms(cfg, 9), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_body_timeout_ms(cfg, 86400001), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_write_timeout_ms(cfg, 0), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_connections(cfg, 0), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_max_connections(cfg, 1048577), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_backlog(cfg, 0), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_backlog(cfg, 65536), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_backlog(cfg, -1), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_server_name(cfg, "bad\r\nX-Injected: 1"), TURBO_EINVAL);
    ck_assert_int_eq(turbo_config_set_threads(NULL, 1), TURBO_EINVAL);
    turbo_config_free(cfg);
}
END_TEST

START_TEST(refused_values_leave_the_config_unchanged)
{
    /* max_body_bytes 16 survives a refused 2^40 + 1: 17 bytes still 413. */
    turbo_config *cfg = test_config();
    ck_assert_int_eq(turbo_config_set_max_body_bytes(cfg, 16), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_max_body_bytes(cfg, ((uint64_t)1 << 40) + 1), TURBO_ERANGE);
    turbo_server *s = start_server(cfg);
    client *c = client_open(s, CLIENT_TIMEOUT_S);
    response *r = response_new();
    exchange(c, "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 17\r\n\r\n0123456789abcdefg",
             r);
    assert_error(r, 413, "Content Too Large");
    free(r);
    client_close(c);
    stop_server(s);
}
END_TEST

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    /* Each group: its table-driven test, run once per case, and the tests
     * of their own. */
    struct {
        const char *name;
        const TTest *loop;
        int ncases;
        const TTest *tests[16];
    } groups[] = {
        {"routing",
         request_gets_its_exact_answer_and_the_connection_goes_on,
         COUNT(answers),
         {fallback_answers_404_and_405_in_its_own_format, fallback_reads_the_routers_allow,
          head_on_get_route_sends_same_headers_without_body,
          access_log_writes_one_clf_line_per_answer, file_bodies_are_sent_whole_and_in_order}},
        {"messages",
         NULL,
         0,
         {keep_alive_reuses_one_connection, pipelined_requests_answer_in_order_in_one_write,
          chunked_upload_in_pieces_is_decoded_and_echoed,
          expect_100_continue_is_answered_before_the_body}},
        {"limits",
         refused_request_is_answered_then_the_connection_closes,
         COUNT(refusals),
         {fields_up_to_the_limits_are_accepted}},
        {"timeouts",
         partial_request_then_silence_is_408_then_eof,
         COUNT(silences),
         {idle_keep_alive_connection_is_closed_without_a_byte,
          silent_new_connection_is_closed_after_header_timeout,
          body_trickling_in_slower_than_the_timeout_in_total_is_served,
          client_that_stops_reading_is_closed_after_write_timeout}},
        {"connections",
         answer_with_connection_close_is_the_last_on_its_connection,
         COUNT(closings),
         {http_1_0_with_keep_alive_keeps_the_connection,
          connections_beyond_max_per_thread_are_closed_at_once,
          two_threads_both_serve_connections}},
        {"lifecycle",
         NULL,
         0,
         {graceful_stop_finishes_requests_in_flight, stop_from_a_signal_handler_stops_the_server,
          connection_accepted_before_stop_gets_its_first_request_answered,
          connection_queued_in_the_backlog_at_stop_is_served,
          stopping_server_hands_new_connections_to_the_other_on_its_port,
          stop_on_signal_stops_every_registered_server_then_restores_the_handler,
          stop_on_signal_leaves_a_handler_installed_later_alone,
          stop_before_any_request_and_repeated_stop_are_harmless,
          inherited_listening_fd_serves_and_reports_its_port,
          inherited_fd_that_is_not_a_listening_stream_socket_is_refused_with_errno,
          socket_activation_serves_fd_3_and_clears_the_environment,
          run_on_caller_serves_on_the_calling_thread}},
        {"responses",
         server_header_is_the_configured_name,
         COUNT(server_names),
         {body_by_reference_is_sent_and_freed_once,
          large_response_is_written_completely_as_the_client_reads}},
        {"api",
         NULL,
         0,
         {routes_change_while_serving, config_setters_refuse_out_of_range_values,
          refused_values_leave_the_config_unchanged}},
    };
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
        TCase *tc = tcase_create(groups[i].name);
        /* Generous: a hang fails the test, slowness under sanitizers does not. */
        tcase_set_timeout(tc, 30);
        if (groups[i].loop != NULL)
            tcase_add_loop_test(tc, groups[i].loop, 0, groups[i].ncases);
        for (size_t j = 0; j < 16 && groups[i].tests[j] != NULL; j++)
            tcase_add_test(tc, groups[i].tests[j]);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    SRunner *sr = srunner_create(server_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
