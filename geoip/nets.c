/* nets.c: the custom nets file (YAML) as a binary trie for longest-prefix match, IPv4 and IPv6. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "geoip.h"
#include "grow.h"

/* Trie node: children by bit, entry index + 1 (0 = none). Node 0 is the IPv4 root, 1 IPv6. */
typedef struct nets_node {
    uint32_t child[2];
    uint32_t entry;
} nets_node_t;

struct geoip_nets {
    char *file;
    geoip_net_t *entries;
    size_t n, cap;
    nets_node_t *nodes;
    size_t nnodes, nodecap;
};

void geoip_nets_free(geoip_nets_t *nets)
{
    if (!nets)
        return;
    free(nets->file);
    free(nets->entries);
    free(nets->nodes);
    free(nets);
}

size_t geoip_nets_count(const geoip_nets_t *nets)
{
    return nets ? nets->n : 0;
}

const geoip_net_t *geoip_nets_entry(const geoip_nets_t *nets, size_t i)
{
    return nets && i < nets->n ? &nets->entries[i] : NULL;
}

int geoip_prefix_parse(const char *s, int *family, uint8_t addr[16], uint8_t *prefix)
{
    char buf[64];
    size_t len = strlen(s);
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, s, len + 1);
    char *slash = strchr(buf, '/');
    unsigned plen = 0;
    bool has_len = false;
    if (slash) {
        *slash = '\0';
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return -EINVAL;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return -EINVAL;
            plen = plen * 10 + (unsigned)(*p - '0');
        }
        has_len = true;
    }
    memset(addr, 0, 16);
    unsigned max;
    if (strchr(buf, ':')) {
        if (inet_pton(AF_INET6, buf, addr) != 1)
            return -EINVAL;
        *family = AF_INET6;
        max = 128;
    } else {
        if (inet_pton(AF_INET, buf, addr) != 1)
            return -EINVAL;
        *family = AF_INET;
        max = 32;
    }
    if (!has_len)
        plen = max;
    if (plen > max)
        return -EINVAL;
    /* Host bits must be zero, so that a typo ("10.1.2.0/16") is caught rather than guessed. */
    for (unsigned b = plen; b < max; b++)
        if (addr[b / 8] & (0x80u >> (b % 8)))
            return -EINVAL;
    *prefix = (uint8_t)plen;
    return 0;
}

static int node_new(geoip_nets_t *nets, uint32_t *out)
{
    if (grow_for(&nets->nodes, &nets->nodecap, nets->nnodes, sizeof(*nets->nodes), 256))
        return -ENOMEM;
    memset(&nets->nodes[nets->nnodes], 0, sizeof(nets_node_t));
    *out = (uint32_t)nets->nnodes++;
    return 0;
}

/* Insert entry idx; returns -EEXIST when the same prefix is already present. */
static int trie_insert(geoip_nets_t *nets, int family, const uint8_t *addr, unsigned plen,
                       uint32_t idx)
{
    uint32_t cur = family == AF_INET ? 0 : 1;
    for (unsigned b = 0; b < plen; b++) {
        unsigned bit = (addr[b / 8] >> (7 - b % 8)) & 1;
        if (!nets->nodes[cur].child[bit]) {
            uint32_t nn;
            if (node_new(nets, &nn))
                return -ENOMEM;
            nets->nodes[cur].child[bit] = nn;
        }
        cur = nets->nodes[cur].child[bit];
    }
    if (nets->nodes[cur].entry)
        return -EEXIST;
    nets->nodes[cur].entry = idx + 1;
    return 0;
}

