/* test_wire.c: name reading (compression rules), the compressing writer and its limits, name
 * compression in big messages against a plain reference, the question parser's lower-casing and
 * the short copy helper. */
#include <stdio.h>
#include <stdlib.h>
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

/* Records of one owner one after another cost a 2-byte owner each after the first, also once the
 * 64 compression targets are full (a zone transfer's message holds hundreds of names); a record
 * that does not fit leaves the shortcut pointing at nothing past the end. */
static void test_owner_repeat(void)
{
    static uint8_t buf[16384];
    dns_writer_t w;
    dns_writer_init(&w, buf, sizeof(buf), 1, 0);
    dns_rdata_t a = {.data = (const uint8_t *)"\1\2\3\4", .len = 4};
    unsigned bad = 0, n = 0;
    for (; n < 300; n++) {
        uint8_t name[DNS_MAX_NAME];
        int l = snprintf((char *)name + 1, 32, "host%u", n);
        name[0] = (uint8_t)l;
        memcpy(name + 1 + l, "\3cdn\7example\0", 13);
        size_t nl = 1 + (size_t)l + 13;
        if (dns_writer_rr(&w, DNS_SEC_AN, name, nl, 1, 60, &a))
            break;
        size_t before = w.len;
        /* Upper case, as a zone file may spell it: still the same owner. */
        name[1] = 'H';
        if (dns_writer_rr(&w, DNS_SEC_AN, name, nl, 1, 60, &a) || w.len - before != 2 + 10 + 4)
            bad++;
    }
    CHECK(n == 300 && w.ncomp == DNS_COMP_MAX, "300 owners written, the targets full (%u)", n);
    CHECK(bad == 0, "%u of 300 repeated owners not a 2-byte pointer", bad);
    size_t off = DNS_HDR_LEN, rr = 0, wrong = 0;
    for (; off < w.len; rr++) {
        uint8_t got[DNS_MAX_NAME];
        char want[64];
        if (dns_name_read(buf, w.len, &off, got) < 0)
            break;
        snprintf(want, sizeof(want), "host%zu", rr / 2);
        wrong += got[0] != strlen(want) || memcmp(got + 1, want, got[0]);
        off += 10 + 4;
    }
    CHECK(rr == 600 && wrong == 0, "every owner reads back (%zu records, %zu wrong)", rr, wrong);
    /* A record undone (it did not fit, or a rewind) leaves no shortcut to where its owner was:
     * the same owner written there again is spelled out, not a pointer to itself. */
    static const uint8_t big[] = "\7big0001\3cdn\7example";
    static const uint8_t other[] = "\1x";
    dns_rdata_t huge = {.data = buf, .len = 200};
    dns_writer_t w2;
    uint8_t m[100];
    dns_writer_init(&w2, m, sizeof(m), 1, 0);
    CHECK(dns_writer_rr(&w2, DNS_SEC_AN, other, sizeof(other), 1, 60, &a) == 0 &&
              w2.len == DNS_HDR_LEN + 17,
          "an owner, then");
    CHECK(dns_writer_rr(&w2, DNS_SEC_AN, big, sizeof(big), 16, 60, &huge) == -1 &&
              w2.len == DNS_HDR_LEN + 17,
          "a record too big for the message: undone");
    CHECK(dns_writer_rr(&w2, DNS_SEC_AN, big, sizeof(big), 1, 60, &a) == 0 &&
              m[DNS_HDR_LEN + 17] == 7,
          "its owner again: spelled out where the undone one was");
    uint16_t counts[4] = {0, 1, 0, 0};
    dns_writer_rewind(&w2, DNS_HDR_LEN + 17, counts);
    CHECK(dns_writer_rr(&w2, DNS_SEC_AN, big, sizeof(big), 1, 60, &a) == 0 &&
              m[DNS_HDR_LEN + 17] == 7 && w2.len == DNS_HDR_LEN + 17 + 21 + 14,
          "rewound and written again: spelled out again");
}

static uint8_t ref_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* ---- name compression in big messages, against a plain reference ---- */

/* The writer's rules, written the plain way: every label start of a name written out in full is
 * a target (the first DNS_COMP_MAX, below offset 0x3FFF); a name is written as its longest
 * suffix already there, tried from the longest, each against the targets in the order added. */
typedef struct ref_writer {
    uint8_t buf[65535];
    size_t len;
    unsigned n;
    uint16_t comp[DNS_COMP_MAX];
} ref_writer_t;

/* The name in the message at off (read with dns_name_read, lower case) equals s in any case? */
static bool ref_name_eq(const ref_writer_t *r, size_t off, const uint8_t *s)
{
    uint8_t got[DNS_MAX_NAME], want[DNS_MAX_NAME];
    int n = dns_name_read(r->buf, r->len, &off, got);
    size_t i = 0;
    for (; s[i]; i += (size_t)s[i] + 1)
        for (size_t j = i; j <= i + s[i]; j++)
            want[j] = j == i ? s[j] : ref_lower(s[j]);
    want[i] = 0;
    return n == (int)(i + 1) && !memcmp(got, want, i + 1);
}

