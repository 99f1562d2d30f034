/* test_addr.c: common/addr.h: the IPv4-mapped test, the sockaddr address bytes (mapped folded
 * to IPv4, other families refused), prefix matching at byte and bit boundaries, and the prefix
 * parser with malformed input. */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "addr.h"
#include "check.h"

static void good_prefix(const char *s, int want_fam, unsigned want_bits, uint8_t first,
                        uint8_t last)
{
    int fam = 0;
    unsigned bits = 999;
    uint8_t a[16];
    memset(a, 0xAA, sizeof(a));
    int rc = addr_prefix_parse(s, &fam, a, &bits);
    size_t n = want_fam == AF_INET ? 4 : 16;
    CHECK(rc == 0 && fam == want_fam && bits == want_bits && a[0] == first && a[n - 1] == last,
          "'%s': rc %d family %d bits %u", s, rc, fam, bits);
    CHECK(n == 16 || (a[4] == 0 && a[15] == 0), "'%s': bytes past an IPv4 address are zero", s);
}

static void bad_prefix(const char *s)
{
    int fam = 77;
    unsigned bits = 999;
    uint8_t a[16];
    memset(a, 0xAA, sizeof(a));
    CHECK(addr_prefix_parse(s, &fam, a, &bits) == -EINVAL, "'%s' refused", s);
    CHECK(fam == 77 && bits == 999 && a[0] == 0xAA, "'%s': outputs untouched", s);
}

static void test_prefix_parse(void)
{
    good_prefix("10.1.0.0/16", AF_INET, 16, 10, 0);
    good_prefix("192.0.2.7", AF_INET, 32, 192, 7);
    good_prefix("0.0.0.0/0", AF_INET, 0, 0, 0);
    good_prefix("2001:db8::/32", AF_INET6, 32, 0x20, 0);
    good_prefix("::1", AF_INET6, 128, 0, 1);
    good_prefix("::ffff:192.0.2.1/128", AF_INET6, 128, 0, 1);
    good_prefix("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128", AF_INET6, 128, 0xff, 0xff);
    bad_prefix("");
    bad_prefix("/8");
    bad_prefix("10.0.0.0/");
    bad_prefix("10.0.0.0/33");
    bad_prefix("::/129");
    bad_prefix("10.0.0.0/x");
    bad_prefix("10.0.0.0/8x");
    bad_prefix("10.0.0.0/ 8");
    bad_prefix("10.0.0.0/+8");
    bad_prefix("10.0.0.0/-1");
    bad_prefix("10.0.0.0/0008");
    bad_prefix("10.0.0.0/8/8");
    bad_prefix("example.com");
    bad_prefix("10.0.0");
    bad_prefix(" 10.0.0.0");
    /* Longer than any address text: refused whole, not cut to a valid prefix. */
    bad_prefix("0000:0000:0000:0000:0000:0000:0000:0000:0000/8");
}

int main(void)
{
    test_prefix_parse();
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
