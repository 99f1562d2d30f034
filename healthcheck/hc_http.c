/* hc_http.c: healthcheck's HTTP/1.x response parser (status line, headers, body framing). */
#include "hc_http.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Larger Content-Length or chunk sizes are refused. */
#define HC_HTTP_LENGTH_MAX (UINT64_C(1) << 62)
#define HC_HTTP_HEX_MAX    15 /* significant hex digits of a chunk size */
#define HC_HTTP_DEC_MAX    19 /* decimal digits of a Content-Length */
#define STATUS_PREFIX      "HTTP/1."
#define STATUS_PREFIX_LEN  (sizeof(STATUS_PREFIX) - 1)
#define STATUS_CODE_AT     9  /* "HTTP/1.1 200": the code's offset */
#define STATUS_LINE_MIN    12 /* the shortest status line, without a reason phrase */
#define QUOTE_MAX          32 /* bytes of bad input quoted in a reason */

enum hc_http_phase {
    PH_STATUS = 0, /* waiting for the status line */
    PH_HEADERS,    /* header lines until the empty one */
    PH_LENGTH,     /* Content-Length body */
    PH_CLOSE,      /* body until the connection closes */
    PH_CHUNK_SIZE, /* a chunk-size line */
    PH_CHUNK_DATA, /* chunk bytes */
    PH_CHUNK_END,  /* the CRLF after chunk bytes */
    PH_TRAILERS,   /* trailer lines after the last chunk */
    PH_DONE,
    PH_ERROR,
};

void hc_http_init(hc_http_t *h)
{
    memset(h, 0, sizeof(*h));
    h->phase = PH_STATUS;
}

static hc_http_rc_t http_fail(hc_http_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static hc_http_rc_t http_fail(hc_http_t *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->reason, sizeof(h->reason), fmt, ap);
    va_end(ap);
    h->phase = PH_ERROR;
    return HC_HTTP_ERROR;
}

/* "what 'text'": at most QUOTE_MAX bytes of the offending input, unprintable bytes as '?', so
 * that the reason is safe in a log line. */
static hc_http_rc_t http_fail_quote(hc_http_t *h, const char *what, const char *s, size_t n)
{
    char q[QUOTE_MAX + 1];
    size_t k = n < QUOTE_MAX ? n : QUOTE_MAX;
    for (size_t i = 0; i < k; i++)
        q[i] = s[i] >= ' ' && s[i] < 0x7f ? s[i] : '?';
    q[k] = '\0';
    return http_fail(h, "%s '%s'", what, q);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool span_is(const char *s, size_t n, const char *word)
{
    size_t wl = strlen(word);
    if (n != wl)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != word[i])
            return false;
    return true;
}

static bool is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* The next complete line at h->pos: sets *line and *n (without CR LF) and moves pos past it.
 * Returns false when the line is not complete yet. Refuses NUL and bare CR. */
static bool next_line(hc_http_t *h, const char *buf, size_t len, const char **line, size_t *n,
                      bool *bad)
{
    *bad = false;
    if (h->scan < h->pos)
        h->scan = h->pos;
    const char *nl = memchr(buf + h->scan, '\n', len - h->scan);
    if (!nl) {
        h->scan = len;
        return false;
    }
    size_t end = (size_t)(nl - buf);
    *line = buf + h->pos;
    *n = end - h->pos;
    if (*n && (*line)[*n - 1] == '\r')
        (*n)--;
    if (memchr(*line, '\0', *n) || memchr(*line, '\r', *n))
        *bad = true;
    h->pos = end + 1;
    h->scan = h->pos;
    return true;
}

/* "HTTP/1.x NNN[ reason]" */
static hc_http_rc_t parse_status(hc_http_t *h, const char *s, size_t n)
{
    const size_t at = STATUS_CODE_AT, end = STATUS_LINE_MIN;
    if (n < end || memcmp(s, STATUS_PREFIX, STATUS_PREFIX_LEN) || !is_digit(s[at - 2]) ||
        s[at - 1] != ' ')
        return http_fail_quote(h, "bad status line", s, n);
    int code = 0;
    for (size_t i = at; i < end; i++) {
        if (!is_digit(s[i]))
            return http_fail_quote(h, "bad status code", s + at, n - at);
        code = code * 10 + (s[i] - '0');
    }
    if (code < 100 || (n > end && s[end] != ' '))
        return http_fail_quote(h, "bad status code", s + at, n - at);
    h->status = code;
    h->has_length = h->chunked = h->seen_te = false;
    h->remaining = 0;
    h->phase = PH_HEADERS;
    return HC_HTTP_MORE;
}

