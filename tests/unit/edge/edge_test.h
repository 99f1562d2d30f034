/* edge_test.h: a minimal check macro for the segment-edge unit tests. */
#ifndef EDGE_TEST_H
#define EDGE_TEST_H

#include <stdio.h>

static int test_failures;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            test_failures++;                                                         \
        }                                                                            \
    } while (0)

#define TEST_DONE()                                                 \
    do {                                                            \
        if (test_failures) {                                        \
            fprintf(stderr, "%d check(s) failed\n", test_failures); \
            return 1;                                               \
        }                                                           \
        printf("all checks passed\n");                              \
        return 0;                                                   \
    } while (0)

#endif
