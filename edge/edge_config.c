/* edge_config.c: segment-edge configuration from defaults, a YAML file and the command line. */
#include "edge_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "yamltree.h"

static const char *const ll_hls_params[] = {"_HLS_msn", "_HLS_part", "_HLS_skip", NULL};

static void keep_params_reset(edge_config_t *cfg)
{
    size_t n = 0;
    for (; ll_hls_params[n]; n++) {
        snprintf(cfg->keep_params_buf[n], sizeof(cfg->keep_params_buf[n]), "%s", ll_hls_params[n]);
        cfg->keep_params[n] = cfg->keep_params_buf[n];
    }
    cfg->keep_params[n] = NULL;
}

static int keep_params_add(edge_config_t *cfg, const char *name)
{
    size_t n = 0;
    while (cfg->keep_params[n]) {
        if (strcmp(cfg->keep_params[n], name) == 0) {
            return 0;
        }
        n++;
    }
    if (n >= EDGE_MAX_KEEP || strlen(name) >= sizeof(cfg->keep_params_buf[0]) || !*name) {
        return -EINVAL;
    }
    snprintf(cfg->keep_params_buf[n], sizeof(cfg->keep_params_buf[n]), "%s", name);
    cfg->keep_params[n] = cfg->keep_params_buf[n];
    cfg->keep_params[n + 1] = NULL;
    return 0;
}

void edge_config_defaults(edge_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->workers = 1;
    cfg->cache_mem = 256ull << 20;
    cfg->max_object = 0; /* 0: an eighth of the memory budget */
    cfg->passthrough_window = 4ull << 20;
    cfg->slow_reader_timeout = 10000;
    cfg->cache_disk_size = 1ull << 30;
    cfg->ttl_segment = 86400000;
    cfg->ttl_vod_playlist = 86400000;
    cfg->ttl_live_playlist_max = 0;
    cfg->ttl_other = 60000;
    cfg->ttl_error = 1000;
    cfg->stale_while_revalidate = 10000;
    cfg->stale_if_error = 60000;
    cfg->live_stale_max = 2000;
    keep_params_reset(cfg);
    cfg->connect_timeout = 2000;
    cfg->first_byte_timeout = 5000;
    cfg->between_bytes_timeout = 5000;
    cfg->header_read_timeout = 10000;
    cfg->body_timeout = 120000;
    cfg->idle_timeout = 60000;
    cfg->send_timeout = 30000;
    cfg->drain_timeout = 30000;
    cfg->drain_grace = 0;
    cfg->origin_probe_interval = 2000;
    cfg->max_connections = 10000;
    cfg->max_header_bytes = 16384;
    cfg->max_uri = 8192;
    cfg->max_upload = 1ull << 30;
    edge_cidr_parse("127.0.0.0/8", &cfg->upload_allow[0]);
    edge_cidr_parse("::1/128", &cfg->upload_allow[1]);
    cfg->n_upload_allow = 2;
    snprintf(cfg->cors_allow_origin, sizeof(cfg->cors_allow_origin), "*");
    cfg->load_unit = EDGE_LOAD_EGRESS_MBPS;
    cfg->capacity = 0;
    cfg->access_log = true;
    snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
}

const char *edge_load_unit_name(edge_load_unit_t u)
{
    switch (u) {
    case EDGE_LOAD_REQUESTS_PER_S:
        return "requests_per_s";
    case EDGE_LOAD_CONNECTIONS:
        return "connections";
    default:
        return "egress_mbps";
    }
}

int edge_size_parse(const char *s, uint64_t *out)
{
    char *end = NULL;
    if (!s || !*s || *s == '-') {
        return -EINVAL;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s) {
        return -EINVAL;
    }
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K') {
        shift = 10;
        end++;
    } else if (*end == 'm' || *end == 'M') {
        shift = 20;
        end++;
    } else if (*end == 'g' || *end == 'G') {
        shift = 30;
        end++;
    }
    if (*end == 'B' || *end == 'b') {
        end++;
    }
    if (*end || (shift && v > (UINT64_MAX >> shift))) {
        return -EINVAL;
    }
    *out = (uint64_t)v << shift;
    return 0;
}

