/* edge_status.c: the status endpoints (/healthz, /readyz, /status as JSON, /metrics for
 * Prometheus) from in-memory counters, and the rates. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edge_conn.h"

#define RATE_WINDOW 5

typedef struct sample {
    uint64_t ms;
    uint64_t requests;
    uint64_t bytes;
} sample_t;

static sample_t samples[RATE_WINDOW + 1];
static unsigned n_samples;

static void stats_sum(edge_server_t *srv, edge_stats_t *t)
{
    memset(t, 0, sizeof(*t));
    for (unsigned i = 0; i < srv->n_workers; i++) {
        edge_stats_t *s = &srv->workers[i].st;
        t->requests += STAT_GET(s->requests);
        t->bytes_out += STAT_GET(s->bytes_out);
        t->body_bytes_cache += STAT_GET(s->body_bytes_cache);
        t->body_bytes_total += STAT_GET(s->body_bytes_total);
        t->hits += STAT_GET(s->hits);
        t->misses += STAT_GET(s->misses);
        t->collapsed += STAT_GET(s->collapsed);
        t->stale += STAT_GET(s->stale);
        t->revalidated += STAT_GET(s->revalidated);
        t->origin_fetches += STAT_GET(s->origin_fetches);
        t->origin_errors += STAT_GET(s->origin_errors);
        t->origin_bytes += STAT_GET(s->origin_bytes);
        t->conns_total += STAT_GET(s->conns_total);
        t->conns_active += STAT_GET(s->conns_active);
        t->conns_rejected += STAT_GET(s->conns_rejected);
        t->conns_lingering += STAT_GET(s->conns_lingering);
        t->status_conns_total += STAT_GET(s->status_conns_total);
        t->status_conns_active += STAT_GET(s->status_conns_active);
        t->status_conns_rejected += STAT_GET(s->status_conns_rejected);
        t->status_conns_refused += STAT_GET(s->status_conns_refused);
        t->fills_refused += STAT_GET(s->fills_refused);
        t->bad_requests += STAT_GET(s->bad_requests);
        for (int k = 0; k < 6; k++) {
            t->status[k] += STAT_GET(s->status[k]);
        }
    }
}

void edge_status_tick(edge_server_t *srv)
{
    edge_stats_t t;
    stats_sum(srv, &t);
    sample_t now = {edge_now_ms(), t.requests, t.bytes_out};
    if (n_samples == 0) {
        /* The start counts as a sample of zeros, so the first second has a rate too. */
        samples[n_samples++] = (sample_t){srv->start_ms, 0, 0};
    }
    if (n_samples == RATE_WINDOW + 1) {
        memmove(samples, samples + 1, sizeof(sample_t) * RATE_WINDOW);
        n_samples--;
    }
    samples[n_samples++] = now;
    const sample_t *old = &samples[0];
    double dt = (double)(now.ms - old->ms) / 1000.0;
    pthread_mutex_lock(&srv->rate_lock);
    if (dt > 0) {
        srv->rps = (double)(now.requests - old->requests) / dt;
        srv->egress_bps = (double)(now.bytes - old->bytes) * 8.0 / dt;
    }
    pthread_mutex_unlock(&srv->rate_lock);
}

static void rates(edge_server_t *srv, double *rps, double *bps)
{
    pthread_mutex_lock(&srv->rate_lock);
    *rps = srv->rps;
    *bps = srv->egress_bps;
    pthread_mutex_unlock(&srv->rate_lock);
}

static double load_value(edge_server_t *srv, const edge_stats_t *t, double rps, double bps)
{
    switch (srv->cfg->load_unit) {
    case EDGE_LOAD_REQUESTS_PER_S:
        return rps;
    case EDGE_LOAD_CONNECTIONS:
        return (double)t->conns_active;
    default:
        return bps / 1e6;
    }
}

