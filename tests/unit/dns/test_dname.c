/* test_dname.c: dns_name_from_text: valid names in wire form, malformed ones refused. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "dname.h"
#include "wire.h"

static void ok_name(const char *s, const char *want, size_t wantlen)
{
    uint8_t out[DNS_MAX_NAME];
    size_t len = 0;
    int rc = dns_name_from_text(s, out, &len);
    CHECK(rc == 0, "'%s': rc %d", s, rc);
    CHECK(len == wantlen && !memcmp(out, want, wantlen), "'%s': length %zu, want %zu", s, len,
          wantlen);
}

static void bad_name(const char *s)
{
    uint8_t out[DNS_MAX_NAME];
    memset(out, 0xAA, sizeof(out));
    size_t len = 12345;
    CHECK(dns_name_from_text(s, out, &len) == -EINVAL, "'%s' accepted", s ? s : "(null)");
    CHECK(len == 12345 && out[0] == 0xAA, "'%s': output written on error", s ? s : "(null)");
}

int main(void)
{
    ok_name("www.example.test.", "\3www\7example\4test", 18);
    ok_name("www.example.test", "\3www\7example\4test", 18);  /* absolute without the dot */
    ok_name("WwW.Example.TEST.", "\3WwW\7Example\4TEST", 18); /* case kept */
    ok_name(".", "", 1);
    ok_name("a\\.b.test.", "\3a.b\4test", 10);
    ok_name("\\065.test.", "\1A\4test", 8);

    /* A 63-byte label is the longest; four of them and a 61-byte one make 255 bytes. */
    char l63[64], l61[62], max[300], over[300];
    memset(l63, 'a', 63);
    l63[63] = 0;
    memset(l61, 'b', 61);
    l61[61] = 0;
    snprintf(max, sizeof(max), "%s.%s.%s.%s.", l63, l63, l63, l61);
    uint8_t out[DNS_MAX_NAME];
    size_t len = 0;
    CHECK(dns_name_from_text(max, out, &len) == 0 && len == 255, "255-byte name: len %zu", len);
    snprintf(over, sizeof(over), "%s.%s.%s.%sb.", l63, l63, l63, l61);
    bad_name(over); /* 256 bytes */
    char l64[80];
    snprintf(l64, sizeof(l64), "%sa.test.", l63);
    bad_name(l64);

    bad_name(NULL);
    bad_name("");
    bad_name("a..b.");
    bad_name("..");
    bad_name(".a");
    return check_report();
}
