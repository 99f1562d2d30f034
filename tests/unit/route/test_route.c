/* test_route.c: unit tests for the PoP file, geo policies, ranking, fences, fallback, memo,
 * explain. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "pops.h"
#include "route.h"
#include "route_fixture.h"

static const char pops_yaml[] =
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

static route_client_t at(double lat, double lon, const char *cc, const char *cont, uint32_t hash)
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
static route_health_t *health_up(route_health_t *h, const uint8_t *up, size_t n)
{
    health_from_up(h, up, n, 1000);
    h->ttl_short = 10;
    h->spill = 3;
    return h;
}

static const route_health_t *hv(const uint8_t *up)
{
    static route_health_t h;
    return up ? health_up(&h, up, 7) : NULL;
}

static route_decision_t rank(const route_policy_t *pol, const pops_t *pops, const route_client_t *c,
                             const uint8_t *up, int family)
{
    route_decision_t d;
    int rc = route_rank(pol, pops, c, hv(up), family, &d, NULL);
    CHECK(rc == 0);
    return d;
}

static const route_client_t PARIS = {true, 48.8566, 2.3522, "FR", "EU", NULL, 0, 7};
static const route_client_t CHICAGO = {true, 41.8781, -87.6298, "US", "NA", NULL, 0, 7};
static const route_client_t REYKJAVIK = {true, 64.1466, -21.9426, "IS", "EU", NULL, 0, 7};
static const route_client_t BUENOS_AIRES = {true, -34.6037, -58.3816, "AR", "SA", NULL, 0, 7};

static void test_pops_parse(void)
{
    pops_t *p = pops_from(pops_yaml);
    CHECK(p->npops == 7 && p->npools == 3);
    CHECK(pops_find(p, "nyc") == NYC && pops_find(p, "xxx") == -ENOENT);
    CHECK(pops_pool_find(p, "backup") == 1);
    const pops_pop_t *f = &p->pop[FRA];
    CHECK(f->n4 == 1 && f->n6 == 1 && f->capacity == 1000 && f->factor == 1.0);
    CHECK(!strcmp(f->continent, "EU") && !strcmp(f->hostname, "fra.edge.example.test."));
    CHECK(!strcmp(f->probe.url, "http://127.0.1.1:8080/healthz"));
    CHECK(f->probe.kind == POPS_PROBE_HTTP && f->probe.port == 8080);
    CHECK(!strcmp(f->probe.path, "/healthz") && !strcmp(f->probe.host, "127.0.1.1:8080"));
    CHECK(!strcmp(f->probe.status_path, "/status") && f->probe.status_port == 8080);
    CHECK(f->line == 2 && f->col == 3);
    CHECK(!strcmp(p->pop[PAR].hostname, "par.edge.example.test."));
    CHECK(p->pop[PAR].n4 == 2 && p->pop[PAR].n6 == 0);
    CHECK(p->pop[SIN].n4 == 1); /* scalar address */
    CHECK(!strcmp(p->pop[NYC].continent, "NA") && !strcmp(p->pop[BJ].continent, "AS"));
    CHECK(p->pool[0].n == 5 && p->pool[0].idx[2] == NYC);
    CHECK(!p->has_default_location);
    pops_free(p);
}

static void pops_error(const char *yaml, const char *want)
{
    yt_doc_t *doc = load("pops.yaml", yaml);
    pops_t *p = NULL;
    char err[512] = "";
    int rc = pops_parse(yt_doc_root(doc), &p, err, sizeof(err));
    CHECK(rc == -EINVAL && p == NULL);
    CHECK(strstr(err, want), "pops error: got '%s', want '%s'\n", err, want);
    yt_doc_free(doc);
}

