/*
 * Trusted proxies' X-Forwarded-For and Forwarded (forwarded.h,
 * turbo_config_set_forwarded): the trust list, the right-to-left walk
 * and every refusal; then live servers whose handler reports the remote
 * address it sees.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <turbo/turbo.h>

#include "forwarded.h"
#include "http_client.h"
#include "test_support.h"

/* ---- the trust list --------------------------------------------------- */

static turbo__trust trust_of(const char *list)
{
    turbo__trust t;
    int r = turbo__trust_parse(list, strlen(list), &t);
    ck_assert_msg(r == 0, "%s: %s", list, turbo__forwarded_strerror(r));
    return t;
}

static int trusts(const turbo__trust *t, const char *addr)
{
    uint8_t bin[16];
    if (inet_pton(AF_INET, addr, bin) == 1)
        return turbo__trust_has(t, 4, bin);
    ck_assert_int_eq(inet_pton(AF_INET6, addr, bin), 1);
    return turbo__trust_has(t, 6, bin);
}

START_TEST(trust_lists_match_addresses_networks_and_star)
{
    turbo__trust t = trust_of(" 127.0.0.1 , 10.0.0.0/8,192.168.1.128/25, fd00::/8, ::1");
    ck_assert_uint_eq(t.n, 5);
    ck_assert(trusts(&t, "127.0.0.1"));
    ck_assert(!trusts(&t, "127.0.0.2"));
    ck_assert(trusts(&t, "10.255.0.1"));
    ck_assert(!trusts(&t, "11.0.0.1"));
    ck_assert(trusts(&t, "192.168.1.200"));
    ck_assert(!trusts(&t, "192.168.1.127"));
    ck_assert(trusts(&t, "fd12::5"));
    ck_assert(!trusts(&t, "fe80::1"));
    ck_assert(trusts(&t, "::1"));
    ck_assert(trusts(&t, "::ffff:10.1.2.3")); /* an IPv4 peer of a dual-stack socket */
    ck_assert(!trusts(&t, "::ffff:11.1.2.3"));
    turbo__trust all = trust_of("*");
    ck_assert(trusts(&all, "203.0.113.1") && trusts(&all, "2001:db8::1"));
    turbo__trust none = trust_of("");
    ck_assert(!trusts(&none, "127.0.0.1"));
    turbo__trust zero = trust_of("0.0.0.0/0");
    ck_assert(trusts(&zero, "1.2.3.4") && !trusts(&zero, "::1"));
}
END_TEST

static const struct {
    const char *list;
    int error;
} bad_lists[] = {
    {"localhost", TURBO__FWD_ENTRY},   {"1.2.3", TURBO__FWD_ENTRY},
    {"1.2.3.4/", TURBO__FWD_ENTRY},    {"1.2.3.4/x", TURBO__FWD_ENTRY},
    {"1.2.3.4/08", TURBO__FWD_ENTRY},  {"1.2.3.4/1000", TURBO__FWD_ENTRY},
    {"1.2.3.4,,5.6.7.8", TURBO__FWD_ENTRY}, {",1.2.3.4", TURBO__FWD_ENTRY},
    {"1.2.3.4,", TURBO__FWD_ENTRY},    {"**", TURBO__FWD_ENTRY},
    {"1.2.3.4/33", TURBO__FWD_PREFIX}, {"::1/129", TURBO__FWD_PREFIX},
    {"1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,"
     "32,33",
     TURBO__FWD_ENTRY},
};

START_TEST(malformed_trust_lists_are_refused_with_their_reason)
{
    turbo__trust t;
    int r = turbo__trust_parse(bad_lists[_i].list, strlen(bad_lists[_i].list), &t);
    ck_assert_msg(r == bad_lists[_i].error, "%s: %d (%s)", bad_lists[_i].list, r,
                  turbo__forwarded_strerror(r));
}
END_TEST

