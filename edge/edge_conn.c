/* edge_conn.c: a client connection: reading and parsing requests, the timeouts of each phase,
 * dispatch to the handlers behind the request core, and the body pump. */
#include "edge_conn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_parse(conn_t *c);
static void conn_buf_idle_free(conn_t *c);

/* ---- lifecycle ---- */

/* One connection more (delta 1: accepted, counted in the total too) or less (-1) open on w, of
 * a status listener or not. */
static void conn_count(edge_worker_t *w, bool status_listener, int delta)
{
    uint64_t up = delta > 0 ? 1 : 0;
    if (status_listener) {
        w->n_status_conns += (size_t)delta;
        STAT_ADD(w->st.status_conns_active, (uint64_t)delta);
        STAT_ADD(w->st.status_conns_total, up);
    } else {
        w->n_conns += (size_t)delta;
        STAT_ADD(w->st.conns_active, (uint64_t)delta);
        STAT_ADD(w->st.conns_total, up);
    }
}

static void conn_on_close(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->open_handles > 0) {
        return;
    }
    conn_count(c->w, c->status_listener, -1);
    free(c->buf);
    free(c);
}

void edge_conn_body_free(conn_t *c)
{
    conn_body_t *b = &c->body;
    free(b->owned);
    if (b->map) {
        munmap(b->map, b->map_len);
    }
    if (b->file_fd >= 0) {
        close(b->file_fd);
    }
    edge_obj_reader_detach(&b->rd); /* before the socket closes and the reference goes */
    edge_obj_unref(b->obj);
    b->obj = NULL;
    b->owned = NULL;
    b->map = NULL;
    b->map_len = 0;
    b->file_fd = -1;
    b->fd = -1;
    b->base = NULL;
    b->src = SRC_NONE;
    b->off = 0;
    b->end = 0;
}

/* A request is in progress: its head was read (its body may still be arriving) or it is being
 * answered. A connection that sent nothing, or only part of a head, has none. */
static bool conn_in_request(const conn_t *c)
{
    return c->state == C_RESPONDING || (c->state == C_READING && c->req.head_seen);
}

void edge_conn_cut(conn_t *c, conn_cut_t why)
{
    if (c->state == C_CLOSING) {
        return;
    }
    if (conn_in_request(c) && !c->resp.logged) {
        if (__atomic_load_n(&c->body.rd.dropped, __ATOMIC_RELAXED)) {
            why = CUT_SLOW_READER;
        } else if (why == CUT_NONE) {
            why =
                __atomic_load_n(&c->w->srv->force_close, __ATOMIC_RELAXED) ? CUT_DRAIN : CUT_ERROR;
        }
        c->resp.cut = why;
        edge_conn_access_log(c); /* before the body is freed: a write may still be in flight */
    }
    if (c->state == C_LINGERING) {
        STAT_ADD(c->w->st.conns_lingering, (uint64_t)-1);
    }
    c->state = C_CLOSING;
    edge_list_del(&c->link);
    edge_list_del(&c->linger.link);
    if (edge_list_linked(&c->wait)) {
        edge_list_del(&c->wait);
    }
    edge_files_put_abort(c);
    edge_conn_body_free(c);
    uv_close((uv_handle_t *)&c->timer, conn_on_close);
    uv_close((uv_handle_t *)&c->tcp, conn_on_close);
}

void edge_conn_close(conn_t *c)
{
    edge_conn_cut(c, CUT_NONE);
}

bool edge_conn_idle(const conn_t *c)
{
    return c->state == C_READING && !c->req.started;
}

bool edge_conn_keepalive_idle(const conn_t *c)
{
    return edge_conn_idle(c) && c->served > 0;
}

/* Most recently active first: the worker closes the longest-idle one over the cap. */
static void conn_touch(conn_t *c)
{
    edge_list_del(&c->link);
    edge_list_add(&c->w->conns, &c->link);
}

/* ---- timeouts: one timer, armed for the phase ---- */

static void conn_on_timeout(uv_timer_t *t)
{
    conn_t *c = t->data;
    conn_cut_t why = CUT_NONE;
    if (c->state == C_READING && c->req.started) {
        log_debug("%s: %s read timeout", c->peer_str, c->parser.head_done ? "body" : "header");
        why = CUT_BODY_TIMEOUT; /* logged only when the head was read */
    } else if (c->state == C_RESPONDING) {
        /* Said, and the request's access line written with what was sent. */
        log_info("%s: send timeout: nothing sent for %llu ms, the response is cut", c->peer_str,
                 (unsigned long long)c->w->srv->cfg->send_timeout);
        why = CUT_SEND_TIMEOUT;
    }
    edge_conn_cut(c, why);
}

