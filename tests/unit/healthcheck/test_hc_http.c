/* test_hc_http.c: healthcheck's response parser: framings, interim responses, malformed and
 * hostile input, premature close, the buffer bound, and the same result however input is split. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hc_http.h"

#define BUF_MAX (64 * 1024)

typedef struct result {
    hc_http_rc_t rc;
    int status;
    char body[BUF_MAX];
    size_t body_len;
    bool cut;
    char reason[HC_HTTP_REASON_MAX];
} result_t;

/* Feed in[0..n) in pieces of step bytes (into a buffer of cap bytes), then end. */
static void feed(const char *in, size_t n, size_t step, size_t cap, hc_http_end_t end,
                 result_t *res)
{
    static char buf[BUF_MAX];
    hc_http_t h;
    hc_http_init(&h);
    size_t len = 0;
    hc_http_rc_t rc = HC_HTTP_MORE;
    if (n > cap)
        n = cap;
    while (len < n && rc == HC_HTTP_MORE) {
        size_t k = n - len < step ? n - len : step;
        memcpy(buf + len, in + len, k);
        len += k;
        rc = hc_http_parse(&h, buf, len, len == cap ? HC_HTTP_CUT : HC_HTTP_OPEN);
    }
    if (rc == HC_HTTP_MORE)
        rc = hc_http_parse(&h, buf, len, end);
    memset(res, 0, sizeof(*res));
    res->rc = rc;
    res->status = h.status;
    res->cut = h.cut;
    snprintf(res->reason, sizeof(res->reason), "%s", h.reason);
    if (rc == HC_HTTP_DONE) {
        memcpy(res->body, buf + h.body_off, h.body_len);
        res->body_len = h.body_len;
    }
    /* Once decided, the answer does not change. */
    CHECK(hc_http_parse(&h, buf, len, HC_HTTP_OPEN) == rc || rc == HC_HTTP_MORE, "sticky rc");
}

/* A complete response: every split gives status and body. */
static void expect_ok(const char *what, const char *in, hc_http_end_t end, int status,
                      const char *body)
{
    size_t n = strlen(in);
    static result_t r;
    for (size_t step = 1; step <= n; step++) {
        feed(in, n, step, BUF_MAX, end, &r);
        bool good = r.rc == HC_HTTP_DONE && r.status == status && r.body_len == strlen(body) &&
                    !memcmp(r.body, body, r.body_len) && !r.cut;
        CHECK(good, "%s (step %zu): rc %d status %d body '%.*s' reason '%s'", what, step, r.rc,
              r.status, (int)r.body_len, r.body, r.reason);
        if (!good)
            return;
    }
}

/* A malformed response: every split gives an error containing needle. */
static void expect_bad(const char *what, const char *in, size_t n, hc_http_end_t end,
                       const char *needle)
{
    static result_t r;
    for (size_t step = 1; step <= n; step++) {
        feed(in, n, step, BUF_MAX, end, &r);
        bool good = r.rc == HC_HTTP_ERROR && strstr(r.reason, needle);
        CHECK(good, "%s (step %zu): rc %d status %d reason '%s', want '%s'", what, step, r.rc,
              r.status, r.reason, needle);
        if (!good)
            return;
    }
}

static void expect_bad_str(const char *what, const char *in, const char *needle)
{
    expect_bad(what, in, strlen(in), HC_HTTP_CLOSED, needle);
}

