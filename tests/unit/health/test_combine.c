/* test_combine.c: the combiner: quorum, staleness and startup policies, per-address withdrawal,
 * overrides and drain, slow start, capacity and region shares, weights, and the changed flag. */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "health.h"

#define T0       1800000000.0 /* a fixed "now" */
#define MAX_POPS 8            /* PoPs per test state file */

enum { FRA, AMS, NYC, SIN }; /* PoP indices in POPS_YAML */

static const char POPS_YAML[] =
    "pops:\n"
    "  fra: {location: [50.1, 8.7], addresses: [127.0.1.1, 127.0.1.2, \"fd00::1\"],\n"
    "        capacity: 1000, probe: {type: tcp, port: 80}}\n"
    "  ams: {location: [52.4, 4.9], addresses: [127.0.2.1], capacity: 1000,\n"
    "        probe: {type: tcp, port: 80}}\n"
    "  nyc: {location: [40.7, -74.0], addresses: [127.0.3.1], capacity: 2000,\n"
    "        probe: {type: tcp, port: 80}}\n"
    "  sin: {location: [1.3, 103.8], addresses: [127.0.4.1]}\n"
    "regions:\n"
    "  eu: {pops: [fra, ams], capacity: 1500}\n";

static pops_t *pops_make(const char *text)
{
    char err[256];
    yt_doc_t *doc = NULL;
    pops_t *pops = NULL;
    if (yt_doc_load_buffer("pops.yaml", text, strlen(text), &doc, err, sizeof(err)) ||
        pops_parse(yt_doc_root(doc), &pops, err, sizeof(err)))
        fprintf(stderr, "pops: %s\n", err);
    yt_doc_free(doc);
    return pops;
}

static health_overrides_t *ov_make(const pops_t *pops, const char *text)
{
    char err[256];
    yt_doc_t *doc = NULL;
    health_overrides_t *ov = NULL;
    if (yt_doc_load_buffer("ov.yaml", text, strlen(text), &doc, err, sizeof(err)) ||
        health_overrides_parse(yt_doc_root(doc), pops, &ov, err, sizeof(err)))
        fprintf(stderr, "overrides: %s\n", err);
    yt_doc_free(doc);
    return ov;
}

/* ------------------------------------------------------------------ state files in memory */

static health_file_t *file_new(const char *vantage, double time)
{
    health_file_t *hf = health_file_new(MAX_POPS, MAX_POPS * HEALTH_ADDRS_MAX);
    snprintf(hf->vantage, sizeof(hf->vantage), "%s", vantage);
    hf->time = (int64_t)time;
    return hf;
}

static health_pop_t *file_pop(health_file_t *hf, const char *name)
{
    for (size_t i = 0; i < hf->npops; i++)
        if (!strcmp(hf->pops[i].name, name))
            return &hf->pops[i];
    return health_file_add_pop(hf, name, HEALTH_ADDRS_MAX);
}

/* Set address text of PoP name to state; the PoP state is up when any address is up. */
static void file_addr(health_file_t *hf, const char *name, const char *text, health_state_t st)
{
    health_pop_t *p = file_pop(hf, name);
    health_addr_t *a = NULL;
    uint8_t bytes[16] = {0};
    int family = strchr(text, ':') ? AF_INET6 : AF_INET;
    inet_pton(family, text, bytes);
    for (size_t i = 0; i < p->naddrs && !a; i++)
        if (p->addrs[i].family == family && !memcmp(p->addrs[i].addr, bytes, 16))
            a = &p->addrs[i];
    if (!a) {
        a = &p->addrs[p->naddrs++];
        a->family = family;
        memcpy(a->addr, bytes, 16);
    }
    a->state = st;
    p->state = HEALTH_DOWN;
    for (size_t i = 0; i < p->naddrs; i++)
        if (p->addrs[i].state == HEALTH_UP)
            p->state = HEALTH_UP;
}

static void file_load(health_file_t *hf, const char *name, double load)
{
    health_pop_t *p = file_pop(hf, name);
    p->has_load = true;
    p->load = load;
}

/* Every address of the four PoPs up, no load. */
static health_file_t *file_all_up(const char *vantage, double time)
{
    health_file_t *hf = file_new(vantage, time);
    file_addr(hf, "fra", "127.0.1.1", HEALTH_UP);
    file_addr(hf, "fra", "127.0.1.2", HEALTH_UP);
    file_addr(hf, "fra", "fd00::1", HEALTH_UP);
    file_addr(hf, "ams", "127.0.2.1", HEALTH_UP);
    file_addr(hf, "nyc", "127.0.3.1", HEALTH_UP);
    return hf;
}

