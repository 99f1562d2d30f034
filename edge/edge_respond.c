/* edge_respond.c: the request core: status, head, body range and Cache-Status of a response,
 * decided from plain data (see edge_respond.h). No connection, no libuv, no lock, no log. */
#include "edge_respond.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define HDR_VAL_MAX   1024 /* ETag, Cache-Control */
#define HDR_CTYPE_MAX 256
#define HDR_SHORT_MAX 64 /* Last-Modified, Content-Encoding */
#define ACRH_MAX      512

/* Location: as long as a request target may be (max_uri), so a redirect to any URI we would
 * accept passes through. With the other value caps the head stays within CONN_HDR. */
#define HDR_LOCATION_MAX (EDGE_MAX_URI + 1)

static const char *const cs_words[] = {"-",     "HIT",         "MISS",      "COLLAPSED", "STALE",
                                       "STALE", "REVALIDATED", "REFRESHED", "ERROR"};

const char *edge_cs_word(edge_cs_t cs)
{
    return (unsigned)cs < sizeof(cs_words) / sizeof(cs_words[0]) ? cs_words[cs] : "-";
}

const char *edge_status_text(int st)
{
    switch (st) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 304:
        return "Not Modified";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 409:
        return "Conflict";
    case 410:
        return "Gone";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return st < 300 ? "OK" : st < 400 ? "Redirect" : st < 500 ? "Client Error" : "Error";
    }
}

static edge_hval_t hval(const edge_http_msg_t *m, const char *name)
{
    edge_hval_t v = {NULL, 0};
    v.p = edge_http_msg_header(m, name, &v.n);
    return v;
}

void edge_req_from_msg(edge_req_t *r, const edge_http_msg_t *m)
{
    r->method = m->method;
    r->http_minor = m->http_minor;
    r->keep_alive = m->keep_alive;
    r->if_none_match = hval(m, "if-none-match");
    r->if_modified_since = hval(m, "if-modified-since");
    r->if_range = hval(m, "if-range");
    r->range = hval(m, "range");
    r->accept_encoding = hval(m, "accept-encoding");
    r->acr_headers = hval(m, "access-control-request-headers");
}

bool edge_method_allowed(int method, bool origin_mode)
{
    switch (method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_OPTIONS:
        return true;
    case HTTP_PUT:
    case HTTP_DELETE:
        return origin_mode;
    default:
        return false;
    }
}

/* ---- freshness ---- */

uint64_t edge_cache_age_ms(uint64_t resp_ms, int64_t origin_age, uint64_t now_ms)
{
    uint64_t local = now_ms > resp_ms ? now_ms - resp_ms : 0;
    return local + (origin_age > 0 ? (uint64_t)origin_age * 1000 : 0);
}

static uint64_t view_age_ms(const edge_obj_view_t *v, uint64_t now_ms)
{
    return edge_cache_age_ms(v->resp_ms, v->origin_age, now_ms);
}

edge_lookup_do_t edge_lookup_decide(const edge_obj_view_t *v, uint64_t now_ms, edge_cs_t *cs)
{
    if (!v) {
        *cs = EDGE_CS_MISS;
        return EDGE_DO_FILL;
    }
    if (v->state == EDGE_VIEW_PENDING || v->state == EDGE_VIEW_STREAMING) {
        *cs = EDGE_CS_COLLAPSED;
        return EDGE_DO_NONE;
    }
    uint64_t age = view_age_ms(v, now_ms);
    if (age < v->ttl_ms) {
        *cs = EDGE_CS_HIT;
        return EDGE_DO_NONE;
    }
    if (age < v->ttl_ms + v->swr_ms) {
        *cs = EDGE_CS_STALE;
        return EDGE_DO_REFRESH;
    }
    *cs = EDGE_CS_NONE;
    return EDGE_DO_REVALIDATE;
}

