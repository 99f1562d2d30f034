/* edge_config.h: segment-edge configuration: defaults and value parsers (edge_config.c), the YAML
 * file (edge_config_file.c), the command line and final checks (edge_config_args.c). */
#ifndef EDGE_CONFIG_H
#define EDGE_CONFIG_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "hostport.h"

#define EDGE_MAX_LISTEN  8
#define EDGE_MAX_ORIGINS 8
#define EDGE_MAX_KEEP    24
#define EDGE_MAX_CIDRS   16

/* Room for a listen address as written ("host:port", "[v6]:port"). */
#define EDGE_LISTEN_TEXT 128

#define EDGE_PASSTHROUGH_WINDOW_MIN (128u << 10)
/* The longest request target (max_uri) there is room for: each connection holds the decoded
 * path, the cache key and the upload file names in buffers of this size (edge_conn.h), not
 * sized from the configuration; docs/edge.md (max_uri) says why. */
#define EDGE_MAX_URI       4096
#define EDGE_MAX_FILLS_MAX 100000
/* status_max_connections: the default and the most (each takes a connection's buffers). */
#define EDGE_STATUS_CONNS_DEFAULT 16
#define EDGE_STATUS_CONNS_MAX     1024

typedef struct edge_origin_cfg {
    char url[512];
    char host[256]; /* connect to */
    char port[8];
    char authority[272]; /* Host header */
    char prefix[256];    /* path prefix without trailing slash, "" for none */
} edge_origin_cfg_t;

typedef enum edge_load_unit {
    EDGE_LOAD_EGRESS_MBPS = 0,
    EDGE_LOAD_REQUESTS_PER_S,
    EDGE_LOAD_CONNECTIONS,
} edge_load_unit_t;

typedef struct edge_config {
    char listen[EDGE_MAX_LISTEN][EDGE_LISTEN_TEXT];
    size_t n_listen;
    /* Status listeners: /healthz, /readyz, /status, /metrics only, outside max_connections. */
    char status_listen[EDGE_MAX_LISTEN][EDGE_LISTEN_TEXT];
    size_t n_status_listen;
    uint32_t workers;
    char root[1024];      /* origin mode when set */
    bool follow_symlinks; /* origin mode: follow symbolic links (still beneath root) */
    edge_origin_cfg_t origins[EDGE_MAX_ORIGINS];
    size_t n_origins;
    uint64_t cache_mem;
    uint64_t max_object;          /* 0: cache_mem / 8; see edge_config_max_object */
    uint64_t passthrough_window;  /* bytes held per body streamed through without being stored */
    uint64_t slow_reader_timeout; /* ms a full window may wait for its slowest reader */
    char cache_disk_path[1024];   /* optional disk tier; "" = none */
    uint64_t cache_disk_size;
    /* Freshness (milliseconds). live_playlist_max 0 means "half the target duration". */
    uint64_t ttl_segment;
    uint64_t ttl_vod_playlist;
    uint64_t ttl_live_playlist_max;
    uint64_t ttl_other;
    uint64_t ttl_error;
    uint64_t stale_while_revalidate;
    uint64_t stale_if_error;
    uint64_t live_stale_max;
    /* Query parameters kept in the cache key (NULL-terminated; LL-HLS ones always). */
    char keep_params_buf[EDGE_MAX_KEEP][64];
    const char *keep_params[EDGE_MAX_KEEP + 1];
    /* Timeouts (milliseconds). */
    uint64_t connect_timeout;
    uint64_t first_byte_timeout;
    uint64_t between_bytes_timeout;
    uint64_t header_read_timeout;
    uint64_t body_timeout; /* the whole request body */
    uint64_t idle_timeout;
    uint64_t send_timeout;
    uint64_t drain_timeout;
    uint64_t drain_grace;
    uint64_t linger_timeout; /* lingering close after a refused request; 0: close at once */
    uint64_t origin_probe_interval;
    /* Limits. */
    uint32_t max_connections;
    uint32_t status_max_connections; /* connections of the status listeners, all together */
    uint32_t max_fills; /* origin fetches (fills and revalidations) in flight at once */
    uint32_t max_header_bytes;
    uint32_t max_uri;
    uint64_t max_upload;
    uint64_t max_linger_bytes; /* discarded in a lingering close before the connection is closed */
    addr_net_t upload_allow[EDGE_MAX_CIDRS];
    size_t n_upload_allow;
    /* Who may read the status paths (/healthz, /readyz, /status, /metrics) on any listener and
     * connect to a status listener at all; 0 entries: any address. */
    addr_net_t status_allow[EDGE_MAX_CIDRS];
    size_t n_status_allow;
    char cors_allow_origin[256];
    edge_load_unit_t load_unit;
    double capacity;
    bool access_log;
    char log_level[16];
    uint64_t throttle; /* origin mode, bytes/s per response; 0 = off (a test aid) */
} edge_config_t;