int edge_origin_parse(const char *url, edge_origin_cfg_t *o)
{
    memset(o, 0, sizeof(*o));
    if (strncasecmp(url, "http://", 7) != 0 || strlen(url) >= sizeof(o->url)) {
        return -EINVAL;
    }
    snprintf(o->url, sizeof(o->url), "%s", url);
    const char *a = url + 7;
    const char *slash = strchr(a, '/');
    size_t al = slash ? (size_t)(slash - a) : strlen(a);
    if (al == 0 || al >= sizeof(o->authority)) {
        return -EINVAL;
    }
    memcpy(o->authority, a, al);
    o->authority[al] = '\0';
    char hp[300];
    bool has_port = (o->authority[0] == '[') ? strstr(o->authority, "]:") != NULL
                                             : strchr(o->authority, ':') != NULL;
    snprintf(hp, sizeof(hp), has_port ? "%s" : "%s:80", o->authority);
    if (edge_hostport_split(hp, o->host, sizeof(o->host), o->port, sizeof(o->port)) != 0) {
        return -EINVAL;
    }
    if (slash) {
        size_t pl = strlen(slash);
        while (pl > 0 && slash[pl - 1] == '/') {
            pl--;
        }
        if (pl >= sizeof(o->prefix) || memchr(slash, '?', pl)) {
            return -EINVAL;
        }
        memcpy(o->prefix, slash, pl);
        o->prefix[pl] = '\0';
    }
    return 0;
}

int edge_cidr_parse(const char *s, edge_cidr_t *c)
{
    char buf[64];
    if (strlen(s) >= sizeof(buf)) {
        return -EINVAL;
    }
    snprintf(buf, sizeof(buf), "%s", s);
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        char *end = NULL;
        bits = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || bits < 0) {
            return -EINVAL;
        }
    }
    memset(c, 0, sizeof(*c));
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        if (bits > 32) {
            return -EINVAL;
        }
        c->bits = bits < 0 ? 32 : (unsigned)bits;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        if (bits > 128) {
            return -EINVAL;
        }
        c->bits = bits < 0 ? 128 : (unsigned)bits;
    } else {
        return -EINVAL;
    }
    return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
    unsigned full = bits / 8;
    if (memcmp(a, b, full) != 0) {
        return false;
    }
    unsigned rest = bits % 8;
    if (rest == 0) {
        return true;
    }
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (b[full] & mask);
}

bool edge_cidr_match(const edge_cidr_t *list, size_t n, const void *sockaddr)
{
    const struct sockaddr *sa = sockaddr;
    uint8_t a4[4];
    const uint8_t *a6 = NULL;
    bool v4 = false;
    if (sa->sa_family == AF_INET) {
        memcpy(a4, &((const struct sockaddr_in *)sockaddr)->sin_addr, 4);
        v4 = true;
    } else if (sa->sa_family == AF_INET6) {
        a6 = ((const struct sockaddr_in6 *)sockaddr)->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a6, mapped, 12) == 0) {
            memcpy(a4, a6 + 12, 4);
            v4 = true;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].family == AF_INET && v4 && prefix_match(list[i].addr, a4, list[i].bits)) {
            return true;
        }
        if (list[i].family == AF_INET6 && a6 && prefix_match(list[i].addr, a6, list[i].bits)) {
            return true;
        }
    }
    return false;
}

static int str_copy(const yt_node_t *n, char *dst, size_t cap, char *err, size_t errlen)
{
    const char *s = NULL;
    int rc = yt_get_str(n, &s, err, errlen);
    if (rc) {
        return rc;
    }
    if (strlen(s) >= cap) {
        return yt_fail(err, errlen, n, "value too long");
    }
    snprintf(dst, cap, "%s", s);
    return 0;
}

/* A scalar or a sequence of scalars, each handed to fn. */
typedef int (*item_fn)(edge_config_t *cfg, const yt_node_t *item, char *err, size_t errlen);

