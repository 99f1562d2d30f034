/* test_query.c: query_process() bytes in, bytes out, for every answering rule; the responses are
 * parsed by ldns (an independent implementation) and checked section by section. */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "check.h"
#include "cookie.h"
#include "dns_probe.h"
#include "query.h"
#include "snapshot.h"

static gd_snapshot_t *snap;
static uint8_t out[65536];
static size_t outlen;

typedef struct qopt {
    bool edns;
    uint16_t bufsize;
    uint8_t version;
    bool do_bit;
    const uint8_t *opts;
    size_t optlen;
    uint16_t flags; /* header flags word, default RD */
    int qdcount;    /* -1: default 1 */
    bool tcp;
    uint16_t cls;
} qopt_t;

static size_t build(uint8_t *buf, const char *name, uint16_t type, const qopt_t *o)
{
    memset(buf, 0, 12);
    buf[0] = 0x12;
    buf[1] = 0x34;
    uint16_t flags = o && o->flags ? o->flags : 0x0100;
    buf[2] = (uint8_t)(flags >> 8);
    buf[3] = (uint8_t)flags;
    buf[5] = 1;
    if (o && o->qdcount >= 0 && o->qdcount != 1)
        buf[5] = (uint8_t)o->qdcount;
    size_t n = 12 + probe_put_name(buf + 12, name);
    uint16_t cls = o && o->cls ? o->cls : 1;
    buf[n++] = (uint8_t)(type >> 8);
    buf[n++] = (uint8_t)type;
    buf[n++] = (uint8_t)(cls >> 8);
    buf[n++] = (uint8_t)cls;
    if (o && o->edns) {
        buf[11] = 1;
        buf[n++] = 0;
        buf[n++] = 0;
        buf[n++] = 41;
        uint16_t bs = o->bufsize ? o->bufsize : 1232;
        buf[n++] = (uint8_t)(bs >> 8);
        buf[n++] = (uint8_t)bs;
        buf[n++] = 0;
        buf[n++] = o->version;
        buf[n++] = o->do_bit ? 0x80 : 0;
        buf[n++] = 0;
        buf[n++] = (uint8_t)(o->optlen >> 8);
        buf[n++] = (uint8_t)o->optlen;
        if (o->optlen)
            memcpy(buf + n, o->opts, o->optlen);
        n += o->optlen;
    }
    return n;
}

static ldns_pkt *run(const uint8_t *q, size_t qlen, bool tcp)
{
    return probe_run(&snap->env, q, qlen, tcp, out, &outlen);
}

static ldns_pkt *ask(const char *name, uint16_t type, const qopt_t *o)
{
    uint8_t q[1024];
    size_t n = build(q, name, type, o);
    return run(q, n, o && o->tcp);
}

static uint32_t soa_ttl(const ldns_pkt *p)
{
    const ldns_rr_list *l = ldns_pkt_authority(p);
    for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
        if (ldns_rr_get_type(ldns_rr_list_rr(l, i)) == LDNS_RR_TYPE_SOA)
            return ldns_rr_ttl(ldns_rr_list_rr(l, i));
    return 0xFFFFFFFF;
}

#define RC(p) ((int)ldns_pkt_get_rcode(p))