START_TEST(a_trust_list_holds_32_entries)
{
    char list[1024] = "";
    for (int i = 0; i < 33; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s10.0.0.%d", i ? "," : "", i);
    turbo__trust t;
    ck_assert_int_eq(turbo__trust_parse(list, strlen(list), &t), TURBO__FWD_TOOMANY);
    *strrchr(list, ',') = '\0';
    ck_assert_int_eq(turbo__trust_parse(list, strlen(list), &t), 0);
    ck_assert_uint_eq(t.n, 32);
}
END_TEST

/* ---- the walk --------------------------------------------------------- */

/* Walks the lines (the last first) with trust "10.0.0.0/8, ::1"; returns
 * the result and the client as "ADDR PORT" (or the error's text). */
static int walk(int kind, const char *const *lines, int nlines, char *out, size_t cap)
{
    turbo__trust t = trust_of("10.0.0.0/8, ::1");
    turbo__fwd_walk w;
    memset(&w, 0, sizeof w);
    turbo__fwd_client c;
    int r = 0;
    for (int i = nlines; i-- > 0 && r == 0;)
        r = turbo__fwd_walk_line(lines[i], strlen(lines[i]), kind, &t, &w, &c);
    if (r == 0 && w.have_leftmost)
        c = w.leftmost;
    if (r < 0 || (r == 0 && !w.have_leftmost)) {
        snprintf(out, cap, "%s", r < 0 ? turbo__forwarded_strerror(r) : "none");
        return r;
    }
    char text[INET6_ADDRSTRLEN];
    inet_ntop(c.family == 4 ? AF_INET : AF_INET6, c.addr, text, sizeof text);
    snprintf(out, cap, "%s %u", text, c.port);
    return r;
}

typedef struct walk_case {
    int kind;
    const char *lines[3];
    const char *want; /* "ADDR PORT", or an error's text */
} walk_case;

#define XFF TURBO__FWD_XFF
#define FWD TURBO__FWD_RFC7239

static const walk_case walks[] = {
    /* X-Forwarded-For */
    {XFF, {"203.0.113.7"}, "203.0.113.7 0"},
    {XFF, {"203.0.113.7, 10.0.0.2"}, "203.0.113.7 0"},
    {XFF, {"1.1.1.1, 203.0.113.7,10.0.0.2 ,10.0.0.3"}, "203.0.113.7 0"}, /* spoofed left */
    {XFF, {"10.0.0.9, 10.0.0.2"}, "10.0.0.9 0"},                       /* all trusted */
    {XFF, {"2001:db8::7"}, "2001:db8::7 0"},
    {XFF, {"[2001:db8::7]:443, ::1"}, "2001:db8::7 443"},
    {XFF, {"203.0.113.7:8080"}, "203.0.113.7 8080"},
    {XFF, {"203.0.113.7", "10.0.0.2"}, "203.0.113.7 0"},               /* two lines */
    {XFF, {"garbage", "203.0.113.7"}, "203.0.113.7 0"},                /* not reached */
    {XFF, {"unknown, 10.0.0.2"}, "forwarded node is no IP address"},
    {XFF, {"203.0.113.7,"}, "malformed forwarded header"},
    {XFF, {"203.0.113.7,,10.0.0.1"}, "malformed forwarded header"},
    {XFF, {""}, "malformed forwarded header"},
    {XFF, {"203.0.113.7:99999"}, "forwarded node is no IP address"},
    {XFF, {"[2001:db8::7"}, "malformed forwarded header"},
    {XFF, {"[1.2.3.4]"}, "forwarded node is no IP address"},
    {XFF, {"[2001:db8::7]x"}, "forwarded node is no IP address"},
    {XFF, {"2001:db8::7:80:1:1:1:1:1"}, "forwarded node is no IP address"},
    /* Forwarded */
    {FWD, {"for=203.0.113.7"}, "203.0.113.7 0"},
    {FWD, {"For=\"[2001:db8::7]:4711\";proto=https;by=10.0.0.1"}, "2001:db8::7 4711"},
    {FWD, {"for=1.1.1.1, for=203.0.113.7;host=\"a,b\", for=10.0.0.2"}, "203.0.113.7 0"},
    {FWD, {"for=\"203.0.113.7:80\""}, "203.0.113.7 80"},
    {FWD, {"for=\"\\[::1\\]\""}, "::1 0"},                              /* quoted-pairs */
    {FWD, {"for=10.0.0.3;proto=http", "for=10.0.0.2"}, "10.0.0.3 0"},   /* all trusted */
    {FWD, {"for=unknown"}, "forwarded node is no IP address"},
    {FWD, {"for=_hidden, for=10.0.0.2"}, "forwarded node is no IP address"},
    {FWD, {"for=\"[2001:db8::7]:_port\""}, "forwarded node is no IP address"},
    {FWD, {"for=2001:db8::7"}, "malformed forwarded header"}, /* ':' is no tchar */
    {FWD, {"for=\"2001:db8::7\""}, "forwarded node is no IP address"}, /* unbracketed */
    {FWD, {"proto=https"}, "forwarded element without for="},
    {FWD, {"for=203.0.113.7;for=1.2.3.4"}, "malformed forwarded header"},
    {FWD, {"for=\"203.0.113.7"}, "malformed forwarded header"},
    {FWD, {"for"}, "malformed forwarded header"},
    {FWD, {"for="}, "malformed forwarded header"},
    {FWD, {"for=1.2.3.4,"}, "malformed forwarded header"},
    {FWD, {"for=1.2.3.4 x"}, "malformed forwarded header"},
    {FWD, {"for=\"a\x01\""}, "malformed forwarded header"},
    {FWD, {"for=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\""},
     "malformed forwarded header"},
};

START_TEST(walks_find_the_client_or_refuse_the_header)
{
    const walk_case *c = &walks[_i];
    int n = 0;
    while (n < 3 && c->lines[n] != NULL)
        n++;
    char got[128];
    walk(c->kind, c->lines, n, got, sizeof got);
    ck_assert_msg(strcmp(got, c->want) == 0, "case %d (%s): %s, not %s", _i, c->lines[0], got,
                  c->want);
}
END_TEST

START_TEST(more_than_64_hops_in_a_line_are_refused)
{
    char line[64 * 12 + 16] = "";
    for (int i = 0; i < 65; i++)
        strcat(line, i ? ",10.0.0.1" : "10.0.0.1");
    const char *lines[1] = {line};
    char got[128];
    ck_assert_int_eq(walk(XFF, lines, 1, got, sizeof got), TURBO__FWD_TOOMANY);
    char fwd[65 * 14 + 16] = "";
    for (int i = 0; i < 65; i++)
        strcat(fwd, i ? ",for=10.0.0.1" : "for=10.0.0.1");
    lines[0] = fwd;
    ck_assert_int_eq(walk(FWD, lines, 1, got, sizeof got), TURBO__FWD_TOOMANY);
}
END_TEST

/* ---- live servers ----------------------------------------------------- */

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

static turbo_server *server_trusting(const char *allow, int header, int proxy)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_forwarded(cfg, allow, header), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_proxy_protocol(cfg, proxy), TURBO_OK);
    return server_started(cfg, routes);
}

