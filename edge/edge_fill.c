/* edge_fill.c: filling the cache from an origin response: the object's head and freshness, its
 * body (stored, or streamed through past max_object), a revalidation's outcome, and the end of a
 * fetch (complete, failed, abandoned) told to the object's readers. The connection that carries
 * the response is edge_origin.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_internal.h"
#include "edge_respond.h"
#include "log.h"

static edge_server_t *fetch_srv(edge_fetch_t *f)
{
    return f->w->srv;
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
    o->location = dup_header(m, "location");
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
    edge_fill_release(&fetch_srv(f)->cache);
    f->w->n_fetches--;
    edge_obj_unref(f->obj);
    edge_obj_unref(f->old);
    free(f);
}

/* obj (a new object) leaves the table and fails with status, or old's refresh fails with it;
 * their readers are woken. */
static void fill_fail_readers(edge_server_t *srv, edge_obj_t *obj, edge_obj_t *old, int status)
{
    if (obj) {
        obj->fail_status = status;
        edge_cache_lock(&srv->cache);
        edge_cache_remove_locked(&srv->cache, obj);
        edge_cache_unlock(&srv->cache);
        __atomic_store_n(&obj->state, EDGE_OBJ_FAILED, __ATOMIC_SEQ_CST);
        edge_worker_wake_obj(srv, obj);
    } else if (old) {
        edge_cache_lock(&srv->cache);
        old->refreshing = false;
        old->refresh_result = EDGE_REFRESH_FAILED;
        old->refresh_status = status;
        __atomic_add_fetch(&old->refresh_gen, 1, __ATOMIC_SEQ_CST);
        edge_cache_unlock(&srv->cache);
        edge_worker_wake_obj(srv, old);
    }
}

void edge_fill_fail_objects(edge_worker_t *w, edge_obj_t *obj, edge_obj_t *old, int status)
{
    STAT_ADD(w->st.origin_errors, 1);
    fill_fail_readers(w->srv, obj, old, status);
    log_warn("origin fetch failed: %s -> %d", obj ? obj->key : old->key, status);
}

/* The fetch failed for good: tell the object's readers. */
void edge_fill_fail(edge_fetch_t *f, int status)
{
    edge_fill_fail_objects(f->w, f->obj, f->old, status);
    fetch_free(f);
}

/* A body nobody reads any more and the cache does not keep: stop (the connection is already
 * closed). */
void edge_fill_abandon(edge_fetch_t *f)
{
    edge_obj_t *o = f->obj;
    edge_server_t *srv = fetch_srv(f);
    o->fail_status = 502;
    __atomic_store_n(&o->state, EDGE_OBJ_FAILED, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&srv->cache.fills_abandoned, 1, __ATOMIC_RELAXED);
    edge_worker_wake_obj(srv, o);
    log_debug("origin fetch abandoned, nobody reads it: %s", o->key);
    fetch_free(f);
}

void edge_fill_cancel(edge_fetch_t *f)
{
    log_debug("origin fetch cancelled, stopping: %s", f->obj ? f->obj->key : f->old->key);
    fill_fail_readers(fetch_srv(f), f->obj, f->old, 503);
    fetch_free(f);
}

static void obj_gzip(edge_cache_t *c, edge_obj_t *o)
{
    uint64_t n = edge_obj_filled(o);
    if (o->status != 200 || o->content_encoding || n == 0 || n > EDGE_GZIP_MAX) {
        return;
    }
    /* Made only with room for it (a playlist compresses to less than its length): with none,
     * clients get the identity body, as they would for a copy that failed. */
    if (!edge_cache_room(c, o, n)) {
        __atomic_add_fetch(&c->gzip_skipped, 1, __ATOMIC_RELAXED);
        return;
    }
    char *src = malloc(n);
    if (!src) {
        return;
    }
    edge_obj_copy(o, 0, src, n);
    /* No variant when it fails. One made is kept for the object's life: it gives back the room
     * deflate was given (its bound, above the input's length), so that what stays allocated is
     * gz_len, what the budget is charged. */
    if (edge_gzip(src, n, &o->gz, &o->gz_len) == 0) {
        char *fit = realloc(o->gz, o->gz_len);
        if (fit) {
            o->gz = fit;
        }
    }
    free(src);
}

void edge_fill_complete(edge_fetch_t *f)
{
    edge_server_t *srv = fetch_srv(f);
    if (f->obj) {
        edge_obj_t *o = f->obj;
        if ((o->kind == EDGE_MEDIA_PLAYLIST || o->kind == EDGE_MEDIA_MANIFEST) &&
            !edge_obj_passthrough(o)) {
            obj_gzip(&srv->cache, o);
        }
        edge_cache_lock(&srv->cache);
        /* Charged before COMPLETE: a client served the gzip copy finds it counted. */
        edge_cache_account_extra_locked(&srv->cache, o);
        __atomic_store_n(&o->state, EDGE_OBJ_COMPLETE, __ATOMIC_SEQ_CST);
        edge_obj_freshness_locked(srv->cfg, o);
        if (!o->store) {
            edge_cache_remove_locked(&srv->cache, o);
        }
        edge_cache_unlock(&srv->cache);
        edge_worker_wake_obj(srv, o);
    }
    fetch_free(f);
}

int edge_fill_head(edge_fetch_t *f, const edge_http_msg_t *m)
{
    edge_server_t *srv = fetch_srv(f);
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
            STAT_ADD(f->w->st.revalidated, 1);
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
        edge_cache_account_extra_locked(&srv->cache, n);
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
    edge_cache_account_extra_locked(&srv->cache, o);
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

int edge_fill_body(edge_fetch_t *f, const char *at, size_t len)
{
    edge_server_t *srv = fetch_srv(f);
    edge_obj_t *o = f->obj;
    if (!edge_obj_passthrough(o) && edge_obj_filled(o) + len > edge_config_max_object(srv->cfg)) {
        /* A body of unknown length past max_object: stop storing it, stream the rest. */
        edge_obj_make_passthrough(&srv->cache, o, srv->cfg->passthrough_window);
    }
    if (edge_obj_unread(o)) {
        /* No reader and no other reference: not in the table either (it holds one), so the
         * body is a pass-through or not stored; the rest of it would go nowhere. */
        f->abandon = true;
        return -1;
    }
    if (edge_obj_append(&srv->cache, o, at, len) != 0) {
        return -1;
    }
    edge_worker_wake_obj(srv, o);
    return 0;
}
