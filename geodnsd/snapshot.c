/* snapshot.c: server config file and zone files -> one immutable snapshot; refcounting. */
#include "snapshot.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "georesp.h"
#include "hostport.h"
#include "path.h"
#include "yamltree.h"
#include "zoneload.h"

int gd_listen_parse(const char *s, gd_listen_t *out)
{
    memset(out, 0, sizeof(*out));
    char host[64];
    uint16_t p;
    if (hostport_parse(s, host, sizeof(host), &p))
        return -EINVAL;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&out->ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&out->ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(p);
        out->len = sizeof(*v4);
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(p);
        out->len = sizeof(*v6);
    } else {
        return -EINVAL;
    }
    snprintf(out->text, sizeof(out->text), "%s", s);
    return 0;
}

int gd_metrics_listen_parse(const char *s, gd_listen_t *out)
{
    const char *port = s[0] == ':' ? s + 1 : s;
    if (*port && strspn(port, "0123456789") == strlen(port)) {
        char full[32];
        if (strlen(port) > 5)
            return -EINVAL;
        snprintf(full, sizeof(full), "127.0.0.1:%s", port);
        return gd_listen_parse(full, out);
    }
    return gd_listen_parse(s, out);
}

/* An access list: a YAML list of ADDR or ADDR/BITS (key names it in errors), at most max, into
 * out[0..*n). */
static int parse_net_list(const yt_node_t *v, const char *key, addr_net_t *out, size_t max,
                          size_t *n, char *err, size_t errlen)
{
    if (v->kind != YT_SEQ)
        return yt_fail(err, errlen, v, "'%s' must be a list of ADDR or ADDR/BITS", key);
    if (v->n > max)
        return yt_fail(err, errlen, v, "at most %zu prefixes in '%s'", max, key);
    *n = 0;
    for (size_t i = 0; i < v->n; i++) {
        const char *str;
        if (yt_get_str(v->items[i], &str, err, errlen))
            return -EINVAL;
        if (addr_net_parse(str, &out[*n]))
            return yt_fail(err, errlen, v->items[i], "'%s' is not ADDR or ADDR/BITS", str);
        (*n)++;
    }
    return 0;
}

/* metrics: {listen: ADDR:PORT, allow: [...]}; --metrics replaces the address, not the list. */
static int parse_metrics(gd_config_t *c, const yt_node_t *n, const gd_overrides_t *ov, char *err,
                         size_t errlen)
{
    int rc;
    static const char *const keys[] = {"listen", "allow", NULL};
    if (n && (rc = yt_map_check_keys(n, keys, "metrics", err, errlen)))
        return rc;
    const yt_node_t *a = n ? yt_map_get(n, "allow") : NULL;
    if (a) {
        if ((rc = parse_net_list(a, "allow", c->metrics_allow, GD_METRICS_ALLOW_MAX,
                                 &c->n_metrics_allow, err, errlen)))
            return rc;
        if (c->n_metrics_allow == 0)
            return yt_fail(err, errlen, a,
                           "metrics.allow is empty: list who may read the metrics, or leave the "
                           "key out to allow any address");
    }
    if (ov && ov->metrics) {
        if (gd_metrics_listen_parse(ov->metrics, &c->metrics))
            return snprintf(err, errlen, "--metrics %s: expected ADDR:PORT, [ADDR6]:PORT or PORT",
                            ov->metrics),
                   -EINVAL;
        c->has_metrics = true;
        return 0;
    }
    if (!n)
        return 0;
    const char *v;
    const yt_node_t *l = yt_map_get(n, "listen");
    if (!l)
        return yt_fail(err, errlen, n, "metrics needs 'listen: ADDR:PORT'");
    if ((rc = yt_get_str(l, &v, err, errlen)))
        return rc;
    if (gd_metrics_listen_parse(v, &c->metrics))
        return yt_fail(err, errlen, l, "'%s' is not ADDR:PORT, [ADDR6]:PORT or PORT", v);
    c->has_metrics = true;
    return 0;
}

void gd_snapshot_ref(gd_snapshot_t *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void gd_snapshot_set_generation(gd_snapshot_t *s, uint64_t generation)
{
    s->generation = generation;
    s->env.generation = (uint32_t)generation;
    if (s->geo)
        s->geo->generation = (uint32_t)generation;
}

size_t gd_snapshot_records(const gd_snapshot_t *s)
{
    size_t records = 0;
    for (size_t i = 0; i < s->zones.nzones; i++)
        records += s->zones.zones[i]->nrecords;
    return records;
}

void gd_snapshot_unref(gd_snapshot_t *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        geo_runtime_free(s->geo);
        arena_deinit(&s->arena);
        free(s);
    }
}