void edge_conn_timer(conn_t *c, int phase)
{
    const edge_config_t *cfg = c->w->srv->cfg;
    uint64_t ms = 0;
    switch (phase) {
    case T_IDLE:
        ms = cfg->idle_timeout;
        break;
    case T_HEAD:
        ms = cfg->header_read_timeout;
        break;
    case T_BODY:
        ms = cfg->body_timeout;
        break;
    case T_SEND:
        ms = cfg->send_timeout;
        break;
    default:
        break;
    }
    uv_timer_start(&c->timer, conn_on_timeout, ms ? ms : 1, 0);
}

void edge_conn_timer_stop(conn_t *c)
{
    uv_timer_stop(&c->timer);
}

/* ---- access log ---- */

/* len bytes of client input made safe for a log line: printable ASCII stays, '"', '\\' and every
 * other byte become \xHH, so nothing read can end the quoted field or the line. Stops before cap
 * would be exceeded; out is always terminated. */
static void log_escape(const char *in, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char ch = (unsigned char)in[i];
        if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') {
            out[o++] = (char)ch;
        } else {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

/* The logged target: the normalized path re-encoded as the cache key and the origin request
 * use it (RFC 3986: no space, quote, backslash or control byte is left), then the raw query,
 * escaped. */
#define LOG_QUERY_MAX 512
#define LOG_PATH_CAP  (CONN_PATH * 3 + 1)

static const char *const cut_words[] = {
    [CUT_NONE] = "",
    [CUT_CLIENT] = " cut=client",
    [CUT_SEND_TIMEOUT] = " cut=send_timeout",
    [CUT_BODY_TIMEOUT] = " cut=body_timeout",
    [CUT_SLOW_READER] = " cut=slow_reader",
    [CUT_ORIGIN] = " cut=origin",
    [CUT_DRAIN] = " cut=drain",
    [CUT_ERROR] = " cut=error",
};

/* Bytes of the response the socket took: the completed writes, and of the one in flight what
 * libuv has written so far (its queue holds only that write's rest). Of a write that failed,
 * libuv does not say how much went: nothing of it is counted. */
static uint64_t conn_bytes_written(const conn_t *c)
{
    uint64_t n = c->resp.bytes_out;
    if (c->writing) {
        size_t left = uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp);
        if (left < c->body.write_len) {
            n += c->body.write_len - left;
        }
    }
    return n;
}

void edge_conn_access_log(conn_t *c)
{
    edge_worker_t *w = c->w;
    if (c->resp.logged) {
        return;
    }
    c->resp.logged = true;
    uint64_t bytes = conn_bytes_written(c);
    int status = bytes > 0 ? c->resp.plan.status : 0; /* the status sent, if any */
    const char *cut = cut_words[c->resp.cut];
    uint64_t body = c->resp.body_out;
    if (c->resp.cut != CUT_NONE) {
        /* Queued is not sent: at most what the socket took after the head. */
        uint64_t after_head = bytes > c->resp.plan.hdr_len ? bytes - c->resp.plan.hdr_len : 0;
        body = body < after_head ? body : after_head;
    }
    edge_cs_t cs = c->body.cs;
    STAT_ADD(w->st.requests, 1);
    if (status >= 100 && status < 600) {
        STAT_ADD(w->st.status[status / 100], 1);
    }
    STAT_ADD(w->st.body_bytes_total, body);
    switch (cs) {
    case EDGE_CS_HIT:
        STAT_ADD(w->st.hits, 1);
        break;
    case EDGE_CS_COLLAPSED:
        STAT_ADD(w->st.collapsed, 1);
        break;
    case EDGE_CS_STALE:
    case EDGE_CS_STALE_ERROR:
        STAT_ADD(w->st.stale, 1);
        break;
    case EDGE_CS_MISS:
    case EDGE_CS_REFRESHED:
        STAT_ADD(w->st.misses, 1);
        break;
    default:
        break;
    }
    if (cs == EDGE_CS_HIT || cs == EDGE_CS_COLLAPSED || cs == EDGE_CS_STALE ||
        cs == EDGE_CS_STALE_ERROR || cs == EDGE_CS_REVALIDATED) {
        STAT_ADD(w->st.body_bytes_cache, body);
    }
    if (!w->srv->cfg->access_log) {
        return;
    }
    double dur = (double)(uv_hrtime() - c->req.t_start) / 1e6;
    if (!c->req.head_seen) {
        /* Rejected before the method and target were known: say what was read. */
        char raw[CONN_RAW * 4 + 1];
        log_escape(c->req.raw, c->req.raw_len, raw, sizeof(raw));
        log_info("access %s \"-\" - %d %llu %.3fms cache=- origin_ms=0.0 read=\"%s\"%s",
                 c->peer_str, status, (unsigned long long)bytes, dur, raw, cut);
        return;
    }
    char path[LOG_PATH_CAP];
    char query[LOG_QUERY_MAX * 4 + 1];
    if (!c->buf || !c->buf->path[0] ||
        edge_path_encode(c->buf->path, c->req.path_len, path, sizeof(path)) < 0) {
        snprintf(path, sizeof(path), "-");
    }
    log_escape(c->req.query ? c->req.query : "",
               c->req.qlen < LOG_QUERY_MAX ? c->req.qlen : LOG_QUERY_MAX, query, sizeof(query));
    log_info("access %s \"%s %s%s%s\" %d %llu %.3fms cache=%s origin_ms=%.1f%s", c->peer_str,
             llhttp_method_name((llhttp_method_t)c->req.method), path, c->req.qlen ? "?" : "",
             query, status, (unsigned long long)bytes, dur, edge_cs_word(cs), c->resp.origin_ms,
             cut);
}

