/* route.c: geo policy parsing and the allocation-free routing decision (rank, fence, fallback). */
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "hash.h"

/* ---------------------------------------------------------------- policy parsing */

/* A scalar or a list of scalars: call back for each item. */
static int for_each_item(const yt_node_t *n, const char *what, char *err, size_t errlen,
                         int (*fn)(const yt_node_t *item, void *ctx, char *err, size_t errlen),
                         void *ctx)
{
    if (n->kind == YT_SCALAR)
        return fn(n, ctx, err, errlen);
    if (n->kind != YT_SEQ || n->n == 0)
        return yt_fail(err, errlen, n, "%s must be a value or a non-empty list", what);
    if (n->n > ROUTE_SEL_MAX)
        return yt_fail(err, errlen, n, "%s lists more than %d items", what, ROUTE_SEL_MAX);
    for (size_t i = 0; i < n->n; i++)
        if (fn(n->items[i], ctx, err, errlen))
            return -EINVAL;
    return 0;
}

typedef struct sel_ctx {
    route_sel_t *sel;
    const pops_t *pops;
} sel_ctx_t;

static int add_country(const yt_node_t *item, void *ctx, char *err, size_t errlen)
{
    route_sel_t *s = ((sel_ctx_t *)ctx)->sel;
    return pops_code_parse(item, s->country[s->ncountry++], "country", err, errlen);
}

static int add_continent(const yt_node_t *item, void *ctx, char *err, size_t errlen)
{
    route_sel_t *s = ((sel_ctx_t *)ctx)->sel;
    static const char *const known[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA", NULL};
    char *c = s->continent[s->ncontinent];
    if (pops_code_parse(item, c, "continent", err, errlen))
        return -EINVAL;
    for (const char *const *k = known; *k; k++)
        if (!strcmp(*k, c)) {
            s->ncontinent++;
            return 0;
        }
    return yt_fail(err, errlen, item, "unknown continent '%s' (AF AN AS EU NA OC SA)", c);
}

static int add_pop(const yt_node_t *item, void *ctx, char *err, size_t errlen)
{
    sel_ctx_t *c = ctx;
    const char *s;
    if (yt_get_str(item, &s, err, errlen))
        return -EINVAL;
    int idx = pops_find(c->pops, s);
    if (idx < 0)
        return yt_fail(err, errlen, item, "unknown PoP '%s'", s);
    c->sel->pops[c->sel->npops++] = (uint16_t)idx;
    return 0;
}

static int parse_sel(const yt_node_t *n, bool for_pops, const pops_t *pops, route_sel_t *sel,
                     char *err, size_t errlen)
{
    static const char *const ckeys[] = {"country", "continent", NULL};
    static const char *const pkeys[] = {"country", "continent", "pops", NULL};
    const char *what = for_pops ? "a fence's pops selector" : "a fence's clients selector";
    if (yt_map_check_keys(n, for_pops ? pkeys : ckeys, what, err, errlen))
        return -EINVAL;
    if (n->n == 0)
        return yt_fail(err, errlen, n, "%s must name a country, continent%s", what,
                       for_pops ? " or pops" : "");
    sel_ctx_t ctx = {sel, pops};
    const yt_node_t *v;
    if ((v = yt_map_get(n, "country")) &&
        for_each_item(v, "country", err, errlen, add_country, &ctx))
        return -EINVAL;
    if ((v = yt_map_get(n, "continent")) &&
        for_each_item(v, "continent", err, errlen, add_continent, &ctx))
        return -EINVAL;
    if ((v = yt_map_get(n, "pops")) && for_each_item(v, "pops", err, errlen, add_pop, &ctx))
        return -EINVAL;
    return 0;
}

static int parse_fences(const yt_node_t *n, const pops_t *pops, route_policy_t *pol, char *err,
                        size_t errlen)
{
    static const char *const keys[] = {"clients", "pops", NULL};
    if (n->kind != YT_SEQ)
        return yt_fail(err, errlen, n, "fences must be a list of {clients: ..., pops: ...}");
    if (n->n > ROUTE_FENCES_MAX)
        return yt_fail(err, errlen, n, "at most %d fences", ROUTE_FENCES_MAX);
    for (size_t i = 0; i < n->n; i++) {
        const yt_node_t *f = n->items[i];
        if (yt_map_check_keys(f, keys, "a fence", err, errlen))
            return -EINVAL;
        const yt_node_t *c = yt_map_get(f, "clients"), *p = yt_map_get(f, "pops");
        if (!c || !p)
            return yt_fail(err, errlen, f, "a fence needs both clients and pops");
        route_fence_t *fe = &pol->fences[pol->nfences];
        if (parse_sel(c, false, pops, &fe->clients, err, errlen) ||
            parse_sel(p, true, pops, &fe->pops, err, errlen))
            return -EINVAL;
        pol->nfences++;
    }
    return 0;
}

static int get_pool(const yt_node_t *n, const pops_t *pops, int *out, char *err, size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    *out = pops_pool_find(pops, s);
    if (*out < 0) {
        /* Name the pools there are: the usual cause is a typo. */
        char list[256] = "";
        size_t off = 0;
        for (size_t i = 0; i < pops->npools; i++) {
            size_t need = strlen(pops->pool[i].name) + 2;
            if (off + need + sizeof(", ...") > sizeof(list)) {
                memcpy(list + off, ", ...", sizeof(", ..."));
                break;
            }
            off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
                                    pops->pool[i].name);
        }
        return yt_fail(err, errlen, n, "unknown pool '%s' (pools: %s)", s,
                       pops->npools ? list : "none: add pools: to the PoP file");
    }
    return 0;
}

