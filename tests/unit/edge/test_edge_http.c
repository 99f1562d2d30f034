/* test_edge_http.c: unit tests of the HTTP request/response parser and the HTTP helpers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "edge_http.h"

static char arena[16384];
static char body[65536];
static size_t body_len;

static int sink(void *ctx, const char *at, size_t len)
{
    (void)ctx;
    if (body_len + len <= sizeof(body)) {
        memcpy(body + body_len, at, len);
    }
    body_len += len;
    return 0;
}

/* Feed msg[0, len) to p in pieces of step bytes up to the end of a message or an error: the last
 * feed result, *off the bytes consumed. */
static int feed_pieces(edge_http_parser_t *p, const char *msg, size_t len, size_t step, size_t *off)
{
    int rc = EDGE_HTTP_NEED_MORE;
    *off = 0;
    while (*off < len) {
        size_t n = len - *off < step ? len - *off : step;
        size_t used = 0;
        rc = edge_http_parser_feed(p, msg + *off, n, &used);
        if (rc < 0) {
            break;
        }
        *off += used;
        if (rc == EDGE_HTTP_MESSAGE_DONE) {
            break;
        }
    }
    return rc;
}

/* Feed a message in pieces of step bytes; returns the final feed result and the status hint. */
static int parse(bool response, const char *msg, size_t step, int *hint, edge_http_parser_t *p)
{
    edge_http_parser_init(p, response, arena, sizeof(arena), 1024);
    p->body_cb = sink;
    body_len = 0;
    size_t off;
    int rc = feed_pieces(p, msg, strlen(msg), step, &off);
    *hint = p->status_hint;
    return rc;
}

static int req_status(const char *msg)
{
    edge_http_parser_t p;
    int hint = 0;
    /* The same answer whether the bytes come at once or one by one. */
    int rc1 = parse(false, msg, 1u << 20, &hint, &p);
    int hint1 = hint;
    int rc2 = parse(false, msg, 1, &hint, &p);
    if (rc1 != rc2 || hint1 != hint) {
        fprintf(stderr, "split-dependent result for %s\n", msg);
        return -1;
    }
    return rc1 == EDGE_HTTP_MESSAGE_DONE ? 200 : rc1 < 0 ? hint : 0;
}

