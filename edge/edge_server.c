/* edge_server.c: client connections: HTTP/1.1 serving in origin mode (files, PUT/DELETE) and edge
 * mode (cache). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "edge_internal.h"
#include "log.h"

#define CONN_RBUF   16384
#define CONN_HDR    8192
#define MAX_BUFS    64
#define PATH_CAP    4096
#define HDR_VAL_MAX 1024

enum { C_READING = 0, C_RESPONDING, C_CLOSING };
enum { SRC_NONE = 0, SRC_STATIC, SRC_OBJ };
enum {
    CS_NONE = 0,
    CS_HIT,
    CS_MISS,
    CS_COLLAPSED,
    CS_STALE,
    CS_STALE_ERROR,
    CS_REVALIDATED,
    CS_REFRESHED,
    CS_ERROR,
};
static const char *const cs_words[] = {"-",     "HIT",         "MISS",      "COLLAPSED", "STALE",
                                       "STALE", "REVALIDATED", "REFRESHED", "ERROR"};

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wreq;
    edge_worker_t *w;
    edge_list_t link;
    edge_list_t wait;
    edge_http_parser_t parser;
    char *arena;
    char rbuf[CONN_RBUF];
    size_t rlen;
    int state;
    int open_handles;
    bool writing;
    bool keep_alive;
    bool req_started;
    struct sockaddr_storage peer;
    char peer_str[64];
    /* request */
    int method;
    char path[PATH_CAP];
    size_t path_len;
    const char *query; /* raw, inside the parser arena; for the access log */
    size_t qlen;
    char key[PATH_CAP + 512];
    size_t key_len;
    uint64_t t_start;
    /* response */
    int status;
    int cs;
    int fwd_status;
    uint64_t bytes_out;
    uint64_t body_out;
    char hdr[CONN_HDR];
    size_t hdr_len;
    size_t hdr_sent;
    bool head_ready;
    bool head_only;
    int src;
    /* SRC_STATIC: a memory body (generated, gzip or a mapped file) */
    char *sbuf;
    size_t slen;
    size_t soff;
    bool sbuf_free;
    void *map;
    size_t map_len;
    int file_fd;          /* the mapped file, for sendfile */
    edge_obj_reader_t rd; /* reading obj's body (pass-through window contract) */
    /* SRC_OBJ */
    edge_obj_t *obj;
    bool wait_refresh;
    bool from_disk;
    unsigned gen_seen;
    bool use_gz;
    bool chunked_out;
    bool last_chunk_sent;
    uint64_t off;
    int64_t end; /* -1: until the object completes */
    char chunk_hdr[24];
    double origin_ms;
    size_t write_len;
    /* PUT */
    int put_fd;
    bool put_existed;
    char put_tmp[PATH_CAP + 64];
    char put_final[PATH_CAP + 1100];
    uint64_t put_bytes;
    int put_err;
} conn_t;

static void conn_pump(conn_t *c);
static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_parse(conn_t *c);
static void conn_close(conn_t *c);
static void conn_throttle_resume(uv_timer_t *t);

uint64_t edge_now_ms(void)
{
    return uv_hrtime() / 1000000;
}

const char *edge_worker_date(edge_worker_t *w)
{
    time_t now = time(NULL);
    if (now != w->date_t) {
        w->date_t = now;
        edge_http_date_format(now, w->date);
    }
    return w->date;
}

void edge_worker_wake_obj(edge_server_t *srv, edge_obj_t *o)
{
    uint32_t mask = __atomic_load_n(&o->waiter_mask, __ATOMIC_SEQ_CST);
    for (unsigned i = 0; mask && i < srv->n_workers; i++) {
        if (mask & (1u << i)) {
            uv_async_send(&srv->workers[i].wake);
        }
    }
}

static const char *status_text(int st)
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

/* ---- header building ---- */

static void hdr_add(conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void hdr_add(conn_t *c, const char *fmt, ...)
{
    if (c->hdr_len >= sizeof(c->hdr)) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->hdr + c->hdr_len, sizeof(c->hdr) - c->hdr_len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        c->hdr_len += (size_t)n;
        if (c->hdr_len > sizeof(c->hdr)) {
            c->hdr_len = sizeof(c->hdr);
        }
    }
}

static void hdr_begin(conn_t *c, int status)
{
    c->status = status;
    c->hdr_len = 0;
    c->hdr_sent = 0;
    hdr_add(c, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: segment-edge\r\n", status,
            status_text(status), edge_worker_date(c->w));
    const edge_config_t *cfg = c->w->srv->cfg;
    if (cfg->cors_allow_origin[0]) {
        hdr_add(c,
                "Access-Control-Allow-Origin: %s\r\n"
                "Access-Control-Expose-Headers: Content-Length, Content-Range, Accept-Ranges, "
                "Age, Cache-Status, ETag, Last-Modified, Date\r\n",
                cfg->cors_allow_origin);
    }
}

static void hdr_end(conn_t *c)
{
    if (c->w->closing || __atomic_load_n(&c->w->srv->draining, __ATOMIC_RELAXED) > 1) {
        c->keep_alive = false;
    }
    hdr_add(c, "Connection: %s\r\n\r\n", c->keep_alive ? "keep-alive" : "close");
    if (c->hdr_len >= sizeof(c->hdr)) {
        /* Cannot happen with the value caps; fail safe rather than send a cut head. */
        c->hdr_len = 0;
        hdr_add(c, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                   "Connection: close\r\n\r\n");
        c->keep_alive = false;
        c->status = 500;
        c->slen = 0;
    }
    c->head_ready = true;
}

static void conn_static_free(conn_t *c)
{
    if (c->sbuf_free) {
        free(c->sbuf);
    }
    if (c->map) {
        munmap(c->map, c->map_len);
    }
    if (c->file_fd >= 0) {
        close(c->file_fd);
        c->file_fd = -1;
    }
    c->sbuf = NULL;
    c->sbuf_free = false;
    c->map = NULL;
    c->slen = c->soff = 0;
}

/* A complete response with a small generated body. */
static void respond_simple(conn_t *c, int status, const char *ctype, const char *body, size_t len,
                           const char *extra)
{
    conn_static_free(c);
    hdr_begin(c, status);
    if (extra) {
        hdr_add(c, "%s", extra);
    }
    if (c->src == SRC_OBJ || c->cs != CS_NONE) {
        /* an edge error: say what the cache did */
        if (c->fwd_status) {
            hdr_add(c, "Cache-Status: segment-edge; fwd=miss; fwd-status=%d\r\n", c->fwd_status);
        }
    }
    hdr_add(c, "Content-Type: %s\r\nContent-Length: %zu\r\nCache-Control: no-store\r\n", ctype,
            len);
    c->src = SRC_STATIC;
    c->sbuf = malloc(len ? len : 1);
    if (c->sbuf) {
        memcpy(c->sbuf, body, len);
        c->sbuf_free = true;
        c->slen = len;
    }
    hdr_end(c);
}

