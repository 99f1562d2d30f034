/* edge_http_request_fuzz.c: fuzz target for segment-edge's HTTP request parsing and path/key/range
 * helpers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edge_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const keep[] = {"_HLS_msn", "_HLS_part", "_HLS_skip", NULL};

static void use_message(const edge_http_msg_t *m)
{
    char path[4096];
    char key[4608];
    const char *q = NULL;
    size_t ql = 0;
    int pl = edge_path_normalize(m->url, m->url_len, path, sizeof(path), &q, &ql);
    if (pl >= 0) {
        int kl = edge_cache_key_build(path, (size_t)pl, q, ql, keep, key, sizeof(key));
        /* The key goes into the origin request line as is: printable, no space, and its path
         * part decodes back to exactly the normalized path (one decoding, no more). */
        for (int i = 0; i < kl; i++) {
            if ((unsigned char)key[i] <= 0x20 || (unsigned char)key[i] >= 0x7f) {
                abort();
            }
        }
        if (kl >= 0) {
            char back[4096];
            const char *q2 = NULL;
            size_t ql2 = 0;
            size_t kp = strcspn(key, "?");
            int bl = edge_path_normalize(key, kp, back, sizeof(back), &q2, &ql2);
            if (bl != pl || memcmp(back, path, (size_t)pl) != 0) {
                abort();
            }
        }
        edge_content_type(path, (size_t)pl);
        edge_media_kind(path, (size_t)pl);
    }
    size_t l = 0;
    const char *v = edge_http_msg_header(m, "range", &l);
    uint64_t a = 0;
    uint64_t b = 0;
    if (v) {
        edge_range_parse(v, l, 1000000, &a, &b);
        edge_range_parse(v, l, 0, &a, &b);
    }
    v = edge_http_msg_header(m, "if-none-match", &l);
    if (v) {
        edge_etag_list_match(v, l, "\"abc\"", 5);
    }
    v = edge_http_msg_header(m, "if-modified-since", &l);
    time_t t = 0;
    if (v) {
        edge_http_date_parse(v, l, &t);
    }
}

static int drop_body(void *ctx, const char *at, size_t len)
{
    (void)ctx;
    (void)at;
    (void)len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char arena[16384];
    if (size < 1) {
        return 0;
    }
    /* The first byte picks how the input is split into reads. */
    size_t step = (size_t)(data[0] % 64) + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    edge_http_parser_t p;
    edge_http_parser_init(&p, false, arena, sizeof(arena), 4096);
    p.body_cb = drop_body;
    /* Feed through a small copy so reads past the piece are caught by ASan. */
    size_t off = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step;
        char *piece = malloc(n);
        memcpy(piece, in + off, n);
        size_t used = 0;
        int rc = edge_http_parser_feed(&p, piece, n, &used);
        if (rc == EDGE_HTTP_MESSAGE_DONE) {
            use_message(&p.msg);
            edge_http_parser_next(&p);
        }
        free(piece);
        if (rc < 0) {
            break;
        }
        off += (rc == EDGE_HTTP_MESSAGE_DONE) ? used : n;
    }
    return 0;
}
