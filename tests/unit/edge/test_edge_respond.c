/* test_edge_respond.c: unit tests of segment-edge's request core (edge_respond.h) with plain
 * arrays: conditional GET, If-Range, ranges, gzip negotiation, freshness, stale-while-revalidate,
 * stale-if-error, Cache-Status, and the methods of both modes. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "edge_config.h"
#include "edge_respond.h"

#define NOW   1000000u /* monotonic ms of the tests */
#define DATE  "Mon, 30 Nov 2026 06:00:00 GMT"
#define ETAG  "\"abc\""
#define LMOD  "Mon, 30 Nov 2026 05:00:00 GMT"
#define HDRSZ 8192

static edge_config_t cfg_cache;
static edge_config_t cfg_origin;
static char arena[16384];
static edge_http_parser_t parser;
static char hdr[HDRSZ];

/* Parse a request head into r (the parser's strings stay valid until the next call). */
static void req_parse(edge_req_t *r, const char *head)
{
    edge_http_parser_init(&parser, false, arena, sizeof(arena), 4096);
    size_t used = 0;
    int rc = edge_http_parser_feed(&parser, head, strlen(head), &used);
    CHECK(rc == EDGE_HTTP_MESSAGE_DONE, "request parses: %s", head);
    memset(r, 0, sizeof(*r));
    edge_req_from_msg(r, &parser.msg);
    r->date = DATE;
}

/* A complete, fresh cached segment of 1000 bytes received 10 s ago with a 60 s TTL. */
static edge_obj_view_t seg_view(void)
{
    edge_obj_view_t v;
    memset(&v, 0, sizeof(v));
    v.cached = true;
    v.state = EDGE_VIEW_COMPLETE;
    v.status = 200;
    v.length = 1000;
    v.ctype = "video/mp2t";
    v.etag = ETAG;
    v.last_modified = LMOD;
    v.cache_control = "max-age=60";
    v.kind = EDGE_MEDIA_SEGMENT;
    v.resp_ms = NOW - 10000;
    v.ttl_ms = 60000;
    v.swr_ms = 10000;
    v.sie_ms = 300000;
    v.stored = true;
    v.cs = EDGE_CS_HIT;
    return v;
}

static edge_obj_view_t playlist_view(void)
{
    edge_obj_view_t v = seg_view();
    v.ctype = "application/vnd.apple.mpegurl";
    v.kind = EDGE_MEDIA_PLAYLIST;
    v.length = 500;
    v.has_gz = true;
    v.gz_len = 120;
    v.cache_control = NULL;
    return v;
}

static edge_plan_t respond(const char *head, const edge_obj_view_t *v, const edge_config_t *cfg)
{
    edge_req_t r;
    req_parse(&r, head);
    edge_plan_t p;
    memset(&p, 0, sizeof(p));
    p.hdr = hdr;
    p.hdr_cap = sizeof(hdr);
    edge_respond(&r, v, NOW, cfg, &p);
    hdr[p.hdr_len < sizeof(hdr) ? p.hdr_len : sizeof(hdr) - 1] = '\0';
    return p;
}

/* Does the head hold exactly this header line ("Name: value")? */
static bool has(const edge_plan_t *p, const char *line)
{
    char want[512];
    snprintf(want, sizeof(want), "\r\n%s\r\n", line);
    (void)p;
    return strstr(hdr, want) != NULL;
}

/* Does the head have a header of this name? */
static bool has_name(const char *name)
{
    char want[128];
    snprintf(want, sizeof(want), "\r\n%s:", name);
    return strstr(hdr, want) != NULL;
}

#define GET_SEG "GET /v/seg.ts HTTP/1.1\r\nHost: e\r\n"
#define GET_PL  "GET /v/index.m3u8 HTTP/1.1\r\nHost: e\r\n"

