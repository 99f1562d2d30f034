/* route_rank.c: the routing decision: the client's location, the fence, the fallback chain
 * (pool, fallback pool, CNAME, then) chosen by health, and within a step the PoPs ordered by
 * biased distance with the tie band (nearest ROUTE_CAND_MAX kept by quickselect). Query path:
 * never allocates. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "route.h"
#include "route_int.h"

void route_client_from_loc(route_client_t *c, const geoip_loc_t *loc)
{
    memset(c, 0, sizeof(*c));
    c->located = loc->located;
    c->lat = loc->lat;
    c->lon = loc->lon;
    memcpy(c->country, loc->country, 3);
    memcpy(c->continent, loc->continent, 3);
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
        if (c->fence && !route_sel_match(&c->fence->pops, p->country, p->continent, idx))
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

/* Biased distances closer than this are one place for the tie band (a millimetre). */
#define ROUTE_SAME_PLACE_KM 1e-6

/* Nearer (biased distance), then lower index: a total order, idx being unique. */
static inline bool ent_less(const rank_ent_t *a, const rank_ent_t *b)
{
    return a->d < b->d || (a->d == b->d && a->idx < b->idx);
}

/* Insertion sort of ent[0..n) (n <= ROUTE_CAND_MAX) by ent_less, or by index alone. */
static inline void ent_sort(rank_ent_t *ent, size_t n, bool by_idx)
{
    for (size_t i = 1; i < n; i++) {
        rank_ent_t e = ent[i];
        size_t j = i;
        while (j > 0 && (by_idx ? e.idx < ent[j - 1].idx : ent_less(&e, &ent[j - 1]))) {
            ent[j] = ent[j - 1];
            j--;
        }
        ent[j] = e;
    }
}

/* Quickselect: move the `want` smallest of ent[0..n) by ent_less to the front, unordered. About
 * three comparisons per entry, so that a pool of 1,024 PoPs is not sorted whole. */
static void ent_select(rank_ent_t *ent, size_t n, size_t want)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, k = (ptrdiff_t)want - 1;
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
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
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
            ent_select(ent, n, ROUTE_CAND_MAX);
            k = ROUTE_CAND_MAX;
        }
        ent_sort(ent, k, false); /* the kept ones, sorted */
        if (unbiased) {
            /* The kept ones by great-circle distance (the same order up to rounding). */
            for (size_t i = 0; i < k; i++) {
                const pops_pop_t *p = &c->pops->pop[ent[i].idx];
                ent[i].d = geoip_distance_km(c->lat, c->lon, p->lat, p->lon);
            }
            ent_sort(ent, k, false);
        }
        n = k;
        /* The band, plus a millimetre: two names of one place (the pole at two longitudes)
         * come out of the haversine a few picometres apart, and must tie even when the client
         * stands on them (nearest 0 km) or the band is 0. */
        double limit = ent[0].d * (1.0 + c->pol->tie) + ROUTE_SAME_PLACE_KM;
        while (ntie < n && ent[ntie].d <= limit)
            ntie++;
        /* The tie group in PoP index order, so that a client's pick does not depend on small
         * distance differences inside the band. */
        ent_sort(ent, ntie, true);
    }
    size_t keep = n < ROUTE_CAND_MAX ? n : ROUTE_CAND_MAX;
    for (size_t i = 0; i < keep; i++)
        dec->cand[i] = ent[i].idx;
    dec->ncand = (uint8_t)keep;
    dec->ntie = (uint8_t)(ntie < keep ? ntie : keep);
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
    c.fence = route_fence_for(pol, client, NULL);
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
                ntake += route_takes_clients(health, elig[i]);
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
                if (!route_takes_clients(health, fam[i]))
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
