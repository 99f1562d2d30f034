/* route_special.h: special-purpose address ranges, answered from the resolver's address and
 * never merged with the networks around them (docs/geo.md). No allocation; safe on the query
 * path. */
#ifndef GEODNS_ROUTE_SPECIAL_H
#define GEODNS_ROUTE_SPECIAL_H

#include <stddef.h>
#include <stdint.h>

/* The prefix length of the special-purpose range (RFC 6890: this network, private, shared,
 * loopback, link-local, benchmarking, multicast, reserved; ::, ::1, fc00::/7, fe80::/10,
 * ff00::/8; IPv4-mapped IPv6 by its IPv4 address, plus 96) containing addr, or 0 when addr is
 * not in one. The documentation ranges, 100.64.0.0/10 and 198.18.0.0/15 are usable (test
 * databases place them): see docs/geo.md. */
uint8_t route_special_prefix(int family, const uint8_t *addr);

/* Those ranges as a list (IPv4 ones also stand, plus 96, inside ::ffff:0:0/96): *out gets the
 * static array; returns its length. */
typedef struct route_special_range {
    int family;
    uint8_t addr[16];
    uint8_t prefix;
} route_special_range_t;
size_t route_special_ranges(const route_special_range_t **out);

/* For a client addr outside every special range, located in a network of prefix bits: the
 * shortest length, at least prefix, whose block around addr holds no special range (nor, for an
 * IPv6 address that is not IPv4-mapped, any of ::ffff:0:0/96, located as IPv4). An ECS scope
 * taken from the matched network alone would otherwise cover addresses answered differently. */
uint8_t route_special_clamp(int family, const uint8_t *addr, uint8_t prefix);

#endif
