/* test_route_policy.c: the PoP file and geo policy parsers: every field, defaults, and the
 * file:line:col error of each malformed input. */
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
#include "route_cases.h"
#include "route_fixture.h"

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

/* A PoP's address list and its probe subset: both families, a single unbracketed address, the
 * per-family bound, duplicates (as bytes, not text) and malformed entries. */
static void test_pops_addresses(void)
{
    pops_t *p = pops_from("pops:\n  fra: {location: [50, 8],\n"
                          "        addresses: [1.2.3.4, \"2001:db8::1\", \"::ffff:1.2.3.4\"]}\n");
    /* The IPv4-mapped address stays IPv6, distinct from 1.2.3.4. */
    CHECK(p->pop[0].n4 == 1 && p->pop[0].n6 == 2 && p->pop[0].v4[0][3] == 4 &&
          p->pop[0].v6[1][10] == 0xff && p->pop[0].v6[1][15] == 4);
    pops_free(p);
    p = pops_from("pops:\n  fra: {location: [50, 8], addresses: \"2001:db8::1\"}\n");
    CHECK(p->pop[0].n4 == 0 && p->pop[0].n6 == 1 && p->pop[0].v6[0][15] == 1);
    pops_free(p);

    /* 16 of each family is the bound; the 17th of one is refused. */
    char yaml[2048], *w = yaml;
    w += sprintf(w, "pops:\n  fra: {location: [50, 8], addresses: [");
    for (int i = 0; i < 16; i++)
        w += sprintf(w, "10.0.0.%d, \"2001:db8::%x\", ", i, i);
    sprintf(w, "10.0.0.99]}\n");
    pops_error(yaml, "pops.yaml:2:");
    pops_error(yaml, "more than 16 IPv4 addresses");
    sprintf(w - 2, "]}\n");
    p = pops_from(yaml);
    CHECK(p->pop[0].n4 == 16 && p->pop[0].n6 == 16);
    pops_free(p);
    w = yaml + sprintf(yaml, "pops:\n  fra: {location: [50, 8], addresses: [");
    for (int i = 0; i < 17; i++)
        w += sprintf(w, "%s\"2001:db8::%x\"", i ? ", " : "", i);
    sprintf(w, "]}\n");
    pops_error(yaml, "more than 16 IPv6 addresses");

    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4, 1.2.3.4]}\n",
               "pops.yaml:2:49: address 1.2.3.4 is listed twice");
    pops_error(
        "pops:\n  fra: {location: [50, 8], addresses: [\"2001:db8::1\", \"2001:DB8:0::1\"]}\n",
        "address 2001:DB8:0::1 is listed twice");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: 1.2.3.4/32}\n",
               "pops.yaml:2:39: '1.2.3.4/32' is not an IPv4 or IPv6 address");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [\" 1.2.3.4\"]}\n",
               "' 1.2.3.4' is not an IPv4 or IPv6 address");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3]}\n",
               "'1.2.3' is not an IPv4 or IPv6 address");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: {a: 1.2.3.4}}\n",
               "addresses must be a list of IPv4/IPv6 addresses");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [[1.2.3.4]]}\n",
               "expected a single value");

    /* probe.addresses: a subset, as bits of v4[] / v6[]. */
    p = pops_from("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4, 1.2.3.5, \"::1\"],\n"
                  "        probe: {url: \"http://x/\", addresses: [1.2.3.5, \"0::1\"]}}\n");
    CHECK(p->pop[0].probe.mask4 == 2 && p->pop[0].probe.mask6 == 1, "probe masks %x %x",
          p->pop[0].probe.mask4, p->pop[0].probe.mask6);
    pops_free(p);
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4],\n"
               "        probe: {url: \"http://x/\", addresses: [1.2.3.6]}}\n",
               "pops.yaml:3:47: probe address 1.2.3.6 is not one of PoP 'fra''s addresses");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4],\n"
               "        probe: {url: \"http://x/\", addresses: [\"::ffff:1.2.3.4\"]}}\n",
               "probe address ::ffff:1.2.3.4 is not one of PoP 'fra''s addresses");
    pops_error("pops:\n  fra: {location: [50, 8], addresses: [1.2.3.4],\n"
               "        probe: {url: \"http://x/\", addresses: [1.2.3.4/32]}}\n",
               "pops.yaml:3:47: '1.2.3.4/32' is not an IPv4 or IPv6 address");
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

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    test_pops_parse();
    test_pops_errors();
    test_pops_addresses();
    test_policy_parse();
    return check_report();
}
