/* zone_master.c: fuzz target for the RFC 1035 master-file loader (directives, the line splitter,
 * ldns records, DNAME and occlusion rules); a zone that loads is then asked a few questions
 * through query_process() so DNAME synthesis and additional addresses meet fuzzed data. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "zone_fuzz.h"

static uint8_t out[65536];

static void ask(const query_env_t *env, const zone_t *z, const uint8_t *prefix, size_t plen,
                uint16_t type)
{
    uint8_t q[DNS_HDR_LEN + DNS_MAX_NAME + 4] = {0x12, 0x34, 0x01, 0x00, 0, 1};
    if (plen + z->apexlen > DNS_MAX_NAME)
        return;
    if (plen)
        memcpy(q + DNS_HDR_LEN, prefix, plen);
    memcpy(q + DNS_HDR_LEN + plen, z->apex, z->apexlen);
    size_t n = DNS_HDR_LEN + plen + z->apexlen;
    q[n++] = (uint8_t)(type >> 8);
    q[n++] = (uint8_t)type;
    q[n++] = 0;
    q[n++] = 1;
    struct sockaddr_in src = {.sin_family = AF_INET};
    size_t len = query_process(env, q, n, out, 4096, 0, (struct sockaddr *)&src);
    if (len > 512 || (len && (len < DNS_HDR_LEN || !(out[2] & 0x80))))
        abort(); /* within the UDP limit without EDNS, and a reply */
}

/* A few questions at, below and beside the apex, of the types with special answers. */
static void ask_all(zone_t *z, arena_t *a)
{
    zone_set_t zs;
    char err[1024];
    if (zone_set_build(&zs, &z, 1, a, err, sizeof(err)) != 0)
        return;
    query_env_t env = {.zones = &zs, .udp_size = 1232};
    static const uint8_t x[] = {1, 'x'}, www[] = {3, 'w', 'w', 'w', 1, 'd'};
    static const uint16_t types[] = {DNS_TYPE_A,   DNS_TYPE_NS,    DNS_TYPE_MX,
                                     DNS_TYPE_SRV, DNS_TYPE_DNAME, DNS_TYPE_ANY};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        ask(&env, z, NULL, 0, types[i]);
        ask(&env, z, x, sizeof(x), types[i]);
        ask(&env, z, www, sizeof(www), types[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_zone_run("fuzz.test.zone", data, size, ask_all);
}