static int parse_fallback(const yt_node_t *n, const pops_t *pops, route_policy_t *pol, char *err,
                          size_t errlen)
{
    static const char *const keys[] = {"pool", "cname", "then", NULL};
    if (yt_map_check_keys(n, keys, "fallback", err, errlen))
        return -EINVAL;
    const yt_node_t *v;
    if ((v = yt_map_get(n, "pool"))) {
        if (get_pool(v, pops, &pol->fallback_pool, err, errlen))
            return -EINVAL;
        if (pol->fallback_pool == pol->pool)
            return yt_fail(err, errlen, v, "the fallback pool is the policy's own pool");
    }
    if ((v = yt_map_get(n, "cname")) && pops_hostname_parse(v, pol->cname, err, errlen))
        return -EINVAL;
    if ((v = yt_map_get(n, "then"))) {
        const char *s;
        if (yt_get_str(v, &s, err, errlen))
            return -EINVAL;
        if (!strcmp(s, "nodata"))
            pol->then = ROUTE_THEN_NODATA;
        else if (!strcmp(s, "servfail"))
            pol->then = ROUTE_THEN_SERVFAIL;
        else
            return yt_fail(err, errlen, v, "then must be nodata or servfail, not '%s'", s);
    }
    return 0;
}

/* Every PoP a policy may answer with must be able to answer in its mode. */
static int check_pool_mode(const yt_node_t *at, const pops_t *pops, int pool,
                           const route_policy_t *pol, char *err, size_t errlen)
{
    const pops_pool_t *pl = &pops->pool[pool];
    for (size_t i = 0; i < pl->n; i++) {
        const pops_pop_t *p = &pops->pop[pl->idx[i]];
        if (pol->mode == ROUTE_MODE_CNAME && !p->hostname[0])
            return yt_fail(err, errlen, at, "mode cname: PoP '%s' (pool '%s') has no hostname",
                           p->name, pl->name);
        if (pol->mode == ROUTE_MODE_A && !p->n4 && !p->n6)
            return yt_fail(err, errlen, at, "mode a: PoP '%s' (pool '%s') has no addresses",
                           p->name, pl->name);
    }
    return 0;
}

int route_policy_parse(const yt_node_t *geo, const pops_t *pops, route_policy_t **out, char *err,
                       size_t errlen)
{
    static const char *const keys[] = {
        "pool",   "answers",  "addresses",        "ttl", "tie_band", "mode",
        "fences", "fallback", "default_location", NULL};
    *out = NULL;
    if (!geo) {
        snprintf(err, errlen, "geo: no policy given");
        return -EINVAL;
    }
    if (yt_map_check_keys(geo, keys, "geo", err, errlen))
        return -EINVAL;
    route_policy_t *pol = calloc(1, sizeof(*pol));
    if (!pol) {
        snprintf(err, errlen, "%s: out of memory", geo->file);
        return -ENOMEM;
    }
    pol->fallback_pool = -1;
    pol->then = ROUTE_THEN_SERVFAIL;
    pol->mode = ROUTE_MODE_A;
    pol->answers = 1;
    pol->ttl = 30;
    pol->tie = 0.05;
    const yt_node_t *v, *answers_node = NULL;
    const yt_node_t *pool_node = yt_map_get(geo, "pool");
    if (!pool_node) {
        yt_fail(err, errlen, geo, "geo needs a pool");
        goto fail;
    }
    if (get_pool(pool_node, pops, &pol->pool, err, errlen))
        goto fail;
    if ((v = yt_map_get(geo, "mode"))) {
        const char *s;
        if (yt_get_str(v, &s, err, errlen))
            goto fail;
        if (!strcmp(s, "a"))
            pol->mode = ROUTE_MODE_A;
        else if (!strcmp(s, "cname"))
            pol->mode = ROUTE_MODE_CNAME;
        else {
            yt_fail(err, errlen, v, "mode must be a or cname, not '%s'", s);
            goto fail;
        }
    }
    if ((answers_node = yt_map_get(geo, "answers")) &&
        yt_get_u32(answers_node, 1, ROUTE_ANSWERS_MAX, &pol->answers, err, errlen))
        goto fail;
    if (pol->mode == ROUTE_MODE_CNAME && pol->answers != 1) {
        yt_fail(err, errlen, answers_node, "mode cname answers with exactly one PoP");
        goto fail;
    }
    if ((v = yt_map_get(geo, "addresses")) &&
        yt_get_u32(v, 0, POPS_ADDRS_MAX, &pol->addresses, err, errlen))
        goto fail;
    if ((v = yt_map_get(geo, "ttl")) && yt_get_u32(v, 0, 86400, &pol->ttl, err, errlen))
        goto fail;
    if ((v = yt_map_get(geo, "tie_band"))) {
        double pct;
        if (yt_get_double(v, 0, 100, &pct, err, errlen))
            goto fail;
        pol->tie = pct / 100.0;
    }
    if ((v = yt_map_get(geo, "default_location"))) {
        if (v->kind != YT_SEQ || v->n != 2) {
            yt_fail(err, errlen, v, "default_location must be [latitude, longitude]");
            goto fail;
        }
        if (yt_get_double(v->items[0], -90, 90, &pol->default_lat, err, errlen) ||
            yt_get_double(v->items[1], -180, 180, &pol->default_lon, err, errlen))
            goto fail;
        pol->has_default_location = true;
    }
    if ((v = yt_map_get(geo, "fences")) && parse_fences(v, pops, pol, err, errlen))
        goto fail;
    if ((v = yt_map_get(geo, "fallback")) && parse_fallback(v, pops, pol, err, errlen))
        goto fail;
    if (check_pool_mode(pool_node, pops, pol->pool, pol, err, errlen))
        goto fail;
    if (pol->fallback_pool >= 0 && check_pool_mode(yt_map_get(yt_map_get(geo, "fallback"), "pool"),
                                                   pops, pol->fallback_pool, pol, err, errlen))
        goto fail;
    *out = pol;
    return 0;
fail:
    free(pol);
    return -EINVAL;
}