const geoip_net_t *geoip_nets_lookup(const geoip_nets_t *nets, int family, const uint8_t *addr)
{
    if (!nets || !nets->nnodes)
        return NULL;
    if (family == AF_INET6 && addr_v4mapped(addr)) {
        family = AF_INET;
        addr += 12;
    }
    unsigned max;
    uint32_t cur;
    if (family == AF_INET) {
        max = 32;
        cur = 0;
    } else if (family == AF_INET6) {
        max = 128;
        cur = 1;
    } else {
        return NULL;
    }
    uint32_t best = nets->nodes[cur].entry;
    for (unsigned b = 0; b < max; b++) {
        unsigned bit = (addr[b / 8] >> (7 - b % 8)) & 1;
        cur = nets->nodes[cur].child[bit];
        if (!cur)
            break;
        if (nets->nodes[cur].entry)
            best = nets->nodes[cur].entry;
    }
    return best ? &nets->entries[best - 1] : NULL;
}

static int get_code(const yt_node_t *n, size_t want, char *out, const char *what, char *err,
                    size_t errlen)
{
    const char *s;
    if (yt_get_str(n, &s, err, errlen))
        return -EINVAL;
    size_t len = strlen(s);
    bool ok = len == want;
    for (size_t i = 0; ok && i < len; i++)
        ok = (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z');
    if (!ok)
        return yt_fail(err, errlen, n, "%s must be %zu letters, not '%s'", what, want, s);
    for (size_t i = 0; i < len; i++)
        out[i] = (char)(s[i] >= 'a' ? s[i] - 'a' + 'A' : s[i]);
    out[len] = '\0';
    return 0;
}

static int parse_entry(geoip_nets_t *nets, const yt_node_t *key, const yt_node_t *val,
                       geoip_net_t *e, char *err, size_t errlen)
{
    static const char *const keys[] = {"location",    "country", "continent",
                                       "subdivision", "pops",    NULL};
    if (key->kind != YT_SCALAR)
        return yt_fail(err, errlen, key, "a nets key must be a prefix like \"192.0.2.0/24\"");
    if (geoip_prefix_parse(key->str, &e->family, e->addr, &e->prefix))
        return yt_fail(err, errlen, key,
                       "'%s' is not a network prefix (address/length with zero host bits)",
                       key->str);
    e->file = nets->file;
    e->line = key->line;
    e->col = key->col;
    if (yt_map_check_keys(val, keys, "a nets entry", err, errlen))
        return -EINVAL;
    e->loc.found = true;
    e->loc.prefix = e->prefix;
    const yt_node_t *n;
    if ((n = yt_map_get(val, "location"))) {
        if (n->kind != YT_SEQ || n->n != 2)
            return yt_fail(err, errlen, n, "location must be [latitude, longitude]");
        if (yt_get_double(n->items[0], -90, 90, &e->loc.lat, err, errlen) ||
            yt_get_double(n->items[1], -180, 180, &e->loc.lon, err, errlen))
            return -EINVAL;
        e->loc.located = true;
    }
    if ((n = yt_map_get(val, "country")) && get_code(n, 2, e->loc.country, "country", err, errlen))
        return -EINVAL;
    if ((n = yt_map_get(val, "continent")) &&
        get_code(n, 2, e->loc.continent, "continent", err, errlen))
        return -EINVAL;
    if (!e->loc.continent[0] && e->loc.country[0]) {
        const char *c = geoip_country_continent(e->loc.country);
        if (c)
            memcpy(e->loc.continent, c, 3);
    }
    if ((n = yt_map_get(val, "subdivision"))) {
        const char *s;
        if (yt_get_str(n, &s, err, errlen))
            return -EINVAL;
        if (strlen(s) >= sizeof(e->loc.subdivision))
            return yt_fail(err, errlen, n, "subdivision is longer than %d bytes",
                           GEOIP_SUBDIVISION_MAX - 1);
        strcpy(e->loc.subdivision, s);
    }
    if ((n = yt_map_get(val, "pops"))) {
        if (n->kind != YT_SEQ || n->n == 0)
            return yt_fail(err, errlen, n, "pops must be a non-empty list of PoP names");
        if (n->n > GEOIP_NET_POPS_MAX)
            return yt_fail(err, errlen, n, "at most %d PoPs per nets entry", GEOIP_NET_POPS_MAX);
        for (size_t i = 0; i < n->n; i++) {
            const char *s;
            if (yt_get_str(n->items[i], &s, err, errlen))
                return -EINVAL;
            if (!*s || strlen(s) >= GEOIP_NAME_MAX)
                return yt_fail(err, errlen, n->items[i], "PoP name must be 1 to %d bytes",
                               GEOIP_NAME_MAX - 1);
            strcpy(e->pops[i], s);
            e->pop_line[i] = n->items[i]->line;
            e->pop_col[i] = n->items[i]->col;
        }
        e->npops = n->n;
    }
    if (!e->loc.located && !e->npops && !e->loc.country[0] && !e->loc.continent[0])
        return yt_fail(err, errlen, key,
                       "nets entry '%s' needs a location, a country/continent or pops", key->str);
    return 0;
}

int geoip_nets_parse(const yt_node_t *root, geoip_nets_t **out, char *err, size_t errlen)
{
    static const char *const top[] = {"nets", NULL};
    *out = NULL;
    if (!root) {
        snprintf(err, errlen, "nets file: empty document");
        return -EINVAL;
    }
    if (yt_map_check_keys(root, top, "the nets file", err, errlen))
        return -EINVAL;
    const yt_node_t *nets_node = yt_map_get(root, "nets");
    if (!nets_node)
        return yt_fail(err, errlen, root, "the nets file needs a 'nets' mapping");
    if (nets_node->kind != YT_MAP && !yt_is_null(nets_node))
        return yt_fail(err, errlen, nets_node,
                       "nets must be a mapping of prefix -> {location, country, continent, pops}");
    size_t count = nets_node->kind == YT_MAP ? nets_node->n : 0;
    geoip_nets_t *nets = calloc(1, sizeof(*nets));
    if (!nets)
        goto nomem;
    nets->file = strdup(root->file ? root->file : "");
    nets->entries = calloc(count ? count : 1, sizeof(geoip_net_t));
    if (!nets->file || !nets->entries)
        goto nomem;
    uint32_t r;
    if (node_new(nets, &r) || node_new(nets, &r))
        goto nomem;
    for (size_t i = 0; i < count; i++) {
        const yt_node_t *k = nets_node->items[2 * i], *v = nets_node->items[2 * i + 1];
        geoip_net_t *e = &nets->entries[nets->n];
        e->id = (uint32_t)nets->n;
        int rc = parse_entry(nets, k, v, e, err, errlen);
        if (rc)
            goto fail;
        /* Top bit set: never equal to an mmdb record key (a 32-bit offset + 1). */
        e->loc.key = (UINT64_C(1) << 63) | e->id;
        rc = trie_insert(nets, e->family, e->addr, e->prefix, e->id);
        if (rc == -EEXIST) {
            yt_fail(err, errlen, k, "network '%s' is listed twice", k->str);
            goto fail;
        }
        if (rc)
            goto nomem;
        nets->n++;
    }
    *out = nets;
    return 0;
nomem:
    snprintf(err, errlen, "%s: out of memory", root->file ? root->file : "nets");
    geoip_nets_free(nets);
    return -ENOMEM;
fail:
    geoip_nets_free(nets);
    return -EINVAL;
}

int geoip_nets_load(const char *path, geoip_nets_t **out, char *err, size_t errlen)
{
    yt_doc_t *doc = NULL;
    *out = NULL;
    int rc = yt_doc_load_file(path, &doc, err, errlen);
    if (rc)
        return rc;
    rc = geoip_nets_parse(yt_doc_root(doc), out, err, errlen);
    yt_doc_free(doc);
    return rc;
}

int geoip_locate(const geoip_db_t *db, const geoip_nets_t *nets, int family, const uint8_t *addr,
                 geoip_loc_t *out, const geoip_net_t **net)
{
    const geoip_net_t *e = geoip_nets_lookup(nets, family, addr);
    if (net)
        *net = e;
    if (e) {
        *out = e->loc;
        return 0;
    }
    if (!db) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    return geoip_db_lookup(db, family, addr, out);
}
