/* test_xfr.c: zone transfer out through xfr_process() and a piece at a time (xfr_start,
 * xfr_next: whole frames, bounded pieces, the same bytes, freed midway): access rules, TSIG
 * (requests signed and every response message checked by ldns, an independent implementation),
 * multi-message AXFR with the SOA first and last, IXFR answered in full (or with the SOA alone to a
 * client at our serial or newer), the client's serial read from hostile wire, UDP transfers refused
 * by query_process(); the key ring with many keys (lookup, duplicates, unknown keys). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "check.h"
#include "query.h"
#include "snapshot.h"
#include "tsig.h"
#include "xfr.h"

#define KEY      "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI="
#define BADKEY   "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTM="
#define KEY512   "NTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEyNTEy"
#define KEY1     "c2hhMXNoYTFzaGExc2hhMQ=="
#define NRECORDS 3000

static gd_snapshot_t *snap;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static struct sockaddr_in addr4(const char *a)
{
    struct sockaddr_in s = {.sin_family = AF_INET};
    inet_pton(AF_INET, a, &s.sin_addr);
    return s;
}

/* A request as ldns builds it, signed with key (NULL: unsigned). Returns its wire length. */
static const char *key_name = "xfr-key.", *key_alg = "hmac-sha256.";
static uint32_t ixfr_serial = 1; /* the serial of the SOA an IXFR request carries */
static bool xfr_busy;            /* run() as when tcp.max_transfers are being sent */
static int req_edns = -1;        /* the EDNS version of the request's OPT (-1: no OPT) */

static size_t request(const char *zone, ldns_rr_type type, const char *key, uint8_t **wire,
                      ldns_rdf **mac)
{
    ldns_pkt *p = NULL;
    ldns_pkt_query_new_frm_str(&p, zone, type, LDNS_RR_CLASS_IN, 0);
    ldns_pkt_set_id(p, 4242);
    if (type == LDNS_RR_TYPE_IXFR) {
        ldns_rr *soa = NULL;
        char s[256];
        snprintf(s, sizeof(s), "%s 0 IN SOA a. b. %u 1 1 1 1", zone, ixfr_serial);
        ldns_rr_new_frm_str(&soa, s, 0, NULL, NULL);
        ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa);
    }
    if (req_edns >= 0) {
        ldns_pkt_set_edns_udp_size(p, 4096);
        ldns_pkt_set_edns_version(p, (uint8_t)req_edns);
        ldns_pkt_set_edns_do(p, true);
    }
    if (key)
        ldns_pkt_tsig_sign(p, key_name, key, 300, key_alg, NULL);
    *mac = NULL;
    if (key && ldns_pkt_tsig(p))
        *mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
    size_t len = 0;
    ldns_pkt2wire(wire, p, &len);
    ldns_pkt_free(p);
    return len;
}

typedef struct xfr_seen {
    int rcode;
    size_t messages, records;
    bool soa_first, soa_last, aa_all, verified_all, question_first_only;
    size_t geo_a;    /* A records of video.cdn.test (a geo name) */
    size_t occluded; /* records at or below sub.cdn.test (a delegation) */
    size_t over_16k; /* messages longer than 16 KiB */
    bool opt_first;  /* the first message has an OPT record, version 0, DO copied */
    size_t opt_more; /* messages after the first with an OPT record */
} xfr_seen_t;

/* Run one request through xfr_process() and look at every message with ldns. */
static void run(const char *zone, ldns_rr_type type, const char *key, const char *src,
                xfr_seen_t *s, xfr_result_t *r)
{
    memset(s, 0, sizeof(*s));
    s->aa_all = s->verified_all = s->question_first_only = true;
    uint8_t *req;
    ldns_rdf *mac;
    size_t rlen = request(zone, type, key, &req, &mac);
    struct sockaddr_in sa = addr4(src);
    uint8_t *out;
    size_t outlen;
    int rc = xfr_process(&snap->env, req, rlen, (const struct sockaddr *)&sa, (uint64_t)time(NULL),
                         xfr_busy, &out, &outlen, r);
    free(req);
    CHECK(rc == 0, "xfr_process failed for %s", zone);
    if (rc) {
        ldns_rdf_deep_free(mac);
        return;
    }
    ldns_rr *last = NULL;
    for (size_t off = 0; off + 2 <= outlen;) {
        size_t l = ((size_t)out[off] << 8) | out[off + 1];
        s->over_16k += l > 16384;
        ldns_pkt *p = NULL;
        CHECK(ldns_wire2pkt(&p, out + off + 2, l) == LDNS_STATUS_OK, "message %zu parses",
              s->messages);
        if (!p)
            break;
        s->rcode = ldns_pkt_get_rcode(p) | (ldns_pkt_edns_extended_rcode(p) << 4);
        if (s->messages == 0)
            s->opt_first = ldns_pkt_edns(p) && ldns_pkt_edns_version(p) == 0 &&
                           ldns_pkt_edns_do(p) && ldns_pkt_edns_udp_size(p) >= 512;
        else if (ldns_pkt_edns(p))
            s->opt_more++;
        if (s->rcode == LDNS_RCODE_NOERROR && !ldns_pkt_aa(p))
            s->aa_all = false;
        if ((ldns_pkt_qdcount(p) != 0) != (s->messages == 0))
            s->question_first_only = false;
        if (key && s->rcode == LDNS_RCODE_NOERROR) {
            bool ok =
                ldns_pkt_tsig_verify_next(p, out + off + 2, l, key_name, key, mac, s->messages > 0);
            if (!ok)
                s->verified_all = false;
            ldns_rdf_deep_free(mac);
            mac = ldns_pkt_tsig(p) ? ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3)) : NULL;
        }
        ldns_rr_list *an = ldns_pkt_answer(p);
        for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
            ldns_rr *rr = ldns_rr_list_rr(an, i);
            if (s->records == 0)
                s->soa_first = ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA;
            s->records++;
            char *owner = ldns_rdf2str(ldns_rr_owner(rr));
            if (owner && !strcmp(owner, "video.cdn.test.") &&
                ldns_rr_get_type(rr) == LDNS_RR_TYPE_A)
                s->geo_a++;
            if (owner && strstr(owner, "sub.cdn.test."))
                s->occluded++;
            free(owner);
            ldns_rr_free(last);
            last = ldns_rr_clone(rr);
        }
        s->messages++;
        ldns_pkt_free(p);
        off += 2 + l;
    }
    s->soa_last = last && ldns_rr_get_type(last) == LDNS_RR_TYPE_SOA && s->records > 1;
    ldns_rr_free(last);
    ldns_rdf_deep_free(mac);
    free(out);
}