void route_policy_free(route_policy_t *pol)
{
    free(pol);
}

/* ---------------------------------------------------------------- clients */

void route_client_from_loc(route_client_t *c, const geoip_loc_t *loc)
{
    memset(c, 0, sizeof(*c));
    c->located = loc->located;
    c->lat = loc->lat;
    c->lon = loc->lon;
    memcpy(c->country, loc->country, 3);
    memcpy(c->continent, loc->continent, 3);
}

uint8_t route_hash_prefix(int family, const uint8_t *addr, unsigned prefix)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (family == AF_INET)
        return (uint8_t)(prefix < ROUTE_HASH_V4 ? prefix : ROUTE_HASH_V4);
    if (!memcmp(addr, mapped, 12))
        return (uint8_t)(prefix < 96 + ROUTE_HASH_V4 ? prefix : 96 + ROUTE_HASH_V4);
    return (uint8_t)(prefix < ROUTE_HASH_V6 ? prefix : ROUTE_HASH_V6);
}

uint32_t route_client_hash(int family, const uint8_t *addr, unsigned prefix)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    prefix = route_hash_prefix(family, addr, prefix);
    unsigned max = 32;
    if (family == AF_INET6) {
        if (!memcmp(addr, mapped, 12)) {
            addr += 12;
            prefix = prefix >= 96 ? prefix - 96 : 0;
        } else {
            max = 128;
        }
    }
    uint32_t h = 2166136261u;
    h = (h ^ (max == 32 ? 4u : 6u)) * 16777619u;
    h = (h ^ prefix) * 16777619u;
    for (unsigned i = 0; i < max / 8; i++) {
        unsigned bits = prefix > i * 8 ? prefix - i * 8 : 0;
        uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
        h = (h ^ (uint8_t)(addr[i] & mask)) * 16777619u;
    }
    /* Final avalanche so that hash % small_n depends on every byte. */
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    return h;
}

uint8_t route_scope(uint8_t source_prefix, uint8_t matched_prefix)
{
    return source_prefix < matched_prefix ? source_prefix : matched_prefix;
}

/* ---------------------------------------------------------------- ranking */

static bool code_in(const char (*list)[3], size_t n, const char *code)
{
    if (!code[0])
        return false;
    for (size_t i = 0; i < n; i++)
        if (list[i][0] == code[0] && list[i][1] == code[1])
            return true;
    return false;
}

static bool sel_match(const route_sel_t *s, const char *country, const char *continent, int pop)
{
    if (code_in(s->country, s->ncountry, country) ||
        code_in(s->continent, s->ncontinent, continent))
        return true;
    for (size_t i = 0; pop >= 0 && i < s->npops; i++)
        if (s->pops[i] == pop)
            return true;
    return false;
}

/* Whether PoP idx can answer `family`: it has an address of that family that is up. */
static bool has_family(const pops_rank_t *p, const route_health_t *h, size_t idx, int family)
{
    if (family == AF_INET)
        return p->n4 > 0 && (!h || h->addr4[idx]);
    if (family == AF_INET6)
        return p->n6 > 0 && (!h || h->addr6[idx]);
    return true;
}

/* A PoP takes clients (its own or shed ones) unless capacity, drain or slow start say none. */
static bool takes_clients(const route_health_t *h, size_t idx)
{
    return !h || h->keep[idx] > 0 || h->weight[idx] > 0;
}

typedef struct rank_ent {
    double d;
    uint16_t idx;
} rank_ent_t;

typedef struct rank_ctx {
    const route_policy_t *pol;
    const pops_t *pops;
    const route_client_t *client;
    const route_health_t *health;
    const route_fence_t *fence;
    bool use_loc;
    double lat, lon;
    route_trace_t *trace;
} rank_ctx_t;

