/* zone_yaml.c: fuzz target for the YAML zone loader (libyaml, the tree reader, ldns rdata). */
#include <stdint.h>

#include "zone_fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_zone_run("fuzz.yaml", data, size, NULL);
}