edge_cs_t edge_refresh_outcome(const edge_obj_view_t *v, int result, uint64_t now_ms)
{
    switch (result) {
    case EDGE_REFRESH_RESULT_REPLACED:
        return EDGE_CS_REFRESHED;
    case EDGE_REFRESH_RESULT_FAILED:
        return view_age_ms(v, now_ms) < v->ttl_ms + v->sie_ms ? EDGE_CS_STALE_ERROR : EDGE_CS_ERROR;
    default:
        return EDGE_CS_REVALIDATED;
    }
}

/* ---- gzip ---- */

bool edge_accepts_gzip(edge_hval_t ae)
{
    const char *v = ae.p;
    size_t l = ae.n;
    if (!v) {
        return false;
    }
    for (size_t i = 0; i + 4 <= l; i++) {
        if (strncasecmp(v + i, "gzip", 4) == 0) {
            /* "gzip;q=0" refuses it */
            const char *q = v + i + 4;
            size_t rest = l - i - 4;
            while (rest > 0 && *q == ' ') {
                q++;
                rest--;
            }
            if (rest >= 4 && strncmp(q, ";q=0", 4) == 0 && (rest == 4 || q[4] != '.')) {
                return false;
            }
            if (rest >= 5 && strncmp(q, ";q=0.", 5) == 0) {
                bool zero = true;
                for (size_t k = 5; k < rest && q[k] >= '0' && q[k] <= '9'; k++) {
                    zero = zero && q[k] == '0';
                }
                return !zero;
            }
            return true;
        }
    }
    return false;
}

static bool is_playlist(edge_media_kind_t kind)
{
    return kind == EDGE_MEDIA_PLAYLIST || kind == EDGE_MEDIA_MANIFEST;
}

bool edge_want_gzip(const edge_req_t *req, edge_media_kind_t kind, int status,
                    const char *content_encoding)
{
    return is_playlist(kind) && status == 200 && !content_encoding && !req->range.p &&
           edge_accepts_gzip(req->accept_encoding);
}

int edge_gzip(const void *in, size_t len, char **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (len > EDGE_GZIP_MAX) {
        return -EINVAL;
    }
    size_t cap = compressBound((uLong)len) + 32;
    char *dst = malloc(cap);
    if (!dst) {
        return -ENOMEM;
    }
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(dst);
        return -ENOMEM;
    }
    zs.next_in = (Bytef *)(uintptr_t)in;
    zs.avail_in = (uInt)len;
    zs.next_out = (Bytef *)dst;
    zs.avail_out = (uInt)cap;
    int zr = deflate(&zs, Z_FINISH);
    size_t n = zs.total_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(dst);
        return -EIO;
    }
    *out = dst;
    *out_len = n;
    return 0;
}

/* ---- head building ---- */

static void hdr_add(edge_plan_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void hdr_add(edge_plan_t *p, const char *fmt, ...)
{
    if (p->hdr_len >= p->hdr_cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->hdr + p->hdr_len, p->hdr_cap - p->hdr_len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        p->hdr_len += (size_t)n;
        if (p->hdr_len > p->hdr_cap) {
            p->hdr_len = p->hdr_cap;
        }
    }
}

/* A value that may go into a header: shorter than max, no CR, LF or other control bytes. */
static bool value_ok(const char *v, size_t len, size_t max)
{
    if (!v || len >= max) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)v[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            return false;
        }
    }
    return true;
}

static bool str_ok(const char *v, size_t max)
{
    return v && value_ok(v, strnlen(v, max), max);
}

static void plan_reset(edge_plan_t *p)
{
    p->hdr_len = 0;
    p->action = EDGE_PLAN_READY;
    p->status = 0;
    p->cs = EDGE_CS_NONE;
    p->fwd_status = 0;
    p->keep_alive = false;
    p->chunked = false;
    p->body = EDGE_BODY_NONE;
    p->off = 0;
    p->end = 0;
    p->text[0] = '\0';
}

