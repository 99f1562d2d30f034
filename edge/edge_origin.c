/* edge_origin.c: the origin client: keep-alive pool, timeouts, failover retry, filling cache
 * objects. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"
#include "edge_respond.h"
#include "log.h"

#define ORIGIN_ARENA 16384
#define ORIGIN_READ  65536

typedef struct edge_fetch edge_fetch_t;

typedef struct edge_oconn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_connect_t creq;
    uv_write_t wreq;
    uv_async_t resume;  /* a reader made room in the pass-through window */
    edge_obj_t *pt_obj; /* the body whose window is full while reading is paused */
    edge_worker_t *w;
    unsigned origin;
    edge_list_t link; /* in the worker's idle pool */
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

struct edge_fetch {
    edge_worker_t *w;
    edge_obj_t *obj; /* being filled */
    edge_obj_t *old; /* being revalidated */
    unsigned origin;
    unsigned attempts;
    unsigned stale_retries;
    uint64_t start_ms;
    bool got_head;
    bool retry_5xx;
    bool abandon; /* a pass-through body nobody reads any more */
};

static void oconn_close(edge_oconn_t *oc);
static void fetch_attempt(edge_fetch_t *f);
static void oconn_on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static edge_server_t *fetch_srv(edge_fetch_t *f)
{
    return f->w->srv;
}

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

