/* test_addr.c: common/addr.h: the IPv4-mapped test, the sockaddr address bytes (mapped folded
 * to IPv4, other families refused), prefix matching at byte and bit boundaries, and the address
 * and prefix parsers with malformed input, and the access lists built on them. */
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

static void good_addr(const char *s, int want_fam, const char *want_bytes)
{
    int fam = 0;
    uint8_t a[16], want[16] = {0};
    memset(a, 0xAA, sizeof(a));
    /* The expected bytes through inet_pton of the canonical text. */
    CHECK(inet_pton(want_fam, want_bytes, want) == 1, "test bug: '%s'", want_bytes);
    int rc = addr_parse(s, &fam, a);
    CHECK(rc == 0 && fam == want_fam && !memcmp(a, want, 16), "'%s': rc %d family %d", s, rc, fam);
}

static void bad_addr(const char *s)
{
    int fam = 77;
    uint8_t a[16];
    memset(a, 0xAA, sizeof(a));
    CHECK(addr_parse(s, &fam, a) == -EINVAL, "'%s' refused", s);
    CHECK(fam == 77 && a[0] == 0xAA && a[15] == 0xAA, "'%s': outputs untouched", s);
}

static void test_addr_parse(void)
{
    good_addr("192.0.2.7", AF_INET, "192.0.2.7"); /* bytes 4..15 zero: want[] is zeroed */
    good_addr("0.0.0.0", AF_INET, "0.0.0.0");
    good_addr("255.255.255.255", AF_INET, "255.255.255.255");
    good_addr("2001:db8::1", AF_INET6, "2001:db8::1");
    good_addr("2001:DB8:0:0:0:0:0:1", AF_INET6, "2001:db8::1");
    good_addr("::", AF_INET6, "::");
    /* IPv4-mapped stays IPv6: the PoP lists and health files keep the family as written. */
    good_addr("::ffff:1.2.3.4", AF_INET6, "::ffff:1.2.3.4");
    good_addr("::ffff:0102:0304", AF_INET6, "::ffff:1.2.3.4");
    good_addr("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", AF_INET6,
              "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255");
    bad_addr("");
    bad_addr("1.2.3");
    bad_addr("1.2.3.4.5");
    bad_addr("1.2.3.256");
    bad_addr("01.2.3.4"); /* no octal or leading zeros (inet_aton would take them) */
    bad_addr("0x1.2.3.4");
    bad_addr("16909060"); /* one number: inet_aton's form, not an address here */
    bad_addr("1.2.3.4x");
    bad_addr("1.2.3.4.");
    bad_addr("::1x");
    bad_addr("2001:db8::1::2");
    bad_addr("1:2:3:4:5:6:7:8:9");
    bad_addr("12345::");
    bad_addr(":::");
    bad_addr("::ffff:1.2.3");
    bad_addr(" 1.2.3.4");
    bad_addr("1.2.3.4 ");
    bad_addr("1.2.3.4\n");
    bad_addr("\t::1");
    bad_addr("1.2. 3.4");
    bad_addr("[::1]");
    bad_addr("fe80::1%eth0");
    bad_addr("1.2.3.4:53");
    bad_addr("example.com");
    /* A prefix is not a bare address, not even the full-length one. */
    bad_addr("192.0.2.0/24");
    bad_addr("192.0.2.7/32");
    bad_addr("2001:db8::/32");
    bad_addr("::1/128");
    /* Longer than any address text. */
    bad_addr("0000:0000:0000:0000:0000:0000:0000:0000:0000");
    bad_addr("0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:"
             "0000:0000:0000:0000:0000:0000:0000:0000:0000");
    bad_addr("1.2.3.4.1.2.3.4.1.2.3.4.1.2.3.4.1.2.3.4.1.2.3.4.1.2.3.4.1.2.3.4.1.2.3.4.1.2.3.4");
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

/* The access lists: addr_net_parse and addr_net_list_match over both families. */
static void test_net_list(void)
{
    addr_net_t l[3];
    CHECK(addr_net_parse("10.1.0.0/16", &l[0]) == 0 && l[0].family == AF_INET && l[0].bits == 16,
          "parse a v4 range");
    CHECK(addr_net_parse("2001:db8::/32", &l[1]) == 0 && l[1].family == AF_INET6 && l[1].bits == 32,
          "parse a v6 range");
    CHECK(addr_net_parse("192.0.2.128/25", &l[2]) == 0, "parse a /25");
    addr_net_t keep = l[2];
    CHECK(addr_net_parse("10.0.0.0/33", &l[2]) == -EINVAL && !memcmp(&keep, &l[2], sizeof(keep)),
          "a bad range is refused, its output untouched");
    struct sockaddr_in in = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    inet_pton(AF_INET, "10.1.255.3", &in.sin_addr);
    CHECK(addr_net_list_match(l, 3, (struct sockaddr *)&in), "10.1.255.3 in 10.1/16");
    inet_pton(AF_INET, "10.2.0.1", &in.sin_addr);
    CHECK(!addr_net_list_match(l, 3, (struct sockaddr *)&in), "10.2.0.1 in none");
    inet_pton(AF_INET, "192.0.2.200", &in.sin_addr);
    CHECK(addr_net_list_match(l, 3, (struct sockaddr *)&in), "the /25's upper half");
    inet_pton(AF_INET, "192.0.2.100", &in.sin_addr);
    CHECK(!addr_net_list_match(l, 3, (struct sockaddr *)&in), "not its lower half");
    inet_pton(AF_INET6, "2001:db8:7::1", &in6.sin6_addr);
    CHECK(addr_net_list_match(l, 3, (struct sockaddr *)&in6), "a v6 address in its range");
    inet_pton(AF_INET6, "::ffff:10.1.2.3", &in6.sin6_addr);
    CHECK(addr_net_list_match(l, 3, (struct sockaddr *)&in6), "IPv4-mapped matches a v4 range");
    CHECK(!addr_net_list_match(l, 0, (struct sockaddr *)&in6), "an empty list matches nothing");
    CHECK(!addr_net_list_match(l, 3, NULL), "no address matches nothing");
}

int main(void)
{
    test_addr_parse();
    test_prefix_parse();
    test_net_list();
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