static void hdr_begin(const edge_req_t *req, const edge_config_t *cfg, edge_plan_t *p, int status)
{
    p->status = status;
    p->hdr_len = 0;
    p->keep_alive = req->keep_alive && !req->closing;
    hdr_add(p, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: segment-edge\r\n", status,
            edge_status_text(status), req->date ? req->date : "");
    if (cfg->cors_allow_origin[0] &&
        str_ok(cfg->cors_allow_origin, sizeof(cfg->cors_allow_origin))) {
        hdr_add(p,
                "Access-Control-Allow-Origin: %s\r\n"
                "Access-Control-Expose-Headers: Content-Length, Content-Range, Accept-Ranges, "
                "Age, Cache-Status, ETag, Last-Modified, Date\r\n",
                cfg->cors_allow_origin);
    }
}

static void hdr_end(edge_plan_t *p)
{
    hdr_add(p, "Connection: %s\r\n\r\n", p->keep_alive ? "keep-alive" : "close");
    if (p->hdr_len >= p->hdr_cap) {
        /* Cannot happen with the value caps; fail safe rather than send a cut head. */
        p->hdr_len = 0;
        hdr_add(p, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                   "Connection: close\r\n\r\n");
        p->keep_alive = false;
        p->status = 500;
        p->chunked = false;
        p->body = EDGE_BODY_NONE;
        p->off = 0;
        p->end = 0;
    }
}

static const char *allow_list(const edge_config_t *cfg)
{
    return cfg->root[0] ? "GET, HEAD, OPTIONS, PUT, DELETE" : "GET, HEAD, OPTIONS";
}

void edge_respond_simple(const edge_req_t *req, int status, const char *ctype, size_t body_len,
                         const char *extra, const edge_config_t *cfg, edge_plan_t *out)
{
    plan_reset(out);
    hdr_begin(req, cfg, out, status);
    if (extra) {
        hdr_add(out, "%s", extra);
    }
    if (ctype) {
        hdr_add(out, "Content-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n",
                ctype, body_len);
    } else if (status != 204 && status >= 200) {
        hdr_add(out, "Content-Length: %zu\r\n", body_len);
    }
    out->body = body_len ? EDGE_BODY_TEXT : EDGE_BODY_NONE;
    out->end = (int64_t)body_len;
    hdr_end(out);
}

/* An error response with extra header lines (NULL for none) besides Allow and Cache-Status. */
static void respond_error_with(const edge_req_t *req, int status, int fwd_status, const char *more,
                               const edge_config_t *cfg, edge_plan_t *out)
{
    char extra[160];
    extra[0] = '\0';
    size_t el = 0;
    if (more) {
        el += (size_t)snprintf(extra, sizeof(extra), "%s", more);
    }
    if (status == 405) {
        el += (size_t)snprintf(extra + el, sizeof(extra) - el, "Allow: %s\r\n", allow_list(cfg));
    }
    if (fwd_status) {
        snprintf(extra + el, sizeof(extra) - el,
                 "Cache-Status: segment-edge; fwd=miss; fwd-status=%d\r\n", fwd_status);
    }
    char text[EDGE_PLAN_TEXT];
    int n = snprintf(text, sizeof(text), "%d %s\n", status, edge_status_text(status));
    size_t len = n > 0 && (size_t)n < sizeof(text) ? (size_t)n : 0;
    edge_respond_simple(req, status, "text/plain; charset=utf-8", len, extra[0] ? extra : NULL, cfg,
                        out);
    memcpy(out->text, text, len);
    out->text[len < sizeof(out->text) ? len : 0] = '\0';
    out->fwd_status = fwd_status;
}

void edge_respond_error(const edge_req_t *req, int status, int fwd_status, const edge_config_t *cfg,
                        edge_plan_t *out)
{
    respond_error_with(req, status, fwd_status, NULL, cfg, out);
}

void edge_respond_busy(const edge_req_t *req, const edge_config_t *cfg, edge_plan_t *out)
{
    respond_error_with(req, 503, 0, "Retry-After: " EDGE_RETRY_AFTER_S "\r\n", cfg, out);
}

