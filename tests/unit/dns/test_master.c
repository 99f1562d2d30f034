/* test_master.c: RFC 1035 master-file zones: malformed files that must fail naming file:line,
 * the $INCLUDEd files a load reports to its caller (for the file watcher), and the answering
 * rules they exercise through query_process() (DNAME, occluded data, additional addresses,
 * NOTIMP), the responses parsed by ldns. */
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "check.h"
#include "dname.h"
#include "dns_probe.h"
#include "query.h"
#include "snapshot.h"
#include "zoneload.h"

static gd_snapshot_t *snap;
static uint8_t out[65536];
static size_t outlen;

/* ---- loading ---- */

static int load_text(const char *name, const char *text, char *err, size_t errlen)
{
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    int rc = zone_load_buffer(name, text, strlen(text), &a, NULL, &z, err, errlen);
    arena_deinit(&a);
    return rc;
}

static void expect_error(const char *name, const char *text, const char *where, const char *what)
{
    char err[1024] = "";
    int rc = load_text(name, text, err, sizeof(err));
    CHECK(rc != 0 && strstr(err, where) && strstr(err, what), "expected '%s' '%s', got rc=%d '%s'",
          where, what, rc, err);
}

#define SOA "$ORIGIN m.test.\n$TTL 60\n@ SOA ns1 h 1 2 3 4 5\n  NS ns1\nns1 A 192.0.2.1\n"

static void test_load_good(void)
{
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    char err[1024] = "";
    const char *text = SOA "www 30 IN TXT ( \"a\"\n  \"b\" ) ; comment\n  AAAA 2001:db8::1\n"
                           "$ORIGIN sub.m.test.\nx A 192.0.2.2\n$TTL 1h30m\ny A 192.0.2.3\n"
                           "big TYPE65280 \\# 2 abcd\n";
    int rc = zone_load_buffer("m.test.zone", text, strlen(text), &a, NULL, &z, err, sizeof(err));
    CHECK(rc == 0 && z, "master file loads: %s", err);
    if (z) {
        CHECK(z->nrecords == 8 && z->serial == 1, "records %zu serial %u", z->nrecords, z->serial);
        uint8_t n[] = {1, 'y', 3, 's', 'u', 'b', 1, 'm', 4, 't', 'e', 's', 't', 0};
        const zone_node_t *y = zone_node_find(z, n, sizeof(n));
        const zone_rrset_t *rs = y ? zone_node_rrset(y, DNS_TYPE_A) : NULL;
        CHECK(rs && rs->ttl == 5400, "$ORIGIN and $TTL with units apply (ttl %u)",
              rs ? rs->ttl : 0);
    }
    arena_deinit(&a);
    /* Without $ORIGIN, a file named <zone>.zone has its origin from the name. */
    arena_init(&a);
    text = "@ SOA ns1 h 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.1\n";
    rc = zone_load_buffer("dir/impl.test.zone", text, strlen(text), &a, NULL, &z, err, sizeof(err));
    CHECK(rc == 0 && z && z->apexlen == 11, "origin from the file name: %s", err);
    arena_deinit(&a);
}

/* A name of n bytes 'a', every byte written as \097: four characters per byte. */
static void escaped_label(char *buf, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        memcpy(buf + 4 * i, "\\097", 4);
    buf[4 * n] = '\0';
}

