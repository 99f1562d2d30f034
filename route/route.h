/* route.h: geo routing: policy parsing, ranking PoPs for a client, fallback chain, memo, explain.
 */
#ifndef GEODNS_ROUTE_H
#define GEODNS_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "geoip.h"
#include "pops.h"
#include "yamltree.h"

#define ROUTE_ANSWERS_MAX 8  /* PoPs per answer */
#define ROUTE_CAND_MAX    32 /* ranked candidates kept in a decision (tie group + the rest) */
#define ROUTE_FENCES_MAX  16 /* fence rules per policy */
#define ROUTE_SEL_MAX     32 /* codes or names per fence selector list */

/* Shares are fixed point: ROUTE_SHARE_ONE keeps every client. */
#define ROUTE_SHARE_ONE 65535u

/* What health and capacity say about each PoP, built off the query path (health snapshot) and
 * read by route_rank and route_decision_pick. Indexed by PoP. A NULL view means every PoP up
 * with every address, keeping all its clients. */
typedef struct route_health {
    uint8_t up[POPS_MAX];        /* nonzero: the PoP may answer (health, overrides, not drained) */
    uint16_t keep[POPS_MAX];     /* share of its own clients the PoP keeps, 0..ROUTE_SHARE_ONE */
    uint32_t weight[POPS_MAX];   /* share of other PoPs' shed clients it takes (its headroom);
                                    0 = none */
    uint16_t load[POPS_MAX];     /* load ratio in 1/1000 of capacity (least-loaded overflow) */
    uint16_t addr4[POPS_MAX];    /* bit i: IPv4 address i is up (answers withdraw the others) */
    uint16_t addr6[POPS_MAX];    /* bit i: IPv6 address i is up */
    uint8_t short_ttl[POPS_MAX]; /* nonzero: answers naming this PoP use ttl_short */
    uint32_t ttl_short;          /* the shortened TTL (a floor: policies with less keep theirs) */
    unsigned spill;              /* shed clients spread over this many next PoPs (default 3) */
    /* The merged prefix tables built for exactly this view (rtable.h), or NULL: the query path
     * then ranks per client. Owned by whoever publishes the view. */
    const struct route_table *table;
} route_health_t;

typedef enum route_mode {
    ROUTE_MODE_A,     /* answer A/AAAA with the chosen PoPs' addresses */
    ROUTE_MODE_CNAME, /* answer a CNAME to the chosen PoP's hostname */
} route_mode_t;

typedef enum route_then {
    ROUTE_THEN_SERVFAIL, /* default */
    ROUTE_THEN_NODATA,
} route_then_t;

/* A fence selector: matches when the country OR the continent is listed (or, for PoPs, the
 * name is listed). */
typedef struct route_sel {
    size_t ncountry, ncontinent, npops;
    char country[ROUTE_SEL_MAX][3];
    char continent[ROUTE_SEL_MAX][3];
    uint16_t pops[ROUTE_SEL_MAX];
} route_sel_t;

/* Clients matching `clients` may only be served by PoPs matching `pops`. The first rule whose
 * clients selector matches applies; clients matching no rule are not fenced. */
typedef struct route_fence {
    route_sel_t clients, pops;
} route_fence_t;

/* A parsed `geo:` mapping. Immutable after parsing; read fields directly. */
typedef struct route_policy {
    uint32_t id;               /* memo key part; 0 after parsing, the caller may set it */
    int pool;                  /* pool index in the pops_t it was parsed against */
    int fallback_pool;         /* pool index or -1 */
    char cname[POPS_HOST_MAX]; /* fallback CNAME target, absolute, or "" */
    route_then_t then;         /* last step of the chain */
    route_mode_t mode;
    unsigned answers;   /* PoPs per answer, 1..ROUTE_ANSWERS_MAX (default 1; 1 in cname mode) */
    unsigned addresses; /* addresses per PoP and family, 0 = all (default) */
    uint32_t ttl;       /* default 30 */
    double tie;         /* tie band as a fraction (default 0.05 = 5%) */
    bool has_default_location;
    double default_lat, default_lon;
    size_t nfences;
    route_fence_t fences[ROUTE_FENCES_MAX];
} route_policy_t;

/* Parse a zone record's `geo:` mapping against pops (PoP and pool names are resolved now, so
 * the policy is only valid with that pops_t). On success *out is allocated, owned by the caller
 * (route_policy_free). Returns 0, -EINVAL with "file:line:col: reason", or -ENOMEM. */
