/* edge_origin.c: the origin client's transport: keep-alive connection pool, the request line,
 * timeouts per phase, failover to the next origin, and back-pressure from a pass-through body's
 * window. What the response does to the cache is edge_fill.c's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"
#include "edge_respond.h"
#include "log.h"

#define ORIGIN_ARENA 16384
#define ORIGIN_READ  65536

typedef struct edge_oconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_async_t resume;  /* a reader made room in the pass-through window */
    edge_obj_t *pt_obj; /* the body whose window is full while reading is paused */
    edge_worker_t *w;
    unsigned origin;
    edge_list_t link; /* in the worker's idle pool, or its busy list while f is set */
    edge_http_parser_t parser;
    char arena[ORIGIN_ARENA];
    char req[8192];
    size_t req_len;
    edge_fetch_t *f;
    bool connected;
    bool reused;
    bool closing;
    bool msg_done;
    int open_handles;
    uint64_t resp_bytes;
} edge_oconn_t;

static void oconn_close(edge_oconn_t *oc);
static void oconn_abandon(edge_oconn_t *oc);
static void fetch_attempt(edge_fetch_t *f);
static void oconn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void origin_mark(edge_server_t *srv, unsigned i, bool ok)
{
    edge_origin_state_t *s = &srv->origins[i];
    if (ok) {
        __atomic_store_n(&s->up, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&s->consecutive_errors, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&s->last_ok_ms, edge_now_ms(), __ATOMIC_RELAXED);
    } else {
        __atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&s->consecutive_errors, 1, __ATOMIC_RELAXED);
        __atomic_store_n(&s->up, 0, __ATOMIC_RELAXED);
    }
}

/* Retry on another origin (or on a fresh connection after a stale keep-alive one). */
static void fetch_retry_or_fail(edge_fetch_t *f, int status, bool stale_conn)
{
    edge_server_t *srv = f->w->srv;
    if (!f->got_head && stale_conn && f->stale_retries < 2) {
        f->stale_retries++;
        f->attempts--;
        fetch_attempt(f);
        return;
    }
    origin_mark(srv, f->origin, false);
    if (!f->got_head && f->attempts < 2 && srv->cfg->n_origins > 1 &&
        !__atomic_load_n(&srv->force_close, __ATOMIC_RELAXED)) {
        f->origin = (f->origin + 1) % (unsigned)srv->cfg->n_origins;
        fetch_attempt(f);
        return;
    }
    edge_fill_fail(f, status);
}

static int oconn_on_head(void *ctx, edge_http_msg_t *m)
{
    edge_oconn_t *oc = ctx;
    edge_fetch_t *f = oc->f;
    edge_server_t *srv = oc->w->srv;
    if (!f) {
        return 502;
    }
    if (m->status == 206 || (m->status == 304 && !f->old)) {
        /* The request carried no Range and, unless it revalidates f->old, no validator: a 206
         * (whose Content-Range the edge does not keep) or a 304 is no answer to it. Stored, it
         * would go to every client as a 206 without Content-Range or a 304 to a plain GET. An
         * origin error, as a 101 is: the next origin is tried, else 502. */
        oc->parser.reason = m->status == 206 ? "206 to a request without Range"
                                             : "304 to a request without a validator";
        return 502;
    }
    if (m->status >= 500 && f->attempts < 2 && srv->cfg->n_origins > 1) {
        f->retry_5xx = true;
        return 502; /* abort this response; the error path retries elsewhere */
    }
    if (m->status >= 500 && f->old) {
        /* A revalidation answered with a server error: the stale copy is not replaced (it is
         * served within stale-if-error), and the error path marks the origin down. */
        f->refresh_5xx = m->status;
        return 502;
    }
    /* A server error passed on (one origin, or the retry's answer) is not a good answer: it
     * counts against the origin as a failed connection does, down until its next probe. */
    origin_mark(srv, oc->origin, m->status < 500);
    f->got_head = true;
    return edge_fill_head(f, m);
}

