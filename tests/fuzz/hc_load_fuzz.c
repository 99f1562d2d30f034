/* hc_load_fuzz.c: fuzz target for healthcheck's reader of a probed PoP's status JSON (the body a
 * remote peer chooses): the first byte picks the field path and the bound, the rest is the body.
 * Either a number within [0, max] or a reason, never both, never a crash. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hc_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const fields[] = {"load.value", "load", "cache.hit_ratio_bytes",
                                         "origin.servers.0.fetches", "a.0.0.b"};
    static const double max[] = {1e15, 1.0, 100.0};
    if (size < 1)
        return 0;
    const char *field = fields[data[0] % (sizeof(fields) / sizeof(fields[0]))];
    double bound = max[(data[0] >> 4) % 3];
    /* An exact-size copy: a read past the body's end is ASan's to see. */
    size_t n = size - 1;
    char *body = malloc(n ? n : 1);
    if (!body)
        abort();
    memcpy(body, data + 1, n);
    double v = -1;
    char reason[256];
    reason[0] = '\0';
    int rc = hc_load_read("fuzz", body, n, field, bound, &v, reason, sizeof(reason));
    if (rc == 0 && !(isfinite(v) && v >= 0 && v <= bound))
        abort();
    if (rc != 0 && (rc != -EINVAL || !reason[0] || !memchr(reason, '\0', sizeof(reason))))
        abort();
    free(body);
    return 0;
}
