/* pops.h: the PoP model shared by geodnsd, healthcheck and explain: the PoP file (YAML) with
 * PoPs (location, addresses, bias, capacity, probe), pools and capacity regions. */
#ifndef GEODNS_POPS_H
#define GEODNS_POPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geoip.h"
#include "yamltree.h"

#define POPS_MAX         1024 /* PoPs per file */
#define POPS_ADDRS_MAX   16   /* addresses per PoP and family */
#define POPS_POOLS_MAX   256  /* pools per file */
#define POPS_NAME_MAX    32   /* PoP and pool names, with the NUL */
#define POPS_HOST_MAX    256  /* hostname, absolute with the trailing dot, with the NUL */
#define POPS_URL_MAX     256  /* probe URL */
#define POPS_REGIONS_MAX 256  /* capacity regions per file */
#define POPS_EXPECT_MAX  8    /* expected HTTP status codes per probe */
#define POPS_BODY_MAX    128  /* expected body substring, with the NUL */
#define POPS_FIELD_MAX   64   /* dotted JSON path of the load figure, with the NUL */

typedef enum pops_probe_kind {
    POPS_PROBE_NONE = 0, /* no probe: the PoP is never judged by health state files */
    POPS_PROBE_HTTP,     /* GET url from each address; status in expect, body contains body */
    POPS_PROBE_TCP,      /* a TCP connect to each address on port */
} pops_probe_kind_t;

/* How healthcheck probes a PoP. Every address of the PoP is probed separately, with the URL's
 * host used only as the Host header: the connection goes to the address being probed. The same
 * holds for a status URL: its port and path are used on the PoP's address, its host only in the
 * Host header of the status request. */
typedef struct pops_probe {
    pops_probe_kind_t kind;
    char url[POPS_URL_MAX];           /* http: as written */
    char host[POPS_HOST_MAX];         /* Host header: `host:`, else the URL's host[:port] */
    char path[POPS_URL_MAX];          /* the URL's path and query, "/" when empty */
    uint16_t port;                    /* the URL's port (80 by default), or `port:` for tcp */
    uint16_t expect[POPS_EXPECT_MAX]; /* accepted status codes; default {200} */
    size_t nexpect;
    char body[POPS_BODY_MAX]; /* substring the body must contain, or "" */
    uint32_t timeout_ms;      /* per probe, connect to last byte; default 2000 */
    /* The load figure: GET status_path on status_port of each address, read the number at
     * load_field (dotted path into the JSON document). Default: the probe URL's /status and
     * "load.value" (segment-edge's /status). status_path "" = no load reading. */
    char status_path[POPS_URL_MAX];
    uint16_t status_port;
    char status_host[POPS_HOST_MAX]; /* a status URL's host[:port] (its Host header), else "" */
    char load_field[POPS_FIELD_MAX];
    /* Anti-flap: down after down_after failures within the last window probes, up again after
     * up_after consecutive successes. Defaults 3 of 5, and 2. */
    uint32_t down_after, window, up_after;
    /* Which of the PoP's addresses are probed (bit i: v4[i] / v6[i]); default all. Addresses
     * left out are not judged: they follow the PoP's state (e.g. IPv6 addresses when no
     * vantage has IPv6). */
    uint16_t mask4, mask6;
} pops_probe_t;

/* Capacity watermarks as fractions of capacity: between low and high a PoP sheds a growing
 * share of its clients; past high it takes no new ones. Defaults 0.80 and 0.95. */
typedef struct pops_watermarks {
    double low, high;
} pops_watermarks_t;

typedef struct pops_pop {
    char name[POPS_NAME_MAX];
    double lat, lon;      /* degrees */
    char country[3];      /* "" when not given */
    char continent[3];    /* given, or derived from country, or "" */
    double bias;          /* signed percentage -99..99 as written (Route 53 geoproximity style) */
    double factor;        /* 1 - bias/100: the distance to this PoP is multiplied by it */
    uint32_t capacity;    /* 0 when not given: no capacity control for this PoP */
    pops_watermarks_t wm; /* the PoP's own, else the file's `capacity:` defaults */
    int region;           /* index into pops_t.region, or -1 */
    char hostname[POPS_HOST_MAX]; /* "" or an absolute name ("fra.edge.example.test.") */
    pops_probe_t probe;
    size_t n4, n6;
    uint8_t v4[POPS_ADDRS_MAX][4];
    uint8_t v6[POPS_ADDRS_MAX][16];
    unsigned line, col; /* position of the PoP's name in the file */
} pops_pop_t;