/* One update with files; returns the changed flag. */
static bool update(health_ctl_t *ctl, const pops_t *pops, const health_settings_t *s,
                   health_file_t **files, size_t n, const health_overrides_t *ov, double now,
                   route_health_t *view, health_report_t *rep)
{
    return health_ctl_update(ctl, pops, s, (const health_file_t *const *)files, n, ov, now, view,
                             rep);
}

static double keep_of(const route_health_t *v, int i)
{
    return (double)v->keep[i] / ROUTE_SHARE_ONE;
}

/* ------------------------------------------------------------------ tests */

static route_health_t view;
static health_report_t rep;

static void test_defaults(void)
{
    health_settings_t s;
    health_settings_default(&s);
    CHECK(s.quorum == 1 && s.max_age == 120 && s.startup == HEALTH_ASSUME_UP &&
              s.all_stale == HEALTH_KEEP_LAST && s.slow_start == 60 && s.recent == 120 &&
              s.ttl_short == 10 && s.lag == 60 && s.spill == 3,
          "defaults");
}

static void test_startup(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_ctl_t *ctl = health_ctl_new();
    update(ctl, pops, &s, NULL, 0, NULL, T0, &view, &rep);
    CHECK(view.up[FRA] && view.up[NYC] && view.addr4[FRA] == 3 && view.addr6[FRA] == 1,
          "startup: assume up");
    CHECK(!strcmp(rep.mode, "startup: assume up") && !rep.started, "mode '%s'", rep.mode);
    CHECK(!strcmp(rep.pop[FRA].why, "startup: assume up"), "why '%s'", rep.pop[FRA].why);
    CHECK(view.keep[FRA] == ROUTE_SHARE_ONE && view.ttl_short == 10 && view.spill == 3, "keep all");
    health_ctl_free(ctl);
    CHECK(!strcmp(rep.mode, "startup: assume up"), "the report outlives the combiner");

    s.startup = HEALTH_ASSUME_DOWN;
    ctl = health_ctl_new();
    update(ctl, pops, &s, NULL, 0, NULL, T0, &view, &rep);
    CHECK(!view.up[FRA] && !view.up[NYC] && !view.addr4[FRA], "startup: assume down");
    CHECK(view.up[SIN] && view.addr4[SIN] == 1, "a PoP without a probe is up");
    CHECK(!strcmp(rep.pop[SIN].why, "up: no probe configured"), "'%s'", rep.pop[SIN].why);
    /* The first file ends the startup policy; PoPs up from then on slow start (they were down). */
    health_file_t *a = file_all_up("ams", T0 + 10);
    update(ctl, pops, &s, &a, 1, NULL, T0 + 10, &view, &rep);
    CHECK(view.up[FRA] && !strcmp(rep.mode, "probes") && rep.started, "probes: '%s'", rep.mode);
    CHECK(fabs(rep.pop[FRA].slow_start - 0.05) < 1e-9, "slow start from down: %g",
          rep.pop[FRA].slow_start);
    health_file_free(a);
    health_ctl_free(ctl);
}

