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
    const uint16_t load[C_N] = {990, 960, 970, 999, 980};
    for (int i = 0; i < C_N; i++) {
        h.keep[i] = 0;
        h.weight[i] = 0;
        h.load[i] = load[i];
    }
    route_client_t c = at(50.11, 8.68, "DE", "EU", 99);
    char buf[4096];
    CHECK(route_explain(buf, sizeof(buf), plain, p, &c, &h, AF_INET, 24, 16, 24) > 0);
    CHECK(strstr(buf, "every eligible PoP is full and no fallback CNAME: least loaded") != NULL);
    CHECK(strcmp(route_outcome_name(ROUTE_OUT_FALLBACK_POOL), "fallback-pool") == 0);
    route_policy_free(plain);
    pops_free(p);
}

int main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    test_explain();
    test_explain_overflow();
    return check_report();
}
