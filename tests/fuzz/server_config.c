/* server_config.c: fuzz target for geodnsd's server config (geodnsd.yaml): the whole snapshot
 * load from one file, every key's parser (listen, metrics, rrl, health, transfer, tsig_keys,
 * ...) and the error paths that free a half-built snapshot. The input is written to a file in a
 * private temporary folder; an input that could name a file outside it (a '/' not followed by a
 * digit, as in a prefix length, or "..") is skipped, so that only files of that folder (none but
 * the config itself) can be opened: never a device that reads for ever. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"

#define FUZZ_CONFIG_MAX_INPUT (1u << 16)

static int names_outside(const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i] == '/' && (i + 1 == n || d[i + 1] < '0' || d[i + 1] > '9'))
            return 1;
        if (d[i] == '.' && i + 1 < n && d[i + 1] == '.')
            return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char path[64];
    if (!path[0]) {
        char dir[] = "/tmp/geodns-fuzz-config.XXXXXX";
        if (!mkdtemp(dir))
            abort();
        snprintf(path, sizeof(path), "%s/geodnsd.yaml", dir);
    }
    if (size > FUZZ_CONFIG_MAX_INPUT || names_outside(data, size))
        return 0;
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, size, f) != size || fclose(f))
        abort();
    gd_snapshot_t *s = NULL;
    char err[1024] = "";
    int rc = gd_snapshot_load(path, NULL, 1, &s, err, sizeof(err));
    if (rc == 0 && !s)
        abort();
    if (rc != 0 && (s || !err[0]))
        abort(); /* a refused config says why and leaves nothing behind */
    if (s)
        gd_snapshot_unref(s);
    return 0;
}
