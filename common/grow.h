/* grow.h: growing a heap array by doubling, the one way the loaders and table builders do it. */
#ifndef COMMON_GROW_H
#define COMMON_GROW_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* grow_for: make room for element n of the heap array whose pointer is stored at arrp (a
 * `T **`, passed as void *) with *cap elements of elem bytes. Nothing to do while n < *cap; else
 * the array doubles (first elements when it had none) with realloc, *arrp and *cap are updated
 * and the new elements are left uninitialized. On failure the array is unchanged (the caller
 * still frees it). Returns 0, or -ENOMEM when realloc fails or the size would overflow. */
static inline int grow_for(void *arrp, size_t *cap, size_t n, size_t elem, size_t first)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : first;
    if (ncap <= n || ncap > SIZE_MAX / elem)
        return -ENOMEM;
    void *old;
    memcpy(&old, arrp, sizeof(old));
    void *p = realloc(old, ncap * elem);
    if (!p)
        return -ENOMEM;
    memcpy(arrp, &p, sizeof(p));
    *cap = ncap;
    return 0;
}

#endif
