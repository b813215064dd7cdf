/*
 * The loop API's internals (loop.c): what thread.c needs to run the
 * functions posted to its inbox.
 */
#ifndef TURBO_LOOP_H
#define TURBO_LOOP_H

#include "inbox.h"

typedef struct turbo__thread turbo__thread;

/* Runs and frees one TURBO__MSG_POST message (the owning thread). */
void turbo__loop_run_post(turbo__msg *m);
/* Frees the watches and timers a thread's loop still has (teardown,
 * before the event_base goes). */
void turbo__loop_free_all(turbo__thread *t);

#endif