/* ---- responses ---- */

static void conn_reset_request(conn_t *c)
{
    edge_conn_body_free(c);
    if (edge_list_linked(&c->wait)) {
        edge_list_del(&c->wait);
    }
    memset(&c->body, 0, sizeof(c->body));
    c->body.fd = c->body.file_fd = -1;
    c->resp.plan.status = 0;
    c->resp.plan.hdr_len = 0;
    c->resp.hdr_sent = 0;
    c->resp.head_ready = c->resp.head_only = false;
    c->resp.bytes_out = c->resp.body_out = 0;
    c->resp.origin_ms = 0;
    if (c->buf) {
        c->buf->path[0] = '\0';
    }
    c->req.path_len = 0;
    c->req.query = NULL;
    c->req.qlen = 0;
    c->req.started = false;
    c->req.head_seen = false;
    c->req.only_if_cached = false;
    c->req.raw_len = 0;
    c->up.bytes = 0;
}

void edge_conn_core_req(conn_t *c, edge_req_t *r)
{
    edge_req_from_msg(r, &c->parser.msg);
    r->method = c->req.method;
    r->date = edge_worker_date(c->w);
    r->closing = c->w->closing ||
                 __atomic_load_n(&c->w->srv->draining, __ATOMIC_RELAXED) >= EDGE_DRAIN_CLOSING;
}

void edge_conn_plan_ready(conn_t *c)
{
    edge_plan_t *p = &c->resp.plan;
    conn_body_t *b = &c->body;
    c->resp.hdr_sent = 0;
    c->resp.head_ready = true;
    b->chunked = p->chunked;
    b->off = p->off;
    b->end = p->end;
    if (p->body == EDGE_BODY_TEXT) {
        b->src = SRC_MEM;
        b->base = p->text;
        b->fd = -1;
    } else if (p->body == EDGE_BODY_NONE) {
        if (b->src == SRC_OBJ) {
            b->src = SRC_MEM; /* nothing to send (HEAD, 304, 416) */
        }
        b->base = NULL;
        b->fd = -1;
        b->off = 0;
        b->end = 0;
    }
}

static void conn_plan_init(conn_t *c)
{
    c->resp.plan.hdr = c->buf->hdr;
    c->resp.plan.hdr_cap = sizeof(c->buf->hdr);
}

void edge_conn_respond_error(conn_t *c, int status)
{
    edge_req_t r;
    edge_conn_core_req(c, &r);
    bool obj = c->body.src == SRC_OBJ || c->body.cs != EDGE_CS_NONE;
    edge_conn_body_free(c);
    conn_plan_init(c);
    edge_respond_error(&r, status, obj ? c->body.fwd_status : 0, c->w->srv->cfg, &c->resp.plan);
    edge_conn_plan_ready(c);
}

void edge_conn_respond_busy(conn_t *c)
{
    edge_req_t r;
    edge_conn_core_req(c, &r);
    edge_conn_body_free(c);
    conn_plan_init(c);
    edge_respond_busy(&r, c->w->srv->cfg, &c->resp.plan);
    edge_conn_plan_ready(c);
}