/* Filter the PoPs of one step by fence and health; returns how many are eligible. */
static size_t step_filter(rank_ctx_t *c, const uint16_t *list, size_t n, int step, uint16_t *elig)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint16_t idx = list[i];
        const pops_pop_t *p = &c->pops->pop[idx];
        route_reason_t why = ROUTE_WHY_FARTHER;
        if (c->fence && !sel_match(&c->fence->pops, p->country, p->continent, idx))
            why = ROUTE_WHY_FENCED;
        else if (c->health && !c->health->up[idx])
            why = ROUTE_WHY_DOWN;
        else
            elig[k++] = idx;
        if (c->trace && c->trace->step[idx] == 0) {
            c->trace->step[idx] = step;
            c->trace->reason[idx] = why;
        }
    }
    return k;
}

/* Nearer (biased distance), then lower index. */
static inline bool ent_less(const rank_ent_t *a, const rank_ent_t *b)
{
    return a->d < b->d || (a->d == b->d && a->idx < b->idx);
}

/* Order the eligible PoPs (already family-filtered) into dec->cand with dec->ntie. */
static void step_rank(rank_ctx_t *c, const uint16_t *elig, size_t n, bool keep_order,
                      route_decision_t *dec)
{
    rank_ent_t ent[POPS_MAX];
    size_t ntie = 1;
    bool ranked = c->use_loc && !keep_order;
    /* Without bias (every factor 1), the nearest PoPs are those with the largest dot product
     * of unit vectors: select on that (3 multiplications per PoP) and compute great-circle
     * distances for the kept ones only. */
    bool unbiased = ranked;
    for (size_t i = 0; i < n && unbiased; i++)
        unbiased = c->pops->rank[elig[i]].factor == 1.0;
    double u[3] = {0, 0, 0};
    if (unbiased)
        geoip_unit_vector(c->lat, c->lon, u);
    for (size_t i = 0; i < n; i++) {
        ent[i].idx = elig[i];
        ent[i].d = 0;
        const pops_rank_t *r = &c->pops->rank[elig[i]];
        if (unbiased) {
            ent[i].d = -(u[0] * r->unit[0] + u[1] * r->unit[1] + u[2] * r->unit[2]);
        } else if (ranked) {
            const pops_pop_t *p = &c->pops->pop[elig[i]];
            ent[i].d = geoip_distance_km(c->lat, c->lon, p->lat, p->lon) * r->factor;
        }
    }
    if (ranked) {
        /* The nearest ROUTE_CAND_MAX by biased distance, then index, sorted: only those are
         * kept, so a pool of 1,024 PoPs costs a selection (quickselect, about 3 comparisons per
         * PoP) and a sort of the kept ones, not a sort of the whole pool. (d, idx) is a total
         * order: idx is unique. */
        size_t k = n;
        if (n > ROUTE_CAND_MAX) {
            ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, want = ROUTE_CAND_MAX - 1;
            while (lo < hi) {
                rank_ent_t pivot = ent[lo + (hi - lo) / 2];
                ptrdiff_t i = lo, j = hi;
                while (i <= j) {
                    while (ent_less(&ent[i], &pivot))
                        i++;
                    while (ent_less(&pivot, &ent[j]))
                        j--;
                    if (i <= j) {
                        rank_ent_t t = ent[i];
                        ent[i++] = ent[j];
                        ent[j--] = t;
                    }
                }
                if (want <= j)
                    hi = j;
                else if (want >= i)
                    lo = i;
                else
                    break;
            }
            k = ROUTE_CAND_MAX;
        }
        for (size_t i = 1; i < k; i++) { /* the kept ones, sorted */
            rank_ent_t e = ent[i];
            size_t j = i;
            while (j > 0 && ent_less(&e, &ent[j - 1])) {
                ent[j] = ent[j - 1];
                j--;
            }
            ent[j] = e;
        }
        if (unbiased) {
            /* The kept ones by great-circle distance (the same order up to rounding). */
            for (size_t i = 0; i < k; i++) {
                const pops_pop_t *p = &c->pops->pop[ent[i].idx];
                ent[i].d = geoip_distance_km(c->lat, c->lon, p->lat, p->lon);
            }
            for (size_t i = 1; i < k; i++) {
                rank_ent_t e = ent[i];
                size_t j = i;
                while (j > 0 &&
                       (ent[j - 1].d > e.d || (ent[j - 1].d == e.d && ent[j - 1].idx > e.idx))) {
                    ent[j] = ent[j - 1];
                    j--;
                }
                ent[j] = e;
            }
        }
        n = k;
        double limit = ent[0].d * (1.0 + c->pol->tie);
        while (ntie < n && ent[ntie].d <= limit)
            ntie++;
        /* The tie group in PoP index order, so that a client's pick does not depend on small
         * distance differences inside the band. */
        for (size_t i = 1; i < ntie; i++) {
            rank_ent_t e = ent[i];
            size_t j = i;
            while (j > 0 && ent[j - 1].idx > e.idx) {
                ent[j] = ent[j - 1];
                j--;
            }
            ent[j] = e;
        }
    }
    size_t keep = n < ROUTE_CAND_MAX ? n : ROUTE_CAND_MAX;
    for (size_t i = 0; i < keep; i++)
        dec->cand[i] = ent[i].idx;
    dec->ncand = (uint8_t)keep;
    dec->ntie = (uint8_t)(ntie < keep ? ntie : keep);
}

/* Append p to the answer unless it is there already. */
static void pick_add(route_decision_t *dec, uint16_t p, const route_health_t *h)
{
    for (unsigned i = 0; i < dec->n; i++)
        if (dec->pop[i] == p)
            return;
    dec->pop[dec->n++] = p;
    if (h && h->short_ttl[p])
        dec->short_ttl = true;
}

