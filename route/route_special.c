/* route_special.c: the special-purpose address ranges (see route_special.h): which range an
 * address is in, the list of ranges, and how far a network around a client must be cut to stay
 * clear of them. */
#include "route_special.h"

#include <string.h>
#include <sys/socket.h>

#include "addr.h"

/* The ranges route_special_prefix() knows, as a list: the trie of cuts (rtable.c mt_build) and
 * route_special_clamp() read it; route_special_prefix() tests the same ranges by hand, the
 * cheaper form for the query path (tests/unit/route/test_rtable.c checks that the two agree). */
static const route_special_range_t special_ranges[] = {
    {AF_INET, {0}, 8},
    {AF_INET, {10}, 8},
    {AF_INET, {127}, 8},
    {AF_INET, {224}, 4},
    {AF_INET, {240}, 4},
    {AF_INET, {169, 254}, 16},
    {AF_INET, {172, 16}, 12},
    {AF_INET, {192, 168}, 16},
    {AF_INET6, {0}, 128},
    {AF_INET6, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128},
    {AF_INET6, {0xff}, 8},
    {AF_INET6, {0xfc}, 7},
    {AF_INET6, {0xfe, 0x80}, 10},
};
#define NSPECIAL (sizeof(special_ranges) / sizeof(special_ranges[0]))

size_t route_special_ranges(const route_special_range_t **out)
{
    *out = special_ranges;
    return NSPECIAL;
}

static uint8_t v4_special(const uint8_t *a)
{
    if (a[0] == 0 || a[0] == 10 || a[0] == 127)
        return 8;
    if (a[0] >= 224)
        return 4; /* 224/4 multicast, 240/4 reserved */
    if (a[0] == 169 && a[1] == 254)
        return 16;
    if (a[0] == 172 && (a[1] & 0xF0) == 16)
        return 12;
    if (a[0] == 192 && a[1] == 168)
        return 16;
    return 0;
}

uint8_t route_special_prefix(int family, const uint8_t *a)
{
    static const uint8_t zero[15] = {0};
    if (family == AF_INET)
        return v4_special(a);
    if (family != AF_INET6)
        return 0;
    if (addr_v4mapped(a)) {
        uint8_t p = v4_special(a + 12);
        return p ? (uint8_t)(96 + p) : 0;
    }
    if (!memcmp(a, zero, 15) && a[15] <= 1)
        return 128; /* :: and ::1 */
    if (a[0] == 0xff)
        return 8;
    if ((a[0] & 0xFE) == 0xFC)
        return 7;
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80)
        return 10;
    return 0;
}

/* The length that keeps the block addr/prefix clear of the range net/netprefix when addr is not
 * in it: prefix itself unless the block holds the range, else one bit past where addr leaves the
 * range's path. bits: 32 or 128. */
static uint8_t clear_of(const uint8_t *addr, uint8_t prefix, const uint8_t *net, uint8_t netprefix,
                        unsigned bits)
{
    if (netprefix <= prefix || !addr_prefix_match(addr, net, prefix))
        return prefix;
    unsigned d = prefix;
    while (d < netprefix && d < bits && !((addr[d / 8] ^ net[d / 8]) & (0x80 >> (d % 8))))
        d++;
    return d < netprefix ? (uint8_t)(d + 1) : prefix; /* d == netprefix: addr is in the range */
}

uint8_t route_special_clamp(int family, const uint8_t *addr, uint8_t prefix)
{
    unsigned bits = family == AF_INET ? 32 : 128;
    uint8_t p = prefix > bits ? (uint8_t)bits : prefix;
    if (family == AF_INET6 && !addr_v4mapped(addr)) {
        static const uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff};
        p = clear_of(addr, p, mapped, 96, 128); /* answered as IPv4 */
    }
    for (size_t i = 0; i < NSPECIAL; i++) {
        if (special_ranges[i].family == family) {
            p = clear_of(addr, p, special_ranges[i].addr, special_ranges[i].prefix, bits);
        } else if (family == AF_INET6 && addr_v4mapped(addr)) {
            uint8_t m[16] = {[10] = 0xff, [11] = 0xff};
            memcpy(m + 12, special_ranges[i].addr, 4);
            p = clear_of(addr, p, m, (uint8_t)(96 + special_ranges[i].prefix), 128);
        }
    }
    return p;
}
