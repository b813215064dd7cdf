/*
 * Connections (conn.c): opened by the listener, driven by their own
 * libevent event, swept for deadlines and stopped by their thread.
 */
#ifndef TURBO_CONN_H
#define TURBO_CONN_H

#include <sys/socket.h>

#include "turbo/turbo.h"

#include "arena.h"
#include "exchange.h"

typedef struct turbo__conn turbo__conn;
typedef struct turbo__thread turbo__thread;

int turbo__conn_open(turbo__thread *t, int fd, const struct sockaddr *peer, socklen_t peerlen);
void turbo__conn_close(turbo__conn *c);
void turbo__conns_sweep(turbo__thread *t);
void turbo__conns_stop(turbo__thread *t);
void turbo__conns_free_all(turbo__thread *t);
/* Deferred requests (exchange.h), on the owning I/O thread. detach: x
 * (the thread's current exchange, in dispatch) leaves the thread: what the
 * handler sees is copied out of the parser's and the table's memory, the
 * route is held, and the thread takes a fresh exchange; -1 when out of
 * memory. undetach: back, for an answer at once (a full blocking queue).
 * finished: the holder is done (or x was cancelled); its answer goes out
 * in request order and x is released. */
int turbo__conn_detach(turbo_deferred *x);
void turbo__conn_undetach(turbo_deferred *x);
void turbo__conn_finished(turbo__thread *t, turbo_deferred *x);
/* A streamed response's start and pieces (stream.c), on the owning
 * thread, once x is parked (or cancelled). */
void turbo__conn_stream_start(turbo_deferred *x);
void turbo__conn_stream_data(turbo_deferred *x, const char *data, size_t n);
/* The holder of x asked for its body or resumed it: on the owning thread. */
void turbo__conn_body_kick(turbo_deferred *x);
/* Flushes the connections streamed bytes were queued on in this loop
 * iteration (thread.c, at its end). */
void turbo__conns_flush_dirty(turbo__thread *t);

/* Peer address as text (into arena a; a NULL: port only) and port. */
void turbo__conn_remote(const turbo__conn *c, turbo__arena *a, turbo_str *addr, int *port);
void turbo__peer_format(const turbo__peer *peer, turbo__arena *a, turbo_str *addr, int *port);

#endif