static void test_long_owners(void)
{
    /* Owners longer than ldns's 255 characters of text: relative (to the origin of their line,
     * also for the record after it that has no owner, across an $ORIGIN), absolute. */
    char l60[4 * 60 + 1], text[4096];
    escaped_label(l60, 60);
    snprintf(text, sizeof(text),
             SOA "%s.%s A 192.0.2.7\n  TXT \"after\"\n$ORIGIN sub.m.test.\n  AAAA 2001:db8::7\n"
                 "%s.%s.m.test. A 192.0.2.8\nshort A 192.0.2.9\n",
             l60, l60, l60, l60);
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    char err[1024] = "";
    int rc = zone_load_buffer("m.test.zone", text, strlen(text), &a, NULL, &z, err, sizeof(err));
    CHECK(rc == 0 && z, "long escaped owners load: %s", err);
    if (z) {
        uint8_t n[2 * 61 + 8] = {0};
        n[0] = 60;
        memset(n + 1, 'a', 60);
        n[61] = 60;
        memset(n + 62, 'a', 60);
        memcpy(n + 122, "\001m\004test", 8);
        const zone_node_t *node = zone_node_find(z, n, sizeof(n));
        CHECK(node && zone_node_rrset(node, DNS_TYPE_A) && zone_node_rrset(node, DNS_TYPE_TXT) &&
                  zone_node_rrset(node, DNS_TYPE_AAAA),
              "the long owner holds A, TXT and (after $ORIGIN, no owner of its own) AAAA");
        CHECK(z->nrecords == 8, "records %zu", z->nrecords);
        uint8_t s[] = {5,   's', 'h', 'o', 'r', 't', 3,   's', 'u',
                       'b', 1,   'm', 4,   't', 'e', 's', 't', 0};
        CHECK(zone_node_find(z, s, sizeof(s)) != NULL, "a short owner after them is unchanged");
    }
    arena_deinit(&a);
    /* Too long once the origin is added, a label over 63 bytes, no origin: refused, file:line. */
    snprintf(text, sizeof(text), SOA "%s.%s.%s.%s.%s A 192.0.2.7\n", l60, l60, l60, l60, l60);
    expect_error("m.test.zone", text, "m.test.zone:6:", "not a domain name");
    /* Bad data after a long owner: the error quotes the owner as written, not a placeholder. */
    snprintf(text, sizeof(text), SOA "%s A 192.0.2\n", l60);
    expect_error("m.test.zone", text, "m.test.zone:6:",
                 "'\\097\\097\\097\\097\\097\\097\\097\\097\\097\\097... A 192.0.2'");
    char l64[4 * 64 + 1];
    escaped_label(l64, 64);
    snprintf(text, sizeof(text), SOA "%s A 192.0.2.7\n", l64);
    expect_error("m.test.zone", text, "m.test.zone:6:", "not a domain name");
    snprintf(text, sizeof(text), "x. SOA ns1.x. h.x. 1 2 3 4 5\n%s A 192.0.2.7\n", l60);
    expect_error("static.db", text, "static.db:2:", "without an origin");
}

static void test_load_bad(void)
{
    expect_error("static.db", "@ SOA ns1 h 1 2 3 4 5\n", "static.db:1:", "without an origin");
    expect_error("m.zone", "$ORIGIN m.test.\nwww A 192.0.2.1\n", "m.zone:2:", "must be its SOA");
    expect_error("m.zone", SOA "$TTL abc\n", "m.zone:6:", "bad $TTL");
    expect_error("m.zone", SOA "$TTL 4294967295\n",
                 "m.zone:6:", "$TTL 4294967295 is out of range (0 to 2147483647)");
    expect_error("m.zone", SOA "www 300 IN FOO bar\n", "m.zone:6:", "");
    expect_error("m.zone", SOA "www A 1.2.3\n", "m.zone:6:", "'www A 1.2.3'");
    expect_error("m.zone", SOA "www CH A 192.0.2.1\n", "m.zone:6:", "class IN");
    expect_error("m.zone", SOA "$GENERATE 1-10 h$ A 192.0.2.$\n", "m.zone:6:", "unknown directive");
    expect_error("m.zone", SOA "@ SOA ns1 h 2 2 3 4 5\n", "m.zone:6:", "second SOA");
    expect_error("m.zone", SOA "www.other.test. A 192.0.2.1\n", "m.zone:6:", "outside the zone");
    expect_error("m.zone", SOA "$INCLUDE other.zone\n", "m.zone:6:", "on disk");
    expect_error("m.zone", SOA "x CNAME www\nx DNAME y\n", "m.zone:", "CNAME and a DNAME");
    expect_error("m.zone", SOA "x DNAME a\nx DNAME b\n", "m.zone:", "only one DNAME");
    expect_error("m.zone", SOA "x CNAME a\nx A 192.0.2.1\n", "m.zone:", "CNAME cannot stand");
    expect_error("m.zone", "$ORIGIN m.test.\n@ SOA ns1 h 1 2 3 4 5\n", "m.zone", "no NS");
    expect_error("m.zone", "; nothing\n", "m.zone", "no records");
    expect_error("m.zone", SOA "x ANY \\# 0\n", "m.zone:6:", "");
    /* A multi-line record that breaks is reported where it ends. */
    expect_error("m.zone", SOA "x TXT ( \"a\"\n\n  \"b\" \n", "m.zone:6:", "never closed");
    expect_error("m.zone", SOA "x TXT \"a\n", "m.zone:6:", "quote");
    {
        static char longline[80000];
        memcpy(longline, SOA, strlen(SOA));
        size_t o = strlen(SOA);
        memcpy(longline + o, "x TXT \"", 7);
        memset(longline + o + 7, 'a', 70000);
        memcpy(longline + o + 70007, "\"\n", 3);
        expect_error("m.zone", longline, "m.zone:6:", "line longer than");
    }
    {
        char nul[] = SOA "x A 192.0.2.1\n";
        nul[strlen(SOA) + 1] = '\0';
        char err[256] = "";
        arena_t a;
        arena_init(&a);
        zone_t *z;
        size_t len = sizeof(nul) - 1;
        int rc = zone_load_buffer("m.zone", nul, len, &a, NULL, &z, err, sizeof(err));
        CHECK(rc != 0 && strstr(err, "m.zone:6:") && strstr(err, "NUL"), "NUL byte: %s", err);
        arena_deinit(&a);
    }
    {
        char err[256] = "";
        CHECK(load_text("m.zone",
                        "$ORIGIN m.test.\r\n$TTL 60\r\n@ SOA ns1 h ( 1 2 3\r\n 4 5 )\r\n NS "
                        "ns1\r\nns1 A 192.0.2.1\r\n",
                        err, sizeof(err)) == 0,
              "CRLF line ends load: %s", err);
    }
    /* Data below a DNAME is ignored with a warning; the zone loads. */
    char err[256] = "";
    CHECK(load_text("m.zone", SOA "d DNAME x.example.\na.d A 192.0.2.7\n", err, sizeof(err)) == 0,
          "data below a DNAME loads (ignored): %s", err);
}

