/* test_dname.c: dns_name_from_text: valid names in wire form, malformed ones refused; the longest
 * name text round-trips through dns_name_to_str. */
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

/* The longest text a wire name makes: 255 bytes in labels of 63, 63, 63 and 61 bytes that all
 * need \DDD (and a '.' and a '\' written as "\." and "\\"). dns_name_to_str writes it whole into
 * DNS_NAME_TEXT_MAX bytes, and dns_name_from_text reads it back to the same wire bytes. */
static void test_text_round_trip(void)
{
    static const uint8_t lens[4] = {63, 63, 63, 61};
    uint8_t wire[DNS_MAX_NAME];
    size_t w = 0;
    unsigned v = 0;
    for (int l = 0; l < 4; l++) {
        wire[w++] = lens[l];
        for (int i = 0; i < lens[l]; i++, v++) {
            unsigned u = v % 162; /* the 162 bytes written as \DDD: 0..32 and 127..255 */
            wire[w++] = (uint8_t)(u < 33 ? u : 127 + (u - 33));
        }
    }
    wire[w++] = 0;
    wire[1] = '.';
    wire[2] = '\\';
    CHECK(w == DNS_MAX_NAME, "wire name of %zu bytes", w);

    char text[DNS_NAME_TEXT_MAX + 8];
    memset(text, 'Z', sizeof(text));
    dns_name_to_str(wire, text, DNS_NAME_TEXT_MAX);
    size_t tl = strnlen(text, DNS_NAME_TEXT_MAX);
    /* 248 bytes as \DDD, 2 as \. and \\, 4 dots. */
    CHECK(tl == 248 * 4 + 2 * 2 + 4 && tl < DNS_NAME_TEXT_MAX, "text of %zu characters", tl);
    CHECK(text[DNS_NAME_TEXT_MAX] == 'Z', "nothing written past DNS_NAME_TEXT_MAX");
    uint8_t back[DNS_MAX_NAME];
    size_t bl = 0;
    CHECK(dns_name_from_text(text, back, &bl) == 0 && bl == w && !memcmp(back, wire, w),
          "the text reads back to the same %zu wire bytes (got %zu)", w, bl);

    /* Exactly the text's size is enough; a smaller buffer cuts it short but stays in bounds. */
    char exact[248 * 4 + 2 * 2 + 4 + 1];
    dns_name_to_str(wire, exact, sizeof(exact));
    CHECK(!strcmp(exact, text), "a buffer of strlen + 1 bytes holds it");
    char small[40];
    memset(small, 'Z', sizeof(small));
    dns_name_to_str(wire, small, 32);
    CHECK(strnlen(small, 32) < 32 && small[32] == 'Z', "a 32-byte buffer: cut, NUL-terminated");
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
    test_text_round_trip();
    return check_report();
}
