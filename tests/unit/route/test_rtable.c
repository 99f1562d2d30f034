/* test_rtable.c: the merged prefix tables (route/rtable.c) on hand-built tiny maps: a split /24,
 * neighbours merged, the nets overlay over an mmdb, health changes flipping answers and
 * scopes, special-purpose ranges, client-hash answers, IPv4-mapped IPv6, shared tables, a build
 * cancelled at each of its checks (in->cancel), and
 * every leaf checked against the per-client ranking. argv[1]: the example mmdb (or none). */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "check.h"
#include "geoip.h"
#include "pops.h"
#include "route.h"
#include "route_fixture.h"
#include "route_special.h"
#include "rtable.h"
#include "rtable_leaf_check.h"
#include "yamltree.h"

static const char pops_yaml[] =
    "pops:\n"
    "  fra: {location: [50.11, 8.68], country: DE, addresses: [127.0.1.1, \"fd00::1\"]}\n"
    "  nyc: {location: [40.71, -74.0], country: US, addresses: [127.0.2.1, \"fd00::2\"]}\n"
    "  sin: {location: [1.35, 103.82], country: SG, addresses: [127.0.3.1]}\n"
    "  par: {location: [48.8566, 2.3522], country: FR, addresses: [127.0.4.1]}\n"
    "pools:\n"
    "  edges: [fra, nyc, sin]\n"
    "  tie: [fra, par]\n";
enum { FRA, NYC, SIN, PAR };

typedef struct fixture {
    pops_t *pops;
    geoip_db_t *db;
    geoip_nets_t *nets;
    uint16_t fixed[64][GEOIP_NET_POPS_MAX];
    uint8_t nfixed[64];
    route_policy_t *pol[4];
    size_t npol;
    route_table_t *t;
} fixture_t;

static void fx_nets(fixture_t *f, const char *nets_yaml)
{
    char err[512];
    yt_doc_t *doc = load("nets.yaml", nets_yaml);
    if (geoip_nets_parse(yt_doc_root(doc), &f->nets, err, sizeof(err))) {
        fprintf(stderr, "nets: %s\n", err);
        abort();
    }
    yt_doc_free(doc);
    for (size_t i = 0; i < geoip_nets_count(f->nets) && i < 64; i++) {
        const geoip_net_t *e = geoip_nets_entry(f->nets, i);
        if (e->npops) {
            int k = pops_resolve_net(f->pops, e, f->fixed[i], err, sizeof(err));
            f->nfixed[i] = (uint8_t)(k > 0 ? k : 0);
        }
    }
}

/* The build's input from the fixture. */
static route_table_input_t fx_input(const fixture_t *f, const route_health_t *h,
                                    const atomic_bool *cancel)
{
    return (route_table_input_t){
        .pops = f->pops,
        .db = f->db,
        .nets = f->nets,
        .net_fixed = (const uint16_t(*)[GEOIP_NET_POPS_MAX])f->fixed,
        .net_nfixed = f->nfixed,
        .pol = f->pol,
        .npol = f->npol,
        .health = h,
        .cancel = cancel,
    };
}

static int fx_build(fixture_t *f, const route_health_t *h)
{
    route_table_free(f->t);
    f->t = NULL;
    route_table_input_t in = fx_input(f, h, NULL);
    char err[256];
    int rc = route_table_build(&in, &f->t, err, sizeof(err));
    if (rc)
        fprintf(stderr, "build: %s\n", err);
    return rc;
}

static void fx_free(fixture_t *f)
{
    route_table_free(f->t);
    for (size_t i = 0; i < f->npol; i++)
        route_policy_free(f->pol[i]);
    geoip_nets_free(f->nets);
    geoip_db_close(f->db);
    pops_free(f->pops);
    memset(f, 0, sizeof(*f));
}

/* Look up a text address; returns the first PoP (or -1 for no PoP) and sets *depth. */
static int look(const fixture_t *f, uint32_t pol, const char *a, int qfam, int *depth,
                bool *special, bool *hashed)
{
    uint8_t addr[16];
    int fam = strchr(a, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(fam, a, addr) != 1)
        abort();
    route_table_hit_t hit;
    if (!route_table_lookup(f->t, pol, fam, addr, qfam, &hit))
        return -2;
    *depth = hit.depth;
    if (special)
        *special = hit.special;
    if (hashed)
        *hashed = hit.dec->hashed;
    if (hit.dec->hashed)
        return hit.dec->cand[0];
    return hit.dec->n ? hit.dec->pop[0] : -1;
}