static void respond_error(conn_t *c, int status)
{
    char body[96];
    int n = snprintf(body, sizeof(body), "%d %s\n", status, status_text(status));
    const char *extra = NULL;
    if (status == 405) {
        extra = c->w->srv->origin_mode ? "Allow: GET, HEAD, OPTIONS, PUT, DELETE\r\n"
                                       : "Allow: GET, HEAD, OPTIONS\r\n";
    }
    respond_simple(c, status, "text/plain; charset=utf-8", body, (size_t)n, extra);
}

/* ---- connection plumbing ---- */

static void conn_on_close(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0) {
        return;
    }
    edge_worker_t *w = c->w;
    free(c->arena);
    free(c);
    w->n_conns--;
    STAT_ADD(w->st.conns_active, (uint64_t)-1);
}

static void conn_put_abort(conn_t *c)
{
    if (c->put_fd >= 0) {
        close(c->put_fd);
        unlink(c->put_tmp);
        c->put_fd = -1;
    }
}

static void conn_close(conn_t *c)
{
    if (c->state == C_CLOSING) {
        return;
    }
    c->state = C_CLOSING;
    edge_list_del(&c->link);
    if (edge_list_linked(&c->wait)) {
        edge_list_del(&c->wait);
    }
    conn_put_abort(c);
    conn_static_free(c);
    edge_obj_reader_detach(&c->rd);
    edge_obj_unref(c->obj);
    c->obj = NULL;
    uv_close((uv_handle_t *)&c->timer, conn_on_close);
    uv_close((uv_handle_t *)&c->tcp, conn_on_close);
}

static void conn_on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->state == C_READING && c->req_started) {
        log_debug("%s: header read timeout", c->peer_str);
    }
    conn_close(c);
}

static void conn_timer(conn_t *c, uint64_t ms)
{
    if (ms) {
        uv_timer_start(&c->timer, conn_on_timeout, ms, 0);
    } else {
        uv_timer_stop(&c->timer);
    }
}

static void conn_access_log(conn_t *c)
{
    edge_worker_t *w = c->w;
    STAT_ADD(w->st.requests, 1);
    if (c->status >= 100 && c->status < 600) {
        STAT_ADD(w->st.status[c->status / 100], 1);
    }
    STAT_ADD(w->st.body_bytes_total, c->body_out);
    switch (c->cs) {
    case CS_HIT:
        STAT_ADD(w->st.hits, 1);
        break;
    case CS_COLLAPSED:
        STAT_ADD(w->st.collapsed, 1);
        break;
    case CS_STALE:
    case CS_STALE_ERROR:
        STAT_ADD(w->st.stale, 1);
        break;
    case CS_MISS:
    case CS_REFRESHED:
        STAT_ADD(w->st.misses, 1);
        break;
    default:
        break;
    }
    if (c->cs == CS_HIT || c->cs == CS_COLLAPSED || c->cs == CS_STALE || c->cs == CS_STALE_ERROR ||
        c->cs == CS_REVALIDATED) {
        STAT_ADD(w->st.body_bytes_cache, c->body_out);
    }
    if (!w->srv->cfg->access_log) {
        return;
    }
    double dur = (double)(uv_hrtime() - c->t_start) / 1e6;
    log_info("access %s \"%s %s%s%.*s\" %d %llu %.3fms cache=%s origin_ms=%.1f", c->peer_str,
             llhttp_method_name((llhttp_method_t)c->method), c->path[0] ? c->path : "-",
             c->qlen ? "?" : "", c->qlen < 512 ? (int)c->qlen : 512, c->query ? c->query : "",
             c->status, (unsigned long long)c->bytes_out, dur, cs_words[c->cs], c->origin_ms);
}

static void conn_reset_request(conn_t *c)
{
    conn_static_free(c);
    if (edge_list_linked(&c->wait)) {
        edge_list_del(&c->wait);
    }
    edge_obj_reader_detach(&c->rd);
    edge_obj_unref(c->obj);
    c->obj = NULL;
    c->src = SRC_NONE;
    c->cs = CS_NONE;
    c->fwd_status = 0;
    c->status = 0;
    c->bytes_out = c->body_out = 0;
    c->hdr_len = c->hdr_sent = 0;
    c->head_ready = c->head_only = false;
    c->wait_refresh = c->use_gz = c->chunked_out = c->last_chunk_sent = false;
    c->from_disk = false;
    c->off = 0;
    c->end = 0;
    c->origin_ms = 0;
    c->path[0] = '\0';
    c->path_len = 0;
    c->query = NULL;
    c->qlen = 0;
    c->req_started = false;
    c->put_bytes = 0;
    c->put_err = 0;
}

static void conn_response_done(conn_t *c)
{
    conn_access_log(c);
    bool keep = c->keep_alive && !c->w->closing;
    conn_reset_request(c);
    if (!keep) {
        conn_close(c);
        return;
    }
    edge_http_parser_next(&c->parser);
    c->state = C_READING;
    conn_timer(c, c->w->srv->cfg->idle_timeout);
    conn_parse(c);
    if (c->state == C_READING) {
        uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_on_read);
    }
}

static void conn_on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    c->writing = false;
    if (c->state == C_CLOSING) {
        return;
    }
    if (status < 0) {
        conn_close(c);
        return;
    }
    size_t n = c->write_len;
    STAT_ADD(c->w->st.bytes_out, n);
    c->bytes_out += n;
    conn_timer(c, 0);
    if (c->w->srv->cfg->throttle && c->src == SRC_STATIC && c->soff < c->slen && !c->head_only) {
        /* test aid: pace the body at about throttle bytes/s, one slice per 100 ms */
        uv_timer_start(&c->timer, conn_throttle_resume, 100, 0);
        return;
    }
    conn_pump(c);
}

static void conn_throttle_resume(uv_timer_t *t)
{
    conn_t *c = t->data;
    conn_pump(c);
}

static int conn_write(conn_t *c, uv_buf_t *bufs, unsigned n)
{
    size_t total = 0;
    for (unsigned i = 0; i < n; i++) {
        total += bufs[i].len;
    }
    c->write_len = total;
    c->writing = true;
    c->wreq.data = c;
    int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, n, conn_on_write);
    if (rc != 0) {
        c->writing = false;
        conn_close(c);
        return rc;
    }
    conn_timer(c, c->w->srv->cfg->send_timeout);
    return 0;
}

/* ---- edge mode: decide the head for an object ---- */

enum { PREP_BLOCKED = 0, PREP_READY = 1 };

static const char *req_header(conn_t *c, const char *name, size_t *len)
{
    return edge_http_msg_header(&c->parser.msg, name, len);
}

