/* route_policy.c: a zone record's `geo:` mapping (pool, answers, mode, tie band, fences,
 * fallback chain, default location) parsed and checked against the PoP file into a
 * route_policy_t. Load time only; errors carry file:line:col. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

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
