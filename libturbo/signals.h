/*
 * turbo_server_stop_on_signal()'s registrations (signals.c).
 */
#ifndef TURBO_SIGNALS_H
#define TURBO_SIGNALS_H

#include "turbo/turbo.h"

/* Drops s from turbo_server_stop_on_signal()'s table; puts a signal's
 * previous disposition back when no server wants it any more. */
void turbo__signals_forget(turbo_server *s);

#endif