static void test_plain_get_and_head(void)
{
    edge_obj_view_t v = seg_view();
    edge_plan_t p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.action == EDGE_PLAN_READY, "ready");
    CHECK(p.status == 200, "status %d", p.status);
    CHECK(strncmp(hdr, "HTTP/1.1 200 OK\r\nDate: " DATE "\r\nServer: segment-edge\r\n", 70) == 0,
          "status line, Date, Server: %s", hdr);
    CHECK(has(&p, "Content-Length: 1000"), "Content-Length: %s", hdr);
    CHECK(has(&p, "Content-Type: video/mp2t"), "Content-Type");
    CHECK(has(&p, "Accept-Ranges: bytes"), "Accept-Ranges");
    CHECK(has(&p, "ETag: " ETAG), "ETag");
    CHECK(has(&p, "Last-Modified: " LMOD), "Last-Modified");
    CHECK(has(&p, "Cache-Control: max-age=60"), "Cache-Control");
    CHECK(has(&p, "Age: 10"), "Age: %s", hdr);
    CHECK(has(&p, "Cache-Status: segment-edge; hit; ttl=50"), "Cache-Status: %s", hdr);
    CHECK(has(&p, "Access-Control-Allow-Origin: *"), "CORS");
    CHECK(!has_name("Vary"), "no Vary for a segment");
    CHECK(has(&p, "Connection: keep-alive"), "keep-alive");
    CHECK(strcmp(hdr + p.hdr_len - 4, "\r\n\r\n") == 0, "head ends with an empty line");
    CHECK(p.body == EDGE_BODY_IDENTITY && p.off == 0 && p.end == 1000, "body [%llu, %lld)",
          (unsigned long long)p.off, (long long)p.end);
    CHECK(p.cs == EDGE_CS_HIT && p.keep_alive && !p.chunked, "cs, keep-alive, not chunked");

    p = respond("HEAD /v/seg.ts HTTP/1.1\r\nHost: e\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 && has(&p, "Content-Length: 1000"), "HEAD keeps Content-Length");
    CHECK(p.body == EDGE_BODY_NONE && p.end == (int64_t)p.off, "HEAD sends no body");

    p = respond("GET /v/seg.ts HTTP/1.0\r\n\r\n", &v, &cfg_cache);
    CHECK(!p.keep_alive && has(&p, "Connection: close"), "HTTP/1.0 without keep-alive closes");

    edge_req_t r;
    req_parse(&r, GET_SEG "\r\n");
    r.closing = true;
    edge_plan_t q = {.hdr = hdr, .hdr_cap = sizeof(hdr)};
    edge_respond(&r, &v, NOW, &cfg_cache, &q);
    hdr[q.hdr_len] = '\0';
    CHECK(!q.keep_alive && has(&q, "Connection: close"), "draining answers Connection: close");

    edge_config_t nocors = cfg_cache;
    nocors.cors_allow_origin[0] = '\0';
    p = respond(GET_SEG "\r\n", &v, &nocors);
    CHECK(!has_name("Access-Control-Allow-Origin"), "no CORS headers when turned off");
}