static bool accepts_gzip(conn_t *c)
{
    size_t l = 0;
    const char *v = req_header(c, "accept-encoding", &l);
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

/* Conditional GET: should we answer 304? */
static bool not_modified(conn_t *c, const char *etag, const char *last_modified, time_t lm)
{
    size_t l = 0;
    const char *inm = req_header(c, "if-none-match", &l);
    if (inm) {
        return etag && edge_etag_list_match(inm, l, etag, strlen(etag));
    }
    const char *ims = req_header(c, "if-modified-since", &l);
    if (ims && (last_modified || lm)) {
        time_t t = 0;
        time_t have = lm;
        if (last_modified && edge_http_date_parse(last_modified, strlen(last_modified), &have)) {
            return false;
        }
        if (edge_http_date_parse(ims, l, &t) == 0 && have <= t) {
            return true;
        }
    }
    return false;
}

/* If-Range: the range applies only when the validator matches (strong ETag or exact date). */
static bool if_range_ok(conn_t *c, const char *etag, const char *last_modified)
{
    size_t l = 0;
    const char *v = req_header(c, "if-range", &l);
    if (!v) {
        return true;
    }
    if (l > 0 && (v[0] == '"' || v[0] == 'W')) {
        return etag && etag[0] == '"' && v[0] == '"' && strlen(etag) == l &&
               memcmp(etag, v, l) == 0;
    }
    return last_modified && strlen(last_modified) == l && memcmp(last_modified, v, l) == 0;
}

static void hdr_validators(conn_t *c, const char *etag, const char *last_modified,
                           const char *suffix)
{
    if (etag && strlen(etag) < HDR_VAL_MAX) {
        size_t el = strlen(etag);
        if (suffix && el >= 2 && etag[el - 1] == '"') {
            hdr_add(c, "ETag: %.*s%s\"\r\n", (int)(el - 1), etag, suffix);
        } else {
            hdr_add(c, "ETag: %s\r\n", etag);
        }
    }
    if (last_modified && strlen(last_modified) < 64) {
        hdr_add(c, "Last-Modified: %s\r\n", last_modified);
    }
}

/* Build the head for body bytes [first, last] of a representation of total bytes (or the whole
 * of it); sets c->off/c->end. Used by both modes. */
static void hdr_representation(conn_t *c, int64_t total, bool allow_range, const char *etag,
                               const char *last_modified, time_t lm, const char *ctype,
                               const char *cenc, bool gz)
{
    if (not_modified(c, etag, last_modified, lm)) {
        hdr_begin(c, 304);
        c->off = 0;
        c->end = 0;
        return;
    }
    size_t rl = 0;
    const char *range = req_header(c, "range", &rl);
    uint64_t first = 0;
    uint64_t last = 0;
    int r = 0;
    if (range && allow_range && total >= 0 && !gz && if_range_ok(c, etag, last_modified)) {
        r = edge_range_parse(range, rl, (uint64_t)total, &first, &last);
    }
    if (r < 0) {
        hdr_begin(c, 416);
        hdr_add(c, "Content-Range: bytes */%lld\r\nContent-Length: 0\r\n", (long long)total);
        c->off = 0;
        c->end = 0;
        return;
    }
    if (r > 0) {
        hdr_begin(c, 206);
        hdr_add(c, "Content-Range: bytes %llu-%llu/%lld\r\nContent-Length: %llu\r\n",
                (unsigned long long)first, (unsigned long long)last, (long long)total,
                (unsigned long long)(last - first + 1));
        c->off = first;
        c->end = (int64_t)last + 1;
    } else {
        hdr_begin(c, 200);
        c->off = 0;
        c->end = total;
        if (total >= 0) {
            hdr_add(c, "Content-Length: %lld\r\n", (long long)total);
        } else if (!c->head_only) {
            c->chunked_out = c->parser.msg.http_minor >= 1;
            if (c->chunked_out) {
                hdr_add(c, "Transfer-Encoding: chunked\r\n");
            } else {
                c->keep_alive = false;
            }
        }
    }
    if (ctype && strlen(ctype) < 256) {
        hdr_add(c, "Content-Type: %s\r\n", ctype);
    }
    if (gz) {
        hdr_add(c, "Content-Encoding: gzip\r\n");
    } else if (cenc && strlen(cenc) < 64) {
        hdr_add(c, "Content-Encoding: %s\r\n", cenc);
    }
    if (allow_range) {
        hdr_add(c, "Accept-Ranges: bytes\r\n");
    }
}

/* Attach c as a reader of c->obj's body (see edge_internal.h). */
static int conn_obj_attach(conn_t *c)
{
    uv_os_fd_t fd = -1;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) {
        fd = -1;
    }
    return edge_obj_reader_attach(c->obj, &c->rd, fd);
}