int route_policy_parse(const yt_node_t *geo, const pops_t *pops, route_policy_t **out, char *err,
                       size_t errlen);
void route_policy_free(route_policy_t *pol);

/* What the router knows about a client. */
typedef struct route_client {
    bool located; /* lat/lon valid */
    double lat, lon;
    char country[3];       /* "" when unknown */
    char continent[3];     /* "" when unknown */
    const uint16_t *fixed; /* fixed PoP order from a nets entry (borrowed) or NULL */
    size_t nfixed;
    uint32_t hash; /* stable hash of the client's /24 or /48 (route_client_hash) */
} route_client_t;

/* Fill c from a geoip_loc_t (fixed order and hash are left NULL/0). */
void route_client_from_loc(route_client_t *c, const geoip_loc_t *loc);

/* The prefix a client's hash covers: the first ROUTE_HASH_V4 / ROUTE_HASH_V6 bits, or fewer when
 * the client (ECS source prefix) gave fewer. Answers that depend on the hash (tie band, capacity
 * shedding) carry this as their ECS scope. prefix is in the family's terms (IPv4-mapped IPv6
 * counts the 96 mapped bits). */
#define ROUTE_HASH_V4 24
#define ROUTE_HASH_V6 48
uint8_t route_hash_prefix(int family, const uint8_t *addr, unsigned prefix);

/* FNV-1a of the first route_hash_prefix() bits of addr (IPv4-mapped IPv6 hashes as IPv4), so
 * every client of one /24 (/48) gets the same hash and keeps its PoP. */
uint32_t route_client_hash(int family, const uint8_t *addr, unsigned prefix);

typedef enum route_outcome {
    ROUTE_OUT_POOL,          /* pop[0..n) from the policy's pool */
    ROUTE_OUT_FALLBACK_POOL, /* pop[0..n) from the fallback pool */
    ROUTE_OUT_CNAME,         /* answer CNAME policy->cname */
    ROUTE_OUT_NODATA,        /* NOERROR, no records of this type */
    ROUTE_OUT_SERVFAIL,
} route_outcome_t;

/* A routing decision: small, copyable, allocation-free. */
typedef struct route_decision {
    route_outcome_t outcome;
    uint8_t n;                       /* chosen PoPs */
    uint16_t pop[ROUTE_ANSWERS_MAX]; /* PoP indices, best first */
    /* The ranking behind the choice, so that a memo hit can re-pick for another client hash:
     * cand[0..ntie) are the equally-near PoPs (in PoP index order), then the rest by distance. */
    uint8_t ncand, ntie, answers;
    uint16_t cand[ROUTE_CAND_MAX];
    bool full;      /* every PoP of the step was past its high watermark: overflow answer */
    bool hashed;    /* the pick depended on the client hash (tie band, shedding, spill) */
    bool shed;      /* the nearest PoP shed this client to another */
    bool short_ttl; /* an answered PoP asks for the short TTL */
} route_decision_t;

typedef enum route_reason {
    ROUTE_WHY_NOT_IN_POOL = 0, /* not in the pool of the step that answered */
    ROUTE_WHY_CHOSEN,
    ROUTE_WHY_FENCED,
    ROUTE_WHY_DOWN,
    ROUTE_WHY_NO_ADDRESS, /* no address of the query's family */
    ROUTE_WHY_FARTHER,    /* eligible but not among the chosen */
    ROUTE_WHY_FULL,       /* past its high watermark (or shares 0): takes no new clients */
    ROUTE_WHY_SHED,       /* nearest, but shed this client (share kept, client hash) */
} route_reason_t;

/* Per-PoP details for explain; optional (NULL on the query path). */
typedef struct route_trace {
    route_reason_t reason[POPS_MAX];
    double km[POPS_MAX];     /* great-circle distance, or -1 when the client is unlocated */
    double biased[POPS_MAX]; /* km x factor */
    int step[POPS_MAX];      /* 1 = pool, 2 = fallback pool, 0 = not considered */
    bool located;            /* whether a location was used (client or default) */
    double lat, lon;         /* that location */
    const char *origin;      /* "client", "policy default_location", "pops default_location",
                                "none (pool order)", "nets fixed order" */
} route_trace_t;