static void test_requests(void)
{
    edge_http_parser_t p;
    int hint = 0;
    CHECK(req_status("GET /a.ts HTTP/1.1\r\nHost: x\r\n\r\n") == 200);
    CHECK(parse(false, "GET /a.ts?x=1 HTTP/1.1\r\nHost: x\r\nRange:  bytes=0-1 \r\n\r\n", 3, &hint,
                &p) == EDGE_HTTP_MESSAGE_DONE);
    size_t l = 0;
    const char *v = edge_http_msg_header(&p.msg, "range", &l);
    CHECK(v && l == 9 && memcmp(v, "bytes=0-1", 9) == 0);
    CHECK(p.msg.url_len == 9 && memcmp(p.msg.url, "/a.ts?x=1", 9) == 0);
    CHECK(p.msg.keep_alive);
    /* HTTP/1.0 defaults to close and needs no Host. */
    CHECK(parse(false, "GET / HTTP/1.0\r\n\r\n", 100, &hint, &p) == EDGE_HTTP_MESSAGE_DONE);
    CHECK(!p.msg.keep_alive);
    /* A PUT body (chunked) reaches the sink decoded. */
    CHECK(parse(false,
                "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
                2, &hint, &p) == EDGE_HTTP_MESSAGE_DONE);
    CHECK(body_len == 5 && memcmp(body, "abcde", 5) == 0);
    /* Trailer fields are read and dropped: not header fields, however many. */
    char *tr = malloc(4096);
    strcpy(tr, "GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n"
               "Range: bytes=0-1\r\nIf-None-Match: *\r\n");
    for (int i = 0; i < 70; i++) {
        strcat(tr, "X-T: 1\r\n");
    }
    strcat(tr, "\r\n");
    CHECK(req_status(tr) == 200);
    CHECK(parse(false, tr, 7, &hint, &p) == EDGE_HTTP_MESSAGE_DONE);
    CHECK(p.msg.n_headers == 2 && !edge_http_msg_header(&p.msg, "range", NULL) &&
              !edge_http_msg_header(&p.msg, "if-none-match", NULL),
          "%zu header fields", p.msg.n_headers);
    CHECK(req_status("GET /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
                     "X T: 1\r\n\r\n") == 400);
    free(tr);

    /* Smuggling and malformed heads. */
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: "
                     "chunked\r\n\r\n0\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: "
                     "1\r\n\r\n0\r\n\r\n") == 400);
    CHECK(
        req_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n") ==
        400);
    /* Transfer-Encoding in HTTP/1.0 (RFC 9112 6.1: faulty framing), kept alive or not. */
    CHECK(req_status("GET / HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n"
                     "\r\n0\r\n\r\n") == 400);
    CHECK(req_status(
              "PUT /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost : x\r\n\r\n") == 400);
    /* Whitespace before the colon of any field, or inside a name: 400 (RFC 9112 5.1), not only
     * where it leaves Host missing; on HTTP/1.0 too. */
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nX-A : y\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nX A: y\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nX-A\t: y\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.0\r\nHost : x\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nX(a): y\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nX-A_b.c~!#$%&'*+^`|: y\r\n\r\n") == 200);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\n Host: x\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01"
                     "b\r\n\r\n") == 400);
    CHECK(req_status("GET / HTTP/1.1\r\nHost: x\r\nExpect: magic\r\n\r\n") == 417);
    CHECK(req_status("NOPE\r\n\r\n") == 400);
    /* Limits: URL (max_url 1024) and head size (arena). */
    char *big = malloc(40000);
    strcpy(big, "GET /");
    memset(big + 5, 'a', 2000);
    strcpy(big + 2005, " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(req_status(big) == 414);
    strcpy(big, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
    size_t o = strlen(big);
    memset(big + o, 'b', 20000);
    strcpy(big + o + 20000, "\r\n\r\n");
    CHECK(req_status(big) == 431);
    strcpy(big, "GET / HTTP/1.1\r\nHost: x\r\n");
    for (int i = 0; i < 70; i++) {
        strcat(big, "X-A: 1\r\n");
    }
    strcat(big, "\r\n");
    CHECK(req_status(big) == 431);
    free(big);

    /* Pipelining: the parser stops after each message. */
    const char *two = "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n";
    edge_http_parser_init(&p, false, arena, sizeof(arena), 1024);
    size_t used = 0;
    CHECK(edge_http_parser_feed(&p, two, strlen(two), &used) == EDGE_HTTP_MESSAGE_DONE);
    CHECK(used == strlen(two) / 2);
    edge_http_parser_next(&p);
    size_t used2 = 0;
    CHECK(edge_http_parser_feed(&p, two + used, strlen(two) - used, &used2) ==
          EDGE_HTTP_MESSAGE_DONE);
    CHECK(p.msg.url_len == 2 && p.msg.url[1] == '2');

    /* An upgrade offer (curl --http2 on http://: h2c; a WebSocket handshake) is ignored: the
     * request is answered as HTTP/1.1 and the next one on the connection is parsed too, with or
     * without a body before it. */
    const char *offers[] = {
        "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
        "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
        "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
        "GET /1 HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: h2c\r\n"
        "Content-Length: 3\r\n\r\nabc",
    };
    for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%sGET /2 HTTP/1.1\r\nHost: x\r\n\r\n", offers[i]);
        edge_http_parser_init(&p, false, arena, sizeof(arena), 1024);
        used = 0;
        CHECK(edge_http_parser_feed(&p, buf, strlen(buf), &used) == EDGE_HTTP_MESSAGE_DONE,
              "offer %zu", i);
        CHECK(used == strlen(offers[i]) && p.msg.keep_alive, "offer %zu: used %zu", i, used);
        edge_http_parser_next(&p);
        used2 = 0;
        CHECK(edge_http_parser_feed(&p, buf + used, strlen(buf) - used, &used2) ==
                  EDGE_HTTP_MESSAGE_DONE,
              "offer %zu: the next request: %s", i, p.reason ? p.reason : "-");
        CHECK(p.msg.url_len == 2 && p.msg.url[1] == '2', "offer %zu", i);
    }
}

