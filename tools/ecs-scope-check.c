/* ecs-scope-check: is the ECS scope geodnsd returns the widest correct one?
 *
 * For sample IPv4 addresses it asks a running geodnsd (UDP, loopback) for an A record of a geo
 * name with an ECS option, and compares the returned scope against the widest correct prefix,
 * computed here by brute force and independently of geodnsd's merged tables: for growing
 * prefixes around the address, every mmdb network inside the prefix is found by lookups on
 * network boundaries (MMDB_lookup through geoip_locate, nets entries and the special-purpose
 * ranges cut in), each is ranked through the route library, and the prefix is widened while
 * every answer equals the address's. An answer that depends on the client hash (tie band,
 * capacity shedding) is good for its /24 at most. Health: all PoPs up (run the server without
 * health input).
 *
 * Usage: ecs-scope-check --port P --name NAME --pops pops.yaml --policy geo.yaml
 *            [--mmdb FILE [--schema geoip2-city|dbip-city-lite]] [--nets nets.yaml]
 *            [--samples N] [--seed S] [--source 24|32] [--addr A.B.C.D]... [--type A|AAAA]
 *            [--verbose]
 * geo.yaml holds the policy's `geo:` mapping (at the root or under `geo:`); or give the zone
 * file and the record instead: --zone cdn.example.test.yaml --record video.
 * Prints "exact N narrower N wider N" and exits 1 when any scope is wider than correct. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dname.h"
#include "geoip.h"
#include "pops.h"
#include "route.h"
#include "wire.h"
#include "yamltree.h"

/* ---------------------------------------------------------------- what the config says */

static geoip_db_t *db;
static geoip_nets_t *nets;
static pops_t *pops;
static route_policy_t *pol;
static uint16_t (*net_fixed)[GEOIP_NET_POPS_MAX];
static int qfamily = AF_INET; /* --type A (AF_INET) or AAAA (AF_INET6) */
static uint8_t *net_nfixed;

/* Special-purpose IPv4 ranges an ECS address locates nobody in (the server answers them from
 * the resolver's address): their own answer class. Kept here, apart from the server's list. */
static const struct {
    uint32_t net;
    unsigned prefix;
} special[] = {
    {0x00000000u, 8}, {0x0a000000u, 8},  {0x7f000000u, 8},  {0xe0000000u, 4},
    {0xf0000000u, 4}, {0xa9fe0000u, 16}, {0xac100000u, 12}, {0xc0a80000u, 16},
};
#define NSPECIAL (sizeof(special) / sizeof(special[0]))

static uint32_t mask_of(unsigned p)
{
    return p ? 0xffffffffu << (32 - p) : 0;
}

static bool is_special(uint32_t a)
{
    for (size_t i = 0; i < NSPECIAL; i++)
        if ((a & mask_of(special[i].prefix)) == special[i].net)
            return true;
    return false;
}

/* An answer: the picked PoPs, or the whole ranking when the pick depends on the client hash. */
typedef struct answer {
    uint8_t cls; /* 0 located normally, 1 special range */
    route_decision_t d;
} answer_t;

/* Two answers are the same when they pick the same PoPs, or rank the same candidates when the
 * pick depends on the client hash. This is written here on purpose and not taken from
 * route/rtable.c's canon(), which looks alike: the check is meant to find the cases where the
 * merged tables call two different answers equal (and so widen a scope too far), and a shared
 * comparison would carry the same mistake into both sides. It also compares less: with one
 * policy and every PoP up (see the file comment) the PoPs-per-answer, short-TTL and shedding
 * fields never differ between addresses. */
static void canon(const route_decision_t *d, route_decision_t *o)
{
    memset(o, 0, sizeof(*o));
    o->outcome = d->outcome;
    o->full = d->full;
    if (d->hashed) {
        o->hashed = true;
        o->ncand = d->ncand;
        o->ntie = d->ntie;
        memcpy(o->cand, d->cand, d->ncand * sizeof(d->cand[0]));
    } else {
        o->n = d->n;
        memcpy(o->pop, d->pop, d->n * sizeof(d->pop[0]));
    }
}

