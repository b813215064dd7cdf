/*
 * A growable byte vector that keeps its capacity across requests: the
 * response's header lines and copied body. Capacity doubles from 256
 * bytes; only turbo__vec_free() gives the memory back.
 */
#ifndef TURBO_VEC_H
#define TURBO_VEC_H

#include <stddef.h>

typedef struct turbo__vec {
    char *ptr;
    size_t len, cap;
} turbo__vec;

/* Room for extra more bytes after len; -1 when out of memory (v unchanged). */
int turbo__vec_reserve(turbo__vec *v, size_t extra);
/* Appends len bytes; -1 when out of memory (v unchanged). */
int turbo__vec_append(turbo__vec *v, const void *data, size_t len);
void turbo__vec_free(turbo__vec *v);

#endif
