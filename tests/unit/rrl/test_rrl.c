/* test_rrl.c: the rate limiter's buckets with a simulated clock (no sleeping, no timing):
 * refill, burst, slip, per-prefix and per-class keys, exemptions, a full table and the wrap of
 * the 32-bit millisecond clock; rrl_truncate on a real query_process response. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cookie.h"
#include "dname.h"
#include "query.h"
#include "rrl.h"
#include "snapshot.h"

static struct sockaddr_storage v4(const char *a)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *s = (struct sockaddr_in *)&ss;
    s->sin_family = AF_INET;
    inet_pton(AF_INET, a, &s->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *a)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
    s->sin6_family = AF_INET6;
    inet_pton(AF_INET6, a, &s->sin6_addr);
    return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

/* Send n responses named name at time now; count the verdicts. */
static void burst_named(rrl_table_t *t, const rrl_config_t *c, const struct sockaddr *src,
                        rrl_class_t cls, uint32_t name, uint32_t now, int n, int *pass, int *drop,
                        int *slip)
{
    *pass = *drop = *slip = 0;
    for (int i = 0; i < n; i++) {
        rrl_verdict_t v = rrl_account(t, c, src, cls, name, now);
        *(v == RRL_PASS ? pass : v == RRL_DROP ? drop : slip) += 1;
    }
}

/* Send n responses (all of one name) at time now; count the verdicts. */
static void burst(rrl_table_t *t, const rrl_config_t *c, const struct sockaddr *src,
                  rrl_class_t cls, uint32_t now, int n, int *pass, int *drop, int *slip)
{
    burst_named(t, c, src, cls, 0, now, n, pass, drop, slip);
}

/* A default config at rate and slip, and a table of the smallest size. */
static rrl_table_t *setup(rrl_config_t *c, uint32_t rate, uint32_t slip)
{
    rrl_config_default(c);
    c->rate = rate;
    c->slip = slip;
    rrl_table_t *t = rrl_table_new(RRL_TABLE_MIN);
    CHECK(t != NULL, "table");
    return t;
}

static void test_bucket(void)
{
    rrl_config_t c;
    rrl_table_t *t = setup(&c, 5, 2);
    c.enabled = true;
    struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.200"), other = v4("192.0.3.1");
    int p, d, s;
    burst(t, &c, SA(a), RRL_ANSWER, 1000, 100, &p, &d, &s);
    CHECK(p == 5, "burst of 5 passes, got %d", p);
    CHECK(d == 48 && s == 47, "slip 2: half of the limited truncated (drop %d slip %d)", d, s);
    /* Same /24: the same bucket. */
    burst(t, &c, SA(b), RRL_ANSWER, 1000, 1, &p, &d, &s);
    CHECK(p == 0, "same /24 shares the bucket");
    /* Another /24, another class: their own buckets. */
    burst(t, &c, SA(other), RRL_ANSWER, 1000, 5, &p, &d, &s);
    CHECK(p == 5, "another /24 is not limited (%d)", p);
    burst(t, &c, SA(a), RRL_NXDOMAIN, 1000, 5, &p, &d, &s);
    CHECK(p == 5, "NXDOMAIN has its own bucket (%d)", p);
    /* Refill: 200 ms at 5/s is one response. */
    burst(t, &c, SA(a), RRL_ANSWER, 1200, 3, &p, &d, &s);
    CHECK(p == 1, "200 ms refill one token, got %d", p);
    burst(t, &c, SA(a), RRL_ANSWER, 1300, 1, &p, &d, &s);
    CHECK(p == 0, "100 ms: half a token is not a response");
    burst(t, &c, SA(a), RRL_ANSWER, 1400, 1, &p, &d, &s);
    CHECK(p == 1, "the half tokens add up");
    /* A long pause fills the bucket to the burst, no more. */
    burst(t, &c, SA(a), RRL_ANSWER, 60000, 10, &p, &d, &s);
    CHECK(p == 5, "after a pause: one burst (%d)", p);

    /* slip 0 drops all, slip 1 truncates all. */
    c.slip = 0;
    burst(t, &c, SA(a), RRL_ANSWER, 60000, 10, &p, &d, &s);
    CHECK(p == 0 && s == 0 && d == 10, "slip 0: all dropped");
    c.slip = 1;
    burst(t, &c, SA(a), RRL_ANSWER, 60000, 10, &p, &d, &s);
    CHECK(p == 0 && d == 0 && s == 10, "slip 1: all truncated");
    c.slip = 3;
    burst(t, &c, SA(a), RRL_ANSWER, 60000, 9, &p, &d, &s);
    CHECK(s == 3 && d == 6, "slip 3: one in three truncated (%d, %d)", s, d);
    rrl_table_free(t);
}

