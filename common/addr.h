/* addr.h: the IP address helpers the programs share: IPv4-mapped IPv6, the address bytes of a
 * sockaddr, prefix matching (inline: the query path calls them) and the address and prefix
 * parsers of the config readers. */
#ifndef COMMON_ADDR_H
#define COMMON_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* addr_v4mapped: whether the 16-byte IPv6 address a is IPv4-mapped (::ffff:0:0/96); its IPv4
 * address is then a[12..16). */
static inline bool addr_v4mapped(const uint8_t a[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return !memcmp(a, mapped, sizeof(mapped));
}

/* addr_sockaddr_bytes: the address bytes of sa (borrowed: they point into *sa) and its family
 * in *family, with an IPv4-mapped IPv6 address counted as IPv4 (the pointer then skips the
 * 12-byte prefix). 4 bytes for AF_INET, 16 for AF_INET6. Returns NULL, *family untouched, when
 * sa is NULL or of another family. */
static inline const uint8_t *addr_sockaddr_bytes(const struct sockaddr *sa, int *family)
{
    if (sa && sa->sa_family == AF_INET) {
        *family = AF_INET;
        return (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
    }
    if (sa && sa->sa_family == AF_INET6) {
        const uint8_t *a = (const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (addr_v4mapped(a)) {
            *family = AF_INET;
            return a + 12;
        }
        *family = AF_INET6;
        return a;
    }
    return NULL;
}

/* addr_prefix_match: whether the first bits bits of the addresses a and p are equal (bits no
 * more than 8 times the length of both). */
static inline bool addr_prefix_match(const uint8_t *a, const uint8_t *p, unsigned bits)
{
    unsigned full = bits / 8, rest = bits % 8;
    if (memcmp(a, p, full))
        return false;
    if (!rest)
        return true;
    uint8_t m = (uint8_t)(0xff << (8 - rest));
    return (a[full] & m) == (p[full] & m);
}

/* An address range: family AF_INET or AF_INET6, its address bytes (4 or 16 used) and prefix
 * length: the entries of the access lists (rrl.exempt, metrics.allow, upload_allow,
 * status_allow). */
typedef struct addr_net {
    uint8_t family;
    uint8_t bits;
    uint8_t addr[16];
} addr_net_t;

/* addr_net_list_match: whether the address of sa (an IPv4-mapped IPv6 address counted as IPv4)
 * lies inside one of the n ranges of list. False for a NULL sa or another family. */
static inline bool addr_net_list_match(const addr_net_t *list, size_t n, const struct sockaddr *sa)
{
    int fam;
    const uint8_t *a = addr_sockaddr_bytes(sa, &fam);
    if (!a)
        return false;
    for (size_t i = 0; i < n; i++)
        if (list[i].family == fam && addr_prefix_match(a, list[i].addr, list[i].bits))
            return true;
    return false;
}

/* addr_parse: a bare IPv4 address in dotted-quad form ("192.0.2.7") or IPv6 address in
 * RFC 4291 text form ("2001:db8::1", "::ffff:192.0.2.7") into *family (AF_INET or AF_INET6)
 * and addr (4 or 16 bytes used, the rest zero). An IPv4-mapped IPv6 address stays AF_INET6.
 * No prefix, blank, zone index or other text around the address. Returns 0, or -EINVAL
 * (outputs untouched) for anything else. */
int addr_parse(const char *s, int *family, uint8_t addr[16]);

/* addr_prefix_parse: "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or /128) into
 * *family (AF_INET or AF_INET6), addr (4 or 16 bytes used, the rest zero) and *bits. The
 * prefix length is 1 to 3 decimal digits, at most 32 or 128. Returns 0, or -EINVAL (outputs
 * untouched) for anything else, text too long for an address included. Bits past the prefix
 * are kept as written. */
int addr_prefix_parse(const char *s, int *family, uint8_t addr[16], unsigned *bits);

/* addr_net_parse: addr_prefix_parse into *out. Returns 0, or -EINVAL (out untouched). */
int addr_net_parse(const char *s, addr_net_t *out);

#endif
