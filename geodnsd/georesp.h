/* georesp.h: geo routing inside geodnsd: the routing data of a snapshot (PoPs, mmdb, nets,
 * policies) and the answer for a geo name, computed per client on the query path. */
#ifndef GEODNSD_GEORESP_H
#define GEODNSD_GEORESP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "geo.h"
#include "geoip.h"
#include "pops.h"
#include "query.h"
#include "route.h"
#include "rtable.h"
#include "wire.h"
#include "yamltree.h"

typedef struct geo_runtime {
    pops_t *pops;
    geoip_db_t *db;     /* may be NULL: clients are then located by nets or not at all */
    geoip_nets_t *nets; /* may be NULL */
    size_t nnets;
    uint16_t (*net_fixed)[GEOIP_NET_POPS_MAX]; /* per nets entry: fixed PoP order, resolved */
    uint8_t *net_nfixed;
    uint8_t (*pop_host)[DNS_MAX_NAME]; /* per PoP: hostname in wire form (cname mode) */
    uint8_t *pop_hostlen;
    route_policy_t **pol;               /* every policy of every zone; policy id = index + 1 */
    uint8_t (*pol_cname)[DNS_MAX_NAME]; /* per policy: fallback CNAME in wire form */
    uint8_t *pol_cnamelen;
    size_t npol, cappol;
    uint32_t generation;
    geo_ctx_t ctx;   /* handed to the zone loader */
    char *pops_file; /* the PoP file's path, for messages */
} geo_runtime_t;

/* Build the routing data from the server config's `pops:` and `geoip:` nodes (paths relative
 * to dir). Every file read is passed to add_file (for the reload watch list). */
int geo_runtime_load(const yt_node_t *pops_node, const yt_node_t *geoip_node, const char *dir,
                     uint32_t generation, int (*add_file)(void *ctx, const char *path),
                     void *add_ctx, geo_runtime_t **out, char *err, size_t errlen);
void geo_runtime_free(geo_runtime_t *rt);

/* Log a warning for every PoP hostname a cname-mode geo name can answer, and every fallback
 * CNAME target, that lies inside one of zs's zones and has no data there (the CNAME would lead
 * clients to NXDOMAIN). Each warning names the PoP file:line:col or the zone file and the
 * target. Load and reload go on. */
void georesp_warn_targets(const geo_runtime_t *rt, const zone_set_t *zs);

/* Build the merged prefix tables of rt's policies for a health view (NULL: all up), off the
 * query path (rtable.h). The result belongs with that view: route_health_t.table. With a
 * cancel flag (NULL: none) the build stops with -ECANCELED once it is true
 * (route_table_input_t.cancel). */
int geo_table_build(const geo_runtime_t *rt, const route_health_t *health,
                    const atomic_bool *cancel, route_table_t **out, char *err, size_t errlen);

typedef enum georesp_result {
    GEORESP_DONE = 0,   /* the answer (or SERVFAIL) is written */
    GEORESP_NODATA = 1, /* no record of this type: the caller adds the SOA */
    GEORESP_CNAME = 2,  /* a CNAME was written; its target is in *target for chasing */
} georesp_result_t;

/* The client a geo answer is for: ECS address when usable (RFC 7871 7.1.2), else the source. */
typedef struct geo_client {
    int family;
    uint8_t addr[16];
    uint8_t source_prefix; /* ECS source prefix, or the full length for the packet source */
    bool from_ecs;
    bool ecs_unusable;       /* an ECS option came with a private/loopback address: source used */
    uint8_t unusable_prefix; /* then: the special-purpose range it lies in (its ECS scope) */
} geo_client_t;

void georesp_client(const dns_query_t *q, const struct sockaddr *src, geo_client_t *out);

/* Answer a geo node for q. Writes the records into w under owner. Returns a georesp_result_t,
 * or -1 when the records do not fit (the caller truncates). Sets *scope (ECS scope prefix) and
 * *rcode (SERVFAIL when the policy says so). Never allocates, locks or logs. */
int georesp_answer(const query_env_t *env, const dns_query_t *q, const struct sockaddr *src,
                   const zone_node_t *n, const uint8_t *owner, size_t ownerlen, dns_writer_t *w,
                   uint8_t *rcode, uint8_t *scope, const uint8_t **target, size_t *targetlen);

/* Per-worker cache of final geo answers keyed by what decides them: the client prefix (ECS
 * address and source prefix, or the source address), policy, query family and snapshot
 * generation. A hit skips the mmdb walk and the ranking entirely. Direct-mapped, fixed size,
 * no allocation after creation. */
typedef struct geo_cache geo_cache_t;
geo_cache_t *geo_cache_new(size_t slots);
void geo_cache_free(geo_cache_t *cache);

/* The widest prefix around client c with one answer (the ECS scope before the hash prefix):
 * the merged table's leaf depth when health has a table, else what ranking per client can
 * vouch for around the matched network of prefix matched (nets entries and special ranges
 * cut in). */
uint8_t georesp_scope_prefix(const geo_runtime_t *rt, const route_health_t *health,
                             uint32_t policy_id, const geo_client_t *c, int family,
                             uint8_t matched);

/* Debugging over DNS: TXT records, one per line of route_explain(), telling why this client
 * gets what it gets at geo node n (TTL 0). Only called for loopback clients when the server
 * config has `explain: true`. Returns 0, or -1 when the records do not fit. */
int georesp_explain_txt(const query_env_t *env, const dns_query_t *q, const struct sockaddr *src,
                        const zone_node_t *n, const uint8_t *owner, size_t ownerlen,
                        dns_writer_t *w, uint8_t *scope);

/* Routing decision for a client (used by the answer and by `geodnsd explain`). health may be
 * NULL (all up); generation keys the memo. */
int georesp_decide(const geo_runtime_t *rt, struct route_memo *memo, const route_health_t *health,
                   uint32_t generation, const route_policy_t *pol, uint32_t policy_id,
                   const geo_client_t *c, int family, route_decision_t *dec, geoip_loc_t *loc,
                   const geoip_net_t **net);

#endif
