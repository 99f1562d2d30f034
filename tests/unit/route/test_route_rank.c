/* test_route_rank.c: the routing decision: nearest PoP by family, bias, tie band, fences, the
 * fallback chain, unlocated clients and fixed orders, and the whole mmdb + nets path. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "geoip.h"
#include "pops.h"
#include "route.h"
#include "route_cases.h"
#include "route_fixture.h"

static void test_nearest_and_family(void)
{
    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol = policy_from(p, "geo: {pool: edges}\n");
    route_decision_t d = rank(pol, p, &PARIS, NULL, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.n == 1 && d.pop[0] == PAR);
    /* AAAA: par has no IPv6, so the nearest PoP that has one. */
    d = rank(pol, p, &PARIS, NULL, AF_INET6);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.n == 1 && d.pop[0] == FRA);
    d = rank(pol, p, &CHICAGO, NULL, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == NYC);
    d = rank(pol, p, &BUENOS_AIRES, NULL, AF_INET);
    CHECK(d.pop[0] == GRU);
    /* AAAA from Buenos Aires: gru has no IPv6 -> nyc. */
    d = rank(pol, p, &BUENOS_AIRES, NULL, AF_INET6);
    CHECK(d.pop[0] == NYC);
    route_policy_free(pol);

    /* answers: 3 gives the three nearest in order. */
    pol = policy_from(p, "geo: {pool: edges, answers: 3, tie_band: 0}\n");
    d = rank(pol, p, &CHICAGO, NULL, AF_INET);
    CHECK(d.n == 3 && d.pop[0] == NYC && d.pop[1] == PAR && d.pop[2] == FRA);
    route_policy_free(pol);

    /* A pool whose PoPs have no IPv6 at all: NODATA for AAAA, addresses for A. */
    pol = policy_from(p, "geo: {pool: v4only, fallback: {pool: backup}}\n");
    d = rank(pol, p, &PARIS, NULL, AF_INET6);
    CHECK(d.outcome == ROUTE_OUT_NODATA && d.n == 0);
    d = rank(pol, p, &PARIS, NULL, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == PAR);
    route_policy_free(pol);

    /* mode cname ignores the family. */
    pol = policy_from(p, "geo: {pool: v4only, mode: cname}\n");
    d = rank(pol, p, &PARIS, NULL, AF_INET6);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == PAR);
    route_policy_free(pol);
    pops_free(p);
}

static void test_bias(void)
{
    /* From Reykjavik: par 2233 km, fra 2378 km, nyc 4203 km. */
    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol = policy_from(p, "geo: {pool: edges, tie_band: 0}\n");
    route_decision_t d = rank(pol, p, &REYKJAVIK, NULL, AF_INET);
    CHECK(d.pop[0] == PAR);
    route_policy_free(pol);
    pops_free(p);

    /* nyc bias +50: 4203 x 0.5 = 2101 km, now the nearest. */
    char buf[4096];
    const char *nyc = strstr(pops_yaml, "  nyc:");
    snprintf(buf, sizeof(buf), "%.*s  nyc: {bias: 50, %s", (int)(nyc - pops_yaml), pops_yaml,
             nyc + strlen("  nyc: {"));
    p = pops_from(buf);
    CHECK(p->pop[NYC].bias == 50 && fabs(p->pop[NYC].factor - 0.5) < 1e-12);
    pol = policy_from(p, "geo: {pool: edges, tie_band: 0}\n");
    d = rank(pol, p, &REYKJAVIK, NULL, AF_INET);
    CHECK(d.pop[0] == NYC);
    route_policy_free(pol);
    pops_free(p);

    /* par bias -10: 2233 x 1.1 = 2456 km, so fra (2378) wins. */
    const char *par = strstr(pops_yaml, "  par:");
    snprintf(buf, sizeof(buf), "%.*s  par: {bias: -10, %s", (int)(par - pops_yaml), pops_yaml,
             par + strlen("  par: {"));
    p = pops_from(buf);
    pol = policy_from(p, "geo: {pool: edges, tie_band: 0}\n");
    d = rank(pol, p, &REYKJAVIK, NULL, AF_INET);
    CHECK(d.pop[0] == FRA);
    route_policy_free(pol);
    pops_free(p);
}

