/* test_overrides.c: the admin overrides file: keys, states, times, drain, and every error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "health.h"

static const char POPS_YAML[] =
    "pops:\n"
    "  fra: {location: [50.1, 8.7], addresses: [127.0.1.1, 127.0.1.2]}\n"
    "  nyc: {location: [40.7, -74.0], addresses: [127.0.2.1, fd00::2]}\n"
    "  sin: {location: [1.3, 103.8], addresses: [127.0.3.1]}\n"
    "  gru: {location: [-23.5, -46.6], addresses: [127.0.4.1]}\n";

static pops_t *pops_make(void)
{
    char err[256];
    yt_doc_t *doc = NULL;
    pops_t *pops = NULL;
    if (yt_doc_load_buffer("pops.yaml", POPS_YAML, strlen(POPS_YAML), &doc, err, sizeof(err)) ||
        pops_parse(yt_doc_root(doc), &pops, err, sizeof(err)))
        fprintf(stderr, "pops: %s\n", err);
    yt_doc_free(doc);
    return pops;
}

/* Parse text as an overrides file; returns the code, the result in *out, the message in err. */
static int ov_parse(const pops_t *pops, const char *text, health_overrides_t **out, char *err,
                    size_t errlen)
{
    yt_doc_t *doc = NULL;
    *out = NULL;
    err[0] = '\0';
    int rc = yt_doc_load_buffer("ov.yaml", text, strlen(text), &doc, err, errlen);
    if (rc)
        return rc;
    rc = health_overrides_parse(yt_doc_root(doc), pops, out, err, errlen);
    yt_doc_free(doc);
    return rc;
}

static void test_header_example(const pops_t *pops)
{
    const char *text = "overrides:\n"
                       "  fra: {state: down, reason: \"fibre cut\", until: "
                       "\"2026-12-01T12:00:00Z\"}\n"
                       "  nyc/127.0.2.1: {state: down}\n"
                       "  sin: {state: drain, over: 10m, since: \"2026-11-30T10:00:00Z\", reason: "
                       "\"maintenance\"}\n"
                       "  gru: {state: up}\n"
                       "  nyc/fd00::2: {state: up, until: 1796126400}\n";
    char err[512];
    health_overrides_t *ov;
    int rc = ov_parse(pops, text, &ov, err, sizeof(err));
    CHECK(rc == 0, "parse: %s", err);
    if (rc)
        return;
    CHECK(ov->n == 5, "5 overrides, got %zu", ov->n);
    const health_override_t *o = ov->o;
    CHECK(o[0].pop == 0 && o[0].family == 0 && o[0].force == HEALTH_FORCE_DOWN, "fra down");
    CHECK(o[0].until == 1796126400, "until 2026-12-01T12:00:00Z: %lld", (long long)o[0].until);
    CHECK(!strcmp(o[0].reason, "fibre cut") && o[0].line == 2, "reason and line");
    CHECK(o[1].pop == 1 && o[1].family == AF_INET && o[1].addr_index == 0, "nyc/127.0.2.1");
    CHECK(o[1].force == HEALTH_FORCE_DOWN && o[1].until == 0, "down without expiry");
    CHECK(o[2].pop == 2 && o[2].force == HEALTH_FORCE_DRAIN, "sin drains");
    CHECK(o[2].over == 600 && o[2].since == 1796032800, "over 10m = %lld s, since %lld",
          (long long)o[2].over, (long long)o[2].since);
    CHECK(o[3].pop == 3 && o[3].force == HEALTH_FORCE_UP, "gru up");
    CHECK(o[4].family == AF_INET6 && o[4].addr_index == 0 && o[4].until == 1796126400,
          "nyc/fd00::2 up until unix seconds");
    health_overrides_free(ov);
}