static void test_quorum(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_file_t *f[2] = {file_all_up("ams", T0), file_all_up("lon", T0 - 5)};
    for (const char *const *t = (const char *const[]){"127.0.1.1", "127.0.1.2", "fd00::1", NULL};
         *t; t++)
        file_addr(f[0], "fra", *t, HEALTH_DOWN);
    s.quorum = 2;
    health_ctl_t *ctl = health_ctl_new();
    update(ctl, pops, &s, f, 2, NULL, T0, &view, &rep);
    CHECK(view.up[FRA] && view.addr4[FRA] == 3, "quorum 2: one down-vote keeps fra up");
    CHECK(!strcmp(rep.pop[FRA].why, "up: 1 of 2 fresh vantages say down (quorum 2)"), "'%s'",
          rep.pop[FRA].why);
    CHECK(rep.pop[FRA].vantage_state[0] == HEALTH_DOWN &&
              rep.pop[FRA].vantage_state[1] == HEALTH_UP,
          "per-vantage states");
    CHECK(rep.nfiles == 2 && !strcmp(rep.vantage[1], "lon") && rep.file_time[1] == T0 - 5,
          "report files");
    CHECK(!strcmp(rep.pop[AMS].why, "up: 2 of 2 fresh vantages say up"), "'%s'", rep.pop[AMS].why);
    s.quorum = 1;
    update(ctl, pops, &s, f, 2, NULL, T0 + 1, &view, &rep);
    CHECK(!view.up[FRA] && !view.addr4[FRA] && !view.addr6[FRA], "quorum 1: fra down");
    CHECK(!strcmp(rep.pop[FRA].why, "down: 1 of 2 fresh vantages say down (quorum 1)"), "'%s'",
          rep.pop[FRA].why);
    CHECK(view.short_ttl[FRA] && rep.pop[FRA].changed == (int64_t)(T0 + 1), "changed recently");
    /* With quorum 3 but only two fresh vantages, both saying down is enough. */
    for (const char *const *t = (const char *const[]){"127.0.1.1", "127.0.1.2", "fd00::1", NULL};
         *t; t++)
        file_addr(f[1], "fra", *t, HEALTH_DOWN);
    s.quorum = 3;
    update(ctl, pops, &s, f, 2, NULL, T0 + 2, &view, &rep);
    CHECK(!view.up[FRA], "quorum 3 of 2 fresh vantages: every one down is enough");
    /* A stale file does not vote: its down is ignored. */
    file_addr(f[1], "fra", "127.0.1.1", HEALTH_UP);
    f[0]->time = (int64_t)(T0 - 200);
    s.quorum = 1;
    update(ctl, pops, &s, f, 2, NULL, T0 + 3, &view, &rep);
    CHECK(view.up[FRA] && view.addr4[FRA] == 1 && view.addr6[FRA] == 0,
          "stale down ignored; the fresh vantage's downs withdraw 127.0.1.2 and fd00::1");
    CHECK(!rep.pop[FRA].vantage_fresh[0] && rep.pop[FRA].vantage_fresh[1], "freshness");
    /* A file from the future beyond max_age is not fresh either. */
    f[0]->time = (int64_t)(T0 + 500);
    update(ctl, pops, &s, f, 2, NULL, T0 + 4, &view, &rep);
    CHECK(!rep.pop[FRA].vantage_fresh[0], "a file from the future is stale");
    health_file_free(f[0]);
    health_file_free(f[1]);
    health_ctl_free(ctl);
}

/* A vantage votes on a PoP through the PoP's own addresses: an entry naming none of them (written
 * against an older PoP file) has no say, whatever its own state; one naming some of them says
 * what they say. */
static void test_votes_by_address(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_file_t *f[2] = {file_all_up("ams", T0), file_new("lon", T0)};
    file_addr(f[1], "fra", "127.0.9.9", HEALTH_DOWN); /* not one of fra's addresses */
    file_addr(f[1], "ams", "127.0.2.1", HEALTH_DOWN);
    file_addr(f[1], "ams", "127.0.9.8", HEALTH_UP); /* the entry reads up through this one */
    health_ctl_t *ctl = health_ctl_new();
    update(ctl, pops, &s, f, 2, NULL, T0, &view, &rep);
    CHECK(view.up[FRA] && view.addr4[FRA] == 3, "fra up: lon has no say about it");
    CHECK(!strcmp(rep.pop[FRA].why, "up: 1 of 1 fresh vantages say up"), "'%s'", rep.pop[FRA].why);
    CHECK(rep.pop[FRA].vantage_state[0] == HEALTH_UP &&
              rep.pop[FRA].vantage_state[1] == HEALTH_UNKNOWN,
          "fra: lon's column is unknown, not its entry's down");
    CHECK(!view.up[AMS], "quorum 1: lon's down on 127.0.2.1 takes ams down");
    CHECK(!strcmp(rep.pop[AMS].why, "down: 1 of 2 fresh vantages say down (quorum 1)"), "'%s'",
          rep.pop[AMS].why);
    CHECK(rep.pop[AMS].vantage_state[1] == HEALTH_DOWN,
          "ams: lon says down by ams's address, not up by its entry");
    health_file_free(f[0]);
    health_file_free(f[1]);
    health_ctl_free(ctl);
}