static void test_tie_band(void)
{
    /* Tunis: fra 1484 km, par 1482 km, ams 1779 km. */
    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol = policy_from(p, "geo: {pool: edges}\n");
    int seen_fra = 0, seen_par = 0;
    for (uint32_t h = 0; h < 64; h++) {
        route_client_t c =
            at(36.8065, 10.1815, "TN", "AF",
               route_client_hash(AF_INET, (const uint8_t[]){198, 18, (uint8_t)h, 0}, 24));
        route_decision_t d = rank(pol, p, &c, NULL, AF_INET);
        CHECK(d.ntie == 2 && d.n == 1 && (d.pop[0] == FRA || d.pop[0] == PAR));
        seen_fra += d.pop[0] == FRA;
        seen_par += d.pop[0] == PAR;
        /* Sticky: the same hash always gives the same PoP. */
        route_decision_t again = rank(pol, p, &c, NULL, AF_INET);
        CHECK(again.pop[0] == d.pop[0]);
    }
    CHECK(seen_fra > 10 && seen_par > 10);
    route_policy_free(pol);

    /* tie_band 0: always the strictly nearest. */
    pol = policy_from(p, "geo: {pool: edges, tie_band: 0}\n");
    for (uint32_t h = 0; h < 16; h++) {
        route_client_t c = at(36.8065, 10.1815, "TN", "AF", h);
        route_decision_t d = rank(pol, p, &c, NULL, AF_INET);
        CHECK(d.ntie == 1 && d.pop[0] == PAR);
    }
    route_policy_free(pol);

    /* answers 2 with a tie of 2: both tied PoPs, order by hash; answers 3 adds the next. */
    pol = policy_from(p, "geo: {pool: edges, answers: 3}\n");
    route_client_t c = at(36.8065, 10.1815, "TN", "AF", 1);
    route_decision_t d = rank(pol, p, &c, NULL, AF_INET);
    CHECK(d.n == 3 && d.pop[2] == NYC); /* ams is not in edges; nyc is next */
    CHECK((d.pop[0] == FRA && d.pop[1] == PAR) || (d.pop[0] == PAR && d.pop[1] == FRA));
    route_policy_free(pol);
    pops_free(p);
}

static void test_fences(void)
{
    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol = policy_from(p, "geo:\n  pool: edges\n  fences:\n"
                                         "    - {clients: {continent: EU}, pops: {continent: EU}}\n"
                                         "    - {clients: {country: CN}, pops: {country: CN}}\n"
                                         "    - {clients: {country: AR}, pops: {pops: [nyc]}}\n"
                                         "  fallback: {pool: backup, cname: v.cdn.example.net}\n");
    uint8_t up[7] = {1, 1, 1, 1, 1, 1, 1};
    /* Reykjavik (EU) with nyc biased near is still fenced to EU PoPs: no bias here, but take
     * Paris with par and fra down: nyc would be next, the fence forbids it -> fallback ams. */
    up[PAR] = up[FRA] = 0;
    route_decision_t d = rank(pol, p, &PARIS, up, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_FALLBACK_POOL && d.pop[0] == AMS);
    up[AMS] = 0;
    d = rank(pol, p, &PARIS, up, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_CNAME);
    /* A US client is not fenced: nearest up PoP. */
    d = rank(pol, p, &CHICAGO, up, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == NYC);
    /* CN clients may only use CN PoPs; there is none in the pools -> CNAME. */
    route_client_t cn = at(31.23, 121.47, "CN", "AS", 1);
    d = rank(pol, p, &cn, NULL, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_CNAME);
    /* Fence by PoP name: AR clients only to nyc, although gru is nearer. */
    d = rank(pol, p, &BUENOS_AIRES, NULL, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == NYC);
    /* First matching rule wins: an EU client with country CN? no; order check with trace. */
    route_trace_t tr;
    route_decision_t d2;
    CHECK(route_rank(pol, p, &PARIS, NULL, AF_INET, &d2, &tr) == 0);
    CHECK(d2.pop[0] == PAR && tr.reason[PAR] == ROUTE_WHY_CHOSEN);
    CHECK(tr.reason[NYC] == ROUTE_WHY_FENCED && tr.reason[FRA] == ROUTE_WHY_FARTHER);
    CHECK(tr.reason[AMS] == ROUTE_WHY_NOT_IN_POOL && tr.step[AMS] == 0 && tr.step[FRA] == 1);
    route_policy_free(pol);
    pops_free(p);
}