/* One request with extra header lines (and an optional PROXY header
 * first); the body the server answered. */
static void ask(turbo_server *s, const char *proxy, const char *fields, char *out, size_t cap)
{
    client *c = client_open(s, 10);
    response *r = response_new();
    char req[1024];
    snprintf(req, sizeof req, "%sGET /peer HTTP/1.1\r\nHost: x\r\n%s\r\n", proxy, fields);
    exchange(c, req, r);
    ck_assert_int_eq(r->status, 200);
    ck_assert_uint_lt(r->body_len, cap);
    memcpy(out, r->body, r->body_len + 1);
    free(r);
    client_close(c);
}

static void own_addr_prefix(char *out, size_t cap)
{
    snprintf(out, cap, "127.0.0.1 ");
}

START_TEST(a_trusted_peer_names_the_client)
{
    turbo_server *s = server_trusting("127.0.0.1", TURBO_FORWARDED_X_FORWARDED_FOR, 0);
    char body[256];
    ask(s, "", "X-Forwarded-For: 1.1.1.1, 203.0.113.7\r\n", body, sizeof body);
    ck_assert_str_eq(body, "203.0.113.7 0");
    ask(s, "", "x-forwarded-for: 1.1.1.1\r\nX-Forwarded-For: 198.51.100.2\r\n", body, sizeof body);
    ck_assert_str_eq(body, "198.51.100.2 0");
    /* Forwarded is not the header this server trusts: ignored. */
    char prefix[32];
    own_addr_prefix(prefix, sizeof prefix);
    ask(s, "", "Forwarded: for=203.0.113.9\r\n", body, sizeof body);
    ck_assert_msg(strncmp(body, prefix, strlen(prefix)) == 0 && strcmp(body, "127.0.0.1 0") != 0,
                  "%s", body);
    /* A header that cannot be believed: the peer stands, and is served. */
    ask(s, "", "X-Forwarded-For: unknown\r\n", body, sizeof body);
    ck_assert_msg(strncmp(body, prefix, strlen(prefix)) == 0, "%s", body);
    stop_and_free(s);
}
END_TEST