static void test_pops_errors(void)
{
    pops_error("pops:\n  fra: {country: DE, addresses: [127.0.0.1]}\n",
               "pops.yaml:2:3: PoP 'fra' needs a location");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [127.0.0.300]}\n",
               "pops.yaml:2:40: '127.0.0.300' is not an IPv4 or IPv6 address");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], bias: 150}\n",
               "pops.yaml:2:56: '150' is not a number from -99 to 99");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], colour: red}\n",
               "pops.yaml:2:50: unknown key 'colour' in PoP 'fra'");
    pops_error("pops:\n  fra: {location: [50, 8]}\n", "pops.yaml:2:3: PoP 'fra' needs addresses");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4]}\npools:\n  e: [fra, nyc]\n",
               "pops.yaml:4:12: unknown PoP 'nyc' in pool 'e'");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4]}\npools:\n  e: [fra, fra]\n",
               "pops.yaml:4:12: PoP 'fra' is listed twice");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], probe: {interval: 5}}\n",
               "pops.yaml:2:58: unknown key 'interval' in probe");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], probe: {body: ok}}\n",
               "pops.yaml:2:57: an http probe needs a url");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], probe: {type: tcp}}\n",
               "pops.yaml:2:57: a tcp probe needs a port");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4],\n"
               "        probe: {url: \"https://x/\"}}\n",
               "pops.yaml:3:22: probe url 'https://x/': https probes are not supported");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4],\n"
               "        probe: {url: \"http://x:99999/\"}}\n",
               "pops.yaml:3:22: probe url 'http://x:99999/' must look like");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4],\n"
               "        probe: {url: \"http://x/\", down_after: 6}}\n",
               "pops.yaml:3:47: '6' is not a whole number from 1 to 5");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], capacity: 10,\n"
               "        watermarks: {low: 95, high: 80}}\n",
               "pops.yaml:3:21: watermarks: low (95%) must be below high (80%)");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4]}\n"
               "regions:\n  eu: {pops: [fra], capacity: 10}\n",
               "pops.yaml:4:15: PoP 'fra' in region 'eu' has no capacity");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], capacity: 5}\n"
               "regions:\n  eu: {pops: [fra], capacity: 10}\n  eu2: {pops: [fra], capacity: 10}\n",
               "pops.yaml:5:8: PoP 'fra' is in region 'eu' and in region 'eu2'");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], capacity: 5}\n"
               "regions:\n  eu: {pops: [fra]}\n",
               "pops.yaml:4:3: region 'eu' needs pops: [...] and capacity: N");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], probe: {url: ftp://x}}\n",
               "pops.yaml:2:63: probe url 'ftp://x' must look like http://host");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4], hostname: a..b}\n",
               "pops.yaml:2:60: 'a..b' is not a valid host name");
    pops_error("pops:\n  \"f r\": {location: [50, 8], addresses: [1.2.3.4]}\n",
               "pops.yaml:2:3: PoP name 'f r' must be");
    pops_error("pops: {}\n", "pops.yaml:1:7: pops must be a non-empty mapping");
    pops_error("pools: {}\n", "pops.yaml:1:1: the PoP file needs a 'pops' mapping");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4]}\ndefault_location: 5\n",
               "pops.yaml:3:19: location must be [latitude, longitude]");
}

static void policy_error(const pops_t *pops, const char *yaml, const char *want)
{
    yt_doc_t *doc = load("zone.yaml", yaml);
    route_policy_t *pol = NULL;
    char err[512] = "";
    int rc = route_policy_parse(yt_map_get(yt_doc_root(doc), "geo"), pops, &pol, err, sizeof(err));
    CHECK(rc == -EINVAL && pol == NULL);
    CHECK(strstr(err, want), "policy error: got '%s', want '%s'\n", err, want);
    yt_doc_free(doc);
}