void route_decision_pick(route_decision_t *dec, uint32_t hash, const route_health_t *health)
{
    dec->n = 0;
    dec->hashed = dec->shed = dec->short_ttl = false;
    if (dec->outcome != ROUTE_OUT_POOL && dec->outcome != ROUTE_OUT_FALLBACK_POOL)
        return;
    unsigned want = dec->answers ? dec->answers : 1;
    /* The ranked order for this client: the tie band rotated by its hash, then the rest. */
    uint16_t order[ROUTE_CAND_MAX];
    unsigned n = 0;
    if (dec->ntie > 0) {
        unsigned start = dec->ntie > 1 ? hash % dec->ntie : 0;
        for (unsigned i = 0; i < dec->ntie; i++)
            order[n++] = dec->cand[(start + i) % dec->ntie];
        dec->hashed = dec->ntie > 1;
    }
    for (unsigned j = dec->ntie; j < dec->ncand; j++)
        order[n++] = dec->cand[j];
    if (!n)
        return;
    if (!health || dec->full) {
        /* No shares to apply (no health view, or the overflow answer: least loaded first). */
        for (unsigned i = 0; i < n && dec->n < want; i++)
            pick_add(dec, order[i], health);
        return;
    }
    /* The nearest keeps the client when its hash falls inside the share it keeps. */
    uint16_t first = order[0];
    uint32_t u = hash_mix32(hash, first) >> 16;
    if (health->keep[first] < ROUTE_SHARE_ONE)
        dec->hashed = true;
    if (u < health->keep[first]) {
        pick_add(dec, first, health);
    } else {
        /* Shed: spread over the next `spill` PoPs that take clients, in proportion to their
         * weight (headroom), never all onto the next nearest. */
        unsigned spill = health->spill ? health->spill : 1;
        uint16_t tgt[ROUTE_CAND_MAX];
        uint64_t total = 0;
        unsigned nt = 0;
        for (unsigned i = 1; i < n && nt < spill; i++)
            if (health->weight[order[i]] > 0) {
                tgt[nt++] = order[i];
                total += health->weight[order[i]];
            }
        if (nt) {
            dec->shed = true;
            uint64_t x = (uint64_t)hash_mix32(hash, 0xffffu) * total >> 32;
            unsigned k = 0;
            while (k + 1 < nt && x >= health->weight[tgt[k]]) {
                x -= health->weight[tgt[k]];
                k++;
            }
            pick_add(dec, tgt[k], health);
        } else {
            pick_add(dec, first, health); /* nobody else has room: the nearest still serves */
        }
    }
    /* Further answers (answers > 1): the rest in ranked order, those taking clients first. */
    for (unsigned i = 0; i < n && dec->n < want; i++)
        if (takes_clients(health, order[i]))
            pick_add(dec, order[i], health);
    for (unsigned i = 0; i < n && dec->n < want; i++)
        pick_add(dec, order[i], health);
}

/* The overflow answer when every PoP of a step is past its high watermark: least loaded first
 * (then nearest, as ranked). */
static void rank_by_load(route_decision_t *dec, const route_health_t *h)
{
    for (unsigned i = 1; i < dec->ncand; i++) {
        uint16_t e = dec->cand[i];
        unsigned j = i;
        while (j > 0 && h->load[dec->cand[j - 1]] > h->load[e]) {
            dec->cand[j] = dec->cand[j - 1];
            j--;
        }
        dec->cand[j] = e;
    }
    dec->ntie = 0;
    dec->full = true;
}

