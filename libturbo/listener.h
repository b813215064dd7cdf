/*
 * Listening sockets (listener.c): bound for the server before it starts,
 * then watched and accepted from by each I/O thread.
 */
#ifndef TURBO_LISTENER_H
#define TURBO_LISTENER_H

#include <event2/util.h>

#include "turbo/turbo.h"

typedef struct turbo__thread turbo__thread;

int turbo__listen_bind(turbo_server *s, const char *host, int port);
void turbo__listen_close(turbo_server *s);
void turbo__accept_cb(evutil_socket_t fd, short what, void *arg);
/* At stop: accepts what waits in the thread's own listening socket, then
 * closes it (an inherited socket is left alone). */
void turbo__accept_drain(turbo__thread *t);

#endif