/* Fill cfg with the defaults. */
void edge_config_defaults(edge_config_t *cfg);

/* Apply a YAML file over cfg. Returns 0 or a negative code with "file:line:col: reason" in err. */
int edge_config_load_file(edge_config_t *cfg, const char *path, char *err, size_t errlen);

/* Same from a buffer (name used in positions); used by the unit tests. */
int edge_config_load_buffer(edge_config_t *cfg, const char *name, const char *buf, size_t len,
                            char *err, size_t errlen);

/* Apply the command line (after -c FILE, which it loads first). Returns 0, 1 when the program
 * should exit successfully (--help), or a negative code with a message in err. */
int edge_config_args(edge_config_t *cfg, int argc, char **argv, char *err, size_t errlen);

/* The largest body that is stored: max_object, or cache_mem / 8 when 0, never above cache_mem. */
uint64_t edge_config_max_object(const edge_config_t *cfg);

/* Final checks (exactly one of root/origin, at least one listen address, no status listen
 * address that is also a listen address). */
int edge_config_validate(const edge_config_t *cfg, char *err, size_t errlen);

/* Parse "http://host[:port][/prefix]" into o. Returns 0 or -EINVAL. */
int edge_origin_parse(const char *url, edge_origin_cfg_t *o);

/* May the peer at sockaddr read the status paths and connect to a status listener? (In
 * status_allow; any address when that list is empty.) */
bool edge_status_allowed(const edge_config_t *cfg, const struct sockaddr *sockaddr);

/* Split "host:port" or "[v6]:port" into its parts (common/hostport.h says which forms), the
 * port as decimal digits. Returns 0 or -EINVAL. */
static inline int edge_hostport_split(const char *s, char *host, size_t hostlen, char *port,
                                      size_t portlen)
{
    uint16_t p;
    if (portlen < 6 || hostport_parse(s, host, hostlen, &p) != 0)
        return -EINVAL;
    snprintf(port, portlen, "%u", (unsigned)p);
    return 0;
}

/* Can hostport join the n addresses of list (listen or status_listen)? It must be an IPv4 or
 * IPv6 address, not a name (nothing is resolved), with a port 1..65535, and take no connections
 * of an address listed before (edge_listen_overlap: the same one, or a wildcard beside it).
 * Returns 0, or -EINVAL with the reason in why. */
int edge_listen_check(const char *hostport, const char (*list)[EDGE_LISTEN_TEXT], size_t n,
                      char *why, size_t whylen);

/* Do two listen addresses take the same connections: the same port and the same address, or
 * the unspecified address (0.0.0.0, ::) of the other's family? Names are compared as written.
 * False when either is not host:port. */
bool edge_listen_overlap(const char *a, const char *b);

/* The first of cfg's listen addresses that the status listen address s overlaps, or NULL. The
 * message of the refusal takes s and that address. */
const char *edge_status_listen_clash(const edge_config_t *cfg, const char *s);
#define EDGE_STATUS_LISTEN_CLASH                                                                \
    "status_listen %s takes the connections of listen %s: give the status listener an address " \
    "of its own"

/* Parse a size with optional k/M/G suffix (powers of 1024). Returns 0 or -EINVAL. */
int edge_size_parse(const char *s, uint64_t *out);

const char *edge_load_unit_name(edge_load_unit_t u);

#endif
