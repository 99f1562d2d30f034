/* arena.c: bump allocator in 64 KiB (or larger) blocks. */
#include "arena.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    arena_block_t *next;
    size_t used, cap;
    alignas(max_align_t) unsigned char data[];
};

void arena_init(arena_t *a)
{
    a->head = NULL;
    a->total = 0;
}

void arena_deinit(arena_t *a)
{
    arena_block_t *b = a->head;
    while (b) {
        arena_block_t *n = b->next;
        free(b);
        b = n;
    }
    a->head = NULL;
    a->total = 0;
}

void *arena_alloc(arena_t *a, size_t size)
{
    size_t al = alignof(max_align_t);
    size = (size + al - 1) & ~(al - 1);
    if (size == 0)
        size = al;
    arena_block_t *b = a->head;
    if (!b || b->cap - b->used < size) {
        size_t cap = size > 65536 ? size : 65536;
        b = malloc(sizeof(*b) + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->total += size;
    memset(p, 0, size);
    return p;
}

void *arena_memdup(arena_t *a, const void *p, size_t size)
{
    void *q = arena_alloc(a, size);
    if (q && size)
        memcpy(q, p, size);
    return q;
}

char *arena_strdup(arena_t *a, const char *s)
{
    return arena_memdup(a, s, strlen(s) + 1);
}