static void test_names(void)
{
    /* Within one prefix and class, each name has its own bucket. */
    rrl_config_t c;
    rrl_table_t *t = setup(&c, 5, 0);
    struct sockaddr_storage a = v4("192.0.2.1");
    int p, d, s;
    burst_named(t, &c, SA(a), RRL_ANSWER, 0x1111, 1000, 20, &p, &d, &s);
    CHECK(p == 5 && d == 15, "one name: its burst of 5 (%d)", p);
    burst_named(t, &c, SA(a), RRL_ANSWER, 0x2222, 1000, 20, &p, &d, &s);
    CHECK(p == 5, "another name from the same /24: its own burst (%d)", p);
    burst_named(t, &c, SA(a), RRL_ANSWER, 0x1111, 1000, 1, &p, &d, &s);
    CHECK(p == 0, "the first name is still limited");
    burst_named(t, &c, SA(a), RRL_NODATA, 0x1111, 1000, 1, &p, &d, &s);
    CHECK(p == 1, "the same name in another class: another bucket");
    /* Many names from one source: every one answered, the table evicts the oldest. */
    int passed = 0;
    for (uint32_t i = 0; i < 4 * RRL_TABLE_MIN; i++) {
        burst_named(t, &c, SA(a), RRL_ANSWER, 0x10000 + i, 2000, 1, &p, &d, &s);
        passed += p;
    }
    CHECK(passed == 4 * RRL_TABLE_MIN, "%u names once each: all answered (%d)", 4 * RRL_TABLE_MIN,
          passed);
    rrl_table_free(t);
}