static int each_item(edge_config_t *cfg, const yt_node_t *n, item_fn fn, char *err, size_t errlen)
{
    if (n->kind == YT_SCALAR) {
        return fn(cfg, n, err, errlen);
    }
    if (n->kind != YT_SEQ) {
        return yt_fail(err, errlen, n, "expected a string or a list of strings");
    }
    for (size_t i = 0; i < n->n; i++) {
        int rc = fn(cfg, n->items[i], err, errlen);
        if (rc) {
            return rc;
        }
    }
    return 0;
}

static int item_listen(edge_config_t *cfg, const yt_node_t *n, char *err, size_t errlen)
{
    char h[128];
    char p[8];
    if (cfg->n_listen >= EDGE_MAX_LISTEN) {
        return yt_fail(err, errlen, n, "too many listen addresses (max %d)", EDGE_MAX_LISTEN);
    }
    int rc = str_copy(n, cfg->listen[cfg->n_listen], sizeof(cfg->listen[0]), err, errlen);
    if (rc) {
        return rc;
    }
    if (edge_hostport_split(cfg->listen[cfg->n_listen], h, sizeof(h), p, sizeof(p)) != 0) {
        return yt_fail(err, errlen, n, "expected host:port or [v6]:port");
    }
    cfg->n_listen++;
    return 0;
}

static int item_origin(edge_config_t *cfg, const yt_node_t *n, char *err, size_t errlen)
{
    const char *s = NULL;
    int rc = yt_get_str(n, &s, err, errlen);
    if (rc) {
        return rc;
    }
    if (cfg->n_origins >= EDGE_MAX_ORIGINS) {
        return yt_fail(err, errlen, n, "too many origins (max %d)", EDGE_MAX_ORIGINS);
    }
    if (edge_origin_parse(s, &cfg->origins[cfg->n_origins]) != 0) {
        return yt_fail(err, errlen, n, "expected an origin URL like http://host:port[/prefix]");
    }
    cfg->n_origins++;
    return 0;
}

static int item_keep(edge_config_t *cfg, const yt_node_t *n, char *err, size_t errlen)
{
    const char *s = NULL;
    int rc = yt_get_str(n, &s, err, errlen);
    if (rc) {
        return rc;
    }
    if (keep_params_add(cfg, s) != 0) {
        return yt_fail(err, errlen, n, "bad or too many cache key parameters");
    }
    return 0;
}

static int item_cidr(edge_config_t *cfg, const yt_node_t *n, char *err, size_t errlen)
{
    const char *s = NULL;
    int rc = yt_get_str(n, &s, err, errlen);
    if (rc) {
        return rc;
    }
    if (cfg->n_upload_allow >= EDGE_MAX_CIDRS) {
        return yt_fail(err, errlen, n, "too many address ranges (max %d)", EDGE_MAX_CIDRS);
    }
    if (edge_cidr_parse(s, &cfg->upload_allow[cfg->n_upload_allow]) != 0) {
        return yt_fail(err, errlen, n, "expected an address or address/prefix");
    }
    cfg->n_upload_allow++;
    return 0;
}

static int get_ms(const yt_node_t *map, const char *key, uint64_t *out, char *err, size_t errlen)
{
    const yt_node_t *n = yt_map_get(map, key);
    return n ? yt_get_duration_ms(n, out, err, errlen) : 0;
}

static int load_freshness(edge_config_t *cfg, const yt_node_t *m, char *err, size_t errlen)
{
    static const char *const keys[] = {"segment",        "vod_playlist",   "live_playlist_max",
                                       "other",          "error",          "stale_while_revalidate",
                                       "stale_if_error", "live_stale_max", NULL};
    int rc = yt_map_check_keys(m, keys, "freshness", err, errlen);
    if (rc == 0) {
        rc = get_ms(m, "segment", &cfg->ttl_segment, err, errlen);
    }
    if (rc == 0) {
        rc = get_ms(m, "vod_playlist", &cfg->ttl_vod_playlist, err, errlen);
    }
    if (rc == 0) {
        rc = get_ms(m, "live_playlist_max", &cfg->ttl_live_playlist_max, err, errlen);
    }
    if (rc == 0) {
        rc = get_ms(m, "other", &cfg->ttl_other, err, errlen);
    }
    if (rc == 0) {
        rc = get_ms(m, "error", &cfg->ttl_error, err, errlen);
    }
    if (rc == 0) {
        rc = get_ms(m, "stale_while_revalidate", &cfg->stale_while_revalidate, err, errlen);
    }
    if (rc == 0) {
        rc = get_ms(m, "stale_if_error", &cfg->stale_if_error, err, errlen);
    }
    if (rc == 0) {
        rc = get_ms(m, "live_stale_max", &cfg->live_stale_max, err, errlen);
    }
    return rc;
}