/* The SOA line with serial `serial`, then one record. */
#define NUM_ZONE(serial, rec) \
    "$ORIGIN m.test.\n$TTL 60\n@ SOA ns1 h " serial " 2 3 4 5\n  NS ns1\nns1 A 192.0.2.1\n" rec "\n"

static void expect_loads(const char *text, const char *what)
{
    char err[1024] = "";
    CHECK(load_text("m.zone", text, err, sizeof(err)) == 0, "%s loads: %s", what, err);
}

/* Numbers ldns would wrap to their field's size are refused, naming the field and its range;
 * the largest values load. */
static void test_numbers(void)
{
    static const struct {
        const char *rec, *why;
    } bad[] = {
        {"www 99999999999 A 192.0.2.1", "TTL 99999999999 is out of range (0 to 2147483647)"},
        {"w2 4294967296 A 192.0.2.1", "TTL 4294967296 is out of range (0 to 2147483647)"},
        {"w3 2147483648 A 192.0.2.1", "TTL 2147483648 is out of range (0 to 2147483647)"},
        {"w4 3000000000s A 192.0.2.1", "TTL 3000000000s is out of range (0 to 2147483647)"},
        {"w5 596524h A 192.0.2.1", "TTL 596524h is out of range (0 to 2147483647)"},
        {"w6 300x A 192.0.2.1", "TTL '300x' is not a number of seconds"},
        {"@ MX 70000 ns1", "MX preference 70000 is out of range (0 to 65535)"},
        {"@ MX -1 ns1", "MX preference -1 is out of range (0 to 65535)"},
        {"@ MX +1 ns1", "MX preference +1 is not a plain number (0 to 65535)"},
        {"_s._tcp SRV 65537 1 1 ns1", "SRV priority 65537 is out of range (0 to 65535)"},
        {"_s._tcp SRV 1 -1 1 ns1", "SRV weight -1 is out of range (0 to 65535)"},
        {"_s._tcp SRV 1 1 99999 ns1", "SRV port 99999 is out of range (0 to 65535)"},

        {"c CAA 300 issue \"x\"", "CAA flags 300 is out of range (0 to 255)"},
        {"x TYPE65537 \\# 4 0a000001", "type number 65537 is out of range (0 to 65535)"},
        {"x TYPE99999 \\# 4 0a000001", "type number 99999 is out of range (0 to 65535)"},
        {"x A \\# 65540 0a000001", "\\# data length 65540 is out of range (0 to 65535)"},
        {"x 60 CLASS65537 A 192.0.2.1", "class number 65537 is out of range (0 to 65535)"},
        /* The class before the TTL, as RFC 1035 5.1 allows too. */
        {"w7 IN 99999999999 A 192.0.2.1", "TTL 99999999999 is out of range (0 to 2147483647)"},
        {"w8 CLASS65537 60 A 192.0.2.1", "class number 65537 is out of range (0 to 65535)"},
        {"@ IN 60 MX 70000 ns1", "MX preference 70000 is out of range (0 to 65535)"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text), NUM_ZONE("1", "%s"), bad[i].rec);
        expect_error("m.zone", text, "m.zone:6:", bad[i].why);
    }
    expect_error("m.zone", NUM_ZONE("99999999999", ""),
                 "m.zone:3:", "SOA serial 99999999999 is out of range (0 to 4294967295)");
    expect_error("m.zone", "$ORIGIN m.test.\n@ SOA ns1 h 1 2 -3 4 5\n",
                 "m.zone:2:", "SOA retry -3 is out of range (0 to 2147483647)");
    expect_error("m.zone", "$ORIGIN m.test.\n@ SOA ns1 h ( 1 2 3\n 2147483648 5 )\n",
                 "m.zone:3:", "SOA expire 2147483648 is out of range (0 to 2147483647)");
    /* The largest values, units, a mnemonic algorithm and numbers inside quotes load. */
    expect_loads(NUM_ZONE("4294967295", "www 2147483647 A 192.0.2.1\n"
                                        "w3 IN 2147483647 A 192.0.2.3\n"
                                        "@ IN 60 MX 65535 ns1\n"
                                        "w2 68w3d3h14m7s A 192.0.2.2\n"
                                        "@ MX 65535 ns1\n"
                                        "_s._tcp SRV 65535 0 65535 ns1\n"
                                        "c CAA 255 issue \"99999\"\n"
                                        "t TXT \"70000\" 70000\n"
                                        "_p._tcp SRV 1 2 (443) ns1\n"
                                        "x TYPE65535 \\# 4 0a000001\n"
                                        "y 60 CLASS1 A 192.0.2.3"),
                 "numbers at their limits");
    expect_loads(NUM_ZONE("1", "d NS ns1\nd DS 60485 RSASHA1 1 2BB183AF5F22588179A53B0A98631FAD1A2"
                               "92118"),
                 "a DS with a mnemonic algorithm");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int load_path(const char *path, char *err, size_t errlen, size_t *nrecords)
{
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    int rc = zone_load_file(path, &a, NULL, NULL, NULL, &z, err, errlen);
    if (!rc && nrecords)
        *nrecords = z->nrecords;
    arena_deinit(&a);
    return rc;
}