static void respond_options(const edge_req_t *req, const edge_config_t *cfg, edge_plan_t *out)
{
    const char *dflt = "Range, If-None-Match, If-Modified-Since, If-Range";
    bool echo = value_ok(req->acr_headers.p, req->acr_headers.n, ACRH_MAX);
    plan_reset(out);
    hdr_begin(req, cfg, out, 204);
    const char *extra = cfg->root[0] ? ", PUT, DELETE" : "";
    hdr_add(out,
            "Access-Control-Allow-Methods: GET, HEAD, OPTIONS%s\r\n"
            "Access-Control-Allow-Headers: %.*s\r\n"
            "Access-Control-Max-Age: 86400\r\nAllow: GET, HEAD, OPTIONS%s\r\n",
            extra, echo ? (int)req->acr_headers.n : (int)strlen(dflt),
            echo ? req->acr_headers.p : dflt, extra);
    hdr_end(out);
}

/* Room for the longest ETag sent (HDR_VAL_MAX) plus the gzip variant's "-gz" and a NUL. */
#define VARIANT_ETAG_MAX (HDR_VAL_MAX + 4)

/* The entity tag of the representation that is served: the stored one, or for the gzip variant
 * the stored one with "-gz" inside its closing quote ("abc" -> "abc-gz", W/"abc" -> W/"abc-gz"),
 * built in buf (VARIANT_ETAG_MAX bytes). NULL when there is none or it is too long to send. */
static const char *variant_etag(const edge_obj_view_t *o, bool gz, char *buf)
{
    if (!str_ok(o->etag, HDR_VAL_MAX)) {
        return NULL;
    }
    size_t el = strlen(o->etag);
    if (!gz || el < 2 || o->etag[el - 1] != '"') {
        return o->etag;
    }
    snprintf(buf, VARIANT_ETAG_MAX, "%.*s-gz\"", (int)(el - 1), o->etag);
    return buf;
}

/* Conditional GET: should we answer 304? If-None-Match (weak comparison, RFC 9110 13.1.2, against
 * etag: the served variant's) wins over If-Modified-Since. */
static bool not_modified(const edge_req_t *req, const edge_obj_view_t *o, const char *etag)
{
    if (req->if_none_match.p) {
        return etag &&
               edge_etag_list_match(req->if_none_match.p, req->if_none_match.n, etag, strlen(etag));
    }
    if (req->if_modified_since.p && (o->last_modified || o->mtime)) {
        time_t t = 0;
        time_t have = (time_t)o->mtime;
        if (o->last_modified &&
            edge_http_date_parse(o->last_modified, strlen(o->last_modified), &have)) {
            return false;
        }
        if (edge_http_date_parse(req->if_modified_since.p, req->if_modified_since.n, &t) == 0 &&
            have <= t) {
            return true;
        }
    }
    return false;
}

/* If-Range: the range applies only when the validator matches (strong ETag or exact date). */
static bool if_range_ok(const edge_req_t *req, const edge_obj_view_t *o)
{
    const char *v = req->if_range.p;
    size_t l = req->if_range.n;
    if (!v) {
        return true;
    }
    if (l > 0 && (v[0] == '"' || v[0] == 'W')) {
        return o->etag && o->etag[0] == '"' && v[0] == '"' && strlen(o->etag) == l &&
               memcmp(o->etag, v, l) == 0;
    }
    return o->last_modified && strlen(o->last_modified) == l && memcmp(o->last_modified, v, l) == 0;
}

/* ETag (etag: the served variant's, see variant_etag) and Last-Modified. */
static void hdr_validators(edge_plan_t *p, const edge_obj_view_t *o, const char *etag)
{
    if (etag) {
        hdr_add(p, "ETag: %s\r\n", etag);
    }
    if (str_ok(o->last_modified, HDR_SHORT_MAX)) {
        hdr_add(p, "Last-Modified: %s\r\n", o->last_modified);
    }
}

/* Head for a 200 representation of total bytes (-1 unknown) whose entity tag is etag: 304, 416,
 * 206 or 200; sets the range. */