static void test_fallback_chain(void)
{
    pops_t *p = pops_from(pops_yaml);
    uint8_t all_up[7] = {1, 1, 1, 1, 1, 1, 1};
    uint8_t edges_down[7] = {0, 0, 0, 0, 0, 1, 1};
    uint8_t all_down[7] = {0};
    route_policy_t *pol = policy_from(
        p,
        "geo: {pool: edges, fallback: {pool: backup, cname: v.cdn.example.net, then: nodata}}\n");
    route_decision_t d = rank(pol, p, &CHICAGO, all_up, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == NYC);
    d = rank(pol, p, &CHICAGO, edges_down, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_FALLBACK_POOL && d.n == 1 && d.pop[0] == AMS);
    d = rank(pol, p, &CHICAGO, all_down, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_CNAME && d.n == 0);
    /* The CNAME answers AAAA too. */
    d = rank(pol, p, &CHICAGO, all_down, AF_INET6);
    CHECK(d.outcome == ROUTE_OUT_CNAME);
    route_policy_free(pol);

    pol = policy_from(p, "geo: {pool: edges, fallback: {then: nodata}}\n");
    d = rank(pol, p, &CHICAGO, all_down, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_NODATA);
    route_policy_free(pol);

    /* Default: SERVFAIL at the end of the chain. */
    pol = policy_from(p, "geo: {pool: edges}\n");
    d = rank(pol, p, &CHICAGO, all_down, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_SERVFAIL);
    /* One PoP up anywhere in the pool is used, however far. */
    uint8_t only_sin[7] = {0, 0, 0, 1, 0, 0, 0};
    d = rank(pol, p, &CHICAGO, only_sin, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == SIN);
    /* The step is chosen by health alone: sin (IPv4 only) is up, so AAAA is NODATA rather
     * than a fallback. */
    d = rank(pol, p, &CHICAGO, only_sin, AF_INET6);
    CHECK(d.outcome == ROUTE_OUT_NODATA);
    route_policy_free(pol);

    /* Fallback pool ranks by distance too; AAAA in the fallback pool. */
    pol = policy_from(p, "geo: {pool: v4only, fallback: {pool: edges}}\n");
    uint8_t v4down[7] = {1, 0, 1, 0, 1, 1, 1};
    d = rank(pol, p, &CHICAGO, v4down, AF_INET6);
    CHECK(d.outcome == ROUTE_OUT_FALLBACK_POOL && d.pop[0] == NYC);
    route_policy_free(pol);
    pops_free(p);
}

static void test_unlocated_and_fixed(void)
{
    pops_t *p = pops_from(pops_yaml);
    route_client_t nowhere = {0};
    nowhere.hash = 3;
    route_policy_t *pol = policy_from(p, "geo: {pool: edges}\n");
    /* No default location anywhere: the pool's order (fra first), skipping down PoPs. */
    route_decision_t d = rank(pol, p, &nowhere, NULL, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == FRA);
    uint8_t up[7] = {0, 1, 1, 1, 1, 1, 1};
    d = rank(pol, p, &nowhere, up, AF_INET);
    CHECK(d.pop[0] == PAR);
    route_policy_free(pol);

    /* Policy default location (Singapore). */
    pol = policy_from(p, "geo: {pool: edges, default_location: [1.29, 103.85]}\n");
    d = rank(pol, p, &nowhere, NULL, AF_INET);
    CHECK(d.pop[0] == SIN);
    /* A located client ignores it. */
    d = rank(pol, p, &CHICAGO, NULL, AF_INET);
    CHECK(d.pop[0] == NYC);
    route_policy_free(pol);
    pops_free(p);

    /* PoP file default location (Sao Paulo), overridden by the policy's. */
    char buf[4096];
    snprintf(buf, sizeof(buf), "%sdefault_location: [-23.5, -46.6]\n", pops_yaml);
    p = pops_from(buf);
    CHECK(p->has_default_location);
    pol = policy_from(p, "geo: {pool: edges}\n");
    d = rank(pol, p, &nowhere, NULL, AF_INET);
    CHECK(d.pop[0] == GRU);
    route_policy_free(pol);
    pol = policy_from(p, "geo: {pool: edges, default_location: [40, -73]}\n");
    d = rank(pol, p, &nowhere, NULL, AF_INET);
    CHECK(d.pop[0] == NYC);

    /* Fixed order from a nets entry: listed order, down PoPs skipped, answers in order. */
    uint16_t fixed[3] = {SIN, AMS, FRA}; /* ams is not in edges: ignored */
    route_client_t c = PARIS;
    c.fixed = fixed;
    c.nfixed = 3;
    d = rank(pol, p, &c, NULL, AF_INET);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == SIN);
    uint8_t sin_down[7] = {1, 1, 1, 0, 1, 1, 1};
    d = rank(pol, p, &c, sin_down, AF_INET);
    CHECK(d.pop[0] == FRA);
    /* Only PoPs outside the pool listed: the pin does not apply to this policy. */
    uint16_t only_ams[1] = {AMS};
    c.fixed = only_ams;
    c.nfixed = 1;
    d = rank(pol, p, &c, NULL, AF_INET);
    CHECK(d.pop[0] == PAR);
    route_policy_free(pol);
    pops_free(p);
}