void edge_conn_respond_simple(conn_t *c, int status, const char *ctype, const char *body,
                              size_t len, const char *extra)
{
    edge_req_t r;
    edge_conn_core_req(c, &r);
    edge_conn_body_free(c);
    conn_plan_init(c);
    if (len > 0) {
        c->body.owned = malloc(len);
        if (!c->body.owned) {
            edge_conn_respond_error(c, 500);
            return;
        }
        memcpy(c->body.owned, body, len);
    }
    edge_respond_simple(&r, status, ctype, len, extra, c->w->srv->cfg, &c->resp.plan);
    edge_conn_plan_ready(c);
    if (len > 0 && c->resp.plan.body == EDGE_BODY_TEXT) {
        c->body.base = c->body.owned;
    }
}

void edge_conn_response_done(conn_t *c)
{
    edge_conn_access_log(c);
    c->served++;
    bool keep = c->resp.plan.keep_alive && !c->w->closing;
    conn_reset_request(c);
    if (!keep) {
        edge_conn_end(c);
        return;
    }
    edge_http_parser_next(&c->parser);
    c->state = C_READING;
    conn_touch(c);
    edge_conn_timer(c, T_IDLE);
    if (c->parsing) {
        /* Answered within conn_parse (a file sent whole at once): its loop goes on with the
         * next buffered request, so that pipelined requests do not nest a call per request. */
        return;
    }
    conn_parse(c);
    if (c->state == C_READING) {
        uv_read_start((uv_stream_t *)&c->tcp, edge_conn_alloc, conn_on_read);
    }
}

/* ---- requests ---- */

static int conn_on_body(void *ctx, const char *at, size_t len)
{
    return edge_files_put_body(ctx, at, len);
}

static int conn_on_head(void *ctx, edge_http_msg_t *m)
{
    conn_t *c = ctx;
    edge_server_t *srv = c->w->srv;
    c->req.method = m->method;
    c->req.head_seen = true;
    const char *q = NULL;
    size_t ql = 0;
    if (m->method == HTTP_OPTIONS && m->url_len == 1 && m->url[0] == '*') {
        snprintf(c->buf->path, sizeof(c->buf->path), "*");
        c->req.path_len = 1;
        return c->status_listener ? 404 : 0;
    }
    int pl = edge_path_normalize(m->url, m->url_len, c->buf->path, sizeof(c->buf->path), &q, &ql);
    if (pl < 0) {
        c->buf->path[0] = '\0';
        return pl == -ENAMETOOLONG ? 414 : 400;
    }
    c->req.path_len = (size_t)pl;
    c->req.query = q;
    c->req.qlen = ql;
    if (!edge_method_allowed(m->method, srv->origin_mode)) {
        return 405;
    }
    bool has_body = m->content_length > 0 || m->chunked;
    if (c->status_listener) {
        /* No upload and no cache key: conn_dispatch answers GET and HEAD of the status paths.
         * Anything else, and a request with a body, is answered at its head (the body dropped
         * by the lingering close), so that no client holds a slot of the small bound for
         * timeouts.body by sending a body slowly. */
        if (m->method != HTTP_GET && m->method != HTTP_HEAD) {
            return 404;
        }
        return has_body ? 413 : 0;
    }
    if (has_body && m->method != HTTP_PUT && m->method != HTTP_DELETE) {
        /* GET, HEAD and OPTIONS have no use for a body. Read and dropped, it held the
         * connection (outside the idle ones the connection cap may close) for timeouts.body,
         * 120 s by default against header_read's 10 s, at whatever size it claimed: answered at
         * its head instead, the body dropped by the lingering close within its bounds. */
        return 413;
    }
    if ((m->method == HTTP_PUT || m->method == HTTP_DELETE) &&
        !addr_net_list_match(srv->cfg->upload_allow, srv->cfg->n_upload_allow,
                             (const struct sockaddr *)&c->peer)) {
        return 403;
    }
    if (m->method == HTTP_PUT) {
        if (m->content_length > 0 && (uint64_t)m->content_length > srv->cfg->max_upload) {
            return 413;
        }
        int st = edge_files_put_begin(c);
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
        int kl = edge_cache_key_build(c->buf->path, c->req.path_len, q, ql, srv->cfg->keep_params,
                                      c->buf->key, sizeof(c->buf->key));
        if (kl < 0) {
            return 414;
        }
        c->req.key_len = (size_t)kl;
        size_t ccl;
        const char *cc = edge_http_msg_header(m, "cache-control", &ccl);
        if (cc) {
            edge_cc_t rcc;
            edge_cc_parse(cc, ccl, &rcc);
            c->req.only_if_cached = rcc.only_if_cached;
        }
    }
    return 0;
}

