/* zone_fuzz.h: the zone loaders' fuzz targets' shared load step and the invariants it checks. */
#ifndef TESTS_FUZZ_ZONE_FUZZ_H
#define TESTS_FUZZ_ZONE_FUZZ_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zoneload.h"

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

#endif
