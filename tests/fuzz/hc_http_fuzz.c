/* hc_http_fuzz.c: fuzz target for healthcheck's response parser: the first byte picks the size of
 * the pieces fed, the second the buffer bound; fed in pieces or at once, the result must agree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hc_http.h"

#define FUZZ_CAP_MIN  64
#define FUZZ_CAP_STEP 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fuzz_result {
    hc_http_rc_t rc;
    int status;
    size_t body_len;
    char *body;
} fuzz_result_t;

static void fuzz_run(const uint8_t *in, size_t n, size_t step, size_t cap, char *buf,
                     fuzz_result_t *out)
{
    hc_http_t h;
    hc_http_init(&h);
    size_t len = 0;
    hc_http_rc_t rc = HC_HTTP_MORE;
    while (len < n && rc == HC_HTTP_MORE) {
        size_t k = n - len < step ? n - len : step;
        memcpy(buf + len, in + len, k);
        len += k;
        rc = hc_http_parse(&h, buf, len, len == cap ? HC_HTTP_CUT : HC_HTTP_OPEN);
    }
    if (rc == HC_HTTP_MORE)
        rc = hc_http_parse(&h, buf, len, HC_HTTP_CLOSED);
    if (rc == HC_HTTP_MORE)
        abort(); /* a closed connection always decides */
    if (rc == HC_HTTP_DONE &&
        (h.status < 100 || h.status > 999 || h.body_off > len || h.body_len > len - h.body_off))
        abort();
    out->rc = rc;
    out->status = rc == HC_HTTP_DONE ? h.status : 0;
    out->body_len = rc == HC_HTTP_DONE ? h.body_len : 0;
    out->body = buf + h.body_off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    size_t step = (size_t)data[0] % 64 + 1;
    size_t cap = FUZZ_CAP_MIN + (size_t)data[1] * FUZZ_CAP_STEP;
    const uint8_t *in = data + 2;
    size_t n = size - 2 < cap ? size - 2 : cap;
    char *a = malloc(cap), *b = malloc(cap);
    if (!a || !b)
        abort();
    fuzz_result_t pieces, whole;
    fuzz_run(in, n, step, cap, a, &pieces);
    fuzz_run(in, n, n ? n : 1, cap, b, &whole);
    if (pieces.rc != whole.rc || pieces.status != whole.status ||
        pieces.body_len != whole.body_len || memcmp(pieces.body, whole.body, whole.body_len))
        abort();
    free(a);
    free(b);
    return 0;
}