static int load_timeouts(edge_config_t *cfg, const yt_node_t *m, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "connect", "first_byte", "between_bytes", "header_read", "body", "idle", "send",
        "drain",   "drain_grace", "origin_probe_interval", "slow_reader", NULL};
    struct {
        const char *k;
        uint64_t *v;
    } t[] = {
        {"connect", &cfg->connect_timeout},
        {"first_byte", &cfg->first_byte_timeout},
        {"between_bytes", &cfg->between_bytes_timeout},
        {"header_read", &cfg->header_read_timeout},
        {"body", &cfg->body_timeout},
        {"idle", &cfg->idle_timeout},
        {"send", &cfg->send_timeout},
        {"drain", &cfg->drain_timeout},
        {"drain_grace", &cfg->drain_grace},
        {"origin_probe_interval", &cfg->origin_probe_interval},
        {"slow_reader", &cfg->slow_reader_timeout},
    };
    int rc = yt_map_check_keys(m, keys, "timeouts", err, errlen);
    for (size_t i = 0; rc == 0 && i < sizeof(t) / sizeof(t[0]); i++) {
        rc = get_ms(m, t[i].k, t[i].v, err, errlen);
        if (rc == 0 && *t[i].v == 0 && strcmp(t[i].k, "drain_grace") != 0 &&
            yt_map_get(m, t[i].k)) {
            rc = yt_fail(err, errlen, yt_map_get(m, t[i].k), "timeout must be positive");
        }
    }
    return rc;
}

static int load_limits(edge_config_t *cfg, const yt_node_t *m, char *err, size_t errlen)
{
    static const char *const keys[] = {"max_connections", "max_header_bytes", "max_uri",
                                       "max_upload", NULL};
    int rc = yt_map_check_keys(m, keys, "limits", err, errlen);
    const yt_node_t *n;
    if (rc == 0 && (n = yt_map_get(m, "max_connections"))) {
        rc = yt_get_u32(n, 1, 1000000, &cfg->max_connections, err, errlen);
    }
    uint64_t v = 0;
    if (rc == 0 && (n = yt_map_get(m, "max_header_bytes"))) {
        rc = yt_get_size(n, &v, err, errlen);
        if (rc == 0 && (v < 1024 || v > (1u << 20))) {
            rc = yt_fail(err, errlen, n, "max_header_bytes must be within 1k..1M");
        }
        cfg->max_header_bytes = (uint32_t)v;
    }
    if (rc == 0 && (n = yt_map_get(m, "max_uri"))) {
        rc = yt_get_size(n, &v, err, errlen);
        if (rc == 0 && (v < 256 || v > (1u << 20))) {
            rc = yt_fail(err, errlen, n, "max_uri must be within 256..1M");
        }
        cfg->max_uri = (uint32_t)v;
    }
    if (rc == 0 && (n = yt_map_get(m, "max_upload"))) {
        rc = yt_get_size(n, &cfg->max_upload, err, errlen);
    }
    return rc;
}