typedef struct sbuf {
    char *p;
    size_t len;
    size_t cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_add(sbuf_t *b, const char *fmt, ...)
{
    for (;;) {
        if (!b->p) {
            return;
        }
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t nc = b->cap * 2 + (size_t)n;
        char *np = realloc(b->p, nc);
        if (!np) {
            free(b->p);
            b->p = NULL;
            return;
        }
        b->p = np;
        b->cap = nc;
    }
}

static double ratio(uint64_t a, uint64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

/* The figures both reports print, gathered once: summed worker stats, rates, cache sizes. */
typedef struct status_view {
    edge_stats_t t;
    double rps, bps;
    size_t objects;
    uint64_t bytes, evictions;
} status_view_t;

static void status_collect(edge_server_t *srv, status_view_t *v)
{
    stats_sum(srv, &v->t);
    rates(srv, &v->rps, &v->bps);
    edge_cache_lock(&srv->cache);
    v->objects = srv->cache.n_objects;
    v->bytes = srv->cache.bytes;
    v->evictions = srv->cache.evictions;
    edge_cache_unlock(&srv->cache);
}

char *edge_status_json(edge_server_t *srv, size_t *len)
{
    status_view_t v;
    status_collect(srv, &v);
    const edge_stats_t t = v.t;
    double rps = v.rps, bps = v.bps;
    size_t objects = v.objects;
    uint64_t bytes = v.bytes, evictions = v.evictions;
    int inflight = __atomic_load_n(&srv->cache.fills_inflight, __ATOMIC_RELAXED);
    uint64_t served = t.hits + t.stale + t.collapsed + t.revalidated;
    uint64_t lookups = served + t.misses;
    double load = load_value(srv, &t, rps, bps);
    sbuf_t b = {malloc(4096), 0, 4096};
    sb_add(
        &b,
        "{\"mode\":\"%s\",\"uptime_s\":%.1f,\"draining\":%s,\"workers\":%u,\n"
        "\"connections\":{\"active\":%llu,\"total\":%llu,\"rejected\":%llu,\"lingering\":%llu},\n"
        "\"status_connections\":{\"active\":%llu,\"total\":%llu,\"rejected\":%llu,"
        "\"refused\":%llu,\"max\":%u,\"listeners\":%zu},\n"
        "\"requests\":{\"total\":%llu,\"per_s\":%.1f,\"bad\":%llu,"
        "\"status\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,\"4xx\":%llu,\"5xx\":%llu}},\n"
        "\"egress\":{\"bytes_total\":%llu,\"bits_per_s\":%.0f},\n",
        srv->origin_mode ? "origin" : "edge", (double)(edge_now_ms() - srv->start_ms) / 1000.0,
        __atomic_load_n(&srv->draining, __ATOMIC_RELAXED) ? "true" : "false", srv->n_workers,
        (unsigned long long)t.conns_active, (unsigned long long)t.conns_total,
        (unsigned long long)t.conns_rejected, (unsigned long long)t.conns_lingering,
        (unsigned long long)t.status_conns_active, (unsigned long long)t.status_conns_total,
        (unsigned long long)t.status_conns_rejected, (unsigned long long)t.status_conns_refused,
        srv->cfg->status_max_connections, srv->cfg->n_status_listen, (unsigned long long)t.requests,
        rps, (unsigned long long)t.bad_requests, (unsigned long long)t.status[1],
        (unsigned long long)t.status[2], (unsigned long long)t.status[3],
        (unsigned long long)t.status[4], (unsigned long long)t.status[5],
        (unsigned long long)t.bytes_out, bps);
    sb_add(&b,
           "\"cache\":{\"objects\":%zu,\"bytes\":%llu,\"budget\":%llu,\"evictions\":%llu,"
           "\"lookups\":%llu,\"hits\":%llu,\"misses\":%llu,\"collapsed\":%llu,"
           "\"stale_served\":%llu,\"revalidated\":%llu,\"hit_ratio_requests\":%.4f,"
           "\"hit_ratio_bytes\":%.4f,\"fills_inflight\":%d,\"inflight_bytes\":%llu,"
           "\"readers_dropped\":%llu,\"fills_refused\":%llu,\"stores_refused\":%llu,"
           "\"fills_abandoned\":%llu,\"gzip_skipped\":%llu},\n",
           objects, (unsigned long long)bytes, (unsigned long long)srv->cache.budget,
           (unsigned long long)evictions, (unsigned long long)lookups, (unsigned long long)t.hits,
           (unsigned long long)t.misses, (unsigned long long)t.collapsed,
           (unsigned long long)t.stale, (unsigned long long)t.revalidated, ratio(served, lookups),
           ratio(t.body_bytes_cache, t.body_bytes_total), inflight,
           (unsigned long long)__atomic_load_n(&srv->cache.inflight_bytes, __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&srv->cache.readers_dropped, __ATOMIC_RELAXED),
           (unsigned long long)t.fills_refused,
           (unsigned long long)__atomic_load_n(&srv->cache.stores_refused, __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&srv->cache.fills_abandoned, __ATOMIC_RELAXED),
           (unsigned long long)__atomic_load_n(&srv->cache.gzip_skipped, __ATOMIC_RELAXED));
    if (srv->cache.disk) {
        edge_disk_stats_t ds;
        edge_disk_stats(srv->cache.disk, &ds);
        sb_add(&b,
               "\"disk\":{\"budget\":%llu,\"bytes\":%llu,\"body_bytes\":%llu,\"block\":%llu,"
               "\"objects\":%llu,\"writes\":%llu,\"hits\":%llu,\"evictions\":%llu,"
               "\"dropped\":%llu},\n",
               (unsigned long long)ds.budget, (unsigned long long)ds.bytes,
               (unsigned long long)ds.body_bytes, (unsigned long long)ds.block,
               (unsigned long long)ds.objects, (unsigned long long)ds.writes,
               (unsigned long long)ds.hits, (unsigned long long)ds.evictions,
               (unsigned long long)ds.dropped);
    }
    sb_add(&b, "\"origin\":{\"fetches\":%llu,\"errors\":%llu,\"bytes\":%llu,\"servers\":[",
           (unsigned long long)t.origin_fetches, (unsigned long long)t.origin_errors,
           (unsigned long long)t.origin_bytes);
    for (size_t i = 0; i < srv->cfg->n_origins; i++) {
        edge_origin_state_t *o = &srv->origins[i];
        uint64_t last = __atomic_load_n(&o->last_ok_ms, __ATOMIC_RELAXED);
        sb_add(&b,
               "%s{\"url\":\"%s\",\"up\":%s,\"fetches\":%llu,\"errors\":%llu,"
               "\"consecutive_errors\":%d,\"last_ok_age_s\":%.1f}",
               i ? "," : "", srv->cfg->origins[i].url,
               __atomic_load_n(&o->up, __ATOMIC_RELAXED) ? "true" : "false",
               (unsigned long long)__atomic_load_n(&o->fetches, __ATOMIC_RELAXED),
               (unsigned long long)__atomic_load_n(&o->errors, __ATOMIC_RELAXED),
               __atomic_load_n(&o->consecutive_errors, __ATOMIC_RELAXED),
               last ? (double)(edge_now_ms() - last) / 1000.0 : -1.0);
    }
    sb_add(&b, "]},\n\"load\":{\"value\":%.3f,\"unit\":\"%s\",\"capacity\":%.3f,\"ratio\":%.4f}}\n",
           load, edge_load_unit_name(srv->cfg->load_unit), srv->cfg->capacity,
           srv->cfg->capacity > 0 ? load / srv->cfg->capacity : 0.0);
    if (b.p) {
        *len = b.len;
    }
    return b.p;
}

char *edge_status_metrics(edge_server_t *srv, size_t *len)
{
    status_view_t v;
    status_collect(srv, &v);
    const edge_stats_t t = v.t;
    double rps = v.rps, bps = v.bps;
    size_t objects = v.objects;
    uint64_t bytes = v.bytes, evictions = v.evictions;
    sbuf_t b = {malloc(4096), 0, 4096};
    struct {
        const char *name;
        const char *type;
        const char *help;
        double v;
    } m[] = {
        {"segment_edge_requests_total", "counter", "Requests answered.", (double)t.requests},
        {"segment_edge_bad_requests_total", "counter", "Requests rejected as malformed.",
         (double)t.bad_requests},
        {"segment_edge_egress_bytes_total", "counter", "Bytes written to clients.",
         (double)t.bytes_out},
        {"segment_edge_connections_active", "gauge", "Open client connections.",
         (double)t.conns_active},
        {"segment_edge_connections_total", "counter", "Accepted client connections.",
         (double)t.conns_total},
        {"segment_edge_connections_rejected_total", "counter",
         "Connections closed at the connection bound.", (double)t.conns_rejected},
        {"segment_edge_connections_lingering", "gauge",
         "Connections in their lingering close (response sent, input still drained), of both "
         "listeners.",
         (double)t.conns_lingering},
        {"segment_edge_status_connections_active", "gauge",
         "Open connections of the status listeners (not in the connections above).",
         (double)t.status_conns_active},
        {"segment_edge_status_connections_total", "counter",
         "Accepted connections of the status listeners.", (double)t.status_conns_total},
        {"segment_edge_status_connections_rejected_total", "counter",
         "Status listener connections closed at status_max_connections.",
         (double)t.status_conns_rejected},
        {"segment_edge_status_connections_refused_total", "counter",
         "Status listener connections closed at once: the peer is outside status_allow.",
         (double)t.status_conns_refused},
        {"segment_edge_cache_hits_total", "counter", "Fresh cache hits.", (double)t.hits},
        {"segment_edge_cache_misses_total", "counter", "Requests that started an origin fetch.",
         (double)t.misses},
        {"segment_edge_cache_collapsed_total", "counter", "Requests attached to an in-flight fill.",
         (double)t.collapsed},
        {"segment_edge_cache_stale_total", "counter", "Stale responses served.", (double)t.stale},
        {"segment_edge_cache_revalidated_total", "counter", "Objects revalidated with a 304.",
         (double)t.revalidated},
        {"segment_edge_cache_objects", "gauge", "Objects in the memory cache.", (double)objects},
        {"segment_edge_cache_bytes", "gauge", "Bytes in the memory cache.", (double)bytes},
        {"segment_edge_cache_budget_bytes", "gauge", "Memory cache budget.",
         (double)srv->cache.budget},
        {"segment_edge_cache_evictions_total", "counter", "Objects evicted.", (double)evictions},
        {"segment_edge_fills_inflight", "gauge", "Origin fetches in flight.",
         (double)__atomic_load_n(&srv->cache.fills_inflight, __ATOMIC_RELAXED)},
        {"segment_edge_inflight_bytes", "gauge",
         "Bytes held by bodies outside the table: streamed through, not stored, or evicted while "
         "still being sent.",
         (double)__atomic_load_n(&srv->cache.inflight_bytes, __ATOMIC_RELAXED)},
        {"segment_edge_readers_dropped_total", "counter",
         "Readers dropped a full pass-through window behind.",
         (double)__atomic_load_n(&srv->cache.readers_dropped, __ATOMIC_RELAXED)},
        {"segment_edge_fills_refused_total", "counter",
         "Origin fetches not started because max_fills were in flight (503 or stale served).",
         (double)t.fills_refused},
        {"segment_edge_stores_refused_total", "counter",
         "Bodies streamed through without being stored for want of room in the budget.",
         (double)__atomic_load_n(&srv->cache.stores_refused, __ATOMIC_RELAXED)},
        {"segment_edge_fills_abandoned_total", "counter",
         "Fills stopped because nobody would read or keep the rest of the body.",
         (double)__atomic_load_n(&srv->cache.fills_abandoned, __ATOMIC_RELAXED)},
        {"segment_edge_gzip_skipped_total", "counter",
         "Playlist gzip copies not made for want of room in the budget (served identity).",
         (double)__atomic_load_n(&srv->cache.gzip_skipped, __ATOMIC_RELAXED)},
        {"segment_edge_origin_fetches_total", "counter", "Origin fetch attempts.",
         (double)t.origin_fetches},
        {"segment_edge_origin_errors_total", "counter", "Failed origin fetches.",
         (double)t.origin_errors},
        {"segment_edge_origin_bytes_total", "counter", "Body bytes read from origins.",
         (double)t.origin_bytes},
        {"segment_edge_requests_per_second", "gauge", "Requests per second (5 s window).", rps},
        {"segment_edge_egress_bits_per_second", "gauge", "Egress bits per second (5 s window).",
         bps},
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        sb_add(&b, "# HELP %s %s\n# TYPE %s %s\n%s %.0f\n", m[i].name, m[i].help, m[i].name,
               m[i].type, m[i].name, m[i].v);
    }
    if (srv->cache.disk) {
        edge_disk_stats_t ds;
        edge_disk_stats(srv->cache.disk, &ds);
        const struct {
            const char *name, *type, *help;
            uint64_t v;
        } d[] = {
            {"segment_edge_disk_budget_bytes", "gauge", "cache_disk.size.", ds.budget},
            {"segment_edge_disk_bytes", "gauge",
             "Bytes charged against the disk budget: bodies in whole filesystem blocks plus "
             "index entries.",
             ds.bytes},
            {"segment_edge_disk_body_bytes", "gauge", "The disk tier's bodies' lengths.",
             ds.body_bytes},
            {"segment_edge_disk_objects", "gauge", "Objects in the disk tier.", ds.objects},
            {"segment_edge_disk_writes_total", "counter", "Objects written to the disk tier.",
             ds.writes},
            {"segment_edge_disk_hits_total", "counter", "Requests served from the disk tier.",
             ds.hits},
            {"segment_edge_disk_evictions_total", "counter", "Objects evicted from the disk tier.",
             ds.evictions},
            {"segment_edge_disk_dropped_total", "counter",
             "Objects not written to the disk tier: its write queue was full.", ds.dropped},
        };
        for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
            sb_add(&b, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", d[i].name, d[i].help, d[i].name,
                   d[i].type, d[i].name, (unsigned long long)d[i].v);
        }
    }
    sb_add(&b, "# HELP segment_edge_responses_total Responses by status class (counted with "
               "their access line).\n"
               "# TYPE segment_edge_responses_total counter\n");
    for (int k = 1; k <= 5; k++) {
        sb_add(&b, "segment_edge_responses_total{code=\"%dxx\"} %llu\n", k,
               (unsigned long long)t.status[k]);
    }
    sb_add(&b, "# HELP segment_edge_load Load in the PoP capacity unit.\n"
               "# TYPE segment_edge_load gauge\n");
    sb_add(&b, "segment_edge_load{unit=\"%s\"} %.3f\n", edge_load_unit_name(srv->cfg->load_unit),
           load_value(srv, &t, rps, bps));
    if (srv->cfg->n_origins) {
        sb_add(&b, "# HELP segment_edge_origin_up 1 while the origin answers, 0 while it is "
                   "marked down.\n"
                   "# TYPE segment_edge_origin_up gauge\n");
    }
    for (size_t i = 0; i < srv->cfg->n_origins; i++) {
        sb_add(&b, "segment_edge_origin_up{origin=\"%s\"} %d\n", srv->cfg->origins[i].url,
               __atomic_load_n(&srv->origins[i].up, __ATOMIC_RELAXED));
    }
    if (b.p) {
        *len = b.len;
    }
    return b.p;
}

/* ---- endpoints ---- */

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

bool edge_status_serve(conn_t *c)
{
    edge_server_t *srv = c->w->srv;
    const char *p = c->buf->path;
    const char *text = "text/plain; charset=utf-8";
    bool is_status = strcmp(p, "/healthz") == 0 || strcmp(p, "/readyz") == 0 ||
                     strcmp(p, "/status") == 0 || strcmp(p, "/metrics") == 0;
    if (is_status && !edge_status_allowed(srv->cfg, (const struct sockaddr *)&c->peer)) {
        /* On a client listener: the status paths are the operator's, not the viewers'. */
        edge_conn_respond_error(c, 403);
    } else if (strcmp(p, "/healthz") == 0) {
        edge_conn_respond_simple(c, 200, text, "ok\n", 3, NULL);
    } else if (strcmp(p, "/readyz") == 0) {
        const char *why = NULL;
        bool ok = edge_ready(srv, &why);
        edge_conn_respond_simple(c, ok ? 200 : 503, text, why, strlen(why), NULL);
    } else if (strcmp(p, "/status") == 0 || strcmp(p, "/metrics") == 0) {
        size_t len = 0;
        bool json = p[1] == 's';
        char *body = json ? edge_status_json(srv, &len) : edge_status_metrics(srv, &len);
        if (!body) {
            edge_conn_respond_error(c, 500);
        } else {
            edge_conn_respond_simple(
                c, 200, json ? "application/json" : "text/plain; version=0.0.4; charset=utf-8",
                body, len, NULL);
            free(body);
        }
    } else {
        return false;
    }
    return true;
}