static void test_include(void)
{
    char dir[] = "/tmp/geodns-master-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(false, "mkdtemp");
        return;
    }
    char p[512], q[512], err[1024];
    snprintf(p, sizeof(p), "%s/inc", dir);
    mkdir(p, 0700);
    /* Relative to the including file's directory, with an origin for the included file only. */
    snprintf(p, sizeof(p), "%s/inc/part.inc", dir);
    write_file(p, "www A 192.0.2.5\n");
    snprintf(p, sizeof(p), "%s/m.test.zone", dir);
    write_file(p, SOA "$INCLUDE inc/part.inc sub.m.test.\nafter A 192.0.2.6\n");
    size_t nrec = 0;
    int rc = load_path(p, err, sizeof(err), &nrec);
    CHECK(rc == 0 && nrec == 5, "$INCLUDE with origin loads (%zu records): %s", nrec, err);
    /* A loop. */
    snprintf(q, sizeof(q), "%s/loop.inc", dir);
    write_file(q, "$INCLUDE m2.test.zone\n");
    snprintf(p, sizeof(p), "%s/m2.test.zone", dir);
    write_file(p, SOA "$INCLUDE loop.inc\n");
    rc = load_path(p, err, sizeof(err), NULL);
    CHECK(rc != 0 && strstr(err, "loop.inc:1:") && strstr(err, "includes itself"), "loop: %s", err);
    /* A missing file. */
    write_file(p, SOA "$INCLUDE nothere.inc\n");
    rc = load_path(p, err, sizeof(err), NULL);
    CHECK(rc != 0 && strstr(err, "m2.test.zone:6:") && strstr(err, "cannot open"), "missing: %s",
          err);
    /* Not a regular file. */
    write_file(p, SOA "$INCLUDE /dev/zero\n");
    rc = load_path(p, err, sizeof(err), NULL);
    CHECK(rc != 0 && strstr(err, "regular file"), "device refused: %s", err);
    /* Too deep: a chain of 10 files. */
    for (int i = 0; i < 10; i++) {
        char t[64];
        snprintf(q, sizeof(q), "%s/d%d.inc", dir, i);
        snprintf(t, sizeof(t), "$INCLUDE d%d.inc\n", i + 1);
        write_file(q, t);
    }
    snprintf(q, sizeof(q), "%s/d10.inc", dir);
    write_file(q, "x A 192.0.2.1\n");
    write_file(p, SOA "$INCLUDE d0.inc\n");
    rc = load_path(p, err, sizeof(err), NULL);
    CHECK(rc != 0 && strstr(err, "deeper than"), "depth bounded: %s", err);
    for (int i = 0; i <= 10; i++) {
        snprintf(q, sizeof(q), "%s/d%d.inc", dir, i);
        unlink(q);
    }
    snprintf(q, sizeof(q), "%s/inc/part.inc", dir);
    unlink(q);
    snprintf(q, sizeof(q), "%s/inc", dir);
    rmdir(q);
    snprintf(q, sizeof(q), "%s/loop.inc", dir);
    unlink(q);
    snprintf(q, sizeof(q), "%s/m.test.zone", dir);
    unlink(q);
    unlink(p);
    rmdir(dir);
}