typedef struct pops_pool {
    char name[POPS_NAME_MAX];
    size_t n;
    uint16_t idx[POPS_MAX]; /* PoP indices in the listed order */
} pops_pool_t;

/* A capacity region: PoPs whose summed load is checked against a capacity of its own. A PoP
 * belongs to at most one region. */
typedef struct pops_region {
    char name[POPS_NAME_MAX];
    uint32_t capacity;
    pops_watermarks_t wm;
    size_t n;
    uint16_t idx[POPS_MAX];
} pops_region_t;

/* What ranking reads of each PoP, packed (a pops_pop_t is 2 KB: with 1,024 PoPs the ranking
 * would touch 1,024 cache lines scattered over 2 MB). */
typedef struct pops_rank {
    double unit[3]; /* the location as a unit vector: dot products order distances */
    double factor;  /* as pops_pop_t.factor */
    uint8_t n4, n6; /* as pops_pop_t.n4, n6 */
} pops_rank_t;

/* The parsed file. Immutable after pops_parse; read the fields directly. */
typedef struct pops {
    size_t npops;
    pops_pop_t *pop;   /* [npops] */
    pops_rank_t *rank; /* [npops] */
    size_t npools;
    pops_pool_t *pool; /* [npools] */
    size_t nregions;
    pops_region_t *region;     /* [nregions] */
    pops_watermarks_t wm;      /* file-wide defaults (`capacity: {low, high}`) */
    bool has_default_location; /* for clients the mmdb and nets cannot locate */
    double default_lat, default_lon;
    /* Hash of the PoP names (slot = PoP index + 1, 0 = empty; name_mask + 1 slots), built by
     * pops_parse so that pops_find stays O(1) however many PoPs, pools and nets refer to them. */
    uint32_t *name_index;
    size_t name_mask;
} pops_t;

/* Parse a PoP document (see docs/geo.md) from its root node. The tree is not kept. On success
 * *out is allocated and owned by the caller (pops_free). Returns 0, -EINVAL with
 * "file:line:col: reason" in err, or -ENOMEM. */
int pops_parse(const yt_node_t *root, pops_t **out, char *err, size_t errlen);

/* yt_doc_load_file + pops_parse. */
int pops_load(const char *path, pops_t **out, char *err, size_t errlen);

/* Free everything; NULL is fine. */
void pops_free(pops_t *pops);

/* Index of the PoP / pool called name, or -ENOENT. */
int pops_find(const pops_t *pops, const char *name);
int pops_pool_find(const pops_t *pops, const char *name);
/* The index of the address a (4 bytes for AF_INET, 16 for AF_INET6) among p's addresses of that
 * family, or -1. */
int pops_addr_index(const pops_pop_t *p, int family, const uint8_t *a);

/* Split "http://host[:port]/path" into host (without port), port (80 when absent) and path ("/"
 * when absent). Returns 0 or -EINVAL (not http://, empty host, bad port, too long, a space or
 * control byte in the host or path: both go into the request). */
int pops_url_split(const char *url, char *host, size_t hostlen, uint16_t *port, char *path,
                   size_t pathlen);

/* A two-letter code (country or continent), upper-cased into out. what names it in errors.
 * Returns 0 or -EINVAL with "file:line:col: reason". */
int pops_code_parse(const yt_node_t *n, char out[3], const char *what, char *err, size_t errlen);

/* A host name value: labels of 1..63 letters, digits, '-' and '_', at most 253 bytes without the
 * final dot; written to out (POPS_HOST_MAX) absolute, with the trailing dot. Returns 0 or -EINVAL
 * with "file:line:col: reason". Used for PoP hostnames and fallback CNAME targets. */
int pops_hostname_parse(const yt_node_t *n, char *out, char *err, size_t errlen);

/* Resolve a nets entry's fixed PoP order to indices (idx has room for GEOIP_NET_POPS_MAX).
 * Returns the count (>= 1), or -EINVAL with "file:line:col: unknown PoP 'x'" in err. */
int pops_resolve_net(const pops_t *pops, const geoip_net_t *net, uint16_t *idx, char *err,
                     size_t errlen);

#endif