/* rrl: {responses_per_second, slip, ipv4_prefix, ipv6_prefix, exempt, cookies, table_size} */
static int parse_rrl(rrl_config_t *r, const yt_node_t *n, char *err, size_t errlen)
{
    static const char *const keys[] = {"responses_per_second", "slip",   "ipv4_prefix",
                                       "ipv6_prefix",          "exempt", "cookies",
                                       "table_size",           NULL};
    rrl_config_default(r);
    if (yt_map_check_keys(n, keys, "rrl", err, errlen))
        return -EINVAL;
    const yt_node_t *v;
    uint32_t u;
    int rc;
    if (!(v = yt_map_get(n, "responses_per_second")))
        return yt_fail(err, errlen, n, "rrl needs 'responses_per_second: N'");
    if (yt_get_u32(v, 1, RRL_RATE_MAX, &r->rate, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "slip")) && yt_get_u32(v, 0, RRL_SLIP_MAX, &r->slip, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "ipv4_prefix"))) {
        if (yt_get_u32(v, 8, 32, &u, err, errlen))
            return -EINVAL;
        r->ipv4_prefix = (uint8_t)u;
    }
    if ((v = yt_map_get(n, "ipv6_prefix"))) {
        if (yt_get_u32(v, 16, 128, &u, err, errlen))
            return -EINVAL;
        r->ipv6_prefix = (uint8_t)u;
    }
    if ((v = yt_map_get(n, "cookies")) && yt_get_bool(v, &r->cookies, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "table_size"))) {
        if (yt_get_u32(v, RRL_TABLE_MIN, RRL_TABLE_MAX, &u, err, errlen))
            return -EINVAL;
        /* Rounded up to a power of two: the hash is masked, not divided. */
        uint32_t p2 = RRL_TABLE_MIN;
        while (p2 < u)
            p2 <<= 1;
        r->table_size = p2;
    }
    if ((v = yt_map_get(n, "exempt")) &&
        (rc = parse_net_list(v, "exempt", r->exempt, RRL_EXEMPT_MAX, &r->nexempt, err, errlen)))
        return rc;
    r->enabled = true;
    return 0;
}

/* Resolve a path relative to the directory of the config file. */
static char *rel_path(arena_t *a, const char *base_dir, const char *p)
{
    size_t n = path_join(NULL, 0, base_dir, p) + 1;
    char *r = arena_alloc(a, n);
    if (r)
        path_join(r, n, base_dir, p);
    return r;
}

typedef struct file_list {
    const char **v;
    size_t n, cap;
} file_list_t;

static int list_add(arena_t *a, file_list_t *l, const char *f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        const char **nv = arena_alloc(a, cap * sizeof(*nv));
        if (!nv)
            return -ENOMEM;
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof(*nv));
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = f;
    return 0;
}

struct add_ctx {
    arena_t *a;
    file_list_t *l;
    const gd_overrides_t *ov;
};

static bool cancelled(const gd_overrides_t *ov)
{
    return ov && ov->cancel && atomic_load_explicit(ov->cancel, memory_order_relaxed);
}

/* Called before each file is read (config, PoPs, mmdb, nets, every zone): the load's cancel
 * point, so a cancelled load stops within one file. */