static void test_policy_parse(void)
{
    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol = policy_from(p, "geo: {pool: edges}\n");
    CHECK(pol->pool == 0 && pol->fallback_pool == -1 && pol->answers == 1 && pol->ttl == 30);
    CHECK(pol->addresses == 0 && fabs(pol->tie - 0.05) < 1e-12 && pol->mode == ROUTE_MODE_A);
    CHECK(pol->then == ROUTE_THEN_SERVFAIL && pol->cname[0] == '\0' && pol->nfences == 0);
    route_policy_free(pol);
    pol = policy_from(p, "geo:\n  pool: edges\n  answers: 2\n  addresses: 1\n  ttl: 60\n"
                         "  tie_band: 10\n  default_location: [10, 20]\n"
                         "  fences:\n"
                         "    - {clients: {continent: EU}, pops: {continent: [EU]}}\n"
                         "    - {clients: {country: [CN, hk]}, pops: {country: CN, pops: [sin]}}\n"
                         "  fallback: {pool: backup, cname: video.cdn-vendor.example.net,"
                         " then: nodata}\n");
    CHECK(pol->answers == 2 && pol->addresses == 1 && pol->ttl == 60);
    CHECK(fabs(pol->tie - 0.10) < 1e-12 && pol->has_default_location && pol->default_lat == 10);
    CHECK(pol->nfences == 2 && pol->fences[1].clients.ncountry == 2);
    CHECK(!strcmp(pol->fences[1].clients.country[1], "HK"));
    CHECK(pol->fences[1].pops.npops == 1 && pol->fences[1].pops.pops[0] == SIN);
    CHECK(pol->fallback_pool == 1 && pol->then == ROUTE_THEN_NODATA);
    CHECK(!strcmp(pol->cname, "video.cdn-vendor.example.net."));
    route_policy_free(pol);

    policy_error(p, "geo: {pool: nope}\n",
                 "zone.yaml:1:13: unknown pool 'nope' (pools: edges, backup, v4only)");
    policy_error(p, "geo: {answers: 1}\n", "zone.yaml:1:6: geo needs a pool");
    policy_error(p, "geo: {pool: edges, color: red}\n", "zone.yaml:1:20: unknown key 'color'");
    policy_error(p, "geo: {pool: edges, answers: 0}\n", "zone.yaml:1:29: '0' is not");
    policy_error(p, "geo: {pool: edges, mode: cname, answers: 2}\n",
                 "zone.yaml:1:42: mode cname answers with exactly one PoP");
    policy_error(p, "geo: {pool: edges, mode: b}\n", "zone.yaml:1:26: mode must be a or cname");
    policy_error(p, "geo: {pool: edges, fallback: {then: panic}}\n",
                 "zone.yaml:1:37: then must be nodata or servfail");
    policy_error(p, "geo: {pool: edges, fallback: {pool: edges}}\n",
                 "zone.yaml:1:37: the fallback pool is the policy's own pool");
    policy_error(p, "geo: {pool: edges, fallback: {cname: \"bad name\"}}\n",
                 "zone.yaml:1:38: 'bad name' is not a valid host name");
    policy_error(p,
                 "geo: {pool: edges, fences: [{clients: {continent: XX}, pops: {pops: [fra]}}]}\n",
                 "zone.yaml:1:51: unknown continent 'XX'");
    policy_error(p, "geo: {pool: edges, fences: [{clients: {continent: EU}}]}\n",
                 "zone.yaml:1:29: a fence needs both clients and pops");
    policy_error(p, "geo: {pool: edges, fences: [{clients: {}, pops: {pops: [zzz]}}]}\n",
                 "zone.yaml:1:39: a fence's clients selector must name");
    policy_error(p, "geo: {pool: edges, fences: [{clients: {country: FR}, pops: {pops: [zzz]}}]}\n",
                 "zone.yaml:1:68: unknown PoP 'zzz'");
    policy_error(p, "geo: {pool: edges, ttl: -1}\n", "zone.yaml:1:25: '-1' is not");
    policy_error(p, "geo: {pool: edges, default_location: [1, 200]}\n", "zone.yaml:1:42: '200'");
    pops_free(p);

    /* mode cname needs hostnames on every PoP of the pools. */
    p = pops_from("pops:\n  a: {location: [1, 2], addresses: [1.2.3.4]}\npools:\n  e: [a]\n");
    policy_error(p, "geo: {pool: e, mode: cname}\n",
                 "zone.yaml:1:13: mode cname: PoP 'a' (pool 'e') has no hostname");
    pops_free(p);
    p = pops_from("pops:\n  a: {location: [1, 2], hostname: a.example}\npools:\n  e: [a]\n");
    policy_error(p, "geo: {pool: e}\n", "zone.yaml:1:13: mode a: PoP 'a' (pool 'e') has no addr");
    pops_free(p);
}

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
    CHECK(strcmp(route_outcome_name(ROUTE_OUT_FALLBACK_POOL), "fallback-pool") == 0);
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

