/*
 * One connection: read, parse every complete request in the buffer, run
 * the handlers in order, flush all their responses with one sendmsg.
 *
 * Buffers. The read buffer comes from the thread's pool when bytes arrive
 * and goes back as soon as no unconsumed byte is left, so an idle
 * keep-alive connection holds only this struct and its libevent event. A
 * request larger than a pool buffer (a big body) gets a private buffer
 * sized for it. Output is collected in a pooled buffer too, plus up to
 * MAX_REFS bodies referenced without a copy.
 *
 * Request state is kept relative to the first byte of the request, so
 * compacting the buffer between reads moves nothing but bytes.
 *
 * Time. Each connection has one deadline and a phase saying what expires
 * at it; the thread's sweep timer checks deadlines (turbo__conns_sweep),
 * so the request path only stores an integer and never touches the
 * timer heap.
 */
#include <arpa/inet.h>
#include <sys/sendfile.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arena.h"
#include "bufpool.h"
#include "clock.h"
#include "conn.h"
#include "date.h"
#include "parse.h"
#include "proxy.h"
#include "response.h"
#include "router.h"
#include "routes.h"
#include "server.h"
#include "thread.h"
#include "ws.h"

#define MAX_REFS 8
/* Flush in the middle of a pipelined batch once this much is queued. */
#define OUT_HIGH_WATER (256 * 1024)
/* Most time spent discarding input after the final response. */
#define LINGER_MS 2000
/* Free connection structs kept per thread. */
#define KEEP_FREE_CONNS 1024

enum phase {
    PH_IDLE,   /* between requests: idle (or first-request) timeout */
    PH_HEAD,   /* part of a head received: header timeout */
    PH_BODY,   /* head done, body incomplete: body timeout */
    PH_WRITE,  /* output blocked: write timeout */
    PH_LINGER, /* final response sent, write side shut: drain then close */
    PH_WS,     /* a WebSocket: its next ping, or the answer it waits for */
    PH_PROXY   /* a PROXY header must come first (proxy.h): header timeout */
};

enum body_kind { BODY_NONE, BODY_LENGTH, BODY_CHUNKED };

/* A body read after its request was dispatched (TURBO_ROUTE_STREAM_BODY):
 * handed to the reader of c->sbody, or read and dropped once no one will
 * read it. */
enum body_mode { BM_NONE, BM_READ, BM_DISCARD };
/* Most body left unread by its handler that is read and dropped to keep
 * the connection; beyond it the connection closes after the answer. */
#define DISCARD_MAX (1024 * 1024)

/* One answer in a connection's queue behind a deferred request: that
 * deferred request itself (d: the node inside its exchange), or the bytes
 * of a later answer (a node allocated with its bytes). */
typedef turbo__parked parked;

/* Pipelined answers that may wait behind deferred requests, at most; then
 * the connection stops parsing until the first deferred one is sent. */
#define MAX_PARKED 32
#define MAX_PARKED_BYTES (1024 * 1024)

typedef struct out_ref {
    size_t at; /* offset in out where this body goes */
    const char *ptr;
    size_t len;
    turbo_free_fn fn;
    void *ctx;
    int fd;       /* >= 0: len bytes of this file from off, by sendfile(2) */
    uint64_t off; /* (the response's dup of the file: closed when released) */
} out_ref;

struct turbo__conn {
    turbo__conn *prev, *next;
    turbo__thread *t;
    int fd;
    short ev_what;
    uint8_t phase;
    uint8_t body_kind;
    unsigned closing : 1;       /* close once the output drains */
    unsigned head_parsed : 1;   /* t->headers hold this request's fields */
    unsigned continue_sent : 1; /* 100 Continue already queued */
    unsigned in_pooled : 1, out_pooled : 1;
    unsigned used : 1;          /* a byte was ever read from it */
    unsigned in_moved : 1;      /* a deferred request took the read buffer */
    unsigned dirty : 1;         /* on t->dirty: streamed bytes to flush */
    unsigned upgrade_wait : 1;  /* a deferred request may upgrade: parse no further */
    unsigned close_after_body : 1; /* the request being read asked to close */
    uint8_t bmode;              /* enum body_mode */
    uint8_t nrefs;
    uint64_t deadline;
    struct event ev;

    char *in;
    size_t in_len, in_cap;
    size_t head_len; /* 0 until the current request's head is complete */
    size_t need;     /* bytes the current request needs in all, when known */
    turbo__scan scan;
    uint64_t body_len; /* BODY_LENGTH */
    turbo__chunked chunk;
    size_t chunk_in, chunk_out;

    char *out;
    size_t out_len, out_cap, out_sent;
    out_ref *refs; /* MAX_REFS slots, allocated on first use */

    /* Answers that wait for a deferred request ahead of them, in request
     * order: the first is always a deferred request not yet sent. */
    parked *park_head, *park_tail;
    unsigned nparked;
    size_t parked_bytes;

    turbo__peer peer;
    turbo__conn *dirty_next; /* t->dirty's link */
    struct turbo_ws *ws;     /* upgraded: frames, not requests */
    turbo_deferred *sbody;   /* BM_READ: the request whose body is read */
    uint64_t discard_max;    /* BM_DISCARD, chunked: the decoded total allowed */
};

/* A WebSocket (turbo.h): its reader, callbacks and close state. */
struct turbo_ws {
    turbo__conn *conn; /* NULL until upgraded, and once closed */
    turbo__thread *t;
    turbo_ws_message_fn on_message;
    turbo_ws_close_fn on_close;
    turbo_ws_drain_fn on_drain;
    void *ud;
    struct turbo__ws_reader rd;
    turbo__vec msg;   /* a message that arrived in more than one piece */
    turbo__vec early; /* frames sent between the accept and the 101 */
    int msg_binary;
    unsigned opened : 1; /* the 101 went: conn is set until the end */
    unsigned close_sent : 1, close_rcvd : 1, paused : 1, want_drain : 1, ping_out : 1;
    unsigned code; /* what on_close reports; 0: 1006 */
    size_t reason_len;
    char reason[TURBO__WS_MAX_REASON];
};

static void on_event(evutil_socket_t fd, short what, void *arg);
static void conn_run(turbo__conn *c);

/* ---- small helpers ---------------------------------------------------- */

static void set_deadline(turbo__conn *c, int phase, unsigned ms)
{
    c->phase = (uint8_t)phase;
    c->deadline = c->t->now_ms + ms;
}

static int set_events(turbo__conn *c, short what)
{
    if (c->ev_what == what)
        return 0;
    event_del(&c->ev);
    event_assign(&c->ev, c->t->base, c->fd, what | EV_PERSIST, on_event, c);
    c->ev_what = what;
    return event_add(&c->ev, NULL);
}

static void in_release(turbo__conn *c)
{
    if (c->in == NULL)
        return;
    if (c->in_pooled)
        turbo__bufpool_put(&c->t->pool, c->in);
    else
        free(c->in);
    c->in = NULL;
    c->in_len = c->in_cap = 0;
}

/* Makes room for `want` bytes of input in total. */
static int in_reserve(turbo__conn *c, size_t want)
{
    turbo__bufpool *pool = &c->t->pool;
    if (c->in == NULL && want <= pool->size) {
        c->in = turbo__bufpool_get(pool);
        if (c->in == NULL)
            return -1;
        c->in_cap = pool->size;
        c->in_pooled = 1;
        c->in_len = 0;
        return 0;
    }
    if (want <= c->in_cap)
        return 0;
    char *n = malloc(want);
    if (n == NULL)
        return -1;
    if (c->in_len != 0)
        memcpy(n, c->in, c->in_len);
    size_t len = c->in_len;
    in_release(c);
    c->in = n;
    c->in_len = len;
    c->in_cap = want;
    c->in_pooled = 0;
    return 0;
}

static size_t out_total(const turbo__conn *c)
{
    size_t n = c->out_len;
    for (unsigned i = 0; i < c->nrefs; i++)
        n += c->refs[i].len;
    return n;
}

static void out_release(turbo__conn *c)
{
    for (unsigned i = 0; i < c->nrefs; i++) {
        if (c->refs[i].fn != NULL)
            c->refs[i].fn((void *)c->refs[i].ptr, c->refs[i].ctx);
        if (c->refs[i].fd >= 0)
            close(c->refs[i].fd);
    }
    c->nrefs = 0;
    if (c->out != NULL) {
        if (c->out_pooled)
            turbo__bufpool_put(&c->t->pool, c->out);
        else
            free(c->out);
    }
    c->out = NULL;
    c->out_len = c->out_cap = c->out_sent = 0;
}

static char *out_reserve(turbo__conn *c, size_t need)
{
    turbo__bufpool *pool = &c->t->pool;
    if (c->out == NULL) {
        if (need <= pool->size) {
            c->out = turbo__bufpool_get(pool);
            c->out_cap = pool->size;
            c->out_pooled = 1;
        } else {
            c->out = malloc(need);
            c->out_cap = need;
            c->out_pooled = 0;
        }
        if (c->out == NULL) {
            c->out_cap = 0;
            return NULL;
        }
    } else if (c->out_cap - c->out_len < need) {
        if (c->out_sent != 0 && c->nrefs == 0) {
            /* A stream keeps appending while the socket drains: drop what
             * was sent before growing, so the buffer stays near the
             * queue's size instead of the total written. */
            memmove(c->out, c->out + c->out_sent, c->out_len - c->out_sent);
            c->out_len -= c->out_sent;
            c->out_sent = 0;
            if (c->out_cap - c->out_len >= need)
                return c->out + c->out_len;
        }
        size_t cap = c->out_cap * 2;
        if (cap < c->out_len + need)
            cap = c->out_len + need;
        char *n = c->out_pooled ? malloc(cap) : realloc(c->out, cap);
        if (n == NULL)
            return NULL;
        if (c->out_pooled) {
            memcpy(n, c->out, c->out_len);
            turbo__bufpool_put(pool, c->out);
            c->out_pooled = 0;
        }
        c->out = n;
        c->out_cap = cap;
    }
    return c->out + c->out_len;
}

/* ---- responses ------------------------------------------------------- */

/*
 * Appends res to the output: head, then the body (copied, or referenced
 * when the handler gave one and a slot is free; copied when the answer
 * will be parked, as refs are placed by offset in c->out). Returns -1 when
 * out of memory (the connection is then dropped).
 */
/* A file body where no reference slot is free (or behind a deferred
 * answer): read into the output. -1 when out of memory, unreadable, or
 * shorter than announced (the answer cannot be completed). */