static void test_basics(void)
{
    ldns_pkt *p = ask("www.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_aa(p) && ldns_pkt_qr(p) && ldns_pkt_rd(p), "www A header");
    CHECK(p && !ldns_pkt_ra(p) && !ldns_pkt_ad(p) && ldns_pkt_id(p) == 0x1234, "www A flags");
    CHECK(p && ldns_pkt_ancount(p) == 2 && probe_has_rr(ldns_pkt_answer(p), "192.0.2.1", "60"),
          "www A answer");
    CHECK(p && ldns_pkt_edns(p) == false && ldns_pkt_arcount(p) == 0, "no OPT without EDNS");
    ldns_pkt_free(p);

    /* 0x20: the question comes back byte for byte; matching ignores case. */
    p = ask("wWw.ExAmPlE.tEsT", LDNS_RR_TYPE_A, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 2, "mixed case matches");
    CHECK(outlen > 30 && !memcmp(out + 12,
                                 "\x03wWw\x07"
                                 "ExAmPlE\x04tEsT",
                                 18),
          "question echoed with its case");
    ldns_pkt_free(p);

    p = ask("nothere.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == LDNS_RCODE_NXDOMAIN && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0,
          "NXDOMAIN");
    CHECK(p && ldns_pkt_nscount(p) == 1 && soa_ttl(p) == 60, "NXDOMAIN SOA ttl min(3600, 60)");
    ldns_pkt_free(p);

    p = ask("www.example.test", LDNS_RR_TYPE_MX, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0 && soa_ttl(p) == 60,
          "NODATA");
    ldns_pkt_free(p);

    p = ask("b.c.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 0 && soa_ttl(p) == 60,
          "empty non-terminal is NODATA");
    ldns_pkt_free(p);
    p = ask("c.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == 0, "empty non-terminal two up is NODATA");
    ldns_pkt_free(p);

    p = ask("example.test", LDNS_RR_TYPE_MX, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 2 &&
              probe_has_rr(ldns_pkt_answer(p), "mail.example.test.", NULL),
          "apex MX");
    ldns_pkt_free(p);

    p = ask("unk.example.test", 65280, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 1 && probe_has_rr(ldns_pkt_answer(p), "0a000001", NULL),
          "RFC 3597 type");
    ldns_pkt_free(p);

    p = ask("txt.example.test", LDNS_RR_TYPE_TXT, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 2 && probe_has_rr(ldns_pkt_answer(p), "\"a\" \"b\"", "30"),
          "TXT with per-set TTL");
    ldns_pkt_free(p);

    /* Unknown and meta types: NODATA, never dropped. */
    static const uint16_t meta[] = {0, 41, 46, 253, 254, 666, 65280};
    for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
        p = ask("www.example.test", meta[i], NULL);
        CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 0 && soa_ttl(p) == 60, "type %u is NODATA",
              meta[i]);
        ldns_pkt_free(p);
    }
}

static void test_refused_notimp_formerr(void)
{
    ldns_pkt *p = ask("www.example.org", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == LDNS_RCODE_REFUSED && !ldns_pkt_aa(p) && ldns_pkt_nscount(p) == 0,
          "out of zone REFUSED");
    ldns_pkt_free(p);
    p = ask(".", LDNS_RR_TYPE_NS, NULL);
    CHECK(p && RC(p) == LDNS_RCODE_REFUSED, "root REFUSED, no upward referral");
    ldns_pkt_free(p);
    qopt_t ch = {.cls = 3, .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_TXT, &ch);
    CHECK(p && RC(p) == LDNS_RCODE_REFUSED, "class CH REFUSED");
    ldns_pkt_free(p);
    p = ask("example.test", LDNS_RR_TYPE_AXFR, NULL);
    CHECK(p && RC(p) == LDNS_RCODE_REFUSED, "AXFR REFUSED");
    ldns_pkt_free(p);

    for (int op = 1; op < 16; op++) {
        qopt_t o = {.flags = (uint16_t)(op << 11), .qdcount = -1};
        p = ask("www.example.test", LDNS_RR_TYPE_A, &o);
        CHECK(p && RC(p) == LDNS_RCODE_NOTIMPL && !ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0 &&
                  (int)ldns_pkt_get_opcode(p) == op,
              "opcode %d NOTIMP", op);
        ldns_pkt_free(p);
    }

    qopt_t q0 = {.qdcount = 0};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &q0);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "QDCOUNT 0 FORMERR");
    ldns_pkt_free(p);
    qopt_t q2 = {.qdcount = 2};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &q2);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR && ldns_pkt_id(p) == 0x1234, "QDCOUNT 2 FORMERR");
    ldns_pkt_free(p);

    uint8_t q[600];
    size_t n = build(q, "www.example.test", 1, NULL);
    q[2] |= 0x80;
    CHECK(run(q, n, false) == NULL && outlen == 0, "QR=1 gets no reply");
    CHECK(run(q, 11, false) == NULL && outlen == 0, "short packet gets no reply");

    /* Truncated question. */
    n = build(q, "www.example.test", 1, NULL);
    p = run(q, n - 3, false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "truncated question FORMERR");
    ldns_pkt_free(p);
    /* Compression pointer in the question (to itself). */
    static const uint8_t loop[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1};
    p = run(loop, sizeof(loop), false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "pointer loop in question FORMERR");
    ldns_pkt_free(p);
    /* Label longer than 63. */
    uint8_t big[400] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 64};
    memset(big + 13, 'a', 64);
    big[77] = 0;
    big[78] = 0, big[79] = 1, big[80] = 0, big[81] = 1;
    p = run(big, 82, false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "label > 63 FORMERR");
    ldns_pkt_free(p);
    /* Name longer than 255: five labels of 63. */
    size_t o = 12;
    for (int i = 0; i < 5; i++) {
        big[o++] = 63;
        memset(big + o, 'b', 63);
        o += 63;
    }
    big[o++] = 0;
    big[o++] = 0, big[o++] = 1, big[o++] = 0, big[o++] = 1;
    p = run(big, o, false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "name > 255 FORMERR");
    ldns_pkt_free(p);
    /* ANCOUNT claims a record that is not there. */
    n = build(q, "www.example.test", 1, NULL);
    q[7] = 1;
    p = run(q, n, false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "missing answer record FORMERR");
    ldns_pkt_free(p);
    /* A compression loop in an additional record's owner. */
    n = build(q, "www.example.test", 1, NULL);
    q[11] = 1;
    q[n] = 0xC0;
    q[n + 1] = (uint8_t)n;
    memset(q + n + 2, 0, 10);
    p = run(q, n + 12, false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "pointer loop in additional FORMERR");
    ldns_pkt_free(p);
}

