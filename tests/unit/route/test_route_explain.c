/* test_route_explain.c: the explain text: fence, per-PoP reasons, answer, scope and TTL lines,
 * the overflow wording, names, and safe truncation. */
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

/* Every PoP past its high watermark and no fallback CNAME: explain says the answer is the least
 * loaded PoP. */
static void test_explain_overflow(void)
{
    pops_t *p = pops_from(cap_yaml);
    route_policy_t *plain = policy_from(p, "geo: {pool: edges}\n");
    route_health_t h;
    uint8_t up[C_N] = {1, 1, 1, 1, 1};
    health_up(&h, up, C_N);
    health_full(&h);
    route_client_t c = at(50.11, 8.68, "DE", "EU", 99);
    char buf[4096];
    CHECK(route_explain(buf, sizeof(buf), plain, p, &c, &h, AF_INET, 24, 16, 24) > 0);
    CHECK(strstr(buf, "every eligible PoP is full and no fallback CNAME: least loaded") != NULL);
    CHECK(strcmp(route_outcome_name(ROUTE_OUT_FALLBACK_POOL), "fallback-pool") == 0);
    route_policy_free(plain);
    pops_free(p);
}

/* Every PoP down: the chain ends, every PoP's line says why, there is no answer line; and the text
 * cut at every buffer size is still a terminated prefix of the whole. */
static void test_explain_all_down(void)
{
    pops_t *p = pops_from(pops_yaml);
    route_policy_t *pol =
        policy_from(p, "geo: {pool: edges, fallback: {pool: backup, then: nodata}}\n");
    uint8_t up[7] = {0};
    char full[8192], cut[8192];
    int n = route_explain(full, sizeof(full), pol, p, &CHICAGO, hv(up), AF_INET, 24, 16, 24);
    CHECK(n > 0 && (size_t)n == strlen(full));
    CHECK(strstr(full, "outcome: nodata\n") != NULL && strstr(full, "answer:") == NULL, "%s", full);
    static const char *const names[7] = {"fra", "par", "nyc", "sin", "gru", "ams", "bj"};
    for (int i = 0; i < 7; i++) {
        char head[8];
        snprintf(head, sizeof(head), "\n%s ", names[i]);
        const char *line = strstr(full, head), *eol = line ? strchr(line + 1, '\n') : NULL;
        const char *why = line ? strstr(line, i == BJ ? "not in pool" : "down") : NULL;
        CHECK(why && why < eol, "%s: not marked %s", names[i], i == BJ ? "not in pool" : "down");
    }
    unsigned bad = 0;
    for (size_t len = 1; len <= (size_t)n + 1; len++) {
        memset(cut, 'x', sizeof(cut));
        int m = route_explain(cut, len, pol, p, &CHICAGO, hv(up), AF_INET, 24, 16, 24);
        bad += !(m >= 0 && (size_t)m < len && (size_t)m == strlen(cut) &&
                 !strncmp(cut, full, (size_t)m) && (len > (size_t)n || (size_t)m == len - 1));
    }
    CHECK(bad == 0, "explain cut at %d sizes: %u wrong", n + 1, bad);
    CHECK(route_explain(cut, 0, pol, p, &CHICAGO, hv(up), AF_INET, 24, 16, 24) == -EINVAL);
    route_policy_free(pol);
    pops_free(p);
}

/* 1,024 PoPs: one line each, the last one present with room, a full buffer cut cleanly. */
static void test_explain_1024(void)
{
    static double lat[POPS_MAX], lon[POPS_MAX];
    for (size_t i = 0; i < POPS_MAX; i++) {
        lat[i] = -60.0 + (double)(i / 32) * 3.9;
        lon[i] = -175.0 + (double)(i % 32) * 11.0;
    }
    pops_t *p = pops_at(POPS_MAX, lat, lon, NULL);
    route_policy_t *pol = policy_from(p, "geo: {pool: all}\n");
    size_t big = 1u << 20;
    char *buf = malloc(big);
    route_client_t c = at(48.85, 2.35, "FR", "EU", 5);
    int n = route_explain(buf, big, pol, p, &c, NULL, AF_INET, 0, 0, 0);
    CHECK(n > 0 && (size_t)n == strlen(buf) && (size_t)n < big);
    CHECK(strstr(buf, "\np1023 ") != NULL && strstr(buf, "outcome: pool\n") != NULL,
          "1,024 PoP lines and the outcome");
    int m = route_explain(buf, 4096, pol, p, &c, NULL, AF_INET, 0, 0, 0);
    CHECK(m == 4095 && strlen(buf) == 4095, "cut at 4 KiB: %d", m);
    free(buf);
    route_policy_free(pol);
    pops_free(p);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    test_explain();
    test_explain_overflow();
    test_explain_all_down();
    test_explain_1024();
    return check_report();
}