static void test_all_stale(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    static const health_policy_t pol[] = {HEALTH_KEEP_LAST, HEALTH_ASSUME_UP, HEALTH_ASSUME_DOWN};
    for (size_t k = 0; k < sizeof(pol) / sizeof(*pol); k++) {
        s.all_stale = pol[k];
        health_ctl_t *ctl = health_ctl_new();
        health_file_t *f = file_all_up("ams", T0);
        file_addr(f, "ams", "127.0.2.1", HEALTH_DOWN);
        file_addr(f, "fra", "127.0.1.2", HEALTH_DOWN);
        update(ctl, pops, &s, &f, 1, NULL, T0, &view, &rep);
        CHECK(!view.up[AMS] && view.addr4[FRA] == 1, "probes: ams down, fra/127.0.1.2 withdrawn");
        update(ctl, pops, &s, &f, 1, NULL, T0 + 312, &view, &rep);
        CHECK(!rep.any_fresh && rep.started, "all stale");
        if (pol[k] == HEALTH_KEEP_LAST) {
            CHECK(!view.up[AMS] && view.up[FRA] && view.addr4[FRA] == 1 && view.addr6[FRA] == 1,
                  "keep last: per-address states kept");
            CHECK(!strcmp(rep.mode, "all stale: keep last"), "'%s'", rep.mode);
            CHECK(!strcmp(rep.pop[AMS].why, "down: all stale (newest file 312 s old): keep last"),
                  "'%s'", rep.pop[AMS].why);
        } else if (pol[k] == HEALTH_ASSUME_UP) {
            CHECK(view.up[AMS] && view.addr4[FRA] == 3, "assume up");
        } else {
            CHECK(!view.up[AMS] && !view.up[FRA] && view.up[SIN], "assume down (sin unprobed)");
            CHECK(!strcmp(rep.pop[FRA].why, "down: all stale (newest file 312 s old): assume down"),
                  "'%s'", rep.pop[FRA].why);
        }
        health_file_free(f);
        health_ctl_free(ctl);
    }
}

static void test_addresses(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_ctl_t *ctl = health_ctl_new();
    health_file_t *f = file_new("ams", T0);
    file_addr(f, "fra", "127.0.1.1", HEALTH_DOWN);
    file_addr(f, "fra", "127.0.1.2", HEALTH_UP);
    /* fd00::1 is in no file: it follows the PoP. */
    update(ctl, pops, &s, &f, 1, NULL, T0, &view, &rep);
    CHECK(view.up[FRA] && view.addr4[FRA] == 2 && view.addr6[FRA] == 1, "one address withdrawn");
    CHECK(strstr(rep.pop[FRA].why, "1 of 3 addresses withdrawn (127.0.1.1)"), "'%s'",
          rep.pop[FRA].why);
    /* Every IPv4 address down, IPv6 up: the PoP stays up, its IPv4 mask is 0. */
    file_addr(f, "fra", "127.0.1.2", HEALTH_DOWN);
    file_addr(f, "fra", "fd00::1", HEALTH_UP);
    update(ctl, pops, &s, &f, 1, NULL, T0 + 1, &view, &rep);
    CHECK(view.up[FRA] && view.addr4[FRA] == 0 && view.addr6[FRA] == 1, "IPv4 withdrawn");
    /* A PoP no fresh file mentions keeps its last state. */
    CHECK(view.up[NYC] && strstr(rep.pop[NYC].why, "no fresh vantage has a state"), "'%s'",
          rep.pop[NYC].why);
    /* A file naming the unprobed PoP down changes nothing. */
    file_addr(f, "sin", "127.0.4.1", HEALTH_DOWN);
    update(ctl, pops, &s, &f, 1, NULL, T0 + 2, &view, &rep);
    CHECK(view.up[SIN] && view.addr4[SIN] == 1, "no probe: always up");
    health_file_free(f);
    health_ctl_free(ctl);
}