static void test_framings(void)
{
    expect_ok("content-length", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", HC_HTTP_OPEN, 200,
              "ok");
    expect_ok("LF line ends", "HTTP/1.0 503 Busy\nContent-length: 4\n\nbusy", HC_HTTP_OPEN, 503,
              "busy");
    expect_ok("no reason phrase", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", HC_HTTP_OPEN, 404,
              "");
    expect_ok("chunked with extension and trailer",
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n3;x=1\r\n!!!\r\n"
              "A \r\n0123456789\r\n0\r\nTrailer: x\r\n\r\n",
              HC_HTTP_OPEN, 200, "ok!!!0123456789");
    expect_ok("chunked, LF only",
              "HTTP/1.1 200 OK\nTransfer-Encoding: gzip, Chunked\n\n1\nx\n0\n\n", HC_HTTP_OPEN, 200,
              "x");
    expect_ok("close-delimited", "HTTP/1.0 200 OK\r\nServer: x\r\n\r\nall of it", HC_HTTP_CLOSED,
              200, "all of it");
    expect_ok("204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
              HC_HTTP_OPEN, 204, "");
    expect_ok("304 has no body", "HTTP/1.1 304 Not Modified\r\n\r\n", HC_HTTP_OPEN, 304, "");
    expect_ok("interim 100 then 200",
              "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
              "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!",
              HC_HTTP_OPEN, 200, "!");
    expect_ok("chunked wins over Content-Length",
              "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nhi\r\n0\r\n\r\n",
              HC_HTTP_OPEN, 200, "hi");
    expect_ok("another coding reads to the close",
              "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 1\r\n\r\nabc",
              HC_HTTP_CLOSED, 200, "abc");
    expect_ok("equal repeated Content-Length",
              "HTTP/1.1 200 OK\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nz", HC_HTTP_OPEN,
              200, "z");
    expect_ok("extra bytes after the body are ignored",
              "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", HC_HTTP_OPEN, 200, "ok");

    /* Close-delimited needs the close: with more possibly coming it waits. */
    static result_t r;
    const char *cd = "HTTP/1.1 200 OK\r\n\r\nbody";
    feed(cd, strlen(cd), 4, BUF_MAX, HC_HTTP_OPEN, &r);
    CHECK(r.rc == HC_HTTP_MORE, "close-delimited waits: %d", r.rc);
}