static void test_prefixes(void)
{
    rrl_config_t c;
    rrl_table_t *t = setup(&c, 1, 0);
    int p, d, s;
    struct sockaddr_storage a = v6("2001:db8:0:100::1"), b = v6("2001:db8:0:1ff::2"),
                            o = v6("2001:db8:0:200::1"), m = v6("::ffff:192.0.2.9"),
                            m4 = v4("192.0.2.10");
    burst(t, &c, SA(a), RRL_ANSWER, 5, 1, &p, &d, &s);
    burst(t, &c, SA(b), RRL_ANSWER, 5, 1, &p, &d, &s);
    CHECK(p == 0, "same /56 shares the bucket");
    burst(t, &c, SA(o), RRL_ANSWER, 5, 1, &p, &d, &s);
    CHECK(p == 1, "another /56 has its own");
    burst(t, &c, SA(m), RRL_ANSWER, 5, 1, &p, &d, &s);
    burst(t, &c, SA(m4), RRL_ANSWER, 5, 1, &p, &d, &s);
    CHECK(p == 0, "an IPv4-mapped address counts as its IPv4 /24");
    c.ipv4_prefix = 32;
    burst(t, &c, SA(m4), RRL_ANSWER, 5, 1, &p, &d, &s);
    CHECK(p == 1, "ipv4_prefix 32: per address");

    addr_net_t px;
    CHECK(addr_net_parse("10.1.0.0/16", &px) == 0 && px.bits == 16, "parse v4 prefix");
    CHECK(addr_net_parse("2001:db8::/32", &px) == 0 && px.bits == 32, "parse v6 prefix");
    CHECK(addr_net_parse("192.0.2.7", &px) == 0 && px.bits == 32, "an address is a /32");
    CHECK(addr_net_parse("10.0.0.0/33", &px) != 0, "/33 refused");
    CHECK(addr_net_parse("10.0.0.0/", &px) != 0, "empty bits refused");
    CHECK(addr_net_parse("example.com", &px) != 0, "a name refused");
    addr_net_parse("10.1.0.0/16", &c.exempt[c.nexempt++]);
    addr_net_parse("2001:db8::/32", &c.exempt[c.nexempt++]);
    addr_net_parse("192.0.2.128/25", &c.exempt[c.nexempt++]);
    struct sockaddr_storage e1 = v4("10.1.255.3"), e2 = v4("10.2.0.1"), e3 = v4("192.0.2.200"),
                            e4 = v4("192.0.2.100"), e5 = v6("::ffff:10.1.2.3");
    CHECK(rrl_exempt(&c, SA(e1)), "10.1.255.3 in 10.1/16");
    CHECK(!rrl_exempt(&c, SA(e2)), "10.2.0.1 not exempt");
    CHECK(rrl_exempt(&c, SA(e3)), "/25 upper half exempt");
    CHECK(!rrl_exempt(&c, SA(e4)), "/25 lower half not exempt");
    CHECK(rrl_exempt(&c, SA(a)), "2001:db8::/32");
    CHECK(rrl_exempt(&c, SA(e5)), "IPv4-mapped inside an IPv4 exempt prefix");
    rrl_table_free(t);
}

/* More keys than buckets: no allocation, no failure; every new key gets a bucket (the least
 * recently used of its probe window), so it starts with a full burst. Keys that keep coming
 * within the same millisecond stay limited when they fit. */
static void test_table_full(void)
{
    rrl_config_t c;
    rrl_table_t *t = setup(&c, 2, 0);
    CHECK(rrl_table_new(RRL_TABLE_MIN + 1) == NULL, "size not a power of two refused");
    CHECK(rrl_table_new(RRL_TABLE_MIN / 2) == NULL, "size below the minimum refused");
    int p, d, s, total_pass = 0;
    char ip[32];
    uint32_t now = 100;
    /* 8x the table in distinct /24s. */
    for (int i = 0; i < 8 * (int)RRL_TABLE_MIN; i++) {
        snprintf(ip, sizeof(ip), "10.%d.%d.1", (i >> 8) & 255, i & 255);
        struct sockaddr_storage a = v4(ip);
        burst(t, &c, SA(a), RRL_ANSWER, now, 3, &p, &d, &s);
        total_pass += p;
        CHECK(p == 2 && d == 1, "new key in a full table: a full burst, then limited (%s)", ip);
        now++;
    }
    CHECK(total_pass == 16 * (int)RRL_TABLE_MIN, "every key got its burst");
    /* A key just used is still there (the eviction took an older bucket). */
    snprintf(ip, sizeof(ip), "10.%d.%d.1", ((8 * (int)RRL_TABLE_MIN - 1) >> 8) & 255,
             (8 * (int)RRL_TABLE_MIN - 1) & 255);
    struct sockaddr_storage last = v4(ip);
    burst(t, &c, SA(last), RRL_ANSWER, now, 1, &p, &d, &s);
    CHECK(p == 0, "the most recent key kept its empty bucket");
    rrl_table_free(t);
}