static void test_responses(void)
{
    edge_http_parser_t p;
    int hint = 0;
    CHECK(parse(true, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nETag: \"x\"\r\n\r\nabc", 1, &hint,
                &p) == EDGE_HTTP_MESSAGE_DONE);
    CHECK(p.msg.status == 200 && body_len == 3 && p.msg.content_length == 3);
    CHECK(parse(true, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n", 4,
                &hint, &p) == EDGE_HTTP_MESSAGE_DONE);
    CHECK(p.msg.chunked && body_len == 1);
    /* An origin's trailers do not take the head's field slots: 70 of them end the body. */
    char tr[1024] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n";
    for (int i = 0; i < 70; i++) {
        strcat(tr, "X-T: 1\r\n");
    }
    strcat(tr, "\r\n");
    CHECK(parse(true, tr, 5, &hint, &p) == EDGE_HTTP_MESSAGE_DONE && body_len == 1);
    CHECK(parse(true, "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", 5, &hint, &p) ==
          EDGE_HTTP_MESSAGE_DONE);
    /* Close-delimited body completes at end of input. */
    CHECK(parse(true, "HTTP/1.0 200 OK\r\n\r\nxyz", 100, &hint, &p) == EDGE_HTTP_NEED_MORE);
    CHECK(edge_http_parser_finish(&p) == EDGE_HTTP_MESSAGE_DONE && body_len == 3);
    /* Malformed origin responses. */
    CHECK(parse(true, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 100,
                &hint, &p) < 0);
    CHECK(
        parse(true,
              "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
              100, &hint, &p) < 0);
    CHECK(parse(true, "HTTP/1.1 abc OK\r\n\r\n", 100, &hint, &p) < 0);
    CHECK(parse(true, "HTTX/1.1 200 OK\r\n\r\n", 100, &hint, &p) < 0);
    CHECK(parse(true, "HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n", 100, &hint,
                &p) < 0);
    CHECK(parse(true, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 100, &hint,
                &p) < 0);
    /* Truncated body: not complete at end of input. */
    CHECK(parse(true, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 100, &hint, &p) ==
          EDGE_HTTP_NEED_MORE);
    CHECK(edge_http_parser_finish(&p) < 0);
}

/* Head callbacks of a response parse: how many, and the last status seen. */
static int heads_seen;
static int head_status;

static int count_head(void *ctx, edge_http_msg_t *m)
{
    (void)ctx;
    heads_seen++;
    head_status = m->status;
    return 0;
}

/* Parse one origin response fed in pieces of step bytes: the feed result, *used_total the bytes
 * consumed up to the end of the final response. */
static int parse_origin(const char *msg, size_t len, size_t step, size_t *used_total,
                        edge_http_parser_t *p)
{
    edge_http_parser_init(p, true, arena, sizeof(arena), 1024);
    p->body_cb = sink;
    p->head_cb = count_head;
    body_len = 0;
    heads_seen = 0;
    head_status = 0;
    return feed_pieces(p, msg, len, step, used_total);
}

/* Interim responses (1xx) before the final one are skipped, at most EDGE_HTTP_MAX_INTERIM of
 * them; a 101 is refused. */
