/* test_geoip.c: unit tests for geoip: distance, mmdb presets and lookups, nets file, errors. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "geoip.h"

static char dir[512];
static char example_db[600], flat_db[600];

static void addr_of(const char *s, int *family, uint8_t a[16])
{
    memset(a, 0, 16);
    if (strchr(s, ':')) {
        *family = AF_INET6;
        if (inet_pton(AF_INET6, s, a) != 1)
            abort();
    } else {
        *family = AF_INET;
        if (inet_pton(AF_INET, s, a) != 1)
            abort();
    }
}

static void near(double got, double want, double rel, const char *what)
{
    CHECK(fabs(got - want) <= want * rel, "%s: got %.1f want %.1f (+-%.1f%%)", what, got, want,
          rel * 100);
}

static void test_distance(void)
{
    /* References: great-circle distances on the mean-radius sphere (as published by common
     * distance calculators, e.g. Paris-Frankfurt 479 km, New York-London 5570 km). */
    near(geoip_distance_km(48.8566, 2.3522, 50.1109, 8.6821), 479, 0.005, "Paris-Frankfurt");
    near(geoip_distance_km(40.7128, -74.0060, 51.5074, -0.1278), 5570, 0.005, "NY-London");
    near(geoip_distance_km(-33.8688, 151.2093, 35.6762, 139.6503), 7820, 0.005, "Sydney-Tokyo");
    near(geoip_distance_km(41.8781, -87.6298, 40.7128, -74.0060), 1145, 0.005, "Chicago-NY");
    CHECK(geoip_distance_km(10, 20, 10, 20) == 0);
    near(geoip_distance_km(0, 0, 0, 180), 20015.1, 0.001, "antipodes");
    /* Symmetric and across the antimeridian. */
    CHECK(fabs(geoip_distance_km(1, 179.5, 1, -179.5) - geoip_distance_km(1, -179.5, 1, 179.5)) <
          1e-9);
    CHECK(geoip_distance_km(1, 179.5, 1, -179.5) < 112);
}

static void test_continent_table(void)
{
    CHECK(!strcmp(geoip_country_continent("FR"), "EU"));
    CHECK(!strcmp(geoip_country_continent("us"), "NA"));
    CHECK(!strcmp(geoip_country_continent("TN"), "AF"));
    CHECK(!strcmp(geoip_country_continent("AU"), "OC"));
    CHECK(!strcmp(geoip_country_continent("BR"), "SA"));
    CHECK(!strcmp(geoip_country_continent("JP"), "AS"));
    CHECK(!strcmp(geoip_country_continent("AQ"), "AN"));
    CHECK(geoip_country_continent("ZZ") == NULL);
    CHECK(geoip_country_continent("FRA") == NULL);
}

static void test_open_errors(void)
{
    geoip_schema_t s;
    geoip_db_t *db = NULL;
    char err[512];
    CHECK(geoip_schema_preset("nope", &s) == -ENOENT);
    CHECK(geoip_schema_preset("geoip2-city", &s) == 0);
    CHECK(geoip_db_open("/nonexistent/x.mmdb", &s, &db, err, sizeof(err)) == -ENOENT);
    CHECK(db == NULL);
    CHECK(strstr(err, "/nonexistent/x.mmdb: cannot open GeoIP database") == err);

    char junk[700];
    snprintf(junk, sizeof(junk), "%s/junk.mmdb", dir);
    FILE *f = fopen(junk, "w");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not an mmdb file\n", f);
        fclose(f);
    }
    CHECK(geoip_db_open(junk, &s, &db, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "not a valid MaxMind DB") != NULL);

    geoip_schema_t bad = s;
    bad.latitude = NULL;
    CHECK(geoip_db_open(example_db, &bad, &db, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "latitude path is required") != NULL);
    bad = s;
    bad.country = "country//iso_code";
    CHECK(geoip_db_open(example_db, &bad, &db, err, sizeof(err)) == -EINVAL);
    CHECK(strstr(err, "bad country path") != NULL);
}

