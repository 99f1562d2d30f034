/* georesp.c: geo names: load PoPs/mmdb/nets into a snapshot, locate the client, rank (with the
 * per-worker memo), and write A/AAAA or CNAME answers with the ECS scope. */
#include "georesp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dname.h"
#include "log.h"
#include "metrics.h"
#include "path.h"

static int text_to_wire(const char *s, uint8_t *out, uint8_t *len)
{
    size_t n;
    int rc = dns_name_from_text(s, out, &n);
    if (rc == 0)
        *len = (uint8_t)n;
    return rc;
}

static int policy_parse_cb(geo_ctx_t *ctx, const yt_node_t *geo, zone_node_t *node, char *err,
                           size_t errlen)
{
    geo_runtime_t *rt = ctx->opaque;
    if (rt->npol == rt->cappol) {
        size_t cap = rt->cappol ? rt->cappol * 2 : 16;
        route_policy_t **p = realloc(rt->pol, cap * sizeof(*p));
        if (!p)
            return -ENOMEM;
        rt->pol = p;
        uint8_t(*c)[DNS_MAX_NAME] = realloc(rt->pol_cname, cap * sizeof(*c));
        if (!c)
            return -ENOMEM;
        rt->pol_cname = c;
        uint8_t *cl = realloc(rt->pol_cnamelen, cap);
        if (!cl)
            return -ENOMEM;
        rt->pol_cnamelen = cl;
        rt->cappol = cap;
    }
    route_policy_t *pol = NULL;
    int rc = route_policy_parse(geo, rt->pops, &pol, err, errlen);
    if (rc)
        return rc;
    size_t i = rt->npol++;
    rt->pol[i] = pol;
    pol->id = (uint32_t)(i + 1);
    rt->pol_cnamelen[i] = 0;
    if (pol->cname[0] && text_to_wire(pol->cname, rt->pol_cname[i], &rt->pol_cnamelen[i]))
        return yt_fail(err, errlen, geo, "fallback cname '%s' is not a valid name", pol->cname);
    node->geo = pol;
    node->geo_id = pol->id;
    return 0;
}

void geo_runtime_free(geo_runtime_t *rt)
{
    if (!rt)
        return;
    for (size_t i = 0; i < rt->npol; i++)
        route_policy_free(rt->pol[i]);
    free(rt->pol);
    free(rt->pol_cname);
    free(rt->pol_cnamelen);
    free(rt->net_fixed);
    free(rt->net_nfixed);
    free(rt->pop_host);
    free(rt->pop_hostlen);
    free(rt->pops_file);
    pops_free(rt->pops);
    geoip_nets_free(rt->nets);
    geoip_db_close(rt->db);
    free(rt);
}

static char *join(const char *dir, const char *p)
{
    size_t n = path_join(NULL, 0, dir, p) + 1;
    char *r = malloc(n);
    if (r)
        path_join(r, n, dir, p);
    return r;
}

static int load_path(const yt_node_t *n, const char *dir, char **out, char *err, size_t errlen)
{
    const char *v;
    if (yt_get_str(n, &v, err, errlen))
        return -EINVAL;
    if (!*v)
        return yt_fail(err, errlen, n, "empty path");
    *out = join(dir, v);
    return *out ? 0 : -ENOMEM;
}