static void test_malformed(void)
{
    expect_bad_str("empty", "", "without a response");
    expect_bad_str("HTTP/2", "HTTP/2 200 OK\r\n\r\n", "status line");
    expect_bad_str("lower case", "http/1.1 200 OK\r\n\r\n", "status line");
    expect_bad_str("two-digit status", "HTTP/1.1 20 OK\r\n\r\n", "status");
    expect_bad_str("four-digit status", "HTTP/1.1 2000 OK\r\n\r\n", "status code");
    expect_bad_str("status below 100", "HTTP/1.1 099 Low\r\n\r\n", "status code");
    expect_bad_str("letters", "HTTP/1.1 abc OK\r\n\r\n", "status code");
    expect_bad_str("ssh banner", "SSH-2.0-OpenSSH_9.2\r\n", "status line");
    expect_bad("binary", "\x16\x03\x01\x02\x05\x01\x07\x01\xfc\x03\x03\n", 12, HC_HTTP_OPEN,
               "status line");
    expect_bad("garbage fails before its line ends", "SSH-2.0-", 8, HC_HTTP_OPEN, "status line");
    expect_bad_str("101", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", "101");
    expect_bad_str("negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                   "Content-Length");
    expect_bad_str("length with letters", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n",
                   "Content-Length");
    expect_bad_str("length list", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n",
                   "Content-Length");
    expect_bad_str("empty length", "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n", "Content-Length");
    expect_bad_str("huge length", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                   "Content-Length");
    expect_bad_str("length over the bound",
                   "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", "too large");
    expect_bad_str("conflicting lengths",
                   "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
                   "conflicting");
    expect_bad_str("obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n  b\r\n\r\n", "folding");
    expect_bad_str("space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx",
                   "header line");
    expect_bad_str("no colon", "HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", "header line");
    expect_bad_str("bad bytes quoted as '?'", "HTTP/1.1 200 OK\r\nBad\x01Head\xff: v\r\n\r\n",
                   "bad header line 'Bad?Head?: v'");
    expect_bad_str("quote bounded",
                   "HTTP/1.1 200 OK\r\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\r\n\r\n",
                   "'XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX'");
    expect_bad_str("empty name", "HTTP/1.1 200 OK\r\n: v\r\n\r\n", "header line");
    expect_bad_str("bare CR", "HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "bare CR");
    expect_bad("NUL in a header", "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", 27, HC_HTTP_CLOSED, "NUL");
    expect_bad_str("bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                   "chunk size");
    expect_bad_str("chunk size junk",
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 x\r\na\r\n0\r\n\r\n",
                   "chunk size");
    expect_bad_str("chunk size overflow",
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
                   "too large");
    expect_bad_str("chunk without CRLF",
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
                   "CRLF");
    expect_bad_str("closed in the head", "HTTP/1.1 200 OK\r\nContent-", "inside the response head");
    expect_bad_str("closed in the status line", "HTTP/1.1 2", "inside the response head");
    expect_bad_str("closed early", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
                   "after 2 of 10");
    expect_bad_str("closed in a chunk",
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "chunked");
    expect_bad_str("closed before the last chunk",
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", "chunked");
}

/* The caller's buffer is the bound: endless headers fail, a long body is cut. */
static void test_bounds(void)
{
    static char in[BUF_MAX * 2];
    static result_t r;
    size_t n = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\n");
    while (n + 16 < sizeof(in))
        n += (size_t)snprintf(in + n, sizeof(in) - n, "X-Pad: %06zu\r\n", n);
    feed(in, n, 4096, BUF_MAX, HC_HTTP_OPEN, &r);
    CHECK(r.rc == HC_HTTP_ERROR && strstr(r.reason, "larger than 65536"), "endless headers: %s",
          r.reason);

    /* One endless header line. */
    n = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nX: ");
    memset(in + n, 'a', sizeof(in) - n);
    feed(in, sizeof(in), 1000, BUF_MAX, HC_HTTP_OPEN, &r);
    CHECK(r.rc == HC_HTTP_ERROR && strstr(r.reason, "larger"), "endless line: %s", r.reason);

    /* Endless interim responses. */
    n = 0;
    while (n + 32 < sizeof(in))
        n += (size_t)snprintf(in + n, sizeof(in) - n, "HTTP/1.1 100 Continue\r\n\r\n");
    feed(in, n, 777, BUF_MAX, HC_HTTP_OPEN, &r);
    CHECK(r.rc == HC_HTTP_ERROR, "endless 100s: %d %s", r.rc, r.reason);

    /* A long Content-Length body is cut at the buffer and judged on what arrived. */
    n = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n");
    size_t head = n;
    memset(in + n, 'b', sizeof(in) - n);
    memcpy(in + n + 10, "needle", 6);
    feed(in, sizeof(in), 3000, BUF_MAX, HC_HTTP_OPEN, &r);
    CHECK(r.rc == HC_HTTP_DONE && r.cut && r.status == 200 && r.body_len == BUF_MAX - head &&
              !memcmp(r.body + 10, "needle", 6),
          "cut body: rc %d cut %d len %zu", r.rc, r.cut, r.body_len);

    /* A long chunked body too; chunk framing removed from what was kept. */
    n = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t body = 0;
    while (n + 16 < sizeof(in)) {
        n += (size_t)snprintf(in + n, sizeof(in) - n, "4\r\nabcd\r\n");
        body += 4;
    }
    feed(in, n, 1, BUF_MAX, HC_HTTP_OPEN, &r);
    CHECK(r.rc == HC_HTTP_DONE && r.cut && r.body_len > 0 && r.body_len < body &&
              !memcmp(r.body, "abcdabcd", 8),
          "cut chunked body byte by byte: rc %d cut %d len %zu", r.rc, r.cut, r.body_len);

    /* Byte by byte, a whole chunked body decodes right. */
    n = (size_t)snprintf(in, sizeof(in), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 1000; i++)
        n += (size_t)snprintf(in + n, sizeof(in) - n, "3\r\n%03d\r\n", i);
    n += (size_t)snprintf(in + n, sizeof(in) - n, "0\r\n\r\n");
    feed(in, n, 1, BUF_MAX, HC_HTTP_OPEN, &r);
    CHECK(r.rc == HC_HTTP_DONE && !r.cut && r.body_len == 3000 && !memcmp(r.body, "000001", 6) &&
              !memcmp(r.body + 2997, "999", 3),
          "chunked byte by byte: rc %d len %zu", r.rc, r.body_len);
}

int main(void)
{
    test_framings();
    test_malformed();
    test_bounds();
    return check_report();
}