static hc_http_rc_t parse_length(hc_http_t *h, const char *v, size_t n)
{
    uint64_t x = 0;
    if (n == 0 || n > HC_HTTP_DEC_MAX)
        return http_fail_quote(h, "bad Content-Length", v, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return http_fail_quote(h, "bad Content-Length", v, n);
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > HC_HTTP_LENGTH_MAX)
        return http_fail(h, "Content-Length %llu is too large", (unsigned long long)x);
    if (h->has_length && h->remaining != x)
        return http_fail(h, "conflicting Content-Length headers");
    h->has_length = true;
    h->remaining = x;
    return HC_HTTP_MORE;
}

/* Transfer-Encoding: the body is chunked when the last coding is "chunked"; any other last
 * coding means the body runs to the end of the connection (RFC 9112, 6.3). */
static void parse_te(hc_http_t *h, const char *v, size_t n)
{
    size_t end = n;
    while (end && (v[end - 1] == ' ' || v[end - 1] == '\t' || v[end - 1] == ','))
        end--;
    size_t start = end;
    while (start && v[start - 1] != ',' && v[start - 1] != ' ' && v[start - 1] != '\t')
        start--;
    h->chunked = span_is(v + start, end - start, "chunked");
    h->seen_te = true; /* wins over Content-Length, chunked or not */
}

static hc_http_rc_t parse_header(hc_http_t *h, const char *s, size_t n)
{
    if (s[0] == ' ' || s[0] == '\t')
        return http_fail(h, "obsolete header line folding");
    size_t k = 0;
    while (k < n && is_tchar(s[k]))
        k++;
    if (k == 0 || k == n || s[k] != ':')
        return http_fail_quote(h, "bad header line", s, n);
    const char *v = s + k + 1;
    size_t vn = n - k - 1;
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    if (span_is(s, k, "content-length"))
        return parse_length(h, v, vn);
    if (span_is(s, k, "transfer-encoding"))
        parse_te(h, v, vn);
    return HC_HTTP_MORE;
}

/* The empty line after the headers: pick the body's framing. */
static hc_http_rc_t head_end(hc_http_t *h)
{
    if (h->status == 101)
        return http_fail(h, "unexpected 101 Switching Protocols");
    if (h->status < 200) { /* interim response: the final one follows */
        h->phase = PH_STATUS;
        return HC_HTTP_MORE;
    }
    h->body_off = h->pos;
    h->body_len = 0;
    if (h->status == 204 || h->status == 304) {
        h->phase = PH_DONE;
        return HC_HTTP_DONE;
    }
    if (h->chunked) {
        h->phase = PH_CHUNK_SIZE;
    } else if (h->has_length && !h->seen_te) {
        h->phase = h->remaining ? PH_LENGTH : PH_DONE;
    } else {
        h->phase = PH_CLOSE;
    }
    return h->phase == PH_DONE ? HC_HTTP_DONE : HC_HTTP_MORE;
}

/* "1a2b[;ext...]" */
static hc_http_rc_t parse_chunk_size(hc_http_t *h, const char *s, size_t n)
{
    uint64_t x = 0;
    size_t i = 0, digits = 0;
    for (; i < n; i++) {
        char c = lower(s[i]);
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0)
            break;
        if (x || d)
            digits++;
        if (digits > HC_HTTP_HEX_MAX)
            return http_fail(h, "chunk size too large");
        x = x * 16 + (uint64_t)d;
    }
    if (i == 0)
        return http_fail_quote(h, "bad chunk size line", s, n);
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    if (i < n && s[i] != ';')
        return http_fail_quote(h, "bad chunk size line", s, n);
    h->remaining = x;
    h->phase = x ? PH_CHUNK_DATA : PH_TRAILERS;
    return HC_HTTP_MORE;
}

/* Body bytes of the current chunk, moved down over the chunk framing. */
static void take_chunk(hc_http_t *h, char *buf, size_t len)
{
    size_t avail = len - h->pos;
    size_t take = h->remaining < avail ? (size_t)h->remaining : avail;
    memmove(buf + h->body_off + h->body_len, buf + h->pos, take);
    h->body_len += take;
    h->pos += take;
    h->remaining -= take;
    if (!h->remaining)
        h->phase = PH_CHUNK_END;
}

/* One step of the scan. Returns HC_HTTP_MORE when it made progress and can go on, *stalled when
 * it needs bytes it does not have. */
