/* zone.h: immutable in-memory zones (nodes, RRsets in pre-rendered wire form) and name lookup. */
#ifndef GEODNSD_ZONE_H
#define GEODNSD_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

typedef struct zone_rrset {
    uint16_t type;
    uint16_t count;
    uint32_t ttl;
    dns_rdata_t *rdata;
} zone_rrset_t;

#define ZONE_NODE_APEX  0x01u
#define ZONE_NODE_CUT   0x02u /* NS below the apex: a delegation point */
#define ZONE_NODE_DNAME 0x04u /* has a DNAME: names below it are redirected (RFC 6672) */

struct route_policy;
struct xfr_policy;

typedef struct zone_node zone_node_t;
struct zone_node {
    const uint8_t *name; /* lower-case wire */
    uint8_t namelen;
    uint8_t flags;
    uint16_t nrrsets;
    uint32_t hash;
    zone_rrset_t *rrsets;     /* sorted by type */
    zone_node_t *next;        /* hash chain */
    struct route_policy *geo; /* set for geo names (answers computed per client) */
    uint32_t geo_id;
};

typedef struct zone {
    const uint8_t *apex; /* lower-case wire */
    uint8_t apexlen;
    uint8_t apex_labels;
    uint32_t serial;
    const char *file;
    zone_node_t *apex_node;
    zone_rrset_t *soa; /* the apex SOA RRset */
    uint32_t neg_ttl;  /* min(SOA TTL, SOA MINIMUM): TTL of the SOA in negative answers */
    zone_node_t **buckets;
    uint32_t nbuckets;   /* power of two */
    zone_node_t **nodes; /* every node in the order of the zone file: a walk of the whole zone */
    size_t nnodes;       /* (a transfer) reads memory in the order it was written */
    size_t nrecords;
    struct xfr_policy *xfr; /* the zone file's `transfer:`, or NULL: the server's */
} zone_t;

/* A set of zones to serve, looked up by the longest matching apex. */
typedef struct zone_set {
    zone_t **zones;
    size_t nzones;
    zone_t **table; /* open addressing by apex hash */
    uint32_t tsize;
} zone_set_t;

uint32_t zone_name_hash(const uint8_t *name, size_t len);

/* The zone whose apex is the longest suffix of the lower-case wire name (labels at off[]), or
 * NULL. */
const zone_t *zone_set_find(const zone_set_t *zs, const uint8_t *name, size_t namelen,
                            const uint8_t *label_off, unsigned nlabels);

/* Exact node lookup of a lower-case wire name. */
const zone_node_t *zone_node_find(const zone_t *z, const uint8_t *name, size_t namelen);

/* The RRset of a type at a node, or NULL. */
const zone_rrset_t *zone_node_rrset(const zone_node_t *n, uint16_t type);

typedef enum zone_match {
    ZONE_MATCH_EXACT,    /* node is the name */
    ZONE_MATCH_WILDCARD, /* node is the wildcard that synthesizes the name */
    ZONE_MATCH_NXDOMAIN, /* node is the closest encloser */
    ZONE_MATCH_CUT,      /* node is the delegation point at or above the name */
    ZONE_MATCH_DNAME,    /* node owns the DNAME above the name (RFC 6672 substitution) */
} zone_match_t;

/* Look a name up inside z: walks from the apex down so a delegation or a DNAME above the name
 * wins (data at or below a cut is occluded: only zone_node_find() reaches it, for glue), then
 * exact match, then the wildcard at the closest encloser (RFC 4592). When the name is the cut
 * itself and qtype is DS, the cut is answered as an exact match from the parent side. The owner
 * of a DNAME is an exact match for itself; names below it give ZONE_MATCH_DNAME. */
zone_match_t zone_lookup(const zone_t *z, const uint8_t *name, size_t namelen,
                         const uint8_t *label_off, unsigned nlabels, uint16_t qtype,
                         const zone_node_t **node);

/* Would a query for the lower-case wire name get data from zs? True for names outside zs's
 * zones (someone else's), below a delegation, a DNAME or a wildcard; false for NXDOMAIN and for
 * a name without data (with want_addr: without A, AAAA, CNAME or a geo policy). Load-time
 * checks of CNAME, NS, MX and PoP hostname targets use it. */
bool zone_set_target_ok(const zone_set_t *zs, const uint8_t *name, size_t len, bool want_addr);

/* Label offsets of an uncompressed wire name; returns the label count (root excluded). */
unsigned zone_name_labels(const uint8_t *name, uint8_t *label_off);

#endif