static int conn_obj_prepare(conn_t *c)
{
    edge_server_t *srv = c->w->srv;
    edge_cache_t *cache = &srv->cache;
    for (;;) {
        edge_obj_t *o = c->obj;
        if (c->wait_refresh) {
            edge_cache_lock(cache);
            unsigned gen = __atomic_load_n(&o->refresh_gen, __ATOMIC_SEQ_CST);
            if (gen == c->gen_seen) {
                edge_cache_unlock(cache);
                return PREP_BLOCKED;
            }
            c->wait_refresh = false;
            int res = o->refresh_result;
            if (res == EDGE_REFRESH_REPLACED && o->replaced_by) {
                c->obj = edge_obj_ref(o->replaced_by);
                c->cs = CS_REFRESHED;
                c->fwd_status = o->refresh_status;
                edge_cache_unlock(cache);
                edge_obj_reader_detach(&c->rd);
                edge_obj_unref(o);
                if (conn_obj_attach(c) != 0) {
                    respond_error(c, 503); /* its start already left the pass-through window */
                    c->src = SRC_STATIC;
                    return PREP_READY;
                }
                if (edge_list_linked(&c->wait)) {
                    edge_list_del(&c->wait); /* re-register on the new object */
                }
                continue;
            }
            if (res == EDGE_REFRESH_FAILED) {
                uint64_t age = edge_now_ms() - o->resp_ms + (uint64_t)o->origin_age * 1000;
                c->fwd_status = o->refresh_status;
                if (age < o->ttl_ms + o->sie_ms) {
                    c->cs = CS_STALE_ERROR;
                } else {
                    edge_cache_unlock(cache);
                    c->cs = CS_ERROR;
                    respond_error(c, c->fwd_status >= 500 ? c->fwd_status : 502);
                    return PREP_READY;
                }
            } else {
                c->cs = CS_REVALIDATED;
                c->fwd_status = 304;
            }
            edge_cache_unlock(cache);
        }
        int st = edge_obj_state(o);
        if (st == EDGE_OBJ_PENDING) {
            return PREP_BLOCKED;
        }
        if (st == EDGE_OBJ_FAILED) {
            c->fwd_status = 0;
            if (c->cs == CS_MISS || c->cs == CS_COLLAPSED) {
                c->cs = CS_ERROR;
            }
            respond_error(c, o->fail_status ? o->fail_status : 502);
            c->src = SRC_STATIC;
            return PREP_READY;
        }
        bool complete = st == EDGE_OBJ_COMPLETE;
        int64_t total = complete ? (int64_t)edge_obj_filled(o) : o->clen;
        bool playlist = o->kind == EDGE_MEDIA_PLAYLIST || o->kind == EDGE_MEDIA_MANIFEST;
        bool want_gz = playlist && o->status == 200 && !o->content_encoding && accepts_gzip(c);
        size_t rl = 0;
        bool has_range = req_header(c, "range", &rl) != NULL;
        if (!complete && !edge_obj_passthrough(o) &&
            ((want_gz && !has_range) || (has_range && total < 0))) {
            return PREP_BLOCKED; /* need the whole body first */
        }
        bool gz = want_gz && !has_range && o->gz != NULL;
        if (o->status == 200) {
            hdr_representation(c, gz ? (int64_t)o->gz_len : total, !gz, o->etag, o->last_modified,
                               0, o->ctype, o->content_encoding, gz);
            if (gz) {
                c->use_gz = true;
            }
        } else {
            /* Other statuses pass through whole. */
            hdr_begin(c, o->status);
            c->off = 0;
            c->end = total;
            if (total >= 0) {
                hdr_add(c, "Content-Length: %lld\r\n", (long long)total);
            } else if (c->parser.msg.http_minor >= 1 && !c->head_only) {
                c->chunked_out = true;
                hdr_add(c, "Transfer-Encoding: chunked\r\n");
            } else {
                c->keep_alive = false;
            }
            if (o->ctype && strlen(o->ctype) < 256) {
                hdr_add(c, "Content-Type: %s\r\n", o->ctype);
            }
        }
        if (playlist && o->status == 200) {
            hdr_add(c, "Vary: Accept-Encoding\r\n");
        }
        if (c->status == 200 || c->status == 206 || c->status == 304) {
            hdr_validators(c, o->etag, o->last_modified, c->use_gz ? "-gz" : NULL);
        }
        if (o->cache_control && strlen(o->cache_control) < HDR_VAL_MAX) {
            hdr_add(c, "Cache-Control: %s\r\n", o->cache_control);
        }
        /* Age and Cache-Status (RFC 9211). */
        edge_cache_lock(cache);
        uint64_t now = edge_now_ms();
        uint64_t age_ms = now - o->resp_ms + (uint64_t)o->origin_age * 1000;
        long long ttl = ((long long)o->ttl_ms - (long long)age_ms) / 1000;
        bool stored = o->store;
        edge_cache_unlock(cache);
        hdr_add(c, "Age: %llu\r\n", (unsigned long long)(age_ms / 1000));
        switch (c->cs) {
        case CS_HIT:
            hdr_add(c, "Cache-Status: segment-edge; hit; ttl=%lld%s\r\n", ttl,
                    c->from_disk ? "; detail=disk" : "");
            break;
        case CS_STALE:
            hdr_add(c,
                    "Cache-Status: segment-edge; hit; ttl=%lld; detail=stale-while-revalidate\r\n",
                    ttl);
            break;
        case CS_STALE_ERROR:
            hdr_add(c,
                    "Cache-Status: segment-edge; fwd=stale; fwd-status=%d; ttl=%lld; "
                    "detail=stale-if-error\r\n",
                    c->fwd_status, ttl);
            break;
        case CS_REVALIDATED:
            hdr_add(c, "Cache-Status: segment-edge; fwd=stale; fwd-status=304; ttl=%lld%s\r\n", ttl,
                    stored ? "; stored" : "");
            break;
        case CS_REFRESHED:
            hdr_add(c, "Cache-Status: segment-edge; fwd=stale; fwd-status=%d%s\r\n", o->status,
                    stored ? "; stored" : "");
            break;
        case CS_COLLAPSED:
            hdr_add(c, "Cache-Status: segment-edge; fwd=miss; fwd-status=%d; collapsed%s\r\n",
                    o->status, stored ? "; stored" : "");
            break;
        default:
            hdr_add(c, "Cache-Status: segment-edge; fwd=miss; fwd-status=%d%s\r\n", o->status,
                    stored ? "; stored" : "");
            break;
        }
        c->origin_ms = (c->cs == CS_MISS || c->cs == CS_REFRESHED) ? o->origin_ms : 0;
        if (c->head_only || c->status == 304 || c->status == 416) {
            c->end = (int64_t)c->off;
            c->chunked_out = false;
        }
        hdr_end(c);
        return PREP_READY;
    }
}

/* ---- the pump: write whatever can be written now ---- */

static void conn_wait(conn_t *c)
{
    if (!edge_list_linked(&c->wait)) {
        edge_list_add(&c->w->waiting, &c->wait);
    }
    if (c->obj) {
        __atomic_fetch_or(&c->obj->waiter_mask, 1u << c->w->id, __ATOMIC_SEQ_CST);
    }
}

/* Body bytes [c->off or c->soff, end) from a file (memfd of a cached object, or the served file)
 * with sendfile: page references instead of copies. The head goes first with MSG_MORE. When the
 * socket is full, one copied piece is queued with uv_write so that its callback says when to go
 * on. Returns 0 to continue in conn_pump, 1 when a write is queued, -1 when closed. Only called
 * with libuv's write queue empty, so the order of bytes is kept. */