static void test_empty(const pops_t *pops)
{
    char err[256];
    health_overrides_t *ov = NULL;
    CHECK(health_overrides_parse(NULL, pops, &ov, err, sizeof(err)) == 0 && ov && ov->n == 0,
          "an empty document overrides nothing");
    health_overrides_free(ov);
    const char *empties[] = {"overrides:\n", "overrides: {}\n", "overrides: ~\n", "{}\n"};
    for (size_t i = 0; i < sizeof(empties) / sizeof(*empties); i++) {
        int rc = ov_parse(pops, empties[i], &ov, err, sizeof(err));
        CHECK(rc == 0 && ov && ov->n == 0, "'%s': %s", empties[i], err);
        health_overrides_free(ov);
    }
    /* Drain without since leaves it 0 (the combiner starts it when first seen). */
    int rc = ov_parse(pops, "overrides: {fra: {state: drain, over: 90}}\n", &ov, err, sizeof(err));
    CHECK(rc == 0 && ov->n == 1 && ov->o[0].since == 0 && ov->o[0].over == 90, "drain, %s", err);
    health_overrides_free(ov);
    /* A leap day. */
    rc = ov_parse(pops, "overrides: {fra: {state: down, until: 2000-02-29T00:00:00Z}}\n", &ov, err,
                  sizeof(err));
    CHECK(rc == 0 && ov->o[0].until == 951782400, "leap day: %s", err);
    health_overrides_free(ov);
}

typedef struct bad_case {
    const char *text;
    const char *want; /* a substring of the message */
} bad_case_t;

