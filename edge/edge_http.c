/* edge_http.c: HTTP/1.1 message heads and bodies parsed over llhttp, with the strict
 * anti-smuggling checks (one Content-Length, no Transfer-Encoding with it, no obs-fold, one Host),
 * and header lookup in a parsed message. */
#include "edge_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static edge_http_parser_t *parser_of(llhttp_t *ll)
{
    return (edge_http_parser_t *)ll->data;
}

static int parser_fail(edge_http_parser_t *p, int status, const char *reason)
{
    p->status_hint = status;
    p->reason = reason;
    return -1;
}

static int parser_append(edge_http_parser_t *p, const char *at, size_t len, int status)
{
    if (len > p->arena_cap - p->arena_used) {
        return parser_fail(p, status, "message head too large");
    }
    memcpy(p->arena + p->arena_used, at, len);
    p->arena_used += len;
    return 0;
}

static int on_message_begin(llhttp_t *ll)
{
    edge_http_parser_t *p = parser_of(ll);
    p->in_head = true;
    p->piece_start = p->arena_used;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    edge_http_parser_t *p = parser_of(ll);
    if (p->arena_used - p->piece_start + len > p->max_url) {
        return parser_fail(p, 414, "URI too long");
    }
    return parser_append(p, at, len, 414);
}

static int on_url_complete(llhttp_t *ll)
{
    edge_http_parser_t *p = parser_of(ll);
    p->msg.url = p->arena + p->piece_start;
    p->msg.url_len = p->arena_used - p->piece_start;
    p->piece_start = p->arena_used;
    return 0;
}

static int on_status_complete(llhttp_t *ll)
{
    edge_http_parser_t *p = parser_of(ll);
    p->piece_start = p->arena_used;
    return 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    return parser_append(parser_of(ll), at, len, 431);
}

/* A request's field name is a token (RFC 9110 5.1, 5.6.2): no space before the colon (RFC 9112
 * 5.1 requires a 400 for that: a proxy could read the name otherwise), none inside the name.
 * Origin responses are not held to it (their names are matched, never forwarded raw). */
static bool field_name_ok(const char *s, size_t n)
{
    static const char tspecial[] = "!#$%&'*+-.^_`|~";
    if (n == 0) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!alnum && (c == 0 || !strchr(tspecial, c))) {
            return false;
        }
    }
    return true;
}

static int on_header_field_complete(llhttp_t *ll)
{
    edge_http_parser_t *p = parser_of(ll);
    edge_http_msg_t *m = &p->msg;
    if (!p->response && !field_name_ok(p->arena + p->piece_start, p->arena_used - p->piece_start)) {
        return parser_fail(p, 400, "bad header field name (whitespace or a byte outside a token)");
    }
    if (p->head_done) {
        /* A trailer field (after a chunked body) is checked, then dropped: RFC 9110 6.5.1 keeps
         * it out of the header section, and nothing here reads one. Kept, a trailer "Range" or
         * "If-None-Match" changed the answer to a request whose head had none, and trailers
         * took the head's 64 field slots. */
        p->arena_used = p->piece_start;
        return 0;
    }
    if (m->n_headers >= EDGE_HTTP_MAX_HEADERS) {
        return parser_fail(p, 431, "too many header fields");
    }
    edge_http_header_t *h = &m->headers[m->n_headers];
    h->name = p->arena + p->piece_start;
    h->name_len = p->arena_used - p->piece_start;
    h->value = p->arena + p->arena_used;
    h->value_len = 0;
    p->piece_start = p->arena_used;
    return 0;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    return parser_append(parser_of(ll), at, len, 431);
}

static int on_header_value_complete(llhttp_t *ll)
{
    edge_http_parser_t *p = parser_of(ll);
    edge_http_msg_t *m = &p->msg;
    const char *v = p->arena + p->piece_start;
    size_t vl = p->arena_used - p->piece_start;
    /* Bare CR or LF inside a value means folding or smuggling; reject. */
    for (size_t i = 0; i < vl; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\r' || c == '\n' || c == 0) {
            return parser_fail(p, 400, "bad character in header value");
        }
    }
    if (p->head_done) {
        p->arena_used = p->piece_start; /* a trailer field's value: dropped (above) */
        return 0;
    }
    edge_http_header_t *h = &m->headers[m->n_headers];
    while (vl > 0 && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) {
        vl--;
    }
    while (vl > 0 && (v[0] == ' ' || v[0] == '\t')) {
        v++;
        vl--;
    }
    h->value = v;
    h->value_len = vl;
    m->n_headers++;
    p->piece_start = p->arena_used;
    if (edge_str_ieq(h->name, h->name_len, "host")) {
        p->host_count++;
    } else if (edge_str_ieq(h->name, h->name_len, "content-length")) {
        p->cl_count++;
        uint64_t clen = 0;
        /* 18 digits at most: the value fits int64_t, and -1 keeps meaning "absent". */
        m->content_length = vl <= 18 && edge_u64_parse(v, vl, &clen) ? (int64_t)clen : -1;
        if (m->content_length < 0 || p->cl_count > 1) {
            return parser_fail(p, 400, "bad or duplicate Content-Length");
        }
    } else if (edge_str_ieq(h->name, h->name_len, "transfer-encoding")) {
        p->te_seen = true;
    } else if (edge_str_ieq(h->name, h->name_len, "expect")) {
        if (edge_str_ieq(v, vl, "100-continue")) {
            m->expect_continue = true;
        } else if (!p->response) {
            return parser_fail(p, 417, "unsupported expectation");
        }
    }
    return 0;
}