int route_rank(const route_policy_t *pol, const pops_t *pops, const route_client_t *client,
               const route_health_t *health, int family, route_decision_t *out,
               route_trace_t *trace)
{
    memset(out, 0, sizeof(*out));
    out->answers = (uint8_t)pol->answers;
    if (pol->pool < 0 || (size_t)pol->pool >= pops->npools ||
        (pol->fallback_pool >= 0 && (size_t)pol->fallback_pool >= pops->npools))
        return -EINVAL;
    if (pol->mode == ROUTE_MODE_CNAME)
        family = 0;
    rank_ctx_t c = {.pol = pol, .pops = pops, .client = client, .health = health, .trace = trace};
    /* Location: the client's, else the policy's default, else the PoP file's, else none. */
    const char *origin = "none (pool order)";
    if (client->located) {
        c.use_loc = true;
        c.lat = client->lat;
        c.lon = client->lon;
        origin = "client";
    } else if (pol->has_default_location) {
        c.use_loc = true;
        c.lat = pol->default_lat;
        c.lon = pol->default_lon;
        origin = "policy default_location";
    } else if (pops->has_default_location) {
        c.use_loc = true;
        c.lat = pops->default_lat;
        c.lon = pops->default_lon;
        origin = "pops default_location";
    }
    for (size_t i = 0; i < pol->nfences && !c.fence; i++)
        if (sel_match(&pol->fences[i].clients, client->country, client->continent, -1))
            c.fence = &pol->fences[i];
    if (trace) {
        memset(trace, 0, sizeof(*trace));
        trace->located = c.use_loc;
        trace->lat = c.lat;
        trace->lon = c.lon;
        trace->origin = origin;
        for (size_t i = 0; i < pops->npops && i < POPS_MAX; i++) {
            trace->km[i] = c.use_loc
                               ? geoip_distance_km(c.lat, c.lon, pops->pop[i].lat, pops->pop[i].lon)
                               : -1;
            trace->biased[i] = c.use_loc ? trace->km[i] * pops->pop[i].factor : -1;
        }
    }
    uint16_t list[POPS_MAX], elig[POPS_MAX], fam[POPS_MAX];
    route_decision_t full = {0}; /* the first step whose PoPs were all past their high watermark */
    bool have_full = false;
    for (int step = 1; step <= 2; step++) {
        int pool = step == 1 ? pol->pool : pol->fallback_pool;
        if (pool < 0)
            break;
        const pops_pool_t *pl = &pops->pool[pool];
        const uint16_t *members = pl->idx;
        size_t nmembers = pl->n;
        bool keep_order = !c.use_loc;
        if (step == 1 && client->nfixed) {
            /* A nets entry's fixed order: its PoPs that are in the pool, in the listed order. */
            size_t k = 0;
            for (size_t i = 0; i < client->nfixed && k < POPS_MAX; i++)
                for (size_t j = 0; j < pl->n; j++)
                    if (pl->idx[j] == client->fixed[i]) {
                        list[k++] = client->fixed[i];
                        break;
                    }
            if (k) {
                members = list;
                nmembers = k;
                keep_order = true;
                if (trace)
                    trace->origin = "nets fixed order";
            }
        }
        size_t ne = step_filter(&c, members, nmembers, step, elig);
        if (!ne)
            continue;
        out->outcome = step == 1 ? ROUTE_OUT_POOL : ROUTE_OUT_FALLBACK_POOL;
        size_t nf = 0, ntake = 0;
        for (size_t i = 0; i < ne; i++) {
            if (has_family(&pops->rank[elig[i]], health, elig[i], family)) {
                fam[nf++] = elig[i];
                ntake += takes_clients(health, elig[i]);
            } else if (trace) {
                trace->reason[elig[i]] = ROUTE_WHY_NO_ADDRESS;
            }
        }
        if (!nf) {
            if (have_full)
                break; /* an earlier step's overflow answer beats NODATA */
            out->outcome = ROUTE_OUT_NODATA;
            return 0;
        }
        step_rank(&c, fam, nf, keep_order, out);
        if (!ntake) {
            /* Every PoP of this step is full: on to the next step, keeping this one as the
             * overflow answer of last resort. */
            if (trace)
                for (size_t i = 0; i < nf; i++)
                    trace->reason[fam[i]] = ROUTE_WHY_FULL;
            if (!have_full) {
                full = *out;
                have_full = true;
            }
            continue;
        }
        route_decision_pick(out, client->hash, health);
        if (trace) {
            if (out->shed)
                trace->reason[out->cand[out->ntie > 1 ? client->hash % out->ntie : 0]] =
                    ROUTE_WHY_SHED;
            for (size_t i = 0; i < nf; i++)
                if (!takes_clients(health, fam[i]))
                    trace->reason[fam[i]] = ROUTE_WHY_FULL;
            for (size_t i = 0; i < out->n; i++)
                trace->reason[out->pop[i]] = ROUTE_WHY_CHOSEN;
        }
        return 0;
    }
    if (pol->cname[0]) {
        out->outcome = ROUTE_OUT_CNAME;
        out->full = have_full;
        out->n = out->ncand = out->ntie = 0;
        return 0;
    }
    if (have_full) {
        /* Everything eligible is full and there is no contingency CDN: least loaded. */
        *out = full;
        rank_by_load(out, health);
        route_decision_pick(out, client->hash, health);
        if (trace)
            for (size_t i = 0; i < out->n; i++)
                trace->reason[out->pop[i]] = ROUTE_WHY_CHOSEN;
        return 0;
    }
    out->n = out->ncand = out->ntie = 0;
    out->outcome = pol->then == ROUTE_THEN_NODATA ? ROUTE_OUT_NODATA : ROUTE_OUT_SERVFAIL;
    return 0;
}

/* ---------------------------------------------------------------- memo */

typedef struct memo_slot {
    bool used;
    route_memo_key_t key;
    route_decision_t dec;
} memo_slot_t;

struct route_memo {
    size_t mask;
    uint64_t hits, misses;
    memo_slot_t slot[];
};

route_memo_t *route_memo_new(size_t slots)
{
    size_t n = 16;
    while (n < slots && n < ((size_t)1 << 30))
        n <<= 1;
    route_memo_t *m = calloc(1, sizeof(*m) + n * sizeof(memo_slot_t));
    if (!m)
        return NULL;
    m->mask = n - 1;
    return m;
}

void route_memo_free(route_memo_t *memo)
{
    free(memo);
}

static size_t memo_index(const route_memo_t *m, const route_memo_key_t *k)
{
    uint64_t x = k->loc ^ ((uint64_t)k->policy << 32) ^
                 ((uint64_t)k->generation * 0x9e3779b97f4a7c15u) ^ ((uint64_t)k->family << 56);
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9u;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebu;
    x ^= x >> 31;
    return (size_t)x & m->mask;
}

