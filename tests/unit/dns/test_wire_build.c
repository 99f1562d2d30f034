/* test_wire_build.c: messages geodnsd builds itself with the writer (the `geodnsd explain`
 * query with ECS, NOTIFY): they parse back with dns_query_parse and with ldns, field by field. */
#include <stdbool.h>
#include <string.h>

#include <ldns/ldns.h>

#include "check.h"
#include "dname.h"
#include "wire.h"

static void test_query_with_ecs(void)
{
    uint8_t name[DNS_MAX_NAME], buf[512], ecs[8 + 16];
    size_t nlen;
    CHECK(dns_name_from_text("Video.CDN.example.test.", name, &nlen) == 0);
    const uint8_t addr[16] = {203, 0, 113, 0};
    size_t elen = dns_ecs_option(ecs, 1, 24, 0, addr);
    CHECK(elen == 11, "ECS option of a /24: %zu bytes", elen);

    dns_writer_t w;
    dns_writer_init(&w, buf, sizeof(buf), 0x4e58, 0);
    CHECK(dns_writer_question_name(&w, name, nlen, DNS_TYPE_AAAA) == 0);
    CHECK(dns_writer_opt(&w, 1232, 0, false, ecs, elen) == 0);
    size_t len = dns_writer_finish(&w, 0, 0);
    CHECK(len == DNS_HDR_LEN + nlen + 4 + 11 + elen, "length %zu", len);

    dns_query_t q;
    CHECK(dns_query_parse(buf, len, &q) == DNS_PARSE_OK);
    CHECK(q.id == 0x4e58 && q.opcode == 0 && q.has_question);
    CHECK(q.qtype == DNS_TYPE_AAAA && q.qclass == DNS_CLASS_IN);
    CHECK(q.qname_len == nlen && !memcmp(q.qname_wire, name, nlen), "question name as given");
    CHECK(q.has_opt && q.udp_size == 1232 && q.edns_version == 0 && !q.edns_do);
    CHECK(q.has_ecs && q.ecs_family == 1 && q.ecs_source == 24 && q.ecs_scope == 0);
    CHECK(!memcmp(q.ecs_addr, addr, 3));

    ldns_pkt *p = NULL;
    CHECK(ldns_wire2pkt(&p, buf, len) == LDNS_STATUS_OK && p);
    if (p) {
        CHECK(ldns_pkt_qdcount(p) == 1 && ldns_pkt_ancount(p) == 0 && ldns_pkt_arcount(p) == 0);
        CHECK(ldns_pkt_edns(p) && ldns_pkt_edns_udp_size(p) == 1232);
        ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(p), 0);
        CHECK(qr && ldns_rr_get_type(qr) == LDNS_RR_TYPE_AAAA);
        ldns_pkt_free(p);
    }

    /* IPv6, /56: seven address bytes; /0: none. */
    const uint8_t a6[16] = {0x20, 0x01, 0x0d, 0xb8, 1, 2, 3, 4, 5};
    CHECK(dns_ecs_option(ecs, 2, 56, 0, a6) == 8 + 7);
    CHECK(ecs[0] == 0 && ecs[1] == DNS_OPT_ECS && ecs[2] == 0 && ecs[3] == 4 + 7);
    CHECK(ecs[4] == 0 && ecs[5] == 2 && ecs[6] == 56 && ecs[7] == 0 && !memcmp(ecs + 8, a6, 7));
    CHECK(dns_ecs_option(ecs, 1, 0, 0, addr) == 8 && ecs[3] == 4);
}

static void test_notify(void)
{
    uint8_t name[DNS_MAX_NAME], buf[64];
    size_t nlen;
    CHECK(dns_name_from_text("example.test.", name, &nlen) == 0);
    dns_writer_t w;
    dns_writer_init(&w, buf, sizeof(buf), 0x1234, 4 << 11 | DNS_FLAG_AA);
    CHECK(dns_writer_question_name(&w, name, nlen, DNS_TYPE_SOA) == 0);
    size_t len = dns_writer_finish(&w, 0, 0);
    static const uint8_t want[] = {0x12, 0x34, 0x24, 0,   0,   1,   0,   0,   0,   0,
                                   0,    0,    7,    'e', 'x', 'a', 'm', 'p', 'l', 'e',
                                   4,    't',  'e',  's', 't', 0,   0,   6,   0,   1};
    CHECK(len == sizeof(want) && !memcmp(buf, want, len), "NOTIFY bytes (%zu)", len);

    /* A question that does not fit is refused and leaves the message as it was. */
    dns_writer_init(&w, buf, DNS_HDR_LEN + nlen + 3, 1, 0);
    CHECK(dns_writer_question_name(&w, name, nlen, DNS_TYPE_SOA) == -1);
    CHECK(w.len == DNS_HDR_LEN && w.counts[DNS_SEC_QD] == 0);
}

int main(void)
{
    test_query_with_ecs();
    test_notify();
    return check_report();
}
