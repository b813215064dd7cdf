/*
 * WebSocket connections, as a specification (turbo.h, "WebSocket"): the
 * handshake and its refusals, messages both ways (fragmented, large,
 * interleaved with pings), the close handshake, protocol violations and
 * their close codes on a live connection, idle pings, a stop, pause, and
 * sends from other threads through the loop. The frame reader's every
 * failure case is unit-tested in test_ws.c; here the connection around
 * it. Public ABI only.
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

/* ---- the server's side ------------------------------------------------- */

static _Atomic int closes, last_close_code, messages;
static char last_reason[128];
static _Atomic(turbo_ws *) last_ws;

static void echo_message(turbo_ws *ws, int binary, const void *data, size_t len, void *ud)
{
    (void)ud;
    atomic_fetch_add(&messages, 1);
    if (len == 5 && memcmp(data, "close", 5) == 0) {
        ck_assert_int_eq(turbo_ws_close(ws, 4000, "asked to", 8), TURBO_OK);
        ck_assert_int_eq(turbo_ws_send(ws, 0, "late", 4), TURBO_ESTATE);
        return;
    }
    if (len == 5 && memcmp(data, "pause", 5) == 0) {
        turbo_ws_pause(ws, 1);
        return;
    }
    int rc = turbo_ws_send(ws, binary, data, len);
    ck_assert(rc == TURBO_OK || rc == TURBO_FULL);
}

/* Several I/O threads may close connections at once (the broadcast
 * test): the reason is written under a lock. */
static pthread_mutex_t reason_lock = PTHREAD_MUTEX_INITIALIZER;

static void on_close(turbo_ws *ws, int code, const char *reason, size_t len, void *ud)
{
    (void)ws, (void)ud;
    ck_assert_uint_lt(len, sizeof(last_reason));
    pthread_mutex_lock(&reason_lock);
    memcpy(last_reason, reason, len);
    last_reason[len] = '\0';
    pthread_mutex_unlock(&reason_lock);
    atomic_store(&last_close_code, code);
    atomic_fetch_add(&closes, 1);
}


static int ws_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_str origin;
    if (turbo_request_header(req, "Origin", 6, &origin) == TURBO_OK &&
        !(origin.len == 14 && memcmp(origin.ptr, "http://allowed", 14) == 0)) {
        turbo_response_status(res, 403); /* the handler is the origin check */
        return TURBO_OK;
    }
    turbo_ws *ws = turbo_ws_accept(req, res, echo_message, on_close, NULL, NULL);
    atomic_store(&last_ws, ws);
    return TURBO_OK;
}

/* Accepts later, from the loop: a deferred upgrade. */
typedef struct later {
    turbo_deferred *d;
} later;

static void accept_later(void *ud)
{
    later *l = ud;
    turbo_ws *ws = turbo_ws_accept(turbo_deferred_request(l->d), turbo_deferred_response(l->d),
                                   echo_message, on_close, NULL, "chat");
    ck_assert_ptr_nonnull(ws);
    atomic_store(&last_ws, ws);
    turbo_deferred_finish(l->d);
    free(l);
}

static int ws_deferred_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    later *l = malloc(sizeof(*l));
    l->d = turbo_defer(req, res);
    if (l->d == NULL)
        return TURBO_ENOMEM;
    turbo_loop_timer(turbo_request_loop(req), 20, accept_later, l);
    return TURBO_DEFER;
}

static int fast(turbo_request *req, turbo_response *res, void *ud)
{
    (void)req, (void)ud;
    return turbo_response_body(res, "fast", 4);
}

static const test_route routes[] = {
    {"GET", "/ws", ws_route},
    {"GET", "/later", ws_deferred_route},
    {"GET", "/fast", fast},
    {NULL, NULL, NULL},
};

static turbo_server *start(turbo_config *cfg)
{
    atomic_store(&closes, 0);
    atomic_store(&last_close_code, 0);
    atomic_store(&messages, 0);
    atomic_store(&last_ws, NULL);
    last_reason[0] = '\0';
    return server_started(cfg, routes);
}

static void wait_closes(int n)
{
    uint64_t end = now_ms() + 10000;
    while (atomic_load(&closes) < n && now_ms() < end)
        sleep_ms(1);
    ck_assert_int_eq(atomic_load(&closes), n);
}

/* ---- the client's side: masked frames ----------------------------------- */

