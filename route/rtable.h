/* rtable.h: merged prefix tables for geo answers, built off the query path.
 *
 * For each distinct geo policy, a binary trie over the whole IPv4 and IPv6 space whose leaves
 * are answer ids: the mmdb's search tree walked node by node, overlaid with the nets entries and
 * the special-purpose ranges, every location ranked once (memoized by location record), and
 * siblings with equal answers merged bottom-up. The depth of the leaf a client address reaches
 * is then exactly the widest prefix around it inside which every address gets the same answer
 * from the inputs (config, mmdb, nets, fences, health): the ECS scope. For lookups the trie is
 * compiled into 16-way nodes under a jump table of the first 12 bits: at most 5 (IPv4) or 29
 * (IPv6) steps; a lookup never allocates, locks or logs. */
#ifndef GEODNS_RTABLE_H
#define GEODNS_RTABLE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geoip.h"
#include "pops.h"
#include "route.h"

/* What a table is built from. Everything is borrowed for the build only. */
typedef struct route_table_input {
    const pops_t *pops;
    const geoip_db_t *db;                            /* NULL: clients are located by nets only */
    const geoip_nets_t *nets;                        /* NULL: no nets */
    const uint16_t (*net_fixed)[GEOIP_NET_POPS_MAX]; /* per nets entry: fixed PoP order */
    const uint8_t *net_nfixed;                       /* per nets entry: its length */
    route_policy_t *const *pol;                      /* policy id i + 1 is pol[i] */
    size_t npol;
    const route_health_t *health; /* NULL: every PoP up, keeping all its clients */
    /* NULL: never. Otherwise read (relaxed) every 4096 trie nodes walked and every location
     * ranked: once it is true the build stops, frees what it made and returns -ECANCELED. */
    const atomic_bool *cancel;
    /* Tests only (NULL otherwise): called at every check of a non-NULL cancel with the check's
     * number in this build (from 1), before the flag is read, so a test can cancel at a chosen
     * point. */
    void (*cancel_check)(unsigned long n);
} route_table_input_t;

typedef struct route_table route_table_t;

/* Build the tables. Returns 0, -ENOMEM, -EIO (corrupt mmdb tree), -EINVAL (policy/pops
 * mismatch), -ECANCELED (in->cancel became true); err gets the reason. */
int route_table_build(const route_table_input_t *in, route_table_t **out, char *err, size_t errlen);
void route_table_free(route_table_t *t);

/* What a lookup finds. */
struct route_table_hit {
    /* The decision for the query family: A (and ANY; also every type in cname mode) or AAAA.
     * When dec->hashed, the pick depends on the client hash: copy it and re-pick it with
     * route_decision_pick (then the answer varies by /24 or /48). Otherwise dec->pop[0..n) is
     * the answer for every address under the leaf. */
    const route_decision_t *dec;
    uint8_t depth; /* the leaf's depth in the address's family (IPv4-mapped IPv6 counts 96) */
    bool special;  /* the address is in a special-purpose range (route_special_prefix) */
};

typedef struct route_table_hit route_table_hit_t;

/* Look up addr (4 or 16 bytes) for policy_id (1..npol) and the query family (AF_INET6 for
 * AAAA, anything else for A / cname mode). Returns false when policy_id is out of range. */
bool route_table_lookup(const route_table_t *t, uint32_t policy_id, int family, const uint8_t *addr,
                        int qfamily, route_table_hit_t *out);

typedef struct route_table_stats {
    size_t tables;    /* distinct policies */
    size_t nodes;     /* trie nodes (16-way), all tables */
    size_t answers;   /* distinct answers, all tables */
    size_t locations; /* distinct locations (mmdb records, nets entries) */
    size_t ranked;    /* rankings done: distinct places (coordinates, country, continent) */
    size_t bytes;     /* memory held */
} route_table_stats_t;
void route_table_stats(const route_table_t *t, route_table_stats_t *out);

#endif