/* Load the zone file at path and check that each of the names (NULL-terminated list) has a node
 * with an A record. */
static void expect_names(const char *path, const char *what, const char *const *names)
{
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    char err[1024] = "";
    int rc = zone_load_file(path, &a, NULL, NULL, NULL, &z, err, sizeof(err));
    CHECK(rc == 0 && z, "%s: loads: %s", what, err);
    for (size_t i = 0; rc == 0 && z && names[i]; i++) {
        uint8_t w[DNS_MAX_NAME];
        size_t wl = 0;
        const zone_node_t *n = NULL;
        if (!dns_name_from_text(names[i], w, &wl))
            n = zone_node_find(z, w, wl);
        CHECK(n && zone_node_rrset(n, DNS_TYPE_A), "%s: %s is in the zone", what, names[i]);
    }
    arena_deinit(&a);
}

static void expect_file_error(const char *path, const char *what, const char *where,
                              const char *reason)
{
    char err[1024] = "";
    int rc = load_path(path, err, sizeof(err), NULL);
    CHECK(rc != 0 && strstr(err, where) && strstr(err, reason), "%s: expected '%s' '%s', got '%s'",
          what, where, reason, err);
}

/* A relative $INCLUDE origin is relative to the origin in force on its line, wherever that came
 * from: the zone file's name, a $ORIGIN line, the root, a parent $INCLUDE's origin argument or
 * a $ORIGIN inside an included file; the outer origin comes back after each $INCLUDE. A
 * relative origin with no origin to extend, one longer than any name's text, one over 255
 * bytes and one with a label over 63 bytes fail naming file:line. */
static void test_include_relative_origin(void)
{
    char dir[] = "/tmp/geodns-incorg-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(false, "mkdtemp");
        return;
    }
    char zone[512], leaf[512], mid[512], noorg[512], t[2048];
    snprintf(zone, sizeof(zone), "%s/m.test.zone", dir);
    snprintf(leaf, sizeof(leaf), "%s/leaf.inc", dir);
    snprintf(mid, sizeof(mid), "%s/mid.inc", dir);
    snprintf(noorg, sizeof(noorg), "%s/noorigin.db", dir);
    write_file(leaf, "www 60 A 192.0.2.5\n");

    /* Origin from the file name (no $ORIGIN line at all). */
    write_file(zone, "@ 60 SOA ns1 h 1 2 3 4 5\n  60 NS ns1\nns1 60 A 192.0.2.1\n"
                     "$INCLUDE leaf.inc sub\nafter 60 A 192.0.2.6\n");
    expect_names(zone, "origin from the file name",
                 (const char *const[]){"www.sub.m.test.", "after.m.test.", NULL});

    /* Origin from a $ORIGIN line, and the outer origin back after the $INCLUDE. */
    write_file(zone, SOA "$ORIGIN x.m.test.\n$INCLUDE leaf.inc sub\nafter A 192.0.2.6\n");
    expect_names(zone, "origin from $ORIGIN",
                 (const char *const[]){"www.sub.x.m.test.", "after.x.m.test.", NULL});

    /* The root as origin: "sub.m.test" then means sub.m.test., not "sub.m.test..". */
    write_file(zone, SOA "$ORIGIN .\n$INCLUDE leaf.inc sub.m.test\nafter.m.test A 192.0.2.6\n");
    expect_names(zone, "root origin",
                 (const char *const[]){"www.sub.m.test.", "after.m.test.", NULL});

    /* Nested: the included file's origin came from the parent's relative argument, then from a
     * $ORIGIN inside it; each level gets its own back. */
    write_file(mid, "$INCLUDE leaf.inc deep\nm1 A 192.0.2.7\n$ORIGIN o.sub.m.test.\n"
                    "$INCLUDE leaf.inc deeper\nm2 A 192.0.2.8\n");
    write_file(zone, SOA "$INCLUDE mid.inc sub\nafter A 192.0.2.6\n");
    expect_names(zone, "nested",
                 (const char *const[]){"www.deep.sub.m.test.", "m1.sub.m.test.",
                                       "www.deeper.o.sub.m.test.", "m2.o.sub.m.test.",
                                       "after.m.test.", NULL});

    /* A file with no origin (neither $ORIGIN nor <zone>.zone): the relative origin lands below
     * the no-origin name and the included file's records are refused, naming their line. */
    write_file(noorg, "m.test. 60 SOA ns1.m.test. h.m.test. 1 2 3 4 5\nm.test. 60 NS ns1.m.test.\n"
                      "ns1.m.test. 60 A 192.0.2.1\n$INCLUDE leaf.inc sub\n");
    expect_file_error(noorg, "no origin", "leaf.inc:1:", "relative name without an origin");

    /* Longer than any name's text once the origin is added: refused, not cut short. */
    char longorg[1100];
    memset(longorg, 'a', sizeof(longorg) - 1);
    for (size_t i = 60; i < sizeof(longorg) - 1; i += 61)
        longorg[i] = '.';
    longorg[sizeof(longorg) - 1] = '\0';
    snprintf(t, sizeof(t), SOA "$INCLUDE leaf.inc %s\n", longorg);
    write_file(zone, t);
    expect_file_error(zone, "long origin", "m.test.zone:6:", "longer than a domain name");
    /* 1010 characters: the text fits, the name is over 255 bytes. */
    longorg[1010] = '\0';
    snprintf(t, sizeof(t), SOA "$INCLUDE leaf.inc %s\n", longorg);
    write_file(zone, t);
    expect_file_error(zone, "origin over 255 bytes", "m.test.zone:6:", "not a domain name");
    /* A 64-byte label. */
    char label[65];
    memset(label, 'b', 64);
    label[64] = '\0';
    snprintf(t, sizeof(t), SOA "$INCLUDE leaf.inc %s\n", label);
    write_file(zone, t);
    expect_file_error(zone, "64-byte label", "m.test.zone:6:", "not a domain name");

    unlink(zone);
    unlink(leaf);
    unlink(mid);
    unlink(noorg);
    rmdir(dir);
}