static void lookup(const geoip_db_t *db, const char *ip, geoip_loc_t *loc)
{
    int fam;
    uint8_t a[16];
    addr_of(ip, &fam, a);
    int rc = geoip_db_lookup(db, fam, a, loc);
    CHECK(rc == 0, "lookup %s: %d", ip, rc);
    /* The two-step form (tree walk, then fields) gives the same result. */
    geoip_ref_t ref;
    geoip_loc_t two;
    CHECK(geoip_db_find(db, fam, a, &ref) == rc);
    if (!rc) {
        geoip_db_fill(db, &ref, &two);
        CHECK(two.found == loc->found && two.prefix == loc->prefix && two.key == loc->key &&
              two.located == loc->located && two.lat == loc->lat && two.lon == loc->lon &&
              !strcmp(two.country, loc->country) && !strcmp(two.continent, loc->continent));
    }
}

static void test_geoip2_city(void)
{
    geoip_schema_t s;
    geoip_db_t *db = NULL;
    char err[512];
    CHECK(geoip_schema_preset("geoip2-city", &s) == 0);
    int rc = geoip_db_open(example_db, &s, &db, err, sizeof(err));
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(!strcmp(geoip_db_type(db), "GeoIP2-City"));
    geoip_loc_t l;
    lookup(db, "192.0.2.77", &l);
    CHECK(l.found && l.located && l.prefix == 24);
    CHECK(fabs(l.lat - 48.8566) < 1e-6 && fabs(l.lon - 2.3522) < 1e-6);
    CHECK(!strcmp(l.country, "FR") && !strcmp(l.continent, "EU") && !strcmp(l.subdivision, "IDF"));
    uint64_t paris_key = l.key;
    CHECK(paris_key != 0);

    /* IPv4-mapped IPv6 is looked up as IPv4, prefix in IPv4 terms. */
    lookup(db, "::ffff:192.0.2.1", &l);
    CHECK(l.found && l.prefix == 24 && !strcmp(l.country, "FR"));
    CHECK(l.key == paris_key);
    /* Same location record from another network: same key (loopback Paris range). */
    lookup(db, "127.255.1.9", &l);
    CHECK(l.found && !strcmp(l.country, "FR") && l.prefix == 24);

    lookup(db, "100.64.200.1", &l);
    CHECK(l.found && l.prefix == 16 && !strcmp(l.country, "AR") && !strcmp(l.continent, "SA"));
    CHECK(fabs(l.lat + 34.6037) < 1e-6);

    lookup(db, "2001:db8:1234::1", &l);
    CHECK(l.found && l.prefix == 32 && !strcmp(l.country, "AU") && !strcmp(l.continent, "OC"));

    lookup(db, "198.18.1.5", &l);
    CHECK(l.found && !strcmp(l.country, "TN") && !strcmp(l.continent, "AF"));
    lookup(db, "127.255.9.1", &l);
    CHECK(l.found && !strcmp(l.country, "US") && fabs(l.lon + 74.006) < 1e-6);

    /* Misses: not found, prefix is the empty network's length (nonzero, <= 32). */
    lookup(db, "8.8.8.8", &l);
    CHECK(!l.found && !l.located && l.key == 0 && l.prefix > 0 && l.prefix <= 32);
    lookup(db, "2a00::1", &l);
    CHECK(!l.found && l.prefix <= 128);

    uint8_t a[16] = {0};
    CHECK(geoip_db_lookup(db, 99, a, &l) == -EAFNOSUPPORT);

    /* Override one path: the city name as "subdivision". */
    geoip_schema_t c = s;
    char path[64];
    snprintf(path, sizeof(path), "%s", "city/names/en");
    c.subdivision = path;
    geoip_db_t *db2 = NULL;
    CHECK(geoip_db_open(example_db, &c, &db2, err, sizeof(err)) == 0);
    path[0] = 'X'; /* the schema was copied */
    if (db2) {
        lookup(db2, "203.0.113.9", &l);
        CHECK(!strcmp(l.subdivision, "Tokyo"));
        geoip_db_close(db2);
    }
    geoip_db_close(db);
}