#define SAMPLE_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define SAMPLE_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static void send_frame(client *c, int fin, int opcode, const void *data, size_t len, int masked)
{
    unsigned char *f = malloc(len + 14);
    size_t n = 0;
    f[n++] = (unsigned char)((fin ? 0x80 : 0) | opcode);
    unsigned char m = masked ? 0x80 : 0;
    if (len < 126) {
        f[n++] = (unsigned char)(m | len);
    } else if (len < 65536) {
        f[n++] = m | 126;
        f[n++] = (unsigned char)(len >> 8);
        f[n++] = (unsigned char)len;
    } else {
        f[n++] = m | 127;
        for (int i = 7; i >= 0; i--)
            f[n++] = (unsigned char)((uint64_t)len >> (8 * i));
    }
    const unsigned char key[4] = {0x37, 0xfa, 0x21, 0x3d};
    if (masked) {
        memcpy(f + n, key, 4);
        n += 4;
    }
    for (size_t i = 0; i < len; i++)
        f[n + i] = ((const unsigned char *)data)[i] ^ (masked ? key[i % 4] : 0);
    send_bytes(c, f, n + len);
    free(f);
}

typedef struct frame {
    int fin, opcode;
    size_t len;
    char data[70000];
} frame;

/* Reads one server frame: never masked. */
static void read_frame(client *c, frame *fr)
{
    ck_assert_msg(client_wait(c, 2) > 0, "no frame: EOF");
    unsigned char b0 = (unsigned char)c->buf[0], b1 = (unsigned char)c->buf[1];
    ck_assert_msg((b1 & 0x80) == 0, "a server frame is masked");
    ck_assert_msg((b0 & 0x70) == 0, "RSV bits set");
    size_t hl = 2;
    uint64_t len = b1 & 0x7f;
    if (len == 126) {
        ck_assert_int_gt(client_wait(c, 4), 0);
        len = ((size_t)(unsigned char)c->buf[2] << 8) | (unsigned char)c->buf[3];
        hl = 4;
    } else if (len == 127) {
        ck_assert_int_gt(client_wait(c, 10), 0);
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | (unsigned char)c->buf[2 + i];
        hl = 10;
    }
    ck_assert_uint_le(len, sizeof(fr->data) - 1);
    ck_assert_int_gt(client_wait(c, hl + len), 0);
    fr->fin = b0 >> 7;
    fr->opcode = b0 & 0x0f;
    fr->len = (size_t)len;
    memcpy(fr->data, c->buf + hl, len);
    fr->data[len] = '\0';
    client_consume(c, hl + (size_t)len);
}

static void expect_frame(client *c, int opcode, const char *data, size_t len)
{
    frame *fr = malloc(sizeof(*fr));
    read_frame(c, fr);
    ck_assert_int_eq(fr->fin, 1);
    ck_assert_int_eq(fr->opcode, opcode);
    ck_assert_uint_eq(fr->len, len);
    ck_assert(memcmp(fr->data, data, len) == 0);
    free(fr);
}

static void expect_close(client *c, unsigned code)
{
    frame *fr = malloc(sizeof(*fr));
    read_frame(c, fr);
    ck_assert_int_eq(fr->opcode, 8);
    if (code == 0) {
        ck_assert_uint_eq(fr->len, 0);
    } else {
        ck_assert_uint_ge(fr->len, 2);
        ck_assert_uint_eq(((unsigned)(unsigned char)fr->data[0] << 8) | (unsigned char)fr->data[1],
                          code);
    }
    free(fr);
}

static client *ws_open_client(turbo_server *s, const char *path, const char *extra)
{
    client *c = client_open(s, 10);
    char req[1024];
    snprintf(req, sizeof(req),
             "GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n"
             "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n%s\r\n",
             path, extra != NULL ? extra : "");
    send_str(c, req);
    char head[2048];
    read_head(c, head, sizeof(head), "101");
    ck_assert_msg(strncmp(head, "HTTP/1.1 101 Switching Protocols\r\n", 34) == 0, "%s", head);
    ck_assert(strstr(head, "\r\nSec-WebSocket-Accept: " SAMPLE_ACCEPT "\r\n") != NULL);
    ck_assert(strstr(head, "\r\nUpgrade: websocket\r\n") != NULL);
    ck_assert(strstr(head, "\r\nConnection: Upgrade\r\n") != NULL);
    ck_assert(strstr(head, "Content-Length") == NULL);
    return c;
}

/* ---- the handshake ------------------------------------------------------- */