static void test_overrides(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_ctl_t *ctl = health_ctl_new();
    health_file_t *f = file_all_up("ams", T0);
    file_addr(f, "ams", "127.0.2.1", HEALTH_DOWN);
    file_addr(f, "fra", "127.0.1.2", HEALTH_DOWN);
    health_overrides_t *ov = ov_make(pops, "overrides:\n"
                                           "  nyc: {state: down, reason: fibre cut, until: "
                                           "2027-02-01T00:00:00Z}\n"
                                           "  ams: {state: up}\n"
                                           "  fra/127.0.1.1: {state: down}\n"
                                           "  fra/127.0.1.2: {state: up}\n"
                                           "  sin/127.0.4.1: {state: down, until: 1}\n");
    update(ctl, pops, &s, &f, 1, ov, T0, &view, &rep);
    CHECK(!view.up[NYC] && !view.addr4[NYC], "forced down");
    CHECK(!strcmp(rep.pop[NYC].why, "down: override until 2027-02-01T00:00:00Z: fibre cut"), "'%s'",
          rep.pop[NYC].why);
    CHECK(rep.pop[NYC].override == &ov->o[0], "the override in force");
    CHECK(view.up[AMS] && view.addr4[AMS] == 1, "forced up over the probes");
    CHECK(!strcmp(rep.pop[AMS].why, "up: override (probes: down)"), "'%s'", rep.pop[AMS].why);
    CHECK(view.up[FRA] && view.addr4[FRA] == 2 && view.addr6[FRA] == 1, "address overrides");
    CHECK(view.up[SIN] && view.addr4[SIN] == 1, "an expired override is ignored");
    /* After nyc's until, it is up again (and slow starts). */
    double after = 1801440000.0; /* 2027-02-01T00:00:00Z */
    f->time = (int64_t)after;
    update(ctl, pops, &s, &f, 1, ov, after, &view, &rep);
    CHECK(view.up[NYC] && rep.pop[NYC].override == NULL, "nyc back after its until");
    CHECK(rep.pop[NYC].slow_start < 1, "and slow starts: %g", rep.pop[NYC].slow_start);
    health_overrides_free(ov);
    health_file_free(f);
    health_ctl_free(ctl);
}

static void test_drain(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_ctl_t *ctl = health_ctl_new();
    health_file_t *f = file_all_up("ams", T0);
    health_overrides_t *ov = ov_make(pops, "overrides: {nyc: {state: drain, over: 100s, reason: "
                                           "maintenance}}\n");
    update(ctl, pops, &s, &f, 1, ov, T0, &view, &rep);
    CHECK(view.up[NYC] && view.keep[NYC] == ROUTE_SHARE_ONE, "drain starts when first seen");
    update(ctl, pops, &s, &f, 1, ov, T0 + 50, &view, &rep);
    CHECK(fabs(keep_of(&view, NYC) - 0.5) < 0.001 && view.short_ttl[NYC], "half way: %g",
          keep_of(&view, NYC));
    CHECK(strstr(rep.pop[NYC].why, "draining: 50% of the share left: maintenance"), "'%s'",
          rep.pop[NYC].why);
    CHECK(fabs(rep.pop[NYC].drain - 0.5) < 1e-9, "drain factor");
    update(ctl, pops, &s, &f, 1, ov, T0 + 100, &view, &rep);
    CHECK(!view.up[NYC] && !strcmp(rep.pop[NYC].why, "down: drained: maintenance"), "'%s'",
          rep.pop[NYC].why);
    health_overrides_free(ov);
    /* A given since starts the ramp there; a new since/over is a new drain. */
    ov = ov_make(pops, "overrides: {nyc: {state: drain, over: 100s, since: 1800000075}}\n");
    update(ctl, pops, &s, &f, 1, ov, T0 + 100, &view, &rep);
    CHECK(view.up[NYC] && fabs(rep.pop[NYC].drain - 0.75) < 1e-9, "since: %g", rep.pop[NYC].drain);
    CHECK(fabs(keep_of(&view, NYC) - 0.05) < 0.001, "back from drained: slow start %g",
          keep_of(&view, NYC));
    health_overrides_free(ov);
    health_file_free(f);
    health_ctl_free(ctl);
}