static void test_scope_hash_memo(void)
{
    CHECK(route_scope(24, 16) == 16);
    CHECK(route_scope(24, 28) == 24);
    CHECK(route_scope(0, 24) == 0);
    CHECK(route_scope(56, 32) == 32);

    const uint8_t a1[4] = {192, 0, 2, 1}, a2[4] = {192, 0, 2, 200}, a3[4] = {192, 0, 3, 1};
    uint8_t m1[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 77};
    CHECK(route_client_hash(AF_INET, a1, 24) == route_client_hash(AF_INET, a2, 24));
    CHECK(route_client_hash(AF_INET, a1, 24) != route_client_hash(AF_INET, a3, 24));
    CHECK(route_client_hash(AF_INET6, m1, 120) == route_client_hash(AF_INET, a1, 24));

    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol = policy_from(p, "geo: {pool: edges}\n");
    route_memo_t *memo = route_memo_new(100);
    CHECK(memo != NULL);
    route_client_t tunis = at(36.8065, 10.1815, "TN", "AF", 0);
    route_memo_key_t k = {.loc = 42, .policy = 1, .generation = 7, .family = 4};
    route_decision_t d, got;
    CHECK(!route_memo_get(memo, &k, 0, NULL, &got));
    d = rank(pol, p, &tunis, NULL, AF_INET);
    route_memo_put(memo, &k, &d);
    /* Hits re-pick by hash exactly like route_rank would. */
    for (uint32_t h = 0; h < 8; h++) {
        tunis.hash = h;
        route_decision_t direct = rank(pol, p, &tunis, NULL, AF_INET);
        CHECK(route_memo_get(memo, &k, h, NULL, &got));
        CHECK(got.n == 1 && got.pop[0] == direct.pop[0] && got.outcome == ROUTE_OUT_POOL);
    }
    route_memo_key_t k2 = k;
    k2.generation = 8;
    CHECK(!route_memo_get(memo, &k2, 0, NULL, &got));
    k2 = k;
    k2.family = 6;
    CHECK(!route_memo_get(memo, &k2, 0, NULL, &got));
    uint64_t hits, misses;
    route_memo_stats(memo, &hits, &misses);
    CHECK(hits == 8 && misses == 3);
    /* Direct-mapped: filling many keys never fails and never grows. */
    for (uint64_t i = 0; i < 10000; i++) {
        route_memo_key_t kk = {.loc = i, .policy = 1, .generation = 7, .family = 4};
        route_memo_put(memo, &kk, &d);
    }
    route_memo_free(memo);
    route_policy_free(pol);
    pops_free(p);
}

