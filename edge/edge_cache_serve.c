/* edge_cache_serve.c: the cache-mode handler: looks the request up in the cache, starts fills
 * and revalidations, and hands a view of the object to the request core. */
#include <string.h>

#include "edge_conn.h"

_Static_assert((int)EDGE_VIEW_PENDING == (int)EDGE_OBJ_PENDING &&
                   (int)EDGE_VIEW_STREAMING == (int)EDGE_OBJ_STREAMING &&
                   (int)EDGE_VIEW_COMPLETE == (int)EDGE_OBJ_COMPLETE &&
                   (int)EDGE_VIEW_FAILED == (int)EDGE_OBJ_FAILED,
               "object states as the core sees them");
_Static_assert((int)EDGE_REFRESH_RESULT_NONE == (int)EDGE_REFRESH_NONE &&
                   (int)EDGE_REFRESH_RESULT_REVALIDATED == (int)EDGE_REFRESH_REVALIDATED &&
                   (int)EDGE_REFRESH_RESULT_REPLACED == (int)EDGE_REFRESH_REPLACED &&
                   (int)EDGE_REFRESH_RESULT_FAILED == (int)EDGE_REFRESH_FAILED,
               "refresh results as the core sees them");

/* The freshness part of a view of o (caller holds the cache lock). */
static void view_freshness_locked(const edge_obj_t *o, edge_obj_view_t *v)
{
    v->cached = true;
    v->state = edge_obj_state(o);
    v->resp_ms = o->resp_ms;
    v->origin_age = o->origin_age;
    v->ttl_ms = o->ttl_ms;
    v->swr_ms = o->swr_ms;
    v->sie_ms = o->sie_ms;
    v->stored = o->store;
}

/* The head part (immutable once the object left PENDING, the gzip copy aside: see below). */
static void view_head(const edge_obj_t *o, edge_obj_view_t *v)
{
    if (v->state == EDGE_VIEW_PENDING) {
        return;
    }
    v->status = o->status;
    v->length = v->state == EDGE_VIEW_COMPLETE ? (int64_t)edge_obj_filled(o) : o->clen;
    v->ctype = o->ctype;
    v->etag = o->etag;
    v->last_modified = o->last_modified;
    v->cache_control = o->cache_control;
    v->content_encoding = o->content_encoding;
    v->location = o->location;
    v->kind = o->kind;
    /* The gzip copy is made by the filler just before it publishes COMPLETE (release; the state
     * was read with acquire): before that, gz is still being written and is not read. */
    v->has_gz = v->state == EDGE_VIEW_COMPLETE && o->gz != NULL;
    v->gz_len = v->has_gz ? o->gz_len : 0;
    v->fail_status = o->fail_status;
    v->passthrough = edge_obj_passthrough(o);
}

/* Attach c as a reader of its object's body (the pass-through window contract in
 * edge_internal.h). Non-zero: the start of the body already left the window. */
static int reader_attach(conn_t *c)
{
    uv_os_fd_t fd = -1;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) {
        fd = -1;
    }
    return edge_obj_reader_attach(c->body.obj, &c->body.rd, fd);
}

void edge_cache_serve(conn_t *c)
{
    edge_worker_t *w = c->w;
    edge_cache_t *cache = &w->srv->cache;
    conn_body_t *b = &c->body;
    edge_obj_t *fetch_new = NULL;
    edge_obj_t *fetch_old = NULL;
    unsigned max_fills = w->srv->cfg->max_fills;
    bool busy = false; /* a fetch it needs was not started: max_fills are in flight */
    b->src = SRC_OBJ;
    edge_cache_lock(cache);
    edge_obj_t *o = edge_cache_find_locked(cache, c->buf->key, c->req.key_len);
    if (!o && cache->disk) {
        /* Memory miss: promote from the disk tier (file I/O outside the lock). */
        edge_cache_unlock(cache);
        edge_obj_t *d = edge_disk_promote(cache->disk, c->buf->key, c->req.key_len);
        edge_cache_lock(cache);
        o = edge_cache_find_locked(cache, c->buf->key, c->req.key_len);
        if (!o && d) {
            edge_cache_insert_locked(cache, d);
            o = d;
            b->from_disk = true;
        }
        edge_obj_unref(d); /* the table holds it now, or it lost the race */
    }
    /* Cache-Control: only-if-cached (RFC 9111 5.2.1.7): what is stored, or a 504 without a
     * request to the origin: a miss, or a stored response too old to serve unrevalidated. A
     * stale one servable as it is goes out without a background refresh. */
    bool only = c->req.only_if_cached;
    if (o) {
        edge_cache_touch_locked(cache, o);
        edge_obj_view_t v;
        memset(&v, 0, sizeof(v));
        view_freshness_locked(o, &v);
        edge_lookup_do_t d = edge_lookup_decide(&v, edge_now_ms(), &b->cs);
        if (only && d != EDGE_DO_NONE) {
            if (d == EDGE_DO_REVALIDATE) {
                edge_cache_unlock(cache);
                b->cs = EDGE_CS_NONE;
                edge_conn_respond_error(c, 504);
                return;
            }
            d = EDGE_DO_NONE;
        }
        if (d == EDGE_DO_REVALIDATE) {
            b->wait_refresh = true;
            b->gen_seen = __atomic_load_n(&o->refresh_gen, __ATOMIC_SEQ_CST);
        }
        if ((d == EDGE_DO_REFRESH || d == EDGE_DO_REVALIDATE) && !o->refreshing) {
            if (edge_fill_reserve(cache, max_fills)) {
                o->refreshing = true;
                fetch_old = o;
            } else {
                /* Stale within its bound is served as it is and refreshed by a later request;
                 * one that must be revalidated first waits for nothing: 503. */
                busy = d == EDGE_DO_REVALIDATE;
                STAT_ADD(w->st.fills_refused, 1);
            }
        }
        b->obj = edge_obj_ref(o);
    } else if (only) {
        edge_cache_unlock(cache);
        edge_conn_respond_error(c, 504);
        return;
    } else if (!edge_fill_reserve(cache, max_fills)) {
        busy = true;
        STAT_ADD(w->st.fills_refused, 1);
    } else {
        edge_lookup_decide(NULL, 0, &b->cs); /* a miss: fill */
        o = edge_obj_new(c->buf->key, c->req.key_len);
        if (o) {
            edge_cache_insert_locked(cache, o);
            b->obj = o; /* the creation reference */
            fetch_new = o;
        } else {
            edge_fill_release(cache);
        }
    }
    if (busy) {
        edge_cache_unlock(cache);
        b->cs = EDGE_CS_NONE;
        b->wait_refresh = false;
        edge_conn_respond_busy(c);
        return;
    }
    /* Under the cache lock: an object found in the table still has its whole body. */
    int attached = b->obj ? reader_attach(c) : 0;
    edge_cache_unlock(cache);
    if (!b->obj || attached != 0) {
        edge_conn_respond_error(c, b->obj ? 503 : 500);
        return;
    }
    if (fetch_new) {
        edge_fetch_start(w, fetch_new, NULL);
    }
    if (fetch_old) {
        edge_fetch_start(w, NULL, fetch_old);
    }
}