static void test_slow_start(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_ctl_t *ctl = health_ctl_new();
    health_file_t *f = file_all_up("ams", T0);
    update(ctl, pops, &s, &f, 1, NULL, T0, &view, &rep);
    CHECK(view.keep[AMS] == ROUTE_SHARE_ONE && !view.short_ttl[AMS], "no slow start at first");
    file_addr(f, "ams", "127.0.2.1", HEALTH_DOWN);
    update(ctl, pops, &s, &f, 1, NULL, T0 + 10, &view, &rep);
    CHECK(!view.up[AMS], "ams down");
    file_addr(f, "ams", "127.0.2.1", HEALTH_UP);
    update(ctl, pops, &s, &f, 1, NULL, T0 + 20, &view, &rep);
    CHECK(view.up[AMS] && fabs(keep_of(&view, AMS) - 0.05) < 0.001, "back: floor %g",
          keep_of(&view, AMS));
    update(ctl, pops, &s, &f, 1, NULL, T0 + 50, &view, &rep);
    CHECK(fabs(keep_of(&view, AMS) - 0.5) < 0.001, "half way: %g", keep_of(&view, AMS));
    update(ctl, pops, &s, &f, 1, NULL, T0 + 80, &view, &rep);
    CHECK(view.keep[AMS] == ROUTE_SHARE_ONE, "done");
    CHECK(view.short_ttl[AMS], "changed within recent: short TTL");
    update(ctl, pops, &s, &f, 1, NULL, T0 + 20 + 120 + 1, &view, &rep);
    CHECK(!view.short_ttl[AMS], "no longer recent");

    /* A PoP added by a reload slow starts; those already known do not. */
    pops_t *more = pops_make("pops:\n"
                             "  waw: {location: [52.2, 21.0], addresses: [127.0.5.1]}\n"
                             "  fra: {location: [50.1, 8.7], addresses: [127.0.1.1]}\n");
    update(ctl, more, &s, &f, 1, NULL, T0 + 200, &view, &rep);
    CHECK(view.up[0] && fabs(keep_of(&view, 0) - 0.05) < 0.001, "waw added: slow start %g",
          keep_of(&view, 0));
    CHECK(view.keep[1] == ROUTE_SHARE_ONE, "fra (renumbered) is known: no slow start");
    update(ctl, more, &s, &f, 1, NULL, T0 + 230, &view, &rep);
    CHECK(fabs(keep_of(&view, 0) - 0.5) < 0.001, "waw half way: %g", keep_of(&view, 0));
    pops_free(more);
    health_file_free(f);
    health_ctl_free(ctl);
}

static void test_capacity(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_ctl_t *ctl = health_ctl_new();
    health_file_t *f = file_all_up("ams", T0);
    /* fra and ams at 70% each, under their own low watermark; eu at 1400 / 1500 = 93%. */
    file_load(f, "fra", 700);
    file_load(f, "ams", 700);
    file_load(f, "nyc", 1000);
    update(ctl, pops, &s, &f, 1, NULL, T0, &view, &rep);
    double kr = 0.95 / (0.15 + 1400.0 / 1500);
    CHECK(fabs(rep.pop[FRA].keep_region - kr) < 1e-9 && rep.pop[FRA].keep_capacity == 1,
          "region share %g, want %g", rep.pop[FRA].keep_region, kr);
    CHECK(fabs(keep_of(&view, FRA) - kr) < 0.001 && fabs(keep_of(&view, AMS) - kr) < 0.001,
          "both shed: %g %g", keep_of(&view, FRA), keep_of(&view, AMS));
    CHECK(view.short_ttl[FRA] && view.keep[NYC] == ROUTE_SHARE_ONE && !view.short_ttl[NYC],
          "shedding PoPs ask for short TTLs");
    CHECK(view.load[FRA] == 700 && view.load[NYC] == 500, "load permille %u %u", view.load[FRA],
          view.load[NYC]);
    CHECK(rep.pop[FRA].has_load && rep.pop[FRA].load == 700 &&
              fabs(rep.pop[FRA].ratio - 0.7) < 1e-9,
          "report load");
    /* Weights follow headroom: nyc (0.95 - 0.5) x 2000, fra and ams (0.95 - 0.7) x 1000. */
    CHECK(view.weight[NYC] == 900000 && view.weight[FRA] == 250000, "weights %u %u",
          view.weight[NYC], view.weight[FRA]);
    CHECK(view.weight[SIN] == (uint32_t)lround((900000 + 2 * 250000) / 3.0),
          "no capacity: the average %u", view.weight[SIN]);
    /* A PoP past its high watermark takes nobody: share 0, weight 0. */
    file_load(f, "nyc", 1960);
    f->time = (int64_t)(T0 + 10);
    update(ctl, pops, &s, &f, 1, NULL, T0 + 10, &view, &rep);
    CHECK(view.keep[NYC] == 0 && view.weight[NYC] == 0 && view.up[NYC], "nyc full");
    /* No fresh reading while capacity is set: the previous share stands, and why says so. */
    health_file_t *g = file_all_up("lon", T0 + 20);
    update(ctl, pops, &s, &g, 1, NULL, T0 + 20, &view, &rep);
    CHECK(view.keep[NYC] == 0 &&
              strstr(rep.pop[NYC].why, "no fresh load: capacity share 0.00 kept"),
          "'%s'", rep.pop[NYC].why);
    CHECK(strstr(rep.pop[FRA].why, "region eu: incomplete load, share 0.88 kept"), "'%s'",
          rep.pop[FRA].why);
    health_file_free(g);
    health_file_free(f);
    health_ctl_free(ctl);
}