static void conn_dispatch(conn_t *c)
{
    edge_server_t *srv = c->w->srv;
    int method = c->req.method;
    c->state = C_RESPONDING;
    c->resp.head_only = method == HTTP_HEAD;
    edge_conn_timer_stop(c);
    conn_plan_init(c);
    if (c->status_listener) {
        if (!edge_status_serve(c)) { /* conn_on_head let only GET and HEAD through */
            edge_conn_respond_error(c, 404);
        }
    } else if (method == HTTP_PUT) {
        edge_files_put_finish(c);
    } else if (method == HTTP_DELETE) {
        edge_files_delete(c);
    } else if (method == HTTP_OPTIONS || !edge_status_serve(c)) {
        if (method == HTTP_OPTIONS) {
            edge_req_t r;
            edge_conn_core_req(c, &r);
            edge_respond(&r, NULL, edge_now_ms(), srv->cfg, &c->resp.plan);
            edge_conn_plan_ready(c);
        } else if (srv->origin_mode) {
            edge_files_get(c);
        } else {
            edge_cache_serve(c);
        }
    }
    edge_conn_pump(c);
}

static void conn_reject(conn_t *c, int status)
{
    STAT_ADD(c->w->st.bad_requests, 1);
    edge_files_put_abort(c);
    c->linger.refused = true; /* the rest of the request may still be on its way */
    c->state = C_RESPONDING;
    c->resp.head_only = false;
    edge_conn_timer_stop(c);
    c->parser.msg.keep_alive = false; /* the rest of the stream cannot be trusted */
    edge_conn_respond_error(c, status);
    edge_conn_pump(c);
}

/* Parse and answer the requests buffered in c while it reads. A response that ends at once
 * (edge_conn_response_done from within conn_dispatch) brings c back to C_READING and the loop
 * takes the next request: the stack stays flat however many requests are pipelined. */
static void conn_parse(conn_t *c)
{
    c->parsing = true;
    while (c->state == C_READING && c->rlen > 0) {
        if (!c->req.started) {
            c->req.started = true;
            c->req.t_start = uv_hrtime();
            c->resp.cut = CUT_NONE;
            c->resp.logged = false;
            size_t n = c->rlen < CONN_RAW ? c->rlen : CONN_RAW;
            memcpy(c->req.raw, c->buf->rbuf, n);
            c->req.raw_len = n;
            conn_touch(c);
            edge_conn_timer(c, T_HEAD); /* the whole head must arrive in time */
        }
        bool had_head = c->parser.head_done;
        size_t used = 0;
        int rc = edge_http_parser_feed(&c->parser, c->buf->rbuf, c->rlen, &used);
        if (rc < 0) {
            log_debug("%s: bad request: %s (%d)", c->peer_str,
                      c->parser.reason ? c->parser.reason : "?", c->parser.status_hint);
            c->rlen = 0;
            conn_reject(c, c->parser.status_hint ? c->parser.status_hint : 400);
            break;
        }
        memmove(c->buf->rbuf, c->buf->rbuf + used, c->rlen - used);
        c->rlen -= used;
        if (rc == EDGE_HTTP_MESSAGE_DONE) {
            conn_dispatch(c);
            continue;
        }
        if (c->parser.head_done && !had_head) {
            edge_conn_timer(c, T_BODY); /* the whole body must arrive in time: no trickle */
        }
    }
    c->parsing = false;
    conn_buf_idle_free(c);
}

/* Is c's response the body of an object still being filled (head or body to come)? */
static bool conn_on_fill(const conn_t *c)
{
    if (c->body.src != SRC_OBJ || !c->body.obj) {
        return false;
    }
    int st = edge_obj_state(c->body.obj);
    return st == EDGE_OBJ_PENDING || st == EDGE_OBJ_STREAMING;
}

/* c's request buffers, allocated if it has none (a request begins). Returns 0 or -ENOMEM. */
static int conn_buf_get(conn_t *c)
{
    if (c->buf) {
        return 0;
    }
    conn_buf_t *b = malloc(sizeof(*b) + c->w->srv->cfg->max_header_bytes);
    if (!b) {
        return -ENOMEM;
    }
    b->path[0] = '\0';
    c->buf = b;
    edge_http_parser_set_arena(&c->parser, b->arena);
    return 0;
}