static int on_headers_complete(llhttp_t *ll)
{
    edge_http_parser_t *p = parser_of(ll);
    edge_http_msg_t *m = &p->msg;
    m->http_major = ll->http_major;
    m->http_minor = ll->http_minor;
    m->method = ll->method;
    m->status = ll->status_code;
    m->keep_alive = llhttp_should_keep_alive(ll);
    m->chunked = (ll->flags & F_CHUNKED) != 0;
    if (p->te_seen && p->cl_count > 0) {
        return parser_fail(p, 400, "both Content-Length and Transfer-Encoding");
    }
    if (!p->response) {
        if (p->host_count > 1 || (p->host_count == 0 && m->http_major == 1 && m->http_minor >= 1)) {
            return parser_fail(p, 400, "missing or duplicate Host");
        }
        if (m->http_major != 1) {
            return parser_fail(p, 505, "HTTP version not supported");
        }
        if (p->te_seen && m->http_minor == 0) {
            /* HTTP/1.0 has no Transfer-Encoding: its framing is faulty (RFC 9112 6.1), and a
             * peer that reads the request as 1.0 sees a body boundary elsewhere. nginx refuses
             * it with 400 too. */
            return parser_fail(p, 400, "Transfer-Encoding in an HTTP/1.0 request");
        }
        /* "Connection: Upgrade" with "Upgrade: h2c" (curl --http2 on http://) or "websocket"
         * is an offer the server may ignore (RFC 9110 7.8): the edge never switches, so the
         * connection stays HTTP/1.1. Left set, llhttp would take every byte after this request
         * for the new protocol, and the next request on the connection would get a 400. */
        ll->upgrade = 0;
    }
    if (p->response && m->status == 101) {
        return parser_fail(p, 502, "101 Switching Protocols in a response");
    }
    if (p->response && m->status >= 100 && m->status < 200) {
        /* Interim (RFC 9110 15.2): no body, the final response follows on the same connection. */
        if (++p->n_interim > EDGE_HTTP_MAX_INTERIM) {
            return parser_fail(p, 502, "too many interim responses");
        }
        p->interim = true;
        return 1; /* llhttp: no body */
    }
    p->in_head = false;
    p->head_done = true;
    if (p->head_cb) {
        int st = p->head_cb(p->cb_ctx, m);
        if (st != 0) {
            return parser_fail(p, st, p->reason ? p->reason : "rejected"); /* set by head_cb */
        }
    }
    return 0;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    edge_http_parser_t *p = parser_of(ll);
    if (p->body_cb && p->body_cb(p->cb_ctx, at, len) != 0) {
        if (p->status_hint == 0) {
            return parser_fail(p, 500, "body sink failed");
        }
        return -1;
    }
    return 0;
}

static int on_message_complete(llhttp_t *ll)
{
    (void)ll;
    return HPE_PAUSED;
}

void edge_http_parser_init(edge_http_parser_t *p, bool response, char *arena, size_t arena_cap,
                           size_t max_url)
{
    memset(p, 0, sizeof(*p));
    llhttp_settings_init(&p->settings);
    p->settings.on_message_begin = on_message_begin;
    p->settings.on_url = on_url;
    p->settings.on_url_complete = on_url_complete;
    p->settings.on_status_complete = on_status_complete;
    p->settings.on_header_field = on_header_field;
    p->settings.on_header_field_complete = on_header_field_complete;
    p->settings.on_header_value = on_header_value;
    p->settings.on_header_value_complete = on_header_value_complete;
    p->settings.on_headers_complete = on_headers_complete;
    p->settings.on_body = on_body;
    p->settings.on_message_complete = on_message_complete;
    llhttp_init(&p->ll, response ? HTTP_RESPONSE : HTTP_REQUEST, &p->settings);
    p->ll.data = p;
    p->arena = arena;
    p->arena_cap = arena_cap;
    p->max_url = max_url;
    p->response = response;
    edge_http_parser_next(p);
}