static char *dup_span(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static char *dup_header(const edge_http_msg_t *m, const char *name)
{
    size_t len = 0;
    const char *v = edge_http_msg_header(m, name, &len);
    return v ? dup_span(v, len) : NULL;
}

void edge_obj_freshness_locked(const edge_config_t *cfg, edge_obj_t *o)
{
    edge_cc_t cc;
    edge_cc_parse(o->cache_control ? o->cache_control : "",
                  o->cache_control ? strlen(o->cache_control) : 0, &cc);
    bool pt = edge_obj_passthrough(o); /* not stored; its start may be gone */
    bool complete = edge_obj_state(o) == EDGE_OBJ_COMPLETE && !pt;
    bool live = false;
    uint64_t ttl = cfg->ttl_other;
    o->store = true;
    if (o->kind == EDGE_MEDIA_SEGMENT) {
        ttl = cfg->ttl_segment;
    } else if (o->kind == EDGE_MEDIA_PLAYLIST || o->kind == EDGE_MEDIA_MANIFEST) {
        /* Until the body is complete the playlist counts as live (shortest). */
        uint64_t target = 0;
        bool endlist = false;
        bool master = false;
        if (complete) {
            uint64_t n = edge_obj_filled(o);
            char *buf = malloc(n + 1);
            if (buf) {
                edge_obj_copy(o, 0, buf, n);
                if (o->kind == EDGE_MEDIA_PLAYLIST) {
                    edge_hls_scan(buf, n, &endlist, &target);
                    master = target == 0 && !endlist;
                } else {
                    endlist = !edge_mpd_is_dynamic(buf, n);
                }
                free(buf);
            }
        }
        if (master) {
            ttl = cfg->ttl_other;
        } else if (complete && endlist) {
            ttl = cfg->ttl_vod_playlist;
        } else {
            live = true;
            ttl = target ? target / 2 : 1000;
            if (cfg->ttl_live_playlist_max && ttl > cfg->ttl_live_playlist_max) {
                ttl = cfg->ttl_live_playlist_max;
            }
        }
    }
    if (o->status >= 400) {
        ttl = cfg->ttl_error;
    } else if (o->status != 200 && o->status != 203 && o->status != 301 && o->status != 308 &&
               o->status != 410 && cc.max_age < 0 && cc.s_maxage < 0) {
        o->store = false;
    }
    if (cc.s_maxage >= 0) {
        ttl = (uint64_t)cc.s_maxage * 1000;
    } else if (cc.max_age >= 0) {
        ttl = (uint64_t)cc.max_age * 1000;
    }
    if (cc.no_cache) {
        ttl = 0;
    }
    if (cc.no_store || cc.private_ || pt) {
        o->store = false;
    }
    o->ttl_ms = ttl;
    o->swr_ms = cc.swr >= 0 ? (uint64_t)cc.swr * 1000 : cfg->stale_while_revalidate;
    o->sie_ms = cc.sie >= 0 ? (uint64_t)cc.sie * 1000 : cfg->stale_if_error;
    if (live) {
        if (o->swr_ms > cfg->live_stale_max) {
            o->swr_ms = cfg->live_stale_max;
        }
        if (o->sie_ms > cfg->live_stale_max) {
            o->sie_ms = cfg->live_stale_max;
        }
    }
    if (cc.must_revalidate || o->status >= 400) {
        o->swr_ms = 0;
        o->sie_ms = 0;
    }
    if (cc.no_cache) {
        /* never used without a successful validation, unless stale-if-error says so */
        o->swr_ms = 0;
        o->sie_ms = cc.sie >= 0 ? (uint64_t)cc.sie * 1000 : 0;
    }
}

static void obj_set_head(edge_obj_t *o, const edge_http_msg_t *m)
{
    o->status = m->status;
    o->clen = m->chunked ? -1 : m->content_length;
    if (m->status == 304 || m->status == 204) {
        o->clen = 0;
    }
    o->ctype = dup_header(m, "content-type");
    o->etag = dup_header(m, "etag");
    o->last_modified = dup_header(m, "last-modified");
    o->cache_control = dup_header(m, "cache-control");
    o->content_encoding = dup_header(m, "content-encoding");
    size_t al = 0;
    const char *age = edge_http_msg_header(m, "age", &al);
    o->origin_age = 0;
    if (age && al > 0 && al < 10) {
        o->origin_age = strtol(age, NULL, 10);
        if (o->origin_age < 0) {
            o->origin_age = 0;
        }
    }
    o->kind = edge_media_kind(o->key, strcspn(o->key, "?"));
    o->resp_ms = edge_now_ms();
}

static void fetch_free(edge_fetch_t *f)
{
    __atomic_sub_fetch(&fetch_srv(f)->cache.fills_inflight, 1, __ATOMIC_RELAXED);
    f->w->n_fetches--;
    edge_obj_unref(f->obj);
    edge_obj_unref(f->old);
    free(f);
}

/* The fetch failed for good: tell the object's readers. */
static void fetch_fail(edge_fetch_t *f, int status)
{
    edge_server_t *srv = fetch_srv(f);
    STAT_ADD(f->w->st.origin_errors, 1);
    if (f->obj) {
        edge_obj_t *o = f->obj;
        o->fail_status = status;
        edge_cache_lock(&srv->cache);
        edge_cache_remove_locked(&srv->cache, o);
        edge_cache_unlock(&srv->cache);
        __atomic_store_n(&o->state, EDGE_OBJ_FAILED, __ATOMIC_SEQ_CST);
        edge_worker_wake_obj(srv, o);
    } else if (f->old) {
        edge_obj_t *o = f->old;
        edge_cache_lock(&srv->cache);
        o->refreshing = false;
        o->refresh_result = EDGE_REFRESH_FAILED;
        o->refresh_status = status;
        __atomic_add_fetch(&o->refresh_gen, 1, __ATOMIC_SEQ_CST);
        edge_cache_unlock(&srv->cache);
        edge_worker_wake_obj(srv, o);
    }
    log_warn("origin fetch failed: %s -> %d", f->obj ? f->obj->key : f->old->key, status);
    fetch_free(f);
}

/* A pass-through body nobody reads any more: stop (the connection is already closed). */
static void fetch_abandon(edge_fetch_t *f)
{
    edge_obj_t *o = f->obj;
    o->fail_status = 502;
    __atomic_store_n(&o->state, EDGE_OBJ_FAILED, __ATOMIC_SEQ_CST);
    edge_worker_wake_obj(fetch_srv(f), o);
    log_debug("origin fetch abandoned, nobody reads it: %s", o->key);
    fetch_free(f);
}

/* Retry on another origin (or on a fresh connection after a stale keep-alive one). */
static void fetch_retry_or_fail(edge_fetch_t *f, int status, bool stale_conn)
{
    edge_server_t *srv = fetch_srv(f);
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
    fetch_fail(f, status);
}

static void obj_gzip(edge_obj_t *o)
{
    uint64_t n = edge_obj_filled(o);
    if (o->status != 200 || o->content_encoding || n == 0 || n > EDGE_GZIP_MAX) {
        return;
    }
    char *src = malloc(n);
    if (!src) {
        return;
    }
    edge_obj_copy(o, 0, src, n);
    (void)edge_gzip(src, n, &o->gz, &o->gz_len); /* no variant when it fails */
    free(src);
}

static void fetch_complete(edge_fetch_t *f)
{
    edge_server_t *srv = fetch_srv(f);
    if (f->obj) {
        edge_obj_t *o = f->obj;
        if ((o->kind == EDGE_MEDIA_PLAYLIST || o->kind == EDGE_MEDIA_MANIFEST) &&
            !edge_obj_passthrough(o)) {
            obj_gzip(o);
        }
        __atomic_store_n(&o->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
        edge_cache_lock(&srv->cache);
        edge_obj_freshness_locked(srv->cfg, o);
        if (!o->store) {
            edge_cache_remove_locked(&srv->cache, o);
        }
        edge_cache_unlock(&srv->cache);
        edge_worker_wake_obj(srv, o);
    }
    fetch_free(f);
}

static int oconn_on_head(void *ctx, edge_http_msg_t *m)
{
    edge_oconn_t *oc = ctx;
    edge_fetch_t *f = oc->f;
    edge_server_t *srv = oc->w->srv;
    if (!f) {
        return 502;
    }
    if (m->status >= 500 && f->attempts < 2 && srv->cfg->n_origins > 1) {
        f->retry_5xx = true;
        return 502; /* abort this response; the error path retries elsewhere */
    }
    origin_mark(srv, oc->origin, true);
    f->got_head = true;
    uint64_t now = edge_now_ms();
    double ttfb = (double)(now - f->start_ms);
    if (f->old) {
        edge_obj_t *old = f->old;
        if (m->status == 304) {
            edge_cache_lock(&srv->cache);
            /* The stored head stays as it is: other workers read it without the lock. */
            old->resp_ms = now;
            old->origin_age = 0;
            edge_obj_freshness_locked(srv->cfg, old);
            old->refreshing = false;
            old->refresh_result = EDGE_REFRESH_REVALIDATED;
            old->refresh_status = 304;
            __atomic_add_fetch(&old->refresh_gen, 1, __ATOMIC_SEQ_CST);
            edge_cache_unlock(&srv->cache);
            STAT_ADD(oc->w->st.revalidated, 1);
            edge_worker_wake_obj(srv, old);
            return 0;
        }
        edge_obj_t *n = edge_obj_new(old->key, old->key_len);
        if (!n) {
            return 500;
        }
        obj_set_head(n, m);
        n->origin_ms = ttfb;
        __atomic_store_n(&n->state, EDGE_OBJ_STREAMING, __ATOMIC_SEQ_CST);
        edge_cache_lock(&srv->cache);
        edge_obj_freshness_locked(srv->cfg, n);
        bool pt = n->clen > 0 && (uint64_t)n->clen > edge_config_max_object(srv->cfg);
        if (pt) {
            n->store = false;
        }
        if (old->in_table) {
            edge_cache_remove_locked(&srv->cache, old);
            if (n->store) {
                edge_cache_insert_locked(&srv->cache, n);
            }
        }
        old->replaced_by = edge_obj_ref(n);
        old->refreshing = false;
        old->refresh_result = EDGE_REFRESH_REPLACED;
        old->refresh_status = m->status;
        __atomic_add_fetch(&old->refresh_gen, 1, __ATOMIC_SEQ_CST);
        edge_cache_unlock(&srv->cache);
        edge_worker_wake_obj(srv, old);
        edge_obj_unref(old);
        f->old = NULL;
        f->obj = n;
        if (pt) {
            edge_obj_make_passthrough(&srv->cache, n, srv->cfg->passthrough_window);
        }
        return 0;
    }
    edge_obj_t *o = f->obj;
    obj_set_head(o, m);
    o->origin_ms = ttfb;
    edge_cache_lock(&srv->cache);
    edge_obj_freshness_locked(srv->cfg, o);
    if (!o->store) {
        edge_cache_remove_locked(&srv->cache, o);
    }
    edge_cache_unlock(&srv->cache);
    if (o->clen > 0 && (uint64_t)o->clen > edge_config_max_object(srv->cfg)) {
        /* Too large to store: streamed through a bounded window from the first byte. */
        edge_obj_make_passthrough(&srv->cache, o, srv->cfg->passthrough_window);
    }
    __atomic_store_n(&o->state, EDGE_OBJ_STREAMING, __ATOMIC_SEQ_CST);
    edge_worker_wake_obj(srv, o);
    return 0;
}

static int oconn_on_body(void *ctx, const char *at, size_t len)
{
    edge_oconn_t *oc = ctx;
    edge_fetch_t *f = oc->f;
    if (!f || !f->obj) {
        return 0; /* a 304 has no body; nothing else lands here */
    }
    STAT_ADD(oc->w->st.origin_bytes, len);
    edge_server_t *srv = oc->w->srv;
    edge_obj_t *o = f->obj;
    if (!edge_obj_passthrough(o) && edge_obj_filled(o) + len > edge_config_max_object(srv->cfg)) {
        /* A body of unknown length past max_object: stop storing it, stream the rest. */
        edge_obj_make_passthrough(&srv->cache, o, srv->cfg->passthrough_window);
    }
    if (edge_obj_passthrough(o) && edge_obj_unread(o)) {
        f->abandon = true;
        return -1;
    }
    if (edge_obj_append(&srv->cache, o, at, len) != 0) {
        return -1;
    }
    edge_worker_wake_obj(oc->w->srv, f->obj);
    return 0;
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
    bool stale = oc->reused && oc->resp_bytes == 0;
    oconn_close(oc);
    if (!f) {
        return;
    }
    if (f->got_head) {
        /* Mid-body: the object is truncated; readers must see a failure. */
        origin_mark(oc->w->srv, oc->origin, false);
        fetch_fail(f, status);
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
        log_warn("origin %s: timeout", oc->w->srv->cfg->origins[oc->origin].url);
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
        fetch_abandon(f);
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
    bool keep = oc->parser.msg.keep_alive && !oc->w->closing;
    if (f) {
        fetch_complete(f);
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
    uv_timer_start(&oc->timer, oconn_on_timeout, oc->w->srv->cfg->between_bytes_timeout, 0);
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
    if (f->old) {
        if (f->old->etag && n > 0 && (size_t)n < sizeof(oc->req)) {
            n += snprintf(oc->req + n, sizeof(oc->req) - (size_t)n, "If-None-Match: %s\r\n",
                          f->old->etag);
        }
        if (f->old->last_modified && n > 0 && (size_t)n < sizeof(oc->req)) {
            n += snprintf(oc->req + n, sizeof(oc->req) - (size_t)n, "If-Modified-Since: %s\r\n",
                          f->old->last_modified);
        }
    }
    if (n > 0 && (size_t)n < sizeof(oc->req)) {
        n += snprintf(oc->req + n, sizeof(oc->req) - (size_t)n, "\r\n");
    }
    if (n <= 0 || (size_t)n >= sizeof(oc->req)) {
        return -ENAMETOOLONG;
    }
    oc->req_len = (size_t)n;
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
        oc->f = f;
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
    oc->f = f;
}

void edge_fetch_start(edge_worker_t *w, edge_obj_t *obj, edge_obj_t *old)
{
    edge_server_t *srv = w->srv;
    edge_fetch_t *f = calloc(1, sizeof(*f));
    if (!f) {
        log_error("out of memory starting an origin fetch");
        return;
    }
    f->w = w;
    f->obj = obj ? edge_obj_ref(obj) : NULL;
    f->old = old ? edge_obj_ref(old) : NULL;
    w->n_fetches++;
    __atomic_add_fetch(&srv->cache.fills_inflight, 1, __ATOMIC_RELAXED);
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