static int oconn_on_body(void *ctx, const char *at, size_t len)
{
    edge_oconn_t *oc = ctx;
    edge_fetch_t *f = oc->f;
    if (!f || !f->obj) {
        return 0; /* a 304 has no body; nothing else lands here */
    }
    STAT_ADD(oc->w->st.origin_bytes, len);
    return edge_fill_body(f, at, len);
}

static void oconn_on_close(uv_handle_t *h)
{
    edge_oconn_t *oc = h->data;
    if (--oc->open_handles == 0) {
        free(oc);
    }
}

static void oconn_close(edge_oconn_t *oc)
{
    if (oc->closing) {
        return;
    }
    oc->closing = true;
    if (oc->pt_obj) {
        edge_obj_pt_pause(oc->pt_obj, NULL); /* no reader may send to the async any more */
        oc->pt_obj = NULL;
    }
    uv_close((uv_handle_t *)&oc->resume, oconn_on_close);
    if (edge_list_linked(&oc->link)) {
        edge_list_del(&oc->link);
    }
    uv_close((uv_handle_t *)&oc->timer, oconn_on_close);
    uv_close((uv_handle_t *)&oc->tcp, oconn_on_close);
}

/* The connection failed while serving f. */
static void oconn_fail(edge_oconn_t *oc, int status)
{
    edge_fetch_t *f = oc->f;
    oc->f = NULL;
    /* A pooled connection that failed before any byte came back was most likely closed by the
     * origin while idle: worth a fresh connection. A timeout (504) is not that: the origin took
     * the request and is slow, and a fresh connection would only wait first_byte again. */
    bool stale = oc->reused && oc->resp_bytes == 0 && status != 504;
    oconn_close(oc);
    if (!f) {
        return;
    }
    if (f->got_head) {
        /* Mid-body: the object is truncated; readers must see a failure. */
        origin_mark(oc->w->srv, oc->origin, false);
        edge_fill_fail(f, status);
        return;
    }
    fetch_retry_or_fail(f, status, stale);
}

/* Reading stopped because the window of oc->f's body is full (or nobody reads it). */
static void oconn_pt_check(edge_oconn_t *oc);

static void oconn_on_timeout(uv_timer_t *t)
{
    edge_oconn_t *oc = t->data;
    if (oc->f && oc->pt_obj) {
        /* The window stayed full a whole slow_reader bound: drop the readers holding it. */
        edge_server_t *srv = oc->w->srv;
        if (edge_obj_unread(oc->pt_obj)) {
            oconn_abandon(oc); /* they have all left meanwhile */
            return;
        }
        unsigned n = edge_obj_drop_slow_readers(&srv->cache, oc->pt_obj);
        if (n) {
            log_info("%u reader(s) of %s dropped: a full window behind for %llu ms", n,
                     oc->pt_obj->key, (unsigned long long)srv->cfg->slow_reader_timeout);
        }
        edge_worker_wake_obj(srv, oc->pt_obj);
        uv_timer_start(&oc->timer, oconn_on_timeout, srv->cfg->slow_reader_timeout, 0);
        return;
    }
    if (oc->f) {
        log_warn("origin %s: timeout %s", oc->w->srv->cfg->origins[oc->origin].url,
                 oc->f->got_head ? "between body bytes" : "before the complete response head");
        oconn_fail(oc, 504);
    } else {
        oconn_close(oc); /* idle too long in the pool */
    }
}

static void oconn_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    static _Thread_local char rbuf[ORIGIN_READ];
    *buf = uv_buf_init(rbuf, sizeof(rbuf));
}

/* Abandon the fetch: the connection is closed, not pooled (the rest of the body is unread). */
static void oconn_abandon(edge_oconn_t *oc)
{
    edge_fetch_t *f = oc->f;
    oc->f = NULL;
    oconn_close(oc);
    if (f) {
        edge_fill_abandon(f);
    }
}

static void oconn_on_resume(uv_async_t *a)
{
    edge_oconn_t *oc = a->data;
    if (oc->closing || !oc->f || !oc->pt_obj) {
        return;
    }
    oconn_pt_check(oc);
}

