/* test_zoneload.c: zone files that must load, and broken ones that must fail naming file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "wire.h"
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

/* A label of n bytes, each written as \DDD (byte 200 + i % 50), into out (4 * n + 1 bytes). */
static void escaped_label(char *out, int n)
{
    for (int i = 0; i < n; i++)
        snprintf(out + 4 * i, 5, "\\%03d", 200 + i % 50);
}

/* Names written with escapes up to 255 wire bytes (about 1000 characters of text with the zone
 * name) load whole: the zone name and a relative owner both go through a text buffer of
 * DNS_NAME_TEXT_MAX bytes. One byte more is refused, and so is text longer than that buffer. */
static void test_long_escaped_names(void)
{
    char l63[4 * 63 + 1], l56[4 * 56 + 1], l57[4 * 57 + 1], text[4096], err[1024] = "";
    escaped_label(l63, 63);
    escaped_label(l56, 56);
    escaped_label(l57, 57);
    /* Zone: 3 labels of 63 bytes + "test": 198 wire bytes; owner label of 56: 255 bytes. */
    snprintf(text, sizeof(text),
             "zone: '%s.%s.%s.test'\nsoa: {primary: ns1, contact: h@example.test}\nns: [ns1]\n"
             "records:\n  '%s': {A: 192.0.2.1}\n",
             l63, l63, l63, l56);
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    int rc = load(text, err, sizeof(err), &z, &a);
    CHECK(rc == 0 && z && z->apexlen == 198, "escaped zone name loads: %s", err);
    if (z) {
        uint8_t name[DNS_MAX_NAME];
        name[0] = 56;
        for (int i = 0; i < 56; i++)
            name[1 + i] = (uint8_t)(200 + i % 50);
        memcpy(name + 57, z->apex, z->apexlen);
        const zone_node_t *n = zone_node_find(z, name, 57 + z->apexlen);
        CHECK(n && zone_node_rrset(n, DNS_TYPE_A), "the 255-byte owner is in the zone");
    }
    arena_deinit(&a);
    snprintf(text, sizeof(text),
             "zone: '%s.%s.%s.test'\nsoa: {primary: ns1, contact: h@example.test}\nns: [ns1]\n"
             "records:\n  '%s': {A: 192.0.2.1}\n",
             l63, l63, l63, l57);
    expect_error(text, "t.yaml:5:", "not a valid domain name");
    char huge[1011]; /* + ".example.test.": past the text buffer, within YAML's 1024-byte keys */
    memset(huge, 'a', sizeof(huge) - 1);
    huge[sizeof(huge) - 1] = '\0';
    for (size_t i = 50; i < sizeof(huge) - 1; i += 51)
        huge[i] = '.';
    snprintf(text, sizeof(text), HEAD "records:\n  '%s': {A: 192.0.2.1}\n", huge);
    expect_error(text, "t.yaml:5:", "longer than a domain name");
    snprintf(text, sizeof(text),
             "zone: '%s'\nsoa: {primary: ns1, contact: h@example.test}\nns: [ns1]\n", huge);
    expect_error(text, "t.yaml:1:", "not a valid zone name");
}

/* Record data numbers ldns would wrap, and TYPEnnn past 65535, are refused; the limits load. */
static void test_numbers(void)
{
    expect_error(HEAD "records:\n  www: {MX: \"70000 ns1\"}\n",
                 "t.yaml:5:", "MX preference 70000 is out of range (0 to 65535)");
    expect_error(HEAD "records:\n  www: {MX: \"-1 ns1\"}\n",
                 "t.yaml:5:", "MX preference -1 is out of range (0 to 65535)");
    expect_error(HEAD "records:\n  _s._tcp: {SRV: \"65537 -1 99999 ns1\"}\n",
                 "t.yaml:5:", "SRV priority 65537 is out of range (0 to 65535)");
    expect_error(HEAD "records:\n  _s._tcp: {SRV: [\"1 2 3 ns1\", \"1 2 99999 ns1\"]}\n",
                 "t.yaml:5:", "SRV port 99999 is out of range (0 to 65535)");
    expect_error(HEAD "records:\n  c: {CAA: '300 issue \"x\"'}\n",
                 "t.yaml:5:", "CAA flags 300 is out of range (0 to 255)");
    expect_error(HEAD "records:\n  x: {TYPE65537: '\\# 4 0a000001'}\n", "t.yaml:5:7",
                 "type number 65537 is out of range (0 to 65535)");
    expect_error(HEAD "records:\n  x: {TYPE99999: '\\# 4 0a000001'}\n", "t.yaml:5:7",
                 "type number 99999 is out of range (0 to 65535)");
    expect_error(HEAD "records:\n  x: {A: '\\# 65540 0a000001'}\n",
                 "t.yaml:5:", "\\# data length 65540 is out of range (0 to 65535)");
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    char err[1024] = "";
    int rc = load(HEAD "records:\n  www: {MX: \"65535 ns1\", CAA: '255 issue \"x\"', ttl: "
                       "2147483647}\n  _s._tcp: {SRV: \"65535 0 65535 ns1\"}\n"
                       "  x: {TYPE65535: '\\# 4 0a000001'}\n",
                  err, sizeof(err), &z, &a);
    CHECK(rc == 0 && z, "numbers at their limits load: %s", err);
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
    test_long_escaped_names();
    test_numbers();
    return check_report();
}
