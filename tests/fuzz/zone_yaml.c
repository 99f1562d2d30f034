/* zone_yaml.c: fuzz target for the YAML zone loader (libyaml, the tree reader, ldns rdata). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zoneload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    char err[1024];
    int rc =
        zone_load_buffer("fuzz.yaml", (const char *)data, size, &a, NULL, &z, err, sizeof(err));
    if (rc == 0 && (!z || !z->soa || !z->apex_node))
        abort();
    if (rc != 0 && !strstr(err, "fuzz.yaml"))
        abort(); /* every error names the file */
    arena_deinit(&a);
    return 0;
}