static void test_explain(void)
{
    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol =
        policy_from(p, "geo:\n  pool: edges\n  addresses: 1\n"
                       "  fences: [{clients: {continent: EU}, pops: {continent: EU}}]\n"
                       "  fallback: {pool: backup}\n");
    uint8_t up[7] = {0, 1, 1, 1, 1, 1, 1};
    char buf[8192];
    int n = route_explain(buf, sizeof(buf), pol, p, &PARIS, hv(up), AF_INET, 24, 16, 24);
    CHECK(n > 0 && (size_t)n == strlen(buf));
    if (getenv("ROUTE_TEST_VERBOSE"))
        fputs(buf, stderr);
    CHECK(strstr(buf, "fence: rule 1, clients continent EU -> pops continent EU") != NULL);
    CHECK(strstr(buf, "outcome: pool") != NULL);
    CHECK(strstr(buf, "answer: par A 127.0.2.1\n") != NULL); /* addresses: 1 */
    CHECK(strstr(buf, "scope: /16 (source /24, widest prefix with this answer /16)") != NULL);
    CHECK(strstr(buf, "ttl: 30") != NULL);
    const char *line = strstr(buf, "\nnyc ");
    CHECK(line && strstr(line, "fenced") && strstr(line, "fenced") < strchr(line + 1, '\n'));
    line = strstr(buf, "\nfra ");
    CHECK(line && strstr(line, " no ") && strstr(line, "down") < strchr(line + 1, '\n'));
    /* Truncation is safe. */
    char small[40];
    n = route_explain(small, sizeof(small), pol, p, &PARIS, hv(up), AF_INET, 24, 16, 24);
    CHECK(n == (int)strlen(small) && n < (int)sizeof(small));
    route_policy_free(pol);
    pops_free(p);
}

