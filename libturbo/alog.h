/*
 * The access log: one line per answer in the Common Log Format,
 *
 *     127.0.0.1 - - [04/Dec/2026:14:08:31 +0000] "GET /x?y=1 HTTP/1.1" 200 25
 *
 * written by each I/O thread to the descriptor turbo_config_set_access_log()
 * names. Lines collect in a per-thread buffer that goes out with one
 * write(2) at the end of each loop iteration, or sooner when it would
 * pass PIPE_BUF: each write holds whole lines and is at most PIPE_BUF
 * bytes unless one line is longer, so lines from several threads never
 * interleave on a pipe, and a file opened with O_APPEND gets them whole.
 * Nothing is shared between threads. Off (fd -1), an answer costs one
 * predictable branch.
 */
#ifndef TURBO_ALOG_H
#define TURBO_ALOG_H

#include <stdint.h>
#include <time.h>

#include <turbo/turbo.h>

#include "vec.h"

typedef struct turbo__alog {
    int fd;          /* -1: off */
    time_t sec;      /* the second stamp was made for */
    char stamp[32];  /* "[04/Dec/2026:14:08:31 +0000] " */
    size_t stamp_len;
    turbo__vec buf;  /* complete lines not written yet */
} turbo__alog;

void turbo__alog_init(turbo__alog *l, int fd);
/* One answer: peer text (NULL/0: "-"), the request line's parts (method
 * NULL: a request refused before it was understood, logged as "-"), the
 * status and the body bytes sent. now: the wall-clock second. */
void turbo__alog_line(turbo__alog *l, turbo_str peer, turbo_str method, turbo_str target, int minor,
                      int status, uint64_t bytes, time_t now);
/* Writes what is buffered. */
void turbo__alog_flush(turbo__alog *l);
void turbo__alog_free(turbo__alog *l);

#endif
