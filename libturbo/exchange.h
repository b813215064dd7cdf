/*
 * The exchange: one request with its response, and everything they point
 * to that must outlive the read buffer (arena, parameter match, copied
 * head). Every request is served from one: the I/O thread keeps a current
 * exchange (thread.h: t->cur) for its inline requests, reset after each.
 * A request that is deferred (turbo_defer, a blocking route) takes its
 * exchange with it, and with it its read buffer; the thread takes a fresh
 * exchange from its free list. The public turbo_deferred is this struct.
 *
 * Who touches what: the owning I/O thread until the request is deferred;
 * then the holder (one thread at a time) for req and res, and the owning
 * thread for the bookkeeping fields (conn, slot, cancel, deadline). The
 * state word is the only field both use at once: the holder's finish and
 * the owner's cancel each claim it with a CAS, so exactly one of "answer"
 * and "cancel callback" happens.
 */
#ifndef TURBO_EXCHANGE_H
#define TURBO_EXCHANGE_H

#include <stdatomic.h>
#include <stdint.h>

#include "turbo/turbo.h"

#include "arena.h"
#include "inbox.h"
#include "parse.h"
#include "request.h"
#include "response.h"
#include "router.h"
#include "vec.h"

typedef struct turbo__conn turbo__conn;
typedef struct turbo__thread turbo__thread;

/* An answer waiting in a connection's queue (conn.c): a deferred request
 * (d, this node inside its exchange) or the bytes of a later answer. */
typedef struct turbo__parked {
    struct turbo__parked *next;
    turbo_deferred *d;
    size_t len;
    char *bytes;
} turbo__parked;

enum turbo__xstate {
    TURBO__X_PENDING = 0, /* deferred, not finished, not cancelled */
    TURBO__X_FINISHED,    /* the holder called finish first */
    TURBO__X_CANCELLED    /* the owner cancelled first */
};

struct turbo_deferred {
    turbo__msg msg; /* its finish, pushed on the owner's inbox (first member) */
    turbo_request req;
    turbo_response res;
    turbo__arena arena;
    turbo__match match;
    turbo__thread *thread; /* the owning I/O thread */

    _Atomic int state;
    /* Written by the thread running the handler (the owner, or a pool
     * thread) while it runs; each its own byte, never in a bitfield an
     * owner field shares. */
    unsigned char finished_inline; /* finished before its handler returned */
    unsigned char holder_defers;   /* a blocking handler itself deferred */
    unsigned char blocking;        /* runs on the blocking pool (set before queueing) */
    /* A blocking exchange is posted home when both its pool run and (when
     * its handler deferred it) its holder are done with it: whoever
     * drops the last hold posts it. */
    _Atomic int holds;
    int rc; /* the handler's result (an error after turbo_defer: a 500) */
    /* The cancel callback: ud is stored before cb (release), read after
     * it (acquire), so a blocking handler may set it on its own thread. */
    _Atomic(turbo_cancel_fn) cancel_cb;
    void *_Atomic cancel_ud;

    /* The owner's alone. */
    unsigned deferred : 1;      /* turbo_defer() or a blocking route took it */
    unsigned is_head : 1, keep_alive : 1;
    unsigned stop_deadline : 1; /* its deadline is the stop's grace: 503, not 504 */
    unsigned in_pooled : 1;
    int minor;
    turbo__conn *conn;     /* NULL once the connection is gone */
    turbo__parked node;    /* its place in conn's queue */
    struct route *route;   /* held while deferred (turbo__route_hold) */
    uint64_t deadline;     /* 504 (or 503 at a stop's end) past it */
    char *in;              /* the read buffer it took with it */
    turbo__head head;      /* copies of what the parser left on its stack */
    turbo__peer peer;      /* the client's address, copied at detach */
    struct turbo_ws *ws;   /* accepted, upgraded when its 101 is sent (conn.c) */

    turbo_deferred *next_free; /* the owner's free list */

    /* A streamed response (stream.c, conn.c: turbo_deferred_stream). */
    struct turbo__stream {
        /* The holder's, written before the start message or call
         * publishes them to the owner. */
        unsigned char started;
        unsigned char aborted; /* turbo_deferred_abort: end without a proper end */
        uint64_t len; /* announced Content-Length, or TURBO_LENGTH_UNKNOWN */
        /* Shared. written: payload accepted by turbo_deferred_write (the
         * holder adds); gone: payload the owner saw leave for the socket
         * (the owner stores, release; the holder loads, acquire). The
         * holder's queue is written - gone. want_drain: a write reported
         * TURBO_FULL (stored by the holder before its message is pushed,
         * or on the owner's own thread), cleared by the owner as it runs
         * the drain callback. msgs: stream messages pushed and not yet
         * handled, so that a holder on the owner's thread never overtakes
         * one pushed by an earlier holder elsewhere. */
        _Atomic uint64_t written, gone;
        _Atomic int want_drain;
        _Atomic unsigned msgs;
        /* ud stored before cb (release), read after it (acquire). */
        _Atomic(turbo_drain_fn) drain_cb;
        void *_Atomic drain_ud;
        /* The owner's. */
        unsigned begun : 1;   /* the head is framed (in out or pending) */
        unsigned at_head : 1; /* first in its connection's queue: bytes go to the socket */
        unsigned chunked : 1, close_delimited : 1;
        unsigned discard : 1; /* pieces are dropped: HEAD, 204, 304, broken */
        unsigned broken : 1;  /* out of memory: the connection closes after it */
        uint64_t framed;   /* payload bytes framed so far */
        turbo__vec pending; /* framed bytes while not at the head */
    } s;

