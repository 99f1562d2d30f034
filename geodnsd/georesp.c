/* georesp.c: geo names at query time: locate the client, look its answer up in the merged prefix
 * table of the health view (or, without one, rank with the per-worker memo), and write A/AAAA or
 * CNAME answers with the ECS scope. Load-time building is in geoload.c. */
#include "georesp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "metrics.h"
#include "route_special.h"

/* ---- answer cache ---- */

typedef struct geo_cache_entry {
    uint8_t addr[16]; /* client address, masked to the source prefix */
    uint32_t policy;
    uint32_t generation;
    uint8_t family; /* AF_INET / AF_INET6 of the client, 0 = empty slot */
    uint8_t source; /* source prefix */
    uint8_t qfam;   /* 0, 4 or 6: the address family asked for */
    uint8_t outcome;
    uint8_t n;
    uint8_t prefix; /* the matched network's prefix (ECS scope) */
    uint8_t flags;  /* CACHE_HASHED, CACHE_SHORT_TTL */
    uint16_t pop[ROUTE_ANSWERS_MAX];
} geo_cache_entry_t;

#define CACHE_HASHED    0x1u
#define CACHE_SHORT_TTL 0x2u
#define CACHE_FULL      0x4u /* kept for the counters: overflow and shedding */
#define CACHE_SHED      0x8u

struct geo_cache {
    size_t mask;
    geo_cache_entry_t slot[];
};

geo_cache_t *geo_cache_new(size_t slots)
{
    size_t n = 16;
    while (n < slots)
        n <<= 1;
    geo_cache_t *c = calloc(1, sizeof(*c) + n * sizeof(geo_cache_entry_t));
    if (c)
        c->mask = n - 1;
    return c;
}

void geo_cache_free(geo_cache_t *cache)
{
    free(cache);
}

static void cache_key(const geo_client_t *c, uint32_t policy, uint32_t generation, uint8_t qfam,
                      geo_cache_entry_t *k)
{
    memset(k, 0, sizeof(*k));
    unsigned bytes = c->family == AF_INET ? 4 : 16;
    memcpy(k->addr, c->addr, bytes);
    unsigned bits = c->source_prefix;
    for (unsigned b = bits; b < bytes * 8; b++)
        k->addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
    k->policy = policy;
    k->generation = generation;
    k->family = (uint8_t)c->family;
    k->source = c->source_prefix;
    k->qfam = qfam;
}

static geo_cache_entry_t *cache_slot(geo_cache_t *cache, const geo_cache_entry_t *k)
{
    uint32_t h = 2166136261u;
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i < offsetof(geo_cache_entry_t, outcome); i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return &cache->slot[h & cache->mask];
}

static bool cache_match(const geo_cache_entry_t *e, const geo_cache_entry_t *k)
{
    return e->family && !memcmp(e, k, offsetof(geo_cache_entry_t, outcome));
}

/* ---- query path ---- */

void georesp_client(const dns_query_t *q, const struct sockaddr *src, geo_client_t *c)
{
    memset(c, 0, sizeof(*c));
    if (q->has_ecs && q->ecs_source > 0) {
        /* Not usable as a client location: this-network, private, loopback, link-local,
         * multicast, reserved, unique-local. Documentation and shared (100.64/10) ranges are
         * accepted so that test and example databases can place them. */
        int fam = q->ecs_family == 1 ? AF_INET : AF_INET6;
        uint8_t special = route_special_prefix(fam, q->ecs_addr);
        if (!special) {
            c->family = fam;
            memcpy(c->addr, q->ecs_addr, fam == AF_INET ? 4 : 16);
            c->source_prefix = q->ecs_source;
            c->from_ecs = true;
            return;
        }
        c->ecs_unusable = true;
        c->unusable_prefix = special; /* the answer is good for that whole range, no wider */
    }
    if (src && src->sa_family == AF_INET) {
        c->family = AF_INET;
        memcpy(c->addr, &((const struct sockaddr_in *)src)->sin_addr, 4);
        c->source_prefix = 32;
    } else if (src && src->sa_family == AF_INET6) {
        c->family = AF_INET6;
        memcpy(c->addr, &((const struct sockaddr_in6 *)src)->sin6_addr, 16);
        c->source_prefix = 128;
    }
}