static int load_root(edge_config_t *cfg, const yt_node_t *root, char *err, size_t errlen)
{
    static const char *const keys[] = {"listen",
                                       "workers",
                                       "root",
                                       "follow_symlinks",
                                       "origin",
                                       "cache_memory",
                                       "max_object",
                                       "passthrough_window",
                                       "cache_disk",
                                       "freshness",
                                       "cache_key_params",
                                       "timeouts",
                                       "limits",
                                       "upload_allow",
                                       "cors_allow_origin",
                                       "load",
                                       "access_log",
                                       "log_level",
                                       "throttle",
                                       NULL};
    int rc = yt_map_check_keys(root, keys, "the edge configuration", err, errlen);
    if (rc) {
        return rc;
    }
    const yt_node_t *n;
    if ((n = yt_map_get(root, "listen"))) {
        cfg->n_listen = 0;
        if ((rc = each_item(cfg, n, item_listen, err, errlen))) {
            return rc;
        }
    }
    if ((n = yt_map_get(root, "workers")) &&
        (rc = yt_get_u32(n, 1, 64, &cfg->workers, err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "root")) &&
        (rc = str_copy(n, cfg->root, sizeof(cfg->root), err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "origin"))) {
        cfg->n_origins = 0;
        if ((rc = each_item(cfg, n, item_origin, err, errlen))) {
            return rc;
        }
    }
    if ((n = yt_map_get(root, "cache_memory"))) {
        if ((rc = yt_get_size(n, &cfg->cache_mem, err, errlen))) {
            return rc;
        }
        if (cfg->cache_mem < (1u << 20)) {
            return yt_fail(err, errlen, n, "cache_memory must be at least 1M");
        }
    }
    if ((n = yt_map_get(root, "max_object")) &&
        (rc = yt_get_size(n, &cfg->max_object, err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "passthrough_window"))) {
        if ((rc = yt_get_size(n, &cfg->passthrough_window, err, errlen))) {
            return rc;
        }
        if (cfg->passthrough_window < EDGE_PASSTHROUGH_WINDOW_MIN) {
            return yt_fail(err, errlen, n, "passthrough_window must be at least 128k");
        }
    }
    if ((n = yt_map_get(root, "cache_disk"))) {
        static const char *const dkeys[] = {"path", "size", NULL};
        if ((rc = yt_map_check_keys(n, dkeys, "cache_disk", err, errlen))) {
            return rc;
        }
        const yt_node_t *v = yt_map_get(n, "path");
        if (!v) {
            return yt_fail(err, errlen, n, "cache_disk needs a path");
        }
        if ((rc = str_copy(v, cfg->cache_disk_path, sizeof(cfg->cache_disk_path), err, errlen))) {
            return rc;
        }
        if ((v = yt_map_get(n, "size"))) {
            if ((rc = yt_get_size(v, &cfg->cache_disk_size, err, errlen))) {
                return rc;
            }
            if (cfg->cache_disk_size < (1u << 20)) {
                return yt_fail(err, errlen, v, "cache_disk size must be at least 1M");
            }
        }
    }
    if ((n = yt_map_get(root, "freshness")) && (rc = load_freshness(cfg, n, err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "cache_key_params")) &&
        (rc = each_item(cfg, n, item_keep, err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "timeouts")) && (rc = load_timeouts(cfg, n, err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "limits")) && (rc = load_limits(cfg, n, err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "upload_allow"))) {
        cfg->n_upload_allow = 0;
        if ((rc = each_item(cfg, n, item_cidr, err, errlen))) {
            return rc;
        }
    }
    if ((n = yt_map_get(root, "cors_allow_origin")) &&
        (rc = str_copy(n, cfg->cors_allow_origin, sizeof(cfg->cors_allow_origin), err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "load"))) {
        static const char *const lkeys[] = {"unit", "capacity", NULL};
        if ((rc = yt_map_check_keys(n, lkeys, "load", err, errlen))) {
            return rc;
        }
        const yt_node_t *u = yt_map_get(n, "unit");
        if (u) {
            const char *s = NULL;
            if ((rc = yt_get_str(u, &s, err, errlen))) {
                return rc;
            }
            if (strcmp(s, "egress_mbps") == 0) {
                cfg->load_unit = EDGE_LOAD_EGRESS_MBPS;
            } else if (strcmp(s, "requests_per_s") == 0) {
                cfg->load_unit = EDGE_LOAD_REQUESTS_PER_S;
            } else if (strcmp(s, "connections") == 0) {
                cfg->load_unit = EDGE_LOAD_CONNECTIONS;
            } else {
                return yt_fail(err, errlen, u,
                               "unit must be egress_mbps, requests_per_s or connections");
            }
        }
        const yt_node_t *c = yt_map_get(n, "capacity");
        if (c && (rc = yt_get_double(c, 0, 1e12, &cfg->capacity, err, errlen))) {
            return rc;
        }
    }
    if ((n = yt_map_get(root, "access_log")) &&
        (rc = yt_get_bool(n, &cfg->access_log, err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "follow_symlinks")) &&
        (rc = yt_get_bool(n, &cfg->follow_symlinks, err, errlen))) {
        return rc;
    }
    if ((n = yt_map_get(root, "log_level"))) {
        if ((rc = str_copy(n, cfg->log_level, sizeof(cfg->log_level), err, errlen))) {
            return rc;
        }
    }
    if ((n = yt_map_get(root, "throttle")) && (rc = yt_get_size(n, &cfg->throttle, err, errlen))) {
        return rc;
    }
    return 0;
}