static void test_cname_wildcard(void)
{
    ldns_pkt *p = ask("alias2.example.test", LDNS_RR_TYPE_A, NULL);
    const ldns_rr_list *an = p ? ldns_pkt_answer(p) : NULL;
    CHECK(p && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 4, "chain of two CNAMEs then A");
    CHECK(an && ldns_rr_get_type(ldns_rr_list_rr(an, 0)) == LDNS_RR_TYPE_CNAME &&
              ldns_rr_get_type(ldns_rr_list_rr(an, 1)) == LDNS_RR_TYPE_CNAME &&
              ldns_rr_get_type(ldns_rr_list_rr(an, 2)) == LDNS_RR_TYPE_A,
          "chain in order");
    ldns_pkt_free(p);
    p = ask("alias.example.test", LDNS_RR_TYPE_CNAME, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 1, "qtype CNAME gives only the CNAME");
    ldns_pkt_free(p);
    p = ask("ext.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 1 && ldns_pkt_nscount(p) == 0,
          "out-of-zone CNAME stops");
    ldns_pkt_free(p);
    p = ask("dangling.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == LDNS_RCODE_NXDOMAIN && ldns_pkt_ancount(p) == 1 && soa_ttl(p) == 60 &&
              ldns_pkt_aa(p),
          "CNAME to nothing: NXDOMAIN with the CNAME (RFC 6604)");
    ldns_pkt_free(p);
    p = ask("alias.example.test", LDNS_RR_TYPE_MX, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 1 && soa_ttl(p) == 60,
          "CNAME to NODATA: NOERROR with the CNAME and SOA");
    ldns_pkt_free(p);
    p = ask("loop1.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 2, "CNAME loop: each CNAME once");
    ldns_pkt_free(p);
    p = ask("self.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 1, "self CNAME once");
    ldns_pkt_free(p);

    p = ask("Foo.Wild.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 1 &&
              probe_has_rr(ldns_pkt_answer(p), "Foo.Wild.example.test.", "192.0.2.9"),
          "wildcard owner is the QNAME as asked");
    ldns_pkt_free(p);
    p = ask("a.b.wild.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 1, "multi-label wildcard");
    ldns_pkt_free(p);
    p = ask("x.wild.example.test", LDNS_RR_TYPE_AAAA, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 0 && soa_ttl(p) == 60, "wildcard NODATA");
    ldns_pkt_free(p);
    p = ask("exists.wild.example.test", LDNS_RR_TYPE_TXT, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 0, "existing name blocks the wildcard");
    ldns_pkt_free(p);
    p = ask("x.exists.wild.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == LDNS_RCODE_NXDOMAIN, "below an existing name: no wildcard");
    ldns_pkt_free(p);
    p = ask("x.b.c.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == LDNS_RCODE_NXDOMAIN, "empty non-terminal encloser without wildcard");
    ldns_pkt_free(p);
    p = ask("*.wild.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 1, "literal * matches");
    ldns_pkt_free(p);
    p = ask("q.wc.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 3 &&
              probe_has_rr(ldns_pkt_answer(p), "q.wc.example.test.", "CNAME"),
          "wildcard CNAME synthesized and followed");
    ldns_pkt_free(p);
}

static void test_delegation(void)
{
    ldns_pkt *p = ask("www.sub.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && RC(p) == 0 && !ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0 &&
              ldns_pkt_nscount(p) == 3,
          "referral: NS in authority, no AA");
    CHECK(p && probe_has_rr(ldns_pkt_additional(p), "ns1.sub.example.test.", "192.0.2.100") &&
              probe_has_rr(ldns_pkt_additional(p), "ns1.sub.example.test.", "2001:db8::100") &&
              probe_has_rr(ldns_pkt_additional(p), "ns2.sub.example.test.", "192.0.2.101"),
          "all in-domain glue");
    ldns_pkt_free(p);
    p = ask("ns1.sub.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && !ldns_pkt_aa(p) && ldns_pkt_ancount(p) == 0 && ldns_pkt_nscount(p) == 3,
          "glue is never answered authoritatively");
    ldns_pkt_free(p);
    p = ask("deep.sub.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && ldns_pkt_ancount(p) == 0 && !ldns_pkt_aa(p), "occluded data not returned");
    ldns_pkt_free(p);
    p = ask("sub.example.test", LDNS_RR_TYPE_DS, NULL);
    CHECK(p && ldns_pkt_aa(p) && RC(p) == 0 && ldns_pkt_ancount(p) == 0 && soa_ttl(p) == 60,
          "DS at the cut from the parent side");
    ldns_pkt_free(p);
    p = ask("sub.example.test", LDNS_RR_TYPE_NS, NULL);
    CHECK(p && !ldns_pkt_aa(p) && ldns_pkt_nscount(p) == 3, "NS at the cut is a referral");
    ldns_pkt_free(p);
    p = ask("www.child.example.test", LDNS_RR_TYPE_A, NULL);
    CHECK(p && ldns_pkt_aa(p) && probe_has_rr(ldns_pkt_answer(p), "198.51.100.1", NULL),
          "most specific zone wins");
    ldns_pkt_free(p);
    p = ask("child.example.test", LDNS_RR_TYPE_DS, NULL);
    CHECK(p && ldns_pkt_aa(p) && probe_has_rr(ldns_pkt_authority(p), "example.test.", "hostmaster"),
          "DS at a child apex answered by the parent zone");
    ldns_pkt_free(p);
}

static void test_edns(void)
{
    qopt_t e = {.edns = true, .qdcount = -1};
    ldns_pkt *p = ask("www.example.test", LDNS_RR_TYPE_A, &e);
    CHECK(p && ldns_pkt_edns(p) && ldns_pkt_edns_udp_size(p) == 1232 &&
              ldns_pkt_edns_version(p) == 0,
          "OPT echoed with 1232");
    ldns_pkt_free(p);
    p = ask("nothere.example.test", LDNS_RR_TYPE_A, &e);
    CHECK(p && ldns_pkt_edns(p) && RC(p) == LDNS_RCODE_NXDOMAIN, "OPT on NXDOMAIN");
    ldns_pkt_free(p);
    p = ask("www.example.org", LDNS_RR_TYPE_A, &e);
    CHECK(p && ldns_pkt_edns(p) && RC(p) == LDNS_RCODE_REFUSED, "OPT on REFUSED");
    ldns_pkt_free(p);

    qopt_t v1 = {.edns = true, .version = 1, .do_bit = true, .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &v1);
    CHECK(p && ldns_pkt_edns(p) && ldns_pkt_edns_extended_rcode(p) == 1 && RC(p) == 0 &&
              ldns_pkt_edns_version(p) == 0 && ldns_pkt_ancount(p) == 0 && ldns_pkt_edns_do(p),
          "BADVERS with version 0 and DO kept");
    ldns_pkt_free(p);

    qopt_t d = {.edns = true, .do_bit = true, .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &d);
    CHECK(p && ldns_pkt_edns_do(p), "DO copied");
    ldns_pkt_free(p);

    static const uint8_t unknown[] = {0xFD, 0xE9, 0, 2, 0xAB, 0xCD};
    qopt_t u = {.edns = true, .opts = unknown, .optlen = sizeof(unknown), .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &u);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 2 && out[outlen - 1] == 0 &&
              out[outlen - 2] == 0,
          "unknown option ignored, not echoed (empty OPT RDATA)");
    ldns_pkt_free(p);

    static const uint8_t overrun[] = {0, 8, 0, 20, 0, 1, 24, 0, 192, 0, 2};
    qopt_t ov = {.edns = true, .opts = overrun, .optlen = sizeof(overrun), .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &ov);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "option overrunning RDATA FORMERR");
    ldns_pkt_free(p);

    /* Two OPT records. */
    uint8_t q[600];
    size_t n = build(q, "www.example.test", 1, &e);
    memcpy(q + n, q + n - 11, 11);
    q[11] = 2;
    p = run(q, n + 11, false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "two OPT FORMERR");
    ldns_pkt_free(p);
    /* OPT owned by a non-root name. */
    n = build(q, "www.example.test", 1, NULL);
    q[11] = 1;
    static const uint8_t badopt[] = {1, 'x', 0, 0, 41, 4, 0xD0, 0, 0, 0, 0, 0, 0};
    memcpy(q + n, badopt, sizeof(badopt));
    p = run(q, n + sizeof(badopt), false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "OPT with non-root owner FORMERR");
    ldns_pkt_free(p);
    /* Truncated OPT. */
    n = build(q, "www.example.test", 1, &e);
    p = run(q, n - 3, false);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "truncated OPT FORMERR");
    ldns_pkt_free(p);

    /* ECS: echoed with scope 0 for static data; malformed gets FORMERR. */
    static const uint8_t ecs[] = {0, 8, 0, 7, 0, 1, 24, 5, 192, 0, 2};
    qopt_t ec = {.edns = true, .opts = ecs, .optlen = sizeof(ecs), .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &ec);
    CHECK(p && RC(p) == 0 && outlen >= 11 &&
              !memcmp(out + outlen - 11, "\x00\x08\x00\x07\x00\x01\x18\x00\xc0\x00\x02", 11),
          "ECS echoed, scope 0 (query scope ignored)");
    ldns_pkt_free(p);
    static const uint8_t bad_ecs[][12] = {
        {0, 8, 0, 7, 0, 3, 24, 0, 192, 0, 2},    /* family 3 */
        {0, 8, 0, 7, 0, 1, 33, 0, 192, 0, 2},    /* source > 32 */
        {0, 8, 0, 8, 0, 1, 24, 0, 192, 0, 2, 0}, /* too many address bytes */
        {0, 8, 0, 7, 0, 1, 20, 0, 192, 0, 2},    /* bits beyond the prefix */
        {0, 8, 0, 3, 0, 1, 24},                  /* truncated */
    };
    static const size_t bad_len[] = {11, 11, 12, 11, 7};
    for (size_t i = 0; i < 5; i++) {
        qopt_t b = {.edns = true, .opts = bad_ecs[i], .optlen = bad_len[i], .qdcount = -1};
        p = ask("www.example.test", LDNS_RR_TYPE_A, &b);
        CHECK(p && RC(p) == LDNS_RCODE_FORMERR && ldns_pkt_edns(p) && ldns_pkt_qdcount(p) == 1,
              "malformed ECS %zu FORMERR, with question and OPT", i);
        ldns_pkt_free(p);
    }
    static const uint8_t cookie_bad[] = {0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    qopt_t cb = {.edns = true, .opts = cookie_bad, .optlen = sizeof(cookie_bad), .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &cb);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR, "COOKIE of 9 bytes FORMERR");
    ldns_pkt_free(p);
    static const uint8_t cookie_ok[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    qopt_t co = {.edns = true, .opts = cookie_ok, .optlen = sizeof(cookie_ok), .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &co);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 2, "client COOKIE answered");

    /* The client cookie comes back with a 16-byte server cookie; sent back, it is accepted
     * and echoed; a forged one is replaced. */
    CHECK(p && outlen > 28 && !memcmp(out + outlen - 28, "\x00\x0a\x00\x18\x01\x02\x03\x04", 8),
          "client cookie answered with client + server cookie");
    uint8_t full[28];
    memcpy(full, out + outlen - 28, 28);
    ldns_pkt_free(p);
    qopt_t cf = {.edns = true, .opts = full, .optlen = 28, .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &cf);
    CHECK(p && !memcmp(out + outlen - 28, full, 28), "valid server cookie echoed");
    ldns_pkt_free(p);
    full[27] ^= 1;
    p = ask("www.example.test", LDNS_RR_TYPE_A, &cf);
    CHECK(p && RC(p) == 0 && memcmp(out + outlen - 16, full + 12, 16) &&
              !memcmp(out + outlen - 24, full + 4, 8),
          "forged server cookie replaced, client cookie kept");
    ldns_pkt_free(p);
    static const uint8_t nsid[] = {0, 3, 0, 0};
    qopt_t ns = {.edns = true, .opts = nsid, .optlen = sizeof(nsid), .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &ns);
    CHECK(p && outlen > 11 && !memcmp(out + outlen - 11, "\x00\x03\x00\x07unit-ns", 11),
          "NSID returned when asked");
    ldns_pkt_free(p);

    static const uint8_t ka[] = {0, 11, 0, 0};
    qopt_t kt = {.edns = true, .opts = ka, .optlen = sizeof(ka), .qdcount = -1, .tcp = true};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &kt);
    CHECK(p && outlen > 6 && !memcmp(out + outlen - 6, "\x00\x0b\x00\x02\x00\x64", 6),
          "keepalive over TCP: TIMEOUT 100 (10 s)");
    ldns_pkt_free(p);
    qopt_t ku = {.edns = true, .opts = ka, .optlen = sizeof(ka), .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &ku);
    CHECK(p && out[outlen - 1] == 0 && out[outlen - 2] == 0, "no keepalive over UDP");
    ldns_pkt_free(p);
    static const uint8_t ka_bad[] = {0, 11, 0, 2, 0, 5};
    qopt_t kb = {
        .edns = true, .opts = ka_bad, .optlen = sizeof(ka_bad), .qdcount = -1, .tcp = true};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &kb);
    CHECK(p && RC(p) == LDNS_RCODE_FORMERR && ldns_pkt_edns(p),
          "keepalive with a TIMEOUT in a TCP query FORMERR");
    ldns_pkt_free(p);
    qopt_t kbu = {.edns = true, .opts = ka_bad, .optlen = sizeof(ka_bad), .qdcount = -1};
    p = ask("www.example.test", LDNS_RR_TYPE_A, &kbu);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 2 && out[outlen - 1] == 0,
          "keepalive with a TIMEOUT over UDP is ignored (RFC 7828 3.3.1)");
    ldns_pkt_free(p);
}

static void test_truncation_any(void)
{
    ldns_pkt *p = ask("big.example.test", LDNS_RR_TYPE_TXT, NULL);
    CHECK(p && ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 0 && ldns_pkt_qdcount(p) == 1 &&
              outlen <= 512,
          "over 512 without EDNS: TC, no records");
    ldns_pkt_free(p);
    qopt_t e = {.edns = true, .bufsize = 100, .qdcount = -1};
    p = ask("big.example.test", LDNS_RR_TYPE_TXT, &e);
    CHECK(p && ldns_pkt_tc(p) && ldns_pkt_edns(p) && outlen <= 512,
          "EDNS size < 512 counts as 512; OPT kept when truncated");
    ldns_pkt_free(p);
    qopt_t e2 = {.edns = true, .bufsize = 4096, .qdcount = -1};
    p = ask("big.example.test", LDNS_RR_TYPE_TXT, &e2);
    CHECK(p && !ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 6 && outlen <= 1232,
          "fits in 1232 with EDNS");
    ldns_pkt_free(p);
    qopt_t t = {.tcp = true, .qdcount = -1};
    p = ask("big.example.test", LDNS_RR_TYPE_TXT, &t);
    CHECK(p && !ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 6, "TCP gets it all, no TC");
    ldns_pkt_free(p);

    p = ask("www.example.test", LDNS_RR_TYPE_ANY, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) >= 1 && ldns_pkt_ancount(p) <= 2,
          "ANY over UDP: one RRset");
    ldns_pkt_free(p);
    p = ask("www.example.test", LDNS_RR_TYPE_ANY, &t);
    CHECK(p && ldns_pkt_ancount(p) == 3, "ANY over TCP: every RRset");
    ldns_pkt_free(p);
    p = ask("b.c.example.test", LDNS_RR_TYPE_ANY, NULL);
    CHECK(p && RC(p) == 0 && ldns_pkt_ancount(p) == 0, "ANY at an empty non-terminal: NODATA");
    ldns_pkt_free(p);
}