static int add_file_cb(void *ctx, const char *path)
{
    struct add_ctx *ac = ctx;
    if (cancelled(ac->ov))
        return -ECANCELED;
    if (ac->ov && ac->ov->file_seen)
        ac->ov->file_seen(ac->ov->file_seen_ctx, path);
    char *p = arena_strdup(ac->a, path);
    return p ? list_add(ac->a, ac->l, p) : -ENOMEM;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int get_seconds(const yt_node_t *n, int64_t min, int64_t max, int64_t *out, char *err,
                       size_t errlen)
{
    uint64_t ms;
    if (yt_get_duration_ms(n, &ms, err, errlen))
        return -EINVAL;
    if ((int64_t)(ms / 1000) < min || (int64_t)(ms / 1000) > max)
        return yt_fail(err, errlen, n, "must be between %llds and %llds", (long long)min,
                       (long long)max);
    *out = (int64_t)(ms / 1000);
    return 0;
}

static int get_policy(const yt_node_t *n, bool keep_last_ok, health_policy_t *out, char *err,
                      size_t errlen)
{
    const char *v;
    if (yt_get_str(n, &v, err, errlen))
        return -EINVAL;
    if (!strcmp(v, "assume-up"))
        *out = HEALTH_ASSUME_UP;
    else if (!strcmp(v, "assume-down"))
        *out = HEALTH_ASSUME_DOWN;
    else if (keep_last_ok && !strcmp(v, "keep-last"))
        *out = HEALTH_KEEP_LAST;
    else
        return yt_fail(
            err, errlen, n, "must be %s, not '%s'",
            keep_last_ok ? "keep-last, assume-up or assume-down" : "assume-up or assume-down", v);
    return 0;
}

/* health: {dir, overrides, quorum, max_age, startup, all_stale, slow_start, recent, short_ttl,
 *          lag, spill} */
static int parse_health(gd_config_t *c, arena_t *a, const yt_node_t *n, const char *dir, char *err,
                        size_t errlen)
{
    static const char *const keys[] = {"dir",       "overrides", "quorum",     "max_age",
                                       "startup",   "all_stale", "slow_start", "recent",
                                       "short_ttl", "lag",       "spill",      NULL};
    health_settings_t *h = &c->health;
    if (yt_map_check_keys(n, keys, "health", err, errlen))
        return -EINVAL;
    const yt_node_t *v;
    const char *str;
    uint32_t u;
    if ((v = yt_map_get(n, "dir"))) {
        if (yt_get_str(v, &str, err, errlen))
            return -EINVAL;
        c->health_dir = rel_path(a, dir, str);
    }
    if ((v = yt_map_get(n, "overrides"))) {
        if (yt_get_str(v, &str, err, errlen))
            return -EINVAL;
        c->overrides_path = rel_path(a, dir, str);
    }
    if ((v = yt_map_get(n, "quorum"))) {
        if (yt_get_u32(v, 1, HEALTH_VANTAGES_MAX, &u, err, errlen))
            return -EINVAL;
        h->quorum = u;
    }
    if ((v = yt_map_get(n, "max_age")) && get_seconds(v, 1, 86400, &h->max_age, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "startup")) && get_policy(v, false, &h->startup, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "all_stale")) && get_policy(v, true, &h->all_stale, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "slow_start")) && get_seconds(v, 0, 86400, &h->slow_start, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "recent")) && get_seconds(v, 0, 86400, &h->recent, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "short_ttl")) && yt_get_u32(v, 0, 86400, &h->ttl_short, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "lag")) && get_seconds(v, 1, 3600, &h->lag, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "spill"))) {
        if (yt_get_u32(v, 1, ROUTE_CAND_MAX, &u, err, errlen))
            return -EINVAL;
        h->spill = u;
    }
    return 0;
}

/* Where a zone file was named: "geodnsd.yaml:4:10" (a zones entry) or the zone_dir key's
 * position, for errors about the zone as a whole. */
static const char *where_of(arena_t *a, const yt_node_t *n)
{
    char buf[1200];
    snprintf(buf, sizeof(buf), "%s:%u:%u", n->file, n->line, n->col);
    return arena_strdup(a, buf);
}

