/* edge_config_file.c: segment-edge configuration from a YAML file or buffer; every error names
 * file:line:col. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "edge_config.h"
#include "log.h"
#include "yamltree.h"

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

/* One address of the list key (listen, status_listen) into list, which holds *count. */
static int listen_add(const char *key, char (*list)[EDGE_LISTEN_TEXT], size_t *count,
                      const yt_node_t *n, char *err, size_t errlen)
{
    if (*count >= EDGE_MAX_LISTEN) {
        return yt_fail(err, errlen, n, "too many %s addresses (max %d)", key, EDGE_MAX_LISTEN);
    }
    int rc = str_copy(n, list[*count], EDGE_LISTEN_TEXT, err, errlen);
    if (rc) {
        return rc;
    }
    char why[160];
    if (edge_listen_check(list[*count], (const char(*)[EDGE_LISTEN_TEXT])list, *count, why,
                          sizeof(why))) {
        return yt_fail(err, errlen, n, "%s %s: %s", key, list[*count], why);
    }
    (*count)++;
    return 0;
}

static int item_listen(edge_config_t *cfg, const yt_node_t *n, char *err, size_t errlen)
{
    return listen_add("listen", cfg->listen, &cfg->n_listen, n, err, errlen);
}

/* Read after listen: an address that listen also has would split its connections between the
 * two kinds of listener (both sockets are SO_REUSEPORT), so it is refused. */
