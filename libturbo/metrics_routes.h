/*
 * The built-in health and metrics routes (metrics.c), added by
 * turbo_server_new() when the config names their paths.
 */
#ifndef TURBO_METRICS_ROUTES_H
#define TURBO_METRICS_ROUTES_H

#include "turbo/turbo.h"

/* Adds the routes s->cfg asks for; TURBO_OK or turbo_route_add's error. */
int turbo__metrics_routes_add(turbo_server *s);

#endif