static int conn_sendfile(conn_t *c, int file_fd, const char *base, uint64_t *off, uint64_t end)
{
    uv_os_fd_t sock;
    if (uv_fileno((uv_handle_t *)&c->tcp, &sock) != 0) {
        return 0;
    }
    while (c->hdr_sent < c->hdr_len) {
        ssize_t n = send(sock, c->hdr + c->hdr_sent, c->hdr_len - c->hdr_sent,
                         MSG_DONTWAIT | MSG_NOSIGNAL | (*off < end ? MSG_MORE : 0));
        if (n > 0) {
            c->hdr_sent += (size_t)n;
            c->bytes_out += (uint64_t)n;
            STAT_ADD(c->w->st.bytes_out, (uint64_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uv_buf_t b = uv_buf_init(c->hdr + c->hdr_sent, (unsigned)(c->hdr_len - c->hdr_sent));
            c->hdr_sent = c->hdr_len;
            return conn_write(c, &b, 1) == 0 ? 1 : -1;
        }
        conn_close(c);
        return -1;
    }
    while (*off < end) {
        off_t fo = (off_t)*off;
        ssize_t n = sendfile(sock, file_fd, &fo, (size_t)(end - *off));
        if (n > 0) {
            *off += (uint64_t)n;
            c->body_out += (uint64_t)n;
            c->bytes_out += (uint64_t)n;
            STAT_ADD(c->w->st.bytes_out, (uint64_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uint64_t piece = end - *off < 16384 ? end - *off : 16384;
            uv_buf_t b = uv_buf_init((char *)base + *off, (unsigned)piece);
            *off += piece;
            c->body_out += piece;
            return conn_write(c, &b, 1) == 0 ? 1 : -1;
        }
        conn_close(c);
        return -1;
    }
    return 0;
}

static void conn_pump(conn_t *c)
{
    bool registered = false;
    while (c->state == C_RESPONDING && !c->writing) {
        if (!c->head_ready) {
            if (c->src != SRC_OBJ || conn_obj_prepare(c) == PREP_BLOCKED) {
                if (!registered) {
                    conn_wait(c);
                    registered = true;
                    continue; /* re-check once after registering: no lost wake-up */
                }
                return;
            }
        }
        if (c->src == SRC_OBJ && c->obj->fd >= 0 && !c->use_gz && !c->chunked_out &&
            !c->head_only) {
            uint64_t filled = edge_obj_filled(c->obj);
            uint64_t end = c->end >= 0 && (uint64_t)c->end < filled ? (uint64_t)c->end : filled;
            if (c->off < end && conn_sendfile(c, c->obj->fd, c->obj->map, &c->off, end) != 0) {
                return;
            }
        } else if (c->src == SRC_STATIC && c->file_fd >= 0 && !c->w->srv->cfg->throttle &&
                   !c->head_only && c->status != 304 && c->soff < c->slen) {
            uint64_t off = c->soff;
            int r = conn_sendfile(c, c->file_fd, c->sbuf, &off, c->slen);
            c->soff = (size_t)off;
            if (r != 0) {
                return;
            }
        }
        uv_buf_t bufs[MAX_BUFS + 3];
        unsigned n = 0;
        if (c->hdr_sent < c->hdr_len) {
            bufs[n++] = uv_buf_init(c->hdr + c->hdr_sent, (unsigned)(c->hdr_len - c->hdr_sent));
            c->hdr_sent = c->hdr_len;
        }
        bool done = false;
        if (c->src == SRC_STATIC || c->src == SRC_NONE || (c->src == SRC_OBJ && c->use_gz)) {
            const char *base = c->sbuf;
            size_t len = c->slen;
            if (c->src == SRC_OBJ) {
                base = c->obj->gz;
                len = (size_t)c->end;
            }
            size_t avail = len > c->soff ? len - c->soff : 0;
            if (c->head_only || c->status == 304) {
                avail = 0;
            }
            uint64_t thr = c->w->srv->cfg->throttle;
            if (thr && avail > thr / 10 + 1) {
                avail = thr / 10 + 1;
            }
            if (avail > 0) {
                bufs[n++] = uv_buf_init((char *)base + c->soff, (unsigned)avail);
                c->soff += avail;
                c->body_out += avail;
            }
            done = c->head_only || c->status == 304 || c->soff >= len;
        } else if (c->src == SRC_OBJ) {
            edge_obj_t *o = c->obj;
            int st = edge_obj_state(o);
            uint64_t filled = edge_obj_filled(o);
            uint64_t end = c->end >= 0 ? (uint64_t)c->end : filled;
            if (end > filled) {
                end = filled;
            }
            /* Also when nothing is there yet: the window learns where this reader is. */
            unsigned skip = c->chunked_out ? 1 : 0; /* room for the chunk size line */
            int k0 = edge_obj_read(o, &c->rd, c->off, c->off < end ? end : c->off, bufs + n + skip,
                                   MAX_BUFS - skip);
            if (k0 < 0) {
                /* Dropped a full window behind: its bytes are gone; the message is cut. */
                c->keep_alive = false;
                conn_access_log(c);
                conn_close(c);
                return;
            }
            if (c->off < end) {
                if (c->chunked_out) {
                    snprintf(c->chunk_hdr, sizeof(c->chunk_hdr), "%llx\r\n",
                             (unsigned long long)(end - c->off));
                    bufs[n++] = uv_buf_init(c->chunk_hdr, (unsigned)strlen(c->chunk_hdr));
                }
                unsigned k = (unsigned)k0;
                uint64_t got = 0;
                for (unsigned i = 0; i < k; i++) {
                    got += bufs[n + i].len;
                }
                n += k;
                if (c->chunked_out) {
                    if (got != end - c->off) {
                        /* chunk size must match: fall back to exactly what we have */
                        snprintf(c->chunk_hdr, sizeof(c->chunk_hdr), "%llx\r\n",
                                 (unsigned long long)got);
                    }
                    bufs[n++] = uv_buf_init("\r\n", 2);
                }
                c->off += got;
                c->body_out += got;
            }
            bool all = c->end >= 0 ? c->off >= (uint64_t)c->end
                                   : (st == EDGE_OBJ_COMPLETE && c->off >= filled);
            if (all && c->chunked_out && !c->last_chunk_sent) {
                bufs[n++] = uv_buf_init("0\r\n\r\n", 5);
                c->last_chunk_sent = true;
            }
            done = all;
            if (!all && n == 0) {
                if (st == EDGE_OBJ_FAILED) {
                    /* The origin broke off mid-body: the client must see a truncated message. */
                    c->keep_alive = false;
                    conn_access_log(c);
                    conn_close(c);
                    return;
                }
                if (!registered) {
                    conn_wait(c);
                    registered = true;
                    continue;
                }
                return;
            }
        }
        if (edge_list_linked(&c->wait)) {
            edge_list_del(&c->wait);
        }
        if (n > 0) {
            conn_write(c, bufs, n);
            return;
        }
        if (done) {
            conn_response_done(c);
        }
        return;
    }
}

static void worker_on_wake(uv_async_t *a)
{
    edge_worker_t *w = a->data;
    edge_list_t *it = w->waiting.next;
    while (it != &w->waiting) {
        edge_list_t *next = it->next;
        conn_t *c = EDGE_CONTAINER(it, conn_t, wait);
        conn_pump(c); /* touches only c's own link */
        it = next;
    }
}

/* ---- origin mode ---- */

static bool path_hidden(const char *path)
{
    /* No segment may start with '.': hides temp files and dot-directories. */
    for (const char *p = path; *p; p++) {
        if (*p == '/' && p[1] == '.') {
            return true;
        }
    }
    return false;
}

static int full_path(conn_t *c, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s%s", c->w->srv->cfg->root, c->path);
    return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

static void origin_get(conn_t *c)
{
    char fp[PATH_CAP + 1100];
    if (path_hidden(c->path) || full_path(c, fp, sizeof(fp)) != 0) {
        respond_error(c, 404);
        return;
    }
    int fd = open(fp, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        respond_error(c, errno == EACCES ? 403 : 404);
        return;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        respond_error(c, 404);
        return;
    }
    char etag[64];
    char lm[32];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)sb.st_mtim.tv_nsec);
    edge_http_date_format(sb.st_mtim.tv_sec, lm);
    const char *ctype = edge_content_type(c->path, c->path_len);
    edge_media_kind_t kind = edge_media_kind(c->path, c->path_len);
    bool playlist = kind == EDGE_MEDIA_PLAYLIST || kind == EDGE_MEDIA_MANIFEST;
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            respond_error(c, 500);
            return;
        }
    }
    size_t rl = 0;
    bool gz = playlist && size > 0 && size <= (1u << 20) && accepts_gzip(c) &&
              !req_header(c, "range", &rl);
    c->src = SRC_STATIC;
    if (gz) {
        uLongf cap = compressBound((uLong)size) + 32;
        char *dst = malloc(cap);
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        bool ok = dst && deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK;
        if (ok) {
            zs.next_in = map;
            zs.avail_in = (uInt)size;
            zs.next_out = (Bytef *)dst;
            zs.avail_out = (uInt)cap;
            ok = deflate(&zs, Z_FINISH) == Z_STREAM_END;
            deflateEnd(&zs);
        }
        munmap(map, size);
        close(fd);
        if (!ok) {
            free(dst);
            respond_error(c, 500);
            return;
        }
        c->sbuf = dst;
        c->sbuf_free = true;
        c->slen = zs.total_out;
    } else {
        c->map = map;
        c->map_len = size;
        c->sbuf = map;
        c->slen = size;
        c->file_fd = fd;
    }
    hdr_representation(c, (int64_t)c->slen, !gz, etag, lm, sb.st_mtim.tv_sec, ctype, NULL, gz);
    if (c->status == 200 || c->status == 206 || c->status == 304) {
        hdr_validators(c, etag, lm, gz ? "-gz" : NULL);
    }
    if (playlist) {
        hdr_add(c, "Vary: Accept-Encoding\r\n");
    }
    if (c->status == 206) {
        c->soff = c->off;
        c->slen = (size_t)c->end;
    } else if (c->status != 200) {
        c->soff = c->slen = 0;
    }
    hdr_end(c);
}

static int mkdirs_for(const char *file, size_t root_len)
{
    char tmp[PATH_CAP + 1100];
    snprintf(tmp, sizeof(tmp), "%s", file);
    for (char *p = tmp + root_len + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -errno;
            }
            *p = '/';
        }
    }
    return 0;
}

