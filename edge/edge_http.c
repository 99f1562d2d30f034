/* edge_http.c: HTTP/1.1 message parsing over llhttp with strict anti-smuggling checks, and helpers.
 */
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

static int on_header_field_complete(llhttp_t *ll)
{
    edge_http_parser_t *p = parser_of(ll);
    edge_http_msg_t *m = &p->msg;
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

static int64_t parse_u63(const char *s, size_t len)
{
    if (len == 0 || len > 18) {
        return -1;
    }
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int on_header_value_complete(llhttp_t *ll)
{
    edge_http_parser_t *p = parser_of(ll);
    edge_http_msg_t *m = &p->msg;
    edge_http_header_t *h = &m->headers[m->n_headers];
    const char *v = p->arena + p->piece_start;
    size_t vl = p->arena_used - p->piece_start;
    /* Bare CR or LF inside a value means folding or smuggling; reject. */
    for (size_t i = 0; i < vl; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c == '\r' || c == '\n' || c == 0) {
            return parser_fail(p, 400, "bad character in header value");
        }
    }
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
        m->content_length = parse_u63(v, vl);
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
    }
    p->in_head = false;
    p->head_done = true;
    if (p->head_cb) {
        int st = p->head_cb(p->cb_ctx, m);
        if (st != 0) {
            return parser_fail(p, st, "rejected");
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

void edge_http_parser_next(edge_http_parser_t *p)
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
    if (llhttp_get_errno(&p->ll) == HPE_PAUSED) {
        llhttp_resume(&p->ll);
    }
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
    if (p->status_hint != 0) {
        return -EINVAL;
    }
    if (!p->scan_done && parser_scan_head(p, data, len) != 0) {
        return -EINVAL;
    }
    llhttp_errno_t e = llhttp_execute(&p->ll, data, len);
    if (e == HPE_OK) {
        *used = len;
        return EDGE_HTTP_NEED_MORE;
    }
    if (e == HPE_PAUSED) {
        *used = (size_t)(llhttp_get_error_pos(&p->ll) - data);
        return EDGE_HTTP_MESSAGE_DONE;
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

static int hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = tolower(c);
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

int edge_path_normalize(const char *url, size_t len, char *out, size_t cap, const char **query,
                        size_t *qlen)
{
    *query = NULL;
    *qlen = 0;
    /* Absolute form: drop scheme and authority. */
    if (len > 7 && strncasecmp(url, "http://", 7) == 0) {
        const char *s = memchr(url + 7, '/', len - 7);
        if (!s) {
            return -EINVAL;
        }
        len -= (size_t)(s - url);
        url = s;
    }
    if (len == 0 || url[0] != '/') {
        return -EINVAL;
    }
    const char *q = memchr(url, '?', len);
    size_t plen = len;
    if (q) {
        plen = (size_t)(q - url);
        *query = q + 1;
        *qlen = len - plen - 1;
        const char *h = memchr(*query, '#', *qlen);
        if (h) {
            *qlen = (size_t)(h - *query);
        }
    } else {
        const char *h = memchr(url, '#', len);
        if (h) {
            plen = (size_t)(h - url);
        }
    }
    size_t o = 0;
    size_t i = 0;
    if (cap < 2) {
        return -ENAMETOOLONG;
    }
    out[o++] = '/';
    while (i < plen) {
        /* One segment: decode into out after the last '/'. */
        while (i < plen && url[i] == '/') {
            i++;
        }
        if (i >= plen) {
            break;
        }
        size_t seg_start = o;
        while (i < plen && url[i] != '/') {
            int c = (unsigned char)url[i];
            if (c == '%') {
                if (i + 2 >= plen) {
                    return -EINVAL;
                }
                int hi = hexval(url[i + 1]);
                int lo = hexval(url[i + 2]);
                if (hi < 0 || lo < 0) {
                    return -EINVAL;
                }
                c = hi * 16 + lo;
                i += 3;
                if (c == '/' || c == '\\' || c == 0) {
                    return -EINVAL;
                }
            } else {
                i++;
                if (c == '\\') {
                    return -EINVAL; /* a literal backslash is refused like %5C */
                }
            }
            if (c < 0x20 || c == 0x7f) {
                return -EINVAL;
            }
            if (o + 1 >= cap) {
                return -ENAMETOOLONG;
            }
            out[o++] = (char)c;
        }
        size_t sl = o - seg_start;
        if (sl == 1 && out[seg_start] == '.') {
            o = seg_start;
            continue;
        }
        if (sl == 2 && out[seg_start] == '.' && out[seg_start + 1] == '.') {
            /* Drop this segment and the previous one; fail when there is none. */
            if (seg_start <= 1) {
                return -EINVAL;
            }
            o = seg_start - 1; /* the '/' before ".." */
            while (o > 0 && out[o - 1] != '/') {
                o--;
            }
            continue;
        }
        if (i < plen) {
            if (o + 1 >= cap) {
                return -ENAMETOOLONG;
            }
            out[o++] = '/';
        }
    }
    /* Keep a trailing slash only when the original had one (directory requests). */
    out[o] = '\0';
    return (int)o;
}

/* RFC 3986 pchar without pct-encoded, plus '/': unreserved, sub-delims, ':' and '@'. */
static bool path_char_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

int edge_path_encode(const char *path, size_t len, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)path[i];
        if (c != '\0' && path_char_plain(c)) {
            if (o + 1 >= cap) {
                return -ENAMETOOLONG;
            }
            out[o++] = (char)c;
            continue;
        }
        if (o + 3 >= cap) {
            return -ENAMETOOLONG;
        }
        out[o++] = '%';
        out[o++] = hex[c >> 4];
        out[o++] = hex[c & 15];
    }
    if (cap == 0) {
        return -ENAMETOOLONG;
    }
    out[o] = '\0';
    return (int)o;
}

int edge_cache_key_build(const char *path, size_t plen, const char *query, size_t qlen,
                         const char *const *keep, char *out, size_t cap)
{
    int el = edge_path_encode(path, plen, out, cap);
    if (el < 0) {
        return el;
    }
    size_t o = (size_t)el;
    bool first = true;
    size_t i = 0;
    while (query && i < qlen) {
        const char *param = query + i;
        const char *amp = memchr(param, '&', qlen - i);
        size_t pl = amp ? (size_t)(amp - param) : qlen - i;
        i += pl + 1;
        if (pl == 0) {
            continue;
        }
        const char *eq = memchr(param, '=', pl);
        size_t nl = eq ? (size_t)(eq - param) : pl;
        bool kept = false;
        for (size_t k = 0; keep && keep[k]; k++) {
            if (strlen(keep[k]) == nl && memcmp(keep[k], param, nl) == 0) {
                kept = true;
                break;
            }
        }
        if (!kept) {
            continue;
        }
        if (o + 1 + pl + 1 > cap) {
            return -ENAMETOOLONG;
        }
        out[o++] = first ? '?' : '&';
        for (size_t j = 0; j < pl; j++) {
            unsigned char c = (unsigned char)param[j];
            if (c > 0x20 && c < 0x7f) {
                out[o++] = (char)c;
                continue;
            }
            /* Nothing that could break the origin request line (llhttp refuses most already). */
            if (o + 3 + (pl - j - 1) + 1 > cap) {
                return -ENAMETOOLONG;
            }
            o += (size_t)snprintf(out + o, 4, "%%%02X", c);
        }
        first = false;
    }
    out[o] = '\0';
    return (int)o;
}

static bool parse_u64_span(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

int edge_range_parse(const char *v, size_t len, uint64_t size, uint64_t *first, uint64_t *last)
{
    while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
        len--;
    }
    if (len < 7 || strncasecmp(v, "bytes=", 6) != 0) {
        return 0;
    }
    v += 6;
    len -= 6;
    while (len > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        len--;
    }
    if (memchr(v, ',', len)) {
        return 0; /* several ranges: answer the whole representation */
    }
    const char *dash = memchr(v, '-', len);
    if (!dash) {
        return 0;
    }
    size_t al = (size_t)(dash - v);
    size_t bl = len - al - 1;
    uint64_t a = 0;
    uint64_t b = 0;
    if (al == 0) {
        /* Suffix range: the last b bytes. */
        if (!parse_u64_span(dash + 1, bl, &b)) {
            return 0;
        }
        if (b == 0 || size == 0) {
            return -1;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return 1;
    }
    if (!parse_u64_span(v, al, &a)) {
        return 0;
    }
    if (bl == 0) {
        b = UINT64_MAX;
    } else if (!parse_u64_span(dash + 1, bl, &b) || b < a) {
        return 0;
    }
    if (a >= size) {
        return -1;
    }
    *first = a;
    *last = b >= size ? size - 1 : b;
    return 1;
}

static int64_t cc_number(const char *s, size_t len)
{
    if (len >= 2 && s[0] == '"' && s[len - 1] == '"') {
        s++;
        len -= 2;
    }
    uint64_t v = 0;
    if (!parse_u64_span(s, len, &v)) {
        return -1;
    }
    return v > (uint64_t)INT32_MAX ? INT32_MAX : (int64_t)v;
}

void edge_cc_parse(const char *v, size_t len, edge_cc_t *cc)
{
    memset(cc, 0, sizeof(*cc));
    cc->max_age = cc->s_maxage = cc->swr = cc->sie = -1;
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < len && v[i] != ',') {
            i++;
        }
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) {
            e--;
        }
        if (e == s) {
            continue;
        }
        const char *d = v + s;
        size_t dl = e - s;
        const char *eq = memchr(d, '=', dl);
        size_t nl = eq ? (size_t)(eq - d) : dl;
        const char *val = eq ? eq + 1 : NULL;
        size_t vl = eq ? dl - nl - 1 : 0;
        if (edge_str_ieq(d, nl, "max-age") && val) {
            cc->max_age = cc_number(val, vl);
        } else if (edge_str_ieq(d, nl, "s-maxage") && val) {
            cc->s_maxage = cc_number(val, vl);
        } else if (edge_str_ieq(d, nl, "stale-while-revalidate") && val) {
            cc->swr = cc_number(val, vl);
        } else if (edge_str_ieq(d, nl, "stale-if-error") && val) {
            cc->sie = cc_number(val, vl);
        } else if (edge_str_ieq(d, nl, "no-store")) {
            cc->no_store = true;
        } else if (edge_str_ieq(d, nl, "no-cache")) {
            cc->no_cache = true;
        } else if (edge_str_ieq(d, nl, "private")) {
            cc->private_ = true;
        } else if (edge_str_ieq(d, nl, "must-revalidate") ||
                   edge_str_ieq(d, nl, "proxy-revalidate")) {
            cc->must_revalidate = true;
        }
    }
}