static void hdr_representation(const edge_req_t *req, const edge_config_t *cfg,
                               const edge_obj_view_t *o, edge_plan_t *p, int64_t total, bool gz,
                               const char *etag)
{
    bool head_only = req->method == HTTP_HEAD;
    if (not_modified(req, o, etag)) {
        hdr_begin(req, cfg, p, 304);
        return;
    }
    uint64_t first = 0;
    uint64_t last = 0;
    int r = 0;
    if (req->range.p && !gz && total >= 0 && if_range_ok(req, o)) {
        r = edge_range_parse(req->range.p, req->range.n, (uint64_t)total, &first, &last);
    }
    if (r < 0) {
        hdr_begin(req, cfg, p, 416);
        hdr_add(p, "Content-Range: bytes */%lld\r\nContent-Length: 0\r\n", (long long)total);
        return;
    }
    if (r > 0) {
        hdr_begin(req, cfg, p, 206);
        hdr_add(p, "Content-Range: bytes %llu-%llu/%lld\r\nContent-Length: %llu\r\n",
                (unsigned long long)first, (unsigned long long)last, (long long)total,
                (unsigned long long)(last - first + 1));
        p->off = first;
        p->end = (int64_t)last + 1;
    } else {
        hdr_begin(req, cfg, p, 200);
        p->off = 0;
        p->end = total;
        if (total >= 0) {
            hdr_add(p, "Content-Length: %lld\r\n", (long long)total);
        } else if (!head_only) {
            p->chunked = req->http_minor >= 1;
            if (p->chunked) {
                hdr_add(p, "Transfer-Encoding: chunked\r\n");
            } else {
                p->keep_alive = false;
            }
        }
    }
    if (str_ok(o->ctype, HDR_CTYPE_MAX)) {
        hdr_add(p, "Content-Type: %s\r\n", o->ctype);
    }
    if (gz) {
        hdr_add(p, "Content-Encoding: gzip\r\n");
    } else if (str_ok(o->content_encoding, HDR_SHORT_MAX)) {
        hdr_add(p, "Content-Encoding: %s\r\n", o->content_encoding);
    }
    if (!gz) {
        hdr_add(p, "Accept-Ranges: bytes\r\n");
    }
}

/* Another status from the origin: passed through whole, with its Location (redirects, 201) as
 * the origin wrote it. */
static void hdr_passthrough(const edge_req_t *req, const edge_config_t *cfg,
                            const edge_obj_view_t *o, edge_plan_t *p, int64_t total)
{
    hdr_begin(req, cfg, p, o->status >= 100 && o->status <= 599 ? o->status : 502);
    p->off = 0;
    p->end = total;
    if (total >= 0) {
        hdr_add(p, "Content-Length: %lld\r\n", (long long)total);
    } else if (req->http_minor >= 1 && req->method != HTTP_HEAD) {
        p->chunked = true;
        hdr_add(p, "Transfer-Encoding: chunked\r\n");
    } else {
        p->keep_alive = false;
    }
    if (str_ok(o->ctype, HDR_CTYPE_MAX)) {
        hdr_add(p, "Content-Type: %s\r\n", o->ctype);
    }
    if (str_ok(o->location, HDR_LOCATION_MAX)) {
        hdr_add(p, "Location: %s\r\n", o->location);
    }
}

static void hdr_cache_status(edge_plan_t *p, const edge_obj_view_t *o, uint64_t now_ms)
{
    uint64_t age_ms = view_age_ms(o, now_ms);
    long long ttl = ((long long)o->ttl_ms - (long long)age_ms) / 1000;
    const char *stored = o->stored ? "; stored" : "";
    hdr_add(p, "Age: %llu\r\n", (unsigned long long)(age_ms / 1000));
    switch (o->cs) {
    case EDGE_CS_HIT:
        hdr_add(p, "Cache-Status: segment-edge; hit; ttl=%lld%s\r\n", ttl,
                o->from_disk ? "; detail=disk" : "");
        break;
    case EDGE_CS_STALE:
        hdr_add(p, "Cache-Status: segment-edge; hit; ttl=%lld; detail=stale-while-revalidate\r\n",
                ttl);
        break;
    case EDGE_CS_STALE_ERROR:
        hdr_add(p,
                "Cache-Status: segment-edge; fwd=stale; fwd-status=%d; ttl=%lld; "
                "detail=stale-if-error\r\n",
                o->fwd_status, ttl);
        break;
    case EDGE_CS_REVALIDATED:
        hdr_add(p, "Cache-Status: segment-edge; fwd=stale; fwd-status=304; ttl=%lld%s\r\n", ttl,
                stored);
        break;
    case EDGE_CS_REFRESHED:
        hdr_add(p, "Cache-Status: segment-edge; fwd=stale; fwd-status=%d%s\r\n", o->status, stored);
        break;
    case EDGE_CS_COLLAPSED:
        hdr_add(p, "Cache-Status: segment-edge; fwd=miss; fwd-status=%d; collapsed%s\r\n",
                o->status, stored);
        break;
    default:
        hdr_add(p, "Cache-Status: segment-edge; fwd=miss; fwd-status=%d%s\r\n", o->status, stored);
        break;
    }
}