static int origin_put_begin(conn_t *c)
{
    static unsigned counter;
    if (path_hidden(c->path) || c->path[c->path_len - 1] == '/' || c->path_len < 2) {
        return 400;
    }
    if (full_path(c, c->put_final, sizeof(c->put_final)) != 0) {
        return 414;
    }
    const edge_config_t *cfg = c->w->srv->cfg;
    if (mkdirs_for(c->put_final, strlen(cfg->root)) != 0) {
        return 500;
    }
    struct stat sb;
    c->put_existed = stat(c->put_final, &sb) == 0;
    if (c->put_existed && !S_ISREG(sb.st_mode)) {
        return 409;
    }
    const char *slash = strrchr(c->put_final, '/');
    int n = snprintf(c->put_tmp, sizeof(c->put_tmp), "%.*s/.%s.tmp.%d.%u",
                     (int)(slash - c->put_final), c->put_final, slash + 1, (int)getpid(),
                     __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    if (n < 0 || (size_t)n >= sizeof(c->put_tmp)) {
        return 414;
    }
    c->put_fd = open(c->put_tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (c->put_fd < 0) {
        return 500;
    }
    return 0;
}

static int conn_on_body(void *ctx, const char *at, size_t len)
{
    conn_t *c = ctx;
    if (c->put_fd < 0) {
        return 0; /* bodies of other methods are read and dropped */
    }
    c->put_bytes += len;
    if (c->put_bytes > c->w->srv->cfg->max_upload) {
        c->parser.status_hint = 413;
        return -1;
    }
    while (len > 0) {
        ssize_t n = write(c->put_fd, at, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            c->parser.status_hint = 500;
            return -1;
        }
        at += n;
        len -= (size_t)n;
    }
    return 0;
}

static void origin_put_finish(conn_t *c)
{
    int fd = c->put_fd;
    c->put_fd = -1;
    if (close(fd) != 0 || rename(c->put_tmp, c->put_final) != 0) {
        unlink(c->put_tmp);
        respond_error(c, 500);
        return;
    }
    conn_static_free(c);
    c->src = SRC_STATIC;
    if (c->put_existed) {
        hdr_begin(c, 204); /* 204 carries no Content-Length */
    } else {
        hdr_begin(c, 201);
        hdr_add(c, "Content-Length: 0\r\n");
    }
    hdr_end(c);
}

static void origin_delete(conn_t *c)
{
    char fp[PATH_CAP + 1100];
    if (path_hidden(c->path) || full_path(c, fp, sizeof(fp)) != 0) {
        respond_error(c, 404);
        return;
    }
    struct stat sb;
    if (lstat(fp, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        respond_error(c, 404);
        return;
    }
    if (unlink(fp) != 0) {
        respond_error(c, 500);
        return;
    }
    hdr_begin(c, 204);
    c->src = SRC_STATIC;
    hdr_end(c);
}

/* ---- edge mode ---- */

static void edge_get(conn_t *c)
{
    edge_worker_t *w = c->w;
    edge_server_t *srv = w->srv;
    edge_cache_t *cache = &srv->cache;
    edge_obj_t *fetch_new = NULL;
    edge_obj_t *fetch_old = NULL;
    STAT_ADD(w->st.lookups, 1);
    c->src = SRC_OBJ;
    edge_cache_lock(cache);
    edge_obj_t *o = edge_cache_find_locked(cache, c->key, c->key_len);
    if (!o && cache->disk) {
        /* Memory miss: promote from the disk tier (file I/O outside the lock). */
        edge_cache_unlock(cache);
        edge_obj_t *d = edge_disk_promote(cache->disk, c->key, c->key_len);
        edge_cache_lock(cache);
        o = edge_cache_find_locked(cache, c->key, c->key_len);
        if (!o && d) {
            edge_cache_insert_locked(cache, d);
            o = d;
            c->from_disk = true;
        }
        edge_obj_unref(d); /* the table holds it now, or it lost the race */
    }
    if (o) {
        edge_cache_touch_locked(cache, o);
        int st = edge_obj_state(o);
        if (st == EDGE_OBJ_PENDING || st == EDGE_OBJ_STREAMING) {
            c->cs = CS_COLLAPSED;
        } else {
            uint64_t age = edge_now_ms() - o->resp_ms + (uint64_t)o->origin_age * 1000;
            if (age < o->ttl_ms) {
                c->cs = CS_HIT;
            } else if (age < o->ttl_ms + o->swr_ms) {
                c->cs = CS_STALE;
                if (!o->refreshing) {
                    o->refreshing = true;
                    fetch_old = o;
                }
            } else {
                c->wait_refresh = true;
                c->gen_seen = __atomic_load_n(&o->refresh_gen, __ATOMIC_SEQ_CST);
                if (!o->refreshing) {
                    o->refreshing = true;
                    fetch_old = o;
                }
            }
        }
        c->obj = edge_obj_ref(o);
    } else {
        o = edge_obj_new(c->key, c->key_len);
        if (o) {
            edge_cache_insert_locked(cache, o);
            c->obj = o; /* the creation reference */
            c->cs = CS_MISS;
            fetch_new = o;
        }
    }
    /* Under the cache lock: an object found in the table still has its whole body. */
    int attached = c->obj ? conn_obj_attach(c) : 0;
    edge_cache_unlock(cache);
    if (!c->obj || attached != 0) {
        respond_error(c, c->obj ? 503 : 500);
        return;
    }
    if (fetch_new) {
        edge_fetch_start(w, fetch_new, NULL);
    }
    if (fetch_old) {
        edge_fetch_start(w, NULL, fetch_old);
    }
}

/* ---- health and status ---- */

static bool edge_ready(edge_server_t *srv, const char **why)
{
    if (__atomic_load_n(&srv->draining, __ATOMIC_RELAXED)) {
        *why = "draining\n";
        return false;
    }
    if (srv->origin_mode) {
        *why = "ready\n";
        return true;
    }
    bool any_up = false;
    for (size_t i = 0; i < srv->cfg->n_origins; i++) {
        any_up = any_up || __atomic_load_n(&srv->origins[i].up, __ATOMIC_RELAXED);
    }
    edge_cache_lock(&srv->cache);
    size_t n = srv->cache.n_objects;
    edge_cache_unlock(&srv->cache);
    if (!any_up && n == 0) {
        *why = "origin unreachable and nothing cached\n";
        return false;
    }
    *why = "ready\n";
    return true;
}

static bool serve_internal(conn_t *c)
{
    edge_server_t *srv = c->w->srv;
    const char *p = c->path;
    if (strcmp(p, "/healthz") == 0) {
        respond_simple(c, 200, "text/plain; charset=utf-8", "ok\n", 3, NULL);
    } else if (strcmp(p, "/readyz") == 0) {
        const char *why = NULL;
        bool ok = edge_ready(srv, &why);
        respond_simple(c, ok ? 200 : 503, "text/plain; charset=utf-8", why, strlen(why), NULL);
    } else if (strcmp(p, "/status") == 0 || strcmp(p, "/metrics") == 0) {
        size_t len = 0;
        bool json = p[1] == 's';
        char *body = json ? edge_status_json(srv, &len) : edge_status_metrics(srv, &len);
        if (!body) {
            respond_error(c, 500);
        } else {
            respond_simple(c, 200,
                           json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8",
                           body, len, NULL);
            free(body);
        }
    } else {
        return false;
    }
    return true;
}

/* ---- request dispatch ---- */

static int conn_on_head(void *ctx, edge_http_msg_t *m)
{
    conn_t *c = ctx;
    edge_server_t *srv = c->w->srv;
    c->method = m->method;
    const char *q = NULL;
    size_t ql = 0;
    if (m->method == HTTP_OPTIONS && m->url_len == 1 && m->url[0] == '*') {
        snprintf(c->path, sizeof(c->path), "*");
        c->path_len = 1;
        return 0;
    }
    int pl = edge_path_normalize(m->url, m->url_len, c->path, sizeof(c->path), &q, &ql);
    if (pl < 0) {
        c->path[0] = '\0';
        return pl == -ENAMETOOLONG ? 414 : 400;
    }
    c->path_len = (size_t)pl;
    c->query = q;
    c->qlen = ql;
    switch (m->method) {
    case HTTP_GET:
    case HTTP_HEAD:
    case HTTP_OPTIONS:
        break;
    case HTTP_PUT:
    case HTTP_DELETE:
        if (!srv->origin_mode) {
            return 405;
        }
        if (!edge_cidr_match(srv->cfg->upload_allow, srv->cfg->n_upload_allow, &c->peer)) {
            return 403;
        }
        break;
    default:
        return 405;
    }
    if (m->method == HTTP_PUT) {
        if (m->content_length > 0 && (uint64_t)m->content_length > srv->cfg->max_upload) {
            return 413;
        }
        int st = origin_put_begin(c);
        if (st) {
            return st;
        }
        if (m->expect_continue) {
            static char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            uv_buf_t b = uv_buf_init(cont, sizeof(cont) - 1);
            uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        }
    }
    if (!srv->origin_mode) {
        int kl = edge_cache_key_build(c->path, c->path_len, q, ql, srv->cfg->keep_params, c->key,
                                      sizeof(c->key));
        if (kl < 0) {
            return 414;
        }
        c->key_len = (size_t)kl;
    }
    return 0;
}

static void conn_dispatch(conn_t *c)
{
    edge_server_t *srv = c->w->srv;
    edge_http_msg_t *m = &c->parser.msg;
    c->state = C_RESPONDING;
    c->keep_alive = m->keep_alive;
    c->head_only = m->method == HTTP_HEAD;
    conn_timer(c, 0);
    if (m->method == HTTP_OPTIONS) {
        size_t l = 0;
        const char *reqh = req_header(c, "access-control-request-headers", &l);
        char extra[1024];
        snprintf(extra, sizeof(extra),
                 "Access-Control-Allow-Methods: GET, HEAD, OPTIONS%s\r\n"
                 "Access-Control-Allow-Headers: %.*s\r\n"
                 "Access-Control-Max-Age: 86400\r\nAllow: GET, HEAD, OPTIONS%s\r\n",
                 srv->origin_mode ? ", PUT, DELETE" : "", reqh && l < 512 ? (int)l : 60,
                 reqh && l < 512 ? reqh : "Range, If-None-Match, If-Modified-Since, If-Range",
                 srv->origin_mode ? ", PUT, DELETE" : "");
        conn_static_free(c);
        hdr_begin(c, 204);
        hdr_add(c, "%s", extra);
        c->src = SRC_STATIC;
        hdr_end(c);
    } else if (m->method == HTTP_PUT) {
        origin_put_finish(c);
    } else if (m->method == HTTP_DELETE) {
        origin_delete(c);
    } else if (serve_internal(c)) {
        /* answered */
    } else if (srv->origin_mode) {
        origin_get(c);
    } else {
        edge_get(c);
    }
    conn_pump(c);
}

static void conn_reject(conn_t *c, int status)
{
    STAT_ADD(c->w->st.bad_requests, 1);
    conn_put_abort(c);
    c->state = C_RESPONDING;
    c->keep_alive = false;
    c->method = c->parser.msg.method;
    c->head_only = false;
    if (c->path[0] == '\0') {
        snprintf(c->path, sizeof(c->path), "-");
    }
    respond_error(c, status);
    conn_pump(c);
}

static void conn_parse(conn_t *c)
{
    while (c->state == C_READING && c->rlen > 0) {
        if (!c->req_started) {
            c->req_started = true;
            c->t_start = uv_hrtime();
            conn_timer(c, c->w->srv->cfg->header_read_timeout);
        }
        size_t used = 0;
        int rc = edge_http_parser_feed(&c->parser, c->rbuf, c->rlen, &used);
        if (rc < 0) {
            log_debug("%s: bad request: %s (%d)", c->peer_str,
                      c->parser.reason ? c->parser.reason : "?", c->parser.status_hint);
            c->rlen = 0;
            conn_reject(c, c->parser.status_hint ? c->parser.status_hint : 400);
            return;
        }
        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
        c->rlen -= used;
        if (rc == EDGE_HTTP_MESSAGE_DONE) {
            conn_dispatch(c);
            return;
        }
        if (c->parser.head_done) {
            /* reading a request body: the header timeout no longer applies */
            conn_timer(c, c->w->srv->cfg->idle_timeout);
        }
    }
}

static void conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(sizeof(c->rbuf) - c->rlen));
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (nread == 0 || c->state == C_CLOSING) {
        return;
    }
    if (nread < 0) {
        if (c->state == C_READING || nread != UV_EOF) {
            conn_close(c);
        } else {
            /* half-close while we answer: finish the response, then close */
            c->keep_alive = false;
            uv_read_stop(s);
        }
        return;
    }
    c->rlen += (size_t)nread;
    if (c->state != C_READING) {
        /* Pipelined bytes while answering: keep them, stop reading until done. */
        if (c->rlen >= sizeof(c->rbuf)) {
            uv_read_stop(s);
        }
        return;
    }
    conn_parse(c);
    if (c->state == C_READING) {
        uv_read_start(s, conn_alloc, conn_on_read);
    }
}

static void worker_on_accept(uv_stream_t *server, int status)
{
    edge_worker_t *w = server->data;
    if (status < 0 || w->closing) {
        return;
    }
    edge_server_t *srv = w->srv;
    uint32_t per_worker = srv->cfg->max_connections / srv->n_workers;
    if (per_worker == 0) {
        per_worker = 1;
    }
    conn_t *c = calloc(1, sizeof(*c));
    char *arena = malloc(srv->cfg->max_header_bytes);
    if (!c || !arena) {
        free(c);
        free(arena);
        return;
    }
    c->w = w;
    c->arena = arena;
    c->put_fd = -1;
    c->file_fd = -1;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    w->n_conns++;
    STAT_ADD(w->st.conns_active, 1);
    STAT_ADD(w->st.conns_total, 1);
    edge_list_add(&w->conns, &c->link);
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
    if (w->n_conns > per_worker) {
        STAT_ADD(w->st.conns_rejected, 1);
        conn_close(c);
        return;
    }
    int alen = sizeof(c->peer);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &alen) == 0) {
        if (c->peer.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&c->peer, c->peer_str, sizeof(c->peer_str));
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&c->peer, c->peer_str, sizeof(c->peer_str));
        }
    }
    uv_tcp_nodelay(&c->tcp, 1);
    edge_http_parser_init(&c->parser, false, c->arena, srv->cfg->max_header_bytes,
                          srv->cfg->max_uri);
    c->parser.head_cb = conn_on_head;
    c->parser.body_cb = conn_on_body;
    c->parser.cb_ctx = c;
    c->state = C_READING;
    conn_timer(c, srv->cfg->header_read_timeout);
    uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_on_read);
}

