/* ecs-scope-check: is the ECS scope geodnsd returns the widest correct one?
 *
 * For sample IPv4 (or, with --family 6, IPv6) addresses it asks a running geodnsd (UDP,
 * loopback) for an A record of a geo name with an ECS option, and compares the returned scope
 * against the widest correct prefix, computed here by brute force and independently of
 * geodnsd's merged tables: for growing prefixes around the address, every mmdb network inside
 * the prefix is found by lookups on network boundaries (MMDB_lookup through geoip_locate, nets
 * entries and the special-purpose ranges cut in), each is ranked through the route library, and
 * the prefix is widened while every answer equals the address's. An answer that depends on the
 * client hash (tie band, capacity shedding) is good for its /24 (/48) at most. Health: every PoP
 * up and keeping all its clients; or the view computed from the state files in --health-dir and
 * the --overrides file (health library, as `geodnsd explain` does: from the files as they are
 * now, without the server's history, so run the server on the same files and let it settle);
 * either way minus the PoPs named with --down.
 * IPv6 samples are drawn from the registries' blocks (random_address); the walk also covers
 * ::ffff:0:0/96, located and answered as IPv4.
 *
 * Usage: ecs-scope-check --port P --name NAME --pops pops.yaml --policy geo.yaml
 *            [--mmdb FILE [--schema geoip2-city|dbip-city-lite]] [--nets nets.yaml]
 *            [--samples N] [--seed S] [--family 4|6] [--source 24|32 | 48|56|..|128]
 *            [--addr ADDRESS]... [--type A|AAAA] [--down POP]... [--verbose]
 *            [--health-dir DIR] [--overrides FILE] [--quorum N] [--spill N]
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
#include <time.h>
#include <unistd.h>

#include "dname.h"
#include "geoip.h"
#include "health.h"
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
/* The health the server runs with: NULL (every PoP up, keeping all its clients), or the view
 * from --health-dir and --overrides, or every PoP up but the --down ones. */
static route_health_t health_view;
static const route_health_t *health;

/* Addresses are numbers of W bits: 32 for IPv4 ECS (--family 4), 128 for IPv6 (--family 6). */
__extension__ typedef unsigned __int128 u128;
static int family = AF_INET;
static unsigned W = 32;

/* The addresses of a /p: 2^(W-p), 0 standing for 2^128 (the whole IPv6 space). */
static u128 span(unsigned p)
{
    return W - p >= 128 ? 0 : (u128)1 << (W - p);
}

static u128 mask_of(unsigned p)
{
    u128 all = W == 128 ? ~(u128)0 : ((u128)1 << W) - 1;
    return p ? all & ~(span(p) - 1) : 0;
}

static void to_bytes(u128 a, uint8_t *out)
{
    for (unsigned i = 0; i < W / 8; i++)
        out[i] = (uint8_t)(a >> (W - 8 - 8 * i));
}

/* n bytes, most significant first (n = W / 8 for an address of the check's family). */
static u128 from_bytes(const uint8_t *b, unsigned n)
{
    u128 a = 0;
    for (unsigned i = 0; i < n; i++)
        a = a << 8 | b[i];
    return a;
}

/* ::ffff:0:0/96, where an IPv6 client is located and answered as the IPv4 address inside. */
static const u128 V4MAPPED = (u128)0xffffu << 32;

static bool v4mapped(u128 a)
{
    return W == 128 && a >> 32 == 0xffffu;
}

/* Special-purpose ranges an ECS address locates nobody in (the server answers them from the
 * resolver's address): their own answer class. Kept here, apart from the server's list: IPv4
 * (RFC 6890's "this network", private, loopback, link-local, multicast and reserved), and for
 * IPv6 the unspecified and loopback addresses, multicast, unique-local, link-local, and the
 * IPv4 ranges again inside ::ffff:0:0/96. */
static const struct {
    uint32_t net;
    unsigned prefix;
} special4[] = {
    {0x00000000u, 8}, {0x0a000000u, 8},  {0x7f000000u, 8},  {0xe0000000u, 4},
    {0xf0000000u, 4}, {0xa9fe0000u, 16}, {0xac100000u, 12}, {0xc0a80000u, 16},
};
#define NSPECIAL4 (sizeof(special4) / sizeof(special4[0]))
static const struct {
    uint16_t top; /* the first 16 bits */
    unsigned prefix;
} special6[] = {{0xff00u, 8}, {0xfc00u, 7}, {0xfe80u, 10}};
#define NSPECIAL6 (sizeof(special6) / sizeof(special6[0]))
/* Every special range, in the address family of the check (i < nspecial()). */
static size_t nspecial(void)
{
    return W == 32 ? NSPECIAL4 : NSPECIAL6 + 2 + NSPECIAL4;
}

