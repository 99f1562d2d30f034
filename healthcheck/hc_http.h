/* hc_http.h: healthcheck's HTTP/1.x response parser: a pure, resumable function over the bytes
 * received so far, bounded by the caller's buffer. Private to healthcheck, its tests and its fuzz
 * target. */
#ifndef HC_HTTP_H
#define HC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HC_HTTP_REASON_MAX 96 /* error text with the NUL */

/* What the caller knows about the bytes still to come. */
typedef enum hc_http_end {
    HC_HTTP_OPEN = 0, /* more bytes may come */
    HC_HTTP_CLOSED,   /* the peer closed the connection: buf holds everything */
    HC_HTTP_CUT,      /* the caller's buffer is full: no more will be read */
} hc_http_end_t;

typedef enum hc_http_rc {
    HC_HTTP_ERROR = -1, /* malformed response; reason says why */
    HC_HTTP_MORE = 0,   /* incomplete: call again with more bytes */
    HC_HTTP_DONE = 1,   /* a complete final response (or its first part when cut) */
} hc_http_rc_t;

typedef struct hc_http {
    /* Results, set when hc_http_parse returns HC_HTTP_DONE. */
    int status;                      /* 100..999 */
    size_t body_off, body_len;       /* the body, de-chunked, at buf[body_off..+body_len) */
    bool cut;                        /* the body did not fit: judged on its first part */
    char reason[HC_HTTP_REASON_MAX]; /* set with HC_HTTP_ERROR */
    /* Scan state: private to hc_http.c. */
    int phase;
    size_t pos;         /* next raw byte to consume */
    size_t scan;        /* where the search for the current line's end resumes */
    uint64_t remaining; /* body bytes (Content-Length) or bytes left in the current chunk */
    bool has_length, chunked, seen_te;
} hc_http_t;

void hc_http_init(hc_http_t *h);

/* Parse the response in buf[0..len): the same buf, grown by the caller, on every call (bytes
 * already consumed are not read again, so a response costs O(len) in total however it is split).
 * The parser rewrites buf from body_off on to remove chunk framing. Rules: a status line
 * "HTTP/1.x NNN ...", headers as "Name: value" (LF or CRLF line ends; obsolete line folding, bare
 * CR, NUL and malformed or conflicting Content-Length are errors), interim 1xx responses skipped;
 * the body framed by Transfer-Encoding: chunked, else Content-Length, else the end of the
 * connection; 1xx, 204 and 304 have none. end says whether more bytes may come. Returns
 * HC_HTTP_DONE, HC_HTTP_MORE (only with HC_HTTP_OPEN) or HC_HTTP_ERROR; once DONE or ERROR, later
 * calls return the same. */
hc_http_rc_t hc_http_parse(hc_http_t *h, char *buf, size_t len, hc_http_end_t end);

#endif