/* Memo of answers by location (the ranking is the expensive part). */
#define MEMO_SLOTS (1u << 20)
static struct {
    uint64_t key;
    bool used;
    route_decision_t d;
} * memo;

static void answer_at(uint32_t a, answer_t *out)
{
    memset(out, 0, sizeof(*out));
    if (is_special(a)) {
        out->cls = 1;
        return;
    }
    uint8_t addr[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    geoip_loc_t loc;
    const geoip_net_t *net = NULL;
    (void)geoip_locate(db, nets, AF_INET, addr, &loc, &net);
    uint64_t key = net ? (1ull << 63) | net->id : loc.found ? loc.key : 0;
    size_t s = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 44) & (MEMO_SLOTS - 1);
    if (memo[s].used && memo[s].key == key) {
        out->d = memo[s].d;
        return;
    }
    route_client_t c;
    route_client_from_loc(&c, &loc);
    if (net && net_nfixed[net->id]) {
        c.fixed = net_fixed[net->id];
        c.nfixed = net_nfixed[net->id];
    }
    route_decision_t d;
    if (route_rank(pol, pops, &c, NULL, pol->mode == ROUTE_MODE_CNAME ? 0 : qfamily, &d, NULL)) {
        fprintf(stderr, "route_rank failed\n");
        exit(2);
    }
    canon(&d, &out->d);
    memo[s].used = true;
    memo[s].key = key;
    memo[s].d = out->d;
}

static bool answer_eq(const answer_t *x, const answer_t *y)
{
    return !memcmp(x, y, sizeof(*x));
}

/* The largest aligned block at a (inside [a, end)) whose addresses share one location: inside
 * one mmdb network, and cut wherever a nets entry or a special range begins or ends. */
