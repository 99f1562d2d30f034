/* route_cases.h: the world of the route ranking, selection and explain tests: seven PoPs in five
 * countries and three pools, a capacity set of five PoPs around Frankfurt, client locations, and
 * one-line wrappers around route_rank. Include after check.h. */
#ifndef TESTS_ROUTE_CASES_H
#define TESTS_ROUTE_CASES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "route.h"
#include "route_fixture.h"

/* Every test file uses some of these, none all of them. */
#define CASES_DATA __attribute__((unused)) static const

/* Seven PoPs; pools edges (five), backup (ams) and v4only (par, sin). */
CASES_DATA char pops_yaml[] =
    "pops:\n"
    "  fra: {location: [50.11, 8.68], country: DE, addresses: [127.0.1.1, \"2001:db8:f::1\"],\n"
    "        capacity: 1000, hostname: fra.edge.example.test,\n"
    "        probe: {url: \"http://127.0.1.1:8080/healthz\"}}\n"
    "  par: {location: [48.8566, 2.3522], country: FR, addresses: [127.0.2.1, 127.0.2.2],\n"
    "        hostname: par.edge.example.test.}\n"
    "  nyc: {location: [40.71, -74.0], country: US, continent: NA,\n"
    "        addresses: [127.0.3.1, \"2001:db8:3::1\"], hostname: nyc.edge.example.test}\n"
    "  sin: {location: [1.35, 103.82], country: SG, addresses: 127.0.4.1,\n"
    "        hostname: sin.edge.example.test}\n"
    "  gru: {location: [-23.55, -46.63], country: BR, addresses: [127.0.5.1],\n"
    "        hostname: gru.edge.example.test}\n"
    "  ams: {location: [52.37, 4.90], country: NL, addresses: [127.0.6.1, \"::1\"],\n"
    "        hostname: ams.edge.example.test}\n"
    "  bj: {location: [39.90, 116.40], country: CN, addresses: [127.0.7.1]}\n"
    "pools:\n"
    "  edges: [fra, par, nyc, sin, gru]\n"
    "  backup: [ams]\n"
    "  v4only: [par, sin]\n";

enum { FRA, PAR, NYC, SIN, GRU, AMS, BJ };

/* A located client with a country, a continent and a client hash. */
static inline route_client_t at(double lat, double lon, const char *cc, const char *cont,
                                uint32_t hash)
{
    route_client_t c;
    memset(&c, 0, sizeof(c));
    c.located = true;
    c.lat = lat;
    c.lon = lon;
    snprintf(c.country, sizeof(c.country), "%s", cc);
    snprintf(c.continent, sizeof(c.continent), "%s", cont);
    c.hash = hash;
    return c;
}

/* A health view from per-PoP up flags (route_fixture.h), weights 1000, short TTL 10, spill 3. */
static inline route_health_t *health_up(route_health_t *h, const uint8_t *up, size_t n)
{
    health_from_up(h, up, n, 1000);
    h->ttl_short = 10;
    h->spill = 3;
    return h;
}

/* health_up over the seven PoPs of pops_yaml, or NULL (all up, keeping all) when up is NULL.
 * The view is static: each call overwrites the last. */
static inline const route_health_t *hv(const uint8_t *up)
{
    static route_health_t h;
    return up ? health_up(&h, up, 7) : NULL;
}

/* route_rank with the health view hv(up), checking that it succeeds. */
static inline route_decision_t rank(const route_policy_t *pol, const pops_t *pops,
                                    const route_client_t *c, const uint8_t *up, int family)
{
    route_decision_t d;
    int rc = route_rank(pol, pops, c, hv(up), family, &d, NULL);
    CHECK(rc == 0);
    return d;
}

CASES_DATA route_client_t PARIS = {true, 48.8566, 2.3522, "FR", "EU", NULL, 0, 7};
CASES_DATA route_client_t CHICAGO = {true, 41.8781, -87.6298, "US", "NA", NULL, 0, 7};
CASES_DATA route_client_t REYKJAVIK = {true, 64.1466, -21.9426, "IS", "EU", NULL, 0, 7};
CASES_DATA route_client_t BUENOS_AIRES = {true, -34.6037, -58.3816, "AR", "SA", NULL, 0, 7};

/* Five PoPs with capacity around Frankfurt, one pool. */
CASES_DATA char cap_yaml[] =
    "pops:\n"
    "  fra: {location: [50.11, 8.68], addresses: [127.0.1.1, 127.0.1.2], capacity: 1000}\n"
    "  ams: {location: [52.37, 4.90], addresses: [127.0.2.1], capacity: 1000}\n"
    "  lon: {location: [51.51, -0.13], addresses: [127.0.3.1], capacity: 1000}\n"
    "  mad: {location: [40.42, -3.70], addresses: [127.0.4.1], capacity: 1000}\n"
    "  nyc: {location: [40.71, -74.0], addresses: [127.0.5.1], capacity: 1000}\n"
    "pools:\n"
    "  edges: [fra, ams, lon, mad, nyc]\n";

enum { C_FRA, C_AMS, C_LON, C_MAD, C_NYC, C_N };

/* Make every PoP of cap_yaml past its high watermark in h: none keeps or takes clients; loads
 * fra 99.0%, ams 96.0% (the least), lon 97.0%, mad 99.9%, nyc 98.0%. Up flags are left. */
static inline void health_full(route_health_t *h)
{
    static const uint16_t load[C_N] = {990, 960, 970, 999, 980};
    for (int i = 0; i < C_N; i++) {
        h->keep[i] = 0;
        h->weight[i] = 0;
        h->load[i] = load[i];
    }
}

/* n PoPs p0, p1, ... at lat[i], lon[i] with bias[i] (bias may be NULL: none), address
 * 10.(i / 256).(i % 256).1, all in pool "all"; the caller frees them with pops_free(). */
static inline pops_t *pops_at(size_t n, const double *lat, const double *lon, const int *bias)
{
    size_t cap = n * 120 + 64, len = 0;
    char *y = malloc(cap);
    len += (size_t)snprintf(y + len, cap - len, "pops:\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(y + len, cap - len,
                                "  p%zu: {location: [%.6f, %.6f], bias: %d, addresses: "
                                "[10.%zu.%zu.1]}\n",
                                i, lat[i], lon[i], bias ? bias[i] : 0, i / 256, i % 256);
    len += (size_t)snprintf(y + len, cap - len, "pools:\n  all: [");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(y + len, cap - len, "%sp%zu", i ? ", " : "", i);
    snprintf(y + len, cap - len, "]\n");
    pops_t *p = pops_from(y);
    free(y);
    return p;
}

#endif