static void test_conditional(void)
{
    edge_obj_view_t v = seg_view();
    edge_plan_t p = respond(GET_SEG "If-None-Match: W/\"x\", " ETAG "\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 304, "If-None-Match in a list: 304, got %d", p.status);
    CHECK(has(&p, "ETag: " ETAG) && !has_name("Content-Length") && p.body == EDGE_BODY_NONE,
          "304 with validators, no body: %s", hdr);
    CHECK(has_name("Cache-Status") && has_name("Age"), "304 keeps Age and Cache-Status");

    p = respond(GET_SEG "If-None-Match: *\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 304, "If-None-Match: * gives 304, got %d", p.status);

    /* If-None-Match wins over If-Modified-Since (RFC 9110 13.2.2). */
    p = respond(GET_SEG "If-None-Match: \"other\"\r\nIf-Modified-Since: " LMOD "\r\n\r\n", &v,
                &cfg_cache);
    CHECK(p.status == 200, "a mismatching If-None-Match ignores If-Modified-Since: %d", p.status);

    p = respond(GET_SEG "If-Modified-Since: " LMOD "\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 304, "If-Modified-Since equal to Last-Modified: 304, got %d", p.status);
    p = respond(GET_SEG "If-Modified-Since: Mon, 30 Nov 2026 04:59:59 GMT\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200, "older If-Modified-Since: 200, got %d", p.status);
    p = respond(GET_SEG "If-Modified-Since: garbage\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200, "an unparsable date is ignored: %d", p.status);

    /* Origin mode: the file's mtime. */
    edge_obj_view_t f;
    memset(&f, 0, sizeof(f));
    f.state = EDGE_VIEW_COMPLETE;
    f.status = 200;
    f.length = 2000;
    f.etag = "\"7d0-1\"";
    f.mtime = 1700000000; /* Tue, 14 Nov 2023 22:13:20 GMT */
    f.kind = EDGE_MEDIA_SEGMENT;
    p = respond(GET_SEG "If-Modified-Since: Tue, 14 Nov 2023 22:13:20 GMT\r\n\r\n", &f,
                &cfg_origin);
    CHECK(p.status == 304, "file not modified since its mtime: 304, got %d", p.status);
    p = respond(GET_SEG "If-Modified-Since: Tue, 14 Nov 2023 22:13:19 GMT\r\n\r\n", &f,
                &cfg_origin);
    CHECK(p.status == 200 && has(&p, "Content-Length: 2000"), "file modified: 200, got %d",
          p.status);
    CHECK(!has_name("Cache-Status") && !has_name("Age"), "files carry no cache headers");
}

static void test_ranges(void)
{
    edge_obj_view_t v = seg_view();
    edge_plan_t p = respond(GET_SEG "Range: bytes=10-99\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 206, "206, got %d", p.status);
    CHECK(has(&p, "Content-Range: bytes 10-99/1000") && has(&p, "Content-Length: 90"),
          "Content-Range and length: %s", hdr);
    CHECK(p.off == 10 && p.end == 100 && p.body == EDGE_BODY_IDENTITY, "range [10, 100)");

    p = respond(GET_SEG "Range: bytes=-100\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 206 && p.off == 900 && p.end == 1000, "suffix range");
    p = respond(GET_SEG "Range: bytes=990-\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 206 && p.off == 990 && p.end == 1000 && has(&p, "Content-Length: 10"),
          "open range");
    p = respond(GET_SEG "Range: bytes=500-5000\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 206 && p.end == 1000, "a last byte past the end is cut");

    p = respond(GET_SEG "Range: bytes=1000-\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 416, "unsatisfiable: 416, got %d", p.status);
    CHECK(has(&p, "Content-Range: bytes */1000") && has(&p, "Content-Length: 0"),
          "416 says the length: %s", hdr);
    CHECK(p.body == EDGE_BODY_NONE && p.end == (int64_t)p.off, "416 has no body");

    /* Several ranges: answered with the whole representation (kept behaviour). */
    p = respond(GET_SEG "Range: bytes=0-1,5-6\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 && p.end == 1000, "multi-range gives 200, got %d", p.status);
    p = respond(GET_SEG "Range: items=0-1\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200, "another unit gives 200, got %d", p.status);

    /* If-Range: strong ETag or exact date; otherwise the whole thing. */
    p = respond(GET_SEG "Range: bytes=0-9\r\nIf-Range: " ETAG "\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 206, "If-Range matching: 206, got %d", p.status);
    p = respond(GET_SEG "Range: bytes=0-9\r\nIf-Range: \"old\"\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 && p.end == 1000, "If-Range mismatching: 200, got %d", p.status);
    p = respond(GET_SEG "Range: bytes=0-9\r\nIf-Range: W/\"abc\"\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200, "weak If-Range never matches: %d", p.status);
    p = respond(GET_SEG "Range: bytes=0-9\r\nIf-Range: " LMOD "\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 206, "If-Range date equal: 206, got %d", p.status);
    p = respond(GET_SEG "Range: bytes=5000-\r\nIf-Range: \"old\"\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200, "If-Range mismatch ignores even a bad range: %d", p.status);

    /* A range of a body still arriving with a known length is served as it fills. */
    v.state = EDGE_VIEW_STREAMING;
    v.cs = EDGE_CS_COLLAPSED;
    p = respond(GET_SEG "Range: bytes=10-19\r\n\r\n", &v, &cfg_cache);
    CHECK(p.action == EDGE_PLAN_READY && p.status == 206, "range while streaming, known length");
    v.length = -1;
    p = respond(GET_SEG "Range: bytes=10-19\r\n\r\n", &v, &cfg_cache);
    CHECK(p.action == EDGE_PLAN_WAIT && p.hdr_len == 0, "range of an unknown length waits");
}

static void test_gzip(void)
{
    edge_hval_t ae = {"gzip", 4};
    CHECK(edge_accepts_gzip(ae), "gzip");
    ae = (edge_hval_t){"br, GZIP;q=0.5", 14};
    CHECK(edge_accepts_gzip(ae), "gzip;q=0.5, any case");
    ae = (edge_hval_t){"gzip;q=0", 8};
    CHECK(!edge_accepts_gzip(ae), "gzip;q=0 refuses");
    ae = (edge_hval_t){"gzip;q=0.000", 12};
    CHECK(!edge_accepts_gzip(ae), "gzip;q=0.000 refuses");
    ae = (edge_hval_t){"gzip;q=0.001", 12};
    CHECK(edge_accepts_gzip(ae), "gzip;q=0.001 accepts");
    ae = (edge_hval_t){"br, deflate", 11};
    CHECK(!edge_accepts_gzip(ae), "no gzip");
    ae = (edge_hval_t){NULL, 0};
    CHECK(!edge_accepts_gzip(ae), "no header");

    edge_obj_view_t v = playlist_view();
    edge_plan_t p = respond(GET_PL "Accept-Encoding: gzip, br\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 && p.body == EDGE_BODY_GZIP && p.off == 0 && p.end == 120,
          "gzip variant served: %d %d", p.status, p.body);
    CHECK(has(&p, "Content-Encoding: gzip") && has(&p, "Content-Length: 120"), "gzip head: %s",
          hdr);
    CHECK(has(&p, "Vary: Accept-Encoding") && has(&p, "ETag: \"abc-gz\""),
          "Vary and a distinct ETag: %s", hdr);
    CHECK(!has_name("Accept-Ranges"), "no ranges on the gzip variant");

    p = respond(GET_PL "Accept-Encoding: gzip;q=0\r\n\r\n", &v, &cfg_cache);
    CHECK(p.body == EDGE_BODY_IDENTITY && has(&p, "Content-Length: 500") &&
              has(&p, "Vary: Accept-Encoding") && has(&p, "ETag: " ETAG),
          "identity when gzip is refused, still with Vary: %s", hdr);
    CHECK(!has_name("Content-Encoding"), "no Content-Encoding for identity");

    p = respond(GET_PL "Accept-Encoding: gzip\r\nRange: bytes=0-9\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 206 && p.body == EDGE_BODY_IDENTITY, "a range gets identity bytes");

    /* Revalidation compares the ETag of the variant that would be served (RFC 9110 13.1.2,
     * weak comparison for If-None-Match). */
    p = respond(GET_PL "Accept-Encoding: gzip\r\nIf-None-Match: \"abc-gz\"\r\n\r\n", &v,
                &cfg_cache);
    CHECK(p.status == 304 && p.body == EDGE_BODY_NONE && has(&p, "ETag: \"abc-gz\"") &&
              has(&p, "Vary: Accept-Encoding") && !has_name("Content-Encoding"),
          "the gzip variant's ETag revalidates it: %d %s", p.status, hdr);
    p = respond(GET_PL "Accept-Encoding: gzip\r\nIf-None-Match: \"x\", W/\"abc-gz\"\r\n\r\n", &v,
                &cfg_cache);
    CHECK(p.status == 304, "weak comparison, second in the list: %d", p.status);
    p = respond(GET_PL "Accept-Encoding: gzip\r\nIf-None-Match: " ETAG "\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 && p.body == EDGE_BODY_GZIP && has(&p, "ETag: \"abc-gz\""),
          "the identity ETag does not validate the gzip variant: %d", p.status);
    p = respond(GET_PL "If-None-Match: \"abc-gz\"\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 && p.body == EDGE_BODY_IDENTITY && has(&p, "ETag: " ETAG),
          "the -gz ETag does not validate identity: %d", p.status);
    p = respond(GET_PL "Accept-Encoding: gzip;q=0\r\nIf-None-Match: " ETAG "\r\n\r\n", &v,
                &cfg_cache);
    CHECK(p.status == 304 && has(&p, "ETag: " ETAG), "identity revalidated with its ETag: %d",
          p.status);
    v.etag = "W/\"abc\"";
    p = respond(GET_PL "Accept-Encoding: gzip\r\nIf-None-Match: \"abc-gz\"\r\n\r\n", &v,
                &cfg_cache);
    CHECK(p.status == 304 && has(&p, "ETag: W/\"abc-gz\""), "weak stored ETag, gzip variant: %d",
          p.status);
    v.has_gz = false;
    p = respond(GET_PL "Accept-Encoding: gzip\r\nIf-None-Match: \"abc-gz\"\r\n\r\n", &v,
                &cfg_cache);
    CHECK(p.status == 200 && p.body == EDGE_BODY_IDENTITY,
          "no gzip variant: identity is served, the -gz ETag does not match it: %d", p.status);
    v = playlist_view();

    v.content_encoding = "br";
    p = respond(GET_PL "Accept-Encoding: gzip\r\n\r\n", &v, &cfg_cache);
    CHECK(p.body == EDGE_BODY_IDENTITY && has(&p, "Content-Encoding: br"),
          "an encoded origin body is passed as is");

    v = playlist_view();
    v.has_gz = false;
    p = respond(GET_PL "Accept-Encoding: gzip\r\n\r\n", &v, &cfg_cache);
    CHECK(p.body == EDGE_BODY_IDENTITY, "no variant: identity");

    v = playlist_view();
    v.state = EDGE_VIEW_STREAMING;
    p = respond(GET_PL "Accept-Encoding: gzip\r\n\r\n", &v, &cfg_cache);
    CHECK(p.action == EDGE_PLAN_WAIT, "gzip of a playlist still filling waits");
    p = respond(GET_PL "\r\n", &v, &cfg_cache);
    CHECK(p.action == EDGE_PLAN_READY && p.body == EDGE_BODY_IDENTITY,
          "identity of a playlist still filling is streamed");
    /* A pass-through body is never whole in memory: never waited for, served as it comes. */
    v.passthrough = true;
    v.has_gz = false;
    p = respond(GET_PL "Accept-Encoding: gzip\r\n\r\n", &v, &cfg_cache);
    CHECK(p.action == EDGE_PLAN_READY && p.body == EDGE_BODY_IDENTITY &&
              !has_name("Content-Encoding"),
          "pass-through playlist: identity at once");
    v.length = -1;
    p = respond(GET_PL "Range: bytes=0-9\r\n\r\n", &v, &cfg_cache);
    CHECK(p.action == EDGE_PLAN_READY && p.status == 200 && p.chunked && p.end == -1,
          "pass-through of unknown length with a Range: the whole body, chunked");

    /* the one gzip set-up: a round trip */
    char in[3000];
    for (size_t i = 0; i < sizeof(in); i++) {
        in[i] = (char)("#EXTINF:2.0,\nseg.ts\n"[i % 20]);
    }
    char *gz = NULL;
    size_t gzl = 0;
    CHECK(edge_gzip(in, sizeof(in), &gz, &gzl) == 0 && gz && gzl > 18 && gzl < sizeof(in),
          "edge_gzip compresses");
    char out[4000];
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    inflateInit2(&zs, 31);
    zs.next_in = (Bytef *)gz;
    zs.avail_in = (uInt)gzl;
    zs.next_out = (Bytef *)out;
    zs.avail_out = sizeof(out);
    CHECK(inflate(&zs, Z_FINISH) == Z_STREAM_END && zs.total_out == sizeof(in) &&
              memcmp(in, out, sizeof(in)) == 0,
          "gzip output inflates back");
    inflateEnd(&zs);
    free(gz);
    CHECK(edge_gzip(in, EDGE_GZIP_MAX + 1, &gz, &gzl) < 0 && gz == NULL, "over the cap: refused");
}

static void test_freshness(void)
{
    CHECK(edge_cache_age_ms(1000, 0, 4500) == 3500, "local age");
    CHECK(edge_cache_age_ms(1000, 7, 4500) == 10500, "plus the origin's Age");
    CHECK(edge_cache_age_ms(5000, 0, 4500) == 0, "a clock before the response: age 0");

    edge_cs_t cs = EDGE_CS_NONE;
    CHECK(edge_lookup_decide(NULL, NOW, &cs) == EDGE_DO_FILL && cs == EDGE_CS_MISS, "miss: fill");
    edge_obj_view_t v = seg_view();
    v.state = EDGE_VIEW_PENDING;
    CHECK(edge_lookup_decide(&v, NOW, &cs) == EDGE_DO_NONE && cs == EDGE_CS_COLLAPSED,
          "pending: collapsed");
    v.state = EDGE_VIEW_STREAMING;
    CHECK(edge_lookup_decide(&v, NOW, &cs) == EDGE_DO_NONE && cs == EDGE_CS_COLLAPSED,
          "streaming: collapsed");
    v = seg_view(); /* age 10 s, ttl 60 s, swr 10 s */
    CHECK(edge_lookup_decide(&v, NOW, &cs) == EDGE_DO_NONE && cs == EDGE_CS_HIT, "fresh: hit");
    v.origin_age = 49;
    CHECK(edge_lookup_decide(&v, NOW, &cs) == EDGE_DO_NONE && cs == EDGE_CS_HIT,
          "59 s with the origin's Age: hit");
    v.origin_age = 50;
    CHECK(edge_lookup_decide(&v, NOW, &cs) == EDGE_DO_REFRESH && cs == EDGE_CS_STALE,
          "60 s: stale-while-revalidate");
    v.origin_age = 59;
    CHECK(edge_lookup_decide(&v, NOW, &cs) == EDGE_DO_REFRESH && cs == EDGE_CS_STALE,
          "69 s: still within swr");
    v.origin_age = 60;
    CHECK(edge_lookup_decide(&v, NOW, &cs) == EDGE_DO_REVALIDATE && cs == EDGE_CS_NONE,
          "70 s: revalidate and wait");

    /* Outcome of a revalidation waited for. */
    v = seg_view();
    v.origin_age = 300; /* 310 s old: within ttl + sie (360 s) */
    CHECK(edge_refresh_outcome(&v, EDGE_REFRESH_RESULT_FAILED, NOW) == EDGE_CS_STALE_ERROR,
          "failed within stale-if-error: stale");
    v.origin_age = 350;
    CHECK(edge_refresh_outcome(&v, EDGE_REFRESH_RESULT_FAILED, NOW) == EDGE_CS_ERROR,
          "failed past stale-if-error: error");
    CHECK(edge_refresh_outcome(&v, EDGE_REFRESH_RESULT_REVALIDATED, NOW) == EDGE_CS_REVALIDATED,
          "304: revalidated");
    CHECK(edge_refresh_outcome(&v, EDGE_REFRESH_RESULT_REPLACED, NOW) == EDGE_CS_REFRESHED,
          "new object: refreshed");
}

static void test_cache_status(void)
{
    edge_obj_view_t v = seg_view();
    v.origin_age = 55; /* 65 s old */
    v.cs = EDGE_CS_STALE;
    edge_plan_t p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(has(&p, "Cache-Status: segment-edge; hit; ttl=-5; detail=stale-while-revalidate") &&
              has(&p, "Age: 65"),
          "stale: %s", hdr);

    v.cs = EDGE_CS_STALE_ERROR;
    v.fwd_status = 503;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 &&
              has(&p, "Cache-Status: segment-edge; fwd=stale; fwd-status=503; ttl=-5; "
                      "detail=stale-if-error"),
          "stale-if-error: %s", hdr);

    v = seg_view();
    v.cs = EDGE_CS_REVALIDATED;
    v.fwd_status = 304;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(has(&p, "Cache-Status: segment-edge; fwd=stale; fwd-status=304; ttl=50; stored"),
          "revalidated: %s", hdr);
    v.cs = EDGE_CS_REFRESHED;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(has(&p, "Cache-Status: segment-edge; fwd=stale; fwd-status=200; stored"), "refreshed: %s",
          hdr);
    v.cs = EDGE_CS_MISS;
    v.stored = false;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(has(&p, "Cache-Status: segment-edge; fwd=miss; fwd-status=200"), "miss: %s", hdr);
    v.cs = EDGE_CS_COLLAPSED;
    v.stored = true;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(has(&p, "Cache-Status: segment-edge; fwd=miss; fwd-status=200; collapsed; stored"),
          "collapsed: %s", hdr);
    v.cs = EDGE_CS_HIT;
    v.from_disk = true;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(has(&p, "Cache-Status: segment-edge; hit; ttl=50; detail=disk"), "disk hit: %s", hdr);

    /* A revalidation that failed past stale-if-error: the origin's 5xx. */
    v = seg_view();
    v.cs = EDGE_CS_ERROR;
    v.fwd_status = 503;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 503 && p.cs == EDGE_CS_ERROR && p.body == EDGE_BODY_TEXT &&
              strcmp(p.text, "503 Service Unavailable\n") == 0 &&
              has(&p, "Cache-Status: segment-edge; fwd=miss; fwd-status=503") &&
              has(&p, "Cache-Control: no-store"),
          "error after a failed revalidation: %s", hdr);
    v.fwd_status = 0;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 502, "no origin status: 502, got %d", p.status);
}

static void test_object_states(void)
{
    edge_obj_view_t v = seg_view();
    v.state = EDGE_VIEW_PENDING;
    v.cs = EDGE_CS_MISS;
    edge_plan_t p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.action == EDGE_PLAN_WAIT && p.hdr_len == 0, "pending: wait, no head");

    v.state = EDGE_VIEW_FAILED;
    v.fail_status = 504;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 504 && p.cs == EDGE_CS_ERROR && strcmp(p.text, "504 Gateway Timeout\n") == 0,
          "failed fill: its status, cs ERROR");
    CHECK(has(&p, "Content-Length: 20") && p.end == 20 && !has_name("Cache-Status"),
          "error body length: %s", hdr);
    v.fail_status = 0;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 502, "failed without a status: 502");

    /* Streaming with an unknown length: chunked for HTTP/1.1, close-delimited for 1.0. */
    v = seg_view();
    v.state = EDGE_VIEW_STREAMING;
    v.length = -1;
    v.cs = EDGE_CS_MISS;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 && p.chunked && p.end == -1 && has(&p, "Transfer-Encoding: chunked") &&
              !has_name("Content-Length"),
          "chunked: %s", hdr);
    p = respond("GET /v/seg.ts HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &v, &cfg_cache);
    CHECK(!p.chunked && !p.keep_alive && !has_name("Transfer-Encoding"),
          "HTTP/1.0 unknown length: close-delimited");
    p = respond("HEAD /v/seg.ts HTTP/1.1\r\nHost: e\r\n\r\n", &v, &cfg_cache);
    CHECK(!p.chunked && p.body == EDGE_BODY_NONE, "HEAD of unknown length: no body");

    /* Another origin status is passed through whole, without validators. */
    v = seg_view();
    v.status = 404;
    v.length = 9;
    v.ctype = "text/plain";
    p = respond(GET_SEG "Range: bytes=0-1\r\nIf-None-Match: " ETAG "\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 404 && p.end == 9 && has(&p, "Content-Length: 9") && !has_name("ETag") &&
              !has_name("Accept-Ranges"),
          "404 passed through: %s", hdr);
}

/* A redirect from the origin keeps its Location as the origin wrote it. */
static void test_redirects(void)
{
    edge_obj_view_t v = seg_view();
    v.status = 301;
    v.length = 0;
    v.etag = NULL;
    v.location = "/v/new%20name.ts?a=1&b";
    edge_plan_t p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 301 && has(&p, "Location: /v/new%20name.ts?a=1&b"), "301: %s", hdr);
    p = respond("HEAD /v/seg.ts HTTP/1.1\r\nHost: e\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 301 && has(&p, "Location: /v/new%20name.ts?a=1&b"), "HEAD of a 301");
    v.status = 307;
    v.location = "https://other.example:8443/x/y.m3u8";
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 307 && has(&p, "Location: https://other.example:8443/x/y.m3u8"), "307: %s",
          hdr);
    v.location = NULL;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 307 && !has_name("Location"), "no Location when the origin sent none");
    v.location = "/a\r\nSet-Cookie: x=1";
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 307 && !has_name("Location") && !strstr(hdr, "Set-Cookie"),
          "a Location with CR/LF is dropped: %s", hdr);

    /* The longest Location passed (a target as long as max_uri allows) fits the head with every
     * other value at its cap; one byte more and it is left out. */
    static char loc[EDGE_MAX_URI + 2];
    static char cc[1024];
    static char ct[256];
    memset(loc, 'l', sizeof(loc) - 1);
    loc[0] = '/';
    loc[EDGE_MAX_URI] = '\0';
    memset(cc, 'c', sizeof(cc) - 1);
    memset(ct, 't', sizeof(ct) - 1);
    v.location = loc;
    v.cache_control = cc;
    v.ctype = ct;
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 307 && has_name("Location") && strstr(hdr, loc) &&
              has_name("Cache-Control") && has_name("Content-Type"),
          "a Location of EDGE_MAX_URI bytes fits");
    loc[EDGE_MAX_URI] = 'l';
    p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 307 && !has_name("Location"), "a longer Location is left out");
}

static void test_methods(void)
{
    CHECK(edge_method_allowed(HTTP_GET, false) && edge_method_allowed(HTTP_HEAD, false) &&
              edge_method_allowed(HTTP_OPTIONS, false),
          "GET, HEAD, OPTIONS everywhere");
    CHECK(!edge_method_allowed(HTTP_PUT, false) && !edge_method_allowed(HTTP_DELETE, false),
          "no PUT/DELETE in cache mode");
    CHECK(edge_method_allowed(HTTP_PUT, true) && edge_method_allowed(HTTP_DELETE, true),
          "PUT/DELETE in origin mode");
    CHECK(!edge_method_allowed(HTTP_POST, true) && !edge_method_allowed(HTTP_PATCH, true) &&
              !edge_method_allowed(HTTP_CONNECT, false),
          "other methods nowhere");

    edge_obj_view_t v = seg_view();
    edge_plan_t p =
        respond("PUT /v/seg.ts HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 405 && has(&p, "Allow: GET, HEAD, OPTIONS") &&
              strcmp(p.text, "405 Method Not Allowed\n") == 0,
          "PUT in cache mode: 405: %s", hdr);
    p = respond("DELETE /v/seg.ts HTTP/1.1\r\nHost: e\r\n\r\n", &v, &cfg_cache);
    CHECK(p.status == 405, "DELETE in cache mode: 405");
    p = respond("POST /v/seg.ts HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\n\r\n", &v, &cfg_origin);
    CHECK(p.status == 405 && has(&p, "Allow: GET, HEAD, OPTIONS, PUT, DELETE"),
          "POST in origin mode: 405 with the origin's Allow: %s", hdr);

    p = respond("OPTIONS /v/seg.ts HTTP/1.1\r\nHost: e\r\nAccess-Control-Request-Headers: "
                "Range, X-Y\r\n\r\n",
                NULL, &cfg_cache);
    CHECK(p.status == 204 && has(&p, "Access-Control-Allow-Methods: GET, HEAD, OPTIONS") &&
              has(&p, "Access-Control-Allow-Headers: Range, X-Y") &&
              has(&p, "Access-Control-Max-Age: 86400") && has(&p, "Allow: GET, HEAD, OPTIONS") &&
              p.body == EDGE_BODY_NONE,
          "OPTIONS preflight: %s", hdr);
    p = respond("OPTIONS * HTTP/1.1\r\nHost: e\r\n\r\n", NULL, &cfg_origin);
    CHECK(p.status == 204 && has(&p, "Allow: GET, HEAD, OPTIONS, PUT, DELETE") &&
              has(&p, "Access-Control-Allow-Headers: Range, If-None-Match, If-Modified-Since, "
                      "If-Range"),
          "OPTIONS in origin mode, default allowed headers: %s", hdr);

    p = respond(GET_SEG "\r\n", NULL, &cfg_origin);
    CHECK(p.status == 404, "GET without an object: 404");

    /* Results of PUT and DELETE (origin mode) through the same head writer. */
    edge_req_t r;
    req_parse(&r, "PUT /a HTTP/1.1\r\nHost: e\r\nContent-Length: 0\r\n\r\n");
    edge_plan_t q = {.hdr = hdr, .hdr_cap = sizeof(hdr)};
    edge_respond_simple(&r, 201, NULL, 0, NULL, &cfg_origin, &q);
    hdr[q.hdr_len] = '\0';
    CHECK(q.status == 201 && has(&q, "Content-Length: 0") && q.body == EDGE_BODY_NONE, "201: %s",
          hdr);
    edge_respond_simple(&r, 204, NULL, 0, NULL, &cfg_origin, &q);
    hdr[q.hdr_len] = '\0';
    CHECK(q.status == 204 && !has_name("Content-Length"), "204 has no Content-Length: %s", hdr);
}

static void test_hostile_values(void)
{
    /* Values with CR or LF never reach the head. */
    edge_obj_view_t v = seg_view();
    v.etag = "\"a\"\r\nSet-Cookie: x=1";
    v.ctype = "text/plain\nX-Evil: 1";
    v.cache_control = "max-age=1\r";
    edge_plan_t p = respond(GET_SEG "\r\n", &v, &cfg_cache);
    CHECK(p.status == 200 && !strstr(hdr, "Set-Cookie") && !strstr(hdr, "X-Evil") &&
              !has_name("ETag") && !has_name("Content-Type") && !has_name("Cache-Control"),
          "CR/LF values dropped: %s", hdr);

    edge_req_t r;
    memset(&r, 0, sizeof(r));
    r.method = HTTP_OPTIONS;
    r.http_minor = 1;
    r.date = DATE;
    r.acr_headers = (edge_hval_t){"Range\r\nX-Evil: 1", 16};
    edge_plan_t q = {.hdr = hdr, .hdr_cap = sizeof(hdr)};
    edge_respond(&r, NULL, NOW, &cfg_cache, &q);
    hdr[q.hdr_len] = '\0';
    CHECK(q.status == 204 && !strstr(hdr, "X-Evil"), "a CR/LF request header is not echoed");

    /* A head that does not fit: a bare 500 that closes. */
    char small[200];
    req_parse(&r, GET_SEG "\r\n");
    v = seg_view();
    q = (edge_plan_t){.hdr = small, .hdr_cap = sizeof(small)};
    edge_respond(&r, &v, NOW, &cfg_cache, &q);
    CHECK(q.status == 500 && !q.keep_alive && q.body == EDGE_BODY_NONE &&
              q.hdr_len < sizeof(small) && memcmp(small + q.hdr_len - 4, "\r\n\r\n", 4) == 0,
          "overflow gives a whole 500 head");
}

int main(void)
{
    edge_config_defaults(&cfg_cache);
    snprintf(cfg_cache.cors_allow_origin, sizeof(cfg_cache.cors_allow_origin), "*");
    cfg_cache.n_origins = 1;
    edge_config_defaults(&cfg_origin);
    snprintf(cfg_origin.root, sizeof(cfg_origin.root), "/srv/hls");
    test_plain_get_and_head();
    test_conditional();
    test_ranges();
    test_gzip();
    test_freshness();
    test_cache_status();
    test_object_states();
    test_redirects();
    test_methods();
    test_hostile_values();
    return check_report();
}
