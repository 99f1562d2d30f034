/* test_route_select.c: the pick for one client: client hash and scope, the memo, capacity
 * shares (kept share, shed clients spread by headroom, stickiness), overflow when every PoP is
 * full, per-address health and the answer's addresses, TTL and ECS scope. */
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

#define CLIENTS 10000

/* A memo hit re-picks exactly as ranking afresh: for n client hashes (0, mult, 2 mult, ...),
 * route_memo_get(k) with view h answers as route_rank for c with that hash does (a pool answer
 * of one PoP, the same PoP, the same dependence on the hash). */
static void check_memo_repick(route_memo_t *memo, const route_memo_key_t *k,
                              const route_policy_t *pol, const pops_t *p, route_client_t c,
                              const route_health_t *h, uint32_t n, uint32_t mult)
{
    for (uint32_t x = 0; x < n; x++) {
        route_decision_t direct, got;
        c.hash = x * mult;
        CHECK(route_rank(pol, p, &c, h, AF_INET, &direct, NULL) == 0);
        CHECK(route_memo_get(memo, k, c.hash, h, &got), "hash %08x", c.hash);
        CHECK(got.outcome == ROUTE_OUT_POOL && got.outcome == direct.outcome && got.n == 1 &&
                  got.pop[0] == direct.pop[0] && got.hashed == direct.hashed,
              "hash %08x: memo %u, ranked %u", c.hash, got.pop[0], direct.pop[0]);
    }
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
    check_memo_repick(memo, &k, pol, p, tunis, NULL, 8, 1);
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
    check_memo_repick(memo, &k, pol, p, one, &h, 2000, 2654435761u);
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
    health_full(&h);
    CHECK(route_rank(cn, p, &c, &h, AF_INET, &d, NULL) == 0);
    CHECK(d.outcome == ROUTE_OUT_CNAME && d.full);
    /* ...and without one, the least loaded PoP, never nothing. */
    CHECK(route_rank(plain, p, &c, &h, AF_INET, &d, NULL) == 0);
    CHECK(d.outcome == ROUTE_OUT_POOL && d.full && d.n == 1 && d.pop[0] == C_AMS);
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

/* Hostile capacity views: weights at their ceiling (UINT32_MAX, what the combiner gives a PoP of
 * large capacity) must still split shed clients by headroom, and views whose shares and weights
 * sum to 0 must still answer. */
static void test_capacity_extremes(void)
{
    pops_t *p = pops_from(cap_yaml);
    route_policy_t *pol = policy_from(p, "geo: {pool: edges}\n");
    route_policy_t *three = policy_from(p, "geo: {pool: edges, answers: 3}\n");
    route_health_t h;
    uint8_t up[C_N] = {1, 1, 1, 1, 1};
    static uint8_t chosen[CLIENTS];
    unsigned n[C_N];

    /* fra sheds everyone; ams and lon have the largest weight there is: half each (the weights'
     * sum no longer fits 32 bits, and the spread must not wrap). */
    health_up(&h, up, C_N);
    h.keep[C_FRA] = 0;
    h.weight[C_FRA] = h.weight[C_MAD] = h.weight[C_NYC] = 0;
    h.weight[C_AMS] = h.weight[C_LON] = UINT32_MAX;
    pick_all(pol, p, &h, chosen, n);
    CHECK(n[C_FRA] == 0 && n[C_MAD] == 0 && n[C_NYC] == 0, "fra %u mad %u nyc %u", n[C_FRA],
          n[C_MAD], n[C_NYC]);
    CHECK(n[C_AMS] > CLIENTS / 2 - 300 && n[C_AMS] < CLIENTS / 2 + 300 &&
              n[C_AMS] + n[C_LON] == CLIENTS,
          "equal ceiling weights: ams %u, lon %u of %u", n[C_AMS], n[C_LON], CLIENTS);
    /* 3 : 1 with three targets whose weights sum past 2^33. */
    h.weight[C_AMS] = 3000000000u;
    h.weight[C_LON] = 1000000000u;
    h.weight[C_MAD] = 4000000000u;
    pick_all(pol, p, &h, chosen, n);
    CHECK(n[C_AMS] > CLIENTS * 3 / 8 - 300 && n[C_AMS] < CLIENTS * 3 / 8 + 300 &&
              n[C_LON] > CLIENTS / 8 - 200 && n[C_LON] < CLIENTS / 8 + 200 &&
              n[C_MAD] > CLIENTS / 2 - 300 && n[C_MAD] < CLIENTS / 2 + 300,
          "weights 3e9 : 1e9 : 4e9 -> ams %u, lon %u, mad %u", n[C_AMS], n[C_LON], n[C_MAD]);

    /* The nearest sheds everyone but nobody has headroom (every weight 0, the others keeping
     * their own clients): the nearest still serves, nothing is marked shed. */
    health_up(&h, up, C_N);
    h.keep[C_FRA] = 0;
    h.weight[C_FRA] = 1000;
    for (int i = C_AMS; i < C_N; i++)
        h.weight[i] = 0;
    pick_all(pol, p, &h, chosen, n);
    CHECK(n[C_FRA] == CLIENTS, "no headroom elsewhere: fra keeps %u of %u", n[C_FRA], CLIENTS);

    /* Shares and weights all 0 with answers: 3: three distinct PoPs, least loaded first, for
     * every client (the overflow answer, never fewer PoPs than asked). */
    health_full(&h);
    unsigned bad = 0;
    for (uint32_t x = 0; x < 1000; x++) {
        route_client_t c = at(50.11, 8.68, "DE", "EU", x * 2654435761u);
        route_decision_t d;
        CHECK(route_rank(three, p, &c, &h, AF_INET, &d, NULL) == 0);
        bad += !(d.outcome == ROUTE_OUT_POOL && d.full && d.n == 3 && d.pop[0] == C_AMS &&
                 d.pop[1] == C_LON && d.pop[2] == C_NYC);
    }
    CHECK(bad == 0, "all shares 0, answers 3: %u of 1000 clients not ams, lon, nyc", bad);
    /* Every PoP down as well: nothing to answer with, the chain ends (servfail). */
    memset(h.up, 0, sizeof(h.up));
    route_client_t c = at(50.11, 8.68, "DE", "EU", 1);
    route_decision_t d;
    CHECK(route_rank(three, p, &c, &h, AF_INET, &d, NULL) == 0 && d.outcome == ROUTE_OUT_SERVFAIL &&
          d.n == 0);
    route_policy_free(three);
    route_policy_free(pol);
    pops_free(p);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    test_scope_hash_memo();
    test_capacity_shares();
    test_capacity_full_and_addresses();
    test_capacity_extremes();
    return check_report();
}