static int parse_server(gd_snapshot_t *s, const yt_node_t *root, const char *dir,
                        const gd_overrides_t *ov, file_list_t *zone_files, file_list_t *zone_where,
                        char *err, size_t errlen)
{
    gd_config_t *c = &s->cfg;
    arena_t *a = &s->arena;
    static const char *const keys[] = {"listen",        "workers",  "zones",  "zone_dir", "log",
                                       "tcp",           "edns",     "nsid",   "pops",     "geoip",
                                       "cookie_secret", "explain",  "health", "metrics",  "rrl",
                                       "tsig_keys",     "transfer", NULL};
    int rc = yt_map_check_keys(root, keys, "the server config", err, errlen);
    if (rc)
        return rc;
    c->workers = 0;
    c->log_level = LOG_LEVEL_INFO;
    c->tcp_idle_ms = 10000;
    c->tcp_max_conns = 256;
    c->tcp_max_xfr = 10;
    c->udp_size = 1232;

    const yt_node_t *n;
    if (ov && ov->nlisten) {
        for (size_t i = 0; i < ov->nlisten; i++) {
            if (gd_listen_parse(ov->listen[i], &c->listen[c->nlisten]))
                return snprintf(err, errlen, "--listen %s: expected ADDR:PORT or [ADDR6]:PORT",
                                ov->listen[i]),
                       -EINVAL;
            c->nlisten++;
        }
    } else if ((n = yt_map_get(root, "listen"))) {
        if (n->kind == YT_SCALAR) {
            if (gd_listen_parse(n->str, &c->listen[0]))
                return yt_fail(err, errlen, n, "'%s' is not ADDR:PORT or [ADDR6]:PORT", n->str);
            c->nlisten = 1;
        } else if (n->kind == YT_SEQ) {
            if (n->n > GD_MAX_LISTEN)
                return yt_fail(err, errlen, n, "at most %d listeners", GD_MAX_LISTEN);
            for (size_t i = 0; i < n->n; i++) {
                const char *v;
                if ((rc = yt_get_str(n->items[i], &v, err, errlen)))
                    return rc;
                if (gd_listen_parse(v, &c->listen[c->nlisten]))
                    return yt_fail(err, errlen, n->items[i],
                                   "'%s' is not ADDR:PORT or [ADDR6]:PORT", v);
                c->nlisten++;
            }
        } else {
            return yt_fail(err, errlen, n, "'listen' must be a list of ADDR:PORT");
        }
    }
    uint32_t v32;
    if ((n = yt_map_get(root, "workers"))) {
        if ((rc = yt_get_u32(n, 0, 64, &v32, err, errlen)))
            return rc;
        c->workers = v32;
    }
    if ((n = yt_map_get(root, "log"))) {
        static const char *const lk[] = {"level", "syslog", NULL};
        if ((rc = yt_map_check_keys(n, lk, "log", err, errlen)))
            return rc;
        const yt_node_t *l = yt_map_get(n, "level");
        if (l && l->kind == YT_SCALAR && log_level_parse(l->str, &c->log_level))
            return yt_fail(err, errlen, l, "log level must be error, warn, info or debug");
        if (l && l->kind != YT_SCALAR)
            return yt_fail(err, errlen, l, "log level must be error, warn, info or debug");
        const yt_node_t *sl = yt_map_get(n, "syslog");
        if (sl && (rc = yt_get_bool(sl, &c->syslog, err, errlen)))
            return rc;
    }
    if ((n = yt_map_get(root, "tcp"))) {
        static const char *const tk[] = {"idle_timeout", "max_connections", "max_transfers", NULL};
        if ((rc = yt_map_check_keys(n, tk, "tcp", err, errlen)))
            return rc;
        const yt_node_t *t = yt_map_get(n, "idle_timeout");
        if (t && (rc = yt_get_duration_ms(t, &c->tcp_idle_ms, err, errlen)))
            return rc;
        if (t && (c->tcp_idle_ms < 100 || c->tcp_idle_ms > 3600000))
            return yt_fail(err, errlen, t, "idle_timeout must be between 100ms and 1h");
        t = yt_map_get(n, "max_connections");
        if (t && (rc = yt_get_u32(t, 1, 65536, &c->tcp_max_conns, err, errlen)))
            return rc;
        t = yt_map_get(n, "max_transfers");
        if (t && (rc = yt_get_u32(t, 1, 1000, &c->tcp_max_xfr, err, errlen)))
            return rc;
    }
    if ((n = yt_map_get(root, "edns"))) {
        static const char *const ek[] = {"udp_size", NULL};
        if ((rc = yt_map_check_keys(n, ek, "edns", err, errlen)))
            return rc;
        const yt_node_t *t = yt_map_get(n, "udp_size");
        if (t && (rc = yt_get_u32(t, 512, 4096, &v32, err, errlen)))
            return rc;
        if (t)
            c->udp_size = (uint16_t)v32;
    }
    if ((n = yt_map_get(root, "nsid"))) {
        const char *v;
        if ((rc = yt_get_str(n, &v, err, errlen)))
            return rc;
        if (strlen(v) > 128)
            return yt_fail(err, errlen, n, "nsid longer than 128 bytes");
        c->nsid = (const uint8_t *)arena_strdup(a, v);
        c->nsid_len = (uint16_t)strlen(v);
    }
    if ((n = yt_map_get(root, "cookie_secret"))) {
        /* Shared by the servers of one anycast name so each accepts the others' cookies. */
        const char *v;
        if ((rc = yt_get_str(n, &v, err, errlen)))
            return rc;
        bool ok = strlen(v) == 32;
        for (size_t i = 0; ok && i < 16; i++) {
            unsigned b;
            ok = sscanf(v + 2 * i, "%2x", &b) == 1 && strchr("0123456789abcdefABCDEF", v[2 * i]) &&
                 strchr("0123456789abcdefABCDEF", v[2 * i + 1]);
            c->cookie_secret[i] = (uint8_t)b;
        }
        if (!ok)
            return yt_fail(err, errlen, n, "cookie_secret must be 32 hex digits (16 bytes)");
    } else {
        static uint8_t process_secret[16];
        static bool have_secret;
        if (!have_secret) {
            if (getrandom(process_secret, sizeof(process_secret), 0) !=
                (ssize_t)sizeof(process_secret))
                return snprintf(err, errlen, "getrandom: cannot make a cookie secret"), -EIO;
            have_secret = true;
        }
        memcpy(c->cookie_secret, process_secret, 16);
    }
    if ((n = yt_map_get(root, "explain")) && (rc = yt_get_bool(n, &c->explain, err, errlen)))
        return rc;
    health_settings_default(&c->health);
    if ((n = yt_map_get(root, "health")) && (rc = parse_health(c, a, n, dir, err, errlen)))
        return rc;
    if (ov && ov->health_dir)
        c->health_dir = arena_strdup(a, ov->health_dir);
    if ((rc = parse_metrics(c, yt_map_get(root, "metrics"), ov, err, errlen)))
        return rc;
    if ((n = yt_map_get(root, "rrl")) && (rc = parse_rrl(&c->rrl, n, err, errlen)))
        return rc;
    if ((n = yt_map_get(root, "zones"))) {
        if (n->kind != YT_SEQ)
            return yt_fail(err, errlen, n, "'zones' must be a list of zone files");
        for (size_t i = 0; i < n->n; i++) {
            const char *v;
            if ((rc = yt_get_str(n->items[i], &v, err, errlen)))
                return rc;
            if ((rc = list_add(a, zone_files, rel_path(a, dir, v))) ||
                (rc = list_add(a, zone_where, where_of(a, n->items[i]))))
                return rc;
        }
    }
    if ((n = yt_map_get(root, "zone_dir"))) {
        const char *v;
        if ((rc = yt_get_str(n, &v, err, errlen)))
            return rc;
        const char *zd = rel_path(a, dir, v);
        c->zone_dir = zd;
        if (ov && ov->file_seen) /* as it is before it is listed */
            ov->file_seen(ov->file_seen_ctx, zd);
        DIR *d = opendir(zd);
        if (!d)
            return yt_fail(err, errlen, n, "zone_dir %s: %s", zd, strerror(errno));
        size_t first = zone_files->n;
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!zone_dir_entry_is_zone(de->d_name))
                continue;
            if ((rc = list_add(a, zone_files, rel_path(a, zd, de->d_name))) ||
                (rc = list_add(a, zone_where, where_of(a, n)))) {
                closedir(d);
                return rc;
            }
        }
        closedir(d);
        /* Every entry of this folder has the same position: sorting the names alone is fine. */
        qsort(zone_files->v + first, zone_files->n - first, sizeof(char *), cmp_str);
    }
    if (c->nlisten == 0)
        return yt_fail(err, errlen, root, "no 'listen' addresses (or give --listen ADDR:PORT)");
    if (zone_files->n == 0)
        return yt_fail(err, errlen, root, "no zones: give 'zones' or 'zone_dir'");
    return 0;
}