/* Every address in the leaf's prefix must get the answer the per-client ranking gives:
 * sample the leaf's edges and a few inner addresses of each looked-up address. */
static void check_leaf_exact(const fixture_t *f, uint32_t pol, uint32_t a, const char *what)
{
    uint8_t addr[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    route_table_hit_t hit;
    route_table_lookup(f->t, pol, AF_INET, addr, AF_INET, &hit);
    uint32_t mask = hit.depth ? 0xffffffffu << (32 - hit.depth) : 0;
    uint32_t lo = a & mask, hi = lo | ~mask;
    uint32_t probes[] = {lo, hi, lo + (hi - lo) / 3, lo + (hi - lo) / 2, a};
    for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
        uint8_t p[4] = {(uint8_t)(probes[i] >> 24), (uint8_t)(probes[i] >> 16),
                        (uint8_t)(probes[i] >> 8), (uint8_t)probes[i]};
        geoip_loc_t loc;
        const geoip_net_t *net = NULL;
        geoip_locate(f->db, f->nets, AF_INET, p, &loc, &net);
        route_client_t c;
        route_client_from_loc(&c, &loc);
        if (net && f->nfixed[net->id]) {
            c.fixed = f->fixed[net->id];
            c.nfixed = f->nfixed[net->id];
        }
        route_decision_t d;
        route_rank(f->pol[pol - 1], f->pops, &c, NULL, AF_INET, &d, NULL);
        CHECK(d.outcome == hit.dec->outcome && d.n == hit.dec->n &&
                  (!d.n || d.pop[0] == hit.dec->pop[0]),
              "%s: %u.%u.%u.%u in the /%u leaf of %u.%u.%u.%u answers like the leaf", what, p[0],
              p[1], p[2], p[3], hit.depth, addr[0], addr[1], addr[2], addr[3]);
    }
}

/* The 16-way nodes walk 4 bits a step and give back the bits a leaf leaves unused: whatever
 * nibble a leaf ends in, it must stand for its whole prefix and no more (rtable_leaf_check).
 * Random addresses, their leaves' prefixes with random remainders. */
static void check_leaf_consistent(const fixture_t *f)
{
    srand(11);
    int bad = 0, odd = 0;
    const char *why = "";
    for (int i = 0; i < 20000; i++) {
        int fam = i & 1 ? AF_INET6 : AF_INET;
        uint8_t a[16], rest[16];
        for (int k = 0; k < 16; k++) {
            a[k] = (uint8_t)rand();
            rest[k] = (uint8_t)rand();
        }
        if (fam == AF_INET6 && i % 4 == 1)
            a[0] = 0x20; /* 2000::/8 as well as anywhere */
        unsigned depth;
        const char *e = rtable_leaf_check(f->t, 1, fam, a, AF_INET, rest, &depth);
        if (e) {
            bad++;
            why = e;
        }
        odd += depth > 12 && depth % 4 != 0; /* below the jump table, inside a step */
    }
    CHECK(bad == 0 && odd > 0,
          "20,000 leaves: the same leaf for every address in its prefix, another across its "
          "last bit, ::ffff:0:0/96 96 bits deeper (%d differ, last: %s; %d leaves end inside a "
          "step)",
          bad, why, odd);
}

