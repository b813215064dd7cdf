/*
 * The libturbo C server of bench/ws.sh, on the public API:
 *
 *   GET  /ws       a WebSocket that echoes every message as it came;
 *   GET  /sse      a text/event-stream subscription (a streamed deferred
 *                  response, filed in its I/O thread's list until the
 *                  client leaves);
 *   GET  /ws/sub   a WebSocket subscriber (filed like /sse's);
 *   POST /publish  one event, "data: <32 bytes>\n\n", written to every
 *                  SSE subscriber, and its 32 bytes as a text message to
 *                  every WebSocket subscriber, each on its own I/O thread
 *                  (a job posted to each thread's loop); answered with the
 *                  number of subscribers once every job has run.
 *
 *   ws-server PORT [THREADS=1]
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <turbo/turbo.h>

#define EVENT "data: 0123456789abcdef0123456789abcdef\n\n"

static void echo(turbo_ws *ws, int binary, const void *data, size_t len, void *ud)
{
    (void)ud;
    turbo_ws_send(ws, binary, data, len); /* TURBO_FULL: queued all the same */
}

static int ws_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    turbo_ws_accept(req, res, echo, NULL, NULL, NULL); /* NULL: its 400 or 426 goes */
    return TURBO_OK;
}

/* ---- SSE: one subscriber list per I/O thread, touched by it alone ----- */

typedef struct subs {
    turbo_deferred **d; /* SSE subscribers */
    size_t n, cap;
    turbo_ws **ws; /* WebSocket subscribers */
    size_t nws, capws;
} subs;

static pthread_mutex_t loops_lock = PTHREAD_MUTEX_INITIALIZER;
static turbo_loop *loops[256];
static size_t nloops;

static subs *thread_subs(turbo_loop *l)
{
    subs *s = turbo_loop_data(l);
    if (s != NULL)
        return s;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    turbo_loop_set_data(l, s);
    pthread_mutex_lock(&loops_lock);
    loops[nloops++] = l;
    pthread_mutex_unlock(&loops_lock);
    return s;
}

/* The client left: off the list (swap with the last), and released. */
static void unsubscribe(turbo_deferred *d, void *ud)
{
    subs *s = ud;
    for (size_t i = 0; i < s->n; i++)
        if (s->d[i] == d) {
            s->d[i] = s->d[--s->n];
            break;
        }
    turbo_deferred_finish(d);
}

static int sse_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    subs *s = thread_subs(turbo_request_loop(req));
    if (s == NULL)
        return TURBO_ENOMEM;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        turbo_deferred **grown = realloc(s->d, cap * sizeof(*grown));
        if (grown == NULL)
            return TURBO_ENOMEM;
        s->d = grown;
        s->cap = cap;
    }
    turbo_deferred *d = turbo_defer(req, res);
    if (d == NULL)
        return TURBO_ENOMEM;
    turbo_deferred_on_cancel(d, unsubscribe, s);
    turbo_response_header(res, "Content-Type", 12, "text/event-stream", 17);
    turbo_response_header(res, "Cache-Control", 13, "no-cache", 8);
    turbo_deferred_stream(d, TURBO_LENGTH_UNKNOWN);
    s->d[s->n++] = d;
    return TURBO_DEFER;
}

/* A WebSocket subscriber left: off its thread's list (ud: the list). */
static void ws_gone(turbo_ws *ws, int code, const char *reason, size_t len, void *ud)
{
    (void)code, (void)reason, (void)len;
    subs *s = ud;
    for (size_t i = 0; i < s->nws; i++)
        if (s->ws[i] == ws) {
            s->ws[i] = s->ws[--s->nws];
            break;
        }
}