/* Paths zone_load_file reports through its file_seen callback. */
typedef struct seen {
    char path[4][512];
    int n;
    int fail_rc; /* returned by the callback */
} seen_t;

static int on_seen(void *ctx, const char *path)
{
    seen_t *s = ctx;
    if (s->n < 4)
        snprintf(s->path[s->n], sizeof(s->path[0]), "%s", path);
    s->n++;
    return s->fail_rc;
}

static int load_seen(const char *path, seen_t *s, char *err, size_t errlen)
{
    arena_t a;
    arena_init(&a);
    zone_t *z = NULL;
    int rc = zone_load_file(path, &a, NULL, on_seen, s, &z, err, errlen);
    arena_deinit(&a);
    return rc;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && !strcmp(s + n - t, tail);
}

/* Every $INCLUDEd file is reported, nested ones too, before it is read: also when the load then
 * fails on it (a broken or a missing file). The zone file itself is the caller's to report. */
static void test_include_reported(void)
{
    char dir[] = "/tmp/geodns-master-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(false, "mkdtemp");
        return;
    }
    char zone[512], a[512], b[512], err[1024] = "";
    snprintf(zone, sizeof(zone), "%s/m.test.zone", dir);
    snprintf(a, sizeof(a), "%s/a.inc", dir);
    snprintf(b, sizeof(b), "%s/b.inc", dir);
    write_file(zone, SOA "$INCLUDE a.inc\n");
    write_file(a, "a A 192.0.2.10\n$INCLUDE b.inc\n");
    write_file(b, "b A 192.0.2.11\n");
    seen_t s = {0};
    int rc = load_seen(zone, &s, err, sizeof(err));
    CHECK(rc == 0 && s.n == 2 && ends_with(s.path[0], "/a.inc") && ends_with(s.path[1], "/b.inc"),
          "included files reported in order: rc=%d n=%d '%s' '%s' %s", rc, s.n, s.path[0],
          s.path[1], err);
    /* A broken included file is reported and names the failure. */
    write_file(b, "b A 192.0.2\n");
    s = (seen_t){0};
    rc = load_seen(zone, &s, err, sizeof(err));
    CHECK(rc != 0 && s.n == 2 && ends_with(s.path[1], "/b.inc") && strstr(err, "b.inc:1:"),
          "a broken included file is reported: rc=%d n=%d %s", rc, s.n, err);
    /* A missing one too, so that creating it can be noticed. */
    unlink(b);
    s = (seen_t){0};
    rc = load_seen(zone, &s, err, sizeof(err));
    CHECK(rc != 0 && s.n == 2 && ends_with(s.path[1], "/b.inc") && strstr(err, "cannot open"),
          "a missing included file is reported: rc=%d n=%d %s", rc, s.n, err);
    /* The callback's failure fails the load with its code. */
    write_file(b, "b A 192.0.2.11\n");
    s = (seen_t){.fail_rc = -ENOMEM};
    rc = load_seen(zone, &s, err, sizeof(err));
    CHECK(rc == -ENOMEM && s.n == 1, "a failing callback fails the load: rc=%d n=%d", rc, s.n);
    /* A zone without $INCLUDE reports nothing. */
    write_file(zone, SOA);
    s = (seen_t){0};
    rc = load_seen(zone, &s, err, sizeof(err));
    CHECK(rc == 0 && s.n == 0, "no include, nothing reported: rc=%d n=%d %s", rc, s.n, err);
    unlink(a);
    unlink(b);
    unlink(zone);
    rmdir(dir);
}