static void test_transfers(void)
{
    xfr_seen_t s;
    xfr_result_t r;
    /* 127.0.0.5 may transfer without a key. */
    run("big.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(s.rcode == 0 && r.allowed, "unsigned AXFR from an allowed net: rcode %d", s.rcode);
    CHECK(s.soa_first && s.soa_last, "SOA first and last");
    CHECK(s.records == 2 * NRECORDS + 4, "every record sent: %zu", s.records);
    CHECK(s.messages > 1 && s.over_16k == 0, "several messages of at most 16 KiB (%zu, %zu over)",
          s.messages, s.over_16k);
    CHECK(s.aa_all, "AA on every message");
    CHECK(s.question_first_only, "the question in the first message only");
    /* 127.0.0.1 needs the key. */
    run("big.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.1", &s, &r);
    CHECK(s.rcode == LDNS_RCODE_REFUSED && !r.allowed, "no key: REFUSED (%d)", s.rcode);
    run("big.test.", LDNS_RR_TYPE_AXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(s.rcode == 0 && r.allowed, "signed AXFR: NOERROR (%d)", s.rcode);
    CHECK(s.messages > 1 && s.verified_all && s.over_16k == 0,
          "every one of %zu messages verifies (ldns), none over 16 KiB", s.messages);
    CHECK(s.soa_first && s.soa_last && s.records == 2 * NRECORDS + 4, "signed: complete");
    run("big.test.", LDNS_RR_TYPE_AXFR, BADKEY, "127.0.0.1", &s, &r);
    CHECK(s.rcode == LDNS_RCODE_NOTAUTH && r.tsig_error == TSIG_BADSIG,
          "wrong secret: NOTAUTH/BADSIG (%d, %u)", s.rcode, r.tsig_error);
    /* The key alone is not enough from a net the entry does not name. */
    run("big.test.", LDNS_RR_TYPE_AXFR, KEY, "192.0.2.1", &s, &r);
    CHECK(s.rcode == LDNS_RCODE_REFUSED, "key from another net: REFUSED (%d)", s.rcode);
    /* IXFR: a full transfer. */
    run("big.test.", LDNS_RR_TYPE_IXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(s.rcode == 0 && s.soa_first && s.soa_last && s.records == 2 * NRECORDS + 4,
          "IXFR answered with the whole zone (%d, %zu)", s.rcode, s.records);
    /* The zone's own transfer: rules replace the server's: open to 192.0.2.0/24 only. */
    run("cdn.test.", LDNS_RR_TYPE_AXFR, NULL, "192.0.2.7", &s, &r);
    CHECK(s.rcode == 0 && s.soa_first && s.soa_last, "zone-level allow (%d)", s.rcode);
    CHECK(s.geo_a == 1, "the geo name goes out as static A records (%zu)", s.geo_a);
    CHECK(s.occluded == 3, "delegation, glue and occluded data sent as held (%zu)", s.occluded);
    run("cdn.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(s.rcode == LDNS_RCODE_REFUSED, "zone-level rules replace the server's (%d)", s.rcode);
    /* The other algorithms: keys allowed from any net. */
    static const struct {
        const char *name, *alg, *secret;
    } other[] = {{"k512.", "hmac-sha512.", KEY512}, {"k1.", "hmac-sha1.", KEY1}};
    for (size_t i = 0; i < 2; i++) {
        key_name = other[i].name;
        key_alg = other[i].alg;
        run("big.test.", LDNS_RR_TYPE_AXFR, other[i].secret, "198.51.100.1", &s, &r);
        CHECK(s.rcode == 0 && s.messages > 1 && s.verified_all && s.soa_last,
              "%s: signed, verified", other[i].alg);
    }
    /* Key and algorithm names in another letter case: the same key (names are read lower-cased,
     * the canonical form RFC 8945 4.3.3 puts in the MAC). */
    key_name = "XFR-Key.";
    key_alg = "HMAC-SHA256.";
    run("big.test.", LDNS_RR_TYPE_AXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(s.rcode == 0 && r.tsig_error == TSIG_NOERROR && s.messages > 1 && s.soa_last,
          "key XFR-Key. with HMAC-SHA256.: signed AXFR served (%d, %u)", s.rcode, r.tsig_error);
    /* A key's name with another algorithm than the key's: no key (BADKEY), not a bad MAC. */
    key_name = "k1.";
    key_alg = "hmac-sha256.";
    run("big.test.", LDNS_RR_TYPE_AXFR, KEY1, "198.51.100.1", &s, &r);
    CHECK(s.rcode == LDNS_RCODE_NOTAUTH && r.tsig_error == TSIG_BADKEY,
          "k1 named with hmac-sha256: NOTAUTH/BADKEY (%d, %u)", s.rcode, r.tsig_error);
    key_name = "xfr-key.";
    /* Not a zone apex, not ours. */
    run("h1.big.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(s.rcode == LDNS_RCODE_REFUSED, "AXFR of a name below the apex: REFUSED");
    run("nope.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(s.rcode == LDNS_RCODE_REFUSED, "AXFR of a zone we do not have: REFUSED");
}

/* A request with EDNS (RFC 6891): the first message of the answer carries an OPT record (RFC 5936
 * 2.2.5), refusals too; a version we do not know gets BADVERS, before any data. */
static void test_edns(void)
{
    xfr_seen_t s;
    xfr_result_t r;
    req_edns = 0;
    run("big.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(s.rcode == 0 && r.allowed && s.soa_first && s.soa_last && s.messages > 1,
          "AXFR with EDNS: the zone (%d)", s.rcode);
    CHECK(s.opt_first && s.opt_more == 0, "AXFR with EDNS: OPT in the first message only (%d, %zu)",
          s.opt_first, s.opt_more);
    run("big.test.", LDNS_RR_TYPE_AXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(s.rcode == 0 && s.verified_all && s.opt_first && s.soa_last,
          "signed AXFR with EDNS: OPT before the TSIG, every message verifies (%d)", s.rcode);
    ixfr_serial = 7;
    run("big.test.", LDNS_RR_TYPE_IXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(s.rcode == 0 && r.current && s.records == 1 && s.opt_first,
          "IXFR up to date with EDNS: SOA and OPT (%d)", s.rcode);
    ixfr_serial = 1;
    run("big.test.", LDNS_RR_TYPE_AXFR, NULL, "192.0.2.1", &s, &r);
    CHECK(s.rcode == LDNS_RCODE_REFUSED && s.opt_first, "REFUSED with EDNS: OPT kept (%d, %d)",
          s.rcode, s.opt_first);
    req_edns = 1;
    run("big.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(s.rcode == 16 && s.messages == 1 && s.records == 0 && s.opt_first,
          "AXFR with EDNS version 1: BADVERS, OPT version 0, no data (%d, %zu records)", s.rcode,
          s.records);
    run("big.test.", LDNS_RR_TYPE_AXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(s.rcode == 16 && s.records == 0, "signed AXFR with EDNS version 1: BADVERS (%d)",
          s.rcode);
    req_edns = -1;
    run("big.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(!s.opt_first && s.opt_more == 0 && s.soa_last, "AXFR without EDNS: no OPT");
}

/* RFC 1995 2: a client at our serial (7) or newer in RFC 1982 arithmetic gets the SOA alone;
 * an older one, or one exactly 2^31 away (undefined), the whole zone. */
static void test_ixfr_serials(void)
{
    static const struct {
        uint32_t serial;
        bool current;
        const char *what;
    } cases[] = {
        {7, true, "at our serial"},
        {8, true, "one newer"},
        {7u + 0x7FFFFFFFu, true, "2^31 - 1 newer"},
        {6, false, "one older"},
        {0, false, "0"},
        {7u + 0x80000000u, false, "2^31 away"},
        {7u + 0x80000001u, false, "2^31 + 1 away (older)"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        xfr_seen_t s;
        xfr_result_t r;
        ixfr_serial = cases[i].serial;
        run("big.test.", LDNS_RR_TYPE_IXFR, KEY, "127.0.0.1", &s, &r);
        CHECK(r.has_client_serial && r.client_serial == cases[i].serial,
              "IXFR %s: the client's serial read (%u)", cases[i].what, r.client_serial);
        CHECK(r.allowed && r.current == cases[i].current, "IXFR %s: %s", cases[i].what,
              cases[i].current ? "up to date" : "a full transfer");
        if (cases[i].current)
            CHECK(s.rcode == 0 && s.messages == 1 && s.records == 1 && s.soa_first && s.aa_all &&
                      s.verified_all,
                  "IXFR %s: one signed message with our SOA alone (%zu messages, %zu records)",
                  cases[i].what, s.messages, s.records);
        else
            CHECK(s.rcode == 0 && s.soa_first && s.soa_last && s.records == 2 * NRECORDS + 4 &&
                      s.verified_all,
                  "IXFR %s: the whole zone (%zu records)", cases[i].what, s.records);
    }
    ixfr_serial = 1;
    xfr_seen_t s;
    xfr_result_t r;
    run("big.test.", LDNS_RR_TYPE_AXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(!r.has_client_serial && !r.current && s.records == 2 * NRECORDS + 4,
          "AXFR: always the whole zone");
    /* At tcp.max_transfers: an allowed AXFR gets one signed SERVFAIL; an up-to-date IXFR still
     * gets its SOA (one message); a request not allowed is still REFUSED. */
    xfr_busy = true;
    run("big.test.", LDNS_RR_TYPE_AXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(r.busy && !r.allowed && s.rcode == LDNS_RCODE_SERVFAIL && s.messages == 1 &&
              s.records == 0 && r.rcode == LDNS_RCODE_SERVFAIL,
          "busy: AXFR answered SERVFAIL (%d, %zu messages)", s.rcode, s.messages);
    ixfr_serial = 1;
    run("big.test.", LDNS_RR_TYPE_IXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(r.busy && s.rcode == LDNS_RCODE_SERVFAIL, "busy: IXFR from an old serial: SERVFAIL");
    ixfr_serial = 7;
    run("big.test.", LDNS_RR_TYPE_IXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(!r.busy && r.allowed && r.current && s.rcode == 0 && s.records == 1 && s.verified_all,
          "busy: IXFR from our serial still gets our SOA");
    run("big.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.1", &s, &r);
    CHECK(!r.busy && s.rcode == LDNS_RCODE_REFUSED, "busy: not allowed is still REFUSED");
    xfr_busy = false;
    ixfr_serial = 1;
}

/* dns_ixfr_serial() on hand-made wire: an IXFR of big.test. with one authority record. */
static size_t ixfr_wire(uint8_t *b, uint16_t an, uint16_t ns, const uint8_t *auth, size_t alen)
{
    static const uint8_t head[] = {0,   1,   0,   0, 0,   1,   0,   0,   0, 0, 0,   0, 3,
                                   'b', 'i', 'g', 4, 't', 'e', 's', 't', 0, 0, 251, 0, 1};
    memcpy(b, head, sizeof(head));
    b[6] = (uint8_t)(an >> 8);
    b[7] = (uint8_t)an;
    b[8] = (uint8_t)(ns >> 8);
    b[9] = (uint8_t)ns;
    if (alen)
        memcpy(b + sizeof(head), auth, alen);
    return sizeof(head) + alen;
}

static int ixfr_read(uint16_t an, uint16_t ns, const uint8_t *auth, size_t alen, uint32_t *serial)
{
    uint8_t b[512];
    size_t n = ixfr_wire(b, an, ns, auth, alen);
    dns_query_t q;
    if (dns_query_parse(b, n, &q) != DNS_PARSE_OK)
        return -2;
    return dns_ixfr_serial(b, n, &q, serial);
}

static void test_ixfr_wire(void)
{
    /* Owner, MNAME and RNAME all pointers to the question name: the usual compressed form. */
    static const uint8_t good[] = {0xC0, 12, 0,    6,  0,    1,    0,    0,    0, 0, 0, 24,
                                   0xC0, 12, 0xC0, 12, 0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1,
                                   0,    0,  0,    1,  0,    0,    0,    1,    0, 0, 0, 1};
    uint32_t serial = 0;
    CHECK(ixfr_read(0, 1, good, sizeof(good), &serial) == 0 && serial == 0x12345678,
          "compressed SOA: serial 0x%x", serial);
    /* Owner written out in capitals: names compare without case. */
    static const uint8_t upper[] = {3, 'B', 'I', 'G', 4, 'T', 'E', 'S', 'T', 0, 0, 6, 0, 1,
                                    0, 0,   0,   0,   0, 22,  0,   0,   0,   0, 0, 9, 0, 0,
                                    0, 1,   0,   0,   0, 1,   0,   0,   0,   1, 0, 0, 0, 1};
    CHECK(ixfr_read(0, 1, upper, sizeof(upper), &serial) == 0 && serial == 9,
          "owner in capitals, root MNAME/RNAME: serial %u", serial);
    /* An answer record first is skipped. */
    uint8_t two[sizeof(good) * 2];
    memcpy(two, good, sizeof(good));
    memcpy(two + sizeof(good), good, sizeof(good));
    two[sizeof(good) + 16] = 0x77;
    CHECK(ixfr_read(1, 1, two, sizeof(two), &serial) == 0 && serial == 0x77345678,
          "the authority SOA, not the answer record before it (0x%x)", serial);
    CHECK(ixfr_read(0, 0, NULL, 0, &serial) == -1, "no authority record: none");
    uint8_t bad[sizeof(good)];
    memcpy(bad, good, sizeof(good));
    bad[3] = 1; /* type A */
    CHECK(ixfr_read(0, 1, bad, sizeof(bad), &serial) == -1, "not a SOA: none");
    static const uint8_t other[] = {1, 'x', 0, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0, 0, 0, 0,
                                    9, 0,   0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,  0, 0, 0, 1};
    CHECK(ixfr_read(0, 1, other, sizeof(other), &serial) == -1, "another zone's SOA: none");
    /* RDATA too short for the serial: 2 names and 3 bytes. */
    static const uint8_t shortrd[] = {0xC0, 12, 0,    6,  0,    1,  0, 0, 0, 0,
                                      0,    7,  0xC0, 12, 0xC0, 12, 1, 2, 3};
    CHECK(ixfr_read(0, 1, shortrd, sizeof(shortrd), &serial) == -1, "RDATA cut in its serial");
    /* MNAME's labels run past the end of the RDATA (into what follows). */
    static const uint8_t overrun[] = {0xC0, 12,  0,    6,  0, 1, 0, 0, 0, 0, 0, 2,
                                      5,    'a', 0xC0, 12, 0, 0, 0, 0, 0, 0, 0, 0};
    CHECK(ixfr_read(0, 1, overrun, sizeof(overrun), &serial) == -1, "MNAME past its RDATA");
    /* MNAME a pointer forward (into the RNAME): refused, as every forward pointer is. */
    memcpy(bad, good, sizeof(good));
    bad[13] = 26 + 14; /* the RNAME, after it */
    CHECK(ixfr_read(0, 1, bad, sizeof(bad), &serial) == -1, "MNAME pointing forward");
    /* A malformed authority section never reaches here: the parse refuses the message. */
    CHECK(ixfr_read(0, 1, good, sizeof(good) - 1, &serial) == -2, "a truncated record: FORMERR");
    /* Through xfr_process: a request whose SOA cannot be read gets the whole zone. */
    uint8_t b[512];
    size_t n = ixfr_wire(b, 0, 1, shortrd, sizeof(shortrd));
    struct sockaddr_in sa = addr4("127.0.0.5");
    uint8_t *out = NULL;
    size_t outlen = 0;
    xfr_result_t r;
    int rc = xfr_process(&snap->env, b, n, (const struct sockaddr *)&sa, (uint64_t)time(NULL),
                         false, &out, &outlen, &r);
    CHECK(rc == 0 && r.allowed && !r.has_client_serial && !r.current && r.messages > 1,
          "unreadable client SOA: the whole zone (%zu messages)", r.messages);
    free(out);
}

static void test_udp_and_dispatch(void)
{
    uint8_t *req;
    ldns_rdf *mac;
    size_t rlen = request("big.test.", LDNS_RR_TYPE_AXFR, NULL, &req, &mac);
    CHECK(query_is_transfer(req, rlen), "AXFR is a transfer");
    static uint8_t out[4096];
    struct sockaddr_in sa = addr4("127.0.0.5");
    size_t n =
        query_process(&snap->env, req, rlen, out, sizeof(out), 0, (const struct sockaddr *)&sa);
    CHECK(n >= 12 && (out[3] & 0xF) == LDNS_RCODE_REFUSED, "AXFR over UDP: REFUSED");
    free(req);
    rlen = request("big.test.", LDNS_RR_TYPE_SOA, NULL, &req, &mac);
    CHECK(!query_is_transfer(req, rlen), "SOA is not a transfer");
    free(req);
    /* Malformed questions are never transfers, whatever their type field seems to say. */
    rlen = request("big.test.", LDNS_RR_TYPE_AXFR, NULL, &req, &mac);
    CHECK(!query_is_transfer(req, rlen - 1), "AXFR cut inside its class: not a transfer");
    CHECK(!query_is_transfer(req, 12), "header alone: not a transfer");
    req[5] = 2;
    CHECK(!query_is_transfer(req, rlen), "AXFR with a question count of 2: not a transfer");
    req[5] = 1;
    req[2] |= 0x80;
    CHECK(!query_is_transfer(req, rlen), "an AXFR response: not a transfer");
    req[2] &= 0x7F;
    req[12] = 0xC0;
    CHECK(!query_is_transfer(req, rlen), "AXFR with a pointer in its question: not a transfer");
    free(req);
    static const uint8_t ixfr[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'x', 0, 0, 251, 0, 1};
    CHECK(query_is_transfer(ixfr, sizeof(ixfr)), "IXFR of x. is a transfer");
    static const uint8_t soa[] = {0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 'x', 0, 0, 6, 0, 1};
    CHECK(!query_is_transfer(soa, sizeof(soa)), "SOA of x. is not a transfer");
    /* A signed SOA query (a secondary's refresh check) gets a signed answer, over UDP too. */
    rlen = request("big.test.", LDNS_RR_TYPE_SOA, KEY, &req, &mac);
    n = query_process(&snap->env, req, rlen, out, sizeof(out), 0, (const struct sockaddr *)&sa);
    ldns_pkt *p = NULL;
    CHECK(n > 0 && n <= 512 && ldns_wire2pkt(&p, out, n) == LDNS_STATUS_OK, "signed SOA: answered");
    CHECK(p && ldns_pkt_get_rcode(p) == 0 && ldns_pkt_ancount(p) == 1 &&
              ldns_pkt_tsig_verify(p, out, n, "xfr-key.", KEY, mac),
          "signed SOA: the answer is signed with the same key");
    ldns_pkt_free(p);
    ldns_rdf_deep_free(mac);
    free(req);
    rlen = request("big.test.", LDNS_RR_TYPE_SOA, BADKEY, &req, &mac);
    n = query_process(&snap->env, req, rlen, out, sizeof(out), 0, (const struct sockaddr *)&sa);
    CHECK(n >= 12 && (out[3] & 0xF) == LDNS_RCODE_NOTAUTH, "SOA with a wrong secret: NOTAUTH");
    ldns_rdf_deep_free(mac);
    free(req);
}

/* A TSIG whose algorithm name is a compression pointer (2 bytes on the wire, 13 once read) is
 * malformed: the fields after it are never read from where the whole name would end, which
 * for a message ending there is past its end (caught by ASan: the buffer is exactly its size). */
static void test_tsig_compressed_algorithm(void)
{
    static const uint8_t qhead[] = {
        0,  7,   0,   0,   0,   1,   0,   0,   0,   0,   0,   1, /* header */
        11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6',
        0,  0,   6,   0,   1}; /* hmac-sha256. SOA IN */
    static const uint8_t owner[] = {7, 'x', 'f', 'r', '-', 'k', 'e', 'y', 0,
                                    0, 250, 0,   255, 0,   0,   0,   0};
    for (int compressed = 1; compressed >= 0; compressed--) {
        uint8_t alg[13];
        size_t al = compressed ? 2 : 13;
        if (compressed) {
            alg[0] = 0xC0;
            alg[1] = 12; /* the question name */
        } else {
            memcpy(alg, qhead + 12, 13);
        }
        size_t rdlen = al + 10 + 6, len = sizeof(qhead) + sizeof(owner) + 2 + rdlen;
        uint8_t *m = malloc(len), *p = m;
        memcpy(p, qhead, sizeof(qhead));
        p += sizeof(qhead);
        memcpy(p, owner, sizeof(owner));
        p += sizeof(owner);
        *p++ = 0;
        *p++ = (uint8_t)rdlen;
        memcpy(p, alg, al);
        p += al;
        memset(p, 0, 16); /* time 0, fudge 0, MAC length 0, original ID 0, no error, no other */
        m[len - 6] = 0;
        m[len - 5] = 7;
        const xfr_keyring_t *ring = snap->env.xfr_keys;
        tsig_check_t ts;
        int rc = tsig_verify(xfr_tsig_key, ring, m, len, (uint64_t)time(NULL), &ts);
        if (compressed)
            CHECK(rc == -1, "TSIG with a compressed algorithm name: malformed (%d)", rc);
        else
            CHECK(rc == 0 && ts.error == TSIG_BADSIG, "the same uncompressed: BADSIG (%d, %u)", rc,
                  ts.error);
        static uint8_t out[4096];
        struct sockaddr_in sa = addr4("127.0.0.1");
        size_t n =
            query_process(&snap->env, m, len, out, sizeof(out), 0, (const struct sockaddr *)&sa);
        CHECK(n >= 12, "answered (%zu bytes)", n);
        free(m);
    }
}

/* A TSIG naming an unknown key by a pointer to the question's name: the BADKEY reply points to
 * it too (a key name spelled out in full would make the reply up to 255 bytes longer than the
 * query), and an independent parser reads the same owner name back. */
static void test_badkey_owner_pointer(void)
{
    uint8_t m[512], *p = m;
    static const uint8_t hdr[] = {0, 9, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    memcpy(p, hdr, sizeof(hdr));
    p += sizeof(hdr);
    for (int i = 0; i < 3; i++) { /* 30 x K . 30 x k . 30 x K . big.test. */
        *p++ = 30;
        memset(p, i == 1 ? 'k' : 'K', 30);
        p += 30;
    }
    static const uint8_t tail[] = {3, 'b', 'i', 'g', 4, 't', 'e', 's', 't', 0, 0, 6, 0, 1};
    memcpy(p, tail, sizeof(tail));
    p += sizeof(tail);
    size_t qend = (size_t)(p - m);
    *p++ = 0xC0;
    *p++ = 12;
    static const uint8_t fixed[] = {0, 250, 0, 255, 0, 0, 0, 0};
    memcpy(p, fixed, sizeof(fixed));
    p += sizeof(fixed);
    static const uint8_t alg[] = {11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0};
    *p++ = 0;
    *p++ = (uint8_t)(sizeof(alg) + 10 + 6);
    memcpy(p, alg, sizeof(alg));
    p += sizeof(alg);
    memset(p, 0, 16); /* time 0, fudge 0, no MAC, original ID 0, no error, no other data */
    p += 16;
    size_t len = (size_t)(p - m);
    static uint8_t out[4096];
    struct sockaddr_in sa = addr4("127.0.0.1");
    size_t n = query_process(&snap->env, m, len, out, sizeof(out), 0, (const struct sockaddr *)&sa);
    CHECK(n >= 12 && (out[3] & 0xF) == LDNS_RCODE_NOTAUTH, "unknown key by pointer: NOTAUTH");
    CHECK(n <= len, "the BADKEY reply is no longer than the query (%zu, %zu)", n, len);
    CHECK(n >= qend + 2 && out[n - 41] == 0xC0 && out[n - 40] == 12,
          "its TSIG owner is a pointer to the question name");
    ldns_pkt *pk = NULL;
    CHECK(ldns_wire2pkt(&pk, out, n) == LDNS_STATUS_OK && ldns_pkt_tsig(pk),
          "ldns reads the reply and its TSIG");
    if (pk && ldns_pkt_tsig(pk)) {
        ldns_rr *t = ldns_pkt_tsig(pk);
        ldns_rdf *q = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pk), 0));
        CHECK(ldns_dname_compare(ldns_rr_owner(t), q) == 0, "the TSIG owner reads as the question");
        CHECK(ldns_rdf2native_int16(ldns_rr_rdf(t, 5)) == 17, "the TSIG error is BADKEY");
    }
    ldns_pkt_free(pk);
}

/* A record too big for a 16 KiB message (a TXT of 20 KB) starts a new message that grows as large
 * as it needs (up to 64 KiB); the records before it stay in messages of at most 16 KiB. */
static void test_big_record(void)
{
    xfr_seen_t s;
    xfr_result_t r;
    run("huge.test.", LDNS_RR_TYPE_AXFR, NULL, "127.0.0.5", &s, &r);
    CHECK(s.rcode == 0 && r.allowed && s.soa_first && s.soa_last, "huge.test: a whole AXFR (%d)",
          s.rcode);
    CHECK(s.records == 1 + 1 + 1 + 400 + 1 + 1, "every record (%zu)", s.records);
    CHECK(s.over_16k == 1 && s.messages >= 2, "only the big TXT's message over 16 KiB (%zu of %zu)",
          s.over_16k, s.messages);
    run("huge.test.", LDNS_RR_TYPE_AXFR, KEY, "127.0.0.1", &s, &r);
    CHECK(s.rcode == 0 && s.verified_all && s.soa_last && s.over_16k == 1,
          "signed: every message verifies, the big one included");
}

/* The streaming interface: pieces are whole frames, empty or at least one full 16 KiB message
 * but the last, a few messages at most (the zone is not held), and together the bytes
 * xfr_process() gives; a stream freed midway leaks nothing (the ASan build checks). */
static void test_stream(void)
{
    uint8_t *req, *all;
    ldns_rdf *mac;
    size_t rlen = request("big.test.", LDNS_RR_TYPE_AXFR, NULL, &req, &mac);
    struct sockaddr_in sa = addr4("127.0.0.5");
    const struct sockaddr *src = (const struct sockaddr *)&sa;
    size_t alllen;
    xfr_result_t r;
    CHECK(xfr_process(&snap->env, req, rlen, src, 1796000000, false, &all, &alllen, &r) == 0,
          "xfr_process");
    xfr_stream_t *st;
    CHECK(xfr_start(&snap->env, req, rlen, src, 1796000000, false, &st, &r) == 0 && r.allowed,
          "xfr_start: allowed");
    size_t off = 0, pieces = 0, biggest = 0;
    bool whole = true, same = true, big_enough = true;
    int more;
    do {
        const uint8_t *p;
        size_t l;
        more = xfr_next(st, &p, &l);
        if (more < 0)
            break;
        pieces++;
        biggest = l > biggest ? l : biggest;
        size_t f = 0;
        while (f + 2 <= l)
            f += 2 + (((size_t)p[f] << 8) | p[f + 1]);
        whole &= f == l;
        big_enough &= !more || !l || l >= 15 * 1024;
        same &= off + l <= alllen && !memcmp(all + off, p, l);
        off += l;
    } while (more > 0);
    CHECK(more == 0, "the stream ends (%d)", more);
    CHECK(pieces >= 2 && whole, "%zu pieces, each whole frames", pieces);
    CHECK(big_enough, "every piece but the last empty or a full message at least");
    CHECK(biggest <= 2 * (65535 + 2), "the largest piece %zu bytes: at most two messages", biggest);
    CHECK(same && off == alllen, "the same %zu bytes as xfr_process", alllen);
    size_t messages, records;
    xfr_counts(st, &messages, &records);
    CHECK(records == 2 * NRECORDS + 4 && messages > 1, "counts: %zu messages, %zu records",
          messages, records);
    xfr_free(st);
    free(all);
    /* Freed after the first piece. */
    CHECK(xfr_start(&snap->env, req, rlen, src, 1796000000, false, &st, &r) == 0, "again");
    const uint8_t *p;
    size_t l;
    CHECK(xfr_next(st, &p, &l) == 1, "a first piece, more to come");
    xfr_free(st);
    free(req);
    ldns_rdf_deep_free(mac);
}

/* A key ring of KEYRING_N keys: every allow entry finds its key (letter case aside), a key
 * written twice in other letter case or with the final dot is refused at its file:line:col
 * naming the first, and an unknown key names its allow entry. (Checked by hash: the duplicate
 * check used to compare every key with every earlier one.) */
#define KEYRING_N 3000
static void test_keyring(void)
{
    size_t cap = (size_t)KEYRING_N * 160 + 1024, len = 0;
    char *text = malloc(cap);
    if (!text)
        return;
    len += (size_t)snprintf(text + len, cap - len, "tsig_keys:\n");
    for (int i = 0; i < KEYRING_N; i++)
        len +=
            (size_t)snprintf(text + len, cap - len, "  key%d.example: {secret: \"" KEY "\"}\n", i);
    len += (size_t)snprintf(text + len, cap - len, "transfer:\n  allow:\n");
    for (int i = 0; i < KEYRING_N; i += 7)
        len += (size_t)snprintf(text + len, cap - len, "    - {key: KEY%d.Example}\n", i);
    yt_doc_t *doc = NULL;
    char err[512] = "";
    arena_t a;
    arena_init(&a);
    xfr_keyring_t ring;
    xfr_policy_t *pol = NULL;
    CHECK(!yt_doc_load_buffer("ring.yaml", text, len, &doc, err, sizeof(err)), "%s", err);
    const yt_node_t *root = doc ? yt_doc_root(doc) : NULL;
    CHECK(root && !xfr_keys_parse(yt_map_get(root, "tsig_keys"), &a, &ring, err, sizeof(err)) &&
              ring.n == KEYRING_N,
          "%s", err);
    CHECK(root && !xfr_policy_parse(yt_map_get(root, "transfer"), &a, &pol, err, sizeof(err)) &&
              !xfr_policy_resolve(pol, &ring, err, sizeof(err)),
          "%s", err);
    for (size_t i = 0; pol && i < pol->nallow; i++) {
        char want[64];
        snprintf(want, sizeof(want), "key%zu.example", 7 * i);
        CHECK(pol->allow[i].key && !strcmp(pol->allow[i].key->name_str, want),
              "allow %zu: key %s, want %s", i,
              pol->allow[i].key ? pol->allow[i].key->name_str : "none", want);
    }
    uint8_t wire[] = "\x07key2999\x07"
                     "example";
    CHECK(xfr_key_find(&ring, wire, sizeof(wire)) == &ring.keys[2999], "xfr_key_find key2999");
    wire[5] = '8';
    CHECK(xfr_key_find(&ring, wire, sizeof(wire)) == &ring.keys[2899], "xfr_key_find key2899");
    wire[1] = 'x';
    CHECK(!xfr_key_find(&ring, wire, sizeof(wire)), "xfr_key_find of an absent name");
    xfr_policy_t unknown = {
        .allow = &(xfr_allow_t){.keyname = "key3000.example", .where = "ring.yaml:9:7"},
        .nallow = 1};
    CHECK(xfr_policy_resolve(&unknown, &ring, err, sizeof(err)) &&
              !strcmp(err, "ring.yaml:9:7: key 'key3000.example' is not in tsig_keys"),
          "unknown key: %s", err);
    /* a key named with the final dot does not name one configured without it (as before) */
    unknown.allow->keyname = "key1.example.";
    CHECK(xfr_policy_resolve(&unknown, &ring, err, sizeof(err)), "key1.example. resolved");
    yt_doc_free(doc);
    doc = NULL;
    len = (size_t)snprintf(text, cap, "tsig_keys:\n");
    for (int i = 0; i < KEYRING_N; i++)
        len +=
            (size_t)snprintf(text + len, cap - len, "  key%d.example: {secret: \"" KEY "\"}\n", i);
    /* "KEY12.example." is key12.example again: refused at its line (2 + KEYRING_N), column 3. */
    len += (size_t)snprintf(text + len, cap - len, "  KEY12.example.: {secret: \"" KEY "\"}\n");
    CHECK(!yt_doc_load_buffer("ring.yaml", text, len, &doc, err, sizeof(err)), "%s", err);
    char want[128];
    snprintf(want, sizeof(want),
             "ring.yaml:%d:3: key 'KEY12.example.' defined twice (first as 'key12.example')",
             KEYRING_N + 2);
    root = doc ? yt_doc_root(doc) : NULL;
    CHECK(root && xfr_keys_parse(yt_map_get(root, "tsig_keys"), &a, &ring, err, sizeof(err)) &&
              !strcmp(err, want),
          "duplicate key: '%s', want '%s'", err, want);
    yt_doc_free(doc);
    arena_deinit(&a);
    free(text);
}

int main(void)
{
    char dir[] = "/tmp/test_xfr.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    char path[512];
    snprintf(path, sizeof(path), "%s/big.yaml", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fprintf(f, "zone: big.test\nsoa: {primary: ns1, contact: h@big.test, serial: 7}\nns: [ns1]\n"
               "records:\n  ns1: {A: 127.0.0.1}\n");
    for (int i = 0; i < NRECORDS; i++)
        fprintf(f, "  h%d: {A: 10.0.%d.%d, TXT: \"record %d with some padding text\"}\n", i,
                i / 250, i % 250, i);
    fclose(f);
    /* huge.test: 200 small names, one TXT of 80 strings of 250 bytes, 200 small names. */
    snprintf(path, sizeof(path), "%s/huge.yaml", dir);
    if (!(f = fopen(path, "w")))
        return 1;
    fprintf(f, "zone: huge.test\nsoa: {primary: ns1, contact: h@huge.test, serial: 1}\n"
               "ns: [ns1]\nrecords:\n  ns1: {A: 127.0.0.1}\n");
    for (int i = 0; i < 400; i++) {
        if (i == 200) {
            fprintf(f, "  big: {TXT: '");
            for (int k = 0; k < 80; k++)
                fprintf(f, "%s\"%0250d\"", k ? " " : "", k);
            fprintf(f, "'}\n");
        }
        fprintf(f, "  n%d: {A: 10.1.%d.%d}\n", i, i / 250, i % 250);
    }
    fclose(f);
    snprintf(path, sizeof(path), "%s/cdn.yaml", dir);
    write_file(path, "zone: cdn.test\nsoa: {primary: ns1, contact: h@cdn.test, serial: 3}\n"
                     "ns: [ns1]\ntransfer: {allow: [{net: 192.0.2.0/24}]}\nrecords:\n"
                     "  ns1: {A: 127.0.0.1}\n"
                     "  video: {geo: {pool: edges, answers: 1, ttl: 30}}\n"
                     "  sub: {NS: ns.sub}\n  ns.sub: {A: 192.0.2.99}\n"
                     "  hidden.sub: {A: 192.0.2.98}\n");
    snprintf(path, sizeof(path), "%s/pops.yaml", dir);
    write_file(path, "pops:\n  fra: {location: [50.1, 8.7], addresses: [192.0.2.10]}\n"
                     "  nyc: {location: [40.7, -74.0], addresses: [192.0.2.20]}\n"
                     "pools: {edges: [fra, nyc]}\n");
    snprintf(path, sizeof(path), "%s/geodnsd.yaml", dir);
    write_file(
        path,
        "listen: [\"127.0.0.1:5353\"]\nzones: [big.yaml, huge.yaml, cdn.yaml]\npops: pops.yaml\n"
        "tsig_keys: {xfr-key: {algorithm: hmac-sha256, secret: \"" KEY "\"},\n"
        "  k512: {algorithm: hmac-sha512, secret: \"" KEY512 "\"},\n"
        "  k1: {algorithm: hmac-sha1, secret: \"" KEY1 "\"}}\n"
        "transfer:\n  allow: [{net: 127.0.0.1/32, key: xfr-key}, {net: 127.0.0.5},\n"
        "    {key: k512}, {key: k1}]\n");
    char err[1024];
    if (gd_snapshot_load(path, NULL, 1, &snap, err, sizeof(err))) {
        fprintf(stderr, "cannot load test config: %s\n", err);
        return 1;
    }
    test_transfers();
    test_big_record();
    test_stream();
    test_ixfr_serials();
    test_edns();
    test_ixfr_wire();
    test_udp_and_dispatch();
    test_tsig_compressed_algorithm();
    test_badkey_owner_pointer();
    test_keyring();
    gd_snapshot_unref(snap);
    const char *names[] = {"big.yaml", "cdn.yaml", "pops.yaml", "geodnsd.yaml"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
    return check_report();
}
