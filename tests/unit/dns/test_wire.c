/* test_wire.c: name reading (compression rules), the compressing writer and its limits, the
 * question parser's lower-casing and the short copy helper. */
#include <string.h>

#include "check.h"
#include "wire.h"

static void test_name_read(void)
{
    uint8_t out[DNS_MAX_NAME];
    /* header (12) + "\3www\7example\0" + pointer to 16 ("example") */
    uint8_t m[64] = {0};
    memcpy(m + 12, "\3www\7example\0", 13);
    m[25] = 0xC0;
    m[26] = 16;
    size_t off = 25;
    int n = dns_name_read(m, 27, &off, out);
    CHECK(n == 9 && off == 27 && !memcmp(out, "\7example\0", 9), "backward pointer followed");
    off = 12;
    n = dns_name_read(m, 27, &off, out);
    CHECK(n == 13 && off == 25, "plain name");
    /* Pointer to itself, forward pointer, pointer into the header. */
    m[25] = 0xC0, m[26] = 25;
    off = 25;
    CHECK(dns_name_read(m, 27, &off, out) < 0, "self pointer rejected");
    m[26] = 26;
    off = 25;
    CHECK(dns_name_read(m, 27, &off, out) < 0, "forward pointer rejected");
    m[26] = 2;
    off = 25;
    CHECK(dns_name_read(m, 27, &off, out) < 0, "pointer into the header rejected");
    /* Two pointers that point at each other. */
    m[20] = 0xC0, m[21] = 22, m[22] = 0xC0, m[23] = 20;
    off = 22;
    CHECK(dns_name_read(m, 24, &off, out) < 0, "pointer loop rejected");
    /* Truncated label. */
    memcpy(m + 12, "\5ab", 3);
    off = 12;
    CHECK(dns_name_read(m, 15, &off, out) < 0, "truncated label rejected");
    /* Extended label types 0x40 / 0x80. */
    m[12] = 0x41;
    off = 12;
    CHECK(dns_name_read(m, 30, &off, out) < 0, "label type 0x40 rejected");
    /* Over 255 bytes in total. */
    uint8_t big[600] = {0};
    size_t o = 12;
    for (int i = 0; i < 5; i++) {
        big[o++] = 60;
        memset(big + o, 'a', 60);
        o += 60;
    }
    big[o++] = 0;
    off = 12;
    CHECK(dns_name_read(big, o, &off, out) < 0, "name over 255 rejected");
    /* Lower-casing. */
    memcpy(m + 12, "\3WwW\0", 5);
    off = 12;
    CHECK(dns_name_read(m, 17, &off, out) == 5 && !memcmp(out, "\3www\0", 5), "lower-cased");
}

static void test_writer(void)
{
    uint8_t buf[512];
    dns_writer_t w;
    dns_writer_init(&w, buf, sizeof(buf), 0xBEEF, DNS_FLAG_QR);
    static const uint8_t a[] = "\3www\7example\4test";
    static const uint8_t b[] = "\4mail\7EXAMPLE\4test";
    CHECK(dns_writer_name(&w, a, sizeof(a)) == 0 && w.len == 12 + sizeof(a), "first name literal");
    CHECK(dns_writer_name(&w, b, sizeof(b)) == 0 && w.len == 12 + sizeof(a) + 5 + 2,
          "second name compressed case-insensitively against the first");
    CHECK(buf[12 + sizeof(a) + 5] == 0xC0 && buf[12 + sizeof(a) + 6] == 16, "points to example");
    CHECK(dns_writer_name(&w, a, sizeof(a)) == 0 && buf[w.len - 2] == 0xC0 && buf[w.len - 1] == 12,
          "repeat is one pointer");
    /* The limit: nothing partial is left behind. */
    dns_writer_t w2;
    dns_writer_init(&w2, buf, 20, 1, 0);
    dns_rdata_t rd = {.data = (const uint8_t *)"\1\2\3\4", .len = 4};
    CHECK(dns_writer_rr(&w2, DNS_SEC_AN, a, sizeof(a), 1, 60, &rd) == -1 && w2.len == 12 &&
              w2.counts[DNS_SEC_AN] == 0,
          "over the limit: rolled back");
    size_t len = dns_writer_finish(&w2, DNS_FLAG_AA, 3);
    CHECK(len == 12 && buf[0] == 0 && buf[1] == 1 && (buf[2] & 0x04) && (buf[3] & 0xF) == 3,
          "finish sets flags and rcode");
    /* Name compression inside RDATA (MX exchange). */
    dns_writer_init(&w, buf, sizeof(buf), 1, 0);
    dns_writer_name(&w, a, sizeof(a));
    uint8_t mx[64] = {0, 10};
    memcpy(mx + 2, b, sizeof(b));
    dns_rdata_t rmx = {.data = mx, .len = (uint16_t)(2 + sizeof(b)), .nnames = 1, .name_off = {2}};
    size_t before = w.len;
    CHECK(dns_writer_rr(&w, DNS_SEC_AN, a, sizeof(a), 15, 60, &rmx) == 0, "MX written");
    CHECK(w.len - before == 2 + 10 + 2 + 5 + 2, "MX owner and exchange compressed (%zu)",
          w.len - before);
    CHECK(buf[before + 10] == 0 && buf[before + 11] == 9, "rdlength counts compressed bytes");
}