/* The millisecond clock is 32 bits: it wraps after 49.7 days. */
static void test_wrap(void)
{
    rrl_config_t c;
    rrl_table_t *t = setup(&c, 10, 0);
    struct sockaddr_storage a = v4("198.51.100.1");
    int p, d, s;
    uint32_t before = UINT32_MAX - 50;
    burst(t, &c, SA(a), RRL_ANSWER, before, 20, &p, &d, &s);
    CHECK(p == 10, "burst before the wrap (%d)", p);
    /* 100 ms later, across the wrap: one more token... */
    burst(t, &c, SA(a), RRL_ANSWER, before + 100u, 3, &p, &d, &s);
    CHECK(p == 1, "100 ms across the wrap is one token, got %d", p);
    /* ...and not a giant or negative elapsed time. */
    burst(t, &c, SA(a), RRL_ANSWER, before + 150u, 3, &p, &d, &s);
    CHECK(p == 0, "50 ms later: nothing yet, got %d", p);
    burst(t, &c, SA(a), RRL_ANSWER, 5000, 20, &p, &d, &s);
    CHECK(p == 10, "seconds after the wrap: a full burst (%d)", p);
    rrl_table_free(t);
}

static void test_truncate(void)
{
    /* header, question "a." A IN, one answer, OPT. */
    uint8_t m[] = {0x12, 0x34, 0x84, 0x00, 0,    1, 0, 1, 0, 0,  0, 1, /* header */
                   1,    'a',  0,    0,    1,    0, 1,                 /* question: ends at 19 */
                   0xc0, 12,   0,    1,    0,    1, 0, 0, 0, 60, 0, 4,
                   192,  0,    2,    1,                              /* A: 16 bytes */
                   0,    0,    41,   4,    0xd0, 0, 0, 0, 0, 0,  0}; /* OPT at 35 */
    size_t n = rrl_truncate(m, sizeof(m), 19, 35);
    CHECK(n == 19 + 11, "question and OPT kept (%zu)", n);
    CHECK(m[2] & 0x02, "TC set");
    CHECK(m[2] & 0x80 && m[2] & 0x04, "QR and AA kept");
    CHECK(m[4] == 0 && m[5] == 1 && m[7] == 0 && m[9] == 0 && m[11] == 1, "counts 1 0 0 1");
    CHECK(m[19] == 0 && m[21] == 41, "OPT follows the question");
    /* A signed reply: the TSIG after the OPT goes (its MAC covered what is cut), the counts
     * say what is left. */
    uint8_t m3[] = {0x12, 0x34, 0x84, 0x00, 0,   1, 0,   0, 0, 0, 0, 2, /* header */
                    1,    'a',  0,    0,    1,   0, 1,                  /* question: ends at 19 */
                    0,    0,    41,   4,    0,   0, 0,   0, 0, 0, 4,    /* OPT at 19, 4 bytes of */
                    0,    10,   0,    0,                                /* an empty COOKIE */
                    1,    'k',  0,    0,    250, 0, 255, 0, 0, 0, 0, 0,
                    5,    1,    2,    3,    4,   5}; /* TSIG */
    n = rrl_truncate(m3, sizeof(m3), 19, 19);
    CHECK(n == 19 + 15 && m3[11] == 1 && m3[21] == 41 && m3[31] == 10,
          "with a TSIG after the OPT: question and OPT only, ARCOUNT 1 (%zu)", n);
    uint8_t m2[] = {0, 1,    0x84, 0, 0, 1, 0, 1, 0, 0, 0,  0, 1, 'a', 0, 0, 1, 0,
                    1, 0xc0, 12,   0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
    n = rrl_truncate(m2, sizeof(m2), 19, 0);
    CHECK(n == 19 && m2[11] == 0 && m2[7] == 0, "without OPT: header and question");
}

/* A query for name (dotted, no final dot) and type with an OPT, optionally a COOKIE option. */
static size_t make_query(uint8_t *m, const char *name, uint16_t type, const uint8_t *cookie,
                         size_t clen)
{
    static const uint8_t hdr[12] = {0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
    memcpy(m, hdr, 12);
    size_t nlen = 0;
    if (dns_name_from_text(name, m + 12, &nlen))
        abort(); /* the tests' names are valid */
    size_t o = 12 + nlen;
    m[o++] = (uint8_t)(type >> 8);
    m[o++] = (uint8_t)type;
    m[o++] = 0;
    m[o++] = 1;
    uint8_t opt[11] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
    opt[10] = cookie ? (uint8_t)(4 + clen) : 0;
    memcpy(m + o, opt, 11);
    o += 11;
    if (cookie) {
        m[o++] = 0;
        m[o++] = 10;
        m[o++] = 0;
        m[o++] = (uint8_t)clen;
        memcpy(m + o, cookie, clen);
        o += clen;
    }
    return o;
}

/* query_process_meta reports the class of each response and whether a valid server cookie came
 * with the query; qend and opt_off let rrl_truncate cut the response. */
static void test_query_meta(void)
{
    gd_snapshot_t *snap;
    char err[512];
    if (gd_snapshot_load(TEST_DATA "/server.yaml", NULL, 1, &snap, err, sizeof(err))) {
        CHECK(0, "load: %s", err);
        return;
    }
    CHECK(!snap->cfg.rrl.enabled, "no rrl: key, no rate limiting");
    struct sockaddr_storage src = v4("192.0.2.77");
    static uint8_t q[512], out[4096];
    static const struct {
        const char *name;
        uint16_t type;
        rrl_class_t cls;
    } cases[] = {
        {"www.example.test", 1, RRL_ANSWER},     {"alias.example.test", 1, RRL_ANSWER},
        {"www.example.test", 16, RRL_NODATA},    {"nothere.example.test", 1, RRL_NXDOMAIN},
        {"a.sub.example.test", 1, RRL_REFERRAL}, {"www.not-ours.test", 1, RRL_ERROR},
    };
    query_meta_t meta;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t ql = make_query(q, cases[i].name, cases[i].type, NULL, 0);
        size_t n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(src), &meta);
        CHECK(n > 0 && meta.rrl_class == cases[i].cls, "%s type %u: class %u, want %u",
              cases[i].name, cases[i].type, meta.rrl_class, cases[i].cls);
        CHECK(!meta.cookie_valid, "%s: no cookie", cases[i].name);
        CHECK(meta.qend == 12 + strlen(cases[i].name) + 2 + 4, "%s: qend %u", cases[i].name,
              meta.qend);
        CHECK(meta.opt_off > 0 && out[meta.opt_off] == 0 && out[meta.opt_off + 2] == 41,
              "%s: OPT at opt_off %u", cases[i].name, meta.opt_off);
    }
    /* Client cookie only: not valid; the reply carries our server cookie, which is valid
     * when sent back (from the same address). */
    uint8_t cookie[24] = {1, 2, 3, 4, 5, 6, 7, 8};
    size_t ql = make_query(q, "www.example.test", 1, cookie, 8);
    size_t n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(src), &meta);
    CHECK(n > 0 && !meta.cookie_valid, "client cookie alone is not a valid server cookie");
    uint8_t *found = n >= 28 ? memmem(out, n, cookie, 8) : NULL;
    CHECK(found && found + 24 <= out + n, "server cookie in the reply");
    if (found) {
        memcpy(cookie + 8, found + 8, COOKIE_SERVER_LEN);
        ql = make_query(q, "www.example.test", 1, cookie, 24);
        n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(src), &meta);
        CHECK(n > 0 && meta.cookie_valid, "our server cookie sent back is valid");
        struct sockaddr_storage elsewhere = v4("198.51.100.9");
        n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(elsewhere), &meta);
        CHECK(n > 0 && !meta.cookie_valid, "the same cookie from another address is not");
        cookie[20] ^= 1;
        ql = make_query(q, "www.example.test", 1, cookie, 24);
        n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(src), &meta);
        CHECK(n > 0 && !meta.cookie_valid, "a damaged server cookie is not");
    }
    /* Bucket names: by question for answers and NODATA (case folded), by zone for NXDOMAIN,
     * by delegation for referrals, one for all errors. */
    static const struct {
        const char *a, *b;
        uint16_t ta, tb;
        bool same;
    } names[] = {
        {"www.example.test", "WwW.ExAmPle.TEST", 1, 1, true},
        {"www.example.test", "alias.example.test", 1, 1, false},
        {"www.example.test", "www.example.test", 1, 28, false},
        {"www.example.test", "www.example.test", 16, 99, false},
        {"nothere.example.test", "other.nothere.example.test", 1, 16, true},
        {"a.sub.example.test", "b.c.sub.example.test", 1, 1, true},
        {"www.not-ours.test", "x.not-ours-either.test", 1, 1, true},
        /* Synthesized answers count for their wildcard or DNAME (BIND: "as if for the parent"):
         * random names below one are one bucket. */
        {"a.wild.example.test", "b.c.wild.example.test", 1, 1, true},
        {"a.wild.example.test", "a.wild.example.test", 1, 16, false},
        {"a.wild.example.test", "exists.wild.example.test", 1, 1, false},
        {"x.d.dname.test", "y.z.d.dname.test", 1, 1, true},
        {"x.d.dname.test", "x.d2.dname.test", 1, 1, false},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        uint32_t h[2];
        rrl_class_t cls[2];
        for (int k = 0; k < 2; k++) {
            ql = make_query(q, k ? names[i].b : names[i].a, k ? names[i].tb : names[i].ta, NULL, 0);
            n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(src), &meta);
            cls[k] = (rrl_class_t)meta.rrl_class;
            h[k] = rrl_response_name(cls[k], out, meta.qend, meta.rrl_owner, meta.rrl_owner_len);
        }
        CHECK(cls[0] == cls[1] && (h[0] == h[1]) == names[i].same,
              "%s/%u and %s/%u: %s bucket name (class %u %u, %08x %08x)", names[i].a, names[i].ta,
              names[i].b, names[i].tb, names[i].same ? "the same" : "another", cls[0], cls[1], h[0],
              h[1]);
    }
    /* A referral is keyed by its delegation point: two delegations of one zone, two buckets. */
    ql = make_query(q, "a.b.sub.example.test", 1, NULL, 0);
    n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(src), &meta);
    static const uint8_t cut[] = "\003sub\007example\004test";
    CHECK(meta.rrl_class == RRL_REFERRAL && meta.rrl_owner && meta.rrl_owner_len == sizeof(cut) &&
              !memcmp(meta.rrl_owner, cut, sizeof(cut)),
          "referral: keyed by the delegation sub.example.test");
    static const uint8_t cut2[] = "\004sub2\007example\004test";
    CHECK(rrl_response_name(RRL_REFERRAL, out, meta.qend, cut, sizeof(cut)) !=
              rrl_response_name(RRL_REFERRAL, out, meta.qend, cut2, sizeof(cut2)),
          "two delegations of one zone: two bucket names");
    /* An NXDOMAIN is keyed by its zone's apex. */
    ql = make_query(q, "nothere.example.test", 1, NULL, 0);
    n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(src), &meta);
    static const uint8_t apex[] = "\007example\004test";
    CHECK(meta.rrl_class == RRL_NXDOMAIN && meta.rrl_owner && meta.rrl_owner_len == sizeof(apex) &&
              !memcmp(meta.rrl_owner, apex, sizeof(apex)),
          "NXDOMAIN: keyed by the zone example.test");
    /* The response cut by rrl_truncate: TC, question, OPT. */
    ql = make_query(q, "www.example.test", 1, NULL, 0);
    n = query_process_meta(&snap->env, q, ql, out, sizeof(out), 0, SA(src), &meta);
    size_t tn = rrl_truncate(out, n, meta.qend, meta.opt_off);
    CHECK(tn == meta.qend + 11u && (out[2] & 0x02) && out[7] == 0 && out[11] == 1,
          "truncated answer: %zu bytes", tn);
    gd_snapshot_unref(snap);
}

int main(void)
{
    test_query_meta();
    test_bucket();
    test_names();
    test_prefixes();
    test_table_full();
    test_wrap();
    test_truncate();
    return check_report();
}