static void test_dbip_flat(void)
{
    geoip_schema_t s;
    geoip_db_t *db = NULL;
    char err[512];
    CHECK(geoip_schema_preset("dbip-city-lite", &s) == 0);
    int rc = geoip_db_open(flat_db, &s, &db, err, sizeof(err));
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    geoip_loc_t l;
    lookup(db, "192.0.2.200", &l);
    CHECK(l.found && l.located && l.prefix == 24);
    CHECK(fabs(l.lat - 50.1109) < 1e-4 && fabs(l.lon - 8.6821) < 1e-4); /* stored as float */
    CHECK(!strcmp(l.country, "DE") && !strcmp(l.continent, "EU"));      /* derived continent */
    CHECK(!strcmp(l.subdivision, "Hesse"));
    lookup(db, "2001:db8:1:2::3", &l);
    CHECK(l.found && l.prefix == 48 && !strcmp(l.country, "BR") && !strcmp(l.continent, "SA"));
    lookup(db, "::ffff:192.0.2.1", &l);
    CHECK(l.found && l.prefix == 24);
    /* The geoip2-city preset on a flat database: found, but nothing located. */
    geoip_db_t *db2 = NULL;
    geoip_schema_t g;
    geoip_schema_preset("geoip2-city", &g);
    CHECK(geoip_db_open(flat_db, &g, &db2, err, sizeof(err)) == 0);
    if (db2) {
        lookup(db2, "192.0.2.1", &l);
        CHECK(l.found && !l.located && l.country[0] == '\0');
        geoip_db_close(db2);
    }
    geoip_db_close(db);
}

static const char nets_yaml[] = "nets:\n"
                                "  \"192.0.2.0/25\": {location: [48.85, 2.35], country: FR,"
                                " continent: EU}\n"
                                "  \"192.0.2.0/28\": {location: [1.5, 2.5], country: de}\n"
                                "  \"10.1.0.0/16\": {pops: [fra, nyc]}\n"
                                "  \"0.0.0.0/0\": {country: AQ}\n"
                                "  \"2001:db8:ab00::/40\": {location: [-1, -2], subdivision: X1}\n"
                                "  \"2001:db8:ab00::1\": {pops: [sin]}\n";

static geoip_nets_t *nets_from(const char *text, char *err, size_t errlen, int *rc)
{
    yt_doc_t *doc = NULL;
    geoip_nets_t *nets = NULL;
    *rc = yt_doc_load_buffer("nets.yaml", text, strlen(text), &doc, err, errlen);
    if (*rc)
        return NULL;
    *rc = geoip_nets_parse(yt_doc_root(doc), &nets, err, errlen);
    yt_doc_free(doc);
    return nets;
}

static const geoip_net_t *nets_find(const geoip_nets_t *n, const char *ip)
{
    int fam;
    uint8_t a[16];
    addr_of(ip, &fam, a);
    return geoip_nets_lookup(n, fam, a);
}

static void test_nets(void)
{
    char err[512];
    int rc;
    geoip_nets_t *n = nets_from(nets_yaml, err, sizeof(err), &rc);
    CHECK(rc == 0);
    if (rc) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    CHECK(geoip_nets_count(n) == 6);
    const geoip_net_t *e = nets_find(n, "192.0.2.100");
    CHECK(e && e->prefix == 25 && e->loc.located && !strcmp(e->loc.country, "FR"));
    CHECK(e && e->line == 2 && e->col == 3 && !strcmp(e->file, "nets.yaml"));
    e = nets_find(n, "192.0.2.5");
    CHECK(e && e->prefix == 28 && !strcmp(e->loc.country, "DE") && !strcmp(e->loc.continent, "EU"));
    e = nets_find(n, "::ffff:192.0.2.5"); /* mapped */
    CHECK(e && e->prefix == 28);
    e = nets_find(n, "10.1.200.1");
    CHECK(e && e->prefix == 16 && e->npops == 2 && !strcmp(e->pops[1], "nyc") && !e->loc.located);
    CHECK(e && e->pop_line[0] == 4 && e->loc.key == ((UINT64_C(1) << 63) | e->id));
    e = nets_find(n, "192.0.2.200"); /* only the default route covers it */
    CHECK(e && e->prefix == 0 && !strcmp(e->loc.country, "AQ") && !strcmp(e->loc.continent, "AN"));
    e = nets_find(n, "2001:db8:abff::1");
    CHECK(e && e->prefix == 40 && !strcmp(e->loc.subdivision, "X1"));
    e = nets_find(n, "2001:db8:ab00::1");
    CHECK(e && e->prefix == 128 && e->npops == 1);
    CHECK(nets_find(n, "2001:db9::1") == NULL); /* no IPv6 default */
    CHECK(geoip_nets_entry(n, 2) && geoip_nets_entry(n, 2)->prefix == 16);
    CHECK(geoip_nets_entry(n, 6) == NULL);

    /* nets override the mmdb through geoip_locate */
    geoip_schema_t s;
    geoip_schema_preset("geoip2-city", &s);
    geoip_db_t *db = NULL;
    int open_rc = geoip_db_open(example_db, &s, &db, err, sizeof(err));
    CHECK(open_rc == 0, "%s", err);
    if (open_rc == 0) {
        geoip_loc_t l;
        const geoip_net_t *hit;
        int fam;
        uint8_t a[16];
        addr_of("192.0.2.5", &fam, a);
        CHECK(geoip_locate(db, n, fam, a, &l, &hit) == 0);
        CHECK(hit && l.prefix == 28 && fabs(l.lat - 1.5) < 1e-9 && !strcmp(l.country, "DE"));
        addr_of("2001:db8::1", &fam, a);
        CHECK(geoip_locate(db, n, fam, a, &l, &hit) == 0);
        CHECK(!hit && l.found && !strcmp(l.country, "AU") && l.prefix == 32);
        CHECK(geoip_locate(NULL, NULL, fam, a, &l, &hit) == 0 && !hit && !l.found);
        geoip_db_close(db);
    }
    geoip_nets_free(n);

    /* Empty nets mapping is valid. */
    n = nets_from("nets: {}\n", err, sizeof(err), &rc);
    CHECK(rc == 0 && n && geoip_nets_count(n) == 0 && nets_find(n, "1.2.3.4") == NULL);
    geoip_nets_free(n);
}

