/* edge_respond_fuzz.c: fuzz target for segment-edge's request core: arbitrary request heads
 * (through the request parser) and object views into edge_respond, checking the plan: a sane
 * status, a well-formed head (no CR or LF inside a line), a body range within the object and a
 * Content-Length that matches it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_config.h"
#include "edge_respond.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define VIEW_BYTES 20

typedef struct input {
    const uint8_t *p;
    size_t n;
} input_t;

/* A NUL-terminated string of up to 255 input bytes (NULL for length 0). */
static const char *take_str(input_t *in, char *buf)
{
    if (in->n < 1) {
        return NULL;
    }
    size_t l = in->p[0];
    in->p++;
    in->n--;
    if (l > in->n) {
        l = in->n;
    }
    memcpy(buf, in->p, l);
    buf[l] = '\0';
    in->p += l;
    in->n -= l;
    return l ? buf : NULL;
}

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fail(const char *what, const edge_plan_t *p)
{
    fprintf(stderr, "edge_respond invariant: %s (status %d)\n%.*s\n", what, p->status,
            (int)p->hdr_len, p->hdr);
    abort();
}

/* The value of header name in the head, or NULL. */
static const char *head_value(const edge_plan_t *p, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    const char *h = p->hdr;
    const char *end = p->hdr + p->hdr_len;
    while (h < end) {
        const char *eol = memchr(h, '\r', (size_t)(end - h));
        if (!eol) {
            break;
        }
        if ((size_t)(eol - h) > nl + 2 && strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            size_t vl = (size_t)(eol - h) - nl - 2;
            if (vl >= cap) {
                vl = cap - 1;
            }
            memcpy(out, h + nl + 2, vl);
            out[vl] = '\0';
            return out;
        }
        h = eol + 2;
    }
    return NULL;
}

static void check_plan(const edge_req_t *req, const edge_obj_view_t *v, const edge_plan_t *p)
{
    if (p->action == EDGE_PLAN_WAIT) {
        if (p->hdr_len != 0) {
            fail("a waiting plan has a head", p);
        }
        return;
    }
    if (p->status < 100 || p->status > 599) {
        fail("status out of range", p);
    }
    if (p->hdr_len < 16 || p->hdr_len > p->hdr_cap || memcmp(p->hdr, "HTTP/1.1 ", 9) != 0) {
        fail("head does not start with the status line", p);
    }
    if (memcmp(p->hdr + p->hdr_len - 4, "\r\n\r\n", 4) != 0) {
        fail("head does not end with an empty line", p);
    }
    for (size_t i = 0; i + 4 < p->hdr_len; i++) {
        char ch = p->hdr[i];
        if (ch == '\0') {
            fail("NUL in the head", p);
        }
        if (ch == '\r' && p->hdr[i + 1] != '\n') {
            fail("bare CR in the head", p);
        }
        if (ch == '\n' && (i == 0 || p->hdr[i - 1] != '\r')) {
            fail("bare LF in the head", p);
        }
        if (ch == '\n' &&
            (p->hdr[i + 1] == ' ' || p->hdr[i + 1] == '\t' || p->hdr[i + 1] == '\r')) {
            fail("folded or empty line inside the head", p);
        }
    }
    if (p->end >= 0 && p->off > (uint64_t)p->end) {
        fail("range start after its end", p);
    }
    switch (p->body) {
    case EDGE_BODY_IDENTITY:
        if (v->length >= 0 && (p->end < 0 || (uint64_t)p->end > (uint64_t)v->length)) {
            fail("identity range past the object", p);
        }
        if (p->end < 0 && v->length >= 0) {
            fail("open range for a known length", p);
        }
        break;
    case EDGE_BODY_GZIP:
        if (!v->has_gz || p->end < 0 || (uint64_t)p->end > v->gz_len) {
            fail("gzip range past the variant", p);
        }
        break;
    case EDGE_BODY_TEXT:
        if (p->end < 0 || (size_t)p->end > strlen(p->text)) {
            fail("text range past the text", p);
        }
        break;
    default:
        if (p->end != (int64_t)p->off) {
            fail("no body but a range", p);
        }
        break;
    }
    char cl[64];
    if (req->method != HTTP_HEAD && p->body != EDGE_BODY_NONE && p->end >= 0 && p->status != 304) {
        if (!head_value(p, "Content-Length", cl, sizeof(cl))) {
            fail("a body of known length without Content-Length", p);
        }
        if (strtoull(cl, NULL, 10) != (uint64_t)p->end - p->off) {
            fail("Content-Length differs from the range", p);
        }
    }
    if (p->chunked && p->end >= 0) {
        fail("chunked with a known length", p);
    }
}