static void test_interim_responses(void)
{
    edge_http_parser_t p;
    size_t used = 0;
    const char *final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    char msg[4096];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 100 Continue\r\n\r\n"
                     "HTTP/1.1 103 Early Hints\r\nLink: </s.ts>; rel=preload\r\n\r\n%s"
                     "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                     final);
    size_t first_len = strlen(msg) - strlen("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    size_t steps[] = {1, 3, 7, 1u << 20};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        CHECK(parse_origin(msg, (size_t)n, steps[i], &used, &p) == EDGE_HTTP_MESSAGE_DONE,
              "step %zu", steps[i]);
        CHECK(heads_seen == 1 && head_status == 200, "step %zu: %d heads, status %d", steps[i],
              heads_seen, head_status);
        CHECK(p.msg.status == 200 && body_len == 2 && memcmp(body, "ok", 2) == 0, "step %zu",
              steps[i]);
        CHECK(edge_http_msg_header(&p.msg, "link", NULL) == NULL,
              "the final head has only its own fields");
        CHECK(used == first_len, "step %zu: used %zu of %zu", steps[i], used, first_len);
    }
    /* An interim response has no body, whatever it says. */
    const char *cl = "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\n"
                     "HTTP/1.1 204 No Content\r\n\r\n";
    CHECK(parse_origin(cl, strlen(cl), 1, &used, &p) == EDGE_HTTP_MESSAGE_DONE &&
          head_status == 204 && body_len == 0);
    /* Eight interim responses are skipped; a ninth is an origin error (502). */
    for (int k = 8; k <= 9; k++) {
        size_t o = 0;
        for (int j = 0; j < k; j++) {
            o += (size_t)snprintf(msg + o, sizeof(msg) - o, "HTTP/1.1 103 Early Hints\r\n\r\n");
        }
        o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s", final);
        int rc = parse_origin(msg, o, 5, &used, &p);
        if (k == 8) {
            CHECK(rc == EDGE_HTTP_MESSAGE_DONE && head_status == 200 && body_len == 2);
            /* The bound is per response: the next one on the connection may have its own. */
            edge_http_parser_next(&p);
            size_t u2 = 0;
            CHECK(edge_http_parser_feed(&p, msg, o, &u2) == EDGE_HTTP_MESSAGE_DONE && u2 == o &&
                  heads_seen == 2);
        } else {
            CHECK(rc < 0 && p.status_hint == 502 && heads_seen == 0, "rc %d hint %d", rc,
                  p.status_hint);
        }
    }
    /* 101 Switching Protocols: nothing asked for it; 502, and the head is never reported. */
    const char *up = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\n\r\n";
    CHECK(parse_origin(up, strlen(up), 1u << 20, &used, &p) < 0 && p.status_hint == 502 &&
          heads_seen == 0);
    const char *up2 = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n";
    CHECK(parse_origin(up2, strlen(up2), 1, &used, &p) < 0 && p.status_hint == 502 &&
          heads_seen == 0);
}

static void test_paths(void)
{
    char out[256];
    const char *q = NULL;
    size_t ql = 0;
#define NORM(in) edge_path_normalize(in, strlen(in), out, sizeof(out), &q, &ql)
    CHECK(NORM("/a/b.ts") == 7 && strcmp(out, "/a/b.ts") == 0 && q == NULL);
    CHECK(NORM("/a//./b/../c.ts?x=1#f") > 0 && strcmp(out, "/a/c.ts") == 0 && ql == 3);
    CHECK(NORM("/a%20b") > 0 && strcmp(out, "/a b") == 0);
    CHECK(NORM("/dir/") > 0 && strcmp(out, "/dir/") == 0);
    CHECK(NORM("/") == 1);
    CHECK(NORM("http://host:1/x.ts") > 0 && strcmp(out, "/x.ts") == 0);
    CHECK(NORM("/..") == -EINVAL);
    CHECK(NORM("/a/../../b") == -EINVAL);
    CHECK(NORM("/%2e%2e/x") == -EINVAL);
    CHECK(NORM("/a%2fb") == -EINVAL);
    CHECK(NORM("/a%00") == -EINVAL);
    CHECK(NORM("/a%5c..") == -EINVAL);
    CHECK(NORM("/a%") == -EINVAL);
    CHECK(NORM("/a%4") == -EINVAL);
    CHECK(NORM("/a%zz") == -EINVAL);
    CHECK(NORM("a/b") == -EINVAL);
    CHECK(NORM("") == -EINVAL);
    CHECK(NORM("/a\x01") == -EINVAL);
    char lng[400];
    memset(lng, 'a', sizeof(lng));
    lng[0] = '/';
    CHECK(edge_path_normalize(lng, sizeof(lng), out, sizeof(out), &q, &ql) == -ENAMETOOLONG);
#undef NORM
}