static void refused(turbo_server *s, const char *request, int status)
{
    client *c = client_open(s, 10);
    send_str(c, request);
    response *r = response_new();
    read_response(c, r);
    ck_assert_msg(r->status == status, "%d for %s", r->status, request);
    if (status == 426)
        ck_assert_str_eq(header(r, "Sec-WebSocket-Version"), "13");
    free(r);
    /* The connection goes on serving HTTP. */
    send_str(c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
    r = response_new();
    read_response(c, r);
    ck_assert_str_eq(r->body, "fast");
    free(r);
    client_close(c);
}

START_TEST(a_bad_handshake_is_refused_and_http_goes_on)
{
    turbo_server *s = start(config_with_threads(1));
    refused(s, "GET /ws HTTP/1.1\r\nHost: t\r\n\r\n", 400); /* no Upgrade */
    refused(s, "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n", 400); /* no key */
    refused(s, "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
               "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n", 400); /* 5 bytes */
    refused(s, "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
               "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 8\r\n\r\n", 426);
    refused(s, "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
               "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n", 400);
    refused(s, "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
               "Origin: http://evil\r\nSec-WebSocket-Key: " SAMPLE_KEY
               "\r\nSec-WebSocket-Version: 13\r\n\r\n", 403);
    ck_assert_int_eq(atomic_load(&closes), 0); /* none was accepted */
    stop_and_free(s);
}
END_TEST

/* ---- messages -------------------------------------------------------------- */

START_TEST(messages_are_echoed_whole_and_pings_answered)
{
    turbo_server *s = start(config_with_threads(2));
    client *c = ws_open_client(s, "/ws", "Origin: http://allowed\r\n");
    send_frame(c, 1, 1, "hello", 5, 1);
    expect_frame(c, 1, "hello", 5);
    send_frame(c, 1, 2, "\x00\x01\xff", 3, 1);
    expect_frame(c, 2, "\x00\x01\xff", 3);
    /* Fragmented, with a ping between the fragments, UTF-8 cut across
     * them (é is C3 A9). */
    send_frame(c, 0, 1, "caf\xc3", 4, 1);
    send_frame(c, 1, 9, "are you there", 13, 1);
    send_frame(c, 0, 0, "\xa9 ", 2, 1);
    send_frame(c, 1, 0, "au lait", 7, 1);
    expect_frame(c, 10, "are you there", 13); /* the pong first */
    expect_frame(c, 1, "caf\xc3\xa9 au lait", 13);
    /* 64 KiB and more: the 64-bit length. */
    static char big[69999];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    send_frame(c, 1, 2, big, sizeof(big), 1);
    expect_frame(c, 2, big, sizeof(big));
    /* An empty message. */
    send_frame(c, 1, 1, "", 0, 1);
    expect_frame(c, 1, "", 0);
    ck_assert_int_eq(atomic_load(&messages), 5);
    /* The client closes: the server echoes its code and ends TCP. */
    send_frame(c, 1, 8, "\x03\xe8" "bye", 5, 1);
    expect_close(c, 1000);
    ck_assert_uint_eq(read_until_eof(c), 0);
    client_close(c);
    wait_closes(1);
    ck_assert_int_eq(atomic_load(&last_close_code), 1000);
    ck_assert_str_eq(last_reason, "bye");
    stop_and_free(s);
}
END_TEST

START_TEST(frames_sent_with_the_handshake_are_read_after_it)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    /* The request and a first frame in one write. */
    static const unsigned char frame_hi[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    memcpy(req + n, frame_hi, sizeof(frame_hi));
    send_bytes(c, req, (size_t)n + sizeof(frame_hi));
    char head[2048];
    read_head(c, head, sizeof(head), "101");
    expect_frame(c, 1, "hi", 2);
    send_frame(c, 1, 8, "", 0, 1); /* a close without a code */
    expect_close(c, 0);
    wait_closes(1);
    ck_assert_int_eq(atomic_load(&last_close_code), 1005);
    client_close(c);
    stop_and_free(s);
}
END_TEST

START_TEST(an_upgrade_accepted_later_by_the_holder)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = client_open(s, 10);
    static const unsigned char frame_hi[] = {0x81, 0x82, 1, 2, 3, 4, 'h' ^ 1, 'i' ^ 2};
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET /later HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: " SAMPLE_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n");
    memcpy(req + n, frame_hi, sizeof(frame_hi));
    send_bytes(c, req, (size_t)n + sizeof(frame_hi));
    char head[2048];
    read_head(c, head, sizeof(head), "101 later");
    ck_assert(strstr(head, "\r\nSec-WebSocket-Protocol: chat\r\n") != NULL);
    /* The frame that came before the 101 was kept for after it. */
    expect_frame(c, 1, "hi", 2);
    send_frame(c, 1, 1, "close", 5, 1); /* the server closes: 4000 */
    expect_close(c, 4000);
    send_frame(c, 1, 8, "\x0f\xa0", 2, 1); /* the client's answer */
    ck_assert_uint_eq(read_until_eof(c), 0);
    client_close(c);
    wait_closes(1);
    ck_assert_int_eq(atomic_load(&last_close_code), 4000);
    ck_assert_str_eq(last_reason, "asked to");
    stop_and_free(s);
}
END_TEST

