/* zone_yaml.c: fuzz target for the YAML zone loader (libyaml, the tree reader, ldns rdata). */
#include <stdint.h>

#include "zone_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16)
        return 0;
    arena_t a;
    arena_init(&a);
    char err[1024];
    fuzz_zone_load("fuzz.yaml", data, size, &a, err, sizeof(err));
    arena_deinit(&a);
    return 0;
}