static int load_doc(edge_config_t *cfg, yt_doc_t *doc, char *err, size_t errlen)
{
    const yt_node_t *root = yt_doc_root(doc);
    int rc;
    if (!root || yt_is_null(root)) {
        rc = 0; /* an empty file changes nothing */
    } else {
        rc = load_root(cfg, root, err, errlen);
    }
    yt_doc_free(doc);
    return rc;
}

int edge_config_load_file(edge_config_t *cfg, const char *path, char *err, size_t errlen)
{
    yt_doc_t *doc = NULL;
    int rc = yt_doc_load_file(path, &doc, err, errlen);
    if (rc) {
        return rc;
    }
    return load_doc(cfg, doc, err, errlen);
}

int edge_config_load_buffer(edge_config_t *cfg, const char *name, const char *buf, size_t len,
                            char *err, size_t errlen)
{
    yt_doc_t *doc = NULL;
    size_t i = 0;
    while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')) {
        i++;
    }
    if (i == len) {
        return 0; /* an empty configuration changes nothing */
    }
    int rc = yt_doc_load_buffer(name, buf, len, &doc, err, errlen);
    if (rc) {
        return rc;
    }
    return load_doc(cfg, doc, err, errlen);
}

static int arg_fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int arg_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static const char usage[] =
    "usage: segment-edge [-c FILE] --listen HOST:PORT (--root DIR | --origin URL...) [options]\n"
    "  -c, --config FILE      YAML configuration (command line options override it)\n"
    "  --listen HOST:PORT     listen address (repeatable; [::1]:PORT for IPv6)\n"
    "  --root DIR             origin mode: serve DIR, accept PUT/DELETE from upload_allow\n"
    "  --follow-symlinks      origin mode: follow symbolic links inside DIR (never out of it)\n"
    "  --origin URL           edge mode: pull-through cache of URL (repeatable, failover order)\n"
    "  --cache-mem SIZE       memory cache budget (default 256M)\n"
    "  --max-object SIZE      larger bodies are streamed through, not stored (default budget/8)\n"
    "  --passthrough-window SIZE  bytes held per streamed-through body (default 4M)\n"
    "  --cache-disk DIR       disk tier for objects evicted from memory (files removed at start)\n"
    "  --cache-disk-size SIZE disk tier budget (default 1G)\n"
    "  --workers N            worker threads, one loop each (default 1)\n"
    "  --throttle BYTES/S     origin mode: send bodies at this rate (test aid)\n"
    "  --log-level LEVEL      error, warn, info, debug\n"
    "  --no-access-log        no access log lines\n"
    "  -h, --help             this text\n";