static bool key_eq(const route_memo_key_t *a, const route_memo_key_t *b)
{
    return a->loc == b->loc && a->policy == b->policy && a->generation == b->generation &&
           a->family == b->family;
}

bool route_memo_get(route_memo_t *memo, const route_memo_key_t *key, uint32_t hash,
                    const route_health_t *health, route_decision_t *out)
{
    const memo_slot_t *s = &memo->slot[memo_index(memo, key)];
    if (!s->used || !key_eq(&s->key, key)) {
        memo->misses++;
        return false;
    }
    memo->hits++;
    *out = s->dec;
    route_decision_pick(out, hash, health);
    return true;
}

void route_memo_put(route_memo_t *memo, const route_memo_key_t *key, const route_decision_t *dec)
{
    memo_slot_t *s = &memo->slot[memo_index(memo, key)];
    s->used = true;
    s->key = *key;
    s->dec = *dec;
}

void route_memo_stats(const route_memo_t *memo, uint64_t *hits, uint64_t *misses)
{
    *hits = memo->hits;
    *misses = memo->misses;
}

/* ---------------------------------------------------------------- explain */

const char *route_outcome_name(route_outcome_t o)
{
    switch (o) {
    case ROUTE_OUT_POOL:
        return "pool";
    case ROUTE_OUT_FALLBACK_POOL:
        return "fallback-pool";
    case ROUTE_OUT_CNAME:
        return "cname";
    case ROUTE_OUT_NODATA:
        return "nodata";
    case ROUTE_OUT_SERVFAIL:
        return "servfail";
    }
    return "?";
}

const char *route_reason_name(route_reason_t r)
{
    switch (r) {
    case ROUTE_WHY_NOT_IN_POOL:
        return "not in pool";
    case ROUTE_WHY_CHOSEN:
        return "chosen";
    case ROUTE_WHY_FENCED:
        return "fenced";
    case ROUTE_WHY_DOWN:
        return "down";
    case ROUTE_WHY_NO_ADDRESS:
        return "no address of family";
    case ROUTE_WHY_FARTHER:
        return "farther";
    case ROUTE_WHY_FULL:
        return "full (takes no new clients)";
    case ROUTE_WHY_SHED:
        return "nearest, shed this client";
    }
    return "?";
}

typedef struct outbuf {
    char *buf;
    size_t len, off;
} outbuf_t;

static void __attribute__((format(printf, 2, 3))) out_printf(outbuf_t *o, const char *fmt, ...)
{
    if (o->off >= o->len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->off, o->len - o->off, fmt, ap);
    va_end(ap);
    if (w < 0)
        return;
    o->off += (size_t)w;
    if (o->off >= o->len)
        o->off = o->len - 1;
}

static void out_sel(outbuf_t *o, const route_sel_t *s, const pops_t *pops)
{
    for (size_t i = 0; i < s->ncountry; i++)
        out_printf(o, " country %s", s->country[i]);
    for (size_t i = 0; i < s->ncontinent; i++)
        out_printf(o, " continent %s", s->continent[i]);
    for (size_t i = 0; i < s->npops; i++)
        out_printf(o, " pop %s", pops->pop[s->pops[i]].name);
}

size_t route_pop_addresses(const pops_pop_t *p, const route_health_t *h, size_t idx, int family,
                           unsigned limit, const uint8_t **out)
{
    size_t n = family == AF_INET ? p->n4 : family == AF_INET6 ? p->n6 : 0, k = 0;
    uint16_t mask = !h ? 0xffffu : family == AF_INET ? h->addr4[idx] : h->addr6[idx];
    for (size_t j = 0; j < n && (!limit || k < limit); j++)
        if (mask & (1u << j))
            out[k++] = family == AF_INET ? p->v4[j] : p->v6[j];
    return k;
}

uint32_t route_answer_ttl(const route_policy_t *pol, const route_decision_t *dec,
                          const route_health_t *h)
{
    if (h && dec->short_ttl && h->ttl_short < pol->ttl)
        return h->ttl_short;
    return pol->ttl;
}

uint8_t route_answer_scope(uint8_t source_prefix, uint8_t matched_prefix, uint8_t hash_prefix,
                           const route_decision_t *dec)
{
    (void)source_prefix;
    uint8_t scope = matched_prefix;
    if (dec->hashed && hash_prefix > scope)
        scope = hash_prefix;
    return scope;
}

