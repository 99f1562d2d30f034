/* test_mmdb_verify.c: a corrupt mmdb is refused at open (search tree, data section, metadata,
 * truncation, garbage) with a reason, and a good one still opens and answers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <maxminddb.h>

#include "check.h"
#include "geoip.h"

static char dir[512];
static char good_path[600], bad_path[600];
static uint8_t *good;
static size_t good_len;
static uint32_t node_count;
static unsigned record_size, node_bytes;
static uint64_t data_start; /* file offset of the data section */

static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = n > 0 ? malloc((size_t)n) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *len = b ? (size_t)n : 0;
    return b;
}

static void write_all(const char *path, const uint8_t *b, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f)
        return;
    CHECK(fwrite(b, 1, len, f) == len, "short write");
    fclose(f);
}

/* Read or write record side (0 left, 1 right) of node n in a copy of the file (24, 28 or 32-bit
 * records, MaxMind DB format 2.0 section "Node layout"). */
static uint32_t get_record(const uint8_t *b, uint32_t n, int side)
{
    const uint8_t *p = b + (size_t)n * node_bytes;
    switch (record_size) {
    case 24:
        p += side * 3;
        return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
    case 28:
        if (!side)
            return (uint32_t)(p[3] & 0xf0) << 20 | (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 |
                   p[2];
        return (uint32_t)(p[3] & 0x0f) << 24 | (uint32_t)p[4] << 16 | (uint32_t)p[5] << 8 | p[6];
    default:
        p += side * 4;
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
}

static void set_record(uint8_t *b, uint32_t n, int side, uint32_t v)
{
    uint8_t *p = b + (size_t)n * node_bytes;
    switch (record_size) {
    case 24:
        p += side * 3;
        p[0] = (uint8_t)(v >> 16), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
        break;
    case 28:
        if (!side) {
            p[3] = (uint8_t)((p[3] & 0x0f) | ((v >> 20) & 0xf0));
            p[0] = (uint8_t)(v >> 16), p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)v;
        } else {
            p[3] = (uint8_t)((p[3] & 0xf0) | ((v >> 24) & 0x0f));
            p[4] = (uint8_t)(v >> 16), p[5] = (uint8_t)(v >> 8), p[6] = (uint8_t)v;
        }
        break;
    default:
        p += side * 4;
        p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
        p[3] = (uint8_t)v;
    }
}

/* Open a modified copy; it must be refused with -EINVAL and an error containing want. */
static void expect_refused(const uint8_t *b, size_t len, const char *what, const char *want)
{
    write_all(bad_path, b, len);
    geoip_schema_t s;
    geoip_schema_preset("geoip2-city", &s);
    geoip_db_t *db = NULL;
    char err[1024] = "";
    int rc = geoip_db_open(bad_path, &s, &db, err, sizeof(err));
    CHECK(rc == -EINVAL && db == NULL && strstr(err, want) != NULL,
          "%s: want -EINVAL and '%s', got %d '%s'", what, want, rc, err);
    CHECK(strstr(err, bad_path) == err, "%s: the error names the file: '%s'", what, err);
    geoip_db_close(db);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17; /* xorshift64, fixed seed */
    return (uint32_t)(rng >> 11);
}

static void test_good(void)
{
    geoip_schema_t s;
    geoip_schema_preset("geoip2-city", &s);
    geoip_db_t *db = NULL;
    char err[1024] = "";
    CHECK(geoip_db_open(good_path, &s, &db, err, sizeof(err)) == 0, "good db: %s", err);
    if (!db)
        return;
    /* After verification (and the mapping's pages dropped from the resident set) lookups still
     * read the file. */
    geoip_loc_t loc;
    uint8_t a[16] = {192, 0, 2, 1};
    CHECK(geoip_db_lookup(db, AF_INET, a, &loc) == 0, "lookup after verify");
    geoip_db_close(db);
}

static void test_tree(void)
{
    uint8_t *b = malloc(good_len);
    if (!b)
        return;
    size_t tree = (size_t)node_count * node_bytes;
    /* 200 random bytes changed in the search tree, 20 fixed seeds. */
    for (int round = 0; round < 20; round++) {
        memcpy(b, good, good_len);
        for (int i = 0; i < 200; i++)
            b[next_rand() % tree] = (uint8_t)next_rand();
        char what[64];
        snprintf(what, sizeof(what), "200 bytes changed (round %d)", round);
        expect_refused(b, good_len, what, "corrupt GeoIP database (mmdb)");
    }
    /* One record past the data section. */
    memcpy(b, good, good_len);
    set_record(b, 0, 1, node_count + 16 + (uint32_t)(good_len - data_start) + 5);
    expect_refused(b, good_len, "record past the data", "points neither to a node");
    /* One record into the 16-byte separator. */
    memcpy(b, good, good_len);
    set_record(b, 0, 0, node_count + 3);
    expect_refused(b, good_len, "record into the separator", "points neither to a node");
    /* A loop: a node whose record points back to the root. */
    memcpy(b, good, good_len);
    set_record(b, node_count - 1, 0, 0);
    expect_refused(b, good_len, "loop", "a loop or an over-deep branch");
    /* A data pointer moved by one byte: lands inside a record. */
    uint32_t n = 0;
    int side = 0;
    for (n = 0; n < node_count; n++) {
        for (side = 0; side < 2; side++)
            if (get_record(good, n, side) > node_count + 16)
                break;
        if (side < 2)
            break;
    }
    CHECK(n < node_count, "the test db has a data record");
    memcpy(b, good, good_len);
    set_record(b, n, side, get_record(good, n, side) + 1);
    expect_refused(b, good_len, "pointer off by one", "not the start of a data record");
    /* The separator not zero (a wrong node count, or a cut/padded tree). */
    memcpy(b, good, good_len);
    b[tree + 7] = 0x55;
    expect_refused(b, good_len, "separator", "separator");
    /* A data item whose control byte says extended type 0 + 7 + 255 (no such type). */
    memcpy(b, good, good_len);
    b[data_start] = 0x00;
    b[data_start + 1] = 0xff;
    expect_refused(b, good_len, "bad data type", "data item at offset");
    free(b);
}

static void test_truncated_and_garbage(void)
{
    /* Cut anywhere: inside the tree, at the data, inside the metadata. */
    size_t cuts[] = {good_len / 4, (size_t)data_start, good_len - 40, good_len - 1, 0};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "cut at %zu of %zu", cuts[i], good_len);
        expect_refused(good, cuts[i], what, "");
    }
    uint8_t *g = malloc(good_len);
    if (!g)
        return;
    for (size_t i = 0; i < good_len; i++)
        g[i] = (uint8_t)next_rand();
    expect_refused(g, good_len, "garbage", "not a valid MaxMind DB");
    /* Garbage with a real metadata section at its end: opens, then fails verification. */
    size_t meta = good_len;
    static const uint8_t marker[] = "\xab\xcd\xefMaxMind.com";
    for (size_t i = good_len - 14; i > 0; i--)
        if (!memcmp(good + i, marker, 14)) {
            meta = i;
            break;
        }
    CHECK(meta < good_len, "metadata marker found");
    memcpy(g + meta, good + meta, good_len - meta);
    expect_refused(g, good_len, "garbage tree with good metadata", "corrupt GeoIP database");
    free(g);
}

int main(int argc, char **argv)
{
    snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : ".");
    snprintf(good_path, sizeof(good_path), "%s/verify-good.mmdb", dir);
    snprintf(bad_path, sizeof(bad_path), "%s/verify-bad.mmdb", dir);
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "perl '%s' '%s'", MAKE_EXAMPLE_MMDB, good_path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot generate the test database: %s\n", cmd);
        return 1;
    }
    good = read_all(good_path, &good_len);
    MMDB_s m;
    CHECK(good && MMDB_open(good_path, MMDB_MODE_MMAP, &m) == MMDB_SUCCESS, "test db opens");
    if (!good)
        return check_report();
    node_count = m.metadata.node_count;
    record_size = m.metadata.record_size;
    node_bytes = record_size / 4;
    data_start = (uint64_t)(m.data_section - m.file_content);
    MMDB_close(&m);
    printf("test db: %u nodes, %u-bit records, data at %llu of %zu bytes\n", node_count,
           record_size, (unsigned long long)data_start, good_len);
    test_good();
    test_tree();
    test_truncated_and_garbage();
    free(good);
    return check_report();
}