/* Walk one name; every pointer must point backwards and past the header. */
static bool walk_name(const uint8_t *m, size_t len, size_t *off)
{
    size_t p = *off;
    for (;;) {
        if (p >= len)
            return false;
        uint8_t l = m[p];
        if ((l & 0xC0) == 0xC0) {
            if (p + 1 >= len)
                return false;
            size_t t = ((size_t)(l & 0x3F) << 8) | m[p + 1];
            if (t < 12 || t >= p)
                return false;
            *off = p + 2;
            return true;
        }
        if (l == 0) {
            *off = p + 1;
            return true;
        }
        p += (size_t)l + 1;
    }
}

static bool pointers_ok(const uint8_t *m, size_t len)
{
    size_t off = 12;
    if (!walk_name(m, len, &off))
        return false;
    off += 4;
    unsigned rrs = 0;
    for (int s = 1; s < 4; s++)
        rrs += (unsigned)((m[4 + 2 * s] << 8) | m[5 + 2 * s]);
    for (unsigned i = 0; i < rrs; i++) {
        if (!walk_name(m, len, &off) || off + 10 > len)
            return false;
        uint16_t type = (uint16_t)((m[off] << 8) | m[off + 1]);
        size_t rdlen = ((size_t)m[off + 8] << 8) | m[off + 9];
        size_t rd = off + 10, end = rd + rdlen;
        if (end > len)
            return false;
        size_t p = rd;
        if (type == 2 || type == 5 || type == 12) {
            if (!walk_name(m, len, &p) || p != end)
                return false;
        } else if (type == 15) {
            p += 2;
            if (!walk_name(m, len, &p) || p != end)
                return false;
        } else if (type == 6) {
            if (!walk_name(m, len, &p) || !walk_name(m, len, &p) || p + 20 != end)
                return false;
        }
        off = end;
    }
    return off == len;
}