static void run(const edge_http_msg_t *m, const edge_obj_view_t *v, uint8_t flags,
                const edge_config_t *cfg)
{
    char hdr[8192];
    edge_req_t req;
    memset(&req, 0, sizeof(req));
    edge_req_from_msg(&req, m);
    req.date = "Mon, 30 Nov 2026 06:00:00 GMT";
    req.closing = flags & 0x10;
    edge_plan_t plan;
    plan.hdr = hdr;
    plan.hdr_cap = (flags & 0x80) ? 256 : sizeof(hdr); /* small: the 500 fallback */
    edge_respond(&req, (flags & 0x40) && req.method == HTTP_GET ? NULL : v, 5000000, cfg, &plan);
    check_plan(&req, v, &plan);
    edge_cs_t cs;
    edge_lookup_decide(v, 5000000, &cs);
    edge_refresh_outcome(v, flags & 3, 5000000);
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
    static edge_config_t cfg_cache;
    static edge_config_t cfg_origin;
    static bool init;
    if (!init) {
        edge_config_defaults(&cfg_cache);
        edge_config_defaults(&cfg_origin);
        snprintf(cfg_origin.root, sizeof(cfg_origin.root), "/srv");
        cfg_origin.cors_allow_origin[0] = '\0';
        init = true;
    }
    if (size < VIEW_BYTES) {
        return 0;
    }
    static const int statuses[] = {200, 200, 200, 404, 500, 502, 301, 0, 999, 206};
    uint8_t flags = data[0];
    edge_obj_view_t v;
    memset(&v, 0, sizeof(v));
    v.cached = flags & 1;
    v.has_gz = flags & 2;
    v.from_disk = flags & 4;
    v.stored = flags & 8;
    v.state = data[1] % 4;
    v.status = statuses[data[2] % 10];
    v.kind = (edge_media_kind_t)(data[3] % 5);
    v.cs = (edge_cs_t)(data[4] % 9);
    uint32_t len = u32(data + 5);
    v.length = (len & 0x80000000u) ? -1 : (int64_t)(len % 100000);
    v.gz_len = u32(data + 9) % 100000;
    v.resp_ms = 5000000 - (u32(data + 13) % 1000000);
    v.origin_age = data[17];
    v.ttl_ms = (uint64_t)data[18] * 1000;
    v.swr_ms = (uint64_t)data[19] * 500;
    v.sie_ms = (uint64_t)data[19] * 700;
    v.fwd_status = data[2] % 2 ? 503 : 304;
    v.fail_status = data[3] % 2 ? 504 : 0;
    v.passthrough = data[3] & 0x40;
    input_t in = {data + VIEW_BYTES, size - VIEW_BYTES};
    char etag[256], lm[256], ctype[256], cc[256], loc[256];
    v.etag = take_str(&in, etag);
    v.last_modified = take_str(&in, lm);
    v.ctype = take_str(&in, ctype);
    v.cache_control = take_str(&in, cc);
    v.location = take_str(&in, loc);
    v.mtime = flags & 0x20 ? 1700000000 : 0;
    const edge_config_t *cfg = v.cached ? &cfg_cache : &cfg_origin;

    edge_http_parser_t p;
    edge_http_parser_init(&p, false, arena, sizeof(arena), 4096);
    p.body_cb = drop_body;
    size_t used = 0;
    int rc = edge_http_parser_feed(&p, (const char *)in.p, in.n, &used);
    if (rc == EDGE_HTTP_MESSAGE_DONE || p.head_done) {
        run(&p.msg, &v, flags, cfg);
    }
    /* Errors go through the same head writer. */
    edge_req_t req;
    memset(&req, 0, sizeof(req));
    char hdr[1024];
    edge_plan_t plan = {.hdr = hdr, .hdr_cap = sizeof(hdr)};
    edge_respond_error(&req, p.status_hint ? p.status_hint : 400, v.fwd_status, cfg, &plan);
    check_plan(&req, &v, &plan);
    return 0;
}
