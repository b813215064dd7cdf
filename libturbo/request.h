/*
 * The request a handler sees (the public API's opaque turbo_request).
 * Each I/O thread owns one (thread.h); conn.c fills it in before it calls
 * the handler, and the accessors in request.c read it.
 */
#ifndef TURBO_REQUEST_H
#define TURBO_REQUEST_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "turbo/turbo.h"

#include "parse.h"
#include "router.h"

typedef struct turbo__conn turbo__conn;

/* A peer's address, as accept() gave it. */
typedef union turbo__peer {
    struct sockaddr sa;
    struct sockaddr_in v4;
    struct sockaddr_in6 v6;
} turbo__peer;
typedef struct turbo__thread turbo__thread;

struct turbo_request {
    turbo__thread *thread;
    turbo__conn *conn;
    const turbo__head *head;
    turbo_str method; /* what the handler sees: the method as sent */
    turbo_str body;
    const turbo__match *match;
    turbo_str remote_addr; /* formatted on first use */
    int remote_port;       /* with it (the forwarded client's, when trusted) */
    uint64_t t0_ns;        /* dispatched at (metrics.h), 0: not timed */
};

#endif