static void oconn_pt_check(edge_oconn_t *oc)
{
    edge_obj_t *o = oc->f->obj;
    edge_server_t *srv = oc->w->srv;
    if (edge_obj_unread(o)) {
        oconn_abandon(oc);
        return;
    }
    if (edge_obj_pt_pause(o, &oc->resume)) {
        if (!oc->pt_obj) {
            /* Back-pressure: the origin waits until the slowest reader makes room. */
            oc->pt_obj = o;
            uv_read_stop((uv_stream_t *)&oc->tcp);
            uv_timer_start(&oc->timer, oconn_on_timeout, srv->cfg->slow_reader_timeout, 0);
        }
        return;
    }
    if (oc->pt_obj) {
        oc->pt_obj = NULL;
        uv_read_start((uv_stream_t *)&oc->tcp, oconn_alloc, oconn_on_read);
        uv_timer_start(&oc->timer, oconn_on_timeout, srv->cfg->between_bytes_timeout, 0);
    }
}

static void oconn_release(edge_oconn_t *oc)
{
    /* Response done: back to the pool when the origin allows it. */
    edge_fetch_t *f = oc->f;
    oc->f = NULL;
    edge_list_del(&oc->link);
    bool keep = oc->parser.msg.keep_alive && !oc->w->closing;
    if (f) {
        edge_fill_complete(f);
    }
    if (!keep) {
        oconn_close(oc);
        return;
    }
    edge_http_parser_next(&oc->parser);
    oc->msg_done = false;
    edge_list_add(&oc->w->idle_origin[oc->origin], &oc->link);
    uv_timer_start(&oc->timer, oconn_on_timeout, 30000, 0);
}

static void oconn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    edge_oconn_t *oc = s->data;
    if (oc->closing) {
        return;
    }
    if (nread == 0) {
        return;
    }
    if (!oc->f) {
        oconn_close(oc); /* data or EOF on an idle connection */
        return;
    }
    if (nread < 0) {
        if (nread == UV_EOF && oc->resp_bytes > 0) {
            int rc = edge_http_parser_finish(&oc->parser);
            if (rc == EDGE_HTTP_MESSAGE_DONE) {
                oc->parser.msg.keep_alive = false;
                oconn_release(oc);
                return;
            }
        }
        oconn_fail(oc, 502);
        return;
    }
    oc->resp_bytes += (size_t)nread;
    size_t used = 0;
    int rc = edge_http_parser_feed(&oc->parser, buf->base, (size_t)nread, &used);
    if (rc < 0) {
        edge_fetch_t *f = oc->f;
        if (f && f->abandon) {
            oconn_abandon(oc);
            return;
        }
        if (f && f->retry_5xx) {
            f->retry_5xx = false;
            oc->f = NULL;
            oconn_close(oc);
            f->attempts++;
            origin_mark(oc->w->srv, oc->origin, false);
            f->origin = (f->origin + 1) % (unsigned)oc->w->srv->cfg->n_origins;
            fetch_attempt(f);
            return;
        }
        if (f && f->refresh_5xx) {
            /* Down until its next probe, as after a connection failure; the rest of the 5xx
             * body is not read, so the connection is not reused. */
            oc->f = NULL;
            oconn_close(oc);
            origin_mark(oc->w->srv, oc->origin, false);
            edge_fill_fail(f, f->refresh_5xx);
            return;
        }
        log_warn("origin %s: bad response: %s", oc->w->srv->cfg->origins[oc->origin].url,
                 oc->parser.reason ? oc->parser.reason : "?");
        oconn_fail(oc, 502);
        return;
    }
    if (rc == EDGE_HTTP_MESSAGE_DONE) {
        if (used < (size_t)nread) {
            oc->parser.msg.keep_alive = false; /* unsolicited bytes: do not reuse */
        }
        oconn_release(oc);
        return;
    }
    /* first_byte, started when the request went out, bounds the whole head: bytes of a head
     * still incomplete do not restart it, or an origin sending one byte a little faster than
     * between_bytes would hold the fill (and its collapsed clients) for as long as it likes.
     * between_bytes bounds each wait for body bytes once the head is complete. */
    if (oc->f && oc->f->got_head) {
        uv_timer_start(&oc->timer, oconn_on_timeout, oc->w->srv->cfg->between_bytes_timeout, 0);
    }
    if (oc->f && oc->f->obj && edge_obj_passthrough(oc->f->obj)) {
        oconn_pt_check(oc);
    }
}