static void test_compression(void)
{
    ldns_pkt *p = ask("example.test", LDNS_RR_TYPE_MX, NULL);
    /* Header 12 + question 18; each RR: owner pointer 2 + 10 + preference 2 + "mail"/"mail2"
     * label and a pointer to example.test: 73 bytes. Uncompressed it would be 127. Then mail's
     * address in additional: owner a pointer into the MX data 2 + 10 + 4 = 16. */
    CHECK(p && outlen == 73 + 16, "MX answer is compressed (%zu bytes)", outlen);
    CHECK(pointers_ok(out, outlen), "response parses");
    /* Walk the answer's names: owner must be a pointer to the question at 12. */
    size_t q_end = 12 + 14 + 4;
    CHECK(out[q_end] == 0xC0 && out[q_end + 1] == 12, "answer owner points at the question");
    ldns_pkt_free(p);
    static const char *const names[] = {"www.example.test",     "alias2.example.test",
                                        "nothere.example.test", "www.sub.example.test",
                                        "q.wc.example.test",    "example.test"};
    static const uint16_t types[] = {LDNS_RR_TYPE_A, LDNS_RR_TYPE_MX, LDNS_RR_TYPE_SOA,
                                     LDNS_RR_TYPE_NS, LDNS_RR_TYPE_ANY};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 5; j++) {
            qopt_t t = {.tcp = true, .qdcount = -1};
            p = ask(names[i], types[j], &t);
            CHECK(p && pointers_ok(out, outlen), "%s/%u: counts match content, pointers back",
                  names[i], types[j]);
            ldns_pkt_free(p);
        }
}

