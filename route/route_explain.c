/* route_explain.c: the human-readable account of one decision (client, location, fence, every
 * PoP with distance, step, health, load, share kept and reason, outcome, answer, ECS scope, TTL)
 * and the outcome and reason names. Off the query path (explain command, DNS explain queries). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "route.h"
#include "route_int.h"

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
    size_t fence_no;
    const route_fence_t *fence = route_fence_for(pol, client, &fence_no);
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