/* Two zone files with the same apex (or one file named twice): say where the server config
 * names each. Only on that error, so the scans are fine. */
static void duplicate_zone_error(zone_t *const *zones, const file_list_t *files,
                                 const file_list_t *where, char *err, size_t errlen)
{
    for (size_t j = 1; j < files->n; j++)
        for (size_t i = 0; i < j; i++) {
            if (zones[i]->apexlen != zones[j]->apexlen ||
                memcmp(zones[i]->apex, zones[j]->apex, zones[i]->apexlen))
                continue;
            char name[DNS_NAME_TEXT_MAX];
            dns_name_to_str(zones[j]->apex, name, sizeof(name));
            if (!strcmp(files->v[i], files->v[j]))
                snprintf(err, errlen, "%s: the zone file %s is named twice (first at %s)",
                         where->v[j], files->v[j], where->v[i]);
            else
                snprintf(err, errlen,
                         "%s: zone %s is defined twice: by %s, and already by %s (named at %s)",
                         where->v[j], name, files->v[j], files->v[i], where->v[i]);
            return;
        }
}

int gd_snapshot_load(const char *config_path, const gd_overrides_t *ov, uint64_t generation,
                     gd_snapshot_t **out, char *err, size_t errlen)
{
    *out = NULL;
    if (errlen)
        err[0] = '\0';
    gd_snapshot_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "%s: out of memory", config_path);
        return -ENOMEM;
    }
    atomic_init(&s->refs, 1);
    s->generation = generation;
    arena_init(&s->arena);
    yt_doc_t *doc = NULL;
    file_list_t files = {0}, zone_files = {0}, zone_where = {0};
    struct add_ctx ac = {&s->arena, &files, ov};
    int rc = add_file_cb(&ac, config_path);
    if (rc || (rc = yt_doc_load_file(config_path, &doc, err, errlen)))
        goto fail;
    char *tmp = strdup(config_path);
    if (!tmp) {
        rc = -ENOMEM;
        goto fail;
    }
    char *dir = arena_strdup(&s->arena, dirname(tmp));
    free(tmp);
    s->cfg.path = arena_strdup(&s->arena, config_path);
    if ((rc = parse_server(s, yt_doc_root(doc), dir, ov, &zone_files, &zone_where, err, errlen)))
        goto fail;
    const yt_node_t *pops_node = yt_map_get(yt_doc_root(doc), "pops");
    const yt_node_t *geoip_node = yt_map_get(yt_doc_root(doc), "geoip");
    if (pops_node || geoip_node) {
        if ((rc = geo_runtime_load(pops_node, geoip_node, dir, (uint32_t)generation, add_file_cb,
                                   &ac, &s->geo, err, errlen)))
            goto fail;
    }
    zone_t **zones = arena_alloc(&s->arena, zone_files.n * sizeof(*zones));
    if (!zones) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < zone_files.n; i++) {
        if ((rc = add_file_cb(&ac, zone_files.v[i])))
            goto fail;
        if ((rc = zone_load_file(zone_files.v[i], &s->arena, s->geo ? &s->geo->ctx : NULL,
                                 add_file_cb, &ac, &zones[i], err, errlen)))
            goto fail;
    }
    if (cancelled(ov)) {
        rc = -ECANCELED;
        goto fail;
    }
    if ((rc = zone_set_build(&s->zones, zones, zone_files.n, &s->arena, err, errlen))) {
        if (rc == -EEXIST)
            duplicate_zone_error(zones, &zone_files, &zone_where, err, errlen);
        goto fail;
    }
    georesp_warn_targets(s->geo, &s->zones);
    /* Transfer rules: the server's, and each zone's own with keys from the same ring. */
    {
        const yt_node_t *root = yt_doc_root(doc);
        const yt_node_t *tn = yt_map_get(root, "transfer");
        if ((rc = xfr_keys_parse(yt_map_get(root, "tsig_keys"), &s->arena, &s->cfg.xfr_keys, err,
                                 errlen)))
            goto fail;
        if (tn && !yt_is_null(tn) &&
            (rc = xfr_policy_parse(tn, &s->arena, &s->cfg.xfr, err, errlen)))
            goto fail;
        rc = -EINVAL;
        if (xfr_policy_resolve(s->cfg.xfr, &s->cfg.xfr_keys, err, errlen))
            goto fail;
        for (size_t i = 0; i < zone_files.n; i++)
            if (xfr_policy_resolve(zones[i]->xfr, &s->cfg.xfr_keys, err, errlen))
                goto fail;
        s->env.xfr = s->cfg.xfr;
        s->env.xfr_keys = &s->cfg.xfr_keys;
    }
    s->cfg.files = files.v;
    s->cfg.nfiles = files.n;
    s->env.zones = &s->zones;
    s->env.geo = s->geo;
    s->env.generation = (uint32_t)generation;
    s->env.cookie_secret = s->cfg.cookie_secret;
    s->env.explain = s->cfg.explain;
    s->env.udp_size = s->cfg.udp_size;
    s->env.nsid = s->cfg.nsid;
    s->env.nsid_len = s->cfg.nsid_len;
    uint64_t ka = s->cfg.tcp_idle_ms / 100;
    s->env.keepalive = (uint16_t)(ka > 65535 ? 65535 : ka);
    yt_doc_free(doc);
    *out = s;
    return 0;
fail:
    if (rc == -ECANCELED)
        snprintf(err, errlen, "%s: load cancelled", config_path);
    else if (errlen && !err[0]) /* a step that failed without a word: out of memory, mostly */
        snprintf(err, errlen, "%s: %s", config_path, strerror(rc < 0 ? -rc : ENOMEM));
    yt_doc_free(doc);
    geo_runtime_free(s->geo);
    arena_deinit(&s->arena);
    free(s);
    return rc;
}