int edge_config_args(edge_config_t *cfg, int argc, char **argv, char *err, size_t errlen)
{
    /* The file first, so that options override it. */
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            int rc = edge_config_load_file(cfg, argv[i + 1], err, errlen);
            if (rc) {
                return rc;
            }
        }
    }
    bool listen_set = false;
    bool origin_set = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (strcmp(a, "--no-access-log") == 0) {
            cfg->access_log = false;
            continue;
        }
        if (strcmp(a, "--follow-symlinks") == 0) {
            cfg->follow_symlinks = true;
            continue;
        }
        if (!v) {
            return arg_fail(err, errlen, "unknown option or missing value: %s\n%s", a, usage);
        }
        i++;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            continue;
        } else if (strcmp(a, "--listen") == 0) {
            char h[128];
            char p[8];
            if (!listen_set) {
                cfg->n_listen = 0;
                listen_set = true;
            }
            if (cfg->n_listen >= EDGE_MAX_LISTEN || strlen(v) >= sizeof(cfg->listen[0]) ||
                edge_hostport_split(v, h, sizeof(h), p, sizeof(p)) != 0) {
                return arg_fail(err, errlen, "--listen %s: expected HOST:PORT", v);
            }
            snprintf(cfg->listen[cfg->n_listen++], sizeof(cfg->listen[0]), "%s", v);
        } else if (strcmp(a, "--root") == 0) {
            if (strlen(v) >= sizeof(cfg->root)) {
                return arg_fail(err, errlen, "--root: path too long");
            }
            snprintf(cfg->root, sizeof(cfg->root), "%s", v);
        } else if (strcmp(a, "--origin") == 0) {
            if (!origin_set) {
                cfg->n_origins = 0;
                origin_set = true;
            }
            if (cfg->n_origins >= EDGE_MAX_ORIGINS ||
                edge_origin_parse(v, &cfg->origins[cfg->n_origins]) != 0) {
                return arg_fail(err, errlen, "--origin %s: expected http://HOST:PORT[/prefix]", v);
            }
            cfg->n_origins++;
        } else if (strcmp(a, "--cache-mem") == 0) {
            if (edge_size_parse(v, &cfg->cache_mem) != 0 || cfg->cache_mem < (1u << 20)) {
                return arg_fail(err, errlen, "--cache-mem %s: expected a size of at least 1M", v);
            }
        } else if (strcmp(a, "--max-object") == 0) {
            if (edge_size_parse(v, &cfg->max_object) != 0) {
                return arg_fail(err, errlen, "--max-object %s: expected a size", v);
            }
        } else if (strcmp(a, "--passthrough-window") == 0) {
            if (edge_size_parse(v, &cfg->passthrough_window) != 0 ||
                cfg->passthrough_window < EDGE_PASSTHROUGH_WINDOW_MIN) {
                return arg_fail(err, errlen,
                                "--passthrough-window %s: expected a size of at least 128k", v);
            }
        } else if (strcmp(a, "--cache-disk") == 0) {
            if (strlen(v) >= sizeof(cfg->cache_disk_path) || !*v) {
                return arg_fail(err, errlen, "--cache-disk: bad path");
            }
            snprintf(cfg->cache_disk_path, sizeof(cfg->cache_disk_path), "%s", v);
        } else if (strcmp(a, "--cache-disk-size") == 0) {
            if (edge_size_parse(v, &cfg->cache_disk_size) != 0 ||
                cfg->cache_disk_size < (1u << 20)) {
                return arg_fail(err, errlen, "--cache-disk-size %s: expected at least 1M", v);
            }
        } else if (strcmp(a, "--workers") == 0) {
            char *end = NULL;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 64) {
                return arg_fail(err, errlen, "--workers %s: expected 1..64", v);
            }
            cfg->workers = (uint32_t)n;
        } else if (strcmp(a, "--throttle") == 0) {
            if (edge_size_parse(v, &cfg->throttle) != 0) {
                return arg_fail(err, errlen, "--throttle %s: expected bytes per second", v);
            }
        } else if (strcmp(a, "--log-level") == 0) {
            snprintf(cfg->log_level, sizeof(cfg->log_level), "%s", v);
        } else {
            return arg_fail(err, errlen, "unknown option: %s\n%s", a, usage);
        }
    }
    return 0;
}

uint64_t edge_config_max_object(const edge_config_t *cfg)
{
    if (cfg->max_object == 0) {
        return cfg->cache_mem / 8;
    }
    return cfg->max_object < cfg->cache_mem ? cfg->max_object : cfg->cache_mem;
}

int edge_config_validate(const edge_config_t *cfg, char *err, size_t errlen)
{
    if (cfg->n_listen == 0) {
        return arg_fail(err, errlen, "no listen address (--listen HOST:PORT)");
    }
    if (!cfg->root[0] && cfg->n_origins == 0) {
        return arg_fail(err, errlen, "need --root DIR (origin mode) or --origin URL (edge mode)");
    }
    if (cfg->root[0] && cfg->n_origins > 0) {
        return arg_fail(err, errlen, "--root and --origin are exclusive");
    }
    return 0;
}