/* A vantage whose clock runs ahead dates its readings when we first read them: its load cannot
 * outrank the other vantages' until our clock catches up, an unchanged file is one reading
 * however often it is evaluated, and it goes stale max_age after we read it. */
static void test_clock_ahead(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_ctl_t *ctl = health_ctl_new();
    health_file_t *f[2] = {file_all_up("fast", T0 + 100), file_all_up("ams", T0 + 10)};
    f[0]->seen = (int64_t)T0;
    file_load(f[0], "nyc", 1960); /* past high: nyc takes nobody */
    update(ctl, pops, &s, f, 1, NULL, T0, &view, &rep);
    CHECK(rep.pop[NYC].keep_capacity == 0, "nyc full: %g", rep.pop[NYC].keep_capacity);
    /* ams's reading of T0 + 10 is newer than fast's (read at T0, dated T0 + 100). */
    file_load(f[1], "nyc", 200);
    f[1]->seen = (int64_t)T0 + 11;
    update(ctl, pops, &s, f, 2, NULL, T0 + 10, &view, &rep);
    double k1 = rep.pop[NYC].keep_capacity;
    CHECK(fabs(k1 - 10.0 / 60) < 1e-9, "ams's newer reading takes nyc back up: %g", k1);
    /* fast writes again (dated T0 + 130, read at T0 + 30): one new reading, one step. */
    f[0]->time = (int64_t)T0 + 130;
    f[0]->seen = (int64_t)T0 + 30;
    file_load(f[0], "nyc", 200);
    update(ctl, pops, &s, f, 2, NULL, T0 + 30, &view, &rep);
    double k2 = rep.pop[NYC].keep_capacity;
    CHECK(fabs(k2 - (k1 + 20.0 / 60)) < 1e-9, "fast's new reading steps: %g", k2);
    update(ctl, pops, &s, f, 2, NULL, T0 + 40, &view, &rep);
    update(ctl, pops, &s, f, 2, NULL, T0 + 50, &view, &rep);
    CHECK(rep.pop[NYC].keep_capacity == k2, "an unchanged file is not a new reading: %g",
          rep.pop[NYC].keep_capacity);
    /* Stale max_age after we read it, not after the date it claims. */
    update(ctl, pops, &s, f, 1, NULL, T0 + 30 + 121, &view, &rep);
    CHECK(!rep.any_fresh && strstr(rep.mode, "all stale"), "mode %s", rep.mode);
    health_file_free(f[0]);
    health_file_free(f[1]);
    health_ctl_free(ctl);
}

static void test_changed(const pops_t *pops)
{
    health_settings_t s;
    health_settings_default(&s);
    health_ctl_t *ctl = health_ctl_new();
    health_file_t *f = file_all_up("ams", T0);
    CHECK(update(ctl, pops, &s, &f, 1, NULL, T0, &view, NULL), "the first view is new");
    CHECK(!update(ctl, pops, &s, &f, 1, NULL, T0 + 1, &view, NULL), "same inputs: unchanged");
    file_addr(f, "nyc", "127.0.3.1", HEALTH_DOWN);
    CHECK(update(ctl, pops, &s, &f, 1, NULL, T0 + 2, &view, NULL), "a PoP went down: changed");
    CHECK(!update(ctl, pops, &s, &f, 1, NULL, T0 + 3, &view, NULL), "and then unchanged");
    health_file_free(f);
    health_ctl_free(ctl);
}

int main(void)
{
    pops_t *pops = pops_make(POPS_YAML);
    CHECK(pops != NULL, "pops");
    if (!pops)
        return check_report();
    test_defaults();
    test_startup(pops);
    test_quorum(pops);
    test_votes_by_address(pops);
    test_all_stale(pops);
    test_addresses(pops);
    test_overrides(pops);
    test_drain(pops);
    test_slow_start(pops);
    test_capacity(pops);
    test_clock_ahead(pops);
    test_changed(pops);
    pops_free(pops);
    return check_report();
}