int route_explain(char *buf, size_t buflen, const route_policy_t *pol, const pops_t *pops,
                  const route_client_t *client, const route_health_t *health, int family,
                  uint8_t source_prefix, uint8_t matched_prefix, uint8_t hash_prefix)
{
    if (!buf || buflen == 0)
        return -EINVAL;
    buf[0] = '\0';
    route_decision_t dec;
    route_trace_t tr;
    int rc = route_rank(pol, pops, client, health, family, &dec, &tr);
    if (rc)
        return rc;
    outbuf_t o = {buf, buflen, 0};
    const char *fam = pol->mode == ROUTE_MODE_CNAME ? "CNAME"
                      : family == AF_INET6          ? "AAAA"
                      : family == AF_INET           ? "A"
                                                    : "any";
    out_printf(&o, "policy: pool %s, answers %u, mode %s, tie band %g%%, query %s\n",
               pops->pool[pol->pool].name, pol->answers,
               pol->mode == ROUTE_MODE_CNAME ? "cname" : "a", pol->tie * 100, fam);
    out_printf(&o, "client: %s", client->located ? "located" : "not located");
    if (client->country[0] || client->continent[0])
        out_printf(&o, ", country %s, continent %s", client->country[0] ? client->country : "-",
                   client->continent[0] ? client->continent : "-");
    out_printf(&o, ", hash %08x\n", (unsigned)client->hash);
    if (tr.located)
        out_printf(&o, "location: %.4f, %.4f (%s)\n", tr.lat, tr.lon, tr.origin);
    else
        out_printf(&o, "location: %s\n", tr.origin);
    const route_fence_t *fence = NULL;
    size_t fence_no = 0;
    for (size_t i = 0; i < pol->nfences && !fence; i++)
        if (sel_match(&pol->fences[i].clients, client->country, client->continent, -1)) {
            fence = &pol->fences[i];
            fence_no = i + 1;
        }
    if (fence) {
        out_printf(&o, "fence: rule %zu, clients", fence_no);
        out_sel(&o, &fence->clients, pops);
        out_printf(&o, " -> pops");
        out_sel(&o, &fence->pops, pops);
        out_printf(&o, "\n");
    } else {
        out_printf(&o, "fence: none applies\n");
    }
    out_printf(&o, "%-12s %-5s %-4s %10s %6s %10s %6s %6s  %s\n", "pop", "step", "up", "km",
               "bias%", "biased", "load%", "keep%", "status");
    for (size_t i = 0; i < pops->npops && i < POPS_MAX; i++) {
        const pops_pop_t *p = &pops->pop[i];
        char step[8] = "-", km[16] = "-", biased[16] = "-", load[16] = "-", keep[16] = "100";
        if (tr.step[i])
            snprintf(step, sizeof(step), "%s", tr.step[i] == 1 ? "pool" : "fb");
        if (tr.km[i] >= 0) {
            snprintf(km, sizeof(km), "%.1f", tr.km[i]);
            snprintf(biased, sizeof(biased), "%.1f", tr.biased[i]);
        }
        if (health && p->capacity)
            snprintf(load, sizeof(load), "%.1f", health->load[i] / 10.0);
        if (health)
            snprintf(keep, sizeof(keep), "%.1f", health->keep[i] * 100.0 / ROUTE_SHARE_ONE);
        out_printf(&o, "%-12s %-5s %-4s %10s %6g %10s %6s %6s  %s\n", p->name, step,
                   !health || health->up[i] ? "yes" : "no", km, p->bias, biased, load, keep,
                   route_reason_name(tr.reason[i]));
    }
    out_printf(&o, "outcome: %s", route_outcome_name(dec.outcome));
    if (dec.full && dec.outcome == ROUTE_OUT_CNAME)
        out_printf(&o, " (every eligible PoP is full: overflow to the fallback CNAME)");
    else if (dec.full)
        out_printf(&o, " (every eligible PoP is full and no fallback CNAME: least loaded)");
    else if (dec.shed)
        out_printf(&o, " (the nearest PoP sheds this client: spread by headroom)");
    if (dec.ntie > 1)
        out_printf(&o, " (%u PoPs within the tie band, picked by client hash)", dec.ntie);
    out_printf(&o, "\n");
    if (dec.outcome == ROUTE_OUT_POOL || dec.outcome == ROUTE_OUT_FALLBACK_POOL) {
        for (size_t i = 0; i < dec.n; i++) {
            const pops_pop_t *p = &pops->pop[dec.pop[i]];
            out_printf(&o, "answer: %s", p->name);
            if (pol->mode == ROUTE_MODE_CNAME) {
                out_printf(&o, " CNAME %s\n", p->hostname);
                continue;
            }
            char txt[INET6_ADDRSTRLEN];
            const uint8_t *addrs[POPS_ADDRS_MAX];
            for (int f = 0; f < 2; f++) {
                int af = f ? AF_INET6 : AF_INET;
                if (family && family != af)
                    continue;
                size_t na = route_pop_addresses(p, health, dec.pop[i], af, pol->addresses, addrs);
                for (size_t j = 0; j < na; j++)
                    out_printf(&o, " %s %s", f ? "AAAA" : "A",
                               inet_ntop(af, addrs[j], txt, sizeof(txt)));
            }
            out_printf(&o, "\n");
        }
    } else if (dec.outcome == ROUTE_OUT_CNAME) {
        out_printf(&o, "answer: CNAME %s\n", pol->cname);
    }
    if (source_prefix) {
        out_printf(&o, "scope: /%u (source /%u, widest prefix with this answer /%u",
                   route_answer_scope(source_prefix, matched_prefix, hash_prefix, &dec),
                   source_prefix, matched_prefix);
        if (dec.hashed)
            out_printf(&o, ", answer depends on the client's /%u", hash_prefix);
        out_printf(&o, ")\n");
    } else {
        out_printf(&o,
                   "scope: none (no usable ECS option: the answer is for the source address)\n");
    }
    out_printf(&o, "ttl: %u%s\n", route_answer_ttl(pol, &dec, health),
               dec.short_ttl && health && health->ttl_short < pol->ttl
                   ? " (shortened: the PoP is shedding or changed state recently)"
                   : "");
    return (int)o.off;
}