static void special_at(size_t i, u128 *net, unsigned *prefix)
{
    if (W == 32) {
        *net = special4[i].net;
        *prefix = special4[i].prefix;
    } else if (i < NSPECIAL6) {
        *net = (u128)special6[i].top << 112;
        *prefix = special6[i].prefix;
    } else if (i < NSPECIAL6 + 2) {
        *net = i - NSPECIAL6; /* :: and ::1 */
        *prefix = 128;
    } else {
        *net = V4MAPPED | special4[i - NSPECIAL6 - 2].net;
        *prefix = 96 + special4[i - NSPECIAL6 - 2].prefix;
    }
}

/* 0, or 1 + the index of the longest special range holding a. Each range is an answer of its
 * own: the server answers it from the resolver's address with the range's own prefix as the
 * scope, never wider (an ECS of 10.1.2.0/24 is good for 10.0.0.0/8, not for 8.0.0.0/6). */
static unsigned special_class(u128 a)
{
    unsigned cls = 0, best = 0;
    for (size_t i = 0; i < nspecial(); i++) {
        u128 net;
        unsigned p;
        special_at(i, &net, &p);
        if ((a & mask_of(p)) == net && (!cls || p > best)) {
            cls = 1 + (unsigned)i;
            best = p;
        }
    }
    return cls;
}

static bool is_special(u128 a)
{
    return special_class(a) != 0;
}

/* An answer: the picked PoPs, or the whole ranking when the pick depends on the client hash. */
typedef struct answer {
    uint8_t cls; /* 0 located normally, else special_class() */
    route_decision_t d;
} answer_t;

/* Two answers are the same when they pick the same PoPs, or rank the same candidates when the
 * pick depends on the client hash. This is written here on purpose and not taken from
 * route/rtable.c's canon(), which looks alike: the check is meant to find the cases where the
 * merged tables call two different answers equal (and so widen a scope too far), and a shared
 * comparison would carry the same mistake into both sides. A pick by client hash is compared by
 * its whole ranking: which PoPs keep or take shed clients, and how many, is the health view's,
 * the same for every address. */
static void canon(const route_decision_t *d, route_decision_t *o)
{
    memset(o, 0, sizeof(*o));
    o->outcome = d->outcome;
    o->full = d->full;
    o->answers = d->answers;
    if (d->hashed) {
        o->hashed = true;
        o->ncand = d->ncand;
        o->ntie = d->ntie;
        memcpy(o->cand, d->cand, d->ncand * sizeof(d->cand[0]));
    } else {
        o->n = d->n;
        memcpy(o->pop, d->pop, d->n * sizeof(d->pop[0]));
        o->short_ttl = d->short_ttl; /* the answer's TTL */
        o->shed = d->shed;
    }
}

/* Memo of answers by location (the ranking is the expensive part). */
#define MEMO_SLOTS (1u << 20)
static struct {
    uint64_t key;
    bool used;
    route_decision_t d;
} * memo;