START_TEST(an_untrusted_peer_is_not_believed)
{
    turbo_server *s = server_trusting("10.0.0.0/8", TURBO_FORWARDED_X_FORWARDED_FOR, 0);
    char body[256], prefix[32];
    own_addr_prefix(prefix, sizeof prefix);
    ask(s, "", "X-Forwarded-For: 203.0.113.7\r\n", body, sizeof body);
    ck_assert_msg(strncmp(body, prefix, strlen(prefix)) == 0, "%s", body);
    stop_and_free(s);
}
END_TEST

START_TEST(forwarded_gives_the_client_and_its_port)
{
    turbo_server *s = server_trusting("127.0.0.0/8, ::1", TURBO_FORWARDED_RFC7239, 0);
    char body[256];
    ask(s, "", "Forwarded: for=\"[2001:db8::7]:4711\";proto=https\r\n", body, sizeof body);
    ck_assert_str_eq(body, "2001:db8::7 4711");
    stop_and_free(s);
}
END_TEST

START_TEST(the_proxy_protocol_peer_is_the_one_trusted)
{
    /* HAProxy at 10.1.2.3 (as its PROXY header says) is trusted; the
     * socket's 127.0.0.1 is not in the list. */
    turbo_server *s = server_trusting("10.0.0.0/8", TURBO_FORWARDED_X_FORWARDED_FOR, 1);
    char body[256];
    ask(s, "PROXY TCP4 10.1.2.3 10.0.0.1 5000 80\r\n", "X-Forwarded-For: 203.0.113.7\r\n", body,
        sizeof body);
    ck_assert_str_eq(body, "203.0.113.7 0");
    ask(s, "PROXY TCP4 192.0.2.1 10.0.0.1 5000 80\r\n", "X-Forwarded-For: 203.0.113.7\r\n", body,
        sizeof body);
    ck_assert_str_eq(body, "192.0.2.1 5000");
    stop_and_free(s);
}
END_TEST

START_TEST(the_setter_checks_its_arguments)
{
    turbo_config *cfg = turbo_config_new();
    ck_assert_int_eq(turbo_config_set_forwarded(NULL, "*", 1), TURBO_EINVAL);
    ck_assert_int_eq(turbo_config_set_forwarded(cfg, "localhost", 1), TURBO_EINVAL);
    ck_assert_int_eq(turbo_config_set_forwarded(cfg, "*", 3), TURBO_EINVAL);
    char list[1024] = "";
    for (int i = 0; i < 33; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s10.0.0.%d", i ? "," : "", i);
    ck_assert_int_eq(turbo_config_set_forwarded(cfg, list, 1), TURBO_ERANGE);
    ck_assert_int_eq(turbo_config_set_forwarded(cfg, "*", TURBO_FORWARDED_RFC7239), TURBO_OK);
    ck_assert_int_eq(turbo_config_set_forwarded(cfg, NULL, 0), TURBO_OK);
    turbo_config_free(cfg);
}
END_TEST

static Suite *forwarded_suite(void)
{
    Suite *su = suite_create("forwarded");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, trust_lists_match_addresses_networks_and_star);
    tcase_add_loop_test(tc, malformed_trust_lists_are_refused_with_their_reason, 0,
                        (int)(sizeof bad_lists / sizeof bad_lists[0]));
    tcase_add_test(tc, a_trust_list_holds_32_entries);
    tcase_add_loop_test(tc, walks_find_the_client_or_refuse_the_header, 0,
                        (int)(sizeof walks / sizeof walks[0]));
    tcase_add_test(tc, more_than_64_hops_in_a_line_are_refused);
    suite_add_tcase(su, tc);
    tc = tcase_create("live");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, a_trusted_peer_names_the_client);
    tcase_add_test(tc, an_untrusted_peer_is_not_believed);
    tcase_add_test(tc, forwarded_gives_the_client_and_its_port);
    tcase_add_test(tc, the_proxy_protocol_peer_is_the_one_trusted);
    tcase_add_test(tc, the_setter_checks_its_arguments);
    suite_add_tcase(su, tc);
    return su;
}

int main(void)
{
    SRunner *sr = srunner_create(forwarded_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