int georesp_decide(const geo_runtime_t *rt, struct route_memo *memo, const route_health_t *health,
                   uint32_t generation, const route_policy_t *pol, uint32_t policy_id,
                   const geo_client_t *c, int family, route_decision_t *dec, geoip_loc_t *loc,
                   const geoip_net_t **net)
{
    memset(loc, 0, sizeof(*loc));
    *net = NULL;
    /* Nets entries first (longest prefix wins), else the mmdb: only the tree walk now; the
     * record's fields are read on a memo miss only. */
    geoip_ref_t ref = {0};
    if (c->family) {
        *net = rt->nets ? geoip_nets_lookup(rt->nets, c->family, c->addr) : NULL;
        if (*net)
            *loc = (*net)->loc;
        else if (rt->db)
            (void)geoip_db_find(rt->db, c->family, c->addr, &ref);
    }
    if (!*net)
        loc->prefix = ref.prefix;
    /* An IPv4-mapped IPv6 client is located as IPv4; its prefix goes back into IPv6 terms, so
     * the ECS scope of a family-2 option counts the 96 mapped bits. */
    if (c->family == AF_INET6 && addr_v4mapped(c->addr) && loc->prefix <= 32)
        loc->prefix = (uint8_t)(loc->prefix + 96);
    uint32_t hash = c->family ? route_client_hash(c->family, c->addr, c->source_prefix) : 0;
    route_memo_key_t key = {
        .loc = *net ? (1ull << 63) | (*net)->id : (ref.found ? ref.key : 0),
        .policy = policy_id,
        .generation = generation,
        .family = (uint8_t)(family == AF_INET    ? 4
                            : family == AF_INET6 ? 6
                                                 : 0),
    };
    if (memo && route_memo_get(memo, &key, hash, health, dec))
        return 0;
    if (!*net && ref.found) {
        uint8_t prefix = loc->prefix;
        geoip_db_fill(rt->db, &ref, loc);
        loc->prefix = prefix;
    }
    route_client_t rc;
    route_client_from_loc(&rc, loc);
    if (*net && rt->net_nfixed[(*net)->id]) {
        rc.fixed = rt->net_fixed[(*net)->id];
        rc.nfixed = rt->net_nfixed[(*net)->id];
    }
    rc.hash = hash;
    int r = route_rank(pol, rt->pops, &rc, health, family, dec, NULL);
    if (r)
        return r;
    if (memo)
        route_memo_put(memo, &key, dec);
    return 0;
}

_Static_assert((int)ROUTE_OUT_POOL == (int)METRICS_STEP_POOL &&
                   (int)ROUTE_OUT_SERVFAIL == (int)METRICS_STEP_SERVFAIL,
               "steps are counted by route outcome");

/* The decision in the thread's counters: its step, overflow and shedding, and the PoPs the
 * answer names (in cname mode only the first). */
static void georesp_count(metrics_counters_t *mc, const uint16_t *pop_slot,
                          const route_decision_t *dec, bool cname_mode)
{
    if ((unsigned)dec->outcome < METRICS_STEP_ERROR)
        metrics_inc(&mc->steps[dec->outcome]);
    if (dec->full)
        metrics_inc(&mc->overflow);
    if (dec->shed)
        metrics_inc(&mc->shed);
    if (!pop_slot || (dec->outcome != ROUTE_OUT_POOL && dec->outcome != ROUTE_OUT_FALLBACK_POOL))
        return;
    unsigned n = cname_mode && dec->n ? 1 : dec->n;
    for (unsigned i = 0; i < n; i++)
        metrics_inc(&mc->pop_answers[pop_slot[dec->pop[i]]]);
}

static uint8_t qfam(int family)
{
    return (uint8_t)(family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0);
}

/* The scope of an answer ranked per client (no merged table): the matched network (one location
 * record), cut short of any special range it holds (answered from the resolver's address), or the
 * full length when nets entries could split the network: narrower than the table's, never wider. */
static uint8_t fallback_scope(const geo_runtime_t *rt, const geo_client_t *c, uint8_t matched)
{
    if (rt->nnets)
        return c->family == AF_INET ? 32 : 128;
    return route_special_clamp(c->family, c->addr, matched);
}

/* Without a merged table (building it failed, or not built yet for the newest view): rank per
 * client, with the worker's answer cache and memo; the scope is fallback_scope(). */