/* The whole path: mmdb + nets -> client -> decision, as geodnsd will wire it. */
static void test_with_mmdb(const char *dir)
{
    char db_path[600], cmd[1400], err[512];
    snprintf(db_path, sizeof(db_path), "%s/route-example-city.mmdb", dir);
    snprintf(cmd, sizeof(cmd), "perl '%s' '%s'", MAKE_EXAMPLE_MMDB, db_path);
    int sys_rc = system(cmd);
    CHECK(sys_rc == 0, "cannot run %s", cmd);
    if (sys_rc != 0)
        return;
    geoip_schema_t s;
    geoip_schema_preset("geoip2-city", &s);
    geoip_db_t *db = NULL;
    CHECK(geoip_db_open(db_path, &s, &db, err, sizeof(err)) == 0);
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

/* ---- health and capacity in the ranking ---- */

static const char cap_yaml[] =
    "pops:\n"
    "  fra: {location: [50.11, 8.68], addresses: [127.0.1.1, 127.0.1.2], capacity: 1000}\n"
    "  ams: {location: [52.37, 4.90], addresses: [127.0.2.1], capacity: 1000}\n"
    "  lon: {location: [51.51, -0.13], addresses: [127.0.3.1], capacity: 1000}\n"
    "  mad: {location: [40.42, -3.70], addresses: [127.0.4.1], capacity: 1000}\n"
    "  nyc: {location: [40.71, -74.0], addresses: [127.0.5.1], capacity: 1000}\n"
    "pools:\n"
    "  edges: [fra, ams, lon, mad, nyc]\n";

enum { C_FRA, C_AMS, C_LON, C_MAD, C_NYC, C_N };
#define CLIENTS 10000

/* 10,000 distinct /24 client prefixes, all located in Frankfurt; returns the chosen PoP each. */
static void pick_all(const route_policy_t *pol, const pops_t *p, const route_health_t *h,
                     uint8_t *chosen, unsigned *count)
{
    memset(count, 0, C_N * sizeof(*count));
    for (unsigned i = 0; i < CLIENTS; i++) {
        uint8_t a[4] = {(uint8_t)(11 + i / 65536), (uint8_t)(i / 256), (uint8_t)i, 0};
        route_client_t c = at(50.11, 8.68, "DE", "EU", route_client_hash(AF_INET, a, 24));
        route_decision_t d;
        CHECK(route_rank(pol, p, &c, h, AF_INET, &d, NULL) == 0);
        CHECK(d.outcome == ROUTE_OUT_POOL && d.n == 1);
        chosen[i] = (uint8_t)d.pop[0];
        count[d.pop[0]]++;
    }
}

static void test_capacity_shares(void)
{
    pops_t *p = pops_from(cap_yaml);
    route_policy_t *pol = policy_from(p, "geo: {pool: edges, ttl: 30}\n");
    route_health_t h;
    uint8_t up[C_N] = {1, 1, 1, 1, 1};
    health_up(&h, up, C_N);
    static uint8_t first[CLIENTS], again[CLIENTS], fewer[CLIENTS];
    unsigned n[C_N];

    /* Everything up with room: every Frankfurt client stays at fra, and the pick does not
     * depend on the hash (scope stays the matched network's). */
    pick_all(pol, p, &h, first, n);
    CHECK(n[C_FRA] == CLIENTS);
    route_client_t one = at(50.11, 8.68, "DE", "EU", 12345);
    route_decision_t d;
    CHECK(route_rank(pol, p, &one, &h, AF_INET, &d, NULL) == 0 && !d.hashed && !d.shed);
    CHECK(route_answer_scope(24, 16, 24, &d) == 16);

    /* fra at 90% load with watermarks 80/95 keeps 1/3: about 2/3 of the prefixes leave, the
     * same ones every run, spread over the next PoPs in proportion to their headroom (ams 3 :
     * lon 1; mad and nyc have none). */
    h.keep[C_FRA] = ROUTE_SHARE_ONE / 3;
    h.weight[C_AMS] = 3000;
    h.weight[C_LON] = 1000;
    h.weight[C_MAD] = h.weight[C_NYC] = 0;
    pick_all(pol, p, &h, first, n);
    unsigned left = CLIENTS - n[C_FRA];
    CHECK(left > CLIENTS * 2 / 3 - 200 && left < CLIENTS * 2 / 3 + 200);
    CHECK(n[C_MAD] == 0 && n[C_NYC] == 0);
    CHECK(n[C_AMS] > left * 3 / 4 - 150 && n[C_AMS] < left * 3 / 4 + 150);
    CHECK(n[C_LON] + n[C_AMS] == left);
    pick_all(pol, p, &h, again, n);
    CHECK(!memcmp(first, again, sizeof(first)));
    fprintf(stderr, "capacity: keep 1/3 -> %u of %u prefixes left fra (ams %u, lon %u)\n", left,
            CLIENTS, n[C_AMS], n[C_LON]);

    /* Sticky: shedding more only moves clients away from fra, never back. */
    h.keep[C_FRA] = ROUTE_SHARE_ONE / 4;
    pick_all(pol, p, &h, fewer, n);
    unsigned moved_back = 0;
    for (unsigned i = 0; i < CLIENTS; i++)
        moved_back += fewer[i] == C_FRA && first[i] != C_FRA;
    CHECK(moved_back == 0);

    /* A hashed pick widens the ECS scope to the hash prefix; shed answers use the short TTL
     * when the PoP asks for it. */
    one.hash = 0xffffffffu;
    CHECK(route_rank(pol, p, &one, &h, AF_INET, &d, NULL) == 0 && d.hashed);
    CHECK(route_answer_scope(24, 16, 24, &d) == 24);
    CHECK(route_answer_scope(20, 16, 20, &d) == 20);
    h.short_ttl[d.pop[0]] = 1;
    CHECK(route_rank(pol, p, &one, &h, AF_INET, &d, NULL) == 0 && d.short_ttl);
    CHECK(route_answer_ttl(pol, &d, &h) == 10);
    h.short_ttl[d.pop[0]] = 0;

    /* Memo hits re-pick with the same view: identical to ranking afresh. */
    route_memo_t *memo = route_memo_new(64);
    route_memo_key_t k = {.loc = 1, .policy = 1, .generation = 3, .family = 4};
    CHECK(route_rank(pol, p, &one, &h, AF_INET, &d, NULL) == 0);
    route_memo_put(memo, &k, &d);
    for (uint32_t x = 0; x < 2000; x++) {
        route_decision_t direct, got;
        one.hash = x * 2654435761u;
        CHECK(route_rank(pol, p, &one, &h, AF_INET, &direct, NULL) == 0);
        CHECK(route_memo_get(memo, &k, one.hash, &h, &got));
        CHECK(got.n == 1 && got.pop[0] == direct.pop[0] && got.hashed == direct.hashed);
    }
    route_memo_free(memo);
    route_policy_free(pol);
    pops_free(p);
}

static void test_capacity_full_and_addresses(void)
{
    pops_t *p = pops_from(cap_yaml);
    route_policy_t *cn =
        policy_from(p, "geo: {pool: edges, fallback: {cname: video.cdn-vendor.example.net}}\n");
    route_policy_t *plain = policy_from(p, "geo: {pool: edges}\n");
    route_health_t h;
    uint8_t up[C_N] = {1, 1, 1, 1, 1};
    health_up(&h, up, C_N);
    route_client_t c = at(50.11, 8.68, "DE", "EU", 99);
    route_decision_t d;

    /* Every PoP past its high watermark: the contingency CDN takes the overflow... */
    const uint16_t load[C_N] = {990, 960, 970, 999, 980};
    for (int i = 0; i < C_N; i++) {
        h.keep[i] = 0;
        h.weight[i] = 0;
        h.load[i] = load[i];
    }
    CHECK(route_rank(cn, p, &c, &h, AF_INET, &d, NULL) == 0);
    CHECK(d.outcome == ROUTE_OUT_CNAME && d.full);
    /* ...and without one, the least loaded PoP, never nothing. */
    CHECK(route_rank(plain, p, &c, &h, AF_INET, &d, NULL) == 0);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.full && d.n == 1 && d.pop[0] == C_AMS);
    char buf[4096];
    CHECK(route_explain(buf, sizeof(buf), plain, p, &c, &h, AF_INET, 24, 16, 24) > 0);
    CHECK(strstr(buf, "every eligible PoP is full and no fallback CNAME: least loaded") != NULL);
    /* One PoP with room takes them all (no overflow while anyone has headroom). */
    h.weight[C_NYC] = 500;
    CHECK(route_rank(cn, p, &c, &h, AF_INET, &d, NULL) == 0);
    CHECK(d.outcome == ROUTE_OUT_POOL && !d.full && d.pop[0] == C_NYC && d.shed);

    /* Per-address health: a withdrawn address is left out of the answer; a PoP whose every
     * IPv4 address is down cannot answer A, and the next nearest does. */
    health_up(&h, up, C_N);
    const uint8_t *addrs[POPS_ADDRS_MAX];
    h.addr4[C_FRA] = 0x2;
    CHECK(route_pop_addresses(&p->pop[C_FRA], &h, C_FRA, AF_INET, 0, addrs) == 1);
    CHECK(addrs[0][3] == 2);
    CHECK(route_pop_addresses(&p->pop[C_FRA], NULL, C_FRA, AF_INET, 0, addrs) == 2);
    h.addr4[C_FRA] = 0;
    CHECK(route_rank(plain, p, &c, &h, AF_INET, &d, NULL) == 0);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.pop[0] == C_AMS);
    /* Down PoPs: the next nearest; all down: the chain goes on (servfail here). */
    health_up(&h, up, C_N);
    h.up[C_FRA] = 0;
    CHECK(route_rank(plain, p, &c, &h, AF_INET, &d, NULL) == 0 && d.pop[0] == C_AMS);
    memset(h.up, 0, sizeof(h.up));
    CHECK(route_rank(plain, p, &c, &h, AF_INET, &d, NULL) == 0);
    CHECK(d.outcome == ROUTE_OUT_SERVFAIL);
    CHECK(route_rank(cn, p, &c, &h, AF_INET, &d, NULL) == 0 && d.outcome == ROUTE_OUT_CNAME);
    route_policy_free(cn);
    route_policy_free(plain);
    pops_free(p);
}

int main(int argc, char **argv)
{
    test_pops_parse();
    test_pops_errors();
    test_policy_parse();
    test_nearest_and_family();
    test_bias();
    test_tie_band();
    test_fences();
    test_fallback_chain();
    test_unlocated_and_fixed();
    test_scope_hash_memo();
    test_explain();
    test_capacity_shares();
    test_capacity_full_and_addresses();
    test_with_mmdb(argc > 1 ? argv[1] : ".");
    return check_report();
}
