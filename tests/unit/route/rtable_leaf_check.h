/* rtable_leaf_check.h: the merged tables' own invariant, for unit.rtable and the geo_table fuzz
 * target: the leaf an address reaches stands for its whole prefix and no more. */
#ifndef TESTS_RTABLE_LEAF_CHECK_H
#define TESTS_RTABLE_LEAF_CHECK_H

#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "rtable.h"

/* Look up a (family fam, 16 bytes) for policy pol and query family qfam, then check that
 * - the address with a's first depth bits and the bits of rest after them reaches the same leaf
 *   (answer, depth, special);
 * - the address across the leaf's last bit reaches another leaf (equal siblings are merged);
 * - for IPv4, ::ffff:a.b.c.d reaches the same answer 96 bits deeper.
 * Returns NULL when all hold (or pol has no table), else what failed; *depth gets the leaf's
 * depth (0 when pol has no table). */
static inline const char *rtable_leaf_check(const route_table_t *t, uint32_t pol, int fam,
                                            const uint8_t *a, int qfam, const uint8_t *rest,
                                            unsigned *depth)
{
    route_table_hit_t ha, hb;
    *depth = 0;
    if (!route_table_lookup(t, pol, fam, a, qfam, &ha))
        return NULL;
    unsigned bits = fam == AF_INET ? 32 : 128;
    *depth = ha.depth;
    if (ha.depth > bits)
        return "depth past the address length";
    uint8_t b[16];
    memcpy(b, rest, 16);
    for (unsigned d = 0; d < ha.depth; d++) {
        uint8_t m = (uint8_t)(0x80u >> (d % 8));
        b[d / 8] = (uint8_t)((b[d / 8] & ~m) | (a[d / 8] & m));
    }
    if (!route_table_lookup(t, pol, fam, b, qfam, &hb) || hb.dec != ha.dec ||
        hb.depth != ha.depth || hb.special != ha.special)
        return "another leaf inside the prefix";
    if (ha.depth) {
        memcpy(b, a, 16);
        b[(ha.depth - 1) / 8] ^= (uint8_t)(0x80u >> ((ha.depth - 1) % 8));
        if (route_table_lookup(t, pol, fam, b, qfam, &hb) && hb.dec == ha.dec &&
            hb.depth == ha.depth && hb.special == ha.special)
            return "the same leaf across its last bit";
    }
    if (fam == AF_INET) {
        uint8_t m6[16] = {[10] = 0xff, [11] = 0xff};
        memcpy(m6 + 12, a, 4);
        if (!route_table_lookup(t, pol, AF_INET6, m6, qfam, &hb) || hb.dec != ha.dec ||
            hb.depth != ha.depth + 96)
            return "::ffff:a.b.c.d not 96 bits deeper";
    }
    return NULL;
}

#endif