/* ---- answers ---- */

static ldns_pkt *run(const uint8_t *q, size_t qlen, bool tcp)
{
    return probe_run(&snap->env, q, qlen, tcp, out, &outlen);
}

static ldns_pkt *ask(const char *name, uint16_t type)
{
    uint8_t q[600] = {0x12, 0x34, 0, 0, 0, 1};
    size_t n = 12 + probe_put_name(q + 12, name);
    q[n++] = (uint8_t)(type >> 8);
    q[n++] = (uint8_t)type;
    q[n++] = 0;
    q[n++] = 1;
    return run(q, n, false);
}

#define RC(p) ((int)ldns_pkt_get_rcode(p))

static void test_dname(void)
{
    ldns_pkt *p = ask("x.d.dname.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == 0 && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 2 &&
              probe_has_rr(ldns_pkt_answer(p), "d.dname.test.\t120\tIN\tDNAME\ttarget.example.",
                           NULL) &&
              probe_has_rr(ldns_pkt_answer(p), "x.d.dname.test.\t120\tIN\tCNAME\tx.target.example.",
                           NULL),
          "DNAME out of zone: DNAME and synthesized CNAME with the DNAME's TTL");
    ldns_pkt_free(p);
    p = ask("q.d.dname.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 2 &&
              !probe_has_rr(ldns_pkt_answer(p), "192.0.2.1", NULL),
          "data below a DNAME is never answered");
    ldns_pkt_free(p);
    p = ask("a.b.x.d2.dname.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == LDNS_RCODE_NXDOMAIN && ldns_pkt_ancount(p) == 2,
          "DNAME into the zone followed to NXDOMAIN, DNAME and CNAME kept");
    ldns_pkt_free(p);
    p = ask("x.d2.dname.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 3 &&
              probe_has_rr(ldns_pkt_answer(p), "x.www2.dname.test.", "192.0.2.99"),
          "DNAME into the zone: the chain is followed");
    ldns_pkt_free(p);
    p = ask("d.dname.test", LDNS_RR_TYPE_DNAME);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 1 &&
              probe_count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_DNAME) == 1,
          "qtype DNAME at the owner returns it");
    ldns_pkt_free(p);
    p = ask("d.dname.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == 0 && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 1,
          "the DNAME owner itself is not rewritten (NODATA)");
    ldns_pkt_free(p);
    p = ask("b.loopd.dname.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == 0 && probe_count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_DNAME) == 1 &&
              probe_count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_CNAME) == 1,
          "a self-referencing DNAME is applied once (no repeated records)");
    ldns_pkt_free(p);
    /* The target is 190 bytes; a 75-byte prefix makes the name longer than 255. */
    char longq[300];
    memset(longq, 'b', 63);
    snprintf(longq + 63, sizeof(longq) - 63, ".cccccccccc.long.dname.test");
    p = ask(longq, LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == LDNS_RCODE_YXDOMAIN && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 1 &&
              probe_count_type(ldns_pkt_answer(p), LDNS_RR_TYPE_DNAME) == 1,
          "synthesized name too long: YXDOMAIN with the DNAME");
    ldns_pkt_free(p);
    p = ask("x.apexd.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == 0 && probe_has_rr(ldns_pkt_answer(p), "apexd.test.", "DNAME") &&
              probe_has_rr(ldns_pkt_answer(p), "x.apexd.test.", "x.dname.test."),
          "DNAME at the apex");
    ldns_pkt_free(p);
    p = ask("apexd.test", LDNS_RR_TYPE_SOA);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 1, "apex with a DNAME answers its SOA");
    ldns_pkt_free(p);
}

