/*
 * A growable byte vector that keeps its capacity across requests: the
 * response's header lines and copied body. Capacity doubles from 256
 * bytes; only turbo__vec_free() gives the memory back.
 */
#ifndef TURBO_VEC_H
#define TURBO_VEC_H

#include <stddef.h>
#include <stdint.h>

typedef struct turbo__vec {
    char *ptr;
    size_t len, cap;
} turbo__vec;

/* Room for extra more bytes after len; -1 when out of memory (v unchanged). */
int turbo__vec_reserve(turbo__vec *v, size_t extra);
/* Appends len bytes; -1 when out of memory (v unchanged). */
int turbo__vec_append(turbo__vec *v, const void *data, size_t len);
void turbo__vec_free(turbo__vec *v);

/* Writes v in decimal at p (at most 20 bytes); returns the end. */
static inline char *turbo__put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

#endif