static int georesp_decide_cached(const query_env_t *env, const route_policy_t *pol,
                                 uint32_t policy_id, const geo_client_t *c, int family, uint8_t qf,
                                 route_decision_t *dec, uint8_t *scope)
{
    const geo_runtime_t *rt = env->geo;
    uint8_t matched = 0;
    geo_cache_entry_t key, *slot = NULL;
    if (env->cache && c->family) {
        cache_key(c, policy_id, env->generation, qf, &key);
        slot = cache_slot(env->cache, &key);
    }
    metrics_counters_t *mc = env->counters;
    if (mc && slot)
        metrics_inc(cache_match(slot, &key) ? &mc->cache_hit : &mc->cache_miss);
    if (slot && cache_match(slot, &key)) {
        memset(dec, 0, sizeof(*dec));
        dec->outcome = (route_outcome_t)slot->outcome;
        dec->n = slot->n;
        memcpy(dec->pop, slot->pop, sizeof(dec->pop));
        matched = slot->prefix;
        dec->hashed = slot->flags & CACHE_HASHED;
        dec->short_ttl = slot->flags & CACHE_SHORT_TTL;
        dec->full = slot->flags & CACHE_FULL;
        dec->shed = slot->flags & CACHE_SHED;
    } else {
        geoip_loc_t loc;
        const geoip_net_t *net;
        if (georesp_decide(rt, env->memo, env->health, env->generation, pol, policy_id, c, family,
                           dec, &loc, &net))
            return -1;
        matched = loc.prefix;
        if (slot) {
            *slot = key;
            slot->outcome = (uint8_t)dec->outcome;
            slot->n = dec->n;
            memcpy(slot->pop, dec->pop, sizeof(slot->pop));
            slot->prefix = matched;
            slot->flags = (uint8_t)((dec->hashed ? CACHE_HASHED : 0) |
                                    (dec->short_ttl ? CACHE_SHORT_TTL : 0) |
                                    (dec->full ? CACHE_FULL : 0) | (dec->shed ? CACHE_SHED : 0));
        }
    }
    if (c->from_ecs) {
        uint8_t sc = fallback_scope(rt, c, matched);
        uint8_t hp = route_hash_prefix(c->family, c->addr, c->source_prefix);
        if (dec->hashed && hp > sc)
            sc = hp;
        *scope = sc;
    }
    return 0;
}

int georesp_answer(const query_env_t *env, const dns_query_t *q, const struct sockaddr *src,
                   const zone_node_t *n, const uint8_t *owner, size_t ownerlen, dns_writer_t *w,
                   uint8_t *rcode, uint8_t *scope, const uint8_t **target, size_t *targetlen)
{
    const geo_runtime_t *rt = env->geo;
    const route_policy_t *pol = n->geo;
    bool cname_mode = pol->mode == ROUTE_MODE_CNAME;
    int family = 0;
    if (!cname_mode) {
        if (q->qtype == DNS_TYPE_A || q->qtype == DNS_TYPE_ANY)
            family = AF_INET;
        else if (q->qtype == DNS_TYPE_AAAA)
            family = AF_INET6;
        else
            return GEORESP_NODATA; /* the answer does not depend on the client: scope 0 */
    }
    geo_client_t c;
    georesp_client(q, src, &c);
    route_decision_t own;               /* a re-picked or per-client decision */
    const route_decision_t *dec = &own; /* the answer's decision */
    metrics_counters_t *mc = env->counters;
    if (mc)
        metrics_inc(&mc->located[c.from_ecs       ? METRICS_LOC_ECS
                                 : c.ecs_unusable ? METRICS_LOC_ECS_UNUSABLE
                                                  : METRICS_LOC_SOURCE]);
    if (c.ecs_unusable)
        *scope = c.unusable_prefix;
    route_table_hit_t hit;
    const route_table_t *tab = env->health ? env->health->table : NULL;
    if (tab && c.family && route_table_lookup(tab, n->geo_id, c.family, c.addr, family, &hit)) {
        /* The merged table: the answer and the widest prefix it holds for, no mmdb walk and no
         * ranking. A hash-dependent answer is re-picked for this client's /24 (/48). */
        dec = hit.dec;
        uint8_t sc = hit.depth;
        if (dec->hashed) {
            own = *hit.dec;
            route_decision_pick(&own, route_client_hash(c.family, c.addr, c.source_prefix),
                                env->health);
            dec = &own;
            uint8_t hp = route_hash_prefix(c.family, c.addr, c.source_prefix);
            if (hp > sc)
                sc = hp;
        }
        if (c.from_ecs)
            *scope = sc;
    } else if (georesp_decide_cached(env, pol, n->geo_id, &c, family, qfam(family), &own, scope)) {
        if (mc)
            metrics_inc(&mc->steps[METRICS_STEP_ERROR]);
        *rcode = DNS_RCODE_SERVFAIL;
        return GEORESP_DONE;
    }
    uint32_t ttl = route_answer_ttl(pol, dec, env->health);
    if (mc)
        georesp_count(mc, env->pop_slot, dec, cname_mode);

    const uint8_t *cn = NULL;
    size_t cnlen = 0;
    switch (dec->outcome) {
    case ROUTE_OUT_NODATA:
        return GEORESP_NODATA;
    case ROUTE_OUT_SERVFAIL:
        *rcode = DNS_RCODE_SERVFAIL;
        return GEORESP_DONE;
    case ROUTE_OUT_CNAME:
        cn = rt->pol_cname[pol->id - 1];
        cnlen = rt->pol_cnamelen[pol->id - 1];
        break;
    case ROUTE_OUT_POOL:
    case ROUTE_OUT_FALLBACK_POOL:
        if (cname_mode && dec->n) {
            cn = rt->pop_host[dec->pop[0]];
            cnlen = rt->pop_hostlen[dec->pop[0]];
            break;
        }
        for (unsigned i = 0; i < dec->n; i++) {
            const pops_pop_t *p = &rt->pops->pop[dec->pop[i]];
            const uint8_t *addrs[POPS_ADDRS_MAX];
            size_t cnt =
                route_pop_addresses(p, env->health, dec->pop[i], family, pol->addresses, addrs);
            for (size_t j = 0; j < cnt; j++) {
                dns_rdata_t rd = {.data = addrs[j], .len = (uint16_t)(family == AF_INET ? 4 : 16)};
                if (dns_writer_rr(w, DNS_SEC_AN, owner, ownerlen,
                                  family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA, ttl, &rd))
                    return -1;
            }
        }
        return dec->n ? GEORESP_DONE : GEORESP_NODATA;
    }
    if (!cnlen)
        return GEORESP_NODATA;
    dns_rdata_t rd = {.data = cn, .len = (uint16_t)cnlen, .nnames = 1, .name_off = {0}};
    if (dns_writer_rr(w, DNS_SEC_AN, owner, ownerlen, DNS_TYPE_CNAME, ttl, &rd))
        return -1;
    if (q->qtype == DNS_TYPE_CNAME)
        return GEORESP_DONE;
    *target = cn;
    *targetlen = cnlen;
    return GEORESP_CNAME;
}

