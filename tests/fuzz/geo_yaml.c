/* geo_yaml.c: libFuzzer target for the nets, PoP file and geo policy parsers and the nets trie. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "geoip.h"
#include "pops.h"
#include "route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    yt_doc_t *doc = NULL;
    if (yt_doc_load_buffer("fuzz.yaml", (const char *)data, size, &doc, err, sizeof(err)))
        return 0;
    const yt_node_t *root = yt_doc_root(doc);

    /* The same document is tried as each kind of file; most inputs fail early in all but one. */
    geoip_nets_t *nets = NULL;
    if (geoip_nets_parse(root, &nets, err, sizeof(err)) == 0) {
        uint8_t a[16] = {0};
        memcpy(a, data, size < 16 ? size : 16);
        (void)geoip_nets_lookup(nets, AF_INET, a);
        (void)geoip_nets_lookup(nets, AF_INET6, a);
        for (size_t i = 0; i < geoip_nets_count(nets); i++) {
            const geoip_net_t *e = geoip_nets_entry(nets, i);
            const geoip_net_t *hit = geoip_nets_lookup(nets, e->family, e->addr);
            /* An entry's own network address must find an entry at least as specific. */
            if (!hit || hit->prefix < e->prefix)
                __builtin_trap();
        }
    }

    pops_t *pops = NULL;
    if (pops_parse(root, &pops, err, sizeof(err)) == 0) {
        route_policy_t *pol = NULL;
        const yt_node_t *geo = root->kind == YT_MAP ? yt_map_get(root, "geo") : NULL;
        if (geo && route_policy_parse(geo, pops, &pol, err, sizeof(err)) == 0) {
            route_client_t c = {.located = true,
                                .lat = 48.85,
                                .lon = 2.35,
                                .country = "FR",
                                .continent = "EU",
                                .hash = (uint32_t)size};
            route_decision_t d;
            char buf[4096];
            (void)route_rank(pol, pops, &c, NULL, AF_INET6, &d, NULL);
            (void)route_explain(buf, sizeof(buf), pol, pops, &c, NULL, AF_INET, 24, 16, 24);
            /* With a health view derived from the input: some PoPs down, full or shedding. */
            static route_health_t h;
            memset(&h, 0, sizeof(h));
            for (size_t i = 0; i < POPS_MAX; i++) {
                uint8_t b = data[i % size];
                h.up[i] = b & 1;
                h.keep[i] = (uint16_t)(b & 2 ? ROUTE_SHARE_ONE : (b >> 2) * 1000u);
                h.weight[i] = b & 4 ? b : 0;
                h.load[i] = (uint16_t)(b * 5);
                h.addr4[i] = h.addr6[i] = (uint16_t)(b & 8 ? 0xffff : b >> 4);
                h.short_ttl[i] = b & 16;
            }
            h.ttl_short = 10;
            h.spill = 1 + size % 4;
            (void)route_rank(pol, pops, &c, &h, AF_INET, &d, NULL);
            (void)route_explain(buf, sizeof(buf), pol, pops, &c, &h, AF_INET6, 24, 16, 24);
            c.located = false;
            (void)route_rank(pol, pops, &c, NULL, AF_INET, &d, NULL);
            route_policy_free(pol);
        }
        if (nets) {
            uint16_t idx[GEOIP_NET_POPS_MAX];
            for (size_t i = 0; i < geoip_nets_count(nets); i++)
                (void)pops_resolve_net(pops, geoip_nets_entry(nets, i), idx, err, sizeof(err));
        }
        pops_free(pops);
    }
    geoip_nets_free(nets);
    yt_doc_free(doc);
    return 0;
}