static void test_cache_key(void)
{
    static const char *const keep[] = {"_HLS_msn", "_HLS_part", "_HLS_skip", NULL};
    char k[128];
    const char *qs = "token=abc&_HLS_msn=5&x=&_HLS_part=2&&_HLS_msnx=1";
    CHECK(edge_cache_key_build("/p.m3u8", 7, qs, strlen(qs), keep, k, sizeof(k)) > 0);
    CHECK(strcmp(k, "/p.m3u8?_HLS_msn=5&_HLS_part=2") == 0);
    CHECK(edge_cache_key_build("/s.ts", 5, "a=1", 3, keep, k, sizeof(k)) == 5 &&
          strcmp(k, "/s.ts") == 0);
    CHECK(edge_cache_key_build("/s.ts", 5, NULL, 0, keep, k, sizeof(k)) == 5);
    CHECK(edge_cache_key_build("/s.ts", 5, "_HLS_skip=YES", 13, keep, k, 10) == -ENAMETOOLONG);
}

/* The key (and the origin request built from it) from a request target: decode once, resolve,
 * re-encode. Returns the key length or a negative code. */
static int key_of(const char *target, char *k, size_t cap)
{
    static const char *const keep[] = {"_HLS_msn", NULL};
    char path[256];
    const char *q = NULL;
    size_t ql = 0;
    int pl = edge_path_normalize(target, strlen(target), path, sizeof(path), &q, &ql);
    if (pl < 0) {
        return pl;
    }
    return edge_cache_key_build(path, (size_t)pl, q, ql, keep, k, cap);
}

static void test_path_key(void)
{
    char k[256];
    char k2[256];
    /* An encoded '?' is part of the path: it stays %3F, it is no query. */
    CHECK(key_of("/live/seg1.ts%3Fbust=1", k, sizeof(k)) > 0 &&
          strcmp(k, "/live/seg1.ts%3Fbust=1") == 0);
    CHECK(key_of("/live/seg1.ts%3fbust=1", k2, sizeof(k2)) > 0 && strcmp(k, k2) == 0);
    /* A real query is dropped by the query-string rule; its encoded twin is another path. */
    CHECK(key_of("/live/seg1.ts?bust=1", k, sizeof(k)) > 0 && strcmp(k, "/live/seg1.ts") == 0);
    CHECK(key_of("/live/seg1.ts?bust=2&_HLS_msn=3", k, sizeof(k)) > 0 &&
          strcmp(k, "/live/seg1.ts?_HLS_msn=3") == 0);
    /* Decoded exactly once. */
    CHECK(key_of("/a/%252e%252e/b", k, sizeof(k)) > 0 && strcmp(k, "/a/%252e%252e/b") == 0);
    CHECK(key_of("/a/%2e%2e/b", k, sizeof(k)) > 0 && strcmp(k, "/b") == 0);
    CHECK(key_of("/a%20b.ts", k, sizeof(k)) > 0 && strcmp(k, "/a%20b.ts") == 0);
    /* Needless encodings collapse onto one key; upper-case hex out. */
    CHECK(key_of("/%61%62c.ts", k, sizeof(k)) > 0 && strcmp(k, "/abc.ts") == 0);
    CHECK(key_of("/x%7e%2d%5F.ts", k, sizeof(k)) > 0 && strcmp(k, "/x~-_.ts") == 0);
    CHECK(key_of("/%c3%a9.ts", k, sizeof(k)) > 0 && strcmp(k, "/%C3%A9.ts") == 0);
    CHECK(key_of("/%C3%A9.ts", k2, sizeof(k2)) > 0 && strcmp(k, k2) == 0);
    CHECK(key_of("/a:b@c!$&'()*+,;=.ts", k, sizeof(k)) > 0 &&
          strcmp(k, "/a:b@c!$&'()*+,;=.ts") == 0);
    CHECK(key_of("/a%23b%25c%22d", k, sizeof(k)) > 0 && strcmp(k, "/a%23b%25c%22d") == 0);
    CHECK(key_of("/./a/./b/../c", k, sizeof(k)) > 0 && strcmp(k, "/a/c") == 0);
    /* Refused. */
    CHECK(key_of("/a%00b", k, sizeof(k)) == -EINVAL);
    CHECK(key_of("/a\\b", k, sizeof(k)) == -EINVAL);
    CHECK(key_of("/a%5cb", k, sizeof(k)) == -EINVAL);
    CHECK(key_of("/a%2Fb", k, sizeof(k)) == -EINVAL);
    CHECK(key_of("/a%0d%0aHost:x", k, sizeof(k)) == -EINVAL);
    CHECK(key_of("/a%", k, sizeof(k)) == -EINVAL);
    CHECK(key_of("/a%g0", k, sizeof(k)) == -EINVAL);
    CHECK(key_of("/a%0", k, sizeof(k)) == -EINVAL);
    CHECK(key_of("/%2e%2e/etc", k, sizeof(k)) == -EINVAL);
    /* Encoding grows the path: a key buffer too small says so. */
    CHECK(key_of("/%20%20%20%20", k, 8) == -ENAMETOOLONG);
    /* A kept parameter cannot put a control byte or a space into the origin request line. */
    static const char *const keep[] = {"_HLS_msn", NULL};
    CHECK(edge_cache_key_build("/p.m3u8", 7, "_HLS_msn=1\x01 2", 13, keep, k, sizeof(k)) > 0 &&
          strcmp(k, "/p.m3u8?_HLS_msn=1%01%202") == 0);
    CHECK(edge_cache_key_build("/p.m3u8", 7, "_HLS_msn=\x01\x01", 11, keep, k, 20) ==
          -ENAMETOOLONG);
    char e[8];
    CHECK(edge_path_encode("/ab", 3, e, sizeof(e)) == 3 && strcmp(e, "/ab") == 0);
    CHECK(edge_path_encode("/a b", 4, e, sizeof(e)) == 6 && strcmp(e, "/a%20b") == 0);
    CHECK(edge_path_encode("/a b", 4, e, 6) == -ENAMETOOLONG);
    CHECK(edge_path_encode("", 0, e, 0) == -ENAMETOOLONG);
}