/* Rank and choose. health: per-PoP state, NULL = all up and keeping all. family:
 * AF_INET (A), AF_INET6 (AAAA) or 0 (CNAME mode, or any type that does not need addresses).
 * The step (pool, then fallback pool, then CNAME, then policy->then) is chosen by health and
 * fences alone; within it, PoPs without an address of `family` are skipped, and if none has one
 * the outcome is NODATA. Never allocates. Returns 0, or -EINVAL for a policy/pops mismatch. */
int route_rank(const route_policy_t *pol, const pops_t *pops, const route_client_t *client,
               const route_health_t *health, int family, route_decision_t *out,
               route_trace_t *trace);

/* Re-choose dec->pop for another client hash from the kept ranking (used on memo hits), with
 * the same health view the ranking used. Within a step: the nearest PoP (tie band rotated by
 * hash) keeps the client when the client's hash falls inside its kept share; otherwise the
 * client is spread over the next health->spill candidates in proportion to their weight. */
void route_decision_pick(route_decision_t *dec, uint32_t hash, const route_health_t *health);

/* min(source prefix, matched network prefix) (no longer the ECS scope: route_answer_scope). */
uint8_t route_scope(uint8_t source_prefix, uint8_t matched_prefix);

/* Memo of decisions, one per worker, fixed size, direct-mapped: a new decision overwrites
 * whatever occupied its slot. generation must change whenever the pops, policies or the
 * up-vector change, so stale entries never match. */
typedef struct route_memo_key {
    uint64_t loc;        /* geoip_loc_t.key (mmdb record or nets entry); 0 = not located */
    uint32_t policy;     /* route_policy_t.id */
    uint32_t generation; /* snapshot generation */
    uint8_t family;      /* 4, 6 or 0 */
} route_memo_key_t;

typedef struct route_memo route_memo_t;

/* Allocate a memo with slots rounded up to a power of two (>= 16). NULL on ENOMEM. */
route_memo_t *route_memo_new(size_t slots);
void route_memo_free(route_memo_t *memo);

/* On a hit, copy the decision into *out, re-picked for hash with health, and return true. */
bool route_memo_get(route_memo_t *memo, const route_memo_key_t *key, uint32_t hash,
                    const route_health_t *health, route_decision_t *out);
void route_memo_put(route_memo_t *memo, const route_memo_key_t *key, const route_decision_t *dec);

/* Hits and misses since creation. */
void route_memo_stats(const route_memo_t *memo, uint64_t *hits, uint64_t *misses);

/* The addresses of PoP idx to answer for family (AF_INET / AF_INET6): those up in health (all
 * when health is NULL), in the listed order, at most limit (0 = all). out has room for
 * POPS_ADDRS_MAX. Returns the count. */
size_t route_pop_addresses(const pops_pop_t *p, const route_health_t *h, size_t idx, int family,
                           unsigned limit, const uint8_t **out);

/* The TTL of an answer: the policy's, or health->ttl_short when lower and an answered PoP is
 * shedding or changed state recently. */
uint32_t route_answer_ttl(const route_policy_t *pol, const route_decision_t *dec,
                          const route_health_t *h);

/* The ECS scope of an answer: matched_prefix, the widest prefix around the client inside which
 * every address gets this answer (the merged table's leaf depth, rtable.h), widened to
 * hash_prefix (see route_hash_prefix) when the pick depended on the client hash. The source
 * prefix does not bound it either way (RFC 7871 7.2.1). */
uint8_t route_answer_scope(uint8_t source_prefix, uint8_t matched_prefix, uint8_t hash_prefix,
                           const route_decision_t *dec);

/* Human-readable explanation: the client, every PoP with distance, step, health, load, share
 * kept and reason, the outcome and answer, the ECS scope and TTL. source_prefix 0 = no usable
 * ECS option. Returns the length written (truncated to buflen - 1) or a negative code from
 * route_rank. */
int route_explain(char *buf, size_t buflen, const route_policy_t *pol, const pops_t *pops,
                  const route_client_t *client, const route_health_t *health, int family,
                  uint8_t source_prefix, uint8_t matched_prefix, uint8_t hash_prefix);

/* "pool", "fallback-pool", "cname", "nodata", "servfail"; and reason names. */
const char *route_outcome_name(route_outcome_t o);
const char *route_reason_name(route_reason_t r);

#endif