static void test_split_and_merge(void)
{
    fixture_t f = {0};
    f.pops = pops_from(pops_yaml);
    /* Everything Tokyo-ish (sin) but a few European networks. */
    fx_nets(&f, "nets:\n"
                "  \"0.0.0.0/0\": {location: [35.68, 139.65]}\n"
                "  \"1.2.3.0/25\": {location: [48.85, 2.35]}\n"   /* Paris: fra */
                "  \"1.2.3.128/25\": {location: [40.7, -74.0]}\n" /* New York: nyc */
                "  \"5.0.0.0/24\": {location: [50.0, 8.0]}\n"     /* fra */
                "  \"5.0.1.0/24\": {location: [51.0, 9.0]}\n"     /* fra, a neighbour */
                "  \"5.0.2.0/24\": {location: [1.3, 103.8]}\n"    /* sin like the rest */
                "  \"9.9.9.0/24\": {pops: [nyc]}\n"               /* pinned, unlocated */
                "  \"::/0\": {location: [35.68, 139.65]}\n"
                "  \"2001:db8::/33\": {location: [48.85, 2.35]}\n"); /* fra */
    f.pol[f.npol++] = policy_from(f.pops, "geo: {pool: edges}\n");
    CHECK(fx_build(&f, NULL) == 0, "build");
    int d;
    bool sp;
    CHECK(look(&f, 1, "1.2.3.0", AF_INET, &d, &sp, NULL) == FRA && d == 25 && !sp,
          "split /24, lower half: fra /25 (depth %d)", d);
    CHECK(look(&f, 1, "1.2.3.200", AF_INET, &d, NULL, NULL) == NYC && d == 25,
          "split /24, upper half: nyc /25 (depth %d)", d);
    CHECK(look(&f, 1, "5.0.0.77", AF_INET, &d, NULL, NULL) == FRA && d == 23,
          "neighbours with one answer merge into 5.0.0.0/23 (depth %d)", d);
    CHECK(look(&f, 1, "5.0.2.1", AF_INET, &d, NULL, NULL) == SIN && d == 23,
          "5.0.2.0/24 (sin) merges with the sin rest into 5.0.2.0/23 (depth %d)", d);
    CHECK(look(&f, 1, "9.9.9.9", AF_INET, &d, NULL, NULL) == NYC && d == 24,
          "pinned nets entry: nyc /24 (depth %d)", d);
    CHECK(look(&f, 1, "2001:db8::1", AF_INET, &d, NULL, NULL) == FRA && d == 33,
          "IPv6 nets /33: fra (depth %d)", d);
    CHECK(look(&f, 1, "2001:db8:8000::1", AF_INET, &d, NULL, NULL) == SIN,
          "IPv6 outside the /33: sin");
    /* Special-purpose ranges stay their own leaves: 10/8 is answered from the resolver. */
    CHECK(look(&f, 1, "10.1.2.3", AF_INET, &d, &sp, NULL) == SIN && sp && d == 8,
          "10.1.2.3: in 10/8, special, a /8 leaf (depth %d sp %d)", d, sp);
    CHECK(look(&f, 1, "11.0.0.1", AF_INET, &d, &sp, NULL) == SIN && !sp && d >= 8,
          "11.0.0.1: not special, its leaf does not take in 10/8 (depth %d)", d);
    CHECK(look(&f, 1, "192.168.7.7", AF_INET, &d, &sp, NULL) == SIN && sp && d == 16,
          "192.168/16 special (depth %d)", d);
    CHECK(look(&f, 1, "fd12::1", AF_INET, &d, &sp, NULL) == SIN && sp && d == 7,
          "fc00::/7 special (depth %d)", d);
    /* IPv4-mapped IPv6: answered as IPv4, the depth counts the 96 mapped bits. */
    CHECK(look(&f, 1, "::ffff:1.2.3.4", AF_INET6, &d, NULL, NULL) == FRA && d == 96 + 25,
          "::ffff:1.2.3.4: fra, depth 121 (got %d)", d);
    CHECK(look(&f, 1, "::ffff:5.0.1.1", AF_INET, &d, NULL, NULL) == FRA && d == 96 + 23,
          "::ffff:5.0.1.1: depth 119 (got %d)", d);
    /* Each query family has its own trie: sin has no IPv6 address, so for AAAA the Tokyo-ish
     * rest answers fra like 5.0.0.0/23, and the AAAA scope is wider than the A scope. */
    CHECK(look(&f, 1, "5.0.1.1", AF_INET6, &d, NULL, NULL) == FRA && d < 23,
          "AAAA from 5.0.1.1: fra, wider than the A leaf (depth %d)", d);
    CHECK(look(&f, 1, "::ffff:5.0.1.1", AF_INET6, &d, NULL, NULL) == FRA && d < 96 + 23,
          "AAAA from ::ffff:5.0.1.1: fra, depth %d", d);
    /* AAAA: sin has no IPv6 address: the AAAA answer differs from the A answer. */
    CHECK(look(&f, 1, "8.8.8.8", AF_INET6, &d, NULL, NULL) != SIN, "AAAA never names sin");
    CHECK(route_special_prefix(AF_INET, (const uint8_t[]){172, 20, 0, 1}) == 12 &&
              route_special_prefix(AF_INET, (const uint8_t[]){8, 8, 8, 8}) == 0 &&
              route_special_prefix(AF_INET, (const uint8_t[]){100, 64, 0, 1}) == 0 &&
              route_special_prefix(AF_INET, (const uint8_t[]){239, 1, 1, 1}) == 4,
          "route_special_prefix IPv4");
    const char *samples[] = {"1.2.3.0",  "1.2.3.200", "5.0.0.77",      "5.0.2.1", "9.9.9.9",
                             "11.0.0.1", "200.1.1.1", "4.255.255.255", "5.0.3.0"};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        struct in_addr ia;
        inet_pton(AF_INET, samples[i], &ia);
        check_leaf_exact(&f, 1, ntohl(ia.s_addr), samples[i]);
    }
    check_leaf_consistent(&f);
    fx_free(&f);
}