/* ---- violations on a live connection ------------------------------------- */

static void violation(const void *bytes, size_t len, unsigned code)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_ws(cfg, 1000, 30000, 10000), TURBO_OK);
    turbo_server *s = start(cfg);
    client *c = ws_open_client(s, "/ws", NULL);
    send_bytes(c, bytes, len);
    expect_close(c, code);
    ck_assert_uint_eq(read_until_eof(c), 0);
    client_close(c);
    wait_closes(1);
    ck_assert_int_eq(atomic_load(&last_close_code), (int)code);
    ck_assert_int_eq(atomic_load(&messages), 0);
    stop_and_free(s);
}

START_TEST(violations_close_with_the_rfc_code)
{
    static const unsigned char unmasked[] = {0x81, 0x02, 'h', 'i'};
    violation(unmasked, sizeof(unmasked), 1002);
    static const unsigned char rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
    violation(rsv, sizeof(rsv), 1002);
    static const unsigned char opcode3[] = {0x83, 0x80, 0, 0, 0, 0};
    violation(opcode3, sizeof(opcode3), 1002);
    static const unsigned char bad_utf8[] = {0x81, 0x82, 0, 0, 0, 0, 0xc3, 0x28};
    violation(bad_utf8, sizeof(bad_utf8), 1007);
    /* Over the 1000-byte limit set above, known from the header. */
    static const unsigned char too_big[] = {0x82, 0xfe, 0x03, 0xe9, 0, 0, 0, 0};
    violation(too_big, sizeof(too_big), 1009);
    static const unsigned char bad_close[] = {0x88, 0x82, 0, 0, 0, 0, 0x03, 0xed}; /* 1005 */
    violation(bad_close, sizeof(bad_close), 1002);
}
END_TEST

/* ---- time, stop, flow ------------------------------------------------------ */

START_TEST(an_idle_connection_is_pinged_and_closed_when_silent)
{
    turbo_config *cfg = config_with_threads(1);
    ck_assert_int_eq(turbo_config_set_ws(cfg, 1 << 20, 100, 100), TURBO_OK);
    turbo_server *s = start(cfg);
    client *c = ws_open_client(s, "/ws", NULL);
    frame *fr = malloc(sizeof(*fr));
    read_frame(c, fr); /* a ping after ~100 ms of silence */
    ck_assert_int_eq(fr->opcode, 9);
    send_frame(c, 1, 10, fr->data, fr->len, 1); /* pong: alive */
    read_frame(c, fr); /* the next ping */
    ck_assert_int_eq(fr->opcode, 9);
    free(fr);
    /* No answer now: the connection is closed, reported as 1011. */
    read_until_eof(c);
    client_close(c);
    wait_closes(1);
    ck_assert_int_eq(atomic_load(&last_close_code), 1011);
    stop_and_free(s);
}
END_TEST

START_TEST(a_stop_says_going_away)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = ws_open_client(s, "/ws", NULL);
    send_frame(c, 1, 1, "x", 1, 1);
    expect_frame(c, 1, "x", 1);
    turbo_server_stop(s);
    expect_close(c, 1001);
    read_until_eof(c);
    ck_assert_int_eq(turbo_server_wait(s), TURBO_OK);
    ck_assert_int_eq(atomic_load(&closes), 1);
    ck_assert_int_eq(atomic_load(&last_close_code), 1001);
    client_close(c);
    turbo_server_free(s);
}
END_TEST

static void resume(void *ud)
{
    turbo_ws_pause(ud, 0);
}

