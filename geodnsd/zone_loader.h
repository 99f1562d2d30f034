/* zone_loader.h: the zone loader's internal state, shared by its two readers (zone_yaml.c,
 * zone_master.c), record assembly (zone_build.c) and the zone checks (zone_check.c). Not a public
 * interface: zoneload.h is. */
#ifndef GEODNSD_ZONE_LOADER_H
#define GEODNSD_ZONE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ldns/ldns.h>

#include "arena.h"
#include "wire.h"
#include "yamltree.h"
#include "zone.h"
#include "zoneload.h"

struct geo_ctx;

/* One record while loading, before RRsets are assembled. at: where it was written (a YAML node,
 * or a master-file location with col 0). */
typedef struct pending_rr {
    uint16_t type;
    uint32_t ttl;
    dns_rdata_t rd;
    const yt_node_t *at;
} pending_rr_t;

/* One owner name while loading: its records in file order. */
typedef struct pending_node {
    uint8_t name[DNS_MAX_NAME];
    uint8_t namelen;
    pending_rr_t *rrs;
    size_t nrrs, caprrs;
    const yt_node_t *at;
    const yt_node_t *geo;
    struct pending_node *next; /* hash chain */
    uint32_t hash;
    size_t order;
    bool dropped; /* below a DNAME: not part of the zone */
} pending_node_t;

/* Everything one zone load holds until zl_assemble() turns it into a zone_t. */
typedef struct loader {
    arena_t *arena; /* the zone's memory; everything else is freed by zl_free() */
    const char *path;
    char *err;
    size_t errlen;
    ldns_rdf *origin; /* YAML: the zone name, for relative names in record data */
    uint8_t apex[DNS_MAX_NAME];
    size_t apexlen;
    char apex_str[DNS_NAME_TEXT_MAX];
    uint32_t default_ttl;
    pending_node_t **buckets;
    size_t nbuckets, nnodes;
    pending_node_t **list; /* insertion order */
    size_t caplist;
    size_t nrecords;
    /* Master files: where each record came from (col 0: "file:line:" in messages). */
    struct loc_block *locs;
} loader_t;

/* ---- zone_build.c: loader state, locations and messages, records in, the zone out ---- */

/* Start a load of the zone file path into arena (err, errlen: where a failure is written).
 * Returns 0 or -ENOMEM; zl_free() releases what it holds either way. */
int zl_init(loader_t *L, arena_t *arena, const char *path, char *err, size_t errlen);
void zl_free(loader_t *L);

/* The zone's apex: a wire name (any case) of len bytes. */
void zl_set_apex(loader_t *L, const uint8_t *name, size_t len);

/* A master-file location "file:line" that lives as long as L; NULL when out of memory. */
const yt_node_t *zl_loc(loader_t *L, const char *file, unsigned line);

/* Write "file:line:col: reason" (YAML node), "file:line: reason" (master-file location) or
 * "path: reason" (at NULL) into L->err; returns -EINVAL. */
__attribute__((format(printf, 3, 4))) int zl_fail(loader_t *L, const yt_node_t *at, const char *fmt,
                                                  ...);

/* Log the warning "<where>: <name><msg>". */
void zl_warn(const yt_node_t *at, const char *msg, const char *name);

/* Meta and transfer types (ANY, AXFR, OPT, TSIG, ...) never stand in a zone. */
bool zl_type_storable(uint16_t type);

/* Is the lower-case wire name at or below apex (at a label boundary)? */
bool zl_name_below_or_at(const uint8_t *name, size_t len, const uint8_t *apex, size_t apexlen);

/* The pending node of a lower-case wire name, created when create is set; NULL when absent or
 * out of memory. */
pending_node_t *zl_node_get(loader_t *L, const uint8_t *name, size_t len, bool create);

/* The node of a lower-case wire name inside the zone, with its ancestors up to the apex (empty
 * non-terminals); at (may be NULL) becomes the node's location unless it has one. */
pending_node_t *zl_node_ensure(loader_t *L, const uint8_t *name, size_t len, const yt_node_t *at);

/* Add the record rr (its RDATA; type and ttl as given) to node n. Bounded by the per-zone
 * record limit. */
