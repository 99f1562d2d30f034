/* geo_table.c: libFuzzer target for the merged prefix tables over an mmdb from outside: the
 * input is an mmdb file (written to a memfd); if libmaxminddb opens it, the search tree is
 * walked into tables (route/rtable.c, geoip/prefixmap.c) for a small PoP file, a nets file and
 * two policies, and looked up (each leaf checked to stand for its whole prefix and no more:
 * rtable_leaf_check.h). A corrupt tree (records out of range, loops) must fail the build with -EIO,
 * never crash or run away. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../unit/route/rtable_leaf_check.h"
#include "geoip.h"
#include "pops.h"
#include "route.h"
#include "rtable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* libmaxminddb 1.7 leaks part of the metadata when MMDB_open refuses a file (its own bug, not
 * a path of ours): keep LeakSanitizer to our code. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libmaxminddb.so\n";
}

static const char pops_yaml[] =
    "pops:\n"
    "  fra: {location: [50.11, 8.68], country: DE, addresses: [127.0.1.1, \"fd00::1\"]}\n"
    "  nyc: {location: [40.71, -74.0], country: US, addresses: [127.0.2.1]}\n"
    "  sin: {location: [1.35, 103.82], country: SG, addresses: [127.0.3.1]}\n"
    "pools:\n  edges: [fra, nyc, sin]\n";
static const char nets_yaml[] = "nets:\n  \"192.0.2.0/25\": {pops: [nyc]}\n"
                                "  \"2001:db8::/40\": {location: [1, 1]}\n";
static const char pol1[] = "geo: {pool: edges}\n";
static const char pol2[] = "geo: {pool: edges, tie_band: 100, "
                           "fences: [{clients: {continent: EU}, pops: {continent: EU}}]}\n";

static const yt_node_t *root_of(const char *text, yt_doc_t **doc)
{
    char err[256];
    if (yt_doc_load_buffer("x.yaml", text, strlen(text), doc, err, sizeof(err)))
        return NULL;
    return yt_doc_root(*doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("mmdb", 0);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    geoip_schema_t sch;
    geoip_schema_preset("geoip2-city", &sch);
    geoip_db_t *db = NULL;
    char err[512];
    if (geoip_db_open(path, &sch, &db, err, sizeof(err))) {
        close(fd);
        return 0;
    }
    yt_doc_t *d1 = NULL, *d2 = NULL, *d3 = NULL, *d4 = NULL;
    pops_t *pops = NULL;
    geoip_nets_t *nets = NULL;
    route_policy_t *pol[2] = {NULL, NULL};
    uint16_t fixed[2][GEOIP_NET_POPS_MAX] = {{0}};
    uint8_t nfixed[2] = {0, 0};
    if (pops_parse(root_of(pops_yaml, &d1), &pops, err, sizeof(err)) ||
        geoip_nets_parse(root_of(nets_yaml, &d2), &nets, err, sizeof(err)) ||
        route_policy_parse(yt_map_get(root_of(pol1, &d3), "geo"), pops, &pol[0], err,
                           sizeof(err)) ||
        route_policy_parse(yt_map_get(root_of(pol2, &d4), "geo"), pops, &pol[1], err, sizeof(err)))
        goto out;
    int k = pops_resolve_net(pops, geoip_nets_entry(nets, 0), fixed[0], err, sizeof(err));
    nfixed[0] = (uint8_t)(k > 0 ? k : 0);
    route_table_input_t in = {.pops = pops,
                              .db = db,
                              .nets = nets,
                              .net_fixed = (const uint16_t(*)[GEOIP_NET_POPS_MAX])fixed,
                              .net_nfixed = nfixed,
                              .pol = pol,
                              .npol = 2};
    route_table_t *t = NULL;
    if (route_table_build(&in, &t, err, sizeof(err)) == 0) {
        /* The input's first bytes as an address, then 63 more drawn from them: cheap next to
         * the build, and enough to meet leaves ending at every bit of a 4-bit step. */
        uint8_t a[16] = {0};
        memcpy(a, data, size < 16 ? size : 16);
        uint64_t x = 0x9E3779B97F4A7C15u;
        for (unsigned n = 0; n < 64; n++) {
            uint8_t rest[16]; /* every bit past the leaf's depth flipped */
            for (unsigned i = 0; i < 16; i++)
                rest[i] = (uint8_t)~a[i];
            unsigned depth;
            for (uint32_t p = 1; p <= 2; p++)
                if (rtable_leaf_check(t, p, AF_INET, a, AF_INET, rest, &depth) ||
                    rtable_leaf_check(t, p, AF_INET6, a, AF_INET6, rest, &depth) ||
                    rtable_leaf_check(t, p, AF_INET6, a, AF_INET, rest, &depth))
                    __builtin_trap(); /* a bug in the tables */
            for (unsigned i = 0; i < 16; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                a[i] ^= (uint8_t)x;
            }
        }
        route_table_free(t);
    }
out:
    route_policy_free(pol[0]);
    route_policy_free(pol[1]);
    geoip_nets_free(nets);
    pops_free(pops);
    yt_doc_free(d1);
    yt_doc_free(d2);
    yt_doc_free(d3);
    yt_doc_free(d4);
    geoip_db_close(db);
    close(fd);
    return 0;
}
