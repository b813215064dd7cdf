/*
 * The PROXY protocol (proxy.h, turbo_config_set_proxy_protocol): the
 * parser on every valid form and every refusal, byte by byte; then live
 * servers fed real header bytes, whose handler reports the remote address
 * it sees.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <turbo/turbo.h>

#include "http_client.h"
#include "proxy.h"
#include "test_support.h"

/* ---- the parser ------------------------------------------------------- */

#define SIG2 "\r\n\r\n\0\r\nQUIT\n"
#define BYTES(lit) lit, sizeof(lit) - 1

typedef struct valid_case {
    const char *name;
    const char *bytes;
    size_t len;
    long consumed;
    int keep_peer;
    int family;
    const char *addr; /* text, when !keep_peer */
    unsigned port;
} valid_case;

static const valid_case valid[] = {
    {"v1 tcp4", BYTES("PROXY TCP4 203.0.113.7 10.0.0.1 51234 8000\r\nGET"), 44, 0, AF_INET,
     "203.0.113.7", 51234},
    {"v1 tcp6", BYTES("PROXY TCP6 2001:db8::7 2001:db8::1 65535 80\r\n"), 45, 0, AF_INET6,
     "2001:db8::7", 65535},
    {"v1 port 0", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 0 0\r\n"), 32, 0, AF_INET, "1.2.3.4", 0},
    {"v1 unknown", BYTES("PROXY UNKNOWN\r\n"), 15, 1, 0, NULL, 0},
    {"v1 unknown with junk", BYTES("PROXY UNKNOWN ff:: junk \x01 x\r\n"), 29, 1, 0, NULL, 0},
    {"v1 longest", BYTES("PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"),
     104, 0, AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535},
    {"v2 proxy tcp4", BYTES(SIG2 "\x21\x11\x00\x0c" "\xcb\x00\x71\x07" "\x0a\x00\x00\x01"
                            "\xc8\x22" "\x1f\x40" "GET"),
     28, 0, AF_INET, "203.0.113.7", 51234},
    {"v2 proxy tcp6 with tlvs",
     BYTES(SIG2 "\x21\x21\x00\x2c"
                "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x07"
                "\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                "\x01\xbb" "\x00\x50"
                "\x01\x00\x02" "h2" "\x04\x00\x00"),
     60, 0, AF_INET6, "2001:db8::7", 443},
    {"v2 local", BYTES(SIG2 "\x20\x00\x00\x00"), 16, 1, 0, NULL, 0},
    {"v2 local skips its block", BYTES(SIG2 "\x20\x11\x00\x03" "abc"), 19, 1, 0, NULL, 0},
    {"v2 proxy unspec", BYTES(SIG2 "\x21\x00\x00\x00"), 16, 1, 0, NULL, 0},
    {"v2 proxy tcp4 datagram", BYTES(SIG2 "\x21\x12\x00\x0c" "\x01\x02\x03\x04\x05\x06\x07\x08"
                                     "\x00\x01\x00\x02"),
     28, 1, 0, NULL, 0},
    {"v2 proxy unix", BYTES(SIG2 "\x21\x31\x00\xd8") /* + 216 zero bytes, added below */, 232, 1,
     0, NULL, 0},
};

/* The bytes of a case (the unix one gets its 216-byte address block). */
static size_t case_bytes(const valid_case *v, char *buf, size_t cap)
{
    size_t n = v->len;
    memcpy(buf, v->bytes, n);
    if (strcmp(v->name, "v2 proxy unix") == 0) {
        memset(buf + n, 0, 216);
        n += 216;
    }
    ck_assert_uint_le(n, cap);
    return n;
}

START_TEST(valid_headers_give_their_source_and_length)
{
    const valid_case *v = &valid[_i];
    char buf[512];
    size_t n = case_bytes(v, buf, sizeof buf);
    turbo__proxy_src src;
    memset(&src, 0xee, sizeof src);
    long r = turbo__proxy_parse(buf, n, &src);
    ck_assert_msg(r == v->consumed, "%s: %ld, not %ld (%s)", v->name, r, v->consumed,
                  turbo__proxy_strerror(r));
    ck_assert_int_eq(src.keep_peer, v->keep_peer);
    ck_assert_int_eq(src.version, v->bytes[0] == 'P' ? 1 : 2);
    if (!v->keep_peer) {
        char text[INET6_ADDRSTRLEN];
        ck_assert_int_eq(src.family, v->family);
        ck_assert_ptr_nonnull(inet_ntop(src.family, src.addr, text, sizeof text));
        ck_assert_str_eq(text, v->addr);
        ck_assert_uint_eq(src.port, v->port);
    }
    /* Every shorter prefix of the header is a valid beginning. */
    for (size_t k = 0; k < (size_t)v->consumed; k++)
        ck_assert_msg(turbo__proxy_parse(buf, k, &src) == 0, "%s: prefix %zu", v->name, k);
}
END_TEST

typedef struct bad_case {
    const char *name;
    const char *bytes;
    size_t len;
    long error;
} bad_case;

static const bad_case bad[] = {
    {"plain http", BYTES("GET / HTTP/1.1\r\n\r\n"), TURBO__PROXY_ENOTPROXY},
    {"lower case", BYTES("proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), TURBO__PROXY_ENOTPROXY},
    {"no space after PROXY", BYTES("PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n"), TURBO__PROXY_ENOTPROXY},
    {"v2 signature broken", BYTES("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x0c"), TURBO__PROXY_ENOTPROXY},
    {"http pipelined after CRLF", BYTES("\r\nGET / HTTP/1.1\r\n"), TURBO__PROXY_ENOTPROXY},
    {"v1 no CRLF in 107 bytes", BYTES("PROXY UNKNOWN "
                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
     TURBO__PROXY_ETOOLONG},
    {"v1 CRLF at byte 108", BYTES("PROXY UNKNOWN "
                                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                  "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n"),
     TURBO__PROXY_ETOOLONG},
    {"v1 bare LF", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), TURBO__PROXY_ELINE},
    {"v1 bare CR", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX"), TURBO__PROXY_ELINE},
    {"v1 empty", BYTES("PROXY \r\n"), TURBO__PROXY_ELINE},
    {"v1 unknown protocol", BYTES("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n"), TURBO__PROXY_ELINE},
    {"v1 UNKNOWNX", BYTES("PROXY UNKNOWNX\r\n"), TURBO__PROXY_ELINE},
    {"v1 TCP4 alone", BYTES("PROXY TCP4\r\n"), TURBO__PROXY_ELINE},
    {"v1 three fields", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"), TURBO__PROXY_ELINE},
    {"v1 five fields", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n"), TURBO__PROXY_ELINE},
    {"v1 double space", BYTES("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"), TURBO__PROXY_ELINE},
    {"v1 trailing space", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"), TURBO__PROXY_ELINE},
    {"v1 tcp4 with v6 address", BYTES("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), TURBO__PROXY_EADDR},
    {"v1 tcp6 with v4 address", BYTES("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), TURBO__PROXY_EADDR},
    {"v1 bad destination", BYTES("PROXY TCP4 1.2.3.4 5.6.7 1 2\r\n"), TURBO__PROXY_EADDR},
    {"v1 octet over 255", BYTES("PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n"), TURBO__PROXY_EADDR},
    {"v1 nine groups", BYTES("PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0 ::1 1 2\r\n"),
     TURBO__PROXY_EADDR},
    {"v1 address too long", BYTES("PROXY TCP6 0000:0000:0000:0000:0000:0000:0000:0000:0000:0 ::1 1 2\r\n"),
     TURBO__PROXY_EADDR},
    {"v1 port over 65535", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n"), TURBO__PROXY_EPORT},
    {"v1 port leading zero", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n"), TURBO__PROXY_EPORT},
    {"v1 port sign", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n"), TURBO__PROXY_EPORT},
    {"v1 port six digits", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n"), TURBO__PROXY_EPORT},
    {"v2 version 1", BYTES(SIG2 "\x11\x11\x00\x0c"), TURBO__PROXY_EVERSION},
    {"v2 version 3", BYTES(SIG2 "\x31"), TURBO__PROXY_EVERSION},
    {"v2 command 2", BYTES(SIG2 "\x22\x11\x00\x0c"), TURBO__PROXY_ECOMMAND},
    {"v2 family 4", BYTES(SIG2 "\x21\x41\x00\x0c"), TURBO__PROXY_EFAMILY},
    {"v2 transport 3", BYTES(SIG2 "\x21\x13\x00\x0c"), TURBO__PROXY_EFAMILY},
    {"v2 tcp4 length 11", BYTES(SIG2 "\x21\x11\x00\x0b" "\x01\x02\x03\x04\x05\x06\x07\x08\x00\x01\x00"),
     TURBO__PROXY_ESHORT},
    {"v2 tcp6 length 12", BYTES(SIG2 "\x21\x21\x00\x0c"), TURBO__PROXY_ESHORT},
    {"v2 unix length 36", BYTES(SIG2 "\x21\x31\x00\x24"), TURBO__PROXY_ESHORT},
};

START_TEST(malformed_headers_are_refused_with_their_reason)
{
    const bad_case *b = &bad[_i];
    turbo__proxy_src src;
    long r = turbo__proxy_parse(b->bytes, b->len, &src);
    ck_assert_msg(r == b->error, "%s: %ld (%s), not %ld (%s)", b->name, r,
                  turbo__proxy_strerror(r), b->error, turbo__proxy_strerror(b->error));
    /* No prefix is ever taken for a header, and once refused, always. */
    int refused = 0;
    for (size_t k = 0; k <= b->len; k++) {
        long rk = turbo__proxy_parse(b->bytes, k, &src);
        ck_assert_msg(rk <= 0, "%s: prefix %zu taken", b->name, k);
        if (refused)
            ck_assert_msg(rk == b->error, "%s: prefix %zu: %ld after a refusal", b->name, k, rk);
        refused = rk < 0;
    }
}
END_TEST

START_TEST(every_error_has_its_own_description)
{
    for (long e = -1; e >= -9; e--)
        for (long f = e - 1; f >= -9; f--)
            ck_assert_str_ne(turbo__proxy_strerror(e), turbo__proxy_strerror(f));
    ck_assert_str_eq(turbo__proxy_strerror(-10), "unknown PROXY header error");
    ck_assert_str_eq(turbo__proxy_strerror(1), "unknown PROXY header error");
}
END_TEST

START_TEST(empty_input_needs_more)
{
    turbo__proxy_src src;
    ck_assert_int_eq(turbo__proxy_parse("", 0, &src), 0);
}
END_TEST

/* ---- live servers ----------------------------------------------------- */

/* Answers "ADDR PORT" as the request sees them. */
static int peer(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    char buf[128];
    turbo_str a = turbo_request_remote_addr(req);
    int n = snprintf(buf, sizeof buf, "%.*s %d", (int)a.len, a.ptr ? a.ptr : "",
                     turbo_request_remote_port(req));
    return turbo_response_body(res, buf, (size_t)n);
}

static const test_route routes[] = {{"GET", "/peer", peer}, {NULL}};

static turbo_server *proxied_server(int on, int log_fd)
{
    turbo_config *cfg = config_with_threads(2);
    ck_assert_int_eq(turbo_config_set_proxy_protocol(cfg, on), TURBO_OK);
    if (log_fd >= 0)
        ck_assert_int_eq(turbo_config_set_access_log(cfg, log_fd), TURBO_OK);
    return server_started(cfg, routes);
}

#define GET_PEER "GET /peer HTTP/1.1\r\nHost: x\r\n\r\n"

/* Opens a connection, sends header then request, returns the answer's body. */
static void ask(turbo_server *s, const char *hdr, size_t hdr_len, char *body, size_t cap)
{
    client *c = client_open(s, 10);
    response *r = response_new();
    send_bytes(c, hdr, hdr_len);
    exchange(c, GET_PEER, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_lt(r->body_len, cap);
    memcpy(body, r->body, r->body_len + 1);
    free(r);
    client_close(c);
}

/* The socket's own address as "127.0.0.1 PORT" (what LOCAL keeps). */
static void own_peer(const client *c, char *out, size_t cap)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    ck_assert_int_eq(getsockname(c->fd, (struct sockaddr *)&a, &len), 0);
    snprintf(out, cap, "127.0.0.1 %d", ntohs(a.sin_port));
}

START_TEST(v1_and_v2_headers_become_the_remote_address)
{
    turbo_server *s = proxied_server(1, -1);
    char body[256];
    ask(s, BYTES("PROXY TCP4 203.0.113.7 10.0.0.1 51234 8000\r\n"), body, sizeof body);
    ck_assert_str_eq(body, "203.0.113.7 51234");
    ask(s, BYTES("PROXY TCP6 2001:db8::7 2001:db8::1 443 80\r\n"), body, sizeof body);
    ck_assert_str_eq(body, "2001:db8::7 443");
    ask(s, valid[6].bytes, 28, body, sizeof body);
    ck_assert_str_eq(body, "203.0.113.7 51234");
    ask(s, valid[7].bytes, 60, body, sizeof body);
    ck_assert_str_eq(body, "2001:db8::7 443");
    assert_stat(s, TURBO_STAT_BAD_REQUESTS, 0);
    stop_and_free(s);
}
END_TEST

START_TEST(local_and_unknown_keep_the_socket_peer)
{
    turbo_server *s = proxied_server(1, -1);
    const char *hdrs[] = {"PROXY UNKNOWN\r\n", SIG2 "\x20\x00\x00\x00"};
    size_t lens[] = {15, 16};
    for (int i = 0; i < 2; i++) {
        client *c = client_open(s, 10);
        response *r = response_new();
        char want[64];
        own_peer(c, want, sizeof want);
        send_bytes(c, hdrs[i], lens[i]);
        exchange(c, GET_PEER, r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_str_eq(r->body, want);
        free(r);
        client_close(c);
    }
    stop_and_free(s);
}
END_TEST

START_TEST(a_header_sent_byte_by_byte_is_assembled)
{
    turbo_server *s = proxied_server(1, -1);
    const char hdr[] = "PROXY TCP4 198.51.100.1 10.0.0.1 7 8000\r\n" GET_PEER;
    client *c = client_open(s, 10);
    response *r = response_new();
    for (size_t i = 0; i < sizeof hdr - 1; i++)
        send_bytes(c, hdr + i, 1);
    read_response(c, r);
    ck_assert_str_eq(r->body, "198.51.100.1 7");
    free(r);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(the_header_holds_for_every_request_of_the_connection)
{
    turbo_server *s = proxied_server(1, -1);
    client *c = client_open(s, 10);
    response *r = response_new();
    /* Header and two pipelined requests in one write, then a third. */
    send_str(c, "PROXY TCP4 192.0.2.9 10.0.0.1 4000 8000\r\n" GET_PEER GET_PEER);
    for (int i = 0; i < 3; i++) {
        if (i == 2)
            send_str(c, GET_PEER);
        read_response(c, r);
        ck_assert_int_eq(r->status, 200);
        ck_assert_str_eq(r->body, "192.0.2.9 4000");
    }
    free(r);
    client_close(c);
    stop_and_free(s);
}
END_TEST

/* Bytes that must be refused by a listener that wants a header: the
 * connection closes without a byte of answer, and the server serves on. */
static const struct {
    const char *name;
    const char *bytes;
    size_t len;
} refused[] = {
    {"no header", BYTES(GET_PEER)},
    {"v1 bad port", BYTES("PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n" GET_PEER)},
    {"v2 version 3", BYTES(SIG2 "\x31\x11\x00\x0c")},
    {"a second header", BYTES("PROXY UNKNOWN\r\nPROXY UNKNOWN\r\n" GET_PEER)},
};

START_TEST(a_connection_without_a_valid_header_is_closed_unanswered)
{
    turbo_server *s = proxied_server(1, -1);
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        client *c = client_open(s, 10);
        send_bytes(c, refused[i].bytes, refused[i].len);
        size_t got = read_until_eof(c);
        /* "a second header": the first is taken, the second is a request
         * line the HTTP parser refuses (400), as it would any garbage. */
        if (i == 3)
            ck_assert_msg(got > 0 && strncmp(c->buf, "HTTP/1.1 400", 12) == 0, "%s",
                          refused[i].name);
        else
            ck_assert_msg(got == 0, "%s: %zu bytes of answer", refused[i].name, got);
        client_close(c);
    }
    assert_stat(s, TURBO_STAT_BAD_REQUESTS, 4);
    char body[256];
    ask(s, BYTES("PROXY TCP4 203.0.113.8 10.0.0.1 1 2\r\n"), body, sizeof body);
    ck_assert_str_eq(body, "203.0.113.8 1");
    stop_and_free(s);
}
END_TEST

START_TEST(without_the_setting_a_header_is_a_bad_request)
{
    turbo_server *s = proxied_server(0, -1);
    client *c = client_open(s, 10);
    response *r = response_new();
    exchange(c, "PROXY TCP4 203.0.113.7 10.0.0.1 51234 8000\r\n" GET_PEER, r);
    ck_assert_int_eq(r->status, 400);
    free(r);
    client_close(c);
    char body[256], want[64];
    c = client_open(s, 10);
    own_peer(c, want, sizeof want);
    r = response_new();
    exchange(c, GET_PEER, r);
    ck_assert_str_eq(r->body, want);
    free(r);
    client_close(c);
    (void)body;
    stop_and_free(s);
}
END_TEST

START_TEST(the_access_log_shows_the_proxied_client)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    turbo_server *s = proxied_server(1, fds[1]);
    char body[256];
    ask(s, BYTES("PROXY TCP6 2001:db8::42 2001:db8::1 5 6\r\n"), body, sizeof body);
    stop_and_free(s);
    close(fds[1]);
    char line[512];
    ssize_t n = read(fds[0], line, sizeof line - 1);
    ck_assert_int_gt(n, 0);
    line[n] = '\0';
    ck_assert_msg(strncmp(line, "2001:db8::42 - - [", 18) == 0, "%s", line);
    close(fds[0]);
}
END_TEST

START_TEST(the_config_setter_checks_its_config)
{
    ck_assert_int_eq(turbo_config_set_proxy_protocol(NULL, 1), TURBO_EINVAL);
}
END_TEST

static Suite *proxy_suite(void)
{
    Suite *su = suite_create("proxy");
    TCase *tc = tcase_create("parse");
    tcase_add_loop_test(tc, valid_headers_give_their_source_and_length, 0,
                        (int)(sizeof valid / sizeof valid[0]));
    tcase_add_loop_test(tc, malformed_headers_are_refused_with_their_reason, 0,
                        (int)(sizeof bad / sizeof bad[0]));
    tcase_add_test(tc, every_error_has_its_own_description);
    tcase_add_test(tc, empty_input_needs_more);
    suite_add_tcase(su, tc);
    tc = tcase_create("live");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, v1_and_v2_headers_become_the_remote_address);
    tcase_add_test(tc, local_and_unknown_keep_the_socket_peer);
    tcase_add_test(tc, a_header_sent_byte_by_byte_is_assembled);
    tcase_add_test(tc, the_header_holds_for_every_request_of_the_connection);
    tcase_add_test(tc, a_connection_without_a_valid_header_is_closed_unanswered);
    tcase_add_test(tc, without_the_setting_a_header_is_a_bad_request);
    tcase_add_test(tc, the_access_log_shows_the_proxied_client);
    tcase_add_test(tc, the_config_setter_checks_its_config);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(proxy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
