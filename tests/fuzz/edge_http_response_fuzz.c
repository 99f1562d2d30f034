/* edge_http_response_fuzz.c: fuzz target for segment-edge's origin response parsing and freshness
 * inputs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int scan_body(void *ctx, const char *at, size_t len)
{
    (void)ctx;
    bool endlist = false;
    uint64_t target = 0;
    edge_hls_scan(at, len, &endlist, &target);
    edge_mpd_is_dynamic(at, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char arena[16384];
    if (size < 1) {
        return 0;
    }
    size_t step = (size_t)(data[0] % 64) + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    edge_http_parser_t p;
    edge_http_parser_init(&p, true, arena, sizeof(arena), sizeof(arena));
    p.body_cb = scan_body;
    size_t off = 0;
    int rc = EDGE_HTTP_NEED_MORE;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        char *piece = malloc(n);
        memcpy(piece, in + off, n);
        size_t used = 0;
        rc = edge_http_parser_feed(&p, piece, n, &used);
        free(piece);
        if (rc != EDGE_HTTP_NEED_MORE) {
            break;
        }
        off += n;
    }
    if (rc == EDGE_HTTP_NEED_MORE) {
        rc = edge_http_parser_finish(&p);
    }
    if (rc == EDGE_HTTP_MESSAGE_DONE || p.head_done) {
        size_t l = 0;
        const char *v = edge_http_msg_header(&p.msg, "cache-control", &l);
        edge_cc_t cc;
        if (v) {
            edge_cc_parse(v, l, &cc);
        }
        v = edge_http_msg_header(&p.msg, "last-modified", &l);
        time_t t = 0;
        if (v) {
            edge_http_date_parse(v, l, &t);
        }
    }
    return 0;
}