static uint8_t ref_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* dns_query_parse lower-cases the question name eight bytes at a time: every byte value (the
 * ones next to 'A' and 'Z', and 0xC1..0xDA, whose low seven bits are letters) at every position
 * of names of every length, compared with a byte-wise reference; the question itself is kept. */
static void test_parse_lower(void)
{
    uint8_t pkt[12 + DNS_MAX_NAME + 4];
    dns_query_t q;
    unsigned bad = 0, tried = 0;
    for (unsigned total = 1; total <= DNS_MAX_NAME; total += (total < 40 ? 1 : 17)) {
        for (unsigned b = 0; b < 256; b++) {
            memset(pkt, 0, sizeof(pkt));
            pkt[5] = 1; /* qdcount */
            /* Labels of up to 63 bytes filling total bytes of name (root included). */
            size_t o = 12, left = total - 1;
            unsigned k = b;
            while (left > 0) {
                size_t l = left - 1 > 63 ? 63 : left - 1;
                if (l == 0) { /* one byte left: cannot start a label; lengthen the last */
                    break;
                }
                pkt[o] = (uint8_t)l;
                for (size_t i = 1; i <= l; i++)
                    pkt[o + i] = (uint8_t)(k++ % 3 == 0 ? b : (b + i) & 0xFF);
                o += l + 1;
                left -= l + 1;
            }
            pkt[o++] = 0;
            size_t nlen = o - 12;
            pkt[o + 1] = 1, pkt[o + 3] = 1; /* A IN */
            size_t len = o + 4;
            tried++;
            if (dns_query_parse(pkt, len, &q) != DNS_PARSE_OK || q.qname_len != nlen) {
                bad++;
                continue;
            }
            bool ok = q.qname_wire == pkt + 12 && q.qtype == 1 && q.qclass == 1;
            size_t i = 0;
            unsigned nl = 0;
            while (pkt[12 + i]) {
                ok = ok && q.label_off[nl] == i && q.qname[i] == pkt[12 + i];
                for (size_t j = 1; j <= pkt[12 + i]; j++)
                    ok = ok && q.qname[i + j] == ref_lower(pkt[12 + i + j]);
                i += (size_t)pkt[12 + i] + 1;
                nl++;
            }
            ok = ok && q.qname[i] == 0 && q.qname_labels == nl;
            if (!ok)
                bad++;
        }
    }
    CHECK(bad == 0, "question names lower-cased like the byte-wise reference (%u of %u differ)",
          bad, tried);
    /* A name whose labels are made of the bytes around the letters. */
    static const uint8_t edge[] = {0x0B, '@',  'A',  'Z',  '[', '`', 'a', 'z', '{',
                                   0xC1, 0xDA, 0xFF, 0x03, 'M', 'i', 'X', 0x00};
    memset(pkt, 0, sizeof(pkt));
    pkt[5] = 1;
    memcpy(pkt + 12, edge, sizeof(edge));
    pkt[12 + sizeof(edge) + 1] = 1, pkt[12 + sizeof(edge) + 3] = 1;
    static const uint8_t want[] = {0x0B, '@',  'a',  'z',  '[', '`', 'a', 'z', '{',
                                   0xC1, 0xDA, 0xFF, 0x03, 'm', 'i', 'x', 0x00};
    CHECK(dns_query_parse(pkt, 12 + sizeof(edge) + 4, &q) == DNS_PARSE_OK &&
              q.qname_len == sizeof(want) && !memcmp(q.qname, want, sizeof(want)),
          "only A..Z change; label lengths, '@', '[', 0xC1..0xDA do not");
}

/* dns_copy_short copies exactly n bytes for every n up to past a name's length, and touches
 * nothing around them. */
static void test_copy_short(void)
{
    uint8_t src[300], dst[300 + 32];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (uint8_t)(i * 7 + 1);
    unsigned bad = 0;
    for (size_t n = 0; n <= sizeof(src); n++) {
        memset(dst, 0xEE, sizeof(dst));
        dns_copy_short(dst + 16, src, n);
        bool ok = !memcmp(dst + 16, src, n);
        for (size_t i = 0; i < 16; i++)
            ok = ok && dst[i] == 0xEE;
        for (size_t i = 16 + n; i < sizeof(dst); i++)
            ok = ok && dst[i] == 0xEE;
        if (!ok)
            bad++;
    }
    CHECK(bad == 0, "dns_copy_short: %u lengths of 0..300 copied wrongly or wrote outside", bad);
}

int main(void)
{
    test_name_read();
    test_writer();
    test_parse_lower();
    test_copy_short();
    return check_report();
}