int zl_add_rr(loader_t *L, pending_node_t *n, uint16_t type, uint32_t ttl, const ldns_rr *rr,
              const yt_node_t *at);

/* Everything loaded into L becomes the immutable zone *out (in L's arena), checked and with
 * warnings logged. geo (may be NULL) parses `geo:` names. */
int zl_assemble(loader_t *L, struct geo_ctx *geo, zone_t **out);

/* ---- zone_check.c: the rules a zone must follow, and the warnings ---- */

bool zl_has_type(const pending_node_t *pn, uint16_t type);

/* The apex has the SOA and NS records. */
int zl_check_apex(loader_t *L);

/* One name's records (sorted by type, duplicates gone) obey the CNAME, DNAME, geo and DS rules. */
int zl_check_node(loader_t *L, const pending_node_t *pn);

/* Mark the names below a DNAME dropped, with a warning (RFC 6672 2.4). */
void zl_drop_below_dname(loader_t *L);

/* Warn about CNAME, NS and MX targets inside z that have no data there. */
void zl_warn_dangling_targets(const loader_t *L, const zone_t *z);

/* The same across the zones of a set, for targets another zone of the set serves. */
void zl_warn_cross_zone_targets(const zone_set_t *zs);

/* ---- zone_numbers.c: the numbers of zone text, which ldns wraps to their field's size ---- */

/* How a number of zone text reads. */
typedef enum zl_num {
    ZL_NUM_OK,     /* well formed and in range */
    ZL_NUM_RANGE,  /* a number, but out of range (negative included) */
    ZL_NUM_SYNTAX, /* not written as the field's numbers are */
} zl_num_t;

/* A TTL [s, s+n): decimal seconds, or units as in 1h30m (s, m, h, d, w), at most 2147483647
 * (RFC 2181 8). *out: its value as ldns reads it (modulo 2^32). */
zl_num_t zl_read_ttl(const char *s, size_t n, uint32_t *out);

/* Is [s, s+n) a class (IN, CH, HS, NONE, ANY or CLASSnnn, any case) as ldns reads one? */
bool zl_is_class(const char *s, size_t n);

/* A type name [s, s+n): TYPEnnn must be a number from 0 to 65535 (ldns reads any int and the
 * type number wraps). 0, or -EINVAL with the reason at at. */
int zl_check_type_name(loader_t *L, const yt_node_t *at, const char *s, size_t n);

/* The numbers of a record that ldns has parsed into rr from text [text, text+len) written as
 * in a master file: "[owner] [ttl] [class] type rdata" (no owner when it starts blank;
 * parentheses, quotes and comments as ldns reads them). The TTL (also as units), CLASSnnn,
 * TYPEnnn, the integer and timer fields of the data (up to the first field that can span
 * several tokens) and the length of the \# form must be unsigned decimals in their field's
 * range, where ldns wraps them (99999999999 to 1215752191, -1 to 65535). No allocation unless
 * it fails. Returns 0, or -EINVAL with "file:line: reason" at at. */
int zl_check_record_text(loader_t *L, const yt_node_t *at, const char *text, size_t len,
                         const ldns_rr *rr);

/* The same for the record data alone [rdata, rdata+len) of rr (YAML zones). */
int zl_check_rdata_text(loader_t *L, const yt_node_t *at, const char *rdata, size_t len,
                        const ldns_rr *rr);

/* ---- the readers ---- */

/* zone_yaml.c: a YAML zone document (takes ownership of doc). */
int zone_yaml_load(yt_doc_t *doc, const char *path, arena_t *arena, struct geo_ctx *geo,
                   zone_t **out, char *err, size_t errlen);

/* zone_master.c: an RFC 1035 master file, from buf (len bytes, no $INCLUDE) or, with buf NULL,
 * from the file path; file_seen (may be NULL) is told of every $INCLUDEd file before it is
 * read. */
int zone_master_load(const char *path, const char *buf, size_t len, arena_t *arena,
                     struct geo_ctx *geo, zone_file_seen_fn file_seen, void *file_ctx, zone_t **out,
                     char *err, size_t errlen);

#endif
