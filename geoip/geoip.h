/* geoip.h: client location for geodnsd: mmdb lookups with schema presets, custom nets, distance. */
#ifndef GEOIP_GEOIP_H
#define GEOIP_GEOIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "yamltree.h"

/* Longest slash-separated field path accepted in a schema, and its most components. */
#define GEOIP_PATH_MAX        128
#define GEOIP_PATH_DEPTH      8
#define GEOIP_SUBDIVISION_MAX 32
/* Most PoP names a nets entry may list, and the longest PoP name. */
#define GEOIP_NET_POPS_MAX 16
#define GEOIP_NAME_MAX     32

/* Where each field lives in an mmdb record, as slash-separated paths into the record's maps and
 * arrays ("location/latitude", "subdivisions/0/iso_code"). NULL or "" means the database has no
 * such field. A missing continent is derived from the country code with a built-in table. */
typedef struct geoip_schema {
    const char *latitude;
    const char *longitude;
    const char *country;
    const char *continent;
    const char *subdivision;
} geoip_schema_t;

/* The result of a lookup. Caller storage; never allocates. */
typedef struct geoip_loc {
    bool found;        /* the address is in a network with data */
    bool located;      /* lat/lon are valid (found and the record has coordinates) */
    double lat, lon;   /* degrees */
    char country[3];   /* ISO 3166-1 alpha-2, "" when unknown */
    char continent[3]; /* AF AN AS EU NA OC SA, "" when unknown */
    char subdivision[GEOIP_SUBDIVISION_MAX]; /* ISO 3166-2 code or region name, maybe truncated */
    uint8_t prefix; /* matched network's prefix length in the query family (0..32 / 0..128);
                       on a miss, the length of the empty network containing the address */
    uint64_t key;   /* identifies the location record (same record => same key), for memo
                       keys; 0 when not found */
} geoip_loc_t;

typedef struct geoip_db geoip_db_t;

/* Fill *out with a built-in preset: "geoip2-city" (MaxMind GeoIP2/GeoLite2 City and DB-IP's own
 * GeoIP2-compatible mmdb files) or "dbip-city-lite" (the flat layout of ip-location-db's
 * dbip-city / geolite2-city mmdb files: latitude, longitude, country_code, state1).
 * The strings are static. Returns 0, or -ENOENT for an unknown name. */
int geoip_schema_preset(const char *name, geoip_schema_t *out);

/* Open an mmdb file with MMDB_MODE_MMAP. schema is copied (the caller's strings may go away).
 * latitude, longitude and country paths are required. On success *out owns the mapping; free
 * with geoip_db_close. The whole file is verified first (metadata; every search tree node's two
 * records are a node, "empty" or a pointer into the data section; no lookup path longer than the
 * address's bits; every data record the tree points to decodes), so a corrupt file is refused
 * here rather than failing lookups later; this reads the whole file once (about a second for a
 * city database of a few hundred MB), which is why it belongs to loading, never to queries.
 * Returns 0, -ENOENT (file missing), -EINVAL (bad schema, not a valid mmdb, or corrupt: err
 * then says "path: corrupt GeoIP database (mmdb): what"), -ENOMEM; err gets "path: reason". */
int geoip_db_open(const char *path, const geoip_schema_t *schema, geoip_db_t **out, char *err,
                  size_t errlen);

/* Unmap and free. NULL is fine. */
void geoip_db_close(geoip_db_t *db);

/* Look up addr (4 bytes for AF_INET, 16 for AF_INET6; ::ffff:a.b.c.d is treated as IPv4, and
 * then out->prefix is in IPv4 terms). Never allocates; thread-safe on a shared db.
 * Returns 0 (found or not: see out->found), -EAFNOSUPPORT for a bad family or an IPv6 address
 * in an IPv4-only database, -EIO for a corrupt database. */
int geoip_db_lookup(const geoip_db_t *db, int family, const uint8_t *addr, geoip_loc_t *out);

/* The same in two steps, so that a caller with a cache keyed by the record can skip reading
 * the record's fields on a hit: find walks the tree only (key and prefix), fill reads the
 * fields. Neither allocates. */
typedef struct geoip_ref {
    bool found;
    uint8_t prefix;  /* as geoip_loc_t.prefix */
    uint64_t key;    /* as geoip_loc_t.key */
    uint32_t offset; /* the record inside the database */
} geoip_ref_t;
int geoip_db_find(const geoip_db_t *db, int family, const uint8_t *addr, geoip_ref_t *ref);
void geoip_db_fill(const geoip_db_t *db, const geoip_ref_t *ref, geoip_loc_t *out);

/* The database_type string of the metadata ("GeoIP2-City"); owned by db. */
const char *geoip_db_type(const geoip_db_t *db);

/* ------------------------------------------------------------------------------------------ */
/* The search tree, for building merged prefix tables off the query path (prefixmap.c). */

