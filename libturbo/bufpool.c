#include "bufpool.h"

#include <stdlib.h>

void turbo__bufpool_init(turbo__bufpool *p, size_t size, size_t keep)
{
    p->free_list = NULL;
    p->nfree = 0;
    p->keep = keep;
    p->size = size < sizeof(void *) ? sizeof(void *) : size;
    p->nout = 0;
}

char *turbo__bufpool_get(turbo__bufpool *p)
{
    char *b = p->free_list;
    if (b != NULL) {
        p->free_list = *(void **)b;
        p->nfree--;
    } else {
        b = malloc(p->size);
        if (b == NULL)
            return NULL;
    }
    p->nout++;
    return b;
}

void turbo__bufpool_put(turbo__bufpool *p, char *buf)
{
    if (buf == NULL)
        return;
    p->nout--;
    if (p->nfree >= p->keep) {
        free(buf);
        return;
    }
    *(void **)buf = p->free_list;
    p->free_list = buf;
    p->nfree++;
}

void turbo__bufpool_destroy(turbo__bufpool *p)
{
    while (p->free_list != NULL) {
        void *next = *(void **)p->free_list;
        free(p->free_list);
        p->free_list = next;
    }
    p->nfree = 0;
}