static void ref_name(ref_writer_t *r, const uint8_t *name, size_t namelen)
{
    size_t i = 0, ptr = 0;
    bool found = false;
    for (; name[i] && !found; i += found ? 0 : (size_t)name[i] + 1)
        for (unsigned c = 0; c < r->n && !found; c++)
            if (ref_name_eq(r, r->comp[c], name + i)) {
                ptr = r->comp[c];
                found = true;
            }
    size_t start = r->len, lit = found ? i : namelen;
    memcpy(r->buf + r->len, name, lit);
    r->len += lit;
    if (found) {
        r->buf[r->len++] = (uint8_t)(0xC0 | ptr >> 8);
        r->buf[r->len++] = (uint8_t)ptr;
    }
    for (size_t o = start; r->buf[o] && (r->buf[o] & 0xC0) == 0; o += (size_t)r->buf[o] + 1)
        if (r->n < DNS_COMP_MAX && o < 0x3FFF)
            r->comp[r->n++] = (uint16_t)o;
}

/* A random name of 1-6 labels from a small set of labels in random case, so that suffixes
 * repeat often, at every depth. */
static size_t random_name(uint8_t *out)
{
    static const char *const lab[] = {"www", "cdn",    "example", "test",  "a",
                                      "b",   "edge",   "x1",      "video", "sub",
                                      "org", "h12345", "mail",    "ns1",   "z"};
    size_t nl = 1 + (size_t)rand() % 6, o = 0;
    for (size_t k = 0; k < nl; k++) {
        const char *l = lab[(size_t)rand() % (sizeof(lab) / sizeof(lab[0]))];
        size_t len = strlen(l);
        out[o++] = (uint8_t)len;
        for (size_t j = 0; j < len; j++)
            out[o++] = (uint8_t)(rand() % 4 == 0 && l[j] >= 'a' ? l[j] - 32 : l[j]);
    }
    out[o++] = 0;
    return o;
}

/* Messages up to 64 KiB of random names (the size of a zone transfer's messages, where the
 * writer looks its targets up by hash once there are enough of them): every byte as the plain
 * reference writes it, every name reads back as written (lower case), and a rewind to an earlier
 * length goes on exactly as the reference does. */
static void test_compress_big(void)
{
    static ref_writer_t r;
    static uint8_t buf[65535];
    unsigned bad_bytes = 0, bad_read = 0, names = 0, pointers = 0;
    srand(7);
    for (int msg = 0; msg < 40; msg++) {
        dns_writer_t w;
        dns_writer_init(&w, buf, sizeof(buf), 1, 0);
        memset(&r, 0, sizeof(r));
        memcpy(r.buf, buf, DNS_HDR_LEN);
        r.len = DNS_HDR_LEN;
        size_t mark = 0;
        unsigned rmark = 0;
        uint16_t counts[4] = {0};
        for (int k = 0; k < 3000; k++) {
            uint8_t name[DNS_MAX_NAME];
            size_t nl = random_name(name);
            if (r.len + nl + 2 > sizeof(buf))
                break;
            size_t at = w.len;
            if (dns_writer_name(&w, name, nl) != 0) {
                bad_bytes++;
                break;
            }
            ref_name(&r, name, nl);
            names++;
            pointers += w.len - at < nl;
            uint8_t got[DNS_MAX_NAME], want[DNS_MAX_NAME];
            size_t off = at;
            for (size_t j = 0; j < nl; j++)
                want[j] = ref_lower(name[j]);
            if (dns_name_read(buf, w.len, &off, got) != (int)nl || memcmp(got, want, nl) ||
                off != w.len)
                bad_read++;
            if (w.len != r.len || memcmp(buf, r.buf, w.len)) {
                bad_bytes++;
                break;
            }
            /* Come back to an earlier point twice: while the targets are still being added
             * (so the rewind drops some) and once there are 64 of them. */
            if (k == 8 + msg % 8 || k == 500 + msg * 20) {
                mark = w.len;
                rmark = r.n;
            } else if (mark && (k == 60 + msg || k == 900 + msg * 20)) {
                dns_writer_rewind(&w, mark, counts);
                r.len = mark;
                while (r.n > rmark && r.comp[r.n - 1] >= mark)
                    r.n--;
                mark = 0;
            }
        }
    }
    CHECK(bad_bytes == 0, "compression in 40 big messages: %u differ from the plain reference",
          bad_bytes);
    CHECK(bad_read == 0, "%u of %u names do not read back as written", bad_read, names);
    CHECK(names > 50000 && pointers > names / 2, "a real workout: %u names, %u compressed", names,
          pointers);
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
    test_compress_big();
    test_owner_repeat();
    test_parse_lower();
    test_copy_short();
    return check_report();
}