void edge_conn_buf_free(conn_t *c)
{
    free(c->buf);
    c->buf = NULL;
    edge_http_parser_set_arena(&c->parser, NULL);
}

/* An idle connection (a new one, or keep-alive between requests) with nothing buffered holds no
 * request buffers: they are about 58 KiB with the default 16 KiB head arena, up to 580 MiB for
 * 10,000 sockets that send nothing. */
static void conn_buf_idle_free(conn_t *c)
{
    if (c->buf && edge_conn_idle(c) && c->rlen == 0) {
        edge_conn_buf_free(c);
    }
}

void edge_conn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    if (conn_buf_get(c) != 0) {
        *buf = uv_buf_init(NULL, 0); /* conn_on_read gets UV_ENOBUFS */
        return;
    }
    *buf = uv_buf_init(c->buf->rbuf + c->rlen, (unsigned)(sizeof(c->buf->rbuf) - c->rlen));
}

static void conn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    conn_t *c = s->data;
    if (c->state == C_CLOSING) {
        return;
    }
    if (nread == 0) {
        conn_buf_idle_free(c); /* nothing to read after all (EAGAIN) */
        return;
    }
    if (nread == UV_ENOBUFS) {
        /* edge_conn_alloc could not allocate c's buffers: nothing was read. Said at debug level,
         * as a connection that cannot be set up is (edge_worker.c): a client closing an idle
         * connection lands here too when memory is short, and each would be a line. */
        log_debug("%s: out of memory for a request's buffers, closing the connection", c->peer_str);
        edge_conn_cut(c, CUT_ERROR);
        return;
    }
    if (nread < 0) {
        if (c->state == C_READING || nread != UV_EOF || conn_on_fill(c)) {
            /* On a fill in progress an end of input is taken as the client gone (as nginx
             * does): its reader must not keep the origin fetch going. */
            edge_conn_cut(c, CUT_CLIENT);
        } else {
            /* half-close while we answer: finish the response, then close */
            c->linger.input_ended = true;
            c->resp.plan.keep_alive = false;
            c->parser.msg.keep_alive = false;
            uv_read_stop(s);
        }
        return;
    }
    c->rlen += (size_t)nread;
    if (c->state != C_READING) {
        /* Pipelined bytes while answering: keep them, stop reading until done. */
        if (c->rlen >= sizeof(c->buf->rbuf)) {
            uv_read_stop(s);
        }
        return;
    }
    conn_parse(c);
    if (c->state == C_READING) {
        uv_read_start(s, edge_conn_alloc, conn_on_read);
    }
}

int edge_conn_accept(edge_worker_t *w, uv_stream_t *listener, bool status_listener)
{
    edge_server_t *srv = w->srv;
    conn_t *c = calloc(1, sizeof(*c));
    if (!c) {
        return -ENOMEM;
    }
    c->w = w;
    c->up.fd = c->up.dirfd = -1;
    c->body.fd = c->body.file_fd = -1;
    uv_tcp_init(&w->loop, &c->tcp);
    uv_timer_init(&w->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->open_handles = 2;
    c->status_listener = status_listener;
    conn_count(w, status_listener, 1);
    edge_list_add(&w->conns, &c->link);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        edge_conn_close(c);
        return 0;
    }
    int alen = sizeof(c->peer);
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&c->peer, &alen) == 0) {
        if (c->peer.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&c->peer, c->peer_str, sizeof(c->peer_str));
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&c->peer, c->peer_str, sizeof(c->peer_str));
        }
    }
    if (status_listener && !edge_status_allowed(srv->cfg, (const struct sockaddr *)&c->peer)) {
        /* Closed before a byte is read: a peer outside status_allow holds no status slot. */
        STAT_ADD(w->st.status_conns_refused, 1);
        edge_conn_close(c);
        return 0;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    /* No arena yet: c->buf brings it when the first request begins (edge_conn_alloc). */
    edge_http_parser_init(&c->parser, false, NULL, srv->cfg->max_header_bytes, srv->cfg->max_uri);
    c->parser.head_cb = conn_on_head;
    c->parser.body_cb = conn_on_body;
    c->parser.cb_ctx = c;
    c->state = C_READING;
    edge_conn_timer(c, T_HEAD);
    uv_read_start((uv_stream_t *)&c->tcp, edge_conn_alloc, conn_on_read);
    return 0;
}