/* ---- workers ---- */

static int listener_open(edge_worker_t *w, const char *hostport, uv_tcp_t *t)
{
    char host[128];
    char port[8];
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (edge_hostport_split(hostport, host, sizeof(host), port, sizeof(port)) != 0) {
        return -EINVAL;
    }
    int rc = uv_ip4_addr(host, atoi(port), (struct sockaddr_in *)&ss);
    if (rc != 0) {
        rc = uv_ip6_addr(host, atoi(port), (struct sockaddr_in6 *)&ss);
    }
    if (rc != 0) {
        return rc;
    }
    /* libuv 1.44 has no reuseport flag: socket, setsockopt, bind, then uv_tcp_open. */
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    if (ss.ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    socklen_t sl =
        ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        rc = -errno;
        close(fd);
        return rc;
    }
    uv_tcp_init(&w->loop, t);
    t->data = w;
    rc = uv_tcp_open(t, fd);
    if (rc == 0) {
        rc = uv_listen((uv_stream_t *)t, 4096, worker_on_accept);
    }
    return rc;
}

static void worker_close_listeners(edge_worker_t *w)
{
    for (size_t i = 0; i < w->n_listeners; i++) {
        if (!uv_is_closing((uv_handle_t *)&w->listeners[i])) {
            uv_close((uv_handle_t *)&w->listeners[i], NULL);
        }
    }
}

