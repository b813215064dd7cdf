/*
 * Per-thread pool of equally sized I/O buffers. A connection takes a read
 * buffer when bytes arrive and gives it back as soon as it holds no
 * unconsumed input, so an idle keep-alive connection owns no buffer; the
 * same for output. Buffers are recycled through a free list (no malloc in
 * steady state); at most `keep` free buffers are retained.
 */
#ifndef TURBO_BUFPOOL_H
#define TURBO_BUFPOOL_H

#include <stddef.h>

typedef struct turbo__bufpool {
    void *free_list; /* singly linked through the buffers' first word */
    size_t nfree;
    size_t keep;     /* most free buffers retained */
    size_t size;     /* bytes per buffer */
    size_t nout;     /* buffers handed out and not yet returned */
} turbo__bufpool;

void turbo__bufpool_init(turbo__bufpool *p, size_t size, size_t keep);
/* A buffer of p->size bytes; NULL when out of memory. */
char *turbo__bufpool_get(turbo__bufpool *p);
void turbo__bufpool_put(turbo__bufpool *p, char *buf);
void turbo__bufpool_destroy(turbo__bufpool *p);

#endif
