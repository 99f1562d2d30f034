/* zone.c: name lookup over immutable zones: zone selection, delegations, exact, wildcard. */
#include "zone.h"

#include <string.h>

/* Eight bytes per step (a multiply and a shift each) rather than FNV's one: a query hashes its
 * name two or three times (zone, node, wildcard), and byte-wise FNV was a measurable part of
 * the CPU per query. The hash only has to agree with itself: tables are built with it too. */
uint32_t zone_name_hash(const uint8_t *name, size_t len)
{
    const uint64_t k = 0x9E3779B97F4A7C15u;
    uint64_t h = (uint64_t)len * k;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, name + i, 8);
        h = (h ^ v) * k;
        h ^= h >> 29;
    }
    if (i < len) {
        uint64_t v = 0;
        for (unsigned s = 0; i < len; i++, s += 8)
            v |= (uint64_t)name[i] << s;
        h = (h ^ v) * k;
        h ^= h >> 29;
    }
    h *= 0xBF58476D1CE4E5B9u;
    return (uint32_t)(h ^ (h >> 32));
}

unsigned zone_name_labels(const uint8_t *name, uint8_t *label_off)
{
    unsigned n = 0;
    size_t i = 0;
    while (name[i]) {
        label_off[n++] = (uint8_t)i;
        i += (size_t)name[i] + 1;
    }
    return n;
}

const zone_t *zone_set_find(const zone_set_t *zs, const uint8_t *name, size_t namelen,
                            const uint8_t *label_off, unsigned nlabels)
{
    if (!zs || !zs->tsize)
        return NULL;
    /* Longest suffix first: the most specific zone wins. */
    for (unsigned i = 0; i <= nlabels; i++) {
        size_t off = i < nlabels ? label_off[i] : namelen - 1;
        const uint8_t *s = name + off;
        size_t slen = namelen - off;
        uint32_t h = zone_name_hash(s, slen);
        for (uint32_t j = 0; j < zs->tsize; j++) {
            const zone_t *z = zs->table[(h + j) & (zs->tsize - 1)];
            if (!z)
                break;
            if (z->apexlen == slen && !memcmp(z->apex, s, slen))
                return z;
        }
    }
    return NULL;
}

static const zone_node_t *find_hashed(const zone_t *z, const uint8_t *name, size_t namelen,
                                      uint32_t h)
{
    for (const zone_node_t *n = z->buckets[h & (z->nbuckets - 1)]; n; n = n->next)
        if (n->hash == h && n->namelen == namelen && !memcmp(n->name, name, namelen))
            return n;
    return NULL;
}

const zone_node_t *zone_node_find(const zone_t *z, const uint8_t *name, size_t namelen)
{
    return find_hashed(z, name, namelen, zone_name_hash(name, namelen));
}

const zone_rrset_t *zone_node_rrset(const zone_node_t *n, uint16_t type)
{
    for (unsigned i = 0; i < n->nrrsets; i++)
        if (n->rrsets[i].type == type)
            return &n->rrsets[i];
    return NULL;
}

zone_match_t zone_lookup(const zone_t *z, const uint8_t *name, size_t namelen,
                         const uint8_t *label_off, unsigned nlabels, uint16_t qtype,
                         const zone_node_t **node)
{
    /* Label index of the apex within name; names below it are i-1 ... 0. */
    unsigned apex_idx = nlabels - z->apex_labels;
    const zone_node_t *encloser = z->apex_node;
    if (apex_idx > 0 && (encloser->flags & ZONE_NODE_DNAME)) {
        *node = encloser;
        return ZONE_MATCH_DNAME;
    }
    for (int i = (int)apex_idx - 1; i >= 0; i--) {
        const uint8_t *s = name + label_off[i];
        size_t slen = namelen - label_off[i];
        const zone_node_t *n = zone_node_find(z, s, slen);
        if (!n) {
            /* RFC 4592: the wildcard is "*." + the closest encloser. */
            uint8_t wild[DNS_MAX_NAME + 2];
            wild[0] = 1;
            wild[1] = '*';
            dns_copy_short(wild + 2, encloser->name, encloser->namelen);
            const zone_node_t *w = zone_node_find(z, wild, (size_t)encloser->namelen + 2);
            if (w) {
                *node = w;
                return ZONE_MATCH_WILDCARD;
            }
            *node = encloser;
            return ZONE_MATCH_NXDOMAIN;
        }
        if (n->flags & ZONE_NODE_CUT) {
            *node = n;
            if (i == 0 && qtype == DNS_TYPE_DS)
                return ZONE_MATCH_EXACT;
            return ZONE_MATCH_CUT;
        }
        if (i > 0 && (n->flags & ZONE_NODE_DNAME)) {
            *node = n;
            return ZONE_MATCH_DNAME;
        }
        encloser = n;
    }
    *node = encloser;
    return ZONE_MATCH_EXACT;
}

bool zone_set_target_ok(const zone_set_t *zs, const uint8_t *name, size_t len, bool want_addr)
{
    uint8_t offs[DNS_MAX_LABELS];
    unsigned nl = zone_name_labels(name, offs);
    const zone_t *z = zone_set_find(zs, name, len, offs, nl);
    if (!z)
        return true;
    const zone_node_t *n;
    zone_match_t m = zone_lookup(z, name, len, offs, nl, DNS_TYPE_A, &n);
    if (m == ZONE_MATCH_NXDOMAIN)
        return false;
    if (m != ZONE_MATCH_EXACT || n->geo)
        return true;
    if (!want_addr)
        return n->nrrsets > 0;
    return zone_node_rrset(n, DNS_TYPE_A) || zone_node_rrset(n, DNS_TYPE_AAAA) ||
           zone_node_rrset(n, DNS_TYPE_CNAME);
}
