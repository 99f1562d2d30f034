/* test_grow.c: grow_for(): first size, doubling, no work while there is room, and a size that
 * would overflow refused with the array unchanged. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "grow.h"

int main(void)
{
    int *v = NULL;
    size_t cap = 0, n;
    for (n = 0; n < 100; n++) {
        if (grow_for(&v, &cap, n, sizeof(*v), 4))
            break;
        v[n] = (int)n;
    }
    CHECK(n == 100, "100 elements added (stopped at %zu)", n);
    CHECK(cap == 128, "4, 8, ... 128: cap %zu", cap);
    int sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    CHECK(sum == 4950, "the elements survive each move (sum %d)", sum);

    int *before = v;
    CHECK(grow_for(&v, &cap, 127, sizeof(*v), 4) == 0 && v == before && cap == 128,
          "room left: nothing moves");

    /* A doubling past SIZE_MAX bytes is refused before realloc; the array stays. */
    size_t huge = SIZE_MAX / sizeof(*v) / 2 + 1;
    CHECK(grow_for(&v, &huge, huge, sizeof(*v), 4) == -ENOMEM && v == before, "overflow refused");
    CHECK(huge == SIZE_MAX / sizeof(*v) / 2 + 1, "cap unchanged on failure");
    free(v);
    return check_report();
}