static void oconn_on_write(uv_write_t *req, int status)
{
    edge_oconn_t *oc = req->data;
    if (status < 0 && !oc->closing) {
        oconn_fail(oc, 502);
    }
}

/* Append "name: value\r\n" to the request of length *len if it fits with room left for the blank
 * line that ends the head. A validator that does not fit is left out: the revalidation becomes a
 * plain GET, which the origin answers in full, instead of failing. */
static bool oconn_add_header(edge_oconn_t *oc, size_t *len, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    if (*len + nl + 2 + vl + 2 + 2 > sizeof(oc->req)) {
        return false;
    }
    char *p = oc->req + *len;
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, value, vl);
    memcpy(p + nl + 2 + vl, "\r\n", 2);
    *len += nl + 2 + vl + 2;
    return true;
}

static int oconn_send(edge_oconn_t *oc)
{
    edge_fetch_t *f = oc->f;
    edge_server_t *srv = oc->w->srv;
    const edge_origin_cfg_t *ocfg = &srv->cfg->origins[oc->origin];
    edge_obj_t *o = f->obj ? f->obj : f->old;
    int n = snprintf(oc->req, sizeof(oc->req),
                     "GET %s%s HTTP/1.1\r\nHost: %s\r\nUser-Agent: segment-edge\r\n"
                     "Accept-Encoding: identity\r\n",
                     ocfg->prefix, o->key, ocfg->authority);
    if (n <= 0 || (size_t)n + 2 > sizeof(oc->req)) {
        return -ENAMETOOLONG;
    }
    size_t len = (size_t)n;
    if (f->old && f->old->etag && !oconn_add_header(oc, &len, "If-None-Match", f->old->etag)) {
        log_debug("origin request for %s: ETag too long to send, revalidating without it", o->key);
    }
    if (f->old && f->old->last_modified) {
        (void)oconn_add_header(oc, &len, "If-Modified-Since", f->old->last_modified);
    }
    memcpy(oc->req + len, "\r\n", 2);
    oc->req_len = len + 2;
    oc->resp_bytes = 0;
    f->start_ms = edge_now_ms();
    uv_buf_t b = uv_buf_init(oc->req, (unsigned)oc->req_len);
    oc->wreq.data = oc;
    int rc = uv_write(&oc->wreq, (uv_stream_t *)&oc->tcp, &b, 1, oconn_on_write);
    if (rc == 0) {
        uv_timer_start(&oc->timer, oconn_on_timeout, srv->cfg->first_byte_timeout, 0);
    }
    return rc;
}

static void oconn_on_connect(uv_connect_t *req, int status)
{
    edge_oconn_t *oc = req->data;
    if (oc->closing) {
        return;
    }
    if (status < 0) {
        log_warn("origin %s: connect: %s", oc->w->srv->cfg->origins[oc->origin].url,
                 uv_strerror(status));
        oconn_fail(oc, 502);
        return;
    }
    oc->connected = true;
    uv_tcp_nodelay(&oc->tcp, 1);
    uv_read_start((uv_stream_t *)&oc->tcp, oconn_alloc, oconn_on_read);
    if (oconn_send(oc) != 0) {
        oconn_fail(oc, 502);
    }
}