static void test_ranges(void)
{
    uint64_t a = 0;
    uint64_t b = 0;
#define R(s, size) edge_range_parse(s, strlen(s), size, &a, &b)
    CHECK(R("bytes=0-9", 100) == 1 && a == 0 && b == 9);
    CHECK(R("bytes=90-", 100) == 1 && a == 90 && b == 99);
    CHECK(R("bytes=-10", 100) == 1 && a == 90 && b == 99);
    CHECK(R("bytes=-1000", 100) == 1 && a == 0 && b == 99);
    CHECK(R("bytes=50-1000", 100) == 1 && b == 99);
    CHECK(R("bytes=100-", 100) == -1);
    CHECK(R("bytes=-0", 100) == -1);
    CHECK(R("bytes=0-0", 0) == -1);
    CHECK(R("bytes=5-1", 100) == 0);
    CHECK(R("bytes=0-1,3-4", 100) == 0);
    CHECK(R("items=0-1", 100) == 0);
    CHECK(R("bytes=a-b", 100) == 0);
    CHECK(R("bytes=", 100) == 0);
    CHECK(R("bytes=-", 100) == 0);
    CHECK(R("bytes=99999999999999999999999-", 100) == 0);
#undef R
}

static void test_cache_control(void)
{
    edge_cc_t cc;
    const char *s = "public, max-age=60, s-maxage=\"30\", stale-while-revalidate=5, no-cache";
    edge_cc_parse(s, strlen(s), &cc);
    CHECK(cc.max_age == 60 && cc.s_maxage == 30 && cc.swr == 5 && cc.no_cache && !cc.no_store);
    s = "private,no-store, max-age=abc, stale-if-error";
    edge_cc_parse(s, strlen(s), &cc);
    CHECK(cc.private_ && cc.no_store && cc.max_age == -1 && cc.sie == -1);
    edge_cc_parse("", 0, &cc);
    CHECK(cc.max_age == -1 && !cc.no_store && !cc.only_if_cached);
    s = "max-stale, Only-If-Cached";
    edge_cc_parse(s, strlen(s), &cc);
    CHECK(cc.only_if_cached && cc.max_age == -1);
    s = "only-if-cachedx, xonly-if-cached";
    edge_cc_parse(s, strlen(s), &cc);
    CHECK(!cc.only_if_cached);
}