int geo_runtime_load(const yt_node_t *pops_node, const yt_node_t *geoip_node, const char *dir,
                     uint32_t generation, int (*add_file)(void *ctx, const char *path),
                     void *add_ctx, geo_runtime_t **out, char *err, size_t errlen)
{
    *out = NULL;
    geo_runtime_t *rt = calloc(1, sizeof(*rt));
    if (!rt)
        return -ENOMEM;
    rt->generation = generation;
    rt->ctx.policy_parse = policy_parse_cb;
    rt->ctx.opaque = rt;
    char *path = NULL;
    int rc;
    if (!pops_node) {
        rc = yt_fail(err, errlen, geoip_node, "'geoip' needs a PoP file: add 'pops: FILE'");
        goto fail;
    }
    if ((rc = load_path(pops_node, dir, &path, err, errlen)) || (rc = add_file(add_ctx, path)) ||
        (rc = pops_load(path, &rt->pops, err, errlen)))
        goto fail;
    rt->pops_file = path;
    path = NULL;

    if (geoip_node) {
        static const char *const keys[] = {"mmdb", "schema", "nets", NULL};
        if ((rc = yt_map_check_keys(geoip_node, keys, "geoip", err, errlen)))
            goto fail;
        const yt_node_t *m = yt_map_get(geoip_node, "mmdb");
        const yt_node_t *s = yt_map_get(geoip_node, "schema");
        const yt_node_t *nn = yt_map_get(geoip_node, "nets");
        geoip_schema_t schema;
        geoip_schema_preset("geoip2-city", &schema);
        if (s && s->kind == YT_SCALAR) {
            if (geoip_schema_preset(s->str, &schema)) {
                rc = yt_fail(err, errlen, s,
                             "unknown schema '%s' (geoip2-city, dbip-city-lite, or a mapping of "
                             "field paths)",
                             s->str);
                goto fail;
            }
        } else if (s) {
            static const char *const fk[] = {"latitude",  "longitude",   "country",
                                             "continent", "subdivision", NULL};
            if ((rc = yt_map_check_keys(s, fk, "schema", err, errlen)))
                goto fail;
            const char **fields[] = {&schema.latitude, &schema.longitude, &schema.country,
                                     &schema.continent, &schema.subdivision};
            for (size_t i = 0; fk[i]; i++) {
                const yt_node_t *f = yt_map_get(s, fk[i]);
                if (f && (rc = yt_get_str(f, fields[i], err, errlen)))
                    goto fail;
            }
        }
        if (m) {
            if ((rc = load_path(m, dir, &path, err, errlen)) || (rc = add_file(add_ctx, path)))
                goto fail;
            char e2[768];
            if ((rc = geoip_db_open(path, &schema, &rt->db, e2, sizeof(e2)))) {
                rc = yt_fail(err, errlen, m, "%s", e2);
                goto fail;
            }
            free(path);
            path = NULL;
        }
        if (nn) {
            if ((rc = load_path(nn, dir, &path, err, errlen)) || (rc = add_file(add_ctx, path)) ||
                (rc = geoip_nets_load(path, &rt->nets, err, errlen)))
                goto fail;
            free(path);
            path = NULL;
            rt->nnets = geoip_nets_count(rt->nets);
            rt->net_fixed = calloc(rt->nnets ? rt->nnets : 1, sizeof(*rt->net_fixed));
            rt->net_nfixed = calloc(rt->nnets ? rt->nnets : 1, 1);
            if (!rt->net_fixed || !rt->net_nfixed) {
                rc = -ENOMEM;
                goto fail;
            }
            for (size_t i = 0; i < rt->nnets; i++) {
                const geoip_net_t *e = geoip_nets_entry(rt->nets, i);
                if (!e->npops)
                    continue;
                int k = pops_resolve_net(rt->pops, e, rt->net_fixed[i], err, errlen);
                if (k < 0) {
                    rc = k;
                    goto fail;
                }
                rt->net_nfixed[i] = (uint8_t)k;
            }
        }
    }
    size_t np = rt->pops->npops;
    rt->pop_host = calloc(np ? np : 1, sizeof(*rt->pop_host));
    rt->pop_hostlen = calloc(np ? np : 1, 1);
    if (!rt->pop_host || !rt->pop_hostlen) {
        rc = -ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < np; i++) {
        const pops_pop_t *p = &rt->pops->pop[i];
        if (p->hostname[0] && text_to_wire(p->hostname, rt->pop_host[i], &rt->pop_hostlen[i])) {
            snprintf(err, errlen, "PoP %s: hostname '%s' is not a valid name", p->name,
                     p->hostname);
            rc = -EINVAL;
            goto fail;
        }
    }
    *out = rt;
    return 0;
fail:
    free(path);
    geo_runtime_free(rt);
    return rc;
}

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