static void test_health_flip(void)
{
    fixture_t f = {0};
    f.pops = pops_from(pops_yaml);
    fx_nets(&f, "nets:\n"
                "  \"0.0.0.0/0\": {location: [35.68, 139.65]}\n"  /* sin */
                "  \"5.0.0.0/24\": {location: [50.0, 8.0]}\n"     /* fra */
                "  \"5.0.1.0/24\": {location: [40.7, -74.0]}\n"); /* nyc */
    f.pol[f.npol++] = policy_from(f.pops, "geo: {pool: edges}\n");
    route_health_t h;
    health_from_up(&h, NULL, 0, 1);
    CHECK(fx_build(&f, &h) == 0, "build, all up");
    int d;
    CHECK(look(&f, 1, "5.0.0.1", AF_INET, &d, NULL, NULL) == FRA && d == 24, "all up: fra /24");
    h.up[FRA] = 0;
    CHECK(fx_build(&f, &h) == 0, "rebuild, fra down");
    CHECK(look(&f, 1, "5.0.0.1", AF_INET, &d, NULL, NULL) == NYC && d == 23,
          "fra down: nyc, and 5.0.0.0/23 merges (both nyc) (depth %d)", d);
    h.up[FRA] = 1;
    h.keep[FRA] = ROUTE_SHARE_ONE / 2; /* fra sheds half its clients by /24 hash */
    CHECK(fx_build(&f, &h) == 0, "rebuild, fra shedding");
    bool hashed = false;
    look(&f, 1, "5.0.0.1", AF_INET, &d, NULL, &hashed);
    CHECK(hashed && d == 24, "fra shedding: answer depends on the client hash (depth %d)", d);
    look(&f, 1, "5.0.1.1", AF_INET, &d, NULL, &hashed);
    CHECK(!hashed, "nyc's clients are not hashed");
    fx_free(&f);
}

static void test_tie_and_sharing(void)
{
    fixture_t f = {0};
    f.pops = pops_from(pops_yaml);
    fx_nets(&f, "nets:\n"
                "  \"0.0.0.0/0\": {location: [48.85, 2.35]}\n"  /* Paris: par */
                "  \"7.0.0.0/16\": {location: [49.5, 5.5]}\n"); /* ~equidistant fra/par */
    f.pol[f.npol++] = policy_from(f.pops, "geo: {pool: tie, tie_band: 5}\n");
    f.pol[f.npol++] = policy_from(f.pops, "geo: {pool: tie, tie_band: 5, ttl: 99}\n");
    f.pol[f.npol++] = policy_from(f.pops, "geo: {pool: edges}\n");
    CHECK(fx_build(&f, NULL) == 0, "build");
    route_table_stats_t st;
    route_table_stats(f.t, &st);
    CHECK(st.tables == 2, "policies differing only in TTL share one table (%zu tables)", st.tables);
    int d;
    bool hashed = false;
    look(&f, 1, "7.0.5.5", AF_INET, &d, NULL, &hashed);
    CHECK(hashed && d == 16, "tie band: hashed answer, leaf /16 (depth %d)", d);
    look(&f, 2, "7.0.5.5", AF_INET, &d, NULL, &hashed);
    CHECK(hashed, "the shared table answers for policy 2");
    CHECK(look(&f, 3, "7.0.5.5", AF_INET, &d, NULL, NULL) == FRA, "policy 3: fra");
    CHECK(look(&f, 1, "8.0.0.1", AF_INET, &d, NULL, &hashed) == PAR && !hashed,
          "Paris rest: par, not hashed");
    route_table_hit_t hit;
    CHECK(!route_table_lookup(f.t, 4, AF_INET, (const uint8_t[]){7, 0, 0, 0}, AF_INET, &hit),
          "unknown policy id");
    fx_free(&f);
}

