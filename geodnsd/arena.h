/* arena.h: bump allocator for long-lived, load-once data freed as a whole (zones, snapshots). */
#ifndef GEODNSD_ARENA_H
#define GEODNSD_ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block_t;

typedef struct arena {
    arena_block_t *head;
    size_t total; /* bytes handed out, for statistics */
} arena_t;

void arena_init(arena_t *a);
/* Free every block; the arena may be reused after arena_init. */
void arena_deinit(arena_t *a);
/* Zeroed, max_align_t-aligned memory, or NULL when out of memory. */
void *arena_alloc(arena_t *a, size_t size);
void *arena_memdup(arena_t *a, const void *p, size_t size);
char *arena_strdup(arena_t *a, const char *s);

#endif