static void test_errors(const pops_t *pops)
{
    static const bad_case_t cases[] = {
        {"overrides: {ams: {state: down}}\n", "ov.yaml:1:13: unknown PoP 'ams' (PoPs: fra, nyc, "
                                              "sin, gru)"},
        {"overrides: {ams/127.0.0.1: {state: down}}\n", "unknown PoP 'ams'"},
        {"overrides: {fra/127.0.9.9: {state: down}}\n",
         "PoP 'fra' has no address 127.0.9.9 (its addresses: 127.0.1.1, 127.0.1.2)"},
        {"overrides: {fra/bogus: {state: down}}\n", "'bogus' is not an IPv4 or IPv6 address"},
        {"overrides: {fra/127.0.1.1/32: {state: down}}\n",
         "'127.0.1.1/32' is not an IPv4 or IPv6 address"},
        {"overrides: {fra/127.0.1: {state: down}}\n", "'127.0.1' is not an IPv4 or IPv6 address"},
        {"overrides: {fra/: {state: down}}\n", "'' is not an IPv4 or IPv6 address"},
        {"overrides: {\"fra/127.0.1.1 \": {state: down}}\n",
         "'127.0.1.1 ' is not an IPv4 or IPv6 address"},
        /* An IPv4-mapped address is IPv6: not the PoP's IPv4 address. */
        {"overrides: {fra/::ffff:127.0.1.1: {state: down}}\n",
         "PoP 'fra' has no address ::ffff:127.0.1.1 (its addresses: 127.0.1.1, 127.0.1.2)"},
        {"overrides: {nyc/fd00::3: {state: down}}\n",
         "PoP 'nyc' has no address fd00::3 (its addresses: 127.0.2.1, fd00::2)"},
        {"overrides: {/127.0.1.1: {state: down}}\n", "expected a PoP name or PoP/address"},
        {"overrides: {fra: {state: sideways}}\n",
         "ov.yaml:1:26: 'sideways' is not a state (expected up, down or drain)"},
        {"overrides: {fra: {reason: x}}\n", "needs state: up, down or drain"},
        {"overrides: {fra: {state: down, colour: red}}\n", "unknown key 'colour'"},
        {"overrides: {fra: {state: drain}}\n", "state: drain needs over: DURATION"},
        {"overrides: {fra: {state: drain, over: 500ms}}\n", "over must be at least 1s"},
        {"overrides: {fra: {state: drain, over: soon}}\n", "is not a duration"},
        {"overrides: {fra/127.0.1.1: {state: drain, over: 10m}}\n",
         "drain applies to a whole PoP, not to one address"},
        {"overrides: {fra: {state: down, since: 100}}\n", "'since' only applies to state: drain"},
        {"overrides: {fra: {state: up, over: 10m}}\n", "'over' only applies to state: drain"},
        {"overrides: {fra: {state: down, until: tomorrow}}\n",
         "'tomorrow' is not a time (expected RFC 3339 UTC"},
        {"overrides: {fra: {state: down, until: 2026-02-30T00:00:00Z}}\n", "is not a time"},
        {"overrides: {fra: {state: down, until: 2026-12-01T24:00:00Z}}\n", "is not a time"},
        {"overrides: {fra: {state: down, until: 2026-12-01T12:00:00+01:00}}\n", "is not a time"},
        {"overrides: {fra: {state: down, until: 2026-12-01 12:00:00Z}}\n", "is not a time"},
        {"overrides: {fra: {state: down, until: -5}}\n", "is not a time"},
        {"overrides: {fra: {state: drain, over: 1m, since: 200, until: 100}}\n",
         "until is not after since"},
        {"overrides: {nyc/fd00::2: {state: down}, nyc/fd00:0::2: {state: up}}\n",
         "address fd00:0::2 of PoP 'nyc' already has an override"},
        {"overrides: [fra]\n", "overrides must be a mapping"},
        {"override: {fra: {state: down}}\n", "unknown key 'override' in the overrides file"},
        {"overrides: {fra: down}\n", "override 'fra' must be a mapping"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        health_overrides_t *ov = NULL;
        int rc = ov_parse(pops, cases[i].text, &ov, err, sizeof(err));
        CHECK(rc == -EINVAL && !ov && strstr(err, cases[i].want), "%s-> rc %d, '%s'", cases[i].text,
              rc, err);
        CHECK(!strncmp(err, "ov.yaml:", 8), "positioned: %s", err);
    }
    /* A reason of HEALTH_REASON_MAX - 1 characters fits; one more does not. */
    char text[2 * HEALTH_REASON_MAX + 64], reason[HEALTH_REASON_MAX + 1];
    memset(reason, 'r', HEALTH_REASON_MAX - 1);
    reason[HEALTH_REASON_MAX - 1] = '\0';
    snprintf(text, sizeof(text), "overrides: {fra: {state: down, reason: %s}}\n", reason);
    health_overrides_t *ov = NULL;
    CHECK(ov_parse(pops, text, &ov, err, sizeof(err)) == 0, "longest reason: %s", err);
    health_overrides_free(ov);
    strcat(reason, "r");
    snprintf(text, sizeof(text), "overrides: {fra: {state: down, reason: %s}}\n", reason);
    CHECK(ov_parse(pops, text, &ov, err, sizeof(err)) == -EINVAL &&
              strstr(err, "reason is longer than 127 characters"),
          "reason too long: %s", err);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_load(const pops_t *pops, const char *dir)
{
    char path[4096], err[512];
    health_overrides_t *ov = NULL;
    snprintf(path, sizeof(path), "%s/overrides-test.yaml", dir);
    const char *blanks[] = {"", "\n\n", "# nothing overridden\n---\n", "  \n# x\n..."};
    for (size_t i = 0; i < sizeof(blanks) / sizeof(*blanks); i++) {
        CHECK(write_file(path, blanks[i]) == 0, "write %s", path);
        int rc = health_overrides_load(path, pops, &ov, err, sizeof(err));
        CHECK(rc == 0 && ov && ov->n == 0, "blank file %zu: %d %s", i, rc, err);
        health_overrides_free(ov);
    }
    CHECK(write_file(path, "# planned work\noverrides:\n  sin: {state: down}\n") == 0, "write");
    int rc = health_overrides_load(path, pops, &ov, err, sizeof(err));
    CHECK(rc == 0 && ov && ov->n == 1 && ov->o[0].pop == 2 && ov->o[0].line == 3, "load: %s", err);
    health_overrides_free(ov);
    CHECK(write_file(path, "overrides:\n  sin: {state: off}\n") == 0, "write");
    rc = health_overrides_load(path, pops, &ov, err, sizeof(err));
    CHECK(rc == -EINVAL && strstr(err, "overrides-test.yaml:2:") && !ov, "positioned: %s", err);
    unlink(path);
    rc = health_overrides_load(path, pops, &ov, err, sizeof(err));
    CHECK(rc == -ENOENT && strstr(err, "overrides-test.yaml") && !ov, "missing file: %d %s", rc,
          err);
}

int main(int argc, char **argv)
{
    pops_t *pops = pops_make();
    CHECK(pops != NULL, "pops");
    if (!pops)
        return check_report();
    test_header_example(pops);
    test_empty(pops);
    test_errors(pops);
    test_load(pops, argc > 1 ? argv[1] : ".");
    pops_free(pops);
    return check_report();
}