static edge_oconn_t *oconn_new(edge_worker_t *w, unsigned origin)
{
    edge_oconn_t *oc = calloc(1, sizeof(*oc));
    if (!oc) {
        return NULL;
    }
    oc->w = w;
    oc->origin = origin;
    uv_tcp_init(&w->loop, &oc->tcp);
    uv_timer_init(&w->loop, &oc->timer);
    uv_async_init(&w->loop, &oc->resume, oconn_on_resume);
    oc->tcp.data = oc;
    oc->timer.data = oc;
    oc->resume.data = oc;
    oc->open_handles = 3;
    edge_http_parser_init(&oc->parser, true, oc->arena, sizeof(oc->arena), sizeof(oc->arena));
    oc->parser.head_cb = oconn_on_head;
    oc->parser.body_cb = oconn_on_body;
    oc->parser.cb_ctx = oc;
    oc->creq.data = oc;
    int rc =
        uv_tcp_connect(&oc->creq, &oc->tcp, (const struct sockaddr *)&w->srv->origin_addr[origin],
                       oconn_on_connect);
    if (rc != 0) {
        oconn_close(oc);
        return NULL;
    }
    uv_timer_start(&oc->timer, oconn_on_timeout, w->srv->cfg->connect_timeout, 0);
    return oc;
}

/* oc carries f from here on: listed as busy, so that edge_origin_abort_all() finds it. */
static void oconn_take(edge_oconn_t *oc, edge_fetch_t *f)
{
    oc->f = f;
    edge_list_add(&oc->w->busy_origin, &oc->link);
}

static void fetch_attempt(edge_fetch_t *f)
{
    edge_worker_t *w = f->w;
    f->attempts++;
    f->got_head = false;
    STAT_ADD(w->st.origin_fetches, 1);
    __atomic_add_fetch(&w->srv->origins[f->origin].fetches, 1, __ATOMIC_RELAXED);
    edge_list_t *pool = &w->idle_origin[f->origin];
    if (pool->next != pool) {
        edge_oconn_t *oc = EDGE_CONTAINER(pool->next, edge_oconn_t, link);
        edge_list_del(&oc->link);
        oc->reused = true;
        oconn_take(oc, f);
        if (oconn_send(oc) != 0) {
            oconn_fail(oc, 502);
        }
        return;
    }
    edge_oconn_t *oc = oconn_new(w, f->origin);
    if (!oc) {
        fetch_retry_or_fail(f, 502, false);
        return;
    }
    oconn_take(oc, f);
}

void edge_fetch_start(edge_worker_t *w, edge_obj_t *obj, edge_obj_t *old)
{
    edge_server_t *srv = w->srv;
    edge_fetch_t *f = calloc(1, sizeof(*f));
    if (!f) {
        /* Not left PENDING (or refreshing) for good: its waiters, and every later request for
         * the key, would wait on a fill that never comes. */
        log_error("out of memory starting an origin fetch");
        edge_fill_release(&srv->cache);
        edge_fill_fail_objects(w, obj, old, 502);
        return;
    }
    f->w = w;
    f->obj = obj ? edge_obj_ref(obj) : NULL;
    f->old = old ? edge_obj_ref(old) : NULL;
    w->n_fetches++;
    /* Failover order: the first origin believed up. */
    f->origin = 0;
    for (unsigned i = 0; i < srv->cfg->n_origins; i++) {
        if (__atomic_load_n(&srv->origins[i].up, __ATOMIC_RELAXED)) {
            f->origin = i;
            break;
        }
    }
    fetch_attempt(f);
}

void edge_origin_pool_close(edge_worker_t *w)
{
    for (unsigned i = 0; i < EDGE_MAX_ORIGINS; i++) {
        edge_list_t *pool = &w->idle_origin[i];
        while (pool->next && pool->next != pool) {
            edge_oconn_t *oc = EDGE_CONTAINER(pool->next, edge_oconn_t, link);
            oconn_close(oc);
        }
    }
}

unsigned edge_origin_abort_all(edge_worker_t *w)
{
    unsigned n = 0;
    edge_list_t *busy = &w->busy_origin;
    while (busy->next && busy->next != busy) {
        edge_oconn_t *oc = EDGE_CONTAINER(busy->next, edge_oconn_t, link);
        edge_fetch_t *f = oc->f;
        oc->f = NULL;
        oconn_close(oc); /* unlinks it; a pending connect or write ends with UV_ECANCELED */
        if (f) {
            edge_fill_cancel(f);
            n++;
        }
    }
    edge_origin_pool_close(w);
    return n;
}