/* The whole path: mmdb + nets -> client -> decision, as geodnsd will wire it. */
static void test_with_mmdb(const char *db_path)
{
    char err[512];
    geoip_schema_t s;
    geoip_schema_preset("geoip2-city", &s);
    geoip_db_t *db = NULL;
    CHECK(geoip_db_open(db_path, &s, &db, err, sizeof(err)) == 0, "%s", err);
    if (!db)
        return;
    const char *nets_yaml = "nets:\n  \"127.255.2.128/25\": {pops: [sin, fra]}\n"
                            "  \"127.255.1.0/24\": {pops: [nope]}\n";
    yt_doc_t *doc = load("nets.yaml", nets_yaml);
    geoip_nets_t *nets = NULL;
    CHECK(geoip_nets_parse(yt_doc_root(doc), &nets, err, sizeof(err)) == 0);
    yt_doc_free(doc);
    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol = policy_from(p, "geo: {pool: edges}\n");
    uint16_t fixed[GEOIP_NET_POPS_MAX];
    CHECK(pops_resolve_net(p, geoip_nets_entry(nets, 0), fixed, err, sizeof(err)) == 2);
    CHECK(pops_resolve_net(p, geoip_nets_entry(nets, 1), fixed, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "nets.yaml:3:29: unknown PoP 'nope'") != NULL);
    pops_resolve_net(p, geoip_nets_entry(nets, 0), fixed, err, sizeof(err));

    struct {
        const char *ip;
        int want;
    } cases[] = {
        {"127.255.2.1", NYC},   /* Chicago */
        {"127.255.2.200", SIN}, /* nets pin overrides the mmdb */
        {"198.18.3.9", NYC},    /* New York */
        {"127.255.4.1", GRU},   /* Buenos Aires */
        {"198.18.2.1", FRA},    /* Berlin */
        {"::ffff:127.255.8.1", FRA},
        {"2001:db8::1", SIN}, /* Sydney */
        {"8.8.8.8", FRA},     /* unlocated: pool order */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t a[16] = {0};
        int fam = strchr(cases[i].ip, ':') ? AF_INET6 : AF_INET;
        inet_pton(fam, cases[i].ip, a);
        geoip_loc_t loc;
        const geoip_net_t *net;
        CHECK(geoip_locate(db, nets, fam, a, &loc, &net) == 0);
        route_client_t c;
        route_client_from_loc(&c, &loc);
        if (net && net->npops) {
            c.fixed = fixed;
            c.nfixed = net->npops;
        }
        c.hash = route_client_hash(fam, a, fam == AF_INET ? 24 : 56);
        route_decision_t d = rank(pol, p, &c, NULL, AF_INET);
        CHECK(d.n == 1 && d.pop[0] == cases[i].want, "%s: got %s want %s", cases[i].ip,
              d.n ? p->pop[d.pop[0]].name : "-", p->pop[cases[i].want].name);
    }
    route_policy_free(pol);
    pops_free(p);
    geoip_nets_free(nets);
    geoip_db_close(db);
}

/* The ranking of c with tie band 0 is the brute-force order: biased great-circle distance, then
 * index, for every kept candidate (distances within a millimetre are one place: either order). */
static bool order_is_brute(const pops_t *p, const route_policy_t *pol0, const route_client_t *c)
{
    route_decision_t d;
    if (route_rank(pol0, p, c, NULL, AF_INET, &d, NULL) != 0)
        return false;
    size_t n = p->npops < ROUTE_CAND_MAX ? p->npops : ROUTE_CAND_MAX;
    if (d.ncand != n)
        return false;
    for (size_t i = 1; i < n; i++) {
        const pops_pop_t *a = &p->pop[d.cand[i - 1]], *b = &p->pop[d.cand[i]];
        double da = geoip_distance_km(c->lat, c->lon, a->lat, a->lon) * a->factor;
        double db = geoip_distance_km(c->lat, c->lon, b->lat, b->lon) * b->factor;
        if (da > db + 1e-6)
            return false;
    }
    return true;
}

