#include <stdlib.h>
#include <string.h>

#include "vec.h"

int turbo__vec_reserve(turbo__vec *v, size_t extra)
{
    if (v->cap - v->len >= extra)
        return 0;
    size_t cap = v->cap ? v->cap * 2 : 256;
    while (cap - v->len < extra)
        cap *= 2;
    char *p = realloc(v->ptr, cap);
    if (p == NULL)
        return -1;
    v->ptr = p;
    v->cap = cap;
    return 0;
}

int turbo__vec_append(turbo__vec *v, const void *data, size_t len)
{
    if (len == 0)
        return 0;
    if (turbo__vec_reserve(v, len) != 0)
        return -1;
    memcpy(v->ptr + v->len, data, len);
    v->len += len;
    return 0;
}

void turbo__vec_free(turbo__vec *v)
{
    free(v->ptr);
    v->ptr = NULL;
    v->len = v->cap = 0;
}
