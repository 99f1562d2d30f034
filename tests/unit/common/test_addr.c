/* test_addr.c: common/addr.h: the IPv4-mapped test, the sockaddr address bytes (mapped folded
 * to IPv4, other families refused) and prefix matching at byte and bit boundaries. */
#include <arpa/inet.h>
#include <string.h>

#include "addr.h"
#include "check.h"

int main(void)
{
    uint8_t a[16];
    CHECK(inet_pton(AF_INET6, "::ffff:192.0.2.7", a) == 1 && addr_v4mapped(a), "::ffff:v4 mapped");
    CHECK(inet_pton(AF_INET6, "::192.0.2.7", a) == 1 && !addr_v4mapped(a), "v4-compat not mapped");
    CHECK(inet_pton(AF_INET6, "::fffe:192.0.2.7", a) == 1 && !addr_v4mapped(a),
          "::fffe not mapped");
    CHECK(inet_pton(AF_INET6, "1::ffff:192.0.2.7", a) == 1 && !addr_v4mapped(a),
          "nonzero first bytes not mapped");

    struct sockaddr_in sin = {.sin_family = AF_INET};
    inet_pton(AF_INET, "198.51.100.9", &sin.sin_addr);
    int fam = 0;
    const uint8_t *b = addr_sockaddr_bytes((const struct sockaddr *)&sin, &fam);
    CHECK(b && fam == AF_INET && b[0] == 198 && b[3] == 9, "IPv4 bytes");

    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET6, "::ffff:203.0.113.5", &sin6.sin6_addr);
    fam = 0;
    b = addr_sockaddr_bytes((const struct sockaddr *)&sin6, &fam);
    CHECK(b && fam == AF_INET && b[0] == 203 && b[3] == 5, "mapped counts as IPv4");
    inet_pton(AF_INET6, "2001:db8::1", &sin6.sin6_addr);
    b = addr_sockaddr_bytes((const struct sockaddr *)&sin6, &fam);
    CHECK(b && fam == AF_INET6 && b[0] == 0x20 && b[15] == 1, "IPv6 bytes");

    struct sockaddr sun = {.sa_family = AF_UNIX};
    fam = 77;
    CHECK(!addr_sockaddr_bytes(&sun, &fam) && fam == 77, "other family: NULL, family untouched");
    CHECK(!addr_sockaddr_bytes(NULL, &fam) && fam == 77, "NULL sockaddr: NULL");

    uint8_t p[4] = {10, 1, 0xA0, 0}, q[4] = {10, 1, 0xBF, 9};
    CHECK(addr_prefix_match(p, q, 0), "/0 matches all");
    CHECK(addr_prefix_match(p, q, 16), "/16 byte boundary");
    CHECK(addr_prefix_match(p, q, 19), "/19: 0xA0 and 0xBF share 3 bits");
    CHECK(!addr_prefix_match(p, q, 20), "/20: they differ in bit 4");
    CHECK(!addr_prefix_match(p, q, 32), "/32 differs");
    CHECK(addr_prefix_match(q, q, 32), "/32 same address");
    return check_report();
}