/* The example PoPs over the mmdb, with one nets entry (192.0.2.0/25 -> nyc) and the policy
 * "pool edges". False (after a failed CHECK) when the mmdb does not open. */
static bool fx_mmdb(fixture_t *f, const char *mmdb)
{
    f->pops = pops_from(pops_yaml);
    geoip_schema_t sch;
    geoip_schema_preset("geoip2-city", &sch);
    char err[512];
    if (geoip_db_open(mmdb, &sch, &f->db, err, sizeof(err))) {
        CHECK(0, "open %s: %s", mmdb, err);
        pops_free(f->pops);
        return false;
    }
    fx_nets(f, "nets:\n  \"192.0.2.0/25\": {pops: [nyc]}\n");
    f->pol[f->npol++] = policy_from(f->pops, "geo: {pool: edges}\n");
    return true;
}

static void test_mmdb(const char *mmdb)
{
    fixture_t f = {0};
    if (!fx_mmdb(&f, mmdb))
        return;
    CHECK(fx_build(&f, NULL) == 0, "build over the example mmdb");
    int d;
    CHECK(look(&f, 1, "192.0.2.1", AF_INET, &d, NULL, NULL) == NYC && d == 25,
          "nets /25 over the mmdb's Paris /24: nyc /25 (depth %d)", d);
    CHECK(look(&f, 1, "192.0.2.200", AF_INET, &d, NULL, NULL) == FRA && d == 25,
          "the other half: mmdb Paris, fra /25 (depth %d)", d);
    CHECK(look(&f, 1, "203.0.113.9", AF_INET, &d, NULL, NULL) == SIN && d == 24,
          "Tokyo: sin /24 (depth %d)", d);
    CHECK(look(&f, 1, "2001:db8:1::1", AF_INET6, &d, NULL, NULL) == FRA,
          "AAAA from Sydney (sin has no IPv6): fra");
    const char *samples[] = {"192.0.2.1",  "192.0.2.200", "203.0.113.9", "198.51.100.3",
                             "100.64.3.3", "198.18.1.1",  "198.18.3.3",  "8.8.8.8"};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        struct in_addr ia;
        inet_pton(AF_INET, samples[i], &ia);
        check_leaf_exact(&f, 1, ntohl(ia.s_addr), samples[i]);
    }
    check_leaf_consistent(&f);
    fx_free(&f);
}

/* A PoP file of n PoPs on a grid (all in pool "all"), as YAML text (caller frees). */
static char *grid_pops(size_t n)
{
    size_t cap = n * 96 + 4096, len = 0;
    char *y = malloc(cap);
    len += (size_t)snprintf(y + len, cap - len, "pops:\n");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(
            y + len, cap - len, "  p%zu: {location: [%.2f, %.2f], addresses: [10.%zu.%zu.1]}\n", i,
            -60.0 + (double)(i / 32) * 3.9, -175.0 + (double)(i % 32) * 11.0, i / 256, i % 256);
    len += (size_t)snprintf(y + len, cap - len, "pools:\n  all: [");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(y + len, cap - len, "%sp%zu", i ? ", " : "", i);
    snprintf(y + len, cap - len, "]\n");
    return y;
}