static int item_status_listen(edge_config_t *cfg, const yt_node_t *n, char *err, size_t errlen)
{
    int rc = listen_add("status_listen", cfg->status_listen, &cfg->n_status_listen, n, err, errlen);
    if (rc) {
        return rc;
    }
    const char *s = cfg->status_listen[cfg->n_status_listen - 1];
    const char *clash = edge_status_listen_clash(cfg, s);
    return clash ? yt_fail(err, errlen, n, EDGE_STATUS_LISTEN_CLASH, s, clash) : 0;
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

/* One address range of an access list (upload_allow, status_allow) appended to list. */
static int cidr_add(addr_net_t *list, size_t *n, const yt_node_t *item, char *err, size_t errlen)
{
    const char *s = NULL;
    int rc = yt_get_str(item, &s, err, errlen);
    if (rc) {
        return rc;
    }
    if (*n >= EDGE_MAX_CIDRS) {
        return yt_fail(err, errlen, item, "too many address ranges (max %d)", EDGE_MAX_CIDRS);
    }
    if (addr_net_parse(s, &list[*n]) != 0) {
        return yt_fail(err, errlen, item, "expected an address or address/prefix");
    }
    (*n)++;
    return 0;
}

static int item_upload_cidr(edge_config_t *cfg, const yt_node_t *n, char *err, size_t errlen)
{
    return cidr_add(cfg->upload_allow, &cfg->n_upload_allow, n, err, errlen);
}

static int item_status_cidr(edge_config_t *cfg, const yt_node_t *n, char *err, size_t errlen)
{
    return cidr_add(cfg->status_allow, &cfg->n_status_allow, n, err, errlen);
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
    /* Every key of timeouts: its field, and whether 0 is allowed (it turns that step off). */
    const struct {
        const char *k;
        uint64_t *v;
        bool zero_ok;
    } t[] = {
        {"connect", &cfg->connect_timeout, false},
        {"first_byte", &cfg->first_byte_timeout, false},
        {"between_bytes", &cfg->between_bytes_timeout, false},
        {"header_read", &cfg->header_read_timeout, false},
        {"body", &cfg->body_timeout, false},
        {"idle", &cfg->idle_timeout, false},
        {"send", &cfg->send_timeout, false},
        {"drain", &cfg->drain_timeout, false},
        {"drain_grace", &cfg->drain_grace, true},
        {"origin_probe_interval", &cfg->origin_probe_interval, false},
        {"slow_reader", &cfg->slow_reader_timeout, false},
        {"linger", &cfg->linger_timeout, true},
    };
    enum { NT = sizeof(t) / sizeof(t[0]) };
    const char *keys[NT + 1];
    for (size_t i = 0; i < NT; i++) {
        keys[i] = t[i].k;
    }
    keys[NT] = NULL;
    int rc = yt_map_check_keys(m, keys, "timeouts", err, errlen);
    for (size_t i = 0; rc == 0 && i < NT; i++) {
        rc = get_ms(m, t[i].k, t[i].v, err, errlen);
        if (rc == 0 && *t[i].v == 0 && !t[i].zero_ok && yt_map_get(m, t[i].k)) {
            rc = yt_fail(err, errlen, yt_map_get(m, t[i].k), "timeout must be positive");
        }
    }
    return rc;
}

static int load_limits(edge_config_t *cfg, const yt_node_t *m, char *err, size_t errlen)
{
    static const char *const keys[] = {
        "max_connections", "status_max_connections", "max_fills", "max_header_bytes", "max_uri",
        "max_upload",      "max_linger_bytes",       NULL};
    int rc = yt_map_check_keys(m, keys, "limits", err, errlen);
    const yt_node_t *n;
    if (rc == 0 && (n = yt_map_get(m, "max_connections"))) {
        rc = yt_get_u32(n, 1, 1000000, &cfg->max_connections, err, errlen);
    }
    if (rc == 0 && (n = yt_map_get(m, "status_max_connections"))) {
        rc = yt_get_u32(n, 1, EDGE_STATUS_CONNS_MAX, &cfg->status_max_connections, err, errlen);
    }
    if (rc == 0 && (n = yt_map_get(m, "max_fills"))) {
        rc = yt_get_u32(n, 1, EDGE_MAX_FILLS_MAX, &cfg->max_fills, err, errlen);
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
        if (rc == 0 && (v < 256 || v > EDGE_MAX_URI)) {
            rc = yt_fail(err, errlen, n, "max_uri must be within 256..%u", EDGE_MAX_URI);
        }
        cfg->max_uri = (uint32_t)v;
    }
    if (rc == 0 && (n = yt_map_get(m, "max_upload"))) {
        rc = yt_get_size(n, &cfg->max_upload, err, errlen);
    }
    if (rc == 0 && (n = yt_map_get(m, "max_linger_bytes"))) {
        rc = yt_get_size(n, &cfg->max_linger_bytes, err, errlen);
    }
    return rc;
}

static int load_root(edge_config_t *cfg, const yt_node_t *root, char *err, size_t errlen)
{
    static const char *const keys[] = {"listen",
                                       "status_listen",
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
                                       "status_allow",
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
    if ((n = yt_map_get(root, "status_listen"))) {
        cfg->n_status_listen = 0;
        if ((rc = each_item(cfg, n, item_status_listen, err, errlen))) {
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
        if (yt_map_get(root, "root")) {
            return yt_fail(err, errlen, n,
                           "root and origin are exclusive: root serves a folder (origin mode), "
                           "origin fills a cache from it (edge mode)");
        }
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
        if ((rc = each_item(cfg, n, item_upload_cidr, err, errlen))) {
            return rc;
        }
    }
    if ((n = yt_map_get(root, "status_allow"))) {
        cfg->n_status_allow = 0;
        if ((rc = each_item(cfg, n, item_status_cidr, err, errlen))) {
            return rc;
        }
        if (cfg->n_status_allow == 0) {
            /* An empty list would mean "nobody": no probe could read the load, every PoP down. */
            return yt_fail(err, errlen, n,
                           "status_allow is empty: list the probers' addresses, or leave the key "
                           "out to allow any address");
        }
    }
    if ((n = yt_map_get(root, "cors_allow_origin"))) {
        if ((rc = str_copy(n, cfg->cors_allow_origin, sizeof(cfg->cors_allow_origin), err,
                           errlen))) {
            return rc;
        }
        /* It goes into a header as written: a control byte would end or split it. */
        for (const char *c = cfg->cors_allow_origin; *c; c++) {
            unsigned char ch = (unsigned char)*c;
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
                return yt_fail(err, errlen, n, "cors_allow_origin holds a control byte (\\x%02x)",
                               ch);
            }
        }
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
        log_level_t level;
        if (log_level_parse(cfg->log_level, &level)) {
            return yt_fail(err, errlen, n, "log_level must be error, warn, info or debug, not '%s'",
                           cfg->log_level);
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