static int ws_sub_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    subs *s = thread_subs(turbo_request_loop(req));
    if (s == NULL)
        return TURBO_ENOMEM;
    if (s->nws == s->capws) {
        size_t cap = s->capws ? 2 * s->capws : 256;
        turbo_ws **grown = realloc(s->ws, cap * sizeof(*grown));
        if (grown == NULL)
            return TURBO_ENOMEM;
        s->ws = grown;
        s->capws = cap;
    }
    turbo_ws *ws = turbo_ws_accept(req, res, NULL, ws_gone, s, NULL);
    if (ws != NULL)
        s->ws[s->nws++] = ws;
    return TURBO_OK;
}

typedef struct publication {
    turbo_deferred *d;
    _Atomic size_t pending;
    _Atomic size_t sent;
} publication;

typedef struct job {
    publication *p;
    turbo_loop *loop;
} job;

static void publish_here(void *ud)
{
    job *j = ud;
    publication *p = j->p;
    subs *s = turbo_loop_data(j->loop);
    size_t sent = 0;
    for (size_t i = 0; s != NULL && i < s->n; i++) {
        int rc = turbo_deferred_write(s->d[i], EVENT, sizeof(EVENT) - 1);
        sent += rc == TURBO_OK || rc == TURBO_FULL;
    }
    /* The same event's text to every WebSocket subscriber. */
    for (size_t i = 0; s != NULL && i < s->nws; i++) {
        int rc = turbo_ws_send(s->ws[i], 0, EVENT + 6, sizeof(EVENT) - 9);
        sent += rc == TURBO_OK || rc == TURBO_FULL;
    }
    free(j);
    atomic_fetch_add(&p->sent, sent);
    if (atomic_fetch_sub(&p->pending, 1) != 1)
        return;
    char body[32];
    int n = snprintf(body, sizeof(body), "%zu", atomic_load(&p->sent));
    turbo_response_body(turbo_deferred_response(p->d), body, (size_t)n);
    turbo_deferred_finish(p->d);
    free(p);
}

static int publish_route(turbo_request *req, turbo_response *res, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&loops_lock);
    size_t n = nloops;
    turbo_loop *targets[sizeof(loops) / sizeof(loops[0])];
    memcpy(targets, loops, n * sizeof(*targets));
    pthread_mutex_unlock(&loops_lock);
    if (n == 0)
        return turbo_response_body(res, "0", 1);
    publication *p = calloc(1, sizeof(*p));
    if (p == NULL || (p->d = turbo_defer(req, res)) == NULL) {
        free(p);
        return TURBO_ENOMEM;
    }
    atomic_store(&p->pending, n);
    for (size_t i = 0; i < n; i++) {
        job *j = malloc(sizeof(*j));
        if (j == NULL)
            abort(); /* a benchmark server: out of memory ends the run */
        j->p = p;
        j->loop = targets[i];
        turbo_loop_post(targets[i], publish_here, j);
    }
    return TURBO_DEFER;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ws-server PORT [THREADS=1]\n");
        return 2;
    }
    turbo_config *cfg = turbo_config_new();
    turbo_config_set_threads(cfg, argc > 2 ? (unsigned)atoi(argv[2]) : 1);
    turbo_server *s = turbo_server_new(cfg);
    turbo_config_free(cfg);
    if (s == NULL || turbo_server_listen(s, "127.0.0.1", atoi(argv[1])) != TURBO_OK ||
        turbo_route_add(s, "GET", "/ws", ws_route, NULL) != TURBO_OK ||
        turbo_route_add(s, "GET", "/sse", sse_route, NULL) != TURBO_OK ||
        turbo_route_add(s, "GET", "/ws/sub", ws_sub_route, NULL) != TURBO_OK ||
        turbo_route_add(s, "POST", "/publish", publish_route, NULL) != TURBO_OK ||
        turbo_server_stop_on_signal(s, SIGTERM) != TURBO_OK) {
        fprintf(stderr, "ws-server: cannot start\n");
        return 1;
    }
    return turbo_server_run(s) == TURBO_OK ? 0 : 1;
}