/* Hostile geometry: 1,024 PoPs at one spot (a tie band wider than the kept candidates), PoPs on
 * both sides of the antimeridian and at a pole. */
static void test_hostile_geometry(void)
{
    static double lat[POPS_MAX], lon[POPS_MAX];
    static int bias[POPS_MAX];
    for (size_t i = 0; i < POPS_MAX; i++) {
        lat[i] = 50.11;
        lon[i] = 8.68;
    }
    pops_t *p = pops_at(POPS_MAX, lat, lon, NULL);
    route_policy_t *pol = policy_from(p, "geo: {pool: all}\n");
    route_policy_t *eight = policy_from(p, "geo: {pool: all, answers: 8, tie_band: 0}\n");
    /* Every client, at the spot or far from it, ties all the PoPs it keeps: the tie group is the
     * ROUTE_CAND_MAX lowest-numbered, each gets clients, a client keeps its PoP. */
    static unsigned count[POPS_MAX];
    const route_client_t where[2] = {at(50.11, 8.68, "DE", "EU", 0),
                                     at(-33.9, 151.2, "AU", "OC", 0)};
    for (int w = 0; w < 2; w++) {
        memset(count, 0, sizeof(count));
        unsigned bad = 0;
        for (uint32_t x = 0; x < 4096; x++) {
            route_client_t c = where[w];
            c.hash = x * 2654435761u;
            route_decision_t d = rank(pol, p, &c, NULL, AF_INET),
                             again = rank(pol, p, &c, NULL, AF_INET);
            bad += !(d.outcome == ROUTE_OUT_POOL && d.n == 1 && d.ntie == ROUTE_CAND_MAX &&
                     d.pop[0] < ROUTE_CAND_MAX && again.pop[0] == d.pop[0]);
            count[d.pop[0]]++;
        }
        unsigned used = 0, least = 4096;
        for (size_t i = 0; i < ROUTE_CAND_MAX; i++) {
            used += count[i] > 0;
            least = count[i] < least ? count[i] : least;
        }
        CHECK(bad == 0, "1,024 PoPs at one spot, client %d: %u of 4096 picks off", w, bad);
        CHECK(used == ROUTE_CAND_MAX && least > 4096 / ROUTE_CAND_MAX / 2,
              "client %d: %u of %d tied PoPs used, the least %u times", w, used, ROUTE_CAND_MAX,
              least);
    }
    /* answers 8: eight distinct PoPs. */
    route_decision_t d = rank(eight, p, &where[0], NULL, AF_INET);
    bool distinct = d.n == 8;
    for (unsigned i = 0; i < d.n; i++)
        for (unsigned j = 0; j < i; j++)
            distinct = distinct && d.pop[i] != d.pop[j];
    CHECK(distinct, "answers 8 over 1,024 tied PoPs: %u answers, all distinct: %d", d.n, distinct);
    /* The first 32 down: the next 32 tie instead. */
    static uint8_t up[POPS_MAX];
    memset(up, 1, sizeof(up));
    memset(up, 0, ROUTE_CAND_MAX);
    route_health_t *h = malloc(sizeof(*h));
    health_from_up(h, up, POPS_MAX, 1000);
    route_decision_t dh;
    CHECK(route_rank(pol, p, &where[1], h, AF_INET, &dh, NULL) == 0 && dh.ntie == ROUTE_CAND_MAX &&
              dh.cand[0] == ROUTE_CAND_MAX && dh.pop[0] >= ROUTE_CAND_MAX &&
              dh.pop[0] < 2 * ROUTE_CAND_MAX,
          "first 32 down: cand[0] %u, pick %u", dh.cand[0], dh.pop[0]);
    route_policy_free(eight);
    route_policy_free(pol);
    pops_free(p);
    /* One of them biased +50 (the biased path, 1,024 distances): it alone is nearest. */
    bias[700] = 50;
    p = pops_at(POPS_MAX, lat, lon, bias);
    pol = policy_from(p, "geo: {pool: all}\n");
    d = rank(pol, p, &where[1], NULL, AF_INET);
    CHECK(d.n == 1 && d.pop[0] == 700 && d.ntie == 1, "biased PoP among 1,024: got %u (tie %u)",
          d.pop[0], d.ntie);
    d = rank(pol, p, &where[1], up, AF_INET); /* hv(up): PoPs 0-6 down */
    CHECK(d.pop[0] == 700);
    health_from_up(h, up, POPS_MAX, 1000);
    h->up[700] = 0;
    CHECK(route_rank(pol, p, &where[1], h, AF_INET, &d, NULL) == 0 && d.ntie == ROUTE_CAND_MAX &&
              d.pop[0] >= ROUTE_CAND_MAX && d.pop[0] < 2 * ROUTE_CAND_MAX,
          "biased PoP down: %u", d.pop[0]);
    free(h);
    route_policy_free(pol);
    pops_free(p);

    /* The antimeridian: east (179.9), west (-179.9), far (170.0), and 180 / -180 (one place). */
    const double alat[5] = {10, 10, 10, 10, 10}, alon[5] = {179.9, -179.9, 170.0, 180, -180};
    p = pops_at(5, alat, alon, NULL);
    pol = policy_from(p, "geo: {pool: all, tie_band: 0, answers: 3}\n");
    route_client_t c = at(10, -179.5, "FJ", "OC", 1);
    d = rank(pol, p, &c, NULL, AF_INET);
    /* From -179.5: -179.9 (0.4 deg), then 180 and -180 (0.5 deg, tied), 179.9 (0.6), 170. */
    CHECK(d.n == 3 && d.pop[0] == 1 && d.ntie == 1 && d.cand[1] == 3 && d.cand[2] == 4 &&
              d.cand[3] == 0 && d.cand[4] == 2,
          "antimeridian: %u %u %u %u %u", d.cand[0], d.cand[1], d.cand[2], d.cand[3], d.cand[4]);
    c = at(10, 179.93, "FJ", "OC", 1);
    d = rank(pol, p, &c, NULL, AF_INET);
    CHECK(d.pop[0] == 0 && d.cand[4] == 2, "from 179.93: %u, last %u", d.pop[0], d.cand[4]);
    for (double x = -180; x <= 180; x += 0.7) {
        c = at(10, x, "FJ", "OC", 1);
        CHECK(order_is_brute(p, pol, &c), "antimeridian set from lon %.1f", x);
    }
    route_policy_free(pol);
    pops_free(p);

    /* A pole: two PoPs at the north pole (lon 0 and 120, one place), one at 80N, one at the south
     * pole. */
    const double plat[4] = {90, 90, 80, -90}, plon[4] = {0, 120, -60, 45};
    p = pops_at(4, plat, plon, NULL);
    pol = policy_from(p, "geo: {pool: all}\n");
    route_policy_t *pol0 = policy_from(p, "geo: {pool: all, tie_band: 0}\n");
    c = at(89.9, -60, "GL", "NA", 1);
    d = rank(pol, p, &c, NULL, AF_INET);
    CHECK(d.ntie == 2 && (d.pop[0] == 0 || d.pop[0] == 1), "near the pole: %u (tie %u)", d.pop[0],
          d.ntie);
    c = at(90, 0, "GL", "NA", 1);
    d = rank(pol, p, &c, NULL, AF_INET);
    CHECK(d.ntie == 2 && (d.pop[0] == 0 || d.pop[0] == 1) && d.cand[3] == 3,
          "at the pole: %u (tie %u), last %u", d.pop[0], d.ntie, d.cand[3]);
    c = at(-89, 170, "AQ", "AN", 1);
    d = rank(pol, p, &c, NULL, AF_INET);
    CHECK(d.pop[0] == 3 && (d.cand[3] == 0 || d.cand[3] == 1), "south: %u, last %u", d.pop[0],
          d.cand[3]);
    unsigned bad = 0;
    for (double y = -90; y <= 90; y += 5)
        for (double x = -180; x <= 180; x += 15) {
            c = at(y, x, "", "", 1);
            bad += !order_is_brute(p, pol0, &c);
        }
    CHECK(bad == 0, "pole set: %u locations ranked out of order", bad);
    route_policy_free(pol0);
    route_policy_free(pol);
    pops_free(p);
}

int main(int argc, char **argv)
{
    test_nearest_and_family();
    test_bias();
    test_tie_band();
    test_fences();
    test_fallback_chain();
    test_unlocated_and_fixed();
    test_hostile_geometry();
    if (argc > 1)
        test_with_mmdb(argv[1]);
    else
        CHECK(false, "usage: test_route_rank EXAMPLE-CITY.MMDB (the build's example-city.mmdb)");
    return check_report();
}
