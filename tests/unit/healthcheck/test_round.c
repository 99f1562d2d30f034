/* test_round.c: a round in which no probe can start (no file descriptor, none of its own probes
 * running to free one) ends at once with every address not probed and its history kept. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "check.h"
#include "hc_internal.h"
#include "log.h"
#include "yamltree.h"

#define ROUND_TEST_ADDRS 3

typedef struct round_result {
    int calls;
    hc_round_stats_t stats;
    char reason[ROUND_TEST_ADDRS][HEALTH_REASON_MAX];
    health_state_t state[ROUND_TEST_ADDRS];
    unsigned probes[ROUND_TEST_ADDRS];
} round_result_t;

static void on_round(health_file_t *hf, const hc_round_stats_t *st, void *ctx)
{
    round_result_t *res = ctx;
    res->calls++;
    res->stats = *st;
    for (size_t i = 0; i < hf->npops && i < ROUND_TEST_ADDRS; i++) {
        snprintf(res->reason[i], sizeof(res->reason[i]), "%s", hf->pops[i].addrs[0].reason);
        res->state[i] = hf->pops[i].addrs[0].state;
        res->probes[i] = (unsigned)hf->pops[i].addrs[0].probes;
    }
    health_file_free(hf);
}

/* Three PoPs of one address each, with a TCP probe on a port nothing needs to listen on. */
static pops_t *round_pops(void)
{
    static const char text[] =
        "pops:\n"
        "  a: {location: [1, 2], addresses: [127.0.9.1], probe: {type: tcp, port: 9}}\n"
        "  b: {location: [1, 2], addresses: [127.0.9.2], probe: {type: tcp, port: 9}}\n"
        "  c: {location: [1, 2], addresses: [127.0.9.3], probe: {type: tcp, port: 9}}\n";
    char err[256];
    yt_doc_t *doc = NULL;
    pops_t *pops = NULL;
    if (yt_doc_load_buffer("pops.yaml", text, sizeof(text) - 1, &doc, err, sizeof(err)) ||
        pops_parse(yt_doc_root(doc), &pops, err, sizeof(err)))
        fprintf(stderr, "pops: %s\n", err);
    yt_doc_free(doc);
    return pops;
}

/* No descriptor for any probe: every one of the round's is "not probed", the round ends at once
 * (a round that waited would end at its 30 s deadline with the probes "timeout (round deadline,
 * not started)", which the checks tell apart), and a previous state is carried over untouched. */
static void test_starved(uv_loop_t *loop, const pops_t *pops)
{
    health_file_t *prev = health_file_new(1, 1);
    CHECK(prev != NULL);
    if (!prev)
        return;
    snprintf(prev->vantage, sizeof(prev->vantage), "ams");
    health_pop_t *p = health_file_add_pop(prev, "b", 1);
    p->naddrs = 1;
    p->addrs[0].family = AF_INET;
    memcpy(p->addrs[0].addr, (const uint8_t[]){127, 0, 9, 2}, 4);
    p->addrs[0].state = HEALTH_DOWN;
    p->addrs[0].probes = 7;

    /* The lowest free descriptor number as the limit: every new descriptor is refused. */
    struct rlimit old, low;
    int fd = dup(0);
    CHECK(fd >= 0 && getrlimit(RLIMIT_NOFILE, &old) == 0);
    close(fd);
    low = old;
    low.rlim_cur = (rlim_t)fd;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);

    round_result_t res;
    memset(&res, 0, sizeof(res));
    hc_round_t *r = NULL;
    CHECK(hc_round_start(loop, pops, prev, "ams", 8, 30 * 1000, on_round, &res, &r) == 0);
    health_file_free(prev);
    uv_run(loop, UV_RUN_DEFAULT);
    CHECK(setrlimit(RLIMIT_NOFILE, &old) == 0);

    CHECK(res.calls == 1, "%d calls", res.calls);
    CHECK(res.stats.starved == UV_EMFILE, "starved %d", res.stats.starved);
    CHECK(res.stats.addrs == 3 && res.stats.unprobed == 3, "%zu of %zu not probed",
          res.stats.unprobed, res.stats.addrs);
    CHECK(res.stats.up == 0 && res.stats.changes == 0 && res.stats.deadline == 0);
    for (int i = 0; i < ROUND_TEST_ADDRS; i++)
        CHECK(!strcmp(res.reason[i], "not probed (too many open files)"), "%d: '%s'", i,
              res.reason[i]);
    CHECK(res.state[1] == HEALTH_DOWN && res.probes[1] == 7, "b kept its state and history");
    CHECK(res.state[0] == HEALTH_UNKNOWN && res.probes[0] == 0);
}

int main(void)
{
    log_setup(LOG_LEVEL_ERROR, false, "test_round");
    uv_loop_t loop;
    pops_t *pops = round_pops();
    CHECK(pops != NULL);
    if (pops && uv_loop_init(&loop) == 0) {
        test_starved(&loop, pops);
        uv_loop_close(&loop);
    }
    pops_free(pops);
    return check_report();
}