uint8_t georesp_scope_prefix(const geo_runtime_t *rt, const route_health_t *health,
                             uint32_t policy_id, const geo_client_t *c, int family, uint8_t matched)
{
    route_table_hit_t hit;
    if (health && health->table && c->family &&
        route_table_lookup(health->table, policy_id, c->family, c->addr, family, &hit))
        return hit.depth;
    return c->family ? fallback_scope(rt, c, matched) : matched;
}

int georesp_explain_txt(const query_env_t *env, const dns_query_t *q, const struct sockaddr *src,
                        const zone_node_t *n, const uint8_t *owner, size_t ownerlen,
                        dns_writer_t *w, uint8_t *scope)
{
    const geo_runtime_t *rt = env->geo;
    const route_policy_t *pol = n->geo;
    int family = pol->mode == ROUTE_MODE_CNAME ? 0 : AF_INET;
    geo_client_t c;
    georesp_client(q, src, &c);
    route_decision_t dec;
    geoip_loc_t loc;
    const geoip_net_t *net;
    if (georesp_decide(rt, NULL, env->health, env->generation, pol, n->geo_id, &c, family, &dec,
                       &loc, &net))
        return 0;
    route_client_t rc;
    route_client_from_loc(&rc, &loc);
    if (net && rt->net_nfixed[net->id]) {
        rc.fixed = rt->net_fixed[net->id];
        rc.nfixed = rt->net_nfixed[net->id];
    }
    if (c.family)
        rc.hash = route_client_hash(c.family, c.addr, c.source_prefix);
    char text[8192];
    int len = snprintf(text, sizeof(text), "located by: %s\n",
                       net         ? "nets entry"
                       : loc.found ? "mmdb"
                       : c.family  ? "nothing (default location or pool order)"
                                   : "no client address");
    if (len < 0 ||
        route_explain(text + len, sizeof(text) - (size_t)len, pol, rt->pops, &rc, env->health,
                      family, c.from_ecs ? c.source_prefix : 0,
                      georesp_scope_prefix(rt, env->health, n->geo_id, &c, family, loc.prefix),
                      c.family ? route_hash_prefix(c.family, c.addr, c.source_prefix) : 0) < 0)
        return 0;
    /* The answer is for this client only: scope = the whole source prefix. */
    if (c.from_ecs)
        *scope = c.source_prefix;
    uint8_t rdata[256];
    for (char *line = text; *line;) {
        char *nl = strchr(line, '\n');
        size_t l = nl ? (size_t)(nl - line) : strlen(line);
        if (l > 255)
            l = 255;
        if (l) {
            rdata[0] = (uint8_t)l;
            memcpy(rdata + 1, line, l);
            dns_rdata_t rd = {.data = rdata, .len = (uint16_t)(l + 1)};
            if (dns_writer_rr(w, DNS_SEC_AN, owner, ownerlen, DNS_TYPE_TXT, 0, &rd))
                return -1;
        }
        if (!nl)
            break;
        line = nl + 1;
    }
    return 0;
}
