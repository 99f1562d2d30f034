/* edge_config_fuzz.c: fuzz target for segment-edge's YAML configuration loader. */
#include <stdint.h>
#include <stdlib.h>

#include "edge_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static edge_config_t cfg;
    char err[512];
    edge_config_defaults(&cfg);
    if (edge_config_load_buffer(&cfg, "fuzz.yaml", (const char *)data, size, err, sizeof(err)) ==
        0) {
        edge_config_validate(&cfg, err, sizeof(err));
    }
    return 0;
}