static void nets_error(const char *yaml, const char *want)
{
    char err[512] = "";
    int rc;
    geoip_nets_t *n = nets_from(yaml, err, sizeof(err), &rc);
    CHECK(rc == -EINVAL && n == NULL);
    CHECK(strstr(err, want), "nets error: got '%s', want '%s'\n", err, want);
}

static void test_nets_errors(void)
{
    nets_error("nets:\n  \"10.1.2.0/16\": {pops: [a]}\n", "nets.yaml:2:3: '10.1.2.0/16' is not");
    nets_error("nets:\n  \"10.1.0.0/33\": {pops: [a]}\n", "nets.yaml:2:3:");
    nets_error("nets:\n  \"bogus\": {pops: [a]}\n", "nets.yaml:2:3:");
    nets_error("nets:\n  \"10.0.0.0/8\": {pops: [a]}\n  \"10.0.0.0/8\": {pops: [b]}\n",
               "nets.yaml:3:3: duplicate key");
    nets_error("nets:\n  \"2001:db8::/32\": {pops: [a]}\n  \"2001:0db8::/32\": {pops: [b]}\n",
               "nets.yaml:3:3: network '2001:0db8::/32' is listed twice");
    nets_error("nets:\n  \"10.0.0.0/8\": {popz: [a]}\n", "nets.yaml:2:18: unknown key 'popz'");
    nets_error("nets:\n  \"10.0.0.0/8\": {location: [1]}\n",
               "nets.yaml:2:28: location must be [latitude, longitude]");
    nets_error("nets:\n  \"10.0.0.0/8\": {location: [91, 0]}\n", "nets.yaml:2:29: '91' is not");
    nets_error("nets:\n  \"10.0.0.0/8\": {country: FRA}\n", "nets.yaml:2:27: country must be 2");
    nets_error("nets:\n  \"10.0.0.0/8\": {}\n", "nets.yaml:2:3: nets entry '10.0.0.0/8' needs");
    nets_error("nets:\n  \"10.0.0.0/8\": {pops: []}\n", "nets.yaml:2:24: pops must be a non-empty");
    nets_error("nets: [1, 2]\n", "nets.yaml:1:7: nets must be a mapping");
    nets_error("nots: {}\n", "nets.yaml:1:1: unknown key 'nots' in the nets file");
    nets_error("- 1\n", "nets.yaml:1:1: the nets file must be a mapping");
}

int main(int argc, char **argv)
{
    snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : ".");
    snprintf(example_db, sizeof(example_db), "%s/test-example-city.mmdb", dir);
    snprintf(flat_db, sizeof(flat_db), "%s/test-flat-city.mmdb", dir);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "perl '%s' '%s' && perl '%s' '%s'", MAKE_EXAMPLE_MMDB, example_db,
             MAKE_FLAT_MMDB, flat_db);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot generate test databases: %s\n", cmd);
        return 1;
    }
    test_distance();
    test_continent_table();
    test_open_errors();
    test_geoip2_city();
    test_dbip_flat();
    test_nets();
    test_nets_errors();
    return check_report();
}