static void answer_at(u128 a, answer_t *out)
{
    memset(out, 0, sizeof(*out));
    if ((out->cls = (uint8_t)special_class(a)))
        return;
    uint8_t addr[16];
    to_bytes(a, addr);
    geoip_loc_t loc;
    const geoip_net_t *net = NULL;
    /* An IPv4-mapped client is located as the IPv4 address: geoip_locate does that itself. */
    (void)geoip_locate(db, nets, family, addr, &loc, &net);
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
    if (route_rank(pol, pops, &c, health, pol->mode == ROUTE_MODE_CNAME ? 0 : qfamily, &d, NULL)) {
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

/* A nets entry as a prefix of this check's family (an IPv4 entry also covers its IPv4-mapped
 * IPv6 addresses); false when it covers none. */
static bool nets_prefix(const geoip_net_t *e, u128 *net, unsigned *p)
{
    if (e->family == family) {
        *net = from_bytes(e->addr, W / 8);
        *p = e->prefix;
        return true;
    }
    if (W == 128 && e->family == AF_INET) {
        *net = V4MAPPED | from_bytes(e->addr, 4);
        *p = 96 + e->prefix;
        return true;
    }
    return false;
}

/* The largest aligned block at a (inside the /range_prefix being walked) whose addresses share
 * one location: inside one mmdb network, and cut wherever a nets entry or a special range
 * begins or ends. */
static unsigned block_prefix(u128 a, unsigned range_prefix)
{
    uint8_t addr[16];
    to_bytes(a, addr);
    unsigned bp = 0;
    if (db) {
        geoip_ref_t ref;
        if (geoip_db_find(db, family, addr, &ref) == 0)
            bp = v4mapped(a) ? 96u + ref.prefix : ref.prefix; /* IPv4 terms for mapped */
    }
    if (bp < range_prefix)
        bp = range_prefix;
    unsigned tz = 0;
    while (tz < W && !((a >> tz) & 1))
        tz++;
    unsigned align = W - tz;
    if (bp < align)
        bp = align;
    /* Mapped and unmapped addresses are located apart: no block crosses ::ffff:0:0/96. */
    while (W == 128 && bp < 96 && (a & mask_of(bp)) == (V4MAPPED & mask_of(bp)))
        bp++;
    for (;;) {
        bool cut = false;
        u128 lo = a, hi = a + (span(bp) - 1);
        size_t nn = nets ? geoip_nets_count(nets) : 0;
        for (size_t i = 0; i < nn + nspecial() && !cut; i++) {
            u128 net;
            unsigned p;
            if (i < nn) {
                if (!nets_prefix(geoip_nets_entry(nets, i), &net, &p))
                    continue;
            } else {
                special_at(i - nn, &net, &p);
            }
            if (p > bp && net >= lo && net <= hi)
                cut = true;
        }
        if (!cut)
            return bp;
        bp++;
    }
}

/* Do all addresses of the /p at base answer *want? */
static bool uniform(u128 base, unsigned p, const answer_t *want)
{
    u128 last = base + (span(p) - 1), a = base;
    for (;;) {
        unsigned bp = block_prefix(a, p);
        answer_t x;
        answer_at(a, &x);
        if (!answer_eq(&x, want))
            return false;
        u128 next = a + span(bp);
        if (next - 1 == last)
            return true;
        a = next;
    }
}

/* The widest correct scope for address a. */
static unsigned widest(u128 a)
{
    answer_t want;
    answer_at(a, &want);
    unsigned p = W;
    while (p > 0) {
        u128 sib = (a & mask_of(p)) ^ span(p);
        if (!uniform(sib, p, &want))
            break;
        p--;
    }
    /* The pick hashes the client's /24 or /48 (the /24 of an IPv4-mapped address). */
    unsigned hashed = W == 32 ? 24 : v4mapped(a) ? 120 : 48;
    if (want.d.hashed && p < hashed)
        p = hashed;
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
static int ask(int fd, const struct sockaddr_in *srv, const uint8_t *qname, size_t qlen, u128 a,
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
    uint8_t m[16];
    to_bytes(a & mask_of(src), m);
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
    q[n++] = family == AF_INET6 ? 2 : 1; /* ECS FAMILY: IPv6 or IPv4 */
    q[n++] = (uint8_t)src;
    q[n++] = 0;
    memcpy(q + n, m, abytes);
    n += abytes;
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

/* A random sample address: any IPv4 address; for IPv6 one inside the regional registries'
 * blocks (2001::/16, 2400::/12, 2600::/12, 2800::/12, 2a00::/12, 2c00::/12), where nearly all
 * located IPv6 networks are: a uniform draw over 2000::/3 would almost never meet one. */
static u128 random_address(void)
{
    u128 r = 0;
    for (unsigned i = 0; i < W / 16; i++)
        r = r << 16 | (u128)(rand() & 0xffff);
    if (W == 32)
        return r;
    static const uint16_t blocks[][2] = {{0x2001u, 16}, {0x2400u, 12}, {0x2600u, 12},
                                         {0x2800u, 12}, {0x2a00u, 12}, {0x2c00u, 12}};
    unsigned k = (unsigned)rand() % (sizeof(blocks) / sizeof(blocks[0]));
    u128 net = (u128)blocks[k][0] << 112;
    return net | (r & ~mask_of(blocks[k][1]));
}

/* The median prefix length of a histogram of n answers (0 when there are none). */
static unsigned hist_median(const unsigned *hist, unsigned n)
{
    unsigned acc = 0;
    for (unsigned p = 0; p <= W; p++)
        if ((acc += hist[p]) * 2 >= n && acc)
            return p;
    return 0;
}

/* ---------------------------------------------------------------- main */

static void die(const char *what, const char *err)
{
    fprintf(stderr, "ecs-scope-check: %s: %s\n", what, err);
    exit(2);
}

/* An option naming one of two families: AF_INET6 for v6, AF_INET for v4, anything else fatal. */
static int ipv6_or_4(const char *opt, const char *arg, const char *v6, const char *v4)
{
    if (!strcmp(arg, v6))
        return AF_INET6;
    if (!strcmp(arg, v4))
        return AF_INET;
    fprintf(stderr, "ecs-scope-check: %s: %s or %s, not %s\n", opt, v4, v6, arg);
    exit(2);
}

/* A whole number in lo..hi, anything else fatal. */
static unsigned count_arg(const char *opt, const char *arg, unsigned lo, unsigned hi)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(arg, &end, 10);
    if (errno || end == arg || *end || v < lo || v > hi) {
        fprintf(stderr, "ecs-scope-check: %s: a number from %u to %u, not %s\n", opt, lo, hi, arg);
        exit(2);
    }
    return (unsigned)v;
}

static void health_warn(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "ecs-scope-check: warning: %s\n", msg);
}

/* The view the server computes from the same state files and overrides now, with the default
 * health settings but for quorum and spill (0: the default). */
static void health_view_from_files(const char *dir, const char *overrides_path, unsigned quorum,
                                   unsigned spill)
{
    health_settings_t hs;
    health_settings_default(&hs);
    if (quorum)
        hs.quorum = quorum;
    if (spill)
        hs.spill = spill;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char err[1024];
    int rc = health_view_once(pops, &hs, dir, overrides_path,
                              (double)ts.tv_sec + (double)ts.tv_nsec / 1e9, health_warn, NULL,
                              &health_view, NULL, err, sizeof(err));
    if (rc == -EINVAL)
        die(overrides_path, err);
    if (rc)
        die("health view", strerror(-rc));
    health_view.table = NULL; /* ranked per address here, never from merged tables */
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ecs-scope-check --port P --name NAME --pops F "
               "(--policy F | --zone F --record NAME) [--mmdb F --schema S] [--nets F] "
               "[--samples N] [--seed S] "
               "[--family 4|6] [--source 24|32, or 48|56|...|128 with --family 6] "
               "[--type A|AAAA] [--addr A]... [--down POP]... [--health-dir DIR] "
               "[--overrides F] [--quorum N] [--spill N] [--verbose]\n"
               "Asks the geodnsd on 127.0.0.1:P for NAME from sample client prefixes and compares "
               "each ECS scope\nwith the widest correct one computed here; prints \"exact N "
               "narrower N wider N\" and exits 1\nwhen any scope is wider than correct (the "
               "file's opening comment says more).\n");
}

int main(int argc, char **argv)
{
    const char *mmdb = NULL, *schema = "geoip2-city", *pops_path = NULL, *policy_path = NULL,
               *nets_path = NULL, *name = NULL, *record = NULL, *health_dir = NULL,
               *overrides_path = NULL;
    unsigned quorum = 0, spill = 0;
    unsigned port = 0, samples = 200, seed = 1, source = 0;
    bool verbose = false;
    const char *extra[256], *down[POPS_MAX];
    size_t nextra = 0, ndown = 0;
    static const struct option opts[] = {
        {"port", required_argument, 0, 'p'},
        {"name", required_argument, 0, 'n'},
        {"mmdb", required_argument, 0, 'm'},
        {"schema", required_argument, 0, 'S'},
        {"pops", required_argument, 0, 'P'},
        {"policy", required_argument, 0, 'g'},
        {"nets", required_argument, 0, 'N'},
        {"samples", required_argument, 0, 'c'},
        {"seed", required_argument, 0, 's'},
        {"source", required_argument, 0, 'x'},
        {"addr", required_argument, 0, 'a'},
        {"verbose", no_argument, 0, 'v'},
        {"zone", required_argument, 0, 'z'},
        {"record", required_argument, 0, 'r'},
        {"type", required_argument, 0, 't'},
        {"family", required_argument, 0, 'f'},
        {"down", required_argument, 0, 'd'},
        {"health-dir", required_argument, 0, 'H'},
        {"overrides", required_argument, 0, 'O'},
        {"quorum", required_argument, 0, 'Q'},
        {"spill", required_argument, 0, 'L'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 'h':
            usage(stdout);
            return 0;
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
            qfamily = ipv6_or_4("--type", optarg, "AAAA", "A");
            break;
        case 'f':
            family = ipv6_or_4("--family", optarg, "6", "4");
            break;
        case 'd':
            if (ndown == POPS_MAX)
                die("--down", "too many");
            down[ndown++] = optarg;
            break;
        case 'H':
            health_dir = optarg;
            break;
        case 'O':
            overrides_path = optarg;
            break;
        case 'Q':
            quorum = count_arg("--quorum", optarg, 1, HEALTH_VANTAGES_MAX);
            break;
        case 'L':
            spill = count_arg("--spill", optarg, 1, ROUTE_CAND_MAX);
            break;
        case 'a':
            if (nextra == 256)
                die("--addr", "at most 256");
            extra[nextra++] = optarg;
            break;
        default:
            return 2;
        }
    }
    W = family == AF_INET6 ? 128 : 32;
    if (!source)
        source = family == AF_INET6 ? 56 : 24;
    bool source_ok = family == AF_INET6 ? source >= 48 && source <= 128 && source % 8 == 0
                                        : source == 24 || source == 32;
    if (!port || !name || !pops_path || !policy_path || !source_ok) {
        usage(stderr);
        return 2;
    }
    u128 extra_a[256];
    for (size_t i = 0; i < nextra; i++) {
        uint8_t b[16];
        if (inet_pton(family, extra[i], b) != 1)
            die("--addr (an address of the --family)", extra[i]);
        extra_a[i] = from_bytes(b, W / 8);
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
    if (health_dir || overrides_path || quorum || spill) {
        health_view_from_files(health_dir, overrides_path, quorum, spill);
    } else if (ndown) {
        for (size_t i = 0; i < POPS_MAX; i++) {
            health_view.up[i] = 1;
            health_view.keep[i] = ROUTE_SHARE_ONE;
            health_view.weight[i] = 1;
            health_view.addr4[i] = health_view.addr6[i] = 0xffffu;
        }
        health_view.spill = 3;
    }
    for (size_t i = 0; i < ndown; i++) {
        int k = pops_find(pops, down[i]);
        if (k < 0)
            die("--down: no such PoP", down[i]);
        health_view.up[k] = 0;
    }
    if (health_dir || overrides_path || quorum || spill || ndown)
        health = &health_view;
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
    unsigned hist_got[129] = {0}, hist_want[129] = {0};
    for (unsigned i = 0; i < total; i++) {
        u128 a;
        if (i < nextra) {
            a = extra_a[i];
        } else {
            do
                a = random_address();
            while (is_special(a));
        }
        a &= mask_of(source);
        unsigned want = widest(a);
        int got = ask(fd, &srv, qname, qlen, a, source);
        if (got < 0) {
            noreply++;
            continue;
        }
        hist_got[(unsigned)got > W ? W : (unsigned)got]++;
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
        if (verbose || (unsigned)got < want) {
            uint8_t b[16];
            char text[INET6_ADDRSTRLEN];
            to_bytes(a, b);
            inet_ntop(family, b, text, sizeof(text));
            printf("%s/%u scope %d widest correct %u %s\n", text, source, got, want, verdict);
        }
    }
    unsigned answered = exact + narrower + wider;
    printf("%s samples %u, ECS %s/%u: exact %u narrower %u wider %u no-reply %u (%.2f%% exact); "
           "median scope /%u, median widest correct /%u\n",
           qfamily == AF_INET6 ? "AAAA" : "A", total, family == AF_INET6 ? "IPv6 " : "", source,
           exact, narrower, wider, noreply, answered ? 100.0 * exact / answered : 0.0,
           hist_median(hist_got, answered), hist_median(hist_want, answered));
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
