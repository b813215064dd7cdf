/*
 * The library's clock: CLOCK_MONOTONIC_COARSE in milliseconds. An I/O
 * thread reads it once per callback into t->now_ms, and connection
 * deadlines are set and checked against that cached value, so the request
 * path never makes a system call for the time.
 */
#ifndef TURBO_CLOCK_H
#define TURBO_CLOCK_H

#include <stdint.h>

uint64_t turbo__now_ms(void);

#endif
