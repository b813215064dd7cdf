/*
 * Per-thread bump allocator for everything one request needs. Memory comes
 * from a chain of blocks; turbo__arena_reset() rewinds to the first block
 * and keeps the regular blocks for the next request, so a steady state of
 * similar requests allocates nothing. Requests larger than a block get a
 * block of their own, freed at reset (a large request is rare and should
 * not pin its memory for ever).
 */
#ifndef TURBO_ARENA_H
#define TURBO_ARENA_H

#include <stddef.h>

typedef struct turbo__arena_block turbo__arena_block;

typedef struct turbo__arena {
    turbo__arena_block *head;  /* regular blocks, kept across resets */
    turbo__arena_block *cur;   /* block being bumped */
    turbo__arena_block *large; /* oversized blocks, freed at reset */
    size_t block_size;         /* payload bytes of a regular block */
} turbo__arena;

#define TURBO__ARENA_ALIGN 16

void turbo__arena_init(turbo__arena *a, size_t block_size);
/* size bytes aligned to TURBO__ARENA_ALIGN; NULL when out of memory. */
void *turbo__arena_alloc(turbo__arena *a, size_t size);
void turbo__arena_reset(turbo__arena *a);
void turbo__arena_destroy(turbo__arena *a);
/* Number of regular blocks held (tests and stats). */
size_t turbo__arena_blocks(const turbo__arena *a);

#endif