/* The libmaxminddb handle inside db (for prefixmap.c). */
struct MMDB_s;
const struct MMDB_s *geoip_db_mmdb(const geoip_db_t *db);

typedef enum geoip_rec_type {
    GEOIP_REC_EMPTY = 0, /* no data for the addresses below */
    GEOIP_REC_NODE,      /* a search-tree node: value is its number */
    GEOIP_REC_DATA,      /* a data record: value is its offset (geoip_ref_t.offset) */
} geoip_rec_type_t;

typedef struct geoip_rec {
    geoip_rec_type_t type;
    uint32_t value;
} geoip_rec_t;

/* The record the tree starts from for family (AF_INET: the IPv4 subtree of an IPv6 database,
 * i.e. after 96 zero bits; AF_INET6: the root, or EMPTY in an IPv4-only database).
 * Returns 0, or -EIO for a corrupt tree. */
int geoip_tree_root(const geoip_db_t *db, int family, geoip_rec_t *out);

/* The record under node for the next address bit. Returns 0, or -EIO (node out of range or
 * a record pointing outside the database). */
int geoip_tree_child(const geoip_db_t *db, uint32_t node, unsigned bit, geoip_rec_t *out);

/* The number of search-tree nodes (0 for NULL). */
uint32_t geoip_tree_nodes(const geoip_db_t *db);

/* A reference for a data record (found, key and offset set; prefix 0), for geoip_db_fill. */
void geoip_tree_ref(const geoip_rec_t *rec, geoip_ref_t *ref);

/* Continent code ("EU") for an ISO country code, or NULL when unknown. */
const char *geoip_country_continent(const char *country);

/* Great-circle distance in km between two points (degrees) on a sphere of radius 6371.0088 km
 * (haversine). */
double geoip_distance_km(double lat1, double lon1, double lat2, double lon2);

/* The point (degrees) as a unit vector: the dot product of two is the cosine of the angle
 * between them, so it orders distances like geoip_distance_km (prefixmap.c). */
void geoip_unit_vector(double lat, double lon, double out[3]);

/* ------------------------------------------------------------------------------------------ */
/* Custom nets: a YAML file of prefixes that override the mmdb. */

typedef struct geoip_net {
    uint32_t id;      /* 0..count-1, stable for this nets object (memo keys) */
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network address (4 or 16 bytes used), host bits zero */
    uint8_t prefix;   /* prefix length */
    geoip_loc_t loc;  /* located when `location` given; country/continent/subdivision */
    size_t npops;     /* fixed PoP order, names resolved by the caller */
    char pops[GEOIP_NET_POPS_MAX][GEOIP_NAME_MAX];
    /* Position of the entry (key) and of each PoP name, for "unknown PoP" errors. */
    const char *file; /* owned by the nets object */
    unsigned line, col;
    unsigned pop_line[GEOIP_NET_POPS_MAX], pop_col[GEOIP_NET_POPS_MAX];
} geoip_net_t;

typedef struct geoip_nets geoip_nets_t;

/* Parse a nets document (root mapping with one key `nets`, see docs/geo.md) into a longest-prefix
 * match structure. The tree is not kept (positions are copied). On success *out is owned by the
 * caller (geoip_nets_free). Returns 0, -EINVAL with "file:line:col: reason", -ENOMEM. */
int geoip_nets_parse(const yt_node_t *root, geoip_nets_t **out, char *err, size_t errlen);

/* Load and parse a nets YAML file (yt_doc_load_file + geoip_nets_parse). */
int geoip_nets_load(const char *path, geoip_nets_t **out, char *err, size_t errlen);

void geoip_nets_free(geoip_nets_t *nets);

/* Number of entries, and entry i (0..count-1, in file order). */
size_t geoip_nets_count(const geoip_nets_t *nets);
const geoip_net_t *geoip_nets_entry(const geoip_nets_t *nets, size_t i);

/* Longest-prefix match of addr (IPv4-mapped IPv6 is treated as IPv4). Returns the entry (owned
 * by nets) or NULL when no prefix covers addr. Never allocates. */
const geoip_net_t *geoip_nets_lookup(const geoip_nets_t *nets, int family, const uint8_t *addr);

/* Locate a client: the nets entry covering addr if any (then *out is a copy of the entry's loc,
 * whose prefix is the entry's prefix, and the mmdb is not consulted, so an entry with only
 * `pops` leaves the client unlocated), else the mmdb (db may be NULL: not found). *net gets the
 * entry or NULL (net may be NULL). Never allocates. Returns as geoip_db_lookup. */
int geoip_locate(const geoip_db_t *db, const geoip_nets_t *nets, int family, const uint8_t *addr,
                 geoip_loc_t *out, const geoip_net_t **net);

/* Parse "a.b.c.d/len" or "x::y/len" (no /len = full length). Returns 0 or -EINVAL (also when
 * host bits are set). addr gets 4 or 16 bytes. */
int geoip_prefix_parse(const char *s, int *family, uint8_t addr[16], uint8_t *prefix);

#endif