static void test_cookie_vectors(void)
{
    /* RFC 9018 appendix A.1: client 2464c4abcf10c957, 198.51.100.100, the secret below, at
     * 1559731985 -> server cookie 010000005cf79f111f8130c3eee29480. */
    static const uint8_t secret[16] = {0xe5, 0xe9, 0x73, 0xe5, 0xa6, 0xb2, 0xa4, 0x3f,
                                       0x48, 0xe7, 0xdc, 0x84, 0x9e, 0x37, 0xbf, 0xcf};
    static const uint8_t client[8] = {0x24, 0x64, 0xc4, 0xab, 0xcf, 0x10, 0xc9, 0x57};
    static const uint8_t expect[16] = {0x01, 0x00, 0x00, 0x00, 0x5c, 0xf7, 0x9f, 0x11,
                                       0x1f, 0x81, 0x30, 0xc3, 0xee, 0xe2, 0x94, 0x80};
    struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xC6336464)};
    uint8_t sc[16];
    cookie_make(secret, client, (struct sockaddr *)&src, 1559731985, sc);
    CHECK(!memcmp(sc, expect, 16), "RFC 9018 A.1 server cookie");
    bool refresh;
    CHECK(cookie_check(secret, client, expect, 16, (struct sockaddr *)&src, 1559731985 + 10,
                       &refresh) &&
              !refresh,
          "RFC 9018 cookie accepted 10 s later");
    CHECK(cookie_check(secret, client, expect, 16, (struct sockaddr *)&src, 1559731985 + 2000,
                       &refresh) &&
              refresh,
          "after 30 min: valid, to be refreshed");
    CHECK(!cookie_check(secret, client, expect, 16, (struct sockaddr *)&src, 1559731985 + 3601,
                        &refresh),
          "after an hour: expired");
    CHECK(!cookie_check(secret, client, expect, 16, (struct sockaddr *)&src, 1559731985 - 301,
                        &refresh),
          "more than 5 minutes in the future: refused");
    struct sockaddr_in other = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0xC6336465)};
    CHECK(
        !cookie_check(secret, client, expect, 16, (struct sockaddr *)&other, 1559731985, &refresh),
        "another client address: refused");
}

int main(void)
{
    test_cookie_vectors();
    char err[1024];
    if (gd_snapshot_load(TEST_DATA "/server.yaml", NULL, 1, &snap, err, sizeof(err))) {
        fprintf(stderr, "cannot load test config: %s\n", err);
        return 1;
    }
    test_basics();
    test_refused_notimp_formerr();
    test_cname_wildcard();
    test_delegation();
    test_edns();
    test_truncation_any();
    test_compression();
    gd_snapshot_unref(snap);
    return check_report();
}