static int copy_file(turbo__conn *c, const turbo_response *res)
{
    size_t len = (size_t)res->file_len;
    if (out_reserve(c, len) == NULL)
        return -1;
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(res->file_fd, c->out + c->out_len + got, len - got,
                          (off_t)(res->file_off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    c->out_len += len;
    return 0;
}

static int queue_response(turbo__conn *c, turbo_response *res, int minor, int is_head,
                          int keep_alive)
{
    turbo__thread *t = c->t;
    int st = res->status;
    turbo__framing f;
    f.minor = minor;
    f.keep_alive = keep_alive;
    f.mode = __builtin_expect(res->upgrade, 0) ? TURBO__FRAME_UPGRADE : TURBO__FRAME_LENGTH;
    f.body_allowed = !(st < 200 || st == 204 || st == 304);
    f.body_len = turbo__response_body_len(res);
    if (is_head && res->has_head_len && f.body_len == 0)
        f.body_len = res->head_len; /* what the GET answer would have been */
    int send_body = f.body_allowed && !is_head && f.body_len != 0;

    size_t bound = turbo__response_head_bound(res, t->server);
    int copy_body = send_body && res->ref == NULL && !res->has_file;
    char *p = out_reserve(c, bound + (copy_body ? res->body.len : 0));
    if (p == NULL)
        return -1;
    size_t n = turbo__response_write_head(res, t, &f, p);
    c->out_len += n;
    if (!send_body)
        return 0;
    if (copy_body) {
        memcpy(c->out + c->out_len, res->body.ptr, res->body.len);
        c->out_len += res->body.len;
        return 0;
    }
    if (c->refs == NULL && c->park_head == NULL)
        c->refs = malloc(MAX_REFS * sizeof(*c->refs));
    if (c->refs != NULL && c->nrefs < MAX_REFS && c->park_head == NULL) {
        out_ref *r = &c->refs[c->nrefs++];
        r->at = c->out_len;
        r->ptr = res->ref;
        r->len = turbo__response_body_len(res);
        r->fn = res->ref_free;
        r->ctx = res->ref_ctx;
        r->fd = res->has_file ? res->file_fd : -1;
        r->off = res->file_off;
        res->ref_free = NULL; /* ownership moved to the output */
        res->has_file = 0;
        return 0;
    }
    /* No slot: copy, then the reference can go now. */
    if (res->has_file)
        return copy_file(c, res);
    if (out_reserve(c, res->ref_len) == NULL)
        return -1;
    memcpy(c->out + c->out_len, res->ref, res->ref_len);
    c->out_len += res->ref_len;
    return 0;
}

/* The final response for a request the parser or a limit refused. */
static void park_output(turbo__conn *c, size_t from);

/* x's deferred timeout starts now: the configured one, or a stop's grace
 * period when a stop is under way and that ends first. */
static void deferred_deadline(turbo__thread *t, turbo_deferred *x)
{
    const turbo_config *cfg = &t->server->cfg;
    x->stop_deadline = t->stopping && cfg->stop_grace_ms < cfg->deferred_timeout_ms;
    x->deadline = t->now_ms + (x->stop_deadline ? cfg->stop_grace_ms : cfg->deferred_timeout_ms);
}
static int parked_full(const turbo__conn *c);
static void drop_parked(turbo__conn *c);
static void deferred_expired(turbo__conn *c);

static inline void answer(turbo__conn *c, turbo_response *res, int minor, int is_head,
                          int keep_alive, const turbo__head *h);

static void reject(turbo__conn *c, int status)
{
    turbo__thread *t = c->t;
    TURBO__COUNT(t, bad_requests);
    turbo_response *res = &t->cur->res;
    turbo__response_error(res, status);
    answer(c, res, 1, 0, 0, NULL);
    turbo__response_reset(res);
}

static int str_eq(turbo_str s, const char *lit, size_t n)
{
    return s.len == n && memcmp(s.ptr, lit, n) == 0;
}

static void __attribute__((noinline, cold)) handler_failed(turbo__thread *t, turbo_response *res)
{
    TURBO__COUNT(t, handler_errors);
    int close = res->close;
    turbo__response_error(res, 500);
    res->close = close;
}

/* A handler's result: an error or an unsendable response is a 500. */
static inline void handler_result(turbo__thread *t, turbo_response *res, int rc)
{
    if (rc != TURBO_OK || res->invalid)
        handler_failed(t, res);
}

/* The connection stays open after this answer: the request said so, the
 * handler did not close it, and the server is not stopping. t->stopping
 * is set only when this thread's loop reads its wake fd: not yet if the
 * stop was requested while a handler ran, and the response must still
 * say "Connection: close" (a relaxed load, no read-modify-write). */
static int keeps_alive(turbo__thread *t, const turbo_response *res, int requested)
{
    return requested && !res->close && !t->stopping &&
           !atomic_load_explicit(&t->server->stop_requested, memory_order_relaxed);
}

/* During a stop, an inline answer that the client wanted kept alive
 * closes the connection only if it is the last request the connection
 * has read: requests pipelined behind it, already in the buffer, are
 * answered too, the last one with "Connection: close" (RFC 9112 lets a
 * server stop at any answer; this one spares the client a retry). The
 * request's end follows from its body: body - head_len is its start. */
static int __attribute__((noinline, cold)) drain_pipelined(const turbo__conn *c,
                                                           const char *body, size_t body_len)
{
    const char *start = body - c->head_len;
    size_t total = c->body_kind == BODY_CHUNKED ? c->chunk_in : c->head_len + body_len;
    return start + total < c->in + c->in_len;
}

/* keeps_alive() for an inline answer in dispatch(): the same branches on
 * the request path, and drain_pipelined() when a stop is under way. */
static inline int keeps_alive_inline(const turbo__conn *c, const turbo_response *res,
                                     int requested, const char *body, size_t body_len)
{
    if (!requested || res->close)
        return 0;
    if (__builtin_expect(!c->t->stopping && !atomic_load_explicit(&c->t->server->stop_requested,
                                                                  memory_order_relaxed),
                         1))
        return 1;
    return drain_pipelined(c, body, body_len);
}

/* The access log's line for an answer (alog.h); h NULL: a request
 * refused before it was understood. */
static void __attribute__((noinline)) log_answer(turbo__conn *c, const turbo_response *res,
                                                 const turbo__head *h, int is_head,
                                                 const turbo_deferred *stream)
{
    char addr[INET6_ADDRSTRLEN];
    turbo_str peer = {NULL, 0};
    const void *bin = c->peer.sa.sa_family == AF_INET6 ? (const void *)&c->peer.v6.sin6_addr
                                                       : (const void *)&c->peer.v4.sin_addr;
    if ((c->peer.sa.sa_family == AF_INET || c->peer.sa.sa_family == AF_INET6) &&
        inet_ntop(c->peer.sa.sa_family, bin, addr, sizeof(addr)) != NULL)
        peer = (turbo_str){addr, strlen(addr)};
    int st = res->status;
    uint64_t sent = is_head || st < 200 || st == 204 || st == 304 ? 0
                    : stream != NULL                             ? stream->s.framed
                                                                 : turbo__response_body_len(res);
    turbo_str none = {NULL, 0};
    turbo__alog_line(&c->t->alog, peer, h != NULL ? h->method : none, h != NULL ? h->target : none,
                     h != NULL ? h->minor : 1, st, sent, c->t->date.sec);
}

/* What an answer is also counted or logged in, when either is on (one
 * branch on the request path for both): the metrics (metrics.h; res is
 * always its exchange's) and the access log. */
static void __attribute__((noinline)) answer_hooks(turbo__conn *c, turbo_response *res,
                                                   const turbo__head *h, int is_head,
                                                   const turbo_deferred *stream)
{
    turbo__thread *t = c->t;
    if (t->metrics_on) {
        turbo_deferred *x = (turbo_deferred *)((char *)res - offsetof(turbo_deferred, res));
        turbo__metrics_answer(&t->metrics, res->status, &x->req.t0_ns);
    }
    if (t->alog.fd >= 0)
        log_answer(c, res, h, is_head, stream);
}

/* Queues res in c->out, counts the request, logs it, and closes after it
 * unless keep_alive; returns whether the connection stays open. h: the
 * request's head, for the access log (NULL when there is none). */
static inline int queue_answer(turbo__conn *c, turbo_response *res, int minor, int is_head,
                        int keep_alive, const turbo__head *h)
{
    size_t from = c->out_len;
    if (queue_response(c, res, minor, is_head, keep_alive) != 0) {
        keep_alive = 0; /* out of memory: this answer is lost, the connection ends */
        c->out_len = from;
    }
    TURBO__COUNT(c->t, requests);
    if (__builtin_expect(c->t->answer_hooks, 0))
        answer_hooks(c, res, h, is_head, NULL);
    if (!keep_alive)
        c->closing = 1;
    return keep_alive;
}

/* Inlined (as it was before the WebSocket upgrade became its third
 * caller): a call here costs the inline path ~45 instructions a request
 * (bench/instructions.sh). */
static inline __attribute__((always_inline)) void answer(turbo__conn *c, turbo_response *res,
                                                         int minor, int is_head, int keep_alive,
                                                         const turbo__head *h)
{
    size_t from = c->out_len;
    queue_answer(c, res, minor, is_head, keep_alive, h);
    if (c->park_head != NULL && c->out_len != from)
        park_output(c, from);
}

static void park_deferred(turbo__conn *c, turbo_deferred *x, int minor, int is_head,
                          int keep_alive);
static void unpark_tail(turbo__conn *c, turbo_deferred *x);
static void stream_at_head(turbo__conn *c, turbo_deferred *x);
static void stream_progress(turbo__conn *c);
static void ws_open(turbo__conn *c, struct turbo_ws *ws);
static void ws_abort(turbo__thread *t, struct turbo_ws *ws);
static void ws_process(turbo__conn *c);
static void ws_progress(turbo__conn *c);
static void ws_arm(turbo__conn *c, unsigned ms);
static int has_upgrade(const turbo__head *h);
static void body_give_buffered(turbo_deferred *x);

/*
 * Routes and runs one complete request, queueing its response. Returns the
 * exchange when the request was deferred (it takes the read buffer with
 * it: handle_one hands the connection a new one), else NULL.
 *
 * Inlined at both of its calls: the request path's, where it always was
 * (out of line it costs the hello benchmark 27 instructions a request),
 * and handle_streamed's, which is cold.
 */
static inline __attribute__((always_inline)) turbo_deferred *
dispatch(turbo__conn *c, const turbo__head *h, const char *body, size_t body_len)
{
    turbo__thread *t = c->t;
    turbo_server *s = t->server;
    turbo_deferred *x = t->cur;
    turbo_request *req = &x->req;
    turbo_response *res = &x->res;
    turbo__match *m = &x->match;

    req->conn = c;
    req->head = h;
    req->method = h->method;
    req->body.ptr = body;
    req->body.len = body_len;
    req->match = m;
    req->remote_addr.ptr = NULL;
    req->remote_addr.len = 0;
    if (__builtin_expect(t->metrics_on, 0))
        turbo__metrics_begin(&t->metrics, &req->t0_ns);

    int is_head = str_eq(h->method, "HEAD", 4);
    int keep_alive = h->minor == 1 ? !h->conn_close : (h->conn_keep_alive && !h->conn_close);

    int st = turbo__rtable_match(turbo__routes_enter(t), h->method, h->path, m);
    turbo_handler fn = st == 200 ? m->fn : s->fallback;
    void *data = st == 200 ? m->user_data : s->fallback_data;
    unsigned flags = st == 200 ? m->flags : s->fallback_flags;
    if (fn != NULL && st != 200) {
        /* The fallback writes the 404/405 answer: status and Allow set. */
        res->status = st;
        if (st == 405)
            turbo_response_header(res, "Allow", 5, m->allow.ptr, m->allow.len);
        /* The pool thread calls what the match holds. The fallback and
         * its data live as long as the server, unlike a route's. */
        m->fn = fn;
        m->user_data = data;
    }
    if (fn != NULL && (flags & TURBO_ROUTE_BLOCKING)) {
        /* To the pool: the exchange leaves first (the pool's thread may
         * start at once), and a full queue is a 503 now. */
        if (turbo__conn_detach(x) == 0) {
            /* Parked before it is queued: from then on its pool thread
             * may run, and the owner's fields are all written. */
            int closing = c->closing;
            park_deferred(c, x, h->minor, is_head, keep_alive);
            if (turbo__pool_submit(&s->pool, x) == 0) {
                t->pool_queued = 1; /* woken at the iteration's end (thread.c) */
                return x;
            }
            unpark_tail(c, x);
            c->closing = closing;
            turbo__conn_undetach(x);
        }
        turbo__response_error(res, 503);
        turbo_response_header(res, "Retry-After", 11, "1", 1);
        fn = NULL;
        st = 0;
    }
    if (fn != NULL) {
        t->handling = x; /* read on this thread only (defer.c) */
        int rc = fn(req, res, data);
        t->handling = NULL;
        if (x->deferred && !x->finished_inline) {
            /* The holder answers later; an error returned meanwhile makes
             * that answer a 500 (kept in x->rc: res is the holder's now). */
            x->rc = rc == TURBO_DEFER ? TURBO_OK : rc;
            park_deferred(c, x, h->minor, is_head, keep_alive);
            if (has_upgrade(h))
                c->upgrade_wait = 1; /* what follows may be frames, not requests */
            if (__builtin_expect(x->b.asked_here, 0) && !x->b.on_socket)
                body_give_buffered(x); /* asked for in the handler */
            return x;
        }
        if (x->finished_inline && rc == TURBO_DEFER)
            rc = TURBO_OK; /* deferred, then finished before returning */
        handler_result(t, res, rc);
        if (__builtin_expect(x->ws != NULL, 0)) {
            struct turbo_ws *ws = x->ws;
            x->ws = NULL;
            if (res->status == 101) {
                answer(c, res, h->minor, 0, 1, h);
                ws_open(c, ws);
                if (x->deferred) /* finished before its handler returned */
                    turbo__exchange_release(t, x);
                else
                    turbo__exchange_reset(x);
                return NULL;
            }
            ws_abort(t, ws); /* the handler failed after accepting: a 500 */
        }
    } else if (st != 0) {
        turbo__response_error(res, st);
        if (st == 405)
            turbo_response_header(res, "Allow", 5, m->allow.ptr, m->allow.len);
    }
    answer(c, res, h->minor, is_head, keeps_alive_inline(c, res, keep_alive, body, body_len), h);
    if (x->deferred) /* finished before its handler returned: t->cur is new */
        turbo__exchange_release(t, x);
    else
        turbo__exchange_reset(x);
    return NULL;
}

static void request_done(turbo__conn *c)
{
    /* The next request's head timer starts with its first byte
     * (handle_one); until then the connection is idle. An upgraded one
     * gets its own again in process(). */
    set_deadline(c, PH_IDLE, c->t->server->cfg.idle_timeout_ms);
    c->head_len = 0;
    c->head_parsed = 0;
    c->continue_sent = 0;
    c->body_kind = BODY_NONE;
    memset(&c->scan, 0, sizeof(c->scan));
}

/* Queues "100 Continue". 1, or 0 when out of memory. */
static int write_continue(turbo__conn *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    char *p = out_reserve(c, sizeof(cont) - 1);
    if (p == NULL)
        return 0;
    memcpy(p, cont, sizeof(cont) - 1);
    c->out_len += sizeof(cont) - 1;
    return 1;
}

static void queue_continue(turbo__conn *c)
{
    /* Not ahead of a deferred answer still to come: the client sends the
     * body after its own wait instead. */
    if (c->continue_sent || c->park_head != NULL)
        return;
    c->continue_sent = 1;
    write_continue(c);
}

/*
 * The request at p (total bytes) was deferred: its exchange takes the read
 * buffer, since everything the handler saw points into it, and the
 * connection goes on with a copy of what follows the request (usually
 * nothing; pipelined requests otherwise). process() starts again at the
 * new buffer's first byte (in_moved).
 */
static void hand_over_buffer(turbo__conn *c, turbo_deferred *x, const char *p, size_t total)
{
    size_t from = (size_t)(p - c->in) + total;
    size_t rest = c->in_len - from;
    char *old = c->in;
    x->in = old;
    x->in_pooled = c->in_pooled;
    c->in = NULL;
    c->in_len = c->in_cap = 0;
    c->in_moved = 1;
    if (rest == 0)
        return;
    /* Not in_reserve(): its one call on the read path stays inlined. */
    turbo__bufpool *pool = &c->t->pool;
    int pooled = rest <= pool->size;
    char *n = pooled ? turbo__bufpool_get(pool) : malloc(rest);
    if (n == NULL) {
        c->closing = 1; /* the pipelined rest is lost: answer what came before */
        return;
    }
    memcpy(n, old + from, rest);
    c->in = n;
    c->in_len = rest;
    c->in_cap = pooled ? pool->size : rest;
    c->in_pooled = pooled;
}

/* ---- streamed request bodies ------------------------------------------ */

/*
 * A request for a TURBO_ROUTE_STREAM_BODY route (turbo.h, "Streamed
 * request bodies") is dispatched as soon as its head is in. When its
 * handler defers it, the connection reads the body for it: c->sbody is
 * the request, bmode BM_READ, and process() hands what arrives to
 * body_process instead of the parser, which passes it through the
 * framing (the chunked decoder in place, or a count) to the reader's
 * callback, until the end. No reader yet, or a paused one: the socket is
 * not read (conn_run), so the body waits in the client's TCP window and
 * at most one read buffer of it is held here. A body no one will read (the
 * handler answered without it) is read and dropped up to DISCARD_MAX to
 * keep the connection, else the connection closes after the answer.
 */

static int body_process(turbo__conn *c);

/* A sized body that came whole with its head, and small: served buffered
 * even on a streaming route (its reader gets it in one call), so a small
 * upload costs nothing more there than elsewhere. */
static int body_came_whole(const turbo__head *h, size_t after_head, const turbo__limits *lim)
{
    return !h->chunked && h->content_length <= after_head &&
           h->content_length <= lim->max_body_bytes && h->content_length <= DISCARD_MAX;
}

/* The request's route (or the fallback answering it) reads its body as
 * it arrives. Matched now, and again by dispatch: a second match only for
 * requests with a body, on a server that has such routes. */
static int __attribute__((noinline)) streams_body(turbo__conn *c, const turbo__head *h)
{
    turbo__thread *t = c->t;
    turbo_server *s = t->server;
    turbo__match *m = &t->cur->match;
    int st = turbo__rtable_match(turbo__routes_enter(t), h->method, h->path, m);
    unsigned flags = st == 200 ? m->flags : s->fallback != NULL ? s->fallback_flags : 0;
    return (flags & TURBO_ROUTE_STREAM_BODY) != 0;
}

/* From now on x's deferred timeout runs (its body has ended): as
 * park_deferred sets it, unless a stop or a started stream set another. */
static void body_timeout_restart(turbo__conn *c, turbo_deferred *x)
{
    if (x->deadline != UINT64_MAX || (x->s.begun && x->s.at_head))
        return;
    deferred_deadline(c->t, x);
}

/* No body is read any more: back to parsing requests, or to closing. */
static void body_stop(turbo__conn *c)
{
    c->bmode = BM_NONE;
    c->sbody = NULL;
    c->body_kind = BODY_NONE;
    if (c->close_after_body) {
        c->close_after_body = 0;
        c->closing = 1;
    }
}

/* Runs x's body callback as a drain callback runs: a finish it calls goes
 * through the inbox, since the connection code around it must not be
 * re-entered. */
static int body_call(turbo__thread *t, turbo_deferred *x, const char *data, size_t len, int end)
{
    int outer = t->in_callback;
    t->in_callback = 1;
    int rc = x->b.cb(x, data, len, end, x->b.ud);
    t->in_callback = outer;
    return rc;
}

/* The body cannot be read to its end (too long for its reader, framing
 * broken): the reader is told, nothing more is read, and the connection
 * closes once the answers before the close are out. */
static void body_fail(turbo__conn *c, int err)
{
    turbo_deferred *x = c->bmode == BM_READ ? c->sbody : NULL;
    body_stop(c);
    c->closing = 1;
    if (x != NULL) {
        x->b.ended = 1;
        x->keep_alive = 0;
        body_timeout_restart(c, x);
        body_call(c->t, x, NULL, 0, err);
    }
}

/* The holder of x asked for its body: reading starts, and a client waiting
 * for "100 Continue" gets it now, unless an answer is ahead of it. */
static void body_take(turbo__conn *c, turbo_deferred *x)
{
    x->b.reading = 1;
    if (c->body_kind == BODY_LENGTH && c->body_len > x->b.max) {
        body_fail(c, TURBO_ERANGE); /* refused unread */
        return;
    }
    if (!c->continue_sent && c->park_head == &x->node && !x->s.begun && write_continue(c))
        c->continue_sent = 1;
}

/* Nothing will read the rest of the body: dropped as it comes when it is
 * small and the client is sending it, else the connection closes after
 * the answer (1). A client that waits for "100 Continue" is not sending. */
static int body_unread(turbo__conn *c)
{
    c->sbody = NULL;
    if (c->continue_sent &&
        (c->body_kind == BODY_CHUNKED || c->body_len <= DISCARD_MAX)) {
        c->bmode = BM_DISCARD;
        c->discard_max = c->chunk.total + DISCARD_MAX;
        return 0;
    }
    body_stop(c);
    c->closing = 1;
    return 1;
}

/* The request's handler has run (dispatch); p is its first byte, and
 * c->head_len is its head's length. Returns the bytes consumed, as
 * handle_one does: the head. What follows it (the body first) is moved to
 * the start of the read buffer (in_moved), where process() goes on with
 * body_process. */
static long __attribute__((noinline, cold)) handle_streamed(turbo__conn *c, char *p,
                                                           const turbo__head *h)
{
    turbo__thread *t = c->t;
    const turbo_config *cfg = &t->server->cfg;
    size_t head_len = c->head_len;
    c->continue_sent = !(h->expect_continue && h->minor == 1);
    t->cur->b.on_socket = 1;
    int closing = c->closing;
    turbo_deferred *x = dispatch(c, h, p + head_len, 0);
    /* The framing, once dispatch is done with the buffer as it was. */
    if (h->chunked) {
        c->body_kind = BODY_CHUNKED;
        turbo__chunked_init(&c->chunk);
    } else {
        c->body_kind = BODY_LENGTH;
        c->body_len = h->content_length;
    }
    c->head_len = 0;
    c->head_parsed = 0;
    memset(&c->scan, 0, sizeof(c->scan));
    if (x != NULL) {
        hand_over_buffer(c, x, p, head_len);
        if (c->closing && !closing && !x->keep_alive) {
            /* park_deferred's "nothing after it will be read": its body
             * still is, then nothing. */
            c->closing = 0;
            c->close_after_body = 1;
        }
        c->bmode = BM_READ;
        c->sbody = x;
        x->deadline = UINT64_MAX; /* the body timeout instead, between reads */
        set_deadline(c, PH_BODY, cfg->body_timeout_ms);
        if (x->b.asked_here) /* in its handler */
            body_take(c, x);
        return (long)head_len;
    }
    /* Answered (or refused) without its body: the exchange used is reset
     * for the next request, or was released and replaced. */
    turbo__body_reset(&t->cur->b);
    size_t from = (size_t)(p - c->in) + head_len;
    memmove(c->in, c->in + from, c->in_len - from);
    c->in_len -= from;
    c->in_moved = 1;
    if (c->closing || c->ws != NULL) {
        c->body_kind = BODY_NONE;
        return (long)head_len;
    }
    if (body_unread(c) == 0)
        set_deadline(c, PH_BODY, cfg->body_timeout_ms);
    return (long)head_len;
}

/* Drops n bytes from the front of the read buffer. */
static void consume(turbo__conn *c, size_t n)
{
    if (n == 0)
        return;
    memmove(c->in, c->in + n, c->in_len - n);
    c->in_len -= n;
}

/* What the read buffer holds of the body, to its reader (not paused) or
 * dropped. 1: the body has ended and the buffer holds what follows it; 0:
 * more is needed, or the reader waits; -1: the connection closes. */
static int body_process(turbo__conn *c)
{
    turbo__thread *t = c->t;
    turbo_deferred *x = c->sbody;
    if (c->closing)
        return -1;
    /* Not once the holder has finished (or the owner cancelled): the
     * reader is not called after that (its last call comes at the
     * release), and the finish switches the body to BM_DISCARD. Acquire:
     * pairs with the holder's CAS. */
    if (c->bmode == BM_READ &&
        atomic_load_explicit(&x->state, memory_order_acquire) != TURBO__X_PENDING)
        return 0;
    while (c->bmode == BM_DISCARD || (x->b.reading && !x->b.paused)) {
        size_t n, used;
        int end;
        if (c->body_kind == BODY_LENGTH) {
            n = c->in_len < c->body_len ? c->in_len : (size_t)c->body_len;
            used = n;
            c->body_len -= n;
            end = c->body_len == 0;
        } else {
            turbo__limits lim = t->server->limits;
            lim.max_body_bytes = c->bmode == BM_READ ? x->b.max : c->discard_max;
            size_t in = 0, out = 0;
            int r = c->in_len == 0 ? 0
                                   : turbo__chunked_decode(&c->chunk, c->in, c->in_len, &in,
                                                           &out, &lim);
            if (r < 0) {
                body_fail(c, r == -413 ? TURBO_ERANGE : TURBO_EINVAL);
                return -1;
            }
            n = out;
            used = in;
            end = r == 1;
        }
        if (n == 0 && !end) {
            consume(c, used);
            return 0;
        }
        if (c->bmode == BM_READ) {
            if (end)
                x->b.ended = 1;
            if (body_call(t, x, n != 0 ? c->in : NULL, n, end) == TURBO_PAUSE && !end)
                x->b.paused = 1;
        }
        consume(c, used);
        if (end) {
            if (c->bmode == BM_READ)
                body_timeout_restart(c, x);
            body_stop(c);
            set_deadline(c, PH_IDLE, t->server->cfg.idle_timeout_ms);
            return 1;
        }
    }
    return 0;
}

/* A body read already, with the head: to the reader all at once. */
static void body_give_buffered(turbo_deferred *x)
{
    if (x->b.reading)
        return;
    x->b.reading = 1;
    x->b.ended = 1;
    turbo_str body = x->req.body;
    if (body.len > x->b.max) {
        body_call(x->thread, x, NULL, 0, TURBO_ERANGE);
        return;
    }
    body_call(x->thread, x, body.len != 0 ? body.ptr : NULL, body.len, 1);
}

void turbo__conn_body_kick(turbo_deferred *x)
{
    turbo__thread *t = x->thread;
    int resume = atomic_exchange_explicit(&x->b.resume, 0, memory_order_acq_rel);
    if (atomic_load_explicit(&x->state, memory_order_acquire) != TURBO__X_PENDING ||
        x->b.ended)
        return; /* answered or cancelled: the reader's last call comes at the release */
    if (!x->b.on_socket) {
        if (x->b.asked)
            body_give_buffered(x);
        return;
    }
    turbo__conn *c = x->conn;
    if (c == NULL || c->sbody != x)
        return; /* answered or gone before the end: no one reads it now */
    if (x->b.asked && !x->b.reading)
        body_take(c, x);
    if (resume && x->b.paused) {
        x->b.paused = 0;
        if (c->phase == PH_BODY)
            c->deadline = t->now_ms + t->server->cfg.body_timeout_ms;
    }
    conn_run(c);
}

/*
 * Handles the request starting at p (avail bytes). Returns the bytes it
 * consumed (> 0), 0 when it needs more input (*need: total bytes the
 * request needs, when known, else 0), or -1 when the connection must not
 * parse further (rejected; c->closing set).
 */
static long handle_one(turbo__conn *c, char *p, size_t avail, size_t *need)
{
    turbo__thread *t = c->t;
    turbo_server *s = t->server;
    const turbo__limits *lim = &s->limits;
    turbo__head h;

    *need = 0;
    if (c->head_len == 0) {
        long r = turbo__head_scan(p, avail, &c->scan, lim);
        if (r < 0) {
            reject(c, (int)-r);
            return -1;
        }
        if (r == 0) {
            if (c->phase != PH_HEAD)
                set_deadline(c, PH_HEAD, s->cfg.header_timeout_ms);
            return 0;
        }
        int e = turbo__parse_head(p, (size_t)r, &h, t->headers, lim);
        if (e < 0) {
            reject(c, -e);
            return -1;
        }
        c->head_len = (size_t)r;
        c->head_parsed = 1;
        if (__builtin_expect(atomic_load_explicit(&s->stream_routes, memory_order_relaxed), 0) &&
            (h.chunked || (h.has_content_length && h.content_length != 0)) &&
            !body_came_whole(&h, avail - (size_t)r, lim) && streams_body(c, &h))
            return handle_streamed(c, p, &h);
        if (h.chunked) {
            c->body_kind = BODY_CHUNKED;
            turbo__chunked_init(&c->chunk);
            c->chunk_in = c->chunk_out = c->head_len;
        } else if (h.has_content_length && h.content_length != 0) {
            if (h.content_length > lim->max_body_bytes) {
                reject(c, 413);
                return -1;
            }
            c->body_kind = BODY_LENGTH;
            c->body_len = h.content_length;
        } else {
            c->body_kind = BODY_NONE;
        }
        if (h.expect_continue && h.minor == 1 && c->body_kind != BODY_NONE)
            c->continue_sent = 0;
        else
            c->continue_sent = 1; /* nothing to send */
    }

    size_t total;
    const char *body = p + c->head_len;
    size_t body_len = 0;
    if (c->body_kind == BODY_LENGTH) {
        if (avail - c->head_len < c->body_len) {
            *need = c->head_len + (size_t)c->body_len;
            goto need_more;
        }
        body_len = (size_t)c->body_len;
        total = c->head_len + body_len;
    } else if (c->body_kind == BODY_CHUNKED) {
        int r = turbo__chunked_decode(&c->chunk, p, avail, &c->chunk_in, &c->chunk_out, lim);
        if (r < 0) {
            reject(c, -r);
            return -1;
        }
        if (r == 0)
            goto need_more;
        body_len = c->chunk_out - c->head_len;
        total = c->chunk_in;
    } else {
        total = c->head_len;
    }

    if (!c->head_parsed) {
        /* The head was parsed on an earlier read and the buffer may have
         * moved since: parse it again (it was valid then, so it is now). */
        if (turbo__parse_head(p, c->head_len, &h, t->headers, lim) < 0) {
            reject(c, 400);
            return -1;
        }
    }
    turbo_deferred *x = dispatch(c, &h, body, body_len);
    if (x != NULL)
        hand_over_buffer(c, x, p, total);
    request_done(c);
    return (long)total;

need_more:
    c->head_parsed = 0; /* t->headers will be reused by other connections */
    if (c->body_kind == BODY_CHUNKED && c->chunk_in > c->chunk_out) {
        /* Close the gap the decoder left between decoded body and raw
         * input, so a body of tiny chunks needs no more room than its
         * decoded size plus one chunk line. */
        size_t raw = avail - c->chunk_in;
        memmove(p + c->chunk_out, p + c->chunk_in, raw);
        c->in_len -= c->chunk_in - c->chunk_out;
        c->chunk_in = c->chunk_out;
    }
    if (!c->continue_sent)
        queue_continue(c);
    if (c->phase != PH_BODY)
        set_deadline(c, PH_BODY, s->cfg.body_timeout_ms);
    return 0;
}

/* ---- I/O ------------------------------------------------------------- */

/* Writes queued output. 1: all written; 0: the socket is full; -1: error. */
static int flush(turbo__conn *c)
{
    struct iovec iov[2 * MAX_REFS + 1];
    while (out_total(c) > c->out_sent) {
        /* Lay the pieces out in stream order, skipping what was sent, up
         * to the first file body not sent yet: sendfile(2) takes it on
         * its own once what comes before it is out. */
        int n = 0;
        size_t skip = c->out_sent, pos = 0;
        const out_ref *file = NULL;
        size_t file_skip = 0;
        for (unsigned i = 0; i <= c->nrefs && file == NULL; i++) {
            size_t end = i < c->nrefs ? c->refs[i].at : c->out_len;
            if (end > pos) {
                size_t len = end - pos;
                if (skip >= len) {
                    skip -= len;
                } else {
                    iov[n].iov_base = c->out + pos + skip;
                    iov[n].iov_len = len - skip;
                    skip = 0;
                    n++;
                }
            }
            pos = end;
            if (i < c->nrefs) {
                const out_ref *r = &c->refs[i];
                if (skip >= r->len) {
                    skip -= r->len;
                } else if (r->fd >= 0) {
                    file = r;
                    file_skip = skip;
                } else {
                    iov[n].iov_base = (char *)r->ptr + skip;
                    iov[n].iov_len = r->len - skip;
                    skip = 0;
                    n++;
                }
            }
        }
        ssize_t w;
        if (n == 0 && file != NULL) {
            off_t off = (off_t)(file->off + file_skip);
            w = sendfile(c->fd, file->fd, &off, file->len - file_skip);
            if (w == 0)
                return -1; /* the file shrank under its announced length */
        } else {
            struct msghdr msg;
            memset(&msg, 0, sizeof(msg));
            msg.msg_iov = iov;
            msg.msg_iovlen = (size_t)n;
            /* sendmsg rather than writev: MSG_NOSIGNAL spares the
             * application a SIGPIPE when the peer has gone. */
            w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        }
        TURBO__COUNT(c->t, writes);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->out_sent += (size_t)w;
        if (c->phase == PH_WRITE)
            c->deadline = c->t->now_ms + c->t->server->cfg.write_timeout_ms;
    }
    out_release(c);
    return 1;
}

/* Parses and answers every complete request in the read buffer. */
static void process(turbo__conn *c)
{
    if (__builtin_expect(c->ws != NULL, 0)) {
        ws_process(c);
        return;
    }
    if (__builtin_expect(c->bmode != BM_NONE, 0) && body_process(c) != 1) {
        if (c->closing)
            c->in_len = 0;
        c->need = 0;
        return; /* the body goes on, or the connection ends */
    }
    size_t pos = 0;
    size_t need = 0;
    while (!c->closing && pos < c->in_len && !parked_full(c)) {
        long r = handle_one(c, c->in + pos, c->in_len - pos, &need);
        if (r <= 0)
            break;
        pos += (size_t)r;
        need = 0;
        if (__builtin_expect(c->ws != NULL, 0))
            break; /* upgraded: what follows is frames */
        if (c->in_moved) { /* what followed the deferred request, from 0 */
            c->in_moved = 0;
            pos = 0;
            if (__builtin_expect(c->bmode != BM_NONE, 0) && body_process(c) != 1)
                break; /* its body is still coming (or the connection ends) */
        }
        if (c->out_len - c->out_sent > OUT_HIGH_WATER) {
            int f = flush(c);
            if (f <= 0)
                break; /* leave the rest for when the socket drains */
        }
    }
    if (c->closing) {
        c->in_len = 0; /* whatever follows a final response is discarded */
    } else if (pos != 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
    /* Remembered, not reserved: the buffer grows as bytes arrive
     * (on_readable), so a head announcing a large body costs nothing
     * until the body is actually sent. */
    c->need = c->closing ? 0 : need;
    if (__builtin_expect(c->ws != NULL, 0)) { /* upgraded: the rest is frames */
        const turbo_config *cfg = &c->t->server->cfg;
        ws_arm(c, c->ws->close_sent ? cfg->ws_timeout_ms : cfg->ws_ping_ms);
        ws_process(c);
    }
}

static void start_linger(turbo__conn *c)
{
    /* Closing with unread input makes the kernel send RST, which can
     * destroy the response before the client reads it. Shut the write
     * side instead, and discard input until EOF or a short deadline. */
    shutdown(c->fd, SHUT_WR);
    in_release(c);
    set_deadline(c, PH_LINGER, LINGER_MS);
    if (set_events(c, EV_READ) != 0)
        turbo__conn_close(c);
}

static void linger_read(turbo__conn *c)
{
    char sink[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t n = read(c->fd, sink, sizeof(sink));
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        break;
    }
    turbo__conn_close(c);
}

/* After input or drained output: answer what is complete, then flush and
 * pick what to wait for next. May close (and recycle) c. */
static void conn_run(turbo__conn *c)
{
    turbo__thread *t = c->t;
    process(c);
    int f = flush(c);
    if (f < 0) {
        turbo__conn_close(c);
        return;
    }
    if (f == 0) {
        /* process() stops at a blocked flush, so every complete request
         * left in the buffer is picked up when the socket drains. */
        if (c->phase != PH_WRITE)
            set_deadline(c, PH_WRITE, t->server->cfg.write_timeout_ms);
        if (set_events(c, EV_WRITE) != 0) {
            turbo__conn_close(c);
            return;
        }
        if (__builtin_expect(c->park_head != NULL, 0) && c->park_head->d->s.begun)
            stream_progress(c);
        else if (__builtin_expect(c->ws != NULL, 0))
            ws_progress(c);
        return;
    }
    if (c->closing && c->park_head == NULL) {
        start_linger(c);
        return;
    }
    if (__builtin_expect(c->ws != NULL, 0)) {
        if (c->phase == PH_WRITE)
            set_deadline(c, PH_WS, c->ws->close_sent ? t->server->cfg.ws_timeout_ms
                                                     : t->server->cfg.ws_ping_ms);
        ws_progress(c);
        if (c->ws == NULL || c->closing)
            return; /* the drain callback closed it: linger next time */
    } else if (c->phase == PH_WRITE) {
        if (__builtin_expect(c->bmode != BM_NONE, 0))
            set_deadline(c, PH_BODY, t->server->cfg.body_timeout_ms);
        else
            set_deadline(c, PH_IDLE, t->server->cfg.idle_timeout_ms);
    }
    if (__builtin_expect(c->park_head != NULL, 0) && c->park_head->d->s.begun)
        stream_progress(c);
    /* Behind a deferred answer with its queue full and a full buffer: no
     * more reading until that answer goes (the deferred timeout bounds
     * the wait). Otherwise reading also sees a client that leaves. */
    short what = EV_READ;
    if (__builtin_expect(c->park_head != NULL, 0) && parked_full(c) && c->in != NULL &&
        c->in_len == c->in_cap)
        what = 0;
    if (__builtin_expect(c->ws != NULL, 0) && c->ws->paused)
        what = 0; /* the client's frames wait in its TCP window */
    if (__builtin_expect(c->bmode == BM_READ, 0) && (!c->sbody->b.reading || c->sbody->b.paused))
        what = 0; /* so does a body no one is reading yet */
    if (set_events(c, what) != 0) {
        turbo__conn_close(c);
        return;
    }
    if (c->in_len == 0) {
        in_release(c);
        if (t->stopping && c->park_head == NULL && c->ws == NULL)
            turbo__conn_close(c);
    }
}

/* The PROXY header that must open the connection (proxy.h): the peer
 * becomes the client it names, and the header's bytes are dropped. 1: done,
 * go on with what follows; 0: more bytes needed; -1: refused, and c is
 * closed (no HTTP answer: the specification wants the bytes of an
 * unproxied peer refused, not answered). */
static int __attribute__((noinline, cold)) take_proxy_header(turbo__conn *c)
{
    turbo__proxy_src src;
    long r = turbo__proxy_parse(c->in, c->in_len, &src);
    if (r == 0)
        return 0; /* within the header timeout set at accept */
    if (r < 0) {
        TURBO__COUNT(c->t, bad_requests);
        turbo__conn_close(c);
        return -1;
    }
    if (!src.keep_peer) {
        memset(&c->peer, 0, sizeof(c->peer));
        if (src.family == AF_INET) {
            c->peer.v4.sin_family = AF_INET;
            memcpy(&c->peer.v4.sin_addr, src.addr, 4);
            c->peer.v4.sin_port = htons(src.port);
        } else {
            c->peer.v6.sin6_family = AF_INET6;
            memcpy(&c->peer.v6.sin6_addr, src.addr, 16);
            c->peer.v6.sin6_port = htons(src.port);
        }
    }
    c->in_len -= (size_t)r;
    memmove(c->in, c->in + r, c->in_len);
    /* Only the header so far: as good as a connection that has sent
     * nothing yet (the first request's timeout, a stop's short grace). */
    c->used = c->in_len != 0;
    set_deadline(c, PH_IDLE, c->t->server->cfg.header_timeout_ms);
    return 1;
}

static void on_readable(turbo__conn *c)
{
    turbo__thread *t = c->t;
    if (c->in == NULL || c->in_len == c->in_cap) {
        /* Full: double, but not past what the request is known to need. */
        size_t want = c->in == NULL ? t->pool.size : c->in_cap * 2;
        if (c->in != NULL && c->need > c->in_cap && c->need < want)
            want = c->need;
        if (in_reserve(c, want) != 0) {
            turbo__conn_close(c);
            return;
        }
    }
    ssize_t n = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->used = 1;
        if (c->phase >= PH_BODY) { /* one compare for the common phases */
            if (c->phase == PH_BODY) /* the body timeout is between reads */
                c->deadline = t->now_ms + t->server->cfg.body_timeout_ms;
            else if (c->phase == PH_PROXY && take_proxy_header(c) <= 0)
                return;
        }
        conn_run(c);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        if (c->in_len == 0)
            in_release(c);
        return;
    }
    /* EOF or error. Every complete inline request was answered when it
     * arrived; a partial one can never complete; deferred ones still
     * waiting are cancelled by the close (a client that only half-closed
     * after its request is treated as gone, as nginx does). */
    turbo__conn_close(c);
}

static void on_event(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    turbo__conn *c = arg;
    c->t->now_ms = turbo__now_ms();
    turbo__date_update(&c->t->date);
    if (c->phase == PH_LINGER) {
        linger_read(c);
        return;
    }
    if (what & EV_WRITE) {
        conn_run(c);
        return;
    }
    if (what & EV_READ)
        on_readable(c);
}

/* ---- deferred requests ------------------------------------------------ */

/*
 * A deferred request keeps its place in the connection's answers: it is
 * parked at the tail of c's queue, and every later answer on the
 * connection is parked behind it (as bytes) until it is sent. The queue
 * drains from the head whenever a deferred request at its head finishes.
 */

/* Unlinks the head of c's queue and returns it. */
static parked *pop_head(turbo__conn *c)
{
    parked *p = c->park_head;
    c->park_head = p->next;
    if (c->park_head == NULL)
        c->park_tail = NULL;
    c->nparked--;
    c->parked_bytes -= p->len;
    return p;
}

/* Nothing more is parsed: the queue is full, or a request that may
 * upgrade waits for its answer (what follows it may be frames). */
static int parked_full(const turbo__conn *c)
{
    return c->park_head != NULL && (c->upgrade_wait || c->nparked >= MAX_PARKED ||
                                    c->parked_bytes >= MAX_PARKED_BYTES);
}

static void park(turbo__conn *c, parked *p)
{
    p->next = NULL;
    if (c->park_tail != NULL)
        c->park_tail->next = p;
    else
        c->park_head = p;
    c->park_tail = p;
    c->nparked++;
    c->parked_bytes += p->len;
}

/* Moves what was queued in c->out from `from` on (an answer behind a
 * deferred one) into a parked entry. Refs are not used while answers are
 * parked, so those bytes are all there is. */
static void park_output(turbo__conn *c, size_t from)
{
    size_t len = c->out_len - from;
    parked *p = malloc(sizeof(*p) + len);
    if (p == NULL) { /* this answer is lost: the connection ends after the queue */
        c->out_len = from;
        c->closing = 1;
        return;
    }
    p->d = NULL;
    p->len = len;
    p->bytes = (char *)(p + 1);
    memcpy(p->bytes, c->out + from, len);
    c->out_len = from;
    park(c, p);
}

/* Runs a cancel callback. A finish it calls (of its own request or any
 * other) goes through the inbox, as from inside a handler: the connection
 * code around it is in the middle of dropping or expiring answers and must
 * not be re-entered. */
static void run_cancel(turbo__thread *t, turbo_cancel_fn cb, turbo_deferred *x, void *ud)
{
    int outer = t->in_callback;
    t->in_callback = 1;
    cb(x, ud);
    t->in_callback = outer;
}

/* Ends a parked deferred request that will not be answered here: the
 * connection is gone or closes before it. Its cancel callback runs (when
 * the holder had not finished yet), last: it may finish and so free x. */
static void abandon(turbo_deferred *x)
{
    turbo__conn *c = x->conn;
    if (c != NULL && c->sbody == x) { /* its body is not read any more */
        body_stop(c);
        c->closing = 1;
    }
    x->conn = NULL;
    if (!turbo__exchange_cancel(x))
        return;
    turbo_cancel_fn cb = atomic_load_explicit(&x->cancel_cb, memory_order_acquire);
    if (cb != NULL)
        run_cancel(x->thread, cb, x, atomic_load_explicit(&x->cancel_ud, memory_order_relaxed));
}

/* A bytes node was allocated; a deferred one lives in its exchange. */
static void node_free(parked *p)
{
    if (p->d == NULL)
        free(p);
}

/* Drops *link and everything parked after it: answers never sent,
 * deferred requests abandoned. */
static void drop_from(turbo__conn *c, parked **link)
{
    parked *p = *link;
    *link = NULL;
    c->park_tail = NULL;
    c->nparked = 0;
    c->parked_bytes = 0;
    for (parked *q = c->park_head; q != NULL; q = q->next) {
        c->park_tail = q;
        c->nparked++;
        c->parked_bytes += q->len;
    }
    while (p != NULL) {
        parked *next = p->next;
        turbo_deferred *x = p->d;
        node_free(p);
        if (x != NULL)
            abandon(x);
        p = next;
    }
}

static void drop_parked(turbo__conn *c)
{
    drop_from(c, &c->park_head);
}

static void park_deferred(turbo__conn *c, turbo_deferred *x, int minor, int is_head,
                          int keep_alive)
{
    x->minor = minor;
    x->is_head = is_head != 0;
    x->keep_alive = keep_alive != 0;
    parked *p = &x->node;
    p->d = x;
    p->len = 0;
    p->bytes = NULL;
    x->conn = c;
    deferred_deadline(c->t, x);
    park(c, p);
    if (!x->keep_alive)
        c->closing = 1; /* nothing after it will be read */
    if (c->park_head == p)
        stream_at_head(c, x);
}

/* Takes back x, just parked at the tail (its pool queue was full). */
static void unpark_tail(turbo__conn *c, turbo_deferred *x)
{
    parked **link = &c->park_head;
    while (*link != &x->node)
        link = &(*link)->next;
    *link = NULL;
    c->park_tail = NULL;
    for (parked *q = c->park_head; q != NULL; q = q->next)
        c->park_tail = q;
    c->nparked--;
    x->conn = NULL;
}

/* Sends what the queue's head allows: finished deferred answers and the
 * bytes parked behind them, up to the first deferred request still out. */
static void drain_parked(turbo__conn *c)
{
    parked *p;
    while ((p = c->park_head) != NULL) {
        if (p->d != NULL) { /* a deferred request still out */
            stream_at_head(c, p->d);
            break;
        }
        pop_head(c);
        char *dst = out_reserve(c, p->len);
        if (dst == NULL) { /* out of memory: the connection ends here */
            free(p);
            c->closing = 1;
            drop_parked(c);
            return;
        }
        memcpy(dst, p->bytes, p->len);
        c->out_len += p->len;
        free(p);
    }
}

/* The answer of x, at the head of c's queue: queued in c->out. Returns
 * whether the connection stays open after it. behind: answers wait in
 * the queue after it; during a stop they still go (as pipelined inline
 * answers do, drain_pipelined), the last one deciding the close. */
static int stream_end(turbo__conn *c, turbo_deferred *x);

static int send_deferred(turbo__conn *c, turbo_deferred *x, int behind)
{
    turbo__thread *t = c->t;
    if (x->s.begun)
        return stream_end(c, x);
    if (__builtin_expect(x->s.aborted, 0)) {
        c->closing = 1; /* turbo_deferred_abort before anything was sent */
        return 0;
    }
    handler_result(t, &x->res, x->rc);
    c->upgrade_wait = 0;
    if (__builtin_expect(x->ws != NULL, 0)) {
        struct turbo_ws *ws = x->ws;
        x->ws = NULL;
        if (x->res.status == 101) {
            queue_answer(c, &x->res, x->minor, 0, 1, &x->head);
            ws_open(c, ws);
            return 1;
        }
        ws_abort(t, ws);
    }
    int ka = keeps_alive(t, &x->res, x->keep_alive) ||
             (behind && x->keep_alive && !x->res.close);
    return queue_answer(c, &x->res, x->minor, x->is_head, ka, &x->head);
}

void turbo__conn_finished(turbo__thread *t, turbo_deferred *x)
{
    turbo__conn *c = x->conn;
    if (c == NULL || atomic_load_explicit(&x->state, memory_order_acquire) ==
                         TURBO__X_CANCELLED) {
        /* Cancelled first, or its connection is gone: only freed. */
        if (x->ws != NULL) { /* accepted, never upgraded */
            ws_abort(t, x->ws);
            x->ws = NULL;
        }
        turbo__exchange_release(t, x);
        turbo__thread_check_done(t);
        return;
    }
    if (__builtin_expect(c->sbody == x, 0) && body_unread(c))
        x->keep_alive = 0; /* answered before its body ended: the close is said */
    if (c->park_head->d == x) {
        /* At the head: its answer goes now, then what waited behind it. */
        pop_head(c);
        x->conn = NULL;
        int ka = send_deferred(c, x, c->park_head != NULL);
        turbo__exchange_release(t, x);
        if (!ka)
            drop_parked(c); /* it closes the connection: nothing after it goes */
        else
            drain_parked(c);
    } else {
        /* Behind another deferred request: serialized now, and its bytes
         * take its place in the queue, to go when the head goes. */
        parked **link = &c->park_head;
        while ((*link)->d != x)
            link = &(*link)->next;
        parked *p = *link;
        size_t from = c->out_len;
        int ka = send_deferred(c, x, p->next != NULL);
        size_t len = c->out_len - from;
        parked *b = malloc(sizeof(*b) + len);
        if (b != NULL) {
            b->bytes = (char *)(b + 1);
            memcpy(b->bytes, c->out + from, len);
            b->len = len;
            b->d = NULL;
        }
        c->out_len = from;
        x->conn = NULL;
        if (b == NULL) {
            /* Out of memory: this answer and those behind it are lost; the
             * connection ends after the ones before. x's own node is
             * unlinked first: x is released below. */
            *link = p->next;
            c->closing = 1;
            drop_from(c, link);
        } else {
            b->next = p->next;
            *link = b;
            if (c->park_tail == p)
                c->park_tail = b;
            c->parked_bytes += b->len;
            if (!ka) /* it closes the connection: nothing after it goes */
                drop_from(c, &b->next);
        }
        turbo__exchange_release(t, x);
    }
    conn_run(c);
}

/* The deferred request at the head of c's queue is past its deadline: the
 * client gets 504 (503 when the deadline was a stop's grace period) and
 * the connection closes after it; the holder is cancelled. */
static void deferred_expired(turbo__conn *c)
{
    turbo__thread *t = c->t;
    turbo_deferred *x = c->park_head->d;
    if (x->s.begun) {
        /* A stream whose head went (a stop's grace ended): it can only be
         * cut off. Closing abandons it, which runs its cancel callback. */
        turbo__conn_close(c);
        return;
    }
    if (!turbo__exchange_cancel(x))
        return; /* the holder finished just now: its answer is on the way */
    if (c->sbody == x)
        body_stop(c); /* the connection closes after the 503 */
    pop_head(c);
    TURBO__COUNT(t, timeouts);
    turbo_response *res = &t->cur->res;
    turbo__response_error(res, x->stop_deadline ? 503 : 504);
    queue_answer(c, res, x->minor, x->is_head, 0, &x->head);
    turbo__response_reset(res);
    x->conn = NULL;
    drop_parked(c); /* their finishes go through the inbox: x stays */
    turbo_cancel_fn cb = atomic_load_explicit(&x->cancel_cb, memory_order_acquire);
    if (cb != NULL)
        run_cancel(t, cb, x, atomic_load_explicit(&x->cancel_ud, memory_order_relaxed));
    conn_run(c);
}

int turbo__conn_detach(turbo_deferred *x)
{
    turbo__thread *t = x->thread;
    if (x->deferred)
        return 0;
    turbo_deferred *spare = turbo__exchange_new(t);
    if (spare == NULL)
        return -1;
    /* What the handler sees must outlive the parser's stack, the thread's
     * header slots and the route table's read section: copies in x's own
     * arena. Slices of the read buffer stay as they are (x takes the
     * buffer, hand_over_buffer). */
    const turbo__head *h = x->req.head;
    turbo__match *m = &x->match;
    turbo__header *hs = NULL;
    turbo_str *names = NULL;
    if (h->num_headers != 0) {
        hs = turbo__arena_alloc(&x->arena, h->num_headers * sizeof(*hs));
        if (hs == NULL)
            goto oom;
        memcpy(hs, h->headers, h->num_headers * sizeof(*hs));
    }
    if (m->nparams != 0) {
        names = turbo__arena_alloc(&x->arena, m->nparams * sizeof(*names));
        if (names == NULL)
            goto oom;
        for (size_t i = 0; i < m->nparams; i++) {
            char *copy = turbo__arena_alloc(&x->arena, m->param_names[i].len + 1);
            if (copy == NULL)
                goto oom;
            memcpy(copy, m->param_names[i].ptr, m->param_names[i].len);
            names[i] = (turbo_str){copy, m->param_names[i].len};
        }
        m->param_names = names;
    }
    x->head = *h;
    x->head.headers = hs;
    x->req.head = &x->head;
    /* The peer's address is copied, formatted only if asked for (inet_ntop
     * is a printf: most of what a detach would otherwise cost). */
    x->peer = x->req.conn->peer;
    x->req.conn = NULL;
    if (m->route != NULL) {
        turbo__route_hold(m->route); /* inside the read section that found it */
        x->route = m->route;
    }
    atomic_store_explicit(&x->state, TURBO__X_PENDING, memory_order_relaxed);
    x->deferred = 1;
    t->cur = spare;
    t->nlive++;
    return 0;
oom:
    spare->next_free = t->free_x; /* back where it came from */
    t->free_x = spare;
    t->nfree_x++;
    return -1;
}

void turbo__conn_undetach(turbo_deferred *x)
{
    turbo__thread *t = x->thread;
    /* Back to the thread as its current exchange, for the 503 answer. */
    turbo_deferred *spare = t->cur;
    spare->next_free = t->free_x;
    t->free_x = spare;
    t->nfree_x++;
    t->cur = x;
    t->nlive--;
    if (x->route != NULL)
        turbo__route_drop(x->route);
    x->route = NULL;
    x->deferred = 0;
}

/* ---- streamed responses ------------------------------------------------ */

/*
 * A streamed response (turbo.h, "Streamed responses") is a deferred one
 * whose head and body pieces are framed as the holder hands them over,
 * on the owning thread (directly, or from the inbox: stream.c). While its
 * request is first in the connection's queue (at_head) the bytes go to
 * c->out and out by the thread's end-of-iteration flush; before that they
 * wait in x->s.pending, and move to c->out when it gets there.
 */

static void mark_dirty(turbo__conn *c)
{
    if (c->dirty)
        return;
    c->dirty = 1;
    c->dirty_next = c->t->dirty;
    c->t->dirty = c;
}

void turbo__conns_flush_dirty(turbo__thread *t)
{
    turbo__conn *c;
    while ((c = t->dirty) != NULL) {
        t->dirty = c->dirty_next;
        c->dirty = 0;
        if (c->ev_what & EV_WRITE)
            continue; /* blocked: its writable event flushes */
        conn_run(c);
    }
}

/* Room for n framed bytes of x's stream, committed by stream_commit. */
static char *stream_room(turbo__conn *c, turbo_deferred *x, size_t n)
{
    if (x->s.at_head)
        return out_reserve(c, n);
    if (turbo__vec_reserve(&x->s.pending, n) != 0)
        return NULL;
    return x->s.pending.ptr + x->s.pending.len;
}

static void stream_commit(turbo__conn *c, turbo_deferred *x, size_t n)
{
    if (x->s.at_head) {
        c->out_len += n;
        mark_dirty(c);
    } else {
        x->s.pending.len += n;
    }
}

/* Out of memory mid-stream: the answer cannot be completed. Later pieces
 * are dropped and the connection closes after what was framed. */
static void stream_broken(turbo_deferred *x)
{
    x->s.discard = 1;
    x->s.broken = 1;
    x->keep_alive = 0;
}

/* x is (now) first in c's queue. */
static void stream_at_head(turbo__conn *c, turbo_deferred *x)
{
    if (x->s.at_head)
        return;
    x->s.at_head = 1;
    if (!x->s.begun)
        return;
    x->deadline = UINT64_MAX; /* its head is out: no 504 any more */
    if (x->s.pending.len != 0) {
        char *p = out_reserve(c, x->s.pending.len);
        if (p == NULL) {
            stream_broken(x);
        } else {
            memcpy(p, x->s.pending.ptr, x->s.pending.len);
            c->out_len += x->s.pending.len;
        }
        x->s.pending.len = 0;
    }
    mark_dirty(c);
}

/* The holder's start, on the owning thread (x parked, or cancelled). */
void turbo__conn_stream_start(turbo_deferred *x)
{
    turbo__conn *c = x->conn;
    if (c == NULL)
        return; /* cancelled: nothing will be sent */
    turbo__thread *t = x->thread;
    turbo_response *res = &x->res;
    if (x->rc != TURBO_OK || res->invalid)
        return; /* answered 500 at the finish, as an unstreamed one */
    int st = res->status;
    int body_allowed = !(st < 200 || st == 204 || st == 304);
    uint64_t len = x->s.len;
    turbo__framing f;
    f.minor = x->minor;
    f.body_allowed = body_allowed;
    f.body_len = len;
    f.mode = !body_allowed || len != TURBO_LENGTH_UNKNOWN ? TURBO__FRAME_LENGTH
             : x->minor == 1                              ? TURBO__FRAME_CHUNKED
                                                          : TURBO__FRAME_CLOSE;
    int ka = keeps_alive(t, res, x->keep_alive);
    if (f.mode == TURBO__FRAME_CLOSE && !x->is_head)
        ka = 0;
    f.keep_alive = ka;
    x->keep_alive = ka != 0;
    if (!ka)
        c->closing = 1; /* nothing after it will be read */
    char *p = stream_room(c, x, turbo__response_head_bound(res, t->server));
    if (p == NULL) {
        /* No head could be framed: nothing of this stream can go. */
        x->s.begun = 1;
        stream_broken(x);
        return;
    }
    stream_commit(c, x, turbo__response_write_head(res, t, &f, p));
    x->s.begun = 1;
    x->s.chunked = f.mode == TURBO__FRAME_CHUNKED && !x->is_head;
    x->s.close_delimited = f.mode == TURBO__FRAME_CLOSE && !x->is_head;
    x->s.discard = !body_allowed || x->is_head;
    if (x->s.at_head)
        x->deadline = UINT64_MAX;
}

/* One piece, on the owning thread. Framed as a chunk when chunked. */
void turbo__conn_stream_data(turbo_deferred *x, const char *data, size_t n)
{
    x->s.framed += n; /* counted as gone when dropped: no backlog */
    turbo__conn *c = x->conn;
    if (c == NULL || !x->s.begun || x->s.discard)
        return;
    if (x->s.len != TURBO_LENGTH_UNKNOWN && x->s.framed > x->s.len)
        return; /* the holder checked; never past the announced length */
    char *p = stream_room(c, x, n + (x->s.chunked ? 20 : 0));
    if (p == NULL) {
        stream_broken(x);
        return;
    }
    char *start = p;
    if (x->s.chunked) {
        char hex[16];
        int k = 0;
        size_t v = n;
        do {
            hex[k++] = "0123456789abcdef"[v & 15];
            v >>= 4;
        } while (v != 0);
        while (k > 0)
            *p++ = hex[--k];
        *p++ = '\r';
        *p++ = '\n';
    }
    memcpy(p, data, n);
    p += n;
    if (x->s.chunked) {
        *p++ = '\r';
        *p++ = '\n';
    }
    stream_commit(c, x, (size_t)(p - start));
}

/* The finish of a started stream (send_deferred): the last chunk, the
 * count and the log line. When x is not at the head its framed bytes go
 * to c->out from where turbo__conn_finished moves them to their place in
 * the queue. Returns whether the connection stays open. */
static int stream_end(turbo__conn *c, turbo_deferred *x)
{
    int ka = x->keep_alive;
    if (x->s.aborted) {
        /* Cut short on purpose: no last chunk, and the connection ends,
         * so the client cannot take what it got for the whole body. */
        ka = 0;
    } else if (x->s.chunked && !x->s.discard) {
        char *p = stream_room(c, x, 5);
        if (p == NULL) {
            ka = 0;
        } else {
            memcpy(p, "0\r\n\r\n", 5);
            stream_commit(c, x, 5);
        }
    }
    if (x->s.close_delimited || x->s.broken)
        ka = 0;
    if (x->s.len != TURBO_LENGTH_UNKNOWN && x->s.framed < x->s.len && !x->s.discard)
        ka = 0; /* shorter than announced: the client must see an end */
    if (!x->s.at_head && x->s.pending.len != 0) {
        char *p = out_reserve(c, x->s.pending.len);
        if (p == NULL) {
            ka = 0;
        } else {
            memcpy(p, x->s.pending.ptr, x->s.pending.len);
            c->out_len += x->s.pending.len;
        }
        x->s.pending.len = 0;
    }
    TURBO__COUNT(c->t, requests);
    if (__builtin_expect(c->t->answer_hooks, 0))
        answer_hooks(c, &x->res, &x->head, x->is_head, x);
    if (!ka)
        c->closing = 1;
    return ka;
}

/* After a flush, for the stream first in c's queue: how much of it has
 * gone, and its drain callback once the queue is down to the low mark. */
static void stream_progress(turbo__conn *c)
{
    turbo_deferred *x = c->park_head->d;
    turbo__thread *t = c->t;
    uint64_t backlog = out_total(c) - c->out_sent;
    uint64_t gone = x->s.framed > backlog ? x->s.framed - backlog : 0;
    /* release: pairs with the holder's acquire in turbo_deferred_write. */
    atomic_store_explicit(&x->s.gone, gone, memory_order_release);
    if (!atomic_load_explicit(&x->s.want_drain, memory_order_relaxed))
        return;
    uint64_t written = atomic_load_explicit(&x->s.written, memory_order_acquire);
    if (written - gone > t->server->cfg.write_low)
        return;
    atomic_store_explicit(&x->s.want_drain, 0, memory_order_relaxed);
    turbo_drain_fn cb = atomic_load_explicit(&x->s.drain_cb, memory_order_acquire);
    if (cb == NULL)
        return;
    /* As a cancel callback runs: a finish it calls goes through the
     * inbox, since the connection code around it must not be re-entered;
     * its writes are framed at once. */
    int outer = t->in_callback;
    t->in_callback = 1;
    cb(x, atomic_load_explicit(&x->s.drain_ud, memory_order_relaxed));
    t->in_callback = outer;
}

/* ---- WebSocket ------------------------------------------------------------ */

/*
 * An upgraded connection (turbo.h, "WebSocket"): process() hands its input
 * to ws_process, which feeds the frame reader (ws.c) and acts on its
 * events; frames the server sends go to c->out like any answer, flushed
 * at the end of the loop iteration (mark_dirty). Deadlines: PH_WS is the
 * next ping while open, the answer to a ping, or the peer's close after
 * ours; PH_WRITE while the client does not read.
 */

static int has_upgrade(const turbo__head *h)
{
    for (size_t i = 0; i < h->num_headers; i++)
        if (turbo__ieq(h->headers[i].name.ptr, h->headers[i].name.len, "upgrade"))
            return 1;
    return 0;
}

static int ws_frame(turbo__conn *c, unsigned opcode, const void *data, size_t len);

static void ws_arm(turbo__conn *c, unsigned ms)
{
    c->phase = PH_WS;
    c->deadline = ms == 0 ? UINT64_MAX : c->t->now_ms + ms;
}

static void ws_free(struct turbo_ws *ws)
{
    turbo__vec_free(&ws->msg);
    turbo__vec_free(&ws->early);
    free(ws);
}

/* Reports the end (on_close, once) and frees ws. The connection is gone
 * or going: ws->conn is NULL. */
static void ws_abort(turbo__thread *t, struct turbo_ws *ws)
{
    if (ws->on_close != NULL) {
        int outer = t->in_callback; /* finishes from it go through the inbox */
        t->in_callback = 1;
        ws->on_close(ws, ws->code != 0 ? (int)ws->code : 1006, ws->reason, ws->reason_len,
                        ws->ud);
        t->in_callback = outer;
    }
    ws_free(ws);
}

static void ws_open(turbo__conn *c, struct turbo_ws *ws)
{
    c->ws = ws;
    ws->conn = c;
    ws->opened = 1;
    c->need = 0;
    const turbo_config *cfg = &c->t->server->cfg;
    ws_arm(c, ws->close_sent ? cfg->ws_timeout_ms : cfg->ws_ping_ms);
    if (ws->early.len != 0) { /* sent before the 101: right behind it */
        char *p = out_reserve(c, ws->early.len);
        if (p == NULL) {
            c->closing = 1;
        } else {
            memcpy(p, ws->early.ptr, ws->early.len);
            c->out_len += ws->early.len;
        }
        turbo__vec_free(&ws->early);
    }
}

/* A frame of ws: to its connection, or kept until the 101 has gone. */
static int ws_queue(struct turbo_ws *ws, unsigned opcode, const void *data, size_t len)
{
    if (ws->conn != NULL)
        return ws_frame(ws->conn, opcode, data, len);
    if (turbo__vec_reserve(&ws->early, len + 10) != 0)
        return -1;
    uint8_t *p = (uint8_t *)ws->early.ptr + ws->early.len;
    size_t h = turbo__ws_frame_header(p, 1, opcode, len);
    if (len != 0)
        memcpy(p + h, data, len);
    ws->early.len += h + len;
    return 0;
}

/* Queues one frame. -1 when out of memory (the connection then closes). */
static int ws_frame(turbo__conn *c, unsigned opcode, const void *data, size_t len)
{
    char *p = out_reserve(c, len + 10);
    if (p == NULL) {
        c->closing = 1;
        return -1;
    }
    size_t h = turbo__ws_frame_header((uint8_t *)p, 1, opcode, len);
    if (len != 0)
        memcpy(p + h, data, len);
    c->out_len += h + len;
    mark_dirty(c);
    return 0;
}

/* Sends our close (code 0: none), once; the peer's close is waited for
 * the WebSocket timeout, then the connection goes. */
static void ws_send_close_ws(struct turbo_ws *ws, unsigned code, const char *reason, size_t len)
{
    if (ws->close_sent)
        return;
    uint8_t payload[TURBO__WS_MAX_CONTROL];
    size_t n = turbo__ws_close_payload(payload, code, reason, len);
    ws->close_sent = 1;
    ws_queue(ws, TURBO__WS_OP_CLOSE, payload, n);
    turbo__conn *c = ws->conn;
    if (c != NULL && c->phase != PH_WRITE)
        ws_arm(c, c->t->server->cfg.ws_timeout_ms);
}

static void ws_send_close(turbo__conn *c, unsigned code, const char *reason, size_t len)
{
    ws_send_close_ws(c->ws, code, reason, len);
}

/* A protocol violation: our close with its code, then the end. */
static void ws_fail(turbo__conn *c, unsigned code)
{
    struct turbo_ws *ws = c->ws;
    ws->code = code;
    ws_send_close(c, code, NULL, 0);
    c->closing = 1; /* after the close frame: linger, then close */
}

static void ws_deliver(turbo__conn *c, struct turbo_ws *ws, int binary, const void *data,
                       size_t len)
{
    if (ws->on_message != NULL && !ws->close_sent)
        ws->on_message(ws, binary, data, len, ws->ud);
    (void)c;
}

static void ws_process(turbo__conn *c)
{
    struct turbo_ws *ws = c->ws;
    size_t pos = 0;
    if (c->in_len != 0 && !ws->close_sent && c->phase != PH_WRITE) {
        ws_arm(c, c->t->server->cfg.ws_ping_ms); /* it spoke: alive, not idle */
        ws->ping_out = 0;
    }
    while (pos < c->in_len && !ws->paused && !c->closing && c->ws == ws) {
        struct turbo__ws_event ev;
        ssize_t r = turbo__ws_reader_feed(&ws->rd, (uint8_t *)c->in + pos, c->in_len - pos, &ev);
        if (r < 0) {
            ws_fail(c, (unsigned)-r);
            pos = c->in_len;
            break;
        }
        pos += (size_t)r;
        if (ev.type == TURBO__WS_NONE)
            break;
        if (ev.type == TURBO__WS_DATA) {
            int binary = ev.opcode == TURBO__WS_OP_BINARY;
            if (ev.first && ev.fin) { /* whole in the buffer: no copy */
                ws_deliver(c, ws, binary, ev.data, ev.len);
                continue;
            }
            if (turbo__vec_append(&ws->msg, ev.data, ev.len) != 0) {
                ws_fail(c, 1011);
                pos = c->in_len;
                break;
            }
            if (ev.fin) {
                ws_deliver(c, ws, binary, ws->msg.ptr, ws->msg.len);
                ws->msg.len = 0;
            }
        } else if (ev.type == TURBO__WS_PING) {
            if (!ws->close_sent)
                ws_frame(c, TURBO__WS_OP_PONG, ev.data, ev.len);
        } else if (ev.type == TURBO__WS_PONG) {
            ws->ping_out = 0;
        } else { /* TURBO__WS_CLOSE */
            ws->close_rcvd = 1;
            if (ws->code == 0) {
                ws->code = ev.close_code;
                ws->reason_len = ev.len <= sizeof(ws->reason) ? ev.len : sizeof(ws->reason);
                memcpy(ws->reason, ev.data, ws->reason_len);
            }
            /* Echo its code (none for none), then close: the server ends
             * the TCP connection first (RFC 6455 7.1.1). */
            ws_send_close(c, ev.close_code == 1005 ? 0 : ev.close_code, NULL, 0);
            c->closing = 1;
            pos = c->in_len;
            break;
        }
    }
    if (c->closing) {
        c->in_len = 0;
    } else if (pos != 0) {
        memmove(c->in, c->in + pos, c->in_len - pos);
        c->in_len -= pos;
    }
}

/* After a flush: the drain callback once the queue is at the low mark. */
static void ws_progress(turbo__conn *c)
{
    struct turbo_ws *ws = c->ws;
    if (!ws->want_drain || out_total(c) - c->out_sent > c->t->server->cfg.write_low)
        return;
    ws->want_drain = 0;
    if (ws->on_drain != NULL) {
        turbo__thread *t = c->t;
        int outer = t->in_callback;
        t->in_callback = 1;
        ws->on_drain(ws, ws->ud);
        t->in_callback = outer;
    }
}

static void ws_expire(turbo__conn *c)
{
    struct turbo_ws *ws = c->ws;
    const turbo_config *cfg = &c->t->server->cfg;
    if (ws->close_sent) { /* no close came back in time */
        turbo__conn_close(c);
        return;
    }
    if (ws->ping_out) { /* no pong came back in time */
        ws->code = 1011;
        turbo__conn_close(c);
        return;
    }
    ws->ping_out = 1;
    ws_frame(c, TURBO__WS_OP_PING, NULL, 0);
    ws_arm(c, cfg->ws_timeout_ms);
}

/* A stop: 1001, then the peer's close or the timeout. */
static void ws_going_away(turbo__conn *c)
{
    struct turbo_ws *ws = c->ws;
    if (ws->code == 0)
        ws->code = 1001;
    ws_send_close(c, 1001, NULL, 0);
    c->closing = 1;
}

/* The handshake's request fields (RFC 6455 4.2.1). */
static int has_token(turbo_str v, const char *tok)
{
    const char *p = v.ptr, *end = v.ptr + v.len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *s = p;
        while (p < end && *p != ',')
            p++;
        const char *e = p;
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if (turbo__ieq(s, (size_t)(e - s), tok))
            return 1;
    }
    return 0;
}

static int any_header_has(const turbo_request *req, const char *name, const char *tok)
{
    size_t n = turbo_request_header_count(req);
    for (size_t i = 0; i < n; i++) {
        turbo_str k, v;
        turbo_request_header_at(req, i, &k, &v);
        if (turbo__ieq(k.ptr, k.len, name) && has_token(v, tok))
            return 1;
    }
    return 0;
}

static turbo_ws *ws_refuse(turbo_response *res, int status, int err)
{
    turbo__response_error(res, status);
    if (status == 426) {
        turbo_response_header(res, "Sec-WebSocket-Version", 21, "13", 2);
        turbo_response_header(res, "Upgrade", 7, "websocket", 9);
    }
    errno = err;
    return NULL;
}

turbo_ws *turbo_ws_accept(turbo_request *req, turbo_response *res, turbo_ws_message_fn on_message,
                          turbo_ws_close_fn on_close, void *ud, const char *protocol)
{
    if (req == NULL || res == NULL) {
        errno = EINVAL;
        return NULL;
    }
    turbo_deferred *x = turbo__exchange_of(req);
    turbo__thread *t = x->thread;
    if (res != &x->res || x->blocking || turbo__tls_thread != t || x->ws != NULL ||
        x->s.started) {
        errno = EPERM;
        return NULL;
    }
    /* Upgraded in request order, with nothing parked ahead of it: inline
     * with an empty queue, or deferred and first in it. */
    turbo__conn *c = x->deferred ? x->conn : req->conn;
    if (c == NULL) {
        errno = EPERM;
        return NULL;
    }
    if (x->deferred ? c->park_head != &x->node : c->park_head != NULL)
        return ws_refuse(res, 400, EINVAL);
    const turbo__head *h = req->head;
    turbo_str key, version;
    if (!str_eq(h->method, "GET", 3) || h->minor != 1 ||
        !any_header_has(req, "upgrade", "websocket") ||
        !any_header_has(req, "connection", "upgrade"))
        return ws_refuse(res, 400, EINVAL);
    if (turbo_request_header(req, "Sec-WebSocket-Version", 21, &version) != TURBO_OK ||
        !str_eq(version, "13", 2))
        return ws_refuse(res, 426, EINVAL);
    char accept[29];
    if (turbo_request_header(req, "Sec-WebSocket-Key", 17, &key) != TURBO_OK ||
        turbo__ws_accept_key(key.ptr, key.len, accept) != 0)
        return ws_refuse(res, 400, EINVAL);
    struct turbo_ws *ws = calloc(1, sizeof(*ws));
    if (ws == NULL) {
        errno = ENOMEM;
        return ws_refuse(res, 500, ENOMEM);
    }
    ws->t = t;
    ws->on_message = on_message;
    ws->on_close = on_close;
    ws->ud = ud;
    const turbo_config *cfg = &t->server->cfg;
    turbo__ws_reader_init(&ws->rd, cfg->ws_max_message, cfg->ws_max_message);
    if (turbo_response_header(res, "Sec-WebSocket-Accept", 20, accept, 28) != TURBO_OK ||
        (protocol != NULL &&
         turbo_response_header(res, "Sec-WebSocket-Protocol", 22, protocol, strlen(protocol)) !=
             TURBO_OK)) {
        ws_free(ws);
        return ws_refuse(res, 500, ENOMEM);
    }
    res->status = 101;
    res->upgrade = 1;
    res->body.len = 0;
    x->ws = ws;
    return ws;
}

/* The ws may be used here and now: its thread, not closing, and not
 * ended (before its 101, frames are kept for after it). */
static int ws_usable(const struct turbo_ws *ws)
{
    return turbo__tls_thread == ws->t && !(ws->opened && ws->conn == NULL) && !ws->close_sent &&
           !ws->close_rcvd;
}

int turbo_ws_send(turbo_ws *ws, int binary, const void *data, size_t len)
{
    if (ws == NULL || (data == NULL && len != 0))
        return TURBO_EINVAL;
    if (!ws_usable(ws))
        return TURBO_ESTATE;
    if (ws_queue(ws, binary ? TURBO__WS_OP_BINARY : TURBO__WS_OP_TEXT, data, len) != 0)
        return TURBO_ENOMEM;
    turbo__conn *c = ws->conn;
    uint64_t queued = c != NULL ? out_total(c) - c->out_sent : ws->early.len;
    if (queued > ws->t->server->cfg.write_high) {
        ws->want_drain = 1;
        return TURBO_FULL;
    }
    return TURBO_OK;
}

int turbo_ws_ping(turbo_ws *ws, const void *data, size_t len)
{
    if (ws == NULL || (data == NULL && len != 0))
        return TURBO_EINVAL;
    if (len > TURBO__WS_MAX_CONTROL)
        return TURBO_ERANGE;
    if (!ws_usable(ws))
        return TURBO_ESTATE;
    return ws_queue(ws, TURBO__WS_OP_PING, data, len) == 0 ? TURBO_OK : TURBO_ENOMEM;
}

int turbo_ws_close(turbo_ws *ws, int code, const char *reason, size_t len)
{
    if (ws == NULL || (reason == NULL && len != 0) ||
        (code != 0 && (code < 0 || !turbo__ws_close_code_valid((unsigned)code))))
        return TURBO_EINVAL;
    if (!ws_usable(ws))
        return TURBO_ESTATE;
    if (ws->code == 0) {
        ws->code = code != 0 ? (unsigned)code : 1005;
        size_t n = len < sizeof(ws->reason) ? len : sizeof(ws->reason);
        memcpy(ws->reason, reason, n);
        ws->reason_len = n;
    }
    ws_send_close_ws(ws, (unsigned)code, reason, len);
    return TURBO_OK;
}

void turbo_ws_on_drain(turbo_ws *ws, turbo_ws_drain_fn on_drain)
{
    if (ws != NULL)
        ws->on_drain = on_drain;
}

void turbo_ws_pause(turbo_ws *ws, int paused)
{
    if (ws == NULL || turbo__tls_thread != ws->t || ws->conn == NULL)
        return;
    int was = ws->paused;
    ws->paused = paused != 0;
    if (was && !ws->paused)
        mark_dirty(ws->conn); /* what waits in the buffer, then read again */
}

uint64_t turbo_ws_queued(const turbo_ws *ws)
{
    if (ws == NULL || ws->conn == NULL)
        return 0;
    return out_total(ws->conn) - ws->conn->out_sent;
}

turbo_loop *turbo_ws_loop(const turbo_ws *ws)
{
    return ws != NULL ? &ws->t->loop : NULL;
}

void *turbo_ws_data(const turbo_ws *ws)
{
    return ws != NULL ? ws->ud : NULL;
}

void turbo_ws_set_data(turbo_ws *ws, void *ud)
{
    if (ws != NULL)
        ws->ud = ud;
}

/* ---- life cycle ------------------------------------------------------ */

int turbo__conn_open(turbo__thread *t, int fd, const struct sockaddr *peer, socklen_t peerlen)
{
    turbo__conn *c = t->free_conns;
    if (c != NULL) {
        t->free_conns = c->next;
        t->nfree_conns--;
    } else {
        c = malloc(sizeof(*c));
        if (c == NULL)
            return TURBO_ENOMEM;
    }
    memset(c, 0, sizeof(*c));
    c->t = t;
    c->fd = fd;
    if (peerlen <= sizeof(c->peer))
        memcpy(&c->peer, peer, peerlen);
    /* A connection that has sent nothing yet gets the header timeout, not
     * the (longer) idle one: opening sockets and sending nothing is the
     * cheapest attack there is. */
    set_deadline(c, t->server->cfg.proxy_protocol ? PH_PROXY : PH_IDLE,
                 t->server->cfg.header_timeout_ms);
    event_assign(&c->ev, t->base, fd, EV_READ | EV_PERSIST, on_event, c);
    c->ev_what = EV_READ;
    if (event_add(&c->ev, NULL) != 0) {
        c->next = t->free_conns;
        t->free_conns = c;
        t->nfree_conns++;
        return TURBO_ESYS;
    }
    c->next = t->conns;
    if (t->conns != NULL)
        t->conns->prev = c;
    t->conns = c;
    t->nconns++;
    TURBO__COUNT(t, accepted);
    TURBO__COUNT(t, open);
    return TURBO_OK;
}

void turbo__conn_close(turbo__conn *c)
{
    turbo__thread *t = c->t;
    if (c->dirty) {
        turbo__conn **link = &t->dirty;
        while (*link != c)
            link = &(*link)->dirty_next;
        *link = c->dirty_next;
        c->dirty = 0;
    }
    drop_parked(c); /* the client left: deferred requests are cancelled */
    if (c->ws != NULL) {
        struct turbo_ws *ws = c->ws;
        c->ws = NULL;
        ws->conn = NULL;
        ws_abort(t, ws); /* on_close, then freed */
    }
    c->upgrade_wait = 0;
    event_del(&c->ev);
    close(c->fd);
    in_release(c);
    out_release(c);
    free(c->refs);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    t->nconns--;
    TURBO__UNCOUNT(t, open);
    if (t->nfree_conns < KEEP_FREE_CONNS) {
        c->next = t->free_conns;
        t->free_conns = c;
        t->nfree_conns++;
    } else {
        free(c);
    }
    turbo__thread_check_done(t);
}

static void ws_expire(turbo__conn *c);

static void expire(turbo__conn *c)
{
    turbo__thread *t = c->t;
    if (c->phase == PH_LINGER) {
        /* The end of the post-response drain, not a client timeout: a
         * 408'd connection was counted when it expired, and one closed
         * after a 400 never timed out. Counting here counted the first
         * twice and the second falsely (tests/test_abuse.c). */
        turbo__conn_close(c);
        return;
    }
    if (c->phase == PH_WS) {
        ws_expire(c);
        return;
    }
    if (t->stopping && ((c->phase == PH_IDLE && !c->used) || c->phase == PH_PROXY)) {
        turbo__conn_close(c); /* the stop's grace ended, not a client timeout */
        return;
    }
    TURBO__COUNT(t, timeouts);
    int in_flight = (c->phase == PH_HEAD && c->in_len != 0) || c->phase == PH_BODY;
    if (in_flight && c->out_len == c->out_sent) {
        /* A request was under way: tell the client why it is cut off. */
        reject(c, 408);
        c->in_len = 0;
        if (flush(c) == 1) {
            start_linger(c);
            return;
        }
    }
    turbo__conn_close(c);
}

void turbo__conns_sweep(turbo__thread *t)
{
    t->now_ms = turbo__now_ms();
    turbo__conn *c = t->conns;
    while (c != NULL) {
        turbo__conn *next = c->next;
        if (__builtin_expect(c->bmode == BM_READ, 0) && c->sbody->b.reading &&
            !c->sbody->b.paused && c->phase == PH_BODY && t->now_ms >= c->deadline) {
            /* The client stopped sending the body it is read for: gone,
             * as far as its request is concerned (cancelled). */
            TURBO__COUNT(t, timeouts);
            turbo__conn_close(c);
        } else if (c->park_head != NULL) { /* not idle: only the deferred timeout */
            turbo_deferred *x = c->park_head->d;
            if (t->now_ms >= x->deadline)
                deferred_expired(c);
            else if (x->s.begun && c->phase == PH_WRITE && t->now_ms >= c->deadline)
                expire(c); /* a stream's client stopped reading */
        } else if (t->now_ms >= c->deadline) {
            expire(c);
        }
        c = next;
    }
}

/* How long a connection accepted before the stop, that has not sent its
 * first request yet, is waited for. */
#define STOP_GRACE_MS 2000

static void ws_going_away(turbo__conn *c);

void turbo__conns_stop(turbo__thread *t)
{
    unsigned grace = t->server->cfg.header_timeout_ms < STOP_GRACE_MS
                         ? t->server->cfg.header_timeout_ms
                         : STOP_GRACE_MS;
    uint64_t deferred_end = t->now_ms + t->server->cfg.stop_grace_ms;
    turbo__conn *c = t->conns;
    while (c != NULL) {
        turbo__conn *next = c->next;
        if (c->ws != NULL) {
            ws_going_away(c);
            c = next;
            continue;
        }
        if (c->park_head != NULL) {
            /* Deferred answers still to come: waited for up to the grace
             * period, then 503 (deferred_expired). */
            for (parked *p = c->park_head; p != NULL; p = p->next)
                if (p->d != NULL && p->d->deadline > deferred_end) {
                    p->d->deadline = deferred_end;
                    p->d->stop_deadline = 1;
                }
            c = next;
            continue;
        }
        /* Idle: nothing in flight. Others finish their request (dispatch
         * sees t->stopping and closes after the response). A request that
         * reached the socket but not yet this loop is not idle: the loop
         * reads it next and answers it, with close. A connection that never
         * sent a byte was accepted a moment ago, and its client, which
         * cannot know of the stop, is about to send its first request:
         * closing it would fail that request, so it gets a short grace. An
         * idle keep-alive connection is closed: a client expects that
         * between requests, and retries. */
        if ((c->phase == PH_IDLE || c->phase == PH_PROXY) && c->in_len == 0 &&
            out_total(c) == c->out_sent) {
            char probe;
            ssize_t n = recv(c->fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
            if (n < 0 && errno == EAGAIN && !c->used) {
                if (t->now_ms + grace < c->deadline)
                    c->deadline = t->now_ms + grace;
            } else if (n <= 0) {
                turbo__conn_close(c);
            }
        }
        c = next;
    }
}

void turbo__conns_free_all(turbo__thread *t)
{
    while (t->conns != NULL)
        turbo__conn_close(t->conns);
    while (t->free_conns != NULL) {
        turbo__conn *next = t->free_conns->next;
        free(t->free_conns);
        t->free_conns = next;
    }
    t->nfree_conns = 0;
}

void turbo__conn_remote(const turbo__conn *c, turbo__arena *a, turbo_str *addr, int *port)
{
    turbo__peer_format(&c->peer, a, addr, port);
}

void turbo__peer_format(const turbo__peer *peer, turbo__arena *a, turbo_str *addr, int *port)
{
    addr->ptr = NULL;
    addr->len = 0;
    *port = 0;
    char *buf;
    if (peer->sa.sa_family == AF_INET) {
        buf = a != NULL ? turbo__arena_alloc(a, INET_ADDRSTRLEN) : NULL;
        if (buf != NULL && inet_ntop(AF_INET, &peer->v4.sin_addr, buf, INET_ADDRSTRLEN) != NULL) {
            addr->ptr = buf;
            addr->len = strlen(buf);
        }
        *port = ntohs(peer->v4.sin_port);
    } else if (peer->sa.sa_family == AF_INET6) {
        buf = a != NULL ? turbo__arena_alloc(a, INET6_ADDRSTRLEN) : NULL;
        if (buf != NULL && inet_ntop(AF_INET6, &peer->v6.sin6_addr, buf, INET6_ADDRSTRLEN) != NULL) {
            addr->ptr = buf;
            addr->len = strlen(buf);
        }
        *port = ntohs(peer->v6.sin6_port);
    }
}
