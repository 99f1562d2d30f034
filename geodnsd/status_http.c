/* status_http.c: a bounded parser of HTTP/1.x request heads for the metrics and status listener.
 */
#include "status_http.h"

#include <string.h>

static bool is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A header value byte: tab, visible ASCII, space, or obs-text. */
static bool is_vchar(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static status_http_result_t parse_request_line(const char *s, size_t n, status_http_request_t *req)
{
    size_t i = 0;
    while (i < n && s[i] >= 'A' && s[i] <= 'Z' && i < sizeof(req->method) - 1)
        i++;
    if (i == 0 || i >= n || s[i] != ' ')
        return STATUS_HTTP_BAD;
    memcpy(req->method, s, i);
    req->method[i] = 0;
    size_t t = ++i;
    if (i >= n || s[i] != '/')
        return STATUS_HTTP_BAD;
    size_t path_end = 0;
    while (i < n && (unsigned char)s[i] > 0x20 && (unsigned char)s[i] < 0x7f) {
        if (!path_end && (s[i] == '?' || s[i] == '#'))
            path_end = i;
        i++;
    }
    if (!path_end)
        path_end = i;
    if (path_end - t >= sizeof(req->path))
        return STATUS_HTTP_URI_TOO_LONG;
    memcpy(req->path, s + t, path_end - t);
    req->path[path_end - t] = 0;
    static const char version[] = " HTTP/1.";
    if (n - i != sizeof(version) || memcmp(s + i, version, sizeof(version) - 1))
        return STATUS_HTTP_BAD;
    char minor = s[n - 1];
    if (minor != '0' && minor != '1')
        return STATUS_HTTP_BAD;
    req->minor = (unsigned)(minor - '0');
    return STATUS_HTTP_DONE;
}

static bool header_line_ok(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i >= n || s[i] != ':')
        return false; /* no name, no colon, or a folded continuation line */
    for (i++; i < n; i++)
        if (!is_vchar((unsigned char)s[i]))
            return false;
    return true;
}

status_http_result_t status_http_parse(const char *buf, size_t len, status_http_request_t *req)
{
    memset(req, 0, sizeof(*req));
    size_t limit = len < STATUS_HTTP_HEAD_MAX ? len : STATUS_HTTP_HEAD_MAX;
    size_t pos = 0;
    unsigned nheaders = 0;
    for (unsigned line = 0;; line++) {
        const char *nl = memchr(buf + pos, '\n', limit - pos);
        if (!nl) {
            /* An unfinished line: refuse it now if it can never become valid. */
            for (size_t i = pos; i < limit; i++) {
                unsigned char c = (unsigned char)buf[i];
                if ((c < 0x20 && c != '\t' && !(c == '\r' && i + 1 == limit)) || c == 0x7f)
                    return STATUS_HTTP_BAD;
            }
            if (len < STATUS_HTTP_HEAD_MAX)
                return STATUS_HTTP_INCOMPLETE;
            return line ? STATUS_HTTP_TOO_LARGE : STATUS_HTTP_URI_TOO_LONG;
        }
        size_t end = (size_t)(nl - buf);
        size_t lend = end > pos && buf[end - 1] == '\r' ? end - 1 : end;
        if (memchr(buf + pos, '\r', lend - pos))
            return STATUS_HTTP_BAD; /* a CR inside a line */
        if (line == 0) {
            status_http_result_t r = parse_request_line(buf + pos, lend - pos, req);
            if (r != STATUS_HTTP_DONE)
                return r;
        } else if (lend == pos) {
            req->head_len = end + 1;
            return STATUS_HTTP_DONE;
        } else {
            if (++nheaders > STATUS_HTTP_HEADERS_MAX)
                return STATUS_HTTP_TOO_LARGE;
            if (!header_line_ok(buf + pos, lend - pos))
                return STATUS_HTTP_BAD;
        }
        pos = end + 1;
    }
}