static void test_1024_pops(void)
{
    CHECK(POPS_MAX >= 1024, "POPS_MAX %d", POPS_MAX);
    char *y = grid_pops(1024);
    fixture_t f = {0};
    f.pops = pops_from(y);
    free(y);
    CHECK(f.pops->npops == 1024 && f.pops->pool[0].n == 1024, "1,024 PoPs in one pool");
    fx_nets(&f, "nets:\n"
                "  \"0.0.0.0/0\": {location: [-60.0, -175.0]}\n"   /* p0 */
                "  \"1.0.0.0/8\": {location: [60.84, 166.0]}\n"    /* p1023 */
                "  \"2.0.0.0/8\": {location: [-56.1, -164.0]}\n"); /* p33 */
    f.pol[f.npol++] = policy_from(f.pops, "geo: {pool: all, tie_band: 0}\n");
    CHECK(fx_build(&f, NULL) == 0, "build with 1,024 PoPs");
    int d;
    CHECK(look(&f, 1, "1.2.3.4", AF_INET, &d, NULL, NULL) == 1023 && d == 8,
          "the last of 1,024 PoPs answers its /8 (depth %d)", d);
    CHECK(look(&f, 1, "2.2.3.4", AF_INET, &d, NULL, NULL) == 33, "p33");
    CHECK(look(&f, 1, "3.2.3.4", AF_INET, &d, NULL, NULL) == 0, "p0");
    /* The ranking itself with 1,024 PoPs: the nearest is found, the decision is small. */
    route_client_t c = {.located = true, .lat = 60.84, .lon = 166.0};
    route_decision_t dec;
    CHECK(route_rank(f.pol[0], f.pops, &c, NULL, AF_INET, &dec, NULL) == 0 && dec.n == 1 &&
              dec.pop[0] == 1023,
          "route_rank over 1,024 PoPs");
    CHECK(sizeof(route_decision_t) < 256, "a decision stays small (%zu bytes)",
          sizeof(route_decision_t));
    /* The kept candidates are exactly the nearest ROUTE_CAND_MAX, in order, as a full sort by
     * great-circle distance gives them (selection by dot products, then quickselect). */
    srand(5);
    int bad = 0;
    for (int t = 0; t < 300; t++) {
        route_client_t cl = {.located = true,
                             .lat = -89.0 + 178.0 * rand() / (double)RAND_MAX,
                             .lon = -179.0 + 358.0 * rand() / (double)RAND_MAX};
        route_decision_t dd;
        route_rank(f.pol[0], f.pops, &cl, NULL, AF_INET, &dd, NULL);
        static double dist[1024];
        static uint16_t order[1024];
        for (size_t i = 0; i < 1024; i++) {
            dist[i] = geoip_distance_km(cl.lat, cl.lon, f.pops->pop[i].lat, f.pops->pop[i].lon);
            order[i] = (uint16_t)i;
        }
        for (size_t i = 1; i < 1024; i++) { /* full insertion sort, the reference */
            uint16_t e = order[i];
            size_t j = i;
            while (j > 0 && (dist[order[j - 1]] > dist[e] ||
                             (dist[order[j - 1]] == dist[e] && order[j - 1] > e))) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = e;
        }
        bool same = dd.ncand == ROUTE_CAND_MAX;
        for (size_t i = 0; same && i < ROUTE_CAND_MAX; i++)
            same = dd.cand[i] == order[i];
        bad += !same;
    }
    CHECK(bad == 0, "nearest 32 of 1,024 in order for 300 random clients (%d differ)", bad);
    fx_free(&f);
    /* One more is refused. */
    y = grid_pops(POPS_MAX + 1);
    yt_doc_t *doc = load("pops.yaml", y);
    pops_t *p = NULL;
    char err[512] = "";
    CHECK(pops_parse(yt_doc_root(doc), &p, err, sizeof(err)) != 0 && strstr(err, "at most 1024"),
          "%d PoPs refused: %s", POPS_MAX + 1, err);
    pops_free(p);
    yt_doc_free(doc);
    free(y);
}

/* ---- cancellation: a build stops at its next check of in->cancel, returns -ECANCELED and
 * leaves nothing behind (ASan's leak check runs over this test). */
static atomic_bool cancel_flag;
static unsigned long cancel_at, cancel_seen;
static void hook_cancel_at(unsigned long n)
{
    (void)n;
    cancel_seen++;
    if (cancel_seen == cancel_at)
        atomic_store(&cancel_flag, true);
}

static sem_t hook_reached, flag_set;
static void hook_wait_other_thread(unsigned long n)
{
    if (++cancel_seen == cancel_at) {
        sem_post(&hook_reached); /* the build is running: let the other thread cancel it */
        sem_wait(&flag_set);
    }
    (void)n;
}

static void *set_flag_thread(void *arg)
{
    (void)arg;
    sem_wait(&hook_reached);
    atomic_store(&cancel_flag, true);
    sem_post(&flag_set);
    return NULL;
}