static hc_http_rc_t step(hc_http_t *h, char *buf, size_t len, bool *stalled)
{
    const char *line;
    size_t n;
    bool bad;
    *stalled = false;
    switch (h->phase) {
    case PH_STATUS:
    case PH_HEADERS:
    case PH_TRAILERS:
    case PH_CHUNK_SIZE:
        if (!next_line(h, buf, len, &line, &n, &bad)) {
            /* A peer that is not speaking HTTP is caught at its first bytes. */
            size_t have = len - h->pos < STATUS_PREFIX_LEN ? len - h->pos : STATUS_PREFIX_LEN;
            if (h->phase == PH_STATUS && memcmp(buf + h->pos, STATUS_PREFIX, have))
                return http_fail_quote(h, "bad status line", buf + h->pos, have);
            *stalled = true;
            return HC_HTTP_MORE;
        }
        if (bad)
            return http_fail(h, "NUL or bare CR in the response");
        if (h->phase == PH_STATUS)
            return parse_status(h, line, n);
        if (h->phase == PH_CHUNK_SIZE)
            return parse_chunk_size(h, line, n);
        if (n == 0 && h->phase == PH_TRAILERS) {
            h->phase = PH_DONE;
            return HC_HTTP_DONE;
        }
        if (n == 0)
            return head_end(h);
        return h->phase == PH_HEADERS ? parse_header(h, line, n) : HC_HTTP_MORE;
    case PH_LENGTH: {
        size_t avail = len - h->pos;
        size_t take = h->remaining < avail ? (size_t)h->remaining : avail;
        h->pos += take;
        h->body_len += take;
        h->remaining -= take;
        if (!h->remaining) {
            h->phase = PH_DONE;
            return HC_HTTP_DONE;
        }
        *stalled = true;
        return HC_HTTP_MORE;
    }
    case PH_CLOSE:
        h->body_len += len - h->pos;
        h->pos = len;
        *stalled = true;
        return HC_HTTP_MORE;
    case PH_CHUNK_DATA:
        take_chunk(h, buf, len);
        *stalled = h->phase == PH_CHUNK_DATA;
        return HC_HTTP_MORE;
    case PH_CHUNK_END:
        if (len - h->pos < 2 && !(len > h->pos && buf[h->pos] == '\n')) {
            *stalled = true;
            return HC_HTTP_MORE;
        }
        if (buf[h->pos] == '\n')
            h->pos += 1;
        else if (buf[h->pos] == '\r' && buf[h->pos + 1] == '\n')
            h->pos += 2;
        else
            return http_fail(h, "chunk data not followed by CRLF");
        h->phase = PH_CHUNK_SIZE;
        return HC_HTTP_MORE;
    case PH_DONE:
        return HC_HTTP_DONE;
    default:
        return HC_HTTP_ERROR;
    }
}

/* No more bytes will come: a body read to the close or cut by the buffer is complete. */
static hc_http_rc_t at_end(hc_http_t *h, size_t len, hc_http_end_t end)
{
    bool in_head = h->phase == PH_STATUS || h->phase == PH_HEADERS;
    if (end == HC_HTTP_CUT) {
        if (in_head)
            return http_fail(h, "response head larger than %zu bytes", len);
        h->cut = true;
        h->phase = PH_DONE;
        return HC_HTTP_DONE;
    }
    if (h->phase == PH_CLOSE) {
        h->phase = PH_DONE;
        return HC_HTTP_DONE;
    }
    if (len == 0)
        return http_fail(h, "connection closed without a response");
    if (in_head)
        return http_fail(h, "connection closed inside the response head");
    if (h->phase == PH_LENGTH)
        return http_fail(h, "connection closed after %zu of %llu body bytes", h->body_len,
                         (unsigned long long)(h->body_len + h->remaining));
    return http_fail(h, "connection closed inside the chunked body");
}

hc_http_rc_t hc_http_parse(hc_http_t *h, char *buf, size_t len, hc_http_end_t end)
{
    if (h->phase == PH_DONE)
        return HC_HTTP_DONE;
    if (h->phase == PH_ERROR || len < h->pos)
        return HC_HTTP_ERROR;
    for (;;) {
        bool stalled;
        hc_http_rc_t rc = step(h, buf, len, &stalled);
        if (rc != HC_HTTP_MORE)
            return rc;
        if (stalled)
            break;
    }
    return end == HC_HTTP_OPEN ? HC_HTTP_MORE : at_end(h, len, end);
}