static bool v4_global(const uint8_t *a)
{
    /* Not usable as a client location: this-network, private, loopback, link-local,
     * multicast and reserved. Documentation and shared (100.64/10) ranges are accepted so that
     * test and example databases can place them. */
    if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
        return false;
    if (a[0] == 169 && a[1] == 254)
        return false;
    if (a[0] == 172 && (a[1] & 0xF0) == 16)
        return false;
    if (a[0] == 192 && a[1] == 168)
        return false;
    return true;
}

static bool v6_global(const uint8_t *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (!memcmp(a, mapped, 12))
        return v4_global(a + 12);
    static const uint8_t zero[15] = {0};
    if (!memcmp(a, zero, 15) && a[15] <= 1)
        return false; /* :: and ::1 */
    if (a[0] == 0xff || (a[0] & 0xFE) == 0xFC || (a[0] == 0xFE && (a[1] & 0xC0) == 0x80))
        return false; /* multicast, unique local, link-local */
    return true;
}

void georesp_client(const dns_query_t *q, const struct sockaddr *src, geo_client_t *c)
{
    memset(c, 0, sizeof(*c));
    if (q->has_ecs && q->ecs_source > 0) {
        int fam = q->ecs_family == 1 ? AF_INET : AF_INET6;
        bool global = fam == AF_INET ? v4_global(q->ecs_addr) : v6_global(q->ecs_addr);
        if (global) {
            c->family = fam;
            memcpy(c->addr, q->ecs_addr, fam == AF_INET ? 4 : 16);
            c->source_prefix = q->ecs_source;
            c->from_ecs = true;
            return;
        }
        c->ecs_unusable = true;
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
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (c->family == AF_INET6 && !memcmp(c->addr, mapped, 12) && loc->prefix <= 32)
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
    route_decision_t dec;
    uint8_t matched = 0;
    geo_cache_entry_t key, *slot = NULL;
    uint8_t qfam = (uint8_t)(family == AF_INET ? 4 : family == AF_INET6 ? 6 : 0);
    if (env->cache && c.family) {
        cache_key(&c, n->geo_id, env->generation, qfam, &key);
        slot = cache_slot(env->cache, &key);
    }
    metrics_counters_t *mc = env->counters;
    if (mc)
        metrics_inc(&mc->located[c.from_ecs       ? METRICS_LOC_ECS
                                 : c.ecs_unusable ? METRICS_LOC_ECS_UNUSABLE
                                                  : METRICS_LOC_SOURCE]);
    if (mc && slot)
        metrics_inc(cache_match(slot, &key) ? &mc->cache_hit : &mc->cache_miss);
    if (slot && cache_match(slot, &key)) {
        dec.outcome = (route_outcome_t)slot->outcome;
        dec.n = slot->n;
        memcpy(dec.pop, slot->pop, sizeof(dec.pop));
        matched = slot->prefix;
        dec.hashed = slot->flags & CACHE_HASHED;
        dec.short_ttl = slot->flags & CACHE_SHORT_TTL;
        dec.full = slot->flags & CACHE_FULL;
        dec.shed = slot->flags & CACHE_SHED;
    } else {
        geoip_loc_t loc;
        const geoip_net_t *net;
        if (georesp_decide(rt, env->memo, env->health, env->generation, pol, n->geo_id, &c, family,
                           &dec, &loc, &net)) {
            if (mc)
                metrics_inc(&mc->steps[METRICS_STEP_ERROR]);
            *rcode = DNS_RCODE_SERVFAIL;
            return GEORESP_DONE;
        }
        matched = loc.prefix;
        if (slot) {
            *slot = key;
            slot->outcome = (uint8_t)dec.outcome;
            slot->n = dec.n;
            memcpy(slot->pop, dec.pop, sizeof(slot->pop));
            slot->prefix = matched;
            slot->flags =
                (uint8_t)((dec.hashed ? CACHE_HASHED : 0) | (dec.short_ttl ? CACHE_SHORT_TTL : 0) |
                          (dec.full ? CACHE_FULL : 0) | (dec.shed ? CACHE_SHED : 0));
        }
    }
    if (c.from_ecs)
        *scope = route_answer_scope(c.source_prefix, matched,
                                    route_hash_prefix(c.family, c.addr, c.source_prefix), &dec);
    uint32_t ttl = route_answer_ttl(pol, &dec, env->health);
    if (mc)
        georesp_count(mc, env->pop_slot, &dec, cname_mode);

    const uint8_t *cn = NULL;
    size_t cnlen = 0;
    switch (dec.outcome) {
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
        if (cname_mode && dec.n) {
            cn = rt->pop_host[dec.pop[0]];
            cnlen = rt->pop_hostlen[dec.pop[0]];
            break;
        }
        for (unsigned i = 0; i < dec.n; i++) {
            const pops_pop_t *p = &rt->pops->pop[dec.pop[i]];
            const uint8_t *addrs[POPS_ADDRS_MAX];
            size_t cnt =
                route_pop_addresses(p, env->health, dec.pop[i], family, pol->addresses, addrs);
            for (size_t j = 0; j < cnt; j++) {
                dns_rdata_t rd = {.data = addrs[j], .len = (uint16_t)(family == AF_INET ? 4 : 16)};
                if (dns_writer_rr(w, DNS_SEC_AN, owner, ownerlen,
                                  family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA, ttl, &rd))
                    return -1;
            }
        }
        return dec.n ? GEORESP_DONE : GEORESP_NODATA;
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
                      family, c.from_ecs ? c.source_prefix : 0, loc.prefix,
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

/* ---- load-time checks of CNAME targets ---- */

static void warn_pool(const geo_runtime_t *rt, const zone_set_t *zs, int pool, const char *geo,
                      bool *warned)
{
    if (pool < 0 || (size_t)pool >= rt->pops->npools)
        return;
    const pops_pool_t *pl = &rt->pops->pool[pool];
    for (size_t k = 0; k < pl->n; k++) {
        unsigned i = pl->idx[k];
        const pops_pop_t *p = &rt->pops->pop[i];
        if (warned[i] || !rt->pop_hostlen[i] ||
            zone_set_target_ok(zs, rt->pop_host[i], rt->pop_hostlen[i], true))
            continue;
        warned[i] = true;
        log_warn("%s:%u:%u: PoP %s: hostname %s (CNAME target of the geo name %s) has no data "
                 "in our zones: clients sent there get NXDOMAIN",
                 rt->pops_file ? rt->pops_file : "pops", p->line, p->col, p->name, p->hostname,
                 geo);
    }
}

void georesp_warn_targets(const geo_runtime_t *rt, const zone_set_t *zs)
{
    if (!rt || !rt->pops || !zs)
        return;
    bool *warned = calloc(rt->pops->npops ? rt->pops->npops : 1, sizeof(*warned));
    if (!warned)
        return;
    for (size_t zi = 0; zi < zs->nzones; zi++) {
        const zone_t *z = zs->zones[zi];
        for (uint32_t b = 0; b < z->nbuckets; b++)
            for (const zone_node_t *n = z->buckets[b]; n; n = n->next) {
                const route_policy_t *pol = n->geo;
                if (!pol)
                    continue;
                char name[DNS_MAX_NAME * 4 + 2];
                dns_name_to_str(n->name, name, sizeof(name));
                if (pol->mode == ROUTE_MODE_CNAME) {
                    warn_pool(rt, zs, pol->pool, name, warned);
                    warn_pool(rt, zs, pol->fallback_pool, name, warned);
                }
                if (pol->id && pol->id <= rt->npol && rt->pol_cnamelen[pol->id - 1] &&
                    !zone_set_target_ok(zs, rt->pol_cname[pol->id - 1],
                                        rt->pol_cnamelen[pol->id - 1], true))
                    log_warn("%s: geo name %s: fallback CNAME %s has no data in our zones", z->file,
                             name, pol->cname);
            }
    }
    free(warned);
}
