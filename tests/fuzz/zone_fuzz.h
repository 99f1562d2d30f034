/* zone_fuzz.h: what the zone loaders' fuzz targets share: the size bound, the arena, the load
 * step and the invariants it checks. Each target is then only its file name and what it does
 * with a zone that loads. */
#ifndef TESTS_FUZZ_ZONE_FUZZ_H
#define TESTS_FUZZ_ZONE_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zoneload.h"

/* Inputs above this many bytes are skipped: the loaders' own bounds are tested by unit tests. */
#define FUZZ_ZONE_MAX_INPUT (1u << 16)

/* Load data (size bytes) as the zone file name into a, aborting when an invariant breaks: a
 * loaded zone has its SOA and apex node, and every error names the file. Returns the zone, or
 * NULL when it did not load (err, errlen: the message). */
static inline zone_t *fuzz_zone_load(const char *name, const uint8_t *data, size_t size, arena_t *a,
                                     char *err, size_t errlen)
{
    zone_t *z = NULL;
    int rc = zone_load_buffer(name, (const char *)data, size, a, NULL, &z, err, errlen);
    if (rc == 0 && (!z || !z->soa || !z->apex_node))
        abort();
    if (rc != 0 && !strstr(err, name))
        abort(); /* every error names the file */
    return rc == 0 ? z : NULL;
}

/* A whole fuzz input: load data as the zone file name (fuzz_zone_load), hand a zone that loads
 * to then (may be NULL) with the arena it lives in, free everything. Returns 0, as
 * LLVMFuzzerTestOneInput does. */
static inline int fuzz_zone_run(const char *name, const uint8_t *data, size_t size,
                                void (*then)(zone_t *z, arena_t *a))
{
    if (size > FUZZ_ZONE_MAX_INPUT)
        return 0;
    arena_t a;
    arena_init(&a);
    char err[1024];
    zone_t *z = fuzz_zone_load(name, data, size, &a, err, sizeof(err));
    if (z && then)
        then(z, &a);
    arena_deinit(&a);
    return 0;
}

#endif