START_TEST(a_paused_connection_reads_nothing_until_resumed)
{
    turbo_server *s = start(config_with_threads(1));
    client *c = ws_open_client(s, "/ws", NULL);
    send_frame(c, 1, 1, "pause", 5, 1);
    send_frame(c, 1, 1, "after", 5, 1);
    sleep_ms(50);
    ck_assert_int_eq(atomic_load(&messages), 1); /* "after" waits */
    turbo_ws *ws = atomic_load(&last_ws);
    ck_assert_int_eq(turbo_loop_post(turbo_ws_loop(ws), resume, ws), TURBO_OK);
    expect_frame(c, 1, "after", 5);
    ck_assert_int_eq(atomic_load(&messages), 2);
    client_close(c);
    wait_closes(1);
    ck_assert_int_eq(atomic_load(&last_close_code), 1006); /* no close frame */
    stop_and_free(s);
}
END_TEST

/* ---- broadcast from another thread (TSan) -------------------------------- */

#define CONNS 32
#define ROUNDS 200

static turbo_ws *peers[CONNS];
static _Atomic int nslots, npeers; /* slot taken; slot filled (published) */

static void register_peer(turbo_ws *ws, int binary, const void *data, size_t len, void *ud)
{
    (void)binary, (void)data, (void)len, (void)ud;
    peers[atomic_fetch_add(&nslots, 1)] = ws;
    atomic_fetch_add(&npeers, 1); /* after the store: the reader's load sees it */
}


static int peer_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_ws_accept(req, res, register_peer, on_close, NULL, NULL);
    return TURBO_OK;
}

typedef struct shout {
    turbo_ws *ws;
    int round;
} shout;

static void send_round(void *ud)
{
    shout *m = ud;
    char text[16];
    int n = snprintf(text, sizeof(text), "%d", m->round);
    int rc = turbo_ws_send(m->ws, 0, text, (size_t)n);
    ck_assert(rc == TURBO_OK || rc == TURBO_FULL);
    free(m);
}

START_TEST(a_broadcast_from_another_thread_reaches_every_peer_in_order)
{
    atomic_store(&npeers, 0);
    atomic_store(&nslots, 0);
    turbo_server *s = server_listening(config_with_threads(2));
    ck_assert_int_eq(turbo_route_add(s, "GET", "/peer", peer_route, NULL), TURBO_OK);
    ck_assert_int_eq(turbo_server_start(s), TURBO_OK);
    atomic_store(&closes, 0);
    client *cs[CONNS];
    for (int k = 0; k < CONNS; k++) {
        cs[k] = ws_open_client(s, "/peer", NULL);
        send_frame(cs[k], 1, 1, "hi", 2, 1);
    }
    uint64_t end = now_ms() + 10000;
    while (atomic_load(&npeers) < CONNS && now_ms() < end)
        sleep_ms(1);
    ck_assert_int_eq(atomic_load(&npeers), CONNS);
    /* This thread is nobody's I/O thread: every send goes by post. */
    ck_assert_int_eq(turbo_ws_send(peers[0], 0, "x", 1), TURBO_ESTATE);
    for (int r = 0; r < ROUNDS; r++)
        for (int k = 0; k < CONNS; k++) {
            shout *m = malloc(sizeof(*m));
            m->ws = peers[k];
            m->round = r;
            ck_assert_int_eq(turbo_loop_post(turbo_ws_loop(peers[k]), send_round, m), TURBO_OK);
        }
    for (int k = 0; k < CONNS; k++)
        for (int r = 0; r < ROUNDS; r++) {
            char text[16];
            int n = snprintf(text, sizeof(text), "%d", r);
            expect_frame(cs[k], 1, text, (size_t)n);
        }
    for (int k = 0; k < CONNS; k++)
        client_close(cs[k]);
    wait_closes(CONNS);
    stop_and_free(s);
}
END_TEST

Suite *websocket_suite(void)
{
    Suite *s = suite_create("websocket");
    TCase *tc = tcase_create("protocol");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, a_bad_handshake_is_refused_and_http_goes_on);
    tcase_add_test(tc, messages_are_echoed_whole_and_pings_answered);
    tcase_add_test(tc, frames_sent_with_the_handshake_are_read_after_it);
    tcase_add_test(tc, an_upgrade_accepted_later_by_the_holder);
    tcase_add_test(tc, violations_close_with_the_rfc_code);
    suite_add_tcase(s, tc);
    tc = tcase_create("life");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, an_idle_connection_is_pinged_and_closed_when_silent);
    tcase_add_test(tc, a_stop_says_going_away);
    tcase_add_test(tc, a_paused_connection_reads_nothing_until_resumed);
    tcase_add_test(tc, a_broadcast_from_another_thread_reaches_every_peer_in_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(websocket_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