static void worker_check_done(edge_worker_t *w)
{
    if (!w->closing || w->stopped || w->n_conns > 0) {
        return;
    }
    if (w->n_fetches > 0 && !__atomic_load_n(&w->srv->force_close, __ATOMIC_RELAXED)) {
        return;
    }
    w->stopped = true;
    edge_origin_pool_close(w);
    uv_close((uv_handle_t *)&w->wake, NULL);
    uv_close((uv_handle_t *)&w->ctl, NULL);
    uv_close((uv_handle_t *)&w->tick, NULL);
    __atomic_add_fetch(&w->srv->workers_done, 1, __ATOMIC_SEQ_CST);
    uv_async_send(w->srv->main_wake);
}

static void worker_on_ctl(uv_async_t *a)
{
    edge_worker_t *w = a->data;
    edge_server_t *srv = w->srv;
    if (w->stopped) {
        return;
    }
    if (!w->closing && __atomic_load_n(&srv->draining, __ATOMIC_SEQ_CST) >= 2) {
        w->closing = true;
        worker_close_listeners(w);
        edge_origin_pool_close(w);
        edge_list_t *it = w->conns.next;
        while (it != &w->conns) {
            edge_list_t *next = it->next;
            conn_t *c = EDGE_CONTAINER(it, conn_t, link);
            if (c->state == C_READING && !c->req_started) {
                conn_close(c); /* idle keep-alive connection */
            }
            it = next;
        }
    }
    if (__atomic_load_n(&srv->force_close, __ATOMIC_SEQ_CST)) {
        edge_list_t *it = w->conns.next;
        while (it != &w->conns) {
            edge_list_t *next = it->next;
            conn_close(EDGE_CONTAINER(it, conn_t, link));
            it = next;
        }
    }
    worker_check_done(w);
}

static void worker_on_tick(uv_timer_t *t)
{
    edge_worker_t *w = t->data;
    worker_check_done(w);
}

static void worker_thread(void *arg)
{
    edge_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
}

int edge_worker_init(edge_server_t *srv, edge_worker_t *w, unsigned id)
{
    memset(w, 0, sizeof(*w));
    w->srv = srv;
    w->id = id;
    int rc = uv_loop_init(&w->loop);
    if (rc) {
        return rc;
    }
    edge_list_init(&w->conns);
    edge_list_init(&w->waiting);
    for (unsigned i = 0; i < EDGE_MAX_ORIGINS; i++) {
        edge_list_init(&w->idle_origin[i]);
    }
    uv_async_init(&w->loop, &w->wake, worker_on_wake);
    uv_async_init(&w->loop, &w->ctl, worker_on_ctl);
    uv_timer_init(&w->loop, &w->tick);
    w->wake.data = w->ctl.data = w->tick.data = w;
    uv_timer_start(&w->tick, worker_on_tick, 100, 100);
    for (size_t i = 0; i < srv->cfg->n_listen; i++) {
        rc = listener_open(w, srv->cfg->listen[i], &w->listeners[i]);
        if (rc) {
            log_error("listen %s: %s", srv->cfg->listen[i], uv_strerror(rc));
            return rc;
        }
        w->n_listeners++;
    }
    return 0;
}

int edge_worker_start(edge_worker_t *w)
{
    return uv_thread_create(&w->thread, worker_thread, w);
}

void edge_worker_join(edge_worker_t *w)
{
    uv_thread_join(&w->thread);
    uv_run(&w->loop, UV_RUN_DEFAULT); /* run close callbacks */
    uv_loop_close(&w->loop);
}
