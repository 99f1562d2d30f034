/* edge_config.c: segment-edge configuration defaults and the value parsers that the YAML file
 * (edge_config_file.c) and the command line (edge_config_args.c) share: sizes, origin URLs,
 * address ranges. */
#include "edge_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "addr.h"

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
    cfg->linger_timeout = 5000;
    cfg->origin_probe_interval = 2000;
    cfg->max_connections = 10000;
    cfg->status_max_connections = EDGE_STATUS_CONNS_DEFAULT;
    cfg->max_fills = 128;
    cfg->max_header_bytes = 16384;
    cfg->max_uri = EDGE_MAX_URI;
    cfg->max_upload = 1ull << 30;
    cfg->max_linger_bytes = 16ull << 20;
    addr_net_parse("127.0.0.0/8", &cfg->upload_allow[0]);
    addr_net_parse("::1/128", &cfg->upload_allow[1]);
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

int edge_listen_check(const char *hostport, const char (*list)[EDGE_LISTEN_TEXT], size_t n,
                      char *why, size_t whylen)
{
    char h[EDGE_LISTEN_TEXT];
    char p[8];
    unsigned char a[16];
    if (strlen(hostport) >= EDGE_LISTEN_TEXT ||
        edge_hostport_split(hostport, h, sizeof(h), p, sizeof(p)) != 0) {
        snprintf(why, whylen, "expected host:port or [v6]:port, the port 1..65535");
        return -EINVAL;
    }
    if (inet_pton(AF_INET, h, a) != 1 && inet_pton(AF_INET6, h, a) != 1) {
        snprintf(why, whylen, "the host must be an IPv4 or IPv6 address (a name is not resolved)");
        return -EINVAL;
    }
    struct in6_addr a6;
    if (inet_pton(AF_INET6, h, &a6) == 1 && IN6_IS_ADDR_V4MAPPED(&a6)) {
        /* Listeners are IPv6-only: a mapped address cannot be bound. */
        snprintf(why, whylen, "an IPv4-mapped IPv6 address: write the IPv4 address %u.%u.%u.%u",
                 a6.s6_addr[12], a6.s6_addr[13], a6.s6_addr[14], a6.s6_addr[15]);
        return -EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if (edge_listen_overlap(hostport, list[i])) {
            if (strcmp(hostport, list[i]) == 0) {
                snprintf(why, whylen, "listed twice");
            } else {
                snprintf(why, whylen, "takes the connections of %s, listed before", list[i]);
            }
            return -EINVAL;
        }
    }
    return 0;
}

bool edge_listen_overlap(const char *a, const char *b)
{
    static const uint8_t unspecified[16];
    char ha[EDGE_LISTEN_TEXT];
    char hb[EDGE_LISTEN_TEXT];
    uint16_t pa;
    uint16_t pb;
    if (hostport_parse(a, ha, sizeof(ha), &pa) != 0 ||
        hostport_parse(b, hb, sizeof(hb), &pb) != 0 || pa != pb) {
        return false;
    }
    int fa;
    int fb;
    uint8_t xa[16];
    uint8_t xb[16];
    if (addr_parse(ha, &fa, xa) != 0 || addr_parse(hb, &fb, xb) != 0) {
        return strcasecmp(ha, hb) == 0;
    }
    /* An IPv6 listener is IPV6_V6ONLY (listen_socket): :: does not take IPv4 connections. */
    if (fa != fb) {
        return false;
    }
    size_t len = fa == AF_INET ? 4 : 16;
    return memcmp(xa, xb, len) == 0 || memcmp(xa, unspecified, len) == 0 ||
           memcmp(xb, unspecified, len) == 0;
}

const char *edge_status_listen_clash(const edge_config_t *cfg, const char *s)
{
    for (size_t i = 0; i < cfg->n_listen; i++) {
        if (edge_listen_overlap(s, cfg->listen[i])) {
            return cfg->listen[i];
        }
    }
    return NULL;
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

bool edge_status_allowed(const edge_config_t *cfg, const struct sockaddr *sockaddr)
{
    return cfg->n_status_allow == 0 ||
           addr_net_list_match(cfg->status_allow, cfg->n_status_allow, sockaddr);
}

uint64_t edge_config_max_object(const edge_config_t *cfg)
{
    if (cfg->max_object == 0) {
        return cfg->cache_mem / 8;
    }
    return cfg->max_object < cfg->cache_mem ? cfg->max_object : cfg->cache_mem;
}
