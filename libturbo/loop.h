/*
 * The loop API's internals (loop.c): what thread.c needs to run the
 * functions posted to its inbox.
 */
#ifndef TURBO_LOOP_H
#define TURBO_LOOP_H

#include "inbox.h"

/* Runs and frees one TURBO__MSG_POST message (the owning thread). */
void turbo__loop_run_post(turbo__msg *m);

#endif