/* Per-message state back to the start of a message head. */
static void parser_msg_reset(edge_http_parser_t *p)
{
    memset(&p->msg, 0, sizeof(p->msg));
    p->msg.content_length = -1;
    p->arena_used = 0;
    p->piece_start = 0;
    p->host_count = 0;
    p->cl_count = 0;
    p->te_seen = false;
    p->in_head = false;
    p->head_done = false;
    p->status_hint = 0;
    p->reason = NULL;
    p->scan_done = false;
    p->scan_line_len = 0;
    p->scan_lines = 0;
    p->interim = false;
}

void edge_http_parser_next(edge_http_parser_t *p)
{
    parser_msg_reset(p);
    p->n_interim = 0;
    if (llhttp_get_errno(&p->ll) == HPE_PAUSED) {
        llhttp_resume(&p->ll);
    }
}

void edge_http_parser_set_arena(edge_http_parser_t *p, char *arena)
{
    p->arena = arena;
}

static int parser_error(edge_http_parser_t *p, llhttp_errno_t e)
{
    if (p->status_hint == 0) {
        p->status_hint = 400;
    }
    if (p->reason == NULL) {
        p->reason = llhttp_errno_name(e);
    }
    return -EINVAL;
}

/* llhttp accepts obs-fold (a header line starting with SP/HTAB); a classic smuggling vector,
 * so the head is pre-scanned and such lines are refused. */
static int parser_scan_head(edge_http_parser_t *p, const char *data, size_t len)
{
    for (size_t i = 0; i < len && !p->scan_done; i++) {
        char c = data[i];
        if (c == '\n') {
            if (p->scan_line_len == 0 && p->scan_lines > 0) {
                p->scan_done = true; /* blank line: end of the head */
            } else if (p->scan_line_len > 0) {
                p->scan_lines++;
            }
            p->scan_line_len = 0;
        } else if (c != '\r') {
            if (p->scan_line_len == 0 && p->scan_lines > 0 && (c == ' ' || c == '\t')) {
                return parser_fail(p, 400, "obsolete line folding");
            }
            p->scan_line_len++;
        }
    }
    return 0;
}

int edge_http_parser_feed(edge_http_parser_t *p, const char *data, size_t len, size_t *used)
{
    *used = 0;
    llhttp_errno_t e;
    for (;;) {
        if (p->status_hint != 0) {
            return -EINVAL;
        }
        if (!p->scan_done && parser_scan_head(p, data, len) != 0) {
            return -EINVAL;
        }
        e = llhttp_execute(&p->ll, data, len);
        if (e == HPE_OK) {
            *used += len;
            return EDGE_HTTP_NEED_MORE;
        }
        if (e != HPE_PAUSED) {
            break;
        }
        size_t n = (size_t)(llhttp_get_error_pos(&p->ll) - data);
        *used += n;
        if (!p->interim) {
            return EDGE_HTTP_MESSAGE_DONE;
        }
        /* An interim response ended: parse on to the final one (its head is scanned anew). */
        parser_msg_reset(p);
        llhttp_resume(&p->ll);
        data += n;
        len -= n;
    }
    if (e == HPE_PAUSED_UPGRADE) {
        p->status_hint = 400;
        p->reason = "upgrade not supported";
        return -EINVAL;
    }
    return parser_error(p, e);
}

int edge_http_parser_finish(edge_http_parser_t *p)
{
    if (p->status_hint != 0) {
        return -EINVAL;
    }
    llhttp_errno_t e = llhttp_finish(&p->ll);
    if (e == HPE_PAUSED) {
        return EDGE_HTTP_MESSAGE_DONE;
    }
    if (e == HPE_OK) {
        return EDGE_HTTP_NEED_MORE;
    }
    return parser_error(p, e);
}

bool edge_str_ieq(const char *a, size_t alen, const char *b)
{
    size_t bl = strlen(b);
    return alen == bl && strncasecmp(a, b, bl) == 0;
}

const char *edge_http_msg_header(const edge_http_msg_t *m, const char *name, size_t *len)
{
    for (size_t i = 0; i < m->n_headers; i++) {
        if (edge_str_ieq(m->headers[i].name, m->headers[i].name_len, name)) {
            if (len) {
                *len = m->headers[i].value_len;
            }
            return m->headers[i].value;
        }
    }
    return NULL;
}