static void test_occluded(void)
{
    ldns_pkt *p = ask("sub.dname.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == 0 && !ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0 &&
              probe_has_rr(ldns_pkt_authority(p), "sub.dname.test.", "NS") &&
              probe_has_rr(ldns_pkt_additional(p), "ns.sub.dname.test.", "192.0.2.10"),
          "data at a cut is occluded: referral with glue");
    ldns_pkt_free(p);
    p = ask("ns.sub.dname.test", LDNS_RR_TYPE_A);
    CHECK(p && RC(p) == 0 && !ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0,
          "glue is never answered authoritatively");
    ldns_pkt_free(p);
    p = ask("sub.dname.test", LDNS_RR_TYPE_TXT);
    CHECK(p && !ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0, "TXT at a cut: referral");
    ldns_pkt_free(p);
}

static void test_additional(void)
{
    ldns_pkt *p = ask("dname.test", LDNS_RR_TYPE_NS);
    CHECK(p && RC(p) == 0 && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 2 &&
              probe_has_rr(ldns_pkt_additional(p), "ns1.dname.test.", "192.0.2.53") &&
              probe_has_rr(ldns_pkt_additional(p), "ns1.dname.test.", "2001:db8::53") &&
              probe_has_rr(ldns_pkt_additional(p), "ns.sub.dname.test.", "192.0.2.10"),
          "apex NS: addresses of the name servers, glue included");
    ldns_pkt_free(p);
    p = ask("dname.test", LDNS_RR_TYPE_MX);
    CHECK(p && ldns_pkt_ancount(p) == 2 && ldns_pkt_arcount(p) == 1 &&
              probe_has_rr(ldns_pkt_additional(p), "mail.dname.test.", "192.0.2.25"),
          "MX: target address once for two records");
    ldns_pkt_free(p);
    p = ask("_x._tcp.dname.test", LDNS_RR_TYPE_SRV);
    CHECK(p && probe_has_rr(ldns_pkt_additional(p), "www.dname.test.", "192.0.2.80"), "SRV target");
    ldns_pkt_free(p);
    /* 8 MX fit in 512 bytes, their 16 addresses do not: some are left out, no TC. */
    p = ask("many.dname.test", LDNS_RR_TYPE_MX);
    CHECK(p && RC(p) == 0 && !ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 8 &&
              ldns_pkt_arcount(p) > 0 && ldns_pkt_arcount(p) < 16 && outlen <= 512,
          "additional dropped before truncating (%zu bytes, %u additional)", outlen,
          p ? ldns_pkt_arcount(p) : 0);
    ldns_pkt_free(p);
}

static void test_notimp(void)
{
    for (int op = 1; op < 16; op++) {
        /* A header alone, with QDCOUNT 0 and with QDCOUNT 2 and nothing behind it. */
        for (int qd = 0; qd <= 2; qd += 2) {
            uint8_t h[12] = {0xab, 0xcd, (uint8_t)(op << 3 | 1), 0, 0, (uint8_t)qd};
            struct sockaddr_in src = {.sin_family = AF_INET};
            outlen = query_process(&snap->env, h, sizeof(h), out, 4096, 0, (struct sockaddr *)&src);
            CHECK(outlen == 12 && (out[3] & 0xF) == LDNS_RCODE_NOTIMPL &&
                      ((out[2] >> 3) & 0xF) == op && (out[2] & 0x80) && (out[2] & 1) &&
                      out[0] == 0xab && !(out[2] & 0x04),
                  "opcode %d, QDCOUNT %d, header only: NOTIMP", op, qd);
        }
    }
    uint8_t h[12] = {0xab, 0xcd, 0, 0, 0, 0};
    struct sockaddr_in src = {.sin_family = AF_INET};
    outlen = query_process(&snap->env, h, sizeof(h), out, 4096, 0, (struct sockaddr *)&src);
    CHECK(outlen == 12 && (out[3] & 0xF) == LDNS_RCODE_FORMERR, "opcode QUERY, no question: "
                                                                "FORMERR");
}

int main(void)
{
    test_load_good();
    test_long_owners();
    test_load_bad();
    test_numbers();
    test_include();
    test_include_relative_origin();
    test_include_reported();
    char err[1024];
    if (gd_snapshot_load(TEST_DATA "/master/server.yaml", NULL, 1, &snap, err, sizeof(err))) {
        fprintf(stderr, "cannot load test config: %s\n", err);
        return 1;
    }
    test_dname();
    test_occluded();
    test_additional();
    test_notimp();
    gd_snapshot_unref(snap);
    return check_report();
}
