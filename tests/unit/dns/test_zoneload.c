/* test_zoneload.c: zone files that must load, and broken ones that must fail naming file:line. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "zoneload.h"

static int load(const char *text, char *err, size_t errlen, zone_t **z, arena_t *a)
{
    return zone_load_buffer("t.yaml", text, strlen(text), a, NULL, z, err, errlen);
}

#define HEAD "zone: example.test\nsoa: {primary: ns1, contact: h@example.test}\nns: [ns1]\n"

static void expect_error(const char *text, const char *where, const char *what)
{
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    char err[1024] = "";
    int rc = load(text, err, sizeof(err), &z, &a);
    CHECK(rc != 0 && strstr(err, where) && strstr(err, what), "expected '%s' '%s', got rc=%d '%s'",
          where, what, rc, err);
    arena_deinit(&a);
}

int main(void)
{
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    char err[1024] = "";
    int rc = load(HEAD "records:\n  www: {A: 192.0.2.1, aaaa: '2001:db8::1'}\n", err, sizeof(err),
                  &z, &a);
    CHECK(rc == 0 && z && z->nnodes == 2 && z->nrecords == 4, "good zone loads: %s", err);
    CHECK(z && z->neg_ttl == 60, "SOA minimum defaults to 60");
    arena_deinit(&a);

    expect_error("zone: example.test\nns: [ns1]\n", "t.yaml:1:1", "no 'soa:'");
    expect_error("zone: example.test\nsoa: {primary: ns1, contact: h}\n", "t.yaml:1:1", "'ns:'");
    expect_error(HEAD "records:\n  www: {A: 300.1.1.1}\n", "t.yaml:5:12", "bad A record data");
    expect_error(HEAD "records:\n  www: {A: 192.0.2.1, CNAME: x}\n", "t.yaml:5:", "CNAME");
    expect_error(HEAD "records:\n  www.other.test.: {A: 192.0.2.1}\n", "t.yaml:5:3",
                 "outside the zone");
    expect_error(HEAD "records:\n  www: {BOGUS: 1}\n", "t.yaml:5:9", "unknown record type");
    expect_error(HEAD "records:\n  www: {SOA: x}\n", "t.yaml:5:", "soa");
    expect_error(HEAD "bogus: 1\n", "t.yaml:4:1", "unknown key 'bogus'");
    expect_error(HEAD "records:\n  www: {A: [192.0.2.1\n", "t.yaml:", "YAML syntax");
    expect_error(HEAD "records:\n  sub: {NS: ns.sub, geo: {}}\n", "t.yaml:5:", "delegation point");
    {
        /* Data at and below a cut loads (occluded: it serves as glue only). */
        arena_t a2;
        arena_init(&a2);
        zone_t *z2 = NULL;
        rc = load(HEAD "records:\n  sub: {NS: sub, A: 192.0.2.1, TXT: '\"x\"'}\n  a.sub: {A: "
                       "192.0.2.2}\n",
                  err, sizeof(err), &z2, &a2);
        CHECK(rc == 0 && z2 && z2->nnodes == 3, "data at and below a delegation loads: %s", err);
        arena_deinit(&a2);
    }
    expect_error(HEAD "records:\n  www: {A: 192.0.2.1, ttl: -5}\n", "t.yaml:5:", "whole number");
    expect_error(HEAD "records:\n  '@': {CNAME: www}\n", "t.yaml:5:", "apex");
    expect_error(HEAD "records:\n  www: {geo: {pool: x}}\n", "t.yaml:5:", "geo");
    expect_error(HEAD "records:\n  www: {TXT: \"\\\"a\\\"\\n\"}\n", "t.yaml:5:", "one line");
    expect_error("zone: 'bad name'\n", "t.yaml:1:7", "not a valid zone name");
    expect_error("- a\n- b\n", "t.yaml:1:1", "mapping");
    expect_error("", "t.yaml:1:1", "empty");
    expect_error(HEAD "records:\n  www: {A: 192.0.2.1}\n  www: {A: 192.0.2.2}\n", "t.yaml:6:3",
                 "duplicate key");
    return check_report();
}
