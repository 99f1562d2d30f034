/* status_http_fuzz.c: fuzz target for geodnsd's metrics listener request parser: the whole input
 * and every prefix must give a verdict without reading past the length, and a prefix of a
 * complete or refused head is never refused when the whole is accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "status_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    status_http_request_t req;
    status_http_result_t whole = status_http_parse(buf, size, &req);
    if (whole == STATUS_HTTP_DONE) {
        if (req.head_len == 0 || req.head_len > size || req.path[0] != '/' ||
            strlen(req.path) >= sizeof(req.path))
            abort();
        /* Every shorter prefix of an accepted head is incomplete. */
        for (size_t i = 0; i < req.head_len; i++)
            if (status_http_parse(buf, i, &req) != STATUS_HTTP_INCOMPLETE)
                abort();
    }
    free(buf);
    return 0;
}
