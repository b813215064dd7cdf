#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

struct turbo__arena_block {
    turbo__arena_block *next;
    size_t size; /* payload bytes */
    size_t used;
    _Alignas(TURBO__ARENA_ALIGN) unsigned char data[];
};

static turbo__arena_block *block_new(size_t size)
{
    turbo__arena_block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void turbo__arena_init(turbo__arena *a, size_t block_size)
{
    a->head = NULL;
    a->cur = NULL;
    a->large = NULL;
    a->block_size = block_size < 256 ? 256 : block_size;
}

void *turbo__arena_alloc(turbo__arena *a, size_t size)
{
    if (size > SIZE_MAX - TURBO__ARENA_ALIGN)
        return NULL;
    size_t need = (size + TURBO__ARENA_ALIGN - 1) & ~(size_t)(TURBO__ARENA_ALIGN - 1);
    if (need == 0)
        need = TURBO__ARENA_ALIGN;

    /* Oversized: a private block, so one huge request cannot grow every
     * later request's footprint. */
    if (need > a->block_size / 2) {
        turbo__arena_block *b = block_new(need);
        if (b == NULL)
            return NULL;
        b->used = need;
        b->next = a->large;
        a->large = b;
        return b->data;
    }

    turbo__arena_block *b = a->cur;
    while (b != NULL && b->size - b->used < need)
        b = b->next; /* blocks kept from earlier requests */
    if (b == NULL) {
        b = block_new(a->block_size);
        if (b == NULL)
            return NULL;
        /* Append so that reset's rewind order matches allocation order. */
        if (a->head == NULL) {
            a->head = b;
        } else {
            turbo__arena_block *tail = a->cur != NULL ? a->cur : a->head;
            while (tail->next != NULL)
                tail = tail->next;
            tail->next = b;
        }
    }
    a->cur = b;
    void *p = b->data + b->used;
    b->used += need;
    return p;
}

void turbo__arena_reset(turbo__arena *a)
{
    for (turbo__arena_block *b = a->head; b != NULL && b->used != 0; b = b->next)
        b->used = 0;
    a->cur = a->head;
    while (a->large != NULL) {
        turbo__arena_block *next = a->large->next;
        free(a->large);
        a->large = next;
    }
}

void turbo__arena_destroy(turbo__arena *a)
{
    turbo__arena_reset(a);
    while (a->head != NULL) {
        turbo__arena_block *next = a->head->next;
        free(a->head);
        a->head = next;
    }
    a->cur = NULL;
}

size_t turbo__arena_blocks(const turbo__arena *a)
{
    size_t n = 0;
    for (const turbo__arena_block *b = a->head; b != NULL; b = b->next)
        n++;
    return n;
}