static void test_dates_etags_media(void)
{
    char buf[32];
    time_t t = 0;
    edge_http_date_format(784111777, buf);
    CHECK(strcmp(buf, "Sun, 06 Nov 1994 08:49:37 GMT") == 0);
    CHECK(edge_http_date_parse(buf, strlen(buf), &t) == 0 && t == 784111777);
    const char *rfc850 = "Sunday, 06-Nov-94 08:49:37 GMT";
    CHECK(edge_http_date_parse(rfc850, strlen(rfc850), &t) == 0 && t == 784111777);
    const char *asc = "Sun Nov  6 08:49:37 1994";
    CHECK(edge_http_date_parse(asc, strlen(asc), &t) == 0 && t == 784111777);
    CHECK(edge_http_date_parse("yesterday", 9, &t) < 0);
    CHECK(edge_http_date_parse("Sun, 06 Foo 1994 08:49:37 GMT", 29, &t) < 0);
    CHECK(edge_etag_list_match("\"a\", W/\"b\"", 10, "\"b\"", 3));
    CHECK(edge_etag_list_match("*", 1, "\"b\"", 3));
    CHECK(!edge_etag_list_match("\"a\"", 3, "\"b\"", 3));
    CHECK(strcmp(edge_content_type("/x/a.m3u8", 9), "application/vnd.apple.mpegurl") == 0);
    CHECK(edge_media_kind("/a.m4s", 6) == EDGE_MEDIA_SEGMENT);
    CHECK(edge_media_kind("/a.mpd", 6) == EDGE_MEDIA_MANIFEST);
    CHECK(edge_media_kind("/a", 2) == EDGE_MEDIA_OTHER);
    CHECK(edge_media_kind("/a.b/c", 6) == EDGE_MEDIA_OTHER);
    bool endlist = false;
    uint64_t target = 0;
    const char *pl =
        "#EXTM3U\r\n#EXT-X-TARGETDURATION:6\r\n#EXTINF:6,\r\na.ts\r\n#EXT-X-ENDLIST\r\n";
    edge_hls_scan(pl, strlen(pl), &endlist, &target);
    CHECK(endlist && target == 6000);
    edge_hls_scan("#EXT-X-TARGETDURATION:x\n", 25, &endlist, &target);
    CHECK(!endlist && target == 0);
    CHECK(edge_mpd_is_dynamic("<MPD type=\"dynamic\">", 20));
    CHECK(!edge_mpd_is_dynamic("<MPD type=\"static\">", 19));
}

/* The one decimal parser behind Content-Length, Range, Cache-Control and EXT-X-TARGETDURATION. */
static void test_u64(void)
{
    uint64_t v = 7;
    CHECK(edge_u64_parse("0", 1, &v) && v == 0);
    CHECK(edge_u64_parse("9999999999999999999", 19, &v) && v == 9999999999999999999ull);
    v = 7;
    CHECK(!edge_u64_parse("", 0, &v) && v == 7, "empty");
    CHECK(!edge_u64_parse("18446744073709551616", 20, &v), "20 digits");
    CHECK(!edge_u64_parse("+1", 2, &v) && !edge_u64_parse("-1", 2, &v), "a sign");
    CHECK(!edge_u64_parse(" 1", 2, &v) && !edge_u64_parse("1 ", 2, &v), "a space");
    CHECK(!edge_u64_parse("1a", 2, &v) && !edge_u64_parse("0x1", 3, &v), "not a digit");
    CHECK(edge_u64_parse("12345", 3, &v) && v == 123, "only len bytes are read");
    /* Content-Length keeps to 18 digits (it must fit int64_t with -1 meaning absent). */
    CHECK(req_status("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999999999999\r\n\r\n") !=
          400);
    CHECK(req_status("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000000\r\n\r\n") ==
          400);
}

int main(void)
{
    test_u64();
    test_requests();
    test_responses();
    test_interim_responses();
    test_paths();
    test_path_key();
    test_cache_key();
    test_ranges();
    test_cache_control();
    test_dates_etags_media();
    return check_report();
}