static void (*cancel_hook)(unsigned long n); /* the builds' cancel_check */

static int build_cancellable(fixture_t *f, char *err, size_t errlen)
{
    route_table_free(f->t);
    f->t = (route_table_t *)0x1; /* must come back NULL on failure */
    route_table_input_t in = fx_input(f, NULL, &cancel_flag);
    in.cancel_check = cancel_hook;
    err[0] = '\0';
    return route_table_build(&in, &f->t, err, errlen);
}

static void test_cancel(const char *mmdb)
{
    fixture_t f = {0};
    char err[512];
    if (!fx_mmdb(&f, mmdb))
        return;
    f.pol[f.npol++] = policy_from(f.pops, "geo: {pool: tie}\n"); /* a second table */

    /* Never set: the build completes, counting its checks. */
    atomic_store(&cancel_flag, false);
    cancel_at = 0;
    cancel_seen = 0;
    cancel_hook = hook_cancel_at;
    CHECK(build_cancellable(&f, err, sizeof(err)) == 0 && f.t, "flag never set: built (%s)", err);
    unsigned long total = cancel_seen;
    CHECK(total >= 4, "the build checks the flag per table and per ranking (%lu checks)", total);
    int d;
    CHECK(look(&f, 1, "192.0.2.1", AF_INET, &d, NULL, NULL) == NYC && d == 25,
          "a build with a flag never set answers as without one");

    /* Set before the build. */
    cancel_hook = NULL;
    atomic_store(&cancel_flag, true);
    int rc = build_cancellable(&f, err, sizeof(err));
    CHECK(rc == -ECANCELED && !f.t && strstr(err, "cancelled"),
          "flag set before: -ECANCELED, no table (rc %d, %s)", rc, err);

    /* Set at every check in turn: in the first table, between tables, in the second. */
    cancel_hook = hook_cancel_at;
    int bad = 0;
    for (unsigned long k = 1; k <= total; k++) {
        atomic_store(&cancel_flag, false);
        cancel_at = k;
        cancel_seen = 0;
        rc = build_cancellable(&f, err, sizeof(err));
        if (rc != -ECANCELED || f.t || cancel_seen != k)
            bad++;
    }
    CHECK(bad == 0,
          "cancelled at each of %lu checks: -ECANCELED, no table, stops at once "
          "(%d wrong)",
          total, bad);

    /* Set from another thread while the build waits at its middle check. */
    sem_init(&hook_reached, 0, 0);
    sem_init(&flag_set, 0, 0);
    atomic_store(&cancel_flag, false);
    cancel_at = total / 2 + 1;
    cancel_seen = 0;
    cancel_hook = hook_wait_other_thread;
    pthread_t th;
    pthread_create(&th, NULL, set_flag_thread, NULL);
    rc = build_cancellable(&f, err, sizeof(err));
    pthread_join(th, NULL);
    CHECK(rc == -ECANCELED && !f.t && cancel_seen == cancel_at,
          "flag set by another thread during the build: -ECANCELED at the next check (rc %d)", rc);
    sem_destroy(&hook_reached);
    sem_destroy(&flag_set);
    cancel_hook = NULL;
    fx_free(&f);
}

/* The longest range of the list holding a (IPv4 ranges also inside ::ffff:0:0/96), or 0. */
static unsigned list_special(int family, const uint8_t *a)
{
    const route_special_range_t *r;
    size_t n = route_special_ranges(&r);
    unsigned best = 0;
    bool mapped = family == AF_INET6 && addr_v4mapped(a);
    for (size_t i = 0; i < n; i++) {
        unsigned p = r[i].prefix;
        if (r[i].family == family && addr_prefix_match(a, r[i].addr, p) && p > best)
            best = p;
        if (mapped && r[i].family == AF_INET && addr_prefix_match(a + 12, r[i].addr, p) &&
            96 + p > best)
            best = 96 + p;
    }
    return best;
}

/* route_special_prefix (the query path's hand-written tests) against the list, at every range's
 * first and last address and the addresses next to them, IPv4 ranges also IPv4-mapped. */