/* A revalidation this request waits for has ended: take its outcome. Returns PREP_BLOCKED while
 * it runs, PREP_READY otherwise (c->body.obj may have been replaced). */
static int prepare_refresh(conn_t *c)
{
    edge_cache_t *cache = &c->w->srv->cache;
    conn_body_t *b = &c->body;
    edge_obj_t *o = b->obj;
    edge_cache_lock(cache);
    unsigned gen = __atomic_load_n(&o->refresh_gen, __ATOMIC_SEQ_CST);
    if (gen == b->gen_seen) {
        edge_cache_unlock(cache);
        return PREP_BLOCKED;
    }
    b->wait_refresh = false;
    int res = o->refresh_result;
    if (res == EDGE_REFRESH_REPLACED && o->replaced_by) {
        b->obj = edge_obj_ref(o->replaced_by);
        b->cs = EDGE_CS_REFRESHED;
        b->fwd_status = o->refresh_status;
        edge_cache_unlock(cache);
        edge_obj_reader_detach(&b->rd);
        edge_obj_unref(o);
        if (edge_list_linked(&c->wait)) {
            edge_list_del(&c->wait); /* re-register on the new object */
        }
        if (reader_attach(c) != 0) {
            edge_conn_respond_error(c, 503); /* its start already left the pass-through window */
        }
        return PREP_READY;
    }
    edge_obj_view_t v;
    memset(&v, 0, sizeof(v));
    view_freshness_locked(o, &v);
    b->cs = edge_refresh_outcome(&v, res == EDGE_REFRESH_REPLACED ? EDGE_REFRESH_NONE : res,
                                 edge_now_ms());
    b->fwd_status = res == EDGE_REFRESH_FAILED ? o->refresh_status : 304;
    edge_cache_unlock(cache);
    return PREP_READY;
}

int edge_cache_prepare(conn_t *c)
{
    conn_body_t *b = &c->body;
    if (b->wait_refresh && prepare_refresh(c) == PREP_BLOCKED) {
        return PREP_BLOCKED;
    }
    if (c->resp.head_ready) {
        return PREP_READY; /* answered while following a refresh (503) */
    }
    edge_obj_t *o = b->obj;
    edge_cache_t *cache = &c->w->srv->cache;
    edge_obj_view_t v;
    memset(&v, 0, sizeof(v));
    edge_cache_lock(cache);
    view_freshness_locked(o, &v);
    edge_cache_unlock(cache);
    view_head(o, &v);
    v.cs = b->cs;
    v.fwd_status = b->fwd_status;
    v.from_disk = b->from_disk;
    edge_req_t r;
    edge_conn_core_req(c, &r);
    edge_plan_t *p = &c->resp.plan;
    edge_respond(&r, &v, edge_now_ms(), c->w->srv->cfg, p);
    if (p->action == EDGE_PLAN_WAIT) {
        return PREP_BLOCKED;
    }
    b->cs = p->cs;
    c->resp.origin_ms = b->cs == EDGE_CS_MISS || b->cs == EDGE_CS_REFRESHED ? o->origin_ms : 0;
    if (p->body == EDGE_BODY_GZIP) {
        b->src = SRC_MEM; /* the object's gzip copy; b->obj keeps it alive */
        b->base = o->gz;
        b->fd = -1;
    }
    edge_conn_plan_ready(c);
    return PREP_READY;
}