static unsigned block_prefix(uint32_t a, unsigned range_prefix)
{
    uint8_t addr[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
    unsigned bp = 0;
    if (db) {
        geoip_ref_t ref;
        if (geoip_db_find(db, AF_INET, addr, &ref) == 0)
            bp = ref.prefix;
    }
    if (bp < range_prefix)
        bp = range_prefix;
    unsigned align = a ? 32 - (unsigned)__builtin_ctz(a) : 0;
    if (bp < align)
        bp = align;
    for (;;) {
        bool cut = false;
        uint32_t lo = a, hi = a + (uint32_t)((bp ? (1ull << (32 - bp)) : (1ull << 32)) - 1);
        size_t nn = nets ? geoip_nets_count(nets) : 0;
        for (size_t i = 0; i < nn + NSPECIAL && !cut; i++) {
            uint32_t net;
            unsigned p;
            if (i < nn) {
                const geoip_net_t *e = geoip_nets_entry(nets, i);
                if (e->family != AF_INET)
                    continue;
                net = (uint32_t)e->addr[0] << 24 | (uint32_t)e->addr[1] << 16 |
                      (uint32_t)e->addr[2] << 8 | e->addr[3];
                p = e->prefix;
            } else {
                net = special[i - nn].net;
                p = special[i - nn].prefix;
            }
            if (p > bp && net >= lo && net <= hi)
                cut = true;
        }
        if (!cut)
            return bp;
        bp++;
    }
}

/* Do all addresses of [base, base + 2^(32-p)) answer *want? */
static bool uniform(uint32_t base, unsigned p, const answer_t *want)
{
    uint64_t end = (uint64_t)base + (1ull << (32 - p));
    uint64_t a = base;
    while (a < end) {
        unsigned bp = block_prefix((uint32_t)a, p);
        answer_t x;
        answer_at((uint32_t)a, &x);
        if (!answer_eq(&x, want))
            return false;
        a += 1ull << (32 - bp);
    }
    return true;
}

/* The widest correct scope for address a. */
static unsigned widest(uint32_t a)
{
    answer_t want;
    answer_at(a, &want);
    unsigned p = 32;
    while (p > 0) {
        uint32_t sib = (a & mask_of(p)) ^ (1u << (32 - p));
        if (!uniform(sib, p, &want))
            break;
        p--;
    }
    if (want.d.hashed && p < 24)
        p = 24; /* the pick hashes the client's /24 */
    return p;
}

/* ---------------------------------------------------------------- asking the server */

static size_t skip_name(const uint8_t *b, size_t len, size_t o)
{
    while (o < len) {
        if ((b[o] & 0xC0) == 0xC0)
            return o + 2;
        if (!b[o])
            return o + 1;
        o += 1 + b[o];
    }
    return len + 1;
}

/* Returns the scope, or -1 on no/invalid reply. */
static int ask(int fd, const struct sockaddr_in *srv, const uint8_t *qname, size_t qlen, uint32_t a,
               unsigned src)
{
    uint8_t q[512];
    uint16_t id = (uint16_t)rand();
    memset(q, 0, 12);
    q[0] = (uint8_t)(id >> 8);
    q[1] = (uint8_t)id;
    q[2] = 0x00; /* RD off */
    q[5] = 1;    /* QDCOUNT */
    q[11] = 1;   /* ARCOUNT */
    memcpy(q + 12, qname, qlen);
    size_t n = 12 + qlen;
    q[n++] = 0;
    q[n++] = qfamily == AF_INET6 ? 28 : 1; /* AAAA or A */
    q[n++] = 0;
    q[n++] = 1; /* IN */
    unsigned abytes = (src + 7) / 8;
    uint32_t m = a & mask_of(src);
    q[n++] = 0; /* OPT owner root */
    q[n++] = 0;
    q[n++] = 41;
    q[n++] = 0x04;
    q[n++] = 0xd0; /* 1232 */
    q[n++] = 0;
    q[n++] = 0;
    q[n++] = 0;
    q[n++] = 0;
    uint16_t rdlen = (uint16_t)(4 + 4 + abytes);
    q[n++] = (uint8_t)(rdlen >> 8);
    q[n++] = (uint8_t)rdlen;
    q[n++] = 0;
    q[n++] = 8; /* ECS */
    q[n++] = 0;
    q[n++] = (uint8_t)(4 + abytes);
    q[n++] = 0;
    q[n++] = 1; /* IPv4 */
    q[n++] = (uint8_t)src;
    q[n++] = 0;
    for (unsigned i = 0; i < abytes; i++)
        q[n++] = (uint8_t)(m >> (24 - 8 * i));
    for (int tries = 0; tries < 5; tries++) {
        if (sendto(fd, q, n, 0, (const struct sockaddr *)srv, sizeof(*srv)) < 0)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        while (poll(&pfd, 1, 1000) > 0) {
            uint8_t r[4096];
            ssize_t len = recv(fd, r, sizeof(r), 0);
            if (len < 12 || r[0] != q[0] || r[1] != q[1])
                continue;
            size_t o = 12;
            unsigned qd = (unsigned)(r[4] << 8 | r[5]), an = (unsigned)(r[6] << 8 | r[7]),
                     ns = (unsigned)(r[8] << 8 | r[9]), ar = (unsigned)(r[10] << 8 | r[11]);
            for (unsigned i = 0; i < qd; i++)
                o = skip_name(r, (size_t)len, o) + 4;
            for (unsigned i = 0; i < an + ns + ar && o < (size_t)len; i++) {
                o = skip_name(r, (size_t)len, o);
                if (o + 10 > (size_t)len)
                    return -1;
                unsigned type = (unsigned)(r[o] << 8 | r[o + 1]);
                unsigned rl = (unsigned)(r[o + 8] << 8 | r[o + 9]);
                size_t rd = o + 10;
                if (rd + rl > (size_t)len)
                    return -1;
                if (type == 41)
                    for (size_t p = rd; p + 4 <= rd + rl;) {
                        unsigned code = (unsigned)(r[p] << 8 | r[p + 1]);
                        unsigned ol = (unsigned)(r[p + 2] << 8 | r[p + 3]);
                        if (code == 8 && ol >= 4 && p + 4 + ol <= rd + rl)
                            return r[p + 4 + 3];
                        p += 4 + ol;
                    }
                o = rd + rl;
            }
            return -1;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- main */

static void die(const char *what, const char *err)
{
    fprintf(stderr, "ecs-scope-check: %s: %s\n", what, err);
    exit(2);
}

int main(int argc, char **argv)
{
    const char *mmdb = NULL, *schema = "geoip2-city", *pops_path = NULL, *policy_path = NULL,
               *nets_path = NULL, *name = NULL, *record = NULL;
    unsigned port = 0, samples = 200, seed = 1, source = 24;
    bool verbose = false;
    uint32_t extra[256];
    size_t nextra = 0;
    static const struct option opts[] = {
        {"port", required_argument, 0, 'p'}, {"name", required_argument, 0, 'n'},
        {"mmdb", required_argument, 0, 'm'}, {"schema", required_argument, 0, 'S'},
        {"pops", required_argument, 0, 'P'}, {"policy", required_argument, 0, 'g'},
        {"nets", required_argument, 0, 'N'}, {"samples", required_argument, 0, 'c'},
        {"seed", required_argument, 0, 's'}, {"source", required_argument, 0, 'x'},
        {"addr", required_argument, 0, 'a'}, {"verbose", no_argument, 0, 'v'},
        {"zone", required_argument, 0, 'z'}, {"record", required_argument, 0, 'r'},
        {"type", required_argument, 0, 't'}, {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            port = (unsigned)atoi(optarg);
            break;
        case 'n':
            name = optarg;
            break;
        case 'm':
            mmdb = optarg;
            break;
        case 'S':
            schema = optarg;
            break;
        case 'P':
            pops_path = optarg;
            break;
        case 'g':
            policy_path = optarg;
            break;
        case 'N':
            nets_path = optarg;
            break;
        case 'c':
            samples = (unsigned)atoi(optarg);
            break;
        case 's':
            seed = (unsigned)atoi(optarg);
            break;
        case 'x':
            source = (unsigned)atoi(optarg);
            break;
        case 'v':
            verbose = true;
            break;
        case 'z':
            policy_path = optarg;
            break;
        case 'r':
            record = optarg;
            break;
        case 't':
            if (!strcmp(optarg, "AAAA"))
                qfamily = AF_INET6;
            else if (strcmp(optarg, "A"))
                die("--type", "A or AAAA");
            break;
        case 'a': {
            struct in_addr ia;
            if (inet_pton(AF_INET, optarg, &ia) != 1 || nextra == 256)
                die("--addr", optarg);
            extra[nextra++] = ntohl(ia.s_addr);
            break;
        }
        default:
            return 2;
        }
    }
    if (!port || !name || !pops_path || !policy_path || (source != 24 && source != 32)) {
        fprintf(stderr, "usage: ecs-scope-check --port P --name NAME --pops F --policy F "
                        "[--mmdb F --schema S] [--nets F] [--samples N] [--seed S] "
                        "[--source 24|32] [--addr A]...\n");
        return 2;
    }
    /* The question's name in wire form, checked once (a label over 63 bytes or a name over 255
     * is refused here, not written past the query buffer). */
    uint8_t qname[DNS_MAX_NAME];
    size_t qlen = 0;
    if (dns_name_from_text(name, qname, &qlen)) {
        fprintf(stderr, "ecs-scope-check: --name %s: not a valid domain name\n", name);
        return 2;
    }
    char err[1024];
    if (pops_load(pops_path, &pops, err, sizeof(err)))
        die(pops_path, err);
    if (mmdb) {
        geoip_schema_t sch;
        if (geoip_schema_preset(schema, &sch))
            die("schema", schema);
        if (geoip_db_open(mmdb, &sch, &db, err, sizeof(err)))
            die(mmdb, err);
    }
    size_t nn = 1;
    if (nets_path) {
        if (geoip_nets_load(nets_path, &nets, err, sizeof(err)))
            die(nets_path, err);
        nn = geoip_nets_count(nets) ? geoip_nets_count(nets) : 1;
    }
    net_fixed = calloc(nn, sizeof(*net_fixed));
    net_nfixed = calloc(nn, 1);
    memo = calloc(MEMO_SLOTS, sizeof(*memo));
    if (!net_fixed || !net_nfixed || !memo)
        die("memory", "out of memory");
    for (size_t i = 0; nets && i < geoip_nets_count(nets); i++) {
        const geoip_net_t *e = geoip_nets_entry(nets, i);
        if (!e->npops)
            continue;
        int k = pops_resolve_net(pops, e, net_fixed[i], err, sizeof(err));
        if (k < 0)
            die(nets_path, err);
        net_nfixed[i] = (uint8_t)k;
    }
    yt_doc_t *doc;
    if (yt_doc_load_file(policy_path, &doc, err, sizeof(err)))
        die(policy_path, err);
    const yt_node_t *root = yt_doc_root(doc);
    if (record) {
        const yt_node_t *recs = yt_map_get(root, "records");
        root = recs ? yt_map_get(recs, record) : NULL;
        if (!root)
            die(record, "no such record in the zone");
    }
    const yt_node_t *g = yt_map_get(root, "geo");
    if (route_policy_parse(g ? g : yt_doc_root(doc), pops, &pol, err, sizeof(err)))
        die(policy_path, err);

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    srv.sin_addr.s_addr = htonl(0x7f000001u);
    srand(seed);
    unsigned exact = 0, narrower = 0, wider = 0, noreply = 0, total = samples + (unsigned)nextra;
    unsigned hist_got[33] = {0}, hist_want[33] = {0};
    for (unsigned i = 0; i < total; i++) {
        uint32_t a;
        if (i < nextra) {
            a = extra[i];
        } else {
            do
                a = (uint32_t)rand() << 16 ^ (uint32_t)rand();
            while (is_special(a));
        }
        a &= mask_of(source);
        unsigned want = widest(a);
        int got = ask(fd, &srv, qname, qlen, a, source);
        if (got < 0) {
            noreply++;
            continue;
        }
        hist_got[got > 32 ? 32 : got]++;
        hist_want[want]++;
        const char *verdict = (unsigned)got == want  ? "exact"
                              : (unsigned)got > want ? "narrower"
                                                     : "WIDER";
        if ((unsigned)got == want)
            exact++;
        else if ((unsigned)got > want)
            narrower++;
        else
            wider++;
        if (verbose || (unsigned)got < want)
            printf("%u.%u.%u.%u/%u scope %d widest correct %u %s\n", a >> 24, (a >> 16) & 255,
                   (a >> 8) & 255, a & 255, source, got, want, verdict);
    }
    unsigned med_got = 0, med_want = 0, acc = 0, answered = exact + narrower + wider;
    for (unsigned p = 0; p <= 32; p++)
        if ((acc += hist_got[p]) * 2 >= answered && !med_got) {
            med_got = p ? p : 100;
            break;
        }
    acc = 0;
    for (unsigned p = 0; p <= 32; p++)
        if ((acc += hist_want[p]) * 2 >= answered) {
            med_want = p;
            break;
        }
    printf("%s samples %u source /%u: exact %u narrower %u wider %u no-reply %u (%.2f%% exact); "
           "median scope /%u, median widest correct /%u\n",
           qfamily == AF_INET6 ? "AAAA" : "A", total, source, exact, narrower, wider, noreply,
           answered ? 100.0 * exact / answered : 0.0, med_got == 100 ? 0 : med_got, med_want);
    close(fd);
    route_policy_free(pol);
    yt_doc_free(doc);
    geoip_nets_free(nets);
    geoip_db_close(db);
    pops_free(pops);
    free(net_fixed);
    free(net_nfixed);
    free(memo);
    return wider || noreply ? 1 : 0;
}