static void respond_object(const edge_req_t *req, const edge_obj_view_t *o, uint64_t now_ms,
                           const edge_config_t *cfg, edge_plan_t *out)
{
    if (o->cached && o->cs == EDGE_CS_ERROR) {
        /* a revalidation failed past stale-if-error */
        edge_respond_error(req, o->fwd_status >= 500 ? o->fwd_status : 502, o->fwd_status, cfg,
                           out);
        out->cs = EDGE_CS_ERROR;
        return;
    }
    if (o->state == EDGE_VIEW_PENDING) {
        out->action = EDGE_PLAN_WAIT;
        out->cs = o->cs;
        return;
    }
    if (o->state == EDGE_VIEW_FAILED) {
        edge_respond_error(req, o->fail_status ? o->fail_status : 502, 0, cfg, out);
        out->cs = o->cs == EDGE_CS_MISS || o->cs == EDGE_CS_COLLAPSED ? EDGE_CS_ERROR : o->cs;
        return;
    }
    bool complete = o->state == EDGE_VIEW_COMPLETE;
    int64_t total = o->length;
    bool want_gz = edge_want_gzip(req, o->kind, o->status, o->content_encoding);
    if (!complete && !o->passthrough && (want_gz || (req->range.p && total < 0))) {
        out->action = EDGE_PLAN_WAIT; /* the whole body is needed first */
        out->cs = o->cs;
        return;
    }
    bool gz = want_gz && o->has_gz;
    char etag_buf[VARIANT_ETAG_MAX];
    const char *etag = variant_etag(o, gz, etag_buf);
    if (o->status == 200) {
        hdr_representation(req, cfg, o, out, gz ? (int64_t)o->gz_len : total, gz, etag);
    } else {
        hdr_passthrough(req, cfg, o, out, total);
    }
    if (is_playlist(o->kind) && o->status == 200) {
        hdr_add(out, "Vary: Accept-Encoding\r\n");
    }
    if (out->status == 200 || out->status == 206 || out->status == 304) {
        hdr_validators(out, o, etag);
    }
    if (o->cached) {
        if (str_ok(o->cache_control, HDR_VAL_MAX)) {
            hdr_add(out, "Cache-Control: %s\r\n", o->cache_control);
        }
        hdr_cache_status(out, o, now_ms);
    }
    out->cs = o->cs;
    out->fwd_status = o->fwd_status;
    out->body = gz ? EDGE_BODY_GZIP : EDGE_BODY_IDENTITY;
    if (req->method == HTTP_HEAD || out->status == 304 || out->status == 416) {
        out->end = (int64_t)out->off;
        out->chunked = false;
        out->body = EDGE_BODY_NONE;
    }
    hdr_end(out);
}

void edge_respond(const edge_req_t *req, const edge_obj_view_t *obj, uint64_t now_ms,
                  const edge_config_t *cfg, edge_plan_t *out)
{
    plan_reset(out);
    if (req->method == HTTP_OPTIONS) {
        respond_options(req, cfg, out);
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        edge_respond_error(req, edge_method_allowed(req->method, cfg->root[0] != '\0') ? 500 : 405,
                           0, cfg, out);
        return;
    }
    if (!obj) {
        edge_respond_error(req, 404, 0, cfg, out);
        return;
    }
    respond_object(req, obj, now_ms, cfg, out);
}
