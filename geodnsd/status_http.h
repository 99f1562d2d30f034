/* status_http.h: the request parser of the metrics and status listener: a bounded, pure parser
 * of an HTTP/1.x request head (request line and header lines), no body. */
#ifndef GEODNSD_STATUS_HTTP_H
#define GEODNSD_STATUS_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define STATUS_HTTP_HEAD_MAX    8192 /* request line and headers, with the blank line */
#define STATUS_HTTP_PATH_MAX    256  /* the path (without the query string), with the NUL */
#define STATUS_HTTP_HEADERS_MAX 64   /* header lines */

typedef enum status_http_result {
    STATUS_HTTP_INCOMPLETE = 0,    /* a valid prefix: read more */
    STATUS_HTTP_DONE = 1,          /* a complete, valid request head */
    STATUS_HTTP_BAD = -1,          /* malformed: answer 400 and close */
    STATUS_HTTP_TOO_LARGE = -2,    /* head or header count past the limits: 431 */
    STATUS_HTTP_URI_TOO_LONG = -3, /* the request line or its path past the limits: 414 */
} status_http_result_t;

typedef struct status_http_request {
    char method[8];                  /* "GET", "HEAD", ... (up to 7 upper-case letters) */
    char path[STATUS_HTTP_PATH_MAX]; /* "/metrics": the target up to '?' or '#' */
    unsigned minor;                  /* HTTP/1.minor */
    size_t head_len;                 /* bytes of the head, blank line included */
} status_http_request_t;

/* Parse the request head at the start of buf[0..len). Lines end in CRLF or a bare LF. The
 * method is 1..7 upper-case letters, the target an origin-form path of visible ASCII, the
 * version HTTP/1.0 or HTTP/1.1; each header line is a token, ':', and a value without control
 * characters other than tab; folded lines are refused. Never reads past len, never allocates. */
status_http_result_t status_http_parse(const char *buf, size_t len, status_http_request_t *req);

#endif
