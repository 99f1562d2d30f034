/* health_state_fuzz.c: fuzz target for the probe state file reader; what it accepts must write
 * out and read back to the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"

#define FUZZ_ERR_MAX 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *fuzz_write(const health_file_t *hf, size_t *len)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    if (!f || health_file_write(f, hf))
        abort();
    fclose(f);
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FUZZ_ERR_MAX];
    health_file_t *hf = NULL, *back = NULL;
    if (health_file_parse("fuzz.json", (const char *)data, size, &hf, err, sizeof(err)))
        return 0;
    size_t len1, len2;
    char *out1 = fuzz_write(hf, &len1);
    if (health_file_parse("out.json", out1, len1, &back, err, sizeof(err))) {
        fprintf(stderr, "written state does not read back: %s\n%s\n", err, out1);
        abort();
    }
    char *out2 = fuzz_write(back, &len2);
    if (len1 != len2 || memcmp(out1, out2, len1))
        abort();
    free(out1);
    free(out2);
    health_file_free(back);
    health_file_free(hf);
    return 0;
}