static const char *const wdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

void edge_http_date_format(time_t t, char *buf)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, 32, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7], tm.tm_mday,
             months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

int edge_http_date_parse(const char *s, size_t len, time_t *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf)) {
        return -EINVAL;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    char mon[4] = {0};
    char wd[16] = {0};
    int d = 0;
    int y = 0;
    int hh = 0;
    int mm = 0;
    int ss = 0;
    int n = 0;
    if (sscanf(buf, "%3s, %2d %3s %4d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &hh, &mm, &ss, &n) ==
            7 &&
        n == (int)len) {
        /* IMF-fixdate */
    } else if (sscanf(buf, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d GMT%n", wd, &d, mon, &y, &hh, &mm,
                      &ss, &n) == 7 &&
               n == (int)len) {
        y += y < 70 ? 2000 : 1900;
    } else if (sscanf(buf, "%3s %3s %2d %2d:%2d:%2d %4d%n", wd, mon, &d, &hh, &mm, &ss, &y, &n) ==
                   7 &&
               n == (int)len) {
        /* asctime */
    } else {
        return -EINVAL;
    }
    int m = -1;
    for (int i = 0; i < 12; i++) {
        if (strcmp(mon, months[i]) == 0) {
            m = i;
        }
    }
    if (m < 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || y < 1970 || y > 9999) {
        return -EINVAL;
    }
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = m;
    tm.tm_mday = d;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    *out = timegm(&tm);
    return 0;
}

static void etag_strip_weak(const char **e, size_t *l)
{
    if (*l >= 2 && (*e)[0] == 'W' && (*e)[1] == '/') {
        *e += 2;
        *l -= 2;
    }
}

bool edge_etag_list_match(const char *list, size_t len, const char *etag, size_t elen)
{
    etag_strip_weak(&etag, &elen);
    size_t i = 0;
    while (i < len) {
        while (i < len && (list[i] == ' ' || list[i] == '\t' || list[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < len && list[i] != ',') {
            i++;
        }
        size_t e = i;
        while (e > s && (list[e - 1] == ' ' || list[e - 1] == '\t')) {
            e--;
        }
        const char *t = list + s;
        size_t tl = e - s;
        if (tl == 1 && t[0] == '*') {
            return true;
        }
        etag_strip_weak(&t, &tl);
        if (tl > 0 && tl == elen && memcmp(t, etag, tl) == 0) {
            return true;
        }
    }
    return false;
}

static const char *path_ext(const char *path, size_t len, size_t *elen)
{
    size_t i = len;
    while (i > 0 && path[i - 1] != '.' && path[i - 1] != '/') {
        i--;
    }
    if (i == 0 || path[i - 1] != '.') {
        *elen = 0;
        return "";
    }
    *elen = len - i;
    return path + i;
}

static const struct {
    const char *ext;
    const char *type;
    edge_media_kind_t kind;
} media_types[] = {
    {"m3u8", "application/vnd.apple.mpegurl", EDGE_MEDIA_PLAYLIST},
    {"mpd", "application/dash+xml", EDGE_MEDIA_MANIFEST},
    {"ts", "video/mp2t", EDGE_MEDIA_SEGMENT},
    {"m4s", "video/iso.segment", EDGE_MEDIA_SEGMENT},
    {"mp4", "video/mp4", EDGE_MEDIA_SEGMENT},
    {"m4a", "audio/mp4", EDGE_MEDIA_SEGMENT},
    {"m4v", "video/mp4", EDGE_MEDIA_SEGMENT},
    {"cmfv", "video/mp4", EDGE_MEDIA_SEGMENT},
    {"cmfa", "audio/mp4", EDGE_MEDIA_SEGMENT},
    {"aac", "audio/aac", EDGE_MEDIA_SEGMENT},
    {"vtt", "text/vtt", EDGE_MEDIA_SEGMENT},
    {"webvtt", "text/vtt", EDGE_MEDIA_SEGMENT},
    {"key", "application/octet-stream", EDGE_MEDIA_SEGMENT},
    {"json", "application/json", EDGE_MEDIA_OTHER},
    {"html", "text/html; charset=utf-8", EDGE_MEDIA_OTHER},
    {"txt", "text/plain; charset=utf-8", EDGE_MEDIA_OTHER},
};

const char *edge_content_type(const char *path, size_t len)
{
    size_t el = 0;
    const char *e = path_ext(path, len, &el);
    for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++) {
        if (edge_str_ieq(e, el, media_types[i].ext)) {
            return media_types[i].type;
        }
    }
    return "application/octet-stream";
}

edge_media_kind_t edge_media_kind(const char *path, size_t len)
{
    size_t el = 0;
    const char *e = path_ext(path, len, &el);
    for (size_t i = 0; i < sizeof(media_types) / sizeof(media_types[0]); i++) {
        if (edge_str_ieq(e, el, media_types[i].ext)) {
            return media_types[i].kind;
        }
    }
    return EDGE_MEDIA_OTHER;
}

void edge_hls_scan(const char *body, size_t len, bool *endlist, uint64_t *target_ms)
{
    *endlist = false;
    *target_ms = 0;
    size_t i = 0;
    while (i < len) {
        const char *line = body + i;
        const char *nl = memchr(line, '\n', len - i);
        size_t ll = nl ? (size_t)(nl - line) : len - i;
        i += ll + 1;
        while (ll > 0 && (line[ll - 1] == '\r' || line[ll - 1] == ' ')) {
            ll--;
        }
        static const char td[] = "#EXT-X-TARGETDURATION:";
        if (ll == 14 && memcmp(line, "#EXT-X-ENDLIST", 14) == 0) {
            *endlist = true;
        } else if (ll > sizeof(td) - 1 && memcmp(line, td, sizeof(td) - 1) == 0) {
            uint64_t v = 0;
            if (parse_u64_span(line + sizeof(td) - 1, ll - (sizeof(td) - 1), &v) && v < 86400) {
                *target_ms = v * 1000;
            }
        }
    }
}

bool edge_mpd_is_dynamic(const char *body, size_t len)
{
    static const char pat[] = "type=\"dynamic\"";
    size_t pl = sizeof(pat) - 1;
    for (size_t i = 0; i + pl <= len; i++) {
        if (memcmp(body + i, pat, pl) == 0) {
            return true;
        }
    }
    return false;
}