    /* A request body read as it arrives (conn.c: turbo_deferred_body). */
    struct turbo__body {
        /* The holder's, written before the message or call that hands
         * them to the owner (as the stream's fields are). */
        unsigned char asked;  /* turbo_deferred_body was called */
        turbo_body_fn cb;
        void *ud;
        uint64_t max;
        /* Set by the holder's resume, cleared by the owner that takes it:
         * at most one resume message in flight. */
        _Atomic int resume;
        /* The owner's. */
        unsigned on_socket : 1; /* a TURBO_ROUTE_STREAM_BODY request: the body is still to read */
        unsigned reading : 1;   /* the owner took the ask: pieces go to cb */
        unsigned paused : 1;    /* cb returned TURBO_PAUSE */
        unsigned ended : 1;     /* cb has had its last call */
        unsigned asked_here : 1; /* asked inside its handler, on this thread:
                                  * taken as it returns, with no message */
    } b;
};

/* A stream operation another thread hands the owner (stream.c). */
typedef struct turbo__smsg {
    turbo__msg msg; /* kind TURBO__MSG_STREAM (first member) */
    turbo_deferred *x;
    int start;      /* TURBO__SMSG_*: the start, len bytes of data, or the body's ask or resume */
    size_t len;
    char data[];
} turbo__smsg;

enum { TURBO__SMSG_DATA = 0, TURBO__SMSG_START = 1, TURBO__SMSG_BODY = 2 };

/* No body reader: as a new exchange has it. The owning thread only, with
 * no holder. */
static inline void turbo__body_reset(struct turbo__body *b)
{
    b->asked = 0;
    b->cb = NULL;
    b->ud = NULL;
    b->max = 0;
    atomic_store_explicit(&b->resume, 0, memory_order_relaxed);
    b->on_socket = b->reading = b->paused = b->ended = b->asked_here = 0;
}

/* Runs a stream message on the owning thread and frees it (thread.c). */
void turbo__stream_msg(turbo__msg *m);

/* The thread's spare exchange, ready for the next request: recycled from
 * its free list or new. NULL when out of memory. */
turbo_deferred *turbo__exchange_new(turbo__thread *t);
/* Ready for the next inline request: response emptied, arena rewound. */
static inline void turbo__exchange_reset(turbo_deferred *x)
{
    turbo__response_reset(&x->res);
    turbo__arena_reset(&x->arena);
}
/* A deferred exchange is done with (answered or abandoned): its read
 * buffer, route hold and memory go back. The owning thread only. */
void turbo__exchange_release(turbo__thread *t, turbo_deferred *x);
/* Frees every recycled exchange of t (teardown). */
void turbo__exchanges_free_all(turbo__thread *t);

/* Hands a finished (or cancelled) x back to its owning thread through its
 * inbox: any thread. */
void turbo__exchange_post(turbo_deferred *x);
/* Drops one hold on a blocking exchange: 1 when it was the last (the
 * caller then hands x home), else 0 (x belongs to the other party). */
int turbo__exchange_drop(turbo_deferred *x);

/* The I/O thread running on this thread (thread.c sets it), and, on a
 * pool thread, the exchange whose handler it runs (or NULL). */
extern _Thread_local turbo__thread *turbo__tls_thread;
extern _Thread_local turbo_deferred *turbo__handler_x;

/* The exchange a request or response belongs to. */
static inline turbo_deferred *turbo__exchange_of(turbo_request *req)
{
    return (turbo_deferred *)((char *)req - offsetof(turbo_deferred, req));
}

/* Claims the state for the owner's cancel: 1 when the holder had not
 * finished (the cancel callback runs), 0 when it had. */
static inline int turbo__exchange_cancel(turbo_deferred *x)
{
    int expected = TURBO__X_PENDING;
    return atomic_compare_exchange_strong_explicit(&x->state, &expected, TURBO__X_CANCELLED,
                                                   memory_order_acq_rel, memory_order_acquire);
}

#endif
