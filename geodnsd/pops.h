/* pops.h: the PoP file (YAML): PoPs with location, addresses, bias, capacity; and pools of PoPs. */
#ifndef GEODNSD_POPS_H
#define GEODNSD_POPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geoip.h"
#include "yamltree.h"

#define POPS_MAX       256 /* PoPs per file */
#define POPS_ADDRS_MAX 16  /* addresses per PoP and family */
#define POPS_POOLS_MAX 64  /* pools per file */
#define POPS_NAME_MAX  32  /* PoP and pool names, with the NUL */
#define POPS_HOST_MAX  256 /* hostname, absolute with the trailing dot, with the NUL */
#define POPS_URL_MAX   256 /* probe URL */

typedef struct pops_pop {
    char name[POPS_NAME_MAX];
    double lat, lon;   /* degrees */
    char country[3];   /* "" when not given */
    char continent[3]; /* given, or derived from country, or "" */
    double bias;       /* signed percentage -99..99 as written (Route 53 geoproximity style) */
    double factor;     /* 1 - bias/100: the distance to this PoP is multiplied by it */
    uint32_t capacity; /* 0 when not given; used by the capacity issue */
    char hostname[POPS_HOST_MAX]; /* "" or an absolute name ("fra.edge.example.test.") */
    char probe_url[POPS_URL_MAX]; /* "" or the probe URL (used by the health issue) */
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

/* The parsed file. Immutable after pops_parse; read the fields directly. */
typedef struct pops {
    size_t npops;
    pops_pop_t *pop; /* [npops] */
    size_t npools;
    pops_pool_t *pool;         /* [npools] */
    bool has_default_location; /* for clients the mmdb and nets cannot locate */
    double default_lat, default_lon;
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