static void test_special_list(void)
{
    const route_special_range_t *r;
    size_t n = route_special_ranges(&r);
    int bad = 0, probes = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned bits = r[i].family == AF_INET ? 32 : 128, nb = bits / 8;
        uint8_t lo[16] = {0}, hi[16] = {0};
        memcpy(lo, r[i].addr, nb);
        memcpy(hi, r[i].addr, nb);
        for (unsigned b = r[i].prefix; b < bits; b++)
            hi[b / 8] |= (uint8_t)(0x80 >> (b % 8));
        uint8_t probe[4][16];
        memcpy(probe[0], lo, 16);
        memcpy(probe[1], hi, 16);
        memcpy(probe[2], lo, 16); /* lo - 1 */
        for (int k = (int)nb - 1; k >= 0 && probe[2][k]-- == 0; k--)
            ;
        memcpy(probe[3], hi, 16); /* hi + 1 */
        for (int k = (int)nb - 1; k >= 0 && ++probe[3][k] == 0; k--)
            ;
        for (int k = 0; k < 4; k++) {
            probes++;
            if (route_special_prefix(r[i].family, probe[k]) != list_special(r[i].family, probe[k]))
                bad++;
            if (r[i].family == AF_INET) {
                uint8_t m[16] = {[10] = 0xff, [11] = 0xff};
                memcpy(m + 12, probe[k], 4);
                probes++;
                if (route_special_prefix(AF_INET6, m) != list_special(AF_INET6, m))
                    bad++;
            }
        }
        CHECK(route_special_prefix(r[i].family, lo) == r[i].prefix, "range %zu: its first address",
              i);
    }
    CHECK(bad == 0, "route_special_prefix agrees with the list at %d edge addresses (%d differ)",
          probes, bad);
}

static uint8_t clamp_of(const char *a, uint8_t prefix)
{
    uint8_t addr[16];
    int fam = strchr(a, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(fam, a, addr) != 1)
        abort();
    return route_special_clamp(fam, addr, prefix);
}

static void test_special_clamp(void)
{
    /* 0.0.0.0/2 holds 0/8 and 10/8: 8.8.8.0 is good for 8.0.0.0/7 (8.x and 9.x) only. */
    CHECK(clamp_of("8.8.8.0", 2) == 7, "8.8.8.0 in a /2: /7 (%u)", clamp_of("8.8.8.0", 2));
    CHECK(clamp_of("1.2.3.0", 1) == 8, "1.2.3.0 in 0/1: 1.0.0.0/8 (%u)", clamp_of("1.2.3.0", 1));
    CHECK(clamp_of("11.0.0.0", 4) == 8, "11.0.0.0 in 0/4: 11/8, next to 10/8 (%u)",
          clamp_of("11.0.0.0", 4));
    CHECK(clamp_of("100.64.0.0", 10) == 10, "no special range near: unchanged");
    CHECK(clamp_of("192.169.0.0", 8) == 16, "192.169/16, next to 192.168/16 (%u)",
          clamp_of("192.169.0.0", 8));
    CHECK(clamp_of("8.8.8.0", 30) == 30, "a network longer than needed stays");
    CHECK(clamp_of("2001:db8::", 0) == 3,
          "IPv6 in ::/0: 2000::/3, clear of ::/96 ranges and fc00::/7 (%u)",
          clamp_of("2001:db8::", 0));
    CHECK(clamp_of("::1:0:0:0", 0) == 80, "::1:0:0:0 in ::/0: /80, clear of ::ffff:0:0/96 (%u)",
          clamp_of("::1:0:0:0", 0));
    CHECK(clamp_of("fe00::", 7) == 9, "fe00:: in fe00::/7: /9, clear of fe80::/10 (%u)",
          clamp_of("fe00::", 7));
    CHECK(clamp_of("::ffff:8.8.8.0", 98) == 103, "IPv4-mapped 8.8.8.0 in a mapped /2: /103 (%u)",
          clamp_of("::ffff:8.8.8.0", 98));
    CHECK(clamp_of("::ffff:8.8.8.0", 96) == 103, "IPv4-mapped, the whole mapped range: /103");
}

int main(int argc, char **argv)
{
    test_1024_pops();
    test_split_and_merge();
    test_health_flip();
    test_special_list();
    test_special_clamp();
    test_tie_and_sharing();
    if (argc > 1)
        test_mmdb(argv[1]);
    if (argc > 1)
        test_cancel(argv[1]);
    return check_report();
}
